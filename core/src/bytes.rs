//! Big-endian field readers and writers shared by the wire formats (`eapol`, `eap`, `eap_tls`).
//! They return `Option` instead of indexing, so a short buffer is a value, never a panic.

/// Reads the big-endian `u16` at `at`, or `None` if the buffer is too short.
pub(crate) fn read_u16_be(buf: &[u8], at: usize) -> Option<u16> {
    let end = at.checked_add(2)?;
    let bytes: [u8; 2] = buf.get(at..end)?.try_into().ok()?;
    Some(u16::from_be_bytes(bytes))
}

/// Reads the big-endian 24-bit value at `at`, or `None` if the buffer is too short.
pub(crate) fn read_u24_be(buf: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(3)?;
    match buf.get(at..end)? {
        [a, b, c] => Some(u32::from_be_bytes([0, *a, *b, *c])),
        _ => None,
    }
}

/// Reads the big-endian `u32` at `at`, or `None` if the buffer is too short.
pub(crate) fn read_u32_be(buf: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    let bytes: [u8; 4] = buf.get(at..end)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// Writes `value` big-endian at `at`; returns `false` (writing nothing) if it does not fit.
pub(crate) fn write_u16_be(buf: &mut [u8], at: usize, value: u16) -> bool {
    write_bytes(buf, at, &value.to_be_bytes())
}

/// Writes the low 24 bits of `value` big-endian at `at`; `false` if it does not fit.
pub(crate) fn write_u24_be(buf: &mut [u8], at: usize, value: u32) -> bool {
    match value.to_be_bytes() {
        [_, rest @ ..] => write_bytes(buf, at, &rest),
    }
}

/// Writes `value` big-endian at `at`; returns `false` (writing nothing) if it does not fit.
pub(crate) fn write_u32_be(buf: &mut [u8], at: usize, value: u32) -> bool {
    write_bytes(buf, at, &value.to_be_bytes())
}

/// Writes one byte at `at`; returns `false` if `at` is outside the buffer.
pub(crate) fn write_u8(buf: &mut [u8], at: usize, value: u8) -> bool {
    match buf.get_mut(at) {
        Some(b) => {
            *b = value;
            true
        }
        None => false,
    }
}

/// Copies `src` to `buf[at..]`; returns `false` (writing nothing) if it does not fit.
pub(crate) fn write_bytes(buf: &mut [u8], at: usize, src: &[u8]) -> bool {
    let Some(end) = at.checked_add(src.len()) else {
        return false;
    };
    match buf.get_mut(at..end) {
        Some(dst) => {
            dst.copy_from_slice(src);
            true
        }
        None => false,
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

    #[test]
    fn reads_are_big_endian_and_bounded() {
        let b = [0x12, 0x34, 0x56, 0x78];
        assert_eq!(read_u16_be(&b, 0), Some(0x1234));
        assert_eq!(read_u16_be(&b, 2), Some(0x5678));
        assert_eq!(read_u16_be(&b, 3), None);
        assert_eq!(read_u16_be(&b, usize::MAX), None);
        assert_eq!(read_u24_be(&b, 1), Some(0x34_5678));
        assert_eq!(read_u24_be(&b, 2), None);
        assert_eq!(read_u32_be(&b, 0), Some(0x1234_5678));
        assert_eq!(read_u32_be(&b, 1), None);
    }

    #[test]
    fn writes_refuse_to_overflow() {
        let mut b = [0u8; 4];
        assert!(write_u24_be(&mut b, 1, 0xAA_BBCCDD));
        assert_eq!(b, [0, 0xBB, 0xCC, 0xDD]);
        assert!(!write_u32_be(&mut b, 1, 1));
        assert!(!write_u16_be(&mut b, usize::MAX, 1));
        assert!(!write_u8(&mut b, 4, 1));
        assert_eq!(b, [0, 0xBB, 0xCC, 0xDD]);
    }
}
