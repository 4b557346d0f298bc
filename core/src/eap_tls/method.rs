//! The EAP-TLS peer method (RFC 5216 §2.1, RFC 9190 §2.1): Start handling, our flights sent in
//! fragments paced by the server's ACKs, the server's flights reassembled straight into the TLS
//! input buffer and fed to the engine, and the method's decision — success is possible only
//! once TLS has finished (TLS 1.3: once the commitment message has arrived).

use core::fmt;

use crate::certs::SelectErrorKind;
use crate::eap_tls::keys::{self, KeyMaterial};
use crate::eap_tls::{self as wire, Fragmenter, FragmenterConfig, Reassembler, ReassemblerConfig};
use crate::tls::{ClientSetup, Engine, TlsError, TlsVersion};

/// Where the method is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MethodState {
    /// Waiting for EAP-TLS Start.
    Idle,
    /// Sending one of our flights; the server ACKs each fragment.
    Sending,
    /// Receiving a server flight.
    Receiving,
    /// TLS finished and our final ACK is out: EAP-Success may be accepted.
    Done,
    /// The method failed; only EAP-Failure can follow.
    Failed,
}

/// Why the method failed.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodError {
    /// The TLS engine refused (certificate, alert, protocol...).
    Tls(TlsError),
    /// A fragment or message broke the EAP-TLS framing rules or bounds.
    Framing(wire::Error),
    /// An EAP-TLS request arrived that makes no sense in this state.
    UnexpectedRequest(MethodState),
    /// The server restarted EAP-TLS (S flag) in the middle of a conversation.
    UnexpectedStart,
    /// The server asked for a client certificate and none could be offered; the handshake
    /// stopped instead of going on without one (nothing was sent).
    NoClientCertificate(SelectErrorKind),
}

impl MethodError {
    /// A short, stable name of the cause (for logs, metrics and `--json`).
    pub fn kind(&self) -> &'static str {
        match self {
            MethodError::Tls(e) => e.kind(),
            MethodError::Framing(
                wire::Error::AnnouncedTooLarge { .. } | wire::Error::MessageTooLarge { .. },
            ) => "message-too-large",
            MethodError::Framing(wire::Error::TooManyFragments { .. }) => "fragment-flood",
            MethodError::Framing(_) => "eap-tls-framing",
            MethodError::UnexpectedRequest(_) => "unexpected-request",
            MethodError::UnexpectedStart => "unexpected-start",
            MethodError::NoClientCertificate(SelectErrorKind::OnlyArchivedMatch) => {
                "only-archived-match"
            }
            MethodError::NoClientCertificate(_) => "no-client-certificate",
        }
    }
}

impl fmt::Display for MethodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MethodError::Tls(e) => write!(f, "{e}"),
            MethodError::Framing(e) => write!(f, "EAP-TLS framing: {e}"),
            MethodError::UnexpectedRequest(s) => {
                write!(f, "unexpected EAP-TLS request while {s:?}")
            }
            MethodError::UnexpectedStart => {
                f.write_str("server restarted EAP-TLS in the middle of the handshake")
            }
            MethodError::NoClientCertificate(k) => write!(f, "no client certificate sent: {k}"),
        }
    }
}

impl From<TlsError> for MethodError {
    fn from(e: TlsError) -> Self {
        MethodError::Tls(e)
    }
}

impl From<wire::Error> for MethodError {
    fn from(e: wire::Error) -> Self {
        MethodError::Framing(e)
    }
}

/// Counters for one conversation (reported in events and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MethodStats {
    /// EAP-TLS requests answered.
    pub requests: u16,
    /// Fragments we sent carrying data.
    pub fragments_sent: u16,
    /// Fragments we received carrying data.
    pub fragments_received: u16,
    /// ACKs we sent.
    pub acks_sent: u16,
    /// Largest reassembled server message.
    pub largest_message: u32,
}

/// The outcome of one EAP-TLS request.
#[derive(Debug)]
pub enum MethodOutput {
    /// Send the response written to the output buffer (`len` bytes of EAP).
    Respond(usize),
    /// The method failed; if `Some(len)`, a response (our TLS alert) should still be sent.
    Fail(MethodError, Option<usize>),
}

/// Settings of the method.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MethodConfig {
    /// EAP-TLS payload bytes per fragment we send.
    pub fragment_size: usize,
    /// Largest server TLS message accepted (also bounded by the input buffer).
    pub max_message: usize,
    /// Largest number of fragments in one server message.
    pub max_fragments: usize,
    /// Include the TLS Message Length on every unfragmented message too.
    pub always_include_length: bool,
}

impl Default for MethodConfig {
    fn default() -> Self {
        MethodConfig {
            fragment_size: 1398,
            max_message: 16384,
            max_fragments: 64,
            always_include_length: false,
        }
    }
}

/// The EAP-TLS peer method. `IN` is the TLS input (reassembly) buffer, `OUT` the buffer our
/// flights are encoded into; both live inside the method (no heap).
pub struct EapTlsMethod<const IN: usize, const OUT: usize> {
    config: MethodConfig,
    state: MethodState,
    engine: Option<Engine>,
    tls_in: [u8; IN],
    in_fill: usize,
    tls_out: [u8; OUT],
    out_len: usize,
    reassembler: Reassembler,
    fragmenter: Option<Fragmenter>,
    keys: Option<KeyMaterial>,
    stats: MethodStats,
}

impl<const IN: usize, const OUT: usize> fmt::Debug for EapTlsMethod<IN, OUT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EapTlsMethod")
            .field("state", &self.state)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<const IN: usize, const OUT: usize> EapTlsMethod<IN, OUT> {
    /// A method with these settings.
    pub fn new(config: MethodConfig) -> Self {
        let bound = config.max_message.min(IN);
        EapTlsMethod {
            config,
            state: MethodState::Idle,
            engine: None,
            tls_in: [0; IN],
            in_fill: 0,
            tls_out: [0; OUT],
            out_len: 0,
            reassembler: Reassembler::new(ReassemblerConfig {
                max_message_len: bound,
                max_fragments: config.max_fragments,
            }),
            fragmenter: None,
            keys: None,
            stats: MethodStats::default(),
        }
    }

    /// Forget the conversation (a new EAP conversation starts).
    pub fn reset(&mut self) {
        *self = Self::new(self.config);
    }

    /// Where the method is.
    pub fn state(&self) -> MethodState {
        self.state
    }

    /// Counters so far.
    pub fn stats(&self) -> MethodStats {
        self.stats
    }

    /// The negotiated TLS version, once known.
    pub fn version(&self) -> Option<TlsVersion> {
        self.engine.as_ref().and_then(Engine::version)
    }

    /// The negotiated cipher suite, once known.
    pub fn suite(&self) -> Option<rustls::CipherSuite> {
        self.engine.as_ref().and_then(Engine::suite)
    }

    /// Has the method reached a state where EAP-Success may be accepted?
    pub fn may_succeed(&self) -> bool {
        self.state == MethodState::Done && self.keys.is_some()
    }

    /// Hand over the derived keys (once).
    pub fn take_keys(&mut self) -> Option<KeyMaterial> {
        self.keys.take()
    }

    /// Handle one EAP-TLS request (`data`: everything after the EAP type byte) with EAP
    /// identifier `id`; the response EAP packet is written to `out`.
    pub fn handle(
        &mut self,
        setup: &ClientSetup,
        id: u8,
        data: &[u8],
        out: &mut [u8],
    ) -> MethodOutput {
        self.stats.requests = self.stats.requests.saturating_add(1);
        match self.step(setup, id, data, out) {
            Ok(len) => MethodOutput::Respond(len),
            Err(e) => {
                let e = refine(e, setup);
                self.state = MethodState::Failed;
                let alert = self.engine.as_ref().map(Engine::alert_len).unwrap_or(0);
                // Tell the server why with our TLS alert when rustls produced one; a framing
                // violation gets no answer (an ACK would ask for more of the same).
                let resp = if alert > 0 {
                    self.send_flight(id, alert, out).ok()
                } else {
                    None
                };
                MethodOutput::Fail(e, resp)
            }
        }
    }

    fn step(
        &mut self,
        setup: &ClientSetup,
        id: u8,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, MethodError> {
        let msg = wire::Repr::parse_bytes(data)?;
        if msg.start {
            if self.state != MethodState::Idle {
                return Err(MethodError::UnexpectedStart);
            }
            setup.verifier.reset();
            let mut engine = Engine::new(
                setup.config.clone(),
                setup.secrets.clone(),
                &setup.server_name,
            )?;
            let n = engine.start(&mut self.tls_out)?;
            self.engine = Some(engine);
            return self.send_flight(id, n, out);
        }
        match self.state {
            MethodState::Sending => {
                if !msg.is_ack() {
                    return Err(MethodError::UnexpectedRequest(self.state));
                }
                self.next_fragment(id, out)
            }
            MethodState::Receiving => {
                // Fragments land right after any partial record left by the previous message,
                // so the reassembly buffer is the TLS input buffer with no second copy.
                let free = self.tls_in.get_mut(self.in_fill..).unwrap_or_default();
                let progress = self.reassembler.push(free, &msg)?;
                self.stats.fragments_received = self.stats.fragments_received.saturating_add(1);
                match progress {
                    wire::Progress::NeedMore => return self.ack(id, out),
                    wire::Progress::Complete(n) => self.in_fill += n,
                }
                self.stats.largest_message = self.stats.largest_message.max(self.in_fill as u32);
                self.process_message(setup, id, out)
            }
            MethodState::Idle | MethodState::Done | MethodState::Failed => {
                Err(MethodError::UnexpectedRequest(self.state))
            }
        }
    }

    fn process_message(
        &mut self,
        setup: &ClientSetup,
        id: u8,
        out: &mut [u8],
    ) -> Result<usize, MethodError> {
        let engine = self
            .engine
            .as_mut()
            .ok_or(MethodError::UnexpectedRequest(self.state))?;
        let progress = engine.process(&mut self.tls_in, &mut self.in_fill, &mut self.tls_out)?;
        if let Some(kind) = setup.resolver.refusal() {
            // The flight holds an empty Certificate message: never send it; say why instead.
            return Err(MethodError::NoClientCertificate(kind));
        }
        // A trailing partial record (rare) stays at the front of the input buffer and the next
        // message is appended to it.
        if progress.written > 0 {
            return self.send_flight(id, progress.written, out);
        }
        let finished = match engine.version() {
            Some(TlsVersion::Tls12) => progress.handshake_done,
            // RFC 9190 §2.1.1: only the commitment message ends the TLS 1.3 handshake for EAP.
            Some(TlsVersion::Tls13) => progress.handshake_done && progress.commitment,
            None => false,
        };
        if finished {
            let secrets = engine.take_secrets()?;
            self.keys = Some(keys::derive(&secrets).map_err(|_| TlsError::MissingKeyMaterial)?);
            self.state = MethodState::Done;
        }
        self.ack(id, out)
    }

    fn ack(&mut self, id: u8, out: &mut [u8]) -> Result<usize, MethodError> {
        self.stats.acks_sent = self.stats.acks_sent.saturating_add(1);
        Ok(wire::emit_ack(id, out)?)
    }

    fn send_flight(&mut self, id: u8, len: usize, out: &mut [u8]) -> Result<usize, MethodError> {
        self.out_len = len;
        self.fragmenter = Some(Fragmenter::new(FragmenterConfig {
            fragment_size: self.config.fragment_size,
            always_include_length: self.config.always_include_length,
        }));
        self.next_fragment(id, out)
    }

    fn next_fragment(&mut self, id: u8, out: &mut [u8]) -> Result<usize, MethodError> {
        let frag = self
            .fragmenter
            .as_mut()
            .ok_or(MethodError::UnexpectedRequest(self.state))?;
        let data = self.tls_out.get(..self.out_len).unwrap_or_default();
        let n = frag
            .next_response(id, data, out)?
            .ok_or(MethodError::UnexpectedRequest(self.state))?;
        let more = !frag.is_finished();
        self.stats.fragments_sent = self.stats.fragments_sent.saturating_add(1);
        if more {
            self.state = MethodState::Sending;
        } else {
            self.fragmenter = None;
            if self.state != MethodState::Failed {
                self.state = MethodState::Receiving;
            }
        }
        Ok(n)
    }
}

/// Name the cause of a rustls failure: the server policy's refusal when the verifier recorded
/// one, the meaning of a server alert, or a version below the configured minimum.
fn refine(e: MethodError, setup: &ClientSetup) -> MethodError {
    let MethodError::Tls(TlsError::Rustls(inner)) = e else {
        return e;
    };
    if let Some(r) = setup.verifier.rejection() {
        return MethodError::Tls(TlsError::ServerRejected(alloc::boxed::Box::new(r)));
    }
    let minimum = setup.versions.minimum();
    let tls = match inner {
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
        rustls::Error::AlertReceived(alert) => TlsError::AlertReceived(alert),
        other => TlsError::Rustls(other),
    };
    MethodError::Tls(tls)
}
