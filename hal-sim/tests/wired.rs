//! Wired 802.1X on a real link: hostapd 2.10 (`driver=wired`) on one end of a veth pair in its
//! own network namespace — deciding with its internal EAP-TLS server or relaying to FreeRADIUS
//! in the same namespace — and `latchkey-sim connect` on an AF_PACKET socket at the other end.
//! The capture on the link is dissected by tshark. Needs root (CI runs as root).

use std::process::Command;
use std::time::Duration;

use clap::Parser;
use latchkey_core::eap_tls::keys::fingerprint;
use latchkey_core::hal::Radio;
use latchkey_core::supplicant::PAE_GROUP_ADDR;
use latchkey_sim::cli::args::ConnectArgs;
use latchkey_sim::drive::connect::{
    connect, connect_reporting, ConnectReport, EXIT_AUTHENTICATED, EXIT_FAILED,
};
use latchkey_sim::hal::link::{EapolLink, LinkError};
use latchkey_test_support::apt;
use latchkey_test_support::capture::{dissect, Capture, Dissected};
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::hostapd_wired::{
    Backend, TlsVersion, WiredAuthenticator, WIRED_PACKAGES,
};
use latchkey_test_support::netns::{in_netns, require_root, run_bounded, VethPair};
use latchkey_test_support::pki_files::{FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::{ServerProcess, ServerTls};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Who decides behind hostapd.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decider {
    /// hostapd's internal EAP-TLS server.
    Internal,
    /// FreeRADIUS 3.2 in the authenticator's namespace, reached by hostapd's RADIUS client.
    FreeRadius,
}

/// One wired test set-up. Fields drop in order: hostapd, the RADIUS server, then the
/// namespaces, then the files.
struct Rig {
    hostapd: WiredAuthenticator,
    _radius: Option<ServerProcess>,
    pair: VethPair,
    pki: FilePki,
    tmp: tempfile::TempDir,
}

fn rig(decider: Decider, tls: TlsVersion) -> Rig {
    rig_with(decider, tls, &[])
}

/// [`rig`] with extra hostapd configuration lines.
fn rig_with(decider: Decider, tls: TlsVersion, hostapd_extra: &[&str]) -> Rig {
    if let Err(e) = require_root() {
        panic!("{e}");
    }
    apt::require(WIRED_PACKAGES);
    let tmp = tempfile::tempdir().expect("temp dir");
    let pki = FilePki::generate(&tmp.path().join("pki")).expect("file pki");
    let pair = VethPair::create().unwrap_or_else(|e| panic!("{e}"));
    let (radius, backend) = match decider {
        Decider::Internal => (
            None,
            Backend::Internal {
                ca_and_crl: pki.ca_with_crl.clone(),
                check_crl: true,
                server_cert: pki.server.cert.clone(),
                server_key: pki.server.key.clone(),
                tls,
            },
        ),
        Decider::FreeRadius => {
            let v = match tls {
                TlsVersion::Tls12 => ServerTls::V12,
                TlsVersion::Tls13 => ServerTls::V13,
            };
            // Started from a thread inside the authenticator's namespace: FreeRADIUS listens
            // on that namespace's loopback, where hostapd's RADIUS client finds it.
            let dir = tmp.path().join("freeradius");
            std::fs::create_dir_all(&dir).expect("server dir");
            let server = in_netns(&pair.auth_ns, || {
                freeradius::start(&dir, &pki, &FreeRadiusOptions::new(v))
            })
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
            let backend = Backend::Radius {
                port: server.port,
                secret: server.secret.clone(),
            };
            (Some(server), backend)
        }
    };
    let hostapd = WiredAuthenticator::start_with(&pair, tmp.path(), &backend, hostapd_extra)
        .unwrap_or_else(|e| panic!("{e}"));
    Rig {
        hostapd,
        _radius: radius,
        pair,
        pki,
        tmp,
    }
}

fn slot(state: &str, c: &latchkey_test_support::pki_files::CertFiles) -> Vec<String> {
    vec![
        "--slot".into(),
        format!("{state}:{}:{}", c.cert.display(), c.key.display()),
    ]
}

impl Rig {
    /// `latchkey-sim connect` flags for the supplicant's end, with these slots.
    fn args(&self, slots: &[Vec<String>], json: bool) -> Vec<String> {
        let mut v: Vec<String> = [
            "--iface",
            &self.pair.sup_if,
            "--ca",
            &self.pki.ca.display().to_string(),
            "--server-name",
            SERVER_NAME,
            "--identity",
            IDENTITY,
            "--timeout",
            "20",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(slots.concat());
        if json {
            v.push("--json".into());
        }
        v
    }

    /// The KB932521 table: the old certificate archived (and revoked by the CRL), the renewed
    /// one active.
    fn renewed_table(&self) -> Vec<Vec<String>> {
        vec![
            slot("archived", &self.pki.client_old),
            slot("active", &self.pki.client_new),
        ]
    }

    /// Run `connect` in-process, from a thread inside the supplicant's namespace.
    fn connect(&self, slots: &[Vec<String>]) -> ConnectReport {
        self.connect_with(slots, 20)
    }

    /// [`Self::connect`] with a `--timeout` in seconds.
    fn connect_with(&self, slots: &[Vec<String>], timeout: u64) -> ConnectReport {
        let mut argv = self.args(slots, false);
        let i = argv
            .iter()
            .position(|a| a == "--timeout")
            .expect("--timeout")
            + 1;
        argv[i] = timeout.to_string();
        let cli = Cli::try_parse_from(std::iter::once("connect".to_string()).chain(argv))
            .unwrap_or_else(|e| panic!("{e}"));
        // Every run also checks the live progress the text mode prints: one line once the
        // interface is open, then one per frame as it crosses, in order, timestamped.
        let mut live = Vec::new();
        let report = in_netns(&self.pair.sup_ns, || {
            connect_reporting(&cli.connect, &mut |l| live.push(l.to_owned()))
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("connect: {e}"));
        check_live_progress(&live, &report);
        report
    }

    fn capture(&self) -> Capture {
        Capture::start(
            &self.pair.auth_ns,
            &self.pair.auth_if,
            &self.tmp.path().join("link.pcap"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }
}

fn json_of(report: &ConnectReport) -> serde_json::Value {
    report.to_json()
}

/// The frames tshark must see for one successful authentication by `mac`.
fn assert_capture(frames: &[Dissected], mac: &str) {
    let from_us = |f: &&Dissected| f.src == mac;
    assert!(
        frames
            .iter()
            .filter(from_us)
            .any(|f| f.eapol_type == Some(1)),
        "no EAPOL-Start from {mac}: {frames:#?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f.dst == mac && f.eap_code == Some(1) && f.eap_type == Some(13)),
        "no EAP-TLS request to {mac}: {frames:#?}"
    );
    assert!(
        frames
            .iter()
            .filter(from_us)
            .any(|f| f.eap_code == Some(2) && f.eap_type == Some(13)),
        "no EAP-TLS response from {mac}: {frames:#?}"
    );
    assert!(
        frames.iter().any(|f| f.tls_handshake.contains(&1)),
        "tshark found no TLS ClientHello inside EAP-TLS: {frames:#?}"
    );
    let last = frames
        .iter()
        .rfind(|f| f.dst == mac && f.eap_code.is_some());
    assert_eq!(
        last.and_then(|f| f.eap_code),
        Some(3),
        "the last EAP packet to {mac} is not EAP-Success: {frames:#?}"
    );
}

/// KB932521 on a real link: the renewed certificate is chosen (the archived, revoked one is
/// skipped), the authentication succeeds with the requested TLS version, hostapd authorizes
/// the port with the same MSK, and the capture shows the whole exchange.
fn renewed_device_is_authorized(decider: Decider, tls: TlsVersion) {
    let rig = rig(decider, tls);
    let cap = rig.capture();
    let report = rig.connect(&rig.renewed_table());
    let j = json_of(&report);
    assert_eq!(
        j["outcome"],
        "authenticated",
        "{}\nhostapd:\n{}",
        report.to_text(),
        rig.hostapd.log_tail(40)
    );
    let want = match tls {
        TlsVersion::Tls12 => "1.2",
        TlsVersion::Tls13 => "1.3",
    };
    assert_eq!(j["tls_version"], want, "{j}");
    assert_eq!(
        j["slot_file"],
        rig.pki.client_new.cert.display().to_string(),
        "{j}"
    );
    let skipped = j["skipped_slots"].as_array().cloned().unwrap_or_default();
    assert!(
        skipped.iter().any(
            |s| s["file"] == rig.pki.client_old.cert.display().to_string()
                && s["reason"].as_str().unwrap_or("").contains("archived")
        ),
        "the archived certificate is not reported as skipped: {j}"
    );
    let mac = report.mac.clone();
    assert!(
        rig.hostapd.wait_for_log(
            &format!("STA {mac} IEEE 802.1X: authorizing port"),
            Duration::from_secs(5)
        ),
        "hostapd did not authorize the port:\n{}",
        rig.hostapd.log_tail(40)
    );
    // The keys: hostapd's MSK (its own EAP server's, or the MS-MPPE keys FreeRADIUS sent it)
    // equals ours, compared by fingerprint (first 8 bytes of SHA-256).
    let their_msk = rig
        .hostapd
        .msk()
        .unwrap_or_else(|| panic!("no MSK in hostapd's log:\n{}", rig.hostapd.log_tail(60)));
    assert_eq!(their_msk.len(), 64);
    assert_eq!(
        j["msk_fingerprint"],
        fingerprint(&their_msk).to_string(),
        "MSK differs from hostapd's"
    );
    let file = cap.stop().unwrap_or_else(|e| panic!("{e}"));
    let frames = dissect(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_capture(&frames, &mac);
    eprintln!(
        "wired TLS {want} via {}: {} ms, {} round trips, {} frames captured",
        match decider {
            Decider::Internal => "hostapd's EAP server",
            Decider::FreeRadius => "FreeRADIUS",
        },
        j["elapsed_ms"],
        j["eap_round_trips"],
        frames.len()
    );
}

#[test]
fn wired_tls12_renewed_device_authorized_by_hostapd_eap_server() {
    renewed_device_is_authorized(Decider::Internal, TlsVersion::Tls12);
}

#[test]
fn wired_tls13_renewed_device_authorized_by_hostapd_eap_server() {
    renewed_device_is_authorized(Decider::Internal, TlsVersion::Tls13);
}

#[test]
fn wired_tls12_renewed_device_authorized_via_freeradius() {
    renewed_device_is_authorized(Decider::FreeRadius, TlsVersion::Tls12);
}

#[test]
fn wired_tls13_renewed_device_authorized_via_freeradius() {
    renewed_device_is_authorized(Decider::FreeRadius, TlsVersion::Tls13);
}

/// The other half of KB932521: a device that still presents its old (revoked) certificate is
/// refused by the server behind hostapd, and the port stays unauthorized.
#[test]
fn wired_revoked_old_certificate_refused_via_freeradius() {
    let rig = rig(Decider::FreeRadius, TlsVersion::Tls12);
    // hostapd and FreeRADIUS answer the revoked certificate with a bare EAP-Failure right
    // after our last flight (no TLS alert first). The supplicant takes it as the server's
    // verdict on its certificate and fails at once with that reason (the 4 s bound would
    // otherwise end it as a timeout).
    let report = rig.connect_with(&[slot("active", &rig.pki.client_old)], 4);
    let j = json_of(&report);
    assert_eq!(j["outcome"], "failed", "{}", report.to_text());
    assert_eq!(j["error_kind"], "rejected-certificate", "{j}");
    assert_eq!(report.exit_code(), EXIT_FAILED);
    // The one report schema, naming the slot and file the server rejected.
    latchkey_sim::cli::report_schema::check_json(&j).unwrap_or_else(|e| panic!("{e}: {j}"));
    assert_eq!(j["slot"], 0, "{j}");
    assert_eq!(
        j["slot_file"],
        rig.pki.client_old.cert.display().to_string(),
        "{j}"
    );
    let mac = report.mac.clone();
    assert!(
        rig.hostapd.wait_for_log(
            &format!("STA {mac} IEEE 802.1X: authentication failed"),
            Duration::from_secs(5)
        ),
        "hostapd did not report the failure:\n{}",
        rig.hostapd.log_tail(40)
    );
    let log = rig.hostapd.log_text();
    assert!(
        !log.contains("IEEE 802.1X: authorizing port"),
        "port authorized:\n{log}"
    );
}

/// A device left with only its archived certificate sends none (the slot table refuses, the
/// KB's failure made explicit) and fails at once with that reason; the port stays closed.
#[test]
fn wired_archived_only_certificate_is_never_sent() {
    let rig = rig(Decider::Internal, TlsVersion::Tls13);
    let cap = rig.capture();
    let report = rig.connect(&[slot("archived", &rig.pki.client_old)]);
    let j = json_of(&report);
    assert_eq!(j["outcome"], "failed", "{}", report.to_text());
    assert_eq!(j["error_kind"], "only-archived-match", "{j}");
    assert_eq!(j["slot"], serde_json::Value::Null, "{j}");
    assert!(
        j["elapsed_ms"].as_u64().unwrap_or(u64::MAX) < 5_000,
        "the slot table's refusal should end it at once: {j}"
    );
    let file = cap.stop().unwrap_or_else(|e| panic!("{e}"));
    let frames = dissect(&file).unwrap_or_else(|e| panic!("{e}"));
    // tshark sees a ClientHello (1) from us and no Certificate (11) from us.
    assert!(
        frames
            .iter()
            .any(|f| f.src == report.mac && f.tls_handshake.contains(&1)),
        "{frames:#?}"
    );
    assert!(
        !frames
            .iter()
            .any(|f| f.src == report.mac && f.tls_handshake.contains(&11)),
        "a certificate was sent: {frames:#?}"
    );
    assert!(
        !rig.hostapd
            .log_text()
            .contains("IEEE 802.1X: authorizing port"),
        "port authorized:\n{}",
        rig.hostapd.log_text()
    );
}

/// The link alone, both ends ours: frames cross the veth with our MAC as source and Ethernet
/// padding; unicast to us and the PAE group address are delivered, frames for another station
/// and our own transmissions are not.
#[test]
fn wired_link_delivers_only_frames_for_us() {
    if let Err(e) = require_root() {
        panic!("{e}");
    }
    let pair = VethPair::create().unwrap_or_else(|e| panic!("{e}"));
    let open = |ns: &str, iface: &str| {
        let iface = iface.to_owned();
        in_netns(ns, move || EapolLink::open(&iface))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let mut a = open(&pair.auth_ns, &pair.auth_if);
    let mut b = open(&pair.sup_ns, &pair.sup_if);
    // The veth end exists only inside its namespace: this thread cannot open it.
    assert!(matches!(
        EapolLink::open(&pair.sup_if),
        Err(LinkError::NoSuchInterface(_))
    ));
    let wait = Duration::from_secs(2);

    let start = [2u8, 1, 0, 0];
    a.send(b.mac(), &start).expect("send unicast");
    let (src, frame) = b.recv_timeout(wait).expect("recv").expect("unicast frame");
    assert_eq!(src, a.mac());
    assert_eq!(frame.get(..4), Some(&start[..]));
    assert_eq!(frame.len(), 60 - 14, "padded to Ethernet's minimum");

    let identity_request = [2u8, 0, 0, 5, 1, 7, 0, 5, 1];
    a.send(PAE_GROUP_ADDR, &identity_request)
        .expect("send to group");
    let (_, frame) = b.recv_timeout(wait).expect("recv").expect("group frame");
    assert_eq!(frame.get(..9), Some(&identity_request[..]));

    a.send([0x02, 0, 0, 0, 0, 0x99], &start)
        .expect("send to another station");
    assert!(b
        .recv_timeout(Duration::from_millis(300))
        .expect("recv")
        .is_none());
    assert!(
        a.recv_timeout(Duration::from_millis(100))
            .expect("recv")
            .is_none(),
        "own frame delivered back"
    );

    // Link down (a cable pulled): sending fails instead of vanishing silently.
    run_bounded(
        Command::new("ip").args(["-n", &pair.sup_ns, "link", "set", &pair.sup_if, "down"]),
        Duration::from_secs(10),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(b.send(a.mac(), &start).is_err(), "send on a down link");
}

/// The `latchkey-sim` binary itself, as an admin runs it: exit status 0 and one JSON object on
/// success; exit status 1, a JSON error and one line on stderr for an interface that does not
/// exist and for a process without CAP_NET_RAW. hostapd addresses its frames to the PAE group address here (`use_pae_group_addr`),
/// as many switches do, rather than to our MAC.
#[test]
fn wired_connect_command_exit_codes_and_json() {
    let rig = rig_with(
        Decider::Internal,
        TlsVersion::Tls13,
        &["use_pae_group_addr=1"],
    );
    let cap = rig.capture();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_latchkey-sim"));
    let args = rig.args(&rig.renewed_table(), true);
    let out = run_bounded(
        VethPair::command_in(&rig.pair.sup_ns, &bin.display().to_string())
            .arg("connect")
            .args(&args),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}\nhostapd:\n{}", rig.hostapd.log_tail(40)));
    assert_eq!(out.status.code(), Some(i32::from(EXIT_AUTHENTICATED)));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let j: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(j["outcome"], "authenticated", "{j}");
    assert_eq!(j["iface"], rig.pair.sup_if.as_str());
    let mac = j["mac"].as_str().unwrap_or("").to_owned();
    let file = cap.stop().unwrap_or_else(|e| panic!("{e}"));
    let frames = dissect(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        frames
            .iter()
            .any(|f| f.eap_code == Some(3) && f.dst == "01:80:c2:00:00:03"),
        "EAP-Success not sent to the PAE group address: {frames:#?}"
    );
    assert!(
        rig.hostapd.wait_for_log(
            &format!("STA {mac} IEEE 802.1X: authorizing port"),
            Duration::from_secs(5)
        ),
        "{}",
        rig.hostapd.log_tail(40)
    );

    let mut bad = args.clone();
    let i = bad.iter().position(|a| a == "--iface").expect("--iface") + 1;
    bad[i] = "lk-nosuch0".into();
    let out = Command::new("ip")
        .args(["netns", "exec", &rig.pair.sup_ns])
        .arg(bin)
        .arg("connect")
        .args(&bad)
        .output()
        .expect("run latchkey-sim");
    assert_eq!(out.status.code(), Some(i32::from(EXIT_FAILED)));
    let j: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("JSON");
    assert_eq!(j["outcome"], "error", "{j}");
    assert_eq!(j["error_kind"], "no-such-interface", "{j}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // Without CAP_NET_RAW (root with it dropped from the bounding set, util-linux setpriv):
    // the packet socket is refused, and the message says what is missing.
    let out = Command::new("ip")
        .args(["netns", "exec", &rig.pair.sup_ns])
        .args(["setpriv", "--bounding-set", "-net_raw"])
        .arg(bin)
        .arg("connect")
        .args(&args)
        .output()
        .expect("run latchkey-sim under setpriv");
    assert_eq!(out.status.code(), Some(i32::from(EXIT_FAILED)));
    let j: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("JSON");
    assert_eq!(j["error_kind"], "permission-denied", "{j}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CAP_NET_RAW") && err.trim().lines().count() == 1,
        "{err}"
    );
}

/// `connect --pcap --keylog` on the real link: tshark reads the capture (the interface's real
/// MAC addresses, EAPOL, EAP, EAP-TLS, the TLS handshake, nothing malformed), and with the key
/// log decrypts the TLS 1.3 handshake (the encrypted Certificate message).
#[test]
fn wired_connect_capture_dissects_and_tls13_decrypts_with_the_key_log() {
    use latchkey_test_support::tshark::{summarize, TSHARK_PACKAGES};
    apt::require(TSHARK_PACKAGES);
    for tls in [TlsVersion::Tls13, TlsVersion::Tls12] {
        let rig = rig(Decider::Internal, tls);
        let pcap = rig.tmp.path().join("connect.pcap");
        let keylog = rig.tmp.path().join("connect.keys");
        let mut argv = rig.args(&[slot("active", &rig.pki.client_new)], false);
        argv.extend([
            "--pcap".to_string(),
            pcap.display().to_string(),
            "--keylog".to_string(),
            keylog.display().to_string(),
        ]);
        let cli = Cli::try_parse_from(std::iter::once("connect".to_string()).chain(argv))
            .unwrap_or_else(|e| panic!("{e}"));
        let report = in_netns(&rig.pair.sup_ns, || connect(&cli.connect))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("connect: {e}"));
        assert_eq!(
            report.exit_code(),
            EXIT_AUTHENTICATED,
            "{}",
            report.to_text()
        );
        let j = report.to_json();
        latchkey_sim::cli::report_schema::check_json(&j).unwrap_or_else(|e| panic!("{e}: {j}"));
        assert_eq!(
            (j["command"].as_str(), j["slot"].as_u64()),
            (Some("connect"), Some(0))
        );
        let plain = summarize(&pcap, None);
        assert!(plain.malformed.is_empty(), "{plain:#?}");
        assert!(
            plain.eapol >= 6 && plain.eap >= 5 && plain.eap_tls >= 3,
            "{plain:#?}"
        );
        assert!(
            plain.tls_handshake.contains(&1) && plain.tls_handshake.contains(&2),
            "{plain:#?}"
        );
        let macs = run_bounded(
            std::process::Command::new("tshark")
                .arg("-r")
                .arg(&pcap)
                .args(["-T", "fields", "-e", "eth.src"]),
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            String::from_utf8_lossy(&macs.stdout).contains(&report.mac),
            "our MAC {} is not in the capture",
            report.mac
        );
        let decrypted = summarize(&pcap, Some(&keylog));
        assert!(decrypted.malformed.is_empty(), "{decrypted:#?}");
        // Certificate (11): in the clear with TLS 1.2, only decrypted with TLS 1.3.
        assert!(decrypted.tls_handshake.contains(&11), "{decrypted:#?}");
        if tls == TlsVersion::Tls13 {
            assert!(!plain.tls_handshake.contains(&11), "{plain:#?}");
        }
    }
}

/// The lines `connect` streamed match the frames its report lists, in order, with timestamps
/// that never go back.
fn check_live_progress(live: &[String], report: &ConnectReport) {
    let text = report.to_text();
    assert!(
        live.first()
            .is_some_and(|l| l.starts_with("wired 802.1X on ") && l.contains("authenticating")),
        "{live:#?}"
    );
    let frames: Vec<&str> = text.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(live.len(), frames.len() + 1, "{live:#?}\n{text}");
    let mut last = 0u64;
    for (streamed, listed) in live.iter().skip(1).zip(frames) {
        let (stamp, rest) = streamed
            .trim_start()
            .strip_prefix('[')
            .and_then(|s| s.split_once(" ms] "))
            .unwrap_or_else(|| panic!("no timestamp: {streamed}"));
        let ms: u64 = stamp.trim().parse().unwrap();
        assert!(ms >= last, "{live:#?}");
        last = ms;
        assert_eq!(rest, listed.trim_start(), "{live:#?}");
    }
}
