//! The test tooling shared by the end-to-end tests (`tests/tests/`), the simulator's CLI tests
//! (`hal-sim/tests/`) and the benchmarks: a test PKI written to files, installing Debian
//! packages, starting real RADIUS servers (FreeRADIUS, hostapd) and the reference supplicant
//! (`eapol_test`) on loopback, network namespaces, captures read with tshark, and the Cortex-M4
//! image under QEMU with its link bridge and its defmt logs decoded. It does not depend on the simulator (`latchkey-sim`),
//! so both the simulator's tests and the end-to-end tests can use it.

pub mod apt;
pub mod capture;
pub mod defmt_log;
pub mod eapol_test;
pub mod freeradius;
pub mod hostapd;
pub mod hostapd_auth;
pub mod hostapd_wired;
pub mod netns;
pub mod pki_files;
pub mod qemu;
pub mod server_process;
pub mod tshark;
