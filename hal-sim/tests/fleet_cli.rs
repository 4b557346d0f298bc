//! `latchkey-sim fleet` and `fleet-pki` as commands, where nothing can run: a missing PKI,
//! per-device flags given globally, out-of-range counts. Each is exit status 2, one line on
//! stderr with its kind and, with `--json`, one `fleet` report that `check_fleet_json` accepts.
//! (The runs against FreeRADIUS are in tests/tests/fleet.rs.)

use std::process::Output;

use latchkey_sim::report_schema::check_fleet_json;

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
