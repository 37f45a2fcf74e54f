//! The run: `jobs` workers, each on its own thread and single-threaded tokio runtime (value trees
//! are not `Send`), each keeping one session open for as many cases as the server allows. Worker
//! `w` runs cases `w, w + jobs, w + 2·jobs...`, each generated from the run seed and its index, so
//! the same seed and `--jobs` replay the same run. Findings are deduplicated by key across
//! workers; the worker that finds one first confirms, shrinks and exports it while the others go on.

use super::case::Case;
use super::exec::{alive, batchable, Env, Session, SetupError};
use super::export;
use super::model::Context;
use super::oracle::{announces_close, Candidate, FindingKey, Oracle, LINE_LENGTH};
use super::outcome::{Finding, FuzzOutcome, Progress, Regression};
use super::shrink::{self, Budget, Repro, ShrinkStats};
use super::source::Source;
use super::strategies::Mix;
use crate::proto::{SessionState, Violation};
use proptest::strategy::ValueTree;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod sweep_run;

/// Everything a run needs, passed in.
#[derive(Debug, Clone)]
pub struct FuzzConfig {
    pub env: Env,
    pub seed: u64,
    /// Stop after this many cases (all workers together); `None` with `duration` only.
    pub cases: Option<u64>,
    pub duration: Option<Duration>,
    pub jobs: usize,
    pub contexts: Vec<Context>,
    /// Which case families to draw from.
    pub mix: Mix,
    /// Up to this many single-write cases share one write when the server advertises
    /// PIPELINING (1: every case waits for the previous reply).
    pub batch: usize,
    /// Where reproducers go (and where saved ones are replayed from first); `None`: nowhere.
    pub out: Option<PathBuf>,
    pub progress: Progress,
    /// Set by Ctrl-C: workers stop after their current case.
    pub cancel: Arc<AtomicBool>,
    /// At most this many distinct findings (memory stays flat however long the run).
    pub max_findings: usize,
    /// Per finding: replays and wall time for minimisation.
    pub shrink: Budget,
    /// Replays that confirm a minimal reproducer.
    pub confirmations: u32,
    /// Check STAT/UIDL every this many cases in TRANSACTION.
    pub state_check_every: u64,
    /// Logged-in sessions at once (servers lock the maildrop: RFC 1939 §4). Default 1.
    pub logins: usize,
    /// A new session after this many cases, to spread cases over the contexts.
    pub session_cases: u64,
    /// How long to wait, backing off, for a server that stopped greeting.
    pub down_budget: Duration,
    /// The whole run ends by this time however the server behaves (`--duration`, `--deadline`):
    /// workers still blocked in a reply a moment later are abandoned, their findings kept.
    pub deadline: Option<Duration>,
    /// Run the systematic sweep ([`super::sweep`]) before the random search.
    pub sweep: bool,
}

impl FuzzConfig {
    /// Defaults for `env`: 1000 cases, one job, every context.
    pub fn new(env: Env, seed: u64) -> Self {
        FuzzConfig {
            env,
            seed,
            cases: Some(1000),
            duration: None,
            jobs: 1,
            contexts: Context::ALL.to_vec(),
            mix: Mix::All,
            batch: 1,
            out: None,
            progress: Progress::Off,
            cancel: Arc::new(AtomicBool::new(false)),
            max_findings: 256,
            shrink: Budget { replays: 64, time: Duration::from_secs(30) },
            confirmations: 3,
            state_check_every: 32,
            logins: 1,
            session_cases: 256,
            down_budget: Duration::from_secs(30),
            deadline: None,
            sweep: false,
        }
    }
}

/// The one finding for the server's error-count policy (whatever command or state met it).
fn policy_key() -> FindingKey {
    FindingKey { oracle: Oracle::Policy, reason: String::new(), keyword: "(session)".into(), context: "any".into() }
}

/// Contexts the reach pass sets up at once ([`Shared::reach_every_context`]).
const REACH_AT_ONCE: usize = 2;
/// How many past cases a session keeps for prefix minimisation.
const HISTORY: usize = 32;
/// Cases in a row without any reply after which the server is taken to have stopped answering:
/// each costs a full timeout, so going on would spend the whole budget waiting.
const HANGS_IN_A_ROW: u32 = 3;

enum Slot {
    /// Being confirmed; with what was seen, kept if the run ends first.
    InProgress(Option<Box<Finding>>),
    Done(Box<Finding>),
    /// Seen, but replays never reproduced it; tried this many times.
    Unconfirmed(u32),
}

pub(crate) struct Shared {
    pub cfg: FuzzConfig,
    pub start: Instant,
    pub cases: AtomicU64,
    pub sessions: AtomicU64,
    pub replays: AtomicU64,
    pub unconfirmed: AtomicU64,
    pub skipped: AtomicU64,
    pub stop: AtomicBool,
    pub incomplete: AtomicBool,
    /// Consecutive errors after which the server closes (0: not seen).
    policy_limit: AtomicU32,
    /// Consecutive cases that got no reply at all (see [`HANGS_IN_A_ROW`]).
    hangs_in_a_row: AtomicU32,
    /// Why the last session could not be set up (for a run in which no case ran).
    last_setup_error: Mutex<Option<String>>,
    findings: Mutex<BTreeMap<FindingKey, (Slot, u64)>>,
    unavailable: Mutex<BTreeMap<Context, String>>,
    /// Setups of a context that failed in a row while the server kept greeting, with the last
    /// reason (see [`SETUP_FAILURES`]); a context that was set up once is in `reached`.
    setup_failures: Mutex<BTreeMap<Context, (u32, String)>>,
    reached: Mutex<std::collections::BTreeSet<Context>>,
    logins: Arc<tokio::sync::Semaphore>,
    /// The sweep's cells tried and not applicable, and the lines it sent (preps included).
    sweep_tried: AtomicU64,
    sweep_not_applicable: AtomicU64,
    sweep_cases: AtomicU64,
    /// Argument classes that made the server stop answering: the sweep skips their other cells
    /// (each would cost a full timeout to show the same hang again).
    sweep_hung: Mutex<std::collections::BTreeSet<super::sweep::ArgClass>>,
    /// Set once every context has been tried (or the reach pass gave up): the sweep starts then,
    /// so a context out of reach is known before it and no two setups of it race.
    reach_done: tokio::sync::watch::Sender<bool>,
}

/// What came of setting up a context.
enum Opening {
    Open(Box<Session>),
    /// Not this time (counted; out of reach once it keeps failing or the server said so).
    Failed,
    /// The server stopped greeting: the run ends.
    Down,
}

/// Setups of one context that may fail in a row, the server greeting all along, before the
/// context is out of reach. A timeout in setup looked like the server being down, and a server
/// that is not down got the context retried, a `--timeout` each time, for the whole run: a server
/// that answers STLS `+OK` and never speaks TLS had 8 s of fuzzing spent on 20 cases and the run
/// reported PASS, never saying the after-STLS context was lost. A context never reached in the
/// whole run, its last setup failed, is out of reach too, however few tries the run had time for.
const SETUP_FAILURES: u32 = 2;

impl Shared {
    pub fn findings_count(&self) -> usize {
        self.lock().values().filter(|(s, _)| matches!(s, Slot::Done(_))).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<FindingKey, (Slot, u64)>> {
        self.findings.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn should_stop(&self, index: u64) -> bool {
        self.stop.load(Relaxed)
            || self.cfg.cancel.load(Relaxed)
            || self.cfg.cases.is_some_and(|n| index >= n)
            || self.cfg.duration.is_some_and(|d| self.start.elapsed() >= d)
            || self.time_left().is_zero()
    }

    /// Time until the run's deadline (a long time when there is none).
    fn time_left(&self) -> Duration {
        match self.cfg.deadline {
            Some(d) => d.saturating_sub(self.start.elapsed()),
            None => Duration::from_secs(24 * 3600),
        }
    }

    /// A case got no reply (`hang`) or one (any other outcome). After [`HANGS_IN_A_ROW`] hangs
    /// the server has stopped answering: a liveness finding, and the run ends.
    fn note_reply(&self, hang: bool, context: &str, keyword: &str) {
        if !hang {
            self.hangs_in_a_row.store(0, Relaxed);
            return;
        }
        let n = self.hangs_in_a_row.fetch_add(1, Relaxed) + 1;
        if n >= HANGS_IN_A_ROW {
            let why = format!(
                "{n} cases in a row got no reply within {:?} while the connection stayed open: the server \
                 stopped answering (liveness), so the run ends instead of spending its budget waiting",
                self.cfg.env.opts.timeout
            );
            self.liveness(context, keyword, why);
        }
    }

    /// A liveness finding (the server stopped answering, or no case could run) that ends the run.
    fn liveness(&self, context: &str, keyword: &str, detail: String) {
        let key = FindingKey {
            oracle: Oracle::ServerDown,
            reason: String::new(),
            keyword: keyword.into(),
            context: context.into(),
        };
        let mut c = Candidate::new(Oracle::ServerDown, keyword, detail);
        c.reason = super::oracle::Reason::None;
        let finding = Finding::new(key.clone(), c, None, (0, 0), Vec::new());
        if self.claim(&key) {
            self.settle(&key, Some(finding));
        }
        self.stop.store(true, Relaxed);
    }

    /// Claims `key`: true when this caller should confirm it (first sighting).
    fn claim(&self, key: &FindingKey) -> bool {
        let mut f = self.lock();
        if let Some((slot, n)) = f.get_mut(key) {
            *n += 1;
            return matches!(slot, Slot::Unconfirmed(tries) if *tries < 3) && {
                *slot = Slot::InProgress(None);
                true
            };
        }
        if f.len() >= self.cfg.max_findings {
            return false;
        }
        f.insert(key.clone(), (Slot::InProgress(None), 1));
        true
    }

    /// Keeps what a first sighting showed while it is replayed: if the run's time ends first,
    /// the finding is reported as seen (see [`Finding::cut_short`]).
    fn provisional(&self, key: &FindingKey, finding: Finding) {
        if let Some((slot @ Slot::InProgress(None), _)) = self.lock().get_mut(key) {
            *slot = Slot::InProgress(Some(Box::new(Finding { cut_short: true, ..finding })));
        }
    }

    /// Replays did not reproduce `key`. When the run's time ran out meanwhile they could not
    /// tell: the first sighting stands, unconfirmed. Otherwise it was a fluke (counted).
    fn not_reproduced(&self, key: &FindingKey) {
        if self.time_left().is_zero() || self.cfg.cancel.load(Relaxed) {
            let seen = match self.lock().get_mut(key) {
                Some((Slot::InProgress(f), _)) => f.take(),
                _ => None,
            };
            if let Some(f) = seen {
                return self.settle(key, Some(*f));
            }
        }
        self.settle(key, None);
    }

    fn settle(&self, key: &FindingKey, finding: Option<Finding>) {
        let mut f = self.lock();
        let entry = f.entry(key.clone()).or_insert((Slot::InProgress(None), 1));
        entry.0 = match (finding, &entry.0) {
            (Some(x), _) => Slot::Done(Box::new(x)),
            (None, Slot::Unconfirmed(n)) => Slot::Unconfirmed(n + 1),
            (None, _) => Slot::Unconfirmed(1),
        };
        if matches!(entry.0, Slot::Unconfirmed(_)) {
            self.unconfirmed.fetch_add(1, Relaxed);
        }
    }

    /// Waits for a greeting, backing off exponentially (50 ms doubling to 5 s) within the budget.
    async fn await_alive(&self) -> bool {
        let start = Instant::now();
        let budget = self.cfg.down_budget.min(self.time_left());
        let mut delay = Duration::from_millis(50);
        for _ in 0..40 {
            if alive(&self.cfg.env).await {
                return true;
            }
            if start.elapsed() >= budget {
                break;
            }
            tokio::time::sleep(delay.min(budget.saturating_sub(start.elapsed()))).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        false
    }

    /// The server stopped greeting: a critical finding, and the run ends.
    fn server_down(&self, context: &str, keyword: &str, repro: Option<Repro>, why: &str) {
        let key = FindingKey {
            oracle: Oracle::ServerDown,
            reason: String::new(),
            keyword: keyword.into(),
            context: context.into(),
        };
        let detail = format!("no greeting on a fresh connection within {:?}: {why}", self.cfg.down_budget);
        let mut c = Candidate::new(Oracle::ServerDown, keyword, detail);
        c.reason = super::oracle::Reason::None;
        let finding = Finding::new(key.clone(), c, repro, (0, 0), Vec::new());
        if self.claim(&key) {
            self.settle(&key, Some(finding));
        }
        self.stop.store(true, Relaxed);
        self.incomplete.store(true, Relaxed);
    }

    fn record_setup_violations(&self, context: Context, violations: &[Violation]) {
        for v in violations {
            let c =
                Candidate { violation: Some(v.clone()), ..Candidate::new(Oracle::Violation, "(setup)", v.to_string()) };
            let key = c.key(context.name());
            if self.claim(&key) {
                self.settle(&key, Some(Finding::new(key.clone(), c, None, (1, 1), Vec::new())));
            }
        }
    }

    /// Sets up `ctx` once, noting what came of it: reached, out of reach (and why), or the
    /// server down (a liveness finding that ends the run).
    async fn open(&self, ctx: Context) -> Opening {
        match Session::open(&self.cfg.env, ctx).await {
            Ok(s) => {
                self.setup_failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&ctx);
                self.reached.lock().unwrap_or_else(|p| p.into_inner()).insert(ctx);
                self.sessions.fetch_add(1, Relaxed);
                self.record_setup_violations(ctx, &s.setup_violations);
                Opening::Open(Box::new(s))
            }
            Err(SetupError::Down(why)) => {
                *self.last_setup_error.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("{}: {why}", ctx.name()));
                // Counted before the liveness check, which the run's end may cut short.
                let failed = {
                    let mut failures = self.setup_failures.lock().unwrap_or_else(|p| p.into_inner());
                    let (n, last) = failures.entry(ctx).or_insert((0, String::new()));
                    *n += 1;
                    last.clone_from(&why);
                    *n
                };
                if !self.await_alive().await {
                    self.server_down("any", "(connect)", None, &why);
                    return Opening::Down;
                }
                if failed >= SETUP_FAILURES {
                    self.unavailable.lock().unwrap_or_else(|p| p.into_inner()).entry(ctx).or_insert(why);
                }
                Opening::Failed
            }
            Err(SetupError::Unavailable(why)) if why.contains("IN-USE") => Opening::Failed,
            Err(SetupError::Unavailable(why)) => {
                *self.last_setup_error.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("{}: {why}", ctx.name()));
                self.unavailable.lock().unwrap_or_else(|p| p.into_inner()).entry(ctx).or_insert(why);
                Opening::Failed
            }
        }
    }

    /// Beside the search, every context is set up once, all at once (logins within `--logins`),
    /// and closed: a state the server does not let us reach is reported whatever the search's
    /// timing. (A worker moves to the next context only when its session ends; against a server
    /// that stalls on STLS, a loaded machine's run could end before any worker tried the
    /// after-STLS context, and the report said nothing about it.) Costs one session per context.
    async fn reach_every_context(self: Arc<Self>) {
        let mut tries = tokio::task::JoinSet::new();
        // Two setups at a time: each may hold a reply up to --max-response while it is refused
        // (16 MiB of an endless CAPA), and five at once took a fuzz run past 60 MiB.
        let at_once = Arc::new(tokio::sync::Semaphore::new(REACH_AT_ONCE));
        for &ctx in &self.cfg.contexts {
            let (sh, at_once) = (self.clone(), at_once.clone());
            tries.spawn(async move {
                let _turn = at_once.acquire_owned().await;
                if sh.stop.load(Relaxed) || sh.cfg.cancel.load(Relaxed) {
                    return;
                }
                let permit = if ctx.needs_login() { sh.logins.clone().acquire_owned().await.ok() } else { None };
                if let Opening::Open(s) = sh.open(ctx).await {
                    s.quit().await;
                }
                drop(permit);
            });
        }
        while tries.join_next().await.is_some() {}
    }

    /// Opens the next reachable context in this worker's rotation.
    async fn open_next(
        &self,
        turn: &mut usize,
        permit: &mut Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Option<Session> {
        let contexts = &self.cfg.contexts;
        for _ in 0..contexts.len() * 4 {
            if self.stop.load(Relaxed) || self.cfg.cancel.load(Relaxed) {
                return None;
            }
            let ctx = contexts[*turn % contexts.len()];
            *turn += 1;
            if self.unavailable.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&ctx) {
                continue;
            }
            *permit = None;
            if ctx.needs_login() {
                let only_logins = contexts.iter().all(|c| c.needs_login());
                *permit = if only_logins {
                    self.logins.clone().acquire_owned().await.ok()
                } else {
                    self.logins.clone().try_acquire_owned().ok()
                };
                if permit.is_none() {
                    continue;
                }
            }
            match self.open(ctx).await {
                Opening::Open(s) => return Some(*s),
                Opening::Failed => {}
                Opening::Down => return None,
            }
        }
        None
    }

    /// Confirms, shrinks and records a candidate (first sighting of its key only).
    async fn handle(
        &self,
        mut c: Candidate,
        ctx: Context,
        prefix: Vec<Case>,
        index: u64,
        trigger: Case,
        closed: Option<(String, u32)>,
    ) {
        if c.oracle == Oracle::Policy && c.keyword == LINE_LENGTH {
            let key = c.key("any");
            if self.claim(&key) {
                self.settle(&key, Some(Finding::new(key.clone(), c, None, (1, 1), Vec::new())));
            }
            return;
        }
        if c.oracle == Oracle::Policy {
            match self.policy(&c, ctx, closed).await {
                Some(true) | None => return,
                Some(false) => {
                    c.oracle = Oracle::Crash;
                    c.detail = "the connection was closed or reset without a reply to this input".into();
                }
            }
        }
        let key = c.key(ctx.name());
        if !self.claim(&key) {
            return;
        }
        if matches!(c.oracle, Oracle::Crash | Oracle::Hang) && !self.await_alive().await {
            let repro = Repro { context: ctx, prefix, trigger };
            self.server_down(ctx.name(), &c.keyword, Some(repro), &c.detail);
            return;
        }
        let seen = Repro { context: ctx, prefix: prefix.clone(), trigger: trigger.clone() };
        self.provisional(&key, Finding::new(key.clone(), c.clone(), Some(seen), (0, 0), Vec::new()));
        let env = &self.cfg.env;
        // Shrinking fits in what is left of the run: near the deadline a finding is kept as found.
        let budget = Budget { time: self.cfg.shrink.time.min(self.time_left()), ..self.cfg.shrink };
        let mut stats = ShrinkStats::default();
        let alone = Repro { context: ctx, prefix: Vec::new(), trigger: trigger.clone() };
        stats.replays += 1;
        let mut repro = if shrink::reproduces(env, &alone, &key).await {
            alone
        } else {
            let mut full = Repro { context: ctx, prefix, trigger };
            stats.replays += 1;
            if full.prefix.is_empty() || !shrink::reproduces(env, &full, &key).await {
                self.replays.fetch_add(u64::from(stats.replays), Relaxed);
                self.not_reproduced(&key);
                return;
            }
            shrink::minimise_prefix(env, &mut full, &key, budget, &mut stats).await;
            full
        };
        let original = repro.trigger.len();
        let mut tree = shrink::case_tree(self.cfg.seed, index, self.cfg.mix);
        if tree.current().render() == repro.trigger {
            shrink::minimise_trigger(env, &mut repro, &mut tree, &key, budget, &mut stats).await;
        }
        let n = self.cfg.confirmations.max(1);
        let (hits, transcript, did_stls) = shrink::confirm(env, &repro, &key, n).await;
        self.replays.fetch_add(u64::from(stats.replays + n), Relaxed);
        if hits * 2 < n || hits == 0 {
            self.not_reproduced(&key);
            return;
        }
        let mut finding = Finding::new(key.clone(), c, Some(repro), (hits, n), transcript);
        finding.original_len = original;
        finding.shrink_steps = stats.steps;
        finding.did_stls = did_stls;
        if let Some(dir) = &self.cfg.out {
            finding.exported = Some(finding.export(dir, self.cfg.seed, env.opts.timeout).map_err(|e| e.to_string()));
        }
        self.settle(&key, Some(finding));
    }

    /// A close right after `-ERR`: policy when the server said so, or when it closes after the
    /// same number of neutral errors. `Some(true)`: policy recorded (or already known);
    /// `Some(false)`: not a policy, judge it as a crash; `None`: could not tell.
    async fn policy(&self, c: &Candidate, ctx: Context, closed: Option<(String, u32)>) -> Option<bool> {
        let (text, count) = closed?;
        let key = policy_key();
        // A server that closes with our next lines unread sends RST, which can take its last
        // `-ERR` with it: the count we saw may be one short.
        let known = self.policy_limit.load(Relaxed);
        if known > 0 && count + 1 >= known {
            self.claim(&key);
            return Some(true);
        }
        let said_so = announces_close(&text);
        let count = if said_so {
            count
        } else {
            // A fresh session closed after `n` neutral errors explains this close whenever we had
            // sent at least about as many: pipelined cases and a server's unprompted parting
            // `-ERR` (Dovecot sends one right after the reply to the 3rd bad command) make the
            // count we saw larger than the limit, never smaller by more than a lost reply.
            match self.closes_after(ctx, count + 1).await? {
                Some(n) if n <= count + 1 => n,
                _ => return Some(false),
            }
        };
        self.record_policy(c, count, said_so, &text);
        Some(true)
    }

    /// Notes the server's error-count policy: the limit the fuzzer keeps under, and a finding.
    fn record_policy(&self, c: &Candidate, count: u32, said_so: bool, text: &str) {
        let key = policy_key();
        self.policy_limit.store(count.max(1), Relaxed);
        if self.claim(&key) {
            let how = if said_so { "and says so" } else { "silently, at the same count every time" };
            let detail = format!("the server closes the session after {count} consecutive errors, {how} (last reply: `-ERR {text}`); the fuzzer now sends a valid command before reaching that count");
            let note = Candidate { detail, ..c.clone() };
            let mut f = Finding::new(
                key.clone(),
                Candidate { oracle: Oracle::Policy, keyword: "(session)".into(), ..note },
                None,
                (1, 1),
                Vec::new(),
            );
            f.policy_count = Some(count);
            self.settle(&key, Some(f));
        }
    }

    /// Sends up to `max` unknown commands, one at a time, in a fresh session: `Some(Some(n))`
    /// when the server closed after the `n`-th error, `Some(None)` when it never did.
    async fn closes_after(&self, ctx: Context, max: u32) -> Option<Option<u32>> {
        let env = &self.cfg.env;
        let mut s = Session::open(env, ctx).await.ok()?;
        self.replays.fetch_add(1, Relaxed);
        let probe = Case::line(b"XFUZ\r\n");
        for _ in 0..=max.min(64) {
            let o = s.run(env, &probe, true).await;
            if let Some((_, n)) = o.closed_after_err {
                return Some(Some(n));
            }
            if o.candidate.is_some() || !o.alive {
                return Some(None);
            }
        }
        Some(None)
    }

    /// Replays saved reproducers before fuzzing: still failing, or fixed.
    async fn regressions(&self) -> Vec<Regression> {
        let Some(dir) = &self.cfg.out else { return Vec::new() };
        let (saved, errors) = export::read_dir(dir);
        for e in errors {
            eprintln!("warning: {e}");
        }
        let mut out = Vec::new();
        for s in saved {
            let (hits, transcript, did_stls) = shrink::confirm(&self.cfg.env, &s.repro, &s.key, 1).await;
            self.replays.fetch_add(1, Relaxed);
            if hits > 0 && self.claim(&s.key) {
                let c = Candidate {
                    detail: format!("still fails (saved in {})", s.path.display()),
                    ..Candidate::new(s.key.oracle, s.key.keyword.clone(), s.title.clone())
                };
                let mut f = Finding::new(s.key.clone(), c, Some(s.repro.clone()), (1, 1), transcript);
                f.exported = Some(Ok(s.path.clone()));
                f.did_stls = did_stls;
                self.settle(&s.key, Some(f));
            }
            out.push(Regression { path: s.path, key: s.key, title: s.title, still_fails: hits > 0 });
        }
        out
    }
}

/// One worker: its own sessions, its share of the case indices.
async fn worker(sh: Arc<Shared>, w: usize) {
    if sh.cfg.sweep {
        sweep_run::share(&sh, w).await;
    }
    let mut turn = w;
    let mut session: Option<Session> = None;
    let mut permit = None;
    let mut history: VecDeque<Case> = VecDeque::with_capacity(HISTORY);
    let (mut since_check, mut session_cases) = (0u64, 0u64);
    let mut source = Source::new(sh.cfg.seed, sh.cfg.mix, w, sh.cfg.jobs);
    while let Some(index) = source.peek() {
        if sh.should_stop(index) {
            break;
        }
        if session.is_none() {
            match sh.open_next(&mut turn, &mut permit).await {
                Some(mut s) => {
                    s.stop_recording();
                    session = Some(s);
                }
                None => break,
            }
            history.clear();
            (since_check, session_cases) = (0, 0);
        }
        let Some(s) = session.as_mut() else { break };
        let Some((index, case)) = source.draw() else { break };
        if s.may_have_deleted() && case.mentions_quit() {
            // QUIT now would commit deletions (RFC 1939 §6): never.
            sh.skipped.fetch_add(1, Relaxed);
            continue;
        }
        let limit = sh.policy_limit.load(Relaxed);
        if limit > 0
            && s.consecutive_errors > 0
            && s.consecutive_errors + case.lines().len() as u32 >= limit
            && !s.reset_error_count().await
        {
            source.put_back([(index, case)]);
            session = None;
            continue;
        }
        let (mut indices, mut cases) = (vec![index], vec![case]);
        // `--batch`: the cases that follow share this write while they can (never against a
        // server that closes after a count of errors: a batch would run past its limit).
        if sh.cfg.batch > 1 && s.pipelining && limit == 0 && batchable(&cases[0]) {
            while cases.len() < sh.cfg.batch && source.peek().is_some_and(|i| !sh.should_stop(i)) {
                let Some((i, c)) = source.draw() else { break };
                if !batchable(&c) {
                    source.put_back([(i, c)]);
                    break;
                }
                indices.push(i);
                cases.push(c);
            }
        }
        let mut idle = || source.prepare();
        // `at`: cases completed before the outcome (its candidate belongs to `cases[at]`).
        let (outcome, at) = if cases.len() == 1 {
            let o = s.run_with(&sh.cfg.env, &cases[0], false, &mut idle).await;
            let at = usize::from(o.candidate.is_none());
            (o, at)
        } else {
            s.run_batch(&cases, &mut idle).await
        };
        let ran = (at + 1).min(cases.len());
        sh.cases.fetch_add(ran as u64, Relaxed);
        let hang = outcome.candidate.as_ref().is_some_and(|c| c.oracle == Oracle::Hang);
        sh.note_reply(hang, s.context.name(), &cases[at.min(cases.len() - 1)].keyword());
        // Cases of a batch after the one that ended it were sent but not judged: again later.
        source.put_back(indices[ran..].iter().copied().zip(cases[ran..].iter().cloned()));
        s.take_transcript();
        let ctx = s.context;
        if let Some(c) = outcome.candidate {
            if !outcome.alive {
                session = None;
            }
            let mut prefix: Vec<Case> = history.iter().cloned().collect();
            prefix.extend(cases[..at].iter().cloned());
            sh.handle(c, ctx, prefix, indices[at], cases[at].clone(), outcome.closed_after_err).await;
            if session.is_none() {
                continue;
            }
        } else if !outcome.alive || outcome.uncertain {
            session = None;
            continue;
        }
        let index = indices[ran - 1];
        cases.truncate(ran);
        for case in cases {
            if history.len() == HISTORY {
                history.pop_front();
            }
            history.push_back(case);
        }
        since_check += ran as u64;
        session_cases += ran as u64;
        let Some(s) = session.as_mut() else { continue };
        if since_check >= sh.cfg.state_check_every && s.model.state == SessionState::Transaction {
            since_check = 0;
            match s.check_state().await {
                Ok(None) => {}
                Ok(Some(c)) => {
                    session = None;
                    let mut prefix: Vec<Case> = history.iter().cloned().collect();
                    let trigger = prefix.pop().unwrap_or_default();
                    sh.handle(c, ctx, prefix, index, trigger, None).await;
                }
                Err(_) => session = None,
            }
        }
        if session_cases >= sh.cfg.session_cases {
            session = None;
        }
    }
    drop(session);
}

/// Runs the fuzzer to its budget and returns what it found.
pub async fn run(cfg: FuzzConfig) -> FuzzOutcome {
    let jobs = cfg.jobs.max(1);
    let shared = Arc::new(Shared {
        logins: Arc::new(tokio::sync::Semaphore::new(cfg.logins.max(1))),
        cfg,
        start: Instant::now(),
        cases: AtomicU64::new(0),
        sessions: AtomicU64::new(0),
        replays: AtomicU64::new(0),
        unconfirmed: AtomicU64::new(0),
        skipped: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        incomplete: AtomicBool::new(false),
        policy_limit: AtomicU32::new(0),
        hangs_in_a_row: AtomicU32::new(0),
        last_setup_error: Mutex::new(None),
        findings: Mutex::new(BTreeMap::new()),
        unavailable: Mutex::new(BTreeMap::new()),
        setup_failures: Mutex::new(BTreeMap::new()),
        reached: Mutex::new(Default::default()),
        sweep_tried: AtomicU64::new(0),
        sweep_not_applicable: AtomicU64::new(0),
        sweep_cases: AtomicU64::new(0),
        sweep_hung: Mutex::new(Default::default()),
        reach_done: tokio::sync::watch::Sender::new(false),
    });
    let regressions = shared.regressions().await;
    if shared.cfg.sweep {
        sweep_run::learn_error_limit(&shared).await;
    }
    let reach = {
        let sh = shared.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(sh.time_left(), sh.clone().reach_every_context()).await;
            sh.reach_done.send_replace(true);
        })
    };
    let mut progress = super::outcome::Ticker::new(shared.cfg.progress, shared.cfg.cases);
    // Each worker says when it ends (also when it fails to start or panics: the sender drops),
    // so the run ends when its last worker does, not at the next progress tick.
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let handles: Vec<_> = (0..jobs)
        .map(|w| {
            let (sh, done) = (shared.clone(), done_tx.clone());
            std::thread::Builder::new().name(format!("fuzz-{w}")).spawn(move || {
                match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt.block_on(worker(sh, w)),
                    Err(e) => eprintln!("error: fuzz worker {w}: {e}"),
                }
                drop(done);
            })
        })
        .collect();
    drop(done_tx);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    // At the deadline the workers are told to stop; one blocked in a reply gets a short grace,
    // then is abandoned (its thread ends with the process): the run ends on time, whatever the
    // server does, with every finding settled so far.
    let deadline = shared.cfg.deadline.map(|d| tokio::time::Instant::from_std(shared.start + d));
    let mut abandoned = false;
    loop {
        tokio::select! {
            ended = done_rx.recv() => if ended.is_none() { break },
            _ = tick.tick() => progress.tick(&shared, false),
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                shared.stop.store(true, Relaxed);
                let grace = shared.cfg.deadline.map_or(Duration::ZERO, |d| (d / 50).clamp(Duration::from_millis(200), Duration::from_secs(2)));
                let finished = tokio::time::timeout(grace, async { while done_rx.recv().await.is_some() {} }).await;
                abandoned = finished.is_err();
                break;
            }
        }
    }
    reach.abort();
    let elapsed = shared.start.elapsed();
    progress.tick(&shared, true);
    if !abandoned {
        for h in handles.into_iter().flatten() {
            let _ = h.join();
        }
    }
    if shared.cases.load(Relaxed) == 0 && shared.findings_count() == 0 && !shared.cfg.cancel.load(Relaxed) {
        // Never a clean pass on nothing: say why no case could run.
        let why = shared.last_setup_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let detail = match why {
            Some(w) => format!("no case could run: every session failed while being set up ({w})"),
            None => "no case could run before the run's time ended".to_string(),
        };
        shared.liveness("any", "(setup)", detail);
    }
    let findings: Vec<Finding> = std::mem::take(&mut *shared.lock())
        .into_values()
        .filter_map(|(slot, n)| match slot {
            // Abandoned at the deadline in the middle of its replays: reported as seen.
            Slot::Done(mut f) | Slot::InProgress(Some(mut f)) => {
                f.occurrences = n;
                Some(*f)
            }
            _ => None,
        })
        .collect();
    let mut unavailable = std::mem::take(&mut *shared.unavailable.lock().unwrap_or_else(|p| p.into_inner()));
    let reached = std::mem::take(&mut *shared.reached.lock().unwrap_or_else(|p| p.into_inner()));
    for (ctx, (_, why)) in std::mem::take(&mut *shared.setup_failures.lock().unwrap_or_else(|p| p.into_inner())) {
        if !reached.contains(&ctx) {
            unavailable.entry(ctx).or_insert(why);
        }
    }
    let cfg = &shared.cfg;
    let ended_by_duration = cfg.duration.is_some() && cfg.duration == cfg.deadline;
    let mut findings = findings;
    // What the deadline cut short is written out too: the user replays it with `run`.
    for f in findings.iter_mut().filter(|f| f.cut_short && f.exported.is_none() && f.repro.is_some()) {
        if let Some(dir) = &cfg.out {
            f.exported = Some(f.export(dir, cfg.seed, cfg.env.opts.timeout).map_err(|e| e.to_string()));
        }
    }
    findings.sort_by(|a, b| b.severity().cmp(&a.severity()).then_with(|| a.key.cmp(&b.key)));
    FuzzOutcome {
        seed: cfg.seed,
        cases: shared.cases.load(Relaxed),
        sessions: shared.sessions.load(Relaxed),
        replays: shared.replays.load(Relaxed),
        unconfirmed: shared.unconfirmed.load(Relaxed),
        skipped: shared.skipped.load(Relaxed),
        elapsed,
        findings,
        regressions,
        unavailable: unavailable.into_iter().map(|(c, why)| (c.name().to_string(), why)).collect(),
        // A worker still inside a case when `--duration` ends is the run ending as asked (that
        // case is not counted); only `--deadline` (or Ctrl-C) cuts a run short.
        incomplete: shared.incomplete.load(Relaxed) || cfg.cancel.load(Relaxed) || (abandoned && !ended_by_duration),
        coverage: cfg.sweep.then(|| {
            let cells = super::sweep::cells(&cfg.contexts).len() as u64;
            let tried = shared.sweep_tried.load(Relaxed);
            let not_applicable = shared.sweep_not_applicable.load(Relaxed);
            crate::results::Coverage {
                cells,
                tried,
                not_applicable,
                not_reached: cells.saturating_sub(tried + not_applicable),
            }
        }),
        sweep_cases: shared.sweep_cases.load(Relaxed),
    }
}
