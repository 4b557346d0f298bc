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

mod app;
mod board;
mod rng;

use core::fmt::Write as _;
use core::mem::MaybeUninit;

use cortex_m_rt::entry;
use embedded_alloc::LlffHeap as Heap;
use latchkey_core::hal::Radio;
use latchkey_core::{Event, Now, RX_BUFFER_SIZE};
use latchkey_core::tls::TlsVersion;
use panic_halt as _;

use crate::board::{Uart, UartRadio};

/// Heap for rustls (the only allocating part of Latchkey): its configuration, handshake state
/// and transcript. Host measurements put a whole TLS 1.3 handshake near 16 KB on 64-bit.
pub const HEAP_SIZE: usize = 32 * 1024;

#[global_allocator]
static HEAP: Heap = Heap::empty();

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

    let Some(supplicant) = app::setup() else {
        uart.write(b"setup failed\n");
        halt();
    };

    let mut radio = UartRadio(&mut uart);
    let mut last = supplicant.start(now(), &mut radio);
    let mut frame = [0u8; RX_BUFFER_SIZE];
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
                _ => "?",
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
