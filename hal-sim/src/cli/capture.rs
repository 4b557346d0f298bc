//! Captures for Wireshark: `--pcap FILE` writes every EAPOL frame a subcommand exchanges (as
//! Ethernet II frames with ethertype 0x888E, IEEE 802.1X-2010 §11.1, with the real or simulated
//! MAC addresses) and, in relay mode, every RADIUS datagram (as Ethernet/IP/UDP with the real
//! socket addresses, so Wireshark dissects RADIUS on its port and the EAP inside) into one
//! classic pcap file (LINKTYPE_ETHERNET), through the `pcap-file` crate. `--keylog FILE` writes
//! the TLS secrets in the NSS key log format so Wireshark can decrypt the TLS 1.3 handshake: a
//! debugging aid that writes secrets, through the core's `keylog` hook.

use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use latchkey_core::hal::MacAddr;
use latchkey_core::tls::KeyLogSink;
use latchkey_core::SupplicantBuilder;
use pcap_file::pcap::{PcapPacket, PcapWriter};

/// The PAE ethertype (IEEE 802.1X-2010 §11.1).
const ETHERTYPE_PAE: u16 = 0x888e;

/// `--pcap` and `--keylog`, flattened into every subcommand that exchanges frames.
#[derive(Args, Debug, Clone, Default)]
pub struct CaptureArgs {
    /// Write every EAPOL frame (and, in relay mode, every RADIUS packet) to this pcap file,
    /// for Wireshark or tshark.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// DEBUGGING AID THAT WRITES SECRETS: append the TLS secrets of each handshake to this file
    /// in the NSS key log format, so Wireshark (Preferences > Protocols > TLS > (Pre)-Master-Secret
    /// log filename) can decrypt the TLS 1.3 handshake in the --pcap capture. Anyone with the
    /// file can decrypt the conversation.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
}

/// A capture or key log file that cannot be created.
#[derive(Debug)]
pub struct CaptureError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub error: std::io::Error,
}

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write {}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for CaptureError {}

impl CaptureArgs {
    /// Open what was asked for: the capture (if `--pcap`) and the key log (if `--keylog`).
    pub fn open(&self) -> Result<Captures, CaptureError> {
        let pcap = match &self.pcap {
            Some(p) => Some(Arc::new(Capture::create(p)?)),
            None => None,
        };
        let keylog = match &self.keylog {
            Some(p) => Some(Arc::new(KeyLogFile::create(p)?)),
            None => None,
        };
        Ok(Captures { pcap, keylog })
    }
}

/// The open capture and key log of one subcommand run (either may be absent).
#[derive(Clone, Default)]
pub struct Captures {
    /// The pcap file.
    pub pcap: Option<Arc<Capture>>,
    /// The key log.
    pub keylog: Option<Arc<KeyLogFile>>,
}

impl Captures {
    /// `b`, handing its TLS secrets to the key log when there is one.
    pub fn builder(&self, b: SupplicantBuilder) -> SupplicantBuilder {
        match &self.keylog {
            Some(k) => b.key_log(k.clone()),
            None => b,
        }
    }
}

/// A pcap file of Ethernet frames, written as they pass (unbuffered, so a capture of an
/// interrupted run is readable).
pub struct Capture {
    writer: Mutex<PcapWriter<File>>,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> CaptureError + '_ {
    move |error| CaptureError {
        path: path.to_owned(),
        error,
    }
}

impl Capture {
    /// Create (or truncate) `path` and write the pcap header (LINKTYPE_ETHERNET).
    pub fn create(path: &Path) -> Result<Self, CaptureError> {
        let file = File::create(path).map_err(io_error(path))?;
        let writer = PcapWriter::new(file)
            .map_err(|e| io_error(path)(std::io::Error::other(e.to_string())))?;
        Ok(Capture {
            writer: Mutex::new(writer),
        })
    }

    /// One Ethernet frame, as it is (or would be) on the wire.
    pub fn ethernet(&self, frame: &[u8]) {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let Ok(len) = u32::try_from(frame.len()) else {
            return;
        };
        let Ok(mut w) = self.writer.lock() else {
            return;
        };
        // A capture is a debugging aid: a write error must not end the authentication.
        let _ = w.write_packet(&PcapPacket::new(ts, len, frame));
    }

    /// One EAPOL frame from `src` to `dst` (the Ethernet payload).
    pub fn eapol(&self, src: MacAddr, dst: MacAddr, eapol: &[u8]) {
        let mut f = Vec::with_capacity(14 + eapol.len());
        f.extend_from_slice(&dst);
        f.extend_from_slice(&src);
        f.extend_from_slice(&ETHERTYPE_PAE.to_be_bytes());
        f.extend_from_slice(eapol);
        self.ethernet(&f);
    }

    /// One UDP datagram (a RADIUS packet), framed as Ethernet/IPv4 or IPv6/UDP between
    /// made-up locally administered MAC addresses.
    pub fn udp(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        const SRC_MAC: MacAddr = [0x02, 0, 0, 0, 0x18, 0x12];
        const DST_MAC: MacAddr = [0x02, 0, 0, 0, 0x18, 0x13];
        let Ok(udp_len) = u16::try_from(8 + payload.len()) else {
            return;
        };
        let mut udp = Vec::with_capacity(usize::from(udp_len));
        udp.extend_from_slice(&src.port().to_be_bytes());
        udp.extend_from_slice(&dst.port().to_be_bytes());
        udp.extend_from_slice(&udp_len.to_be_bytes());
        udp.extend_from_slice(&[0, 0]); // checksum: computed below for IPv6, optional for IPv4
        udp.extend_from_slice(payload);
        let mut f = Vec::with_capacity(14 + 40 + udp.len());
        f.extend_from_slice(&DST_MAC);
        f.extend_from_slice(&SRC_MAC);
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let Some(total) = udp_len.checked_add(20) else {
                    return;
                };
                f.extend_from_slice(&0x0800u16.to_be_bytes());
                let mut ip = [0u8; 20];
                ip[0] = 0x45;
                ip[2..4].copy_from_slice(&total.to_be_bytes());
                ip[6] = 0x40; // don't fragment
                ip[8] = 64; // TTL
                ip[9] = 17; // UDP
                ip[12..16].copy_from_slice(&s.octets());
                ip[16..20].copy_from_slice(&d.octets());
                let sum = checksum(&[&ip]);
                ip[10..12].copy_from_slice(&sum.to_be_bytes());
                f.extend_from_slice(&ip);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                f.extend_from_slice(&0x86ddu16.to_be_bytes());
                let mut ip = [0u8; 40];
                ip[0] = 0x60;
                ip[4..6].copy_from_slice(&udp_len.to_be_bytes());
                ip[6] = 17;
                ip[7] = 64;
                ip[8..24].copy_from_slice(&s.octets());
                ip[24..40].copy_from_slice(&d.octets());
                // The UDP checksum is mandatory over IPv6 (RFC 8200 §8.1).
                let pseudo_len = u32::from(udp_len).to_be_bytes();
                let sum = checksum(&[&ip[8..40], &pseudo_len, &[0, 0, 0, 17], &udp]);
                let sum = if sum == 0 { 0xffff } else { sum };
                udp[6..8].copy_from_slice(&sum.to_be_bytes());
                f.extend_from_slice(&ip);
            }
            // A relay socket and its server share an address family.
            _ => return,
        }
        f.extend_from_slice(&udp);
        self.ethernet(&f);
    }
}

/// The Internet checksum (RFC 1071) over the concatenation of `parts`.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    let mut odd: Option<u8> = None;
    for b in parts.iter().flat_map(|p| p.iter().copied()) {
        match odd.take() {
            Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
            None => odd = Some(b),
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The NSS key log file: one `LABEL client_random secret` line (hex) per secret, appended.
pub struct KeyLogFile {
    file: Mutex<File>,
}

impl KeyLogFile {
    /// Open `path` for appending (Wireshark reads every line; several runs may share a file).
    pub fn create(path: &Path) -> Result<Self, CaptureError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_error(path))?;
        Ok(KeyLogFile {
            file: Mutex::new(file),
        })
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl KeyLogSink for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line =
            zeroize::Zeroizing::new(format!("{label} {} {}\n", hex(client_random), hex(secret)));
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internet_checksum_matches_rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum 220d.
        assert_eq!(
            checksum(&[&[0x00, 0x01, 0xf2, 0x03], &[0xf4, 0xf5, 0xf6, 0xf7]]),
            0x220d
        );
        assert_eq!(checksum(&[&[0x00, 0x01, 0xf2], &[0x03, 0xf4]]), 0x19fa);
    }
}
