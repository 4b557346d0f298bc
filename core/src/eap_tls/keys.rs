//! EAP-TLS key derivation: MSK, EMSK, IV (TLS 1.2 only) and Session-Id, exactly as RFC 5216
//! §2.3 (TLS 1.2, TLS-PRF over the master secret) and RFC 9190 §2.3 (TLS 1.3, TLS-Exporter
//! over the exporter master secret, RFC 8446 §7.5) define them. Secrets are zeroized on drop.

use core::fmt;

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::tls::engine::HandshakeSecrets;
use crate::tls::provider::{tls12_prf, tls13_exporter, KdfError};
use crate::tls::TlsVersion;

/// RFC 5216 §2.3 PRF label for TLS 1.2.
const TLS12_LABEL: &[u8] = b"client EAP encryption";
/// RFC 9190 §2.3 exporter labels for TLS 1.3.
const TLS13_KEY_LABEL: &[u8] = b"EXPORTER_EAP_TLS_Key_Material";
const TLS13_METHOD_ID_LABEL: &[u8] = b"EXPORTER_EAP_TLS_Method-Id";
/// The EAP-TLS type code, the exporter context and the Session-Id prefix.
const EAP_TLS_TYPE: u8 = 13;

macro_rules! secret_newtype {
    ($name:ident, $len:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; $len]);

        impl $name {
            /// The key bytes. Never log them; log [`Self::fingerprint`] instead.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// The first 8 bytes of SHA-256 over the key: safe to print, enough to compare.
            pub fn fingerprint(&self) -> Fingerprint {
                fingerprint(&self.0)
            }

            /// Constant-time equality.
            pub fn ct_eq(&self, other: &[u8]) -> bool {
                use subtle::ConstantTimeEq;
                self.0.as_slice().ct_eq(other).into()
            }
        }

        #[cfg(feature = "defmt")]
        impl defmt::Format for $name {
            fn format(&self, f: defmt::Formatter<'_>) {
                // The fingerprint, never the key.
                defmt::write!(
                    f,
                    "{=str}(fingerprint {})",
                    stringify!($name),
                    self.fingerprint()
                )
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    concat!(stringify!($name), "(fingerprint {})"),
                    self.fingerprint()
                )
            }
        }
    };
}

secret_newtype!(
    Msk,
    64,
    "Master Session Key (64 bytes); its first 32 bytes are the WPA PMK."
);
secret_newtype!(Emsk, 64, "Extended Master Session Key (64 bytes).");

impl Msk {
    /// The WPA PMK for `akm` (IEEE 802.11-2020 §12.7.1.3): the MSK's first 256 bits, or 384
    /// for the 192-bit mode (AKM 12). What the 4-way handshake starts from, in the supplicant's
    /// [`crate::wpa`] or in a FullMAC chip that runs it itself.
    pub fn pmk(&self, akm: crate::wpa::Akm) -> Result<crate::wpa::Pmk, crate::wpa::keys::KeyError> {
        crate::wpa::Pmk::from_msk(&self.0, akm)
    }
}

secret_newtype!(
    Iv,
    64,
    "RFC 5216 IV (TLS 1.2 only; deprecated, derived for completeness)."
);

/// A short, printable fingerprint of a key (SHA-256 prefix).
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Fingerprint(pub [u8; 8]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Fingerprint of arbitrary key bytes.
pub fn fingerprint(key: &[u8]) -> Fingerprint {
    let d = Sha256::digest(key);
    let mut out = [0u8; 8];
    for (o, i) in out.iter_mut().zip(d.iter()) {
        *o = *i;
    }
    Fingerprint(out)
}

/// EAP Session-Id: 0x0D || client.random || server.random (TLS 1.2, 65 bytes) or
/// 0x0D || Method-Id (TLS 1.3, 65 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(pub [u8; 65]);

#[cfg(feature = "defmt")]
impl defmt::Format for SessionId {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "SessionId({=[u8]:02x}…)",
            self.0.get(..9).unwrap_or_default()
        )
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter().take(9) {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…")
    }
}

/// Everything EAP-TLS exports to the layers above.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeyMaterial {
    /// TLS version the keys came from.
    pub version: TlsVersion,
    /// Master Session Key.
    pub msk: Msk,
    /// Extended Master Session Key.
    pub emsk: Emsk,
    /// RFC 5216 IV, TLS 1.2 only.
    pub iv: Option<Iv>,
    /// EAP Session-Id.
    pub session_id: SessionId,
}

/// Derive the EAP-TLS key material from the handshake secrets.
pub(crate) fn derive(s: &HandshakeSecrets) -> Result<KeyMaterial, KdfError> {
    let secret = s.secret.get(..s.secret_len).unwrap_or_default();
    let mut km = zeroize::Zeroizing::new([0u8; 128]);
    let mut session_id = [0u8; 65];
    session_id[0] = EAP_TLS_TYPE;
    let iv = match s.version {
        TlsVersion::Tls12 => {
            let mut seed = [0u8; 64];
            seed[..32].copy_from_slice(&s.client_random);
            seed[32..].copy_from_slice(&s.server_random);
            tls12_prf(s.hash, &mut km[..], secret, TLS12_LABEL, &seed);
            let mut iv = Iv([0u8; 64]);
            tls12_prf(s.hash, &mut iv.0, &[], TLS12_LABEL, &seed);
            session_id[1..].copy_from_slice(&seed);
            Some(iv)
        }
        TlsVersion::Tls13 => {
            tls13_exporter(
                s.hash,
                secret,
                TLS13_KEY_LABEL,
                &[EAP_TLS_TYPE],
                &mut km[..],
            )?;
            tls13_exporter(
                s.hash,
                secret,
                TLS13_METHOD_ID_LABEL,
                &[EAP_TLS_TYPE],
                &mut session_id[1..],
            )?;
            None
        }
    };
    let mut msk = Msk([0u8; 64]);
    let mut emsk = Emsk([0u8; 64]);
    msk.0.iter_mut().zip(km.iter()).for_each(|(d, s)| *d = *s);
    emsk.0
        .iter_mut()
        .zip(km.iter().skip(64))
        .for_each(|(d, s)| *d = *s);
    Ok(KeyMaterial {
        version: s.version,
        msk,
        emsk,
        iv,
        session_id: SessionId(session_id),
    })
}
