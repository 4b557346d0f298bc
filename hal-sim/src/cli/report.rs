//! The result of one `latchkey-sim radius` run, for people (a log and a summary line) and for
//! machines (`--json`): outcome, error kind, TLS version and suite, the slot used and why,
//! round trips, MSK fingerprint and whether it equals the server's MS-MPPE keys.

use latchkey_core::certs::SlotIndex;
use latchkey_core::supplicant::Event;
use serde_json::Value;

use crate::auth::relay;
use crate::cli::args::RadiusArgs;
use crate::cli::capture::CaptureArgs;
use crate::cli::config::{ClientArgs, ClientFiles};
use crate::cli::report_schema::{self, ClientCertificate, Report, ServerCertificate, SkippedSlot};

/// Printed (stderr) when `--anonymous-identity` was given but TLS 1.2 was negotiated and the
/// device's certificate went out: TLS 1.2 sends it unencrypted.
pub const TLS12_PRIVACY_WARNING: &str = "warning: TLS 1.2 sent the device certificate \
     unencrypted, so its name was visible on the wire: --anonymous-identity hid only the outer \
     EAP identity; use --tls 1.3 to keep the device's name private";

/// Everything a run found out.
#[derive(Debug, Clone, Default)]
pub struct RadiusReport {
    /// "authenticated", "failed" (the supplicant's verdict) or "error" (configuration or
    /// transport: nothing was decided).
    pub outcome: &'static str,
    /// Stable name of the cause, when not authenticated.
    pub error_kind: Option<String>,
    /// One line saying what went wrong.
    pub error: Option<String>,
    /// "1.2" or "1.3".
    pub tls_version: Option<String>,
    /// The negotiated cipher suite.
    pub cipher_suite: Option<String>,
    /// Index of the slot whose certificate authenticated the device (successes only).
    pub slot: Option<usize>,
    /// The file that slot was loaded from.
    pub slot_file: Option<String>,
    /// The selection's explanation (chosen slot, why each other lost, the time used).
    pub selection: Option<String>,
    /// EAP requests the supplicant answered.
    pub eap_round_trips: Option<u16>,
    /// Access-Requests sent (without retransmissions).
    pub radius_round_trips: u32,
    /// Retransmitted Access-Requests.
    pub radius_retransmissions: u32,
    /// The last RADIUS reply ("Access-Accept", "Access-Reject", "Access-Challenge").
    pub radius_result: Option<String>,
    /// First 8 bytes of SHA-256(MSK), hex.
    pub msk_fingerprint: Option<String>,
    /// MSK equals MS-MPPE-Recv-Key || MS-MPPE-Send-Key.
    pub msk_matches_mppe: Option<bool>,
    /// The RADIUS server.
    pub server: String,
    /// When the run started, RFC 3339 UTC.
    pub started_at: Option<String>,
    /// Wall time to the verdict or error, ms.
    pub elapsed_ms: u64,
    /// The outer identity sent.
    pub identity_sent: Option<String>,
    /// The slots not chosen, with their files and reasons.
    pub skipped_slots: Vec<SkippedSlot>,
    /// The offered certificate's serial and expiry.
    pub client_certificate: Option<ClientCertificate>,
    /// The certificate the server presented, once seen.
    pub server_certificate: Option<ServerCertificate>,
}

impl RadiusReport {
    /// Authenticated, and the MSK matched the server's keys.
    pub fn ok(&self) -> bool {
        self.outcome == "authenticated" && self.msk_matches_mppe == Some(true)
    }

    /// The machine-readable result: the [`Report`] shared with `connect`.
    pub fn to_json(&self) -> Value {
        self.to_report().to_json()
    }

    /// This run as the schema shared with `connect`.
    pub fn to_report(&self) -> Report {
        Report {
            schema_version: report_schema::SCHEMA_VERSION,
            command: "radius",
            started_at: self.started_at.clone(),
            elapsed_ms: self.elapsed_ms,
            outcome: self.outcome,
            error_kind: self.error_kind.clone(),
            error: self.error.clone(),
            identity_sent: self.identity_sent.clone(),
            tls_version: self.tls_version.clone(),
            cipher_suite: self.cipher_suite.clone(),
            slot: self.slot,
            slot_file: self.slot_file.clone(),
            selection: self.selection.clone(),
            skipped_slots: self.skipped_slots.clone(),
            client_certificate: self.client_certificate.clone(),
            server_certificate: self.server_certificate.clone(),
            eap_round_trips: self.eap_round_trips,
            msk_fingerprint: self.msk_fingerprint.clone(),
            server: Some(self.server.clone()),
            radius_round_trips: Some(self.radius_round_trips),
            radius_retransmissions: Some(self.radius_retransmissions),
            radius_result: self.radius_result.clone(),
            msk_matches_mppe: self.msk_matches_mppe,
            ..Report::default()
        }
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        match self.outcome {
            "authenticated" => format!(
                "AUTHENTICATED with TLS {} {}, slot {} ({}), {} EAP / {} RADIUS round trips, \
                 MSK {} {}",
                self.tls_version.as_deref().unwrap_or("?"),
                self.cipher_suite.as_deref().unwrap_or("?"),
                self.slot.map(|s| s.to_string()).unwrap_or("-".into()),
                self.selection.as_deref().unwrap_or(""),
                self.eap_round_trips.unwrap_or(0),
                self.radius_round_trips,
                self.msk_fingerprint.as_deref().unwrap_or("?"),
                match self.msk_matches_mppe {
                    Some(true) => "equals the server's MS-MPPE keys",
                    Some(false) => "DIFFERS from the server's MS-MPPE keys",
                    None => "(server sent no MS-MPPE keys)",
                }
            ),
            outcome => format!(
                "{} ({}): {}",
                outcome.to_uppercase(),
                self.error_kind.as_deref().unwrap_or("?"),
                self.error.as_deref().unwrap_or("")
            ),
        }
    }
}

fn error(server: String, kind: &str, msg: String) -> RadiusReport {
    RadiusReport {
        outcome: "error",
        error_kind: Some(kind.into()),
        error: Some(msg),
        server,
        ..RadiusReport::default()
    }
}

/// Build the client from files, authenticate through the RADIUS server (describing each frame
/// and packet to `log` as it happens), and report.
pub fn run_radius(
    radius: &RadiusArgs,
    client: &ClientArgs,
    log: &mut dyn FnMut(String),
) -> RadiusReport {
    run_radius_captured(radius, client, &CaptureArgs::default(), log)
}

/// [`run_radius`], with the `--pcap` capture and `--keylog` key log `capture` asks for (an
/// unwritable file is an `unwritable-file` error before anything is sent).
pub fn run_radius_captured(
    radius: &RadiusArgs,
    client: &ClientArgs,
    capture: &CaptureArgs,
    log: &mut dyn FnMut(String),
) -> RadiusReport {
    let started = std::time::SystemTime::now();
    let clock = std::time::Instant::now();
    let mut r = radius_inner(radius, client, capture, started, log);
    r.started_at = report_schema::rfc3339(started);
    r.elapsed_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
    r
}

fn radius_inner(
    radius: &RadiusArgs,
    client: &ClientArgs,
    capture: &CaptureArgs,
    started: std::time::SystemTime,
    log: &mut dyn FnMut(String),
) -> RadiusReport {
    let server = radius.server_addr().to_string();
    let captures = match capture.open() {
        Ok(c) => c,
        Err(e) => return error(server, "unwritable-file", e.to_string()),
    };
    let files: ClientFiles = match client.build() {
        Ok(f) => f,
        Err(e) => return error(server, e.kind(), e.to_string()),
    };
    let mut sup = match files.supplicant_with(|b| captures.builder(b)) {
        Ok(s) => s,
        Err(e) => return error(server, e.kind(), e.to_string()),
    };
    let outcome = relay::run_captured(&mut sup, radius, captures.pcap.as_deref(), log);
    let identity = (outcome.round_trips > 0)
        .then(|| report_schema::identity_sent(&client.identity, client.anonymous_identity));
    if let Some(e) = &outcome.error {
        let mut r = error(server, e.kind(), e.to_string());
        r.identity_sent = identity;
        r.radius_round_trips = outcome.round_trips;
        r.radius_retransmissions = outcome.retransmissions;
        r.radius_result = outcome.last_code.map(|c| c.to_string());
        return r;
    }
    let mut r = RadiusReport {
        server,
        radius_round_trips: outcome.round_trips,
        radius_retransmissions: outcome.retransmissions,
        radius_result: outcome.last_code.map(|c| c.to_string()),
        msk_matches_mppe: outcome.msk_matches_mppe(),
        identity_sent: identity,
        ..RadiusReport::default()
    };
    let record = match &outcome.event {
        Some(Event::Authenticated(a)) => {
            r.outcome = "authenticated";
            r.tls_version = Some(a.version.as_str().trim_start_matches("TLS ").to_owned());
            r.cipher_suite = a.suite.map(|s| s.to_string());
            r.eap_round_trips = Some(a.round_trips);
            r.msk_fingerprint = Some(a.keys.msk.fingerprint().to_string());
            if let (true, Some(path)) = (a.persist, &client.table) {
                // As a device commits its table when a success raised the time floor.
                let floor = files.table.with(|t| t.time_floor());
                match crate::hal::table_file::raise_floor(path, floor) {
                    Ok(_) => log(format!(
                        "time floor raised to {floor}: saved to {}",
                        path.display()
                    )),
                    Err(e) => eprintln!("warning ({}): {e}", e.kind()),
                }
            }
            if r.msk_matches_mppe != Some(true) {
                r.error_kind = Some("mppe-mismatch".into());
                r.error =
                    Some("the MSK does not equal the MS-MPPE keys of the Access-Accept".into());
            }
            a.certificate.clone()
        }
        Some(Event::Failed(f)) => {
            r.outcome = "failed";
            r.error_kind = Some(f.kind().as_str().into());
            let verdict = match outcome.last_code {
                Some(crate::auth::radius::Code::AccessReject) => " (RADIUS Access-Reject)",
                _ => "",
            };
            r.error = Some(match &outcome.reply_message {
                Some(m) => format!("{f}{verdict} (server says: {m})"),
                None => format!("{f}{verdict}"),
            });
            sup.conversation().certificate.cloned()
        }
        Some(_) | None => {
            r.outcome = "error";
            r.error_kind = Some("stalled".into());
            r.error = Some("the EAP conversation did not end".into());
            None
        }
    };
    // The slot whose certificate was offered, on every outcome (a server that rejects the
    // device after its certificate is exactly when the admin needs to know which one).
    let slot_files: Vec<_> = files
        .slots
        .iter()
        .map(|s| (s.index.get(), s.cert.clone()))
        .collect();
    let accepted = matches!(
        sup.conversation().server,
        Some(latchkey_core::tls::ServerVerdict::Accepted { .. })
    );
    let mut rep = Report::default();
    rep.set_selection(record.as_ref(), accepted, &slot_files, started);
    rep.set_server_certificate(sup.conversation().server_certificate);
    r.slot = rep.slot;
    r.slot_file = rep.slot_file;
    r.selection = rep.selection;
    r.skipped_slots = rep.skipped_slots;
    r.client_certificate = rep.client_certificate;
    r.server_certificate = rep.server_certificate;
    if let (None, Some(i), Some(_)) = (&r.client_certificate, r.slot, &client.table) {
        // A table file's slot has no certificate file: read the certificate from the table.
        let der = files
            .table
            .with(|t| t.get(SlotIndex::new(i)).map(|s| s.der().to_vec()));
        r.client_certificate = der.and_then(|d| report_schema::client_certificate_of(&d, started));
    }
    r
}
