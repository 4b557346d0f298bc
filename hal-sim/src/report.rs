//! The result of one `latchkey-sim radius` run, for people (a log and a summary line) and for
//! machines (`--json`): outcome, error kind, TLS version and suite, the slot used and why,
//! round trips, MSK fingerprint and whether it equals the server's MS-MPPE keys.

use latchkey_core::supplicant::Event;
use serde_json::{json, Value};

use crate::capture::CaptureArgs;
use crate::config::{ClientArgs, ClientFiles};
use crate::relay::{self, RadiusArgs};

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
}

impl RadiusReport {
    /// Authenticated, and the MSK matched the server's keys.
    pub fn ok(&self) -> bool {
        self.outcome == "authenticated" && self.msk_matches_mppe == Some(true)
    }

    /// The machine-readable result.
    pub fn to_json(&self) -> Value {
        json!({
            "outcome": self.outcome,
            "error_kind": self.error_kind,
            "error": self.error,
            "server": self.server,
            "tls_version": self.tls_version,
            "cipher_suite": self.cipher_suite,
            "slot": self.slot,
            "slot_file": self.slot_file,
            "selection": self.selection,
            "eap_round_trips": self.eap_round_trips,
            "radius_round_trips": self.radius_round_trips,
            "radius_retransmissions": self.radius_retransmissions,
            "radius_result": self.radius_result,
            "msk_fingerprint": self.msk_fingerprint,
            "msk_matches_mppe": self.msk_matches_mppe,
        })
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
    let server = radius.server.to_string();
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
    if let Some(e) = &outcome.error {
        let mut r = error(server, e.kind(), e.to_string());
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
        ..RadiusReport::default()
    };
    let record = match &outcome.event {
        Some(Event::Authenticated(a)) => {
            r.outcome = "authenticated";
            r.tls_version = Some(a.version.as_str().trim_start_matches("TLS ").to_owned());
            r.cipher_suite = a.suite.map(|s| s.to_string());
            r.eap_round_trips = Some(a.round_trips);
            r.msk_fingerprint = Some(a.keys.msk.fingerprint().to_string());
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
                Some(crate::radius::Code::AccessReject) => " (RADIUS Access-Reject)",
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
    if let Some(sel) = record.map(|rec| rec.selection) {
        r.selection = Some(sel.to_string());
        // A slot counts as used only when the authentication succeeded (TLS 1.3 selects on
        // the CertificateRequest, before the server's chain is verified).
        if let (Some(i), "authenticated") = (sel.chosen, r.outcome) {
            r.slot = Some(i.get());
            r.slot_file = files
                .slots
                .iter()
                .find(|s| s.index == i)
                .map(|s| s.cert.display().to_string());
        }
    }
    r
}
