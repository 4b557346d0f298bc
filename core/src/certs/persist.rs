//! Persistence of the slot table to NOR flash (`embedded-storage` `NorFlash`): a versioned,
//! checksummed image written to whichever of two regions does not hold the newest valid image,
//! so a power cut at any point leaves the old or the new table. The image layout is below.
//!
//! Image layout, little-endian, no padding:
//! ```text
//! header   magic "LKST" | version u16 = 4 | 0 u16 | sequence u64 | payload length u32 | 0 u32
//! payload  time floor u64 | next enrollment u64 | record count u16 | 0 u16
//!          per occupied slot: index u16 | state u8 (1 active, 2 archived, 3 pending)
//!                             | key kind u8 (1 inline P-256, 2 handle, 3 inline P-384,
//!                               4 inline RSA) | enrollment u64 (pending: the renewed
//!                               certificate's)
//!                             | key length u16 | certificate length u16
//!                             | intermediates length u16
//!                             | key (P-256 scalar 32 bytes, P-384 scalar 48 bytes, handle u32,
//!                               or RSA e u32 big-endian + p + q, same length each)
//!                             | certificate DER | intermediate certificates' DER, back to back
//! trailer  SHA-256 over header and payload (32 bytes)
//! ```
//! A pending record (a renewal key waiting for its certificate) has no certificate (both
//! lengths 0) and an inline key, or (kind 2) a key-store handle u32 followed by the key's
//! uncompressed P-256 public point (65 bytes); at most one per image. Version 3 is version 4 without pending
//! records; it is still read (the next commit writes version 4). Version 2 is version 3 without the intermediates length (slots without a chain); it is
//! still read, so a device updated in the field keeps its table, and the next commit writes
//! version 3. A loaded chain is split and checked again as at install: a record whose chain
//! does not parse or link is refused.
//! SHA-256 rather than a CRC: `sha2` is already linked for TLS, and a torn write that leaves
//! erased 0xFF bytes cannot pass it by accident. Inline private keys are stored in the image:
//! this is the device's own flash, protect it as such (or keep keys in a secure element).
//! Version 1 (a fixed 32-byte key field, P-256 only) is not read: its tables predate RSA and
//! P-384 keys and are re-provisioned.

use core::fmt;

use embedded_storage::nor_flash::{NorFlash, NorFlashError, NorFlashErrorKind};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use super::key::{InlineKey, KeyRef, StoredKey, STORED_KEY_MAX};
use super::meta::{self, KeyAlgorithm};
use super::table::{link_chain, Liveness, Occupied, Pending, PendingKey, SlotTable};

const MAGIC: [u8; 4] = *b"LKST";
const VERSION: u16 = 4;
/// Version 3: no pending records. Read but no longer written.
const VERSION_3: u16 = 3;
/// Version 2: no intermediates either. Read but no longer written.
const VERSION_2: u16 = 2;
/// The record state byte of a pending renewal key (versions from 4).
const STATE_PENDING: u8 = 3;
/// The key field of a pending key-store key: handle, then public point.
const PENDING_HANDLE_LEN: usize = 4 + crate::hal::P256_PUBLIC_KEY_LEN;
const HEADER_LEN: usize = 24;
const TABLE_HEAD_LEN: usize = 20;
const RECORD_HEAD_LEN: usize = 18;
/// Version 2 records lack the intermediates length.
const RECORD_HEAD_LEN_V2: usize = 16;
const TRAILER_LEN: usize = 32;
/// Flash is read and written through a buffer of this size; WRITE_SIZE and READ_SIZE must
/// divide it.
const CHUNK: usize = 256;

/// Where the two image regions are. Both must be ERASE_SIZE-aligned, of the same
/// ERASE_SIZE-multiple size, disjoint and inside the flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FlashLayout {
    /// Offset of region A.
    pub region_a: u32,
    /// Offset of region B.
    pub region_b: u32,
    /// Size of each region in bytes.
    pub region_size: u32,
}

/// One of the two image regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Region {
    /// Region A.
    A,
    /// Region B.
    B,
}

/// What a region holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RegionStatus {
    /// Erased: never written (or erased and then interrupted before the header was written).
    Blank,
    /// Written but not a complete, intact image (an interrupted commit, or corruption).
    Invalid,
    /// A complete image with this sequence number.
    Valid {
        /// The image sequence number (higher is newer).
        sequence: u64,
    },
}

/// Which image [`SlotTable::load`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LoadReport {
    /// The newest valid image was loaded; `other` is what the other region holds (`Invalid`
    /// there usually means a commit was interrupted and the previous table survived).
    Loaded {
        /// The region read.
        region: Region,
        /// Its sequence number.
        sequence: u64,
        /// The other region.
        other: RegionStatus,
    },
    /// No table has ever been committed completely: the table is empty.
    NoImage {
        /// Region A.
        a: RegionStatus,
        /// Region B.
        b: RegionStatus,
    },
}

/// A flash layout the driver cannot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LayoutError {
    /// An offset or the size is not a multiple of ERASE_SIZE (or READ_SIZE), or the size is 0.
    Misaligned,
    /// The regions overlap.
    Overlapping,
    /// A region extends past the flash capacity.
    OutOfBounds,
    /// WRITE_SIZE or READ_SIZE does not divide 256.
    UnsupportedFlash,
}

/// A flash driver error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FlashFault {
    /// The driver reported misalignment.
    NotAligned,
    /// The driver reported an out-of-bounds access.
    OutOfBounds,
    /// Any other driver failure.
    Other,
}

fn fault<E: NorFlashError>(e: E) -> FlashFault {
    match e.kind() {
        NorFlashErrorKind::NotAligned => FlashFault::NotAligned,
        NorFlashErrorKind::OutOfBounds => FlashFault::OutOfBounds,
        _ => FlashFault::Other,
    }
}

/// Why a commit failed. The next [`SlotTable::load`] returns the previous table, except after a
/// failure in the last step of a sequence restart (see [`SlotTable::commit`]), when the new
/// image was already complete and verified: then it may return the new one. Never anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CommitError {
    /// The layout is unusable.
    Layout(LayoutError),
    /// The image does not fit a region.
    ImageTooLarge {
        /// Image length (rounded up to WRITE_SIZE).
        len: usize,
        /// Region size.
        capacity: usize,
    },
    /// The flash driver failed.
    Flash(FlashFault),
    /// The image read back differs from what was written, or is not the one a load would pick.
    VerifyFailed,
}

/// Why no table could be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LoadError {
    /// The layout is unusable.
    Layout(LayoutError),
    /// The flash driver failed.
    Flash(FlashFault),
    /// Both regions hold data, and neither is a valid image (corruption).
    NoValidImage,
    /// The newest image is intact but has more slots or larger certificates than this table.
    ImageDoesNotFit,
    /// The newest image is intact but a record in it is not understood.
    BadRecord,
}

impl fmt::Display for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommitError::Layout(e) => write!(f, "certificate table not saved: {e}"),
            CommitError::ImageTooLarge { len, capacity } => write!(
                f,
                "certificate table not saved: image is {len} bytes, a region holds {capacity}"
            ),
            CommitError::Flash(e) => write!(f, "certificate table not saved: {e}"),
            CommitError::VerifyFailed => {
                f.write_str("certificate table not saved: flash read back differs")
            }
        }
    }
}

impl core::error::Error for CommitError {}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Layout(e) => write!(f, "certificate table not loaded: {e}"),
            LoadError::Flash(e) => write!(f, "certificate table not loaded: {e}"),
            LoadError::NoValidImage => f.write_str(
                "certificate table not loaded: both flash copies are corrupt; re-enroll",
            ),
            LoadError::ImageDoesNotFit => f.write_str(
                "certificate table not loaded: saved table is larger than this firmware's",
            ),
            LoadError::BadRecord => {
                f.write_str("certificate table not loaded: saved table has an unknown record")
            }
        }
    }
}

impl core::error::Error for LoadError {}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LayoutError::Misaligned => "flash regions are not erase-sector aligned",
            LayoutError::Overlapping => "flash regions overlap",
            LayoutError::OutOfBounds => "flash regions extend past the flash",
            LayoutError::UnsupportedFlash => "flash write/read size does not divide 256",
        })
    }
}

impl core::error::Error for LayoutError {}

impl fmt::Display for FlashFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlashFault::NotAligned => "flash driver reported misalignment",
            FlashFault::OutOfBounds => "flash driver reported out of bounds",
            FlashFault::Other => "flash driver error",
        })
    }
}

impl core::error::Error for FlashFault {}

impl FlashLayout {
    fn check<F: NorFlash>(&self, flash: &F) -> Result<(), LayoutError> {
        let (w, r, e) = (F::WRITE_SIZE, F::READ_SIZE, F::ERASE_SIZE);
        // checked_rem is None for a zero size, which is as unsupported as one not dividing CHUNK.
        if e == 0 || CHUNK.checked_rem(w) != Some(0) || CHUNK.checked_rem(r) != Some(0) {
            return Err(LayoutError::UnsupportedFlash);
        }
        let aligned = |v: u32| {
            let v = v as usize;
            v.checked_rem(e) == Some(0) && v.checked_rem(r) == Some(0)
        };
        let size = self.region_size;
        if size == 0 || !aligned(size) || !aligned(self.region_a) || !aligned(self.region_b) {
            return Err(LayoutError::Misaligned);
        }
        let end_a = self.region_a.checked_add(size);
        let end_b = self.region_b.checked_add(size);
        let (Some(end_a), Some(end_b)) = (end_a, end_b) else {
            return Err(LayoutError::OutOfBounds);
        };
        if end_a as usize > flash.capacity() || end_b as usize > flash.capacity() {
            return Err(LayoutError::OutOfBounds);
        }
        if self.region_a < end_b && self.region_b < end_a {
            return Err(LayoutError::Overlapping);
        }
        Ok(())
    }

    fn base(&self, region: Region) -> u32 {
        match region {
            Region::A => self.region_a,
            Region::B => self.region_b,
        }
    }
}

impl Region {
    fn other(self) -> Region {
        match self {
            Region::A => Region::B,
            Region::B => Region::A,
        }
    }
}

/// The region [`SlotTable::load`] reads: the valid image with the higher sequence number, A on
/// a tie. `commit` writes to the other region, so the image a load returns is never the one a
/// commit erases; both use this one rule so that they cannot disagree.
fn newest(a: RegionStatus, b: RegionStatus) -> Option<(Region, u64)> {
    match (a, b) {
        (RegionStatus::Valid { sequence: sa }, RegionStatus::Valid { sequence: sb }) => {
            Some(if sa >= sb {
                (Region::A, sa)
            } else {
                (Region::B, sb)
            })
        }
        (RegionStatus::Valid { sequence }, _) => Some((Region::A, sequence)),
        (_, RegionStatus::Valid { sequence }) => Some((Region::B, sequence)),
        _ => None,
    }
}

enum ReadError {
    Flash(FlashFault),
    /// The image claims more bytes than the region has.
    PastEnd,
}

/// Sequential reads from one region through an aligned cache, hashing what it returns.
struct FlashReader<'f, F: NorFlash> {
    flash: &'f mut F,
    start: u32,
    end: u32,
    pos: u32,
    cache: [u8; CHUNK],
    cache_at: u32,
    cache_len: usize,
    hasher: Sha256,
}

impl<'f, F: NorFlash> FlashReader<'f, F> {
    fn new(flash: &'f mut F, start: u32, size: u32) -> Self {
        FlashReader {
            flash,
            start,
            end: start.saturating_add(size),
            pos: start,
            cache: [0; CHUNK],
            cache_at: start,
            cache_len: 0,
            hasher: Sha256::new(),
        }
    }

    fn refill(&mut self) -> Result<(), ReadError> {
        if self.pos >= self.end {
            return Err(ReadError::PastEnd);
        }
        // CHUNK-aligned within the region; the region start is READ_SIZE-aligned, CHUNK and the
        // region size are multiples of READ_SIZE, so every read is aligned.
        // `start <= pos < end` holds (pos starts at start and only advances), so none of these
        // checks fails; they keep a broken invariant a typed error instead of a wrap.
        let chunk = CHUNK as u32;
        let block = self
            .pos
            .checked_sub(self.start)
            .and_then(|into| into.checked_div(chunk))
            .and_then(|blocks| blocks.checked_mul(chunk))
            .and_then(|off| self.start.checked_add(off))
            .ok_or(ReadError::PastEnd)?;
        let left = self.end.checked_sub(block).ok_or(ReadError::PastEnd)?;
        let len = CHUNK.min(left as usize);
        let buf = self.cache.get_mut(..len).ok_or(ReadError::PastEnd)?;
        self.flash
            .read(block, buf)
            .map_err(|e| ReadError::Flash(fault(e)))?;
        self.cache_at = block;
        self.cache_len = len;
        Ok(())
    }

    fn read_unhashed(&mut self, out: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0;
        while done < out.len() {
            let cached = self
                .pos
                .checked_sub(self.cache_at)
                .is_some_and(|off| (off as usize) < self.cache_len);
            if !cached {
                self.refill()?;
            }
            let off = self
                .pos
                .checked_sub(self.cache_at)
                .ok_or(ReadError::PastEnd)? as usize;
            let src = self
                .cache
                .get(off..self.cache_len)
                .ok_or(ReadError::PastEnd)?;
            let dst = out.get_mut(done..).ok_or(ReadError::PastEnd)?;
            let n = src.len().min(dst.len());
            dst.get_mut(..n)
                .ok_or(ReadError::PastEnd)?
                .copy_from_slice(src.get(..n).ok_or(ReadError::PastEnd)?);
            // n <= CHUNK and pos + n stays within the region (the cache never extends past end).
            done = done.checked_add(n).ok_or(ReadError::PastEnd)?;
            self.pos = u32::try_from(n)
                .ok()
                .and_then(|n| self.pos.checked_add(n))
                .ok_or(ReadError::PastEnd)?;
        }
        Ok(())
    }

    fn read(&mut self, out: &mut [u8]) -> Result<(), ReadError> {
        self.read_unhashed(out)?;
        self.hasher.update(&*out);
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let mut a = [0u8; N];
        self.read(&mut a)?;
        Ok(a)
    }

    fn u16(&mut self) -> Result<u16, ReadError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, ReadError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Read the trailer and compare it with the hash of everything read so far.
    fn checksum_matches(&mut self) -> Result<bool, ReadError> {
        let mut trailer = [0u8; TRAILER_LEN];
        self.read_unhashed(&mut trailer)?;
        let digest = self.hasher.finalize_reset();
        let digest: &[u8] = digest.as_ref();
        Ok(digest == trailer)
    }

    /// Bytes read since the region start.
    fn offset(&self) -> usize {
        // pos starts at start and only advances, so this never saturates.
        self.pos.saturating_sub(self.start) as usize
    }
}

impl<F: NorFlash> Drop for FlashReader<'_, F> {
    fn drop(&mut self) {
        // The cache may hold inline key bytes.
        self.cache.zeroize();
    }
}

struct Header {
    version: u16,
    sequence: u64,
    payload_len: usize,
}

fn parse_header(bytes: &[u8; HEADER_LEN], region_size: u32) -> Option<Header> {
    let field = |range: core::ops::Range<usize>| bytes.get(range);
    if field(0..4)? != MAGIC {
        return None;
    }
    let version = u16::from_le_bytes(field(4..6)?.try_into().ok()?);
    if version != VERSION && version != VERSION_3 && version != VERSION_2 {
        return None;
    }
    let sequence = u64::from_le_bytes(field(8..16)?.try_into().ok()?);
    let payload_len = u32::from_le_bytes(field(16..20)?.try_into().ok()?) as usize;
    let room = (region_size as usize).checked_sub(HEADER_LEN + TRAILER_LEN)?;
    (payload_len <= room).then_some(Header {
        version,
        sequence,
        payload_len,
    })
}

/// Classify a region by reading it whole and checking its checksum.
fn probe<F: NorFlash>(flash: &mut F, start: u32, size: u32) -> Result<RegionStatus, FlashFault> {
    let mut r = FlashReader::new(flash, start, size);
    let status = (|| {
        let header = r.array::<HEADER_LEN>()?;
        if header.iter().all(|b| *b == 0xFF) {
            return Ok(RegionStatus::Blank);
        }
        let Some(h) = parse_header(&header, size) else {
            return Ok(RegionStatus::Invalid);
        };
        let mut left = h.payload_len;
        let mut piece = [0u8; 64];
        while left > 0 {
            let n = left.min(piece.len());
            r.read(piece.get_mut(..n).ok_or(ReadError::PastEnd)?)?;
            left = left.saturating_sub(n); // n <= left: exact
        }
        piece.zeroize();
        Ok(if r.checksum_matches()? {
            RegionStatus::Valid {
                sequence: h.sequence,
            }
        } else {
            RegionStatus::Invalid
        })
    })();
    match status {
        Ok(s) => Ok(s),
        Err(ReadError::PastEnd) => Ok(RegionStatus::Invalid),
        Err(ReadError::Flash(f)) => Err(f),
    }
}

/// Sequential writes into an erased region through a CHUNK buffer, hashing what it is given.
struct FlashWriter<'f, F: NorFlash> {
    flash: &'f mut F,
    pos: u32,
    buf: [u8; CHUNK],
    fill: usize,
    hasher: Sha256,
}

impl<'f, F: NorFlash> FlashWriter<'f, F> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), FlashFault> {
        self.hasher.update(bytes);
        self.put_unhashed(bytes)
    }

    fn put_unhashed(&mut self, mut bytes: &[u8]) -> Result<(), FlashFault> {
        while !bytes.is_empty() {
            let space = self.buf.get_mut(self.fill..).ok_or(FlashFault::Other)?;
            let n = space.len().min(bytes.len());
            let (now, rest) = bytes.split_at(n);
            space
                .get_mut(..n)
                .ok_or(FlashFault::Other)?
                .copy_from_slice(now);
            // fill + n <= CHUNK: n is at most the space left in the buffer.
            self.fill = self.fill.saturating_add(n);
            bytes = rest;
            if self.fill == CHUNK {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Write the buffer, padded with erased bytes to a WRITE_SIZE multiple.
    fn flush(&mut self) -> Result<(), FlashFault> {
        if self.fill == 0 {
            return Ok(());
        }
        // fill <= CHUNK and WRITE_SIZE divides CHUNK (layout check), so len <= CHUNK.
        let len = self
            .fill
            .checked_next_multiple_of(F::WRITE_SIZE)
            .ok_or(FlashFault::Other)?;
        let chunk = self.buf.get_mut(..len).ok_or(FlashFault::Other)?;
        if let Some(pad) = chunk.get_mut(self.fill..) {
            pad.fill(0xFF);
        }
        self.flash.write(self.pos, chunk).map_err(fault)?;
        self.pos = u32::try_from(len)
            .ok()
            .and_then(|len| self.pos.checked_add(len))
            .ok_or(FlashFault::OutOfBounds)?;
        self.fill = 0;
        Ok(())
    }

    fn finish(mut self) -> Result<(), FlashFault> {
        let digest = self.hasher.finalize_reset();
        self.put_unhashed(&digest)?;
        self.flush()
    }
}

impl<F: NorFlash> Drop for FlashWriter<'_, F> {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

const KIND_P256: u8 = 1;
const KIND_HANDLE: u8 = 2;
const KIND_P384: u8 = 3;
const KIND_RSA: u8 = 4;

/// A key's record kind and its stored bytes (zeroized when dropped). `None` only for a key
/// whose form cannot be stored, which construction rules out.
fn stored_key(key: &KeyRef) -> Option<(u8, StoredKey)> {
    match key {
        KeyRef::Inline(k) => {
            let kind = match k.algorithm() {
                KeyAlgorithm::P256 => KIND_P256,
                KeyAlgorithm::P384 => KIND_P384,
                KeyAlgorithm::Rsa => KIND_RSA,
                _ => return None,
            };
            Some((kind, k.stored_bytes()?))
        }
        KeyRef::Handle(h) => {
            let mut bytes = StoredKey::new();
            bytes.extend_from_slice(&h.to_le_bytes())?;
            Some((KIND_HANDLE, bytes))
        }
    }
}

fn stored_key_len(key: &KeyRef) -> usize {
    stored_key(key).map_or(0, |(_, b)| b.as_slice().len())
}

impl<const SLOTS: usize, const CERT_MAX: usize> SlotTable<SLOTS, CERT_MAX> {
    /// The largest image this table type can produce; size the regions at least this big
    /// (rounded up to ERASE_SIZE).
    pub const fn max_image_len() -> usize {
        // Saturating: a table type too large to count is also too large for any region.
        let slot = STORED_KEY_MAX.saturating_add(CERT_MAX);
        // A pending key-store key's record has no certificate but a longer key field.
        let body = if slot > PENDING_HANDLE_LEN {
            slot
        } else {
            PENDING_HANDLE_LEN
        };
        let record = RECORD_HEAD_LEN.saturating_add(body);
        HEADER_LEN
            .saturating_add(TABLE_HEAD_LEN)
            .saturating_add(SLOTS.saturating_mul(record))
            .saturating_add(TRAILER_LEN)
    }

    fn payload_len(&self, version: u16) -> usize {
        let head = if version == VERSION_2 {
            RECORD_HEAD_LEN_V2
        } else {
            RECORD_HEAD_LEN
        };
        // Each record is bounded by the table's const parameters; saturating keeps an
        // impossible sum too large for any region (commit then refuses it).
        let pending = self.pending.as_ref().map_or(0, |p| {
            head.saturating_add(match &p.key {
                PendingKey::Inline(k) => k.stored_bytes().map_or(0, |b| b.as_slice().len()),
                PendingKey::Handle { .. } => PENDING_HANDLE_LEN,
            })
        });
        self.slots
            .iter()
            .flatten()
            .map(|o| {
                head.saturating_add(stored_key_len(&o.key))
                    .saturating_add(o.der.len())
            })
            .fold(TABLE_HEAD_LEN, usize::saturating_add)
            .saturating_add(pending)
    }

    /// Write the table durably: erase the region that does not hold the newest valid image,
    /// write the new image there with a higher sequence number, and read it back. Until the
    /// last byte is written the previous image stays the newest valid one. Success means the
    /// next [`Self::load`] returns this table: after writing, both regions are probed again and
    /// the new image must be the one the load rule picks.
    ///
    /// When the newest image's sequence number is `u64::MAX` (never reached by counting; only a
    /// crafted or corrupted flash holds it) the number cannot advance, so the commit restarts
    /// it: the new image is written with sequence 1 (the old one still wins a load meanwhile),
    /// verified, and only then is the old region erased, which makes the new image the only
    /// valid one. A power cut at any point still leaves the old or the new table. Restarting,
    /// rather than refusing with an error, keeps such a device able to save its table.
    pub fn commit<F: NorFlash>(
        &self,
        flash: &mut F,
        layout: &FlashLayout,
    ) -> Result<Region, CommitError> {
        self.commit_version(flash, layout, VERSION)
    }

    /// [`Self::commit`] writing image `version` (tests write version 2 to check it is read).
    fn commit_version<F: NorFlash>(
        &self,
        flash: &mut F,
        layout: &FlashLayout,
        version: u16,
    ) -> Result<Region, CommitError> {
        layout.check(flash).map_err(CommitError::Layout)?;
        let payload_len = self.payload_len(version);
        let image_len = HEADER_LEN
            .saturating_add(payload_len)
            .saturating_add(TRAILER_LEN);
        // WRITE_SIZE is non-zero (layout check); an overflow means too large for any region.
        let padded = image_len
            .checked_next_multiple_of(F::WRITE_SIZE)
            .unwrap_or(usize::MAX);
        let capacity = layout.region_size as usize;
        if padded > capacity {
            return Err(CommitError::ImageTooLarge {
                len: padded,
                capacity,
            });
        }
        let size = layout.region_size;
        let a = probe(flash, layout.region_a, size).map_err(CommitError::Flash)?;
        let b = probe(flash, layout.region_b, size).map_err(CommitError::Flash)?;
        // With no valid image anywhere, always start in A: region B then stays blank until A
        // has held a complete image, which lets `load` tell "never committed" from corruption.
        let (target, sequence, restart) = match newest(a, b) {
            None => (Region::A, 1, false),
            Some((region, previous)) => match previous.checked_add(1) {
                Some(next) => (region.other(), next, false),
                None => (region.other(), 1, true),
            },
        };
        let base = layout.base(target);
        // The layout check proved base + size fits in u32 for both regions.
        let end = base
            .checked_add(size)
            .ok_or(CommitError::Layout(LayoutError::OutOfBounds))?;
        flash
            .erase(base, end)
            .map_err(|e| CommitError::Flash(fault(e)))?;
        self.write_image(flash, base, sequence, payload_len, version)
            .map_err(CommitError::Flash)?;
        match probe(flash, base, size).map_err(CommitError::Flash)? {
            RegionStatus::Valid { sequence: s } if s == sequence => {}
            _ => return Err(CommitError::VerifyFailed),
        }
        let other = layout.base(target.other());
        if restart {
            let end = other
                .checked_add(size)
                .ok_or(CommitError::Layout(LayoutError::OutOfBounds))?;
            flash
                .erase(other, end)
                .map_err(|e| CommitError::Flash(fault(e)))?;
        }
        let written = RegionStatus::Valid { sequence };
        let other_status = probe(flash, other, size).map_err(CommitError::Flash)?;
        let picked = match target {
            Region::A => newest(written, other_status),
            Region::B => newest(other_status, written),
        };
        if picked == Some((target, sequence)) {
            Ok(target)
        } else {
            Err(CommitError::VerifyFailed)
        }
    }

    fn write_image<F: NorFlash>(
        &self,
        flash: &mut F,
        base: u32,
        sequence: u64,
        payload_len: usize,
        version: u16,
    ) -> Result<(), FlashFault> {
        let mut w = FlashWriter {
            flash,
            pos: base,
            buf: [0; CHUNK],
            fill: 0,
            hasher: Sha256::new(),
        };
        let payload_len = u32::try_from(payload_len).map_err(|_| FlashFault::OutOfBounds)?;
        w.put(&MAGIC)?;
        w.put(&version.to_le_bytes())?;
        w.put(&[0; 2])?;
        w.put(&sequence.to_le_bytes())?;
        w.put(&payload_len.to_le_bytes())?;
        w.put(&[0; 4])?;
        w.put(&self.time_floor.to_le_bytes())?;
        w.put(&self.next_enrollment.to_le_bytes())?;
        if version != VERSION && self.pending.is_some() {
            return Err(FlashFault::OutOfBounds);
        }
        let count = self
            .slots
            .iter()
            .flatten()
            .count()
            .saturating_add(usize::from(self.pending.is_some()));
        let count = u16::try_from(count).map_err(|_| FlashFault::OutOfBounds)?;
        w.put(&count.to_le_bytes())?;
        w.put(&[0; 2])?;
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(occ) = slot else { continue };
            let index = u16::try_from(i).map_err(|_| FlashFault::OutOfBounds)?;
            let leaf_len = occ.leaf().len();
            let cert_len = u16::try_from(leaf_len).map_err(|_| FlashFault::OutOfBounds)?;
            let chain_len = occ
                .der
                .len()
                .checked_sub(leaf_len)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or(FlashFault::OutOfBounds)?;
            if version == VERSION_2 && chain_len != 0 {
                return Err(FlashFault::OutOfBounds);
            }
            w.put(&index.to_le_bytes())?;
            w.put(&[match occ.state {
                Liveness::Active => 1,
                Liveness::Archived => 2,
            }])?;
            let (kind, key) = stored_key(&occ.key).ok_or(FlashFault::OutOfBounds)?;
            let key_len =
                u16::try_from(key.as_slice().len()).map_err(|_| FlashFault::OutOfBounds)?;
            w.put(&[kind])?;
            w.put(&occ.enrollment.to_le_bytes())?;
            w.put(&key_len.to_le_bytes())?;
            w.put(&cert_len.to_le_bytes())?;
            if version != VERSION_2 {
                w.put(&chain_len.to_le_bytes())?;
            }
            w.put(key.as_slice())?;
            w.put(&occ.der)?;
        }
        if let Some(p) = &self.pending {
            let index = u16::try_from(p.index).map_err(|_| FlashFault::OutOfBounds)?;
            let head = |w: &mut FlashWriter<'_, F>, kind: u8, key_len: usize| {
                let key_len = u16::try_from(key_len).map_err(|_| FlashFault::OutOfBounds)?;
                w.put(&index.to_le_bytes())?;
                w.put(&[STATE_PENDING, kind])?;
                w.put(&p.renews.to_le_bytes())?;
                w.put(&key_len.to_le_bytes())?;
                // No certificate and no intermediates yet.
                w.put(&[0; 4])
            };
            match &p.key {
                PendingKey::Inline(k) => {
                    let (kind, key) =
                        stored_key(&KeyRef::Inline(k.clone())).ok_or(FlashFault::OutOfBounds)?;
                    head(&mut w, kind, key.as_slice().len())?;
                    w.put(key.as_slice())?;
                }
                PendingKey::Handle { handle, public } => {
                    head(&mut w, KIND_HANDLE, PENDING_HANDLE_LEN)?;
                    w.put(&handle.to_le_bytes())?;
                    w.put(public)?;
                }
            }
        }
        w.finish()
    }

    /// Load the newest valid image. A blank device (or one whose very first commit was
    /// interrupted) gives an empty table and [`LoadReport::NoImage`]; the report always says
    /// which region was used and what the other one holds.
    pub fn load<F: NorFlash>(
        flash: &mut F,
        layout: &FlashLayout,
    ) -> Result<(Self, LoadReport), LoadError> {
        let mut table = Self::new();
        let report = table.load_into(flash, layout)?;
        Ok((table, report))
    }

    /// [`Self::load`] into this table, in place: no table-sized temporary on the stack (a
    /// table is its slots' certificates, several KB), for a device whose table lives in a
    /// `static`. Whatever the table held is dropped first (inline keys are zeroized); on
    /// success it holds the loaded table (empty on [`LoadReport::NoImage`]), on an error it is
    /// empty.
    pub fn load_into<F: NorFlash>(
        &mut self,
        flash: &mut F,
        layout: &FlashLayout,
    ) -> Result<LoadReport, LoadError> {
        self.clear();
        let report = self.load_in_place(flash, layout);
        if report.is_err() {
            self.clear();
        }
        report
    }

    /// Empties the table: every slot dropped, the counters as new.
    fn clear(&mut self) {
        for slot in self.slots.iter_mut() {
            *slot = None;
        }
        self.pending = None;
        self.next_enrollment = 1;
        self.time_floor = 0;
    }

    fn load_in_place<F: NorFlash>(
        &mut self,
        flash: &mut F,
        layout: &FlashLayout,
    ) -> Result<LoadReport, LoadError> {
        layout.check(flash).map_err(LoadError::Layout)?;
        let size = layout.region_size;
        let a = probe(flash, layout.region_a, size).map_err(LoadError::Flash)?;
        let b = probe(flash, layout.region_b, size).map_err(LoadError::Flash)?;
        let (region, sequence) = match newest(a, b) {
            Some(found) => found,
            // Commits start in A while nothing is valid, so a blank B means no commit has
            // ever completed; anything else is corruption, which must not pass for "empty".
            None if b == RegionStatus::Blank => return Ok(LoadReport::NoImage { a, b }),
            None => return Err(LoadError::NoValidImage),
        };
        let other = match region {
            Region::A => b,
            Region::B => a,
        };
        self.read_image(flash, layout.base(region), size)?;
        Ok(LoadReport::Loaded {
            region,
            sequence,
            other,
        })
    }

    /// Put a loaded pending key at `index`: one per table, its slot free.
    fn place_loaded_pending(
        &mut self,
        index: usize,
        key: PendingKey,
        renews: u64,
    ) -> Result<(), LoadError> {
        if index >= SLOTS {
            return Err(LoadError::ImageDoesNotFit);
        }
        if self.pending.is_some() || self.slots.get(index).is_some_and(Option::is_some) {
            return Err(LoadError::BadRecord);
        }
        self.pending = Some(Pending { index, key, renews });
        Ok(())
    }

    /// Reads the image at `base` into this (empty) table.
    fn read_image<F: NorFlash>(
        &mut self,
        flash: &mut F,
        base: u32,
        size: u32,
    ) -> Result<(), LoadError> {
        let mut r = FlashReader::new(flash, base, size);
        let read_err = |e: ReadError| match e {
            ReadError::Flash(f) => LoadError::Flash(f),
            ReadError::PastEnd => LoadError::BadRecord,
        };
        let header = r.array::<HEADER_LEN>().map_err(read_err)?;
        let h = parse_header(&header, size).ok_or(LoadError::BadRecord)?;
        let table = self;
        table.time_floor = r.u64().map_err(read_err)?;
        let next_enrollment = r.u64().map_err(read_err)?;
        let count = usize::from(r.u16().map_err(read_err)?);
        let _reserved = r.u16().map_err(read_err)?;
        if count > SLOTS {
            return Err(LoadError::ImageDoesNotFit);
        }
        let mut max_enrollment = 0;
        for _ in 0..count {
            let index = usize::from(r.u16().map_err(read_err)?);
            let [state, kind] = r.array::<2>().map_err(read_err)?;
            let enrollment = r.u64().map_err(read_err)?;
            let key_len = usize::from(r.u16().map_err(read_err)?);
            let cert_len = usize::from(r.u16().map_err(read_err)?);
            let chain_len = if h.version == VERSION_2 {
                0
            } else {
                usize::from(r.u16().map_err(read_err)?)
            };
            if state == STATE_PENDING && h.version == VERSION && kind == KIND_HANDLE {
                // A renewal key in the key store: its handle and public point.
                if key_len != PENDING_HANDLE_LEN || cert_len != 0 || chain_len != 0 {
                    return Err(LoadError::BadRecord);
                }
                let handle = u32::from_le_bytes(r.array::<4>().map_err(read_err)?);
                let public = r
                    .array::<{ crate::hal::P256_PUBLIC_KEY_LEN }>()
                    .map_err(read_err)?;
                if p256::PublicKey::from_sec1_bytes(&public).is_err() {
                    return Err(LoadError::BadRecord);
                }
                table.place_loaded_pending(
                    index,
                    PendingKey::Handle { handle, public },
                    enrollment,
                )?;
                continue;
            }
            if key_len > STORED_KEY_MAX {
                return Err(LoadError::BadRecord);
            }
            let mut stored = StoredKey::new();
            let buf = stored
                .buffer_mut()
                .get_mut(..key_len)
                .ok_or(LoadError::BadRecord)?;
            r.read(buf).map_err(read_err)?;
            stored.set_len(key_len).ok_or(LoadError::BadRecord)?;
            let key_bytes = stored.as_slice();
            let key = match kind {
                KIND_P256 => InlineKey::from_stored(KeyAlgorithm::P256, key_bytes)
                    .map(KeyRef::Inline)
                    .ok(),
                KIND_HANDLE => <[u8; 4]>::try_from(key_bytes)
                    .ok()
                    .map(|h| KeyRef::Handle(u32::from_le_bytes(h))),
                KIND_P384 => InlineKey::from_stored(KeyAlgorithm::P384, key_bytes)
                    .map(KeyRef::Inline)
                    .ok(),
                KIND_RSA => InlineKey::from_stored(KeyAlgorithm::Rsa, key_bytes)
                    .map(KeyRef::Inline)
                    .ok(),
                _ => None,
            };
            let key = key.ok_or(LoadError::BadRecord)?;
            if state == STATE_PENDING && h.version == VERSION {
                // A renewal key: inline, no certificate.
                let KeyRef::Inline(key) = key else {
                    return Err(LoadError::BadRecord);
                };
                if cert_len != 0 || chain_len != 0 {
                    return Err(LoadError::BadRecord);
                }
                table.place_loaded_pending(index, PendingKey::Inline(key), enrollment)?;
                continue;
            }
            let state = match state {
                1 => Liveness::Active,
                2 => Liveness::Archived,
                _ => return Err(LoadError::BadRecord),
            };
            let total = cert_len
                .checked_add(chain_len)
                .ok_or(LoadError::ImageDoesNotFit)?;
            if total > CERT_MAX {
                return Err(LoadError::ImageDoesNotFit);
            }
            let mut der = heapless::Vec::<u8, CERT_MAX>::new();
            der.resize(total, 0)
                .map_err(|_| LoadError::ImageDoesNotFit)?;
            r.read(&mut der).map_err(read_err)?;
            let leaf = der.get(..cert_len).ok_or(LoadError::BadRecord)?;
            let meta = meta::parse(leaf).map_err(|_| LoadError::BadRecord)?.meta;
            link_chain(&der, cert_len).map_err(|_| LoadError::BadRecord)?;
            let slot = table
                .slots
                .get_mut(index)
                .ok_or(LoadError::ImageDoesNotFit)?;
            if slot.is_some() || table.pending.as_ref().is_some_and(|p| p.index == index) {
                return Err(LoadError::BadRecord);
            }
            max_enrollment = max_enrollment.max(enrollment);
            *slot = Some(Occupied {
                state,
                der,
                key,
                enrollment,
                meta,
            });
        }
        if Some(r.offset()) != HEADER_LEN.checked_add(h.payload_len) {
            return Err(LoadError::BadRecord);
        }
        // The region was probed just before; a mismatch now means the flash changed under us.
        if !r.checksum_matches().map_err(read_err)? {
            return Err(LoadError::BadRecord);
        }
        table.next_enrollment = next_enrollment.max(max_enrollment.saturating_add(1));
        Ok(())
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
    use crate::certs::testutil::{CertSpec, MockFlash};
    use crate::certs::{SlotIndex, SlotState};
    use alloc::vec::Vec;

    type Table = SlotTable<4, 1024>;
    const LAYOUT: FlashLayout = FlashLayout {
        region_a: 0,
        region_b: 4096,
        region_size: 4096,
    };

    fn sample(names: &[&str]) -> Table {
        let mut t = Table::new();
        for (n, name) in names.iter().enumerate() {
            // Inline keys of every type the build holds, so the power-cut sweeps cover
            // records of every length.
            #[cfg(all(feature = "p384", feature = "rsa-sign"))]
            let c = CertSpec::new(name)
                .key_type({
                    use crate::certs::testutil::KeyType;
                    [KeyType::Rsa, KeyType::P256, KeyType::P384][n % 3]
                })
                .make();
            #[cfg(not(all(feature = "p384", feature = "rsa-sign")))]
            let c = CertSpec::new(name).make();
            let key = if n % 2 == 0 {
                c.key_ref()
            } else {
                KeyRef::Handle(0x1000 + n as u32)
            };
            t.install(&c.der, key).unwrap();
        }
        // A slot with its intermediate, so the sweeps cover chain records too.
        let leaf = CertSpec::new("chained").via_intermediate().make();
        let int = crate::certs::testutil::intermediate_der();
        t.install_chain(&leaf.der, &[&int], leaf.key_ref()).unwrap();
        t.observe_time(1_900_000_000);
        t
    }

    #[test]
    #[cfg(all(feature = "p384", feature = "rsa-sign"))]
    fn every_inline_key_type_round_trips_through_flash() {
        use crate::certs::testutil::KeyType;
        use crate::certs::KeyAlgorithm;
        type Big = SlotTable<4, 1024>;
        let mut t = Big::new();
        let mut keys = Vec::new();
        for (n, k) in KeyType::ALL.into_iter().enumerate() {
            let c = CertSpec::new(&alloc::format!("dev-{n}")).key_type(k).make();
            let key = c.key_ref();
            keys.push(key.clone());
            t.install(&c.der, key).unwrap();
        }
        // The 4096-bit key needs no certificate of its own to exercise the longest record.
        let rsa4096 = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/rsa4096-key.pkcs8.der"
        ));
        let big = InlineKey::from_pkcs8_der(rsa4096).unwrap();
        assert_eq!(big.stored_bytes().unwrap().as_slice().len(), STORED_KEY_MAX);
        t.insert_raw(
            3,
            &CertSpec::new("x").rsa().make().der,
            KeyRef::Inline(big.clone()),
            crate::certs::SlotState::Archived,
            9,
        );
        let layout = FlashLayout {
            region_a: 0,
            region_b: 8192,
            region_size: 8192,
        };
        let mut flash = MockFlash::<4>::new(16384);
        t.commit(&mut flash, &layout).unwrap();
        let (loaded, _) = Big::load(&mut flash, &layout).unwrap();
        assert_eq!(loaded, t);
        let algs: Vec<_> = (0..4)
            .map(|i| match loaded.slots[i].as_ref().unwrap().key {
                KeyRef::Inline(ref k) => k.algorithm(),
                KeyRef::Handle(_) => KeyAlgorithm::Other,
            })
            .collect();
        assert_eq!(
            algs,
            [
                KeyAlgorithm::P256,
                KeyAlgorithm::P384,
                KeyAlgorithm::Rsa,
                KeyAlgorithm::Rsa
            ]
        );
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(&loaded.slots[i].as_ref().unwrap().key, k);
        }
        assert_eq!(loaded.slots[3].as_ref().unwrap().key, KeyRef::Inline(big));
        assert!(Big::max_image_len() <= 8192);
    }

    #[test]
    fn chain_round_trips_and_corrupt_chain_is_refused() {
        use crate::certs::testutil::intermediate_der;
        let t = sample(&["a"]);
        let chained = t.list().find(|s| s.intermediates().count() == 1).unwrap();
        let int = intermediate_der();
        assert_eq!(chained.intermediates().next().unwrap(), int.as_slice());
        let mut flash = MockFlash::<4>::new(8192);
        t.commit(&mut flash, &LAYOUT).unwrap();
        let (loaded, _) = Table::load(&mut flash, &LAYOUT).unwrap();
        assert_eq!(loaded, t);
        let slot = loaded.get(chained.index()).unwrap();
        assert_eq!(slot.intermediates().collect::<Vec<_>>(), [int.as_slice()]);
        assert_eq!(slot.der(), chained.der());

        // A record whose chain does not link (here: the intermediate's subject altered, with
        // the checksum made valid again) is refused at load, not trusted.
        let mut bad = t.clone();
        let occ = bad
            .slots
            .iter_mut()
            .flatten()
            .find(|o| !o.chain().is_empty());
        let occ = occ.unwrap();
        let at = occ.der.len() - int.len();
        let cn = occ.der[at..]
            .windows(b"Test Issuing CA".len())
            .position(|w| w == b"Test Issuing CA")
            .unwrap();
        // Two occurrences (issuer is "Test CA 0"): the first is the subject's CN.
        occ.der[at + cn] ^= 0x20;
        let mut flash = MockFlash::<4>::new(8192);
        let base = LAYOUT.base(Region::A);
        bad.write_image(&mut flash, base, 1, bad.payload_len(VERSION), VERSION)
            .unwrap();
        assert_eq!(Table::load(&mut flash, &LAYOUT), Err(LoadError::BadRecord));
    }

    #[test]
    fn version_2_image_still_loads() {
        let t = sample(&["a", "b", "a"]);
        let mut v2 = t.clone();
        // Version 2 cannot hold chains.
        for s in v2.slots.iter_mut() {
            if s.as_ref().is_some_and(|o| !o.chain().is_empty()) {
                *s = None;
            }
        }
        let mut flash = MockFlash::<4>::new(8192);
        assert_eq!(
            t.commit_version(&mut flash, &LAYOUT, VERSION_2),
            Err(CommitError::Flash(FlashFault::OutOfBounds))
        );
        let mut flash = MockFlash::<4>::new(8192);
        v2.commit_version(&mut flash, &LAYOUT, VERSION_2).unwrap();
        assert_eq!(&flash.mem[4..6], &2u16.to_le_bytes());
        let (loaded, _) = Table::load(&mut flash, &LAYOUT).unwrap();
        assert_eq!(loaded, v2);
        // The next commit writes the current version (4) over it.
        loaded.commit(&mut flash, &LAYOUT).unwrap();
        let (again, _) = Table::load(&mut flash, &LAYOUT).unwrap();
        assert_eq!(again, v2);
        assert_eq!(&flash.mem[4096 + 4..4096 + 6], &VERSION.to_le_bytes());
    }

    #[test]
    fn load_into_replaces_what_the_table_held_and_leaves_it_empty_on_error() {
        let saved = sample(&["a", "b"]);
        let mut flash = MockFlash::<4>::new(8192);
        saved.commit(&mut flash, &LAYOUT).unwrap();
        // A table holding something else (other slots, a higher floor) takes the image whole.
        let mut t = sample(&["c"]);
        t.observe_time(u64::from(u32::MAX));
        let report = t.load_into(&mut flash, &LAYOUT).unwrap();
        assert_eq!(t, saved);
        assert!(matches!(report, LoadReport::Loaded { sequence: 1, .. }));
        // A blank flash: empty, as `load` says.
        let mut t = sample(&["c"]);
        let report = t
            .load_into(&mut MockFlash::<4>::new(8192), &LAYOUT)
            .unwrap();
        assert_eq!(t, Table::new());
        assert!(matches!(report, LoadReport::NoImage { .. }));
        // Corruption in both regions: an error, and nothing of the old table is left.
        let mut junk = MockFlash::<4>::new(8192);
        saved.commit(&mut junk, &LAYOUT).unwrap();
        saved.commit(&mut junk, &LAYOUT).unwrap();
        junk.mem[40] ^= 1;
        junk.mem[4096 + 40] ^= 1;
        let mut t = sample(&["c"]);
        assert_eq!(
            t.load_into(&mut junk, &LAYOUT),
            Err(LoadError::NoValidImage)
        );
        assert_eq!(t, Table::new());
    }

    #[test]
    fn commit_and_load_round_trip_alternating_regions() {
        let mut flash = MockFlash::<4>::new(8192);
        let (empty, report) = Table::load(&mut flash, &LAYOUT).unwrap();
        assert_eq!(empty, Table::new());
        assert_eq!(
            report,
            LoadReport::NoImage {
                a: RegionStatus::Blank,
                b: RegionStatus::Blank
            }
        );

        let mut t = sample(&["a", "b", "a"]);
        assert_eq!(t.state(SlotIndex::new(0)), Some(SlotState::Archived));
        assert_eq!(t.commit(&mut flash, &LAYOUT), Ok(Region::A));
        let (loaded, report) = Table::load(&mut flash, &LAYOUT).unwrap();
        assert_eq!(loaded, t);
        assert_eq!(
            report,
            LoadReport::Loaded {
                region: Region::A,
                sequence: 1,
                other: RegionStatus::Blank
            }
        );
        t.purge_archived();
        assert_eq!(t.commit(&mut flash, &LAYOUT), Ok(Region::B));
        assert_eq!(t.commit(&mut flash, &LAYOUT), Ok(Region::A));
        let (loaded, report) = Table::load(&mut flash, &LAYOUT).unwrap();
        assert_eq!(loaded, t);
        assert_eq!(
            report,
            LoadReport::Loaded {
                region: Region::A,
                sequence: 3,
                other: RegionStatus::Valid { sequence: 2 }
            }
        );
        assert!(!flash.wrote_unerased);
    }

    /// Cut the power after every erase page and write unit of one commit; the table that loads
    /// is always the old one until the last unit is written, then the new one.
    fn power_cut_sweep<const W: usize>(mut base: MockFlash<W>, old: &Table, new: &Table) {
        let mut probe = base.clone();
        probe.units = 0;
        new.commit(&mut probe, &LAYOUT).unwrap();
        let total = probe.units;
        assert!(total > 100, "{total}");
        base.units = 0;
        for cut in 0..=total {
            let mut flash = base.clone();
            flash.budget = Some(cut);
            let result = new.commit(&mut flash, &LAYOUT);
            assert_eq!(result.is_ok(), cut == total, "cut {cut}");
            flash.budget = None;
            let (loaded, _) = Table::load(&mut flash, &LAYOUT).unwrap();
            let expected = if cut == total { new } else { old };
            assert!(&loaded == expected, "cut after {cut} of {total} units");
            // The device recovers: the next commit succeeds and wins.
            new.commit(&mut flash, &LAYOUT).unwrap();
            assert_eq!(&Table::load(&mut flash, &LAYOUT).unwrap().0, new);
            assert!(!flash.wrote_unerased, "cut {cut}");
        }
    }

    fn power_cut_scenarios<const W: usize>() {
        let older = sample(&["a"]);
        let old = sample(&["a", "b"]);
        let new = sample(&["a", "b", "a"]);
        // The very first commit on a blank device: the old table is the empty one.
        power_cut_sweep(MockFlash::<W>::new(8192), &Table::new(), &new);
        // Both regions hold images; the commit overwrites the older one (A).
        let mut flash = MockFlash::<W>::new(8192);
        older.commit(&mut flash, &LAYOUT).unwrap();
        old.commit(&mut flash, &LAYOUT).unwrap();
        power_cut_sweep(flash, &old, &new);
    }

    /// A table whose "a" certificate is being renewed: the pending key, and the certificate
    /// the CA issued for it.
    fn renewing() -> (Table, Vec<u8>) {
        let mut t = sample(&["a", "b"]);
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let key = InlineKey::from_pkcs8_der(&kp.serialize_der()).unwrap();
        let of = t
            .list()
            .find(|s| s.subject().common_name() == Some("a"))
            .unwrap()
            .index();
        t.start_renewal_with_key(of, key).unwrap();
        let issued = CertSpec::new("a").with_key(&kp.serialize_der()).make();
        (t, issued.der)
    }

    /// [`renewing`] with the pending key in a key store (handle 42; its public key is the
    /// P-256 generator, which `insert_raw` gives a pending handle).
    fn renewing_in_store() -> (Table, Vec<u8>) {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let mut t = sample(&["a", "b"]);
        let of = t
            .list()
            .find(|s| s.subject().common_name() == Some("a"))
            .unwrap();
        let (of, renews) = (of.index(), of.enrollment());
        let free = (0..4).find(|&i| t.state(SlotIndex::new(i)) == Some(SlotState::Empty));
        t.insert_raw(
            free.unwrap(),
            &[],
            KeyRef::Handle(42),
            SlotState::Pending,
            renews,
        );
        assert_eq!(t.pending().unwrap().renews, Some(of));
        let g = p256::AffinePoint::GENERATOR.to_encoded_point(false);
        let issued = CertSpec::new("a").with_public_point(g.as_bytes()).make();
        (t, issued.der)
    }

    #[test]
    fn pending_key_store_key_round_trips_by_handle_and_public_key() {
        let (t, issued) = renewing_in_store();
        let mut flash = MockFlash::<4>::new(8192);
        t.commit(&mut flash, &LAYOUT).unwrap();
        let (loaded, _) = Table::load(&mut flash, &LAYOUT).unwrap();
        assert_eq!(loaded, t);
        assert_eq!(
            loaded.pending().unwrap().key,
            crate::certs::KeyKind::Handle(42)
        );
        let mut done = loaded;
        let i = done.install_renewal(&issued, &[]).unwrap();
        assert_eq!(
            done.get(i).unwrap().key_kind(),
            crate::certs::KeyKind::Handle(42)
        );
        // A point that is not on the curve is refused at load, not trusted.
        let mut bad = MockFlash::<4>::new(8192);
        t.commit(&mut bad, &LAYOUT).unwrap();
        let len = HEADER_LEN + t.payload_len(VERSION);
        let at = len - 1;
        bad.mem[at] ^= 1;
        let digest = Sha256::digest(&bad.mem[..len]);
        bad.mem[len..len + 32].copy_from_slice(&digest);
        assert_eq!(Table::load(&mut bad, &LAYOUT), Err(LoadError::BadRecord));
    }

    #[test]
    fn pending_slot_round_trips_and_older_versions_cannot_hold_it() {
        let (t, issued) = renewing();
        let p = t.pending().unwrap();
        let mut flash = MockFlash::<4>::new(8192);
        t.commit(&mut flash, &LAYOUT).unwrap();
        assert_eq!(&flash.mem[4..6], &4u16.to_le_bytes());
        let (loaded, _) = Table::load(&mut flash, &LAYOUT).unwrap();
        assert_eq!(loaded, t);
        assert_eq!(loaded.pending(), Some(p));
        assert_eq!(loaded.state(p.index), Some(SlotState::Pending));
        // The loaded key is the one the request was made for: the request is the same, and the
        // issued certificate installs over it.
        assert_eq!(
            loaded.renewal_request().unwrap(),
            t.renewal_request().unwrap()
        );
        let mut done = loaded.clone();
        assert_eq!(done.install_renewal(&issued, &[]), Ok(p.index));
        // Version 3 has no pending records: writing one is refused, a version-3 image of a
        // table without one still loads.
        let mut v3 = MockFlash::<4>::new(8192);
        assert_eq!(
            t.commit_version(&mut v3, &LAYOUT, VERSION_3),
            Err(CommitError::Flash(FlashFault::OutOfBounds))
        );
        let mut v3 = MockFlash::<4>::new(8192);
        done.commit_version(&mut v3, &LAYOUT, VERSION_3).unwrap();
        assert_eq!(&v3.mem[4..6], &3u16.to_le_bytes());
        assert_eq!(Table::load(&mut v3, &LAYOUT).unwrap().0, done);
        // A version-3 image claiming a pending record is refused.
        let mut forged = MockFlash::<4>::new(8192);
        t.write_image(&mut forged, 0, 1, t.payload_len(VERSION), VERSION)
            .unwrap();
        forged.mem[4..6].copy_from_slice(&3u16.to_le_bytes());
        // Fix the checksum after the version change.
        let len = HEADER_LEN + t.payload_len(VERSION);
        let digest = Sha256::digest(&forged.mem[..len]);
        forged.mem[len..len + 32].copy_from_slice(&digest);
        assert_eq!(Table::load(&mut forged, &LAYOUT), Err(LoadError::BadRecord));
    }

    /// The renewal's two commits, power cut after every erase page and write unit: starting
    /// it (pending key saved) and installing the issued certificate (new certificate active,
    /// predecessor archived, pending gone). Each loads as the old or the new table, never a
    /// mix: never the new certificate with its predecessor still active, never a lost key.
    fn renewal_power_cuts<const W: usize>() {
        renewal_power_cuts_of::<W>(renewing());
        renewal_power_cuts_of::<W>(renewing_in_store());
    }

    fn renewal_power_cuts_of<const W: usize>((pending, issued): (Table, Vec<u8>)) {
        let mut before = pending.clone();
        before.abandon_renewal();
        let mut installed = pending.clone();
        installed.install_renewal(&issued, &[]).unwrap();
        assert_eq!(
            installed
                .list()
                .filter(|s| s.state() == SlotState::Archived)
                .count(),
            pending
                .list()
                .filter(|s| s.state() == SlotState::Archived)
                .count()
                + 1
        );
        let mut flash = MockFlash::<W>::new(8192);
        sample(&["a"]).commit(&mut flash, &LAYOUT).unwrap();
        before.commit(&mut flash, &LAYOUT).unwrap();
        power_cut_sweep(flash.clone(), &before, &pending);
        pending.commit(&mut flash, &LAYOUT).unwrap();
        power_cut_sweep(flash, &pending, &installed);
    }

    #[test]
    fn power_cut_at_every_write_unit_of_the_renewal_commits_write_size_4() {
        renewal_power_cuts::<4>();
    }

    #[test]
    fn power_cut_at_every_write_unit_of_the_renewal_commits_write_size_8() {
        renewal_power_cuts::<8>();
    }

    #[test]
    fn power_cut_at_every_write_unit_leaves_old_or_new_table_write_size_4() {
        power_cut_scenarios::<4>();
    }

    #[test]
    fn power_cut_at_every_write_unit_leaves_old_or_new_table_write_size_8() {
        power_cut_scenarios::<8>();
    }

    /// Put `table`'s image with a chosen sequence number into `region`, as a crafted or
    /// corrupted flash could hold it.
    fn plant<const W: usize>(flash: &mut MockFlash<W>, region: Region, table: &Table, seq: u64) {
        let base = LAYOUT.base(region);
        flash.erase(base, base + LAYOUT.region_size).unwrap();
        table
            .write_image(flash, base, seq, table.payload_len(VERSION), VERSION)
            .unwrap();
        assert_eq!(
            probe(flash, base, LAYOUT.region_size).unwrap(),
            RegionStatus::Valid { sequence: seq }
        );
    }

    /// Cut the power after every unit of one commit of `new` over `base` and check the load
    /// returns `old` or `new` (and `new` whenever the commit reported success), and that the
    /// device recovers: the next commit succeeds and is what loads.
    fn power_cut_sweep_old_or_new<const W: usize>(base: &MockFlash<W>, old: &Table, new: &Table) {
        assert_eq!(&Table::load(&mut base.clone(), &LAYOUT).unwrap().0, old);
        let mut probe_flash = base.clone();
        probe_flash.units = 0;
        new.commit(&mut probe_flash, &LAYOUT).unwrap();
        let total = probe_flash.units;
        let mut new_seen = false;
        for cut in 0..=total {
            let mut flash = base.clone();
            flash.units = 0;
            flash.budget = Some(cut);
            let result = new.commit(&mut flash, &LAYOUT);
            flash.budget = None;
            let (loaded, _) = Table::load(&mut flash, &LAYOUT).unwrap();
            assert!(
                &loaded == old || &loaded == new,
                "cut after {cut} of {total} units loaded a third table"
            );
            if result.is_ok() {
                assert!(
                    &loaded == new,
                    "cut {cut}: commit succeeded, old table loads"
                );
            }
            new_seen |= &loaded == new;
            new.commit(&mut flash, &LAYOUT).unwrap();
            assert_eq!(
                &Table::load(&mut flash, &LAYOUT).unwrap().0,
                new,
                "cut {cut}"
            );
            assert!(!flash.wrote_unerased, "cut {cut}");
        }
        assert!(new_seen);
    }

    /// Regression: with the newest image at sequence u64::MAX, `commit` used to saturate, write
    /// the new image with the same number into the other region, report success, and `load`
    /// then broke the tie for the old image: the committed table was silently lost.
    #[test]
    fn commit_over_sequence_u64_max_is_what_loads() {
        let old = sample(&["a"]);
        let new = sample(&["a", "b"]);
        let newer = sample(&["c"]);
        for (old_region, other) in [
            (Region::A, None),
            (Region::B, Some(7)),
            (Region::A, Some(u64::MAX)),
        ] {
            let mut flash = MockFlash::<4>::new(8192);
            if let Some(seq) = other {
                plant(&mut flash, old_region.other(), &sample(&["z"]), seq);
            }
            plant(&mut flash, old_region, &old, u64::MAX);
            let (loaded, _) = Table::load(&mut flash, &LAYOUT).unwrap();
            // With both at u64::MAX the tie goes to A, where `old` is in that case.
            assert!(loaded == old);
            let target = new.commit(&mut flash, &LAYOUT).unwrap();
            let (loaded, report) = Table::load(&mut flash, &LAYOUT).unwrap();
            assert!(
                loaded == new,
                "{old_region:?} {other:?}: the committed table was lost"
            );
            assert_eq!(
                report,
                LoadReport::Loaded {
                    region: target,
                    sequence: 1,
                    other: RegionStatus::Blank
                }
            );
            // Counting resumes from the restarted sequence.
            let next = newer.commit(&mut flash, &LAYOUT).unwrap();
            assert_eq!(next, target.other());
            let (loaded, report) = Table::load(&mut flash, &LAYOUT).unwrap();
            assert!(loaded == newer);
            assert!(matches!(report, LoadReport::Loaded { sequence: 2, .. }));
        }
    }

    #[test]
    fn power_cut_during_sequence_restart_leaves_old_or_new_table() {
        let old = sample(&["a", "b"]);
        let new = sample(&["a", "b", "a"]);
        let mut flash = MockFlash::<4>::new(8192);
        plant(&mut flash, Region::B, &sample(&["z"]), 41);
        plant(&mut flash, Region::A, &old, u64::MAX);
        power_cut_sweep_old_or_new(&flash, &old, &new);
        let mut flash = MockFlash::<8>::new(8192);
        plant(&mut flash, Region::B, &old, u64::MAX);
        power_cut_sweep_old_or_new(&flash, &old, &new);
    }

    /// Regression: two valid images with the same sequence number (only a crafted flash has
    /// them). `load` returns A's, and `commit` used to overwrite A too, so a power cut during
    /// that commit made B's table (never the loaded one) come back.
    #[test]
    fn equal_sequences_commit_never_erases_the_image_that_loads() {
        let in_a = sample(&["a"]);
        let in_b = sample(&["b", "c"]);
        let new = sample(&["a", "b", "a"]);
        let mut flash = MockFlash::<4>::new(8192);
        plant(&mut flash, Region::A, &in_a, 9);
        plant(&mut flash, Region::B, &in_b, 9);
        power_cut_sweep_old_or_new(&flash, &in_a, &new);
        assert_eq!(new.commit(&mut flash, &LAYOUT), Ok(Region::B));
    }

    #[test]
    fn corrupt_byte_in_newest_image_falls_back_to_older() {
        let old = sample(&["a"]);
        let new = sample(&["a", "b"]);
        let mut flash = MockFlash::<8>::new(8192);
        old.commit(&mut flash, &LAYOUT).unwrap();
        new.commit(&mut flash, &LAYOUT).unwrap();
        let image_len = HEADER_LEN + new.payload_len(VERSION) + TRAILER_LEN;
        let positions: Vec<usize> = (0..image_len).step_by(7).chain([image_len - 1]).collect();
        for pos in positions {
            let mut damaged = flash.clone();
            damaged.mem[4096 + pos] ^= 0x01;
            let (loaded, report) = Table::load(&mut damaged, &LAYOUT).unwrap();
            assert!(loaded == old, "byte {pos}");
            assert!(
                matches!(
                    report,
                    LoadReport::Loaded {
                        region: Region::A,
                        sequence: 1,
                        other: RegionStatus::Invalid
                    }
                ),
                "byte {pos}: {report:?}"
            );
        }
        // Both copies damaged: an error, never a silently empty table.
        flash.mem[100] ^= 0x01;
        flash.mem[4096 + 100] ^= 0x01;
        assert_eq!(
            Table::load(&mut flash, &LAYOUT),
            Err(LoadError::NoValidImage)
        );
    }

    #[test]
    fn bad_layouts_and_oversized_images_refused() {
        let t = sample(&["a", "b", "c"]);
        let mut flash = MockFlash::<4>::new(16384);
        for (layout, err) in [
            (
                FlashLayout {
                    region_a: 0,
                    region_b: 100,
                    region_size: 4096,
                },
                LayoutError::Misaligned,
            ),
            (
                FlashLayout {
                    region_a: 0,
                    region_b: 4096,
                    region_size: 8192,
                },
                LayoutError::Overlapping,
            ),
            (
                FlashLayout {
                    region_a: 0,
                    region_b: 12288,
                    region_size: 8192,
                },
                LayoutError::OutOfBounds,
            ),
        ] {
            assert_eq!(t.commit(&mut flash, &layout), Err(CommitError::Layout(err)));
            assert_eq!(
                Table::load(&mut flash, &layout),
                Err(LoadError::Layout(err))
            );
        }
        let mut big = SlotTable::<8, 2048>::new();
        for _ in 0..8 {
            let c = CertSpec::new("x").padding(1500).make();
            // Distinct identities would be needed to keep all active; archived is fine here.
            big.install(&c.der, c.key_ref()).unwrap();
        }
        assert!(matches!(
            big.commit(&mut flash, &LAYOUT),
            Err(CommitError::ImageTooLarge { capacity: 4096, .. })
        ));
        assert!(SlotTable::<8, 2048>::max_image_len() > 4096);
        // Nothing was written.
        assert!(flash.mem.iter().all(|b| *b == 0xFF));
    }

    #[test]
    fn image_from_a_larger_table_does_not_fit_a_smaller_one() {
        let mut flash = MockFlash::<4>::new(8192);
        sample(&["a", "b", "c"])
            .commit(&mut flash, &LAYOUT)
            .unwrap();
        assert_eq!(
            SlotTable::<2, 1024>::load(&mut flash, &LAYOUT),
            Err(LoadError::ImageDoesNotFit)
        );
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod power_cuts;
