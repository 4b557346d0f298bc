//! Client authentication signing for CertificateVerify (RFC 8446 §4.4.3, RFC 5246 §7.4.8):
//! ECDSA P-256 / SHA-256, ECDSA P-384 / SHA-384 (feature `p384`) and RSA (feature `rsa-sign`):
//! RSASSA-PSS `rsa_pss_rsae_sha256/384/512` in either TLS version, and PKCS#1 v1.5
//! `rsa_pkcs1_sha256/384/512` where the offer allows it (rustls leaves PKCS#1 v1.5 out of a TLS
//! 1.3 offer, as RFC 8446 §4.2.3 forbids it there). Three ways in: [`InlineSigningKey`] signs
//! with a slot's inline key, [`P256KeyProvider`] loads an in-memory P-256 key for rustls, and
//! [`HalSigningKey`] signs through the platform's [`crate::hal::KeyStore`], so the key may stay
//! in a secure element. RSA signatures draw their PSS salt and blinding from the supplicant's
//! RNG (the provider's `SecureRandom`), never from the operating system.

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

use crate::certs::{InlineKey, KeyAlgorithm};
use crate::hal;

/// The P-256 scheme.
const SCHEME: SignatureScheme = SignatureScheme::ECDSA_NISTP256_SHA256;

/// The schemes an RSA key signs with, most preferred first: PSS (the only RSA form TLS 1.3
/// allows, and the stronger one in TLS 1.2), then PKCS#1 v1.5 for TLS 1.2 servers that offer
/// nothing else.
pub const RSA_SCHEMES: [SignatureScheme; 6] = [
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];

/// The schemes a key of `alg` can make, most preferred first.
pub fn schemes_for(alg: KeyAlgorithm) -> &'static [SignatureScheme] {
    match alg {
        KeyAlgorithm::P256 => &[SignatureScheme::ECDSA_NISTP256_SHA256],
        KeyAlgorithm::P384 => &[SignatureScheme::ECDSA_NISTP384_SHA384],
        KeyAlgorithm::Rsa => &RSA_SCHEMES,
        _ => &[],
    }
}

/// The first scheme of ours (in preference order) the peer offered.
fn pick(ours: &[SignatureScheme], offered: &[SignatureScheme]) -> Option<SignatureScheme> {
    ours.iter().copied().find(|s| offered.contains(s))
}

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

/// A slot's inline key as a rustls `SigningKey` (ECDSA P-256, P-384 or RSA).
pub struct InlineSigningKey {
    key: InlineKey,
    rng: Option<&'static dyn rustls::crypto::SecureRandom>,
    p256: &'static dyn hal::P256,
}

impl InlineSigningKey {
    /// Signs with `key`; RSA signatures draw their randomness from `rng` (without it an RSA
    /// key offers no scheme). P-256 signatures are made by RustCrypto's P-256.
    pub fn new(key: InlineKey, rng: Option<&'static dyn rustls::crypto::SecureRandom>) -> Self {
        Self {
            key,
            rng,
            p256: &super::seam::RUSTCRYPTO_P256,
        }
    }

    /// P-256 signatures made by `p256` instead.
    pub fn with_p256(mut self, p256: &'static dyn hal::P256) -> Self {
        self.p256 = p256;
        self
    }

    /// The scheme this key would sign with given the peer's offer, if any.
    pub fn scheme_for(&self, offered: &[SignatureScheme]) -> Option<SignatureScheme> {
        if self.key.algorithm() == KeyAlgorithm::Rsa && self.rng.is_none() {
            return None;
        }
        pick(schemes_for(self.key.algorithm()), offered)
    }
}

impl fmt::Debug for InlineSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InlineSigningKey({})", self.key.algorithm())
    }
}

impl SigningKey for InlineSigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let scheme = self.scheme_for(offered)?;
        Some(Box::new(InlineSigner {
            key: self.key.clone(),
            scheme,
            rng: self.rng,
            p256: self.p256,
        }))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match self.key.algorithm() {
            KeyAlgorithm::Rsa => SignatureAlgorithm::RSA,
            _ => SignatureAlgorithm::ECDSA,
        }
    }
}

struct InlineSigner {
    key: InlineKey,
    scheme: SignatureScheme,
    #[cfg_attr(not(feature = "rsa-sign"), allow(dead_code))]
    rng: Option<&'static dyn rustls::crypto::SecureRandom>,
    p256: &'static dyn hal::P256,
}

impl fmt::Debug for InlineSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The IANA number, not rustls' Debug name: rustls reaches this through the `Signer`
        // vtable, so a name table here is linked into every image (336 B on thumbv7em).
        write!(f, "InlineSigner(scheme {})", u16::from(self.scheme))
    }
}

/// ECDSA P-256 / SHA-256 with the bare scalar, through `p256` (no public-key derivation),
/// DER encoded as TLS carries it.
fn ecdsa_p256_sign(
    p256: &dyn hal::P256,
    scalar: &[u8; 32],
    message: &[u8],
) -> Result<Vec<u8>, Error> {
    super::seam::sign_der(p256, scalar, message)
        .map(|sig| sig.as_bytes().to_vec())
        .map_err(|e| Error::General(String::from(e.as_str())))
}

/// ECDSA P-384 / SHA-384 with RFC 6979 nonces from the bare scalar, DER encoded.
#[cfg(feature = "p384")]
fn ecdsa_p384_sign(scalar: &[u8; 48], message: &[u8]) -> Result<Vec<u8>, Error> {
    use ecdsa::hazmat::SignPrimitive;
    use sha2::Digest;
    fn failed<E>(_: E) -> Error {
        Error::General(String::from("ECDSA P-384 signing failed"))
    }
    let secret = p384::SecretKey::from_slice(scalar).map_err(failed)?;
    let digest = sha2::Sha384::digest(message);
    let z = ecdsa::hazmat::bits2field::<p384::NistP384>(&digest).map_err(failed)?;
    let scalar = zeroize::Zeroizing::new(secret.to_nonzero_scalar());
    let (sig, _) = scalar
        .as_ref()
        .try_sign_prehashed_rfc6979::<sha2::Sha384>(&z, &[])
        .map_err(failed)?;
    Ok(sig.to_der().as_bytes().to_vec())
}

impl Signer for InlineSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        use crate::certs::key::Secret;
        match self.key.secret() {
            Secret::P256(s) => ecdsa_p256_sign(self.p256, s, message),
            #[cfg(feature = "p384")]
            Secret::P384(s) => ecdsa_p384_sign(s, message),
            #[cfg(feature = "rsa-sign")]
            Secret::Rsa(k) => {
                let rng = self
                    .rng
                    .ok_or_else(|| Error::General(String::from("no RNG for RSA signing")))?;
                rsa_sign(k, self.scheme, message, rng)
            }
        }
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// The supplicant's RNG as a `rand_core` generator for the `rsa` crate. `fill_bytes` cannot
/// fail, so a failure of the platform RNG is remembered and the signature made with it is
/// thrown away ([`rsa_sign`]).
#[cfg(feature = "rsa-sign")]
struct TlsRng<'a> {
    src: &'a dyn rustls::crypto::SecureRandom,
    failed: bool,
}

#[cfg(feature = "rsa-sign")]
impl rand_core::RngCore for TlsRng<'_> {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if self.src.fill(dest).is_err() {
            self.failed = true;
            dest.fill(0);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

#[cfg(feature = "rsa-sign")]
impl rand_core::CryptoRng for TlsRng<'_> {}

/// RSASSA-PSS (salt as long as the hash, as RFC 8446 §4.2.3 requires) or PKCS#1 v1.5, blinded
/// with randomness from `rng`.
#[cfg(feature = "rsa-sign")]
fn rsa_sign(
    key: &rsa::RsaPrivateKey,
    scheme: SignatureScheme,
    message: &[u8],
    rng: &dyn rustls::crypto::SecureRandom,
) -> Result<Vec<u8>, Error> {
    use rsa::{Pkcs1v15Sign, Pss};
    use sha2::{Digest, Sha256, Sha384, Sha512};
    let mut rng = TlsRng {
        src: rng,
        failed: false,
    };
    let signed = match scheme {
        SignatureScheme::RSA_PSS_SHA256 => {
            key.sign_with_rng(&mut rng, Pss::new::<Sha256>(), &Sha256::digest(message))
        }
        SignatureScheme::RSA_PSS_SHA384 => {
            key.sign_with_rng(&mut rng, Pss::new::<Sha384>(), &Sha384::digest(message))
        }
        SignatureScheme::RSA_PSS_SHA512 => {
            key.sign_with_rng(&mut rng, Pss::new::<Sha512>(), &Sha512::digest(message))
        }
        SignatureScheme::RSA_PKCS1_SHA256 => key.sign_with_rng(
            &mut rng,
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(message),
        ),
        SignatureScheme::RSA_PKCS1_SHA384 => key.sign_with_rng(
            &mut rng,
            Pkcs1v15Sign::new::<Sha384>(),
            &Sha384::digest(message),
        ),
        SignatureScheme::RSA_PKCS1_SHA512 => key.sign_with_rng(
            &mut rng,
            Pkcs1v15Sign::new::<Sha512>(),
            &Sha512::digest(message),
        ),
        _ => return Err(Error::General(String::from("not an RSA signature scheme"))),
    };
    if rng.failed {
        return Err(Error::FailedToGetRandomBytes);
    }
    signed.map_err(|_| Error::General(String::from("RSA signing failed")))
}

#[cfg(feature = "key-store")]
/// A key held by the platform's [`hal::KeyStore`] (secure element, TPM), as a rustls
/// `SigningKey`: every signature is made by the store, under the slot's key handle, with the
/// first of our preferred schemes that the server offered and the store supports.
pub struct HalSigningKey {
    store: Arc<dyn hal::KeyStore>,
    handle: u32,
}

#[cfg(feature = "key-store")]
impl HalSigningKey {
    /// The key behind `handle` in `store`.
    pub fn new(store: Arc<dyn hal::KeyStore>, handle: u32) -> Self {
        Self { store, handle }
    }

    /// The scheme the store would sign with given the peer's offer, if any.
    pub fn scheme_for(&self, offered: &[SignatureScheme]) -> Option<SignatureScheme> {
        const PREFERENCE: [SignatureScheme; 8] = [
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
            RSA_SCHEMES[0],
            RSA_SCHEMES[1],
            RSA_SCHEMES[2],
            RSA_SCHEMES[3],
            RSA_SCHEMES[4],
            RSA_SCHEMES[5],
        ];
        PREFERENCE.iter().copied().find(|s| {
            offered.contains(s)
                && self
                    .store
                    .supports(self.handle, crate::certs::SignatureScheme(u16::from(*s)))
        })
    }
}

#[cfg(feature = "key-store")]
impl fmt::Debug for HalSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HalSigningKey(handle {})", self.handle)
    }
}

#[cfg(feature = "key-store")]
impl SigningKey for HalSigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let scheme = self.scheme_for(offered)?;
        Some(Box::new(HalSigner {
            store: Arc::clone(&self.store),
            handle: self.handle,
            scheme,
        }))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        // rustls asks only to label the key; the scheme chosen above is what counts.
        SignatureAlgorithm::ECDSA
    }
}

#[cfg(feature = "key-store")]
struct HalSigner {
    store: Arc<dyn hal::KeyStore>,
    handle: u32,
    scheme: SignatureScheme,
}

#[cfg(feature = "key-store")]
impl fmt::Debug for HalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HalSigner(handle {}, {:?})", self.handle, self.scheme)
    }
}

/// The text rustls carries for a key-store failure; the engine maps it back to
/// `key-unavailable` (see `tls::engine`).
pub(crate) const KEY_UNAVAILABLE: &str = "client key unavailable";

#[cfg(feature = "key-store")]
impl Signer for HalSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = alloc::vec![0u8; hal::MAX_SIGNATURE_LEN];
        let scheme = crate::certs::SignatureScheme(u16::from(self.scheme));
        let len = self
            .store
            .sign(self.handle, scheme, message, &mut out)
            .map_err(|e| match e {
                hal::SignError::KeyUnavailable => Error::General(String::from(KEY_UNAVAILABLE)),
                other => Error::General(alloc::format!("{other}")),
            })?;
        out.truncate(len);
        if out.len() != len {
            return Err(Error::General(String::from(
                "client key signer reported a length beyond its buffer",
            )));
        }
        Ok(out)
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
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

    #[cfg(feature = "key-store")]
    /// A key store holding one P-256 key under handle 7.
    struct Hal(Option<p256::ecdsa::SigningKey>);

    #[cfg(feature = "key-store")]
    impl hal::KeyStore for Hal {
        fn has_key(&self, handle: u32) -> bool {
            handle == 7 && self.0.is_some()
        }

        fn supports(&self, handle: u32, scheme: crate::certs::SignatureScheme) -> bool {
            self.has_key(handle) && scheme == crate::certs::SignatureScheme::ECDSA_NISTP256_SHA256
        }

        fn sign(
            &self,
            handle: u32,
            scheme: crate::certs::SignatureScheme,
            message: &[u8],
            out: &mut [u8],
        ) -> Result<usize, hal::SignError> {
            if !self.has_key(handle) {
                return Err(hal::SignError::KeyUnavailable);
            }
            if scheme != crate::certs::SignatureScheme::ECDSA_NISTP256_SHA256 {
                return Err(hal::SignError::UnsupportedScheme);
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

    #[cfg(feature = "key-store")]
    #[test]
    fn hal_signer_adapter_signs_and_maps_errors() {
        let s = secret();
        let store: Arc<dyn hal::KeyStore> = Arc::new(Hal(Some(p256::ecdsa::SigningKey::from(&s))));
        let key = HalSigningKey::new(store.clone(), 7);
        assert!(key.choose_scheme(&[SignatureScheme::ED25519]).is_none());
        // The store reports P-256 only: an RSA-only offer finds nothing to sign with.
        assert!(key.choose_scheme(&RSA_SCHEMES).is_none());
        let signer = key.choose_scheme(&[SCHEME]).unwrap();
        verify(&s, b"msg", &signer.sign(b"msg").unwrap());

        // A key that disappears between the offer and the signature is `key-unavailable`.
        let gone = HalSigner {
            store,
            handle: 8,
            scheme: SCHEME,
        };
        assert_eq!(
            gone.sign(b"msg").unwrap_err(),
            Error::General(String::from(KEY_UNAVAILABLE))
        );
    }

    /// Randomness from the operating system, standing in for the supplicant's RNG.
    #[derive(Debug)]
    struct TestRandom;

    impl rustls::crypto::SecureRandom for TestRandom {
        fn fill(&self, buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
            use rand_core::RngCore;
            rand_core::OsRng.fill_bytes(buf);
            Ok(())
        }
    }

    /// An RNG that always fails.
    #[derive(Debug)]
    struct BrokenRandom;

    impl rustls::crypto::SecureRandom for BrokenRandom {
        fn fill(&self, _: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
            Err(rustls::crypto::GetRandomFailed)
        }
    }

    static TEST_RANDOM: TestRandom = TestRandom;
    static BROKEN_RANDOM: BrokenRandom = BrokenRandom;

    #[cfg(all(feature = "p384", feature = "rsa-sign"))]
    fn data(name: &str) -> Vec<u8> {
        extern crate std;
        std::fs::read(alloc::format!(
            "{}/tests/data/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// What a TLS 1.3 server typically offers once rustls has dropped the schemes TLS 1.3
    /// forbids in CertificateVerify (RFC 8446 §4.2.3: PKCS#1 v1.5, SHA-1), as it does before
    /// asking for a client key.
    fn tls13_offer() -> Vec<SignatureScheme> {
        alloc::vec![
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureScheme::RSA_PSS_SHA384,
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::ED25519,
        ]
    }

    #[test]
    #[cfg(all(feature = "p384", feature = "rsa-sign"))]
    fn p384_inline_key_signs_sha384_and_verifies() {
        use p384::ecdsa::signature::Verifier as _;
        let der = data("p384-key.sec1.der");
        let key = InlineSigningKey::new(InlineKey::from_sec1_der(&der).unwrap(), None);
        assert_eq!(key.algorithm(), SignatureAlgorithm::ECDSA);
        assert!(key.choose_scheme(&[SCHEME]).is_none());
        let signer = key.choose_scheme(&tls13_offer()).unwrap();
        assert_eq!(signer.scheme(), SignatureScheme::ECDSA_NISTP384_SHA384);
        let sig = signer.sign(b"certificate verify").unwrap();
        let secret = p384::SecretKey::from_sec1_der(&der).unwrap();
        let vk = p384::ecdsa::VerifyingKey::from(secret.public_key());
        let sig = p384::ecdsa::Signature::from_der(&sig).unwrap();
        vk.verify(b"certificate verify", &sig).unwrap();
        assert!(vk.verify(b"something else", &sig).is_err());
    }

    #[test]
    #[cfg(all(feature = "p384", feature = "rsa-sign"))]
    fn rsa_inline_key_signs_every_scheme_and_each_verifies() {
        use rsa::pkcs8::DecodePrivateKey as _;
        use rsa::{Pkcs1v15Sign, Pss};
        use sha2::{Digest, Sha256, Sha384, Sha512};
        let der = data("rsa2048-key.pkcs8.der");
        let public = rsa::RsaPrivateKey::from_pkcs8_der(&der)
            .unwrap()
            .to_public_key();
        let key =
            InlineSigningKey::new(InlineKey::from_pkcs8_der(&der).unwrap(), Some(&TEST_RANDOM));
        assert_eq!(key.algorithm(), SignatureAlgorithm::RSA);
        let msg = b"transcript";
        for scheme in RSA_SCHEMES {
            let signer = key.choose_scheme(&[scheme]).unwrap();
            assert_eq!(signer.scheme(), scheme);
            let sig = signer.sign(msg).unwrap();
            assert_eq!(sig.len(), 256);
            let verified = match scheme {
                SignatureScheme::RSA_PSS_SHA256 => {
                    public.verify(Pss::new::<Sha256>(), &Sha256::digest(msg), &sig)
                }
                SignatureScheme::RSA_PSS_SHA384 => {
                    public.verify(Pss::new::<Sha384>(), &Sha384::digest(msg), &sig)
                }
                SignatureScheme::RSA_PSS_SHA512 => {
                    public.verify(Pss::new::<Sha512>(), &Sha512::digest(msg), &sig)
                }
                SignatureScheme::RSA_PKCS1_SHA256 => {
                    public.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg), &sig)
                }
                SignatureScheme::RSA_PKCS1_SHA384 => {
                    public.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(msg), &sig)
                }
                _ => public.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(msg), &sig),
            };
            verified.unwrap_or_else(|e| panic!("{scheme:?}: {e}"));
            // The wrong padding does not verify: the scheme really is the one announced.
            let other = if scheme == SignatureScheme::RSA_PSS_SHA256 {
                public.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg), &sig)
            } else {
                public.verify(Pss::new::<Sha256>(), &Sha256::digest(msg), &sig)
            };
            assert!(other.is_err(), "{scheme:?}");
        }
        // PSS salts come from the RNG: two signatures of one message differ.
        let pss = key
            .choose_scheme(&[SignatureScheme::RSA_PSS_SHA256])
            .unwrap();
        assert_ne!(pss.sign(msg).unwrap(), pss.sign(msg).unwrap());
    }

    #[test]
    #[cfg(all(feature = "p384", feature = "rsa-sign"))]
    fn rsa_scheme_follows_the_tls_version_offer() {
        let key = InlineSigningKey::new(
            InlineKey::from_pkcs1_der(&data("rsa2048-key.pkcs1.der")).unwrap(),
            Some(&TEST_RANDOM),
        );
        // TLS 1.3: PKCS#1 v1.5 is never chosen, PSS is.
        let offer = tls13_offer();
        assert!(!offer.contains(&SignatureScheme::RSA_PKCS1_SHA256));
        assert_eq!(
            key.scheme_for(&offer),
            Some(SignatureScheme::RSA_PSS_SHA256)
        );
        // TLS 1.2: PSS preferred when offered, PKCS#1 v1.5 when it is all the server takes.
        let tls12 = [
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::RSA_PSS_SHA384,
        ];
        assert_eq!(
            key.scheme_for(&tls12),
            Some(SignatureScheme::RSA_PSS_SHA384)
        );
        let pkcs1_only = [
            SignatureScheme::RSA_PKCS1_SHA384,
            SignatureScheme::RSA_PKCS1_SHA256,
        ];
        assert_eq!(
            key.scheme_for(&pkcs1_only),
            Some(SignatureScheme::RSA_PKCS1_SHA256)
        );
        assert_eq!(
            key.scheme_for(&[SignatureScheme::ECDSA_NISTP256_SHA256]),
            None
        );
        // Without the supplicant's RNG there is no RSA signature at all.
        let no_rng = InlineSigningKey::new(
            InlineKey::from_pkcs1_der(&data("rsa2048-key.pkcs1.der")).unwrap(),
            None,
        );
        assert!(no_rng.choose_scheme(&offer).is_none());
    }

    #[test]
    #[cfg(all(feature = "p384", feature = "rsa-sign"))]
    fn rsa_signature_fails_when_the_rng_fails() {
        let key = InlineSigningKey::new(
            InlineKey::from_pkcs1_der(&data("rsa2048-key.pkcs1.der")).unwrap(),
            Some(&BROKEN_RANDOM),
        );
        for scheme in [
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PKCS1_SHA256,
        ] {
            let signer = key.choose_scheme(&[scheme]).unwrap();
            assert_eq!(
                signer.sign(b"m").unwrap_err(),
                Error::FailedToGetRandomBytes
            );
        }
    }

    #[test]
    fn inline_p256_key_matches_the_scalar_signer() {
        let s = secret();
        let key = InlineSigningKey::new(InlineKey::from_sec1_der(SEC1).unwrap(), None);
        let signer = key.choose_scheme(&tls13_offer()).unwrap();
        assert_eq!(signer.scheme(), SCHEME);
        let reference = EcdsaP256SigningKey::new(&s)
            .choose_scheme(&[SCHEME])
            .unwrap();
        assert_eq!(signer.sign(b"m").unwrap(), reference.sign(b"m").unwrap());
    }
}
