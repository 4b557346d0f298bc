//! One TLS client conversation over rustls' unbuffered (sans-IO) API, as EAP-TLS needs it:
//! whole peer messages in (the EAP-TLS reassembly buffer *is* the TLS input buffer), whole
//! flights out, and the handshake secrets caught through `KeyLog` for key derivation.

use alloc::sync::Arc;
use core::fmt;

use rustls::client::UnbufferedClientConnection;
use rustls::pki_types::ServerName;
use rustls::unbuffered::{ConnectionState, EncodeError, UnbufferedStatus};
use rustls::{AlertDescription, ClientConfig, KeyLog, ProtocolVersion};
use zeroize::{Zeroize, Zeroizing};

use crate::tls::provider::HashAlg;
use crate::tls::server_policy::ServerRejection;

/// The negotiated TLS version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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

/// Why the TLS engine stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsError {
    /// rustls refused the conversation (certificate, alert, protocol violation...).
    Rustls(rustls::Error),
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
    /// The handshake finished but the secrets needed for key derivation were not seen.
    MissingKeyMaterial,
    /// The server used a cipher suite whose hash we cannot use for key derivation.
    UnsupportedSuite,
    /// The server name in the configuration is not a valid DNS name.
    InvalidServerName,
    /// The server failed the server policy (certificate, name, time, pin...).
    ServerRejected(alloc::boxed::Box<ServerRejection>),
    /// The server ended the handshake with a fatal TLS alert.
    AlertReceived(AlertDescription),
    /// The server cannot do the lowest TLS version we are configured to accept.
    VersionBelowMinimum {
        /// The configured minimum.
        minimum: TlsVersion,
    },
}

impl TlsError {
    /// A short, stable name of the cause (for logs, metrics and tests).
    pub fn kind(&self) -> &'static str {
        match self {
            TlsError::ServerRejected(r) => r.kind(),
            TlsError::AlertReceived(_) => "tls-alert",
            TlsError::VersionBelowMinimum { .. } => "tls-version-below-minimum",
            TlsError::OutgoingTooLarge { .. } => "outgoing-too-large",
            TlsError::UnexpectedApplicationData => "unexpected-application-data",
            TlsError::PeerClosed => "tls-closed",
            TlsError::MissingKeyMaterial => "missing-key-material",
            TlsError::UnsupportedSuite => "unsupported-suite",
            TlsError::InvalidServerName => "invalid-server-name",
            TlsError::Rustls(_) => "tls",
        }
    }
}

/// The name of a TLS alert and what it means when a server sends it to a client (RFC 8446
/// §6.2, RFC 5246 §7.2.2), in words for an admin.
pub fn alert_meaning(alert: AlertDescription) -> (&'static str, &'static str) {
    use AlertDescription as A;
    match alert {
        A::CloseNotify => ("close_notify", "the server closed the connection"),
        A::UnexpectedMessage => (
            "unexpected_message",
            "the server received a message out of order",
        ),
        A::BadRecordMac => (
            "bad_record_mac",
            "a record failed the server's integrity check",
        ),
        A::RecordOverflow => ("record_overflow", "a record was too long for the server"),
        A::HandshakeFailure => (
            "handshake_failure",
            "the server found no acceptable cipher suite, group or signature scheme",
        ),
        A::BadCertificate => (
            "bad_certificate",
            "the server rejected our certificate as corrupt or unverifiable",
        ),
        A::UnsupportedCertificate => (
            "unsupported_certificate",
            "the server does not accept our certificate's type",
        ),
        A::CertificateRevoked => (
            "certificate_revoked",
            "the server says our certificate is revoked",
        ),
        A::CertificateExpired => (
            "certificate_expired",
            "the server says our certificate is expired or not yet valid",
        ),
        A::CertificateUnknown => ("certificate_unknown", "the server refused our certificate"),
        A::IllegalParameter => (
            "illegal_parameter",
            "the server found an invalid field in our handshake",
        ),
        A::UnknownCA => (
            "unknown_ca",
            "the server does not trust the CA that issued our certificate",
        ),
        A::AccessDenied => (
            "access_denied",
            "the server's policy denies this device access",
        ),
        A::DecodeError => ("decode_error", "the server could not decode our message"),
        A::DecryptError => (
            "decrypt_error",
            "a signature or Finished check failed at the server",
        ),
        A::ProtocolVersion => (
            "protocol_version",
            "the server does not support the TLS versions we offer",
        ),
        A::InsufficientSecurity => (
            "insufficient_security",
            "the server requires stronger parameters than we offer",
        ),
        A::InternalError => ("internal_error", "the server had an internal error"),
        A::InappropriateFallback => (
            "inappropriate_fallback",
            "the server detected a version downgrade",
        ),
        A::UserCanceled => ("user_canceled", "the server cancelled the handshake"),
        A::MissingExtension => (
            "missing_extension",
            "the server requires a TLS extension we did not send",
        ),
        A::UnsupportedExtension => (
            "unsupported_extension",
            "the server received an extension it did not expect",
        ),
        A::UnrecognisedName => (
            "unrecognized_name",
            "the server does not know the name we asked for (SNI)",
        ),
        A::CertificateRequired => (
            "certificate_required",
            "the server requires a client certificate and got none",
        ),
        A::NoApplicationProtocol => ("no_application_protocol", "no common application protocol"),
        _ => (
            "other",
            "the server ended the handshake with an alert this build does not name",
        ),
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Rustls(e) => write!(f, "TLS: {e}"),
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
            TlsError::InvalidServerName => f.write_str("configured server name is not a valid DNS name"),
            TlsError::ServerRejected(r) => write!(f, "{r}"),
            TlsError::AlertReceived(a) => {
                let (name, meaning) = alert_meaning(*a);
                write!(f, "server sent TLS alert {name}: {meaning}")
            }
            TlsError::VersionBelowMinimum { minimum } => write!(
                f,
                "server does not offer {minimum} or later, the configured minimum TLS version"
            ),
        }
    }
}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        TlsError::Rustls(e)
    }
}

/// The secrets rustls hands out through `KeyLog` that EAP-TLS key derivation needs:
/// the TLS 1.2 master secret and the TLS 1.3 exporter master secret. Nothing else is kept.
#[derive(Default)]
pub struct SecretCatcher {
    inner: spin::Mutex<Caught>,
}

struct Caught {
    client_random: [u8; 32],
    secret: [u8; 48],
    secret_len: usize,
    label: Option<SecretKind>,
}

impl Default for Caught {
    fn default() -> Self {
        Caught {
            client_random: [0; 32],
            secret: [0; 48],
            secret_len: 0,
            label: None,
        }
    }
}

impl Drop for Caught {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SecretKind {
    Tls12Master,
    Tls13Exporter,
}

impl fmt::Debug for SecretCatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secrets.
        f.write_str("SecretCatcher")
    }
}

impl KeyLog for SecretCatcher {
    fn will_log(&self, label: &str) -> bool {
        matches!(label, "CLIENT_RANDOM" | "EXPORTER_SECRET")
    }

    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let kind = match label {
            "CLIENT_RANDOM" => SecretKind::Tls12Master,
            "EXPORTER_SECRET" => SecretKind::Tls13Exporter,
            _ => return,
        };
        let mut c = self.inner.lock();
        let (Some(dst), Ok(cr)) = (
            c.secret.get_mut(..secret.len()),
            <[u8; 32]>::try_from(client_random),
        ) else {
            return;
        };
        dst.copy_from_slice(secret);
        c.secret_len = secret.len();
        c.client_random = cr;
        c.label = Some(kind);
    }
}

impl SecretCatcher {
    /// Forget any caught secret (before a new handshake).
    pub fn clear(&self) {
        let mut c = self.inner.lock();
        c.secret.zeroize();
        c.secret_len = 0;
        c.label = None;
    }

    fn take(&self, want: SecretKind) -> Option<(Zeroizing<[u8; 48]>, usize, [u8; 32])> {
        let mut c = self.inner.lock();
        if c.label != Some(want) {
            return None;
        }
        let out = Zeroizing::new(c.secret);
        let len = c.secret_len;
        let cr = c.client_random;
        c.secret.zeroize();
        c.secret_len = 0;
        c.label = None;
        Some((out, len, cr))
    }
}

/// What one call to [`Engine::process`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Bytes of our next flight written to the outgoing buffer (0: only an ACK is due).
    pub written: usize,
    /// The TLS handshake has completed (server Finished verified).
    pub handshake_done: bool,
    /// The RFC 9190 commitment message (application data `0x00`) was received.
    pub commitment: bool,
}

/// The secret-derived inputs for EAP-TLS key derivation, handed over once.
pub struct HandshakeSecrets {
    /// Negotiated version.
    pub version: TlsVersion,
    /// Hash of the negotiated suite (PRF hash for 1.2, HKDF hash for 1.3).
    pub hash: HashAlg,
    /// TLS 1.2 master secret or TLS 1.3 exporter master secret (zeroized on drop).
    pub secret: Zeroizing<[u8; 48]>,
    /// Length of `secret` in use.
    pub secret_len: usize,
    /// ClientHello.random.
    pub client_random: [u8; 32],
    /// ServerHello.random.
    pub server_random: [u8; 32],
}

/// One TLS client conversation.
pub struct Engine {
    conn: UnbufferedClientConnection,
    secrets: Arc<SecretCatcher>,
    server_random: Option<[u8; 32]>,
    handshake_done: bool,
    commitment: bool,
    alert_len: usize,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("handshake_done", &self.handshake_done)
            .field("commitment", &self.commitment)
            .finish()
    }
}

impl Engine {
    /// Start a conversation. `config.key_log` must be `secrets` (see
    /// [`crate::tls::ClientSetup`], which builds both together).
    pub fn new(
        config: Arc<ClientConfig>,
        secrets: Arc<SecretCatcher>,
        server_name: &str,
    ) -> Result<Self, TlsError> {
        let name = ServerName::try_from(server_name)
            .map_err(|_| TlsError::InvalidServerName)?
            .to_owned();
        secrets.clear();
        let conn = UnbufferedClientConnection::new(config, name)?;
        Ok(Engine {
            conn,
            secrets,
            server_random: None,
            handshake_done: false,
            commitment: false,
            alert_len: 0,
        })
    }

    /// Write the ClientHello into `out`; returns its length.
    pub fn start(&mut self, out: &mut [u8]) -> Result<usize, TlsError> {
        let mut fill = 0;
        let p = self.process(&mut [], &mut fill, out)?;
        Ok(p.written)
    }

    /// The negotiated version, once known.
    pub fn version(&self) -> Option<TlsVersion> {
        match self.conn.protocol_version()? {
            ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
            ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
            _ => None,
        }
    }

    /// The negotiated cipher suite, once known.
    pub fn suite(&self) -> Option<rustls::CipherSuite> {
        self.conn.negotiated_cipher_suite().map(|s| s.suite())
    }

    /// Feed one complete peer message held in `incoming[..*fill]`. Consumed bytes are removed
    /// from the front (`*fill` shrinks; a trailing partial record stays for the next message).
    /// Our answering flight, if any, is written to `out`.
    pub fn process(
        &mut self,
        incoming: &mut [u8],
        fill: &mut usize,
        out: &mut [u8],
    ) -> Result<Progress, TlsError> {
        if self.server_random.is_none() {
            self.server_random = incoming.get(..*fill).and_then(server_hello_random);
        }
        let mut written = 0usize;
        let mut failure: Option<TlsError> = None;
        loop {
            let filled = incoming.get_mut(..*fill).unwrap_or_default();
            let UnbufferedStatus { discard, state } = self.conn.process_tls_records(filled);
            let mut stop = false;
            match state {
                Err(e) => {
                    if failure.is_some() {
                        // Already failed; nothing more to send.
                        stop = true;
                    } else {
                        // Keep going once: rustls queues an alert for the peer after an error.
                        failure = Some(TlsError::Rustls(e));
                    }
                }
                Ok(ConnectionState::EncodeTlsData(mut enc)) => {
                    let free = out.get_mut(written..).unwrap_or_default();
                    let available = free.len();
                    match enc.encode(free) {
                        Ok(n) => written += n,
                        Err(EncodeError::InsufficientSize(s)) => {
                            return Err(TlsError::OutgoingTooLarge {
                                needed: s.required_size,
                                available,
                            });
                        }
                        Err(EncodeError::AlreadyEncoded) => stop = true,
                    }
                }
                Ok(ConnectionState::TransmitTlsData(t)) => {
                    // The caller sends `out` as the next EAP-TLS message.
                    t.done();
                    if failure.is_some() {
                        stop = true;
                    }
                }
                Ok(ConnectionState::BlockedHandshake) => stop = true,
                Ok(ConnectionState::WriteTraffic(_)) => {
                    self.handshake_done = true;
                    stop = true;
                }
                Ok(ConnectionState::ReadTraffic(mut rd)) => {
                    while let Some(rec) = rd.next_record() {
                        let rec = rec?;
                        if self.handshake_done && rec.payload == [0u8] {
                            self.commitment = true;
                        } else {
                            failure = Some(TlsError::UnexpectedApplicationData);
                        }
                    }
                }
                Ok(ConnectionState::PeerClosed) | Ok(ConnectionState::Closed) => {
                    failure = Some(TlsError::PeerClosed);
                    stop = true;
                }
                Ok(_) => {
                    failure = Some(TlsError::UnexpectedApplicationData);
                    stop = true;
                }
            }
            if discard > 0 && discard <= *fill {
                incoming.copy_within(discard..*fill, 0);
                *fill -= discard;
            }
            if stop {
                break;
            }
        }
        if let Some(e) = failure {
            // Any alert rustls queued is in `out[..written]`; the caller may still send it.
            self.alert_len = written;
            return Err(e);
        }
        Ok(Progress {
            written,
            handshake_done: self.handshake_done,
            commitment: self.commitment,
        })
    }

    /// After [`Engine::process`] failed: how many bytes at the start of its `out` hold the TLS
    /// alert rustls queued for the peer (0 if none).
    pub fn alert_len(&self) -> usize {
        self.alert_len
    }

    /// The handshake secrets for key derivation, handed over once after the handshake.
    pub fn take_secrets(&self) -> Result<HandshakeSecrets, TlsError> {
        let version = self.version().ok_or(TlsError::MissingKeyMaterial)?;
        let suite = self
            .conn
            .negotiated_cipher_suite()
            .ok_or(TlsError::MissingKeyMaterial)?;
        let common = match suite {
            rustls::SupportedCipherSuite::Tls12(s) => &s.common,
            rustls::SupportedCipherSuite::Tls13(s) => &s.common,
        };
        let hash = match common.hash_provider.algorithm() {
            rustls::crypto::hash::HashAlgorithm::SHA256 => HashAlg::Sha256,
            rustls::crypto::hash::HashAlgorithm::SHA384 => HashAlg::Sha384,
            _ => return Err(TlsError::UnsupportedSuite),
        };
        let kind = match version {
            TlsVersion::Tls12 => SecretKind::Tls12Master,
            TlsVersion::Tls13 => SecretKind::Tls13Exporter,
        };
        let (secret, secret_len, client_random) = self
            .secrets
            .take(kind)
            .ok_or(TlsError::MissingKeyMaterial)?;
        let server_random = match version {
            TlsVersion::Tls12 => self.server_random.ok_or(TlsError::MissingKeyMaterial)?,
            // Not an input of the TLS 1.3 derivation.
            TlsVersion::Tls13 => self.server_random.unwrap_or([0; 32]),
        };
        Ok(HandshakeSecrets {
            version,
            hash,
            secret,
            secret_len,
            client_random,
            server_random,
        })
    }
}

/// ServerHello.random from the start of the server's first flight: record type 22, then a
/// handshake header of type 2 (RFC 5246 §7.4.1.3 / RFC 8446 §4.1.3).
fn server_hello_random(stream: &[u8]) -> Option<[u8; 32]> {
    if stream.first() != Some(&22) || stream.get(5) != Some(&2) {
        return None;
    }
    stream.get(11..43)?.try_into().ok()
}
