//! `latchkey-sim`: run Latchkey's supplicant core against a simulated authenticator with a
//! built-in test PKI, and print what happens step by step.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, Args, FromArgMatches, ValueEnum};
use latchkey_core::eap_tls::keys::fingerprint;
use latchkey_core::supplicant::{Event, PAE_GROUP_ADDR};
use latchkey_core::tls::VersionPolicy;
use latchkey_core::wpa::Akm;
use latchkey_sim::auth::relay::RadiusArgs;
use latchkey_sim::auth::tls::server_config_revoking;
use latchkey_sim::cli::capture::{CaptureArgs, Captures};
use latchkey_sim::cli::config::ClientArgs;
use latchkey_sim::drive::sim::Scenario;
use latchkey_sim::drive::{describe, sim, Direction};
use latchkey_sim::hal::memory;
use latchkey_sim::pki::TestPki;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Tls {
    /// TLS 1.2 only.
    #[value(name = "1.2")]
    V12,
    /// TLS 1.3 only.
    #[value(name = "1.3")]
    V13,
    /// One authentication with each version.
    Both,
}

/// `demo`'s arguments.
#[derive(Args)]
struct DemoArgs {
    /// Which TLS versions to run.
    #[arg(long, value_enum, default_value = "both")]
    tls: Tls,
    /// EAP-TLS fragment size of the supplicant.
    #[arg(long, default_value_t = 1398)]
    fragment_size: usize,
    /// EAP-TLS fragment size of the simulated server.
    #[arg(long, default_value_t = 1024)]
    server_fragment_size: usize,
    /// Print only the summary lines.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    capture: CaptureArgs,
    /// AKM of the WPA key handshakes that end the demo: 1 (802.1X), 5 (802.1X-SHA256,
    /// WPA3-Enterprise) or 12 (Suite B 192-bit).
    #[arg(long, default_value = "5")]
    akm: AkmArg,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum AkmArg {
    /// 802.1X (WPA2-Enterprise).
    #[value(name = "1")]
    A1,
    /// 802.1X-SHA256 (WPA3-Enterprise).
    #[value(name = "5")]
    A5,
    /// 802.1X Suite B 192-bit (WPA3-Enterprise 192-bit).
    #[value(name = "12")]
    A12,
}

impl AkmArg {
    fn akm(self) -> Akm {
        match self {
            AkmArg::A1 => Akm::Ieee8021x,
            AkmArg::A5 => Akm::Ieee8021xSha256,
            AkmArg::A12 => Akm::SuiteB192,
        }
    }
}

/// `radius`'s arguments.
#[derive(Args)]
struct RadiusCmdArgs {
    #[command(flatten)]
    radius: RadiusArgs,
    #[command(flatten)]
    client: Box<ClientArgs>,
    /// Print one JSON object with the result instead of the log.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    capture: CaptureArgs,
}

/// `enroll`'s arguments.
#[derive(Args)]
struct EnrollArgs {
    /// The slot table file (the device's flash image of its certificate table).
    #[arg(long, value_name = "FILE")]
    table: PathBuf,
    /// First use only: create the table file with this certificate (PEM or DER, intermediates
    /// after the leaf) as its active slot, then enroll.
    #[arg(long, value_name = "CERT", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key of --cert (PEM or DER: PKCS#8, SEC1 or PKCS#1).
    #[arg(long, value_name = "KEY", requires = "cert")]
    key: Option<PathBuf>,
    /// The slot whose certificate is renewed (default: the newest active one).
    #[arg(long, value_name = "N")]
    slot: Option<usize>,
    /// Write the request (PEM) to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `install`'s arguments.
#[derive(Args)]
struct InstallArgs {
    /// The slot table file holding the pending renewal.
    #[arg(long, value_name = "FILE")]
    table: PathBuf,
    /// The certificate the CA issued for the request (PEM or DER; intermediates after it are
    /// kept in the slot).
    #[arg(long, value_name = "CERT")]
    cert: PathBuf,
    /// Intermediate CA certificate file(s) to keep after it (leaf's issuer first); repeatable.
    #[arg(long, value_name = "FILE")]
    chain: Vec<PathBuf>,
}

/// `table`'s arguments.
#[derive(Args)]
struct TableArgs {
    /// The slot table file.
    #[arg(long, value_name = "FILE")]
    table: PathBuf,
}

/// `rogue`'s arguments.
#[derive(Args)]
struct RogueArgs {
    /// Scenario name, or `all`.
    #[arg(required_unless_present = "list")]
    scenario: Option<String>,
    /// List the scenarios and the refusal each must get.
    #[arg(long)]
    list: bool,
    /// Print every frame exchanged.
    #[arg(long)]
    frames: bool,
}

/// The command line. Each subcommand's arguments are built only when that subcommand is used
/// (`Command::defer`): building every argument table up front made clap's start-up the
/// process's heap peak, above the authentication itself.
fn cli() -> clap::Command {
    let sub = |name: &'static str, about: &'static str| clap::Command::new(name).about(about);
    let cmd = clap::Command::new("latchkey-sim")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Latchkey EAP-TLS supplicant simulator")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            sub(
                "demo",
                "Authenticate against the simulated authenticator with a freshly generated test \
                 PKI, once with TLS 1.3 and once with TLS 1.2, printing every exchange",
            )
            .defer(with_args::<DemoArgs>),
        )
        .subcommand(sub(
            "renewal",
            "The KB932521 scenario: the device renewed its certificate (the old one is archived \
             in the slot table) and the server's CRL revokes the old one. Shows which \
             certificate is chosen and why, then what happens when only the archived \
             certificate is left",
        ))
        .subcommand(
            sub(
                "radius",
                "Authenticate against a real RADIUS server (FreeRADIUS, hostapd, NPS, ISE...): \
                 this command is the 802.1X authenticator, relaying EAP over RADIUS (RFC 3579); \
                 the supplicant uses the CA, server name, identity and certificate slots given \
                 here. Exit status 0 only when authenticated and the MSK equals the server's \
                 MS-MPPE keys",
            )
            .defer(with_args::<RadiusCmdArgs>)
            .arg(config_arg()),
        )
        .subcommand(
            sub(
                "rogue",
                "Play a rogue server and show how the supplicant refuses it: `rogue all`, \
                 `rogue wrong-name`, ... (`rogue --list` names them). Exit status 0 when every \
                 rogue server was refused with its expected error and nothing leaked, 1 \
                 otherwise",
            )
            .defer(with_args::<RogueArgs>),
        )
        .subcommand(
            sub(
                "enroll",
                "Self-renewal, step 1: generate the device's next key pair (P-256) into a pending \
                 slot of the table file and write a PKCS#10 certificate request with the subject \
                 and subjectAltName of the certificate it renews. With --cert/--key, first \
                 create the table file from the device's current certificate. Run again, it \
                 writes the pending key's request again",
            )
            .defer(with_args::<EnrollArgs>),
        )
        .subcommand(
            sub(
                "install",
                "Self-renewal, step 2: install the certificate the CA issued for the pending \
                 key; it becomes active and the certificate it renews is archived, in one save \
                 of the table file",
            )
            .defer(with_args::<InstallArgs>),
        )
        .subcommand(
            sub(
                "table",
                "List the slots of a table file (certificates and a pending key)",
            )
            .defer(with_args::<TableArgs>),
        )
        .subcommand(
            sub(
                "soak",
                "Run many seeded authentications over a link that loses, duplicates, reorders, \
                 bit-flips and truncates frames (and can flap the link and restart the \
                 authenticator mid-handshake); report how \
                 many authenticated, failed (by kind) or hung. Exit status 0 when none hung",
            )
            .defer(with_args::<latchkey_sim::scenarios::soak::SoakArgs>),
        )
        .subcommand(
            sub(
                "fleet",
                "Run N devices at once through the RADIUS relay against one real RADIUS server \
                 (each its own slot table, certificates from `fleet-pki`, UDP socket and \
                 Calling-Station-Id): a cold start or a renewal wave; report authentications \
                 per second, latency, round trips, retransmissions and each failure by device, \
                 optionally side by side with as many eapol_test processes. Exit status 0 when \
                 every device ended as the scenario says and none hung",
            )
            .defer(with_args::<latchkey_sim::fleet::FleetArgs>),
        )
        .subcommand(
            sub(
                "fleet-pki",
                "Write the PKI `fleet` uses (a CA, a server certificate, and per device an old \
                 certificate revoked by the CA's CRL and a renewed one) and print the FreeRADIUS \
                 settings that serve it",
            )
            .defer(with_args::<latchkey_sim::fleet::FleetPkiArgs>),
        );
    #[cfg(target_os = "linux")]
    let cmd = cmd.subcommand(
        sub(
            "connect",
            "Authenticate on a real wired interface (802.1X over EAPOL, e.g. to a switch port \
             or hostapd's wired authenticator) with the same CA, server name, identity and \
             certificate slots as `radius`. Exit status 0 only when authenticated",
        )
        .defer(with_args::<latchkey_sim::drive::connect::ConnectArgs>)
        .arg(config_arg()),
    );
    cmd
}

/// `-c FILE`, for the help text: `wpa_conf::expand_args` replaces it by the file's flags
/// before clap parses the line.
fn config_arg() -> clap::Arg {
    clap::Arg::new("config")
        .short('c')
        .long("config")
        .value_name("FILE")
        .help(
            "Read the CA, server name, identity, certificate slots, TLS versions and fragment \
             size from a wpa_supplicant.conf network={...} block (as eapol_test -c); flags \
             given here override the file's",
        )
}

/// Add `T`'s arguments to a subcommand, keeping the subcommand's own description (the derive
/// would put `T`'s doc comment in its place).
fn with_args<T: Args>(cmd: clap::Command) -> clap::Command {
    let about = cmd.get_about().cloned().unwrap_or_default();
    T::augment_args(cmd).about(about).long_about(None)
}

/// Parse a subcommand's arguments, or exit with clap's message.
fn parsed<T: FromArgMatches>(m: &ArgMatches) -> T {
    T::from_arg_matches(m).unwrap_or_else(|e| argument_error(e))
}

/// Exit on a command-line error. With `--json` anywhere on the line, the error is also the
/// one JSON report on stdout (`outcome` "error", `error_kind` "bad-arguments") and one line
/// on stderr; otherwise clap's own message. Help and version requests print as usual.
fn argument_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let args: Vec<String> = std::env::args().collect();
    let help = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if help || !args.iter().any(|a| a == "--json") {
        e.exit()
    }
    let command = match args.get(1).map(String::as_str) {
        Some("connect") => "connect",
        _ => "radius",
    };
    let rendered = e.render().to_string();
    // clap's message up to its usage hint, on one line.
    let message = rendered
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_owned();
    if args.get(1).map(String::as_str) == Some("fleet") {
        let report = latchkey_sim::fleet::FleetReport::error("bad-arguments", message.clone());
        println!("{}", report.to_json());
    } else {
        let report = latchkey_sim::cli::report_schema::Report::error(
            command,
            "bad-arguments",
            message.clone(),
        );
        println!("{}", report.to_json());
    }
    eprintln!("ERROR (bad-arguments): {message}");
    std::process::exit(2)
}

/// Exit on an unusable `-c FILE`, reported as a command-line error (as `argument_error`).
fn config_error(message: &str) -> ! {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--json") {
        let command = match args.get(1).map(String::as_str) {
            Some("connect") => "connect",
            _ => "radius",
        };
        let report = latchkey_sim::cli::report_schema::Report::error(
            command,
            "bad-arguments",
            message.to_owned(),
        );
        println!("{}", report.to_json());
    }
    eprintln!("ERROR (bad-arguments): {message}");
    std::process::exit(2)
}

/// The chosen subcommand with its parsed arguments.
enum Parsed {
    Demo(DemoArgs),
    Renewal,
    Radius(Box<RadiusCmdArgs>),
    Rogue(RogueArgs),
    Soak(Box<latchkey_sim::scenarios::soak::SoakArgs>),
    Fleet(Box<latchkey_sim::fleet::FleetArgs>),
    FleetPki(latchkey_sim::fleet::FleetPkiArgs),
    Enroll(EnrollArgs),
    Install(InstallArgs),
    Table(TableArgs),
    #[cfg(target_os = "linux")]
    Connect(Box<latchkey_sim::drive::connect::ConnectArgs>),
}

/// Parse the command line; clap's tables and matches are dropped before any work starts.
fn parse() -> Parsed {
    let args = latchkey_sim::cli::wpa_conf::expand_args(std::env::args_os().collect())
        .unwrap_or_else(|e| config_error(&e));
    let matches = cli()
        .try_get_matches_from(args)
        .unwrap_or_else(|e| argument_error(e));
    match matches.subcommand() {
        Some(("demo", m)) => Parsed::Demo(parsed(m)),
        Some(("radius", m)) => Parsed::Radius(Box::new(parsed(m))),
        Some(("rogue", m)) => Parsed::Rogue(parsed(m)),
        Some(("soak", m)) => Parsed::Soak(Box::new(parsed(m))),
        Some(("fleet", m)) => Parsed::Fleet(Box::new(parsed(m))),
        Some(("fleet-pki", m)) => Parsed::FleetPki(parsed(m)),
        Some(("enroll", m)) => Parsed::Enroll(parsed(m)),
        Some(("install", m)) => Parsed::Install(parsed(m)),
        Some(("table", m)) => Parsed::Table(parsed(m)),
        #[cfg(target_os = "linux")]
        Some(("connect", m)) => Parsed::Connect(Box::new(parsed(m))),
        Some(("renewal", _)) => Parsed::Renewal,
        // `subcommand_required` makes clap refuse anything else before we get here.
        other => {
            eprintln!("error: unknown command {:?}", other.map(|(name, _)| name));
            std::process::exit(2)
        }
    }
}

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
fn connect(args: &latchkey_sim::drive::connect::ConnectArgs) -> ExitCode {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_consistent_with_every_deferred_subcommand_built() {
        // debug_assert builds each subcommand, running its deferred argument table.
        cli().debug_assert();
    }

    #[test]
    fn subcommands_parse_their_own_arguments() {
        let m = cli()
            .try_get_matches_from(["latchkey-sim", "demo", "--tls", "1.2", "--quiet"])
            .unwrap();
        let Some(("demo", m)) = m.subcommand() else {
            panic!("no demo")
        };
        let a = DemoArgs::from_arg_matches(m).unwrap();
        assert!(a.tls == Tls::V12 && a.quiet && a.fragment_size == 1398);
        assert_eq!(a.akm, AkmArg::A5);
        let m = cli()
            .try_get_matches_from(["latchkey-sim", "demo", "--akm", "12"])
            .unwrap();
        let Some(("demo", m)) = m.subcommand() else {
            panic!("no demo")
        };
        assert_eq!(
            DemoArgs::from_arg_matches(m).unwrap().akm.akm(),
            Akm::SuiteB192
        );
        assert!(cli()
            .try_get_matches_from(["latchkey-sim", "demo", "--akm", "2"])
            .is_err());
        let m = cli()
            .try_get_matches_from(["latchkey-sim", "rogue", "--list"])
            .unwrap();
        let Some(("rogue", m)) = m.subcommand() else {
            panic!("no rogue")
        };
        assert!(RogueArgs::from_arg_matches(m).unwrap().list);
        assert!(cli()
            .try_get_matches_from(["latchkey-sim", "demo", "--no-such-flag"])
            .is_err());
        assert!(cli()
            .try_get_matches_from(["latchkey-sim", "nope"])
            .is_err());
    }
}
