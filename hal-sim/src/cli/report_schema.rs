//! The one machine-readable report of `latchkey-sim radius --json` and `latchkey-sim connect
//! --json` (schema version [`SCHEMA_VERSION`]): the same field names and meanings for both,
//! every field present on every outcome (null where it does not apply or is not known), and
//! the same object for argument and configuration errors. `latchkey-sim fleet --json` is a
//! report kind of its own ([`FLEET_FIELDS`], [`check_fleet_json`]) under the same version
//! rules. The README documents each field.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use latchkey_core::tls::ResolveRecord;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::Serialize;
use x509_cert::der::Decode;

/// Bumped when a field is removed or changes meaning (adding fields keeps it).
pub const SCHEMA_VERSION: u32 = 1;

/// Every field of the JSON object, in the README's order: a consumer can rely on each being
/// present (null when it does not apply).
pub const FIELDS: &[&str] = &[
    "schema_version",
    "command",
    "started_at",
    "elapsed_ms",
    "outcome",
    "error_kind",
    "error",
    "identity_sent",
    "tls_version",
    "cipher_suite",
    "slot",
    "slot_file",
    "selection",
    "skipped_slots",
    "client_certificate",
    "server_certificate",
    "eap_round_trips",
    "msk_fingerprint",
    "server",
    "radius_round_trips",
    "radius_retransmissions",
    "radius_result",
    "msk_matches_mppe",
    "iface",
    "mac",
    "authenticator",
    "frames_sent",
    "frames_received",
    "dropped_early_successes",
    "dropped_foreign_source",
];

/// One run's result, for `radius` and `connect` alike.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// "radius" or "connect".
    pub command: &'static str,
    /// When the run started, RFC 3339 UTC.
    pub started_at: Option<String>,
    /// Wall time from start to the verdict (or to the error), ms.
    pub elapsed_ms: u64,
    /// "authenticated", "failed" (the supplicant's or the server's verdict) or "error"
    /// (arguments, configuration, transport: nothing was decided).
    pub outcome: &'static str,
    /// Stable name of the cause when not authenticated (`FailKind` names for "failed").
    pub error_kind: Option<String>,
    /// One line saying what went wrong.
    pub error: Option<String>,
    /// The outer EAP identity sent (only the realm with `--anonymous-identity`).
    pub identity_sent: Option<String>,
    /// "1.2" or "1.3", when authenticated.
    pub tls_version: Option<String>,
    /// The negotiated cipher suite, when authenticated.
    pub cipher_suite: Option<String>,
    /// The slot whose certificate was offered to the server (on every outcome; null when
    /// none was offered).
    pub slot: Option<usize>,
    /// The certificate file of that slot.
    pub slot_file: Option<String>,
    /// The selection in words (chosen slot, why each other lost, the time used).
    pub selection: Option<String>,
    /// Every other slot with its file and why it was not chosen.
    pub skipped_slots: Vec<SkippedSlot>,
    /// The offered certificate's serial and expiry.
    pub client_certificate: Option<ClientCertificate>,
    /// The certificate the server presented (accepted or refused by us), once seen.
    pub server_certificate: Option<ServerCertificate>,
    /// EAP requests the supplicant answered, when authenticated.
    pub eap_round_trips: Option<u16>,
    /// First 8 bytes of SHA-256(MSK), hex, when authenticated.
    pub msk_fingerprint: Option<String>,
    /// `radius`: the RADIUS server, IP:PORT.
    pub server: Option<String>,
    /// `radius`: Access-Requests sent (without retransmissions).
    pub radius_round_trips: Option<u32>,
    /// `radius`: retransmitted Access-Requests.
    pub radius_retransmissions: Option<u32>,
    /// `radius`: the RADIUS reply that led to the verdict.
    pub radius_result: Option<String>,
    /// `radius`: the MSK equals the Access-Accept's MS-MPPE keys.
    pub msk_matches_mppe: Option<bool>,
    /// `connect`: the interface.
    pub iface: Option<String>,
    /// `connect`: our MAC address.
    pub mac: Option<String>,
    /// `connect`: the authenticator's MAC address, if it spoke.
    pub authenticator: Option<String>,
    /// `connect`: EAPOL frames sent.
    pub frames_sent: Option<usize>,
    /// `connect`: EAPOL frames received for us.
    pub frames_received: Option<usize>,
    /// `connect`: EAP-Successes dropped because they came before the method's success.
    pub dropped_early_successes: Option<u32>,
    /// `connect`: frames dropped because they came from another station.
    pub dropped_foreign_source: Option<u32>,
}

/// A slot that was not chosen.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SkippedSlot {
    /// Its position in the table.
    pub slot: usize,
    /// Its certificate file.
    pub file: Option<String>,
    /// Why it lost, in words.
    pub reason: String,
}

/// The offered client certificate.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClientCertificate {
    /// Serial number, hex.
    pub serial: String,
    /// notAfter, RFC 3339 UTC.
    pub not_after: String,
    /// Whole days from the run's start to notAfter (negative once expired).
    pub days_left: i64,
}

/// The certificate the server presented.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServerCertificate {
    /// Subject, as `CN=..., O=...`.
    pub subject: String,
    /// Issuer, as text.
    pub issuer: String,
    /// notAfter, RFC 3339 UTC.
    pub not_after: String,
    /// SHA-256 of the DER certificate, lowercase hex (`openssl x509 -fingerprint -sha256`
    /// without the colons).
    pub sha256: String,
}

impl std::fmt::Display for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, issued by {}, expires {}, SHA-256 {}",
            self.subject, self.issuer, self.not_after, self.sha256
        )
    }
}

impl Report {
    /// An empty report of `command` started at `started`.
    pub fn new(command: &'static str, started: SystemTime) -> Self {
        Report {
            schema_version: SCHEMA_VERSION,
            command,
            started_at: rfc3339(started),
            ..Report::default()
        }
    }

    /// An argument or configuration error: nothing was tried.
    pub fn error(command: &'static str, kind: &str, message: String) -> Self {
        Report {
            outcome: "error",
            error_kind: Some(kind.into()),
            error: Some(message),
            ..Report::new(command, SystemTime::now())
        }
    }

    /// Fill the slot fields from what the certificate resolver recorded; `files` maps slot
    /// positions to certificate files. The chosen certificate counts as offered only once the
    /// server passed our checks (`server_accepted`): TLS 1.3 selects on the CertificateRequest,
    /// before the server's own certificate is verified, and a refused server gets nothing.
    pub fn set_selection(
        &mut self,
        record: Option<&ResolveRecord>,
        server_accepted: bool,
        files: &[(usize, PathBuf)],
        started: SystemTime,
    ) {
        let Some(sel) = record.map(|r| &r.selection) else {
            return;
        };
        let file = |i: usize| files.iter().find(|(j, _)| *j == i).map(|(_, p)| p);
        self.selection = Some(sel.to_string());
        self.skipped_slots = sel
            .skipped
            .iter()
            .map(|(i, r)| SkippedSlot {
                slot: i.get(),
                file: file(i.get()).map(|p| p.display().to_string()),
                reason: r.to_string(),
            })
            .collect();
        let offered = server_accepted && record.is_some_and(|r| r.offered);
        if let (Some(i), true) = (sel.chosen, offered) {
            self.slot = Some(i.get());
            self.slot_file = file(i.get()).map(|p| p.display().to_string());
            self.client_certificate = file(i.get()).and_then(|p| client_certificate(p, started));
        }
    }

    /// Fill `server_certificate` from what the server verifier saw.
    pub fn set_server_certificate(&mut self, cert: Option<&latchkey_core::tls::ServerCertificate>) {
        self.server_certificate = cert.map(|c| ServerCertificate {
            subject: c.subject.to_string(),
            issuer: c.issuer.to_string(),
            not_after: rfc3339(UNIX_EPOCH + std::time::Duration::from_secs(c.not_after))
                .unwrap_or_default(),
            sha256: c.sha256.iter().map(|b| format!("{b:02x}")).collect(),
        });
    }

    /// The JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Check that `j` is a report of this schema: exactly [`FIELDS`], the version, the value
/// types, `error_kind` and `error` present exactly when not authenticated. For consumers'
/// tests and ours; the message names the first violation.
pub fn check_json(j: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    let o = j.as_object().ok_or("not a JSON object")?;
    let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
    let mut want = FIELDS.to_vec();
    keys.sort_unstable();
    want.sort_unstable();
    if keys != want {
        return Err(format!("fields {keys:?}, want {want:?}"));
    }
    let is = |k: &str, ok: fn(&Value) -> bool| -> Result<(), String> {
        match o.get(k) {
            Some(v) if ok(v) => Ok(()),
            v => Err(format!("{k}: unexpected {v:?}")),
        }
    };
    let opt_str = |v: &Value| v.is_null() || v.is_string();
    let opt_num = |v: &Value| v.is_null() || v.is_u64();
    let opt_bool = |v: &Value| v.is_null() || v.is_boolean();
    is("schema_version", |v| {
        v.as_u64() == Some(u64::from(SCHEMA_VERSION))
    })?;
    is("command", |v| {
        matches!(v.as_str(), Some("radius" | "connect"))
    })?;
    is("started_at", |v| {
        v.as_str().is_some_and(|t| t.ends_with('Z'))
    })?;
    is("elapsed_ms", Value::is_u64)?;
    is("outcome", |v| {
        matches!(v.as_str(), Some("authenticated" | "failed" | "error"))
    })?;
    for k in [
        "error_kind",
        "error",
        "identity_sent",
        "tls_version",
        "cipher_suite",
        "slot_file",
        "selection",
        "msk_fingerprint",
        "server",
        "radius_result",
        "iface",
        "mac",
        "authenticator",
    ] {
        is(k, opt_str)?;
    }
    for k in [
        "slot",
        "eap_round_trips",
        "radius_round_trips",
        "radius_retransmissions",
        "frames_sent",
        "frames_received",
        "dropped_early_successes",
        "dropped_foreign_source",
    ] {
        is(k, opt_num)?;
    }
    is("msk_matches_mppe", opt_bool)?;
    is("skipped_slots", |v| {
        v.as_array().is_some_and(|a| {
            a.iter().all(|s| {
                s["slot"].is_u64()
                    && (s["file"].is_null() || s["file"].is_string())
                    && s["reason"].is_string()
            })
        })
    })?;
    is("server_certificate", |v| {
        v.is_null()
            || (v["subject"].is_string()
                && v["issuer"].is_string()
                && v["not_after"].is_string()
                && v["sha256"]
                    .as_str()
                    .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())))
    })?;
    is("client_certificate", |v| {
        v.is_null()
            || (v["serial"].is_string() && v["not_after"].is_string() && v["days_left"].is_i64())
    })?;
    let authenticated = o.get("outcome").and_then(Value::as_str) == Some("authenticated");
    let has_kind = o.get("error_kind").is_some_and(|v| !v.is_null());
    if authenticated == has_kind && o.get("error_kind").is_some() {
        // A success with an error kind is allowed only for radius' mppe-mismatch.
        if !(authenticated && o["error_kind"] == "mppe-mismatch") {
            return Err(format!(
                "error_kind {} with outcome {}",
                o["error_kind"], o["outcome"]
            ));
        }
    }
    Ok(())
}

/// Every field of the `fleet --json` object (a report kind of its own, same
/// [`SCHEMA_VERSION`] rules), in the README's order.
pub const FLEET_FIELDS: &[&str] = &[
    "schema_version",
    "command",
    "started_at",
    "elapsed_ms",
    "outcome",
    "error_kind",
    "error",
    "scenario",
    "server",
    "devices",
    "renewed",
    "concurrency",
    "latchkey",
    "eapol_test",
    "device_results",
    "eapol_test_results",
];

/// Every field of a fleet summary (`latchkey`, `eapol_test`).
pub const FLEET_SUMMARY_FIELDS: &[&str] = &[
    "client",
    "devices",
    "authenticated",
    "failed",
    "hangs",
    "not_started",
    "as_expected",
    "wall_ms",
    "auth_per_s",
    "verdicts_per_s",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "round_trips_authenticated",
    "round_trips_failed",
    "retransmissions",
    "retransmissions_per_device",
];

/// Every field of one device's result (`device_results`, `eapol_test_results`).
pub const FLEET_DEVICE_FIELDS: &[&str] = &[
    "device",
    "identity",
    "calling_station_id",
    "renewed",
    "outcome",
    "error_kind",
    "error",
    "serial_sent",
    "archived_sent",
    "expected",
    "as_expected",
    "latency_ms",
    "radius_round_trips",
    "radius_retransmissions",
];

fn same_keys(
    what: &str,
    o: &serde_json::Map<String, serde_json::Value>,
    want: &[&str],
) -> Result<(), String> {
    let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
    let mut want = want.to_vec();
    keys.sort_unstable();
    want.sort_unstable();
    if keys != want {
        return Err(format!("{what}: fields {keys:?}, want {want:?}"));
    }
    Ok(())
}

/// Check that `j` is a `fleet` report of this schema: exactly [`FLEET_FIELDS`] (and the
/// summary and device fields), the version, the value types, `error_kind` and `error` present
/// exactly when not passed. The message names the first violation.
pub fn check_fleet_json(j: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    let o = j.as_object().ok_or("not a JSON object")?;
    same_keys("report", o, FLEET_FIELDS)?;
    let bad = |k: &str| format!("{k}: unexpected {}", o.get(k).unwrap_or(&Value::Null));
    if o["schema_version"].as_u64() != Some(u64::from(SCHEMA_VERSION)) {
        return Err(bad("schema_version"));
    }
    if o["command"] != "fleet" {
        return Err(bad("command"));
    }
    if !o["started_at"].as_str().is_some_and(|t| t.ends_with('Z')) {
        return Err(bad("started_at"));
    }
    let outcome = o["outcome"].as_str().unwrap_or("");
    if !matches!(outcome, "passed" | "failed" | "error") {
        return Err(bad("outcome"));
    }
    for k in ["error_kind", "error"] {
        if o[k].is_null() != (outcome == "passed") || !(o[k].is_null() || o[k].is_string()) {
            return Err(format!("{}; outcome {outcome}", bad(k)));
        }
    }
    if !(o["scenario"].is_null()
        || matches!(o["scenario"].as_str(), Some("cold-start" | "renewal-wave")))
    {
        return Err(bad("scenario"));
    }
    if !(o["server"].is_null() || o["server"].is_string()) {
        return Err(bad("server"));
    }
    for k in ["elapsed_ms", "devices", "renewed", "concurrency"] {
        if !o[k].is_u64() {
            return Err(bad(k));
        }
    }
    for k in ["latchkey", "eapol_test"] {
        if o[k].is_null() {
            continue;
        }
        let sum = o[k].as_object().ok_or_else(|| bad(k))?;
        same_keys(k, sum, FLEET_SUMMARY_FIELDS)?;
        let num = |v: &Value| v.is_number();
        let opt_num = |v: &Value| v.is_null() || v.is_number();
        let ok = sum["client"].is_string()
            && sum["failed"]
                .as_object()
                .is_some_and(|f| f.values().all(Value::is_u64))
            && [
                "devices",
                "authenticated",
                "hangs",
                "not_started",
                "as_expected",
                "retransmissions",
            ]
            .iter()
            .all(|f| sum[*f].is_u64())
            && [
                "wall_ms",
                "auth_per_s",
                "verdicts_per_s",
                "retransmissions_per_device",
            ]
            .iter()
            .all(|f| num(&sum[*f]))
            && [
                "latency_p50_ms",
                "latency_p99_ms",
                "latency_max_ms",
                "round_trips_authenticated",
                "round_trips_failed",
            ]
            .iter()
            .all(|f| opt_num(&sum[*f]));
        if !ok {
            return Err(bad(k));
        }
    }
    for k in ["device_results", "eapol_test_results"] {
        let list = o[k].as_array().ok_or_else(|| bad(k))?;
        for d in list {
            let d = d.as_object().ok_or_else(|| bad(k))?;
            same_keys(k, d, FLEET_DEVICE_FIELDS)?;
            let opt_str = |v: &Value| v.is_null() || v.is_string();
            let ok = d["device"].is_u64()
                && d["identity"].is_string()
                && d["calling_station_id"].is_string()
                && d["renewed"].is_boolean()
                && matches!(
                    d["outcome"].as_str(),
                    Some("authenticated" | "failed" | "error" | "hang" | "not-started")
                )
                && opt_str(&d["error_kind"])
                && opt_str(&d["error"])
                && opt_str(&d["serial_sent"])
                && d["archived_sent"].is_boolean()
                && d["expected"].is_string()
                && d["as_expected"].is_boolean()
                && d["latency_ms"].is_number()
                && d["radius_round_trips"].is_u64()
                && d["radius_retransmissions"].is_u64()
                && (d["outcome"] == "authenticated") == d["error_kind"].is_null();
            if !ok {
                return Err(format!("{k}: unexpected {}", Value::Object(d.clone())));
            }
        }
    }
    Ok(())
}

/// `t` as RFC 3339 UTC (seconds).
pub fn rfc3339(t: SystemTime) -> Option<String> {
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let dt = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?).ok()?;
    dt.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The serial number (hex, the DER INTEGER's content octets) of the first certificate in the
/// PEM file `path`.
pub fn certificate_serial(path: &Path) -> Option<String> {
    let der = CertificateDer::pem_file_iter(path).ok()?.next()?.ok()?;
    let cert = x509_cert::Certificate::from_der(der.as_ref()).ok()?;
    Some(hex(cert.tbs_certificate.serial_number.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serial and expiry of the first certificate in the PEM file `path`.
fn client_certificate(path: &Path, started: SystemTime) -> Option<ClientCertificate> {
    let der = CertificateDer::pem_file_iter(path).ok()?.next()?.ok()?;
    client_certificate_of(der.as_ref(), started)
}

/// Serial and expiry of the certificate `der` (a slot table's, which has no file of its own).
pub fn client_certificate_of(der: &[u8], started: SystemTime) -> Option<ClientCertificate> {
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let tbs = &cert.tbs_certificate;
    let not_after = tbs.validity.not_after.to_system_time();
    let left = match not_after.duration_since(started) {
        Ok(d) => i64::try_from(d.as_secs() / 86_400).ok()?,
        Err(e) => -i64::try_from(e.duration().as_secs() / 86_400).ok()?,
    };
    Some(ClientCertificate {
        serial: hex(tbs.serial_number.as_bytes()),
        not_after: rfc3339(not_after)?,
        days_left: left,
    })
}

/// The outer identity the supplicant sends: `identity`, or only its realm (from the `@`)
/// with `anonymous` (RFC 9190 §2.1.8).
pub fn identity_sent(identity: &str, anonymous: bool) -> String {
    match (anonymous, identity.find('@')) {
        (true, Some(at)) => identity.get(at..).unwrap_or(identity).to_owned(),
        _ => identity.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_reports_are_checked_field_by_field() {
        let mut j = crate::fleet::FleetReport::error("bad-pki", "no fleet.json".into()).to_json();
        check_fleet_json(&j).unwrap();
        j["outcome"] = "passed".into();
        assert!(check_fleet_json(&j).unwrap_err().contains("error_kind"));
        j["outcome"] = "error".into();
        j.as_object_mut().unwrap().remove("eapol_test");
        assert!(check_fleet_json(&j).unwrap_err().contains("fields"));
        j["eapol_test"] = serde_json::Value::Null;
        j["device_results"] = serde_json::json!([{"device": 1}]);
        assert!(check_fleet_json(&j).unwrap_err().contains("device_results"));
        // A radius report is not a fleet report, nor the other way round.
        let r = Report::error("radius", "bad-arguments", "x".into()).to_json();
        assert!(check_fleet_json(&r).is_err());
        assert!(check_json(&crate::fleet::FleetReport::error("x", "y".into()).to_json()).is_err());
    }

    #[test]
    fn anonymous_identity_keeps_the_realm_only() {
        assert_eq!(identity_sent("dev@example.org", true), "@example.org");
        assert_eq!(identity_sent("dev@example.org", false), "dev@example.org");
    }

    #[test]
    fn every_field_is_present_in_the_json_even_when_unknown() {
        let j = Report::error("radius", "bad-arguments", "no --ca".into()).to_json();
        let mut keys: Vec<&str> = j.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut want = FIELDS.to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want, "{j}");
        check_json(&j).unwrap();
        assert_eq!(j["schema_version"], SCHEMA_VERSION);
        assert_eq!(j["outcome"], "error");
        assert!(j["started_at"].as_str().unwrap().ends_with('Z'), "{j}");
        assert!(j["slot"].is_null() && j["skipped_slots"].as_array().unwrap().is_empty());
    }
}
