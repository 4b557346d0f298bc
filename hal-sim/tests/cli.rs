//! `latchkey-sim radius` from the outside: bad configuration gives one typed line (and a JSON
//! `error_kind`) — an unreadable file, a wrong shared secret, an unreachable server, a malformed
//! or forged RADIUS reply — and a good run against hostapd prints the JSON result.

use std::net::UdpSocket;
use std::process::{Command, Output};

use latchkey_sim::auth::radius;
use latchkey_test_support::hostapd::{self, HostapdOptions};
use latchkey_test_support::pki_files::{FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::{free_udp_port, ServerTls};

fn sim(pki: &FilePki, server: &str, secret: &str, extra: &[&str]) -> Output {
    sim_named(pki, server, secret, SERVER_NAME, extra)
}

fn sim_named(pki: &FilePki, server: &str, secret: &str, name: &str, extra: &[&str]) -> Output {
    let slot = format!(
        "active:{}:{}",
        pki.client_new.cert.display(),
        pki.client_new.key.display()
    );
    let ca = pki.ca.display().to_string();
    let mut args = vec![
        "radius",
        "--radius",
        server,
        // "file:PATH" passes the secret as a file.
        if secret.starts_with("file:") {
            "--secret-file"
        } else {
            "--secret"
        },
        secret.strip_prefix("file:").unwrap_or(secret),
        "--ca",
        &ca,
        "--server-name",
        name,
        "--identity",
        IDENTITY,
        "--slot",
        &slot,
        "--timeout-ms",
        "300",
        "--retries",
        "1",
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_latchkey-sim"))
        .args(&args)
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The human-readable failure: exactly one line on stderr, naming the kind.
fn one_line(o: &Output, kind: &str) -> String {
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(&format!("({kind})")), "{err}");
    err
}

fn pki() -> (tempfile::TempDir, FilePki) {
    let tmp = tempfile::tempdir().unwrap();
    let pki = FilePki::generate(tmp.path()).unwrap();
    (tmp, pki)
}

#[test]
fn unreadable_certificate_file_is_one_typed_line() {
    let (_t, pki) = pki();
    let o = sim(
        &pki,
        "127.0.0.1:1812",
        "s",
        &[
            "--slot",
            "archived:/nonexistent/old.pem:/nonexistent/old.key",
        ],
    );
    let line = one_line(&o, "unreadable-file");
    assert!(line.contains("/nonexistent/old.pem"), "{line}");
}

#[test]
fn unreadable_secret_file_is_one_typed_line() {
    let (_t, pki) = pki();
    let o = sim(&pki, "127.0.0.1:1812", "file:/nonexistent/secret", &[]);
    let line = one_line(&o, "unreadable-file");
    assert!(line.contains("/nonexistent/secret"), "{line}");
}

#[test]
fn unreachable_server_is_one_typed_line() {
    let (_t, pki) = pki();
    let addr = format!("127.0.0.1:{}", free_udp_port());
    let o = sim(&pki, &addr, "s", &[]);
    let line = one_line(&o, "radius-unreachable");
    assert!(line.contains(&addr), "{line}");
    let j = json(&sim(&pki, &addr, "s", &["--json"]));
    assert_eq!(j["outcome"], "error");
    assert_eq!(j["error_kind"], "radius-unreachable");
}

#[test]
fn wrong_secret_against_hostapd_is_one_typed_line() {
    latchkey_test_support::apt::require(&["hostapd"]);
    let (t, pki) = pki();
    let server = hostapd::start(t.path(), &pki, &HostapdOptions::new(ServerTls::V13)).unwrap();
    let addr = server.addr().to_string();
    // hostapd drops requests whose Message-Authenticator does not verify: no reply at all.
    let o = sim(&pki, &addr, "not-the-secret", &[]);
    let line = one_line(&o, "radius-no-reply");
    assert!(line.contains("wrong shared secret"), "{line}");
    // The right secret (from a file) works, and --json says how.
    let secret_file = t.path().join("secret");
    std::fs::write(&secret_file, format!("{}\n", server.secret)).unwrap();
    let good = sim(
        &pki,
        &addr,
        &format!("file:{}", secret_file.display()),
        &["--json"],
    );
    let j = json(&good);
    assert!(good.status.success(), "{j}");
    assert_eq!(j["outcome"], "authenticated");
    assert_eq!(j["tls_version"], "1.3");
    assert_eq!(j["msk_matches_mppe"], true);
    assert_eq!(j["slot"], 0);
    assert!(j["eap_round_trips"].as_u64().unwrap() >= 3);
    assert_eq!(j["msk_fingerprint"].as_str().unwrap().len(), 16);
    // The same server under a name it does not carry: refused, typed.
    let o = sim_named(
        &pki,
        &addr,
        &server.secret,
        "other.latchkey.test",
        &["--json"],
    );
    let j = json(&o);
    assert_eq!(j["outcome"], "failed", "{j}");
    assert_eq!(j["error_kind"], "name-mismatch", "{j}");
    assert_eq!(
        j["error"],
        "server certificate name mismatch: expected other.latchkey.test, got radius.latchkey.test"
    );
    assert_eq!(
        j["slot"],
        serde_json::Value::Null,
        "no certificate was used: {j}"
    );
}

/// A fake server answering every request with `reply(request)`.
fn fake_server(reply: fn(&[u8]) -> Vec<u8>) -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&reply(&buf[..n]), from);
        }
    });
    addr
}

#[test]
fn malformed_reply_is_one_typed_line() {
    let (_t, pki) = pki();
    // A header whose Length runs past the datagram.
    let addr = fake_server(|req| {
        let mut r = vec![11, req[1], 0x01, 0x00];
        r.extend_from_slice(&[0; 16]);
        r
    });
    let o = sim(&pki, &addr, "s", &[]);
    let line = one_line(&o, "radius-bad-reply");
    assert!(line.contains("Length field 256"), "{line}");
}

#[test]
fn reply_signed_with_another_secret_is_one_typed_line() {
    let (_t, pki) = pki();
    let addr = fake_server(|req| {
        let mut ra = [0u8; 16];
        ra.copy_from_slice(&req[4..20]);
        let mut r = vec![3, req[1], 0, 20];
        r.extend_from_slice(&[0; 16]);
        radius::sign_reply(&mut r, &ra, b"the-server-secret");
        r
    });
    let o = sim(&pki, &addr, "the-client-secret", &[]);
    let line = one_line(&o, "radius-bad-reply");
    assert!(line.contains("Response Authenticator"), "{line}");
}

/// A scripted server: drops the first Access-Request (the relay must retransmit it, same
/// identifier and authenticator), answers it with an Access-Challenge carrying State and
/// EAP-TLS Start, and rejects the next request (Access-Reject, EAP-Failure) — with Reply-Message "state echoed" only if that
/// request carried the State back.
#[test]
fn lost_request_is_retransmitted_and_state_is_echoed() {
    let (_t, pki) = pki();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut seen = Vec::new();
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let req = buf[..n].to_vec();
            seen.push(req.clone());
            let p = radius::Packet::parse(&req).unwrap();
            let eap_id = p.eap_message().unwrap()[1];
            let mut attrs: Vec<(u8, Vec<u8>)> = Vec::new();
            let code = match seen.len() {
                1 => continue,
                2 => {
                    assert_eq!(
                        seen[0], seen[1],
                        "a retransmission is byte for byte the same"
                    );
                    attrs.push((radius::attr::STATE, b"latchkey-state".to_vec()));
                    attrs.push((
                        radius::attr::EAP_MESSAGE,
                        vec![1, eap_id + 1, 0, 6, 13, 0x20],
                    ));
                    11
                }
                _ => {
                    if p.get(radius::attr::STATE) == Some(&b"latchkey-state"[..]) {
                        attrs.push((radius::attr::REPLY_MESSAGE, b"state echoed".to_vec()));
                    }
                    attrs.push((radius::attr::EAP_MESSAGE, vec![4, eap_id, 0, 4]));
                    3
                }
            };
            attrs.push((radius::attr::MESSAGE_AUTHENTICATOR, vec![0; 16]));
            let mut r = vec![code, p.id, 0, 0];
            r.extend_from_slice(&[0; 16]);
            for (t, v) in attrs {
                r.push(t);
                r.push(v.len() as u8 + 2);
                r.extend_from_slice(&v);
            }
            let len = (r.len() as u16).to_be_bytes();
            r[2..4].copy_from_slice(&len);
            radius::sign_reply(&mut r, &p.authenticator, b"s");
            let _ = sock.send_to(&r, from);
        }
    });
    // The bare EAP-Failure answering our ClientHello ends the conversation at once, named as
    // a refused ClientHello: no wait for authPeriod (a minute here, so a wait would show).
    let started = std::time::Instant::now();
    let o = sim(&pki, &addr, "s", &["--json", "--auth-period-ms", "60000"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the Failure was sat out: {:?}",
        started.elapsed()
    );
    let j = json(&o);
    assert_eq!(j["outcome"], "failed", "{j}");
    assert_eq!(j["error_kind"], "client-hello-refused", "{j}");
    assert_eq!(j["radius_result"], "Access-Reject", "{j}");
    assert_eq!(j["radius_retransmissions"], 1, "{j}");
    assert_eq!(j["radius_round_trips"], 2, "{j}");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("server says: state echoed"),
        "{j}"
    );
}
