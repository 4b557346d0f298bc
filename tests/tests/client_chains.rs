//! Client certificate chains held in the slot (RFC 5246 §7.4.6, RFC 8446 §4.4.2: the leaf
//! first, each certificate followed by the one that certifies it), end to end through the
//! simulator: the server trusts only the root and names only the root in its acceptable-CA
//! list, while the device's certificate comes from an issuing CA. Only a slot that holds the
//! issuing CA's certificate both matches the hint and gives the server a path to its root;
//! no intermediate is configured on the supplicant builder, so the slot's chain is the only
//! source of it.

use std::sync::Arc;

use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotTable};
use latchkey_core::supplicant::{Event, Supplicant};
use latchkey_core::tls::{NameMatch, ServerPolicy, VersionPolicy};
use latchkey_core::SupplicantBuilder;
use latchkey_sim::auth::tls::server_config;
use latchkey_sim::drive::sim;
use latchkey_sim::drive::sim::Scenario;
use latchkey_sim::hal::memory::host_crypto;
use latchkey_sim::pki::{TestPki, SERVER_NAME};

type Table = SharedSlotTable<4, 2048>;

/// A supplicant over `table` trusting the test root, with no builder-level intermediates.
fn supplicant(pki: &TestPki, scenario: &Scenario, table: Arc<Table>) -> Supplicant {
    let policy = ServerPolicy::new(NameMatch::exact(SERVER_NAME).unwrap())
        .with_anchor_der(pki.root.cert.as_ref())
        .unwrap();
    SupplicantBuilder::new(scenario.config.peer.identity.as_str())
        .config(scenario.config.clone())
        .server(policy)
        .slot_table(table)
        .crypto(host_crypto())
        .tls_versions(scenario.client_versions)
        .build()
        .unwrap()
}

fn table(pki: &TestPki, with_chain: bool) -> Arc<Table> {
    let t = Arc::new(SharedSlotTable::new(SlotTable::new()));
    let key = InlineKey::from_pkcs8_der(&pki.client.key_pkcs8).unwrap();
    let intermediate: &[u8] = pki.intermediate.cert.as_ref();
    let chain: &[&[u8]] = if with_chain { &[intermediate] } else { &[] };
    t.with(|t| t.install_chain(pki.client.cert.as_ref(), chain, KeyRef::Inline(key)))
        .unwrap();
    t
}

fn run(pki: &TestPki, v: VersionPolicy, with_chain: bool) -> sim::Outcome {
    let scenario = Scenario {
        client_versions: v,
        server_versions: v,
        ..Scenario::default()
    };
    let sup = supplicant(pki, &scenario, table(pki, with_chain));
    let server = server_config(pki, v).unwrap();
    sim::run_with(sup, &server, &scenario).unwrap()
}

#[test]
fn slot_chain_is_sent_after_the_leaf_and_matches_a_root_hint() {
    let pki = TestPki::generate().unwrap();
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let o = run(&pki, v, true);
        let Some(Event::Authenticated(a)) = &o.event else {
            panic!("{v:?}: {:?} / server: {:?}", o.event, o.server_failure)
        };
        let k = o.server_keys.as_ref().expect("server keys");
        assert_eq!(&a.keys.msk.as_bytes()[..], &k.msk[..], "{v:?} MSK");
        assert_eq!(o.client_cert_seen.as_ref(), Some(&pki.client.cert));
    }
}

#[test]
fn without_the_slot_chain_the_server_has_no_path_to_its_root() {
    let pki = TestPki::generate().unwrap();
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let o = run(&pki, v, false);
        assert!(
            !matches!(o.event, Some(Event::Authenticated(_))),
            "{v:?}: authenticated without the intermediate"
        );
        // The root hint names no CA of the bare leaf's chain; it is sent all the same (hints
        // rank, never veto), and the server is the one that refuses it.
        assert_eq!(o.client_cert_seen.as_ref(), Some(&pki.client.cert), "{v:?}");
    }
}

/// A server that trusts the test root but names another CA in its CertificateRequest (as a
/// RADIUS server whose CA list is configured apart from what it accepts does).
fn server_naming_another_ca(pki: &TestPki, v: VersionPolicy) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.root.cert.clone()).unwrap();
    // The server certificate's subject names no CA of the client's chain.
    let mut unrelated = rustls::RootCertStore::empty();
    unrelated.add(pki.server.cert.clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .clear_root_hint_subjects()
    .add_root_hint_subjects(unrelated.subjects())
    .build()
    .unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] = match v {
        VersionPolicy::Tls12Only => &[&rustls::version::TLS12],
        _ => &[&rustls::version::TLS13],
    };
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![pki.server.cert.clone(), pki.intermediate.cert.clone()],
            pki.server.private_key(),
        )
        .unwrap();
    cfg.send_tls13_tickets = 0;
    Arc::new(cfg)
}

#[test]
fn a_ca_hint_that_names_none_of_our_chains_ranks_and_does_not_veto() {
    use latchkey_core::certs::HintMatch;
    let pki = TestPki::generate().unwrap();
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let scenario = Scenario {
            client_versions: v,
            server_versions: v,
            ..Scenario::default()
        };
        let sup = supplicant(&pki, &scenario, table(&pki, true));
        let o = sim::run_with(sup, &server_naming_another_ca(&pki, v), &scenario).unwrap();
        let Some(Event::Authenticated(a)) = &o.event else {
            panic!("{v:?}: {:?} / server: {:?}", o.event, o.server_failure)
        };
        let k = o.server_keys.as_ref().expect("server keys");
        assert_eq!(&a.keys.msk.as_bytes()[..], &k.msk[..], "{v:?} MSK");
        let rec = a.certificate.as_ref().expect("the server asked");
        assert_eq!(rec.ca_hints, 1);
        assert_eq!(rec.selection.hint, HintMatch::NotMatched, "{v:?}");
        let said = rec.selection.to_string();
        assert!(
            said.starts_with("slot 0 chosen (the server's CA list names none of our chains"),
            "{said}"
        );
    }
}
