//! EAPOL-Key frames (IEEE 802.11-2020 §12.7.2, Figure 12-32): the body of an EAPOL packet of
//! type Key with descriptor type 2 (IEEE 802.11 key descriptor). A zero-copy [`Packet`] view of
//! the body and a plain [`Repr`], in the smoltcp wire pattern. The MIC field's length depends
//! on the AKM (16 or 24 bytes), so both take it as a parameter.

use core::fmt;

use crate::bytes::{read_u16_be, write_bytes, write_u16_be, write_u8};

/// Byte offsets of the fixed fields of the key descriptor (before the MIC).
mod field {
    pub const DESCRIPTOR_TYPE: usize = 0;
    pub const KEY_INFO: usize = 1;
    pub const KEY_LENGTH: usize = 3;
    pub const REPLAY_COUNTER: usize = 5;
    pub const NONCE: usize = 13;
    pub const IV: usize = 45;
    pub const RSC: usize = 61;
    pub const RESERVED: usize = 69;
    pub const MIC: usize = 77;
}

/// Descriptor type 2: the IEEE 802.11 (RSN) key descriptor. Type 254 (WPA1) is not accepted.
pub const DESCRIPTOR_RSN: u8 = 2;

/// Offset of the MIC field within the key descriptor.
pub const MIC_OFFSET: usize = field::MIC;

/// Length of the key descriptor without key data, for a MIC of `mic_len` bytes.
pub const fn header_len(mic_len: usize) -> usize {
    // Saturating: an absurd `mic_len` gives a length no buffer holds, so it reads as truncated.
    field::MIC.saturating_add(mic_len).saturating_add(2)
}

/// End of the MIC field (start of Key Data Length); saturating like [`header_len`].
const fn mic_end(mic_len: usize) -> usize {
    field::MIC.saturating_add(mic_len)
}

/// Why an EAPOL-Key body could not be parsed or emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// Shorter than the fixed fields for this MIC length.
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes the fixed fields take.
        needed: usize,
    },
    /// The key data length field points past the end of the body.
    KeyDataBeyondFrame {
        /// Key data length from the frame.
        key_data_len: u16,
        /// Bytes available after the fixed fields.
        available: usize,
    },
    /// A descriptor type other than 2.
    UnsupportedDescriptor(u8),
    /// The MIC of the repr is not the length the packet uses.
    MicLength {
        /// Length given.
        len: usize,
    },
    /// Key data longer than the 16-bit length field allows.
    KeyDataTooLong {
        /// Bytes given.
        len: usize,
    },
    /// The output buffer cannot hold the body.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated { len, needed } => write!(
                f,
                "EAPOL-Key body of {len} bytes is shorter than its {needed} bytes of fixed fields"
            ),
            Error::KeyDataBeyondFrame {
                key_data_len,
                available,
            } => write!(
                f,
                "EAPOL-Key data length {key_data_len} exceeds the {available} bytes left"
            ),
            Error::UnsupportedDescriptor(t) => {
                write!(
                    f,
                    "EAPOL-Key descriptor type {t} is not the RSN descriptor (2)"
                )
            }
            Error::MicLength { len } => write!(f, "MIC of {len} bytes does not fit the frame"),
            Error::KeyDataTooLong { len } => write!(f, "key data of {len} bytes is too long"),
            Error::BufferTooSmall { needed, available } => write!(
                f,
                "output buffer of {available} bytes is too small for a {needed}-byte EAPOL-Key body"
            ),
        }
    }
}

impl core::error::Error for Error {}

/// The Key Information field (§12.7.2, Figure 12-33).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeyInfo(pub u16);

impl KeyInfo {
    /// Bits 0-2: key descriptor version.
    pub const VERSION_MASK: u16 = 0x0007;
    /// Bit 3: pairwise (1) or group (0) key.
    pub const KEY_TYPE_PAIRWISE: u16 = 1 << 3;
    /// Bits 4-5: key index (WPA1 only; must be 0 in RSN pairwise messages).
    pub const KEY_INDEX_MASK: u16 = 0x0030;
    /// Bit 6: install.
    pub const INSTALL: u16 = 1 << 6;
    /// Bit 7: key ack (set by the authenticator when it expects an answer).
    pub const KEY_ACK: u16 = 1 << 7;
    /// Bit 8: key MIC present.
    pub const KEY_MIC: u16 = 1 << 8;
    /// Bit 9: secure (keys installed).
    pub const SECURE: u16 = 1 << 9;
    /// Bit 10: error (MIC failure report).
    pub const ERROR: u16 = 1 << 10;
    /// Bit 11: request (supplicant asks for a handshake).
    pub const REQUEST: u16 = 1 << 11;
    /// Bit 12: encrypted key data.
    pub const ENCRYPTED_KEY_DATA: u16 = 1 << 12;
    /// Bit 13: SMK message (obsolete).
    pub const SMK_MESSAGE: u16 = 1 << 13;

    /// The key descriptor version.
    pub const fn version(self) -> u8 {
        (self.0 & Self::VERSION_MASK) as u8
    }

    /// Whether all of `bits` are set.
    pub const fn has(self, bits: u16) -> bool {
        self.0 & bits == bits
    }

    /// Pairwise key (bit 3).
    pub const fn pairwise(self) -> bool {
        self.has(Self::KEY_TYPE_PAIRWISE)
    }

    /// Install (bit 6).
    pub const fn install(self) -> bool {
        self.has(Self::INSTALL)
    }

    /// Key ack (bit 7).
    pub const fn ack(self) -> bool {
        self.has(Self::KEY_ACK)
    }

    /// Key MIC (bit 8).
    pub const fn mic(self) -> bool {
        self.has(Self::KEY_MIC)
    }

    /// Secure (bit 9).
    pub const fn secure(self) -> bool {
        self.has(Self::SECURE)
    }

    /// Error (bit 10).
    pub const fn error(self) -> bool {
        self.has(Self::ERROR)
    }

    /// Request (bit 11).
    pub const fn request(self) -> bool {
        self.has(Self::REQUEST)
    }

    /// Encrypted key data (bit 12).
    pub const fn encrypted(self) -> bool {
        self.has(Self::ENCRYPTED_KEY_DATA)
    }
}

impl fmt::Debug for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyInfo({:#06x} v{}", self.0, self.version())?;
        let flags: [(bool, &str); 9] = [
            (self.pairwise(), " pairwise"),
            (self.install(), " install"),
            (self.ack(), " ack"),
            (self.mic(), " mic"),
            (self.secure(), " secure"),
            (self.error(), " error"),
            (self.request(), " request"),
            (self.encrypted(), " encrypted"),
            (self.has(Self::SMK_MESSAGE), " smk"),
        ];
        for (on, name) in flags {
            if on {
                f.write_str(name)?;
            }
        }
        f.write_str(")")
    }
}

/// A read/write view of an EAPOL-Key body (the EAPOL packet body, without the 4-byte EAPOL
/// header) whose MIC field is `mic_len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    mic_len: usize,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it. Getters on a short buffer read zeros, setters write
    /// nothing past its end.
    pub const fn new_unchecked(buffer: T, mic_len: usize) -> Packet<T> {
        Packet { buffer, mic_len }
    }

    /// Wraps a received body, checking the fixed fields are present, the descriptor type is 2
    /// and the key data length fits.
    pub fn new_checked(buffer: T, mic_len: usize) -> Result<Packet<T>, Error> {
        let p = Packet::new_unchecked(buffer, mic_len);
        p.check()?;
        Ok(p)
    }

    /// The validation done by [`Packet::new_checked`].
    pub fn check(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        let needed = header_len(self.mic_len);
        if len < needed {
            return Err(Error::Truncated { len, needed });
        }
        if self.descriptor_type() != DESCRIPTOR_RSN {
            return Err(Error::UnsupportedDescriptor(self.descriptor_type()));
        }
        let key_data_len = self.key_data_len();
        let available = len.saturating_sub(needed); // len >= needed: exact
        if usize::from(key_data_len) > available {
            return Err(Error::KeyDataBeyondFrame {
                key_data_len,
                available,
            });
        }
        Ok(())
    }

    /// The MIC length this view uses.
    pub fn mic_len(&self) -> usize {
        self.mic_len
    }

    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = self
            .buffer
            .as_ref()
            .get(at..)
            .and_then(|rest| rest.get(..N))
        {
            out.copy_from_slice(src);
        }
        out
    }

    /// Descriptor type.
    pub fn descriptor_type(&self) -> u8 {
        self.buffer
            .as_ref()
            .get(field::DESCRIPTOR_TYPE)
            .copied()
            .unwrap_or(0)
    }

    /// Key Information.
    pub fn key_info(&self) -> KeyInfo {
        KeyInfo(read_u16_be(self.buffer.as_ref(), field::KEY_INFO).unwrap_or(0))
    }

    /// Key Length (the pairwise cipher's key length in messages 1 and 3).
    pub fn key_length(&self) -> u16 {
        read_u16_be(self.buffer.as_ref(), field::KEY_LENGTH).unwrap_or(0)
    }

    /// Key Replay Counter (big-endian).
    pub fn replay_counter(&self) -> u64 {
        u64::from_be_bytes(self.bytes(field::REPLAY_COUNTER))
    }

    /// Key Nonce.
    pub fn nonce(&self) -> [u8; 32] {
        self.bytes(field::NONCE)
    }

    /// EAPOL-Key IV.
    pub fn iv(&self) -> [u8; 16] {
        self.bytes(field::IV)
    }

    /// Key RSC (the GTK's receive sequence counter in messages 3 and group 1).
    pub fn rsc(&self) -> [u8; 8] {
        self.bytes(field::RSC)
    }

    /// Reserved field (8 bytes, sent as zero, ignored on receive).
    pub fn reserved(&self) -> [u8; 8] {
        self.bytes(field::RESERVED)
    }

    /// Key MIC.
    pub fn mic(&self) -> &[u8] {
        let end = mic_end(self.mic_len);
        self.buffer.as_ref().get(field::MIC..end).unwrap_or(&[])
    }

    /// Key Data Length.
    pub fn key_data_len(&self) -> u16 {
        read_u16_be(self.buffer.as_ref(), mic_end(self.mic_len)).unwrap_or(0)
    }

    /// Key Data (exactly `key_data_len` bytes; empty if they do not fit).
    pub fn key_data(&self) -> &[u8] {
        let start = header_len(self.mic_len);
        let end = start.saturating_add(usize::from(self.key_data_len()));
        self.buffer.as_ref().get(start..end).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_bytes(&mut self, at: usize, v: &[u8]) {
        write_bytes(self.buffer.as_mut(), at, v);
    }

    /// Sets the descriptor type.
    pub fn set_descriptor_type(&mut self, v: u8) {
        write_u8(self.buffer.as_mut(), field::DESCRIPTOR_TYPE, v);
    }

    /// Sets Key Information.
    pub fn set_key_info(&mut self, v: KeyInfo) {
        write_u16_be(self.buffer.as_mut(), field::KEY_INFO, v.0);
    }

    /// Sets Key Length.
    pub fn set_key_length(&mut self, v: u16) {
        write_u16_be(self.buffer.as_mut(), field::KEY_LENGTH, v);
    }

    /// Sets the replay counter.
    pub fn set_replay_counter(&mut self, v: u64) {
        self.set_bytes(field::REPLAY_COUNTER, &v.to_be_bytes());
    }

    /// Sets the nonce.
    pub fn set_nonce(&mut self, v: &[u8; 32]) {
        self.set_bytes(field::NONCE, v);
    }

    /// Sets the IV.
    pub fn set_iv(&mut self, v: &[u8; 16]) {
        self.set_bytes(field::IV, v);
    }

    /// Sets the RSC.
    pub fn set_rsc(&mut self, v: &[u8; 8]) {
        self.set_bytes(field::RSC, v);
    }

    /// Zeroes the reserved field.
    pub fn clear_reserved(&mut self) {
        self.set_bytes(field::RESERVED, &[0; 8]);
    }

    /// The MIC field, mutable (to fill in after computing it over the zeroed frame).
    pub fn mic_mut(&mut self) -> &mut [u8] {
        let end = mic_end(self.mic_len);
        self.buffer
            .as_mut()
            .get_mut(field::MIC..end)
            .unwrap_or(&mut [])
    }

    /// Sets Key Data Length.
    pub fn set_key_data_len(&mut self, v: u16) {
        let at = mic_end(self.mic_len);
        write_u16_be(self.buffer.as_mut(), at, v);
    }

    /// Key Data, mutable (`key_data_len` bytes).
    pub fn key_data_mut(&mut self) -> &mut [u8] {
        let start = header_len(self.mic_len);
        let end = start.saturating_add(usize::from(self.key_data_len()));
        self.buffer.as_mut().get_mut(start..end).unwrap_or(&mut [])
    }
}

/// An EAPOL-Key body as plain data, borrowing MIC and key data from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Key Information.
    pub key_info: KeyInfo,
    /// Key Length.
    pub key_length: u16,
    /// Key Replay Counter.
    pub replay_counter: u64,
    /// Key Nonce.
    pub nonce: [u8; 32],
    /// EAPOL-Key IV.
    pub iv: [u8; 16],
    /// Key RSC.
    pub rsc: [u8; 8],
    /// Key MIC (its length is the AKM's MIC length).
    pub mic: &'a [u8],
    /// Key Data (encrypted or not, as the frame carries it).
    pub key_data: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parses a checked body.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>, Error> {
        packet.check()?;
        let buf: &'a [u8] = packet.buffer.as_ref();
        let mic_end = mic_end(packet.mic_len);
        let kd_start = header_len(packet.mic_len);
        let kd_end = kd_start.saturating_add(usize::from(packet.key_data_len()));
        Ok(Repr {
            key_info: packet.key_info(),
            key_length: packet.key_length(),
            replay_counter: packet.replay_counter(),
            nonce: packet.nonce(),
            iv: packet.iv(),
            rsc: packet.rsc(),
            mic: buf.get(field::MIC..mic_end).unwrap_or(&[]),
            key_data: buf.get(kd_start..kd_end).unwrap_or(&[]),
        })
    }

    /// Bytes the body takes.
    pub fn buffer_len(&self) -> usize {
        header_len(self.mic.len()).saturating_add(self.key_data.len())
    }

    /// Writes the body into the front of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let needed = self.buffer_len();
        let kd_len = u16::try_from(self.key_data.len()).map_err(|_| Error::KeyDataTooLong {
            len: self.key_data.len(),
        })?;
        let available = buf.len();
        let body = buf
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed, available })?;
        let mut p = Packet::new_unchecked(body, self.mic.len());
        p.set_descriptor_type(DESCRIPTOR_RSN);
        p.set_key_info(self.key_info);
        p.set_key_length(self.key_length);
        p.set_replay_counter(self.replay_counter);
        p.set_nonce(&self.nonce);
        p.set_iv(&self.iv);
        p.set_rsc(&self.rsc);
        p.clear_reserved();
        p.mic_mut().copy_from_slice(self.mic);
        p.set_key_data_len(kd_len);
        p.key_data_mut().copy_from_slice(self.key_data);
        Ok(needed)
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    // iwd unit/test-eapol.c eapol_key_data_5: message 3 of a real WPA2 handshake (EAPOL
    // header included), HMAC-SHA1 / AES key wrap, encrypted key data of 56 bytes.
    pub const IWD_MSG3: &str = "020300970213ca00100000000000000001c2bb57ab588f92ebbd44e811094f60\
    1c087986030c3ac749cc61d63e33832e50000000000000000000000000000000\
    0000000000000000000000000000000000f535d91809731a1d290894705e919c\
    8e00381918df1ef0e7696652e257938034e17038b98b4c45a923b7b6fa8c33e3\
    7bdcd47feab11c226a2c5e38d5ad799405d610a69551d60be60a5b";
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
    use crate::wpa::keys::tests::hex;
    use proptest::prelude::*;

    use super::tests_support::IWD_MSG3;

    #[test]
    fn parses_iwd_message_3() {
        let frame = hex(IWD_MSG3);
        let eapol = crate::eapol::Packet::new_checked(&frame[..]).unwrap();
        assert_eq!(eapol.body_len(), 151);
        let p = Packet::new_checked(eapol.body(), 16).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.key_info.version(), 2);
        assert!(r.key_info.pairwise() && r.key_info.install() && r.key_info.ack());
        assert!(r.key_info.mic() && r.key_info.secure() && r.key_info.encrypted());
        assert!(!r.key_info.error() && !r.key_info.request());
        assert_eq!(r.key_length, 16);
        assert_eq!(r.replay_counter, 1);
        assert_eq!(r.nonce[..4], [0xc2, 0xbb, 0x57, 0xab]);
        assert_eq!(r.mic, &hex("f535d91809731a1d290894705e919c8e")[..]);
        assert_eq!(r.key_data.len(), 56);
        let mut out = [0u8; 200];
        let n = r.emit(&mut out).unwrap();
        assert_eq!(&out[..n], eapol.body());
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        let frame = hex(IWD_MSG3);
        let body = &frame[4..];
        for len in 0..body.len() {
            let err = Packet::new_checked(&body[..len], 16).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Truncated { .. } | Error::KeyDataBeyondFrame { .. }
                ),
                "len {len}: {err:?}"
            );
        }
        // With a 24-byte MIC the same bytes have a different (and here impossible) layout.
        assert!(Packet::new_checked(body, 24).is_err());
    }

    #[test]
    fn refuses_other_descriptor_types() {
        let mut frame = hex(IWD_MSG3);
        frame[4] = 254;
        assert_eq!(
            Packet::new_checked(&frame[4..], 16).unwrap_err(),
            Error::UnsupportedDescriptor(254)
        );
    }

    #[test]
    fn emit_checks_the_buffer() {
        let r = Repr {
            key_info: KeyInfo(0x010a),
            key_length: 0,
            replay_counter: 7,
            nonce: [9; 32],
            iv: [0; 16],
            rsc: [0; 8],
            mic: &[0; 24],
            key_data: &[1, 2, 3],
        };
        let mut out = [0u8; 128];
        assert_eq!(r.buffer_len(), 77 + 24 + 2 + 3);
        assert_eq!(
            r.emit(&mut out[..50]),
            Err(Error::BufferTooSmall {
                needed: 106,
                available: 50
            })
        );
        let n = r.emit(&mut out).unwrap();
        let p = Packet::new_checked(&out[..n], 24).unwrap();
        assert_eq!(Repr::parse(&p).unwrap(), r);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), big in any::<bool>()) {
            let mic = if big { 24 } else { 16 };
            if let Ok(p) = Packet::new_checked(&bytes[..], mic) {
                let r = Repr::parse(&p).unwrap();
                prop_assert!(r.key_data.len() <= bytes.len());
                let mut out = [0u8; 400];
                let n = r.emit(&mut out).unwrap();
                prop_assert_eq!(&out[..69], &bytes[..69]);
                prop_assert_eq!(&out[77..n], &bytes[77..n]);
            }
        }
    }
}
