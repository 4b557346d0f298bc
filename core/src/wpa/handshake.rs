//! The supplicant side of the 4-way handshake (IEEE 802.11-2020 §12.7.6) and the group-key
//! handshake (§12.7.7), sans-IO: EAPOL frames in, the reply written into a caller buffer and
//! the keys to install returned, or a typed [`DropReason`] (each one counted).
//!
//! The rules the 2017-2019 attacks taught are enforced here, not left to the platform: the
//! MIC is verified before any key data is decrypted (CVE-2018-14526); replay counters must
//! strictly increase over MIC-verified frames; message 3's ANonce must be message 1's and its
//! RSNE the AP's beacon RSNE; an all-zero key is never installed; an installed TK, GTK or IGTK
//! is never installed again (KRACK, CVE-2017-13077..13088: a retransmitted message 3 is
//! answered with message 4 and nothing is reinstalled; a GTK older than the current one is not
//! reinstalled either); a bad GTK/IGTK KDE is refused before message 4 goes out; PMF is
//! required for AKM 5 and 12.

use core::fmt;

use heapless::Vec;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::frame::{self, KeyInfo, Repr};
use super::kde;
use super::keys::{
    self, GroupKey, Gtk, Igtk, IntegrityGroupKey, KeyError, Pmk, Pmkid, Ptk, Tk, MAX_MIC_LEN,
};
use super::pmksa::PmksaEntry;
use super::rsne::{self, Rsne};
use super::{Akm, Cipher, MacAddr, MgmtCipher};
use crate::eapol;

/// The longest key data accepted (before and after unwrapping). Message 3 carries the AP's
/// RSNE (at most 257 bytes), a GTK KDE (40), an IGTK KDE (46), a few small KDEs and padding;
/// a longer field is refused before anything is copied.
pub const MAX_KEY_DATA: usize = 512;

/// The longest frame this module sends: EAPOL header, key descriptor with a 24-byte MIC, and
/// our RSNE as key data (message 2).
pub const MAX_REPLY_LEN: usize = eapol::HEADER_LEN + frame::header_len(24) + rsne::MAX_LEN;

/// PMF (802.11w) use on an association, from both RSNEs' MFPC bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Pmf {
    /// Management frames are not protected: no IGTK.
    Off,
    /// Management frames are protected: an IGTK must come with every GTK.
    On,
}

/// What the platform knows about the association when the handshake starts.
#[derive(Debug, Clone, Copy)]
pub struct Association<'a> {
    /// The AP's address (AA).
    pub aa: MacAddr,
    /// Our address (SPA).
    pub spa: MacAddr,
    /// The AP's RSNE from its beacon or probe response, whole element.
    pub ap_rsne: &'a [u8],
    /// Our RSNE exactly as sent in the (re)association request, whole element. Its first AKM,
    /// first pairwise cipher and group cipher are the ones used.
    pub our_rsne: &'a [u8],
}

/// Why an association cannot run the handshake (checked once, at the start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AssocError {
    /// The AP's RSNE does not parse.
    ApRsne(rsne::Error),
    /// Our RSNE does not parse.
    OurRsne(rsne::Error),
    /// Our RSNE names an AKM or cipher this module does not implement.
    Unsupported,
    /// Our AKM, pairwise or group cipher is not offered by the AP.
    NotOffered,
    /// AKM 5 or 12 without PMF (MFPC) on both sides: refused (WPA3 requires PMF).
    PmfRequired(Akm),
    /// The AP requires PMF (MFPR) and our RSNE is not PMF capable.
    ApRequiresPmf,
    /// AKM 12 with ciphers other than GCMP-256 and BIP-GMAC-256.
    SuiteB192Ciphers,
    /// The PMK's length is not the AKM's.
    PmkLength,
}

impl fmt::Display for AssocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssocError::ApRsne(e) => write!(f, "AP RSNE: {e}"),
            AssocError::OurRsne(e) => write!(f, "our RSNE: {e}"),
            AssocError::Unsupported => f.write_str("AKM or cipher not supported"),
            AssocError::NotOffered => f.write_str("AKM or cipher not offered by the AP"),
            AssocError::PmfRequired(a) => write!(f, "{a} requires PMF, which is disabled"),
            AssocError::ApRequiresPmf => f.write_str("the AP requires PMF; we are not capable"),
            AssocError::SuiteB192Ciphers => {
                f.write_str("AKM 12 requires GCMP-256 and BIP-GMAC-256")
            }
            AssocError::PmkLength => f.write_str("PMK length does not match the AKM"),
        }
    }
}

impl core::error::Error for AssocError {}

/// Why a received EAPOL-Key frame was dropped. Each is counted ([`Handshake::drops`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DropReason {
    /// Not a parseable EAPOL-Key frame (EAPOL header, descriptor, lengths).
    Malformed,
    /// Key descriptor version not the AKM's.
    DescriptorVersion,
    /// Key Information bits that are no message this supplicant expects (request, error, a
    /// message without ack, a message 3 before a message 1, a group message before the PTK).
    UnexpectedMessage,
    /// No PMK yet (EAP has not finished and no cached PMKSA applies).
    NoPmk,
    /// Message 1 names a PMKID other than the cached PMKSA's.
    PmkidMismatch,
    /// Replay counter not greater than the last MIC-verified frame's.
    ReplayedCounter,
    /// MIC verification failed.
    BadMic,
    /// Message 3's ANonce differs from message 1's.
    AnonceMismatch,
    /// Key data not encrypted where §12.7.6/§12.7.7 require it.
    UnencryptedKeyData,
    /// Key data longer than [`MAX_KEY_DATA`].
    KeyDataTooLong,
    /// Encrypted key data whose length is not a valid AES key wrap length.
    KeyDataLength,
    /// AES key unwrap integrity check failed.
    KeyUnwrapFailed,
    /// Decrypted key data does not parse (truncated element, duplicate KDE, bad padding).
    BadKeyData,
    /// The RSNE in message 3 differs from the AP's beacon/probe RSNE (possible downgrade).
    RsneMismatch,
    /// Message 3 or group message 1 without a GTK KDE.
    MissingGtk,
    /// A GTK whose length is not the group cipher's.
    GtkLength,
    /// PMF is on and no IGTK KDE came with the GTK.
    MissingIgtk,
    /// An IGTK whose length is not the group management cipher's, or key id not 4 or 5.
    BadIgtk,
    /// An all-zero key.
    ZeroKey,
    /// The random number generator failed (no SNonce).
    RngFailed,
    /// The reply does not fit the caller's buffer.
    BufferTooSmall,
}

impl DropReason {
    /// Number of reasons (size of the counter table).
    pub const COUNT: usize = 21;

    /// All reasons, in counter-table order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::Malformed,
        DropReason::DescriptorVersion,
        DropReason::UnexpectedMessage,
        DropReason::NoPmk,
        DropReason::PmkidMismatch,
        DropReason::ReplayedCounter,
        DropReason::BadMic,
        DropReason::AnonceMismatch,
        DropReason::UnencryptedKeyData,
        DropReason::KeyDataTooLong,
        DropReason::KeyDataLength,
        DropReason::KeyUnwrapFailed,
        DropReason::BadKeyData,
        DropReason::RsneMismatch,
        DropReason::MissingGtk,
        DropReason::GtkLength,
        DropReason::MissingIgtk,
        DropReason::BadIgtk,
        DropReason::ZeroKey,
        DropReason::RngFailed,
        DropReason::BufferTooSmall,
    ];

    /// Index in the counter table.
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }

    /// Whether the association should be torn down rather than the frame ignored: an AP whose
    /// authenticated message 3 carries another RSNE, or keys that cannot be right, is not
    /// one to stay associated with (§12.7.6.4).
    pub fn is_fatal(self) -> bool {
        matches!(
            self,
            DropReason::RsneMismatch
                | DropReason::GtkLength
                | DropReason::MissingGtk
                | DropReason::MissingIgtk
                | DropReason::BadIgtk
                | DropReason::ZeroKey
                | DropReason::PmkidMismatch
        )
    }

    /// A stable kebab-case name.
    pub fn kind(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::DescriptorVersion => "descriptor-version",
            DropReason::UnexpectedMessage => "unexpected-message",
            DropReason::NoPmk => "no-pmk",
            DropReason::PmkidMismatch => "pmkid-mismatch",
            DropReason::ReplayedCounter => "replayed-counter",
            DropReason::BadMic => "bad-mic",
            DropReason::AnonceMismatch => "anonce-mismatch",
            DropReason::UnencryptedKeyData => "unencrypted-key-data",
            DropReason::KeyDataTooLong => "key-data-too-long",
            DropReason::KeyDataLength => "key-data-length",
            DropReason::KeyUnwrapFailed => "key-unwrap-failed",
            DropReason::BadKeyData => "bad-key-data",
            DropReason::RsneMismatch => "rsne-mismatch",
            DropReason::MissingGtk => "missing-gtk",
            DropReason::GtkLength => "gtk-length",
            DropReason::MissingIgtk => "missing-igtk",
            DropReason::BadIgtk => "bad-igtk",
            DropReason::ZeroKey => "zero-key",
            DropReason::RngFailed => "rng-failed",
            DropReason::BufferTooSmall => "buffer-too-small",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

/// Which message a step answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Message {
    /// 4-way message 1 (answered with message 2).
    Pairwise1,
    /// 4-way message 3 (answered with message 4).
    Pairwise3,
    /// Group-key message 1 (answered with group message 2).
    Group1,
}

/// Keys to install now, in this order: pairwise first, then group keys (§12.7.6.4). Each
/// field is `None` when nothing is new (including when the key is already installed).
#[derive(Debug, Clone, Default)]
pub struct Installs {
    /// The pairwise TK.
    pub ptk: Option<Tk>,
    /// A GTK with its key id and RSC.
    pub gtk: Option<GroupKey>,
    /// An IGTK with its key id and IPN.
    pub igtk: Option<IntegrityGroupKey>,
}

/// What one accepted frame did.
#[derive(Debug, Clone)]
pub struct Step {
    /// The message handled.
    pub message: Message,
    /// Length of the reply written to the front of the output buffer (always > 0: every
    /// accepted message is answered).
    pub reply_len: usize,
    /// Keys to install once the reply is queued (§12.7.6.4: message 4 goes out under the old
    /// keys, then the new pairwise key is installed).
    pub installs: Installs,
    /// Message 1 named the cached PMKSA this handshake was started with: EAP was skipped.
    pub pmksa_used: bool,
    /// The 4-way handshake is complete (message 4 sent, PTK in force).
    pub complete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    WaitMsg1,
    WaitMsg3,
    Complete,
}

/// The supplicant's key handshake state for one association.
#[derive(Clone)]
pub struct Handshake {
    aa: MacAddr,
    spa: MacAddr,
    akm: Akm,
    pairwise: Cipher,
    group: Cipher,
    mgmt: Option<MgmtCipher>,
    ap_rsne: Vec<u8, { rsne::MAX_LEN }>,
    our_rsne: Vec<u8, { rsne::MAX_LEN }>,
    pmk: Option<Pmk>,
    cached_pmkid: Option<Pmkid>,
    eapol_version: u8,
    state: State,
    /// Highest replay counter of a MIC-verified frame (§12.7.2: the supplicant's local
    /// counter; unverified message 1s do not move it).
    replay: Option<u64>,
    anonce: [u8; 32],
    snonce: [u8; 32],
    snonce_fresh: bool,
    tptk: Option<Ptk>,
    ptk: Option<Ptk>,
    gtk: Option<Gtk>,
    prev_gtk: Option<Gtk>,
    igtk: Option<Igtk>,
    prev_igtk: Option<Igtk>,
    drops: [u32; DropReason::COUNT],
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handshake")
            .field("akm", &self.akm)
            .field("pairwise", &self.pairwise)
            .field("group", &self.group)
            .field("mgmt", &self.mgmt)
            .field("state", &self.state)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

fn selector_in(list: &[[u8; 4]], s: [u8; 4]) -> bool {
    list.contains(&s)
}

impl Handshake {
    /// Checks the association (AKM and ciphers supported and offered, PMF where required) and
    /// prepares for message 1. The PMK may come later ([`Handshake::set_pmk`], after EAP) or
    /// from the PMKSA cache ([`Handshake::use_cached`]).
    pub fn new(assoc: &Association<'_>, pmk: Option<Pmk>) -> Result<Handshake, AssocError> {
        let ap = Rsne::parse(assoc.ap_rsne).map_err(AssocError::ApRsne)?;
        let ours = Rsne::parse(assoc.our_rsne).map_err(AssocError::OurRsne)?;
        let akm_sel = *ours.akms.first().ok_or(AssocError::Unsupported)?;
        let pw_sel = *ours.pairwise.first().ok_or(AssocError::Unsupported)?;
        let akm = Akm::from_selector(akm_sel).ok_or(AssocError::Unsupported)?;
        let pairwise = Cipher::from_selector(pw_sel).ok_or(AssocError::Unsupported)?;
        let group = Cipher::from_selector(ours.group_cipher).ok_or(AssocError::Unsupported)?;
        if !selector_in(&ap.akms, akm_sel)
            || !selector_in(&ap.pairwise, pw_sel)
            || ap.group_cipher != ours.group_cipher
        {
            return Err(AssocError::NotOffered);
        }
        if ap.mfp_required() && !ours.mfp_capable() {
            return Err(AssocError::ApRequiresPmf);
        }
        let pmf = ap.mfp_capable() && ours.mfp_capable();
        if akm.requires_pmf() && !pmf {
            return Err(AssocError::PmfRequired(akm));
        }
        let mgmt = if pmf {
            let sel = ap.group_mgmt_or_default();
            Some(MgmtCipher::from_selector(sel).ok_or(AssocError::Unsupported)?)
        } else {
            None
        };
        if akm == Akm::SuiteB192
            && (pairwise != Cipher::Gcmp256
                || group != Cipher::Gcmp256
                || mgmt != Some(MgmtCipher::BipGmac256))
        {
            return Err(AssocError::SuiteB192Ciphers);
        }
        if pmk.as_ref().is_some_and(|p| p.len() != akm.pmk_len()) {
            return Err(AssocError::PmkLength);
        }
        Ok(Handshake {
            aa: assoc.aa,
            spa: assoc.spa,
            akm,
            pairwise,
            group,
            mgmt,
            ap_rsne: Vec::from_slice(assoc.ap_rsne).map_err(|_| AssocError::Unsupported)?,
            our_rsne: Vec::from_slice(assoc.our_rsne).map_err(|_| AssocError::Unsupported)?,
            pmk,
            cached_pmkid: None,
            eapol_version: eapol::VERSION_2004,
            state: State::WaitMsg1,
            replay: None,
            anonce: [0; 32],
            snonce: [0; 32],
            snonce_fresh: false,
            tptk: None,
            ptk: None,
            gtk: None,
            prev_gtk: None,
            igtk: None,
            prev_igtk: None,
            drops: [0; DropReason::COUNT],
        })
    }

    /// The EAPOL protocol version our frames carry (default 2).
    pub fn set_eapol_version(&mut self, v: u8) {
        self.eapol_version = v;
    }

    /// The PMK from a finished EAP authentication ([`Pmk::from_msk`]).
    pub fn set_pmk(&mut self, pmk: Pmk) -> Result<(), AssocError> {
        if pmk.len() != self.akm.pmk_len() {
            return Err(AssocError::PmkLength);
        }
        self.pmk = Some(pmk);
        self.cached_pmkid = None;
        Ok(())
    }

    /// Starts from a cached PMKSA (whose PMKID the platform put in the association request).
    /// It is used only for this AA and AKM; a message 1 naming another PMKID is dropped
    /// ([`DropReason::PmkidMismatch`]: the caller drops the entry and lets EAP run).
    pub fn use_cached(&mut self, entry: &PmksaEntry) -> Result<(), AssocError> {
        if entry.aa != self.aa || entry.akm != self.akm {
            return Err(AssocError::NotOffered);
        }
        self.set_pmk(entry.pmk.clone())?;
        self.cached_pmkid = Some(entry.pmkid);
        Ok(())
    }

    /// Forgets the PMK (and any cached PMKSA in use): the next message 1 is dropped with
    /// [`DropReason::NoPmk`] until [`Handshake::set_pmk`] (after EAP) gives a new one.
    pub fn forget_pmk(&mut self) {
        self.pmk = None;
        self.cached_pmkid = None;
    }

    /// Whether the PMK in use came from the PMKSA cache ([`Handshake::use_cached`]).
    pub fn pmksa_in_use(&self) -> bool {
        self.cached_pmkid.is_some()
    }

    /// The authenticator's address (AA).
    pub fn aa(&self) -> MacAddr {
        self.aa
    }

    /// The AKM in use.
    pub fn akm(&self) -> Akm {
        self.akm
    }

    /// The pairwise cipher in use.
    pub fn pairwise_cipher(&self) -> Cipher {
        self.pairwise
    }

    /// The group cipher in use.
    pub fn group_cipher(&self) -> Cipher {
        self.group
    }

    /// The group management cipher, when PMF is on.
    pub fn mgmt_cipher(&self) -> Option<MgmtCipher> {
        self.mgmt
    }

    /// PMF in use.
    pub fn pmf(&self) -> Pmf {
        if self.mgmt.is_some() {
            Pmf::On
        } else {
            Pmf::Off
        }
    }

    /// Whether the 4-way handshake has completed (a PTK is in force).
    pub fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// How many frames were dropped for `reason`.
    pub fn drops(&self, reason: DropReason) -> u32 {
        self.drops.get(reason.index()).copied().unwrap_or(0)
    }

    /// Total frames dropped.
    pub fn total_drops(&self) -> u32 {
        self.drops.iter().sum()
    }

    /// The PMKSA to cache after a completed handshake: PMKID and PMK (for AKM 12 the PMKID
    /// comes from the KCK of the PTK in force).
    pub fn pmksa(&self) -> Option<(Pmkid, Pmk)> {
        let pmk = self.pmk.clone()?;
        let id = match self.akm {
            Akm::SuiteB192 => {
                let ptk = self.ptk.as_ref()?;
                Pmkid::from_kck(ptk.kck(), &self.aa, &self.spa)?
            }
            _ => Pmkid::from_pmk(self.akm, &pmk, &self.aa, &self.spa)?,
        };
        Some((id, pmk))
    }

    /// Handles one received EAPOL frame (header included; link-layer padding allowed). On
    /// success the reply is in `out[..step.reply_len]`, to be sent before the keys in
    /// `step.installs` are installed.
    pub fn receive<R: RngCore + CryptoRng>(
        &mut self,
        frame: &[u8],
        rng: &mut R,
        out: &mut [u8],
    ) -> Result<Step, DropReason> {
        let result = self.receive_inner(frame, rng, out);
        if let Err(reason) = result {
            if let Some(c) = self.drops.get_mut(reason.index()) {
                *c = c.saturating_add(1);
            }
        }
        result
    }

    fn receive_inner<R: RngCore + CryptoRng>(
        &mut self,
        frame: &[u8],
        rng: &mut R,
        out: &mut [u8],
    ) -> Result<Step, DropReason> {
        let eapol = eapol::Packet::new_checked(frame).map_err(|_| DropReason::Malformed)?;
        if eapol.packet_type() != eapol::PacketType::Key {
            return Err(DropReason::Malformed);
        }
        // The MIC covers the EAPOL header and body, not link-layer padding.
        let whole = frame
            .get(..eapol::HEADER_LEN.saturating_add(eapol.body().len()))
            .ok_or(DropReason::Malformed)?;
        let mic_len = self.akm.mic_len();
        let packet =
            frame::Packet::new_checked(eapol.body(), mic_len).map_err(|_| DropReason::Malformed)?;
        let repr = Repr::parse(&packet).map_err(|_| DropReason::Malformed)?;
        let info = repr.key_info;
        if info.version() != self.akm.descriptor_version() {
            return Err(DropReason::DescriptorVersion);
        }
        if !info.ack() || info.request() || info.error() {
            return Err(DropReason::UnexpectedMessage);
        }
        if info.pairwise() && info.0 & KeyInfo::KEY_INDEX_MASK != 0 {
            return Err(DropReason::UnexpectedMessage);
        }
        if usize::from(packet.key_data_len()) > MAX_KEY_DATA {
            return Err(DropReason::KeyDataTooLong);
        }
        if let Some(last) = self.replay {
            if repr.replay_counter <= last {
                return Err(DropReason::ReplayedCounter);
            }
        }
        if info.pairwise() {
            if !info.mic() {
                if info.install() || info.secure() || info.encrypted() {
                    return Err(DropReason::UnexpectedMessage);
                }
                self.message_1(&repr, rng, out)
            } else {
                if !info.install() {
                    return Err(DropReason::UnexpectedMessage);
                }
                self.message_3(whole, &repr, out)
            }
        } else {
            if !info.mic() || !info.secure() || info.install() {
                return Err(DropReason::UnexpectedMessage);
            }
            self.group_message_1(whole, &repr, out)
        }
    }

    fn message_1<R: RngCore + CryptoRng>(
        &mut self,
        repr: &Repr<'_>,
        rng: &mut R,
        out: &mut [u8],
    ) -> Result<Step, DropReason> {
        let pmk = self.pmk.as_ref().ok_or(DropReason::NoPmk)?;
        // Message 1 is not authenticated: only a PMKID KDE in clear key data is looked at.
        let named = kde::parse(repr.key_data).ok().and_then(|k| k.pmkid);
        let mut pmksa_used = false;
        if let Some(cached) = self.cached_pmkid {
            match named {
                Some(id) if id == cached => pmksa_used = true,
                // No PMKID: the AP may have run EAP again, which set_pmk would have reported.
                _ => return Err(DropReason::PmkidMismatch),
            }
        }
        // A new SNonce for a new handshake; a restart within one (the AP retransmitting or
        // restarting message 1) keeps it, so a message 3 built on either message 2 verifies.
        if !self.snonce_fresh || self.state != State::WaitMsg3 {
            rng.try_fill_bytes(&mut self.snonce)
                .map_err(|_| DropReason::RngFailed)?;
            self.snonce_fresh = true;
        }
        let tptk = Ptk::derive(
            self.akm,
            self.pairwise,
            pmk,
            &self.aa,
            &self.spa,
            &repr.nonce,
            &self.snonce,
        )
        .map_err(|_| DropReason::ZeroKey)?;
        let key_info = KeyInfo(
            u16::from(self.akm.descriptor_version())
                | KeyInfo::KEY_TYPE_PAIRWISE
                | KeyInfo::KEY_MIC,
        );
        let n = self.emit_reply(
            key_info,
            repr.replay_counter,
            &self.snonce.clone(),
            &self.our_rsne.clone(),
            tptk.kck(),
            out,
        )?;
        self.anonce = repr.nonce;
        self.tptk = Some(tptk);
        // After a completed handshake this is a PTK rekey: the PTK in force stays until
        // message 3 of this one is verified.
        self.state = State::WaitMsg3;
        Ok(Step {
            message: Message::Pairwise1,
            reply_len: n,
            installs: Installs::default(),
            pmksa_used,
            complete: false,
        })
    }

    fn message_3(
        &mut self,
        whole: &[u8],
        repr: &Repr<'_>,
        out: &mut [u8],
    ) -> Result<Step, DropReason> {
        if self.state == State::WaitMsg1 {
            return Err(DropReason::UnexpectedMessage);
        }
        if !repr.key_info.secure() {
            return Err(DropReason::UnexpectedMessage);
        }
        if repr.nonce != self.anonce {
            return Err(DropReason::AnonceMismatch);
        }
        let tptk = self.tptk.clone().ok_or(DropReason::UnexpectedMessage)?;
        self.verify_mic(whole, repr, &tptk)?;
        // Authenticated: from here the replay counter is the AP's.
        self.replay = Some(repr.replay_counter);
        if !repr.key_info.encrypted() {
            return Err(DropReason::UnencryptedKeyData);
        }
        let mut plain = Zeroizing::new([0u8; MAX_KEY_DATA]);
        let plain_len = unwrap(tptk.kek(), repr.key_data, &mut plain[..])?;
        let data = plain.get(..plain_len).ok_or(DropReason::KeyDataLength)?;
        let kd = kde::parse(data).map_err(|_| DropReason::BadKeyData)?;
        if kd.rsne != Some(&self.ap_rsne[..]) {
            return Err(DropReason::RsneMismatch);
        }
        let (gtk, igtk) = self.group_keys(&kd, repr.rsc)?;
        // Everything checked: answer, then decide what is new to install.
        let key_info = KeyInfo(
            u16::from(self.akm.descriptor_version())
                | KeyInfo::KEY_TYPE_PAIRWISE
                | KeyInfo::KEY_MIC
                | KeyInfo::SECURE,
        );
        let n = self.emit_reply(
            key_info,
            repr.replay_counter,
            &[0; 32],
            &[],
            tptk.kck(),
            out,
        )?;
        let mut installs = Installs::default();
        let already = self.ptk.as_ref().is_some_and(|p| p.ct_eq(&tptk));
        if !already {
            installs.ptk = Some(tptk.tk());
            self.ptk = Some(tptk);
        }
        self.accept_group_keys(gtk, igtk, &mut installs);
        self.state = State::Complete;
        self.snonce_fresh = false;
        Ok(Step {
            message: Message::Pairwise3,
            reply_len: n,
            installs,
            pmksa_used: false,
            complete: true,
        })
    }

    fn group_message_1(
        &mut self,
        whole: &[u8],
        repr: &Repr<'_>,
        out: &mut [u8],
    ) -> Result<Step, DropReason> {
        let ptk = match (&self.ptk, self.state) {
            (Some(p), State::Complete) => p.clone(),
            _ => return Err(DropReason::UnexpectedMessage),
        };
        self.verify_mic(whole, repr, &ptk)?;
        self.replay = Some(repr.replay_counter);
        if !repr.key_info.encrypted() {
            return Err(DropReason::UnencryptedKeyData);
        }
        let mut plain = Zeroizing::new([0u8; MAX_KEY_DATA]);
        let plain_len = unwrap(ptk.kek(), repr.key_data, &mut plain[..])?;
        let data = plain.get(..plain_len).ok_or(DropReason::KeyDataLength)?;
        let kd = kde::parse(data).map_err(|_| DropReason::BadKeyData)?;
        let (gtk, igtk) = self.group_keys(&kd, repr.rsc)?;
        let key_info =
            KeyInfo(u16::from(self.akm.descriptor_version()) | KeyInfo::KEY_MIC | KeyInfo::SECURE);
        let n = self.emit_reply(key_info, repr.replay_counter, &[0; 32], &[], ptk.kck(), out)?;
        let mut installs = Installs::default();
        self.accept_group_keys(gtk, igtk, &mut installs);
        Ok(Step {
            message: Message::Group1,
            reply_len: n,
            installs,
            pmksa_used: false,
            complete: true,
        })
    }

    fn verify_mic(&self, whole: &[u8], repr: &Repr<'_>, ptk: &Ptk) -> Result<(), DropReason> {
        let start = eapol::HEADER_LEN + frame::MIC_OFFSET;
        let mic_len = self.akm.mic_len();
        let before = whole.get(..start).ok_or(DropReason::Malformed)?;
        let after = whole
            .get(start..)
            .and_then(|rest| rest.get(mic_len..))
            .ok_or(DropReason::Malformed)?;
        let zeros = [0u8; MAX_MIC_LEN];
        let zeros = zeros.get(..mic_len).ok_or(DropReason::Malformed)?;
        if keys::verify_mic(self.akm, ptk.kck(), &[before, zeros, after], repr.mic) {
            Ok(())
        } else {
            Err(DropReason::BadMic)
        }
    }

    /// Validates the GTK (and, with PMF, IGTK) KDEs before anything is answered.
    fn group_keys(
        &self,
        kd: &kde::KeyData<'_>,
        rsc: [u8; 8],
    ) -> Result<(GroupKey, Option<IntegrityGroupKey>), DropReason> {
        let g = kd.gtk.ok_or(DropReason::MissingGtk)?;
        let key = Gtk::new(g.key, self.group).map_err(|e| match e {
            KeyError::AllZero => DropReason::ZeroKey,
            _ => DropReason::GtkLength,
        })?;
        let gtk = GroupKey {
            key_id: g.key_id,
            key,
            rsc,
        };
        let igtk = match self.mgmt {
            None => None,
            Some(cipher) => {
                let i = kd.igtk.ok_or(DropReason::MissingIgtk)?;
                if !(4..=5).contains(&i.key_id) {
                    return Err(DropReason::BadIgtk);
                }
                let key = Igtk::new(i.key, cipher).map_err(|e| match e {
                    KeyError::AllZero => DropReason::ZeroKey,
                    _ => DropReason::BadIgtk,
                })?;
                Some(IntegrityGroupKey {
                    key_id: i.key_id,
                    key,
                    ipn: i.ipn,
                })
            }
        };
        Ok((gtk, igtk))
    }

    /// Installs only group keys that are neither the current nor the previous one.
    fn accept_group_keys(
        &mut self,
        gtk: GroupKey,
        igtk: Option<IntegrityGroupKey>,
        installs: &mut Installs,
    ) {
        let known = |k: &Option<Gtk>| k.as_ref().is_some_and(|c| c.ct_eq(&gtk.key));
        if !known(&self.gtk) && !known(&self.prev_gtk) {
            self.prev_gtk = self.gtk.replace(gtk.key.clone());
            installs.gtk = Some(gtk);
        }
        if let Some(igtk) = igtk {
            let known = |k: &Option<Igtk>| k.as_ref().is_some_and(|c| c.ct_eq(&igtk.key));
            if !known(&self.igtk) && !known(&self.prev_igtk) {
                self.prev_igtk = self.igtk.replace(igtk.key.clone());
                installs.igtk = Some(igtk);
            }
        }
    }

    fn emit_reply(
        &self,
        key_info: KeyInfo,
        replay_counter: u64,
        nonce: &[u8; 32],
        key_data: &[u8],
        kck: &[u8],
        out: &mut [u8],
    ) -> Result<usize, DropReason> {
        let mic_len = self.akm.mic_len();
        let zeros = [0u8; MAX_MIC_LEN];
        let repr = Repr {
            key_info,
            key_length: 0,
            replay_counter,
            nonce: *nonce,
            iv: [0; 16],
            rsc: [0; 8],
            mic: zeros.get(..mic_len).ok_or(DropReason::BufferTooSmall)?,
            key_data,
        };
        let body_len = repr.buffer_len();
        let total = eapol::HEADER_LEN.saturating_add(body_len); // body_len: a few hundred bytes
        let dst = out.get_mut(..total).ok_or(DropReason::BufferTooSmall)?;
        let header = eapol::Repr {
            version: self.eapol_version,
            packet_type: eapol::PacketType::Key,
            body_len: u16::try_from(body_len).map_err(|_| DropReason::BufferTooSmall)?,
        };
        header
            .emit(&mut eapol::Packet::new_unchecked(&mut *dst))
            .map_err(|_| DropReason::BufferTooSmall)?;
        let body = dst
            .get_mut(eapol::HEADER_LEN..)
            .ok_or(DropReason::BufferTooSmall)?;
        repr.emit(body).map_err(|_| DropReason::BufferTooSmall)?;
        let mut mic = [0u8; MAX_MIC_LEN];
        let mic = mic.get_mut(..mic_len).ok_or(DropReason::BufferTooSmall)?;
        keys::compute_mic(self.akm, kck, &[dst], mic).map_err(|_| DropReason::BufferTooSmall)?;
        let at = eapol::HEADER_LEN + frame::MIC_OFFSET;
        dst.get_mut(at..)
            .and_then(|rest| rest.get_mut(..mic_len))
            .ok_or(DropReason::BufferTooSmall)?
            .copy_from_slice(mic);
        Ok(total)
    }
}

fn unwrap(kek: &[u8], wrapped: &[u8], out: &mut [u8]) -> Result<usize, DropReason> {
    keys::unwrap_key_data(kek, wrapped, out).map_err(|e| match e {
        KeyError::UnwrapIntegrity => DropReason::KeyUnwrapFailed,
        _ => DropReason::KeyDataLength,
    })
}
