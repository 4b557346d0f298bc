//! EAPOL-Key frames and key data elements (IEEE 802.11-2020 §12.7.2, Table 12-9) against a
//! fixed PTK. Oracles: a body that parses emits back to the same bytes (Reserved zeroed); a signed
//! frame verifies and the same frame with any one byte flipped never does; wrapped key data
//! that unwraps wraps back to the same bytes; a KDE emitted from input parses to the same
//! fields.
//!
//! Input: AKM byte, flip position (u16), flip mask, KDE key id, then the EAPOL-Key body.
#![no_main]

use latchkey_core::eapol::{self, PacketType};
use latchkey_core::wpa::frame::{self, Packet, Repr};
use latchkey_core::wpa::keys::{self, Ptk};
use latchkey_core::wpa::{kde, rsne};
use latchkey_fuzz::{akm_from_byte, KeyAuth, Reader, AA, SPA};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let akm = akm_from_byte(r.u8());
    let flip_at = usize::from(r.u16());
    let mask = r.u8() | 1;
    let key_id = r.u8();
    let body = r.bytes(usize::MAX);
    let mic_len = akm.mic_len();
    let auth = KeyAuth::new(akm);
    let ptk = Ptk::derive(
        akm,
        KeyAuth::cipher_of(akm),
        &auth.pmk(),
        &AA,
        &SPA,
        &[0xa1; 32],
        &[0x5b; 32],
    )
    .expect("fixed PTK");

    // Parse / emit round trip.
    if let Ok(packet) = Packet::new_checked(body, mic_len) {
        let repr = Repr::parse(&packet).expect("a checked body parses");
        assert_eq!(repr.mic.len(), mic_len);
        let len = repr.buffer_len();
        assert!(len <= body.len());
        let mut out = vec![0u8; len];
        assert_eq!(repr.emit(&mut out), Ok(len));
        // Reserved (8 bytes before the MIC) is ignored on receive and sent as zero.
        let mut want = body[..len].to_vec();
        want[frame::MIC_OFFSET - 8..frame::MIC_OFFSET].fill(0);
        assert_eq!(packet.reserved().len(), 8);
        assert_eq!(out, want, "emit(parse(x)) differs from x");
        assert!(
            repr.emit(&mut out[..len - 1]).is_err(),
            "one byte short is refused"
        );

        // Key data: parsed as clear KDEs, and unwrapped with the fixed KEK.
        if let Ok(kd) = kde::parse(repr.key_data) {
            if let Some(element) = kd.rsne {
                let _ = rsne::Rsne::parse(element);
            }
        }
        let mut plain = vec![0u8; repr.key_data.len()];
        if let Ok(n) = keys::unwrap_key_data(ptk.kek(), repr.key_data, &mut plain) {
            assert_eq!(n + 8, repr.key_data.len());
            let mut again = vec![0u8; repr.key_data.len()];
            assert_eq!(
                keys::wrap_key_data(ptk.kek(), &plain[..n], &mut again),
                Ok(n + 8)
            );
            assert_eq!(again, repr.key_data, "wrap(unwrap(x)) differs from x");
            let _ = kde::parse(&plain[..n]);
        }

        // MIC: sign the whole frame with the fixed KCK; it verifies, a flipped byte does not.
        let mut f = vec![0u8; eapol::HEADER_LEN + len];
        eapol::emit_frame(2, PacketType::Key, &out, &mut f).expect("frame fits");
        let at = eapol::HEADER_LEN + frame::MIC_OFFSET;
        f[at..at + mic_len].fill(0);
        let mut mic = vec![0u8; mic_len];
        keys::compute_mic(akm, ptk.kck(), &[&f], &mut mic).expect("MIC");
        f[at..at + mic_len].copy_from_slice(&mic);
        let verifies = |f: &[u8]| {
            let zeros = vec![0u8; mic_len];
            let (before, rest) = f.split_at(at);
            let (received, after) = rest.split_at(mic_len);
            keys::verify_mic(akm, ptk.kck(), &[before, &zeros, after], received)
        };
        assert!(verifies(&f), "a signed frame does not verify");
        let i = flip_at % f.len();
        f[i] ^= mask;
        assert!(!verifies(&f), "a frame with byte {i} flipped verifies");
    }

    // KDE emit / parse round trip for a GTK and an IGTK of the input's length.
    let key = &body[..body.len().min(64)];
    let mut buf = vec![0u8; 2 * 80];
    if let Some(n) = kde::emit_gtk(key_id, key_id & 4 != 0, key, &mut buf) {
        let m = kde::emit_igtk(u16::from(key_id), &[key_id; 6], key, &mut buf[n..])
            .expect("room for the IGTK KDE");
        let kd = kde::parse(&buf[..n + m]).expect("emitted KDEs parse");
        match kd.gtk {
            Some(g) => {
                assert_eq!(g.key_id, key_id & 3);
                assert_eq!(g.tx, key_id & 4 != 0);
                assert_eq!(g.key, key);
            }
            None => panic!("GTK KDE lost"),
        }
        let i = kd.igtk.expect("IGTK KDE lost");
        assert_eq!(
            (i.key_id, i.ipn, i.key),
            (u16::from(key_id), [key_id; 6], key)
        );
    }
});
