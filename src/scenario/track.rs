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
        self.last_observed = None;
        let mut violations = resp.violations.clone();
        // A `+OK` the state does not permit is one defect (the transition, judged below): the
        // grammar of a listing that should not exist is not a second one.
        let illegal_ok = match (cmd, self.conns.get(on)) {
            (Some(cmd), Some(c)) if resp.status == Status::Ok && c.state != SessionState::Closed => {
                (matches!(cmd, Command::Stls) && c.tls)
                    || !((c.in_sasl || !matches!(cmd, Command::AuthResponse(_)))
                        && crate::proto::state::permitted(cmd, c.state))
            }
            _ => false,
        };
        if !illegal_ok {
            violations.extend(semantic_violations(cmd, resp));
        }
        for v in violations {
            let allowed = self.env.allow.iter().any(|a| a == v.name());
            if !self.in_scope(step, v.requirement()) {
                // Seen while testing something else: reported once for the whole run, by the
                // runner, not as this scenario's failure.
                self.observe(step, on, v.name(), v.requirement(), v.rfc(), v.to_string(), resp, allowed);
                continue;
            }
            if allowed {
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
        let in_scope = |req: &str| self.in_scope(step, req);
        let scope = (
            in_scope("2595-stls-twice"),
            in_scope("2595-stls-state"),
            in_scope("5034-state"),
            in_scope("1939-wrong-state"),
        );
        let mut noticed: Option<(&'static str, &'static str, String)> = None;
        let outcome = self.transition(step, on, cmd, resp, scope, &mut noticed);
        if let Some((req, rfc, what)) = noticed {
            self.observe(step, on, "wrong-state", req, rfc, what, resp, false);
        }
        outcome
    }

    /// Whether a requirement is what this step or scenario tests (then breaking it fails the
    /// scenario; otherwise it is an incidental observation).
    pub(crate) fn in_scope(&self, step: &Step, requirement: &str) -> bool {
        step.requirement.as_deref() == Some(requirement) || self.sc.requirements.iter().any(|r| r == requirement)
    }

    /// Records an invariant broken outside the scenario's requirements, with the exchange.
    #[allow(clippy::too_many_arguments)]
    fn observe(
        &mut self,
        step: &Step,
        on: &str,
        kind: &str,
        requirement: &str,
        rfc: &str,
        detail: String,
        resp: &Response,
        allowed: bool,
    ) {
        if self.last_observed.is_none() && !allowed {
            self.last_observed = Some((requirement.to_string(), rfc.to_string(), detail.clone()));
        }
        if let Some(o) = self.observations.iter_mut().find(|o| o.kind == kind && o.detail == detail) {
            o.seen += 1;
            return;
        }
        let evidence = self
            .conns
            .get(on)
            .and_then(|c| c.conn.as_ref())
            .map(|c| {
                let e = c.transcript().entries();
                e[e.len().saturating_sub(4)..].to_vec()
            })
            .unwrap_or_default();
        self.observations.push(super::Observation {
            kind: kind.to_string(),
            requirement: requirement.to_string(),
            rfc: rfc.to_string(),
            detail,
            scenario: self.sc.name.clone(),
            location: crate::results::SourceLocation {
                file: self.sc.file.clone(),
                line: step.span.line,
                column: step.span.col,
            },
            actual: status_line(resp),
            evidence,
            allowed,
            seen: 1,
        });
    }

    /// The state change a reply implies. An illegal one (a `+OK` the state does not permit)
    /// fails the scenario when it tests that rule (`scope`: stls-twice, stls-state, 5034-state,
    /// wrong-state), and is put in `noticed` otherwise.
    fn transition(
        &mut self,
        step: &Step,
        on: &str,
        cmd: Option<&Command>,
        resp: &Response,
        scope: (bool, bool, bool, bool),
        noticed: &mut Option<(&'static str, &'static str, String)>,
    ) -> Result<(), Stop> {
        let Some(c) = self.conns.get_mut(on) else { return Ok(()) };
        // Only a `+OK` ends a run of errors: servers count `-ERR`s across SASL `+ ` challenges.
        if resp.status == Status::Err {
            c.errs_total += 1;
        }
        c.errs_in_row = match resp.status {
            Status::Err => c.errs_in_row + 1,
            Status::Continue => c.errs_in_row,
            _ => 0,
        };
        c.refused_login = resp.status == Status::Err
            && matches!(
                cmd,
                Some(Command::Pass(_) | Command::Apop { .. } | Command::Auth { .. } | Command::AuthResponse(_))
            );
        let Some(cmd) = cmd else { return Ok(()) };
        if matches!(cmd, Command::Dele(_)) {
            c.sent_dele = true;
        }
        let state = c.state;
        let ok = resp.status == Status::Ok;
        let mut illegal = |req: &'static str, rfc: &'static str, tested: bool, what: String| -> Result<(), Stop> {
            if !tested {
                *noticed = Some((req, rfc, what));
                return Ok(());
            }
            Err(Stop::from(Failure {
                requirement: req.to_string(),
                rfc: rfc.to_string(),
                message: what,
                expected: Some("-ERR".into()),
                actual: Some(status_line(resp)),
                span: step.span,
            }))
        };
        let (twice, stls_state, auth_state, wrong_state) = scope;
        let kw = cmd.keyword().unwrap_or("the command");
        if ok && matches!(cmd, Command::Stls) && c.tls {
            return illegal(
                "2595-stls-twice",
                "RFC 2595 §4",
                twice,
                "the server accepted STLS while TLS was already active".into(),
            );
        }
        let permitted =
            (c.in_sasl || !matches!(cmd, Command::AuthResponse(_))) && crate::proto::state::permitted(cmd, state);
        if ok && !permitted && state != SessionState::Closed {
            let (req, rfc, tested) = match cmd {
                Command::Stls => ("2595-stls-state", "RFC 2595 §4", stls_state),
                Command::Auth { .. } => ("5034-state", "RFC 5034 §4", auth_state),
                _ => ("1939-wrong-state", "RFC 1939 §3", wrong_state),
            };
            illegal(
                req,
                rfc,
                tested,
                format!("illegal transition: the server accepted {kw} in the {} state", state.as_str()),
            )?;
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
            body: body.map(|b| Body::whole(b.to_vec(), b.split(|&c| c == b'\n').count() - 1)),
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
