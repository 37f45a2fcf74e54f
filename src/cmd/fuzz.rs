//! `pop3test fuzz`: builds the run from the arguments (starting the built-in server when asked),
//! runs it with a progress display, renders the report and maps it to an exit code.

use crate::cli::fuzz::FuzzArgs;
use crate::cli::GlobalArgs;
use crate::exit;
use crate::fuzz::{run, Env, FuzzConfig, Progress};
use crate::net::session::{Credentials, Secret};
use crate::net::Target;
use crate::server::{self, Defect, ServerConfig};
use std::io::IsTerminal;
use std::time::Duration;

/// Runs the subcommand; returns the exit code.
pub async fn main(args: FuzzArgs, global: &GlobalArgs) -> i32 {
    let mut server_handle = None;
    let (target, mut opts, creds) = if args.builtin {
        let mut defects = server::DefectSet::none();
        for name in &args.defects {
            match name.parse::<Defect>() {
                Ok(d) => defects = defects.with(d),
                Err(e) => {
                    eprintln!("error: --defect: {e}");
                    return exit::USAGE;
                }
            }
        }
        let handle = match server::spawn(ServerConfig { defects, ..ServerConfig::default() }).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: cannot start the built-in server: {e}");
                return exit::TESTER_ERROR;
            }
        };
        let creds = Credentials {
            user: server::seed::DEFAULT_USER.into(),
            password: Secret::new(server::seed::DEFAULT_PASSWORD),
        };
        let out = (handle.plain_target(), handle.connect_options(), Some(creds));
        server_handle = Some(handle);
        out
    } else {
        let Some(target) = args.target.clone() else {
            eprintln!("error: give a TARGET or --builtin");
            return exit::USAGE;
        };
        if !args.i_own_this_server {
            if let Err(e) = ensure_loopback(&target).await {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
        let creds = match args.creds.resolve() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        };
        (target, args.conn.connect_options(), creds)
    };
    opts.timeout = args.conn.timeout;
    opts.response_deadline = args.conn.timeout.max(Duration::from_secs(1)) * 6;
    let mut contexts = args.state.contexts();
    if creds.is_none() {
        contexts.retain(|c| !c.needs_login());
        if contexts.is_empty() {
            eprintln!("error: --state transaction needs credentials: --user and --password-env");
            return exit::USAGE;
        }
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let mix = match crate::fuzz::Mix::from(args.mix) {
        crate::fuzz::Mix::All => String::new(),
        crate::fuzz::Mix::Single => " --mix single".into(),
    };
    let batch = if args.batch > 1 { format!(" --batch {}", args.batch) } else { String::new() };
    eprintln!("fuzz: {target}, seed {seed} (reproduce with --seed {seed} --jobs {}{mix}{batch})", args.jobs);
    let mut env = Env {
        target: target.clone(),
        opts,
        creds,
        settle: Duration::from_millis(250),
        stls: args.stls.into(),
        stepwise_login: Default::default(),
    };
    // The quiet window of careful replays: a few greeting round trips, within 20-250 ms.
    let t0 = std::time::Instant::now();
    if let Some(problem) = greeting_problem(&env).await {
        let why = format!("{target} does not greet with +OK ({problem}); no case ran");
        eprintln!("error: {why}");
        let report = super::error_report(
            crate::results::RunKind::Fuzz,
            target.to_string(),
            "fuzz/setup",
            "The server greets before fuzzing starts",
            why,
        );
        let code = super::finish(&report, &args.reports, args.fail_on, global);
        if let Some(h) = server_handle {
            h.shutdown().await;
        }
        return code;
    }
    env.settle = (t0.elapsed() * 4).clamp(Duration::from_millis(20), Duration::from_millis(250));
    let mut cfg = FuzzConfig::new(env, seed);
    cfg.cases = match (args.cases, args.duration) {
        (None, Some(_)) => None,
        (n, _) => Some(n.unwrap_or(10_000)),
    };
    cfg.duration = args.duration;
    // --duration is a deadline, not a wish; --deadline bounds a run of --cases too.
    cfg.deadline = Some(args.duration.map_or(args.conn.deadline, |d| d.min(args.conn.deadline)));
    cfg.jobs = args.jobs.max(1);
    cfg.contexts = contexts;
    cfg.mix = args.mix.into();
    cfg.batch = usize::from(args.batch);
    cfg.logins = args.logins.max(1);
    cfg.sweep = !args.no_sweep;
    cfg.out = Some(args.out.clone());
    cfg.progress = if global.quiet {
        Progress::Off
    } else if std::io::stderr().is_terminal() {
        Progress::Bar
    } else {
        Progress::Lines
    };
    let cancel = cfg.cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let outcome = run(cfg).await;
    ctrl_c.abort();
    let report = outcome.to_report(&target.to_string());
    eprintln!("fuzz: {}", outcome.summary());
    let code = super::finish(&report, &args.reports, args.fail_on, global);
    if let Some(h) = server_handle {
        h.shutdown().await;
    }
    code
}

/// Refuses targets that resolve to anything but loopback: fuzzing someone else's server is an
/// attack unless its owner asked for it (`--i-own-this-server`).
async fn ensure_loopback(target: &Target) -> Result<(), String> {
    let addrs: Vec<_> = tokio::net::lookup_host(target.authority())
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
        .collect();
    if !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()) {
        Ok(())
    } else {
        Err(format!(
            "{target} is not on this machine; fuzzing sends malformed input that may crash it. \
             Pass --i-own-this-server if you own it or may test it"
        ))
    }
}

/// Why `env.target` cannot be fuzzed: no connection, no greeting, or one that is not `+OK`. Named,
/// because "does not greet within --timeout: is the server running?" misled about a server that
/// was running and sent an endless line, garbage or `-ERR`.
async fn greeting_problem(env: &Env) -> Option<String> {
    let mut c = match crate::net::Connection::connect(&env.target, &env.opts).await {
        Ok(c) => c,
        Err(e) => return Some(format!("{e}: is the server running?")),
    };
    let problem = match c.greeting().await {
        Ok(g) if g.is_ok() => None,
        Ok(g) => {
            let text = crate::transcript::printable(g.text.as_bytes(), 80);
            Some(match g.status {
                crate::proto::Status::Err => format!("its greeting is -ERR {text}"),
                _ => format!("its greeting is not a POP3 status line: `{text}`"),
            })
        }
        Err(e) => Some(e.to_string()),
    };
    let _ = c.close(false).await;
    problem
}
