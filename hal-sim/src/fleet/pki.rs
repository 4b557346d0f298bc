//! The generated PKI of `latchkey-sim fleet`: one P-256 CA, a RADIUS server certificate, and
//! for each of N devices an old certificate (revoked by the CA's CRL: renewed away) and a
//! renewed one, all as PEM files in one directory, with a manifest (`fleet.json`) saying how
//! many devices it holds. A RADIUS server loads the CA with the CRL (`ca-crl.pem`,
//! CRL checking on) and the server certificate. Test PKI: nothing here is for production.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SanType, SerialNumber, PKCS_ECDSA_P256_SHA256,
};

/// The DNS name in the server certificate (what the devices check).
pub const SERVER_NAME: &str = "radius.latchkey.test";
/// The realm of every device's identity (`device-0001@latchkey.test`).
pub const REALM: &str = "latchkey.test";
/// The most devices one fleet PKI holds (the identity and Calling-Station-Id use four hex or
/// decimal digits).
pub const MAX_DEVICES: usize = 9_999;
/// Serial of device `i`'s old certificate is this plus `i`.
pub const OLD_SERIAL_BASE: u64 = 0x10_0000;
/// Serial of device `i`'s renewed certificate is this plus `i`.
pub const NEW_SERIAL_BASE: u64 = 0x20_0000;
/// The manifest file in the PKI directory.
pub const MANIFEST: &str = "fleet.json";

/// Why a fleet PKI could not be written or read.
#[derive(Debug)]
pub enum FleetPkiError {
    /// rcgen refused to generate or sign.
    Generate(rcgen::Error),
    /// A file could not be written or read.
    Io(PathBuf, std::io::Error),
    /// The directory holds no fleet PKI, or a manifest that does not parse.
    Manifest(PathBuf, String),
    /// A device count of zero or above [`MAX_DEVICES`].
    DeviceCount(usize),
}

impl std::fmt::Display for FleetPkiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FleetPkiError::Generate(e) => write!(f, "fleet PKI generation failed: {e}"),
            FleetPkiError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            FleetPkiError::Manifest(p, why) => write!(
                f,
                "{}: not a fleet PKI ({why}); write one with `latchkey-sim fleet --init`",
                p.display()
            ),
            FleetPkiError::DeviceCount(n) => {
                write!(f, "{n} devices: a fleet PKI holds 1 to {MAX_DEVICES}")
            }
        }
    }
}

impl std::error::Error for FleetPkiError {}

impl FleetPkiError {
    /// A short, stable name of the cause.
    pub fn kind(&self) -> &'static str {
        match self {
            FleetPkiError::Generate(_) => "pki-generation",
            FleetPkiError::Io(..) => "unreadable-file",
            FleetPkiError::Manifest(..) => "bad-pki",
            FleetPkiError::DeviceCount(_) => "bad-arguments",
        }
    }
}

impl From<rcgen::Error> for FleetPkiError {
    fn from(e: rcgen::Error) -> Self {
        FleetPkiError::Generate(e)
    }
}

/// A certificate file and its key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPair {
    /// PEM certificate.
    pub cert: PathBuf,
    /// PEM PKCS#8 private key.
    pub key: PathBuf,
    /// The certificate's serial number, hex, as reports print it.
    pub serial: String,
}

/// One device's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFiles {
    /// 1-based device number.
    pub number: usize,
    /// Its EAP identity, `device-NNNN@latchkey.test` (also its certificates' CN before the @).
    pub identity: String,
    /// Its old certificate, revoked by the CRL.
    pub old: CertPair,
    /// Its renewed certificate.
    pub new: CertPair,
}

/// A fleet PKI on disk.
#[derive(Debug, Clone)]
pub struct FleetPki {
    /// The directory.
    pub dir: PathBuf,
    /// Devices it holds.
    pub devices: usize,
    /// The CA certificate (the devices' trust anchor).
    pub ca: PathBuf,
    /// The CRL (PEM) revoking every device's old certificate.
    pub crl: PathBuf,
    /// The CA certificate followed by the CRL: the server's CA file with CRL checking on.
    pub ca_with_crl: PathBuf,
    /// The server's certificate and key (SAN [`SERVER_NAME`]).
    pub server: CertPair,
}

/// Serial `n` as reports print serials: the DER INTEGER's content octets, hex.
pub fn serial_hex(n: u64) -> String {
    // DER: minimal big-endian, with a leading zero octet when the top bit is set.
    let bytes = n.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(7);
    let mut s = String::new();
    if bytes.get(first).is_some_and(|b| b & 0x80 != 0) {
        s.push_str("00");
    }
    for b in bytes.get(first..).unwrap_or_default() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn write(path: &Path, contents: &str) -> Result<(), FleetPkiError> {
    fs::write(path, contents).map_err(|e| FleetPkiError::Io(path.to_owned(), e))
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Latchkey Fleet Test PKI");
    dn.push(DnType::CommonName, cn);
    dn
}

fn client_params(cn: &str, serial: u64) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.serial_number = Some(SerialNumber::from(serial));
    p.use_authority_key_identifier_extension = true;
    p
}

/// Device `number`'s name (`device-0001`).
pub fn device_name(number: usize) -> String {
    format!("device-{number:04}")
}

impl FleetPki {
    fn layout(dir: &Path, devices: usize) -> Self {
        FleetPki {
            dir: dir.to_owned(),
            devices,
            ca: dir.join("ca.pem"),
            crl: dir.join("crl.pem"),
            ca_with_crl: dir.join("ca-crl.pem"),
            server: CertPair {
                cert: dir.join("server.pem"),
                key: dir.join("server.key"),
                serial: serial_hex(0x5e),
            },
        }
    }

    /// Device `number`'s files (1-based; not checked against [`Self::devices`]).
    pub fn device(&self, number: usize) -> DeviceFiles {
        let name = device_name(number);
        let pair = |which: &str, base: u64| CertPair {
            cert: self.dir.join("devices").join(format!("{name}-{which}.pem")),
            key: self.dir.join("devices").join(format!("{name}-{which}.key")),
            serial: serial_hex(base.saturating_add(number as u64)),
        };
        DeviceFiles {
            number,
            identity: format!("{name}@{REALM}"),
            old: pair("old", OLD_SERIAL_BASE),
            new: pair("new", NEW_SERIAL_BASE),
        }
    }

    /// Generate a PKI for `devices` devices into `dir` (created if missing; files of an earlier
    /// PKI there are overwritten).
    pub fn generate(dir: &Path, devices: usize) -> Result<Self, FleetPkiError> {
        if devices == 0 || devices > MAX_DEVICES {
            return Err(FleetPkiError::DeviceCount(devices));
        }
        let pki = Self::layout(dir, devices);
        let dev_dir = dir.join("devices");
        fs::create_dir_all(&dev_dir).map_err(|e| FleetPkiError::Io(dev_dir.clone(), e))?;

        let mut cp = CertificateParams::default();
        cp.distinguished_name = dn("Latchkey Fleet Test CA");
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
        let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let server = sp.signed_by(&server_key, &ca, &ca_key)?;
        write(&pki.server.cert, &server.pem())?;
        write(&pki.server.key, &server_key.serialize_pem())?;

        let now = time::OffsetDateTime::now_utc();
        let mut revoked = Vec::with_capacity(devices);
        for number in 1..=devices {
            let d = pki.device(number);
            let name = device_name(number);
            for (pair, base) in [(&d.old, OLD_SERIAL_BASE), (&d.new, NEW_SERIAL_BASE)] {
                let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
                let serial = base.saturating_add(number as u64);
                let cert = client_params(&name, serial).signed_by(&key, &ca, &ca_key)?;
                write(&pair.cert, &cert.pem())?;
                write(&pair.key, &key.serialize_pem())?;
            }
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from(OLD_SERIAL_BASE.saturating_add(number as u64)),
                revocation_time: now - time::Duration::minutes(30),
                reason_code: Some(RevocationReason::Superseded),
                invalidity_date: None,
            });
        }
        let crl = CertificateRevocationListParams {
            this_update: now - time::Duration::hours(1),
            next_update: now + time::Duration::days(30),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&ca, &ca_key)?;
        let crl_pem = crl.pem()?;
        write(&pki.ca, &ca.pem())?;
        write(&pki.crl, &crl_pem)?;
        write(&pki.ca_with_crl, &format!("{}{}", ca.pem(), crl_pem))?;
        let manifest = serde_json::json!({
            "devices": devices,
            "server_name": SERVER_NAME,
            "realm": REALM,
        });
        write(&dir.join(MANIFEST), &format!("{manifest:#}\n"))?;
        Ok(pki)
    }

    /// Open the PKI in `dir` written by [`Self::generate`] (its manifest says how many
    /// devices; every file of every device is checked to exist).
    pub fn open(dir: &Path) -> Result<Self, FleetPkiError> {
        let path = dir.join(MANIFEST);
        let text = fs::read_to_string(&path)
            .map_err(|e| FleetPkiError::Manifest(path.clone(), e.to_string()))?;
        let j: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| FleetPkiError::Manifest(path.clone(), e.to_string()))?;
        let devices = j
            .get("devices")
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=MAX_DEVICES).contains(n))
            .ok_or_else(|| {
                FleetPkiError::Manifest(path.clone(), format!("devices must be 1-{MAX_DEVICES}"))
            })?;
        let pki = Self::layout(dir, devices);
        let mut files = vec![
            pki.ca.clone(),
            pki.ca_with_crl.clone(),
            pki.server.cert.clone(),
        ];
        for n in 1..=devices {
            let d = pki.device(n);
            files.extend([d.old.cert, d.old.key, d.new.cert, d.new.key]);
        }
        for f in files {
            if !f.is_file() {
                return Err(FleetPkiError::Io(
                    f,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "missing from the fleet PKI"),
                ));
            }
        }
        Ok(pki)
    }

    /// The FreeRADIUS settings that serve this PKI (the `tls-config` of mods-enabled/eap).
    pub fn freeradius_settings(&self) -> String {
        format!(
            "\t# mods-enabled/eap, tls-config tls-common:\n\
             \tcertificate_file = {}\n\
             \tprivate_key_file = {}\n\
             \tca_file = {}\n\
             \tcheck_crl = yes\n",
            self.server.cert.display(),
            self.server.key.display(),
            self.ca_with_crl.display(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_print_as_der_content_octets() {
        assert_eq!(serial_hex(0x10_0001), "100001");
        assert_eq!(serial_hex(0x5e), "5e");
        assert_eq!(serial_hex(0x80), "0080");
        assert_eq!(serial_hex(0), "00");
    }

    #[test]
    fn generated_pki_opens_and_names_each_device() {
        let tmp = tempfile::tempdir().unwrap();
        let made = FleetPki::generate(tmp.path(), 3).unwrap();
        let opened = FleetPki::open(tmp.path()).unwrap();
        assert_eq!(opened.devices, 3);
        assert_eq!(made.device(3), opened.device(3));
        let d = opened.device(2);
        assert_eq!(d.identity, "device-0002@latchkey.test");
        assert_eq!(d.old.serial, "100002");
        assert_eq!(d.new.serial, "200002");
        // The serial in each file is the one the device's entry promises.
        for pair in [&d.old, &d.new, &opened.server] {
            assert_eq!(
                crate::cli::report_schema::certificate_serial(&pair.cert).as_deref(),
                Some(pair.serial.as_str())
            );
        }
        assert!(matches!(
            FleetPki::generate(tmp.path(), 0),
            Err(FleetPkiError::DeviceCount(0))
        ));
        fs::remove_file(&d.old.key).unwrap();
        assert!(matches!(
            FleetPki::open(tmp.path()),
            Err(FleetPkiError::Io(..))
        ));
        assert!(matches!(
            FleetPki::open(&tmp.path().join("nope")),
            Err(FleetPkiError::Manifest(..))
        ));
    }
}
