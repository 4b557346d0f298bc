//! The traits a platform implements to run Latchkey: radio (EAPOL frames in and out), clock,
//! randomness (`rand_core`) and the private-key signer (so a key may live in a secure element).
//! The core owns no socket and no clock; the simulator and the firmware implement these.

/// A 48-bit IEEE 802 MAC address.
pub type MacAddr = [u8; 6];

/// Why a signer could not produce a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SignError {
    /// The key (or secure element) is not available.
    KeyUnavailable,
    /// The signature did not fit into the output buffer.
    BufferTooSmall,
    /// The device reported a failure.
    Device,
}

/// A private key that signs TLS CertificateVerify messages. The key bytes may never leave the
/// implementation (a secure element, a TPM, or an in-memory key).
///
/// Only ECDSA over P-256 with SHA-256 is required by Latchkey's client authentication.
pub trait Signer {
    /// Sign `message` (the whole to-be-signed content, not a digest) with ECDSA P-256 and
    /// SHA-256, writing the ASN.1 DER signature into `out`; returns its length.
    fn sign_ecdsa_p256_sha256(&self, message: &[u8], out: &mut [u8]) -> Result<usize, SignError>;
}

/// The platform's notion of time.
pub trait Clock {
    /// Monotonic milliseconds since an arbitrary origin (for timers).
    fn now_ms(&self) -> u64;
    /// Wall-clock time in seconds since the Unix epoch, if the platform knows it.
    fn unix_time(&self) -> Option<u64>;
}

/// Why the radio could not send a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RadioError;

/// The link the supplicant talks over: sends EAPOL frames (the payload after ethertype
/// 0x888E) to a MAC address. Receiving is the platform's loop calling
/// [`crate::supplicant::Supplicant::handle_frame`].
pub trait Radio {
    /// Send one EAPOL frame to `dst`.
    fn send(&mut self, dst: MacAddr, frame: &[u8]) -> Result<(), RadioError>;
}
