//! Driving the supplicant: the frames of a conversation as recorded ([`Step`]) and described
//! for people ([`describe`]), the in-memory run against the simulated authenticator
//! ([`sim`]) and the wired `connect` command ([`connect`]).

#[cfg(target_os = "linux")]
pub mod connect;
pub mod sim;

/// Who sent a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Supplicant to authenticator.
    Up,
    /// Authenticator to supplicant.
    Down,
}

/// One frame on the simulated link.
#[derive(Debug, Clone)]
pub struct Step {
    /// Which way it went.
    pub dir: Direction,
    /// The EAPOL frame.
    pub frame: Vec<u8>,
}

/// An EAPOL-Key frame by its Key Information bits (IEEE 802.11-2020 §12.7.2).
fn describe_key(frame: &[u8]) -> String {
    let info = match (frame.get(5), frame.get(6)) {
        (Some(a), Some(b)) => u16::from_be_bytes([*a, *b]),
        _ => return "EAPOL-Key (truncated)".into(),
    };
    let counter = frame
        .get(9..17)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0);
    let (pairwise, install, ack, mic, secure) = (
        info & 0x0008 != 0,
        info & 0x0040 != 0,
        info & 0x0080 != 0,
        info & 0x0100 != 0,
        info & 0x0200 != 0,
    );
    let which = match (pairwise, ack, mic, install, secure) {
        (true, true, false, _, _) => "4-way message 1",
        (true, false, true, _, false) => "4-way message 2",
        (true, true, true, true, _) => "4-way message 3",
        (true, false, true, _, true) => "4-way message 4",
        (false, true, _, _, _) => "group message 1",
        (false, false, _, _, _) => "group message 2",
        _ => "unexpected",
    };
    format!(
        "EAPOL-Key {which} (key info {info:#06x}, replay counter {counter}, {} bytes)",
        frame.len()
    )
}

/// A one-line description of an EAPOL frame, for the demo's log.
pub fn describe(frame: &[u8]) -> String {
    let ptype = frame.get(1).copied().unwrap_or(255);
    match ptype {
        1 => return "EAPOL-Start".into(),
        0 => {}
        3 => return describe_key(frame),
        t => return format!("EAPOL type {t}"),
    }
    let eap = frame.get(4..).unwrap_or_default();
    let (code, id) = (
        eap.first().copied().unwrap_or(0),
        eap.get(1).copied().unwrap_or(0),
    );
    let code_name = match code {
        1 => "Request",
        2 => "Response",
        3 => return format!("EAP-Success id={id}"),
        4 => return format!("EAP-Failure id={id}"),
        _ => "?",
    };
    let typ = eap.get(4).copied().unwrap_or(0);
    match typ {
        1 => format!(
            "EAP-{code_name}/Identity id={id} {:?}",
            String::from_utf8_lossy(eap.get(5..).unwrap_or_default())
        ),
        3 => format!(
            "EAP-{code_name}/Nak id={id} proposes {:?}",
            eap.get(5..).unwrap_or_default()
        ),
        13 => {
            let flags = eap.get(5).copied().unwrap_or(0);
            let mut data = eap.get(6..).unwrap_or_default();
            let mut l = String::new();
            if flags & 0x80 != 0 {
                let v = data
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0);
                l = format!(" L={v}");
                data = data.get(4..).unwrap_or_default();
            }
            let mut fl = String::new();
            for (bit, name) in [(0x80, 'L'), (0x40, 'M'), (0x20, 'S')] {
                if flags & bit != 0 {
                    fl.push(name);
                }
            }
            if data.is_empty() && flags & 0x20 == 0 {
                format!("EAP-{code_name}/TLS id={id} ACK")
            } else if flags & 0x20 != 0 {
                format!("EAP-{code_name}/TLS id={id} Start")
            } else {
                format!("EAP-{code_name}/TLS id={id} [{fl}]{l} {} bytes", data.len())
            }
        }
        t => format!("EAP-{code_name} type {t} id={id}"),
    }
}
