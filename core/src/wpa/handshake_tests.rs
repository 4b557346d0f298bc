//! Tests of the handshake state machine: the public iwd WPA2 handshake replayed through it
//! byte for byte, and, for AKM 1, 5 and 12, frames crafted by a small test authenticator
//! (written from §12.7.6/§12.7.7, sharing only the key primitives) for the positive path and
//! for every refusal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use alloc::vec::Vec;

use rand_core::{CryptoRng, RngCore};

use super::frame::{KeyInfo, Repr};
use super::handshake::*;
use super::keys::tests::hex;
use super::keys::{self, Pmk, Pmkid, Ptk};
use super::rsne::{Rsne, CAP_MFPC, CAP_MFPR};
use super::{kde, Akm, Cipher, MgmtCipher};
use crate::eapol;

/// An RNG that hands out fixed bytes (the SNonce of a published handshake).
struct FixedRng(Vec<u8>);

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        0
    }
    fn next_u64(&mut self) -> u64 {
        0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for (i, d) in dest.iter_mut().enumerate() {
            *d = self.0[i % self.0.len()];
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for FixedRng {}

/// A counter-based RNG for tests that only need distinct nonces.
struct CountRng(u8);
impl RngCore for CountRng {
    fn next_u32(&mut self) -> u32 {
        0
    }
    fn next_u64(&mut self) -> u64 {
        0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0 = self.0.wrapping_add(1);
        for (i, d) in dest.iter_mut().enumerate() {
            *d = self.0 ^ (i as u8).wrapping_mul(31);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for CountRng {}

// iwd unit/test-eapol.c, eapol_4way_test: a real WPA2-PSK handshake (PRF-SHA1, HMAC-SHA1-128,
// AES key wrap: the same hierarchy as AKM 1). PMK = PBKDF2("EasilyGuessedPassword", "TestWPA").
const IWD_AA: [u8; 6] = [0x24, 0xa2, 0xe1, 0xec, 0x17, 0x04];
const IWD_SPA: [u8; 6] = [0xa0, 0xa8, 0xcd, 0x1c, 0x7e, 0xc9];
const IWD_PMK: &str = "bf9aa3155300125e7a5ebb2a549f8cd4edab8ee12e94bfc24b3357ad049665d9";
const IWD_MSG1: &str = "0203005f02008a00100000000000000000c2bb57ab588f92ebbd44e811094f60\
    1c087986030c3ac749cc61d63e33832e50000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000\
    000000";
const IWD_MSG2: &str = "0103007502010a000000000000000000003289e91565094f329a9cd54a4a090d\
    2cf4344683bf50efee3608b64856800e84000000000000000000000000000000\
    000000000000000000000000000000000001c31b82ff62a379b08dd1fc82c2f7\
    68001630140100000fac040100000fac040100000fac020000";
const IWD_MSG4: &str = "0103005f02030a00000000000000000001000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000\
    00000000000000000000000000000000009e57a4c09bafb3375e46d386cf8727\
    530000";
const IWD_OUR_RSNE: &str = "30140100000fac040100000fac040100000fac020000";

fn iwd_msg3() -> Vec<u8> {
    hex(super::frame::tests_support::IWD_MSG3)
}

#[test]
fn iwd_wpa2_handshake_replays_byte_for_byte() {
    let pmk = Pmk::from_bytes(&hex(IWD_PMK), Akm::Psk).unwrap();
    let msg1 = hex(IWD_MSG1);
    let msg2 = hex(IWD_MSG2);
    let msg3 = iwd_msg3();
    let snonce: [u8; 32] = msg2[17..49].try_into().unwrap();
    let anonce: [u8; 32] = msg1[17..49].try_into().unwrap();
    // The AP's RSNE is what its message 3 carries; learn it by unwrapping once.
    let ptk = Ptk::derive(
        Akm::Psk,
        Cipher::Ccmp128,
        &pmk,
        &IWD_AA,
        &IWD_SPA,
        &anonce,
        &snonce,
    )
    .unwrap();
    let mut plain = [0u8; 64];
    let n = keys::unwrap_key_data(ptk.kek(), &msg3[99..99 + 56], &mut plain).unwrap();
    let ap_rsne = kde::parse(&plain[..n]).unwrap().rsne.unwrap().to_vec();

    let our = hex(IWD_OUR_RSNE);
    let assoc = Association {
        aa: IWD_AA,
        spa: IWD_SPA,
        ap_rsne: &ap_rsne,
        our_rsne: &our,
    };
    let mut hs = Handshake::new(&assoc, Some(pmk)).unwrap();
    hs.set_eapol_version(1);
    let mut rng = FixedRng(snonce.to_vec());
    let mut out = [0u8; MAX_REPLY_LEN];
    let step = hs.receive(&msg1, &mut rng, &mut out).unwrap();
    assert_eq!(step.message, Message::Pairwise1);
    assert_eq!(
        &out[..step.reply_len],
        &msg2[..],
        "message 2 as iwd's capture"
    );
    let step = hs.receive(&msg3, &mut rng, &mut out).unwrap();
    assert_eq!(
        &out[..step.reply_len],
        &hex(IWD_MSG4)[..],
        "message 4 as iwd's capture"
    );
    assert!(step.complete);
    assert_eq!(step.installs.ptk.unwrap().as_bytes(), ptk.tk().as_bytes());
    let gtk = step.installs.gtk.unwrap();
    assert_eq!(gtk.key.as_bytes().len(), 16);
    assert_eq!(hs.total_drops(), 0);
}

/// A test authenticator: builds messages 1 and 3 and group message 1 from §12.7.6/§12.7.7.
pub(crate) struct TestAp {
    pub akm: Akm,
    pub pmk: Pmk,
    pub aa: [u8; 6],
    pub spa: [u8; 6],
    pub ap_rsne: Vec<u8>,
    pub our_rsne: Vec<u8>,
    pub anonce: [u8; 32],
    pub counter: u64,
    pub gtk: Vec<u8>,
    pub gtk_id: u8,
    pub igtk: Option<Vec<u8>>,
    pub ptk: Option<Ptk>,
}

/// How to spoil a crafted message.
#[derive(Default, Clone)]
pub(crate) struct Tamper {
    pub mic: bool,
    pub anonce: Option<[u8; 32]>,
    pub rsne: Option<Vec<u8>>,
    pub wrap_byte: bool,
    pub unencrypted: bool,
    pub gtk_len: Option<usize>,
    pub no_igtk: bool,
    pub zero_gtk: bool,
    pub key_data_len_delta: Option<i32>,
    pub raw_key_data: Option<Vec<u8>>,
}

fn rsne_for(akm: Akm, mfp: u16) -> Vec<u8> {
    let (cipher, mgmt) = match akm {
        Akm::SuiteB192 => (Cipher::Gcmp256, Some(MgmtCipher::BipGmac256.selector())),
        _ => (Cipher::Ccmp128, None),
    };
    let r = Rsne {
        group_cipher: cipher.selector(),
        pairwise: heapless::Vec::from_slice(&[cipher.selector()]).unwrap(),
        akms: heapless::Vec::from_slice(&[akm.selector()]).unwrap(),
        capabilities: mfp,
        pmkids: heapless::Vec::new(),
        group_mgmt_cipher: mgmt,
    };
    let mut buf = [0u8; 64];
    let n = r.emit(&mut buf).unwrap();
    buf[..n].to_vec()
}

impl TestAp {
    pub fn new(akm: Akm) -> TestAp {
        let pmf = akm.requires_pmf();
        let mfp = if pmf { CAP_MFPC | CAP_MFPR } else { 0 };
        let tk_len = if akm == Akm::SuiteB192 { 32 } else { 16 };
        TestAp {
            akm,
            pmk: Pmk::from_bytes(&(1..=akm.pmk_len() as u8).collect::<Vec<_>>(), akm).unwrap(),
            aa: [0x02, 0, 0, 0, 0, 0x01],
            spa: [0x02, 0, 0, 0, 0, 0x02],
            ap_rsne: rsne_for(akm, mfp),
            our_rsne: rsne_for(akm, if pmf { CAP_MFPC } else { 0 }),
            anonce: [0xA1; 32],
            counter: 0,
            gtk: alloc::vec![0x47; tk_len],
            gtk_id: 1,
            igtk: pmf.then(|| alloc::vec![0x49; tk_len]),
            ptk: None,
        }
    }

    pub fn handshake(&self) -> Handshake {
        let assoc = Association {
            aa: self.aa,
            spa: self.spa,
            ap_rsne: &self.ap_rsne,
            our_rsne: &self.our_rsne,
        };
        Handshake::new(&assoc, Some(self.pmk.clone())).unwrap()
    }

    fn version(&self) -> u16 {
        u16::from(self.akm.descriptor_version())
    }

    fn frame(
        &self,
        info: u16,
        counter: u64,
        nonce: [u8; 32],
        rsc: [u8; 8],
        key_data: &[u8],
    ) -> Vec<u8> {
        let mic_len = self.akm.mic_len();
        let zeros = [0u8; 24];
        let repr = Repr {
            key_info: KeyInfo(info),
            key_length: if info & KeyInfo::KEY_TYPE_PAIRWISE != 0 {
                16
            } else {
                0
            },
            replay_counter: counter,
            nonce,
            iv: [0; 16],
            rsc,
            mic: &zeros[..mic_len],
            key_data,
        };
        let mut body = alloc::vec![0u8; repr.buffer_len()];
        repr.emit(&mut body).unwrap();
        let mut f = alloc::vec![0u8; 4 + body.len()];
        eapol::emit_frame(2, eapol::PacketType::Key, &body, &mut f).unwrap();
        f
    }

    pub fn msg1(&mut self, pmkid: Option<Pmkid>) -> Vec<u8> {
        self.counter += 1;
        let mut kd = Vec::new();
        if let Some(id) = pmkid {
            let mut b = [0u8; 22];
            kde::emit_pmkid(&id, &mut b).unwrap();
            kd.extend_from_slice(&b);
        }
        let info = self.version() | KeyInfo::KEY_TYPE_PAIRWISE | KeyInfo::KEY_ACK;
        self.frame(info, self.counter, self.anonce, [0; 8], &kd)
    }

    /// Reads SNonce from message 2 (checking its MIC) and derives the PTK.
    pub fn take_msg2(&mut self, msg2: &[u8]) {
        let snonce: [u8; 32] = msg2[17..49].try_into().unwrap();
        let ptk = Ptk::derive(
            self.akm,
            self.cipher(),
            &self.pmk,
            &self.aa,
            &self.spa,
            &self.anonce,
            &snonce,
        )
        .unwrap();
        let mic_len = self.akm.mic_len();
        let mut zeroed = msg2.to_vec();
        zeroed[81..81 + mic_len].fill(0);
        assert!(
            keys::verify_mic(self.akm, ptk.kck(), &[&zeroed], &msg2[81..81 + mic_len]),
            "message 2 MIC"
        );
        let kd_len = u16::from_be_bytes([msg2[81 + mic_len], msg2[82 + mic_len]]) as usize;
        assert_eq!(
            &msg2[83 + mic_len..83 + mic_len + kd_len],
            &self.our_rsne[..],
            "our RSNE in message 2"
        );
        self.ptk = Some(ptk);
    }

    fn cipher(&self) -> Cipher {
        if self.akm == Akm::SuiteB192 {
            Cipher::Gcmp256
        } else {
            Cipher::Ccmp128
        }
    }

    fn key_data(&self, with_rsne: bool, t: &Tamper) -> Vec<u8> {
        let mut kd = Vec::new();
        if with_rsne {
            kd.extend_from_slice(t.rsne.as_deref().unwrap_or(&self.ap_rsne));
        }
        let mut b = [0u8; 64];
        let mut gtk = self.gtk.clone();
        if t.zero_gtk {
            gtk.fill(0);
        }
        if let Some(l) = t.gtk_len {
            gtk.resize(l, 0x47);
        }
        let n = kde::emit_gtk(self.gtk_id, true, &gtk, &mut b).unwrap();
        kd.extend_from_slice(&b[..n]);
        if let (Some(igtk), false) = (&self.igtk, t.no_igtk) {
            let n = kde::emit_igtk(4, &[3, 0, 0, 0, 0, 0], igtk, &mut b).unwrap();
            kd.extend_from_slice(&b[..n]);
        }
        if t.unencrypted {
            return kd;
        }
        // Pad to a multiple of 8 (at least 16) with 0xDD then zeros, then wrap.
        if kd.len() % 8 != 0 || kd.len() < 16 {
            kd.push(0xdd);
            while kd.len() % 8 != 0 || kd.len() < 16 {
                kd.push(0);
            }
        }
        let mut wrapped = alloc::vec![0u8; kd.len() + 8];
        keys::wrap_key_data(self.ptk.as_ref().unwrap().kek(), &kd, &mut wrapped).unwrap();
        if t.wrap_byte {
            wrapped[3] ^= 1;
        }
        wrapped
    }

    pub fn msg3(&mut self, t: &Tamper) -> Vec<u8> {
        self.counter += 1;
        let kd = t
            .raw_key_data
            .clone()
            .unwrap_or_else(|| self.key_data(true, t));
        let mut info = self.version()
            | KeyInfo::KEY_TYPE_PAIRWISE
            | KeyInfo::KEY_ACK
            | KeyInfo::KEY_MIC
            | KeyInfo::INSTALL
            | KeyInfo::SECURE;
        if !t.unencrypted {
            info |= KeyInfo::ENCRYPTED_KEY_DATA;
        }
        let nonce = t.anonce.unwrap_or(self.anonce);
        let kck = self.ptk.as_ref().unwrap().kck().to_vec();
        let mut f = self.frame(info, self.counter, nonce, [5, 0, 0, 0, 0, 0, 0, 0], &kd);
        if let Some(d) = t.key_data_len_delta {
            let at = 81 + self.akm.mic_len();
            let len = (u16::from_be_bytes([f[at], f[at + 1]]) as i32 + d) as u16;
            f[at..at + 2].copy_from_slice(&len.to_be_bytes());
        }
        self.sign(&mut f, &kck, t.mic);
        f
    }

    pub fn group1(&mut self, t: &Tamper) -> Vec<u8> {
        self.counter += 1;
        let kd = self.key_data(false, t);
        let mut info = self.version() | KeyInfo::KEY_ACK | KeyInfo::KEY_MIC | KeyInfo::SECURE;
        if !t.unencrypted {
            info |= KeyInfo::ENCRYPTED_KEY_DATA;
        }
        let kck = self.ptk.as_ref().unwrap().kck().to_vec();
        let mut f = self.frame(info, self.counter, [0; 32], [9, 0, 0, 0, 0, 0, 0, 0], &kd);
        self.sign(&mut f, &kck, t.mic);
        f
    }

    fn sign(&self, f: &mut [u8], kck: &[u8], tamper: bool) {
        let mic_len = self.akm.mic_len();
        f[81..81 + mic_len].fill(0);
        let mut mic = [0u8; 24];
        keys::compute_mic(self.akm, kck, &[f], &mut mic[..mic_len]).unwrap();
        if tamper {
            mic[0] ^= 0x80;
        }
        f[81..81 + mic_len].copy_from_slice(&mic[..mic_len]);
    }
}

const AKMS: [Akm; 3] = [Akm::Ieee8021x, Akm::Ieee8021xSha256, Akm::SuiteB192];

fn run_to_msg3(akm: Akm) -> (TestAp, Handshake, CountRng) {
    let mut ap = TestAp::new(akm);
    let mut hs = ap.handshake();
    let mut rng = CountRng(0);
    let mut out = [0u8; MAX_REPLY_LEN];
    let m1 = ap.msg1(None);
    let s = hs.receive(&m1, &mut rng, &mut out).unwrap();
    ap.take_msg2(&out[..s.reply_len]);
    (ap, hs, rng)
}

fn complete(akm: Akm) -> (TestAp, Handshake, CountRng) {
    let (mut ap, mut hs, mut rng) = run_to_msg3(akm);
    let mut out = [0u8; MAX_REPLY_LEN];
    let m3 = ap.msg3(&Tamper::default());
    let s = hs.receive(&m3, &mut rng, &mut out).unwrap();
    assert!(s.complete);
    (ap, hs, rng)
}

#[test]
fn full_handshake_and_group_rekey_for_each_akm() {
    for akm in AKMS {
        let (mut ap, mut hs, mut rng) = run_to_msg3(akm);
        let mut out = [0u8; MAX_REPLY_LEN];
        let m3 = ap.msg3(&Tamper::default());
        let s = hs.receive(&m3, &mut rng, &mut out).unwrap();
        let msg4 = &out[..s.reply_len];
        let info = u16::from_be_bytes([msg4[5], msg4[6]]);
        assert_eq!(
            info,
            ap.version() | KeyInfo::KEY_TYPE_PAIRWISE | KeyInfo::KEY_MIC | KeyInfo::SECURE,
            "{akm}"
        );
        let ptk = ap.ptk.clone().unwrap();
        assert_eq!(
            s.installs.ptk.unwrap().as_bytes(),
            ptk.tk().as_bytes(),
            "{akm}"
        );
        let g = s.installs.gtk.unwrap();
        assert_eq!(
            (g.key_id, g.key.as_bytes(), g.rsc[0]),
            (1, &ap.gtk[..], 5),
            "{akm}"
        );
        match &ap.igtk {
            Some(i) => {
                let ig = s.installs.igtk.unwrap();
                assert_eq!(
                    (ig.key_id, ig.key.as_bytes(), ig.ipn[0]),
                    (4, &i[..], 3),
                    "{akm}"
                );
            }
            None => assert!(s.installs.igtk.is_none()),
        }
        assert_eq!(
            hs.pmf(),
            if akm.requires_pmf() {
                Pmf::On
            } else {
                Pmf::Off
            }
        );
        // Group rekey: a new GTK (id 2) and IGTK.
        ap.gtk = alloc::vec![0x57; ap.gtk.len()];
        ap.gtk_id = 2;
        if let Some(i) = &mut ap.igtk {
            i.fill(0x59);
        }
        let g1 = ap.group1(&Tamper::default());
        let s = hs.receive(&g1, &mut rng, &mut out).unwrap();
        assert_eq!(s.message, Message::Group1);
        let g = s.installs.gtk.unwrap();
        assert_eq!((g.key_id, g.key.as_bytes()), (2, &ap.gtk[..]));
        assert_eq!(s.installs.igtk.is_some(), akm.requires_pmf());
        let reply = &out[..s.reply_len];
        let mic_len = akm.mic_len();
        let mut zeroed = reply.to_vec();
        zeroed[81..81 + mic_len].fill(0);
        assert!(keys::verify_mic(
            akm,
            ptk.kck(),
            &[&zeroed],
            &reply[81..81 + mic_len]
        ));
        // The same group message again: replayed counter.
        assert_eq!(
            hs.receive(&g1, &mut rng, &mut out).unwrap_err(),
            DropReason::ReplayedCounter
        );
        assert_eq!(hs.drops(DropReason::ReplayedCounter), 1);
        // PMKSA for caching.
        let (id, _) = hs.pmksa().unwrap();
        let expect = match akm {
            Akm::SuiteB192 => Pmkid::from_kck(ptk.kck(), &ap.aa, &ap.spa).unwrap(),
            _ => Pmkid::from_pmk(akm, &ap.pmk, &ap.aa, &ap.spa).unwrap(),
        };
        assert_eq!(id, expect);
    }
}

fn refused(akm: Akm, t: Tamper, reason: DropReason) {
    let (mut ap, mut hs, mut rng) = run_to_msg3(akm);
    let mut out = [0u8; MAX_REPLY_LEN];
    let m3 = ap.msg3(&t);
    let err = hs.receive(&m3, &mut rng, &mut out).unwrap_err();
    assert_eq!(err, reason, "{akm}");
    assert_eq!(hs.drops(reason), 1);
    assert!(!hs.is_complete(), "{akm}: no key installed after {reason}");
    // The genuine message 3 still completes (the refusal left no state behind), except after
    // an authenticated frame moved the replay counter, where a fresh counter is used anyway.
    let m3 = ap.msg3(&Tamper::default());
    let s = hs.receive(&m3, &mut rng, &mut out).unwrap();
    assert!(s.installs.ptk.is_some(), "{akm} after {reason}");
}

#[test]
fn message_3_refusals_each_with_its_reason() {
    for akm in AKMS {
        refused(
            akm,
            Tamper {
                mic: true,
                ..Default::default()
            },
            DropReason::BadMic,
        );
        refused(
            akm,
            Tamper {
                anonce: Some([0xEE; 32]),
                ..Default::default()
            },
            DropReason::AnonceMismatch,
        );
        let other = rsne_for(
            if akm == Akm::Ieee8021x {
                Akm::Ieee8021xSha256
            } else {
                Akm::Ieee8021x
            },
            0,
        );
        refused(
            akm,
            Tamper {
                rsne: Some(other),
                ..Default::default()
            },
            DropReason::RsneMismatch,
        );
        refused(
            akm,
            Tamper {
                wrap_byte: true,
                ..Default::default()
            },
            DropReason::KeyUnwrapFailed,
        );
        refused(
            akm,
            Tamper {
                unencrypted: true,
                ..Default::default()
            },
            DropReason::UnencryptedKeyData,
        );
        refused(
            akm,
            Tamper {
                gtk_len: Some(if akm == Akm::SuiteB192 { 16 } else { 32 }),
                ..Default::default()
            },
            DropReason::GtkLength,
        );
        refused(
            akm,
            Tamper {
                zero_gtk: true,
                ..Default::default()
            },
            DropReason::ZeroKey,
        );
        refused(
            akm,
            Tamper {
                key_data_len_delta: Some(1),
                ..Default::default()
            },
            DropReason::Malformed,
        );
        refused(
            akm,
            Tamper {
                raw_key_data: Some(alloc::vec![0; 20]),
                ..Default::default()
            },
            DropReason::KeyDataLength,
        );
        refused(
            akm,
            Tamper {
                raw_key_data: Some(alloc::vec![0; MAX_KEY_DATA + 8]),
                ..Default::default()
            },
            DropReason::KeyDataTooLong,
        );
        if akm.requires_pmf() {
            refused(
                akm,
                Tamper {
                    no_igtk: true,
                    ..Default::default()
                },
                DropReason::MissingIgtk,
            );
        }
    }
}

#[test]
fn retransmitted_message_3_is_answered_without_reinstalling() {
    for akm in AKMS {
        let (mut ap, mut hs, mut rng) = complete(akm);
        let mut out = [0u8; MAX_REPLY_LEN];
        // The AP did not get message 4 and retransmits message 3 with a new counter.
        let m3 = ap.msg3(&Tamper::default());
        let s = hs.receive(&m3, &mut rng, &mut out).unwrap();
        assert!(s.reply_len > 0 && s.complete);
        assert!(
            s.installs.ptk.is_none() && s.installs.gtk.is_none() && s.installs.igtk.is_none(),
            "{akm}: reinstalled"
        );
        // The very same frame replayed: dropped.
        assert_eq!(
            hs.receive(&m3, &mut rng, &mut out).unwrap_err(),
            DropReason::ReplayedCounter
        );
    }
}

#[test]
fn delayed_message_1_after_message_3_is_dropped() {
    for akm in AKMS {
        let mut ap = TestAp::new(akm);
        let mut hs = ap.handshake();
        let mut rng = CountRng(0);
        let mut out = [0u8; MAX_REPLY_LEN];
        let m1 = ap.msg1(None);
        let s = hs.receive(&m1, &mut rng, &mut out).unwrap();
        ap.take_msg2(&out[..s.reply_len]);
        let m3 = ap.msg3(&Tamper::default());
        hs.receive(&m3, &mut rng, &mut out).unwrap();
        assert_eq!(
            hs.receive(&m1, &mut rng, &mut out).unwrap_err(),
            DropReason::ReplayedCounter
        );
        assert!(hs.is_complete());
    }
}

#[test]
fn old_gtk_is_never_reinstalled() {
    let (mut ap, mut hs, mut rng) = complete(Akm::Ieee8021x);
    let mut out = [0u8; MAX_REPLY_LEN];
    let first = ap.gtk.clone();
    ap.gtk = alloc::vec![0x66; 16];
    ap.gtk_id = 2;
    let s = hs
        .receive(&ap.group1(&Tamper::default()), &mut rng, &mut out)
        .unwrap();
    assert!(s.installs.gtk.is_some());
    // The AP (or an attacker with a valid MIC and fresh counter) sends the first GTK again.
    ap.gtk = first;
    ap.gtk_id = 1;
    let s = hs
        .receive(&ap.group1(&Tamper::default()), &mut rng, &mut out)
        .unwrap();
    assert!(s.installs.gtk.is_none(), "old GTK reinstalled");
    // Group message refusals.
    assert_eq!(
        hs.receive(
            &ap.group1(&Tamper {
                mic: true,
                ..Default::default()
            }),
            &mut rng,
            &mut out
        )
        .unwrap_err(),
        DropReason::BadMic
    );
    assert_eq!(
        hs.receive(
            &ap.group1(&Tamper {
                unencrypted: true,
                ..Default::default()
            }),
            &mut rng,
            &mut out
        )
        .unwrap_err(),
        DropReason::UnencryptedKeyData
    );
    assert_eq!(
        hs.receive(
            &ap.group1(&Tamper {
                gtk_len: Some(15),
                ..Default::default()
            }),
            &mut rng,
            &mut out
        )
        .unwrap_err(),
        DropReason::GtkLength
    );
}

#[test]
fn new_message_1_mid_handshake_restarts_cleanly() {
    let (mut ap, mut hs, mut rng) = run_to_msg3(Akm::Ieee8021xSha256);
    let mut out = [0u8; MAX_REPLY_LEN];
    // The AP starts over with a new ANonce; the old message 3 would no longer verify.
    ap.anonce = [0xB2; 32];
    let m1 = ap.msg1(None);
    let s = hs.receive(&m1, &mut rng, &mut out).unwrap();
    ap.take_msg2(&out[..s.reply_len]);
    let s = hs
        .receive(&ap.msg3(&Tamper::default()), &mut rng, &mut out)
        .unwrap();
    assert!(s.complete && s.installs.ptk.is_some());
}

#[test]
fn out_of_order_and_group_before_ptk_are_unexpected() {
    let mut ap = TestAp::new(Akm::Ieee8021x);
    let mut hs = ap.handshake();
    let mut rng = CountRng(0);
    let mut out = [0u8; MAX_REPLY_LEN];
    let m1 = ap.msg1(None);
    let s = hs.receive(&m1, &mut rng, &mut out).unwrap();
    ap.take_msg2(&out[..s.reply_len]);
    let g1 = ap.group1(&Tamper::default());
    assert_eq!(
        hs.receive(&g1, &mut rng, &mut out).unwrap_err(),
        DropReason::UnexpectedMessage
    );
    let mut fresh = ap.handshake();
    let m3 = ap.msg3(&Tamper::default());
    assert_eq!(
        fresh.receive(&m3, &mut rng, &mut out).unwrap_err(),
        DropReason::UnexpectedMessage
    );
    // No PMK yet.
    let assoc = Association {
        aa: ap.aa,
        spa: ap.spa,
        ap_rsne: &ap.ap_rsne,
        our_rsne: &ap.our_rsne,
    };
    let mut nopmk = Handshake::new(&assoc, None).unwrap();
    assert_eq!(
        nopmk.receive(&m1, &mut rng, &mut out).unwrap_err(),
        DropReason::NoPmk
    );
    // Wrong descriptor version.
    let mut bad = m1.clone();
    bad[6] = (bad[6] & !7) | 3;
    assert_eq!(
        hs.receive(&bad, &mut rng, &mut out).unwrap_err(),
        DropReason::DescriptorVersion
    );
}

#[test]
fn pmf_is_required_for_akm_5_and_12_and_suite_b_ciphers_checked() {
    for akm in [Akm::Ieee8021xSha256, Akm::SuiteB192] {
        let ap = TestAp::new(akm);
        let ap_no_pmf = rsne_for(akm, 0);
        let ours_no_pmf = rsne_for(akm, 0);
        for (a, o) in [(&ap_no_pmf, &ap.our_rsne), (&ap.ap_rsne, &ours_no_pmf)] {
            let assoc = Association {
                aa: ap.aa,
                spa: ap.spa,
                ap_rsne: a,
                our_rsne: o,
            };
            let err = Handshake::new(&assoc, Some(ap.pmk.clone())).unwrap_err();
            assert!(
                matches!(err, AssocError::PmfRequired(_) | AssocError::ApRequiresPmf),
                "{akm}: {err:?}"
            );
        }
    }
    // AKM 12 with CCMP is refused.
    let ap = TestAp::new(Akm::Ieee8021xSha256);
    let mut r = Rsne::parse(&ap.ap_rsne).unwrap();
    r.akms[0] = Akm::SuiteB192.selector();
    r.group_mgmt_cipher = Some(MgmtCipher::BipGmac256.selector());
    let mut b = [0u8; 64];
    let n = r.emit(&mut b).unwrap();
    let assoc = Association {
        aa: ap.aa,
        spa: ap.spa,
        ap_rsne: &b[..n],
        our_rsne: &b[..n],
    };
    assert_eq!(
        Handshake::new(&assoc, None).unwrap_err(),
        AssocError::SuiteB192Ciphers
    );
}

#[test]
fn cached_pmksa_is_used_only_when_message_1_names_it() {
    use super::pmksa::PmksaCache;
    let (ap, hs, _) = complete(Akm::Ieee8021x);
    let (id, pmk) = hs.pmksa().unwrap();
    let mut cache: PmksaCache<4> = PmksaCache::new();
    cache.insert(ap.aa, Akm::Ieee8021x, id, pmk, 0);
    let entry = cache.find(&ap.aa, Akm::Ieee8021x, &id, 10).unwrap();
    for (named, ok) in [
        (Some(id), true),
        (Some(Pmkid([9; 16])), false),
        (None, false),
    ] {
        let mut ap2 = TestAp::new(Akm::Ieee8021x);
        let assoc = Association {
            aa: ap2.aa,
            spa: ap2.spa,
            ap_rsne: &ap2.ap_rsne,
            our_rsne: &ap2.our_rsne,
        };
        let mut hs2 = Handshake::new(&assoc, None).unwrap();
        hs2.use_cached(entry).unwrap();
        let mut rng = CountRng(7);
        let mut out = [0u8; MAX_REPLY_LEN];
        let r = hs2.receive(&ap2.msg1(named), &mut rng, &mut out);
        if ok {
            let s = r.unwrap();
            assert!(s.pmksa_used);
            ap2.take_msg2(&out[..s.reply_len]);
            assert!(
                hs2.receive(&ap2.msg3(&Tamper::default()), &mut rng, &mut out)
                    .unwrap()
                    .complete
            );
        } else {
            assert_eq!(r.unwrap_err(), DropReason::PmkidMismatch);
        }
    }
    // An entry for another AKM is not usable on this association.
    let other = super::pmksa::PmksaEntry {
        akm: Akm::Ieee8021xSha256,
        ..entry.clone()
    };
    let mut hs3 = ap.handshake();
    assert!(hs3.use_cached(&other).is_err());
}

#[test]
fn random_frames_never_panic_and_are_counted() {
    use proptest::prelude::*;
    let (ap, hs, _) = complete(Akm::SuiteB192);
    drop(ap);
    proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..400))| {
        let mut h = hs.clone();
        let mut out = [0u8; MAX_REPLY_LEN];
        let mut rng = CountRng(1);
        let before = h.total_drops();
        if h.receive(&bytes, &mut rng, &mut out).is_err() {
            prop_assert_eq!(h.total_drops(), before + 1);
        }
    });
}

#[test]
fn key_info_and_key_data_refusals_from_the_hostap_supplicant_protocol_tests() {
    // Request bit, no Ack bit, non-zero key index on a pairwise message, and a message 3
    // without a GTK KDE (test_ap_wpa2_psk_supp_proto, _no_gtk).
    for (set, clear, reason) in [
        (KeyInfo::REQUEST, 0, DropReason::UnexpectedMessage),
        (0, KeyInfo::KEY_ACK, DropReason::UnexpectedMessage),
        (0x0020, 0, DropReason::UnexpectedMessage),
    ] {
        let (mut ap, mut hs, mut rng) = run_to_msg3(Akm::Ieee8021x);
        let mut f = ap.msg3(&Tamper::default());
        let info = (u16::from_be_bytes([f[5], f[6]]) | set) & !clear;
        f[5..7].copy_from_slice(&info.to_be_bytes());
        let kck = ap.ptk.as_ref().unwrap().kck().to_vec();
        ap.sign(&mut f, &kck, false);
        let mut out = [0u8; MAX_REPLY_LEN];
        assert_eq!(hs.receive(&f, &mut rng, &mut out).unwrap_err(), reason);
    }
    let (mut ap, mut hs, mut rng) = run_to_msg3(Akm::Ieee8021x);
    let mut plain = ap.ap_rsne.clone();
    plain.push(0xdd);
    while plain.len() % 8 != 0 {
        plain.push(0);
    }
    let mut wrapped = alloc::vec![0u8; plain.len() + 8];
    keys::wrap_key_data(ap.ptk.as_ref().unwrap().kek(), &plain, &mut wrapped).unwrap();
    let m3 = ap.msg3(&Tamper {
        raw_key_data: Some(wrapped),
        ..Default::default()
    });
    let mut out = [0u8; MAX_REPLY_LEN];
    assert_eq!(
        hs.receive(&m3, &mut rng, &mut out).unwrap_err(),
        DropReason::MissingGtk
    );
    assert!(!hs.is_complete());
}
