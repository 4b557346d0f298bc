//! Latchkey core: a `no_std` EAP-TLS supplicant.
//!
//! Sans-IO state machines for EAPOL (802.1X), the EAP peer (RFC 3748/4137) and EAP-TLS
//! (RFC 5216 / RFC 9190), with key derivation (MSK, EMSK, Session-Id). The platform gives
//! frames, time and randomness through the traits in [`hal`]; only the TLS engine allocates.
#![no_std]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
#![warn(missing_docs)]

extern crate alloc;

mod bytes;
pub mod certs;
pub mod eap;
pub mod eap_tls;
pub mod eapol;
pub mod hal;
mod log;
pub mod supplicant;
pub mod tls;
pub mod wpa;
