//! pop3test's own jobs on the benchmark's server: fuzz cases per second (on a reused session and
//! with a fresh session per case), the scenario engine's per-exchange cost, the built-in suite's
//! and the audit's wall time, and memory over a long fuzz run.

use crate::audit::{self, AuditConfig};
use crate::fuzz::exec::Session;
use crate::fuzz::{self, shrink, Context, FuzzConfig, Mix};
use crate::net::session::{Credentials, Secret, StlsPolicy};
use crate::net::{ConnectOptions, Target};
use crate::runner;
use crate::scenario::{self, exec::Env as ScenarioEnv};
use crate::server::ServerHandle;
use proptest::strategy::ValueTree;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn creds(user: &(String, String)) -> Credentials {
    Credentials { user: user.0.clone(), password: Secret::new(user.1.clone()) }
}

/// What a benchmark fuzz run draws and how it runs it.
#[derive(Debug, Clone, Copy)]
pub struct FuzzLoad<'a> {
    pub contexts: &'a [Context],
    pub mix: Mix,
    /// Cases per write (`--batch`).
    pub batch: usize,
    /// A new session for every case.
    pub fresh: bool,
    /// Confirm and shrink findings (false: count cases only; see `run::fuzz_rows`).
    pub confirm: bool,
}

/// Fuzz cases per second, `cases` in all, one worker per user (each logs in as its own user:
/// maildrops are locked per user). Returns (cases/s, cases run, sessions opened).
pub async fn fuzz_rate(
    target: &Target,
    opts: &ConnectOptions,
    users: &[(String, String)],
    load: FuzzLoad<'_>,
    cases: u64,
) -> (f64, u64, u64) {
    let per = cases / users.len().max(1) as u64;
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for user in users {
        let mut cfg = FuzzConfig::new(plain_env(target, opts, user), SEED);
        cfg.cases = Some(per);
        cfg.contexts = load.contexts.to_vec();
        cfg.mix = load.mix;
        cfg.batch = load.batch;
        if load.fresh {
            cfg.session_cases = 1;
        }
        if !load.confirm {
            cfg.max_findings = 0;
        }
        set.spawn(fuzz::run(cfg));
    }
    let (mut total, mut sessions) = (0, 0);
    while let Some(out) = set.join_next().await {
        let out = out.expect("fuzz run");
        total += out.cases;
        sessions += out.sessions;
    }
    (total as f64 / start.elapsed().as_secs_f64(), total, sessions)
}

/// The seed of the benchmark's fuzz runs.
const SEED: u64 = 7;

/// A recorded workload: single-command fuzz cases that a session answers with one reply each,
/// in order, with the octets the server sent back for each (see [`record_workload`]).
pub struct Workload {
    pub indices: Vec<u64>,
    pub exchanges: Vec<(Vec<u8>, usize)>,
}

/// Cases a raw client can replay blind: framed, one write, and nothing that changes the
/// session's footing (STLS, AUTH), ends it (QUIT) or changes the maildrop for the next replay
/// (DELE).
fn replayable(case: &fuzz::Case) -> bool {
    let keyword = case.keyword();
    case.is_framed()
        && case.chunks.len() == 1
        && case.lines().len() == 1
        && !case.mentions_quit()
        && !matches!(keyword.as_str(), "STLS" | "AUTH" | "DELE")
}

fn plain_env(target: &Target, opts: &ConnectOptions, user: &(String, String)) -> fuzz::Env {
    // Plain sessions, like the raw client's: the ratio compares like with like.
    fuzz::Env {
        target: target.clone(),
        opts: opts.clone(),
        creds: Some(creds(user)),
        settle: Duration::ZERO,
        stls: StlsPolicy::Never,
        stepwise_login: Default::default(),
    }
}

/// Runs up to `n` replayable single-command cases through a fuzz session after login and
/// records each request with the size of its reply.
pub async fn record_workload(target: &Target, opts: &ConnectOptions, user: &(String, String), n: usize) -> Workload {
    let env = plain_env(target, opts, user);
    let mut s = Session::open(&env, Context::Transaction).await.expect("bench fuzz session");
    s.stop_recording();
    let mut w = Workload { indices: Vec::new(), exchanges: Vec::new() };
    for index in 0..(n as u64 * 4) {
        if w.exchanges.len() >= n {
            break;
        }
        let case = shrink::case_tree(SEED, index, Mix::Single).current().render();
        if !replayable(&case) {
            continue;
        }
        let before = s.received();
        let o = s.run(&env, &case, false).await;
        if o.candidate.is_some() || !o.alive || o.uncertain {
            break;
        }
        w.indices.push(index);
        w.exchanges.push((case.wire(), (s.received() - before) as usize));
    }
    s.quit().await;
    w
}

/// The same workload through pop3test's fuzz session, as a fuzz worker runs it: each case
/// generated from its index (the next one while the server answers), sent, its reply read,
/// framed by the model and judged. Returns the time the cases took.
pub async fn session_replay(target: &Target, opts: &ConnectOptions, user: &(String, String), w: &Workload) -> Duration {
    let env = plain_env(target, opts, user);
    let mut s = Session::open(&env, Context::Transaction).await.expect("bench fuzz session");
    s.stop_recording();
    let generate = |index: u64| shrink::case_tree(SEED, index, Mix::Single).current().render();
    let mut next = w.indices.first().map(|&i| generate(i));
    let t = Instant::now();
    for (k, _) in w.indices.iter().enumerate() {
        let case = next.take().expect("generated before use");
        let upcoming = w.indices.get(k + 1).copied();
        let o = s.run_with(&env, &case, false, &mut || next = upcoming.map(generate)).await;
        assert!(o.candidate.is_none() && o.alive, "the recorded workload replays as recorded");
        if next.is_none() {
            next = upcoming.map(generate);
        }
    }
    let took = t.elapsed();
    s.quit().await;
    took
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
