//! The session model: what a correct server must answer to a line, given where the session is
//! (RFC 1939 §3–§7, RFC 2595 §4, RFC 5034 §4). The fuzzer reaches a [`Context`] first, then feeds
//! lines; for each it asks [`Model::predict`] and, once the reply is in, [`Model::apply`].
//!
//! Lines are judged with the same strict parser the reference server uses
//! ([`Command::parse`]): a line it refuses must get `-ERR` (1939-unknown), a command outside its
//! state must get `-ERR` (1939-wrong-state), a message number outside the maildrop or marked as
//! deleted must get `-ERR` (1939-retr, 1939-dele). Where the RFC leaves the server a choice
//! (USER of an unknown name, optional TOP/UIDL/LANG, CAPA) the prediction is [`Must::Either`].

use super::oracle::Reason;
use crate::proto::state::permitted;
use crate::proto::{Command, CommandError, Expect, SessionState, Status};

/// Where the fuzzer puts the session before fuzzing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// AUTHORIZATION right after the greeting (and CAPA).
    Authorization,
    /// AUTHORIZATION after STLS (skipped where STLS is not offered).
    AfterStls,
    /// AUTHORIZATION after a successful USER (PASS expected next).
    AfterUser,
    /// TRANSACTION after login.
    Transaction,
    /// TRANSACTION after `DELE 1`.
    AfterDele,
}

impl Context {
    pub const ALL: [Context; 5] =
        [Context::Authorization, Context::AfterStls, Context::AfterUser, Context::Transaction, Context::AfterDele];

    pub fn name(self) -> &'static str {
        match self {
            Context::Authorization => "authorization",
            Context::AfterStls => "authorization-after-stls",
            Context::AfterUser => "authorization-after-user",
            Context::Transaction => "transaction",
            Context::AfterDele => "transaction-after-dele",
        }
    }

    pub fn from_name(s: &str) -> Option<Context> {
        Context::ALL.into_iter().find(|c| c.name() == s)
    }

    pub fn state(self) -> SessionState {
        match self {
            Context::Transaction | Context::AfterDele => SessionState::Transaction,
            _ => SessionState::Authorization,
        }
    }

    /// Needs a login (credentials and, on servers that lock maildrops, the login permit).
    pub fn needs_login(self) -> bool {
        self.state() == SessionState::Transaction
    }
}

/// What a correct server must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Must {
    Ok,
    Err,
    /// `-ERR` or a SASL continuation, never `+OK` (a login with made-up credentials).
    NotOk,
    Either,
}

/// The model's verdict on one line before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prediction {
    pub must: Must,
    /// Why `-ERR` is required (for the finding when `+OK` comes back).
    pub reason: Reason,
    /// How the reply is framed.
    pub expect: Expect,
    /// The server may close after answering (QUIT).
    pub may_close: bool,
}

impl Prediction {
    fn new(must: Must, reason: Reason, expect: Expect) -> Self {
        Prediction { must, reason, expect, may_close: false }
    }
}

/// The fuzzer's picture of one session.
#[derive(Debug, Clone)]
pub struct Model {
    pub state: SessionState,
    pub tls: bool,
    /// A successful USER was the last line (RFC 1939 §7: PASS must follow directly).
    pub after_user: Option<String>,
    /// An AUTH exchange is open: the next line is a continuation.
    pub in_sasl: bool,
    /// Octets of each message as listed at login (TRANSACTION).
    pub sizes: Vec<u64>,
    pub deleted: Vec<bool>,
    /// Some message was ever marked in this session (QUIT is then never sent).
    pub ever_deleted: bool,
    /// UIDL at login, when the server offers it.
    pub uids: Option<Vec<String>>,
    /// The test account, so a correct login is never called a bypass.
    pub user: Option<String>,
    pub password: Option<String>,
}

impl Model {
    pub fn new(state: SessionState, tls: bool) -> Self {
        Model {
            state,
            tls,
            after_user: None,
            in_sasl: false,
            sizes: Vec::new(),
            deleted: Vec::new(),
            ever_deleted: false,
            uids: None,
            user: None,
            password: None,
        }
    }

    /// Sets the maildrop as listed at login.
    pub fn set_maildrop(&mut self, sizes: Vec<u64>) {
        self.deleted = vec![false; sizes.len()];
        self.sizes = sizes;
    }

    /// What STAT must say: messages not marked as deleted, and their octets (RFC 1939 §5).
    pub fn expected_stat(&self) -> (u64, u64) {
        let live = self.sizes.iter().zip(&self.deleted).filter(|(_, &d)| !d);
        live.fold((0, 0), |(n, o), (s, _)| (n + 1, o + s))
    }

    /// The 0-based index of message `n`, or why using it must fail.
    pub fn message(&self, n: u64) -> Result<usize, Reason> {
        if n == 0 {
            Err(Reason::MessageZero)
        } else if n > u64::from(u32::MAX) {
            Err(Reason::NumberWrap)
        } else if n > self.sizes.len() as u64 {
            Err(Reason::BeyondMailbox)
        } else if self.deleted[(n - 1) as usize] {
            Err(Reason::DeletedMessage)
        } else {
            Ok((n - 1) as usize)
        }
    }

    /// What a correct server answers to `line` now.
    pub fn predict(&self, line: &[u8]) -> Prediction {
        if self.in_sasl {
            let cancel = line.strip_suffix(b"\r\n").unwrap_or(line) == b"*";
            return if cancel {
                Prediction::new(Must::Err, Reason::SaslCancel, Expect::Sasl)
            } else {
                Prediction::new(Must::NotOk, Reason::AuthBypass, Expect::Sasl)
            };
        }
        let cmd = match Command::parse(line, false) {
            Ok(cmd) => cmd,
            Err(e) => return Prediction::new(Must::Err, parse_reason(&e), guess_expect(line)),
        };
        let expect = cmd.expect();
        if !permitted(&cmd, self.state) {
            return Prediction::new(Must::Err, Reason::WrongState, expect);
        }
        let by_number = |n: u64, must: Must| match self.message(n) {
            Ok(_) => Prediction::new(must, Reason::RefusedValid, expect),
            Err(r) => Prediction::new(Must::Err, r, expect),
        };
        let either = Prediction::new(Must::Either, Reason::None, expect);
        match cmd {
            Command::Quit => Prediction { may_close: true, ..Prediction::new(Must::Ok, Reason::RefusedValid, expect) },
            Command::User(_) if self.after_user.is_some() => Prediction::new(Must::Err, Reason::UserTwice, expect),
            Command::Pass(pw) => match &self.after_user {
                None => Prediction::new(Must::Err, Reason::PassWithoutUser, expect),
                Some(u) if Some(u) == self.user.as_ref() && Some(&pw) == self.password.as_ref() => either,
                Some(_) => Prediction::new(Must::Err, Reason::AuthBypass, expect),
            },
            Command::Apop { .. } => Prediction::new(Must::Err, Reason::AuthBypass, expect),
            Command::Auth { mechanism: Some(_), .. } => Prediction::new(Must::NotOk, Reason::AuthBypass, expect),
            Command::Stls if self.tls => Prediction::new(Must::Err, Reason::StlsTwice, expect),
            Command::Stat | Command::Noop | Command::Rset | Command::List(None) => {
                Prediction::new(Must::Ok, Reason::RefusedValid, expect)
            }
            Command::List(Some(n)) | Command::Retr(n) | Command::Dele(n) => by_number(n, Must::Ok),
            Command::Top(n, _) | Command::Uidl(Some(n)) => by_number(n, Must::Either),
            _ => either,
        }
    }

    /// Follows the session through the reply `status` to `line`.
    pub fn apply(&mut self, line: &[u8], status: Status) {
        // PASS must follow USER directly (RFC 1939 §7): any other line clears it.
        self.after_user = None;
        if self.in_sasl {
            match status {
                Status::Continue => {}
                Status::Ok => {
                    self.in_sasl = false;
                    self.state = SessionState::Transaction;
                }
                _ => self.in_sasl = false,
            }
            return;
        }
        let Ok(cmd) = Command::parse(line, false) else { return };
        let ok = status == Status::Ok;
        match (self.state, cmd) {
            (_, Command::Quit) if ok => self.state = SessionState::Closed,
            (SessionState::Authorization, Command::User(name)) if ok => self.after_user = Some(name),
            (SessionState::Authorization, Command::Auth { mechanism: Some(_), .. }) if status == Status::Continue => {
                self.in_sasl = true
            }
            (
                SessionState::Authorization,
                Command::Pass(_) | Command::Apop { .. } | Command::Auth { mechanism: Some(_), .. },
            ) if ok => self.state = SessionState::Transaction,
            (SessionState::Authorization, Command::Stls) if ok => self.tls = true,
            (SessionState::Transaction, Command::Dele(n)) if ok => {
                if let Ok(i) = self.message(n) {
                    self.deleted[i] = true;
                    self.ever_deleted = true;
                }
            }
            (SessionState::Transaction, Command::Rset) if ok => self.deleted.iter_mut().for_each(|d| *d = false),
            _ => {}
        }
    }
}

/// Why a line the strict parser refuses must get `-ERR`.
fn parse_reason(e: &CommandError) -> Reason {
    match e {
        CommandError::Empty | CommandError::UnknownKeyword(_) => Reason::UnknownCommand,
        CommandError::NotText => Reason::NonText,
        CommandError::MissingArgument(_) => Reason::MissingArgument,
        CommandError::TooManyArguments(_) => Reason::ExtraArgument,
        CommandError::BadSeparator => Reason::Whitespace,
        CommandError::BadNumber(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Reason::NumberWrap,
        CommandError::BadNumber(_) => Reason::MalformedArgument,
    }
}

/// How a lenient server would frame its `+OK` to a line the strict parser refuses (it decides by
/// the keyword, as servers do). Only matters when the server wrongly accepts the line.
fn guess_expect(line: &[u8]) -> Expect {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace();
    let kw = words.next().unwrap_or_default().to_ascii_uppercase();
    let has_args = words.next().is_some();
    match kw.as_str() {
        "LIST" | "UIDL" if !has_args => Expect::MultiLine,
        "RETR" | "TOP" | "CAPA" => Expect::MultiLine,
        "AUTH" => Expect::Sasl,
        _ => Expect::SingleLine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn() -> Model {
        let mut m = Model::new(SessionState::Transaction, true);
        m.set_maildrop(vec![100, 200, 300]);
        m
    }

    fn must(m: &Model, line: &[u8]) -> (Must, Reason) {
        let p = m.predict(line);
        (p.must, p.reason)
    }

    #[test]
    fn message_numbers_are_judged_against_the_maildrop() {
        let mut m = txn();
        assert_eq!(must(&m, b"RETR 1\r\n").0, Must::Ok);
        assert_eq!(must(&m, b"RETR 0\r\n"), (Must::Err, Reason::MessageZero));
        assert_eq!(must(&m, b"RETR 4\r\n"), (Must::Err, Reason::BeyondMailbox));
        assert_eq!(must(&m, b"RETR 4294967297\r\n"), (Must::Err, Reason::NumberWrap));
        assert_eq!(must(&m, b"RETR 18446744073709551617\r\n"), (Must::Err, Reason::NumberWrap));
        assert_eq!(must(&m, b"LIST 1a\r\n"), (Must::Err, Reason::MalformedArgument));
        assert_eq!(must(&m, b"LIST 1 2\r\n"), (Must::Err, Reason::ExtraArgument));
        assert_eq!(must(&m, b"LIST +1\r\n"), (Must::Err, Reason::MalformedArgument));
        assert_eq!(must(&m, b"LIST 1 \r\n"), (Must::Err, Reason::Whitespace));
        m.apply(b"DELE 2\r\n", Status::Ok);
        assert_eq!(must(&m, b"DELE 2\r\n"), (Must::Err, Reason::DeletedMessage));
        assert_eq!(m.expected_stat(), (2, 400));
        m.apply(b"RSET\r\n", Status::Ok);
        assert_eq!(m.expected_stat(), (3, 600));
        assert!(m.ever_deleted);
        assert_eq!(must(&m, b"TOP 1 0\r\n").0, Must::Either);
        assert_eq!(m.predict(b"RETR 1\r\n").expect, Expect::MultiLine);
        assert_eq!(m.predict(b"LIST\r\n").expect, Expect::MultiLine);
        assert_eq!(m.predict(b"LIST +1\r\n").expect, Expect::SingleLine);
    }

    #[test]
    fn states_and_logins() {
        let mut m = Model::new(SessionState::Authorization, false);
        m.user = Some("mrose".into());
        m.password = Some("tanstaaf".into());
        assert_eq!(must(&m, b"STAT\r\n"), (Must::Err, Reason::WrongState));
        assert_eq!(must(&m, b"PASS x\r\n"), (Must::Err, Reason::PassWithoutUser));
        assert_eq!(must(&m, b"USER mrose\r\n").0, Must::Either);
        m.apply(b"USER mrose\r\n", Status::Ok);
        assert_eq!(must(&m, b"USER mrose\r\n"), (Must::Err, Reason::UserTwice));
        assert_eq!(must(&m, b"PASS wrong\r\n"), (Must::Err, Reason::AuthBypass));
        assert_eq!(must(&m, b"PASS tanstaaf\r\n").0, Must::Either);
        m.apply(b"NOOP\r\n", Status::Err);
        assert_eq!(must(&m, b"PASS tanstaaf\r\n"), (Must::Err, Reason::PassWithoutUser));
        assert_eq!(must(&m, b"QUIT\r\n").0, Must::Ok);
        assert!(m.predict(b"QUIT\r\n").may_close);
        assert_eq!(must(&m, b"AUTH PLAIN\r\n"), (Must::NotOk, Reason::AuthBypass));
        m.apply(b"AUTH PLAIN\r\n", Status::Continue);
        assert!(m.in_sasl);
        assert_eq!(must(&m, b"*\r\n"), (Must::Err, Reason::SaslCancel));
        m.apply(b"*\r\n", Status::Err);
        assert!(!m.in_sasl);
        m.apply(b"STLS\r\n", Status::Ok);
        assert_eq!(must(&m, b"STLS\r\n"), (Must::Err, Reason::StlsTwice));
        assert_eq!(must(&m, b"FOO\r\n"), (Must::Err, Reason::UnknownCommand));
        assert_eq!(must(&m, b"NO\0OP\r\n"), (Must::Err, Reason::NonText));
        assert_eq!(must(&txn(), b"USER x\r\n"), (Must::Err, Reason::WrongState));
    }
}
