//! The actions: what each step does on the wire. Every reply goes through
//! [`Run::track`](super::Run) (invariants, state) and then [`expect::check`](super::expect).

use super::expect::{self, Problem};
use super::{Conn, Failure, Run, Stop};
use crate::inventory::Support;
use crate::net::NetError;
use crate::proto::{apop, BodyLineRule, Command, Decoder, Expect, Response, SessionState};
use crate::scenario::model::*;
use crate::scenario::template::{Template, Value};
use std::future::Future;
use std::pin::Pin;

/// Consecutive `-ERR` replies after which a server's disconnect is read as a policy.
const ERROR_POLICY_THRESHOLD: u32 = 2;
/// -ERR replies in a session after which a close right after one is read as a per-session limit.
const ERROR_POLICY_TOTAL: u32 = 3;
/// At most this many rows drive a `for_each` (a bound on a misbehaving server's listing).
const FOR_EACH_MAX: usize = 1000;

type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Stop>> + Send + 'a>>;

fn body_rule(cmd: Option<&Command>) -> BodyLineRule {
    match cmd {
        Some(Command::Capa) => BodyLineRule::Capa,
        Some(Command::List(None) | Command::Uidl(None) | Command::Lang(None)) => BodyLineRule::Listing,
        _ => BodyLineRule::Message,
    }
}

fn expect_of(frame: Frame) -> Expect {
    match frame {
        Frame::Multi => Expect::MultiLine,
        Frame::Sasl => Expect::Sasl,
        _ => Expect::SingleLine,
    }
}

pub(crate) fn status_default(step: &Step) -> ExpectSet {
    ExpectSet { span: step.span, items: vec![Expectation { span: step.span, kind: ExpectKind::Status(Want::Ok) }] }
}

impl<'e> Run<'e> {
    pub(crate) fn steps<'a>(&'a mut self, steps: &'a [Step]) -> StepFuture<'a> {
        Box::pin(async move {
            for step in steps {
                self.step(step).await?;
            }
            Ok(())
        })
    }

    /// Whether the scenario tests RFC 2449 itself (then CAPA must work; otherwise it is optional).
    pub(crate) fn about_capa(&self) -> bool {
        self.sc.area() == "RFC 2449" || self.sc.requirements.iter().any(|r| r.starts_with("2449-"))
    }

    pub(crate) fn error(&self, step: &Step, message: impl Into<String>) -> Stop {
        Stop::Error { message: message.into(), span: step.span }
    }

    pub(crate) fn expand(&self, t: &Template, step: &Step) -> Result<String, Stop> {
        t.expand(&self.vars).map_err(|m| self.error(step, format!("scenario error: {m}")))
    }

    pub(crate) fn conn_mut(&mut self, step: &Step) -> Result<&mut Conn, Stop> {
        match self.conns.get_mut(&step.on) {
            Some(c) if c.conn.is_some() => Ok(c),
            _ => Err(Stop::Error { message: format!("connection `{}` is not open", step.on), span: step.span }),
        }
    }

    /// `${timestamp}` and `${apop_digest}` follow the step's connection.
    fn bind_builtins(&mut self, on: &str) {
        let ts = self.conns.get(on).and_then(|c| c.timestamp.clone());
        match ts {
            Some(ts) => {
                let secret = self.env.apop_secret.as_ref().or(self.env.creds.as_ref().map(|c| &c.password));
                if let Some(pw) = secret.map(|s| s.expose()) {
                    if self.apop_cache.as_ref().is_none_or(|(t, _)| *t != ts) {
                        self.apop_cache = Some((ts.clone(), apop::digest(&ts, pw)));
                    }
                    if let Some((_, digest)) = &self.apop_cache {
                        self.vars.set_secret("apop_digest", digest);
                    }
                }
                self.vars.set_str("timestamp", ts);
            }
            None => {
                self.vars.remove("timestamp");
                self.vars.remove("apop_digest");
            }
        }
    }

    async fn step(&mut self, step: &Step) -> Result<(), Stop> {
        self.bind_builtins(&step.on);
        match &step.action {
            Action::Connect { transport, reconnect } => self.connect(step, *transport, *reconnect).await,
            Action::Send { line, multiline } => {
                let text = self.expand(line, step)?;
                let in_sasl = self.conn_mut(step)?.in_sasl;
                let cmd = Command::parse(text.as_bytes(), in_sasl).ok();
                let frame = match (multiline, &cmd) {
                    (Some(true), _) => Frame::Multi,
                    (Some(false), _) => Frame::Single,
                    (None, Some(c)) if c.expect() == Expect::MultiLine => Frame::Multi,
                    (None, Some(c)) if c.expect() == Expect::Sasl => Frame::Sasl,
                    _ => Frame::Single,
                };
                let mut wire = expect::octets_of(&text);
                wire.extend_from_slice(b"\r\n");
                self.write(step, &wire).await?;
                self.label = cmd.is_none().then_some(text);
                self.exchange(step, 0, cmd, frame, None).await.map(|_| ())
            }
            Action::SendRaw { bytes, frame } => {
                let wire = expect::octets_of(&self.expand(bytes, step)?);
                let in_sasl = self.conn_mut(step)?.in_sasl;
                let mut cmds: Vec<Option<Command>> = wire
                    .split_inclusive(|&b| b == b'\n')
                    .filter(|l| l.ends_with(b"\n"))
                    .enumerate()
                    .map(|(i, l)| Command::parse(l, in_sasl && i == 0).ok())
                    .collect();
                if cmds.is_empty() {
                    cmds.push(None);
                }
                self.write(step, &wire).await?;
                self.conn_mut(step)?.pending.extend(cmds);
                if *frame == Some(Frame::None) {
                    return Ok(());
                }
                self.read_next(step, *frame).await
            }
            Action::Read(frame) => self.read_next(step, Some(*frame)).await,
            Action::Pipeline(lines) => {
                let mut wire = Vec::new();
                let mut cmds = Vec::new();
                for l in lines {
                    let text = self.expand(l, step)?;
                    cmds.push(Command::parse(text.as_bytes(), false).ok());
                    wire.extend_from_slice(&expect::octets_of(&text));
                    wire.extend_from_slice(b"\r\n");
                }
                self.write(step, &wire).await?;
                for (i, cmd) in cmds.into_iter().enumerate() {
                    let frame = match cmd.as_ref().map(Command::expect) {
                        Some(Expect::MultiLine) => Frame::Multi,
                        Some(Expect::Sasl) => Frame::Sasl,
                        _ => Frame::Single,
                    };
                    self.exchange(step, i, cmd, frame, None).await?;
                }
                Ok(())
            }
            Action::Stls => self.stls(step).await,
            Action::Upgrade => self.upgrade(step).await,
            Action::Capa => {
                if !step.explicit_expect && !self.about_capa() && self.env.inventory.capa == Support::No {
                    // RFC 2449 is optional: on a server without CAPA a scenario that is not about
                    // it does without (its CAPA steps only interleave a harmless command).
                    let c = self.conn_mut(step)?;
                    c.conn.as_mut().expect("open").note("CAPA not sent: the server does not answer CAPA");
                    // Nothing is listed: a `for_each` over its `lines` captures runs zero times.
                    for cap in step.capture.iter().filter(|c| c.from == CaptureFrom::Lines) {
                        self.vars.set(&cap.var, Value::Rows(Vec::new()));
                    }
                    return Ok(());
                }
                self.write(step, b"CAPA\r\n").await?;
                let d = (status_default(step), "2449-capa", "RFC 2449 §5");
                self.exchange(step, 0, Some(Command::Capa), Frame::Multi, Some(d)).await.map(|_| ())
            }
            Action::Login(spec) => self.login(step, spec).await,
            Action::Quit => self.quit(step).await,
            Action::Disconnect => {
                self.conn_mut(step)?;
                self.finish_conn(&step.on, Some(false)).await;
                Ok(())
            }
            Action::Closed(d) => self.closed(step, *d).await,
            Action::Silence(d) => self.silence(step, *d).await,
            Action::State { is, tls } => {
                let (state, has_tls) = match self.conns.get(&step.on) {
                    Some(c) if c.conn.is_some() => (c.state, c.tls),
                    _ => (SessionState::Closed, false),
                };
                let (req, rfc) = self.step_requirement(step);
                if state != *is || tls.is_some_and(|t| t != has_tls) {
                    let show = |s: SessionState, t: bool| format!("{}{}", s.as_str(), if t { " (TLS)" } else { "" });
                    let mut f = self.fail(step, &req, &rfc, "the session is not in the expected state".into());
                    f.expected = Some(show(*is, tls.unwrap_or(has_tls)));
                    f.actual = Some(show(state, has_tls));
                    return Err(Stop::from(f));
                }
                Ok(())
            }
            Action::Set(list) => {
                for (name, t) in list {
                    let v = self.expand(t, step)?;
                    self.vars.set_str(name, v);
                }
                Ok(())
            }
            Action::ForEach { list, as_name, steps } => {
                let rows = match self.vars.get(list) {
                    Some(Value::Rows(rows)) => rows.clone(),
                    _ => return Err(self.error(step, format!("scenario error: `{list}` is not a captured listing"))),
                };
                for row in rows.iter().take(FOR_EACH_MAX) {
                    self.vars.bind_row(as_name, row);
                    self.steps(steps).await?;
                }
                Ok(())
            }
        }
    }

    /// A server-side disconnect or silence while we waited for a reply, as a failure.
    pub(crate) fn lost(&mut self, step: &Step, what: &str, e: NetError) -> Stop {
        let (req, rfc) = self.step_requirement(step);
        let errs = self.conns.get(&step.on).map_or(0, |c| c.errs_in_row);
        let errs_total = self.conns.get(&step.on).map_or(0, |c| c.errs_total);
        let after_refused_login = self.conns.get(&step.on).is_some_and(|c| c.refused_login);
        if let Some(c) = self.conns.get_mut(&step.on) {
            // Gone or hung: either way no QUIT is owed (and none would be answered).
            if e.is_disconnect() || e.is_timeout() {
                c.state = SessionState::Closed;
            }
        }
        let f = |req: &str, rfc: &str, message: String, actual: String| {
            Stop::from(Failure {
                requirement: req.into(),
                rfc: rfc.into(),
                message,
                expected: Some(format!("a reply to {what}")),
                actual: Some(actual),
                span: step.span,
            })
        };
        match e {
            // RFC 1939 §4: "After returning a negative status indicator, the server may close the
            // connection." A close right after a refused login is that, not a crash.
            NetError::Closed { .. } | NetError::Reset { .. } if after_refused_login => Stop::Skip(format!(
                "the server closed the session after refusing a login, as RFC 1939 §4 allows (\"After \
                 returning a negative status indicator, the server may close the connection\"), before {what}: \
                 the remaining steps could not run"
            )),
            // Many servers (Dovecot: 3 before login) end a session after a run of errors. That is
            // a legitimate policy, not a crash and not a broken rule; but the steps after it cannot
            // run, so the scenario is skipped with the reason rather than passed or failed.
            NetError::Closed { .. } | NetError::Reset { .. } if errs >= ERROR_POLICY_THRESHOLD => Stop::Skip(format!(
                "the server closed the session after {errs} consecutive -ERR replies (a disconnect-after-errors \
                 policy, not a crash) before {what}: the remaining steps could not run; interleave a valid \
                 command (e.g. CAPA) between deliberate errors"
            )),
            // Servers that count every error of a session (solid-pop3d: 5 by default) close right
            // after the -ERR that reaches their limit, whatever came in between.
            NetError::Closed { .. } | NetError::Reset { .. } if errs >= 1 && errs_total >= ERROR_POLICY_TOTAL => {
                Stop::Skip(format!(
                    "the server closed the session right after its {errs_total}th -ERR reply of the session (a \
                     limit on errors per session, not a crash) before {what}: the remaining steps could not run"
                ))
            }
            NetError::Closed { .. } | NetError::Reset { .. } => f(
                &req,
                &rfc,
                format!("the server closed the connection instead of answering {what} (crashed or gave up)"),
                e.to_string(),
            ),
            NetError::Timeout { after, .. } => {
                f(&req, &rfc, format!("no reply to {what} within {}", humantime::format_duration(after)), e.to_string())
            }
            NetError::Slow { .. } => f(&req, &rfc, format!("{e} (the reply to {what})"), e.to_string()),
            NetError::Decode(d) => {
                f(&req, &rfc, format!("the reply to {what} exceeds the tester's limits: {d}"), d.to_string())
            }
            other => self.error(step, format!("could not read the reply to {what}: {other}")),
        }
    }

    pub(crate) async fn write(&mut self, step: &Step, wire: &[u8]) -> Result<(), Stop> {
        let c = self.conn_mut(step)?;
        c.wrote_after_stls = memchr::memchr_iter(b'\n', wire).nth(1).is_some();
        let conn = c.conn.as_mut().expect("conn_mut checked");
        match conn.send_raw(wire).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_disconnect() => Err(self.lost(step, "our command", e)),
            Err(e) => Err(self.error(step, format!("could not send: {e}"))),
        }
    }

    /// Reads the reply to the oldest command written by `send_raw`.
    async fn read_next(&mut self, step: &Step, frame: Option<Frame>) -> Result<(), Stop> {
        let cmd = self.conn_mut(step)?.pending.pop_front().flatten();
        let frame = frame.unwrap_or(match cmd.as_ref().map(Command::expect) {
            Some(Expect::MultiLine) => Frame::Multi,
            Some(Expect::Sasl) => Frame::Sasl,
            _ => Frame::Single,
        });
        self.exchange(step, 0, cmd, frame, None).await.map(|_| ())
    }

    /// Reads one reply, tracks it, checks expectation set `idx` (or `default` when the step has
    /// none: a set with the requirement it tests) and applies the captures.
    pub(crate) async fn exchange(
        &mut self,
        step: &Step,
        idx: usize,
        cmd: Option<Command>,
        frame: Frame,
        default: Option<(ExpectSet, &str, &str)>,
    ) -> Result<Response, Stop> {
        // How the command is named in a message: built only when a message is (a step's cost
        // should be the round trip, not the words for a failure that did not happen).
        let label = self.label.take();
        let describe = |run: &Self| {
            let what = match (&cmd, &label) {
                (Some(c), _) => {
                    format!("`{}`", crate::transcript::printable(&c.encode(), 80).trim_end_matches("\\r\\n"))
                }
                (None, Some(l)) => format!("`{}`", crate::transcript::printable(l.as_bytes(), 80)),
                (None, None) => "our command".to_string(),
            };
            run.vars.redact(&what)
        };
        // A reply to a login command may be delayed by the server's failed-login policy: wait
        // for what this server was measured to do, on top of the step's own bound.
        let login = matches!(
            cmd,
            Some(Command::Pass(_) | Command::Apop { .. } | Command::Auth { .. } | Command::AuthResponse(_))
        );
        let allowance = if login { self.env.auth_allowance() } else { std::time::Duration::ZERO };
        // Without a step timeout the connection's own bounds (silence, a drip's deadline) decide,
        // and name what happened; the outer bound is only a backstop for them.
        let slack = if step.timeout.is_none() { std::time::Duration::from_secs(2) } else { std::time::Duration::ZERO };
        let timeout = step.timeout.unwrap_or(self.env.opts.timeout) + allowance;
        let idle = timeout.max(self.env.opts.timeout);
        let mut decoder = Decoder::new(expect_of(frame), self.env.opts.limits).with_body_rule(body_rule(cmd.as_ref()));
        let c = self.conn_mut(step)?;
        let conn = c.conn.as_mut().expect("conn_mut checked");
        let patience = conn.set_patience(idle);
        let read = tokio::time::timeout(timeout + slack, conn.read_with(&mut decoder)).await;
        conn.restore_patience(patience);
        let mut resp = match read {
            Ok(Ok(r)) => r,
            Ok(Err(NetError::Closed { partial: Some(p), .. })) => {
                // A multi-line reply cut short: judge what arrived (UnterminatedBody fails it).
                self.track(step, &step.on.clone(), cmd.as_ref(), &p)?;
                let what = describe(self);
                return Err(self.lost(step, &what, NetError::Closed { when: "mid-reply", partial: None }));
            }
            Ok(Err(e)) => {
                let what = describe(self);
                return Err(self.lost(step, &what, e));
            }
            Err(_) => {
                let what = describe(self);
                return Err(self.lost(step, &what, NetError::Timeout { what: "a reply", after: timeout }));
            }
        };
        // Anything buffered beyond this reply, when no other reply is due, is out of step. (STLS
        // and QUIT have their own, more precise checks of what follows their +OK.)
        let more_due = matches!(&step.action, Action::Pipeline(lines) if idx + 1 < lines.len())
            || self.conns.get(&step.on).is_some_and(|c| !c.pending.is_empty());
        if !more_due && !matches!(cmd, Some(Command::Stls | Command::Quit)) {
            if let Some(v) = self.conns.get(&step.on).and_then(|c| c.conn.as_ref()).and_then(|c| c.out_of_step()) {
                resp.violations.push(v);
            }
        }
        self.track(step, &step.on, cmd.as_ref(), &resp)?;
        self.judge(step, idx, &resp, &describe, default)?;
        if matches!(cmd, Some(Command::Stls)) && resp.is_ok() {
            // However STLS was sent (stls, login, send, send_raw), +OK means TLS starts now.
            self.handshake(step).await?;
        }
        Ok(resp)
    }

    pub(crate) fn judge(
        &mut self,
        step: &Step,
        idx: usize,
        resp: &Response,
        what: &dyn Fn(&Self) -> String,
        default: Option<(ExpectSet, &str, &str)>,
    ) -> Result<(), Stop> {
        let none = ExpectSet::default();
        let set = match (step.expect.get(idx), &default) {
            (Some(set), _) => set,
            (None, Some((set, _, _))) => set,
            (None, None) => &none,
        };
        let problem = expect::check(set, resp, &self.vars)
            .err()
            .or_else(|| step.capture.iter().find_map(|c| expect::capture(c, resp, &mut self.vars).err()));
        match problem {
            None => Ok(()),
            Some(Problem::TooLarge(why)) => Err(Stop::Error { message: why, span: step.span }),
            Some(Problem::Broken(b)) => {
                Err(Stop::Error { message: format!("scenario error: {}", b.message), span: b.span })
            }
            Some(Problem::Mismatch(m)) => {
                let (req, rfc) = match (step.expect.get(idx), default) {
                    (None, Some((_, dreq, drfc))) => (
                        step.requirement.clone().unwrap_or_else(|| dreq.to_string()),
                        step.rfc.clone().unwrap_or_else(|| drfc.to_string()),
                    ),
                    _ => self.step_requirement(step),
                };
                let mut message = format!("{}: {}", what(self), m.what);
                if let Some(n) = &step.note {
                    message.push_str(&format!(" ({n})"));
                }
                // The reply broke a protocol invariant too: that is why it is not what the step
                // expects, and the failure belongs to that rule.
                let (req, rfc) = match self.last_observed.take() {
                    Some((oreq, orfc, detail)) => {
                        message.push_str(&format!(", because the reply breaks {oreq}: {detail}"));
                        (oreq, orfc)
                    }
                    None => (req, rfc),
                };
                Err(Stop::from(Failure {
                    requirement: req,
                    rfc,
                    message,
                    expected: Some(m.expected),
                    actual: Some(m.actual),
                    span: m.span,
                }))
            }
        }
    }

    async fn connect(&mut self, step: &Step, transport: Option<Transport>, reconnect: bool) -> Result<(), Stop> {
        let on = step.on.clone();
        if reconnect {
            self.finish_conn(&on, None).await;
        } else if self.conns.get(&on).is_some_and(|c| c.conn.is_some()) {
            return Err(
                self.error(step, format!("scenario error: connection `{on}` is already open (use `reconnect`)"))
            );
        }
        let target = match transport {
            Some(Transport::Implicit) => match self.env.implicit_target() {
                Some(t) => t.clone(),
                None => {
                    return Err(self.error(step, "no implicit-TLS address is known (add `requires: [implicit-tls]`)"))
                }
            },
            _ => self.env.target.clone(),
        };
        let opened_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        // A server at its connection limit closes new connections before greeting: retried,
        // bounded (see `connect_greeted`).
        let (conn, greeting) = match crate::net::session::connect_greeted(&target, &self.env.opts).await {
            Ok((c, g)) => (c, Ok::<_, NetError>(g)),
            Err(e @ (NetError::Connect { .. } | NetError::Resolve { .. })) => {
                return Err(self.error(step, format!("cannot open connection `{on}` to {}: {e}", target.authority())))
            }
            Err(e) => {
                return Err(self.error(step, format!("no greeting on connection `{on}`: {e}")));
            }
        };
        let tls = conn.is_tls();
        self.conns.insert(
            on.clone(),
            Conn {
                conn: Some(conn),
                state: SessionState::Authorization,
                tls,
                timestamp: None,
                caps: None,
                in_sasl: false,
                errs_in_row: 0,
                errs_total: 0,
                refused_login: false,
                sent_dele: false,
                wrote_after_stls: false,
                pending: Default::default(),
                opened_ms,
            },
        );
        let greeting = match greeting {
            Ok(g) => g,
            Err(e) => return Err(self.error(step, format!("no greeting on connection `{on}`: {e}"))),
        };
        if let Some(c) = self.conns.get_mut(&on) {
            c.timestamp = apop::greeting_timestamp(&greeting.text).map(str::to_string);
        }
        self.bind_builtins(&on);
        self.track(step, &on, None, &greeting)?;
        self.judge(
            step,
            0,
            &greeting,
            &|_| "the greeting".into(),
            Some((status_default(step), "1939-greeting", "RFC 1939 §4")),
        )
    }
}
