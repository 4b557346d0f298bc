//! Certificate selection for a TLS CertificateRequest (RFC 5246 §7.4.4, RFC 8446 §4.3.2),
//! applied to every slot with the reason each skipped slot lost. The rules: only an active slot
//! qualifies (an archived one is never chosen, whatever matches); it must be valid at the time in
//! use (wall clock, or the persisted floor: see [`TimeSource`]), allow client authentication and
//! have a key that can make a signature scheme the server accepts. The server's acceptable-CA
//! list ranks the qualifying slots but never vetoes them: in TLS 1.2 a certificate of the
//! chain SHOULD be issued by a listed CA (RFC 5246 §7.4.6), in TLS 1.3 the list is a hint
//! (RFC 8446 §4.2.4), and servers often list only some of the CAs they accept. A slot whose chain the hint names wins over one it does
//! not; then the newest enrollment wins. When none is named the best usable slot is still sent
//! and the explanation says the hint did not match, as `eapol_test` (wpa_supplicant) does.

use core::fmt;

use super::key::KeyRef;
use super::meta::{KeyAlgorithm, Metadata, NameRef};
use super::table::{ActiveSlot, Certs, Liveness, Occupied, SlotIndex, SlotTable};
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
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
#[non_exhaustive]
pub enum SkipReason {
    /// Nothing stored.
    Empty,
    /// Archived: never selected, whatever else matches.
    Archived,
    /// A pending renewal key with no certificate yet: never selected.
    Pending,
    /// notAfter has passed.
    Expired,
    /// notBefore has not come yet (only a wall clock can tell).
    NotYetValid,
    /// The extended key usage does not allow TLS client authentication.
    NoClientAuthUsage,
    /// It qualified, but the server's CA list named another slot's chain and not this one's,
    /// so that slot was preferred.
    IssuerNotNamed {
        /// The slot that was selected.
        by: SlotIndex,
    },
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
            SkipReason::Pending => {
                f.write_str("pending renewal key, waiting for its certificate (never used)")
            }
            SkipReason::Expired => f.write_str("certificate expired"),
            SkipReason::NotYetValid => f.write_str("certificate not yet valid"),
            SkipReason::NoClientAuthUsage => {
                f.write_str("certificate usage does not allow client authentication")
            }
            SkipReason::IssuerNotNamed { by } => write!(
                f,
                "issuer not among the CAs the server named; {by}, whose CA it named, preferred"
            ),
            SkipReason::SchemeNotAccepted => {
                f.write_str("server accepts no signature scheme this key can make")
            }
            SkipReason::Superseded { by } => write!(f, "superseded by the newer {by}"),
        }
    }
}

/// How the server's acceptable-CA list bore on a selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum HintMatch {
    /// The server named no CA (or nothing was selected): nothing to match.
    NoHint,
    /// The selected slot's chain leads to a CA the server named.
    Matched,
    /// The server named CAs, none of them in the selected slot's chain (nor in any other
    /// usable slot's): the best usable certificate was sent anyway.
    NotMatched,
}

impl fmt::Display for HintMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HintMatch::NoHint => "the server named no CA",
            HintMatch::Matched => "the server's CA list names its chain",
            HintMatch::NotMatched => {
                "the server's CA list names none of our chains; sent the best usable \
                 certificate anyway"
            }
        })
    }
}

/// The per-slot verdicts of one selection and the time they used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Explanation<const SLOTS: usize> {
    time: TimeSource,
    hint: HintMatch,
    reasons: [Option<SkipReason>; SLOTS],
}

impl<const SLOTS: usize> Explanation<SLOTS> {
    /// The time the validity checks used.
    pub fn time(&self) -> TimeSource {
        self.time
    }
    /// Whether the server's CA list named the selected slot's chain.
    pub fn hint(&self) -> HintMatch {
        self.hint
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
        if self.hint == HintMatch::NotMatched {
            write!(f, "; {}", self.hint)?;
        }
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
    chain: &'a [u8],
    key: &'a KeyRef,
    meta: &'a Metadata,
    explanation: Explanation<SLOTS>,
}

#[cfg(feature = "defmt")]
impl<const SLOTS: usize> defmt::Format for Selected<'_, SLOTS> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Selected({})", self.index())
    }
}

impl<'a, const SLOTS: usize> Selected<'a, SLOTS> {
    fn new(slot: ActiveSlot<'a>, explanation: Explanation<SLOTS>) -> Self {
        Selected {
            index: slot.index,
            der: slot.der,
            chain: slot.chain,
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
    /// The intermediate CA certificates to send after it, in order (the leaf's issuer first).
    pub fn intermediates(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        Certs(self.chain)
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
#[non_exhaustive]
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
    /// The server accepts no signature scheme any active key can make.
    SchemeNotAccepted,
    /// Active certificates fail for different reasons; see the explanation.
    NoneQualify,
    /// A certificate was chosen but its key is not available: the secure element holding it
    /// is absent, locked, or does not have that key handle.
    KeyUnavailable,
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
            SelectErrorKind::SchemeNotAccepted => {
                "the server accepts no signature scheme our keys can make"
            }
            SelectErrorKind::NoneQualify => {
                "no active client certificate qualifies (see the per-slot reasons)"
            }
            SelectErrorKind::KeyUnavailable => {
                "the chosen certificate's key is not available (secure element absent, locked, \
                 or without that key)"
            }
        })
    }
}

impl core::error::Error for SelectErrorKind {}

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

/// Whether the server's acceptable-CA list names a CA of the slot's chain: the leaf's issuer
/// or the issuer of any intermediate stored with it (up to the root).
fn names_a_hint<const CERT_MAX: usize>(slot: &Occupied<CERT_MAX>, hints: &[&[u8]]) -> bool {
    slot.chain_names()
        .any(|name: NameRef<'_>| hints.iter().any(|h| name.matches_hint(h)))
}

/// Every rule but the state and the CA hint, in a fixed order; the first failure is the reason.
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
    let alg = meta.key_algorithm();
    if !ctx.schemes.iter().any(|s| s.usable_with(alg)) {
        return Err(SkipReason::SchemeNotAccepted);
    }
    Ok(())
}

impl<const SLOTS: usize, const CERT_MAX: usize> SlotTable<SLOTS, CERT_MAX> {
    /// Choose the certificate for a CertificateRequest. Candidates are active slots within
    /// validity (against `ctx.time`; see [`TimeSource`]), allowing client authentication, with a
    /// key usable with an accepted scheme. Among them a slot whose chain the server's CA list
    /// names wins (when it names any), then the highest enrollment number, then the latest
    /// notBefore, then the lowest index. The CA list only ranks: when it names no candidate's
    /// chain the best candidate is still chosen, and [`Explanation::hint`] says
    /// [`HintMatch::NotMatched`]. Archived slots are never candidates.
    pub fn select(
        &self,
        ctx: &SelectionContext<'_>,
    ) -> Result<Selected<'_, SLOTS>, SelectError<SLOTS>> {
        let mut reasons: [Option<SkipReason>; SLOTS] = [None; SLOTS];
        // Which qualifying slots the CA list names (all of them when it names none).
        let mut named = [false; SLOTS];
        let mut best: Option<((bool, u64, u64), usize)> = None;
        let mut any_occupied = false;
        let mut any_active = false;
        let mut archived_would_match = false;
        // The reason shared by every failing active slot, if they all share one.
        let mut common: Option<Option<SkipReason>> = None;

        for (i, ((slot, reason), named)) in self
            .slots
            .iter()
            .zip(reasons.iter_mut())
            .zip(named.iter_mut())
            .enumerate()
        {
            let Some(occ) = slot else {
                *reason = Some(if self.pending_at(i) {
                    SkipReason::Pending
                } else {
                    SkipReason::Empty
                });
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
                            *named = ctx.acceptable_cas.is_empty()
                                || names_a_hint(occ, ctx.acceptable_cas);
                            let rank = (*named, occ.enrollment, occ.meta.not_before());
                            // Strictly greater: ties keep the lower index.
                            if best.is_none_or(|(r, _)| rank > r) {
                                best = Some((rank, i));
                            }
                        }
                    }
                }
            }
        }

        if let Some(((winner_named, _, _), winner)) = best {
            let by = SlotIndex::new(winner);
            for (i, (reason, named)) in reasons.iter_mut().zip(named).enumerate() {
                if reason.is_none() && i != winner {
                    *reason = Some(if winner_named && !named {
                        SkipReason::IssuerNotNamed { by }
                    } else {
                        SkipReason::Superseded { by }
                    });
                }
            }
            let hint = if ctx.acceptable_cas.is_empty() {
                HintMatch::NoHint
            } else if winner_named {
                HintMatch::Matched
            } else {
                HintMatch::NotMatched
            };
            let explanation = Explanation {
                time: ctx.time,
                hint,
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
                Some(SkipReason::SchemeNotAccepted) => SelectErrorKind::SchemeNotAccepted,
                _ => SelectErrorKind::NoneQualify,
            }
        };
        Err(SelectError {
            kind,
            explanation: Explanation {
                time: ctx.time,
                hint: HintMatch::NoHint,
                reasons,
            },
        })
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    extern crate std;

    use super::*;
    use crate::certs::testutil::{ca_subject, CertSpec, Eku, KeyType, CA_COUNT};
    use crate::certs::SlotState;
    use alloc::vec::Vec;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    const P256_ONLY: &[SignatureScheme] = &[SignatureScheme::ECDSA_NISTP256_SHA256];

    fn ymd(y: i32, m: u8, d: u8) -> u64 {
        rcgen::date_time_ymd(y, m, d).unix_timestamp() as u64
    }

    fn ctx(time: TimeSource) -> SelectionContext<'static> {
        SelectionContext {
            time,
            acceptable_cas: &[],
            schemes: P256_ONLY,
        }
    }

    #[test]
    fn empty_table_has_no_certificates() {
        let table = SlotTable::<3, 512>::new();
        let err = table.select(&ctx(TimeSource::Unknown)).unwrap_err();
        assert_eq!(err.kind(), SelectErrorKind::NoCertificates);
        assert_eq!(
            err.explanation().reason(SlotIndex::new(2)),
            Some(SkipReason::Empty)
        );
    }

    #[test]
    fn renewed_certificate_wins_and_predecessor_is_archived() {
        let mut table = SlotTable::<4, 1024>::new();
        let old = CertSpec::new("dev").make();
        let new = CertSpec::new("dev").make();
        table.install(&old.der, old.key_ref()).unwrap();
        table.install(&new.der, new.key_ref()).unwrap();
        let sel = table
            .select(&ctx(TimeSource::Wall(ymd(2025, 1, 1))))
            .unwrap();
        assert_eq!(sel.index(), SlotIndex::new(1));
        assert_eq!(sel.der(), new.der);
        assert_eq!(sel.key(), &new.key_ref());
        let why = sel.explanation();
        assert_eq!(why.reason(SlotIndex::new(0)), Some(SkipReason::Archived));
        assert_eq!(why.time(), TimeSource::Wall(ymd(2025, 1, 1)));
    }

    #[test]
    fn only_archived_match_is_reported_kb932521() {
        // The valid certificate is archived; the active one has expired.
        let mut table = SlotTable::<4, 1024>::new();
        let good = CertSpec::new("dev").make();
        let expired = CertSpec::new("other")
            .validity((2020, 1, 1), (2021, 1, 1))
            .make();
        table.install(&good.der, good.key_ref()).unwrap();
        table.install(&expired.der, expired.key_ref()).unwrap();
        table.archive(SlotIndex::new(0)).unwrap();
        let err = table
            .select(&ctx(TimeSource::Wall(ymd(2025, 1, 1))))
            .unwrap_err();
        assert_eq!(err.kind(), SelectErrorKind::OnlyArchivedMatch);
        let text = alloc::format!("{err}");
        assert!(
            text.starts_with("only archived certificates match: renew or restore one"),
            "{text}"
        );
        assert!(text.contains("slot 1: certificate expired"), "{text}");
        table.restore(SlotIndex::new(0)).unwrap();
        assert!(table
            .select(&ctx(TimeSource::Wall(ymd(2025, 1, 1))))
            .is_ok());
    }

    #[test]
    fn floor_proves_expiry_but_not_future_notbefore() {
        let mut table = SlotTable::<2, 1024>::new();
        let future = CertSpec::new("dev")
            .validity((2030, 1, 1), (2035, 1, 1))
            .make();
        table.install(&future.der, KeyRef::Handle(1)).unwrap();
        // Floor below notBefore: not provably invalid, selected.
        let sel = table.select(&ctx(TimeSource::Floor(ymd(2025, 1, 1))));
        assert!(sel.is_ok());
        // The same instant on a wall clock is proof.
        let err = table
            .select(&ctx(TimeSource::Wall(ymd(2025, 1, 1))))
            .unwrap_err();
        assert_eq!(err.kind(), SelectErrorKind::AllNotYetValid);
        let err = table
            .select(&ctx(TimeSource::Floor(ymd(2036, 1, 1))))
            .unwrap_err();
        assert_eq!(err.kind(), SelectErrorKind::AllExpired);
        // Install raised the floor to notBefore.
        assert_eq!(table.time_floor(), future.not_before);
    }

    #[test]
    fn issuer_hints_match_rustls_form_and_scheme_is_checked() {
        let mut table = SlotTable::<2, 1024>::new();
        let c = CertSpec::new("dev").issuer(1).make();
        table.install(&c.der, c.key_ref()).unwrap();
        let ca1 = ca_subject(1);
        let ca2 = ca_subject(2);
        let hints: [&[u8]; 1] = [&ca1];
        let mut cx = ctx(TimeSource::Unknown);
        cx.acceptable_cas = &hints;
        assert!(table.select(&cx).is_ok());
        assert_eq!(
            table.select(&cx).unwrap().explanation().hint(),
            HintMatch::Matched
        );
        // A hint naming another CA ranks, it does not veto: the only usable slot is still
        // chosen, and the explanation says the hint did not match.
        let hints: [&[u8]; 1] = [&ca2];
        cx.acceptable_cas = &hints;
        let sel = table.select(&cx).unwrap();
        assert_eq!(sel.explanation().hint(), HintMatch::NotMatched);
        let shown = alloc::format!("{}", sel.explanation());
        assert!(shown.contains("names none of our chains"), "{shown}");
        cx.acceptable_cas = &[];
        cx.schemes = &[SignatureScheme::ECDSA_NISTP384_SHA384];
        assert_eq!(
            table.select(&cx).unwrap_err().kind(),
            SelectErrorKind::SchemeNotAccepted
        );
    }

    #[test]
    fn hint_naming_the_root_or_intermediate_of_a_slot_chain_matches_it() {
        use crate::certs::testutil::{intermediate_der, intermediate_subject};
        let leaf = CertSpec::new("dev").via_intermediate().make();
        let int = intermediate_der();
        let root = ca_subject(0);
        let issuing = intermediate_subject();
        let other = ca_subject(2);
        let mut chained = SlotTable::<2, 2048>::new();
        let i = chained
            .install_chain(&leaf.der, &[&int], leaf.key_ref())
            .unwrap();
        let mut bare = SlotTable::<2, 2048>::new();
        bare.install(&leaf.der, leaf.key_ref()).unwrap();
        for hint in [&root, &issuing] {
            let hints: [&[u8]; 2] = [&other, hint];
            let mut cx = ctx(TimeSource::Unknown);
            cx.acceptable_cas = &hints;
            let sel = chained.select(&cx).unwrap();
            assert_eq!(sel.index(), i);
            assert_eq!(sel.intermediates().collect::<Vec<_>>(), [int.as_slice()]);
        }
        // The leaf alone names only its direct issuer: the root hint does not reach it (it
        // is still sent, as the only usable certificate).
        let mut cx = ctx(TimeSource::Unknown);
        let hints: [&[u8]; 1] = [&root];
        cx.acceptable_cas = &hints;
        assert_eq!(
            bare.select(&cx).unwrap().explanation().hint(),
            HintMatch::NotMatched
        );
        let hints: [&[u8]; 1] = [&issuing];
        cx.acceptable_cas = &hints;
        assert_eq!(
            bare.select(&cx).unwrap().explanation().hint(),
            HintMatch::Matched
        );
    }

    #[test]
    fn hints_rank_named_chains_first_and_never_veto() {
        // Slot 0: an older certificate from CA 1; slot 1: a newer one from CA 2 (another
        // identity, so both stay active); slot 2: archived, from CA 1.
        let mut table = SlotTable::<3, 1024>::new();
        let from1 = CertSpec::new("one").issuer(1).make();
        let from2 = CertSpec::new("two").issuer(2).make();
        let old1 = CertSpec::new("old").issuer(1).make();
        table.insert_raw(0, &from1.der, from1.key_ref(), SlotState::Active, 1);
        table.insert_raw(1, &from2.der, from2.key_ref(), SlotState::Active, 2);
        table.insert_raw(2, &old1.der, old1.key_ref(), SlotState::Archived, 9);
        let (ca1, ca2, ca0) = (ca_subject(1), ca_subject(2), ca_subject(0));
        let pick = |hints: &[&[u8]]| {
            let mut cx = ctx(TimeSource::Unknown);
            cx.acceptable_cas = hints;
            let sel = table.select(&cx).unwrap();
            (sel.index().get(), *sel.explanation())
        };
        // No hint: the newest enrollment wins.
        let (i, why) = pick(&[]);
        assert_eq!((i, why.hint()), (1, HintMatch::NoHint));
        // A hint naming CA 1 puts the older slot first; the newer one lost to the hint.
        let (i, why) = pick(&[&ca1]);
        assert_eq!((i, why.hint()), (0, HintMatch::Matched));
        assert_eq!(
            why.reason(SlotIndex::new(1)),
            Some(SkipReason::IssuerNotNamed {
                by: SlotIndex::new(0)
            })
        );
        // The archived slot matches the hint too, and is still never chosen.
        assert_eq!(why.reason(SlotIndex::new(2)), Some(SkipReason::Archived));
        let (i, _) = pick(&[&ca2]);
        assert_eq!(i, 1);
        // A hint naming neither: the best usable slot is sent, and said not to match.
        let (i, why) = pick(&[&ca0]);
        assert_eq!((i, why.hint()), (1, HintMatch::NotMatched));
        assert_eq!(
            why.reason(SlotIndex::new(0)),
            Some(SkipReason::Superseded {
                by: SlotIndex::new(1)
            })
        );
    }

    #[test]
    #[cfg(all(feature = "p384", feature = "rsa-sign"))]
    fn slot_whose_key_can_sign_no_offered_scheme_is_skipped_with_that_reason() {
        let mut table = SlotTable::<3, 1024>::new();
        let rsa = CertSpec::new("rsa").rsa().make();
        let p384 = CertSpec::new("p384").p384().make();
        let p256 = CertSpec::new("p256").make();
        let i_rsa = table.install(&rsa.der, rsa.key_ref()).unwrap();
        let i_384 = table.install(&p384.der, p384.key_ref()).unwrap();
        let i_256 = table.install(&p256.der, p256.key_ref()).unwrap();
        let at = TimeSource::Wall(ymd(2030, 1, 1));
        let pick = |schemes: &[SignatureScheme]| {
            let cx = SelectionContext {
                time: at,
                acceptable_cas: &[],
                schemes,
            };
            match table.select(&cx) {
                Ok(s) => (Some(s.index()), *s.explanation()),
                Err(e) => (None, *e.explanation()),
            }
        };
        // A P-256-only server: the RSA and P-384 slots cannot sign for it.
        let (chosen, why) = pick(&[SignatureScheme::ECDSA_NISTP256_SHA256]);
        assert_eq!(chosen, Some(i_256));
        assert_eq!(why.reason(i_rsa), Some(SkipReason::SchemeNotAccepted));
        assert_eq!(why.reason(i_384), Some(SkipReason::SchemeNotAccepted));
        // A TLS 1.3 offer (no PKCS#1 v1.5) with RSA-PSS only: the RSA slot is the candidate.
        let (chosen, why) = pick(&[SignatureScheme::RSA_PSS_RSAE_SHA256]);
        assert_eq!(chosen, Some(i_rsa));
        assert_eq!(why.reason(i_256), Some(SkipReason::SchemeNotAccepted));
        // A TLS 1.2 server taking PKCS#1 v1.5 only still takes the RSA key.
        let (chosen, _) = pick(&[SignatureScheme::RSA_PKCS1_SHA256]);
        assert_eq!(chosen, Some(i_rsa));
        // P-384 only.
        let (chosen, why) = pick(&[SignatureScheme::ECDSA_NISTP384_SHA384]);
        assert_eq!(chosen, Some(i_384));
        assert_eq!(why.reason(i_rsa), Some(SkipReason::SchemeNotAccepted));
        // Nothing anyone can make: every slot gives that reason.
        let (chosen, why) = pick(&[SignatureScheme(0x0807)]);
        assert_eq!(chosen, None);
        for i in [i_rsa, i_384, i_256] {
            assert_eq!(why.reason(i), Some(SkipReason::SchemeNotAccepted));
        }
    }

    // ---- property test over random tables built from a cached certificate pool ----

    struct PoolCert {
        der: Vec<u8>,
        issuer: usize,
        eku: Eku,
        kind: KeyType,
        /// The certificate's own private key (inline slots hold it).
        key: KeyRef,
        not_before: u64,
        not_after: u64,
    }

    struct Pool {
        certs: Vec<PoolCert>,
        times: Vec<u64>,
        hints: Vec<Vec<u8>>,
    }

    type Ymd = (i32, u8, u8);
    const WINDOWS: [(Ymd, Ymd); 4] = [
        ((2020, 1, 1), (2040, 1, 1)),
        ((2020, 1, 1), (2022, 1, 1)),
        ((2030, 1, 1), (2035, 1, 1)),
        ((2024, 6, 1), (2026, 6, 1)),
    ];

    fn pool() -> &'static Pool {
        static POOL: OnceLock<Pool> = OnceLock::new();
        POOL.get_or_init(|| {
            let mut certs = Vec::new();
            for (w, (from, to)) in WINDOWS.iter().enumerate() {
                for issuer in 0..CA_COUNT {
                    for eku in Eku::ALL {
                        for kind in KeyType::ALL {
                            // Keep P-384 and RSA to a subset: keygen and size are not the point.
                            if kind != KeyType::P256 && (w + issuer) % 2 == 1 {
                                continue;
                            }
                            #[cfg(not(all(feature = "p384", feature = "rsa-sign")))]
                            if kind != KeyType::P256 {
                                continue;
                            }
                            let m = CertSpec::new("pool")
                                .issuer(issuer)
                                .eku(eku)
                                .key_type(kind)
                                .validity(*from, *to)
                                .make();
                            certs.push(PoolCert {
                                key: m.key_ref(),
                                der: m.der,
                                issuer,
                                eku,
                                kind,
                                not_before: m.not_before,
                                not_after: m.not_after,
                            });
                        }
                    }
                }
            }
            let mut times: Vec<u64> = [2019, 2021, 2023, 2025, 2028, 2032, 2038, 2045]
                .iter()
                .map(|y| ymd(*y, 3, 1))
                .collect();
            for c in &certs {
                for t in [c.not_before, c.not_after] {
                    times.extend([t - 1, t, t + 1]);
                }
            }
            times.sort_unstable();
            times.dedup();
            let mut hints: Vec<Vec<u8>> = (0..CA_COUNT).map(ca_subject).collect();
            // A CA that issued nothing in the pool.
            hints.push(alloc::vec![
                0x30, 0x0f, 0x31, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04, b'n',
                b'o', b'n', b'e'
            ]);
            Pool {
                certs,
                times,
                hints,
            }
        })
    }

    /// The rules, restated from the pool's known attributes (not from parsed metadata). The CA
    /// hints are not a rule: they rank (see `named`).
    fn oracle(c: &PoolCert, time: TimeSource, schemes: &[u16]) -> Option<SkipReason> {
        match time {
            TimeSource::Wall(t) if t > c.not_after => return Some(SkipReason::Expired),
            TimeSource::Wall(t) if t < c.not_before => return Some(SkipReason::NotYetValid),
            TimeSource::Floor(f) if f > c.not_after => return Some(SkipReason::Expired),
            _ => {}
        }
        if !c.eku.permits_client() {
            return Some(SkipReason::NoClientAuthUsage);
        }
        let usable: &[u16] = match c.kind {
            KeyType::P256 => &[0x0403],
            KeyType::P384 => &[0x0503],
            KeyType::Rsa => &[0x0401, 0x0501, 0x0601, 0x0804, 0x0805, 0x0806],
        };
        if !schemes.iter().any(|s| usable.contains(s)) {
            return Some(SkipReason::SchemeNotAccepted);
        }
        None
    }

    const N: usize = 6;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn archived_or_pending_slot_is_never_selected_and_selection_obeys_every_rule(
            slots in prop::array::uniform6(prop::option::weighted(
                0.8, (any::<prop::sample::Index>(), any::<bool>(), 0u64..6)
            )),
            time_kind in 0u8..3,
            time_index in any::<prop::sample::Index>(),
            hint_picks in prop::collection::vec((0usize..CA_COUNT + 1, any::<bool>()), 0..3),
            schemes in prop::sample::subsequence(alloc::vec![0x0403u16, 0x0503, 0x0804, 0x0401, 0x0806, 0x0807], 0..=6),
            inline in any::<[bool; N]>(),
            pending in prop::option::of((0usize..N, any::<prop::sample::Index>(), any::<bool>())),
        ) {
            let pool = pool();
            let mut table = SlotTable::<N, 1024>::new();
            let mut picked: [Option<(&PoolCert, bool, u64)>; N] = [None; N];
            for (i, slot) in slots.iter().enumerate() {
                if let Some((idx, archived, seq)) = slot {
                    let c = idx.get(&pool.certs);
                    let state = if *archived { SlotState::Archived } else { SlotState::Active };
                    // Inline keys (of every type) and handles alike: the rules read the
                    // certificate, and an archived slot is never chosen whatever its key.
                    let key = if inline[i] { c.key.clone() } else { KeyRef::Handle(i as u32) };
                    table.insert_raw(i, &c.der, key, state, *seq);
                    picked[i] = Some((c, *archived, *seq));
                }
            }
            // A pending renewal key over one slot, of any key type (an inline key of any
            // certificate in the pool, or a key-store handle): it has no certificate and is
            // never selected.
            let pending_slot = pending.map(|(i, k, handle)| {
                let key = if handle { KeyRef::Handle(99) } else { k.get(&pool.certs).key.clone() };
                table.insert_raw(i, &[], key, SlotState::Pending, 1);
                picked[i] = None;
                i
            });
            let t = *time_index.get(&pool.times);
            let time = match time_kind { 0 => TimeSource::Wall(t), 1 => TimeSource::Floor(t), _ => TimeSource::Unknown };
            // Hints in the rustls form (whole DER Name) or, sometimes, bare contents.
            let hint_bytes: Vec<&[u8]> = hint_picks.iter().map(|(ca, bare)| {
                let full = pool.hints[*ca].as_slice();
                prop_assert!(full[1] < 0x80);
                Ok(if *bare { &full[2..] } else { full })
            }).collect::<Result<_, TestCaseError>>()?;
            let hint_cas: Vec<usize> = hint_picks.iter().map(|(ca, _)| *ca).collect();
            let scheme_list: Vec<SignatureScheme> = schemes.iter().map(|s| SignatureScheme(*s)).collect();
            let cx = SelectionContext { time, acceptable_cas: &hint_bytes, schemes: &scheme_list };

            let verdicts: Vec<Option<Option<SkipReason>>> = picked.iter()
                .map(|p| p.map(|(c, _, _)| oracle(c, time, &schemes)))
                .collect();
            let passes = |i: usize| matches!(verdicts[i], Some(None));
            let archived = |i: usize| matches!(picked[i], Some((_, true, _)));
            let active_passing: Vec<usize> = (0..N).filter(|&i| passes(i) && !archived(i)).collect();
            let archived_passing = (0..N).any(|i| passes(i) && archived(i));

            let explanation = match table.select(&cx) {
                Ok(sel) => {
                    let i = sel.index().get();
                    prop_assert_eq!(table.state(sel.index()), Some(SlotState::Active));
                    prop_assert!(passes(i));
                    let named = |j: usize| picked[j].is_some_and(|(c, _, _)| hint_cas.is_empty() || hint_cas.contains(&c.issuer));
                    let rank = |j: usize| picked[j].map(|(c, _, seq)| (named(j), seq, c.not_before, core::cmp::Reverse(j)));
                    let best = active_passing.iter().copied().max_by_key(|&j| rank(j));
                    prop_assert_eq!(Some(i), best);
                    let hint = if hint_cas.is_empty() { HintMatch::NoHint } else if named(i) { HintMatch::Matched } else { HintMatch::NotMatched };
                    prop_assert_eq!(sel.explanation().hint(), hint);
                    prop_assert_eq!(sel.der(), picked[i].map(|(c, _, _)| c.der.as_slice()).unwrap_or(&[]));
                    prop_assert_eq!(sel.explanation().reason(sel.index()), None);
                    for &j in active_passing.iter().filter(|&&j| j != i) {
                        let lost = if named(i) && !named(j) {
                            SkipReason::IssuerNotNamed { by: sel.index() }
                        } else {
                            SkipReason::Superseded { by: sel.index() }
                        };
                        prop_assert_eq!(sel.explanation().reason(SlotIndex::new(j)), Some(lost));
                    }
                    *sel.explanation()
                }
                Err(e) => {
                    prop_assert!(active_passing.is_empty());
                    prop_assert_eq!(e.kind() == SelectErrorKind::OnlyArchivedMatch, archived_passing);
                    prop_assert_eq!(e.kind() == SelectErrorKind::NoCertificates, picked.iter().all(Option::is_none));
                    *e.explanation()
                }
            };
            prop_assert_eq!(explanation.time(), time);
            for i in 0..N {
                let reason = explanation.reason(SlotIndex::new(i));
                match picked[i] {
                    None if pending_slot == Some(i) => {
                        prop_assert_eq!(table.state(SlotIndex::new(i)), Some(SlotState::Pending));
                        prop_assert_eq!(reason, Some(SkipReason::Pending));
                    }
                    None => prop_assert_eq!(reason, Some(SkipReason::Empty)),
                    Some((_, true, _)) => prop_assert_eq!(reason, Some(SkipReason::Archived)),
                    Some(_) => if !passes(i) { prop_assert_eq!(reason, verdicts[i].flatten()) },
                }
            }
        }
    }
}
