//! Puts memory.x (the mps2-an386 memory map) where cortex-m-rt's link.x finds it, and links the
//! binary with link.x (and defmt.x with feature `defmt-semihosting`), so
//! `cargo build --manifest-path firmware/Cargo.toml` works from any directory (a
//! `.cargo/config.toml` here would be ignored from the repository root).
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    // defmt's linker script (shipped by the defmt crate) keeps its string table out of flash,
    // in an info section the host decoder reads.
    if env::var_os("CARGO_FEATURE_DEFMT_SEMIHOSTING").is_some() {
        println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    }
}
