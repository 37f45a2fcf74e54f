//! `pop3test audit` arguments (clap derive only; behaviour lives in `cmd::audit`).

use crate::cli::{ConnArgs, CredentialArgs};
use crate::fleet::Shard;
use crate::net::Target;
use crate::report::ReportSpec;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `pop3test audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// The plain POP3 port, pop3://host[:port] (default port 110). STLS is audited there; implicit
    /// TLS on --tls-port of the same host.
    #[arg(required_unless_present_any = ["builtin", "targets"], conflicts_with_all = ["builtin", "targets"])]
    pub target: Option<Target>,
    /// Audit every target of FILE (`-`: standard input), one a line: a pop3:// or pop3s:// URL,
    /// then optionally user=NAME password-env=VAR, tls-port=PORT, plain-port=PORT, no-implicit;
    /// `#` comments and blank lines are skipped.
    #[arg(long, value_name = "FILE", conflicts_with = "builtin")]
    pub targets: Option<PathBuf>,
    /// With --targets: targets audited at once [default: 8].
    #[arg(long, value_name = "N", requires = "targets")]
    pub jobs: Option<usize>,
    /// With --targets: targets of one host (the first address a name resolves to) audited at
    /// once, so that a server with many names or ports is not hammered [default: 1].
    #[arg(long, value_name = "N", requires = "targets")]
    pub per_host: Option<usize>,
    /// With --targets: skip the targets already recorded in this JSONL file (a record cut short
    /// by a kill is dropped and its target audited again) and append the new records to it
    /// unless --report jsonl=PATH names another file.
    #[arg(long, value_name = "PATH", requires = "targets")]
    pub resume: Option<PathBuf>,
    /// With --targets: audit only shard K of N (K from 0), chosen by a hash of each target's
    /// URL, so that N CI workers split a fleet without overlap; `report merge` joins their JSONL.
    #[arg(long, value_name = "K/N", requires = "targets")]
    pub shard: Option<Shard>,
    /// With --targets: write the fleet matrix (targets x findings, TLS enforced per target) as
    /// FORMAT=PATH (table, json, markdown, html); repeatable.
    #[arg(long = "matrix", value_name = "FORMAT=PATH", requires = "targets")]
    pub matrices: Vec<ReportSpec>,
    /// Implicit-TLS (POP3S) port on the same host [default: 995]; with --targets, of every line
    /// that does not say.
    #[arg(long, value_name = "PORT", conflicts_with_all = ["no_implicit", "builtin"])]
    pub tls_port: Option<u16>,
    /// Do not probe implicit TLS (A13 and A14 are then skipped); with --targets, on every line
    /// without tls-port=.
    #[arg(long)]
    pub no_implicit: bool,
    /// Audit the built-in reference server on loopback ports (its test account is used unless
    /// --user is given).
    #[arg(long)]
    pub builtin: bool,
    /// With --builtin: switch on a defect profile (repeatable), e.g. stls-injection.
    #[arg(long = "defect", value_name = "NAME", requires = "builtin")]
    pub defects: Vec<crate::server::Defect>,
    /// Write a report as FORMAT=PATH (json, jsonl, junit, sarif, markdown, html, table);
    /// repeatable. With --targets, jsonl=PATH gets one record per target the moment it finishes;
    /// the other formats get the whole fleet as one report at the end.
    #[arg(long = "report", value_name = "FORMAT=PATH")]
    pub reports: Vec<ReportSpec>,
    /// Exit with 5 when a finding is at least this severe: info, low, medium, high, critical, or
    /// never.
    #[arg(long, value_name = "SEVERITY|never", default_value = "high")]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub creds: CredentialArgs,
    /// Connection options. The audit's own sessions accept any certificate so that every probe
    /// reaches the server; the certificate is judged by A12 against --ca-file (or Mozilla's roots),
    /// so --insecure changes nothing here.
    #[command(flatten)]
    /// With --targets, --deadline bounds each target's audit, not the whole fleet.
    pub conn: ConnArgs,
}

pub use crate::cli::FailOn;
