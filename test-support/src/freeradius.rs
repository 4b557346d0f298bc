//! Starts FreeRADIUS 3.2 (Debian `freeradius`) on 127.0.0.1 in a temporary directory, with the
//! eap module in EAP-TLS mode only, limited to TLS 1.2 or 1.3, checking client certificates
//! against the test CA and its CRL. Each "Login OK" / "Login incorrect" line names the serial of
//! the client certificate presented. The system configuration and service are not touched.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::pki_files::FilePki;
use crate::server_process::{
    free_udp_port, write, ServerError, ServerProcess, ServerTls, FREERADIUS_SERIAL_MARK,
};

/// The shipped configuration we copy.
pub const SYSTEM_RADDB: &str = "/etc/freeradius/3.0";

/// What FreeRADIUS appends to each "Login OK" / "Login incorrect" line (`msg_goodpass`,
/// `msg_badpass`): the serial of the client certificate the device presented
/// (`TLS-Client-Cert-Serial`, lower-case hex), empty when the request carried none.
fn client_serial_log() -> String {
    format!("({FREERADIUS_SERIAL_MARK}%{{TLS-Client-Cert-Serial}})")
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct FreeRadiusOptions {
    /// The TLS version it accepts.
    pub tls: ServerTls,
    /// The RADIUS shared secret for client 127.0.0.1.
    pub secret: String,
    /// Its EAP-TLS fragment size (FreeRADIUS' default is 1024).
    pub fragment_size: usize,
    /// Run with `-X` (full debug trace in the log; slower).
    pub debug: bool,
}

impl FreeRadiusOptions {
    /// Defaults for a TLS version: secret `latchkey-test-secret`, fragment size 1024.
    pub fn new(tls: ServerTls) -> Self {
        FreeRadiusOptions {
            tls,
            secret: "latchkey-test-secret".into(),
            fragment_size: 1024,
            debug: false,
        }
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), ServerError> {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .map_err(|e| ServerError::Spawn("cp", e))?;
    if !st.success() {
        return Err(ServerError::Config(format!(
            "cannot copy {} to {}",
            from.display(),
            to.display()
        )));
    }
    Ok(())
}

fn io(p: &Path) -> impl FnOnce(std::io::Error) -> ServerError + '_ {
    move |e| ServerError::Io(p.to_owned(), e)
}

/// The files the server serves EAP-TLS with.
#[derive(Debug, Clone)]
pub struct ServerFiles {
    /// Its certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA certificate followed by its CRL (PEM): client certificates are checked against
    /// both (`check_crl = yes`).
    pub ca_with_crl: PathBuf,
}

impl From<&FilePki> for ServerFiles {
    fn from(pki: &FilePki) -> Self {
        ServerFiles {
            cert: pki.server.cert.clone(),
            key: pki.server.key.clone(),
            ca_with_crl: pki.ca_with_crl.clone(),
        }
    }
}

/// Write the configuration into `dir/raddb` and return the port it will listen on.
pub fn configure(dir: &Path, pki: &FilePki, opts: &FreeRadiusOptions) -> Result<u16, ServerError> {
    configure_files(dir, &ServerFiles::from(pki), opts)
}

/// [`configure`] with the server's files given one by one (a PKI other than [`FilePki`]).
pub fn configure_files(
    dir: &Path,
    files: &ServerFiles,
    opts: &FreeRadiusOptions,
) -> Result<u16, ServerError> {
    let raddb = dir.join("raddb");
    copy_dir(Path::new(SYSTEM_RADDB), &raddb)?;
    for sub in ["log", "run", "radacct"] {
        fs::create_dir_all(dir.join(sub)).map_err(io(&dir.join(sub)))?;
    }
    let conf_path = raddb.join("radiusd.conf");
    let conf = fs::read_to_string(&conf_path).map_err(io(&conf_path))?;
    let d = dir.display();
    let conf: String = conf
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("raddbdir =") {
                format!("raddbdir = {}", raddb.display())
            } else if t.starts_with("logdir =") {
                format!("logdir = {d}/log")
            } else if t.starts_with("run_dir =") {
                format!("run_dir = {d}/run")
            } else if t.starts_with("radacctdir =") {
                format!("radacctdir = {d}/radacct")
            } else if t.starts_with("user =") || t.starts_with("group =") {
                format!("#{l}")
            } else if t.starts_with("reject_delay =") {
                "\treject_delay = 0".into()
            } else if t.starts_with("auth =") {
                // "Login OK" / "Login incorrect" per request, naming the Calling-Station-Id.
                "\tauth = yes".into()
            } else if t.starts_with("#\tmsg_goodpass =") || t.starts_with("msg_goodpass =") {
                format!("\tmsg_goodpass = \"{}\"", client_serial_log())
            } else if t.starts_with("#\tmsg_badpass =") || t.starts_with("msg_badpass =") {
                format!("\tmsg_badpass = \"{}\"", client_serial_log())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    write(&conf_path, &conf)?;

    write(
        &raddb.join("clients.conf"),
        &format!(
            "client latchkey {{\n\tipaddr = 127.0.0.1\n\tsecret = {}\n\tshortname = latchkey\n}}\n",
            opts.secret
        ),
    )?;

    // Only the modules an EAP-TLS-only server needs (faster start, nothing else listening).
    let mods = raddb.join("mods-enabled");
    for e in fs::read_dir(&mods).map_err(io(&mods))?.flatten() {
        fs::remove_file(e.path()).map_err(io(&e.path()))?;
    }
    for m in ["always", "expr"] {
        std::os::unix::fs::symlink(format!("../mods-available/{m}"), mods.join(m))
            .map_err(io(&mods.join(m)))?;
    }
    let v = opts.tls.to_string();
    write(
        &mods.join("eap"),
        &format!(
            r#"eap {{
	default_eap_type = tls
	timer_expire = 60
	ignore_unknown_eap_types = no
	cisco_accounting_username_bug = no
	max_sessions = ${{max_requests}}
	tls-config tls-common {{
		private_key_password =
		private_key_file = {key}
		certificate_file = {cert}
		ca_file = {ca}
		check_crl = yes
		fragment_size = {frag}
		include_length = yes
		cipher_list = "DEFAULT"
		cipher_server_preference = no
		ecdh_curve = ""
		tls_min_version = "{v}"
		tls_max_version = "{v}"
		cache {{
			enable = no
		}}
		verify {{
		}}
		ocsp {{
			enable = no
		}}
	}}
	tls {{
		tls = tls-common
	}}
}}
"#,
            key = files.key.display(),
            cert = files.cert.display(),
            ca = files.ca_with_crl.display(),
            frag = opts.fragment_size,
        ),
    )?;

    let sites = raddb.join("sites-enabled");
    for e in fs::read_dir(&sites).map_err(io(&sites))?.flatten() {
        fs::remove_file(e.path()).map_err(io(&e.path()))?;
    }
    let port = free_udp_port();
    write(
        &sites.join("latchkey"),
        &format!(
            r#"server latchkey {{
	listen {{
		type = auth
		ipaddr = 127.0.0.1
		port = {port}
	}}
	authorize {{
		eap {{
			ok = return
			updated = return
		}}
	}}
	authenticate {{
		eap
	}}
	post-auth {{
		Post-Auth-Type REJECT {{
			eap
		}}
	}}
}}
"#
        ),
    )?;
    Ok(port)
}

/// Configure (in `dir`, which must exist and outlive the server), check the configuration
/// with `freeradius -C`, start the server and wait until it listens.
pub fn start(
    dir: &Path,
    pki: &FilePki,
    opts: &FreeRadiusOptions,
) -> Result<ServerProcess, ServerError> {
    start_files(dir, &ServerFiles::from(pki), opts)
}

/// [`start`] with the server's files given one by one (a PKI other than [`FilePki`]).
pub fn start_files(
    dir: &Path,
    files: &ServerFiles,
    opts: &FreeRadiusOptions,
) -> Result<ServerProcess, ServerError> {
    let port = configure_files(dir, files, opts)?;
    let raddb = dir.join("raddb");
    let check = Command::new("freeradius")
        .arg("-C")
        .arg("-d")
        .arg(&raddb)
        .output()
        .map_err(|e| ServerError::Spawn("freeradius", e))?;
    if !check.status.success() {
        let text = String::from_utf8_lossy(&check.stdout).to_string()
            + &String::from_utf8_lossy(&check.stderr);
        let lines: Vec<&str> = text.lines().collect();
        return Err(ServerError::Config(
            lines[lines.len().saturating_sub(20)..].join("\n"),
        ));
    }
    let log = dir.join("freeradius.log");
    let mut cmd = Command::new("freeradius");
    cmd.arg("-f").arg("-d").arg(&raddb);
    if opts.debug {
        cmd.arg("-X");
    } else {
        cmd.arg("-l").arg("stdout");
    }
    ServerProcess::spawn("freeradius", cmd, port, &opts.secret, log, opts.tls)
}
