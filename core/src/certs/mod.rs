//! The certificate slot table: which client certificate and key the device may present, which
//! ones are archived, and why a certificate was (or was not) chosen for a handshake.
//! Fixed-size and allocation-free: capacities are const generics.
//!
//! - [`SlotTable`] holds `SLOTS` slots, each `Empty`, `Active`, `Archived` or (at most one)
//!   `Pending` (a renewal key without its certificate yet), with the
//!   certificate DER (at most `CERT_MAX` bytes), a [`KeyRef`], a table-wide monotonic enrollment
//!   sequence number and [`Metadata`] parsed once at install.
//! - [`SlotTable::select`] applies the selection rules and explains every skipped slot; only an
//!   active slot can become a [`Selected`], so an archived certificate is never sent or signed
//!   with.
//! - [`SlotTable::install`] is the renewal step: the new slot becomes active and the
//!   predecessor for the same identity (same subject DN) is archived in one step.
//! - [`SlotTable::start_renewal`], [`SlotTable::renewal_request`] and
//!   [`SlotTable::install_renewal`] are self-renewal: a new key in a pending slot (never
//!   selected), a PKCS#10 request for it, and the issued certificate installed over it with the
//!   predecessor archived in the same step.
//! - [`SlotTable::commit`] / [`SlotTable::load`] persist the table to two alternating
//!   `NorFlash` regions so that a power cut leaves the old or the new table, never a mix.
//! - The persisted time floor ([`SlotTable::observe_time`], [`SlotTable::effective_time`])
//!   stands in for a wall clock the device does not have at boot. It is the one time basis of
//!   an authentication ([`TimeSource::resolve`]): the server check and certificate selection
//!   both use it, and a wall clock below it is taken as wrong everywhere. Certificate notBefore
//!   values raise it at install, successful authentications raise it to their time.
//! - [`SharedSlotTable`] shares the table between the platform and the supplicant.

pub(crate) mod key;
pub(crate) mod meta;
mod persist;
mod renew;
mod select;
mod shared;
mod table;
mod time;

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod testutil;

pub use key::{InlineKey, KeyError, KeyKind, KeyRef, RSA_MAX_BITS, RSA_MIN_BITS};
pub use meta::{CertError, ExtendedKeyUsage, KeyAlgorithm, Metadata, NameRef};
pub use persist::{
    CommitError, FlashFault, FlashLayout, LayoutError, LoadError, LoadReport, Region, RegionStatus,
};
pub use renew::{PendingInfo, RenewError};
pub use select::{
    Explanation, HintMatch, SelectError, SelectErrorKind, Selected, SelectionContext,
    SignatureScheme, SkipReason,
};
pub use shared::{Choice, SelectionSummary, SharedSlotTable, SlotSource, MAX_REPORTED_SLOTS};
pub use table::{
    AdminError, InstallError, SlotIndex, SlotInfo, SlotState, SlotTable, MAX_INTERMEDIATES,
};
pub use time::{TimeSource, UtcTime};
