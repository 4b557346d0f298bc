//! Round-trip parity with `eapol_test` at the fragment sizes where Latchkey used to need one
//! more EAP round trip (issue 14): with TLS 1.3, rustls' 32-byte middlebox-compatibility
//! `legacy_session_id` (RFC 8446 section 4.1.2), echoed by the server, made the server's first
//! flight longer than to wpa_supplicant, which sends an empty one; at FreeRADIUS
//! `fragment_size` 100, 250, 300 and hostapd 1435-1445 that tipped it into one more fragment.
//! Checked both with the supplicants at their default fragment size 1398 (so only the server's
//! flights are fragmented differently, which is where the session id showed) and with the same
//! size on both sides; both TLS versions. The full sweep (100 to 1500) is the benchmark
//! `tests/benches/fragment_sweep.rs`.

#[path = "support/round_trips.rs"]
mod round_trips;

use latchkey_tests::server_process::ServerTls;
use round_trips::{Kind, Setup};

/// Both supplicants' default (wpa_supplicant's and Latchkey's).
const DEFAULT_CLIENT_FRAGMENT: usize = 1398;

fn parity(kind: Kind, sizes: &[usize]) {
    let setup = Setup::new();
    for tls in [ServerTls::V12, ServerTls::V13] {
        for &size in sizes {
            for client in [DEFAULT_CLIENT_FRAGMENT, size] {
                let p = setup.measure(kind, tls, size, client);
                eprintln!(
                    "{kind} TLS {tls} server fragment_size {size}, client {client}: eapol_test {} / latchkey {}",
                    p.eapol_test, p.latchkey
                );
                assert!(
                    p.latchkey <= p.eapol_test,
                    "{kind} TLS {tls} server fragment_size {size}, client {client}: Latchkey needed {} round trips, eapol_test {}",
                    p.latchkey,
                    p.eapol_test
                );
            }
        }
    }
}

#[test]
fn freeradius_small_fragments() {
    parity(Kind::FreeRadius, &[100, 250, 300]);
}

#[test]
fn hostapd_fragments_near_1440() {
    parity(Kind::Hostapd, &[1435, 1440, 1445]);
}
