//! EAPOL-Key key data (IEEE 802.11-2020 §12.7.2, §12.7.2 Table 12-6 KDEs): a sequence of
//! elements (the RSNE) and KDEs (vendor elements 0xDD with the 00-0F-AC OUI: GTK, PMKID, IGTK),
//! ended by optional key-wrap padding (0xDD followed by zeros). Unknown elements and KDEs are
//! skipped; a KDE cut short, or one of the three this module uses appearing twice, is refused.

use core::fmt;

use super::keys::Pmkid;
use super::IEEE_OUI;

/// Element ID of a vendor-specific element, used for KDEs.
pub const KDE_ELEMENT_ID: u8 = 0xDD;
/// KDE data type: GTK (§12.7.2, Figure 12-35).
pub const KDE_GTK: u8 = 1;
/// KDE data type: PMKID.
pub const KDE_PMKID: u8 = 4;
/// KDE data type: IGTK (Figure 12-41).
pub const KDE_IGTK: u8 = 9;

/// Why key data was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// An element's length runs past the end of the key data.
    Truncated,
    /// A GTK/IGTK/PMKID KDE too short for its fixed fields.
    ShortKde(u8),
    /// The same RSNE/GTK/IGTK/PMKID appears twice.
    Duplicate(u8),
    /// Padding (0xDD 0x00) followed by non-zero bytes.
    BadPadding,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated => f.write_str("key data element runs past the end"),
            Error::ShortKde(t) => write!(f, "KDE type {t} too short"),
            Error::Duplicate(t) => write!(f, "key data element/KDE {t} appears twice"),
            Error::BadPadding => f.write_str("key data padding is not zero"),
        }
    }
}

impl core::error::Error for Error {}

/// A GTK KDE: key id, Tx bit and the key bytes (length checked against the group cipher by
/// the handshake, which refuses a wrong one before answering).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct GtkKde<'a> {
    /// Key ID (0-3).
    pub key_id: u8,
    /// Tx bit: the GTK is also used for transmission.
    pub tx: bool,
    /// The key.
    pub key: &'a [u8],
}

impl fmt::Debug for GtkKde<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GtkKde(id {} tx {} <{} bytes>)",
            self.key_id,
            self.tx,
            self.key.len()
        )
    }
}

/// An IGTK KDE: key id (4 or 5), IPN and the key bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IgtkKde<'a> {
    /// Key ID.
    pub key_id: u16,
    /// IGTK packet number.
    pub ipn: [u8; 6],
    /// The key.
    pub key: &'a [u8],
}

impl fmt::Debug for IgtkKde<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IgtkKde(id {} <{} bytes>)", self.key_id, self.key.len())
    }
}

/// What key data carries, by reference into it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyData<'a> {
    /// The (first) RSNE, whole element.
    pub rsne: Option<&'a [u8]>,
    /// GTK KDE.
    pub gtk: Option<GtkKde<'a>>,
    /// IGTK KDE.
    pub igtk: Option<IgtkKde<'a>>,
    /// PMKID KDE.
    pub pmkid: Option<Pmkid>,
}

fn set_once<T>(slot: &mut Option<T>, v: T, id: u8) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::Duplicate(id));
    }
    *slot = Some(v);
    Ok(())
}

/// Parses (decrypted) key data.
pub fn parse(data: &[u8]) -> Result<KeyData<'_>, Error> {
    let mut out = KeyData::default();
    let mut pos = 0usize;
    while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
        let (&id, after_id) = rest.split_first().ok_or(Error::Truncated)?;
        // Key-wrap padding: 0xDD with length 0 (or a lone 0xDD at the very end); only zeros may
        // follow.
        let len = after_id.first().copied();
        if id == KDE_ELEMENT_ID && len.unwrap_or(0) == 0 {
            if after_id.iter().any(|&b| b != 0) {
                return Err(Error::BadPadding);
            }
            break;
        }
        // Element ID, length byte, then at most 255 bytes: neither addition can overflow.
        let whole_len = usize::from(len.ok_or(Error::Truncated)?).saturating_add(2);
        let whole = rest.get(..whole_len).ok_or(Error::Truncated)?;
        let body = whole.get(2..).unwrap_or(&[]);
        pos = pos.saturating_add(whole_len);
        match id {
            super::rsne::ELEMENT_ID => set_once(&mut out.rsne, whole, id)?,
            KDE_ELEMENT_ID => {
                let Some((oui_type, kde)) = body.split_first_chunk::<4>() else {
                    continue;
                };
                if oui_type[..3] != IEEE_OUI {
                    continue;
                }
                match oui_type[3] {
                    KDE_GTK => {
                        let (&[flags, _reserved], key) = kde
                            .split_first_chunk::<2>()
                            .ok_or(Error::ShortKde(KDE_GTK))?;
                        let gtk = GtkKde {
                            key_id: flags & 0x03,
                            tx: flags & 0x04 != 0,
                            key,
                        };
                        set_once(&mut out.gtk, gtk, KDE_GTK)?;
                    }
                    KDE_IGTK => {
                        let (head, key) = kde
                            .split_first_chunk::<8>()
                            .ok_or(Error::ShortKde(KDE_IGTK))?;
                        let key_id = u16::from_le_bytes([head[0], head[1]]);
                        let mut ipn = [0u8; 6];
                        ipn.copy_from_slice(&head[2..]);
                        set_once(&mut out.igtk, IgtkKde { key_id, ipn, key }, KDE_IGTK)?;
                    }
                    KDE_PMKID => {
                        let id: [u8; 16] = kde
                            .get(..16)
                            .and_then(|s| s.try_into().ok())
                            .ok_or(Error::ShortKde(KDE_PMKID))?;
                        set_once(&mut out.pmkid, Pmkid(id), KDE_PMKID)?;
                    }
                    // Other KDEs (MAC address, OCI, transition disable, ...) are not needed
                    // here: skipped.
                    _ => {}
                }
            }
            // Other elements (RSNXE, RSNE override, ...): skipped.
            _ => {}
        }
    }
    Ok(out)
}

/// Writes a GTK KDE into `out`; returns its length (test tooling and crafted frames).
pub fn emit_gtk(key_id: u8, tx: bool, key: &[u8], out: &mut [u8]) -> Option<usize> {
    // The length byte must hold the KDE length: a longer key cannot be written.
    let len = u8::try_from(key.len().saturating_add(6)).ok()?;
    let total = usize::from(len).saturating_add(2);
    let dst = out.get_mut(..total)?;
    let flags = (key_id & 0x03) | if tx { 0x04 } else { 0 };
    let hdr = [KDE_ELEMENT_ID, len, 0x00, 0x0F, 0xAC, KDE_GTK, flags, 0];
    dst.get_mut(..8)?.copy_from_slice(&hdr);
    dst.get_mut(8..)?.copy_from_slice(key);
    Some(total)
}

/// Writes an IGTK KDE into `out`; returns its length.
pub fn emit_igtk(key_id: u16, ipn: &[u8; 6], key: &[u8], out: &mut [u8]) -> Option<usize> {
    // The length byte must hold the KDE length: a longer key cannot be written.
    let len = u8::try_from(key.len().saturating_add(12)).ok()?;
    let total = usize::from(len).saturating_add(2);
    let dst = out.get_mut(..total)?;
    let id = key_id.to_le_bytes();
    let hdr = [
        KDE_ELEMENT_ID,
        len,
        0x00,
        0x0F,
        0xAC,
        KDE_IGTK,
        id[0],
        id[1],
    ];
    dst.get_mut(..8)?.copy_from_slice(&hdr);
    dst.get_mut(8..14)?.copy_from_slice(ipn);
    dst.get_mut(14..)?.copy_from_slice(key);
    Some(total)
}

/// Writes a PMKID KDE into `out`; returns its length (22).
pub fn emit_pmkid(id: &Pmkid, out: &mut [u8]) -> Option<usize> {
    let dst = out.get_mut(..22)?;
    dst.get_mut(..6)?
        .copy_from_slice(&[KDE_ELEMENT_ID, 20, 0x00, 0x0F, 0xAC, KDE_PMKID]);
    dst.get_mut(6..)?.copy_from_slice(&id.0);
    Some(22)
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

    fn sample() -> alloc::vec::Vec<u8> {
        let mut v = hex("30140100000fac040100000fac040100000fac010000");
        // An unknown KDE (OCI, type 13) and an unknown element (RSNXE, 244) are skipped.
        v.extend_from_slice(&hex("dd07000fac0d510203 f40120"));
        let mut buf = [0u8; 64];
        let n = emit_gtk(2, true, &[0x11; 16], &mut buf).unwrap();
        v.extend_from_slice(&buf[..n]);
        let n = emit_igtk(4, &[1, 0, 0, 0, 0, 0], &[0x22; 16], &mut buf).unwrap();
        v.extend_from_slice(&buf[..n]);
        v.extend_from_slice(&[0xdd, 0, 0, 0]);
        v
    }

    #[test]
    fn a_key_too_long_for_the_length_byte_is_not_emitted() {
        // The KDE length byte once took `len as u8`: a 250-byte GTK was announced as length 0.
        let mut buf = [0u8; 600];
        assert_eq!(emit_gtk(1, false, &[0x11; 249], &mut buf), Some(257));
        assert_eq!(buf[1], 255);
        assert_eq!(emit_gtk(1, false, &[0x11; 250], &mut buf), None);
        assert_eq!(emit_igtk(4, &[0; 6], &[0x22; 243], &mut buf), Some(257));
        assert_eq!(emit_igtk(4, &[0; 6], &[0x22; 244], &mut buf), None);
    }

    #[test]
    fn parses_rsne_gtk_igtk_and_skips_unknown() {
        let v = sample();
        let kd = parse(&v).unwrap();
        assert_eq!(kd.rsne.unwrap(), &v[..22]);
        let gtk = kd.gtk.unwrap();
        assert_eq!((gtk.key_id, gtk.tx, gtk.key), (2, true, &[0x11; 16][..]));
        let igtk = kd.igtk.unwrap();
        assert_eq!(
            (igtk.key_id, igtk.ipn, igtk.key),
            (4, [1, 0, 0, 0, 0, 0], &[0x22; 16][..])
        );
        assert_eq!(kd.pmkid, None);
    }

    #[test]
    fn every_truncation_is_refused_or_a_prefix() {
        let v = sample();
        for cut in 0..v.len() {
            match parse(&v[..cut]) {
                Ok(kd) => {
                    // A cut may land on an element boundary; then fewer elements are seen.
                    assert!(kd.igtk.is_none() || cut >= v.len() - 4);
                }
                Err(e) => assert!(
                    matches!(e, Error::Truncated | Error::ShortKde(_)),
                    "{cut}: {e:?}"
                ),
            }
        }
    }

    #[test]
    fn duplicates_and_dirty_padding_are_refused() {
        let mut v = sample();
        let mut buf = [0u8; 64];
        let n = emit_gtk(1, false, &[0x33; 16], &mut buf).unwrap();
        let pad = v.len() - 4;
        v.splice(pad..pad, buf[..n].iter().copied());
        assert_eq!(parse(&v), Err(Error::Duplicate(KDE_GTK)));
        let mut v = sample();
        let last = v.len() - 1;
        v[last] = 1;
        assert_eq!(parse(&v), Err(Error::BadPadding));
        assert_eq!(parse(&hex("dd06000fac0101")), Err(Error::Truncated));
        assert_eq!(parse(&hex("dd05000fac0101")), Err(Error::ShortKde(KDE_GTK)));
    }

    #[test]
    fn pmkid_kde() {
        let mut buf = [0u8; 22];
        emit_pmkid(&Pmkid([7; 16]), &mut buf).unwrap();
        assert_eq!(parse(&buf).unwrap().pmkid, Some(Pmkid([7; 16])));
        assert_eq!(parse(&buf[..21]), Err(Error::Truncated));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&v);
        }
    }
}
