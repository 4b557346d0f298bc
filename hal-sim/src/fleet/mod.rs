//! `latchkey-sim fleet`: N supplicants at once through the RADIUS relay against one real
//! RADIUS server, each device with its own slot table, certificates from the fleet PKI
//! ([`crate::fleet::pki`]), UDP socket, RADIUS identifier space and Calling-Station-Id
//! (`02-00-00-00-HH-LL`, HHLL its number). Scenarios: a cold start (every device at once with
//! its one current certificate) and a renewal wave (every old certificate revoked by the
//! server's CRL and archived in its device's table; nine devices in ten hold a renewed active
//! certificate, the tenth only the old one, active). Concurrency, each device and the whole
//! run are bounded in time; a device without a verdict within its timers is a hang. The same
//! devices can then run as `eapol_test` processes, same concurrency and certificates, for a
//! side-by-side table.

pub mod pki;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use clap::ValueEnum;
use serde::Serialize;

use crate::cli::args::RadiusArgs;
use crate::cli::args::{FleetArgs, FleetPkiArgs};
use crate::cli::config::{ClientArgs, SlotSpec, SlotStateArg, TlsArg};
use crate::cli::report::{self, RadiusReport};
use crate::cli::report_schema;
use crate::fleet::pki::{CertPair, FleetPki, SERVER_NAME};

/// Most devices running at once.
pub const MAX_CONCURRENCY: usize = 256;
/// A device's time bound when `-t` is not given, seconds (its own timers run inside it).
pub const DEFAULT_DEVICE_TIMEOUT_S: u64 = 30;
/// How long past its own bound the pool waits for a device before reporting it as a hang.
const POOL_GRACE_S: u64 = 10;
/// Stack of each device thread (the supplicant's buffers live on the heap; TLS wants room).
const DEVICE_STACK: usize = 4 * 1024 * 1024;

/// The scenario a fleet runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Every device at once, each with its one current (renewed, unrevoked) certificate.
    ColdStart,
    /// Old certificates revoked by the server's CRL and archived in each table; 9 devices in
    /// 10 (those whose number is not a multiple of 10) hold a renewed active one, the rest
    /// only the old one, active.
    RenewalWave,
}

impl Scenario {
    /// Its command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::ColdStart => "cold-start",
            Scenario::RenewalWave => "renewal-wave",
        }
    }
}

/// What one device holds and what the scenario says must happen to it.
#[derive(Debug, Clone)]
pub struct DevicePlan {
    /// 1-based number.
    pub number: usize,
    /// EAP identity.
    pub identity: String,
    /// Calling-Station-Id, `02-00-00-00-HH-LL`.
    pub mac: [u8; 6],
    /// It holds a renewed certificate (active) next to its archived old one.
    pub renewed: bool,
    /// Its slot table, in enrollment order.
    pub slots: Vec<SlotSpec>,
    /// The certificate its table would choose (what `eapol_test` is given).
    pub active: CertPair,
    /// Its old certificate's serial (revoked by the server's CRL).
    pub old_serial: String,
    /// The verdict it must get: authenticated, or failed with `rejected-certificate`.
    pub must_authenticate: bool,
}

impl DevicePlan {
    /// The Calling-Station-Id as sent (`02-00-00-00-00-01`).
    pub fn mac_text(&self) -> String {
        mac_text(self.mac)
    }

    /// What must happen, in words.
    pub fn expected(&self) -> String {
        if self.must_authenticate {
            format!("authenticated with serial {}", self.active.serial)
        } else {
            format!(
                "failed rejected-certificate with serial {} (revoked)",
                self.active.serial
            )
        }
    }
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join("-")
}

/// The devices of `scenario`: the PKI's first `devices`.
pub fn plan(pki: &FleetPki, scenario: Scenario, devices: usize) -> Vec<DevicePlan> {
    (1..=devices)
        .map(|number| {
            let f = pki.device(number);
            let [.., hi, lo] = u64::try_from(number).unwrap_or(0).to_be_bytes();
            let mac = [0x02, 0, 0, 0, hi, lo];
            let slot = |state, c: &CertPair| SlotSpec {
                state,
                cert: c.cert.clone(),
                key: c.key.clone(),
            };
            let (renewed, slots, active) = match scenario {
                Scenario::ColdStart => (
                    true,
                    vec![slot(SlotStateArg::Active, &f.new)],
                    f.new.clone(),
                ),
                Scenario::RenewalWave if number % 10 != 0 => (
                    true,
                    vec![
                        slot(SlotStateArg::Archived, &f.old),
                        slot(SlotStateArg::Active, &f.new),
                    ],
                    f.new.clone(),
                ),
                Scenario::RenewalWave => (
                    false,
                    vec![slot(SlotStateArg::Active, &f.old)],
                    f.old.clone(),
                ),
            };
            DevicePlan {
                number,
                identity: f.identity,
                mac,
                renewed,
                slots,
                active,
                old_serial: f.old.serial,
                must_authenticate: renewed,
            }
        })
        .collect()
}

/// How one device ended.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceResult {
    /// 1-based number.
    pub device: usize,
    /// EAP identity.
    pub identity: String,
    /// Calling-Station-Id sent.
    pub calling_station_id: String,
    /// It held a renewed certificate.
    pub renewed: bool,
    /// "authenticated", "failed" (a verdict), "error" (transport: no verdict), "hang" (no
    /// verdict within its timers) or "not-started" (the run's time bound came first).
    pub outcome: &'static str,
    /// Stable name of the cause when not authenticated.
    pub error_kind: Option<String>,
    /// One line saying what went wrong.
    pub error: Option<String>,
    /// Serial (hex) of the certificate sent to the server (for `eapol_test`: the one
    /// certificate it was given, sent when the server asked).
    pub serial_sent: Option<String>,
    /// The certificate sent was the device's archived (old, revoked) one.
    pub archived_sent: bool,
    /// What the scenario says must happen.
    pub expected: String,
    /// It happened.
    pub as_expected: bool,
    /// Start to verdict, milliseconds (building the client from its files included; for
    /// `eapol_test` the process's whole life).
    pub latency_ms: f64,
    /// Access-Requests sent (without retransmissions).
    pub radius_round_trips: u32,
    /// Retransmitted Access-Requests.
    pub radius_retransmissions: u32,
}

/// One client's totals over the fleet.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// "latchkey" or "eapol_test".
    pub client: &'static str,
    /// Devices run (or not started).
    pub devices: usize,
    /// Devices authenticated.
    pub authenticated: usize,
    /// Devices failed (with a verdict or a transport error), by kind.
    pub failed: BTreeMap<String, usize>,
    /// Devices that hung.
    pub hangs: usize,
    /// Devices not started within the run's time bound.
    pub not_started: usize,
    /// Devices that ended as the scenario says.
    pub as_expected: usize,
    /// Wall time of the whole fleet, ms.
    pub wall_ms: f64,
    /// Authentications (successes) per second of wall time.
    pub auth_per_s: f64,
    /// Verdicts (successes and failures) per second of wall time.
    pub verdicts_per_s: f64,
    /// Median latency of the devices with a verdict, ms.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile latency (nearest rank), ms.
    pub latency_p99_ms: Option<f64>,
    /// Largest latency, ms.
    pub latency_max_ms: Option<f64>,
    /// Mean RADIUS round trips of an authenticated device.
    pub round_trips_authenticated: Option<f64>,
    /// Mean RADIUS round trips of a failed device.
    pub round_trips_failed: Option<f64>,
    /// Retransmitted Access-Requests, all devices.
    pub retransmissions: u32,
    /// Retransmissions per device.
    pub retransmissions_per_device: f64,
}

/// The `fleet --json` report.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// [`report_schema::SCHEMA_VERSION`].
    pub schema_version: u32,
    /// "fleet".
    pub command: &'static str,
    /// When the run started, RFC 3339 UTC.
    pub started_at: Option<String>,
    /// Whole run, ms.
    pub elapsed_ms: u64,
    /// "passed" (every device as the scenario says, nothing hung), "failed" or "error"
    /// (nothing ran: arguments, PKI).
    pub outcome: &'static str,
    /// Stable cause when not passed: "unexpected-outcome", "hang", "not-started", or the
    /// error's kind.
    pub error_kind: Option<String>,
    /// One line.
    pub error: Option<String>,
    /// The scenario.
    pub scenario: Option<Scenario>,
    /// The RADIUS server, IP:PORT.
    pub server: Option<String>,
    /// Devices.
    pub devices: usize,
    /// Devices that held a renewed certificate.
    pub renewed: usize,
    /// Devices at once.
    pub concurrency: usize,
    /// Latchkey's totals.
    pub latchkey: Option<Summary>,
    /// `eapol_test`'s totals (with `--compare-eapol-test`).
    pub eapol_test: Option<Summary>,
    /// Each Latchkey device.
    pub device_results: Vec<DeviceResult>,
    /// Each `eapol_test` device.
    pub eapol_test_results: Vec<DeviceResult>,
}

impl FleetReport {
    /// Nothing ran: an argument or PKI error of `kind`.
    pub fn error(kind: &str, message: String) -> Self {
        FleetReport {
            schema_version: report_schema::SCHEMA_VERSION,
            command: "fleet",
            started_at: report_schema::rfc3339(SystemTime::now()),
            elapsed_ms: 0,
            outcome: "error",
            error_kind: Some(kind.into()),
            error: Some(message),
            scenario: None,
            server: None,
            devices: 0,
            renewed: 0,
            concurrency: 0,
            latchkey: None,
            eapol_test: None,
            device_results: Vec::new(),
            eapol_test_results: Vec::new(),
        }
    }

    /// The JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Nearest-rank percentile of sorted `v`.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn mean(v: impl Iterator<Item = u32>) -> Option<f64> {
    let (n, sum) = v.fold((0u64, 0u64), |(n, s), x| (n + 1, s + u64::from(x)));
    (n > 0).then(|| sum as f64 / n as f64)
}

/// Totals of `results` over `wall` time.
pub fn summarize(client: &'static str, results: &[DeviceResult], wall: Duration) -> Summary {
    let wall_s = wall.as_secs_f64().max(1e-9);
    let mut failed = BTreeMap::new();
    for r in results
        .iter()
        .filter(|r| matches!(r.outcome, "failed" | "error"))
    {
        *failed
            .entry(r.error_kind.clone().unwrap_or_else(|| "unknown".into()))
            .or_insert(0) += 1;
    }
    let verdicts: Vec<&DeviceResult> = results
        .iter()
        .filter(|r| matches!(r.outcome, "authenticated" | "failed"))
        .collect();
    let mut lat: Vec<f64> = verdicts.iter().map(|r| r.latency_ms).collect();
    lat.sort_by(f64::total_cmp);
    let authenticated = results
        .iter()
        .filter(|r| r.outcome == "authenticated")
        .count();
    let retransmissions = results.iter().map(|r| r.radius_retransmissions).sum();
    Summary {
        client,
        devices: results.len(),
        authenticated,
        failed,
        hangs: results.iter().filter(|r| r.outcome == "hang").count(),
        not_started: results
            .iter()
            .filter(|r| r.outcome == "not-started")
            .count(),
        as_expected: results.iter().filter(|r| r.as_expected).count(),
        wall_ms: wall.as_secs_f64() * 1000.0,
        auth_per_s: authenticated as f64 / wall_s,
        verdicts_per_s: verdicts.len() as f64 / wall_s,
        latency_p50_ms: percentile(&lat, 50.0),
        latency_p99_ms: percentile(&lat, 99.0),
        latency_max_ms: lat.last().copied(),
        round_trips_authenticated: mean(
            results
                .iter()
                .filter(|r| r.outcome == "authenticated")
                .map(|r| r.radius_round_trips),
        ),
        round_trips_failed: mean(
            results
                .iter()
                .filter(|r| r.outcome == "failed")
                .map(|r| r.radius_round_trips),
        ),
        retransmissions,
        retransmissions_per_device: f64::from(retransmissions) / results.len().max(1) as f64,
    }
}

fn blank(p: &DevicePlan, outcome: &'static str) -> DeviceResult {
    DeviceResult {
        device: p.number,
        identity: p.identity.clone(),
        calling_station_id: p.mac_text(),
        renewed: p.renewed,
        outcome,
        error_kind: None,
        error: None,
        serial_sent: None,
        archived_sent: false,
        expected: p.expected(),
        as_expected: false,
        latency_ms: 0.0,
        radius_round_trips: 0,
        radius_retransmissions: 0,
    }
}

fn not_started(p: &DevicePlan, why: &str) -> DeviceResult {
    let mut b = blank(p, "not-started");
    b.error_kind = Some("not-started".into());
    b.error = Some(why.into());
    b
}

/// Whether `r` is what `p`'s scenario says: authenticated with its active serial, or failed
/// `rejected_kind` having sent its active (old, revoked) serial: `rejected-certificate` for
/// Latchkey, `access-reject` for `eapol_test`, which has no failure kinds of its own.
fn judge(p: &DevicePlan, r: &mut DeviceResult, rejected_kind: &str) {
    r.archived_sent = p.renewed && r.serial_sent.as_deref() == Some(p.old_serial.as_str());
    let serial_ok = r.serial_sent.as_deref() == Some(p.active.serial.as_str());
    r.as_expected = serial_ok
        && !r.archived_sent
        && if p.must_authenticate {
            r.outcome == "authenticated"
        } else {
            r.outcome == "failed" && r.error_kind.as_deref() == Some(rejected_kind)
        };
}

/// A device's work, run on a pool thread.
type Work = Arc<dyn Fn(&DevicePlan) -> DeviceResult + Send + Sync>;

/// Run each device's work on `concurrency` threads, in device order, none started after
/// `deadline` (those are "not-started"). Each started device must end within `device_bound`
/// of the deadline at the latest: the pool waits for no thread beyond that, and a device still
/// running then is reported as a hang (its thread is left behind, so a stuck device can never
/// hold up the run).
fn pool(
    plan: &[DevicePlan],
    concurrency: usize,
    deadline: Instant,
    device_bound: Duration,
    work: Work,
) -> Vec<DeviceResult> {
    let shared: Arc<Vec<DevicePlan>> = Arc::new(plan.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let started: Arc<Vec<AtomicBool>> =
        Arc::new(plan.iter().map(|_| AtomicBool::new(false)).collect());
    let (tx, rx) = mpsc::channel::<(usize, DeviceResult)>();
    for _ in 0..concurrency.clamp(1, MAX_CONCURRENCY).min(plan.len()) {
        let (shared, next, started, tx, work) = (
            shared.clone(),
            next.clone(),
            started.clone(),
            tx.clone(),
            work.clone(),
        );
        let spawned = std::thread::Builder::new()
            .stack_size(DEVICE_STACK)
            .spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = shared.get(i) else { break };
                let r = if Instant::now() >= deadline {
                    not_started(p, "not started within --time-limit-s")
                } else {
                    if let Some(flag) = started.get(i) {
                        flag.store(true, Ordering::Relaxed);
                    }
                    work(p)
                };
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        // Fewer threads if the system refuses one: the others take its devices.
        if spawned.is_err() {
            break;
        }
    }
    drop(tx);
    let hard_end = deadline + device_bound;
    let mut results: Vec<Option<DeviceResult>> = vec![None; plan.len()];
    let mut pending = plan.len();
    while pending > 0 {
        let left = hard_end.saturating_duration_since(Instant::now());
        // A timeout, or every thread gone: what is missing is reported below.
        let Ok((i, r)) = rx.recv_timeout(left) else {
            break;
        };
        if let Some(slot) = results.get_mut(i) {
            if slot.replace(r).is_none() {
                pending = pending.saturating_sub(1);
            }
        }
    }
    plan.iter()
        .zip(results)
        .zip(started.iter())
        .map(|((p, r), was_started)| {
            r.unwrap_or_else(|| {
                if was_started.load(Ordering::Relaxed) {
                    let mut h = blank(p, "hang");
                    h.error_kind = Some("hang".into());
                    h.error = Some(format!(
                        "no verdict {} s after the run's time limit: still running, abandoned",
                        device_bound.as_secs()
                    ));
                    h
                } else {
                    not_started(p, "no thread could run it")
                }
            })
        })
        .collect()
}

fn client_args(pki: &FleetPki, p: &DevicePlan, tls: TlsArg) -> ClientArgs {
    ClientArgs {
        ca: vec![pki.ca.clone()],
        server_name: vec![SERVER_NAME.into()],
        domain_suffix: vec![],
        identity: p.identity.clone(),
        anonymous_identity: false,
        pins: vec![],
        slots: p.slots.clone(),
        table: None,
        key_pass: None,
        chain: vec![],
        tls,
        fragment_size: 1398,
        auth_period_ms: 30_000,
    }
}

/// One Latchkey device through the relay.
fn latchkey_device(
    pki: &FleetPki,
    p: &DevicePlan,
    radius: &RadiusArgs,
    tls: TlsArg,
) -> DeviceResult {
    let mut args = radius.clone();
    args.calling_station_id = Some(p.mac);
    args.overall_timeout = Some(radius.overall_timeout.unwrap_or(DEFAULT_DEVICE_TIMEOUT_S));
    let client = client_args(pki, p, tls);
    let start = Instant::now();
    let rep: RadiusReport = report::run_radius(&args, &client, &mut |_| {});
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let outcome = match (rep.outcome, rep.error_kind.as_deref()) {
        ("authenticated", None) => "authenticated",
        // Authenticated with an MSK the server does not have: a failure.
        ("authenticated", Some(_)) | ("failed", _) => "failed",
        // The relay's own time bounds: no verdict within the timers.
        ("error", Some("timeout" | "stalled")) => "hang",
        _ => "error",
    };
    let mut r = blank(p, outcome);
    r.error_kind = rep.error_kind.clone();
    r.error = rep.error.clone();
    r.serial_sent = rep.client_certificate.as_ref().map(|c| c.serial.clone());
    r.latency_ms = latency_ms;
    r.radius_round_trips = rep.radius_round_trips;
    r.radius_retransmissions = rep.radius_retransmissions;
    judge(p, &mut r, "rejected-certificate");
    r
}

/// Run the fleet with Latchkey; returns each device's result and the wall time.
pub fn run_latchkey(
    pki: &FleetPki,
    plan: &[DevicePlan],
    radius: &RadiusArgs,
    tls: TlsArg,
    concurrency: usize,
    time_limit: Duration,
) -> (Vec<DeviceResult>, Duration) {
    let start = Instant::now();
    let device_s = radius.overall_timeout.unwrap_or(DEFAULT_DEVICE_TIMEOUT_S);
    let (pki, radius) = (pki.clone(), radius.clone());
    let work: Work = Arc::new(move |p| latchkey_device(&pki, p, &radius, tls));
    let results = pool(
        plan,
        concurrency,
        start + time_limit,
        Duration::from_secs(device_s.saturating_add(POOL_GRACE_S)),
        work,
    );
    (results, start.elapsed())
}

/// Why the fleet could not run at all.
#[derive(Debug)]
pub enum FleetError {
    /// The PKI directory is not usable.
    Pki(crate::fleet::pki::FleetPkiError),
    /// An argument is out of range or not allowed here.
    Arguments(String),
    /// The shared secret could not be read.
    Secret(crate::auth::relay::RelayError),
    /// `eapol_test` is not installed.
    EapolTestMissing,
    /// A file of the `eapol_test` run could not be written.
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for FleetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FleetError::Pki(e) => e.fmt(f),
            FleetError::Arguments(m) => f.write_str(m),
            FleetError::Secret(e) => e.fmt(f),
            FleetError::EapolTestMissing => f.write_str(
                "eapol_test not found in PATH (Debian package eapoltest): needed by \
                 --compare-eapol-test",
            ),
            FleetError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for FleetError {}

impl FleetError {
    /// A short, stable name of the cause.
    pub fn kind(&self) -> &'static str {
        match self {
            FleetError::Pki(e) => e.kind(),
            FleetError::Arguments(_) => "bad-arguments",
            FleetError::Secret(e) => e.kind(),
            FleetError::EapolTestMissing => "missing-tool",
            FleetError::Io(..) => "unwritable-file",
        }
    }
}

/// The `eapol_test` network block of a device: its one certificate, the same CA, server name
/// and TLS versions as the Latchkey device.
fn eapol_test_conf(pki: &FleetPki, p: &DevicePlan, tls: TlsArg) -> String {
    let (no12, no13) = match tls {
        TlsArg::V12 => (0, 1),
        TlsArg::V13 => (1, 0),
        TlsArg::Both => (0, 0),
    };
    format!(
        "network={{\n\
         \tkey_mgmt=WPA-EAP\n\
         \teap=TLS\n\
         \tidentity=\"{}\"\n\
         \tca_cert=\"{}\"\n\
         \tclient_cert=\"{}\"\n\
         \tprivate_key=\"{}\"\n\
         \tdomain_match=\"{SERVER_NAME}\"\n\
         \tphase1=\"tls_disable_tlsv1_0=1 tls_disable_tlsv1_1=1 tls_disable_tlsv1_2={no12} \
         tls_disable_tlsv1_3={no13}\"\n\
         }}\n",
        p.identity,
        pki.ca.display(),
        p.active.cert.display(),
        p.active.key.display(),
    )
}

/// Read an `eapol_test` output: (authenticated, MPPE keys OK, round trips, retransmissions,
/// Access-Reject seen).
pub fn parse_eapol_test(output: &str) -> (bool, bool, u32, u32, bool) {
    let count = |needle: &str| u32::try_from(output.matches(needle).count()).unwrap_or(u32::MAX);
    (
        output.lines().any(|l| l.trim() == "SUCCESS"),
        output.contains("MPPE keys OK: 1"),
        count("Sending RADIUS message to authentication server"),
        count("Resending RADIUS message"),
        output.contains("(Access-Reject)"),
    )
}

/// One `eapol_test` process for a device: its output goes to `work/device-NNNN.log`.
fn eapol_test_device(
    pki: &FleetPki,
    p: &DevicePlan,
    radius: &RadiusArgs,
    secret: &str,
    tls: TlsArg,
    work: &Path,
) -> DeviceResult {
    let timeout_s = radius.overall_timeout.unwrap_or(DEFAULT_DEVICE_TIMEOUT_S);
    let mut r = blank(p, "error");
    let name = crate::fleet::pki::device_name(p.number);
    let conf = work.join(format!("{name}.conf"));
    let log = work.join(format!("{name}.log"));
    let fail = |mut r: DeviceResult, kind: &str, e: String| {
        r.error_kind = Some(kind.into());
        r.error = Some(e);
        r
    };
    if let Err(e) = std::fs::write(&conf, eapol_test_conf(pki, p, tls)) {
        return fail(r, "unwritable-file", format!("{}: {e}", conf.display()));
    }
    let out = match std::fs::File::create(&log) {
        Ok(f) => f,
        Err(e) => return fail(r, "unwritable-file", format!("{}: {e}", log.display())),
    };
    let err = match out.try_clone() {
        Ok(f) => f,
        Err(e) => return fail(r, "unwritable-file", format!("{}: {e}", log.display())),
    };
    let server = radius.server_addr();
    let start = Instant::now();
    let mut child = match Command::new("eapol_test")
        .arg("-c")
        .arg(&conf)
        .args(["-a", &server.ip().to_string()])
        .args(["-p", &server.port().to_string()])
        .args(["-s", secret])
        // eapol_test takes the MAC with colons; it sends it as 02-00-00-00-00-01, as we do.
        .args(["-M", &p.mac_text().replace('-', ":")])
        .args(["-r", "0"])
        .args(["-t", &timeout_s.to_string()])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return fail(r, "missing-tool", format!("cannot run eapol_test: {e}")),
    };
    // eapol_test bounds itself with -t; a process past that (and a grace) is killed, by its pid.
    let limit = Duration::from_secs(timeout_s.saturating_add(5));
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_micros(500)),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    r.latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let (success, mppe_ok, round_trips, retrans, reject) = parse_eapol_test(&text);
    r.radius_round_trips = round_trips;
    r.radius_retransmissions = retrans;
    // Its one certificate, sent whenever the server got as far as asking for it.
    r.serial_sent = (round_trips > 1).then(|| p.active.serial.clone());
    match (status, success, reject) {
        (None, ..) => {
            r.outcome = "hang";
            r.error_kind = Some("timeout".into());
            r.error = Some(format!(
                "eapol_test still running after {} s: killed",
                limit.as_secs()
            ));
        }
        (Some(_), true, _) if mppe_ok => r.outcome = "authenticated",
        (Some(_), true, _) => {
            r.outcome = "failed";
            r.error_kind = Some("mppe-mismatch".into());
            r.error = Some("eapol_test: MPPE keys did not match".into());
        }
        (Some(_), false, true) => {
            r.outcome = "failed";
            r.error_kind = Some("access-reject".into());
            r.error = Some(format!("eapol_test: Access-Reject ({})", log.display()));
        }
        (Some(_), false, false) => {
            r.outcome = "failed";
            r.error_kind = Some("eapol-test-failure".into());
            r.error = Some(format!("eapol_test: FAILURE ({})", log.display()));
        }
    }
    judge(p, &mut r, "access-reject");
    r
}

/// Run the same devices as `eapol_test` processes; configurations and logs go to `work`.
pub fn run_eapol_test(
    pki: &FleetPki,
    plan: &[DevicePlan],
    radius: &RadiusArgs,
    tls: TlsArg,
    concurrency: usize,
    time_limit: Duration,
    work: &Path,
) -> Result<(Vec<DeviceResult>, Duration), FleetError> {
    let found = Command::new("eapol_test")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if found.is_err() {
        return Err(FleetError::EapolTestMissing);
    }
    std::fs::create_dir_all(work).map_err(|e| FleetError::Io(work.to_owned(), e))?;
    let secret = radius.shared_secret().map_err(FleetError::Secret)?;
    let secret = String::from_utf8_lossy(&secret).into_owned();
    let start = Instant::now();
    // eapol_test is killed 5 s past its own -t.
    let device_s = radius
        .overall_timeout
        .unwrap_or(DEFAULT_DEVICE_TIMEOUT_S)
        .saturating_add(5);
    let (pki, radius, dir) = (pki.clone(), radius.clone(), work.to_owned());
    let job: Work = Arc::new(move |p| eapol_test_device(&pki, p, &radius, &secret, tls, &dir));
    let results = pool(
        plan,
        concurrency,
        start + time_limit,
        Duration::from_secs(device_s.saturating_add(POOL_GRACE_S)),
        job,
    );
    Ok((results, start.elapsed()))
}

/// Run the whole fleet command; the report.
pub fn fleet(args: &FleetArgs) -> Result<FleetReport, FleetError> {
    let started = SystemTime::now();
    let clock = Instant::now();
    if args.radius.calling_station_id.is_some() {
        return Err(FleetError::Arguments(
            "-M cannot be given to fleet: each device sends its own Calling-Station-Id".into(),
        ));
    }
    if !(1..=MAX_CONCURRENCY).contains(&args.concurrency) {
        return Err(FleetError::Arguments(format!(
            "--concurrency {}: want 1 to {MAX_CONCURRENCY}",
            args.concurrency
        )));
    }
    let pki = FleetPki::open(&args.pki).map_err(FleetError::Pki)?;
    if args.devices == 0 || args.devices > pki.devices {
        return Err(FleetError::Arguments(format!(
            "--devices {}: the PKI in {} holds 1 to {}",
            args.devices,
            args.pki.display(),
            pki.devices
        )));
    }
    // The secret is read once, before any device starts.
    args.radius.shared_secret().map_err(FleetError::Secret)?;
    let plan = plan(&pki, args.scenario, args.devices);
    let limit = Duration::from_secs(args.time_limit_s);
    let (results, wall) =
        run_latchkey(&pki, &plan, &args.radius, args.tls, args.concurrency, limit);
    let latchkey = summarize("latchkey", &results, wall);
    let (eapol, eapol_results) = if args.compare_eapol_test {
        let (r, wall) = run_eapol_test(
            &pki,
            &plan,
            &args.radius,
            args.tls,
            args.concurrency,
            limit,
            &args.pki.join("eapol_test"),
        )?;
        (Some(summarize("eapol_test", &r, wall)), r)
    } else {
        (None, Vec::new())
    };
    let (outcome, error_kind, error) = verdict(&latchkey, eapol.as_ref(), &results);
    Ok(FleetReport {
        schema_version: report_schema::SCHEMA_VERSION,
        command: "fleet",
        started_at: report_schema::rfc3339(started),
        elapsed_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        outcome,
        error_kind,
        error,
        scenario: Some(args.scenario),
        server: Some(args.radius.server_addr().to_string()),
        devices: plan.len(),
        renewed: plan.iter().filter(|p| p.renewed).count(),
        concurrency: args.concurrency,
        latchkey: Some(latchkey),
        eapol_test: eapol,
        device_results: results,
        eapol_test_results: eapol_results,
    })
}

/// Passed when every device of both clients ended as its scenario says and none hung or was
/// left unstarted (an `eapol_test` that does not behave as the scenario says makes the
/// comparison meaningless: reported as `eapol-test-unexpected`).
fn verdict(
    latchkey: &Summary,
    eapol: Option<&Summary>,
    results: &[DeviceResult],
) -> (&'static str, Option<String>, Option<String>) {
    let eapol_off = eapol.map_or(0, |e| e.devices.saturating_sub(e.as_expected));
    let hangs = latchkey.hangs + eapol.map_or(0, |e| e.hangs);
    let not_started = latchkey.not_started + eapol.map_or(0, |e| e.not_started);
    let unexpected: Vec<String> = results
        .iter()
        .filter(|r| !r.as_expected)
        .map(|r| format!("device {}", r.device))
        .collect();
    if hangs > 0 {
        (
            "failed",
            Some("hang".into()),
            Some(format!(
                "{hangs} devices got no verdict within their timers"
            )),
        )
    } else if not_started > 0 {
        (
            "failed",
            Some("not-started".into()),
            Some(format!(
                "{not_started} devices not started within --time-limit-s"
            )),
        )
    } else if !unexpected.is_empty() {
        let shown: Vec<&str> = unexpected.iter().take(10).map(String::as_str).collect();
        (
            "failed",
            Some("unexpected-outcome".into()),
            Some(format!(
                "{} devices did not end as the scenario says: {}{}",
                unexpected.len(),
                shown.join(", "),
                if unexpected.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            )),
        )
    } else if eapol_off > 0 {
        (
            "failed",
            Some("eapol-test-unexpected".into()),
            Some(format!(
                "{eapol_off} eapol_test devices did not end as the scenario says (their logs \
                 are in the PKI directory's eapol_test/)"
            )),
        )
    } else {
        ("passed", None, None)
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// The report as text: a heading, the side-by-side table, then every device that did not
/// authenticate, named (and every one that did not end as the scenario says).
pub fn table(rep: &FleetReport) -> String {
    let mut s = String::new();
    let scenario = rep.scenario.map(Scenario::name).unwrap_or("?");
    s += &format!(
        "fleet: {} devices, {scenario} ({} with a renewed certificate), {} at once, RADIUS server {}\n\n",
        rep.devices,
        rep.renewed,
        rep.concurrency,
        rep.server.as_deref().unwrap_or("?"),
    );
    let cols: Vec<&Summary> = rep.latchkey.iter().chain(rep.eapol_test.iter()).collect();
    let row = |name: &str, f: &dyn Fn(&Summary) -> String| -> String {
        let cells: Vec<String> = cols.iter().map(|c| f(c)).collect();
        format!("| {name} | {} |\n", cells.join(" | "))
    };
    s += &format!(
        "| | {} |\n|---|{}\n",
        cols.iter()
            .map(|c| c.client)
            .collect::<Vec<_>>()
            .join(" | "),
        "---:|".repeat(cols.len())
    );
    s += &row("authenticated", &|c| c.authenticated.to_string());
    let kinds: std::collections::BTreeSet<&String> =
        cols.iter().flat_map(|c| c.failed.keys()).collect();
    for k in kinds {
        s += &row(&format!("failed: {k}"), &|c| {
            c.failed.get(k).copied().unwrap_or(0).to_string()
        });
    }
    s += &row("hang", &|c| c.hangs.to_string());
    if cols.iter().any(|c| c.not_started > 0) {
        s += &row("not started", &|c| c.not_started.to_string());
    }
    s += &row("as the scenario says", &|c| {
        format!("{}/{}", c.as_expected, c.devices)
    });
    s += &row("wall time (s)", &|c| format!("{:.2}", c.wall_ms / 1000.0));
    s += &row("authentications/s", &|c| format!("{:.1}", c.auth_per_s));
    s += &row("verdicts/s", &|c| format!("{:.1}", c.verdicts_per_s));
    s += &row("latency p50 (ms)", &|c| opt(c.latency_p50_ms, 1));
    s += &row("latency p99 (ms)", &|c| opt(c.latency_p99_ms, 1));
    s += &row("RADIUS round trips per authenticated device", &|c| {
        opt(c.round_trips_authenticated, 2)
    });
    s += &row("RADIUS round trips per rejected device", &|c| {
        opt(c.round_trips_failed, 2)
    });
    s += &row("retransmissions (per device)", &|c| {
        format!(
            "{} ({:.2})",
            c.retransmissions, c.retransmissions_per_device
        )
    });
    s += "\n";
    for r in rep
        .device_results
        .iter()
        .filter(|r| r.outcome != "authenticated")
    {
        s += &format!(
            "{} ({}): {} {}, sent serial {}{}\n",
            r.identity,
            r.calling_station_id,
            r.outcome.to_uppercase(),
            r.error_kind.as_deref().unwrap_or(""),
            r.serial_sent.as_deref().unwrap_or("none"),
            if r.renewed {
                ""
            } else {
                " (its old, revoked certificate: not renewed)"
            },
        );
    }
    for r in rep.device_results.iter().filter(|r| !r.as_expected) {
        s += &format!(
            "NOT AS EXPECTED: {}: {} {} (serial {}), want {}\n",
            r.identity,
            r.outcome,
            r.error_kind.as_deref().unwrap_or(""),
            r.serial_sent.as_deref().unwrap_or("none"),
            r.expected
        );
    }
    for r in rep.eapol_test_results.iter().filter(|r| !r.as_expected) {
        s += &format!(
            "eapol_test not as expected: {}: {} {} ({})\n",
            r.identity,
            r.outcome,
            r.error_kind.as_deref().unwrap_or(""),
            r.error.as_deref().unwrap_or("")
        );
    }
    s += &format!(
        "\n{}\n",
        match rep.outcome {
            "passed" => "PASSED: every device ended as the scenario says, none hung".to_owned(),
            o => format!(
                "{} ({}): {}",
                o.to_uppercase(),
                rep.error_kind.as_deref().unwrap_or("?"),
                rep.error.as_deref().unwrap_or("")
            ),
        }
    );
    s
}

/// `latchkey-sim fleet`: exit status 0 when passed, 1 when failed, 2 when nothing could run.
pub fn main(args: &FleetArgs) -> ExitCode {
    match fleet(args) {
        Ok(rep) => {
            if args.json {
                println!("{}", rep.to_json());
            } else {
                print!("{}", table(&rep));
            }
            if rep.outcome == "passed" {
                ExitCode::SUCCESS
            } else {
                if args.json {
                    eprintln!(
                        "FAILED ({}): {}",
                        rep.error_kind.as_deref().unwrap_or("?"),
                        rep.error.as_deref().unwrap_or("")
                    );
                }
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            if args.json {
                println!("{}", FleetReport::error(e.kind(), e.to_string()).to_json());
            }
            eprintln!("ERROR ({}): {e}", e.kind());
            ExitCode::from(2)
        }
    }
}

/// `latchkey-sim fleet-pki`: write the PKI and print the FreeRADIUS settings that serve it.
pub fn pki_main(args: &FleetPkiArgs) -> ExitCode {
    match FleetPki::generate(&args.dir, args.devices) {
        Ok(pki) => {
            println!(
                "fleet PKI for {} devices in {} (device-0001 .. {}: an old certificate, revoked \
                 by the CRL, and a renewed one each)",
                pki.devices,
                pki.dir.display(),
                crate::fleet::pki::device_name(pki.devices)
            );
            println!("RADIUS server settings (FreeRADIUS):");
            print!("{}", pki.freeradius_settings());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ERROR ({}): {e}", e.kind());
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_wave_renews_nine_devices_in_ten_and_archives_every_old_certificate() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = FleetPki::generate(tmp.path(), 20).unwrap();
        let p = plan(&pki, Scenario::RenewalWave, 20);
        assert_eq!(p.iter().filter(|d| d.renewed).count(), 18);
        for d in &p {
            let f = pki.device(d.number);
            assert_eq!(d.mac_text(), format!("02-00-00-00-00-{:02X}", d.number));
            if d.renewed {
                assert_eq!(d.slots.len(), 2);
                assert_eq!(d.slots[0].state, SlotStateArg::Archived);
                assert_eq!(d.slots[0].cert, f.old.cert);
                assert_eq!(d.active, f.new);
            } else {
                assert_eq!(d.number % 10, 0);
                assert_eq!(d.slots.len(), 1);
                assert_eq!(d.active, f.old);
            }
        }
        let cold = plan(&pki, Scenario::ColdStart, 20);
        assert!(cold.iter().all(|d| d.renewed && d.slots.len() == 1));
        assert_eq!(
            plan(&pki, Scenario::ColdStart, 300)[299].mac_text(),
            "02-00-00-00-01-2C"
        );
    }

    #[test]
    fn a_stuck_device_is_a_hang_and_never_holds_up_the_run() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = FleetPki::generate(tmp.path(), 4).unwrap();
        let p = plan(&pki, Scenario::ColdStart, 4);
        let work: Work = Arc::new(|d: &DevicePlan| {
            if d.number == 1 {
                std::thread::sleep(Duration::from_secs(30));
            }
            blank(d, "authenticated")
        });
        let t = Instant::now();
        let r = pool(
            &p,
            2,
            t + Duration::from_millis(100),
            Duration::from_millis(200),
            work.clone(),
        );
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(r[0].outcome, "hang");
        assert_eq!(r[0].error_kind.as_deref(), Some("hang"));
        assert!(r[1..].iter().all(|d| d.outcome == "authenticated"), "{r:?}");
        // A deadline already past: nothing starts, each device says so.
        let r = pool(&p, 2, Instant::now(), Duration::from_millis(100), work);
        assert!(r.iter().all(|d| d.outcome == "not-started"), "{r:?}");
        assert!(r
            .iter()
            .all(|d| d.error_kind.as_deref() == Some("not-started")));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(100.0));
        assert_eq!(percentile(&v, 99.0), Some(198.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn eapol_test_output_is_read_for_round_trips_retransmissions_and_reject() {
        let out = "Sending RADIUS message to authentication server\n\
                   Resending RADIUS message (id=3)\n\
                   Sending RADIUS message to authentication server\n\
                   RADIUS message: code=3 (Access-Reject) identifier=4 length=44\n\
                   FAILURE\n";
        assert_eq!(parse_eapol_test(out), (false, false, 2, 1, true));
        assert!(parse_eapol_test("MPPE keys OK: 1  mismatch: 0\nSUCCESS\n").0);
    }

    #[test]
    fn a_device_sending_its_archived_certificate_is_never_as_expected() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = FleetPki::generate(tmp.path(), 1).unwrap();
        let p = &plan(&pki, Scenario::RenewalWave, 1)[0];
        let mut r = blank(p, "authenticated");
        r.serial_sent = Some(p.old_serial.clone());
        judge(p, &mut r, "rejected-certificate");
        assert!(r.archived_sent && !r.as_expected);
        r.serial_sent = Some(p.active.serial.clone());
        judge(p, &mut r, "rejected-certificate");
        assert!(!r.archived_sent && r.as_expected);
    }
}
