//! The simulator's built-in test PKI, generated at run time with rcgen: a root CA, an
//! intermediate CA, a RADIUS server certificate (so the server sends a two-certificate P-256
//! chain) and P-256 client certificates. Nothing here is meant for production use.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The server name the test PKI's server certificate carries (SAN dNSName).
pub const SERVER_NAME: &str = "radius.latchkey.test";

/// An issued certificate with its private key.
pub struct Issued {
    /// DER of the certificate.
    pub cert: CertificateDer<'static>,
    /// PKCS#8 DER of the private key.
    pub key_pkcs8: Vec<u8>,
    /// PEM of the certificate.
    pub cert_pem: String,
    /// PEM of the private key.
    pub key_pem: String,
    pub(crate) params: CertificateParams,
    pub(crate) key: KeyPair,
}

impl Issued {
    /// The private key as rustls wants it.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }
}

/// A whole test PKI.
pub struct TestPki {
    /// Root CA (the supplicant's and the server's trust anchor).
    pub root: Issued,
    /// Intermediate CA that issues the server and client certificates.
    pub intermediate: Issued,
    /// The RADIUS server's certificate (SAN [`SERVER_NAME`], EKU serverAuth).
    pub server: Issued,
    /// The device's client certificate (EKU clientAuth).
    pub client: Issued,
    /// The intermediate's DER for the life of the process (devices keep it in flash).
    intermediate_static: std::sync::OnceLock<&'static [u8]>,
}

/// What went wrong generating the PKI.
#[derive(Debug)]
pub struct PkiError(pub rcgen::Error);

impl std::fmt::Display for PkiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "test PKI generation failed: {}", self.0)
    }
}

impl std::error::Error for PkiError {}

impl From<rcgen::Error> for PkiError {
    fn from(e: rcgen::Error) -> Self {
        PkiError(e)
    }
}

pub(crate) fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Latchkey Test PKI");
    dn.push(DnType::CommonName, cn);
    dn
}

pub(crate) fn finish(
    params: CertificateParams,
    key: KeyPair,
    issuer: Option<&Issued>,
) -> Result<Issued, PkiError> {
    let cert = match issuer {
        Some(ca) => {
            params
                .clone()
                .signed_by(&key, &ca.params.clone().self_signed(&ca.key)?, &ca.key)?
        }
        None => params.clone().self_signed(&key)?,
    };
    Ok(Issued {
        cert: cert.der().clone(),
        key_pkcs8: key.serialize_der(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        params,
        key,
    })
}

pub(crate) fn ca_params(cn: &str, serial: u64) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.serial_number = Some(SerialNumber::from(serial));
    p
}

/// A RADIUS server certificate's parameters: SAN dNSName `name`, EKU serverAuth.
pub(crate) fn server_params(name: &str, serial: u64) -> Result<CertificateParams, PkiError> {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(name);
    p.subject_alt_names = vec![SanType::DnsName(name.try_into()?)];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.serial_number = Some(SerialNumber::from(serial));
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

impl TestPki {
    /// Generate a fresh PKI (P-256 throughout).
    pub fn generate() -> Result<Self, PkiError> {
        let root = finish(
            ca_params("Latchkey Test Root CA", 1),
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?,
            None,
        )?;
        let mut ip = ca_params("Latchkey Test Intermediate CA", 2);
        ip.use_authority_key_identifier_extension = true;
        let intermediate = finish(
            ip,
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?,
            Some(&root),
        )?;
        let server = Self::issue_server(&intermediate, SERVER_NAME, 0x5e)?;
        let client = Self::issue_client_from(&intermediate, "device-0001", 0xc1)?;
        Ok(TestPki {
            root,
            intermediate,
            server,
            client,
            intermediate_static: std::sync::OnceLock::new(),
        })
    }

    /// The intermediate CA certificate as a `'static` slice (leaked once per PKI), as the
    /// supplicant builder takes it: a device keeps it in flash.
    pub fn intermediate_der(&self) -> &'static [u8] {
        self.intermediate_static
            .get_or_init(|| Box::leak(self.intermediate.cert.to_vec().into_boxed_slice()))
    }

    fn issue_server(ca: &Issued, name: &str, serial: u64) -> Result<Issued, PkiError> {
        finish(
            server_params(name, serial)?,
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?,
            Some(ca),
        )
    }

    fn issue_client_from(ca: &Issued, cn: &str, serial: u64) -> Result<Issued, PkiError> {
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(cn);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.serial_number = Some(SerialNumber::from(serial));
        p.use_authority_key_identifier_extension = true;
        finish(p, KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?, Some(ca))
    }

    /// Issue a client certificate from the intermediate CA for the given subject key (P-384 or
    /// RSA as well as P-256; the intermediate signs with its own P-256 key).
    pub fn issue_client_for_key(
        &self,
        cn: &str,
        serial: u64,
        key: KeyPair,
    ) -> Result<Issued, PkiError> {
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(cn);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.serial_number = Some(SerialNumber::from(serial));
        p.use_authority_key_identifier_extension = true;
        finish(p, key, Some(&self.intermediate))
    }

    /// Issue another client certificate from the intermediate CA (e.g. a renewal).
    pub fn issue_client(&self, cn: &str, serial: u64) -> Result<Issued, PkiError> {
        Self::issue_client_from(&self.intermediate, cn, serial)
    }

    /// A CRL from the intermediate CA revoking these client serials (as a RADIUS server's
    /// `check_crl` would load it).
    pub fn crl(
        &self,
        revoked: &[u64],
    ) -> Result<rustls::pki_types::CertificateRevocationListDer<'static>, PkiError> {
        let now = time::OffsetDateTime::now_utc();
        let params = rcgen::CertificateRevocationListParams {
            this_update: now - time::Duration::hours(1),
            next_update: now + time::Duration::days(7),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|s| rcgen::RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: now - time::Duration::minutes(30),
                    reason_code: Some(rcgen::RevocationReason::Superseded),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let issuer = self
            .intermediate
            .params
            .clone()
            .self_signed(&self.intermediate.key)?;
        let crl = params.signed_by(&issuer, &self.intermediate.key)?;
        Ok(crl.der().clone())
    }

    /// The server's chain as it sends it: leaf, then intermediate.
    pub fn server_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.server.cert.clone(), self.intermediate.cert.clone()]
    }

    /// The client's chain as it sends it: leaf, then intermediate.
    pub fn client_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.client.cert.clone(), self.intermediate.cert.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pki_chains_verify_with_webpki() {
        let pki = TestPki::generate().expect("pki");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.root.cert.clone()).expect("root");
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .expect("verifier");
        let name = rustls::pki_types::ServerName::try_from(SERVER_NAME).expect("name");
        use rustls::client::danger::ServerCertVerifier;
        verifier
            .verify_server_cert(
                &pki.server.cert,
                std::slice::from_ref(&pki.intermediate.cert),
                &name,
                &[],
                rustls::pki_types::UnixTime::now(),
            )
            .expect("server chain verifies");
    }
}
