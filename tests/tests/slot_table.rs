//! The KB932521 scenarios end to end: the device's client certificate comes from the slot
//! table, the server's CRL revokes the old certificate, and the supplicant must present the
//! renewed one — or fail with "only archived certificates match", sending nothing archived.

use std::sync::{Arc, OnceLock};

use latchkey_core::certs::{
    InlineKey, KeyRef, SelectErrorKind, SharedSlotTable, SignatureScheme, SkipReason, SlotIndex,
    SlotState, SlotTable,
};
use latchkey_core::eap::peer::PeerError;
use latchkey_core::eap_tls::method::MethodError;
use latchkey_core::supplicant::{Event, FailReason};
use latchkey_core::tls::{Alert, TlsError, VersionPolicy};
use latchkey_sim::auth::tls::{server_config, server_config_revoking};
use latchkey_sim::drive::sim;
use latchkey_sim::drive::sim::Scenario;
use latchkey_sim::hal::memory;
use latchkey_sim::pki::{Issued, TestPki};

type Table = SharedSlotTable<8, 2048>;

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
    Arc::new(SharedSlotTable::new(SlotTable::new()))
}

fn scenario(v: VersionPolicy, revoked: &[u64]) -> Scenario {
    Scenario {
        server_versions: v,
        revoked_serials: revoked.to_vec(),
        ..Scenario::default()
    }
}

fn run(t: &Arc<Table>, v: VersionPolicy, revoked: &[u64]) -> sim::Outcome {
    run_scenario(t, &scenario(v, revoked))
}

/// One authentication of a fresh supplicant over table `t` against the scenario's server.
fn run_scenario(t: &Arc<Table>, s: &Scenario) -> sim::Outcome {
    let p = pki();
    let sup = memory::client_builder(&p.pki, &s.config, VersionPolicy::Both, t.clone())
        .unwrap()
        .build()
        .unwrap();
    let server = server_config_revoking(&p.pki, s.server_versions, &s.revoked_serials).unwrap();
    sim::run_with(sup, &server, s).unwrap()
}

#[test]
fn renewed_certificate_is_used_and_archived_one_never_sent() {
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let t = table();
        let old_slot = t
            .with(|t| t.install(&pki().old.cert, key(&pki().old)))
            .unwrap();
        let new_slot = t
            .with(|t| t.install(&pki().new.cert, key(&pki().new)))
            .unwrap();
        // Renewal archived the predecessor in the same step.
        assert_eq!(t.with(|t| t.state(old_slot)), Some(SlotState::Archived));
        let o = run(&t, v, &[OLD_SERIAL]);
        let Some(Event::Authenticated(a)) = &o.event else {
            panic!("{v:?}: {:?} / server: {:?}", o.event, o.server_failure)
        };
        // The server saw the renewed certificate, not the archived one.
        assert_eq!(o.client_cert_seen.as_ref(), Some(&pki().new.cert));
        let sel = &a.certificate.as_ref().unwrap().selection;
        assert_eq!(sel.chosen, Some(new_slot));
        assert!(
            sel.skipped.contains(&(old_slot, SkipReason::Archived)),
            "{sel}"
        );
        // A success raised the persisted time floor to now.
        assert!(t.with(|t| t.time_floor()) > 1_700_000_000);
    }
}

#[test]
fn only_archived_certificate_left_fails_with_typed_error_and_sends_nothing() {
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let t = table();
        let old_slot = t
            .with(|t| t.install(&pki().old.cert, key(&pki().old)))
            .unwrap();
        let new_slot = t
            .with(|t| t.install(&pki().new.cert, key(&pki().new)))
            .unwrap();
        t.with(|t| t.remove(new_slot)).unwrap();
        assert_eq!(t.with(|t| t.state(old_slot)), Some(SlotState::Archived));
        let o = run(&t, v, &[OLD_SERIAL]);
        match &o.event {
            Some(Event::Failed(
                r @ FailReason::Eap(PeerError::Method(MethodError::Tls(
                    TlsError::NoClientCertificate(SelectErrorKind::OnlyArchivedMatch),
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
        t.with(|t| t.install(&pki().old.cert, key(&pki().old)))
            .unwrap();
        let o = run(&t, v, &[OLD_SERIAL]);
        assert_eq!(o.client_cert_seen.as_ref(), Some(&pki().old.cert), "{v:?}");
        match &o.event {
            // The server's certificate_revoked alert reaches the supplicant, named as such.
            Some(Event::Failed(
                r @ FailReason::Eap(PeerError::Method(MethodError::Tls(TlsError::AlertReceived(
                    alert,
                )))),
            )) if alert.name() == "certificate_revoked" => {
                assert_eq!(*alert, Alert(44));
                assert!(r.to_string().contains("certificate_revoked"), "{r}")
            }
            other => panic!("{v:?}: expected revocation, got {other:?}"),
        }
        assert!(o.server_keys.is_none());
    }
}

#[test]
fn bare_failure_after_our_certificate_is_a_prompt_rejection() {
    // hostapd 2.10 and FreeRADIUS 3.2.1 refuse a revoked client certificate with a bare
    // EAP-Failure (no certificate_revoked alert). The supplicant must take it as the server's
    // verdict at once, not discard it as an early Failure and sit out authPeriod.
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let t = table();
        t.with(|t| t.install(&pki().old.cert, key(&pki().old)))
            .unwrap();
        let mut s = scenario(v, &[OLD_SERIAL]);
        s.server.failure_without_alert = true;
        let o = run_scenario(&t, &s);
        assert_eq!(o.client_cert_seen.as_ref(), Some(&pki().old.cert), "{v:?}");
        match &o.event {
            Some(Event::Failed(r @ FailReason::Eap(PeerError::RejectedAfterHandshake))) => {
                assert_eq!(r.kind(), "rejected-certificate");
                assert!(r.to_string().contains("revoked"), "{r}");
            }
            other => panic!("{v:?}: expected a prompt rejection, got {other:?}"),
        }
        assert_eq!(o.drops.eap, 0, "{v:?}: the Failure was not discarded");
        assert!(o.server_keys.is_none());
    }
}

#[test]
fn renewal_between_two_authentications_without_restart() {
    let p = pki();
    let t = table();
    t.with(|t| t.install(&p.old.cert, key(&p.old))).unwrap();
    let s = scenario(VersionPolicy::Tls13Only, &[]);
    let mut sup = memory::client_builder(&p.pki, &s.config, VersionPolicy::Both, t.clone())
        .unwrap()
        .build()
        .unwrap();
    let server = server_config(&p.pki, VersionPolicy::Tls13Only).unwrap();
    let first = sim::run_on(&mut sup, &server, &s).unwrap();
    assert!(matches!(first.event, Some(Event::Authenticated(_))));
    assert_eq!(first.client_cert_seen.as_ref(), Some(&p.old.cert));
    // Auto-enrollment delivers the renewed certificate while the supplicant keeps running.
    let new_slot = t.with(|t| t.install(&p.new.cert, key(&p.new))).unwrap();
    let second = sim::run_on(&mut sup, &server, &s).unwrap();
    let Some(Event::Authenticated(a)) = &second.event else {
        panic!("{:?}", second.event)
    };
    assert_eq!(second.client_cert_seen.as_ref(), Some(&p.new.cert));
    assert_eq!(
        a.certificate.as_ref().unwrap().selection.chosen,
        Some(new_slot)
    );
    assert_eq!(new_slot, SlotIndex::new(1));
}

/// A secure element: the key never leaves it; the slot holds only a handle.
#[derive(Debug)]
struct SecureElement {
    key: p256::ecdsa::SigningKey,
    signatures: std::sync::atomic::AtomicUsize,
}

impl latchkey_core::hal::KeyStore for SecureElement {
    fn has_key(&self, handle: u32) -> bool {
        handle == 7
    }

    fn supports(&self, handle: u32, scheme: SignatureScheme) -> bool {
        self.has_key(handle) && scheme == SignatureScheme::ECDSA_NISTP256_SHA256
    }

    fn sign(
        &self,
        handle: u32,
        scheme: SignatureScheme,
        message: &[u8],
        out: &mut [u8],
    ) -> Result<usize, latchkey_core::hal::SignError> {
        use p256::ecdsa::signature::Signer;
        if !self.has_key(handle) {
            return Err(latchkey_core::hal::SignError::KeyUnavailable);
        }
        if !self.supports(handle, scheme) {
            return Err(latchkey_core::hal::SignError::UnsupportedScheme);
        }
        let sig: p256::ecdsa::Signature = self.key.sign(message);
        let der = sig.to_der();
        let bytes = der.as_bytes();
        let dst = out
            .get_mut(..bytes.len())
            .ok_or(latchkey_core::hal::SignError::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.signatures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(bytes.len())
    }

    /// The element's key is made inside it (here: it was given at construction, and this is
    /// the moment the platform learns its handle and public key).
    fn generate_p256(&self) -> Result<(u32, [u8; 65]), latchkey_core::hal::SignError> {
        let point = self.key.verifying_key().to_encoded_point(false);
        Ok((7, point.as_bytes().try_into().unwrap()))
    }
}

/// The element shared with the test, which counts its signatures.
struct SharedElement(Arc<SecureElement>);

impl latchkey_core::hal::KeyStore for SharedElement {
    fn has_key(&self, handle: u32) -> bool {
        self.0.has_key(handle)
    }

    fn supports(&self, handle: u32, scheme: SignatureScheme) -> bool {
        self.0.supports(handle, scheme)
    }

    fn sign(
        &self,
        handle: u32,
        scheme: SignatureScheme,
        m: &[u8],
        out: &mut [u8],
    ) -> Result<usize, latchkey_core::hal::SignError> {
        self.0.sign(handle, scheme, m, out)
    }

    fn generate_p256(&self) -> Result<(u32, [u8; 65]), latchkey_core::hal::SignError> {
        self.0.generate_p256()
    }
}

#[test]
fn secure_element_handle_slot_signs_through_the_key_store() {
    use p256::pkcs8::DecodePrivateKey;
    let p = pki();
    let se = Arc::new(SecureElement {
        key: p256::ecdsa::SigningKey::from_pkcs8_der(&p.new.key_pkcs8).unwrap(),
        signatures: Default::default(),
    });
    let t = table();
    t.with(|t| t.install(&p.old.cert, key(&p.old))).unwrap();
    // The renewed key was generated inside the element: the table holds handle 7 only.
    let slot = t
        .with(|t| t.install(&p.new.cert, KeyRef::Handle(7)))
        .unwrap();
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let s = scenario(v, &[OLD_SERIAL]);
        let sup = memory::client_builder(&p.pki, &s.config, VersionPolicy::Both, t.clone())
            .unwrap()
            .key_store(SharedElement(se.clone()))
            .build()
            .unwrap();
        let server = server_config_revoking(&p.pki, v, &[OLD_SERIAL]).unwrap();
        let before = se.signatures.load(std::sync::atomic::Ordering::Relaxed);
        let o = sim::run_with(sup, &server, &s).unwrap();
        let Some(Event::Authenticated(a)) = &o.event else {
            panic!("{v:?}: {:?}", o.event)
        };
        assert_eq!(a.certificate.as_ref().unwrap().selection.chosen, Some(slot));
        assert_eq!(o.client_cert_seen.as_ref(), Some(&p.new.cert));
        assert_eq!(
            se.signatures.load(std::sync::atomic::Ordering::Relaxed),
            before + 1,
            "{v:?}"
        );
    }
}

#[test]
fn self_renewal_with_the_key_made_in_the_secure_element_authenticates_by_handle() {
    use p256::pkcs8::DecodePrivateKey;
    use x509_cert::der::{Decode, Encode};
    let p = pki();
    // The element's next key; the test keeps its rcgen form only to play the CA below.
    let next = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let se = Arc::new(SecureElement {
        key: p256::ecdsa::SigningKey::from_pkcs8_der(&next.serialize_der()).unwrap(),
        signatures: Default::default(),
    });
    let t = table();
    let old_slot = t.with(|t| t.install(&p.new.cert, key(&p.new))).unwrap();
    let pending = t
        .with(|t| t.start_renewal_in(old_slot, &SharedElement(se.clone())))
        .unwrap();
    // The request is signed inside the element and carries its public key and the subject.
    let before = se.signatures.load(std::sync::atomic::Ordering::Relaxed);
    let csr = t
        .with(|t| t.renewal_request_with(&SharedElement(se.clone())))
        .unwrap();
    assert_eq!(
        se.signatures.load(std::sync::atomic::Ordering::Relaxed),
        before + 1
    );
    let req = x509_cert::request::CertReq::from_der(&csr).unwrap();
    let old = x509_cert::Certificate::from_der(&p.new.cert).unwrap();
    assert_eq!(
        req.info.subject.to_der().unwrap(),
        old.tbs_certificate.subject.to_der().unwrap()
    );
    assert_eq!(
        req.info.public_key.subject_public_key.raw_bytes(),
        se.key.verifying_key().to_encoded_point(false).as_bytes()
    );
    // The CA issues for that key; the slot keeps the element's handle.
    let issued = p
        .pki
        .issue_client_for_key("device-0042", 0x3e3, next)
        .unwrap();
    let slot = t.with(|t| t.install_renewal(&issued.cert, &[])).unwrap();
    assert_eq!(slot, pending);
    assert_eq!(t.with(|t| t.state(old_slot)), Some(SlotState::Archived));
    assert_eq!(
        t.with(|t| t.get(slot).map(|s| s.key_kind())),
        Some(latchkey_core::certs::KeyKind::Handle(7))
    );
    let s = scenario(VersionPolicy::Tls13Only, &[]);
    let sup = memory::client_builder(&p.pki, &s.config, VersionPolicy::Both, t.clone())
        .unwrap()
        .key_store(SharedElement(se.clone()))
        .build()
        .unwrap();
    let server = server_config_revoking(&p.pki, s.server_versions, &[]).unwrap();
    let o = sim::run_with(sup, &server, &s).unwrap();
    let Some(Event::Authenticated(a)) = &o.event else {
        panic!("{:?}", o.event)
    };
    assert_eq!(a.certificate.as_ref().unwrap().selection.chosen, Some(slot));
    assert_eq!(o.client_cert_seen.as_ref(), Some(&issued.cert));
}

#[test]
fn wall_clock_below_the_floor_is_wrong_for_the_server_check_and_selection_alike() {
    // An RTC reset to 2020 while the slot table's persisted floor says today: one time basis,
    // the floor, serves both the server check (whose certificate is valid from yesterday, so
    // "not yet valid" in 2020) and the certificate selection.
    let p = pki();
    let t = table();
    t.with(|t| t.install(&p.new.cert, key(&p.new))).unwrap();
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    t.with(|t| t.observe_time(today));
    let s = Scenario {
        clock: sim::Clock::At(1_600_000_000),
        ..scenario(VersionPolicy::Both, &[])
    };
    let o = run_scenario(&t, &s);
    let Some(Event::Authenticated(a)) = &o.event else {
        panic!("{:?}", o.event)
    };
    let floor = latchkey_core::certs::TimeSource::Floor(today);
    assert_eq!(a.time, floor);
    assert_eq!(a.certificate.as_ref().unwrap().selection.time, floor);
    match &a.server {
        Some(latchkey_core::tls::ServerVerdict::Accepted { time, .. }) => assert_eq!(*time, floor),
        other => panic!("server verdict {other:?}"),
    }
    // A floor is not a proof of the time: it is not raised by this success.
    assert!(!a.persist);
}
