//! Private-key references held by a slot: an inline key (ECDSA P-256 or P-384, or RSA
//! 2048-4096 as enterprise CAs issue them; kept in RAM and in the device's own flash, zeroized
//! when dropped) or an opaque handle to a key that lives in a secure element and is used through
//! [`crate::hal::KeyStore`]. Key documents follow PKCS#8 (RFC 5208), PKCS#1 (RFC 8017) and
//! SEC1 (RFC 5915).

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::meta::{KeyAlgorithm, OID_EC_PUBLIC_KEY, OID_P256};

/// secp384r1 (RFC 5480 §2.1.1.1).
#[cfg_attr(not(feature = "p384"), allow(dead_code))]
const OID_P384: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// rsaEncryption (RFC 8017 appendix C).
const OID_RSA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Smallest RSA modulus accepted for a client key, in bits (below it, servers refuse it).
pub const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted for a client key, in bits (bounds RAM, flash and signing time).
pub const RSA_MAX_BITS: usize = 4096;

/// Longest persisted form of an inline key: RSA-4096 as e (4 bytes) and both primes (256
/// bytes each, see [`InlineKey::stored_bytes`]); P-384 is 48 bytes, P-256 32.
#[cfg(feature = "rsa-sign")]
pub(crate) const STORED_KEY_MAX: usize = 4 + 2 * (RSA_MAX_BITS / 16);
/// Longest persisted form of an inline key without RSA: a P-384 scalar.
#[cfg(all(not(feature = "rsa-sign"), feature = "p384"))]
pub(crate) const STORED_KEY_MAX: usize = 48;
/// Longest persisted form of an inline key: a P-256 scalar.
#[cfg(all(not(feature = "rsa-sign"), not(feature = "p384")))]
pub(crate) const STORED_KEY_MAX: usize = 32;

/// Why key bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a valid private scalar of their curve (zero, or not below the group
    /// order).
    InvalidScalar,
    /// The PKCS#8 document could not be decoded, or its key does not decode as its algorithm.
    InvalidPkcs8,
    /// The PKCS#1 (RSAPrivateKey) document could not be decoded.
    InvalidPkcs1,
    /// The SEC1 (ECPrivateKey) document could not be decoded as a P-256 or P-384 key.
    InvalidSec1,
    /// The key decoded but is inconsistent (an RSA key whose components do not agree).
    Inconsistent,
    /// An RSA modulus outside [`RSA_MIN_BITS`]..=[`RSA_MAX_BITS`].
    RsaSize {
        /// The modulus length in bits.
        bits: usize,
    },
    /// A key algorithm or curve this build cannot hold (RSA needs the `rsa-sign` feature,
    /// P-384 the `p384` feature; other curves and algorithms are not supported).
    Unsupported,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::InvalidScalar => f.write_str("private key is not a valid EC private scalar"),
            KeyError::InvalidPkcs8 => f.write_str("private key is not a valid PKCS#8 document"),
            KeyError::InvalidPkcs1 => {
                f.write_str("private key is not a valid PKCS#1 RSA private key")
            }
            KeyError::InvalidSec1 => {
                f.write_str("private key is not a valid SEC1 P-256 or P-384 private key")
            }
            KeyError::Inconsistent => f.write_str("private key components are inconsistent"),
            KeyError::RsaSize { bits } => write!(
                f,
                "RSA key of {bits} bits; keys of {RSA_MIN_BITS} to {RSA_MAX_BITS} bits are supported"
            ),
            KeyError::Unsupported => f.write_str(
                "private key algorithm not supported by this build (RSA 2048-4096, ECDSA P-256 \
                 or P-384)",
            ),
        }
    }
}

impl core::error::Error for KeyError {}

/// The secret itself. EC scalars are big-endian bytes; an RSA key is kept parsed (its CRT
/// values precomputed) behind an `Arc`, so handing it to a signer copies no secret. Every
/// variant is wiped on drop: the arrays here, the RSA key by its own `ZeroizeOnDrop` when the
/// last reference goes.
#[derive(Clone)]
pub(crate) enum Secret {
    /// P-256 scalar.
    P256([u8; 32]),
    /// P-384 scalar.
    #[cfg(feature = "p384")]
    P384([u8; 48]),
    /// RSA private key.
    #[cfg(feature = "rsa-sign")]
    Rsa(alloc::sync::Arc<rsa::RsaPrivateKey>),
}

impl Drop for Secret {
    fn drop(&mut self) {
        match self {
            Secret::P256(b) => b.zeroize(),
            #[cfg(feature = "p384")]
            Secret::P384(b) => b.zeroize(),
            #[cfg(feature = "rsa-sign")]
            Secret::Rsa(_) => {}
        }
    }
}

/// A private key held inline: ECDSA P-256, ECDSA P-384 (feature `p384`) or RSA 2048-4096
/// (feature `rsa-sign`). Zeroized on drop; its `Debug` never prints the secret.
#[derive(Clone)]
pub struct InlineKey(Secret);

impl ZeroizeOnDrop for InlineKey {}

impl InlineKey {
    /// Wrap a 32-byte big-endian P-256 scalar, checking that it is a valid private key.
    pub fn from_bytes(mut bytes: [u8; 32]) -> Result<Self, KeyError> {
        let valid = p256::SecretKey::from_slice(&bytes).is_ok();
        let key = InlineKey(Secret::P256(bytes));
        bytes.zeroize();
        if valid {
            Ok(key)
        } else {
            Err(KeyError::InvalidScalar)
        }
    }

    /// Wrap a 48-byte big-endian P-384 scalar, checking that it is a valid private key.
    #[cfg(feature = "p384")]
    pub fn from_p384_bytes(mut bytes: [u8; 48]) -> Result<Self, KeyError> {
        let valid = p384::SecretKey::from_slice(&bytes).is_ok();
        let key = InlineKey(Secret::P384(bytes));
        bytes.zeroize();
        if valid {
            Ok(key)
        } else {
            Err(KeyError::InvalidScalar)
        }
    }

    pub(crate) fn from_p256_secret(secret: &p256::SecretKey) -> Result<Self, KeyError> {
        let mut scalar = secret.to_bytes();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&scalar);
        let scalar_bytes: &mut [u8] = scalar.as_mut();
        scalar_bytes.zeroize();
        Self::from_bytes(bytes)
    }

    #[cfg(feature = "p384")]
    fn from_p384_secret(secret: &p384::SecretKey) -> Result<Self, KeyError> {
        let mut scalar = secret.to_bytes();
        let mut bytes = [0u8; 48];
        bytes.copy_from_slice(&scalar);
        let scalar_bytes: &mut [u8] = scalar.as_mut();
        scalar_bytes.zeroize();
        Self::from_p384_bytes(bytes)
    }

    /// Decode a PKCS#8 (RFC 5208) DER private key: ECDSA P-256, P-384 or RSA, told apart by
    /// the algorithm identifier. RSA keys are checked for consistency and size.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        use p256::pkcs8::{DecodePrivateKey, PrivateKeyInfo};
        let info = PrivateKeyInfo::try_from(der).map_err(|_| KeyError::InvalidPkcs8)?;
        let oid = info.algorithm.oid;
        if oid == OID_EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|_| KeyError::InvalidPkcs8)?;
            if curve == OID_P256 {
                let secret =
                    p256::SecretKey::from_pkcs8_der(der).map_err(|_| KeyError::InvalidPkcs8)?;
                return Self::from_p256_secret(&secret);
            }
            #[cfg(feature = "p384")]
            if curve == OID_P384 {
                let secret =
                    p384::SecretKey::from_pkcs8_der(der).map_err(|_| KeyError::InvalidPkcs8)?;
                return Self::from_p384_secret(&secret);
            }
            return Err(KeyError::Unsupported);
        }
        if oid == OID_RSA {
            #[cfg(feature = "rsa-sign")]
            {
                let key =
                    rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|_| KeyError::InvalidPkcs8)?;
                return Self::from_rsa(key);
            }
            #[cfg(not(feature = "rsa-sign"))]
            return Err(KeyError::Unsupported);
        }
        Err(KeyError::Unsupported)
    }

    /// Decode a PKCS#1 (RFC 8017 appendix A.1.2) DER `RSAPrivateKey`, checked for consistency
    /// and size.
    #[cfg(feature = "rsa-sign")]
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let key = rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(|_| KeyError::InvalidPkcs1)?;
        Self::from_rsa(key)
    }

    /// Decode a SEC1 (RFC 5915) DER `ECPrivateKey` for P-256 or (feature `p384`) P-384.
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(secret) = p256::SecretKey::from_sec1_der(der) {
            return Self::from_p256_secret(&secret);
        }
        #[cfg(feature = "p384")]
        if let Ok(secret) = p384::SecretKey::from_sec1_der(der) {
            return Self::from_p384_secret(&secret);
        }
        Err(KeyError::InvalidSec1)
    }

    /// Check an RSA key (components agree, modulus within bounds) and precompute its CRT
    /// values once, so signing does not.
    #[cfg(feature = "rsa-sign")]
    fn from_rsa(mut key: rsa::RsaPrivateKey) -> Result<Self, KeyError> {
        use rsa::traits::PublicKeyParts;
        let bits = key.size().saturating_mul(8);
        if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
            return Err(KeyError::RsaSize { bits });
        }
        if rsa::traits::PrivateKeyParts::primes(&key).len() != 2 {
            // Multi-prime keys are valid RSA but not storable in our two-prime record.
            return Err(KeyError::Unsupported);
        }
        key.validate().map_err(|_| KeyError::Inconsistent)?;
        key.precompute().map_err(|_| KeyError::Inconsistent)?;
        Ok(InlineKey(Secret::Rsa(alloc::sync::Arc::new(key))))
    }

    /// The key's algorithm (curve, or RSA).
    pub fn algorithm(&self) -> KeyAlgorithm {
        match &self.0 {
            Secret::P256(_) => KeyAlgorithm::P256,
            #[cfg(feature = "p384")]
            Secret::P384(_) => KeyAlgorithm::P384,
            #[cfg(feature = "rsa-sign")]
            Secret::Rsa(_) => KeyAlgorithm::Rsa,
        }
    }

    /// The secret, for the signer that uses it. Do not copy it anywhere else.
    pub(crate) fn secret(&self) -> &Secret {
        &self.0
    }

    /// Whether this key belongs to the certificate public key `public_key` (the SPKI's
    /// subjectPublicKey bits: a SEC1 point for EC, a PKCS#1 `RSAPublicKey` for RSA).
    pub(crate) fn matches_public_key(&self, public_key: &[u8]) -> bool {
        match &self.0 {
            Secret::P256(s) => {
                let Ok(secret) = p256::SecretKey::from_slice(s) else {
                    return false;
                };
                p256::PublicKey::from_sec1_bytes(public_key)
                    .is_ok_and(|expected| secret.public_key() == expected)
            }
            #[cfg(feature = "p384")]
            Secret::P384(s) => {
                let Ok(secret) = p384::SecretKey::from_slice(s) else {
                    return false;
                };
                p384::PublicKey::from_sec1_bytes(public_key)
                    .is_ok_and(|expected| secret.public_key() == expected)
            }
            #[cfg(feature = "rsa-sign")]
            Secret::Rsa(k) => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                rsa::RsaPublicKey::from_pkcs1_der(public_key)
                    .is_ok_and(|expected| k.to_public_key() == expected)
            }
        }
    }

    /// The persisted form: the EC scalar; for RSA, e (u32 big-endian) then p and q, each
    /// left-padded to the same length. The modulus and the CRT values are recomputed on load
    /// ([`Self::from_stored`]), which keeps an RSA-4096 record at 516 bytes.
    pub(crate) fn stored_bytes(&self) -> Option<StoredKey> {
        let mut out = StoredKey::new();
        match &self.0 {
            Secret::P256(s) => out.extend_from_slice(s)?,
            #[cfg(feature = "p384")]
            Secret::P384(s) => out.extend_from_slice(s)?,
            #[cfg(feature = "rsa-sign")]
            Secret::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                let e = k.e().to_bytes_be();
                let mut e_bytes = [0u8; 4];
                let pad = e_bytes.len().checked_sub(e.len())?;
                e_bytes.get_mut(pad..)?.copy_from_slice(&e);
                let (p, q) = match rsa::traits::PrivateKeyParts::primes(k.as_ref()) {
                    [p, q] => (
                        zeroize::Zeroizing::new(p.to_bytes_be()),
                        zeroize::Zeroizing::new(q.to_bytes_be()),
                    ),
                    _ => return None,
                };
                let half = p.len().max(q.len());
                out.extend_from_slice(&e_bytes)?;
                for prime in [&p, &q] {
                    for _ in prime.len()..half {
                        out.extend_from_slice(&[0])?;
                    }
                    out.extend_from_slice(prime)?;
                }
            }
        }
        Some(out)
    }

    /// Rebuild a key from [`Self::stored_bytes`] of `algorithm`, checking it as on import.
    pub(crate) fn from_stored(algorithm: KeyAlgorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        match algorithm {
            KeyAlgorithm::P256 => {
                let b = <[u8; 32]>::try_from(bytes).map_err(|_| KeyError::InvalidScalar)?;
                Self::from_bytes(b)
            }
            #[cfg(feature = "p384")]
            KeyAlgorithm::P384 => {
                let b = <[u8; 48]>::try_from(bytes).map_err(|_| KeyError::InvalidScalar)?;
                Self::from_p384_bytes(b)
            }
            #[cfg(feature = "rsa-sign")]
            KeyAlgorithm::Rsa => {
                let (e, primes) = bytes
                    .split_first_chunk::<4>()
                    .ok_or(KeyError::Inconsistent)?;
                if primes.is_empty() || primes.len() % 2 != 0 {
                    return Err(KeyError::Inconsistent);
                }
                let (p, q) = primes.split_at(primes.len() / 2);
                let key = rsa::RsaPrivateKey::from_p_q(
                    rsa::BigUint::from_bytes_be(p),
                    rsa::BigUint::from_bytes_be(q),
                    rsa::BigUint::from(u32::from_be_bytes(*e)),
                )
                .map_err(|_| KeyError::Inconsistent)?;
                Self::from_rsa(key)
            }
            _ => Err(KeyError::Unsupported),
        }
    }
}

/// A key in its persisted form ([`InlineKey::stored_bytes`]), bounded and wiped on drop.
pub(crate) struct StoredKey {
    bytes: [u8; STORED_KEY_MAX],
    len: usize,
}

impl StoredKey {
    pub(crate) fn new() -> Self {
        StoredKey {
            bytes: [0; STORED_KEY_MAX],
            len: 0,
        }
    }

    /// Append `more`; `None` when it would not fit.
    pub(crate) fn extend_from_slice(&mut self, more: &[u8]) -> Option<()> {
        let end = self.len.checked_add(more.len())?;
        self.bytes.get_mut(self.len..end)?.copy_from_slice(more);
        self.len = end;
        Some(())
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// The whole buffer, to read `len` bytes into; then [`Self::set_len`].
    pub(crate) fn buffer_mut(&mut self) -> &mut [u8; STORED_KEY_MAX] {
        &mut self.bytes
    }

    /// Take `len` bytes of the buffer as the content (`None` beyond its capacity).
    pub(crate) fn set_len(&mut self, len: usize) -> Option<()> {
        (len <= STORED_KEY_MAX).then(|| self.len = len)
    }
}

impl Drop for StoredKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for InlineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InlineKey({}, <redacted>)", self.algorithm())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for InlineKey {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "InlineKey(<redacted>)")
    }
}

impl PartialEq for InlineKey {
    fn eq(&self, other: &Self) -> bool {
        if self.algorithm() != other.algorithm() {
            return false;
        }
        // Compare the persisted forms in constant time: they determine the key.
        match (self.stored_bytes(), other.stored_bytes()) {
            (Some(a), Some(b)) => {
                let (a, b) = (a.as_slice(), b.as_slice());
                a.len() == b.len() && bool::from(a.ct_eq(b))
            }
            _ => false,
        }
    }
}

impl Eq for InlineKey {}

/// Where a slot's private key is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KeyRef {
    /// The key itself (P-256, P-384 or RSA). It is persisted with the table in the device's own
    /// flash; use a secure element handle where that is not acceptable.
    Inline(InlineKey),
    /// An opaque handle the platform's secure element understands. The core cannot check that
    /// it matches the certificate; the integrator must.
    Handle(u32),
}

impl KeyRef {
    /// The kind of key, without its secret.
    pub fn kind(&self) -> KeyKind {
        match self {
            KeyRef::Inline(_) => KeyKind::Inline,
            KeyRef::Handle(h) => KeyKind::Handle(*h),
        }
    }
}

/// A key reference with the secret left out, for listings and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KeyKind {
    /// An inline key (its algorithm is the certificate's).
    Inline,
    /// A secure-element handle.
    Handle(u32),
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Inline => f.write_str("inline key"),
            KeyKind::Handle(h) => write!(f, "secure element key #{h}"),
        }
    }
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
    use alloc::format;

    #[test]
    fn inline_key_debug_does_not_print_bytes() {
        let key = InlineKey::from_bytes([7u8; 32]).unwrap();
        let shown = format!("{key:?} {:?}", KeyRef::Inline(key.clone()));
        assert!(!shown.contains('7'), "{shown}");
    }

    fn data(name: &str) -> alloc::vec::Vec<u8> {
        std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    extern crate std;

    #[test]
    #[cfg(all(feature = "p384", feature = "rsa-sign"))]
    fn every_supported_document_loads_with_its_algorithm_and_round_trips_storage() {
        let p256 = InlineKey::from_pkcs8_der(&data("p256-key.pkcs8.der")).unwrap();
        assert_eq!(p256.algorithm(), KeyAlgorithm::P256);
        assert_eq!(
            InlineKey::from_sec1_der(&data("p256-key.sec1.der")).unwrap(),
            p256
        );
        let p384 = InlineKey::from_pkcs8_der(&data("p384-key.pkcs8.der")).unwrap();
        assert_eq!(p384.algorithm(), KeyAlgorithm::P384);
        assert_eq!(
            InlineKey::from_sec1_der(&data("p384-key.sec1.der")).unwrap(),
            p384
        );
        let rsa = InlineKey::from_pkcs8_der(&data("rsa2048-key.pkcs8.der")).unwrap();
        assert_eq!(rsa.algorithm(), KeyAlgorithm::Rsa);
        assert_eq!(
            InlineKey::from_pkcs1_der(&data("rsa2048-key.pkcs1.der")).unwrap(),
            rsa
        );
        let rsa4096 = InlineKey::from_pkcs8_der(&data("rsa4096-key.pkcs8.der")).unwrap();
        assert_ne!(rsa4096, rsa);
        assert_ne!(p256, p384);
        for key in [&p256, &p384, &rsa, &rsa4096] {
            let stored = key.stored_bytes().unwrap();
            let back = InlineKey::from_stored(key.algorithm(), stored.as_slice()).unwrap();
            assert_eq!(&back, key);
            // A stored key read as another algorithm is refused, not misread.
            for other in [KeyAlgorithm::P256, KeyAlgorithm::P384, KeyAlgorithm::Rsa] {
                if other != key.algorithm() {
                    assert!(InlineKey::from_stored(other, stored.as_slice()).is_err());
                }
            }
        }
        assert_eq!(
            rsa4096.stored_bytes().unwrap().as_slice().len(),
            STORED_KEY_MAX
        );
    }

    #[test]
    #[cfg(all(feature = "p384", feature = "rsa-sign"))]
    fn unsupported_and_malformed_keys_are_refused_with_their_reason() {
        assert_eq!(
            InlineKey::from_pkcs8_der(&data("rsa1024-key.pkcs8.der")),
            Err(KeyError::RsaSize { bits: 1024 })
        );
        assert_eq!(
            InlineKey::from_pkcs8_der(&data("p521-key.pkcs8.der")),
            Err(KeyError::Unsupported)
        );
        assert_eq!(
            InlineKey::from_pkcs8_der(&[1, 2, 3]),
            Err(KeyError::InvalidPkcs8)
        );
        assert_eq!(
            InlineKey::from_pkcs1_der(&[0x30, 0]),
            Err(KeyError::InvalidPkcs1)
        );
        assert_eq!(
            InlineKey::from_pkcs1_der(&data("rsa2048-key.pkcs8.der")),
            Err(KeyError::InvalidPkcs1)
        );
        assert_eq!(
            InlineKey::from_sec1_der(&data("p384-key.pkcs8.der")),
            Err(KeyError::InvalidSec1)
        );
        // Stored RSA records that cannot be a key: no exponent, odd prime halves, empty.
        let rsa = InlineKey::from_pkcs1_der(&data("rsa2048-key.pkcs1.der")).unwrap();
        let stored = rsa.stored_bytes().unwrap().as_slice().to_vec();
        let mut no_e = stored.clone();
        no_e[..4].fill(0);
        assert!(InlineKey::from_stored(KeyAlgorithm::Rsa, &no_e).is_err());
        assert!(InlineKey::from_stored(KeyAlgorithm::Rsa, &stored[..stored.len() - 1]).is_err());
        assert!(InlineKey::from_stored(KeyAlgorithm::Rsa, &stored[..4]).is_err());
        assert!(InlineKey::from_stored(KeyAlgorithm::Rsa, &[]).is_err());
    }

    #[test]
    #[cfg(all(feature = "p384", feature = "rsa-sign"))]
    fn every_truncation_of_each_document_is_refused() {
        for name in [
            "p384-key.pkcs8.der",
            "rsa2048-key.pkcs8.der",
            "p256-key.pkcs8.der",
        ] {
            let der = data(name);
            for len in 0..der.len() {
                assert!(
                    InlineKey::from_pkcs8_der(&der[..len]).is_err(),
                    "{name} {len}"
                );
            }
        }
        let pkcs1 = data("rsa2048-key.pkcs1.der");
        for len in 0..pkcs1.len() {
            assert!(InlineKey::from_pkcs1_der(&pkcs1[..len]).is_err(), "{len}");
        }
        let sec1 = data("p384-key.sec1.der");
        for len in 0..sec1.len() {
            assert!(InlineKey::from_sec1_der(&sec1[..len]).is_err(), "{len}");
        }
    }

    #[test]
    #[cfg(all(feature = "p384", feature = "rsa-sign"))]
    fn debug_of_rsa_and_p384_keys_does_not_print_secrets() {
        let rsa = InlineKey::from_pkcs1_der(&data("rsa2048-key.pkcs1.der")).unwrap();
        let p384 = InlineKey::from_sec1_der(&data("p384-key.sec1.der")).unwrap();
        assert_eq!(format!("{rsa:?}"), "InlineKey(RSA, <redacted>)");
        assert_eq!(format!("{p384:?}"), "InlineKey(ECDSA P-384, <redacted>)");
    }

    #[test]
    fn zero_scalar_is_refused() {
        assert_eq!(
            InlineKey::from_bytes([0u8; 32]),
            Err(KeyError::InvalidScalar)
        );
    }
}
