//! `latchkey-sim radius -c FILE` and wpa_supplicant's `eapol_test -c FILE` read the SAME
//! network block and authenticate against the same FreeRADIUS (TLS 1.3, with a CRL): both
//! succeed with the renewed certificate (each MSK equal to the MS-MPPE keys), both are refused
//! with the revoked one. Then Latchkey's own extension, `latchkey_archived_cert`/`_key`, in
//! the same block: the renewed certificate is chosen over the archived one.

use std::path::Path;
use std::process::{Command, Output};

use latchkey_test_support::apt;
use latchkey_test_support::eapol_test;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::pki_files::{CertFiles, FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::{ServerProcess, ServerTls};

/// The network block an admin would hand to eapol_test (and wpa_supplicant), with a
/// trailing comment and a key (`priority`) that Latchkey does not use.
fn block(pki: &FilePki, client: &CertFiles, extra: &str) -> String {
    format!(
        "# EAP-TLS for the device\n\
         network={{\n\
         \tkey_mgmt=WPA-EAP\n\
         \teap=TLS\n\
         \tidentity=\"{IDENTITY}\"\n\
         \tanonymous_identity=\"@latchkey.test\"   # only the realm goes out in the clear\n\
         \tca_cert=\"{ca}\"\n\
         \tclient_cert=\"{cert}\"\n\
         \tprivate_key=\"{key}\"\n\
         \tdomain_match=\"{SERVER_NAME}\"\n\
         \tphase1=\"tls_disable_tlsv1_0=1 tls_disable_tlsv1_1=1 tls_disable_tlsv1_3=0\"\n\
         \tfragment_size=1398\n\
         \tpriority=1\n\
         {extra}\
         }}\n",
        ca = pki.ca.display(),
        cert = client.cert.display(),
        key = client.key.display(),
    )
}

fn latchkey(conf: &Path, server: &ServerProcess) -> (Output, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .args(["radius", "--json", "-c"])
        .arg(conf)
        .args(["-a", "127.0.0.1", "-p", &server.port.to_string()])
        .args(["-s", &server.secret])
        .output()
        .expect("run latchkey-sim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let j = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "not one JSON object ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, j)
}

fn reference(conf: &Path, server: &ServerProcess) -> eapol_test::EapolTestResult {
    let args = eapol_test::command(conf, server);
    let out = Command::new(&args[0])
        .args(&args[1..])
        .output()
        .expect("run eapol_test");
    eapol_test::parse(
        &(String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn same_network_block_same_verdict_as_eapol_test_against_freeradius() {
    apt::require(apt::SERVER_PACKAGES);
    let dir = tempfile::tempdir().unwrap();
    let pki = FilePki::generate(&dir.path().join("pki")).unwrap();
    let server = freeradius::start(dir.path(), &pki, &FreeRadiusOptions::new(ServerTls::V13))
        .unwrap_or_else(|e| panic!("{e}"));
    let conf = dir.path().join("wpa.conf");

    // The renewed certificate: both authenticate.
    std::fs::write(&conf, block(&pki, &pki.client_new, "")).unwrap();
    let ours = latchkey(&conf, &server);
    let theirs = reference(&conf, &server);
    let (out, j) = &ours;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(theirs.success && theirs.mppe_ok, "{}", theirs.output);
    assert_eq!(out.status.code(), Some(0), "{j:#}\n{stderr}");
    assert_eq!(j["outcome"], "authenticated", "{j:#}");
    assert_eq!(j["msk_matches_mppe"], true, "{j:#}");
    assert_eq!(j["tls_version"], "1.3", "{j:#}");
    assert_eq!(j["identity_sent"], "@latchkey.test", "{j:#}");
    assert_eq!(j["slot_file"], pki.client_new.cert.display().to_string());
    // The unused key is named on stderr, one line, with its line number.
    assert_eq!(
        stderr.trim(),
        format!(
            "warning: {}: line 13: unknown key priority is ignored",
            conf.display()
        ),
    );

    // The revoked certificate: FreeRADIUS refuses both.
    std::fs::write(&conf, block(&pki, &pki.client_old, "")).unwrap();
    let (out, j) = latchkey(&conf, &server);
    let theirs = reference(&conf, &server);
    assert!(!theirs.success, "{}", theirs.output);
    assert!(
        theirs.output.lines().any(|l| l.trim() == "FAILURE"),
        "{}",
        theirs.output
    );
    assert_eq!(out.status.code(), Some(1), "{j:#}");
    assert_eq!(j["outcome"], "failed", "{j:#}");
    assert_eq!(j["error_kind"], "rejected-certificate", "{j:#}");

    // A command-line flag overrides the file: the same (revoked) file with the renewed
    // certificate given as --slot authenticates.
    let slot = format!(
        "active:{}:{}",
        pki.client_new.cert.display(),
        pki.client_new.key.display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .args(["radius", "--json", "-c"])
        .arg(&conf)
        .args(["-a", "127.0.0.1", "-p", &server.port.to_string()])
        .args(["-s", &server.secret, "--slot", &slot])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["outcome"], "authenticated", "{j:#}");

    // Latchkey's extension (eapol_test does not know it): the old certificate archived,
    // the renewed one active; the renewed one is chosen (slot 1, enrollment order).
    let archived = format!(
        "\tlatchkey_archived_cert=\"{}\"\n\tlatchkey_archived_key=\"{}\"\n",
        pki.client_old.cert.display(),
        pki.client_old.key.display()
    );
    std::fs::write(&conf, block(&pki, &pki.client_new, &archived)).unwrap();
    let (out, j) = latchkey(&conf, &server);
    assert_eq!(out.status.code(), Some(0), "{j:#}");
    assert_eq!(j["slot"], 1, "{j:#}");
    assert_eq!(j["slot_file"], pki.client_new.cert.display().to_string());
}

/// An unusable file is a command-line error: exit status 2, one line on stderr naming the
/// file and line, and under `--json` the one report with `bad-arguments`.
#[test]
fn unusable_file_is_a_bad_arguments_error() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "network={\n\teap=PEAP\n}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .args(["radius", "--json", "-c"])
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    latchkey_sim::cli::report_schema::check_json(&j).unwrap_or_else(|e| panic!("{e}\n{j:#}"));
    assert_eq!(j["error_kind"], "bad-arguments", "{j:#}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{}: line 2: eap=PEAP", conf.display())),
        "{err}"
    );
}
