//! Login behaviour: A03 (cleartext login accepted before TLS), A07 (STLS accepted after login) and
//! A15 (user enumeration at USER). Decided by what the server does with the test credentials, not
//! by what CAPA advertises: every method is tried, each on its own connection, whether listed or
//! not. A refusal before TLS only counts when the same credentials are accepted after TLS (the
//! control login), otherwise bad credentials would pass for a secure server.

use super::check::{join_and, CheckId, Evidence, Finding, Outcome};
use super::dial::{self, Ctx, Upgrade};
use crate::net::session::{login, Credentials, LoginMethod, LoginOutcome};
use crate::net::{Connection, NetError};
use crate::proto::{Command, Response};
use crate::results::Severity;
use std::time::Duration;
use tokio::time::{timeout, Instant};

/// Every login method A03 tries before TLS.
pub const METHODS: [LoginMethod; 5] = [
    LoginMethod::UserPass,
    LoginMethod::SaslPlain,
    LoginMethod::SaslPlainNoIr,
    LoginMethod::SaslLogin,
    LoginMethod::Apop,
];

/// How one login attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// `+OK`; or `-ERR [IN-USE]` / `[LOGIN-DELAY]`, which RFC 2449 §8.1 defines as "credentials
    /// fine, but not now" — the password was accepted either way.
    Accepted,
    /// `-ERR`, or the server hung up.
    Refused,
    /// The method cannot be tried (APOP without a greeting timestamp).
    NotOffered(String),
    /// No answer within the bounds, or the session could not be opened.
    Inconclusive(String),
}

/// How the session reaches the state where the login is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Cleartext,
    Stls,
    Implicit,
}

impl Via {
    fn label(self) -> &'static str {
        match self {
            Via::Cleartext => "before TLS",
            Via::Stls => "after STLS",
            Via::Implicit => "on the implicit-TLS port",
        }
    }
}

/// Opens a session in the state `via` asks for. `Ok(None)`: that state cannot be reached (STLS
/// refused, no implicit port); the connection's transcript is still returned for evidence.
async fn reach(ctx: &Ctx, via: Via) -> Result<(Option<Connection>, Option<String>), NetError> {
    let target = match via {
        Via::Implicit => match &ctx.implicit {
            Some(t) => t,
            None => return Ok((None, None)),
        },
        _ => &ctx.target,
    };
    let g = match dial::open(ctx, target).await {
        Ok(g) => g,
        // Nothing listens on the implicit-TLS port: that state does not exist here.
        Err(NetError::Connect { .. } | NetError::Resolve { .. }) if via == Via::Implicit => return Ok((None, None)),
        Err(e) => return Err(e),
    };
    if !g.greeting.is_ok() {
        return Ok((None, None));
    }
    let mut conn = g.conn;
    if via == Via::Stls && !matches!(dial::upgrade(&mut conn, ctx.waits.peek).await?, Upgrade::Done { .. }) {
        return Ok((None, None));
    }
    Ok((Some(conn), g.timestamp))
}

fn classify(result: Result<LoginOutcome, NetError>) -> Attempt {
    match result {
        Ok(o) if o.ok() || credentials_accepted(&o.response) => Attempt::Accepted,
        Ok(_) => Attempt::Refused,
        Err(e) if e.is_disconnect() => Attempt::Refused,
        Err(NetError::Usage(why)) => Attempt::NotOffered(why.to_string()),
        Err(e) => Attempt::Inconclusive(e.to_string()),
    }
}

fn credentials_accepted(r: &Response) -> bool {
    r.is_err() && r.code.as_ref().is_some_and(|c| c.is("IN-USE") || c.is("LOGIN-DELAY"))
}

/// One login attempt on a fresh connection, all of it (connect, greeting, upgrade, login) within
/// `limit`. Returns the open connection when logged in and `keep` is set.
async fn attempt(
    ctx: &Ctx,
    creds: &Credentials,
    via: Via,
    method: LoginMethod,
    limit: Duration,
    keep: bool,
) -> (Attempt, Option<Connection>, Evidence) {
    let deadline = Instant::now() + limit;
    let mut ev = Evidence::default();
    let label = format!("{} {}", method.name(), via.label());
    let (conn, ts) = match dial::bounded(limit, "the session to open", reach(ctx, via)).await {
        Ok((Some(c), ts)) => (c, ts),
        Ok((None, _)) => {
            ev.note(format!("{label}: that state could not be reached"));
            return (Attempt::Inconclusive(format!("could not reach the state {}", via.label())), None, ev);
        }
        Err(e) => {
            ev.note(format!("{label}: {e}"));
            return (Attempt::Inconclusive(e.to_string()), None, ev);
        }
    };
    let mut conn = conn;
    let left = deadline.saturating_duration_since(Instant::now());
    let (result, logged_in) = match timeout(left, login(&mut conn, creds, method, ts.as_deref())).await {
        Ok(r) => {
            let logged_in = matches!(&r, Ok(o) if o.ok());
            (classify(r), logged_in)
        }
        Err(_) => (Attempt::Inconclusive(format!("no answer within {limit:?}")), false),
    };
    if keep && logged_in {
        return (result, Some(conn), ev);
    }
    let transcript = dial::finish(conn, logged_in, dial::QUIT_WAIT).await;
    ev.session(&label, &transcript);
    (result, None, ev)
}

/// The cleartext attempts and the control login after TLS.
#[derive(Debug, Clone, Default)]
pub struct LoginObservation {
    pub attempts: Vec<(LoginMethod, Attempt)>,
    /// The method and state in which the credentials were accepted after TLS.
    pub control: Option<(LoginMethod, Via)>,
    /// Why the control login did not succeed.
    pub control_failure: Option<String>,
    pub evidence: Evidence,
}

impl LoginObservation {
    /// The first method accepted before TLS.
    pub fn cleartext_method(&self) -> Option<LoginMethod> {
        self.attempts.iter().find(|(_, a)| *a == Attempt::Accepted).map(|(m, _)| *m)
    }
}

/// Tries every method before TLS (concurrently, bounded by the login budget) and, alongside, the
/// control login after TLS (STLS, else the implicit-TLS port).
pub async fn observe(ctx: &Ctx, creds: &Credentials) -> LoginObservation {
    let limit = ctx.waits.attempt.min(ctx.waits.login_budget);
    let one = |m| Box::pin(attempt(ctx, creds, Via::Cleartext, m, limit, false));
    let [a, b, c, d, e] = METHODS;
    let (cleartext, control) = tokio::join!(
        async { tokio::join!(one(a), one(b), one(c), one(d), one(e)) },
        Box::pin(control(ctx, creds, limit))
    );
    let (ra, rb, rc, rd, re) = cleartext;
    let mut obs = LoginObservation::default();
    for (m, (att, _, ev)) in [(a, ra), (b, rb), (c, rc), (d, rd), (e, re)] {
        obs.evidence.extend(&ev);
        obs.attempts.push((m, att));
    }
    let (found, failure, ev) = control;
    obs.control = found;
    obs.control_failure = failure;
    obs.evidence.extend(&ev);
    obs
}

async fn control(
    ctx: &Ctx,
    creds: &Credentials,
    limit: Duration,
) -> (Option<(LoginMethod, Via)>, Option<String>, Evidence) {
    let mut ev = Evidence::default();
    let mut why = Vec::new();
    // Up to eight sequential attempts: the whole series shares the login budget.
    let deadline = Instant::now() + ctx.waits.login_budget;
    for via in [Via::Stls, Via::Implicit] {
        for method in [LoginMethod::UserPass, LoginMethod::SaslPlain, LoginMethod::SaslLogin, LoginMethod::Apop] {
            let left = deadline.saturating_duration_since(Instant::now()).min(limit);
            if left.is_zero() {
                why.push(format!("the login budget of {:?} ran out", ctx.waits.login_budget));
                return (None, Some(why.join("; ")), ev);
            }
            let (att, _, e) = attempt(ctx, creds, via, method, left, false).await;
            ev.extend(&e);
            match att {
                Attempt::Accepted => return (Some((method, via)), None, ev),
                Attempt::Inconclusive(w) if w.starts_with("could not reach") => {
                    why.push(w);
                    break;
                }
                Attempt::Inconclusive(w) | Attempt::NotOffered(w) => why.push(format!("{}: {w}", method.name())),
                Attempt::Refused => why.push(format!("{} {}: refused", method.name(), via.label())),
            }
        }
    }
    (None, Some(why.join("; ")), ev)
}

/// A03 from the attempts and the control login.
pub fn decide_a03(obs: &LoginObservation) -> Outcome {
    let names = |want: fn(&Attempt) -> bool| -> Vec<String> {
        obs.attempts.iter().filter(|(_, a)| want(a)).map(|(m, _)| m.name().to_string()).collect()
    };
    let accepted = names(|a| *a == Attempt::Accepted);
    if !accepted.is_empty() {
        return Outcome::fail(
            Severity::High,
            format!("the test credentials log in before TLS with {}", join_and(&accepted)),
        );
    }
    let refused = names(|a| *a == Attempt::Refused);
    let unclear: Vec<String> = obs
        .attempts
        .iter()
        .filter_map(|(m, a)| match a {
            Attempt::Inconclusive(w) => Some(format!("{}: {w}", m.name())),
            _ => None,
        })
        .collect();
    if !unclear.is_empty() {
        return Outcome::Error(format!("could not decide every cleartext login method — {}", unclear.join("; ")));
    }
    let Some((method, via)) = obs.control else {
        let why = obs.control_failure.clone().unwrap_or_default();
        return Outcome::Error(format!(
            "every method was refused before TLS, but the credentials were not accepted after TLS either ({why}), \
             so a refusal of cleartext cannot be told from bad credentials"
        ));
    };
    let not_offered: Vec<String> = obs
        .attempts
        .iter()
        .filter_map(|(m, a)| match a {
            Attempt::NotOffered(w) => Some(format!("{} ({w})", m.name())),
            _ => None,
        })
        .collect();
    let mut msg = format!(
        "refused before TLS: {}; the same credentials log in {} with {}",
        join_and(&refused),
        via.label(),
        method.name()
    );
    if !not_offered.is_empty() {
        msg.push_str(&format!("; not tried: {}", join_and(&not_offered)));
    }
    Outcome::Pass(msg)
}

/// A03 when no credentials were given.
pub fn a03_without_credentials() -> Outcome {
    Outcome::Skip(
        "no credentials (--user with --password-env): could not decide whether USER/PASS, AUTH PLAIN (with and \
         without initial response), AUTH LOGIN or APOP are accepted before TLS"
            .into(),
    )
}

/// What STLS after a login did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterLogin {
    /// `+OK` to STLS in the TRANSACTION state; `via` says where the login happened.
    Accepted {
        via: Via,
    },
    Refused {
        via: Via,
    },
    /// The login itself failed or could not be run.
    NotLoggedIn(String),
}

/// A07: log in (before TLS when A03 found a way, else inside TLS), then STLS.
pub async fn observe_a07(ctx: &Ctx, creds: &Credentials, logins: &LoginObservation) -> (AfterLogin, Evidence) {
    let (method, via) = match (logins.cleartext_method(), logins.control) {
        (Some(m), _) => (m, Via::Cleartext),
        (None, Some((m, v))) => (m, v),
        (None, None) => {
            return (AfterLogin::NotLoggedIn("the test credentials were never accepted".into()), Evidence::default())
        }
    };
    let mut ev = Evidence::default();
    // Our own earlier sessions may still hold the maildrop lock: retry transient refusals, bounded.
    let mut delay = Duration::from_millis(50);
    let deadline = Instant::now() + ctx.waits.login_budget;
    for round in 0..4 {
        let left = deadline.saturating_duration_since(Instant::now()).min(ctx.waits.attempt);
        if left.is_zero() {
            break;
        }
        let (att, conn, e) = attempt(ctx, creds, via, method, left, true).await;
        ev.extend(&e);
        let Some(mut conn) = conn else {
            // Accepted without a session: `[IN-USE]` or `[LOGIN-DELAY]`, worth a bounded retry.
            if att == Attempt::Accepted && round < 3 {
                tokio::time::sleep(delay).await;
                delay *= 2;
                continue;
            }
            return (AfterLogin::NotLoggedIn(format!("{} {} did not log in: {att:?}", method.name(), via.label())), ev);
        };
        let reply = conn.command(&Command::Stls).await;
        let accepted = matches!(&reply, Ok(r) if r.is_ok());
        let transcript = dial::finish(conn, !accepted, dial::QUIT_WAIT).await;
        ev.session(&format!("{} {}, then STLS", method.name(), via.label()), &transcript);
        return match reply {
            Ok(_) if accepted => (AfterLogin::Accepted { via }, ev),
            Ok(_) => (AfterLogin::Refused { via }, ev),
            Err(e) if e.is_disconnect() => (AfterLogin::Refused { via }, ev),
            Err(e) => (AfterLogin::NotLoggedIn(format!("STLS after login got no answer: {e}")), ev),
        };
    }
    (AfterLogin::NotLoggedIn("the maildrop stayed locked for the whole login budget".into()), ev)
}

/// A07 from [`observe_a07`]: high after a cleartext login (session fixation: a man in the middle
/// logs in, then lets the victim's STLS through), medium after a login inside TLS.
pub fn decide_a07(seen: &AfterLogin) -> Outcome {
    match seen {
        AfterLogin::Accepted { via: Via::Cleartext } => {
            Outcome::fail(Severity::High, "after a cleartext login, STLS is answered +OK (TRANSACTION state)")
        }
        AfterLogin::Accepted { via } => {
            Outcome::fail(Severity::Medium, format!("after a login {}, STLS is answered +OK", via.label()))
        }
        AfterLogin::Refused { via: Via::Cleartext } => Outcome::Pass("after a cleartext login, STLS is refused".into()),
        AfterLogin::Refused { via } => Outcome::Pass(format!(
            "cleartext login is refused (A03), so no session is logged in before TLS; after a login {}, STLS is \
             refused",
            via.label()
        )),
        AfterLogin::NotLoggedIn(why) => Outcome::Error(format!("could not log in to try STLS after login: {why}")),
    }
}

/// Whether `USER name` is answered `+OK`, on a fresh connection in state `via`; `Ok(None)` when
/// that state cannot be reached.
async fn user_reply(ctx: &Ctx, via: Via, name: &str, label: &str) -> (Result<Option<bool>, String>, Evidence) {
    let mut ev = Evidence::default();
    let mut conn = match reach(ctx, via).await {
        Ok((Some(c), _)) => c,
        Ok((None, _)) => return (Ok(None), ev),
        Err(e) => return (Err(e.to_string()), ev),
    };
    let r = match conn.command(&Command::User(name.to_string())).await {
        Ok(r) => Ok(Some(r.is_ok())),
        Err(e) if e.is_disconnect() => Ok(Some(false)),
        Err(e) => Err(e.to_string()),
    };
    let transcript = dial::finish(conn, true, dial::QUIT_WAIT).await;
    ev.session(&format!("USER for {label} {}", via.label()), &transcript);
    (r, ev)
}

/// A15: compare USER for an unknown name with USER for the known one — inside TLS when STLS or the
/// implicit port works (USER is often allowed only there), else before TLS.
pub async fn a15(ctx: &Ctx, user: Option<&str>) -> Finding {
    let Some(known) = user else {
        return Finding::new(
            CheckId::A15,
            Outcome::Skip("no --user: could not compare USER for an unknown name with USER for a known one".into()),
        );
    };
    let unknown = format!("pop3test-{:08x}", rand::random::<u32>());
    let mut ev = Evidence::default();
    for via in [Via::Stls, Via::Implicit, Via::Cleartext] {
        let ((ru, evu), (rk, evk)) = tokio::join!(
            user_reply(ctx, via, &unknown, "an unknown user"),
            user_reply(ctx, via, known, "the known user")
        );
        ev.extend(&evu);
        ev.extend(&evk);
        let (ru, rk) = match (ru, rk) {
            (Ok(None), _) | (_, Ok(None)) => continue,
            (Ok(Some(u)), Ok(Some(k))) => (Ok(u), Ok(k)),
            (Err(e), _) | (_, Err(e)) => (Err(e.clone()), Err(e)),
        };
        return Finding::new(CheckId::A15, decide_a15(ru, rk, via)).with_evidence(ev);
    }
    Finding::new(CheckId::A15, Outcome::Error("no session could be opened to try USER".into())).with_evidence(ev)
}

/// A15 from the two replies (`true` = `+OK`).
pub fn decide_a15(unknown: Result<bool, String>, known: Result<bool, String>, via: Via) -> Outcome {
    match (unknown, known) {
        (Err(e), _) | (_, Err(e)) => Outcome::Error(format!("USER could not be tried {}: {e}", via.label())),
        (Ok(true), _) => Outcome::Pass(format!("USER {} accepts an unknown name just like a known one", via.label())),
        (Ok(false), Ok(true)) => Outcome::fail(
            Severity::Low,
            format!("USER {} answers -ERR for an unknown name and +OK for the known user", via.label()),
        ),
        (Ok(false), Ok(false)) => Outcome::Skip(format!(
            "USER {} is refused for the known user too, so USER tells nothing about which users exist",
            via.label()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(attempts: Vec<Attempt>, control: Option<(LoginMethod, Via)>) -> LoginObservation {
        LoginObservation {
            attempts: METHODS.iter().copied().zip(attempts).collect(),
            control,
            control_failure: Some("refused".into()),
            evidence: Evidence::default(),
        }
    }

    #[test]
    fn a03_any_accepted_method_is_high() {
        let mut a = vec![Attempt::Refused; 5];
        a[3] = Attempt::Accepted;
        let out = decide_a03(&obs(a, None));
        assert_eq!(out.severity(), Some(Severity::High));
        assert!(out.message().contains("AUTH LOGIN"), "{}", out.message());
    }

    #[test]
    fn a03_refusals_count_only_with_a_working_control_login() {
        let refused = vec![Attempt::Refused; 5];
        let out = decide_a03(&obs(refused.clone(), Some((LoginMethod::UserPass, Via::Stls))));
        assert!(out.is_pass(), "{out:?}");
        assert!(matches!(decide_a03(&obs(refused, None)), Outcome::Error(_)));
        let mut a = vec![Attempt::Refused; 5];
        a[4] = Attempt::NotOffered("no timestamp".into());
        let out = decide_a03(&obs(a, Some((LoginMethod::UserPass, Via::Stls))));
        assert!(out.is_pass() && out.message().contains("not tried: APOP"), "{}", out.message());
        let mut a = vec![Attempt::Refused; 5];
        a[0] = Attempt::Inconclusive("timeout".into());
        assert!(matches!(decide_a03(&obs(a, Some((LoginMethod::UserPass, Via::Stls)))), Outcome::Error(_)));
    }

    #[test]
    fn in_use_means_the_credentials_were_accepted() {
        let resp = |text: &str| {
            crate::proto::response::decode(text.as_bytes(), crate::proto::Expect::SingleLine, Default::default())
        };
        let Ok(crate::proto::Decoded::Complete(r, _)) = resp("-ERR [IN-USE] locked\r\n") else { panic!() };
        assert!(credentials_accepted(&r));
        let Ok(crate::proto::Decoded::Complete(r, _)) = resp("-ERR [AUTH] no\r\n") else { panic!() };
        assert!(!credentials_accepted(&r));
    }

    #[test]
    fn a07_severity_depends_on_where_the_login_happened() {
        assert_eq!(decide_a07(&AfterLogin::Accepted { via: Via::Cleartext }).severity(), Some(Severity::High));
        assert_eq!(decide_a07(&AfterLogin::Accepted { via: Via::Stls }).severity(), Some(Severity::Medium));
        assert!(decide_a07(&AfterLogin::Refused { via: Via::Implicit }).is_pass());
        assert!(matches!(decide_a07(&AfterLogin::NotLoggedIn("x".into())), Outcome::Error(_)));
    }

    #[test]
    fn a15_enumeration_only_when_unknown_refused_and_known_accepted() {
        assert!(decide_a15(Ok(true), Ok(true), Via::Stls).is_pass());
        assert_eq!(decide_a15(Ok(false), Ok(true), Via::Stls).severity(), Some(Severity::Low));
        assert!(matches!(decide_a15(Ok(false), Ok(false), Via::Stls), Outcome::Skip(_)));
        assert!(matches!(decide_a15(Err("x".into()), Ok(true), Via::Stls), Outcome::Error(_)));
    }
}
