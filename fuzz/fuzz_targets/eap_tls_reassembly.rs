//! EAP-TLS framing and reassembly (RFC 5216 §3.1-3.2): each fragment's type data parses to a
//! typed error or round-trips through emit; the fragments, pushed into the bounded
//! `Reassembler` (with a buffer length chosen per push), give exactly the results and bytes of
//! a plain Vec-based model of the rules; and any message cut by the `Fragmenter` reassembles
//! to itself.
#![no_main]

use latchkey_core::eap_tls::{
    Error, Fragmenter, FragmenterConfig, Progress, Reassembler, ReassemblerConfig, Repr,
    MAX_MESSAGE_LEN_LIMIT,
};
use latchkey_fuzz::ReassemblyInput;
use libfuzzer_sys::fuzz_target;

/// The reassembly rules, written plainly: a growing Vec, the first L kept, the bounds checked
/// before anything is kept, and every error or completion starting over.
#[derive(Default)]
struct Model {
    msg: Vec<u8>,
    announced: Option<usize>,
    fragments: usize,
}

impl Model {
    fn push(
        &mut self,
        max_len: usize,
        max_frags: usize,
        cap: usize,
        f: &Repr<'_>,
    ) -> Result<Option<Vec<u8>>, Error> {
        let r = self.try_push(max_len, max_frags, cap, f);
        if !matches!(r, Ok(None)) {
            *self = Model::default();
        }
        r
    }

    fn try_push(
        &mut self,
        max_len: usize,
        max_frags: usize,
        cap: usize,
        f: &Repr<'_>,
    ) -> Result<Option<Vec<u8>>, Error> {
        if self.msg.len() > cap {
            return Err(Error::BufferShrunk {
                received: self.msg.len(),
                capacity: cap,
            });
        }
        if self.fragments >= max_frags {
            return Err(Error::TooManyFragments { limit: max_frags });
        }
        let limit = max_len.min(MAX_MESSAGE_LEN_LIMIT).min(cap);
        if let Some(l) = f.tls_message_length {
            match self.announced {
                Some(first) if first != l as usize => {
                    return Err(Error::InconsistentLength { first, now: l })
                }
                Some(_) => {}
                None if l as usize > limit => {
                    return Err(Error::AnnouncedTooLarge {
                        announced: l,
                        limit,
                    })
                }
                None => self.announced = Some(l as usize),
            }
        }
        let received = self.msg.len() + f.tls_data.len();
        if let Some(a) = self.announced {
            if received > a {
                return Err(Error::BeyondAnnounced {
                    announced: a,
                    received,
                });
            }
        }
        if received > limit {
            return Err(Error::MessageTooLarge { received, limit });
        }
        self.msg.extend_from_slice(f.tls_data);
        self.fragments += 1;
        if f.more_fragments {
            return Ok(None);
        }
        match self.announced {
            Some(a) if received < a => Err(Error::ShorterThanAnnounced {
                announced: a,
                received,
            }),
            _ => Ok(Some(std::mem::take(&mut self.msg))),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = ReassemblyInput::decode(data);
    let max_len = usize::from(input.max_message_len);
    let max_frags = usize::from(input.max_fragments);
    let mut reasm = Reassembler::new(ReassemblerConfig {
        max_message_len: max_len,
        max_fragments: max_frags,
    });
    let mut model = Model::default();
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    let mut all_tls = Vec::new();
    for (cap, raw) in &input.fragments {
        let repr = match Repr::parse_bytes(raw) {
            Ok(r) => r,
            Err(Error::MissingFlags) => {
                assert!(raw.is_empty());
                continue;
            }
            Err(Error::LengthFieldTruncated { len }) => {
                assert!(raw[0] & 0x80 != 0 && raw.len() < 5 && len == raw.len() - 1);
                continue;
            }
            Err(e) => panic!("unexpected parse error {e:?}"),
        };
        // emit(parse(x)) == x, with the reserved flag bits cleared (they are never sent).
        let mut out = vec![0u8; repr.buffer_len()];
        assert_eq!(repr.emit(&mut out), Ok(raw.len()));
        assert_eq!(out[0], raw[0] & !0x1f);
        assert_eq!(&out[1..], &raw[1..]);
        assert_eq!(repr.reserved, raw[0] & 0x1f);
        all_tls.extend_from_slice(repr.tls_data);

        let cap = usize::from(*cap);
        let got = reasm.push(&mut buf[..cap], &repr);
        let want = model.push(max_len, max_frags, cap, &repr);
        match (&got, &want) {
            (Ok(Progress::NeedMore), Ok(None)) => {}
            (Ok(Progress::Complete(n)), Ok(Some(msg))) => {
                assert_eq!(
                    &buf[..*n],
                    &msg[..],
                    "reassembled bytes differ from the model"
                );
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("reassembler {got:?}, model {want:?}"),
        }
        assert_eq!(reasm.received(), model.msg.len());
        assert_eq!(reasm.in_progress(), model.fragments > 0);
    }

    // The fragmenter's output, parsed and reassembled, is the message it was given.
    let size = usize::from(input.fragment_size).max(1);
    let mut frag = Fragmenter::new(FragmenterConfig {
        fragment_size: size,
        always_include_length: input.max_fragments & 1 == 1,
    });
    let msg = &all_tls[..all_tls.len().min(MAX_MESSAGE_LEN_LIMIT)];
    let mut whole = Reassembler::new(ReassemblerConfig {
        max_message_len: MAX_MESSAGE_LEN_LIMIT,
        max_fragments: usize::MAX,
    });
    let mut out = vec![0u8; size + 5];
    let mut done = None;
    let mut count = 0;
    while let Some(n) = frag.next_fragment(msg, &mut out).expect("fragment") {
        count += 1;
        let repr = Repr::parse_bytes(&out[..n]).expect("own fragment parses");
        assert!(repr.tls_data.len() <= size);
        assert!(done.is_none(), "fragment after the last one");
        match whole
            .push(&mut buf, &repr)
            .expect("own fragments reassemble")
        {
            Progress::NeedMore => assert!(repr.more_fragments),
            Progress::Complete(len) => done = Some(len),
            other => panic!("unknown reassembly progress {other:?}"),
        }
    }
    let len = done.expect("the last fragment completes the message");
    assert_eq!(&buf[..len], msg);
    assert_eq!(count, msg.len().div_ceil(size).max(1));
    assert!(frag.is_finished());
});
