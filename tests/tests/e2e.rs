//! End-to-end: the supplicant core against the simulator's rustls EAP-TLS server, TLS 1.2 and
//! 1.3, across fragment sizes; the keys both sides derive must be byte-equal.

use latchkey_core::supplicant::Event;
use latchkey_core::tls::VersionPolicy;
use latchkey_sim::auth::server::ServerEvent;
use latchkey_sim::drive::sim;
use latchkey_sim::drive::sim::{Outcome, Scenario};
use latchkey_sim::pki::TestPki;
use std::sync::OnceLock;

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate().expect("test PKI"))
}

fn scenario(server: VersionPolicy, client_frag: usize, server_frag: usize) -> Scenario {
    let mut s = Scenario {
        server_versions: server,
        ..Scenario::default()
    };
    s.config.method.fragment_size = client_frag;
    s.server.fragment_size = server_frag;
    s
}

/// Asserts success and that MSK, EMSK and Session-Id equal the server's rustls exports.
fn assert_keys_match(o: &Outcome, want: latchkey_core::tls::TlsVersion) -> u16 {
    let Some(Event::Authenticated(a)) = &o.event else {
        panic!(
            "not authenticated: {:?} (server: {:?})",
            o.event, o.server_failure
        );
    };
    assert_eq!(a.version, want);
    let k = o.server_keys.as_ref().expect("server keys");
    assert_eq!(&a.keys.msk.as_bytes()[..], &k.msk[..], "MSK");
    assert_eq!(&a.keys.emsk.as_bytes()[..], &k.emsk[..], "EMSK");
    assert_eq!(&a.keys.session_id.0[..], &k.session_id[..], "Session-Id");
    assert_eq!(a.keys.session_id.0[0], 13);
    assert_eq!(
        a.keys.iv.is_some(),
        want == latchkey_core::tls::TlsVersion::Tls12
    );
    assert_ne!(a.keys.msk.as_bytes(), &[0u8; 64]);
    // The server saw our client certificate.
    assert_eq!(o.client_cert_seen.as_ref(), Some(&pki().client.cert));
    a.round_trips
}

#[test]
fn tls13_authenticates_and_keys_match_server_exporter() {
    let o = sim::run(pki(), &scenario(VersionPolicy::Tls13Only, 1398, 1024)).unwrap();
    assert_keys_match(&o, latchkey_core::tls::TlsVersion::Tls13);
    assert!(o.server_events.contains(&ServerEvent::CommitmentSent));
}

#[test]
fn tls12_authenticates_and_keys_match_server_exporter() {
    let o = sim::run(pki(), &scenario(VersionPolicy::Tls12Only, 1398, 1024)).unwrap();
    assert_keys_match(&o, latchkey_core::tls::TlsVersion::Tls12);
}

#[test]
fn fragment_size_matrix_both_versions() {
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        for (cf, sf) in [(64, 64), (64, 1398), (200, 300), (1398, 64), (1000, 1398)] {
            let o = sim::run(pki(), &scenario(v, cf, sf)).unwrap();
            let want = if v == VersionPolicy::Tls12Only {
                latchkey_core::tls::TlsVersion::Tls12
            } else {
                latchkey_core::tls::TlsVersion::Tls13
            };
            assert_keys_match(&o, want);
            // The server sent L only on first fragments of multi-fragment messages.
            let mut expect_first = true;
            for e in &o.server_events {
                if let ServerEvent::SentFragment {
                    with_length, more, ..
                } = e
                {
                    assert_eq!(
                        *with_length,
                        expect_first && *more,
                        "L flag placement at sf={sf}"
                    );
                    expect_first = !more;
                }
            }
            // Every fragment from us carried at most cf bytes: the server received them all.
            for e in &o.server_events {
                if let ServerEvent::ReceivedFragment { len, .. } = e {
                    assert!(*len <= cf, "client fragment {len} > {cf}");
                }
            }
        }
    }
}

#[test]
fn server_with_length_on_every_fragment_is_accepted() {
    let mut s = scenario(VersionPolicy::Tls13Only, 1398, 128);
    s.server.length_on_every_fragment = true;
    let o = sim::run(pki(), &s).unwrap();
    assert_keys_match(&o, latchkey_core::tls::TlsVersion::Tls13);
}

/// Round trips at fragment size 1398 are the protocol minimum: Identity, Start/ClientHello,
/// the server flight (one per fragment), our flight, the final ACK.
#[test]
fn round_trips_are_the_protocol_minimum() {
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let o = sim::run(pki(), &scenario(v, 1398, 1398)).unwrap();
        let Some(Event::Authenticated(a)) = &o.event else {
            panic!("{:?}", o.event)
        };
        let server_frags = o
            .server_events
            .iter()
            .filter(|e| matches!(e, ServerEvent::SentFragment { .. }))
            .count();
        let client_frags = o
            .server_events
            .iter()
            .filter(|e| matches!(e, ServerEvent::ReceivedFragment { .. }))
            .count();
        // Identity + Start + one per server fragment + (client fragments - 1) extra ACK rounds.
        let minimum = 1 + 1 + server_frags + (client_frags - 2);
        println!("{v:?}: {} round trips (server fragments {server_frags}, client fragments {client_frags})", a.round_trips);
        assert_eq!(a.round_trips as usize, minimum, "{v:?}");
        assert_eq!(o.server_requests, a.round_trips as usize);
    }
}

#[test]
fn oversize_tls_length_from_server_is_refused_with_typed_error() {
    use latchkey_core::eap::peer::PeerError;
    use latchkey_core::eap_tls::method::MethodError;
    use latchkey_core::supplicant::FailReason;
    let mut s = scenario(VersionPolicy::Tls13Only, 1398, 256);
    s.config.method.max_message = 1000;
    let o = sim::run(pki(), &s).unwrap();
    match &o.event {
        Some(Event::Failed(FailReason::Eap(PeerError::Method(MethodError::Framing(
            latchkey_core::eap_tls::Error::AnnouncedTooLarge {
                announced,
                limit: 1000,
            },
        ))))) => assert!(*announced > 1000),
        other => panic!("expected AnnouncedTooLarge, got {other:?}"),
    }
    // Refused on the first fragment: no ACK was sent for it, no keys anywhere.
    assert!(o.server_keys.is_none());
    let acks = o
        .server_events
        .iter()
        .filter(|e| matches!(e, ServerEvent::ReceivedAck))
        .count();
    assert_eq!(acks, 0);
}
