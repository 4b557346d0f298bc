//! Installs the Debian packages interop tests need (`freeradius`, `hostapd`, `eapoltest`...),
//! idempotently and safely under parallel test processes (one file lock), without letting the
//! packages start system services (a temporary `policy-rc.d`, only when none exists).

use std::fs::{self, File};
use std::path::Path;
use std::process::Command;

/// The packages the real-server tests use.
pub const SERVER_PACKAGES: &[&str] = &["freeradius", "freeradius-utils", "hostapd", "eapoltest"];

/// Why packages could not be installed.
#[derive(Debug)]
pub enum AptError {
    /// No `apt-get` here (not Debian?).
    NoApt,
    /// Not root: apt-get cannot install.
    NotRoot,
    /// An apt-get/dpkg command failed; its last output line.
    Failed(String, String),
    /// Local I/O (the lock file).
    Io(std::io::Error),
}

impl std::fmt::Display for AptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AptError::NoApt => f.write_str("apt-get not found: install the packages by hand"),
            AptError::NotRoot => f.write_str("not root: cannot apt-get install the test servers"),
            AptError::Failed(cmd, out) => write!(f, "`{cmd}` failed: {out}"),
            AptError::Io(e) => write!(f, "apt lock file: {e}"),
        }
    }
}

impl std::error::Error for AptError {}

/// Whether a Debian package is installed.
pub fn is_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn run(args: &[&str]) -> Result<(), AptError> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .map_err(|_| AptError::NoApt)?;
    if out.status.success() {
        return Ok(());
    }
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    Err(AptError::Failed(args.join(" "), last.trim().to_owned()))
}

/// Install whichever of `pkgs` are missing (`apt-get update` first). A no-op when all are
/// installed; safe to call from parallel test processes.
pub fn ensure_installed(pkgs: &[&str]) -> Result<(), AptError> {
    if pkgs.iter().all(|p| is_installed(p)) {
        return Ok(());
    }
    if Command::new("apt-get").arg("--version").output().is_err() {
        return Err(AptError::NoApt);
    }
    // SAFETY-free check for root: the uid of /proc/self.
    let root = fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if !root {
        return Err(AptError::NotRoot);
    }
    let lock =
        File::create(std::env::temp_dir().join("latchkey-apt.lock")).map_err(AptError::Io)?;
    lock.lock().map_err(AptError::Io)?;
    let missing: Vec<&str> = pkgs.iter().copied().filter(|p| !is_installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    // Keep maintainer scripts from starting freeradius/hostapd as system services.
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let ours = !policy.exists()
        && fs::write(policy, "#!/bin/sh\nexit 101\n").is_ok()
        && Command::new("chmod")
            .args(["755"])
            .arg(policy)
            .status()
            .is_ok();
    let result = run(&["apt-get", "update", "-qq"]).and_then(|()| {
        let mut args = vec![
            "apt-get",
            "install",
            "-y",
            "-qq",
            "-o",
            "DPkg::Lock::Timeout=300",
        ];
        args.extend(missing.iter().copied());
        run(&args)
    });
    if ours {
        let _ = fs::remove_file(policy);
    }
    result
}

/// For tests: install `pkgs` or panic with the reason. Nothing is skipped silently — a test
/// that needs a real server fails loudly when it cannot have one (in CI and locally).
pub fn require(pkgs: &[&str]) {
    if let Err(e) = ensure_installed(pkgs) {
        panic!("cannot install {pkgs:?} for the interop tests: {e}");
    }
}
