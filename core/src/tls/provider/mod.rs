//! Latchkey's own RustCrypto `CryptoProvider` for rustls 0.23: only what EAP-TLS needs
//! (design §4): AES-GCM suites for TLS 1.3 and 1.2, ECDHE on secp256r1, ECDSA/RSA
//! verification, ECDSA P-256 client signing (the P-256 operations through a [`crate::hal::P256`],
//! RustCrypto's by default), and the TLS PRF / HKDF-Expand-Label helpers that
//! EAP-TLS key derivation (RFC 5216 §2.3, RFC 9190 §2.3) is built from.

mod aead;
mod hash;
mod hmac;
mod kx;
mod rng;
pub(crate) mod seam;
mod sign;
mod suites;
mod verify;

use alloc::boxed::Box;
use alloc::vec;

use rustls::crypto::tls12::{Prf, PrfUsingHmac};
use rustls::crypto::tls13::{Hkdf, HkdfUsingHmac, OkmBlock};
use rustls::crypto::{CryptoProvider, SecureRandom};
use sha2::Digest;

pub use self::kx::Secp256r1;
#[cfg(feature = "x25519")]
pub use self::kx::X25519;
pub use self::rng::SharedRng;
#[cfg(feature = "key-store")]
#[cfg_attr(not(feature = "internals"), allow(unused_imports))]
pub use self::sign::HalSigningKey;
pub(crate) use self::sign::KEY_UNAVAILABLE;
#[cfg_attr(not(feature = "internals"), allow(unused_imports))]
pub use self::sign::{
    schemes_for, EcdsaP256SigningKey, InlineSigningKey, KEY_PROVIDER, RSA_SCHEMES,
};
pub use self::suites::*;
pub(crate) use self::verify::sig_algs_with;
pub use self::verify::*;

/// Builds the provider: [`ALL_CIPHER_SUITES`], X25519 (feature `x25519`) then secp256r1,
/// [`SUPPORTED_SIG_ALGS`], [`KEY_PROVIDER`], randomness from `rng`.
///
/// rustls holds its randomness and key-exchange groups as `&'static`, and ours must reach
/// `rng`, so each call leaks one value (two words) per group and one for the RNG. Call it once
/// at start-up, as the RNG itself is set up (see [`crate::Crypto`]).
pub fn provider<R>(rng: &'static SharedRng<R>) -> CryptoProvider
where
    R: rand_core::RngCore + rand_core::CryptoRng + Send,
{
    let rng: &'static dyn SecureRandom = Box::leak(Box::new(self::rng::RngSource(rng)));
    provider_with(rng, &seam::RUSTCRYPTO_P256, SUPPORTED_SIG_ALGS)
}

/// [`provider`] with an RNG already set aside, the P-256 key exchange done by `p256` and
/// `signature_verification_algorithms` (which [`verify::sig_algs_with`] builds for a `p256`
/// that is not the default; kept out of here so that an image using only the default links
/// none of it).
pub(crate) fn provider_with(
    rng: &'static dyn SecureRandom,
    p256: &'static dyn crate::hal::P256,
    signature_verification_algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
) -> CryptoProvider {
    let p256: &'static Secp256r1 = Box::leak(Box::new(Secp256r1::with_p256(rng, p256)));
    // The first group gets the TLS 1.3 key share. X25519 goes first: OpenSSL-based servers
    // prefer it, so they accept the share without a HelloRetryRequest and send a shorter flight.
    #[cfg(feature = "x25519")]
    #[allow(unused_mut)]
    let mut kx_groups: alloc::vec::Vec<&'static dyn rustls::crypto::SupportedKxGroup> = {
        let x25519: &'static X25519 = Box::leak(Box::new(X25519::new(rng)));
        vec![x25519, p256]
    };
    #[cfg(not(feature = "x25519"))]
    #[allow(unused_mut)]
    let mut kx_groups: alloc::vec::Vec<&'static dyn rustls::crypto::SupportedKxGroup> = vec![p256];
    // secp384r1 last: never the TLS 1.3 key share, but listed so that a TLS 1.2 server takes
    // a P-384 client certificate (see `Secp384r1`).
    #[cfg(feature = "p384")]
    kx_groups.push(Box::leak(Box::new(kx::Secp384r1::new(rng))));
    CryptoProvider {
        cipher_suites: ALL_CIPHER_SUITES.to_vec(),
        kx_groups,
        signature_verification_algorithms,
        secure_random: rng,
        key_provider: &KEY_PROVIDER,
    }
}

/// The hash of a cipher suite, which also selects its PRF / HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum HashAlg {
    /// SHA-256 (32-byte output).
    Sha256,
    /// SHA-384 (48-byte output).
    Sha384,
}

impl HashAlg {
    /// Output length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }

    fn hmac(self) -> &'static dyn rustls::crypto::hmac::Hmac {
        match self {
            Self::Sha256 => &hmac::HMAC_SHA256,
            Self::Sha384 => &hmac::HMAC_SHA384,
        }
    }
}

/// A SHA-256 or SHA-384 digest, without allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HashOutput {
    bytes: [u8; 48],
    len: usize,
}

impl HashOutput {
    fn new(digest: &[u8]) -> Self {
        let mut bytes = [0u8; 48];
        for (out, b) in bytes.iter_mut().zip(digest) {
            *out = *b;
        }
        Self {
            bytes,
            len: digest.len().min(48),
        }
    }
}

impl AsRef<[u8]> for HashOutput {
    fn as_ref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl core::fmt::Debug for HashOutput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.as_ref() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// `Hash(data)` with the given algorithm.
///
/// Never inlined: a signature check hashes, then runs the curve arithmetic, the deepest call of
/// a handshake; inlined, the hash state would sit under it on a device's stack.
#[inline(never)]
pub fn hash(alg: HashAlg, data: &[u8]) -> HashOutput {
    match alg {
        HashAlg::Sha256 => HashOutput::new(&sha2::Sha256::digest(data)),
        HashAlg::Sha384 => HashOutput::new(&sha2::Sha384::digest(data)),
    }
}

/// The TLS 1.2 PRF (RFC 5246 §5): fills `out` with `P_hash(secret, label || seed)`.
///
/// EAP-TLS over TLS 1.2 derives its key material as
/// `PRF(master_secret, "client EAP encryption", client_random || server_random)` (RFC 5216
/// §2.3). The PRF takes any secret and output length, so it cannot fail.
pub fn tls12_prf(hash: HashAlg, out: &mut [u8], secret: &[u8], label: &[u8], seed: &[u8]) {
    PrfUsingHmac(hash.hmac()).for_secret(out, secret, label, seed);
}

/// Why an HKDF-based derivation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
#[allow(clippy::enum_variant_names)] // each variant names what was too long
pub enum KdfError {
    /// The secret is longer than 64 bytes (TLS 1.3 secrets are one hash long).
    SecretTooLong,
    /// The label does not fit the one-byte length of `HkdfLabel` (at most 249 bytes after
    /// the "tls13 " prefix), or the context exceeds 255 bytes.
    LabelTooLong,
    /// More output than HKDF-Expand can give (255 hash lengths, and at most 65535 bytes).
    OutputTooLong,
}

impl core::fmt::Display for KdfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::SecretTooLong => "key derivation secret longer than 64 bytes",
            Self::LabelTooLong => "key derivation label or context too long",
            Self::OutputTooLong => "key derivation output too long",
        })
    }
}

/// `HKDF-Expand-Label(secret, label, context, out.len())` of RFC 8446 §7.1: HKDF-Expand with
/// info = `HkdfLabel { length, "tls13 " || label, context }`. `secret` is used as the PRK.
pub fn hkdf_expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), KdfError> {
    const PREFIX: &[u8] = b"tls13 ";
    let length = u16::try_from(out.len()).map_err(|_| KdfError::OutputTooLong)?;
    // Saturating: an impossible length still fails the u8 conversion.
    let label_len = u8::try_from(PREFIX.len().saturating_add(label.len()))
        .map_err(|_| KdfError::LabelTooLong)?;
    let context_len = u8::try_from(context.len()).map_err(|_| KdfError::LabelTooLong)?;
    if secret.len() > OkmBlock::MAX_LEN {
        return Err(KdfError::SecretTooLong);
    }
    let expander = HkdfUsingHmac(hash.hmac()).expander_for_okm(&OkmBlock::new(secret));
    expander
        .expand_slice(
            &[
                &length.to_be_bytes(),
                &[label_len],
                PREFIX,
                label,
                &[context_len],
                context,
            ],
            out,
        )
        .map_err(|_| KdfError::OutputTooLong)
}

/// The TLS 1.3 exporter (RFC 8446 §7.5) from the `exporter_master_secret`:
/// `HKDF-Expand-Label(Derive-Secret(secret, label, ""), "exporter", Hash(context), out.len())`.
///
/// EAP-TLS 1.3 key material is `TLS-Exporter("EXPORTER_EAP_TLS_Key_Material", 0x0D, 128)`
/// (RFC 9190 §2.3); rustls' `KeyLog` gives the secret as `EXPORTER_SECRET`.
pub fn tls13_exporter(
    hash: HashAlg,
    exporter_master_secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), KdfError> {
    let mut derived = zeroize::Zeroizing::new([0u8; 48]);
    let derived = derived
        .get_mut(..hash.output_len())
        .ok_or(KdfError::OutputTooLong)?;
    let empty_hash = self::hash(hash, b"");
    hkdf_expand_label(
        hash,
        exporter_master_secret,
        label,
        empty_hash.as_ref(),
        derived,
    )?;
    let context_hash = self::hash(hash, context);
    hkdf_expand_label(hash, derived, b"exporter", context_hash.as_ref(), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> alloc::vec::Vec<u8> {
        let s: alloc::string::String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // TLS 1.2 PRF test vectors posted to the IETF TLS list
    // (https://www.ietf.org/mail-archive/web/tls/current/msg03416.html), also used by rustls'
    // own tests; re-checked with `openssl kdf ... TLS1-PRF`.
    #[test]
    fn tls12_prf_matches_published_sha256_vector() {
        let secret = unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let mut out = [0u8; 100];
        tls12_prf(HashAlg::Sha256, &mut out, &secret, b"test label", &seed);
        let expected = unhex(
            "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4
             e6 1e db 5a 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17
             ab fd 37 97 c0 56 4b ab 4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1
             22 ee 42 c5 a7 2e 5a 51 10 ff f7 01 87 34 7b 66",
        );
        assert_eq!(out.to_vec(), expected);
    }

    #[test]
    fn tls12_prf_matches_published_sha384_vector() {
        let secret = unhex("b8 0b 73 3d 6c ee fc dc 71 56 6e a4 8e 55 67 df");
        let seed = unhex("cd 66 5c f6 a8 44 7d d6 ff 8b 27 55 5e db 74 65");
        let mut out = [0u8; 148];
        tls12_prf(HashAlg::Sha384, &mut out, &secret, b"test label", &seed);
        let expected = unhex(
            "7b 0c 18 e9 ce d4 10 ed 18 04 f2 cf a3 4a 33 6a 1c 14 df fb 49 00 bb 5f d7 94 21 07
             e8 1c 83 cd e9 ca 0f aa 60 be 9f e3 4f 82 b1 23 3c 91 46 a0 e5 34 cb 40 0f ed 27 00
             88 4f 9d c2 36 f8 0e dd 8b fa 96 11 44 c9 e8 d7 92 ec a7 22 a7 b3 2f c3 d4 16 d4 73
             eb c2 c5 fd 4a bf da d0 5d 91 84 25 9b 5b f8 cd 4d 90 fa 0d 31 e2 de c4 79 e4 f1 a2
             60 66 f2 ee a9 a6 92 36 a3 e5 26 55 c9 e9 ae e6 91 c8 f3 a2 68 54 30 8d 5e aa 3b e8
             5e 09 90 70 3d 73 e5 6f",
        );
        assert_eq!(out.to_vec(), expected);
    }

    // RFC 8448 §3 (simple 1-RTT handshake, TLS_AES_128_GCM_SHA256).
    #[test]
    fn hkdf_expand_label_matches_rfc8448() {
        // Derive-Secret(early_secret, "derived", "") with early_secret = HKDF-Extract(0, 0).
        let early = unhex(
            "33 ad 0a 1c 60 7e c0 3b 09 e6 cd 98 93 68 0c e2 10 ad f3 00 aa 1f 26 60 e1 b2 2e 10
             f1 70 f9 2a",
        );
        let mut derived = [0u8; 32];
        let empty = hash(HashAlg::Sha256, b"");
        hkdf_expand_label(
            HashAlg::Sha256,
            &early,
            b"derived",
            empty.as_ref(),
            &mut derived,
        )
        .unwrap();
        assert_eq!(
            derived.to_vec(),
            unhex(
                "6f 26 15 a1 08 c7 02 c5 67 8f 54 fc 9d ba b6 97 16 c0 76 18 9c 48 25 0c eb ea c3 57
                 6c 36 11 ba"
            )
        );
        // Server handshake traffic key and IV.
        let server_hs = unhex(
            "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59
             d3 91 ad 38",
        );
        let mut key = [0u8; 16];
        hkdf_expand_label(HashAlg::Sha256, &server_hs, b"key", b"", &mut key).unwrap();
        assert_eq!(
            key.to_vec(),
            unhex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
        );
        let mut iv = [0u8; 12];
        hkdf_expand_label(HashAlg::Sha256, &server_hs, b"iv", b"", &mut iv).unwrap();
        assert_eq!(iv.to_vec(), unhex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
    }

    #[test]
    fn hkdf_expand_label_refuses_oversize_inputs() {
        let mut out = [0u8; 16];
        let long = [0u8; 250];
        assert_eq!(
            hkdf_expand_label(HashAlg::Sha256, &[0; 32], &long, b"", &mut out),
            Err(KdfError::LabelTooLong)
        );
        assert_eq!(
            hkdf_expand_label(HashAlg::Sha256, &[0; 32], b"x", &[0; 256], &mut out),
            Err(KdfError::LabelTooLong)
        );
        assert_eq!(
            hkdf_expand_label(HashAlg::Sha256, &[0; 65], b"x", b"", &mut out),
            Err(KdfError::SecretTooLong)
        );
        let mut big = alloc::vec![0u8; 255 * 32 + 1];
        assert_eq!(
            hkdf_expand_label(HashAlg::Sha256, &[0; 32], b"x", b"", &mut big),
            Err(KdfError::OutputTooLong)
        );
    }

    #[test]
    fn hash_lengths_and_empty_sha256() {
        assert_eq!(hash(HashAlg::Sha384, b"").as_ref().len(), 48);
        assert_eq!(
            hash(HashAlg::Sha256, b"").as_ref().to_vec(),
            unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }
}
