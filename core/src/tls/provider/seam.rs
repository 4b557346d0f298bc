//! The P-256 seam's default: [`RustCryptoP256`] does the [`hal::P256`] operations with
//! RustCrypto's `p256` crate; and the glue the provider's key exchange, verification and
//! signing use to go through whichever implementation the supplicant was built with
//! (SEC1 and DER encodings, ECDSA digest reduction), so an implementation sees fixed-size
//! integers only.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use zeroize::Zeroizing;

use crate::hal::{self, P256Error, P256_PUBLIC_KEY_LEN};

/// [`hal::P256`] with RustCrypto's `p256` crate (constant-time field arithmetic, RFC 6979
/// deterministic ECDSA nonces). What a supplicant uses unless built with another.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoP256;

/// The default P-256 implementation, as a `&'static dyn hal::P256`.
pub static RUSTCRYPTO_P256: RustCryptoP256 = RustCryptoP256;

/// The secret key for `scalar`; its scalar zeroizes itself on drop.
fn secret(scalar: &[u8; 32]) -> Result<p256::SecretKey, P256Error> {
    p256::SecretKey::from_slice(scalar).map_err(|_| P256Error::InvalidScalar)
}

/// Copies a SEC1 encoding into a fixed-size array (the lengths are checked, never assumed).
fn copy_into<const N: usize>(out: &mut [u8; N], from: &[u8]) -> Result<(), P256Error> {
    *out = from.try_into().map_err(|_| P256Error::Device)?;
    Ok(())
}

impl hal::P256 for RustCryptoP256 {
    fn public_key(
        &self,
        scalar: &[u8; 32],
        out: &mut [u8; P256_PUBLIC_KEY_LEN],
    ) -> Result<(), P256Error> {
        let point = secret(scalar)?.public_key().to_encoded_point(false);
        copy_into(out, point.as_bytes())
    }

    fn ecdh(
        &self,
        scalar: &[u8; 32],
        peer: &[u8; P256_PUBLIC_KEY_LEN],
        out: &mut [u8; 32],
    ) -> Result<(), P256Error> {
        // Decoding checks that the point is on the curve and not the identity.
        let peer = p256::PublicKey::from_sec1_bytes(peer).map_err(|_| P256Error::InvalidPoint)?;
        let scalar = Zeroizing::new(secret(scalar)?.to_nonzero_scalar());
        // `SharedSecret` zeroizes itself on drop.
        let shared = p256::ecdh::diffie_hellman(&*scalar, peer.as_affine());
        copy_into(out, shared.raw_secret_bytes())
    }

    fn verify(
        &self,
        public_key: &[u8; P256_PUBLIC_KEY_LEN],
        digest: &[u8; 32],
        signature: &[u8; 64],
    ) -> Result<(), P256Error> {
        let (key, sig) = verifying_parts(public_key, signature)?;
        key.verify_prehash(digest, &sig)
            .map_err(|_| P256Error::BadSignature)
    }

    fn sign(
        &self,
        scalar: &[u8; 32],
        digest: &[u8; 32],
        out: &mut [u8; 64],
    ) -> Result<(), P256Error> {
        use ecdsa::hazmat::SignPrimitive;
        // Signs with the bare scalar: no public-key derivation (a scalar multiplication).
        let secret = secret(scalar)?;
        let z =
            ecdsa::hazmat::bits2field::<p256::NistP256>(digest).map_err(|_| P256Error::Device)?;
        let scalar = Zeroizing::new(secret.to_nonzero_scalar());
        let (sig, _) = scalar
            .as_ref()
            .try_sign_prehashed_rfc6979::<sha2::Sha256>(&z, &[])
            .map_err(|_| P256Error::Device)?;
        copy_into(out, &sig.to_bytes())
    }
}

/// The key and signature of a verification, decoded (the point checked to be on the curve,
/// r and s in [1, n-1]).
///
/// Never inlined (nor is [`der_to_fixed`]): a verification's curve arithmetic is a handshake's
/// deepest call, and inlined, the decoders' temporaries would sit in the frame under it on a
/// device's stack.
#[inline(never)]
fn verifying_parts(
    public_key: &[u8; P256_PUBLIC_KEY_LEN],
    signature: &[u8; 64],
) -> Result<(p256::ecdsa::VerifyingKey, p256::ecdsa::Signature), P256Error> {
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
        .map_err(|_| P256Error::InvalidPoint)?;
    let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| P256Error::BadSignature)?;
    Ok((key, sig))
}

/// A DER ECDSA-P256 signature as `r || s`, checked (DER form, r and s in [1, n-1]).
#[inline(never)]
fn der_to_fixed(signature: &[u8], rs: &mut [u8; 64]) -> Result<(), P256Error> {
    let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| P256Error::BadSignature)?;
    copy_into(rs, &sig.to_bytes())
}

/// ECDSA-P256 verification through `p256`: `signature` is the DER form TLS and X.509 carry,
/// `digest` the message hash (32 or 48 bytes), `public_key` a SEC1 point (only the
/// uncompressed form is taken, as in TLS and rustls-webpki's other backends).
pub(crate) fn verify_der(
    p256: &dyn hal::P256,
    public_key: &[u8],
    digest: &[u8],
    signature: &[u8],
) -> Result<(), P256Error> {
    let public_key: &[u8; P256_PUBLIC_KEY_LEN] =
        public_key.try_into().map_err(|_| P256Error::InvalidPoint)?;
    // FIPS 186-4 §6.4: a hash longer than the order is cut to its leftmost 256 bits.
    let digest: &[u8; 32] = digest
        .get(..32)
        .and_then(|d| d.try_into().ok())
        .ok_or(P256Error::BadSignature)?;
    let mut rs = [0u8; 64];
    der_to_fixed(signature, &mut rs)?;
    p256.verify(public_key, digest, &rs)
}

/// ECDSA-P256-SHA256 signature through `p256` with the private key `scalar`, DER encoded as
/// TLS carries it. The implementation's `r || s` is checked (both in [1, n-1]) before use.
pub(crate) fn sign_der(
    p256: &dyn hal::P256,
    scalar: &[u8; 32],
    message: &[u8],
) -> Result<p256::ecdsa::DerSignature, P256Error> {
    use sha2::Digest;
    let digest: [u8; 32] = sha2::Sha256::digest(message).into();
    let mut rs = [0u8; 64];
    p256.sign(scalar, &digest, &mut rs)?;
    let sig = p256::ecdsa::Signature::from_slice(&rs).map_err(|_| P256Error::Device)?;
    Ok(sig.to_der())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hal::P256 as _;

    #[test]
    fn default_signs_verifies_and_agrees_on_ecdh() {
        let p = &RUSTCRYPTO_P256;
        let (a, b) = ([0x11u8; 32], [0x22u8; 32]);
        let (mut pa, mut pb) = ([0u8; 65], [0u8; 65]);
        p.public_key(&a, &mut pa).unwrap();
        p.public_key(&b, &mut pb).unwrap();
        assert_eq!(pa[0], 4);
        let (mut s1, mut s2) = ([0u8; 32], [0u8; 32]);
        p.ecdh(&a, &pb, &mut s1).unwrap();
        p.ecdh(&b, &pa, &mut s2).unwrap();
        assert_eq!(s1, s2);
        let der = sign_der(p, &a, b"message").unwrap();
        use sha2::Digest;
        let digest = sha2::Sha256::digest(b"message");
        verify_der(p, &pa, &digest, der.as_bytes()).unwrap();
        let other = sha2::Sha256::digest(b"messagf");
        assert_eq!(
            verify_der(p, &pa, &other, der.as_bytes()),
            Err(P256Error::BadSignature)
        );
    }

    #[test]
    fn out_of_range_scalars_and_off_curve_points_are_refused() {
        let p = &RUSTCRYPTO_P256;
        let mut out = [0u8; 65];
        assert_eq!(
            p.public_key(&[0; 32], &mut out),
            Err(P256Error::InvalidScalar)
        );
        assert_eq!(
            p.public_key(&[0xff; 32], &mut out),
            Err(P256Error::InvalidScalar)
        );
        p.public_key(&[0x33; 32], &mut out).unwrap();
        out[64] ^= 1;
        let mut shared = [0u8; 32];
        assert_eq!(
            p.ecdh(&[0x11; 32], &out, &mut shared),
            Err(P256Error::InvalidPoint)
        );
        assert_eq!(
            verify_der(p, &out[..33], &[0; 32], &[0x30, 0]),
            Err(P256Error::InvalidPoint)
        );
    }
}
