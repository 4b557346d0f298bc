//! Latchkey linked into a bare-metal Cortex-M4F image for QEMU's mps2-an386 board, so flash and
//! RAM can be measured with everything a device needs: the supplicant PAE (802.1X-2010 §8), the
//! EAP-TLS method, rustls with our RustCrypto provider, the slot table and the server policy.
//!
//! EAPOL frames arrive on UART0 (source MAC, 2-byte big-endian length, frame) and leave on it in
//! the same framing (destination MAC first). Each end of an authentication is reported as one
//! such frame to the all-zero MAC, holding text: `AUTH 1.2|1.3 rt=N` or `FAIL <kind>`. No key
//! material is ever written out.
#![no_std]
#![no_main]

extern crate alloc;

mod board;
mod rng;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::mem::MaybeUninit;

use cortex_m_rt::entry;
use embedded_alloc::LlffHeap as Heap;
use latchkey_core::certs::{InlineKey, KeyRef, SlotTable};
use latchkey_core::eap::peer::MAX_EAP_PACKET;
use latchkey_core::hal::Radio;
use latchkey_core::supplicant::{Config, Event, Now, Supplicant};
use latchkey_core::tls::provider::{provider, SharedRng};
use latchkey_core::tls::{
    ClientSetup, CredentialResolver, NameMatch, ServerPolicy, SlotSource, TlsVersion, VersionPolicy,
};
use panic_halt as _;

use crate::board::{Uart, UartRadio};
use crate::rng::InsecureCounterRng;

/// Heap for rustls (the only allocating part of Latchkey): its configuration, handshake state
/// and transcript. Host measurements put a whole TLS 1.3 handshake near 16 KB on 64-bit.
pub const HEAP_SIZE: usize = 32 * 1024;

/// Slots in the certificate table, and the largest certificate a slot holds.
const SLOTS: usize = 4;
const CERT_MAX: usize = 2048;

/// Size-measurement test PKI (firmware/pki/gen.sh): public test material, not a secret.
const CA_DER: &[u8] = include_bytes!("../pki/ca.der");
const CLIENT_DER: &[u8] = include_bytes!("../pki/client.der");
const CLIENT_KEY_PKCS8: &[u8] = include_bytes!("../pki/client-key.pk8");

/// Persisted time floor used when no wall clock is known (2025-11-25).
const TIME_FLOOR: u64 = 1_764_028_800;

#[global_allocator]
static HEAP: Heap = Heap::empty();

static RNG: SharedRng<InsecureCounterRng> = SharedRng::new(InsecureCounterRng::new(0x4c61_7463));

type Table = spin::Mutex<SlotTable<SLOTS, CERT_MAX>>;

/// The slot table, in .bss and built at run time: as a `static` with a const initialiser it
/// lands in .data (an empty `SlotTable` is not all-zero bytes) and costs its size in flash too.
static mut TABLE: MaybeUninit<Table> = MaybeUninit::uninit();

/// The supplicant lives in .bss (it holds the fixed TLS record buffers), written once in main.
static mut SUPPLICANT: MaybeUninit<Supplicant> = MaybeUninit::uninit();

#[entry]
fn main() -> ! {
    static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
    // SAFETY: `HEAP_MEM` is this entry point's own static (cortex-m-rt hands it out once), and
    // the heap is initialised before the first allocation.
    unsafe { HEAP.init(HEAP_MEM.as_mut_ptr() as usize, HEAP_SIZE) }

    let cp = cortex_m::Peripherals::take();
    if let Some(cp) = cp {
        board::start_clock(cp.SYST);
    }
    let mut uart = Uart::init();

    let Some(supplicant) = setup() else {
        uart.write(b"setup failed\n");
        halt();
    };

    let mut radio = UartRadio(&mut uart);
    let mut last = supplicant.start(now(), &mut radio);
    let mut frame = [0u8; MAX_EAP_PACKET + 4];
    loop {
        if let Some(event) = last.take() {
            report(radio.0, &event);
        }
        let received = radio.0.read_frame(&mut frame);
        let event = match received.and_then(|(src, len)| Some((src, frame.get(..len)?))) {
            Some((src, bytes)) => supplicant.handle_frame(now(), src, bytes, &mut radio),
            None => None,
        };
        last = event.or_else(|| supplicant.poll(now(), &mut radio));
    }
}

/// Builds the supplicant: provider, slot table with one credential, server policy, setup.
fn setup() -> Option<&'static mut Supplicant> {
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

fn now() -> Now {
    Now {
        ms: board::now_ms(),
        unix: None,
    }
}

/// Reports the end of an authentication as a text frame to the all-zero MAC.
fn report(uart: &mut Uart, event: &Event) {
    let mut line: heapless::String<64> = heapless::String::new();
    let _ = match event {
        Event::Authenticated(a) => {
            let v = match a.version {
                TlsVersion::Tls12 => "1.2",
                TlsVersion::Tls13 => "1.3",
            };
            write!(line, "AUTH {v} rt={}", a.round_trips)
        }
        Event::Failed(reason) => write!(line, "FAIL {}", reason.kind()),
    };
    let _ = UartRadio(uart).send([0; 6], line.as_bytes());
}

fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}
