//! Per-reply bookkeeping: the protocol invariants every reply must keep (the parser's
//! [`Violation`]s plus the listing, STAT and CAPA grammars), and the session state the reply
//! implies. A `+OK` to a command its state does not permit is an illegal transition: it fails
//! whatever the scenario asked.

use super::{Failure, Run, Stop};
use crate::proto::{listing, Capabilities, Command, Response, SessionState, Status, Violation};
use crate::scenario::model::Step;

/// The status line as received (for "actual" in reports).
pub(crate) fn status_line(resp: &Response) -> String {
    let ind = match resp.status {
        Status::Ok => "+OK",
        Status::Err => "-ERR",
        Status::Continue => "+",
        Status::Unknown => return resp.text.clone(),
    };
    if resp.text.is_empty() {
        ind.to_string()
    } else {
        format!("{ind} {}", resp.text)
    }
}

/// Violations of the grammar of this command's reply that the response parser cannot see
/// (it does not know what the command was).
pub(crate) fn semantic_violations(cmd: Option<&Command>, resp: &Response) -> Vec<Violation> {
    if resp.status != Status::Ok {
        return Vec::new();
    }
    match (cmd, &resp.body) {
        (Some(Command::Stat), _) => listing::parse_stat(&resp.text).err().into_iter().collect(),
        (Some(Command::List(Some(_))), _) => listing::parse_scan_listing(&resp.text).err().into_iter().collect(),
        (Some(Command::Uidl(Some(_))), _) => listing::parse_unique_id_listing(&resp.text).1,
        (Some(Command::List(None)), Some(b)) => listing::scan_listings(b).1,
        (Some(Command::Uidl(None)), Some(b)) => listing::unique_id_listings(b).1,
        (Some(Command::Capa), Some(b)) => Capabilities::parse(b.lines()).1,
        _ => Vec::new(),
    }
}

impl Run<'_> {
    pub(crate) fn fail(&self, step: &Step, requirement: &str, rfc: &str, message: String) -> Failure {
        Failure {
            requirement: requirement.to_string(),
            rfc: rfc.to_string(),
            message,
            expected: None,
            actual: None,
            span: step.span,
        }
    }

    /// The requirement a step's own expectations test.
    pub(crate) fn step_requirement(&self, step: &Step) -> (String, String) {
        let req = step.requirement.clone().or_else(|| self.sc.requirements.first().cloned()).unwrap_or_default();
        let rfc = step.rfc.clone().or_else(|| self.sc.rfc.first().cloned()).unwrap_or_default();
        (req, rfc)
    }

    /// Checks one reply on connection `on`: invariants first, then the state transition.
    pub(crate) fn track(&mut self, step: &Step, on: &str, cmd: Option<&Command>, resp: &Response) -> Result<(), Stop> {
        let mut violations = resp.violations.clone();
        violations.extend(semantic_violations(cmd, resp));
        for v in violations {
            if self.env.allow.iter().any(|a| a == v.name()) {
                let seen = format!("{} [{}]: {v}", v.name(), v.requirement());
                if !self.tolerated.contains(&seen) {
                    self.tolerated.push(seen);
                }
                continue;
            }
            let mut f = self.fail(step, v.requirement(), v.rfc(), format!("protocol violation: {v}"));
            f.expected = Some(format!("a reply without `{}`", v.name()));
            f.actual = Some(status_line(resp));
            return Err(Stop::from(f));
        }
        let Some(c) = self.conns.get_mut(on) else { return Ok(()) };
        // Only a `+OK` ends a run of errors: servers count `-ERR`s across SASL `+ ` challenges.
        c.errs_in_row = match resp.status {
            Status::Err => c.errs_in_row + 1,
            Status::Continue => c.errs_in_row,
            _ => 0,
        };
        let Some(cmd) = cmd else { return Ok(()) };
        if matches!(cmd, Command::Dele(_)) {
            c.sent_dele = true;
        }
        let state = c.state;
        let ok = resp.status == Status::Ok;
        let illegal = |req: &str, rfc: &str, what: String| -> Result<(), Stop> {
            Err(Stop::from(Failure {
                requirement: req.to_string(),
                rfc: rfc.to_string(),
                message: what,
                expected: Some("-ERR".into()),
                actual: Some(status_line(resp)),
                span: step.span,
            }))
        };
        let kw = cmd.keyword().unwrap_or("the command");
        if ok && matches!(cmd, Command::Stls) && c.tls {
            return illegal(
                "2595-stls-twice",
                "RFC 2595 §4",
                "the server accepted STLS while TLS was already active".into(),
            );
        }
        let permitted =
            (c.in_sasl || !matches!(cmd, Command::AuthResponse(_))) && crate::proto::state::permitted(cmd, state);
        if ok && !permitted && state != SessionState::Closed {
            let (req, rfc) = match cmd {
                Command::Stls => ("2595-stls-state", "RFC 2595 §4"),
                Command::Auth { .. } => ("5034-state", "RFC 5034 §4"),
                _ => ("1939-wrong-state", "RFC 1939 §3"),
            };
            return illegal(
                req,
                rfc,
                format!("illegal transition: the server accepted {kw} in the {} state", state.as_str()),
            );
        }
        match (cmd, resp.status) {
            (Command::Pass(_) | Command::Apop { .. }, Status::Ok) => c.state = SessionState::Transaction,
            (Command::Auth { .. } | Command::AuthResponse(_), Status::Continue) => c.in_sasl = true,
            (Command::Auth { .. } | Command::AuthResponse(_), Status::Ok) => {
                c.in_sasl = false;
                c.state = SessionState::Transaction;
            }
            (Command::Auth { .. } | Command::AuthResponse(_), _) => c.in_sasl = false,
            (Command::Quit, Status::Ok) => {
                c.state = match state {
                    SessionState::Transaction => SessionState::Update,
                    _ => SessionState::Closed,
                }
            }
            (Command::Capa, Status::Ok) => {
                if let Some(b) = &resp.body {
                    c.caps = Some(Capabilities::parse(b.lines()).0);
                }
            }
            _ => {}
        }
        if c.state == SessionState::Transaction && state == SessionState::Authorization {
            // CAPA may differ after login (RFC 2449 §5): learn it again when needed.
            c.caps = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Body, Response};

    fn ok(text: &str, body: Option<&[u8]>) -> Response {
        Response {
            status: Status::Ok,
            code: None,
            text: text.into(),
            body: body.map(|b| Body { data: b.to_vec(), lines: b.split(|&c| c == b'\n').count() - 1 }),
            violations: Vec::new(),
            wire_len: 0,
        }
    }

    #[test]
    fn listing_grammar_is_checked_per_command() {
        assert!(semantic_violations(Some(&Command::Stat), &ok("2 320", None)).is_empty());
        assert_eq!(semantic_violations(Some(&Command::Stat), &ok("2  320", None)).len(), 1);
        assert!(semantic_violations(Some(&Command::List(Some(1))), &ok("1 120 extra", None)).is_empty());
        let v = semantic_violations(Some(&Command::Uidl(None)), &ok("", Some(b"1 has space\r\n")));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(semantic_violations(Some(&Command::Noop), &ok("2  320", None)).is_empty());
        assert_eq!(status_line(&ok("", None)), "+OK");
    }
}
