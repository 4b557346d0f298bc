//! A test PKI written to files, the way real RADIUS servers and `eapol_test` want it: one P-256
//! CA, a server certificate, a device's old and renewed client certificates, and a CRL from
//! the CA revoking the old one (the KB932521 set-up), all PEM. Nothing here is for production.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType, SerialNumber,
    PKCS_ECDSA_P256_SHA256,
};

/// The DNS name in the server certificate (what `--server-name` must match).
pub const SERVER_NAME: &str = "radius.latchkey.test";
/// The device's common name in both client certificates.
pub const CLIENT_CN: &str = "device-0042";
/// The outer identity tests use.
pub const IDENTITY: &str = "device-0042@latchkey.test";
/// Serial of the old (revoked, archived) client certificate.
pub const OLD_SERIAL: u64 = 0x01d;
/// Serial of the renewed (active) client certificate.
pub const NEW_SERIAL: u64 = 0x2e3;

/// Why the file PKI could not be made.
#[derive(Debug)]
pub enum PkiFilesError {
    /// rcgen refused to generate or sign.
    Generate(rcgen::Error),
    /// A file could not be written.
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for PkiFilesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PkiFilesError::Generate(e) => write!(f, "test PKI generation failed: {e}"),
            PkiFilesError::Io(p, e) => write!(f, "cannot write {}: {e}", p.display()),
        }
    }
}

impl std::error::Error for PkiFilesError {}

impl From<rcgen::Error> for PkiFilesError {
    fn from(e: rcgen::Error) -> Self {
        PkiFilesError::Generate(e)
    }
}

/// A certificate and its key, as files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// PEM certificate.
    pub cert: PathBuf,
    /// PEM PKCS#8 private key.
    pub key: PathBuf,
    /// DER of the certificate (for comparing with what a server saw).
    pub der: Vec<u8>,
}

/// The whole PKI, as files in one directory.
#[derive(Debug, Clone)]
pub struct FilePki {
    /// Where the files are.
    pub dir: PathBuf,
    /// The CA certificate (PEM): the trust anchor of both sides.
    pub ca: PathBuf,
    /// The CRL (PEM) revoking [`OLD_SERIAL`].
    pub crl: PathBuf,
    /// CA certificate followed by the CRL, one PEM file (hostapd's `ca_cert` and FreeRADIUS'
    /// `ca_file`, with `check_crl`: OpenSSL loads CRLs from the same file).
    pub ca_with_crl: PathBuf,
    /// The RADIUS server's certificate (SAN [`SERVER_NAME`]).
    pub server: CertFiles,
    /// The device's old client certificate (revoked by the CRL).
    pub client_old: CertFiles,
    /// The device's renewed client certificate.
    pub client_new: CertFiles,
}

fn write(path: &Path, contents: &str) -> Result<(), PkiFilesError> {
    fs::write(path, contents).map_err(|e| PkiFilesError::Io(path.to_owned(), e))
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Latchkey Test PKI");
    dn.push(DnType::CommonName, cn);
    dn
}

fn leaf(
    dir: &Path,
    name: &str,
    params: CertificateParams,
    ca: &Certificate,
    ca_key: &KeyPair,
) -> Result<CertFiles, PkiFilesError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let cert = params.signed_by(&key, ca, ca_key)?;
    let files = CertFiles {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
        der: cert.der().to_vec(),
    };
    write(&files.cert, &cert.pem())?;
    write(&files.key, &key.serialize_pem())?;
    Ok(files)
}

fn client_params(serial: u64) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(CLIENT_CN);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.serial_number = Some(SerialNumber::from(serial));
    p.use_authority_key_identifier_extension = true;
    p
}

impl CertFiles {
    /// The certificate's serial number as the test servers log it
    /// ([`crate::server_process::serial_hex`]).
    pub fn serial_hex(&self) -> String {
        use x509_cert::der::Decode;
        let cert = x509_cert::Certificate::from_der(&self.der)
            .unwrap_or_else(|e| panic!("{}: not a DER certificate: {e}", self.cert.display()));
        crate::server_process::serial_hex(cert.tbs_certificate.serial_number.as_bytes())
    }
}

impl FilePki {
    /// Generate a fresh PKI (P-256 throughout) into `dir` (created if missing).
    pub fn generate(dir: &Path) -> Result<Self, PkiFilesError> {
        fs::create_dir_all(dir).map_err(|e| PkiFilesError::Io(dir.to_owned(), e))?;
        let mut cp = CertificateParams::default();
        cp.distinguished_name = dn("Latchkey Test CA");
        cp.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        cp.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        cp.serial_number = Some(SerialNumber::from(1u64));
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let ca = cp.self_signed(&ca_key)?;

        let mut sp = CertificateParams::default();
        sp.distinguished_name = dn(SERVER_NAME);
        sp.subject_alt_names = vec![SanType::DnsName(SERVER_NAME.try_into()?)];
        sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        sp.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        sp.serial_number = Some(SerialNumber::from(0x5eu64));
        sp.use_authority_key_identifier_extension = true;
        let server = leaf(dir, "server", sp, &ca, &ca_key)?;
        let client_old = leaf(dir, "client-old", client_params(OLD_SERIAL), &ca, &ca_key)?;
        let client_new = leaf(dir, "client-new", client_params(NEW_SERIAL), &ca, &ca_key)?;

        let now = time::OffsetDateTime::now_utc();
        let crl = CertificateRevocationListParams {
            this_update: now - time::Duration::hours(1),
            next_update: now + time::Duration::days(7),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from(OLD_SERIAL),
                revocation_time: now - time::Duration::minutes(30),
                reason_code: Some(RevocationReason::Superseded),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&ca, &ca_key)?;
        let crl_pem = crl.pem()?;

        let pki = FilePki {
            dir: dir.to_owned(),
            ca: dir.join("ca.pem"),
            crl: dir.join("crl.pem"),
            ca_with_crl: dir.join("ca-crl.pem"),
            server,
            client_old,
            client_new,
        };
        write(&pki.ca, &ca.pem())?;
        // The CA key, so tests can issue further client certificates (other key types) with
        // openssl. Test PKI only.
        write(&dir.join("ca.key"), &ca_key.serialize_pem())?;
        write(&pki.crl, &crl_pem)?;
        write(&pki.ca_with_crl, &format!("{}{}", ca.pem(), crl_pem))?;
        Ok(pki)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn openssl_verifies_new_client_and_rejects_revoked_old_one() {
        // openssl is the independent checker here (it comes with freeradius-config anyway).
        crate::apt::require(&["openssl"]);
        let tmp = tempfile::tempdir().unwrap();
        let pki = FilePki::generate(tmp.path()).unwrap();
        let verify = |c: &Path| {
            Command::new("openssl")
                .args(["verify", "-crl_check", "-CAfile"])
                .arg(&pki.ca_with_crl)
                .arg(c)
                .output()
                .unwrap()
        };
        let new = verify(&pki.client_new.cert);
        assert!(new.status.success(), "{:?}", new);
        let old = verify(&pki.client_old.cert);
        assert!(!old.status.success());
        assert!(
            String::from_utf8_lossy(&old.stdout).contains("revoked")
                || String::from_utf8_lossy(&old.stderr).contains("revoked"),
            "{old:?}"
        );
        let server = verify(&pki.server.cert);
        assert!(server.status.success(), "{server:?}");
    }
}
