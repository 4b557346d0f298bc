//! The Cortex-M4 image authenticating under QEMU (`mps2-an386`, `-icount shift=0`) against real
//! servers: hostapd 2.10 (`driver=wired`) on one end of a veth pair, relaying to FreeRADIUS 3.2
//! on its namespace's loopback; the image's UART0 bridged to an `AF_PACKET` socket on the other
//! end (tests/src/qemu.rs: the bridge only moves frames). TLS 1.2 and 1.3, with the KB932521
//! slot table (the old certificate archived and revoked by the server's CRL, the renewed one
//! active). And the image's timers alone: no authenticator, maxStart EAPOL-Starts, then the
//! typed `no-authenticator` failure, in QEMU virtual time. Needs root (CI runs as root).

use std::io;
use std::time::{Duration, Instant};

use latchkey_core::eap_tls::keys::fingerprint;
use latchkey_core::hal::Radio;
use latchkey_core::supplicant::PAE_GROUP_ADDR;
use latchkey_sim::link::{mac_string, EapolLink};
use latchkey_tests::apt;
use latchkey_tests::freeradius::{self, FreeRadiusOptions};
use latchkey_tests::hostapd_wired::{Backend, WiredAuthenticator, WIRED_PACKAGES};
use latchkey_tests::netns::{in_netns, require_root, VethPair};
use latchkey_tests::pki_files::FilePki;
use latchkey_tests::qemu::{
    build_firmware, field, read_uart_frame, Bridge, Clock, EthernetPort, ProvisionRecord, Qemu,
    QEMU_PACKAGES, STATUS_MAC,
};
use latchkey_tests::server_process::ServerTls;

/// The veth end in the supplicant's namespace, as the image's Ethernet port.
struct Port(EapolLink);

impl EthernetPort for Port {
    fn send(&mut self, dst: [u8; 6], frame: &[u8]) -> io::Result<()> {
        Radio::send(&mut self.0, dst, frame).map_err(|_| io::Error::other("link send failed"))
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<([u8; 6], Vec<u8>)>> {
        self.0
            .recv_timeout(timeout)
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

fn require_tools() {
    if let Err(e) = require_root() {
        panic!("{e}");
    }
    let mut pkgs = WIRED_PACKAGES.to_vec();
    pkgs.extend_from_slice(QEMU_PACKAGES);
    apt::require(&pkgs);
}

/// Instructions per SysTick tick under `-icount shift=0` (one instruction per virtual ns,
/// SysTick at the board's 25 MHz).
const INSTR_PER_TICK: u64 = 40;

/// Which slot table the image is provisioned with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Table {
    /// KB932521: the old certificate archived (and revoked by the server's CRL), the renewed
    /// one active.
    Renewed,
    /// Only the old, revoked certificate, active: the control that the server enforces its CRL
    /// (so that `Renewed` succeeding shows the old one was not presented).
    RevokedOnly,
}

/// The image authenticates through hostapd and FreeRADIUS with `tls`: the renewed certificate
/// is used, hostapd authorizes the port with the same MSK, and the cost of the whole
/// authentication on the M4 is printed. With only the revoked certificate, the server refuses
/// it and the image reports the typed failure.
fn image_authenticates(tls: ServerTls, table: Table) {
    require_tools();
    let elf = build_firmware().unwrap_or_else(|e| panic!("{e}"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let pki = FilePki::generate(&tmp.path().join("pki")).expect("file pki");
    let pair = VethPair::create().unwrap_or_else(|e| panic!("{e}"));
    let radius_dir = tmp.path().join("freeradius");
    std::fs::create_dir_all(&radius_dir).expect("server dir");
    // Started from a thread inside the authenticator's namespace: FreeRADIUS listens on that
    // namespace's loopback, where hostapd's RADIUS client finds it.
    let radius = in_netns(&pair.auth_ns, || {
        freeradius::start(&radius_dir, &pki, &FreeRadiusOptions::new(tls))
    })
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("{e}"));
    let hostapd = WiredAuthenticator::start(
        &pair,
        tmp.path(),
        &Backend::Radius {
            port: radius.port,
            secret: radius.secret.clone(),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let sup_if = pair.sup_if.clone();
    let link = in_netns(&pair.sup_ns, || EapolLink::open(&sup_if))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mac = mac_string(&link.mac());

    let slots = match table {
        Table::Renewed => vec![(true, &pki.client_old), (false, &pki.client_new)],
        Table::RevokedOnly => vec![(false, &pki.client_old)],
    };
    let record = ProvisionRecord::from_pki(&pki, &slots).unwrap_or_else(|e| panic!("{e}"));
    let qemu_dir = tmp.path().join("qemu");
    std::fs::create_dir_all(&qemu_dir).expect("qemu dir");
    let qemu = Qemu::boot(&elf, &qemu_dir, Some(&record), Clock::RealTime)
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let mut bridge = Bridge::start(qemu.uart().expect("uart"), Port(link)).expect("bridge");

    let context = |bridge: &Bridge, qemu: &Qemu| {
        format!(
            "image:\n{}\nQEMU:\n{}\nhostapd:\n{}\nFreeRADIUS:\n{}",
            bridge.lines().join("\n"),
            qemu.log_text(),
            hostapd.log_tail(40),
            radius.log_tail()
        )
    };
    let boot = bridge
        .wait_status(&["BOOT", "FAULT"], Duration::from_secs(20))
        .unwrap_or_else(|seen| panic!("no BOOT line: {seen}\n{}", context(&bridge, &qemu)));
    assert!(
        boot.starts_with("BOOT cred=provisioned"),
        "the image did not take the provisioned credentials: {boot}"
    );
    let result = bridge
        .wait_status(&["AUTH", "FAIL", "FAULT"], Duration::from_secs(60))
        .unwrap_or_else(|seen| panic!("no result: {seen}\n{}", context(&bridge, &qemu)));
    let stats = bridge
        .wait_status(&["STATS"], Duration::from_secs(5))
        .unwrap_or_else(|seen| panic!("no STATS: {seen}"));
    let elapsed = started.elapsed();
    if table == Table::RevokedOnly {
        // FreeRADIUS answers the revoked certificate with a bare EAP-Failure after the image's
        // certificate flight: the typed verdict, at once.
        assert_eq!(
            result,
            "FAIL rejected-certificate",
            "{}",
            context(&bridge, &qemu)
        );
        assert!(
            hostapd.wait_for_log(
                &format!("STA {mac} IEEE 802.1X: authentication failed"),
                Duration::from_secs(5)
            ),
            "{}",
            context(&bridge, &qemu)
        );
        assert!(
            !hostapd.log_text().contains("IEEE 802.1X: authorizing port"),
            "{}",
            context(&bridge, &qemu)
        );
        return;
    }
    let want = tls.to_string();
    assert!(
        result.starts_with(&format!("AUTH {want} ")),
        "expected AUTH {want}, got {result:?}\n{}",
        context(&bridge, &qemu)
    );
    assert!(
        hostapd.wait_for_log(
            &format!("STA {mac} IEEE 802.1X: authorizing port"),
            Duration::from_secs(5)
        ),
        "hostapd did not authorize the port:\n{}",
        context(&bridge, &qemu)
    );
    // hostapd has the MSK as FreeRADIUS' MS-MPPE keys; the image prints only its fingerprint
    // (the first 8 bytes of SHA-256 of the MSK).
    let their_msk = hostapd
        .msk()
        .unwrap_or_else(|| panic!("no MSK in hostapd's log:\n{}", hostapd.log_tail(60)));
    assert_eq!(their_msk.len(), 64);
    let fp = result
        .split_whitespace()
        .find_map(|w| w.strip_prefix("msk-fp="))
        .unwrap_or_else(|| panic!("no msk-fp in {result:?}"));
    assert_eq!(
        fp,
        fingerprint(&their_msk).to_string(),
        "the image's MSK differs from hostapd's"
    );
    let rt = field(&result, "rt").expect("rt");
    assert!(rt >= 4, "{result}");
    let up = bridge.counts.up.load(std::sync::atomic::Ordering::Relaxed);
    let down = bridge
        .counts
        .down
        .load(std::sync::atomic::Ordering::Relaxed);
    // One EAPOL-Start, then one response per request.
    assert!(u64::from(up) > rt && down >= up - 1, "up {up} down {down}");
    assert_eq!(field(&stats, "oversize"), Some(0), "{stats}");

    let n = |k: &str| field(&stats, k).unwrap_or_else(|| panic!("no {k} in {stats}"));
    eprintln!(
        "firmware TLS {want} via hostapd + FreeRADIUS: {result}; {elapsed:?} wall; \
         {} instructions in the supplicant's {} calls (longest {}), heap peak {} B \
         (configuration: {}), stack peak {} B (start: {} B), frames up {up} down {down}\n\
         {boot}\n{stats}",
        n("cpu") * INSTR_PER_TICK,
        n("calls"),
        n("longest") * INSTR_PER_TICK,
        n("heap-peak"),
        field(&boot, "heap-peak").unwrap_or(0),
        n("stack-peak"),
        n("start-stack-peak"),
    );
    drop(bridge);
    drop(qemu);
}

#[test]
fn firmware_tls12_authenticates_via_hostapd_and_freeradius() {
    image_authenticates(ServerTls::V12, Table::Renewed);
}

#[test]
fn firmware_tls13_authenticates_via_hostapd_and_freeradius() {
    image_authenticates(ServerTls::V13, Table::Renewed);
}

#[test]
fn firmware_revoked_certificate_refused_via_freeradius() {
    image_authenticates(ServerTls::V13, Table::RevokedOnly);
}

/// The image's timers on the board: nothing answers, so it sends maxStart (3) EAPOL-Starts
/// to the PAE group address, startPeriod (30 s) apart, then fails with `no-authenticator` at
/// 90 s of virtual time; QEMU warps the idle time, so it takes about a second.
#[test]
fn firmware_no_authenticator_after_max_start() {
    if let Err(e) = apt::ensure_installed(QEMU_PACKAGES) {
        panic!("{e}");
    }
    let elf = build_firmware().unwrap_or_else(|e| panic!("{e}"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let qemu = Qemu::boot(&elf, tmp.path(), None, Clock::Warp).unwrap_or_else(|e| panic!("{e}"));
    let mut uart = qemu.uart().expect("uart");
    uart.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let started = Instant::now();
    let mut starts = 0;
    let mut lines = Vec::new();
    let stats = loop {
        let (dst, frame) = read_uart_frame(&mut uart)
            .unwrap_or_else(|e| panic!("UART: {e}; so far {lines:?}\n{}", qemu.log_text()));
        if dst == STATUS_MAC {
            let line = String::from_utf8_lossy(&frame).into_owned();
            lines.push(line.clone());
            if line.starts_with("STATS") {
                break line;
            }
            continue;
        }
        assert_eq!(dst, PAE_GROUP_ADDR, "{frame:02x?}");
        assert_eq!(frame, [1, 1, 0, 0], "not an EAPOL-Start (version 1)");
        starts += 1;
    };
    assert!(
        lines
            .first()
            .is_some_and(|l| l.starts_with("BOOT cred=built-in")),
        "{lines:?}"
    );
    assert_eq!(starts, 3, "maxStart EAPOL-Starts: {lines:?}");
    assert_eq!(
        lines.get(1).map(String::as_str),
        Some("FAIL no-authenticator"),
        "{lines:?}"
    );
    // Three startPeriods of virtual time (to the millisecond tick, plus the calls' own time).
    let t = field(&stats, "t").expect("t");
    assert!((90_000..=90_010).contains(&t), "{stats}");
    assert!(started.elapsed() < Duration::from_secs(30));
    eprintln!(
        "no authenticator: {starts} EAPOL-Starts, FAIL no-authenticator at {t} ms virtual time, \
         {:?} wall",
        started.elapsed()
    );
}
