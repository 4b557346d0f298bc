//! The 802.1X supplicant PAE (802.1X-2010 §8) tying it all together, sans-IO: frames in through
//! [`Supplicant::handle_frame`], timers through [`Supplicant::poll`], frames out through
//! [`crate::hal::Radio`], and one [`Event`] when the authentication ends.

use core::fmt;

use crate::certs::TimeSource;
use crate::eap::peer::{DropReason, Peer, PeerConfig, PeerError, PeerOutput, MAX_EAP_PACKET};
use crate::eap_tls::keys::KeyMaterial;
use crate::eap_tls::method::{EapTlsMethod, MethodConfig, MethodStats};
use crate::eapol::{self, PacketType};
use crate::hal::{MacAddr, Radio};
use crate::log::{debug, info, warn_};
use crate::tls::resolver::ResolveRecord;
use crate::tls::{ClientSetup, TlsVersion};

/// The PAE group address (802.1X-2010 §11.1.1) used until the authenticator is known.
pub const PAE_GROUP_ADDR: MacAddr = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x03];

const EAPOL_HEADER: usize = 4;

/// Time as the platform gives it to every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Now {
    /// Monotonic milliseconds (for timers).
    pub ms: u64,
    /// Wall-clock Unix seconds, if the platform knows them.
    pub unix: Option<u64>,
}

/// Supplicant settings, with the defaults a firmware engineer would expect (802.1X-2010 timers,
/// wpa_supplicant's fragment size).
#[derive(Debug, Clone)]
pub struct Config {
    /// EAP peer settings (outer identity, identity-request bound).
    pub peer: PeerConfig,
    /// EAP-TLS settings (fragment size, reassembly bounds).
    pub method: MethodConfig,
    /// EAPOL protocol version we send (1 or 2; 1 is what wpa_supplicant sends by default).
    pub eapol_version: u8,
    /// startPeriod: seconds between EAPOL-Starts, in ms.
    pub start_period_ms: u64,
    /// heldPeriod: wait after a failure before trying again, in ms.
    pub held_period_ms: u64,
    /// authPeriod: longest silence from the authenticator during authentication, in ms.
    pub auth_period_ms: u64,
    /// maxStart: EAPOL-Starts sent before giving up on the authenticator.
    pub max_start: u8,
    /// Certificate validity is checked against this time when the platform has no wall clock
    /// (the persisted time floor); what a floor can prove is set by the server policy's
    /// [`crate::tls::UntrustedTimePolicy`].
    pub time_floor: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            peer: PeerConfig::default(),
            method: MethodConfig::default(),
            eapol_version: 1,
            start_period_ms: 30_000,
            held_period_ms: 60_000,
            auth_period_ms: 30_000,
            max_start: 3,
            time_floor: 0,
        }
    }
}

/// Why an authentication failed: each a cause an admin can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum FailReason {
    /// The EAP conversation failed (TLS, framing, rejection...).
    Eap(PeerError),
    /// No authenticator answered maxStart EAPOL-Starts.
    NoAuthenticator,
    /// The authenticator went silent for authPeriod.
    Timeout,
    /// A frame could not be sent.
    Radio,
    /// The authenticator sent EAP-Success (`success`) or EAP-Failure while EAP-TLS was still
    /// running, then went silent. The early decision was discarded (RFC 4137 §4.5), never
    /// taken as success; the authentication failed when authPeriod ran out.
    EarlyDecision {
        /// EAP-Success (true) or EAP-Failure (false).
        success: bool,
    },
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::Eap(e) => write!(f, "{e}"),
            FailReason::NoAuthenticator => {
                f.write_str("no 802.1X authenticator answered EAPOL-Start")
            }
            FailReason::Timeout => {
                f.write_str("authenticator stopped answering during authentication")
            }
            FailReason::Radio => f.write_str("the radio could not send a frame"),
            FailReason::EarlyDecision { success: true } => f.write_str(
                "server sent EAP-Success before EAP-TLS finished, then went silent: the \
                 Success was discarded (RFC 4137), not taken as authentication",
            ),
            FailReason::EarlyDecision { success: false } => f.write_str(
                "server sent EAP-Failure while EAP-TLS was still running, then went silent: \
                 discarded (RFC 4137); authentication timed out",
            ),
        }
    }
}

impl FailReason {
    /// A short, stable name of the cause (for defmt logs and metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            FailReason::Eap(PeerError::Method(m)) => m.kind(),
            FailReason::Eap(PeerError::Rejected) => "rejected",
            FailReason::Eap(PeerError::SuccessWithoutMethod) => "success-without-method",
            FailReason::Eap(PeerError::MethodChanged(_)) => "method-changed",
            FailReason::Eap(PeerError::IdentityStorm) => "identity-storm",
            FailReason::Eap(PeerError::ResponseTooLarge) => "response-too-large",
            FailReason::NoAuthenticator => "no-authenticator",
            FailReason::Timeout => "timeout",
            FailReason::Radio => "radio",
            FailReason::EarlyDecision { success: true } => "early-success",
            FailReason::EarlyDecision { success: false } => "early-failure",
        }
    }
}

/// A successful authentication.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// MSK, EMSK, Session-Id (zeroized on drop).
    pub keys: KeyMaterial,
    /// Negotiated TLS version.
    pub version: TlsVersion,
    /// Negotiated cipher suite.
    pub suite: Option<rustls::CipherSuite>,
    /// EAP round trips (requests answered) in this conversation.
    pub round_trips: u16,
    /// EAP-TLS counters.
    pub stats: MethodStats,
    /// The client certificate request: which slot was used and why the others were not.
    pub certificate: Option<ResolveRecord>,
}

/// What the supplicant reports to the platform.
#[derive(Debug, Clone)]
pub enum Event {
    /// Authentication succeeded: keys are ready (the 4-way handshake comes next).
    Authenticated(alloc::boxed::Box<Authenticated>),
    /// Authentication failed, for this reason.
    Failed(FailReason),
}

/// The PAE state (802.1X-2010 §8.5.10, simplified to what a client needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PaeState {
    /// Not started.
    Disconnected,
    /// EAPOL-Start sent, waiting for the authenticator.
    Connecting,
    /// An EAP conversation is running.
    Authenticating,
    /// Authenticated.
    Authenticated,
    /// Failed; waiting heldPeriod before trying again.
    Held,
}

/// Frames the supplicant did not act on, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DropCounters {
    /// EAPOL frames that did not parse.
    pub malformed_eapol: u32,
    /// EAPOL packet types we do not handle (Key before WPA support, MKA, announcements...).
    pub unhandled_eapol_type: u32,
    /// EAP packets dropped by the peer (see [`DropReason`]).
    pub eap: u32,
    /// EAP-Success/Failure refused while the method was still running.
    pub early_decision: u32,
    /// Frames received while held after a failure.
    pub while_held: u32,
}

/// The supplicant. `TLS_IN` bounds the reassembled server message (the TLS input buffer),
/// `TLS_OUT` our largest flight.
pub struct Supplicant<const TLS_IN: usize = 16384, const TLS_OUT: usize = 4096> {
    config: Config,
    setup: ClientSetup,
    state: PaeState,
    authenticator: Option<MacAddr>,
    peer: Peer,
    method: EapTlsMethod<TLS_IN, TLS_OUT>,
    start_count: u8,
    deadline_ms: u64,
    round_trips: u16,
    drops: DropCounters,
    last_drop: Option<DropReason>,
    /// An early EAP-Success/Failure was discarded and no request has come since.
    early_decision: Option<bool>,
    eap_buf: [u8; MAX_EAP_PACKET],
    frame_buf: [u8; MAX_EAP_PACKET + EAPOL_HEADER],
}

impl<const TLS_IN: usize, const TLS_OUT: usize> fmt::Debug for Supplicant<TLS_IN, TLS_OUT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supplicant")
            .field("state", &self.state)
            .field("drops", &self.drops)
            .finish()
    }
}

impl<const TLS_IN: usize, const TLS_OUT: usize> Supplicant<TLS_IN, TLS_OUT> {
    /// A supplicant with these settings and TLS setup.
    pub fn new(config: Config, setup: ClientSetup) -> Self {
        let method = EapTlsMethod::new(config.method);
        let peer = Peer::new(config.peer.clone());
        Supplicant {
            config,
            setup,
            state: PaeState::Disconnected,
            authenticator: None,
            peer,
            method,
            start_count: 0,
            deadline_ms: 0,
            round_trips: 0,
            drops: DropCounters::default(),
            last_drop: None,
            early_decision: None,
            eap_buf: [0; MAX_EAP_PACKET],
            frame_buf: [0; MAX_EAP_PACKET + EAPOL_HEADER],
        }
    }

    /// The PAE state.
    pub fn state(&self) -> PaeState {
        self.state
    }

    /// Frames dropped so far, by reason.
    pub fn drops(&self) -> DropCounters {
        self.drops
    }

    /// Why the most recent EAP packet was dropped, if one was.
    pub fn last_drop(&self) -> Option<DropReason> {
        self.last_drop
    }

    /// The TLS setup (e.g. to inspect the certificate resolver).
    pub fn setup(&self) -> &ClientSetup {
        &self.setup
    }

    /// Begin: send EAPOL-Start and wait for the authenticator.
    pub fn start<R: Radio>(&mut self, now: Now, radio: &mut R) -> Option<Event> {
        self.begin_conversation(now);
        self.state = PaeState::Connecting;
        self.start_count = 0;
        self.send_start(now, radio)
    }

    /// Drive timers; call at least every few hundred milliseconds or at [`Self::next_deadline`].
    pub fn poll<R: Radio>(&mut self, now: Now, radio: &mut R) -> Option<Event> {
        if now.ms < self.deadline_ms {
            return None;
        }
        match self.state {
            PaeState::Connecting => {
                if self.start_count >= self.config.max_start {
                    return self.fail(now, FailReason::NoAuthenticator);
                }
                self.send_start(now, radio)
            }
            PaeState::Authenticating => match self.early_decision {
                Some(success) => self.fail(now, FailReason::EarlyDecision { success }),
                None => self.fail(now, FailReason::Timeout),
            },
            PaeState::Held => self.start(now, radio),
            PaeState::Disconnected | PaeState::Authenticated => None,
        }
    }

    /// When [`Self::poll`] next has work to do (monotonic ms), if any.
    pub fn next_deadline(&self) -> Option<u64> {
        match self.state {
            PaeState::Connecting | PaeState::Authenticating | PaeState::Held => {
                Some(self.deadline_ms)
            }
            PaeState::Disconnected | PaeState::Authenticated => None,
        }
    }

    /// Handle one received EAPOL frame (the Ethernet payload after ethertype 0x888E) from `src`.
    pub fn handle_frame<R: Radio>(
        &mut self,
        now: Now,
        src: MacAddr,
        frame: &[u8],
        radio: &mut R,
    ) -> Option<Event> {
        let Ok(pkt) = eapol::Packet::new_checked(frame) else {
            warn_!("malformed EAPOL frame ({} bytes) dropped", frame.len());
            self.drops.malformed_eapol = self.drops.malformed_eapol.saturating_add(1);
            return None;
        };
        if pkt.packet_type() != PacketType::EapPacket {
            debug!("EAPOL type {} not handled", u8::from(pkt.packet_type()));
            self.drops.unhandled_eapol_type = self.drops.unhandled_eapol_type.saturating_add(1);
            return None;
        }
        if self.state == PaeState::Held {
            self.drops.while_held = self.drops.while_held.saturating_add(1);
            return None;
        }
        if matches!(self.state, PaeState::Disconnected | PaeState::Authenticated) {
            // The authenticator (re)starts a conversation: re-authentication.
            self.begin_conversation(now);
        }
        self.state = PaeState::Authenticating;
        self.authenticator = Some(src);
        self.deadline_ms = now.ms.saturating_add(self.config.auth_period_ms);
        // A wall time below the floor is provably wrong (an RTC reset): use the floor.
        let floor = self.config.time_floor;
        self.setup.time.set_source(match now.unix {
            Some(t) if t >= floor => TimeSource::Wall(t),
            _ if floor > 0 => TimeSource::Floor(floor),
            _ => TimeSource::Unknown,
        });
        let out = self
            .peer
            .handle(pkt.body(), &mut self.method, &self.setup, &mut self.eap_buf);
        match out {
            PeerOutput::Retransmit(n) => {
                info!(
                    "duplicate EAP request: last response ({} bytes) retransmitted",
                    n
                );
                self.round_trips = self.round_trips.saturating_add(1);
                self.send_eap(n, radio)
                    .err()
                    .and_then(|r| self.fail(now, r))
            }
            PeerOutput::Respond(n) => {
                debug!("EAP response, {} bytes", n);
                self.early_decision = None;
                self.round_trips = self.round_trips.saturating_add(1);
                self.send_eap(n, radio)
                    .err()
                    .and_then(|r| self.fail(now, r))
            }
            PeerOutput::Dropped(reason) => {
                warn_!("EAP packet dropped: {}", reason.as_str());
                self.last_drop = Some(reason);
                self.drops.eap = self.drops.eap.saturating_add(1);
                if matches!(reason, DropReason::EarlySuccess | DropReason::EarlyFailure) {
                    self.drops.early_decision = self.drops.early_decision.saturating_add(1);
                    self.early_decision = Some(reason == DropReason::EarlySuccess);
                }
                None
            }
            PeerOutput::Success => {
                let keys = self.method.take_keys()?;
                self.state = PaeState::Authenticated;
                info!(
                    "authenticated with {} after {} EAP round trips",
                    keys.version.as_str(),
                    self.round_trips
                );
                let auth = Authenticated {
                    version: keys.version,
                    keys,
                    suite: self.method.suite(),
                    round_trips: self.round_trips,
                    stats: self.method.stats(),
                    certificate: self.setup.resolver.last_request(),
                };
                if let Some(t) = now.unix {
                    // A successful authentication proves the time: raise the persisted floor.
                    self.setup.resolver.observe_time(t);
                }
                Some(Event::Authenticated(alloc::boxed::Box::new(auth)))
            }
            PeerOutput::Failure(e, resp) => {
                if let Some(n) = resp {
                    // Best effort: the alert tells the server why; the failure stands anyway.
                    let _ = self.send_eap(n, radio);
                }
                self.fail(now, FailReason::Eap(e))
            }
        }
    }

    fn begin_conversation(&mut self, now: Now) {
        self.peer.reset();
        self.method.reset();
        self.setup.resolver.reset(now.unix);
        self.round_trips = 0;
        self.last_drop = None;
        self.early_decision = None;
    }

    fn fail(&mut self, now: Now, reason: FailReason) -> Option<Event> {
        #[cfg(feature = "log")]
        ::log::warn!("authentication failed: {}", reason);
        #[cfg(feature = "defmt")]
        ::defmt::warn!("authentication failed: {}", reason.kind());
        self.state = PaeState::Held;
        self.deadline_ms = now.ms.saturating_add(self.config.held_period_ms);
        Some(Event::Failed(reason))
    }

    fn send_start<R: Radio>(&mut self, now: Now, radio: &mut R) -> Option<Event> {
        self.start_count = self.start_count.saturating_add(1);
        info!(
            "EAPOL-Start {} of {}",
            self.start_count, self.config.max_start
        );
        self.deadline_ms = now.ms.saturating_add(self.config.start_period_ms);
        let dst = self.authenticator.unwrap_or(PAE_GROUP_ADDR);
        let n = eapol::emit_frame(
            self.config.eapol_version,
            PacketType::Start,
            &[],
            &mut self.frame_buf,
        )
        .ok()?;
        let frame = self.frame_buf.get(..n)?;
        match radio.send(dst, frame) {
            Ok(()) => None,
            Err(_) => self.fail(now, FailReason::Radio),
        }
    }

    fn send_eap<R: Radio>(&mut self, len: usize, radio: &mut R) -> Result<(), FailReason> {
        let body = self.eap_buf.get(..len).ok_or(FailReason::Radio)?;
        let n = eapol::emit_frame(
            self.config.eapol_version,
            PacketType::EapPacket,
            body,
            &mut self.frame_buf,
        )
        .map_err(|_| FailReason::Radio)?;
        let frame = self.frame_buf.get(..n).ok_or(FailReason::Radio)?;
        let dst = self.authenticator.unwrap_or(PAE_GROUP_ADDR);
        radio.send(dst, frame).map_err(|_| FailReason::Radio)
    }
}
