//! Arguments of `pop3test run` and `pop3test check` (registered in [`super::Commands`]).

use crate::cli::{ConnArgs, CredentialArgs, StlsArg};
use crate::net::Target;
use crate::report::ReportSpec;
use clap::Args;
use std::path::PathBuf;

pub use crate::cli::FailOn;

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// pop3://host[:port] or pop3s://host[:port]. Omitted: the built-in reference server.
    pub target: Option<Target>,
    /// Run against the built-in reference server, spawned in-process (trusted CA, test account
    /// mrose/tanstaaf, destructive checks allowed with automatic reseed).
    #[arg(long, conflicts_with = "target")]
    pub builtin: bool,
    /// Break the built-in server on purpose (`--defect bare-lf`): see `pop3test serve --help`.
    #[arg(long, value_name = "NAME", requires = "builtin")]
    pub defect: Vec<String>,
    /// Implicit-TLS address for scenarios that need one (default: the target when it is pop3s://).
    #[arg(long, value_name = "URL")]
    pub tls_target: Option<Target>,
    #[command(flatten)]
    pub creds: CredentialArgs,
    /// A second account whose maildrop is empty, for the checks of empty-maildrop replies
    /// (`STAT` → `+OK 0 0`, empty listings); without it they are skipped. The built-in server's
    /// is `empty`.
    #[arg(long, value_name = "NAME")]
    pub empty_user: Option<String>,
    /// Read the --empty-user account's password from this environment variable.
    #[arg(long, value_name = "VAR", requires = "empty_user", conflicts_with = "empty_password_file")]
    pub empty_password_env: Option<String>,
    /// Read the --empty-user account's password from the first line of this file.
    #[arg(long, value_name = "FILE", requires = "empty_user")]
    pub empty_password_file: Option<PathBuf>,
    /// Read the test account's APOP secret from this environment variable, when it is not the
    /// login password (RFC 1939 §7 keeps them apart; GNU Mailutils stores APOP secrets
    /// separately). Without it APOP is tried with the password and a refusal is a skip.
    #[arg(long, value_name = "VAR")]
    pub apop_secret_env: Option<String>,
    /// When to upgrade with STLS before logging in.
    #[arg(long, value_enum, default_value_t = StlsArg::Auto)]
    pub stls: StlsArg,
    /// Checks run at once. Logins of the test user are serialised anyway when the server locks
    /// maildrops; destructive checks always run one at a time.
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Allow checks that delete mail (DELE then QUIT). Needs --reseed, except with --builtin.
    #[arg(long)]
    pub destructive: bool,
    /// Shell command that restores the test maildrop; run before each destructive check.
    #[arg(long, value_name = "CMD")]
    pub reseed: Option<String>,
    /// Run only checks matching: id glob (rfc1939/retr-*), requirement (1939-multiline), tag, RFC
    /// (1939). Repeatable, or comma-separated.
    #[arg(long, value_name = "PATTERN")]
    pub only: Vec<String>,
    /// Leave out checks matching (same patterns as --only).
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
    /// Scenario files or directories to run instead of the built-in suite: exactly these, no
    /// built-in scenario or Rust check (a reproducer replays alone). Repeatable.
    #[arg(long, value_name = "PATH")]
    pub scenarios: Vec<PathBuf>,
    /// With --scenarios: run the built-in suite (its scenarios and Rust checks) too.
    #[arg(long, requires = "scenarios")]
    pub with_builtin: bool,
    /// Tolerate a named protocol violation (e.g. bare-lf): reported, not failed. Repeatable.
    #[arg(long, value_name = "VIOLATION")]
    pub allow: Vec<String>,
    /// Write a report: FORMAT=PATH with FORMAT table, json, junit, sarif, markdown or html. Repeatable.
    #[arg(long = "report", value_name = "FORMAT=PATH")]
    pub reports: Vec<ReportSpec>,
    /// Lowest security-finding severity that fails the run (info, low, medium, high, critical), or never.
    #[arg(long, value_name = "SEVERITY", default_value = "high")]
    pub fail_on: FailOn,
    /// Print the catalogue (id, requirements, RFC sections, tags) and exit.
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Scenario files or directories (default: the built-in suite).
    pub paths: Vec<PathBuf>,
}
