//! The mps2-an386 peripherals the image uses: CMSDK APB UART0 (EAPOL frames in and out, status
//! lines) and SysTick as the millisecond clock. Register map from the Arm CMSDK TRM (UART at
//! 0x4000_4000: DATA +0x00, STATE +0x04, CTRL +0x08, INTSTATUS/INTCLEAR +0x0C, BAUDDIV +0x10);
//! UART0's receive interrupt is IRQ 0 on the AN386 image (its application note's interrupt map).
//!
//! Input is never waited for: the receive interrupt only wakes the core from `wfi`, and the main
//! loop takes bytes while `STATE.RXFULL` says one is there. The UART holds one byte, so a sender
//! (QEMU's character backend) is held back until the image has read it: nothing is lost while the
//! core is busy with a handshake.

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{NVIC, SCB, SYST};
use cortex_m_rt::exception;
use latchkey_core::hal::{MacAddr, Radio, RadioErrorKind};

const UART0: usize = 0x4000_4000;
const DATA: *mut u32 = UART0 as *mut u32;
const STATE: *mut u32 = (UART0 + 0x04) as *mut u32;
const CTRL: *mut u32 = (UART0 + 0x08) as *mut u32;
const INTCLEAR: *mut u32 = (UART0 + 0x0c) as *mut u32;
const BAUDDIV: *mut u32 = (UART0 + 0x10) as *mut u32;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;
const CTRL_RX_INT_EN: u32 = 1 << 3;
const INT_RX: u32 = 1 << 1;

/// UART0's receive interrupt on mps2-an386.
#[derive(Clone, Copy)]
pub struct Uart0Rx;

// SAFETY: 0 is UART0's receive interrupt line on this board, a valid NVIC interrupt number.
unsafe impl InterruptNumber for Uart0Rx {
    fn number(self) -> u16 {
        0
    }
}

/// Core clock of the MPS2 FPGA images (25 MHz).
pub const SYSCLK_HZ: u32 = 25_000_000;

/// UART0, polled.
pub struct Uart(());

impl Uart {
    /// Enables transmit and receive. Only one `Uart` is made, in `main`.
    pub fn init() -> Self {
        // SAFETY: fixed, valid MMIO registers of UART0 on this board.
        unsafe {
            write_volatile(BAUDDIV, 16);
            write_volatile(CTRL, CTRL_TX_EN | CTRL_RX_EN);
        }
        Uart(())
    }

    /// The UART without initialising it again, for a fault handler that must report.
    ///
    /// # Safety
    /// Nothing else may be using the UART (the code that owned it has stopped running).
    pub unsafe fn steal() -> Self {
        Uart(())
    }

    /// Lets a received byte wake the core from `wfi` (the interrupt handler only acknowledges
    /// it; the main loop reads the byte).
    pub fn enable_rx_wakeup(&mut self, _nvic: &mut NVIC) {
        // SAFETY: as in `init`; the handler (`DefaultHandler` below) is installed by
        // cortex-m-rt's vector table, so unmasking cannot run unexpected code.
        unsafe {
            write_volatile(CTRL, CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INT_EN);
            NVIC::unpend(Uart0Rx);
            NVIC::unmask(Uart0Rx);
        }
    }

    /// Whether a received byte is waiting.
    pub fn rx_ready(&self) -> bool {
        // SAFETY: as in `init`.
        unsafe { read_volatile(STATE) & STATE_RX_FULL != 0 }
    }

    /// Takes the received byte, if there is one; never waits.
    pub fn try_read_byte(&mut self) -> Option<u8> {
        // SAFETY: as in `init`.
        unsafe { self.rx_ready().then(|| read_volatile(DATA) as u8) }
    }

    /// Writes one byte, waiting while the transmit buffer is full.
    pub fn write_byte(&mut self, b: u8) {
        // SAFETY: as in `init`.
        unsafe {
            while read_volatile(STATE) & STATE_TX_FULL != 0 {}
            write_volatile(DATA, u32::from(b));
        }
    }

    /// Writes bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_byte(*b);
        }
    }
}

/// The "radio" of this board: EAPOL frames go out on UART0 in the same framing as they come
/// in (destination MAC, big-endian length, frame), for a host-side authenticator to relay.
pub struct UartRadio<'a>(pub &'a mut Uart);

impl Radio for UartRadio<'_> {
    type Error = RadioErrorKind;

    fn send(&mut self, dst: MacAddr, frame: &[u8]) -> Result<(), RadioErrorKind> {
        let len = u16::try_from(frame.len()).map_err(|_| RadioErrorKind::Other)?;
        self.0.write(&dst);
        self.0.write(&len.to_be_bytes());
        self.0.write(frame);
        Ok(())
    }
}

/// The image's framing of EAPOL frames on UART0, both ways: a 6-byte MAC (the source of a
/// received frame, the destination of a sent one), a 2-byte big-endian length, the frame.
pub const FRAME_HEADER: usize = 8;

/// Reassembles received frames from UART bytes, one byte at a time, so the main loop never
/// waits for the rest of a frame. A frame longer than `N` is consumed and dropped (counted), so
/// the link can never overrun the buffer.
pub struct Framer<const N: usize> {
    header: [u8; FRAME_HEADER],
    got: usize,
    body: [u8; N],
    /// Frames dropped for being longer than `N`.
    pub oversize: u32,
}

impl<const N: usize> Framer<N> {
    /// An empty reassembler.
    pub const fn new() -> Self {
        Framer {
            header: [0; FRAME_HEADER],
            got: 0,
            body: [0; N],
            oversize: 0,
        }
    }

    fn body_len(&self) -> usize {
        let [.., hi, lo] = self.header;
        usize::from(u16::from_be_bytes([hi, lo]))
    }

    /// Takes one byte; returns the source MAC and the frame when this byte completed one.
    pub fn push(&mut self, b: u8) -> Option<(MacAddr, &[u8])> {
        if let Some(h) = self.header.get_mut(self.got) {
            *h = b;
            self.got += 1;
        } else {
            if let Some(slot) = self.body.get_mut(self.got - FRAME_HEADER) {
                *slot = b;
            }
            self.got += 1;
        }
        if self.got < FRAME_HEADER || self.got - FRAME_HEADER < self.body_len() {
            return None;
        }
        let len = self.body_len();
        self.got = 0;
        let [a, b, c, d, e, f, ..] = self.header;
        match self.body.get(..len) {
            Some(frame) => Some(([a, b, c, d, e, f], frame)),
            None => {
                self.oversize = self.oversize.saturating_add(1);
                None
            }
        }
    }
}

static MILLIS: AtomicU32 = AtomicU32::new(0);

/// Starts SysTick at 1 kHz.
pub fn start_clock(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(TICKS_PER_MS - 1);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();
}

/// Milliseconds since `start_clock` (wraps after 49 days; the supplicant's timers are short).
pub fn now_ms() -> u64 {
    u64::from(MILLIS.load(Ordering::Relaxed))
}

const TICKS_PER_MS: u32 = SYSCLK_HZ / 1000;

/// SysTick ticks (25 MHz) since `start_clock`: the millisecond count plus the position inside
/// the current millisecond. Under QEMU `-icount shift=0` one instruction takes one virtual
/// nanosecond, so a tick is 40 instructions.
pub fn now_ticks() -> u64 {
    loop {
        let before = MILLIS.load(Ordering::Relaxed);
        let current = SYST::get_current();
        // The counter may have wrapped with its interrupt not yet taken: then the count is one
        // millisecond behind (and `current` is near the reload value).
        let wrapped = SCB::is_pendst_pending() && current > TICKS_PER_MS / 2;
        if MILLIS.load(Ordering::Relaxed) == before {
            let ms = u64::from(before) + u64::from(wrapped);
            let into = u64::from((TICKS_PER_MS - 1).saturating_sub(current));
            return ms * u64::from(TICKS_PER_MS) + into;
        }
    }
}

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// Every interrupt without its own handler: UART0's receive interrupt is acknowledged here (it
/// only wakes the main loop); any other is unexpected and left masked.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == 0 {
        // SAFETY: as in `Uart::init`; writing INTCLEAR only acknowledges the interrupt.
        unsafe { write_volatile(INTCLEAR, INT_RX) }
    }
}
