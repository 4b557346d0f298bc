//! Host simulator for Latchkey: a simulated authenticator running a real rustls EAP-TLS server,
//! connected to `latchkey-core` through its HAL traits.

pub mod ap;
pub mod capture;
pub mod config;
#[cfg(target_os = "linux")]
pub mod connect;
pub mod fleet;
pub mod fleet_pki;
#[cfg(target_os = "linux")]
pub mod link;
pub mod pki;
pub mod radius;
pub mod relay;
pub mod report;
pub mod report_schema;
pub mod rogue;
pub mod scenarios;
pub mod server;
pub mod sim;
pub mod soak;
pub mod table_file;
pub mod wpa_conf;
