//! The session-level actions: STLS and the TLS handshake, login (with the run's STLS policy and
//! bounded retries of transient refusals), QUIT, and waiting for a close or for silence.

use super::steps::status_default;
use super::track::status_line;
use super::{Run, Stop};
use crate::inventory::Support;
use crate::net::session::{self as s, Credentials, LoginMethod, Secret, StlsPolicy};
use crate::net::NetError;
use crate::proto::{BodyLineRule, Command, Decoder, Expect, SessionState, Status};
use crate::scenario::model::*;
use std::time::Duration;

impl Run<'_> {
    pub(crate) async fn stls(&mut self, step: &Step) -> Result<(), Stop> {
        self.write(step, b"STLS\r\n").await?;
        let d = (status_default(step), "2595-stls-capa", "RFC 2595 §4");
        self.exchange(step, 0, Some(Command::Stls), Frame::Single, Some(d)).await.map(|_| ())
    }

    /// The TLS handshake after `+OK` to STLS. RFC 2595 §4: TLS starts right after the CRLF of the
    /// `+OK`; plaintext the server sends in between (buffered now, or read by the handshake as a
    /// corrupt record) fails `2595-handshake-next`. Other handshake failures are the tester's
    /// (trust, names): errors.
    pub(crate) async fn handshake(&mut self, step: &Step) -> Result<(), Stop> {
        let c = self.conn_mut(step)?;
        let conn = c.conn.as_mut().expect("open");
        let stray = (!conn.buffered().is_empty()).then(|| crate::transcript::printable(conn.buffered(), 120));
        let r = conn.start_tls().await;
        c.tls = true;
        c.caps = None;
        let corrupt = matches!(&r, Err(crate::net::NetError::Handshake(m)) if m.contains("corrupt message"));
        if stray.is_some() || corrupt {
            let mut f = self.fail(
                step,
                "2595-handshake-next",
                "RFC 2595 §4",
                "the server sent plaintext after +OK to STLS instead of starting the TLS handshake".into(),
            );
            f.expected = Some("the TLS handshake right after the CRLF of +OK".into());
            f.actual = Some(stray.unwrap_or_else(|| "non-TLS data in the handshake".into()));
            return Err(Stop::from(f));
        }
        match r {
            Ok(()) => Ok(()),
            // Our own write put plaintext after STLS (an injection probe) and the server read it
            // as the start of the TLS handshake, which then failed: the injected command never
            // ran inside TLS — the safe behaviour (Dovecot does this), judged by what happened,
            // not by any wording.
            Err(e) if self.conn_mut(step)?.wrote_after_stls && !matches!(e, NetError::TlsSetup(_)) => {
                let c = self.conn_mut(step)?;
                if let Some(conn) = c.conn.as_mut() {
                    conn.note(format!(
                        "handshake failed after injected plaintext ({e}): the server consumed it as TLS"
                    ));
                }
                c.state = SessionState::Closed;
                Err(Stop::Pass(format!(
                    "the server read the plaintext pipelined after STLS as TLS data and the handshake failed ({e}): \
                     the injected command never ran inside TLS"
                )))
            }
            Err(e) => Err(self.error(step, format!("TLS handshake after STLS failed: {e}"))),
        }
    }

    /// CAPA for the tester's own decisions (login method, STLS): tracked like any reply, not
    /// judged against the step's expectations.
    async fn learn_caps(&mut self, step: &Step) -> Result<crate::proto::Capabilities, Stop> {
        if let Some(caps) = self.conn_mut(step)?.caps.clone() {
            return Ok(caps);
        }
        if self.env.inventory.capa == Support::No {
            // Asking would only add a `-ERR` to the run of errors some servers count.
            return Ok(crate::proto::Capabilities::default());
        }
        self.write(step, b"CAPA\r\n").await?;
        let mut decoder = Decoder::new(Expect::MultiLine, self.env.opts.limits).with_body_rule(BodyLineRule::Capa);
        let c = self.conn_mut(step)?;
        let conn = c.conn.as_mut().expect("open");
        let resp = match conn.read_with(&mut decoder).await {
            Ok(r) => r,
            Err(e) => return Err(self.lost(step, "`CAPA`", e)),
        };
        let on = step.on.clone();
        self.track(step, &on, Some(&Command::Capa), &resp)?;
        let caps = self.conn_mut(step)?.caps.clone().unwrap_or_default();
        self.conn_mut(step)?.caps = Some(caps.clone());
        Ok(caps)
    }

    /// STLS first when not on TLS yet and the run's policy says so (`auto`: CAPA lists STLS).
    /// The step's own expectations are for what follows (the login), not for the STLS reply.
    pub(crate) async fn upgrade(&mut self, step: &Step) -> Result<(), Stop> {
        let policy = self.env.stls;
        let c = self.conn_mut(step)?;
        if c.tls || c.state != SessionState::Authorization {
            return Ok(());
        }
        let upgrade = match policy {
            StlsPolicy::Never => false,
            StlsPolicy::Always => true,
            StlsPolicy::Auto => self.learn_caps(step).await?.has("STLS"),
        };
        if upgrade {
            self.write(step, b"STLS\r\n").await?;
            let d = (status_default(step), "2595-stls-capa", "RFC 2595 §4");
            let mut quiet = step.clone();
            quiet.expect.clear();
            quiet.capture.clear();
            self.exchange(&quiet, 0, Some(Command::Stls), Frame::Single, Some(d)).await?;
        }
        Ok(())
    }

    pub(crate) async fn login(&mut self, step: &Step, spec: &LoginSpec) -> Result<(), Stop> {
        if spec.stls != Some(false) {
            self.upgrade(step).await?;
        }
        let creds = match (&spec.user, &spec.password, &self.env.creds) {
            (None, None, Some(c)) => c.clone(),
            (u, p, base) => {
                let user = match u {
                    Some(t) => self.expand(t, step)?,
                    None => base.as_ref().map(|c| c.user.clone()).unwrap_or_default(),
                };
                let password = match p {
                    Some(t) => self.expand(t, step)?,
                    None => base.as_ref().map(|c| c.password.expose().to_string()).unwrap_or_default(),
                };
                Credentials { user, password: Secret::new(password) }
            }
        };
        // APOP digests the shared secret, which may differ from the login password.
        let creds = match (spec.method, &spec.password, &self.env.apop_secret) {
            (Method::Apop, None, Some(secret)) => Credentials { user: creds.user, password: secret.clone() },
            _ => creds,
        };
        let method = match spec.method {
            Method::User => LoginMethod::UserPass,
            Method::Apop => LoginMethod::Apop,
            Method::Plain => LoginMethod::SaslPlain,
            Method::PlainNoIr => LoginMethod::SaslPlainNoIr,
            Method::Login => LoginMethod::SaslLogin,
            Method::Auto => {
                let caps = self.learn_caps(step).await?;
                if !caps.has("USER") && caps.has_sasl("PLAIN") {
                    LoginMethod::SaslPlain
                } else {
                    LoginMethod::UserPass
                }
            }
        };
        let mut delay = Duration::from_millis(100);
        let patient = self.env.opts.timeout + self.env.auth_allowance();
        for attempt in 0..=s::LOGIN_RETRIES {
            let c = self.conn_mut(step)?;
            let ts = c.timestamp.clone();
            let conn = c.conn.as_mut().expect("open");
            let patience = conn.set_patience(patient);
            let outcome = s::login(conn, &creds, method, ts.as_deref()).await;
            conn.restore_patience(patience);
            let outcome = match outcome {
                Ok(o) => o,
                Err(NetError::Usage(u)) => return Err(self.error(step, u)),
                Err(e) => return Err(self.lost(step, &format!("the {} login", method.name()), e)),
            };
            let on = step.on.clone();
            for r in &outcome.steps {
                self.track(step, &on, None, r)?;
            }
            let last = match method {
                LoginMethod::UserPass if outcome.steps.is_empty() => Command::User(creds.user.clone()),
                LoginMethod::UserPass => Command::Pass(String::new()),
                LoginMethod::Apop => Command::Apop { name: creds.user.clone(), digest: String::new() },
                LoginMethod::SaslPlain => {
                    Command::Auth { mechanism: Some("PLAIN".into()), initial_response: Some(String::new()) }
                }
                _ if outcome.steps.is_empty() => Command::Auth { mechanism: Some("X".into()), initial_response: None },
                _ => Command::AuthResponse(String::new()),
            };
            if matches!(last, Command::AuthResponse(_)) {
                if let Some(c) = self.conns.get_mut(&on) {
                    c.in_sasl = true;
                }
            }
            let resp = outcome.response;
            self.track(step, &on, Some(&last), &resp)?;
            if step.explicit_expect {
                return self.judge(step, 0, &resp, &|_| format!("the {} login", method.name()), None);
            }
            if resp.is_ok() {
                return self.judge(step, 0, &resp, &|_| "the login".into(), None);
            }
            let transient =
                resp.code.as_ref().is_some_and(|c| c.is("IN-USE") || c.is("LOGIN-DELAY") || c.is("SYS/TEMP"));
            if !transient || attempt == s::LOGIN_RETRIES {
                return Err(self.refused(step, &creds, method, &resp, transient));
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        Ok(())
    }

    /// A login the scenario needed was refused. When the first session proved these credentials,
    /// the refusal is the server's reaction to this point of the dialogue (a policy: after a
    /// second USER, a lock, a connection limit, a login delay): the scenario cannot go on and is
    /// skipped with what the server said. Only unproven credentials make it a tester error.
    fn refused(
        &self,
        step: &Step,
        creds: &Credentials,
        method: LoginMethod,
        resp: &crate::proto::Response,
        transient: bool,
    ) -> Stop {
        let said = status_line(resp);
        if let Some((req, rfc, detail)) = self.last_observed.clone() {
            // The refusal came with a broken invariant (out-of-step data above all): it may not
            // even be the answer to this login.
            let mut f = self.fail(
                step,
                &req,
                &rfc,
                format!("the {} login was refused ({said}), and that reply breaks {req}: {detail}", method.name()),
            );
            f.expected = Some("a reply to the login".into());
            f.actual = Some(said);
            return Stop::from(f);
        }
        let test_account = self.env.creds.as_ref().is_some_and(|c| *c == *creds);
        let empty_account = self.env.empty_creds.as_ref().is_some_and(|c| *c == *creds);
        let proven = (test_account && self.env.inventory.login == Support::Yes)
            || (empty_account && matches!(self.env.inventory.empty_account, Some(Ok(_))));
        if method == LoginMethod::Apop && test_account && self.env.apop_secret.is_none() {
            return Stop::Skip(format!(
                "the server refused APOP with MD5(timestamp + login password) ({said}): RFC 1939 §7 does not \
                 make the APOP secret the login password (some servers keep it apart), so this cannot be \
                 judged; pass --apop-secret-env VAR with the account's APOP secret"
            ));
        }
        if transient {
            return Stop::Skip(format!(
                "the server kept refusing the {} login of `{}` with a temporary code ({said}): its lock or \
                 login-delay policy, retried {} times",
                method.name(),
                creds.user,
                s::LOGIN_RETRIES
            ));
        }
        if proven {
            return Stop::Skip(format!(
                "the server refused the {} login of `{}` at this point of the scenario ({said}), though it \
                 accepted the same credentials in the first session: its policy after the commands before \
                 this step, not a credential problem; the steps after it could not run",
                method.name(),
                creds.user
            ));
        }
        let which = if empty_account { "--empty-user" } else { "test" };
        self.error(
            step,
            format!(
                "login as `{}` ({}) refused: {said} — check the {which} account's credentials",
                creds.user,
                method.name()
            ),
        )
    }

    pub(crate) async fn quit(&mut self, step: &Step) -> Result<(), Stop> {
        let before = self.conn_mut(step)?.state;
        self.write(step, b"QUIT\r\n").await?;
        let (req, rfc) = match before {
            SessionState::Transaction => ("1939-update", "RFC 1939 §6"),
            _ => ("1939-quit-authorization", "RFC 1939 §6"),
        };
        let resp =
            self.exchange(step, 0, Some(Command::Quit), Frame::Single, Some((status_default(step), req, rfc))).await?;
        if resp.status == Status::Ok {
            let wait = self.env.opts.timeout.min(Duration::from_secs(5));
            let c = self.conn_mut(step)?;
            let r = c.conn.as_mut().expect("open").read_unsolicited(wait).await;
            c.state = SessionState::Closed;
            let problem = match r {
                Err(_) => None,
                Ok(None) => Some(format!(
                    "the server did not close the connection within {} after +OK to QUIT",
                    humantime::format_duration(wait)
                )),
                Ok(Some(b)) => {
                    Some(format!("the server sent data after +OK to QUIT: {}", crate::transcript::printable(&b, 120)))
                }
            };
            if let Some(message) = problem {
                let mut f = self.fail(step, req, rfc, message);
                f.expected = Some("the server closes the connection".into());
                return Err(Stop::from(f));
            }
        }
        self.finish_conn(&step.on, Some(false)).await;
        Ok(())
    }

    pub(crate) async fn closed(&mut self, step: &Step, within: Duration) -> Result<(), Stop> {
        let c = self.conn_mut(step)?;
        let r = c.conn.as_mut().expect("open").read_unsolicited(within).await;
        let problem = match r {
            Err(_) => {
                c.state = SessionState::Closed;
                None
            }
            Ok(None) => Some(format!("the connection is still open after {}", humantime::format_duration(within))),
            Ok(Some(b)) => {
                Some(format!("the server sent data instead of closing: {}", crate::transcript::printable(&b, 120)))
            }
        };
        match problem {
            None => {
                self.finish_conn(&step.on, Some(false)).await;
                Ok(())
            }
            Some(m) => {
                let (req, rfc) = self.step_requirement(step);
                let mut f = self.fail(step, &req, &rfc, m);
                f.expected = Some("the server closes the connection".into());
                Err(Stop::from(f))
            }
        }
    }

    pub(crate) async fn silence(&mut self, step: &Step, d: Duration) -> Result<(), Stop> {
        let c = self.conn_mut(step)?;
        let r = c.conn.as_mut().expect("open").read_unsolicited(d).await;
        let (req, rfc) = self.step_requirement(step);
        let (message, actual) = match r {
            Ok(None) => return Ok(()),
            Ok(Some(b)) => ("the server sent data nobody asked for".to_string(), crate::transcript::printable(&b, 200)),
            Err(e) => ("the server closed the connection".to_string(), e.to_string()),
        };
        let mut f = self.fail(step, &req, &rfc, message);
        f.expected = Some(format!("silence for {}", humantime::format_duration(d)));
        f.actual = Some(actual);
        Err(Stop::from(f))
    }
}
