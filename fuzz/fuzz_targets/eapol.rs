//! EAPOL frames (802.1X-2010 §11.3): whatever a station sends parses to a typed error or to a
//! header whose emit gives the same bytes back (emit(parse(x)) == x, up to the body's end).
#![no_main]

use latchkey_core::eap;
use latchkey_core::eapol::{self, Error, Packet, PacketType, Repr, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let packet = match Packet::new_checked(data) {
        Ok(p) => p,
        Err(e) => {
            // The refusal names what is wrong with these very bytes.
            match e {
                Error::Truncated { len } => assert!(len == data.len() && len < HEADER_LEN),
                Error::VersionZero => assert_eq!(data[0], 0),
                Error::BodyBeyondFrame {
                    body_len,
                    available,
                } => {
                    assert_eq!(available, data.len() - HEADER_LEN);
                    assert!(usize::from(body_len) > available);
                }
                other => panic!("unexpected parse error {other:?}"),
            }
            return;
        }
    };
    let repr = Repr::parse(&packet).expect("a checked frame parses");
    let body = packet.body();
    assert_eq!(body.len(), usize::from(repr.body_len));
    assert_eq!(u8::from(PacketType::from(data[1])), data[1]);
    assert_eq!(u8::from(repr.packet_type), data[1]);

    let len = repr.buffer_len();
    let mut out = vec![0u8; len];
    let n = eapol::emit_frame(repr.version, repr.packet_type, body, &mut out).expect("emit");
    assert_eq!(n, len);
    assert_eq!(&out[..], &data[..len], "emit(parse(x)) differs from x");
    // The re-emitted frame parses to the same header.
    let again = Packet::new_checked(&out[..]).expect("re-parse");
    assert_eq!(Repr::parse(&again), Ok(repr));
    // One byte short is refused, not truncated.
    assert!(eapol::emit_frame(repr.version, repr.packet_type, body, &mut out[..len - 1]).is_err());

    // An EAP-Packet's body is what the supplicant hands the EAP layer.
    if repr.packet_type == PacketType::EapPacket {
        if let Ok(p) = eap::Packet::new_checked(body) {
            let r = eap::Repr::parse(&p).expect("a checked EAP packet parses");
            assert!(r.buffer_len() <= body.len());
        }
    }
});
