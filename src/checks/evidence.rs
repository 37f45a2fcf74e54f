//! The evidence a check gathers: the sessions it opens from the [`CheckContext`] and the
//! transcript of each, kept in one list on the check's clock, each session headed by a note saying
//! what it was for. A session hands its transcript over when it ends, however it ends (QUIT,
//! dropped on purpose, or unwound by `?`), so a result always carries every connection it made.

use super::util::{brief, error, is_transient, require, show, skip, Finding, Step, NEEDS_CREDENTIALS};
use super::CheckContext;
use crate::net::session::{self, Credentials, LoginMethod, LoginOutcome, OpenError, StlsPolicy, LOGIN_RETRIES};
use crate::net::{Connection, NetError};
use crate::proto::listing::{self, ScanListing, UniqueIdListing};
use crate::proto::{Body, Capabilities, Command, Response, Violation};
use crate::transcript::{Direction, Entry};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

struct Log {
    start: Instant,
    entries: Vec<Entry>,
    sessions: usize,
}

/// The check's context plus the growing evidence: every session opened through it adds its
/// transcript when it ends. Cheap to clone (the log is shared).
#[derive(Clone)]
pub struct Evidence<'a> {
    pub ctx: &'a CheckContext,
    log: Arc<Mutex<Log>>,
}

impl<'a> Evidence<'a> {
    pub(super) fn new(ctx: &'a CheckContext) -> Self {
        Evidence { ctx, log: Arc::new(Mutex::new(Log { start: Instant::now(), entries: Vec::new(), sessions: 0 })) }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        lock(&self.log)
    }

    /// Takes the gathered transcript and the time since the check started (ms).
    pub(super) fn take(&self) -> (Vec<Entry>, f64) {
        let mut log = self.lock();
        let elapsed = log.start.elapsed().as_secs_f64() * 1000.0;
        (std::mem::take(&mut log.entries), elapsed)
    }

    /// Adds a tester's remark to the evidence.
    pub fn note(&self, text: impl Into<String>) {
        let mut log = self.lock();
        let t_ms = log.start.elapsed().as_secs_f64() * 1000.0;
        log.entries.push(Entry { t_ms, dir: Direction::Note, tls: false, text: text.into() });
    }

    /// The credentials, or a skip.
    pub fn creds(&self) -> Step<&'a Credentials> {
        self.ctx.creds.as_ref().ok_or_else(|| skip(NEEDS_CREDENTIALS))
    }

    fn begin(&self, purpose: &str) -> (String, f64) {
        let mut log = self.lock();
        log.sessions += 1;
        (format!("session {}: {purpose}", log.sessions), log.start.elapsed().as_secs_f64() * 1000.0)
    }

    /// Opens a session with [`session::open`]: greeting, CAPA, STLS per `policy`, and login when
    /// `login` is set (retrying `[IN-USE]`-style refusals within its bounded budget).
    pub async fn open(&self, purpose: &str, policy: StlsPolicy, login: bool) -> Result<Session, OpenError> {
        let (label, offset_ms) = self.begin(purpose);
        let ctx = self.ctx;
        match session::open(&ctx.target, &ctx.opts, ctx.creds.as_ref(), policy, login).await {
            Ok(o) => Ok(self.session(o, label, offset_ms)),
            Err(e) => {
                self.note(format!("{label}: {e}"));
                Err(e)
            }
        }
    }

    /// [`Evidence::login`] in UTF-8 mode where the server offers UTF8 (RFC 6856 §2.1): checks that
    /// read every message then get 8-bit mail as stored rather than `-ERR [UTF8]`, and §2.1 asks
    /// that "the octet count (size) of a message reported in a response to the "LIST" command
    /// SHOULD match the actual number of octets sent in a "RETR" response" in that mode too.
    pub async fn login_utf8(&self, purpose: &str) -> Step<Session> {
        let (label, offset_ms) = self.begin(purpose);
        let ctx = self.ctx;
        let creds = self.creds()?;
        let mut delay = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            let mut utf8 = false;
            let attempt_once = async {
                let mut o = session::open(&ctx.target, &ctx.opts, Some(creds), ctx.stls, false).await?;
                // Any UTF8 line, well-formed or not: judging it is rfc6856/utf8-capability-syntax's job.
                utf8 = o.capa.lines.iter().any(|l| l.to_ascii_uppercase().starts_with("UTF8"));
                if utf8 {
                    // Its status is not judged here (§2.1: "The server MAY respond ... with an -ERR").
                    o.conn.command(&Command::Utf8).await?;
                }
                o.login(creds).await.map(|_| o)
            };
            let outcome = attempt_once.await;
            match outcome {
                Ok(o) => return Ok(self.session(o, label, offset_ms)),
                Err(OpenError::LoginRefused { text, .. }) if utf8 && !session::is_transient(&text) => {
                    self.note(format!("{label}: the login after UTF8 was refused: {text}"));
                    // Without UTF8: refused again, the credentials are wrong (a tester error).
                    match session::open(&ctx.target, &ctx.opts, Some(creds), ctx.stls, true).await {
                        Ok(o) => drop(o.conn.close(true).await),
                        Err(e) => return Err(e.into()),
                    }
                    return Err(skip(format!(
                        "the server refused the test account's login after UTF8 ({text}): \
                         rfc6856/utf8-then-login reports that; this check needs UTF-8 mode to read every message"
                    )));
                }
                Err(OpenError::LoginRefused { text, .. })
                    if attempt < LOGIN_RETRIES && session::is_transient(&text) =>
                {
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    self.note(format!("{label}: {e}"));
                    return Err(e.into());
                }
            }
        }
    }

    fn session(&self, o: session::Opened, label: String, offset_ms: f64) -> Session {
        Session {
            conn: Some(o.conn),
            greeting: o.greeting,
            timestamp: o.timestamp,
            capa_initial: o.capa_initial,
            capa: o.capa,
            violations: o.violations,
            seen_working: seen_working(self.ctx),
            label,
            log: self.log.clone(),
            offset_ms,
        }
    }

    /// A logged-in session as the user asked for it (their STLS policy).
    pub async fn login(&self, purpose: &str) -> Step<Session> {
        Ok(self.open(purpose, self.ctx.stls, true).await?)
    }

    /// A session in AUTHORIZATION state: greeting and CAPA read, upgraded per the user's policy.
    pub async fn connect(&self, purpose: &str) -> Step<Session> {
        Ok(self.open(purpose, self.ctx.stls, false).await?)
    }

    /// Only the connection (TLS for `pop3s`) and the greeting: no CAPA, no STLS.
    pub async fn greet(&self, purpose: &str) -> Step<Session> {
        let (label, offset_ms) = self.begin(purpose);
        let (conn, greeting) = match session::connect_greeted(&self.ctx.target, &self.ctx.opts).await {
            Ok((c, g)) => {
                let ts = crate::proto::apop::greeting_timestamp(&g.text).map(str::to_string);
                (c, Ok((g, ts)))
            }
            Err(e) => {
                self.note(format!("{label}: {e}"));
                return Err(e.into());
            }
        };
        let mut s = Session {
            conn: Some(conn),
            greeting: Response {
                status: crate::proto::Status::Unknown,
                code: None,
                text: String::new(),
                body: None,
                violations: Vec::new(),
                wire_len: 0,
            },
            timestamp: None,
            capa_initial: Capabilities::default(),
            capa: Capabilities::default(),
            violations: Vec::new(),
            seen_working: seen_working(self.ctx),
            label,
            log: self.log.clone(),
            offset_ms,
        };
        let (greeting, timestamp) = greeting.map_err(|e| s.net_error(e, "the greeting"))?;
        s.violations = greeting.violations.clone();
        s.greeting = greeting;
        s.timestamp = timestamp;
        Ok(s)
    }

    /// Connects (per the user's STLS policy) and logs in with `method`, returning the session and
    /// the outcome whether or not the login succeeded. Refusals that say "try again soon"
    /// (`[IN-USE]`, `[LOGIN-DELAY]`, `[SYS/TEMP]`) are retried on a fresh connection within
    /// [`LOGIN_RETRIES`], with doubling backoff from 100 ms: a previous session's lock may take a
    /// moment to go.
    pub async fn login_with(&self, purpose: &str, method: LoginMethod) -> Step<(Session, LoginOutcome)> {
        self.login_with_secret(purpose, method, None).await
    }

    /// [`Evidence::login_with`], with `secret` in place of the password when given (an APOP
    /// secret that is not the login password).
    pub async fn login_with_secret(
        &self,
        purpose: &str,
        method: LoginMethod,
        secret: Option<&crate::net::session::Secret>,
    ) -> Step<(Session, LoginOutcome)> {
        let base = self.creds()?;
        let replaced = secret.map(|s| Credentials { user: base.user.clone(), password: s.clone() });
        let creds = replaced.as_ref().unwrap_or(base);
        let mut delay = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            let mut s = self.connect(purpose).await?;
            let ts = s.timestamp.clone();
            let outcome = match session::login(s.conn(), creds, method, ts.as_deref()).await {
                Ok(o) => o,
                Err(e) => return Err(s.net_error(e, method.name())),
            };
            if outcome.ok() || !is_transient(&outcome.response) || attempt >= LOGIN_RETRIES {
                return Ok((s, outcome));
            }
            s.close().await;
            attempt += 1;
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
}

/// The optional commands the probe saw answered `+OK` (see [`crate::inventory::Inventory`]).
fn seen_working(ctx: &CheckContext) -> Vec<&'static str> {
    use crate::inventory::Support;
    let inv = &ctx.inventory;
    let mut v = Vec::new();
    if inv.top == Support::Yes {
        v.push("TOP");
    }
    if inv.uidl == Support::Yes {
        v.push("UIDL");
    }
    if inv.user == Support::Yes {
        v.push("USER");
    }
    v
}

fn lock(log: &Mutex<Log>) -> MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a session ends without QUIT (RFC 1939 §6: such a session must not enter UPDATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    /// Close our side cleanly but without QUIT: TLS close_notify then FIN, or FIN in cleartext.
    CloseWithoutQuit,
    /// Drop the socket: FIN without a TLS close_notify.
    Drop,
    /// Reset the TCP connection (RST, SO_LINGER 0). Cleartext only; TLS sessions fall back to
    /// [`Abort::Drop`].
    Reset,
}

/// One connection opened for a check. Its transcript goes to the check's evidence when it ends.
pub struct Session {
    /// Always `Some` while the session is alive; taken when it ends.
    conn: Option<Connection>,
    pub greeting: Response,
    /// The greeting's APOP timestamp.
    pub timestamp: Option<String>,
    /// CAPA as first seen (before TLS on a plain target); empty when CAPA was not asked.
    pub capa_initial: Capabilities,
    /// CAPA in AUTHORIZATION after the STLS upgrade (if any), before login.
    pub capa: Capabilities,
    /// Violations seen while opening (greeting, CAPA, login replies).
    pub violations: Vec<Violation>,
    /// Capability tags the run's probe saw working although CAPA does not list them (TOP and
    /// UIDL on a server without CAPA): RFC 1939's optional commands exist without RFC 2449.
    seen_working: Vec<&'static str>,
    label: String,
    log: Arc<Mutex<Log>>,
    offset_ms: f64,
}

impl Session {
    /// The connection, for exchanges the helpers below do not cover.
    pub fn conn(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("a live session always holds its connection")
    }

    pub fn is_tls(&mut self) -> bool {
        self.conn().is_tls()
    }

    /// Adds a remark to this session's transcript.
    pub fn note(&mut self, text: impl Into<String>) {
        self.conn().note(text);
    }

    /// An `error` finding for a connection problem during `what`.
    pub fn net_error(&self, e: NetError, what: &str) -> Finding {
        error(format!("{}: no usable reply to {what}: {e}", self.label))
    }

    /// True when bytes beyond the last reply are already waiting: the server sent more than it
    /// should have (e.g. the rest of a message whose unstuffed `.` line ended the reply early),
    /// so later replies on this connection cannot be trusted.
    pub fn has_stray_data(&mut self) -> bool {
        !self.conn().buffered().is_empty()
    }

    /// Sends a command and reads its reply; connection problems end the check as `error`.
    pub async fn cmd(&mut self, cmd: &Command) -> Step<Response> {
        match self.conn().command(cmd).await {
            Ok(r) => Ok(r),
            Err(e) => Err(self.net_error(e, &format!("`{}`", show(cmd)))),
        }
    }

    /// Like [`Session::cmd`], and a `-ERR` ends the check as `error`: the check needs this
    /// command to succeed to set up what it tests.
    pub async fn ok(&mut self, cmd: &Command) -> Step<Response> {
        let r = self.cmd(cmd).await?;
        if r.is_ok() {
            Ok(r)
        } else {
            Err(error(format!(
                "{}: `{}` answered {}; the check cannot go on without it",
                self.label,
                show(cmd),
                brief(&r)
            )))
        }
    }

    /// STAT as (messages, octets). A malformed reply is an `error` here; the STAT check itself
    /// parses its reply as a subject.
    pub async fn stat(&mut self) -> Step<(u64, u64)> {
        let r = self.ok(&Command::Stat).await?;
        listing::parse_stat(&r.text).map_err(|v| error(format!("{}: {v}", self.label)))
    }

    /// The scan listing of `LIST`; malformed lines are an `error` (the check needs the listing).
    pub async fn list(&mut self) -> Step<Vec<ScanListing>> {
        let r = self.ok(&Command::List(None)).await?;
        let (l, v) = listing::scan_listings(r.body.as_ref().unwrap_or(&Body::default()));
        match v.first() {
            None => Ok(l),
            Some(v) => Err(error(format!("{}: LIST: {v}", self.label))),
        }
    }

    /// The unique-id listing of `UIDL` and the violations in it (for the format check to report).
    pub async fn uidl(&mut self) -> Step<(Vec<UniqueIdListing>, Vec<Violation>)> {
        let r = self.ok(&Command::Uidl(None)).await?;
        Ok(listing::unique_id_listings(r.body.as_ref().unwrap_or(&Body::default())))
    }

    /// The message `RETR n` returns, byte-stuffing undone.
    pub async fn retr(&mut self, n: u64) -> Step<Body> {
        let r = self.ok(&Command::Retr(n)).await?;
        Ok(r.body.unwrap_or_default())
    }

    /// This session when its CAPA (AUTHORIZATION, after any STLS) lists `tag`; otherwise it is
    /// closed with QUIT and the skip is returned.
    pub async fn requiring(self, tag: &str) -> Step<Session> {
        if self.seen_working.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            return Ok(self);
        }
        match require(&self.capa, tag) {
            Ok(()) => Ok(self),
            Err(f) => {
                self.close().await;
                Err(f)
            }
        }
    }

    /// QUIT and close; returns the reply to QUIT (for UPDATE-state checks).
    pub async fn quit(mut self) -> Step<Response> {
        let r = self.cmd(&Command::Quit).await;
        let conn = self.conn.take().expect("a live session always holds its connection");
        let mut t = conn.close(false).await;
        self.flush(t.take());
        r
    }

    /// QUIT (when the connection is still up) and close; the reply does not matter.
    pub async fn close(mut self) {
        let conn = self.conn.take().expect("a live session always holds its connection");
        let mut t = conn.close(true).await;
        self.flush(t.take());
    }

    /// Closes a session whose end the check already brought about (a pipelined QUIT, a server
    /// that hung up): no QUIT is sent.
    pub async fn hang_up(mut self) {
        let conn = self.conn.take().expect("a live session always holds its connection");
        let mut t = conn.close(false).await;
        self.flush(t.take());
    }

    /// Ends the session without QUIT, the way `how` says.
    pub async fn abort(mut self, how: Abort) {
        let mut conn = self.conn.take().expect("a live session always holds its connection");
        let tls = conn.is_tls();
        match (how, tls) {
            (Abort::CloseWithoutQuit, _) => {
                conn.note("closing without QUIT");
                let mut t = conn.close(false).await;
                self.flush(t.take());
            }
            (Abort::Reset, false) => {
                conn.note("resetting the connection (RST) without QUIT");
                match conn.into_plain() {
                    Ok((tcp, _, mut t)) => {
                        self.flush(t.take());
                        if let Ok(std) = tcp.into_std() {
                            // SO_LINGER 0 turns the close into a RST. Setting it on the std
                            // socket that is dropped right away does not block any thread.
                            let _ = socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO));
                        }
                    }
                    Err(_) => self.note_log("could not reset the connection"),
                }
            }
            (Abort::Drop, _) | (Abort::Reset, true) => {
                conn.note(if tls {
                    "dropping the connection without QUIT and without TLS close_notify"
                } else {
                    "dropping the connection without QUIT"
                });
                let t = conn.transcript_mut().take();
                drop(conn);
                self.flush(t);
            }
        }
    }

    fn note_log(&self, text: &str) {
        let mut log = lock(&self.log);
        let t_ms = log.start.elapsed().as_secs_f64() * 1000.0;
        log.entries.push(Entry { t_ms, dir: Direction::Note, tls: false, text: format!("{}: {text}", self.label) });
    }

    /// Moves this session's entries into the check's evidence, on the check's clock.
    fn flush(&self, entries: Vec<Entry>) {
        let mut log = lock(&self.log);
        log.entries.push(Entry { t_ms: self.offset_ms, dir: Direction::Note, tls: false, text: self.label.clone() });
        log.entries.extend(entries.into_iter().map(|mut e| {
            e.t_ms += self.offset_ms;
            e
        }));
    }
}

impl Drop for Session {
    /// A session unwound by `?` or dropped on purpose still leaves its evidence.
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let t = conn.transcript_mut().take();
            self.flush(t);
        }
    }
}
