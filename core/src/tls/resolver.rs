//! The client-certificate resolver rustls calls on a CertificateRequest. Backed by the
//! certificate slot table ([`crate::certs`]): the server's acceptable CA names and signature
//! schemes feed the selection, only an active slot's certificate and key come out, and the
//! outcome — the slot chosen and why every other slot lost, or why nothing qualified — is
//! recorded so the supplicant can report it (and refuse to go on without a certificate).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::CertificateDer;
use rustls::sign::{CertifiedKey, SigningKey};

use crate::certs::{
    KeyRef, SelectErrorKind, SelectionContext, SignatureScheme, SkipReason, SlotIndex, SlotTable,
    TimeSource,
};
use crate::tls::provider::EcdsaP256SigningKey;

/// How many per-slot reasons a record keeps (tables larger than this report the first ones).
pub const MAX_REPORTED_SLOTS: usize = 16;

/// A device's single certificate chain and the key that signs for it (no slot table).
#[derive(Clone)]
pub struct ClientCredential {
    /// Leaf first, then intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// The signing key (inline, or a [`crate::hal::Signer`] behind
    /// [`crate::tls::provider::HalSigningKey`]).
    pub key: Arc<dyn SigningKey>,
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientCredential({} certificates)", self.chain.len())
    }
}

/// Keys that live outside the table (a secure element): turns a slot's key handle into a
/// rustls signing key, e.g. a [`crate::tls::provider::HalSigningKey`] over the element.
pub trait HandleKeys: Send + Sync {
    /// The signing key for `handle`, if the element has it.
    fn signing_key(&self, handle: u32) -> Option<Arc<dyn SigningKey>>;
}

/// The key of a chosen slot.
pub enum ChosenKey {
    /// A ready signing key (from inline key bytes).
    Signing(Arc<dyn SigningKey>),
    /// A secure-element handle, resolved through [`HandleKeys`].
    Handle(u32),
}

/// What a slot source decided for one CertificateRequest.
pub struct Choice {
    /// The chosen slot's certificate and key, or why nothing qualified.
    pub result: Result<(CertificateDer<'static>, ChosenKey), SelectErrorKind>,
    /// The chosen slot and every other slot's reason, and the time used.
    pub summary: SelectionSummary,
}

/// The selection policy seam between the resolver and a slot table of any size. Implemented
/// for `spin::Mutex<SlotTable<..>>` (and references to it), so the table may live in a
/// `static` on the MCU or in an `Arc` on a host, and the platform can still install a renewed
/// certificate between two authentications.
pub trait SlotSource: Send + Sync {
    /// Select for a CertificateRequest. `wall` is the platform's wall time, if it has one.
    fn choose(&self, wall: Option<u64>, cas: &[&[u8]], schemes: &[SignatureScheme]) -> Choice;
    /// Raise the table's persisted time floor (after a successful authentication).
    fn observe_time(&self, t: u64);
}

impl<const SLOTS: usize, const CERT_MAX: usize> SlotSource
    for spin::Mutex<SlotTable<SLOTS, CERT_MAX>>
{
    fn choose(&self, wall: Option<u64>, cas: &[&[u8]], schemes: &[SignatureScheme]) -> Choice {
        let table = self.lock();
        let time = table.effective_time(wall);
        let ctx = SelectionContext {
            time,
            acceptable_cas: cas,
            schemes,
        };
        match table.select(&ctx) {
            Ok(sel) => {
                let summary = SelectionSummary::from_reasons(
                    time,
                    Some(sel.index()),
                    sel.explanation().iter(),
                );
                let key = match sel.key() {
                    KeyRef::Inline(k) => match p256::SecretKey::from_slice(k.expose_secret()) {
                        Ok(sk) => ChosenKey::Signing(Arc::new(EcdsaP256SigningKey::new(&sk))),
                        // Checked at install; unreachable in practice, refused if it happens.
                        Err(_) => {
                            return Choice {
                                result: Err(SelectErrorKind::NoneQualify),
                                summary,
                            };
                        }
                    },
                    KeyRef::Handle(h) => ChosenKey::Handle(*h),
                };
                let cert = CertificateDer::from(sel.der().to_vec());
                Choice {
                    result: Ok((cert, key)),
                    summary,
                }
            }
            Err(e) => Choice {
                result: Err(e.kind()),
                summary: SelectionSummary::from_reasons(time, None, e.explanation().iter()),
            },
        }
    }

    fn observe_time(&self, t: u64) {
        self.lock().observe_time(t);
    }
}

impl<T: SlotSource + ?Sized> SlotSource for &'static T {
    fn choose(&self, wall: Option<u64>, cas: &[&[u8]], schemes: &[SignatureScheme]) -> Choice {
        (**self).choose(wall, cas, schemes)
    }

    fn observe_time(&self, t: u64) {
        (**self).observe_time(t)
    }
}

/// The chosen slot and the reason every other slot was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionSummary {
    /// The time the validity checks used (wall clock or persisted floor).
    pub time: TimeSource,
    /// The chosen slot, if any.
    pub chosen: Option<SlotIndex>,
    /// Every other slot and why it lost (empty slots left out).
    pub skipped: heapless::Vec<(SlotIndex, SkipReason), MAX_REPORTED_SLOTS>,
}

impl SelectionSummary {
    fn from_reasons(
        time: TimeSource,
        chosen: Option<SlotIndex>,
        reasons: impl Iterator<Item = (SlotIndex, Option<SkipReason>)>,
    ) -> Self {
        let mut skipped = heapless::Vec::new();
        for (i, r) in reasons {
            if let Some(r) = r {
                if r != SkipReason::Empty && skipped.push((i, r)).is_err() {
                    break;
                }
            }
        }
        SelectionSummary {
            time,
            chosen,
            skipped,
        }
    }
}

impl fmt::Display for SelectionSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.chosen {
            Some(i) => write!(f, "{i} chosen")?,
            None => f.write_str("no slot chosen")?,
        }
        for (i, r) in &self.skipped {
            write!(f, "; {i}: {r}")?;
        }
        write!(f, "; time: {}", self.time)
    }
}

/// What happened when the server asked for a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveRecord {
    /// Number of acceptable CA names the server sent.
    pub ca_hints: usize,
    /// The server accepts ECDSA P-256 SHA-256 signatures.
    pub p256_accepted: bool,
    /// A certificate was offered.
    pub offered: bool,
    /// Why no certificate was offered, when none was.
    pub refusal: Option<SelectErrorKind>,
    /// The slot-table selection, when the credential comes from a table.
    pub selection: Option<SelectionSummary>,
}

enum Source {
    Single(Option<Arc<CertifiedKey>>),
    Table {
        table: Arc<dyn SlotSource>,
        intermediates: Vec<CertificateDer<'static>>,
        /// (subject, issuer) Name DER of each intermediate, for walking the server's CA hints
        /// down to the CA that issued our leaves.
        links: Vec<(Vec<u8>, Vec<u8>)>,
        handle_keys: Option<Arc<dyn HandleKeys>>,
    },
}

/// Resolves the client certificate for each handshake, from a single credential or from the
/// slot table, and remembers what the server asked for and what was offered.
pub struct CredentialResolver {
    source: Source,
    /// Refuse to continue the handshake without a certificate (the default): the supplicant
    /// fails with the selection's reason instead of sending an empty Certificate message.
    pub require_certificate: bool,
    wall: spin::Mutex<Option<u64>>,
    asked: spin::Mutex<Option<ResolveRecord>>,
    /// Whether TLS 1.2 may be negotiated (see `has_certs`).
    tls12_offered: bool,
}

impl fmt::Debug for CredentialResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.source {
            Source::Single(_) => "single",
            Source::Table { .. } => "slot table",
        };
        write!(f, "CredentialResolver({kind})")
    }
}

impl CredentialResolver {
    /// A resolver for one fixed credential (or none: the handshake then fails when the server
    /// asks for a certificate, unless `require_certificate` is cleared).
    pub fn single(cred: Option<ClientCredential>) -> Self {
        let certified = cred.map(|c| Arc::new(CertifiedKey::new(c.chain, c.key)));
        Self::with_source(Source::Single(certified))
    }

    /// A resolver backed by a slot table. `intermediates` are sent after the chosen leaf;
    /// `handle_keys` resolves secure-element key handles.
    pub fn slot_table(
        table: Arc<dyn SlotSource>,
        intermediates: Vec<CertificateDer<'static>>,
        handle_keys: Option<Arc<dyn HandleKeys>>,
    ) -> Self {
        let links = intermediates.iter().filter_map(|c| name_link(c)).collect();
        Self::with_source(Source::Table {
            table,
            intermediates,
            links,
            handle_keys,
        })
    }

    fn with_source(source: Source) -> Self {
        CredentialResolver {
            source,
            require_certificate: true,
            wall: spin::Mutex::new(None),
            asked: spin::Mutex::new(None),
            tls12_offered: true,
        }
    }

    /// Tell the resolver whether the configuration may negotiate TLS 1.2 (set by
    /// [`crate::tls::ClientSetup`]).
    pub(crate) fn set_tls12_offered(&mut self, offered: bool) {
        self.tls12_offered = offered;
    }

    /// What the last handshake's certificate request looked like, if there was one.
    pub fn last_request(&self) -> Option<ResolveRecord> {
        self.asked.lock().clone()
    }

    /// Forget the last request (before a new handshake) and set the wall time, if the platform
    /// has one, for the validity checks of the selection.
    pub fn reset(&self, wall: Option<u64>) {
        *self.asked.lock() = None;
        *self.wall.lock() = wall;
    }

    /// If the server asked for a certificate and none was offered while one is required: why.
    pub fn refusal(&self) -> Option<SelectErrorKind> {
        if !self.require_certificate {
            return None;
        }
        let rec = self.asked.lock();
        let rec = rec.as_ref()?;
        if rec.offered {
            None
        } else {
            Some(rec.refusal.unwrap_or(SelectErrorKind::SchemeNotAccepted))
        }
    }

    /// After a successful authentication at wall time `t`: raise the table's time floor.
    pub fn observe_time(&self, t: u64) {
        if let Source::Table { table, .. } = &self.source {
            table.observe_time(t);
        }
    }

    fn choose_from_table(
        &self,
        table: &dyn SlotSource,
        intermediates: &[CertificateDer<'static>],
        handle_keys: Option<&Arc<dyn HandleKeys>>,
        cas: &[&[u8]],
        schemes: &[SignatureScheme],
    ) -> (
        Option<Arc<CertifiedKey>>,
        Option<SelectErrorKind>,
        SelectionSummary,
    ) {
        let wall = *self.wall.lock();
        let choice = table.choose(wall, cas, schemes);
        let (cert, key) = match choice.result {
            Ok(v) => v,
            Err(kind) => return (None, Some(kind), choice.summary),
        };
        let key = match key {
            ChosenKey::Signing(k) => Some(k),
            ChosenKey::Handle(h) => handle_keys.and_then(|hk| hk.signing_key(h)),
        };
        let Some(key) = key else {
            return (None, Some(SelectErrorKind::NoneQualify), choice.summary);
        };
        let mut chain = Vec::with_capacity(1 + intermediates.len());
        chain.push(cert);
        chain.extend(intermediates.iter().cloned());
        (
            Some(Arc::new(CertifiedKey::new(chain, key))),
            None,
            choice.summary,
        )
    }
}

impl ResolvesClientCert for CredentialResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let p256_accepted = sigschemes.contains(&rustls::SignatureScheme::ECDSA_NISTP256_SHA256);
        let (chosen, refusal, selection) = match &self.source {
            Source::Single(c) => {
                let chosen = if p256_accepted { c.clone() } else { None };
                let refusal = match (c, p256_accepted) {
                    (None, _) => Some(SelectErrorKind::NoCertificates),
                    (Some(_), false) => Some(SelectErrorKind::SchemeNotAccepted),
                    (Some(_), true) => None,
                };
                (chosen, refusal, None)
            }
            Source::Table {
                table,
                intermediates,
                links,
                handle_keys,
            } => {
                // A server usually names only its root CA while our leaves come from an
                // intermediate we send along: accept an intermediate whose issuer the server
                // named (walking up to the root) as if the server had named it too.
                let mut hints: Vec<&[u8]> = root_hint_subjects.to_vec();
                if !hints.is_empty() {
                    for _ in 0..links.len() {
                        let mut grew = false;
                        for (subject, issuer) in links {
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
                }
                let mut schemes: heapless::Vec<SignatureScheme, 32> = heapless::Vec::new();
                for s in sigschemes {
                    if schemes.push(SignatureScheme(u16::from(*s))).is_err() {
                        break;
                    }
                }
                let (c, r, s) = self.choose_from_table(
                    table.as_ref(),
                    intermediates,
                    handle_keys.as_ref(),
                    &hints,
                    &schemes,
                );
                (c, r, Some(s))
            }
        };
        *self.asked.lock() = Some(ResolveRecord {
            ca_hints: root_hint_subjects.len(),
            p256_accepted,
            offered: chosen.is_some(),
            refusal,
            selection,
        });
        chosen
    }

    fn has_certs(&self) -> bool {
        // rustls uses this answer only to decide whether to keep a copy of the whole handshake
        // transcript, which a TLS 1.2 CertificateVerify signs. TLS 1.3 signs the transcript
        // hash, yet rustls 0.23 keeps the copy for both: a TLS 1.3-only client that answers
        // `false` saves that buffer (about 6 KB at the heap peak) and still authenticates.
        if !self.tls12_offered {
            return false;
        }
        match &self.source {
            Source::Single(c) => c.is_some(),
            Source::Table { .. } => true,
        }
    }
}

/// The (subject, issuer) Name DER of a certificate, or `None` if it does not parse.
fn name_link(cert: &CertificateDer<'_>) -> Option<(Vec<u8>, Vec<u8>)> {
    use der::{Decode, Encode};
    let c = x509_cert::Certificate::from_der(cert.as_ref()).ok()?;
    let subject = c.tbs_certificate.subject.to_der().ok()?;
    let issuer = c.tbs_certificate.issuer.to_der().ok()?;
    Some((subject, issuer))
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
