//! The front door: [`SupplicantBuilder`] goes from an identity, a server policy, the slot
//! table, randomness and settings to a ready [`Supplicant`]. It is the only construction path;
//! everything it assembles (the TLS configuration, the verifier, the certificate resolver, the
//! crypto provider) stays inside the crate.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::mem::MaybeUninit;

use rand_core::{CryptoRng, RngCore};
use rustls::pki_types::CertificateDer;

use crate::certs::SlotSource;
use crate::eap::peer::IdentityPrivacy;
use crate::hal;
#[cfg(feature = "key-store")]
use crate::hal::KeyStore;
use crate::supplicant::{BufferStorage, Buffers, Config, Supplicant};
use crate::tls::provider::{self, SharedRng};
use crate::tls::resolver::{CredentialResolver, KeyStoreRef};
use crate::tls::setup::TlsSetup;
use crate::tls::{ServerPolicy, SetupError, VersionPolicy};

/// Latchkey's cryptography (its RustCrypto provider for the TLS engine) bound to the
/// platform's RNG, with the P-256 operations done by RustCrypto or by the board's
/// [`hal::P256`] ([`Self::with_p256`]). Build it once at start-up and clone it for every
/// supplicant: building one sets aside two small values per key-exchange group for the life
/// of the program (the TLS engine requires them `'static`), and with a board's P-256 also the
/// signature-verification tables that name it (a few hundred bytes).
#[derive(Clone)]
pub struct Crypto {
    provider: Arc<rustls::crypto::CryptoProvider>,
    p256: Option<&'static dyn hal::P256>,
}

impl Crypto {
    /// Cryptography drawing its randomness from `rng`, all of it RustCrypto's.
    pub fn new<R>(rng: &'static SharedRng<R>) -> Self
    where
        R: RngCore + CryptoRng + Send,
    {
        Crypto {
            provider: Arc::new(provider::provider(rng)),
            p256: None,
        }
    }

    /// The same cryptography (same RNG) with every P-256 public-key operation of a handshake
    /// done by `p256`: ECDHE on secp256r1 (key generation and shared secret), P-256 signature
    /// verification (the server's certificate chain and handshake signature) and signatures
    /// with inline P-256 client keys. Keys in a [`hal::KeyStore`] are still signed there.
    pub fn with_p256(self, p256: &'static dyn hal::P256) -> Self {
        let rng = self.provider.secure_random;
        Crypto {
            provider: Arc::new(provider::provider_with(
                rng,
                p256,
                provider::sig_algs_with(p256),
            )),
            p256: Some(p256),
        }
    }

    /// The P-256 implementation in use.
    fn p256(&self) -> &'static dyn hal::P256 {
        self.p256.unwrap_or(&hal::RUSTCRYPTO_P256)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Crypto {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Crypto")
    }
}

impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Crypto")
    }
}

/// What puts a board's P-256 into a [`Crypto`] ([`Crypto::with_p256`]).
type ApplyP256 = fn(Crypto, &'static dyn hal::P256) -> Crypto;

/// Builds a [`Supplicant`]. Required: [`Self::server`] (how the network is authenticated),
/// [`Self::slot_table`] (the device's certificates) and [`Self::crypto`] or [`Self::rng`].
/// See the crate documentation for a whole example.
pub struct SupplicantBuilder {
    config: Config,
    policy: Option<ServerPolicy>,
    table: Option<Arc<dyn SlotSource>>,
    intermediates: Vec<CertificateDer<'static>>,
    key_store: KeyStoreRef,
    crypto: Option<Crypto>,
    /// The board's P-256 and what applies it ([`Crypto::with_p256`], named only by
    /// [`Self::p256`], so an image that never calls it links none of it).
    p256: Option<(&'static dyn hal::P256, ApplyP256)>,
    versions: VersionPolicy,
    identity_error: bool,
    anonymous: bool,
    #[cfg(feature = "keylog")]
    key_log: Option<Arc<dyn crate::tls::KeyLogSink>>,
}

#[cfg(feature = "defmt")]
impl defmt::Format for SupplicantBuilder {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "SupplicantBuilder({=str}, {})",
            self.config.peer.identity.as_str(),
            self.versions
        )
    }
}

impl fmt::Debug for SupplicantBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupplicantBuilder")
            .field("identity", &self.config.peer.identity)
            .field("versions", &self.versions)
            .finish()
    }
}

impl SupplicantBuilder {
    /// Start with the EAP identity (e.g. `device-0042@example.org`; at most 128 bytes).
    pub fn new(identity: &str) -> Self {
        let mut config = Config::default();
        let parsed = heapless::String::try_from(identity);
        let identity_error = parsed.is_err() || identity.is_empty();
        if let Ok(id) = parsed {
            config.peer.identity = id;
        }
        SupplicantBuilder {
            config,
            policy: None,
            table: None,
            intermediates: Vec::new(),
            key_store: Default::default(),
            crypto: None,
            p256: None,
            versions: VersionPolicy::Both,
            identity_error,
            anonymous: false,
            #[cfg(feature = "keylog")]
            key_log: None,
        }
    }

    /// How the server is authenticated: CA anchors, name rules, pins, time policy.
    pub fn server(mut self, policy: ServerPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The device's certificates: a [`crate::certs::SharedSlotTable`] in a `static`
    /// (`&TABLE`), or in an `Arc` on a host. The table's persisted time floor is the time
    /// basis of both the server check and certificate selection when the platform has no
    /// trustworthy wall clock.
    pub fn slot_table(mut self, table: impl SlotSource + 'static) -> Self {
        self.table = Some(Arc::new(table));
        self
    }

    /// An intermediate CA certificate (DER) sent after the chosen client certificate. It is
    /// `'static` (in flash on an MCU, loaded once on a host) so every handshake sends it
    /// without copying it onto the heap.
    pub fn intermediate_der(mut self, der: &'static [u8]) -> Self {
        self.intermediates.push(CertificateDer::from(der));
        self
    }

    /// Where keys held by handle ([`crate::certs::KeyRef::Handle`]) are signed with (feature
    /// `key-store`, on by default).
    #[cfg(feature = "key-store")]
    pub fn key_store(mut self, store: impl KeyStore + 'static) -> Self {
        self.key_store = Some(Arc::new(store));
        self
    }

    /// Cryptography built once and shared (see [`Crypto`]).
    pub fn crypto(mut self, crypto: Crypto) -> Self {
        self.crypto = Some(crypto);
        self
    }

    /// Cryptography drawing from `rng` (shorthand for [`Self::crypto`] with
    /// [`Crypto::new`]; build a [`Crypto`] yourself when making many supplicants).
    pub fn rng<R>(self, rng: &'static SharedRng<R>) -> Self
    where
        R: RngCore + CryptoRng + Send,
    {
        self.crypto(Crypto::new(rng))
    }

    /// Do the handshake's P-256 public-key operations with `p256` (a board's PKA or assembly
    /// implementation) instead of RustCrypto: shorthand for [`Self::crypto`] with
    /// [`Crypto::with_p256`], in either order with [`Self::rng`] / [`Self::crypto`]. Each build
    /// with it sets aside the tables [`Crypto::with_p256`] does; when making many supplicants
    /// build one [`Crypto`] with it instead.
    pub fn p256(mut self, p256: &'static dyn hal::P256) -> Self {
        self.p256 = Some((p256, Crypto::with_p256));
        self
    }

    /// The TLS versions offered (default: 1.2 and 1.3, the server picks).
    pub fn tls_versions(mut self, versions: VersionPolicy) -> Self {
        self.versions = versions;
        self
    }

    /// Send only the realm of the identity (`@example.org`) as the outer identity (RFC 9190
    /// §2.1.8): the device's name then travels only inside its certificate, which TLS 1.3
    /// encrypts.
    pub fn anonymous_identity(mut self) -> Self {
        self.anonymous = true;
        self
    }

    /// Timers, fragment size, bounds and peer settings. An empty `config.peer.identity` keeps
    /// the identity given to [`Self::new`].
    pub fn config(mut self, config: Config) -> Self {
        let identity = core::mem::take(&mut self.config.peer.identity);
        self.config = config;
        if self.config.peer.identity.is_empty() {
            self.config.peer.identity = identity;
        } else {
            self.identity_error = false;
        }
        self
    }

    /// Build with its buffers on the heap (a host).
    pub fn build(self) -> Result<Supplicant, SetupError> {
        self.build_with(Buffers::boxed())
    }

    /// Debugging aid (feature `keylog`, off by default): hand every TLS secret to `sink` in
    /// NSS key log form, so a capture can be decrypted (Wireshark, tshark). Whoever reads what
    /// the sink writes can decrypt the conversation: never in a product build.
    #[cfg(feature = "keylog")]
    pub fn key_log(mut self, sink: Arc<dyn crate::tls::KeyLogSink>) -> Self {
        self.key_log = Some(sink);
        self
    }

    /// Build with `buffers` wherever the platform keeps them, e.g. a `&'static mut Buffers`
    /// from a `static` in `.bss` on an MCU: the supplicant itself is then small and the
    /// buffers are never copied.
    pub fn build_with<B: BufferStorage>(self, buffers: B) -> Result<Supplicant<B>, SetupError> {
        let (config, tls) = self.parts()?;
        Ok(Supplicant::assemble(config, tls, buffers))
    }

    /// Build straight into `place` (a `static mut MaybeUninit` on an MCU) with `buffers`:
    /// [`Self::build_with`] returns the supplicant by value, which a device then copies into
    /// its static, so the several KB of the supplicant are on the stack two or three times at
    /// boot; this writes it where it lives.
    pub fn build_in<B: BufferStorage>(
        self,
        buffers: B,
        place: &mut MaybeUninit<Supplicant<B>>,
    ) -> Result<&mut Supplicant<B>, SetupError> {
        let (config, tls) = self.parts()?;
        Ok(place.write(Supplicant::assemble(config, tls, buffers)))
    }

    /// The configuration and the TLS setup: everything of a supplicant but its buffers.
    fn parts(self) -> Result<(Config, TlsSetup), SetupError> {
        if self.identity_error {
            return Err(SetupError::BadIdentity);
        }
        let mut config = self.config;
        if self.anonymous {
            config.peer.privacy = IdentityPrivacy::AnonymousRealm;
        }
        let policy = self.policy.ok_or(SetupError::NoServerPolicy)?;
        let table = self.table.ok_or(SetupError::NoCredentials)?;
        let mut crypto = self.crypto.ok_or(SetupError::NoRng)?;
        if let Some((p256, apply)) = self.p256 {
            crypto = apply(crypto, p256);
        }
        let resolver = CredentialResolver::new(
            table,
            self.intermediates,
            self.key_store,
            self.versions != VersionPolicy::Tls13Only,
        );
        let p256 = crypto.p256();
        let tls = TlsSetup::new(crypto.provider, &policy, self.versions, resolver, p256)?;
        #[cfg(feature = "keylog")]
        if let Some(sink) = self.key_log {
            tls.set_key_log(sink);
        }
        Ok((config, tls))
    }
}

impl Supplicant<Box<Buffers>> {
    /// Start building a supplicant for `identity` (see [`SupplicantBuilder`]).
    pub fn builder(identity: &str) -> SupplicantBuilder {
        SupplicantBuilder::new(identity)
    }
}
