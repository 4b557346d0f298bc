//! File-based client configuration for the `latchkey-sim` commands that talk to real networks:
//! CA files, server name, outer identity, the slot table (certificate + key files, each active
//! or archived), TLS version range and fragment size, read from the command line into the
//! supplicant's `Config`, server policy and slot table, from which [`ClientFiles::supplicant`]
//! builds a supplicant. Every bad input is a one-line typed error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use latchkey_core::certs::{
    InlineKey, KeyError, KeyRef, SharedSlotTable, SlotIndex, SlotState, SlotTable,
};
use latchkey_core::eap::peer::IdentityPrivacy;
use latchkey_core::supplicant::{Config, Supplicant};
use latchkey_core::tls::server_policy::{NameMatch, Pin, ServerPolicy, MAX_NAME_RULES};
use latchkey_core::tls::VersionPolicy;
use latchkey_core::SupplicantBuilder;
use p256::pkcs8::der::Decode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sec1::EcPrivateKey;

use crate::hal::memory::host_crypto;

/// How many `--slot` flags the command line takes: the slots of [`FileSlotTable`].
pub const FILE_SLOTS: usize = 4;

/// The slot table the command line fills: 4 slots (a renewal needs two; room for restores) of
/// up to 4 KiB of certificates each, leaf and intermediates: an RSA-2048 leaf is ~1.3 KB and an
/// RSA-2048 issuing CA signed by an RSA-4096 root ~1.4 KB, which 2 KiB would not hold. A
/// larger chain is refused with a typed error; the table is about 17 KB of host memory.
pub type FileSlotTable = SharedSlotTable<FILE_SLOTS, FILE_CERT_MAX>;

/// Bytes of certificates (leaf and intermediates) a slot of [`FileSlotTable`] holds.
pub const FILE_CERT_MAX: usize = 4096;

/// Where the password of an encrypted key or PKCS#12 file comes from, in the syntax of
/// openssl's `-passin`: `env:VAR`, `file:PATH` (its first line), `pass:PASSWORD` (visible to
/// other users of the machine: prefer the others) or `stdin` (one line).
#[derive(Clone, PartialEq, Eq)]
pub enum PassSource {
    /// An environment variable.
    Env(String),
    /// The first line of a file.
    File(PathBuf),
    /// The password itself.
    Literal(zeroize::Zeroizing<String>),
    /// One line read from standard input.
    Stdin,
}

impl std::fmt::Debug for PassSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassSource::Env(v) => write!(f, "env:{v}"),
            PassSource::File(p) => write!(f, "file:{}", p.display()),
            // Never printed.
            PassSource::Literal(_) => f.write_str("pass:<hidden>"),
            PassSource::Stdin => f.write_str("stdin"),
        }
    }
}

impl std::str::FromStr for PassSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some(("env", v)) if !v.is_empty() => Ok(PassSource::Env(v.into())),
            Some(("file", p)) if !p.is_empty() => Ok(PassSource::File(p.into())),
            Some(("pass", p)) => Ok(PassSource::Literal(zeroize::Zeroizing::new(p.into()))),
            None if s == "stdin" => Ok(PassSource::Stdin),
            _ => Err("expected env:VAR, file:PATH, pass:PASSWORD or stdin".into()),
        }
    }
}

impl PassSource {
    /// The password (a trailing newline removed).
    fn read(&self) -> Result<zeroize::Zeroizing<String>, ConfigError> {
        let failed = |reason: String| ConfigError::PassSource {
            source: format!("{self:?}"),
            reason,
        };
        let mut text = zeroize::Zeroizing::new(match self {
            PassSource::Env(v) => {
                std::env::var(v).map_err(|_| failed("the variable is not set".into()))?
            }
            PassSource::File(p) => std::fs::read_to_string(p).map_err(|e| failed(e.to_string()))?,
            PassSource::Literal(p) => p.to_string(),
            PassSource::Stdin => {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| failed(e.to_string()))?;
                line
            }
        });
        if let Some(end) = text.find(['\r', '\n']) {
            text.truncate(end);
        }
        Ok(text)
    }
}

/// The TLS versions offered, on the command line (as `latchkey-sim demo --tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsArg {
    /// TLS 1.2 only.
    #[value(name = "1.2")]
    V12,
    /// TLS 1.3 only.
    #[value(name = "1.3")]
    V13,
    /// TLS 1.2 or 1.3, the server picks (1.3 preferred).
    Both,
}

/// The state a slot is loaded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotStateArg {
    /// Selectable.
    Active,
    /// Kept, never selected (a renewed certificate's predecessor).
    Archived,
}

/// One `--slot STATE:CERT:KEY` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSpec {
    /// The state the slot is loaded in.
    pub state: SlotStateArg,
    /// Certificate file, PEM or DER: the leaf, then optionally its intermediate CA
    /// certificates (each the issuer of the one before; the root left out). Or a PKCS#12
    /// (.p12/.pfx) file holding the certificate, its chain and its key.
    pub cert: PathBuf,
    /// Private key file, PEM or DER (PKCS#8, encrypted PKCS#8, SEC1 or PKCS#1; ECDSA P-256 or
    /// P-384, RSA 2048-4096). The certificate file itself when that is PKCS#12.
    pub key: PathBuf,
}

impl std::str::FromStr for SlotSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.splitn(3, ':');
        let (state, cert, key) = match (parts.next(), parts.next(), parts.next()) {
            (Some(st), Some(c), Some(k)) if !c.is_empty() && !k.is_empty() => (st, c, k),
            // STATE:FILE: a PKCS#12 file holds both (checked when it is read).
            (Some(st), Some(c), None) if !c.is_empty() => (st, c, c),
            _ => {
                return Err(
                    "expected STATE:CERT_FILE:KEY_FILE or STATE:PKCS12_FILE (STATE \
                            active or archived)"
                        .into(),
                )
            }
        };
        let state = match state {
            "active" => SlotStateArg::Active,
            "archived" => SlotStateArg::Archived,
            other => {
                return Err(format!(
                    "slot state {other:?} is neither active nor archived"
                ))
            }
        };
        Ok(SlotSpec {
            state,
            cert: cert.into(),
            key: key.into(),
        })
    }
}

/// `cert:HEX` or `spki:HEX`, 64 hex digits of SHA-256.
fn parse_pin(s: &str) -> Result<Pin, String> {
    let (kind, hex) = s
        .split_once(':')
        .ok_or_else(|| format!("pin {s:?} is not cert:HEX or spki:HEX"))?;
    let mut digest = [0u8; 32];
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(format!("pin {s:?}: want 64 hex digits of SHA-256"));
    }
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| format!("pin {s:?}: not hexadecimal"))?;
    }
    match kind {
        "cert" => Ok(Pin::CertSha256(digest)),
        "spki" => Ok(Pin::SpkiSha256(digest)),
        _ => Err(format!("pin {s:?}: kind must be cert or spki")),
    }
}

/// The supplicant's configuration from files, flattened into a subcommand with
/// `#[command(flatten)]`.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// CA certificate file (PEM, may hold several) the server's chain must lead to; repeatable.
    #[arg(long = "ca", value_name = "FILE", required = true)]
    pub ca: Vec<PathBuf>,
    /// DNS name the server certificate must carry (SAN dNSName), e.g. radius.example.org;
    /// repeatable (any one matching is enough).
    #[arg(long, value_name = "NAME")]
    pub server_name: Vec<String>,
    /// Domain the server certificate's name must be or end in (like wpa_supplicant's
    /// domain_suffix_match), e.g. example.org; repeatable.
    #[arg(long, value_name = "DOMAIN")]
    pub domain_suffix: Vec<String>,
    /// Outer EAP identity (e.g. anonymous@example.org or the device's name).
    #[arg(long, value_name = "IDENTITY")]
    pub identity: String,
    /// Send only the realm of --identity as the outer identity (`@example.org`, RFC 9190
    /// §2.1.8): the device's name then travels only in its certificate, which TLS 1.3 encrypts.
    #[arg(long)]
    pub anonymous_identity: bool,
    /// Pin the server certificate, on top of the CA and name checks: `cert:HEX` (SHA-256 of the
    /// certificate DER) or `spki:HEX` (SHA-256 of its public key, which survives re-issuance);
    /// repeatable (any one matching is enough).
    #[arg(long = "pin", value_name = "cert:HEX|spki:HEX", value_parser = parse_pin)]
    pub pins: Vec<Pin>,
    /// A slot of the certificate table: STATE:CERT_FILE:KEY_FILE, or STATE:FILE.pfx for a
    /// PKCS#12 file holding both; STATE `active` or `archived`; repeatable (at most 4), in
    /// enrollment order (oldest first). Certificates: PEM or DER, intermediates after the leaf.
    /// Keys: PEM or DER, PKCS#8 (ECDSA P-256/P-384, RSA 2048-4096; encrypted too), SEC1
    /// (P-256/P-384) or PKCS#1 (RSA).
    #[arg(
        long = "slot",
        value_name = "STATE:CERT:KEY",
        required_unless_present = "table"
    )]
    pub slots: Vec<SlotSpec>,
    /// The certificate slots from a slot table file (what `latchkey-sim enroll` and `install`
    /// keep, as a device keeps its table in flash) instead of --slot flags.
    #[arg(long = "table", value_name = "FILE", conflicts_with = "slots")]
    pub table: Option<PathBuf>,
    /// The password of encrypted key files and PKCS#12 files, as openssl's -passin:
    /// env:VAR, file:PATH, pass:PASSWORD or stdin.
    #[arg(long = "key-pass", value_name = "SOURCE")]
    pub key_pass: Option<PassSource>,
    /// Intermediate CA certificate file (PEM) sent after the chosen client certificate;
    /// repeatable.
    #[arg(long = "chain", value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    /// TLS versions offered.
    #[arg(long, value_enum, default_value = "both")]
    pub tls: TlsArg,
    /// EAP-TLS fragment size (bytes of TLS data per EAP-Response).
    #[arg(long, default_value_t = 1398, value_name = "BYTES")]
    pub fragment_size: usize,
    /// authPeriod (802.1X-2010 §8): how long the supplicant waits for the authenticator during
    /// authentication before it gives up, in milliseconds.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    pub auth_period_ms: u64,
}

/// Why the configuration could not be built. Each names the file or flag to fix.
#[derive(Debug)]
pub enum ConfigError {
    /// A file could not be read.
    Unreadable {
        /// What the file was for ("CA file", "certificate", ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// A file held no usable PEM object of the expected kind.
    NoPem {
        /// What was expected.
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A file is in a format other than the one expected there (a PKCS#12 file given as a
    /// key, a certificate given as a key...).
    WrongFormat {
        /// The file.
        path: PathBuf,
        /// What it is, and what to do.
        hint: &'static str,
    },
    /// An encrypted key or PKCS#12 file, and no `--key-pass`.
    PasswordRequired {
        /// The file.
        path: PathBuf,
    },
    /// The password does not open the file.
    WrongPassword {
        /// The file.
        path: PathBuf,
    },
    /// The `--key-pass` source could not be read.
    PassSource {
        /// The source, as given (a literal password is not shown).
        source: String,
        /// Why.
        reason: String,
    },
    /// A PKCS#12 file that could not be used.
    Pkcs12 {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// More `--slot` flags than the table has slots.
    TooManySlots {
        /// How many were given.
        given: usize,
        /// How many the table holds.
        max: usize,
    },
    /// A private key the table cannot hold (its format, algorithm or size).
    BadKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A certificate in a slot's file is not a well-formed X.509 certificate (RFC 5280).
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// Which certificate of the file, and why.
        reason: String,
    },
    /// The slot table refused a certificate (its own reason).
    Slot {
        /// The certificate file.
        path: PathBuf,
        /// The table's reason.
        reason: String,
    },
    /// Two active certificates of the same identity: the table keeps one active per identity.
    ActiveConflict {
        /// The certificate that could not stay active.
        path: PathBuf,
    },
    /// The `--table` file could not be used (its own kind and message).
    Table {
        /// The table file error's kind.
        kind: &'static str,
        /// Its message.
        message: String,
    },
    /// Neither `--server-name` nor `--domain-suffix`: the server could not be authenticated.
    NoServerName,
    /// A name rule is not a DNS name.
    BadName(String),
    /// More name rules than the policy holds.
    TooManyNames,
    /// Fragment size out of range.
    FragmentSize(usize),
    /// The identity does not fit.
    Identity,
    /// The TLS client configuration was refused (bad CA, bad server name...).
    Setup(latchkey_core::tls::SetupError),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Unreadable { what, path, error } => {
                write!(f, "cannot read {what} {}: {error}", path.display())
            }
            ConfigError::NoPem { what, path } => {
                write!(f, "no PEM {what} found in {}", path.display())
            }
            ConfigError::WrongFormat { path, hint } => write!(f, "{}: {hint}", path.display()),
            ConfigError::PasswordRequired { path } => write!(
                f,
                "{} is encrypted: give its password with --key-pass env:VAR, file:PATH or stdin",
                path.display()
            ),
            ConfigError::WrongPassword { path } => write!(
                f,
                "{}: wrong password (the --key-pass given does not open it)",
                path.display()
            ),
            ConfigError::PassSource { source, reason } => {
                write!(
                    f,
                    "cannot read the password from --key-pass {source}: {reason}"
                )
            }
            ConfigError::Pkcs12 { path, reason } => {
                write!(f, "PKCS#12 file {} unusable: {reason}", path.display())
            }
            ConfigError::TooManySlots { given, max } => write!(
                f,
                "{given} --slot flags, the table holds {max}: give at most {max} (drop the \
                 oldest archived ones)"
            ),
            ConfigError::BadKey { path, reason } => {
                write!(f, "private key {} unusable: {reason}", path.display())
            }
            ConfigError::BadCertificate { path, reason } => {
                write!(f, "{}: {reason}", path.display())
            }
            ConfigError::Slot { path, reason } => write!(f, "{}: {reason}", path.display()),
            ConfigError::ActiveConflict { path } => write!(
                f,
                "{} cannot be active: another active certificate has the same identity \
                 (archive one of them)",
                path.display()
            ),
            ConfigError::Table { message, .. } => f.write_str(message),
            ConfigError::NoServerName => f.write_str(
                "no --server-name or --domain-suffix: refusing to authenticate a server by its \
                 CA alone",
            ),
            ConfigError::BadName(n) => write!(f, "server name rule {n:?} is not a DNS name"),
            ConfigError::TooManyNames => write!(
                f,
                "more than {MAX_NAME_RULES} --server-name/--domain-suffix rules"
            ),
            ConfigError::FragmentSize(n) => {
                write!(f, "--fragment-size {n} out of range (64..=16384)")
            }
            ConfigError::Identity => f.write_str("--identity is empty or too long"),
            ConfigError::Setup(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// A short, stable name of the cause (for `--json`).
    pub fn kind(&self) -> &'static str {
        match self {
            ConfigError::Unreadable { .. } => "unreadable-file",
            ConfigError::NoPem { .. } => "no-pem",
            ConfigError::WrongFormat { .. } => "wrong-format",
            ConfigError::PasswordRequired { .. } => "password-required",
            ConfigError::WrongPassword { .. } => "wrong-password",
            ConfigError::PassSource { .. } => "password-source",
            ConfigError::Pkcs12 { .. } => "bad-pkcs12",
            ConfigError::TooManySlots { .. } => "too-many-slots",
            ConfigError::BadKey { .. } => "bad-key",
            ConfigError::BadCertificate { .. } => "bad-certificate",
            ConfigError::Slot { .. } => "slot-refused",
            ConfigError::ActiveConflict { .. } => "active-conflict",
            ConfigError::Table { kind, .. } => kind,
            ConfigError::NoServerName => "no-server-name",
            ConfigError::BadName(_) => "bad-server-name",
            ConfigError::TooManyNames => "too-many-names",
            ConfigError::FragmentSize(_) => "fragment-size",
            ConfigError::Identity => "identity",
            ConfigError::Setup(_) => "tls-setup",
        }
    }
}

/// A loaded slot, for logs.
#[derive(Debug, Clone)]
pub struct LoadedSlot {
    /// Where it sits in the table.
    pub index: SlotIndex,
    /// Its state.
    pub state: SlotState,
    /// The file it came from.
    pub cert: PathBuf,
}

/// Everything a supplicant needs, built from [`ClientArgs`].
pub struct ClientFiles {
    /// Supplicant settings (identity, fragment size; default timers).
    pub config: Config,
    /// How the server is authenticated (anchors, names, pins).
    pub policy: ServerPolicy,
    /// Intermediate CA certificates sent after the chosen leaf (DER, loaded once for the life
    /// of the process, as a device keeps them in flash).
    pub chain: Vec<&'static [u8]>,
    /// The TLS versions offered.
    pub versions: VersionPolicy,
    /// The slot table (shared with the supplicant).
    pub table: Arc<FileSlotTable>,
    /// Each `--slot`, in order, with where it landed.
    pub slots: Vec<LoadedSlot>,
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|error| ConfigError::Unreadable {
        what,
        path: path.to_owned(),
        error,
    })
}

/// Every certificate in a PEM file, or in a DER file of certificates back to back (at least
/// one).
pub fn read_certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bytes = read(what, path)?;
    certs_from(what, path, &bytes)
}

fn certs_from(
    what: &'static str,
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(bytes)
        .filter_map(Result::ok)
        .collect();
    if !certs.is_empty() {
        return Ok(certs);
    }
    let wrong = |hint| ConfigError::WrongFormat {
        path: path.to_owned(),
        hint,
    };
    if !is_pem(bytes) {
        if let Some(certs) = der_certs(bytes) {
            return Ok(certs);
        }
        if is_pkcs12(bytes) {
            return Err(wrong(
                "file is PKCS#12 (.p12/.pfx): give it as the whole slot, --slot STATE:FILE",
            ));
        }
        if PrivateKeyDer::try_from(bytes).is_ok() || is_encrypted_pkcs8(bytes) {
            return Err(wrong("file is a DER private key, not a certificate"));
        }
    } else if bytes.windows(11).any(|w| w == b"PRIVATE KEY") {
        return Err(wrong("file holds a private key, not a certificate"));
    }
    Err(ConfigError::NoPem {
        what,
        path: path.to_owned(),
    })
}

/// Whether the bytes hold a PEM armour line.
fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// DER certificates back to back, if that is what `bytes` is (each one checked to parse as an
/// X.509 certificate).
fn der_certs(mut bytes: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    let mut certs = Vec::new();
    while !bytes.is_empty() {
        let len = der_len(bytes)?;
        let (one, rest) = bytes.split_at_checked(len)?;
        let cert = CertificateDer::from(one.to_vec());
        webpki::EndEntityCert::try_from(&cert).ok()?;
        certs.push(cert);
        bytes = rest;
    }
    (!certs.is_empty()).then_some(certs)
}

/// The length, header included, of the DER SEQUENCE `bytes` starts with.
fn der_len(bytes: &[u8]) -> Option<usize> {
    use p256::pkcs8::der::{Encode, Header, SliceReader, Tag};
    let mut r = SliceReader::new(bytes).ok()?;
    let header = Header::decode(&mut r).ok()?;
    if header.tag != Tag::Sequence {
        return None;
    }
    let total = (header.encoded_len().ok()? + header.length).ok()?;
    let total = usize::try_from(total).ok()?;
    (total <= bytes.len()).then_some(total)
}

/// Whether `bytes` is a PKCS#12 PFX (RFC 7292 §4: SEQUENCE { version INTEGER (3), ... }).
fn is_pkcs12(bytes: &[u8]) -> bool {
    use p256::pkcs8::der::{Header, SliceReader, Tag};
    let Ok(mut r) = SliceReader::new(bytes) else {
        return false;
    };
    match Header::decode(&mut r) {
        Ok(h) if h.tag == Tag::Sequence => {}
        _ => return false,
    }
    matches!(u8::decode(&mut r), Ok(3))
}

/// Whether `bytes` is a DER EncryptedPrivateKeyInfo (RFC 5958 §3).
fn is_encrypted_pkcs8(bytes: &[u8]) -> bool {
    pkcs8::EncryptedPrivateKeyInfo::try_from(bytes).is_ok()
}

/// The DER of the first `-----BEGIN ENCRYPTED PRIVATE KEY-----` block, if any.
fn encrypted_pem(bytes: &[u8]) -> Option<Result<Vec<u8>, ()>> {
    const BEGIN: &[u8] = b"-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &[u8] = b"-----END ENCRYPTED PRIVATE KEY-----";
    let start = bytes.windows(BEGIN.len()).position(|w| w == BEGIN)?;
    let tail = bytes.get(start..)?;
    let Some(end) = tail.windows(END.len()).position(|w| w == END) else {
        return Some(Err(()));
    };
    let block = tail.get(..end + END.len())?;
    Some(
        pkcs8::der::pem::decode_vec(block)
            .map(|(_, der)| der)
            .map_err(|_| ()),
    )
}

/// The password for `path`, read from `--key-pass` once per build.
struct Password<'a> {
    source: Option<&'a PassSource>,
    read: Option<zeroize::Zeroizing<String>>,
}

impl Password<'_> {
    /// The password; `PasswordRequired` naming `path` when none was given.
    fn get(&mut self, path: &Path) -> Result<&str, ConfigError> {
        if self.read.is_none() {
            let source = self.source.ok_or_else(|| ConfigError::PasswordRequired {
                path: path.to_owned(),
            })?;
            self.read = Some(source.read()?);
        }
        Ok(self.read.as_deref().map(String::as_str).unwrap_or(""))
    }
}

/// An encrypted PKCS#8 key (PBES2, RFC 8018) decrypted with the password.
fn decrypt_pkcs8(
    der: &[u8],
    path: &Path,
    password: &mut Password<'_>,
) -> Result<InlineKey, ConfigError> {
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der).map_err(|_| ConfigError::BadKey {
        path: path.to_owned(),
        reason: "not an encrypted PKCS#8 key".into(),
    })?;
    if let pkcs8::pkcs5::EncryptionScheme::Pbes2(params) = &info.encryption_algorithm {
        if let Some(reason) = kdf_too_costly(&params.kdf) {
            return Err(ConfigError::BadKey {
                path: path.to_owned(),
                reason,
            });
        }
    }
    let pass = password.get(path)?;
    // A wrong password shows as a padding or structure error of the decrypted data.
    let doc = info
        .decrypt(pass.as_bytes())
        .map_err(|_| ConfigError::WrongPassword {
            path: path.to_owned(),
        })?;
    key_from_der(PrivateKeyDer::Pkcs8(doc.as_bytes().to_vec().into()), path)
}

/// Most PBKDF2 iterations an encrypted key may ask for (as p12-keystore bounds PKCS#12 files;
/// openssl writes 2 048): beyond it, opening the key would take seconds to minutes.
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;
/// Most memory an encrypted key's scrypt parameters may ask for (128 x r x N x p bytes;
/// openssl's `-scrypt` default N = 16 384, r = 8, p = 1 is 16 MiB).
pub const MAX_SCRYPT_BYTES: u64 = 256 << 20;

/// Why an encrypted key's KDF parameters are refused before any work is done, if they are.
fn kdf_too_costly(kdf: &pkcs8::pkcs5::pbes2::Kdf<'_>) -> Option<String> {
    use pkcs8::pkcs5::pbes2::Kdf;
    match kdf {
        Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ITERATIONS => Some(format!(
            "its PBKDF2 iteration count {} is above {MAX_PBKDF2_ITERATIONS}: re-encrypt it \
             (openssl pkcs8 -topk8 -v2 aes-256-cbc)",
            p.iteration_count
        )),
        Kdf::Scrypt(p) => {
            let bytes = 128u64
                .checked_mul(u64::from(p.block_size))
                .and_then(|b| b.checked_mul(p.cost_parameter))
                .and_then(|b| b.checked_mul(u64::from(p.parallelization)));
            (bytes.is_none_or(|b| b > MAX_SCRYPT_BYTES)).then(|| {
                format!(
                    "its scrypt parameters (N {}, r {}, p {}) need more than {} MiB: re-encrypt \
                     it (openssl pkcs8 -topk8 -v2 aes-256-cbc)",
                    p.cost_parameter,
                    p.block_size,
                    p.parallelization,
                    MAX_SCRYPT_BYTES >> 20
                )
            })
        }
        _ => None,
    }
}

/// The leaf, its intermediates and its key from a PKCS#12 file (RFC 7292). A root CA in the
/// file (self-signed) is left out: it is never sent.
fn read_pkcs12(
    bytes: &[u8],
    path: &Path,
    password: &mut Password<'_>,
) -> Result<(Vec<CertificateDer<'static>>, InlineKey), ConfigError> {
    use p12_keystore::error::Error as P12Error;
    use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};
    let open = |pass: &str| KeyStore::from_pkcs12(bytes, pass, Pkcs12ImportPolicy::Strict);
    let bad_password = |e: &P12Error| {
        matches!(
            e,
            P12Error::MacError(_) | P12Error::UnpadError | P12Error::Pkcs5Error(_)
        )
    };
    let store = match (password.source, open("")) {
        // Exported without a password: no --key-pass needed.
        (None, Ok(store)) => store,
        (None, Err(e)) if bad_password(&e) => {
            return Err(ConfigError::PasswordRequired {
                path: path.to_owned(),
            })
        }
        _ => match open(password.get(path)?) {
            Ok(store) => store,
            Err(e) if bad_password(&e) => {
                return Err(ConfigError::WrongPassword {
                    path: path.to_owned(),
                })
            }
            Err(e) => {
                return Err(ConfigError::Pkcs12 {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })
            }
        },
    };
    let chains: Vec<_> = store
        .entries()
        .filter_map(|(_, e)| match e {
            KeyStoreEntry::PrivateKeyChain(c) => Some(c),
            _ => None,
        })
        .collect();
    let chain = match chains.as_slice() {
        [one] => *one,
        [] => {
            return Err(ConfigError::Pkcs12 {
                path: path.to_owned(),
                reason: "it holds no private key with its certificate".into(),
            })
        }
        many => {
            return Err(ConfigError::Pkcs12 {
                path: path.to_owned(),
                reason: format!(
                    "it holds {} keys; export the one certificate wanted",
                    many.len()
                ),
            })
        }
    };
    let mut certs = Vec::new();
    for (i, c) in chain.certs().iter().enumerate() {
        if i > 0 && c.subject() == c.issuer() {
            continue;
        }
        certs.push(CertificateDer::from(c.as_der().to_vec()));
    }
    if certs.is_empty() {
        return Err(ConfigError::Pkcs12 {
            path: path.to_owned(),
            reason: "its key has no certificate".into(),
        });
    }
    let key = key_from_der(
        PrivateKeyDer::Pkcs8(chain.key().as_der().to_vec().into()),
        path,
    )?;
    Ok((certs, key))
}

/// secp256r1 (RFC 5480 §2.1.1.1).
const P256_OID: p256::pkcs8::ObjectIdentifier =
    p256::pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// A 32-byte P-256 scalar as an [`InlineKey`] (None when it is not one).
fn scalar(bytes: &[u8]) -> Option<InlineKey> {
    let bytes: [u8; 32] = bytes.try_into().ok()?;
    InlineKey::from_bytes(bytes).ok()
}

/// A private key from a PEM file: PKCS#8 ("PRIVATE KEY": ECDSA P-256 or P-384, RSA 2048-4096),
/// SEC1 ("EC PRIVATE KEY": P-256 or P-384) or PKCS#1 ("RSA PRIVATE KEY"); or the same in DER.
/// An encrypted key needs [`read_key_with`].
pub fn read_key(path: &Path) -> Result<InlineKey, ConfigError> {
    read_key_with(path, None)
}

/// [`read_key`], opening an encrypted PKCS#8 key ("ENCRYPTED PRIVATE KEY", PBES2) with the
/// password from `pass`.
pub fn read_key_with(path: &Path, pass: Option<&PassSource>) -> Result<InlineKey, ConfigError> {
    let bytes = read("private key", path)?;
    key_from_bytes(&bytes, path, pass)
}

/// [`read_key_with`] on the contents of a key file already read (`path` only names it in
/// errors): PEM or DER, plain or encrypted PKCS#8, SEC1, PKCS#1, or a PKCS#12 file's key.
pub fn key_from_bytes(
    bytes: &[u8],
    path: &Path,
    pass: Option<&PassSource>,
) -> Result<InlineKey, ConfigError> {
    let mut password = Password {
        source: pass,
        read: None,
    };
    key_from_file(bytes, path, &mut password)
}

/// A slot's credential as `--slot` loads it: the leaf certificate, the intermediates after it
/// in its file (a PKCS#12 file's root left out), and the private key of the leaf.
pub struct SlotCredential {
    /// The leaf first, then its intermediates (DER).
    pub certs: Vec<CertificateDer<'static>>,
    /// The leaf's private key (checked to be the leaf's).
    pub key: InlineKey,
}

/// The files of one `--slot`, already read, as the command line loads them: `cert` is the
/// certificate file's contents (PEM or DER certificates, or a PKCS#12 file holding the key
/// too), `key` the key file's when it is another file (`None`: `STATE:FILE`, the key in the
/// same file), `pass` the `--key-pass`. The paths only name the files in errors.
///
/// Either every part loads and the key belongs to the leaf (installed in a scratch one-slot
/// table of [`FileSlotTable`]'s size: public key, chain links and size checked as the real
/// table checks them), or the one [`ConfigError`] that stopped it: never certificates without
/// their key.
pub fn slot_from_bytes(
    cert_path: &Path,
    cert: &[u8],
    key: Option<(&Path, &[u8])>,
    pass: Option<&PassSource>,
) -> Result<SlotCredential, ConfigError> {
    let mut password = Password {
        source: pass,
        read: None,
    };
    let (certs, key) = slot_parts(cert_path, cert, key, &mut password)?;
    let (leaf, intermediates) = certs.split_first().ok_or(ConfigError::NoPem {
        what: "certificate",
        path: cert_path.to_owned(),
    })?;
    let intermediates: Vec<&[u8]> = intermediates.iter().map(|c| c.as_ref()).collect();
    let mut scratch: Box<SlotTable<1, FILE_CERT_MAX>> = Box::new(SlotTable::new());
    scratch
        .install_chain(leaf, &intermediates, KeyRef::Inline(key.clone()))
        .map_err(|e| ConfigError::Slot {
            path: cert_path.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(SlotCredential { certs, key })
}

fn key_from_file(
    bytes: &[u8],
    path: &Path,
    password: &mut Password<'_>,
) -> Result<InlineKey, ConfigError> {
    let wrong = |hint| ConfigError::WrongFormat {
        path: path.to_owned(),
        hint,
    };
    if let Some(der) = encrypted_pem(bytes) {
        let der = der.map_err(|()| ConfigError::BadKey {
            path: path.to_owned(),
            reason: "its ENCRYPTED PRIVATE KEY block is not valid PEM".into(),
        })?;
        return decrypt_pkcs8(&der, path, password);
    }
    if is_pem(bytes) {
        return match PrivateKeyDer::from_pem_slice(bytes) {
            Ok(key) => key_from_der(key, path),
            Err(_) if bytes.windows(11).any(|w| w == b"CERTIFICATE") => {
                Err(wrong("file holds a certificate, not a private key"))
            }
            Err(_) => Err(ConfigError::NoPem {
                what: "private key",
                path: path.to_owned(),
            }),
        };
    }
    // Not PEM: DER, as Windows and Java tools often write.
    if is_pkcs12(bytes) {
        return read_pkcs12(bytes, path, password).map(|(_, key)| key);
    }
    if is_encrypted_pkcs8(bytes) {
        return decrypt_pkcs8(bytes, path, password);
    }
    if let Ok(key) = PrivateKeyDer::try_from(bytes) {
        return key_from_der(key.clone_key(), path);
    }
    if der_certs(bytes).is_some() {
        return Err(wrong("file is a DER certificate, not a private key"));
    }
    Err(ConfigError::NoPem {
        what: "private key",
        path: path.to_owned(),
    })
}

/// A decoded private key as an [`InlineKey`].
fn key_from_der(key: PrivateKeyDer<'_>, path: &Path) -> Result<InlineKey, ConfigError> {
    let bad = |reason: &str| ConfigError::BadKey {
        path: path.to_owned(),
        reason: reason.into(),
    };
    let refused = |e: KeyError| ConfigError::BadKey {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    match key {
        // A P-256 scalar is taken out of PKCS#8 / SEC1 without deriving the public key here:
        // installing the slot checks it against the certificate's, once (that check is a
        // P-256 scalar multiplication, ~1.6 M instructions). Other keys are decoded and
        // checked by the core.
        PrivateKeyDer::Pkcs8(k) => {
            let info = p256::pkcs8::PrivateKeyInfo::from_der(k.secret_pkcs8_der())
                .map_err(|_| bad("not a PKCS#8 private key"))?;
            if info.algorithm.parameters_oid().ok() != Some(P256_OID) {
                return InlineKey::from_pkcs8_der(k.secret_pkcs8_der()).map_err(refused);
            }
            let ec = EcPrivateKey::from_der(info.private_key)
                .map_err(|_| bad("not an EC private key"))?;
            scalar(ec.private_key).ok_or_else(|| bad("not a P-256 private key"))
        }
        PrivateKeyDer::Sec1(k) => {
            let ec = EcPrivateKey::from_der(k.secret_sec1_der())
                .map_err(|_| bad("not a SEC1 EC private key"))?;
            if ec
                .parameters
                .and_then(|p| p.named_curve())
                .is_some_and(|c| c != P256_OID)
            {
                return InlineKey::from_sec1_der(k.secret_sec1_der()).map_err(refused);
            }
            scalar(ec.private_key).ok_or_else(|| bad("not a P-256 private key"))
        }
        PrivateKeyDer::Pkcs1(k) => InlineKey::from_pkcs1_der(k.secret_pkcs1_der()).map_err(refused),
        _ => Err(bad("unknown private key format")),
    }
}

/// A slot's certificates (leaf first) and key, read from its files.
fn read_slot(
    s: &SlotSpec,
    password: &mut Password<'_>,
) -> Result<(Vec<CertificateDer<'static>>, InlineKey), ConfigError> {
    let bytes = read("certificate", &s.cert)?;
    let key_bytes = if s.key == s.cert {
        None
    } else if !is_pem(&bytes) && is_pkcs12(&bytes) {
        // Refused by slot_parts before the key file is read.
        Some(Vec::new())
    } else {
        Some(read("private key", &s.key)?)
    };
    let key = key_bytes.as_deref().map(|k| (s.key.as_path(), k));
    let (certs, key) = slot_parts(&s.cert, &bytes, key, password)?;
    Ok((certs, key))
}

/// Every certificate of a slot's file parses in full as X.509 (x509-cert): PEM armour and
/// PKCS#12 bags carry any bytes, and neither the slot table (which reads only what selection
/// needs) nor the DER detection (webpki's outer parse) would refuse, say, a malformed OID deep
/// in an extension, which the server would then be sent. Found by the `slot_files` and
/// `pkcs12` fuzz targets.
fn well_formed(certs: &[CertificateDer<'_>], path: &Path) -> Result<(), ConfigError> {
    for (i, c) in certs.iter().enumerate() {
        x509_cert::Certificate::from_der(c).map_err(|e| ConfigError::BadCertificate {
            path: path.to_owned(),
            reason: format!(
                "certificate {} of the file is not a well-formed X.509 certificate ({e})",
                i + 1
            ),
        })?;
    }
    Ok(())
}

/// A slot's certificates (leaf first) and key from its files' contents (`key`: the key file,
/// when it is not the certificate file).
fn slot_parts(
    cert_path: &Path,
    bytes: &[u8],
    key: Option<(&Path, &[u8])>,
    password: &mut Password<'_>,
) -> Result<(Vec<CertificateDer<'static>>, InlineKey), ConfigError> {
    if !is_pem(bytes) && is_pkcs12(bytes) {
        if key.is_some() {
            return Err(ConfigError::WrongFormat {
                path: cert_path.to_owned(),
                hint: "file is PKCS#12 and holds its own key: give it alone, --slot STATE:FILE",
            });
        }
        let (certs, key) = read_pkcs12(bytes, cert_path, password)?;
        well_formed(&certs, cert_path)?;
        return Ok((certs, key));
    }
    let certs = certs_from("certificate", cert_path, bytes)?;
    well_formed(&certs, cert_path)?;
    let key = match key {
        // STATE:FILE with a PEM or DER file: it must hold the key as well.
        None => key_from_file(bytes, cert_path, password).map_err(|e| match e {
            ConfigError::NoPem { .. } | ConfigError::WrongFormat { .. } => {
                ConfigError::WrongFormat {
                    path: cert_path.to_owned(),
                    hint: "no private key in it: give the key file too, --slot STATE:CERT:KEY",
                }
            }
            e => e,
        })?,
        Some((key_path, key_bytes)) => key_from_file(key_bytes, key_path, password)?,
    };
    Ok((certs, key))
}

impl ClientArgs {
    /// The TLS versions offered.
    pub fn versions(&self) -> VersionPolicy {
        match self.tls {
            TlsArg::V12 => VersionPolicy::Tls12Only,
            TlsArg::V13 => VersionPolicy::Tls13Only,
            TlsArg::Both => VersionPolicy::Both,
        }
    }

    /// How the server is authenticated: the name rules and the CA files.
    pub fn server_policy(&self) -> Result<ServerPolicy, ConfigError> {
        let mut rules = Vec::new();
        for n in &self.server_name {
            rules.push(NameMatch::exact(n).map_err(|_| ConfigError::BadName(n.clone()))?);
        }
        for d in &self.domain_suffix {
            rules.push(NameMatch::suffix(d).map_err(|_| ConfigError::BadName(d.clone()))?);
        }
        let mut rules = rules.into_iter();
        let mut policy = ServerPolicy::new(rules.next().ok_or(ConfigError::NoServerName)?);
        for r in rules {
            policy = policy.or_name(r).map_err(|_| ConfigError::TooManyNames)?;
        }
        for pin in &self.pins {
            policy = policy.with_pin(*pin).map_err(ConfigError::Setup)?;
        }
        for p in &self.ca {
            for cert in read_certs("CA file", p)? {
                policy = policy.with_anchor_der(&cert).map_err(ConfigError::Setup)?;
            }
        }
        Ok(policy)
    }

    /// Read every file and build the supplicant's configuration, TLS setup and slot table.
    pub fn build(&self) -> Result<ClientFiles, ConfigError> {
        let versions = self.versions();
        if !(64..=16384).contains(&self.fragment_size) {
            return Err(ConfigError::FragmentSize(self.fragment_size));
        }
        let mut config = Config::default();
        config.peer.identity = heapless::String::try_from(self.identity.as_str())
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or(ConfigError::Identity)?;
        if self.anonymous_identity {
            config.peer.privacy = IdentityPrivacy::AnonymousRealm;
        }
        config.method.fragment_size = self.fragment_size;
        config.auth_period_ms = self.auth_period_ms;

        if self.slots.len() > FILE_SLOTS {
            return Err(ConfigError::TooManySlots {
                given: self.slots.len(),
                max: FILE_SLOTS,
            });
        }
        let policy = self.server_policy()?;
        let mut chain = Vec::new();
        for p in &self.chain {
            for c in read_certs("chain file", p)? {
                let der: &'static [u8] = Box::leak(c.to_vec().into_boxed_slice());
                chain.push(der);
            }
        }

        if let Some(path) = &self.table {
            let (_, loaded) =
                crate::hal::table_file::load(path).map_err(|e| ConfigError::Table {
                    kind: e.kind(),
                    message: e.to_string(),
                })?;
            let slots = loaded
                .list()
                .map(|s| LoadedSlot {
                    index: s.index(),
                    state: s.state(),
                    cert: PathBuf::from(format!("{} ({})", path.display(), s.index())),
                })
                .collect();
            let files = ClientFiles {
                config,
                policy,
                chain,
                versions,
                table: Arc::new(SharedSlotTable::new(loaded)),
                slots,
            };
            files.supplicant()?;
            return Ok(files);
        }
        let table: Arc<FileSlotTable> = Arc::new(SharedSlotTable::new(SlotTable::new()));
        let mut slots = Vec::new();
        let mut password = Password {
            source: self.key_pass.as_ref(),
            read: None,
        };
        // Every file is read and checked before the table is touched.
        let mut loaded = Vec::new();
        for s in &self.slots {
            loaded.push(read_slot(s, &mut password)?);
        }
        table.with(|t| -> Result<(), ConfigError> {
            for (s, (cert, key)) in self.slots.iter().zip(loaded) {
                let (leaf, intermediates) = cert.split_first().ok_or(ConfigError::NoPem {
                    what: "certificate",
                    path: s.cert.clone(),
                })?;
                // Certificates after the leaf in its file are its chain, kept in the slot and
                // sent after it (as Windows and most CAs export a certificate with its chain).
                let intermediates: Vec<&[u8]> = intermediates.iter().map(|c| c.as_ref()).collect();
                let index = t
                    .install_chain(leaf, &intermediates, KeyRef::Inline(key))
                    .map_err(|e| ConfigError::Slot {
                        path: s.cert.clone(),
                        reason: e.to_string(),
                    })?;
                slots.push((index, s));
            }
            // Installing a renewal archives its predecessor; now set what was asked for:
            // restore the active ones first (each archives same-identity peers), then archive.
            for (i, s) in &slots {
                if s.state == SlotStateArg::Active {
                    let _ = t.restore(*i);
                }
            }
            for (i, s) in &slots {
                if s.state == SlotStateArg::Archived {
                    let _ = t.archive(*i);
                }
            }
            for (i, s) in &slots {
                let want = match s.state {
                    SlotStateArg::Active => SlotState::Active,
                    SlotStateArg::Archived => SlotState::Archived,
                };
                if t.state(*i) != Some(want) {
                    return Err(ConfigError::ActiveConflict {
                        path: s.cert.clone(),
                    });
                }
            }
            Ok(())
        })?;
        let loaded = slots
            .iter()
            .map(|(i, s)| LoadedSlot {
                index: *i,
                state: match s.state {
                    SlotStateArg::Active => SlotState::Active,
                    SlotStateArg::Archived => SlotState::Archived,
                },
                cert: s.cert.clone(),
            })
            .collect();
        let files = ClientFiles {
            config,
            policy,
            chain,
            versions,
            table,
            slots: loaded,
        };
        // Surface a configuration the TLS layer refuses now, as a typed error.
        files.supplicant()?;
        Ok(files)
    }
}

impl ClientFiles {
    /// A supplicant over this configuration and slot table (each call a fresh one sharing the
    /// table, as a device reconnecting).
    pub fn supplicant(&self) -> Result<Supplicant, ConfigError> {
        self.supplicant_with(|b| b)
    }

    /// [`Self::supplicant`], with `more` applied to the builder last (e.g. a key log).
    pub fn supplicant_with(
        &self,
        more: impl FnOnce(SupplicantBuilder) -> SupplicantBuilder,
    ) -> Result<Supplicant, ConfigError> {
        let mut b = SupplicantBuilder::new(self.config.peer.identity.as_str())
            .config(self.config.clone())
            .server(self.policy.clone())
            .slot_table(self.table.clone())
            .crypto(host_crypto())
            .tls_versions(self.versions);
        for c in &self.chain {
            b = b.intermediate_der(c);
        }
        more(b).build().map_err(ConfigError::Setup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::TestPki;
    use clap::Parser;
    use latchkey_core::certs::KeyAlgorithm;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        client: ClientArgs,
    }

    struct Files {
        _dir: tempfile::TempDir,
        ca: PathBuf,
        old: (PathBuf, PathBuf),
        new: (PathBuf, PathBuf),
    }

    fn files() -> Files {
        let pki = TestPki::generate().unwrap();
        let old = pki.issue_client("device-0042", 0x1d).unwrap();
        let new = pki.issue_client("device-0042", 0x2e3).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let w = |name: &str, s: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, s).unwrap();
            p
        };
        Files {
            ca: w("ca.pem", &pki.root.cert_pem),
            old: (w("old.pem", &old.cert_pem), w("old.key", &old.key_pem)),
            new: (w("new.pem", &new.cert_pem), w("new.key", &new.key_pem)),
            _dir: dir,
        }
    }

    fn args(f: &Files, extra: &[String]) -> Result<ClientArgs, clap::Error> {
        let mut v: Vec<String> = vec![
            "x".into(),
            "--ca".into(),
            f.ca.display().to_string(),
            "--server-name".into(),
            "radius.latchkey.test".into(),
            "--identity".into(),
            "device-0042".into(),
        ];
        v.extend(extra.iter().cloned());
        Cli::try_parse_from(v).map(|c| c.client)
    }

    fn slot(state: &str, c: &(PathBuf, PathBuf)) -> Vec<String> {
        vec![
            "--slot".into(),
            format!("{state}:{}:{}", c.0.display(), c.1.display()),
        ]
    }

    #[test]
    fn intermediates_in_the_certificate_file_go_into_the_slot_and_must_link() {
        let f = files();
        let pki = TestPki::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("dev.key");
        std::fs::write(&key, &pki.client.key_pem).unwrap();
        let with_chain = dir.path().join("chain.pem");
        std::fs::write(
            &with_chain,
            format!("{}{}", pki.client.cert_pem, pki.intermediate.cert_pem),
        )
        .unwrap();
        let a = args(&f, &slot("active", &(with_chain, key.clone()))).unwrap();
        let built = a.build().unwrap();
        let intermediates: Vec<Vec<u8>> = built.table.with(|t| {
            t.get(built.slots[0].index)
                .unwrap()
                .intermediates()
                .map(<[u8]>::to_vec)
                .collect()
        });
        assert_eq!(intermediates, [pki.intermediate.cert.to_vec()]);

        // The root did not issue the leaf: refused at install, one line naming the fix.
        let unlinked = dir.path().join("unlinked.pem");
        std::fs::write(
            &unlinked,
            format!("{}{}", pki.client.cert_pem, pki.root.cert_pem),
        )
        .unwrap();
        let a = args(&f, &slot("active", &(unlinked.clone(), key))).unwrap();
        let e = a.build().err().unwrap();
        assert_eq!(e.kind(), "slot-refused");
        let line = e.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with(&format!("{}: ", unlinked.display()))
                && line.contains("intermediate 1 is not the issuer of the certificate before it")
                && line.contains("leaf first"),
            "{line}"
        );
    }

    /// `openssl ARGS`, which must succeed.
    fn openssl_run(args: &[&std::ffi::OsStr]) {
        let st = std::process::Command::new("openssl")
            .args(args)
            .output()
            .unwrap();
        assert!(st.status.success(), "{args:?}: {st:?}");
    }

    /// A PKI's device certificate as enterprises hand it out, in a temporary directory.
    struct Enterprise {
        dir: tempfile::TempDir,
        pki: TestPki,
    }

    impl Enterprise {
        fn new() -> Self {
            let pki = TestPki::generate().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let e = Enterprise { dir, pki };
            std::fs::write(e.path("leaf.pem"), &e.pki.client.cert_pem).unwrap();
            std::fs::write(e.path("key.pem"), &e.pki.client.key_pem).unwrap();
            std::fs::write(e.path("int.pem"), &e.pki.intermediate.cert_pem).unwrap();
            std::fs::write(
                e.path("cas.pem"),
                format!("{}{}", e.pki.intermediate.cert_pem, e.pki.root.cert_pem),
            )
            .unwrap();
            e
        }
        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }
        /// `openssl pkcs12 -export` of the device certificate, its key and (with `chain`) the
        /// intermediate and root, protected by `pass` with the given extra options.
        fn pfx(&self, name: &str, pass: &str, chain: bool, extra: &[&str]) -> PathBuf {
            let out = self.path(name);
            let mut args: Vec<std::ffi::OsString> = vec![
                "pkcs12".into(),
                "-export".into(),
                "-in".into(),
                self.path("leaf.pem").into(),
                "-inkey".into(),
                self.path("key.pem").into(),
                "-passout".into(),
                format!("pass:{pass}").into(),
                "-out".into(),
                out.clone().into(),
            ];
            if chain {
                args.extend(["-certfile".into(), self.path("cas.pem").into()]);
            }
            args.extend(extra.iter().map(|a| (*a).into()));
            let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
            openssl_run(&refs);
            out
        }
        fn args(&self, slot: &str, extra: &[&str]) -> Result<ClientArgs, clap::Error> {
            let ca = self.path("ca.pem");
            std::fs::write(&ca, &self.pki.root.cert_pem).unwrap();
            let mut v: Vec<String> = vec![
                "x".into(),
                "--ca".into(),
                ca.display().to_string(),
                "--server-name".into(),
                "radius.latchkey.test".into(),
                "--identity".into(),
                "device-0001".into(),
                "--slot".into(),
                slot.into(),
            ];
            v.extend(extra.iter().map(|s| s.to_string()));
            Cli::try_parse_from(v).map(|c| c.client)
        }
        /// The one slot built from `slot`, as (leaf, intermediates).
        fn load(&self, slot: &str, extra: &[&str]) -> Result<(Vec<u8>, Vec<Vec<u8>>), ConfigError> {
            let built = self.args(slot, extra).unwrap().build()?;
            Ok(built.table.with(|t| {
                let s = t.get(built.slots[0].index).unwrap();
                (
                    s.der().to_vec(),
                    s.intermediates().map(<[u8]>::to_vec).collect(),
                )
            }))
        }
    }

    /// One line, naming the file, the problem and (via `fix`) what to do.
    fn one_line(e: &ConfigError, kind: &str, path: &Path, fix: &str) {
        let line = e.to_string();
        assert_eq!(e.kind(), kind, "{line}");
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains(&path.display().to_string()), "{line}");
        assert!(line.contains(fix), "{line}");
    }

    #[test]
    fn der_certificate_and_key_files_load_like_pem() {
        let e = Enterprise::new();
        let cert_der = e.path("leaf.der");
        let key_der = e.path("key.der");
        openssl(
            &["x509", "-outform", "DER", "-in"],
            &e.path("leaf.pem"),
            &cert_der,
        );
        openssl(
            &["pkey", "-outform", "DER", "-in"],
            &e.path("key.pem"),
            &key_der,
        );
        let pem = e
            .load(
                &format!(
                    "active:{}:{}",
                    e.path("leaf.pem").display(),
                    e.path("key.pem").display()
                ),
                &[],
            )
            .unwrap();
        let der = e
            .load(
                &format!("active:{}:{}", cert_der.display(), key_der.display()),
                &[],
            )
            .unwrap();
        assert_eq!(der, pem);
        assert_eq!(der.0, e.pki.client.cert.to_vec());
        // The files swapped: each says what it is.
        let err = e
            .load(
                &format!("active:{}:{}", key_der.display(), cert_der.display()),
                &[],
            )
            .unwrap_err();
        one_line(
            &err,
            "wrong-format",
            &key_der,
            "DER private key, not a certificate",
        );
        let err = e
            .load(
                &format!(
                    "active:{}:{}",
                    e.path("leaf.pem").display(),
                    cert_der.display()
                ),
                &[],
            )
            .unwrap_err();
        one_line(
            &err,
            "wrong-format",
            &cert_der,
            "DER certificate, not a private key",
        );
    }

    #[test]
    fn pkcs12_with_its_chain_and_a_password_from_env_or_file() {
        let e = Enterprise::new();
        // OpenSSL 3's default (PBES2, AES-256-CBC, HMAC-SHA256), as Windows exports "AES256".
        let pfx = e.pfx("dev.pfx", "s3cret", true, &[]);
        std::env::set_var("LATCHKEY_TEST_PFX_PASS", "s3cret");
        let spec = format!("active:{}", pfx.display());
        let (leaf, chain) = e
            .load(&spec, &["--key-pass", "env:LATCHKEY_TEST_PFX_PASS"])
            .unwrap();
        assert_eq!(leaf, e.pki.client.cert.to_vec());
        // The intermediate kept, the self-signed root left out.
        assert_eq!(chain, [e.pki.intermediate.cert.to_vec()]);
        // Legacy 3DES/SHA-1, as older Windows exports, password from a file.
        let legacy = e.pfx(
            "legacy.p12",
            "s3cret",
            false,
            &[
                "-keypbe",
                "PBE-SHA1-3DES",
                "-certpbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        );
        let pass_file = e.path("pass.txt");
        std::fs::write(&pass_file, "s3cret\n").unwrap();
        let file_arg = format!("file:{}", pass_file.display());
        let (leaf, chain) = e
            .load(
                &format!("archived:{}", legacy.display()),
                &["--key-pass", &file_arg],
            )
            .unwrap();
        assert_eq!(leaf, e.pki.client.cert.to_vec());
        assert!(chain.is_empty());
        // The same file as both CERT and KEY is accepted; a different key file is not.
        let same = format!("active:{}:{}", pfx.display(), pfx.display());
        assert!(e.load(&same, &["--key-pass", "pass:s3cret"]).is_ok());
        let other = format!("active:{}:{}", pfx.display(), e.path("key.pem").display());
        let err = e.load(&other, &["--key-pass", "pass:s3cret"]).unwrap_err();
        one_line(
            &err,
            "wrong-format",
            &pfx,
            "give it alone, --slot STATE:FILE",
        );
    }

    #[test]
    fn pkcs12_wrong_or_missing_password_is_one_line() {
        let e = Enterprise::new();
        let pfx = e.pfx("dev.pfx", "s3cret", true, &[]);
        let spec = format!("active:{}", pfx.display());
        let err = e.load(&spec, &["--key-pass", "pass:wrong"]).unwrap_err();
        one_line(&err, "wrong-password", &pfx, "wrong password");
        let err = e.load(&spec, &[]).unwrap_err();
        one_line(&err, "password-required", &pfx, "--key-pass env:VAR");
        // An unset variable names the source, not a wrong password.
        let err = e
            .load(&spec, &["--key-pass", "env:LATCHKEY_TEST_UNSET_VARIABLE"])
            .unwrap_err();
        assert_eq!(err.kind(), "password-source", "{err}");
        assert!(err.to_string().contains("env:LATCHKEY_TEST_UNSET_VARIABLE"));
        // A literal password is never printed back.
        let a = e.args(&spec, &["--key-pass", "pass:s3cret"]).unwrap();
        assert!(!format!("{a:?}").contains("s3cret"));
        // A PKCS#12 file exported without a password needs none.
        let open = e.pfx("open.pfx", "", false, &[]);
        assert!(e.load(&format!("active:{}", open.display()), &[]).is_ok());
        // Given as the certificate of a STATE:CERT:KEY slot with a PEM key, or as a CA file.
        let err = read_certs("certificate", &pfx).unwrap_err();
        one_line(&err, "wrong-format", &pfx, "file is PKCS#12");
    }

    #[test]
    fn encrypted_pkcs8_key_opens_with_the_password() {
        let e = Enterprise::new();
        let enc = e.path("key.enc.pem");
        openssl_run(&[
            "pkcs8".as_ref(),
            "-topk8".as_ref(),
            "-v2".as_ref(),
            "aes-256-cbc".as_ref(),
            "-passout".as_ref(),
            "pass:k3y".as_ref(),
            "-in".as_ref(),
            e.path("key.pem").as_os_str(),
            "-out".as_ref(),
            enc.as_os_str(),
        ]);
        assert!(std::fs::read_to_string(&enc)
            .unwrap()
            .contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let plain = read_key(&e.path("key.pem")).unwrap();
        let pass = PassSource::Literal(zeroize::Zeroizing::new("k3y".into()));
        assert_eq!(read_key_with(&enc, Some(&pass)).unwrap(), plain);
        // The same in DER.
        let enc_der = e.path("key.enc.der");
        openssl_run(&[
            "pkcs8".as_ref(),
            "-topk8".as_ref(),
            "-v2".as_ref(),
            "aes-256-cbc".as_ref(),
            "-passout".as_ref(),
            "pass:k3y".as_ref(),
            "-outform".as_ref(),
            "DER".as_ref(),
            "-in".as_ref(),
            e.path("key.pem").as_os_str(),
            "-out".as_ref(),
            enc_der.as_os_str(),
        ]);
        assert_eq!(read_key_with(&enc_der, Some(&pass)).unwrap(), plain);
        let spec = format!("active:{}:{}", e.path("leaf.pem").display(), enc.display());
        let err = e.load(&spec, &[]).unwrap_err();
        one_line(&err, "password-required", &enc, "--key-pass");
        let err = e.load(&spec, &["--key-pass", "pass:nope"]).unwrap_err();
        one_line(&err, "wrong-password", &enc, "wrong password");
        assert!(e.load(&spec, &["--key-pass", "pass:k3y"]).is_ok());
    }

    #[test]
    fn slot_from_bytes_loads_only_a_leaf_with_its_own_key() {
        let e = Enterprise::new();
        let leaf = std::fs::read(e.path("leaf.pem")).unwrap();
        let key = std::fs::read(e.path("key.pem")).unwrap();
        let (cert_path, key_path) = (Path::new("dev.crt"), Path::new("dev.key"));
        let c = slot_from_bytes(cert_path, &leaf, Some((key_path, &key)), None).unwrap();
        assert_eq!(c.certs.len(), 1);
        assert_eq!(c.key, read_key(&e.path("key.pem")).unwrap());
        // Another key: refused here, as the table would refuse it, naming the certificate.
        let other = crate::pki::TestPki::generate().unwrap();
        let err = slot_from_bytes(
            cert_path,
            &leaf,
            Some((key_path, other.client.key_pem.as_bytes())),
            None,
        )
        .err()
        .unwrap();
        one_line(&err, "slot-refused", cert_path, "key");
        // A PKCS#12 file with a password: the same leaf and key, its chain after the leaf.
        let pfx = std::fs::read(e.pfx("dev.pfx", "k3y", true, &[])).unwrap();
        let pass = PassSource::Literal(zeroize::Zeroizing::new("k3y".into()));
        let c = slot_from_bytes(cert_path, &pfx, None, Some(&pass)).unwrap();
        assert_eq!(c.certs.len(), 2, "leaf and intermediate, the root left out");
        assert_eq!(c.key, read_key(&e.path("key.pem")).unwrap());
        let err = slot_from_bytes(cert_path, &pfx, Some((key_path, &key)), Some(&pass))
            .err()
            .unwrap();
        one_line(&err, "wrong-format", cert_path, "give it alone");
    }

    /// Regression (fuzz targets `slot_files` and `pkcs12`): a certificate whose PEM armour or
    /// PKCS#12 bag holds malformed DER deep inside (here an OID of the signature algorithm)
    /// loaded, the table's lenient parse accepting it.
    #[test]
    fn a_certificate_with_malformed_der_inside_is_a_typed_refusal() {
        let e = Enterprise::new();
        let der = CertificateDer::from_pem_slice(e.pki.client.cert_pem.as_bytes()).unwrap();
        let mut bad = der.to_vec();
        // The TBS signature AlgorithmIdentifier's OID: its first content byte made a
        // continuation byte with nothing after it in the OID.
        let oid_at = bad
            .windows(3)
            .position(|w| w == [0x06, 0x08, 0x2a])
            .expect("ecdsa-with-SHA256 OID");
        bad[oid_at + 9] = 0x80;
        assert!(x509_cert::Certificate::from_der(&bad).is_err());
        let pem =
            pkcs8::der::pem::encode_string("CERTIFICATE", pkcs8::der::pem::LineEnding::LF, &bad)
                .unwrap();
        let cert_path = Path::new("dev.crt");
        let key = e.pki.client.key_pem.as_bytes();
        let err = slot_from_bytes(cert_path, pem.as_bytes(), Some((Path::new("k"), key)), None)
            .err()
            .unwrap();
        one_line(
            &err,
            "bad-certificate",
            cert_path,
            "certificate 1 of the file",
        );
        // The same through the command line's files.
        std::fs::write(e.path("bad.pem"), &pem).unwrap();
        let spec = format!(
            "active:{}:{}",
            e.path("bad.pem").display(),
            e.path("key.pem").display()
        );
        let err = e.load(&spec, &[]).unwrap_err();
        one_line(
            &err,
            "bad-certificate",
            &e.path("bad.pem"),
            "not a well-formed",
        );
    }

    #[test]
    fn encrypted_keys_asking_for_too_costly_a_kdf_are_refused_before_the_password() {
        use pkcs8::der::Encode;
        use pkcs8::pkcs5::pbes2::{EncryptionScheme, Kdf, Parameters, ScryptParams};
        let e = Enterprise::new();
        // PBKDF2 past the bound, as openssl writes it.
        let slow = e.path("slow.enc.der");
        openssl_run(&[
            "pkcs8".as_ref(),
            "-topk8".as_ref(),
            "-v2".as_ref(),
            "aes-256-cbc".as_ref(),
            "-iter".as_ref(),
            "1000001".as_ref(),
            "-passout".as_ref(),
            "pass:k3y".as_ref(),
            "-outform".as_ref(),
            "DER".as_ref(),
            "-in".as_ref(),
            e.path("key.pem").as_os_str(),
            "-out".as_ref(),
            slow.as_os_str(),
        ]);
        let started = std::time::Instant::now();
        let err = read_key_with(&slow, None).unwrap_err();
        one_line(&err, "bad-key", &slow, "PBKDF2 iteration count 1000001");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // scrypt asking for 1 GiB (N 2^20, r 8): refused from its parameters alone.
        let iv = [7u8; 16];
        let info = pkcs8::EncryptedPrivateKeyInfo {
            encryption_algorithm: Parameters {
                kdf: Kdf::Scrypt(ScryptParams {
                    salt: &[1; 16],
                    cost_parameter: 1 << 20,
                    block_size: 8,
                    parallelization: 1,
                    key_length: Some(32),
                }),
                encryption: EncryptionScheme::Aes256Cbc { iv: &iv },
            }
            .into(),
            encrypted_data: &[0; 48],
        };
        let big = e.path("big.enc.der");
        std::fs::write(&big, info.to_der().unwrap()).unwrap();
        let pass = PassSource::Literal(zeroize::Zeroizing::new("k3y".into()));
        let err = read_key_with(&big, Some(&pass)).unwrap_err();
        one_line(
            &err,
            "bad-key",
            &big,
            "scrypt parameters (N 1048576, r 8, p 1)",
        );
        // openssl's own scrypt default (16 MiB) opens.
        let scrypt = e.path("scrypt.enc.pem");
        openssl_run(&[
            "pkcs8".as_ref(),
            "-topk8".as_ref(),
            "-scrypt".as_ref(),
            "-passout".as_ref(),
            "pass:k3y".as_ref(),
            "-in".as_ref(),
            e.path("key.pem").as_os_str(),
            "-out".as_ref(),
            scrypt.as_os_str(),
        ]);
        let plain = read_key(&e.path("key.pem")).unwrap();
        assert_eq!(read_key_with(&scrypt, Some(&pass)).unwrap(), plain);
    }

    #[test]
    fn more_slots_than_the_table_holds_is_an_error_not_an_eviction() {
        let f = files();
        let mut flags = Vec::new();
        for _ in 0..FILE_SLOTS {
            flags.extend(slot("archived", &f.old));
        }
        flags.extend(slot("active", &f.new));
        let e = args(&f, &flags).unwrap().build().err().unwrap();
        assert_eq!(e.kind(), "too-many-slots");
        let line = e.to_string();
        assert_eq!(
            line,
            "5 --slot flags, the table holds 4: give at most 4 (drop the oldest archived ones)"
        );
        // Nothing is read before the count is checked: a fifth slot naming a missing file
        // still reports the count.
        let mut missing = flags[..2 * FILE_SLOTS].to_vec();
        missing.extend([
            "--slot".into(),
            "active:/nonexistent/c.pem:/nonexistent/k".into(),
        ]);
        let e = args(&f, &missing).unwrap().build().err().unwrap();
        assert_eq!(e.kind(), "too-many-slots");
    }

    #[test]
    fn renewed_table_loads_with_requested_states() {
        let f = files();
        let a = args(
            &f,
            &[slot("archived", &f.old), slot("active", &f.new)].concat(),
        )
        .unwrap();
        let built = a.build().unwrap();
        let states: Vec<_> = built.slots.iter().map(|s| s.state).collect();
        assert_eq!(states, [SlotState::Archived, SlotState::Active]);
        assert_eq!(built.config.peer.identity.as_str(), "device-0042");
        let t = built.table.with(|t| t.clone());
        assert_eq!(t.state(built.slots[0].index), Some(SlotState::Archived));
        assert_eq!(t.state(built.slots[1].index), Some(SlotState::Active));
    }

    #[test]
    fn old_certificate_listed_last_can_be_the_active_one() {
        let f = files();
        let a = args(
            &f,
            &[slot("archived", &f.new), slot("active", &f.old)].concat(),
        )
        .unwrap();
        let built = a.build().unwrap();
        let t = built.table.with(|t| t.clone());
        assert_eq!(t.state(built.slots[1].index), Some(SlotState::Active));
        assert_eq!(t.state(built.slots[0].index), Some(SlotState::Archived));
    }

    #[test]
    fn two_active_of_one_identity_is_a_typed_error() {
        let f = files();
        let a = args(
            &f,
            &[slot("active", &f.old), slot("active", &f.new)].concat(),
        )
        .unwrap();
        let e = a.build().err().unwrap();
        assert_eq!(e.kind(), "active-conflict", "{e}");
    }

    #[test]
    fn unreadable_ca_file_is_a_one_line_error_naming_it() {
        let f = files();
        let mut a = args(&f, &slot("active", &f.new)).unwrap();
        a.ca = vec!["/nonexistent/ca.pem".into()];
        let e = a.build().err().unwrap();
        assert_eq!(e.kind(), "unreadable-file");
        let line = e.to_string();
        assert!(
            line.starts_with("cannot read CA file /nonexistent/ca.pem:"),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn key_file_without_pem_and_mismatched_key_are_refused() {
        let f = files();
        // A certificate given as the key says what it is.
        let a = args(&f, &slot("active", &(f.new.0.clone(), f.ca.clone()))).unwrap();
        let e = a.build().err().unwrap();
        assert_eq!(e.kind(), "wrong-format", "{e}");
        assert!(
            e.to_string()
                .contains("holds a certificate, not a private key"),
            "{e}"
        );
        // A file that is neither PEM nor DER.
        let junk = f.ca.with_extension("junk");
        std::fs::write(&junk, "not a key").unwrap();
        let a = args(&f, &slot("active", &(f.new.0.clone(), junk))).unwrap();
        assert_eq!(a.build().err().unwrap().kind(), "no-pem");
        let a = args(&f, &slot("active", &(f.new.0.clone(), f.old.1.clone()))).unwrap();
        let e = a.build().err().unwrap();
        assert_eq!(e.kind(), "slot-refused");
        assert!(e.to_string().contains("does not match"), "{e}");
    }

    #[test]
    fn sec1_key_files_load_like_pkcs8_and_p384_and_rsa_keys_load() {
        let f = files();
        // The same key as SEC1 ("EC PRIVATE KEY"), converted by openssl.
        let sec1 = f.new.1.with_extension("sec1");
        let st = std::process::Command::new("openssl")
            .args(["ec", "-in"])
            .arg(&f.new.1)
            .arg("-out")
            .arg(&sec1)
            .output()
            .unwrap();
        assert!(st.status.success(), "{st:?}");
        assert!(std::fs::read_to_string(&sec1)
            .unwrap()
            .contains("EC PRIVATE KEY"));
        assert_eq!(read_key(&sec1).unwrap(), read_key(&f.new.1).unwrap());
        // A P-384 key is refused by name.
        let p384 = f.new.1.with_extension("p384");
        let st = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-out",
            ])
            .arg(&p384)
            .output()
            .unwrap();
        assert!(st.status.success(), "{st:?}");
        let from_pkcs8 = read_key(&p384).unwrap();
        assert_eq!(from_pkcs8.algorithm(), KeyAlgorithm::P384);
        // The same P-384 key as SEC1.
        let p384_sec1 = f.new.1.with_extension("p384sec1");
        openssl(&["ec", "-in"], &p384, &p384_sec1);
        assert!(std::fs::read_to_string(&p384_sec1)
            .unwrap()
            .contains("EC PRIVATE KEY"));
        assert_eq!(read_key(&p384_sec1).unwrap(), from_pkcs8);
        // RSA: PKCS#8 ("PRIVATE KEY") and the same key as PKCS#1 ("RSA PRIVATE KEY").
        let rsa8 = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../core/tests/data/rsa2048-key.pkcs8.pem"
        ));
        let rsa = read_key(rsa8).unwrap();
        assert_eq!(rsa.algorithm(), KeyAlgorithm::Rsa);
        let rsa1 = f.new.1.with_extension("rsa1");
        openssl(&["rsa", "-traditional", "-in"], rsa8, &rsa1);
        assert!(std::fs::read_to_string(&rsa1)
            .unwrap()
            .contains("RSA PRIVATE KEY"));
        assert_eq!(read_key(&rsa1).unwrap(), rsa);
    }

    /// `openssl <args> <input> -out <output>`, which must succeed.
    fn openssl(args: &[&str], input: &Path, output: &Path) {
        let st = std::process::Command::new("openssl")
            .args(args)
            .arg(input)
            .arg("-out")
            .arg(output)
            .output()
            .unwrap();
        assert!(st.status.success(), "{st:?}");
    }

    #[test]
    fn keys_the_core_cannot_hold_are_one_line_bad_key_errors() {
        let f = files();
        let dir = f.new.1.parent().unwrap();
        for (name, pem_label, der_file, needle) in [
            (
                "rsa1024.pem",
                "PRIVATE KEY",
                "rsa1024-key.pkcs8.der",
                "RSA key of 1024 bits",
            ),
            (
                "p521.pem",
                "PRIVATE KEY",
                "p521-key.pkcs8.der",
                "not supported",
            ),
        ] {
            let der = std::fs::read(format!(
                "{}/../core/tests/data/{der_file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            let path = dir.join(name);
            openssl_pem(&der, pem_label, &path);
            let e = read_key(&path).err().unwrap();
            assert_eq!(e.kind(), "bad-key", "{e}");
            let line = e.to_string();
            assert!(line.contains(needle), "{line}");
            assert!(!line.contains('\n'));
        }
    }

    /// Write `der` as a PEM block labelled `label` (openssl turns the DER into PEM).
    fn openssl_pem(der: &[u8], label: &str, path: &Path) {
        let der_path = path.with_extension("der");
        std::fs::write(&der_path, der).unwrap();
        assert_eq!(label, "PRIVATE KEY");
        openssl(&["pkey", "-inform", "DER", "-in"], &der_path, path);
        assert!(std::fs::read_to_string(path)
            .unwrap()
            .contains("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn server_name_rules_are_required_and_checked() {
        let f = files();
        let mut a = args(&f, &slot("active", &f.new)).unwrap();
        a.server_name.clear();
        assert_eq!(a.build().err().unwrap().kind(), "no-server-name");
        a.domain_suffix = vec!["latchkey.test".into()];
        assert_eq!(a.server_policy().unwrap().names().len(), 1);
        a.server_name = vec!["*.latchkey.test".into()];
        let e = a.build().err().unwrap();
        assert_eq!(e.kind(), "bad-server-name", "{e}");
    }

    #[test]
    fn bad_slot_syntax_and_tls_choice_are_refused() {
        let f = files();
        assert!(args(&f, &["--slot".into(), "current:a:b".into()]).is_err());
        assert!(args(&f, &["--slot".into(), "active".into()]).is_err());
        assert!(args(&f, &["--slot".into(), "active:".into()]).is_err());
        // STATE:FILE is a PKCS#12 file (or a PEM holding certificate and key).
        let one = args(&f, &["--slot".into(), "active:a.pfx".into()]).unwrap();
        assert_eq!(one.slots[0].cert, one.slots[0].key);
        // A PEM certificate alone, without its key, says to give the key file.
        let alone = args(
            &f,
            &["--slot".into(), format!("active:{}", f.new.0.display())],
        );
        let e = alone.unwrap().build().err().unwrap();
        assert_eq!(e.kind(), "wrong-format", "{e}");
        assert!(e.to_string().contains("--slot STATE:CERT:KEY"), "{e}");
        let mut extra = slot("active", &f.new);
        extra.extend(["--tls".into(), "1.1".into()]);
        assert!(args(&f, &extra).is_err());
        extra.pop();
        extra.push("1.3".into());
        assert_eq!(
            args(&f, &extra).unwrap().versions(),
            VersionPolicy::Tls13Only
        );
    }

    #[test]
    fn pins_parse_from_cert_or_spki_hex_and_bad_ones_are_refused() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let Ok(Pin::CertSha256(d)) = parse_pin(&format!("cert:{hex}")) else {
            panic!("cert pin")
        };
        assert_eq!((d[0], d[1], d[31]), (0x00, 0x11, 0xff));
        assert!(matches!(
            parse_pin(&format!("spki:{hex}")),
            Ok(Pin::SpkiSha256(_))
        ));
        for bad in [
            hex.to_string(),
            format!("sha1:{hex}"),
            format!("cert:{}", &hex[2..]),
            format!("cert:{}zz", &hex[2..]),
            format!("cert:{}", "é".repeat(32)),
        ] {
            let e = parse_pin(&bad).unwrap_err();
            assert!(e.starts_with("pin "), "{bad}: {e}");
        }
    }
}
