//! HMAC-SHA256 and HMAC-SHA384 (`crypto::hmac::Hmac`) over RustCrypto `hmac`. rustls builds the
//! TLS 1.3 HKDF (`HkdfUsingHmac`) and the TLS 1.2 PRF (`PrfUsingHmac`) on top of these.

use alloc::boxed::Box;
use core::marker::PhantomData;

use hmac::digest::{KeyInit, OutputSizeUser};
use hmac::Mac;
use rustls::crypto::hmac::{Hmac, Key, Tag};

/// rustls' `Hmac` over one RustCrypto MAC type `M` (e.g. `hmac::Hmac<Sha256>`).
pub(crate) struct RustCryptoHmac<M>(PhantomData<fn() -> M>);

/// HMAC-SHA256.
pub(crate) static HMAC_SHA256: RustCryptoHmac<hmac::Hmac<sha2::Sha256>> =
    RustCryptoHmac(PhantomData);

/// HMAC-SHA384.
pub(crate) static HMAC_SHA384: RustCryptoHmac<hmac::Hmac<sha2::Sha384>> =
    RustCryptoHmac(PhantomData);

impl<M> Hmac for RustCryptoHmac<M>
where
    M: Mac + KeyInit + Clone + Send + Sync + 'static,
{
    fn with_key(&self, key: &[u8]) -> Box<dyn Key> {
        // HMAC takes keys of any length (RFC 2104 §2: longer keys are hashed, shorter ones
        // padded), so `new_from_slice` cannot fail for `hmac::Hmac`; the fallback only exists
        // because the generic `KeyInit` signature is fallible.
        let mac = <M as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| <M as KeyInit>::new(&Default::default()));
        Box::new(HmacKey(mac))
    }

    fn hash_output_len(&self) -> usize {
        <M as OutputSizeUser>::output_size()
    }
}

/// A keyed HMAC; each signature starts from a clone of the keyed state.
struct HmacKey<M>(M);

impl<M> Key for HmacKey<M>
where
    M: Mac + Clone + Send + Sync,
{
    fn sign_concat(&self, first: &[u8], middle: &[&[u8]], last: &[u8]) -> Tag {
        let mut mac = self.0.clone();
        mac.update(first);
        for part in middle {
            mac.update(part);
        }
        mac.update(last);
        Tag::new(&mac.finalize().into_bytes())
    }

    fn tag_len(&self) -> usize {
        <M as OutputSizeUser>::output_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 §4.2 test case 1: key = 0x0b * 20, data = "Hi There".
    const TC1_SHA256: [u8; 32] = [
        0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53, 0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1,
        0x2b, 0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7, 0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32,
        0xcf, 0xf7,
    ];
    const TC1_SHA384: [u8; 48] = [
        0xaf, 0xd0, 0x39, 0x44, 0xd8, 0x48, 0x95, 0x62, 0x6b, 0x08, 0x25, 0xf4, 0xab, 0x46, 0x90,
        0x7f, 0x15, 0xf9, 0xda, 0xdb, 0xe4, 0x10, 0x1e, 0xc6, 0x82, 0xaa, 0x03, 0x4c, 0x7c, 0xeb,
        0xc5, 0x9c, 0xfa, 0xea, 0x9e, 0xa9, 0x07, 0x6e, 0xde, 0x7f, 0x4a, 0xf1, 0x52, 0xe8, 0xb2,
        0xfa, 0x9c, 0xb6,
    ];

    #[test]
    fn hmac_matches_rfc4231_case_1_across_split_input() {
        let key = [0x0b; 20];
        let k256 = HMAC_SHA256.with_key(&key);
        assert_eq!(k256.sign(&[b"Hi There"]).as_ref(), &TC1_SHA256);
        assert_eq!(
            k256.sign_concat(b"Hi", &[b" "], b"There").as_ref(),
            &TC1_SHA256
        );
        let k384 = HMAC_SHA384.with_key(&key);
        assert_eq!(k384.sign(&[b"Hi ", b"There"]).as_ref(), &TC1_SHA384);
        assert_eq!(k384.tag_len(), 48);
        assert_eq!(HMAC_SHA256.hash_output_len(), 32);
    }
}
