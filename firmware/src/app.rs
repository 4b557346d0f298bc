//! The image's Latchkey configuration, shared by the firmware image and the QEMU benchmark:
//! the slot table with one client credential, the server policy, our rustls provider and the
//! supplicant, all in static memory except what rustls allocates.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem::MaybeUninit;

use latchkey_core::certs::{InlineKey, KeyRef, SlotTable};
use latchkey_core::supplicant::{Config, Supplicant};
use latchkey_core::tls::provider::{provider, SharedRng};
use latchkey_core::tls::{
    ClientSetup, CredentialResolver, NameMatch, ServerPolicy, SlotSource, VersionPolicy,
};

use crate::rng::InsecureCounterRng;

/// Slots in the certificate table, and the largest certificate a slot holds.
const SLOTS: usize = 4;
const CERT_MAX: usize = 2048;

/// Size-measurement test PKI (firmware/pki/gen.sh): public test material, not a secret.
const CA_DER: &[u8] = include_bytes!("../pki/ca.der");
pub const CLIENT_DER: &[u8] = include_bytes!("../pki/client.der");
pub const CLIENT_KEY_PKCS8: &[u8] = include_bytes!("../pki/client-key.pk8");

/// Persisted time floor used when no wall clock is known (2025-11-25).
const TIME_FLOOR: u64 = 1_764_028_800;

/// The randomness rustls draws from (a stand-in: see `rng`).
pub static RNG: SharedRng<InsecureCounterRng> =
    SharedRng::new(InsecureCounterRng::new(0x4c61_7463));

type Table = spin::Mutex<SlotTable<SLOTS, CERT_MAX>>;

/// The slot table, in .bss and built at run time: as a `static` with a const initialiser it
/// lands in .data (an empty `SlotTable` is not all-zero bytes) and costs its size in flash too.
static mut TABLE: MaybeUninit<Table> = MaybeUninit::uninit();

/// The supplicant lives in .bss (it holds the fixed TLS record buffers), written once in main.
static mut SUPPLICANT: MaybeUninit<Supplicant> = MaybeUninit::uninit();

/// Builds the supplicant: provider, slot table with one credential, server policy, setup.
pub fn setup() -> Option<&'static mut Supplicant> {
    // SAFETY: called once, before anything else refers to `TABLE`.
    let table: &'static Table =
        unsafe { (*core::ptr::addr_of_mut!(TABLE)).write(spin::Mutex::new(SlotTable::new())) };
    let key = InlineKey::from_pkcs8_der(CLIENT_KEY_PKCS8).ok()?;
    table.lock().install(CLIENT_DER, KeyRef::Inline(key)).ok()?;

    let policy = ServerPolicy::new(NameMatch::exact("radius.example.test").ok()?)
        .with_anchor_der(CA_DER)
        .ok()?;
    let resolver =
        CredentialResolver::slot_table(Arc::new(table) as Arc<dyn SlotSource>, Vec::new(), None);
    let provider = Arc::new(provider(&RNG));
    let setup = ClientSetup::with_policy(provider, &policy, VersionPolicy::Both, resolver).ok()?;

    let mut config = Config::default();
    config.peer.identity = heapless::String::try_from("device-0001@example.test").ok()?;
    config.time_floor = TIME_FLOOR;
    // SAFETY: called once, before anything else refers to `SUPPLICANT`.
    let slot = unsafe { &mut *core::ptr::addr_of_mut!(SUPPLICANT) };
    Some(slot.write(Supplicant::new(config, setup)))
}
