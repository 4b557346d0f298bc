//! `latchkey-sim fleet` against a real FreeRADIUS: 20 devices at once in the renewal wave (every
//! old certificate revoked by the CRL FreeRADIUS loads and archived in its device's table, 18
//! devices with a renewed active certificate, devices 10 and 20 with only the old one active).
//! Per device: a renewed device authenticates with its renewed certificate, never the archived
//! one; a device left with the revoked one fails with `rejected-certificate`, named, having sent
//! that certificate; nothing hangs; each device sent its own Calling-Station-Id (FreeRADIUS'
//! detail of each request, read from its log). Then the same fleet as `eapol_test` processes;
//! and a cold start (every device with its renewed certificate only) on TLS 1.2.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use latchkey_sim::cli::args::FleetArgs;
use latchkey_sim::cli::args::RadiusArgs;
use latchkey_sim::cli::config::TlsArg;
use latchkey_sim::fleet::pki::FleetPki;
use latchkey_sim::fleet::{self, FleetReport, Scenario};
use latchkey_test_support::apt;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions, ServerFiles};
use latchkey_test_support::server_process::{ServerProcess, ServerTls};

const DEVICES: usize = 20;

fn start(dir: &Path, pki: &FleetPki, tls: ServerTls) -> ServerProcess {
    let files = ServerFiles {
        cert: pki.server.cert.clone(),
        key: pki.server.key.clone(),
        ca_with_crl: pki.ca_with_crl.clone(),
    };
    freeradius::start_files(dir, &files, &FreeRadiusOptions::new(tls))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn args(pki_dir: &Path, server: &ServerProcess, compare: bool) -> FleetArgs {
    let mut radius = RadiusArgs::new(server.addr(), server.secret.clone());
    // Each device bounded well below the test's own patience.
    radius.overall_timeout = Some(20);
    FleetArgs {
        pki: pki_dir.to_owned(),
        devices: DEVICES,
        scenario: Scenario::RenewalWave,
        concurrency: 8,
        time_limit_s: 60,
        compare_eapol_test: compare,
        tls: TlsArg::Both,
        json: true,
        radius,
    }
}

/// The done-when rules, per device, from the JSON report.
fn check_renewal_wave(pki: &FleetPki, rep: &FleetReport, server: &ServerProcess) {
    let j = rep.to_json();
    latchkey_sim::cli::report_schema::check_fleet_json(&j).unwrap_or_else(|e| panic!("{e}\n{j:#}"));
    let explain = || {
        format!(
            "{}\n--- FreeRADIUS:\n{}",
            fleet::table(rep),
            server.log_tail()
        )
    };
    assert_eq!(rep.device_results.len(), DEVICES, "{}", explain());
    assert_eq!(rep.renewed, 18);
    let mut macs = BTreeSet::new();
    for r in &rep.device_results {
        let files = pki.device(r.device);
        assert_eq!(r.identity, files.identity);
        assert!(macs.insert(r.calling_station_id.clone()), "{}", explain());
        assert_ne!(r.outcome, "hang", "device {} hung\n{}", r.device, explain());
        if r.device % 10 != 0 {
            assert!(r.renewed);
            assert_eq!(
                r.outcome,
                "authenticated",
                "device {}\n{}",
                r.device,
                explain()
            );
            assert_eq!(r.error_kind, None);
            assert_eq!(
                r.serial_sent.as_deref(),
                Some(files.new.serial.as_str()),
                "device {} did not authenticate with its renewed certificate\n{}",
                r.device,
                explain()
            );
            assert!(!r.archived_sent);
        } else {
            assert!(!r.renewed);
            assert_eq!(r.outcome, "failed", "device {}\n{}", r.device, explain());
            assert_eq!(
                r.error_kind.as_deref(),
                Some("rejected-certificate"),
                "device {}\n{}",
                r.device,
                explain()
            );
            assert_eq!(r.serial_sent.as_deref(), Some(files.old.serial.as_str()));
            assert!(
                r.error.as_deref().unwrap_or("").contains("Access-Reject"),
                "{:?}",
                r.error
            );
        }
        assert!(r.as_expected, "device {}\n{}", r.device, explain());
        assert!(r.radius_round_trips >= 2, "device {}", r.device);
        assert!(r.latency_ms > 0.0);
    }
    let s = rep.latchkey.as_ref().expect("latchkey summary");
    assert_eq!(s.authenticated, 18);
    assert_eq!(s.failed.get("rejected-certificate"), Some(&2));
    assert_eq!(s.failed.len(), 1, "{:?}", s.failed);
    assert_eq!((s.hangs, s.not_started, s.as_expected), (0, 0, DEVICES));
    assert!(s.auth_per_s > 0.0 && s.latency_p50_ms <= s.latency_p99_ms);
    assert_eq!(rep.outcome, "passed", "{}", explain());
    // Named per device in the text report: both refused devices, with their serials.
    let text = fleet::table(rep);
    for n in [10, 20] {
        let f = pki.device(n);
        assert!(
            text.contains(&format!(
                "{} (02-00-00-00-00-{n:02X}): FAILED rejected-certificate, sent serial {}",
                f.identity, f.old.serial
            )),
            "{text}"
        );
    }
}

#[test]
fn renewal_wave_of_20_devices_against_freeradius_tls13_and_eapol_test_side_by_side() {
    apt::require(&["freeradius", "eapoltest"]);
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    let pki = FleetPki::generate(&pki_dir, DEVICES).unwrap();
    let server = start(tmp.path(), &pki, ServerTls::V13);

    let started = Instant::now();
    let rep = fleet::fleet(&args(&pki_dir, &server, true)).unwrap_or_else(|e| panic!("{e}"));
    assert!(started.elapsed() < Duration::from_secs(120));
    check_renewal_wave(&pki, &rep, &server);

    // Each device's own Calling-Station-Id reached the server: FreeRADIUS names it in its
    // "Login OK" / "Login incorrect" lines (auth_badpass/auth_goodpass are off, the client
    // port with `cli` is always there).
    let log = std::fs::read_to_string(&server.log).unwrap();
    for n in 1..=DEVICES {
        let mac = format!("02-00-00-00-00-{n:02X}");
        assert!(
            log.contains(&format!("cli {mac}")),
            "FreeRADIUS never saw {mac}:\n{}",
            server.log_tail()
        );
    }

    // eapol_test, same devices, same certificates (the active one of each table), same
    // concurrency: the renewed ones succeed, the others get an Access-Reject.
    let e = rep.eapol_test.as_ref().expect("eapol_test summary");
    assert_eq!(rep.eapol_test_results.len(), DEVICES);
    assert_eq!(e.authenticated, 18, "{}", fleet::table(&rep));
    assert_eq!(
        e.failed.get("access-reject"),
        Some(&2),
        "{}",
        fleet::table(&rep)
    );
    assert_eq!((e.hangs, e.as_expected), (0, DEVICES));
    let text = fleet::table(&rep);
    assert!(text.contains("| | latchkey | eapol_test |"), "{text}");
}

#[test]
fn renewal_wave_and_cold_start_of_20_devices_against_freeradius_tls12() {
    apt::require(&["freeradius"]);
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    let pki = FleetPki::generate(&pki_dir, DEVICES).unwrap();
    let server = start(tmp.path(), &pki, ServerTls::V12);
    let rep = fleet::fleet(&args(&pki_dir, &server, false)).unwrap_or_else(|e| panic!("{e}"));
    check_renewal_wave(&pki, &rep, &server);
    assert!(rep.eapol_test.is_none() && rep.eapol_test_results.is_empty());

    // The cold start on the same server: every device with its renewed certificate only.
    let mut a = args(&pki_dir, &server, false);
    a.scenario = Scenario::ColdStart;
    let cold = fleet::fleet(&a).unwrap_or_else(|e| panic!("{e}"));
    let j = cold.to_json();
    latchkey_sim::cli::report_schema::check_fleet_json(&j).unwrap_or_else(|e| panic!("{e}\n{j:#}"));
    assert_eq!(cold.outcome, "passed", "{}", fleet::table(&cold));
    assert_eq!(cold.renewed, DEVICES);
    for r in &cold.device_results {
        assert_eq!(r.outcome, "authenticated", "{}", fleet::table(&cold));
        assert_eq!(
            r.serial_sent.as_deref(),
            Some(pki.device(r.device).new.serial.as_str())
        );
    }
}

#[test]
fn a_fleet_against_a_server_that_does_not_answer_reports_no_reply_per_device_and_never_hangs() {
    // A UDP port nobody answers on (bound, silent): every device gives up after its retries.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    FleetPki::generate(&pki_dir, 3).unwrap();
    let mut radius = RadiusArgs::new(silent.local_addr().unwrap(), "s".into());
    radius.timeout_ms = 200;
    radius.retries = 1;
    radius.overall_timeout = Some(10);
    let a = FleetArgs {
        pki: pki_dir,
        devices: 3,
        scenario: Scenario::ColdStart,
        concurrency: 3,
        time_limit_s: 30,
        compare_eapol_test: false,
        tls: TlsArg::Both,
        json: true,
        radius,
    };
    let started = Instant::now();
    let rep = fleet::fleet(&a).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    for r in &rep.device_results {
        assert_eq!(r.outcome, "error", "{r:?}");
        assert_eq!(r.error_kind.as_deref(), Some("radius-no-reply"));
        assert_eq!(r.radius_retransmissions, 1);
        assert!(!r.as_expected);
    }
    assert_eq!(rep.outcome, "failed");
    assert_eq!(rep.error_kind.as_deref(), Some("unexpected-outcome"));
}
