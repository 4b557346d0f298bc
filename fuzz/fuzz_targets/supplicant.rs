//! The whole `Supplicant` (802.1X PAE, EAP peer, EAP-TLS, TLS engine, and on an RSN
//! association the key handshake) fed arbitrary frame sequences interleaved with timer polls,
//! with a real TLS setup (the simulator's test PKI, a slot table holding the device
//! certificate, the server policy) built once. Oracles:
//! - every frame it sends is well formed: an EAPOL frame of a known type; an EAP-Packet is an
//!   EAP Response whose EAP-TLS data parses; an EAPOL-Key frame parses with the AKM's MIC
//!   length; Start and Logoff have no body; each fits an Ethernet payload and goes to the
//!   authenticator it latched or is associated with (or the PAE group address);
//! - once an authenticator is latched or associated, another station's frame gets no answer;
//! - timers make progress: after a poll at the deadline the next deadline is later (an
//!   integrator's loop never spins).
//!
//! Input: see `latchkey_fuzz::decode_sup`.
#![no_main]

use std::sync::OnceLock;

use latchkey_core::tls::{SharedRng, VersionPolicy};
use latchkey_core::wpa::frame;
use latchkey_core::{eap, eap_tls, eapol, Association, Config, Crypto, Now};
use latchkey_fuzz::{
    akm_from_byte, decode_sup, reset_global_rng, tls_request_frame, GlobalRng, KeyAuth, SupOp,
};
use latchkey_sim::drive::sim::Scenario;
use latchkey_sim::hal::memory::{client_builder, test_table, SimRadio, AP_ADDR, STA_ADDR};
use latchkey_sim::pki::TestPki;
use libfuzzer_sys::fuzz_target;

static RNG: SharedRng<GlobalRng> = SharedRng::new(GlobalRng);
const PAE_GROUP: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x03];
const STRANGER: [u8; 6] = [0x02, 0, 0, 0, 0, 0x77];

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate().expect("test PKI"))
}

/// The simulator's default supplicant configuration (identity, fragment size, timers).
fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| Scenario::default().config)
}

fn crypto() -> Crypto {
    static CRYPTO: OnceLock<Crypto> = OnceLock::new();
    CRYPTO.get_or_init(|| Crypto::new(&RNG)).clone()
}

/// Checks every frame the supplicant sent since the last call: each goes to the
/// authenticator it has latched or is associated with, or to the PAE group address when none.
fn check_sent(radio: &mut SimRadio, mic_len: usize, authenticator: Option<[u8; 6]>) {
    for (dst, f) in radio.outbox.drain(..) {
        let expected = authenticator.unwrap_or(PAE_GROUP);
        assert!(
            dst == expected || dst == PAE_GROUP,
            "frame sent to {dst:02x?}, authenticator {authenticator:02x?}"
        );
        assert!(
            f.len() <= 1500,
            "a {}-byte EAPOL frame does not fit Ethernet",
            f.len()
        );
        let p = eapol::Packet::new_checked(&f[..]).expect("sent frame is EAPOL");
        let repr = eapol::Repr::parse(&p).expect("sent EAPOL header parses");
        assert_eq!(f.len(), repr.buffer_len(), "sent frame has trailing bytes");
        match repr.packet_type {
            eapol::PacketType::EapPacket => {
                let e = eap::Packet::new_checked(p.body()).expect("sent EAP packet");
                match eap::Repr::parse(&e).expect("sent EAP parses") {
                    eap::Repr::Response { eap_type, data, .. } => {
                        if eap_type == eap::Type::Tls {
                            eap_tls::Repr::parse_bytes(data).expect("sent EAP-TLS data parses");
                        }
                    }
                    other => panic!("the supplicant sent {other:?}"),
                }
            }
            eapol::PacketType::Start | eapol::PacketType::Logoff => {
                assert!(p.body().is_empty(), "EAPOL-Start/Logoff with a body");
            }
            eapol::PacketType::Key => {
                let k = frame::Packet::new_checked(p.body(), mic_len).expect("sent EAPOL-Key");
                frame::Repr::parse(&k).expect("sent EAPOL-Key parses");
            }
            other => panic!("the supplicant sent an EAPOL frame of type {other:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (akm_byte, ops) = decode_sup(data);
    reset_global_rng(0x1a7c);
    let pki = pki();
    let table = test_table(pki).expect("test table");
    let mut sup = client_builder(pki, config(), VersionPolicy::Both, table)
        .expect("builder")
        .crypto(crypto())
        .build()
        .expect("supplicant");
    let mut radio = SimRadio::default();
    let mut now = 0u64;
    let auth = (akm_byte != 0).then(|| KeyAuth::new(akm_from_byte(akm_byte)));
    let mic_len = auth.as_ref().map_or(16, |a| a.akm.mic_len());
    let _ = match &auth {
        Some(a) => {
            let assoc = Association::new(AP_ADDR, STA_ADDR).with_rsn(&a.ap_rsne, &a.sta_rsne);
            sup.associated(Now::ms(now), assoc, &mut radio)
        }
        None => sup.start(Now::ms(now), &mut radio),
    };
    check_sent(&mut radio, mic_len, sup.authenticator());

    for op in ops {
        match op {
            SupOp::Frame(f) => {
                let _ = sup.handle_frame(Now::ms(now), AP_ADDR, &f, &mut radio);
            }
            SupOp::TlsRequest { id, flags, data } => {
                let f = tls_request_frame(id, flags, &data);
                let _ = sup.handle_frame(Now::ms(now), AP_ADDR, &f, &mut radio);
            }
            SupOp::Stranger(f) => {
                // Without an association (wired 802.1X) the first station to speak is latched
                // as the authenticator; once one is latched or associated, others are ignored.
                let latched = sup.authenticator();
                let _ = sup.handle_frame(Now::ms(now), STRANGER, &f, &mut radio);
                if latched.is_some_and(|a| a != STRANGER) {
                    assert!(radio.outbox.is_empty(), "answered a stranger's frame");
                }
            }
            SupOp::Wait { ms, force } => {
                now += u64::from(ms);
                let due = sup.next_deadline().is_some_and(|t| now >= t);
                if due || force {
                    let _ = sup.poll(Now::ms(now), &mut radio);
                }
                if due {
                    if let Some(next) = sup.next_deadline() {
                        assert!(next > now, "deadline {next} not after a poll at {now}");
                    }
                }
            }
        }
        check_sent(&mut radio, mic_len, sup.authenticator());
    }
});
