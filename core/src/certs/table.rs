//! The slot table itself: install (with renewal), the admin operations and listings. Every
//! operation checks everything before it changes anything, so an error leaves the table as it
//! was. "The same identity" for renewal is the same subject DN (DER bytes equal), which is what
//! certificate auto-enrollment keeps across renewals.

use core::fmt;

use super::key::{InlineKey, KeyKind, KeyRef};
use super::meta::{self, CertError, KeyAlgorithm, Metadata, NameRef};

/// How many intermediate CA certificates a slot holds after its leaf. Enterprise PKIs issue
/// from one or two levels below the root; the root itself is never sent.
pub const MAX_INTERMEDIATES: usize = 3;

/// The index of a slot in a [`SlotTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SlotIndex(usize);

impl SlotIndex {
    /// The slot at position `i` (it may not exist in a given table; operations check).
    pub const fn new(i: usize) -> Self {
        SlotIndex(i)
    }
    /// The position.
    pub const fn get(self) -> usize {
        self.0
    }
}

impl fmt::Display for SlotIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slot {}", self.0)
    }
}

/// The state of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SlotState {
    /// Nothing stored.
    Empty,
    /// May be selected for client authentication.
    Active,
    /// Kept (for rollback) but never selected, sent or signed with.
    Archived,
    /// A key generated for a renewal, waiting for its certificate
    /// ([`SlotTable::start_renewal`]): never selected; at most one per table.
    Pending,
}

impl fmt::Display for SlotState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SlotState::Empty => "empty",
            SlotState::Active => "active",
            SlotState::Archived => "archived",
            SlotState::Pending => "pending",
        })
    }
}

/// Why a certificate was not installed. The table is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum InstallError {
    /// The certificate (with its intermediates) is larger than a slot holds.
    TooLarge {
        /// Its length in bytes, intermediates included.
        len: usize,
        /// The slot capacity (`CERT_MAX`).
        max: usize,
    },
    /// The certificate could not be parsed.
    Malformed(CertError),
    /// More intermediate certificates than a slot holds.
    ChainTooLong {
        /// How many were given.
        count: usize,
        /// How many a slot holds ([`MAX_INTERMEDIATES`]).
        max: usize,
    },
    /// An intermediate certificate could not be parsed.
    IntermediateMalformed {
        /// Its position after the leaf (0: the leaf's issuer).
        position: usize,
        /// Why.
        error: CertError,
    },
    /// The chain does not link: the intermediate at `position` is not the issuer of the
    /// certificate before it (its subject is not that certificate's issuer name).
    ChainDoesNotLink {
        /// Its position after the leaf (0: should be the leaf's issuer).
        position: usize,
    },
    /// The inline key's algorithm is not the certificate's (an RSA key for a P-256
    /// certificate, say), or the certificate's key is one no inline key can be.
    InlineKeyAlgorithm {
        /// The certificate's public-key algorithm.
        certificate: KeyAlgorithm,
        /// The inline key's algorithm.
        key: KeyAlgorithm,
    },
    /// The inline private key does not belong to the certificate's public key.
    KeyMismatch,
    /// The very same certificate is already in this slot.
    AlreadyInstalled(SlotIndex),
    /// No empty slot and no archived slot to reclaim; active slots are never reclaimed.
    TableFull,
    /// The enrollment sequence counter is exhausted.
    SequenceExhausted,
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::TooLarge { len, max } => write!(
                f,
                "certificate not installed: {len} bytes with its intermediates, a slot holds at \
                 most {max}"
            ),
            InstallError::Malformed(e) => write!(f, "certificate not installed: {e}"),
            InstallError::ChainTooLong { count, max } => write!(
                f,
                "certificate not installed: {count} intermediate certificates, a slot holds at \
                 most {max} (leave the root CA out)"
            ),
            InstallError::IntermediateMalformed { position, error } => write!(
                f,
                "certificate not installed: intermediate {} is not a usable certificate: {error}",
                position.saturating_add(1)
            ),
            InstallError::ChainDoesNotLink { position } => write!(
                f,
                "certificate not installed: intermediate {} is not the issuer of the \
                 certificate before it (give the chain leaf first, each issuer after the \
                 certificate it issued)",
                position.saturating_add(1)
            ),
            InstallError::InlineKeyAlgorithm { certificate, key } => write!(
                f,
                "certificate not installed: its key is {certificate}, the private key given is {key}"
            ),
            InstallError::KeyMismatch => f.write_str(
                "certificate not installed: the private key does not match its public key",
            ),
            InstallError::AlreadyInstalled(i) => {
                write!(f, "certificate not installed: it is already in {i}")
            }
            InstallError::TableFull => f.write_str(
                "certificate not installed: every slot holds an active certificate; \
                 archive or remove one first",
            ),
            InstallError::SequenceExhausted => {
                f.write_str("certificate not installed: enrollment counter exhausted")
            }
        }
    }
}

impl core::error::Error for InstallError {}

/// Why an admin operation was refused. The table is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AdminError {
    /// The table has no such slot.
    NoSuchSlot(SlotIndex),
    /// The slot is empty.
    SlotEmpty(SlotIndex),
    /// The slot holds a pending renewal key (no certificate yet): complete the renewal with
    /// [`SlotTable::install_renewal`] or drop it with [`SlotTable::abandon_renewal`].
    SlotPending(SlotIndex),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::NoSuchSlot(i) => write!(f, "there is no {i} in the table"),
            AdminError::SlotEmpty(i) => write!(f, "{i} is empty"),
            AdminError::SlotPending(i) => write!(
                f,
                "{i} holds a pending renewal key, not a certificate: install the issued \
                 certificate or abandon the renewal"
            ),
        }
    }
}

impl core::error::Error for AdminError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    Active,
    Archived,
}

/// The certificates of a buffer holding DER certificates back to back (a slot's leaf and its
/// intermediates), in order. Stops at the first bytes that are not a whole DER SEQUENCE,
/// which install and load rule out.
#[derive(Clone)]
pub(crate) struct Certs<'a>(pub(crate) &'a [u8]);

impl<'a> Iterator for Certs<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let n = meta::first_tlv_len(self.0).ok()?;
        let (cert, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(cert)
    }
}

/// Check the intermediates that follow a leaf of `leaf_len` bytes in `buf` (each a complete
/// DER certificate, back to back, at most [`MAX_INTERMEDIATES`]): each must parse and be the
/// issuer of the certificate before it. Names are compared as DER bytes, as RFC 5280 §7.1
/// allows for names encoded alike (which a CA's own certificates are).
pub(crate) fn link_chain(buf: &[u8], leaf_len: usize) -> Result<(), InstallError> {
    let leaf = buf
        .get(..leaf_len)
        .ok_or(InstallError::Malformed(CertError::Malformed))?;
    let mut rest = buf.get(leaf_len..).unwrap_or(&[]);
    let mut position = 0usize;
    let intermediates = core::iter::from_fn(|| {
        if rest.is_empty() {
            return None;
        }
        let malformed = |error| InstallError::IntermediateMalformed { position, error };
        let split = meta::first_tlv_len(rest)
            .map_err(malformed)
            .and_then(|len| {
                rest.split_at_checked(len)
                    .ok_or(malformed(CertError::Malformed))
            });
        position = position.saturating_add(1);
        Some(match split {
            Ok((cert, tail)) => {
                rest = tail;
                Ok(cert)
            }
            Err(e) => {
                rest = &[];
                Err(e)
            }
        })
    });
    link_certs(leaf, intermediates)
}

/// Checks that each certificate of `intermediates` (at most [`MAX_INTERMEDIATES`]) parses and
/// is the issuer of the one before it, starting from `leaf`.
pub(crate) fn link_certs<'a>(
    leaf: &'a [u8],
    intermediates: impl Iterator<Item = Result<&'a [u8], InstallError>>,
) -> Result<(), InstallError> {
    let leaf_meta = meta::parse(leaf).map_err(InstallError::Malformed)?.meta;
    let mut expected_issuer: &[u8] = leaf_meta.issuer.of(leaf);
    for (position, cert) in intermediates.enumerate() {
        if position >= MAX_INTERMEDIATES {
            return Err(InstallError::ChainTooLong {
                count: position.saturating_add(1),
                max: MAX_INTERMEDIATES,
            });
        }
        let cert = cert?;
        let m = meta::parse(cert)
            .map_err(|error| InstallError::IntermediateMalformed { position, error })?
            .meta;
        if m.subject.of(cert) != expected_issuer {
            return Err(InstallError::ChainDoesNotLink { position });
        }
        expected_issuer = m.issuer.of(cert);
    }
    Ok(())
}

/// An occupied slot. `der` holds the leaf followed by its intermediates (the chain is found
/// again by splitting it, so it costs no memory beyond its bytes); `meta` describes the leaf
/// (its spans index `der` from 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Occupied<const CERT_MAX: usize> {
    pub(crate) state: Liveness,
    pub(crate) der: heapless::Vec<u8, CERT_MAX>,
    pub(crate) key: KeyRef,
    pub(crate) enrollment: u64,
    pub(crate) meta: Metadata,
}

impl<const CERT_MAX: usize> Occupied<CERT_MAX> {
    /// Puts a slot into `slot` with `leaf` and `intermediates` as its bytes (checked to fit
    /// by [`SlotTable::prepare`]), writing them where the slot lives: built apart and moved in,
    /// the slot (its `CERT_MAX` buffer) went through the stack two or three times, which on a
    /// device was the deepest stack of an install.
    pub(crate) fn store(
        slot: &mut Option<Self>,
        state: Liveness,
        key: KeyRef,
        enrollment: u64,
        meta: Metadata,
        leaf: &[u8],
        intermediates: &[&[u8]],
    ) -> Result<(), InstallError> {
        let occ = slot.insert(Occupied {
            state,
            der: heapless::Vec::new(),
            key,
            enrollment,
            meta,
        });
        let mut fits = occ.der.extend_from_slice(leaf).is_ok();
        for c in intermediates {
            fits = fits && occ.der.extend_from_slice(c).is_ok();
        }
        if !fits {
            let len = intermediates
                .iter()
                .fold(leaf.len(), |n, c| n.saturating_add(c.len()));
            *slot = None;
            return Err(InstallError::TooLarge { len, max: CERT_MAX });
        }
        Ok(())
    }

    /// The leaf certificate's DER.
    pub(crate) fn leaf(&self) -> &[u8] {
        Certs(&self.der).next().unwrap_or(&[])
    }
    /// The intermediates' DER, back to back (empty when the slot holds none).
    pub(crate) fn chain(&self) -> &[u8] {
        self.der.get(self.leaf().len()..).unwrap_or(&[])
    }
    pub(crate) fn subject(&self) -> NameRef<'_> {
        NameRef::new(self.meta.subject.of(&self.der))
    }
    pub(crate) fn issuer(&self) -> NameRef<'_> {
        NameRef::new(self.meta.issuer.of(&self.der))
    }
    /// Every CA name this slot's chain leads to: the leaf's issuer, then each intermediate's
    /// issuer (up to the root's name). A server's acceptable-CA hint naming any of them names
    /// this slot's chain.
    pub(crate) fn chain_names(&self) -> impl Iterator<Item = NameRef<'_>> + '_ {
        core::iter::once(self.issuer()).chain(
            Certs(self.chain())
                .filter_map(meta::issuer_of)
                .map(NameRef::new),
        )
    }
    fn same_identity(&self, subject: NameRef<'_>) -> bool {
        // An empty subject (identity only in subjectAltName) names nobody in particular, so such
        // certificates never supersede each other.
        !subject.is_empty() && self.subject() == subject
    }
    pub(crate) fn slot_state(&self) -> SlotState {
        match self.state {
            Liveness::Active => SlotState::Active,
            Liveness::Archived => SlotState::Archived,
        }
    }
}

/// An active slot, borrowed. Only [`SlotTable::active_slot`] makes one, after checking the
/// state, and only this type can become a [`super::Selected`].
pub(crate) struct ActiveSlot<'a> {
    pub(crate) index: SlotIndex,
    pub(crate) der: &'a [u8],
    pub(crate) chain: &'a [u8],
    pub(crate) key: &'a KeyRef,
    pub(crate) meta: &'a Metadata,
}

/// The pending slot of a renewal: a freshly generated key with no certificate yet. It sits at
/// `index` (whose certificate slot stays `None`), is never selected, and is zeroized when
/// dropped (an [`InlineKey`] is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    pub(crate) index: usize,
    pub(crate) key: PendingKey,
    /// The enrollment number of the certificate this key renews: its subject and
    /// subjectAltName go into the request, and installing the issued certificate archives it.
    pub(crate) renews: u64,
}

/// A pending renewal key: inline (generated from the platform RNG), or generated inside the
/// platform's key store, of which the table keeps the handle and the public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PendingKey {
    Inline(InlineKey),
    Handle {
        handle: u32,
        /// Uncompressed SEC1 P-256 point, checked to be on the curve.
        public: [u8; crate::hal::P256_PUBLIC_KEY_LEN],
    },
}

/// One occupied slot as shown to an admin: everything but the key's secret.
#[derive(Debug, Clone, Copy)]
pub struct SlotInfo<'a> {
    index: SlotIndex,
    state: SlotState,
    enrollment: u64,
    key: KeyKind,
    der: &'a [u8],
    chain: &'a [u8],
    meta: &'a Metadata,
}

#[cfg(feature = "defmt")]
impl defmt::Format for SlotInfo<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "{}: {}, enrollment #{=u64}",
            self.index(),
            self.state(),
            self.enrollment()
        )
    }
}

impl<'a> SlotInfo<'a> {
    /// The slot index.
    pub fn index(&self) -> SlotIndex {
        self.index
    }
    /// Active or archived.
    pub fn state(&self) -> SlotState {
        self.state
    }
    /// The enrollment sequence number (higher is newer).
    pub fn enrollment(&self) -> u64 {
        self.enrollment
    }
    /// Where the key is.
    pub fn key_kind(&self) -> KeyKind {
        self.key
    }
    /// The certificate DER (the leaf).
    pub fn der(&self) -> &'a [u8] {
        self.der
    }
    /// The intermediate CA certificates stored with it, in the order they are sent (the
    /// leaf's issuer first).
    pub fn intermediates(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        Certs(self.chain)
    }
    /// The parsed metadata.
    pub fn metadata(&self) -> &'a Metadata {
        self.meta
    }
    /// The serial number (INTEGER contents, big-endian).
    pub fn serial(&self) -> &'a [u8] {
        self.meta.serial.of(self.der)
    }
    /// The issuer Name.
    pub fn issuer(&self) -> NameRef<'a> {
        NameRef::new(self.meta.issuer.of(self.der))
    }
    /// The subject Name (the identity renewal matches on).
    pub fn subject(&self) -> NameRef<'a> {
        NameRef::new(self.meta.subject.of(self.der))
    }
}

impl fmt::Display for SlotInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} #{} subject {} issuer {} valid {}..{} {}",
            self.index,
            self.state,
            self.enrollment,
            self.subject(),
            self.issuer(),
            self.meta.not_before(),
            self.meta.not_after(),
            self.key
        )
    }
}

/// The certificate slot table: `SLOTS` slots of at most `CERT_MAX` DER bytes each, the
/// enrollment counter and the time floor. See the [module documentation](super).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotTable<const SLOTS: usize, const CERT_MAX: usize> {
    pub(crate) slots: [Option<Occupied<CERT_MAX>>; SLOTS],
    /// The pending renewal key, if any; its index is a `None` entry of `slots`.
    pub(crate) pending: Option<Pending>,
    /// The enrollment number the next install gets.
    pub(crate) next_enrollment: u64,
    pub(crate) time_floor: u64,
}

#[cfg(feature = "defmt")]
impl<const SLOTS: usize, const CERT_MAX: usize> defmt::Format for SlotTable<SLOTS, CERT_MAX> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "SlotTable<{=usize}, {=usize}>({=usize} occupied, time floor {=u64})",
            SLOTS,
            CERT_MAX,
            self.list().count(),
            self.time_floor
        )
    }
}

impl<const SLOTS: usize, const CERT_MAX: usize> Default for SlotTable<SLOTS, CERT_MAX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SLOTS: usize, const CERT_MAX: usize> SlotTable<SLOTS, CERT_MAX> {
    /// An empty table with no time floor.
    pub const fn new() -> Self {
        SlotTable {
            slots: [const { None }; SLOTS],
            pending: None,
            next_enrollment: 1,
            time_floor: 0,
        }
    }

    /// The state of slot `i` (`None` when the table has no such slot).
    pub fn state(&self, i: SlotIndex) -> Option<SlotState> {
        match self.slots.get(i.0)? {
            None if self.pending_at(i.0) => Some(SlotState::Pending),
            None => Some(SlotState::Empty),
            Some(occ) => Some(occ.slot_state()),
        }
    }

    /// The occupied slot `i`, for display.
    pub fn get(&self, i: SlotIndex) -> Option<SlotInfo<'_>> {
        let occ = self.slots.get(i.0)?.as_ref()?;
        Some(SlotInfo {
            index: i,
            state: occ.slot_state(),
            enrollment: occ.enrollment,
            key: occ.key.kind(),
            der: occ.leaf(),
            chain: occ.chain(),
            meta: &occ.meta,
        })
    }

    /// Whether slot `i` holds the pending renewal key.
    pub(crate) fn pending_at(&self, i: usize) -> bool {
        self.pending.as_ref().is_some_and(|p| p.index == i)
    }

    /// Every slot holding a certificate (active or archived), in index order. The pending
    /// renewal key, which has none yet, is [`Self::pending`].
    pub fn list(&self) -> impl Iterator<Item = SlotInfo<'_>> + '_ {
        (0..SLOTS).filter_map(|i| self.get(SlotIndex(i)))
    }

    pub(crate) fn active_slot(&self, i: usize) -> Option<ActiveSlot<'_>> {
        let occ = self.slots.get(i)?.as_ref()?;
        match occ.state {
            Liveness::Active => Some(ActiveSlot {
                index: SlotIndex(i),
                der: occ.leaf(),
                chain: occ.chain(),
                key: &occ.key,
                meta: &occ.meta,
            }),
            Liveness::Archived => None,
        }
    }

    /// Install a certificate and its key. When an active slot already holds the same identity
    /// (same subject DN), the new certificate becomes active and that predecessor is archived in
    /// the same step. The slot is the first empty one, else the oldest archived one (reclaimed);
    /// an active slot is never reclaimed. The certificate's notBefore raises the time floor.
    /// Call [`Self::commit`] to make the change durable.
    pub fn install(&mut self, cert_der: &[u8], key: KeyRef) -> Result<SlotIndex, InstallError> {
        self.install_chain(cert_der, &[], key)
    }

    /// [`Self::install`] with the intermediate CA certificates that lead from the leaf towards
    /// its root (the leaf's issuer first, at most [`MAX_INTERMEDIATES`], the root left out).
    /// They are sent after the leaf in the TLS Certificate message, and a server's
    /// acceptable-CA list naming any CA of the chain names this slot. Leaf and intermediates
    /// together must fit `CERT_MAX` bytes. A chain in which a certificate is not the issuer of
    /// the one before it is refused ([`InstallError::ChainDoesNotLink`]).
    pub fn install_chain(
        &mut self,
        cert_der: &[u8],
        intermediates: &[&[u8]],
        key: KeyRef,
    ) -> Result<SlotIndex, InstallError> {
        let inline = match &key {
            KeyRef::Inline(k) => Some(k),
            KeyRef::Handle(_) => None,
        };
        let meta = self.prepare(cert_der, intermediates, inline)?;
        let target = self.free_slot().ok_or(InstallError::TableFull)?;
        let enrollment = self.next_enrollment;
        let next = enrollment
            .checked_add(1)
            .ok_or(InstallError::SequenceExhausted)?;
        let Some(target_slot) = self.slots.get_mut(target) else {
            return Err(InstallError::TableFull);
        };
        // Dropping the reclaimed slot's key zeroizes it.
        Occupied::store(
            target_slot,
            Liveness::Active,
            key,
            enrollment,
            meta,
            cert_der,
            intermediates,
        )?;
        self.archive_others_of_identity(target);
        self.next_enrollment = next;
        self.observe_time(meta.not_before());
        Ok(SlotIndex(target))
    }

    /// Every check of an install, changing nothing: sizes, the leaf and its chain parse and
    /// link, the inline key (if any) is the certificate's, the leaf is not installed already.
    /// Returns the slot's bytes (leaf, then intermediates) and the leaf's metadata.
    pub(crate) fn prepare(
        &self,
        cert_der: &[u8],
        intermediates: &[&[u8]],
        inline: Option<&InlineKey>,
    ) -> Result<Metadata, InstallError> {
        let total = intermediates
            .iter()
            .try_fold(cert_der.len(), |n, c| n.checked_add(c.len()))
            .unwrap_or(usize::MAX);
        if total > CERT_MAX {
            return Err(InstallError::TooLarge {
                len: total,
                max: CERT_MAX,
            });
        }
        if intermediates.len() > MAX_INTERMEDIATES {
            return Err(InstallError::ChainTooLong {
                count: intermediates.len(),
                max: MAX_INTERMEDIATES,
            });
        }
        let parsed = meta::parse(cert_der).map_err(InstallError::Malformed)?;
        if let Some(inline) = inline {
            let certificate = parsed.meta.key_algorithm();
            let key = inline.algorithm();
            if certificate != key {
                return Err(InstallError::InlineKeyAlgorithm { certificate, key });
            }
            if !inline.matches_public_key(parsed.public_key) {
                return Err(InstallError::KeyMismatch);
            }
        }
        let meta = parsed.meta;
        if let Some(i) = self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|o| o.leaf() == cert_der))
        {
            return Err(InstallError::AlreadyInstalled(SlotIndex(i)));
        }
        for (position, c) in intermediates.iter().enumerate() {
            // Each intermediate must be exactly one certificate, so that the stored chain
            // splits back into the certificates given.
            match meta::first_tlv_len(c) {
                Ok(n) if n == c.len() => {}
                _ => {
                    return Err(InstallError::IntermediateMalformed {
                        position,
                        error: CertError::Malformed,
                    })
                }
            }
        }
        link_certs(cert_der, intermediates.iter().map(|c| Ok(*c)))?;
        Ok(meta)
    }

    /// First empty slot (not the pending one), else the archived slot with the lowest
    /// enrollment number.
    pub(crate) fn free_slot(&self) -> Option<usize> {
        if let Some(i) = self
            .slots
            .iter()
            .enumerate()
            .position(|(i, s)| s.is_none() && !self.pending_at(i))
        {
            return Some(i);
        }
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Some(o) if o.state == Liveness::Archived => Some((o.enrollment, i)),
                _ => None,
            })
            .min()
            .map(|(_, i)| i)
    }

    /// Archive every active slot other than `keep` with the same identity as `keep`.
    pub(crate) fn archive_others_of_identity(&mut self, keep: usize) {
        let Some(Some(kept)) = self.slots.get(keep) else {
            return;
        };
        let subject = kept.subject();
        // Decide first, mutate second: the subject borrows from the table.
        let mut archive = [false; SLOTS];
        for ((i, slot), flag) in self.slots.iter().enumerate().zip(archive.iter_mut()) {
            if let Some(occ) = slot {
                *flag = i != keep && occ.state == Liveness::Active && occ.same_identity(subject);
            }
        }
        for (slot, flag) in self.slots.iter_mut().zip(archive) {
            if let (Some(occ), true) = (slot, flag) {
                occ.state = Liveness::Archived;
            }
        }
    }

    fn occupied_mut(&mut self, i: SlotIndex) -> Result<&mut Occupied<CERT_MAX>, AdminError> {
        let pending = self.pending_at(i.0);
        self.slots
            .get_mut(i.0)
            .ok_or(AdminError::NoSuchSlot(i))?
            .as_mut()
            .ok_or(if pending {
                AdminError::SlotPending(i)
            } else {
                AdminError::SlotEmpty(i)
            })
    }

    /// Archive slot `i`: it stays stored (for [`Self::restore`]) but is never selected.
    /// Archiving an archived slot does nothing.
    pub fn archive(&mut self, i: SlotIndex) -> Result<(), AdminError> {
        self.occupied_mut(i)?.state = Liveness::Archived;
        Ok(())
    }

    /// Make archived slot `i` active again, archiving any other active slot of the same
    /// identity so that the restored certificate is the one used for it. Restoring is only
    /// ever explicit; selection never falls back to an archived slot.
    pub fn restore(&mut self, i: SlotIndex) -> Result<(), AdminError> {
        self.occupied_mut(i)?.state = Liveness::Active;
        self.archive_others_of_identity(i.0);
        Ok(())
    }

    /// Empty every archived slot (the manual workaround of KB932521, as an API); returns how
    /// many were purged.
    pub fn purge_archived(&mut self) -> usize {
        let mut purged = 0usize;
        for slot in self.slots.iter_mut() {
            if slot.as_ref().is_some_and(|o| o.state == Liveness::Archived) {
                *slot = None;
                purged = purged.saturating_add(1); // at most SLOTS
            }
        }
        purged
    }

    /// Empty slot `i` whatever its state, a pending renewal key included (its inline key is
    /// zeroized). Removing an empty slot does nothing.
    pub fn remove(&mut self, i: SlotIndex) -> Result<(), AdminError> {
        let slot = self.slots.get_mut(i.0).ok_or(AdminError::NoSuchSlot(i))?;
        *slot = None;
        if self.pending_at(i.0) {
            self.pending = None;
        }
        Ok(())
    }

    /// Test hook: put a parsed certificate in slot `i` with a chosen state and enrollment,
    /// bypassing renewal and key checks.
    #[cfg(test)]
    #[allow(clippy::unwrap_used, clippy::indexing_slicing)]
    pub(crate) fn insert_raw(
        &mut self,
        i: usize,
        der: &[u8],
        key: KeyRef,
        state: SlotState,
        enrollment: u64,
    ) {
        if self.pending_at(i) {
            self.pending = None;
        }
        let state = match state {
            SlotState::Active => Liveness::Active,
            SlotState::Archived => Liveness::Archived,
            SlotState::Empty => {
                self.slots[i] = None;
                return;
            }
            SlotState::Pending => {
                // `enrollment` is the renewed certificate's; `der` is not stored. A handle
                // gets a fixed valid public point (the generator's): only its kind matters here.
                let key = match key {
                    KeyRef::Inline(key) => PendingKey::Inline(key),
                    KeyRef::Handle(handle) => {
                        use p256::elliptic_curve::sec1::ToEncodedPoint;
                        let g = p256::AffinePoint::GENERATOR.to_encoded_point(false);
                        PendingKey::Handle {
                            handle,
                            public: g.as_bytes().try_into().unwrap(),
                        }
                    }
                };
                assert!(self.pending.is_none(), "one pending slot at most");
                self.slots[i] = None;
                self.pending = Some(Pending {
                    index: i,
                    key,
                    renews: enrollment,
                });
                return;
            }
        };
        let meta = meta::parse(der).unwrap().meta;
        self.slots[i] = Some(Occupied {
            state,
            der: heapless::Vec::from_slice(der).unwrap(),
            key,
            enrollment,
            meta,
        });
        self.next_enrollment = self.next_enrollment.max(enrollment + 1);
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
    use crate::certs::testutil::CertSpec;
    use alloc::vec::Vec;

    type Table = SlotTable<4, 1024>;

    fn states(t: &Table) -> Vec<SlotState> {
        (0..4).map(|i| t.state(SlotIndex(i)).unwrap()).collect()
    }

    #[test]
    fn install_refusals_leave_table_unchanged() {
        let mut table = Table::new();
        let good = CertSpec::new("dev").make();
        table.install(&good.der, good.key_ref()).unwrap();
        let before = table.clone();

        assert_eq!(
            table.install(&[0x30, 0x82, 0x01], KeyRef::Handle(1)),
            Err(InstallError::Malformed(CertError::Malformed))
        );
        let big = CertSpec::new("big").padding(1200).make();
        assert_eq!(
            table.install(&big.der, big.key_ref()),
            Err(InstallError::TooLarge {
                len: big.der.len(),
                max: 1024
            })
        );
        let other = CertSpec::new("dev").make();
        assert_eq!(
            table.install(&other.der, good.key_ref()),
            Err(InstallError::KeyMismatch)
        );
        let p384 = CertSpec::new("dev").p384().make();
        assert_eq!(
            table.install(&p384.der, good.key_ref()),
            Err(InstallError::InlineKeyAlgorithm {
                certificate: KeyAlgorithm::P384,
                key: KeyAlgorithm::P256
            })
        );
        assert_eq!(
            table.install(&good.der, good.key_ref()),
            Err(InstallError::AlreadyInstalled(SlotIndex(0)))
        );
        assert_eq!(table, before);
    }

    #[test]
    fn handle_key_accepted_for_any_algorithm() {
        let mut table = Table::new();
        let p384 = CertSpec::new("se").p384().make();
        assert_eq!(
            table.install(&p384.der, KeyRef::Handle(9)),
            Ok(SlotIndex(0))
        );
        assert_eq!(
            table.get(SlotIndex(0)).unwrap().key_kind(),
            KeyKind::Handle(9)
        );
    }

    #[test]
    fn renewal_archives_predecessor_of_same_subject_only() {
        let mut table = Table::new();
        let old = CertSpec::new("dev").make();
        let other = CertSpec::new("other").make();
        let new = CertSpec::new("dev").make();
        table.install(&old.der, old.key_ref()).unwrap();
        table.install(&other.der, other.key_ref()).unwrap();
        let i = table.install(&new.der, new.key_ref()).unwrap();
        assert_eq!(i, SlotIndex(2));
        use SlotState::*;
        assert_eq!(states(&table), [Archived, Active, Active, Empty]);
        assert_eq!(table.get(i).unwrap().enrollment(), 3);
        assert!(table.time_floor() >= new.not_before);
    }

    #[test]
    fn full_table_reclaims_oldest_archived_never_active() {
        use SlotState::*;
        let mut table = Table::new();
        let certs: Vec<_> = (0..6).map(|_| CertSpec::new("dev").make()).collect();
        for c in &certs[..4] {
            table.install(&c.der, c.key_ref()).unwrap();
        }
        assert_eq!(states(&table), [Archived, Archived, Archived, Active]);
        // Slot 0 holds the oldest archived certificate (enrollment 1).
        assert_eq!(
            table.install(&certs[4].der, certs[4].key_ref()),
            Ok(SlotIndex(0))
        );
        assert_eq!(states(&table), [Active, Archived, Archived, Archived]);
        assert_eq!(
            table.install(&certs[5].der, certs[5].key_ref()),
            Ok(SlotIndex(1))
        );
        assert_eq!(table.get(SlotIndex(1)).unwrap().der(), certs[5].der);

        // Four different identities, all active: nothing may be reclaimed.
        let mut full = Table::new();
        for n in ["a", "b", "c", "d"] {
            let c = CertSpec::new(n).make();
            full.install(&c.der, c.key_ref()).unwrap();
        }
        let before = full.clone();
        let e = CertSpec::new("e").make();
        assert_eq!(
            full.install(&e.der, e.key_ref()),
            Err(InstallError::TableFull)
        );
        assert_eq!(full, before);
    }

    #[test]
    fn restore_purge_remove() {
        use SlotState::*;
        let mut table = Table::new();
        let old = CertSpec::new("dev").make();
        let new = CertSpec::new("dev").make();
        table.install(&old.der, old.key_ref()).unwrap();
        table.install(&new.der, new.key_ref()).unwrap();
        table.restore(SlotIndex(0)).unwrap();
        assert_eq!(states(&table), [Active, Archived, Empty, Empty]);
        table.archive(SlotIndex(0)).unwrap();
        assert_eq!(states(&table), [Archived, Archived, Empty, Empty]);
        assert_eq!(
            table.archive(SlotIndex(3)),
            Err(AdminError::SlotEmpty(SlotIndex(3)))
        );
        assert_eq!(
            table.restore(SlotIndex(7)),
            Err(AdminError::NoSuchSlot(SlotIndex(7)))
        );
        assert_eq!(table.purge_archived(), 2);
        assert_eq!(states(&table), [Empty, Empty, Empty, Empty]);
        table.install(&old.der, old.key_ref()).unwrap();
        table.remove(SlotIndex(0)).unwrap();
        assert_eq!(table.list().count(), 0);
        // Enrollment numbers keep rising after removals.
        table.install(&new.der, new.key_ref()).unwrap();
        assert_eq!(table.get(SlotIndex(0)).unwrap().enrollment(), 4);
    }

    #[test]
    fn list_shows_metadata_without_key() {
        let mut table = Table::new();
        let c = CertSpec::new("listed").serial(&[0x42]).make();
        table.install(&c.der, c.key_ref()).unwrap();
        let info = table.list().next().unwrap();
        assert_eq!(info.serial(), [0x42]);
        assert_eq!(info.subject().common_name(), Some("listed"));
        assert_eq!(info.key_kind(), KeyKind::Inline);
        let shown = alloc::format!("{info}");
        assert!(shown.contains("active #1 subject CN=listed"), "{shown}");
    }

    #[test]
    fn chain_is_stored_after_the_leaf_and_listed_in_order() {
        use crate::certs::testutil::intermediate_der;
        let mut table = Table::new();
        let leaf = CertSpec::new("dev").via_intermediate().make();
        let int = intermediate_der();
        let i = table
            .install_chain(&leaf.der, &[&int], leaf.key_ref())
            .unwrap();
        let info = table.get(i).unwrap();
        assert_eq!(info.der(), leaf.der);
        let chain: Vec<&[u8]> = info.intermediates().collect();
        assert_eq!(chain, [int.as_slice()]);
        // The same leaf is the same certificate, whatever chain it comes with.
        assert_eq!(
            table.install(&leaf.der, leaf.key_ref()),
            Err(InstallError::AlreadyInstalled(i))
        );
        // A leaf directly under a root links with no intermediates at all.
        let plain = CertSpec::new("plain").make();
        let j = table.install(&plain.der, plain.key_ref()).unwrap();
        assert_eq!(table.get(j).unwrap().intermediates().count(), 0);
    }

    #[test]
    fn chain_refusals_leave_table_unchanged() {
        use crate::certs::testutil::{ca_der, intermediate_der};
        let mut table = SlotTable::<4, 4096>::new();
        let good = CertSpec::new("dev").make();
        table.install(&good.der, good.key_ref()).unwrap();
        let before = table.clone();
        let leaf = CertSpec::new("dev2").via_intermediate().make();
        let int = intermediate_der();

        // Test CA 1 did not issue this leaf.
        let other_ca = ca_der(1);
        assert_eq!(
            table.install_chain(&leaf.der, &[&other_ca], leaf.key_ref()),
            Err(InstallError::ChainDoesNotLink { position: 0 })
        );
        // Right first link, wrong second: CA 1 did not issue the intermediate.
        assert_eq!(
            table.install_chain(&leaf.der, &[&int, &other_ca], leaf.key_ref()),
            Err(InstallError::ChainDoesNotLink { position: 1 })
        );
        // Root last is a valid link (the root issued the intermediate); the order matters.
        let root = ca_der(0);
        assert_eq!(
            table.install_chain(&leaf.der, &[&root, &int], leaf.key_ref()),
            Err(InstallError::ChainDoesNotLink { position: 0 })
        );
        let four = [int.as_slice(); MAX_INTERMEDIATES + 1];
        assert_eq!(
            table.install_chain(&leaf.der, &four, leaf.key_ref()),
            Err(InstallError::ChainTooLong {
                count: MAX_INTERMEDIATES + 1,
                max: MAX_INTERMEDIATES
            })
        );
        let garbage = [0x30u8, 0x03, 1, 2, 3];
        assert_eq!(
            table.install_chain(&leaf.der, &[&garbage], leaf.key_ref()),
            Err(InstallError::IntermediateMalformed {
                position: 0,
                error: CertError::Malformed
            })
        );
        // Two certificates in one entry are refused, not silently split.
        let two = [int.clone(), root.clone()].concat();
        assert!(matches!(
            table.install_chain(&leaf.der, &[&two], leaf.key_ref()),
            Err(InstallError::IntermediateMalformed { position: 0, .. })
        ));
        // Every truncation of the intermediate is a typed refusal.
        for n in 0..int.len() {
            let r = table.install_chain(&leaf.der, &[&int[..n]], leaf.key_ref());
            assert!(
                matches!(
                    r,
                    Err(InstallError::IntermediateMalformed { position: 0, .. })
                ),
                "{n}: {r:?}"
            );
        }
        let big = CertSpec::new("big")
            .via_intermediate()
            .padding(4096 - 300)
            .make();
        let r = table.install_chain(&big.der, &[&int], big.key_ref());
        assert_eq!(
            r,
            Err(InstallError::TooLarge {
                len: big.der.len() + int.len(),
                max: 4096
            })
        );
        assert_eq!(table, before);
        let line = alloc::format!("{}", InstallError::ChainDoesNotLink { position: 0 });
        assert!(line.contains("intermediate 1 is not the issuer"), "{line}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn random_bytes_as_an_intermediate_are_a_typed_refusal(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            sequence_header in proptest::prelude::any::<bool>(),
        ) {
            let leaf = CertSpec::new("dev").via_intermediate().make();
            let mut table = SlotTable::<2, 4096>::new();
            let before = table.clone();
            // Half the cases look like a DER SEQUENCE of the right length, to reach the
            // certificate parser rather than stop at the header.
            let mut junk = bytes;
            if sequence_header && junk.len() < 0x80 {
                junk.splice(0..0, [0x30, junk.len() as u8]);
            }
            let r = table.install_chain(&leaf.der, &[&junk], leaf.key_ref());
            proptest::prop_assert!(
                matches!(r, Err(InstallError::IntermediateMalformed { position: 0, .. })),
                "{:?}", r
            );
            proptest::prop_assert_eq!(table, before);
        }
    }

    #[test]
    fn size_of_slot_table_8_by_2048() {
        extern crate std;
        let size = core::mem::size_of::<SlotTable<8, 2048>>();
        std::println!(
            "size_of::<SlotTable<8, 2048>>() = {size} bytes, of which the pending renewal key \
             {} bytes",
            core::mem::size_of::<Option<Pending>>()
        );
        assert!(size <= 8 * (2048 + 128) + 64, "{size}");
    }
}
