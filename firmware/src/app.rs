//! The image's Latchkey configuration, shared by the firmware image and the QEMU benchmark:
//! the slot table with one client credential, the server policy, the RNG and the supplicant,
//! all in static memory except what the TLS engine allocates.

use core::mem::MaybeUninit;

use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotTable};
use latchkey_core::tls::{NameMatch, ServerPolicy, SharedRng};
use latchkey_core::{Buffers, Supplicant};

use crate::rng::InsecureCounterRng;

/// Slots in the certificate table, and the largest certificate a slot holds.
const SLOTS: usize = 4;
const CERT_MAX: usize = 2048;

/// Size-measurement test PKI (firmware/pki/gen.sh): public test material, not a secret.
const CA_DER: &[u8] = include_bytes!("../pki/ca.der");
pub const CLIENT_DER: &[u8] = include_bytes!("../pki/client.der");
pub const CLIENT_KEY_PKCS8: &[u8] = include_bytes!("../pki/client-key.pk8");

/// Persisted time floor used when no wall clock is known (2025-11-25): the slot table's,
/// which a real device loads from flash.
const TIME_FLOOR: u64 = 1_764_028_800;

/// The randomness the TLS engine draws from (a stand-in: see `rng`).
pub static RNG: SharedRng<InsecureCounterRng> =
    SharedRng::new(InsecureCounterRng::new(0x4c61_7463));

type Table = SharedSlotTable<SLOTS, CERT_MAX>;

/// The supplicant as this image holds it: its buffers in a `static`.
pub type ImageSupplicant = Supplicant<&'static mut Buffers>;

/// The slot table, in .bss and built at run time: as a `static` with a const initialiser it
/// lands in .data (an empty `SlotTable` is not all-zero bytes) and costs its size in flash too.
static mut TABLE: MaybeUninit<Table> = MaybeUninit::uninit();

/// The supplicant's fixed buffers (TLS records, EAP packet, EAPOL frame): all zeros, so .bss.
static mut BUFFERS: Buffers = Buffers::new();

/// The supplicant itself (small: its buffers are in `BUFFERS`), written once in main.
static mut SUPPLICANT: MaybeUninit<ImageSupplicant> = MaybeUninit::uninit();

/// Builds the supplicant: slot table with one credential, server policy, RNG.
pub fn setup() -> Option<&'static mut ImageSupplicant> {
    // SAFETY: called once, before anything else refers to `TABLE`.
    let table: &'static Table =
        unsafe { (*core::ptr::addr_of_mut!(TABLE)).write(SharedSlotTable::new(SlotTable::new())) };
    let key = InlineKey::from_pkcs8_der(CLIENT_KEY_PKCS8).ok()?;
    table.with(|t| {
        t.observe_time(TIME_FLOOR);
        t.install(CLIENT_DER, KeyRef::Inline(key))
    })
    .ok()?;

    let policy = ServerPolicy::new(NameMatch::exact("radius.example.test").ok()?)
        .with_anchor_der(CA_DER)
        .ok()?;
    // SAFETY: called once, before anything else refers to `BUFFERS`.
    let buffers: &'static mut Buffers = unsafe { &mut *core::ptr::addr_of_mut!(BUFFERS) };
    let supplicant = Supplicant::builder("device-0001@example.test")
        .server(policy)
        .slot_table(table)
        .rng(&RNG)
        .build_with(buffers)
        .ok()?;
    // SAFETY: called once, before anything else refers to `SUPPLICANT`.
    let slot = unsafe { &mut *core::ptr::addr_of_mut!(SUPPLICANT) };
    Some(slot.write(supplicant))
}
