//! Fragment-size sweep against `eapol_test` (issue 14, round-trip parity): for EAP-TLS fragment
//! sizes 100, 150, ..., 1500 (RFC 5216 section 2.1.5), set the same value on the server
//! (FreeRADIUS' eap `fragment_size`, hostapd's `fragment_size`) and on both supplicants
//! (Latchkey's fragment size, `eapol_test`'s network-block `fragment_size`), against FreeRADIUS
//! and hostapd each limited to TLS 1.2 and to TLS 1.3, and print each side's RADIUS round trips
//! as a Markdown table. Rows where Latchkey needs more are marked and make the exit status 1.
//!
//! Run: `cargo bench -p latchkey-tests --bench fragment_sweep` (round trips do not depend on the
//! build profile, so `cargo test -p latchkey-tests --bench fragment_sweep` gives the same table
//! without a release build). Options after `--`: `--sizes A,B,...` to sweep other sizes.

#[path = "../tests/support/round_trips.rs"]
mod round_trips;

use latchkey_test_support::server_process::ServerTls;
use round_trips::{Kind, Setup};

fn main() {
    let mut sizes: Vec<usize> = (100..=1500).step_by(50).collect();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sizes" => {
                let list = args.next().unwrap_or_default();
                sizes = list
                    .split(',')
                    .map(|n| n.trim().parse())
                    .collect::<Result<_, _>>()
                    .unwrap_or_else(|e| {
                        eprintln!("--sizes {list}: {e}");
                        std::process::exit(2)
                    });
            }
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            other => {
                eprintln!("unknown argument {other}; use --sizes A,B,...");
                std::process::exit(2);
            }
        }
    }
    let setup = Setup::new();
    let mut worse = Vec::new();
    println!("RADIUS round trips, eapol_test / latchkey; **more** marks Latchkey needing more.\n");
    println!("Same fragment size on the server and both supplicants:\n");
    table(&setup, &sizes, None, &mut worse);
    println!("\nServer fragment size swept, both supplicants at their default {DEFAULT_CLIENT_FRAGMENT}:\n");
    table(&setup, &sizes, Some(DEFAULT_CLIENT_FRAGMENT), &mut worse);
    if !worse.is_empty() {
        println!("\nLatchkey needs more round trips:\n{}", worse.join("\n"));
        std::process::exit(1);
    }
}

/// Both supplicants' default fragment size (wpa_supplicant's and Latchkey's).
const DEFAULT_CLIENT_FRAGMENT: usize = 1398;

/// One table: a row per server fragment size, a column per server and TLS version; the
/// supplicants use `client` or, if `None`, the server's size. Cases where Latchkey needs more
/// are appended to `worse`.
fn table(setup: &Setup, sizes: &[usize], client: Option<usize>, worse: &mut Vec<String>) {
    let cases = [
        (Kind::FreeRadius, ServerTls::V12),
        (Kind::FreeRadius, ServerTls::V13),
        (Kind::Hostapd, ServerTls::V12),
        (Kind::Hostapd, ServerTls::V13),
    ];
    let header: Vec<String> = cases.iter().map(|(k, t)| format!("{k} TLS {t}")).collect();
    println!("| server fragment size | {} |", header.join(" | "));
    println!("|---:|{}", "---|".repeat(cases.len()));
    let (mut fewer, mut equal, mut more) = (0, 0, 0);
    for &size in sizes {
        let client = client.unwrap_or(size);
        let mut cells = Vec::new();
        for &(kind, tls) in &cases {
            let p = setup.measure(kind, tls, size, client);
            let cell = format!("{} / {}", p.eapol_test, p.latchkey);
            match p.latchkey.cmp(&p.eapol_test) {
                std::cmp::Ordering::Greater => {
                    more += 1;
                    worse.push(format!(
                        "{kind} TLS {tls}, server {size}, client {client}: {cell}"
                    ));
                    cells.push(format!("{cell} **more**"));
                }
                std::cmp::Ordering::Equal => {
                    equal += 1;
                    cells.push(cell);
                }
                std::cmp::Ordering::Less => {
                    fewer += 1;
                    cells.push(cell);
                }
            }
        }
        println!("| {size} | {} |", cells.join(" | "));
    }
    println!(
        "\n{} cases: Latchkey fewer in {fewer}, equal in {equal}, more in {more}",
        fewer + equal + more
    );
}
