//! The Cortex-M4 image (`firmware/`) under QEMU's `mps2-an386` board, for tests: build it,
//! write its provisioning record, boot it with UART0 on a Unix socket, and bridge its EAPOL
//! frames to a link. The bridge only moves frames between the UART framing (MAC, 2-byte
//! big-endian length, frame) and the link; every protocol decision runs on the emulated M4.
//! QEMU runs under `timeout` and is stopped by its pid.

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::run_bounded;
use crate::pki_files::{CertFiles, FilePki, IDENTITY, SERVER_NAME};

/// The Debian package with `qemu-system-arm`.
pub const QEMU_PACKAGES: &[&str] = &["qemu-system-arm"];

/// The image's Rust target.
pub const TARGET: &str = "thumbv7em-none-eabihf";

/// Where the image reads its provisioning record (firmware/memory.x keeps it out of the image).
pub const PROVISION_ADDR: u32 = 0x003f_0000;
/// The record region's size.
pub const PROVISION_LEN: usize = 16 * 1024;

/// The record's magic (firmware/src/provision.rs).
const MAGIC: &[u8; 8] = b"LKPROV01";

/// The image's flash file (firmware/src/hostflash.rs), in the directory QEMU runs in.
pub const FLASH_FILE: &str = "latchkey-flash.bin";

/// The image's semihosting standard output in the directory QEMU runs in (the defmt frames of
/// an image built with `defmt-semihosting`: test-support/src/defmt_log.rs), apart from QEMU's log.
pub const SEMIHOSTING_STDOUT: &str = "semihosting-stdout.bin";

/// Longest any QEMU run may live, whatever happens to the test process (`timeout`'s bound).
pub const QEMU_LIFETIME: Duration = Duration::from_secs(180);

/// Why the QEMU rig failed.
#[derive(Debug)]
pub enum QemuError {
    /// Building the image failed (cargo's output).
    Build(String),
    /// Local I/O (files, the UART socket), with what we were doing.
    Io(&'static str, io::Error),
    /// The provisioning record does not fit its region or a field its length.
    Record(String),
    /// QEMU exited or never connected its UART (its log's tail).
    NotStarted(String),
}

impl std::fmt::Display for QemuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QemuError::Build(out) => write!(f, "building the firmware image failed:\n{out}"),
            QemuError::Io(what, e) => write!(f, "{what}: {e}"),
            QemuError::Record(why) => write!(f, "provisioning record: {why}"),
            QemuError::NotStarted(log) => write!(f, "QEMU did not start:\n{log}"),
        }
    }
}

impl std::error::Error for QemuError {}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Builds the firmware image (release profile: opt-level "z", LTO) and returns its ELF path.
pub fn build_firmware() -> Result<PathBuf, QemuError> {
    // The QEMU stand-in for a TRNG (firmware/src/rng.rs): QEMU's board has none. The slot
    // table's flash as a host file through semihosting (firmware/src/hostflash.rs).
    build_image("release", "insecure-counter-rng,semihosting-flash", &[])
}

/// Builds the firmware with cargo profile `profile`, `features` and the extra environment
/// `env`, and returns its ELF path; cargo does nothing when it is up to date. Only the user's
/// environment is passed to cargo: the variables cargo and nextest set for a test process
/// (CARGO_PKG_*, OUT_DIR...) would make build scripts rerun.
pub fn build_image(
    profile: &str,
    features: &str,
    env: &[(&str, &str)],
) -> Result<PathBuf, QemuError> {
    let root = repo_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "-q", "--profile", profile, "--target", TARGET])
        .args(["--features", features])
        .arg("--manifest-path")
        .arg(root.join("firmware/Cargo.toml"));
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
        let name = k.to_string_lossy();
        let keep = matches!(
            name.as_ref(),
            "PATH" | "HOME" | "USER" | "TMPDIR" | "CI" | "RUSTC" | "RUSTC_WRAPPER"
        ) || ["RUSTUP_", "CARGO_HOME", "CARGO_TARGET_DIR"]
            .iter()
            .any(|p| name.starts_with(p))
            || name.to_ascii_lowercase().ends_with("_proxy");
        if keep {
            cmd.env(k, v);
        }
    }
    cmd.envs(env.iter().copied());
    let out = run_bounded(&mut cmd, Duration::from_secs(900))
        .map_err(|e| QemuError::Build(e.to_string()))?;
    if !out.status.success() {
        return Err(QemuError::Build(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    // cargo resolves a relative CARGO_TARGET_DIR against its working directory (`root`); the
    // firmware is its own workspace, so its default target directory is firmware/target.
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root.join(d),
        None => root.join("firmware/target"),
    };
    let elf = target_dir
        .join(TARGET)
        .join(profile)
        .join("latchkey-firmware");
    if elf.exists() {
        Ok(elf)
    } else {
        Err(QemuError::Build(format!("{} not built", elf.display())))
    }
}

/// A slot of the provisioning record.
#[derive(Debug, Clone)]
pub struct RecordSlot {
    /// Archived (kept, never presented) rather than active.
    pub archived: bool,
    /// The certificate, DER.
    pub cert: Vec<u8>,
    /// Its P-256 key, PKCS#8 DER.
    pub key: Vec<u8>,
}

/// The device's provisioning record, as the image reads it (firmware/src/provision.rs).
#[derive(Debug, Clone)]
pub struct ProvisionRecord {
    /// CA certificates (DER).
    pub anchors: Vec<Vec<u8>>,
    /// The server's name (exact match).
    pub server_name: String,
    /// The outer EAP identity.
    pub identity: String,
    /// Certificate slots, oldest first.
    pub slots: Vec<RecordSlot>,
    /// Wi-Fi: the image waits for the host's `ASSOC` (the radio's association) instead of
    /// starting on a wired port at boot.
    pub wifi: bool,
}

fn pem_der(path: &Path) -> Result<Vec<u8>, QemuError> {
    let text = std::fs::read_to_string(path).map_err(|e| QemuError::Io("reading PEM", e))?;
    pem::parse(text)
        .map(|p| p.into_contents())
        .map_err(|e| QemuError::Record(format!("{}: {e}", path.display())))
}

impl ProvisionRecord {
    /// The record for the test PKI: its CA, its server name, the tests' identity and these
    /// client certificates as slots (`true`: archived).
    pub fn from_pki(pki: &FilePki, slots: &[(bool, &CertFiles)]) -> Result<Self, QemuError> {
        let mut record = ProvisionRecord {
            anchors: vec![pem_der(&pki.ca)?],
            server_name: SERVER_NAME.into(),
            identity: IDENTITY.into(),
            slots: Vec::new(),
            wifi: false,
        };
        for (archived, files) in slots {
            record.slots.push(RecordSlot {
                archived: *archived,
                cert: files.der.clone(),
                key: pem_der(&files.key)?,
            });
        }
        Ok(record)
    }

    /// The record's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, QemuError> {
        fn record(out: &mut Vec<u8>, tag: u8, value: &[u8]) -> Result<(), QemuError> {
            let len = u16::try_from(value.len())
                .map_err(|_| QemuError::Record(format!("record {tag} too long")))?;
            out.push(tag);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(value);
            Ok(())
        }
        let mut body = Vec::new();
        for a in &self.anchors {
            record(&mut body, 1, a)?;
        }
        record(&mut body, 2, self.server_name.as_bytes())?;
        record(&mut body, 3, self.identity.as_bytes())?;
        for s in &self.slots {
            let cert_len = u16::try_from(s.cert.len())
                .map_err(|_| QemuError::Record("certificate too long".into()))?;
            let mut v = vec![u8::from(s.archived)];
            v.extend_from_slice(&cert_len.to_be_bytes());
            v.extend_from_slice(&s.cert);
            v.extend_from_slice(&s.key);
            record(&mut body, 4, &v)?;
        }
        if self.wifi {
            record(&mut body, 5, &[1])?;
        }
        let total =
            u16::try_from(body.len()).map_err(|_| QemuError::Record("records too long".into()))?;
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&total.to_be_bytes());
        out.extend_from_slice(&body);
        if out.len() > PROVISION_LEN {
            return Err(QemuError::Record(format!(
                "{} bytes, region holds {PROVISION_LEN}",
                out.len()
            )));
        }
        Ok(out)
    }
}

/// How QEMU's virtual clock runs. Both count one instruction per virtual nanosecond
/// (`-icount shift=0`), so the image's SysTick measures instructions while it computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// While the core sleeps, virtual time follows the host's clock (`sleep=on`): for runs
    /// against real peers.
    RealTime,
    /// While the core sleeps, virtual time jumps to the next timer (`sleep=off`): the image's
    /// timers (30 s startPeriod...) run in an instant.
    Warp,
}

/// A running QEMU with the image, stopped by pid on drop.
#[derive(Debug)]
pub struct Qemu {
    child: Child,
    uart: UnixStream,
    log: PathBuf,
}

impl Qemu {
    /// Boots `elf` on `mps2-an386` with UART0 on a Unix socket in `dir`, and, when given, the
    /// provisioning record loaded at [`PROVISION_ADDR`]. Waits (bounded) for QEMU to connect.
    /// QEMU runs in `dir` with semihosting on: the image's flash is `dir`/[`FLASH_FILE`], so a
    /// second boot in the same `dir` finds what the first committed.
    pub fn boot(
        elf: &Path,
        dir: &Path,
        record: Option<&ProvisionRecord>,
        clock: Clock,
    ) -> Result<Self, QemuError> {
        let sock = dir.join("uart0.sock");
        let _ = std::fs::remove_file(&sock);
        let listener =
            UnixListener::bind(&sock).map_err(|e| QemuError::Io("binding the UART socket", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| QemuError::Io("UART socket", e))?;
        let log = dir.join("qemu.log");
        let err = std::fs::File::create(&log).map_err(|e| QemuError::Io("QEMU log", e))?;
        let out = std::fs::File::create(dir.join(SEMIHOSTING_STDOUT))
            .map_err(|e| QemuError::Io("QEMU's standard output", e))?;
        let mut cmd = Command::new("timeout");
        cmd.current_dir(dir)
            .args(["-k", "5", &QEMU_LIFETIME.as_secs().to_string()])
            .arg("qemu-system-arm")
            .args(["-M", "mps2-an386", "-display", "none", "-monitor", "none"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .arg("-chardev")
            .arg(format!("socket,id=uart0,path={}", sock.display()))
            .args(["-serial", "chardev:uart0"])
            .args([
                "-icount",
                match clock {
                    Clock::RealTime => "shift=0,sleep=on",
                    Clock::Warp => "shift=0,sleep=off",
                },
            ])
            .arg("-kernel")
            .arg(elf);
        if let Some(record) = record {
            let file = dir.join("provision.bin");
            std::fs::write(&file, record.encode()?)
                .map_err(|e| QemuError::Io("writing the provisioning record", e))?;
            cmd.arg("-device").arg(format!(
                "loader,file={},addr={PROVISION_ADDR:#x},force-raw=on",
                file.display()
            ));
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| QemuError::Io("starting qemu-system-arm", e))?;
        let tail = |log: &Path| std::fs::read_to_string(log).unwrap_or_default();
        let end = Instant::now() + Duration::from_secs(10);
        let uart = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(QemuError::Io("accepting QEMU's UART", e)),
            }
            if matches!(child.try_wait(), Ok(Some(_))) || Instant::now() > end {
                let _ = child.kill();
                let _ = child.wait();
                return Err(QemuError::NotStarted(tail(&log)));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        uart.set_nonblocking(false)
            .map_err(|e| QemuError::Io("UART socket", e))?;
        Ok(Qemu { child, uart, log })
    }

    /// A handle on UART0 (the image's end of the link and its status lines).
    pub fn uart(&self) -> Result<UnixStream, QemuError> {
        self.uart
            .try_clone()
            .map_err(|e| QemuError::Io("UART socket", e))
    }

    /// The pid of the `timeout` wrapping QEMU (signals reach QEMU through it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What QEMU printed on its standard error (the image's semihosting standard output is
    /// [`SEMIHOSTING_STDOUT`]).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Cuts the power: stops QEMU at once, wherever the image is (a semihosting write in flight
    /// completes; nothing after it runs), and waits for it to exit.
    pub fn power_cut(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM to `timeout` (by its pid), which passes it on to QEMU and exits with it.
            if let Ok(pid) = i32::try_from(self.child.id()) {
                // SAFETY: kill(2) with our own child's pid and a valid signal number.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let end = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let _ = self.uart.shutdown(std::net::Shutdown::Both);
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The all-zero MAC the image sends its status lines to.
pub const STATUS_MAC: [u8; 6] = [0; 6];

/// Reads one frame in the image's UART framing: MAC, 2-byte big-endian length, frame.
pub fn read_uart_frame(r: &mut impl Read) -> io::Result<([u8; 6], Vec<u8>)> {
    let mut header = [0u8; 8];
    r.read_exact(&mut header)?;
    let [a, b, c, d, e, f, hi, lo] = header;
    let mut frame = vec![0; usize::from(u16::from_be_bytes([hi, lo]))];
    r.read_exact(&mut frame)?;
    Ok(([a, b, c, d, e, f], frame))
}

/// Writes one frame in the image's UART framing.
pub fn write_uart_frame(w: &mut impl Write, mac: [u8; 6], frame: &[u8]) -> io::Result<()> {
    let len = u16::try_from(frame.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame longer than 65535"))?;
    let mut out = Vec::with_capacity(8 + frame.len());
    out.extend_from_slice(&mac);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(frame);
    w.write_all(&out)
}

/// The host's end of the image's link: an Ethernet port for EAPOL frames (an `AF_PACKET`
/// socket on a veth in the tests).
pub trait EthernetPort: Send {
    /// Sends an EAPOL frame (the Ethernet payload) to `dst`, from the port's own MAC.
    fn send(&mut self, dst: [u8; 6], frame: &[u8]) -> io::Result<()>;
    /// Waits up to `timeout` for an EAPOL frame for the port; its source and payload.
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<([u8; 6], Vec<u8>)>>;
}

/// Frames moved so far.
#[derive(Debug, Default)]
pub struct BridgeCounts {
    /// From the image to the link.
    pub up: AtomicU32,
    /// From the link to the image.
    pub down: AtomicU32,
    /// Link frames not forwarded: their source was the host's own [`STATUS_MAC`].
    pub refused: AtomicU32,
}

/// Whether a link frame from `src` may reach the image: never one claiming the all-zero
/// address, which on the UART means "the host" (commands such as `TIME`); it is not a valid
/// station address either.
pub fn forwards_from(src: [u8; 6]) -> bool {
    src != STATUS_MAC
}

/// A running bridge between the image's UART0 and an [`EthernetPort`]. Status lines (frames
/// to [`STATUS_MAC`]) are not put on the link but handed to the test.
pub struct Bridge {
    status: mpsc::Receiver<String>,
    commands: mpsc::Sender<String>,
    seen: Vec<String>,
    stop: Arc<AtomicBool>,
    uart: UnixStream,
    threads: Vec<JoinHandle<()>>,
    /// Frames moved each way.
    pub counts: Arc<BridgeCounts>,
}

impl Bridge {
    /// Starts moving frames: one thread reads the UART (status lines to the test, frames to
    /// the link), one sends those on the port and writes what the port receives to the UART.
    pub fn start<P: EthernetPort + 'static>(uart: UnixStream, mut port: P) -> io::Result<Self> {
        let (status_tx, status) = mpsc::channel();
        let (up_tx, up_rx) = mpsc::channel::<([u8; 6], Vec<u8>)>();
        let (commands, command_rx) = mpsc::channel::<String>();
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(BridgeCounts::default());
        let mut reader = uart.try_clone()?;
        let mut writer = uart.try_clone()?;
        let read_thread = std::thread::spawn(move || {
            while let Ok((dst, frame)) = read_uart_frame(&mut reader) {
                let sent = if dst == STATUS_MAC {
                    status_tx
                        .send(String::from_utf8_lossy(&frame).into_owned())
                        .is_ok()
                } else {
                    up_tx.send((dst, frame)).is_ok()
                };
                if !sent {
                    break;
                }
            }
        });
        let (stop2, counts2) = (stop.clone(), counts.clone());
        let pump_thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                // Host commands go out on the same writer as link frames, never interleaved.
                while let Ok(text) = command_rx.try_recv() {
                    if write_uart_frame(&mut writer, STATUS_MAC, text.as_bytes()).is_err() {
                        return;
                    }
                }
                while let Ok((dst, frame)) = up_rx.try_recv() {
                    if port.send(dst, &frame).is_ok() {
                        counts2.up.fetch_add(1, Ordering::Relaxed);
                    }
                }
                match port.recv(Duration::from_millis(2)) {
                    Ok(Some((src, _))) if !forwards_from(src) => {
                        // The all-zero source is the host's command channel to the image
                        // (`TIME` raises its persisted time floor): a station on the link
                        // must never speak on it.
                        counts2.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Some((src, frame))) => {
                        if write_uart_frame(&mut writer, src, &frame).is_err() {
                            break;
                        }
                        counts2.down.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(None) => {}
                    Err(_) => break,
                }
            }
        });
        Ok(Bridge {
            status,
            commands,
            seen: Vec::new(),
            stop,
            uart,
            threads: vec![read_thread, pump_thread],
            counts,
        })
    }

    /// Waits up to `limit` for a status line starting with one of `prefixes`; `Err` with every
    /// line seen so far when none came.
    pub fn wait_status(&mut self, prefixes: &[&str], limit: Duration) -> Result<String, String> {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.status.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if prefixes.iter().any(|p| line.starts_with(p)) {
                        return Ok(line);
                    }
                }
                Err(_) => return Err(self.seen.join("\n")),
            }
        }
    }

    /// Sends a host command (a text frame from the all-zero MAC, e.g. `TIME 1764028800`) to
    /// the image.
    pub fn command(&self, text: &str) -> io::Result<()> {
        self.commands
            .send(text.to_owned())
            .map_err(|_| io::Error::other("bridge stopped"))
    }

    /// Every status line received so far.
    pub fn lines(&self) -> &[String] {
        &self.seen
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.uart.shutdown(std::net::Shutdown::Both);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The `key=value` fields of a status line, e.g. `STATS t=12 cpu=34`.
pub fn fields(line: &str) -> Vec<(&str, &str)> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect()
}

/// One numeric field of a status line.
pub fn field(line: &str, key: &str) -> Option<u64> {
    fields(line)
        .into_iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uart_framing_round_trips() {
        let mut buf = Vec::new();
        write_uart_frame(&mut buf, [1, 0x80, 0xc2, 0, 0, 3], &[1, 1, 0, 0]).expect("write");
        assert_eq!(buf, [1, 0x80, 0xc2, 0, 0, 3, 0, 4, 1, 1, 0, 0]);
        let (mac, frame) = read_uart_frame(&mut buf.as_slice()).expect("read");
        assert_eq!(mac, [1, 0x80, 0xc2, 0, 0, 3]);
        assert_eq!(frame, [1, 1, 0, 0]);
        // A header promising more than arrives is an error, not a short frame.
        assert!(read_uart_frame(&mut &buf[..10]).is_err());
    }

    #[test]
    fn link_frames_never_speak_as_the_host() {
        assert!(!forwards_from(STATUS_MAC));
        assert!(forwards_from([0x02, 0, 0, 0, 0, 1]));
    }

    #[test]
    fn status_fields_parse() {
        let l = "STATS t=90000 cpu=233 heap-peak=1960";
        assert_eq!(field(l, "t"), Some(90000));
        assert_eq!(field(l, "heap-peak"), Some(1960));
        assert_eq!(field(l, "nope"), None);
    }
}
