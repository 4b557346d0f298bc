//! What the `latchkey-sim` command reads and prints: the command line ([`command`]) and every
//! subcommand's arguments ([`args`]), the file-based client configuration
//! ([`config`]) and wpa_supplicant.conf reading ([`wpa_conf`]), the `--pcap` captures
//! ([`capture`]), and the report of a run for people and as JSON ([`report`]) with its schema
//! ([`report_schema`]).

pub mod args;
pub mod capture;
pub mod command;
pub mod config;
pub mod report;
pub mod report_schema;
pub mod wpa_conf;
