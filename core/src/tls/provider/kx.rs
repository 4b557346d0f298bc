//! The key-exchange groups Latchkey offers: ECDHE over secp256r1 (RFC 8446 §4.2.8.2, RFC 8422
//! §5.11) and, behind feature `x25519`, X25519 (RFC 7748, RFC 8446 §7.4.2). Ephemeral private
//! keys zeroize themselves on drop; the shared secret is handed to rustls in its zeroizing
//! `SharedSecret`.

use alloc::boxed::Box;
use core::fmt;

use rustls::crypto::{ActiveKeyExchange, SecureRandom, SharedSecret, SupportedKxGroup};
use rustls::{Error, NamedGroup, PeerMisbehaved};
use zeroize::Zeroizing;

use crate::hal;

/// Uncompressed SEC1 point: 0x04 || X || Y. TLS allows no other form (RFC 8446 §4.2.8.2).
const UNCOMPRESSED_LEN: usize = 65;
/// A uniformly drawn 256-bit value is a valid P-256 scalar except with probability ~2^-32;
/// after this many rejections the RNG is broken, not unlucky.
const MAX_DRAWS: usize = 8;

/// The secp256r1 group. It draws its ephemeral keys from the RNG it was built with and does
/// the curve arithmetic through a [`hal::P256`] (by default RustCrypto's).
pub struct Secp256r1 {
    rng: &'static dyn SecureRandom,
    p256: &'static dyn hal::P256,
}

impl Secp256r1 {
    /// A secp256r1 group drawing from `rng`, with RustCrypto's P-256; usable in a `static`
    /// initialiser.
    #[cfg_attr(not(any(test, feature = "internals")), allow(dead_code))]
    pub const fn new(rng: &'static dyn SecureRandom) -> Self {
        Self::with_p256(rng, &super::seam::RUSTCRYPTO_P256)
    }

    /// A secp256r1 group drawing from `rng` whose arithmetic `p256` does.
    pub const fn with_p256(rng: &'static dyn SecureRandom, p256: &'static dyn hal::P256) -> Self {
        Self { rng, p256 }
    }
}

impl fmt::Debug for Secp256r1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secp256r1")
    }
}

impl SupportedKxGroup for Secp256r1 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        // Drawn in place on the heap, so no copy of the scalar is left on the stack.
        let mut kx = Box::new(P256KeyExchange {
            secret: Zeroizing::new([0u8; 32]),
            pub_key: [0u8; UNCOMPRESSED_LEN],
            p256: self.p256,
        });
        for _ in 0..MAX_DRAWS {
            self.rng
                .fill(kx.secret.as_mut())
                .map_err(|_| Error::FailedToGetRandomBytes)?;
            // Rejects 0 and values >= n; no modular bias.
            match self.p256.public_key(&kx.secret, &mut kx.pub_key) {
                Ok(()) => return Ok(kx),
                Err(hal::P256Error::InvalidScalar) => continue,
                Err(e) => return Err(p256_failed(e)),
            }
        }
        Err(Error::FailedToGetRandomBytes)
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::secp256r1
    }
}

/// A P-256 implementation's failure as the TLS engine's error (its text names the kind).
fn p256_failed(e: hal::P256Error) -> Error {
    Error::General(alloc::string::String::from(e.as_str()))
}

/// One ECDHE exchange in progress: our ephemeral scalar (zeroized on drop) and its public
/// point.
struct P256KeyExchange {
    secret: Zeroizing<[u8; 32]>,
    pub_key: [u8; UNCOMPRESSED_LEN],
    p256: &'static dyn hal::P256,
}

impl ActiveKeyExchange for P256KeyExchange {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, Error> {
        let peer: &[u8; UNCOMPRESSED_LEN] = match peer_pub_key.try_into() {
            Ok(p) if peer_pub_key.first() == Some(&0x04) => p,
            _ => return Err(PeerMisbehaved::InvalidKeyShare.into()),
        };
        let mut shared = Zeroizing::new([0u8; 32]);
        match self.p256.ecdh(&self.secret, peer, &mut shared) {
            Ok(()) => Ok(SharedSecret::from(shared.as_slice())),
            Err(hal::P256Error::InvalidPoint) => Err(PeerMisbehaved::InvalidKeyShare.into()),
            Err(e) => Err(p256_failed(e)),
        }
    }

    fn pub_key(&self) -> &[u8] {
        &self.pub_key
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::secp256r1
    }
}

/// The secp384r1 group (feature `p384`), offered last. Besides ECDHE with servers that insist
/// on it, listing it in supported_groups is what lets a TLS 1.2 server accept a P-384 client
/// certificate: RFC 8422 §5.1 has the client's supported_groups name the curves of its ECDSA
/// keys too, and OpenSSL-based servers refuse a client certificate on a curve the client did
/// not list (`illegal_parameter`).
#[cfg(feature = "p384")]
pub struct Secp384r1 {
    rng: &'static dyn SecureRandom,
}

#[cfg(feature = "p384")]
impl Secp384r1 {
    /// A secp384r1 group drawing from `rng`.
    pub const fn new(rng: &'static dyn SecureRandom) -> Self {
        Self { rng }
    }
}

#[cfg(feature = "p384")]
impl fmt::Debug for Secp384r1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secp384r1")
    }
}

#[cfg(feature = "p384")]
impl SupportedKxGroup for Secp384r1 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        use p384::elliptic_curve::sec1::ToEncodedPoint as _;
        let mut bytes = Zeroizing::new([0u8; 48]);
        for _ in 0..MAX_DRAWS {
            self.rng
                .fill(bytes.as_mut())
                .map_err(|_| Error::FailedToGetRandomBytes)?;
            // Rejects 0 and values >= n; no modular bias.
            if let Ok(secret) = p384::SecretKey::from_slice(bytes.as_ref()) {
                let pub_key = secret.public_key().to_encoded_point(false);
                return Ok(Box::new(P384KeyExchange { secret, pub_key }));
            }
        }
        Err(Error::FailedToGetRandomBytes)
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::secp384r1
    }
}

/// One secp384r1 ECDHE exchange in progress.
#[cfg(feature = "p384")]
struct P384KeyExchange {
    secret: p384::SecretKey,
    pub_key: p384::EncodedPoint,
}

#[cfg(feature = "p384")]
impl ActiveKeyExchange for P384KeyExchange {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, Error> {
        // Uncompressed only: 0x04 || X || Y, 97 bytes (RFC 8446 §4.2.8.2).
        if peer_pub_key.len() != 97 || peer_pub_key.first() != Some(&0x04) {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        let peer = p384::PublicKey::from_sec1_bytes(peer_pub_key)
            .map_err(|_| Error::from(PeerMisbehaved::InvalidKeyShare))?;
        let scalar = Zeroizing::new(self.secret.to_nonzero_scalar());
        let shared = p384::ecdh::diffie_hellman(&*scalar, peer.as_affine());
        Ok(SharedSecret::from(AsRef::<[u8]>::as_ref(
            shared.raw_secret_bytes(),
        )))
    }

    fn pub_key(&self) -> &[u8] {
        self.pub_key.as_bytes()
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::secp384r1
    }
}

/// The X25519 group (RFC 7748). It draws its ephemeral keys from the RNG it was built with.
#[cfg(feature = "x25519")]
pub struct X25519 {
    rng: &'static dyn SecureRandom,
}

#[cfg(feature = "x25519")]
impl X25519 {
    /// An X25519 group drawing from `rng`; usable in a `static` initialiser.
    pub const fn new(rng: &'static dyn SecureRandom) -> Self {
        Self { rng }
    }
}

#[cfg(feature = "x25519")]
impl fmt::Debug for X25519 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("X25519")
    }
}

#[cfg(feature = "x25519")]
impl SupportedKxGroup for X25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        self.rng
            .fill(bytes.as_mut())
            .map_err(|_| Error::FailedToGetRandomBytes)?;
        // Any 32 bytes are a private key: the scalar is clamped (RFC 7748 §5).
        let secret = x25519_dalek::StaticSecret::from(*bytes);
        let pub_key = x25519_dalek::PublicKey::from(&secret).to_bytes();
        Ok(Box::new(X25519KeyExchange { secret, pub_key }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// One X25519 exchange in progress: our ephemeral key (zeroized on drop) and its public key.
#[cfg(feature = "x25519")]
struct X25519KeyExchange {
    secret: x25519_dalek::StaticSecret,
    pub_key: [u8; 32],
}

#[cfg(feature = "x25519")]
impl ActiveKeyExchange for X25519KeyExchange {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, Error> {
        let peer: [u8; 32] = peer_pub_key
            .try_into()
            .map_err(|_| Error::from(PeerMisbehaved::InvalidKeyShare))?;
        let shared = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        // RFC 8446 §7.4.2: a low-order peer key gives the all-zero secret; refuse it.
        if !shared.was_contributory() {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        &self.pub_key
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::provider::rng::RngSource;
    use crate::tls::provider::SharedRng;

    static SHARED: SharedRng<rand_core::OsRng> = SharedRng::new(rand_core::OsRng);
    static RNG: RngSource<rand_core::OsRng> = RngSource(&SHARED);
    static KX: Secp256r1 = Secp256r1::new(&RNG);

    #[test]
    fn both_sides_derive_the_same_secret() {
        let a = KX.start().unwrap();
        let b = KX.start().unwrap();
        let (a_pub, b_pub) = (a.pub_key().to_vec(), b.pub_key().to_vec());
        assert_eq!((a_pub.len(), a_pub[0]), (65, 0x04));
        assert_eq!(a.group(), NamedGroup::secp256r1);
        let s1 = a.complete(&b_pub).unwrap();
        let s2 = b.complete(&a_pub).unwrap();
        assert_eq!(s1.secret_bytes().len(), 32);
        assert_eq!(s1.secret_bytes(), s2.secret_bytes());
    }

    #[test]
    fn compressed_short_or_off_curve_peer_keys_are_refused() {
        let peer = KX.start().unwrap().pub_key().to_vec();
        let mut compressed = alloc::vec![0x02 | (peer[64] & 1)];
        compressed.extend_from_slice(&peer[1..33]);
        let mut off_curve = peer.clone();
        off_curve[64] ^= 1;
        for bad in [
            &compressed[..],
            &peer[..64],
            &off_curve[..],
            &[0x04; 65][..],
        ] {
            let err = KX.start().unwrap().complete(bad).err().unwrap();
            assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare));
        }
    }

    #[cfg(feature = "x25519")]
    static X: X25519 = X25519::new(&RNG);

    #[cfg(feature = "x25519")]
    #[test]
    fn x25519_matches_rfc7748_vector_and_both_sides_agree() {
        // RFC 7748 §6.1: Alice's private key and Bob's public key give this shared secret.
        let alice = x25519_dalek::StaticSecret::from(hex32(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        let ex = Box::new(X25519KeyExchange {
            pub_key: x25519_dalek::PublicKey::from(&alice).to_bytes(),
            secret: alice,
        });
        assert_eq!(
            ex.pub_key(),
            hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        let bob = hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let shared = ex.complete(&bob).unwrap();
        assert_eq!(
            shared.secret_bytes(),
            hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        );
        let (a, b) = (X.start().unwrap(), X.start().unwrap());
        assert_eq!(a.group(), NamedGroup::X25519);
        let (a_pub, b_pub) = (a.pub_key().to_vec(), b.pub_key().to_vec());
        assert_eq!(
            a.complete(&b_pub).unwrap().secret_bytes(),
            b.complete(&a_pub).unwrap().secret_bytes()
        );
    }

    #[cfg(feature = "x25519")]
    #[test]
    fn x25519_low_order_or_wrong_length_peer_keys_are_refused() {
        let peer = X.start().unwrap().pub_key().to_vec();
        for bad in [
            &[0u8; 32][..],
            &peer[..31],
            &[peer.clone(), alloc::vec![0]].concat()[..],
        ] {
            let err = X.start().unwrap().complete(bad).err().unwrap();
            assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare));
        }
    }

    #[cfg(feature = "x25519")]
    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }
}
