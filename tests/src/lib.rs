//! End-to-end tests for Latchkey live in `tests/tests/`. This library holds the tooling they
//! share with other harnesses: a test PKI written to files, installing Debian packages, and
//! starting real RADIUS servers (FreeRADIUS, hostapd) and the reference supplicant
//! (`eapol_test`) on loopback, and the Cortex-M4 image under QEMU with its link bridge and its
//! defmt logs decoded.

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
pub mod sim_binary;
pub mod tshark;
