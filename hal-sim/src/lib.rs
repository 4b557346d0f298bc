//! Host simulator for Latchkey: a simulated authenticator running a real rustls EAP-TLS server,
//! connected to `latchkey-core` through its HAL traits.

pub mod pki;
pub mod rogue;
pub mod scenarios;
pub mod server;
pub mod sim;
