//! Test helpers: certificates made with rcgen (a few fixed CAs, cached), and an in-memory
//! NorFlash that can lose power after a chosen number of erase pages / write units.

extern crate std;

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use std::sync::OnceLock;

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, SerialNumber, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384,
};

use super::key::{InlineKey, KeyRef};

pub const CA_COUNT: usize = 3;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn cas() -> &'static [Ca] {
    static CAS: OnceLock<Vec<Ca>> = OnceLock::new();
    CAS.get_or_init(|| {
        (0..CA_COUNT)
            .map(|i| {
                let mut params = CertificateParams::new(Vec::new()).unwrap();
                let mut dn = DistinguishedName::new();
                dn.push(DnType::OrganizationName, "Latchkey Test");
                dn.push(DnType::CommonName, format!("Test CA {i}"));
                params.distinguished_name = dn;
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params.not_before = date_time_ymd(2000, 1, 1);
                params.not_after = date_time_ymd(2099, 1, 1);
                let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
                let cert = params.self_signed(&key).unwrap();
                Ca { cert, key }
            })
            .collect()
    })
}

/// An issuing CA below test CA 0 ("Test Issuing CA"), as enterprise PKIs issue users' and
/// devices' certificates from.
fn intermediate() -> &'static Ca {
    static INT: OnceLock<Ca> = OnceLock::new();
    INT.get_or_init(|| {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Latchkey Test");
        dn.push(DnType::CommonName, "Test Issuing CA");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = date_time_ymd(2000, 1, 1);
        params.not_after = date_time_ymd(2099, 1, 1);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let root = &cas()[0];
        let cert = params.signed_by(&key, &root.cert, &root.key).unwrap();
        Ca { cert, key }
    })
}

/// The issuing CA's certificate DER (its issuer is test CA 0).
pub fn intermediate_der() -> Vec<u8> {
    intermediate().cert.der().to_vec()
}

/// Test CA `i`'s certificate DER.
pub fn ca_der(i: usize) -> Vec<u8> {
    cas()[i].cert.der().to_vec()
}

/// The issuing CA's subject Name DER.
pub fn intermediate_subject() -> Vec<u8> {
    use der::{Decode, Encode};
    let cert = x509_cert::Certificate::from_der(intermediate().cert.der()).unwrap();
    cert.tbs_certificate.subject.to_der().unwrap()
}

/// The DER subject Name of test CA `i` (as a server's certificate_authorities entry carries it).
pub fn ca_subject(i: usize) -> Vec<u8> {
    use der::{Decode, Encode};
    let cert = x509_cert::Certificate::from_der(cas()[i].cert.der()).unwrap();
    cert.tbs_certificate.subject.to_der().unwrap()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eku {
    None,
    Client,
    Server,
    Any,
    ClientServer,
}

impl Eku {
    pub const ALL: [Eku; 5] = [
        Eku::None,
        Eku::Client,
        Eku::Server,
        Eku::Any,
        Eku::ClientServer,
    ];
    pub fn permits_client(self) -> bool {
        !matches!(self, Eku::Server)
    }
}

/// The subject key's algorithm. RSA certificates all carry the fixed test key
/// `tests/data/rsa2048-key.pkcs8.pem` (rcgen with ring cannot generate RSA keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    P256,
    P384,
    Rsa,
}

impl KeyType {
    pub const ALL: [KeyType; 3] = [KeyType::P256, KeyType::P384, KeyType::Rsa];
}

pub struct CertSpec {
    cn: String,
    serial: Option<Vec<u8>>,
    eku: Eku,
    key: KeyType,
    padding: usize,
    issuer: usize,
    via_intermediate: bool,
    validity: ((i32, u8, u8), (i32, u8, u8)),
    sans: Vec<String>,
    key_pkcs8: Option<Vec<u8>>,
    public_point: Option<Vec<u8>>,
}

/// A bare P-256 public key (uncompressed point) for rcgen to certify.
struct PublicPoint(Vec<u8>);

impl rcgen::PublicKeyData for PublicPoint {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &rcgen::SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

use alloc::string::String;

pub struct Made {
    pub der: Vec<u8>,
    pub pkcs8: Vec<u8>,
    pub not_before: u64,
    pub not_after: u64,
}

impl Made {
    pub fn key_ref(&self) -> KeyRef {
        KeyRef::Inline(InlineKey::from_pkcs8_der(&self.pkcs8).unwrap())
    }
}

impl CertSpec {
    pub fn new(cn: &str) -> Self {
        CertSpec {
            cn: cn.to_owned(),
            serial: None,
            eku: Eku::Client,
            key: KeyType::P256,
            padding: 0,
            issuer: 0,
            via_intermediate: false,
            validity: ((2020, 1, 1), (2040, 1, 1)),
            sans: Vec::new(),
            key_pkcs8: None,
            public_point: None,
        }
    }
    /// A subjectAltName dNSName.
    pub fn san(mut self, dns: &str) -> Self {
        self.sans.push(dns.to_owned());
        self
    }
    /// Certify this P-256 public key (an uncompressed point, e.g. a secure element's) whose
    /// private key the test does not have; `Made::pkcs8` is then a fresh unrelated key's.
    pub fn with_public_point(mut self, point: &[u8]) -> Self {
        self.public_point = Some(point.to_vec());
        self
    }
    /// Certify this key (PKCS#8 DER) instead of a fresh one.
    pub fn with_key(mut self, pkcs8: &[u8]) -> Self {
        self.key_pkcs8 = Some(pkcs8.to_vec());
        self
    }
    pub fn serial(mut self, s: &[u8]) -> Self {
        self.serial = Some(s.to_vec());
        self
    }
    pub fn eku(mut self, e: Eku) -> Self {
        self.eku = e;
        self
    }
    pub fn p384(mut self) -> Self {
        self.key = KeyType::P384;
        self
    }
    pub fn rsa(mut self) -> Self {
        self.key = KeyType::Rsa;
        self
    }
    pub fn key_type(mut self, k: KeyType) -> Self {
        self.key = k;
        self
    }
    pub fn padding(mut self, n: usize) -> Self {
        self.padding = n;
        self
    }
    pub fn issuer(mut self, i: usize) -> Self {
        self.issuer = i;
        self
    }
    /// Issued by the issuing CA below test CA 0 (see [`intermediate_der`]).
    pub fn via_intermediate(mut self) -> Self {
        self.via_intermediate = true;
        self
    }
    pub fn validity(mut self, from: (i32, u8, u8), to: (i32, u8, u8)) -> Self {
        self.validity = (from, to);
        self
    }

    pub fn make(self) -> Made {
        let mut params = CertificateParams::new(self.sans.clone()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, self.cn.as_str());
        params.distinguished_name = dn;
        if let Some(s) = &self.serial {
            params.serial_number = Some(SerialNumber::from_slice(s));
        }
        params.extended_key_usages = match self.eku {
            Eku::None => vec![],
            Eku::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Eku::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Eku::Any => vec![ExtendedKeyUsagePurpose::Any],
            Eku::ClientServer => vec![
                ExtendedKeyUsagePurpose::ClientAuth,
                ExtendedKeyUsagePurpose::ServerAuth,
            ],
        };
        if self.padding > 0 {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 55555, 1],
                    vec![0u8; self.padding],
                ));
        }
        let (from, to) = self.validity;
        params.not_before = date_time_ymd(from.0, from.1, from.2);
        params.not_after = date_time_ymd(to.0, to.1, to.2);
        let not_before = params.not_before.unix_timestamp() as u64;
        let not_after = params.not_after.unix_timestamp() as u64;
        let key = match self.key {
            _ if self.key_pkcs8.is_some() => {
                KeyPair::try_from(self.key_pkcs8.as_deref().unwrap()).unwrap()
            }
            KeyType::P256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
            KeyType::P384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap(),
            KeyType::Rsa => KeyPair::from_pem(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/rsa2048-key.pkcs8.pem"
            )))
            .unwrap(),
        };
        let ca = if self.via_intermediate {
            intermediate()
        } else {
            &cas()[self.issuer]
        };
        let cert = match &self.public_point {
            Some(p) => params
                .signed_by(&PublicPoint(p.clone()), &ca.cert, &ca.key)
                .unwrap(),
            None => params.signed_by(&key, &ca.cert, &ca.key).unwrap(),
        };
        Made {
            der: cert.der().to_vec(),
            pkcs8: key.serialize_der(),
            not_before,
            not_after,
        }
    }
}

#[derive(Debug)]
pub struct MockError(NorFlashErrorKind);

impl NorFlashError for MockError {
    fn kind(&self) -> NorFlashErrorKind {
        self.0
    }
}

/// In-memory NOR flash: erase sets 4096-byte pages to 0xFF, writes AND bits in (like NOR).
/// `budget` counts erase pages and write units left before the power fails.
#[derive(Clone)]
pub struct MockFlash<const W: usize> {
    pub mem: Vec<u8>,
    pub budget: Option<usize>,
    pub units: usize,
    pub wrote_unerased: bool,
}

impl<const W: usize> MockFlash<W> {
    pub fn new(size: usize) -> Self {
        MockFlash {
            mem: vec![0xFF; size],
            budget: None,
            units: 0,
            wrote_unerased: false,
        }
    }

    fn spend(&mut self) -> Result<(), MockError> {
        match self.budget {
            Some(0) => Err(MockError(NorFlashErrorKind::Other)),
            Some(n) => {
                self.budget = Some(n - 1);
                self.units += 1;
                Ok(())
            }
            None => {
                self.units += 1;
                Ok(())
            }
        }
    }

    fn check(&self, offset: u32, len: usize, align: usize) -> Result<usize, MockError> {
        let offset = offset as usize;
        if offset % align != 0 || len % align != 0 {
            return Err(MockError(NorFlashErrorKind::NotAligned));
        }
        if offset + len > self.mem.len() {
            return Err(MockError(NorFlashErrorKind::OutOfBounds));
        }
        Ok(offset)
    }
}

impl<const W: usize> ErrorType for MockFlash<W> {
    type Error = MockError;
}

impl<const W: usize> ReadNorFlash for MockFlash<W> {
    const READ_SIZE: usize = 4;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), MockError> {
        let at = self.check(offset, bytes.len(), Self::READ_SIZE)?;
        bytes.copy_from_slice(&self.mem[at..at + bytes.len()]);
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.mem.len()
    }
}

impl<const W: usize> NorFlash for MockFlash<W> {
    const WRITE_SIZE: usize = W;
    const ERASE_SIZE: usize = 4096;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), MockError> {
        let at = self.check(from, (to - from) as usize, Self::ERASE_SIZE)?;
        for page in (at..to as usize).step_by(Self::ERASE_SIZE) {
            self.spend()?;
            self.mem[page..page + Self::ERASE_SIZE].fill(0xFF);
        }
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), MockError> {
        let at = self.check(offset, bytes.len(), W)?;
        for (unit, data) in bytes.chunks(W).enumerate() {
            self.spend()?;
            let start = at + unit * W;
            for (cell, b) in self.mem[start..start + W].iter_mut().zip(data) {
                self.wrote_unerased |= *cell != 0xFF;
                *cell &= *b;
            }
        }
        Ok(())
    }
}
