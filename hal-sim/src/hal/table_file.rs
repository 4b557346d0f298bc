//! The slot table kept in a host file, as a device keeps it in flash: the file is the raw
//! contents of a NOR flash holding the core's two image regions (`SlotTable::commit` /
//! `SlotTable::load`, the same code and format as on the device), and every erase and write
//! goes to the file as it happens, so a killed process is a power cut. `latchkey-sim enroll`,
//! `install` and `radius --table` work on it: self-renewal with a file standing in for flash.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use latchkey_core::certs::{
    FlashLayout, KeyRef, LoadReport, RenewError, SlotIndex, SlotState, SlotTable,
};
use x509_cert::der::{Decode, EncodePem};

use crate::cli::config::{read_certs, read_key, ConfigError, FILE_SLOTS};

/// The table a file holds: the same shape as the one `--slot` flags fill.
pub type FileTable = SlotTable<FILE_SLOTS, 4096>;

/// The flash sector size the file is laid out in.
pub const SECTOR: usize = 4096;

/// Where the two image regions are in the file: each the largest image rounded up to a sector.
pub fn layout() -> FlashLayout {
    let region = FileTable::max_image_len().div_ceil(SECTOR) * SECTOR;
    FlashLayout {
        region_a: 0,
        region_b: region as u32,
        region_size: region as u32,
    }
}

/// The file's length: both regions.
pub fn file_len() -> usize {
    2 * layout().region_size as usize
}

/// Why a table file could not be used or changed. Nothing was written, except where the
/// kind says the table was not saved (then the file loads as before the command).
#[derive(Debug)]
pub struct TableError {
    kind: &'static str,
    message: String,
}

impl TableError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        TableError {
            kind,
            message: message.into(),
        }
    }
    /// A short, stable name of the cause.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TableError {}

impl From<ConfigError> for TableError {
    fn from(e: ConfigError) -> Self {
        TableError::new(e.kind(), e.to_string())
    }
}

fn renew_error(path: &Path, e: RenewError) -> TableError {
    TableError::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A flash error of the file (its I/O error is kept by [`FileFlash`] for the message).
#[derive(Debug)]
pub struct FileFlashError(NorFlashErrorKind);

impl NorFlashError for FileFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        self.0
    }
}

/// NOR flash backed by a file: reads from memory, erases and writes to memory and file.
pub struct FileFlash {
    file: File,
    mem: Vec<u8>,
    /// The first I/O error, for the report (the core sees only "flash driver error").
    io_error: Option<io::Error>,
}

impl FileFlash {
    /// Open an existing table file (it must have the table file's length).
    pub fn open(path: &Path) -> Result<Self, TableError> {
        let mem = std::fs::read(path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                TableError::new(
                    "no-table",
                    format!(
                        "{} does not exist: create it with `latchkey-sim enroll --table {} \
                         --cert CERT --key KEY` (the device's current certificate)",
                        path.display(),
                        path.display()
                    ),
                )
            } else {
                TableError::new(
                    "unreadable-file",
                    format!("cannot read table file {}: {e}", path.display()),
                )
            }
        })?;
        if mem.len() != file_len() {
            return Err(TableError::new(
                "bad-table",
                format!(
                    "{} is not a slot table file ({} bytes, a table file has {})",
                    path.display(),
                    mem.len(),
                    file_len()
                ),
            ));
        }
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| TableError::new("unwritable-file", format!("{}: {e}", path.display())))?;
        Ok(FileFlash {
            file,
            mem,
            io_error: None,
        })
    }

    /// Create a new, erased table file; refuses to overwrite one.
    pub fn create(path: &Path) -> Result<Self, TableError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    TableError::new(
                        "table-exists",
                        format!(
                            "{} exists already: --cert/--key only create a new table; drop \
                             them to renew from the table in it",
                            path.display()
                        ),
                    )
                } else {
                    TableError::new("unwritable-file", format!("{}: {e}", path.display()))
                }
            })?;
        let mem = vec![0xFF; file_len()];
        file.write_all_at(&mem, 0)
            .map_err(|e| TableError::new("unwritable-file", format!("{}: {e}", path.display())))?;
        Ok(FileFlash {
            file,
            mem,
            io_error: None,
        })
    }

    fn check(&self, offset: u32, len: usize, align: usize) -> Result<usize, FileFlashError> {
        let at = offset as usize;
        if at % align != 0 || len % align != 0 {
            return Err(FileFlashError(NorFlashErrorKind::NotAligned));
        }
        if at.checked_add(len).is_none_or(|end| end > self.mem.len()) {
            return Err(FileFlashError(NorFlashErrorKind::OutOfBounds));
        }
        Ok(at)
    }

    fn store(&mut self, at: usize, len: usize) -> Result<(), FileFlashError> {
        let r = self.file.write_all_at(&self.mem[at..at + len], at as u64);
        r.map_err(|e| {
            self.io_error.get_or_insert(e);
            FileFlashError(NorFlashErrorKind::Other)
        })
    }
}

impl ErrorType for FileFlash {
    type Error = FileFlashError;
}

impl ReadNorFlash for FileFlash {
    const READ_SIZE: usize = 4;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FileFlashError> {
        let at = self.check(offset, bytes.len(), Self::READ_SIZE)?;
        bytes.copy_from_slice(&self.mem[at..at + bytes.len()]);
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.mem.len()
    }
}

impl NorFlash for FileFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = SECTOR;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), FileFlashError> {
        let len = to.saturating_sub(from) as usize;
        let at = self.check(from, len, SECTOR)?;
        self.mem[at..at + len].fill(0xFF);
        self.store(at, len)
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FileFlashError> {
        let at = self.check(offset, bytes.len(), Self::WRITE_SIZE)?;
        // NOR: a write only clears bits.
        for (cell, b) in self.mem[at..at + bytes.len()].iter_mut().zip(bytes) {
            *cell &= *b;
        }
        self.store(at, bytes.len())
    }
}

/// Load the table in `path`.
pub fn load(path: &Path) -> Result<(FileFlash, FileTable), TableError> {
    let mut flash = FileFlash::open(path)?;
    let (table, report) = FileTable::load(&mut flash, &layout())
        .map_err(|e| TableError::new("bad-table", format!("{}: {e}", path.display())))?;
    if let LoadReport::NoImage { .. } = report {
        return Err(TableError::new(
            "bad-table",
            format!(
                "{} holds no saved table (its first save was interrupted): delete it and \
                 create it again",
                path.display()
            ),
        ));
    }
    Ok((flash, table))
}

/// Commit `table` to the file and flush it to the disk.
pub fn save(path: &Path, flash: &mut FileFlash, table: &FileTable) -> Result<(), TableError> {
    let saved = table.commit(flash, &layout());
    let not_saved = |why: String| {
        TableError::new(
            "table-not-saved",
            format!(
                "{}: {why} (the file still holds the previous table)",
                path.display()
            ),
        )
    };
    match saved {
        Ok(_) => flash
            .file
            .sync_all()
            .map_err(|e| not_saved(format!("cannot flush: {e}"))),
        Err(e) => Err(not_saved(match flash.io_error.take() {
            Some(io) => format!("{e}: {io}"),
            None => e.to_string(),
        })),
    }
}

/// Raise the time floor of the table in `path` to `floor` (after a successful
/// authentication) and save it; returns whether it changed. Only the floor changes: the table
/// is read from the file again, so nothing else in it is overwritten.
pub fn raise_floor(path: &Path, floor: u64) -> Result<bool, TableError> {
    let (mut flash, mut table) = load(path)?;
    if !table.observe_time(floor) {
        return Ok(false);
    }
    save(path, &mut flash, &table)?;
    Ok(true)
}

/// Create `path` holding one active slot: `cert` (leaf, then its intermediates) with `key`.
pub fn create(path: &Path, cert: &Path, key: &Path) -> Result<(FileFlash, FileTable), TableError> {
    // Read and check everything before the file is created.
    let certs = read_certs("certificate", cert)?;
    let key = read_key(key)?;
    let (leaf, chain) = certs.split_first().ok_or_else(|| {
        TableError::new("no-pem", format!("no certificate in {}", cert.display()))
    })?;
    let chain: Vec<&[u8]> = chain.iter().map(|c| c.as_ref()).collect();
    let mut table = FileTable::new();
    table
        .install_chain(leaf, &chain, KeyRef::Inline(key))
        .map_err(|e| TableError::new("slot-refused", format!("{}: {e}", cert.display())))?;
    let flash = FileFlash::create(path)?;
    Ok((flash, table))
}

/// What `enroll` did.
pub struct Enrolled {
    /// The request, PEM ("CERTIFICATE REQUEST").
    pub request_pem: String,
    /// The pending slot.
    pub pending: SlotIndex,
    /// The slot renewed.
    pub renews: SlotIndex,
    /// Whether the pending key was made now (else it was pending already and its request is
    /// made again).
    pub new_key: bool,
}

/// `enroll`: with `initial` (certificate and key files), create the table file first; then
/// start a renewal of `of` (default: the newest active slot), unless one is pending already,
/// save, and return the request.
pub fn enroll(
    path: &Path,
    initial: Option<(&Path, &Path)>,
    of: Option<usize>,
) -> Result<Enrolled, TableError> {
    let created = initial.is_some();
    let (mut flash, mut table) = match initial {
        Some((cert, key)) => create(path, cert, key)?,
        None => load(path)?,
    };
    let result = (|| {
        let new_key = table.pending().is_none();
        if new_key {
            let of = match of {
                Some(i) => SlotIndex::new(i),
                None => table
                    .renewal_candidate()
                    .ok_or_else(|| renew_error(path, RenewError::NoActiveCertificate))?,
            };
            table
                .start_renewal(of, &mut rand::rngs::OsRng)
                .map_err(|e| renew_error(path, e))?;
        } else if let (Some(i), Some(p)) = (of, table.pending()) {
            // Asked to renew another slot than the pending key does.
            if p.renews != Some(SlotIndex::new(i)) {
                return Err(renew_error(path, RenewError::PendingExists(p.index)));
            }
        }
        let der = table.renewal_request().map_err(|e| renew_error(path, e))?;
        let request_pem = x509_cert::request::CertReq::from_der(&der)
            .and_then(|r| r.to_pem(x509_cert::der::pem::LineEnding::LF))
            .map_err(|e| TableError::new("request-encoding", e.to_string()))?;
        let pending = table
            .pending()
            .ok_or_else(|| renew_error(path, RenewError::NoPending))?;
        if new_key {
            save(path, &mut flash, &table)?;
        }
        Ok(Enrolled {
            request_pem,
            pending: pending.index,
            renews: pending.renews.unwrap_or(SlotIndex::new(0)),
            new_key,
        })
    })();
    if result.is_err() && created {
        // Nothing half-made: a table file this command created goes with the failure.
        drop(flash);
        let _ = std::fs::remove_file(path);
    }
    result
}

/// `install`: install the issued certificate (with intermediates after it in its file, and
/// those of `chain` files) over the pending key, archiving its predecessor, and save.
pub fn install(path: &Path, cert: &Path, chain: &[PathBuf]) -> Result<SlotIndex, TableError> {
    let (mut flash, mut table) = load(path)?;
    let certs = read_certs("certificate", cert)?;
    let mut extra = Vec::new();
    for c in chain {
        extra.extend(read_certs("chain file", c)?);
    }
    let (leaf, rest) = certs.split_first().ok_or_else(|| {
        TableError::new("no-pem", format!("no certificate in {}", cert.display()))
    })?;
    let intermediates: Vec<&[u8]> = rest.iter().chain(&extra).map(|c| c.as_ref()).collect();
    let i = table
        .install_renewal(leaf, &intermediates)
        .map_err(|e| TableError::new(e.kind(), format!("{}: {e}", cert.display())))?;
    save(path, &mut flash, &table)?;
    Ok(i)
}

/// One line per slot of `table`: state, enrollment, subject, serial, validity; the pending
/// key too.
pub fn listing(table: &FileTable) -> Vec<String> {
    let mut lines: Vec<String> = table
        .list()
        .map(|s| {
            let serial: String = s.serial().iter().map(|b| format!("{b:02x}")).collect();
            format!("{s} serial {serial}")
        })
        .collect();
    if let Some(p) = table.pending() {
        let renews = p
            .renews
            .map_or_else(|| "a removed certificate".to_owned(), |i| i.to_string());
        lines.push(format!(
            "{}: {} {} key, renewing {renews}, waiting for its certificate",
            p.index,
            SlotState::Pending,
            p.algorithm
        ));
    }
    lines.sort();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::TestPki;
    use latchkey_core::certs::InlineKey;

    /// A [`FileFlash`] whose power fails after `budget` erase sectors and write units.
    struct Cut<'a> {
        inner: &'a mut FileFlash,
        budget: Option<usize>,
        units: usize,
    }

    impl Cut<'_> {
        fn spend(&mut self) -> Result<(), FileFlashError> {
            if self.budget == Some(self.units) {
                return Err(FileFlashError(NorFlashErrorKind::Other));
            }
            self.units += 1;
            Ok(())
        }
    }

    impl ErrorType for Cut<'_> {
        type Error = FileFlashError;
    }

    impl ReadNorFlash for Cut<'_> {
        const READ_SIZE: usize = FileFlash::READ_SIZE;
        fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FileFlashError> {
            self.inner.read(offset, bytes)
        }
        fn capacity(&self) -> usize {
            self.inner.capacity()
        }
    }

    impl NorFlash for Cut<'_> {
        const WRITE_SIZE: usize = FileFlash::WRITE_SIZE;
        const ERASE_SIZE: usize = SECTOR;
        fn erase(&mut self, from: u32, to: u32) -> Result<(), FileFlashError> {
            for sector in (from..to).step_by(SECTOR) {
                self.spend()?;
                self.inner.erase(sector, sector + SECTOR as u32)?;
            }
            Ok(())
        }
        fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FileFlashError> {
            for (n, unit) in bytes.chunks(Self::WRITE_SIZE).enumerate() {
                self.spend()?;
                self.inner
                    .write(offset + (n * Self::WRITE_SIZE) as u32, unit)?;
            }
            Ok(())
        }
    }

    /// The subject public key of a request, for rcgen to certify.
    struct RequestKey(Vec<u8>);

    impl rcgen::PublicKeyData for RequestKey {
        fn der_bytes(&self) -> &[u8] {
            &self.0
        }
        fn algorithm(&self) -> &rcgen::SignatureAlgorithm {
            &rcgen::PKCS_ECDSA_P256_SHA256
        }
    }

    /// Commit `new` over the file `base` (which loads as `old`) with the power cut after every
    /// erase sector and write unit in turn; the file then loads as `old` or `new` (`new`
    /// whenever the commit said it succeeded). Returns how many cuts were made.
    fn sweep(dir: &Path, base: &[u8], old: &FileTable, new: &FileTable) -> usize {
        let work = dir.join("work.table");
        let mut cut = 0;
        loop {
            std::fs::write(&work, base).unwrap();
            let mut flash = FileFlash::open(&work).unwrap();
            let mut cutting = Cut {
                inner: &mut flash,
                budget: Some(cut),
                units: 0,
            };
            let result = new.commit(&mut cutting, &layout());
            drop(flash);
            let (_, loaded) = load(&work).unwrap();
            assert!(
                loaded == *old || loaded == *new,
                "cut after {cut} units: a third table loaded"
            );
            if result.is_ok() {
                assert!(loaded == *new, "cut after {cut} units: commit lost");
                return cut;
            }
            cut += 1;
        }
    }

    #[test]
    fn power_cut_at_every_write_unit_of_the_file_leaves_the_old_or_the_new_table() {
        let pki = TestPki::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.table");
        let key = InlineKey::from_pkcs8_der(&pki.client.key_pkcs8).unwrap();
        let mut active = FileTable::new();
        active
            .install(&pki.client.cert, KeyRef::Inline(key))
            .unwrap();
        let mut pending = active.clone();
        pending
            .start_renewal(SlotIndex::new(0), &mut rand::rngs::OsRng)
            .unwrap();
        let request =
            x509_cert::request::CertReq::from_der(&pending.renewal_request().unwrap()).unwrap();
        let point = request
            .info
            .public_key
            .subject_public_key
            .raw_bytes()
            .to_vec();
        let ca = &pki.intermediate;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = ca.params.distinguished_name.clone();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "device-0001");
        let issued = params
            .signed_by(
                &RequestKey(point),
                &ca.params.clone().self_signed(&ca.key).unwrap(),
                &ca.key,
            )
            .unwrap();
        let mut installed = pending.clone();
        installed
            .install_renewal(issued.der(), &[pki.intermediate.cert.as_ref()])
            .unwrap();
        assert_eq!(
            installed.state(SlotIndex::new(0)),
            Some(SlotState::Archived)
        );

        // The enroll commit over a file holding the active table, then the install commit
        // over the file holding both the active and the pending table.
        let mut flash = FileFlash::create(&path).unwrap();
        save(&path, &mut flash, &active).unwrap();
        let base = std::fs::read(&path).unwrap();
        let enroll_cuts = sweep(dir.path(), &base, &active, &pending);
        save(&path, &mut flash, &pending).unwrap();
        let base = std::fs::read(&path).unwrap();
        let install_cuts = sweep(dir.path(), &base, &pending, &installed);
        assert!(enroll_cuts > 100 && install_cuts > 100);
        println!("{enroll_cuts} cuts in the enroll commit, {install_cuts} in the install commit");
    }
}
