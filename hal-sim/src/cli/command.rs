//! The `latchkey-sim` command line: its subcommands and their help, each subcommand's argument
//! table built only when that subcommand is used, `-c FILE` expanded first, and argument errors
//! reported as clap's message or, with `--json`, as the one JSON report.

use clap::{ArgMatches, Args, FromArgMatches};

use crate::cli::args::{DemoArgs, EnrollArgs, InstallArgs, RadiusCmdArgs, RogueArgs, TableArgs};

/// The command line. Each subcommand's arguments are built only when that subcommand is used
/// (`Command::defer`): building every argument table up front made clap's start-up the
/// process's heap peak, above the authentication itself.
pub fn cli() -> clap::Command {
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
            .defer(with_args::<crate::cli::args::SoakArgs>),
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
            .defer(with_args::<crate::cli::args::FleetArgs>),
        )
        .subcommand(
            sub(
                "fleet-pki",
                "Write the PKI `fleet` uses (a CA, a server certificate, and per device an old \
                 certificate revoked by the CA's CRL and a renewed one) and print the FreeRADIUS \
                 settings that serve it",
            )
            .defer(with_args::<crate::cli::args::FleetPkiArgs>),
        );
    #[cfg(target_os = "linux")]
    let cmd = cmd.subcommand(
        sub(
            "connect",
            "Authenticate on a real wired interface (802.1X over EAPOL, e.g. to a switch port \
             or hostapd's wired authenticator) with the same CA, server name, identity and \
             certificate slots as `radius`. Exit status 0 only when authenticated",
        )
        .defer(with_args::<crate::cli::args::ConnectArgs>)
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
        let report = crate::fleet::FleetReport::error("bad-arguments", message.clone());
        println!("{}", report.to_json());
    } else {
        let report =
            crate::cli::report_schema::Report::error(command, "bad-arguments", message.clone());
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
        let report =
            crate::cli::report_schema::Report::error(command, "bad-arguments", message.to_owned());
        println!("{}", report.to_json());
    }
    eprintln!("ERROR (bad-arguments): {message}");
    std::process::exit(2)
}

/// The chosen subcommand with its parsed arguments.
pub enum Parsed {
    Demo(DemoArgs),
    Renewal,
    Radius(Box<RadiusCmdArgs>),
    Rogue(RogueArgs),
    Soak(Box<crate::cli::args::SoakArgs>),
    Fleet(Box<crate::cli::args::FleetArgs>),
    FleetPki(crate::cli::args::FleetPkiArgs),
    Enroll(EnrollArgs),
    Install(InstallArgs),
    Table(TableArgs),
    #[cfg(target_os = "linux")]
    Connect(Box<crate::cli::args::ConnectArgs>),
}

/// Parse the command line; clap's tables and matches are dropped before any work starts.
pub fn parse() -> Parsed {
    let args = crate::cli::wpa_conf::expand_args(std::env::args_os().collect())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{AkmArg, Tls};
    use latchkey_core::wpa::Akm;

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
