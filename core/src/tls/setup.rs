//! Builds the rustls client configuration Latchkey runs with: our crypto provider, a time
//! source that always answers (wall clock or the persisted floor), the trust anchors and server
//! name to verify, the client credential, and the `KeyLog` that catches the secrets EAP-TLS key
//! derivation needs. The server is checked by [`PolicyVerifier`] against a [`ServerPolicy`];
//! there is no "accept any server" mode.

use alloc::sync::Arc;
use core::fmt;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::time_provider::TimeProvider;
use rustls::ClientConfig;

use crate::certs::TimeSource;
use crate::tls::engine::{SecretCatcher, TlsError, TlsVersion};
use crate::tls::resolver::{ClientCredential, CredentialResolver};
use crate::tls::server_policy::{NameMatch, PolicyVerifier, ServerPolicy};

/// Which TLS versions to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VersionPolicy {
    /// TLS 1.2 only.
    Tls12Only,
    /// TLS 1.3 only.
    Tls13Only,
    /// TLS 1.2 or 1.3 (the server picks; 1.3 preferred).
    Both,
}

impl VersionPolicy {
    /// The lowest version offered: a server that cannot do it is refused.
    pub fn minimum(&self) -> TlsVersion {
        match self {
            VersionPolicy::Tls12Only | VersionPolicy::Both => TlsVersion::Tls12,
            VersionPolicy::Tls13Only => TlsVersion::Tls13,
        }
    }
}

/// The time rustls checks certificate validity against. Always answers: with the platform's
/// wall time when it has one, else with the persisted time floor (design.md §6). It also says
/// which one it is, so the server verifier can apply the no-wall-clock policy.
pub struct ValidationTime {
    source: spin::Mutex<TimeSource>,
}

impl Default for ValidationTime {
    fn default() -> Self {
        ValidationTime {
            source: spin::Mutex::new(TimeSource::Unknown),
        }
    }
}

impl fmt::Debug for ValidationTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidationTime({})", *self.source.lock())
    }
}

impl ValidationTime {
    /// Set a trusted wall-clock time (Unix seconds) for the next handshake steps.
    pub fn set(&self, unix_secs: u64) {
        self.set_source(TimeSource::Wall(unix_secs));
    }

    /// Set the time and where it came from (wall clock, persisted floor, nothing).
    pub fn set_source(&self, source: TimeSource) {
        *self.source.lock() = source;
    }

    /// The time and where it came from.
    pub fn source(&self) -> TimeSource {
        *self.source.lock()
    }

    /// The time currently in use (0 when nothing is known).
    pub fn get(&self) -> u64 {
        match self.source() {
            TimeSource::Wall(t) | TimeSource::Floor(t) => t,
            TimeSource::Unknown => 0,
        }
    }
}

impl TimeProvider for ValidationTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(core::time::Duration::from_secs(
            self.get(),
        )))
    }
}

/// A ready-to-use client configuration and the shared pieces a handshake needs.
#[derive(Clone)]
pub struct ClientSetup {
    /// The rustls configuration (shared by every handshake).
    pub config: Arc<ClientConfig>,
    /// Catches the handshake secrets for key derivation.
    pub secrets: Arc<SecretCatcher>,
    /// The time certificate validity is checked against.
    pub time: Arc<ValidationTime>,
    /// The client-certificate resolver.
    pub resolver: Arc<CredentialResolver>,
    /// The name sent as SNI (the first name rule of the server policy).
    pub server_name: heapless::String<253>,
    /// The server certificate verifier; says why a server was refused.
    pub verifier: Arc<PolicyVerifier>,
    /// The TLS versions offered (the lowest is the configured minimum).
    pub versions: VersionPolicy,
}

impl fmt::Debug for ClientSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientSetup(server {})", self.server_name)
    }
}

/// Why a client configuration could not be built.
#[derive(Debug, Clone, PartialEq)]
pub enum SetupError {
    /// No trust anchor was given: Latchkey never talks to an unverified server.
    NoTrustAnchors,
    /// A trust anchor is not a usable CA certificate.
    BadTrustAnchor(rustls::Error),
    /// The server name is empty, too long or not a DNS name.
    BadServerName,
    /// rustls refused the combination (e.g. versions the provider cannot do).
    Rustls(rustls::Error),
    /// A PEM text holds no usable CERTIFICATE block.
    BadPem,
    /// More name rules or pins than the policy holds.
    TooManyRules,
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::NoTrustAnchors => f.write_str(
                "no CA certificate configured: refusing to authenticate to an unverified server",
            ),
            SetupError::BadTrustAnchor(e) => {
                write!(f, "CA certificate unusable as a trust anchor: {e}")
            }
            SetupError::BadServerName => f.write_str("server name is not a valid DNS name"),
            SetupError::Rustls(e) => write!(f, "TLS configuration refused: {e}"),
            SetupError::BadPem => f.write_str("no CA certificate found in the PEM text"),
            SetupError::TooManyRules => f.write_str("too many server name rules or pins"),
        }
    }
}

impl From<SetupError> for TlsError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::BadServerName => TlsError::InvalidServerName,
            SetupError::NoTrustAnchors => TlsError::Rustls(rustls::Error::General(
                alloc::string::String::from("no trust anchors"),
            )),
            SetupError::BadTrustAnchor(e) | SetupError::Rustls(e) => TlsError::Rustls(e),
            SetupError::BadPem | SetupError::TooManyRules => TlsError::Rustls(
                rustls::Error::General(alloc::string::String::from("bad server policy")),
            ),
        }
    }
}

impl ClientSetup {
    /// Build the client configuration. `roots` are the CA certificates the server chain must
    /// lead to; `server_name` the DNS name its certificate must carry.
    pub fn new(
        provider: Arc<CryptoProvider>,
        roots: &[CertificateDer<'_>],
        server_name: &str,
        versions: VersionPolicy,
        credential: Option<ClientCredential>,
    ) -> Result<Self, SetupError> {
        Self::with_resolver(
            provider,
            roots,
            server_name,
            versions,
            CredentialResolver::single(credential),
        )
    }

    /// Like [`ClientSetup::new`], with any credential resolver (e.g.
    /// [`CredentialResolver::slot_table`]).
    pub fn with_resolver(
        provider: Arc<CryptoProvider>,
        roots: &[CertificateDer<'_>],
        server_name: &str,
        versions: VersionPolicy,
        resolver: CredentialResolver,
    ) -> Result<Self, SetupError> {
        if roots.is_empty() {
            return Err(SetupError::NoTrustAnchors);
        }
        let mut policy = ServerPolicy::new(NameMatch::exact(server_name)?);
        for r in roots {
            policy = policy.with_anchor_der(r)?;
        }
        Self::with_policy(provider, &policy, versions, resolver)
    }

    /// The full form: the server is authenticated by `policy` (anchors, name rules, pins,
    /// time policy); the client certificate comes from `resolver`.
    pub fn with_policy(
        provider: Arc<CryptoProvider>,
        policy: &ServerPolicy,
        versions: VersionPolicy,
        resolver: CredentialResolver,
    ) -> Result<Self, SetupError> {
        let time = Arc::new(ValidationTime::default());
        let verifier = Arc::new(PolicyVerifier::new(
            policy,
            provider.signature_verification_algorithms,
            time.clone(),
        )?);
        let sni = verifier.sni();
        if rustls::pki_types::ServerName::try_from(sni).is_err() {
            return Err(SetupError::BadServerName);
        }
        let name = heapless::String::try_from(sni).map_err(|_| SetupError::BadServerName)?;
        let secrets = Arc::new(SecretCatcher::default());
        let mut resolver = resolver;
        resolver.set_tls12_offered(versions != VersionPolicy::Tls13Only);
        let resolver = Arc::new(resolver);
        let offered: &[&'static rustls::SupportedProtocolVersion] = match versions {
            VersionPolicy::Tls12Only => &[&rustls::version::TLS12],
            VersionPolicy::Tls13Only => &[&rustls::version::TLS13],
            VersionPolicy::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        };
        let mut config = ClientConfig::builder_with_details(provider, time.clone())
            .with_protocol_versions(offered)
            .map_err(SetupError::Rustls)?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_client_cert_resolver(resolver.clone());
        // EAP-TLS sessions are one-shot: no resumption state to keep in RAM.
        config.resumption = rustls::client::Resumption::disabled();
        config.key_log = secrets.clone();
        Ok(ClientSetup {
            config: Arc::new(config),
            secrets,
            time,
            resolver,
            server_name: name,
            verifier,
            versions,
        })
    }
}
