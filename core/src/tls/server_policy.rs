//! Server authentication policy: the network is authenticated as strictly as it authenticates
//! the device (RFC 5216 §5.3, RFC 9190 §5.3). A `rustls` `ServerCertVerifier` around
//! rustls-webpki with CA anchors, name rules like wpa_supplicant's `domain_match` /
//! `domain_suffix_match` (SAN dNSName, CN only without one, RFC 6125 §6.4.4), optional pins,
//! and a policy for devices without a wall clock ([`UntrustedTimePolicy`]: the persisted time
//! floor proves that the time is at least the floor, nothing more). Every refusal is a typed
//! [`ServerRejection`] with a message an admin can act on.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use x509_cert::spki::SubjectPublicKeyInfoRef;

use crate::certs::meta::CertFields;
use crate::certs::{NameRef, TimeSource, UtcTime};
use crate::kind::FailKind;
use crate::log::{info, warn_};
use crate::tls::error::SetupError;
use crate::tls::time::ValidationTime;

/// Longest DNS name (RFC 1035 §2.3.4).
pub const MAX_DNS_NAME: usize = 253;
/// Name rules a policy can hold (any one matching is enough).
pub const MAX_NAME_RULES: usize = 4;
/// Pins a policy can hold (any one matching is enough).
pub const MAX_PINS: usize = 4;
/// Bytes of a presented name kept for an error message.
pub const MAX_REPORTED_NAME: usize = 96;
/// How often the chain is re-checked at a later time when only a time floor is known (one per
/// certificate whose notBefore lies beyond the floor; chains are short).
const MAX_TIME_STEPS: usize = 4;
/// RSA keys below this size are refused (as our RSA verifier and webpki/ring do).
const MIN_RSA_BITS: u32 = 2048;

const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A text for messages, cut at [`MAX_REPORTED_NAME`] bytes (never refused for its length).
pub type Text = alloc::string::String;

fn text(s: &str) -> Text {
    let mut t = Text::new();
    push_bounded(&mut t, s);
    t
}

/// Append `s` to `t` while `t` stays within [`MAX_REPORTED_NAME`] bytes. Names come from the
/// server's certificate: control characters are shown as `?` so a log line stays one line.
fn push_bounded(t: &mut Text, s: &str) {
    for c in s.chars() {
        let c = if c.is_control() { '?' } else { c };
        if t.len().saturating_add(c.len_utf8()) > MAX_REPORTED_NAME {
            break;
        }
        t.push(c);
    }
}

/// How the server certificate's name must match (wpa_supplicant `domain_match` /
/// `domain_suffix_match`). Compared case-insensitively against each SAN dNSName, or against
/// the subject CN only when the certificate has no SAN dNSName at all. Wildcard names get no
/// special treatment: `*.example.test` matches the suffix `example.test`, never an exact name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum NameMatch {
    /// The name must equal this one.
    Exact(#[cfg_attr(feature = "defmt", defmt(Debug2Format))] heapless::String<MAX_DNS_NAME>),
    /// The name must equal this domain or end in `.` + this domain (label boundary:
    /// `evil-example.test` does not match `example.test`).
    Suffix(#[cfg_attr(feature = "defmt", defmt(Debug2Format))] heapless::String<MAX_DNS_NAME>),
}

fn normalize(name: &str) -> Result<heapless::String<MAX_DNS_NAME>, SetupError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    // Only DNS names: server certificates for EAP carry dNSName SANs (RFC 5216 §5.2), and an
    // IP address rule would silently never match.
    if name.starts_with('*') || !matches!(ServerName::try_from(name), Ok(ServerName::DnsName(_))) {
        return Err(SetupError::BadServerName);
    }
    let mut out = heapless::String::new();
    for c in name.chars() {
        out.push(c.to_ascii_lowercase())
            .map_err(|_| SetupError::BadServerName)?;
    }
    Ok(out)
}

impl NameMatch {
    /// The server certificate must carry exactly `name`.
    pub fn exact(name: &str) -> Result<Self, SetupError> {
        Ok(NameMatch::Exact(normalize(name)?))
    }

    /// The server certificate must carry `domain` or a name under it.
    pub fn suffix(domain: &str) -> Result<Self, SetupError> {
        Ok(NameMatch::Suffix(normalize(domain)?))
    }

    /// Whether one presented DNS name satisfies this rule.
    pub fn matches(&self, presented: &str) -> bool {
        let presented = presented.strip_suffix('.').unwrap_or(presented);
        match self {
            NameMatch::Exact(want) => presented.eq_ignore_ascii_case(want),
            NameMatch::Suffix(domain) => {
                if presented.eq_ignore_ascii_case(domain) {
                    return true;
                }
                let (p, d) = (presented.as_bytes(), domain.as_bytes());
                let Some(cut) = p.len().checked_sub(d.len().saturating_add(1)) else {
                    return false;
                };
                p.get(cut) == Some(&b'.')
                    && p.get(cut..)
                        .and_then(|dot_tail| dot_tail.get(1..))
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(d))
            }
        }
    }

    /// The DNS name sent as SNI: the exact name, or the domain of a suffix rule.
    pub fn sni(&self) -> &str {
        match self {
            NameMatch::Exact(n) | NameMatch::Suffix(n) => n,
        }
    }
}

impl fmt::Display for NameMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameMatch::Exact(n) => f.write_str(n),
            NameMatch::Suffix(d) => write!(f, "{d} or a name ending in .{d}"),
        }
    }
}

/// A pin on the server certificate: the SHA-256 of its whole DER, or of its
/// SubjectPublicKeyInfo (survives re-issuance with the same key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Pin {
    /// SHA-256 of the server certificate DER.
    CertSha256([u8; 32]),
    /// SHA-256 of the server certificate's SubjectPublicKeyInfo DER.
    SpkiSha256([u8; 32]),
}

/// What to do with validity periods when the device has no trustworthy wall clock and only
/// the persisted time floor (see [`crate::certs::TimeSource`]): the floor proves `now >= floor`,
/// nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum UntrustedTimePolicy {
    /// Refuse only what the floor proves: a certificate that expired before the floor. A
    /// notBefore after the floor is accepted and logged, since the real time may be later.
    #[default]
    RefuseProvablyInvalid,
    /// Treat the floor as the time: a certificate not yet valid at the floor is refused too.
    /// Safest, but a device with a stale floor is locked out until it learns the time.
    RefuseUnprovable,
}

/// How the server is authenticated. There is no "accept anything" setting: at least one CA
/// anchor and one name rule are required.
#[derive(Debug, Clone)]
pub struct ServerPolicy {
    anchors: Vec<CertificateDer<'static>>,
    names: heapless::Vec<NameMatch, MAX_NAME_RULES>,
    pins: heapless::Vec<Pin, MAX_PINS>,
    untrusted_time: UntrustedTimePolicy,
}

#[cfg(feature = "defmt")]
impl defmt::Format for ServerPolicy {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "ServerPolicy({=usize} anchors, {=usize} name rules, {=usize} pins, {})",
            self.anchors.len(),
            self.names.len(),
            self.pins.len(),
            self.untrusted_time
        )
    }
}

impl ServerPolicy {
    /// A policy requiring the server certificate to satisfy `name`; add anchors next.
    pub fn new(name: NameMatch) -> Self {
        let mut names = heapless::Vec::new();
        // Cannot fail: capacity is at least one.
        let _ = names.push(name);
        ServerPolicy {
            anchors: Vec::new(),
            names,
            pins: heapless::Vec::new(),
            untrusted_time: UntrustedTimePolicy::default(),
        }
    }

    /// Trust this CA certificate (DER).
    pub fn with_anchor_der(mut self, der: &[u8]) -> Result<Self, SetupError> {
        let cert = CertificateDer::from(der.to_vec());
        webpki::anchor_from_trusted_cert(&cert).map_err(|_| SetupError::BadTrustAnchor)?;
        self.anchors.push(cert);
        Ok(self)
    }

    /// Trust every CA certificate in a PEM text (at least one `CERTIFICATE` block).
    pub fn with_anchors_pem(mut self, pem: &[u8]) -> Result<Self, SetupError> {
        use rustls::pki_types::pem::PemObject;
        let before = self.anchors.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|_| SetupError::BadPem)?;
            self = self.with_anchor_der(&cert)?;
        }
        if self.anchors.len() == before {
            return Err(SetupError::BadPem);
        }
        Ok(self)
    }

    /// Also accept a certificate satisfying this rule.
    pub fn or_name(mut self, name: NameMatch) -> Result<Self, SetupError> {
        self.names
            .push(name)
            .map_err(|_| SetupError::TooManyRules)?;
        Ok(self)
    }

    /// Additionally require the server certificate to match a pin (any of those given).
    pub fn with_pin(mut self, pin: Pin) -> Result<Self, SetupError> {
        self.pins.push(pin).map_err(|_| SetupError::TooManyRules)?;
        Ok(self)
    }

    /// What to do with validity periods without a wall clock.
    pub fn with_untrusted_time(mut self, policy: UntrustedTimePolicy) -> Self {
        self.untrusted_time = policy;
        self
    }

    /// The name rules.
    pub fn names(&self) -> &[NameMatch] {
        &self.names
    }

    /// The CA anchors, each a DER certificate.
    pub fn anchors(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.anchors.iter().map(|a| a.as_ref())
    }
}

/// Why the server was not authenticated: each variant a cause an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ServerRejection {
    /// The chain leads to none of the configured CA certificates.
    UntrustedCa {
        /// The issuer named by the last certificate the server sent.
        issuer: Text,
    },
    /// No name in the certificate satisfies the configured rules.
    NameMismatch {
        /// The (first) configured rule, in words.
        expected: Text,
        /// The names the certificate carries (SAN dNSNames, or `CN=` when it has none).
        presented: Text,
    },
    /// A certificate of the chain expired before the time in use.
    Expired {
        /// notAfter (Unix seconds).
        not_after: u64,
        /// The time checked against and where it came from.
        time: TimeSource,
    },
    /// A certificate of the chain is not valid yet at the time in use.
    NotYetValid {
        /// notBefore (Unix seconds).
        not_before: u64,
        /// The time checked against and where it came from.
        time: TimeSource,
    },
    /// The server certificate's extended key usage does not allow TLS server authentication.
    NotServerAuth,
    /// The chain holds an RSA key shorter than 2048 bits.
    WeakKey {
        /// Modulus size.
        bits: u32,
    },
    /// The chain is signed with a broken algorithm (MD5, SHA-1).
    WeakSignature {
        /// The algorithm's name.
        algorithm: &'static str,
    },
    /// The chain is signed with an algorithm this build cannot verify.
    UnsupportedSignature {
        /// The algorithm's name (or OID).
        algorithm: Text,
    },
    /// The certificate matches none of the configured pins.
    PinMismatch,
    /// Any other defect of the chain (malformed, bad signature, CA used as server...).
    Invalid {
        /// What webpki found, in words.
        reason: &'static str,
    },
}

impl ServerRejection {
    /// The failure's kind.
    pub fn kind(&self) -> FailKind {
        match self {
            ServerRejection::UntrustedCa { .. } => FailKind::UntrustedCa,
            ServerRejection::NameMismatch { .. } => FailKind::NameMismatch,
            ServerRejection::Expired { .. } => FailKind::Expired,
            ServerRejection::NotYetValid { .. } => FailKind::NotYetValid,
            ServerRejection::NotServerAuth => FailKind::NotServerAuth,
            ServerRejection::WeakKey { .. } => FailKind::WeakKey,
            ServerRejection::WeakSignature { .. } => FailKind::WeakSignature,
            ServerRejection::UnsupportedSignature { .. } => FailKind::UnsupportedSignature,
            ServerRejection::PinMismatch => FailKind::PinMismatch,
            ServerRejection::Invalid { .. } => FailKind::ServerCertificateInvalid,
        }
    }

    /// The rustls error (and so the TLS alert sent to the server) for this refusal.
    fn to_rustls(&self) -> rustls::Error {
        let e = match self {
            ServerRejection::UntrustedCa { .. } => CertificateError::UnknownIssuer,
            ServerRejection::NameMismatch { .. } => CertificateError::NotValidForName,
            ServerRejection::Expired { .. } => CertificateError::Expired,
            ServerRejection::NotYetValid { .. } => CertificateError::NotValidYet,
            ServerRejection::NotServerAuth => CertificateError::InvalidPurpose,
            ServerRejection::WeakKey { .. }
            | ServerRejection::WeakSignature { .. }
            | ServerRejection::UnsupportedSignature { .. } =>
            {
                #[allow(deprecated)]
                CertificateError::UnsupportedSignatureAlgorithm
            }
            ServerRejection::PinMismatch => CertificateError::ApplicationVerificationFailure,
            ServerRejection::Invalid { .. } => CertificateError::BadEncoding,
        };
        rustls::Error::InvalidCertificate(e)
    }
}

impl fmt::Display for ServerRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerRejection::UntrustedCa { issuer } => write!(
                f,
                "server certificate not trusted: issued by \"{issuer}\", which leads to none of \
                 the configured CA certificates"
            ),
            ServerRejection::NameMismatch {
                expected,
                presented,
            } => write!(
                f,
                "server certificate name mismatch: expected {expected}, got {presented}"
            ),
            ServerRejection::Expired { not_after, time } => write!(
                f,
                "server certificate expired on {} (time used: {})",
                UtcTime(*not_after),
                time
            ),
            ServerRejection::NotYetValid { not_before, time } => write!(
                f,
                "server certificate not valid before {} (time used: {})",
                UtcTime(*not_before),
                time
            ),
            ServerRejection::NotServerAuth => f.write_str(
                "server certificate is not for a TLS server: its extended key usage lacks \
                 serverAuth",
            ),
            ServerRejection::WeakKey { bits } => write!(
                f,
                "server certificate chain uses a weak {bits}-bit RSA key (at least \
                 {MIN_RSA_BITS} bits required)"
            ),
            ServerRejection::WeakSignature { algorithm } => write!(
                f,
                "server certificate chain is signed with {algorithm}, a broken algorithm"
            ),
            ServerRejection::UnsupportedSignature { algorithm } => write!(
                f,
                "server certificate chain is signed with {algorithm}, which this device cannot \
                 verify (supported: ECDSA P-256/P-384, RSA 2048+)"
            ),
            ServerRejection::PinMismatch => f.write_str(
                "server certificate matches none of the configured pins (SHA-256 of the \
                 certificate or of its public key)",
            ),
            ServerRejection::Invalid { reason } => {
                write!(f, "server certificate chain invalid: {reason}")
            }
        }
    }
}

impl core::error::Error for ServerRejection {}

/// The certificate the server presented, summarized for a report: on an accepted server and
/// on a refused one alike, so an admin can tell which certificate (and which RADIUS server
/// behind a load balancer) the device saw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct ServerCertificate {
    /// The subject, as `CN=..., O=...` text (bounded).
    pub subject: Text,
    /// The issuer, as text (bounded).
    pub issuer: Text,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: u64,
    /// SHA-256 of the certificate's DER encoding (what `openssl x509 -fingerprint -sha256`
    /// prints).
    pub sha256: [u8; 32],
}

impl ServerCertificate {
    /// Summarize a DER certificate; None when it does not parse.
    ///
    /// Never inlined: its parse and hash state would otherwise sit in the frame that verifies
    /// the server's chain (see `PolicyVerifier::pinned`).
    #[inline(never)]
    pub(crate) fn of(der: &[u8]) -> Option<Self> {
        let f = CertFields::parse(der).ok()?;
        Some(ServerCertificate {
            subject: text(&alloc::format!("{}", NameRef::new(f.subject))),
            issuer: text(&alloc::format!("{}", NameRef::new(f.issuer))),
            not_after: f.validity.not_after.to_unix_duration().as_secs(),
            sha256: Sha256::digest(der).into(),
        })
    }
}

/// What the verifier decided about the last server it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ServerVerdict {
    /// Accepted: the name that matched and the time used.
    Accepted {
        /// The presented name that satisfied a rule.
        name: Text,
        /// The time validity was checked against.
        time: TimeSource,
        /// Some notBefore lay beyond the time floor and was accepted under
        /// [`UntrustedTimePolicy::RefuseProvablyInvalid`].
        unprovable_not_before: Option<u64>,
    },
    /// Refused.
    Rejected(ServerRejection),
}

/// Latchkey's server certificate verifier (see the module documentation).
pub(crate) struct PolicyVerifier {
    anchors: Vec<TrustAnchor<'static>>,
    // Exactly the configured rules (at most MAX_NAME_RULES): a name rule holds up to 253
    // bytes, and the verifier lives on the TLS engine's heap for the whole connection.
    names: Vec<NameMatch>,
    pins: Vec<Pin>,
    untrusted_time: UntrustedTimePolicy,
    algorithms: WebPkiSupportedAlgorithms,
    time: Arc<ValidationTime>,
    verdict: spin::Mutex<Option<ServerVerdict>>,
    certificate: spin::Mutex<Option<ServerCertificate>>,
}

impl fmt::Debug for PolicyVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyVerifier")
            .field("anchors", &self.anchors.len())
            .field("names", &self.names)
            .field("pins", &self.pins.len())
            .finish()
    }
}

impl PolicyVerifier {
    /// A verifier for `policy`, checking signatures with `algorithms` (the provider's) and
    /// validity against `time`.
    pub(crate) fn new(
        policy: &ServerPolicy,
        algorithms: WebPkiSupportedAlgorithms,
        time: Arc<ValidationTime>,
    ) -> Result<Self, SetupError> {
        if policy.anchors.is_empty() {
            return Err(SetupError::NoTrustAnchors);
        }
        if policy.names.is_empty() {
            return Err(SetupError::BadServerName);
        }
        let mut anchors = Vec::new();
        for a in &policy.anchors {
            let anchor =
                webpki::anchor_from_trusted_cert(a).map_err(|_| SetupError::BadTrustAnchor)?;
            anchors.push(anchor.to_owned());
        }
        Ok(PolicyVerifier {
            anchors,
            names: policy.names.to_vec(),
            pins: policy.pins.to_vec(),
            untrusted_time: policy.untrusted_time,
            algorithms,
            time,
            verdict: spin::Mutex::new(None),
            certificate: spin::Mutex::new(None),
        })
    }

    /// The decision about the last server certificate (None before one was seen).
    pub(crate) fn verdict(&self) -> Option<ServerVerdict> {
        self.verdict.lock().clone()
    }

    /// The certificate the last server presented, if it parsed.
    pub(crate) fn certificate(&self) -> Option<ServerCertificate> {
        self.certificate.lock().clone()
    }

    /// Why the last server was refused, if it was.
    pub(crate) fn rejection(&self) -> Option<ServerRejection> {
        match self.verdict() {
            Some(ServerVerdict::Rejected(r)) => Some(r),
            _ => None,
        }
    }

    /// Forget the last decision (a new handshake starts).
    pub(crate) fn reset(&self) {
        *self.verdict.lock() = None;
    }

    /// The SNI name to send.
    pub(crate) fn sni(&self) -> &str {
        self.names.first().map(NameMatch::sni).unwrap_or_default()
    }

    /// The whole check, without rustls: chain to an anchor at the policy's time, usage
    /// serverAuth, name rules, pins.
    pub(crate) fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<ServerVerdict, ServerRejection> {
        let source = self.time.source();
        let ee = webpki::EndEntityCert::try_from(end_entity).map_err(|e| {
            explain(&e, end_entity, intermediates).unwrap_or(ServerRejection::Invalid {
                reason: "server certificate is not well-formed",
            })
        })?;
        let mut at = match source {
            TimeSource::Wall(t) | TimeSource::Floor(t) => t,
            TimeSource::Unknown => 0,
        };
        let trusted = matches!(source, TimeSource::Wall(_));
        let mut unprovable = None;
        let mut steps = 0;
        loop {
            let result = ee.verify_for_usage(
                self.algorithms.all,
                &self.anchors,
                intermediates,
                UnixTime::since_unix_epoch(core::time::Duration::from_secs(at)),
                webpki::KeyUsage::server_auth(),
                None,
                None,
            );
            match result {
                Ok(_) => break,
                Err(webpki::Error::CertNotValidYet { not_before, .. })
                    if !trusted
                        && self.untrusted_time == UntrustedTimePolicy::RefuseProvablyInvalid
                        && not_before.as_secs() > at
                        && steps < MAX_TIME_STEPS =>
                {
                    // The floor only proves now >= floor: a later notBefore may well be past.
                    at = not_before.as_secs();
                    unprovable = Some(at);
                    steps = steps.saturating_add(1); // below MAX_TIME_STEPS (guard above)
                }
                Err(webpki::Error::CertExpired { .. }) if unprovable.is_some() => {
                    // Valid-from of one certificate is after valid-until of another.
                    return Err(ServerRejection::Invalid {
                        reason: "no time after the time floor at which the whole chain is valid",
                    });
                }
                Err(webpki::Error::CertExpired { not_after, .. }) => {
                    return Err(ServerRejection::Expired {
                        not_after: not_after.as_secs(),
                        time: source,
                    })
                }
                Err(webpki::Error::CertNotValidYet { not_before, .. }) => {
                    return Err(ServerRejection::NotYetValid {
                        not_before: not_before.as_secs(),
                        time: source,
                    })
                }
                Err(e) => {
                    return Err(explain(&e, end_entity, intermediates).unwrap_or(
                        ServerRejection::Invalid {
                            reason: webpki_reason(&e),
                        },
                    ))
                }
            }
        }
        let name = self.match_name(end_entity)?;
        if !self.pins.is_empty() && !self.pinned(end_entity, ee.subject_public_key_info().as_ref())
        {
            return Err(ServerRejection::PinMismatch);
        }
        Ok(ServerVerdict::Accepted {
            name,
            time: source,
            unprovable_not_before: unprovable,
        })
    }

    /// Whether the certificate or its key matches a pin (constant-time comparisons).
    ///
    /// Never inlined (nor is [`Self::match_name`]): inlined, their hash states and name buffers
    /// would sit in the frame that verifies the chain, under its curve arithmetic, the deepest
    /// call of a handshake on a device's stack.
    #[inline(never)]
    fn pinned(&self, end_entity: &[u8], spki: &[u8]) -> bool {
        let cert_hash: [u8; 32] = Sha256::digest(end_entity).into();
        let spki_hash: [u8; 32] = Sha256::digest(spki).into();
        self.pins.iter().any(|p| match p {
            Pin::CertSha256(h) => bool::from(subtle::ConstantTimeEq::ct_eq(&h[..], &cert_hash[..])),
            Pin::SpkiSha256(h) => bool::from(subtle::ConstantTimeEq::ct_eq(&h[..], &spki_hash[..])),
        })
    }

    #[inline(never)]
    fn match_name(&self, end_entity: &[u8]) -> Result<Text, ServerRejection> {
        let names = ServerNames::parse(end_entity).map_err(|_| ServerRejection::Invalid {
            reason: "server certificate names cannot be parsed",
        })?;
        let mut presented = Text::new();
        let mut found = None;
        names.for_each(|n| {
            if found.is_none() && self.names.iter().any(|rule| rule.matches(n)) {
                found = Some(text(n));
            }
            if !presented.is_empty() {
                push_bounded(&mut presented, ", ");
            }
            push_bounded(&mut presented, n);
        });
        if let Some(n) = found {
            return Ok(n);
        }
        let mut expected = Text::new();
        if let Some(rule) = self.names.first() {
            let _ = fmt::write(&mut expected, format_args!("{rule}"));
        }
        if presented.is_empty() {
            presented = text("no DNS name");
        } else if names.from_cn {
            let mut p = text("CN=");
            push_bounded(&mut p, &presented);
            presented = p;
        }
        Err(ServerRejection::NameMismatch {
            expected,
            presented,
        })
    }
}

impl ServerCertVerifier for PolicyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // `now` is our ValidationTime anyway; the verifier reads where it came from.
        *self.certificate.lock() = ServerCertificate::of(end_entity);
        match self.check(end_entity, intermediates) {
            Ok(verdict) => {
                if let ServerVerdict::Accepted {
                    unprovable_not_before: Some(nb),
                    ..
                } = &verdict
                {
                    let nb = *nb;
                    warn_!(
                        "server certificate notBefore {} is after the time floor; accepted \
                         (no wall clock to prove it is early)",
                        nb
                    );
                    let _ = nb;
                }
                if let ServerVerdict::Accepted { name, .. } = &verdict {
                    info!("server certificate accepted: {} matched", name.as_str());
                    let _ = name;
                }
                *self.verdict.lock() = Some(verdict);
                Ok(ServerCertVerified::assertion())
            }
            Err(rejection) => {
                warn_!("server refused: {}", rejection.kind());
                let e = rejection.to_rustls();
                *self.verdict.lock() = Some(ServerVerdict::Rejected(rejection));
                Err(e)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Turn a webpki failure into the refusal an admin understands, looking at the presented chain
/// for the reason when webpki's error is generic (a weak RSA key shows up as a bad signature).
fn explain(
    e: &webpki::Error,
    end_entity: &[u8],
    intermediates: &[CertificateDer<'_>],
) -> Option<ServerRejection> {
    #[allow(deprecated)]
    match e {
        webpki::Error::UnknownIssuer => {
            let last = intermediates
                .last()
                .map(|c| c.as_ref())
                .unwrap_or(end_entity);
            let issuer = CertFields::parse(last)
                .ok()
                .map(|f| text(&alloc::format!("{}", NameRef::new(f.issuer))))
                .unwrap_or_else(|| text("unknown"));
            Some(ServerRejection::UntrustedCa { issuer })
        }
        webpki::Error::RequiredEkuNotFound | webpki::Error::RequiredEkuNotFoundContext(_) => {
            Some(ServerRejection::NotServerAuth)
        }
        webpki::Error::InvalidSignatureForPublicKey
        | webpki::Error::UnsupportedSignatureAlgorithm
        | webpki::Error::UnsupportedSignatureAlgorithmContext(_)
        | webpki::Error::UnsupportedSignatureAlgorithmForPublicKey
        | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            let chain =
                core::iter::once(end_entity).chain(intermediates.iter().map(|c| c.as_ref()));
            for der in chain {
                let Ok(f) = CertFields::parse(der) else {
                    continue;
                };
                if let Some(bits) = rsa_bits(&f.spki).filter(|b| *b < MIN_RSA_BITS) {
                    return Some(ServerRejection::WeakKey { bits });
                }
                match classify_signature(f.signature_oid) {
                    SigClass::Weak(algorithm) => {
                        return Some(ServerRejection::WeakSignature { algorithm })
                    }
                    SigClass::Unsupported(name) => {
                        return Some(ServerRejection::UnsupportedSignature { algorithm: name })
                    }
                    SigClass::Supported => {}
                }
            }
            if matches!(e, webpki::Error::InvalidSignatureForPublicKey) {
                None
            } else {
                Some(ServerRejection::UnsupportedSignature {
                    algorithm: text("an unknown algorithm"),
                })
            }
        }
        _ => None,
    }
}

fn webpki_reason(e: &webpki::Error) -> &'static str {
    match e {
        webpki::Error::InvalidSignatureForPublicKey => "a signature in the chain does not verify",
        webpki::Error::CaUsedAsEndEntity => "the server presented a CA certificate",
        webpki::Error::EndEntityUsedAsCa => "a server certificate was used as a CA",
        webpki::Error::PathLenConstraintViolated => "the chain violates a path length constraint",
        webpki::Error::NameConstraintViolation => "the chain violates a CA name constraint",
        webpki::Error::CertDistrusted => "the server key is explicitly distrusted",
        webpki::Error::UnsupportedCriticalExtension => {
            "the certificate has an unsupported critical extension"
        }
        webpki::Error::UnsupportedCertVersion => "the certificate is not X.509 v3",
        webpki::Error::InvalidCertValidity => "the certificate validity period is inverted",
        webpki::Error::MaximumPathDepthExceeded
        | webpki::Error::MaximumPathBuildCallsExceeded
        | webpki::Error::MaximumSignatureChecksExceeded => "the chain is too long or too complex",
        _ => "the chain is malformed or inconsistent",
    }
}

enum SigClass {
    Supported,
    Weak(&'static str),
    Unsupported(Text),
}

fn classify_signature(oid: ObjectIdentifier) -> SigClass {
    const WEAK: [(&str, &str); 5] = [
        ("1.2.840.113549.1.1.4", "MD5 with RSA"),
        ("1.2.840.113549.1.1.5", "SHA-1 with RSA"),
        ("1.2.840.10045.4.1", "ECDSA with SHA-1"),
        ("1.2.840.10040.4.3", "DSA with SHA-1"),
        ("1.3.14.3.2.29", "SHA-1 with RSA"),
    ];
    const SUPPORTED: [&str; 7] = [
        "1.2.840.10045.4.3.2",   // ecdsa-with-SHA256
        "1.2.840.10045.4.3.3",   // ecdsa-with-SHA384
        "1.2.840.113549.1.1.11", // sha256WithRSAEncryption
        "1.2.840.113549.1.1.12", // sha384WithRSAEncryption
        "1.2.840.113549.1.1.13", // sha512WithRSAEncryption
        "1.2.840.113549.1.1.10", // RSASSA-PSS
        "1.2.840.10045.4.3.4",   // ecdsa-with-SHA512 (refused by the provider, named anyway)
    ];
    const NAMED: [(&str, &str); 3] = [
        ("1.3.101.112", "Ed25519"),
        ("1.3.101.113", "Ed448"),
        ("1.2.840.10040.4.3", "DSA"),
    ];
    let mut buf = heapless::String::<64>::new();
    let _ = fmt::write(&mut buf, format_args!("{oid}"));
    let s = buf.as_str();
    if let Some((_, name)) = WEAK.iter().find(|(o, _)| *o == s) {
        return SigClass::Weak(name);
    }
    if SUPPORTED.contains(&s) {
        return SigClass::Supported;
    }
    match NAMED.iter().find(|(o, _)| *o == s) {
        Some((_, name)) => SigClass::Unsupported(text(name)),
        None => {
            let mut t = text("OID ");
            push_bounded(&mut t, s);
            SigClass::Unsupported(t)
        }
    }
}

/// The RSA modulus size of a public key, if it is RSA.
fn rsa_bits(spki: &SubjectPublicKeyInfoRef<'_>) -> Option<u32> {
    if spki.algorithm.oid != OID_RSA {
        return None;
    }
    let key = spki.subject_public_key.as_bytes()?;
    let mut r = SliceReader::new(key).ok()?;
    let modulus = r
        .sequence(|s| {
            let n = der::asn1::UintRef::decode(s)?;
            let _e = der::asn1::UintRef::decode(s)?;
            Ok(n)
        })
        .ok()?;
    let bytes = modulus.as_bytes();
    let first = bytes.first()?;
    // leading_zeros of a u8 is at most 8; saturating keeps an absurd modulus "very large".
    let bits = (bytes.len() as u32)
        .saturating_sub(1)
        .saturating_mul(8)
        .saturating_add(8u32.saturating_sub(first.leading_zeros()));
    Some(bits)
}

/// The DNS names a server certificate carries: SAN dNSNames, or the subject CN when there is
/// no SAN dNSName (RFC 6125 §6.4.4).
struct ServerNames<'a> {
    san: Option<&'a [u8]>,
    subject: &'a [u8],
    from_cn: bool,
}

impl<'a> ServerNames<'a> {
    fn parse(der: &'a [u8]) -> der::Result<Self> {
        let f = CertFields::parse(der)?;
        let mut san = None;
        if let Some(ext) = f.extensions {
            let mut r = SliceReader::new(ext)?;
            r.sequence(|exts| {
                while !exts.is_finished() {
                    exts.sequence(|e| {
                        let oid = ObjectIdentifier::decode(e)?;
                        if e.peek_tag()? == Tag::Boolean {
                            let _critical = bool::decode(e)?;
                        }
                        let value = OctetStringRef::decode(e)?;
                        if oid == OID_SAN {
                            san = Some(value.as_bytes());
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
        }
        let mut names = ServerNames {
            san,
            subject: f.subject,
            from_cn: false,
        };
        let mut any_dns = false;
        names.for_each_san(|_| any_dns = true)?;
        names.from_cn = !any_dns;
        Ok(names)
    }

    /// GeneralNames ::= SEQUENCE OF GeneralName; dNSName is [2] IA5String.
    fn for_each_san(&self, mut f: impl FnMut(&str)) -> der::Result<()> {
        let Some(san) = self.san else {
            return Ok(());
        };
        let dns_tag = Tag::ContextSpecific {
            constructed: false,
            number: TagNumber::N2,
        };
        let mut r = SliceReader::new(san)?;
        r.sequence(|names| {
            while !names.is_finished() {
                let gn = AnyRef::decode(names)?;
                if gn.tag() == dns_tag {
                    if let Ok(s) = core::str::from_utf8(gn.value()) {
                        f(s);
                    }
                }
            }
            Ok(())
        })
    }

    fn for_each(&self, mut f: impl FnMut(&str)) {
        if self.from_cn {
            if let Some(cn) = NameRef::new(self.subject).common_name() {
                f(cn);
            }
        } else {
            let _ = self.for_each_san(f);
        }
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
    use super::*;

    #[test]
    fn exact_name_matches_case_insensitively_and_nothing_else() {
        let rule = NameMatch::exact("Radius.Example.Test.").unwrap();
        assert!(rule.matches("radius.example.test"));
        assert!(rule.matches("RADIUS.example.test."));
        assert!(!rule.matches("example.test"));
        assert!(!rule.matches("evil.radius.example.test"));
        assert!(!rule.matches("*.example.test"));
    }

    #[test]
    fn suffix_respects_label_boundary() {
        let rule = NameMatch::suffix("example.test").unwrap();
        assert!(rule.matches("example.test"));
        assert!(rule.matches("radius.example.test"));
        assert!(rule.matches("a.b.EXAMPLE.test"));
        assert!(rule.matches("*.example.test"));
        assert!(!rule.matches("evil-example.test"));
        assert!(!rule.matches("evilexample.test"));
        assert!(!rule.matches("example.test.evil"));
        assert!(!rule.matches("xample.test"));
        assert!(!rule.matches(""));
    }

    #[test]
    fn bad_rules_refused() {
        assert_eq!(NameMatch::exact(""), Err(SetupError::BadServerName));
        assert_eq!(
            NameMatch::suffix("*.example.test"),
            Err(SetupError::BadServerName)
        );
        assert_eq!(
            NameMatch::exact("no spaces.test"),
            Err(SetupError::BadServerName)
        );
    }

    #[test]
    fn no_anchor_no_connection() {
        let policy = ServerPolicy::new(NameMatch::exact("radius.example.test").unwrap());
        let provider = crate::tls::provider::provider(&with_certs::TEST_RNG);
        let time = Arc::new(ValidationTime::default());
        let e = PolicyVerifier::new(&policy, provider.signature_verification_algorithms, time)
            .unwrap_err();
        assert_eq!(e, SetupError::NoTrustAnchors);
        let e = policy.with_anchors_pem(b"not a pem").unwrap_err();
        assert_eq!(e, SetupError::BadPem);
    }

    #[test]
    fn utc_time_formats_dates() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(UtcTime(0).to_string(), "1970-01-01 00:00:00 UTC");
        assert_eq!(UtcTime(951_782_400).to_string(), "2000-02-29 00:00:00 UTC");
        assert_eq!(
            UtcTime(1_767_225_599).to_string(),
            "2025-12-31 23:59:59 UTC"
        );
    }

    mod with_certs {
        extern crate std;
        use super::super::*;
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
            SanType,
        };
        use std::string::ToString;

        struct Ca {
            cert: rcgen::Certificate,
            key: KeyPair,
        }

        fn ca(cn: &str) -> Ca {
            let mut p = CertificateParams::default();
            p.distinguished_name.push(DnType::CommonName, cn);
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let key = KeyPair::generate().unwrap();
            Ca {
                cert: p.self_signed(&key).unwrap(),
                key,
            }
        }

        fn leaf(ca: &Ca, cn: &str, sans: &[&str], eku: ExtendedKeyUsagePurpose) -> Vec<u8> {
            let mut p = CertificateParams::default();
            p.distinguished_name.push(DnType::CommonName, cn);
            p.subject_alt_names = sans
                .iter()
                .map(|s| SanType::DnsName((*s).try_into().unwrap()))
                .collect();
            p.extended_key_usages = alloc::vec![eku];
            p.not_before = rcgen::date_time_ymd(2025, 1, 1);
            p.not_after = rcgen::date_time_ymd(2035, 1, 1);
            let key = KeyPair::generate().unwrap();
            p.signed_by(&key, &ca.cert, &ca.key).unwrap().der().to_vec()
        }

        fn verifier(ca: &Ca, policy: ServerPolicy, now: TimeSource) -> PolicyVerifier {
            let policy = policy.with_anchor_der(ca.cert.der()).unwrap();
            let time = Arc::new(ValidationTime::default());
            time.set_source(now);
            let provider = crate::tls::provider::provider(&TEST_RNG);
            PolicyVerifier::new(&policy, provider.signature_verification_algorithms, time).unwrap()
        }

        pub(super) static TEST_RNG: crate::tls::provider::SharedRng<rand_core::OsRng> =
            crate::tls::provider::SharedRng::new(rand_core::OsRng);

        fn now() -> TimeSource {
            TimeSource::Wall(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs(),
            )
        }

        #[test]
        fn san_exact_and_suffix_accepted() {
            let ca = ca("Test CA");
            let der = leaf(
                &ca,
                "ignored",
                &["radius.example.test"],
                ExtendedKeyUsagePurpose::ServerAuth,
            );
            let v = verifier(
                &ca,
                ServerPolicy::new(NameMatch::exact("radius.example.test").unwrap()),
                now(),
            );
            assert!(v.check(&der.clone().into(), &[]).is_ok());
            let v = verifier(
                &ca,
                ServerPolicy::new(NameMatch::suffix("example.test").unwrap()),
                now(),
            );
            assert!(v.check(&der.clone().into(), &[]).is_ok());
            let v = verifier(
                &ca,
                ServerPolicy::new(NameMatch::exact("other.example.test").unwrap()),
                now(),
            );
            let e = v.check(&der.into(), &[]).unwrap_err();
            assert_eq!(
                e.to_string(),
                "server certificate name mismatch: expected other.example.test, got radius.example.test"
            );
        }

        #[test]
        fn suffix_lookalike_refused() {
            let ca = ca("Test CA");
            let der = leaf(
                &ca,
                "x",
                &["evil-example.test"],
                ExtendedKeyUsagePurpose::ServerAuth,
            );
            let v = verifier(
                &ca,
                ServerPolicy::new(NameMatch::suffix("example.test").unwrap()),
                now(),
            );
            assert_eq!(
                v.check(&der.into(), &[]).unwrap_err().kind(),
                "name-mismatch"
            );
        }

        #[test]
        fn cn_used_only_without_san() {
            let ca = ca("Test CA");
            let rule = NameMatch::exact("radius.example.test").unwrap();
            let no_san = leaf(
                &ca,
                "radius.example.test",
                &[],
                ExtendedKeyUsagePurpose::ServerAuth,
            );
            let v = verifier(&ca, ServerPolicy::new(rule.clone()), now());
            assert!(v.check(&no_san.into(), &[]).is_ok());
            // With a SAN dNSName, a matching CN is ignored.
            let with_san = leaf(
                &ca,
                "radius.example.test",
                &["other.example.test"],
                ExtendedKeyUsagePurpose::ServerAuth,
            );
            let e = v.check(&with_san.into(), &[]).unwrap_err();
            assert!(matches!(e, ServerRejection::NameMismatch { .. }), "{e}");
            assert!(e.to_string().ends_with("got other.example.test"), "{e}");
            let cn_wrong = leaf(&ca, "evil.test", &[], ExtendedKeyUsagePurpose::ServerAuth);
            assert!(v
                .check(&cn_wrong.into(), &[])
                .unwrap_err()
                .to_string()
                .ends_with("got CN=evil.test"));
        }

        #[test]
        fn pins_on_certificate_and_spki() {
            let ca = ca("Test CA");
            let der = leaf(
                &ca,
                "x",
                &["radius.example.test"],
                ExtendedKeyUsagePurpose::ServerAuth,
            );
            let rule = NameMatch::exact("radius.example.test").unwrap();
            let cert_pin = Pin::CertSha256(Sha256::digest(&der).into());
            let v = verifier(
                &ca,
                ServerPolicy::new(rule.clone()).with_pin(cert_pin).unwrap(),
                now(),
            );
            assert!(v.check(&der.clone().into(), &[]).is_ok());
            let cert = CertificateDer::from(der.clone());
            let spki = webpki::EndEntityCert::try_from(&cert)
                .unwrap()
                .subject_public_key_info();
            let spki_pin = Pin::SpkiSha256(Sha256::digest(spki.as_ref()).into());
            let v = verifier(
                &ca,
                ServerPolicy::new(rule.clone()).with_pin(spki_pin).unwrap(),
                now(),
            );
            assert!(v.check(&cert, &[]).is_ok());
            let v = verifier(
                &ca,
                ServerPolicy::new(rule)
                    .with_pin(Pin::SpkiSha256([7; 32]))
                    .unwrap(),
                now(),
            );
            assert_eq!(
                v.check(&cert, &[]).unwrap_err(),
                ServerRejection::PinMismatch
            );
        }

        #[test]
        fn anchors_load_from_pem() {
            let ca = ca("Test CA");
            let der = leaf(
                &ca,
                "x",
                &["radius.example.test"],
                ExtendedKeyUsagePurpose::ServerAuth,
            );
            let policy = ServerPolicy::new(NameMatch::exact("radius.example.test").unwrap())
                .with_anchors_pem(ca.cert.pem().as_bytes())
                .unwrap();
            assert_eq!(policy.anchors().len(), 1);
            let time = Arc::new(ValidationTime::default());
            time.set_source(now());
            let provider = crate::tls::provider::provider(&TEST_RNG);
            let v = PolicyVerifier::new(&policy, provider.signature_verification_algorithms, time)
                .unwrap();
            assert!(v.check(&der.into(), &[]).is_ok());
        }

        #[test]
        fn client_auth_only_certificate_refused() {
            let ca = ca("Test CA");
            let der = leaf(
                &ca,
                "x",
                &["radius.example.test"],
                ExtendedKeyUsagePurpose::ClientAuth,
            );
            let v = verifier(
                &ca,
                ServerPolicy::new(NameMatch::exact("radius.example.test").unwrap()),
                now(),
            );
            assert_eq!(
                v.check(&der.into(), &[]).unwrap_err(),
                ServerRejection::NotServerAuth
            );
        }

        #[test]
        fn other_ca_refused_with_its_name() {
            let ca1 = ca("Good CA");
            let ca2 = ca("Rogue CA");
            let der = leaf(
                &ca2,
                "x",
                &["radius.example.test"],
                ExtendedKeyUsagePurpose::ServerAuth,
            );
            let v = verifier(
                &ca1,
                ServerPolicy::new(NameMatch::exact("radius.example.test").unwrap()),
                now(),
            );
            let e = v.check(&der.into(), &[]).unwrap_err();
            assert_eq!(e.kind(), "untrusted-ca");
            assert!(e.to_string().contains("CN=Rogue CA"), "{e}");
        }

        #[test]
        fn floor_accepts_future_not_before_unless_strict() {
            let ca = ca("Test CA");
            let der = leaf(
                &ca,
                "x",
                &["radius.example.test"],
                ExtendedKeyUsagePurpose::ServerAuth,
            );
            let rule = NameMatch::exact("radius.example.test").unwrap();
            // A floor far in the past: the certificates' notBefore lies beyond it.
            let floor = TimeSource::Floor(1_000_000_000);
            let v = verifier(&ca, ServerPolicy::new(rule.clone()), floor);
            match v.check(&der.clone().into(), &[]).unwrap() {
                ServerVerdict::Accepted {
                    unprovable_not_before,
                    ..
                } => {
                    assert!(unprovable_not_before.is_some())
                }
                other => panic!("{other:?}"),
            }
            let strict = ServerPolicy::new(rule.clone())
                .with_untrusted_time(UntrustedTimePolicy::RefuseUnprovable);
            let v = verifier(&ca, strict, floor);
            assert_eq!(
                v.check(&der.clone().into(), &[]).unwrap_err().kind(),
                "not-yet-valid"
            );
            // A wall clock before notBefore is proof.
            let v = verifier(
                &ca,
                ServerPolicy::new(rule.clone()),
                TimeSource::Wall(1_000_000_000),
            );
            let e = v.check(&der.clone().into(), &[]).unwrap_err();
            assert_eq!(e.kind(), "not-yet-valid");
            assert!(
                e.to_string()
                    .contains("time used: wall clock 2001-09-09 01:46:40 UTC"),
                "{e}"
            );
            // A floor after notAfter proves expiry whatever the policy.
            let v = verifier(
                &ca,
                ServerPolicy::new(rule),
                TimeSource::Floor(4_200_000_000),
            );
            assert_eq!(v.check(&der.into(), &[]).unwrap_err().kind(), "expired");
        }

        #[test]
        fn sha1_signature_named_as_weak() {
            let ca = ca("Test CA");
            let der = leaf(
                &ca,
                "x",
                &["radius.example.test"],
                ExtendedKeyUsagePurpose::ServerAuth,
            );
            // rcgen cannot sign with SHA-1: the classifier is checked on the OIDs, the field
            // parse on a real certificate (the RSA-1024 chain is an end-to-end rogue test).
            assert!(matches!(
                classify_signature(ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5")),
                SigClass::Weak("SHA-1 with RSA")
            ));
            assert!(matches!(
                classify_signature(ObjectIdentifier::new_unwrap("1.3.101.112")),
                SigClass::Unsupported(_)
            ));
            let f = CertFields::parse(&der).unwrap();
            assert!(matches!(
                classify_signature(f.signature_oid),
                SigClass::Supported
            ));
            assert_eq!(rsa_bits(&f.spki), None);
        }
    }
}
