//! The 4-way and group-key handshake state machine (IEEE 802.11-2020 §12.7.6, §12.7.7) fed
//! arbitrary message sequences: genuine frames from a model authenticator (message 1, signed
//! message 3 and group message 1, with fuzzed replay counters and group keys), the same with a
//! byte flipped, replays, and raw bytes. Oracles:
//! - no frame the model did not sign is ever accepted as message 3 or group message 1 (every
//!   install follows a verified MIC), and what is installed is what that frame carried;
//! - a key is never installed twice in a row (no reinstallation, the KRACK family);
//! - every reply is a well-formed EAPOL-Key frame the model verifies.
//!
//! Input: AKM byte, then operations (op byte, then its operands).
#![no_main]

use std::collections::HashMap;

use latchkey_core::eapol;
use latchkey_core::wpa::frame::{self, Repr};
use latchkey_core::wpa::handshake::{Handshake, Message, MAX_REPLY_LEN};
use latchkey_core::wpa::{keys, Association};
use latchkey_fuzz::{akm_from_byte, FuzzRng, KeyAuth, Reader, AA, SPA};
use libfuzzer_sys::fuzz_target;

/// What a signed frame carried: the TK of the PTK that signed it and its group keys.
struct Signed {
    tk: Vec<u8>,
    kck: Vec<u8>,
    pairwise: bool,
    gtk: (u8, Vec<u8>),
    igtk: Option<(u16, Vec<u8>)>,
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let akm = akm_from_byte(r.u8());
    let mut auth = KeyAuth::new(akm);
    let assoc = Association {
        aa: AA,
        spa: SPA,
        ap_rsne: &auth.ap_rsne.clone(),
        our_rsne: &auth.sta_rsne.clone(),
    };
    let mut hs = Handshake::new(&assoc, Some(auth.pmk())).expect("model association is valid");
    let mut rng = FuzzRng(0x5eed);
    let mut counter = 0u64;
    let mut signed: HashMap<Vec<u8>, Signed> = HashMap::new();
    let mut last_fed: Vec<u8> = Vec::new();
    let mut installed_tk: Option<Vec<u8>> = None;
    let mut installed_gtk: Option<(u8, Vec<u8>)> = None;
    let mut installed_igtk: Option<(u16, Vec<u8>)> = None;
    let mut out = vec![0u8; MAX_REPLY_LEN];

    for _ in 0..64 {
        if r.is_empty() {
            break;
        }
        let op = r.u8();
        // Replay counter step: 0 repeats the last one (a replay), otherwise it advances.
        let step = u64::from(op >> 4);
        let frame = match op % 6 {
            0 => {
                counter += step;
                let mut anonce = [0u8; 32];
                anonce[0] = r.u8();
                anonce[31] = 1;
                auth.msg1(anonce, counter)
            }
            1 | 2 => {
                counter += step;
                if op % 6 == 2 {
                    // A group rekey: new key id and key material.
                    let b = r.u8();
                    let n = auth.gtk.1.len();
                    auth.gtk = (1 + b % 3, vec![b | 1; n]);
                    if let Some(igtk) = auth.igtk.as_mut() {
                        *igtk = (4 + u16::from(b & 1), vec![b.rotate_left(1) | 1; n]);
                    }
                }
                let f = if op % 6 == 1 {
                    auth.msg3(counter)
                } else {
                    auth.group1(counter)
                };
                let Some(f) = f else { continue };
                let ptk = auth.ptk.as_ref().expect("signed with a PTK");
                signed.insert(
                    f.clone(),
                    Signed {
                        tk: ptk.tk().as_bytes().to_vec(),
                        kck: ptk.kck().to_vec(),
                        pairwise: op % 6 == 1,
                        gtk: auth.gtk.clone(),
                        igtk: auth.igtk.clone(),
                    },
                );
                f
            }
            3 => r.chunk().to_vec(),
            4 => {
                // The last frame with one byte flipped.
                let at = usize::from(r.u16());
                let mask = r.u8() | 1;
                let mut f = last_fed.clone();
                if f.is_empty() {
                    continue;
                }
                let i = at % f.len();
                f[i] ^= mask;
                f
            }
            _ => last_fed.clone(),
        };
        last_fed = frame.clone();

        let Ok(step) = hs.receive(&frame, &mut rng, &mut out) else {
            continue;
        };
        let reply = &out[..step.reply_len];
        assert!(step.reply_len > 0, "an accepted message is answered");
        let e = eapol::Packet::new_checked(reply).expect("reply is an EAPOL frame");
        assert_eq!(e.packet_type(), eapol::PacketType::Key);
        let p = frame::Packet::new_checked(e.body(), akm.mic_len()).expect("reply is EAPOL-Key");
        let reply_repr = Repr::parse(&p).expect("reply parses");

        match step.message {
            Message::Pairwise1 => {
                assert!(step.installs.ptk.is_none() && step.installs.gtk.is_none());
                // The model continues from the ANonce the station actually took (a flipped
                // message 1 carries another one).
                let fed = eapol::Packet::new_checked(&frame[..]).expect("accepted frame");
                let fed = frame::Packet::new_checked(fed.body(), akm.mic_len()).expect("key frame");
                auth.anonce = Repr::parse(&fed).expect("accepted frame parses").nonce;
                assert!(auth.take_msg2(reply), "message 2 gives the model a PTK");
                // Message 2 is signed with the PTK it implies.
                let mut zeroed = reply.to_vec();
                let at = eapol::HEADER_LEN + frame::MIC_OFFSET;
                zeroed[at..at + akm.mic_len()].fill(0);
                let kck = auth.ptk.as_ref().expect("PTK").kck();
                assert!(
                    keys::verify_mic(akm, kck, &[&zeroed], reply_repr.mic),
                    "message 2 MIC does not verify"
                );
            }
            Message::Pairwise3 | Message::Group1 => {
                let fed = eapol::Packet::new_checked(&frame[..]).expect("accepted frame");
                let whole = &frame[..eapol::HEADER_LEN + fed.body().len()];
                let Some(s) = signed.get(whole) else {
                    panic!(
                        "{:?} accepted from a frame the authenticator never signed",
                        step.message
                    );
                };
                assert_eq!(s.pairwise, step.message == Message::Pairwise3);
                if let Some(tk) = &step.installs.ptk {
                    assert_eq!(tk.as_bytes(), &s.tk[..], "installed TK is not the signer's");
                    assert_ne!(
                        installed_tk.as_deref(),
                        Some(tk.as_bytes()),
                        "TK installed twice"
                    );
                    installed_tk = Some(tk.as_bytes().to_vec());
                }
                if let Some(g) = &step.installs.gtk {
                    let now = (g.key_id, g.key.as_bytes().to_vec());
                    assert_eq!(now, s.gtk, "installed GTK is not the frame's");
                    assert_ne!(installed_gtk.as_ref(), Some(&now), "GTK installed twice");
                    installed_gtk = Some(now);
                }
                if let Some(i) = &step.installs.igtk {
                    let now = (i.key_id, i.key.as_bytes().to_vec());
                    assert_eq!(
                        Some(&now),
                        s.igtk.as_ref(),
                        "installed IGTK is not the frame's"
                    );
                    assert_ne!(installed_igtk.as_ref(), Some(&now), "IGTK installed twice");
                    installed_igtk = Some(now);
                }
                // The acknowledgement verifies under the PTK in force.
                let mut zeroed = reply.to_vec();
                let at = eapol::HEADER_LEN + frame::MIC_OFFSET;
                zeroed[at..at + akm.mic_len()].fill(0);
                assert!(
                    keys::verify_mic(akm, &s.kck, &[&zeroed], reply_repr.mic),
                    "acknowledgement MIC does not verify"
                );
            }
        }
    }
});
