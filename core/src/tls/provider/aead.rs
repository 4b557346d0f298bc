//! AES-GCM record protection for TLS 1.3 (RFC 8446 §5.2) and TLS 1.2 (RFC 5288), over
//! RustCrypto `aes-gcm`. Records are sealed and opened in place in rustls' own buffers
//! (`PrefixedPayload` out, `InboundOpaqueMessage` in): no extra copy of the payload.

use alloc::boxed::Box;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use rustls::crypto::cipher::{
    make_tls12_aad, make_tls13_aad, AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv,
    KeyBlockShape, MessageDecrypter, MessageEncrypter, Nonce, OutboundOpaqueMessage,
    OutboundPlainMessage, PrefixedPayload, Tls12AeadAlgorithm, Tls13AeadAlgorithm,
    UnsupportedOperationError, NONCE_LEN,
};
use rustls::{ConnectionTrafficSecrets, ContentType, Error, ProtocolVersion};

/// GCM authentication tag length.
const TAG_LEN: usize = 16;
/// TLS 1.2 GCM: 4 implicit salt bytes from the key block, 8 explicit bytes on the wire.
const TLS12_SALT_LEN: usize = 4;
const TLS12_EXPLICIT_LEN: usize = 8;
/// Largest plaintext a record may carry (RFC 8446 §5.1, RFC 5246 §6.2.1).
const MAX_FRAGMENT_LEN: usize = 16384;

/// AES-128-GCM or AES-256-GCM, chosen by key length. One enum rather than a generic keeps a
/// single copy of the record-layer code in flash. Both are boxed so that each connection's heap
/// holds only the key schedule it uses.
enum Gcm {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
}

impl Gcm {
    /// rustls derives exactly `key_len` bytes; the first `key_len` bytes are taken so that the
    /// cipher always matches the suite, whatever the buffer.
    fn new(key: &AeadKey, key_len: usize) -> Option<Self> {
        let key = key.as_ref().get(..key_len)?;
        match key_len {
            16 => Aes128Gcm::new_from_slice(key)
                .ok()
                .map(|c| Self::Aes128(Box::new(c))),
            32 => Aes256Gcm::new_from_slice(key)
                .ok()
                .map(|c| Self::Aes256(Box::new(c))),
            _ => None,
        }
    }

    /// Encrypts `buf` in place and returns the tag.
    fn seal(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Error> {
        let nonce = aes_gcm::Nonce::from(nonce);
        let tag = match self {
            Self::Aes128(c) => c.encrypt_in_place_detached(&nonce, aad, buf),
            Self::Aes256(c) => c.encrypt_in_place_detached(&nonce, aad, buf),
        };
        tag.map(Into::into).map_err(|_| Error::EncryptError)
    }

    /// Checks `tag` and decrypts `buf` in place; on failure `buf` is left encrypted.
    fn open(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Error> {
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| Error::DecryptError)?;
        let tag = aes_gcm::Tag::from(tag);
        let nonce = aes_gcm::Nonce::from(nonce);
        match self {
            Self::Aes128(c) => c.decrypt_in_place_detached(&nonce, aad, buf, &tag),
            Self::Aes256(c) => c.decrypt_in_place_detached(&nonce, aad, buf, &tag),
        }
        .map_err(|_| Error::DecryptError)
    }
}

/// Stands in when rustls hands over a key of a length we do not know. rustls derives keys
/// of `key_len()` bytes, so this is unreachable in practice; it fails closed.
struct Unusable;

impl MessageEncrypter for Unusable {
    fn encrypt(
        &mut self,
        _: OutboundPlainMessage<'_>,
        _: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        Err(Error::EncryptError)
    }
    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len
    }
}

impl MessageDecrypter for Unusable {
    fn decrypt<'a>(
        &mut self,
        _: InboundOpaqueMessage<'a>,
        _: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        Err(Error::DecryptError)
    }
}

fn traffic_secrets(
    key_len: usize,
    key: AeadKey,
    iv: Iv,
) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
    match key_len {
        16 => Ok(ConnectionTrafficSecrets::Aes128Gcm { key, iv }),
        32 => Ok(ConnectionTrafficSecrets::Aes256Gcm { key, iv }),
        _ => Err(UnsupportedOperationError),
    }
}

// ---------------------------------------------------------------------------------------------
// TLS 1.3

/// TLS 1.3 AES-GCM with a key of `key_len` bytes.
pub(crate) struct Tls13Gcm {
    key_len: usize,
}

/// AES-128-GCM for `TLS13_AES_128_GCM_SHA256`.
pub(crate) static TLS13_AES_128_GCM: Tls13Gcm = Tls13Gcm { key_len: 16 };
/// AES-256-GCM for `TLS13_AES_256_GCM_SHA384`.
pub(crate) static TLS13_AES_256_GCM: Tls13Gcm = Tls13Gcm { key_len: 32 };

impl Tls13AeadAlgorithm for Tls13Gcm {
    fn encrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
        match Gcm::new(&key, self.key_len) {
            Some(gcm) => Box::new(Tls13Record { gcm, iv }),
            None => Box::new(Unusable),
        }
    }

    fn decrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
        match Gcm::new(&key, self.key_len) {
            Some(gcm) => Box::new(Tls13Record { gcm, iv }),
            None => Box::new(Unusable),
        }
    }

    fn key_len(&self) -> usize {
        self.key_len
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: Iv,
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        traffic_secrets(self.key_len, key, iv)
    }
}

/// One direction of TLS 1.3 record protection: per-record nonce = iv XOR seq (RFC 8446 §5.3).
struct Tls13Record {
    gcm: Gcm,
    iv: Iv,
}

impl MessageEncrypter for Tls13Record {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        // TLSInnerPlaintext = content || content type, no padding; then the tag.
        let total_len = self.encrypted_payload_len(msg.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total_len);
        payload.extend_from_chunks(&msg.payload);
        payload.extend_from_slice(&[u8::from(msg.typ)]);
        let tag = self.gcm.seal(
            Nonce::new(&self.iv, seq).0,
            &make_tls13_aad(total_len),
            payload.as_mut(),
        )?;
        payload.extend_from_slice(&tag);
        // All TLS 1.3 records carry legacy version 0x0303 (RFC 8446 §5.1).
        Ok(OutboundOpaqueMessage::new(
            ContentType::ApplicationData,
            ProtocolVersion::TLSv1_2,
            payload,
        ))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        // rustls asks with a record length (at most 2^14 + 256): never saturates.
        payload_len.saturating_add(1 + TAG_LEN)
    }
}

impl MessageDecrypter for Tls13Record {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let total_len = msg.payload.len();
        let ct_len = total_len.checked_sub(TAG_LEN).ok_or(Error::DecryptError)?;
        let (ct, tag) = msg
            .payload
            .split_at_mut_checked(ct_len)
            .ok_or(Error::DecryptError)?;
        self.gcm.open(
            Nonce::new(&self.iv, seq).0,
            &make_tls13_aad(total_len),
            ct,
            tag,
        )?;
        msg.payload.truncate(ct_len);
        // Strips the zero padding, reads the real content type, checks the size limits.
        msg.into_tls13_unpadded_message()
    }
}

// ---------------------------------------------------------------------------------------------
// TLS 1.2

/// TLS 1.2 AES-GCM (RFC 5288) with a key of `key_len` bytes.
pub(crate) struct Tls12Gcm {
    key_len: usize,
}

/// AES-128-GCM for the TLS 1.2 `*_AES_128_GCM_SHA256` suites.
pub(crate) static TLS12_AES_128_GCM: Tls12Gcm = Tls12Gcm { key_len: 16 };
/// AES-256-GCM for the TLS 1.2 `*_AES_256_GCM_SHA384` suites.
pub(crate) static TLS12_AES_256_GCM: Tls12Gcm = Tls12Gcm { key_len: 32 };

/// salt (4 bytes from the key block) || explicit nonce (8 bytes) as one 12-byte IV.
fn tls12_iv(salt: &[u8], explicit: &[u8]) -> Option<Iv> {
    if salt.len() != TLS12_SALT_LEN || explicit.len() != TLS12_EXPLICIT_LEN {
        return None;
    }
    let mut iv = [0u8; NONCE_LEN];
    for (out, b) in iv.iter_mut().zip(salt.iter().chain(explicit)) {
        *out = *b;
    }
    Some(Iv::new(iv))
}

impl Tls12AeadAlgorithm for Tls12Gcm {
    fn encrypter(&self, key: AeadKey, iv: &[u8], extra: &[u8]) -> Box<dyn MessageEncrypter> {
        // rustls gives 8 random bytes from the key block as `extra`; the explicit nonce is
        // then that value XOR the sequence number, unique per record as RFC 5288 §3 requires.
        match (Gcm::new(&key, self.key_len), tls12_iv(iv, extra)) {
            (Some(gcm), Some(iv)) => Box::new(Tls12Encrypter { gcm, iv }),
            _ => Box::new(Unusable),
        }
    }

    fn decrypter(&self, key: AeadKey, iv: &[u8]) -> Box<dyn MessageDecrypter> {
        match (
            Gcm::new(&key, self.key_len),
            <[u8; TLS12_SALT_LEN]>::try_from(iv),
        ) {
            (Some(gcm), Ok(salt)) => Box::new(Tls12Decrypter { gcm, salt }),
            _ => Box::new(Unusable),
        }
    }

    fn key_block_shape(&self) -> KeyBlockShape {
        KeyBlockShape {
            enc_key_len: self.key_len,
            fixed_iv_len: TLS12_SALT_LEN,
            explicit_nonce_len: TLS12_EXPLICIT_LEN,
        }
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: &[u8],
        explicit: &[u8],
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        let iv = tls12_iv(iv, explicit).ok_or(UnsupportedOperationError)?;
        traffic_secrets(self.key_len, key, iv)
    }
}

struct Tls12Encrypter {
    gcm: Gcm,
    iv: Iv,
}

impl MessageEncrypter for Tls12Encrypter {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        let nonce = Nonce::new(&self.iv, seq).0;
        let aad = make_tls12_aad(seq, msg.typ, msg.version, msg.payload.len());
        let mut payload =
            PrefixedPayload::with_capacity(self.encrypted_payload_len(msg.payload.len()));
        // GenericCipher = explicit nonce || ciphertext || tag (RFC 5288 §3).
        payload.extend_from_slice(nonce.get(TLS12_SALT_LEN..).ok_or(Error::EncryptError)?);
        payload.extend_from_chunks(&msg.payload);
        let body = payload
            .as_mut()
            .get_mut(TLS12_EXPLICIT_LEN..)
            .ok_or(Error::EncryptError)?;
        let tag = self.gcm.seal(nonce, &aad, body)?;
        payload.extend_from_slice(&tag);
        Ok(OutboundOpaqueMessage::new(msg.typ, msg.version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        // rustls asks with a record length (at most 2^14 + 256): never saturates.
        payload_len.saturating_add(TLS12_EXPLICIT_LEN + TAG_LEN)
    }
}

struct Tls12Decrypter {
    gcm: Gcm,
    salt: [u8; TLS12_SALT_LEN],
}

impl MessageDecrypter for Tls12Decrypter {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let ct_len = msg
            .payload
            .len()
            .checked_sub(TLS12_EXPLICIT_LEN + TAG_LEN)
            .ok_or(Error::DecryptError)?;
        let aad = make_tls12_aad(seq, msg.typ, msg.version, ct_len);
        let (explicit, rest) = msg
            .payload
            .split_at_mut_checked(TLS12_EXPLICIT_LEN)
            .ok_or(Error::DecryptError)?;
        let mut nonce = [0u8; NONCE_LEN];
        for (out, b) in nonce
            .iter_mut()
            .zip(self.salt.iter().chain(explicit.iter()))
        {
            *out = *b;
        }
        let (ct, tag) = rest
            .split_at_mut_checked(ct_len)
            .ok_or(Error::DecryptError)?;
        self.gcm.open(nonce, &aad, ct, tag)?;
        if ct_len > MAX_FRAGMENT_LEN {
            return Err(Error::PeerSentOversizedRecord);
        }
        // The plaintext stays where it was decrypted, after the explicit nonce.
        // ct_len was taken out of the payload length, so adding back never saturates.
        let end = TLS12_EXPLICIT_LEN.saturating_add(ct_len);
        Ok(msg.into_plain_message_range(TLS12_EXPLICIT_LEN..end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use rustls::crypto::cipher::OutboundChunks;

    fn seal(enc: &mut dyn MessageEncrypter, seq: u64, text: &[u8]) -> Vec<u8> {
        let msg = OutboundPlainMessage {
            typ: ContentType::Handshake,
            version: ProtocolVersion::TLSv1_2,
            payload: OutboundChunks::Single(text),
        };
        // encode() prepends the 5-byte record header; strip it to get the payload.
        enc.encrypt(msg, seq).unwrap().encode()[5..].to_vec()
    }

    fn open<'a>(
        dec: &mut dyn MessageDecrypter,
        seq: u64,
        payload: &'a mut [u8],
    ) -> Result<InboundPlainMessage<'a>, Error> {
        dec.decrypt(
            InboundOpaqueMessage::new(
                ContentType::ApplicationData,
                ProtocolVersion::TLSv1_2,
                payload,
            ),
            seq,
        )
    }

    #[test]
    fn tls13_round_trip_and_wrong_tag_is_an_error() {
        for alg in [&TLS13_AES_128_GCM, &TLS13_AES_256_GCM] {
            let iv = Iv::from([9u8; 12]);
            let mut enc = alg.encrypter(AeadKey::from([7u8; 32]), Iv::from([9u8; 12]));
            let mut dec = alg.decrypter(AeadKey::from([7u8; 32]), iv);
            let mut rec = seal(enc.as_mut(), 3, b"hello");
            assert_eq!(rec.len(), enc.encrypted_payload_len(5));
            let mut good = rec.clone();
            let plain = open(dec.as_mut(), 3, &mut good).unwrap();
            assert_eq!(plain.payload, b"hello");
            assert_eq!(plain.typ, ContentType::Handshake);
            // Wrong sequence number: wrong nonce.
            assert_eq!(
                open(dec.as_mut(), 4, &mut rec.clone()).unwrap_err(),
                Error::DecryptError
            );
            // Flipped tag bit.
            *rec.last_mut().unwrap() ^= 1;
            assert_eq!(
                open(dec.as_mut(), 3, &mut rec).unwrap_err(),
                Error::DecryptError
            );
            // Shorter than a tag.
            assert_eq!(
                open(dec.as_mut(), 3, &mut [0u8; 15]).unwrap_err(),
                Error::DecryptError
            );
        }
    }

    #[test]
    fn tls12_round_trip_carries_explicit_nonce_and_wrong_tag_is_an_error() {
        for alg in [&TLS12_AES_128_GCM, &TLS12_AES_256_GCM] {
            let shape = alg.key_block_shape();
            assert_eq!((shape.fixed_iv_len, shape.explicit_nonce_len), (4, 8));
            let mut enc = alg.encrypter(AeadKey::from([7u8; 32]), &[1, 2, 3, 4], &[0; 8]);
            let mut dec = alg.decrypter(AeadKey::from([7u8; 32]), &[1, 2, 3, 4]);
            let mut rec = seal(enc.as_mut(), 0x0102, b"finished");
            assert_eq!(rec.len(), 8 + 8 + 16);
            // explicit nonce = extra XOR seq
            assert_eq!(&rec[..8], &[0, 0, 0, 0, 0, 0, 1, 2]);
            // The AAD holds the outer type: decrypt with the type it was sealed under.
            let plain = dec
                .decrypt(
                    InboundOpaqueMessage::new(
                        ContentType::Handshake,
                        ProtocolVersion::TLSv1_2,
                        &mut rec.clone(),
                    ),
                    0x0102,
                )
                .map(|m| m.payload.to_vec())
                .unwrap();
            assert_eq!(plain, b"finished");
            *rec.last_mut().unwrap() ^= 0x80;
            let err = dec
                .decrypt(
                    InboundOpaqueMessage::new(
                        ContentType::Handshake,
                        ProtocolVersion::TLSv1_2,
                        &mut rec,
                    ),
                    0x0102,
                )
                .unwrap_err();
            assert_eq!(err, Error::DecryptError);
            assert_eq!(
                open(dec.as_mut(), 0, &mut [0u8; 23]).unwrap_err(),
                Error::DecryptError
            );
        }
    }

    #[test]
    fn unknown_key_length_fails_closed() {
        let mut dec = TLS12_AES_128_GCM.decrypter(AeadKey::from([0u8; 32]), &[1, 2, 3]);
        assert_eq!(
            open(dec.as_mut(), 0, &mut [0u8; 40]).unwrap_err(),
            Error::DecryptError
        );
    }
}
