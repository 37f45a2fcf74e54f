//! Command-line definitions (clap derive) and the argument groups the subcommands share. No
//! behaviour here: `main` parses, the `cmd` modules act.

pub mod audit;
pub mod audit_client;
pub mod fuzz;
pub mod run;
pub mod seed;
pub mod serve;

use crate::net::session::{Credentials, Secret, StlsPolicy};
use crate::net::{ConnectOptions, Target, TlsOptions};
use crate::results::Severity;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  pop3test run --builtin                      run the conformance suite against the built-in server
  pop3test run pop3://mail.example.org --user alice --password-env POP3_PASSWORD --report junit=pop3.xml
  pop3test audit pop3://mail.example.org      is TLS really enforced? (STLS, injection, versions, certificate)
  pop3test fuzz pop3://127.0.0.1:1110 --cases 10000 --seed 42
  pop3test serve --listen 127.0.0.1:1110      reference server (add --defect NAME to break one rule)
  pop3test session pop3://127.0.0.1:1110 --stls --user mrose --password-env PW
  pop3test report render run.json --format html -o run.html
  pop3test audit --targets fleet.txt --jobs 16 --report jsonl=fleet.jsonl   many servers, streamed, resumable
  pop3test audit-client --exec 'curl -s --ssl-reqd --cacert {ca} pop3://{host}:{port}/ -u u:p'   audit a client
  pop3test check scenarios/                   validate scenario files without a server
  pop3test seed --user alice --mbox /var/mail/alice --owner alice:mail   the standard maildrop, for checks that need it

Exit codes: 0 ok, 1 usage, 2 scenario file error, 3 tester could not run, 4 conformance failures,
5 security findings at or above --fail-on.";

/// Conformance tester, TLS-posture auditor and fuzzer for POP3 servers.
#[derive(Debug, Parser)]
#[command(name = "pop3test", version, about, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Commands,
}

/// Options every subcommand understands.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// More output (-v: transcripts of failures, -vv: every exchange).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less output (only the summary and errors).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour in terminal output (NO_COLOR is honoured by `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour stdout: `always`, or `auto` on a terminal without NO_COLOR or TERM=dumb
    /// (the one rule lives in [`crate::report::color_wanted`]).
    pub fn enabled(self) -> bool {
        use crate::report::{color_wanted, ColorChoice as C};
        color_wanted(match self {
            ColorChoice::Always => C::Always,
            ColorChoice::Never => C::Never,
            ColorChoice::Auto => C::Auto,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Connect, optionally upgrade with STLS, log in, run STAT/LIST/UIDL and print the transcript.
    /// Example: pop3test session pop3://127.0.0.1:1110 --stls --user mrose --password-env PW
    Session(SessionArgs),
    /// Re-render a saved JSON run, or compare several servers side by side.
    /// Example: pop3test report render run.json --format html -o run.html
    Report(ReportArgs),
    /// Run the reference POP3 server (correct by default; --defect NAME breaks one rule).
    /// Example: pop3test serve --listen 127.0.0.1:1110 --tls-listen 127.0.0.1:1995 --defect stls-injection
    Serve(serve::ServeArgs),
    /// Run the conformance suite (YAML scenarios and Rust checks); no target: the built-in server.
    /// Example: pop3test run pop3://mail.example.org --user alice --password-env PW --report junit=pop3.xml
    Run(run::RunArgs),
    /// Validate scenario files without a server (rustc-style diagnostics; exit 2 on errors).
    /// Example: pop3test check scenarios/
    Check(run::CheckArgs),
    /// Fuzz a server: stateful, shrinking, replayable; findings saved as scenario files.
    /// Example: pop3test fuzz pop3://127.0.0.1:1110 --cases 10000 --seed 42 --user mrose --password-env PW
    Fuzz(fuzz::FuzzArgs),
    /// Audit the TLS posture: is TLS really enforced? (STLS, injection, cleartext login, versions,
    /// certificates; findings A01-A18 and a verdict line.)
    /// Example: pop3test audit pop3://mail.example.org --user alice --password-env PW --report sarif=audit.sarif
    Audit(audit::AuditArgs),
    /// Audit a POP3 client: a malicious server plays one attack per connection (STLS stripping,
    /// refusal, injection, CAPA tampering, bad certificates) and judges what the client did.
    /// Example: pop3test audit-client --exec 'fetchmail ... {host} -P {port}' --report junit=client.xml
    AuditClient(audit_client::AuditClientArgs),
    /// Put pop3test's standard maildrop (six messages, found again by Message-ID) into a server's
    /// store: a Maildir, an mbox, or delivery over LMTP/SMTP. Idempotent; --reset empties first.
    /// Example: pop3test seed --user alice --maildir /home/alice/Maildir --owner alice
    Seed(seed::SeedArgs),
}

/// How to reach the server: timeouts and TLS verification.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Longest wait for any one step (connect, handshake, next byte of a reply), e.g. 10s, 500ms.
    /// A whole reply gets this plus its size at 32 KiB/s, so a server dripping bytes is cut too.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Longest time the whole job may take, e.g. 10m. When it passes, the job stops and writes
    /// its reports with what it measured, marked incomplete (exit 3 unless something failed).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10m")]
    pub deadline: Duration,
    /// PEM file of CA certificates to trust instead of the built-in Mozilla roots.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Do not verify the server's certificate (chain, name, dates). Sessions are still encrypted,
    /// but a man in the middle would go unnoticed.
    #[arg(long)]
    pub insecure: bool,
    /// Name to send as SNI and to check the certificate against (default: the target's host).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Largest protocol reply (status line, listing, CAPA) accepted, e.g. 16MiB; a longer one is
    /// cut and reported. Message bodies are streamed and bounded separately.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16MiB")]
    pub max_response: usize,
    /// Octets of a message body kept for comparing content, e.g. 4MiB; larger bodies are still
    /// counted whole (sizes, line counts), only their content is not compared.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "4MiB")]
    pub max_kept: usize,
}

/// `16MiB`, `512KiB`, `1GiB`, `4096`: a size in octets (K/M/G taken as binary multiples).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num.parse().map_err(|_| format!("`{s}`: expected a size such as 16MiB, 512KiB or 4096"))?;
    let mul = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("`{s}`: unknown unit `{other}` (use KiB, MiB or GiB)")),
    };
    n.checked_mul(mul).ok_or_else(|| format!("`{s}` is too large"))
}

impl ConnArgs {
    pub fn connect_options(&self) -> ConnectOptions {
        if self.insecure {
            eprintln!(
                "warning: --insecure: server certificates are NOT verified (chain, host name and dates are ignored)"
            );
        }
        ConnectOptions {
            timeout: self.timeout,
            response_deadline: self.timeout.max(Duration::from_secs(1)) * 6,
            tls: TlsOptions {
                ca_file: self.ca_file.clone(),
                insecure: self.insecure,
                server_name: self.server_name.clone(),
            },
            limits: crate::proto::Limits {
                max_response: self.max_response,
                max_kept: self.max_kept,
                ..crate::proto::Limits::default()
            },
            ..ConnectOptions::default()
        }
    }
}

/// Test credentials. The password never appears on the command line unless `--password` is used
/// (which warns: it is visible in `ps` and shell history).
#[derive(Debug, Clone, Args)]
pub struct CredentialArgs {
    /// User name of the test account.
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with_all = ["password_file", "password"])]
    pub password_env: Option<String>,
    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE", conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    /// The password itself (discouraged: visible to other users in `ps`).
    #[arg(long)]
    pub password: Option<String>,
}

impl CredentialArgs {
    /// Resolves the credentials; `Ok(None)` when no user was given.
    pub fn resolve(&self) -> Result<Option<Credentials>, String> {
        let password = if let Some(var) = &self.password_env {
            Some(std::env::var(var).map_err(|_| format!("--password-env: environment variable `{var}` is not set"))?)
        } else if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--password-file: cannot read {}: {e}", path.display()))?;
            Some(text.lines().next().unwrap_or_default().to_string())
        } else if let Some(p) = &self.password {
            eprintln!(
                "warning: --password puts the secret in the process list; prefer --password-env or --password-file"
            );
            Some(p.clone())
        } else {
            None
        };
        match (&self.user, password) {
            (Some(user), Some(pw)) => Ok(Some(Credentials { user: user.clone(), password: Secret::new(pw) })),
            (Some(_), None) => Err("--user needs a password: --password-env VAR or --password-file FILE".into()),
            (None, Some(_)) => Err("a password was given without --user".into()),
            (None, None) => Ok(None),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoginArg {
    /// USER and PASS.
    User,
    /// APOP with the greeting's timestamp.
    Apop,
    /// AUTH PLAIN with an initial response.
    Plain,
    /// AUTH LOGIN.
    Login,
}

#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    /// pop3://host[:port] or pop3s://host[:port]
    pub target: Target,
    /// Upgrade with STLS before logging in.
    #[arg(long)]
    pub stls: bool,
    /// Login method.
    #[arg(long, value_enum, default_value_t = LoginArg::User)]
    pub method: LoginArg,
    #[command(flatten)]
    pub creds: CredentialArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: ReportCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ReportCommand {
    /// Render a saved JSON report in another format (stdout unless -o).
    /// Example: pop3test report render run.json --format html -o run.html
    Render {
        /// A report written with --report json=FILE.
        input: PathBuf,
        /// table, json, junit, sarif, markdown or html.
        #[arg(long, short = 'f')]
        format: crate::report::Format,
        /// Write here (atomically) instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Join the JSONL records of a fleet audit (every shard's, a run and its resumptions) into one
    /// report, one matrix (targets x findings, TLS enforced per target) and the fleet's exit code.
    /// Example: pop3test report merge shard-*.jsonl --report html=fleet.html --matrix markdown=fleet.md
    Merge {
        /// JSONL files written by `audit --targets ... --report jsonl=FILE`.
        #[arg(required = true, value_name = "FILE.jsonl")]
        inputs: Vec<PathBuf>,
        /// The whole fleet as one report, FORMAT=PATH (table, json, jsonl, junit, sarif, markdown,
        /// html); repeatable. jsonl writes the joined records, one per target.
        #[arg(long = "report", value_name = "FORMAT=PATH")]
        reports: Vec<crate::report::ReportSpec>,
        /// The fleet matrix, FORMAT=PATH (table, json, markdown, html); repeatable.
        #[arg(long = "matrix", value_name = "FORMAT=PATH")]
        matrices: Vec<crate::report::ReportSpec>,
        /// Exit with 5 when a finding is at least this severe (as `audit` does), or never.
        #[arg(long, value_name = "SEVERITY|never", default_value = "high")]
        fail_on: FailOn,
    },
    /// Several servers' results side by side (check x server).
    /// Example: pop3test report matrix a.json b.json --html matrix.html
    Matrix {
        /// JSON reports, one per server.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long)]
        html: Option<PathBuf>,
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
}

/// `--fail-on` of `run`, `audit` and `fuzz`: the lowest finding severity that fails the run (exit 5),
/// or `never` for report-only jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailOn(pub Option<Severity>);

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("never") {
            return Ok(FailOn(None));
        }
        s.parse::<Severity>().map(|sev| FailOn(Some(sev))).map_err(|e| format!("{e}, or never"))
    }
}

/// `--stls`: when to upgrade with STLS before logging in ([`StlsPolicy`], which stays free of
/// clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum StlsArg {
    /// Never (cleartext login, or an implicit-TLS target).
    Never,
    /// When CAPA advertises STLS (what a careful client does).
    #[default]
    Auto,
    /// Always; a refused STLS is an error.
    Always,
}

impl From<StlsArg> for StlsPolicy {
    fn from(a: StlsArg) -> StlsPolicy {
        match a {
            StlsArg::Never => StlsPolicy::Never,
            StlsArg::Auto => StlsPolicy::Auto,
            StlsArg::Always => StlsPolicy::Always,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse_size("MiB").is_err());
    }

    #[test]
    fn fail_on_parses_severities_and_never() {
        assert_eq!("high".parse::<FailOn>(), Ok(FailOn(Some(Severity::High))));
        assert_eq!("NEVER".parse::<FailOn>(), Ok(FailOn(None)));
        assert!("sometimes".parse::<FailOn>().unwrap_err().contains("never"));
    }
}
