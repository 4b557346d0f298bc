//! The `latchkey-sim` binary for end-to-end tests that run it as an admin would (the tests
//! package does not build other packages' binaries by itself).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::netns::run_bounded;

/// The `latchkey-sim` binary of this workspace, built if needed (`cargo nextest run -p
/// latchkey-tests` does not build other packages' binaries).
pub fn latchkey_sim_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", "latchkey-sim", "--bin", "latchkey-sim"])
        .arg("--manifest-path")
        .arg(&manifest);
    // Only the user's environment: the variables cargo and nextest set for this test process
    // (CARGO_PKG_*, OUT_DIR...) would make build scripts rerun and rebuild half the tree.
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
        let k_str = k.to_string_lossy();
        let keep = matches!(
            k_str.as_ref(),
            "PATH" | "HOME" | "USER" | "TMPDIR" | "CI" | "RUSTFLAGS" | "RUSTC" | "RUSTC_WRAPPER"
        ) || [
            "RUSTUP_",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_",
            "CARGO_PROFILE_",
        ]
        .iter()
        .any(|p| k_str.starts_with(p))
            || k_str.to_ascii_lowercase().ends_with("_proxy");
        if keep {
            cmd.env(k, v);
        }
    }
    let out = run_bounded(&mut cmd, Duration::from_secs(600)).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    // tests run from target/<profile>/deps/; the binary sits in target/<profile>/.
    let exe = std::env::current_exe().expect("test executable");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("latchkey-sim"))
        .expect("target directory");
    assert!(bin.exists(), "{} not built", bin.display());
    bin
}
