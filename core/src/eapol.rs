//! EAPOL frames (IEEE 802.1X-2010 §11.3): the 4-byte header (version, packet type, body length)
//! that carries EAP, EAPOL-Start/Logoff and EAPOL-Key between the supplicant and the authenticator.
//! A zero-copy [`Packet`] view and a plain [`Repr`], in the smoltcp wire pattern; no allocation.

use core::fmt;

use crate::bytes::{read_u16_be, write_bytes, write_u16_be, write_u8};

/// Byte offsets of the EAPOL header fields.
mod field {
    pub const VERSION: usize = 0;
    pub const PACKET_TYPE: usize = 1;
    pub const BODY_LEN: usize = 2;
    pub const BODY: usize = 4;
}

/// Length of the EAPOL header (version, type, body length).
pub const HEADER_LEN: usize = field::BODY;

/// The protocol version Latchkey sends: 2 (802.1X-2004). Authenticators accept it, and any
/// version ≥ 1 is accepted on receive.
pub const VERSION_2004: u8 = 2;

/// Why an EAPOL frame could not be parsed or emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The frame is shorter than the 4-byte header.
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// Protocol version 0 does not exist.
    VersionZero,
    /// The body length field points past the end of the frame.
    BodyBeyondFrame {
        /// Body length from the header.
        body_len: u16,
        /// Bytes available after the header.
        available: usize,
    },
    /// A body longer than 65535 bytes cannot be described by the 16-bit length field.
    BodyTooLong {
        /// Body length asked for.
        len: usize,
    },
    /// The output buffer cannot hold the frame.
    BufferTooSmall {
        /// Bytes the frame needs.
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
                "EAPOL frame of {len} bytes is shorter than the 4-byte header"
            ),
            Error::VersionZero => write!(f, "EAPOL protocol version 0 is invalid"),
            Error::BodyBeyondFrame {
                body_len,
                available,
            } => write!(
                f,
                "EAPOL body length {body_len} exceeds the {available} bytes after the header"
            ),
            Error::BodyTooLong { len } => write!(
                f,
                "EAPOL body of {len} bytes does not fit the 16-bit length field"
            ),
            Error::BufferTooSmall { needed, available } => write!(
                f,
                "output buffer of {available} bytes is too small for a {needed}-byte EAPOL frame"
            ),
        }
    }
}

impl core::error::Error for Error {}

/// EAPOL packet type (802.1X-2010 Table 11-3). Unknown types are values, not errors: the PAE
/// ignores what it does not handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PacketType {
    /// 0: EAPOL-EAP, the body is an EAP packet.
    EapPacket,
    /// 1: EAPOL-Start.
    Start,
    /// 2: EAPOL-Logoff.
    Logoff,
    /// 3: EAPOL-Key (WPA 4-way and group-key handshakes).
    Key,
    /// 4: EAPOL-Encapsulated-ASF-Alert.
    AsfAlert,
    /// 5: EAPOL-MKA.
    Mka,
    /// 6: EAPOL-Announcement (Generic).
    AnnouncementGeneric,
    /// 7: EAPOL-Announcement (Specific).
    AnnouncementSpecific,
    /// 8: EAPOL-Announcement-Req.
    AnnouncementReq,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for PacketType {
    fn from(v: u8) -> Self {
        match v {
            0 => PacketType::EapPacket,
            1 => PacketType::Start,
            2 => PacketType::Logoff,
            3 => PacketType::Key,
            4 => PacketType::AsfAlert,
            5 => PacketType::Mka,
            6 => PacketType::AnnouncementGeneric,
            7 => PacketType::AnnouncementSpecific,
            8 => PacketType::AnnouncementReq,
            other => PacketType::Unknown(other),
        }
    }
}

impl From<PacketType> for u8 {
    fn from(t: PacketType) -> u8 {
        match t {
            PacketType::EapPacket => 0,
            PacketType::Start => 1,
            PacketType::Logoff => 2,
            PacketType::Key => 3,
            PacketType::AsfAlert => 4,
            PacketType::Mka => 5,
            PacketType::AnnouncementGeneric => 6,
            PacketType::AnnouncementSpecific => 7,
            PacketType::AnnouncementReq => 8,
            PacketType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PacketType::EapPacket => write!(f, "EAP-Packet"),
            PacketType::Start => write!(f, "Start"),
            PacketType::Logoff => write!(f, "Logoff"),
            PacketType::Key => write!(f, "Key"),
            PacketType::AsfAlert => write!(f, "ASF-Alert"),
            PacketType::Mka => write!(f, "MKA"),
            PacketType::AnnouncementGeneric => write!(f, "Announcement (generic)"),
            PacketType::AnnouncementSpecific => write!(f, "Announcement (specific)"),
            PacketType::AnnouncementReq => write!(f, "Announcement-Req"),
            PacketType::Unknown(v) => write!(f, "unknown type {v}"),
        }
    }
}

/// A read/write view of an EAPOL frame in a borrowed buffer.
///
/// Build it with [`Packet::new_checked`] to read; then every getter is backed by a validated
/// length. On a view from [`Packet::new_unchecked`] that was never checked, bytes missing from
/// the buffer read as 0 and writes past its end are dropped (nothing panics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

#[cfg(feature = "defmt")]
impl<T: AsRef<[u8]>> defmt::Format for Packet<T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "EAPOL packet ({=usize} bytes)",
            self.buffer.as_ref().len()
        )
    }
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it (for emitting into, or after [`Packet::check`]).
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a received frame, checking the header length, the version (≥ 1) and that the body
    /// length fits in the frame. Bytes after the body (link-layer padding) are allowed.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check()?;
        Ok(packet)
    }

    /// The validation done by [`Packet::new_checked`].
    pub fn check(&self) -> Result<(), Error> {
        let data = self.buffer.as_ref();
        let Some(body_len) = read_u16_be(data, field::BODY_LEN) else {
            return Err(Error::Truncated { len: data.len() });
        };
        if self.version() == 0 {
            return Err(Error::VersionZero);
        }
        let available = data.len().saturating_sub(HEADER_LEN);
        if usize::from(body_len) > available {
            return Err(Error::BodyBeyondFrame {
                body_len,
                available,
            });
        }
        Ok(())
    }

    /// Consumes the view and returns the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Protocol version (1 = 802.1X-2001, 2 = -2004, 3 = -2010).
    pub fn version(&self) -> u8 {
        self.buffer
            .as_ref()
            .get(field::VERSION)
            .copied()
            .unwrap_or(0)
    }

    /// Packet type.
    pub fn packet_type(&self) -> PacketType {
        let raw = self.buffer.as_ref().get(field::PACKET_TYPE).copied();
        PacketType::from(raw.unwrap_or(0))
    }

    /// Body length field.
    pub fn body_len(&self) -> u16 {
        read_u16_be(self.buffer.as_ref(), field::BODY_LEN).unwrap_or(0)
    }

    /// The body: exactly `body_len` bytes, without any trailing padding. Empty if the frame is
    /// shorter than its length field says (which [`Packet::check`] refuses).
    pub fn body(&self) -> &[u8] {
        let end = field::BODY + usize::from(self.body_len());
        self.buffer.as_ref().get(field::BODY..end).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the protocol version.
    pub fn set_version(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::VERSION, value);
    }

    /// Sets the packet type.
    pub fn set_packet_type(&mut self, value: PacketType) {
        write_u8(self.buffer.as_mut(), field::PACKET_TYPE, value.into());
    }

    /// Sets the body length field.
    pub fn set_body_len(&mut self, value: u16) {
        write_u16_be(self.buffer.as_mut(), field::BODY_LEN, value);
    }

    /// The body, mutable: `body_len` bytes (empty if they do not fit the buffer).
    pub fn body_mut(&mut self) -> &mut [u8] {
        let end = field::BODY + usize::from(self.body_len());
        self.buffer
            .as_mut()
            .get_mut(field::BODY..end)
            .unwrap_or(&mut [])
    }
}

/// The EAPOL header as plain data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Repr {
    /// Protocol version.
    pub version: u8,
    /// Packet type.
    pub packet_type: PacketType,
    /// Length of the body that follows the header.
    pub body_len: u16,
}

impl Repr {
    /// Parses the header of a frame (re-running the checks of [`Packet::check`]).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        packet.check()?;
        Ok(Repr {
            version: packet.version(),
            packet_type: packet.packet_type(),
            body_len: packet.body_len(),
        })
    }

    /// Bytes the whole frame (header and body) takes.
    pub const fn buffer_len(&self) -> usize {
        // body_len is a u16: never saturates.
        HEADER_LEN.saturating_add(self.body_len as usize)
    }

    /// Writes the header into `packet`, after checking the buffer can hold header and body and
    /// that the version is not 0. The body bytes are left for the caller ([`Packet::body_mut`]).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), Error> {
        if self.version == 0 {
            return Err(Error::VersionZero);
        }
        let available = packet.buffer.as_ref().len();
        if available < self.buffer_len() {
            return Err(Error::BufferTooSmall {
                needed: self.buffer_len(),
                available,
            });
        }
        packet.set_version(self.version);
        packet.set_packet_type(self.packet_type);
        packet.set_body_len(self.body_len);
        Ok(())
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EAPOL v{} {} body_len={}",
            self.version, self.packet_type, self.body_len
        )
    }
}

/// Writes a whole EAPOL frame (header and `body`) to the front of `out`; returns its length.
pub fn emit_frame(
    version: u8,
    packet_type: PacketType,
    body: &[u8],
    out: &mut [u8],
) -> Result<usize, Error> {
    let body_len = u16::try_from(body.len()).map_err(|_| Error::BodyTooLong { len: body.len() })?;
    let repr = Repr {
        version,
        packet_type,
        body_len,
    };
    let mut packet = Packet::new_unchecked(&mut *out);
    repr.emit(&mut packet)?;
    // emit() proved the buffer holds header + body, so this copy cannot fall short.
    if !write_bytes(out, HEADER_LEN, body) {
        return Err(Error::BufferTooSmall {
            needed: repr.buffer_len(),
            available: out.len(),
        });
    }
    Ok(repr.buffer_len())
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

    // An EAPOL-EAP frame carrying EAP-Request/Identity (id 1), with two bytes of padding.
    static FRAME: [u8; 11] = [
        0x02, 0x00, 0x00, 0x05, // version 2, EAP-Packet, body length 5
        0x01, 0x01, 0x00, 0x05, 0x01, // EAP Request id 1 len 5 type Identity
        0x00, 0x00, // padding
    ];

    #[test]
    fn test_deconstruct() {
        let packet = Packet::new_checked(&FRAME[..]).unwrap();
        assert_eq!(packet.version(), 2);
        assert_eq!(packet.packet_type(), PacketType::EapPacket);
        assert_eq!(packet.body_len(), 5);
        assert_eq!(packet.body(), &FRAME[4..9]);
    }

    #[test]
    fn test_construct() {
        let mut bytes = [0xA5u8; 11];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_version(2);
        packet.set_packet_type(PacketType::EapPacket);
        packet.set_body_len(5);
        packet.body_mut().copy_from_slice(&FRAME[4..9]);
        assert_eq!(&bytes[..9], &FRAME[..9]);
        assert_eq!(&bytes[9..], &[0xA5, 0xA5]);
    }

    #[test]
    fn test_parse() {
        let packet = Packet::new_unchecked(&FRAME[..]);
        let repr = Repr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            Repr {
                version: 2,
                packet_type: PacketType::EapPacket,
                body_len: 5
            }
        );
    }

    #[test]
    fn test_emit() {
        let mut out = [0u8; 16];
        let n = emit_frame(2, PacketType::EapPacket, &FRAME[4..9], &mut out).unwrap();
        assert_eq!(n, 9);
        assert_eq!(&out[..n], &FRAME[..9]);
    }

    #[test]
    fn start_frame_has_empty_body() {
        let mut out = [0u8; 4];
        assert_eq!(emit_frame(1, PacketType::Start, &[], &mut out), Ok(4));
        assert_eq!(out, [0x01, 0x01, 0x00, 0x00]);
        let packet = Packet::new_checked(&out[..]).unwrap();
        assert_eq!(packet.packet_type(), PacketType::Start);
        assert!(packet.body().is_empty());
    }

    #[test]
    fn trailing_padding_is_not_part_of_the_body() {
        let packet = Packet::new_checked(&FRAME[..]).unwrap();
        assert_eq!(packet.body().len(), 5);
    }

    #[test]
    fn truncated_header_is_refused_at_every_length() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&FRAME[..len]),
                Err(Error::Truncated { len })
            );
        }
    }

    #[test]
    fn truncated_body_is_refused_at_every_length() {
        for len in HEADER_LEN..9 {
            assert_eq!(
                Packet::new_checked(&FRAME[..len]),
                Err(Error::BodyBeyondFrame {
                    body_len: 5,
                    available: len - HEADER_LEN
                })
            );
        }
        assert!(Packet::new_checked(&FRAME[..9]).is_ok());
    }

    #[test]
    fn body_length_beyond_frame_is_an_error() {
        let frame = [0x02, 0x00, 0x03, 0x84, 0x01, 0x02];
        let err = Packet::new_checked(&frame[..]).unwrap_err();
        assert_eq!(
            err,
            Error::BodyBeyondFrame {
                body_len: 900,
                available: 2
            }
        );
        assert_eq!(
            alloc::format!("{err}"),
            "EAPOL body length 900 exceeds the 2 bytes after the header"
        );
    }

    #[test]
    fn version_zero_is_an_error() {
        assert_eq!(
            Packet::new_checked(&[0x00, 0x01, 0x00, 0x00][..]),
            Err(Error::VersionZero)
        );
        let mut out = [0u8; 4];
        assert_eq!(
            emit_frame(0, PacketType::Start, &[], &mut out),
            Err(Error::VersionZero)
        );
    }

    #[test]
    fn any_version_from_one_up_is_accepted() {
        for version in [1u8, 2, 3, 4, 0xFF] {
            let frame = [version, 0x01, 0x00, 0x00];
            assert_eq!(Packet::new_checked(&frame[..]).unwrap().version(), version);
        }
    }

    #[test]
    fn unknown_packet_type_is_a_value() {
        let frame = [0x03, 0x2A, 0x00, 0x00];
        let packet = Packet::new_checked(&frame[..]).unwrap();
        assert_eq!(packet.packet_type(), PacketType::Unknown(0x2A));
        for v in 0..=u8::MAX {
            assert_eq!(u8::from(PacketType::from(v)), v);
        }
    }

    #[test]
    fn emit_refuses_small_buffer_and_long_body() {
        let mut out = [0u8; 8];
        assert_eq!(
            emit_frame(2, PacketType::EapPacket, &[0; 5], &mut out),
            Err(Error::BufferTooSmall {
                needed: 9,
                available: 8
            })
        );
        assert_eq!(out, [0u8; 8], "nothing written on error");
        let big = [0u8; 65536];
        let mut out = [0u8; 4];
        assert_eq!(
            emit_frame(2, PacketType::EapPacket, &big, &mut out),
            Err(Error::BodyTooLong { len: 65536 })
        );
    }

    #[test]
    fn unchecked_view_of_short_buffer_does_not_panic() {
        let mut short = [0x02u8];
        let mut packet = Packet::new_unchecked(&mut short[..]);
        assert_eq!(packet.body_len(), 0);
        assert_eq!(packet.packet_type(), PacketType::EapPacket);
        assert!(packet.body().is_empty());
        packet.set_body_len(7);
        assert!(packet.body_mut().is_empty());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let repr = Repr::parse(&packet).unwrap();
                prop_assert_eq!(packet.body().len(), usize::from(repr.body_len));
                prop_assert!(repr.version >= 1);
            }
        }
    }
}
