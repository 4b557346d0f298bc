//! EAP packets (RFC 3748 §4): a typed error, or a packet whose emit gives the same bytes back
//! up to its Length (emit(parse(x)) == x); expanded types and the Nak emitters round-trip too.
#![no_main]

use latchkey_core::eap::{self, Code, Error, ExpandedType, Packet, Repr, Type, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let packet = match Packet::new_checked(data) {
        Ok(p) => p,
        Err(e) => {
            let length = data
                .get(2..4)
                .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])));
            match e {
                Error::Truncated { len } => assert!(len == data.len() && length.is_none()),
                Error::LengthTooShort { length: l } => {
                    assert_eq!(Some(usize::from(l)), length);
                    assert!(usize::from(l) < HEADER_LEN);
                }
                Error::LengthBeyondFrame {
                    length: l,
                    available,
                } => {
                    assert_eq!(available, data.len());
                    assert!(usize::from(l) > available);
                }
                Error::MissingType { code } => {
                    assert!(matches!(code, Code::Request | Code::Response));
                    assert_eq!(length, Some(HEADER_LEN));
                }
                Error::SuccessFailureLength { length: l } => assert_ne!(usize::from(l), HEADER_LEN),
                other => panic!("unexpected parse error {other:?}"),
            }
            return;
        }
    };
    let repr = Repr::parse(&packet).expect("a checked packet parses");
    let len = usize::from(packet.length());
    assert_eq!(repr.buffer_len(), len);
    let mut out = vec![0u8; len];
    assert_eq!(repr.emit(&mut out), Ok(len));
    assert_eq!(&out[..], &data[..len], "emit(parse(x)) differs from x");
    assert!(repr.emit(&mut out[..len - 1]).is_err());
    let again = Packet::new_checked(&out[..]).expect("re-parse");
    assert_eq!(Repr::parse(&again), Ok(repr));

    if let Repr::Request {
        identifier,
        eap_type,
        data: type_data,
    } = repr
    {
        assert_eq!(u8::from(Type::from(data[4])), data[4]);
        if eap_type == Type::Expanded {
            if let Ok((ext, rest)) = ExpandedType::parse(type_data) {
                assert!(ext.vendor_id <= eap::MAX_VENDOR_ID);
                assert_eq!(rest.len() + ExpandedType::LEN, type_data.len());
                // The peer's answer to an expanded request: an expanded Nak proposing it back.
                let mut nak = [0u8; 64];
                let n = eap::emit_expanded_nak(identifier, &[ext], &mut nak).expect("nak");
                let p = Packet::new_checked(&nak[..n]).expect("own nak parses");
                match Repr::parse(&p) {
                    Ok(Repr::Response {
                        eap_type: Type::Expanded,
                        data: d,
                        ..
                    }) => {
                        let (head, rest) = ExpandedType::parse(d).expect("nak head");
                        assert_eq!(head, ExpandedType::NAK);
                        assert_eq!(rest.first(), Some(&254));
                        assert_eq!(ExpandedType::parse(&rest[1..]).map(|x| x.0), Ok(ext));
                    }
                    other => panic!("own expanded nak parsed as {other:?}"),
                }
            }
        } else {
            // An Identity request answered with its own data as identity round-trips.
            let mut resp = vec![0u8; len];
            let n = eap::emit_identity(identifier, type_data, &mut resp).expect("identity");
            let p = Packet::new_checked(&resp[..n]).expect("own identity parses");
            assert_eq!(
                Repr::parse(&p),
                Ok(Repr::Response {
                    identifier,
                    eap_type: Type::Identity,
                    data: type_data
                })
            );
        }
    }
});
