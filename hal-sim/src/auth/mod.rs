//! The authenticator side: the simulated EAP-TLS server ([`server`]) and its rustls
//! configuration ([`tls`]), the RADIUS codec ([`radius`]) and the relay to a real RADIUS server
//! ([`relay`]), and the simulated access point's WPA key handshakes ([`ap`]).

pub mod ap;
pub mod radius;
pub mod relay;
pub mod server;
pub mod tls;
