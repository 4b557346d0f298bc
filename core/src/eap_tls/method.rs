//! The EAP-TLS peer method (RFC 5216 §2.1, RFC 9190 §2.1): Start handling, our flights sent in
//! fragments paced by the server's ACKs, the server's flights reassembled straight into the TLS
//! input buffer and fed to the engine, and the method's decision — success is possible only
//! once TLS has finished (TLS 1.3: once the commitment message has arrived). The TLS buffers
//! are the caller's ([`TlsBuffers`]), so the method itself is small.

use alloc::boxed::Box;
use core::fmt;

use crate::certs::TimeSource;
use crate::eap_tls::keys::{self, KeyMaterial};
use crate::eap_tls::{self as wire, Fragmenter, FragmenterConfig, Reassembler, ReassemblerConfig};
use crate::kind::FailKind;
use crate::tls::engine::Engine;
use crate::tls::setup::{TlsSetup, VersionPolicy};
use crate::tls::{
    CipherSuite, ResolveRecord, ServerCertificate, ServerVerdict, TlsError, TlsVersion,
};

/// Where the method is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
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
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum MethodError {
    /// The TLS engine refused (certificate, alert, protocol, no client certificate...).
    Tls(TlsError),
    /// A fragment or message broke the EAP-TLS framing rules or bounds.
    Framing(wire::Error),
    /// An EAP-TLS request arrived that makes no sense in this state.
    UnexpectedRequest(MethodState),
    /// The server restarted EAP-TLS (S flag) in the middle of a conversation.
    UnexpectedStart,
    /// An internal invariant of the method did not hold (a Latchkey bug).
    Internal(&'static str),
}

impl MethodError {
    /// The failure's kind.
    pub fn kind(&self) -> FailKind {
        match self {
            MethodError::Tls(e) => e.kind(),
            MethodError::Framing(
                wire::Error::AnnouncedTooLarge { .. } | wire::Error::MessageTooLarge { .. },
            ) => FailKind::MessageTooLarge,
            MethodError::Framing(wire::Error::TooManyFragments { .. }) => FailKind::FragmentFlood,
            MethodError::Framing(wire::Error::BufferTooSmall { .. }) => FailKind::ResponseTooLarge,
            MethodError::Framing(_) => FailKind::EapTlsFraming,
            MethodError::UnexpectedRequest(_) => FailKind::UnexpectedRequest,
            MethodError::UnexpectedStart => FailKind::UnexpectedStart,
            MethodError::Internal(_) => FailKind::Internal,
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
            MethodError::Internal(what) => write!(f, "internal error in EAP-TLS: {what}"),
        }
    }
}

impl core::error::Error for MethodError {}

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
    /// Flights of ours sent whole (the ClientHello is the first).
    pub flights_sent: u16,
    /// Largest reassembled server message.
    pub largest_message: u32,
}

/// The outcome of one EAP-TLS request.
#[derive(Debug)]
pub(crate) enum MethodOutput {
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
    /// Largest server TLS message accepted (also bounded by the TLS input buffer).
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

/// The caller's TLS buffers: the input (reassembly) buffer bounds the largest server message,
/// the output buffer our largest flight.
pub(crate) struct TlsBuffers<'a> {
    pub(crate) tls_in: &'a mut [u8],
    pub(crate) tls_out: &'a mut [u8],
}

/// Where a conversation stood when the server ended it with EAP-Failure: the peer's diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// EAP-TLS has not started.
    NotStarted,
    /// Our ClientHello is out and nothing of the server's flight has arrived.
    ClientHelloSent(VersionPolicy),
    /// Mid-handshake: fragments of a flight are still moving.
    Handshake,
    /// Our flight after the ClientHello (certificate, key exchange, Finished) is out and the
    /// server's verdict is awaited.
    AwaitingVerdict,
    /// TLS finished, or the method already failed.
    Ended,
}

/// The EAP-TLS peer method.
pub(crate) struct EapTlsMethod {
    config: MethodConfig,
    state: MethodState,
    engine: Option<Engine>,
    in_fill: usize,
    out_len: usize,
    reassembler: Reassembler,
    fragmenter: Option<Fragmenter>,
    keys: Option<KeyMaterial>,
    stats: MethodStats,
    record: Option<ResolveRecord>,
    // Boxed: the method lives inside the supplicant, which is kept small.
    server: Option<Box<ServerSeen>>,
}

/// What this conversation learned of the server: the verifier's decision and the certificate
/// it decided on.
#[derive(Debug, Default)]
struct ServerSeen {
    verdict: Option<ServerVerdict>,
    certificate: Option<ServerCertificate>,
}

impl fmt::Debug for EapTlsMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EapTlsMethod")
            .field("state", &self.state)
            .field("stats", &self.stats)
            .finish()
    }
}

impl EapTlsMethod {
    /// A method with these settings.
    pub(crate) fn new(config: MethodConfig) -> Self {
        EapTlsMethod {
            config,
            state: MethodState::Idle,
            engine: None,
            in_fill: 0,
            out_len: 0,
            reassembler: Reassembler::new(ReassemblerConfig {
                max_message_len: config.max_message,
                max_fragments: config.max_fragments,
            }),
            fragmenter: None,
            keys: None,
            stats: MethodStats::default(),
            record: None,
            server: None,
        }
    }

    /// Forget the conversation (a new EAP conversation starts). Field by field: the method is
    /// small, but it is reset in place inside the supplicant.
    pub(crate) fn reset(&mut self) {
        self.state = MethodState::Idle;
        self.engine = None;
        self.in_fill = 0;
        self.out_len = 0;
        self.reassembler.reset();
        self.fragmenter = None;
        self.keys = None;
        self.stats = MethodStats::default();
        self.record = None;
        self.server = None;
    }

    /// Where the method is.
    pub(crate) fn state(&self) -> MethodState {
        self.state
    }

    /// Counters so far.
    pub(crate) fn stats(&self) -> MethodStats {
        self.stats
    }

    /// The negotiated TLS version, once known.
    pub(crate) fn version(&self) -> Option<TlsVersion> {
        self.engine.as_ref().and_then(Engine::version)
    }

    /// The negotiated cipher suite, once known.
    pub(crate) fn suite(&self) -> Option<CipherSuite> {
        self.engine.as_ref().and_then(Engine::suite)
    }

    /// What the server asked of our certificate and what was offered (this conversation).
    pub(crate) fn record(&self) -> Option<&ResolveRecord> {
        self.record.as_ref()
    }

    /// The server verifier's decision (this conversation).
    pub(crate) fn verdict(&self) -> Option<&ServerVerdict> {
        self.server.as_ref().and_then(|s| s.verdict.as_ref())
    }

    /// The certificate the server presented (this conversation).
    pub(crate) fn server_certificate(&self) -> Option<&ServerCertificate> {
        self.server.as_ref().and_then(|s| s.certificate.as_ref())
    }

    /// Has the method reached a state where EAP-Success may be accepted?
    pub(crate) fn may_succeed(&self) -> bool {
        self.state == MethodState::Done && self.keys.is_some()
    }

    /// Where the conversation stands, for diagnosing an EAP-Failure.
    pub(crate) fn stage(&self) -> Stage {
        match self.state {
            MethodState::Idle => Stage::NotStarted,
            MethodState::Done | MethodState::Failed => Stage::Ended,
            MethodState::Receiving if self.stats.flights_sent >= 2 => Stage::AwaitingVerdict,
            MethodState::Receiving
                if self.stats.flights_sent == 1 && self.stats.fragments_received == 0 =>
            {
                match &self.engine {
                    Some(e) => Stage::ClientHelloSent(e.offered()),
                    None => Stage::Handshake,
                }
            }
            MethodState::Sending | MethodState::Receiving => Stage::Handshake,
        }
    }

    /// Hand over the derived keys (once).
    pub(crate) fn take_keys(&mut self) -> Option<KeyMaterial> {
        self.keys.take()
    }

    /// Handle one EAP-TLS request (`data`: everything after the EAP type byte) with EAP
    /// identifier `id` at the authentication's time basis `time`; the response EAP packet is
    /// written to `out`.
    pub(crate) fn handle(
        &mut self,
        tls: &TlsSetup,
        time: TimeSource,
        id: u8,
        data: &[u8],
        bufs: TlsBuffers<'_>,
        out: &mut [u8],
    ) -> MethodOutput {
        self.stats.requests = self.stats.requests.saturating_add(1);
        let TlsBuffers { tls_in, tls_out } = bufs;
        let result = self.step(tls, time, id, data, tls_in, tls_out, out);
        self.collect_records();
        match result {
            Ok(len) => MethodOutput::Respond(len),
            Err(e) => {
                self.state = MethodState::Failed;
                let alert = self.engine.as_ref().map(Engine::alert_len).unwrap_or(0);
                // Tell the server why with our TLS alert when rustls produced one; a framing
                // violation gets no answer (an ACK would ask for more of the same).
                let resp = if alert > 0 {
                    self.send_flight(id, alert, tls_out, out).ok()
                } else {
                    None
                };
                MethodOutput::Fail(e, resp)
            }
        }
    }

    /// Keeps what the engine's resolver and verifier recorded (the certificate offered, the
    /// server verdict and certificate).
    ///
    /// Never inlined, like the other steps that do not call the TLS engine ([`Self::start`],
    /// [`Self::finish`]): inlined, their locals would sit in the frame that does, under the
    /// handshake's deepest call (certificate-chain verification), on a device's stack.
    #[inline(never)]
    fn collect_records(&mut self) {
        if let Some(engine) = &self.engine {
            if let Some(r) = engine.record() {
                self.record = Some(r);
            }
            if let Some(v) = engine.verdict() {
                let seen = self.server.get_or_insert_with(Box::default);
                seen.verdict = Some(v);
                if seen.certificate.is_none() {
                    seen.certificate = engine.server_certificate();
                }
            }
        }
    }

    /// EAP-TLS Start: a new TLS engine and its ClientHello (never inlined: see
    /// [`Self::collect_records`]).
    #[inline(never)]
    fn start(
        &mut self,
        tls: &TlsSetup,
        time: TimeSource,
        id: u8,
        tls_out: &mut [u8],
        out: &mut [u8],
    ) -> Result<usize, MethodError> {
        let mut engine = Engine::new(tls, time)?;
        let n = engine.start(tls_out)?;
        self.engine = Some(engine);
        self.send_flight(id, n, tls_out, out)
    }

    /// The handshake is over: derive the MSK and EMSK from its secrets (never inlined: see
    /// [`Self::collect_records`]).
    #[inline(never)]
    fn finish(&mut self) -> Result<(), MethodError> {
        let engine = self.engine.as_ref().ok_or(MethodError::Internal(
            "server message before the engine started",
        ))?;
        let secrets = engine.take_secrets()?;
        self.keys = Some(
            keys::derive(&secrets).map_err(|_| MethodError::Internal("key derivation failed"))?,
        );
        self.state = MethodState::Done;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        tls: &TlsSetup,
        time: TimeSource,
        id: u8,
        data: &[u8],
        tls_in: &mut [u8],
        tls_out: &mut [u8],
        out: &mut [u8],
    ) -> Result<usize, MethodError> {
        let msg = wire::Repr::parse_bytes(data)?;
        if msg.start {
            if self.state != MethodState::Idle {
                return Err(MethodError::UnexpectedStart);
            }
            return self.start(tls, time, id, tls_out, out);
        }
        if self.engine.is_some() {
            // The wall clock moves on during a conversation; the floor stays the floor.
            tls.set_time(time);
        }
        match self.state {
            MethodState::Sending => {
                if !msg.is_ack() {
                    return Err(MethodError::UnexpectedRequest(self.state));
                }
                self.next_fragment(id, tls_out, out)
            }
            MethodState::Receiving => {
                // Fragments land right after any partial record left by the previous message,
                // so the reassembly buffer is the TLS input buffer with no second copy.
                let free = tls_in.get_mut(self.in_fill..).unwrap_or_default();
                let progress = self.reassembler.push(free, &msg)?;
                self.stats.fragments_received = self.stats.fragments_received.saturating_add(1);
                match progress {
                    wire::Progress::NeedMore => return self.ack(id, out),
                    wire::Progress::Complete(n) => {
                        self.in_fill = self.in_fill.saturating_add(n);
                    }
                }
                let largest = u32::try_from(self.in_fill).unwrap_or(u32::MAX);
                self.stats.largest_message = self.stats.largest_message.max(largest);
                self.process_message(id, tls_in, tls_out, out)
            }
            MethodState::Idle | MethodState::Done | MethodState::Failed => {
                Err(MethodError::UnexpectedRequest(self.state))
            }
        }
    }

    fn process_message(
        &mut self,
        id: u8,
        tls_in: &mut [u8],
        tls_out: &mut [u8],
        out: &mut [u8],
    ) -> Result<usize, MethodError> {
        let engine = self.engine.as_mut().ok_or(MethodError::Internal(
            "server message before the engine started",
        ))?;
        let progress = engine.process(tls_in, &mut self.in_fill, tls_out)?;
        // A trailing partial record (rare) stays at the front of the input buffer and the next
        // message is appended to it.
        if progress.written > 0 {
            return self.send_flight(id, progress.written, tls_out, out);
        }
        let finished = match engine.version() {
            Some(TlsVersion::Tls12) => progress.handshake_done,
            // RFC 9190 §2.1.1: only the commitment message ends the TLS 1.3 handshake for EAP.
            Some(TlsVersion::Tls13) => progress.handshake_done && progress.commitment,
            None => false,
        };
        if finished {
            self.finish()?;
        }
        self.ack(id, out)
    }

    fn ack(&mut self, id: u8, out: &mut [u8]) -> Result<usize, MethodError> {
        self.stats.acks_sent = self.stats.acks_sent.saturating_add(1);
        Ok(wire::emit_ack(id, out)?)
    }

    fn send_flight(
        &mut self,
        id: u8,
        len: usize,
        tls_out: &[u8],
        out: &mut [u8],
    ) -> Result<usize, MethodError> {
        self.out_len = len;
        self.fragmenter = Some(Fragmenter::new(FragmenterConfig {
            fragment_size: self.config.fragment_size,
            always_include_length: self.config.always_include_length,
        }));
        self.next_fragment(id, tls_out, out)
    }

    fn next_fragment(
        &mut self,
        id: u8,
        tls_out: &[u8],
        out: &mut [u8],
    ) -> Result<usize, MethodError> {
        let frag = self
            .fragmenter
            .as_mut()
            .ok_or(MethodError::UnexpectedRequest(self.state))?;
        let data = tls_out.get(..self.out_len).ok_or(MethodError::Internal(
            "flight longer than the output buffer",
        ))?;
        let n = frag
            .next_response(id, data, out)?
            .ok_or(MethodError::Internal("fragmenter had nothing left to send"))?;
        let more = !frag.is_finished();
        self.stats.fragments_sent = self.stats.fragments_sent.saturating_add(1);
        if more {
            self.state = MethodState::Sending;
        } else {
            self.fragmenter = None;
            if self.state != MethodState::Failed {
                self.state = MethodState::Receiving;
                self.stats.flights_sent = self.stats.flights_sent.saturating_add(1);
            }
        }
        Ok(n)
    }
}
