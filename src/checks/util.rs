//! Shared plumbing for the checks: findings and how they become a [`CheckResult`], the gates
//! every check shares (credentials, destructive), a fault collector, probing that survives servers
//! which hang up after a few errors, and the `check!` declaration macro. Sessions and their
//! transcripts are in [`super::evidence`], re-exported here.
//!
//! A check body is an `async fn(Evidence) -> Step`: it returns its [`Finding`], and `?` turns any
//! tester-side problem (a refused connection, a timeout, a precondition the server would not set
//! up) into an `error` finding on the spot.

pub use super::evidence::{Abort, Evidence, Session};
use super::{BoxFuture, CheckContext, CheckInfo};
use crate::net::session::{LoginMethod, OpenError};
use crate::net::NetError;
use crate::proto::{Capabilities, Command, Response};
use crate::results::{CheckResult, Verdict};
use crate::transcript::{redact_command_line, Entry};
use std::future::Future;

/// What a check concluded, before it is dressed as a [`CheckResult`].
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub verdict: Verdict,
    pub message: Option<String>,
    pub expected: Option<String>,
    pub actual: Option<String>,
}

/// The server did what the rule asks; `summary` says what was verified.
pub fn pass(summary: impl Into<String>) -> Finding {
    Finding { verdict: Verdict::Pass, message: Some(summary.into()), expected: None, actual: None }
}

/// The server broke the rule the check names.
pub fn fail(expected: impl Into<String>, actual: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        verdict: Verdict::Fail,
        message: Some(message.into()),
        expected: Some(expected.into()),
        actual: Some(actual.into()),
    }
}

/// The check does not apply here, and why.
pub fn skip(reason: impl Into<String>) -> Finding {
    Finding { verdict: Verdict::Skip, message: Some(reason.into()), expected: None, actual: None }
}

/// The tester could not do its job, and why.
pub fn error(message: impl Into<String>) -> Finding {
    Finding { verdict: Verdict::Error, message: Some(message.into()), expected: None, actual: None }
}

/// A check's outcome so far: `Err` ends the check early with that finding.
pub type Step<T = Finding> = Result<T, Finding>;

impl From<NetError> for Finding {
    fn from(e: NetError) -> Finding {
        error(e.to_string())
    }
}

impl From<OpenError> for Finding {
    fn from(e: OpenError) -> Finding {
        match e {
            OpenError::NoCredentials => skip(NEEDS_CREDENTIALS),
            // The server's fault, but not this check's rule: the scenarios report the invariant.
            OpenError::OutOfStep(why) => skip(why),
            OpenError::LoginRefused { method, text } => {
                error(format!("login refused ({method}): {text} — check the test credentials"))
            }
            other => error(other.to_string()),
        }
    }
}

pub(super) const NEEDS_CREDENTIALS: &str = "needs credentials: pass --user and --password-env";
const NEEDS_DESTRUCTIVE: &str = "destructive: needs --destructive and a way to reseed";

/// Collects several rule breaches found by one check, so the result lists all of them.
#[derive(Debug, Default)]
pub struct Faults {
    expected: Vec<String>,
    actual: Vec<String>,
}

impl Faults {
    pub fn new() -> Self {
        Faults::default()
    }

    /// Records one breach: what the rule wanted and what the server did.
    pub fn add(&mut self, expected: impl Into<String>, actual: impl Into<String>) {
        self.expected.push(expected.into());
        self.actual.push(actual.into());
    }

    pub fn is_empty(&self) -> bool {
        self.expected.is_empty()
    }

    pub fn len(&self) -> usize {
        self.expected.len()
    }

    /// `pass(passed)` when nothing was recorded; otherwise a failure whose message is `what`
    /// (with the count when there are several) and whose expected/actual list every breach, one
    /// per line, in the same order.
    pub fn finding(self, what: &str, passed: impl Into<String>) -> Finding {
        match self.len() {
            0 => pass(passed),
            1 => fail(&self.expected[0], &self.actual[0], what),
            n => fail(self.expected.join("\n"), self.actual.join("\n"), format!("{what} ({n} problems)")),
        }
    }
}

/// A command as shown in messages: one line, credentials redacted.
pub fn show(cmd: &Command) -> String {
    let wire = cmd.encode();
    let line = wire.strip_suffix(b"\r\n").unwrap_or(&wire);
    String::from_utf8_lossy(&redact_command_line(line, &mut false)).into_owned()
}

/// A reply as shown in messages: status and text, with the body's size when there is one.
pub fn brief(r: &Response) -> String {
    let status = match r.status {
        crate::proto::Status::Ok => "+OK",
        crate::proto::Status::Err => "-ERR",
        crate::proto::Status::Continue => "+",
        crate::proto::Status::Unknown => "?",
    };
    let mut s = if r.text.is_empty() { status.to_string() } else { format!("{status} {}", r.text) };
    if let Some(b) = &r.body {
        s.push_str(&format!(" (multi-line, {} lines, {} octets)", b.lines, b.octets));
    }
    s
}

/// True when a refusal carries a code that says "try again soon" (RFC 2449 §8.1, RFC 3206 §4).
pub fn is_transient(r: &Response) -> bool {
    r.code.as_ref().is_some_and(|c| c.is("IN-USE") || c.is("LOGIN-DELAY") || c.is("SYS/TEMP"))
}

/// `Ok` when CAPA lists `tag` (case-insensitive); otherwise the skip the check returns.
pub fn require(capa: &Capabilities, tag: &str) -> Step<()> {
    if capa.has(tag) {
        Ok(())
    } else if capa.lines.is_empty() {
        Err(skip(format!("needs {tag}: the server lists no capabilities (CAPA)")))
    } else {
        Err(skip(format!("needs {tag}: not advertised in CAPA")))
    }
}

/// The login method [`crate::net::session::open`] would use with these capabilities.
pub fn default_method(capa: &Capabilities) -> LoginMethod {
    if !capa.has("USER") && capa.has_sasl("PLAIN") {
        LoginMethod::SaslPlain
    } else {
        LoginMethod::UserPass
    }
}

/// Runs a check body with the shared gates (credentials, destructive) and turns its finding and
/// evidence into a [`CheckResult`]. Every check's `run` is this one call.
pub fn execute<'a, F, Fut>(info: CheckInfo, ctx: &'a CheckContext, body: F) -> BoxFuture<'a, CheckResult>
where
    F: FnOnce(Evidence<'a>) -> Fut + Send + 'a,
    Fut: Future<Output = Step> + Send + 'a,
{
    Box::pin(async move {
        let ev = Evidence::new(ctx);
        let finding = if info.requires.contains(&"credentials") && ctx.creds.is_none() {
            skip(NEEDS_CREDENTIALS)
        } else if info.destructive && !ctx.destructive {
            skip(NEEDS_DESTRUCTIVE)
        } else {
            match body(ev.clone()).await {
                Ok(f) | Err(f) => f,
            }
        };
        let (transcript, elapsed) = ev.take();
        result(&info, finding, transcript, elapsed)
    })
}

/// A [`CheckResult`] carrying the check's identity, its finding and its evidence.
pub fn result(info: &CheckInfo, f: Finding, transcript: Vec<Entry>, duration_ms: f64) -> CheckResult {
    let mut r = CheckResult::new(info.id, info.title, info.area, f.verdict);
    r.requirements = info.requirements.iter().map(|s| s.to_string()).collect();
    r.rfc_refs = info.rfc_refs.iter().map(|s| s.to_string()).collect();
    r.message = f.message;
    r.expected = f.expected;
    r.actual = f.actual;
    r.transcript = transcript;
    r.duration_ms = duration_ms;
    r
}

/// Sends each probe in turn and returns the replies in order (or why there was none) with the
/// session, which the caller ends — never with QUIT here, so a probe run after DELE commits
/// nothing.
///
/// Servers may end a session after a few erroneous commands (a policy, not a fault), so when the
/// connection is gone the probe is retried once on a fresh logged-in session, after `setup` (the
/// commands that put the first session into the state under test, e.g. `DELE 1`) has been
/// replayed there. A probe that gets no reply on two sessions, or that makes the server stop
/// answering (timeout), is `Err` with the reason, and the probes after it go on in a fresh
/// session. Bounded: at most two sessions per probe.
pub async fn probe_each(
    ev: &Evidence<'_>,
    mut s: Session,
    purpose: &str,
    setup: &[Command],
    probes: &[Command],
) -> Step<(Session, Vec<Result<Response, String>>)> {
    let fresh = |s: Session| async move {
        s.hang_up().await;
        let mut s = ev.login(purpose).await?;
        for c in setup {
            s.ok(c).await?;
        }
        Ok::<Session, Finding>(s)
    };
    let mut out = Vec::with_capacity(probes.len());
    for p in probes {
        let mut retried = false;
        loop {
            match s.conn().command(p).await {
                Ok(r) => {
                    out.push(Ok(r));
                    break;
                }
                Err(e) if e.is_disconnect() && !retried => {
                    s.note(format!("no reply to `{}`: {e}; trying it again in a new session", show(p)));
                    s = fresh(s).await?;
                    retried = true;
                }
                Err(
                    e @ (NetError::Closed { .. }
                    | NetError::Reset { .. }
                    | NetError::Timeout { .. }
                    | NetError::Slow { .. }),
                ) => {
                    let why = match e {
                        NetError::Timeout { .. } | NetError::Slow { .. } => {
                            format!("no reply: {e} (the session stopped answering)")
                        }
                        _ => format!("no reply, twice: {e}"),
                    };
                    s.note(format!("`{}`: {why}; going on in a new session", show(p)));
                    out.push(Err(why));
                    s = fresh(s).await?;
                    break;
                }
                Err(e) => return Err(s.net_error(e, &format!("`{}`", show(p)))),
            }
        }
    }
    Ok((s, out))
}

/// Declares a check: a unit struct whose `info()` is `$info` and whose `run()` executes `$body`
/// (an `async fn(Evidence<'_>) -> Step`) through [`execute`].
macro_rules! check {
    ($(#[$meta:meta])* $name:ident, $info:expr, $body:path) => {
        $(#[$meta])*
        pub struct $name;

        impl $crate::checks::Check for $name {
            fn info(&self) -> $crate::checks::CheckInfo {
                $info
            }

            fn run<'a>(
                &'a self,
                ctx: &'a $crate::checks::CheckContext,
            ) -> $crate::checks::BoxFuture<'a, $crate::results::CheckResult> {
                $crate::checks::util::execute(self.info(), ctx, $body)
            }
        }
    };
}
pub(crate) use check;

/// Upper bound on how many messages a check walks (RETR, TOP, LIST n per message): keeps a run
/// against a large test maildrop bounded; the result says when the bound cut the walk short.
pub const MAX_MESSAGES: u64 = 200;

/// "all N messages" or "the first 200 of N messages", for result messages.
pub fn walked(n: u64) -> String {
    if n > MAX_MESSAGES {
        format!("the first {MAX_MESSAGES} of {n} messages")
    } else if n == 1 {
        "the only message".to_string()
    } else {
        format!("all {n} messages")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::session::{Credentials, StlsPolicy};
    use crate::net::Target;

    fn ctx(creds: bool, destructive: bool) -> CheckContext {
        CheckContext {
            target: Target::parse("pop3://127.0.0.1:1").unwrap(),
            opts: Default::default(),
            creds: creds.then(|| Credentials { user: "u".into(), password: crate::net::session::Secret::new("p") }),
            stls: StlsPolicy::Auto,
            destructive,
            inventory: Default::default(),
            apop_secret: None,
        }
    }

    const INFO: CheckInfo = CheckInfo {
        id: "rfc1939/x",
        title: "x",
        area: "RFC 1939",
        requirements: &["1939-dele"],
        rfc_refs: &["RFC 1939 §5"],
        tags: &[],
        requires: &["credentials"],
        destructive: true,
    };

    async fn never(_: Evidence<'_>) -> Step {
        panic!("the gate must stop the body")
    }

    #[tokio::test]
    async fn gates_skip_with_reasons() {
        let c = ctx(false, true);
        let r = execute(INFO, &c, never).await;
        assert_eq!((r.verdict, r.message.as_deref()), (Verdict::Skip, Some(NEEDS_CREDENTIALS)));
        assert_eq!(r.requirements, ["1939-dele"]);
        let c = ctx(true, false);
        let r = execute(INFO, &c, never).await;
        assert_eq!((r.verdict, r.message.as_deref()), (Verdict::Skip, Some(NEEDS_DESTRUCTIVE)));
    }

    async fn refused(ev: Evidence<'_>) -> Step {
        let s = ev.login("first").await?;
        drop(s);
        Ok(pass("unreachable"))
    }

    #[tokio::test]
    async fn connection_refused_is_an_error_with_a_note() {
        // Port 1 on loopback: nothing listens there on a test machine.
        let c = ctx(true, true);
        let r = execute(INFO, &c, refused).await;
        assert_eq!(r.verdict, Verdict::Error, "{r:?}");
        assert!(r.message.unwrap().contains("connect"));
        assert!(r.transcript.iter().any(|e| e.text.starts_with("session 1: first")));
    }

    #[test]
    fn faults_list_every_breach() {
        assert_eq!(Faults::new().finding("bad", "fine").verdict, Verdict::Pass);
        let mut f = Faults::new();
        f.add("LIST 7 → -ERR", "+OK 7 120");
        let one = f.finding("nonexistent message answered +OK", "");
        assert_eq!(one.message.as_deref(), Some("nonexistent message answered +OK"));
        assert_eq!(one.actual.as_deref(), Some("+OK 7 120"));
        let mut f = Faults::new();
        f.add("a", "b");
        f.add("c", "d");
        let two = f.finding("broken", "");
        assert_eq!(two.message.as_deref(), Some("broken (2 problems)"));
        assert_eq!(two.expected.as_deref(), Some("a\nc"));
    }

    #[test]
    fn show_redacts_secrets() {
        assert_eq!(show(&Command::Pass("tanstaaf".into())), "PASS <redacted>");
        assert_eq!(show(&Command::Retr(4_294_967_297)), "RETR 4294967297");
    }
}
