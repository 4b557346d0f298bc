//! The TLS layer: rustls 0.23's unbuffered (sans-IO) client with Latchkey's own RustCrypto
//! `CryptoProvider`, the configuration it runs with, the server validation policy and the
//! slot-table-backed certificate resolver. Only Latchkey's own types are public here; rustls
//! stays an implementation detail, and the handshake secrets never leave this module and the
//! EAP-TLS key derivation.
//!
//! Module map (no cycles): `error` and `time` depend on nothing here; `server_policy` on
//! `error` and `time`; `resolver` on `provider`; `setup` builds the rustls configuration from
//! all of them; `engine` runs one handshake over a `setup`.

pub(crate) mod engine;
mod error;
#[cfg(feature = "keylog")]
mod keylog;
#[cfg(feature = "internals")]
pub mod provider;
#[cfg(not(feature = "internals"))]
pub(crate) mod provider;
pub(crate) mod resolver;
pub mod server_policy;
pub(crate) mod setup;
mod time;

pub use error::{Alert, CipherSuite, ProtocolError, SetupError, TlsError, TlsVersion};
#[cfg(feature = "keylog")]
pub use keylog::KeyLogSink;
pub use provider::SharedRng;
pub use resolver::ResolveRecord;
pub use server_policy::{
    NameMatch, Pin, ServerCertificate, ServerPolicy, ServerRejection, ServerVerdict,
    UntrustedTimePolicy,
};
pub use setup::VersionPolicy;
