//! The WPA key hierarchy (IEEE 802.11-2020 §12.7.1): the PMK from the MSK, the PTK from the PMK
//! and both nonces (PRF-SHA1 §12.7.1.2 for AKM 1/2, KDF-SHA256/-SHA384 §12.7.1.7.2 for AKM 5/12),
//! its split into KCK/KEK/TK (Table 12-8), the EAPOL-Key MIC, the RFC 3394 unwrap of key data
//! with the KEK, and PMKIDs (§12.7.1.3). Every secret is a zeroizing newtype whose `Debug` shows
//! its length, never its bytes; MICs are compared in constant time.

use core::fmt;

use cmac::Cmac;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{Akm, Cipher, MacAddr, MgmtCipher};

/// The longest PMK (AKM 12).
pub const MAX_PMK_LEN: usize = 48;
/// The longest PTK: KCK 24 + KEK 32 + TK 32 (AKM 12 with GCMP-256).
pub const MAX_PTK_LEN: usize = 88;
/// The longest KCK (AKM 12).
pub const MAX_KCK_LEN: usize = 24;
/// The longest MIC (AKM 12).
pub const MAX_MIC_LEN: usize = 24;
/// The longest TK, GTK or IGTK (GCMP-256, BIP-GMAC-256).
pub const MAX_TK_LEN: usize = 32;

/// Why key material could not be made or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeyError {
    /// The MSK is shorter than the PMK the AKM takes from it.
    MskTooShort {
        /// Bytes given.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// A key of a length this AKM or cipher does not use.
    BadKeyLength {
        /// Bytes given.
        len: usize,
    },
    /// An all-zero key: never derived by an honest peer, never installed.
    AllZero,
    /// Wrapped key data that is not a multiple of 8 bytes or shorter than 24.
    BadWrapLength {
        /// Bytes given.
        len: usize,
    },
    /// The RFC 3394 integrity check value did not match: wrong KEK or tampered data.
    UnwrapIntegrity,
    /// The output buffer cannot hold the result.
    BufferTooSmall,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KeyError::MskTooShort { len, needed } => {
                write!(
                    f,
                    "MSK of {len} bytes is shorter than the {needed}-byte PMK"
                )
            }
            KeyError::BadKeyLength { len } => write!(f, "key of {len} bytes has the wrong length"),
            KeyError::AllZero => f.write_str("all-zero key refused"),
            KeyError::BadWrapLength { len } => {
                write!(
                    f,
                    "wrapped key data of {len} bytes is not a valid AES key wrap length"
                )
            }
            KeyError::UnwrapIntegrity => f.write_str("AES key unwrap integrity check failed"),
            KeyError::BufferTooSmall => f.write_str("output buffer too small"),
        }
    }
}

impl core::error::Error for KeyError {}

/// A fixed-capacity secret of `len` bytes, zeroized on drop. The building block of the key
/// newtypes below; its `Debug` prints only the length.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct Secret<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Secret<N> {
    fn new(src: &[u8]) -> Result<Self, KeyError> {
        let mut bytes = [0u8; N];
        let dst = bytes
            .get_mut(..src.len())
            .ok_or(KeyError::BadKeyLength { len: src.len() })?;
        dst.copy_from_slice(src);
        Ok(Secret {
            bytes,
            len: src.len(),
        })
    }

    /// A key of exactly `len` bytes that is not all zero (a key the platform may install).
    fn nonzero(src: &[u8], len: usize) -> Result<Self, KeyError> {
        if src.len() != len {
            return Err(KeyError::BadKeyLength { len: src.len() });
        }
        let s = Secret::new(src)?;
        if s.is_all_zero() {
            return Err(KeyError::AllZero);
        }
        Ok(s)
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    fn is_all_zero(&self) -> bool {
        self.as_bytes().iter().fold(0u8, |acc, b| acc | b) == 0
    }

    fn ct_eq(&self, other: &Self) -> bool {
        self.len == other.len && bool::from(self.as_bytes().ct_eq(other.as_bytes()))
    }
}

macro_rules! secret_debug {
    ($name:ident) => {
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(<{} bytes>)"), self.0.len)
            }
        }
    };
}

/// The pairwise master key: the first 32 bytes of the MSK (48 for AKM 12), §12.7.1.3.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pmk(Secret<MAX_PMK_LEN>);
secret_debug!(Pmk);

impl Pmk {
    /// The PMK an AKM takes from an EAP MSK (RFC 5216 §2.3: the MSK is 64 bytes).
    pub fn from_msk(msk: &[u8], akm: Akm) -> Result<Pmk, KeyError> {
        let needed = akm.pmk_len();
        let head = msk.get(..needed).ok_or(KeyError::MskTooShort {
            len: msk.len(),
            needed,
        })?;
        Pmk::from_bytes(head, akm)
    }

    /// A PMK given as is (a PSK, or one restored from storage); its length must be the AKM's.
    pub fn from_bytes(bytes: &[u8], akm: Akm) -> Result<Pmk, KeyError> {
        Ok(Pmk(Secret::nonzero(bytes, akm.pmk_len())?))
    }

    /// The key bytes (for a platform whose chip runs the 4-way handshake itself).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Always false: a PMK is never empty (kept for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }
}

/// A temporal key (pairwise TK), to be installed in the radio.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Tk(Secret<MAX_TK_LEN>);
secret_debug!(Tk);

impl Tk {
    /// The key bytes, for the radio's key table.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A group temporal key (§12.7.1.4), as unwrapped from a GTK KDE.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Gtk(Secret<MAX_TK_LEN>);
secret_debug!(Gtk);

impl Gtk {
    /// A GTK of `cipher`'s length; refuses an all-zero key.
    pub fn new(bytes: &[u8], cipher: Cipher) -> Result<Gtk, KeyError> {
        Ok(Gtk(Secret::nonzero(bytes, cipher.key_len())?))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Constant-time equality (the reinstallation check compares keys, not key ids).
    pub fn ct_eq(&self, other: &Gtk) -> bool {
        self.0.ct_eq(&other.0)
    }
}

/// An integrity group temporal key for BIP (§12.7.1.5), as unwrapped from an IGTK KDE.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Igtk(Secret<MAX_TK_LEN>);
secret_debug!(Igtk);

impl Igtk {
    /// An IGTK of `cipher`'s length; refuses an all-zero key.
    pub fn new(bytes: &[u8], cipher: MgmtCipher) -> Result<Igtk, KeyError> {
        Ok(Igtk(Secret::nonzero(bytes, cipher.key_len())?))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Igtk) -> bool {
        self.0.ct_eq(&other.0)
    }
}

/// A GTK with what the radio needs to install it: key id (1-3 in practice) and the receive
/// sequence counter from the EAPOL-Key RSC field (little-endian packet number, §12.7.2).
#[derive(Debug, Clone)]
pub struct GroupKey {
    /// Key index.
    pub key_id: u8,
    /// The key.
    pub key: Gtk,
    /// Receive sequence counter to start from.
    pub rsc: [u8; 8],
}

/// An IGTK with its key id (4 or 5) and IPN (the BIP packet number to start from).
#[derive(Debug, Clone)]
pub struct IntegrityGroupKey {
    /// Key index.
    pub key_id: u16,
    /// The key.
    pub key: Igtk,
    /// IGTK packet number (6 bytes, little-endian as carried in the KDE).
    pub ipn: [u8; 6],
}

/// The pairwise transient key, split into KCK, KEK and TK by AKM and pairwise cipher.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Ptk {
    bytes: [u8; MAX_PTK_LEN],
    kck_len: usize,
    kek_len: usize,
    tk_len: usize,
}

impl fmt::Debug for Ptk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Ptk(<KCK {} KEK {} TK {} bytes>)",
            self.kck_len, self.kek_len, self.tk_len
        )
    }
}

/// The PTK's "min || max" ordering of two byte strings (§12.7.1.3).
fn ordered<'a>(a: &'a [u8], b: &'a [u8]) -> (&'a [u8], &'a [u8]) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl Ptk {
    /// PTK = PRF/KDF(PMK, "Pairwise key expansion", min(AA,SPA) || max(AA,SPA) ||
    /// min(ANonce,SNonce) || max(ANonce,SNonce)), of length KCK + KEK + TK (§12.7.1.3).
    pub fn derive(
        akm: Akm,
        cipher: Cipher,
        pmk: &Pmk,
        aa: &MacAddr,
        spa: &MacAddr,
        anonce: &[u8; 32],
        snonce: &[u8; 32],
    ) -> Result<Ptk, KeyError> {
        let kck_len = akm.kck_len();
        let kek_len = akm.kek_len();
        let tk_len = cipher.key_len();
        // Each is at most 32 bytes (fixed by the AKM and cipher): never saturates.
        let total = kck_len.saturating_add(kek_len).saturating_add(tk_len);
        let mut bytes = [0u8; MAX_PTK_LEN];
        let out = bytes.get_mut(..total).ok_or(KeyError::BufferTooSmall)?;
        let (a1, a2) = ordered(aa, spa);
        let (n1, n2) = ordered(anonce, snonce);
        let context: [&[u8]; 4] = [a1, a2, n1, n2];
        let label = b"Pairwise key expansion";
        match akm {
            Akm::Ieee8021x | Akm::Psk => prf_sha1(pmk.as_bytes(), label, &context, out),
            Akm::Ieee8021xSha256 => kdf::<Hmac<Sha256>>(pmk.as_bytes(), label, &context, out)?,
            Akm::SuiteB192 => kdf::<Hmac<Sha384>>(pmk.as_bytes(), label, &context, out)?,
        }
        let ptk = Ptk {
            bytes,
            kck_len,
            kek_len,
            tk_len,
        };
        if ptk.tk_secret().is_all_zero() {
            return Err(KeyError::AllZero);
        }
        Ok(ptk)
    }

    /// The key confirmation key (MICs).
    pub fn kck(&self) -> &[u8] {
        self.bytes.get(..self.kck_len).unwrap_or(&[])
    }

    /// The key encryption key (key data wrap).
    pub fn kek(&self) -> &[u8] {
        self.bytes
            .get(self.kck_len..)
            .and_then(|rest| rest.get(..self.kek_len))
            .unwrap_or(&[])
    }

    fn tk_secret(&self) -> Secret<MAX_TK_LEN> {
        let tk = self
            .bytes
            .get(self.kck_len..)
            .and_then(|rest| rest.get(self.kek_len..))
            .and_then(|rest| rest.get(..self.tk_len))
            .unwrap_or(&[]);
        Secret::new(tk).unwrap_or(Secret {
            bytes: [0; MAX_TK_LEN],
            len: 0,
        })
    }

    /// The temporal key, to install for pairwise traffic.
    pub fn tk(&self) -> Tk {
        Tk(self.tk_secret())
    }

    /// Constant-time equality of the whole PTK.
    pub fn ct_eq(&self, other: &Ptk) -> bool {
        self.kck_len == other.kck_len
            && self.kek_len == other.kek_len
            && self.tk_len == other.tk_len
            && bool::from(self.bytes.ct_eq(&other.bytes))
    }
}

/// PRF-n over HMAC-SHA1 (§12.7.1.2): the concatenation of HMAC-SHA1(K, A || 0 || B || i) for
/// i = 0, 1, ..., truncated to `out.len()`. `b` is given in parts so no buffer holds it.
pub fn prf_sha1(key: &[u8], label: &[u8], b: &[&[u8]], out: &mut [u8]) {
    for (i, chunk) in out.chunks_mut(20).enumerate() {
        let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(key) else {
            return;
        };
        mac.update(label);
        mac.update(&[0]);
        for part in b {
            mac.update(part);
        }
        mac.update(&[i as u8]);
        let block = mac.finalize().into_bytes();
        let n = chunk.len();
        chunk.copy_from_slice(block.get(..n).unwrap_or(&[]));
    }
}

/// The longest output [`kdf`] defines: its Length field counts bits in 16 bits.
pub const KDF_MAX_LEN: usize = u16::MAX as usize / 8;

/// KDF-Hash-Length (§12.7.1.7.2): the concatenation of HMAC-Hash(K, i || Label || Context ||
/// Length) for i = 1, 2, ..., with i and Length (in bits) as 16-bit little-endian integers.
/// Length counts bits in 16 bits, so the KDF is defined for at most [`KDF_MAX_LEN`] bytes; a
/// longer `out` is refused ([`KeyError::BadKeyLength`]) and left zeroed, never derived with a
/// wrapped Length (every key this module derives is at most 88 bytes).
pub fn kdf<M: Mac + hmac::digest::KeyInit>(
    key: &[u8],
    label: &[u8],
    context: &[&[u8]],
    out: &mut [u8],
) -> Result<(), KeyError> {
    let Some(bits) = out
        .len()
        .checked_mul(8)
        .and_then(|bits| u16::try_from(bits).ok())
    else {
        out.zeroize();
        return Err(KeyError::BadKeyLength { len: out.len() });
    };
    let block_len = <M as hmac::digest::OutputSizeUser>::output_size();
    for (i, chunk) in out.chunks_mut(block_len).enumerate() {
        let Ok(mut mac) = <M as Mac>::new_from_slice(key) else {
            out.zeroize();
            return Err(KeyError::BadKeyLength { len: key.len() });
        };
        // i < out.len() / block_len + 1 <= 8191, so i + 1 fits the 16-bit counter.
        let counter = u16::try_from(i).map_or(u16::MAX, |i| i.saturating_add(1));
        Mac::update(&mut mac, &counter.to_le_bytes());
        Mac::update(&mut mac, label);
        for part in context {
            Mac::update(&mut mac, part);
        }
        Mac::update(&mut mac, &bits.to_le_bytes());
        let block = mac.finalize().into_bytes();
        let n = chunk.len();
        chunk.copy_from_slice(block.get(..n).unwrap_or(&[]));
    }
    Ok(())
}

/// Computes the EAPOL-Key MIC (§12.7.2, Table 12-8) over `parts` (the whole EAPOL frame with
/// its MIC field zeroed, given in pieces so no copy of the frame is needed) into `out`, which
/// must be `akm.mic_len()` bytes. AKM 1/2: HMAC-SHA1-128; AKM 5: AES-128-CMAC; AKM 12:
/// HMAC-SHA384-192.
pub fn compute_mic(akm: Akm, kck: &[u8], parts: &[&[u8]], out: &mut [u8]) -> Result<(), KeyError> {
    if out.len() != akm.mic_len() || kck.len() != akm.kck_len() {
        return Err(KeyError::BadKeyLength { len: kck.len() });
    }
    match akm {
        Akm::Ieee8021x | Akm::Psk => {
            let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(kck)
                .map_err(|_| KeyError::BadKeyLength { len: kck.len() })?;
            for p in parts {
                mac.update(p);
            }
            copy_prefix(&mac.finalize().into_bytes(), out);
        }
        Akm::Ieee8021xSha256 => {
            let mut mac = <Cmac<aes::Aes128> as Mac>::new_from_slice(kck)
                .map_err(|_| KeyError::BadKeyLength { len: kck.len() })?;
            for p in parts {
                mac.update(p);
            }
            copy_prefix(&mac.finalize().into_bytes(), out);
        }
        Akm::SuiteB192 => {
            let mut mac = <Hmac<Sha384> as Mac>::new_from_slice(kck)
                .map_err(|_| KeyError::BadKeyLength { len: kck.len() })?;
            for p in parts {
                mac.update(p);
            }
            copy_prefix(&mac.finalize().into_bytes(), out);
        }
    }
    Ok(())
}

/// Verifies a received MIC in constant time (computing ours over the frame with the MIC field
/// zeroed, given in `parts`).
pub fn verify_mic(akm: Akm, kck: &[u8], parts: &[&[u8]], received: &[u8]) -> bool {
    let mut ours = [0u8; MAX_MIC_LEN];
    let Some(ours) = ours.get_mut(..akm.mic_len()) else {
        return false;
    };
    if compute_mic(akm, kck, parts, ours).is_err() {
        return false;
    }
    let ok = received.len() == ours.len() && bool::from(ours.ct_eq(received));
    ours.zeroize();
    ok
}

fn copy_prefix(src: &[u8], dst: &mut [u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// RFC 3394 AES key unwrap of `wrapped` with the KEK (AES-128 or AES-256 by its length) into
/// the front of `out`; returns the plaintext length (`wrapped.len() - 8`). The caller must have
/// verified the frame's MIC first: unwrapping unauthenticated data is what CVE-2018-14526
/// exploited.
pub fn unwrap_key_data(kek: &[u8], wrapped: &[u8], out: &mut [u8]) -> Result<usize, KeyError> {
    let len = wrapped.len();
    if len % 8 != 0 || len < 24 {
        return Err(KeyError::BadWrapLength { len });
    }
    let plain_len = len.saturating_sub(8); // len >= 24: exact
    let dst = out.get_mut(..plain_len).ok_or(KeyError::BufferTooSmall)?;
    let result = match kek.len() {
        16 => aes_kw::KekAes128::try_from(kek)
            .map_err(|_| KeyError::BadKeyLength { len: 16 })?
            .unwrap(wrapped, dst),
        32 => aes_kw::KekAes256::try_from(kek)
            .map_err(|_| KeyError::BadKeyLength { len: 32 })?
            .unwrap(wrapped, dst),
        other => return Err(KeyError::BadKeyLength { len: other }),
    };
    match result {
        Ok(()) => Ok(plain_len),
        Err(_) => {
            dst.zeroize();
            Err(KeyError::UnwrapIntegrity)
        }
    }
}

/// RFC 3394 AES key wrap (the authenticator's direction; used by tests and test tooling that
/// craft frames). `out` must hold `plain.len() + 8` bytes; returns that length.
pub fn wrap_key_data(kek: &[u8], plain: &[u8], out: &mut [u8]) -> Result<usize, KeyError> {
    let len = plain.len();
    if len % 8 != 0 || len < 16 {
        return Err(KeyError::BadWrapLength { len });
    }
    // A slice holds at most isize::MAX bytes, so + 8 never saturates.
    let wrapped_len = len.saturating_add(8);
    let dst = out.get_mut(..wrapped_len).ok_or(KeyError::BufferTooSmall)?;
    let result = match kek.len() {
        16 => aes_kw::KekAes128::try_from(kek)
            .map_err(|_| KeyError::BadKeyLength { len: 16 })?
            .wrap(plain, dst),
        32 => aes_kw::KekAes256::try_from(kek)
            .map_err(|_| KeyError::BadKeyLength { len: 32 })?
            .wrap(plain, dst),
        other => return Err(KeyError::BadKeyLength { len: other }),
    };
    result
        .map(|()| wrapped_len)
        .map_err(|_| KeyError::BufferTooSmall)
}

/// A PMK identifier (§12.7.1.3). Not secret: it travels in association requests and message 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pmkid(pub [u8; 16]);

impl Pmkid {
    /// PMKID = Truncate-128(HMAC-SHA1(PMK, "PMK Name" || AA || SPA)) for AKM 1/2, with
    /// HMAC-SHA256 for AKM 5. `None` for AKM 12, whose PMKID comes from the KCK
    /// ([`Pmkid::from_kck`]).
    pub fn from_pmk(akm: Akm, pmk: &Pmk, aa: &MacAddr, spa: &MacAddr) -> Option<Pmkid> {
        let mut id = [0u8; 16];
        match akm {
            Akm::Ieee8021x | Akm::Psk => {
                let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(pmk.as_bytes()).ok()?;
                mac.update(b"PMK Name");
                mac.update(aa);
                mac.update(spa);
                copy_prefix(&mac.finalize().into_bytes(), &mut id);
            }
            Akm::Ieee8021xSha256 => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(pmk.as_bytes()).ok()?;
                mac.update(b"PMK Name");
                mac.update(aa);
                mac.update(spa);
                copy_prefix(&mac.finalize().into_bytes(), &mut id);
            }
            Akm::SuiteB192 => return None,
        }
        Some(Pmkid(id))
    }

    /// The 192-bit AKM's PMKID: Truncate-128(HMAC-SHA384(KCK, "PMK Name" || AA || SPA)), with
    /// the KCK of the PTK derived in the handshake that established the PMKSA.
    pub fn from_kck(kck: &[u8], aa: &MacAddr, spa: &MacAddr) -> Option<Pmkid> {
        let mut mac = <Hmac<Sha384> as Mac>::new_from_slice(kck).ok()?;
        mac.update(b"PMK Name");
        mac.update(aa);
        mac.update(spa);
        let mut id = [0u8; 16];
        copy_prefix(&mac.finalize().into_bytes(), &mut id);
        Some(Pmkid(id))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn hex(s: &str) -> alloc::vec::Vec<u8> {
        let s: alloc::string::String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // IEEE 802.11-2020 Annex J.3 (PRF test vectors, HMAC-SHA1 PRF with the label "prefix"),
    // also in hostap's src/crypto/crypto_module_tests.c (test_sha1).
    #[test]
    fn kdf_outside_its_16_bit_length_is_refused_not_wrapped() {
        // The bit length once wrapped: 8192 bytes were derived with Length 0.
        let mut edge = alloc::vec![0xAAu8; KDF_MAX_LEN];
        kdf::<Hmac<Sha256>>(&[1; 32], b"label", &[b"ctx"], &mut edge).unwrap();
        assert!(edge.iter().any(|&b| b != 0));
        let mut over = alloc::vec![0xAAu8; KDF_MAX_LEN + 1];
        assert_eq!(
            kdf::<Hmac<Sha256>>(&[1; 32], b"label", &[b"ctx"], &mut over),
            Err(KeyError::BadKeyLength {
                len: KDF_MAX_LEN + 1
            })
        );
        assert!(over.iter().all(|&b| b == 0));
    }

    #[test]
    fn prf_sha1_annex_j3_vectors() {
        let mut out = [0u8; 64];
        prf_sha1(&[0x0b; 20], b"prefix", &[b"Hi There"], &mut out);
        assert_eq!(
            out.to_vec(),
            hex(
                "bcd4c650b30b9684951829e0d75f9d54b862175ed9f00606e17d8da35402ffee\
                 75df78c3d31e0f889f012120c0862beb67753e7439ae242edb8373698356cf5a"
            )
        );
        prf_sha1(
            b"Jefe",
            b"prefix",
            &[b"what do ya want for nothing?"],
            &mut out,
        );
        assert_eq!(
            out.to_vec(),
            hex(
                "51f4de5b33f249adf81aeb713a3c20f4fe631446fabdfa58244759ae58ef9009\
                 a99abf4eac2ca5fa87e692c440eb40023e7babb206d61de7b92f41529092b8fc"
            )
        );
        prf_sha1(&[0xaa; 20], b"prefix", &[&[0xdd; 50]], &mut out);
        assert_eq!(
            out.to_vec(),
            hex(
                "e1ac546ec4cb636f9976487be5c86be17a0252ca5d8d8df12cfb0473525249ce\
                 9dd8d177ead710bc9b590547239107aef7b4abd43d87f0a68f1cbd9e2b6f7607"
            )
        );
    }

    // RFC 3394 §4.1-4.6 (KEK 128/192/256 bits over 128/192/256-bit key data). This module
    // uses AES-128 and AES-256 KEKs, so §4.1, 4.3, 4.5 and 4.6 go through `unwrap_key_data`;
    // §4.2 and 4.4 (192-bit KEK) are checked against the crate directly.
    #[test]
    fn rfc3394_vectors() {
        let kek = |n: usize| (0..n as u8).collect::<alloc::vec::Vec<u8>>();
        let cases: [(usize, &str, &str); 6] = [
            (
                16,
                "00112233445566778899AABBCCDDEEFF",
                "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5",
            ),
            (
                24,
                "00112233445566778899AABBCCDDEEFF",
                "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D",
            ),
            (
                32,
                "00112233445566778899AABBCCDDEEFF",
                "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7",
            ),
            (
                24,
                "00112233445566778899AABBCCDDEEFF0001020304050607",
                "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2",
            ),
            (
                32,
                "00112233445566778899AABBCCDDEEFF0001020304050607",
                "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1",
            ),
            (
                32,
                "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
                "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
            ),
        ];
        for (klen, plain, wrapped) in cases {
            let (k, p, w) = (kek(klen), hex(plain), hex(wrapped));
            let mut out = [0u8; 64];
            if klen == 24 {
                let kw = aes_kw::KekAes192::try_from(&k[..]).unwrap();
                kw.unwrap(&w, &mut out[..p.len()]).unwrap();
                assert_eq!(&out[..p.len()], &p[..]);
                continue;
            }
            let n = unwrap_key_data(&k, &w, &mut out).unwrap();
            assert_eq!(&out[..n], &p[..], "unwrap, KEK {klen}");
            let n = wrap_key_data(&k, &p, &mut out).unwrap();
            assert_eq!(&out[..n], &w[..], "wrap, KEK {klen}");
            let mut bad = w.clone();
            bad[5] ^= 1;
            assert_eq!(
                unwrap_key_data(&k, &bad, &mut out),
                Err(KeyError::UnwrapIntegrity)
            );
        }
    }

    #[test]
    fn unwrap_refuses_bad_lengths() {
        let mut out = [0u8; 64];
        for len in [0, 8, 16, 17, 23, 25] {
            assert_eq!(
                unwrap_key_data(&[1; 16], &[0u8; 40][..len], &mut out),
                Err(KeyError::BadWrapLength { len })
            );
        }
        assert_eq!(
            unwrap_key_data(&[1; 16], &[0u8; 40], &mut out[..16]),
            Err(KeyError::BufferTooSmall)
        );
        assert_eq!(
            unwrap_key_data(&[1; 20], &[0u8; 24], &mut out),
            Err(KeyError::BadKeyLength { len: 20 })
        );
    }

    // iwd unit/test-eapol.c, eapol_key_mic_test_2: HMAC-SHA1-128 over a message 2 with the
    // MIC field zeroed.
    #[test]
    fn iwd_hmac_sha1_mic_vector() {
        let frame = hex(
            "0103007502010a00100000000000000001 59168bc3a5df18d71efb6423f340088d\
             ab9e1ba2bbc58659e07b3764b0de8570 00000000000000000000000000000000\
             0000000000000000 0000000000000000 00000000000000000000000000000000\
             0016 30140100000fac040100000fac040100000fac020100",
        );
        let kck = hex("9a75ef0bde7c209ccae13f54b1b33ea3");
        let mut mic = [0u8; 16];
        compute_mic(Akm::Psk, &kck, &[&frame], &mut mic).unwrap();
        assert_eq!(mic.to_vec(), hex("6f0489cf7406acf0ae8fcb32bce57c37"));
        assert!(verify_mic(Akm::Psk, &kck, &[&frame], &mic));
        mic[15] ^= 1;
        assert!(!verify_mic(Akm::Psk, &kck, &[&frame], &mic));
    }

    // RFC 4493 §4 example 2 (AES-CMAC, 16-byte message), the AKM 5 MIC primitive.
    #[test]
    fn aes_cmac_rfc4493_vector() {
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let msg = hex("6bc1bee22e409f96e93d7e117393172a");
        let mut mic = [0u8; 16];
        compute_mic(Akm::Ieee8021xSha256, &key, &[&msg], &mut mic).unwrap();
        assert_eq!(mic.to_vec(), hex("070a16b46b4d4144f79bdd9dd04a287c"));
    }

    #[test]
    fn pmk_from_msk_takes_the_akm_length_and_refuses_short_or_zero() {
        let msk: alloc::vec::Vec<u8> = (1..=64).collect();
        assert_eq!(
            Pmk::from_msk(&msk, Akm::Ieee8021x).unwrap().as_bytes(),
            &msk[..32]
        );
        assert_eq!(
            Pmk::from_msk(&msk, Akm::SuiteB192).unwrap().as_bytes(),
            &msk[..48]
        );
        assert_eq!(
            Pmk::from_msk(&msk[..40], Akm::SuiteB192).err(),
            Some(KeyError::MskTooShort {
                len: 40,
                needed: 48
            })
        );
        assert_eq!(
            Pmk::from_msk(&[0; 64], Akm::Ieee8021x).err(),
            Some(KeyError::AllZero)
        );
        let dbg = alloc::format!("{:?}", Pmk::from_msk(&msk, Akm::Ieee8021x).unwrap());
        assert_eq!(dbg, "Pmk(<32 bytes>)");
    }

    #[test]
    fn ptk_split_lengths_by_akm_and_cipher() {
        let pmk48 = Pmk::from_bytes(&[7; 48], Akm::SuiteB192).unwrap();
        let ptk = Ptk::derive(
            Akm::SuiteB192,
            Cipher::Gcmp256,
            &pmk48,
            &[1; 6],
            &[2; 6],
            &[3; 32],
            &[4; 32],
        )
        .unwrap();
        assert_eq!(
            (ptk.kck().len(), ptk.kek().len(), ptk.tk().as_bytes().len()),
            (24, 32, 32)
        );
        let pmk = Pmk::from_bytes(&[7; 32], Akm::Ieee8021xSha256).unwrap();
        let ptk = Ptk::derive(
            Akm::Ieee8021xSha256,
            Cipher::Ccmp128,
            &pmk,
            &[1; 6],
            &[2; 6],
            &[3; 32],
            &[4; 32],
        )
        .unwrap();
        assert_eq!(
            (ptk.kck().len(), ptk.kek().len(), ptk.tk().as_bytes().len()),
            (16, 16, 16)
        );
        // Swapping the roles of the addresses and of the nonces gives the same PTK.
        let swapped = Ptk::derive(
            Akm::Ieee8021xSha256,
            Cipher::Ccmp128,
            &pmk,
            &[2; 6],
            &[1; 6],
            &[4; 32],
            &[3; 32],
        )
        .unwrap();
        assert!(ptk.ct_eq(&swapped));
        assert!(!alloc::format!("{ptk:?}").contains("07"));
    }

    #[test]
    fn group_keys_refuse_zero_and_wrong_length() {
        assert_eq!(
            Gtk::new(&[0; 16], Cipher::Ccmp128).err(),
            Some(KeyError::AllZero)
        );
        assert_eq!(
            Gtk::new(&[1; 15], Cipher::Ccmp128).err(),
            Some(KeyError::BadKeyLength { len: 15 })
        );
        assert_eq!(
            Igtk::new(&[1; 16], MgmtCipher::BipGmac256).err(),
            Some(KeyError::BadKeyLength { len: 16 })
        );
        assert!(Igtk::new(&[1; 32], MgmtCipher::BipGmac256).is_ok());
    }
}
