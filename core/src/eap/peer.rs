//! The EAP peer state machine (RFC 4137 §4, RFC 3748 §2): answers Identity and Notification,
//! Naks any method but EAP-TLS, retransmits its last response to a duplicate request, and
//! applies the decision rules. EAP-Success counts only once EAP-TLS reached its success state
//! (an earlier one is discarded and never taken). EAP-Failure ends the conversation whenever it
//! comes: RFC 4137 lets a peer accept it while its method's decision is FAIL, which EAP-TLS's is
//! until it succeeds; real servers refuse a ClientHello they cannot serve or a client
//! certificate with a bare EAP-Failure, and an injected one can only deny service, which anyone
//! on the medium can do anyway. The Failure is diagnosed from where the method stood.

use core::fmt;

use sha2::{Digest, Sha256};

use crate::certs::TimeSource;
use crate::eap::{self as wire, Code, Type};
use crate::eap_tls::method::{
    EapTlsMethod, MethodError, MethodOutput, MethodState, Stage, TlsBuffers,
};
use crate::kind::FailKind;
use crate::tls::setup::{TlsSetup, VersionPolicy};

/// Largest EAP packet the peer builds or keeps for retransmission: an Ethernet MTU minus the
/// EAPOL header.
pub const MAX_EAP_PACKET: usize = 1496;

/// Why an EAP packet was dropped without an answer (counted, never silent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DropReason {
    /// It did not parse.
    Malformed,
    /// A Response (peers do not receive responses).
    NotARequest,
    /// Same identifier as the last request but different content.
    ConflictingDuplicate,
    /// EAP-Success while the method is still running (RFC 4137: discarded).
    EarlySuccess,
    /// EAP-Success/Failure with an identifier that matches no response of ours.
    WrongIdentifier,
    /// A code we do not know (RFC 3748 §4: silently discarded).
    UnknownCode,
}

impl DropReason {
    /// A short name for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::NotARequest => "not a request",
            DropReason::ConflictingDuplicate => "same identifier, different content",
            DropReason::EarlySuccess => "EAP-Success before EAP-TLS finished",
            DropReason::WrongIdentifier => "identifier matches no response",
            DropReason::UnknownCode => "unknown code",
        }
    }
}

/// Why the conversation failed, as the peer sees it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PeerError {
    /// EAP-TLS failed.
    Method(MethodError),
    /// The server sent EAP-Failure before EAP-TLS started, or after it finished.
    Rejected,
    /// The server sent EAP-Failure in answer to our certificate flight (the usual way real
    /// RADIUS servers refuse a revoked, unknown or unauthorized client certificate).
    RejectedAfterHandshake,
    /// The server answered our ClientHello with EAP-Failure: it cannot serve what we offered
    /// (TLS version, cipher suite or group).
    ClientHelloRefused {
        /// The TLS versions our ClientHello offered.
        offered: VersionPolicy,
    },
    /// The server sent EAP-Failure in the middle of the EAP-TLS handshake.
    FailureMidHandshake,
    /// The server sent EAP-Success before any method ran (RFC 4137: decision FAIL).
    SuccessWithoutMethod,
    /// The server asked for another method after EAP-TLS had started.
    MethodChanged(u8),
    /// More Identity requests than the configured bound.
    IdentityStorm,
    /// The response did not fit the packet buffer.
    ResponseTooLarge,
}

impl PeerError {
    /// The failure's kind.
    pub fn kind(&self) -> FailKind {
        match self {
            PeerError::Method(m) => m.kind(),
            PeerError::Rejected => FailKind::Rejected,
            PeerError::RejectedAfterHandshake => FailKind::RejectedCertificate,
            PeerError::ClientHelloRefused { .. } => FailKind::ClientHelloRefused,
            PeerError::FailureMidHandshake => FailKind::EarlyFailure,
            PeerError::SuccessWithoutMethod => FailKind::SuccessWithoutMethod,
            PeerError::MethodChanged(_) => FailKind::MethodChanged,
            PeerError::IdentityStorm => FailKind::IdentityStorm,
            PeerError::ResponseTooLarge => FailKind::ResponseTooLarge,
        }
    }
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Method(e) => write!(f, "{e}"),
            PeerError::Rejected => f.write_str("server rejected the authentication (EAP-Failure)"),
            PeerError::RejectedAfterHandshake => f.write_str(
                "server rejected this device after receiving its certificate (EAP-Failure): the certificate may be revoked, unknown to the server, or not authorized",
            ),
            PeerError::ClientHelloRefused { offered } => {
                write!(f, "server refused our ClientHello (offered {}) with EAP-Failure", offered.as_str())?;
                match offered {
                    VersionPolicy::Tls13Only => f.write_str(": it may not support TLS 1.3"),
                    VersionPolicy::Tls12Only => {
                        f.write_str(": it may require TLS 1.3 or not support TLS 1.2")
                    }
                    _ => f.write_str(
                        ": it may support none of our TLS versions, cipher suites or groups",
                    ),
                }
            }
            PeerError::FailureMidHandshake => f.write_str(
                "server sent EAP-Failure in the middle of the EAP-TLS handshake: authentication refused",
            ),
            PeerError::SuccessWithoutMethod => {
                f.write_str("server sent EAP-Success before any authentication: refused")
            }
            PeerError::MethodChanged(t) => {
                write!(
                    f,
                    "server switched to EAP method {t} after EAP-TLS had started: refused"
                )
            }
            PeerError::IdentityStorm => f.write_str("too many EAP Identity requests: refused"),
            PeerError::ResponseTooLarge => {
                f.write_str("EAP response does not fit the packet buffer")
            }
        }
    }
}

impl core::error::Error for PeerError {}

/// What the peer wants done with one incoming EAP packet.
#[derive(Debug)]
pub(crate) enum PeerOutput {
    /// Send the response of `len` bytes written to the output buffer.
    Respond(usize),
    /// The same as the last response, retransmitted (`len` bytes in the output buffer).
    Retransmit(usize),
    /// The conversation succeeded; the keys are in the method.
    Success,
    /// The conversation failed; if `Some(len)`, a last response should still be sent.
    Failure(PeerError, Option<usize>),
    /// Dropped for this reason.
    Dropped(DropReason),
}

/// What the EAP-TLS method needs for one request: the TLS setup, the authentication's time
/// basis and the caller's TLS buffers.
pub(crate) struct MethodContext<'a> {
    pub(crate) tls: &'a TlsSetup,
    pub(crate) time: TimeSource,
    pub(crate) bufs: TlsBuffers<'a>,
}

/// Which identity goes out in the EAP-Response/Identity, which travels in clear through the
/// access point and RADIUS proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum IdentityPrivacy {
    /// Send [`PeerConfig::identity`] as configured.
    #[default]
    Off,
    /// Send only the realm, as the anonymous NAI `@realm` (RFC 9190 §2.1.8, RFC 7542 §2.4):
    /// the real identity then travels only in the client certificate, which TLS 1.3 encrypts.
    /// An identity without a realm is sent as `anonymous`.
    AnonymousRealm,
}

/// Peer settings.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PeerConfig {
    /// Identity (EAP-Response/Identity), e.g. `device-0001@example.test`.
    pub identity: heapless::String<128>,
    /// Whether to hide the user part of the identity (RFC 9190 §2.1.8).
    pub privacy: IdentityPrivacy,
    /// Identity requests accepted in one conversation before refusing.
    pub max_identity_requests: u8,
}

impl Default for PeerConfig {
    fn default() -> Self {
        PeerConfig {
            identity: heapless::String::new(),
            privacy: IdentityPrivacy::Off,
            max_identity_requests: 8,
        }
    }
}

impl PeerConfig {
    /// The identity as it goes on the wire under the privacy setting.
    pub fn outer_identity(&self) -> &str {
        match self.privacy {
            IdentityPrivacy::Off => &self.identity,
            IdentityPrivacy::AnonymousRealm => match self.identity.rfind('@') {
                Some(at) => self.identity.get(at..).unwrap_or("anonymous"),
                None => "anonymous",
            },
        }
    }
}

/// The EAP peer.
pub(crate) struct Peer {
    config: PeerConfig,
    last_id: Option<u8>,
    last_digest: [u8; 32],
    last_response: heapless::Vec<u8, MAX_EAP_PACKET>,
    identity_requests: u8,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("last_id", &self.last_id)
            .finish()
    }
}

impl Peer {
    /// A peer with these settings.
    pub(crate) fn new(config: PeerConfig) -> Self {
        Peer {
            config,
            last_id: None,
            last_digest: [0; 32],
            last_response: heapless::Vec::new(),
            identity_requests: 0,
        }
    }

    /// Forget the conversation.
    pub(crate) fn reset(&mut self) {
        self.last_id = None;
        self.last_response.clear();
        self.identity_requests = 0;
    }

    /// Handle one EAP packet; responses are written to `out`.
    pub(crate) fn handle(
        &mut self,
        packet: &[u8],
        method: &mut EapTlsMethod,
        ctx: MethodContext<'_>,
        out: &mut [u8],
    ) -> PeerOutput {
        let Ok(pkt) = wire::Packet::new_checked(packet) else {
            return PeerOutput::Dropped(DropReason::Malformed);
        };
        let id = pkt.identifier();
        match pkt.code() {
            Code::Request => {}
            Code::Success => return self.on_success(id, method),
            Code::Failure => return self.on_failure(id, method),
            Code::Response => return PeerOutput::Dropped(DropReason::NotARequest),
            Code::Unknown(_) => return PeerOutput::Dropped(DropReason::UnknownCode),
        }
        let whole = packet.get(..usize::from(pkt.length())).unwrap_or(packet);
        let digest: [u8; 32] = Sha256::digest(whole).into();
        if self.last_id == Some(id) {
            if digest != self.last_digest {
                return PeerOutput::Dropped(DropReason::ConflictingDuplicate);
            }
            let Some(dst) = out.get_mut(..self.last_response.len()) else {
                return PeerOutput::Failure(PeerError::ResponseTooLarge, None);
            };
            dst.copy_from_slice(&self.last_response);
            return PeerOutput::Retransmit(self.last_response.len());
        }
        let Some(typ) = pkt.eap_type() else {
            return PeerOutput::Dropped(DropReason::Malformed);
        };
        let data = pkt.type_data();
        let result = match typ {
            Type::Identity => {
                self.identity_requests = self.identity_requests.saturating_add(1);
                if self.identity_requests > self.config.max_identity_requests {
                    return PeerOutput::Failure(PeerError::IdentityStorm, None);
                }
                // A new Identity request starts a new conversation (RFC 3748 §5.1).
                if method.state() != MethodState::Idle {
                    method.reset();
                }
                wire::emit_identity(id, self.config.outer_identity().as_bytes(), out)
                    .map_err(|_| PeerError::ResponseTooLarge)
            }
            Type::Notification => wire::emit_response(id, Type::Notification, &[], out)
                .map_err(|_| PeerError::ResponseTooLarge),
            Type::Tls => match method.handle(ctx.tls, ctx.time, id, data, ctx.bufs, out) {
                MethodOutput::Respond(n) => Ok(n),
                MethodOutput::Fail(e, resp) => {
                    return PeerOutput::Failure(PeerError::Method(e), resp)
                }
            },
            other => {
                if method.state() != MethodState::Idle {
                    return PeerOutput::Failure(PeerError::MethodChanged(other.into()), None);
                }
                let nak = if typ == Type::Expanded {
                    // RFC 3748 §5.3.2: an expanded request gets an expanded Nak.
                    wire::emit_expanded_nak(id, &[wire::ExpandedType::TLS], out)
                } else {
                    wire::emit_nak(id, &[Type::Tls], out)
                };
                nak.map_err(|_| PeerError::ResponseTooLarge)
            }
        };
        match result {
            Ok(n) => {
                self.remember(id, digest, out.get(..n).unwrap_or_default());
                PeerOutput::Respond(n)
            }
            Err(e) => PeerOutput::Failure(e, None),
        }
    }

    fn remember(&mut self, id: u8, digest: [u8; 32], response: &[u8]) {
        self.last_id = Some(id);
        self.last_digest = digest;
        self.last_response.clear();
        // Cannot fail: responses are built in buffers no larger than MAX_EAP_PACKET.
        let _ = self.last_response.extend_from_slice(response);
    }

    /// RFC 3748 §4.2: Success/Failure carry the identifier of the response they answer. Like
    /// wpa_supplicant we also accept last id + 1 (common servers increment it).
    fn id_matches(&self, id: u8) -> bool {
        match self.last_id {
            Some(last) => id == last || id == last.wrapping_add(1),
            None => true,
        }
    }

    fn on_success(&mut self, id: u8, method: &EapTlsMethod) -> PeerOutput {
        if !self.id_matches(id) {
            return PeerOutput::Dropped(DropReason::WrongIdentifier);
        }
        match method.state() {
            MethodState::Done if method.may_succeed() => PeerOutput::Success,
            // RFC 4137 §4.5: while the method continues, Success is discarded.
            MethodState::Sending | MethodState::Receiving => {
                PeerOutput::Dropped(DropReason::EarlySuccess)
            }
            MethodState::Failed => PeerOutput::Failure(PeerError::Rejected, None),
            // decision == FAIL and the method is not running: Success means failure.
            _ => PeerOutput::Failure(PeerError::SuccessWithoutMethod, None),
        }
    }

    fn on_failure(&mut self, id: u8, method: &EapTlsMethod) -> PeerOutput {
        if !self.id_matches(id) {
            return PeerOutput::Dropped(DropReason::WrongIdentifier);
        }
        let e = match method.stage() {
            // hostapd 2.10 and FreeRADIUS 3.2.1 answer a client certificate they refuse (e.g.
            // revoked) with a bare EAP-Failure, without the TLS alert RFC 5216 asks for.
            Stage::AwaitingVerdict => PeerError::RejectedAfterHandshake,
            // A server that cannot serve our ClientHello (TLS version, suite, group) answers
            // with Access-Reject + EAP-Failure and no alert.
            Stage::ClientHelloSent(offered) => PeerError::ClientHelloRefused { offered },
            Stage::Handshake => PeerError::FailureMidHandshake,
            Stage::NotStarted | Stage::Ended => PeerError::Rejected,
        };
        PeerOutput::Failure(e, None)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn config(identity: &str, privacy: IdentityPrivacy) -> PeerConfig {
        PeerConfig {
            identity: heapless::String::try_from(identity).unwrap(),
            privacy,
            ..PeerConfig::default()
        }
    }

    #[test]
    fn anonymous_realm_hides_the_user_part() {
        let c = config("device-0001@latchkey.test", IdentityPrivacy::AnonymousRealm);
        assert_eq!(c.outer_identity(), "@latchkey.test");
        let c = config("device-0001", IdentityPrivacy::AnonymousRealm);
        assert_eq!(c.outer_identity(), "anonymous");
        let c = config("device-0001@latchkey.test", IdentityPrivacy::Off);
        assert_eq!(c.outer_identity(), "device-0001@latchkey.test");
    }
}
