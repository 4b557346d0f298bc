//! Rogue servers: one simulated EAP-TLS server for each way a network can be fake or hostile,
//! each a one-line scenario (`latchkey-sim rogue <name>`) that shows the refusal an admin would
//! read. Certificate rogues follow RFC 5216 §5.3 / RFC 9190 §5 (authenticate the server);
//! the wire rogues RFC 4137 §4.5 (no early success; a Failure ends the conversation at once),
//! RFC 5216 §3 (bounded messages).

use latchkey_core::supplicant::{Config, Event, FailReason, Supplicant};
use latchkey_core::tls::{NameMatch, Pin, ServerPolicy, VersionPolicy};
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

use crate::auth::server::WireRogue;
use crate::auth::tls::{server_config, server_config_with_cert};
use crate::drive::describe;
use crate::drive::sim;
use crate::drive::sim::{Outcome, Scenario};
use crate::hal::memory;
use crate::pki::{ca_params, server_params, Issued, PkiError, TestPki, SERVER_NAME};

/// A rogue server's certificate chain (leaf first) and its private key (PKCS#8 DER).
pub type Presented = (Vec<CertificateDer<'static>>, Vec<u8>);

/// How a rogue scenario is set up before its device and server are built: the simulated
/// link (server wire behaviour, frames injected first), the TLS versions each side accepts,
/// and whether the device pins the legitimate server's key.
pub struct Setup {
    /// The simulated link's scenario.
    pub scenario: Scenario,
    /// Versions the device offers.
    pub client_versions: VersionPolicy,
    /// Versions the server accepts.
    pub server_versions: VersionPolicy,
    /// Whether the device pins the legitimate server's public key.
    pub pin: bool,
}

/// Issues a rogue server's certificate chain from the test PKI.
type Issue = fn(&TestPki) -> Result<Presented, String>;

/// One rogue server, as its row in [`rogues!`] describes it.
struct Spec {
    name: &'static str,
    about: &'static str,
    refusal: &'static str,
    sees_device_certificate: bool,
    /// The certificate chain it presents instead of the legitimate server's, issued from the
    /// test PKI on first use.
    certificate: Option<Issue>,
    /// What else it changes.
    setup: fn(&mut Setup),
}

/// The table of rogue servers: each row makes the [`Rogue`] variant, its place in
/// [`Rogue::ALL`] (the order `rogue all` runs them), its command-line name, what it does, the
/// refusal (`FailReason::kind`) the supplicant must give, whether the device certificate may
/// reach it, the certificate it presents (`None`: the legitimate one) and the rest of its
/// setup. Adding a rogue server is one row here and one in `tests/tests/rogue.rs`.
macro_rules! rogues {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident {
            name: $name:literal,
            about: $about:literal,
            refusal: $refusal:literal,
            sees_device_certificate: $sees:literal,
            certificate: $cert:expr,
            setup: $setup:expr $(,)?
        }
    ),* $(,)?) => {
        /// Every rogue server the simulator can play.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Rogue {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Rogue {
            /// All of them, in the order `rogue all` runs them.
            pub const ALL: [Rogue; [$(stringify!($variant)),*].len()] = [$(Rogue::$variant),*];

            fn spec(self) -> Spec {
                match self {
                    $(Rogue::$variant => Spec {
                        name: $name,
                        about: $about,
                        refusal: $refusal,
                        sees_device_certificate: $sees,
                        certificate: $cert,
                        setup: $setup,
                    },)*
                }
            }
        }
    };
}

rogues! {
    /// Server certificate from a CA the device does not trust.
    UntrustedCa {
        name: "untrusted-ca",
        about: "presents a certificate for the right name from its own CA",
        refusal: "untrusted-ca",
        sees_device_certificate: false,
        certificate: Some(untrusted_ca),
        setup: |_| {},
    },
    /// A certificate from the right CA, for another name.
    WrongName {
        name: "wrong-name",
        about: "presents a certificate from the right CA for evil.latchkey.test",
        refusal: "name-mismatch",
        sees_device_certificate: false,
        certificate: Some(|pki| issued(pki, server_params("evil.latchkey.test", 0x602))),
        setup: |_| {},
    },
    /// The right name and CA, expired.
    Expired {
        name: "expired",
        about: "presents the right name and CA, expired a year ago",
        refusal: "expired",
        sees_device_certificate: false,
        certificate: Some(|pki| issued(pki, valid_between(0x603, -730, -365))),
        setup: |_| {},
    },
    /// The right name and CA, valid only from next year.
    NotYetValid {
        name: "not-yet-valid",
        about: "presents the right name and CA, valid only from next year",
        refusal: "not-yet-valid",
        sees_device_certificate: false,
        certificate: Some(|pki| issued(pki, valid_between(0x604, 365, 730))),
        setup: |_| {},
    },
    /// The right name and CA, but issued for TLS clients only (EKU clientAuth).
    NoServerAuth {
        name: "no-server-auth",
        about: "presents a certificate from the right CA issued for TLS clients only",
        refusal: "not-server-auth",
        sees_device_certificate: false,
        certificate: Some(|pki| {
            let mut p = server_params(SERVER_NAME, 0x605).map_err(|e| e.to_string())?;
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            issued(pki, Ok(p))
        }),
        setup: |_| {},
    },
    /// The chain goes through a CA with a 1024-bit RSA key.
    WeakKey {
        name: "weak-key",
        about: "chains through a CA with a 1024-bit RSA key",
        refusal: "weak-key",
        sees_device_certificate: false,
        certificate: Some(weak_key),
        setup: |_| {},
    },
    /// The server certificate is signed with SHA-1 (RSA-2048 CA).
    WeakSignature {
        name: "weak-signature",
        about: "presents a certificate its CA signed with SHA-1",
        refusal: "weak-signature",
        sees_device_certificate: false,
        certificate: Some(sha1_signed),
        setup: |_| {},
    },
    /// The chain is signed with Ed25519, which the device cannot verify.
    UnsupportedSignature {
        name: "unsupported-signature",
        about: "chains through a CA that signs with Ed25519",
        refusal: "unsupported-signature",
        sees_device_certificate: false,
        certificate: Some(|pki| {
            let ed_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| e.to_string())?;
            sub_ca(pki, "Ed25519 CA", 0x607, &ed_key).map_err(|e| e.to_string())
        }),
        setup: |_| {},
    },
    /// A valid certificate, but not the one the device pinned.
    PinMismatch {
        name: "pin-mismatch",
        about: "presents a valid certificate for the right name, but not the pinned key",
        refusal: "pin-mismatch",
        sees_device_certificate: false,
        certificate: Some(|pki| issued(pki, server_params(SERVER_NAME, 0x608))),
        setup: |s| s.pin = true,
    },
    /// The server answers the ClientHello with a fatal `access_denied` alert.
    Alert {
        name: "alert",
        about: "answers the ClientHello with a fatal access_denied alert",
        refusal: "tls-alert",
        sees_device_certificate: false,
        certificate: None,
        setup: |s| s.scenario.server.rogue = Some(WireRogue::Alert(49)),
    },
    /// The server only speaks TLS 1.2; the device requires 1.3.
    Tls12Only {
        name: "tls12-only",
        about: "speaks only TLS 1.2 to a device requiring TLS 1.3",
        refusal: "tls-version-below-minimum",
        sees_device_certificate: false,
        certificate: None,
        setup: |s| {
            s.client_versions = VersionPolicy::Tls13Only;
            s.server_versions = VersionPolicy::Tls12Only;
        },
    },
    /// EAP-Success in place of the TLS 1.3 commitment message.
    EarlySuccess {
        name: "early-success",
        about: "sends EAP-Success in place of the TLS 1.3 commitment message",
        refusal: "early-success",
        // Only this server has a valid certificate and gets that far.
        sees_device_certificate: true,
        certificate: None,
        setup: |s| {
            s.server_versions = VersionPolicy::Tls13Only;
            s.scenario.server.early_success = true;
        },
    },
    /// EAP-Failure in the middle of the handshake, then silence.
    EarlyFailure {
        name: "early-failure",
        about: "answers the ClientHello with a bare EAP-Failure (no TLS alert)",
        refusal: "client-hello-refused",
        sees_device_certificate: false,
        certificate: None,
        setup: |s| s.scenario.server.rogue = Some(WireRogue::EarlyFailure),
    },
    /// EAP-Success before any method ran.
    SuccessBeforeTls {
        name: "success-before-tls",
        about: "sends EAP-Success before any authentication",
        refusal: "success-without-method",
        sees_device_certificate: false,
        certificate: None,
        setup: |s| s.scenario.injected_first = vec![vec![3, 0, 0, 4]],
    },
    /// A request for EAP-MD5 after EAP-TLS started.
    MethodSwitch {
        name: "method-switch",
        about: "asks for EAP-MD5 after EAP-TLS started",
        refusal: "method-changed",
        sees_device_certificate: false,
        certificate: None,
        setup: |s| s.scenario.server.rogue = Some(WireRogue::SwitchMethod(4)),
    },
    /// An EAP-TLS message announced as 1 MiB.
    OversizeLength {
        name: "oversize-length",
        about: "announces a 1 MiB EAP-TLS message",
        refusal: "message-too-large",
        sees_device_certificate: false,
        certificate: None,
        setup: |s| s.scenario.server.rogue = Some(WireRogue::OversizeLength(1 << 20)),
    },
    /// The server flight in 8-byte fragments (more than the 64 allowed).
    FragmentFlood {
        name: "fragment-flood",
        about: "sends its TLS flight in 8-byte fragments",
        refusal: "fragment-flood",
        sees_device_certificate: false,
        certificate: None,
        setup: |s| s.scenario.server.fragment_size = 8,
    },
    /// Twenty Identity requests in a row.
    IdentityStorm {
        name: "identity-storm",
        about: "sends twenty Identity requests in a row",
        refusal: "identity-storm",
        sees_device_certificate: false,
        certificate: None,
        setup: |s| s.scenario.server.rogue = Some(WireRogue::IdentityStorm(20)),
    },
}

impl Rogue {
    /// The scenario's command-line name.
    pub fn name(&self) -> &'static str {
        self.spec().name
    }

    /// The scenario by its command-line name.
    pub fn from_name(name: &str) -> Option<Rogue> {
        Rogue::ALL.into_iter().find(|r| r.name() == name)
    }

    /// What the rogue server does, in one line.
    pub fn about(&self) -> &'static str {
        self.spec().about
    }

    /// The refusal the supplicant must give (`FailReason::kind`).
    pub fn expected_kind(&self) -> &'static str {
        self.spec().refusal
    }

    /// Whether this server fails server authentication (or never completes it): the device's
    /// certificate must then never reach it. Only the early-Success server has a valid
    /// certificate and gets that far.
    pub fn must_not_see_client_certificate(&self) -> bool {
        !self.spec().sees_device_certificate
    }

    /// The scenario's setup: the legitimate defaults changed as the rogue's row says.
    pub fn setup(&self) -> Setup {
        let mut setup = Setup {
            scenario: Scenario::default(),
            client_versions: VersionPolicy::Both,
            server_versions: VersionPolicy::Both,
            pin: false,
        };
        (self.spec().setup)(&mut setup);
        setup.scenario.client_versions = setup.client_versions;
        setup.scenario.server_versions = setup.server_versions;
        setup
    }
}

/// The certificates the rogue servers present, each issued against the legitimate test PKI
/// the first time its server runs (RSA key generation is slow in a debug build).
pub struct RoguePki {
    presented: [std::sync::OnceLock<Result<Presented, String>>; Rogue::ALL.len()],
}

impl Default for RoguePki {
    fn default() -> Self {
        RoguePki {
            presented: std::array::from_fn(|_| std::sync::OnceLock::new()),
        }
    }
}

impl RoguePki {
    /// The certificate chain and key `rogue` presents (`Ok(None)`: the legitimate server's).
    pub fn presented(&self, pki: &TestPki, rogue: Rogue) -> Result<Option<&Presented>, String> {
        let Some(issue) = rogue.spec().certificate else {
            return Ok(None);
        };
        let index = Rogue::ALL
            .iter()
            .position(|r| *r == rogue)
            .ok_or("rogue missing from Rogue::ALL")?;
        let cell = self
            .presented
            .get(index)
            .ok_or("rogue missing from the table")?;
        cell.get_or_init(|| issue(pki))
            .as_ref()
            .map(Some)
            .map_err(Clone::clone)
    }
}

/// An RSA key rcgen can sign with through its remote-key seam (ring refuses RSA-1024, and
/// cannot generate RSA keys at all).
struct WeakRsa {
    key: rsa::RsaPrivateKey,
    public: Vec<u8>,
}

impl rcgen::RemoteKeyPair for WeakRsa {
    fn public_key(&self) -> &[u8] {
        &self.public
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let digest = Sha256::digest(msg);
        self.key
            .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// The byte range of the TBSCertificate inside a certificate's DER (definite lengths).
fn tbs_span(der: &[u8]) -> Option<std::ops::Range<usize>> {
    fn header(b: &[u8], at: usize) -> Option<(usize, usize)> {
        let first = *b.get(at + 1)?;
        if first < 0x80 {
            return Some((2, first as usize));
        }
        let n = (first & 0x7f) as usize;
        let len = b
            .get(at + 2..at + 2 + n)?
            .iter()
            .fold(0usize, |acc, x| acc << 8 | *x as usize);
        Some((2 + n, len))
    }
    let (outer_hdr, _) = header(der, 0)?;
    let (tbs_hdr, tbs_len) = header(der, outer_hdr)?;
    Some(outer_hdr..outer_hdr + tbs_hdr + tbs_len)
}

/// Issue a P-256 leaf from `params`, signed by the CA (`ca_params`, `ca_key`); returns the
/// leaf DER and its PKCS#8 key.
fn leaf(
    params: CertificateParams,
    ca_params: &CertificateParams,
    ca_key: &KeyPair,
) -> Result<(CertificateDer<'static>, Vec<u8>), PkiError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let issuer = ca_params.clone().self_signed(ca_key)?;
    let cert = params.signed_by(&key, &issuer, ca_key)?;
    Ok((cert.der().clone(), key.serialize_der()))
}

/// A P-256 server certificate issued by the test PKI's intermediate CA, with it in the chain.
fn issued(pki: &TestPki, params: Result<CertificateParams, PkiError>) -> Result<Presented, String> {
    let int: &Issued = &pki.intermediate;
    let (l, k) = leaf(params.map_err(|e| e.to_string())?, &int.params, &int.key)
        .map_err(|e| e.to_string())?;
    Ok((vec![l, int.cert.clone()], k))
}

/// Server parameters for the right name, valid from `from_days` to `to_days` from now.
fn valid_between(serial: u64, from_days: i64, to_days: i64) -> Result<CertificateParams, PkiError> {
    let now = time::OffsetDateTime::now_utc();
    let mut p = server_params(SERVER_NAME, serial)?;
    p.not_before = now + time::Duration::days(from_days);
    p.not_after = now + time::Duration::days(to_days);
    Ok(p)
}

/// A certificate for the right name from a CA of the rogue's own (the only chain element).
fn untrusted_ca(_: &TestPki) -> Result<Presented, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let rogue_root_params = ca_params("Rogue Root CA", 0x666);
    let rogue_root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| err(&e))?;
    let (l, k) = leaf(
        server_params(SERVER_NAME, 0x601).map_err(|e| err(&e))?,
        &rogue_root_params,
        &rogue_root_key,
    )
    .map_err(|e| err(&e))?;
    Ok((vec![l], k))
}

/// A CA with a 1024-bit RSA key, certified by the real root, and a server certificate it signs.
fn weak_key(pki: &TestPki) -> Result<Presented, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let rsa_key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).map_err(|e| err(&e))?;
    let public = rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(&rsa_key.to_public_key())
        .map_err(|e| err(&e))?
        .as_bytes()
        .to_vec();
    let weak_ca_key = KeyPair::from_remote(Box::new(WeakRsa {
        key: rsa_key,
        public,
    }))
    .map_err(|e| err(&e))?;
    sub_ca(pki, "Weak RSA-1024 CA", 0x606, &weak_ca_key).map_err(|e| err(&e))
}

/// A server certificate signed with sha1WithRSAEncryption by an RSA-2048 CA certified by the
/// real root. rcgen cannot sign with SHA-1, so the leaf is issued with SHA-256 and re-signed:
/// the two signature AlgorithmIdentifiers (same length) are rewritten to SHA-1 and the
/// signature (same length: the modulus size) replaced.
fn sha1_signed(pki: &TestPki) -> Result<Presented, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let rsa_key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| err(&e))?;
    let public = rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(&rsa_key.to_public_key())
        .map_err(|e| err(&e))?
        .as_bytes()
        .to_vec();
    let signer = rsa_key.clone();
    let ca_key = KeyPair::from_remote(Box::new(WeakRsa {
        key: rsa_key,
        public,
    }))
    .map_err(|e| err(&e))?;
    let mut params = ca_params("SHA-1 Signing CA", 0x609);
    params.use_authority_key_identifier_extension = true;
    let root = pki
        .root
        .params
        .clone()
        .self_signed(&pki.root.key)
        .map_err(|e| err(&e))?;
    let ca_cert = params
        .clone()
        .signed_by(&ca_key, &root, &pki.root.key)
        .map_err(|e| err(&e))?;
    let (leaf_der, key) = leaf(
        server_params(SERVER_NAME, 0x709).map_err(|e| err(&e))?,
        &params,
        &ca_key,
    )
    .map_err(|e| err(&e))?;
    let mut der = leaf_der.to_vec();
    // sha256WithRSAEncryption -> sha1WithRSAEncryption (1.2.840.113549.1.1.11 -> .5).
    const SHA256_RSA: [u8; 11] = [6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 11];
    let mut patched = 0;
    for i in 0..der.len().saturating_sub(SHA256_RSA.len()) {
        if der[i..i + SHA256_RSA.len()] == SHA256_RSA {
            der[i + SHA256_RSA.len() - 1] = 5;
            patched += 1;
        }
    }
    if patched != 2 {
        return Err(format!(
            "expected 2 signature algorithm OIDs, found {patched}"
        ));
    }
    let tbs = tbs_span(&der).ok_or("certificate layout not understood")?;
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der[tbs]);
    // DigestInfo for SHA-1 (RFC 8017 §9.2, note 1).
    let mut info = vec![
        0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
    ];
    info.extend_from_slice(digest.as_ref());
    let sig = signer
        .sign(rsa::Pkcs1v15Sign::new_unprefixed(), &info)
        .map_err(|e| err(&e))?;
    let at = der
        .len()
        .checked_sub(sig.len())
        .ok_or("short certificate")?;
    der[at..].copy_from_slice(&sig);
    Ok((vec![der.into(), ca_cert.der().clone()], key))
}

/// A CA with `ca_key` certified by the real root, and a server certificate it signs.
fn sub_ca(pki: &TestPki, cn: &str, serial: u64, ca_key: &KeyPair) -> Result<Presented, PkiError> {
    let mut params = ca_params(cn, serial);
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.use_authority_key_identifier_extension = true;
    let root = pki.root.params.clone().self_signed(&pki.root.key)?;
    let ca_cert = params.clone().signed_by(ca_key, &root, &pki.root.key)?;
    let (l, k) = leaf(server_params(SERVER_NAME, serial + 0x100)?, &params, ca_key)?;
    Ok((vec![l, ca_cert.der().clone()], k))
}

/// The device's server policy in every scenario: the test root CA, the exact name
/// [`SERVER_NAME`], and (for the pin scenario) the legitimate server's SPKI pinned.
pub fn device_policy(pki: &TestPki, pin: bool) -> Result<ServerPolicy, String> {
    let mut policy = ServerPolicy::new(NameMatch::exact(SERVER_NAME).map_err(|e| e.to_string())?)
        .with_anchor_der(&pki.root.cert)
        .map_err(|e| e.to_string())?;
    if pin {
        let ee = webpki_spki_sha256(&pki.server.cert)?;
        policy = policy
            .with_pin(Pin::SpkiSha256(ee))
            .map_err(|e| e.to_string())?;
    }
    Ok(policy)
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (what an admin computes with
/// `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum`).
pub fn webpki_spki_sha256(cert: &CertificateDer<'_>) -> Result<[u8; 32], String> {
    let ee = webpki::EndEntityCert::try_from(cert).map_err(|e| format!("{e:?}"))?;
    Ok(Sha256::digest(ee.subject_public_key_info().as_ref()).into())
}

/// The device under `policy`, with the test PKI's client certificate in its slot table and
/// the settings of `config`.
pub fn device(
    pki: &TestPki,
    policy: &ServerPolicy,
    config: &Config,
    versions: VersionPolicy,
) -> Result<Supplicant, String> {
    memory::client_builder(pki, config, versions, memory::test_table(pki)?)?
        .server(policy.clone())
        .build()
        .map_err(|e| e.to_string())
}

/// What one rogue scenario came to.
pub struct RogueOutcome {
    /// The scenario.
    pub rogue: Rogue,
    /// The supplicant's refusal, if it refused.
    pub refusal: Option<FailReason>,
    /// Whether the supplicant authenticated (it must not).
    pub authenticated: bool,
    /// Whether the server was shown the device's certificate.
    pub client_cert_sent: bool,
    /// Whether the server derived keys (it sent EAP-Success after a complete handshake).
    pub server_keys: bool,
    /// Everything the simulation recorded.
    pub outcome: Outcome,
}

impl RogueOutcome {
    /// Refused with the expected cause, no keys on the device, and no certificate sent where
    /// the server failed authentication.
    pub fn as_expected(&self) -> bool {
        self.refusal.as_ref().map(|r| r.kind().as_str()) == Some(self.rogue.expected_kind())
            && !self.authenticated
            && (!self.rogue.must_not_see_client_certificate() || !self.client_cert_sent)
    }
}

/// Run one rogue scenario against the supplicant.
pub fn run(pki: &TestPki, rogues: &RoguePki, rogue: Rogue) -> Result<RogueOutcome, String> {
    let Setup {
        scenario,
        client_versions,
        server_versions,
        pin,
    } = rogue.setup();
    let policy = device_policy(pki, pin)?;
    let sup = device(pki, &policy, &scenario.config, client_versions)?;
    let server = server_for(pki, rogues, rogue, server_versions)?;
    let outcome = sim::run_with(sup, &server, &scenario)?;
    Ok(RogueOutcome {
        rogue,
        refusal: match &outcome.event {
            Some(Event::Failed(r)) => Some(r.clone()),
            _ => None,
        },
        authenticated: matches!(outcome.event, Some(Event::Authenticated(_))),
        client_cert_sent: outcome.client_cert_seen.is_some(),
        server_keys: outcome.server_keys.is_some(),
        outcome,
    })
}

/// The server configuration a rogue runs with: its own certificate chain for the certificate
/// rogues, the legitimate one otherwise.
pub fn server_for(
    pki: &TestPki,
    rogues: &RoguePki,
    rogue: Rogue,
    versions: VersionPolicy,
) -> Result<std::sync::Arc<rustls::ServerConfig>, String> {
    match rogues.presented(pki, rogue)? {
        Some((chain, key)) => server_config_with_cert(
            pki,
            versions,
            &[],
            chain.clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.clone())),
        ),
        None => server_config(pki, versions),
    }
}

/// The legitimate server (right CA, name, time, pinned key) under the same device policy.
pub fn run_legitimate(pki: &TestPki, server_versions: VersionPolicy) -> Result<Outcome, String> {
    let policy = device_policy(pki, true)?;
    let scenario = Scenario {
        server_versions,
        ..Scenario::default()
    };
    let sup = device(pki, &policy, &scenario.config, VersionPolicy::Both)?;
    let server = server_config(pki, server_versions)?;
    sim::run_with(sup, &server, &scenario)
}

/// Shared test PKIs for a process (generation takes a moment; RSA-1024 key generation most).
pub fn shared() -> Result<&'static (TestPki, RoguePki), String> {
    static PKIS: std::sync::OnceLock<Result<(TestPki, RoguePki), String>> =
        std::sync::OnceLock::new();
    PKIS.get_or_init(|| {
        let pki = TestPki::generate().map_err(|e| e.to_string())?;
        Ok((pki, RoguePki::default()))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Run `rogues` (by name, or `all`) and narrate each: what the server did, the refusal as the
/// admin reads it, and whether anything leaked. `Ok(true)` when every one was refused as
/// expected (the exit status of `latchkey-sim rogue`).
pub fn report(
    out: &mut dyn std::io::Write,
    selection: &[Rogue],
    frames: bool,
) -> Result<bool, Box<dyn std::error::Error>> {
    // Generating the PKIs (RSA keys among them) takes seconds: say so rather than pause.
    writeln!(
        out,
        "building the test PKI and the rogue servers' certificates ..."
    )?;
    out.flush()?;
    let started = std::time::Instant::now();
    let (pki, rogues) = shared()?;
    let mut all_ok = true;
    let (mut refused, mut unexpected, mut withheld) = (0usize, Vec::new(), 0usize);
    for &r in selection {
        let o = run(pki, rogues, r)?;
        writeln!(out, "rogue server {}: {}", r.name(), r.about())?;
        if frames {
            for s in &o.outcome.steps {
                let arrow = match s.dir {
                    crate::drive::Direction::Up => "supplicant -> authenticator",
                    crate::drive::Direction::Down => "authenticator -> supplicant",
                };
                writeln!(out, "    {arrow}: {}", describe(&s.frame))?;
            }
        }
        match (&o.refusal, o.authenticated) {
            (Some(reason), _) => writeln!(out, "  REFUSED [{}]: {reason}", reason.kind())?,
            (None, true) => writeln!(out, "  AUTHENTICATED TO A ROGUE SERVER")?,
            (None, false) => writeln!(out, "  the conversation stalled without a decision")?,
        }
        writeln!(
            out,
            "  device certificate sent to the server: {}; keys derived: {}",
            if o.client_cert_sent { "yes" } else { "no" },
            if o.authenticated { "YES" } else { "no" }
        )?;
        let ok = o.as_expected();
        if !ok {
            writeln!(
                out,
                "  NOT AS EXPECTED: wanted a refusal [{}]{}",
                r.expected_kind(),
                if r.must_not_see_client_certificate() {
                    " with no certificate sent"
                } else {
                    ""
                }
            )?;
        }
        all_ok &= ok;
        if o.refusal.is_some() {
            refused += 1;
        }
        if !o.client_cert_sent {
            withheld += 1;
        }
        if !ok {
            unexpected.push(r.name());
        }
        writeln!(out)?;
        out.flush()?;
    }
    writeln!(
        out,
        "{} rogue server{}: {refused} refused, {withheld} never saw the device certificate, \
         {} not as expected{} ({} ms)",
        selection.len(),
        if selection.len() == 1 { "" } else { "s" },
        unexpected.len(),
        if unexpected.is_empty() {
            String::new()
        } else {
            format!(": {}", unexpected.join(", "))
        },
        started.elapsed().as_millis()
    )?;
    Ok(all_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_rogue_certificate_carries_a_genuine_sha1_signature() {
        use x509_cert::der::Decode;
        let (pki, rogues) = shared().expect("pkis");
        let (chain, _) = rogues
            .presented(pki, Rogue::WeakSignature)
            .expect("sha1 chain")
            .expect("its own chain");
        let der = chain[0].as_ref();
        let tbs = tbs_span(der).expect("tbs");
        let sig = &der[der.len() - 256..];
        // The signing CA's RSA public key (PKCS#1), from the CA certificate it presents.
        let ca = x509_cert::Certificate::from_der(chain[1].as_ref()).expect("CA certificate");
        let ca_public = ca
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            ca_public,
        )
        .verify(&der[tbs], sig)
        .expect("a valid SHA-1 signature by the CA");
    }

    #[test]
    fn every_row_has_a_distinct_name_and_certificate_rogues_present_their_own_chain() {
        let (pki, rogues) = shared().expect("pkis");
        let names: std::collections::HashSet<_> = Rogue::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Rogue::ALL.len());
        for r in Rogue::ALL {
            assert_eq!(Rogue::from_name(r.name()), Some(r));
            if let Some((chain, _)) = rogues.presented(pki, r).expect("issued") {
                assert_ne!(chain.first(), Some(&pki.server.cert), "{}", r.name());
            }
        }
    }

    #[test]
    fn report_narrates_a_refusal() {
        let mut out = Vec::new();
        assert!(report(&mut out, &[Rogue::WrongName], false).expect("runs"));
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.contains("REFUSED [name-mismatch]: server certificate name mismatch: expected radius.latchkey.test, got evil.latchkey.test"), "{text}");
        assert!(
            text.contains("device certificate sent to the server: no"),
            "{text}"
        );
    }
}
