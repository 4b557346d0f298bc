//! Signature verification for certificate chains (rustls-webpki) and handshake signatures:
//! ECDSA P-256 (+ P-384 behind feature `p384`) and RSA PKCS#1 v1.5 / PSS (behind feature
//! `rsa`). Each algorithm implements pki-types' `SignatureVerificationAlgorithm`; the
//! TLS `SignatureScheme` mapping follows RFC 8446 §4.2.3.

use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{
    alg_id, AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm,
};
use rustls::SignatureScheme;

use super::seam::RUSTCRYPTO_P256;
use super::HashAlg;
use crate::hal;

/// ECDSA over P-256 with the given hash (the prehash is truncated to 256 bits, FIPS 186-4 §6.4),
/// the curve arithmetic done by a [`hal::P256`].
pub struct EcdsaP256 {
    hash: HashAlg,
    signature_alg_id: AlgorithmIdentifier,
    p256: &'static dyn hal::P256,
}

impl core::fmt::Debug for EcdsaP256 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EcdsaP256({:?})", self.hash)
    }
}

impl EcdsaP256 {
    /// ECDSA P-256 with SHA-256, verified by `p256`.
    pub const fn sha256(p256: &'static dyn hal::P256) -> Self {
        EcdsaP256 {
            hash: HashAlg::Sha256,
            signature_alg_id: alg_id::ECDSA_SHA256,
            p256,
        }
    }

    /// ECDSA P-256 with SHA-384, verified by `p256`.
    pub const fn sha384(p256: &'static dyn hal::P256) -> Self {
        EcdsaP256 {
            hash: HashAlg::Sha384,
            signature_alg_id: alg_id::ECDSA_SHA384,
            p256,
        }
    }
}

/// ECDSA P-256 with SHA-256 (`ecdsa-with-SHA256` on a P-256 key), with RustCrypto's P-256.
pub static ECDSA_P256_SHA256: EcdsaP256 = EcdsaP256::sha256(&RUSTCRYPTO_P256);
/// ECDSA P-256 with SHA-384 (`ecdsa-with-SHA384` on a P-256 key; TLS 1.2 and certificates),
/// with RustCrypto's P-256.
pub static ECDSA_P256_SHA384: EcdsaP256 = EcdsaP256::sha384(&RUSTCRYPTO_P256);

impl SignatureVerificationAlgorithm for EcdsaP256 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let digest = super::hash(self.hash, message);
        super::seam::verify_der(self.p256, public_key, digest.as_ref(), signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P256
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_alg_id
    }
}

/// ECDSA over P-384 with the given hash.
#[cfg(feature = "p384")]
#[derive(Debug)]
pub struct EcdsaP384 {
    hash: HashAlg,
    signature_alg_id: AlgorithmIdentifier,
}

/// ECDSA P-384 with SHA-384.
#[cfg(feature = "p384")]
pub static ECDSA_P384_SHA384: EcdsaP384 = EcdsaP384 {
    hash: HashAlg::Sha384,
    signature_alg_id: alg_id::ECDSA_SHA384,
};
/// ECDSA P-384 with SHA-256 (seen on certificates signed by P-384 CAs; TLS 1.2 only).
#[cfg(feature = "p384")]
pub static ECDSA_P384_SHA256: EcdsaP384 = EcdsaP384 {
    hash: HashAlg::Sha256,
    signature_alg_id: alg_id::ECDSA_SHA256,
};

#[cfg(feature = "p384")]
impl SignatureVerificationAlgorithm for EcdsaP384 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        use p384::ecdsa::signature::hazmat::PrehashVerifier;
        let key =
            p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify_prehash(super::hash(self.hash, message).as_ref(), &sig)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P384
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_alg_id
    }
}

#[cfg(feature = "rsa")]
pub use self::rsa_verify::*;

#[cfg(feature = "rsa")]
mod rsa_verify {
    use rsa::pkcs1::der::Decode;
    use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPublicKey};
    use rustls::pki_types::{
        alg_id, AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm,
    };
    use sha2::{Digest, Sha256, Sha384, Sha512};

    /// The same bounds ring/webpki apply: below 2048 bits is too weak, above 8192 too slow.
    const MIN_MODULUS_BITS: usize = 2048;
    const MAX_MODULUS_BITS: usize = 8192;

    /// RSA padding.
    #[derive(Debug, Clone, Copy)]
    enum Padding {
        Pkcs1v15,
        /// MGF1 with the message hash, salt length = hash length (RFC 8446 §4.2.3).
        Pss,
    }

    /// RSA hash; SHA-512 only exists for RSA signatures, so it is not part of `HashAlg`.
    #[derive(Debug, Clone, Copy)]
    enum RsaHash {
        Sha256,
        Sha384,
        Sha512,
    }

    /// An RSA signature algorithm (padding + hash) over a 2048..8192-bit key.
    #[derive(Debug)]
    pub struct RsaVerify {
        padding: Padding,
        hash: RsaHash,
        signature_alg_id: AlgorithmIdentifier,
    }

    /// RSA PKCS#1 v1.5 with SHA-256.
    pub static RSA_PKCS1_SHA256: RsaVerify = RsaVerify {
        padding: Padding::Pkcs1v15,
        hash: RsaHash::Sha256,
        signature_alg_id: alg_id::RSA_PKCS1_SHA256,
    };
    /// RSA PKCS#1 v1.5 with SHA-384.
    pub static RSA_PKCS1_SHA384: RsaVerify = RsaVerify {
        padding: Padding::Pkcs1v15,
        hash: RsaHash::Sha384,
        signature_alg_id: alg_id::RSA_PKCS1_SHA384,
    };
    /// RSA PKCS#1 v1.5 with SHA-512.
    pub static RSA_PKCS1_SHA512: RsaVerify = RsaVerify {
        padding: Padding::Pkcs1v15,
        hash: RsaHash::Sha512,
        signature_alg_id: alg_id::RSA_PKCS1_SHA512,
    };
    /// RSA-PSS (rsaEncryption key) with SHA-256.
    pub static RSA_PSS_SHA256: RsaVerify = RsaVerify {
        padding: Padding::Pss,
        hash: RsaHash::Sha256,
        signature_alg_id: alg_id::RSA_PSS_SHA256,
    };
    /// RSA-PSS (rsaEncryption key) with SHA-384.
    pub static RSA_PSS_SHA384: RsaVerify = RsaVerify {
        padding: Padding::Pss,
        hash: RsaHash::Sha384,
        signature_alg_id: alg_id::RSA_PSS_SHA384,
    };
    /// RSA-PSS (rsaEncryption key) with SHA-512.
    pub static RSA_PSS_SHA512: RsaVerify = RsaVerify {
        padding: Padding::Pss,
        hash: RsaHash::Sha512,
        signature_alg_id: alg_id::RSA_PSS_SHA512,
    };

    /// Parses the `RSAPublicKey` (RFC 8017 §A.1.1) that webpki hands over.
    fn parse_key(der: &[u8]) -> Result<RsaPublicKey, InvalidSignature> {
        let key = rsa::pkcs1::RsaPublicKey::from_der(der).map_err(|_| InvalidSignature)?;
        let n = BigUint::from_bytes_be(key.modulus.as_bytes());
        let e = BigUint::from_bytes_be(key.public_exponent.as_bytes());
        if n.bits() < MIN_MODULUS_BITS {
            return Err(InvalidSignature);
        }
        RsaPublicKey::new_with_max_size(n, e, MAX_MODULUS_BITS).map_err(|_| InvalidSignature)
    }

    impl SignatureVerificationAlgorithm for RsaVerify {
        fn verify_signature(
            &self,
            public_key: &[u8],
            message: &[u8],
            signature: &[u8],
        ) -> Result<(), InvalidSignature> {
            let key = parse_key(public_key)?;
            let result = match (self.padding, self.hash) {
                (Padding::Pkcs1v15, RsaHash::Sha256) => key.verify(
                    Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(message),
                    signature,
                ),
                (Padding::Pkcs1v15, RsaHash::Sha384) => key.verify(
                    Pkcs1v15Sign::new::<Sha384>(),
                    &Sha384::digest(message),
                    signature,
                ),
                (Padding::Pkcs1v15, RsaHash::Sha512) => key.verify(
                    Pkcs1v15Sign::new::<Sha512>(),
                    &Sha512::digest(message),
                    signature,
                ),
                (Padding::Pss, RsaHash::Sha256) => {
                    key.verify(Pss::new::<Sha256>(), &Sha256::digest(message), signature)
                }
                (Padding::Pss, RsaHash::Sha384) => {
                    key.verify(Pss::new::<Sha384>(), &Sha384::digest(message), signature)
                }
                (Padding::Pss, RsaHash::Sha512) => {
                    key.verify(Pss::new::<Sha512>(), &Sha512::digest(message), signature)
                }
            };
            result.map_err(|_| InvalidSignature)
        }

        fn public_key_alg_id(&self) -> AlgorithmIdentifier {
            alg_id::RSA_ENCRYPTION
        }

        fn signature_alg_id(&self) -> AlgorithmIdentifier {
            self.signature_alg_id
        }
    }
}

/// Every algorithm accepted on certificates (order not significant).
static ALL: &[&dyn SignatureVerificationAlgorithm] = &[
    &ECDSA_P256_SHA256,
    &ECDSA_P256_SHA384,
    #[cfg(feature = "p384")]
    &ECDSA_P384_SHA384,
    #[cfg(feature = "p384")]
    &ECDSA_P384_SHA256,
    #[cfg(feature = "rsa")]
    &RSA_PKCS1_SHA256,
    #[cfg(feature = "rsa")]
    &RSA_PKCS1_SHA384,
    #[cfg(feature = "rsa")]
    &RSA_PKCS1_SHA512,
    #[cfg(feature = "rsa")]
    &RSA_PSS_SHA256,
    #[cfg(feature = "rsa")]
    &RSA_PSS_SHA384,
    #[cfg(feature = "rsa")]
    &RSA_PSS_SHA512,
];

/// TLS schemes we advertise, most preferred first, and what verifies each. TLS 1.3 uses only
/// the first algorithm of a row, whose curve must match the scheme (RFC 8446 §4.2.3); TLS 1.2
/// tries them all, since there the scheme names only the hash.
static MAPPING: &[(SignatureScheme, &[&dyn SignatureVerificationAlgorithm])] = &[
    (
        SignatureScheme::ECDSA_NISTP256_SHA256,
        &[
            &ECDSA_P256_SHA256,
            #[cfg(feature = "p384")]
            &ECDSA_P384_SHA256,
        ],
    ),
    // Without P-384 this scheme would only verify P-256 keys, which TLS 1.3 forbids for it.
    #[cfg(feature = "p384")]
    (
        SignatureScheme::ECDSA_NISTP384_SHA384,
        &[&ECDSA_P384_SHA384, &ECDSA_P256_SHA384],
    ),
    #[cfg(feature = "rsa")]
    (SignatureScheme::RSA_PSS_SHA256, &[&RSA_PSS_SHA256]),
    #[cfg(feature = "rsa")]
    (SignatureScheme::RSA_PSS_SHA384, &[&RSA_PSS_SHA384]),
    #[cfg(feature = "rsa")]
    (SignatureScheme::RSA_PSS_SHA512, &[&RSA_PSS_SHA512]),
    #[cfg(feature = "rsa")]
    (SignatureScheme::RSA_PKCS1_SHA256, &[&RSA_PKCS1_SHA256]),
    #[cfg(feature = "rsa")]
    (SignatureScheme::RSA_PKCS1_SHA384, &[&RSA_PKCS1_SHA384]),
    #[cfg(feature = "rsa")]
    (SignatureScheme::RSA_PKCS1_SHA512, &[&RSA_PKCS1_SHA512]),
];

/// The verification algorithms [`super::provider`] installs.
pub static SUPPORTED_SIG_ALGS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: ALL,
    mapping: MAPPING,
};

/// The verification algorithms with P-256 done by `p256`: [`SUPPORTED_SIG_ALGS`] with its two
/// P-256 algorithms replaced. rustls holds the tables as `&'static`, so they are leaked: two
/// algorithms and the two tables (a few hundred bytes), once per call; built with the
/// [`crate::Crypto`] that uses them, once at start-up.
pub(crate) fn sig_algs_with(p256: &'static dyn hal::P256) -> WebPkiSupportedAlgorithms {
    use alloc::boxed::Box;
    use alloc::vec::Vec;
    let sha256: &'static EcdsaP256 = Box::leak(Box::new(EcdsaP256::sha256(p256)));
    let sha384: &'static EcdsaP256 = Box::leak(Box::new(EcdsaP256::sha384(p256)));
    // Same tables, each default P-256 algorithm swapped for its counterpart.
    let swap = |alg: &'static dyn SignatureVerificationAlgorithm| -> &'static dyn SignatureVerificationAlgorithm {
        if core::ptr::addr_eq(alg, &ECDSA_P256_SHA256) {
            sha256
        } else if core::ptr::addr_eq(alg, &ECDSA_P256_SHA384) {
            sha384
        } else {
            alg
        }
    };
    let all: Vec<&'static dyn SignatureVerificationAlgorithm> =
        ALL.iter().map(|a| swap(*a)).collect();
    let mapping: Vec<(
        SignatureScheme,
        &'static [&'static dyn SignatureVerificationAlgorithm],
    )> = MAPPING
        .iter()
        .map(|(scheme, algs)| {
            let row: Vec<&'static dyn SignatureVerificationAlgorithm> =
                algs.iter().map(|a| swap(*a)).collect();
            let row: &'static [&'static dyn SignatureVerificationAlgorithm] =
                Box::leak(row.into_boxed_slice());
            (*scheme, row)
        })
        .collect();
    WebPkiSupportedAlgorithms {
        all: Box::leak(all.into_boxed_slice()),
        mapping: Box::leak(mapping.into_boxed_slice()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer as _;

    #[test]
    fn p256_verifies_own_signature_and_rejects_tampering() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).unwrap();
        let public = sk.verifying_key().to_encoded_point(false);
        let sig: p256::ecdsa::Signature = sk.sign(b"message");
        let der = sig.to_der();
        ECDSA_P256_SHA256
            .verify_signature(public.as_bytes(), b"message", der.as_bytes())
            .unwrap();
        assert!(ECDSA_P256_SHA256
            .verify_signature(public.as_bytes(), b"messagf", der.as_bytes())
            .is_err());
        // Signed with SHA-256, so SHA-384 must not verify it.
        assert!(ECDSA_P256_SHA384
            .verify_signature(public.as_bytes(), b"message", der.as_bytes())
            .is_err());
        assert!(ECDSA_P256_SHA256
            .verify_signature(&[4, 1, 2], b"message", der.as_bytes())
            .is_err());
        assert!(ECDSA_P256_SHA256
            .verify_signature(public.as_bytes(), b"message", &[0x30, 0])
            .is_err());
    }

    #[test]
    fn tables_for_another_p256_keep_every_scheme_and_no_default_p256_algorithm() {
        static OTHER: super::super::seam::RustCryptoP256 = super::super::seam::RustCryptoP256;
        let t = sig_algs_with(&OTHER);
        assert_eq!(t.all.len(), SUPPORTED_SIG_ALGS.all.len());
        assert_eq!(t.mapping.len(), SUPPORTED_SIG_ALGS.mapping.len());
        assert_eq!(
            t.supported_schemes(),
            SUPPORTED_SIG_ALGS.supported_schemes()
        );
        let rows = t.mapping.iter().flat_map(|(_, row)| row.iter());
        for alg in t.all.iter().chain(rows) {
            assert!(!core::ptr::addr_eq(*alg, &ECDSA_P256_SHA256));
            assert!(!core::ptr::addr_eq(*alg, &ECDSA_P256_SHA384));
        }
    }

    #[test]
    fn every_mapped_algorithm_is_also_accepted_on_certificates() {
        for (_, algs) in SUPPORTED_SIG_ALGS.mapping {
            for alg in *algs {
                assert!(SUPPORTED_SIG_ALGS
                    .all
                    .iter()
                    .any(|a| a.signature_alg_id() == alg.signature_alg_id()
                        && a.public_key_alg_id() == alg.public_key_alg_id()));
            }
        }
        assert_eq!(
            SUPPORTED_SIG_ALGS.supported_schemes().first(),
            Some(&SignatureScheme::ECDSA_NISTP256_SHA256)
        );
    }
}
