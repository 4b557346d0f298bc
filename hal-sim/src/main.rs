//! `latchkey-sim`: run Latchkey's supplicant core against a simulated authenticator with a
//! built-in test PKI, and print what happens step by step.

use std::process::ExitCode;

use latchkey_core::eap_tls::keys::fingerprint;
use latchkey_core::supplicant::{Event, PAE_GROUP_ADDR};
use latchkey_core::tls::VersionPolicy;
use latchkey_core::wpa::Akm;
use latchkey_sim::auth::tls::server_config_revoking;
use latchkey_sim::cli::args::RadiusArgs;
use latchkey_sim::cli::args::{DemoArgs, EnrollArgs, InstallArgs, TableArgs, Tls};
use latchkey_sim::cli::capture::{CaptureArgs, Captures};
use latchkey_sim::cli::command::{parse, Parsed};
use latchkey_sim::cli::config::ClientArgs;
use latchkey_sim::drive::sim::Scenario;
use latchkey_sim::drive::{describe, sim, Direction};
use latchkey_sim::hal::memory;
use latchkey_sim::pki::TestPki;

fn main() -> ExitCode {
    env_logger::init();
    match parse() {
        Parsed::Demo(a) => demo(&a),
        Parsed::Renewal => renewal(),
        Parsed::Radius(a) => radius_cmd(&a.radius, &a.client, &a.capture, a.json),
        Parsed::Rogue(a) => rogue(a.scenario.as_deref(), a.list, a.frames),
        Parsed::Soak(a) => latchkey_sim::scenarios::soak::main(&a),
        Parsed::Fleet(a) => latchkey_sim::fleet::main(&a),
        Parsed::FleetPki(a) => latchkey_sim::fleet::pki_main(&a),
        Parsed::Enroll(a) => enroll(&a),
        Parsed::Install(a) => install(&a),
        Parsed::Table(a) => show_table(&a),
        #[cfg(target_os = "linux")]
        Parsed::Connect(a) => connect(&a),
    }
}

/// A table-file command's error: one line with its kind, exit status 2 (nothing was changed).
fn table_error(e: &latchkey_sim::hal::table_file::TableError) -> ExitCode {
    eprintln!("ERROR ({}): {e}", e.kind());
    ExitCode::from(2)
}

fn enroll(a: &EnrollArgs) -> ExitCode {
    use latchkey_sim::hal::table_file;
    let initial = a.cert.as_deref().zip(a.key.as_deref());
    let done = match table_file::enroll(&a.table, initial, a.slot) {
        Ok(d) => d,
        Err(e) => return table_error(&e),
    };
    if done.new_key {
        eprintln!(
            "new P-256 key in {} (pending), renewing {}; saved to {}",
            done.pending,
            done.renews,
            a.table.display()
        );
    } else {
        eprintln!(
            "a renewal is already pending in {} (renewing {}): its request again",
            done.pending, done.renews
        );
    }
    match &a.out {
        Some(out) => {
            if let Err(e) = std::fs::write(out, &done.request_pem) {
                eprintln!(
                    "ERROR (unwritable-file): cannot write {}: {e} (the pending key is saved: \
                     run enroll again to write its request)",
                    out.display()
                );
                return ExitCode::from(2);
            }
            eprintln!("certificate request written to {}", out.display());
        }
        None => print!("{}", done.request_pem),
    }
    ExitCode::SUCCESS
}

fn install(a: &InstallArgs) -> ExitCode {
    use latchkey_sim::hal::table_file;
    match table_file::install(&a.table, &a.cert, &a.chain) {
        Ok(i) => {
            println!(
                "installed {} in {i}: active; the certificate it renews is archived; saved to {}",
                a.cert.display(),
                a.table.display()
            );
            show_table(&TableArgs {
                table: a.table.clone(),
            })
        }
        Err(e) => table_error(&e),
    }
}

fn show_table(a: &TableArgs) -> ExitCode {
    match latchkey_sim::hal::table_file::load(&a.table) {
        Ok((_, t)) => {
            for line in latchkey_sim::hal::table_file::listing(&t) {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => table_error(&e),
    }
}

fn rogue(scenario: Option<&str>, list: bool, frames: bool) -> ExitCode {
    use latchkey_sim::rogue::Rogue;
    if list {
        for r in Rogue::ALL {
            println!(
                "{:<22} {} -> refused [{}]",
                r.name(),
                r.about(),
                r.expected_kind()
            );
        }
        return ExitCode::SUCCESS;
    }
    let selection: Vec<Rogue> = match scenario {
        Some("all") => Rogue::ALL.to_vec(),
        Some(name) => match Rogue::from_name(name) {
            Some(r) => vec![r],
            None => {
                eprintln!(
                    "error: no rogue scenario {name:?}; `latchkey-sim rogue --list` names them"
                );
                return ExitCode::from(2);
            }
        },
        None => return ExitCode::from(2),
    };
    match latchkey_sim::rogue::report(&mut std::io::stdout(), &selection, frames) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn renewal() -> ExitCode {
    match latchkey_sim::scenarios::renewal(&mut std::io::stdout()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo(args: &DemoArgs) -> ExitCode {
    let (tls, fragment_size, server_fragment_size, quiet) = (
        args.tls,
        args.fragment_size,
        args.server_fragment_size,
        args.quiet,
    );
    let pki = match TestPki::generate() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "test PKI: root CA -> intermediate CA -> server {} and client device-0001 (all P-256)",
        latchkey_sim::pki::SERVER_NAME
    );
    let runs: &[VersionPolicy] = match tls {
        Tls::V12 => &[VersionPolicy::Tls12Only],
        Tls::V13 => &[VersionPolicy::Tls13Only],
        Tls::Both => &[VersionPolicy::Tls13Only, VersionPolicy::Tls12Only],
    };
    let captures = match args.capture.open() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ERROR (unwritable-file): {e}");
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    for &v in runs {
        let mut scenario = Scenario {
            client_versions: VersionPolicy::Both,
            server_versions: v,
            ..Scenario::default()
        };
        scenario.config.method.fragment_size = fragment_size;
        scenario.server.fragment_size = server_fragment_size;
        println!();
        println!("=== authentication, server offers {v:?}, supplicant fragment size {fragment_size}, server fragment size {server_fragment_size}");
        let outcome = match demo_run(&pki, &scenario, &captures) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        if !quiet {
            for s in &outcome.steps {
                let arrow = match s.dir {
                    Direction::Up => "supplicant -> authenticator",
                    Direction::Down => "authenticator -> supplicant",
                };
                println!("  {arrow}: {}", describe(&s.frame));
            }
        }
        match &outcome.event {
            Some(Event::Authenticated(a)) => {
                println!(
                    "  result: AUTHENTICATED with {} {}, {} EAP round trips",
                    a.version,
                    a.suite.map(|s| s.to_string()).unwrap_or_default(),
                    a.round_trips
                );
                println!("  supplicant MSK fingerprint: {}", a.keys.msk.fingerprint());
                match &outcome.server_keys {
                    Some(k) => {
                        println!("  server     MSK fingerprint: {}", fingerprint(&k.msk));
                        let same = a.keys.msk.ct_eq(&k.msk)
                            && a.keys.emsk.ct_eq(&k.emsk)
                            && a.keys.session_id.0[..] == k.session_id[..];
                        println!(
                            "  MSK, EMSK and Session-Id equal on both sides: {}",
                            if same { "yes" } else { "NO" }
                        );
                        ok &= same;
                    }
                    None => {
                        println!("  server derived no keys");
                        ok = false;
                    }
                }
            }
            Some(Event::Failed(r)) => {
                println!("  result: FAILED: {r}");
                ok = false;
            }
            Some(_) | None => {
                println!("  result: the conversation stalled");
                ok = false;
            }
        }
    }
    let mut scenario = Scenario::default();
    scenario.config.method.fragment_size = fragment_size;
    scenario.server.fragment_size = server_fragment_size;
    ok &= wpa_demo(&pki, &scenario, args.akm.akm(), quiet);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One demo authentication, with the key log when asked for; its frames then go to the pcap
/// capture in order, between the simulated station and authenticator MAC addresses.
fn demo_run(
    pki: &TestPki,
    scenario: &Scenario,
    captures: &Captures,
) -> Result<sim::Outcome, String> {
    let builder = memory::client_builder(
        pki,
        &scenario.config,
        scenario.client_versions,
        memory::test_table(pki)?,
    )?;
    let sup = captures
        .builder(builder)
        .build()
        .map_err(|e| e.to_string())?;
    let server = server_config_revoking(pki, scenario.server_versions, &scenario.revoked_serials)?;
    let outcome = sim::run_with(sup, &server, scenario)?;
    if let Some(c) = &captures.pcap {
        for s in &outcome.steps {
            match s.dir {
                // EAPOL-Start goes to the PAE group address (no association in the demo).
                Direction::Up if s.frame.get(1) == Some(&1) => {
                    c.eapol(memory::STA_ADDR, PAE_GROUP_ADDR, &s.frame)
                }
                Direction::Up => c.eapol(memory::STA_ADDR, memory::AP_ADDR, &s.frame),
                Direction::Down => c.eapol(memory::AP_ADDR, memory::STA_ADDR, &s.frame),
            }
        }
    }
    Ok(outcome)
}

/// The demo's last part: an RSN association, EAP-TLS, then the 4-way handshake and a group
/// rekey against the simulated access point's own authenticator.
fn wpa_demo(pki: &TestPki, scenario: &Scenario, akm: Akm, quiet: bool) -> bool {
    println!();
    println!("=== WPA key handshakes, {akm}: EAP-TLS, then the 4-way handshake and a group rekey with the simulated access point");
    let run = match latchkey_sim::auth::ap::run(pki, scenario, akm) {
        Ok(r) => r,
        Err(e) => {
            println!("  result: FAILED: {e}");
            return false;
        }
    };
    match &run.auth.event {
        Some(Event::Authenticated(a)) => println!(
            "  EAP-TLS: AUTHENTICATED with {}, {} EAP round trips; the access point takes the PMK from the server's MSK",
            a.version, a.round_trips
        ),
        other => {
            println!("  EAP-TLS did not succeed: {other:?}");
            return false;
        }
    }
    if !quiet {
        for l in &run.lines {
            println!("  {l}");
        }
    }
    let show = |what: &str,
                (sta, ap): &(
        latchkey_sim::auth::ap::KeyPrints,
        latchkey_sim::auth::ap::KeyPrints,
    )| {
        println!("  {what}:");
        for (side, k) in [("supplicant    ", sta), ("access point  ", ap)] {
            let mut parts = Vec::new();
            if let Some(tk) = &k.tk {
                parts.push(format!("TK {tk}"));
            }
            if let Some((id, g)) = &k.gtk {
                parts.push(format!("GTK {id} {g}"));
            }
            if let Some((id, i)) = &k.igtk {
                parts.push(format!("IGTK {id} {i}"));
            }
            println!("    {side}{}", parts.join(", "));
        }
        let same = sta == ap;
        println!(
            "    same keys on both sides: {}",
            if same { "yes" } else { "NO" }
        );
        same
    };
    let a = show("after the 4-way handshake (port open)", &run.four_way);
    let b = show("after the group rekey", &run.rekey);
    a && b
}

fn radius_cmd(
    radius: &RadiusArgs,
    client: &ClientArgs,
    capture: &CaptureArgs,
    json: bool,
) -> ExitCode {
    // The log is printed as the conversation goes (and not kept at all with --json).
    let report = if json {
        latchkey_sim::cli::report::run_radius_captured(radius, client, capture, &mut |_| {})
    } else {
        latchkey_sim::cli::report::run_radius_captured(radius, client, capture, &mut |l| {
            println!("{l}")
        })
    };
    // An anonymous outer identity does not hide a certificate TLS 1.2 sent in the clear.
    if client.anonymous_identity
        && report.tls_version.as_deref() == Some("1.2")
        && report.slot.is_some()
    {
        eprintln!("{}", latchkey_sim::cli::report::TLS12_PRIVACY_WARNING);
    }
    if json {
        println!("{}", report.to_json());
    } else {
        if let Some(c) = &report.server_certificate {
            println!("server certificate: {c}");
        }
        if report.ok() {
            println!("{}", report.summary());
        }
    }
    // Every failure: one line on stderr with the stable kind, also under --json.
    if !report.ok() {
        eprintln!("{}", report.summary());
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(target_os = "linux")]
fn connect(args: &latchkey_sim::cli::args::ConnectArgs) -> ExitCode {
    use latchkey_sim::drive::connect::{self, EXIT_FAILED};
    // Text mode shows each frame as it crosses (a silent authenticator takes up to --timeout);
    // --json prints one object at the end and nothing before it.
    let mut live = |line: &str| {
        if !args.json {
            println!("{line}");
        }
    };
    match connect::connect_reporting(args, &mut live) {
        Ok(report) => {
            let r = report.to_report();
            if args.json {
                println!("{}", r.to_json());
            } else {
                print!("{}", report.result_text());
            }
            if args.client.anonymous_identity
                && r.tls_version.as_deref() == Some("1.2")
                && r.slot.is_some()
            {
                eprintln!("{}", latchkey_sim::cli::report::TLS12_PRIVACY_WARNING);
            }
            // Every failure: one line on stderr with the stable kind, as `radius` prints it.
            if r.outcome != "authenticated" {
                eprintln!(
                    "{} ({}): {}",
                    r.outcome.to_uppercase(),
                    r.error_kind.as_deref().unwrap_or("?"),
                    r.error.as_deref().unwrap_or("")
                );
            }
            ExitCode::from(report.exit_code())
        }
        Err(e) => {
            if args.json {
                println!("{}", connect::error_json(args, &e));
            }
            eprintln!("ERROR ({}): {e}", e.kind());
            ExitCode::from(EXIT_FAILED)
        }
    }
}
