//! The PAE, the EAP peer's RFC 4137 rules and the EAP-TLS method's pacing, driven frame by
//! frame through the public API with a recording radio and a virtual clock. No TLS server is
//! needed: the ClientHello is real (our engine makes it), the server side is scripted.

extern crate std;

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

use super::*;
use crate::certs::{InlineKey, KeyRef, SharedSlotTable, SlotTable};
use crate::eap::peer::IdentityPrivacy;
use crate::hal::RadioErrorKind;
use crate::tls::{NameMatch, ServerPolicy, SharedRng, VersionPolicy};
use crate::SupplicantBuilder;
use alloc::string::ToString;

static RNG: SharedRng<rand_core::OsRng> = SharedRng::new(rand_core::OsRng);

const AP: MacAddr = [0x02, 0, 0, 0, 0, 0xaa];
const INTRUDER: MacAddr = [0x02, 0, 0, 0, 0, 0xee];
const ME: MacAddr = [0x02, 0, 0, 0, 0, 0x01];

/// Sent frames, by destination.
#[derive(Default)]
struct Air {
    sent: Vec<(MacAddr, Vec<u8>)>,
    fail: bool,
}

impl Radio for Air {
    type Error = RadioErrorKind;

    fn send(&mut self, dst: MacAddr, frame: &[u8]) -> Result<(), RadioErrorKind> {
        if self.fail {
            return Err(RadioErrorKind::LinkDown);
        }
        self.sent.push((dst, frame.to_vec()));
        Ok(())
    }
}

impl Air {
    fn take(&mut self) -> Vec<(MacAddr, Vec<u8>)> {
        core::mem::take(&mut self.sent)
    }

    /// The EAP body of the last frame sent.
    fn last_eap(&self) -> Vec<u8> {
        let (_, f) = self.sent.last().expect("a frame was sent");
        assert_eq!(f[1], 0, "an EAP-Packet");
        f[4..].to_vec()
    }
}

type Table = SharedSlotTable<4, 2048>;

struct Kit {
    ca_der: Vec<u8>,
    table: Arc<Table>,
}

/// A CA and a P-256 client certificate in a fresh slot table.
fn kit() -> Kit {
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "Unit CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name
        .push(DnType::CommonName, "device-0001");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf.not_before = rcgen::date_time_ymd(2025, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(2035, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let table = Arc::new(Table::new(SlotTable::new()));
    let inline = InlineKey::from_pkcs8_der(&key.serialize_der()).unwrap();
    table
        .with(|t| t.install(cert.der(), KeyRef::Inline(inline)))
        .unwrap();
    Kit {
        ca_der: ca_cert.der().to_vec(),
        table,
    }
}

fn builder(k: &Kit) -> SupplicantBuilder {
    let policy = ServerPolicy::new(NameMatch::exact("radius.example.test").unwrap())
        .with_anchor_der(&k.ca_der)
        .unwrap();
    Supplicant::builder("device-0001@example.test")
        .server(policy)
        .slot_table(k.table.clone())
        .rng(&RNG)
}

fn supplicant(k: &Kit, config: Config) -> Supplicant {
    builder(k).config(config).build().unwrap()
}

fn quick() -> Config {
    Config {
        start_period_ms: 1_000,
        held_period_ms: 5_000,
        auth_period_ms: 2_000,
        max_start: 3,
        ..Config::default()
    }
}

fn at(ms: u64) -> Now {
    Now::ms(ms)
}

fn eapol(eap: &[u8]) -> Vec<u8> {
    let mut f = vec![2u8, 0, (eap.len() >> 8) as u8, eap.len() as u8];
    f.extend_from_slice(eap);
    f
}

fn identity_request(id: u8) -> Vec<u8> {
    eapol(&[1, id, 0, 5, 1])
}

fn tls_start(id: u8) -> Vec<u8> {
    eapol(&[1, id, 0, 6, 13, 0x20])
}

fn tls_request(id: u8, flags: u8, data: &[u8]) -> Vec<u8> {
    let len = 6 + data.len();
    let mut eap = vec![1, id, (len >> 8) as u8, len as u8, 13, flags];
    eap.extend_from_slice(data);
    eapol(&eap)
}

fn ack(id: u8) -> Vec<u8> {
    tls_request(id, 0, &[])
}

fn failure(id: u8) -> Vec<u8> {
    eapol(&[4, id, 0, 4])
}

fn success(id: u8) -> Vec<u8> {
    eapol(&[3, id, 0, 4])
}

/// Start, answer the Identity request (id 1) and the EAP-TLS Start (id 2): our ClientHello is
/// the last frame sent, at virtual time 2 ms.
fn to_client_hello(s: &mut Supplicant, air: &mut Air) {
    assert!(s.start(at(0), air).is_none());
    assert!(s
        .handle_frame(at(1), AP, &identity_request(1), air)
        .is_none());
    assert!(s.handle_frame(at(2), AP, &tls_start(2), air).is_none());
}

fn failed(ev: Option<Event>) -> FailReason {
    match ev {
        Some(Event::Failed(r)) => r,
        other => panic!("expected a failure, got {other:?}"),
    }
}

// --- Timers (802.1X-2010 §8.8).

#[test]
fn start_period_and_max_start_end_in_no_authenticator() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    assert!(s.start(at(0), &mut air).is_none());
    assert_eq!(s.next_deadline(), Some(1_000));
    // Nothing before startPeriod.
    assert!(s.poll(at(999), &mut air).is_none());
    assert_eq!(air.sent.len(), 1);
    assert!(s.poll(at(1_000), &mut air).is_none());
    assert!(s.poll(at(2_000), &mut air).is_none());
    let starts = air.take();
    assert_eq!(starts.len(), 3, "maxStart EAPOL-Starts");
    for (dst, f) in &starts {
        assert_eq!(*dst, PAE_GROUP_ADDR);
        assert_eq!(f, &[1, 1, 0, 0], "EAPOL-Start, version 1");
    }
    let r = failed(s.poll(at(3_000), &mut air));
    assert_eq!(r.kind(), FailKind::NoAuthenticator);
    assert_eq!(s.state(), PaeState::Held);
    // heldPeriod, then a new round of Starts.
    assert_eq!(s.next_deadline(), Some(8_000));
    assert!(s.poll(at(7_999), &mut air).is_none());
    assert!(air.sent.is_empty());
    assert!(s.poll(at(8_000), &mut air).is_none());
    assert_eq!(s.state(), PaeState::Connecting);
    assert_eq!(air.take().len(), 1);
}

#[test]
fn auth_period_of_silence_is_a_timeout() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let _ = s.start(at(0), &mut air);
    assert!(s
        .handle_frame(at(100), AP, &identity_request(1), &mut air)
        .is_none());
    assert_eq!(s.state(), PaeState::Authenticating);
    assert_eq!(s.next_deadline(), Some(2_100));
    assert!(s.poll(at(2_099), &mut air).is_none());
    let r = failed(s.poll(at(2_100), &mut air));
    assert_eq!(r.kind(), FailKind::Timeout);
}

#[test]
fn frames_while_held_are_counted_and_ignored() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let _ = s.start(at(0), &mut air);
    let _ = s.handle_frame(at(1), AP, &identity_request(1), &mut air);
    let _ = failed(s.handle_frame(at(2), AP, &failure(1), &mut air));
    assert_eq!(s.state(), PaeState::Held);
    air.take();
    assert!(s
        .handle_frame(at(3), AP, &identity_request(2), &mut air)
        .is_none());
    assert!(air.sent.is_empty());
    assert_eq!(s.drops().while_idle, 1);
}

#[test]
fn radio_failure_is_reported_with_its_kind() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air {
        fail: true,
        ..Air::default()
    };
    let r = failed(s.start(at(0), &mut air));
    assert_eq!(r, FailReason::Radio(RadioErrorKind::LinkDown));
    assert_eq!(r.kind(), FailKind::Radio);
}

// --- The link: who the authenticator is.

#[test]
fn second_station_mid_conversation_is_dropped_and_counted() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let _ = s.start(at(0), &mut air);
    assert_eq!(s.authenticator(), None);
    // The first EAP-Request we answer latches its sender for this conversation.
    let _ = s.handle_frame(at(1), AP, &identity_request(1), &mut air);
    assert_eq!(s.authenticator(), Some(AP));
    let (dst, _) = air.take().pop().unwrap();
    assert_eq!(dst, AP, "the response goes to the station that asked");
    // Another station on the segment tries to take over the conversation.
    assert!(s
        .handle_frame(at(2), INTRUDER, &tls_start(2), &mut air)
        .is_none());
    assert!(s
        .handle_frame(at(3), INTRUDER, &failure(1), &mut air)
        .is_none());
    assert!(air.sent.is_empty(), "nothing answered to the intruder");
    assert_eq!(s.drops().foreign_source, 2);
    assert_eq!(s.state(), PaeState::Authenticating);
    // Our authenticator carries on.
    assert!(s.handle_frame(at(4), AP, &tls_start(2), &mut air).is_none());
    assert_eq!(air.take().pop().unwrap().0, AP);
}

#[test]
fn dropped_frame_does_not_latch_its_sender() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let _ = s.start(at(0), &mut air);
    // A Response (peers never get one) from a stranger is dropped and latches nothing.
    let _ = s.handle_frame(at(1), INTRUDER, &eapol(&[2, 1, 0, 5, 1]), &mut air);
    assert_eq!(s.authenticator(), None);
    let _ = s.handle_frame(at(2), AP, &identity_request(1), &mut air);
    assert_eq!(s.authenticator(), Some(AP));
}

#[test]
fn after_link_down_eapol_start_goes_to_the_group_address() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let assoc = Association::new(AP, ME);
    let _ = s.associated(at(0), assoc, &mut air);
    assert_eq!(air.take().pop().unwrap().0, AP, "unicast Start to the AP");
    assert_eq!(s.own_address(), Some(ME));
    let _ = s.handle_frame(at(1), AP, &identity_request(1), &mut air);
    s.link_down(at(2));
    assert_eq!(s.state(), PaeState::Disconnected);
    assert_eq!(s.authenticator(), None);
    assert_eq!(s.next_deadline(), None, "no timers while the link is down");
    air.take();
    let _ = s.start(at(3), &mut air);
    assert_eq!(air.take().pop().unwrap().0, PAE_GROUP_ADDR);
}

#[test]
fn roam_to_a_new_access_point_moves_the_conversation() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let other: MacAddr = [0x02, 0, 0, 0, 0, 0xbb];
    let _ = s.associated(at(0), Association::new(AP, ME), &mut air);
    let _ = s.associated(at(1), Association::new(other, ME), &mut air);
    assert_eq!(air.take().pop().unwrap().0, other);
    assert!(s
        .handle_frame(at(2), AP, &identity_request(1), &mut air)
        .is_none());
    assert_eq!(
        s.drops().foreign_source,
        1,
        "the old AP is not our authenticator any more"
    );
}

#[test]
fn logoff_sends_eapol_logoff_and_goes_quiet() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let _ = s.start(at(0), &mut air);
    let _ = s.handle_frame(at(1), AP, &identity_request(1), &mut air);
    air.take();
    assert!(s.logoff(at(2), &mut air).is_none());
    let (dst, f) = air.take().pop().unwrap();
    assert_eq!((dst, f.as_slice()), (AP, &[1u8, 2, 0, 0][..]));
    assert_eq!(s.state(), PaeState::Logoff);
    assert_eq!(s.next_deadline(), None);
    assert!(s
        .handle_frame(at(3), AP, &identity_request(2), &mut air)
        .is_none());
    assert!(air.sent.is_empty());
}

// --- The EAP peer's rules (RFC 4137 §4).

#[test]
fn identity_request_is_answered_with_the_outer_identity() {
    let k = kit();
    let mut s = builder(&k)
        .anonymous_identity()
        .config(quick())
        .build()
        .unwrap();
    let mut air = Air::default();
    let _ = s.start(at(0), &mut air);
    let _ = s.handle_frame(at(1), AP, &identity_request(9), &mut air);
    assert_eq!(
        air.last_eap(),
        b"\x02\x09\x00\x12\x01@example.test".to_vec()
    );
    assert_eq!(s.config().peer.privacy, IdentityPrivacy::AnonymousRealm);
}

#[test]
fn duplicate_request_gets_the_identical_response_and_conflict_is_dropped() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let _ = s.start(at(0), &mut air);
    let _ = s.handle_frame(at(1), AP, &identity_request(4), &mut air);
    let first = air.last_eap();
    let _ = s.handle_frame(at(2), AP, &identity_request(4), &mut air);
    assert_eq!(air.last_eap(), first);
    air.take();
    // Same identifier, other content: dropped, counted, unanswered.
    let _ = s.handle_frame(at(3), AP, &eapol(&[1, 4, 0, 5, 2]), &mut air);
    assert!(air.sent.is_empty());
    assert_eq!(
        s.conversation().last_drop,
        Some(DropReason::ConflictingDuplicate)
    );
}

#[test]
fn other_method_gets_a_nak_proposing_eap_tls() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let _ = s.start(at(0), &mut air);
    let _ = s.handle_frame(at(1), AP, &eapol(&[1, 7, 0, 6, 4, 0]), &mut air);
    assert_eq!(air.last_eap(), vec![2, 7, 0, 6, 3, 13]);
}

#[test]
fn success_before_any_method_is_refused() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let _ = s.start(at(0), &mut air);
    let _ = s.handle_frame(at(1), AP, &identity_request(1), &mut air);
    let r = failed(s.handle_frame(at(2), AP, &success(1), &mut air));
    assert_eq!(r.kind(), FailKind::SuccessWithoutMethod);
    assert_ne!(s.state(), PaeState::Authenticated);
}

#[test]
fn success_during_the_handshake_is_discarded_then_named_at_auth_period() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    to_client_hello(&mut s, &mut air);
    assert!(s.handle_frame(at(3), AP, &success(2), &mut air).is_none());
    assert_eq!(s.drops().early_success, 1);
    assert_eq!(s.state(), PaeState::Authenticating);
    let r = failed(s.poll(at(2_003), &mut air));
    assert_eq!(r, FailReason::EarlySuccess);
}

#[test]
fn failure_before_eap_tls_is_a_rejection() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let _ = s.start(at(0), &mut air);
    let _ = s.handle_frame(at(1), AP, &identity_request(1), &mut air);
    let r = failed(s.handle_frame(at(2), AP, &failure(1), &mut air));
    assert_eq!(r.kind(), FailKind::Rejected);
}

#[test]
fn failure_answering_our_client_hello_fails_at_once_naming_the_versions() {
    for (v, words) in [
        (VersionPolicy::Tls13Only, "offered TLS 1.3 only"),
        (VersionPolicy::Tls12Only, "offered TLS 1.2 only"),
        (VersionPolicy::Both, "offered TLS 1.2 and 1.3"),
    ] {
        let k = kit();
        let mut s = builder(&k).config(quick()).tls_versions(v).build().unwrap();
        let mut air = Air::default();
        to_client_hello(&mut s, &mut air);
        // The server refuses what it read: Access-Reject + EAP-Failure, no alert. No wait for
        // authPeriod: the verdict is taken at once.
        let r = failed(s.handle_frame(at(3), AP, &failure(2), &mut air));
        assert_eq!(r.kind(), FailKind::ClientHelloRefused, "{v:?}");
        assert!(r.to_string().contains(words), "{r}");
        assert_eq!(s.state(), PaeState::Held);
    }
}

/// Whatever versions we offer, our ClientHello's legacy_session_id is empty: no TLS 1.3
/// middlebox-compatibility id for the server to echo (RFC 8446 D.4; vendor/rustls.patch).
/// The published rustls sends 32 random bytes when TLS 1.3 is offered.
#[test]
fn our_client_hello_has_an_empty_legacy_session_id() {
    for v in [
        VersionPolicy::Tls13Only,
        VersionPolicy::Both,
        VersionPolicy::Tls12Only,
    ] {
        let k = kit();
        let mut s = builder(&k).config(quick()).tls_versions(v).build().unwrap();
        let mut air = Air::default();
        to_client_hello(&mut s, &mut air);
        let eap = air.last_eap();
        // EAP-TLS flags, then the 4-byte TLS length when the L flag is set (RFC 5216 §3.2).
        let tls = if eap[5] & 0x80 != 0 {
            &eap[10..]
        } else {
            &eap[6..]
        };
        // Record header (5), handshake header (4), legacy_version (2), random (32).
        assert_eq!((tls[0], tls[5]), (22, 1), "{v:?}: a ClientHello");
        assert_eq!(tls[43], 0, "{v:?}: legacy_session_id length");
    }
}

#[test]
fn failure_with_a_foreign_identifier_is_dropped() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    let _ = s.start(at(0), &mut air);
    let _ = s.handle_frame(at(1), AP, &identity_request(10), &mut air);
    assert!(s.handle_frame(at(2), AP, &failure(200), &mut air).is_none());
    assert_eq!(
        s.conversation().last_drop,
        Some(DropReason::WrongIdentifier)
    );
}

// --- The EAP-TLS method.

#[test]
fn our_client_hello_is_paced_by_the_servers_acks() {
    let k = kit();
    let config = Config {
        method: crate::eap_tls::method::MethodConfig {
            fragment_size: 64,
            ..Default::default()
        },
        ..quick()
    };
    let mut s = supplicant(&k, config);
    let mut air = Air::default();
    to_client_hello(&mut s, &mut air);
    let first = air.last_eap();
    // First fragment: L and M flags, the whole length, then 64 bytes of TLS.
    assert_eq!(first[5] & 0xc0, 0xc0);
    let total = u32::from_be_bytes([first[6], first[7], first[8], first[9]]) as usize;
    assert_eq!(first.len(), 10 + 64);
    let mut got = first[10..].to_vec();
    assert_eq!(got[0], 22, "a TLS handshake record");
    let mut id = 3u8;
    while got.len() < total {
        air.take();
        assert!(s
            .handle_frame(at(u64::from(id)), AP, &ack(id), &mut air)
            .is_none());
        let frag = air.last_eap();
        assert_eq!(frag[1], id);
        let more = frag[5] & 0x40 != 0;
        assert_eq!(frag[5] & 0x80, 0, "L only on the first fragment");
        got.extend_from_slice(&frag[6..]);
        assert_eq!(more, got.len() < total);
        id += 1;
    }
    assert_eq!(got.len(), total);
    let stats = s.conversation().stats;
    assert_eq!(stats.flights_sent, 1);
    assert_eq!(usize::from(stats.fragments_sent), total.div_ceil(64));
}

#[test]
fn bad_record_from_the_server_fails_cleanly_with_our_alert() {
    // The record-layer error case that once made the engine re-read a record after its fatal
    // alert (a debug assertion in rustls: a remote crash before authentication). A record
    // header with version 0xffff after our ClientHello must end the conversation with a typed
    // error and our alert, in every build profile.
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    to_client_hello(&mut s, &mut air);
    air.take();
    let r = failed(s.handle_frame(
        at(3),
        AP,
        &tls_request(3, 0, &[0x15, 0xff, 0xff, 0xff, 0xff, 0, 0]),
        &mut air,
    ));
    assert_eq!(r.kind(), FailKind::Tls, "{r}");
    // Our alert goes out as the last EAP-TLS response: a TLS alert record.
    let resp = air.last_eap();
    assert_eq!(resp[4], 13);
    assert_eq!(resp[6], 21, "an alert record: {resp:?}");
    // The method is done: more input is not fed to the engine again.
    air.take();
    let _ = s.handle_frame(
        at(4),
        AP,
        &tls_request(4, 0, &[0x16, 3, 3, 0, 1, 0]),
        &mut air,
    );
    assert!(air.sent.is_empty());
}

#[test]
fn every_record_layer_error_fails_without_a_panic() {
    // Each case is one EAP-TLS request after our ClientHello.
    let cases: [&[u8]; 5] = [
        &[0x15, 0xff, 0xff, 0xff, 0xff, 0, 0],
        &[0x16, 3, 3, 0xff, 0xff],
        &[0x17, 3, 3, 0, 4, 1, 2, 3, 4],
        &[0x63, 3, 3, 0, 1, 0],
        &[0x16, 3, 3, 0, 4, 2, 0, 0, 9],
    ];
    for data in cases {
        let k = kit();
        let mut s = supplicant(&k, quick());
        let mut air = Air::default();
        to_client_hello(&mut s, &mut air);
        let ev = s.handle_frame(at(3), AP, &tls_request(3, 0, data), &mut air);
        // A partial record is waited for; anything else fails with a typed kind.
        if let Some(ev) = ev {
            let r = failed(Some(ev));
            assert!(r.kind().is_server_side(), "{data:?}: {r}");
        }
    }
}

#[test]
fn oversize_announced_length_is_refused_before_buffering() {
    let k = kit();
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    to_client_hello(&mut s, &mut air);
    let r = failed(s.handle_frame(
        at(3),
        AP,
        &tls_request(3, 0xc0, &[0, 0x10, 0, 0, 22]),
        &mut air,
    ));
    assert_eq!(r.kind(), FailKind::MessageTooLarge);
}

// --- One time basis.

#[test]
fn wall_clock_below_the_floor_gives_way_to_the_floor() {
    let k = kit();
    let floor = 1_790_000_000; // 2026-09
    k.table.with(|t| t.observe_time(floor));
    let mut s = supplicant(&k, quick());
    let mut air = Air::default();
    // An RTC reset to 2020.
    let now = Now {
        ms: 0,
        unix: Some(1_600_000_000),
    };
    let _ = s.start(now, &mut air);
    let _ = s.handle_frame(now, AP, &identity_request(1), &mut air);
    assert_eq!(s.conversation().time, TimeSource::Floor(floor));
    // A wall clock at or past the floor is used as it is.
    let later = Now {
        ms: 1,
        unix: Some(floor + 10),
    };
    let _ = s.handle_frame(later, AP, &identity_request(2), &mut air);
    assert_eq!(s.conversation().time, TimeSource::Wall(floor + 10));
}

// --- Construction.

#[test]
fn builder_refuses_what_is_missing() {
    let k = kit();
    let policy = ServerPolicy::new(NameMatch::exact("radius.example.test").unwrap())
        .with_anchor_der(&k.ca_der)
        .unwrap();
    let e = Supplicant::builder("x")
        .slot_table(k.table.clone())
        .rng(&RNG)
        .build();
    assert_eq!(e.err(), Some(crate::tls::SetupError::NoServerPolicy));
    let e = Supplicant::builder("x")
        .server(policy.clone())
        .rng(&RNG)
        .build();
    assert_eq!(e.err(), Some(crate::tls::SetupError::NoCredentials));
    let e = Supplicant::builder("x")
        .server(policy.clone())
        .slot_table(k.table.clone())
        .build();
    assert_eq!(e.err(), Some(crate::tls::SetupError::NoRng));
    let e = Supplicant::builder("")
        .server(policy)
        .slot_table(k.table.clone())
        .rng(&RNG)
        .build();
    assert_eq!(e.err(), Some(crate::tls::SetupError::BadIdentity));
}

#[test]
fn supplicant_is_small_when_its_buffers_live_elsewhere() {
    let size = core::mem::size_of::<Supplicant<&'static mut Buffers>>();
    // The key handshake state (RSNEs, PTKs, group keys) and the PMKSA cache live in the
    // supplicant, with no allocation; the EAP part keeps its 4 KiB budget.
    #[cfg(feature = "wpa")]
    let wpa = core::mem::size_of::<Option<Handshake>>();
    #[cfg(feature = "wpa")]
    let pmksa =
        core::mem::size_of::<PmksaCache<PMKSA_CAPACITY>>() + core::mem::size_of::<KeyDrops>();
    #[cfg(not(feature = "wpa"))]
    let (wpa, pmksa) = (0, 0);
    std::println!(
        "Supplicant<&mut Buffers>: {size} B (key handshake {wpa} B, PMKSA cache and \
         EAPOL-Key drop counters {pmksa} B); \
         Buffers: {} B",
        core::mem::size_of::<Buffers>()
    );
    assert!(size - wpa - pmksa < 4096, "{size} B");
    assert!(wpa <= 1280 && pmksa <= 820, "{wpa} B + {pmksa} B");
}

#[cfg(feature = "wpa")]
mod key_handshakes {
    use super::*;

    // ---------------------------------------------------------------------------------------
    // The key handshakes through the PAE, with frames crafted by the wpa module's test
    // authenticator (written from §12.7.6/§12.7.7).

    use crate::wpa::handshake_tests::{Tamper, TestAp};
    use crate::wpa::rsne::Rsne;
    use crate::wpa::{Akm, DropReason as KeyDrop, Pmkid};

    /// Our RSNE as the test AP expects it, with `pmkid` in its PMKID list.
    fn rsne_with_pmkid(rsne: &[u8], pmkid: Pmkid) -> Vec<u8> {
        let mut r = Rsne::parse(rsne).unwrap();
        r.pmkids.push(pmkid).unwrap();
        let mut b = [0u8; 128];
        let n = r.emit(&mut b).unwrap();
        b[..n].to_vec()
    }

    fn install(e: Option<Event>) -> Box<KeyInstall> {
        match e {
            Some(Event::InstallKeys(k)) => k,
            other => panic!("expected InstallKeys, got {other:?}"),
        }
    }

    /// A supplicant associated with `ap`'s network, offering a cached PMKSA for it.
    fn cached_association(k: &Kit, ap: &mut TestAp, air: &mut Air) -> (Supplicant, Pmkid) {
        let mut s = supplicant(k, quick());
        let pmkid = Pmkid([0x5a; 16]);
        s.pmksa_cache_mut()
            .insert(ap.aa, ap.akm, pmkid, ap.pmk.clone(), 0);
        assert_eq!(s.pmkid_for(at(1_000), ap.aa, ap.akm), Some(pmkid));
        ap.our_rsne = rsne_with_pmkid(&ap.our_rsne, pmkid);
        let (ap_rsne, our_rsne) = (ap.ap_rsne.clone(), ap.our_rsne.clone());
        let assoc = Association::new(ap.aa, ap.spa).with_rsn(&ap_rsne, &our_rsne);
        assert!(s.associated(at(1_000), assoc, air).is_none());
        (s, pmkid)
    }

    #[test]
    fn cached_pmksa_runs_the_4way_and_group_rekey_with_no_eap() {
        let k = kit();
        for akm in [Akm::Ieee8021x, Akm::Ieee8021xSha256, Akm::SuiteB192] {
            let mut ap = TestAp::new(akm);
            let mut air = Air::default();
            let (mut s, pmkid) = cached_association(&k, &mut ap, &mut air);
            assert!(
                air.take().is_empty(),
                "{akm}: no EAPOL-Start while a PMKSA is offered"
            );
            assert_eq!(s.next_deadline(), Some(1_000 + 1_000));
            let aa = ap.aa;

            // Message 1 names the PMKID: message 2 goes to the AP, EAP is skipped.
            let m1 = ap.msg1(Some(pmkid));
            assert!(s.handle_frame(at(1_010), aa, &m1, &mut air).is_none());
            let (dst, m2) = air.take().pop().unwrap();
            assert_eq!(dst, aa);
            ap.take_msg2(&m2);
            assert_eq!(s.state(), PaeState::Authenticated);
            assert_eq!(
                s.next_deadline(),
                None,
                "no EAPOL-Start after a cached message 1"
            );

            // Message 3: message 4 sent, keys to install, port open.
            let m3 = ap.msg3(&Tamper::default());
            let keys = install(s.handle_frame(at(1_020), aa, &m3, &mut air));
            assert_eq!(air.take().len(), 1, "message 4");
            let (tk, cipher) = keys.pairwise.as_ref().unwrap();
            assert_eq!(tk.as_bytes(), ap.ptk.as_ref().unwrap().tk().as_bytes());
            assert_eq!(*cipher, s.key_handshake().unwrap().pairwise_cipher());
            let g = keys.group.as_ref().unwrap();
            assert_eq!((g.key_id, g.key.as_bytes()), (1, &ap.gtk[..]));
            assert_eq!(g.rsc, [5, 0, 0, 0, 0, 0, 0, 0]);
            assert_eq!(
                keys.integrity.as_ref().map(|i| i.key.as_bytes().to_vec()),
                ap.igtk.clone(),
                "{akm}: IGTK with PMF only"
            );
            assert!(keys.port_open && keys.from_pmksa_cache);
            assert!(s.port_open());
            // Keys never printed: only fingerprints.
            let shown = alloc::format!("{keys:?}");
            assert!(!shown.contains(&alloc::format!("{:?}", &ap.gtk[..4])));

            // A retransmitted message 3 is answered, nothing reinstalled (KRACK).
            let again = ap.msg3(&Tamper::default());
            assert!(s.handle_frame(at(1_030), aa, &again, &mut air).is_none());
            assert_eq!(air.take().len(), 1, "message 4 again");

            // Group rekey: the new GTK (and IGTK) only.
            ap.gtk = vec![0x77; ap.gtk.len()];
            ap.gtk_id = 2;
            if let Some(i) = ap.igtk.as_mut() {
                i.fill(0x78);
            }
            let g1 = ap.group1(&Tamper::default());
            let keys = install(s.handle_frame(at(1_040), aa, &g1, &mut air));
            assert_eq!(air.take().len(), 1, "group message 2");
            assert!(keys.pairwise.is_none() && !keys.port_open);
            let g = keys.group.unwrap();
            assert_eq!((g.key_id, g.key.as_bytes()), (2, &ap.gtk[..]));
            assert_eq!(keys.integrity.is_some(), ap.igtk.is_some());
            assert_eq!(s.drops().eapol_key.total(), 0);
            assert_eq!(s.drops().unhandled_eapol_type, 0);
        }
    }

    #[test]
    fn bad_eapol_key_frames_are_counted_by_reason_and_a_fatal_one_fails() {
        let k = kit();
        let mut ap = TestAp::new(Akm::Ieee8021xSha256);
        let mut air = Air::default();
        let (mut s, pmkid) = cached_association(&k, &mut ap, &mut air);
        let aa = ap.aa;
        let m1 = ap.msg1(Some(pmkid));
        let _ = s.handle_frame(at(1_010), aa, &m1, &mut air);
        ap.take_msg2(&air.take().pop().unwrap().1);
        // From a stranger: not the key handshake's business.
        let m3 = ap.msg3(&Tamper::default());
        assert!(s.handle_frame(at(1_015), INTRUDER, &m3, &mut air).is_none());
        assert_eq!(s.drops().foreign_source, 1);
        // Bad MIC: dropped, counted, nothing sent or installed.
        let bad = ap.msg3(&Tamper {
            mic: true,
            ..Tamper::default()
        });
        assert!(s.handle_frame(at(1_020), aa, &bad, &mut air).is_none());
        assert_eq!(s.drops().eapol_key.get(KeyDrop::BadMic), 1);
        // The first message 3 replayed after a later one was MIC-checked: still fine here (the
        // bad one did not move the counter); a stale counter after the good one is refused.
        let good = ap.msg3(&Tamper::default());
        assert!(air.take().is_empty());
        install(s.handle_frame(at(1_030), aa, &good, &mut air));
        assert!(s.handle_frame(at(1_031), aa, &m3, &mut air).is_none());
        assert_eq!(s.drops().eapol_key.get(KeyDrop::ReplayedCounter), 1);
        // A group message 1 whose GTK has the wrong length: refused, and the association with it.
        ap.gtk.pop();
        let g1 = ap.group1(&Tamper::default());
        air.take();
        match s.handle_frame(at(1_040), aa, &g1, &mut air) {
            Some(Event::Failed(r)) => {
                assert_eq!(r, FailReason::KeyHandshake(KeyDrop::GtkLength));
                assert_eq!(r.kind(), FailKind::KeyHandshake);
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert!(air.take().is_empty(), "no group message 2 for a bad GTK");
        assert_eq!(s.drops().eapol_key.get(KeyDrop::GtkLength), 1);
        assert_eq!(s.drops().eapol_key.total(), 3);
        assert!(!s.port_open());
        assert_eq!(s.state(), PaeState::Held);
    }

    #[test]
    fn rsne_differing_from_the_beacon_fails_the_association() {
        let k = kit();
        let mut ap = TestAp::new(Akm::Ieee8021x);
        let mut air = Air::default();
        let (mut s, pmkid) = cached_association(&k, &mut ap, &mut air);
        let m1 = ap.msg1(Some(pmkid));
        let _ = s.handle_frame(at(1_010), ap.aa, &m1, &mut air);
        ap.take_msg2(&air.take().pop().unwrap().1);
        let mut other = Rsne::parse(&ap.ap_rsne).unwrap();
        other.capabilities ^= 0x000c;
        let mut b = [0u8; 64];
        let n = other.emit(&mut b).unwrap();
        let m3 = ap.msg3(&Tamper {
            rsne: Some(b[..n].to_vec()),
            ..Tamper::default()
        });
        let e = s.handle_frame(at(1_020), ap.aa, &m3, &mut air);
        assert!(
            matches!(
                e,
                Some(Event::Failed(FailReason::KeyHandshake(
                    KeyDrop::RsneMismatch
                )))
            ),
            "{e:?}"
        );
        assert!(air.take().is_empty(), "no message 4");
        assert!(s.key_handshake().is_none(), "the handshake is torn down");
    }

    #[test]
    fn message_1_before_eap_or_naming_another_pmkid_is_dropped() {
        let k = kit();
        // No PMKSA: EAPOL-Start goes out and message 1 waits for the PMK from EAP.
        let mut ap = TestAp::new(Akm::Ieee8021x);
        let mut s = supplicant(&k, quick());
        let mut air = Air::default();
        let (ap_rsne, our_rsne) = (ap.ap_rsne.clone(), ap.our_rsne.clone());
        let assoc = Association::new(ap.aa, ap.spa).with_rsn(&ap_rsne, &our_rsne);
        assert!(s.associated(at(0), assoc, &mut air).is_none());
        assert_eq!(air.take().len(), 1, "EAPOL-Start");
        let m1 = ap.msg1(None);
        assert!(s.handle_frame(at(1), ap.aa, &m1, &mut air).is_none());
        assert!(air.take().is_empty());
        assert_eq!(s.drops().eapol_key.get(KeyDrop::NoPmk), 1);

        // A PMKSA offered, message 1 names another PMKID: the entry is dropped and EAP will run.
        let mut ap = TestAp::new(Akm::Ieee8021x);
        let (mut s, _) = cached_association(&k, &mut ap, &mut air);
        let m1 = ap.msg1(Some(Pmkid([0x33; 16])));
        assert!(s.handle_frame(at(1_010), ap.aa, &m1, &mut air).is_none());
        assert!(air.take().is_empty());
        assert_eq!(s.drops().eapol_key.get(KeyDrop::PmkidMismatch), 1);
        assert!(
            s.pmksa_cache().is_empty(),
            "the rejected PMKSA is forgotten"
        );
        assert_eq!(s.state(), PaeState::Connecting);
        // startPeriod later EAPOL-Start goes out: a full authentication.
        assert!(s.poll(at(2_000), &mut air).is_none());
        assert_eq!(air.take().len(), 1);
    }

    #[test]
    fn wired_port_or_fullmac_leaves_eapol_key_unhandled() {
        let k = kit();
        let ap = TestAp::new(Akm::Ieee8021x);
        let mut s = supplicant(&k, quick());
        let mut air = Air::default();
        let _ = s.associated(at(0), Association::new(ap.aa, ap.spa), &mut air);
        let mut tap = TestAp::new(Akm::Ieee8021x);
        let m1 = tap.msg1(None);
        assert!(s.handle_frame(at(1), ap.aa, &m1, &mut air).is_none());
        assert_eq!(s.drops().unhandled_eapol_type, 1);
        assert_eq!(s.drops().eapol_key.total(), 0);
        assert!(s.key_handshake().is_none());
    }

    #[test]
    fn wpa3_association_without_pmf_is_refused() {
        let k = kit();
        let ap = TestAp::new(Akm::Ieee8021xSha256);
        let mut ours = Rsne::parse(&ap.our_rsne).unwrap();
        ours.capabilities = 0;
        let mut b = [0u8; 64];
        let n = ours.emit(&mut b).unwrap();
        let mut s = supplicant(&k, quick());
        let mut air = Air::default();
        let assoc = Association::new(ap.aa, ap.spa).with_rsn(&ap.ap_rsne, &b[..n]);
        match s.associated(at(0), assoc, &mut air) {
            Some(Event::Failed(r)) => assert_eq!(r.kind(), FailKind::RsnAssociation),
            other => panic!("expected a failure, got {other:?}"),
        }
        assert!(
            air.take().is_empty(),
            "no EAPOL-Start on a refused association"
        );
    }

    #[test]
    fn pmkid_is_not_offered_past_the_reauthentication_threshold() {
        let k = kit();
        let mut s = supplicant(&k, quick());
        let aa = [2, 0, 0, 0, 0, 9];
        let pmk = crate::wpa::Pmk::from_bytes(&[7; 32], Akm::Ieee8021x).unwrap();
        s.pmksa_cache_mut()
            .insert(aa, Akm::Ieee8021x, Pmkid([1; 16]), pmk, 10);
        assert!(s.pmkid_for(at(10_000), aa, Akm::Ieee8021x).is_some());
        assert!(s.pmkid_for(at(10_000), aa, Akm::Ieee8021xSha256).is_none());
        assert!(s
            .pmkid_for(at((10 + 30_239) * 1000), aa, Akm::Ieee8021x)
            .is_some());
        assert!(s
            .pmkid_for(at((10 + 30_240) * 1000), aa, Akm::Ieee8021x)
            .is_none());
    }

    /// One 4-way handshake through the PAE (message 1 in, message 2 out, message 3 in, message 4
    /// out, keys handed over), from a cached PMKSA: what `valgrind --tool=callgrind
    /// --toggle-collect='*handle_frame*'` measures per AKM.
    fn four_way_through_the_pae(akm: Akm) {
        let k = kit();
        let mut ap = TestAp::new(akm);
        let mut air = Air::default();
        let (mut s, pmkid) = cached_association(&k, &mut ap, &mut air);
        let m1 = ap.msg1(Some(pmkid));
        assert!(s.handle_frame(at(1_010), ap.aa, &m1, &mut air).is_none());
        ap.take_msg2(&air.take().pop().unwrap().1);
        let m3 = ap.msg3(&Tamper::default());
        let keys = install(s.handle_frame(at(1_020), ap.aa, &m3, &mut air));
        assert!(keys.port_open && keys.pairwise.is_some());
        assert_eq!(air.take().len(), 1);
    }

    #[test]
    fn four_way_through_the_pae_akm1() {
        four_way_through_the_pae(Akm::Ieee8021x);
    }

    #[test]
    fn four_way_through_the_pae_akm5() {
        four_way_through_the_pae(Akm::Ieee8021xSha256);
    }

    #[test]
    fn four_way_through_the_pae_akm12() {
        four_way_through_the_pae(Akm::SuiteB192);
    }
}
