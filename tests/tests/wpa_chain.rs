//! The full chain, with no code shared between the two sides: Latchkey's supplicant runs
//! EAP-TLS (TLS 1.2 and TLS 1.3) through `latchkey-sim`'s RADIUS relay against FreeRADIUS on
//! loopback; the MS-MPPE keys of the Access-Accept become the MSK of hostapd 2.10's own
//! authenticator (as an access point gets them); then the 4-way handshake and a group rekey
//! run between the supplicant's PAE (`Supplicant::handle_frame`, not the bare handshake) and
//! hostapd, for AKM 1, 5 and 12. Both sides must install the same TK, GTK and IGTK (SHA-256
//! fingerprints compared); then a reconnect offering the cached PMKSA completes the 4-way
//! handshake with zero EAP round trips.

use std::time::Duration;

use latchkey_core::wpa::frame::KeyInfo;
use latchkey_core::wpa::Akm;
use latchkey_core::{Association, Event, KeyInstall, Now, PaeState, Supplicant};
use latchkey_sim::auth::relay;
use latchkey_sim::cli::args::RadiusArgs;
use latchkey_sim::cli::config::{ClientArgs, SlotSpec, SlotStateArg, TlsArg};
use latchkey_sim::hal::memory::{SimRadio, AP_ADDR, STA_ADDR};
use latchkey_test_support::apt;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::hostapd_auth::{station_rsne, AuthHarness, AuthKey};
use latchkey_test_support::pki_files::{FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::{ServerProcess, ServerTls};
use sha2::{Digest, Sha256};

const T: Duration = Duration::from_secs(5);

fn fp(b: &[u8]) -> Vec<u8> {
    Sha256::digest(b).to_vec()
}

struct Radius {
    _tmp: tempfile::TempDir,
    pki: FilePki,
    proc: ServerProcess,
}

fn freeradius(tls: ServerTls) -> Radius {
    apt::require(apt::SERVER_PACKAGES);
    let tmp = tempfile::tempdir().unwrap();
    let pki = FilePki::generate(&tmp.path().join("pki")).unwrap();
    let proc = freeradius::start(tmp.path(), &pki, &FreeRadiusOptions::new(tls))
        .unwrap_or_else(|e| panic!("{e}"));
    Radius {
        _tmp: tmp,
        pki,
        proc,
    }
}

fn supplicant(r: &Radius) -> Supplicant {
    let args = ClientArgs {
        ca: vec![r.pki.ca.clone()],
        server_name: vec![SERVER_NAME.into()],
        domain_suffix: vec![],
        identity: IDENTITY.into(),
        anonymous_identity: false,
        pins: vec![],
        slots: vec![SlotSpec {
            state: SlotStateArg::Active,
            cert: r.pki.client_new.cert.clone(),
            key: r.pki.client_new.key.clone(),
        }],
        table: None,
        key_pass: None,
        chain: vec![],
        tls: TlsArg::Both,
        fragment_size: 1398,
        auth_period_ms: 30_000,
    };
    args.build().unwrap().supplicant().unwrap()
}

fn radius_args(s: &ServerProcess) -> RadiusArgs {
    RadiusArgs::new(s.addr(), s.secret.clone())
}

/// The station side: the supplicant and its radio, on a clock of its own.
struct Station {
    sup: Supplicant,
    radio: SimRadio,
    ms: u64,
}

impl Station {
    fn now(&mut self) -> Now {
        self.ms += 10;
        Now::ms(self.ms)
    }

    /// Delivers an authenticator frame; returns the event and the frames sent in reply.
    fn deliver(&mut self, frame: &[u8]) -> (Option<Event>, Vec<Vec<u8>>) {
        let now = self.now();
        let e = self.sup.handle_frame(now, AP_ADDR, frame, &mut self.radio);
        let out = self
            .radio
            .outbox
            .drain(..)
            .map(|(dst, f)| {
                assert_eq!(dst, AP_ADDR, "sent to the authenticator");
                f
            })
            .collect();
        (e, out)
    }
}

fn install(e: Option<Event>) -> Box<KeyInstall> {
    match e {
        Some(Event::InstallKeys(k)) => k,
        other => panic!("expected keys to install, got {other:?}"),
    }
}

/// The next message 3 (skipping message 1 retransmissions hostapd sends after 100 ms).
fn next_msg3(h: &mut AuthHarness) -> Vec<u8> {
    loop {
        let f = h.tx(T).unwrap();
        if KeyInfo(u16::from_be_bytes([f[5], f[6]])).install() {
            return f;
        }
    }
}

/// Waits until hostapd has installed the pairwise key (after message 4).
fn wait_pairwise(h: &mut AuthHarness, from: usize) -> Vec<AuthKey> {
    for _ in 0..50 {
        if h.keys[from..].iter().any(|k| k.pairwise) {
            return h.keys[from..].to_vec();
        }
        h.settle(Duration::from_millis(100));
    }
    panic!("hostapd installed no pairwise key; events {:?}", h.events);
}

/// Compares what the supplicant handed the platform with what hostapd installed: the TK
/// with the pairwise key of `new` (hostapd's installs since the handshake began, when
/// given), the group keys with the latest of `all`.
fn same_keys(akm: Akm, pmf: bool, ours: &KeyInstall, new: Option<&[AuthKey]>, all: &[AuthKey]) {
    if let Some(new) = new {
        let (tk, _) = ours.pairwise.as_ref().expect("supplicant installed no TK");
        let pk = new.iter().find(|k| k.pairwise).expect("hostapd: no TK");
        assert_eq!(fp(tk.as_bytes()), pk.fingerprint, "{akm}: TK differs");
        assert_eq!(tk.as_bytes().len(), pk.len);
    }
    let theirs = all;
    let g = ours.group.as_ref().expect("supplicant installed no GTK");
    let hk = theirs
        .iter()
        .rev()
        .find(|k| !k.pairwise && u32::from(g.key_id) == k.idx)
        .unwrap_or_else(|| panic!("{akm}: hostapd installed no GTK {}", g.key_id));
    assert_eq!(fp(g.key.as_bytes()), hk.fingerprint, "{akm}: GTK differs");
    assert_eq!(&g.rsc[..], &hk.seq[..], "{akm}: GTK RSC differs");
    match (&ours.integrity, pmf) {
        (Some(i), true) => {
            let hk = theirs
                .iter()
                .rev()
                .find(|k| u32::from(i.key_id) == k.idx)
                .expect("hostapd installed no IGTK");
            assert_eq!(fp(i.key.as_bytes()), hk.fingerprint, "{akm}: IGTK differs");
            assert_eq!(&i.ipn[..], &hk.seq[..6], "{akm}: IPN differs");
        }
        (None, false) => {}
        (i, pmf) => panic!("{akm}: IGTK {:?} with PMF {pmf}", i.is_some()),
    }
}

/// One AKM over one RADIUS server: EAP-TLS, 4-way, group rekey, PMKSA-cache reconnect.
fn chain(r: &Radius, tls: ServerTls, akm: Akm, pmf: u8) {
    let mut h = AuthHarness::start(akm.suite_type(), pmf, AP_ADDR, STA_ADDR)
        .unwrap_or_else(|e| panic!("hostapd authenticator harness: {e}"));
    let pmf = pmf > 0;
    let ap_rsne = h.ap_rsne.clone();
    let ours = station_rsne(&ap_rsne, pmf, None);
    assert_eq!(
        h.assoc(&ours).unwrap(),
        Ok(false),
        "hostapd refused our RSNE"
    );

    let mut st = Station {
        sup: supplicant(r),
        radio: SimRadio::default(),
        ms: 0,
    };
    let assoc = Association::new(AP_ADDR, STA_ADDR).with_rsn(&ap_rsne, &ours);
    let now = st.now();
    assert!(st.sup.associated(now, assoc, &mut st.radio).is_none());
    st.radio.outbox.clear();

    // EAP-TLS through the relay against FreeRADIUS.
    let mut log = Vec::new();
    let outcome = relay::run(&mut st.sup, &radius_args(&r.proc), &mut |l| log.push(l));
    let auth = match &outcome.event {
        Some(Event::Authenticated(a)) => a,
        other => panic!(
            "{akm} {tls}: EAP-TLS did not succeed: {other:?} {:?}\n{}\n{}",
            outcome.error,
            log.join("\n"),
            r.proc.log_tail()
        ),
    };
    assert_eq!(
        auth.version.as_str().trim_start_matches("TLS "),
        tls.to_string()
    );
    assert_eq!(outcome.msk_matches_mppe(), Some(true));
    assert!(auth.round_trips > 0);
    // The access point's MSK: the MS-MPPE keys (Recv || Send), as a RADIUS client gets them.
    let mut msk = outcome.mppe_recv.as_ref().unwrap().to_vec();
    msk.extend_from_slice(outcome.mppe_send.as_ref().unwrap());
    h.msk(&msk).unwrap();
    assert_eq!(st.sup.state(), PaeState::Authenticated);

    // The 4-way handshake through the PAE.
    let msg1 = h.tx(T).unwrap();
    let (e, out) = st.deliver(&msg1);
    assert!(e.is_none(), "{e:?}");
    assert_eq!(out.len(), 1, "message 2");
    h.rx(&out[0]).unwrap();
    let msg3 = next_msg3(&mut h);
    let before = h.keys.len();
    let (e, out) = st.deliver(&msg3);
    let keys = install(e);
    assert_eq!(out.len(), 1, "message 4");
    assert!(keys.port_open && !keys.from_pmksa_cache);
    h.rx(&out[0]).unwrap();
    let theirs = wait_pairwise(&mut h, before);
    same_keys(akm, pmf, &keys, Some(&theirs), &h.keys);
    assert!(
        h.events
            .iter()
            .any(|e| e.contains("pairwise key handshake completed")),
        "{:?}",
        h.events
    );
    assert!(st.sup.port_open());
    println!(
        "{akm} over TLS {tls}: TK {}",
        latchkey_core::eap_tls::keys::fingerprint(keys.pairwise.as_ref().unwrap().0.as_bytes())
    );

    // A group rekey.
    let old = keys.group.as_ref().unwrap().key_id;
    h.rekey_gtk().unwrap();
    let g1 = h.tx(T).unwrap();
    let (e, out) = st.deliver(&g1);
    let rekey = install(e);
    assert_eq!(out.len(), 1, "group message 2");
    assert_ne!(rekey.group.as_ref().unwrap().key_id, old);
    h.rx(&out[0]).unwrap();
    h.settle(Duration::from_millis(300));
    same_keys(akm, pmf, &rekey, None, &h.keys);
    assert!(
        h.events
            .iter()
            .any(|e| e.contains("group key handshake completed")),
        "{:?}",
        h.events
    );
    assert_eq!(st.sup.drops().eapol_key.total(), 0);

    // Reconnect with the cached PMKSA: no EAP at all.
    h.pmksa_add().unwrap();
    h.disassoc().unwrap();
    let now = st.now();
    st.sup.link_down(now);
    let now = st.now();
    let pmkid = st
        .sup
        .pmkid_for(now, AP_ADDR, akm)
        .expect("the supplicant cached the PMKSA");
    let ours = station_rsne(&ap_rsne, pmf, Some(pmkid));
    assert_eq!(
        h.assoc(&ours).unwrap(),
        Ok(true),
        "{akm}: hostapd did not find our PMKID"
    );
    let assoc = Association::new(AP_ADDR, STA_ADDR).with_rsn(&ap_rsne, &ours);
    let now = st.now();
    assert!(st.sup.associated(now, assoc, &mut st.radio).is_none());
    assert!(
        st.radio.outbox.is_empty(),
        "no EAPOL-Start: the PMKSA is offered"
    );
    let msg1 = h.tx(T).unwrap();
    let (e, out) = st.deliver(&msg1);
    assert!(e.is_none(), "{e:?}");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0][1], 3, "an EAPOL-Key frame, not EAP");
    h.rx(&out[0]).unwrap();
    let msg3 = next_msg3(&mut h);
    let before = h.keys.len();
    let (e, out) = st.deliver(&msg3);
    let keys = install(e);
    assert!(keys.port_open && keys.from_pmksa_cache);
    assert_eq!(out[0][1], 3);
    h.rx(&out[0]).unwrap();
    let theirs = wait_pairwise(&mut h, before);
    same_keys(akm, pmf, &keys, Some(&theirs), &h.keys);
    assert_eq!(
        st.sup.conversation().round_trips,
        0,
        "zero EAP round trips on the PMKSA reconnect"
    );
    assert_eq!(st.sup.state(), PaeState::Authenticated);
}

fn all_akms(tls: ServerTls) {
    let r = freeradius(tls);
    for (akm, pmf) in [
        (Akm::Ieee8021x, 0),
        (Akm::Ieee8021xSha256, 2),
        (Akm::SuiteB192, 2),
    ] {
        chain(&r, tls, akm, pmf);
    }
}

#[test]
fn eap_tls12_through_freeradius_then_hostapd_4way_rekey_and_pmksa() {
    all_akms(ServerTls::V12);
}

#[test]
fn eap_tls13_through_freeradius_then_hostapd_4way_rekey_and_pmksa() {
    all_akms(ServerTls::V13);
}
