//! The image's Latchkey configuration, shared by the firmware image and the QEMU benchmark:
//! the slot table with the device's credentials, the server policy, the RNG and the supplicant
//! with its buffers, all in static memory except what the TLS engine allocates. Every use of
//! latchkey-core's construction API is here.
//!
//! The credentials come from the provisioning record (`provision`) when the device has one,
//! else from the size-measurement PKI built into the image (firmware/pki/).
//!
//! With feature `semihosting-flash` (QEMU) the slot table lives in flash (`hostflash`): loaded
//! at boot when a committed image is there, else filled from the provisioning record and
//! committed; committed again whenever it changes (the time floor raised).

use core::mem::MaybeUninit;

#[cfg(feature = "semihosting-flash")]
use latchkey_core::certs::{CommitError, FlashLayout, LoadError, LoadReport, Region};
use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotTable};
use latchkey_core::tls::{NameMatch, ServerPolicy, SharedRng};
use latchkey_core::{Buffers, Supplicant};

#[cfg(feature = "semihosting-flash")]
use crate::hostflash::{HostFlash, ERASE_SIZE};
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

/// Persisted time floor used when no wall clock is known (2025-11-25): the slot table's, which
/// a device loads from flash with the table.
const TIME_FLOOR: u64 = 1_764_028_800;

/// The randomness rustls draws from (the board's source: see `rng`).
pub static RNG: SharedRng<BoardRng> = SharedRng::new(InsecureCounterRng::new(0x4c61_7463));

pub type Table = SharedSlotTable<SLOTS, CERT_MAX>;

/// Each of the table's two image regions: the largest image, rounded up to erase sectors.
#[cfg(feature = "semihosting-flash")]
const REGION: u32 = {
    let max = SlotTable::<SLOTS, CERT_MAX>::max_image_len();
    (max.div_ceil(ERASE_SIZE) * ERASE_SIZE) as u32
};

/// Where the table's images live in the flash.
#[cfg(feature = "semihosting-flash")]
pub const LAYOUT: FlashLayout = FlashLayout {
    region_a: 0,
    region_b: REGION,
    region_size: REGION,
};

/// The largest EAP-TLS message (one server flight, all its fragments) the image takes:
/// 12 KiB, against the library's default of 16 KiB, for the 64 KiB RAM budget. The servers of
/// the tests send 2-3 KB; an enterprise server with an RSA chain of three certificates and a
/// long CertificateRequest CA list stays under 10 KB. A larger flight fails at its first
/// fragment (the length it announces) as `message-too-large`, never by overrunning anything.
pub const TLS_IN: usize = 12 * 1024;

/// The supplicant's buffers as this image sizes them (our own flights keep the default 4 KiB).
pub type ImageBuffers = Buffers<TLS_IN>;

/// The supplicant as this image holds it: its buffers in a `static`.
pub type ImageSupplicant = Supplicant<&'static mut ImageBuffers>;

/// The slot table, empty until `setup` fills or loads it. A `static` with a const initialiser
/// lands in .data (an empty `SlotTable` is not all-zero bytes), so its 8.7 KB are in flash too,
/// copied to RAM by the reset handler; built at run time instead (in .bss) it went through two
/// table-sized temporaries on the stack, 17 KB of the boot's stack peak.
static TABLE: Table = SharedSlotTable::new(SlotTable::new());

/// The supplicant's fixed buffers (TLS records, EAP packet, EAPOL frame): all zeros, so .bss.
static mut BUFFERS: ImageBuffers = Buffers::new();

/// The supplicant itself (about 3 KB: its buffers are in `BUFFERS`), written once in main.
static mut SUPPLICANT: MaybeUninit<ImageSupplicant> = MaybeUninit::uninit();

/// Where the credentials came from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The provisioning record.
    Provisioned,
    /// No record (why): the PKI built into the image.
    BuiltIn(provision::ProvisionError),
}

/// Where the slot table came from at boot.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// Built without persistence: from the settings, kept in RAM only.
    #[cfg(not(feature = "semihosting-flash"))]
    None,
    /// Loaded from flash: the committed image with this sequence number.
    #[cfg(feature = "semihosting-flash")]
    Loaded(u64),
    /// Flash held no table (a new device): filled from the settings and committed.
    #[cfg(feature = "semihosting-flash")]
    New(Result<Region, CommitError>),
    /// Flash could not be read (why): filled from the settings and committed.
    #[cfg(feature = "semihosting-flash")]
    Unreadable(LoadError, Result<Region, CommitError>),
}

/// The device's flash, when the image persists its table.
#[cfg(feature = "semihosting-flash")]
pub type Flash = Option<HostFlash>;
/// Built without persistence: no flash.
#[cfg(not(feature = "semihosting-flash"))]
pub type Flash = ();

/// Everything `setup` makes for the main loop.
pub struct Device {
    /// The supplicant.
    pub supplicant: &'static mut ImageSupplicant,
    /// Its slot table (shared with the supplicant).
    pub table: &'static Table,
    /// Where the table is committed.
    pub flash: Flash,
    /// Where the credentials came from.
    pub source: Source,
    /// Where the table came from.
    pub store: Store,
    /// The network link (when to start).
    pub link: provision::Link,
}

/// Commits the table to flash (when the image has flash).
#[cfg(feature = "semihosting-flash")]
pub fn commit(table: &Table, flash: &mut Flash) -> Option<Result<Region, CommitError>> {
    let flash = flash.as_mut()?;
    Some(table.with(|t| t.commit(flash, &LAYOUT)))
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
        link: provision::Link::Wired,
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
///
/// Never inlined: building the table and the configuration takes tens of KB of stack for
/// temporaries, which must be given back before the authentication runs (inlined into `main`,
/// they stayed in `main`'s frame for good).
#[inline(never)]
pub fn setup() -> Option<Device> {
    let (settings, source) = match provisioned() {
        Ok(p) => (p, Source::Provisioned),
        Err(why) => (built_in()?, Source::BuiltIn(why)),
    };
    let table = &TABLE;
    #[cfg(feature = "semihosting-flash")]
    let mut flash = HostFlash::open(2 * REGION as usize).ok();
    // The committed table, loaded in place into `TABLE` (a table is 8.5 KB: a copy of it
    // would be that much stack).
    #[cfg(feature = "semihosting-flash")]
    let from_flash = flash.as_mut().and_then(|f| {
        table.with(|t| match t.load_into(f, &LAYOUT) {
            Ok(LoadReport::Loaded { sequence, .. }) => Some(Ok(sequence)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
    });
    #[cfg(not(feature = "semihosting-flash"))]
    let flash = ();
    #[cfg(feature = "semihosting-flash")]
    let store = match from_flash {
        Some(Ok(sequence)) => Store::Loaded(sequence),
        other => {
            fill(table, &settings)?;
            let committed = commit(table, &mut flash).unwrap_or(Err(CommitError::Flash(
                latchkey_core::certs::FlashFault::Other,
            )));
            match other {
                Some(Err(e)) => Store::Unreadable(e, committed),
                _ => Store::New(committed),
            }
        }
    };
    #[cfg(not(feature = "semihosting-flash"))]
    let store = {
        fill(table, &settings)?;
        Store::None
    };

    let link = settings.link;
    Some(Device {
        supplicant: supplicant(&settings, table)?,
        table,
        flash,
        source,
        store,
        link,
    })
}

/// The supplicant, built from the settings over `table`, in its static.
///
/// Never inlined, nor is [`fill`]: inlined into `setup`, their temporaries added up (a 30 KB
/// frame, the image's deepest stack at boot).
#[inline(never)]
fn supplicant(
    settings: &Provisioned<'_>,
    table: &'static Table,
) -> Option<&'static mut ImageSupplicant> {
    let mut policy = ServerPolicy::new(NameMatch::exact(settings.server_name).ok()?);
    for anchor in &settings.anchors {
        policy = policy.with_anchor_der(anchor).ok()?;
    }
    // SAFETY: called once, before anything else refers to `BUFFERS`.
    let buffers: &'static mut ImageBuffers = unsafe { &mut *core::ptr::addr_of_mut!(BUFFERS) };
    // SAFETY: called once, before anything else refers to `SUPPLICANT`.
    let slot = unsafe { &mut *core::ptr::addr_of_mut!(SUPPLICANT) };
    Supplicant::builder(settings.identity)
        .server(policy)
        .slot_table(table)
        .rng(&RNG)
        .build_in(buffers, slot)
        .ok()
}

/// A slot's private key from its PKCS#8 DER (checked: deriving its public key is a scalar
/// multiplication). Never inlined: under `fill`'s frame, which holds a slot being installed
/// (2.2 KB), that multiplication made the boot's deepest stack.
#[inline(never)]
fn inline_key(pkcs8: &[u8]) -> Option<InlineKey> {
    InlineKey::from_pkcs8_der(pkcs8).ok()
}

/// Fills an empty table from the settings: the persisted time floor, then each slot.
#[inline(never)]
fn fill(table: &Table, settings: &Provisioned<'_>) -> Option<()> {
    table.with(|t| {
        t.observe_time(TIME_FLOOR);
        for slot in &settings.slots {
            let key = inline_key(slot.key)?;
            let index = t.install(slot.cert, KeyRef::Inline(key)).ok()?;
            if slot.state == SlotState::Archived {
                t.archive(index).ok()?;
            }
        }
        Some(())
    })
}
