//! Client authentication signing: ECDSA P-256 with SHA-256 only (TLS `ecdsa_secp256r1_sha256`).
//! Two ways in: [`P256KeyProvider`] loads an in-memory key (PKCS#8 or SEC1), and
//! [`HalSigningKey`] signs through the platform's [`crate::hal::KeyStore`], so the key may stay in a secure element.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::pkcs8::DecodePrivateKey;
use rustls::crypto::KeyProvider;
use rustls::pki_types::{alg_id, PrivateKeyDer, SubjectPublicKeyInfoDer};
use rustls::sign::{Signer, SigningKey};
use rustls::{Error, SignatureAlgorithm, SignatureScheme};
use zeroize::Zeroize;

use crate::hal;

/// The one scheme we sign with.
const SCHEME: SignatureScheme = SignatureScheme::ECDSA_NISTP256_SHA256;
/// Longest DER ECDSA P-256 signature: SEQUENCE(2) + 2 × INTEGER(2 + 33).
const MAX_P256_DER_SIG_LEN: usize = 72;

/// Returns `Some(())` only when the peer offered `ecdsa_secp256r1_sha256`.
fn offered_p256(offered: &[SignatureScheme]) -> Option<()> {
    offered.contains(&SCHEME).then_some(())
}

/// Loads P-256 private keys for rustls (`CryptoProvider::key_provider`).
///
/// Accepts PKCS#8 and SEC1 DER; anything else (RSA, other curves) is refused. The DER bytes
/// handed in are zeroized once parsed, and the parsed key zeroizes itself on drop.
#[derive(Debug)]
pub struct P256KeyProvider;

/// The key provider [`super::provider`] installs.
pub static KEY_PROVIDER: P256KeyProvider = P256KeyProvider;

impl KeyProvider for P256KeyProvider {
    fn load_private_key(
        &self,
        mut key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, Error> {
        let parsed = match &key_der {
            PrivateKeyDer::Pkcs8(der) => {
                p256::SecretKey::from_pkcs8_der(der.secret_pkcs8_der()).ok()
            }
            PrivateKeyDer::Sec1(der) => p256::SecretKey::from_sec1_der(der.secret_sec1_der()).ok(),
            _ => None,
        };
        key_der.zeroize();
        let secret = parsed.ok_or_else(|| {
            Error::General(String::from(
                "private key is not an ECDSA P-256 key in PKCS#8 or SEC1 form",
            ))
        })?;
        Ok(Arc::new(EcdsaP256SigningKey::new(&secret)))
    }
}

/// An in-memory ECDSA P-256 key (RFC 6979 deterministic signatures).
///
/// It keeps only the secret scalar: the public key (a scalar multiplication, as costly as an
/// ECDHE key generation) is derived only if rustls asks for it, which a handshake does not.
pub struct EcdsaP256SigningKey {
    key: Arc<p256::SecretKey>,
}

impl EcdsaP256SigningKey {
    /// Wraps a parsed P-256 secret key.
    pub fn new(secret: &p256::SecretKey) -> Self {
        Self {
            key: Arc::new(secret.clone()),
        }
    }
}

impl fmt::Debug for EcdsaP256SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcdsaP256SigningKey")
    }
}

impl SigningKey for EcdsaP256SigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered_p256(offered)?;
        Some(Box::new(EcdsaP256Signer {
            key: Arc::clone(&self.key),
        }))
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        // Lets rustls check that the certificate matches the key (`CertifiedKey::keys_match`).
        let point = self.key.public_key().to_encoded_point(false);
        Some(rustls::sign::public_key_to_spki(
            &alg_id::ECDSA_P256,
            point.as_bytes(),
        ))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

struct EcdsaP256Signer {
    key: Arc<p256::SecretKey>,
}

impl fmt::Debug for EcdsaP256Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcdsaP256Signer")
    }
}

impl Signer for EcdsaP256Signer {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        use ecdsa::hazmat::SignPrimitive;
        use sha2::Digest;
        let failed = |_| Error::General(String::from("ECDSA P-256 signing failed"));
        let digest = sha2::Sha256::digest(message);
        let z = ecdsa::hazmat::bits2field::<p256::NistP256>(&digest).map_err(failed)?;
        let scalar = zeroize::Zeroizing::new(self.key.to_nonzero_scalar());
        let (sig, _) = scalar
            .as_ref()
            .try_sign_prehashed_rfc6979::<sha2::Sha256>(&z, &[])
            .map_err(failed)?;
        Ok(sig.to_der().as_bytes().to_vec())
    }

    fn scheme(&self) -> SignatureScheme {
        SCHEME
    }
}

/// A key held by the platform's [`hal::KeyStore`] (secure element, TPM), as a rustls
/// `SigningKey`: every signature is made by the store, under the slot's key handle.
pub struct HalSigningKey {
    store: Arc<dyn hal::KeyStore>,
    handle: u32,
}

impl HalSigningKey {
    /// The key behind `handle` in `store`.
    pub fn new(store: Arc<dyn hal::KeyStore>, handle: u32) -> Self {
        Self { store, handle }
    }
}

impl fmt::Debug for HalSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HalSigningKey(handle {})", self.handle)
    }
}

impl SigningKey for HalSigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered_p256(offered)?;
        Some(Box::new(HalSigner {
            store: Arc::clone(&self.store),
            handle: self.handle,
        }))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

struct HalSigner {
    store: Arc<dyn hal::KeyStore>,
    handle: u32,
}

impl fmt::Debug for HalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HalSigner(handle {})", self.handle)
    }
}

/// The text rustls carries for a key-store failure; the engine maps it back to
/// `key-unavailable` (see `tls::engine`).
pub(crate) const KEY_UNAVAILABLE: &str = "client key unavailable";

impl Signer for HalSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = [0u8; MAX_P256_DER_SIG_LEN];
        let len = self
            .store
            .sign_ecdsa_p256_sha256(self.handle, message, &mut out)
            .map_err(|e| match e {
                hal::SignError::KeyUnavailable => Error::General(String::from(KEY_UNAVAILABLE)),
                other => Error::General(alloc::format!("{other}")),
            })?;
        out.get(..len).map(<[u8]>::to_vec).ok_or_else(|| {
            Error::General(String::from(
                "client key signer reported a length beyond its buffer",
            ))
        })
    }

    fn scheme(&self) -> SignatureScheme {
        SCHEME
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::signature::Verifier as _;
    use rustls::pki_types::{PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};

    const SEC1: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/p256-key.sec1.der"
    ));
    const PKCS8: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/p256-key.pkcs8.der"
    ));

    fn secret() -> p256::SecretKey {
        p256::SecretKey::from_sec1_der(SEC1).unwrap()
    }

    fn verify(secret: &p256::SecretKey, msg: &[u8], der: &[u8]) {
        let vk = p256::ecdsa::VerifyingKey::from(secret.public_key());
        let sig = p256::ecdsa::Signature::from_der(der).unwrap();
        vk.verify(msg, &sig).unwrap();
    }

    #[test]
    fn loads_pkcs8_and_sec1_and_signs_only_when_p256_offered() {
        let s = secret();
        let (pkcs8, sec1) = (PKCS8.to_vec(), SEC1.to_vec());
        for der in [
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8)),
            PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(sec1)),
        ] {
            let key = KEY_PROVIDER.load_private_key(der).unwrap();
            assert_eq!(key.algorithm(), SignatureAlgorithm::ECDSA);
            assert!(key.public_key().is_some());
            assert!(key
                .choose_scheme(&[
                    SignatureScheme::RSA_PSS_SHA256,
                    SignatureScheme::ECDSA_NISTP384_SHA384
                ])
                .is_none());
            let signer = key
                .choose_scheme(&[SignatureScheme::RSA_PSS_SHA256, SCHEME])
                .unwrap();
            assert_eq!(signer.scheme(), SCHEME);
            verify(&s, b"to be signed", &signer.sign(b"to be signed").unwrap());
        }
    }

    #[test]
    fn scalar_signing_matches_rfc6979_signing_key_byte_for_byte() {
        // Signing with the bare scalar must be exactly what p256's SigningKey produces (RFC 6979
        // makes both deterministic), without its public-key derivation.
        let s = p256::SecretKey::from_sec1_der(SEC1).unwrap();
        let reference = p256::ecdsa::SigningKey::from(&s);
        let key = EcdsaP256SigningKey::new(&s);
        let signer = key.choose_scheme(&[SCHEME]).unwrap();
        for message in [&b""[..], b"to be signed", &[0xa5; 1000]] {
            let expected: p256::ecdsa::Signature = reference.sign(message);
            assert_eq!(
                signer.sign(message).unwrap(),
                expected.to_der().as_bytes().to_vec()
            );
        }
    }

    #[test]
    fn non_p256_keys_are_refused() {
        let rsa = PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(alloc::vec![0x30, 0x00]));
        assert!(matches!(
            KEY_PROVIDER.load_private_key(rsa),
            Err(Error::General(_))
        ));
        let junk = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(alloc::vec![1, 2, 3]));
        assert!(KEY_PROVIDER.load_private_key(junk).is_err());
    }

    /// A key store holding one P-256 key under handle 7.
    struct Hal(Option<p256::ecdsa::SigningKey>);

    impl hal::KeyStore for Hal {
        fn has_key(&self, handle: u32) -> bool {
            handle == 7 && self.0.is_some()
        }

        fn sign_ecdsa_p256_sha256(
            &self,
            handle: u32,
            message: &[u8],
            out: &mut [u8],
        ) -> Result<usize, hal::SignError> {
            if !self.has_key(handle) {
                return Err(hal::SignError::KeyUnavailable);
            }
            let key = self.0.as_ref().ok_or(hal::SignError::KeyUnavailable)?;
            let sig: p256::ecdsa::Signature = key.sign(message);
            let der = sig.to_der();
            let out = out
                .get_mut(..der.len())
                .ok_or(hal::SignError::BufferTooSmall)?;
            out.copy_from_slice(der.as_bytes());
            Ok(der.len())
        }
    }

    #[test]
    fn hal_signer_adapter_signs_and_maps_errors() {
        let s = secret();
        let store: Arc<dyn hal::KeyStore> = Arc::new(Hal(Some(p256::ecdsa::SigningKey::from(&s))));
        let key = HalSigningKey::new(store.clone(), 7);
        assert!(key.choose_scheme(&[SignatureScheme::ED25519]).is_none());
        let signer = key.choose_scheme(&[SCHEME]).unwrap();
        verify(&s, b"msg", &signer.sign(b"msg").unwrap());

        let missing = HalSigningKey::new(store, 8);
        let err = missing
            .choose_scheme(&[SCHEME])
            .unwrap()
            .sign(b"msg")
            .unwrap_err();
        assert_eq!(err, Error::General(String::from(KEY_UNAVAILABLE)));
    }
}
