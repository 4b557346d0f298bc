//! `latchkey-sim radius` given credential files as enterprises hand them out, each bad case
//! from the outside: exactly one line on stderr naming the problem and its fix, a non-zero exit,
//! and nothing sent (the configuration fails before any RADIUS request; the server address
//! given is never contacted). The loading itself is tested in `config.rs`.

use std::path::Path;
use std::process::{Command, Output};

use latchkey_test_support::pki_files::{FilePki, IDENTITY, SERVER_NAME};

fn sim(pki: &FilePki, slots: &[String], extra: &[&str]) -> Output {
    let ca = pki.ca.display().to_string();
    let mut args: Vec<String> = [
        "radius",
        "--radius",
        // Never contacted: every case below fails while reading the files.
        "127.0.0.1:9",
        "--secret",
        "s",
        "--ca",
        &ca,
        "--server-name",
        SERVER_NAME,
        "--identity",
        IDENTITY,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for s in slots {
        args.extend(["--slot".to_string(), s.clone()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .args(&args)
        .output()
        .unwrap()
}

/// Exactly one line on stderr with the kind and `needle`, a failing exit status, no stdout.
fn one_line(o: &Output, kind: &str, needle: &str) {
    assert!(!o.status.success(), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(&format!("({kind})")), "{err}");
    assert!(err.contains(needle), "{err}");
}

fn openssl(args: &[&str]) {
    let o = Command::new("openssl").args(args).output().unwrap();
    assert!(o.status.success(), "openssl {args:?}: {o:?}");
}

fn pki() -> (tempfile::TempDir, FilePki) {
    let tmp = tempfile::tempdir().unwrap();
    let pki = FilePki::generate(tmp.path()).unwrap();
    (tmp, pki)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn slot(state: &str, cert: &Path, key: &Path) -> String {
    format!("{state}:{}:{}", cert.display(), key.display())
}

#[test]
fn a_fifth_slot_is_refused_not_evicting_one() {
    let (_t, pki) = pki();
    let old = slot("archived", &pki.client_old.cert, &pki.client_old.key);
    let new = slot("active", &pki.client_new.cert, &pki.client_new.key);
    let slots = [old.clone(), old.clone(), old.clone(), old, new];
    let o = sim(&pki, &slots, &[]);
    one_line(&o, "too-many-slots", "the table holds 4: give at most 4");
}

#[test]
fn pkcs12_wrong_or_missing_password() {
    let (t, pki) = pki();
    let pfx = t.path().join("device.pfx");
    openssl(&[
        "pkcs12",
        "-export",
        "-in",
        &s(&pki.client_new.cert),
        "-inkey",
        &s(&pki.client_new.key),
        "-passout",
        "pass:right",
        "-out",
        &s(&pfx),
    ]);
    let spec = [format!("active:{}", pfx.display())];
    let o = sim(&pki, &spec, &["--key-pass", "pass:wrong"]);
    one_line(&o, "wrong-password", "wrong password");
    let o = sim(&pki, &spec, &[]);
    one_line(&o, "password-required", "give its password with --key-pass");
}

#[test]
fn encrypted_key_without_password() {
    let (t, pki) = pki();
    let enc = t.path().join("device.enc.key");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-passout",
        "pass:k",
        "-in",
        &s(&pki.client_new.key),
        "-out",
        &s(&enc),
    ]);
    let o = sim(&pki, &[slot("active", &pki.client_new.cert, &enc)], &[]);
    one_line(&o, "password-required", &s(&enc));
}

#[test]
fn chain_that_does_not_link() {
    let (t, pki) = pki();
    // The device certificate followed by the server's: not its issuer.
    let bad = t.path().join("bad-chain.pem");
    let text = std::fs::read_to_string(&pki.client_new.cert).unwrap()
        + &std::fs::read_to_string(&pki.server.cert).unwrap();
    std::fs::write(&bad, text).unwrap();
    let o = sim(&pki, &[slot("active", &bad, &pki.client_new.key)], &[]);
    one_line(
        &o,
        "slot-refused",
        "intermediate 1 is not the issuer of the certificate before it",
    );
}

#[test]
fn der_given_where_pem_is_expected_says_what_it_is() {
    let (t, pki) = pki();
    let key_der = t.path().join("device.key.der");
    openssl(&[
        "pkey",
        "-outform",
        "DER",
        "-in",
        &s(&pki.client_new.key),
        "-out",
        &s(&key_der),
    ]);
    // The DER key given as the certificate.
    let o = sim(&pki, &[slot("active", &key_der, &pki.client_new.key)], &[]);
    one_line(
        &o,
        "wrong-format",
        "file is a DER private key, not a certificate",
    );
}
