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

use crate::sim::host_crypto;

/// The slot table the command line fills: 4 slots (a renewal needs two; room for restores) of
/// up to 2 KiB certificates (a P-256 leaf is ~0.6 KB, an RSA-2048 leaf ~1.3 KB). A larger
/// certificate is refused with a typed error; the table is 8.5 KB of the tool's ~50 KB heap.
pub type FileSlotTable = SharedSlotTable<4, 2048>;

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
    /// PEM certificate file (the leaf).
    pub cert: PathBuf,
    /// PEM private key file (PKCS#8, SEC1 or PKCS#1; ECDSA P-256 or P-384, RSA 2048-4096).
    pub key: PathBuf,
}

impl std::str::FromStr for SlotSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.splitn(3, ':');
        let (state, cert, key) = match (parts.next(), parts.next(), parts.next()) {
            (Some(st), Some(c), Some(k)) if !c.is_empty() && !k.is_empty() => (st, c, k),
            _ => return Err("expected STATE:CERT_FILE:KEY_FILE (STATE active or archived)".into()),
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
    /// A slot of the certificate table: STATE:CERT_FILE:KEY_FILE, STATE `active` or `archived`;
    /// repeatable, in enrollment order (oldest first). Keys: PEM, PKCS#8 (ECDSA P-256/P-384,
    /// RSA 2048-4096), SEC1 (P-256/P-384) or PKCS#1 (RSA).
    #[arg(long = "slot", value_name = "STATE:CERT:KEY", required = true)]
    pub slots: Vec<SlotSpec>,
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
    /// A private key the table cannot hold (its format, algorithm or size).
    BadKey {
        /// The key file.
        path: PathBuf,
        /// Why.
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
            ConfigError::BadKey { path, reason } => {
                write!(f, "private key {} unusable: {reason}", path.display())
            }
            ConfigError::Slot { path, reason } => write!(f, "{}: {reason}", path.display()),
            ConfigError::ActiveConflict { path } => write!(
                f,
                "{} cannot be active: another active certificate has the same identity \
                 (archive one of them)",
                path.display()
            ),
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
            ConfigError::BadKey { .. } => "bad-key",
            ConfigError::Slot { .. } => "slot-refused",
            ConfigError::ActiveConflict { .. } => "active-conflict",
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

/// Every certificate in a PEM file (at least one).
pub fn read_certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bytes = read(what, path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(ConfigError::NoPem {
            what,
            path: path.to_owned(),
        });
    }
    Ok(certs)
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
/// SEC1 ("EC PRIVATE KEY": P-256 or P-384) or PKCS#1 ("RSA PRIVATE KEY").
pub fn read_key(path: &Path) -> Result<InlineKey, ConfigError> {
    let bytes = read("private key", path)?;
    let bad = |reason: &str| ConfigError::BadKey {
        path: path.to_owned(),
        reason: reason.into(),
    };
    let refused = |e: KeyError| ConfigError::BadKey {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| ConfigError::NoPem {
        what: "private key",
        path: path.to_owned(),
    })?;
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

        let policy = self.server_policy()?;
        let mut chain = Vec::new();
        for p in &self.chain {
            for c in read_certs("chain file", p)? {
                let der: &'static [u8] = Box::leak(c.to_vec().into_boxed_slice());
                chain.push(der);
            }
        }

        let table: Arc<FileSlotTable> = Arc::new(SharedSlotTable::new(SlotTable::new()));
        let mut slots = Vec::new();
        table.with(|t| -> Result<(), ConfigError> {
            for s in &self.slots {
                let cert = read_certs("certificate", &s.cert)?;
                let key = read_key(&s.key)?;
                let leaf = cert.first().ok_or(ConfigError::NoPem {
                    what: "certificate",
                    path: s.cert.clone(),
                })?;
                let index =
                    t.install(leaf, KeyRef::Inline(key))
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
        let a = args(&f, &slot("active", &(f.new.0.clone(), f.new.0.clone()))).unwrap();
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
        assert!(args(&f, &["--slot".into(), "active:a".into()]).is_err());
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
