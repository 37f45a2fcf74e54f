//! Oracles: how the fuzzer decides the server did wrong, each a named finding with the
//! requirement it breaks and a severity. Reasons say *why* the model expected a refusal; both are
//! values (STYLE.md §3), so findings are grouped, deduplicated and asserted on without strings.

use super::case::keyword_of;
use super::model::{Model, Must, Prediction};
use crate::proto::listing::parse_stat;
use crate::proto::{Expect, Response, SessionState, Status, Violation};
use crate::results::Severity;
use serde::{Deserialize, Serialize};

/// What kind of failure a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Oracle {
    /// The connection was closed or reset without a reply where the server had no right to close
    /// (only QUIT ends a session, RFC 1939 §6).
    Crash,
    /// No reply within the timeout while the socket stayed open.
    Hang,
    /// After a finding, a fresh connection got no greeting: the server is down.
    ServerDown,
    /// A reply broke the POP3 grammar ([`Violation`]).
    Violation,
    /// `+OK` where the grammar or the session model says the command must fail (or `-ERR` to a
    /// command that must succeed).
    WrongAnswer,
    /// STAT or UIDL changed through input that must not change them.
    StateDamage,
    /// The server closed the session after an error on purpose (it said so, or always after the
    /// same number of errors): a policy, recorded as a note, not a crash.
    Policy,
}

impl Oracle {
    pub fn name(self) -> &'static str {
        match self {
            Oracle::Crash => "crash",
            Oracle::Hang => "hang",
            Oracle::ServerDown => "server-down",
            Oracle::Violation => "violation",
            Oracle::WrongAnswer => "wrong-answer",
            Oracle::StateDamage => "state-damage",
            Oracle::Policy => "policy",
        }
    }

    /// Default severity; wrong answers take theirs from the [`Reason`].
    pub fn severity(self) -> Severity {
        match self {
            Oracle::Crash | Oracle::Hang | Oracle::StateDamage => Severity::High,
            Oracle::ServerDown => Severity::Critical,
            Oracle::Violation | Oracle::WrongAnswer => Severity::Medium,
            Oracle::Policy => Severity::Info,
        }
    }

    /// Whether this oracle needs a fresh session to be judged again (the session is unusable).
    pub fn kills_session(self) -> bool {
        !matches!(self, Oracle::Violation)
    }
}

/// Why the model said a command must be refused (or accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    UnknownCommand,
    MissingArgument,
    ExtraArgument,
    MalformedArgument,
    Whitespace,
    NonText,
    WrongState,
    MessageZero,
    BeyondMailbox,
    NumberWrap,
    DeletedMessage,
    UserTwice,
    PassWithoutUser,
    StlsTwice,
    SaslCancel,
    /// Login accepted with credentials the fuzzer made up.
    AuthBypass,
    /// `-ERR` to a command the model says must succeed.
    RefusedValid,
    /// For the crash, hang, policy and state oracles: no finer reason.
    None,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::UnknownCommand => "unknown-command",
            Reason::MissingArgument => "missing-argument",
            Reason::ExtraArgument => "extra-argument",
            Reason::MalformedArgument => "malformed-argument",
            Reason::Whitespace => "whitespace",
            Reason::NonText => "non-text",
            Reason::WrongState => "wrong-state",
            Reason::MessageZero => "message-zero",
            Reason::BeyondMailbox => "beyond-mailbox",
            Reason::NumberWrap => "number-wrap",
            Reason::DeletedMessage => "deleted-message",
            Reason::UserTwice => "user-twice",
            Reason::PassWithoutUser => "pass-without-user",
            Reason::StlsTwice => "stls-twice",
            Reason::SaslCancel => "sasl-cancel",
            Reason::AuthBypass => "auth-bypass",
            Reason::RefusedValid => "refused-valid",
            Reason::None => "",
        }
    }

    /// The rule the server breaks by answering `+OK` (the catalogue id).
    pub fn requirement(self) -> &'static str {
        match self {
            Reason::UnknownCommand
            | Reason::MissingArgument
            | Reason::ExtraArgument
            | Reason::MalformedArgument
            | Reason::Whitespace
            | Reason::NonText
            | Reason::None => "1939-unknown",
            Reason::WrongState => "1939-wrong-state",
            Reason::MessageZero | Reason::BeyondMailbox | Reason::NumberWrap => "1939-retr",
            Reason::DeletedMessage => "1939-dele",
            Reason::UserTwice => "1939-user",
            Reason::PassWithoutUser | Reason::AuthBypass => "1939-pass",
            Reason::StlsTwice => "2595-stls-twice",
            Reason::SaslCancel => "5034-cancel",
            Reason::RefusedValid => "1939-minimal",
        }
    }

    pub fn rfc(self) -> &'static str {
        match self {
            Reason::StlsTwice => "RFC 2595 §4",
            Reason::SaslCancel => "RFC 5034 §4",
            Reason::MessageZero | Reason::BeyondMailbox | Reason::NumberWrap | Reason::DeletedMessage => "RFC 1939 §5",
            Reason::RefusedValid => "RFC 1939 §9",
            Reason::UserTwice | Reason::PassWithoutUser | Reason::AuthBypass => "RFC 1939 §7",
            _ => "RFC 1939 §3",
        }
    }

    /// Severity of a `+OK` given for this reason.
    pub fn severity(self) -> Severity {
        match self {
            Reason::AuthBypass => Severity::Critical,
            Reason::Whitespace | Reason::UserTwice | Reason::RefusedValid => Severity::Low,
            _ => Severity::Medium,
        }
    }

    /// One sentence on what a correct server does.
    pub fn expected(self) -> &'static str {
        match self {
            Reason::UnknownCommand => "-ERR to an unknown command",
            Reason::MissingArgument => "-ERR to a command missing its argument",
            Reason::ExtraArgument => "-ERR to a command with extra arguments",
            Reason::MalformedArgument => "-ERR to an argument that is not a decimal number",
            Reason::Whitespace => "-ERR: keyword and arguments are separated by exactly one SP",
            Reason::NonText => "-ERR: commands are printable ASCII",
            Reason::WrongState => "-ERR to a command not valid in the session's state",
            Reason::MessageZero => "-ERR: messages are numbered from 1",
            Reason::BeyondMailbox => "-ERR to a message number beyond the maildrop",
            Reason::NumberWrap => "-ERR to a message number beyond 2^32 (numbers must not wrap)",
            Reason::DeletedMessage => "-ERR to any use of a message marked as deleted",
            Reason::UserTwice => "-ERR to USER right after a successful USER",
            Reason::PassWithoutUser => "-ERR to PASS not directly after a successful USER",
            Reason::StlsTwice => "-ERR to STLS when TLS is already active",
            Reason::SaslCancel => "-ERR to `*` cancelling an AUTH exchange",
            Reason::AuthBypass => "-ERR to a login with made-up credentials",
            Reason::RefusedValid => "+OK to a valid command in its state",
            Reason::None => "",
        }
    }
}

/// What identifies a finding for deduplication: one finding per oracle, reason, command keyword
/// and session state, however often it recurs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingKey {
    pub oracle: Oracle,
    /// The reason (wrong answers) or the violation name (violations); empty otherwise.
    pub reason: String,
    /// The keyword of the line that triggered it (`RETR`, `(other)`, `(setup)`).
    pub keyword: String,
    /// The context the session was in (`transaction-after-dele`).
    pub context: String,
}

impl FindingKey {
    /// Stable id for reports and file names: `fuzz/wrong-answer/number-wrap/RETR/transaction`.
    pub fn id(&self) -> String {
        let mut parts = vec!["fuzz", self.oracle.name()];
        if !self.reason.is_empty() {
            parts.push(&self.reason);
        }
        let kw = self.keyword.trim_matches(|c| c == '(' || c == ')');
        parts.push(kw);
        parts.push(&self.context);
        parts.join("/")
    }

    /// The id with characters safe in a file name and a scenario name (`[a-z0-9.-]`).
    pub fn file_stem(&self) -> String {
        self.id()
            .trim_start_matches("fuzz/")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '.' })
            .collect()
    }
}

/// A suspected finding as one case produced it, before confirmation.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub oracle: Oracle,
    pub reason: Reason,
    pub violation: Option<Violation>,
    pub keyword: String,
    /// What was observed, in one sentence.
    pub detail: String,
    /// For state damage: the STAT text a correct server gives (`6 2345`).
    pub expected_stat: Option<(u64, u64)>,
}

impl Candidate {
    pub fn new(oracle: Oracle, keyword: impl Into<String>, detail: impl Into<String>) -> Self {
        Candidate {
            oracle,
            reason: Reason::None,
            violation: None,
            keyword: keyword.into(),
            detail: detail.into(),
            expected_stat: None,
        }
    }

    pub fn key(&self, context: &str) -> FindingKey {
        let reason = match (&self.violation, self.reason) {
            (Some(v), _) => v.name().to_string(),
            (None, r) => r.name().to_string(),
        };
        FindingKey { oracle: self.oracle, reason, keyword: self.keyword.clone(), context: context.to_string() }
    }

    pub fn severity(&self) -> Severity {
        match (self.oracle, &self.violation) {
            (Oracle::WrongAnswer, _) => self.reason.severity(),
            (Oracle::Violation, Some(v)) if v.requirement() == "1939-response-length" => Severity::Medium,
            (Oracle::Violation, Some(Violation::StatusCase { .. } | Violation::BareLf)) => Severity::Low,
            (o, _) => o.severity(),
        }
    }

    /// Catalogue ids of the broken requirement.
    pub fn requirement(&self) -> &'static str {
        match (self.oracle, &self.violation) {
            (_, Some(v)) => v.requirement(),
            (Oracle::WrongAnswer, _) => self.reason.requirement(),
            (Oracle::StateDamage, _) => "1939-stat",
            _ => "1939-unknown",
        }
    }

    pub fn rfc(&self) -> &'static str {
        match (self.oracle, &self.violation) {
            (_, Some(v)) => v.rfc(),
            (Oracle::WrongAnswer, _) => self.reason.rfc(),
            (Oracle::StateDamage, _) => "RFC 1939 §5",
            (Oracle::Policy | Oracle::Crash, _) => "RFC 1939 §6",
            _ => "RFC 1939 §3",
        }
    }
}

/// The keyword of the policy "closes the session on an over-long command line" (see
/// `Session::closed_loose`): one note per run, never a crash.
pub const LINE_LENGTH: &str = "(line-length)";

/// Words with which servers announce they are closing after an error (`-ERR too many errors, bye`).
pub fn announces_close(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    let words = [
        "bye",
        "closing",
        "disconnect",
        "goodbye",
        "terminat",
        "logging out",
        "too many errors",
        "too many bad",
        // Dovecot 2.3: `-ERR Too many invalid bad commands.`
        "too many invalid",
    ];
    words.iter().any(|w| t.contains(w))
}

/// Words with which servers refuse an over-long line (Dovecot 2.3 at 4 KiB: `-ERR Input buffer
/// full, aborting`; the reference server: `-ERR line too long`).
pub fn refuses_long_line(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["too long", "buffer full", "line length", "line limit"].iter().any(|w| t.contains(w))
}

/// Judges one reply against the model's prediction: wrong answer first, then grammar.
pub fn judge(model: &Model, line: &[u8], p: &Prediction, resp: &Response) -> Option<Candidate> {
    // Words only for a candidate: most replies are fine, and this runs for every one.
    let wrong = |reason: Reason, got: &str| Candidate {
        reason,
        ..Candidate::new(
            Oracle::WrongAnswer,
            keyword_of(line),
            format!("`{}` got {got}; expected {}", crate::transcript::printable(line, 80), reason.expected()),
        )
    };
    match (p.must, resp.status) {
        (Must::Err | Must::NotOk, Status::Ok) => return Some(wrong(p.reason, &format!("`+OK {}`", resp.text))),
        (Must::Err, Status::Continue) if p.expect == Expect::Sasl => return Some(wrong(p.reason, "a continuation")),
        // RFC 6856 §2.1: outside UTF-8 mode a server "MUST either send the client a surrogate
        // message ... or fail the request with an -ERR response"; §5's `[UTF8]` code says so.
        (Must::Ok, Status::Err)
            if resp.code.as_ref().is_some_and(|c| c.is("UTF8"))
                && matches!(keyword_of(line).as_str(), "RETR" | "TOP") => {}
        (Must::Ok, Status::Err) => return Some(wrong(Reason::RefusedValid, &format!("`-ERR {}`", resp.text))),
        _ => {}
    }
    if let Some(v) = resp.violations.first() {
        return Some(violation(v, &keyword_of(line)));
    }
    if resp.is_ok() && keyword_of(line) == "STAT" && model.state == SessionState::Transaction {
        if let Ok(got) = parse_stat(&resp.text) {
            let want = model.expected_stat();
            if got != want {
                return Some(stat_damage(got, want));
            }
        }
    }
    None
}

pub(crate) fn stat_damage(got: (u64, u64), want: (u64, u64)) -> Candidate {
    let detail = format!("STAT says {} {} but the session should have {} {}", got.0, got.1, want.0, want.1);
    Candidate { expected_stat: Some(want), ..Candidate::new(Oracle::StateDamage, "STAT", detail) }
}

pub(crate) fn violation(v: &Violation, keyword: &str) -> Candidate {
    Candidate {
        violation: Some(v.clone()),
        ..Candidate::new(Oracle::Violation, keyword, format!("[{}] {v}", v.requirement()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_give_stable_ids_and_file_names() {
        let c = Candidate { reason: Reason::NumberWrap, ..Candidate::new(Oracle::WrongAnswer, "RETR", "x") };
        let k = c.key("transaction");
        assert_eq!(k.id(), "fuzz/wrong-answer/number-wrap/RETR/transaction");
        assert_eq!(k.file_stem(), "wrong-answer.number-wrap.retr.transaction");
        assert_eq!(c.severity(), Severity::Medium);
        assert_eq!(c.requirement(), "1939-retr");
        let crash = Candidate::new(Oracle::Crash, "(other)", "reset");
        assert_eq!(crash.key("authorization").id(), "fuzz/crash/other/authorization");
        assert_eq!(crash.severity(), Severity::High);
        let v = Candidate { violation: Some(Violation::BareLf), ..Candidate::new(Oracle::Violation, "STAT", "") };
        assert_eq!(v.key("transaction").reason, "bare-lf");
    }

    #[test]
    fn close_announcements() {
        assert!(announces_close("too many errors, bye"));
        assert!(!announces_close("no such message"));
        assert!(!announces_close("NOOP: too many arguments"));
        assert!(announces_close("Too many invalid bad commands."));
        assert!(refuses_long_line("Input buffer full, aborting"));
        assert!(!refuses_long_line("too many errors, bye"));
    }
}
