//! The firmware image's defmt logs on the host: build the image with feature
//! `defmt-semihosting` (firmware/src/trace.rs), and decode the frames it wrote over semihosting
//! to QEMU's standard output (`qemu::SEMIHOSTING_STDOUT` in QEMU's directory) with
//! `defmt-decoder` and the string table of the same ELF, into text lines with their levels.
//! Anything that does not decode is an error with the reason: an ELF without a defmt table, a
//! malformed frame, a stream cut inside a frame.

use std::fmt;
use std::path::{Path, PathBuf};

use defmt_decoder::{DecodeError, Encoding, Table};

use crate::qemu::{self, QemuError, SEMIHOSTING_STDOUT};

/// The cargo profile of the defmt image (firmware/Cargo.toml): the release profile in its own
/// output directory, so it never replaces the image `qemu::build_firmware` builds.
pub const DEFMT_PROFILE: &str = "release-defmt";

/// The defmt image's features: the QEMU image's (`qemu::build_firmware`) plus the logger.
pub const DEFMT_FEATURES: &str = "insecure-counter-rng,semihosting-flash,defmt-semihosting";

/// The levels compiled into the defmt image (`DEFMT_LOG`; defmt keeps only errors without it).
pub const DEFMT_LOG: &str = "debug";

/// Why the defmt log could not be had.
#[derive(Debug)]
pub enum DefmtError {
    /// Reading the ELF or the stream (which file).
    Io(PathBuf, std::io::Error),
    /// The ELF, or its defmt table, could not be read (a defmt wire version this decoder does
    /// not know is one reason).
    Elf(PathBuf, String),
    /// The ELF has no defmt table: not built with `defmt-semihosting`, or linked without
    /// defmt.x.
    NoTable(PathBuf),
    /// A frame did not decode: its number (from 0), the byte offset where its data started,
    /// and the lines decoded before it.
    Malformed {
        /// The frame's number.
        frame: usize,
        /// Where in the stream it started.
        offset: usize,
        /// What decoded before it.
        before: Vec<DefmtLine>,
    },
    /// The stream ends inside a frame (this many bytes after the last complete one).
    Truncated {
        /// Bytes of the incomplete frame.
        bytes: usize,
        /// The complete frames before it.
        before: Vec<DefmtLine>,
    },
}

impl fmt::Display for DefmtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = |f: &mut fmt::Formatter<'_>, before: &[DefmtLine]| {
            before.iter().try_for_each(|l| write!(f, "\n  {l}"))
        };
        match self {
            DefmtError::Io(path, e) => write!(f, "defmt log: {}: {e}", path.display()),
            DefmtError::Elf(path, e) => {
                write!(
                    f,
                    "defmt log: reading the defmt table of {}: {e}",
                    path.display()
                )
            }
            DefmtError::NoTable(path) => write!(
                f,
                "defmt log: {} has no defmt table (not built with feature defmt-semihosting, \
                 or linked without defmt.x): its frames cannot be decoded",
                path.display()
            ),
            DefmtError::Malformed {
                frame,
                offset,
                before,
            } => {
                write!(
                    f,
                    "defmt log: frame {frame} (byte {offset}) does not decode with the ELF's \
                     table (a stream from another build, or corrupted); decoded before it:"
                )?;
                lines(f, before)
            }
            DefmtError::Truncated { bytes, before } => {
                write!(
                    f,
                    "defmt log: the stream ends inside a frame ({bytes} bytes after the last \
                     complete one); decoded before it:"
                )?;
                lines(f, before)
            }
        }
    }
}

impl std::error::Error for DefmtError {}

/// One decoded log frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefmtLine {
    /// The image's timestamp, as its format renders it (milliseconds since the clock started).
    pub timestamp: Option<String>,
    /// `trace`, `debug`, `info`, `warn`, `error`; None for `println!`.
    pub level: Option<&'static str>,
    /// The message with its arguments.
    pub message: String,
}

impl fmt::Display for DefmtLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = &self.timestamp {
            write!(f, "{t} ")?;
        }
        write!(
            f,
            "{:<5} {}",
            self.level.map(str::to_uppercase).unwrap_or_default(),
            self.message
        )
    }
}

/// The defmt table of an ELF; fails when it has none.
pub fn table(elf: &Path) -> Result<Table, DefmtError> {
    let bytes = std::fs::read(elf).map_err(|e| DefmtError::Io(elf.to_path_buf(), e))?;
    Table::parse(&bytes)
        .map_err(|e| DefmtError::Elf(elf.to_path_buf(), format!("{e:#}")))?
        .ok_or_else(|| DefmtError::NoTable(elf.to_path_buf()))
}

/// Decodes a whole defmt stream with `table`. Every byte must belong to a frame that decodes:
/// a malformed frame or a stream cut inside a frame is an error.
pub fn decode(table: &Table, stream: &[u8]) -> Result<Vec<DefmtLine>, DefmtError> {
    let mut decoder = table.new_stream_decoder();
    decoder.received(stream);
    let mut lines = Vec::new();
    loop {
        match decoder.decode() {
            Ok(frame) => lines.push(DefmtLine {
                timestamp: frame.display_timestamp().map(|t| t.to_string()),
                level: frame.level().map(|l| l.as_str()),
                message: frame.display_message().to_string(),
            }),
            Err(DecodeError::UnexpectedEof) => break,
            Err(DecodeError::Malformed) => {
                return Err(DefmtError::Malformed {
                    frame: lines.len(),
                    offset: frame_offset(table.encoding(), stream, lines.len()),
                    before: lines,
                })
            }
        }
    }
    // With rzCOBS every frame ends in a 0x00: bytes after the last one are a cut frame. (A raw
    // stream has no delimiters; the decoder's end of data is all there is to check.)
    if matches!(table.encoding(), Encoding::Rzcobs) {
        let tail = stream.iter().rev().take_while(|b| **b != 0).count();
        if tail > 0 {
            return Err(DefmtError::Truncated {
                bytes: tail,
                before: lines,
            });
        }
    }
    Ok(lines)
}

/// Where frame `n` starts in an rzCOBS stream (0 for a raw one, which has no delimiters). As
/// the decoder reads it, a frame ends at a 0x00 and any run of them separates two frames.
fn frame_offset(encoding: Encoding, stream: &[u8], n: usize) -> usize {
    if !matches!(encoding, Encoding::Rzcobs) {
        return 0;
    }
    let mut ended = 0;
    let mut in_frame = false;
    for (i, b) in stream.iter().enumerate() {
        match (*b == 0, in_frame) {
            (false, false) if ended == n => return i,
            (false, _) => in_frame = true,
            (true, true) => {
                in_frame = false;
                ended += 1;
            }
            (true, false) => {}
        }
    }
    stream.len()
}

/// Decodes what the image `elf` has logged so far in QEMU's directory `dir` (the image writes
/// each frame whole before it goes on, so a frame logged before a status line arrived is
/// complete).
pub fn read_log(elf: &Path, dir: &Path) -> Result<Vec<DefmtLine>, DefmtError> {
    let table = table(elf)?;
    let path = dir.join(SEMIHOSTING_STDOUT);
    let stream = std::fs::read(&path).map_err(|e| DefmtError::Io(path, e))?;
    decode(&table, &stream)
}

/// Builds the defmt image (profile [`DEFMT_PROFILE`], features [`DEFMT_FEATURES`],
/// `DEFMT_LOG=`[`DEFMT_LOG`]) and returns its ELF path; cargo does nothing when it is up to
/// date.
pub fn build_defmt_firmware() -> Result<PathBuf, QemuError> {
    qemu::build_image(DEFMT_PROFILE, DEFMT_FEATURES, &[("DEFMT_LOG", DEFMT_LOG)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_offsets_follow_the_delimiters() {
        let s = [5, 6, 0, 7, 0, 8, 9];
        assert_eq!(frame_offset(Encoding::Rzcobs, &s, 0), 0);
        assert_eq!(frame_offset(Encoding::Rzcobs, &s, 1), 3);
        assert_eq!(frame_offset(Encoding::Rzcobs, &s, 2), 5);
        assert_eq!(frame_offset(Encoding::Rzcobs, &s, 3), s.len());
        assert_eq!(frame_offset(Encoding::Raw, &s, 2), 0);
        // Leading zeros and runs of them separate nothing more.
        let s = [0, 0, 5, 0, 0, 0, 7, 0];
        assert_eq!(frame_offset(Encoding::Rzcobs, &s, 0), 2);
        assert_eq!(frame_offset(Encoding::Rzcobs, &s, 1), 6);
        assert_eq!(frame_offset(Encoding::Rzcobs, &s, 2), s.len());
    }

    #[test]
    fn an_elf_without_a_table_is_refused() {
        // This test binary is an ELF without defmt frames.
        let me = std::env::current_exe().expect("test binary");
        match table(&me) {
            Err(DefmtError::NoTable(p)) => assert_eq!(p, me),
            other => panic!("expected NoTable, got {other:?}"),
        }
    }
}
