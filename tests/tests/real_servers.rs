//! The test tooling against the reference supplicant: FreeRADIUS and hostapd, started on
//! loopback with the file PKI, authenticate wpa_supplicant's `eapol_test` with TLS 1.2 and 1.3
//! (MSK equal to the MS-MPPE keys) and refuse the revoked certificate.

use latchkey_test_support::apt;
use latchkey_test_support::eapol_test;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::hostapd::{self, HostapdOptions};
use latchkey_test_support::pki_files::FilePki;
use latchkey_test_support::server_process::{ServerProcess, ServerTls};

enum Kind {
    FreeRadius,
    Hostapd,
}

fn start(kind: Kind, tls: ServerTls) -> (tempfile::TempDir, FilePki, ServerProcess) {
    apt::require(apt::SERVER_PACKAGES);
    let tmp = tempfile::tempdir().unwrap();
    let pki = FilePki::generate(&tmp.path().join("pki")).unwrap();
    let server = match kind {
        Kind::FreeRadius => freeradius::start(tmp.path(), &pki, &FreeRadiusOptions::new(tls)),
        Kind::Hostapd => hostapd::start(tmp.path(), &pki, &HostapdOptions::new(tls)),
    }
    .unwrap_or_else(|e| panic!("{e}"));
    (tmp, pki, server)
}

fn check(kind: Kind, tls: ServerTls) {
    let (tmp, pki, server) = start(kind, tls);
    let ok = eapol_test::run(tmp.path(), &pki, &pki.client_new, &server).unwrap();
    assert!(
        ok.success && ok.mppe_ok,
        "eapol_test failed:\n{}\nserver log:\n{}",
        ok.output,
        server.log_tail()
    );
    assert!(
        (3..=8).contains(&ok.round_trips),
        "{} round trips",
        ok.round_trips
    );
    let tls_line = if tls == ServerTls::V13 {
        "TLSv1.3"
    } else {
        "TLSv1.2"
    };
    assert!(
        ok.output.contains(tls_line),
        "{tls_line} not negotiated:\n{}",
        ok.output
    );
    eprintln!(
        "{} TLS {tls}: {} round trips, MPPE ok {}",
        server.name, ok.round_trips, ok.mppe_ok
    );
    let revoked = eapol_test::run(tmp.path(), &pki, &pki.client_old, &server).unwrap();
    assert!(
        !revoked.success,
        "revoked certificate accepted:\n{}",
        revoked.output
    );
}

#[test]
fn eapol_test_against_freeradius_tls12() {
    check(Kind::FreeRadius, ServerTls::V12);
}

#[test]
fn eapol_test_against_freeradius_tls13() {
    check(Kind::FreeRadius, ServerTls::V13);
}

#[test]
fn eapol_test_against_hostapd_tls12() {
    check(Kind::Hostapd, ServerTls::V12);
}

#[test]
fn eapol_test_against_hostapd_tls13() {
    check(Kind::Hostapd, ServerTls::V13);
}
