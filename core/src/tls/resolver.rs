//! The client-certificate resolver rustls calls on a CertificateRequest, backed by the slot
//! table ([`crate::certs::SlotSource`]): the server's acceptable CA names and signature
//! schemes feed the selection, only an active slot's certificate and key come out, and what
//! happened — the slot chosen and why every other slot lost, or why nothing qualified — is
//! kept for the TLS engine that owns this resolver, which returns it with its result.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::CertificateDer;
use rustls::sign::{CertifiedKey, SigningKey};

use crate::certs::meta::CertFields;
use crate::certs::{
    KeyRef, SelectErrorKind, SelectionSummary, SignatureScheme, SlotSource, TimeSource,
};
#[cfg(feature = "key-store")]
use crate::hal::KeyStore;
#[cfg(feature = "key-store")]
use crate::tls::provider::HalSigningKey;
use crate::tls::provider::InlineSigningKey;

/// The platform's key store, for slots whose key is a handle (feature `key-store`).
#[cfg(feature = "key-store")]
pub(crate) type KeyStoreRef = Option<Arc<dyn KeyStore>>;
/// Built without feature `key-store`: no key store, so a handle slot is `key-unavailable`.
#[cfg(not(feature = "key-store"))]
#[derive(Default)]
pub(crate) struct KeyStoreRef;

/// What happened when the server asked for a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ResolveRecord {
    /// Number of acceptable CA names the server sent.
    pub ca_hints: usize,
    /// The server accepts ECDSA P-256 SHA-256 signatures.
    pub p256_accepted: bool,
    /// A certificate was offered.
    pub offered: bool,
    /// Why no certificate was offered, when none was.
    pub refusal: Option<SelectErrorKind>,
    /// The slot-table selection: the chosen slot and every other slot's reason.
    pub selection: SelectionSummary,
}

/// Resolves the client certificate for each handshake from the slot table.
pub(crate) struct CredentialResolver {
    table: Arc<dyn SlotSource>,
    intermediates: Vec<CertificateDer<'static>>,
    /// (subject, issuer) Name DER of each intermediate, for walking the server's CA hints
    /// down to the CA that issued our leaves.
    links: Vec<(Vec<u8>, Vec<u8>)>,
    #[cfg_attr(not(feature = "key-store"), allow(dead_code))]
    key_store: KeyStoreRef,
    time: spin::Mutex<TimeSource>,
    asked: spin::Mutex<Option<ResolveRecord>>,
    /// Whether TLS 1.2 may be negotiated (see `has_certs`).
    tls12_offered: bool,
    /// The supplicant's RNG (the provider's), for RSA signatures' salt and blinding.
    rng: Option<&'static dyn rustls::crypto::SecureRandom>,
    /// What makes inline P-256 keys' signatures (the [`crate::Crypto`]'s P-256).
    p256: &'static dyn crate::hal::P256,
}

impl fmt::Debug for CredentialResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CredentialResolver({} intermediates)",
            self.intermediates.len()
        )
    }
}

impl CredentialResolver {
    /// A resolver over `table`. `intermediates` are sent after the chosen leaf; `key_store`
    /// signs for slots whose key is a handle.
    pub(crate) fn new(
        table: Arc<dyn SlotSource>,
        intermediates: Vec<CertificateDer<'static>>,
        key_store: KeyStoreRef,
        tls12_offered: bool,
    ) -> Self {
        let links = intermediates.iter().filter_map(|c| name_link(c)).collect();
        CredentialResolver {
            table,
            intermediates,
            links,
            key_store,
            time: spin::Mutex::new(TimeSource::Unknown),
            asked: spin::Mutex::new(None),
            tls12_offered,
            rng: None,
            p256: &crate::hal::RUSTCRYPTO_P256,
        }
    }

    /// Sign with randomness from `rng` (the crypto provider's, which is the supplicant's RNG).
    pub(crate) fn set_rng(&mut self, rng: &'static dyn rustls::crypto::SecureRandom) {
        self.rng = Some(rng);
    }

    /// Sign with inline P-256 keys through `p256`.
    pub(crate) fn set_p256(&mut self, p256: &'static dyn crate::hal::P256) {
        self.p256 = p256;
    }

    /// The table's persisted time floor.
    pub(crate) fn time_floor(&self) -> u64 {
        self.table.time_floor()
    }

    /// Raise the table's time floor after a successful authentication at `t`; whether it
    /// changed.
    pub(crate) fn observe_time(&self, t: u64) -> bool {
        self.table.observe_time(t)
    }

    /// Start a handshake at the authentication's time basis: forget the last request.
    pub(crate) fn reset(&self, time: TimeSource) {
        *self.asked.lock() = None;
        *self.time.lock() = time;
    }

    /// The time basis may move during a conversation (the wall clock ticks).
    pub(crate) fn set_time(&self, time: TimeSource) {
        *self.time.lock() = time;
    }

    /// What the server asked for and what was offered in this handshake, if it asked.
    pub(crate) fn record(&self) -> Option<ResolveRecord> {
        self.asked.lock().clone()
    }

    /// If the server asked for a certificate and none was offered: why.
    pub(crate) fn refusal(&self) -> Option<SelectErrorKind> {
        let rec = self.asked.lock();
        let rec = rec.as_ref()?;
        if rec.offered {
            None
        } else {
            Some(rec.refusal.unwrap_or(SelectErrorKind::SchemeNotAccepted))
        }
    }

    /// The server's CA hints, extended by our intermediates it implicitly names: a server
    /// usually names only its root CA while our leaves come from an intermediate we send.
    fn extend_hints<'a>(&'a self, named: &[&'a [u8]]) -> Vec<&'a [u8]> {
        let mut hints: Vec<&[u8]> = named.to_vec();
        if hints.is_empty() {
            return hints;
        }
        for _ in 0..self.links.len() {
            let mut grew = false;
            for (subject, issuer) in &self.links {
                let named = hints.iter().any(|h| names_equal(h, issuer));
                if named && !hints.iter().any(|h| names_equal(h, subject)) {
                    hints.push(subject.as_slice());
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        hints
    }

    /// The signing key for the chosen slot's key, given the server's offer; the refusal when
    /// there is none: the key store lacks the key, or the key can make no offered scheme.
    fn signing_key(
        &self,
        key: KeyRef,
        offered: &[rustls::SignatureScheme],
    ) -> Result<Arc<dyn SigningKey>, SelectErrorKind> {
        match key {
            KeyRef::Inline(k) => {
                let key = InlineSigningKey::new(k, self.rng).with_p256(self.p256);
                key.scheme_for(offered)
                    .ok_or(SelectErrorKind::SchemeNotAccepted)?;
                Ok(Arc::new(key))
            }
            KeyRef::Handle(h) => self.handle_key(h, offered),
        }
    }
}

impl CredentialResolver {
    /// The signing key for a key held by handle in the platform's key store.
    #[cfg(feature = "key-store")]
    fn handle_key(
        &self,
        h: u32,
        offered: &[rustls::SignatureScheme],
    ) -> Result<Arc<dyn SigningKey>, SelectErrorKind> {
        let store = self
            .key_store
            .as_ref()
            .ok_or(SelectErrorKind::KeyUnavailable)?;
        if !store.has_key(h) {
            return Err(SelectErrorKind::KeyUnavailable);
        }
        let key = HalSigningKey::new(store.clone(), h);
        key.scheme_for(offered)
            .ok_or(SelectErrorKind::SchemeNotAccepted)?;
        Ok(Arc::new(key))
    }

    /// Built without feature `key-store`: there is no key store to sign with.
    #[cfg(not(feature = "key-store"))]
    fn handle_key(
        &self,
        _h: u32,
        _offered: &[rustls::SignatureScheme],
    ) -> Result<Arc<dyn SigningKey>, SelectErrorKind> {
        Err(SelectErrorKind::KeyUnavailable)
    }
}

impl ResolvesClientCert for CredentialResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let p256_accepted = sigschemes.contains(&rustls::SignatureScheme::ECDSA_NISTP256_SHA256);
        let hints = self.extend_hints(root_hint_subjects);
        let mut schemes: heapless::Vec<SignatureScheme, 32> = heapless::Vec::new();
        for s in sigschemes {
            if schemes.push(SignatureScheme(u16::from(*s))).is_err() {
                break;
            }
        }
        let time = *self.time.lock();
        let choice = self.table.choose(time, &hints, &schemes);
        let (chosen, refusal) = match choice.result {
            Ok((der, key)) => match self.signing_key(key, sigschemes) {
                Ok(key) => {
                    // The slot's own chain when it holds one; else the intermediates the
                    // builder was given for every slot.
                    let mut chain = Vec::with_capacity(self.intermediates.len().saturating_add(1));
                    chain.push(CertificateDer::from(der));
                    if choice.intermediates.is_empty() {
                        chain.extend(self.intermediates.iter().cloned());
                    } else {
                        chain.extend(choice.intermediates.into_iter().map(CertificateDer::from));
                    }
                    (Some(Arc::new(CertifiedKey::new(chain, key))), None)
                }
                Err(kind) => (None, Some(kind)),
            },
            Err(kind) => (None, Some(kind)),
        };
        *self.asked.lock() = Some(ResolveRecord {
            ca_hints: root_hint_subjects.len(),
            p256_accepted,
            offered: chosen.is_some(),
            refusal,
            selection: choice.summary,
        });
        chosen
    }

    fn has_certs(&self) -> bool {
        // rustls uses this answer only to decide whether to keep a copy of the whole handshake
        // transcript, which a TLS 1.2 CertificateVerify signs. TLS 1.3 signs the transcript
        // hash, yet rustls 0.23 keeps the copy for both: a TLS 1.3-only client that answers
        // `false` saves that buffer (about 6 KB at the heap peak) and still authenticates.
        self.tls12_offered
    }
}

/// The (subject, issuer) Name DER of a certificate, or `None` if it does not parse. The slot
/// table's zero-copy walk finds both: decoding an owned `x509_cert::Certificate` here linked
/// x509-cert's whole decoder into a device image and took 3.3 KB of stack at setup.
fn name_link(cert: &CertificateDer<'_>) -> Option<(Vec<u8>, Vec<u8>)> {
    let c = CertFields::parse(cert.as_ref()).ok()?;
    Some((c.subject.to_vec(), c.issuer.to_vec()))
}

/// Whether two Name encodings are equal, with or without the outer SEQUENCE header (servers
/// differ in what they put in certificate_authorities).
fn names_equal(a: &[u8], b: &[u8]) -> bool {
    a == b || strip_sequence(a) == Some(b) || strip_sequence(b) == Some(a)
}

fn strip_sequence(n: &[u8]) -> Option<&[u8]> {
    use der::{Decode, Reader};
    let mut r = der::SliceReader::new(n).ok()?;
    let header = der::Header::decode(&mut r).ok()?;
    if header.tag != der::Tag::Sequence {
        return None;
    }
    let body = r.read_slice(header.length).ok()?;
    r.finish(()).ok()?;
    Some(body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::certs::{SharedSlotTable, SlotTable};

    /// With no key store given (or built without feature `key-store`), a slot whose key is a
    /// handle is refused as `key-unavailable`, never "no certificate qualifies".
    #[test]
    fn handle_slot_without_a_key_store_is_key_unavailable() {
        let table: SharedSlotTable = SharedSlotTable::new(SlotTable::new());
        let table: Arc<dyn SlotSource> = Arc::new(table);
        let r = CredentialResolver::new(table, Vec::new(), Default::default(), true);
        let offered = [rustls::SignatureScheme::ECDSA_NISTP256_SHA256];
        let refusal = r.signing_key(KeyRef::Handle(3), &offered).err();
        assert_eq!(refusal, Some(SelectErrorKind::KeyUnavailable));
    }
}
