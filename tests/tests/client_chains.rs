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
use latchkey_sim::pki::{TestPki, SERVER_NAME};
use latchkey_sim::sim::{self, host_crypto, Scenario};

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
    let server = sim::server_config(pki, v).unwrap();
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
    }
}
