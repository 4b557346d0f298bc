//! An enterprise-like PKI, built with openssl as an AD CS deployment issues it, against
//! FreeRADIUS 3.2 and hostapd's EAP server (TLS 1.2 and 1.3, on loopback): an RSA-4096 root, an RSA-2048 issuing CA, an
//! RSA-2048 RADIUS server certificate and an RSA-2048 device certificate carrying a UPN
//! `otherName` SAN and the Microsoft certificate-template extension, exported with its chain
//! as a password-protected PKCS#12 file the way Windows exports a `.pfx`. The device is given
//! only the `.pfx` (`--slot active:device.pfx --key-pass file:...`): its certificate, key and
//! issuing CA come from it. It must authenticate with the MSK equal to the MS-MPPE keys.
//!
//! Then the KB932521 renewal: the device's previous certificate (same subject, RSA-2048,
//! revoked by the issuing CA's CRL) is loaded archived next to the renewed `.pfx`: the renewed
//! one authenticates, and the server's log names the renewed certificate's serial and never the
//! archived one's; and, as a control that the server enforces the CRL, the revoked one made
//! active is refused (the server's log naming its serial).

use std::path::{Path, PathBuf};
use std::process::Command;

use latchkey_sim::config::{ClientArgs, PassSource, SlotSpec, SlotStateArg, TlsArg};
use latchkey_sim::relay::RadiusArgs;
use latchkey_tests::apt;
use latchkey_tests::freeradius::{self, FreeRadiusOptions};
use latchkey_tests::hostapd::{self, HostapdOptions};
use latchkey_tests::pki_files::{CertFiles, FilePki, IDENTITY, SERVER_NAME};
use latchkey_tests::server_process::ServerTls;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

fn rsa_key(dir: &Path, name: &str, bits: u32) {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &format!("rsa_keygen_bits:{bits}"),
            "-out",
            name,
        ],
    );
}

/// Extensions of each certificate kind, as an AD CS template would set them.
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

struct Enterprise {
    pki: FilePki,
    pfx: PathBuf,
    pass_file: PathBuf,
}

fn build(dir: &Path) -> Enterprise {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("ext.cnf"), EXTENSIONS).unwrap();
    rsa_key(dir, "root.key", 4096);
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
    rsa_key(dir, "issuing.key", 2048);
    issue(
        dir,
        "issuing",
        "/DC=test/DC=latchkey/DC=corp/CN=Corp Issuing CA 1",
        "root",
        "issuing_ca",
        "0x1001",
    );
    rsa_key(dir, "server.key", 2048);
    issue(
        dir,
        "server",
        &format!("/O=Corp/CN={SERVER_NAME}"),
        "issuing",
        "server",
        "0x5e01",
    );
    // The certificate the renewal replaced: same subject, its own key, revoked below.
    rsa_key(dir, "device-old.key", 2048);
    issue(
        dir,
        "device-old",
        "/DC=test/DC=latchkey/DC=corp/OU=Devices/CN=device-0042",
        "issuing",
        "user",
        "0x7a0041",
    );
    rsa_key(dir, "device.key", 2048);
    issue(
        dir,
        "device",
        "/DC=test/DC=latchkey/DC=corp/OU=Devices/CN=device-0042",
        "issuing",
        "user",
        "0x7a0042",
    );
    // The issuing CA's CRL (FreeRADIUS checks the device certificate's issuer's CRL).
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
    openssl(
        dir,
        &[
            "ca",
            "-config",
            "ext.cnf",
            "-keyfile",
            "issuing.key",
            "-cert",
            "issuing.pem",
            "-revoke",
            "device-old.pem",
            "-crl_reason",
            "superseded",
        ],
    );
    openssl(
        dir,
        &[
            "ca",
            "-config",
            "ext.cnf",
            "-gencrl",
            "-keyfile",
            "issuing.key",
            "-cert",
            "issuing.pem",
            "-out",
            "issuing.crl",
        ],
    );
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
    std::fs::write(
        dir.join("ca-crl.pem"),
        read("root.pem") + &read("issuing.pem") + &read("issuing.crl"),
    )
    .unwrap();
    // The server sends its issuing CA after its certificate.
    std::fs::write(
        dir.join("server-chain.pem"),
        read("server.pem") + &read("issuing.pem"),
    )
    .unwrap();
    std::fs::write(
        dir.join("chain.pem"),
        read("issuing.pem") + &read("root.pem"),
    )
    .unwrap();
    let pass_file = dir.join("pfx-password");
    std::fs::write(&pass_file, "Corp-Export-2026!\n").unwrap();
    openssl(
        dir,
        &[
            "pkcs12",
            "-export",
            "-in",
            "device.pem",
            "-inkey",
            "device.key",
            "-certfile",
            "chain.pem",
            "-name",
            "device-0042",
            "-passout",
            "file:pfx-password",
            "-out",
            "device.pfx",
        ],
    );
    let der = |n: &str| pem::parse(read(n)).unwrap().into_contents();
    let device = CertFiles {
        cert: dir.join("device.pem"),
        key: dir.join("device.key"),
        der: der("device.pem"),
    };
    Enterprise {
        pki: FilePki {
            dir: dir.to_owned(),
            ca: dir.join("root.pem"),
            crl: dir.join("issuing.crl"),
            ca_with_crl: dir.join("ca-crl.pem"),
            server: CertFiles {
                cert: dir.join("server-chain.pem"),
                key: dir.join("server.key"),
                der: der("server.pem"),
            },
            client_old: CertFiles {
                cert: dir.join("device-old.pem"),
                key: dir.join("device-old.key"),
                der: der("device-old.pem"),
            },
            client_new: device,
        },
        pfx: dir.join("device.pfx"),
        pass_file,
    }
}

#[derive(Clone, Copy)]
enum Server {
    FreeRadius,
    Hostapd,
}

fn against(server: Server, tls: ServerTls) {
    apt::require(apt::SERVER_PACKAGES);
    apt::require(&["openssl"]);
    let tmp = tempfile::tempdir().unwrap();
    let e = build(&tmp.path().join("pki"));
    let proc = match server {
        Server::FreeRadius => freeradius::start(tmp.path(), &e.pki, &FreeRadiusOptions::new(tls)),
        Server::Hostapd => hostapd::start(tmp.path(), &e.pki, &HostapdOptions::new(tls)),
    }
    .unwrap_or_else(|err| panic!("{err}"));
    let radius = RadiusArgs::new(proc.addr(), proc.secret.clone());
    let client = ClientArgs {
        ca: vec![e.pki.ca.clone()],
        server_name: vec![SERVER_NAME.into()],
        domain_suffix: vec![],
        identity: IDENTITY.into(),
        anonymous_identity: false,
        pins: vec![],
        // STATE:FILE.pfx: certificate, chain and key from the one file.
        slots: vec![SlotSpec {
            state: SlotStateArg::Active,
            cert: e.pfx.clone(),
            key: e.pfx.clone(),
        }],
        table: None,
        key_pass: Some(PassSource::File(e.pass_file.clone())),
        chain: vec![],
        tls: TlsArg::Both,
        fragment_size: 1398,
        auth_period_ms: 30_000,
    };
    // The slot holds the issuing CA from the .pfx (the root in it is not kept).
    let built = client.build().unwrap();
    let kept: Vec<Vec<u8>> = built.table.with(|t| {
        let s = t.get(built.slots[0].index).unwrap();
        assert_eq!(s.der(), e.pki.client_new.der.as_slice());
        s.intermediates().map(<[u8]>::to_vec).collect()
    });
    let issuing = pem::parse(std::fs::read(e.pki.dir.join("issuing.pem")).unwrap()).unwrap();
    assert_eq!(kept, [issuing.contents().to_vec()]);

    let mut log = Vec::new();
    let r = latchkey_sim::report::run_radius(&radius, &client, &mut |l| log.push(l));
    let explain = || {
        format!(
            "{}\n{}\n--- log:\n{}",
            log.join("\n"),
            r.summary(),
            proc.log_tail()
        )
    };
    assert!(r.ok(), "{}", explain());
    let want = tls.to_string();
    assert_eq!(
        r.tls_version.as_deref(),
        Some(want.as_str()),
        "{}",
        explain()
    );
    assert_eq!(r.msk_matches_mppe, Some(true), "{}", explain());
    assert_eq!(
        r.slot_file.as_deref(),
        Some(e.pfx.display().to_string().as_str())
    );

    // KB932521: the revoked predecessor archived, the renewal from the .pfx active.
    let old = |state| SlotSpec {
        state,
        cert: e.pki.client_old.cert.clone(),
        key: e.pki.client_old.key.clone(),
    };
    let mut renewed = client.clone();
    renewed.slots = vec![old(SlotStateArg::Archived), client.slots[0].clone()];
    let mut log = Vec::new();
    let mark = proc.log_mark();
    let r = latchkey_sim::report::run_radius(&radius, &renewed, &mut |l| log.push(l));
    assert!(r.ok(), "renewal:\n{}\n{}", log.join("\n"), proc.log_tail());
    // The server's own log: it was presented the renewed certificate, never the archived one.
    let (new_serial, old_serial) = (e.pki.client_new.serial_hex(), e.pki.client_old.serial_hex());
    assert_eq!(
        proc.client_serials_since(mark),
        [new_serial],
        "renewal: the server logged other certificates than the renewed one ({old_serial} is \
         the archived one):\n{}",
        proc.log_tail()
    );
    assert_eq!(r.slot, Some(1), "{}", r.summary());
    assert_eq!(
        r.slot_file.as_deref(),
        Some(e.pfx.display().to_string().as_str())
    );
    // Control: the server enforces the issuing CA's CRL on the revoked certificate.
    let mut revoked = client.clone();
    revoked.slots = vec![old(SlotStateArg::Active)];
    let mark = proc.log_mark();
    let r = latchkey_sim::report::run_radius(&radius, &revoked, &mut |_| {});
    assert_eq!(
        proc.client_serials_since(mark),
        [old_serial],
        "{}",
        proc.log_tail()
    );
    assert_eq!(r.outcome, "failed", "{}", r.summary());
    assert_eq!(
        r.error_kind.as_deref(),
        Some("rejected-certificate"),
        "{}",
        r.summary()
    );
}

#[test]
fn enterprise_rsa_pki_pfx_against_freeradius_tls12() {
    against(Server::FreeRadius, ServerTls::V12);
}

#[test]
fn enterprise_rsa_pki_pfx_against_freeradius_tls13() {
    against(Server::FreeRadius, ServerTls::V13);
}

#[test]
fn enterprise_rsa_pki_pfx_against_hostapd_tls12() {
    against(Server::Hostapd, ServerTls::V12);
}

#[test]
fn enterprise_rsa_pki_pfx_against_hostapd_tls13() {
    against(Server::Hostapd, ServerTls::V13);
}
