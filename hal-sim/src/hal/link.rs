//! A real wired link for the supplicant on Linux: EAPOL frames (ethertype 0x888E, IEEE
//! 802.1X-2010 §11) sent and received on one interface through an `AF_PACKET` socket, joined to
//! the PAE group address (§11.1.1), and a loop that drives `Supplicant` with real time.

use std::io::{self, Read};
use std::time::{Duration, Instant, SystemTime};

use latchkey_core::hal::{MacAddr, Radio, RadioErrorKind};
use latchkey_core::supplicant::{
    BufferStorage, DropCounters, Event, Now, Supplicant, PAE_GROUP_ADDR,
};
use latchkey_core::{eap, eapol};

use crate::drive::{drive, Next, Transport};
use socket2::{Domain, Protocol, Socket, Type};

use crate::drive::{Direction, Step};

/// The 802.1X PAE ethertype (802.1X-2010 §11.1.4).
pub const ETH_P_PAE: u16 = 0x888e;

const ETH_HEADER: usize = 14;
/// Ethernet's minimum frame size without FCS; shorter frames are padded with zeros (EAPOL
/// receivers take the body length from the EAPOL header, so padding is harmless).
const ETH_MIN_FRAME: usize = 60;
/// Largest frame we accept: an Ethernet frame with a generous MTU. Longer frames are truncated
/// by the kernel and dropped here (EAPOL body length would exceed what arrived).
const MAX_FRAME: usize = 9216;

/// Why the wired link could not be used.
#[derive(Debug)]
pub enum LinkError {
    /// The interface name is not a valid Linux interface name.
    InvalidName(String),
    /// No interface of this name exists (in this network namespace).
    NoSuchInterface(String),
    /// Opening a packet socket needs `CAP_NET_RAW` (root).
    PermissionDenied(String),
    /// The interface has no Ethernet (48-bit) hardware address.
    NotEthernet(String),
    /// Any other operating-system error, with what we were doing.
    Io {
        /// The interface.
        iface: String,
        /// What failed.
        op: &'static str,
        /// The error.
        source: io::Error,
    },
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::InvalidName(n) => write!(
                f,
                "invalid interface name {n:?} (1 to 15 bytes, no '/' or whitespace)"
            ),
            LinkError::NoSuchInterface(n) => write!(
                f,
                "no network interface named {n:?} (in this network namespace)"
            ),
            LinkError::PermissionDenied(n) => write!(
                f,
                "permission denied opening a packet socket on {n:?}: needs CAP_NET_RAW (run as root)"
            ),
            LinkError::NotEthernet(n) => {
                write!(f, "interface {n:?} has no Ethernet hardware address")
            }
            LinkError::Io { iface, op, source } => write!(f, "{iface}: {op} failed: {source}"),
        }
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LinkError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Format a MAC address as `aa:bb:cc:dd:ee:ff`.
pub fn mac_string(mac: &MacAddr) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

/// An `AF_PACKET` socket bound to one interface and the PAE ethertype: the supplicant's radio on
/// a wired port. Every frame sent and received is recorded as a [`Step`].
pub struct EapolLink {
    sock: Socket,
    iface: String,
    mac: MacAddr,
    buf: Vec<u8>,
    steps: Vec<Step>,
    last_send_error: Option<io::Error>,
    /// `--pcap`: every frame sent and accepted.
    capture: Option<std::sync::Arc<crate::cli::capture::Capture>>,
}

impl std::fmt::Debug for EapolLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EapolLink")
            .field("iface", &self.iface)
            .field("mac", &mac_string(&self.mac))
            .finish()
    }
}

/// `ifreq` with the interface name filled in, or `InvalidName`.
fn ifreq_for(iface: &str) -> Result<libc::ifreq, LinkError> {
    let bytes = iface.as_bytes();
    if bytes.is_empty()
        || bytes.len() >= libc::IFNAMSIZ
        || bytes
            .iter()
            .any(|&b| b == b'/' || b == 0 || b.is_ascii_whitespace())
    {
        return Err(LinkError::InvalidName(iface.to_owned()));
    }
    // SAFETY: ifreq is a plain C struct (name array + union of integers, sockaddrs and a
    // pointer); all-zero bytes are a valid value for every field.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

impl EapolLink {
    /// Open a packet socket on `iface` for ethertype 0x888E, bind it to the interface and join
    /// the PAE group address (so a NIC that filters multicast delivers the authenticator's
    /// frames).
    pub fn open(iface: &str) -> Result<Self, LinkError> {
        let mut req = ifreq_for(iface)?;
        let io_err = |op: &'static str, source: io::Error| LinkError::Io {
            iface: iface.to_owned(),
            op,
            source,
        };
        let proto = i32::from(ETH_P_PAE.to_be());
        let sock = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(proto))).map_err(
            |e| match e.kind() {
                io::ErrorKind::PermissionDenied => LinkError::PermissionDenied(iface.to_owned()),
                _ => io_err("opening an AF_PACKET socket", e),
            },
        )?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);

        // SAFETY: SIOCGIFINDEX reads ifr_name and writes ifr_ifru.ifru_ifindex of the ifreq we
        // own; fd is a valid socket for the duration of the call.
        let rc = unsafe { libc::ioctl(fd, libc::SIOCGIFINDEX, &mut req as *mut libc::ifreq) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::ENODEV) => LinkError::NoSuchInterface(iface.to_owned()),
                _ => io_err("looking up the interface index", e),
            });
        }
        // SAFETY: the ioctl above succeeded, so the union holds the index.
        let ifindex = unsafe { req.ifr_ifru.ifru_ifindex };

        // SAFETY: as above; SIOCGIFHWADDR writes ifr_ifru.ifru_hwaddr.
        let rc = unsafe { libc::ioctl(fd, libc::SIOCGIFHWADDR, &mut req as *mut libc::ifreq) };
        if rc != 0 {
            return Err(io_err(
                "reading the hardware address",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: the ioctl succeeded, so the union holds the hardware address.
        let hw = unsafe { req.ifr_ifru.ifru_hwaddr };
        if hw.sa_family != libc::ARPHRD_ETHER {
            return Err(LinkError::NotEthernet(iface.to_owned()));
        }
        let mut mac = [0u8; 6];
        for (dst, &src) in mac.iter_mut().zip(hw.sa_data.iter()) {
            *dst = src as u8;
        }

        // SAFETY: sockaddr_ll is a plain C struct; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        sll.sll_protocol = ETH_P_PAE.to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: we pass a pointer to a live sockaddr_ll and its exact size.
        let rc = unsafe {
            libc::bind(
                fd,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io_err(
                "binding to the interface",
                io::Error::last_os_error(),
            ));
        }

        let mut mreq = libc::packet_mreq {
            mr_ifindex: ifindex,
            mr_type: libc::PACKET_MR_MULTICAST as libc::c_ushort,
            mr_alen: 6,
            mr_address: [0; 8],
        };
        for (dst, &src) in mreq.mr_address.iter_mut().zip(PAE_GROUP_ADDR.iter()) {
            *dst = src;
        }
        // SAFETY: we pass a pointer to a live packet_mreq and its exact size.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq as *const libc::packet_mreq as *const libc::c_void,
                std::mem::size_of::<libc::packet_mreq>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io_err(
                "joining the PAE group address",
                io::Error::last_os_error(),
            ));
        }
        Ok(EapolLink {
            sock,
            iface: iface.to_owned(),
            mac,
            buf: vec![0; MAX_FRAME],
            steps: Vec::new(),
            last_send_error: None,
            capture: None,
        })
    }

    /// The interface's MAC address (the source of every frame we send).
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Every frame sent and received so far.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Write every frame sent and accepted from now on to `capture` (whole Ethernet frames,
    /// real MAC addresses).
    pub fn set_capture(&mut self, capture: std::sync::Arc<crate::cli::capture::Capture>) {
        self.capture = Some(capture);
    }

    /// Take the recorded frames, leaving the record empty.
    pub fn take_steps(&mut self) -> Vec<Step> {
        std::mem::take(&mut self.steps)
    }

    /// Wait up to `timeout` for one EAPOL frame addressed to us or to the PAE group address;
    /// returns its source MAC and the EAPOL frame (the Ethernet payload). `None` when the time
    /// ran out. Frames we sent ourselves and frames for other stations are skipped.
    pub fn recv_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<(MacAddr, Vec<u8>)>, LinkError> {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            // A zero read timeout would mean "block forever".
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .map_err(|source| LinkError::Io {
                    iface: self.iface.clone(),
                    op: "setting the receive timeout",
                    source,
                })?;
            let n = match (&self.sock).read(&mut self.buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(source) => {
                    return Err(LinkError::Io {
                        iface: self.iface.clone(),
                        op: "receiving",
                        source,
                    })
                }
            };
            let Some(frame) = self.buf.get(..n) else {
                continue;
            };
            if let Some((src, payload)) = self.accept(frame) {
                if let Some(c) = &self.capture {
                    c.ethernet(frame);
                }
                let payload = payload.to_vec();
                self.steps.push(Step {
                    dir: Direction::Down,
                    frame: payload.clone(),
                });
                return Ok(Some((src, payload)));
            }
        }
    }

    /// Ethernet header checks: PAE ethertype, destination us or the group address, source not
    /// us. Returns the source and the payload.
    fn accept<'a>(&self, frame: &'a [u8]) -> Option<(MacAddr, &'a [u8])> {
        let dst: MacAddr = frame.get(0..6)?.try_into().ok()?;
        let src: MacAddr = frame.get(6..12)?.try_into().ok()?;
        let ethertype = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
        if ethertype != ETH_P_PAE || src == self.mac {
            return None;
        }
        if dst != self.mac && dst != PAE_GROUP_ADDR {
            return None;
        }
        Some((src, frame.get(ETH_HEADER..)?))
    }
}

impl Radio for EapolLink {
    type Error = RadioErrorKind;

    fn send(&mut self, dst: MacAddr, frame: &[u8]) -> Result<(), RadioErrorKind> {
        let mut out = Vec::with_capacity((ETH_HEADER + frame.len()).max(ETH_MIN_FRAME));
        out.extend_from_slice(&dst);
        out.extend_from_slice(&self.mac);
        out.extend_from_slice(&ETH_P_PAE.to_be_bytes());
        out.extend_from_slice(frame);
        if out.len() < ETH_MIN_FRAME {
            out.resize(ETH_MIN_FRAME, 0);
        }
        self.steps.push(Step {
            dir: Direction::Up,
            frame: frame.to_vec(),
        });
        if let Some(c) = &self.capture {
            c.ethernet(&out);
        }
        match self.sock.send(&out) {
            Ok(n) if n == out.len() => Ok(()),
            Ok(n) => {
                self.last_send_error = Some(io::Error::other(format!(
                    "short send: {n} of {} bytes",
                    out.len()
                )));
                Err(RadioErrorKind::Other)
            }
            Err(e) => {
                let kind = match e.raw_os_error() {
                    Some(libc::ENETDOWN) | Some(libc::ENXIO) => RadioErrorKind::LinkDown,
                    Some(libc::ENOBUFS) | Some(libc::EAGAIN) => RadioErrorKind::Busy,
                    _ => RadioErrorKind::Other,
                };
                self.last_send_error = Some(e);
                Err(kind)
            }
        }
    }
}

/// How an authentication on a real link ended.
#[derive(Debug)]
pub struct LinkOutcome {
    /// The supplicant's event; `None` when the time limit ran out first.
    pub event: Option<Event>,
    /// The authenticator's MAC (the source of its last EAP request or decision), if it spoke.
    pub authenticator: Option<MacAddr>,
    /// Wall time from EAPOL-Start to the event (or to the limit).
    pub elapsed: Duration,
    /// Every EAPOL frame, in order.
    pub steps: Vec<Step>,
    /// Why the last send failed, if the supplicant failed with a radio error.
    pub send_error: Option<io::Error>,
    /// Frames the supplicant dropped, by reason.
    pub drops: DropCounters,
}

/// Run one authentication on `link`: send EAPOL-Start, then feed every received frame to
/// `sup` and poll its timers with real time until it reports an [`Event`] or `limit` passes.
/// The supplicant's own timers (startPeriod, authPeriod, maxStart) still apply inside `limit`.
pub fn authenticate<B: BufferStorage>(
    sup: &mut Supplicant<B>,
    link: &mut EapolLink,
    limit: Duration,
) -> Result<LinkOutcome, LinkError> {
    authenticate_reporting(sup, link, limit, &mut |_, _| {})
}

/// [`authenticate`], calling `on_step` with the time since the start for every frame as it is
/// sent or accepted (a command's live progress: a silent authenticator can take a minute).
pub fn authenticate_reporting<B: BufferStorage>(
    sup: &mut Supplicant<B>,
    link: &mut EapolLink,
    limit: Duration,
    on_step: &mut dyn FnMut(Duration, &Step),
) -> Result<LinkOutcome, LinkError> {
    link.take_steps();
    link.last_send_error = None;
    let mut wired = Wired {
        link,
        origin: Instant::now(),
        limit,
        authenticator: None,
        poll_next: false,
        reported: 0,
        on_step,
    };
    let event = drive(sup, &mut wired)?;
    let Wired {
        link,
        origin,
        authenticator,
        ..
    } = wired;
    Ok(LinkOutcome {
        event,
        authenticator,
        elapsed: origin.elapsed(),
        steps: link.take_steps(),
        send_error: link.last_send_error.take(),
        drops: sup.drops(),
    })
}

/// The wired link as the supplicant's other side, on the host's clock: frames are received
/// until the supplicant's next timer or the run's limit; after each frame its timers are
/// polled too (poll does nothing before a deadline), so they run while frames keep arriving.
/// Every frame sent or accepted goes to `on_step` as soon as the supplicant has taken a step.
struct Wired<'a, 'b> {
    link: &'a mut EapolLink,
    origin: Instant,
    limit: Duration,
    /// The source of the last EAP Request, Success or Failure.
    authenticator: Option<MacAddr>,
    /// A frame was just handed over: poll the timers before receiving again.
    poll_next: bool,
    /// Steps already given to `on_step`.
    reported: usize,
    on_step: &'b mut dyn FnMut(Duration, &Step),
}

impl Transport for Wired<'_, '_> {
    type Radio = EapolLink;
    type Error = LinkError;

    fn radio(&mut self) -> &mut EapolLink {
        self.link
    }

    fn now(&mut self) -> Now {
        Now {
            ms: u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX),
            unix: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs()),
        }
    }

    fn next(&mut self, deadline: Option<u64>) -> Result<Next, LinkError> {
        if std::mem::take(&mut self.poll_next) {
            return Ok(Next::Timer);
        }
        let elapsed = self.origin.elapsed();
        if elapsed >= self.limit {
            return Ok(Next::End);
        }
        let mut wait = self.limit - elapsed;
        if let Some(deadline) = deadline {
            let until = Duration::from_millis(deadline.saturating_sub(self.now().ms));
            wait = wait.min(until.max(Duration::from_millis(1)));
        }
        let Some((src, frame)) = self.link.recv_timeout(wait)? else {
            return Ok(Next::Timer);
        };
        // Only an EAP Request, Success or Failure names the authenticator (another
        // supplicant's EAPOL-Start to the group address does not).
        if let Ok(eapol) = eapol::Packet::new_checked(frame.as_slice()) {
            let code = eap::Packet::new_unchecked(eapol.body()).code();
            if eapol.packet_type() == eapol::PacketType::EapPacket
                && matches!(
                    code,
                    eap::Code::Request | eap::Code::Success | eap::Code::Failure
                )
            {
                self.authenticator = Some(src);
            }
        }
        self.poll_next = true;
        Ok(Next::Frame(src, frame))
    }

    fn stepped(&mut self) {
        for step in self.link.steps().get(self.reported..).unwrap_or(&[]) {
            (self.on_step)(self.origin.elapsed(), step);
        }
        self.reported = self.link.steps().len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked_before_any_syscall() {
        for bad in ["", "a/b", "has space", "sixteen-chars-xx"] {
            assert!(
                matches!(ifreq_for(bad), Err(LinkError::InvalidName(_))),
                "{bad:?} accepted"
            );
        }
        let req = ifreq_for("veth0").expect("valid name");
        assert_eq!(
            req.ifr_name[..6],
            [b'v', b'e', b't', b'h', b'0', 0].map(|b| b as libc::c_char)
        );
    }

    #[test]
    fn missing_interface_is_a_typed_error() {
        match EapolLink::open("lk-missing0") {
            Err(LinkError::NoSuchInterface(n)) => assert_eq!(n, "lk-missing0"),
            // Without CAP_NET_RAW the socket itself is refused first.
            Err(LinkError::PermissionDenied(_)) => {}
            other => panic!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn mac_is_printed_colon_separated() {
        assert_eq!(mac_string(&PAE_GROUP_ADDR), "01:80:c2:00:00:03");
    }
}
