//! EAP-TLS framing (RFC 5216 §3.1–3.2, unchanged for TLS 1.3 by RFC 9190): the Flags byte
//! (L, M, S), the optional 4-byte TLS Message Length, and the bounded [`Reassembler`] and
//! [`Fragmenter`] that carry TLS flights larger than one EAP packet. No allocation: the
//! caller owns every buffer, and every length from the wire is checked before a byte is stored.
//!
//! Fragment size, everywhere in this module: the number of TLS bytes in one EAP-TLS packet,
//! i.e. excluding the EAP header (4), the Type (1), the Flags (1) and the TLS Message Length
//! (4). This is wpa_supplicant's `fragment_size` (default 1398), so one EAP packet is at most
//! `fragment_size + 10` bytes.

use core::fmt;

use crate::bytes::{read_u32_be, write_bytes, write_u32_be, write_u8};
use crate::eap;

/// Byte offsets inside the EAP-TLS data (after the EAP Type byte).
mod field {
    pub const FLAGS: usize = 0;
    pub const TLS_LENGTH: usize = 1;
}

/// Length of the Flags byte.
pub const FLAGS_LEN: usize = 1;
/// Length of the TLS Message Length field present when L is set.
pub const TLS_LENGTH_LEN: usize = 4;
/// Bytes of an EAP-TLS packet around its TLS data when L is present: EAP header, Type, Flags, L.
pub const MAX_OVERHEAD: usize = eap::TYPED_HEADER_LEN + FLAGS_LEN + TLS_LENGTH_LEN;

/// Default bound on one reassembled TLS message (16 KiB).
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 16384;
/// Hard ceiling on the reassembly bound (64 KiB); a configured bound above it is lowered to it.
pub const MAX_MESSAGE_LEN_LIMIT: usize = 65536;
/// Default bound on the fragments of one message.
pub const DEFAULT_MAX_FRAGMENTS: usize = 64;
/// Default fragment size (TLS bytes per EAP packet), as wpa_supplicant and hostapd.
pub const DEFAULT_FRAGMENT_SIZE: usize = 1398;

/// Why EAP-TLS data could not be parsed, reassembled or emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The EAP-TLS data is empty: no Flags byte.
    MissingFlags,
    /// L is set but fewer than 4 bytes follow the Flags byte.
    LengthFieldTruncated {
        /// Bytes after the Flags byte.
        len: usize,
    },
    /// The server announced (L) a TLS message larger than the bound or the buffer.
    AnnouncedTooLarge {
        /// TLS Message Length from the wire.
        announced: u32,
        /// The bound in force (configured bound or buffer size, whichever is smaller).
        limit: usize,
    },
    /// Fragments without a TLS Message Length added up past the bound or the buffer.
    MessageTooLarge {
        /// Bytes the message would have reached.
        received: usize,
        /// The bound in force.
        limit: usize,
    },
    /// More TLS bytes arrived than the TLS Message Length announced.
    BeyondAnnounced {
        /// TLS Message Length.
        announced: usize,
        /// Bytes the message would have reached.
        received: usize,
    },
    /// The last fragment arrived before the announced TLS Message Length was reached.
    ShorterThanAnnounced {
        /// TLS Message Length.
        announced: usize,
        /// Bytes received.
        received: usize,
    },
    /// A later fragment carried a TLS Message Length different from the first one's.
    InconsistentLength {
        /// Length announced first.
        first: usize,
        /// Length in this fragment.
        now: u32,
    },
    /// The message needed more fragments than allowed (a fragment flood).
    TooManyFragments {
        /// The configured bound.
        limit: usize,
    },
    /// The reassembly buffer passed in is smaller than the bytes already received into it.
    BufferShrunk {
        /// Bytes already received.
        received: usize,
        /// Size of the buffer passed now.
        capacity: usize,
    },
    /// The outgoing data changed length in the middle of fragmenting it.
    DataChanged {
        /// Length when fragmenting started.
        expected: usize,
        /// Length passed now.
        got: usize,
    },
    /// A TLS message or EAP packet too long for its length field.
    TooLong {
        /// Bytes asked for.
        len: usize,
    },
    /// The output buffer cannot hold the packet.
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::MissingFlags => write!(f, "EAP-TLS data is empty: no Flags byte"),
            Error::LengthFieldTruncated { len } => write!(
                f,
                "EAP-TLS L flag set but only {len} bytes follow the Flags byte, need 4"
            ),
            Error::AnnouncedTooLarge { announced, limit } => write!(
                f,
                "TLS message length {announced} exceeds the limit of {limit} bytes"
            ),
            Error::MessageTooLarge { received, limit } => write!(
                f,
                "TLS message reached {received} bytes, over the limit of {limit} bytes"
            ),
            Error::BeyondAnnounced {
                announced,
                received,
            } => write!(
                f,
                "TLS message announced as {announced} bytes grew to {received} bytes"
            ),
            Error::ShorterThanAnnounced {
                announced,
                received,
            } => write!(
                f,
                "TLS message ended after {received} of its announced {announced} bytes"
            ),
            Error::InconsistentLength { first, now } => write!(
                f,
                "TLS message length changed from {first} to {now} between fragments"
            ),
            Error::TooManyFragments { limit } => {
                write!(f, "TLS message arrived in more than {limit} fragments")
            }
            Error::BufferShrunk { received, capacity } => write!(
                f,
                "reassembly buffer of {capacity} bytes is smaller than the {received} bytes \
                 already received"
            ),
            Error::DataChanged { expected, got } => write!(
                f,
                "outgoing TLS data changed from {expected} to {got} bytes while fragmenting"
            ),
            Error::TooLong { len } => write!(
                f,
                "{len} bytes do not fit the EAP or TLS message length field"
            ),
            Error::BufferTooSmall { needed, available } => write!(
                f,
                "output buffer of {available} bytes is too small for a {needed}-byte EAP-TLS \
                 packet"
            ),
        }
    }
}

impl core::error::Error for Error {}

/// The EAP-TLS Flags byte (RFC 5216 §3.1). Reserved bits are reported on parse and sent as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Flags {
    /// L (0x80): a 4-byte TLS Message Length follows.
    pub length_included: bool,
    /// M (0x40): more fragments follow.
    pub more_fragments: bool,
    /// S (0x20): EAP-TLS Start (server to peer only).
    pub start: bool,
    /// The five reserved low bits as received (0 when sent).
    pub reserved: u8,
}

impl Flags {
    /// L bit.
    pub const LENGTH_INCLUDED: u8 = 0x80;
    /// M bit.
    pub const MORE_FRAGMENTS: u8 = 0x40;
    /// S bit.
    pub const START: u8 = 0x20;
    /// Reserved bits.
    pub const RESERVED_MASK: u8 = 0x1F;

    /// Decodes a Flags byte.
    pub const fn from_byte(b: u8) -> Flags {
        Flags {
            length_included: b & Self::LENGTH_INCLUDED != 0,
            more_fragments: b & Self::MORE_FRAGMENTS != 0,
            start: b & Self::START != 0,
            reserved: b & Self::RESERVED_MASK,
        }
    }

    /// Encodes the Flags byte; reserved bits are always 0 (RFC 5216 §3.1).
    pub const fn to_byte(self) -> u8 {
        let mut b = 0;
        if self.length_included {
            b |= Self::LENGTH_INCLUDED;
        }
        if self.more_fragments {
            b |= Self::MORE_FRAGMENTS;
        }
        if self.start {
            b |= Self::START;
        }
        b
    }
}

/// A read/write view of EAP-TLS data (what follows the EAP Type byte 13).
///
/// [`Packet::new_checked`] proves the Flags byte and, when L is set, the 4-byte length are
/// present. On an unchecked view, missing bytes read as 0 and writes past the end are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

#[cfg(feature = "defmt")]
impl<T: AsRef<[u8]>> defmt::Format for Packet<T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "EAP-TLS packet ({=usize} bytes)",
            self.buffer.as_ref().len()
        )
    }
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps received EAP-TLS data and validates it ([`Packet::check`]).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check()?;
        Ok(packet)
    }

    /// Checks the Flags byte is present, and the TLS Message Length too when L is set.
    pub fn check(&self) -> Result<(), Error> {
        let data = self.buffer.as_ref();
        let Some(&flags) = data.get(field::FLAGS) else {
            return Err(Error::MissingFlags);
        };
        if Flags::from_byte(flags).length_included && data.len() < FLAGS_LEN + TLS_LENGTH_LEN {
            return Err(Error::LengthFieldTruncated {
                len: data.len().saturating_sub(FLAGS_LEN),
            });
        }
        Ok(())
    }

    /// Consumes the view and returns the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Flags byte.
    pub fn flags(&self) -> Flags {
        Flags::from_byte(self.buffer.as_ref().get(field::FLAGS).copied().unwrap_or(0))
    }

    /// The TLS Message Length, if L is set.
    pub fn tls_message_length(&self) -> Option<u32> {
        if self.flags().length_included {
            read_u32_be(self.buffer.as_ref(), field::TLS_LENGTH)
        } else {
            None
        }
    }

    /// Bytes before the TLS data: 1, or 5 when L is set.
    pub fn header_len(&self) -> usize {
        if self.flags().length_included {
            FLAGS_LEN + TLS_LENGTH_LEN
        } else {
            FLAGS_LEN
        }
    }

    /// The TLS data of this fragment.
    pub fn tls_data(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the Flags byte (reserved bits cleared).
    pub fn set_flags(&mut self, value: Flags) {
        write_u8(self.buffer.as_mut(), field::FLAGS, value.to_byte());
    }

    /// Sets the TLS Message Length field (meaningful only with L set).
    pub fn set_tls_message_length(&mut self, value: u32) {
        write_u32_be(self.buffer.as_mut(), field::TLS_LENGTH, value);
    }

    /// The TLS data of this fragment, mutable.
    pub fn tls_data_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        self.buffer.as_mut().get_mut(at..).unwrap_or(&mut [])
    }
}

/// EAP-TLS data as plain data. The L flag is implied by `tls_message_length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Repr<'a> {
    /// S: EAP-TLS Start.
    pub start: bool,
    /// M: more fragments follow.
    pub more_fragments: bool,
    /// TLS Message Length (L set when `Some`): the size of the whole message, all fragments.
    pub tls_message_length: Option<u32>,
    /// Reserved flag bits as received; ignored on emit.
    pub reserved: u8,
    /// This fragment's TLS bytes.
    pub tls_data: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parses EAP-TLS data (re-running [`Packet::check`]).
    pub fn parse<T: AsRef<[u8]>>(packet: &'a Packet<T>) -> Result<Repr<'a>, Error> {
        packet.check()?;
        let flags = packet.flags();
        Ok(Repr {
            start: flags.start,
            more_fragments: flags.more_fragments,
            tls_message_length: packet.tls_message_length(),
            reserved: flags.reserved,
            tls_data: packet.tls_data(),
        })
    }

    /// Parses the type data of an EAP Request/Response of Type 13.
    pub fn parse_bytes(data: &'a [u8]) -> Result<Repr<'a>, Error> {
        let packet = Packet::new_checked(data)?;
        let flags = packet.flags();
        Ok(Repr {
            start: flags.start,
            more_fragments: flags.more_fragments,
            tls_message_length: packet.tls_message_length(),
            reserved: flags.reserved,
            tls_data: data.get(packet.header_len()..).unwrap_or(&[]),
        })
    }

    /// An acknowledgement: no L, M or S, and no TLS data (RFC 5216 §3.2). The server sends one
    /// to ask for our next fragment; the peer sends one for each fragment it receives.
    pub const fn is_ack(&self) -> bool {
        !self.start
            && !self.more_fragments
            && self.tls_message_length.is_none()
            && self.tls_data.is_empty()
    }

    /// The flags this representation encodes.
    pub const fn flags(&self) -> Flags {
        Flags {
            length_included: self.tls_message_length.is_some(),
            more_fragments: self.more_fragments,
            start: self.start,
            reserved: 0,
        }
    }

    /// Bytes the EAP-TLS data takes (Flags, L if present, TLS data).
    pub const fn buffer_len(&self) -> usize {
        let l = if self.tls_message_length.is_some() {
            TLS_LENGTH_LEN
        } else {
            0
        };
        // A slice holds at most isize::MAX bytes: never saturates.
        FLAGS_LEN
            .saturating_add(l)
            .saturating_add(self.tls_data.len())
    }

    /// Writes the EAP-TLS data to the front of `out`; returns its length. Nothing is written
    /// if it does not fit.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, Error> {
        let len = self.buffer_len();
        if out.len() < len {
            return Err(Error::BufferTooSmall {
                needed: len,
                available: out.len(),
            });
        }
        let mut packet = Packet::new_unchecked(&mut *out);
        packet.set_flags(self.flags());
        if let Some(l) = self.tls_message_length {
            packet.set_tls_message_length(l);
        }
        // len is the header plus tls_data, so this is the header length exactly.
        if !write_bytes(out, len.saturating_sub(self.tls_data.len()), self.tls_data) {
            return Err(Error::BufferTooSmall {
                needed: len,
                available: out.len(),
            });
        }
        Ok(len)
    }
}

/// Writes a whole EAP-TLS Response: EAP header, Type 13, Flags, [L,] TLS data. Returns its
/// length; nothing is written if it does not fit.
pub fn emit_response(identifier: u8, repr: &Repr<'_>, out: &mut [u8]) -> Result<usize, Error> {
    // Saturating: an impossible length still fails the u16 conversion below.
    let len = eap::TYPED_HEADER_LEN.saturating_add(repr.buffer_len());
    let length = u16::try_from(len).map_err(|_| Error::TooLong { len })?;
    if out.len() < len {
        return Err(Error::BufferTooSmall {
            needed: len,
            available: out.len(),
        });
    }
    let body = out.get_mut(eap::TYPED_HEADER_LEN..).unwrap_or(&mut []);
    repr.emit(body)?;
    let mut packet = eap::Packet::new_unchecked(&mut *out);
    packet.set_code(eap::Code::Response);
    packet.set_identifier(identifier);
    packet.set_length(length);
    packet.set_eap_type(eap::Type::Tls);
    Ok(len)
}

/// Writes an EAP-TLS acknowledgement: an EAP Response of Type 13 with Flags 0 and no data
/// (6 bytes), sent for each fragment received with M set.
pub fn emit_ack(identifier: u8, out: &mut [u8]) -> Result<usize, Error> {
    emit_response(identifier, &Repr::default(), out)
}

/// Bounds for a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReassemblerConfig {
    /// Largest TLS message accepted; lowered to [`MAX_MESSAGE_LEN_LIMIT`] if above it. The
    /// buffer passed to [`Reassembler::push`] bounds it further.
    pub max_message_len: usize,
    /// Largest number of fragments of one message (a flood of tiny fragments is refused).
    pub max_fragments: usize,
}

impl Default for ReassemblerConfig {
    fn default() -> Self {
        ReassemblerConfig {
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            max_fragments: DEFAULT_MAX_FRAGMENTS,
        }
    }
}

/// What a pushed fragment did to the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Progress {
    /// More fragments follow: answer with [`emit_ack`].
    NeedMore,
    /// The message is whole: it is `buf[..len]` of the buffer passed to [`Reassembler::push`].
    Complete(usize),
}

/// Collects the fragments of one incoming TLS message into a buffer the caller owns.
///
/// The reassembler holds only counters, never the buffer: the caller passes the same
/// `&mut [u8]` to every [`push`](Reassembler::push), and bytes land in it from offset 0. On
/// [`Progress::Complete(len)`](Progress::Complete) the message is `&mut buf[..len]`, ready to
/// be handed to rustls' `process_tls_records(&mut [u8])` in place, with no second copy. The
/// next push after a completed message starts a new one at offset 0, so the caller finishes
/// with the bytes first.
///
/// Every length is checked before a byte is written: an announced L above the bound (the
/// configured bound or the buffer size, whichever is smaller) is refused on arrival; without L
/// the running total is bounded the same way; data beyond L and fragment floods are refused.
/// Any error abandons the message in progress (the state resets).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Reassembler {
    config: ReassemblerConfig,
    received: usize,
    announced: Option<usize>,
    fragments: usize,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler::new(ReassemblerConfig::default())
    }
}

impl Reassembler {
    /// A reassembler with the given bounds.
    pub fn new(config: ReassemblerConfig) -> Reassembler {
        Reassembler {
            config: ReassemblerConfig {
                max_message_len: config.max_message_len.min(MAX_MESSAGE_LEN_LIMIT),
                max_fragments: config.max_fragments,
            },
            received: 0,
            announced: None,
            fragments: 0,
        }
    }

    /// The bounds in force.
    pub fn config(&self) -> ReassemblerConfig {
        self.config
    }

    /// Forgets the message in progress.
    pub fn reset(&mut self) {
        self.received = 0;
        self.announced = None;
        self.fragments = 0;
    }

    /// Whether a message has started and not completed.
    pub fn in_progress(&self) -> bool {
        self.fragments > 0
    }

    /// Bytes of the message in progress received so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// The TLS Message Length announced for the message in progress, if any.
    pub fn announced(&self) -> Option<usize> {
        self.announced
    }

    /// Adds one fragment (its S flag is ignored: Start is the method's business) to `buf`.
    pub fn push(&mut self, buf: &mut [u8], fragment: &Repr<'_>) -> Result<Progress, Error> {
        let result = self.try_push(buf, fragment);
        match result {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Complete(_)) | Err(_) => self.reset(),
        }
        result
    }

    fn try_push(&mut self, buf: &mut [u8], fragment: &Repr<'_>) -> Result<Progress, Error> {
        if self.received > buf.len() {
            return Err(Error::BufferShrunk {
                received: self.received,
                capacity: buf.len(),
            });
        }
        if self.fragments >= self.config.max_fragments {
            return Err(Error::TooManyFragments {
                limit: self.config.max_fragments,
            });
        }
        let limit = self.config.max_message_len.min(buf.len());
        let received = self
            .received
            .checked_add(fragment.tls_data.len())
            .ok_or(Error::TooLong { len: usize::MAX })?;

        if let Some(l) = fragment.tls_message_length {
            let announced = usize::try_from(l).unwrap_or(usize::MAX);
            match self.announced {
                Some(first) if first != announced => {
                    return Err(Error::InconsistentLength { first, now: l });
                }
                Some(_) => {}
                // First fragment, or a later one bringing L for the first time: either way it
                // must respect the bound and cover what we already hold.
                None => {
                    if announced > limit {
                        return Err(Error::AnnouncedTooLarge {
                            announced: l,
                            limit,
                        });
                    }
                    self.announced = Some(announced);
                }
            }
        }
        match self.announced {
            Some(announced) if received > announced => {
                return Err(Error::BeyondAnnounced {
                    announced,
                    received,
                });
            }
            _ if received > limit => return Err(Error::MessageTooLarge { received, limit }),
            _ => {}
        }
        // Both bounds above keep `received <= buf.len()`, so this write always fits.
        if !write_bytes(buf, self.received, fragment.tls_data) {
            return Err(Error::MessageTooLarge { received, limit });
        }
        self.received = received;
        // Below max_fragments (checked on entry), so this cannot saturate.
        self.fragments = self.fragments.saturating_add(1);

        if fragment.more_fragments {
            return Ok(Progress::NeedMore);
        }
        match self.announced {
            Some(announced) if received < announced => Err(Error::ShorterThanAnnounced {
                announced,
                received,
            }),
            _ => Ok(Progress::Complete(received)),
        }
    }
}

/// Settings for a [`Fragmenter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FragmenterConfig {
    /// TLS bytes per EAP packet (see the module documentation); 0 is treated as 1.
    pub fragment_size: usize,
    /// Send L on a message that fits in one packet too (wpa_supplicant's
    /// `include_tls_length=1`); by default L is sent only on the first of several fragments.
    pub always_include_length: bool,
}

impl Default for FragmenterConfig {
    fn default() -> Self {
        FragmenterConfig {
            fragment_size: DEFAULT_FRAGMENT_SIZE,
            always_include_length: false,
        }
    }
}

/// Cuts one outgoing TLS message, held by the caller, into EAP-TLS Response fragments.
///
/// The first call emits the first fragment; each later call, made when the server
/// acknowledges ([`Repr::is_ack`]) the previous one, emits the next; after the last (M clear)
/// it returns `Ok(None)` until [`reset`](Fragmenter::reset). The caller passes the same bytes
/// every time. Retransmitting a fragment for a duplicate request is the EAP layer's job (it
/// resends its last response), so the fragmenter only moves forward. A call that fails
/// (output buffer too small) changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Fragmenter {
    config: FragmenterConfig,
    total: Option<usize>,
    offset: usize,
    finished: bool,
}

/// The next fragment to send, before anything is written.
struct Plan {
    total: usize,
    start: usize,
    end: usize,
    more: bool,
    length: Option<u32>,
}

impl Default for Fragmenter {
    fn default() -> Self {
        Fragmenter::new(FragmenterConfig::default())
    }
}

impl Fragmenter {
    /// A fragmenter with the given settings.
    pub fn new(config: FragmenterConfig) -> Fragmenter {
        Fragmenter {
            config: FragmenterConfig {
                fragment_size: config.fragment_size.max(1),
                always_include_length: config.always_include_length,
            },
            total: None,
            offset: 0,
            finished: false,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> FragmenterConfig {
        self.config
    }

    /// Forgets the message in progress, ready for the next one.
    pub fn reset(&mut self) {
        self.total = None;
        self.offset = 0;
        self.finished = false;
    }

    /// Whether the last fragment of the message has been emitted.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// TLS bytes emitted so far.
    pub fn sent(&self) -> usize {
        self.offset
    }

    /// Writes the next EAP-TLS data (Flags, [L,] TLS bytes: what follows the EAP Type byte)
    /// into `out`; returns its length, or `None` when the whole message has been sent.
    pub fn next_fragment(&mut self, data: &[u8], out: &mut [u8]) -> Result<Option<usize>, Error> {
        let Some(plan) = self.plan(data)? else {
            return Ok(None);
        };
        let repr = self.repr(data, &plan);
        let n = repr.emit(out)?;
        self.commit(&plan);
        Ok(Some(n))
    }

    /// Writes the next fragment as a whole EAP-TLS Response (EAP header, Type 13, Flags,
    /// [L,] TLS bytes) into `out`; returns its length, or `None` when all has been sent.
    pub fn next_response(
        &mut self,
        identifier: u8,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<Option<usize>, Error> {
        let Some(plan) = self.plan(data)? else {
            return Ok(None);
        };
        let repr = self.repr(data, &plan);
        let n = emit_response(identifier, &repr, out)?;
        self.commit(&plan);
        Ok(Some(n))
    }

    fn plan(&self, data: &[u8]) -> Result<Option<Plan>, Error> {
        if self.finished {
            return Ok(None);
        }
        let total = data.len();
        if let Some(expected) = self.total {
            if expected != total {
                return Err(Error::DataChanged {
                    expected,
                    got: total,
                });
            }
        }
        let size = self.config.fragment_size;
        let remaining = total.saturating_sub(self.offset);
        let chunk = remaining.min(size);
        let more = remaining > size;
        let first = self.offset == 0;
        let length = if first && (total > size || self.config.always_include_length) {
            Some(u32::try_from(total).map_err(|_| Error::TooLong { len: total })?)
        } else {
            None
        };
        Ok(Some(Plan {
            total,
            start: self.offset,
            // chunk <= total - offset, so the end is at most total.
            end: self.offset.saturating_add(chunk),
            more,
            length,
        }))
    }

    fn repr<'d>(&self, data: &'d [u8], plan: &Plan) -> Repr<'d> {
        Repr {
            start: false,
            more_fragments: plan.more,
            tls_message_length: plan.length,
            reserved: 0,
            tls_data: data.get(plan.start..plan.end).unwrap_or(&[]),
        }
    }

    fn commit(&mut self, plan: &Plan) {
        self.total = Some(plan.total);
        self.offset = plan.end;
        self.finished = !plan.more;
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
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    // EAP-TLS data: L|M, TLS Message Length 1000, then 3 TLS bytes (a handshake record start).
    static FIRST_FRAGMENT: [u8; 8] = [0xC0, 0x00, 0x00, 0x03, 0xE8, 0x16, 0x03, 0x03];

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// What a server sends: fragments of `size` TLS bytes, L on the first only when fragmented.
    fn server_fragments(msg: &[u8], size: usize) -> Vec<Repr<'_>> {
        let chunks: Vec<&[u8]> = if msg.is_empty() {
            vec![&[][..]]
        } else {
            msg.chunks(size).collect()
        };
        let n = chunks.len();
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| Repr {
                more_fragments: i + 1 < n,
                tls_message_length: (i == 0 && n > 1).then_some(msg.len() as u32),
                tls_data: c,
                ..Repr::default()
            })
            .collect()
    }

    #[test]
    fn test_deconstruct() {
        let packet = Packet::new_checked(&FIRST_FRAGMENT[..]).unwrap();
        let flags = packet.flags();
        assert!(flags.length_included && flags.more_fragments && !flags.start);
        assert_eq!(flags.reserved, 0);
        assert_eq!(packet.tls_message_length(), Some(1000));
        assert_eq!(packet.header_len(), 5);
        assert_eq!(packet.tls_data(), &[0x16, 0x03, 0x03]);
    }

    #[test]
    fn test_construct() {
        let mut bytes = [0u8; 8];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_flags(Flags {
            length_included: true,
            more_fragments: true,
            ..Flags::default()
        });
        packet.set_tls_message_length(1000);
        packet.tls_data_mut().copy_from_slice(&[0x16, 0x03, 0x03]);
        assert_eq!(bytes, FIRST_FRAGMENT);
    }

    #[test]
    fn test_parse() {
        let packet = Packet::new_unchecked(&FIRST_FRAGMENT[..]);
        let repr = Repr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            Repr {
                start: false,
                more_fragments: true,
                tls_message_length: Some(1000),
                reserved: 0,
                tls_data: &[0x16, 0x03, 0x03],
            }
        );
        assert_eq!(Repr::parse_bytes(&FIRST_FRAGMENT), Ok(repr));
    }

    #[test]
    fn test_emit() {
        let repr = Repr::parse_bytes(&FIRST_FRAGMENT).unwrap();
        let mut out = [0u8; 8];
        assert_eq!(repr.buffer_len(), 8);
        assert_eq!(repr.emit(&mut out), Ok(8));
        assert_eq!(out, FIRST_FRAGMENT);
    }

    #[test]
    fn start_request_is_parsed() {
        // Type data of an EAP-Request/EAP-TLS Start: Flags 0x20 only.
        let repr = Repr::parse_bytes(&[0x20]).unwrap();
        assert!(repr.start && !repr.is_ack());
        assert!(repr.tls_data.is_empty());
    }

    #[test]
    fn reserved_bits_are_reported_and_not_sent() {
        let repr = Repr::parse_bytes(&[0x1F, 0xAB]).unwrap();
        assert_eq!(repr.reserved, 0x1F);
        assert_eq!(repr.tls_data, &[0xAB]);
        assert!(!repr.start && !repr.more_fragments);
        let mut out = [0u8; 2];
        repr.emit(&mut out).unwrap();
        assert_eq!(out, [0x00, 0xAB]);
        for b in 0..=u8::MAX {
            assert_eq!(Flags::from_byte(b).to_byte(), b & !Flags::RESERVED_MASK);
        }
    }

    #[test]
    fn truncated_data_is_refused_at_every_length() {
        assert_eq!(
            Packet::new_checked(&FIRST_FRAGMENT[..0]),
            Err(Error::MissingFlags)
        );
        for len in 1..5 {
            assert_eq!(
                Packet::new_checked(&FIRST_FRAGMENT[..len]),
                Err(Error::LengthFieldTruncated { len: len - 1 })
            );
        }
        for len in 5..=FIRST_FRAGMENT.len() {
            let packet = Packet::new_checked(&FIRST_FRAGMENT[..len]).unwrap();
            assert_eq!(packet.tls_data().len(), len - 5);
        }
    }

    #[test]
    fn ack_and_response_bytes() {
        let mut out = [0u8; 16];
        assert_eq!(emit_ack(0x42, &mut out), Ok(6));
        assert_eq!(&out[..6], &[0x02, 0x42, 0x00, 0x06, 13, 0x00]);
        let parsed = eap::Packet::new_checked(&out[..6]).unwrap();
        assert!(Repr::parse_bytes(parsed.type_data()).unwrap().is_ack());

        let repr = Repr {
            tls_message_length: Some(2),
            tls_data: &[0x16, 0x03],
            ..Repr::default()
        };
        assert_eq!(emit_response(7, &repr, &mut out), Ok(12));
        assert_eq!(
            &out[..12],
            &[0x02, 7, 0x00, 12, 13, 0x80, 0, 0, 0, 2, 0x16, 0x03]
        );
        assert_eq!(
            emit_response(7, &repr, &mut out[..11]),
            Err(Error::BufferTooSmall {
                needed: 12,
                available: 11
            })
        );
    }

    // ---- Reassembler ----

    fn reassemble(
        frags: &[Repr<'_>],
        buf: &mut [u8],
        config: ReassemblerConfig,
    ) -> Result<usize, Error> {
        let mut r = Reassembler::new(config);
        for (i, f) in frags.iter().enumerate() {
            match r.push(buf, f)? {
                Progress::NeedMore => assert!(i + 1 < frags.len(), "last fragment asked for more"),
                Progress::Complete(n) => {
                    assert_eq!(i + 1, frags.len());
                    return Ok(n);
                }
            }
        }
        panic!("never completed");
    }

    #[test]
    fn multi_fragment_with_length_on_first_only() {
        let msg = pattern(5000);
        for size in [64, 200, 1024, 1398] {
            let frags = server_fragments(&msg, size);
            assert!(frags[0].tls_message_length.is_some());
            assert!(frags[1..].iter().all(|f| f.tls_message_length.is_none()));
            let mut buf = vec![0u8; 16384];
            let config = ReassemblerConfig {
                max_fragments: 100,
                ..ReassemblerConfig::default()
            };
            let n = reassemble(&frags, &mut buf, config).unwrap();
            assert_eq!(&buf[..n], &msg[..], "fragment size {size}");
        }
    }

    #[test]
    fn oversize_tls_length_refused_before_buffering() {
        let mut buf = vec![0xEEu8; 16384];
        let mut r = Reassembler::default();
        let first = Repr {
            more_fragments: true,
            tls_message_length: Some(16385),
            tls_data: &[0x16; 100],
            ..Repr::default()
        };
        assert_eq!(
            r.push(&mut buf, &first),
            Err(Error::AnnouncedTooLarge {
                announced: 16385,
                limit: 16384
            })
        );
        assert_eq!(r.received(), 0);
        assert!(!r.in_progress());
        assert!(buf.iter().all(|&b| b == 0xEE), "buffer untouched");
    }

    #[test]
    fn tls_length_above_buffer_capacity_refused_before_buffering() {
        let mut buf = [0xEEu8; 1000];
        let mut r = Reassembler::default();
        let first = Repr {
            more_fragments: true,
            tls_message_length: Some(1001),
            tls_data: &[0x16; 10],
            ..Repr::default()
        };
        assert_eq!(
            r.push(&mut buf, &first),
            Err(Error::AnnouncedTooLarge {
                announced: 1001,
                limit: 1000
            })
        );
        assert_eq!(buf, [0xEEu8; 1000]);
    }

    #[test]
    fn configured_bound_above_rfc_ceiling_is_lowered() {
        let r = Reassembler::new(ReassemblerConfig {
            max_message_len: 1 << 20,
            max_fragments: 64,
        });
        assert_eq!(r.config().max_message_len, MAX_MESSAGE_LEN_LIMIT);
    }

    #[test]
    fn data_beyond_announced_length_is_an_error() {
        let mut buf = [0u8; 64];
        let mut r = Reassembler::default();
        let first = Repr {
            more_fragments: true,
            tls_message_length: Some(10),
            tls_data: &[1; 6],
            ..Repr::default()
        };
        assert_eq!(r.push(&mut buf, &first), Ok(Progress::NeedMore));
        let second = Repr {
            tls_data: &[2; 5],
            ..Repr::default()
        };
        assert_eq!(
            r.push(&mut buf, &second),
            Err(Error::BeyondAnnounced {
                announced: 10,
                received: 11
            })
        );
        assert_eq!(&buf[6..11], &[0; 5], "excess fragment not buffered");
        assert!(!r.in_progress());
    }

    #[test]
    fn message_shorter_than_announced_is_an_error() {
        let mut buf = [0u8; 64];
        let mut r = Reassembler::default();
        let only = Repr {
            tls_message_length: Some(10),
            tls_data: &[1; 9],
            ..Repr::default()
        };
        assert_eq!(
            r.push(&mut buf, &only),
            Err(Error::ShorterThanAnnounced {
                announced: 10,
                received: 9
            })
        );
    }

    #[test]
    fn fragment_flood_is_refused() {
        let mut buf = [0u8; 16384];
        let mut r = Reassembler::default();
        let tiny = Repr {
            more_fragments: true,
            tls_data: &[0x16],
            ..Repr::default()
        };
        for _ in 0..DEFAULT_MAX_FRAGMENTS {
            assert_eq!(r.push(&mut buf, &tiny), Ok(Progress::NeedMore));
        }
        assert_eq!(
            r.push(&mut buf, &tiny),
            Err(Error::TooManyFragments { limit: 64 })
        );
        assert!(!r.in_progress());
    }

    #[test]
    fn single_fragment_with_length_and_no_more() {
        let mut buf = [0u8; 64];
        let mut r = Reassembler::default();
        let only = Repr {
            tls_message_length: Some(3),
            tls_data: &[1, 2, 3],
            ..Repr::default()
        };
        assert_eq!(r.push(&mut buf, &only), Ok(Progress::Complete(3)));
        assert_eq!(&buf[..3], &[1, 2, 3]);
        assert!(!r.in_progress());
    }

    #[test]
    fn single_fragment_without_length() {
        let mut buf = [0u8; 64];
        let mut r = Reassembler::default();
        let only = Repr {
            tls_data: &[9, 8],
            ..Repr::default()
        };
        assert_eq!(r.push(&mut buf, &only), Ok(Progress::Complete(2)));
    }

    #[test]
    fn empty_payload_completes_an_empty_message() {
        let mut buf = [0u8; 8];
        let mut r = Reassembler::default();
        assert_eq!(
            r.push(&mut buf, &Repr::default()),
            Ok(Progress::Complete(0))
        );
        let with_zero_length = Repr {
            tls_message_length: Some(0),
            ..Repr::default()
        };
        assert_eq!(
            r.push(&mut buf, &with_zero_length),
            Ok(Progress::Complete(0))
        );
    }

    #[test]
    fn more_without_length_is_accepted_but_bounded() {
        let mut buf = [0u8; 300];
        let mut r = Reassembler::new(ReassemblerConfig {
            max_message_len: 250,
            max_fragments: 64,
        });
        let frag = Repr {
            more_fragments: true,
            tls_data: &[7; 100],
            ..Repr::default()
        };
        assert_eq!(r.push(&mut buf, &frag), Ok(Progress::NeedMore));
        assert_eq!(r.push(&mut buf, &frag), Ok(Progress::NeedMore));
        assert_eq!(
            r.push(&mut buf, &frag),
            Err(Error::MessageTooLarge {
                received: 300,
                limit: 250
            })
        );
        assert_eq!(&buf[200..], &[0; 100], "over-limit fragment not buffered");
    }

    #[test]
    fn consistent_length_on_later_fragments_is_tolerated() {
        let mut buf = [0u8; 64];
        let mut r = Reassembler::default();
        let mk = |more, l, data| Repr {
            more_fragments: more,
            tls_message_length: l,
            tls_data: data,
            ..Repr::default()
        };
        assert_eq!(
            r.push(&mut buf, &mk(true, Some(6), &[1, 2])),
            Ok(Progress::NeedMore)
        );
        assert_eq!(
            r.push(&mut buf, &mk(true, Some(6), &[3, 4])),
            Ok(Progress::NeedMore)
        );
        assert_eq!(
            r.push(&mut buf, &mk(false, Some(6), &[5, 6])),
            Ok(Progress::Complete(6))
        );
        assert_eq!(&buf[..6], &[1, 2, 3, 4, 5, 6]);

        assert_eq!(
            r.push(&mut buf, &mk(true, Some(6), &[1, 2])),
            Ok(Progress::NeedMore)
        );
        assert_eq!(
            r.push(&mut buf, &mk(false, Some(7), &[3, 4])),
            Err(Error::InconsistentLength { first: 6, now: 7 })
        );

        // L first seen on a later fragment: adopted if it covers what came and fits the bound.
        assert_eq!(
            r.push(&mut buf, &mk(true, None, &[1, 2])),
            Ok(Progress::NeedMore)
        );
        assert_eq!(
            r.push(&mut buf, &mk(false, Some(4), &[3, 4])),
            Ok(Progress::Complete(4))
        );
        assert_eq!(
            r.push(&mut buf, &mk(true, None, &[1, 2, 3])),
            Ok(Progress::NeedMore)
        );
        assert_eq!(
            r.push(&mut buf, &mk(false, Some(4), &[4, 5])),
            Err(Error::BeyondAnnounced {
                announced: 4,
                received: 5
            })
        );
    }

    #[test]
    fn shrunken_buffer_is_an_error_not_a_panic() {
        let mut big = [0u8; 64];
        let mut small = [0u8; 4];
        let mut r = Reassembler::default();
        let frag = Repr {
            more_fragments: true,
            tls_data: &[1; 10],
            ..Repr::default()
        };
        assert_eq!(r.push(&mut big, &frag), Ok(Progress::NeedMore));
        assert_eq!(
            r.push(&mut small, &frag),
            Err(Error::BufferShrunk {
                received: 10,
                capacity: 4
            })
        );
    }

    // ---- Fragmenter ----

    fn fragment_all(data: &[u8], config: FragmenterConfig) -> Vec<Vec<u8>> {
        let mut f = Fragmenter::new(config);
        let mut out = vec![0u8; config.fragment_size.max(1) + MAX_OVERHEAD];
        let mut packets = Vec::new();
        while let Some(n) = f.next_response(1, data, &mut out).unwrap() {
            packets.push(out[..n].to_vec());
            assert!(
                packets.len() <= data.len() + 1,
                "fragmenter does not terminate"
            );
        }
        assert!(f.is_finished());
        assert_eq!(f.sent(), data.len());
        packets
    }

    fn tls_repr(packet: &[u8]) -> Repr<'_> {
        let eap = eap::Packet::new_checked(packet).unwrap();
        assert_eq!(eap.code(), eap::Code::Response);
        assert_eq!(eap.eap_type(), Some(eap::Type::Tls));
        assert_eq!(usize::from(eap.length()), packet.len());
        Repr::parse_bytes(&packet[eap::TYPED_HEADER_LEN..]).unwrap()
    }

    #[test]
    fn fragmenter_exact_boundaries() {
        let size = 100;
        let config = FragmenterConfig {
            fragment_size: size,
            ..FragmenterConfig::default()
        };
        // (message length, expected fragment TLS lengths)
        let cases: [(usize, &[usize]); 5] = [
            (0, &[0]),
            (1, &[1]),
            (size, &[size]),
            (size + 1, &[size, 1]),
            (2 * size, &[size, size]),
        ];
        for (len, expected) in cases {
            let data = pattern(len);
            let packets = fragment_all(&data, config);
            assert_eq!(packets.len(), expected.len(), "length {len}");
            for (i, p) in packets.iter().enumerate() {
                let repr = tls_repr(p);
                let last = i + 1 == packets.len();
                assert_eq!(repr.tls_data.len(), expected[i]);
                assert_eq!(repr.more_fragments, !last);
                let want_l = (i == 0 && packets.len() > 1).then_some(len as u32);
                assert_eq!(repr.tls_message_length, want_l);
                assert!(!repr.start);
                assert!(p.len() <= size + MAX_OVERHEAD);
            }
        }
    }

    #[test]
    fn fragmenter_default_is_1398_and_matches_wpa_supplicant_layout() {
        let data = pattern(3000);
        let packets = fragment_all(&data, FragmenterConfig::default());
        let sizes: Vec<usize> = packets.iter().map(|p| tls_repr(p).tls_data.len()).collect();
        assert_eq!(sizes, [1398, 1398, 204]);
        // First packet: EAP header, type 13, flags L|M, length 3000.
        assert_eq!(
            &packets[0][..10],
            &[0x02, 1, 0x05, 0x80, 13, 0xC0, 0, 0, 0x0B, 0xB8]
        );
        assert_eq!(packets[0].len(), 1398 + 10);
        assert_eq!(packets[1][5], 0x40);
        assert_eq!(packets[2][5], 0x00);
    }

    #[test]
    fn fragmenter_always_include_length() {
        let config = FragmenterConfig {
            fragment_size: 100,
            always_include_length: true,
        };
        for len in [0, 1, 100] {
            let packets = fragment_all(&pattern(len), config);
            assert_eq!(packets.len(), 1);
            assert_eq!(tls_repr(&packets[0]).tls_message_length, Some(len as u32));
        }
        let packets = fragment_all(&pattern(150), config);
        assert_eq!(tls_repr(&packets[0]).tls_message_length, Some(150));
        assert_eq!(tls_repr(&packets[1]).tls_message_length, None);
    }

    #[test]
    fn fragmenter_body_only_and_small_buffer_leaves_state_alone() {
        let data = pattern(250);
        let mut f = Fragmenter::new(FragmenterConfig {
            fragment_size: 100,
            ..FragmenterConfig::default()
        });
        let mut tiny = [0u8; 50];
        assert_eq!(
            f.next_fragment(&data, &mut tiny),
            Err(Error::BufferTooSmall {
                needed: 105,
                available: 50
            })
        );
        assert_eq!(f.sent(), 0);
        let mut out = [0u8; 105];
        assert_eq!(f.next_fragment(&data, &mut out), Ok(Some(105)));
        assert_eq!(&out[..5], &[0xC0, 0, 0, 0, 250]);
        assert_eq!(
            f.next_fragment(&data[..200], &mut out),
            Err(Error::DataChanged {
                expected: 250,
                got: 200
            })
        );
        assert_eq!(f.next_fragment(&data, &mut out), Ok(Some(101)));
        assert_eq!(out[0], 0x40);
        assert_eq!(f.next_fragment(&data, &mut out), Ok(Some(51)));
        assert_eq!(out[0], 0x00);
        assert_eq!(f.next_fragment(&data, &mut out), Ok(None));
        f.reset();
        assert_eq!(f.next_fragment(&data[..3], &mut out), Ok(Some(4)));
        assert_eq!(&out[..4], &[0x00, data[0], data[1], data[2]]);
    }

    #[test]
    fn fragment_size_zero_is_treated_as_one() {
        let packets = fragment_all(
            &[1, 2],
            FragmenterConfig {
                fragment_size: 0,
                always_include_length: false,
            },
        );
        assert_eq!(packets.len(), 2);
    }

    #[test]
    fn error_messages_are_plain_words() {
        let e = Error::AnnouncedTooLarge {
            announced: 70000,
            limit: 16384,
        };
        assert_eq!(
            alloc::format!("{e}"),
            "TLS message length 70000 exceeds the limit of 16384 bytes"
        );
    }

    proptest! {
        #[test]
        fn fragmenter_to_reassembler_round_trip(
            len in 0usize..20000,
            size in 16usize..2000,
            always_include_length in any::<bool>(),
            seed in any::<u8>(),
        ) {
            let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
            let packets = fragment_all(&data, FragmenterConfig { fragment_size: size, always_include_length });
            let mut buf = vec![0u8; 20000];
            let mut r = Reassembler::new(ReassemblerConfig {
                max_message_len: 20000,
                max_fragments: 2000,
            });
            let mut done = None;
            for (i, p) in packets.iter().enumerate() {
                prop_assert!(done.is_none());
                match r.push(&mut buf, &tls_repr(p)).unwrap() {
                    Progress::NeedMore => prop_assert!(i + 1 < packets.len()),
                    Progress::Complete(n) => done = Some(n),
                }
            }
            let n = done.unwrap();
            prop_assert_eq!(&buf[..n], &data[..]);
        }

        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            cap in 0usize..64,
        ) {
            let packet = Packet::new_unchecked(&bytes[..]);
            let _ = (packet.flags(), packet.tls_message_length(), packet.tls_data());
            if let Ok(repr) = Repr::parse_bytes(&bytes) {
                let mut out = [0u8; 64];
                prop_assert_eq!(repr.emit(&mut out), Ok(repr.buffer_len()));
                let mut buf = vec![0u8; cap];
                let mut r = Reassembler::default();
                let _ = r.push(&mut buf, &repr);
                let _ = r.push(&mut buf, &repr);
            }
        }

        #[test]
        fn random_fragment_sequences_never_panic(
            frags in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..20),
            cap in 0usize..200,
        ) {
            let mut buf = vec![0u8; cap];
            let mut r = Reassembler::new(ReassemblerConfig { max_message_len: 150, max_fragments: 10 });
            for f in &frags {
                if let Ok(repr) = Repr::parse_bytes(f) {
                    if let Ok(Progress::Complete(n)) = r.push(&mut buf, &repr) {
                        prop_assert!(n <= cap.min(150));
                    }
                }
            }
        }
    }
}

pub mod keys;
pub mod method;
