//! The TLS engine adapter: rustls 0.23's unbuffered (sans-IO) client with Latchkey's own
//! RustCrypto `CryptoProvider`, the configuration it runs with, and the secrets it yields.

pub mod engine;
pub mod provider;
pub mod resolver;
pub mod server_policy;
pub mod setup;

pub use engine::{alert_meaning, Engine, Progress, TlsError, TlsVersion};
pub use resolver::{ClientCredential, CredentialResolver, SlotSource};
pub use server_policy::{
    NameMatch, Pin, PolicyVerifier, ServerPolicy, ServerRejection, ServerVerdict,
    UntrustedTimePolicy,
};
pub use setup::{ClientSetup, SetupError, VersionPolicy};
