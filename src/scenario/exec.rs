//! The step executor: runs one [`Scenario`] against a server and turns what happened into a
//! [`CheckResult`]. It owns the scenario's connections, tracks each one's session state from the
//! replies ([`track`]), checks the parser's protocol invariants on every reply, evaluates the
//! expectations ([`expect`]) and gathers the transcripts as evidence.
//!
//! Three outcomes are kept apart: the server broke a rule (fail), the tester could not do its job
//! (error: refused connection, TLS failure, bad credentials) and the scenario does not apply
//! (skip, decided before anything is sent, see [`Env::skip_reason`]).

use super::diag::Span;
use super::model::*;
use super::template::Vars;
use crate::inventory::{Inventory, Support};
use crate::net::session::{Credentials, StlsPolicy};
use crate::net::{ConnectOptions, Connection, Scheme, Target};
use crate::proto::{Capabilities, SessionState};
use crate::results::{CheckResult, SourceLocation, Verdict};
use crate::transcript::{Direction, Entry};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[path = "expect.rs"]
mod expect;
#[path = "steps.rs"]
mod steps;
#[path = "steps_session.rs"]
mod steps_session;
#[path = "track.rs"]
mod track;

/// What a scenario runs against, shared by every scenario of a run.
#[derive(Debug, Clone)]
pub struct Env {
    pub target: Target,
    /// An implicit-TLS address (`connect: {tls: implicit}`), when known.
    pub tls_target: Option<Target>,
    pub opts: ConnectOptions,
    pub creds: Option<Credentials>,
    pub stls: StlsPolicy,
    /// Violation names (`--allow`) tolerated: recorded in the result, not failed.
    pub allow: Vec<String>,
    /// Everything the server advertised (before and after STLS and login), from the probe.
    pub caps: Capabilities,
    /// The greeting carries an APOP timestamp.
    pub apop: bool,
    /// `None`: destructive scenarios may run; `Some(reason)`: they are skipped with it.
    pub destructive_denied: Option<String>,
    /// What the probe found: optional commands that work, the maildrop, the empty account, the
    /// failed-login delay.
    pub inventory: Inventory,
    /// The second account, whose maildrop is empty (`--empty-user`): `${empty_user}`,
    /// `${empty_password}`.
    pub empty_creds: Option<Credentials>,
    /// The test account's APOP shared secret, when known (`--apop-secret-env`; the built-in
    /// server's is the password). RFC 1939 §7 does not make it the login password, so without it
    /// APOP is tried with the password and a refusal is not held against the server.
    pub apop_secret: Option<crate::net::session::Secret>,
}

impl Env {
    /// An environment with nothing known about the server yet.
    pub fn new(target: Target, opts: ConnectOptions) -> Env {
        Env {
            target,
            tls_target: None,
            opts,
            creds: None,
            stls: StlsPolicy::Auto,
            allow: Vec::new(),
            caps: Capabilities::default(),
            apop: false,
            destructive_denied: Some("destructive scenarios need --destructive and --reseed CMD".into()),
            inventory: Inventory::default(),
            empty_creds: None,
            apop_secret: None,
        }
    }

    /// Whether the server does what capability `tag` stands for: advertised in CAPA, or seen
    /// working in the probe. RFC 1939's optional commands (TOP, UIDL) and USER exist without RFC
    /// 2449, so a server that does not answer CAPA is judged on what it does.
    pub fn supports(&self, tag: &str) -> bool {
        if self.caps.has(tag) {
            return true;
        }
        let inv = &self.inventory;
        match tag.to_ascii_uppercase().as_str() {
            // Not a capability: the CAPA command itself (RFC 2449 §5).
            "CAPA" => inv.capa == Support::Yes || !self.caps.lines.is_empty(),
            "USER" => inv.user == Support::Yes || inv.capa == Support::No,
            "TOP" => inv.top == Support::Yes,
            "UIDL" => inv.uidl == Support::Yes,
            _ => false,
        }
    }

    /// Extra time a reply to a login command may take on this server (its measured failed-login
    /// delay and penalty, see [`crate::inventory::AuthDelay::allowance`]).
    pub fn auth_allowance(&self) -> Duration {
        self.inventory.auth_delay.map(|d| d.allowance()).unwrap_or_default()
    }

    fn implicit_target(&self) -> Option<&Target> {
        self.tls_target.as_ref().or((self.target.scheme == Scheme::ImplicitTls).then_some(&self.target))
    }

    /// Why the scenario does not apply here, if it does not.
    pub fn skip_reason(&self, sc: &Scenario) -> Option<String> {
        if let Some(r) = &sc.skip {
            return Some(r.clone());
        }
        for need in &sc.requires {
            let why = match need {
                Need::Credentials if self.creds.is_none() => {
                    "needs a test account: pass --user and --password-env".to_string()
                }
                Need::Destructive => match &self.destructive_denied {
                    Some(r) => r.clone(),
                    None => continue,
                },
                Need::ImplicitTls if self.implicit_target().is_none() => {
                    "needs an implicit-TLS address (a pop3s:// target or --tls-target)".to_string()
                }
                Need::Apop if !self.apop => "the greeting carries no APOP timestamp: APOP is not offered".to_string(),
                Need::Capability(c) if c == "CAPA" && !self.supports(c) => {
                    "the server does not answer CAPA (RFC 2449 is optional), and this check needs it".to_string()
                }
                Need::Capability(c) if !self.supports(c) => match self.inventory.capa {
                    Support::No => {
                        format!("the server does not answer CAPA (RFC 2449 is optional), so nothing says it offers {c}")
                    }
                    _ => format!("the server does not advertise {c}"),
                },
                Need::Sasl(m) if !self.caps.has_sasl(m) => format!("the server's SASL capability does not list {m}"),
                Need::Data(d) => match self.creds.as_ref() {
                    None => "needs a test account: pass --user and --password-env".to_string(),
                    Some(c) => match self.inventory.unmet(*d, &c.user) {
                        Some(why) => why,
                        None => continue,
                    },
                },
                _ => continue,
            };
            return Some(why);
        }
        None
    }
}

/// Why a scenario stopped before its end.
#[derive(Debug, Clone)]
pub(crate) enum Stop {
    Fail(Box<Failure>),
    /// The scenario's question was answered early and in the server's favour (e.g. it read
    /// plaintext injected after STLS as TLS data and the handshake failed: the injected command
    /// cannot have run inside TLS); the remaining steps have nothing left to test.
    Pass(String),
    /// The scenario could not go on for a reason that is not the server's fault (e.g. its
    /// legitimate disconnect-after-errors policy cut the session): skipped, with the reason.
    Skip(String),
    /// The tester could not do its job.
    Error {
        message: String,
        span: Span,
    },
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Stop {
        Stop::Fail(Box::new(f))
    }
}

/// A rule the server broke, with the evidence.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub requirement: String,
    pub rfc: String,
    pub message: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub span: Span,
}

/// A protocol invariant broken in a reply while the scenario was testing something else (its
/// requirement is not among the scenario's): it does not fail the scenario, whose verdict is about
/// what it tests; the runner reports each kind once, with where and how often it was seen.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The violation's name (`capa-syntax`) or, for an illegal state transition, `wrong-state`.
    pub kind: String,
    pub requirement: String,
    pub rfc: String,
    /// What exactly was wrong (the violation's text).
    pub detail: String,
    /// The scenario that saw it, and where (the step).
    pub scenario: String,
    pub location: SourceLocation,
    /// The reply's status line.
    pub actual: String,
    /// The exchange it was seen in (the last entries of that connection's transcript).
    pub evidence: Vec<Entry>,
    /// Tolerated by `--allow`.
    pub allowed: bool,
    /// How many replies of this scenario broke it this way.
    pub seen: u32,
}

/// What [`run_observed`] gives: the scenario's own result and the incidental observations.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: CheckResult,
    pub observations: Vec<Observation>,
}

/// One open (or finished) connection of the scenario.
pub(crate) struct Conn {
    pub conn: Option<Connection>,
    pub state: SessionState,
    pub tls: bool,
    pub timestamp: Option<String>,
    /// The last CAPA seen in the current state and TLS mode.
    pub caps: Option<Capabilities>,
    pub in_sasl: bool,
    /// Consecutive `-ERR` replies (for telling a disconnect-after-errors policy from a crash).
    pub errs_in_row: u32,
    /// `-ERR` replies in the whole session (some servers, e.g. solid-pop3d, count every error,
    /// not only consecutive ones, and close at a limit).
    pub errs_total: u32,
    /// The last reply refused a login (PASS, APOP, AUTH): RFC 1939 §4 lets the server close now.
    pub refused_login: bool,
    pub sent_dele: bool,
    /// The last write held more than one line (e.g. `STLS\r\nCAPA\r\n`): bytes followed STLS.
    pub wrote_after_stls: bool,
    /// Commands written by `send_raw` whose replies are still to be read, in order.
    pub pending: std::collections::VecDeque<Option<crate::proto::Command>>,
    /// When the connection opened, relative to the scenario's start (to merge transcripts).
    pub opened_ms: f64,
}

/// The state of one scenario run.
pub(crate) struct Run<'e> {
    pub env: &'e Env,
    pub sc: &'e Scenario,
    pub vars: Vars,
    pub conns: BTreeMap<String, Conn>,
    /// Finished transcripts: connection name, offset, entries.
    pub done: Vec<(String, f64, Vec<Entry>)>,
    /// Violations seen but allowed by `--allow`.
    pub tolerated: Vec<String>,
    pub started: Instant,
    /// The command line just sent when it does not parse as a command (for messages).
    pub label: Option<String>,
    /// The last APOP timestamp and its digest: bound before every step, computed once.
    pub apop_cache: Option<(String, String)>,
    /// Invariants broken outside the scenario's own requirements.
    pub observations: Vec<Observation>,
    /// The first invariant the last reply broke incidentally: `(requirement, rfc, detail)`. When
    /// that reply also fails the step's expectation, the broken invariant is the cause, and the
    /// failure is reported under its requirement.
    pub last_observed: Option<(String, String, String)>,
}

/// Runs one scenario (the caller has already checked [`Env::skip_reason`]); incidental
/// observations are dropped (see [`run_observed`]).
pub async fn run(sc: &Scenario, env: &Env) -> CheckResult {
    run_observed(sc, env).await.result
}

/// The time a scenario may take on this server: its own `timeout`, plus the server's measured
/// login delay for every step that logs in or may (a server that delays failed logins by seconds
/// must not time out a scenario that fails two on purpose).
pub fn time_limit(sc: &Scenario, env: &Env) -> Duration {
    sc.timeout + env.auth_allowance() * sc.login_steps() as u32
}

/// Runs one scenario and returns its result with what it noticed incidentally.
pub async fn run_observed(sc: &Scenario, env: &Env) -> Outcome {
    let started = Instant::now();
    let mut run = Run {
        env,
        sc,
        vars: Vars::default(),
        conns: BTreeMap::new(),
        done: Vec::new(),
        tolerated: Vec::new(),
        started,
        label: None,
        apop_cache: None,
        observations: Vec::new(),
        last_observed: None,
    };
    if let Some(c) = &env.creds {
        run.vars.set_str("user", c.user.clone());
        run.vars.set_secret("password", c.password.expose());
    }
    if let Some(c) = &env.empty_creds {
        run.vars.set_str("empty_user", c.user.clone());
        run.vars.set_secret("empty_password", c.password.expose());
    }
    for (name, value) in env.inventory.variables() {
        run.vars.set_str(&name, value);
    }
    let limit = time_limit(sc, env);
    let outcome = match tokio::time::timeout(limit, run.steps(&sc.steps)).await {
        Ok(r) => r,
        Err(_) => Err(Stop::Error {
            message: format!(
                "the scenario did not finish within its time limit ({})",
                humantime::format_duration(limit)
            ),
            span: sc.span,
        }),
    };
    run.close_all().await;
    let observations = std::mem::take(&mut run.observations);
    let vars = run.vars.clone();
    let mut observations = observations;
    for o in &mut observations {
        o.detail = vars.redact(&o.detail);
        o.actual = vars.redact(&o.actual);
        for e in &mut o.evidence {
            e.text = vars.redact(&e.text);
        }
    }
    Outcome { result: run.result(outcome, started.elapsed()), observations }
}

impl Run<'_> {
    /// Closes what is still open: QUIT, unless the connection deleted something (then it is
    /// dropped without QUIT so nothing is committed, RFC 1939 §6).
    async fn close_all(&mut self) {
        let names: Vec<String> = self.conns.keys().cloned().collect();
        for name in names {
            self.finish_conn(&name, None).await;
        }
    }

    /// Closes one connection (`quit`: Some(true) to QUIT, Some(false) to drop, None to decide)
    /// and keeps its transcript.
    pub(crate) async fn finish_conn(&mut self, name: &str, quit: Option<bool>) {
        let Some(mut c) = self.conns.remove(name) else { return };
        if let Some(conn) = c.conn.take() {
            let open = matches!(c.state, SessionState::Authorization | SessionState::Transaction);
            let quit = quit.unwrap_or(open && !c.sent_dele);
            let mut t = conn.close(quit && open).await;
            self.done.push((name.to_string(), c.opened_ms, t.take()));
        }
    }

    fn result(self, outcome: Result<(), Stop>, elapsed: Duration) -> CheckResult {
        let sc = self.sc;
        let mut r = CheckResult::new(&sc.name, &sc.title, sc.area(), Verdict::Pass);
        r.requirements = sc.requirements.clone();
        r.rfc_refs = sc.rfc.clone();
        r.duration_ms = elapsed.as_secs_f64() * 1000.0;
        let loc = |span: Span| SourceLocation { file: sc.file.clone(), line: span.line, column: span.col };
        let tolerated =
            (!self.tolerated.is_empty()).then(|| format!("tolerated by --allow: {}", self.tolerated.join("; ")));
        match outcome {
            Ok(()) => {
                r.message = tolerated;
                r.location = Some(loc(sc.span));
            }
            Err(Stop::Fail(f)) => {
                let f = *f;
                r.verdict = Verdict::Fail;
                if !r.requirements.contains(&f.requirement) {
                    r.requirements.push(f.requirement.clone());
                }
                if !f.rfc.is_empty() && !r.rfc_refs.contains(&f.rfc) {
                    r.rfc_refs.push(f.rfc.clone());
                }
                let mut msg = format!("[{}] {}: {}", f.requirement, f.rfc, f.message);
                if let Some(t) = tolerated {
                    msg.push_str(&format!(" ({t})"));
                }
                r.message = Some(msg);
                r.expected = f.expected;
                r.actual = f.actual;
                r.location = Some(loc(f.span));
            }
            Err(Stop::Skip(message)) => {
                r.verdict = Verdict::Skip;
                r.message = Some(message);
                r.location = Some(loc(sc.span));
            }
            Err(Stop::Pass(message)) => {
                r.message = Some(message);
                r.location = Some(loc(sc.span));
            }
            Err(Stop::Error { message, span }) => {
                r.verdict = Verdict::Error;
                r.message = Some(message);
                r.location = Some(loc(span));
            }
        }
        if let Some(reason) = &sc.xfail {
            r.verdict = match r.verdict {
                Verdict::Fail => {
                    r.message = Some(format!("expected failure ({reason}): {}", r.message.as_deref().unwrap_or("")));
                    Verdict::Xfail
                }
                Verdict::Pass => {
                    r.message = Some(format!("declared xfail ({reason}) but passed: remove `xfail`"));
                    Verdict::Xpass
                }
                v => v,
            };
        }
        if r.verdict != Verdict::Pass {
            r.transcript = merge_transcripts(self.done);
        }
        // Nothing that leaves the engine may carry an expanded secret.
        let vars = &self.vars;
        for field in [&mut r.message, &mut r.expected, &mut r.actual] {
            if let Some(s) = field.as_mut() {
                *s = vars.redact(s);
            }
        }
        for e in &mut r.transcript {
            e.text = vars.redact(&e.text);
        }
        r
    }
}

/// Merges per-connection transcripts on one time line, noting each switch of connection.
fn merge_transcripts(done: Vec<(String, f64, Vec<Entry>)>) -> Vec<Entry> {
    let several = done.len() > 1;
    let mut all: Vec<(f64, usize, String, Entry)> = Vec::new();
    for (name, offset, entries) in done {
        for (i, mut e) in entries.into_iter().enumerate() {
            e.t_ms += offset;
            all.push((e.t_ms, i, name.clone(), e));
        }
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out = Vec::with_capacity(all.len());
    let mut current: Option<String> = None;
    for (t, _, name, e) in all {
        if several && current.as_deref() != Some(name.as_str()) {
            out.push(Entry { t_ms: t, dir: Direction::Note, tls: e.tls, text: format!("-- connection `{name}` --") });
            current = Some(name);
        }
        out.push(e);
    }
    out
}
