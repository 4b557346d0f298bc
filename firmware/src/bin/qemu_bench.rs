//! Public-key cost on the Cortex-M4F under QEMU (mps2-an386, `-icount shift=0`): one secp256r1
//! and one X25519 ECDHE (key pair + shared secret), one ECDSA P-256 signature and one verify,
//! each through Latchkey's rustls provider exactly as a handshake calls them; then one
//! CertificateVerify signature with each client key type enterprises issue (RSA-2048 with
//! RSA-PSS, ECDSA P-384) through the inline-key signer. Prints one line per operation over
//! semihosting, then exits QEMU. Run it with firmware/qemu-bench.sh.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "../app.rs"]
mod app;
#[allow(dead_code)] // the UART and radio are the main image's
#[path = "../board.rs"]
mod board;
#[cfg(feature = "semihosting-flash")]
#[path = "../hostflash.rs"]
mod hostflash;
#[allow(dead_code)] // the boot line's error names are the main image's
#[path = "../provision.rs"]
mod provision;
#[path = "../rng.rs"]
mod rng;

use core::mem::MaybeUninit;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap as Heap;
use latchkey_core::certs::InlineKey;
use latchkey_core::tls::provider::{provider, InlineSigningKey, ECDSA_P256_SHA256, KEY_PROVIDER};
use panic_halt as _;
use rustls::crypto::KeyProvider;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, SignatureVerificationAlgorithm};
use rustls::sign::SigningKey;
use rustls::SignatureScheme;

use crate::app::{CLIENT_DER, CLIENT_KEY_PKCS8, RNG};

/// Benchmark-only client keys (firmware/pki/gen.sh): RSA-2048 and P-384, PKCS#8.
const RSA2048_KEY_PKCS8: &[u8] = include_bytes!("../../pki/rsa2048-key.pk8");
const P384_KEY_PKCS8: &[u8] = include_bytes!("../../pki/p384-key.pk8");

const HEAP_SIZE: usize = 32 * 1024;

#[global_allocator]
static HEAP: Heap = Heap::empty();

/// SysTick counts down; ticks elapsed from `start` to `end` (same 24-bit period).
fn elapsed(start: u32, end: u32) -> u64 {
    u64::from(start.wrapping_sub(end) & 0x00ff_ffff)
}

fn now() -> u32 {
    cortex_m::peripheral::SYST::get_current()
}

/// With `-icount shift=0` QEMU retires one instruction per virtual nanosecond, and SysTick
/// runs from the 25 MHz system clock: one tick is 40 instructions.
const INSTR_PER_TICK: u64 = 1_000_000_000 / board::SYSCLK_HZ as u64;

#[entry]
fn main() -> ! {
    static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
    // SAFETY: this entry point's own static, initialised before the first allocation.
    unsafe { HEAP.init(HEAP_MEM.as_mut_ptr() as usize, HEAP_SIZE) }
    if let Some(mut cp) = cortex_m::Peripherals::take() {
        // Free-running, no interrupt: 2^24 ticks (0.67 s, 671 M instructions) per wrap, far
        // more than any operation measured here, so a difference of two reads is exact.
        cp.SYST
            .set_clock_source(cortex_m::peripheral::syst::SystClkSource::Core);
        cp.SYST.set_reload(0x00ff_ffff);
        cp.SYST.clear_current();
        cp.SYST.enable_counter();
    }
    let sp = paint_stack();
    let ok = run();
    hprintln!(
        "stack: peak {} B below main's frame (configuration and the operations above)",
        stack_peak(sp)
    );
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

/// Stack depth probed below `main`'s frame (cortex-m-rt puts the stack at the top of RAM,
/// far above .bss on this 4 MiB board).
const STACK_PROBE: usize = 64 * 1024;
const PAINT: u32 = 0xa5a5_a5a5;

/// Fills the `STACK_PROBE` bytes below the current stack pointer (keeping 256 bytes of margin
/// for this function) with a pattern; returns the stack pointer.
fn paint_stack() -> usize {
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = sp - STACK_PROBE;
    while p < sp - 256 {
        // SAFETY: unused RAM below the live stack, inside the RAM region of memory.x.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    sp
}

/// The deepest the stack went below `sp` since `paint_stack`.
fn stack_peak(sp: usize) -> usize {
    let mut p = sp - STACK_PROBE;
    // SAFETY: the same RAM `paint_stack` wrote.
    while p < sp && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    sp - p
}

fn run() -> bool {
    // Calibration: `asm::delay(n)` runs `subs; bne` n + 1 times, i.e. 2n + 2 instructions; the
    // lines below must say 2000000 and 8000000 (to the 40-instruction tick) for counts to hold.
    let t0 = now();
    cortex_m::asm::delay(1_000_000);
    let t1 = now();
    cortex_m::asm::delay(4_000_000);
    let t2 = now();
    hprintln!(
        "calibration: asm::delay(1000000) {} instructions, asm::delay(4000000) {} (expected 2000002, 8000002)",
        elapsed(t0, t1) * INSTR_PER_TICK,
        elapsed(t1, t2) * INSTR_PER_TICK
    );

    let Some(device) = app::setup() else {
        hprintln!("configuration failed");
        return false;
    };
    hprintln!(
        "configuration (slot table with one credential, server policy, provider, supplicant in \
         static memory): heap {} B in use of {} B",
        HEAP.used(),
        HEAP_SIZE
    );
    let _ = device;

    let p = provider(&RNG);
    for group in &p.kx_groups {
        let name = group.name();
        let t0 = now();
        let Ok(peer) = group.start() else {
            return false;
        };
        let peer_pub = alloc::vec::Vec::from(peer.pub_key());
        let t1 = now();
        let Ok(ours) = group.start() else {
            return false;
        };
        let t2 = now();
        let Ok(shared) = ours.complete(&peer_pub) else {
            return false;
        };
        let t3 = now();
        let ok = !shared.secret_bytes().is_empty();
        hprintln!(
            "ECDHE {:?}: key pair {} instructions, shared secret {} instructions",
            name,
            elapsed(t0, t1) * INSTR_PER_TICK,
            elapsed(t2, t3) * INSTR_PER_TICK
        );
        if !ok {
            return false;
        }
    }

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(CLIENT_KEY_PKCS8));
    let Ok(key) = KEY_PROVIDER.load_private_key(key) else {
        return false;
    };
    let Some(signer) = key.choose_scheme(&[SignatureScheme::ECDSA_NISTP256_SHA256]) else {
        return false;
    };
    let message = [0x20u8; 130]; // the size of a TLS 1.3 CertificateVerify input
    let t0 = now();
    let Ok(sig) = signer.sign(&message) else {
        return false;
    };
    let t1 = now();
    // The certificate's P-256 key: the BIT STRING `03 42 00` holding the uncompressed point.
    let Some(at) = CLIENT_DER
        .windows(4)
        .position(|w| w == [0x03, 0x42, 0x00, 0x04])
    else {
        return false;
    };
    let Some(public) = CLIENT_DER.get(at + 3..at + 3 + 65) else {
        return false;
    };
    let t2 = now();
    let verified = ECDSA_P256_SHA256
        .verify_signature(public, &message, &sig)
        .is_ok();
    let t3 = now();
    hprintln!(
        "ECDSA P-256 SHA-256: sign {} instructions, verify {} instructions (valid: {})",
        elapsed(t0, t1) * INSTR_PER_TICK,
        elapsed(t2, t3) * INSTR_PER_TICK,
        verified
    );
    if !verified {
        return false;
    }

    // RSA signing can take longer than one 2^24-tick SysTick period: from here SysTick runs at
    // 1 kHz with its interrupt counting milliseconds (`board::now_ticks`; the interrupt's own
    // few dozen instructions per million are in the count).
    // SAFETY: `main` configured SysTick and holds no reference to it any more.
    board::start_clock(unsafe { cortex_m::Peripherals::steal() }.SYST);
    let keys: [(&str, &[u8], SignatureScheme); 2] = [
        (
            "RSA-2048 RSA-PSS SHA-256",
            RSA2048_KEY_PKCS8,
            SignatureScheme::RSA_PSS_SHA256,
        ),
        (
            "ECDSA P-384 SHA-384",
            P384_KEY_PKCS8,
            SignatureScheme::ECDSA_NISTP384_SHA384,
        ),
    ];
    for (name, der, scheme) in keys {
        let inline = match InlineKey::from_pkcs8_der(der) {
            Ok(k) => k,
            Err(e) => {
                hprintln!("{}: key not loaded: {}", name, e);
                return false;
            }
        };
        let key = InlineSigningKey::new(inline, Some(p.secure_random));
        let Some(signer) = key.choose_scheme(&[scheme]) else {
            return false;
        };
        let t0 = board::now_ticks();
        let Ok(sig) = signer.sign(&message) else {
            return false;
        };
        let t1 = board::now_ticks();
        hprintln!(
            "{}: sign {} instructions ({}-byte signature)",
            name,
            t1.saturating_sub(t0) * INSTR_PER_TICK,
            sig.len()
        );
    }
    true
}
