//! Certificate selection for a TLS CertificateRequest (RFC 5246 §7.4.4, RFC 8446 §4.3.2): the
//! rules of design.md §6 applied to every slot, with the reason each skipped slot lost. Only an
//! active slot can become a [`Selected`]; an archived one is never chosen, whatever matches.

use core::fmt;

use super::key::KeyRef;
use super::meta::{KeyAlgorithm, Metadata, NameRef};
use super::table::{ActiveSlot, Liveness, Occupied, SlotIndex, SlotTable};
use super::time::TimeSource;

/// A TLS SignatureScheme code point (RFC 8446 §4.2.3), kept as a number so this module does not
/// depend on rustls' types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SignatureScheme(pub u16);

impl SignatureScheme {
    /// ecdsa_secp256r1_sha256.
    pub const ECDSA_NISTP256_SHA256: Self = SignatureScheme(0x0403);
    /// ecdsa_secp384r1_sha384.
    pub const ECDSA_NISTP384_SHA384: Self = SignatureScheme(0x0503);
    /// rsa_pkcs1_sha256.
    pub const RSA_PKCS1_SHA256: Self = SignatureScheme(0x0401);
    /// rsa_pkcs1_sha384.
    pub const RSA_PKCS1_SHA384: Self = SignatureScheme(0x0501);
    /// rsa_pkcs1_sha512.
    pub const RSA_PKCS1_SHA512: Self = SignatureScheme(0x0601);
    /// rsa_pss_rsae_sha256.
    pub const RSA_PSS_RSAE_SHA256: Self = SignatureScheme(0x0804);
    /// rsa_pss_rsae_sha384.
    pub const RSA_PSS_RSAE_SHA384: Self = SignatureScheme(0x0805);
    /// rsa_pss_rsae_sha512.
    pub const RSA_PSS_RSAE_SHA512: Self = SignatureScheme(0x0806);

    /// Whether a key of `alg` can sign with this scheme. ECDSA schemes are bound to their curve,
    /// as in TLS 1.3 (TLS 1.2's ecdsa_sha256 with a P-384 key is not offered).
    pub fn usable_with(self, alg: KeyAlgorithm) -> bool {
        match alg {
            KeyAlgorithm::P256 => self == Self::ECDSA_NISTP256_SHA256,
            KeyAlgorithm::P384 => self == Self::ECDSA_NISTP384_SHA384,
            KeyAlgorithm::Rsa => matches!(
                self,
                Self::RSA_PKCS1_SHA256
                    | Self::RSA_PKCS1_SHA384
                    | Self::RSA_PKCS1_SHA512
                    | Self::RSA_PSS_RSAE_SHA256
                    | Self::RSA_PSS_RSAE_SHA384
                    | Self::RSA_PSS_RSAE_SHA512
            ),
            KeyAlgorithm::Other => false,
        }
    }
}

/// What the server asked for, and the time to check validity against.
#[derive(Debug, Clone, Copy)]
pub struct SelectionContext<'a> {
    /// The time the validity window is checked against (see [`TimeSource`]).
    pub time: TimeSource,
    /// The server's certificate_authorities, each a DER-encoded Name exactly as rustls 0.23
    /// passes `root_hint_subjects` (outer SEQUENCE included; the bare contents are accepted
    /// too). Empty: the server named none, so any issuer is acceptable.
    pub acceptable_cas: &'a [&'a [u8]],
    /// The signature schemes the server accepts. Empty means none is acceptable.
    pub schemes: &'a [SignatureScheme],
}

/// Why a slot was not selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SkipReason {
    /// Nothing stored.
    Empty,
    /// Archived: never selected, whatever else matches.
    Archived,
    /// notAfter has passed.
    Expired,
    /// notBefore has not come yet (only a wall clock can tell).
    NotYetValid,
    /// The extended key usage does not allow TLS client authentication.
    NoClientAuthUsage,
    /// Its issuer is not among the CAs the server named.
    IssuerNotAccepted,
    /// The server accepts no signature scheme this key can make.
    SchemeNotAccepted,
    /// It qualified, but a newer enrollment in another slot won.
    Superseded {
        /// The slot that was selected.
        by: SlotIndex,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Empty => f.write_str("empty"),
            SkipReason::Archived => f.write_str("archived (never used until restored)"),
            SkipReason::Expired => f.write_str("certificate expired"),
            SkipReason::NotYetValid => f.write_str("certificate not yet valid"),
            SkipReason::NoClientAuthUsage => {
                f.write_str("certificate usage does not allow client authentication")
            }
            SkipReason::IssuerNotAccepted => {
                f.write_str("issuer is not among the CAs the server accepts")
            }
            SkipReason::SchemeNotAccepted => {
                f.write_str("server accepts no signature scheme this key can make")
            }
            SkipReason::Superseded { by } => write!(f, "superseded by the newer {by}"),
        }
    }
}

/// The per-slot verdicts of one selection and the time they used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Explanation<const SLOTS: usize> {
    time: TimeSource,
    reasons: [Option<SkipReason>; SLOTS],
}

impl<const SLOTS: usize> Explanation<SLOTS> {
    /// The time the validity checks used.
    pub fn time(&self) -> TimeSource {
        self.time
    }
    /// Why slot `i` was skipped; `None` for the selected slot (or an index out of range).
    pub fn reason(&self, i: SlotIndex) -> Option<SkipReason> {
        self.reasons.get(i.get()).copied().flatten()
    }
    /// Every slot with its reason (`None`: selected).
    pub fn iter(&self) -> impl Iterator<Item = (SlotIndex, Option<SkipReason>)> + '_ {
        self.reasons
            .iter()
            .enumerate()
            .map(|(i, r)| (SlotIndex::new(i), *r))
    }
}

impl<const SLOTS: usize> fmt::Display for Explanation<SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "time: {}", self.time)?;
        for (i, reason) in self.iter() {
            match reason {
                Some(r) => write!(f, "; {i}: {r}")?,
                None => write!(f, "; {i}: selected")?,
            }
        }
        Ok(())
    }
}

/// The certificate chosen for a handshake. Only an active slot can produce one: the
/// constructor is private to this module and takes an [`ActiveSlot`], which only the table
/// makes, after checking the state.
#[derive(Debug)]
pub struct Selected<'a, const SLOTS: usize> {
    index: SlotIndex,
    der: &'a [u8],
    key: &'a KeyRef,
    meta: &'a Metadata,
    explanation: Explanation<SLOTS>,
}

impl<'a, const SLOTS: usize> Selected<'a, SLOTS> {
    fn new(slot: ActiveSlot<'a>, explanation: Explanation<SLOTS>) -> Self {
        Selected {
            index: slot.index,
            der: slot.der,
            key: slot.key,
            meta: slot.meta,
            explanation,
        }
    }
    /// The slot it came from.
    pub fn index(&self) -> SlotIndex {
        self.index
    }
    /// The certificate DER to send.
    pub fn der(&self) -> &'a [u8] {
        self.der
    }
    /// The key to sign CertificateVerify with.
    pub fn key(&self) -> &'a KeyRef {
        self.key
    }
    /// The certificate's metadata.
    pub fn metadata(&self) -> &'a Metadata {
        self.meta
    }
    /// Why every other slot was skipped, and which time was used.
    pub fn explanation(&self) -> &Explanation<SLOTS> {
        &self.explanation
    }
}

/// Why no certificate could be selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SelectErrorKind {
    /// The table holds no certificate at all.
    NoCertificates,
    /// Only archived certificates would match (the KB932521 situation).
    OnlyArchivedMatch,
    /// Certificates are stored, but none is active and no archived one would match either.
    NoActiveCertificate,
    /// Every active certificate has expired.
    AllExpired,
    /// No active certificate is valid yet.
    AllNotYetValid,
    /// No active certificate allows client authentication.
    NoClientAuthUsage,
    /// No active certificate is issued by a CA the server accepts.
    IssuerNotAccepted,
    /// The server accepts no signature scheme any active key can make.
    SchemeNotAccepted,
    /// Active certificates fail for different reasons; see the explanation.
    NoneQualify,
}

impl fmt::Display for SelectErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SelectErrorKind::NoCertificates => "no client certificate installed",
            SelectErrorKind::OnlyArchivedMatch => {
                "only archived certificates match: renew or restore one"
            }
            SelectErrorKind::NoActiveCertificate => {
                "no active client certificate (archived ones would not match either)"
            }
            SelectErrorKind::AllExpired => "every active client certificate has expired",
            SelectErrorKind::AllNotYetValid => "no active client certificate is valid yet",
            SelectErrorKind::NoClientAuthUsage => {
                "no active certificate allows client authentication (extended key usage)"
            }
            SelectErrorKind::IssuerNotAccepted => {
                "no active certificate is issued by a CA the server accepts"
            }
            SelectErrorKind::SchemeNotAccepted => {
                "the server accepts no signature scheme our keys can make"
            }
            SelectErrorKind::NoneQualify => {
                "no active client certificate qualifies (see the per-slot reasons)"
            }
        })
    }
}

/// No certificate selected: the cause and every slot's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SelectError<const SLOTS: usize> {
    kind: SelectErrorKind,
    explanation: Explanation<SLOTS>,
}

impl<const SLOTS: usize> SelectError<SLOTS> {
    /// The cause.
    pub fn kind(&self) -> SelectErrorKind {
        self.kind
    }
    /// Why each slot was skipped, and which time was used.
    pub fn explanation(&self) -> &Explanation<SLOTS> {
        &self.explanation
    }
}

impl<const SLOTS: usize> fmt::Display for SelectError<SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kind, self.explanation)
    }
}

/// Every rule but the state, in a fixed order; the first failure is the reason.
fn check_rules<const CERT_MAX: usize>(
    slot: &Occupied<CERT_MAX>,
    ctx: &SelectionContext<'_>,
) -> Result<(), SkipReason> {
    let meta = &slot.meta;
    if ctx.time.proves_expired(meta.not_after()) {
        return Err(SkipReason::Expired);
    }
    if ctx.time.proves_not_yet_valid(meta.not_before()) {
        return Err(SkipReason::NotYetValid);
    }
    if !meta.extended_key_usage().permits_client_auth() {
        return Err(SkipReason::NoClientAuthUsage);
    }
    let issuer: NameRef<'_> = slot.issuer();
    if !ctx.acceptable_cas.is_empty() && !ctx.acceptable_cas.iter().any(|h| issuer.matches_hint(h))
    {
        return Err(SkipReason::IssuerNotAccepted);
    }
    let alg = meta.key_algorithm();
    if !ctx.schemes.iter().any(|s| s.usable_with(alg)) {
        return Err(SkipReason::SchemeNotAccepted);
    }
    Ok(())
}

impl<const SLOTS: usize, const CERT_MAX: usize> SlotTable<SLOTS, CERT_MAX> {
    /// Choose the certificate for a CertificateRequest. Candidates are active slots within
    /// validity (against `ctx.time`; see [`TimeSource`]), allowing client authentication, issued
    /// by a CA the server named (when it named any), with a key usable with an accepted scheme.
    /// Among them the highest enrollment number wins, then the latest notBefore, then the lowest
    /// index. Archived slots are never candidates.
    pub fn select(
        &self,
        ctx: &SelectionContext<'_>,
    ) -> Result<Selected<'_, SLOTS>, SelectError<SLOTS>> {
        let mut reasons: [Option<SkipReason>; SLOTS] = [None; SLOTS];
        let mut best: Option<(u64, u64, usize)> = None;
        let mut any_occupied = false;
        let mut any_active = false;
        let mut archived_would_match = false;
        // The reason shared by every failing active slot, if they all share one.
        let mut common: Option<Option<SkipReason>> = None;

        for (i, (slot, reason)) in self.slots.iter().zip(reasons.iter_mut()).enumerate() {
            let Some(occ) = slot else {
                *reason = Some(SkipReason::Empty);
                continue;
            };
            any_occupied = true;
            let verdict = check_rules(occ, ctx);
            match occ.state {
                Liveness::Archived => {
                    archived_would_match |= verdict.is_ok();
                    *reason = Some(SkipReason::Archived);
                }
                Liveness::Active => {
                    any_active = true;
                    match verdict {
                        Err(r) => {
                            *reason = Some(r);
                            common = match common {
                                None => Some(Some(r)),
                                Some(Some(c)) if c == r => Some(Some(c)),
                                Some(_) => Some(None),
                            };
                        }
                        Ok(()) => {
                            let rank = (occ.enrollment, occ.meta.not_before());
                            // Strictly greater: ties keep the lower index.
                            if best.is_none_or(|(e, nb, _)| rank > (e, nb)) {
                                best = Some((rank.0, rank.1, i));
                            }
                        }
                    }
                }
            }
        }

        if let Some((_, _, winner)) = best {
            let by = SlotIndex::new(winner);
            for (i, reason) in reasons.iter_mut().enumerate() {
                if reason.is_none() && i != winner {
                    *reason = Some(SkipReason::Superseded { by });
                }
            }
            let explanation = Explanation {
                time: ctx.time,
                reasons,
            };
            if let Some(slot) = self.active_slot(winner) {
                return Ok(Selected::new(slot, explanation));
            }
        }

        let kind = if !any_occupied {
            SelectErrorKind::NoCertificates
        } else if archived_would_match {
            SelectErrorKind::OnlyArchivedMatch
        } else if !any_active {
            SelectErrorKind::NoActiveCertificate
        } else {
            match common.flatten() {
                Some(SkipReason::Expired) => SelectErrorKind::AllExpired,
                Some(SkipReason::NotYetValid) => SelectErrorKind::AllNotYetValid,
                Some(SkipReason::NoClientAuthUsage) => SelectErrorKind::NoClientAuthUsage,
                Some(SkipReason::IssuerNotAccepted) => SelectErrorKind::IssuerNotAccepted,
                Some(SkipReason::SchemeNotAccepted) => SelectErrorKind::SchemeNotAccepted,
                _ => SelectErrorKind::NoneQualify,
            }
        };
        Err(SelectError {
            kind,
            explanation: Explanation {
                time: ctx.time,
                reasons,
            },
        })
    }
}
