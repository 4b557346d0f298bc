//! EAP packets (RFC 3748 §4, §5): code, identifier, length, and for Request/Response the Type
//! and its data. A zero-copy [`Packet`] view, a plain [`Repr`], and the few responses a peer
//! emits itself (Identity, legacy and expanded Nak). The peer state machine lives elsewhere.

use core::fmt;

use crate::bytes::{read_u16_be, read_u24_be, read_u32_be, write_bytes, write_u16_be, write_u8};
use crate::bytes::{write_u24_be, write_u32_be};

/// Byte offsets of the EAP header fields.
mod field {
    pub const CODE: usize = 0;
    pub const IDENTIFIER: usize = 1;
    pub const LENGTH: usize = 2;
    pub const TYPE: usize = 4;
    pub const TYPE_DATA: usize = 5;
}

/// Length of the EAP header (code, identifier, length).
pub const HEADER_LEN: usize = field::TYPE;

/// Length of an EAP Request/Response header including the Type byte.
pub const TYPED_HEADER_LEN: usize = field::TYPE_DATA;

/// Largest value of the 24-bit expanded-type Vendor-Id.
pub const MAX_VENDOR_ID: u32 = 0x00FF_FFFF;

/// Why an EAP packet could not be parsed or emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// Fewer than 4 bytes: no complete header.
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// The Length field is smaller than the 4-byte header.
    LengthTooShort {
        /// Length field value.
        length: u16,
    },
    /// The Length field is larger than the frame that carried the packet.
    LengthBeyondFrame {
        /// Length field value.
        length: u16,
        /// Bytes available.
        available: usize,
    },
    /// A Request or Response without its Type byte (Length 4).
    MissingType {
        /// The packet's code.
        code: Code,
    },
    /// A Success or Failure whose Length is not 4 (RFC 3748 §4.2).
    SuccessFailureLength {
        /// Length field value.
        length: u16,
    },
    /// Expanded type data shorter than its 7-byte Vendor-Id and Vendor-Type.
    ExpandedTruncated {
        /// Bytes of type data available.
        len: usize,
    },
    /// A Vendor-Id that does not fit in 24 bits.
    VendorIdOutOfRange {
        /// The value asked for.
        vendor_id: u32,
    },
    /// A packet longer than 65535 bytes cannot be described by the 16-bit Length field.
    TooLong {
        /// Bytes the packet would take.
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
            Error::Truncated { len } => write!(
                f,
                "EAP packet of {len} bytes is shorter than the 4-byte header"
            ),
            Error::LengthTooShort { length } => {
                write!(f, "EAP length {length} is shorter than the 4-byte header")
            }
            Error::LengthBeyondFrame { length, available } => {
                write!(f, "EAP length {length} exceeds frame of {available} bytes")
            }
            Error::MissingType { code } => write!(f, "EAP {code} has no Type byte"),
            Error::SuccessFailureLength { length } => {
                write!(f, "EAP Success/Failure has length {length}, expected 4")
            }
            Error::ExpandedTruncated { len } => write!(
                f,
                "expanded EAP type needs 7 bytes of Vendor-Id and Vendor-Type, got {len}"
            ),
            Error::VendorIdOutOfRange { vendor_id } => {
                write!(f, "EAP Vendor-Id {vendor_id:#x} does not fit in 24 bits")
            }
            Error::TooLong { len } => write!(
                f,
                "EAP packet of {len} bytes does not fit the 16-bit length field"
            ),
            Error::BufferTooSmall { needed, available } => write!(
                f,
                "output buffer of {available} bytes is too small for a {needed}-byte EAP packet"
            ),
        }
    }
}

impl core::error::Error for Error {}

/// EAP Code (RFC 3748 §4). Unknown codes are values; the peer discards them silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Code {
    /// 1
    Request,
    /// 2
    Response,
    /// 3
    Success,
    /// 4
    Failure,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for Code {
    fn from(v: u8) -> Self {
        match v {
            1 => Code::Request,
            2 => Code::Response,
            3 => Code::Success,
            4 => Code::Failure,
            other => Code::Unknown(other),
        }
    }
}

impl From<Code> for u8 {
    fn from(c: Code) -> u8 {
        match c {
            Code::Request => 1,
            Code::Response => 2,
            Code::Success => 3,
            Code::Failure => 4,
            Code::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Code::Request => write!(f, "Request"),
            Code::Response => write!(f, "Response"),
            Code::Success => write!(f, "Success"),
            Code::Failure => write!(f, "Failure"),
            Code::Unknown(v) => write!(f, "code {v}"),
        }
    }
}

/// EAP method Type (RFC 3748 §5, IANA "Method Types"). Unknown types are values: the peer
/// answers them with a Nak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Type {
    /// 1
    Identity,
    /// 2
    Notification,
    /// 3 (legacy Nak, Response only)
    Nak,
    /// 4
    Md5Challenge,
    /// 13 (RFC 5216, RFC 9190)
    Tls,
    /// 21
    Ttls,
    /// 25
    Peap,
    /// 254: Vendor-Id and Vendor-Type follow (RFC 3748 §5.7), see [`ExpandedType`].
    Expanded,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for Type {
    fn from(v: u8) -> Self {
        match v {
            1 => Type::Identity,
            2 => Type::Notification,
            3 => Type::Nak,
            4 => Type::Md5Challenge,
            13 => Type::Tls,
            21 => Type::Ttls,
            25 => Type::Peap,
            254 => Type::Expanded,
            other => Type::Unknown(other),
        }
    }
}

impl From<Type> for u8 {
    fn from(t: Type) -> u8 {
        match t {
            Type::Identity => 1,
            Type::Notification => 2,
            Type::Nak => 3,
            Type::Md5Challenge => 4,
            Type::Tls => 13,
            Type::Ttls => 21,
            Type::Peap => 25,
            Type::Expanded => 254,
            Type::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Type::Identity => write!(f, "Identity"),
            Type::Notification => write!(f, "Notification"),
            Type::Nak => write!(f, "Nak"),
            Type::Md5Challenge => write!(f, "MD5-Challenge"),
            Type::Tls => write!(f, "EAP-TLS"),
            Type::Ttls => write!(f, "EAP-TTLS"),
            Type::Peap => write!(f, "PEAP"),
            Type::Expanded => write!(f, "Expanded"),
            Type::Unknown(v) => write!(f, "type {v}"),
        }
    }
}

/// An expanded method type (RFC 3748 §5.7): 24-bit Vendor-Id and 32-bit Vendor-Type.
/// Vendor-Id 0 is the IETF, whose Vendor-Types are the legacy Type numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ExpandedType {
    /// Vendor-Id (SMI network management private enterprise code), 24 bits.
    pub vendor_id: u32,
    /// Vendor-Type.
    pub vendor_type: u32,
}

impl ExpandedType {
    /// Vendor 0, type 3: the expanded Nak.
    pub const NAK: ExpandedType = ExpandedType {
        vendor_id: 0,
        vendor_type: 3,
    };
    /// Vendor 0, type 13: EAP-TLS written as an expanded type.
    pub const TLS: ExpandedType = ExpandedType {
        vendor_id: 0,
        vendor_type: 13,
    };
    /// Vendor 0, type 0: "no viable alternative" in an expanded Nak.
    pub const NONE: ExpandedType = ExpandedType {
        vendor_id: 0,
        vendor_type: 0,
    };

    /// Bytes an expanded type takes after the 254 Type byte.
    pub const LEN: usize = 7;

    /// Splits the type data of a Type 254 packet into its expanded type and the method data.
    pub fn parse(type_data: &[u8]) -> Result<(ExpandedType, &[u8]), Error> {
        let truncated = Error::ExpandedTruncated {
            len: type_data.len(),
        };
        let vendor_id = read_u24_be(type_data, 0).ok_or(truncated)?;
        let vendor_type = read_u32_be(type_data, 3).ok_or(truncated)?;
        let rest = type_data.get(Self::LEN..).ok_or(truncated)?;
        Ok((
            ExpandedType {
                vendor_id,
                vendor_type,
            },
            rest,
        ))
    }

    /// Writes the full 8-byte form (254, Vendor-Id, Vendor-Type) at `out[at..]`.
    fn write(&self, out: &mut [u8], at: usize) -> Result<(), Error> {
        if self.vendor_id > MAX_VENDOR_ID {
            return Err(Error::VendorIdOutOfRange {
                vendor_id: self.vendor_id,
            });
        }
        let ok = match (at.checked_add(1), at.checked_add(4)) {
            (Some(id_at), Some(type_at)) => {
                write_u8(out, at, Type::Expanded.into())
                    && write_u24_be(out, id_at, self.vendor_id)
                    && write_u32_be(out, type_at, self.vendor_type)
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::BufferTooSmall {
                needed: at.saturating_add(1 + Self::LEN),
                available: out.len(),
            })
        }
    }
}

/// A read/write view of an EAP packet in a borrowed buffer.
///
/// [`Packet::new_checked`] validates the Length field against the buffer once; bytes after
/// Length are padding and invisible to the getters. On an unchecked view, missing bytes read as
/// 0 and writes past the buffer are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

#[cfg(feature = "defmt")]
impl<T: AsRef<[u8]>> defmt::Format for Packet<T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "EAP packet ({=usize} bytes)", self.buffer.as_ref().len())
    }
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it (for emitting into, or after [`Packet::check`]).
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a received packet and validates it ([`Packet::check`]).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check()?;
        Ok(packet)
    }

    /// Checks the Length field is at least 4 and within the buffer, that a Request/Response
    /// has its Type byte, and that a Success/Failure has Length exactly 4.
    pub fn check(&self) -> Result<(), Error> {
        let data = self.buffer.as_ref();
        let Some(length) = read_u16_be(data, field::LENGTH) else {
            return Err(Error::Truncated { len: data.len() });
        };
        if usize::from(length) < HEADER_LEN {
            return Err(Error::LengthTooShort { length });
        }
        if usize::from(length) > data.len() {
            return Err(Error::LengthBeyondFrame {
                length,
                available: data.len(),
            });
        }
        match self.code() {
            code @ (Code::Request | Code::Response) if usize::from(length) < TYPED_HEADER_LEN => {
                Err(Error::MissingType { code })
            }
            Code::Success | Code::Failure if usize::from(length) != HEADER_LEN => {
                Err(Error::SuccessFailureLength { length })
            }
            _ => Ok(()),
        }
    }

    /// Consumes the view and returns the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Code.
    pub fn code(&self) -> Code {
        Code::from(self.byte(field::CODE))
    }

    /// Identifier.
    pub fn identifier(&self) -> u8 {
        self.byte(field::IDENTIFIER)
    }

    /// Length field (header included).
    pub fn length(&self) -> u16 {
        read_u16_be(self.buffer.as_ref(), field::LENGTH).unwrap_or(0)
    }

    /// The method Type of a Request or Response; `None` for other codes.
    pub fn eap_type(&self) -> Option<Type> {
        match self.code() {
            Code::Request | Code::Response if usize::from(self.length()) > field::TYPE => {
                Some(Type::from(self.byte(field::TYPE)))
            }
            _ => None,
        }
    }

    /// Everything after the 4-byte header, up to Length (Type byte included).
    pub fn payload(&self) -> &[u8] {
        let end = usize::from(self.length());
        self.buffer.as_ref().get(HEADER_LEN..end).unwrap_or(&[])
    }

    /// The data after the Type byte of a Request/Response, up to Length; empty otherwise.
    pub fn type_data(&self) -> &[u8] {
        if self.eap_type().is_none() {
            return &[];
        }
        let end = usize::from(self.length());
        self.buffer
            .as_ref()
            .get(field::TYPE_DATA..end)
            .unwrap_or(&[])
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the Code.
    pub fn set_code(&mut self, value: Code) {
        write_u8(self.buffer.as_mut(), field::CODE, value.into());
    }

    /// Sets the Identifier.
    pub fn set_identifier(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::IDENTIFIER, value);
    }

    /// Sets the Length field.
    pub fn set_length(&mut self, value: u16) {
        write_u16_be(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Sets the Type byte.
    pub fn set_eap_type(&mut self, value: Type) {
        write_u8(self.buffer.as_mut(), field::TYPE, value.into());
    }

    /// The data after the Type byte, up to Length, mutable (empty if it does not fit).
    pub fn type_data_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.length());
        self.buffer
            .as_mut()
            .get_mut(field::TYPE_DATA..end)
            .unwrap_or(&mut [])
    }
}

/// An EAP packet as plain data, borrowing its type data from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Repr<'a> {
    /// A Request from the authenticator.
    Request {
        /// Identifier.
        identifier: u8,
        /// Method type.
        eap_type: Type,
        /// Data after the Type byte (for [`Type::Expanded`], starts with the Vendor-Id).
        data: &'a [u8],
    },
    /// A Response from the peer.
    Response {
        /// Identifier (copied from the Request).
        identifier: u8,
        /// Method type.
        eap_type: Type,
        /// Data after the Type byte.
        data: &'a [u8],
    },
    /// Success.
    Success {
        /// Identifier.
        identifier: u8,
    },
    /// Failure.
    Failure {
        /// Identifier.
        identifier: u8,
    },
    /// A code RFC 3748 does not define; the peer discards it.
    Unknown {
        /// The code.
        code: u8,
        /// Identifier.
        identifier: u8,
        /// Bytes after the header, up to Length.
        payload: &'a [u8],
    },
}

impl<'a> Repr<'a> {
    /// Parses a packet (re-running [`Packet::check`]).
    pub fn parse<T: AsRef<[u8]>>(packet: &'a Packet<T>) -> Result<Repr<'a>, Error> {
        packet.check()?;
        let identifier = packet.identifier();
        Ok(match packet.code() {
            Code::Request | Code::Response => {
                let eap_type = Type::from(packet.byte(field::TYPE));
                let data = packet.type_data();
                if packet.code() == Code::Request {
                    Repr::Request {
                        identifier,
                        eap_type,
                        data,
                    }
                } else {
                    Repr::Response {
                        identifier,
                        eap_type,
                        data,
                    }
                }
            }
            Code::Success => Repr::Success { identifier },
            Code::Failure => Repr::Failure { identifier },
            Code::Unknown(code) => Repr::Unknown {
                code,
                identifier,
                payload: packet.payload(),
            },
        })
    }

    /// Bytes the packet takes on the wire (its Length field).
    pub const fn buffer_len(&self) -> usize {
        match self {
            // A slice holds at most isize::MAX bytes, so these never saturate.
            Repr::Request { data, .. } | Repr::Response { data, .. } => {
                TYPED_HEADER_LEN.saturating_add(data.len())
            }
            Repr::Success { .. } | Repr::Failure { .. } => HEADER_LEN,
            Repr::Unknown { payload, .. } => HEADER_LEN.saturating_add(payload.len()),
        }
    }

    /// Writes the packet to the front of `out`; returns its length. Nothing is written if it
    /// does not fit or is longer than 65535 bytes.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, Error> {
        let len = self.buffer_len();
        let length = u16::try_from(len).map_err(|_| Error::TooLong { len })?;
        if out.len() < len {
            return Err(Error::BufferTooSmall {
                needed: len,
                available: out.len(),
            });
        }
        let (code, identifier, eap_type, body) = match *self {
            Repr::Request {
                identifier,
                eap_type,
                data,
            } => (Code::Request, identifier, Some(eap_type), data),
            Repr::Response {
                identifier,
                eap_type,
                data,
            } => (Code::Response, identifier, Some(eap_type), data),
            Repr::Success { identifier } => (Code::Success, identifier, None, &[][..]),
            Repr::Failure { identifier } => (Code::Failure, identifier, None, &[][..]),
            Repr::Unknown {
                code,
                identifier,
                payload,
            } => (Code::Unknown(code), identifier, None, payload),
        };
        let mut packet = Packet::new_unchecked(&mut *out);
        packet.set_code(code);
        packet.set_identifier(identifier);
        packet.set_length(length);
        let body_at = match eap_type {
            Some(t) => {
                packet.set_eap_type(t);
                field::TYPE_DATA
            }
            None => HEADER_LEN,
        };
        // The length check above makes this copy infallible; keep the error path anyway.
        if !write_bytes(out, body_at, body) {
            return Err(Error::BufferTooSmall {
                needed: len,
                available: out.len(),
            });
        }
        Ok(len)
    }
}

impl fmt::Display for Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Repr::Request {
                identifier,
                eap_type,
                data,
            } => write!(
                f,
                "EAP Request id={identifier} type={eap_type} data_len={}",
                data.len()
            ),
            Repr::Response {
                identifier,
                eap_type,
                data,
            } => write!(
                f,
                "EAP Response id={identifier} type={eap_type} data_len={}",
                data.len()
            ),
            Repr::Success { identifier } => write!(f, "EAP Success id={identifier}"),
            Repr::Failure { identifier } => write!(f, "EAP Failure id={identifier}"),
            Repr::Unknown {
                code,
                identifier,
                payload,
            } => write!(
                f,
                "EAP code {code} id={identifier} len={}",
                HEADER_LEN.saturating_add(payload.len())
            ),
        }
    }
}

/// Writes an EAP Response (`identifier`, `eap_type`, `data`) to the front of `out`; returns
/// its length.
pub fn emit_response(
    identifier: u8,
    eap_type: Type,
    data: &[u8],
    out: &mut [u8],
) -> Result<usize, Error> {
    Repr::Response {
        identifier,
        eap_type,
        data,
    }
    .emit(out)
}

/// Writes an EAP Response/Identity carrying `identity` (RFC 3748 §5.1).
pub fn emit_identity(identifier: u8, identity: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    emit_response(identifier, Type::Identity, identity, out)
}

/// Writes a legacy Nak (Type 3, RFC 3748 §5.3.1) answering a Request whose Type is not
/// [`Type::Expanded`]: one byte per proposed type, in order of preference. An empty `proposed`
/// is sent as the single byte 0, "no viable alternative". Proposing [`Type::Expanded`] tells
/// the server the peer understands expanded types.
pub fn emit_nak(identifier: u8, proposed: &[Type], out: &mut [u8]) -> Result<usize, Error> {
    let data_len = proposed.len().max(1);
    // Saturating: an impossible length still fails the u16 conversion below.
    let len = TYPED_HEADER_LEN.saturating_add(data_len);
    let length = u16::try_from(len).map_err(|_| Error::TooLong { len })?;
    if out.len() < len {
        return Err(Error::BufferTooSmall {
            needed: len,
            available: out.len(),
        });
    }
    write_typed_header(out, Code::Response, identifier, length, Type::Nak);
    let data = out.get_mut(field::TYPE_DATA..len).unwrap_or(&mut []);
    if proposed.is_empty() {
        data.fill(0);
    }
    for (slot, t) in data.iter_mut().zip(proposed) {
        *slot = u8::from(*t);
    }
    Ok(len)
}

/// Writes an expanded Nak (RFC 3748 §5.3.2) answering a Request of Type 254: Type 254,
/// Vendor-Id 0, Vendor-Type 3, then each proposed method as an 8-byte expanded type
/// (254, Vendor-Id, Vendor-Type). An empty `proposed` is sent as [`ExpandedType::NONE`].
/// A peer offering EAP-TLS proposes `&[ExpandedType::TLS]`.
pub fn emit_expanded_nak(
    identifier: u8,
    proposed: &[ExpandedType],
    out: &mut [u8],
) -> Result<usize, Error> {
    const ENTRY: usize = 1 + ExpandedType::LEN;
    let entries = proposed.len().max(1);
    let len = entries
        .checked_mul(ENTRY)
        .and_then(|n| n.checked_add(HEADER_LEN + ENTRY))
        .ok_or(Error::TooLong { len: usize::MAX })?;
    let length = u16::try_from(len).map_err(|_| Error::TooLong { len })?;
    if out.len() < len {
        return Err(Error::BufferTooSmall {
            needed: len,
            available: out.len(),
        });
    }
    if let Some(bad) = proposed.iter().find(|e| e.vendor_id > MAX_VENDOR_ID) {
        return Err(Error::VendorIdOutOfRange {
            vendor_id: bad.vendor_id,
        });
    }
    write_typed_header(out, Code::Response, identifier, length, Type::Expanded);
    // The Type byte 254 was just written; rewrite it together with the Nak's own Vendor fields.
    ExpandedType::NAK.write(out, field::TYPE)?;
    let list: &[ExpandedType] = if proposed.is_empty() {
        &[ExpandedType::NONE]
    } else {
        proposed
    };
    let mut at = HEADER_LEN + ENTRY;
    for entry in list {
        entry.write(out, at)?;
        // at stays below len (checked to fit in out); a write past it fails typed anyway.
        at = at.saturating_add(ENTRY);
    }
    Ok(len)
}

/// Writes code, identifier, length and type; the caller has checked `out` holds them.
fn write_typed_header(out: &mut [u8], code: Code, identifier: u8, length: u16, eap_type: Type) {
    let mut packet = Packet::new_unchecked(out);
    packet.set_code(code);
    packet.set_identifier(identifier);
    packet.set_length(length);
    packet.set_eap_type(eap_type);
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
    use proptest::prelude::*;

    // EAP-Request/Identity, id 0x2A, with the optional displayable message "hi".
    static REQ_IDENTITY: [u8; 7] = [0x01, 0x2A, 0x00, 0x07, 0x01, b'h', b'i'];
    // EAP-Success, id 7, then 3 bytes of Ethernet padding.
    static SUCCESS_PADDED: [u8; 7] = [0x03, 0x07, 0x00, 0x04, 0, 0, 0];

    #[test]
    fn test_deconstruct() {
        let packet = Packet::new_checked(&REQ_IDENTITY[..]).unwrap();
        assert_eq!(packet.code(), Code::Request);
        assert_eq!(packet.identifier(), 0x2A);
        assert_eq!(packet.length(), 7);
        assert_eq!(packet.eap_type(), Some(Type::Identity));
        assert_eq!(packet.type_data(), b"hi");
        assert_eq!(packet.payload(), &[0x01, b'h', b'i']);
    }

    #[test]
    fn test_construct() {
        let mut bytes = [0u8; 7];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_code(Code::Request);
        packet.set_identifier(0x2A);
        packet.set_length(7);
        packet.set_eap_type(Type::Identity);
        packet.type_data_mut().copy_from_slice(b"hi");
        assert_eq!(bytes, REQ_IDENTITY);
    }

    #[test]
    fn test_parse() {
        let packet = Packet::new_unchecked(&REQ_IDENTITY[..]);
        assert_eq!(
            Repr::parse(&packet),
            Ok(Repr::Request {
                identifier: 0x2A,
                eap_type: Type::Identity,
                data: b"hi"
            })
        );
        let packet = Packet::new_unchecked(&SUCCESS_PADDED[..]);
        assert_eq!(Repr::parse(&packet), Ok(Repr::Success { identifier: 7 }));
    }

    #[test]
    fn test_emit() {
        let repr = Repr::Request {
            identifier: 0x2A,
            eap_type: Type::Identity,
            data: b"hi",
        };
        let mut out = [0u8; 16];
        assert_eq!(repr.buffer_len(), 7);
        assert_eq!(repr.emit(&mut out), Ok(7));
        assert_eq!(&out[..7], &REQ_IDENTITY);
        let mut out = [0xFFu8; 4];
        assert_eq!(Repr::Failure { identifier: 9 }.emit(&mut out), Ok(4));
        assert_eq!(out, [0x04, 0x09, 0x00, 0x04]);
    }

    #[test]
    fn identity_response_bytes() {
        let mut out = [0u8; 32];
        let n = emit_identity(0x2A, b"dev@example.test", &mut out).unwrap();
        assert_eq!(&out[..5], &[0x02, 0x2A, 0x00, 21, 0x01]);
        assert_eq!(&out[5..n], b"dev@example.test");
    }

    #[test]
    fn legacy_nak_proposes_tls() {
        let mut out = [0u8; 8];
        assert_eq!(emit_nak(5, &[Type::Tls], &mut out), Ok(6));
        assert_eq!(&out[..6], &[0x02, 0x05, 0x00, 0x06, 0x03, 13]);
        let n = emit_nak(5, &[], &mut out).unwrap();
        assert_eq!(&out[..n], &[0x02, 0x05, 0x00, 0x06, 0x03, 0]);
        let n = emit_nak(5, &[Type::Tls, Type::Expanded], &mut out).unwrap();
        assert_eq!(&out[..n], &[0x02, 0x05, 0x00, 0x07, 0x03, 13, 254]);
    }

    #[test]
    fn expanded_request_is_parsed_and_answered_with_expanded_nak() {
        // Request, id 3, Type 254, Vendor-Id 0x009E2B, Vendor-Type 42, one data byte.
        let req = [0x01, 3, 0, 13, 254, 0x00, 0x9E, 0x2B, 0, 0, 0, 42, 0xAB];
        let packet = Packet::new_checked(&req[..]).unwrap();
        let Repr::Request { eap_type, data, .. } = Repr::parse(&packet).unwrap() else {
            panic!("not a request");
        };
        assert_eq!(eap_type, Type::Expanded);
        let (expanded, rest) = ExpandedType::parse(data).unwrap();
        assert_eq!(
            expanded,
            ExpandedType {
                vendor_id: 0x9E2B,
                vendor_type: 42
            }
        );
        assert_eq!(rest, &[0xAB]);

        let mut out = [0u8; 32];
        let n = emit_expanded_nak(3, &[ExpandedType::TLS], &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[
                0x02, 3, 0x00, 20, // Response id 3 length 20
                254, 0, 0, 0, 0, 0, 0, 3, // expanded Nak: vendor 0, type 3
                254, 0, 0, 0, 0, 0, 0, 13, // proposes vendor 0, type 13 (EAP-TLS)
            ]
        );
        let n = emit_expanded_nak(3, &[], &mut out).unwrap();
        assert_eq!(&out[12..n], &[254, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn expanded_type_shorter_than_seven_bytes_is_an_error() {
        let data = [0u8, 0, 0, 0, 0, 0, 13];
        for len in 0..7 {
            assert_eq!(
                ExpandedType::parse(&data[..len]),
                Err(Error::ExpandedTruncated { len })
            );
        }
        assert_eq!(ExpandedType::parse(&data), Ok((ExpandedType::TLS, &[][..])));
    }

    #[test]
    fn expanded_nak_refuses_wide_vendor_id() {
        let mut out = [0u8; 32];
        let bad = ExpandedType {
            vendor_id: 0x0100_0000,
            vendor_type: 1,
        };
        assert_eq!(
            emit_expanded_nak(1, &[bad], &mut out),
            Err(Error::VendorIdOutOfRange {
                vendor_id: 0x0100_0000
            })
        );
    }

    #[test]
    fn truncated_packet_is_refused_at_every_length() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&REQ_IDENTITY[..len]),
                Err(Error::Truncated { len })
            );
        }
        for len in HEADER_LEN..REQ_IDENTITY.len() {
            assert_eq!(
                Packet::new_checked(&REQ_IDENTITY[..len]),
                Err(Error::LengthBeyondFrame {
                    length: 7,
                    available: len
                })
            );
        }
        assert!(Packet::new_checked(&REQ_IDENTITY[..]).is_ok());
    }

    #[test]
    fn length_beyond_frame_is_an_error() {
        let mut bytes = [0u8; 120];
        bytes[..5].copy_from_slice(&[0x01, 1, 0x03, 0x84, 13]);
        let err = Packet::new_checked(&bytes[..]).unwrap_err();
        assert_eq!(
            err,
            Error::LengthBeyondFrame {
                length: 900,
                available: 120
            }
        );
        assert_eq!(
            alloc::format!("{err}"),
            "EAP length 900 exceeds frame of 120 bytes"
        );
    }

    #[test]
    fn length_below_header_is_an_error() {
        for length in 0..4u8 {
            let bytes = [0x01, 1, 0, length, 1];
            assert_eq!(
                Packet::new_checked(&bytes[..]),
                Err(Error::LengthTooShort {
                    length: length.into()
                })
            );
        }
    }

    #[test]
    fn request_and_response_need_a_type() {
        assert_eq!(
            Packet::new_checked(&[0x01, 1, 0, 4][..]),
            Err(Error::MissingType {
                code: Code::Request
            })
        );
        assert_eq!(
            Packet::new_checked(&[0x02, 1, 0, 4, 1][..]),
            Err(Error::MissingType {
                code: Code::Response
            })
        );
    }

    #[test]
    fn success_failure_length_must_be_four() {
        assert_eq!(
            Packet::new_checked(&[0x03, 1, 0, 5, 0][..]),
            Err(Error::SuccessFailureLength { length: 5 })
        );
        assert!(Packet::new_checked(&SUCCESS_PADDED[..]).is_ok());
        assert!(Packet::new_checked(&[0x04, 1, 0, 4][..]).is_ok());
    }

    #[test]
    fn trailing_bytes_beyond_length_are_padding() {
        let bytes = [0x01, 1, 0, 6, 13, 0x20, 0xEE, 0xEE];
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.type_data(), &[0x20]);
    }

    #[test]
    fn unknown_codes_and_types_are_values() {
        let bytes = [0x09, 1, 0, 6, 0xAA, 0xBB];
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.code(), Code::Unknown(9));
        assert_eq!(packet.eap_type(), None);
        assert_eq!(
            Repr::parse(&packet),
            Ok(Repr::Unknown {
                code: 9,
                identifier: 1,
                payload: &[0xAA, 0xBB]
            })
        );
        let bytes = [0x01, 1, 0, 5, 99];
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.eap_type(), Some(Type::Unknown(99)));
        for v in 0..=u8::MAX {
            assert_eq!(u8::from(Code::from(v)), v);
            assert_eq!(u8::from(Type::from(v)), v);
        }
    }

    #[test]
    fn emit_refuses_small_buffer_without_writing() {
        let mut out = [0u8; 6];
        assert_eq!(
            emit_identity(1, b"ab", &mut out),
            Err(Error::BufferTooSmall {
                needed: 7,
                available: 6
            })
        );
        assert_eq!(out, [0u8; 6]);
        assert_eq!(
            emit_nak(1, &[Type::Tls], &mut out[..5]),
            Err(Error::BufferTooSmall {
                needed: 6,
                available: 5
            })
        );
        assert_eq!(
            emit_expanded_nak(1, &[ExpandedType::TLS], &mut out),
            Err(Error::BufferTooSmall {
                needed: 20,
                available: 6
            })
        );
    }

    #[test]
    fn emit_refuses_packet_over_65535_bytes() {
        let data = [0u8; 65531];
        let mut out = [0u8; 8];
        assert_eq!(
            emit_response(1, Type::Tls, &data, &mut out),
            Err(Error::TooLong { len: 65536 })
        );
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let packet = Packet::new_unchecked(&bytes[..]);
            let _ = (packet.code(), packet.eap_type(), packet.payload(), packet.type_data());
            if let Ok(repr) = Repr::parse(&packet) {
                prop_assert!(repr.buffer_len() <= bytes.len());
                let mut out = [0u8; 64];
                prop_assert_eq!(repr.emit(&mut out), Ok(repr.buffer_len()));
                prop_assert_eq!(&out[..repr.buffer_len()], &bytes[..repr.buffer_len()]);
                if let Repr::Request { data, .. } = repr {
                    let _ = ExpandedType::parse(data);
                }
            }
        }
    }
}

pub mod peer;
