//! The simulated device's HAL on the host: the in-memory radio (frames the supplicant sends wait
//! in an outbox for the simulated authenticator), the host's cryptography and RNG, and the
//! supplicant built for the built-in test PKI with its slot table.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotSource, SlotTable};
use latchkey_core::hal::{MacAddr, Radio, RadioErrorKind};
use latchkey_core::supplicant::{Config, Supplicant};
use latchkey_core::tls::{NameMatch, ServerPolicy, SharedRng, VersionPolicy};
use latchkey_core::{Crypto, SupplicantBuilder};

use crate::pki::{TestPki, SERVER_NAME};

/// The supplicant's MAC address in the simulation.
pub const STA_ADDR: MacAddr = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
/// The authenticator's MAC address in the simulation.
pub const AP_ADDR: MacAddr = [0x02, 0x00, 0x00, 0x00, 0x00, 0xaa];

/// Frames the supplicant sent, waiting for the authenticator.
#[derive(Default)]
pub struct SimRadio {
    /// Outgoing frames (destination, EAPOL frame).
    pub outbox: VecDeque<(MacAddr, Vec<u8>)>,
}

impl Radio for SimRadio {
    type Error = RadioErrorKind;

    fn send(&mut self, dst: MacAddr, frame: &[u8]) -> Result<(), RadioErrorKind> {
        self.outbox.push_back((dst, frame.to_vec()));
        Ok(())
    }
}

/// Latchkey's cryptography with the host's OS RNG, built once and shared by every supplicant.
pub fn host_crypto() -> Crypto {
    static RNG: SharedRng<rand::rngs::OsRng> = SharedRng::new(rand::rngs::OsRng);
    static CRYPTO: OnceLock<Crypto> = OnceLock::new();
    CRYPTO.get_or_init(|| Crypto::new(&RNG)).clone()
}

/// The slot table the simulator's devices use.
pub type Table = SharedSlotTable<4, 2048>;

/// A supplicant builder for the test PKI: its root as the CA anchor, the server name, the
/// intermediate CA sent after the chosen leaf, `v` offered, the host's cryptography, and
/// certificates from `table`.
pub fn client_builder(
    pki: &TestPki,
    config: &Config,
    v: VersionPolicy,
    table: impl SlotSource + 'static,
) -> Result<SupplicantBuilder, String> {
    let policy = ServerPolicy::new(NameMatch::exact(SERVER_NAME).map_err(|e| e.to_string())?)
        .with_anchor_der(pki.root.cert.as_ref())
        .map_err(|e| e.to_string())?;
    Ok(SupplicantBuilder::new(config.peer.identity.as_str())
        .config(config.clone())
        .server(policy)
        .slot_table(table)
        .intermediate_der(pki.intermediate_der())
        .crypto(host_crypto())
        .tls_versions(v))
}

/// A slot table holding the test PKI's device certificate, active.
pub fn test_table(pki: &TestPki) -> Result<Arc<Table>, String> {
    let table = Arc::new(Table::new(SlotTable::new()));
    let key = InlineKey::from_pkcs8_der(pki.client.private_key().secret_der())
        .map_err(|e| format!("test key: {e}"))?;
    table
        .with(|t| t.install(pki.client.cert.as_ref(), KeyRef::Inline(key)))
        .map_err(|e| format!("test certificate: {e}"))?;
    Ok(table)
}

/// A supplicant for the test PKI with the test device certificate (see [`client_builder`]).
pub fn client(pki: &TestPki, config: &Config, v: VersionPolicy) -> Result<Supplicant, String> {
    client_builder(pki, config, v, test_table(pki)?)?
        .build()
        .map_err(|e| e.to_string())
}
