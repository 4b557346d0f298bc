//! Certificate metadata parsed once at install (RFC 5280 §4.1): serial, issuer, subject,
//! validity, public-key algorithm and extended key usage (§4.2.1.12). The parse uses `der`'s
//! zero-copy reader and x509-cert's `Validity`/`SubjectPublicKeyInfoRef`, because x509-cert's
//! owned `Certificate` allocates (its `Name` is a `Vec`); serial and names are kept as spans
//! into the stored DER instead of copies.

use core::fmt;

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use x509_cert::spki::SubjectPublicKeyInfoRef;
use x509_cert::time::Validity;

/// RFC 5280 §4.1.2.2 limits serials to 20 octets; one more allows the sign octet.
pub(crate) const SERIAL_MAX: usize = 21;

const OID_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_ANY_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");
const OID_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const OID_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
/// id-ecPublicKey (RFC 5480 §2.1.1).
pub(crate) const OID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 (RFC 5480 §2.1.1.1).
pub(crate) const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// Why a certificate could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CertError {
    /// Not a well-formed DER X.509 certificate (or trailing bytes after it).
    Malformed,
    /// The serial number is longer than RFC 5280 allows (20 octets).
    SerialTooLong,
    /// notAfter is before notBefore.
    InvertedValidity,
    /// The extended key usage extension appears more than once.
    DuplicateExtendedKeyUsage,
    /// The certificate is longer than 65535 bytes.
    TooLong,
}

impl From<der::Error> for CertError {
    fn from(_: der::Error) -> Self {
        CertError::Malformed
    }
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CertError::Malformed => "certificate is not well-formed DER X.509",
            CertError::SerialTooLong => "certificate serial number is longer than 20 octets",
            CertError::InvertedValidity => "certificate notAfter is before its notBefore",
            CertError::DuplicateExtendedKeyUsage => {
                "certificate has two extended key usage extensions"
            }
            CertError::TooLong => "certificate is longer than 65535 bytes",
        })
    }
}

impl core::error::Error for CertError {}

/// The algorithm of the certificate's subject public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 (secp256r1).
    P256,
    /// ECDSA on NIST P-384 (secp384r1).
    P384,
    /// RSA (rsaEncryption).
    Rsa,
    /// Anything else (other curves, RSASSA-PSS-only keys, Ed25519...).
    Other,
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyAlgorithm::P256 => "ECDSA P-256",
            KeyAlgorithm::P384 => "ECDSA P-384",
            KeyAlgorithm::Rsa => "RSA",
            KeyAlgorithm::Other => "other",
        })
    }
}

/// The extended key usage extension (RFC 5280 §4.2.1.12), reduced to the purposes that matter
/// for a supplicant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ExtendedKeyUsage {
    present: bool,
    bits: u8,
}

impl ExtendedKeyUsage {
    const ANY: u8 = 1;
    const CLIENT_AUTH: u8 = 2;
    const SERVER_AUTH: u8 = 4;
    const OTHER: u8 = 8;

    /// No extended key usage extension: every purpose is allowed.
    pub const ABSENT: Self = ExtendedKeyUsage {
        present: false,
        bits: 0,
    };

    /// An extension listing exactly the given purposes (`other`: some purpose not named here).
    pub const fn listing(any: bool, client_auth: bool, server_auth: bool, other: bool) -> Self {
        let mut bits = 0;
        if any {
            bits |= Self::ANY;
        }
        if client_auth {
            bits |= Self::CLIENT_AUTH;
        }
        if server_auth {
            bits |= Self::SERVER_AUTH;
        }
        if other {
            bits |= Self::OTHER;
        }
        ExtendedKeyUsage {
            present: true,
            bits,
        }
    }

    /// Whether the certificate carries the extension at all.
    pub fn is_present(&self) -> bool {
        self.present
    }
    /// anyExtendedKeyUsage is listed.
    pub fn any(&self) -> bool {
        self.bits & Self::ANY != 0
    }
    /// id-kp-clientAuth is listed.
    pub fn client_auth(&self) -> bool {
        self.bits & Self::CLIENT_AUTH != 0
    }
    /// id-kp-serverAuth is listed.
    pub fn server_auth(&self) -> bool {
        self.bits & Self::SERVER_AUTH != 0
    }
    /// Some other purpose is listed.
    pub fn other(&self) -> bool {
        self.bits & Self::OTHER != 0
    }
    /// TLS client authentication is permitted: no extension, anyExtendedKeyUsage or clientAuth.
    pub fn permits_client_auth(&self) -> bool {
        !self.present || self.any() || self.client_auth()
    }
}

/// A byte range inside the stored certificate DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u16,
    len: u16,
}

impl Span {
    /// The span of `inner`, a subslice of `outer`.
    fn within(outer: &[u8], inner: &[u8]) -> Result<Self, CertError> {
        let start = (inner.as_ptr() as usize)
            .checked_sub(outer.as_ptr() as usize)
            .ok_or(CertError::Malformed)?;
        let end = start.checked_add(inner.len()).ok_or(CertError::Malformed)?;
        if end > outer.len() {
            return Err(CertError::Malformed);
        }
        Ok(Span {
            start: u16::try_from(start).map_err(|_| CertError::TooLong)?,
            len: u16::try_from(inner.len()).map_err(|_| CertError::TooLong)?,
        })
    }

    pub(crate) fn of<'a>(&self, der: &'a [u8]) -> &'a [u8] {
        let start = usize::from(self.start);
        der.get(start..)
            .and_then(|rest| rest.get(..usize::from(self.len)))
            .unwrap_or(&[])
    }
}

/// What was learned from a certificate at install. Serial and names are spans into the slot's
/// DER; read them through [`super::SlotInfo`] or [`super::Selected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Metadata {
    #[cfg_attr(feature = "defmt", defmt(Debug2Format))]
    pub(crate) serial: Span,
    #[cfg_attr(feature = "defmt", defmt(Debug2Format))]
    pub(crate) issuer: Span,
    #[cfg_attr(feature = "defmt", defmt(Debug2Format))]
    pub(crate) subject: Span,
    not_before: u64,
    not_after: u64,
    key_algorithm: KeyAlgorithm,
    eku: ExtendedKeyUsage,
}

impl Metadata {
    /// notBefore, seconds since the Unix epoch.
    pub fn not_before(&self) -> u64 {
        self.not_before
    }
    /// notAfter, seconds since the Unix epoch (inclusive, RFC 5280 §4.1.2.5).
    pub fn not_after(&self) -> u64 {
        self.not_after
    }
    /// The subject public key's algorithm.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.key_algorithm
    }
    /// The extended key usage.
    pub fn extended_key_usage(&self) -> ExtendedKeyUsage {
        self.eku
    }
}

/// A DER-encoded X.500 Name (RFC 5280 §4.1.2.4), borrowed from a stored certificate. Two names
/// are the same when their DER bytes are equal, which is how TLS CA hints are matched in
/// practice (and how rustls and webpki compare names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NameRef<'a>(&'a [u8]);

impl<'a> NameRef<'a> {
    pub(crate) fn new(der: &'a [u8]) -> Self {
        NameRef(der)
    }

    /// The whole DER encoding, outer SEQUENCE included.
    pub fn as_der(&self) -> &'a [u8] {
        self.0
    }

    /// Whether `hint`, one entry of a CertificateRequest's certificate_authorities, names this
    /// Name. On the wire (RFC 5246 §7.4.4, RFC 8446 §4.2.4) an entry is the full DER Name, and
    /// rustls 0.23 passes those bytes unchanged to `ResolvesClientCert::resolve`; some servers
    /// (rustls before 0.22) sent only the SEQUENCE contents, so that form is accepted too. The
    /// two cannot be confused: a Name starts with 0x30, its contents with 0x31 (SET).
    pub fn matches_hint(&self, hint: &[u8]) -> bool {
        if hint == self.0 {
            return true;
        }
        !hint.is_empty() && self.contents() == Some(hint)
    }

    /// The SEQUENCE contents (without tag and length).
    fn contents(&self) -> Option<&'a [u8]> {
        let any = AnyRef::try_from(self.0).ok()?;
        Some(any.value())
    }

    /// Whether this is the empty Name (no RDNs), as in certificates that name their subject only
    /// in subjectAltName.
    pub fn is_empty(&self) -> bool {
        self.contents().is_some_and(|c| c.is_empty())
    }

    /// The first commonName, when it is a UTF8String, PrintableString or IA5String.
    pub fn common_name(&self) -> Option<&'a str> {
        let contents = self.contents()?;
        let mut rdns = SliceReader::new(contents).ok()?;
        while !rdns.is_finished() {
            let set = AnyRef::decode(&mut rdns).ok()?;
            let mut atvs = SliceReader::new(set.value()).ok()?;
            while !atvs.is_finished() {
                let atv = AnyRef::decode(&mut atvs).ok()?;
                let mut fields = SliceReader::new(atv.value()).ok()?;
                let oid = ObjectIdentifier::decode(&mut fields).ok()?;
                let value = AnyRef::decode(&mut fields).ok()?;
                let textual = matches!(
                    value.tag(),
                    Tag::Utf8String | Tag::PrintableString | Tag::Ia5String
                );
                if oid == OID_COMMON_NAME && textual {
                    return core::str::from_utf8(value.value()).ok();
                }
            }
        }
        None
    }
}

impl fmt::Display for NameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.common_name() {
            Some(cn) => write!(f, "CN={cn}"),
            None if self.is_empty() => f.write_str("(empty name)"),
            None => write!(f, "(name without CN, {} bytes)", self.0.len()),
        }
    }
}

/// The parse result: metadata plus the SEC1 public key bytes (for checking an inline key).
pub(crate) struct Parsed<'a> {
    pub(crate) meta: Metadata,
    pub(crate) public_key: &'a [u8],
}

/// The fields of one X.509 certificate (RFC 5280 §4.1), borrowed from its DER: one walk over
/// the structure for every reader (the slot table's metadata, the server policy).
pub(crate) struct CertFields<'a> {
    /// Serial number content octets.
    pub(crate) serial: &'a [u8],
    /// Issuer Name (whole TLV).
    pub(crate) issuer: &'a [u8],
    /// Validity window.
    pub(crate) validity: Validity,
    /// Subject Name (whole TLV).
    pub(crate) subject: &'a [u8],
    /// SubjectPublicKeyInfo.
    pub(crate) spki: SubjectPublicKeyInfoRef<'a>,
    /// Extensions content (the SEQUENCE inside `[3]`), if present.
    pub(crate) extensions: Option<&'a [u8]>,
    /// The issuer's signature algorithm.
    pub(crate) signature_oid: ObjectIdentifier,
}

impl<'a> CertFields<'a> {
    /// Walk `der` as one certificate, with nothing after it.
    pub(crate) fn parse(der: &'a [u8]) -> der::Result<Self> {
        let mut outer = SliceReader::new(der)?;
        let (tbs, signature_oid) = outer.sequence(|cert| {
            let tbs = cert.tlv_bytes()?;
            let oid = cert.sequence(|a| {
                let oid = ObjectIdentifier::decode(a)?;
                while !a.is_finished() {
                    let _params = AnyRef::decode(a)?;
                }
                Ok(oid)
            })?;
            let _signature = cert.tlv_bytes()?;
            Ok((tbs, oid))
        })?;
        outer.finish(())?;

        let mut reader = SliceReader::new(tbs)?;
        let fields = reader.sequence(|t| {
            let version_tag = Tag::ContextSpecific {
                constructed: true,
                number: TagNumber::N0,
            };
            if t.peek_tag()? == version_tag {
                let _version = t.tlv_bytes()?;
            }
            let serial = AnyRef::decode(t)?;
            serial.tag().assert_eq(Tag::Integer)?;
            let _signature = t.tlv_bytes()?;
            let issuer = t.tlv_bytes()?;
            let validity = Validity::decode(t)?;
            let subject = t.tlv_bytes()?;
            let spki = SubjectPublicKeyInfoRef::decode(t)?;
            let extensions_tag = Tag::ContextSpecific {
                constructed: true,
                number: TagNumber::N3,
            };
            let mut extensions = None;
            // issuerUniqueID [1] and subjectUniqueID [2] may precede the extensions; skip them.
            while !t.is_finished() {
                let field = AnyRef::decode(t)?;
                if field.tag() == extensions_tag {
                    extensions = Some(field.value());
                }
            }
            Ok(CertFields {
                serial: serial.value(),
                issuer,
                validity,
                subject,
                spki,
                extensions,
                signature_oid,
            })
        })?;
        reader.finish(())?;
        Ok(fields)
    }
}

/// The length in bytes (header included) of the DER SEQUENCE `der` starts with, which may be
/// followed by more data: how a stored chain of certificates is split back into certificates.
pub(crate) fn first_tlv_len(der: &[u8]) -> Result<usize, CertError> {
    use der::Encode;
    let mut reader = SliceReader::new(der)?;
    let header = der::Header::decode(&mut reader)?;
    if header.tag != der::Tag::Sequence {
        return Err(CertError::Malformed);
    }
    let head = usize::try_from(header.encoded_len()?)?;
    let total = head
        .checked_add(usize::try_from(header.length)?)
        .ok_or(CertError::Malformed)?;
    if total > der.len() {
        return Err(CertError::Malformed);
    }
    Ok(total)
}

/// The issuer Name DER of a certificate (None when it does not parse).
pub(crate) fn issuer_of(der: &[u8]) -> Option<&[u8]> {
    CertFields::parse(der).ok().map(|f| f.issuer)
}

/// Parse `der` as one X.509 certificate, with nothing after it.
pub(crate) fn parse(der: &[u8]) -> Result<Parsed<'_>, CertError> {
    if der.len() > usize::from(u16::MAX) {
        return Err(CertError::TooLong);
    }
    let CertFields {
        serial,
        issuer,
        validity,
        subject,
        spki,
        extensions,
        ..
    } = CertFields::parse(der)?;

    if serial.is_empty() {
        return Err(CertError::Malformed);
    }
    if serial.len() > SERIAL_MAX {
        return Err(CertError::SerialTooLong);
    }
    check_name(issuer)?;
    check_name(subject)?;
    let not_before = validity.not_before.to_unix_duration().as_secs();
    let not_after = validity.not_after.to_unix_duration().as_secs();
    if not_after < not_before {
        return Err(CertError::InvertedValidity);
    }
    let key_algorithm = key_algorithm(&spki)?;
    let public_key = spki
        .subject_public_key
        .as_bytes()
        .ok_or(CertError::Malformed)?;
    let eku = match extensions {
        Some(ext) => parse_extensions(ext)?,
        None => ExtendedKeyUsage::ABSENT,
    };
    Ok(Parsed {
        meta: Metadata {
            serial: Span::within(der, serial)?,
            issuer: Span::within(der, issuer)?,
            subject: Span::within(der, subject)?,
            not_before,
            not_after,
            key_algorithm,
            eku,
        },
        public_key,
    })
}

/// Check that `der` is a Name: SEQUENCE OF SET OF SEQUENCE { OID, ANY }, without allocating.
fn check_name(der: &[u8]) -> Result<(), CertError> {
    let mut reader = SliceReader::new(der)?;
    reader.sequence(|rdns| {
        while !rdns.is_finished() {
            let set = AnyRef::decode(rdns)?;
            set.tag().assert_eq(Tag::Set)?;
            let mut atvs = SliceReader::new(set.value())?;
            while !atvs.is_finished() {
                atvs.sequence(|atv| {
                    let _type = ObjectIdentifier::decode(atv)?;
                    let _value = AnyRef::decode(atv)?;
                    Ok(())
                })?;
            }
        }
        Ok(())
    })?;
    reader.finish(())?;
    Ok(())
}

fn key_algorithm(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<KeyAlgorithm, CertError> {
    let oid = spki.algorithm.oid;
    if oid == OID_RSA {
        return Ok(KeyAlgorithm::Rsa);
    }
    if oid != OID_EC_PUBLIC_KEY {
        return Ok(KeyAlgorithm::Other);
    }
    let curve = match spki.algorithm.parameters {
        Some(params) => params.decode_as::<ObjectIdentifier>().ok(),
        None => None,
    };
    Ok(match curve {
        Some(c) if c == OID_P256 => KeyAlgorithm::P256,
        Some(c) if c == OID_P384 => KeyAlgorithm::P384,
        _ => KeyAlgorithm::Other,
    })
}

/// Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension; only extKeyUsage is read.
fn parse_extensions(der: &[u8]) -> Result<ExtendedKeyUsage, CertError> {
    let mut eku = ExtendedKeyUsage::ABSENT;
    let mut duplicate = false;
    let mut reader = SliceReader::new(der)?;
    reader.sequence(|exts| {
        while !exts.is_finished() {
            exts.sequence(|ext| {
                let oid = ObjectIdentifier::decode(ext)?;
                if ext.peek_tag()? == Tag::Boolean {
                    let _critical = bool::decode(ext)?;
                }
                let value = OctetStringRef::decode(ext)?;
                if oid == OID_EKU {
                    duplicate |= eku.present;
                    eku = parse_eku(value.as_bytes())?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })?;
    reader.finish(())?;
    if duplicate {
        return Err(CertError::DuplicateExtendedKeyUsage);
    }
    Ok(eku)
}

/// ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId
fn parse_eku(der: &[u8]) -> der::Result<ExtendedKeyUsage> {
    let mut reader = SliceReader::new(der)?;
    let eku = reader.sequence(|purposes| {
        let mut eku = ExtendedKeyUsage::listing(false, false, false, false);
        while !purposes.is_finished() {
            let oid = ObjectIdentifier::decode(purposes)?;
            eku.bits |= if oid == OID_ANY_EKU {
                ExtendedKeyUsage::ANY
            } else if oid == OID_CLIENT_AUTH {
                ExtendedKeyUsage::CLIENT_AUTH
            } else if oid == OID_SERVER_AUTH {
                ExtendedKeyUsage::SERVER_AUTH
            } else {
                ExtendedKeyUsage::OTHER
            };
        }
        Ok(eku)
    })?;
    reader.finish(eku)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use crate::certs::testutil::{CertSpec, Eku};
    use der::Encode;

    #[test]
    fn metadata_agrees_with_x509_cert_owned_parse() {
        let made = CertSpec::new("meta-device")
            .serial(&[0x01, 0x02, 0x03, 0xfe])
            .eku(Eku::ClientServer)
            .make();
        let parsed = parse(&made.der).unwrap();
        let owned = x509_cert::Certificate::from_der(&made.der).unwrap();
        let tbs = &owned.tbs_certificate;
        assert_eq!(
            parsed.meta.serial.of(&made.der),
            tbs.serial_number.as_bytes()
        );
        assert_eq!(
            parsed.meta.issuer.of(&made.der),
            tbs.issuer.to_der().unwrap().as_slice()
        );
        assert_eq!(
            parsed.meta.subject.of(&made.der),
            tbs.subject.to_der().unwrap().as_slice()
        );
        assert_eq!(
            parsed.meta.not_before,
            tbs.validity.not_before.to_unix_duration().as_secs()
        );
        assert_eq!(parsed.meta.not_after, made.not_after);
        assert_eq!(parsed.meta.key_algorithm, KeyAlgorithm::P256);
        assert_eq!(
            parsed.meta.eku,
            ExtendedKeyUsage::listing(false, true, true, false)
        );
        let subject = NameRef::new(parsed.meta.subject.of(&made.der));
        assert_eq!(subject.common_name(), Some("meta-device"));
    }

    #[test]
    fn hint_matches_full_der_and_contents_only() {
        let made = CertSpec::new("hint").make();
        let parsed = parse(&made.der).unwrap();
        let issuer = NameRef::new(parsed.meta.issuer.of(&made.der));
        let full = issuer.as_der();
        assert!(issuer.matches_hint(full));
        assert!(issuer.matches_hint(issuer.contents().unwrap()));
        assert!(!issuer.matches_hint(&[]));
        assert!(!issuer.matches_hint(&full[..full.len() - 1]));
    }

    #[test]
    fn eku_flags_parsed() {
        for (eku, expected, client) in [
            (Eku::None, ExtendedKeyUsage::ABSENT, true),
            (
                Eku::Server,
                ExtendedKeyUsage::listing(false, false, true, false),
                false,
            ),
            (
                Eku::Any,
                ExtendedKeyUsage::listing(true, false, false, false),
                true,
            ),
        ] {
            let made = CertSpec::new("eku").eku(eku).make();
            let meta = parse(&made.der).unwrap().meta;
            assert_eq!(meta.eku, expected);
            assert_eq!(meta.eku.permits_client_auth(), client);
        }
    }

    #[test]
    fn garbage_and_trailing_bytes_refused() {
        assert_eq!(parse(&[]).err(), Some(CertError::Malformed));
        assert_eq!(
            parse(&[0x30, 0x03, 1, 2, 3]).err(),
            Some(CertError::Malformed)
        );
        let mut der = CertSpec::new("trail").make().der;
        der.push(0);
        assert_eq!(parse(&der).err(), Some(CertError::Malformed));
    }
}
