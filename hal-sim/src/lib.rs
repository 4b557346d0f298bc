//! Host simulator for Latchkey: a simulated authenticator running a real rustls EAP-TLS server,
//! connected to `latchkey-core` through its HAL traits.
//!
//! Where things are: [`hal`] the HAL implementations (in-memory radio, `AF_PACKET` link, the
//! table file as flash); [`drive`] the loops that drive the supplicant; [`auth`] the
//! authenticators (simulated EAP-TLS server, RADIUS codec and relay, the simulated access
//! point); [`rogue`] every rogue server; [`cli`] the command's configuration, captures and
//! reports; [`fleet`] the many-device run and its PKI; [`scenarios`] the renewal story and the
//! lossy soak; [`pki`] the built-in test PKI.

pub mod auth;
pub mod cli;
pub mod drive;
pub mod fleet;
pub mod hal;
pub mod pki;
pub mod rogue;
pub mod scenarios;
