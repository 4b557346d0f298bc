//! The 802.1X supplicant PAE (802.1X-2010 §8) tying it all together, sans-IO: frames in through
//! [`Supplicant::handle_frame`], timers through [`Supplicant::poll`] at
//! [`Supplicant::next_deadline`], link changes through [`Supplicant::associated`],
//! [`Supplicant::link_down`] and [`Supplicant::logoff`], frames out through
//! [`crate::hal::Radio`], and one [`Event`] when an authentication ends.
//!
//! The PAE knows its link. On Wi-Fi the platform says which access point it associated with,
//! and only that station's frames are taken. On a shared medium (a wired segment) the
//! authenticator is latched from the first EAP-Request we answer, for the rest of the
//! conversation; frames from any other station are dropped and counted. After link-down,
//! EAPOL-Start goes to the PAE group address again.
//!
//! Timers (802.1X-2010 §8.8, all configurable in [`Config`]): startPeriod between EAPOL-Starts,
//! maxStart Starts before `no-authenticator`, authPeriod of silence before `timeout`, heldPeriod
//! after a failure before starting again.

use alloc::boxed::Box;
use core::fmt;

use crate::certs::TimeSource;
use crate::eap::peer::{
    DropReason, MethodContext, Peer, PeerConfig, PeerError, PeerOutput, MAX_EAP_PACKET,
};
use crate::eap_tls::keys::KeyMaterial;
use crate::eap_tls::method::{EapTlsMethod, MethodConfig, MethodStats, TlsBuffers};
use crate::eapol::{self, PacketType};
use crate::hal::{MacAddr, Radio, RadioError, RadioErrorKind};
use crate::kind::FailKind;
use crate::log::{debug, info, warn_};
use crate::tls::setup::TlsSetup;
use crate::tls::{CipherSuite, ResolveRecord, ServerVerdict, TlsVersion};

/// The PAE group address (802.1X-2010 §11.1.1) used until the authenticator is known.
pub const PAE_GROUP_ADDR: MacAddr = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x03];

const EAPOL_HEADER: usize = 4;

/// The largest EAPOL frame the supplicant sends or needs to receive: size the platform's
/// receive buffer with it (an Ethernet MTU: the EAPOL header and the largest EAP packet).
pub const RX_BUFFER_SIZE: usize = MAX_EAP_PACKET + EAPOL_HEADER;

/// Default TLS input buffer: the largest server TLS message (one record of 16 KiB).
pub const DEFAULT_TLS_IN: usize = 16384;
/// Default TLS output buffer: our largest flight (certificate, key exchange, Finished).
pub const DEFAULT_TLS_OUT: usize = 4096;

/// Time as the platform gives it to every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Now {
    /// Monotonic milliseconds (for timers).
    pub ms: u64,
    /// Wall-clock Unix seconds, if the platform knows them (a value below the slot table's
    /// persisted time floor is taken as wrong and the floor is used).
    pub unix: Option<u64>,
}

impl Now {
    /// Monotonic milliseconds, no wall clock.
    pub const fn ms(ms: u64) -> Self {
        Now { ms, unix: None }
    }
}

/// Supplicant settings, with the defaults a firmware engineer would expect (802.1X-2010 timers,
/// wpa_supplicant's fragment size).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// EAP peer settings (outer identity, identity-request bound).
    pub peer: PeerConfig,
    /// EAP-TLS settings (fragment size, reassembly bounds).
    pub method: MethodConfig,
    /// EAPOL protocol version we send (1 or 2; 1 is what wpa_supplicant sends by default).
    pub eapol_version: u8,
    /// startPeriod: time between EAPOL-Starts, in ms.
    pub start_period_ms: u64,
    /// heldPeriod: wait after a failure before trying again, in ms.
    pub held_period_ms: u64,
    /// authPeriod: longest silence from the authenticator during authentication, in ms.
    pub auth_period_ms: u64,
    /// maxStart: EAPOL-Starts sent before giving up on the authenticator.
    pub max_start: u8,
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
        }
    }
}

/// Why an authentication failed: each a cause an admin can act on. [`FailReason::kind`] is
/// the stable name; `Display` the sentence.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FailReason {
    /// The EAP conversation failed (TLS, framing, rejection...).
    Eap(PeerError),
    /// No authenticator answered maxStart EAPOL-Starts.
    NoAuthenticator,
    /// The authenticator went silent for authPeriod.
    Timeout,
    /// The platform's radio could not send a frame.
    Radio(RadioErrorKind),
    /// The authenticator sent EAP-Success while EAP-TLS was still running, then went silent.
    /// The Success was discarded (RFC 4137 §4.5), never taken as authentication; the
    /// authentication failed when authPeriod ran out.
    EarlySuccess,
    /// A frame could not be built (an internal invariant; a Latchkey bug).
    Internal(&'static str),
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
            FailReason::Radio(k) => write!(f, "the radio could not send a frame: {k}"),
            FailReason::EarlySuccess => f.write_str(
                "server sent EAP-Success before EAP-TLS finished, then went silent: the \
                 Success was discarded (RFC 4137), not taken as authentication",
            ),
            FailReason::Internal(what) => write!(f, "internal error: {what}"),
        }
    }
}

impl core::error::Error for FailReason {}

impl FailReason {
    /// The failure's kind: the stable name for logs, metrics and JSON.
    pub fn kind(&self) -> FailKind {
        match self {
            FailReason::Eap(e) => e.kind(),
            FailReason::NoAuthenticator => FailKind::NoAuthenticator,
            FailReason::Timeout => FailKind::Timeout,
            FailReason::Radio(_) => FailKind::Radio,
            FailReason::EarlySuccess => FailKind::EarlySuccess,
            FailReason::Internal(_) => FailKind::Internal,
        }
    }
}

/// A successful authentication.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Authenticated {
    /// MSK, EMSK, Session-Id (zeroized on drop); [`crate::eap_tls::keys::Msk::pmk`] gives the
    /// WPA PMK.
    pub keys: KeyMaterial,
    /// Negotiated TLS version.
    pub version: TlsVersion,
    /// Negotiated cipher suite.
    pub suite: Option<CipherSuite>,
    /// EAP round trips (requests answered) in this conversation.
    pub round_trips: u16,
    /// EAP-TLS counters.
    pub stats: MethodStats,
    /// The client certificate request: which slot was used and why the others were not.
    pub certificate: Option<ResolveRecord>,
    /// What the server verifier decided (the name that matched, the time used).
    pub server: Option<ServerVerdict>,
    /// The time basis both the server check and certificate selection used.
    pub time: TimeSource,
    /// The slot table's persisted state changed (the time floor was raised to this
    /// authentication's time): commit the table to flash.
    pub persist: bool,
}

/// What the supplicant reports to the platform.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event {
    /// Authentication succeeded: keys are ready (the 4-way handshake comes next).
    Authenticated(Box<Authenticated>),
    /// Authentication failed, for this reason. [`Supplicant::conversation`] tells which
    /// certificate was offered and what the server check decided.
    Failed(FailReason),
}

/// The PAE state (802.1X-2010 §8.5.10, simplified to what a client needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PaeState {
    /// Not started, or the link went down.
    Disconnected,
    /// We logged off (EAPOL-Logoff sent); nothing happens until [`Supplicant::start`].
    Logoff,
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
    /// EAP-Success refused while the method was still running.
    pub early_success: u32,
    /// Frames received while held after a failure, logged off or disconnected.
    pub while_idle: u32,
    /// Frames from a station other than the authenticator of this conversation.
    pub foreign_source: u32,
}

/// The association the platform made: the access point (or the authenticator on a wired port
/// the platform already knows) and our own address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Association {
    /// The authenticator's MAC address (the BSSID on Wi-Fi).
    pub authenticator: MacAddr,
    /// Our own MAC address.
    pub own: MacAddr,
}

/// The state of the current (or last) conversation, for reports after an [`Event`].
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Conversation<'a> {
    /// The authenticator of this conversation, once known.
    pub authenticator: Option<MacAddr>,
    /// EAP round trips so far.
    pub round_trips: u16,
    /// EAP-TLS counters.
    pub stats: MethodStats,
    /// The negotiated TLS version, once known.
    pub version: Option<TlsVersion>,
    /// The negotiated cipher suite, once known.
    pub suite: Option<CipherSuite>,
    /// What the server asked of our certificate and which slot was offered, if it asked.
    pub certificate: Option<&'a ResolveRecord>,
    /// What the server check decided, once the server's certificate was seen.
    pub server: Option<&'a ServerVerdict>,
    /// The time basis of the conversation.
    pub time: TimeSource,
    /// Why the most recent EAP packet was dropped, if one was.
    pub last_drop: Option<DropReason>,
}

/// The fixed buffers a supplicant works in: the TLS input buffer (the largest server message,
/// `TLS_IN`), the TLS output buffer (our largest flight, `TLS_OUT`) and one EAP packet and one
/// EAPOL frame. About 22 KB with the defaults; [`Buffers::new`] is `const` and all zeros, so a
/// `static` of it lands in `.bss` and costs no flash:
///
/// ```
/// use latchkey_core::Buffers;
/// static mut BUFFERS: Buffers = Buffers::new();
/// ```
pub struct Buffers<const TLS_IN: usize = DEFAULT_TLS_IN, const TLS_OUT: usize = DEFAULT_TLS_OUT> {
    tls_in: [u8; TLS_IN],
    tls_out: [u8; TLS_OUT],
    eap: [u8; MAX_EAP_PACKET],
    frame: [u8; RX_BUFFER_SIZE],
}

impl<const TLS_IN: usize, const TLS_OUT: usize> Buffers<TLS_IN, TLS_OUT> {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Buffers {
            tls_in: [0; TLS_IN],
            tls_out: [0; TLS_OUT],
            eap: [0; MAX_EAP_PACKET],
            frame: [0; RX_BUFFER_SIZE],
        }
    }

    /// Zeroed buffers on the heap (a host).
    pub fn boxed() -> Box<Self> {
        Box::new(Self::new())
    }
}

impl<const TLS_IN: usize, const TLS_OUT: usize> Default for Buffers<TLS_IN, TLS_OUT> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "defmt")]
impl<const TLS_IN: usize, const TLS_OUT: usize> defmt::Format for Buffers<TLS_IN, TLS_OUT> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Buffers<{=usize}, {=usize}>", TLS_IN, TLS_OUT)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for BufferParts<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "BufferParts")
    }
}

impl<const TLS_IN: usize, const TLS_OUT: usize> fmt::Debug for Buffers<TLS_IN, TLS_OUT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Buffers<{TLS_IN}, {TLS_OUT}>")
    }
}

/// The parts of a [`Buffers`], borrowed.
#[derive(Debug)]
pub struct BufferParts<'a> {
    tls_in: &'a mut [u8],
    tls_out: &'a mut [u8],
    eap: &'a mut [u8; MAX_EAP_PACKET],
    frame: &'a mut [u8; RX_BUFFER_SIZE],
}

/// Where a supplicant's [`Buffers`] live: owned (`Box<Buffers>` on a host) or borrowed
/// (`&'static mut Buffers` from a `static` on an MCU).
pub trait BufferStorage {
    /// The buffers, split for the layers that use them.
    fn parts(&mut self) -> BufferParts<'_>;
}

impl<const TLS_IN: usize, const TLS_OUT: usize> BufferStorage for Buffers<TLS_IN, TLS_OUT> {
    fn parts(&mut self) -> BufferParts<'_> {
        BufferParts {
            tls_in: &mut self.tls_in,
            tls_out: &mut self.tls_out,
            eap: &mut self.eap,
            frame: &mut self.frame,
        }
    }
}

impl<T: BufferStorage + ?Sized> BufferStorage for &mut T {
    fn parts(&mut self) -> BufferParts<'_> {
        (**self).parts()
    }
}

impl<T: BufferStorage + ?Sized> BufferStorage for Box<T> {
    fn parts(&mut self) -> BufferParts<'_> {
        (**self).parts()
    }
}

/// How the authenticator is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer802 {
    /// Nobody yet: EAPOL-Start goes to the PAE group address.
    Unknown,
    /// The platform associated with it (Wi-Fi): only its frames are taken, until link-down.
    Associated(MacAddr),
    /// Latched from the first EAP-Request we answered (shared medium), for this conversation.
    Latched(MacAddr),
}

impl Peer802 {
    fn addr(self) -> Option<MacAddr> {
        match self {
            Peer802::Unknown => None,
            Peer802::Associated(a) | Peer802::Latched(a) => Some(a),
        }
    }
}

/// The supplicant: build it with [`crate::SupplicantBuilder`]. `B` holds its [`Buffers`].
pub struct Supplicant<B: BufferStorage = Box<Buffers>> {
    config: Config,
    tls: TlsSetup,
    state: PaeState,
    peer802: Peer802,
    own: Option<MacAddr>,
    peer: Peer,
    method: EapTlsMethod,
    start_count: u8,
    deadline_ms: u64,
    round_trips: u16,
    drops: DropCounters,
    last_drop: Option<DropReason>,
    /// An early EAP-Success was discarded and no request has come since.
    early_success: bool,
    time: TimeSource,
    bufs: B,
}

#[cfg(feature = "defmt")]
impl<B: BufferStorage> defmt::Format for Supplicant<B> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Supplicant({}, drops {})", self.state, self.drops)
    }
}

impl<B: BufferStorage> fmt::Debug for Supplicant<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supplicant")
            .field("state", &self.state)
            .field("authenticator", &self.peer802.addr())
            .field("drops", &self.drops)
            .finish()
    }
}

impl<B: BufferStorage> Supplicant<B> {
    pub(crate) fn assemble(config: Config, tls: TlsSetup, bufs: B) -> Self {
        let method = EapTlsMethod::new(config.method);
        let peer = Peer::new(config.peer.clone());
        Supplicant {
            config,
            tls,
            state: PaeState::Disconnected,
            peer802: Peer802::Unknown,
            own: None,
            peer,
            method,
            start_count: 0,
            deadline_ms: 0,
            round_trips: 0,
            drops: DropCounters::default(),
            last_drop: None,
            early_success: false,
            time: TimeSource::Unknown,
            bufs,
        }
    }

    /// The PAE state.
    pub fn state(&self) -> PaeState {
        self.state
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Frames dropped so far, by reason.
    pub fn drops(&self) -> DropCounters {
        self.drops
    }

    /// The authenticator frames are sent to now (`None`: the PAE group address).
    pub fn authenticator(&self) -> Option<MacAddr> {
        self.peer802.addr()
    }

    /// Our own address, when the platform gave it with [`Self::associated`].
    pub fn own_address(&self) -> Option<MacAddr> {
        self.own
    }

    /// The current or last conversation: which certificate was offered and why, what the
    /// server check decided, the round trips. Valid after an [`Event`] until the next
    /// conversation starts.
    pub fn conversation(&self) -> Conversation<'_> {
        Conversation {
            authenticator: self.peer802.addr(),
            round_trips: self.round_trips,
            stats: self.method.stats(),
            version: self.method.version(),
            suite: self.method.suite(),
            certificate: self.method.record(),
            server: self.method.verdict(),
            time: self.time,
            last_drop: self.last_drop,
        }
    }

    /// Begin: send EAPOL-Start (to the known authenticator, else the PAE group address) and
    /// wait for the authenticator.
    #[must_use = "a failure to send is reported as an event"]
    pub fn start<R: Radio>(&mut self, now: Now, radio: &mut R) -> Option<Event> {
        if let Peer802::Latched(_) = self.peer802 {
            // A new conversation on a shared medium: whoever answers is the authenticator.
            self.peer802 = Peer802::Unknown;
        }
        self.begin_conversation(now);
        self.state = PaeState::Connecting;
        self.start_count = 0;
        self.send_start(now, radio)
    }

    /// The platform associated with `assoc.authenticator` (a new association or a roam):
    /// only its frames are taken from now on, and authentication starts with a unicast
    /// EAPOL-Start to it.
    #[must_use = "a failure to send is reported as an event"]
    pub fn associated<R: Radio>(
        &mut self,
        now: Now,
        assoc: Association,
        radio: &mut R,
    ) -> Option<Event> {
        info!("associated: authenticator latched");
        self.peer802 = Peer802::Associated(assoc.authenticator);
        self.own = Some(assoc.own);
        self.begin_conversation(now);
        self.state = PaeState::Connecting;
        self.start_count = 0;
        self.send_start(now, radio)
    }

    /// The link went down (disassociated, cable unplugged): the conversation ends without an
    /// event, the authenticator is forgotten, and the next [`Self::start`] sends EAPOL-Start
    /// to the PAE group address.
    pub fn link_down(&mut self, now: Now) {
        info!("link down");
        self.begin_conversation(now);
        self.peer802 = Peer802::Unknown;
        self.own = None;
        self.state = PaeState::Disconnected;
    }

    /// Log off (802.1X-2010 §8.5.10 LOGOFF): send EAPOL-Logoff to the authenticator (or the
    /// PAE group address) and stay quiet until [`Self::start`]. The authenticator then
    /// unauthorizes the port.
    #[must_use = "a failure to send is reported as an event"]
    pub fn logoff<R: Radio>(&mut self, now: Now, radio: &mut R) -> Option<Event> {
        info!("logoff");
        let sent = self.send_eapol(PacketType::Logoff, &[], radio);
        self.begin_conversation(now);
        self.state = PaeState::Logoff;
        match sent {
            Ok(()) => None,
            Err(r) => Some(Event::Failed(r)),
        }
    }

    /// Drive timers; call at [`Self::next_deadline`] (or every few hundred milliseconds).
    #[must_use = "an authentication may end here"]
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
            PaeState::Authenticating => {
                if self.early_success {
                    self.fail(now, FailReason::EarlySuccess)
                } else {
                    self.fail(now, FailReason::Timeout)
                }
            }
            PaeState::Held => self.start(now, radio),
            PaeState::Disconnected | PaeState::Logoff | PaeState::Authenticated => None,
        }
    }

    /// When [`Self::poll`] next has work to do (monotonic ms), if any.
    pub fn next_deadline(&self) -> Option<u64> {
        match self.state {
            PaeState::Connecting | PaeState::Authenticating | PaeState::Held => {
                Some(self.deadline_ms)
            }
            PaeState::Disconnected | PaeState::Logoff | PaeState::Authenticated => None,
        }
    }

    /// Handle one received EAPOL frame (the Ethernet payload after ethertype 0x888E) from `src`.
    #[must_use = "an authentication may end here"]
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
        if let Some(auth) = self.peer802.addr() {
            if src != auth {
                debug!("EAPOL frame from a station that is not our authenticator dropped");
                self.drops.foreign_source = self.drops.foreign_source.saturating_add(1);
                return None;
            }
        }
        match self.state {
            PaeState::Held | PaeState::Logoff => {
                self.drops.while_idle = self.drops.while_idle.saturating_add(1);
                return None;
            }
            PaeState::Disconnected | PaeState::Authenticated => {
                // The authenticator (re)starts a conversation: (re-)authentication.
                self.begin_conversation(now);
            }
            PaeState::Connecting | PaeState::Authenticating => {}
        }
        self.state = PaeState::Authenticating;
        self.deadline_ms = now.ms.saturating_add(self.config.auth_period_ms);
        self.time = self.tls.time_basis(now.unix);
        let parts = self.bufs.parts();
        let ctx = MethodContext {
            tls: &self.tls,
            time: self.time,
            bufs: TlsBuffers {
                tls_in: parts.tls_in,
                tls_out: parts.tls_out,
            },
        };
        let eap_buf = parts.eap;
        let out = self.peer.handle(pkt.body(), &mut self.method, ctx, eap_buf);
        match out {
            PeerOutput::Retransmit(n) => {
                info!(
                    "duplicate EAP request: last response ({} bytes) retransmitted",
                    n
                );
                self.round_trips = self.round_trips.saturating_add(1);
                self.send_eap(now, src, n, radio)
            }
            PeerOutput::Respond(n) => {
                debug!("EAP response, {} bytes", n);
                self.early_success = false;
                self.round_trips = self.round_trips.saturating_add(1);
                self.send_eap(now, src, n, radio)
            }
            PeerOutput::Dropped(reason) => {
                warn_!("EAP packet dropped: {}", reason.as_str());
                self.last_drop = Some(reason);
                self.drops.eap = self.drops.eap.saturating_add(1);
                if reason == DropReason::EarlySuccess {
                    self.drops.early_success = self.drops.early_success.saturating_add(1);
                    self.early_success = true;
                }
                None
            }
            PeerOutput::Success => self.succeed(now),
            PeerOutput::Failure(e, resp) => {
                if let Some(n) = resp {
                    // Our TLS alert tells the server why; the failure stands either way.
                    let _ = self.send_eap(now, src, n, radio);
                }
                self.fail(now, FailReason::Eap(e))
            }
        }
    }

    fn succeed(&mut self, now: Now) -> Option<Event> {
        let Some(keys) = self.method.take_keys() else {
            return self.fail(
                now,
                FailReason::Internal("EAP-Success without derived keys"),
            );
        };
        self.state = PaeState::Authenticated;
        info!(
            "authenticated with {} after {} EAP round trips",
            keys.version.as_str(),
            self.round_trips
        );
        // A successful authentication proves the time: raise the persisted floor.
        let persist = match self.time {
            TimeSource::Wall(t) => self.tls.resolver.observe_time(t),
            TimeSource::Floor(_) | TimeSource::Unknown => false,
        };
        let auth = Authenticated {
            version: keys.version,
            keys,
            suite: self.method.suite(),
            round_trips: self.round_trips,
            stats: self.method.stats(),
            certificate: self.method.record().cloned(),
            server: self.method.verdict().cloned(),
            time: self.time,
            persist,
        };
        Some(Event::Authenticated(Box::new(auth)))
    }

    fn begin_conversation(&mut self, now: Now) {
        self.peer.reset();
        self.method.reset();
        self.round_trips = 0;
        self.last_drop = None;
        self.early_success = false;
        self.time = self.tls.time_basis(now.unix);
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
        match self.send_eapol(PacketType::Start, &[], radio) {
            Ok(()) => None,
            Err(r) => self.fail(now, r),
        }
    }

    /// Send the EAP response of `len` bytes to `src`, the station whose request it answers,
    /// and latch `src` as the authenticator of this conversation if none is known.
    fn send_eap<R: Radio>(
        &mut self,
        now: Now,
        src: MacAddr,
        len: usize,
        radio: &mut R,
    ) -> Option<Event> {
        if self.peer802 == Peer802::Unknown {
            self.peer802 = Peer802::Latched(src);
        }
        let parts = self.bufs.parts();
        let Some(body) = parts.eap.get(..len) else {
            return self.fail(
                now,
                FailReason::Internal("EAP response longer than its buffer"),
            );
        };
        let sent = emit_and_send(
            self.config.eapol_version,
            PacketType::EapPacket,
            body,
            parts.frame,
            src,
            radio,
        );
        match sent {
            Ok(()) => None,
            Err(r) => self.fail(now, r),
        }
    }

    fn send_eapol<R: Radio>(
        &mut self,
        typ: PacketType,
        body: &[u8],
        radio: &mut R,
    ) -> Result<(), FailReason> {
        let dst = self.peer802.addr().unwrap_or(PAE_GROUP_ADDR);
        let parts = self.bufs.parts();
        emit_and_send(
            self.config.eapol_version,
            typ,
            body,
            parts.frame,
            dst,
            radio,
        )
    }
}

fn emit_and_send<R: Radio>(
    version: u8,
    typ: PacketType,
    body: &[u8],
    frame: &mut [u8],
    dst: MacAddr,
    radio: &mut R,
) -> Result<(), FailReason> {
    let n = eapol::emit_frame(version, typ, body, frame)
        .map_err(|_| FailReason::Eap(PeerError::ResponseTooLarge))?;
    let frame = frame
        .get(..n)
        .ok_or(FailReason::Internal("EAPOL frame longer than its buffer"))?;
    radio
        .send(dst, frame)
        .map_err(|e| FailReason::Radio(e.kind()))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#[path = "supplicant/tests.rs"]
mod tests;
