//! Every rogue server against the supplicant in the simulator (issue 5): each is refused with
//! its own typed error and message, no MSK comes out, and a server that failed authentication
//! never sees the device's certificate. The same legitimate server (right CA, name, time and
//! pinned key) is accepted with TLS 1.2 and 1.3.

use latchkey_core::supplicant::{Event, FailReason};
use latchkey_core::tls::{TlsVersion, VersionPolicy};
use latchkey_sim::auth::server::ServerEvent;
use latchkey_sim::auth::tls::server_config;
use latchkey_sim::drive::sim;
use latchkey_sim::hal::memory;
use latchkey_sim::rogue::{self, Rogue};

/// One row per rogue server: the refusal kind and the words the admin reads.
const TABLE: &[(Rogue, &str, &str)] = &[
    (
        Rogue::UntrustedCa,
        "untrusted-ca",
        "server certificate not trusted: issued by \"CN=Rogue Root CA\", which leads to none of the configured CA certificates",
    ),
    (
        Rogue::WrongName,
        "name-mismatch",
        "server certificate name mismatch: expected radius.latchkey.test, got evil.latchkey.test",
    ),
    (Rogue::Expired, "expired", "server certificate expired on "),
    (Rogue::NotYetValid, "not-yet-valid", "server certificate not valid before "),
    (
        Rogue::NoServerAuth,
        "not-server-auth",
        "server certificate is not for a TLS server: its extended key usage lacks serverAuth",
    ),
    (
        Rogue::WeakKey,
        "weak-key",
        "server certificate chain uses a weak 1024-bit RSA key (at least 2048 bits required)",
    ),
    (
        Rogue::WeakSignature,
        "weak-signature",
        "server certificate chain is signed with SHA-1 with RSA, a broken algorithm",
    ),
    (
        Rogue::UnsupportedSignature,
        "unsupported-signature",
        "server certificate chain is signed with Ed25519, which this device cannot verify",
    ),
    (
        Rogue::PinMismatch,
        "pin-mismatch",
        "server certificate matches none of the configured pins",
    ),
    (
        Rogue::Alert,
        "tls-alert",
        "server sent TLS alert access_denied: the server's policy denies this device access",
    ),
    (
        Rogue::Tls12Only,
        "tls-version-below-minimum",
        "server does not offer TLS 1.3 or later, the configured minimum TLS version",
    ),
    (
        Rogue::EarlySuccess,
        "early-success",
        "server sent EAP-Success before EAP-TLS finished, then went silent",
    ),
    (
        Rogue::EarlyFailure,
        "client-hello-refused",
        "server refused our ClientHello (offered TLS 1.2 and 1.3) with EAP-Failure",
    ),
    (
        Rogue::SuccessBeforeTls,
        "success-without-method",
        "server sent EAP-Success before any authentication: refused",
    ),
    (
        Rogue::MethodSwitch,
        "method-changed",
        "server switched to EAP method 4 after EAP-TLS had started: refused",
    ),
    (
        Rogue::OversizeLength,
        "message-too-large",
        "EAP-TLS framing: TLS message length 1048576 exceeds the limit of 16384 bytes",
    ),
    (
        Rogue::FragmentFlood,
        "fragment-flood",
        "EAP-TLS framing: TLS message arrived in more than 64 fragments",
    ),
    (
        Rogue::IdentityStorm,
        "identity-storm",
        "too many EAP Identity requests: refused",
    ),
];

#[test]
fn every_rogue_server_is_refused_with_its_own_error() {
    let (pki, rogues) = rogue::shared().expect("test PKIs");
    assert_eq!(TABLE.len(), Rogue::ALL.len(), "one row per rogue server");
    let mut kinds = std::collections::HashSet::new();
    for &(r, kind, message) in TABLE {
        let o = rogue::run(pki, rogues, r).expect("scenario runs");
        let refusal = match &o.outcome.event {
            Some(Event::Failed(reason)) => reason.clone(),
            other => panic!("{}: not refused: {other:?}", r.name()),
        };
        assert_eq!(refusal.kind(), kind, "{}: {refusal}", r.name());
        assert_eq!(r.expected_kind(), kind);
        let text = refusal.to_string();
        assert!(text.starts_with(message), "{}: {text}", r.name());
        // No MSK: the supplicant never authenticated and the server derived no keys.
        assert!(!o.authenticated, "{}", r.name());
        assert!(!o.server_keys, "{}", r.name());
        if r.must_not_see_client_certificate() {
            assert!(
                !o.client_cert_sent,
                "{}: the device's certificate reached the rogue server",
                r.name()
            );
        }
        assert!(o.as_expected(), "{}", r.name());
        assert!(kinds.insert(kind), "{kind} used twice");
    }
}

#[test]
fn time_refusals_name_the_dates_and_the_clock() {
    let (pki, rogues) = rogue::shared().expect("test PKIs");
    for r in [Rogue::Expired, Rogue::NotYetValid] {
        let o = rogue::run(pki, rogues, r).unwrap();
        let text = o.refusal.unwrap().to_string();
        assert!(text.contains("UTC (time used: wall clock "), "{text}");
    }
}

#[test]
fn refused_server_gets_a_tls_alert_saying_why() {
    let (pki, rogues) = rogue::shared().expect("test PKIs");
    // With TLS 1.2 the alert record is in clear: the untrusted server is told unknown_ca (48),
    // the one with the wrong name bad_certificate (42), in our last EAP-TLS response.
    for (r, alert) in [(Rogue::UntrustedCa, 48u8), (Rogue::WrongName, 42)] {
        let policy = rogue::device_policy(pki, false).unwrap();
        let s = sim::Scenario::default();
        let sup = rogue::device(pki, &policy, &s.config, VersionPolicy::Tls12Only).unwrap();
        let server = rogue::server_for(pki, rogues, r, VersionPolicy::Tls12Only).unwrap();
        let o = sim::run_with(sup, &server, &s).unwrap();
        let last_up = o
            .steps
            .iter()
            .rev()
            .find(|s| s.dir == latchkey_sim::drive::Direction::Up)
            .unwrap();
        assert!(
            last_up.frame.ends_with(&[21, 3, 3, 0, 2, 2, alert]),
            "{}: {:?}",
            r.name(),
            last_up.frame
        );
        assert!(o.client_cert_seen.is_none());
    }
}

#[test]
fn legitimate_server_accepted_with_tls12_and_tls13() {
    let (pki, _) = rogue::shared().expect("test PKIs");
    for (v, want) in [
        (VersionPolicy::Tls12Only, TlsVersion::Tls12),
        (VersionPolicy::Tls13Only, TlsVersion::Tls13),
    ] {
        let o = rogue::run_legitimate(pki, v).unwrap();
        let Some(Event::Authenticated(a)) = &o.event else {
            panic!(
                "{v:?}: {:?}",
                o.event.as_ref().map(|e| match e {
                    Event::Failed(r) => r.to_string(),
                    _ => String::new(),
                })
            );
        };
        assert_eq!(a.version, want);
        let k = o.server_keys.as_ref().expect("server keys");
        assert_eq!(&a.keys.msk.as_bytes()[..], &k.msk[..]);
        assert_eq!(o.client_cert_seen.as_ref(), Some(&pki.client.cert));
    }
}

#[test]
fn anonymous_outer_identity_hides_the_device_name() {
    use latchkey_core::eap::peer::IdentityPrivacy;
    let (pki, _) = rogue::shared().expect("test PKIs");
    let policy = rogue::device_policy(pki, false).unwrap();
    let mut s = sim::Scenario {
        server_versions: VersionPolicy::Tls13Only,
        ..Default::default()
    };
    s.config.peer.privacy = IdentityPrivacy::AnonymousRealm;
    let sup = rogue::device(pki, &policy, &s.config, VersionPolicy::Both).unwrap();
    let server = server_config(pki, VersionPolicy::Tls13Only).unwrap();
    let o = sim::run_with(sup, &server, &s).unwrap();
    assert!(matches!(o.event, Some(Event::Authenticated(_))));
    assert_eq!(
        o.server_events.first(),
        Some(&ServerEvent::Identity("@latchkey.test".into()))
    );
    // The device is still identified, by its certificate.
    assert_eq!(o.client_cert_seen.as_ref(), Some(&pki.client.cert));
}

#[test]
fn without_wall_clock_the_time_policy_decides_and_floor_proves_expiry() {
    use latchkey_core::tls::UntrustedTimePolicy;
    use latchkey_sim::drive::sim::{Clock, Scenario};
    let (pki, rogues) = rogue::shared().expect("test PKIs");
    // No wall clock; the persisted floor is today.
    let floor = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let run = |server: Rogue, policy: UntrustedTimePolicy| {
        let p = rogue::device_policy(pki, false)
            .unwrap()
            .with_untrusted_time(policy);
        let s = Scenario {
            clock: Clock::None,
            ..Scenario::default()
        };
        // The floor lives in the slot table, as on a device.
        let table = memory::test_table(pki).unwrap();
        table.with(|t| t.observe_time(floor));
        let sup = memory::client_builder(pki, &s.config, VersionPolicy::Both, table)
            .unwrap()
            .server(p)
            .build()
            .unwrap();
        let cfg = rogue::server_for(pki, rogues, server, VersionPolicy::Both).unwrap();
        sim::run_with(sup, &cfg, &s).unwrap()
    };
    let failed = |o: &sim::Outcome| match &o.event {
        Some(Event::Failed(r)) => r.clone(),
        other => panic!("not refused: {other:?}"),
    };
    // Valid only from next year, and only a floor of today: the real time may well be next
    // year. The default policy accepts (and logs it); the strict one refuses, saying why.
    let o = run(
        Rogue::NotYetValid,
        UntrustedTimePolicy::RefuseProvablyInvalid,
    );
    assert!(matches!(o.event, Some(Event::Authenticated(_))));
    let o = run(Rogue::NotYetValid, UntrustedTimePolicy::RefuseUnprovable);
    let r = failed(&o);
    assert_eq!(r.kind(), "not-yet-valid");
    assert!(
        r.to_string()
            .contains("(time used: no wall clock; time floor "),
        "{r}"
    );
    assert!(o.client_cert_seen.is_none());
    // Expired a year before the floor: the floor proves it, whatever the policy.
    for policy in [
        UntrustedTimePolicy::RefuseProvablyInvalid,
        UntrustedTimePolicy::RefuseUnprovable,
    ] {
        let o = run(Rogue::Expired, policy);
        let r: FailReason = failed(&o);
        assert_eq!(r.kind(), "expired", "{r}");
        assert!(o.client_cert_seen.is_none());
    }
}

#[test]
fn rogue_all_says_what_it_is_doing_and_ends_with_a_summary() {
    let mut out = Vec::new();
    let ok = rogue::report(&mut out, &Rogue::ALL, false).expect("rogue report");
    assert!(ok);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The PKI generation is announced before the pause it causes.
    assert!(lines[0].starts_with("building the test PKI"), "{text}");
    let n = Rogue::ALL.len();
    let must_withhold = Rogue::ALL
        .iter()
        .filter(|r| r.must_not_see_client_certificate())
        .count();
    let last = lines.last().unwrap();
    let prefix = format!("{n} rogue servers: {n} refused, ");
    assert!(last.starts_with(&prefix), "{last}");
    let withheld: usize = last[prefix.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(withheld >= must_withhold, "{last}");
    assert!(last.contains(", 0 not as expected ("), "{last}");
}
