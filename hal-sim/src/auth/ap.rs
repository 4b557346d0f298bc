//! The simulated access point's authenticator side of the 4-way and group-key handshakes
//! (IEEE 802.11-2020 §12.7.6, §12.7.7), written independently of the core's `wpa` module: the
//! key hierarchy (PRF-SHA1 for AKM 1, KDF-SHA256 for AKM 5, KDF-SHA384 for AKM 12), the MICs
//! (HMAC-SHA1-128, AES-128-CMAC, HMAC-SHA384-192), AES key wrap (RFC 3394) and the KDEs are
//! computed here with RustCrypto directly. Only the EAPOL-Key frame codec (field layout) is the
//! core's. Used by `latchkey-sim demo` so both sides print key fingerprints to compare.

use aes_kw::{KekAes128, KekAes256};
use cmac::Cmac;
use hmac::{Hmac, Mac};
use latchkey_core::eapol;
use latchkey_core::wpa::frame::{self, KeyInfo, Repr};
use latchkey_core::wpa::rsne::{Rsne, CAP_MFPC, CAP_MFPR};
use latchkey_core::wpa::{Akm, Cipher, MgmtCipher};
use latchkey_core::{Association, Event, Now, Supplicant};
use rand::RngCore;
use sha2::{Sha256, Sha384};
use zeroize::Zeroizing;

use crate::auth::tls::server_config;
use crate::drive::describe;
use crate::drive::sim::{run_on, Outcome, Scenario};
use crate::hal::memory::{client, SimRadio, AP_ADDR, STA_ADDR};
use crate::pki::TestPki;

type MacAddr = [u8; 6];

/// The authenticator of one association.
pub struct SimAp {
    akm: Akm,
    aa: MacAddr,
    spa: MacAddr,
    pmk: Zeroizing<Vec<u8>>,
    /// The AP's RSNE (beacon and message 3).
    pub ap_rsne: Vec<u8>,
    /// The RSNE the station must send (PMF capable where the AKM requires it).
    pub sta_rsne: Vec<u8>,
    anonce: [u8; 32],
    counter: u64,
    kck: Zeroizing<Vec<u8>>,
    kek: Zeroizing<Vec<u8>>,
    /// The pairwise TK, once derived.
    pub tk: Zeroizing<Vec<u8>>,
    /// The GTK and its key id.
    pub gtk: (u8, Zeroizing<Vec<u8>>),
    /// The IGTK and its key id (PMF only).
    pub igtk: Option<(u16, Zeroizing<Vec<u8>>)>,
}

fn rsne(akm: Akm, caps: u16) -> Vec<u8> {
    let (cipher, mgmt) = match akm {
        Akm::SuiteB192 => (Cipher::Gcmp256, Some(MgmtCipher::BipGmac256.selector())),
        _ => (Cipher::Ccmp128, None),
    };
    let r = Rsne {
        group_cipher: cipher.selector(),
        pairwise: heapless::Vec::from_slice(&[cipher.selector()]).unwrap_or_default(),
        akms: heapless::Vec::from_slice(&[akm.selector()]).unwrap_or_default(),
        capabilities: caps,
        pmkids: heapless::Vec::new(),
        group_mgmt_cipher: mgmt,
    };
    let mut b = [0u8; 64];
    let n = r.emit(&mut b).unwrap_or(0);
    b[..n].to_vec()
}

fn random(n: usize) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(vec![0u8; n]);
    rand::thread_rng().fill_bytes(&mut v);
    v
}

fn tk_len(akm: Akm) -> usize {
    if akm == Akm::SuiteB192 {
        32
    } else {
        16
    }
}

/// PRF-n over HMAC-SHA1 (§12.7.1.2): HMAC(K, A || 0 || B || i) for i = 0, 1, ...
fn prf_sha1(key: &[u8], label: &[u8], data: &[u8], out: &mut [u8]) {
    for (i, chunk) in out.chunks_mut(20).enumerate() {
        let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).expect("any key length");
        m.update(label);
        m.update(&[0]);
        m.update(data);
        m.update(&[i as u8]);
        let d = m.finalize().into_bytes();
        chunk.copy_from_slice(&d[..chunk.len()]);
    }
}

/// KDF-Hash-Length (§12.7.1.7.2): HMAC(K, i || label || context || length), i from 1, both
/// counters 16-bit little-endian, length in bits.
fn kdf<M: Mac + hmac::digest::KeyInit>(key: &[u8], label: &[u8], data: &[u8], out: &mut [u8]) {
    let bits = (out.len() * 8) as u16;
    let size = <M as hmac::digest::OutputSizeUser>::output_size();
    for (i, chunk) in out.chunks_mut(size).enumerate() {
        let mut m = <M as Mac>::new_from_slice(key).expect("any key length");
        m.update(&((i + 1) as u16).to_le_bytes());
        m.update(label);
        m.update(data);
        m.update(&bits.to_le_bytes());
        let d = m.finalize().into_bytes();
        chunk.copy_from_slice(&d[..chunk.len()]);
    }
}

impl SimAp {
    /// An AP for `akm` (PMF on for AKM 5 and 12) with fresh group keys; its PMK comes later
    /// from the MSK ([`SimAp::set_msk`]).
    pub fn new(akm: Akm, aa: MacAddr, spa: MacAddr) -> SimAp {
        let pmf = akm.requires_pmf();
        let tk = tk_len(akm);
        SimAp {
            akm,
            aa,
            spa,
            pmk: Zeroizing::new(Vec::new()),
            ap_rsne: rsne(akm, if pmf { CAP_MFPC | CAP_MFPR } else { 0 }),
            sta_rsne: rsne(akm, if pmf { CAP_MFPC } else { 0 }),
            anonce: [0; 32],
            counter: 0,
            kck: Zeroizing::new(Vec::new()),
            kek: Zeroizing::new(Vec::new()),
            tk: Zeroizing::new(Vec::new()),
            gtk: (1, random(tk)),
            igtk: pmf.then(|| (4, random(tk))),
        }
    }

    /// The PMK from the MSK the authentication server sent (the first 32 bytes, 48 for
    /// AKM 12), as an AP takes it from the Access-Accept.
    pub fn set_msk(&mut self, msk: &[u8]) -> Result<(), String> {
        let pmk_len = if self.akm == Akm::SuiteB192 { 48 } else { 32 };
        let pmk = msk.get(..pmk_len).ok_or("MSK too short")?;
        self.pmk = Zeroizing::new(pmk.to_vec());
        Ok(())
    }

    fn mic_len(&self) -> usize {
        if self.akm == Akm::SuiteB192 {
            24
        } else {
            16
        }
    }

    fn version(&self) -> u16 {
        match self.akm {
            Akm::Ieee8021x | Akm::Psk => 2,
            Akm::Ieee8021xSha256 => 3,
            Akm::SuiteB192 => 0,
        }
    }

    fn mic(&self, frame: &[u8]) -> Vec<u8> {
        match self.akm {
            Akm::Ieee8021x | Akm::Psk => {
                let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&self.kck).expect("key");
                m.update(frame);
                m.finalize().into_bytes()[..16].to_vec()
            }
            Akm::Ieee8021xSha256 => {
                let mut m = <Cmac<aes::Aes128> as Mac>::new_from_slice(&self.kck).expect("key");
                m.update(frame);
                m.finalize().into_bytes().to_vec()
            }
            Akm::SuiteB192 => {
                let mut m = <Hmac<Sha384> as Mac>::new_from_slice(&self.kck).expect("key");
                m.update(frame);
                m.finalize().into_bytes()[..24].to_vec()
            }
        }
    }

    fn frame(&self, info: u16, key_length: u16, nonce: [u8; 32], key_data: &[u8]) -> Vec<u8> {
        let zeros = [0u8; 24];
        let repr = Repr {
            key_info: KeyInfo(info),
            key_length,
            replay_counter: self.counter,
            nonce,
            iv: [0; 16],
            rsc: [0; 8],
            mic: &zeros[..self.mic_len()],
            key_data,
        };
        let mut body = vec![0u8; repr.buffer_len()];
        repr.emit(&mut body).expect("sized");
        let mut f = vec![0u8; eapol::HEADER_LEN + body.len()];
        eapol::emit_frame(2, eapol::PacketType::Key, &body, &mut f).expect("sized");
        f
    }

    fn sign(&self, f: &mut [u8]) {
        let at = eapol::HEADER_LEN + frame::MIC_OFFSET;
        let mic = self.mic(f);
        f[at..at + mic.len()].copy_from_slice(&mic);
    }

    /// Message 1: a fresh ANonce.
    pub fn msg1(&mut self) -> Vec<u8> {
        rand::thread_rng().fill_bytes(&mut self.anonce);
        self.counter += 1;
        let info = self.version() | KeyInfo::KEY_TYPE_PAIRWISE | KeyInfo::KEY_ACK;
        self.frame(info, tk_len(self.akm) as u16, self.anonce, &[])
    }

    /// Checks the station's frame (MIC, replay counter) and returns its nonce and key data.
    fn check(&self, f: &[u8]) -> Result<([u8; 32], Vec<u8>), String> {
        let e = eapol::Packet::new_checked(f).map_err(|e| format!("EAPOL: {e:?}"))?;
        let p = frame::Packet::new_checked(e.body(), self.mic_len())
            .map_err(|e| format!("EAPOL-Key: {e:?}"))?;
        let r = Repr::parse(&p).map_err(|e| format!("EAPOL-Key: {e:?}"))?;
        if r.replay_counter != self.counter {
            return Err("replay counter is not the one we sent".into());
        }
        let whole = &f[..eapol::HEADER_LEN + e.body().len()];
        let mut zeroed = whole.to_vec();
        let at = eapol::HEADER_LEN + frame::MIC_OFFSET;
        zeroed[at..at + self.mic_len()].fill(0);
        let want = self.mic(&zeroed);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], r.mic)) {
            return Err("bad MIC".into());
        }
        Ok((r.nonce, r.key_data.to_vec()))
    }

    /// Message 2: derives the PTK from its SNonce, checks its MIC and RSNE.
    pub fn take_msg2(&mut self, f: &[u8]) -> Result<(), String> {
        let snonce: [u8; 32] = f
            .get(17..49)
            .and_then(|s| s.try_into().ok())
            .ok_or("message 2 too short")?;
        let (lo_a, hi_a) = if self.aa < self.spa {
            (self.aa, self.spa)
        } else {
            (self.spa, self.aa)
        };
        let (lo_n, hi_n) = if self.anonce < snonce {
            (self.anonce, snonce)
        } else {
            (snonce, self.anonce)
        };
        let mut data = Vec::with_capacity(76);
        for part in [&lo_a[..], &hi_a[..], &lo_n[..], &hi_n[..]] {
            data.extend_from_slice(part);
        }
        let (kck, kek, tk) = match self.akm {
            Akm::SuiteB192 => (24, 32, 32),
            _ => (16, 16, 16),
        };
        let mut ptk = Zeroizing::new(vec![0u8; kck + kek + tk]);
        let label = b"Pairwise key expansion";
        match self.akm {
            Akm::Ieee8021x | Akm::Psk => prf_sha1(&self.pmk, label, &data, &mut ptk),
            Akm::Ieee8021xSha256 => kdf::<Hmac<Sha256>>(&self.pmk, label, &data, &mut ptk),
            Akm::SuiteB192 => kdf::<Hmac<Sha384>>(&self.pmk, label, &data, &mut ptk),
        }
        self.kck = Zeroizing::new(ptk[..kck].to_vec());
        self.kek = Zeroizing::new(ptk[kck..kck + kek].to_vec());
        self.tk = Zeroizing::new(ptk[kck + kek..].to_vec());
        let (_, kd) = self.check(f)?;
        if kd != self.sta_rsne {
            return Err("message 2 RSNE is not the association request's".into());
        }
        Ok(())
    }

    fn wrap(&self, plain: &[u8]) -> Vec<u8> {
        let mut p = plain.to_vec();
        if p.len() % 8 != 0 || p.len() < 16 {
            p.push(0xdd);
            while p.len() % 8 != 0 || p.len() < 16 {
                p.push(0);
            }
        }
        let mut out = vec![0u8; p.len() + 8];
        if self.kek.len() == 32 {
            let k: [u8; 32] = self.kek[..].try_into().expect("32");
            KekAes256::from(k).wrap(&p, &mut out).expect("sized");
        } else {
            let k: [u8; 16] = self.kek[..].try_into().expect("16");
            KekAes128::from(k).wrap(&p, &mut out).expect("sized");
        }
        out
    }

    fn group_kdes(&self) -> Vec<u8> {
        let mut kd = Vec::new();
        // GTK KDE (§12.7.2, Figure 12-36): key id, Tx bit clear, reserved, GTK.
        kd.extend_from_slice(&[0xdd, (6 + self.gtk.1.len()) as u8, 0x00, 0x0f, 0xac, 1]);
        kd.extend_from_slice(&[self.gtk.0 & 3, 0]);
        kd.extend_from_slice(&self.gtk.1);
        if let Some((id, key)) = &self.igtk {
            // IGTK KDE (Figure 12-41): key id (LE), IPN 0, IGTK.
            kd.extend_from_slice(&[0xdd, (12 + key.len()) as u8, 0x00, 0x0f, 0xac, 9]);
            kd.extend_from_slice(&id.to_le_bytes());
            kd.extend_from_slice(&[0; 6]);
            kd.extend_from_slice(key);
        }
        kd
    }

    /// Message 3: the AP's RSNE, the GTK (and IGTK), wrapped with the KEK.
    pub fn msg3(&mut self) -> Vec<u8> {
        self.counter += 1;
        let mut plain = self.ap_rsne.clone();
        plain.extend_from_slice(&self.group_kdes());
        let kd = self.wrap(&plain);
        let info = self.version()
            | KeyInfo::KEY_TYPE_PAIRWISE
            | KeyInfo::INSTALL
            | KeyInfo::KEY_ACK
            | KeyInfo::KEY_MIC
            | KeyInfo::SECURE
            | KeyInfo::ENCRYPTED_KEY_DATA;
        let mut f = self.frame(info, tk_len(self.akm) as u16, self.anonce, &kd);
        self.sign(&mut f);
        f
    }

    /// Message 4 (or group message 2): checks its MIC and replay counter.
    pub fn take_ack(&self, f: &[u8]) -> Result<(), String> {
        self.check(f).map(|_| ())
    }

    /// A group rekey: a new GTK (key id 1 <-> 2) and IGTK (4 <-> 5), in group message 1.
    pub fn rekey(&mut self) -> Vec<u8> {
        let n = tk_len(self.akm);
        self.gtk = (3 - self.gtk.0, random(n));
        if let Some((id, _)) = &self.igtk {
            self.igtk = Some((9 - *id, random(n)));
        }
        self.counter += 1;
        let kd = self.wrap(&self.group_kdes());
        let info = self.version()
            | KeyInfo::KEY_ACK
            | KeyInfo::KEY_MIC
            | KeyInfo::SECURE
            | KeyInfo::ENCRYPTED_KEY_DATA;
        let mut f = self.frame(info, 0, [0; 32], &kd);
        self.sign(&mut f);
        f
    }
}

/// One side's installed keys, as fingerprints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPrints {
    /// The pairwise TK.
    pub tk: Option<String>,
    /// The GTK with its key id.
    pub gtk: Option<(u8, String)>,
    /// The IGTK with its key id.
    pub igtk: Option<(u16, String)>,
}

fn print(k: &[u8]) -> String {
    latchkey_core::eap_tls::keys::fingerprint(k).to_string()
}

/// What the demo's key handshakes did.
pub struct WpaRun {
    /// The authentication that gave the MSK.
    pub auth: Outcome,
    /// One line per frame and key installed.
    pub lines: Vec<String>,
    /// After the 4-way handshake: (station, access point).
    pub four_way: (KeyPrints, KeyPrints),
    /// After the group rekey: (station, access point).
    pub rekey: (KeyPrints, KeyPrints),
}

fn station_prints(e: Option<Event>) -> Result<(KeyPrints, bool), String> {
    match e {
        Some(Event::InstallKeys(k)) => Ok((
            KeyPrints {
                tk: k.pairwise.as_ref().map(|(tk, _)| print(tk.as_bytes())),
                gtk: k
                    .group
                    .as_ref()
                    .map(|g| (g.key_id, print(g.key.as_bytes()))),
                igtk: k
                    .integrity
                    .as_ref()
                    .map(|i| (i.key_id, print(i.key.as_bytes()))),
            },
            k.port_open,
        )),
        other => Err(format!("the supplicant installed no keys: {other:?}")),
    }
}

impl SimAp {
    fn prints(&self, tk: bool) -> KeyPrints {
        KeyPrints {
            tk: tk.then(|| print(&self.tk)),
            gtk: Some((self.gtk.0, print(&self.gtk.1))),
            igtk: self.igtk.as_ref().map(|(id, k)| (*id, print(k))),
        }
    }
}

/// EAP-TLS against the simulated server on an RSN association for `akm`, then the 4-way
/// handshake and one group rekey between the supplicant's PAE and this access point.
pub fn run(pki: &TestPki, scenario: &Scenario, akm: Akm) -> Result<WpaRun, String> {
    let mut ap = SimAp::new(akm, AP_ADDR, STA_ADDR);
    let mut sup = client(pki, &scenario.config, scenario.client_versions)?;
    let server = server_config(pki, scenario.server_versions)?;
    let mut radio = SimRadio::default();
    let assoc = Association::new(AP_ADDR, STA_ADDR).with_rsn(&ap.ap_rsne, &ap.sta_rsne);
    if let Some(e) = sup.associated(Now::ms(0), assoc, &mut radio) {
        return Err(format!("association refused: {e:?}"));
    }
    // Its EAPOL-Start: `run_on` starts the conversation again on its own radio.
    radio.outbox.clear();
    let auth = run_on(&mut sup, &server, scenario)?;
    let msk = match (&auth.event, &auth.server_keys) {
        (Some(Event::Authenticated(_)), Some(k)) => k.msk.clone(),
        _ => {
            return Ok(WpaRun {
                auth,
                lines: Vec::new(),
                four_way: Default::default(),
                rekey: Default::default(),
            })
        }
    };
    ap.set_msk(&msk)?;
    let mut lines = Vec::new();
    let mut ms = 100_000;
    let mut deliver = |sup: &mut Supplicant, f: &[u8], radio: &mut SimRadio| {
        ms += 1;
        let e = sup.handle_frame(Now::ms(ms), AP_ADDR, f, radio);
        let reply = radio.outbox.pop_front().map(|(_, f)| f);
        (e, reply)
    };
    let m1 = ap.msg1();
    lines.push(format!("authenticator -> supplicant: {}", describe(&m1)));
    let (e, m2) = deliver(&mut sup, &m1, &mut radio);
    if e.is_some() {
        return Err(format!("unexpected event on message 1: {e:?}"));
    }
    let m2 = m2.ok_or("no message 2")?;
    lines.push(format!("supplicant -> authenticator: {}", describe(&m2)));
    ap.take_msg2(&m2)?;
    let m3 = ap.msg3();
    lines.push(format!("authenticator -> supplicant: {}", describe(&m3)));
    let (e, m4) = deliver(&mut sup, &m3, &mut radio);
    let (sta, open) = station_prints(e)?;
    let m4 = m4.ok_or("no message 4")?;
    lines.push(format!("supplicant -> authenticator: {}", describe(&m4)));
    ap.take_ack(&m4)?;
    if !open {
        return Err("the 4-way handshake did not open the port".into());
    }
    let four_way = (sta, ap.prints(true));
    let g1 = ap.rekey();
    lines.push(format!("authenticator -> supplicant: {}", describe(&g1)));
    let (e, g2) = deliver(&mut sup, &g1, &mut radio);
    let (sta, _) = station_prints(e)?;
    let g2 = g2.ok_or("no group message 2")?;
    lines.push(format!("supplicant -> authenticator: {}", describe(&g2)));
    ap.take_ack(&g2)?;
    let rekey = (sta, ap.prints(false));
    Ok(WpaRun {
        auth,
        lines,
        four_way,
        rekey,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_install_the_same_keys_for_each_akm() {
        let pki = TestPki::generate().unwrap();
        for akm in [Akm::Ieee8021x, Akm::Ieee8021xSha256, Akm::SuiteB192] {
            let r = run(&pki, &Scenario::default(), akm).unwrap();
            assert!(matches!(r.auth.event, Some(Event::Authenticated(_))));
            let (sta, ap) = &r.four_way;
            assert!(sta.tk.is_some() && sta.gtk.is_some());
            assert_eq!(sta.igtk.is_some(), akm.requires_pmf());
            assert_eq!(sta, ap, "{akm}: 4-way keys");
            let (sta, ap) = &r.rekey;
            assert_eq!(sta, ap, "{akm}: rekey keys");
            assert_eq!(sta.gtk.as_ref().unwrap().0, 2);
            assert_ne!(r.four_way.0.gtk, r.rekey.0.gtk);
            assert_eq!(r.lines.len(), 6);
        }
    }
}
