//! Self-renewal end to end, as an admin runs it, with openssl as the CA and FreeRADIUS 3.2 as
//! the server: `latchkey-sim enroll` makes the device's next key in a pending slot of its table
//! file and writes a PKCS#10 request (openssl checks its signature and subject); `openssl x509
//! -req` issues the certificate from the test CA; `latchkey-sim install` activates it and
//! archives the predecessor in one save of the table; `latchkey-sim radius --table`
//! authenticates with the new certificate against FreeRADIUS (TLS 1.2 and 1.3), the old one
//! skipped as archived, and saves the time floor the success raised to the file. Before the install, certificates for other keys are refused with one
//! line and the table file is left byte for byte as it was.

use std::path::Path;
use std::process::{Command, Output};

use latchkey_test_support::apt;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::pki_files::{FilePki, CLIENT_CN, IDENTITY, NEW_SERIAL, SERVER_NAME};
use latchkey_test_support::server_process::ServerTls;

/// The serial the test CA gives the renewed certificate.
const RENEWED_SERIAL: u64 = 0x7e57;

fn run(program: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()))
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = run(Path::new("openssl"), dir, args);
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Issue a certificate for the request `req` from the test CA, copying its requested
/// extensions, as a CA signing a device's request does.
fn sign(dir: &Path, req: &str, serial: u64, out: &str) {
    std::fs::write(
        dir.join("client.ext"),
        "[client]\nbasicConstraints = critical, CA:false\nkeyUsage = critical, \
         digitalSignature\nextendedKeyUsage = clientAuth\nauthorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            req,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &format!("{serial:#x}"),
            "-days",
            "30",
            "-sha256",
            "-copy_extensions",
            "copy",
            "-extfile",
            "client.ext",
            "-extensions",
            "client",
            "-out",
            out,
        ],
    );
}

/// A refusal: exit status 2 and exactly one line on stderr, starting with `prefix`.
fn refused(out: &Output, prefix: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with(prefix), "{err}");
}

#[test]
fn enroll_openssl_signs_install_then_freeradius_accepts_the_new_certificate() {
    apt::require(apt::SERVER_PACKAGES);
    apt::require(&["openssl"]);
    let tmp = tempfile::tempdir().unwrap();
    let pki = FilePki::generate(&tmp.path().join("pki")).unwrap();
    let dir = pki.dir.as_path();
    let sim = Path::new(env!("CARGO_BIN_EXE_latchkey-sim"));
    let cert = pki.client_new.cert.to_str().unwrap();
    let key = pki.client_new.key.to_str().unwrap();

    // First use: the table file is made from the device's current certificate, then the
    // renewal starts.
    let out = run(
        sim,
        dir,
        &[
            "enroll",
            "--table",
            "device.table",
            "--cert",
            cert,
            "--key",
            key,
            "--out",
            "renew.csr",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let verified = openssl(
        dir,
        &["req", "-in", "renew.csr", "-verify", "-noout", "-subject"],
    );
    assert!(verified.contains("verify OK"), "{verified}");
    assert!(
        verified.contains(&format!("CN = {CLIENT_CN}"))
            && verified.contains("O = Latchkey Test PKI"),
        "{verified}"
    );
    let text = openssl(dir, &["req", "-in", "renew.csr", "-noout", "-text"]);
    assert!(
        text.contains("ecdsa-with-SHA256") && text.contains("NIST CURVE: P-256"),
        "{text}"
    );

    // Certificates for other keys are refused, and the table file is not touched: the
    // device's previous certificate, and one issued for another device's request.
    let table = dir.join("device.table");
    let before = std::fs::read(&table).unwrap();
    let out = run(
        sim,
        dir,
        &["install", "--table", "device.table", "--cert", cert],
    );
    refused(&out, "ERROR (key-not-pending)");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "other.key",
            "-subj",
            &format!("/O=Latchkey Test PKI/CN={CLIENT_CN}"),
            "-out",
            "other.csr",
        ],
    );
    sign(dir, "other.csr", 0x0bad, "other.pem");
    let out = run(
        sim,
        dir,
        &["install", "--table", "device.table", "--cert", "other.pem"],
    );
    refused(&out, "ERROR (key-not-pending)");
    assert!(std::fs::read(&table).unwrap() == before);

    // The CA signs the device's request; the device installs it.
    sign(dir, "renew.csr", RENEWED_SERIAL, "renewed.pem");
    let out = run(
        sim,
        dir,
        &[
            "install",
            "--table",
            "device.table",
            "--cert",
            "renewed.pem",
        ],
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        listing.contains(&format!("slot 0: archived #1 subject CN={CLIENT_CN}"))
            && listing.contains(&format!("serial {NEW_SERIAL:04x}")),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("slot 1: active #2 subject CN={CLIENT_CN}"))
            && listing.contains(&format!("serial {RENEWED_SERIAL:04x}")),
        "{listing}"
    );
    assert!(!listing.contains("pending"), "{listing}");
    // Installed once: there is no pending key left to install over.
    let out = run(
        sim,
        dir,
        &[
            "install",
            "--table",
            "device.table",
            "--cert",
            "renewed.pem",
        ],
    );
    refused(&out, "ERROR (no-pending)");

    // FreeRADIUS (checking client certificates against the test CA) takes the renewed
    // certificate from the table file; the archived predecessor is never offered.
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for tls in [ServerTls::V12, ServerTls::V13] {
        let server_dir = tempfile::tempdir().unwrap();
        let server = freeradius::start(server_dir.path(), &pki, &FreeRadiusOptions::new(tls))
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = server.addr().to_string();
        let out = run(
            sim,
            dir,
            &[
                "radius",
                "--json",
                "--radius",
                &addr,
                "--secret",
                &server.secret,
                "--ca",
                pki.ca.to_str().unwrap(),
                "--server-name",
                SERVER_NAME,
                "--identity",
                IDENTITY,
                "--table",
                "device.table",
            ],
        );
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
        assert_eq!(out.status.code(), Some(0), "{report:#}");
        assert_eq!(report["outcome"], "authenticated", "{report:#}");
        assert_eq!(report["slot"], 1, "{report:#}");
        let serial = report["client_certificate"]["serial"].as_str().unwrap();
        assert_eq!(
            u64::from_str_radix(serial, 16).unwrap(),
            RENEWED_SERIAL,
            "{report:#}"
        );
        let skipped = report["skipped_slots"].as_array().unwrap();
        assert!(
            skipped.iter().any(|s| s["slot"] == 0
                && s["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("archived"))),
            "{report:#}"
        );
        assert_eq!(report["msk_matches_mppe"], true, "{report:#}");
        // The success raised the table's time floor, and it was saved to the file.
        let (_, saved) = latchkey_sim::hal::table_file::load(&table).unwrap();
        assert!(saved.time_floor() >= started, "{}", saved.time_floor());
        println!(
            "{tls}: authenticated with the renewed certificate, serial {serial}, {} ({} RADIUS round trips); slot 0 (serial {NEW_SERIAL:x}) archived",
            report["tls_version"], report["radius_round_trips"]
        );
    }
}
