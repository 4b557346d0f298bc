//! Client keys as enterprise CAs issue them, end to end through the simulator: RSA (2048 and
//! 4096 bits, PKCS#8 and PKCS#1) and ECDSA P-384 inline keys sign CertificateVerify in TLS 1.2
//! and 1.3; the server verifies the signature with its own (ring) verifier, and the MSK, EMSK
//! and Session-Id equal the server's. A TLS 1.3 RSA signature is RSA-PSS (RFC 8446 §4.2.3); a
//! TLS 1.2 server that asks for PKCS#1 v1.5 only gets PKCS#1 v1.5.

use std::sync::{Arc, OnceLock};

use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotTable};
use latchkey_core::supplicant::Event;
use latchkey_core::tls::{TlsVersion, VersionPolicy};
use latchkey_sim::auth::tls::{server_config, server_config_with_client_schemes};
use latchkey_sim::drive::sim;
use latchkey_sim::drive::sim::Scenario;
use latchkey_sim::hal::memory;
use latchkey_sim::pki::{Issued, TestPki};
use rustls::SignatureScheme;

type Table = SharedSlotTable<4, 2048>;

const RSA2048_PEM: &str = include_str!("../../core/tests/data/rsa2048-key.pkcs8.pem");
const RSA2048_PKCS1: &[u8] = include_bytes!("../../core/tests/data/rsa2048-key.pkcs1.der");
const RSA4096_PKCS8: &[u8] = include_bytes!("../../core/tests/data/rsa4096-key.pkcs8.der");

struct Pki {
    pki: TestPki,
    p384: Issued,
    rsa2048: Issued,
    rsa4096: Issued,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let pki = TestPki::generate().unwrap();
        let p384 = pki
            .issue_client_for_key(
                "device-p384",
                0x384,
                rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
            )
            .unwrap();
        let rsa2048 = pki
            .issue_client_for_key(
                "device-rsa",
                0x2048,
                rcgen::KeyPair::from_pem(RSA2048_PEM).unwrap(),
            )
            .unwrap();
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from(RSA4096_PKCS8.to_vec());
        let rsa4096 = pki
            .issue_client_for_key(
                "device-rsa4096",
                0x4096,
                rcgen::KeyPair::try_from(&der).unwrap(),
            )
            .unwrap();
        Pki {
            pki,
            p384,
            rsa2048,
            rsa4096,
        }
    })
}

fn table_with(cert: &Issued, key: InlineKey) -> Arc<Table> {
    let t = Arc::new(SharedSlotTable::new(SlotTable::new()));
    t.with(|t| t.install(cert.cert.as_ref(), KeyRef::Inline(key)))
        .unwrap();
    t
}

/// One authentication with `key` for `cert` against a server speaking `v` (asking for
/// `schemes` only, when given); asserts success, the keys and the certificate the server saw,
/// and returns the CertificateVerify scheme the server checked.
fn authenticate(
    cert: &Issued,
    key: InlineKey,
    v: VersionPolicy,
    schemes: Option<&[SignatureScheme]>,
) -> SignatureScheme {
    let p = pki();
    let scenario = Scenario {
        server_versions: v,
        ..Scenario::default()
    };
    let sup = memory::client_builder(&p.pki, &scenario.config, v, table_with(cert, key))
        .unwrap()
        .build()
        .unwrap();
    let server = match schemes {
        Some(s) => server_config_with_client_schemes(&p.pki, v, s).unwrap(),
        None => server_config(&p.pki, v).unwrap(),
    };
    let o = sim::run_with(sup, &server, &scenario).unwrap();
    let Some(Event::Authenticated(a)) = &o.event else {
        panic!("{v:?}: {:?} / server: {:?}", o.event, o.server_failure)
    };
    let want = match v {
        VersionPolicy::Tls12Only => TlsVersion::Tls12,
        _ => TlsVersion::Tls13,
    };
    assert_eq!(a.version, want);
    let k = o.server_keys.as_ref().expect("server keys");
    assert_eq!(&a.keys.msk.as_bytes()[..], &k.msk[..], "MSK");
    assert_eq!(&a.keys.emsk.as_bytes()[..], &k.emsk[..], "EMSK");
    assert_eq!(&a.keys.session_id.0[..], &k.session_id[..], "Session-Id");
    assert_eq!(o.client_cert_seen.as_ref(), Some(&cert.cert));
    o.client_scheme_seen
        .expect("the server checked a CertificateVerify")
}

const BOTH: [VersionPolicy; 2] = [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only];

#[test]
fn p384_client_key_authenticates_with_ecdsa_sha384_in_tls12_and_tls13() {
    let p = pki();
    for v in BOTH {
        let key = InlineKey::from_pkcs8_der(&p.p384.key_pkcs8).unwrap();
        assert_eq!(
            authenticate(&p.p384, key, v, None),
            SignatureScheme::ECDSA_NISTP384_SHA384,
            "{v:?}"
        );
    }
}

#[test]
fn rsa2048_client_key_authenticates_with_rsa_pss_in_tls12_and_tls13() {
    let p = pki();
    for v in BOTH {
        // The PKCS#8 document rcgen wrote and the PKCS#1 file of the same key.
        for key in [
            InlineKey::from_pkcs8_der(&p.rsa2048.key_pkcs8).unwrap(),
            InlineKey::from_pkcs1_der(RSA2048_PKCS1).unwrap(),
        ] {
            assert_eq!(
                authenticate(&p.rsa2048, key, v, None),
                SignatureScheme::RSA_PSS_SHA256,
                "{v:?}"
            );
        }
    }
}

#[test]
fn tls12_server_asking_for_pkcs1_only_gets_pkcs1_v15() {
    let p = pki();
    let key = InlineKey::from_pkcs1_der(RSA2048_PKCS1).unwrap();
    let only = [
        SignatureScheme::RSA_PKCS1_SHA384,
        SignatureScheme::ECDSA_NISTP256_SHA256,
    ];
    assert_eq!(
        authenticate(&p.rsa2048, key, VersionPolicy::Tls12Only, Some(&only)),
        SignatureScheme::RSA_PKCS1_SHA384
    );
    // The same server restricted to PSS-SHA-512 gets that.
    let key = InlineKey::from_pkcs1_der(RSA2048_PKCS1).unwrap();
    assert_eq!(
        authenticate(
            &p.rsa2048,
            key,
            VersionPolicy::Tls12Only,
            Some(&[SignatureScheme::RSA_PSS_SHA512])
        ),
        SignatureScheme::RSA_PSS_SHA512
    );
}

#[test]
fn rsa4096_client_key_authenticates_in_tls13() {
    let p = pki();
    let key = InlineKey::from_pkcs8_der(RSA4096_PKCS8).unwrap();
    assert_eq!(
        authenticate(&p.rsa4096, key, VersionPolicy::Tls13Only, None),
        SignatureScheme::RSA_PSS_SHA256
    );
}

#[test]
fn server_taking_no_scheme_of_the_key_gets_no_certificate_and_the_reason() {
    use latchkey_core::certs::SelectErrorKind;
    use latchkey_core::eap::peer::PeerError;
    use latchkey_core::eap_tls::method::MethodError;
    use latchkey_core::supplicant::FailReason;
    use latchkey_core::tls::TlsError;
    let p = pki();
    let key = InlineKey::from_pkcs1_der(RSA2048_PKCS1).unwrap();
    let v = VersionPolicy::Tls13Only;
    let scenario = Scenario {
        server_versions: v,
        ..Scenario::default()
    };
    let t = table_with(&p.rsa2048, key);
    let sup = memory::client_builder(&p.pki, &scenario.config, v, t)
        .unwrap()
        .build()
        .unwrap();
    let server =
        server_config_with_client_schemes(&p.pki, v, &[SignatureScheme::ECDSA_NISTP256_SHA256])
            .unwrap();
    let o = sim::run_with(sup, &server, &scenario).unwrap();
    assert!(o.client_cert_seen.is_none());
    match &o.event {
        Some(Event::Failed(
            r @ FailReason::Eap(PeerError::Method(MethodError::Tls(TlsError::NoClientCertificate(
                SelectErrorKind::SchemeNotAccepted,
            )))),
        )) => assert_eq!(r.kind(), "no-client-certificate"),
        other => panic!("{other:?} / server: {:?}", o.server_failure),
    }
}

/// A stand-in secure element holding one RSA key under handle 3 that signs with the schemes
/// it was built to support (RSA-PSS only, say, as some TPMs do).
struct RsaElement {
    key: rsa::RsaPrivateKey,
    schemes: Vec<latchkey_core::certs::SignatureScheme>,
}

impl latchkey_core::hal::KeyStore for RsaElement {
    fn has_key(&self, handle: u32) -> bool {
        handle == 3
    }

    fn supports(&self, handle: u32, scheme: latchkey_core::certs::SignatureScheme) -> bool {
        self.has_key(handle) && self.schemes.contains(&scheme)
    }

    fn sign(
        &self,
        handle: u32,
        scheme: latchkey_core::certs::SignatureScheme,
        message: &[u8],
        out: &mut [u8],
    ) -> Result<usize, latchkey_core::hal::SignError> {
        use latchkey_core::certs::SignatureScheme as S;
        use latchkey_core::hal::SignError;
        use sha2::Digest;
        if !self.has_key(handle) {
            return Err(SignError::KeyUnavailable);
        }
        if !self.supports(handle, scheme) {
            return Err(SignError::UnsupportedScheme);
        }
        let mut rng = rand_core::OsRng;
        let digest = sha2::Sha256::digest(message);
        let sig = match scheme {
            S::RSA_PSS_RSAE_SHA256 => {
                self.key
                    .sign_with_rng(&mut rng, rsa::Pss::new::<sha2::Sha256>(), &digest)
            }
            S::RSA_PKCS1_SHA256 => {
                self.key
                    .sign_with_rng(&mut rng, rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
            }
            _ => return Err(SignError::UnsupportedScheme),
        }
        .map_err(|_| SignError::Device)?;
        let dst = out.get_mut(..sig.len()).ok_or(SignError::BufferTooSmall)?;
        dst.copy_from_slice(&sig);
        Ok(sig.len())
    }
}

fn element_supplicant(
    v: VersionPolicy,
    schemes: &[latchkey_core::certs::SignatureScheme],
) -> latchkey_core::supplicant::Supplicant {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let p = pki();
    let t: Arc<Table> = Arc::new(SharedSlotTable::new(SlotTable::new()));
    t.with(|t| t.install(p.rsa2048.cert.as_ref(), KeyRef::Handle(3)))
        .unwrap();
    let element = RsaElement {
        key: rsa::RsaPrivateKey::from_pkcs1_der(RSA2048_PKCS1).unwrap(),
        schemes: schemes.to_vec(),
    };
    memory::client_builder(&p.pki, &Scenario::default().config, v, t)
        .unwrap()
        .key_store(element)
        .build()
        .unwrap()
}

#[test]
fn rsa_key_in_a_key_store_signs_with_the_scheme_it_reports() {
    use latchkey_core::certs::SignatureScheme as S;
    let p = pki();
    for (v, schemes, want) in [
        (
            VersionPolicy::Tls13Only,
            vec![S::RSA_PSS_RSAE_SHA256, S::RSA_PKCS1_SHA256],
            SignatureScheme::RSA_PSS_SHA256,
        ),
        // A TLS 1.2 store that can do PKCS#1 v1.5 only is used with PKCS#1 v1.5.
        (
            VersionPolicy::Tls12Only,
            vec![S::RSA_PKCS1_SHA256],
            SignatureScheme::RSA_PKCS1_SHA256,
        ),
    ] {
        let scenario = Scenario {
            server_versions: v,
            ..Scenario::default()
        };
        let server = server_config(&p.pki, v).unwrap();
        let o = sim::run_with(element_supplicant(v, &schemes), &server, &scenario).unwrap();
        let Some(Event::Authenticated(a)) = &o.event else {
            panic!("{v:?}: {:?} / server: {:?}", o.event, o.server_failure)
        };
        let k = o.server_keys.as_ref().expect("server keys");
        assert_eq!(&a.keys.msk.as_bytes()[..], &k.msk[..], "MSK");
        assert_eq!(o.client_cert_seen.as_ref(), Some(&p.rsa2048.cert));
        assert_eq!(o.client_scheme_seen, Some(want), "{v:?}");
    }
}

#[test]
fn key_store_that_can_make_no_tls13_scheme_refuses_before_sending_the_certificate() {
    use latchkey_core::certs::{SelectErrorKind, SignatureScheme as S};
    use latchkey_core::eap::peer::PeerError;
    use latchkey_core::eap_tls::method::MethodError;
    use latchkey_core::supplicant::FailReason;
    use latchkey_core::tls::TlsError;
    let p = pki();
    let v = VersionPolicy::Tls13Only;
    let scenario = Scenario {
        server_versions: v,
        ..Scenario::default()
    };
    // PKCS#1 v1.5 only: TLS 1.3 forbids it in CertificateVerify.
    let sup = element_supplicant(v, &[S::RSA_PKCS1_SHA256]);
    let server = server_config(&p.pki, v).unwrap();
    let o = sim::run_with(sup, &server, &scenario).unwrap();
    assert!(o.client_cert_seen.is_none());
    match &o.event {
        Some(Event::Failed(FailReason::Eap(PeerError::Method(MethodError::Tls(
            TlsError::NoClientCertificate(SelectErrorKind::SchemeNotAccepted),
        ))))) => {}
        other => panic!("{other:?} / server: {:?}", o.server_failure),
    }
}
