//! Driving the supplicant: the one loop every run shares ([`drive`]: start, frames in, timers
//! polled, until an event) with the other side behind [`Transport`] (the simulated
//! authenticator in memory, [`sim`]; the RADIUS relay, `crate::auth::relay`; the wired link,
//! `crate::hal::link`), the frames of a conversation as recorded ([`Step`]) and described for
//! people ([`describe`]), and the wired `connect` command ([`connect`]).

#[cfg(target_os = "linux")]
pub mod connect;
pub mod sim;

use latchkey_core::hal::{MacAddr, Radio};
use latchkey_core::wpa::frame;
use latchkey_core::{eap, eap_tls, eapol, BufferStorage, Event, Now, Supplicant};

/// What the other side has for the supplicant next.
pub enum Next {
    /// A frame: its source and the EAPOL frame.
    Frame(MacAddr, Vec<u8>),
    /// Nothing before the supplicant's next timer: poll it.
    Timer,
    /// The run ends here without an event (a bound reached, or nothing left to wait for).
    End,
}

/// The other side of a run, and the run's clock: where the supplicant's frames go (its
/// [`Radio`]) and where the frames for it come from.
pub trait Transport {
    /// The radio the supplicant sends on.
    type Radio: Radio;
    /// Why the run cannot go on.
    type Error;
    /// The radio the supplicant sends on.
    fn radio(&mut self) -> &mut Self::Radio;
    /// The time now on this run's clock (read once for each call into the supplicant).
    fn now(&mut self) -> Now;
    /// What comes next for the supplicant; `deadline` is its next timer (ms on this clock),
    /// if any. A transport may wait for a frame until then.
    fn next(&mut self, deadline: Option<u64>) -> Result<Next, Self::Error>;
    /// Called after every call into the supplicant (start, a frame, a poll).
    fn stepped(&mut self) {}
}

/// The one driver loop: start the supplicant, then hand it every frame the transport delivers
/// and poll its timers when the transport has none, until it reports an [`Event`] (`Ok(Some)`),
/// the transport ends the run (`Ok(None)`) or fails (`Err`).
pub fn drive<B: BufferStorage, T: Transport>(
    sup: &mut Supplicant<B>,
    transport: &mut T,
) -> Result<Option<Event>, T::Error> {
    let now = transport.now();
    let mut event = sup.start(now, transport.radio());
    transport.stepped();
    while event.is_none() {
        match transport.next(sup.next_deadline())? {
            Next::Frame(src, frame) => {
                let now = transport.now();
                event = sup.handle_frame(now, src, &frame, transport.radio());
            }
            Next::Timer => {
                let now = transport.now();
                event = sup.poll(now, transport.radio());
            }
            Next::End => break,
        }
        transport.stepped();
    }
    Ok(event)
}

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

/// An EAPOL-EAP frame (version 2, IEEE 802.1X-2004) carrying `eap`, as an authenticator sends
/// it. An EAP packet is at most 65535 bytes (its Length field), so it always fits; a longer
/// `eap` gives an empty frame, which every receiver drops.
pub fn eapol_eap(eap: &[u8]) -> Vec<u8> {
    let mut frame = vec![0; eapol::HEADER_LEN.saturating_add(eap.len())];
    match eapol::emit_frame(2, eapol::PacketType::EapPacket, eap, &mut frame) {
        Ok(len) => frame.truncate(len),
        Err(_) => frame.clear(),
    }
    frame
}

/// An EAPOL-Key frame by its Key Information bits (IEEE 802.11-2020 §12.7.2); `frame_len` is
/// the whole EAPOL frame's length.
fn describe_key(body: &[u8], frame_len: usize) -> String {
    // The MIC length depends on the AKM; Key Information and the replay counter come before it.
    let Ok(key) =
        frame::Packet::new_checked(body, 16).or_else(|_| frame::Packet::new_checked(body, 24))
    else {
        return "EAPOL-Key (truncated)".into();
    };
    let info = key.key_info();
    let which = match (
        info.pairwise(),
        info.ack(),
        info.mic(),
        info.install(),
        info.secure(),
    ) {
        (true, true, false, _, _) => "4-way message 1",
        (true, false, true, _, false) => "4-way message 2",
        (true, true, true, true, _) => "4-way message 3",
        (true, false, true, _, true) => "4-way message 4",
        (false, true, _, _, _) => "group message 1",
        (false, false, _, _, _) => "group message 2",
        _ => "unexpected",
    };
    format!(
        "EAPOL-Key {which} (key info {:#06x}, replay counter {}, {frame_len} bytes)",
        info.0,
        key.replay_counter()
    )
}

/// A one-line description of an EAPOL frame, for the demo's log, read with the core's codecs
/// (EAPOL, EAP, EAP-TLS and EAPOL-Key); a frame they refuse is described as malformed.
pub fn describe(frame: &[u8]) -> String {
    let eapol = match eapol::Packet::new_checked(frame) {
        Ok(p) => p,
        Err(e) => return format!("malformed EAPOL frame ({e})"),
    };
    match eapol.packet_type() {
        eapol::PacketType::Start => return "EAPOL-Start".into(),
        eapol::PacketType::EapPacket => {}
        eapol::PacketType::Key => return describe_key(eapol.body(), frame.len()),
        t => return format!("EAPOL type {}", u8::from(t)),
    }
    let eap = match eap::Packet::new_checked(eapol.body()) {
        Ok(p) => p,
        Err(e) => return format!("malformed EAP packet ({e})"),
    };
    let id = eap.identifier();
    let code_name = match eap.code() {
        eap::Code::Request => "Request",
        eap::Code::Response => "Response",
        eap::Code::Success => return format!("EAP-Success id={id}"),
        eap::Code::Failure => return format!("EAP-Failure id={id}"),
        c => return format!("EAP code {} id={id}", u8::from(c)),
    };
    let data = eap.type_data();
    match eap.eap_type() {
        Some(eap::Type::Identity) => format!(
            "EAP-{code_name}/Identity id={id} {:?}",
            String::from_utf8_lossy(data)
        ),
        Some(eap::Type::Nak) => format!("EAP-{code_name}/Nak id={id} proposes {data:?}"),
        Some(eap::Type::Tls) => {
            let tls = match eap_tls::Packet::new_checked(data) {
                Ok(p) => p,
                Err(e) => return format!("EAP-{code_name}/TLS id={id} malformed ({e})"),
            };
            let flags = tls.flags();
            let l = tls
                .tls_message_length()
                .map(|v| format!(" L={v}"))
                .unwrap_or_default();
            let fl: String = [
                (flags.length_included, 'L'),
                (flags.more_fragments, 'M'),
                (flags.start, 'S'),
            ]
            .iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| name)
            .collect();
            let tls_data = tls.tls_data();
            if flags.start {
                format!("EAP-{code_name}/TLS id={id} Start")
            } else if tls_data.is_empty() {
                format!("EAP-{code_name}/TLS id={id} ACK")
            } else {
                format!(
                    "EAP-{code_name}/TLS id={id} [{fl}]{l} {} bytes",
                    tls_data.len()
                )
            }
        }
        Some(t) => format!("EAP-{code_name} type {} id={id}", u8::from(t)),
        None => format!("EAP-{code_name} id={id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_described_from_their_length_fields_not_the_buffer() {
        assert_eq!(describe(&[1, 1, 0, 0]), "EAPOL-Start");
        let identity = [2u8, 0, 0, 9, 1, 7, 0, 9, 1, b'a', b'b', b'c', b'd'];
        assert_eq!(describe(&identity), "EAP-Request/Identity id=7 \"abcd\"");
        let start = [2u8, 0, 0, 6, 1, 8, 0, 6, 13, 0x20];
        assert_eq!(describe(&start), "EAP-Request/TLS id=8 Start");
        let mut ack = vec![2u8, 0, 0, 6, 2, 8, 0, 6, 13, 0];
        assert_eq!(describe(&ack), "EAP-Response/TLS id=8 ACK");
        // Padded to Ethernet's minimum (a wired link): the padding is not EAP-TLS data.
        ack.resize(46, 0);
        assert_eq!(describe(&ack), "EAP-Response/TLS id=8 ACK");
        let first = [
            2u8, 0, 0, 13, 1, 9, 0, 13, 13, 0xc0, 0, 0, 1, 0, 0xaa, 0xbb, 0xcc,
        ];
        assert_eq!(describe(&first), "EAP-Request/TLS id=9 [LM] L=256 3 bytes");
        assert_eq!(describe(&[2, 0, 0, 4, 3, 9, 0, 4]), "EAP-Success id=9");
        assert_eq!(describe(&[2, 5, 0, 0]), "EAPOL type 5");
        assert!(describe(&[2, 0, 0, 9, 1]).starts_with("malformed EAPOL frame ("));
        assert!(describe(&[2, 0, 0, 4, 3, 9, 0, 5]).starts_with("malformed EAP packet ("));
    }
}
