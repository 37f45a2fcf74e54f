//! Reaching a context: connect, greet, STLS as the policy says, log in and, in the logged-in
//! contexts, read the maildrop (LIST, UIDL) and the first line of CAPA (the sync marker). Where
//! the server advertises PIPELINING and USER (RFC 2449 §6.6), USER, PASS, LIST, UIDL and CAPA go
//! in one write: a fresh session then costs the round trips of a bare login, which is what bounds
//! fuzzing with a fresh session per case.

use super::{capa_first_line, Env, Session, SetupError};
use crate::fuzz::model::{Context, Model};
use crate::net::session::{self as s, is_transient, Credentials, OpenError, Opened, StlsPolicy};
use crate::net::NetError;
use crate::proto::listing::{scan_listings, unique_id_listings};
use crate::proto::{Command, Response};
use std::sync::atomic::Ordering::Relaxed;

/// Replies read for the pipelined login: USER, PASS, LIST, UIDL, CAPA.
const PIPELINED: usize = 5;

impl Session {
    /// Connects and reaches `context`.
    pub async fn open(env: &Env, context: Context) -> Result<Session, SetupError> {
        let login = context.needs_login();
        let policy = match context {
            Context::Authorization => StlsPolicy::Never,
            Context::AfterStls => StlsPolicy::Always,
            _ => env.stls,
        };
        let mut opened = s::open(&env.target, &env.opts, None, policy, false).await.map_err(setup_error)?;
        let pipelining = opened.capa.has("PIPELINING");
        let mut maildrop = None;
        if login {
            let creds = env.creds.as_ref().ok_or_else(|| setup_error(OpenError::NoCredentials))?;
            if pipelining && opened.capa.has("USER") && !env.stepwise_login.load(Relaxed) {
                match pipelined_login(&mut opened, creds).await {
                    Ok(replies) => maildrop = Some(replies),
                    // Refused (a maildrop lock not yet released, say): the stepwise path retries.
                    Err(Pipelined::Refused) => return open_stepwise(env, context, policy).await,
                    // Replies lost or cut although PIPELINING is advertised: never again here.
                    Err(Pipelined::Lost) => {
                        env.stepwise_login.store(true, Relaxed);
                        return open_stepwise(env, context, policy).await;
                    }
                }
            } else {
                match opened.login(creds).await {
                    Ok(()) => {}
                    Err(OpenError::LoginRefused { text, .. }) if is_transient(&text) => {
                        return open_stepwise(env, context, policy).await
                    }
                    Err(e) => return Err(setup_error(e)),
                }
            }
        }
        finish(env, context, opened, maildrop).await
    }
}

/// The whole setup one step at a time through [`s::open`] (which retries transient refusals).
async fn open_stepwise(env: &Env, context: Context, policy: StlsPolicy) -> Result<Session, SetupError> {
    let login = context.needs_login();
    let opened = s::open(&env.target, &env.opts, env.creds.as_ref(), policy, login).await.map_err(setup_error)?;
    finish(env, context, opened, None).await
}

fn setup_error(e: OpenError) -> SetupError {
    match e {
        OpenError::Net(
            e @ (NetError::Connect { .. }
            | NetError::Resolve { .. }
            | NetError::Timeout { .. }
            | NetError::Slow { .. }
            | NetError::Closed { .. }
            | NetError::Reset { .. }),
        ) => SetupError::Down(e.to_string()),
        OpenError::BadGreeting(t) => SetupError::Down(format!("greeting was not +OK: {t}")),
        e => SetupError::Unavailable(e.to_string()),
    }
}

/// Why a pipelined login did not give a session.
enum Pipelined {
    Refused,
    Lost,
}

/// USER, PASS, LIST, UIDL and CAPA in one write; the replies to LIST, UIDL and CAPA when the
/// login worked (the caller starts over one step at a time when it did not).
async fn pipelined_login(opened: &mut Opened, creds: &Credentials) -> Result<[Response; 3], Pipelined> {
    let cmds = [
        Command::User(creds.user.clone()),
        Command::Pass(creds.password.expose().to_string()),
        Command::List(None),
        Command::Uidl(None),
        Command::Capa,
    ];
    let replies = opened.conn.pipeline(&cmds).await.map_err(|_| Pipelined::Lost)?;
    for r in &replies {
        opened.violations.extend(r.violations.iter().cloned());
    }
    let [user, pass, list, uidl, capa]: [Response; PIPELINED] = replies.try_into().map_err(|_| Pipelined::Lost)?;
    if !user.is_ok() || !pass.is_ok() {
        return Err(Pipelined::Refused);
    }
    opened.logged_in = true;
    Ok([list, uidl, capa])
}

/// Builds the session on an opened (and, for the logged-in contexts, logged-in) connection.
async fn finish(
    env: &Env,
    context: Context,
    opened: Opened,
    maildrop: Option<[Response; 3]>,
) -> Result<Session, SetupError> {
    let did_stls = opened.conn.is_tls() && env.target.scheme == crate::net::Scheme::Plain;
    let pipelining = opened.capa.has("PIPELINING");
    let mut model = Model::new(context.state(), opened.conn.is_tls());
    if let Some(c) = &env.creds {
        model.user = Some(c.user.clone());
        model.password = Some(c.password.expose().to_string());
    }
    let mut session = Session {
        capa_mark: opened.capa.lines.first().cloned(),
        conn: opened.conn,
        model,
        context,
        did_stls,
        last_err: None,
        last_ok: false,
        consecutive_errors: 0,
        setup_violations: opened.violations,
        pipelining,
        sent_dele: false,
    };
    let unavailable = |e: NetError| SetupError::Unavailable(e.to_string());
    let mut marked = false;
    match context {
        Context::AfterUser => {
            let user = env.creds.as_ref().map_or("mrose", |c| c.user.as_str()).to_string();
            let r = session.conn.command(&Command::User(user.clone())).await.map_err(unavailable)?;
            if !r.is_ok() {
                return Err(SetupError::Unavailable(format!("USER refused: {}", r.text)));
            }
            session.model.after_user = Some(user);
        }
        Context::Transaction | Context::AfterDele => {
            let (list, uidl) = match maildrop {
                Some([list, uidl, capa]) => {
                    session.capa_mark = Some(capa).filter(Response::is_ok).and_then(|c| capa_first_line(&c));
                    marked = true;
                    (list, uidl)
                }
                None => {
                    let list = session.conn.command(&Command::List(None)).await.map_err(unavailable)?;
                    (list, session.conn.command(&Command::Uidl(None)).await.map_err(unavailable)?)
                }
            };
            let sizes: Vec<u64> =
                list.body.map(|b| scan_listings(&b).0.iter().map(|l| l.octets).collect()).unwrap_or_default();
            session.model.set_maildrop(sizes);
            session.model.uids = uidl.body.map(|b| unique_id_listings(&b).0.into_iter().map(|l| l.uid).collect());
            if context == Context::AfterDele {
                if session.model.sizes.is_empty() {
                    return Err(SetupError::Unavailable("the maildrop is empty: nothing to DELE".into()));
                }
                session.sent_dele = true;
                let r = session.conn.command(&Command::Dele(1)).await.map_err(unavailable)?;
                session.model.apply(b"DELE 1\r\n", r.status);
            }
        }
        _ => {}
    }
    if context.needs_login() && !marked {
        session.refresh_capa_mark().await;
    }
    session.conn.transcript_mut().take();
    Ok(session)
}
