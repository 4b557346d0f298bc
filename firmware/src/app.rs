//! The image's Latchkey configuration, shared by the firmware image and the QEMU benchmark:
//! the slot table with the device's credentials, the server policy, our rustls provider and
//! the supplicant, all in static memory except what rustls allocates. Every use of
//! latchkey-core's construction API is here.
//!
//! The credentials come from the provisioning record (`provision`) when the device has one,
//! else from the size-measurement PKI built into the image (firmware/pki/).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem::MaybeUninit;

use latchkey_core::certs::{InlineKey, KeyRef, SlotTable};
use latchkey_core::supplicant::{Config, Supplicant};
use latchkey_core::tls::provider::{provider, SharedRng};
use latchkey_core::tls::{
    ClientSetup, CredentialResolver, NameMatch, ServerPolicy, SlotSource, VersionPolicy,
};

use crate::provision::{self, Provisioned, SlotState};
use crate::rng::{BoardRng, InsecureCounterRng};

/// Slots in the certificate table, and the largest certificate a slot holds.
const SLOTS: usize = provision::MAX_SLOTS;
const CERT_MAX: usize = 2048;

/// Size-measurement test PKI (firmware/pki/gen.sh): public test material, not a secret.
const CA_DER: &[u8] = include_bytes!("../pki/ca.der");
pub const CLIENT_DER: &[u8] = include_bytes!("../pki/client.der");
pub const CLIENT_KEY_PKCS8: &[u8] = include_bytes!("../pki/client-key.pk8");

/// Where the provisioning record lives (memory.x keeps it out of the image) and its size.
const PROVISION_ADDR: usize = 0x003f_0000;
const PROVISION_LEN: usize = 16 * 1024;

/// Persisted time floor used when no wall clock is known (2025-11-25).
const TIME_FLOOR: u64 = 1_764_028_800;

/// The randomness rustls draws from (the board's source: see `rng`).
pub static RNG: SharedRng<BoardRng> = SharedRng::new(InsecureCounterRng::new(0x4c61_7463));

type Table = spin::Mutex<SlotTable<SLOTS, CERT_MAX>>;

/// The slot table, in .bss and built at run time: as a `static` with a const initialiser it
/// lands in .data (an empty `SlotTable` is not all-zero bytes) and costs its size in flash too.
static mut TABLE: MaybeUninit<Table> = MaybeUninit::uninit();

/// The supplicant lives in .bss (it holds the fixed TLS record buffers), written once in main.
static mut SUPPLICANT: MaybeUninit<Supplicant> = MaybeUninit::uninit();

/// Where the credentials came from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The provisioning record.
    Provisioned,
    /// No record (why): the PKI built into the image.
    BuiltIn(provision::ProvisionError),
}

/// The provisioning record, if the region holds a valid one.
fn provisioned() -> Result<Provisioned<'static>, provision::ProvisionError> {
    // SAFETY: a fixed region of the board's code memory that memory.x keeps out of the image;
    // nothing writes it while the image runs.
    let region = unsafe { core::slice::from_raw_parts(PROVISION_ADDR as *const u8, PROVISION_LEN) };
    provision::parse(region)
}

/// The settings built into the image (its size-measurement PKI).
fn built_in() -> Option<Provisioned<'static>> {
    let mut p = Provisioned {
        anchors: heapless::Vec::new(),
        server_name: "radius.example.test",
        identity: "device-0001@example.test",
        slots: heapless::Vec::new(),
    };
    p.anchors.push(CA_DER).ok()?;
    p.slots
        .push(provision::Slot {
            state: SlotState::Active,
            cert: CLIENT_DER,
            key: CLIENT_KEY_PKCS8,
        })
        .ok()?;
    Some(p)
}

/// Builds the supplicant: provider, slot table with the device's credentials, server policy,
/// setup.
pub fn setup() -> Option<(&'static mut Supplicant, Source)> {
    let (settings, source) = match provisioned() {
        Ok(p) => (p, Source::Provisioned),
        Err(why) => (built_in()?, Source::BuiltIn(why)),
    };
    // SAFETY: called once, before anything else refers to `TABLE`.
    let table: &'static Table =
        unsafe { (*core::ptr::addr_of_mut!(TABLE)).write(spin::Mutex::new(SlotTable::new())) };
    {
        let mut t = table.lock();
        for slot in &settings.slots {
            let key = InlineKey::from_pkcs8_der(slot.key).ok()?;
            let index = t.install(slot.cert, KeyRef::Inline(key)).ok()?;
            if slot.state == SlotState::Archived {
                t.archive(index).ok()?;
            }
        }
    }

    let mut policy = ServerPolicy::new(NameMatch::exact(settings.server_name).ok()?);
    for anchor in &settings.anchors {
        policy = policy.with_anchor_der(anchor).ok()?;
    }
    let resolver =
        CredentialResolver::slot_table(Arc::new(table) as Arc<dyn SlotSource>, Vec::new(), None);
    let provider = Arc::new(provider(&RNG));
    let setup = ClientSetup::with_policy(provider, &policy, VersionPolicy::Both, resolver).ok()?;

    let mut config = Config::default();
    config.peer.identity = heapless::String::try_from(settings.identity).ok()?;
    config.time_floor = TIME_FLOOR;
    // SAFETY: called once, before anything else refers to `SUPPLICANT`.
    let slot = unsafe { &mut *core::ptr::addr_of_mut!(SUPPLICANT) };
    Some((slot.write(Supplicant::new(config, setup)), source))
}
