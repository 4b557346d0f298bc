//! hostapd 2.10's own authenticator state machine (`src/ap/wpa_auth.c`) as the peer of the WPA
//! key handshake tests. The source comes from Debian's source package `wpa`
//! (2:2.10-12+deb12u3), fetched with `apt-get source` into a cache directory under the cargo
//! target directory (a `deb-src` entry for the configured Debian mirror is added when none
//! exists); nothing of it is kept in the repository. `tests/harness/wpa_auth_harness.c` wraps
//! it: one authenticator, one station, EAPOL frames as hex lines on stdin/stdout, installed
//! keys printed as SHA-256 fingerprints. Built with hostapd's CONFIG_IEEE80211W, CONFIG_SUITEB,
//! CONFIG_SUITEB192, CONFIG_SHA256/384 and CONFIG_TESTING_OPTIONS (as Debian builds hostapd) and
//! never with TEST_FUZZ (which turns off MIC checks and makes nonces predictable).

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::apt;

/// The Debian source version the harness is built from.
pub const WPA_SOURCE_VERSION: &str = "2:2.10-12+deb12u3";
/// Packages needed to fetch and build it.
pub const BUILD_PACKAGES: &[&str] = &["dpkg-dev", "libssl-dev", "gcc"];

/// The harness C source, in the repository.
fn harness_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/wpa_auth_harness.c")
}

/// The cache directory: `$CARGO_TARGET_DIR/wpa-src` or `<workspace>/target/wpa-src`.
pub fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("wpa-src")
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn has_deb_src() -> bool {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = fs::read_dir("/etc/apt/sources.list.d") {
        files.extend(rd.flatten().map(|e| e.path()));
    }
    files.iter().any(|f| {
        let enabled = f.extension().is_some_and(|e| e == "list" || e == "sources")
            || f.ends_with("sources.list");
        enabled
            && fs::read_to_string(f).is_ok_and(|t| {
                t.lines().any(|l| {
                    let l = l.trim();
                    l.starts_with("deb-src ") || (l.starts_with("Types:") && l.contains("deb-src"))
                })
            })
    })
}

/// Adds `deb-src` entries mirroring the configured Debian `deb` entries (deb822 or one-line).
fn add_deb_src() -> Result<(), String> {
    let mut out = String::from("# Added by Latchkey's test tooling to fetch hostapd's source.\n");
    if let Ok(t) = fs::read_to_string("/etc/apt/sources.list.d/debian.sources") {
        for stanza in t.split("\n\n") {
            if stanza.lines().any(|l| l.trim() == "Types: deb") {
                out.push('\n');
                out.push_str(&stanza.replace("Types: deb", "Types: deb-src"));
                out.push('\n');
            }
        }
        fs::write("/etc/apt/sources.list.d/latchkey-deb-src.sources", out)
            .map_err(|e| format!("cannot add a deb-src entry: {e}"))?;
        return Ok(());
    }
    let list = fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    let lines: Vec<String> = list
        .lines()
        .filter(|l| l.trim_start().starts_with("deb ") && l.contains("debian"))
        .map(|l| l.trim_start().replacen("deb ", "deb-src ", 1))
        .collect();
    if lines.is_empty() {
        return Err(
            "no Debian mirror configured in /etc/apt: cannot fetch hostapd's source".into(),
        );
    }
    out.push_str(&lines.join("\n"));
    out.push('\n');
    fs::write("/etc/apt/sources.list.d/latchkey-deb-src.list", out)
        .map_err(|e| format!("cannot add a deb-src entry: {e}"))
}

/// Fetches and unpacks Debian's `wpa` source into [`cache_dir`] (once; idempotent, locked
/// against parallel test processes). Returns the `wpa-2.10` directory.
pub fn ensure_source() -> Result<PathBuf, String> {
    let dir = cache_dir();
    let src = dir.join("wpa-2.10");
    if src.join("src/ap/wpa_auth.c").exists() {
        return Ok(src);
    }
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let lock = File::create(dir.join(".lock")).map_err(|e| format!("lock: {e}"))?;
    lock.lock().map_err(|e| format!("lock: {e}"))?;
    if src.join("src/ap/wpa_auth.c").exists() {
        return Ok(src);
    }
    apt::ensure_installed(BUILD_PACKAGES).map_err(|e| e.to_string())?;
    if !has_deb_src() {
        add_deb_src()?;
    }
    run(
        Command::new("apt-get").args(["update", "-qq"]),
        "apt-get update",
    )?;
    let pinned = format!("wpa={WPA_SOURCE_VERSION}");
    let fetched = run(
        Command::new("apt-get")
            .args(["source", "-qq", &pinned])
            .current_dir(&dir),
        "apt-get source",
    );
    if let Err(e) = fetched {
        // The mirror may have moved on to a newer 2.10 security update: take it, loudly.
        eprintln!("{e}\nfalling back to the mirror's current `wpa` 2.10 source");
        run(
            Command::new("apt-get")
                .args(["source", "-qq", "wpa"])
                .current_dir(&dir),
            "apt-get source wpa",
        )?;
    }
    if !src.join("src/ap/wpa_auth.c").exists() {
        return Err(format!(
            "apt-get source wpa did not produce {} (not hostapd 2.10?)",
            src.display()
        ));
    }
    Ok(src)
}

/// The hostap source files the harness links: the authenticator, its IE and PMKSA-cache code,
/// the common WPA code, the OpenSSL crypto wrappers with the PRF/KDF helpers, and utils.
const HOSTAP_FILES: &[&str] = &[
    "ap/wpa_auth.c",
    "ap/wpa_auth_ie.c",
    "ap/pmksa_cache_auth.c",
    "common/wpa_common.c",
    "common/ieee802_11_common.c",
    "crypto/crypto_openssl.c",
    "crypto/sha1-prf.c",
    "crypto/sha256-prf.c",
    "crypto/sha384-prf.c",
    "crypto/random.c",
    "utils/common.c",
    "utils/eloop.c",
    "utils/os_unix.c",
    "utils/wpa_debug.c",
    "utils/wpabuf.c",
];

/// hostapd's build defines for what the harness exercises. CONFIG_NO_RADIUS/NO_VLAN drop the
/// RADIUS-attribute and VLAN copies of the PMKSA cache, which need the rest of hostapd and
/// are unused without a RADIUS server. TEST_FUZZ is never defined.
const DEFINES: &[&str] = &[
    "-DCONFIG_IEEE80211W",
    "-DCONFIG_SUITEB",
    "-DCONFIG_SUITEB192",
    "-DCONFIG_SHA256",
    "-DCONFIG_SHA384",
    "-DCONFIG_OPENSSL_CMAC",
    "-DCONFIG_TESTING_OPTIONS",
    "-DCONFIG_NO_RADIUS",
    "-DCONFIG_NO_VLAN",
];

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Builds the harness (when missing or older than its source) and returns its path.
pub fn ensure_harness() -> Result<PathBuf, String> {
    let src = ensure_source()?;
    let dir = cache_dir();
    let bin = dir.join("wpa_auth_harness");
    let c = harness_source();
    let fresh = |b: &Path| matches!((mtime(b), mtime(&c)), (Some(b), Some(s)) if b >= s);
    if fresh(&bin) {
        return Ok(bin);
    }
    let lock = File::create(dir.join(".lock")).map_err(|e| format!("lock: {e}"))?;
    lock.lock().map_err(|e| format!("lock: {e}"))?;
    if fresh(&bin) {
        return Ok(bin);
    }
    apt::ensure_installed(BUILD_PACKAGES).map_err(|e| e.to_string())?;
    let hs = src.join("src");
    let tmp = dir.join("wpa_auth_harness.tmp");
    let mut cmd = Command::new("gcc");
    cmd.args(["-O1", "-g", "-Wall", "-o"])
        .arg(&tmp)
        .arg(format!("-I{}", hs.display()))
        .arg(format!("-I{}", hs.join("utils").display()))
        .args(DEFINES)
        .arg(&c);
    for f in HOSTAP_FILES {
        cmd.arg(hs.join(f));
    }
    cmd.arg("-lcrypto");
    run(&mut cmd, "building the hostapd authenticator harness")?;
    fs::rename(&tmp, &bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    Ok(bin)
}

/// A key hostapd installed (from a `KEY` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthKey {
    /// hostapd's `enum wpa_alg`.
    pub alg: u32,
    /// Key index (0 pairwise, 1-3 GTK, 4-5 IGTK).
    pub idx: u32,
    /// Pairwise key.
    pub pairwise: bool,
    /// Key length.
    pub len: usize,
    /// The sequence counter hostapd reported for it (RSC/IPN; zero for pairwise).
    pub seq: Vec<u8>,
    /// SHA-256 of the key.
    pub fingerprint: Vec<u8>,
}

/// A running harness, killed by pid when dropped.
pub struct AuthHarness {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    pending: VecDeque<String>,
    /// The authenticator's RSNE (as in its beacon).
    pub ap_rsne: Vec<u8>,
    /// Keys installed so far, in order.
    pub keys: Vec<AuthKey>,
    /// The authenticator's log lines.
    pub events: Vec<String>,
}

/// Decodes hex (the harness's and tests' wire format).
pub fn from_hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// The station's RSNE for an association with this authenticator: the AP's suites, PMF
/// capable when `pmf`, naming `pmkid` when reconnecting from a cached PMKSA.
pub fn station_rsne(
    ap_rsne: &[u8],
    pmf: bool,
    pmkid: Option<latchkey_core::wpa::keys::Pmkid>,
) -> Vec<u8> {
    use latchkey_core::wpa::rsne::{Rsne, CAP_MFPC};
    let mut r = Rsne::parse(ap_rsne).expect("the harness's RSNE parses");
    r.capabilities = if pmf { CAP_MFPC } else { 0 };
    r.pmkids.clear();
    if let Some(id) = pmkid {
        r.pmkids.push(id).expect("room for one PMKID");
    }
    if !pmf {
        r.group_mgmt_cipher = None;
    }
    let mut b = [0u8; 128];
    let n = r.emit(&mut b).expect("an RSNE fits 128 bytes");
    b[..n].to_vec()
}

/// Encodes hex.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl AuthHarness {
    /// Starts the harness for AKM 1, 5 or 12 with `ieee80211w` = `pmf` (0, 1, 2).
    pub fn start(akm: u8, pmf: u8, aa: [u8; 6], spa: [u8; 6]) -> Result<AuthHarness, String> {
        let bin = ensure_harness()?;
        let mac = |m: [u8; 6]| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        let mut child = Command::new(&bin)
            .args([akm.to_string(), pmf.to_string(), mac(aa), mac(spa)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut h = AuthHarness {
            child,
            stdin,
            lines: rx,
            pending: VecDeque::new(),
            ap_rsne: Vec::new(),
            keys: Vec::new(),
            events: Vec::new(),
        };
        let ready = h.wait_for("READY ", Duration::from_secs(10))?;
        h.ap_rsne = from_hex(&ready);
        Ok(h)
    }

    /// The harness's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        writeln!(self.stdin, "{line}").map_err(|e| format!("harness stdin: {e}"))?;
        self.stdin
            .flush()
            .map_err(|e| format!("harness stdin: {e}"))
    }

    fn take(&mut self, line: String) -> Option<String> {
        if let Some(rest) = line.strip_prefix("KEY ") {
            let f: Vec<&str> = rest.split(' ').collect();
            if let [alg, idx, pw, len, seq, fp] = f[..] {
                self.keys.push(AuthKey {
                    alg: alg.parse().unwrap_or(0),
                    idx: idx.parse().unwrap_or(99),
                    pairwise: pw == "1",
                    len: len.parse().unwrap_or(0),
                    seq: from_hex(seq),
                    fingerprint: from_hex(fp),
                });
            }
            return None;
        }
        if let Some(rest) = line.strip_prefix("EVENT ") {
            self.events.push(rest.to_owned());
            return None;
        }
        Some(line)
    }

    /// Waits for the next line starting with `prefix` (others are kept for later waits, keys
    /// and events recorded); returns the rest of the line.
    pub fn wait_for(&mut self, prefix: &str, timeout: Duration) -> Result<String, String> {
        if let Some(i) = self.pending.iter().position(|l| l.starts_with(prefix)) {
            let l = self.pending.remove(i).unwrap_or_default();
            return Ok(l[prefix.len()..].to_owned());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(line) = self.take(line) {
                        if let Some(rest) = line.strip_prefix(prefix) {
                            return Ok(rest.to_owned());
                        }
                        if line.starts_with("ERR") {
                            return Err(format!("harness: {line}"));
                        }
                        self.pending.push_back(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                    "no `{prefix}` from the harness within {timeout:?}; pending {:?}, events {:?}",
                    self.pending, self.events
                ))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("harness exited; events {:?}", self.events))
                }
            }
        }
    }

    /// Drains whatever the harness printed within `wait` (recording keys and events).
    pub fn settle(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some(line) = self.take(line) {
                self.pending.push_back(line);
            }
        }
    }

    /// Associates the station with `rsne`; `Ok(pmksa_hit)` or `Err(validate result)`.
    pub fn assoc(&mut self, rsne: &[u8]) -> Result<Result<bool, i32>, String> {
        self.send(&format!("ASSOC {}", to_hex(rsne)))?;
        let r = self.wait_for("ASSOC ", Duration::from_secs(5))?;
        Ok(match r.split_once(' ') {
            Some(("OK", hit)) => Ok(hit == "1"),
            Some(("FAIL", code)) => Err(code.parse().unwrap_or(-1)),
            _ => return Err(format!("bad ASSOC reply {r}")),
        })
    }

    /// Reports 802.1X success with this MSK (the authenticator takes its PMK from it).
    pub fn msk(&mut self, msk: &[u8]) -> Result<(), String> {
        self.send(&format!("MSK {}", to_hex(msk)))?;
        self.wait_for("OK", Duration::from_secs(5)).map(|_| ())
    }

    /// Hands the authenticator a frame from the station.
    pub fn rx(&mut self, frame: &[u8]) -> Result<(), String> {
        self.send(&format!("RX {}", to_hex(frame)))
    }

    /// The next EAPOL frame the authenticator sends.
    pub fn tx(&mut self, timeout: Duration) -> Result<Vec<u8>, String> {
        self.wait_for("TX ", timeout).map(|h| from_hex(&h))
    }

    /// Starts a group rekey.
    pub fn rekey_gtk(&mut self) -> Result<(), String> {
        self.send("REKEY_GTK")?;
        self.wait_for("OK", Duration::from_secs(5)).map(|_| ())
    }

    /// Caches the current station's PMKSA in the authenticator.
    pub fn pmksa_add(&mut self) -> Result<(), String> {
        self.send("PMKSA_ADD")?;
        match self.wait_for("PMKSA ", Duration::from_secs(5))?.as_str() {
            "0" => Ok(()),
            r => Err(format!("wpa_auth_pmksa_add returned {r}")),
        }
    }

    /// The station leaves.
    pub fn disassoc(&mut self) -> Result<(), String> {
        self.send("DISASSOC")?;
        self.wait_for("OK", Duration::from_secs(5)).map(|_| ())
    }
}

impl Drop for AuthHarness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
