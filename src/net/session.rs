//! Common exchanges built on a [`Connection`]: greeting, CAPA, STLS upgrade and the login
//! methods. Used by the `session` command, the scenario engine, the audit and the fuzzer, so
//! each of them logs in the same, tested way.

use super::conn::{Connection, NetError};
use crate::proto::{apop, BodyLineRule, Capabilities, Command, Decoder, Expect, Response, Violation};
use base64::Engine;
use std::fmt;

/// A password that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself: only for putting on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::transcript::REDACTED)
    }
}

/// Test credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
}

/// How to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// USER then PASS (RFC 1939 §7).
    UserPass,
    /// APOP with the greeting's timestamp (RFC 1939 §7).
    Apop,
    /// AUTH PLAIN with the initial response on the AUTH line (RFC 5034 §4, RFC 4616).
    SaslPlain,
    /// AUTH PLAIN, credentials sent after an empty `+ ` challenge.
    SaslPlainNoIr,
    /// AUTH LOGIN (username and password as two continuations).
    SaslLogin,
}

impl LoginMethod {
    pub fn name(self) -> &'static str {
        match self {
            LoginMethod::UserPass => "USER/PASS",
            LoginMethod::Apop => "APOP",
            LoginMethod::SaslPlain => "AUTH PLAIN (initial response)",
            LoginMethod::SaslPlainNoIr => "AUTH PLAIN",
            LoginMethod::SaslLogin => "AUTH LOGIN",
        }
    }
}

/// The outcome of a login attempt that ran to its end.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The final reply (`+OK` = logged in).
    pub response: Response,
    /// Every reply on the way (USER's, challenges...), for evidence.
    pub steps: Vec<Response>,
}

impl LoginOutcome {
    pub fn ok(&self) -> bool {
        self.response.is_ok()
    }

    /// The first out-of-step violation on the way: the server sent more than its reply, so what
    /// looks like the answer to PASS may answer an earlier command.
    pub fn out_of_step(&self) -> Option<String> {
        self.steps
            .iter()
            .chain([&self.response])
            .flat_map(|r| &r.violations)
            .find_map(|v| matches!(v, Violation::OutOfStep { .. }).then(|| v.to_string()))
    }
}

/// How long [`connect_greeted`] keeps retrying a server that closes new connections before
/// greeting: past a rate limit such as popa3d's (50 sessions per source in 10 s), a slot frees
/// within its window.
pub const GREETING_RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(12);

/// Connects and reads the greeting. A server that closes (or resets) a new connection before
/// sending a byte is usually at a connection limit (Courier: 4 per address; popa3d: a rate per source):
/// that is retried with a doubling back-off within [`GREETING_RETRY_BUDGET`], and the transcript
/// of the connection that made it says how many were turned away.
pub async fn connect_greeted(
    target: &super::Target,
    opts: &super::ConnectOptions,
) -> Result<(Connection, Response), NetError> {
    let start = std::time::Instant::now();
    let mut delay = std::time::Duration::from_millis(100);
    let mut turned_away = 0u32;
    loop {
        let mut conn = Connection::connect(target, opts).await?;
        match conn.greeting().await {
            Ok(g) => {
                if turned_away > 0 {
                    conn.note(format!(
                        "the server closed {turned_away} earlier connection(s) without a greeting (a connection limit); \
                         this one got in after {:.1} s",
                        start.elapsed().as_secs_f64()
                    ));
                }
                return Ok((conn, g));
            }
            // Only a close before any octet is a connection limit: a server that began its
            // greeting (`+OK hel`) and hung up is broken, and retrying it spent the whole budget
            // (12 s) on every connection of an audit.
            Err(e @ (NetError::Closed { partial: None, .. } | NetError::Reset { .. })) if conn.received() == 0 => {
                if start.elapsed() + delay > GREETING_RETRY_BUDGET {
                    return Err(e);
                }
                turned_away += 1;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// How many connections `target` serves at once, up to `max`: that many are opened together and
/// those greeted within `wait` are counted (servers queue or refuse the rest: GNU Mailutils and
/// Cyrus past their process limit, Courier past 4 per address, inetd-style servers past one).
/// Then all are closed. At least 1 (see [`greeted_at_once`] for the count itself).
pub async fn capacity(
    target: &super::Target,
    opts: &super::ConnectOptions,
    max: usize,
    wait: std::time::Duration,
) -> usize {
    greeted_at_once(target, opts, max, wait).await.max(1)
}

/// [`capacity`]'s count, which is 0 when no connection got a `+OK` greeting within `wait`.
pub async fn greeted_at_once(
    target: &super::Target,
    opts: &super::ConnectOptions,
    max: usize,
    wait: std::time::Duration,
) -> usize {
    let one = || async {
        let mut conn = tokio::time::timeout(wait, Connection::connect(target, opts)).await.ok()?.ok()?;
        let greeted = matches!(tokio::time::timeout(wait, conn.greeting()).await, Ok(Ok(g)) if g.is_ok());
        Some((conn, greeted))
    };
    let mut pending: Vec<_> = (0..max).map(|_| Box::pin(one())).collect();
    let mut opened = Vec::new();
    // All at once, on this task (the futures borrow).
    std::future::poll_fn(|cx| {
        let mut i = 0;
        while i < pending.len() {
            if let std::task::Poll::Ready(v) = std::future::Future::poll(pending[i].as_mut(), cx) {
                opened.push(v);
                drop(pending.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    let greeted = opened.iter().filter(|o| matches!(o, Some((_, true)))).count();
    for (conn, _) in opened.into_iter().flatten() {
        // No QUIT: its reply is one more wait; the server sees the close at once.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), conn.close(false)).await;
    }
    greeted
}

/// Reads the greeting and returns it with its APOP timestamp, if any.
pub async fn greeting(conn: &mut Connection) -> Result<(Response, Option<String>), NetError> {
    let g = conn.greeting().await?;
    let ts = apop::greeting_timestamp(&g.text).map(str::to_string);
    Ok((g, ts))
}

/// CAPA, parsed. A `-ERR` (CAPA not supported) gives empty capabilities.
pub async fn capa(conn: &mut Connection) -> Result<(Capabilities, Response, Vec<Violation>), NetError> {
    conn.send(&Command::Capa).await?;
    let mut decoder = Decoder::new(Expect::MultiLine, limits_of(conn)).with_body_rule(BodyLineRule::Capa);
    let mut resp = conn.read_with(&mut decoder).await?;
    if let Some(v) = conn.out_of_step() {
        resp.violations.push(v);
    }
    let (caps, violations) = match &resp.body {
        Some(b) => Capabilities::parse(b.lines()),
        None => (Capabilities::default(), Vec::new()),
    };
    Ok((caps, resp, violations))
}

/// The connection's own limits: `--max-response` bounds CAPA too (the defaults here let a CAPA
/// run to 16 MiB whatever the command line said).
fn limits_of(conn: &Connection) -> crate::proto::Limits {
    conn.limits()
}

/// Sends STLS and, on `+OK`, performs the TLS handshake. Returns the reply to STLS.
pub async fn stls(conn: &mut Connection) -> Result<Response, NetError> {
    let r = conn.command(&Command::Stls).await?;
    if r.is_ok() {
        conn.start_tls().await?;
    }
    Ok(r)
}

/// Sends `cmd` and reads its reply, marking it when the server sent more than that reply.
async fn checked(conn: &mut Connection, cmd: &Command) -> Result<Response, NetError> {
    let mut r = conn.command(cmd).await?;
    if let Some(v) = conn.out_of_step() {
        r.violations.push(v);
    }
    Ok(r)
}

/// Runs one login method to its end. `timestamp` is the greeting's APOP timestamp.
pub async fn login(
    conn: &mut Connection,
    creds: &Credentials,
    method: LoginMethod,
    timestamp: Option<&str>,
) -> Result<LoginOutcome, NetError> {
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let plain = || b64(format!("\0{}\0{}", creds.user, creds.password.expose()).as_bytes());
    let mut steps = Vec::new();
    let response = match method {
        LoginMethod::UserPass => {
            let r = checked(conn, &Command::User(creds.user.clone())).await?;
            if !r.is_ok() {
                return Ok(LoginOutcome { response: r, steps });
            }
            steps.push(r);
            checked(conn, &Command::Pass(creds.password.expose().to_string())).await?
        }
        LoginMethod::Apop => {
            let Some(ts) = timestamp else {
                return Err(NetError::Usage("APOP needs a <timestamp> in the greeting, and this server sent none"));
            };
            let digest = apop::digest(ts, creds.password.expose());
            checked(conn, &Command::Apop { name: creds.user.clone(), digest }).await?
        }
        LoginMethod::SaslPlain => {
            checked(conn, &Command::Auth { mechanism: Some("PLAIN".into()), initial_response: Some(plain()) }).await?
        }
        LoginMethod::SaslPlainNoIr => {
            let r = checked(conn, &Command::Auth { mechanism: Some("PLAIN".into()), initial_response: None }).await?;
            if r.status != crate::proto::Status::Continue {
                return Ok(LoginOutcome { response: r, steps });
            }
            steps.push(r);
            checked(conn, &Command::AuthResponse(plain())).await?
        }
        LoginMethod::SaslLogin => {
            let mut r =
                checked(conn, &Command::Auth { mechanism: Some("LOGIN".into()), initial_response: None }).await?;
            for answer in [creds.user.as_bytes(), creds.password.expose().as_bytes()] {
                if r.status != crate::proto::Status::Continue {
                    return Ok(LoginOutcome { response: r, steps });
                }
                steps.push(r);
                r = checked(conn, &Command::AuthResponse(b64(answer))).await?;
            }
            r
        }
    };
    Ok(LoginOutcome { response, steps })
}

/// When to upgrade with STLS before logging in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StlsPolicy {
    /// Never (cleartext login, or an implicit-TLS target).
    Never,
    /// When CAPA advertises STLS (what a careful client does).
    #[default]
    Auto,
    /// Always; a refused STLS is an error.
    Always,
}

/// A session opened by [`open`]: greeting read, CAPA read, upgraded and logged in as asked.
pub struct Opened {
    pub conn: Connection,
    pub greeting: Response,
    /// The greeting's APOP timestamp, if any.
    pub timestamp: Option<String>,
    /// CAPA as first seen (before TLS, unless the target is implicit TLS).
    pub capa_initial: Capabilities,
    /// CAPA in the current state (after STLS when upgraded; before login).
    pub capa: Capabilities,
    /// Every violation seen so far (greeting, CAPA, login replies).
    pub violations: Vec<Violation>,
    pub logged_in: bool,
    /// The first CAPA was answered `+OK` (RFC 2449 is optional: `-ERR` is a legal answer).
    pub capa_ok: bool,
}

/// Why [`open`] could not give a session.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("the greeting was not +OK: {0}")]
    BadGreeting(String),
    #[error("STLS refused: {0}")]
    StlsRefused(String),
    #[error("login refused ({method}): {text}")]
    LoginRefused { method: &'static str, text: String },
    #[error("this needs credentials: pass --user and --password-env")]
    NoCredentials,
    /// The server sent more than its reply to a login command: its replies no longer belong to
    /// the commands, so a refusal says nothing about the credentials.
    #[error("the login cannot be judged: {0}")]
    OutOfStep(String),
}

/// Bounded retry budget for logins answered `[IN-USE]`, `[LOGIN-DELAY]` or `[SYS/TEMP]`: servers
/// lock maildrops and rate-limit logins, and a test must neither fail on that nor wait minutes.
pub const LOGIN_RETRIES: u32 = 4;

/// Connects, reads greeting and CAPA, upgrades per `policy`, and logs in with USER/PASS (or
/// AUTH PLAIN when USER is not offered but SASL PLAIN is) when `login` is set. Retries transient
/// refusals within [`LOGIN_RETRIES`] with doubling backoff from 100 ms.
pub async fn open(
    target: &super::Target,
    opts: &super::ConnectOptions,
    creds: Option<&Credentials>,
    policy: StlsPolicy,
    login: bool,
) -> Result<Opened, OpenError> {
    let mut delay = std::time::Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        match open_once(target, opts, creds, policy, login).await {
            Err(OpenError::LoginRefused { method, text }) if attempt < LOGIN_RETRIES && is_transient(&text) => {
                let _ = method;
                attempt += 1;
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            other => return other,
        }
    }
}

async fn open_once(
    target: &super::Target,
    opts: &super::ConnectOptions,
    creds: Option<&Credentials>,
    policy: StlsPolicy,
    login_wanted: bool,
) -> Result<Opened, OpenError> {
    if login_wanted && creds.is_none() {
        return Err(OpenError::NoCredentials);
    }
    let (mut conn, greeting) = connect_greeted(target, opts).await?;
    let timestamp = apop::greeting_timestamp(&greeting.text).map(str::to_string);
    let mut violations = greeting.violations.clone();
    if !greeting.is_ok() {
        return Err(OpenError::BadGreeting(greeting.text));
    }
    let (capa_initial, r, v) = capa(&mut conn).await?;
    // Answered more than CAPA: whatever follows (STLS's `+OK`, USER's) may be the extra reply.
    if let Some(v) = r.violations.iter().find(|v| matches!(v, Violation::OutOfStep { .. })) {
        return Err(OpenError::OutOfStep(format!("the server is out of step after CAPA ({v})")));
    }
    let capa_ok = r.is_ok();
    violations.extend(v);
    violations.extend(r.violations);
    let mut caps = capa_initial.clone();
    let upgrade = !conn.is_tls()
        && match policy {
            StlsPolicy::Never => false,
            StlsPolicy::Auto => capa_initial.has("STLS"),
            StlsPolicy::Always => true,
        };
    if upgrade {
        let r = stls(&mut conn).await?;
        violations.extend(r.violations.clone());
        if !r.is_ok() {
            return Err(OpenError::StlsRefused(r.text));
        }
        let (c, r, v) = capa(&mut conn).await?;
        violations.extend(v);
        violations.extend(r.violations);
        caps = c;
    }
    let mut opened =
        Opened { conn, greeting, timestamp, capa_initial, capa: caps, violations, logged_in: false, capa_ok };
    if login_wanted {
        opened.login(creds.ok_or(OpenError::NoCredentials)?).await?;
    }
    Ok(opened)
}

impl Opened {
    /// Logs in with USER/PASS, or AUTH PLAIN when USER is not offered but SASL PLAIN is. One
    /// attempt: [`open`] is what retries transient refusals.
    pub async fn login(&mut self, creds: &Credentials) -> Result<(), OpenError> {
        let method = if !self.capa.has("USER") && self.capa.has_sasl("PLAIN") {
            LoginMethod::SaslPlain
        } else {
            LoginMethod::UserPass
        };
        let outcome = login(&mut self.conn, creds, method, self.timestamp.as_deref()).await?;
        for s in &outcome.steps {
            self.violations.extend(s.violations.clone());
        }
        self.violations.extend(outcome.response.violations.clone());
        if !outcome.ok() {
            if let Some(v) = outcome.out_of_step() {
                return Err(OpenError::OutOfStep(format!(
                    "the server is out of step ({v}), so the refusal may answer an earlier command"
                )));
            }
            return Err(OpenError::LoginRefused { method: method.name(), text: outcome.response.text });
        }
        self.logged_in = true;
        Ok(())
    }
}

/// True for refusals worth a retry: the maildrop is locked, logins are rate-limited, or the
/// server is short of something (RFC 2449 §8.1, RFC 3206 §4).
pub fn is_transient(text: &str) -> bool {
    crate::proto::RespCode::parse_prefix(text)
        .is_some_and(|c| c.is("IN-USE") || c.is("LOGIN-DELAY") || c.is("SYS/TEMP"))
}
