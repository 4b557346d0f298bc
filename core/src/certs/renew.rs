//! Self-renewal of a client certificate. The device makes its next key pair (ECDSA P-256 from
//! the platform RNG, [`SlotTable::start_renewal`], or inside its secure element through
//! [`KeyStore::generate_p256`], [`SlotTable::start_renewal_in`]) into a pending slot, asks its CA for a
//! certificate with a PKCS#10 request (RFC 2986) carrying the subject and subjectAltName of the
//! certificate it renews, signed with the new key ([`SlotTable::renewal_request`]), and installs
//! what the CA issued ([`SlotTable::install_renewal`]): the certificate must be for the pending
//! key; it becomes active and its predecessor is archived in the same mutation, so one
//! [`SlotTable::commit`] persists both. A pending slot is never selected.
//!
//! The request is built with x509-cert's `request` types and encoded by `der`; the signature
//! is ECDSA P-256 with SHA-256 (RFC 5758 §3.2).

use alloc::vec::Vec;
use core::fmt;

use der::asn1::{Any, BitString, SetOfVec};
use der::{Decode, Encode};
use rand_core::CryptoRngCore;
use x509_cert::attr::Attribute;
use x509_cert::ext::Extension;
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq, Version};
use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};

use super::key::{InlineKey, KeyKind, KeyRef, Secret};
use super::meta::{self, CertError, KeyAlgorithm, OID_EC_PUBLIC_KEY, OID_P256};
use super::select::SignatureScheme;
use super::table::{InstallError, Liveness, Occupied, Pending, PendingKey, SlotIndex, SlotTable};
use crate::hal::{KeyStore, SignError, MAX_SIGNATURE_LEN, P256_PUBLIC_KEY_LEN};

/// subjectAltName (RFC 5280 §4.2.1.6).
const OID_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// ecdsa-with-SHA256 (RFC 5758 §3.2).
const OID_ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Why a renewal step was refused. The table is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RenewError {
    /// The table has no active certificate to renew.
    NoActiveCertificate,
    /// The slot named to renew does not hold an active certificate.
    NotActive(SlotIndex),
    /// A renewal is already pending in this slot (one at a time).
    PendingExists(SlotIndex),
    /// No renewal is pending: there is no key for a request or a certificate.
    NoPending,
    /// The certificate the pending key renews is no longer in the table, so the request
    /// has no subject to carry.
    PredecessorGone,
    /// The issued certificate's public key is not the pending key's.
    NotForPendingKey,
    /// The issued certificate (or its chain) was refused, as an install would refuse it.
    Certificate(InstallError),
    /// No empty slot and no archived slot to reclaim for the pending key.
    TableFull,
    /// The enrollment sequence counter is exhausted.
    SequenceExhausted,
    /// The request could not be encoded (a certificate whose subject or subjectAltName does not
    /// re-encode).
    Encoding,
    /// The key store failed to generate the key or to sign the request, or returned a public
    /// key or signature that is not valid P-256.
    KeyStore(SignError),
    /// The pending key is in the key store: make the request with
    /// [`SlotTable::renewal_request_with`].
    KeyStoreRequired,
}

impl RenewError {
    /// A short, stable name of the cause (for logs and the CLI).
    pub fn kind(&self) -> &'static str {
        match self {
            RenewError::NoActiveCertificate => "no-active-slot",
            RenewError::NotActive(_) => "not-active",
            RenewError::PendingExists(_) => "pending-exists",
            RenewError::NoPending => "no-pending",
            RenewError::PredecessorGone => "predecessor-gone",
            RenewError::NotForPendingKey => "key-not-pending",
            RenewError::Certificate(_) => "certificate-refused",
            RenewError::TableFull => "table-full",
            RenewError::SequenceExhausted => "sequence-exhausted",
            RenewError::Encoding => "request-encoding",
            RenewError::KeyStore(_) => "key-store",
            RenewError::KeyStoreRequired => "key-store-required",
        }
    }
}

impl fmt::Display for RenewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenewError::NoActiveCertificate => f.write_str(
                "no active certificate to renew: install one first (its subject and names are \
                 copied into the request)",
            ),
            RenewError::NotActive(i) => write!(
                f,
                "{i} holds no active certificate: name an active slot to renew, or restore it"
            ),
            RenewError::PendingExists(i) => write!(
                f,
                "a renewal is already pending in {i}: install its certificate, or abandon it \
                 before starting another"
            ),
            RenewError::NoPending => f.write_str(
                "no renewal is pending: enroll first (it makes the key the certificate must be \
                 issued for)",
            ),
            RenewError::PredecessorGone => f.write_str(
                "the certificate this renewal renews was removed: abandon the renewal and \
                 enroll again from an active certificate",
            ),
            RenewError::NotForPendingKey => f.write_str(
                "certificate not installed: its public key is not the pending key's (it was \
                 issued for another request; have the CA sign this device's latest request)",
            ),
            RenewError::Certificate(e) => write!(f, "{e}"),
            RenewError::TableFull => f.write_str(
                "no slot for the renewal key: every slot holds an active certificate; archive \
                 or remove one first",
            ),
            RenewError::SequenceExhausted => {
                f.write_str("certificate not installed: enrollment counter exhausted")
            }
            RenewError::Encoding => f.write_str(
                "the renewed certificate's subject or subjectAltName could not be encoded into a \
                 request",
            ),
            RenewError::KeyStore(e) => write!(
                f,
                "the key store could not make the renewal key or sign its request: {e}"
            ),
            RenewError::KeyStoreRequired => f.write_str(
                "the pending key is in the key store: the request must be signed through it",
            ),
        }
    }
}

impl core::error::Error for RenewError {}

impl From<der::Error> for RenewError {
    fn from(_: der::Error) -> Self {
        RenewError::Encoding
    }
}

/// The pending renewal, as shown to an admin (no secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PendingInfo {
    /// The slot the pending key occupies.
    pub index: SlotIndex,
    /// The slot of the certificate it renews (`None` when that certificate was removed).
    pub renews: Option<SlotIndex>,
    /// The pending key's algorithm.
    pub algorithm: KeyAlgorithm,
    /// Where the pending key is: inline, or a key-store handle.
    pub key: KeyKind,
}

impl<const SLOTS: usize, const CERT_MAX: usize> SlotTable<SLOTS, CERT_MAX> {
    /// The slot a renewal renews unless told otherwise: the newest active certificate (highest
    /// enrollment number).
    pub fn renewal_candidate(&self) -> Option<SlotIndex> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Some(o) if o.state == Liveness::Active => Some((o.enrollment, i)),
                _ => None,
            })
            .max()
            .map(|(_, i)| SlotIndex::new(i))
    }

    /// Start renewing the active certificate in slot `of`: generate an ECDSA P-256 key from
    /// `rng` into a pending slot (the first empty one, else the oldest archived one, reclaimed)
    /// and return that slot. The pending slot is never selected; [`Self::commit`] persists it
    /// (the key is stored like any inline key). Nothing changes on an error, and no random
    /// number is drawn before every check passed.
    pub fn start_renewal<R: CryptoRngCore>(
        &mut self,
        of: SlotIndex,
        rng: &mut R,
    ) -> Result<SlotIndex, RenewError> {
        self.check_start(of)?;
        let secret = p256::SecretKey::random(rng);
        // A scalar p256 generated is always a valid one.
        let key = InlineKey::from_p256_secret(&secret).map_err(|_| RenewError::Encoding)?;
        self.start_renewal_with_key(of, key)
    }

    /// [`Self::start_renewal`] with the key generated inside the platform's key store
    /// ([`KeyStore::generate_p256`]): the pending slot keeps its handle and public key, the
    /// request is signed through the store ([`Self::renewal_request_with`]), and the installed
    /// certificate's slot holds the handle ([`KeyRef::Handle`]).
    pub fn start_renewal_in(
        &mut self,
        of: SlotIndex,
        store: &dyn KeyStore,
    ) -> Result<SlotIndex, RenewError> {
        self.check_start(of)?;
        let (handle, public) = store.generate_p256().map_err(RenewError::KeyStore)?;
        if p256::PublicKey::from_sec1_bytes(&public).is_err() {
            return Err(RenewError::KeyStore(SignError::Device));
        }
        self.place_pending(of, PendingKey::Handle { handle, public })
    }

    /// [`Self::start_renewal`] with a key made elsewhere (it must be ECDSA P-256).
    pub(crate) fn start_renewal_with_key(
        &mut self,
        of: SlotIndex,
        key: InlineKey,
    ) -> Result<SlotIndex, RenewError> {
        if key.algorithm() != KeyAlgorithm::P256 {
            return Err(RenewError::Encoding);
        }
        self.place_pending(of, PendingKey::Inline(key))
    }

    fn place_pending(&mut self, of: SlotIndex, key: PendingKey) -> Result<SlotIndex, RenewError> {
        let renews = self.check_start(of)?;
        let index = self.free_slot().ok_or(RenewError::TableFull)?;
        let slot = self.slots.get_mut(index).ok_or(RenewError::TableFull)?;
        // Dropping a reclaimed archived slot's key zeroizes it.
        *slot = None;
        self.pending = Some(Pending { index, key, renews });
        Ok(SlotIndex::new(index))
    }

    /// The checks of a start; returns the enrollment number of the certificate renewed.
    fn check_start(&self, of: SlotIndex) -> Result<u64, RenewError> {
        if let Some(p) = &self.pending {
            return Err(RenewError::PendingExists(SlotIndex::new(p.index)));
        }
        if self.renewal_candidate().is_none() {
            return Err(RenewError::NoActiveCertificate);
        }
        match self.slots.get(of.get()) {
            Some(Some(o)) if o.state == Liveness::Active => Ok(o.enrollment),
            _ => Err(RenewError::NotActive(of)),
        }
    }

    /// The pending renewal, if any.
    pub fn pending(&self) -> Option<PendingInfo> {
        let p = self.pending.as_ref()?;
        Some(PendingInfo {
            index: SlotIndex::new(p.index),
            renews: self.slot_of_enrollment(p.renews).map(SlotIndex::new),
            algorithm: match &p.key {
                PendingKey::Inline(k) => k.algorithm(),
                PendingKey::Handle { .. } => KeyAlgorithm::P256,
            },
            key: match &p.key {
                PendingKey::Inline(_) => KeyKind::Inline,
                PendingKey::Handle { handle, .. } => KeyKind::Handle(*handle),
            },
        })
    }

    /// Drop the pending renewal key (zeroized); returns whether there was one. Its slot is
    /// empty again. A key in the key store stays there: deleting it is the platform's.
    pub fn abandon_renewal(&mut self) -> bool {
        self.pending.take().is_some()
    }

    fn slot_of_enrollment(&self, enrollment: u64) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|o| o.enrollment == enrollment))
    }

    /// The PKCS#10 certification request (DER) for the pending key: the subject and the
    /// subjectAltName extension (as an extensionRequest attribute) of the certificate it
    /// renews, the pending key's public key, signed ECDSA P-256 SHA-256 with that key. The
    /// same table gives the same request (RFC 6979 signatures), so a lost request can be
    /// made again.
    pub fn renewal_request(&self) -> Result<Vec<u8>, RenewError> {
        self.request_signed_by(None)
    }

    /// [`Self::renewal_request`] for a pending key of either kind: one in the key store is
    /// signed through `store` (and the signature checked against its public key).
    pub fn renewal_request_with(&self, store: &dyn KeyStore) -> Result<Vec<u8>, RenewError> {
        self.request_signed_by(Some(store))
    }

    fn request_signed_by(&self, store: Option<&dyn KeyStore>) -> Result<Vec<u8>, RenewError> {
        let p = self.pending.as_ref().ok_or(RenewError::NoPending)?;
        let renewed = self
            .slot_of_enrollment(p.renews)
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
            .ok_or(RenewError::PredecessorGone)?;
        match (&p.key, store) {
            (PendingKey::Inline(key), _) => request(renewed, &RequestKey::Inline(key)),
            (PendingKey::Handle { handle, public }, Some(store)) => request(
                renewed,
                &RequestKey::Store {
                    store,
                    handle: *handle,
                    public,
                },
            ),
            (PendingKey::Handle { .. }, None) => Err(RenewError::KeyStoreRequired),
        }
    }

    /// Install the certificate the CA issued for the pending key, with its intermediate CA
    /// certificates (as [`Self::install_chain`] takes them). Its public key must be the
    /// pending key's ([`RenewError::NotForPendingKey`] otherwise) and it must pass every
    /// install check. It becomes active in the pending slot with the pending key, and in the
    /// same mutation the certificate it renews (and any other active one of the same subject)
    /// is archived: one [`Self::commit`] persists both. The table is unchanged on an error.
    pub fn install_renewal(
        &mut self,
        cert_der: &[u8],
        intermediates: &[&[u8]],
    ) -> Result<SlotIndex, RenewError> {
        let p = self.pending.as_ref().ok_or(RenewError::NoPending)?;
        let inline = match &p.key {
            PendingKey::Inline(k) => Some(k),
            PendingKey::Handle { public, .. } => {
                // The store's key: the certificate must carry exactly its public key.
                let parsed = meta::parse(cert_der)
                    .map_err(|e| RenewError::Certificate(InstallError::Malformed(e)))?;
                if parsed.meta.key_algorithm() != KeyAlgorithm::P256
                    || parsed.public_key != public.as_slice()
                {
                    return Err(RenewError::NotForPendingKey);
                }
                None
            }
        };
        let meta = self
            .prepare(cert_der, intermediates, inline)
            .map_err(|e| match e {
                InstallError::KeyMismatch | InstallError::InlineKeyAlgorithm { .. } => {
                    RenewError::NotForPendingKey
                }
                e => RenewError::Certificate(e),
            })?;
        let enrollment = self.next_enrollment;
        let next = enrollment
            .checked_add(1)
            .ok_or(RenewError::SequenceExhausted)?;
        let (index, renews) = (p.index, p.renews);
        let predecessor = self.slot_of_enrollment(renews);
        if self.slots.get(index).is_none() {
            return Err(RenewError::NoPending);
        }
        // Every check passed: mutate.
        let Some(p) = self.pending.take() else {
            return Err(RenewError::NoPending);
        };
        if let Some(slot) = self.slots.get_mut(index) {
            let key = match p.key {
                PendingKey::Inline(k) => KeyRef::Inline(k),
                PendingKey::Handle { handle, .. } => KeyRef::Handle(handle),
            };
            Occupied::store(
                slot,
                Liveness::Active,
                key,
                enrollment,
                meta,
                cert_der,
                intermediates,
            )
            .map_err(RenewError::Certificate)?;
        }
        if let Some(Some(old)) = predecessor.and_then(|i| self.slots.get_mut(i)) {
            old.state = Liveness::Archived;
        }
        self.archive_others_of_identity(index);
        self.next_enrollment = next;
        self.observe_time(meta.not_before());
        Ok(SlotIndex::new(index))
    }
}

/// An inline pending key's P-256 secret (renewal keys are P-256).
fn inline_secret(key: &InlineKey) -> Result<p256::SecretKey, RenewError> {
    // Without `p384` and `rsa-sign` a P-256 scalar is the only secret there is.
    #[allow(irrefutable_let_patterns)]
    let Secret::P256(scalar) = key.secret() else {
        return Err(RenewError::Encoding);
    };
    p256::SecretKey::from_slice(scalar).map_err(|_| RenewError::Encoding)
}

fn inline_public(key: &InlineKey) -> Result<p256::PublicKey, RenewError> {
    Ok(inline_secret(key)?.public_key())
}

/// The key a request is for and signed with.
enum RequestKey<'a> {
    Inline(&'a InlineKey),
    Store {
        store: &'a dyn KeyStore,
        handle: u32,
        public: &'a [u8; P256_PUBLIC_KEY_LEN],
    },
}

/// The request for `key`, copying subject and subjectAltName from `renewed`'s leaf.
fn request<const CERT_MAX: usize>(
    renewed: &Occupied<CERT_MAX>,
    key: &RequestKey<'_>,
) -> Result<Vec<u8>, RenewError> {
    let cert = x509_cert::Certificate::from_der(renewed.leaf())
        .map_err(|_| RenewError::Certificate(InstallError::Malformed(CertError::Malformed)))?;
    let tbs = cert.tbs_certificate;
    let names: Vec<Extension> = tbs
        .extensions
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.extn_id == OID_SUBJECT_ALT_NAME)
        .collect();
    let mut attributes = SetOfVec::new();
    if !names.is_empty() {
        attributes.insert(Attribute::try_from(ExtensionReq(names))?)?;
    }
    let public = match key {
        RequestKey::Inline(k) => inline_public(k)?,
        RequestKey::Store { public, .. } => p256::PublicKey::from_sec1_bytes(public.as_slice())
            .map_err(|_| RenewError::KeyStore(SignError::Device))?,
    };
    let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&public, false);
    let info = CertReqInfo {
        version: Version::V1,
        subject: tbs.subject,
        public_key: SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: OID_EC_PUBLIC_KEY,
                parameters: Some(Any::encode_from(&OID_P256)?),
            },
            subject_public_key: BitString::from_bytes(point.as_bytes())?,
        },
        attributes,
    };
    let signed = info.to_der()?;
    let signature = match key {
        RequestKey::Inline(k) => {
            let signer = p256::ecdsa::SigningKey::from(&inline_secret(k)?);
            let signature: p256::ecdsa::Signature =
                p256::ecdsa::signature::Signer::sign(&signer, &signed);
            signature.to_der()
        }
        RequestKey::Store { store, handle, .. } => {
            let mut out = [0u8; MAX_SIGNATURE_LEN];
            let n = store
                .sign(
                    *handle,
                    SignatureScheme::ECDSA_NISTP256_SHA256,
                    &signed,
                    &mut out,
                )
                .map_err(RenewError::KeyStore)?;
            let der = out
                .get(..n)
                .ok_or(RenewError::KeyStore(SignError::Device))?;
            let signature = p256::ecdsa::Signature::from_der(der)
                .map_err(|_| RenewError::KeyStore(SignError::Device))?;
            // A request the CA would refuse is not sent: the store's signature must verify.
            p256::ecdsa::signature::Verifier::verify(
                &p256::ecdsa::VerifyingKey::from(&public),
                &signed,
                &signature,
            )
            .map_err(|_| RenewError::KeyStore(SignError::Device))?;
            signature.to_der()
        }
    };
    CertReq {
        info,
        algorithm: AlgorithmIdentifierOwned {
            oid: OID_ECDSA_WITH_SHA256,
            parameters: None,
        },
        signature: BitString::from_bytes(signature.as_bytes())?,
    }
    .to_der()
    .map_err(RenewError::from)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use crate::certs::testutil::CertSpec;
    use crate::certs::{
        AdminError, SelectionContext, SignatureScheme, SkipReason, SlotState, TimeSource,
    };
    use alloc::vec;
    use der::oid::AssociatedOid;
    use p256::ecdsa::signature::Verifier;
    use rand_core::OsRng;

    type Table = SlotTable<4, 1024>;

    /// A P-256 key as an inline key and as PKCS#8 (to certify it in tests).
    fn fresh_key() -> (InlineKey, Vec<u8>) {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let pkcs8 = kp.serialize_der();
        (InlineKey::from_pkcs8_der(&pkcs8).unwrap(), pkcs8)
    }

    /// Decode a request and check its signature with the public key it carries.
    fn verified(req: &[u8]) -> CertReq {
        let r = CertReq::from_der(req).unwrap();
        assert_eq!(r.algorithm.oid, OID_ECDSA_WITH_SHA256);
        assert_eq!(r.info.public_key.algorithm.oid, OID_EC_PUBLIC_KEY);
        let point = r.info.public_key.subject_public_key.raw_bytes();
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).unwrap();
        let sig = p256::ecdsa::Signature::from_der(r.signature.raw_bytes()).unwrap();
        vk.verify(&r.info.to_der().unwrap(), &sig).unwrap();
        r
    }

    fn select_ctx() -> SelectionContext<'static> {
        SelectionContext {
            time: TimeSource::Unknown,
            acceptable_cas: &[],
            schemes: &[SignatureScheme::ECDSA_NISTP256_SHA256],
        }
    }

    #[test]
    fn request_carries_the_subject_and_names_and_is_signed_by_the_pending_key() {
        let old = CertSpec::new("device-7")
            .san("device-7.example.org")
            .san("device-7.lab.example.org")
            .make();
        let mut t = Table::new();
        t.install(&old.der, old.key_ref()).unwrap();
        let i = t.start_renewal(SlotIndex::new(0), &mut OsRng).unwrap();
        assert_eq!(i, SlotIndex::new(1));
        assert_eq!(t.state(i), Some(SlotState::Pending));
        assert_eq!(
            t.pending(),
            Some(PendingInfo {
                index: i,
                renews: Some(SlotIndex::new(0)),
                algorithm: KeyAlgorithm::P256,
                key: KeyKind::Inline,
            })
        );
        let req = t.renewal_request().unwrap();
        let r = verified(&req);
        let old_cert = x509_cert::Certificate::from_der(&old.der).unwrap();
        assert_eq!(r.info.subject, old_cert.tbs_certificate.subject);
        let san = old_cert
            .tbs_certificate
            .extensions
            .unwrap()
            .into_iter()
            .find(|e| e.extn_id == OID_SUBJECT_ALT_NAME)
            .unwrap();
        assert_eq!(r.info.attributes.len(), 1);
        let attr = r.info.attributes.iter().next().unwrap();
        assert_eq!(attr.oid, ExtensionReq::OID);
        let requested: Vec<Extension> = attr.values.iter().next().unwrap().decode_as().unwrap();
        assert_eq!(requested, vec![san]);
        // The request's key is the pending key, not the old one.
        let point = r.info.public_key.subject_public_key.raw_bytes();
        let Some(Pending {
            key: PendingKey::Inline(pending_key),
            ..
        }) = &t.pending
        else {
            unreachable!()
        };
        assert!(pending_key.matches_public_key(point));
        let KeyRef::Inline(old_key) = old.key_ref() else {
            unreachable!()
        };
        assert!(!old_key.matches_public_key(point));
        // The same table gives the same request (a lost one is made again).
        assert_eq!(t.renewal_request().unwrap(), req);
        // A certificate without subjectAltName: a request without attributes.
        let bare = CertSpec::new("bare").make();
        let mut t = Table::new();
        t.install(&bare.der, bare.key_ref()).unwrap();
        t.start_renewal(SlotIndex::new(0), &mut OsRng).unwrap();
        assert_eq!(
            verified(&t.renewal_request().unwrap())
                .info
                .attributes
                .len(),
            0
        );
    }

    #[test]
    fn install_renewal_activates_it_and_archives_the_predecessor_in_one_step() {
        let old = CertSpec::new("dev").make();
        let other = CertSpec::new("other").make();
        let mut t = Table::new();
        t.install(&old.der, old.key_ref()).unwrap();
        t.install(&other.der, other.key_ref()).unwrap();
        let (key, pkcs8) = fresh_key();
        let p = t.start_renewal_with_key(SlotIndex::new(0), key).unwrap();
        assert_eq!(p, SlotIndex::new(2));
        // The pending slot is never selected, and says why.
        let sel = t.select(&select_ctx()).unwrap();
        assert_eq!(sel.index(), SlotIndex::new(1));
        assert_eq!(sel.explanation().reason(p), Some(SkipReason::Pending));

        let before = t.clone();
        let wrong = CertSpec::new("dev").make();
        assert_eq!(
            t.install_renewal(&wrong.der, &[]),
            Err(RenewError::NotForPendingKey)
        );
        #[cfg(feature = "p384")]
        {
            let p384 = CertSpec::new("dev").p384().make();
            assert_eq!(
                t.install_renewal(&p384.der, &[]),
                Err(RenewError::NotForPendingKey)
            );
        }
        assert_eq!(
            t.install_renewal(&[0x30, 0x03, 1, 2, 3], &[]),
            Err(RenewError::Certificate(InstallError::Malformed(
                CertError::Malformed
            )))
        );
        assert_eq!(
            t.install_renewal(&old.der, &[]),
            Err(RenewError::NotForPendingKey)
        );
        assert_eq!(t, before);

        // The CA may rename the device: the predecessor is archived all the same.
        let issued = CertSpec::new("dev-renamed").with_key(&pkcs8).make();
        let i = t.install_renewal(&issued.der, &[]).unwrap();
        assert_eq!(i, p);
        use SlotState::*;
        let states: Vec<_> = (0..4)
            .map(|j| t.state(SlotIndex::new(j)).unwrap())
            .collect();
        assert_eq!(states, [Archived, Active, Active, Empty]);
        assert_eq!(t.pending(), None);
        assert_eq!(t.get(i).unwrap().der(), issued.der);
        assert_eq!(t.get(i).unwrap().enrollment(), 3);
        assert_eq!(t.select(&select_ctx()).unwrap().index(), i);
        assert_eq!(
            t.install_renewal(&issued.der, &[]),
            Err(RenewError::NoPending)
        );
    }

    #[test]
    fn refusals_name_the_problem_and_change_nothing() {
        let mut t = Table::new();
        assert_eq!(
            t.start_renewal(SlotIndex::new(0), &mut OsRng),
            Err(RenewError::NoActiveCertificate)
        );
        assert_eq!(t.renewal_request(), Err(RenewError::NoPending));
        assert_eq!(t.install_renewal(&[], &[]), Err(RenewError::NoPending));
        let a = CertSpec::new("a").make();
        let b = CertSpec::new("b").make();
        t.install(&a.der, a.key_ref()).unwrap();
        t.install(&b.der, b.key_ref()).unwrap();
        t.archive(SlotIndex::new(1)).unwrap();
        for i in [1, 2, 9] {
            assert_eq!(
                t.start_renewal(SlotIndex::new(i), &mut OsRng),
                Err(RenewError::NotActive(SlotIndex::new(i)))
            );
        }
        assert_eq!(t.renewal_candidate(), Some(SlotIndex::new(0)));
        let p = t.start_renewal(SlotIndex::new(0), &mut OsRng).unwrap();
        let with_pending = t.clone();
        assert_eq!(
            t.start_renewal(SlotIndex::new(0), &mut OsRng),
            Err(RenewError::PendingExists(p))
        );
        assert_eq!(t.archive(p), Err(AdminError::SlotPending(p)));
        assert_eq!(t.restore(p), Err(AdminError::SlotPending(p)));
        // Installs go around the pending slot, never into it.
        let c = CertSpec::new("c").make();
        assert_eq!(t.install(&c.der, c.key_ref()), Ok(SlotIndex::new(3)));
        assert_eq!(t.state(p), Some(SlotState::Pending));
        t = with_pending.clone();
        // The renewed certificate removed: the request cannot be made.
        t.remove(SlotIndex::new(0)).unwrap();
        assert_eq!(t.renewal_request(), Err(RenewError::PredecessorGone));
        assert_eq!(t.pending().unwrap().renews, None);
        // Removing the pending slot (or abandoning) drops the key.
        t.remove(p).unwrap();
        assert_eq!(t.pending(), None);
        assert_eq!(t.state(p), Some(SlotState::Empty));
        let mut t = with_pending;
        assert!(t.abandon_renewal());
        assert!(!t.abandon_renewal());
        // Every slot active: no room for a renewal key.
        let mut full = Table::new();
        for n in ["a", "b", "c", "d"] {
            let c = CertSpec::new(n).make();
            full.install(&c.der, c.key_ref()).unwrap();
        }
        let before = full.clone();
        assert_eq!(
            full.start_renewal(SlotIndex::new(0), &mut OsRng),
            Err(RenewError::TableFull)
        );
        assert_eq!(full, before);
        let line = alloc::format!("{}", RenewError::NotForPendingKey);
        assert!(line.contains("not the pending key's"), "{line}");
    }

    /// A secure element holding one P-256 key it "generates" on request.
    struct Element {
        key: p256::ecdsa::SigningKey,
        /// Signs with this other key instead (a broken element).
        wrong: Option<p256::ecdsa::SigningKey>,
        /// Hands out this point instead of its key's.
        point: Option<[u8; P256_PUBLIC_KEY_LEN]>,
        generates: bool,
    }

    impl Element {
        fn new(pkcs8: &[u8]) -> Self {
            use p256::pkcs8::DecodePrivateKey;
            Element {
                key: p256::ecdsa::SigningKey::from_pkcs8_der(pkcs8).unwrap(),
                wrong: None,
                point: None,
                generates: true,
            }
        }
    }

    impl KeyStore for Element {
        fn has_key(&self, handle: u32) -> bool {
            handle == 42
        }
        fn supports(&self, handle: u32, scheme: SignatureScheme) -> bool {
            handle == 42 && scheme == SignatureScheme::ECDSA_NISTP256_SHA256
        }
        fn sign(
            &self,
            handle: u32,
            _scheme: SignatureScheme,
            message: &[u8],
            out: &mut [u8],
        ) -> Result<usize, SignError> {
            use p256::ecdsa::signature::Signer;
            if handle != 42 {
                return Err(SignError::KeyUnavailable);
            }
            let signer = self.wrong.as_ref().unwrap_or(&self.key);
            let sig: p256::ecdsa::Signature = signer.sign(message);
            let der = sig.to_der();
            out[..der.as_bytes().len()].copy_from_slice(der.as_bytes());
            Ok(der.as_bytes().len())
        }
        fn generate_p256(&self) -> Result<(u32, [u8; P256_PUBLIC_KEY_LEN]), SignError> {
            if !self.generates {
                return Err(SignError::UnsupportedScheme);
            }
            let point = self.key.verifying_key().to_encoded_point(false);
            Ok((
                42,
                self.point.unwrap_or(point.as_bytes().try_into().unwrap()),
            ))
        }
    }

    #[test]
    fn renewal_key_generated_in_the_key_store_is_requested_and_installed_by_handle() {
        let old = CertSpec::new("dev").san("dev.example.org").make();
        let mut t = Table::new();
        t.install(&old.der, old.key_ref()).unwrap();
        let (_, pkcs8) = fresh_key();
        let se = Element::new(&pkcs8);
        let p = t.start_renewal_in(SlotIndex::new(0), &se).unwrap();
        assert_eq!(t.pending().unwrap().key, KeyKind::Handle(42));
        assert_eq!(t.state(p), Some(SlotState::Pending));
        // The request is signed through the store, for the store's key.
        assert_eq!(t.renewal_request(), Err(RenewError::KeyStoreRequired));
        let r = verified(&t.renewal_request_with(&se).unwrap());
        let point = se.key.verifying_key().to_encoded_point(false);
        assert_eq!(
            r.info.public_key.subject_public_key.raw_bytes(),
            point.as_bytes()
        );
        let before = t.clone();
        let wrong = CertSpec::new("dev").make();
        assert_eq!(
            t.install_renewal(&wrong.der, &[]),
            Err(RenewError::NotForPendingKey)
        );
        assert_eq!(t, before);
        let issued = CertSpec::new("dev").with_key(&pkcs8).make();
        let i = t.install_renewal(&issued.der, &[]).unwrap();
        assert_eq!(i, p);
        assert_eq!(t.get(i).unwrap().key_kind(), KeyKind::Handle(42));
        assert_eq!(t.state(SlotIndex::new(0)), Some(SlotState::Archived));
        let sel = t.select(&select_ctx()).unwrap();
        assert_eq!((sel.index(), sel.key()), (i, &KeyRef::Handle(42)));
    }

    #[test]
    fn a_key_store_that_cannot_generate_or_signs_wrongly_is_refused() {
        let old = CertSpec::new("dev").make();
        let mut t = Table::new();
        t.install(&old.der, old.key_ref()).unwrap();
        let before = t.clone();
        let (_, pkcs8) = fresh_key();
        let mut se = Element::new(&pkcs8);
        se.generates = false;
        assert_eq!(
            t.start_renewal_in(SlotIndex::new(0), &se),
            Err(RenewError::KeyStore(SignError::UnsupportedScheme))
        );
        let mut se = Element::new(&pkcs8);
        se.point = Some([4; P256_PUBLIC_KEY_LEN]);
        assert_eq!(
            t.start_renewal_in(SlotIndex::new(0), &se),
            Err(RenewError::KeyStore(SignError::Device))
        );
        assert_eq!(t, before);
        // An element whose signature is not by the key it reported: no request comes out.
        let mut se = Element::new(&pkcs8);
        se.wrong = Some(p256::ecdsa::SigningKey::random(&mut OsRng));
        t.start_renewal_in(SlotIndex::new(0), &se).unwrap();
        assert_eq!(
            t.renewal_request_with(&se),
            Err(RenewError::KeyStore(SignError::Device))
        );
    }
}
