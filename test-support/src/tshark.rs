//! Reading a `latchkey-sim --pcap` capture with tshark, the dissector admins use: how many
//! frames carry EAPOL, EAP, EAP-TLS and RADIUS, which TLS handshake messages tshark found
//! (after its EAP-TLS and RADIUS EAP-Message reassembly, and with a key log, decryption), and
//! how many frames it calls malformed or marks with an error. tshark comes from Debian's
//! `tshark` package, installed if missing.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::netns::run_bounded;

/// The Debian package with tshark.
pub const TSHARK_PACKAGES: &[&str] = &["tshark"];

/// What tshark read in a capture.
#[derive(Debug, Default)]
pub struct Summary {
    /// Frames in the file.
    pub frames: usize,
    /// Frames with an EAPOL header.
    pub eapol: usize,
    /// Frames with an EAP packet (in EAPOL or in a RADIUS EAP-Message).
    pub eap: usize,
    /// Frames with an EAP-TLS (type 13) request or response.
    pub eap_tls: usize,
    /// RADIUS packets.
    pub radius: usize,
    /// TLS handshake message types seen (1 ClientHello, 2 ServerHello, 11 Certificate...).
    pub tls_handshake: BTreeSet<u8>,
    /// Frames tshark calls malformed or flags with an error-level expert message, with the
    /// messages.
    pub malformed: Vec<String>,
}

fn tshark(file: &Path, keylog: Option<&Path>, extra: &[&str], args: &[&str]) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args(extra);
    if let Some(k) = keylog {
        cmd.arg("-o")
            .arg(format!("tls.keylog_file:{}", k.display()));
    }
    let out = run_bounded(cmd.args(args), Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("tshark: {e}"));
    assert!(
        out.status.success(),
        "tshark -r {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Dissect `file` (with the TLS secrets in `keylog`, if given).
pub fn summarize(file: &Path, keylog: Option<&Path>) -> Summary {
    summarize_with(file, keylog, &[])
}

/// [`summarize`] with extra tshark options, e.g. `-d udp.port==N,radius` for a RADIUS server
/// on a port other than 1812.
pub fn summarize_with(file: &Path, keylog: Option<&Path>, extra: &[&str]) -> Summary {
    let fields = tshark(
        file,
        keylog,
        extra,
        &[
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "eapol.type",
            "-e",
            "eap.code",
            "-e",
            "eap.type",
            "-e",
            "radius.code",
            "-e",
            "tls.handshake.type",
        ],
    );
    let mut s = Summary::default();
    for line in fields.lines() {
        let f: Vec<&str> = line.split('|').collect();
        let has = |i: usize| f.get(i).is_some_and(|v| !v.is_empty());
        s.frames += 1;
        s.eapol += usize::from(has(0));
        s.eap += usize::from(has(1));
        s.eap_tls += usize::from(
            f.get(2)
                .is_some_and(|v| v.split(',').any(|t| t.trim() == "13")),
        );
        s.radius += usize::from(has(3));
        if let Some(types) = f.get(4) {
            s.tls_handshake
                .extend(types.split(',').filter_map(|t| t.trim().parse::<u8>().ok()));
        }
    }
    // Error severity is 0x00800000 in Wireshark's expert info.
    let bad = tshark(
        file,
        keylog,
        extra,
        &[
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 8388608",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
    );
    s.malformed = bad.lines().map(str::to_owned).collect();
    s
}
