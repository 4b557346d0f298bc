//! What the `latchkey-sim` command reads and prints: the file-based client configuration
//! ([`config`]) and wpa_supplicant.conf reading ([`wpa_conf`]), the `--pcap` captures
//! ([`capture`]), and the report of a run for people and as JSON ([`report`]) with its schema
//! ([`report_schema`]).

pub mod capture;
pub mod config;
pub mod report;
pub mod report_schema;
pub mod wpa_conf;
