//! The simulated authenticator's EAP server: EAP-TLS (RFC 5216 / RFC 9190) on top of a real
//! rustls `ServerConnection`, with its own fragmentation. It is written independently of
//! `latchkey-core`'s codecs on purpose, so the two check each other.

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ProtocolVersion, ServerConnection};

const EAP_REQUEST: u8 = 1;
const EAP_RESPONSE: u8 = 2;
const EAP_SUCCESS: u8 = 3;
const EAP_FAILURE: u8 = 4;
const TYPE_IDENTITY: u8 = 1;
const TYPE_NAK: u8 = 3;
const TYPE_TLS: u8 = 13;
const FLAG_L: u8 = 0x80;
const FLAG_M: u8 = 0x40;
const FLAG_S: u8 = 0x20;

/// How the simulated server behaves on the wire.
#[derive(Clone, Debug)]
pub struct ServerBehaviour {
    /// EAP-TLS payload bytes per request fragment.
    pub fragment_size: usize,
    /// Put the L field on every fragment instead of only the first.
    pub length_on_every_fragment: bool,
    /// Send EAP-Success right after the server's last TLS flight, without waiting for the
    /// peer's ACK (an attack on the peer's decision rules: it must be refused).
    pub early_success: bool,
    /// A rogue server's misbehaviour on the EAP / EAP-TLS layer, if any.
    pub rogue: Option<WireRogue>,
    /// When the peer's flight fails TLS (e.g. a revoked client certificate), answer with a bare
    /// EAP-Failure instead of the TLS alert first, as hostapd 2.10 and FreeRADIUS 3.2.1 do.
    pub failure_without_alert: bool,
}

impl Default for ServerBehaviour {
    fn default() -> Self {
        ServerBehaviour {
            fragment_size: 1024,
            length_on_every_fragment: false,
            early_success: false,
            rogue: None,
            failure_without_alert: false,
        }
    }
}

/// What a rogue server does on the EAP / EAP-TLS layer (the certificate rogues are server
/// configurations, see `crate::rogue`). Each one replaces the answer to the ClientHello,
/// except the identity storm, which happens before EAP-TLS starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireRogue {
    /// Answer the ClientHello with a fatal TLS alert of this description.
    Alert(u8),
    /// Send EAP-Failure while EAP-TLS is running, then fall silent.
    EarlyFailure,
    /// Ask for this other EAP method (e.g. 4, MD5-Challenge) after EAP-TLS started.
    SwitchMethod(u8),
    /// Announce a TLS message of this many bytes (L flag) in the first fragment.
    OversizeLength(u32),
    /// Send this many extra Identity requests before starting EAP-TLS.
    IdentityStorm(u8),
}

/// Keys as the server derives them with rustls' exporter.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerKeys {
    /// Master Session Key (64 bytes).
    pub msk: Vec<u8>,
    /// Extended MSK (64 bytes).
    pub emsk: Vec<u8>,
    /// Session-Id (0x0D || ...).
    pub session_id: Vec<u8>,
}

/// What the server does next.
#[derive(Debug)]
pub enum ServerAction {
    /// Send this EAP packet (a Request) to the peer.
    Request(Vec<u8>),
    /// Send this EAP-Success; the authentication is done.
    Success(Vec<u8>),
    /// Send this EAP-Failure; the authentication failed for the reason given.
    Failure(Vec<u8>, String),
}

/// A step the server logs (for the demo and for tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// The peer said who it is.
    Identity(String),
    /// The peer Nak'ed, proposing these types.
    Nak(Vec<u8>),
    /// A fragment went out.
    SentFragment {
        /// Payload bytes.
        len: usize,
        /// L field present.
        with_length: bool,
        /// More fragments follow.
        more: bool,
    },
    /// A fragment came in.
    ReceivedFragment {
        /// Payload bytes.
        len: usize,
        /// More fragments follow.
        more: bool,
    },
    /// An ACK came in.
    ReceivedAck,
    /// The TLS handshake completed.
    HandshakeDone {
        /// Negotiated version.
        version: String,
        /// Negotiated suite.
        suite: String,
    },
    /// The TLS 1.3 commitment message went out.
    CommitmentSent,
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Identity,
    TlsStart,
    /// Receiving the peer's TLS message (possibly fragmented).
    Receiving,
    /// Sending our TLS message in fragments.
    Sending,
    /// Our last flight is out; waiting for the peer's final ACK.
    Finishing,
    Failing(String),
    Done,
}

/// The EAP server side of one authentication.
pub struct EapServer {
    conn: ServerConnection,
    behaviour: ServerBehaviour,
    phase: Phase,
    id: u8,
    last_request: Vec<u8>,
    outgoing: Vec<u8>,
    out_pos: usize,
    incoming: Vec<u8>,
    client_random: Option<[u8; 32]>,
    server_random: Option<[u8; 32]>,
    keys: Option<ServerKeys>,
    /// Everything that happened, in order.
    pub events: Vec<ServerEvent>,
    /// Number of EAP requests sent (round trips).
    pub requests_sent: usize,
    /// Largest EAP-TLS message (reassembled) received from the peer.
    pub largest_peer_message: usize,
    identity_requests: u8,
}

fn eap(code: u8, id: u8, body: &[u8]) -> Vec<u8> {
    let len = (4 + body.len()) as u16;
    let mut v = vec![code, id, (len >> 8) as u8, len as u8];
    v.extend_from_slice(body);
    v
}

impl EapServer {
    /// A server for one authentication with this rustls configuration.
    pub fn new(
        config: Arc<rustls::ServerConfig>,
        behaviour: ServerBehaviour,
    ) -> Result<Self, rustls::Error> {
        Ok(EapServer {
            conn: ServerConnection::new(config)?,
            behaviour,
            phase: Phase::Identity,
            id: 0,
            last_request: Vec::new(),
            outgoing: Vec::new(),
            out_pos: 0,
            incoming: Vec::new(),
            client_random: None,
            server_random: None,
            keys: None,
            events: Vec::new(),
            requests_sent: 0,
            largest_peer_message: 0,
            identity_requests: 0,
        })
    }

    /// The first request: EAP-Request/Identity.
    pub fn start(&mut self) -> Vec<u8> {
        self.request(&[TYPE_IDENTITY])
    }

    /// The last request sent (for retransmission tests).
    pub fn last_request(&self) -> &[u8] {
        &self.last_request
    }

    /// The keys, once the authentication succeeded.
    pub fn keys(&self) -> Option<&ServerKeys> {
        self.keys.as_ref()
    }

    /// The client certificate chain the server received, if any.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    /// The negotiated TLS version.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.conn.protocol_version()
    }

    fn request(&mut self, body: &[u8]) -> Vec<u8> {
        self.id = self.id.wrapping_add(1);
        let pkt = eap(EAP_REQUEST, self.id, body);
        self.last_request = pkt.clone();
        self.requests_sent += 1;
        pkt
    }

    fn fail(&mut self, why: String) -> ServerAction {
        self.phase = Phase::Done;
        ServerAction::Failure(eap(EAP_FAILURE, self.id, &[]), why)
    }

    /// Handle one EAP packet from the peer.
    pub fn handle(&mut self, pkt: &[u8]) -> ServerAction {
        if pkt.len() < 5 || pkt[0] != EAP_RESPONSE {
            return self.fail(format!("server: not an EAP-Response ({} bytes)", pkt.len()));
        }
        let len = u16::from_be_bytes([pkt[2], pkt[3]]) as usize;
        if len > pkt.len() || len < 5 {
            return self.fail("server: bad EAP length".into());
        }
        if pkt[1] != self.id {
            // A response to an older request: a real server silently discards it.
            return ServerAction::Request(self.last_request.clone());
        }
        let typ = pkt[4];
        let data = &pkt[5..len];
        match (&self.phase, typ) {
            (Phase::Identity, TYPE_IDENTITY) => {
                self.events.push(ServerEvent::Identity(
                    String::from_utf8_lossy(data).into_owned(),
                ));
                if let Some(WireRogue::IdentityStorm(n)) = self.behaviour.rogue {
                    if self.identity_requests < n {
                        self.identity_requests += 1;
                        return ServerAction::Request(self.request(&[TYPE_IDENTITY]));
                    }
                }
                self.phase = Phase::TlsStart;
                ServerAction::Request(self.request(&[TYPE_TLS, FLAG_S]))
            }
            (_, TYPE_NAK) => {
                self.events.push(ServerEvent::Nak(data.to_vec()));
                self.fail("server: peer refused EAP-TLS".into())
            }
            (_, TYPE_TLS) => self.handle_tls(data),
            _ => self.fail(format!(
                "server: unexpected EAP type {typ} in phase {:?}",
                self.phase
            )),
        }
    }

    fn handle_tls(&mut self, data: &[u8]) -> ServerAction {
        let Some((&flags, mut rest)) = data.split_first() else {
            return self.fail("server: EAP-TLS response without flags".into());
        };
        if flags & FLAG_L != 0 {
            if rest.len() < 4 {
                return self.fail("server: truncated L field".into());
            }
            rest = &rest[4..];
        }
        let is_ack = rest.is_empty() && flags & FLAG_M == 0;
        match self.phase {
            Phase::Sending if is_ack => {
                self.events.push(ServerEvent::ReceivedAck);
                self.send_next_fragment()
            }
            Phase::Finishing if is_ack => {
                self.events.push(ServerEvent::ReceivedAck);
                self.phase = Phase::Done;
                match self.derive_keys() {
                    Ok(keys) => {
                        self.keys = Some(keys);
                        ServerAction::Success(eap(EAP_SUCCESS, self.id, &[]))
                    }
                    Err(e) => self.fail(format!("server: key export failed: {e}")),
                }
            }
            Phase::Failing(ref why) if is_ack => {
                let why = why.clone();
                self.fail(why)
            }
            Phase::TlsStart | Phase::Receiving => {
                self.phase = Phase::Receiving;
                self.events.push(ServerEvent::ReceivedFragment {
                    len: rest.len(),
                    more: flags & FLAG_M != 0,
                });
                self.incoming.extend_from_slice(rest);
                if flags & FLAG_M != 0 {
                    return ServerAction::Request(self.request(&[TYPE_TLS, 0]));
                }
                let msg = std::mem::take(&mut self.incoming);
                self.largest_peer_message = self.largest_peer_message.max(msg.len());
                if self.client_random.is_none() {
                    if let Some(action) = self.rogue_answer(&msg) {
                        return action;
                    }
                }
                self.process_peer_message(&msg)
            }
            _ => self.fail(format!(
                "server: unexpected EAP-TLS response in phase {:?}",
                self.phase
            )),
        }
    }

    /// A rogue server's answer to the ClientHello, if it misbehaves there.
    fn rogue_answer(&mut self, client_hello: &[u8]) -> Option<ServerAction> {
        let rogue = self.behaviour.rogue.clone()?;
        self.client_random = hello_random(client_hello, 1);
        Some(match rogue {
            WireRogue::Alert(desc) => {
                // A TLS 1.2-framed fatal alert record (RFC 5246 §6.2.1, §7.2).
                self.phase = Phase::Done;
                ServerAction::Request(self.request(&[TYPE_TLS, 0, 21, 3, 3, 0, 2, 2, desc]))
            }
            WireRogue::EarlyFailure => self.fail("rogue: EAP-Failure in mid-handshake".into()),
            WireRogue::SwitchMethod(t) => {
                // MD5-Challenge shape (RFC 3748 §5.4): value size, value.
                let mut body = vec![t, 16];
                body.extend_from_slice(&[0x5a; 16]);
                ServerAction::Request(self.request(&body))
            }
            WireRogue::OversizeLength(len) => {
                let mut body = vec![TYPE_TLS, FLAG_L | FLAG_M];
                body.extend_from_slice(&len.to_be_bytes());
                body.extend_from_slice(&[22; 64]);
                ServerAction::Request(self.request(&body))
            }
            WireRogue::IdentityStorm(_) => return None,
        })
    }

    fn process_peer_message(&mut self, msg: &[u8]) -> ServerAction {
        if self.client_random.is_none() {
            self.client_random = hello_random(msg, 1);
        }
        let mut rd = msg;
        let mut tls_error = None;
        while !rd.is_empty() {
            if let Err(e) = self.conn.read_tls(&mut rd) {
                tls_error = Some(e.to_string());
                break;
            }
            if let Err(e) = self.conn.process_new_packets() {
                tls_error = Some(e.to_string());
                break;
            }
        }
        // Whatever the state, drain what rustls wants to send (a flight or an alert).
        let mut out = Vec::new();
        let was_handshaking = self.conn.is_handshaking();
        if tls_error.is_none()
            && !was_handshaking
            && self.conn.protocol_version() == Some(ProtocolVersion::TLSv1_3)
        {
            // RFC 9190 §2.5: the commitment message, one application-data byte 0x00.
            if self.conn.writer().write_all(&[0]).is_ok() {
                self.events.push(ServerEvent::CommitmentSent);
            }
        }
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut out).is_err() {
                break;
            }
        }
        // Drain any application data the peer sent (EAP-TLS peers send none).
        let mut sink = [0u8; 64];
        let _ = self.conn.reader().read(&mut sink);
        if self.server_random.is_none() {
            self.server_random = hello_random(&out, 2);
        }
        if let Some(e) = tls_error {
            if out.is_empty() || self.behaviour.failure_without_alert {
                return self.fail(format!("server: TLS error: {e}"));
            }
            self.phase = Phase::Failing(format!("server: TLS error: {e}"));
            return self.begin_sending(out);
        }
        if !self.conn.is_handshaking() {
            self.events.push(ServerEvent::HandshakeDone {
                version: format!("{:?}", self.conn.protocol_version()),
                suite: self
                    .conn
                    .negotiated_cipher_suite()
                    .map(|s| format!("{:?}", s.suite()))
                    .unwrap_or_default(),
            });
        }
        if out.is_empty() {
            return self.fail("server: nothing to send but handshake not done".into());
        }
        self.begin_sending(out)
    }

    fn begin_sending(&mut self, out: Vec<u8>) -> ServerAction {
        self.outgoing = out;
        self.out_pos = 0;
        if !matches!(self.phase, Phase::Failing(_)) {
            self.phase = Phase::Sending;
        }
        self.send_next_fragment()
    }

    fn send_next_fragment(&mut self) -> ServerAction {
        let total = self.outgoing.len();
        let remaining = total - self.out_pos;
        let n = remaining.min(self.behaviour.fragment_size);
        let more = self.out_pos + n < total;
        let first = self.out_pos == 0;
        let with_length = (first && more)
            || (self.behaviour.length_on_every_fragment && total > self.behaviour.fragment_size);
        let mut body = vec![
            TYPE_TLS,
            (if with_length { FLAG_L } else { 0 }) | (if more { FLAG_M } else { 0 }),
        ];
        if with_length {
            body.extend_from_slice(&(total as u32).to_be_bytes());
        }
        body.extend_from_slice(&self.outgoing[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        self.events.push(ServerEvent::SentFragment {
            len: n,
            with_length,
            more,
        });
        let req = self.request(&body);
        if !more {
            match self.phase {
                Phase::Failing(_) => {}
                _ if !self.conn.is_handshaking() => {
                    self.phase = Phase::Finishing;
                    if self.behaviour.early_success {
                        return ServerAction::Success(eap(EAP_SUCCESS, self.id, &[]));
                    }
                }
                _ => self.phase = Phase::Receiving,
            }
        }
        ServerAction::Request(req)
    }

    fn derive_keys(&self) -> Result<ServerKeys, rustls::Error> {
        let mut km = [0u8; 128];
        let session_id = if self.conn.protocol_version() == Some(ProtocolVersion::TLSv1_3) {
            self.conn.export_keying_material(
                &mut km,
                b"EXPORTER_EAP_TLS_Key_Material",
                Some(&[0x0d]),
            )?;
            let mut method_id = [0u8; 64];
            self.conn.export_keying_material(
                &mut method_id,
                b"EXPORTER_EAP_TLS_Method-Id",
                Some(&[0x0d]),
            )?;
            let mut s = vec![0x0d];
            s.extend_from_slice(&method_id);
            s
        } else {
            self.conn
                .export_keying_material(&mut km, b"client EAP encryption", None)?;
            let (Some(cr), Some(sr)) = (self.client_random, self.server_random) else {
                return Err(rustls::Error::General("randoms not seen".into()));
            };
            let mut s = vec![0x0d];
            s.extend_from_slice(&cr);
            s.extend_from_slice(&sr);
            s
        };
        Ok(ServerKeys {
            msk: km[..64].to_vec(),
            emsk: km[64..].to_vec(),
            session_id,
        })
    }
}

/// The random of a ClientHello (`hs_type` 1) or ServerHello (2) at the start of a TLS stream.
fn hello_random(stream: &[u8], hs_type: u8) -> Option<[u8; 32]> {
    // record: type(1)=22 version(2) length(2); handshake: type(1) length(3) version(2) random(32)
    if stream.len() < 43 || stream[0] != 22 || stream[5] != hs_type {
        return None;
    }
    stream[11..43].try_into().ok()
}
