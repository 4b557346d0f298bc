//! Latchkey linked into a bare-metal Cortex-M4F image for QEMU's mps2-an386 board, with
//! everything a device needs: the supplicant PAE (802.1X-2010 §8) and its timers, the EAP-TLS
//! method, rustls with our RustCrypto provider, the slot table and the server policy.
//!
//! EAPOL frames arrive on UART0 (source MAC, 2-byte big-endian length, frame) and leave on it in
//! the same framing (destination MAC first); a host-side bridge puts them on an Ethernet link.
//! The main loop never waits for input: it takes whatever bytes the UART has, hands each
//! completed frame to `Supplicant::handle_frame`, calls `Supplicant::poll` when
//! `next_deadline` (SysTick milliseconds) has come, and sleeps in `wfi` until the next byte or
//! tick. So startPeriod, authPeriod, maxStart and heldPeriod run as they would on a device.
//!
//! Status lines go out as frames to the all-zero MAC, holding text (never key material):
//! - `BOOT cred=provisioned|built-in:<why> store=<where the slot table came from> floor=<its
//!   time floor> heap=<bytes in use> heap-peak=<bytes> stack-peak=<bytes> static=<bytes>
//!   link=wired|wifi` once configured
//!   (peaks of the configuration; `static` the image's static RAM, .data + .bss + .uninit,
//!   the heap's arena included); `store` is `ram` (built without `semihosting-flash`),
//!   `flash:<sequence>` (loaded), `new:<A|B|commit error>` (a blank flash, filled from the
//!   settings and committed) or `unreadable:<load error>:<commit>`;
//! - `COMMIT <A|B> floor=<unix>` or `COMMIT-FAILED <why>` each time the table is committed: when
//!   the time floor rises (a `TIME` command, or an authentication that raised it);
//! - `TIME floor=<unix> unchanged` when a `TIME` command did not raise the floor.
//!
//! Frames from the all-zero MAC are commands from the host (the host bridge never forwards a
//! link frame claiming that source, so no station can send one), as text:
//! - `TIME <unix seconds>` sets the wall clock (what a device learns from its network time
//!   service once connected); the table's persisted floor follows it, and the table is
//!   committed when it rises;
//! - `ASSOC <AA> <own address> <AP's RSNE> <our RSNE>` (hex; addresses 12 digits, elements
//!   whole) stands in for the radio's association to an RSN network (feature `wpa`): the
//!   supplicant latches the access point, authenticates, then runs the 4-way and group-key
//!   handshakes itself. A device provisioned for Wi-Fi waits for it; a wired one starts at boot.
//!
//! Status lines (continued):
//! - `AUTH 1.2|1.3 rt=<EAP round trips> msk-fp=<16 hex digits>` when authenticated, where the
//!   fingerprint is the first 8 bytes of SHA-256 of the MSK (latchkey-core's `fingerprint`),
//!   enough to check both ends derived the same key and useless to recover it;
//! - `FAIL <kind>` when an authentication failed (`FailReason::kind`);
//! - `KEYS tk=<fp> gtk=<id>:<fp>:<RSC hex> igtk=<id>:<fp>:<IPN hex> port=<open|closed>` when
//!   the key handshakes hand over keys to install, each key as the same kind of fingerprint as
//!   the MSK's (`-` for a key not in this install);
//! - `STATS t=<ms since start> cpu=<ticks> longest=<ticks> calls=<n> heap-peak=<bytes>
//!   heap-now=<bytes> stack-peak=<bytes> start-stack-peak=<bytes> main-frame=<bytes>
//!   oversize=<frames>` after each of the two above (heap peak since boot; stack peaks from the
//!   stack's top: of the first `start` call, and of everything since it returned; `main`'s own
//!   frame, part of both), where
//!   a tick is 1/25 MHz: time inside the supplicant's calls (40 instructions per tick under
//!   QEMU `-icount shift=0`);
//! - `FAULT hardfault pc=<hex>` or `FAULT panic` if the image crashes (then it stops).
#![no_std]
#![no_main]

extern crate alloc;

mod app;
mod board;
#[cfg(feature = "semihosting-flash")]
mod hostflash;
mod measure;
mod provision;
mod rng;
mod trace;

use core::fmt::Write as _;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m_rt::{entry, exception, ExceptionFrame};
use latchkey_core::certs::SlotSource;
use latchkey_core::hal::Radio;
use latchkey_core::tls::TlsVersion;
use latchkey_core::{Event, Now};

use crate::board::{Framer, Uart, UartRadio};
use crate::measure::{Cost, PeakHeap, Stack};

/// Heap for rustls (the only allocating part of Latchkey): its configuration, handshake state
/// and transcript. 16 KiB, the heap budget: a whole authentication peaks at 7.9 KB (TLS 1.2)
/// and 11.3 KB (TLS 1.3) here, and the host's heap test holds the same handshakes to 16 KiB on
/// 64-bit, where every pointer is twice as large.
pub const HEAP_SIZE: usize = 16 * 1024;

#[global_allocator]
static HEAP: PeakHeap = PeakHeap::empty();

/// Largest EAPOL frame taken from the link: a whole Ethernet payload.
const FRAME_MAX: usize = latchkey_core::RX_BUFFER_SIZE;

#[entry]
fn main() -> ! {
    static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
    static mut FRAMER: Framer<FRAME_MAX> = Framer::new();
    let boot_stack = Stack::paint();
    // SAFETY: `HEAP_MEM` is this entry point's own static (cortex-m-rt hands it out once), and
    // the heap is initialised before the first allocation.
    unsafe { HEAP.init(HEAP_MEM.as_mut_ptr() as usize, HEAP_SIZE) }
    let framer: &'static mut Framer<FRAME_MAX> = FRAMER;

    let mut uart = Uart::init();
    let Some(mut cp) = cortex_m::Peripherals::take() else {
        line(&mut uart, format_args!("FAULT peripherals"));
        halt();
    };
    board::start_clock(cp.SYST);
    uart.enable_rx_wakeup(&mut cp.NVIC);

    let Some(app::Device {
        supplicant,
        table,
        mut flash,
        source,
        store,
        link,
    }) = app::setup()
    else {
        line(&mut uart, format_args!("FAULT setup"));
        halt();
    };
    let (cred, why) = match source {
        app::Source::Provisioned => ("provisioned", ""),
        app::Source::BuiltIn(why) => ("built-in:", why.kind()),
    };
    line(
        &mut uart,
        format_args!(
            "BOOT cred={cred}{why} store={} floor={} heap={} heap-peak={} stack-peak={} \
             static={} link={}",
            StoreText(store),
            table.with(|t| t.time_floor()),
            HEAP.used(),
            HEAP.peak(),
            boot_stack.peak(),
            measure::static_ram(),
            match link {
                provision::Link::Wired => "wired",
                provision::Link::Wifi => "wifi",
            },
        ),
    );
    trace::boot(cred, why, table, link);
    // The stack is measured again from here: the authentication's own peak (the BOOT line has
    // the configuration's).
    let mut stack = Stack::paint();

    let mut cost = Cost::default();
    let started = board::now_ms();
    // A wired port authenticates from boot; Wi-Fi once the radio has associated (`ASSOC`).
    let mut event = match link {
        provision::Link::Wired => {
            trace::wired_up();
            cost.measure(|| supplicant.start(now(), &mut UartRadio(&mut uart)))
        }
        provision::Link::Wifi => None,
    };
    // `start`'s peak is reported apart from the handshake's (it resets the conversation).
    let start_stack = stack.peak();
    stack = Stack::paint();
    loop {
        if let Some(e) = event.take() {
            report(&mut uart, &e);
            trace::event(&e);
            if let Event::Authenticated(a) = &e {
                if a.persist {
                    commit(&mut uart, table, &mut flash);
                }
            }
            line(
                &mut uart,
                format_args!(
                    "STATS t={} cpu={} longest={} calls={} heap-peak={} heap-now={} \
                     stack-peak={} start-stack-peak={} main-frame={} oversize={}",
                    board::now_ms().saturating_sub(started),
                    cost.ticks,
                    cost.longest,
                    cost.calls,
                    HEAP.peak(),
                    HEAP.used(),
                    stack.peak(),
                    start_stack,
                    stack.base,
                    framer.oversize
                ),
            );
        }
        // Input first: every byte the UART has, each completed frame to the supplicant.
        while event.is_none() {
            let Some(b) = uart.try_read_byte() else { break };
            if let Some((src, frame)) = framer.push(b) {
                if src == [0; 6] {
                    event = command(&mut uart, frame, table, &mut flash, supplicant, &mut cost);
                    continue;
                }
                let mut radio = UartRadio(&mut uart);
                event = cost.measure(|| supplicant.handle_frame(now(), src, frame, &mut radio));
            }
        }
        if event.is_some() {
            continue;
        }
        // Then the timers, when their deadline has come.
        if supplicant
            .next_deadline()
            .is_some_and(|d| board::now_ms() >= d)
        {
            event = cost.measure(|| supplicant.poll(now(), &mut UartRadio(&mut uart)));
            continue;
        }
        // Sleep until a byte or the next SysTick. Interrupts are masked from the check to the
        // `wfi`, so a byte arriving in between still wakes it (a pending interrupt ends `wfi`
        // even while masked; its handler runs once they are unmasked).
        cortex_m::interrupt::free(|_| {
            if !uart.rx_ready() {
                cortex_m::asm::wfi();
            }
        });
    }
}

/// Unix time at SysTick zero, once the host has told it (`TIME`); 0 until then. (A u32 holds
/// Unix seconds to 2106; the M4 has no 64-bit atomics.)
static WALL_AT_ZERO: AtomicU32 = AtomicU32::new(0);

fn now() -> Now {
    let ms = board::now_ms();
    let base = u64::from(WALL_AT_ZERO.load(Ordering::Relaxed));
    Now {
        ms,
        unix: (base != 0).then(|| base.saturating_add(ms / 1000)),
    }
}

/// A command from the host (a frame from the all-zero MAC); what the supplicant made of it.
fn command(
    uart: &mut Uart,
    frame: &[u8],
    table: &app::Table,
    flash: &mut app::Flash,
    supplicant: &mut app::ImageSupplicant,
    cost: &mut Cost,
) -> Option<Event> {
    let text = core::str::from_utf8(frame).unwrap_or("");
    #[cfg(feature = "wpa")]
    if let Some(args) = text.strip_prefix("ASSOC ") {
        return associate(uart, args, supplicant, cost);
    }
    #[cfg(not(feature = "wpa"))]
    let _ = (&supplicant, &cost);
    let Some(t) = text
        .strip_prefix("TIME ")
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        line(uart, format_args!("COMMAND-REFUSED"));
        return None;
    };
    let base = t.saturating_sub(board::now_ms() / 1000).max(1);
    WALL_AT_ZERO.store(u32::try_from(base).unwrap_or(u32::MAX), Ordering::Relaxed);
    if table.observe_time(t) {
        commit(uart, table, flash);
    } else {
        line(
            uart,
            format_args!("TIME floor={} unchanged", table.with(|x| x.time_floor())),
        );
    }
    None
}

/// Largest information element (ID, length, 255 bytes).
#[cfg(feature = "wpa")]
const ELEMENT_MAX: usize = 257;

/// Decodes hex into `N` bytes at most; None on a bad digit, an odd length or too many.
#[cfg(feature = "wpa")]
fn unhex<const N: usize>(hex: &str) -> Option<heapless::Vec<u8, N>> {
    let digits = hex.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    let mut out = heapless::Vec::new();
    for pair in digits.chunks_exact(2) {
        let s = core::str::from_utf8(pair).ok()?;
        out.push(u8::from_str_radix(s, 16).ok()?).ok()?;
    }
    Some(out)
}

/// `ASSOC <AA> <own> <AP's RSNE> <our RSNE>`: the radio associated to an RSN network.
///
/// Never inlined: its element buffers would otherwise stay in `main`'s frame for good.
#[cfg(feature = "wpa")]
#[inline(never)]
fn associate(
    uart: &mut Uart,
    args: &str,
    supplicant: &mut app::ImageSupplicant,
    cost: &mut Cost,
) -> Option<Event> {
    use latchkey_core::supplicant::Association;
    let mut words = args.split_ascii_whitespace();
    let mut mac = || -> Option<[u8; 6]> { unhex::<6>(words.next()?)?.into_array().ok() };
    let (Some(aa), Some(own)) = (mac(), mac()) else {
        line(uart, format_args!("COMMAND-REFUSED assoc addresses"));
        return None;
    };
    let (Some(ap), Some(ours), None) = (
        words.next().and_then(unhex::<ELEMENT_MAX>),
        words.next().and_then(unhex::<ELEMENT_MAX>),
        words.next(),
    ) else {
        line(uart, format_args!("COMMAND-REFUSED assoc elements"));
        return None;
    };
    trace::associated(&aa);
    let assoc = Association::new(aa, own).with_rsn(&ap, &ours);
    cost.measure(|| supplicant.associated(now(), assoc, &mut UartRadio(uart)))
}

/// Commits the table (the floor rose) and says how it went.
#[cfg(feature = "semihosting-flash")]
fn commit(uart: &mut Uart, table: &app::Table, flash: &mut app::Flash) {
    let floor = table.with(|t| t.time_floor());
    match app::commit(table, flash) {
        Some(Ok(region)) => line(uart, format_args!("COMMIT {region:?} floor={floor}")),
        Some(Err(e)) => line(uart, format_args!("COMMIT-FAILED {e:?}")),
        None => line(uart, format_args!("COMMIT-FAILED no-flash")),
    }
}

/// Built without persistence: the table lives in RAM only.
#[cfg(not(feature = "semihosting-flash"))]
fn commit(uart: &mut Uart, _table: &app::Table, _flash: &mut app::Flash) {
    line(uart, format_args!("COMMIT-FAILED no-flash"));
}

/// The BOOT line's `store=` value.
struct StoreText(app::Store);

impl core::fmt::Display for StoreText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            #[cfg(not(feature = "semihosting-flash"))]
            app::Store::None => f.write_str("ram"),
            #[cfg(feature = "semihosting-flash")]
            app::Store::Loaded(seq) => write!(f, "flash:{seq}"),
            #[cfg(feature = "semihosting-flash")]
            app::Store::New(c) => write!(f, "new:{}", CommitText(c)),
            #[cfg(feature = "semihosting-flash")]
            app::Store::Unreadable(e, c) => write!(f, "unreadable:{e:?}:{}", CommitText(c)),
        }
    }
}

#[cfg(feature = "semihosting-flash")]
struct CommitText(Result<latchkey_core::certs::Region, latchkey_core::certs::CommitError>);

#[cfg(feature = "semihosting-flash")]
impl core::fmt::Display for CommitText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Ok(r) => write!(f, "{r:?}"),
            Err(e) => write!(f, "{e:?}"),
        }
    }
}

/// Sends one status line as a text frame to the all-zero MAC (cut at 160 bytes).
///
/// Never inlined (nor is `report`): its text buffer would otherwise stay in `main`'s frame,
/// under every supplicant call.
#[inline(never)]
fn line(uart: &mut Uart, args: core::fmt::Arguments<'_>) {
    let mut text: heapless::String<160> = heapless::String::new();
    let _ = text.write_fmt(args);
    let _ = UartRadio(uart).send([0; 6], text.as_bytes());
}

/// Reports the end of an authentication.
#[inline(never)]
fn report(uart: &mut Uart, event: &Event) {
    match event {
        Event::Authenticated(a) => {
            let v = match a.version {
                TlsVersion::Tls12 => "1.2",
                TlsVersion::Tls13 => "1.3",
                _ => "?",
            };
            let fp = a.keys.msk.fingerprint();
            line(
                uart,
                format_args!("AUTH {v} rt={} msk-fp={fp}", a.round_trips),
            );
        }
        Event::Failed(reason) => line(uart, format_args!("FAIL {}", reason.kind())),
        #[cfg(feature = "wpa")]
        Event::InstallKeys(k) => keys_line(uart, k),
        _ => line(uart, format_args!("EVENT other")),
    }
}

/// The `KEYS` line: fingerprints, key ids and counters of what is to be installed.
#[cfg(feature = "wpa")]
#[inline(never)]
fn keys_line(uart: &mut Uart, k: &latchkey_core::KeyInstall) {
    use latchkey_core::eap_tls::keys::fingerprint;
    struct Hex<'a>(&'a [u8]);
    impl core::fmt::Display for Hex<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
        }
    }
    let mut text: heapless::String<160> = heapless::String::new();
    let _ = write!(text, "KEYS tk=");
    let _ = match &k.pairwise {
        Some((tk, _)) => write!(text, "{}", fingerprint(tk.as_bytes())),
        None => write!(text, "-"),
    };
    let _ = match &k.group {
        Some(g) => write!(
            text,
            " gtk={}:{}:{}",
            g.key_id,
            fingerprint(g.key.as_bytes()),
            Hex(&g.rsc)
        ),
        None => write!(text, " gtk=-"),
    };
    let _ = match &k.integrity {
        Some(i) => write!(
            text,
            " igtk={}:{}:{}",
            i.key_id,
            fingerprint(i.key.as_bytes()),
            Hex(&i.ipn)
        ),
        None => write!(text, " igtk=-"),
    };
    let _ = write!(
        text,
        " port={}",
        if k.port_open { "open" } else { "closed" }
    );
    let _ = UartRadio(uart).send([0; 6], text.as_bytes());
}

fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}

/// A fault is reported on UART0 (so a test sees it at once) and stops the image.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    // SAFETY: the main loop's `Uart` is not running any more; this only writes UART0's data
    // register, as `Uart` does.
    let mut uart = unsafe { Uart::steal() };
    line(
        &mut uart,
        format_args!("FAULT hardfault pc={:#010x}", frame.pc()),
    );
    halt()
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: as in `HardFault`.
    let mut uart = unsafe { Uart::steal() };
    line(&mut uart, format_args!("FAULT panic"));
    halt()
}
