//! Packet capture on a test link with Wireshark's `dumpcap`, and dissection of the capture with
//! `tshark`, so a test can assert what really crossed the wire (EAPOL-Start, EAP-TLS,
//! EAP-Success) as an independent implementation reads it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::netns::{run_bounded, wait_bounded, NetnsError, VethPair};

const START_TIMEOUT: Duration = Duration::from_secs(10);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest [`Capture::stop`] waits for the file to settle.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(5);
/// The file counts as settled when it has not grown for this long (twice dumpcap's block
/// timeout plus its 100 ms write interval, with margin).
const SETTLED_AFTER: Duration = Duration::from_millis(700);

/// A running capture (dumpcap in a namespace, writing pcap), stopped by pid.
#[derive(Debug)]
pub struct Capture {
    child: Option<Child>,
    file: PathBuf,
}

impl Capture {
    /// Start capturing every frame on `iface` inside `ns` into `file`; returns once dumpcap
    /// has written the pcap header (it is capturing).
    pub fn start(ns: &str, iface: &str, file: &Path) -> Result<Self, NetnsError> {
        let _ = std::fs::remove_file(file);
        let child = VethPair::command_in(ns, "dumpcap")
            .args(["-q", "-P", "-i", iface, "-w"])
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| NetnsError::Spawn {
                cmd: "dumpcap".into(),
                source,
            })?;
        let mut cap = Capture {
            child: Some(child),
            file: file.to_owned(),
        };
        let end = Instant::now() + START_TIMEOUT;
        // A pcap file header is 24 bytes; dumpcap writes it once the interface is open.
        while std::fs::metadata(file).map(|m| m.len()).unwrap_or(0) < 24 {
            let exited = cap
                .child
                .as_mut()
                .map(|c| matches!(c.try_wait(), Ok(Some(_))))
                .unwrap_or(true);
            if exited || Instant::now() >= end {
                return Err(NetnsError::Failed {
                    cmd: format!("dumpcap -i {iface} (in {ns})"),
                    detail: "did not start capturing".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(cap)
    }

    /// Stop the capture and return the file's path. dumpcap reads the kernel's packet ring in
    /// blocks that retire on a 250 ms timeout and drops what is still in the ring when it is
    /// interrupted, so first wait until the file has stopped growing (bounded by
    /// [`SETTLE_LIMIT`]), then SIGINT it so it closes the file cleanly.
    pub fn stop(mut self) -> Result<PathBuf, NetnsError> {
        let size = || std::fs::metadata(&self.file).map(|m| m.len()).unwrap_or(0);
        let end = Instant::now() + SETTLE_LIMIT;
        let (mut last, mut since) = (size(), Instant::now());
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
            let now = size();
            if now != last {
                (last, since) = (now, Instant::now());
            } else if now > 24 && since.elapsed() >= SETTLED_AFTER {
                break;
            }
        }
        if let Some(child) = self.child.take() {
            let pid = child.id().to_string();
            run_bounded(
                Command::new("sh").args(["-c", "kill -INT \"$0\"", &pid]),
                STOP_TIMEOUT,
            )?;
            wait_bounded(child, "dumpcap", STOP_TIMEOUT)?;
        }
        Ok(self.file.clone())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One EAPOL frame as tshark dissects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dissected {
    /// Ethernet source.
    pub src: String,
    /// Ethernet destination.
    pub dst: String,
    /// EAPOL packet type (0 EAP-Packet, 1 Start, ...).
    pub eapol_type: Option<u8>,
    /// EAP code (1 Request, 2 Response, 3 Success, 4 Failure).
    pub eap_code: Option<u8>,
    /// EAP type (1 Identity, 13 EAP-TLS, ...).
    pub eap_type: Option<u8>,
    /// TLS handshake message types tshark found (after its EAP-TLS reassembly).
    pub tls_handshake: Vec<u8>,
}

fn num(s: &str) -> Option<u8> {
    let s = s.split(',').next()?.trim();
    if let Some(hex) = s.strip_prefix("0x") {
        u8::from_str_radix(hex, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// Dissect the EAPOL frames of a capture with tshark.
pub fn dissect(file: &Path) -> Result<Vec<Dissected>, NetnsError> {
    let out = run_bounded(
        Command::new("tshark").arg("-r").arg(file).args([
            "-Y",
            "eapol",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "eth.src",
            "-e",
            "eth.dst",
            "-e",
            "eapol.type",
            "-e",
            "eap.code",
            "-e",
            "eap.type",
            "-e",
            "tls.handshake.type",
        ]),
        Duration::from_secs(30),
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            Dissected {
                src: get(0).to_owned(),
                dst: get(1).to_owned(),
                eapol_type: num(get(2)),
                eap_code: num(get(3)),
                eap_type: num(get(4)),
                tls_handshake: get(5).split(',').filter_map(num).collect(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tshark_numbers_parse_in_decimal_and_hex() {
        assert_eq!(num("13"), Some(13));
        assert_eq!(num("0x01"), Some(1));
        assert_eq!(num("1,11"), Some(1));
        assert_eq!(num(""), None);
    }
}
