//! The one report schema, from the outside: `latchkey-sim radius --json` against FreeRADIUS
//! on success, on the device's refusal of the server, on the server's rejection of the device
//! and on an argument error, and `latchkey-sim connect --json` on a configuration error and an
//! argument error, each validated by `report_schema::check_json`; every failure is one line on
//! stderr with its kind. (`connect`'s success and failure reports are validated in
//! hal-sim/tests/wired.rs, which owns the network namespaces.)

use std::process::{Command, Output};

use latchkey_sim::cli::report_schema::check_json;
use latchkey_test_support::apt;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::pki_files::{
    CertFiles, FilePki, IDENTITY, NEW_SERIAL, OLD_SERIAL, SERVER_NAME,
};
use latchkey_test_support::server_process::ServerTls;

fn sim(args: &[&str]) -> (Output, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .args(args)
        .output()
        .expect("run latchkey-sim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let j: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not one JSON object ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    check_json(&j).unwrap_or_else(|e| panic!("{args:?}: {e}\n{j:#}"));
    (out, j)
}

/// The failure line: exactly one, naming the kind.
fn one_line(out: &Output, prefix: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with(prefix), "{err}");
}

/// The client certificate's serial number from the report's hex.
fn serial(j: &serde_json::Value) -> Option<u64> {
    u64::from_str_radix(j["client_certificate"]["serial"].as_str()?, 16).ok()
}

/// `openssl x509 -fingerprint -sha256` of a PEM file, as the report writes it.
fn openssl_sha256(pem: &std::path::Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text.trim().rsplit('=').next().unwrap();
    hex.replace(':', "").to_ascii_lowercase()
}

fn slot(c: &CertFiles) -> String {
    format!("active:{}:{}", c.cert.display(), c.key.display())
}

#[test]
fn radius_reports_validate_on_success_refusal_rejection_and_argument_error() {
    apt::require(apt::SERVER_PACKAGES);
    let dir = tempfile::tempdir().unwrap();
    let pki = FilePki::generate(&dir.path().join("pki")).unwrap();
    let other = FilePki::generate(&dir.path().join("other")).unwrap();
    let server = freeradius::start(dir.path(), &pki, &FreeRadiusOptions::new(ServerTls::V13))
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = server.addr().to_string();
    let run = |ca: &str, slot: &str, extra: &[&str]| {
        let mut a = vec![
            "radius",
            "--json",
            "--radius",
            &addr,
            "--secret",
            &server.secret,
            "--ca",
            ca,
            "--server-name",
            SERVER_NAME,
            "--identity",
            IDENTITY,
            "--slot",
            slot,
        ];
        a.extend_from_slice(extra);
        sim(&a)
    };
    let ca = pki.ca.to_str().unwrap();

    let (out, j) = run(ca, &slot(&pki.client_new), &["--anonymous-identity"]);
    assert_eq!(out.status.code(), Some(0), "{j:#}");
    assert!(out.stderr.is_empty());
    assert_eq!(j["command"], "radius");
    assert_eq!(j["outcome"], "authenticated", "{j:#}");
    assert_eq!(j["identity_sent"], "@latchkey.test");
    assert_eq!(j["slot"], 0);
    assert_eq!(j["slot_file"], pki.client_new.cert.display().to_string());
    assert_eq!(serial(&j), Some(NEW_SERIAL), "{j:#}");
    assert!(j["client_certificate"]["days_left"].as_i64().unwrap() > 0);
    assert_eq!(j["tls_version"], "1.3");
    assert!(j["elapsed_ms"].as_u64().unwrap() < 10_000);
    // The server's certificate, as openssl fingerprints the file FreeRADIUS serves.
    let server_sha256 = openssl_sha256(&pki.server.cert);
    let sc = &j["server_certificate"];
    assert_eq!(sc["sha256"], server_sha256, "{j:#}");
    assert!(
        sc["subject"].as_str().unwrap().contains(SERVER_NAME),
        "{j:#}"
    );
    assert!(sc["not_after"].as_str().unwrap().ends_with('Z'), "{j:#}");

    // TLS 1.2 sends the certificate in the clear: an anonymous outer identity does not hide
    // the device, and the admin is told so (against a TLS 1.2 server; no warning with 1.3
    // above).
    let v12_dir = dir.path().join("v12");
    std::fs::create_dir_all(&v12_dir).unwrap();
    let v12 = freeradius::start(&v12_dir, &pki, &FreeRadiusOptions::new(ServerTls::V12))
        .unwrap_or_else(|e| panic!("{e}"));
    let v12_addr = v12.addr().to_string();
    let (out, j) = sim(&[
        "radius",
        "--json",
        "--radius",
        &v12_addr,
        "--secret",
        &v12.secret,
        "--ca",
        ca,
        "--server-name",
        SERVER_NAME,
        "--identity",
        IDENTITY,
        "--slot",
        &slot(&pki.client_new),
        "--anonymous-identity",
        "--tls",
        "1.2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{j:#}");
    assert_eq!(
        (j["tls_version"].as_str(), j["identity_sent"].as_str()),
        (Some("1.2"), Some("@latchkey.test"))
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        latchkey_sim::cli::report::TLS12_PRIVACY_WARNING,
        "{err}"
    );
    drop(v12);

    // We refuse the server: no certificate was offered, so no slot.
    let (out, j) = run(other.ca.to_str().unwrap(), &slot(&pki.client_new), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(j["outcome"], "failed");
    assert_eq!(j["error_kind"], "server-certificate-invalid", "{j:#}");
    assert_eq!(j["identity_sent"], IDENTITY);
    assert!(
        j["slot"].is_null() && j["client_certificate"].is_null(),
        "{j:#}"
    );
    // The certificate we refused is named: the admin sees which server the device met.
    assert_eq!(j["server_certificate"]["sha256"], server_sha256, "{j:#}");
    one_line(&out, "FAILED (server-certificate-invalid)");

    // The server rejects the device after its (revoked) certificate: the report names the
    // slot, its file and the certificate, which is what the admin must look at.
    let (out, j) = run(ca, &slot(&pki.client_old), &[]);
    assert_eq!(j["outcome"], "failed");
    assert_eq!(j["error_kind"], "rejected-certificate", "{j:#}");
    assert_eq!(j["slot"], 0, "{j:#}");
    assert_eq!(j["slot_file"], pki.client_old.cert.display().to_string());
    assert_eq!(serial(&j), Some(OLD_SERIAL), "{j:#}");
    assert_eq!(j["radius_result"], "Access-Reject");
    one_line(&out, "FAILED (rejected-certificate)");

    // An argument error is a report too.
    let (out, j) = sim(&["radius", "--json", "--radius", "not-an-address"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        (j["outcome"].as_str(), j["error_kind"].as_str()),
        (Some("error"), Some("bad-arguments"))
    );
    assert!(j["server_certificate"].is_null(), "{j:#}");
    one_line(&out, "ERROR (bad-arguments)");
}

#[test]
fn connect_reports_validate_on_configuration_and_argument_errors() {
    // The CA file is read before any interface is opened: no privileges needed.
    let (out, j) = sim(&[
        "connect",
        "--json",
        "--iface",
        "lk-none0",
        "--ca",
        "/nonexistent/ca.pem",
        "--server-name",
        SERVER_NAME,
        "--identity",
        IDENTITY,
        "--slot",
        "active:/nonexistent/c.pem:/nonexistent/k.pem",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(j["command"], "connect");
    assert_eq!(j["error_kind"], "unreadable-file", "{j:#}");
    assert_eq!(j["iface"], "lk-none0");
    one_line(&out, "ERROR (unreadable-file)");

    let (out, j) = sim(&["connect", "--json", "--iface", "lk-none0"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(j["command"], "connect");
    assert_eq!(j["error_kind"], "bad-arguments");
    assert!(j["error"].as_str().unwrap().contains("--ca"), "{j:#}");
    one_line(&out, "ERROR (bad-arguments)");
}

/// eapol_test's flags: `-a` a host name (resolved) with `-p` its port, `-s` the secret, `-M`
/// the Calling-Station-Id and `-N` extra attributes (string, integer, hex) FreeRADIUS sees, `-t` an overall limit that ends a conversation with
/// a silent server as `timeout` within it (not after every retransmission).
#[test]
fn eapol_test_flags_a_p_s_m_n_t() {
    apt::require(apt::SERVER_PACKAGES);
    let dir = tempfile::tempdir().unwrap();
    let pki = FilePki::generate(&dir.path().join("pki")).unwrap();
    let opts = FreeRadiusOptions {
        debug: true,
        ..FreeRadiusOptions::new(ServerTls::V13)
    };
    let server = freeradius::start(dir.path(), &pki, &opts).unwrap_or_else(|e| panic!("{e}"));
    let port = server.addr().port().to_string();
    let ca = pki.ca.to_str().unwrap();
    let slot = slot(&pki.client_new);
    let common = [
        "--ca",
        ca,
        "--server-name",
        SERVER_NAME,
        "--identity",
        IDENTITY,
        "--slot",
        slot.as_str(),
        "--json",
    ];
    let mut a = vec![
        "radius",
        "-a",
        "localhost",
        "-p",
        &port,
        "-s",
        &server.secret,
        "-M",
        "0a:1b:2c:3d:4e:5f",
        "-t",
        "20",
        "-N",
        "87:s:port-7",
        "-N",
        "5:d:42",
        "-N",
        "77:x:6c6b",
    ];
    a.extend_from_slice(&common);
    let (out, j) = sim(&a);
    assert_eq!(out.status.code(), Some(0), "{j:#}");
    assert_eq!(j["server"], format!("127.0.0.1:{port}"), "{j:#}");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        log.contains("Calling-Station-Id = \"0A-1B-2C-3D-4E-5F\""),
        "FreeRADIUS did not see -M's Calling-Station-Id:\n{}",
        server.log_tail()
    );
    for attribute in [
        "NAS-Port-Id = \"port-7\"",
        "NAS-Port = 42",
        "Connect-Info = \"lk\"",
    ] {
        assert!(
            log.contains(attribute),
            "FreeRADIUS did not see -N's {attribute}:\n{}",
            server.log_tail()
        );
    }

    // A server that never answers: -t 1 ends it after about a second, as `timeout`.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port().to_string();
    let started = std::time::Instant::now();
    let mut a = vec![
        "radius",
        "-a",
        "127.0.0.1",
        "-p",
        &silent_port,
        "-s",
        "x",
        "-t",
        "1",
    ];
    a.extend_from_slice(&common);
    let (out, j) = sim(&a);
    let took = started.elapsed();
    assert_eq!(j["error_kind"], "timeout", "{j:#}");
    assert!(took < std::time::Duration::from_secs(4), "{took:?}");
    one_line(&out, "ERROR (timeout)");
    drop(silent);
}
