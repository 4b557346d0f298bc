//! Shared pieces of the fuzz targets: an in-memory NOR flash that can lose power, a small
//! reader for the targets' structured inputs, and the input formats (encoders too, so that the
//! seed generator writes exactly what the targets read).

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use latchkey_core::certs::{FlashLayout, SlotTable};

/// The slot table the flash targets use: 2 slots of certificates up to 900 bytes, whose largest
/// image (1 972 bytes) fits one 2 KiB region.
pub type FuzzTable = SlotTable<2, 900>;

/// Two 2 KiB regions in a 4 KiB flash.
pub const LAYOUT: FlashLayout = FlashLayout {
    region_a: 0,
    region_b: 2048,
    region_size: 2048,
};

/// Bytes of flash the slot_flash input starts with.
pub const FLASH_LEN: usize = 4096;

/// The error of [`RamFlash`]: only out-of-range, misaligned and power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamFlashError(NorFlashErrorKind);

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        self.0
    }
}

/// NOR flash in RAM: erase sets 256-byte pages to 0xFF, a write ANDs bits in, 4 bytes a unit.
/// With `budget` set, the power fails after that many erase pages plus write units.
#[derive(Clone, Debug)]
pub struct RamFlash {
    /// The contents.
    pub mem: Vec<u8>,
    /// Erase pages and write units left before the power fails (`None`: never).
    pub budget: Option<usize>,
    /// Erase pages and write units done.
    pub units: usize,
}

impl RamFlash {
    /// A flash holding `bytes`, padded with erased 0xFF to [`FLASH_LEN`].
    pub fn with_contents(bytes: &[u8]) -> Self {
        let mut mem = vec![0xFF; FLASH_LEN];
        let n = bytes.len().min(FLASH_LEN);
        mem[..n].copy_from_slice(&bytes[..n]);
        RamFlash {
            mem,
            budget: None,
            units: 0,
        }
    }

    fn spend(&mut self) -> Result<(), RamFlashError> {
        if let Some(left) = self.budget.as_mut() {
            if *left == 0 {
                return Err(RamFlashError(NorFlashErrorKind::Other));
            }
            *left -= 1;
        }
        self.units += 1;
        Ok(())
    }

    fn range(&self, offset: u32, len: usize, align: usize) -> Result<usize, RamFlashError> {
        let at = offset as usize;
        if !at.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(RamFlashError(NorFlashErrorKind::NotAligned));
        }
        if at + len > self.mem.len() {
            return Err(RamFlashError(NorFlashErrorKind::OutOfBounds));
        }
        Ok(at)
    }
}

impl ErrorType for RamFlash {
    type Error = RamFlashError;
}

impl ReadNorFlash for RamFlash {
    const READ_SIZE: usize = 4;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamFlashError> {
        let at = self.range(offset, bytes.len(), Self::READ_SIZE)?;
        bytes.copy_from_slice(&self.mem[at..at + bytes.len()]);
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.mem.len()
    }
}

impl NorFlash for RamFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 256;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), RamFlashError> {
        let len = (to as usize)
            .checked_sub(from as usize)
            .ok_or(RamFlashError(NorFlashErrorKind::OutOfBounds))?;
        let at = self.range(from, len, Self::ERASE_SIZE)?;
        for page in (at..at + len).step_by(Self::ERASE_SIZE) {
            self.spend()?;
            self.mem[page..page + Self::ERASE_SIZE].fill(0xFF);
        }
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamFlashError> {
        let at = self.range(offset, bytes.len(), Self::WRITE_SIZE)?;
        for (i, unit) in bytes.chunks(Self::WRITE_SIZE).enumerate() {
            self.spend()?;
            let start = at + i * Self::WRITE_SIZE;
            for (cell, b) in self.mem[start..start + Self::WRITE_SIZE]
                .iter_mut()
                .zip(unit)
            {
                *cell &= *b;
            }
        }
        Ok(())
    }
}

/// Reads a fuzz input front to back; past its end every read gives zeros / empty slices, so
/// every input decodes to something.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Read `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }
    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (now, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        now
    }
    /// One byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }
    /// A big-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.u8()) << 8 | u16::from(self.u8())
    }
    /// A big-endian u64.
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0, |acc, _| acc << 8 | u64::from(self.u8()))
    }
    /// A u16 length, then that many bytes.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.bytes(n)
    }
}

/// The eap_tls_reassembly input: bounds, then fragments (EAP-TLS type data as received, each
/// with the reassembly buffer length it is pushed with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassemblyInput {
    /// Configured bound on one message.
    pub max_message_len: u16,
    /// Configured bound on fragments.
    pub max_fragments: u8,
    /// Fragment size for the fragmenter round trip (0 means 1).
    pub fragment_size: u16,
    /// (buffer length, EAP-TLS type data) per fragment.
    pub fragments: Vec<(u16, Vec<u8>)>,
}

impl ReassemblyInput {
    /// Decode (any bytes decode).
    pub fn decode(data: &[u8]) -> Self {
        let mut r = Reader::new(data);
        let max_message_len = r.u16();
        let max_fragments = r.u8();
        let fragment_size = r.u16();
        let mut fragments = Vec::new();
        while !r.is_empty() {
            let cap = r.u16();
            fragments.push((cap, r.chunk().to_vec()));
        }
        ReassemblyInput {
            max_message_len,
            max_fragments,
            fragment_size,
            fragments,
        }
    }

    /// Encode (for seeds).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.max_message_len.to_be_bytes());
        out.push(self.max_fragments);
        out.extend_from_slice(&self.fragment_size.to_be_bytes());
        for (cap, frag) in &self.fragments {
            out.extend_from_slice(&cap.to_be_bytes());
            out.extend_from_slice(&(frag.len() as u16).to_be_bytes());
            out.extend_from_slice(frag);
        }
        out
    }
}

/// The radius_reply target's fixed request side: identifier, Request Authenticator, secret.
pub const RADIUS_ID: u8 = 0x2a;
/// Request Authenticator of the request the fuzzed reply answers.
pub const RADIUS_REQUEST_AUTH: [u8; 16] = *b"latchkey-fuzz-RA";
/// Shared secret.
pub const RADIUS_SECRET: &[u8] = b"fuzz-shared-secret";
