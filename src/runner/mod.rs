//! Scheduling a conformance run: YAML scenarios and Rust checks side by side, `--jobs N` at once,
//! logins of one user serialised when the server locks maildrops, destructive checks last and one
//! at a time with the maildrop restored before each (and once at the end), Ctrl-C honoured with
//! the results gathered so far.
//!
//! - [`select`]: `--only` / `--skip`; [`probe`]: the first session (server info, capabilities);
//! - [`cli`]: the `run` and `check` arguments.

pub mod incidental;
pub mod probe;
pub mod select;
pub mod survey;

use crate::checks::{Check, CheckContext};
use crate::results::{CheckResult, Verdict};
use crate::scenario::exec::{self, Env, Observation};
use crate::scenario::Scenario;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Mutex, Semaphore};

/// One thing to run.
#[derive(Clone)]
pub enum Item {
    Scenario(Arc<Scenario>),
    Check(Arc<dyn Check>),
}

/// What every item is, uniformly, for selection and `--list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInfo {
    pub id: String,
    pub title: String,
    pub area: String,
    pub requirements: Vec<String>,
    pub rfc_refs: Vec<String>,
    pub tags: Vec<String>,
    pub requires: Vec<String>,
    pub destructive: bool,
    /// `scenario` or `check`.
    pub kind: &'static str,
}

impl Item {
    pub fn info(&self) -> ItemInfo {
        match self {
            Item::Scenario(s) => ItemInfo {
                id: s.name.clone(),
                title: s.title.clone(),
                area: s.area(),
                requirements: s.requirements.clone(),
                rfc_refs: s.rfc.clone(),
                tags: s.tags.clone(),
                requires: s.requires.iter().map(|n| n.to_string()).collect(),
                destructive: s.destructive,
                kind: "scenario",
            },
            Item::Check(c) => {
                let i = c.info();
                let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
                ItemInfo {
                    id: i.id.to_string(),
                    title: i.title.to_string(),
                    area: i.area.to_string(),
                    requirements: own(i.requirements),
                    rfc_refs: own(i.rfc_refs),
                    tags: own(i.tags),
                    requires: own(i.requires),
                    destructive: i.destructive,
                    kind: "check",
                }
            }
        }
    }

    /// Whether it logs in as the test user (and so may collide with a locked maildrop).
    fn logs_in(&self) -> bool {
        match self {
            Item::Scenario(s) => s.needs_credentials(),
            Item::Check(_) => true,
        }
    }

    /// Whether it fails logins on purpose (run after the others on servers that penalise them).
    fn fails_login(&self) -> bool {
        match self {
            Item::Scenario(s) => s.fails_login(),
            Item::Check(c) => c.info().tags.contains(&"failed-login"),
        }
    }
}

/// How the maildrop is restored before a destructive item.
#[derive(Clone)]
pub enum Reseed {
    /// `--reseed CMD`: a shell command; must exit 0 within [`RESEED_TIMEOUT`].
    Command(String),
    /// The built-in server's `reseed()`.
    Builtin(Arc<dyn Fn() + Send + Sync>),
}

/// Bound on one `--reseed` command: long enough for a container exec or an rsync of a maildir.
pub const RESEED_TIMEOUT: Duration = Duration::from_secs(120);

impl Reseed {
    async fn run(&self) -> Result<(), String> {
        match self {
            Reseed::Builtin(f) => {
                f();
                Ok(())
            }
            Reseed::Command(cmd) => {
                let child = tokio::process::Command::new("sh").arg("-c").arg(cmd).kill_on_drop(true).output();
                match tokio::time::timeout(RESEED_TIMEOUT, child).await {
                    Err(_) => Err(format!("--reseed `{cmd}` did not finish within {}s", RESEED_TIMEOUT.as_secs())),
                    Ok(Err(e)) => Err(format!("--reseed `{cmd}` could not start: {e}")),
                    Ok(Ok(out)) if out.status.success() => Ok(()),
                    Ok(Ok(out)) => Err(format!(
                        "--reseed `{cmd}` failed ({}): {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    )),
                }
            }
        }
    }
}

/// The knobs of one run.
#[derive(Clone)]
pub struct RunOptions {
    /// Items at once (at least 1).
    pub jobs: usize,
    /// Restores the maildrop before each destructive item; `None` with destructive items
    /// allowed is a caller error (they are skipped by [`Env::destructive_denied`] instead).
    pub reseed: Option<Reseed>,
    /// Serialise items that log in (the probe saw the server lock maildrops).
    pub serialise_logins: bool,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// One result per item, in the order given; items never started are absent.
    pub results: Vec<CheckResult>,
    /// Invariants the scenarios saw broken outside what they test ([`incidental`]).
    pub observations: Vec<Observation>,
    /// Cancelled before every item ran.
    pub incomplete: bool,
}

type ItemFuture = Pin<Box<dyn Future<Output = (CheckResult, Vec<Observation>)> + Send>>;

/// Why a whole family of checks does not apply here: RFC 2449 (CAPA, response codes, pipelining,
/// command lengths) is an optional extension, and a server that answers CAPA with `-ERR` does not
/// implement it.
fn family_skip(item: &Item, env: &Env) -> Option<String> {
    (item.info().area == "RFC 2449" && env.inventory.capa == crate::inventory::Support::No).then(|| {
        "the server does not answer CAPA: it does not implement RFC 2449 (an optional extension), so \
         RFC 2449's checks do not apply"
            .to_string()
    })
}

/// Longest a Rust check may run (scenarios have their own `timeout`, 30 s by default): the
/// slowest ones walk every message several times.
const CHECK_LIMIT: Duration = Duration::from_secs(120);

/// A Rust check's declared need of the maildrop or accounts (`messages 1`, `seed`...) that this
/// target does not meet, as the scenarios' `requires` are judged.
fn unmet_data_need(info: &crate::checks::CheckInfo, env: &Env) -> Option<String> {
    let user = env.creds.as_ref()?.user.as_str();
    info.requires
        .iter()
        .filter_map(|r| crate::inventory::DataNeed::parse(r))
        .find_map(|need| env.inventory.unmet(need, user))
}

fn run_item(item: Item, env: Arc<Env>) -> ItemFuture {
    Box::pin(async move {
        if let Some(reason) = family_skip(&item, &env) {
            return (skipped(&item, reason), Vec::new());
        }
        match item {
            Item::Scenario(s) => match env.skip_reason(&s) {
                Some(reason) => (skipped(&Item::Scenario(s.clone()), reason), Vec::new()),
                None => {
                    let o = exec::run_observed(&s, &env).await;
                    (o.result, o.observations)
                }
            },
            Item::Check(c) => {
                if let Some(reason) = unmet_data_need(&c.info(), &env) {
                    return (skipped(&Item::Check(c), reason), Vec::new());
                }
                let ctx = CheckContext {
                    target: env.target.clone(),
                    opts: env.opts.clone(),
                    creds: env.creds.clone(),
                    stls: env.stls,
                    destructive: env.destructive_denied.is_none(),
                    inventory: env.inventory.clone(),
                    apop_secret: env.apop_secret.clone(),
                };
                let info = c.info();
                // Bounded like a scenario: a server too slow for every reply cannot hold the run.
                let limit = CHECK_LIMIT + env.auth_allowance() * 4;
                match tokio::time::timeout(limit, c.run(&ctx)).await {
                    Ok(r) => (r, Vec::new()),
                    Err(_) => {
                        let mut r = errored(
                            &Item::Check(c.clone()),
                            format!(
                                "the check did not finish within {}: the server's replies were too slow for it",
                                humantime::format_duration(limit)
                            ),
                        );
                        r.requirements = info.requirements.iter().map(|s| s.to_string()).collect();
                        (r, Vec::new())
                    }
                }
            }
        }
    })
}

/// A skip result with the item's identifying fields.
pub fn skipped(item: &Item, reason: impl Into<String>) -> CheckResult {
    let i = item.info();
    let mut r = CheckResult::new(i.id, i.title, i.area, Verdict::Skip);
    r.requirements = i.requirements;
    r.rfc_refs = i.rfc_refs;
    r.message = Some(reason.into());
    r
}

/// An error result with the item's identifying fields.
pub fn errored(item: &Item, message: impl Into<String>) -> CheckResult {
    let mut r = skipped(item, message);
    r.verdict = Verdict::Error;
    r
}

/// Runs `items` against `env`. Non-destructive items first, `opts.jobs` at once; then the
/// destructive ones, one at a time, each after a reseed; a final reseed leaves the maildrop as
/// found. `cancel` turning true stops the run: running items are abandoned, the outcome is
/// marked incomplete.
pub async fn run(items: Vec<Item>, env: Env, opts: RunOptions, mut cancel: watch::Receiver<bool>) -> Outcome {
    let env = Arc::new(env);
    let mut slots: Vec<Option<CheckResult>> = vec![None; items.len()];
    let mut observations = Vec::new();
    let (normal, destructive): (Vec<usize>, Vec<usize>) = (0..items.len()).partition(|&i| !items[i].info().destructive);
    // A server that penalises failed logins (Dovecot delays every login from the address for
    // seconds after one) would slow every check that runs beside one that fails a login on
    // purpose: those go in a second wave.
    let penalised = env.inventory.auth_delay.is_some_and(|d| d.noticeable());
    let (first, second): (Vec<usize>, Vec<usize>) =
        normal.into_iter().partition(|&i| !(penalised && items[i].fails_login()));
    let jobs = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let user_lock = Arc::new(Mutex::new(()));
    let mut incomplete = false;
    for wave in [first, second] {
        let mut set = tokio::task::JoinSet::new();
        for i in wave {
            let (item, env, jobs, user_lock) = (items[i].clone(), env.clone(), jobs.clone(), user_lock.clone());
            let serial = opts.serialise_logins && item.logs_in();
            set.spawn(async move {
                let _permit = jobs.acquire_owned().await;
                let _guard = if serial { Some(user_lock.lock().await) } else { None };
                (i, run_item(item, env).await)
            });
        }
        loop {
            tokio::select! {
                next = set.join_next() => match next {
                    None => break,
                    Some(Ok((i, (r, seen)))) => {
                        slots[i] = Some(r);
                        observations.extend(seen);
                    }
                    Some(Err(e)) => {
                        // A panicking check must not take the run down; its slot stays empty and
                        // is reported as an error below.
                        eprintln!("internal error in a check: {e}");
                    }
                },
                _ = cancel.changed() => {
                    set.abort_all();
                    incomplete = true;
                    break;
                }
            }
        }
        if incomplete {
            break;
        }
    }
    if !incomplete && !destructive.is_empty() {
        let allowed = env.destructive_denied.is_none();
        let mut reseeded = false;
        for &i in &destructive {
            let item = items[i].clone();
            if let (true, Some(reseed)) = (allowed, &opts.reseed) {
                if let Err(e) = reseed.run().await {
                    slots[i] = Some(errored(&item, e));
                    continue;
                }
                reseeded = true;
            }
            tokio::select! {
                (r, seen) = run_item(item, env.clone()) => {
                    slots[i] = Some(r);
                    observations.extend(seen);
                }
                _ = cancel.changed() => { incomplete = true; break; }
            }
        }
        if reseeded {
            if let Some(reseed) = &opts.reseed {
                if let Err(e) = reseed.run().await {
                    eprintln!("warning: the final reseed failed: {e}");
                }
            }
        }
    } else if incomplete {
        // Nothing more: destructive items never started.
    }
    let mut results = Vec::new();
    for (i, slot) in slots.into_iter().enumerate() {
        match slot {
            Some(r) => results.push(r),
            None if !incomplete => results.push(errored(&items[i], "internal error: the check panicked")),
            None => {}
        }
    }
    Outcome { results, observations, incomplete }
}

/// What [`run_suite`] produced: the server as probed, and the results.
#[derive(Debug, Clone)]
pub struct SuiteOutcome {
    pub server: crate::results::ServerInfo,
    pub results: Vec<CheckResult>,
    pub incomplete: bool,
    /// What the run adapted to (the server's connection limit, its failed-login delay).
    pub notes: Vec<String>,
}

/// Probes the server, then runs `items`: what `pop3test run` does between loading and rendering.
/// An unreachable server gives one `pop3test/probe` error; a refused test account gives that
/// error and skips whatever needs to log in.
pub async fn run_suite(
    items: Vec<Item>,
    mut env: Env,
    jobs: usize,
    reseed: Option<Reseed>,
    cancel: watch::Receiver<bool>,
) -> SuiteOutcome {
    let p = probe::probe(&env.target, &env.opts, env.creds.as_ref(), env.empty_creds.as_ref(), env.stls).await;
    env.caps = p.caps.clone();
    env.apop = p.apop;
    env.inventory = p.inventory.clone();
    let mut results = Vec::new();
    if let Some(why) = &p.unreachable {
        results.push(probe_error(why));
        return SuiteOutcome { server: p.server, results, incomplete: false, notes: Vec::new() };
    }
    let mut items = items;
    if let Some(why) = &p.login_refused {
        results.push(probe_error(why));
        let (login, rest): (Vec<Item>, Vec<Item>) = items.into_iter().partition(Item::logs_in);
        for i in &login {
            results.push(skipped(i, "the test account was refused (see pop3test/probe)"));
        }
        env.creds = None;
        items = rest;
    }
    // A check may hold two connections (a second session, a lock test): run no more at once than
    // the server serves (Courier: 4 per address), so none waits in its queue or is turned away.
    let capacity = crate::net::session::capacity(&env.target, &env.opts, MAX_CONNECTIONS, Duration::from_secs(3)).await;
    let fit = (capacity / 2).max(1);
    let mut notes = Vec::new();
    if fit < jobs {
        notes.push(format!(
            "the server served {capacity} connection(s) at once (of {MAX_CONNECTIONS} tried): {fit} check(s) ran at a time"
        ));
    }
    let jobs = jobs.min(fit);
    let opts = RunOptions { jobs, reseed, serialise_logins: p.locks };
    let outcome = run(items, env, opts, cancel).await;
    results.extend(outcome.results);
    let seen = incidental::results(outcome.observations, &mut results);
    results.extend(seen);
    if let Some(d) = p.inventory.auth_delay.filter(|d| d.noticeable()) {
        notes.push(format!(
            "a failed login was answered after {:.1} s and the next login took {:.1} s: the checks that fail \
             logins on purpose ran last, with waits that allow for it",
            d.failed.as_secs_f64(),
            d.next.as_secs_f64()
        ));
    }
    SuiteOutcome { server: p.server, results, incomplete: outcome.incomplete, notes }
}

/// Connections opened together to find how many the server serves at once.
const MAX_CONNECTIONS: usize = 8;

fn probe_error(why: &str) -> CheckResult {
    let mut r =
        CheckResult::new("pop3test/probe", "The tester reaches the server and logs in", "setup", Verdict::Error);
    r.message = Some(why.to_string());
    r
}

/// The environment for the built-in reference server: its addresses, its CA trusted, the default
/// test account (unless `creds` is given), destructive checks allowed with its own reseed.
pub fn builtin_env(
    handle: &Arc<crate::server::ServerHandle>,
    timeout: Duration,
    creds: Option<crate::net::session::Credentials>,
) -> (Env, Reseed) {
    use crate::net::session::{Credentials, Secret};
    let mut opts = handle.connect_options();
    opts.timeout = timeout;
    opts.response_deadline = timeout.max(Duration::from_secs(1)) * 6;
    let mut env = Env::new(handle.plain_target(), opts);
    env.tls_target = handle.tls_target();
    env.creds = creds.or_else(|| {
        Some(Credentials {
            user: crate::server::seed::DEFAULT_USER.into(),
            password: Secret::new(crate::server::seed::DEFAULT_PASSWORD),
        })
    });
    env.empty_creds = Some(Credentials {
        user: crate::server::seed::EMPTY_USER.into(),
        password: Secret::new(crate::server::seed::EMPTY_PASSWORD),
    });
    // The built-in server's APOP secret is the account's password.
    env.apop_secret = env.creds.as_ref().map(|c| c.password.clone());
    env.destructive_denied = None;
    let h = handle.clone();
    (env, Reseed::Builtin(Arc::new(move || h.reseed())))
}

/// Every built-in item: the YAML suite compiled into the binary and the Rust checks. File errors
/// in the built-in suite are a broken build; they come back as the `Err`.
pub fn builtin_items() -> Result<Vec<Item>, Vec<crate::scenario::builtin::BadFile>> {
    let (scenarios, bad) = crate::scenario::builtin::load_all();
    if !bad.is_empty() {
        return Err(bad);
    }
    Ok(items_of(scenarios))
}

/// The scenarios alone, as items (`run --scenarios PATH`).
pub fn scenario_items(scenarios: Vec<Scenario>) -> Vec<Item> {
    scenarios.into_iter().map(|s| Item::Scenario(Arc::new(s))).collect()
}

/// Scenarios plus the Rust checks, as items.
pub fn items_of(scenarios: Vec<Scenario>) -> Vec<Item> {
    let mut items = scenario_items(scenarios);
    items.extend(crate::checks::all().into_iter().map(|c| Item::Check(Arc::from(c))));
    items
}
