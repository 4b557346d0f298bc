//! The RSN element (IEEE 802.11-2020 §9.4.2.24): parsed to check what an association
//! negotiated (AKM, ciphers, PMF bits), and built for the association request. Message 2
//! carries our RSNE byte for byte as sent, and message 3 the AP's, compared byte for byte with
//! its beacon; so parsing here never rewrites an element, it only reads it.

use core::fmt;

use heapless::Vec;

use super::keys::Pmkid;

/// Element ID of the RSNE.
pub const ELEMENT_ID: u8 = 48;
/// The longest element (2-byte header + 255).
pub const MAX_LEN: usize = 257;
/// Most suites per list this parser keeps (real APs list one to three).
pub const MAX_SUITES: usize = 8;

/// RSN Capabilities bit 6: management frame protection required.
pub const CAP_MFPR: u16 = 1 << 6;
/// RSN Capabilities bit 7: management frame protection capable.
pub const CAP_MFPC: u16 = 1 << 7;

/// Why an RSNE was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// Not an element with ID 48, or its length byte disagrees with the bytes given.
    NotRsne,
    /// A field is cut short.
    Truncated,
    /// Version other than 1.
    Version(u16),
    /// A suite list longer than [`MAX_SUITES`].
    TooManySuites(u16),
    /// The output buffer is too small, or the element would exceed 255 bytes of body.
    BufferTooSmall,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::NotRsne => f.write_str("not an RSN element"),
            Error::Truncated => f.write_str("RSN element truncated"),
            Error::Version(v) => write!(f, "RSN element version {v} (expected 1)"),
            Error::TooManySuites(n) => write!(f, "RSN element lists {n} suites"),
            Error::BufferTooSmall => f.write_str("RSN element does not fit"),
        }
    }
}

impl core::error::Error for Error {}

/// A parsed RSNE. Optional trailing fields absent from the element take the defaults of
/// §9.4.2.24.1 (CCMP-128 group and pairwise, AKM 1, capabilities 0, no PMKIDs, BIP-CMAC-128).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rsne {
    /// Group data cipher suite selector.
    pub group_cipher: [u8; 4],
    /// Pairwise cipher suite selectors.
    pub pairwise: Vec<[u8; 4], MAX_SUITES>,
    /// AKM suite selectors.
    pub akms: Vec<[u8; 4], MAX_SUITES>,
    /// RSN Capabilities.
    pub capabilities: u16,
    /// PMKIDs listed (in a (re)association request).
    pub pmkids: Vec<Pmkid, 4>,
    /// Group management cipher suite, if present.
    pub group_mgmt_cipher: Option<[u8; 4]>,
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.buf.is_empty()
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, rest) = self.buf.split_at_checked(N).ok_or(Error::Truncated)?;
        self.buf = rest;
        head.try_into().map_err(|_| Error::Truncated)
    }

    fn u16_le(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.take::<2>()?))
    }

    fn suites(&mut self) -> Result<Vec<[u8; 4], MAX_SUITES>, Error> {
        let n = self.u16_le()?;
        if usize::from(n) > MAX_SUITES {
            return Err(Error::TooManySuites(n));
        }
        let mut v = Vec::new();
        for _ in 0..n {
            let s = self.take::<4>()?;
            v.push(s).map_err(|_| Error::TooManySuites(n))?;
        }
        Ok(v)
    }
}

const CCMP: [u8; 4] = [0x00, 0x0F, 0xAC, 4];
const AKM_8021X: [u8; 4] = [0x00, 0x0F, 0xAC, 1];
const BIP_CMAC: [u8; 4] = [0x00, 0x0F, 0xAC, 6];

impl Rsne {
    /// Parses a whole element (ID, length, body); the length byte must match `element.len()`.
    pub fn parse(element: &[u8]) -> Result<Rsne, Error> {
        let (&[id, len], body) = element.split_first_chunk::<2>().ok_or(Error::NotRsne)?;
        if id != ELEMENT_ID || usize::from(len) != body.len() {
            return Err(Error::NotRsne);
        }
        let mut r = Reader { buf: body };
        let version = r.u16_le()?;
        if version != 1 {
            return Err(Error::Version(version));
        }
        let mut rsne = Rsne {
            group_cipher: CCMP,
            pairwise: Vec::from_slice(&[CCMP]).map_err(|_| Error::Truncated)?,
            akms: Vec::from_slice(&[AKM_8021X]).map_err(|_| Error::Truncated)?,
            capabilities: 0,
            pmkids: Vec::new(),
            group_mgmt_cipher: None,
        };
        if r.done() {
            return Ok(rsne);
        }
        rsne.group_cipher = r.take::<4>()?;
        if r.done() {
            return Ok(rsne);
        }
        rsne.pairwise = r.suites()?;
        if r.done() {
            return Ok(rsne);
        }
        rsne.akms = r.suites()?;
        if r.done() {
            return Ok(rsne);
        }
        rsne.capabilities = r.u16_le()?;
        if r.done() {
            return Ok(rsne);
        }
        let n = r.u16_le()?;
        for _ in 0..n {
            let id = Pmkid(r.take::<16>()?);
            rsne.pmkids.push(id).map_err(|_| Error::TooManySuites(n))?;
        }
        if r.done() {
            return Ok(rsne);
        }
        rsne.group_mgmt_cipher = Some(r.take::<4>()?);
        // Anything after the group management cipher is from a later amendment: ignored.
        Ok(rsne)
    }

    /// The group management cipher in force: the one listed, or BIP-CMAC-128 by default.
    pub fn group_mgmt_or_default(&self) -> [u8; 4] {
        self.group_mgmt_cipher.unwrap_or(BIP_CMAC)
    }

    /// MFP capable (bit 7).
    pub fn mfp_capable(&self) -> bool {
        self.capabilities & CAP_MFPC != 0
    }

    /// MFP required (bit 6).
    pub fn mfp_required(&self) -> bool {
        self.capabilities & CAP_MFPR != 0
    }

    /// Writes the element (ID, length, version 1, every field up to the group management
    /// cipher when one is set, the PMKID list when non-empty or needed before it) to the front
    /// of `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer { out, at: 2 };
        w.put(&1u16.to_le_bytes())?;
        w.put(&self.group_cipher)?;
        w.put(&(self.pairwise.len() as u16).to_le_bytes())?;
        for s in &self.pairwise {
            w.put(s)?;
        }
        w.put(&(self.akms.len() as u16).to_le_bytes())?;
        for s in &self.akms {
            w.put(s)?;
        }
        w.put(&self.capabilities.to_le_bytes())?;
        if !self.pmkids.is_empty() || self.group_mgmt_cipher.is_some() {
            w.put(&(self.pmkids.len() as u16).to_le_bytes())?;
            for p in &self.pmkids {
                w.put(&p.0)?;
            }
        }
        if let Some(g) = self.group_mgmt_cipher {
            w.put(&g)?;
        }
        let total = w.at;
        let body_len = total
            .checked_sub(2)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or(Error::BufferTooSmall)?;
        let hdr = w.out.get_mut(..2).ok_or(Error::BufferTooSmall)?;
        hdr.copy_from_slice(&[ELEMENT_ID, body_len]);
        Ok(total)
    }
}

struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self
            .at
            .checked_add(bytes.len())
            .ok_or(Error::BufferTooSmall)?;
        self.out
            .get_mut(self.at..end)
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.at = end;
        Ok(())
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
    use crate::wpa::keys::tests::hex;
    use proptest::prelude::*;

    #[test]
    fn parses_a_wpa3_enterprise_192_rsne_and_round_trips() {
        // GCMP-256 group and pairwise, AKM 12, MFPC+MFPR, no PMKID, BIP-GMAC-256.
        let e = hex("301a0100000fac090100000fac090100000fac0cc0000000000fac0c");
        let r = Rsne::parse(&e).unwrap();
        assert_eq!(r.group_cipher, [0, 0x0f, 0xac, 9]);
        assert_eq!(&r.akms[..], &[[0, 0x0f, 0xac, 12]]);
        assert!(r.mfp_capable() && r.mfp_required());
        assert_eq!(r.group_mgmt_cipher, Some([0, 0x0f, 0xac, 12]));
        let mut out = [0u8; 64];
        let n = r.emit(&mut out).unwrap();
        assert_eq!(&out[..n], &e[..]);
    }

    #[test]
    fn short_rsne_takes_defaults_and_truncations_are_errors() {
        // iwd's message 2 RSNE: CCMP, CCMP, PSK, caps 0.
        let e = hex("30140100000fac040100000fac040100000fac020000");
        let r = Rsne::parse(&e).unwrap();
        assert_eq!(r.group_mgmt_or_default(), BIP_CMAC);
        for cut in 1..e.len() {
            let mut t = e[..cut].to_vec();
            if t.len() >= 2 {
                t[1] = (t.len() - 2) as u8;
            }
            let res = Rsne::parse(&t);
            // Cuts at field boundaries are valid shorter RSNEs; all others are typed errors.
            if let Err(err) = res {
                assert!(
                    matches!(err, Error::NotRsne | Error::Truncated),
                    "{cut}: {err:?}"
                );
            }
        }
        assert_eq!(Rsne::parse(&hex("30020200")), Err(Error::Version(2)));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..255)) {
            let mut e = alloc::vec![ELEMENT_ID, body.len() as u8];
            e.extend_from_slice(&body);
            let _ = Rsne::parse(&e);
        }
    }
}
