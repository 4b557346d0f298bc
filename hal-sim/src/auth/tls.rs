//! The simulated RADIUS server's rustls configuration: the test PKI's server chain (or a rogue
//! server's), client certificates verified against the test root (optionally against a CRL),
//! and a verifier that records which client certificate and signature scheme it was shown.

use std::sync::Arc;

use latchkey_core::tls::VersionPolicy;
use rustls::pki_types::CertificateDer;

use crate::pki::TestPki;

fn versions(v: VersionPolicy) -> Vec<&'static rustls::SupportedProtocolVersion> {
    match v {
        VersionPolicy::Tls12Only => vec![&rustls::version::TLS12],
        VersionPolicy::Tls13Only => vec![&rustls::version::TLS13],
        _ => vec![&rustls::version::TLS13, &rustls::version::TLS12],
    }
}

/// The simulated RADIUS server's rustls configuration (ring provider, client certificate
/// required, verified against the test root).
pub fn server_config(pki: &TestPki, v: VersionPolicy) -> Result<Arc<rustls::ServerConfig>, String> {
    server_config_revoking(pki, v, &[])
}

/// Like [`server_config`], with a CRL from the intermediate CA revoking these client serials
/// (the server then refuses those certificates with a `certificate_revoked` alert).
pub fn server_config_revoking(
    pki: &TestPki,
    v: VersionPolicy,
    revoked: &[u64],
) -> Result<Arc<rustls::ServerConfig>, String> {
    server_config_with_cert(
        pki,
        v,
        revoked,
        pki.server_chain(),
        pki.server.private_key(),
    )
}

/// Like [`server_config_revoking`], with the server presenting `chain` (leaf first) signed for
/// by `key` (rogue servers present other certificates).
pub fn server_config_with_cert(
    pki: &TestPki,
    v: VersionPolicy,
    revoked: &[u64],
    chain: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    server_config_full(pki, v, revoked, chain, key, None)
}

/// Like [`server_config`], with the server's CertificateRequest listing only those of
/// `client_schemes` it can verify.
pub fn server_config_with_client_schemes(
    pki: &TestPki,
    v: VersionPolicy,
    client_schemes: &[rustls::SignatureScheme],
) -> Result<Arc<rustls::ServerConfig>, String> {
    server_config_full(
        pki,
        v,
        &[],
        pki.server_chain(),
        pki.server.private_key(),
        Some(client_schemes),
    )
}

fn server_config_full(
    pki: &TestPki,
    v: VersionPolicy,
    revoked: &[u64],
    chain: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
    client_schemes: Option<&[rustls::SignatureScheme]>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(pki.root.cert.clone())
        .map_err(|e| e.to_string())?;
    let mut builder = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    );
    if !revoked.is_empty() {
        builder = builder
            .with_crls([pki.crl(revoked).map_err(|e| e.to_string())?])
            .only_check_end_entity_revocation();
    }
    let verifier = Arc::new(RecordingVerifier(
        builder.build().map_err(|e| e.to_string())?,
        client_schemes.map(<[_]>::to_vec),
    ));
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(v))
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    // EAP-TLS servers send no session tickets before the commitment message.
    cfg.send_tls13_tickets = 0;
    Ok(Arc::new(cfg))
}

thread_local! {
    /// The client certificate the simulated server was last asked to verify (the simulation
    /// runs on one thread; rustls calls the verifier synchronously).
    static SEEN_CLIENT_CERT: std::cell::RefCell<Option<CertificateDer<'static>>> =
        const { std::cell::RefCell::new(None) };
    /// The scheme of the client's CertificateVerify the simulated server last checked.
    static SEEN_CLIENT_SCHEME: std::cell::RefCell<Option<rustls::SignatureScheme>> =
        const { std::cell::RefCell::new(None) };
}

/// The server's client-certificate verifier, recording what it was shown — whether it then
/// accepts it or not — so tests can assert which certificate reached the server — and,
/// when given a scheme list, asking only for those schemes in its CertificateRequest (a
/// server that takes PKCS#1 v1.5 RSA signatures only, say).
#[derive(Debug)]
struct RecordingVerifier(
    Arc<dyn rustls::server::danger::ClientCertVerifier>,
    Option<Vec<rustls::SignatureScheme>>,
);

impl rustls::server::danger::ClientCertVerifier for RecordingVerifier {
    fn offer_client_auth(&self) -> bool {
        self.0.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.0.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        SEEN_CLIENT_CERT.with(|s| *s.borrow_mut() = Some(end_entity.clone().into_owned()));
        self.0.verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        SEEN_CLIENT_SCHEME.with(|s| *s.borrow_mut() = Some(dss.scheme));
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        SEEN_CLIENT_SCHEME.with(|s| *s.borrow_mut() = Some(dss.scheme));
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        match &self.1 {
            Some(only) => self
                .0
                .supported_verify_schemes()
                .into_iter()
                .filter(|s| only.contains(s))
                .collect(),
            None => self.0.supported_verify_schemes(),
        }
    }
}

/// Forgets what the verifier saw (before a new authentication on this thread).
pub(crate) fn clear_seen() {
    SEEN_CLIENT_CERT.with(|s| *s.borrow_mut() = None);
    SEEN_CLIENT_SCHEME.with(|s| *s.borrow_mut() = None);
}

/// The client certificate and CertificateVerify scheme the verifier saw on this thread since
/// [`clear_seen`].
pub(crate) fn take_seen() -> (
    Option<CertificateDer<'static>>,
    Option<rustls::SignatureScheme>,
) {
    (
        SEEN_CLIENT_CERT.with(|s| s.borrow_mut().take()),
        SEEN_CLIENT_SCHEME.with(|s| s.borrow_mut().take()),
    )
}
