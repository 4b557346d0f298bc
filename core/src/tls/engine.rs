//! One TLS client conversation over rustls' unbuffered (sans-IO) API, as EAP-TLS needs it:
//! whole peer messages in (the EAP-TLS reassembly buffer *is* the TLS input buffer), whole
//! flights out, and the handshake secrets caught through `KeyLog` for key derivation. The
//! engine owns its server verifier and certificate resolver (through the shared setup) and
//! returns their verdicts with its result: a refused server comes back as
//! [`TlsError::ServerRejected`], a withheld certificate as [`TlsError::NoClientCertificate`],
//! and the certificate record with [`Engine::record`]. Secrets never leave `crate::tls` and
//! `crate::eap_tls::keys`.

use core::fmt;

use rustls::client::UnbufferedClientConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, UnbufferedStatus};
use rustls::{KeyLog, ProtocolVersion};
use zeroize::{Zeroize, Zeroizing};

use crate::certs::{SelectErrorKind, TimeSource};
use crate::tls::error::{Alert, CipherSuite, ProtocolError, TlsError, TlsVersion};
use crate::tls::provider::HashAlg;
use crate::tls::resolver::ResolveRecord;
use crate::tls::server_policy::{ServerCertificate, ServerVerdict};
use crate::tls::setup::{TlsSetup, VersionPolicy};

/// The secrets rustls hands out through `KeyLog` that EAP-TLS key derivation needs:
/// the TLS 1.2 master secret and the TLS 1.3 exporter master secret. Nothing else is kept.
#[derive(Default)]
pub(crate) struct SecretCatcher {
    inner: spin::Mutex<Caught>,
    /// The platform's key log (feature `keylog`, a debugging aid): every secret also goes there.
    #[cfg(feature = "keylog")]
    pub(crate) sink: spin::Mutex<Option<alloc::sync::Arc<dyn crate::tls::KeyLogSink>>>,
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
        #[cfg(feature = "keylog")]
        if self.sink.lock().is_some() {
            return true;
        }
        matches!(label, "CLIENT_RANDOM" | "EXPORTER_SECRET")
    }

    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        #[cfg(feature = "keylog")]
        if let Some(sink) = self.sink.lock().as_ref() {
            sink.log(label, client_random, secret);
        }
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
    pub(crate) fn clear(&self) {
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
pub(crate) struct Progress {
    /// Bytes of our next flight written to the outgoing buffer (0: only an ACK is due).
    pub(crate) written: usize,
    /// The TLS handshake has completed (server Finished verified).
    pub(crate) handshake_done: bool,
    /// The RFC 9190 commitment message (application data `0x00`) was received.
    pub(crate) commitment: bool,
}

/// The secret-derived inputs for EAP-TLS key derivation, handed over once. Never leaves the
/// crate.
pub(crate) struct HandshakeSecrets {
    pub(crate) version: TlsVersion,
    /// Hash of the negotiated suite (PRF hash for 1.2, HKDF hash for 1.3).
    pub(crate) hash: HashAlg,
    /// TLS 1.2 master secret or TLS 1.3 exporter master secret (zeroized on drop).
    pub(crate) secret: Zeroizing<[u8; 48]>,
    pub(crate) secret_len: usize,
    pub(crate) client_random: [u8; 32],
    pub(crate) server_random: [u8; 32],
}

/// One TLS client conversation.
pub(crate) struct Engine {
    conn: UnbufferedClientConnection,
    setup: TlsSetup,
    server_random: Option<[u8; 32]>,
    handshake_done: bool,
    commitment: bool,
    failed: bool,
    alert_len: usize,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("handshake_done", &self.handshake_done)
            .field("commitment", &self.commitment)
            .field("failed", &self.failed)
            .finish()
    }
}

impl Engine {
    /// Start a conversation at the authentication's time basis `time`.
    pub(crate) fn new(setup: &TlsSetup, time: TimeSource) -> Result<Self, TlsError> {
        setup.secrets.clear();
        setup.verifier.reset();
        setup.resolver.reset(time);
        setup.set_time(time);
        let conn = UnbufferedClientConnection::new(setup.config.clone(), setup.server_name.clone())
            .map_err(|e| TlsError::Protocol(ProtocolError(e)))?;
        Ok(Engine {
            conn,
            setup: setup.clone(),
            server_random: None,
            handshake_done: false,
            commitment: false,
            failed: false,
            alert_len: 0,
        })
    }

    /// Write the ClientHello into `out`; returns its length.
    pub(crate) fn start(&mut self, out: &mut [u8]) -> Result<usize, TlsError> {
        let mut fill = 0;
        let p = self.process(&mut [], &mut fill, out)?;
        Ok(p.written)
    }

    /// The TLS versions this engine offered.
    pub(crate) fn offered(&self) -> VersionPolicy {
        self.setup.versions
    }

    /// The negotiated version, once known.
    pub(crate) fn version(&self) -> Option<TlsVersion> {
        match self.conn.protocol_version()? {
            ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
            ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
            _ => None,
        }
    }

    /// The negotiated cipher suite, once known.
    pub(crate) fn suite(&self) -> Option<CipherSuite> {
        self.conn
            .negotiated_cipher_suite()
            .map(|s| CipherSuite::from_code(u16::from(s.suite())))
    }

    /// What the server asked for and what the resolver offered, if it asked.
    pub(crate) fn record(&self) -> Option<ResolveRecord> {
        self.setup.resolver.record()
    }

    /// The server verifier's decision, once the server's certificate was seen.
    pub(crate) fn verdict(&self) -> Option<ServerVerdict> {
        self.setup.verifier.verdict()
    }

    /// The certificate the server presented, once seen.
    pub(crate) fn server_certificate(&self) -> Option<ServerCertificate> {
        self.setup.verifier.certificate()
    }

    /// Feed one complete peer message held in `incoming[..*fill]`. Consumed bytes are removed
    /// from the front (`*fill` shrinks; a trailing partial record stays for the next message).
    /// Our answering flight, if any, is written to `out`. After a failure the engine is done:
    /// every further call fails without touching rustls.
    pub(crate) fn process(
        &mut self,
        incoming: &mut [u8],
        fill: &mut usize,
        out: &mut [u8],
    ) -> Result<Progress, TlsError> {
        if self.failed {
            return Err(TlsError::AlreadyFailed);
        }
        if self.server_random.is_none() {
            self.server_random = incoming.get(..*fill).and_then(server_hello_random);
        }
        let mut written = 0usize;
        let mut failure: Option<rustls::Error> = None;
        let mut app_data_failure = false;
        loop {
            // After an error rustls has queued its alert for the peer; exactly one more call
            // hands it out (rustls returns queued records before reading input again). A second
            // one would make rustls parse the same bad record again after it already sent a
            // fatal alert, which it asserts never happens.
            let last_call = failure.is_some() || app_data_failure;
            let filled = incoming.get_mut(..*fill).unwrap_or_default();
            let UnbufferedStatus { discard, state } = self.conn.process_tls_records(filled);
            let mut stop = last_call;
            match state {
                Err(e) => {
                    if failure.is_none() {
                        failure = Some(e);
                    }
                }
                Ok(ConnectionState::EncodeTlsData(mut enc)) => {
                    let free = out.get_mut(written..).unwrap_or_default();
                    let available = free.len();
                    match enc.encode(free) {
                        // n <= free.len() = out.len() - written: never saturates.
                        Ok(n) => written = written.saturating_add(n),
                        Err(EncodeError::InsufficientSize(s)) => {
                            self.failed = true;
                            self.alert_len = 0;
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
                }
                Ok(ConnectionState::BlockedHandshake) => stop = true,
                Ok(ConnectionState::WriteTraffic(_)) => {
                    self.handshake_done = true;
                    stop = true;
                }
                Ok(ConnectionState::ReadTraffic(mut rd)) => {
                    while let Some(rec) = rd.next_record() {
                        match rec {
                            Ok(rec) if self.handshake_done && rec.payload == [0u8] => {
                                self.commitment = true;
                            }
                            Ok(_) => app_data_failure = true,
                            Err(e) => {
                                failure.get_or_insert(e);
                                break;
                            }
                        }
                    }
                }
                Ok(ConnectionState::PeerClosed) | Ok(ConnectionState::Closed) => {
                    self.failed = true;
                    return Err(TlsError::PeerClosed);
                }
                Ok(_) => {
                    app_data_failure = true;
                    stop = true;
                }
            }
            if discard > 0 && discard <= *fill {
                incoming.copy_within(discard..*fill, 0);
                *fill = fill.saturating_sub(discard); // discard <= fill: exact
            }
            if stop {
                break;
            }
        }
        if let Some(e) = failure {
            // Any alert rustls queued is in `out[..written]`; the caller may still send it.
            self.failed = true;
            self.alert_len = written;
            return Err(self.refine(e));
        }
        if app_data_failure {
            self.failed = true;
            self.alert_len = 0;
            return Err(TlsError::UnexpectedApplicationData);
        }
        if let Some(kind) = self.setup.resolver.refusal() {
            // The flight holds an empty Certificate message: never send it; say why instead.
            self.failed = true;
            self.alert_len = 0;
            return Err(TlsError::NoClientCertificate(kind));
        }
        Ok(Progress {
            written,
            handshake_done: self.handshake_done,
            commitment: self.commitment,
        })
    }

    /// After [`Engine::process`] failed: how many bytes at the start of its `out` hold the TLS
    /// alert rustls queued for the peer (0 if none).
    pub(crate) fn alert_len(&self) -> usize {
        self.alert_len
    }

    /// Name the cause of a rustls failure: the server policy's refusal when the verifier
    /// recorded one, a key the key store does not have, the meaning of a server alert, or a
    /// version below the configured minimum.
    fn refine(&self, e: rustls::Error) -> TlsError {
        if let Some(r) = self.setup.verifier.rejection() {
            return TlsError::ServerRejected(alloc::boxed::Box::new(r));
        }
        let minimum = self.setup.versions.minimum();
        match e {
            rustls::Error::General(ref text) if text == crate::tls::provider::KEY_UNAVAILABLE => {
                TlsError::NoClientCertificate(SelectErrorKind::KeyUnavailable)
            }
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
                if minimum == TlsVersion::Tls13 =>
            {
                TlsError::VersionBelowMinimum { minimum }
            }
            rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
                | rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13
                | rustls::PeerIncompatible::SupportedVersionsExtensionRequired,
            ) => TlsError::VersionBelowMinimum { minimum },
            rustls::Error::AlertReceived(alert) => TlsError::AlertReceived(Alert(u8::from(alert))),
            other => TlsError::Protocol(ProtocolError(other)),
        }
    }

    /// The handshake secrets for key derivation, handed over once after the handshake.
    pub(crate) fn take_secrets(&self) -> Result<HandshakeSecrets, TlsError> {
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
            .setup
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
