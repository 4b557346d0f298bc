//! The time the selection rules are checked against. An MCU often boots without a wall clock,
//! so the table keeps a persisted *floor*: the newest time ever seen (certificate notBefore at
//! install, successful authentications). A floor proves only that now ≥ floor.

use core::fmt;

use super::table::SlotTable;

/// Which time the validity checks used; recorded in every selection explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TimeSource {
    /// Wall-clock seconds since the Unix epoch, from the platform.
    Wall(u64),
    /// No trustworthy wall clock: the persisted floor (now is at least this).
    Floor(u64),
    /// Neither a wall clock nor a floor: validity is not checked (the server still checks it).
    Unknown,
}

impl TimeSource {
    /// The one time basis of an authentication, used by both the server check and certificate
    /// selection: the platform's wall clock when it has one at or above the persisted `floor`;
    /// else the floor (a wall time *below* the floor is provably wrong, an RTC reset to its
    /// epoch); else nothing.
    pub const fn resolve(wall: Option<u64>, floor: u64) -> TimeSource {
        match wall {
            Some(t) if t >= floor => TimeSource::Wall(t),
            _ if floor > 0 => TimeSource::Floor(floor),
            _ => TimeSource::Unknown,
        }
    }

    /// Whether a certificate valid from `not_before` to `not_after` (inclusive) is expired,
    /// provably, at this time. With a floor only `not_after < floor` is proof.
    pub(crate) fn proves_expired(&self, not_after: u64) -> bool {
        match *self {
            TimeSource::Wall(t) | TimeSource::Floor(t) => t > not_after,
            TimeSource::Unknown => false,
        }
    }

    /// Whether the certificate is provably not yet valid. Only a wall clock can prove it: a floor
    /// below notBefore says nothing about the real time, and refusing on it would lock out a
    /// device that merely lacks a clock (install raises the floor to notBefore anyway).
    pub(crate) fn proves_not_yet_valid(&self, not_before: u64) -> bool {
        match *self {
            TimeSource::Wall(t) => t < not_before,
            TimeSource::Floor(_) | TimeSource::Unknown => false,
        }
    }
}

/// Unix seconds shown as a UTC date and time.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UtcTime(pub u64);

impl fmt::Display for UtcTime {
    // Bounds: days <= u64::MAX / 86 400 < 2^48, so z and era * 400 fit i64 with room to spare;
    // doe is in [0, 146 096] and every later intermediate is a small multiple of it (the
    // algorithm's own ranges: yoe < 400, doy < 366, mp < 12). No operation can overflow.
    #[allow(clippy::arithmetic_side_effects)]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Days to civil date (proleptic Gregorian), after H. Hinnant's public-domain algorithm.
        let days = (self.0 / 86_400) as i64;
        let secs = self.0 % 86_400;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        write!(
            f,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl fmt::Display for TimeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeSource::Wall(t) => write!(f, "wall clock {}", UtcTime(*t)),
            TimeSource::Floor(t) => write!(f, "no wall clock; time floor {}", UtcTime(*t)),
            TimeSource::Unknown => f.write_str("no wall clock and no time floor"),
        }
    }
}

impl<const SLOTS: usize, const CERT_MAX: usize> SlotTable<SLOTS, CERT_MAX> {
    /// The persisted time floor (0 when no time was ever observed).
    pub fn time_floor(&self) -> u64 {
        self.time_floor
    }

    /// Raise the floor to `t` if it is newer; returns whether it changed (commit to persist it).
    /// Call it after each successful authentication with the time it happened.
    pub fn observe_time(&mut self, t: u64) -> bool {
        if t > self.time_floor {
            self.time_floor = t;
            true
        } else {
            false
        }
    }

    /// The best time available: the wall clock when the platform has one, else the floor. A
    /// wall time *below* the floor is provably wrong (an RTC reset to its epoch), so the floor
    /// is used instead.
    pub fn effective_time(&self, wall: Option<u64>) -> TimeSource {
        TimeSource::resolve(wall, self.time_floor)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    #[test]
    fn effective_time_prefers_wall_then_floor() {
        let mut table = SlotTable::<2, 64>::new();
        assert_eq!(table.effective_time(None), TimeSource::Unknown);
        assert_eq!(table.effective_time(Some(5)), TimeSource::Wall(5));
        assert!(table.observe_time(100));
        assert!(!table.observe_time(50));
        assert_eq!(table.time_floor(), 100);
        assert_eq!(table.effective_time(None), TimeSource::Floor(100));
        assert_eq!(table.effective_time(Some(200)), TimeSource::Wall(200));
        assert_eq!(table.effective_time(Some(99)), TimeSource::Floor(100));
    }

    #[test]
    fn floor_proves_expiry_but_not_future_validity() {
        assert!(TimeSource::Floor(10).proves_expired(9));
        assert!(!TimeSource::Floor(10).proves_expired(10));
        assert!(!TimeSource::Floor(10).proves_not_yet_valid(20));
        assert!(TimeSource::Wall(10).proves_not_yet_valid(20));
        assert!(!TimeSource::Unknown.proves_expired(0));
    }
}
