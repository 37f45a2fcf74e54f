//! The typed scenario model. Every step and every expectation keeps the [`Span`] it was written
//! at, so a failure can point at `file:line:col`. Built by [`super::load`]; run by
//! [`super::exec`]. The format is documented for authors in `scenarios/README.md`.

use super::diag::Span;
use super::template::Template;
use crate::proto::SessionState;
use regex::Regex;
use std::time::Duration;

/// One scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `rfc1939/retr-byte-stuffing`.
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub requirements: Vec<String>,
    pub rfc: Vec<String>,
    pub tags: Vec<String>,
    pub requires: Vec<Need>,
    pub destructive: bool,
    pub skip: Option<String>,
    pub xfail: Option<String>,
    /// Bound on the whole scenario.
    pub timeout: Duration,
    pub steps: Vec<Step>,
    /// Path as given to the loader (or `scenarios/...` for the built-in suite).
    pub file: String,
    /// Where the scenario starts (its first key).
    pub span: Span,
}

impl Scenario {
    /// Whether it needs a logged-in session (so the runner serialises it per user).
    pub fn needs_credentials(&self) -> bool {
        self.requires.contains(&Need::Credentials)
    }

    /// How many steps log in or send a login command (PASS, APOP, AUTH), `for_each` bodies
    /// counted once: what a server's failed-login delay multiplies.
    pub fn login_steps(&self) -> usize {
        fn count(steps: &[Step]) -> usize {
            steps
                .iter()
                .map(|s| match &s.action {
                    Action::ForEach { steps, .. } => count(steps),
                    a => a.login_lines().count(),
                })
                .sum()
        }
        count(&self.steps)
    }

    /// Whether the scenario fails a login on purpose (a `login` with its own expectation, or a
    /// PASS/APOP/AUTH line expected to be refused). Servers that penalise failed logins slow
    /// every later login from the same address, so the runner runs these after the others.
    pub fn fails_login(&self) -> bool {
        fn any(steps: &[Step]) -> bool {
            steps.iter().any(|s| match &s.action {
                Action::ForEach { steps, .. } => any(steps),
                Action::Login(_) => s.explicit_expect,
                a => {
                    a.login_lines().next().is_some()
                        && s.expect
                            .iter()
                            .any(|set| set.items.iter().any(|e| matches!(e.kind, ExpectKind::Status(Want::Err))))
                }
            })
        }
        any(&self.steps)
    }

    /// `RFC 1939` from `rfc1939/...`, the report's grouping.
    pub fn area(&self) -> String {
        match self.name.split('/').next() {
            Some(d) if d.starts_with("rfc") && d.len() > 3 => format!("RFC {}", &d[3..]),
            Some(d) => d.to_string(),
            None => "scenarios".into(),
        }
    }
}

/// A condition for the scenario to apply (`requires:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    Credentials,
    Destructive,
    ImplicitTls,
    /// The greeting carries an APOP timestamp.
    Apop,
    /// A CAPA tag (`TOP`, `PIPELINING`...), upper case.
    Capability(String),
    /// `SASL MECH`.
    Sasl(String),
    /// Something of the maildrop or accounts: `seed`, `messages N`, `message FEATURE`,
    /// `empty-account`.
    Data(crate::inventory::DataNeed),
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Need::Credentials => f.write_str("credentials"),
            Need::Destructive => f.write_str("destructive"),
            Need::ImplicitTls => f.write_str("implicit-tls"),
            Need::Apop => f.write_str("APOP"),
            Need::Capability(c) => f.write_str(c),
            Need::Sasl(m) => write!(f, "SASL {m}"),
            Need::Data(d) => write!(f, "{d}"),
        }
    }
}

/// How a connection starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Plain,
    Implicit,
}

/// How to read a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    Single,
    Multi,
    Sasl,
    None,
}

/// Login method of the `login` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Auto,
    User,
    Apop,
    Plain,
    PlainNoIr,
    Login,
}

#[derive(Debug, Clone)]
pub struct LoginSpec {
    pub method: Method,
    pub user: Option<Template>,
    pub password: Option<Template>,
    /// `Some(false)`: never upgrade first, whatever the policy.
    pub stls: Option<bool>,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    Connect {
        transport: Option<Transport>,
        reconnect: bool,
    },
    Send {
        line: Template,
        multiline: Option<bool>,
    },
    /// `frame: None` reads as the first command line in the bytes frames it.
    SendRaw {
        bytes: Template,
        frame: Option<Frame>,
    },
    Read(Frame),
    Pipeline(Vec<Template>),
    Stls,
    /// STLS when the run's `--stls` policy says so (what `login` does first), and nothing else:
    /// commands that follow are then sent where logins are allowed, with no login spent on it.
    Upgrade,
    Login(LoginSpec),
    Capa,
    Quit,
    Disconnect,
    Closed(Duration),
    Silence(Duration),
    State {
        is: SessionState,
        tls: Option<bool>,
    },
    Set(Vec<(String, Template)>),
    ForEach {
        list: String,
        as_name: String,
        steps: Vec<Step>,
    },
}

impl Action {
    /// The login commands this step sends (a `login` counts as one), by their written form.
    pub fn login_lines(&self) -> impl Iterator<Item = &str> + '_ {
        const LOGIN: [&str; 3] = ["PASS", "APOP", "AUTH"];
        let is_login = |t: &str| {
            let kw = t.trim_start().split([' ', '\r', '\n']).next().unwrap_or("");
            LOGIN.iter().any(|l| l.eq_ignore_ascii_case(kw))
        };
        let lines: Vec<&str> = match self {
            Action::Login(_) => vec!["login"],
            Action::Send { line, .. } => vec![line.source.as_str()].into_iter().filter(|t| is_login(t)).collect(),
            Action::Pipeline(ls) => ls.iter().map(|l| l.source.as_str()).filter(|t| is_login(t)).collect(),
            Action::SendRaw { bytes, .. } => bytes.source.split('\n').filter(|t| is_login(t)).collect(),
            _ => Vec::new(),
        };
        lines.into_iter()
    }

    /// The step's keyword, for messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Connect { reconnect: false, .. } => "connect",
            Action::Connect { reconnect: true, .. } => "reconnect",
            Action::Send { .. } => "send",
            Action::SendRaw { .. } => "send_raw",
            Action::Read(_) => "read",
            Action::Pipeline(_) => "pipeline",
            Action::Stls => "stls",
            Action::Upgrade => "upgrade",
            Action::Login(_) => "login",
            Action::Capa => "capa",
            Action::Quit => "quit",
            Action::Disconnect => "disconnect",
            Action::Closed(_) => "closed",
            Action::Silence(_) => "silence",
            Action::State { .. } => "state",
            Action::Set(_) => "set",
            Action::ForEach { .. } => "for_each",
        }
    }
}

/// One step.
#[derive(Debug, Clone)]
pub struct Step {
    pub span: Span,
    pub action: Action,
    /// Connection name (`main` by default).
    pub on: String,
    /// Expectations; one set per reply (a `pipeline` has several, other steps at most one).
    pub expect: Vec<ExpectSet>,
    /// Whether `expect` was written (otherwise the action's defaults apply).
    pub explicit_expect: bool,
    pub capture: Vec<Capture>,
    pub requirement: Option<String>,
    pub rfc: Option<String>,
    pub note: Option<String>,
    pub timeout: Option<Duration>,
}

/// The expectations on one reply.
#[derive(Debug, Clone, Default)]
pub struct ExpectSet {
    pub span: Span,
    pub items: Vec<Expectation>,
}

#[derive(Debug, Clone)]
pub struct Expectation {
    pub span: Span,
    pub kind: ExpectKind,
}

/// Expected status indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Ok,
    Err,
    Continue,
}

impl Want {
    pub fn as_str(self) -> &'static str {
        match self {
            Want::Ok => "+OK",
            Want::Err => "-ERR",
            Want::Continue => "a `+ ` continuation",
        }
    }
}

/// A regex that may contain `${variables}` (their values are quoted when expanded).
#[derive(Debug, Clone)]
pub struct Pattern {
    pub template: Template,
    /// Compiled at load time when there is nothing to expand.
    pub compiled: Option<Regex>,
}

impl Pattern {
    pub fn source(&self) -> &str {
        &self.template.source
    }
}

#[derive(Debug, Clone)]
pub enum ExpectKind {
    Status(Want),
    Text(Pattern),
    /// `None`: the reply must carry no response code.
    Code(Option<String>),
    Lines(Template),
    EachLine(Pattern),
    SomeLine(Pattern),
    NoLine(Pattern),
    /// Expected body lines (without line ends).
    Body(Vec<String>),
    /// Expected lines of the message's body: what follows the header's blank line.
    MessageBody(Vec<String>),
    BodyEquals(Template),
    Octets(Template),
    Capability(Vec<String>),
    NoCapability(Vec<String>),
}

/// Where a capture reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFrom {
    Text,
    Line,
    Lines,
    Body,
    /// The message's header section with its blank line: what `TOP n 0` must send for the
    /// message a RETR reply carries, judged on this session's copy (a server may rewrite a
    /// message between sessions).
    Header,
}

#[derive(Debug, Clone)]
pub struct Capture {
    pub span: Span,
    pub var: String,
    pub from: CaptureFrom,
    pub regex: Option<Pattern>,
}
