//! An enterprise-like PKI, built with openssl as an AD CS deployment issues it, against
//! FreeRADIUS 3.2 and hostapd's EAP server (TLS 1.2 and 1.3, on loopback): an RSA-4096 root, an
//! RSA-2048 issuing CA and an RSA-2048 RADIUS server certificate (sent with its issuing CA). The
//! servers trust only the root (their CA file holds the root and the CAs' CRLs, no
//! intermediate), so every device must send its issuing CA after its certificate. Devices, each
//! with a UPN `otherName` SAN and the Microsoft certificate-template extension:
//!
//! - RSA-2048 and P-384 certificates from the issuing CA, each given to the device only as a
//!   password-protected PKCS#12 file exported with its chain the way Windows exports a `.pfx`
//!   (`--slot active:device.pfx --key-pass file:...`): certificate, key and issuing CA from it;
//! - a P-256 certificate from a second intermediate, an ECDSA device CA under the root that
//!   only the device's files carry: once as a PEM file holding the leaf then that CA (key apart),
//!   once as a `.pfx`.
//!
//! Each must authenticate with the MSK equal to the MS-MPPE keys. Then the KB932521 renewal:
//! the device's previous certificate (same subject and key type, revoked by its CA's CRL) is
//! loaded archived next to the renewed one: the renewed one authenticates, and the server's log
//! names the renewed certificate's serial and never the archived one's; and, as a control that
//! the server enforces the CRL, the revoked one made active is refused (the server's log naming
//! its serial); and the renewed leaf without its CA is refused too. The PKI is built once per test run and shared by the tests (a directory under
//! cargo's target tmpdir named after nextest's run id, built under a file lock).

use std::path::{Path, PathBuf};
use std::process::Command;

use latchkey_sim::cli::args::RadiusArgs;
use latchkey_sim::cli::config::{ClientArgs, PassSource, SlotSpec, SlotStateArg, TlsArg};
use latchkey_test_support::apt;
use latchkey_test_support::freeradius::{self, FreeRadiusOptions};
use latchkey_test_support::hostapd::{self, HostapdOptions};
use latchkey_test_support::pki_files::{CertFiles, FilePki, IDENTITY, SERVER_NAME};
use latchkey_test_support::server_process::{ServerProcess, ServerTls};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// The key types of the PKI.
#[derive(Clone, Copy)]
enum KeyType {
    Rsa(u32),
    Ec(&'static str),
}

fn genkey(dir: &Path, name: &str, kind: KeyType) {
    let opt = match kind {
        KeyType::Rsa(bits) => format!("rsa_keygen_bits:{bits}"),
        KeyType::Ec(curve) => format!("ec_paramgen_curve:{curve}"),
    };
    let alg = match kind {
        KeyType::Rsa(_) => "RSA",
        KeyType::Ec(_) => "EC",
    };
    openssl(
        dir,
        &["genpkey", "-algorithm", alg, "-pkeyopt", &opt, "-out", name],
    );
}

/// Extensions of each certificate kind, as an AD CS template would set them, and the two CAs'
/// revocation databases.
const EXTENSIONS: &str = "\
[issuing_ca]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[server]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:radius.latchkey.test
authorityKeyIdentifier = keyid

[user]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
# The user principal name (szOID_NT_PRINCIPAL_NAME), as AD CS puts it in user certificates.
subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:device-0042@corp.latchkey.test
# szOID_CERTIFICATE_TEMPLATE: the template's OID and version.
1.3.6.1.4.1.311.21.7 = ASN1:SEQUENCE:template
authorityKeyIdentifier = keyid

# The same template for an ECDSA key (signature only).
[user_ec]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:device-0042@corp.latchkey.test
1.3.6.1.4.1.311.21.7 = ASN1:SEQUENCE:template
authorityKeyIdentifier = keyid

[template]
id = OID:1.3.6.1.4.1.311.21.8.4215891.1437012.7364103.1200385.2061720.96.8274301.6452371
major = INTEGER:100
minor = INTEGER:4

[ca]
default_ca = issuing

[issuing]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 7

[device_ca]
database = index-device-ca.txt
crlnumber = crlnumber-device-ca
default_md = sha256
default_crl_days = 7
";

/// Issue `name.pem` for `name.key` from `ca` (its `.pem` and `.key`) with extension section
/// `ext`.
fn issue(dir: &Path, name: &str, subject: &str, ca: &str, ext: &str, serial: &str) {
    let (key, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &["req", "-new", "-key", &key, "-subj", subject, "-out", &csr],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-set_serial",
            serial,
            "-days",
            "365",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-extensions",
            ext,
            "-out",
            &pem,
        ],
    );
}

/// One device certificate of the PKI, old and renewed.
#[derive(Clone, Copy)]
struct DeviceCert {
    /// File stem: `STEM.pem`, `STEM.key`, `STEM-chain.pem`, `STEM.pfx`; `STEM-old.*` for the
    /// certificate the renewal replaced.
    stem: &'static str,
    key: KeyType,
    /// The issuing CA's file stem.
    ca: &'static str,
    old_serial: &'static str,
    new_serial: &'static str,
}

const DEVICES: [DeviceCert; 3] = [
    DeviceCert {
        stem: "device-rsa",
        key: KeyType::Rsa(2048),
        ca: "issuing",
        old_serial: "0x7a0041",
        new_serial: "0x7a0042",
    },
    DeviceCert {
        stem: "device-p384",
        key: KeyType::Ec("P-384"),
        ca: "issuing",
        old_serial: "0x7b0041",
        new_serial: "0x7b0042",
    },
    DeviceCert {
        stem: "device-p256",
        key: KeyType::Ec("P-256"),
        ca: "device-ca",
        old_serial: "0x7c0041",
        new_serial: "0x7c0042",
    },
];

const DEVICE_SUBJECT: &str = "/DC=test/DC=latchkey/DC=corp/OU=Devices/CN=device-0042";
const PFX_PASSWORD_FILE: &str = "pfx-password";

fn read(dir: &Path, n: &str) -> String {
    std::fs::read_to_string(dir.join(n)).unwrap_or_else(|e| panic!("{n}: {e}"))
}

fn der(dir: &Path, n: &str) -> Vec<u8> {
    pem::parse(read(dir, n)).unwrap().into_contents()
}

/// Revoke `certs` in `ca`'s database (`section` of ext.cnf), then write its CRL to `crl`.
fn revoke(dir: &Path, section: &str, ca: &str, certs: &[&str], crl: &str) {
    let (key, pem) = (format!("{ca}.key"), format!("{ca}.pem"));
    let base = [
        "ca", "-config", "ext.cnf", "-name", section, "-keyfile", &key, "-cert", &pem,
    ];
    for cert in certs {
        let mut args = base.to_vec();
        args.extend(["-revoke", cert, "-crl_reason", "superseded"]);
        openssl(dir, &args);
    }
    let mut args = base.to_vec();
    args.extend(["-gencrl", "-out", crl]);
    openssl(dir, &args);
}

/// Build the whole PKI into `dir` (which must exist and be empty).
fn build(dir: &Path) {
    std::fs::write(dir.join("ext.cnf"), EXTENSIONS).unwrap();
    for db in ["index.txt", "index-device-ca.txt"] {
        std::fs::write(dir.join(db), "").unwrap();
    }
    for n in ["crlnumber", "crlnumber-device-ca"] {
        std::fs::write(dir.join(n), "01\n").unwrap();
    }
    genkey(dir, "root.key", KeyType::Rsa(4096));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-subj",
            "/DC=test/DC=latchkey/DC=corp/CN=Corp Root CA",
            "-days",
            "3650",
            "-sha256",
            "-addext",
            "basicConstraints=critical,CA:true",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "root.pem",
        ],
    );
    let cas = [
        ("issuing", KeyType::Rsa(2048), "Corp Issuing CA 1", "0x1001"),
        (
            "device-ca",
            KeyType::Ec("P-256"),
            "Corp Device CA 2",
            "0x1002",
        ),
    ];
    for (name, kind, cn, serial) in cas {
        genkey(dir, &format!("{name}.key"), kind);
        let subject = format!("/DC=test/DC=latchkey/DC=corp/CN={cn}");
        issue(dir, name, &subject, "root", "issuing_ca", serial);
    }
    genkey(dir, "server.key", KeyType::Rsa(2048));
    let server_subject = format!("/O=Corp/CN={SERVER_NAME}");
    issue(
        dir,
        "server",
        &server_subject,
        "issuing",
        "server",
        "0x5e01",
    );
    std::fs::write(dir.join(PFX_PASSWORD_FILE), "Corp-Export-2026!\n").unwrap();
    for d in DEVICES {
        let (stem, kind, ca) = (d.stem, d.key, d.ca);
        let ext = match kind {
            KeyType::Rsa(_) => "user",
            KeyType::Ec(_) => "user_ec",
        };
        // The certificate the renewal replaced (same subject, its own key), then the renewal.
        for (name, serial) in [
            (format!("{stem}-old"), d.old_serial),
            (stem.into(), d.new_serial),
        ] {
            genkey(dir, &format!("{name}.key"), kind);
            issue(dir, &name, DEVICE_SUBJECT, ca, ext, serial);
            // The leaf then its CA, one PEM file.
            std::fs::write(
                dir.join(format!("{name}-chain.pem")),
                read(dir, &format!("{name}.pem")) + &read(dir, &format!("{ca}.pem")),
            )
            .unwrap();
        }
        // Exported with all certificates in the path (its CA and the root).
        std::fs::write(
            dir.join(format!("{stem}-path.pem")),
            read(dir, &format!("{ca}.pem")) + &read(dir, "root.pem"),
        )
        .unwrap();
        openssl(
            dir,
            &[
                "pkcs12",
                "-export",
                "-in",
                &format!("{stem}.pem"),
                "-inkey",
                &format!("{stem}.key"),
                "-certfile",
                &format!("{stem}-path.pem"),
                "-name",
                "device-0042",
                "-passout",
                &format!("file:{PFX_PASSWORD_FILE}"),
                "-out",
                &format!("{stem}.pfx"),
            ],
        );
    }
    revoke(
        dir,
        "issuing",
        "issuing",
        &["device-rsa-old.pem", "device-p384-old.pem"],
        "issuing.crl",
    );
    revoke(
        dir,
        "device_ca",
        "device-ca",
        &["device-p256-old.pem"],
        "device-ca.crl",
    );
    // The servers trust the root only; each client certificate is checked against its CA's
    // CRL, found in the same file.
    std::fs::write(
        dir.join("ca-crl.pem"),
        read(dir, "root.pem") + &read(dir, "issuing.crl") + &read(dir, "device-ca.crl"),
    )
    .unwrap();
    // The server sends its issuing CA after its certificate.
    std::fs::write(
        dir.join("server-chain.pem"),
        read(dir, "server.pem") + &read(dir, "issuing.pem"),
    )
    .unwrap();
}

/// The PKI's directory, built on first use in this test run and shared by the run's tests
/// (nextest runs each in its own process): `$CARGO_TARGET_TMPDIR/enterprise-pki/<run>`, where
/// `<run>` is nextest's run id (or this process's id under `cargo test`). A complete build is
/// marked by a `done` file, written last under the lock. Builds of other runs older than a
/// day are removed.
fn shared_pki() -> PathBuf {
    apt::require(&["openssl"]);
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("enterprise-pki");
    std::fs::create_dir_all(&root).unwrap();
    let run =
        std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| format!("pid-{}", std::process::id()));
    let dir = root.join(&run);
    let lock = std::fs::File::create(root.join(format!("{run}.lock"))).unwrap();
    lock.lock().unwrap();
    if dir.join("done").exists() {
        return dir;
    }
    let day = std::time::Duration::from_secs(24 * 3600);
    for e in std::fs::read_dir(&root).unwrap().flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > day));
        if old && e.path() != dir {
            let _ = std::fs::remove_dir_all(e.path()).or_else(|_| std::fs::remove_file(e.path()));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let started = std::time::Instant::now();
    build(&dir);
    std::fs::write(dir.join("done"), "").unwrap();
    eprintln!(
        "enterprise PKI built in {:?} at {}",
        started.elapsed(),
        dir.display()
    );
    dir
}

/// How the device is given its credential.
#[derive(Clone, Copy, Debug)]
enum Device {
    /// RSA-2048 from the issuing CA: the `.pfx` only.
    RsaPfx,
    /// P-384 from the issuing CA: the `.pfx` only.
    P384Pfx,
    /// P-256 from the device CA: a PEM file with the leaf then the device CA, the key apart.
    P256ChainPem,
    /// The same P-256 certificate: the `.pfx` only.
    P256Pfx,
}

impl Device {
    /// Its file stem and its issuing CA's file stem.
    fn files(self) -> (&'static str, &'static str) {
        let stem = match self {
            Device::RsaPfx => "device-rsa",
            Device::P384Pfx => "device-p384",
            Device::P256ChainPem | Device::P256Pfx => "device-p256",
        };
        let d = DEVICES
            .iter()
            .find(|d| d.stem == stem)
            .unwrap_or_else(|| panic!("{stem} not in DEVICES"));
        (stem, d.ca)
    }

    fn pfx(self) -> bool {
        !matches!(self, Device::P256ChainPem)
    }
}

#[derive(Clone, Copy)]
enum Server {
    FreeRadius,
    Hostapd,
}

fn slot(state: SlotStateArg, cert: PathBuf, key: PathBuf) -> SlotSpec {
    SlotSpec { state, cert, key }
}

/// Authenticate with `client`; checks the outcome, the TLS version, the MSK against the
/// MS-MPPE keys, the slot and file used, and that the server logged exactly `serial` as the
/// certificate it was presented.
fn authenticates(
    proc: &ServerProcess,
    client: &ClientArgs,
    what: &str,
    (slot, file): (usize, &Path),
    serial: &str,
) {
    let radius = RadiusArgs::new(proc.addr(), proc.secret.clone());
    let mark = proc.log_mark();
    let mut log = Vec::new();
    let r = latchkey_sim::cli::report::run_radius(&radius, client, &mut |l| log.push(l));
    let explain = || {
        format!(
            "{what}:\n{}\n{}\n--- {} log:\n{}",
            log.join("\n"),
            r.summary(),
            proc.name,
            proc.log_tail()
        )
    };
    assert!(r.ok(), "{}", explain());
    let want = proc.tls.to_string();
    assert_eq!(
        r.tls_version.as_deref(),
        Some(want.as_str()),
        "{}",
        explain()
    );
    assert_eq!(r.msk_matches_mppe, Some(true), "{}", explain());
    assert_eq!(r.slot, Some(slot), "{}", explain());
    let file = file.display().to_string();
    assert_eq!(r.slot_file.as_deref(), Some(file.as_str()), "{}", explain());
    // The server's own log: it was presented this certificate and no other.
    assert_eq!(proc.client_serials_since(mark), [serial], "{}", explain());
}

fn against(server: Server, tls: ServerTls, device: Device) {
    apt::require(apt::SERVER_PACKAGES);
    let dir = shared_pki();
    let (stem, ca) = device.files();
    let files = |name: &str| CertFiles {
        cert: dir.join(format!("{name}-chain.pem")),
        key: dir.join(format!("{name}.key")),
        der: der(&dir, &format!("{name}.pem")),
    };
    let pki = FilePki {
        dir: dir.clone(),
        ca: dir.join("root.pem"),
        crl: dir.join(format!("{ca}.crl")),
        ca_with_crl: dir.join("ca-crl.pem"),
        server: CertFiles {
            cert: dir.join("server-chain.pem"),
            key: dir.join("server.key"),
            der: der(&dir, "server.pem"),
        },
        client_old: files(&format!("{stem}-old")),
        client_new: files(stem),
    };
    let tmp = tempfile::tempdir().unwrap();
    let proc = match server {
        Server::FreeRadius => freeradius::start(tmp.path(), &pki, &FreeRadiusOptions::new(tls)),
        Server::Hostapd => hostapd::start(tmp.path(), &pki, &HostapdOptions::new(tls)),
    }
    .unwrap_or_else(|err| panic!("{err}"));
    let pfx = dir.join(format!("{stem}.pfx"));
    // STATE:FILE.pfx: certificate, chain and key from the one file; or the PEM chain and key.
    let active = if device.pfx() {
        slot(SlotStateArg::Active, pfx.clone(), pfx.clone())
    } else {
        let new = &pki.client_new;
        slot(SlotStateArg::Active, new.cert.clone(), new.key.clone())
    };
    let client = ClientArgs {
        ca: vec![pki.ca.clone()],
        server_name: vec![SERVER_NAME.into()],
        domain_suffix: vec![],
        identity: IDENTITY.into(),
        anonymous_identity: false,
        pins: vec![],
        slots: vec![active.clone()],
        table: None,
        key_pass: device
            .pfx()
            .then(|| PassSource::File(dir.join(PFX_PASSWORD_FILE))),
        chain: vec![],
        tls: TlsArg::Both,
        fragment_size: 1398,
        auth_period_ms: 30_000,
    };
    // The slot holds the leaf and its CA, from the .pfx (the root in it is not kept) or from
    // the PEM file.
    let built = client.build().unwrap();
    let kept: Vec<Vec<u8>> = built.table.with(|t| {
        let s = t.get(built.slots[0].index).unwrap();
        assert_eq!(s.der(), pki.client_new.der.as_slice());
        s.intermediates().map(<[u8]>::to_vec).collect()
    });
    assert_eq!(kept, [der(&dir, &format!("{ca}.pem"))], "{device:?}");

    let (new_serial, old_serial) = (pki.client_new.serial_hex(), pki.client_old.serial_hex());
    authenticates(
        &proc,
        &client,
        "renewed certificate alone",
        (0, &active.cert),
        &new_serial,
    );

    // KB932521: the revoked predecessor archived, the renewal active.
    let old = |state| {
        slot(
            state,
            pki.client_old.cert.clone(),
            pki.client_old.key.clone(),
        )
    };
    let mut renewed = client.clone();
    renewed.slots = vec![old(SlotStateArg::Archived), active.clone()];
    let what = format!("renewal (archived serial {old_serial})");
    authenticates(&proc, &renewed, &what, (1, &active.cert), &new_serial);

    // Control: the server enforces the CA's CRL on the revoked certificate.
    let mut revoked = client.clone();
    revoked.slots = vec![old(SlotStateArg::Active)];
    let serials = refused(&proc, &revoked, "revoked predecessor");
    assert_eq!(serials, [old_serial], "{}", proc.log_tail());

    // Control: the server trusts only the root, so the CA the device's file carries is what
    // lets it authenticate: the renewed leaf alone, without it, is refused (the server saw it).
    let mut bare = client.clone();
    bare.key_pass = None;
    let key = pki.client_new.key.clone();
    bare.slots = vec![slot(
        SlotStateArg::Active,
        dir.join(format!("{stem}.pem")),
        key,
    )];
    let serials = refused(&proc, &bare, "leaf without its CA");
    assert_eq!(serials, [new_serial], "{}", proc.log_tail());
}

/// Authenticate with `client`, which the server must refuse; returns the serials it logged.
fn refused(proc: &ServerProcess, client: &ClientArgs, what: &str) -> Vec<String> {
    let mark = proc.log_mark();
    let radius = RadiusArgs::new(proc.addr(), proc.secret.clone());
    let r = latchkey_sim::cli::report::run_radius(&radius, client, &mut |_| {});
    let explain = || {
        let log = proc.log_tail();
        format!("{what}: {}\n--- {} log:\n{log}", r.summary(), proc.name)
    };
    assert_eq!(r.outcome, "failed", "{}", explain());
    assert_eq!(
        r.error_kind.as_deref(),
        Some("rejected-certificate"),
        "{}",
        explain()
    );
    proc.client_serials_since(mark)
}

#[test]
fn enterprise_rsa_pki_pfx_against_freeradius_tls12() {
    against(Server::FreeRadius, ServerTls::V12, Device::RsaPfx);
}

#[test]
fn enterprise_rsa_pki_pfx_against_freeradius_tls13() {
    against(Server::FreeRadius, ServerTls::V13, Device::RsaPfx);
}

#[test]
fn enterprise_rsa_pki_pfx_against_hostapd_tls12() {
    against(Server::Hostapd, ServerTls::V12, Device::RsaPfx);
}

#[test]
fn enterprise_rsa_pki_pfx_against_hostapd_tls13() {
    against(Server::Hostapd, ServerTls::V13, Device::RsaPfx);
}

#[test]
fn enterprise_p384_pfx_against_freeradius_tls12() {
    against(Server::FreeRadius, ServerTls::V12, Device::P384Pfx);
}

#[test]
fn enterprise_p384_pfx_against_freeradius_tls13() {
    against(Server::FreeRadius, ServerTls::V13, Device::P384Pfx);
}

#[test]
fn enterprise_p384_pfx_against_hostapd_tls12() {
    against(Server::Hostapd, ServerTls::V12, Device::P384Pfx);
}

#[test]
fn enterprise_p384_pfx_against_hostapd_tls13() {
    against(Server::Hostapd, ServerTls::V13, Device::P384Pfx);
}

#[test]
fn enterprise_p256_chain_pem_against_freeradius_tls12() {
    against(Server::FreeRadius, ServerTls::V12, Device::P256ChainPem);
}

#[test]
fn enterprise_p256_chain_pem_against_freeradius_tls13() {
    against(Server::FreeRadius, ServerTls::V13, Device::P256ChainPem);
}

#[test]
fn enterprise_p256_chain_pem_against_hostapd_tls12() {
    against(Server::Hostapd, ServerTls::V12, Device::P256ChainPem);
}

#[test]
fn enterprise_p256_chain_pem_against_hostapd_tls13() {
    against(Server::Hostapd, ServerTls::V13, Device::P256ChainPem);
}

#[test]
fn enterprise_p256_pfx_against_freeradius_tls12() {
    against(Server::FreeRadius, ServerTls::V12, Device::P256Pfx);
}

#[test]
fn enterprise_p256_pfx_against_freeradius_tls13() {
    against(Server::FreeRadius, ServerTls::V13, Device::P256Pfx);
}

#[test]
fn enterprise_p256_pfx_against_hostapd_tls12() {
    against(Server::Hostapd, ServerTls::V12, Device::P256Pfx);
}

#[test]
fn enterprise_p256_pfx_against_hostapd_tls13() {
    against(Server::Hostapd, ServerTls::V13, Device::P256Pfx);
}
