//! Start a real RADIUS server (FreeRADIUS or hostapd) on loopback with a fresh file PKI, print
//! the `latchkey-sim radius` and `eapol_test` command lines that authenticate against it, and
//! stop it (by pid) when stdin closes or a line is entered. For trying things by hand.
//!
//! Run: `cargo run -p latchkey-tests --bin test-radius-server -- freeradius|hostapd [1.2|1.3]`

use std::io::BufRead;

use latchkey_test_support::apt;
use latchkey_test_support::eapol_test;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::hostapd::{self, HostapdOptions};
use latchkey_test_support::pki_files::{FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::ServerTls;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = args.first().map(String::as_str).unwrap_or("freeradius");
    let tls = match args.get(1).map(String::as_str) {
        Some("1.2") => ServerTls::V12,
        None | Some("1.3") => ServerTls::V13,
        Some(other) => {
            eprintln!("TLS version {other:?}: use 1.2 or 1.3");
            std::process::exit(2);
        }
    };
    let pkgs: &[&str] = match kind {
        "freeradius" => &["freeradius", "eapoltest"],
        "hostapd" => &["hostapd", "eapoltest"],
        other => {
            eprintln!("server {other:?}: use freeradius or hostapd");
            std::process::exit(2);
        }
    };
    if let Err(e) = apt::ensure_installed(pkgs) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let dir = match tempfile::Builder::new()
        .prefix("latchkey-radius-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot create a temporary directory: {e}");
            std::process::exit(1);
        }
    };
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let pki = FilePki::generate(&dir.path().join("pki"))?;
        let server = match kind {
            "freeradius" => freeradius::start(dir.path(), &pki, &FreeRadiusOptions::new(tls))?,
            _ => hostapd::start(dir.path(), &pki, &HostapdOptions::new(tls))?,
        };
        let conf = eapol_test::write_config(dir.path(), &pki, &pki.client_new)?;
        println!(
            "{kind} (pid {}) listens on {} with TLS {tls}, secret {:?}; files in {}",
            server.pid(),
            server.addr(),
            server.secret,
            dir.path().display()
        );
        println!("log: {}\n", server.log.display());
        println!(
            "latchkey-sim radius --radius {} --secret {} --ca {} --server-name {SERVER_NAME} \
             --identity {IDENTITY} --slot archived:{}:{} --slot active:{}:{}\n",
            server.addr(),
            server.secret,
            pki.ca.display(),
            pki.client_old.cert.display(),
            pki.client_old.key.display(),
            pki.client_new.cert.display(),
            pki.client_new.key.display(),
        );
        println!("{}\n", eapol_test::command(&conf, &server).join(" "));
        println!("press Enter (or close stdin) to stop it");
        let _ = std::io::stdin().lock().lines().next();
        drop(server);
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
