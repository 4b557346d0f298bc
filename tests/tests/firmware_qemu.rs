//! The Cortex-M4 image authenticating under QEMU (`mps2-an386`, `-icount shift=0`) against real
//! servers: hostapd 2.10 (`driver=wired`) on one end of a veth pair, relaying to FreeRADIUS 3.2
//! on its namespace's loopback; the image's UART0 bridged to an `AF_PACKET` socket on the other
//! end (test-support/src/qemu.rs: the bridge only moves frames). TLS 1.2 and 1.3, with the KB932521
//! slot table (the old certificate archived and revoked by the server's CRL, the renewed one
//! active). And the image's timers alone: no authenticator, maxStart EAPOL-Starts, then the
//! typed `no-authenticator` failure, in QEMU virtual time. Needs root (CI runs as root).

use std::io::{self, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latchkey_core::certs::{LoadReport, Region, RegionStatus, SlotState};
use latchkey_core::eap_tls::keys::fingerprint;
use latchkey_core::hal::Radio;
use latchkey_core::supplicant::PAE_GROUP_ADDR;
use latchkey_sim::hal::link::{mac_string, EapolLink};
use latchkey_test_support::apt;
use latchkey_test_support::defmt_log::{
    self, build_defmt_firmware, decode, read_log, DefmtError, DefmtLine,
};
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::hostapd_auth::{station_rsne, AuthHarness};
use latchkey_test_support::hostapd_wired::{Backend, WiredAuthenticator, WIRED_PACKAGES};
use latchkey_test_support::netns::{in_netns, require_root, VethPair};
use latchkey_test_support::pki_files::{FilePki, SERVER_NAME};
use latchkey_test_support::qemu::{
    build_firmware, field, fields, read_uart_frame, write_uart_frame, Bridge, Clock, EthernetPort,
    ProvisionRecord, Qemu, FLASH_FILE, QEMU_PACKAGES, SEMIHOSTING_STDOUT, STATUS_MAC,
};
use latchkey_test_support::server_process::ServerTls;

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

/// The image's memory budgets (a Cortex-M4 module with 64 KiB of RAM): the authentication's
/// heap and stack peaks, and all of RAM (static sections, the heap's arena among them, plus the
/// deepest the stack ever goes, at boot or during the authentication).
const HEAP_BUDGET: u64 = 16 * 1024;
const STACK_BUDGET: u64 = 12 * 1024;
const RAM_BUDGET: u64 = 64 * 1024;

/// Checks a whole authentication's peaks (its STATS line) and the image's static RAM (its BOOT
/// line) against the budgets. Deterministic under `-icount`: the same image and peers give the
/// same peaks on every run.
fn assert_within_budgets(boot: &str, stats: &str) {
    let n = |line: &str, k: &str| field(line, k).unwrap_or_else(|| panic!("no {k} in {line}"));
    let heap = n(stats, "heap-peak");
    let stack = n(stats, "stack-peak").max(n(stats, "start-stack-peak"));
    let statics = n(boot, "static");
    // The stack must also hold the configuration's peak at boot (BOOT's stack-peak).
    let stack_at_any_time = stack.max(n(boot, "stack-peak"));
    assert!(
        heap <= HEAP_BUDGET,
        "heap peak {heap} B over {HEAP_BUDGET} B: {stats}"
    );
    assert!(
        stack <= STACK_BUDGET,
        "stack peak {stack} B over {STACK_BUDGET} B: {stats}"
    );
    assert!(
        statics + stack_at_any_time <= RAM_BUDGET,
        "static RAM {statics} B + stack peak {stack_at_any_time} B (boot or authentication) \
         over {RAM_BUDGET} B: {boot} / {stats}"
    );
}

/// Which slot table the image is provisioned with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Table {
    /// KB932521: the old certificate archived (and revoked by the server's CRL), the renewed
    /// one active.
    Renewed,
    /// Only the old, revoked certificate, active: the control that the server enforces its CRL
    /// (so that `Renewed` succeeding shows the old one was not presented).
    RevokedOnly,
    /// `Renewed`, committed to flash at the first boot; then a power cut and a boot with a
    /// provisioning record holding only the revoked certificate: the table from flash wins,
    /// so the image still authenticates (with the record's table it would be refused).
    PersistedAcrossReboot,
}

/// The image authenticates through hostapd and FreeRADIUS with `tls`: the renewed certificate
/// is used, hostapd authorizes the port with the same MSK, and the cost of the whole
/// authentication on the M4 is printed. With only the revoked certificate, the server refuses
/// it and the image reports the typed failure.
/// The peers of an authentication on the link: FreeRADIUS on the authenticator namespace's
/// loopback, hostapd `driver=wired` relaying to it on one end of a veth pair, and a packet
/// socket on the other end for the image's bridge.
struct Servers {
    tmp: tempfile::TempDir,
    pki: FilePki,
    pair: VethPair,
    radius: latchkey_test_support::server_process::ServerProcess,
    hostapd: WiredAuthenticator,
}

impl Servers {
    fn start(tls: ServerTls) -> Servers {
        let tmp = tempfile::tempdir().expect("temp dir");
        let pki = FilePki::generate(&tmp.path().join("pki")).expect("file pki");
        let pair = VethPair::create().unwrap_or_else(|e| panic!("{e}"));
        let radius_dir = tmp.path().join("freeradius");
        std::fs::create_dir_all(&radius_dir).expect("server dir");
        // Started from a thread inside the authenticator's namespace: FreeRADIUS listens on
        // that namespace's loopback, where hostapd's RADIUS client finds it.
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
        Servers {
            tmp,
            pki,
            pair,
            radius,
            hostapd,
        }
    }

    /// What the image, QEMU and both servers said, for a failure message.
    fn context(&self, bridge: &Bridge, qemu: &Qemu) -> String {
        format!(
            "image:\n{}\nQEMU:\n{}\nhostapd:\n{}\nFreeRADIUS:\n{}",
            bridge.lines().join("\n"),
            qemu.log_text(),
            self.hostapd.log_tail(40),
            self.radius.log_tail()
        )
    }

    /// A packet socket on the veth end in `ns` (the supplicant's, or the authenticator's to
    /// learn its address).
    fn link(&self, ns: &str, iface: &str) -> EapolLink {
        let iface = iface.to_owned();
        in_netns(ns, || EapolLink::open(&iface))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

fn image_authenticates(tls: ServerTls, table: Table) {
    require_tools();
    let elf = build_firmware().unwrap_or_else(|e| panic!("{e}"));
    let servers = Servers::start(tls);
    let Servers {
        tmp,
        pki,
        pair,
        hostapd,
        ..
    } = &servers;
    let link = servers.link(&pair.sup_ns, &pair.sup_if);
    let mac = mac_string(&link.mac());

    let slots = match table {
        Table::Renewed | Table::PersistedAcrossReboot => {
            vec![(true, &pki.client_old), (false, &pki.client_new)]
        }
        Table::RevokedOnly => vec![(false, &pki.client_old)],
    };
    let record = ProvisionRecord::from_pki(pki, &slots).unwrap_or_else(|e| panic!("{e}"));
    let qemu_dir = tmp.path().join("qemu");
    std::fs::create_dir_all(&qemu_dir).expect("qemu dir");
    let mut qemu = Qemu::boot(&elf, &qemu_dir, Some(&record), Clock::RealTime)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut started = Instant::now();
    let mut bridge = Bridge::start(qemu.uart().expect("uart"), Port(link)).expect("bridge");

    let context = |bridge: &Bridge, qemu: &Qemu| servers.context(bridge, qemu);
    let boot = bridge
        .wait_status(&["BOOT", "FAULT"], Duration::from_secs(20))
        .unwrap_or_else(|seen| panic!("no BOOT line: {seen}\n{}", context(&bridge, &qemu)));
    assert!(
        boot.starts_with("BOOT cred=provisioned store=new:A "),
        "the image did not take the provisioned credentials into a blank flash: {boot}"
    );
    let mut boot = boot;
    if table == Table::PersistedAcrossReboot {
        let first = bridge
            .wait_status(&["AUTH", "FAIL", "FAULT"], Duration::from_secs(60))
            .unwrap_or_else(|seen| panic!("no result: {seen}\n{}", context(&bridge, &qemu)));
        assert!(first.starts_with("AUTH "), "{first}");
        drop(bridge);
        qemu.power_cut();
        let revoked_only = ProvisionRecord::from_pki(pki, &[(false, &pki.client_old)])
            .unwrap_or_else(|e| panic!("{e}"));
        let link = servers.link(&pair.sup_ns, &pair.sup_if);
        qemu = Qemu::boot(&elf, &qemu_dir, Some(&revoked_only), Clock::RealTime)
            .unwrap_or_else(|e| panic!("{e}"));
        started = Instant::now();
        bridge = Bridge::start(qemu.uart().expect("uart"), Port(link)).expect("bridge");
        boot = bridge
            .wait_status(&["BOOT", "FAULT"], Duration::from_secs(20))
            .unwrap_or_else(|seen| panic!("no BOOT line: {seen}\n{}", context(&bridge, &qemu)));
        assert!(
            boot.starts_with("BOOT cred=provisioned store=flash:"),
            "the second boot did not load the committed table: {boot}"
        );
    }
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
    assert_within_budgets(&boot, &stats);

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

#[test]
fn firmware_slot_table_outlives_a_reboot_and_wins_over_the_record() {
    image_authenticates(ServerTls::V12, Table::PersistedAcrossReboot);
}

/// The image on a Wi-Fi link: EAP to hostapd `driver=wired` (relaying to FreeRADIUS) on the
/// veth, EAPOL-Key frames to hostapd's own WPA authenticator state machine (the harness built
/// from Debian's source), both answering as the same access point address.
struct WifiPort {
    link: EapolLink,
    harness: Arc<Mutex<AuthHarness>>,
    aa: [u8; 6],
}

impl EthernetPort for WifiPort {
    fn send(&mut self, dst: [u8; 6], frame: &[u8]) -> io::Result<()> {
        // EAPOL packet type 3 is EAPOL-Key: the 4-way and group-key handshakes.
        if frame.get(1) == Some(&3) {
            assert_eq!(dst, self.aa, "EAPOL-Key not to the access point");
            let mut h = self.harness.lock().expect("harness");
            return h.rx(frame).map_err(io::Error::other);
        }
        Radio::send(&mut self.link, dst, frame).map_err(|_| io::Error::other("link send failed"))
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<([u8; 6], Vec<u8>)>> {
        let from_harness = self
            .harness
            .lock()
            .expect("harness")
            .tx(Duration::from_millis(1));
        if let Ok(frame) = from_harness {
            return Ok(Some((self.aa, frame)));
        }
        self.link
            .recv_timeout(timeout)
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A `KEYS` line's `name=<id>:<fingerprint>:<counter>` field.
fn key_field<'a>(keys: &'a str, name: &str) -> Option<Vec<&'a str>> {
    fields(keys)
        .into_iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.split(':').collect())
}

/// WPA2-Enterprise on the M4: associated to an RSN network (AKM 5, 802.1X with SHA-256, PMF
/// negotiated), the image authenticates with EAP-TLS through hostapd and FreeRADIUS, then runs
/// the 4-way handshake with hostapd's authenticator given the MSK FreeRADIUS sent: both sides
/// install the same TK, GTK (with its RSC) and IGTK (with its IPN), and the port opens.
#[test]
fn firmware_four_way_handshake_installs_the_keys_hostapds_authenticator_installs() {
    require_tools();
    apt::require(latchkey_test_support::hostapd_auth::BUILD_PACKAGES);
    let elf = build_firmware().unwrap_or_else(|e| panic!("{e}"));
    let servers = Servers::start(ServerTls::V13);
    let Servers {
        tmp,
        pki,
        pair,
        hostapd,
        ..
    } = &servers;
    let link = servers.link(&pair.sup_ns, &pair.sup_if);
    let spa = link.mac();
    let aa = servers.link(&pair.auth_ns, &pair.auth_if).mac();
    let mut h = AuthHarness::start(5, 1, aa, spa)
        .unwrap_or_else(|e| panic!("hostapd authenticator harness: {e}"));
    let ap_rsne = h.ap_rsne.clone();
    let ours = station_rsne(&ap_rsne, true, None);
    assert_eq!(
        h.assoc(&ours),
        Ok(Ok(false)),
        "the authenticator refused our RSNE"
    );
    let harness = Arc::new(Mutex::new(h));

    let mut record =
        ProvisionRecord::from_pki(pki, &[(true, &pki.client_old), (false, &pki.client_new)])
            .unwrap_or_else(|e| panic!("{e}"));
    record.wifi = true;
    let qemu_dir = tmp.path().join("qemu");
    std::fs::create_dir_all(&qemu_dir).expect("qemu dir");
    let qemu = Qemu::boot(&elf, &qemu_dir, Some(&record), Clock::RealTime)
        .unwrap_or_else(|e| panic!("{e}"));
    let port = WifiPort {
        link,
        harness: harness.clone(),
        aa,
    };
    let mut bridge = Bridge::start(qemu.uart().expect("uart"), port).expect("bridge");
    let context = |bridge: &Bridge, qemu: &Qemu| servers.context(bridge, qemu);
    let boot = bridge
        .wait_status(&["BOOT", "FAULT"], Duration::from_secs(20))
        .unwrap_or_else(|seen| panic!("no BOOT line: {seen}\n{}", context(&bridge, &qemu)));
    assert!(boot.ends_with(" link=wifi"), "{boot}");
    // Nothing goes out before the radio has associated.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        bridge.counts.up.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "the image spoke before it was associated"
    );
    bridge
        .command(&format!(
            "ASSOC {} {} {} {}",
            hex(&aa),
            hex(&spa),
            hex(&ap_rsne),
            hex(&ours)
        ))
        .expect("command");
    let result = bridge
        .wait_status(&["AUTH", "FAIL", "FAULT"], Duration::from_secs(60))
        .unwrap_or_else(|seen| panic!("no result: {seen}\n{}", context(&bridge, &qemu)));
    assert!(
        result.starts_with("AUTH 1.3 "),
        "{result}\n{}",
        context(&bridge, &qemu)
    );
    let mac = mac_string(&spa);
    assert!(
        hostapd.wait_for_log(
            &format!("STA {mac} IEEE 802.1X: authorizing port"),
            Duration::from_secs(5)
        ),
        "{}",
        context(&bridge, &qemu)
    );
    let msk = hostapd
        .msk()
        .unwrap_or_else(|| panic!("no MSK in hostapd's log:\n{}", hostapd.log_tail(60)));
    assert_eq!(
        result
            .split_whitespace()
            .find_map(|w| w.strip_prefix("msk-fp=")),
        Some(fingerprint(&msk).to_string().as_str()),
        "the image's MSK differs from FreeRADIUS'"
    );
    // The access point learns the PMK from the MSK and starts the 4-way handshake.
    harness
        .lock()
        .expect("harness")
        .msk(&msk)
        .unwrap_or_else(|e| panic!("{e}"));
    let keys = bridge
        .wait_status(&["KEYS", "FAIL", "FAULT"], Duration::from_secs(30))
        .unwrap_or_else(|seen| panic!("no KEYS: {seen}\n{}", context(&bridge, &qemu)));
    assert!(keys.ends_with(" port=open"), "{keys}");
    // hostapd installs its keys on message 4, which the bridge hands it: the lock is let go
    // between looks.
    let end = Instant::now() + Duration::from_secs(10);
    let theirs = loop {
        let keys = {
            let mut h = harness.lock().expect("harness");
            h.settle(Duration::from_millis(20));
            h.keys.clone()
        };
        if keys.iter().any(|k| k.pairwise) || Instant::now() >= end {
            break keys;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Fingerprints: the first 8 bytes of SHA-256, as the image prints them.
    let fp8 = |k: &latchkey_test_support::hostapd_auth::AuthKey| hex(&k.fingerprint[..8]);
    let tk = theirs
        .iter()
        .find(|k| k.pairwise)
        .unwrap_or_else(|| panic!("hostapd installed no TK: {theirs:?}"));
    assert_eq!(
        key_field(&keys, "tk"),
        Some(vec![fp8(tk).as_str()]),
        "TK differs: {keys} / {theirs:?}"
    );
    let gtk = key_field(&keys, "gtk").unwrap_or_else(|| panic!("{keys}"));
    // The most recent install of each key id (the authenticator installs its group keys once
    // at start-up too).
    let their_gtk = theirs
        .iter()
        .rev()
        .find(|k| !k.pairwise && k.idx.to_string() == gtk[0])
        .unwrap_or_else(|| panic!("hostapd installed no GTK {}: {theirs:?}", gtk[0]));
    assert_eq!(gtk[1], fp8(their_gtk), "GTK differs: {keys} / {theirs:?}");
    assert_eq!(
        gtk[2],
        hex(&their_gtk.seq),
        "GTK RSC differs: {keys} / {theirs:?}"
    );
    let igtk = key_field(&keys, "igtk").unwrap_or_else(|| panic!("{keys}"));
    let their_igtk = theirs
        .iter()
        .rev()
        .find(|k| k.idx.to_string() == igtk[0])
        .unwrap_or_else(|| panic!("hostapd installed no IGTK {}: {theirs:?}", igtk[0]));
    assert_eq!(
        igtk[1],
        fp8(their_igtk),
        "IGTK differs: {keys} / {theirs:?}"
    );
    assert_eq!(
        igtk[2],
        hex(&their_igtk.seq[..6]),
        "IPN differs: {keys} / {theirs:?}"
    );
    let stats = bridge
        .wait_status(&["STATS"], Duration::from_secs(5))
        .unwrap_or_else(|seen| panic!("no STATS: {seen}"));
    eprintln!("firmware WPA2-Enterprise (AKM 5, PMF): {result}\n{keys}\n{boot}\n{stats}");
    assert_within_budgets(&boot, &stats);
    drop(bridge);
    drop(qemu);
}

/// Reads status lines from the image's UART until one starts with `prefix`.
fn status_line(uart: &mut impl io::Read, prefix: &str) -> Result<String, String> {
    let mut seen = Vec::new();
    loop {
        let (dst, frame) = read_uart_frame(uart).map_err(|e| format!("{e}; seen {seen:?}"))?;
        if dst != STATUS_MAC {
            continue;
        }
        let line = String::from_utf8_lossy(&frame).into_owned();
        if line.starts_with(prefix) || line.starts_with("FAULT") {
            return Ok(line);
        }
        seen.push(line);
    }
}

/// Random power cuts while the image commits its slot table, each followed by a reboot from
/// the same flash file: every boot loads the table of the last acknowledged commit or of the
/// one in flight, never anything else, with its slots intact; latchkey-core's loader reads the
/// same table from the file on the host. The host sends `TIME` (a rising wall clock, as a
/// network time service would) as soon as the previous commit is acknowledged, so the image is
/// almost always mid-commit when the power goes.
#[test]
fn firmware_power_cuts_during_commits_leave_the_old_or_the_new_table() {
    if let Err(e) = apt::ensure_installed(QEMU_PACKAGES) {
        panic!("{e}");
    }
    const ROUNDS: u64 = 40;
    let elf = build_firmware().unwrap_or_else(|e| panic!("{e}"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let pki = FilePki::generate(&tmp.path().join("pki")).expect("file pki");
    let record =
        ProvisionRecord::from_pki(&pki, &[(true, &pki.client_old), (false, &pki.client_new)])
            .unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("qemu");
    std::fs::create_dir_all(&dir).expect("qemu dir");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    eprintln!("power-cut seed {seed}");
    let mut clock = 1_800_000_000u64;
    // (last acknowledged floor, last floor sent): commits run in order, so the next boot
    // finds the last acknowledged one or a later one that completed while its line was on
    // the way, and never an incomplete one.
    let mut allowed: Option<(u64, u64)> = None;
    let (mut torn, mut commits) = (0, 0);
    for round in 0..ROUNDS {
        let qemu =
            Qemu::boot(&elf, &dir, Some(&record), Clock::Warp).unwrap_or_else(|e| panic!("{e}"));
        let mut uart = qemu.uart().expect("uart");
        uart.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let boot = status_line(&mut uart, "BOOT")
            .unwrap_or_else(|e| panic!("round {round}: {e}\n{}", qemu.log_text()));
        let floor = field(&boot, "floor").unwrap_or_else(|| panic!("{boot}"));
        match allowed {
            None => assert!(boot.contains(" store=new:A "), "{boot}"),
            Some((acked, last_sent)) => {
                assert!(boot.contains(" store=flash:"), "round {round}: {boot}");
                assert!(
                    (acked..=last_sent).contains(&floor),
                    "round {round}: booted with floor {floor}; the last commit acknowledged \
                     {acked}, the last sent {last_sent} (seed {seed})"
                );
            }
        }
        // The host's view of the same flash: latchkey-core's loader finds the same table,
        // both certificates in their states.
        let (table, report) =
            load_flash_file(&dir).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(table.time_floor(), floor, "round {round}");
        let slots: Vec<(SlotState, Vec<u8>)> = table
            .list()
            .map(|s| (s.state(), s.der().to_vec()))
            .collect();
        assert_eq!(
            slots,
            vec![
                (SlotState::Archived, pki.client_old.der.clone()),
                (SlotState::Active, pki.client_new.der.clone())
            ],
            "round {round}"
        );
        // What the cut left in the region the image was writing: the previous image (no
        // commit was in its writes), all erased, or a torn, half-written image.
        let LoadReport::Loaded { region, other, .. } = report else {
            panic!("round {round}: no image loaded: {report:?}");
        };
        let bytes = std::fs::read(dir.join(FLASH_FILE)).expect("flash file");
        let (a, b) = bytes.split_at(bytes.len() / 2);
        let written = if region == Region::A { b } else { a };
        if !matches!(other, RegionStatus::Valid { .. }) && written.iter().any(|&x| x != 0xff) {
            torn += 1;
        }
        // Commit after commit until the power goes: TIME commands queued back to back (the
        // UART takes one byte at a time, so they wait in QEMU's socket), each raising the
        // floor by a second, so the image spends nearly all its time inside commits.
        const QUEUED: u64 = 400;
        let first = clock + 1;
        let mut commands = Vec::new();
        for t in first..first + QUEUED {
            write_uart_frame(&mut commands, STATUS_MAC, format!("TIME {t}").as_bytes())
                .expect("frame");
        }
        let acked = Arc::new(Mutex::new((floor, 0u64)));
        let mut reader = qemu.uart().expect("uart");
        let state = acked.clone();
        let pump = std::thread::spawn(move || {
            let mut want = first;
            while let Ok(line) = status_line(&mut reader, "COMMIT") {
                assert!(
                    line == format!("COMMIT A floor={want}")
                        || line == format!("COMMIT B floor={want}"),
                    "expected the commit of floor {want}, got {line}"
                );
                if let Ok(mut s) = state.lock() {
                    *s = (want, s.1 + 1);
                }
                want += 1;
            }
        });
        let mut writer = qemu.uart().expect("uart");
        writer.write_all(&commands).expect("commands");
        let cut_after = Duration::from_millis(20 + next() % 400);
        std::thread::sleep(cut_after);
        qemu.power_cut();
        pump.join().expect("pump thread");
        let (last, n) = *acked.lock().expect("lock");
        commits += n;
        assert!(
            last < first + QUEUED - 1,
            "the image ran out of commands before the cut"
        );
        clock = first + QUEUED;
        allowed = Some((last, first + QUEUED - 1));
    }
    eprintln!(
        "{ROUNDS} power cuts: {commits} commits acknowledged, {torn} boots found the other \
         region half written (seed {seed})"
    );
    assert!(
        commits >= ROUNDS,
        "too few commits to mean anything: {commits}"
    );
    assert!(
        torn >= 1,
        "no cut landed inside a commit's writes (seed {seed})"
    );
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

/// The firmware's slot table type (firmware/src/app.rs: 4 slots of up to 2 KiB).
type ImageTable = latchkey_core::certs::SlotTable<4, 2048>;

/// The image's flash file as NOR flash on the host (4-byte words, 4 KiB sectors, as
/// firmware/src/hostflash.rs), to load what the image committed with latchkey-core's own
/// loader.
struct FlashImage(Vec<u8>);

#[derive(Debug)]
struct FlashImageError;

impl embedded_storage::nor_flash::NorFlashError for FlashImageError {
    fn kind(&self) -> embedded_storage::nor_flash::NorFlashErrorKind {
        embedded_storage::nor_flash::NorFlashErrorKind::OutOfBounds
    }
}

impl embedded_storage::nor_flash::ErrorType for FlashImage {
    type Error = FlashImageError;
}

impl embedded_storage::nor_flash::ReadNorFlash for FlashImage {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let at = offset as usize;
        let src = self.0.get(at..at + bytes.len()).ok_or(FlashImageError)?;
        bytes.copy_from_slice(src);
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.0.len()
    }
}

impl embedded_storage::nor_flash::NorFlash for FlashImage {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 4096;
    fn erase(&mut self, _from: u32, _to: u32) -> Result<(), Self::Error> {
        Err(FlashImageError)
    }
    fn write(&mut self, _offset: u32, _bytes: &[u8]) -> Result<(), Self::Error> {
        Err(FlashImageError)
    }
}

/// Loads the slot table the image committed to `dir`/[`FLASH_FILE`] (two equal regions, A
/// then B), with what each region holds.
fn load_flash_file(dir: &Path) -> Result<(ImageTable, latchkey_core::certs::LoadReport), String> {
    let bytes = std::fs::read(dir.join(FLASH_FILE)).map_err(|e| format!("flash file: {e}"))?;
    let half = u32::try_from(bytes.len() / 2).map_err(|_| "flash file too large".to_string())?;
    let layout = latchkey_core::certs::FlashLayout {
        region_a: 0,
        region_b: half,
        region_size: half,
    };
    ImageTable::load(&mut FlashImage(bytes), &layout).map_err(|e| format!("{e}"))
}

/// Finds, from `from` on, the first decoded line at `level` whose message satisfies `want`;
/// its index. Panics with the whole log when there is none.
fn find_line(
    log: &[DefmtLine],
    from: usize,
    level: &str,
    what: &str,
    want: impl Fn(&str) -> bool,
) -> usize {
    log.iter()
        .enumerate()
        .skip(from)
        .find(|(_, l)| l.level == Some(level) && want(&l.message))
        .map(|(i, _)| i)
        .unwrap_or_else(|| {
            panic!(
                "no {level} line \"{what}\" after line {from} of the decoded defmt log:\n{}",
                log.iter().map(|l| format!("  {l}\n")).collect::<String>()
            )
        })
}

/// The image built with `defmt-semihosting` (its defmt frames over semihosting, decoded on the
/// host with the ELF's table: test-support/src/defmt_log.rs) authenticates with TLS 1.3 through
/// hostapd and FreeRADIUS, and its decoded log tells the story in order: boot, link up,
/// EAPOL-Start, one EAP response per round trip, the server certificate accepted, authenticated
/// with TLS 1.3 and the MSK fingerprint the UART's `AUTH` line has. Booted again with only the
/// revoked certificate, the failure's typed kind is a decoded line. The UART status lines are
/// the same as the image without the feature prints. And the tooling refuses, with the reason,
/// a stream cut inside a frame, a frame that does not decode and an ELF without a defmt table
/// (the image without the feature).
#[test]
fn firmware_defmt_log_decodes_an_authentication_and_a_refusal() {
    require_tools();
    let elf = build_defmt_firmware().unwrap_or_else(|e| panic!("{e}"));
    let servers = Servers::start(ServerTls::V13);
    let Servers { tmp, pki, pair, .. } = &servers;

    // Authenticated: the renewed certificate active, the old one archived.
    let dir = tmp.path().join("qemu-auth");
    std::fs::create_dir_all(&dir).expect("qemu dir");
    let record =
        ProvisionRecord::from_pki(pki, &[(true, &pki.client_old), (false, &pki.client_new)])
            .unwrap_or_else(|e| panic!("{e}"));
    let qemu =
        Qemu::boot(&elf, &dir, Some(&record), Clock::RealTime).unwrap_or_else(|e| panic!("{e}"));
    let link = servers.link(&pair.sup_ns, &pair.sup_if);
    let mut bridge = Bridge::start(qemu.uart().expect("uart"), Port(link)).expect("bridge");
    let context = |bridge: &Bridge, qemu: &Qemu| servers.context(bridge, qemu);
    let boot = bridge
        .wait_status(&["BOOT", "FAULT"], Duration::from_secs(20))
        .unwrap_or_else(|seen| panic!("no BOOT line: {seen}\n{}", context(&bridge, &qemu)));
    assert!(
        boot.starts_with("BOOT cred=provisioned store=new:A ") && boot.ends_with(" link=wired"),
        "{boot}"
    );
    let result = bridge
        .wait_status(&["AUTH", "FAIL", "FAULT"], Duration::from_secs(60))
        .unwrap_or_else(|seen| panic!("no result: {seen}\n{}", context(&bridge, &qemu)));
    assert!(
        result.starts_with("AUTH 1.3 "),
        "{result}\n{}",
        context(&bridge, &qemu)
    );
    bridge
        .wait_status(&["STATS"], Duration::from_secs(5))
        .unwrap_or_else(|seen| panic!("no STATS: {seen}"));
    // Every frame of the event was written before the STATS line went out.
    let log = read_log(&elf, &dir).unwrap_or_else(|e| panic!("{e}\n{}", context(&bridge, &qemu)));
    let rt = field(&result, "rt").expect("rt");
    let fp = result
        .split_whitespace()
        .find_map(|w| w.strip_prefix("msk-fp="))
        .expect("msk-fp");
    // The fingerprint as defmt prints a byte slice in hex: [a1, b2, ...].
    let fp_list = format!(
        "[{}]",
        (0..fp.len() / 2)
            .filter_map(|i| fp.get(2 * i..2 * i + 2))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let floor = field(&boot, "floor").expect("floor");
    let at = find_line(&log, 0, "info", "boot", |m| {
        m == format!("boot: credentials provisioned, slot table floor {floor}, link wired")
    });
    let at = find_line(&log, at + 1, "info", "link up", |m| {
        m == "link up: wired port, starting the supplicant"
    });
    let at = find_line(&log, at + 1, "info", "EAPOL-Start", |m| {
        m == "EAPOL-Start 1 of 3"
    });
    let first_response = find_line(&log, at + 1, "debug", "EAP response", |m| {
        m.starts_with("EAP response, ") && m.ends_with(" bytes")
    });
    let accepted = find_line(&log, first_response + 1, "info", "server accepted", |m| {
        m == format!("server certificate accepted: {SERVER_NAME} matched")
    });
    let core_auth = find_line(&log, accepted + 1, "info", "core: authenticated", |m| {
        m == format!("authenticated with TLS 1.3 after {rt} EAP round trips")
    });
    // One EAP response per round trip, each logged (a retransmission is logged as one).
    let responses = log
        .get(first_response..core_auth)
        .unwrap_or_default()
        .iter()
        .filter(|l| {
            l.message.starts_with("EAP response, ")
                || l.message.starts_with("duplicate EAP request")
        })
        .count();
    assert_eq!(u64::try_from(responses).ok(), Some(rt), "{log:#?}");
    let image_auth = find_line(&log, core_auth + 1, "info", "image: authenticated", |m| {
        m == format!("authenticated: TLS 1.3, {rt} EAP round trips, MSK fingerprint {fp_list}")
    });
    // The whole event, as latchkey-core's `Format` impls render it: the version, and the MSK
    // only as its fingerprint.
    find_line(&log, image_auth + 1, "debug", "event", |m| {
        m.starts_with("event: Authenticated(")
            && m.contains("version: Tls13")
            && m.contains("msk: \"Msk\"(fingerprint Fingerprint(")
    });
    assert!(
        log.iter().all(|l| l.timestamp.is_some()),
        "every frame carries the board's time: {log:#?}"
    );
    eprintln!(
        "decoded defmt log of the TLS 1.3 authentication ({} lines):",
        log.len()
    );
    for l in &log {
        eprintln!("  {l}");
    }
    drop(bridge);
    drop(qemu);

    // Refused: only the revoked certificate; the same servers.
    let dir = tmp.path().join("qemu-revoked");
    std::fs::create_dir_all(&dir).expect("qemu dir");
    let record = ProvisionRecord::from_pki(pki, &[(false, &pki.client_old)])
        .unwrap_or_else(|e| panic!("{e}"));
    let qemu =
        Qemu::boot(&elf, &dir, Some(&record), Clock::RealTime).unwrap_or_else(|e| panic!("{e}"));
    let link = servers.link(&pair.sup_ns, &pair.sup_if);
    let mut bridge = Bridge::start(qemu.uart().expect("uart"), Port(link)).expect("bridge");
    let result = bridge
        .wait_status(&["AUTH", "FAIL", "FAULT"], Duration::from_secs(60))
        .unwrap_or_else(|seen| panic!("no result: {seen}\n{}", context(&bridge, &qemu)));
    assert_eq!(
        result,
        "FAIL rejected-certificate",
        "{}",
        context(&bridge, &qemu)
    );
    bridge
        .wait_status(&["STATS"], Duration::from_secs(5))
        .unwrap_or_else(|seen| panic!("no STATS: {seen}"));
    let log = read_log(&elf, &dir).unwrap_or_else(|e| panic!("{e}\n{}", context(&bridge, &qemu)));
    let at = find_line(&log, 0, "info", "EAPOL-Start", |m| {
        m == "EAPOL-Start 1 of 3"
    });
    // latchkey-core's warning names the kind by its `defmt::Format`; the image's error line by
    // its stable text, the same as the UART's FAIL line.
    let at = find_line(&log, at + 1, "warn", "core: failed", |m| {
        m == "authentication failed: RejectedCertificate"
    });
    let at = find_line(&log, at + 1, "error", "image: failed", |m| {
        m == "authentication failed: rejected-certificate"
    });
    find_line(&log, at + 1, "debug", "event", |m| {
        m.starts_with("event: Failed(")
    });
    assert!(
        !log.iter().any(|l| l.message.starts_with("authenticated")),
        "{log:#?}"
    );
    eprintln!("decoded defmt log of the refusal ({} lines):", log.len());
    for l in &log {
        eprintln!("  {l}");
    }
    drop(bridge);
    drop(qemu);

    // What the tooling cannot decode, it refuses with the reason: the same stream cut inside
    // its last frame or followed by a garbled one, and the image built without the feature (no
    // defmt table).
    let stream = std::fs::read(dir.join(SEMIHOSTING_STDOUT)).expect("defmt stream");
    let table = defmt_log::table(&elf).unwrap_or_else(|e| panic!("{e}"));
    match decode(&table, stream.get(..stream.len() - 2).unwrap_or_default()) {
        Err(DefmtError::Truncated { bytes, before }) => {
            assert!(bytes > 0);
            assert_eq!(
                before.as_slice(),
                log.get(..log.len() - 1).unwrap_or_default()
            );
        }
        other => panic!("a cut stream decoded as {other:?}"),
    }
    // A frame that is not rzCOBS (0x80 announces seven more bytes) after the good ones.
    let mut garbled = stream.clone();
    garbled.extend_from_slice(&[0x80, 0x00]);
    match decode(&table, &garbled) {
        Err(DefmtError::Malformed {
            frame,
            offset,
            before,
        }) => {
            assert_eq!((frame, offset), (log.len(), stream.len()));
            assert_eq!(before, log);
        }
        other => panic!("a garbled frame decoded as {other:?}"),
    }
    let plain = build_firmware().unwrap_or_else(|e| panic!("{e}"));
    match defmt_log::table(&plain) {
        Err(e @ DefmtError::NoTable(_)) => assert!(e.to_string().contains("no defmt table"), "{e}"),
        other => panic!("the image without defmt-semihosting: {other:?}"),
    }
}
