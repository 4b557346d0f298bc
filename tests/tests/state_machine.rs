//! EAP peer decision rules and duplicate handling, driven frame by frame against the
//! simulator's rustls EAP-TLS server.

use latchkey_core::eap::peer::{DropReason, PeerError};
use latchkey_core::hal::{Radio, RadioErrorKind};
use latchkey_core::supplicant::{
    Association, Config, Event, FailReason, Now, PaeState, Supplicant,
};
use latchkey_core::tls::VersionPolicy;
use latchkey_core::wpa::rsne::{Rsne, CAP_MFPC};
use latchkey_core::wpa::{Akm, Cipher, DropReason as KeyDrop};
use latchkey_sim::auth::server::{EapServer, ServerAction, ServerBehaviour};
use latchkey_sim::auth::tls::server_config;
use latchkey_sim::drive::sim;
use latchkey_sim::drive::sim::Scenario;
use latchkey_sim::hal::memory;
use latchkey_sim::pki::TestPki;
use std::sync::OnceLock;

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate().expect("test PKI"))
}

#[derive(Default)]
struct Outbox(Vec<Vec<u8>>);

impl Radio for Outbox {
    type Error = RadioErrorKind;

    fn send(&mut self, _dst: [u8; 6], frame: &[u8]) -> Result<(), RadioErrorKind> {
        self.0.push(frame.to_vec());
        Ok(())
    }
}

fn eapol(eap: &[u8]) -> Vec<u8> {
    let mut f = vec![2u8, 0, (eap.len() >> 8) as u8, eap.len() as u8];
    f.extend_from_slice(eap);
    f
}

fn now() -> Now {
    Now {
        ms: 10,
        unix: Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        ),
    }
}

struct Rig {
    sup: Supplicant,
    server: EapServer,
    radio: Outbox,
}

impl Rig {
    fn new(v: VersionPolicy, server_frag: usize) -> Rig {
        let mut config = Config::default();
        config.peer.identity = heapless::String::try_from("anonymous@latchkey.test").unwrap();
        let server = EapServer::new(
            server_config(pki(), v).unwrap(),
            ServerBehaviour {
                fragment_size: server_frag,
                ..Default::default()
            },
        )
        .unwrap();
        let mut rig = Rig {
            sup: memory::client(pki(), &config, VersionPolicy::Both).unwrap(),
            server,
            radio: Outbox::default(),
        };
        assert!(rig.sup.start(now(), &mut rig.radio).is_none());
        rig
    }

    /// Deliver an EAP packet to the supplicant; returns its event and the EAP response, if any.
    fn deliver(&mut self, eap: &[u8]) -> (Option<Event>, Option<Vec<u8>>) {
        self.radio.0.clear();
        let ev = self
            .sup
            .handle_frame(now(), memory::AP_ADDR, &eapol(eap), &mut self.radio);
        let resp = self.radio.0.pop().map(|f| f[4..].to_vec());
        (ev, resp)
    }

    /// Run the real conversation until `stop` says the next server packet should be held back.
    fn run_until(&mut self, mut stop: impl FnMut(&[u8], &EapServer) -> bool) -> Vec<u8> {
        let mut pkt = self.server.start();
        loop {
            if stop(&pkt, &self.server) {
                return pkt;
            }
            let (ev, resp) = self.deliver(&pkt);
            assert!(ev.is_none(), "unexpected event {ev:?}");
            match self.server.handle(&resp.expect("a response")) {
                ServerAction::Request(p) | ServerAction::Success(p) => pkt = p,
                ServerAction::Failure(_, why) => panic!("server failed: {why}"),
            }
        }
    }
}

#[test]
fn duplicate_identity_request_gets_identical_response() {
    let mut rig = Rig::new(VersionPolicy::Tls13Only, 1024);
    let req = rig.server.start();
    let (_, first) = rig.deliver(&req);
    let (_, again) = rig.deliver(&req);
    assert_eq!(first, again);
    assert!(first.is_some());
}

#[test]
fn duplicate_tls_request_mid_handshake_gets_identical_response() {
    // Stop at the second fragment of the server flight, deliver it twice.
    let mut n = 0;
    let mut rig = Rig::new(VersionPolicy::Tls12Only, 100);
    let pkt = rig.run_until(|p, _| {
        if p.len() > 6 && p[4] == 13 && p[5] & 0x40 != 0 {
            n += 1;
        }
        n == 2
    });
    let (ev1, r1) = rig.deliver(&pkt);
    let (ev2, r2) = rig.deliver(&pkt);
    assert!(ev1.is_none() && ev2.is_none());
    assert_eq!(r1, r2);
    // The retransmitted ACK is byte-identical, including the identifier.
    assert_eq!(r1.as_ref().unwrap()[1], pkt[1]);
}

#[test]
fn conflicting_request_with_same_id_is_dropped() {
    let mut rig = Rig::new(VersionPolicy::Tls13Only, 1024);
    let req = rig.server.start();
    let _ = rig.deliver(&req);
    // Same identifier, different content (a Notification instead of Identity).
    let forged = [1u8, req[1], 0, 5, 2];
    let (ev, resp) = rig.deliver(&forged);
    assert!(ev.is_none() && resp.is_none());
    assert_eq!(
        rig.sup.conversation().last_drop,
        Some(DropReason::ConflictingDuplicate)
    );
}

#[test]
fn request_for_other_method_gets_nak_proposing_tls() {
    let mut rig = Rig::new(VersionPolicy::Tls13Only, 1024);
    // EAP-Request/MD5-Challenge (type 4) id 7.
    let md5 = [1u8, 7, 0, 6, 4, 0];
    let (ev, resp) = rig.deliver(&md5);
    assert!(ev.is_none());
    assert_eq!(resp.unwrap(), vec![2, 7, 0, 6, 3, 13]);
    // An expanded-type request (254) gets an expanded Nak proposing EAP-TLS.
    let expanded = [1u8, 8, 0, 12, 254, 0, 0x13, 0x37, 0, 0, 0, 99];
    let (_, resp) = rig.deliver(&expanded);
    let resp = resp.unwrap();
    assert_eq!(&resp[..2], &[2, 8]);
    assert_eq!(resp[4], 254);
    assert!(
        resp.windows(8).any(|w| w == [254, 0, 0, 0, 0, 0, 0, 13])
            || resp.ends_with(&[0, 0, 0, 0, 0, 0, 13])
    );
}

#[test]
fn success_before_any_method_is_refused() {
    let mut rig = Rig::new(VersionPolicy::Tls13Only, 1024);
    let req = rig.server.start();
    let _ = rig.deliver(&req);
    let (ev, _) = rig.deliver(&[3, req[1], 0, 4]);
    assert!(
        matches!(
            ev,
            Some(Event::Failed(FailReason::Eap(
                PeerError::SuccessWithoutMethod
            )))
        ),
        "{ev:?}"
    );
    assert_ne!(rig.sup.state(), PaeState::Authenticated);
}

#[test]
fn success_during_tls_handshake_is_discarded() {
    for v in [VersionPolicy::Tls12Only, VersionPolicy::Tls13Only] {
        let mut rig = Rig::new(v, 300);
        // Hold back the server's first TLS fragment; inject Success instead.
        let pkt = rig.run_until(|p, _| p.len() > 6 && p[4] == 13 && p[5] & 0x20 == 0);
        let (ev, resp) = rig.deliver(&[3, pkt[1].wrapping_sub(1), 0, 4]);
        assert!(ev.is_none() && resp.is_none(), "{v:?}: {ev:?}");
        assert_eq!(
            rig.sup.conversation().last_drop,
            Some(DropReason::EarlySuccess)
        );
        assert_eq!(rig.sup.state(), PaeState::Authenticating);
    }
}

#[test]
fn tls13_success_before_commitment_is_not_accepted() {
    let mut s = Scenario {
        server_versions: VersionPolicy::Tls13Only,
        ..Scenario::default()
    };
    // The server sends EAP-Success in place of its commitment message.
    s.server.early_success = true;
    let o = sim::run(pki(), &s).unwrap();
    // Discarded, never taken as success; when the server then falls silent, authPeriod ends
    // the conversation with the early decision named as the cause.
    assert!(
        matches!(o.event, Some(Event::Failed(FailReason::EarlySuccess))),
        "{:?}",
        o.event
    );
    assert_eq!(o.drops.early_success, 1);
}

#[test]
fn tls12_success_before_server_finished_is_not_accepted() {
    let mut s = Scenario {
        server_versions: VersionPolicy::Tls12Only,
        ..Scenario::default()
    };
    s.server.early_success = true;
    let o = sim::run(pki(), &s).unwrap();
    // Discarded, never taken as success; when the server then falls silent, authPeriod ends
    // the conversation with the early decision named as the cause.
    assert!(
        matches!(o.event, Some(Event::Failed(FailReason::EarlySuccess))),
        "{:?}",
        o.event
    );
    assert_eq!(o.drops.early_success, 1);
}

#[test]
fn eapol_key_and_unknown_types_are_counted_not_fatal() {
    // A wired port (no RSN information): EAPOL-Key frames are not ours to handle.
    let mut rig = Rig::new(VersionPolicy::Tls13Only, 1024);
    rig.radio.0.clear();
    for f in [
        vec![2u8, 3, 0, 0],
        vec![2u8, 9, 0, 0],
        vec![2u8, 0, 0, 99, 1],
    ] {
        assert!(rig
            .sup
            .handle_frame(now(), memory::AP_ADDR, &f, &mut rig.radio)
            .is_none());
    }
    let d = rig.sup.drops();
    assert_eq!(d.unhandled_eapol_type, 2);
    assert_eq!(d.malformed_eapol, 1);
    assert_eq!(d.eapol_key.total(), 0);
    // The conversation still works afterwards.
    let req = rig.server.start();
    assert!(rig.deliver(&req).1.is_some());
}

#[test]
fn eapol_key_on_an_rsn_association_goes_to_the_key_handshake() {
    let mut rig = Rig::new(VersionPolicy::Tls13Only, 1024);
    let ap_rsne = rsne(CAP_MFPC);
    let our_rsne = rsne(CAP_MFPC);
    let assoc =
        Association::new(memory::AP_ADDR, [2, 0, 0, 0, 0, 0x42]).with_rsn(&ap_rsne, &our_rsne);
    assert!(rig.sup.associated(now(), assoc, &mut rig.radio).is_none());
    let hs = rig.sup.key_handshake().expect("key handshake set up");
    assert_eq!(hs.akm(), Akm::Ieee8021xSha256);
    rig.radio.0.clear();
    // A truncated EAPOL-Key frame and a message 1 before EAP gave a PMK: both dropped by the
    // key handshake with their reasons, not "unhandled", and nothing answered.
    // Message 1 (AKM 5: descriptor version 3, pairwise, ack), replay counter 1, ANonce 0xa1.
    let mut msg1 = vec![2u8, 3, 0, 95, 2, 0x00, 0x8b, 0, 16];
    msg1.extend_from_slice(&1u64.to_be_bytes());
    msg1.extend_from_slice(&[0xa1; 32]);
    msg1.resize(4 + 95, 0);
    for f in [vec![2u8, 3, 0, 0], msg1] {
        assert!(rig
            .sup
            .handle_frame(now(), memory::AP_ADDR, &f, &mut rig.radio)
            .is_none());
    }
    let d = rig.sup.drops();
    assert_eq!(d.unhandled_eapol_type, 0);
    assert_eq!(d.eapol_key.get(KeyDrop::Malformed), 1);
    assert_eq!(d.eapol_key.get(KeyDrop::NoPmk), 1);
    assert!(rig.radio.0.is_empty());
}

fn rsne(caps: u16) -> Vec<u8> {
    let ccmp = Cipher::Ccmp128.selector();
    let r = Rsne {
        group_cipher: ccmp,
        pairwise: heapless::Vec::from_slice(&[ccmp]).unwrap(),
        akms: heapless::Vec::from_slice(&[Akm::Ieee8021xSha256.selector()]).unwrap(),
        capabilities: caps,
        pmkids: heapless::Vec::new(),
        group_mgmt_cipher: None,
    };
    let mut b = [0u8; 64];
    let n = r.emit(&mut b).unwrap();
    b[..n].to_vec()
}
