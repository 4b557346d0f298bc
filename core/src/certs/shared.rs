//! The slot table as the TLS engine sees it: shared between the platform, which installs,
//! renews and commits between authentications, and the certificate resolver, which selects
//! during a handshake. [`SharedSlotTable`] is the ready-made shared form (a `static` on an MCU,
//! an `Arc` on a host); [`SlotSource`] is the seam it implements, so a table of any size can
//! back the supplicant.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use super::key::KeyRef;
use super::select::{HintMatch, SelectErrorKind, SelectionContext, SignatureScheme, SkipReason};
use super::table::{SlotIndex, SlotTable};
use super::time::TimeSource;

/// How many per-slot reasons a selection summary keeps (larger tables report the first ones).
pub const MAX_REPORTED_SLOTS: usize = 16;

/// The chosen slot and the reason every other slot was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SelectionSummary {
    /// The time the validity checks used (wall clock or persisted floor).
    pub time: TimeSource,
    /// The chosen slot, if any.
    pub chosen: Option<SlotIndex>,
    /// Whether the server's CA list named the chosen slot's chain (it ranks, never vetoes).
    pub hint: HintMatch,
    /// Every other slot and why it lost (empty slots left out).
    pub skipped: heapless::Vec<(SlotIndex, SkipReason), MAX_REPORTED_SLOTS>,
}

impl SelectionSummary {
    pub(crate) fn from_reasons(
        time: TimeSource,
        chosen: Option<SlotIndex>,
        hint: HintMatch,
        reasons: impl Iterator<Item = (SlotIndex, Option<SkipReason>)>,
    ) -> Self {
        let mut skipped = heapless::Vec::new();
        for (i, r) in reasons {
            if let Some(r) = r {
                if r != SkipReason::Empty && skipped.push((i, r)).is_err() {
                    break;
                }
            }
        }
        SelectionSummary {
            time,
            chosen,
            hint,
            skipped,
        }
    }
}

impl fmt::Display for SelectionSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.chosen {
            Some(i) => write!(f, "{i} chosen")?,
            None => f.write_str("no slot chosen")?,
        }
        if self.hint == HintMatch::NotMatched {
            write!(f, " ({})", self.hint)?;
        }
        for (i, r) in &self.skipped {
            write!(f, "; {i}: {r}")?;
        }
        write!(f, "; time: {}", self.time)
    }
}

/// What a slot source decided for one CertificateRequest.
pub struct Choice {
    /// The chosen slot's certificate DER and key, or why nothing qualified.
    pub result: Result<(Vec<u8>, KeyRef), SelectErrorKind>,
    /// The chosen slot's intermediate CA certificates (DER), in the order they are sent after
    /// the leaf; empty when the slot holds none or nothing was chosen.
    pub intermediates: Vec<Vec<u8>>,
    /// The chosen slot and every other slot's reason, and the time used.
    pub summary: SelectionSummary,
}

#[cfg(feature = "defmt")]
impl defmt::Format for Choice {
    fn format(&self, f: defmt::Formatter<'_>) {
        // The key is never printed.
        defmt::write!(
            f,
            "Choice(ok: {=bool}, {})",
            self.result.is_ok(),
            self.summary
        )
    }
}

impl fmt::Debug for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is never printed.
        f.debug_struct("Choice")
            .field("ok", &self.result.is_ok())
            .field("summary", &self.summary)
            .finish()
    }
}

/// A slot table the certificate resolver can select from, whatever its size.
pub trait SlotSource: Send + Sync {
    /// Select for a CertificateRequest at the authentication's time basis.
    fn choose(&self, time: TimeSource, cas: &[&[u8]], schemes: &[SignatureScheme]) -> Choice;
    /// The persisted time floor.
    fn time_floor(&self) -> u64;
    /// Raise the persisted time floor to `t` (after a successful authentication); returns
    /// whether it changed, i.e. whether the table should be committed.
    fn observe_time(&self, t: u64) -> bool;
}

/// A [`SlotTable`] behind a lock, shared by the platform and the supplicant.
///
/// ```
/// use latchkey_core::certs::{SharedSlotTable, SlotTable};
/// static TABLE: SharedSlotTable<4, 2048> = SharedSlotTable::new(SlotTable::new());
/// let slots = TABLE.with(|t| t.list().count());
/// assert_eq!(slots, 0);
/// ```
///
/// The lock is a spin lock: do not touch the table from an interrupt handler that may preempt
/// a handshake on the same core.
pub struct SharedSlotTable<const SLOTS: usize = 4, const CERT_MAX: usize = 2048> {
    inner: spin::Mutex<SlotTable<SLOTS, CERT_MAX>>,
}

#[cfg(feature = "defmt")]
impl<const SLOTS: usize, const CERT_MAX: usize> defmt::Format for SharedSlotTable<SLOTS, CERT_MAX> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "SharedSlotTable<{=usize}, {=usize}>", SLOTS, CERT_MAX)
    }
}

impl<const SLOTS: usize, const CERT_MAX: usize> SharedSlotTable<SLOTS, CERT_MAX> {
    /// Share `table`; usable in a `static` initialiser.
    pub const fn new(table: SlotTable<SLOTS, CERT_MAX>) -> Self {
        SharedSlotTable {
            inner: spin::Mutex::new(table),
        }
    }

    /// Run `f` with the table (install, renew, archive, commit, list...).
    pub fn with<R>(&self, f: impl FnOnce(&mut SlotTable<SLOTS, CERT_MAX>) -> R) -> R {
        f(&mut self.inner.lock())
    }
}

impl<const SLOTS: usize, const CERT_MAX: usize> fmt::Debug for SharedSlotTable<SLOTS, CERT_MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedSlotTable<{SLOTS}, {CERT_MAX}>")
    }
}

impl<const SLOTS: usize, const CERT_MAX: usize> SlotSource for SharedSlotTable<SLOTS, CERT_MAX> {
    fn choose(&self, time: TimeSource, cas: &[&[u8]], schemes: &[SignatureScheme]) -> Choice {
        let table = self.inner.lock();
        let ctx = SelectionContext {
            time,
            acceptable_cas: cas,
            schemes,
        };
        match table.select(&ctx) {
            Ok(sel) => Choice {
                result: Ok((sel.der().to_vec(), sel.key().clone())),
                intermediates: sel.intermediates().map(<[u8]>::to_vec).collect(),
                summary: SelectionSummary::from_reasons(
                    time,
                    Some(sel.index()),
                    sel.explanation().hint(),
                    sel.explanation().iter(),
                ),
            },
            Err(e) => Choice {
                result: Err(e.kind()),
                intermediates: Vec::new(),
                summary: SelectionSummary::from_reasons(
                    time,
                    None,
                    HintMatch::NoHint,
                    e.explanation().iter(),
                ),
            },
        }
    }

    fn time_floor(&self) -> u64 {
        self.inner.lock().time_floor()
    }

    fn observe_time(&self, t: u64) -> bool {
        self.inner.lock().observe_time(t)
    }
}

impl<T: SlotSource + ?Sized> SlotSource for &'static T {
    fn choose(&self, time: TimeSource, cas: &[&[u8]], schemes: &[SignatureScheme]) -> Choice {
        (**self).choose(time, cas, schemes)
    }

    fn time_floor(&self) -> u64 {
        (**self).time_floor()
    }

    fn observe_time(&self, t: u64) -> bool {
        (**self).observe_time(t)
    }
}

impl<T: SlotSource + ?Sized> SlotSource for Arc<T> {
    fn choose(&self, time: TimeSource, cas: &[&[u8]], schemes: &[SignatureScheme]) -> Choice {
        (**self).choose(time, cas, schemes)
    }

    fn time_floor(&self) -> u64 {
        (**self).time_floor()
    }

    fn observe_time(&self, t: u64) -> bool {
        (**self).observe_time(t)
    }
}
