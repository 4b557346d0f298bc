//! The simulator's HAL implementations: the in-memory radio and host cryptography of the
//! simulated device ([`memory`]), the real wired link over an `AF_PACKET` socket ([`link`],
//! Linux) and the slot table kept in a file standing in for NOR flash ([`table_file`]).

#[cfg(target_os = "linux")]
pub mod link;
pub mod memory;
pub mod table_file;
