//! Private-key references held by a slot: an inline P-256 scalar (kept in RAM and in the
//! device's own flash, zeroized when dropped) or an opaque handle to a key that lives in a
//! secure element and is used through [`crate::hal::Signer`].

use core::fmt;

use p256::pkcs8::DecodePrivateKey;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Why key bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a valid P-256 private scalar (zero, or not below the group order).
    InvalidScalar,
    /// The PKCS#8 document could not be decoded as a P-256 private key.
    InvalidPkcs8,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::InvalidScalar => f.write_str("private key is not a valid P-256 scalar"),
            KeyError::InvalidPkcs8 => f.write_str("private key is not a P-256 PKCS#8 document"),
        }
    }
}

impl core::error::Error for KeyError {}

/// A P-256 private key held inline: the 32-byte big-endian scalar. Zeroized on drop; its
/// `Debug` never prints the bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct InlineKey([u8; 32]);

impl InlineKey {
    /// Wrap a 32-byte big-endian P-256 scalar, checking that it is a valid private key.
    pub fn from_bytes(mut bytes: [u8; 32]) -> Result<Self, KeyError> {
        let valid = p256::SecretKey::from_slice(&bytes).is_ok();
        let key = InlineKey(bytes);
        bytes.zeroize();
        if valid {
            Ok(key)
        } else {
            Err(KeyError::InvalidScalar)
        }
    }

    /// Decode a PKCS#8 (RFC 5208) DER private key for P-256.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let secret = p256::SecretKey::from_pkcs8_der(der).map_err(|_| KeyError::InvalidPkcs8)?;
        let mut bytes = [0u8; 32];
        let mut scalar = secret.to_bytes();
        bytes.copy_from_slice(&scalar);
        let scalar_bytes: &mut [u8] = scalar.as_mut();
        scalar_bytes.zeroize();
        Self::from_bytes(bytes)
    }

    /// The secret scalar, for the signer that uses it. Do not copy it anywhere else.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether this key's public point equals the SEC1-encoded `public_key` (compressed or not).
    pub(crate) fn matches_public_key(&self, public_key: &[u8]) -> bool {
        let Ok(secret) = p256::SecretKey::from_slice(&self.0) else {
            return false;
        };
        match p256::PublicKey::from_sec1_bytes(public_key) {
            Ok(expected) => secret.public_key() == expected,
            Err(_) => false,
        }
    }
}

impl fmt::Debug for InlineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InlineKey(<redacted>)")
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
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for InlineKey {}

/// Where a slot's private key is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KeyRef {
    /// The key bytes themselves (P-256). They are persisted with the table in the device's own
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
    /// An inline P-256 key.
    Inline,
    /// A secure-element handle.
    Handle(u32),
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Inline => f.write_str("inline P-256 key"),
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

    #[test]
    fn zero_scalar_is_refused() {
        assert_eq!(
            InlineKey::from_bytes([0u8; 32]),
            Err(KeyError::InvalidScalar)
        );
    }
}
