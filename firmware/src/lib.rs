//! Placeholder for the Cortex-M4 firmware (QEMU mps2-an386). For now it only proves that
//! `latchkey-core` links into a `no_std` crate built for `thumbv7em-none-eabihf`.
#![no_std]

pub use latchkey_core as core_crate;
