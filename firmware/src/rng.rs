//! The image's randomness seam: [`BoardRng`] is whatever `rand_core::RngCore + CryptoRng`
//! source the board has (its TRNG, or a DRBG seeded from it); the provider draws every
//! ClientHello random, ECDHE key and signature nonce from it.
//!
//! QEMU's mps2-an386 has no TRNG, so the only source here is [`InsecureCounterRng`], NOT A
//! SECURE RNG: a counter run through the SplitMix64 finaliser, predictable from its seed. It
//! exists only behind the explicitly named feature `insecure-counter-rng` (for QEMU runs and
//! size measurement); a build without it and without a real source does not compile.

#[cfg(not(feature = "insecure-counter-rng"))]
compile_error!(
    "no random number source: this image has no TRNG driver. For QEMU only, build with \
     `--features insecure-counter-rng` (predictable; never for a device); a board plugs its \
     TRNG in as `BoardRng` in firmware/src/rng.rs"
);

/// The board's randomness: the QEMU stand-in (see the module comment).
#[cfg(feature = "insecure-counter-rng")]
pub type BoardRng = InsecureCounterRng;

use rand_core::{CryptoRng, Error, RngCore};

/// Counter-based generator, **not cryptographically secure** (see the module comment). It is
/// marked [`CryptoRng`] only because rustls' provider requires that bound; never ship it.
pub struct InsecureCounterRng {
    counter: u64,
}

impl InsecureCounterRng {
    /// A generator starting at `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { counter: seed }
    }
}

impl RngCore for InsecureCounterRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }

    fn next_u64(&mut self) -> u64 {
        // Mix in the SysTick count so the compiler cannot precompute outputs (not entropy).
        let tick = u64::from(cortex_m::peripheral::SYST::get_current());
        self.counter = self.counter.wrapping_add(0x9e37_79b9_7f4a_7c15) ^ tick;
        let mut z = self.counter;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

// Required by `SharedRng`; a lie for this stand-in, which is why the type says Insecure.
impl CryptoRng for InsecureCounterRng {}
