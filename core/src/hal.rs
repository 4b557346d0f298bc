//! The traits a platform implements to run Latchkey, in the embedded-hal manner: one small
//! trait per capability, each with its own error. The radio sends EAPOL frames; a key store
//! (secure element, TPM) signs with keys that never leave it; a [`P256`] implementation (a
//! PKA, an assembly library) does the handshake's P-256 public-key operations. Time comes in with every call
//! ([`crate::Now`]), randomness through `rand_core` ([`crate::SharedRng`]), persistence through
//! `embedded-storage`'s `NorFlash` ([`crate::certs::SlotTable::commit`]). The core owns no
//! socket and no clock; the simulator and the firmware implement these.

use core::fmt;

use crate::certs::SignatureScheme;

/// A 48-bit IEEE 802 MAC address.
pub type MacAddr = [u8; 6];

/// Why a signer could not produce a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SignError {
    /// The key (or secure element) is not available.
    KeyUnavailable,
    /// The key cannot sign with the requested scheme.
    UnsupportedScheme,
    /// The signature did not fit into the output buffer.
    BufferTooSmall,
    /// The device reported a failure.
    Device,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignError::KeyUnavailable => {
                "client key unavailable (secure element absent, locked, or without this key)"
            }
            SignError::UnsupportedScheme => "client key cannot sign with the requested scheme",
            SignError::BufferTooSmall => "client key signature did not fit its buffer",
            SignError::Device => "client key device reported a signing failure",
        })
    }
}

impl core::error::Error for SignError {}

/// Longest signature a [`KeyStore`] is asked for: RSA-4096 (512 bytes). An ECDSA DER signature
/// is at most 104 bytes (P-384).
pub const MAX_SIGNATURE_LEN: usize = 512;

/// Private keys held outside the slot table (a secure element, a TPM), addressed by the
/// handle a slot stores ([`crate::certs::KeyRef::Handle`]). The key bytes never leave the
/// implementation. A key may be ECDSA P-256, ECDSA P-384 or RSA; the store says which TLS
/// signature schemes (RFC 8446 §4.2.3) each key can make and signs with the one asked for.
pub trait KeyStore: Send + Sync {
    /// Whether the store holds a usable key for `handle` now. Asked before a slot's
    /// certificate is offered, so a missing key is reported as `key-unavailable` instead of
    /// failing the handshake half-way.
    fn has_key(&self, handle: u32) -> bool;

    /// Whether the key behind `handle` can sign with `scheme` (for an RSA key typically the
    /// `rsa_pss_rsae_*` and `rsa_pkcs1_*` schemes; for an EC key the ECDSA scheme of its
    /// curve). Asked for each scheme the server accepts, before the certificate is offered.
    fn supports(&self, handle: u32, scheme: SignatureScheme) -> bool;

    /// Sign `message` (the whole to-be-signed content, not a digest) with the key behind
    /// `handle` and `scheme`, writing the signature as TLS carries it into `out` (ASN.1 DER
    /// for ECDSA, the modulus-length octet string for RSA; at most [`MAX_SIGNATURE_LEN`]
    /// bytes); returns its length. A key that is gone is [`SignError::KeyUnavailable`].
    fn sign(
        &self,
        handle: u32,
        scheme: SignatureScheme,
        message: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SignError>;

    /// Generate a new ECDSA P-256 key pair inside the store, for a certificate renewal
    /// ([`crate::certs::SlotTable::start_renewal_in`]), and return its handle and its public
    /// key as an uncompressed SEC1 point (`0x04 || X || Y`). The private key never leaves the
    /// store. By default a store cannot generate keys ([`SignError::UnsupportedScheme`]).
    fn generate_p256(&self) -> Result<(u32, [u8; P256_PUBLIC_KEY_LEN]), SignError> {
        Err(SignError::UnsupportedScheme)
    }
}

/// Length of an uncompressed SEC1 P-256 public key: `0x04`, then X and Y (32 bytes each).
pub const P256_PUBLIC_KEY_LEN: usize = 65;

/// Why a [`P256`] operation failed. The TLS engine reports each as a failed handshake; the
/// kinds tell a board's implementation what to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum P256Error {
    /// The scalar is 0 or not below the group order n (a fresh random draw is retried).
    InvalidScalar,
    /// The public point is not on the curve, or is the identity.
    InvalidPoint,
    /// The signature does not verify (or r or s is 0 or not below n).
    BadSignature,
    /// The accelerator reported a failure.
    Device,
}

impl P256Error {
    /// What went wrong, in words (the `Display` text).
    pub const fn as_str(&self) -> &'static str {
        match self {
            P256Error::InvalidScalar => "P-256 scalar is zero or not below the group order",
            P256Error::InvalidPoint => "P-256 point is not on the curve",
            P256Error::BadSignature => "P-256 signature does not verify",
            P256Error::Device => "P-256 implementation reported a failure",
        }
    }
}

impl fmt::Display for P256Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::error::Error for P256Error {}

/// The P-256 (secp256r1) public-key operations a handshake needs, for a board to fill with
/// its PKA or an assembly implementation ([`crate::SupplicantBuilder::p256`]); RustCrypto's
/// `p256` crate ([`RustCryptoP256`]) is the default. Latchkey keeps the protocol around them:
/// it draws ephemeral scalars from the supplicant's RNG, hashes (SHA-256 / SHA-384) and
/// encodes (DER signatures, SEC1 points) itself, so an implementation sees only fixed-size
/// big-endian integers and uncompressed points, and nothing it handles needs allocation.
///
/// A handshake calls, through this trait: one [`Self::public_key`] and one [`Self::ecdh`]
/// per ECDHE on secp256r1; one [`Self::verify`] per P-256 signature checked (each certificate
/// of the server's chain signed by a P-256 key, and the server's handshake signature when its
/// key is P-256); one [`Self::sign`] for CertificateVerify with an inline P-256 client key
/// (keys in a [`KeyStore`] are signed there). Scalars and shared secrets are secrets: an
/// implementation must not keep or log them, and should clear its registers and temporaries
/// after use; Latchkey zeroizes its own copies.
pub trait P256: Send + Sync {
    /// `scalar`·G, the public key of the private key `scalar` (32 bytes, big-endian), into
    /// `out` as an uncompressed SEC1 point `0x04 || X || Y`. Used for ephemeral ECDHE keys.
    /// A scalar that is 0 or not below n is [`P256Error::InvalidScalar`].
    fn public_key(
        &self,
        scalar: &[u8; 32],
        out: &mut [u8; P256_PUBLIC_KEY_LEN],
    ) -> Result<(), P256Error>;

    /// ECDH (SEC 1 §3.3.1): the X coordinate of `scalar`·`peer` into `out`. `peer` is the
    /// server's uncompressed point; one not on the curve is [`P256Error::InvalidPoint`] and
    /// must be refused before it is used (an invalid-curve point leaks the scalar).
    fn ecdh(
        &self,
        scalar: &[u8; 32],
        peer: &[u8; P256_PUBLIC_KEY_LEN],
        out: &mut [u8; 32],
    ) -> Result<(), P256Error>;

    /// ECDSA verification (FIPS 186-4 §6.4) of `signature` (`r || s`, 32 bytes each,
    /// big-endian) over `digest`, the message hash reduced to 256 bits (the hash itself for
    /// SHA-256, its leftmost 32 bytes for SHA-384), with the public key `public_key`
    /// (uncompressed SEC1). Anything but a valid signature is an error.
    fn verify(
        &self,
        public_key: &[u8; P256_PUBLIC_KEY_LEN],
        digest: &[u8; 32],
        signature: &[u8; 64],
    ) -> Result<(), P256Error>;

    /// ECDSA signature (`r || s` into `out`) over the SHA-256 `digest` with the private key
    /// `scalar`. The nonce must be secret and unique per signature: RFC 6979 (what the default
    /// does) or drawn from a true RNG.
    fn sign(
        &self,
        scalar: &[u8; 32],
        digest: &[u8; 32],
        out: &mut [u8; 64],
    ) -> Result<(), P256Error>;
}

pub use crate::tls::provider::seam::{RustCryptoP256, RUSTCRYPTO_P256};

/// What kind of failure a radio reported (the platform's own error stays in its
/// [`Radio::Error`]; Latchkey reports this kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RadioErrorKind {
    /// The link is down (not associated, cable unplugged).
    LinkDown,
    /// The transmit queue is full; a later send may succeed.
    Busy,
    /// Any other platform failure.
    Other,
}

impl fmt::Display for RadioErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RadioErrorKind::LinkDown => "link down",
            RadioErrorKind::Busy => "transmit queue full",
            RadioErrorKind::Other => "platform send failure",
        })
    }
}

impl core::error::Error for RadioErrorKind {}

/// A platform's radio error: anything with a [`RadioErrorKind`].
pub trait RadioError: fmt::Debug {
    /// The kind of failure.
    fn kind(&self) -> RadioErrorKind;
}

impl RadioError for RadioErrorKind {
    fn kind(&self) -> RadioErrorKind {
        *self
    }
}

impl RadioError for core::convert::Infallible {
    fn kind(&self) -> RadioErrorKind {
        match *self {}
    }
}

/// The link the supplicant talks over: sends EAPOL frames (the payload after ethertype
/// 0x888E) to a MAC address. Receiving is the platform's loop calling
/// [`crate::Supplicant::handle_frame`].
pub trait Radio {
    /// The platform's error type.
    type Error: RadioError;

    /// Send one EAPOL frame to `dst`.
    fn send(&mut self, dst: MacAddr, frame: &[u8]) -> Result<(), Self::Error>;
}

impl<R: Radio + ?Sized> Radio for &mut R {
    type Error = R::Error;

    fn send(&mut self, dst: MacAddr, frame: &[u8]) -> Result<(), Self::Error> {
        (**self).send(dst, frame)
    }
}
