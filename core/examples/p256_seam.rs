//! A board's P-256: every P-256 public-key operation of a handshake (ECDHE key generation and
//! shared secret, ECDSA verification of the server's chain and handshake signature, the
//! CertificateVerify signature with the device's inline key) goes through the `hal::P256` the
//! supplicant is built with. Here that is a counting wrapper around the RustCrypto default, as
//! a PKA driver would stand in its place; the server (rustls with ring) accepts only secp256r1
//! and sends a two-certificate P-256 chain. Each run prints the operations counted and checks
//! the MSK against the server's, with and without the seam.
//!
//!     cargo run -p latchkey-core --example p256_seam
//!
//! The test command runs it too (`test = true` in core/Cargo.toml).

#[path = "support/eap_server.rs"]
mod eap_server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use latchkey_core::certs::{InlineKey, KeyRef, SharedSlotTable, SlotTable};
use latchkey_core::hal::{self, MacAddr, P256Error, P256_PUBLIC_KEY_LEN, RUSTCRYPTO_P256};
use latchkey_core::tls::{NameMatch, ServerPolicy, SharedRng, VersionPolicy};
use latchkey_core::{Event, FailKind, Now, Supplicant};

use eap_server::{EapServer, Link, Pki};

const AP: MacAddr = [0x02, 0, 0, 0, 0, 0xaa];

static RNG: SharedRng<rand_core::OsRng> = SharedRng::new(rand_core::OsRng);

/// How many times each operation was asked for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    keygen: usize,
    ecdh: usize,
    verify: usize,
    sign: usize,
}

/// A `hal::P256` that counts each operation and hands it to RustCrypto's, where a board's
/// driver would program its PKA. `refuse_verify` makes it refuse every signature, to show
/// that nothing verifies around it.
#[derive(Default)]
struct Counting {
    keygen: AtomicUsize,
    ecdh: AtomicUsize,
    verify: AtomicUsize,
    sign: AtomicUsize,
    refuse_verify: bool,
}

impl Counting {
    fn counts(&self) -> Counts {
        Counts {
            keygen: self.keygen.load(Ordering::Relaxed),
            ecdh: self.ecdh.load(Ordering::Relaxed),
            verify: self.verify.load(Ordering::Relaxed),
            sign: self.sign.load(Ordering::Relaxed),
        }
    }
}

impl hal::P256 for Counting {
    fn public_key(
        &self,
        scalar: &[u8; 32],
        out: &mut [u8; P256_PUBLIC_KEY_LEN],
    ) -> Result<(), P256Error> {
        self.keygen.fetch_add(1, Ordering::Relaxed);
        RUSTCRYPTO_P256.public_key(scalar, out)
    }

    fn ecdh(
        &self,
        scalar: &[u8; 32],
        peer: &[u8; P256_PUBLIC_KEY_LEN],
        out: &mut [u8; 32],
    ) -> Result<(), P256Error> {
        self.ecdh.fetch_add(1, Ordering::Relaxed);
        RUSTCRYPTO_P256.ecdh(scalar, peer, out)
    }

    fn verify(
        &self,
        public_key: &[u8; P256_PUBLIC_KEY_LEN],
        digest: &[u8; 32],
        signature: &[u8; 64],
    ) -> Result<(), P256Error> {
        self.verify.fetch_add(1, Ordering::Relaxed);
        if self.refuse_verify {
            return Err(P256Error::BadSignature);
        }
        RUSTCRYPTO_P256.verify(public_key, digest, signature)
    }

    fn sign(
        &self,
        scalar: &[u8; 32],
        digest: &[u8; 32],
        out: &mut [u8; 64],
    ) -> Result<(), P256Error> {
        self.sign.fetch_add(1, Ordering::Relaxed);
        RUSTCRYPTO_P256.sign(scalar, digest, out)
    }
}

/// What one authentication ended with.
#[derive(Debug)]
enum Outcome {
    /// Authenticated; the MSK equals the server's.
    Authenticated(String),
    /// Failed with this kind.
    Failed(FailKind),
}

/// One authentication of a fresh device against a fresh P-256-only server speaking `version`
/// (TLS 1.3 or 1.2), with the P-256 operations done by `p256` when given.
fn run(
    version: VersionPolicy,
    p256: Option<&'static dyn hal::P256>,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let pki = Pki::with_intermediate()?;

    // --- The device: the only line a board adds is `.p256(&BOARD_P256)`.
    let table = Arc::new(SharedSlotTable::<4, 2048>::new(SlotTable::new()));
    let key = InlineKey::from_pkcs8_der(&pki.client_key)?;
    table.with(|t| t.install(&pki.client_cert, KeyRef::Inline(key)))?;
    let policy =
        ServerPolicy::new(NameMatch::exact("radius.example.test")?).with_anchor_der(&pki.ca)?;
    let mut builder = Supplicant::builder("device-0001@example.test")
        .server(policy)
        .slot_table(table)
        .rng(&RNG);
    if let Some(p256) = p256 {
        builder = builder.p256(p256);
    }
    let mut supplicant = builder.build()?;

    let mut link = Link::default();
    let mut server = EapServer::p256_only(&pki, version)?;
    let mut ms = 0;
    let mut event = supplicant.start(Now::ms(ms), &mut link);
    while event.is_none() {
        let Some(frame) = link.0.pop() else {
            return Err("the supplicant went quiet".into());
        };
        let replies = match server.handle(&frame) {
            Ok(r) => r,
            // The server gave up on our alert: the supplicant's event says why.
            Err(_) if supplicant.next_deadline().is_none() => break,
            Err(e) => return Err(e),
        };
        for reply in replies {
            ms += 1;
            event = supplicant.handle_frame(Now::ms(ms), AP, &reply, &mut link);
        }
    }
    match event {
        Some(Event::Authenticated(auth)) => {
            let server_msk = server.msk.ok_or("server derived no MSK")?;
            if !auth.keys.msk.ct_eq(&server_msk) {
                return Err("MSK differs from the server's".into());
            }
            Ok(Outcome::Authenticated(format!(
                "authenticated with {}; MSK {} equals the server's",
                auth.version,
                auth.keys.msk.fingerprint()
            )))
        }
        Some(Event::Failed(why)) => Ok(Outcome::Failed(why.kind())),
        _ => Err("no outcome".into()),
    }
}

/// What a handshake against the P-256-only server with a two-certificate chain needs: one
/// ephemeral key and one shared secret (ECDHE on secp256r1), three verifications (the leaf
/// by the issuing CA, the issuing CA by the root, the server's handshake signature:
/// CertificateVerify in TLS 1.3, ServerKeyExchange in TLS 1.2) and one signature (our
/// CertificateVerify).
const NEEDED: Counts = Counts {
    keygen: 1,
    ecdh: 1,
    verify: 3,
    sign: 1,
};

/// One version's run: the operations counted and what both authentications ended with.
type VersionRun = (VersionPolicy, Counts, String);

/// Both versions with the counting seam, then without it; the counts and the outcome of each.
fn demo() -> Result<Vec<VersionRun>, Box<dyn std::error::Error>> {
    let mut lines = Vec::new();
    for version in [VersionPolicy::Tls13Only, VersionPolicy::Tls12Only] {
        let counting: &'static Counting = Box::leak(Box::default());
        let with_seam = match run(version, Some(counting))? {
            Outcome::Authenticated(line) => line,
            Outcome::Failed(kind) => return Err(format!("FAILED with the seam ({kind})").into()),
        };
        let without = match run(version, None)? {
            Outcome::Authenticated(line) => line,
            Outcome::Failed(kind) => return Err(format!("FAILED without the seam ({kind})").into()),
        };
        lines.push((
            version,
            counting.counts(),
            format!("{with_seam}; without the seam: {without}"),
        ));
    }
    Ok(lines)
}

#[cfg_attr(test, allow(dead_code))]
fn main() {
    match demo() {
        Ok(lines) => {
            for (version, counts, line) in lines {
                println!("{}: {counts:?} through the seam; {line}", version.as_str());
                if counts != NEEDED {
                    eprintln!("ERROR: expected {NEEDED:?} through the seam");
                    std::process::exit(1);
                }
            }
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_p256_operation_of_both_handshakes_goes_through_the_seam() {
        for (version, counts, line) in demo().unwrap() {
            assert_eq!(counts, NEEDED, "{}: {line}", version.as_str());
            assert!(line.contains("equals the server's"), "{line}");
        }
    }

    #[test]
    fn a_seam_refusing_every_signature_refuses_the_server() {
        for version in [VersionPolicy::Tls13Only, VersionPolicy::Tls12Only] {
            let refusing: &'static Counting = Box::leak(Box::new(Counting {
                refuse_verify: true,
                ..Counting::default()
            }));
            match run(version, Some(refusing)).unwrap() {
                Outcome::Failed(kind) => assert_eq!(
                    kind,
                    FailKind::ServerCertificateInvalid,
                    "{}",
                    version.as_str()
                ),
                Outcome::Authenticated(line) => panic!("authenticated around the seam: {line}"),
            }
            let c = refusing.counts();
            // The first certificate signature checked is refused, and so is the server: no other
            // signature is checked and the device signs nothing.
            assert_eq!((c.verify, c.sign), (1, 0), "{}", version.as_str());
        }
    }
}
