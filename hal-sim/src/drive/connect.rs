//! `latchkey-sim connect --iface IFACE`: authenticate on a real wired port (IEEE 802.1X-2010
//! supplicant over [`crate::hal::link::EapolLink`]) with the file-based client configuration of
//! [`crate::cli::config::ClientArgs`], and report the outcome as text or one JSON object.

use std::path::PathBuf;
use std::time::Duration;

use latchkey_core::supplicant::Event;
use latchkey_core::tls::ResolveRecord;

use crate::cli::args::ConnectArgs;
use crate::cli::config::ConfigError;
use crate::cli::report_schema::{self, Report};
use crate::drive::Step;
use crate::drive::{describe, Direction};
use crate::hal::link::{authenticate_reporting, mac_string, EapolLink, LinkError, LinkOutcome};

/// Exit code: authenticated (as `latchkey-sim radius`).
pub const EXIT_AUTHENTICATED: u8 = 0;
/// Exit code: anything else — failed, timed out, or the configuration or interface could not
/// be used (`outcome` in the JSON says which).
pub const EXIT_FAILED: u8 = 1;

/// Why `connect` could not even try.
#[derive(Debug)]
pub enum ConnectError {
    /// The configuration files or flags.
    Config(ConfigError),
    /// The interface.
    Link(LinkError),
    /// The `--pcap` or `--keylog` file.
    Capture(crate::cli::capture::CaptureError),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Config(e) => write!(f, "{e}"),
            ConnectError::Link(e) => write!(f, "{e}"),
            ConnectError::Capture(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl ConnectError {
    /// A short, stable name of the cause (for `--json`).
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectError::Config(e) => e.kind(),
            ConnectError::Link(LinkError::InvalidName(_)) => "invalid-interface-name",
            ConnectError::Link(LinkError::NoSuchInterface(_)) => "no-such-interface",
            ConnectError::Link(LinkError::PermissionDenied(_)) => "permission-denied",
            ConnectError::Link(LinkError::NotEthernet(_)) => "not-ethernet",
            ConnectError::Link(LinkError::Io { .. }) => "link-io",
            ConnectError::Capture(_) => "unwritable-file",
        }
    }
}

/// What happened on the link.
#[derive(Debug)]
pub struct ConnectReport {
    /// The interface.
    pub iface: String,
    /// Our MAC address.
    pub mac: String,
    /// The outcome of the exchange.
    pub outcome: LinkOutcome,
    /// The certificate file of each loaded slot, by slot position.
    pub slot_files: Vec<(usize, PathBuf)>,
    /// What the certificate resolver did when the server asked for a certificate (also when
    /// the authentication failed).
    pub record: Option<ResolveRecord>,
    /// The server passed our checks (so a chosen certificate was really offered).
    pub server_accepted: bool,
    /// The certificate the server presented, once seen.
    pub server_certificate: Option<latchkey_core::tls::ServerCertificate>,
    /// When the run started.
    pub started: std::time::SystemTime,
    /// The outer identity sent.
    pub identity_sent: String,
}

/// Build the configuration, open the interface and authenticate once.
pub fn connect(args: &ConnectArgs) -> Result<ConnectReport, ConnectError> {
    connect_reporting(args, &mut |_| {})
}

/// [`connect`], calling `progress` with one line once the interface is open and one per frame
/// as it crosses the link (what `to_text` lists at the end), so a person watching sees the
/// exchange as it happens.
pub fn connect_reporting(
    args: &ConnectArgs,
    progress: &mut dyn FnMut(&str),
) -> Result<ConnectReport, ConnectError> {
    let started = std::time::SystemTime::now();
    let files = args.client.build().map_err(ConnectError::Config)?;
    let captures = args.capture.open().map_err(ConnectError::Capture)?;
    let mut link = EapolLink::open(&args.iface).map_err(ConnectError::Link)?;
    if let Some(c) = &captures.pcap {
        link.set_capture(c.clone());
    }
    let mut sup = files
        .supplicant_with(|b| captures.builder(b))
        .map_err(ConnectError::Config)?;
    progress(&format!(
        "{} on {} ({}): authenticating, up to {} s",
        HEADER,
        args.iface,
        mac_string(&link.mac()),
        args.timeout
    ));
    let outcome = authenticate_reporting(
        &mut sup,
        &mut link,
        Duration::from_secs(args.timeout),
        &mut |at, step| progress(&step_line(Some(at), step)),
    )
    .map_err(ConnectError::Link)?;
    let record = match &outcome.event {
        Some(Event::Authenticated(a)) => a.certificate.clone(),
        _ => sup.conversation().certificate.cloned(),
    };
    let server_accepted = matches!(
        sup.conversation().server,
        Some(latchkey_core::tls::ServerVerdict::Accepted { .. })
    );
    let server_certificate = sup.conversation().server_certificate.cloned();
    Ok(ConnectReport {
        record,
        server_accepted,
        server_certificate,
        started,
        identity_sent: crate::cli::report_schema::identity_sent(
            &args.client.identity,
            args.client.anonymous_identity,
        ),
        iface: args.iface.clone(),
        mac: mac_string(&link.mac()),
        outcome,
        slot_files: files
            .slots
            .iter()
            .map(|s| (s.index.get(), s.cert.clone()))
            .collect(),
    })
}

impl ConnectReport {
    /// The process exit code for this outcome.
    pub fn exit_code(&self) -> u8 {
        match self.outcome.event {
            Some(Event::Authenticated(_)) => EXIT_AUTHENTICATED,
            _ => EXIT_FAILED,
        }
    }

    fn slot_file(&self, slot: usize) -> Option<String> {
        self.slot_files
            .iter()
            .find(|(i, _)| *i == slot)
            .map(|(_, p)| p.display().to_string())
    }

    /// The outcome as the JSON [`Report`] shared with `latchkey-sim radius --json`.
    pub fn to_json(&self) -> serde_json::Value {
        self.to_report().to_json()
    }

    /// The outcome in the schema shared with `radius`.
    pub fn to_report(&self) -> Report {
        let o = &self.outcome;
        let mut r = Report {
            started_at: report_schema::rfc3339(self.started),
            elapsed_ms: u64::try_from(o.elapsed.as_millis()).unwrap_or(u64::MAX),
            identity_sent: Some(self.identity_sent.clone()),
            iface: Some(self.iface.clone()),
            mac: Some(self.mac.clone()),
            authenticator: o.authenticator.as_ref().map(mac_string),
            frames_sent: Some(o.steps.iter().filter(|s| s.dir == Direction::Up).count()),
            frames_received: Some(o.steps.iter().filter(|s| s.dir == Direction::Down).count()),
            dropped_early_successes: Some(o.drops.early_success),
            dropped_foreign_source: Some(o.drops.foreign_source),
            ..Report::new("connect", self.started)
        };
        match &o.event {
            Some(Event::Authenticated(a)) => {
                r.outcome = "authenticated";
                r.tls_version = Some(a.version.as_str().trim_start_matches("TLS ").to_owned());
                r.cipher_suite = a.suite.map(|s| s.to_string());
                r.eap_round_trips = Some(a.round_trips);
                r.msk_fingerprint = Some(a.keys.msk.fingerprint().to_string());
            }
            Some(Event::Failed(f)) => {
                let mut msg = f.to_string();
                if let Some(e) = &o.send_error {
                    msg.push_str(&format!(" ({e})"));
                }
                r.outcome = "failed";
                r.error_kind = Some(f.kind().as_str().into());
                r.error = Some(msg);
            }
            Some(_) | None => {
                r.outcome = "error";
                r.error_kind = Some("timeout".into());
                r.error = Some(format!(
                    "no outcome within {} ms (--timeout)",
                    o.elapsed.as_millis()
                ));
            }
        }
        r.set_selection(
            self.record.as_ref(),
            self.server_accepted,
            &self.slot_files,
            self.started,
        );
        r.set_server_certificate(self.server_certificate.as_ref());
        r
    }

    /// The outcome as text: every frame, then one result line.
    pub fn to_text(&self) -> String {
        let mut s = format!("{HEADER} on {} ({})\n", self.iface, self.mac);
        for step in &self.outcome.steps {
            s.push_str(&step_line(None, step));
            s.push('\n');
        }
        s.push_str(&self.result_text());
        s
    }

    /// The result, the certificate sent and the slots skipped: [`Self::to_text`] without the
    /// frames (for a run whose frames were already shown as they crossed).
    pub fn result_text(&self) -> String {
        let o = &self.outcome;
        let mut s = String::new();
        match &o.event {
            Some(Event::Authenticated(a)) => {
                s.push_str(&format!(
                    "result: AUTHENTICATED with {} {} in {} ms, {} EAP round trips, MSK {}\n",
                    a.version,
                    a.suite.map(|s| s.to_string()).unwrap_or_default(),
                    o.elapsed.as_millis(),
                    a.round_trips,
                    a.keys.msk.fingerprint()
                ));
            }
            Some(Event::Failed(r)) => {
                s.push_str(&format!("result: FAILED ({}): {r}\n", r.kind()));
                if let Some(e) = &o.send_error {
                    s.push_str(&format!("  send error: {e}\n"));
                }
            }
            Some(_) | None => s.push_str(&format!(
                "result: TIMEOUT: no outcome within {} ms\n",
                o.elapsed.as_millis()
            )),
        }
        if let Some(c) = self.to_report().server_certificate {
            s.push_str(&format!("server certificate: {c}\n"));
        }
        // Which certificate went out and why the others did not (also after a failure).
        if let Some(sel) = self.record.as_ref().map(|c| &c.selection) {
            match sel.chosen {
                Some(i) => s.push_str(&format!(
                    "certificate: {i} ({})\n",
                    self.slot_file(i.get()).unwrap_or_default()
                )),
                None => s.push_str("certificate: none sent\n"),
            }
            for (i, r) in &sel.skipped {
                s.push_str(&format!(
                    "  skipped {i} ({}): {r}\n",
                    self.slot_file(i.get()).unwrap_or_default()
                ));
            }
        }
        s
    }
}

const HEADER: &str = "wired 802.1X";

/// One frame as a line: direction and what it is, with the time since the start when known.
fn step_line(at: Option<Duration>, step: &Step) -> String {
    let arrow = match step.dir {
        Direction::Up => "supplicant -> authenticator",
        Direction::Down => "authenticator -> supplicant",
    };
    match at {
        Some(t) => format!(
            "  [{:>6} ms] {arrow}: {}",
            t.as_millis(),
            describe(&step.frame)
        ),
        None => format!("  {arrow}: {}", describe(&step.frame)),
    }
}

/// The JSON object for a configuration or interface error (`outcome` "error", as
/// `latchkey-sim radius` reports its own).
pub fn error_json(args: &ConnectArgs, e: &ConnectError) -> serde_json::Value {
    let mut r = Report::error("connect", e.kind(), e.to_string());
    r.iface = Some(args.iface.clone());
    r.to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::supplicant::{DropCounters, FailReason};

    fn report(event: Option<Event>) -> ConnectReport {
        ConnectReport {
            iface: "veth0".into(),
            mac: "02:00:00:00:00:01".into(),
            outcome: LinkOutcome {
                event,
                authenticator: None,
                elapsed: Duration::from_millis(1500),
                steps: vec![Step {
                    dir: Direction::Up,
                    frame: vec![1, 1, 0, 0],
                }],
                send_error: None,
                drops: DropCounters::default(),
            },
            slot_files: vec![(0, "old.pem".into())],
            record: None,
            server_certificate: None,
            server_accepted: false,
            started: std::time::SystemTime::now(),
            identity_sent: "device@example.org".into(),
        }
    }

    #[test]
    fn no_event_within_the_limit_is_an_error_named_timeout() {
        let r = report(None);
        assert_eq!(r.exit_code(), EXIT_FAILED);
        let j = r.to_json();
        assert_eq!(j["outcome"], "error");
        assert_eq!(j["error_kind"], "timeout");
        assert_eq!(j["frames_sent"], 1);
        assert_eq!(j["tls_version"], serde_json::Value::Null);
        assert!(r
            .to_text()
            .contains("supplicant -> authenticator: EAPOL-Start"));
        assert!(r.to_text().contains("result: TIMEOUT"));
    }

    #[test]
    fn supplicant_failure_carries_its_kind_and_message() {
        let r = report(Some(Event::Failed(FailReason::NoAuthenticator)));
        assert_eq!(r.exit_code(), EXIT_FAILED);
        let j = r.to_json();
        assert_eq!(j["outcome"], "failed");
        assert_eq!(j["error_kind"], "no-authenticator");
        assert_eq!(
            j["error"], "no 802.1X authenticator answered EAPOL-Start",
            "{j}"
        );
        assert!(r
            .to_text()
            .contains("result: FAILED (no-authenticator): no 802.1X authenticator"));
    }

    #[test]
    fn setup_errors_are_json_errors_with_a_kind() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            connect: ConnectArgs,
        }
        let args = <Cli as clap::Parser>::try_parse_from([
            "connect",
            "--iface",
            "nope0",
            "--ca",
            "/nonexistent/ca.pem",
            "--server-name",
            "radius.latchkey.test",
            "--identity",
            "device",
            "--slot",
            "active:/nonexistent/c.pem:/nonexistent/c.key",
            "--json",
        ])
        .expect("flags parse")
        .connect;
        let e = connect(&args).expect_err("unreadable CA");
        let j = error_json(&args, &e);
        assert_eq!(j["outcome"], "error");
        assert_eq!(j["error_kind"], "unreadable-file");
        assert_eq!(j["iface"], "nope0");
        assert!(!e.to_string().contains('\n'));
        let e = ConnectError::Link(LinkError::NoSuchInterface("nope0".into()));
        assert_eq!(e.kind(), "no-such-interface");
    }
}
