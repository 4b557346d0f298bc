//! Writes the fuzz targets' seed corpora from real simulated exchanges: the simulator's
//! authenticator (a rustls EAP-TLS server) and Latchkey's supplicant authenticate with TLS 1.2
//! and 1.3, with large and small fragments, and every frame on the link becomes a seed:
//! EAPOL frames, their EAP packets, the EAP-TLS flights as fragment sequences, the server's
//! requests wrapped in signed RADIUS replies; the PKI's certificates; slot-table flash images;
//! the key handshakes' messages from the targets' model authenticator; and the authenticator's
//! side of whole authentications as supplicant-target inputs.
//!
//! Usage: `cargo run --manifest-path fuzz/Cargo.toml -p latchkey-fuzz-seedgen -- [DIR]`
//! (default `fuzz/seeds`). Files are named by content hash, so reruns add rather than pile up
//! duplicates; the certificates under `certs/` are fixed inputs of `slot_flash` and are only
//! written when missing.

use std::collections::BTreeSet;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use latchkey_core::certs::{InlineKey, KeyRef};
use latchkey_core::eap::{self, Type};
use latchkey_core::eap_tls;
use latchkey_core::tls::VersionPolicy;
use latchkey_core::wpa::frame::KeyInfo;
use latchkey_core::wpa::handshake::{Handshake, MAX_REPLY_LEN};
use latchkey_core::wpa::Association;
use latchkey_fuzz::{
    akm_from_byte, encode_sup, FuzzRng, FuzzTable, KeyAuth, RamFlash, ReassemblyInput, SupOp, AA,
    LAYOUT, RADIUS_ID, RADIUS_REQUEST_AUTH, RADIUS_SECRET, SPA,
};
use latchkey_sim::auth::radius::{self, attr, Code};
use latchkey_sim::drive::sim::Scenario;
use latchkey_sim::drive::{sim, Direction};
use latchkey_sim::pki::TestPki;

fn write_seed(dir: &Path, bytes: &[u8]) -> Result<(), Box<dyn Error>> {
    fs::create_dir_all(dir)?;
    // FNV-1a: a stable name for the same content.
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    fs::write(dir.join(format!("{h:016x}")), bytes)?;
    Ok(())
}

/// A signed RADIUS reply answering the fuzz targets' fixed request.
fn radius_reply(code: Code, eap: &[u8], extra: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut p = vec![u8::from(code), RADIUS_ID, 0, 0];
    p.extend_from_slice(&[0; 16]);
    for (t, v) in extra {
        p.push(*t);
        p.push((v.len() + 2) as u8);
        p.extend_from_slice(v);
    }
    for chunk in eap.chunks(radius::MAX_ATTR_VALUE) {
        p.push(attr::EAP_MESSAGE);
        p.push((chunk.len() + 2) as u8);
        p.extend_from_slice(chunk);
    }
    p.push(attr::MESSAGE_AUTHENTICATOR);
    p.push(18);
    p.extend_from_slice(&[0; 16]);
    let len = (p.len() as u16).to_be_bytes();
    p[2..4].copy_from_slice(&len);
    radius::sign_reply(&mut p, &RADIUS_REQUEST_AUTH, RADIUS_SECRET);
    p
}

/// Rewrite the sequence number of the image at the start of `region` and its SHA-256 trailer
/// (layout in `core/src/certs/persist.rs`: sequence at 8, payload length at 16, header 24).
fn set_sequence(region: &mut [u8], seq: u64) {
    use sha2::{Digest, Sha256};
    region[8..16].copy_from_slice(&seq.to_le_bytes());
    let payload = u32::from_le_bytes(region[16..20].try_into().unwrap_or_default()) as usize;
    let end = 24 + payload;
    let digest = Sha256::digest(&region[..end]);
    region[end..end + 32].copy_from_slice(&digest);
}

fn ms_vsa(vendor_type: u8, value: &[u8]) -> Vec<u8> {
    let mut v = 311u32.to_be_bytes().to_vec();
    v.push(vendor_type);
    v.push((value.len() + 2) as u8);
    v.extend_from_slice(value);
    v
}

/// The EAP-TLS type data of an EAPOL frame carrying an EAP-TLS Request or Response.
fn eap_tls_data(frame: &[u8]) -> Option<Vec<u8>> {
    let packet = eap::Packet::new_checked(frame.get(4..)?).ok()?;
    match eap::Repr::parse(&packet).ok()? {
        eap::Repr::Request {
            eap_type: Type::Tls,
            data,
            ..
        }
        | eap::Repr::Response {
            eap_type: Type::Tls,
            data,
            ..
        } => Some(data.to_vec()),
        _ => None,
    }
}

/// The four_way target's oracles only mean something if the model authenticator's signed
/// messages are accepted: run a handshake and a group rekey against the state machine and
/// fail loudly unless each installs its keys.
fn check_model_handshake(akm_byte: u8) -> Result<(), Box<dyn Error>> {
    let mut auth = KeyAuth::new(akm_from_byte(akm_byte));
    let assoc = Association {
        aa: AA,
        spa: SPA,
        ap_rsne: &auth.ap_rsne.clone(),
        our_rsne: &auth.sta_rsne.clone(),
    };
    let mut hs = Handshake::new(&assoc, Some(auth.pmk())).map_err(|e| format!("{e:?}"))?;
    let mut rng = FuzzRng(1);
    let mut out = vec![0u8; MAX_REPLY_LEN];
    let step = hs
        .receive(&auth.msg1([0x42; 32], 1), &mut rng, &mut out)
        .map_err(|e| format!("model message 1 refused: {e:?}"))?;
    if !auth.take_msg2(&out[..step.reply_len]) {
        return Err("message 2 gave the model no PTK".into());
    }
    let msg3 = auth.msg3(2).ok_or("no message 3")?;
    let step = hs
        .receive(&msg3, &mut rng, &mut out)
        .map_err(|e| format!("model message 3 refused: {e:?}"))?;
    if step.installs.ptk.is_none() || step.installs.gtk.is_none() {
        return Err("model message 3 installed nothing".into());
    }
    auth.gtk = (2, vec![0x33; auth.gtk.1.len()]);
    let group = auth.group1(3).ok_or("no group message 1")?;
    let step = hs
        .receive(&group, &mut rng, &mut out)
        .map_err(|e| format!("model group message 1 refused: {e:?}"))?;
    if step.installs.gtk.is_none() {
        return Err("model group message 1 installed nothing".into());
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".into()),
    );
    let pki = TestPki::generate()?;

    let mut frames = BTreeSet::new();
    let mut flights = Vec::new();
    let mut server_eap = Vec::new();
    for (versions, client_frag, server_frag) in [
        (VersionPolicy::Tls13Only, 1398, 1024),
        (VersionPolicy::Tls12Only, 1398, 1024),
        (VersionPolicy::Both, 300, 200),
    ] {
        let mut sc = Scenario {
            client_versions: versions,
            server_versions: versions,
            ..Scenario::default()
        };
        sc.config.method.fragment_size = client_frag;
        sc.server.fragment_size = server_frag;
        let outcome = sim::run(&pki, &sc)?;
        if outcome.server_keys.is_none() {
            return Err(format!("simulated authentication ({versions:?}) did not succeed").into());
        }
        for dir in [Direction::Up, Direction::Down] {
            let mut flight = Vec::new();
            for step in outcome.steps.iter().filter(|s| s.dir == dir) {
                frames.insert(step.frame.clone());
                if dir == Direction::Down {
                    if let Some(eap) = step.frame.get(4..) {
                        server_eap.push(eap.to_vec());
                    }
                }
                let Some(data) = eap_tls_data(&step.frame) else {
                    continue;
                };
                let Ok(repr) = eap_tls::Repr::parse_bytes(&data) else {
                    continue;
                };
                if repr.is_ack() || repr.start {
                    continue;
                }
                let last = !repr.more_fragments;
                flight.push((16384u16, data));
                if last {
                    flights.push((std::mem::take(&mut flight), server_frag as u16));
                }
            }
        }
    }
    println!(
        "{} distinct frames, {} TLS flights",
        frames.len(),
        flights.len()
    );

    for f in &frames {
        write_seed(&out.join("eapol"), f)?;
        if let Some(eap) = f.get(4..).filter(|e| !e.is_empty()) {
            write_seed(&out.join("eap"), eap)?;
        }
    }
    for (fragments, size) in flights {
        let input = ReassemblyInput {
            max_message_len: 16384,
            max_fragments: 64,
            fragment_size: size,
            fragments,
        };
        write_seed(&out.join("eap_tls_reassembly"), &input.encode())?;
    }

    // RADIUS: each server request as an Access-Challenge, the last as Accept with MPPE keys,
    // and a Reject carrying EAP-Failure.
    let rdir = out.join("radius_reply");
    for (n, eap) in server_eap.iter().enumerate() {
        let state = vec![(attr::STATE, format!("state-{n}").into_bytes())];
        let code = if eap.first() == Some(&3) {
            Code::AccessAccept
        } else {
            Code::AccessChallenge
        };
        let mut extra = state;
        if code == Code::AccessAccept {
            let key: Vec<u8> = (0..32).collect();
            for (vt, salt) in [(17u8, [0x80, 0x01]), (16u8, [0x80, 0x02])] {
                let enc = radius::encrypt_mppe_key(&key, salt, &RADIUS_REQUEST_AUTH, RADIUS_SECRET);
                extra.push((attr::VENDOR_SPECIFIC, ms_vsa(vt, &enc)));
            }
        }
        write_seed(&rdir, &radius_reply(code, eap, &extra))?;
    }
    write_seed(
        &rdir,
        &radius_reply(
            Code::AccessReject,
            &[4, 9, 0, 4],
            &[(attr::REPLY_MESSAGE, b"revoked".to_vec())],
        ),
    )?;

    // Certificates: the PKI's, and the slot_flash target's fixed ones.
    let certs = out.join("certs");
    fs::create_dir_all(&certs)?;
    let renewed = pki.issue_client("device-0001", 0xc2)?;
    let other = pki.issue_client("device-0002", 0xd1)?;
    for (name, issued) in [
        ("client-old.der", &pki.client),
        ("client-new.der", &renewed),
        ("other.der", &other),
    ] {
        let path = certs.join(name);
        if !path.exists() {
            fs::write(&path, issued.cert.as_ref())?;
        }
    }
    for issued in [
        &pki.root,
        &pki.intermediate,
        &pki.server,
        &pki.client,
        &renewed,
    ] {
        write_seed(&out.join("cert_install"), issued.cert.as_ref())?;
    }

    // Slot-table flash images: blank, one commit, a renewal committed over it; each followed
    // by operations (install the renewed certificate, archive slot 0, cut after 200 units).
    let key = |i: &latchkey_sim::pki::Issued| -> Result<KeyRef, Box<dyn Error>> {
        let pkcs8 = i.private_key();
        Ok(KeyRef::Inline(
            InlineKey::from_pkcs8_der(pkcs8.secret_der()).map_err(|e| format!("{e:?}"))?,
        ))
    };
    let ops: &[u8] = &[2, 0, 0, 1, 0, 0, 1, 0x80, 200];
    let mut flash = RamFlash::with_contents(&[]);
    let mut seed = flash.mem.clone();
    seed.extend_from_slice(ops);
    write_seed(&out.join("slot_flash"), &seed)?;
    let mut table = FuzzTable::new();
    table
        .install(pki.client.cert.as_ref(), key(&pki.client)?)
        .map_err(|e| format!("{e}"))?;
    table.observe_time(1_900_000_000);
    for step in 0..2 {
        table
            .commit(&mut flash, &LAYOUT)
            .map_err(|e| format!("{e}"))?;
        let mut seed = flash.mem.clone();
        seed.extend_from_slice(ops);
        write_seed(&out.join("slot_flash"), &seed)?;
        if step == 0 {
            table
                .install(renewed.cert.as_ref(), KeyRef::Handle(0x51))
                .map_err(|e| format!("{e}"))?;
        }
    }
    // Crafted images the commit path must survive: the newest at sequence u64::MAX (the
    // sequence cannot advance), both at u64::MAX, and both at the same sequence.
    let both = flash.mem.clone();
    for (a, b) in [
        (Some(u64::MAX), None),
        (Some(u64::MAX), Some(u64::MAX)),
        (Some(9), Some(9)),
    ] {
        let mut mem = both.clone();
        for (region, seq) in [(0usize, a), (1, b)] {
            if let Some(seq) = seq {
                let base = region * LAYOUT.region_size as usize;
                set_sequence(&mut mem[base..base + LAYOUT.region_size as usize], seq);
            }
        }
        if b.is_none() {
            mem[LAYOUT.region_b as usize..].fill(0xFF);
        }
        mem.extend_from_slice(ops);
        write_seed(&out.join("slot_flash"), &mem)?;
    }
    // The key handshakes: the model authenticator's messages for each AKM (eapol_key takes
    // the EAPOL-Key body after four bytes of parameters), and message sequences for the state
    // machine (four_way: AKM byte, then operations; see its target).
    for akm_byte in 0u8..3 {
        let mut auth = KeyAuth::new(akm_from_byte(akm_byte));
        let mut hs_frames = vec![auth.msg1([0x42; 32], 1)];
        // A message 2 from a station with a fixed SNonce gives the model its PTK.
        let msg2 = auth.frame(
            u16::from(auth.akm.descriptor_version())
                | KeyInfo::KEY_TYPE_PAIRWISE
                | KeyInfo::KEY_MIC,
            0,
            1,
            [0x24; 32],
            &auth.sta_rsne.clone(),
        );
        auth.take_msg2(&msg2);
        hs_frames.push(msg2);
        hs_frames.extend(auth.msg3(2));
        hs_frames.extend(auth.group1(3));
        for (i, f) in hs_frames.iter().enumerate() {
            let mut seed = vec![akm_byte, 0, 90 + i as u8, 0x80, 1];
            seed.extend_from_slice(&f[4..]);
            write_seed(&out.join("eapol_key"), &seed)?;
        }
        check_model_handshake(akm_byte)?;
        // msg1, msg3, group rekey, replay, flipped msg3; msg1 again (PTK rekey), msg3.
        let ops: &[&[u8]] = &[
            &[akm_byte],
            &[0x10, 0x42],
            &[0x11],
            &[0x12, 0x07],
            &[0x05],
            &[0x11],
            &[0x04, 0x00, 0x60, 0x01],
            &[0x10, 0x43],
            &[0x11],
            &[0x12, 0x08],
        ];
        write_seed(&out.join("four_way"), &ops.concat())?;
        let short: &[&[u8]] = &[&[akm_byte], &[0x10, 0x01], &[0x11], &[0x01]];
        write_seed(&out.join("four_way"), &short.concat())?;
    }

    // The whole supplicant: each simulated authentication's authenticator frames, with a
    // timer poll between them, without RSN; and the same followed by the model AP's key
    // messages on an RSN association for AKM 5.
    for versions in [VersionPolicy::Tls13Only, VersionPolicy::Tls12Only] {
        let sc = Scenario {
            client_versions: versions,
            server_versions: versions,
            ..Scenario::default()
        };
        let outcome = sim::run(&pki, &sc)?;
        let mut ops = Vec::new();
        for step in outcome.steps.iter().filter(|s| s.dir == Direction::Down) {
            ops.push(SupOp::Frame(step.frame.clone()));
            ops.push(SupOp::Wait {
                ms: 50,
                force: false,
            });
        }
        ops.push(SupOp::Wait {
            ms: 30_000,
            force: false,
        });
        write_seed(&out.join("supplicant"), &encode_sup(0, &ops))?;
        let mut auth = KeyAuth::new(akm_from_byte(1));
        ops.push(SupOp::Frame(auth.msg1([0x42; 32], 1)));
        ops.push(SupOp::Wait {
            ms: 1_000,
            force: true,
        });
        write_seed(&out.join("supplicant"), &encode_sup(1, &ops))?;
    }
    let start = [
        SupOp::TlsRequest {
            id: 1,
            flags: 0x20,
            data: Vec::new(),
        },
        SupOp::TlsRequest {
            id: 2,
            flags: 0x00,
            data: vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],
        },
        SupOp::Stranger(vec![2, 1, 0, 0]),
        SupOp::Wait {
            ms: 60_000,
            force: false,
        },
    ];
    write_seed(&out.join("supplicant"), &encode_sup(0, &start))?;
    // The issue's remote crash: after the ClientHello, a TLS record header with version
    // 0xffff made the engine feed rustls the bad record again (a debug assertion in rustls).
    let bad_record = [
        SupOp::TlsRequest {
            id: 1,
            flags: 0x20,
            data: Vec::new(),
        },
        SupOp::Frame(vec![
            0x02, 0x00, 0x00, 0x0d, 0x01, 0x03, 0x00, 0x0d, 0x0d, 0x00, 0x15, 0xff, 0xff, 0xff,
            0xff, 0x00, 0x00,
        ]),
        SupOp::Wait {
            ms: 1_000,
            force: true,
        },
    ];
    write_seed(&out.join("supplicant"), &encode_sup(0, &bad_record))?;

    println!("seeds written under {}", out.display());
    Ok(())
}
