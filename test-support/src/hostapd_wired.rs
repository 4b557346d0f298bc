//! hostapd 2.10 as a wired 802.1X authenticator (`driver=wired`, `ieee8021x=1`) on the
//! authenticator's end of a [`VethPair`], with either its internal EAP-TLS server or its RADIUS
//! client pointed at a server in the same namespace. Started by the tests, stopped by pid.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::netns::{NetnsError, VethPair};

/// The Debian packages the wired tests need: the authenticator, the RADIUS server behind it,
/// tshark (with dumpcap) for the capture, iproute2 for the namespaces.
pub const WIRED_PACKAGES: &[&str] = &["hostapd", "freeradius", "tshark", "iproute2"];

/// How long hostapd may take to enable its interface.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS versions hostapd's internal EAP server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// `tls_flags=[DISABLE-TLSv1.3]`.
    Tls12,
    /// `tls_flags=[ENABLE-TLSv1.3]` (TLS 1.3 is off by default in hostapd 2.10), with 1.2
    /// disabled so the test proves 1.3 was used.
    Tls13,
}

/// Who decides: hostapd's internal EAP server, or a RADIUS server.
#[derive(Debug, Clone)]
pub enum Backend {
    /// hostapd's internal EAP-TLS server (`eap_server=1`).
    Internal {
        /// CA certificates the client chain is verified against, plus the CRL (one PEM file,
        /// as hostapd's `ca_cert` with `check_crl=1` wants it).
        ca_and_crl: PathBuf,
        /// Whether to check the CRL (`check_crl=1`).
        check_crl: bool,
        /// The server's certificate chain (PEM).
        server_cert: PathBuf,
        /// The server's private key (PEM).
        server_key: PathBuf,
        /// Which TLS version to run.
        tls: TlsVersion,
    },
    /// hostapd's RADIUS client (RFC 3579) pointed at a server listening on the namespace's
    /// loopback.
    Radius {
        /// The server's authentication port on 127.0.0.1.
        port: u16,
        /// The shared secret.
        secret: String,
    },
}

/// Why hostapd could not be run.
#[derive(Debug)]
pub enum HostapdError {
    /// Writing its configuration or log failed.
    Io(std::io::Error),
    /// The namespace tooling failed.
    Netns(NetnsError),
    /// hostapd exited or did not enable the interface in time; the log's tail says why.
    NotStarted {
        /// The last lines of its log.
        log_tail: String,
    },
}

impl std::fmt::Display for HostapdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostapdError::Io(e) => write!(f, "hostapd setup: {e}"),
            HostapdError::Netns(e) => write!(f, "{e}"),
            HostapdError::NotStarted { log_tail } => {
                write!(f, "hostapd did not start:\n{log_tail}")
            }
        }
    }
}

impl std::error::Error for HostapdError {}

impl From<std::io::Error> for HostapdError {
    fn from(e: std::io::Error) -> Self {
        HostapdError::Io(e)
    }
}

/// The hostapd configuration for a wired port with this backend.
pub fn config(iface: &str, backend: &Backend, eap_user_file: &Path) -> String {
    // logger_stdout_level=0 makes hostapd print its IEEE 802.1X port decisions
    // ("authorizing port"), which the tests assert on.
    let mut c = format!(
        "interface={iface}\ndriver=wired\nieee8021x=1\neap_reauth_period=0\n\
         logger_stdout=-1\nlogger_stdout_level=0\n"
    );
    match backend {
        Backend::Internal {
            ca_and_crl,
            check_crl,
            server_cert,
            server_key,
            tls,
        } => {
            let flags = match tls {
                TlsVersion::Tls12 => "[DISABLE-TLSv1.3]",
                TlsVersion::Tls13 => "[ENABLE-TLSv1.3][DISABLE-TLSv1.2]",
            };
            c.push_str(&format!(
                "eap_server=1\neap_user_file={}\nca_cert={}\ncheck_crl={}\nserver_cert={}\n\
                 private_key={}\ntls_flags={flags}\n",
                eap_user_file.display(),
                ca_and_crl.display(),
                u8::from(*check_crl),
                server_cert.display(),
                server_key.display(),
            ));
        }
        Backend::Radius { port, secret } => {
            c.push_str(&format!(
                "own_ip_addr=127.0.0.1\nnas_identifier=latchkey-wired\n\
                 auth_server_addr=127.0.0.1\nauth_server_port={port}\n\
                 auth_server_shared_secret={secret}\n"
            ));
        }
    }
    c
}

/// A running hostapd, killed by its pid on drop. Drop it before its [`VethPair`].
#[derive(Debug)]
pub struct WiredAuthenticator {
    child: Child,
    log: PathBuf,
}

impl WiredAuthenticator {
    /// Write the configuration into `dir`, start hostapd in the pair's authenticator
    /// namespace on its veth end, and wait (bounded) until it reports the interface enabled.
    pub fn start(pair: &VethPair, dir: &Path, backend: &Backend) -> Result<Self, HostapdError> {
        Self::start_with(pair, dir, backend, &[])
    }

    /// [`Self::start`] with extra configuration lines (e.g. `use_pae_group_addr=1`, which
    /// makes hostapd address every EAPOL frame to the PAE group address, as many switches do).
    pub fn start_with(
        pair: &VethPair,
        dir: &Path,
        backend: &Backend,
        extra: &[&str],
    ) -> Result<Self, HostapdError> {
        let eap_user = dir.join("hostapd.eap_user");
        std::fs::write(&eap_user, "* TLS\n")?;
        let conf = dir.join("hostapd.conf");
        let mut text = config(&pair.auth_if, backend, &eap_user);
        for line in extra {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&conf, text)?;
        let log = dir.join("hostapd.log");
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        // `ip netns exec` execs hostapd in place, so the child's pid is hostapd's. `-d -K`
        // puts the MSK it derives (or receives from RADIUS) into the log, so tests can compare
        // it with the supplicant's: test keys only, in the test's temporary directory.
        let child = pair
            .auth_command("hostapd")
            .args(["-t", "-d", "-K"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| {
                HostapdError::Netns(NetnsError::Spawn {
                    cmd: "hostapd".into(),
                    source,
                })
            })?;
        let mut me = WiredAuthenticator { child, log };
        let end = Instant::now() + START_TIMEOUT;
        loop {
            if me.log_text().contains("AP-ENABLED") {
                return Ok(me);
            }
            let exited = matches!(me.child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() >= end {
                return Err(HostapdError::NotStarted {
                    log_tail: me.log_tail(30),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// hostapd's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything hostapd printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Wait (bounded) until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        loop {
            if self.log_text().contains(needle) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The MSK of the most recent successful authentication as hostapd has it: derived by its
    /// internal EAP-TLS server ("EAP-TLS: Derived key"), or MS-MPPE-Recv-Key ||
    /// MS-MPPE-Send-Key from the RADIUS server's Access-Accept (RFC 2548; Recv-Key is
    /// MSK[0..32]).
    pub fn msk(&self) -> Option<Vec<u8>> {
        let text = self.log_text();
        let last_hex = |label: &str| -> Option<Vec<u8>> {
            let line = text.lines().rfind(|l| l.contains(label))?;
            let (_, hex) = line.rsplit_once("):")?;
            hex.split_whitespace()
                .map(|b| u8::from_str_radix(b, 16).ok())
                .collect()
        };
        if let Some(k) = last_hex("EAP-TLS: Derived key - hexdump") {
            return Some(k);
        }
        let mut recv = last_hex("MS-MPPE-Recv-Key - hexdump")?;
        recv.extend(last_hex("MS-MPPE-Send-Key - hexdump")?);
        Some(recv)
    }

    /// Stop hostapd (by pid) and return its whole log.
    pub fn stop(mut self) -> String {
        self.kill();
        self.log_text()
    }

    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for WiredAuthenticator {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_server_config_names_the_tls_versions_and_crl() {
        let c = config(
            "lka1",
            &Backend::Internal {
                ca_and_crl: "/t/ca.pem".into(),
                check_crl: true,
                server_cert: "/t/s.pem".into(),
                server_key: "/t/s.key".into(),
                tls: TlsVersion::Tls13,
            },
            Path::new("/t/users"),
        );
        for line in [
            "interface=lka1",
            "driver=wired",
            "ieee8021x=1",
            "eap_server=1",
            "check_crl=1",
            "tls_flags=[ENABLE-TLSv1.3][DISABLE-TLSv1.2]",
        ] {
            assert!(c.lines().any(|l| l == line), "{line} missing in\n{c}");
        }
    }

    #[test]
    fn msk_is_read_from_either_log_form() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("hostapd.log");
        let child = std::process::Command::new("true").spawn().expect("spawn");
        let a = WiredAuthenticator {
            child,
            log: log.clone(),
        };
        let hex = |b: u8, n: usize| vec![format!("{b:02x}"); n].join(" ");
        std::fs::write(
            &log,
            format!(
                "1.0: MS-MPPE-Send-Key - hexdump(len=32): {}\n\
                 1.1: MS-MPPE-Recv-Key - hexdump(len=32): {}\n",
                hex(0xbb, 32),
                hex(0xaa, 32)
            ),
        )
        .expect("write");
        let msk = a.msk().expect("msk from MS-MPPE keys");
        assert_eq!(msk[..32], [0xaa; 32], "Recv-Key is MSK[0..32]");
        assert_eq!(msk[32..], [0xbb; 32]);
        std::fs::write(
            &log,
            format!(
                "2.0: EAP-TLS: Derived key - hexdump(len=64): {}\n",
                hex(0x11, 64)
            ),
        )
        .expect("write");
        assert_eq!(a.msk(), Some(vec![0x11; 64]));
    }

    #[test]
    fn radius_config_points_at_loopback() {
        let c = config(
            "lka1",
            &Backend::Radius {
                port: 18120,
                secret: "s3cret".into(),
            },
            Path::new("/t/users"),
        );
        assert!(c.contains("auth_server_addr=127.0.0.1\nauth_server_port=18120\n"));
        assert!(!c.contains("eap_server=1"));
    }
}
