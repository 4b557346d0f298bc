//! The arguments of every `latchkey-sim` subcommand, as clap derive structs: what an admin
//! types, before any of it is read, resolved or checked. The command line that holds them is
//! [`crate::cli::command`]; the client configuration every network subcommand flattens is
//! [`crate::cli::config::ClientArgs`], the capture flags [`crate::cli::capture::CaptureArgs`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use latchkey_core::wpa::Akm;
use zeroize::Zeroizing;

use crate::auth::radius::{self, attr};
use crate::auth::relay::{RelayError, MAX_CONVERSATION};
use crate::cli::capture::CaptureArgs;
use crate::cli::config::{ClientArgs, TlsArg};
use crate::fleet::Scenario;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Tls {
    /// TLS 1.2 only.
    #[value(name = "1.2")]
    V12,
    /// TLS 1.3 only.
    #[value(name = "1.3")]
    V13,
    /// One authentication with each version.
    Both,
}

/// `demo`'s arguments.
#[derive(Args)]
pub struct DemoArgs {
    /// Which TLS versions to run.
    #[arg(long, value_enum, default_value = "both")]
    pub tls: Tls,
    /// EAP-TLS fragment size of the supplicant.
    #[arg(long, default_value_t = 1398)]
    pub fragment_size: usize,
    /// EAP-TLS fragment size of the simulated server.
    #[arg(long, default_value_t = 1024)]
    pub server_fragment_size: usize,
    /// Print only the summary lines.
    #[arg(long)]
    pub quiet: bool,
    /// `--pcap`, `--keylog`.
    #[command(flatten)]
    pub capture: CaptureArgs,
    /// AKM of the WPA key handshakes that end the demo: 1 (802.1X), 5 (802.1X-SHA256,
    /// WPA3-Enterprise) or 12 (Suite B 192-bit).
    #[arg(long, default_value = "5")]
    pub akm: AkmArg,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum AkmArg {
    /// 802.1X (WPA2-Enterprise).
    #[value(name = "1")]
    A1,
    /// 802.1X-SHA256 (WPA3-Enterprise).
    #[value(name = "5")]
    A5,
    /// 802.1X Suite B 192-bit (WPA3-Enterprise 192-bit).
    #[value(name = "12")]
    A12,
}

impl AkmArg {
    pub fn akm(self) -> Akm {
        match self {
            AkmArg::A1 => Akm::Ieee8021x,
            AkmArg::A5 => Akm::Ieee8021xSha256,
            AkmArg::A12 => Akm::SuiteB192,
        }
    }
}

/// `radius`'s arguments.
#[derive(Args)]
pub struct RadiusCmdArgs {
    /// The RADIUS server and the relay's settings.
    #[command(flatten)]
    pub radius: RadiusArgs,
    /// The supplicant's configuration (CA, server name, identity, slot table...).
    #[command(flatten)]
    pub client: Box<ClientArgs>,
    /// Print one JSON object with the result instead of the log.
    #[arg(long)]
    pub json: bool,
    /// `--pcap`, `--keylog`.
    #[command(flatten)]
    pub capture: CaptureArgs,
}

/// `enroll`'s arguments.
#[derive(Args)]
pub struct EnrollArgs {
    /// The slot table file (the device's flash image of its certificate table).
    #[arg(long, value_name = "FILE")]
    pub table: PathBuf,
    /// First use only: create the table file with this certificate (PEM or DER, intermediates
    /// after the leaf) as its active slot, then enroll.
    #[arg(long, value_name = "CERT", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM or DER: PKCS#8, SEC1 or PKCS#1).
    #[arg(long, value_name = "KEY", requires = "cert")]
    pub key: Option<PathBuf>,
    /// The slot whose certificate is renewed (default: the newest active one).
    #[arg(long, value_name = "N")]
    pub slot: Option<usize>,
    /// Write the request (PEM) to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `install`'s arguments.
#[derive(Args)]
pub struct InstallArgs {
    /// The slot table file holding the pending renewal.
    #[arg(long, value_name = "FILE")]
    pub table: PathBuf,
    /// The certificate the CA issued for the request (PEM or DER; intermediates after it are
    /// kept in the slot).
    #[arg(long, value_name = "CERT")]
    pub cert: PathBuf,
    /// Intermediate CA certificate file(s) to keep after it (leaf's issuer first); repeatable.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
}

/// `table`'s arguments.
#[derive(Args)]
pub struct TableArgs {
    /// The slot table file.
    #[arg(long, value_name = "FILE")]
    pub table: PathBuf,
}

/// `rogue`'s arguments.
#[derive(Args)]
pub struct RogueArgs {
    /// Scenario name, or `all`.
    #[arg(required_unless_present = "list")]
    pub scenario: Option<String>,
    /// List the scenarios and the refusal each must get.
    #[arg(long)]
    pub list: bool,
    /// Print every frame exchanged.
    #[arg(long)]
    pub frames: bool,
}

/// How to reach the RADIUS server, flattened into a subcommand.
#[derive(Args, Debug, Clone)]
pub struct RadiusArgs {
    /// RADIUS server: HOST, HOST:PORT or [IPv6]:PORT, host names resolved, port 1812 unless
    /// given (eapol_test's -a).
    #[arg(
        long = "radius",
        short = 'a',
        value_name = "HOST[:PORT]",
        default_value = "127.0.0.1:1812",
        value_parser = parse_server
    )]
    pub server: SocketAddr,
    /// The server's authentication port, overriding the one in --radius (eapol_test's -p).
    #[arg(long, short = 'p', value_name = "PORT")]
    pub port: Option<u16>,
    /// Calling-Station-Id of the Access-Requests: the device's MAC address, aa:bb:cc:dd:ee:ff
    /// or aa-bb-cc-dd-ee-ff (eapol_test's -M; default 02-00-00-00-00-01, the simulated station).
    #[arg(long, short = 'M', value_name = "MAC", value_parser = parse_mac)]
    pub calling_station_id: Option<[u8; 6]>,
    /// Give up on the whole conversation after this many seconds (eapol_test's -t; default
    /// 120, the supplicant's own timers still apply inside it).
    #[arg(long, short = 't', value_name = "SECONDS")]
    pub overall_timeout: Option<u64>,
    /// An extra attribute for every Access-Request, eapol_test's -N syntax: TYPE:s:TEXT,
    /// TYPE:d:INTEGER or TYPE:x:HEX (e.g. 30:s:00-11-22-33-44-55:corp for Called-Station-Id);
    /// repeatable. EAP-Message and Message-Authenticator are the relay's own.
    #[arg(long = "attribute", short = 'N', value_name = "TYPE:s|d|x:VALUE", value_parser = parse_attribute)]
    pub attributes: Vec<(u8, Vec<u8>)>,
    /// RADIUS shared secret between this authenticator and the server (visible to other
    /// local users in the process list: prefer --secret-file).
    #[arg(
        long,
        short = 's',
        value_name = "SECRET",
        required_unless_present = "secret_file",
        conflicts_with = "secret_file"
    )]
    pub secret: Option<String>,
    /// File holding the RADIUS shared secret (its first line).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<std::path::PathBuf>,
    /// How long to wait for each reply, in milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub timeout_ms: u64,
    /// Retransmissions of an unanswered Access-Request before giving up.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub retries: u32,
}

/// `--radius`: an address, or a host name resolved now; port 1812 when none is given.
fn parse_server(s: &str) -> Result<SocketAddr, String> {
    use std::net::{IpAddr, ToSocketAddrs};
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    let has_port = s
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
    let found = if has_port {
        s.to_socket_addrs()
    } else {
        (s, DEFAULT_PORT).to_socket_addrs()
    };
    // IPv4 first when a name has both, as eapol_test resolves.
    let mut addrs: Vec<SocketAddr> = found
        .map_err(|e| format!("cannot resolve {s}: {e}"))?
        .collect();
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs
        .first()
        .copied()
        .ok_or_else(|| format!("{s} has no address"))
}

/// RADIUS authentication's port (RFC 2865 §3).
pub const DEFAULT_PORT: u16 = 1812;

/// `-N`: `TYPE:s:TEXT`, `TYPE:d:INTEGER` (4 bytes) or `TYPE:x:HEX`, as eapol_test reads it.
fn parse_attribute(s: &str) -> Result<(u8, Vec<u8>), String> {
    let mut parts = s.splitn(3, ':');
    let (Some(t), Some(syntax), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{s}: want TYPE:s|d|x:VALUE"));
    };
    let t: u8 = t
        .parse()
        .ok()
        .filter(|t| *t != 0)
        .ok_or_else(|| format!("{s}: {t} is not an attribute type (1-255)"))?;
    if t == attr::EAP_MESSAGE || t == attr::MESSAGE_AUTHENTICATOR {
        return Err(format!(
            "{s}: EAP-Message and Message-Authenticator are the relay's own"
        ));
    }
    let bytes = match syntax {
        "s" => value.as_bytes().to_vec(),
        "d" => value
            .parse::<u32>()
            .map_err(|e| format!("{s}: {e}"))?
            .to_be_bytes()
            .to_vec(),
        "x" => {
            let digits: Vec<char> = value.chars().collect();
            if digits.len() % 2 != 0 {
                return Err(format!("{s}: odd number of hex digits"));
            }
            digits
                .chunks(2)
                .map(|p| {
                    let pair: String = p.iter().collect();
                    u8::from_str_radix(&pair, 16).map_err(|_| format!("{s}: {pair} is not hex"))
                })
                .collect::<Result<_, _>>()?
        }
        other => return Err(format!("{s}: syntax {other} is not s, d or x")),
    };
    if bytes.is_empty() || bytes.len() > radius::MAX_ATTR_VALUE {
        return Err(format!(
            "{s}: a value is 1 to {} bytes",
            radius::MAX_ATTR_VALUE
        ));
    }
    Ok((t, bytes))
}

/// `-M`: six hex octets separated by `:` or `-`.
fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let octets: Vec<&str> = s.split([':', '-']).collect();
    let mut mac = [0u8; 6];
    if octets.len() != 6 {
        return Err(format!("{s}: want six octets like 02:00:00:00:00:01"));
    }
    for (o, text) in mac.iter_mut().zip(octets) {
        *o = u8::from_str_radix(text, 16)
            .ok()
            .filter(|_| text.len() == 2)
            .ok_or_else(|| format!("{s}: {text} is not a hex octet"))?;
    }
    Ok(mac)
}

impl RadiusArgs {
    /// The relay to `server` with shared `secret` and the command line's defaults (2 000 ms
    /// per request, 2 retransmissions, no extra attributes), as a program or test builds it.
    pub fn new(server: SocketAddr, secret: String) -> Self {
        RadiusArgs {
            server,
            secret: Some(secret),
            secret_file: None,
            timeout_ms: 2000,
            retries: 2,
            port: None,
            calling_station_id: None,
            overall_timeout: None,
            attributes: Vec::new(),
        }
    }

    /// The server's address with `--port` applied.
    pub fn server_addr(&self) -> SocketAddr {
        match self.port {
            Some(p) => SocketAddr::new(self.server.ip(), p),
            None => self.server,
        }
    }

    /// Why the conversation ended at its time limit.
    pub(crate) fn timed_out(&self) -> RelayError {
        match self.overall_timeout {
            Some(seconds) => RelayError::OverallTimeout { seconds },
            None => RelayError::Stalled,
        }
    }

    /// The conversation's time limit.
    pub(crate) fn limit(&self) -> Duration {
        self.overall_timeout
            .map(Duration::from_secs)
            .unwrap_or(MAX_CONVERSATION)
    }

    /// The shared secret, from `--secret` or the first line of `--secret-file`.
    pub fn shared_secret(&self) -> Result<Zeroizing<Vec<u8>>, RelayError> {
        match (&self.secret, &self.secret_file) {
            (Some(s), _) => Ok(Zeroizing::new(s.as_bytes().to_vec())),
            (None, Some(path)) => {
                let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|error| {
                    RelayError::SecretFile {
                        path: path.clone(),
                        error,
                    }
                })?);
                let line = text.lines().next().unwrap_or("");
                if line.is_empty() {
                    return Err(RelayError::SecretFile {
                        path: path.clone(),
                        error: std::io::Error::new(std::io::ErrorKind::InvalidData, "empty"),
                    });
                }
                Ok(Zeroizing::new(line.as_bytes().to_vec()))
            }
            (None, None) => Err(RelayError::SecretFile {
                path: Default::default(),
                error: std::io::Error::new(std::io::ErrorKind::NotFound, "no secret given"),
            }),
        }
    }
}

/// The `connect` subcommand's arguments.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// The wired interface to authenticate on (e.g. eth0); needs CAP_NET_RAW.
    #[arg(long, value_name = "IFACE")]
    pub iface: String,
    /// The supplicant's configuration (CA, server name, identity, slot table...).
    #[command(flatten)]
    pub client: ClientArgs,
    /// Give up after this many seconds. The default outlasts the supplicant's own timers
    /// (maxStart 3 EAPOL-Starts 30 s apart, authPeriod 30 s), so they end a failed attempt
    /// with its precise reason first.
    #[arg(long, default_value_t = 100, value_name = "SECONDS")]
    pub timeout: u64,
    /// Print one JSON object instead of the frame-by-frame text.
    #[arg(long)]
    pub json: bool,
    /// `--pcap`, `--keylog`.
    #[command(flatten)]
    pub capture: crate::cli::capture::CaptureArgs,
}

/// `soak`'s arguments.
#[derive(Args, Debug, Clone)]
pub struct SoakArgs {
    /// Number of authentications.
    #[arg(long, default_value_t = 200)]
    pub runs: usize,
    /// Seed of the first run (run i uses seed + i).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Probability that a frame is lost (each direction).
    #[arg(long, default_value_t = 0.10)]
    pub loss: f64,
    /// Probability that a frame is delivered twice.
    #[arg(long, default_value_t = 0.05)]
    pub dup: f64,
    /// Each frame is delayed by 1 ms to this many ms at random, so frames overtake each other.
    #[arg(long, default_value_t = 400)]
    pub reorder_ms: u64,
    /// Probability that one bit of a frame is flipped.
    #[arg(long, default_value_t = 0.0)]
    pub flip: f64,
    /// Probability that a frame is cut short at a random length.
    #[arg(long, default_value_t = 0.0)]
    pub truncate: f64,
    /// Probability, per run, that the authenticator restarts (new server, in-flight frames
    /// lost) at a random point of the conversation: half of them announced with a new Identity
    /// request, half silent (the new authenticator waits for an EAPOL-Start).
    #[arg(long, default_value_t = 0.0)]
    pub restart: f64,
    /// Probability, per run, that the link flaps at a random point of the handshake: down
    /// (frames in flight and sent meanwhile lost, the supplicant told `link_down`, the
    /// authenticator's port reset) for 1 ms to `--flap-down-ms`, then up again.
    #[arg(long, default_value_t = 0.0)]
    pub flap: f64,
    /// Longest a flap keeps the link down, in milliseconds.
    #[arg(long, default_value_t = 2_000)]
    pub flap_down_ms: u64,
    /// Wall-clock bound on the whole soak, in seconds: runs not started by then are skipped
    /// (and reported).
    #[arg(long, default_value_t = 900)]
    pub time_limit_s: u64,
    /// TLS versions: runs alternate between 1.3 and 1.2 with `both`.
    #[arg(long, default_value = "both", value_parser = ["1.2", "1.3", "both"])]
    pub tls: String,
}

impl SoakArgs {
    /// The defaults (200 runs at 10 % loss, 5 % duplication, reordering).
    pub fn defaults() -> Self {
        SoakArgs {
            runs: 200,
            seed: 1,
            loss: 0.10,
            dup: 0.05,
            reorder_ms: 400,
            flip: 0.0,
            truncate: 0.0,
            restart: 0.0,
            flap: 0.0,
            flap_down_ms: 2_000,
            time_limit_s: 900,
            tls: "both".into(),
        }
    }
}

/// `fleet`'s arguments.
#[derive(Args, Debug, Clone)]
pub struct FleetArgs {
    /// The fleet PKI directory, written by `latchkey-sim fleet-pki` (the server must load its
    /// server certificate and its CA file with the CRL, CRL checking on).
    #[arg(long, value_name = "DIR")]
    pub pki: PathBuf,
    /// Devices to run (the PKI's first N).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub devices: usize,
    /// The scenario.
    #[arg(long, value_enum, default_value = "renewal-wave")]
    pub scenario: Scenario,
    /// Devices authenticating at once (1-256).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,
    /// Bound on the whole run, seconds: devices not started by then are reported as not
    /// started (and fail the run); each started one ends within its own bound (-t).
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub time_limit_s: u64,
    /// Run the same devices as `eapol_test` processes afterwards (same concurrency, each with
    /// the certificate its table would choose) and print both side by side.
    #[arg(long)]
    pub compare_eapol_test: bool,
    /// TLS versions the devices offer.
    #[arg(long, value_enum, default_value = "both")]
    pub tls: TlsArg,
    /// Print one JSON object (the `fleet` report) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// The RADIUS server (-a/-p/-s/--secret-file/--timeout-ms/--retries as for `radius`; -t
    /// bounds each device, default 30 s; -M is per device and cannot be given).
    #[command(flatten)]
    pub radius: RadiusArgs,
}

/// `fleet-pki`'s arguments.
#[derive(Args, Debug, Clone)]
pub struct FleetPkiArgs {
    /// Directory to write the PKI into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Devices (each an old, revoked certificate and a renewed one).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub devices: usize,
}
