//! Side-by-side benchmark: the same EAP-TLS authentication (P-256 client certificate) run by
//! wpa_supplicant's `eapol_test` and by `latchkey-sim radius` against the same FreeRADIUS and
//! hostapd servers on loopback, TLS 1.2 and 1.3. Prints RADIUS round trips, median wall time,
//! whole-process instructions (valgrind callgrind) and peak heap (valgrind massif).
//!
//! Run: `cargo build --release -p latchkey-sim && cargo run --release -p latchkey-tests --bin
//! interop-bench` (options: `--runs N`, `--sim PATH`, `--profile` for the top functions, `--keep` to
//! keep the valgrind output files).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use latchkey_test_support::apt;
use latchkey_test_support::eapol_test;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::hostapd::{self, HostapdOptions};
use latchkey_test_support::pki_files::{FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::{ServerProcess, ServerTls};

struct Measure {
    round_trips: usize,
    wall_ms: f64,
    instructions: u64,
    peak_heap: u64,
}

fn run(cmd: &[String]) -> Output {
    Command::new(&cmd[0])
        .args(&cmd[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cmd[0]))
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

/// Total instructions from callgrind's "Collected : N" line.
fn callgrind(cmd: &[String], out: &Path) -> u64 {
    let mut v = vec![
        "valgrind".to_string(),
        "--tool=callgrind".into(),
        format!("--callgrind-out-file={}", out.display()),
    ];
    v.extend_from_slice(cmd);
    let o = run(&v);
    let t = text(&o);
    t.lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no callgrind total:\n{t}"))
}

/// Peak of massif's mem_heap_B (useful heap bytes, allocator overhead excluded).
fn massif(cmd: &[String], out: &Path) -> u64 {
    let mut v = vec![
        "valgrind".to_string(),
        "--tool=massif".into(),
        format!("--massif-out-file={}", out.display()),
    ];
    v.extend_from_slice(cmd);
    let o = run(&v);
    let f = std::fs::read_to_string(out).unwrap_or_else(|e| panic!("{e}:\n{}", text(&o)));
    f.lines()
        .filter_map(|l| l.strip_prefix("mem_heap_B="))
        .filter_map(|n| n.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn measure(
    cmd: &[String],
    runs: usize,
    dir: &Path,
    tag: &str,
    round_trips: impl Fn(&Output) -> usize,
) -> Measure {
    let mut times = Vec::new();
    let mut rt = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let o = run(cmd);
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        rt = round_trips(&o);
        assert!(rt > 0, "{tag} failed:\n{}", text(&o));
    }
    Measure {
        round_trips: rt,
        wall_ms: median(times),
        instructions: callgrind(cmd, &dir.join(format!("callgrind.{tag}"))),
        peak_heap: massif(cmd, &dir.join(format!("massif.{tag}"))),
    }
}

fn sim_cmd(sim: &Path, pki: &FilePki, server: &ServerProcess) -> Vec<String> {
    vec![
        sim.display().to_string(),
        "radius".into(),
        "--radius".into(),
        server.addr().to_string(),
        "--secret".into(),
        server.secret.clone(),
        "--ca".into(),
        pki.ca.display().to_string(),
        "--server-name".into(),
        SERVER_NAME.into(),
        "--identity".into(),
        IDENTITY.into(),
        "--slot".into(),
        format!(
            "active:{}:{}",
            pki.client_new.cert.display(),
            pki.client_new.key.display()
        ),
        "--timeout-ms".into(),
        "10000".into(),
        "--json".into(),
    ]
}

fn sim_round_trips(o: &Output) -> usize {
    let s = String::from_utf8_lossy(&o.stdout);
    if !s.contains("\"outcome\":\"authenticated\"") || !s.contains("\"msk_matches_mppe\":true") {
        return 0;
    }
    s.split("\"radius_round_trips\":")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn eapol_round_trips(o: &Output) -> usize {
    let r = eapol_test::parse(&text(o));
    if r.success && r.mppe_ok {
        r.round_trips
    } else {
        0
    }
}

fn ratio(a: u64, b: u64) -> String {
    format!("{:.3}x", a as f64 / b.max(1) as f64)
}

fn main() {
    let mut runs = 7;
    let mut sim = PathBuf::from("target/release/latchkey-sim");
    let mut profile = false;
    let mut keep = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(runs),
            "--sim" => sim = args.next().map(PathBuf::from).unwrap_or(sim),
            "--profile" => profile = true,
            "--keep" => keep = true,
            other => {
                eprintln!("unknown argument {other}; use --runs N, --sim PATH, --profile, --keep");
                std::process::exit(2);
            }
        }
    }
    if !sim.exists() {
        eprintln!(
            "{} not found: run `cargo build --release -p latchkey-sim` first",
            sim.display()
        );
        std::process::exit(2);
    }
    let mut pkgs = apt::SERVER_PACKAGES.to_vec();
    pkgs.push("valgrind");
    if let Err(e) = apt::ensure_installed(&pkgs) {
        eprintln!("{e}");
        std::process::exit(2);
    }
    let version = text(&run(&["eapol_test".into(), "-v".into()]));
    println!(
        "eapol_test: {}",
        version.lines().next().unwrap_or("?").trim()
    );
    println!(
        "runs per case: {runs} (wall time: median); instructions and heap: one valgrind run each\n"
    );
    println!(
        "| server | TLS | RADIUS round trips (eapol_test / latchkey) | wall ms (eapol_test / latchkey) | instructions (eapol_test / latchkey, ratio) | peak heap (eapol_test / latchkey, ratio) |"
    );
    println!("|---|---|---|---|---|---|");
    let mut profiles = Vec::new();
    for kind in ["FreeRADIUS", "hostapd"] {
        for tls in [ServerTls::V12, ServerTls::V13] {
            let tmp = tempfile::tempdir().expect("tempdir");
            let pki = FilePki::generate(&tmp.path().join("pki")).expect("pki");
            let server = match kind {
                "FreeRADIUS" => freeradius::start(tmp.path(), &pki, &FreeRadiusOptions::new(tls)),
                // No debug log (its peer-certificate lines) in the timed runs.
                _ => hostapd::start(
                    tmp.path(),
                    &pki,
                    &HostapdOptions {
                        log_peer_certificates: false,
                        ..HostapdOptions::new(tls)
                    },
                ),
            }
            .unwrap_or_else(|e| panic!("{e}"));
            let conf = eapol_test::write_config(tmp.path(), &pki, &pki.client_new).expect("conf");
            let e = measure(
                &eapol_test::command(&conf, &server),
                runs,
                tmp.path(),
                "eapol_test",
                eapol_round_trips,
            );
            let l = measure(
                &sim_cmd(&sim, &pki, &server),
                runs,
                tmp.path(),
                "latchkey",
                sim_round_trips,
            );
            println!(
                "| {kind} | {tls} | {} / {} | {:.1} / {:.1} | {:.1} M / {:.1} M, {} | {} KB / {} KB, {} |",
                e.round_trips,
                l.round_trips,
                e.wall_ms,
                l.wall_ms,
                e.instructions as f64 / 1e6,
                l.instructions as f64 / 1e6,
                ratio(l.instructions, e.instructions),
                e.peak_heap / 1000,
                l.peak_heap / 1000,
                ratio(l.peak_heap, e.peak_heap),
            );
            if profile {
                let o = run(&[
                    "callgrind_annotate".into(),
                    "--inclusive=no".into(),
                    tmp.path().join("callgrind.latchkey").display().to_string(),
                ]);
                let top: Vec<String> = text(&o)
                    .lines()
                    .skip_while(|l| !l.contains("file:function"))
                    .skip(2)
                    .take(15)
                    .map(|l| match (l.find('('), l.find(".rs:")) {
                        // "count (pct)  /path/file.rs:function [binary]" -> "count (pct) function"
                        (Some(p), Some(r)) if p < r => format!(
                            "{} {}",
                            l[..l[p..].find(')').map_or(p, |e| p + e + 1)].trim(),
                            l[r + 4..].split(" [").next().unwrap_or("")
                        ),
                        _ => l.to_owned(),
                    })
                    .collect();
                profiles.push(format!("{kind} TLS {tls}:\n{}", top.join("\n")));
            }
            drop(server);
            if keep {
                println!("(kept {} for callgrind/massif files)", tmp.keep().display());
            }
        }
    }
    for p in profiles {
        println!("\nlatchkey top functions (self instructions), {p}");
    }
}
