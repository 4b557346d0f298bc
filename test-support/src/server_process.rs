//! A real RADIUS server process started by the test tooling: its port on loopback, its shared
//! secret, its log, and a guard that kills it by pid when dropped (also when a test panics).

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The TLS versions a test server may be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerTls {
    /// TLS 1.2 only.
    V12,
    /// TLS 1.3 only.
    V13,
}

impl std::fmt::Display for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ServerTls::V12 => "1.2",
            ServerTls::V13 => "1.3",
        })
    }
}

/// Why a server could not be started.
#[derive(Debug)]
pub enum ServerError {
    /// Writing its configuration failed.
    Io(PathBuf, std::io::Error),
    /// The binary could not be run.
    Spawn(&'static str, std::io::Error),
    /// The configuration check refused the configuration (its output).
    Config(String),
    /// It exited before listening (its log's tail).
    Exited(String),
    /// It did not listen within the time bound (its log's tail).
    NotListening(String),
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerError::Io(p, e) => write!(f, "cannot write {}: {e}", p.display()),
            ServerError::Spawn(b, e) => write!(f, "cannot run {b}: {e}"),
            ServerError::Config(t) => write!(f, "server configuration refused:\n{t}"),
            ServerError::Exited(t) => write!(f, "server exited at start:\n{t}"),
            ServerError::NotListening(t) => write!(f, "server not listening after 10 s:\n{t}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// Write a file, mapping the error.
pub fn write(path: &Path, contents: &str) -> Result<(), ServerError> {
    std::fs::write(path, contents).map_err(|e| ServerError::Io(path.to_owned(), e))
}

/// A free UDP port on 127.0.0.1 (bound, read and released; a race with another process is
/// possible but rare, and shows as a start failure, not a wrong result).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind(("127.0.0.1", 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Whether any local UDP socket (IPv4 or IPv6) is bound to `port`, from the calling thread's
/// network namespace (`/proc/thread-self/net`: `/proc/net` follows the process's main thread,
/// which stays outside a namespace a test thread entered).
pub fn udp_port_bound(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"]
        .iter()
        .any(|f| {
            std::fs::read_to_string(f).is_ok_and(|t| {
                t.lines()
                    .skip(1)
                    .filter_map(|l| l.split_whitespace().nth(1))
                    .any(|local| local.ends_with(&want))
            })
        })
}

/// A running server, killed by pid on drop.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Which server ("freeradius", "hostapd").
    pub name: &'static str,
    /// Its authentication port on 127.0.0.1.
    pub port: u16,
    /// The RADIUS shared secret for client 127.0.0.1.
    pub secret: String,
    /// Its log file.
    pub log: PathBuf,
    /// The TLS version it is limited to.
    pub tls: ServerTls,
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

impl ServerProcess {
    /// Spawn `cmd` (stdout and stderr to `log`) and wait until it listens on UDP `port`.
    pub fn spawn(
        name: &'static str,
        cmd: Command,
        port: u16,
        secret: &str,
        log: PathBuf,
        tls: ServerTls,
    ) -> Result<Self, ServerError> {
        Self::spawn_until(name, cmd, port, secret, log, tls, || udp_port_bound(port))
    }

    /// Spawn `cmd` (stdout and stderr to `log`) and wait, at most 10 s, until `ready()` holds
    /// (e.g. a log line for a hostapd authenticator that listens on no UDP port; `port` 0).
    pub fn spawn_until(
        name: &'static str,
        mut cmd: Command,
        port: u16,
        secret: &str,
        log: PathBuf,
        tls: ServerTls,
        ready: impl Fn() -> bool,
    ) -> Result<Self, ServerError> {
        let out = std::fs::File::create(&log).map_err(|e| ServerError::Io(log.clone(), e))?;
        let err = out
            .try_clone()
            .map_err(|e| ServerError::Io(log.clone(), e))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| ServerError::Spawn(name, e))?;
        let mut server = ServerProcess {
            child,
            name,
            port,
            secret: secret.to_owned(),
            log,
            tls,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = server.child.try_wait() {
                return Err(ServerError::Exited(tail(&server.log)));
            }
            if ready() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(ServerError::NotListening(tail(&server.log)));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last 30 lines of its log (for failure messages).
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// Where its log ends now: give it to [`ServerProcess::client_serials_since`] after a run.
    pub fn log_mark(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    /// The serials of the client certificates (the leaf, depth 0) the server logged as
    /// presented to it since `mark`, in order, as [`serial_hex`] writes them. FreeRADIUS: its
    /// `TLS-Client-Cert-Serial`, appended to each "Login OK" / "Login incorrect" line by the
    /// configuration [`crate::freeradius`] writes. hostapd: its `authsrv: peer certificate:
    /// depth=0 serial_num=...` line (debug level, see
    /// [`crate::hostapd::HostapdOptions::log_peer_certificates`]).
    pub fn client_serials_since(&self, mark: u64) -> Vec<String> {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let start = usize::try_from(mark).unwrap_or(usize::MAX).min(text.len());
        let text = String::from_utf8_lossy(text.get(start..).unwrap_or_default());
        text.lines().filter_map(logged_client_serial).collect()
    }

    /// The server's address.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

/// The marker [`crate::freeradius`] has FreeRADIUS put before the client certificate's serial.
pub const FREERADIUS_SERIAL_MARK: &str = "client certificate serial ";
const HOSTAPD_SERIAL_MARK: &str = "authsrv: peer certificate: depth=0 serial_num=";

/// The client certificate serial a server log line names, if it names one.
fn logged_client_serial(line: &str) -> Option<String> {
    let rest = if line.contains("Login OK") || line.contains("Login incorrect") {
        line.rsplit_once(FREERADIUS_SERIAL_MARK)?.1
    } else {
        line.split_once(HOSTAPD_SERIAL_MARK)?.1
    };
    let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    let bytes: Option<Vec<u8>> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    match bytes {
        Some(b) if !b.is_empty() && hex.len().is_multiple_of(2) => Some(serial_hex(&b)),
        _ => None,
    }
}

/// A certificate serial number's big-endian bytes as the servers log them: upper-case hex, no
/// leading zero bytes (DER's sign byte dropped, as OpenSSL does), at least one byte.
pub fn serial_hex(bytes: &[u8]) -> String {
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    bytes
        .get(first..)
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Child::kill signals exactly this pid (SIGKILL); then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_read_from_both_servers_log_lines() {
        let fr = "Wed Dec  2 01:41:51 2026 : Auth: (6) Login OK: [device-0042@latchkey.test] \
                  (from client latchkey port 0 cli 02-00-00-00-00-01) (client certificate serial 00e30a)";
        assert_eq!(logged_client_serial(fr).as_deref(), Some("E30A"));
        let fr_no_cert = "Auth: (9) Login incorrect: [x] (from client latchkey port 0) \
                          (client certificate serial )";
        assert_eq!(logged_client_serial(fr_no_cert), None);
        let ha = "authsrv: peer certificate: depth=0 serial_num=7A0041 subject=/CN=device-0042";
        assert_eq!(logged_client_serial(ha).as_deref(), Some("7A0041"));
        let ha_ca = "authsrv: peer certificate: depth=1 serial_num=1001 subject=/CN=Issuing";
        assert_eq!(logged_client_serial(ha_ca), None);
        assert_eq!(serial_hex(&[0, 0x80, 1]), "8001");
        assert_eq!(serial_hex(&[0]), "00");
    }
}
