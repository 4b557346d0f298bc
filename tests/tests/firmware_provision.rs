//! The firmware's provisioning-record parser (firmware/src/provision.rs, compiled here for the
//! host) against the test tooling's writer (test-support/src/qemu.rs): a round trip, every
//! truncation, malformed records, and random bytes, each refused with a typed error.

#[allow(dead_code)] // the image uses every item; this test not all of them
#[path = "../../firmware/src/provision.rs"]
mod provision;

use latchkey_test_support::pki_files::{FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::qemu::{ProvisionRecord, RecordSlot, PROVISION_LEN};
use provision::{parse, ProvisionError, SlotState};

fn record() -> (tempfile::TempDir, FilePki, Vec<u8>) {
    let tmp = tempfile::tempdir().expect("dir");
    let pki = FilePki::generate(tmp.path()).expect("pki");
    let bytes =
        ProvisionRecord::from_pki(&pki, &[(true, &pki.client_old), (false, &pki.client_new)])
            .expect("record")
            .encode()
            .expect("encode");
    (tmp, pki, bytes)
}

#[test]
fn record_round_trips_through_the_image_parser() {
    let (_tmp, pki, bytes) = record();
    // The image reads the whole region: the record followed by erased (zero) bytes.
    let mut region = bytes.clone();
    region.resize(PROVISION_LEN, 0);
    let p = parse(&region).expect("parse");
    assert_eq!(p.server_name, SERVER_NAME);
    assert_eq!(p.identity, IDENTITY);
    assert_eq!(p.anchors.len(), 1);
    assert_eq!(p.slots.len(), 2);
    assert_eq!(p.slots[0].state, SlotState::Archived);
    assert_eq!(p.slots[0].cert, pki.client_old.der.as_slice());
    assert_eq!(p.slots[1].state, SlotState::Active);
    assert_eq!(p.slots[1].cert, pki.client_new.der.as_slice());
    // The key is the PKCS#8 DER of the PEM file (a P-256 key: the PKCS#8 SEQUENCE tag).
    assert_eq!(p.slots[1].key.first(), Some(&0x30));
}

#[test]
fn every_truncation_is_refused() {
    let (_tmp, _pki, bytes) = record();
    for n in 0..bytes.len() {
        let r = parse(&bytes[..n]);
        assert!(
            matches!(
                r,
                Err(ProvisionError::NotProvisioned | ProvisionError::Truncated)
            ),
            "{n}: {r:?}"
        );
    }
    // The outer length shortened instead: the last record is cut inside the region.
    let mut short = bytes.clone();
    let total = u16::from_be_bytes([short[8], short[9]]) - 1;
    short[8..10].copy_from_slice(&total.to_be_bytes());
    assert_eq!(parse(&short), Err(ProvisionError::Truncated));
}

fn encode(anchors: usize, slots: &[(bool, usize)]) -> ProvisionRecord {
    ProvisionRecord {
        anchors: vec![vec![0x30, 1, 2]; anchors],
        server_name: "radius.example.test".into(),
        identity: "dev@example.test".into(),
        slots: slots
            .iter()
            .map(|&(archived, cert_len)| RecordSlot {
                archived,
                cert: vec![0x30; cert_len],
                key: vec![0x30, 0],
            })
            .collect(),
        wifi: false,
    }
}

#[test]
fn link_record_says_wired_by_default_and_wifi_when_given() {
    let mut rec = encode(1, &[(false, 40)]);
    assert_eq!(
        parse(&rec.encode().unwrap()).map(|p| p.link),
        Ok(provision::Link::Wired)
    );
    rec.wifi = true;
    let bytes = rec.encode().unwrap();
    assert_eq!(parse(&bytes).map(|p| p.link), Ok(provision::Link::Wifi));
    // A link value other than 0 or 1, and a second link record, are refused.
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    assert_eq!(bad[last - 3], 5, "the link record is last");
    bad[last] = 2;
    assert_eq!(parse(&bad), Err(ProvisionError::BadLink));
    let mut twice = bytes.clone();
    twice.extend_from_slice(&[5, 0, 1, 0]);
    let total = u16::from_be_bytes([twice[8], twice[9]]) + 4;
    twice[8..10].copy_from_slice(&total.to_be_bytes());
    assert_eq!(parse(&twice), Err(ProvisionError::BadLink));
}

#[test]
fn malformed_records_get_their_typed_error() {
    let ok = encode(1, &[(false, 3)]).encode().expect("encode");
    assert!(parse(&ok).is_ok());
    assert_eq!(parse(&[0u8; 64]), Err(ProvisionError::NotProvisioned));
    // Too many CA certificates, too many slots.
    let many = encode(5, &[(false, 3)]).encode().expect("encode");
    assert_eq!(parse(&many), Err(ProvisionError::TooMany(1)));
    let many = encode(1, &[(false, 3); 5]).encode().expect("encode");
    assert_eq!(parse(&many), Err(ProvisionError::TooMany(4)));
    // Missing parts.
    assert_eq!(
        parse(&encode(0, &[(false, 3)]).encode().expect("encode")),
        Err(ProvisionError::Incomplete)
    );
    assert_eq!(
        parse(&encode(1, &[]).encode().expect("encode")),
        Err(ProvisionError::Incomplete)
    );
    // A slot whose certificate length runs past the record, or leaves no key.
    let mut bad = ok.clone();
    let at = bad.len() - 2 - 3 - 2; // the slot's certificate length field
    bad[at..at + 2].copy_from_slice(&100u16.to_be_bytes());
    assert_eq!(parse(&bad), Err(ProvisionError::Truncated));
    bad[at..at + 2].copy_from_slice(&5u16.to_be_bytes());
    assert_eq!(parse(&bad), Err(ProvisionError::Truncated));
    // A bad slot state, an unknown tag, a name that is not UTF-8, a name given twice.
    let mut bad = ok.clone();
    let state_at = bad.len() - 2 - 3 - 2 - 1;
    bad[state_at] = 7;
    assert_eq!(parse(&bad), Err(ProvisionError::BadSlotState(7)));
    let mut bad = ok.clone();
    bad[10] = 9;
    assert_eq!(parse(&bad), Err(ProvisionError::UnknownTag(9)));
    let mut rec = encode(1, &[(false, 3)]);
    rec.identity = "dev\u{e9}".into();
    let mut bad = rec.encode().expect("encode");
    let pos = bad.windows(2).position(|w| w == [0xc3, 0xa9]).expect("é");
    bad[pos] = 0xff;
    assert_eq!(parse(&bad), Err(ProvisionError::NotUtf8(3)));
    let mut twice = ok[10..].to_vec();
    let name = [&[2u8, 0, 1][..], b"x"].concat();
    twice.extend_from_slice(&name);
    let mut bad = b"LKPROV01".to_vec();
    bad.extend_from_slice(&(twice.len() as u16).to_be_bytes());
    bad.extend_from_slice(&twice);
    assert_eq!(parse(&bad), Err(ProvisionError::Incomplete));
}

#[test]
fn random_bytes_after_the_magic_never_panic() {
    // xorshift: deterministic, no extra dependency.
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut accepted = 0;
    for _ in 0..20_000 {
        let len = (next() % 300) as usize;
        let mut b = b"LKPROV01".to_vec();
        b.extend_from_slice(&((next() % 320) as u16).to_be_bytes());
        b.extend((0..len).map(|_| {
            // Mostly small tags and lengths, so records get parsed rather than cut at once.
            let r = next();
            if r % 3 == 0 {
                (r >> 8) as u8 % 5
            } else {
                (r >> 16) as u8
            }
        }));
        if parse(&b).is_ok() {
            accepted += 1;
        }
    }
    // Random bytes are essentially never a complete record.
    assert!(accepted < 10, "{accepted}");
}
