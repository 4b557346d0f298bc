//! The randomness rustls draws from. rustls wants a `&'static dyn SecureRandom`, so the
//! platform's `rand_core` RNG is wrapped in [`SharedRng`], which can live in a `static`.

use core::fmt;

use rand_core::{CryptoRng, RngCore};
use rustls::crypto::{GetRandomFailed, SecureRandom};

/// A platform RNG shared with rustls behind a spin lock.
///
/// Firmware puts one in a `static` (the constructor is `const`):
/// ```ignore
/// static RNG: SharedRng<HwRng> = SharedRng::new(HwRng::new());
/// let supplicant = latchkey_core::Supplicant::builder("device@example.org").rng(&RNG);
/// ```
/// A host program that builds its RNG at run time may instead leak one, once, at start-up:
/// `let rng: &'static SharedRng<OsRng> = Box::leak(Box::new(SharedRng::new(OsRng)));`.
///
/// The lock is a spin lock: do not draw randomness from an interrupt handler that may
/// preempt a handshake on the same core.
pub struct SharedRng<R> {
    rng: spin::Mutex<R>,
}

#[cfg(feature = "defmt")]
impl<R> defmt::Format for SharedRng<R> {
    fn format(&self, f: defmt::Formatter<'_>) {
        // Never print generator state.
        defmt::write!(f, "SharedRng")
    }
}

impl<R> SharedRng<R>
where
    R: RngCore + CryptoRng + Send,
{
    /// Wraps `rng`; usable in a `static` initialiser.
    pub const fn new(rng: R) -> Self {
        Self {
            rng: spin::Mutex::new(rng),
        }
    }
}

impl<R> fmt::Debug for SharedRng<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print generator state.
        f.write_str("SharedRng")
    }
}

impl<R> SharedRng<R>
where
    R: RngCore + CryptoRng + Send,
{
    /// Fill `buf` from the platform's RNG.
    pub(crate) fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        self.rng
            .lock()
            .try_fill_bytes(buf)
            .map_err(|_| GetRandomFailed)
    }
}

/// The TLS engine's view of a [`SharedRng`] (kept off the public type, so the engine's trait
/// is not part of Latchkey's API).
pub(crate) struct RngSource<R: 'static>(pub(crate) &'static SharedRng<R>);

impl<R> fmt::Debug for RngSource<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RngSource")
    }
}

impl<R> SecureRandom for RngSource<R>
where
    R: RngCore + CryptoRng + Send,
{
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        self.0.fill(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts up; good enough to see bytes arrive. Marked CryptoRng for the test only.
    struct Counter(u8);
    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl CryptoRng for Counter {}

    /// Always fails, like a TRNG that lost its entropy source.
    struct Broken;
    impl RngCore for Broken {
        fn next_u32(&mut self) -> u32 {
            0
        }
        fn next_u64(&mut self) -> u64 {
            0
        }
        fn fill_bytes(&mut self, _dest: &mut [u8]) {}
        fn try_fill_bytes(&mut self, _dest: &mut [u8]) -> Result<(), rand_core::Error> {
            Err(rand_core::Error::from(
                core::num::NonZeroU32::new(rand_core::Error::CUSTOM_START).unwrap(),
            ))
        }
    }
    impl CryptoRng for Broken {}

    static COUNTER: SharedRng<Counter> = SharedRng::new(Counter(0));

    #[test]
    fn static_rng_fills_and_failure_is_reported() {
        let mut buf = [0u8; 3];
        COUNTER.fill(&mut buf).unwrap();
        COUNTER.fill(&mut buf).unwrap();
        assert_eq!(buf, [4, 5, 6]);
        assert!(SharedRng::new(Broken).fill(&mut buf).is_err());
        assert_eq!(alloc::format!("{:?}", COUNTER), "SharedRng");
    }
}
