//! Runs wpa_supplicant's `eapol_test` (Debian `eapoltest`), the reference supplicant, against a
//! test server: writes its network block for EAP-TLS with the file PKI, runs it, and reads the
//! outcome, the RADIUS round trips and whether its MSK matched the server's MS-MPPE keys.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::pki_files::{CertFiles, FilePki, IDENTITY, SERVER_NAME};
use crate::server_process::ServerProcess;

/// What one `eapol_test` run reported.
#[derive(Debug, Clone)]
pub struct EapolTestResult {
    /// It printed SUCCESS.
    pub success: bool,
    /// Its MSK equalled the MS-MPPE keys of the Access-Accept ("MPPE keys OK").
    pub mppe_ok: bool,
    /// RADIUS Access-Requests it sent.
    pub round_trips: usize,
    /// Its whole output.
    pub output: String,
}

/// Write the network block for a client certificate; return the file.
pub fn write_config(dir: &Path, pki: &FilePki, client: &CertFiles) -> std::io::Result<PathBuf> {
    let path = dir.join("eapol_test.conf");
    std::fs::write(
        &path,
        format!(
            "network={{\n\
             \tkey_mgmt=WPA-EAP\n\
             \teap=TLS\n\
             \tidentity=\"{IDENTITY}\"\n\
             \tca_cert=\"{ca}\"\n\
             \tclient_cert=\"{cert}\"\n\
             \tprivate_key=\"{key}\"\n\
             \tdomain_match=\"{SERVER_NAME}\"\n\
             \tphase1=\"tls_disable_tlsv1_0=1 tls_disable_tlsv1_1=1 tls_disable_tlsv1_3=0\"\n\
             }}\n",
            ca = pki.ca.display(),
            cert = client.cert.display(),
            key = client.key.display(),
        ),
    )?;
    Ok(path)
}

/// The command line that runs `eapol_test` with `config` against `server` (for timing and
/// valgrind wrappers too).
pub fn command(config: &Path, server: &ServerProcess) -> Vec<String> {
    vec![
        "eapol_test".into(),
        "-c".into(),
        config.display().to_string(),
        "-a".into(),
        "127.0.0.1".into(),
        "-p".into(),
        server.port.to_string(),
        "-s".into(),
        server.secret.clone(),
        "-r".into(),
        "0".into(),
        "-t".into(),
        "10".into(),
    ]
}

/// Parse `eapol_test`'s output.
pub fn parse(output: &str) -> EapolTestResult {
    EapolTestResult {
        success: output.lines().any(|l| l.trim() == "SUCCESS"),
        mppe_ok: output.contains("MPPE keys OK: 1"),
        round_trips: output
            .matches("Sending RADIUS message to authentication server")
            .count(),
        output: output.to_owned(),
    }
}

/// Run one authentication.
pub fn run(
    dir: &Path,
    pki: &FilePki,
    client: &CertFiles,
    server: &ServerProcess,
) -> std::io::Result<EapolTestResult> {
    let conf = write_config(dir, pki, client)?;
    let args = command(&conf, server);
    let out = Command::new(&args[0]).args(&args[1..]).output()?;
    Ok(parse(
        &(String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)),
    ))
}
