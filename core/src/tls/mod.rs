//! The TLS engine adapter: rustls 0.23's unbuffered (sans-IO) client with Latchkey's own
//! RustCrypto `CryptoProvider`.

pub mod provider;
