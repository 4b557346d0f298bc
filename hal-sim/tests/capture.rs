//! `--pcap` and `--keylog` read back with tshark: captures of `demo` and of `radius` against
//! FreeRADIUS, TLS 1.2 and 1.3, dissect as EAPOL, EAP, EAP-TLS (and RADIUS) with the TLS
//! handshake records found and no malformed frame; with the key log tshark decrypts the TLS 1.3
//! handshake (it finds the encrypted Certificate message, which it cannot without it).

use std::path::Path;
use std::process::Command;

use latchkey_test_support::apt;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::pki_files::{FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::ServerTls;
use latchkey_test_support::tshark::{summarize_with, Summary, TSHARK_PACKAGES};

const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const CERTIFICATE: u8 = 11;
const FINISHED: u8 = 20;

fn run(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .args(args)
        .output()
        .expect("run latchkey-sim");
    assert!(
        out.status.success(),
        "latchkey-sim {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What every capture must show: EAPOL and EAP-TLS frames, the hellos, nothing malformed.
fn assert_dissects(s: &Summary, what: &str) {
    assert!(s.malformed.is_empty(), "{what}: malformed frames {s:#?}");
    assert!(s.eapol >= 4, "{what}: EAPOL frames {s:#?}");
    assert!(s.eap >= 4, "{what}: EAP packets {s:#?}");
    assert!(s.eap_tls >= 3, "{what}: EAP-TLS packets {s:#?}");
    assert!(
        s.tls_handshake.contains(&CLIENT_HELLO) && s.tls_handshake.contains(&SERVER_HELLO),
        "{what}: TLS hellos {s:#?}"
    );
}

/// TLS 1.2 sends its Certificate messages in the clear; TLS 1.3 only under the handshake keys.
fn assert_tls(pcap: &Path, keylog: &Path, tls: &str, decode: &[&str], what: &str) {
    let plain = summarize_with(pcap, None, decode);
    assert_dissects(&plain, what);
    if tls == "1.2" {
        assert!(
            plain.tls_handshake.contains(&CERTIFICATE),
            "{what}: {plain:#?}"
        );
        return;
    }
    assert!(
        !plain.tls_handshake.contains(&CERTIFICATE),
        "{what}: TLS 1.3 Certificate readable without keys? {plain:#?}"
    );
    let keys = std::fs::read_to_string(keylog).unwrap();
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    ] {
        assert!(keys.contains(label), "{what}: no {label} in {keys}");
    }
    let decrypted = summarize_with(pcap, Some(keylog), decode);
    assert_dissects(&decrypted, what);
    assert!(
        decrypted.tls_handshake.contains(&CERTIFICATE)
            && decrypted.tls_handshake.contains(&FINISHED),
        "{what}: tshark did not decrypt the TLS 1.3 handshake: {decrypted:#?}"
    );
}

#[test]
fn demo_captures_dissect_and_tls13_decrypts_with_the_key_log() {
    apt::require(TSHARK_PACKAGES);
    let dir = tempfile::tempdir().unwrap();
    for tls in ["1.3", "1.2"] {
        let pcap = dir.path().join(format!("demo-{tls}.pcap"));
        let keylog = dir.path().join(format!("demo-{tls}.keys"));
        run(&[
            "demo",
            "--tls",
            tls,
            "--quiet",
            "--pcap",
            pcap.to_str().unwrap(),
            "--keylog",
            keylog.to_str().unwrap(),
        ]);
        assert_tls(&pcap, &keylog, tls, &[], &format!("demo {tls}"));
    }
}

#[test]
fn radius_captures_hold_eapol_and_radius_and_tls13_decrypts() {
    apt::require(apt::SERVER_PACKAGES);
    apt::require(TSHARK_PACKAGES);
    for (tls, server_tls) in [("1.3", ServerTls::V13), ("1.2", ServerTls::V12)] {
        let dir = tempfile::tempdir().unwrap();
        let pki = FilePki::generate(&dir.path().join("pki")).unwrap();
        let server = freeradius::start(dir.path(), &pki, &FreeRadiusOptions::new(server_tls))
            .unwrap_or_else(|e| panic!("{e}"));
        let pcap = dir.path().join("radius.pcap");
        let keylog = dir.path().join("radius.keys");
        let slot = format!(
            "active:{}:{}",
            pki.client_new.cert.display(),
            pki.client_new.key.display()
        );
        run(&[
            "radius",
            "--radius",
            &server.addr().to_string(),
            "--secret",
            &server.secret,
            "--ca",
            pki.ca.to_str().unwrap(),
            "--server-name",
            SERVER_NAME,
            "--identity",
            IDENTITY,
            "--slot",
            &slot,
            "--pcap",
            pcap.to_str().unwrap(),
            "--keylog",
            keylog.to_str().unwrap(),
        ]);
        // The test server listens on a free port, not 1812: tell tshark it is RADIUS.
        let decode = format!("udp.port=={},radius", server.addr().port());
        let decode = ["-d", decode.as_str()];
        let s = summarize_with(&pcap, None, &decode);
        // Each EAP packet twice (EAPOL and RADIUS), and a reply to every Access-Request.
        assert!(s.radius >= 6, "radius {tls}: RADIUS packets {s:#?}");
        assert_eq!(s.radius % 2, 0, "radius {tls}: unanswered requests {s:#?}");
        assert!(s.eap > s.eapol, "radius {tls}: EAP in RADIUS too {s:#?}");
        assert_tls(&pcap, &keylog, tls, &decode, &format!("radius {tls}"));
    }
}
