//! The KB932521 scenarios end to end: the device's client certificate comes from the slot
//! table, the server's CRL revokes the old certificate, and the supplicant must present the
//! renewed one — or fail with "only archived certificates match", sending nothing archived.

use std::sync::{Arc, OnceLock};

use latchkey_core::certs::{
    InlineKey, KeyRef, SelectErrorKind, SkipReason, SlotIndex, SlotState, SlotTable,
};
use latchkey_core::eap::peer::PeerError;
use latchkey_core::eap_tls::method::MethodError;
use latchkey_core::supplicant::{Event, FailReason, Supplicant};
use latchkey_core::tls::{SlotSource, TlsError, VersionPolicy};
use latchkey_sim::pki::{Issued, TestPki};
use latchkey_sim::sim::{self, Scenario};

type Table = spin::Mutex<SlotTable<8, 2048>>;

const OLD_SERIAL: u64 = 0x01d;
const NEW_SERIAL: u64 = 0x2e3;

struct Pki {
    pki: TestPki,
    old: Issued,
    new: Issued,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let pki = TestPki::generate().unwrap();
        let old = pki.issue_client("device-0042", OLD_SERIAL).unwrap();
        let new = pki.issue_client("device-0042", NEW_SERIAL).unwrap();
        Pki { pki, old, new }
    })
}

fn key(i: &Issued) -> KeyRef {
    KeyRef::Inline(InlineKey::from_pkcs8_der(&i.key_pkcs8).unwrap())
}

fn table() -> Arc<Table> {
    Arc::new(spin::Mutex::new(SlotTable::new()))
}

fn scenario(v: VersionPolicy, revoked: &[u64]) -> Scenario {
    Scenario {
        server_versions: v,
        revoked_serials: revoked.to_vec(),
        ..Scenario::default()
    }
}

fn run(t: &Arc<Table>, v: VersionPolicy, revoked: &[u64]) -> sim::Outcome {
    let p = pki();
    let setup = sim::client_setup_with_table(
        &p.pki,
        VersionPolicy::Both,
        t.clone() as Arc<dyn SlotSource>,
    )
    .unwrap();
    let server = sim::server_config_revoking(&p.pki, v, revoked).unwrap();
    sim::run_with(setup, &server, &scenario(v, revoked)).unwrap()
}

#[test]
fn renewed_certificate_is_used_and_archived_one_never_sent() {
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let t = table();
        let old_slot = t.lock().install(&pki().old.cert, key(&pki().old)).unwrap();
        let new_slot = t.lock().install(&pki().new.cert, key(&pki().new)).unwrap();
        // Renewal archived the predecessor in the same step.
        assert_eq!(t.lock().state(old_slot), Some(SlotState::Archived));
        let o = run(&t, v, &[OLD_SERIAL]);
        let Some(Event::Authenticated(a)) = &o.event else {
            panic!("{v:?}: {:?} / server: {:?}", o.event, o.server_failure)
        };
        // The server saw the renewed certificate, not the archived one.
        assert_eq!(o.client_cert_seen.as_ref(), Some(&pki().new.cert));
        let sel = a.certificate.as_ref().unwrap().selection.as_ref().unwrap();
        assert_eq!(sel.chosen, Some(new_slot));
        assert!(
            sel.skipped.contains(&(old_slot, SkipReason::Archived)),
            "{sel}"
        );
        // A success raised the persisted time floor to now.
        assert!(t.lock().time_floor() > 1_700_000_000);
    }
}

#[test]
fn only_archived_certificate_left_fails_with_typed_error_and_sends_nothing() {
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let t = table();
        let old_slot = t.lock().install(&pki().old.cert, key(&pki().old)).unwrap();
        let new_slot = t.lock().install(&pki().new.cert, key(&pki().new)).unwrap();
        t.lock().remove(new_slot).unwrap();
        assert_eq!(t.lock().state(old_slot), Some(SlotState::Archived));
        let o = run(&t, v, &[OLD_SERIAL]);
        match &o.event {
            Some(Event::Failed(
                r @ FailReason::Eap(PeerError::Method(MethodError::NoClientCertificate(
                    SelectErrorKind::OnlyArchivedMatch,
                ))),
            )) => {
                assert_eq!(r.kind(), "only-archived-match");
                assert!(
                    r.to_string().contains("only archived certificates match"),
                    "{r}"
                );
            }
            other => panic!("{v:?}: expected OnlyArchivedMatch, got {other:?}"),
        }
        // No certificate reached the server, archived or otherwise, and no keys exist.
        assert_eq!(o.client_cert_seen, None);
        assert!(o.server_keys.is_none());
    }
}

/// The control: if the old certificate were presented, the server would refuse it. This is
/// what makes the two tests above meaningful.
#[test]
fn server_refuses_the_revoked_old_certificate_when_it_is_active() {
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let t = table();
        t.lock().install(&pki().old.cert, key(&pki().old)).unwrap();
        let o = run(&t, v, &[OLD_SERIAL]);
        assert_eq!(o.client_cert_seen.as_ref(), Some(&pki().old.cert), "{v:?}");
        match &o.event {
            // The server's certificate_revoked alert reaches the supplicant, named as such.
            Some(Event::Failed(
                r @ FailReason::Eap(PeerError::Method(MethodError::Tls(TlsError::Rustls(
                    rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRevoked),
                )))),
            )) => assert!(r.to_string().contains("CertificateRevoked"), "{r}"),
            other => panic!("{v:?}: expected revocation, got {other:?}"),
        }
        assert!(o.server_keys.is_none());
    }
}

#[test]
fn renewal_between_two_authentications_without_restart() {
    let p = pki();
    let t = table();
    t.lock().install(&p.old.cert, key(&p.old)).unwrap();
    let setup = sim::client_setup_with_table(
        &p.pki,
        VersionPolicy::Both,
        t.clone() as Arc<dyn SlotSource>,
    )
    .unwrap();
    let s = scenario(VersionPolicy::Tls13Only, &[]);
    let mut sup: Box<Supplicant> = Box::new(Supplicant::new(s.config.clone(), setup));
    let server = sim::server_config(&p.pki, VersionPolicy::Tls13Only).unwrap();
    let first = sim::run_on(&mut sup, &server, &s).unwrap();
    assert!(matches!(first.event, Some(Event::Authenticated(_))));
    assert_eq!(first.client_cert_seen.as_ref(), Some(&p.old.cert));
    // Auto-enrollment delivers the renewed certificate while the supplicant keeps running.
    let new_slot = t.lock().install(&p.new.cert, key(&p.new)).unwrap();
    let second = sim::run_on(&mut sup, &server, &s).unwrap();
    let Some(Event::Authenticated(a)) = &second.event else {
        panic!("{:?}", second.event)
    };
    assert_eq!(second.client_cert_seen.as_ref(), Some(&p.new.cert));
    assert_eq!(
        a.certificate
            .as_ref()
            .unwrap()
            .selection
            .as_ref()
            .unwrap()
            .chosen,
        Some(new_slot)
    );
    assert_eq!(new_slot, SlotIndex::new(1));
}
