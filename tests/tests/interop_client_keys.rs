//! Enterprise client keys against FreeRADIUS 3.2 and hostapd 2.10 (TLS 1.2 and 1.3, on
//! loopback): an RSA-2048 client certificate with its key as PKCS#1 PEM and as PKCS#8 PEM, and
//! a P-384 one with its key as SEC1 PEM, issued by the test CA with openssl as an enterprise CA
//! would. Each must authenticate with the MSK equal to the MS-MPPE keys the server sends, the
//! server's log naming the certificate's serial.

use std::path::{Path, PathBuf};
use std::process::Command;

use latchkey_sim::cli::args::RadiusArgs;
use latchkey_sim::cli::config::{ClientArgs, SlotSpec, SlotStateArg, TlsArg};
use latchkey_test_support::apt;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::hostapd::{self, HostapdOptions};
use latchkey_test_support::pki_files::{CertFiles, FilePki, CLIENT_CN, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::ServerTls;

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// Issue a clientAuth certificate for `key` (PEM) from the test CA; returns its path.
fn issue(pki: &FilePki, key: &Path, name: &str, serial: u32) -> PathBuf {
    let dir = &pki.dir;
    let csr = dir.join(format!("{name}.csr"));
    let cert = dir.join(format!("{name}.pem"));
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let subj = format!("/O=Latchkey Test PKI/CN={CLIENT_CN}");
    openssl(&[
        "req",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-subj",
        &subj,
        "-out",
        csr.to_str().unwrap(),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-CA",
        pki.ca.to_str().unwrap(),
        "-CAkey",
        pki.dir.join("ca.key").to_str().unwrap(),
        "-set_serial",
        &serial.to_string(),
        "-days",
        "30",
        "-sha256",
        "-extfile",
        ext.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    cert
}

fn client(pki: &FilePki, cert: PathBuf, key: PathBuf) -> ClientArgs {
    ClientArgs {
        ca: vec![pki.ca.clone()],
        server_name: vec![SERVER_NAME.into()],
        domain_suffix: vec![],
        identity: IDENTITY.into(),
        anonymous_identity: false,
        pins: vec![],
        slots: vec![SlotSpec {
            state: SlotStateArg::Active,
            cert,
            key,
        }],
        table: None,
        key_pass: None,
        chain: vec![],
        tls: TlsArg::Both,
        fragment_size: 1398,
        auth_period_ms: 30_000,
    }
}

#[derive(Clone, Copy)]
enum Server {
    FreeRadius,
    Hostapd,
}

fn against(server: Server, tls: ServerTls) {
    apt::require(apt::SERVER_PACKAGES);
    apt::require(&["openssl"]);
    let tmp = tempfile::tempdir().unwrap();
    let pki = FilePki::generate(&tmp.path().join("pki")).unwrap();
    let proc = match server {
        Server::FreeRadius => freeradius::start(tmp.path(), &pki, &FreeRadiusOptions::new(tls)),
        Server::Hostapd => hostapd::start(tmp.path(), &pki, &HostapdOptions::new(tls)),
    }
    .unwrap_or_else(|e| panic!("{e}"));
    let radius = RadiusArgs::new(proc.addr(), proc.secret.clone());

    let rsa8 = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/tests/data/rsa2048-key.pkcs8.pem"
    ))
    .to_owned();
    let rsa1 = pki.dir.join("rsa.pkcs1.key");
    openssl(&[
        "rsa",
        "-traditional",
        "-in",
        rsa8.to_str().unwrap(),
        "-out",
        rsa1.to_str().unwrap(),
    ]);
    let p384 = pki.dir.join("p384.key");
    openssl(&[
        "ecparam",
        "-name",
        "secp384r1",
        "-genkey",
        "-noout",
        "-out",
        p384.to_str().unwrap(),
    ]);
    let rsa_cert = issue(&pki, &rsa8, "client-rsa", 0x2048);
    let p384_cert = issue(&pki, &p384, "client-p384", 0x384);

    let want = tls.to_string();
    for (what, cert, key) in [
        ("RSA-2048, PKCS#8", &rsa_cert, &rsa8),
        ("RSA-2048, PKCS#1", &rsa_cert, &rsa1),
        ("P-384, SEC1", &p384_cert, &p384),
    ] {
        let mut log = Vec::new();
        let mark = proc.log_mark();
        let r = latchkey_sim::cli::report::run_radius(
            &radius,
            &client(&pki, cert.clone(), key.clone()),
            &mut |l| log.push(l),
        );
        let explain = || {
            format!(
                "{what}:\n{}\n{}\n--- log:\n{}",
                log.join("\n"),
                r.summary(),
                proc.log_tail()
            )
        };
        assert!(r.ok(), "{}", explain());
        assert_eq!(
            r.tls_version.as_deref(),
            Some(want.as_str()),
            "{}",
            explain()
        );
        assert_eq!(r.msk_matches_mppe, Some(true), "{}", explain());
        assert_eq!(
            r.slot_file.as_deref(),
            Some(cert.display().to_string().as_str())
        );
        let files = CertFiles {
            cert: cert.clone(),
            key: key.clone(),
            der: pem::parse(std::fs::read(cert).unwrap())
                .unwrap()
                .into_contents(),
        };
        assert_eq!(
            proc.client_serials_since(mark),
            [files.serial_hex()],
            "{}",
            explain()
        );
    }
}

#[test]
fn rsa_and_p384_client_keys_against_freeradius_tls12() {
    against(Server::FreeRadius, ServerTls::V12);
}

#[test]
fn rsa_and_p384_client_keys_against_freeradius_tls13() {
    against(Server::FreeRadius, ServerTls::V13);
}

#[test]
fn rsa_and_p384_client_keys_against_hostapd_tls12() {
    against(Server::Hostapd, ServerTls::V12);
}

#[test]
fn rsa_and_p384_client_keys_against_hostapd_tls13() {
    against(Server::Hostapd, ServerTls::V13);
}
