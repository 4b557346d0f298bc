//! WPA2/WPA3 key handshakes for the supplicant (IEEE 802.11-2020 §12.7): the EAPOL-Key codec
//! ([`frame`]), key data elements and the RSNE ([`kde`], [`rsne`]), the key hierarchy from the
//! PMK down to the temporal keys ([`keys`]), the 4-way and group-key handshakes as a sans-IO
//! state machine ([`handshake`]) and the PMKSA cache ([`pmksa`]).
//!
//! Everything here is `no_std`, allocation-free and bounded: the platform (or the supplicant
//! PAE) feeds EAPOL-Key frames in and gets back the frame to send and the keys to install.

pub mod frame;
pub mod handshake;
#[cfg(test)]
pub(crate) mod handshake_tests;
pub mod kde;
pub mod keys;
pub mod pmksa;
pub mod rsne;

use core::fmt;

pub use handshake::{Association, DropReason, Handshake, Installs, Pmf, Step};
pub use keys::{GroupKey, Gtk, Igtk, IntegrityGroupKey, Pmk, Pmkid, Ptk, Tk};
pub use pmksa::PmksaCache;

/// The IEEE 802.11 OUI that prefixes every suite selector used here (00-0F-AC).
pub const IEEE_OUI: [u8; 3] = [0x00, 0x0F, 0xAC];

/// A MAC address (the authenticator's AA or the supplicant's SPA).
pub type MacAddr = [u8; 6];

/// Authentication and key management suite (IEEE 802.11-2020 Table 9-151). These are the AKMs
/// whose PMK comes from an 802.1X authentication (or, for [`Akm::Psk`], from the platform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Akm {
    /// 00-0F-AC:1, 802.1X with PRF-SHA1 (WPA2-Enterprise). PMF optional.
    Ieee8021x,
    /// 00-0F-AC:2, PSK with PRF-SHA1 (WPA2-Personal; same key hierarchy and MIC as AKM 1, the
    /// PMK given by the platform). Kept because the public WPA2 handshake vectors use it.
    Psk,
    /// 00-0F-AC:5, 802.1X with KDF-SHA256 and an AES-128-CMAC MIC (WPA3-Enterprise). PMF
    /// required.
    Ieee8021xSha256,
    /// 00-0F-AC:12, 802.1X Suite B 192-bit (WPA3-Enterprise 192-bit): KDF-SHA384, a 48-byte
    /// PMK, 24-byte KCK, 32-byte KEK, HMAC-SHA384-192 MIC. PMF required.
    SuiteB192,
}

impl Akm {
    /// The suite type (the byte after the OUI).
    pub const fn suite_type(self) -> u8 {
        match self {
            Akm::Ieee8021x => 1,
            Akm::Psk => 2,
            Akm::Ieee8021xSha256 => 5,
            Akm::SuiteB192 => 12,
        }
    }

    /// The AKM for a suite selector, if it is one this module implements.
    pub fn from_selector(sel: [u8; 4]) -> Option<Akm> {
        match sel {
            [0x00, 0x0F, 0xAC, 1] => Some(Akm::Ieee8021x),
            [0x00, 0x0F, 0xAC, 2] => Some(Akm::Psk),
            [0x00, 0x0F, 0xAC, 5] => Some(Akm::Ieee8021xSha256),
            [0x00, 0x0F, 0xAC, 12] => Some(Akm::SuiteB192),
            _ => None,
        }
    }

    /// The 4-byte suite selector.
    pub const fn selector(self) -> [u8; 4] {
        [0x00, 0x0F, 0xAC, self.suite_type()]
    }

    /// PMK length (§12.7.1.3): 48 bytes for the 192-bit AKM, 32 otherwise.
    pub const fn pmk_len(self) -> usize {
        match self {
            Akm::SuiteB192 => 48,
            _ => 32,
        }
    }

    /// KCK length (Table 12-8).
    pub const fn kck_len(self) -> usize {
        match self {
            Akm::SuiteB192 => 24,
            _ => 16,
        }
    }

    /// KEK length (Table 12-8).
    pub const fn kek_len(self) -> usize {
        match self {
            Akm::SuiteB192 => 32,
            _ => 16,
        }
    }

    /// Length of the EAPOL-Key MIC field (Table 12-8).
    pub const fn mic_len(self) -> usize {
        match self {
            Akm::SuiteB192 => 24,
            _ => 16,
        }
    }

    /// The Key Descriptor Version carried in Key Information bits 0-2 (§12.7.2): 2 (HMAC-SHA1
    /// MIC, AES key wrap) for AKM 1/2, 3 (AES-128-CMAC, AES key wrap) for AKM 5, and 0 (defined
    /// by the AKM) for AKM 12.
    pub const fn descriptor_version(self) -> u8 {
        match self {
            Akm::Ieee8021x | Akm::Psk => 2,
            Akm::Ieee8021xSha256 => 3,
            Akm::SuiteB192 => 0,
        }
    }

    /// Whether the AKM requires management frame protection (WPA3 AKMs).
    pub const fn requires_pmf(self) -> bool {
        matches!(self, Akm::Ieee8021xSha256 | Akm::SuiteB192)
    }
}

impl fmt::Display for Akm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Akm::Ieee8021x => "802.1X (AKM 1)",
            Akm::Psk => "PSK (AKM 2)",
            Akm::Ieee8021xSha256 => "802.1X-SHA256 (AKM 5)",
            Akm::SuiteB192 => "802.1X Suite B 192-bit (AKM 12)",
        };
        f.write_str(name)
    }
}

/// Pairwise or group data cipher suite (Table 9-149).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Cipher {
    /// 00-0F-AC:4, CCMP-128 (16-byte TK).
    Ccmp128,
    /// 00-0F-AC:9, GCMP-256 (32-byte TK), required by the 192-bit AKM.
    Gcmp256,
}

impl Cipher {
    /// The suite selector.
    pub const fn selector(self) -> [u8; 4] {
        match self {
            Cipher::Ccmp128 => [0x00, 0x0F, 0xAC, 4],
            Cipher::Gcmp256 => [0x00, 0x0F, 0xAC, 9],
        }
    }

    /// The cipher for a selector, if implemented.
    pub fn from_selector(sel: [u8; 4]) -> Option<Cipher> {
        match sel {
            [0x00, 0x0F, 0xAC, 4] => Some(Cipher::Ccmp128),
            [0x00, 0x0F, 0xAC, 9] => Some(Cipher::Gcmp256),
            _ => None,
        }
    }

    /// Temporal key length (Table 12-8).
    pub const fn key_len(self) -> usize {
        match self {
            Cipher::Ccmp128 => 16,
            Cipher::Gcmp256 => 32,
        }
    }
}

/// Group management cipher suite for protected management frames (Table 9-149).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MgmtCipher {
    /// 00-0F-AC:6, BIP-CMAC-128 (16-byte IGTK), the default when PMF is on.
    BipCmac128,
    /// 00-0F-AC:12, BIP-GMAC-256 (32-byte IGTK), required by the 192-bit AKM.
    BipGmac256,
}

impl MgmtCipher {
    /// The suite selector.
    pub const fn selector(self) -> [u8; 4] {
        match self {
            MgmtCipher::BipCmac128 => [0x00, 0x0F, 0xAC, 6],
            MgmtCipher::BipGmac256 => [0x00, 0x0F, 0xAC, 12],
        }
    }

    /// The cipher for a selector, if implemented.
    pub fn from_selector(sel: [u8; 4]) -> Option<MgmtCipher> {
        match sel {
            [0x00, 0x0F, 0xAC, 6] => Some(MgmtCipher::BipCmac128),
            [0x00, 0x0F, 0xAC, 12] => Some(MgmtCipher::BipGmac256),
            _ => None,
        }
    }

    /// IGTK length.
    pub const fn key_len(self) -> usize {
        match self {
            MgmtCipher::BipCmac128 => 16,
            MgmtCipher::BipGmac256 => 32,
        }
    }
}
