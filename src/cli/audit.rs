//! `pop3test audit` arguments (clap derive only; behaviour lives in `cmd::audit`).

use crate::cli::{ConnArgs, CredentialArgs};
use crate::net::Target;
use crate::report::ReportSpec;
use clap::Args;

/// Arguments of `pop3test audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// The plain POP3 port, pop3://host[:port] (default port 110). STLS is audited there; implicit
    /// TLS on --tls-port of the same host.
    #[arg(required_unless_present = "builtin", conflicts_with = "builtin")]
    pub target: Option<Target>,
    /// Implicit-TLS (POP3S) port on the same host [default: 995].
    #[arg(long, value_name = "PORT", conflicts_with_all = ["no_implicit", "builtin"])]
    pub tls_port: Option<u16>,
    /// Do not probe implicit TLS (A13 and A14 are then skipped).
    #[arg(long)]
    pub no_implicit: bool,
    /// Audit the built-in reference server on loopback ports (its test account is used unless
    /// --user is given).
    #[arg(long)]
    pub builtin: bool,
    /// With --builtin: switch on a defect profile (repeatable), e.g. stls-injection.
    #[arg(long = "defect", value_name = "NAME", requires = "builtin")]
    pub defects: Vec<crate::server::Defect>,
    /// Write a report as FORMAT=PATH (json, junit, sarif, markdown, html, table); repeatable.
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
    pub conn: ConnArgs,
}

pub use crate::cli::FailOn;
