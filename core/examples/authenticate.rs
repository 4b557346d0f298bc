//! Integrate Latchkey: build a supplicant from nothing but `latchkey-core`'s public API and
//! authenticate it against an in-memory EAP-TLS server, once with TLS 1.3 and once with
//! TLS 1.2. The device side (the first half of `run`) is what firmware writes; the server side
//! (rustls with ring, and a small EAP authenticator below) stands in for the access point and
//! the RADIUS server. Both sides derive the MSK; the example checks they are equal.
//!
//!     cargo run -p latchkey-core --example authenticate
//!
//! The test command runs it too (`test = true` in core/Cargo.toml).

use std::sync::Arc;

use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotTable};
use latchkey_core::hal::{MacAddr, Radio, RadioErrorKind};
use latchkey_core::tls::{NameMatch, ServerPolicy, SharedRng, VersionPolicy};
use latchkey_core::{Event, Now, Supplicant};

const AP: MacAddr = [0x02, 0, 0, 0, 0, 0xaa];

/// The device's randomness (a board puts its TRNG here).
static RNG: SharedRng<rand_core::OsRng> = SharedRng::new(rand_core::OsRng);

/// The device's certificate table (a board loads it from flash at boot).
static TABLE: SharedSlotTable<4, 2048> = SharedSlotTable::new(SlotTable::new());

/// The device's link: frames for the authenticator wait here.
#[derive(Default)]
struct Link(Vec<Vec<u8>>);

impl Radio for Link {
    type Error = RadioErrorKind;

    fn send(&mut self, _dst: MacAddr, frame: &[u8]) -> Result<(), RadioErrorKind> {
        self.0.push(frame.to_vec());
        Ok(())
    }
}

#[cfg_attr(test, allow(dead_code))]
fn main() {
    for v in [VersionPolicy::Tls13Only, VersionPolicy::Tls12Only] {
        match run(v) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("ERROR: {e}");
                std::process::exit(1);
            }
        }
    }
}

fn run(server_versions: VersionPolicy) -> Result<String, Box<dyn std::error::Error>> {
    let pki = Pki::new()?;

    // --- The device.
    let key = InlineKey::from_pkcs8_der(&pki.client_key)?;
    TABLE.with(|t| t.install(&pki.client_cert, KeyRef::Inline(key)))?;
    let policy =
        ServerPolicy::new(NameMatch::exact("radius.example.test")?).with_anchor_der(&pki.ca)?;
    let mut supplicant = Supplicant::builder("device-0001@example.test")
        .server(policy)
        .slot_table(&TABLE)
        .rng(&RNG)
        .build()?;

    let mut link = Link::default();
    let mut server = EapServer::new(&pki, server_versions)?;
    let mut ms = 0;
    let mut event = supplicant.start(Now::ms(ms), &mut link);
    while event.is_none() {
        let Some(frame) = link.0.pop() else {
            return Err("the supplicant went quiet".into());
        };
        for reply in server.handle(&frame)? {
            ms += 1;
            event = supplicant.handle_frame(Now::ms(ms), AP, &reply, &mut link);
        }
    }

    // --- The outcome.
    match event {
        Some(Event::Authenticated(auth)) => {
            let server_msk = server.msk.ok_or("server derived no MSK")?;
            if !auth.keys.msk.ct_eq(&server_msk) {
                return Err("MSK differs from the server's".into());
            }
            Ok(format!(
                "authenticated with {} after {} EAP round trips; MSK {} equals the server's; PMK {:?}",
                auth.version,
                auth.round_trips,
                auth.keys.msk.fingerprint(),
                auth.keys.msk.pmk(latchkey_core::wpa::Akm::Ieee8021x)?,
            ))
        }
        Some(Event::Failed(why)) => Err(format!("FAILED ({}): {why}", why.kind()).into()),
        _ => Err("no outcome".into()),
    }
}

/// A CA, the server's certificate and the device's, made for this run.
struct Pki {
    ca: Vec<u8>,
    server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    server_key: Vec<u8>,
    client_cert: Vec<u8>,
    client_key: Vec<u8>,
}

impl Pki {
    fn new() -> Result<Pki, rcgen::Error> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        };
        let mut ca = CertificateParams::default();
        ca.distinguished_name.push(DnType::CommonName, "Example CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca.self_signed(&ca_key)?;
        let issue = |name: &str, eku, sans: Vec<String>| -> Result<_, rcgen::Error> {
            let mut p = CertificateParams::new(sans)?;
            p.distinguished_name.push(DnType::CommonName, name);
            p.extended_key_usages = vec![eku];
            let key = KeyPair::generate()?;
            let cert = p.signed_by(&key, &ca_cert, &ca_key)?;
            Ok((cert.der().to_vec(), key.serialize_der()))
        };
        let (server, server_key) = issue(
            "radius.example.test",
            ExtendedKeyUsagePurpose::ServerAuth,
            vec!["radius.example.test".into()],
        )?;
        let (client_cert, client_key) =
            issue("device-0001", ExtendedKeyUsagePurpose::ClientAuth, vec![])?;
        Ok(Pki {
            ca: ca_cert.der().to_vec(),
            server_chain: vec![server.into()],
            server_key,
            client_cert,
            client_key,
        })
    }
}

/// The authenticator and EAP-TLS server: Identity, EAP-TLS Start, the TLS handshake (our
/// fragments ACKed, its flights sent whole), the TLS 1.3 commitment message, EAP-Success.
struct EapServer {
    tls: rustls::ServerConnection,
    id: u8,
    incoming: Vec<u8>,
    msk: Option<Vec<u8>>,
    committed: bool,
}

impl EapServer {
    fn new(pki: &Pki, v: VersionPolicy) -> Result<EapServer, Box<dyn std::error::Error>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca.clone().into())?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()?;
        let versions: &[&rustls::SupportedProtocolVersion] = match v {
            VersionPolicy::Tls12Only => &[&rustls::version::TLS12],
            _ => &[&rustls::version::TLS13],
        };
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(pki.server_key.clone());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(pki.server_chain.clone(), key.into())?;
        config.send_tls13_tickets = 0;
        Ok(EapServer {
            tls: rustls::ServerConnection::new(Arc::new(config))?,
            id: 0,
            incoming: Vec::new(),
            msk: None,
            committed: false,
        })
    }

    /// One EAPOL frame from the device in; the EAPOL frames to answer with.
    fn handle(&mut self, frame: &[u8]) -> Result<Vec<Vec<u8>>, Box<dyn std::error::Error>> {
        let eap = frame.get(4..).ok_or("short EAPOL frame")?;
        let reply = match (frame.get(1), eap.get(4)) {
            // EAPOL-Start: ask who it is.
            (Some(1), _) => self.request(&[1]),
            // Identity: start EAP-TLS.
            (Some(0), Some(1)) => self.request(&[13, 0x20]),
            (Some(0), Some(13)) => self.tls_response(eap)?,
            _ => return Err("unexpected frame from the device".into()),
        };
        Ok(vec![reply])
    }

    fn tls_response(&mut self, eap: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let flags = *eap.get(5).ok_or("short EAP-TLS response")?;
        let data = eap
            .get(if flags & 0x80 != 0 { 10 } else { 6 }..)
            .unwrap_or_default();
        self.incoming.extend_from_slice(data);
        if flags & 0x40 != 0 {
            return Ok(self.request(&[13, 0])); // ACK: more fragments to come
        }
        if !self.incoming.is_empty() {
            let mut data = std::mem::take(&mut self.incoming);
            self.tls.read_tls(&mut data.as_slice())?;
            self.tls.process_new_packets()?;
            data.clear();
        }
        if !self.tls.is_handshaking() && !self.committed {
            self.committed = true;
            if self.tls.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) {
                // RFC 9190 §2.5: one byte of application data ends the handshake for EAP.
                std::io::Write::write_all(&mut self.tls.writer(), &[0])?;
            }
        }
        let mut flight = Vec::new();
        while self.tls.wants_write() {
            self.tls.write_tls(&mut flight)?;
        }
        if !flight.is_empty() {
            let mut body = vec![13, 0x80];
            body.extend_from_slice(&(flight.len() as u32).to_be_bytes());
            body.extend_from_slice(&flight);
            return Ok(self.request(&body));
        }
        if self.tls.is_handshaking() {
            return Err("the device sent nothing the handshake could use".into());
        }
        // The device ACKed our last flight: derive the keys and send EAP-Success.
        let (label, context): (&[u8], Option<&[u8]>) = match self.tls.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => {
                (b"EXPORTER_EAP_TLS_Key_Material", Some(&[13]))
            }
            _ => (b"client EAP encryption", None),
        };
        let mut km = [0u8; 128];
        self.tls.export_keying_material(&mut km, label, context)?;
        self.msk = Some(km[..64].to_vec());
        Ok(eapol(&[3, self.id, 0, 4]))
    }

    fn request(&mut self, body: &[u8]) -> Vec<u8> {
        self.id = self.id.wrapping_add(1);
        let len = (4 + body.len()) as u16;
        let mut eap = vec![1, self.id];
        eap.extend_from_slice(&len.to_be_bytes());
        eap.extend_from_slice(body);
        eapol(&eap)
    }
}

fn eapol(eap: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0];
    f.extend_from_slice(&(eap.len() as u16).to_be_bytes());
    f.extend_from_slice(eap);
    f
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_example_authenticates_with_tls13_and_tls12() {
        for v in [
            latchkey_core::tls::VersionPolicy::Tls13Only,
            latchkey_core::tls::VersionPolicy::Tls12Only,
        ] {
            let line = super::run(v).unwrap();
            assert!(line.contains("equals the server's"), "{line}");
        }
    }
}
