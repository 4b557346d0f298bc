//! Latchkey against real RADIUS servers: FreeRADIUS 3.2 and hostapd's RADIUS server, each
//! limited to TLS 1.2 and to TLS 1.3, started on loopback with a file PKI whose CRL revokes the
//! device's old certificate. `latchkey-sim`'s relay is the authenticator. Checked: the MSK
//! equals the MS-MPPE keys; the renewed certificate is chosen over the archived one (KB932521)
//! and the server's log names its serial only; a table with only the archived certificate fails
//! with the typed error.

use std::path::Path;

use latchkey_sim::cli::args::RadiusArgs;
use latchkey_sim::cli::config::{ClientArgs, SlotSpec, SlotStateArg, TlsArg};
use latchkey_sim::cli::report::RadiusReport;
use latchkey_test_support::apt;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::hostapd::{self, HostapdOptions};
use latchkey_test_support::pki_files::{CertFiles, FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::{ServerProcess, ServerTls};

#[derive(Clone, Copy)]
enum Kind {
    FreeRadius,
    Hostapd,
}

struct Server {
    _tmp: tempfile::TempDir,
    pki: FilePki,
    proc: ServerProcess,
}

fn start(kind: Kind, tls: ServerTls) -> Server {
    apt::require(apt::SERVER_PACKAGES);
    let tmp = tempfile::tempdir().unwrap();
    let pki = FilePki::generate(&tmp.path().join("pki")).unwrap();
    let proc = match kind {
        Kind::FreeRadius => freeradius::start(tmp.path(), &pki, &FreeRadiusOptions::new(tls)),
        Kind::Hostapd => hostapd::start(tmp.path(), &pki, &HostapdOptions::new(tls)),
    }
    .unwrap_or_else(|e| panic!("{e}"));
    Server {
        _tmp: tmp,
        pki,
        proc,
    }
}

fn slot(state: SlotStateArg, c: &CertFiles) -> SlotSpec {
    SlotSpec {
        state,
        cert: c.cert.clone(),
        key: c.key.clone(),
    }
}

fn client(ca: &Path, slots: Vec<SlotSpec>) -> ClientArgs {
    ClientArgs {
        ca: vec![ca.to_owned()],
        server_name: vec![SERVER_NAME.into()],
        domain_suffix: vec![],
        identity: IDENTITY.into(),
        anonymous_identity: false,
        pins: vec![],
        slots,
        table: None,
        key_pass: None,
        chain: vec![],
        tls: TlsArg::Both,
        fragment_size: 1398,
        auth_period_ms: 30_000,
    }
}

fn radius(s: &ServerProcess) -> RadiusArgs {
    RadiusArgs::new(s.addr(), s.secret.clone())
}

/// One authentication's report, with the conversation's log.
struct Run {
    report: RadiusReport,
    log: Vec<String>,
}

impl std::ops::Deref for Run {
    type Target = RadiusReport;
    fn deref(&self) -> &RadiusReport {
        &self.report
    }
}

fn run_radius(radius: &RadiusArgs, client: &ClientArgs) -> Run {
    let mut log = Vec::new();
    let report = latchkey_sim::cli::report::run_radius(radius, client, &mut |l| log.push(l));
    Run { report, log }
}

fn explain(Run { report: r, log }: &Run, s: &Server) -> String {
    format!(
        "{}\n{}\n--- {} log:\n{}",
        log.join("\n"),
        r.summary(),
        s.proc.name,
        s.proc.log_tail()
    )
}

/// Authenticate with the renewed certificate only; then the KB932521 table (old archived, new
/// active): the new one is used; then a table with only the archived certificate: typed error.
fn interop(kind: Kind, tls: ServerTls) {
    let s = start(kind, tls);
    let p = &s.pki;
    let want = tls.to_string();

    let r = run_radius(
        &radius(&s.proc),
        &client(&p.ca, vec![slot(SlotStateArg::Active, &p.client_new)]),
    );
    assert!(r.ok(), "{}", explain(&r, &s));
    assert_eq!(r.tls_version.as_deref(), Some(want.as_str()));
    assert_eq!(r.msk_matches_mppe, Some(true));
    assert!(
        (3..=5).contains(&r.radius_round_trips),
        "{} RADIUS round trips",
        r.radius_round_trips
    );
    assert_eq!(r.radius_retransmissions, 0);

    let mut kb_client = client(
        &p.ca,
        vec![
            slot(SlotStateArg::Archived, &p.client_old),
            slot(SlotStateArg::Active, &p.client_new),
        ],
    );
    // The server authenticated by domain this time (domain_suffix_match).
    kb_client.server_name.clear();
    kb_client.domain_suffix = vec!["latchkey.test".into()];
    let mark = s.proc.log_mark();
    let kb = run_radius(&radius(&s.proc), &kb_client);
    assert!(kb.ok(), "{}", explain(&kb, &s));
    // The server's log: it was presented the renewed certificate only.
    assert_eq!(
        s.proc.client_serials_since(mark),
        [p.client_new.serial_hex()],
        "archived {}: {}",
        p.client_old.serial_hex(),
        explain(&kb, &s)
    );
    assert_eq!(kb.slot, Some(1), "{}", explain(&kb, &s));
    assert_eq!(
        kb.slot_file.as_deref(),
        Some(p.client_new.cert.display().to_string().as_str())
    );
    assert!(
        kb.selection.as_deref().unwrap_or("").contains("slot 0"),
        "the selection explains the archived slot: {:?}",
        kb.selection
    );

    let only_old = run_radius(
        &radius(&s.proc),
        &client(&p.ca, vec![slot(SlotStateArg::Archived, &p.client_old)]),
    );
    assert_eq!(only_old.outcome, "failed", "{}", explain(&only_old, &s));
    assert_eq!(
        only_old.error_kind.as_deref(),
        Some("only-archived-match"),
        "{}",
        explain(&only_old, &s)
    );
    assert_eq!(only_old.slot, None);

    // Control: the server really enforces its CRL — the old certificate, if active, is refused.
    // FreeRADIUS answers with a bare EAP-Failure right after our certificate flight (no TLS
    // alert): the supplicant takes it as the verdict at once, well before authPeriod (30 s).
    let old_active = client(&p.ca, vec![slot(SlotStateArg::Active, &p.client_old)]);
    let started = std::time::Instant::now();
    let mark = s.proc.log_mark();
    let revoked = run_radius(&radius(&s.proc), &old_active);
    assert_eq!(
        s.proc.client_serials_since(mark),
        [p.client_old.serial_hex()],
        "{}",
        explain(&revoked, &s)
    );
    assert_eq!(revoked.outcome, "failed", "{}", explain(&revoked, &s));
    assert_eq!(revoked.radius_result.as_deref(), Some("Access-Reject"));
    assert_eq!(
        revoked.error_kind.as_deref(),
        Some("rejected-certificate"),
        "{}",
        explain(&revoked, &s)
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the rejection was not taken at once"
    );
    assert!(revoked
        .error
        .as_deref()
        .unwrap_or("")
        .ends_with("(RADIUS Access-Reject)"));
}

#[test]
fn freeradius_tls12() {
    interop(Kind::FreeRadius, ServerTls::V12);
}

#[test]
fn freeradius_tls13() {
    interop(Kind::FreeRadius, ServerTls::V13);
}

#[test]
fn hostapd_tls12() {
    interop(Kind::Hostapd, ServerTls::V12);
}

#[test]
fn hostapd_tls13() {
    interop(Kind::Hostapd, ServerTls::V13);
}

/// SHA-256 of the server certificate DER as a `--pin cert:HEX` value.
fn cert_pin(der: &[u8]) -> latchkey_core::tls::server_policy::Pin {
    use sha2::Digest;
    latchkey_core::tls::server_policy::Pin::CertSha256(sha2::Sha256::digest(der).into())
}

/// The test engineer's extra server checks and identity privacy against a real server: a pin
/// on the right certificate passes, a wrong pin refuses the server before the device's
/// certificate is sent, and the anonymous outer identity carries only the realm.
#[test]
fn pinned_server_and_anonymous_identity_against_freeradius_tls13() {
    let s = start(Kind::FreeRadius, ServerTls::V13);
    let p = &s.pki;
    let mut c = client(&p.ca, vec![slot(SlotStateArg::Active, &p.client_new)]);
    c.pins = vec![cert_pin(&p.server.der)];
    c.anonymous_identity = true;
    let ok = run_radius(&radius(&s.proc), &c);
    assert_eq!(ok.outcome, "authenticated", "{}", explain(&ok, &s));
    let identity_lines: Vec<&String> = ok
        .log
        .iter()
        .filter(|l| l.contains("Response/Identity"))
        .collect();
    assert!(!identity_lines.is_empty(), "{}", explain(&ok, &s));
    for l in &identity_lines {
        assert!(l.contains("\"@latchkey.test\""), "{l}");
        assert!(!l.contains("device-0042"), "{l}");
    }

    let mut wrong = p.server.der.clone();
    wrong[20] ^= 1;
    c.pins = vec![cert_pin(&wrong)];
    let refused = run_radius(&radius(&s.proc), &c);
    assert_eq!(refused.outcome, "failed", "{}", explain(&refused, &s));
    assert_eq!(
        refused.error_kind.as_deref(),
        Some("pin-mismatch"),
        "{}",
        explain(&refused, &s)
    );
    assert_eq!(refused.slot, None);
}
