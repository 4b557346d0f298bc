//! The mps2-an386 peripherals the image uses: CMSDK APB UART0 (EAPOL frames in and out, status
//! lines) and SysTick as the millisecond clock. Register map from the Arm CMSDK TRM (UART at
//! 0x4000_4000: DATA +0x00, STATE +0x04, CTRL +0x08, BAUDDIV +0x10).

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;
use latchkey_core::hal::{MacAddr, Radio, RadioErrorKind};

const UART0: usize = 0x4000_4000;
const DATA: *mut u32 = UART0 as *mut u32;
const STATE: *mut u32 = (UART0 + 0x04) as *mut u32;
const CTRL: *mut u32 = (UART0 + 0x08) as *mut u32;
const BAUDDIV: *mut u32 = (UART0 + 0x10) as *mut u32;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;

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
            write_volatile(CTRL, 0b11);
        }
        Uart(())
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

    /// Reads one byte, waiting until one arrives.
    pub fn read_byte(&mut self) -> u8 {
        // SAFETY: as in `init`.
        unsafe {
            while read_volatile(STATE) & STATE_RX_FULL == 0 {}
            read_volatile(DATA) as u8
        }
    }

    /// Reads one received EAPOL frame in the image's framing: source MAC (6 bytes), length
    /// (2 bytes, big-endian), then the frame. A frame longer than `buf` is read and dropped
    /// (returns `None`), so the link never overruns the buffer.
    pub fn read_frame(&mut self, buf: &mut [u8]) -> Option<(MacAddr, usize)> {
        let mut src = [0u8; 6];
        for b in &mut src {
            *b = self.read_byte();
        }
        let len = usize::from(u16::from_be_bytes([self.read_byte(), self.read_byte()]));
        let fits = len <= buf.len();
        for i in 0..len {
            let b = self.read_byte();
            if let Some(slot) = buf.get_mut(i) {
                *slot = b;
            }
        }
        fits.then_some((src, len))
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

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}
