//! The fleet run against a real FreeRADIUS: writes a fleet PKI with `latchkey-sim fleet-pki`,
//! starts FreeRADIUS on loopback with its server certificate and its CA file with the CRL
//! (revoking every device's old certificate), runs `latchkey-sim fleet` against it with
//! `--compare-eapol-test` (unless `--no-eapol-test`), prints the table, and stops the server by
//! pid. `--sim` may be a wrapper (e.g. to measure the fleet process's peak memory).
//!
//! Run: `cargo build --release -p latchkey-sim && cargo run --release -p latchkey-tests --bin
//! fleet-bench -- [--sim PATH] [--tls 1.2|1.3] [--no-eapol-test] [fleet options, e.g. --devices 200
//! --scenario renewal-wave --concurrency 16 --json]`

use std::path::PathBuf;
use std::process::Command;

use latchkey_test_support::apt;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions, ServerFiles};
use latchkey_test_support::server_process::ServerTls;

fn main() {
    let mut sim = PathBuf::from("target/release/latchkey-sim");
    let mut tls = ServerTls::V13;
    let mut devices = "200".to_string();
    let mut compare = true;
    let mut rest = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sim" => sim = args.next().map(PathBuf::from).unwrap_or(sim),
            "--tls" => {
                tls = match args.next().as_deref() {
                    Some("1.2") => ServerTls::V12,
                    Some("1.3") => ServerTls::V13,
                    other => {
                        eprintln!("--tls {other:?}: use 1.2 or 1.3");
                        std::process::exit(2);
                    }
                }
            }
            "--devices" => devices = args.next().unwrap_or(devices),
            "--no-eapol-test" => compare = false,
            _ => rest.push(a),
        }
    }
    if !sim.exists() {
        eprintln!(
            "{} not found: run `cargo build --release -p latchkey-sim` first (or give --sim)",
            sim.display()
        );
        std::process::exit(2);
    }
    if let Err(e) = apt::ensure_installed(&["freeradius", "eapoltest"]) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let dir = match tempfile::Builder::new().prefix("latchkey-fleet-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot create a temporary directory: {e}");
            std::process::exit(1);
        }
    };
    let pki = dir.path().join("pki");
    let made = Command::new(&sim)
        .args(["fleet-pki", "--devices", &devices, "--dir"])
        .arg(&pki)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("latchkey-sim fleet-pki failed");
        std::process::exit(1);
    }
    let files = ServerFiles {
        cert: pki.join("server.pem"),
        key: pki.join("server.key"),
        ca_with_crl: pki.join("ca-crl.pem"),
    };
    let server = match freeradius::start_files(dir.path(), &files, &FreeRadiusOptions::new(tls)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("FreeRADIUS: {e}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "FreeRADIUS (pid {}) on {} with TLS {tls}; {} devices; files in {}",
        server.pid(),
        server.addr(),
        devices,
        dir.path().display()
    );
    let status = Command::new(&sim)
        .arg("fleet")
        .arg("--pki")
        .arg(&pki)
        .args(["--devices", &devices])
        .args(["--radius", &server.addr().to_string()])
        .args(["--secret", &server.secret])
        .args(compare.then_some("--compare-eapol-test"))
        .args(&rest)
        .status();
    drop(server);
    match status {
        Ok(s) => std::process::exit(s.code().unwrap_or(1)),
        Err(e) => {
            eprintln!("cannot run {}: {e}", sim.display());
            std::process::exit(1);
        }
    }
}
