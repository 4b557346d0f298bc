//! Latchkey's RustCrypto `CryptoProvider` for rustls (to be written).
