//! Diagnosis the server side can act on: when Latchkey refuses a RADIUS server (its
//! certificate does not lead to our CA), the TLS alert rustls produced travels to the server as
//! Latchkey's last EAP-TLS response before the conversation ends (RFC 5216 §2.1.3), so
//! FreeRADIUS logs the reason, as it does for wpa_supplicant/eapol_test. And when the server
//! refuses Latchkey's ClientHello (a TLS version it does not speak), the failure comes at once,
//! naming the versions offered, not after authPeriod.

use std::path::{Path, PathBuf};

use latchkey_sim::cli::args::RadiusArgs;
use latchkey_sim::cli::config::{ClientArgs, SlotSpec, SlotStateArg, TlsArg};
use latchkey_test_support::apt;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::hostapd::{self, HostapdOptions};
use latchkey_test_support::pki_files::{FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::ServerTls;

/// A self-signed CA certificate named `name`, written to `dir/file` (PEM).
fn unrelated_ca(dir: &Path, file: &str, name: &str) -> PathBuf {
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let path = dir.join(file);
    std::fs::write(&path, params.self_signed(&key).unwrap().pem()).unwrap();
    path
}

#[test]
fn freeradius_logs_the_alert_when_latchkey_refuses_its_certificate() {
    apt::require(apt::SERVER_PACKAGES);
    for tls in [ServerTls::V13, ServerTls::V12] {
        let tmp = tempfile::tempdir().unwrap();
        let pki = FilePki::generate(&tmp.path().join("pki")).unwrap();
        let opts = FreeRadiusOptions {
            // -X: FreeRADIUS logs the alerts it reads in its debug trace.
            debug: true,
            ..FreeRadiusOptions::new(tls)
        };
        let server = freeradius::start(tmp.path(), &pki, &opts).unwrap_or_else(|e| panic!("{e}"));
        // (our CA, our kind, the alert as OpenSSL names it in FreeRADIUS' log)
        let cases = [
            // A CA the server's chain does not name: rustls' unknown_ca (48).
            (
                unrelated_ca(tmp.path(), "unrelated.pem", "Unrelated CA"),
                "untrusted-ca",
                "Alert read:fatal:unknown CA",
            ),
            // Another test PKI's CA, same name and key identifier method as the server's
            // issuer: the chain's signature does not verify, bad_certificate (42).
            (
                FilePki::generate(&tmp.path().join("impostor")).unwrap().ca,
                "server-certificate-invalid",
                "Alert read:fatal:bad certificate",
            ),
        ];
        for (ca, kind, alert) in cases {
            let seen = std::fs::read_to_string(&server.log).unwrap().len();
            let client = ClientArgs {
                ca: vec![ca],
                server_name: vec![SERVER_NAME.into()],
                domain_suffix: vec![],
                identity: IDENTITY.into(),
                anonymous_identity: false,
                pins: vec![],
                slots: vec![SlotSpec {
                    state: SlotStateArg::Active,
                    cert: pki.client_new.cert.clone(),
                    key: pki.client_new.key.clone(),
                }],
                table: None,
                key_pass: None,
                chain: vec![],
                tls: TlsArg::Both,
                fragment_size: 1398,
                auth_period_ms: 30_000,
            };
            let radius = RadiusArgs::new(server.addr(), server.secret.clone());
            let mut log = Vec::new();
            let r = latchkey_sim::cli::report::run_radius(&radius, &client, &mut |l| log.push(l));
            let server_log = std::fs::read_to_string(&server.log).unwrap();
            let this_run = server_log.get(seen..).unwrap_or_default();
            let explain = format!(
                "{tls} {kind}\n{}\n{}\n--- freeradius log:\n{}",
                log.join("\n"),
                r.summary(),
                server.log_tail()
            );
            assert_eq!(r.outcome, "failed", "{explain}");
            assert_eq!(r.error_kind.as_deref(), Some(kind), "{explain}");
            // The verdict is the supplicant's; the server's answer to the alert does not
            // replace the reply that led to it.
            assert_ne!(
                r.radius_result.as_deref(),
                Some("Access-Reject"),
                "{explain}"
            );
            assert!(
                log.iter().any(|l| l.contains("(our alert")),
                "the relay did not forward the alert\n{explain}"
            );
            assert!(
                this_run.contains(alert),
                "FreeRADIUS did not log our alert's reason ({alert})\n{explain}"
            );
        }
    }
}

/// A TLS version mismatch either way, against FreeRADIUS and hostapd: the server refuses our
/// ClientHello; Latchkey fails at once (well inside a second, with authPeriod at 30 s) with a
/// kind and a message naming the version it offered.
#[test]
fn tls_version_mismatch_either_way_fails_at_once_naming_the_version() {
    apt::require(apt::SERVER_PACKAGES);
    let mut seen = Vec::new();
    for hostapd_server in [false, true] {
        // (the server's only version, ours, what the message must name)
        for (server_tls, ours, offered) in [
            (ServerTls::V12, TlsArg::V13, "TLS 1.3"),
            (ServerTls::V13, TlsArg::V12, "TLS 1.2"),
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let pki = FilePki::generate(&tmp.path().join("pki")).unwrap();
            let server = if hostapd_server {
                hostapd::start(tmp.path(), &pki, &HostapdOptions::new(server_tls))
            } else {
                freeradius::start(tmp.path(), &pki, &FreeRadiusOptions::new(server_tls))
            }
            .unwrap_or_else(|e| panic!("{e}"));
            let client = ClientArgs {
                ca: vec![pki.ca.clone()],
                server_name: vec![SERVER_NAME.into()],
                domain_suffix: vec![],
                identity: IDENTITY.into(),
                anonymous_identity: false,
                pins: vec![],
                slots: vec![SlotSpec {
                    state: SlotStateArg::Active,
                    cert: pki.client_new.cert.clone(),
                    key: pki.client_new.key.clone(),
                }],
                table: None,
                key_pass: None,
                chain: vec![],
                tls: ours,
                fragment_size: 1398,
                auth_period_ms: 30_000,
            };
            let radius = RadiusArgs::new(server.addr(), server.secret.clone());
            let mut log = Vec::new();
            let r = latchkey_sim::cli::report::run_radius(&radius, &client, &mut |l| log.push(l));
            let who = if hostapd_server {
                "hostapd"
            } else {
                "FreeRADIUS"
            };
            let explain = format!(
                "{who}: server TLS {server_tls} only, ours {offered}\n{}\n{}\n--- server log:\n{}",
                log.join("\n"),
                r.summary(),
                server.log_tail()
            );
            assert_eq!(r.outcome, "failed", "{explain}");
            assert!(r.elapsed_ms < 1000, "took {} ms\n{explain}", r.elapsed_ms);
            let kind = r.error_kind.clone().unwrap_or_default();
            let message = r.error.clone().unwrap_or_default();
            // Both answer the ClientHello with Access-Reject + EAP-Failure (no alert inside).
            assert_eq!(kind, "client-hello-refused", "{explain}");
            assert!(
                message.contains(offered),
                "the message does not name {offered}: {message}\n{explain}"
            );
            seen.push(format!(
                "{who} TLS {server_tls} only vs ours {offered} only: {kind} in {} ms: {message}",
                r.elapsed_ms
            ));
        }
    }
    eprintln!("{}", seen.join("\n"));
}
