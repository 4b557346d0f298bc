//! The cipher suites Latchkey offers, in preference order: TLS 1.3 AES-GCM (RFC 8446 §B.4)
//! and TLS 1.2 ECDHE AES-GCM (RFC 5289). No CBC, no ChaCha20, no static RSA: EAP-TLS servers
//! all speak AES-GCM, and every suite left out is flash saved.

use rustls::crypto::tls12::PrfUsingHmac;
use rustls::crypto::tls13::HkdfUsingHmac;
use rustls::crypto::{CipherSuiteCommon, KeyExchangeAlgorithm};
use rustls::{
    CipherSuite, SignatureScheme, SupportedCipherSuite, Tls12CipherSuite, Tls13CipherSuite,
};

use super::{aead, hash, hmac};

/// AES-GCM may protect 2^24.5 full records per key (RFC 8446 §5.5); rustls rekeys or closes
/// before this, like its own providers.
const GCM_CONFIDENTIALITY_LIMIT: u64 = 1 << 24;

/// TLS 1.3 `TLS_AES_128_GCM_SHA256`.
pub static TLS13_AES_128_GCM_SHA256: SupportedCipherSuite =
    SupportedCipherSuite::Tls13(&Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS13_AES_128_GCM_SHA256,
            hash_provider: &hash::SHA256,
            confidentiality_limit: GCM_CONFIDENTIALITY_LIMIT,
        },
        hkdf_provider: &HkdfUsingHmac(&hmac::HMAC_SHA256),
        aead_alg: &aead::TLS13_AES_128_GCM,
        quic: None,
    });

/// TLS 1.3 `TLS_AES_256_GCM_SHA384`.
pub static TLS13_AES_256_GCM_SHA384: SupportedCipherSuite =
    SupportedCipherSuite::Tls13(&Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS13_AES_256_GCM_SHA384,
            hash_provider: &hash::SHA384,
            confidentiality_limit: GCM_CONFIDENTIALITY_LIMIT,
        },
        hkdf_provider: &HkdfUsingHmac(&hmac::HMAC_SHA384),
        aead_alg: &aead::TLS13_AES_256_GCM,
        quic: None,
    });

/// Schemes a TLS 1.2 ECDSA server may sign its key exchange with.
static TLS12_ECDSA_SCHEMES: &[SignatureScheme] = &[
    #[cfg(feature = "p384")]
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP256_SHA256,
];

/// Schemes a TLS 1.2 RSA server may sign its key exchange with.
#[cfg(feature = "rsa")]
static TLS12_RSA_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PKCS1_SHA512,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA256,
];

/// TLS 1.2 `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`.
pub static TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: SupportedCipherSuite =
    SupportedCipherSuite::Tls12(&Tls12CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            hash_provider: &hash::SHA256,
            confidentiality_limit: GCM_CONFIDENTIALITY_LIMIT,
        },
        kx: KeyExchangeAlgorithm::ECDHE,
        sign: TLS12_ECDSA_SCHEMES,
        aead_alg: &aead::TLS12_AES_128_GCM,
        prf_provider: &PrfUsingHmac(&hmac::HMAC_SHA256),
    });

/// TLS 1.2 `TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384`.
pub static TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: SupportedCipherSuite =
    SupportedCipherSuite::Tls12(&Tls12CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            hash_provider: &hash::SHA384,
            confidentiality_limit: GCM_CONFIDENTIALITY_LIMIT,
        },
        kx: KeyExchangeAlgorithm::ECDHE,
        sign: TLS12_ECDSA_SCHEMES,
        aead_alg: &aead::TLS12_AES_256_GCM,
        prf_provider: &PrfUsingHmac(&hmac::HMAC_SHA384),
    });

/// TLS 1.2 `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256` (feature `rsa`).
#[cfg(feature = "rsa")]
pub static TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: SupportedCipherSuite =
    SupportedCipherSuite::Tls12(&Tls12CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            hash_provider: &hash::SHA256,
            confidentiality_limit: GCM_CONFIDENTIALITY_LIMIT,
        },
        kx: KeyExchangeAlgorithm::ECDHE,
        sign: TLS12_RSA_SCHEMES,
        aead_alg: &aead::TLS12_AES_128_GCM,
        prf_provider: &PrfUsingHmac(&hmac::HMAC_SHA256),
    });

/// TLS 1.2 `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384` (feature `rsa`).
#[cfg(feature = "rsa")]
pub static TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: SupportedCipherSuite =
    SupportedCipherSuite::Tls12(&Tls12CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            hash_provider: &hash::SHA384,
            confidentiality_limit: GCM_CONFIDENTIALITY_LIMIT,
        },
        kx: KeyExchangeAlgorithm::ECDHE,
        sign: TLS12_RSA_SCHEMES,
        aead_alg: &aead::TLS12_AES_256_GCM,
        prf_provider: &PrfUsingHmac(&hmac::HMAC_SHA384),
    });

/// All suites, most preferred first. Without feature `rsa` the ECDHE_RSA suites are absent:
/// their server signatures could not be verified.
pub static ALL_CIPHER_SUITES: &[SupportedCipherSuite] = &[
    TLS13_AES_128_GCM_SHA256,
    TLS13_AES_256_GCM_SHA384,
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    #[cfg(feature = "rsa")]
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    #[cfg(feature = "rsa")]
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
];
