//! The RADIUS reply decoder of the simulator's relay (`hal-sim/src/auth/radius.rs`, RFC 2865 §3,
//! RFC 3579 §3, RFC 2548 §2.4): a datagram parses to a typed error or to attributes that
//! re-encode to the same bytes; `verify_reply` never panics; and the same reply signed with
//! the right secret (the fuzzer cannot forge MD5) verifies, with its EAP-Message and State
//! exactly the attributes it carries.
#![no_main]

use latchkey_fuzz::{RADIUS_ID, RADIUS_REQUEST_AUTH, RADIUS_SECRET};
use latchkey_sim::auth::radius::{self, attr, AccessRequest, Code, Packet, RadiusError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = AccessRequest {
        id: RADIUS_ID,
        authenticator: RADIUS_REQUEST_AUTH,
        attributes: Vec::new(),
        eap: Vec::new(),
    };
    let unsigned = radius::verify_reply(data, &request, RADIUS_SECRET);
    let Ok(p) = Packet::parse(data) else {
        assert!(unsigned.is_err());
        return;
    };
    // Re-encode: header, then each attribute as type, length, value.
    let mut enc = vec![u8::from(p.code), p.id, 0, 0];
    enc.extend_from_slice(&p.authenticator);
    for (t, v) in &p.attributes {
        enc.push(*t);
        enc.push(u8::try_from(v.len() + 2).expect("attribute length fits a byte"));
        enc.extend_from_slice(v);
    }
    let total = (enc.len() as u16).to_be_bytes();
    enc[2..4].copy_from_slice(&total);
    assert_eq!(enc.as_slice(), p.raw, "re-encoded packet differs");
    assert_eq!(p.raw, &data[..p.raw.len()]);

    // Sign it as the server would (only where the signer's fixed layout applies: the first
    // Message-Authenticator, if any, has the 16-byte value it overwrites).
    let first_ma = p.get(attr::MESSAGE_AUTHENTICATOR);
    if first_ma.is_some_and(|v| v.len() != 16) {
        let r = radius::verify_reply(p.raw, &request, RADIUS_SECRET);
        assert!(r.is_err());
        return;
    }
    let mut signed = p.raw.to_vec();
    signed[1] = RADIUS_ID;
    radius::sign_reply(&mut signed, &RADIUS_REQUEST_AUTH, RADIUS_SECRET);
    let parsed = Packet::parse(&signed).expect("signed copy parses");
    match radius::verify_reply(&signed, &request, RADIUS_SECRET) {
        Ok(reply) => {
            assert!(matches!(
                reply.code,
                Code::AccessAccept | Code::AccessReject | Code::AccessChallenge
            ));
            let eap: Vec<u8> = parsed
                .attributes
                .iter()
                .filter(|(t, _)| *t == attr::EAP_MESSAGE)
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            let has_eap = parsed
                .attributes
                .iter()
                .any(|(t, _)| *t == attr::EAP_MESSAGE);
            assert_eq!(reply.eap, has_eap.then_some(eap));
            assert_eq!(reply.state.as_deref(), parsed.get(attr::STATE));
            if has_eap {
                assert!(
                    first_ma.is_some(),
                    "EAP-Message accepted without Message-Authenticator"
                );
            }
        }
        Err(RadiusError::UnexpectedCode(c)) => assert!(!matches!(
            c,
            Code::AccessAccept | Code::AccessReject | Code::AccessChallenge
        )),
        Err(RadiusError::MissingMessageAuthenticator) => assert!(first_ma.is_none()),
        Err(RadiusError::BadMppeKey(_)) => {}
        Err(e) => panic!("a correctly signed reply was refused: {e:?}"),
    }
});
