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
}

#[derive(Debug, Clone)]
pub struct Capture {
    pub span: Span,
    pub var: String,
    pub from: CaptureFrom,
    pub regex: Option<Pattern>,
}
