//! `pop3test run`: the conformance suite (YAML scenarios and Rust checks) against a server or the
//! built-in reference server. Loads and selects, probes the server, runs, prints the terminal
//! table, writes the reports and returns `Report::exit_code`.

use crate::cli::run::RunArgs;
use crate::cli::GlobalArgs;
use crate::exit;
use crate::proto::Violation;
use crate::results::{Report, RunKind};
use crate::runner::{self, select::Selection, Item, Reseed};
use crate::scenario::diag::did_you_mean;
use crate::scenario::{builtin, exec::Env};
use crate::server::{self, DefectSet, ServerConfig};
use std::sync::Arc;
use std::time::Instant;

/// Runs the subcommand; returns the exit code.
pub async fn main(args: RunArgs, global: &GlobalArgs) -> i32 {
    for a in &args.allow {
        if !Violation::NAMES.contains(&a.as_str()) {
            let hint = did_you_mean(a, Violation::NAMES.iter().copied()).map(|h| format!(" (did you mean `{h}`?)"));
            eprintln!("error: --allow: unknown violation `{a}`{}", hint.unwrap_or_default());
            eprintln!("       known: {}", Violation::NAMES.join(", "));
            return exit::USAGE;
        }
    }
    let Some(items) = load_items(&args) else { return exit::SCENARIO_ERROR };
    let selection = Selection::new(&args.only, &args.skip);
    let items: Vec<Item> = items.into_iter().filter(|i| selection.includes(&i.info())).collect();
    if args.list {
        print!("{}", list(&items));
        return exit::OK;
    }
    if items.is_empty() {
        eprintln!("error: no check matches the --only/--skip selection");
        return exit::USAGE;
    }
    let creds = match args.creds.resolve() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let empty = match empty_account(&args) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let builtin_server = args.builtin || args.target.is_none();
    let mut server_handle = None;
    let (mut env, reseed) = if builtin_server {
        let defects = match DefectSet::parse_list(&args.defect.join(",")) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: --defect: {e}");
                return exit::USAGE;
            }
        };
        let handle = match server::spawn(ServerConfig { defects, ..ServerConfig::default() }).await {
            Ok(h) => Arc::new(h),
            Err(e) => {
                eprintln!("error: cannot start the built-in server: {e}");
                return exit::TESTER_ERROR;
            }
        };
        let (env, reseed) = runner::builtin_env(&handle, args.conn.timeout, creds);
        server_handle = Some(handle);
        (env, Some(reseed))
    } else {
        let target = args.target.clone().expect("checked above");
        let mut env = Env::new(target, args.conn.connect_options());
        env.tls_target = args.tls_target.clone();
        env.creds = creds;
        env.destructive_denied = match (args.destructive, &args.reseed) {
            (true, Some(_)) => None,
            (true, None) => {
                Some("--destructive needs --reseed CMD to restore the maildrop before each destructive check".into())
            }
            (false, _) => Some("deletes mail: run with --destructive --reseed CMD to include it".into()),
        };
        (env, args.reseed.clone().map(Reseed::Command))
    };
    env.stls = args.stls.into();
    env.allow = args.allow.clone();
    if empty.is_some() {
        env.empty_creds = empty;
    }
    if let Some(var) = &args.apop_secret_env {
        match std::env::var(var) {
            Ok(s) => env.apop_secret = Some(crate::net::session::Secret::new(s)),
            Err(_) => {
                eprintln!("error: --apop-secret-env: environment variable `{var}` is not set");
                return exit::USAGE;
            }
        }
    }

    let mut report = Report::new(RunKind::Run, target_label(&env, builtin_server));
    let clock = Instant::now();
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let deadline = args.conn.deadline;
    let ctrl_c = tokio::spawn(async move {
        tokio::select! {
            r = tokio::signal::ctrl_c() => {
                if r.is_err() {
                    return;
                }
                eprintln!("\ninterrupted: stopping; the report will hold the results so far (incomplete)");
            }
            _ = tokio::time::sleep(deadline) => {
                eprintln!(
                    "\nthe --deadline of {} passed: stopping; the report will hold the results so far (incomplete)",
                    humantime::format_duration(deadline)
                );
            }
        }
        let _ = cancel_tx.send(true);
    });
    // Cancellation is cooperative (checks stop between exchanges); a check stuck inside one is
    // cut HARD_GRACE after the deadline, losing only what the suite had not handed back.
    let suite = runner::run_suite(items, env, args.jobs.into(), reseed, cancel_rx);
    let outcome = match tokio::time::timeout(deadline + HARD_GRACE, suite).await {
        Ok(o) => o,
        Err(_) => {
            ctrl_c.abort();
            let why = format!(
                "the run did not stop within {} of --deadline {}: a check was stuck on the server, and the \
                 results so far could not be collected",
                humantime::format_duration(HARD_GRACE),
                humantime::format_duration(deadline)
            );
            let mut r = super::error_report(
                RunKind::Run,
                report.target.clone(),
                "pop3test/deadline",
                "The run ends by --deadline",
                why,
            );
            r.incomplete = true;
            r.duration_ms = clock.elapsed().as_secs_f64() * 1000.0;
            return super::finish(&r, &args.reports, args.fail_on, global).max(exit::TESTER_ERROR);
        }
    };
    report.server = outcome.server;
    if !outcome.notes.is_empty() {
        report.summary = Some(format!("adapted to the server: {}", outcome.notes.join("; ")));
    }
    report.results = outcome.results;
    report.incomplete = outcome.incomplete;
    ctrl_c.abort();
    report.duration_ms = clock.elapsed().as_secs_f64() * 1000.0;
    if let Some(h) = server_handle {
        if let Ok(h) = Arc::try_unwrap(h) {
            h.shutdown().await;
        }
    }
    let code = super::finish(&report, &args.reports, args.fail_on, global);
    if report.incomplete && code == exit::OK {
        // An interrupted run proved nothing about the checks it never ran.
        eprintln!("error: the run was cut short (Ctrl-C or --deadline); results are incomplete");
        return exit::TESTER_ERROR;
    }
    code
}

/// How long after --deadline a run that has not stopped by itself is cut.
const HARD_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// `--empty-user` with its password (from `--empty-password-env` or `--empty-password-file`).
fn empty_account(args: &RunArgs) -> Result<Option<crate::net::session::Credentials>, String> {
    use crate::net::session::{Credentials, Secret};
    let Some(user) = &args.empty_user else { return Ok(None) };
    let password = if let Some(var) = &args.empty_password_env {
        std::env::var(var).map_err(|_| format!("--empty-password-env: environment variable `{var}` is not set"))?
    } else if let Some(path) = &args.empty_password_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--empty-password-file: cannot read {}: {e}", path.display()))?;
        text.lines().next().unwrap_or_default().to_string()
    } else {
        return Err("--empty-user needs a password: --empty-password-env VAR or --empty-password-file FILE".into());
    };
    Ok(Some(Credentials { user: user.clone(), password: Secret::new(password) }))
}

fn target_label(env: &Env, builtin: bool) -> String {
    let scheme = match env.target.scheme {
        crate::net::Scheme::Plain => "pop3",
        crate::net::Scheme::ImplicitTls => "pop3s",
    };
    let url = format!("{scheme}://{}", env.target.authority());
    if builtin {
        format!("{url} (built-in server)")
    } else {
        url
    }
}

/// The built-in suite (scenarios and Rust checks), or exactly the `--scenarios` (with the
/// built-in suite too under `--with-builtin`). `None` after printing file errors.
fn load_items(args: &RunArgs) -> Option<Vec<Item>> {
    let (scenarios, bad) = if args.scenarios.is_empty() {
        builtin::load_all()
    } else {
        let (mut scenarios, mut bad) = match builtin::load_paths(&args.scenarios) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return None;
            }
        };
        if !args.with_builtin {
            if !bad.is_empty() {
                report_bad(&bad);
                return None;
            }
            return Some(runner::scenario_items(scenarios));
        }
        let (builtin, builtin_bad) = builtin::load_all();
        scenarios.extend(builtin);
        bad.extend(builtin_bad);
        (scenarios, bad)
    };
    if !bad.is_empty() {
        report_bad(&bad);
        return None;
    }
    Some(runner::items_of(scenarios))
}

fn report_bad(bad: &[builtin::BadFile]) {
    for b in bad {
        for d in &b.diagnostics {
            eprintln!("{}", d.render(&b.source));
        }
    }
    eprintln!("error: {} scenario file(s) are invalid; `pop3test check` shows the same diagnostics", bad.len());
}

/// `--list`: the catalogue as a table.
fn list(items: &[Item]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header(["id", "requirements", "RFC", "tags", "needs"]);
    for i in items {
        let i = i.info();
        let mut needs = i.requires.clone();
        if i.destructive && !needs.iter().any(|n| n == "destructive") {
            needs.push("destructive".into());
        }
        t.add_row([i.id, i.requirements.join(" "), i.rfc_refs.join(", "), i.tags.join(" "), needs.join(" ")]);
    }
    format!("{t}\n{} checks\n", items.len())
}
