//! One stable name for every way an authentication can end badly: [`FailKind`]. Each layer's
//! error type (server policy, TLS engine, EAP-TLS method, EAP peer, supplicant PAE) keeps its
//! own data and its `Display` sentence for the admin, and maps itself onto one of these kinds, so
//! logs, metrics, JSON reports and tests share one vocabulary (embedded-hal's `ErrorKind` is the
//! model). The strings returned by [`FailKind::as_str`] are stable: scripts match on them.

use core::fmt;

/// The kind of a failure: what an admin or a script matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FailKind {
    // --- The server's certificate, refused by the server policy.
    /// The server chain leads to none of the configured CA certificates.
    UntrustedCa,
    /// No name in the server certificate satisfies the configured rules.
    NameMismatch,
    /// A certificate of the server chain expired before the time in use.
    Expired,
    /// A certificate of the server chain is not valid yet at the time in use.
    NotYetValid,
    /// The server certificate is not for TLS server authentication.
    NotServerAuth,
    /// The server chain holds an RSA key shorter than 2048 bits.
    WeakKey,
    /// The server chain is signed with a broken algorithm.
    WeakSignature,
    /// The server chain is signed with an algorithm this build cannot verify.
    UnsupportedSignature,
    /// The server certificate matches none of the configured pins.
    PinMismatch,
    /// Any other defect of the server chain.
    ServerCertificateInvalid,
    // --- TLS.
    /// The server ended the handshake with a fatal TLS alert.
    TlsAlert,
    /// The server cannot do the lowest TLS version we accept.
    TlsVersionBelowMinimum,
    /// The server broke the TLS protocol (bad record, bad message, failed check).
    Tls,
    /// The server sent application data other than the EAP-TLS commitment message.
    UnexpectedApplicationData,
    /// The server closed the TLS connection before EAP-TLS finished.
    TlsClosed,
    /// The negotiated suite cannot be used for EAP-TLS key derivation.
    UnsupportedSuite,
    // --- Our client certificate.
    /// The server asked for a certificate and only archived slots would have matched.
    OnlyArchivedMatch,
    /// The server asked for a certificate and no slot qualified.
    NoClientCertificate,
    /// The chosen slot's key is held by a secure element that does not have it (or is absent).
    KeyUnavailable,
    /// The server refused this device after receiving its certificate (EAP-Failure).
    RejectedCertificate,
    // --- EAP-TLS framing.
    /// The server announced or sent a TLS message beyond the configured bound.
    MessageTooLarge,
    /// The server's TLS message arrived in more fragments than allowed.
    FragmentFlood,
    /// Any other EAP-TLS framing violation.
    EapTlsFraming,
    /// An EAP-TLS request that makes no sense in the method's state.
    UnexpectedRequest,
    /// The server restarted EAP-TLS in the middle of the handshake.
    UnexpectedStart,
    // --- EAP.
    /// The server refused our ClientHello with EAP-Failure (version, suite or group).
    ClientHelloRefused,
    /// The server sent EAP-Failure in the middle of the EAP-TLS handshake.
    EarlyFailure,
    /// The server sent EAP-Failure.
    Rejected,
    /// EAP-Success came before EAP-TLS finished and nothing followed.
    EarlySuccess,
    /// EAP-Success came before any authentication.
    SuccessWithoutMethod,
    /// The server switched to another EAP method after EAP-TLS had started.
    MethodChanged,
    /// More EAP Identity requests than the configured bound.
    IdentityStorm,
    // --- The PAE and the platform.
    /// No authenticator answered maxStart EAPOL-Starts.
    NoAuthenticator,
    /// The authenticator went silent for authPeriod.
    Timeout,
    /// The platform's radio could not send a frame.
    Radio,
    /// A response did not fit Latchkey's buffers (a configuration or sizing error).
    ResponseTooLarge,
    // --- WPA key handshakes.
    /// The association's RSN elements cannot run the key handshake (AKM, cipher or PMF).
    RsnAssociation,
    /// The access point's authenticated key message failed a check that forbids staying
    /// associated (RSNE differing from the beacon's, bad group keys).
    KeyHandshake,
    /// An internal invariant did not hold (a Latchkey bug, not the server's fault).
    Internal,
}

impl FailKind {
    /// The stable, kebab-case name (`"untrusted-ca"`, `"rejected-certificate"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            FailKind::UntrustedCa => "untrusted-ca",
            FailKind::NameMismatch => "name-mismatch",
            FailKind::Expired => "expired",
            FailKind::NotYetValid => "not-yet-valid",
            FailKind::NotServerAuth => "not-server-auth",
            FailKind::WeakKey => "weak-key",
            FailKind::WeakSignature => "weak-signature",
            FailKind::UnsupportedSignature => "unsupported-signature",
            FailKind::PinMismatch => "pin-mismatch",
            FailKind::ServerCertificateInvalid => "server-certificate-invalid",
            FailKind::TlsAlert => "tls-alert",
            FailKind::TlsVersionBelowMinimum => "tls-version-below-minimum",
            FailKind::Tls => "tls",
            FailKind::UnexpectedApplicationData => "unexpected-application-data",
            FailKind::TlsClosed => "tls-closed",
            FailKind::UnsupportedSuite => "unsupported-suite",
            FailKind::OnlyArchivedMatch => "only-archived-match",
            FailKind::NoClientCertificate => "no-client-certificate",
            FailKind::KeyUnavailable => "key-unavailable",
            FailKind::RejectedCertificate => "rejected-certificate",
            FailKind::MessageTooLarge => "message-too-large",
            FailKind::FragmentFlood => "fragment-flood",
            FailKind::EapTlsFraming => "eap-tls-framing",
            FailKind::UnexpectedRequest => "unexpected-request",
            FailKind::UnexpectedStart => "unexpected-start",
            FailKind::ClientHelloRefused => "client-hello-refused",
            FailKind::EarlyFailure => "early-failure",
            FailKind::Rejected => "rejected",
            FailKind::EarlySuccess => "early-success",
            FailKind::SuccessWithoutMethod => "success-without-method",
            FailKind::MethodChanged => "method-changed",
            FailKind::IdentityStorm => "identity-storm",
            FailKind::NoAuthenticator => "no-authenticator",
            FailKind::Timeout => "timeout",
            FailKind::Radio => "radio",
            FailKind::ResponseTooLarge => "response-too-large",
            FailKind::RsnAssociation => "rsn-association",
            FailKind::KeyHandshake => "key-handshake",
            FailKind::Internal => "internal",
        }
    }

    /// Every kind, in declaration order (for documentation tables and tests).
    pub const ALL: &'static [FailKind] = &[
        FailKind::UntrustedCa,
        FailKind::NameMismatch,
        FailKind::Expired,
        FailKind::NotYetValid,
        FailKind::NotServerAuth,
        FailKind::WeakKey,
        FailKind::WeakSignature,
        FailKind::UnsupportedSignature,
        FailKind::PinMismatch,
        FailKind::ServerCertificateInvalid,
        FailKind::TlsAlert,
        FailKind::TlsVersionBelowMinimum,
        FailKind::Tls,
        FailKind::UnexpectedApplicationData,
        FailKind::TlsClosed,
        FailKind::UnsupportedSuite,
        FailKind::OnlyArchivedMatch,
        FailKind::NoClientCertificate,
        FailKind::KeyUnavailable,
        FailKind::RejectedCertificate,
        FailKind::MessageTooLarge,
        FailKind::FragmentFlood,
        FailKind::EapTlsFraming,
        FailKind::UnexpectedRequest,
        FailKind::UnexpectedStart,
        FailKind::ClientHelloRefused,
        FailKind::EarlyFailure,
        FailKind::Rejected,
        FailKind::EarlySuccess,
        FailKind::SuccessWithoutMethod,
        FailKind::MethodChanged,
        FailKind::IdentityStorm,
        FailKind::NoAuthenticator,
        FailKind::Timeout,
        FailKind::Radio,
        FailKind::ResponseTooLarge,
        FailKind::RsnAssociation,
        FailKind::KeyHandshake,
        FailKind::Internal,
    ];

    /// Whether the cause lies with the server or the network (as opposed to this device's
    /// configuration, its credentials or Latchkey itself): useful for retry policies.
    pub const fn is_server_side(self) -> bool {
        !matches!(
            self,
            FailKind::OnlyArchivedMatch
                | FailKind::NoClientCertificate
                | FailKind::KeyUnavailable
                | FailKind::Radio
                | FailKind::ResponseTooLarge
                | FailKind::Internal
        )
    }
}

impl fmt::Display for FailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for FailKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for FailKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_unique_and_kebab_case() {
        for (i, a) in FailKind::ALL.iter().enumerate() {
            let s = a.as_str();
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{s}"
            );
            for b in &FailKind::ALL[i + 1..] {
                assert_ne!(s, b.as_str());
            }
        }
    }
}
