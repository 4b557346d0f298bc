//! Latchkey core: a `no_std` EAP-TLS supplicant for Wi-Fi modules and microcontrollers.
//!
//! Sans-IO state machines for EAPOL (802.1X), the EAP peer (RFC 3748/4137) and EAP-TLS
//! (RFC 5216 / RFC 9190), with key derivation (MSK, EMSK, Session-Id, the WPA PMK), and a
//! certificate slot table that never presents an archived certificate. The platform gives
//! frames, time and randomness and takes frames through the traits in [`hal`]; only the TLS
//! engine allocates.
//!
//! # Integrate it
//!
//! Build a [`Supplicant`] with [`SupplicantBuilder`], then drive it from your loop: feed each
//! received EAPOL frame to [`Supplicant::handle_frame`], call [`Supplicant::poll`] at
//! [`Supplicant::next_deadline`], and act on the [`Event`] that ends an authentication.
//!
//! ```
//! use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotTable};
//! use latchkey_core::hal::{MacAddr, Radio, RadioErrorKind};
//! use latchkey_core::tls::{NameMatch, ServerPolicy, SharedRng};
//! use latchkey_core::{Event, Now, Supplicant};
//! # use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, BasicConstraints, KeyPair};
//! # let ca_key = KeyPair::generate()?;
//! # let mut ca = CertificateParams::default();
//! # ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
//! # let ca = ca.self_signed(&ca_key)?;
//! # let key = KeyPair::generate()?;
//! # let mut leaf = CertificateParams::new(vec![])?;
//! # leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
//! # let leaf = leaf.signed_by(&key, &ca, &ca_key)?;
//! # let (ca_der, cert_der, key_pkcs8) = (ca.der().to_vec(), leaf.der().to_vec(), key.serialize_der());
//!
//! static RNG: SharedRng<rand_core::OsRng> = SharedRng::new(rand_core::OsRng); // your TRNG
//! static TABLE: SharedSlotTable<4, 2048> = SharedSlotTable::new(SlotTable::new());
//!
//! struct Uart; // your link: sends EAPOL frames
//! impl Radio for Uart {
//!     type Error = RadioErrorKind;
//!     fn send(&mut self, _dst: MacAddr, _frame: &[u8]) -> Result<(), RadioErrorKind> {
//!         Ok(())
//!     }
//! }
//!
//! let key = InlineKey::from_pkcs8_der(&key_pkcs8)?;
//! TABLE.with(|t| t.install(&cert_der, KeyRef::Inline(key)))?;
//! let policy = ServerPolicy::new(NameMatch::exact("radius.example.org")?).with_anchor_der(&ca_der)?;
//! let mut supplicant = Supplicant::builder("device-0042@example.org")
//!     .server(policy)
//!     .slot_table(&TABLE)
//!     .rng(&RNG)
//!     .build()?;
//!
//! let mut radio = Uart;
//! let mut event = supplicant.start(Now::ms(0), &mut radio);
//! // loop { on a frame: event = supplicant.handle_frame(now, src, &frame, &mut radio);
//! //        at supplicant.next_deadline(): event = supplicant.poll(now, &mut radio); }
//! match event.take() {
//!     Some(Event::Authenticated(auth)) => { let _pmk = auth.keys.msk.pmk(latchkey_core::wpa::Akm::Ieee8021x)?; }
//!     Some(Event::Failed(why)) => println!("FAILED ({}): {why}", why.kind()),
//!     _ => {}
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/authenticate.rs` runs the same code against an in-memory EAP-TLS server.
#![no_std]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod builder;
mod bytes;
pub mod certs;
pub mod eap;
pub mod eap_tls;
pub mod eapol;
pub mod hal;
mod kind;
mod log;
pub mod supplicant;
pub mod tls;
pub mod wpa;

pub use builder::{Crypto, SupplicantBuilder};
pub use eap_tls::keys::{KeyMaterial, Msk};
pub use kind::FailKind;
pub use supplicant::{
    Association, Authenticated, BufferStorage, Buffers, Config, Event, FailReason, Now, PaeState,
    Supplicant, RX_BUFFER_SIZE,
};
#[cfg(feature = "wpa")]
pub use supplicant::{KeyDrops, KeyInstall, Rsn, PMKSA_CAPACITY};
pub use tls::SharedRng;
