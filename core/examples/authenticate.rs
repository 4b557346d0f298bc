//! Integrate Latchkey: build a supplicant from nothing but `latchkey-core`'s public API and
//! authenticate it against an in-memory EAP-TLS server, once with TLS 1.3 and once with
//! TLS 1.2. The device side (the first half of `run`) is what firmware writes; the server side
//! (rustls with ring, and a small EAP authenticator, in `support/eap_server.rs`) stands in for
//! the access point and the RADIUS server. Both sides derive the MSK; the example checks they
//! are equal.
//!
//!     cargo run -p latchkey-core --example authenticate
//!
//! The test command runs it too (`test = true` in core/Cargo.toml).

#[path = "support/eap_server.rs"]
mod eap_server;

use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotTable};
use latchkey_core::hal::MacAddr;
use latchkey_core::tls::{NameMatch, ServerPolicy, SharedRng, VersionPolicy};
use latchkey_core::{Event, Now, Supplicant};

use eap_server::{EapServer, Link, Pki};

const AP: MacAddr = [0x02, 0, 0, 0, 0, 0xaa];

/// The device's randomness (a board puts its TRNG here).
static RNG: SharedRng<rand_core::OsRng> = SharedRng::new(rand_core::OsRng);

/// The device's certificate table (a board loads it from flash at boot).
static TABLE: SharedSlotTable<4, 2048> = SharedSlotTable::new(SlotTable::new());

#[cfg_attr(test, allow(dead_code))]
fn main() {
    for v in [VersionPolicy::Tls13Only, VersionPolicy::Tls12Only] {
        match run(v) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("ERROR: {e}");
                std::process::exit(1);
            }
        }
    }
}

fn run(server_versions: VersionPolicy) -> Result<String, Box<dyn std::error::Error>> {
    let pki = Pki::new()?;

    // --- The device.
    let key = InlineKey::from_pkcs8_der(&pki.client_key)?;
    TABLE.with(|t| t.install(&pki.client_cert, KeyRef::Inline(key)))?;
    let policy =
        ServerPolicy::new(NameMatch::exact("radius.example.test")?).with_anchor_der(&pki.ca)?;
    let mut supplicant = Supplicant::builder("device-0001@example.test")
        .server(policy)
        .slot_table(&TABLE)
        .rng(&RNG)
        .build()?;

    let mut link = Link::default();
    let mut server = EapServer::new(&pki, server_versions)?;
    let mut ms = 0;
    let mut event = supplicant.start(Now::ms(ms), &mut link);
    while event.is_none() {
        let Some(frame) = link.0.pop() else {
            return Err("the supplicant went quiet".into());
        };
        for reply in server.handle(&frame)? {
            ms += 1;
            event = supplicant.handle_frame(Now::ms(ms), AP, &reply, &mut link);
        }
    }

    // --- The outcome.
    match event {
        Some(Event::Authenticated(auth)) => {
            let server_msk = server.msk.ok_or("server derived no MSK")?;
            if !auth.keys.msk.ct_eq(&server_msk) {
                return Err("MSK differs from the server's".into());
            }
            Ok(format!(
                "authenticated with {} after {} EAP round trips; MSK {} equals the server's; PMK {:?}",
                auth.version,
                auth.round_trips,
                auth.keys.msk.fingerprint(),
                auth.keys.msk.pmk(latchkey_core::wpa::Akm::Ieee8021x)?,
            ))
        }
        Some(Event::Failed(why)) => Err(format!("FAILED ({}): {why}", why.kind()).into()),
        _ => Err("no outcome".into()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_example_authenticates_with_tls13_and_tls12() {
        for v in [
            latchkey_core::tls::VersionPolicy::Tls13Only,
            latchkey_core::tls::VersionPolicy::Tls12Only,
        ] {
            let line = super::run(v).unwrap();
            assert!(line.contains("equals the server's"), "{line}");
        }
    }
}
