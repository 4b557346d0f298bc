//! A debugging aid, compiled only with the `keylog` feature (off by default): hands every TLS
//! secret of a handshake to the platform, in the shape of the NSS key log format
//! (`LABEL <client_random hex> <secret hex>`, the format Wireshark's "(Pre)-Master-Secret log"
//! reads), so a capture of a TLS 1.3 conversation can be decrypted. It defeats the rule that
//! secrets never leave the crate, on purpose and only where it is switched on: never enable
//! it in a product build, and treat what it writes like a private key.

/// Receives each TLS secret as rustls derives it: `label` is the NSS key log label
/// (`CLIENT_RANDOM` for TLS 1.2, `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`,
/// `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0`, `EXPORTER_SECRET` for TLS 1.3).
/// Given to [`crate::SupplicantBuilder::key_log`].
pub trait KeyLogSink: Send + Sync {
    /// One secret. Write it out at once: the supplicant keeps no copy for the sink.
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]);
}
