//! `latchkey-sim fleet` and `fleet-pki` as commands. Where nothing can run (a missing PKI,
//! per-device flags given globally, out-of-range counts): exit status 2, one line on stderr with
//! its kind and, with `--json`, one `fleet` report that `check_fleet_json` accepts. Against
//! FreeRADIUS: a renewal wave passes (exit 0, the table), and devices that do not trust the
//! server fail the run (exit 1, one line). (The per-device rules are checked in
//! tests/tests/fleet.rs.)

use std::process::Output;

use latchkey_sim::cli::report_schema::check_fleet_json;
use latchkey_sim::fleet::pki::FleetPki;
use latchkey_test_support::apt;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions, ServerFiles};
use latchkey_test_support::server_process::ServerTls;

fn sim(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .args(args)
        .output()
        .expect("run latchkey-sim")
}

fn json_error(args: &[&str], kind: &str) -> serde_json::Value {
    let out = sim(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let j: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{args:?}: not one JSON object ({e}): {stdout}"));
    check_fleet_json(&j).unwrap_or_else(|e| panic!("{args:?}: {e}\n{j:#}"));
    assert_eq!(j["outcome"], "error", "{j:#}");
    assert_eq!(j["error_kind"], kind, "{j:#}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("ERROR ({kind})")), "{err}");
    j
}

#[test]
fn fleet_without_a_pki_is_one_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("none");
    let j = json_error(
        &[
            "fleet",
            "--pki",
            dir.to_str().unwrap(),
            "--secret",
            "s",
            "--json",
        ],
        "bad-pki",
    );
    assert!(j["error"].as_str().unwrap().contains("fleet.json"), "{j}");
}

#[test]
fn fleet_refuses_a_global_calling_station_id_and_counts_out_of_range() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let out = sim(&[
        "fleet-pki",
        "--devices",
        "3",
        "--dir",
        pki.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("check_crl = yes") && text.contains("ca-crl.pem"),
        "{text}"
    );
    let p = pki.to_str().unwrap();
    let j = json_error(
        &[
            "fleet",
            "--pki",
            p,
            "-s",
            "x",
            "-M",
            "02:00:00:00:00:09",
            "--json",
        ],
        "bad-arguments",
    );
    assert!(j["error"].as_str().unwrap().contains("-M"), "{j}");
    json_error(
        &["fleet", "--pki", p, "-s", "x", "--devices", "4", "--json"],
        "bad-arguments",
    );
    json_error(
        &[
            "fleet",
            "--pki",
            p,
            "-s",
            "x",
            "--concurrency",
            "0",
            "--json",
        ],
        "bad-arguments",
    );
    // clap's own refusal, as the same report.
    json_error(
        &[
            "fleet",
            "--pki",
            p,
            "-s",
            "x",
            "--scenario",
            "nope",
            "--json",
        ],
        "bad-arguments",
    );
    let out = sim(&["fleet-pki", "--devices", "0", "--dir", p]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("ERROR (bad-arguments)"), "{err}");
}

#[test]
fn fleet_command_against_freeradius_passes_and_fails_with_its_exit_status() {
    apt::require(&["freeradius"]);
    let tmp = tempfile::tempdir().unwrap();
    let pki = FleetPki::generate(&tmp.path().join("pki"), 10).unwrap();
    let files = ServerFiles {
        cert: pki.server.cert.clone(),
        key: pki.server.key.clone(),
        ca_with_crl: pki.ca_with_crl.clone(),
    };
    let server =
        freeradius::start_files(tmp.path(), &files, &FreeRadiusOptions::new(ServerTls::V13))
            .unwrap_or_else(|e| panic!("{e}"));
    let addr = server.addr().to_string();
    let p = pki.dir.to_str().unwrap();
    let base = [
        "fleet",
        "--pki",
        p,
        "--devices",
        "10",
        "-a",
        &addr,
        "-s",
        &server.secret,
    ];

    let out = sim(&base);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", server.log_tail());
    assert!(text.contains("| authenticated | 9 |"), "{text}");
    assert!(
        text.contains("| failed: rejected-certificate | 1 |"),
        "{text}"
    );
    assert!(
        text.contains("device-0010@latchkey.test (02-00-00-00-00-0A): FAILED rejected-certificate"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("none hung"), "{text}");

    // Devices trusting another CA of the same name refuse the server (its certificate's
    // signature does not verify under their anchor): nobody ends as the scenario says.
    let other = FleetPki::generate(&tmp.path().join("other"), 10).unwrap();
    let mut args = base.to_vec();
    args[2] = other.dir.to_str().unwrap();
    args.push("--json");
    let out = sim(&args);
    assert_eq!(out.status.code(), Some(1));
    let j: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("one JSON object");
    check_fleet_json(&j).unwrap_or_else(|e| panic!("{e}\n{j:#}"));
    assert_eq!(j["outcome"], "failed");
    assert_eq!(j["error_kind"], "unexpected-outcome");
    assert_eq!(
        j["latchkey"]["failed"]["server-certificate-invalid"], 10,
        "{j:#}"
    );
    assert!(j["device_results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["serial_sent"].is_null() && !d["as_expected"].as_bool().unwrap()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("FAILED (unexpected-outcome)"), "{err}");
}
