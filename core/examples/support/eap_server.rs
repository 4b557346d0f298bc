//! The examples' other side: a test PKI and an in-memory EAP-TLS server (rustls with ring, and
//! a small EAP authenticator) standing in for the access point and the RADIUS server, plus the
//! device's link. Shared by `authenticate` and `p256_seam`.

use std::sync::Arc;

use latchkey_core::hal::{MacAddr, Radio, RadioErrorKind};
use latchkey_core::tls::VersionPolicy;

/// The device's link: frames for the authenticator wait here.
#[derive(Default)]
pub struct Link(pub Vec<Vec<u8>>);

impl Radio for Link {
    type Error = RadioErrorKind;

    fn send(&mut self, _dst: MacAddr, frame: &[u8]) -> Result<(), RadioErrorKind> {
        self.0.push(frame.to_vec());
        Ok(())
    }
}

/// A CA, the server's certificate and the device's, made for this run (all ECDSA P-256).
pub struct Pki {
    /// The CA certificate (DER), the device's anchor.
    pub ca: Vec<u8>,
    /// The server's chain, leaf first.
    pub server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The server's key (PKCS#8 DER).
    pub server_key: Vec<u8>,
    /// The device's certificate (DER), issued by the CA.
    pub client_cert: Vec<u8>,
    /// The device's key (PKCS#8 DER).
    pub client_key: Vec<u8>,
}

impl Pki {
    /// The server's certificate issued by the CA itself.
    #[allow(dead_code)] // not every example uses it
    pub fn new() -> Result<Pki, rcgen::Error> {
        Self::make(false)
    }

    /// The server's certificate issued by an intermediate CA that the server sends after it.
    #[allow(dead_code)] // not every example uses it
    pub fn with_intermediate() -> Result<Pki, rcgen::Error> {
        Self::make(true)
    }

    fn make(intermediate: bool) -> Result<Pki, rcgen::Error> {
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
        let issuing = if intermediate {
            let mut p = CertificateParams::default();
            p.distinguished_name
                .push(DnType::CommonName, "Example Issuing CA");
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let key = KeyPair::generate()?;
            Some((p.signed_by(&key, &ca_cert, &ca_key)?, key))
        } else {
            None
        };
        let (issuer, issuer_key) = match &issuing {
            Some((cert, key)) => (cert, key),
            None => (&ca_cert, &ca_key),
        };
        let mut p = CertificateParams::new(vec!["radius.example.test".into()])?;
        p.distinguished_name
            .push(DnType::CommonName, "radius.example.test");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let server = p.signed_by(&key, issuer, issuer_key)?;
        let mut server_chain = vec![server.der().clone()];
        if let Some((cert, _)) = &issuing {
            server_chain.push(cert.der().clone());
        }
        let server_key = key.serialize_der();
        let (client_cert, client_key) =
            issue("device-0001", ExtendedKeyUsagePurpose::ClientAuth, vec![])?;
        Ok(Pki {
            ca: ca_cert.der().to_vec(),
            server_chain,
            server_key,
            client_cert,
            client_key,
        })
    }
}

/// The authenticator and EAP-TLS server: Identity, EAP-TLS Start, the TLS handshake (our
/// fragments ACKed, its flights sent whole), the TLS 1.3 commitment message, EAP-Success.
pub struct EapServer {
    tls: rustls::ServerConnection,
    id: u8,
    incoming: Vec<u8>,
    /// The MSK the server derived, once the handshake is over.
    pub msk: Option<Vec<u8>>,
    committed: bool,
}

impl EapServer {
    /// A server on rustls with ring, speaking TLS 1.2 for `Tls12Only` and else TLS 1.3.
    #[allow(dead_code)] // not every example uses it
    pub fn new(pki: &Pki, v: VersionPolicy) -> Result<EapServer, Box<dyn std::error::Error>> {
        Self::with_provider(pki, v, rustls::crypto::ring::default_provider())
    }

    /// The same server, accepting only secp256r1 for ECDHE (as a P-256-only server does).
    #[allow(dead_code)] // not every example uses it
    pub fn p256_only(pki: &Pki, v: VersionPolicy) -> Result<EapServer, Box<dyn std::error::Error>> {
        let mut provider = rustls::crypto::ring::default_provider();
        provider
            .kx_groups
            .retain(|g| g.name() == rustls::NamedGroup::secp256r1);
        Self::with_provider(pki, v, provider)
    }

    fn with_provider(
        pki: &Pki,
        v: VersionPolicy,
        provider: rustls::crypto::CryptoProvider,
    ) -> Result<EapServer, Box<dyn std::error::Error>> {
        let provider = Arc::new(provider);
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
    pub fn handle(&mut self, frame: &[u8]) -> Result<Vec<Vec<u8>>, Box<dyn std::error::Error>> {
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
