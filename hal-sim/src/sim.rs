//! The simulated link: a supplicant (`latchkey-core`, through its HAL traits) and an
//! authenticator running [`crate::server::EapServer`], exchanging EAPOL frames in memory with a
//! virtual clock. Every frame is recorded as a [`Step`] so the demo and tests can see it all.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotSource, SlotTable};
use latchkey_core::hal::{MacAddr, Radio, RadioErrorKind};
use latchkey_core::supplicant::{Config, Event, Now, Supplicant};
use latchkey_core::tls::{NameMatch, ServerPolicy, SharedRng, VersionPolicy};
use latchkey_core::{Crypto, SupplicantBuilder};
use rustls::pki_types::CertificateDer;

use crate::pki::{TestPki, SERVER_NAME};
use crate::server::{EapServer, ServerAction, ServerBehaviour, ServerEvent, ServerKeys};

/// The supplicant's MAC address in the simulation.
pub const STA_ADDR: MacAddr = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
/// The authenticator's MAC address in the simulation.
pub const AP_ADDR: MacAddr = [0x02, 0x00, 0x00, 0x00, 0x00, 0xaa];

/// Frames the supplicant sent, waiting for the authenticator.
#[derive(Default)]
pub struct SimRadio {
    /// Outgoing frames (destination, EAPOL frame).
    pub outbox: VecDeque<(MacAddr, Vec<u8>)>,
}

impl Radio for SimRadio {
    type Error = RadioErrorKind;

    fn send(&mut self, dst: MacAddr, frame: &[u8]) -> Result<(), RadioErrorKind> {
        self.outbox.push_back((dst, frame.to_vec()));
        Ok(())
    }
}

/// Latchkey's cryptography with the host's OS RNG, built once and shared by every supplicant.
pub fn host_crypto() -> Crypto {
    static RNG: SharedRng<rand::rngs::OsRng> = SharedRng::new(rand::rngs::OsRng);
    static CRYPTO: OnceLock<Crypto> = OnceLock::new();
    CRYPTO.get_or_init(|| Crypto::new(&RNG)).clone()
}

/// The slot table the simulator's devices use.
pub type Table = SharedSlotTable<4, 2048>;

/// Who sent a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Supplicant to authenticator.
    Up,
    /// Authenticator to supplicant.
    Down,
}

/// One frame on the simulated link.
#[derive(Debug, Clone)]
pub struct Step {
    /// Which way it went.
    pub dir: Direction,
    /// The EAPOL frame.
    pub frame: Vec<u8>,
}

/// How one simulated authentication is set up.
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

fn versions(v: VersionPolicy) -> Vec<&'static rustls::SupportedProtocolVersion> {
    match v {
        VersionPolicy::Tls12Only => vec![&rustls::version::TLS12],
        VersionPolicy::Tls13Only => vec![&rustls::version::TLS13],
        _ => vec![&rustls::version::TLS13, &rustls::version::TLS12],
    }
}

/// The simulated RADIUS server's rustls configuration (ring provider, client certificate
/// required, verified against the test root).
pub fn server_config(pki: &TestPki, v: VersionPolicy) -> Result<Arc<rustls::ServerConfig>, String> {
    server_config_revoking(pki, v, &[])
}

/// Like [`server_config`], with a CRL from the intermediate CA revoking these client serials
/// (the server then refuses those certificates with a `certificate_revoked` alert).
pub fn server_config_revoking(
    pki: &TestPki,
    v: VersionPolicy,
    revoked: &[u64],
) -> Result<Arc<rustls::ServerConfig>, String> {
    server_config_with_cert(
        pki,
        v,
        revoked,
        pki.server_chain(),
        pki.server.private_key(),
    )
}

/// Like [`server_config_revoking`], with the server presenting `chain` (leaf first) signed for
/// by `key` (rogue servers present other certificates).
pub fn server_config_with_cert(
    pki: &TestPki,
    v: VersionPolicy,
    revoked: &[u64],
    chain: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    server_config_full(pki, v, revoked, chain, key, None)
}

/// Like [`server_config`], with the server's CertificateRequest listing only those of
/// `client_schemes` it can verify.
pub fn server_config_with_client_schemes(
    pki: &TestPki,
    v: VersionPolicy,
    client_schemes: &[rustls::SignatureScheme],
) -> Result<Arc<rustls::ServerConfig>, String> {
    server_config_full(
        pki,
        v,
        &[],
        pki.server_chain(),
        pki.server.private_key(),
        Some(client_schemes),
    )
}

fn server_config_full(
    pki: &TestPki,
    v: VersionPolicy,
    revoked: &[u64],
    chain: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
    client_schemes: Option<&[rustls::SignatureScheme]>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(pki.root.cert.clone())
        .map_err(|e| e.to_string())?;
    let mut builder = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    );
    if !revoked.is_empty() {
        builder = builder
            .with_crls([pki.crl(revoked).map_err(|e| e.to_string())?])
            .only_check_end_entity_revocation();
    }
    let verifier = Arc::new(RecordingVerifier(
        builder.build().map_err(|e| e.to_string())?,
        client_schemes.map(<[_]>::to_vec),
    ));
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(v))
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    // EAP-TLS servers send no session tickets before the commitment message.
    cfg.send_tls13_tickets = 0;
    Ok(Arc::new(cfg))
}

thread_local! {
    /// The client certificate the simulated server was last asked to verify (the simulation
    /// runs on one thread; rustls calls the verifier synchronously).
    static SEEN_CLIENT_CERT: std::cell::RefCell<Option<CertificateDer<'static>>> =
        const { std::cell::RefCell::new(None) };
    /// The scheme of the client's CertificateVerify the simulated server last checked.
    static SEEN_CLIENT_SCHEME: std::cell::RefCell<Option<rustls::SignatureScheme>> =
        const { std::cell::RefCell::new(None) };
}

/// The server's client-certificate verifier, recording what it was shown — whether it then
/// accepts it or not — so tests can assert which certificate reached the server — and,
/// when given a scheme list, asking only for those schemes in its CertificateRequest (a
/// server that takes PKCS#1 v1.5 RSA signatures only, say).
#[derive(Debug)]
struct RecordingVerifier(
    Arc<dyn rustls::server::danger::ClientCertVerifier>,
    Option<Vec<rustls::SignatureScheme>>,
);

impl rustls::server::danger::ClientCertVerifier for RecordingVerifier {
    fn offer_client_auth(&self) -> bool {
        self.0.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.0.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        SEEN_CLIENT_CERT.with(|s| *s.borrow_mut() = Some(end_entity.clone().into_owned()));
        self.0.verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        SEEN_CLIENT_SCHEME.with(|s| *s.borrow_mut() = Some(dss.scheme));
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        SEEN_CLIENT_SCHEME.with(|s| *s.borrow_mut() = Some(dss.scheme));
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        match &self.1 {
            Some(only) => self
                .0
                .supported_verify_schemes()
                .into_iter()
                .filter(|s| only.contains(s))
                .collect(),
            None => self.0.supported_verify_schemes(),
        }
    }
}

/// A supplicant builder for the test PKI: its root as the CA anchor, the server name, the
/// intermediate CA sent after the chosen leaf, `v` offered, the host's cryptography, and
/// certificates from `table`.
pub fn client_builder(
    pki: &TestPki,
    config: &Config,
    v: VersionPolicy,
    table: impl SlotSource + 'static,
) -> Result<SupplicantBuilder, String> {
    let policy = ServerPolicy::new(NameMatch::exact(SERVER_NAME).map_err(|e| e.to_string())?)
        .with_anchor_der(pki.root.cert.as_ref())
        .map_err(|e| e.to_string())?;
    Ok(SupplicantBuilder::new(config.peer.identity.as_str())
        .config(config.clone())
        .server(policy)
        .slot_table(table)
        .intermediate_der(pki.intermediate_der())
        .crypto(host_crypto())
        .tls_versions(v))
}

/// A slot table holding the test PKI's device certificate, active.
pub fn test_table(pki: &TestPki) -> Result<Arc<Table>, String> {
    let table = Arc::new(Table::new(SlotTable::new()));
    let key = InlineKey::from_pkcs8_der(pki.client.private_key().secret_der())
        .map_err(|e| format!("test key: {e}"))?;
    table
        .with(|t| t.install(pki.client.cert.as_ref(), KeyRef::Inline(key)))
        .map_err(|e| format!("test certificate: {e}"))?;
    Ok(table)
}

/// A supplicant for the test PKI with the test device certificate (see [`client_builder`]).
pub fn client(pki: &TestPki, config: &Config, v: VersionPolicy) -> Result<Supplicant, String> {
    client_builder(pki, config, v, test_table(pki)?)?
        .build()
        .map_err(|e| e.to_string())
}

fn eapol_frame(version: u8, ptype: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![version, ptype, (body.len() >> 8) as u8, body.len() as u8];
    f.extend_from_slice(body);
    f
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
    SEEN_CLIENT_CERT.with(|s| *s.borrow_mut() = None);
    SEEN_CLIENT_SCHEME.with(|s| *s.borrow_mut() = None);
    let mut server =
        EapServer::new(server_cfg.clone(), scenario.server.clone()).map_err(|e| e.to_string())?;
    let mut radio = SimRadio::default();
    let mut steps = Vec::new();
    let mut clock_ms = 0u64;
    let unix = match scenario.clock {
        Clock::Host => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .ok(),
        Clock::At(t) => Some(t),
        Clock::None => None,
    };
    let mut now = |advance_to: Option<u64>| {
        clock_ms = advance_to.unwrap_or(clock_ms + 1).max(clock_ms + 1);
        Now { ms: clock_ms, unix }
    };
    let mut event = sup.start(now(None), &mut radio);
    let mut server_failure = None;
    let mut server_done = false;
    for _ in 0..500 {
        if event.is_some() {
            break;
        }
        let Some((_dst, frame)) = radio.outbox.pop_front() else {
            // Nothing to deliver: let the supplicant's timers run (virtual time jumps to its
            // next deadline), as a device waiting on a silent authenticator would.
            match sup.next_deadline() {
                Some(t) => {
                    event = sup.poll(now(Some(t)), &mut radio);
                    continue;
                }
                None => break,
            }
        };
        steps.push(Step {
            dir: Direction::Up,
            frame: frame.clone(),
        });
        if server_done {
            continue;
        }
        // The authenticator: EAPOL-Start opens the conversation, EAP-Packets go to the server.
        let reply = match frame.get(1) {
            Some(1) => {
                let mut frames: Vec<Vec<u8>> = scenario.injected_first.clone();
                frames.push(server.start());
                frames
            }
            Some(0) => match server.handle(frame.get(4..).unwrap_or_default()) {
                ServerAction::Request(p) => vec![p],
                ServerAction::Success(p) => {
                    server_done = true;
                    vec![p]
                }
                ServerAction::Failure(p, why) => {
                    server_done = true;
                    server_failure = Some(why);
                    vec![p]
                }
            },
            _ => vec![],
        };
        for eap in reply {
            let f = eapol_frame(2, 0, &eap);
            steps.push(Step {
                dir: Direction::Down,
                frame: f.clone(),
            });
            if let Some(ev) = sup.handle_frame(now(None), AP_ADDR, &f, &mut radio) {
                event = Some(ev);
                break;
            }
        }
    }
    // Deliver what the supplicant sent last (e.g. its final ACK or an alert) for the record.
    while let Some((_dst, frame)) = radio.outbox.pop_front() {
        steps.push(Step {
            dir: Direction::Up,
            frame,
        });
    }
    Ok(Outcome {
        event,
        server_keys: server.keys().cloned(),
        client_cert_seen: SEEN_CLIENT_CERT.with(|s| s.borrow_mut().take()),
        client_scheme_seen: SEEN_CLIENT_SCHEME.with(|s| s.borrow_mut().take()),
        server_events: server.events.clone(),
        steps,
        server_failure,
        server_requests: server.requests_sent,
        largest_client_message: server.largest_peer_message,
        drops: sup.drops(),
    })
}

/// An EAPOL-Key frame by its Key Information bits (IEEE 802.11-2020 §12.7.2).
fn describe_key(frame: &[u8]) -> String {
    let info = match (frame.get(5), frame.get(6)) {
        (Some(a), Some(b)) => u16::from_be_bytes([*a, *b]),
        _ => return "EAPOL-Key (truncated)".into(),
    };
    let counter = frame
        .get(9..17)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0);
    let (pairwise, install, ack, mic, secure) = (
        info & 0x0008 != 0,
        info & 0x0040 != 0,
        info & 0x0080 != 0,
        info & 0x0100 != 0,
        info & 0x0200 != 0,
    );
    let which = match (pairwise, ack, mic, install, secure) {
        (true, true, false, _, _) => "4-way message 1",
        (true, false, true, _, false) => "4-way message 2",
        (true, true, true, true, _) => "4-way message 3",
        (true, false, true, _, true) => "4-way message 4",
        (false, true, _, _, _) => "group message 1",
        (false, false, _, _, _) => "group message 2",
        _ => "unexpected",
    };
    format!(
        "EAPOL-Key {which} (key info {info:#06x}, replay counter {counter}, {} bytes)",
        frame.len()
    )
}

/// A one-line description of an EAPOL frame, for the demo's log.
pub fn describe(frame: &[u8]) -> String {
    let ptype = frame.get(1).copied().unwrap_or(255);
    match ptype {
        1 => return "EAPOL-Start".into(),
        0 => {}
        3 => return describe_key(frame),
        t => return format!("EAPOL type {t}"),
    }
    let eap = frame.get(4..).unwrap_or_default();
    let (code, id) = (
        eap.first().copied().unwrap_or(0),
        eap.get(1).copied().unwrap_or(0),
    );
    let code_name = match code {
        1 => "Request",
        2 => "Response",
        3 => return format!("EAP-Success id={id}"),
        4 => return format!("EAP-Failure id={id}"),
        _ => "?",
    };
    let typ = eap.get(4).copied().unwrap_or(0);
    match typ {
        1 => format!(
            "EAP-{code_name}/Identity id={id} {:?}",
            String::from_utf8_lossy(eap.get(5..).unwrap_or_default())
        ),
        3 => format!(
            "EAP-{code_name}/Nak id={id} proposes {:?}",
            eap.get(5..).unwrap_or_default()
        ),
        13 => {
            let flags = eap.get(5).copied().unwrap_or(0);
            let mut data = eap.get(6..).unwrap_or_default();
            let mut l = String::new();
            if flags & 0x80 != 0 {
                let v = data
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0);
                l = format!(" L={v}");
                data = data.get(4..).unwrap_or_default();
            }
            let mut fl = String::new();
            for (bit, name) in [(0x80, 'L'), (0x40, 'M'), (0x20, 'S')] {
                if flags & bit != 0 {
                    fl.push(name);
                }
            }
            if data.is_empty() && flags & 0x20 == 0 {
                format!("EAP-{code_name}/TLS id={id} ACK")
            } else if flags & 0x20 != 0 {
                format!("EAP-{code_name}/TLS id={id} Start")
            } else {
                format!("EAP-{code_name}/TLS id={id} [{fl}]{l} {} bytes", data.len())
            }
        }
        t => format!("EAP-{code_name} type {t} id={id}"),
    }
}
