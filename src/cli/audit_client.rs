//! `pop3test audit-client` arguments (clap only; behaviour in `cmd::audit_client`).

use super::FailOn;
use crate::client_audit::Attack;
use crate::report::ReportSpec;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `pop3test audit-client`.
#[derive(Debug, Clone, Args)]
pub struct AuditClientArgs {
    /// Run this client once per STLS attack (via `sh -c`), with {host}, {port}, {tls_port}, {ca}
    /// (the CA file to trust) and {attack} filled in. Without it: interactive, one connection per
    /// attack. The client's output is discarded (it may hold the password).
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Client command for the implicit-TLS attacks ({port} is then the implicit-TLS port); without
    /// it, those attacks are skipped in --exec mode.
    #[arg(long, value_name = "CMD")]
    pub exec_tls: Option<String>,
    /// Attacks to play (repeatable or comma-separated; default: all, in order): honest, strip,
    /// refuse, inject, inject-capa, capa-tamper, untrusted-stls, wrong-name-stls, honest-implicit,
    /// untrusted-implicit, wrong-name-implicit.
    #[arg(long = "attack", value_name = "NAME", value_delimiter = ',')]
    pub attacks: Vec<Attack>,
    /// Plain POP3 address of the malicious server (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Implicit-TLS address of the malicious server.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub tls_listen: SocketAddr,
    /// Longest time one attack may take, the client's run included; it is killed after.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Interactive mode: how long to wait for the client to connect, per attack.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5m")]
    pub wait: Duration,
    /// A name for the client and its configuration in reports and the client matrix (`pop3test
    /// report matrix`), e.g. `curl --ssl-reqd`; default: the malicious server's address.
    #[arg(long, value_name = "NAME")]
    pub client: Option<String>,
    /// Write the CA the client should trust here (kept); default: a temp file, removed at the end.
    #[arg(long, value_name = "PEM")]
    pub ca_out: Option<PathBuf>,
    /// Write a report, FORMAT=PATH (table, json, junit, sarif, markdown, html); repeatable.
    #[arg(long = "report", value_name = "FORMAT=PATH")]
    pub reports: Vec<ReportSpec>,
    /// Exit with 5 when a finding is at least this severe, or never.
    #[arg(long, value_name = "SEVERITY|never", default_value = "high")]
    pub fail_on: FailOn,
}
