//! The TLS layer's own vocabulary: negotiated version and cipher suite, TLS alerts with their
//! meaning for an admin, why a handshake stopped ([`TlsError`]) and why a configuration could
//! not be built ([`SetupError`]). rustls' types stay behind these (a rustls upgrade must not
//! break an integrator), and nothing here depends on the engine, the verifier or the resolver.

use alloc::boxed::Box;
use core::fmt;

use crate::certs::SelectErrorKind;
use crate::kind::FailKind;
use crate::tls::server_policy::ServerRejection;

/// The negotiated TLS version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5216 key derivation).
    Tls12,
    /// TLS 1.3 (RFC 9190 key derivation).
    Tls13,
}

impl TlsVersion {
    /// "TLS 1.2" or "TLS 1.3".
    pub fn as_str(&self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A negotiated cipher suite: the ones Latchkey's provider implements, by their IANA names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CipherSuite {
    /// TLS_AES_128_GCM_SHA256 (TLS 1.3).
    Tls13Aes128GcmSha256,
    /// TLS_AES_256_GCM_SHA384 (TLS 1.3).
    Tls13Aes256GcmSha384,
    /// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (TLS 1.2).
    EcdheEcdsaAes128GcmSha256,
    /// TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (TLS 1.2).
    EcdheEcdsaAes256GcmSha384,
    /// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (TLS 1.2).
    EcdheRsaAes128GcmSha256,
    /// TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (TLS 1.2).
    EcdheRsaAes256GcmSha384,
    /// Any other suite, by its IANA code point.
    Other(u16),
}

impl CipherSuite {
    /// The suite with IANA code point `code`.
    pub const fn from_code(code: u16) -> Self {
        match code {
            0x1301 => CipherSuite::Tls13Aes128GcmSha256,
            0x1302 => CipherSuite::Tls13Aes256GcmSha384,
            0xc02b => CipherSuite::EcdheEcdsaAes128GcmSha256,
            0xc02c => CipherSuite::EcdheEcdsaAes256GcmSha384,
            0xc02f => CipherSuite::EcdheRsaAes128GcmSha256,
            0xc030 => CipherSuite::EcdheRsaAes256GcmSha384,
            other => CipherSuite::Other(other),
        }
    }

    /// The IANA code point.
    pub const fn code(self) -> u16 {
        match self {
            CipherSuite::Tls13Aes128GcmSha256 => 0x1301,
            CipherSuite::Tls13Aes256GcmSha384 => 0x1302,
            CipherSuite::EcdheEcdsaAes128GcmSha256 => 0xc02b,
            CipherSuite::EcdheEcdsaAes256GcmSha384 => 0xc02c,
            CipherSuite::EcdheRsaAes128GcmSha256 => 0xc02f,
            CipherSuite::EcdheRsaAes256GcmSha384 => 0xc030,
            CipherSuite::Other(c) => c,
        }
    }

    /// The name as rustls and Wireshark print it (`TLS13_AES_128_GCM_SHA256`,
    /// `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`), or `None` for [`CipherSuite::Other`].
    pub const fn name(self) -> Option<&'static str> {
        Some(match self {
            CipherSuite::Tls13Aes128GcmSha256 => "TLS13_AES_128_GCM_SHA256",
            CipherSuite::Tls13Aes256GcmSha384 => "TLS13_AES_256_GCM_SHA384",
            CipherSuite::EcdheEcdsaAes128GcmSha256 => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            CipherSuite::EcdheEcdsaAes256GcmSha384 => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            CipherSuite::EcdheRsaAes128GcmSha256 => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            CipherSuite::EcdheRsaAes256GcmSha384 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            CipherSuite::Other(_) => return None,
        })
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.code()),
        }
    }
}

/// A TLS alert description (RFC 8446 §6, RFC 5246 §7.2) received from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Alert(pub u8);

impl Alert {
    /// The alert's registered name (`"unknown_ca"`), or `"other"`.
    pub fn name(self) -> &'static str {
        self.describe().0
    }

    /// What the alert means when a server sends it to a client, in words for an admin.
    pub fn meaning(self) -> &'static str {
        self.describe().1
    }

    fn describe(self) -> (&'static str, &'static str) {
        match self.0 {
            0 => ("close_notify", "the server closed the connection"),
            10 => (
                "unexpected_message",
                "the server received a message out of order",
            ),
            20 => (
                "bad_record_mac",
                "a record failed the server's integrity check",
            ),
            22 => ("record_overflow", "a record was too long for the server"),
            40 => (
                "handshake_failure",
                "the server found no acceptable cipher suite, group or signature scheme",
            ),
            42 => (
                "bad_certificate",
                "the server rejected our certificate as corrupt or unverifiable",
            ),
            43 => (
                "unsupported_certificate",
                "the server does not accept our certificate's type",
            ),
            44 => (
                "certificate_revoked",
                "the server says our certificate is revoked",
            ),
            45 => (
                "certificate_expired",
                "the server says our certificate is expired or not yet valid",
            ),
            46 => ("certificate_unknown", "the server refused our certificate"),
            47 => (
                "illegal_parameter",
                "the server found an invalid field in our handshake",
            ),
            48 => (
                "unknown_ca",
                "the server does not trust the CA that issued our certificate",
            ),
            49 => (
                "access_denied",
                "the server's policy denies this device access",
            ),
            50 => ("decode_error", "the server could not decode our message"),
            51 => (
                "decrypt_error",
                "a signature or Finished check failed at the server",
            ),
            70 => (
                "protocol_version",
                "the server does not support the TLS versions we offer",
            ),
            71 => (
                "insufficient_security",
                "the server requires stronger parameters than we offer",
            ),
            80 => ("internal_error", "the server had an internal error"),
            86 => (
                "inappropriate_fallback",
                "the server detected a version downgrade",
            ),
            90 => ("user_canceled", "the server cancelled the handshake"),
            109 => (
                "missing_extension",
                "the server requires a TLS extension we did not send",
            ),
            110 => (
                "unsupported_extension",
                "the server received an extension it did not expect",
            ),
            112 => (
                "unrecognized_name",
                "the server does not know the name we asked for (SNI)",
            ),
            116 => (
                "certificate_required",
                "the server requires a client certificate and got none",
            ),
            120 => ("no_application_protocol", "no common application protocol"),
            _ => (
                "other",
                "the server ended the handshake with an alert this build does not name",
            ),
        }
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.meaning())
    }
}

/// A TLS protocol failure the engine reported (a malformed or unexpected message, a failed
/// integrity check, a peer that broke the protocol). Its `Display` says what happened; the
/// engine's own types stay private.
#[derive(Clone, PartialEq)]
pub struct ProtocolError(pub(crate) rustls::Error);

impl fmt::Debug for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProtocolError({})", self.0)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl core::error::Error for ProtocolError {}

#[cfg(feature = "defmt")]
impl defmt::Format for ProtocolError {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "TLS protocol error: {}", defmt::Display2Format(&self.0))
    }
}

/// Why the TLS handshake stopped.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TlsError {
    /// The server broke the TLS protocol.
    Protocol(ProtocolError),
    /// Our outgoing flight did not fit the outgoing buffer.
    OutgoingTooLarge {
        /// Bytes the record needed.
        needed: usize,
        /// Bytes that were free.
        available: usize,
    },
    /// The server sent application data other than the RFC 9190 commitment byte.
    UnexpectedApplicationData,
    /// The server closed the TLS connection before EAP-TLS finished.
    PeerClosed,
    /// The handshake finished but the secrets for key derivation were not seen (a Latchkey
    /// invariant, not the server's fault).
    MissingKeyMaterial,
    /// The server chose a cipher suite whose hash we cannot use for key derivation.
    UnsupportedSuite,
    /// The server failed the server policy (certificate, name, time, pin...).
    ServerRejected(Box<ServerRejection>),
    /// The server ended the handshake with a fatal TLS alert.
    AlertReceived(Alert),
    /// The server cannot do the lowest TLS version we are configured to accept.
    VersionBelowMinimum {
        /// The configured minimum.
        minimum: TlsVersion,
    },
    /// The server asked for a client certificate and none could be offered; the handshake
    /// stopped instead of going on without one (nothing was sent).
    NoClientCertificate(SelectErrorKind),
    /// The engine was used after it had failed (a Latchkey invariant).
    AlreadyFailed,
}

impl TlsError {
    /// The failure's kind.
    pub fn kind(&self) -> FailKind {
        match self {
            TlsError::ServerRejected(r) => r.kind(),
            TlsError::AlertReceived(_) => FailKind::TlsAlert,
            TlsError::VersionBelowMinimum { .. } => FailKind::TlsVersionBelowMinimum,
            TlsError::OutgoingTooLarge { .. } => FailKind::ResponseTooLarge,
            TlsError::UnexpectedApplicationData => FailKind::UnexpectedApplicationData,
            TlsError::PeerClosed => FailKind::TlsClosed,
            TlsError::MissingKeyMaterial | TlsError::AlreadyFailed => FailKind::Internal,
            TlsError::UnsupportedSuite => FailKind::UnsupportedSuite,
            TlsError::Protocol(_) => FailKind::Tls,
            TlsError::NoClientCertificate(SelectErrorKind::OnlyArchivedMatch) => {
                FailKind::OnlyArchivedMatch
            }
            TlsError::NoClientCertificate(SelectErrorKind::KeyUnavailable) => {
                FailKind::KeyUnavailable
            }
            TlsError::NoClientCertificate(_) => FailKind::NoClientCertificate,
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Protocol(e) => write!(f, "TLS: {e}"),
            TlsError::OutgoingTooLarge { needed, available } => write!(
                f,
                "our TLS flight needs {needed} bytes but only {available} are free in the outgoing buffer"
            ),
            TlsError::UnexpectedApplicationData => {
                f.write_str("server sent application data other than the EAP-TLS commitment message")
            }
            TlsError::PeerClosed => f.write_str("server closed the TLS connection before EAP-TLS finished"),
            TlsError::MissingKeyMaterial => f.write_str("TLS finished without the secrets needed for key derivation"),
            TlsError::UnsupportedSuite => f.write_str("negotiated cipher suite has no usable hash for key derivation"),
            TlsError::ServerRejected(r) => write!(f, "{r}"),
            TlsError::AlertReceived(a) => write!(f, "server sent TLS alert {}: {}", a.name(), a.meaning()),
            TlsError::VersionBelowMinimum { minimum } => write!(
                f,
                "server does not offer {minimum} or later, the configured minimum TLS version"
            ),
            TlsError::NoClientCertificate(k) => write!(f, "no client certificate sent: {k}"),
            TlsError::AlreadyFailed => f.write_str("the TLS engine was used after it failed"),
        }
    }
}

impl core::error::Error for TlsError {}

/// Why a client configuration could not be built.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SetupError {
    /// No trust anchor was given: Latchkey never talks to an unverified server.
    NoTrustAnchors,
    /// A trust anchor is not a usable CA certificate.
    BadTrustAnchor,
    /// No server name rule was given, or a name is empty, too long or not a DNS name.
    BadServerName,
    /// The TLS engine refused the combination (e.g. versions the provider cannot do).
    Engine(ProtocolError),
    /// A PEM text holds no usable CERTIFICATE block.
    BadPem,
    /// More name rules or pins than the policy holds.
    TooManyRules,
    /// The identity is empty or longer than the peer's identity buffer.
    BadIdentity,
    /// No server policy was given: Latchkey never talks to an unverified server.
    NoServerPolicy,
    /// No slot table was given: the device has no credentials to present.
    NoCredentials,
    /// No RNG (or [`crate::Crypto`]) was given.
    NoRng,
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::NoTrustAnchors => f.write_str(
                "no CA certificate configured: refusing to authenticate to an unverified server",
            ),
            SetupError::BadTrustAnchor => {
                f.write_str("CA certificate unusable as a trust anchor: bad encoding")
            }
            SetupError::BadServerName => f.write_str("server name is not a valid DNS name"),
            SetupError::Engine(e) => write!(f, "TLS configuration refused: {e}"),
            SetupError::BadPem => f.write_str("no CA certificate found in the PEM text"),
            SetupError::TooManyRules => f.write_str("too many server name rules or pins"),
            SetupError::BadIdentity => {
                f.write_str("EAP identity is empty or longer than 128 bytes")
            }
            SetupError::NoServerPolicy => f.write_str(
                "no server policy configured: refusing to authenticate to an unverified server",
            ),
            SetupError::NoCredentials => f.write_str("no certificate slot table configured"),
            SetupError::NoRng => f.write_str("no random number generator configured"),
        }
    }
}

impl core::error::Error for SetupError {}
