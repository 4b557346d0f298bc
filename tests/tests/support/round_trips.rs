//! Round-trip parity with wpa_supplicant's `eapol_test` at given EAP-TLS fragment sizes
//! (RFC 5216 section 2.1.5): the server (FreeRADIUS or hostapd, limited to one TLS version) is
//! configured with one `fragment_size`, and both supplicants use the same client-side value for
//! their own fragments. Each side's RADIUS round trips (Access-Requests sent) are counted:
//! one Access-Request carries one EAP-Response, so this is the EAP round-trip count plus none.
//! Shared by `tests/tests/round_trip_parity.rs` and `tests/benches/fragment_sweep.rs`.

use latchkey_sim::cli::args::RadiusArgs;
use latchkey_sim::cli::config::{ClientArgs, SlotSpec, SlotStateArg, TlsArg};
use latchkey_test_support::apt;
use latchkey_test_support::eapol_test;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::hostapd::{self, HostapdOptions};
use latchkey_test_support::pki_files::{FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::{ServerProcess, ServerTls};

/// Which real server authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// FreeRADIUS 3.2 (`fragment_size` in its eap module's tls-common section).
    FreeRadius,
    /// hostapd's integrated RADIUS server (`fragment_size` in hostapd.conf).
    Hostapd,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::FreeRadius => "FreeRADIUS",
            Kind::Hostapd => "hostapd",
        })
    }
}

/// Both supplicants' round trips at one fragment size.
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    /// Access-Requests `eapol_test` sent for a successful authentication.
    pub eapol_test: usize,
    /// Access-Requests Latchkey sent for a successful authentication.
    pub latchkey: usize,
}

/// A PKI reused across server starts (generating one per fragment size would only add time).
pub struct Setup {
    tmp: tempfile::TempDir,
    pki: FilePki,
}

impl Setup {
    /// Install the servers and `eapol_test` if missing (failing loudly), and generate the PKI.
    pub fn new() -> Self {
        apt::require(apt::SERVER_PACKAGES);
        let tmp = tempfile::tempdir().expect("tempdir");
        let pki = FilePki::generate(&tmp.path().join("pki")).expect("PKI");
        Setup { tmp, pki }
    }

    /// Start `kind` with TLS `tls` and `server_fragment`, authenticate once with `eapol_test`
    /// and once with Latchkey (both with `client_fragment`), stop the server, and return both
    /// counts. Panics with both sides' output and the server log if either fails, or if
    /// the negotiated version is not `tls`.
    pub fn measure(
        &self,
        kind: Kind,
        tls: ServerTls,
        server_fragment: usize,
        client_fragment: usize,
    ) -> Pair {
        let fragment_size = server_fragment;
        // Each run gets its own server directory; the PKI stays.
        let dir = tempfile::tempdir_in(self.tmp.path()).expect("tempdir");
        let server = match kind {
            Kind::FreeRadius => freeradius::start(
                dir.path(),
                &self.pki,
                &FreeRadiusOptions {
                    fragment_size,
                    ..FreeRadiusOptions::new(tls)
                },
            ),
            Kind::Hostapd => hostapd::start(
                dir.path(),
                &self.pki,
                &HostapdOptions {
                    fragment_size,
                    ..HostapdOptions::new(tls)
                },
            ),
        }
        .unwrap_or_else(|e| panic!("{kind} {tls} fragment_size {fragment_size}: {e}"));
        let sizes = format!("server fragment_size {server_fragment}, client {client_fragment}");
        let e = self.eapol_test(dir.path(), &server, client_fragment);
        assert!(
            e.success && e.mppe_ok,
            "eapol_test failed against {kind} {tls} at {sizes}:\n{}\n--- server log:\n{}",
            e.output,
            server.log_tail()
        );
        assert!(
            e.output.contains(&format!("TLSv{tls}")),
            "eapol_test did not negotiate TLS {tls} with {kind}:\n{}",
            e.output
        );
        let mut log = Vec::new();
        let r = latchkey_sim::cli::report::run_radius(
            &radius(&server),
            &client(&self.pki, client_fragment),
            &mut |l| log.push(l),
        );
        assert!(
            r.ok() && r.msk_matches_mppe == Some(true),
            "Latchkey failed against {kind} {tls} at {sizes}:\n{}\n{}\n--- server log:\n{}",
            log.join("\n"),
            r.summary(),
            server.log_tail()
        );
        assert_eq!(
            r.tls_version.as_deref(),
            Some(tls.to_string().as_str()),
            "Latchkey negotiated another version with {kind} {tls}"
        );
        assert_eq!(
            r.radius_retransmissions, 0,
            "a retransmission would count as a round trip"
        );
        Pair {
            eapol_test: e.round_trips,
            latchkey: r.radius_round_trips as usize,
        }
    }

    /// `eapol_test` with the tests' network block plus `fragment_size`.
    fn eapol_test(
        &self,
        dir: &std::path::Path,
        server: &ServerProcess,
        fragment_size: usize,
    ) -> eapol_test::EapolTestResult {
        let conf = eapol_test::write_config(dir, &self.pki, &self.pki.client_new).expect("conf");
        let block = std::fs::read_to_string(&conf).expect("read conf");
        // The same block the other interop tests use, with the fragment size added after the
        // method line; checked so a change of that block cannot silently drop the setting.
        let with_frag = block.replacen(
            "\teap=TLS\n",
            &format!("\teap=TLS\n\tfragment_size={fragment_size}\n"),
            1,
        );
        assert_ne!(with_frag, block, "eapol_test block has no eap=TLS line");
        std::fs::write(&conf, with_frag).expect("write conf");
        let args = eapol_test::command(&conf, server);
        let out = std::process::Command::new(&args[0])
            .args(&args[1..])
            .output()
            .expect("run eapol_test");
        eapol_test::parse(
            &(String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr)),
        )
    }
}

fn client(pki: &FilePki, fragment_size: usize) -> ClientArgs {
    ClientArgs {
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
        // Offer both, as eapol_test does; the server's limit picks the version.
        tls: TlsArg::Both,
        fragment_size,
        auth_period_ms: 30_000,
    }
}

fn radius(s: &ServerProcess) -> RadiusArgs {
    RadiusArgs::new(s.addr(), s.secret.clone())
}
