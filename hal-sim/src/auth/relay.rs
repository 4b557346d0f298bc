//! An 802.1X authenticator that relays EAP between Latchkey's supplicant core and a real RADIUS
//! server over UDP (RFC 3579 §3, IEEE 802.1X-2010 §8 authenticator role): EAPOL from the
//! supplicant becomes EAP-Message in an Access-Request; Access-Challenge/-Accept/-Reject come
//! back as EAPOL. Retransmits with a bounded count and timeout; checks the MSK against MS-MPPE.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use latchkey_core::hal::MacAddr;
use latchkey_core::supplicant::{Event, Now, Supplicant};
use latchkey_core::{eap, eapol};
use zeroize::Zeroizing;

use crate::auth::radius::{self, attr, AccessRequest, Code, RadiusError, Reply};
use crate::cli::args::RadiusArgs;
use crate::cli::capture::Capture;
use crate::drive::{describe, drive, eapol_eap, Next, Transport};
use crate::hal::memory;
use crate::hal::memory::{SimRadio, AP_ADDR};

/// Why the relay could not finish the conversation (the supplicant's own failures are in
/// [`RelayOutcome::event`] instead).
#[derive(Debug)]
pub enum RelayError {
    /// The shared-secret file cannot be read (or is empty).
    SecretFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// No local UDP socket.
    Socket(std::io::Error),
    /// The server's host answered "port unreachable".
    Unreachable {
        /// The server.
        server: SocketAddr,
        /// The OS error.
        error: std::io::Error,
    },
    /// No reply within the timeout, every attempt.
    NoReply {
        /// The server.
        server: SocketAddr,
        /// Transmissions made.
        attempts: u32,
        /// Per-attempt timeout.
        timeout_ms: u64,
    },
    /// Replies came, but every one was refused (malformed, bad authenticator...).
    BadReply {
        /// The server.
        server: SocketAddr,
        /// Why the last one was refused.
        error: RadiusError,
    },
    /// The Access-Request could not be encoded (too large).
    Encode(RadiusError),
    /// An Access-Challenge carried no EAP-Message.
    ChallengeWithoutEap,
    /// The conversation did not end within its frame bound.
    Stalled,
    /// The conversation did not end within `--overall-timeout`.
    OverallTimeout {
        /// The limit, seconds.
        seconds: u64,
    },
}

impl std::fmt::Display for RelayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RelayError::SecretFile { path, error } => {
                write!(
                    f,
                    "cannot read the shared secret from {}: {error}",
                    path.display()
                )
            }
            RelayError::Socket(e) => write!(f, "cannot open a UDP socket: {e}"),
            RelayError::Unreachable { server, error } => write!(
                f,
                "RADIUS server {server} unreachable: {error} (nothing listens on that port)"
            ),
            RelayError::NoReply {
                server,
                attempts,
                timeout_ms,
            } => write!(
                f,
                "no reply from RADIUS server {server} after {attempts} attempts of {timeout_ms} ms \
                 (server down, or wrong shared secret: servers drop requests whose \
                 Message-Authenticator does not verify)"
            ),
            RelayError::BadReply { server, error } => {
                write!(
                    f,
                    "RADIUS server {server} sent no acceptable reply: {error}"
                )
            }
            RelayError::Encode(e) => write!(f, "cannot build the Access-Request: {e}"),
            RelayError::ChallengeWithoutEap => {
                f.write_str("RADIUS Access-Challenge without EAP-Message")
            }
            RelayError::Stalled => f.write_str("the EAP conversation did not end"),
            RelayError::OverallTimeout { seconds } => {
                write!(f, "no verdict within {seconds} s (--overall-timeout)")
            }
        }
    }
}

impl std::error::Error for RelayError {}

impl RelayError {
    /// A short, stable name of the cause (for `--json`).
    pub fn kind(&self) -> &'static str {
        match self {
            RelayError::SecretFile { .. } => "unreadable-file",
            RelayError::Socket(_) => "socket",
            RelayError::Unreachable { .. } => "radius-unreachable",
            RelayError::NoReply { .. } => "radius-no-reply",
            RelayError::BadReply { .. } => "radius-bad-reply",
            RelayError::Encode(_) => "radius-request",
            RelayError::ChallengeWithoutEap => "radius-bad-reply",
            RelayError::Stalled => "stalled",
            RelayError::OverallTimeout { .. } => "timeout",
        }
    }
}

/// What happened.
#[derive(Default)]
pub struct RelayOutcome {
    /// The supplicant's final event (None when the relay stopped first: see `error`).
    pub event: Option<Event>,
    /// Why the relay stopped before the supplicant decided, if it did.
    pub error: Option<RelayError>,
    /// The last RADIUS reply's code.
    pub last_code: Option<Code>,
    /// Access-Requests sent (not counting retransmissions): RADIUS round trips.
    pub round_trips: u32,
    /// Retransmissions.
    pub retransmissions: u32,
    /// Replies dropped (stale identifier, bad authenticator...).
    pub dropped_replies: u32,
    /// MS-MPPE-Recv-Key of the Access-Accept (MSK[0..32]).
    pub mppe_recv: Option<Zeroizing<Vec<u8>>>,
    /// MS-MPPE-Send-Key of the Access-Accept (MSK[32..64]).
    pub mppe_send: Option<Zeroizing<Vec<u8>>>,
    /// Reply-Message of the last reply.
    pub reply_message: Option<String>,
}

impl RelayOutcome {
    /// Whether the supplicant's MSK equals the MS-MPPE keys (None without both).
    pub fn msk_matches_mppe(&self) -> Option<bool> {
        let Some(Event::Authenticated(a)) = &self.event else {
            return None;
        };
        let (recv, send) = (self.mppe_recv.as_ref()?, self.mppe_send.as_ref()?);
        let mut both = Zeroizing::new(recv.to_vec());
        both.extend_from_slice(send);
        Some(recv.len() == 32 && send.len() == 32 && a.keys.msk.ct_eq(&both))
    }
}

struct Radius<'a> {
    socket: UdpSocket,
    args: &'a RadiusArgs,
    secret: Zeroizing<Vec<u8>>,
    next_id: u8,
    outcome: &'a mut RelayOutcome,
    log: &'a mut dyn FnMut(String),
    pcap: Option<&'a Capture>,
    /// The whole conversation's end (`--overall-timeout`): no wait goes beyond it.
    end: Instant,
}

impl Radius<'_> {
    /// Send `req` and wait for its verified reply, retransmitting on timeout.
    fn exchange(&mut self, req: &AccessRequest) -> Result<Reply, RelayError> {
        let bytes = req.encode(&self.secret).map_err(RelayError::Encode)?;
        self.outcome.round_trips += 1;
        let mut last_refused = None;
        let attempts = self.args.retries.saturating_add(1);
        // One datagram, bounded by RFC 2865's maximum (+1 to see an oversized one).
        let mut buf = [0u8; radius::MAX_PACKET + 1];
        for attempt in 0..attempts {
            if Instant::now() >= self.end {
                return Err(self.args.timed_out());
            }
            if attempt > 0 {
                self.outcome.retransmissions += 1;
                (self.log)(format!("  retransmitting Access-Request id={}", req.id));
            }
            let unreachable = |error| RelayError::Unreachable {
                server: self.args.server_addr(),
                error,
            };
            if let (Some(c), Ok(l), Ok(p)) =
                (self.pcap, self.socket.local_addr(), self.socket.peer_addr())
            {
                c.udp(l, p, &bytes);
            }
            match self.socket.send(&bytes) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err(unreachable(e))
                }
                Err(e) => return Err(RelayError::Socket(e)),
            }
            let deadline =
                (Instant::now() + Duration::from_millis(self.args.timeout_ms)).min(self.end);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                self.socket
                    .set_read_timeout(Some(left))
                    .map_err(RelayError::Socket)?;
                let n = match self.socket.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        return Err(unreachable(e))
                    }
                    Err(e) => return Err(RelayError::Socket(e)),
                };
                if let (Some(c), Ok(l), Ok(p)) =
                    (self.pcap, self.socket.local_addr(), self.socket.peer_addr())
                {
                    c.udp(p, l, &buf[..n]);
                }
                match radius::verify_reply(&buf[..n], req, &self.secret) {
                    Ok(r) => return Ok(r),
                    // A late answer to an earlier request: not an error, not ours.
                    Err(RadiusError::IdMismatch { .. }) => self.outcome.dropped_replies += 1,
                    // RFC 2865 §3: silently discard; remembered to explain a timeout.
                    Err(e) => {
                        self.outcome.dropped_replies += 1;
                        (self.log)(format!("  reply dropped: {e}"));
                        last_refused = Some(e);
                    }
                }
            }
        }
        if Instant::now() >= self.end {
            return Err(self.args.timed_out());
        }
        Err(match last_refused {
            Some(error) => RelayError::BadReply {
                server: self.args.server_addr(),
                error,
            },
            None => RelayError::NoReply {
                server: self.args.server_addr(),
                attempts,
                timeout_ms: self.args.timeout_ms,
            },
        })
    }
}

/// The longest a conversation may take, supplicant timers included.
pub(crate) const MAX_CONVERSATION: Duration = Duration::from_secs(120);

fn mac_text(m: [u8; 6]) -> Vec<u8> {
    m.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join("-")
        .into_bytes()
}

/// Authenticate `sup` through the RADIUS server: the authenticator asks for the identity on
/// EAPOL-Start, then relays every EAP packet until the supplicant reports its result (in
/// `event`) or the relay cannot go on (in `error`); the counters are kept either way. Each
/// frame and packet is described to `log` as it happens.
pub fn run(sup: &mut Supplicant, args: &RadiusArgs, log: &mut dyn FnMut(String)) -> RelayOutcome {
    run_captured(sup, args, None, log)
}

/// [`run`], writing every EAPOL frame (simulated station and authenticator MACs) and every
/// RADIUS datagram to `pcap`.
pub fn run_captured(
    sup: &mut Supplicant,
    args: &RadiusArgs,
    pcap: Option<&Capture>,
    log: &mut dyn FnMut(String),
) -> RelayOutcome {
    let mut outcome = RelayOutcome::default();
    match converse(sup, args, &mut outcome, pcap, log) {
        Ok(event) => outcome.event = Some(event),
        Err(e) => outcome.error = Some(e),
    }
    outcome
}

fn converse(
    sup: &mut Supplicant,
    args: &RadiusArgs,
    outcome: &mut RelayOutcome,
    pcap: Option<&Capture>,
    log: &mut dyn FnMut(String),
) -> Result<Event, RelayError> {
    let local: SocketAddr = if args.server_addr().is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let secret = args.shared_secret()?;
    let socket = UdpSocket::bind(local).map_err(RelayError::Socket)?;
    socket
        .connect(args.server_addr())
        .map_err(RelayError::Socket)?;
    let nas_ip = match socket.local_addr().map(|a| a.ip()) {
        Ok(std::net::IpAddr::V4(ip)) if !ip.is_unspecified() => ip.octets(),
        _ => [127, 0, 0, 1],
    };
    let t = Radius {
        socket,
        args,
        secret,
        next_id: rand::random(),
        outcome,
        log,
        pcap,
        end: Instant::now() + args.limit(),
    };
    let mut relay = Relay {
        t,
        radio: SimRadio::default(),
        start: Instant::now(),
        state: None,
        user_name: Vec::new(),
        identity_req_id: rand::random(),
        pending: VecDeque::new(),
        nas_ip,
        rounds: 0,
    };
    let event = drive(sup, &mut relay)?;
    let Relay {
        mut t,
        mut radio,
        state,
        user_name,
        ..
    } = relay;
    // What the supplicant sent with its verdict. When it refused the server (an unknown CA, a
    // name mismatch...), that is its EAP-TLS response carrying the TLS alert rustls produced:
    // relay it, so the server learns and logs why (FreeRADIUS: "TLS Alert read:fatal:unknown
    // CA"), as it does from wpa_supplicant. The verdict stands whatever the server answers.
    let failed = matches!(event, Some(Event::Failed(_)));
    while let Some((dst, frame)) = radio.outbox.pop_front() {
        (t.log)(format!("supplicant -> authenticator: {}", describe(&frame)));
        if let Some(c) = t.pcap {
            c.eapol(memory::STA_ADDR, dst, &frame);
        }
        let Ok(frame) = eapol::Packet::new_checked(frame.as_slice()) else {
            continue;
        };
        let eap = frame.body();
        if !failed
            || frame.packet_type() != eapol::PacketType::EapPacket
            || eap::Packet::new_unchecked(eap).code() != eap::Code::Response
        {
            continue;
        }
        let req = access_request(&mut t, eap.to_vec(), &user_name, state.as_ref(), nas_ip);
        (t.log)(format!(
            "authenticator -> RADIUS {}: Access-Request id={} (our alert, {} bytes of EAP)",
            args.server_addr(),
            req.id,
            req.eap.len()
        ));
        match t.exchange(&req) {
            Ok(reply) => {
                // Logged only: `last_code` stays the reply that led to the verdict (the
                // server's answer to our alert is its Access-Reject for our refusal).
                (t.log)(format!(
                    "RADIUS -> authenticator: {} id={} (after our alert)",
                    reply.code, req.id
                ));
            }
            Err(e) => (t.log)(format!("  our alert was not answered: {e}")),
        }
    }
    event.ok_or(RelayError::Stalled)
}

/// The relay as the supplicant's other side: EAPOL frames from the supplicant become
/// Access-Requests, the server's answers come back as EAPOL frames, on the host's clock.
struct Relay<'a> {
    t: Radius<'a>,
    radio: SimRadio,
    start: Instant,
    /// The server's State, echoed in the next Access-Request.
    state: Option<Vec<u8>>,
    /// User-Name: the identity of the supplicant's last EAP-Response/Identity.
    user_name: Vec<u8>,
    identity_req_id: u8,
    /// The authenticator's frames for the supplicant, delivered first.
    pending: VecDeque<Vec<u8>>,
    nas_ip: [u8; 4],
    /// Deliveries, relayed frames and timer waits: at most [`MAX_ROUNDS`].
    rounds: usize,
}

/// A conversation's bound: deliveries, relayed frames and timer waits.
const MAX_ROUNDS: usize = 400;

impl Transport for Relay<'_> {
    type Radio = SimRadio;
    type Error = RelayError;

    fn radio(&mut self) -> &mut SimRadio {
        &mut self.radio
    }

    fn now(&mut self) -> Now {
        Now {
            ms: self.start.elapsed().as_millis() as u64,
            unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs()),
        }
    }

    fn next(&mut self, deadline: Option<u64>) -> Result<Next, RelayError> {
        let args = self.t.args;
        loop {
            if self.rounds >= MAX_ROUNDS {
                return Ok(Next::End);
            }
            self.rounds += 1;
            if self.start.elapsed() > args.limit() {
                return Err(args.timed_out());
            }
            // Deliver what the authenticator has for the supplicant first.
            if let Some(down) = self.pending.pop_front() {
                (self.t.log)(format!("authenticator -> supplicant: {}", describe(&down)));
                if let Some(c) = self.t.pcap {
                    c.eapol(AP_ADDR, memory::STA_ADDR, &down);
                }
                return Ok(Next::Frame(AP_ADDR, down));
            }
            let Some((dst, frame)) = self.radio.outbox.pop_front() else {
                // Nothing to send and nothing to deliver: the supplicant waits for a timer
                // (authPeriod, heldPeriod...). Sleep until it is due, within a bound.
                let Some(due) = deadline else {
                    return Err(RelayError::Stalled);
                };
                let wait = due.saturating_sub(self.now().ms);
                if self.start.elapsed() + Duration::from_millis(wait) > args.limit() {
                    return Err(args.timed_out());
                }
                std::thread::sleep(Duration::from_millis(wait));
                return Ok(Next::Timer);
            };
            self.relay(dst, &frame)?;
        }
    }
}

impl Relay<'_> {
    /// One frame from the supplicant: an EAPOL-Start is answered with an Identity request, an
    /// EAP packet goes to the server and its answer is queued for the supplicant.
    fn relay(&mut self, dst: MacAddr, frame: &[u8]) -> Result<(), RelayError> {
        let args = self.t.args;
        (self.t.log)(format!("supplicant -> authenticator: {}", describe(frame)));
        if let Some(c) = self.t.pcap {
            c.eapol(memory::STA_ADDR, dst, frame);
        }
        let Ok(frame) = eapol::Packet::new_checked(frame) else {
            return Ok(());
        };
        let eap = match frame.packet_type() {
            eapol::PacketType::Start => {
                // EAPOL-Start: the authenticator asks for the identity itself (as hostapd does).
                self.identity_req_id = self.identity_req_id.wrapping_add(1);
                self.pending
                    .push_back(eapol_eap(&[1, self.identity_req_id, 0, 5, 1]));
                return Ok(());
            }
            eapol::PacketType::EapPacket => frame.body().to_vec(),
            _ => return Ok(()),
        };
        let packet = eap::Packet::new_unchecked(eap.as_slice());
        if packet.code() == eap::Code::Response && packet.eap_type() == Some(eap::Type::Identity) {
            self.user_name = packet.type_data().to_vec();
            self.user_name.truncate(radius::MAX_ATTR_VALUE);
            self.state = None;
        }
        let eap_id = packet.identifier();
        let req = access_request(
            &mut self.t,
            eap,
            &self.user_name,
            self.state.as_ref(),
            self.nas_ip,
        );
        (self.t.log)(format!(
            "authenticator -> RADIUS {}: Access-Request id={} ({} bytes of EAP)",
            args.server_addr(),
            req.id,
            req.eap.len()
        ));
        let reply = self.t.exchange(&req)?;
        (self.t.log)(format!(
            "RADIUS -> authenticator: {} id={}{}",
            reply.code,
            req.id,
            reply
                .reply_message
                .as_ref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ));
        self.t.outcome.last_code = Some(reply.code);
        self.t.outcome.reply_message = reply.reply_message.clone();
        match reply.code {
            Code::AccessChallenge => {
                self.state = reply.state;
                let eap = reply.eap.ok_or(RelayError::ChallengeWithoutEap)?;
                self.pending.push_back(eapol_eap(&eap));
            }
            Code::AccessAccept => {
                self.t.outcome.mppe_recv = reply.mppe_recv;
                self.t.outcome.mppe_send = reply.mppe_send;
                // No EAP-Message: the authenticator says Success itself (RFC 3579 §2.6.3).
                self.pending
                    .push_back(eapol_eap(&reply.eap.unwrap_or(vec![3, eap_id, 0, 4])));
            }
            _ => {
                self.pending
                    .push_back(eapol_eap(&reply.eap.unwrap_or(vec![4, eap_id, 0, 4])));
            }
        }
        Ok(())
    }
}

/// The Access-Request carrying `eap` (RFC 3579 §3, RFC 3580 attributes for 802.11), with the
/// server's State echoed; takes the next RADIUS identifier.
fn access_request(
    t: &mut Radius<'_>,
    eap: Vec<u8>,
    user_name: &[u8],
    state: Option<&Vec<u8>>,
    nas_ip: [u8; 4],
) -> AccessRequest {
    let mut attributes = vec![
        (attr::USER_NAME, user_name.to_vec()),
        (attr::NAS_IP_ADDRESS, nas_ip.to_vec()),
        (attr::NAS_IDENTIFIER, b"latchkey-sim".to_vec()),
        (attr::CALLED_STATION_ID, {
            let mut v = mac_text(AP_ADDR);
            v.extend_from_slice(b":latchkey");
            v
        }),
        (
            attr::CALLING_STATION_ID,
            mac_text(t.args.calling_station_id.unwrap_or(memory::STA_ADDR)),
        ),
        // IEEE 802.11 wireless (RFC 2865 §5.41 values, RFC 3580 §3.4).
        (attr::NAS_PORT_TYPE, 19u32.to_be_bytes().to_vec()),
        (attr::FRAMED_MTU, 1400u32.to_be_bytes().to_vec()),
    ];
    if let Some(s) = state {
        attributes.push((attr::STATE, s.clone()));
    }
    attributes.extend(t.args.attributes.iter().cloned());
    let req = AccessRequest {
        id: t.next_id,
        authenticator: rand::random(),
        attributes,
        eap,
    };
    t.next_id = t.next_id.wrapping_add(1);
    req
}
