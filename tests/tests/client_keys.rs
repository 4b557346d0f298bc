//! Client keys as enterprise CAs issue them, end to end through the simulator: RSA (2048 and
//! 4096 bits, PKCS#8 and PKCS#1) and ECDSA P-384 inline keys sign CertificateVerify in TLS 1.2
//! and 1.3; the server verifies the signature with its own (ring) verifier, and the MSK, EMSK
//! and Session-Id equal the server's. A TLS 1.3 RSA signature is RSA-PSS (RFC 8446 §4.2.3); a
//! TLS 1.2 server that asks for PKCS#1 v1.5 only gets PKCS#1 v1.5.

use std::sync::{Arc, OnceLock};

use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotTable};
use latchkey_core::supplicant::Event;
use latchkey_core::tls::{TlsVersion, VersionPolicy};
use latchkey_sim::pki::{Issued, TestPki};
use latchkey_sim::sim::{self, Scenario};
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
    let sup = sim::client_builder(&p.pki, &scenario.config, v, table_with(cert, key))
        .unwrap()
        .build()
        .unwrap();
    let server = match schemes {
        Some(s) => sim::server_config_with_client_schemes(&p.pki, v, s).unwrap(),
        None => sim::server_config(&p.pki, v).unwrap(),
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
    let sup = sim::client_builder(&p.pki, &scenario.config, v, t)
        .unwrap()
        .build()
        .unwrap();
    let server = sim::server_config_with_client_schemes(
        &p.pki,
        v,
        &[SignatureScheme::ECDSA_NISTP256_SHA256],
    )
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
