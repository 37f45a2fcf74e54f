//! pop3test's own jobs on the benchmark's server: fuzz cases per second (on a reused session and
//! with a fresh session per case), the scenario engine's per-exchange cost, the built-in suite's
//! and the audit's wall time, and memory over a long fuzz run.

use crate::audit::{self, AuditConfig};
use crate::fuzz::{self, Context, FuzzConfig, Mix};
use crate::net::session::{Credentials, Secret, StlsPolicy};
use crate::net::{ConnectOptions, Target};
use crate::runner;
use crate::scenario::{self, exec::Env as ScenarioEnv};
use crate::server::ServerHandle;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn creds(user: &(String, String)) -> Credentials {
    Credentials { user: user.0.clone(), password: Secret::new(user.1.clone()) }
}

/// Fuzz cases per second in `contexts` from `mix`, `cases` in all, one worker per user (each
/// logs in as its own user: maildrops are locked per user); `fresh` forces a new session for
/// every case. Returns (cases/s, cases run, findings).
pub async fn fuzz_rate(
    target: &Target,
    opts: &ConnectOptions,
    users: &[(String, String)],
    contexts: &[Context],
    mix: Mix,
    cases: u64,
    fresh: bool,
) -> (f64, u64, usize) {
    let per = cases / users.len().max(1) as u64;
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for user in users {
        // Plain sessions, like the raw client's: the ratio compares like with like.
        let env = fuzz::Env {
            target: target.clone(),
            opts: opts.clone(),
            creds: Some(creds(user)),
            settle: Duration::ZERO,
            stls: StlsPolicy::Never,
        };
        let mut cfg = FuzzConfig::new(env, 7);
        cfg.cases = Some(per);
        cfg.contexts = contexts.to_vec();
        cfg.mix = mix;
        if fresh {
            cfg.session_cases = 1;
        }
        set.spawn(fuzz::run(cfg));
    }
    let (mut total, mut findings) = (0, 0);
    while let Some(out) = set.join_next().await {
        let out = out.expect("fuzz run");
        total += out.cases;
        findings += out.findings.len();
    }
    (total as f64 / start.elapsed().as_secs_f64(), total, findings)
}

/// Seconds per exchange of the scenario engine: a scenario of `n` NOOPs minus one of none,
/// divided by `n` (connect, login and QUIT cancel out).
pub async fn engine_per_exchange(target: &Target, opts: &ConnectOptions, user: &(String, String), n: usize) -> f64 {
    let scenario_with = |k: usize| {
        let mut y = String::from("name: bench/noops\ntitle: NOOP round trips\nrequirements: [1939-noop]\nrfc: [\"RFC 1939 §5\"]\nrequires: [credentials]\nsteps:\n  - connect:\n  - login:\n");
        for _ in 0..k {
            y.push_str("  - send: NOOP\n    expect: { status: ok }\n");
        }
        y.push_str("  - quit:\n");
        scenario::load::load_str("bench/noops.yaml", &y, None).expect("bench scenario is valid")
    };
    let mut env = ScenarioEnv::new(target.clone(), opts.clone());
    env.creds = Some(creds(user));
    env.stls = StlsPolicy::Never;
    let (with, without) = (scenario_with(n), scenario_with(0));
    let time = |sc: scenario::model::Scenario| {
        let env = env.clone();
        async move {
            let t = Instant::now();
            let r = scenario::exec::run(&sc, &env).await;
            assert_eq!(r.verdict, crate::results::Verdict::Pass, "bench scenario: {:?}", r.message);
            t.elapsed().as_secs_f64()
        }
    };
    let base = time(without).await;
    let full = time(with).await;
    ((full - base) / n as f64).max(1e-9)
}

/// Wall time of the whole built-in suite against `handle` (as `pop3test run --builtin` does it).
pub async fn suite_seconds(handle: &Arc<ServerHandle>) -> (f64, usize) {
    let items = runner::builtin_items().expect("built-in suite loads");
    let (env, reseed) = runner::builtin_env(handle, Duration::from_secs(10), None);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let t = Instant::now();
    let out = runner::run_suite(items, env, 2, Some(reseed), rx).await;
    (t.elapsed().as_secs_f64(), out.results.len())
}

/// Wall time of a full audit of `handle` (both ports, with credentials).
pub async fn audit_seconds(handle: &ServerHandle) -> f64 {
    let mut cfg = AuditConfig::new(handle.plain_target());
    cfg.implicit = handle.tls_target();
    cfg.ca_file = Some(handle.ca_file.clone());
    cfg.creds = Some(Credentials {
        user: crate::server::seed::DEFAULT_USER.into(),
        password: Secret::new(crate::server::seed::DEFAULT_PASSWORD),
    });
    let t = Instant::now();
    let report = audit::run(&cfg).await;
    assert!(!report.results.is_empty());
    t.elapsed().as_secs_f64()
}
