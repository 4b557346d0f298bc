//! Starts hostapd 2.10 (Debian `hostapd`) as a RADIUS server (`driver=none`, internal EAP
//! server, EAP-TLS only) in a temporary directory, limited to TLS 1.2 or 1.3, checking client
//! certificates against the test CA and its CRL. It accepts RADIUS only from 127.0.0.1. By
//! default it runs at its debug level, the only one at which it logs the client certificates it
//! is presented (with their serials).

use std::path::Path;
use std::process::Command;

use crate::pki_files::FilePki;
use crate::server_process::{free_udp_port, write, ServerError, ServerProcess, ServerTls};

/// How to run the server.
#[derive(Debug, Clone)]
pub struct HostapdOptions {
    /// The TLS version it accepts.
    pub tls: ServerTls,
    /// The RADIUS shared secret for client 127.0.0.1.
    pub secret: String,
    /// Its EAP-TLS fragment size (hostapd's default is 1398).
    pub fragment_size: usize,
    /// Run with `-dd` (debug log with message dumps; slower).
    pub debug: bool,
    /// Run with `-d`: hostapd logs each client certificate it is presented, with its serial
    /// (`authsrv: peer certificate: depth=0 serial_num=...`), only at its debug level. On by
    /// default; [`ServerProcess::client_serials_since`] reads those lines.
    pub log_peer_certificates: bool,
}

impl HostapdOptions {
    /// Defaults for a TLS version: secret `latchkey-test-secret`, fragment size 1398, peer
    /// certificates logged.
    pub fn new(tls: ServerTls) -> Self {
        HostapdOptions {
            tls,
            secret: "latchkey-test-secret".into(),
            fragment_size: 1398,
            debug: false,
            log_peer_certificates: true,
        }
    }
}

/// The internal EAP server part of a hostapd configuration (EAP-TLS only, the file PKI with
/// its CRL, the TLS version, the fragment size); writes the EAP user file into `dir`. Shared by
/// the RADIUS-server set-up here and any authenticator set-up (e.g. `driver=wired`).
pub fn eap_server_config(
    dir: &Path,
    pki: &FilePki,
    tls: ServerTls,
    fragment_size: usize,
) -> Result<String, ServerError> {
    let users = dir.join("hostapd.eap_user");
    write(&users, "* TLS\n")?;
    let flags = match tls {
        ServerTls::V12 => "[DISABLE-TLSv1.0][DISABLE-TLSv1.1][DISABLE-TLSv1.3]",
        ServerTls::V13 => "[DISABLE-TLSv1.0][DISABLE-TLSv1.1][DISABLE-TLSv1.2][ENABLE-TLSv1.3]",
    };
    Ok(format!(
        "eap_server=1\n\
         eap_user_file={users}\n\
         ca_cert={ca}\n\
         server_cert={cert}\n\
         private_key={key}\n\
         check_crl=1\n\
         tls_flags={flags}\n\
         fragment_size={fragment_size}\n",
        users = users.display(),
        ca = pki.ca_with_crl.display(),
        cert = pki.server.cert.display(),
        key = pki.server.key.display(),
    ))
}

/// Write `dir/hostapd.conf` (and its user and client files); return the port it will use.
pub fn configure(dir: &Path, pki: &FilePki, opts: &HostapdOptions) -> Result<u16, ServerError> {
    let clients = dir.join("hostapd.radius_clients");
    write(&clients, &format!("127.0.0.1/32 {}\n", opts.secret))?;
    let port = free_udp_port();
    write(
        &dir.join("hostapd.conf"),
        &format!(
            "driver=none\n\
             interface=latchkey-none\n\
             logger_stdout=-1\n\
             logger_stdout_level=2\n\
             {eap}\
             radius_server_clients={clients}\n\
             radius_server_auth_port={port}\n",
            eap = eap_server_config(dir, pki, opts.tls, opts.fragment_size)?,
            clients = clients.display(),
        ),
    )?;
    Ok(port)
}

/// Configure (in `dir`, which must exist and outlive the server), start hostapd and wait until
/// it listens.
pub fn start(
    dir: &Path,
    pki: &FilePki,
    opts: &HostapdOptions,
) -> Result<ServerProcess, ServerError> {
    let port = configure(dir, pki, opts)?;
    let mut cmd = Command::new("hostapd");
    if opts.debug {
        cmd.arg("-dd");
    } else if opts.log_peer_certificates {
        cmd.arg("-d");
    }
    cmd.arg(dir.join("hostapd.conf"));
    ServerProcess::spawn(
        "hostapd",
        cmd,
        port,
        &opts.secret,
        dir.join("hostapd.log"),
        opts.tls,
    )
}
