//! Session states (RFC 1939 §3): AUTHORIZATION → TRANSACTION → UPDATE, and which commands each
//! admits. Shared by the reference server, the scenario engine's state tracking and the fuzzer's
//! session model, so all three agree on one reading of the RFC.

use super::command::Command;
use serde::{Deserialize, Serialize};

/// Where a POP3 session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    /// After the greeting, before a successful login (RFC 1939 §4).
    Authorization,
    /// After a successful login (RFC 1939 §5).
    Transaction,
    /// After QUIT from TRANSACTION: deletions are committed, then the server closes (§6).
    Update,
    /// The connection is gone.
    Closed,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Authorization => "AUTHORIZATION",
            SessionState::Transaction => "TRANSACTION",
            SessionState::Update => "UPDATE",
            SessionState::Closed => "closed",
        }
    }
}

impl std::str::FromStr for SessionState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "authorization" => Ok(SessionState::Authorization),
            "transaction" => Ok(SessionState::Transaction),
            "update" => Ok(SessionState::Update),
            "closed" => Ok(SessionState::Closed),
            _ => Err(format!("unknown state `{s}` (expected authorization, transaction, update or closed)")),
        }
    }
}

/// Whether RFC 1939/2449/2595/5034/6856 permit `cmd` in `state`. A server must answer `-ERR` to a
/// command that is not permitted (1939-wrong-state). `USER`/`PASS` sequencing within
/// AUTHORIZATION (PASS only right after a successful USER) is the caller's concern.
pub fn permitted(cmd: &Command, state: SessionState) -> bool {
    use Command::*;
    match state {
        SessionState::Authorization => matches!(
            cmd,
            User(_) | Pass(_) | Apop { .. } | Quit | Capa | Stls | Auth { .. } | AuthResponse(_) | Utf8 | Lang(_)
        ),
        // RFC 6856 §3: LANG is valid in both states.
        SessionState::Transaction => {
            matches!(cmd, Stat | List(_) | Retr(_) | Dele(_) | Noop | Rset | Quit | Top(..) | Uidl(_) | Capa | Lang(_))
        }
        SessionState::Update | SessionState::Closed => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_commands_refused_in_authorization_and_vice_versa() {
        let a = SessionState::Authorization;
        let t = SessionState::Transaction;
        for cmd in
            [Command::Stat, Command::List(None), Command::Retr(1), Command::Dele(1), Command::Noop, Command::Rset]
        {
            assert!(!permitted(&cmd, a), "{cmd:?}");
            assert!(permitted(&cmd, t), "{cmd:?}");
        }
        for cmd in [Command::User("u".into()), Command::Pass("p".into()), Command::Stls, Command::Utf8] {
            assert!(permitted(&cmd, a), "{cmd:?}");
            assert!(!permitted(&cmd, t), "{cmd:?}");
        }
        for cmd in [Command::Quit, Command::Capa] {
            assert!(permitted(&cmd, a) && permitted(&cmd, t));
        }
        assert!(!permitted(&Command::Noop, SessionState::Update));
        assert_eq!("Transaction".parse::<SessionState>(), Ok(t));
    }
}
