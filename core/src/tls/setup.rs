//! Builds the rustls client configuration Latchkey runs with: our crypto provider, a time
//! source that always answers (the authentication's time basis), the server verifier for the
//! configured [`ServerPolicy`], the slot-table-backed certificate resolver (signing inline P-256 keys through the provider's P-256), and the `KeyLog`
//! that catches the secrets EAP-TLS key derivation needs. There is no "accept any server"
//! mode. Everything here is internal: integrators reach it through [`crate::SupplicantBuilder`].

use alloc::sync::Arc;
use core::fmt;

use rustls::crypto::CryptoProvider;
use rustls::ClientConfig;

use crate::certs::TimeSource;
use crate::tls::engine::SecretCatcher;
use crate::tls::error::{ProtocolError, SetupError, TlsVersion};
use crate::tls::resolver::CredentialResolver;
use crate::tls::server_policy::{PolicyVerifier, ServerPolicy};
use crate::tls::time::ValidationTime;

/// Which TLS versions to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum VersionPolicy {
    /// TLS 1.2 only.
    Tls12Only,
    /// TLS 1.3 only.
    Tls13Only,
    /// TLS 1.2 or 1.3 (the server picks; 1.3 preferred).
    #[default]
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

    /// What was offered, in words ("TLS 1.3 only", "TLS 1.2 and 1.3").
    pub fn as_str(&self) -> &'static str {
        match self {
            VersionPolicy::Tls12Only => "TLS 1.2 only",
            VersionPolicy::Tls13Only => "TLS 1.3 only",
            VersionPolicy::Both => "TLS 1.2 and 1.3",
        }
    }
}

/// The TLS client configuration and the pieces each handshake shares with it. Built once;
/// every [`crate::tls::engine::Engine`] clones what it needs.
#[derive(Clone)]
pub(crate) struct TlsSetup {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) secrets: Arc<SecretCatcher>,
    pub(crate) time: Arc<ValidationTime>,
    pub(crate) resolver: Arc<CredentialResolver>,
    pub(crate) verifier: Arc<PolicyVerifier>,
    pub(crate) server_name: rustls::pki_types::ServerName<'static>,
    pub(crate) versions: VersionPolicy,
}

impl fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsSetup({:?}, {:?})", self.server_name, self.versions)
    }
}

impl TlsSetup {
    /// Build the configuration: the server is authenticated by `policy`; the client
    /// certificate comes from `resolver`.
    pub(crate) fn new(
        provider: Arc<CryptoProvider>,
        policy: &ServerPolicy,
        versions: VersionPolicy,
        mut resolver: CredentialResolver,
        p256: &'static dyn crate::hal::P256,
    ) -> Result<Self, SetupError> {
        resolver.set_rng(provider.secure_random);
        resolver.set_p256(p256);
        let time = Arc::new(ValidationTime::default());
        let verifier = Arc::new(PolicyVerifier::new(
            policy,
            provider.signature_verification_algorithms,
            time.clone(),
        )?);
        let server_name = rustls::pki_types::ServerName::try_from(verifier.sni())
            .map_err(|_| SetupError::BadServerName)?
            .to_owned();
        let secrets = Arc::new(SecretCatcher::default());
        let resolver = Arc::new(resolver);
        let offered: &[&'static rustls::SupportedProtocolVersion] = match versions {
            VersionPolicy::Tls12Only => &[&rustls::version::TLS12],
            VersionPolicy::Tls13Only => &[&rustls::version::TLS13],
            VersionPolicy::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        };
        let mut config = ClientConfig::builder_with_details(provider, time.clone())
            .with_protocol_versions(offered)
            .map_err(|e| SetupError::Engine(ProtocolError(e)))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_client_cert_resolver(resolver.clone());
        // EAP-TLS sessions are one-shot: no resumption state to keep in RAM.
        config.resumption = rustls::client::Resumption::disabled();
        config.key_log = secrets.clone();
        Ok(TlsSetup {
            config: Arc::new(config),
            secrets,
            time,
            resolver,
            verifier,
            server_name,
            versions,
        })
    }

    /// The authentication's one time basis at wall time `wall`: the platform's clock when it
    /// is at or above the slot table's persisted floor, else the floor.
    pub(crate) fn time_basis(&self, wall: Option<u64>) -> TimeSource {
        TimeSource::resolve(wall, self.resolver.time_floor())
    }

    /// Hand every TLS secret to `sink` too (feature `keylog`, a debugging aid).
    #[cfg(feature = "keylog")]
    pub(crate) fn set_key_log(&self, sink: Arc<dyn crate::tls::KeyLogSink>) {
        *self.secrets.sink.lock() = Some(sink);
    }

    /// Make `time` the time both the server check and certificate selection use.
    pub(crate) fn set_time(&self, time: TimeSource) {
        self.time.set_source(time);
        self.resolver.set_time(time);
    }
}
