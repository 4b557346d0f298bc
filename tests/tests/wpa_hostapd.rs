//! Latchkey's WPA key handshakes (`latchkey_core::wpa`) against hostapd 2.10's own
//! authenticator state machine (built from Debian's source by `latchkey_test_support::hostapd_auth`):
//! for AKM 1, 5 and 12, the 4-way handshake with both sides installing the same TK, GTK and
//! (with PMF) IGTK, compared by SHA-256 fingerprint; a group rekey; a reconnect from the PMKSA
//! cache with no MSK given to the authenticator; and the negative cases, each refused with its
//! own reason and no key installed. The PMK comes from a random MSK (as after EAP-TLS).

use std::time::Duration;

use latchkey_core::wpa::frame::KeyInfo;
use latchkey_core::wpa::handshake::{AssocError, Message, MAX_REPLY_LEN};
use latchkey_core::wpa::keys::{self, Ptk};
use latchkey_core::wpa::rsne::Rsne;
use latchkey_core::wpa::{kde, Akm, Association, DropReason, Handshake, Installs, Pmk, PmksaCache};
use latchkey_test_support::hostapd_auth::{station_rsne, AuthHarness, AuthKey};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

const AA: [u8; 6] = [0x02, 0x4c, 0x4b, 0x00, 0x00, 0x01];
const SPA: [u8; 6] = [0x02, 0x4c, 0x4b, 0x00, 0x00, 0x02];
const T: Duration = Duration::from_secs(5);

fn fp(b: &[u8]) -> Vec<u8> {
    Sha256::digest(b).to_vec()
}

fn akm_number(akm: Akm) -> u8 {
    akm.suite_type()
}

struct Net {
    akm: Akm,
    pmf: bool,
    h: AuthHarness,
}

impl Net {
    fn start(akm: Akm, pmf: u8) -> Net {
        let h = AuthHarness::start(akm_number(akm), pmf, AA, SPA)
            .unwrap_or_else(|e| panic!("hostapd authenticator harness: {e}"));
        Net {
            akm,
            pmf: pmf > 0,
            h,
        }
    }

    fn mic_len(&self) -> usize {
        self.akm.mic_len()
    }

    /// Associates with a fresh MSK and returns the handshake, the MSK and message 1.
    fn associate(&mut self, ap_rsne_seen: Option<&[u8]>) -> (Handshake, Vec<u8>, Vec<u8>) {
        let ours = station_rsne(&self.h.ap_rsne, self.pmf, None);
        assert_eq!(
            self.h.assoc(&ours).unwrap(),
            Ok(false),
            "hostapd refused our RSNE"
        );
        let mut msk = vec![0u8; 64];
        OsRng.fill_bytes(&mut msk);
        let beacon = ap_rsne_seen
            .map(<[u8]>::to_vec)
            .unwrap_or(self.h.ap_rsne.clone());
        let assoc = Association {
            aa: AA,
            spa: SPA,
            ap_rsne: &beacon,
            our_rsne: &ours,
        };
        let pmk = Pmk::from_msk(&msk, self.akm).unwrap();
        let hs = Handshake::new(&assoc, Some(pmk)).unwrap();
        self.h.msk(&msk).unwrap();
        let msg1 = self.h.tx(T).unwrap();
        (hs, msk, msg1)
    }

    /// Runs message 1 -> 2 and returns message 3 (not yet given to the supplicant).
    fn run_to_msg3(&mut self, hs: &mut Handshake, msg1: &[u8]) -> (Vec<u8>, [u8; 32]) {
        let mut out = [0u8; MAX_REPLY_LEN];
        let s = hs.receive(msg1, &mut OsRng, &mut out).unwrap();
        assert_eq!(s.message, Message::Pairwise1);
        let snonce: [u8; 32] = out[17..49].try_into().unwrap();
        self.h.rx(&out[..s.reply_len]).unwrap();
        (self.tx_msg3(), snonce)
    }

    /// The next message 3 hostapd sends (skipping retransmitted message 1s, which a slow
    /// message 2 can cause: hostapd retries message 1 after 100 ms).
    fn tx_msg3(&mut self) -> Vec<u8> {
        loop {
            let f = self.h.tx(T).unwrap();
            let info = KeyInfo(u16::from_be_bytes([f[5], f[6]]));
            if info.install() {
                return f;
            }
        }
    }

    fn keys_since(&self, from: usize) -> Vec<AuthKey> {
        self.h.keys[from..].to_vec()
    }

    /// Waits until hostapd has installed the pairwise key (after message 4).
    fn wait_pairwise(&mut self, from: usize) -> Vec<AuthKey> {
        for _ in 0..50 {
            if self.h.keys[from..].iter().any(|k| k.pairwise) {
                return self.keys_since(from);
            }
            self.h.settle(Duration::from_millis(100));
        }
        panic!(
            "hostapd installed no pairwise key; events {:?}",
            self.h.events
        );
    }
}

/// Checks what the supplicant installed against what hostapd installed.
fn same_keys(net: &Net, ours: &Installs, theirs: &[AuthKey]) {
    let tk = ours.ptk.as_ref().expect("supplicant installed no TK");
    let pk = theirs.iter().find(|k| k.pairwise).expect("hostapd: no TK");
    assert_eq!(fp(tk.as_bytes()), pk.fingerprint, "{}: TK differs", net.akm);
    assert_eq!(tk.as_bytes().len(), pk.len);
    same_group_keys(net, ours, &net.h.keys);
}

fn same_group_keys(net: &Net, ours: &Installs, theirs: &[AuthKey]) {
    let g = ours.gtk.as_ref().expect("supplicant installed no GTK");
    let hk = theirs
        .iter()
        .rev()
        .find(|k| !k.pairwise && u32::from(g.key_id) == k.idx)
        .unwrap_or_else(|| panic!("hostapd installed no GTK {}: {theirs:?}", g.key_id));
    assert_eq!(
        fp(g.key.as_bytes()),
        hk.fingerprint,
        "{}: GTK differs",
        net.akm
    );
    assert_eq!(&g.rsc[..], &hk.seq[..], "{}: GTK RSC differs", net.akm);
    match (&ours.igtk, net.pmf) {
        (Some(i), true) => {
            let hk = theirs
                .iter()
                .rev()
                .find(|k| u32::from(i.key_id) == k.idx)
                .expect("hostapd installed no IGTK");
            assert_eq!(
                fp(i.key.as_bytes()),
                hk.fingerprint,
                "{}: IGTK differs",
                net.akm
            );
            assert_eq!(&i.ipn[..], &hk.seq[..6], "{}: IPN differs", net.akm);
        }
        (None, false) => {}
        (i, pmf) => panic!("{}: IGTK {:?} with PMF {pmf}", net.akm, i.is_some()),
    }
}

/// The full flow for one AKM: 4-way, group rekey, PMKSA-cache reconnect.
fn full_flow(akm: Akm, pmf: u8) {
    let mut net = Net::start(akm, pmf);
    let (mut hs, _msk, msg1) = net.associate(None);
    let (msg3, _) = net.run_to_msg3(&mut hs, &msg1);
    let mut out = [0u8; MAX_REPLY_LEN];
    let s = hs.receive(&msg3, &mut OsRng, &mut out).unwrap();
    assert!(s.complete);
    let before = net.h.keys.len();
    net.h.rx(&out[..s.reply_len]).unwrap();
    let theirs = net.wait_pairwise(before);
    same_keys(&net, &s.installs, &theirs);
    assert!(
        net.h
            .events
            .iter()
            .any(|e| e.contains("pairwise key handshake completed")),
        "hostapd did not complete the 4-way handshake: {:?}",
        net.h.events
    );

    // Group rekey: group message 1 -> 2, both sides on the new GTK (and IGTK).
    let old_gtk = s.installs.gtk.clone().unwrap();
    net.h.rekey_gtk().unwrap();
    let g1 = net.h.tx(T).unwrap();
    let g = hs.receive(&g1, &mut OsRng, &mut out).unwrap();
    assert_eq!(g.message, Message::Group1);
    let new_gtk = g.installs.gtk.as_ref().expect("no new GTK");
    assert_ne!(new_gtk.key_id, old_gtk.key_id);
    net.h.rx(&out[..g.reply_len]).unwrap();
    net.h.settle(Duration::from_millis(300));
    same_group_keys(&net, &g.installs, &net.h.keys);
    assert!(
        net.h
            .events
            .iter()
            .any(|e| e.contains("group key handshake completed")),
        "hostapd did not complete the group handshake: {:?}",
        net.h.events
    );
    assert_eq!(hs.total_drops(), 0);

    // PMKSA caching: both sides cache; the reconnect names the PMKID; hostapd finds it
    // (computed on its side) and no MSK is given to it: zero EAP round trips.
    let (pmkid, pmk) = hs.pmksa().unwrap();
    net.h.pmksa_add().unwrap();
    let mut cache: PmksaCache<4> = PmksaCache::new();
    cache.insert(AA, akm, pmkid, pmk, 0);
    net.h.disassoc().unwrap();
    let entry = cache.get(&AA, akm, 60).unwrap().clone();
    let ours = station_rsne(&net.h.ap_rsne, net.pmf, Some(entry.pmkid));
    assert_eq!(
        net.h.assoc(&ours).unwrap(),
        Ok(true),
        "{akm}: hostapd did not find our PMKID"
    );
    let ap_rsne = net.h.ap_rsne.clone();
    let assoc = Association {
        aa: AA,
        spa: SPA,
        ap_rsne: &ap_rsne,
        our_rsne: &ours,
    };
    let mut hs2 = Handshake::new(&assoc, None).unwrap();
    hs2.use_cached(&entry).unwrap();
    let msg1 = net.h.tx(T).unwrap();
    let s1 = hs2.receive(&msg1, &mut OsRng, &mut out).unwrap();
    assert!(
        s1.pmksa_used,
        "{akm}: message 1 did not name the cached PMKSA"
    );
    net.h.rx(&out[..s1.reply_len]).unwrap();
    let msg3 = net.tx_msg3();
    let s3 = hs2.receive(&msg3, &mut OsRng, &mut out).unwrap();
    let before = net.h.keys.len();
    net.h.rx(&out[..s3.reply_len]).unwrap();
    let theirs = net.wait_pairwise(before);
    same_keys(&net, &s3.installs, &theirs);
}

#[test]
fn akm1_wpa2_enterprise_interop() {
    full_flow(Akm::Ieee8021x, 0);
}

#[test]
fn akm1_with_pmf_interop() {
    full_flow(Akm::Ieee8021x, 1);
}

#[test]
fn akm5_wpa3_enterprise_interop() {
    full_flow(Akm::Ieee8021xSha256, 2);
}

#[test]
fn akm12_wpa3_enterprise_192_interop() {
    full_flow(Akm::SuiteB192, 2);
}

// ---------------------------------------------------------------------------------------
// Negative cases on real frames from hostapd. Where a change would be caught by the MIC, the
// test re-signs the frame with the KCK (it knows the PMK, as a malicious AP would): the check
// under test is then the one that refuses it.

struct Msg3Case {
    net: Net,
    hs: Handshake,
    msg3: Vec<u8>,
    ptk: Ptk,
}

fn msg3_case(akm: Akm, pmf: u8, beacon: Option<Vec<u8>>) -> Msg3Case {
    let mut net = Net::start(akm, pmf);
    let (mut hs, msk, msg1) = net.associate(beacon.as_deref());
    let (msg3, snonce) = net.run_to_msg3(&mut hs, &msg1);
    let anonce: [u8; 32] = msg1[17..49].try_into().unwrap();
    let pmk = Pmk::from_msk(&msk, akm).unwrap();
    let cipher = hs.pairwise_cipher();
    let ptk = Ptk::derive(akm, cipher, &pmk, &AA, &SPA, &anonce, &snonce).unwrap();
    Msg3Case { net, hs, msg3, ptk }
}

impl Msg3Case {
    fn resign(&self, f: &mut [u8]) {
        let m = self.net.mic_len();
        f[81..81 + m].fill(0);
        let mut mic = vec![0u8; m];
        keys::compute_mic(self.net.akm, self.ptk.kck(), &[f], &mut mic).unwrap();
        f[81..81 + m].copy_from_slice(&mic);
    }

    fn key_data(&self) -> Vec<u8> {
        let m = self.net.mic_len();
        let n = u16::from_be_bytes([self.msg3[81 + m], self.msg3[82 + m]]) as usize;
        self.msg3[83 + m..83 + m + n].to_vec()
    }

    fn with_key_data(&self, kd: &[u8], encrypted: bool) -> Vec<u8> {
        let m = self.net.mic_len();
        let mut f = self.msg3[..83 + m].to_vec();
        f.extend_from_slice(kd);
        let body = (f.len() - 4) as u16;
        f[2..4].copy_from_slice(&body.to_be_bytes());
        f[81 + m..83 + m].copy_from_slice(&(kd.len() as u16).to_be_bytes());
        let mut info = u16::from_be_bytes([f[5], f[6]]);
        if !encrypted {
            info &= !KeyInfo::ENCRYPTED_KEY_DATA;
        }
        f[5..7].copy_from_slice(&info.to_be_bytes());
        self.resign(&mut f);
        f
    }

    fn plain_key_data(&self) -> Vec<u8> {
        let wrapped = self.key_data();
        let mut out = vec![0u8; wrapped.len()];
        let n = keys::unwrap_key_data(self.ptk.kek(), &wrapped, &mut out).unwrap();
        out.truncate(n);
        out
    }

    fn wrap(&self, plain: &[u8]) -> Vec<u8> {
        let mut p = plain.to_vec();
        if !p.len().is_multiple_of(8) || p.len() < 16 {
            p.push(0xdd);
            while !p.len().is_multiple_of(8) || p.len() < 16 {
                p.push(0);
            }
        }
        let mut w = vec![0u8; p.len() + 8];
        keys::wrap_key_data(self.ptk.kek(), &p, &mut w).unwrap();
        w
    }

    /// Gives `frame` to the supplicant: it must be refused with `reason`, nothing sent or
    /// installed; then the genuine message 3 (when still acceptable) completes normally.
    fn refuse(mut self, frame: &[u8], reason: DropReason, genuine_after: bool) {
        let mut out = [0u8; MAX_REPLY_LEN];
        let err = self.hs.receive(frame, &mut OsRng, &mut out).unwrap_err();
        assert_eq!(err, reason, "{}", self.net.akm);
        assert_eq!(self.hs.drops(reason), 1);
        assert!(
            !self.hs.is_complete(),
            "{}: handshake completed on a bad frame",
            self.net.akm
        );
        let before = self.net.h.keys.len();
        if genuine_after {
            let s = self.hs.receive(&self.msg3, &mut OsRng, &mut out).unwrap();
            self.net.h.rx(&out[..s.reply_len]).unwrap();
            let theirs = self.net.wait_pairwise(before);
            same_keys(&self.net, &s.installs, &theirs);
        } else {
            self.net.h.settle(Duration::from_millis(200));
            assert!(!self.net.h.keys[before..].iter().any(|k| k.pairwise));
        }
    }
}

const NEG_AKMS: [(Akm, u8); 3] = [
    (Akm::Ieee8021x, 0),
    (Akm::Ieee8021xSha256, 2),
    (Akm::SuiteB192, 2),
];

#[test]
fn bad_mic_is_refused() {
    for (akm, pmf) in NEG_AKMS {
        let c = msg3_case(akm, pmf, None);
        let mut f = c.msg3.clone();
        f[81] ^= 0x01;
        c.refuse(&f, DropReason::BadMic, true);
    }
}

#[test]
fn anonce_changed_in_message_3_is_refused() {
    for (akm, pmf) in NEG_AKMS {
        let c = msg3_case(akm, pmf, None);
        let mut f = c.msg3.clone();
        f[20] ^= 0x55;
        c.resign(&mut f);
        c.refuse(&f, DropReason::AnonceMismatch, true);
    }
}

#[test]
fn rsne_differing_from_the_beacon_is_refused() {
    for (akm, pmf) in NEG_AKMS {
        // The beacon (as an attacker rewrote it) claims other RSN capabilities than the RSNE
        // hostapd puts in its authenticated message 3.
        let mut beacon = Rsne::parse(&Net::start(akm, pmf).h.ap_rsne).unwrap();
        beacon.capabilities ^= 0x000c; // PTKSA replay counter bits
        let mut b = [0u8; 128];
        let n = beacon.emit(&mut b).unwrap();
        let c = msg3_case(akm, pmf, Some(b[..n].to_vec()));
        let f = c.msg3.clone();
        c.refuse(&f, DropReason::RsneMismatch, false);
    }
}

#[test]
fn bad_key_wrap_integrity_is_refused() {
    for (akm, pmf) in NEG_AKMS {
        let c = msg3_case(akm, pmf, None);
        let mut kd = c.key_data();
        kd[10] ^= 0x20;
        let f = c.with_key_data(&kd, true);
        c.refuse(&f, DropReason::KeyUnwrapFailed, false);
    }
}

#[test]
fn truncated_and_oversize_key_data_are_refused() {
    for (akm, pmf) in NEG_AKMS {
        // Truncated: the key data length field claims 8 bytes more than the frame holds.
        let c = msg3_case(akm, pmf, None);
        let m = c.net.mic_len();
        let mut f = c.msg3.clone();
        let n = u16::from_be_bytes([f[81 + m], f[82 + m]]) + 8;
        f[81 + m..83 + m].copy_from_slice(&n.to_be_bytes());
        c.resign(&mut f);
        c.refuse(&f, DropReason::Malformed, true);
        // Oversize: 600 bytes of key data, properly signed.
        let c = msg3_case(akm, pmf, None);
        let mut kd = c.key_data();
        kd.resize(600, 0);
        let f = c.with_key_data(&kd, true);
        c.refuse(&f, DropReason::KeyDataTooLong, false);
    }
}

#[test]
fn wrong_gtk_kde_length_is_refused_before_message_4() {
    for (akm, pmf) in NEG_AKMS {
        let c = msg3_case(akm, pmf, None);
        let plain = c.plain_key_data();
        // Rebuild the key data with the GTK one byte short.
        let parsed = kde::parse(&plain).unwrap();
        let gtk = parsed.gtk.unwrap();
        let mut kd = parsed.rsne.unwrap().to_vec();
        let mut b = [0u8; 64];
        let n = kde::emit_gtk(gtk.key_id, gtk.tx, &gtk.key[1..], &mut b).unwrap();
        kd.extend_from_slice(&b[..n]);
        if let Some(i) = parsed.igtk {
            let n = kde::emit_igtk(i.key_id, &i.ipn, i.key, &mut b).unwrap();
            kd.extend_from_slice(&b[..n]);
        }
        let f = c.with_key_data(&c.wrap(&kd), true);
        c.refuse(&f, DropReason::GtkLength, false);
    }
}

#[test]
fn unencrypted_key_data_is_refused() {
    for (akm, pmf) in NEG_AKMS {
        let c = msg3_case(akm, pmf, None);
        let plain = c.plain_key_data();
        let f = c.with_key_data(&plain, false);
        c.refuse(&f, DropReason::UnencryptedKeyData, false);
    }
}

#[test]
fn retransmitted_message_3_after_message_4_installs_nothing() {
    for (akm, pmf) in NEG_AKMS {
        let mut c = msg3_case(akm, pmf, None);
        let mut out = [0u8; MAX_REPLY_LEN];
        let s = c.hs.receive(&c.msg3, &mut OsRng, &mut out).unwrap();
        assert!(s.installs.ptk.is_some());
        // Message 4 is "lost": hostapd times out and retransmits message 3 (new counter).
        let again = c.net.tx_msg3();
        assert_ne!(
            again, c.msg3,
            "hostapd retransmits with a new replay counter"
        );
        let s2 = c.hs.receive(&again, &mut OsRng, &mut out).unwrap();
        assert!(
            s2.installs.ptk.is_none() && s2.installs.gtk.is_none() && s2.installs.igtk.is_none()
        );
        let before = c.net.h.keys.len();
        c.net.h.rx(&out[..s2.reply_len]).unwrap();
        let theirs = c.net.wait_pairwise(before);
        same_keys(&c.net, &s.installs, &theirs);
        // The first message 3 replayed now: stale counter.
        assert_eq!(
            c.hs.receive(&c.msg3, &mut OsRng, &mut out).unwrap_err(),
            DropReason::ReplayedCounter
        );
    }
}

#[test]
fn delayed_message_1_after_message_3_is_dropped() {
    for (akm, pmf) in NEG_AKMS {
        let mut net = Net::start(akm, pmf);
        let (mut hs, _, msg1) = net.associate(None);
        let (msg3, _) = net.run_to_msg3(&mut hs, &msg1);
        let mut out = [0u8; MAX_REPLY_LEN];
        let s = hs.receive(&msg3, &mut OsRng, &mut out).unwrap();
        net.h.rx(&out[..s.reply_len]).unwrap();
        assert_eq!(
            hs.receive(&msg1, &mut OsRng, &mut out).unwrap_err(),
            DropReason::ReplayedCounter
        );
        assert!(hs.is_complete());
    }
}

#[test]
fn pmf_disabled_on_akm_5_and_12_is_refused_by_both_sides() {
    for akm in [Akm::Ieee8021xSha256, Akm::SuiteB192] {
        let mut net = Net::start(akm, 2);
        let ours = station_rsne(&net.h.ap_rsne, false, None);
        let ap_rsne = net.h.ap_rsne.clone();
        let assoc = Association {
            aa: AA,
            spa: SPA,
            ap_rsne: &ap_rsne,
            our_rsne: &ours,
        };
        let err = Handshake::new(&assoc, None).unwrap_err();
        assert!(
            matches!(err, AssocError::ApRequiresPmf | AssocError::PmfRequired(_)),
            "{err:?}"
        );
        // hostapd refuses the same RSNE (a PMF violation).
        assert!(net.h.assoc(&ours).unwrap().is_err());
    }
}
