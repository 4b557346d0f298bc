//! The simulated link: a supplicant (`latchkey-core`, through its HAL traits) and an
//! authenticator running [`crate::auth::server::EapServer`], exchanging EAPOL frames in memory
//! with a virtual clock. Every frame is recorded as a [`Step`] so the demo and tests can see it
//! all.

use std::collections::VecDeque;
use std::sync::Arc;

use latchkey_core::eapol;
use latchkey_core::supplicant::{Config, Event, Now, Supplicant};
use latchkey_core::tls::VersionPolicy;
use rustls::pki_types::CertificateDer;

use crate::auth::server::{EapServer, ServerAction, ServerBehaviour, ServerEvent, ServerKeys};
use crate::auth::tls::{clear_seen, server_config_revoking, take_seen};
use crate::drive::{drive, eapol_eap, Direction, Next, Step, Transport};
use crate::hal::memory::{client, SimRadio, AP_ADDR};
use crate::pki::TestPki;

#[derive(Clone, Debug)]
pub struct Scenario {
    /// Versions the supplicant offers.
    pub client_versions: VersionPolicy,
    /// Versions the server accepts.
    pub server_versions: VersionPolicy,
    /// Supplicant settings.
    pub config: Config,
    /// Server wire behaviour.
    pub server: ServerBehaviour,
    /// Frames the authenticator sends the supplicant before the conversation (attacks).
    pub injected_first: Vec<Vec<u8>>,
    /// Client certificate serials the server's CRL revokes.
    pub revoked_serials: Vec<u64>,
    /// The supplicant's wall clock.
    pub clock: Clock,
}

/// The wall clock the simulated device has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// The host's clock.
    #[default]
    Host,
    /// A fixed wall-clock time (Unix seconds).
    At(u64),
    /// No wall clock at all (only the configured time floor, if any).
    None,
}

impl Default for Scenario {
    fn default() -> Self {
        let mut config = Config::default();
        config.peer.identity =
            heapless::String::try_from("device-0001@latchkey.test").unwrap_or_default();
        Scenario {
            client_versions: VersionPolicy::Both,
            server_versions: VersionPolicy::Both,
            config,
            server: ServerBehaviour::default(),
            injected_first: Vec::new(),
            revoked_serials: Vec::new(),
            clock: Clock::Host,
        }
    }
}

/// What happened.
pub struct Outcome {
    /// The supplicant's final event (None: the conversation stalled).
    pub event: Option<Event>,
    /// Keys the server derived with rustls' exporter, if it sent EAP-Success.
    pub server_keys: Option<ServerKeys>,
    /// The server's log.
    pub server_events: Vec<ServerEvent>,
    /// Every frame, in order.
    pub steps: Vec<Step>,
    /// The client certificate the server saw, if any.
    pub client_cert_seen: Option<CertificateDer<'static>>,
    /// The signature scheme of the client's CertificateVerify, if the server checked one.
    pub client_scheme_seen: Option<rustls::SignatureScheme>,
    /// The server's failure reason, if it sent EAP-Failure.
    pub server_failure: Option<String>,
    /// Requests the server sent (EAP round trips).
    pub server_requests: usize,
    /// Largest EAP-TLS message (reassembled) the server received.
    pub largest_client_message: usize,
    /// Frames the supplicant dropped, by reason.
    pub drops: latchkey_core::supplicant::DropCounters,
}

/// Run one authentication to its end (or a bound of 500 frames).
pub fn run(pki: &TestPki, scenario: &Scenario) -> Result<Outcome, String> {
    let mut sup = client(pki, &scenario.config, scenario.client_versions)?;
    let server = server_config_revoking(pki, scenario.server_versions, &scenario.revoked_serials)?;
    run_on(&mut sup, &server, scenario)
}

/// Run one authentication with an explicit supplicant and server configuration.
pub fn run_with(
    mut sup: Supplicant,
    server_cfg: &Arc<rustls::ServerConfig>,
    scenario: &Scenario,
) -> Result<Outcome, String> {
    run_on(&mut sup, server_cfg, scenario)
}

/// Run one (re-)authentication on an existing supplicant: it keeps its configuration and its
/// slot table between runs, as a device does between two connections.
pub fn run_on(
    sup: &mut Supplicant,
    server_cfg: &Arc<rustls::ServerConfig>,
    scenario: &Scenario,
) -> Result<Outcome, String> {
    clear_seen();
    let mut server =
        EapServer::new(server_cfg.clone(), scenario.server.clone()).map_err(|e| e.to_string())?;
    let unix = match scenario.clock {
        Clock::Host => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .ok(),
        Clock::At(t) => Some(t),
        Clock::None => None,
    };
    let mut link = InMemory {
        server: &mut server,
        injected_first: &scenario.injected_first,
        radio: SimRadio::default(),
        steps: Vec::new(),
        pending: VecDeque::new(),
        clock_ms: 0,
        jump_to: None,
        unix,
        rounds: 0,
        server_done: false,
        server_failure: None,
    };
    let event = match drive(sup, &mut link) {
        Ok(event) => event,
        Err(never) => match never {},
    };
    let InMemory {
        mut radio,
        mut steps,
        server_failure,
        ..
    } = link;
    // Deliver what the supplicant sent last (e.g. its final ACK or an alert) for the record.
    while let Some((_dst, frame)) = radio.outbox.pop_front() {
        steps.push(Step {
            dir: Direction::Up,
            frame,
        });
    }
    let (client_cert_seen, client_scheme_seen) = take_seen();
    Ok(Outcome {
        event,
        server_keys: server.keys().cloned(),
        client_cert_seen,
        client_scheme_seen,
        server_events: server.events.clone(),
        steps,
        server_failure,
        server_requests: server.requests_sent,
        largest_client_message: server.largest_peer_message,
        drops: sup.drops(),
    })
}

/// Frames exchanged one at a time with the simulated authenticator, on a virtual clock.
struct InMemory<'a> {
    server: &'a mut EapServer,
    injected_first: &'a [Vec<u8>],
    radio: SimRadio,
    steps: Vec<Step>,
    /// The authenticator's frames for the supplicant, delivered in order.
    pending: VecDeque<Vec<u8>>,
    clock_ms: u64,
    /// Where virtual time jumps at the next reading (the supplicant's timer).
    jump_to: Option<u64>,
    unix: Option<u64>,
    /// Frames taken from the supplicant plus timer polls: at most [`MAX_ROUNDS`].
    rounds: usize,
    server_done: bool,
    server_failure: Option<String>,
}

/// A run's bound: frames the authenticator takes plus timer polls.
const MAX_ROUNDS: usize = 500;

impl Transport for InMemory<'_> {
    type Radio = SimRadio;
    type Error = std::convert::Infallible;

    fn radio(&mut self) -> &mut SimRadio {
        &mut self.radio
    }

    /// Every reading advances the virtual clock by 1 ms, or to the timer being polled.
    fn now(&mut self) -> Now {
        let to = self.jump_to.take().unwrap_or(self.clock_ms + 1);
        self.clock_ms = to.max(self.clock_ms + 1);
        Now {
            ms: self.clock_ms,
            unix: self.unix,
        }
    }

    fn next(&mut self, deadline: Option<u64>) -> Result<Next, Self::Error> {
        loop {
            if let Some(f) = self.pending.pop_front() {
                self.steps.push(Step {
                    dir: Direction::Down,
                    frame: f.clone(),
                });
                return Ok(Next::Frame(AP_ADDR, f));
            }
            if self.rounds >= MAX_ROUNDS {
                return Ok(Next::End);
            }
            self.rounds += 1;
            let Some((_dst, frame)) = self.radio.outbox.pop_front() else {
                // Nothing to deliver: let the supplicant's timers run (virtual time jumps to
                // its next deadline), as a device waiting on a silent authenticator would.
                return Ok(match deadline {
                    Some(t) => {
                        self.jump_to = Some(t);
                        Next::Timer
                    }
                    None => Next::End,
                });
            };
            self.steps.push(Step {
                dir: Direction::Up,
                frame: frame.clone(),
            });
            if !self.server_done {
                self.answer(&frame);
            }
        }
    }
}

impl InMemory<'_> {
    /// The authenticator: EAPOL-Start opens the conversation, EAP-Packets go to the server.
    fn answer(&mut self, frame: &[u8]) {
        let eapol = eapol::Packet::new_checked(frame);
        let reply = match eapol.as_ref().map(eapol::Packet::packet_type) {
            Ok(eapol::PacketType::Start) => {
                let mut frames: Vec<Vec<u8>> = self.injected_first.to_vec();
                frames.push(self.server.start());
                frames
            }
            Ok(eapol::PacketType::EapPacket) => {
                match self
                    .server
                    .handle(eapol.as_ref().map(eapol::Packet::body).unwrap_or_default())
                {
                    ServerAction::Request(p) => vec![p],
                    ServerAction::Success(p) => {
                        self.server_done = true;
                        vec![p]
                    }
                    ServerAction::Failure(p, why) => {
                        self.server_done = true;
                        self.server_failure = Some(why);
                        vec![p]
                    }
                }
            }
            _ => vec![],
        };
        self.pending.extend(reply.iter().map(|eap| eapol_eap(eap)));
    }
}
