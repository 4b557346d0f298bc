//! NOR flash for the slot table on QEMU: a file on the host, reached through Arm semihosting
//! (feature `semihosting-flash`), so the table outlives a reboot of the emulated board and a
//! test can cut power (kill QEMU) in the middle of a commit.
//!
//! mps2-an386 has no writable flash that survives QEMU exiting: its "flash" is SSRAM. A board
//! implements `NorFlash` with its flash controller instead; this module exists for QEMU only
//! and needs QEMU started with `-semihosting-config enable=on,target=native` (without a host
//! to answer, the semihosting breakpoint faults).
//!
//! The file behaves as NOR flash: erased bytes read 0xFF, a write can only clear bits (the
//! file's bytes are ANDed with the data), and every [`WRITE_SIZE`] unit is its own host write,
//! so a process killed mid-commit leaves the file cut at a write-unit boundary, as a power cut
//! leaves a NOR program operation at its word.

use cortex_m_semihosting::nr::open;
use cortex_m_semihosting::syscall;
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// The host file, relative to QEMU's working directory (NUL-terminated for SYS_OPEN).
const PATH: &[u8] = b"latchkey-flash.bin\0";

/// Bytes programmed per host write: a NOR word.
pub const WRITE_SIZE: usize = 4;
/// Bytes per erase sector.
pub const ERASE_SIZE: usize = 4096;

/// A semihosting call failed, or an access was misaligned or out of bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFlashError {
    /// Offset or length not a multiple of the unit.
    NotAligned,
    /// Past the end of the flash.
    OutOfBounds,
    /// The host refused a file operation.
    Host,
}

impl NorFlashError for HostFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            HostFlashError::NotAligned => NorFlashErrorKind::NotAligned,
            HostFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            HostFlashError::Host => NorFlashErrorKind::Other,
        }
    }
}

/// The flash file, `capacity` bytes.
pub struct HostFlash {
    handle: usize,
    capacity: usize,
}

impl HostFlash {
    /// Opens the flash file, or creates it erased (all 0xFF) when the device is new.
    pub fn open(capacity: usize) -> Result<Self, HostFlashError> {
        // SAFETY: SYS_OPEN with a NUL-terminated path, its length without the NUL, and a mode.
        let handle = unsafe { syscall!(OPEN, PATH.as_ptr(), open::RW_BINARY, PATH.len() - 1) };
        if handle != usize::MAX {
            let flash = HostFlash { handle, capacity };
            // SAFETY: SYS_FLEN with the handle just opened.
            let len = unsafe { syscall!(FLEN, handle) };
            if len == capacity {
                return Ok(flash);
            }
            // A file of another size is not this device's flash: start again, erased.
            flash.close();
        }
        // SAFETY: as above, creating (truncating) the file.
        let handle =
            unsafe { syscall!(OPEN, PATH.as_ptr(), open::RW_TRUNC_BINARY, PATH.len() - 1) };
        if handle == usize::MAX {
            return Err(HostFlashError::Host);
        }
        let mut flash = HostFlash { handle, capacity };
        let end = u32::try_from(capacity).map_err(|_| HostFlashError::OutOfBounds)?;
        flash.erase(0, end)?;
        Ok(flash)
    }

    fn close(&self) {
        // SAFETY: SYS_CLOSE with our handle; it is not used afterwards.
        let _ = unsafe { syscall!(CLOSE, self.handle) };
    }

    fn seek(&self, offset: usize) -> Result<(), HostFlashError> {
        // SAFETY: SYS_SEEK with our handle and an offset inside the file.
        match unsafe { syscall!(SEEK, self.handle, offset) } {
            0 => Ok(()),
            _ => Err(HostFlashError::Host),
        }
    }

    fn host_read(&self, offset: usize, buf: &mut [u8]) -> Result<(), HostFlashError> {
        self.seek(offset)?;
        // SAFETY: SYS_READ into `buf`, which is valid for `buf.len()` bytes. It returns the
        // number of bytes NOT read.
        match unsafe { syscall!(READ, self.handle, buf.as_mut_ptr(), buf.len()) } {
            0 => Ok(()),
            _ => Err(HostFlashError::Host),
        }
    }

    fn host_write(&self, offset: usize, data: &[u8]) -> Result<(), HostFlashError> {
        self.seek(offset)?;
        // SAFETY: SYS_WRITE from `data`, valid for `data.len()` bytes. It returns the number of
        // bytes NOT written.
        match unsafe { syscall!(WRITE, self.handle, data.as_ptr(), data.len()) } {
            0 => Ok(()),
            _ => Err(HostFlashError::Host),
        }
    }

    fn check(&self, offset: u32, len: usize, unit: usize) -> Result<usize, HostFlashError> {
        let offset = offset as usize;
        if offset % unit != 0 || len % unit != 0 {
            return Err(HostFlashError::NotAligned);
        }
        match offset.checked_add(len) {
            Some(end) if end <= self.capacity => Ok(offset),
            _ => Err(HostFlashError::OutOfBounds),
        }
    }
}

impl ErrorType for HostFlash {
    type Error = HostFlashError;
}

impl ReadNorFlash for HostFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let offset = self.check(offset, bytes.len(), 1)?;
        self.host_read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

impl NorFlash for HostFlash {
    const WRITE_SIZE: usize = WRITE_SIZE;
    const ERASE_SIZE: usize = ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = (to as usize)
            .checked_sub(from as usize)
            .ok_or(HostFlashError::OutOfBounds)?;
        let start = self.check(from, len, ERASE_SIZE)?;
        let ones = [0xffu8; 256];
        let mut at = start;
        while at < start + len {
            self.host_write(at, &ones)?;
            at += ones.len();
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let start = self.check(offset, bytes.len(), WRITE_SIZE)?;
        let mut at = start;
        for unit in bytes.chunks_exact(WRITE_SIZE) {
            // NOR programming only clears bits.
            let mut word = [0u8; WRITE_SIZE];
            self.host_read(at, &mut word)?;
            for (w, b) in word.iter_mut().zip(unit) {
                *w &= *b;
            }
            self.host_write(at, &word)?;
            at += WRITE_SIZE;
        }
        Ok(())
    }
}
