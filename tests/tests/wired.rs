//! Wired 802.1X on a real link: hostapd 2.10 (`driver=wired`) on one end of a veth pair in its
//! own network namespace, Latchkey's supplicant on an AF_PACKET socket at the other end; the
//! capture on the link is dissected by tshark. Needs root (CI runs as root).

use std::time::Duration;

use latchkey_core::supplicant::{Event, Supplicant};
use latchkey_core::tls::{TlsVersion as Negotiated, VersionPolicy};
use latchkey_sim::link::{authenticate, EapolLink};
use latchkey_sim::pki::TestPki;
use latchkey_sim::sim::{client_setup, Scenario};
use latchkey_tests::capture::{dissect, Capture};
use latchkey_tests::hostapd_wired::{Backend, TlsVersion, WiredAuthenticator};
use latchkey_tests::netns::{in_netns, require_root, VethPair};

const AUTH_LIMIT: Duration = Duration::from_secs(20);

fn internal_server(v: TlsVersion) {
    if let Err(e) = require_root() {
        panic!("{e}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = TestPki::generate().expect("pki");
    let w = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write pki file");
        p
    };
    let backend = Backend::Internal {
        ca_and_crl: w(
            "ca.pem",
            format!("{}{}", pki.root.cert_pem, pki.intermediate.cert_pem),
        ),
        check_crl: false,
        server_cert: w(
            "server.pem",
            format!("{}{}", pki.server.cert_pem, pki.intermediate.cert_pem),
        ),
        server_key: w("server.key", pki.server.key_pem.clone()),
        tls: v,
    };
    let pair = VethPair::create().expect("namespaces");
    let hostapd = WiredAuthenticator::start(&pair, dir.path(), &backend).expect("hostapd");
    let cap =
        Capture::start(&pair.sup_ns, &pair.sup_if, &dir.path().join("link.pcap")).expect("capture");
    let sup_if = pair.sup_if.clone();
    let mut link = in_netns(&pair.sup_ns, || EapolLink::open(&sup_if))
        .expect("enter namespace")
        .expect("open link");
    let scenario = Scenario::default();
    let setup = client_setup(&pki, VersionPolicy::Both).expect("client setup");
    let mut sup: Box<Supplicant> = Box::new(Supplicant::new(scenario.config.clone(), setup));
    let out = authenticate(&mut sup, &mut link, AUTH_LIMIT).expect("link");
    let want = match v {
        TlsVersion::Tls12 => Negotiated::Tls12,
        TlsVersion::Tls13 => Negotiated::Tls13,
    };
    match &out.event {
        Some(Event::Authenticated(a)) => assert_eq!(a.version, want),
        other => panic!(
            "not authenticated: {other:?}\nhostapd log:\n{}",
            hostapd.log_tail(40)
        ),
    }
    let mac = latchkey_sim::link::mac_string(&link.mac());
    assert!(
        hostapd.wait_for_log(
            &format!("{mac} IEEE 802.1X: authorizing port"),
            Duration::from_secs(5)
        ),
        "hostapd did not authorize the port:\n{}",
        hostapd.log_tail(40)
    );
    let file = cap.stop().expect("stop capture");
    let frames = dissect(&file).expect("tshark");
    assert!(
        frames
            .iter()
            .any(|f| f.eapol_type == Some(1) && f.src == mac),
        "no EAPOL-Start: {frames:?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f.eap_type == Some(13) && f.src == mac && f.eap_code == Some(2)),
        "no EAP-TLS response: {frames:?}"
    );
    assert!(
        frames.iter().any(|f| f.eap_code == Some(3) && f.dst == mac),
        "no EAP-Success: {frames:?}"
    );
    assert!(
        frames.iter().any(|f| f.tls_handshake.contains(&1)),
        "no ClientHello dissected: {frames:?}"
    );
    drop(hostapd);
}

#[test]
fn wired_tls12_hostapd_internal_server() {
    internal_server(TlsVersion::Tls12);
}

#[test]
fn wired_tls13_hostapd_internal_server() {
    internal_server(TlsVersion::Tls13);
}
