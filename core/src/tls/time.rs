//! The time certificate validity is checked against during one handshake. rustls asks a
//! `TimeProvider`, and a provider that answers `None` fails the handshake before any verifier
//! runs; ours always answers, with the time basis the supplicant resolved for this conversation
//! ([`TimeSource::resolve`]: the wall clock, or the persisted floor when there is no trustworthy
//! clock), and the server verifier reads where that time came from to apply its policy.

use core::fmt;

use rustls::pki_types::UnixTime;
use rustls::time_provider::TimeProvider;

use crate::certs::TimeSource;

/// The validation time shared by the rustls configuration and the server verifier.
pub(crate) struct ValidationTime {
    source: spin::Mutex<TimeSource>,
}

impl Default for ValidationTime {
    fn default() -> Self {
        ValidationTime {
            source: spin::Mutex::new(TimeSource::Unknown),
        }
    }
}

impl fmt::Debug for ValidationTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidationTime({})", *self.source.lock())
    }
}

impl ValidationTime {
    /// Set the time and where it came from (wall clock, persisted floor, nothing).
    pub(crate) fn set_source(&self, source: TimeSource) {
        *self.source.lock() = source;
    }

    /// The time and where it came from.
    pub(crate) fn source(&self) -> TimeSource {
        *self.source.lock()
    }
}

impl TimeProvider for ValidationTime {
    fn current_time(&self) -> Option<UnixTime> {
        let secs = match self.source() {
            TimeSource::Wall(t) | TimeSource::Floor(t) => t,
            TimeSource::Unknown => 0,
        };
        Some(UnixTime::since_unix_epoch(core::time::Duration::from_secs(
            secs,
        )))
    }
}
