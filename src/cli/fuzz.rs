//! `pop3test fuzz` arguments (clap derive only; behaviour lives in `cmd::fuzz`).

use crate::cli::{ConnArgs, CredentialArgs, StlsArg};
use crate::fuzz::model::Context;
use crate::fuzz::strategies::Mix;
use crate::net::Target;
use crate::report::ReportSpec;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// Which session states to fuzz.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    /// Before login: after the greeting, after STLS, after USER.
    Authorization,
    /// After login: fresh, and after DELE (needs credentials).
    Transaction,
    /// Both.
    All,
}

impl StateArg {
    pub fn contexts(self) -> Vec<Context> {
        Context::ALL
            .into_iter()
            .filter(|c| match self {
                StateArg::Authorization => !c.needs_login(),
                StateArg::Transaction => c.needs_login(),
                StateArg::All => true,
            })
            .collect()
    }
}

#[derive(Debug, Clone, Args)]
pub struct FuzzArgs {
    /// pop3://host[:port] or pop3s://host[:port] (omit with --builtin).
    #[arg(required_unless_present = "builtin")]
    pub target: Option<Target>,
    /// Fuzz the built-in reference server (started on a free loopback port for this run).
    #[arg(long, conflicts_with = "target")]
    pub builtin: bool,
    /// With --builtin: switch on a server defect (repeatable), e.g. crash-on-long-line.
    #[arg(long = "defect", value_name = "NAME", requires = "builtin")]
    pub defects: Vec<String>,
    /// Stop after this many cases (default 10000 unless --duration is given).
    #[arg(long)]
    pub cases: Option<u64>,
    /// Stop after this long, e.g. 60s, 5m.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Seed of the whole run; the same seed (and --jobs) reproduces it. Default: random, printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Concurrent sessions.
    #[arg(long, short = 'j', default_value_t = 1)]
    pub jobs: usize,
    /// Which states to fuzz.
    #[arg(long, value_enum, default_value_t = StateArg::All)]
    pub state: StateArg,
    /// When to upgrade with STLS before logging in (the after-STLS context always does).
    #[arg(long, value_enum, default_value_t = StlsArg::Auto)]
    pub stls: StlsArg,
    /// Which case families: `all`, or `single` (one command line per case: the fastest mix).
    #[arg(long, value_enum, default_value_t = MixArg::All)]
    pub mix: MixArg,
    /// Pipeline up to N single-write cases in one write when the server advertises PIPELINING
    /// (RFC 2449 §6.6); 1 (the default): each case waits for the previous reply.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub batch: u16,
    /// Skip the systematic sweep (every command × argument class × mailbox state, tried once
    /// before the random search; its coverage is printed and in the JSON report).
    #[arg(long)]
    pub no_sweep: bool,
    /// Logged-in sessions at once (servers lock the maildrop; raise only where they do not).
    #[arg(long, default_value_t = 1)]
    pub logins: usize,
    /// Directory for minimal reproducers (scenario files); saved ones are replayed first.
    #[arg(long, default_value = "fuzz-findings")]
    pub out: PathBuf,
    /// Also write the report: FORMAT=PATH (table, json, junit, sarif, markdown, html); repeatable.
    #[arg(long = "report", value_name = "FORMAT=PATH")]
    pub reports: Vec<ReportSpec>,
    /// Exit with 5 when a finding is at least this severe (info, low, medium, high, critical),
    /// or `never` for report-only runs.
    #[arg(long, default_value = "high")]
    pub fail_on: crate::cli::FailOn,
    /// Fuzz a server that is not on this machine (only servers you own or may test).
    #[arg(long)]
    pub i_own_this_server: bool,
    #[command(flatten)]
    pub creds: CredentialArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `--mix`: which families a run draws its cases from ([`Mix`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum MixArg {
    /// Every family: also over-long lines, AUTH exchanges and pipelined bursts.
    #[default]
    All,
    /// One command line per case (valid commands, mutated keywords and arguments, edge numbers,
    /// raw bytes): one write and, on a correct server, one reply per case — the fastest mix.
    Single,
}

impl From<MixArg> for Mix {
    fn from(a: MixArg) -> Mix {
        match a {
            MixArg::All => Mix::All,
            MixArg::Single => Mix::Single,
        }
    }
}
