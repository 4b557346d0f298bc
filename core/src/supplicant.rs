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
//!
//! On an RSN (WPA2/WPA3) association, given with [`Association::with_rsn`], the PAE also runs
//! the key handshakes of IEEE 802.11-2020 §12.7.6-§12.7.7 through [`crate::wpa::Handshake`]:
//! the PMK comes from the MSK when EAP succeeds (or from the PMKSA cache, §12.6.10.3, when
//! message 1 names the PMKID the platform offered), replies go out through the radio, and the
//! keys to install reach the platform as [`Event::InstallKeys`]. Without RSN information (a
//! wired port, or a FullMAC chip that runs the handshake itself) EAPOL-Key frames are counted
//! and dropped. This part is feature `wpa` (on by default): built without it, the PAE links no
//! key-handshake code (a wired port, or a FullMAC chip given the PMK from
//! [`crate::eap_tls::keys::Msk::pmk`]).

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
use crate::tls::{CipherSuite, ResolveRecord, ServerCertificate, ServerVerdict, TlsVersion};
use crate::wpa;
#[cfg(feature = "wpa")]
use crate::wpa::{Akm, Cipher, GroupKey, Handshake, IntegrityGroupKey, MgmtCipher, Pmkid};
#[cfg(feature = "wpa")]
use crate::wpa::{PmksaCache, Tk};

#[cfg(feature = "wpa")]
/// PMKSAs the supplicant keeps (one per access point and AKM; the oldest is evicted).
#[cfg(feature = "wpa")]
pub const PMKSA_CAPACITY: usize = 8;

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
    /// The association's RSN information cannot run the key handshake (AKM or cipher not
    /// supported or not offered, PMF disabled on a WPA3 AKM, an RSNE that does not parse).
    /// Disassociate.
    Association(wpa::handshake::AssocError),
    /// The authenticator's MIC-verified key handshake message failed a check that forbids
    /// staying associated (its RSNE differs from the beacon's, a bad GTK or IGTK, an all-zero
    /// key). Disassociate.
    KeyHandshake(wpa::DropReason),
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
            FailReason::Association(e) => write!(f, "RSN association refused: {e}"),
            FailReason::KeyHandshake(r) => {
                write!(f, "key handshake refused the access point: {}", r.kind())
            }
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
            FailReason::Association(_) => FailKind::RsnAssociation,
            FailReason::KeyHandshake(_) => FailKind::KeyHandshake,
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
    /// The certificate the server presented: subject, issuer, expiry, SHA-256 fingerprint.
    pub server_certificate: Option<ServerCertificate>,
    /// The time basis both the server check and certificate selection used.
    pub time: TimeSource,
    /// The slot table's persisted state changed (the time floor was raised to this
    /// authentication's time): commit the table to flash.
    pub persist: bool,
}

#[cfg(feature = "wpa")]
/// Keys from the 4-way or group-key handshake for the platform to install, in this order:
/// pairwise first, then group and integrity group keys. The reply (message 4 or group message
/// 2) has already been sent under the old keys, as §12.7.6.4 requires. A key already installed
/// is never handed out again (KRACK), so every key here is new.
#[derive(Clone)]
#[non_exhaustive]
pub struct KeyInstall {
    /// The pairwise temporal key and its cipher.
    pub pairwise: Option<(Tk, Cipher)>,
    /// The group key with its key id and receive sequence counter.
    pub group: Option<GroupKey>,
    /// The group cipher.
    pub group_cipher: Cipher,
    /// The integrity group key (PMF) with its key id and IPN.
    pub integrity: Option<IntegrityGroupKey>,
    /// The group management cipher, when PMF is on.
    pub mgmt_cipher: Option<MgmtCipher>,
    /// This install completes the 4-way handshake: the port is open (802.1X controlled port
    /// authorized) once these keys are in.
    pub port_open: bool,
    /// The PMK came from the PMKSA cache: EAP did not run for this association.
    pub from_pmksa_cache: bool,
}

#[cfg(feature = "wpa")]
impl fmt::Debug for KeyInstall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only as fingerprints.
        let fp = crate::eap_tls::keys::fingerprint;
        f.debug_struct("KeyInstall")
            .field(
                "pairwise",
                &self.pairwise.as_ref().map(|(k, c)| (fp(k.as_bytes()), c)),
            )
            .field(
                "group",
                &self
                    .group
                    .as_ref()
                    .map(|g| (g.key_id, fp(g.key.as_bytes()))),
            )
            .field(
                "integrity",
                &self
                    .integrity
                    .as_ref()
                    .map(|i| (i.key_id, fp(i.key.as_bytes()))),
            )
            .field("port_open", &self.port_open)
            .field("from_pmksa_cache", &self.from_pmksa_cache)
            .finish()
    }
}

#[cfg(all(feature = "defmt", feature = "wpa"))]
impl defmt::Format for KeyInstall {
    fn format(&self, f: defmt::Formatter<'_>) {
        let fp = crate::eap_tls::keys::fingerprint;
        defmt::write!(
            f,
            "KeyInstall(ptk {}, gtk {}, igtk {}, port_open {})",
            self.pairwise.as_ref().map(|(k, _)| fp(k.as_bytes())),
            self.group.as_ref().map(|g| fp(g.key.as_bytes())),
            self.integrity.as_ref().map(|i| fp(i.key.as_bytes())),
            self.port_open
        )
    }
}

/// What the supplicant reports to the platform.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event {
    /// Authentication succeeded: keys are ready. On an RSN association the PAE runs the 4-way
    /// handshake next; a FullMAC chip that runs it itself takes the PMK from
    /// `keys.msk.pmk(akm)` instead.
    Authenticated(Box<Authenticated>),
    /// The key handshake produced keys to install (RSN associations only; feature `wpa`).
    #[cfg(feature = "wpa")]
    InstallKeys(Box<KeyInstall>),
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
    /// EAPOL-Key frames the key handshake dropped, by reason (feature `wpa`).
    #[cfg(feature = "wpa")]
    pub eapol_key: KeyDrops,
}

#[cfg(feature = "wpa")]
/// EAPOL-Key frames dropped by the key handshake, one counter per [`wpa::DropReason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeyDrops([u32; wpa::DropReason::COUNT]);

#[cfg(feature = "wpa")]
impl KeyDrops {
    /// Frames dropped for `reason`.
    pub fn get(&self, reason: wpa::DropReason) -> u32 {
        self.0.get(reason.index()).copied().unwrap_or(0)
    }

    /// Frames dropped for any reason.
    pub fn total(&self) -> u32 {
        self.0.iter().fold(0u32, |a, b| a.saturating_add(*b))
    }

    fn count(&mut self, reason: wpa::DropReason) {
        if let Some(c) = self.0.get_mut(reason.index()) {
            *c = c.saturating_add(1);
        }
    }
}

/// The association the platform made: the access point (or the authenticator on a wired port
/// the platform already knows), our own address and, on a WPA2/WPA3 network, the RSN elements
/// the key handshake needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Association<'a> {
    /// The authenticator's MAC address (the BSSID on Wi-Fi).
    pub authenticator: MacAddr,
    /// Our own MAC address.
    pub own: MacAddr,
    /// The RSN elements; `None` on a wired port or when the chip runs the key handshake
    /// (feature `wpa`).
    #[cfg(feature = "wpa")]
    pub rsn: Option<Rsn<'a>>,
    /// Built without feature `wpa` there are no RSN elements to borrow.
    #[cfg(not(feature = "wpa"))]
    rsn: core::marker::PhantomData<&'a [u8]>,
}

impl<'a> Association<'a> {
    /// An association without RSN information: a wired port, or a FullMAC chip that runs the
    /// 4-way handshake itself (it takes the PMK from [`Event::Authenticated`]).
    pub const fn new(authenticator: MacAddr, own: MacAddr) -> Self {
        Association {
            authenticator,
            own,
            #[cfg(feature = "wpa")]
            rsn: None,
            #[cfg(not(feature = "wpa"))]
            rsn: core::marker::PhantomData,
        }
    }

    #[cfg(feature = "wpa")]
    /// The same association on an RSN network, whose key handshakes the supplicant runs. The
    /// AKM, pairwise and group ciphers and PMF are the ones `our_rsne` names (its first AKM
    /// and pairwise cipher); they are checked against `ap_rsne` when the association is given.
    pub const fn with_rsn(self, ap_rsne: &'a [u8], our_rsne: &'a [u8]) -> Self {
        Association {
            rsn: Some(Rsn { ap_rsne, our_rsne }),
            ..self
        }
    }
}

#[cfg(feature = "wpa")]
/// The RSN elements of an association (IEEE 802.11-2020 §9.4.2.24), whole elements (ID and
/// length included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rsn<'a> {
    /// The AP's RSNE from its beacon or probe response: message 3 must carry the same bytes.
    pub ap_rsne: &'a [u8],
    /// Our RSNE exactly as sent in the (re)association request, including the PMKID list
    /// from [`Supplicant::pmkid_for`] when a cached PMKSA is offered.
    pub our_rsne: &'a [u8],
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
    /// The certificate the server presented, once seen (accepted or refused).
    pub server_certificate: Option<&'a ServerCertificate>,
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
    /// The key handshake of the current RSN association.
    #[cfg(feature = "wpa")]
    wpa: Option<Handshake>,
    /// The 4-way handshake completed on this association: the controlled port is open.
    #[cfg(feature = "wpa")]
    port_open: bool,
    #[cfg(feature = "wpa")]
    pmksa: PmksaCache<PMKSA_CAPACITY>,
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
            #[cfg(feature = "wpa")]
            wpa: None,
            #[cfg(feature = "wpa")]
            port_open: false,
            #[cfg(feature = "wpa")]
            pmksa: PmksaCache::new(),
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
            server_certificate: self.method.server_certificate(),
            time: self.time,
            last_drop: self.last_drop,
        }
    }

    #[cfg(feature = "wpa")]
    /// The key handshake of the current RSN association (AKM, ciphers, PMF, state), if any.
    pub fn key_handshake(&self) -> Option<&Handshake> {
        self.wpa.as_ref()
    }

    #[cfg(feature = "wpa")]
    /// Whether the 4-way handshake completed on this association (the keys of the last
    /// [`KeyInstall`] with `port_open` are in force).
    pub fn port_open(&self) -> bool {
        self.port_open
    }

    #[cfg(feature = "wpa")]
    /// The PMKSA cache (PMKs of completed handshakes, by access point and AKM).
    pub fn pmksa_cache(&self) -> &PmksaCache<PMKSA_CAPACITY> {
        &self.pmksa
    }

    #[cfg(feature = "wpa")]
    /// The PMKSA cache, to flush or expire entries.
    pub fn pmksa_cache_mut(&mut self) -> &mut PmksaCache<PMKSA_CAPACITY> {
        &mut self.pmksa
    }

    #[cfg(feature = "wpa")]
    /// The PMKID to put in our RSNE's PMKID list for a (re)association to `aa` with `akm`: a
    /// live cached PMKSA that has not reached its re-authentication threshold (past it a full
    /// EAP authentication runs instead). `now.ms` is the cache's clock.
    pub fn pmkid_for(&self, now: Now, aa: MacAddr, akm: Akm) -> Option<Pmkid> {
        let now_s = now.ms / 1000;
        self.pmksa
            .get(&aa, akm, now_s)
            .filter(|e| !self.pmksa.needs_reauth(e, now_s))
            .map(|e| e.pmkid)
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
    ///
    /// With RSN information the key handshake is set up here: an association whose AKM,
    /// ciphers or PMF cannot run it fails at once ([`FailReason::Association`]). When our RSNE
    /// offers the PMKID of a cached PMKSA for this access point and AKM, the first EAPOL-Start
    /// waits one startPeriod: an AP that finds the PMKSA sends message 1 naming it, and the
    /// 4-way handshake runs with no EAP at all.
    #[must_use = "a failure to send is reported as an event"]
    pub fn associated<R: Radio>(
        &mut self,
        now: Now,
        assoc: Association<'_>,
        radio: &mut R,
    ) -> Option<Event> {
        info!("associated: authenticator latched");
        self.peer802 = Peer802::Associated(assoc.authenticator);
        self.own = Some(assoc.own);
        self.begin_conversation(now);
        self.state = PaeState::Connecting;
        self.start_count = 0;
        #[cfg(feature = "wpa")]
        {
            self.wpa = None;
            self.port_open = false;
        }
        #[cfg_attr(not(feature = "wpa"), allow(unused_mut))]
        let mut cached = false;
        #[cfg(feature = "wpa")]
        if let Some(rsn) = assoc.rsn {
            let wa = wpa::Association {
                aa: assoc.authenticator,
                spa: assoc.own,
                ap_rsne: rsn.ap_rsne,
                our_rsne: rsn.our_rsne,
            };
            let mut hs = match Handshake::new(&wa, None) {
                Ok(hs) => hs,
                Err(e) => return self.fail(now, FailReason::Association(e)),
            };
            hs.set_eapol_version(self.config.eapol_version);
            cached = self.offer_cached(now, &mut hs, rsn.our_rsne);
            self.wpa = Some(hs);
        }
        if cached {
            info!("PMKSA offered: waiting for message 1 before EAPOL-Start");
            self.deadline_ms = now.ms.saturating_add(self.config.start_period_ms);
            None
        } else {
            self.send_start(now, radio)
        }
    }

    #[cfg(feature = "wpa")]
    /// Arms `hs` with the cached PMKSA whose PMKID our RSNE offers, if one is live.
    fn offer_cached(&self, now: Now, hs: &mut Handshake, our_rsne: &[u8]) -> bool {
        let Ok(ours) = wpa::rsne::Rsne::parse(our_rsne) else {
            return false;
        };
        let now_s = now.ms / 1000;
        match self.pmksa.get(&hs.aa(), hs.akm(), now_s) {
            Some(e) if ours.pmkids.contains(&e.pmkid) => hs.use_cached(e).is_ok(),
            _ => false,
        }
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
        #[cfg(feature = "wpa")]
        {
            self.wpa = None;
            self.port_open = false;
        }
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
        // The authenticator unauthorizes the port: keys from here would be stale.
        #[cfg(feature = "wpa")]
        {
            self.port_open = false;
            if let Some(hs) = self.wpa.as_mut() {
                hs.forget_pmk();
            }
        }
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
        #[cfg(feature = "wpa")]
        if pkt.packet_type() == PacketType::Key && self.wpa.is_some() {
            return self.handle_key(now, src, frame, radio);
        }
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

    #[cfg(feature = "wpa")]
    /// An EAPOL-Key frame on an RSN association: to the key handshake, its reply to the
    /// authenticator, its keys to the platform.
    ///
    /// Never inlined (nor is [`Self::succeed`]): inlined into `handle_frame`, their key
    /// derivations' locals would sit under the TLS handshake's deepest call on a device's
    /// stack.
    #[inline(never)]
    fn handle_key<R: Radio>(
        &mut self,
        now: Now,
        src: MacAddr,
        frame: &[u8],
        radio: &mut R,
    ) -> Option<Event> {
        if self.peer802.addr() != Some(src) {
            debug!("EAPOL-Key frame from a station that is not our authenticator dropped");
            self.drops.foreign_source = self.drops.foreign_source.saturating_add(1);
            return None;
        }
        if matches!(
            self.state,
            PaeState::Held | PaeState::Logoff | PaeState::Disconnected
        ) {
            self.drops.while_idle = self.drops.while_idle.saturating_add(1);
            return None;
        }
        let hs = self.wpa.as_mut()?;
        let mut rng = ProviderRng(self.tls.config.crypto_provider().secure_random);
        let parts = self.bufs.parts();
        let step = match hs.receive(frame, &mut rng, parts.frame.as_mut_slice()) {
            Ok(step) => step,
            Err(reason) => return self.key_dropped(now, reason),
        };
        let Some(reply) = parts.frame.get(..step.reply_len) else {
            return self.fail(
                now,
                FailReason::Internal("EAPOL-Key reply beyond its buffer"),
            );
        };
        if let Err(e) = radio.send(src, reply) {
            return self.fail(now, FailReason::Radio(e.kind()));
        }
        debug!("EAPOL-Key reply sent, {} bytes", step.reply_len);
        if step.pmksa_used {
            info!("message 1 named our cached PMKSA: EAP skipped");
            self.state = PaeState::Authenticated;
        }
        let opened = step.complete && !self.port_open;
        let from_cache = hs.pmksa_in_use();
        let install = KeyInstall {
            pairwise: step.installs.ptk.map(|tk| (tk, hs.pairwise_cipher())),
            group: step.installs.gtk,
            group_cipher: hs.group_cipher(),
            integrity: step.installs.igtk,
            mgmt_cipher: hs.mgmt_cipher(),
            port_open: opened,
            from_pmksa_cache: from_cache,
        };
        if opened {
            self.port_open = true;
            if !from_cache {
                if let Some((pmkid, pmk)) = hs.pmksa() {
                    self.pmksa
                        .insert(hs.aa(), hs.akm(), pmkid, pmk, now.ms / 1000);
                }
            }
        }
        if install.pairwise.is_none()
            && install.group.is_none()
            && install.integrity.is_none()
            && !opened
        {
            // A retransmitted message answered: nothing is new (never reinstall a key).
            return None;
        }
        log_install(&install);
        Some(Event::InstallKeys(Box::new(install)))
    }

    #[cfg(feature = "wpa")]
    fn key_dropped(&mut self, now: Now, reason: wpa::DropReason) -> Option<Event> {
        warn_!("EAPOL-Key frame dropped: {}", reason.kind());
        self.drops.eapol_key.count(reason);
        if reason == wpa::DropReason::PmkidMismatch {
            // The AP did not take our PMKSA: forget it and let EAP run.
            if let Some(hs) = self.wpa.as_mut() {
                self.pmksa.remove(&hs.aa(), hs.akm());
                hs.forget_pmk();
            }
            return None;
        }
        if reason.is_fatal() {
            self.wpa = None;
            self.port_open = false;
            return self.fail(now, FailReason::KeyHandshake(reason));
        }
        None
    }

    #[inline(never)]
    fn succeed(&mut self, now: Now) -> Option<Event> {
        let Some(keys) = self.method.take_keys() else {
            return self.fail(
                now,
                FailReason::Internal("EAP-Success without derived keys"),
            );
        };
        self.state = PaeState::Authenticated;
        #[cfg(feature = "wpa")]
        if let Some(hs) = self.wpa.as_mut() {
            // The 4-way handshake starts from the PMK of this authentication.
            match keys.msk.pmk(hs.akm()) {
                Ok(pmk) => {
                    if hs.set_pmk(pmk).is_err() {
                        return self.fail(now, FailReason::Internal("PMK length"));
                    }
                }
                Err(_) => return self.fail(now, FailReason::Internal("PMK from the MSK")),
            }
        }
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
            server_certificate: self.method.server_certificate().cloned(),
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

#[cfg(feature = "wpa")]
/// Logs what is about to be installed, keys only as fingerprints.
#[cfg_attr(not(any(feature = "log", feature = "defmt")), allow(unused_variables))]
#[cfg(feature = "wpa")]
fn log_install(k: &KeyInstall) {
    let fp = crate::eap_tls::keys::fingerprint;
    if let Some((tk, _)) = &k.pairwise {
        info!("install PTK, fingerprint {}", fp(tk.as_bytes()));
    }
    if let Some(g) = &k.group {
        info!(
            "install GTK {}, fingerprint {}",
            g.key_id,
            fp(g.key.as_bytes())
        );
    }
    if let Some(i) = &k.integrity {
        info!(
            "install IGTK {}, fingerprint {}",
            i.key_id,
            fp(i.key.as_bytes())
        );
    }
    if k.port_open {
        info!("4-way handshake complete: port open");
    }
}

#[cfg(feature = "wpa")]
const RNG_FAILED: core::num::NonZeroU32 =
    match core::num::NonZeroU32::new(rand_core::Error::CUSTOM_START) {
        Some(n) => n,
        None => core::num::NonZeroU32::MIN,
    };

#[cfg(feature = "wpa")]
/// The platform's RNG, as the TLS engine's provider holds it, for the SNonce.
struct ProviderRng(&'static dyn rustls::crypto::SecureRandom);

#[cfg(feature = "wpa")]
impl rand_core::RngCore for ProviderRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // The handshake only calls try_fill_bytes, which reports a failed RNG (and the frame
        // is dropped with `rng-failed`); this type is private to that use.
        let _ = self.0.fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0
            .fill(dest)
            .map_err(|_| rand_core::Error::from(RNG_FAILED))
    }
}

#[cfg(feature = "wpa")]
impl rand_core::CryptoRng for ProviderRng {}

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
