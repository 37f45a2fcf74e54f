//! One POP3 session of the reference server, sans-IO: bytes in ([`Session::feed`]), reply bytes
//! and the next I/O step out ([`Session::poll`]). No sockets, no TLS, no clock beyond the greeting
//! timestamp, so every command in every state is unit-tested on byte literals.
//!
//! Lines are parsed with [`proto::Command::parse`] (no second parser), admitted per state with
//! [`proto::state::permitted`], and bodies encoded with [`proto::stuffing`]. Input is buffered up
//! to [`MAX_LINE`] octets: a longer line is answered `-ERR line too long` once, without echo, and
//! the rest of it is discarded as it arrives, so the buffer never grows with what a client sends.
//! Pipelined lines (RFC 2449 §6.6) are all answered, in order, in batches of about [`OUT_BATCH`].

use super::defects::{Defect, DefectSet};
use super::maildrop::{Lease, Message, Store};
use super::sasl;
use crate::proto::state::permitted;
use crate::proto::{apop, stuffing, Command, CommandError, SessionState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Longest command line accepted, CRLF included. RFC 2449 §4 requires 255; four times that
/// leaves room for SASL PLAIN responses with long passwords while keeping what a client can make
/// the server buffer at 1 KiB per connection.
pub const MAX_LINE: usize = 1024;
/// Replies to pipelined commands are written in batches of at least this many octets (or
/// whatever is left), so a client pipelining a thousand RETRs cannot make one batch huge.
pub const OUT_BATCH: usize = 64 * 1024;
/// `crash-on-long-line`: lines longer than this reset the connection.
const CRASH_LINE: usize = 300;
/// `close-after-errors`: consecutive `-ERR` replies before the server hangs up.
const MAX_ERRORS: u32 = 3;
/// `apop-static-timestamp`: RFC 1939 §7's own example, the same on every connection.
const STATIC_TIMESTAMP: &str = "<1896.697170952@pop3test>";

/// Process-wide connection counter: makes greeting timestamps unique even across servers.
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// What the server shares with its sessions: the login policy, the users, the maildrops.
pub struct Shared {
    pub defects: DefectSet,
    /// Allow logins before TLS (and advertise USER / SASL PLAIN LOGIN there).
    pub allow_cleartext: bool,
    /// `(name, password)` pairs.
    pub users: Vec<(String, String)>,
    pub store: Arc<Store>,
    /// Whether STLS can be offered (the server has a certificate).
    pub stls: bool,
}

impl Shared {
    fn password(&self, user: &str) -> Option<&str> {
        self.users.iter().find(|(u, _)| u == user).map(|(_, p)| p.as_str())
    }
}

/// What the I/O driver must do after [`Session::poll`]. The bytes to write come first, always.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Every complete line is answered: read more input.
    Read,
    /// The reply batch is full: write it and poll again before reading.
    More,
    /// Write the `+OK`, then run the TLS handshake and call [`Session::tls_started`].
    StartTls,
    /// Write, then close the connection.
    Close,
    /// Reset the connection without writing anything more (`crash-on-long-line`).
    Reset,
    /// Stop answering; keep the socket open and discard input (`hang-on-bad-arg`).
    Hang,
}

/// Where an AUTH exchange is, while the server waits for the client's next line.
enum Sasl {
    Plain,
    LoginUser,
    LoginPassword(String),
}

/// The TRANSACTION state: the lock, the session's snapshot and its deletion marks.
struct Txn {
    lease: Lease,
    msgs: Vec<Message>,
    deleted: Vec<bool>,
}

enum Lookup {
    Live(usize),
    Deleted(usize),
    Missing,
}

enum Line {
    Complete(Vec<u8>),
    TooLong,
}

/// One connection's POP3 state machine.
pub struct Session {
    shared: Arc<Shared>,
    state: SessionState,
    tls: bool,
    /// Connection number (process-wide), used by the APOP timestamp and `uidl-unstable`.
    id: u64,
    timestamp: String,
    /// Set by a successful USER; taken by the very next line (PASS must follow directly).
    pending_user: Option<String>,
    sasl: Option<Sasl>,
    txn: Option<Txn>,
    inbuf: Vec<u8>,
    /// Start of unread input in `inbuf`.
    pos: usize,
    /// Inside an over-long line that was already answered: drop input up to the next LF.
    discarding: bool,
    consecutive_errors: u32,
    closing: bool,
    hung: bool,
}

impl Session {
    /// A new session in AUTHORIZATION; `tls` is true on the implicit-TLS port.
    pub fn new(shared: Arc<Shared>, tls: bool) -> Session {
        let id = CONNECTIONS.fetch_add(1, Ordering::Relaxed) + 1;
        let timestamp = if shared.defects.has(Defect::ApopStaticTimestamp) {
            STATIC_TIMESTAMP.to_string()
        } else {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            format!("<{}.{id}.{nanos}@pop3test>", std::process::id())
        };
        Session {
            shared,
            state: SessionState::Authorization,
            tls,
            id,
            timestamp,
            pending_user: None,
            sasl: None,
            txn: None,
            inbuf: Vec::with_capacity(256),
            pos: 0,
            discarding: false,
            consecutive_errors: 0,
            closing: false,
            hung: false,
        }
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The APOP timestamp of this session's greeting, angle brackets included.
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The greeting (RFC 1939 §4), with the APOP timestamp (§7).
    pub fn greeting(&self, out: &mut Vec<u8>) {
        let status = if self.has(Defect::LowercaseStatus) { "+ok" } else { "+OK" };
        let mut text = format!("{status} POP3 server ready ");
        if self.has(Defect::GreetingTooLong) {
            text.push_str(&"(this greeting is padded beyond the 512-octet limit) ".repeat(12));
        }
        text.push_str(&self.timestamp);
        self.line(out, &text);
    }

    /// Appends received bytes. Call [`Session::poll`] after each call: the buffer stays bounded
    /// only because poll consumes every complete line and discards over-long ones.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.hung {
            return;
        }
        if self.pos > 0 {
            self.inbuf.drain(..self.pos);
            self.pos = 0;
        }
        self.inbuf.extend_from_slice(bytes);
    }

    /// Answers buffered complete lines, appending the replies to `out`, until input runs out, the
    /// batch is full, or the connection must change (TLS, close, ...).
    pub fn poll(&mut self, out: &mut Vec<u8>) -> Step {
        loop {
            if self.hung {
                return Step::Hang;
            }
            if self.closing {
                return Step::Close;
            }
            if out.len() >= OUT_BATCH {
                return Step::More;
            }
            let step = match self.next_line() {
                None => return Step::Read,
                Some(Line::TooLong) => self.too_long(out),
                Some(Line::Complete(line)) => self.handle_line(&line, out),
            };
            // `Read` from a handler means "carry on with the next line".
            if step != Step::Read {
                return step;
            }
        }
    }

    /// [`feed`](Session::feed) then [`poll`](Session::poll) until the session wants input or
    /// the connection must change: the whole reply to `input` and that step (for tests).
    pub fn exchange(&mut self, input: &[u8]) -> (Vec<u8>, Step) {
        self.feed(input);
        let (mut all, mut batch) = (Vec::new(), Vec::new());
        loop {
            let step = self.poll(&mut batch);
            all.append(&mut batch);
            if step != Step::More {
                return (all, step);
            }
        }
    }

    /// The TLS handshake after STLS succeeded: the session is now protected, still in the state
    /// it was in (RFC 2595 §4: AUTHORIZATION).
    pub fn tls_started(&mut self) {
        self.tls = true;
    }

    /// The connection ended without QUIT (client gone, autologout, shutdown): RFC 1939 §6, no
    /// UPDATE state, nothing is removed. The lock goes with the session.
    pub fn connection_lost(&mut self) {
        if let Some(txn) = self.txn.take() {
            if self.has(Defect::AbortCommits) {
                let _ = txn.lease.commit(&doomed(&txn));
            }
        }
        self.state = SessionState::Closed;
    }

    fn has(&self, d: Defect) -> bool {
        self.shared.defects.has(d)
    }

    fn next_line(&mut self) -> Option<Line> {
        loop {
            let avail = &self.inbuf[self.pos..];
            match memchr::memchr(b'\n', avail) {
                Some(i) => {
                    let start = self.pos;
                    self.pos += i + 1;
                    if self.discarding {
                        // The tail of an over-long line that was already answered.
                        self.discarding = false;
                        continue;
                    }
                    if i + 1 > MAX_LINE {
                        return Some(Line::TooLong);
                    }
                    return Some(Line::Complete(self.inbuf[start..self.pos].to_vec()));
                }
                None => {
                    let too_long = !self.discarding && avail.len() > MAX_LINE;
                    if self.discarding || too_long {
                        self.inbuf.clear();
                        self.pos = 0;
                    }
                    if too_long {
                        // Answer now rather than when the line ends: a client streaming junk
                        // learns at once, and nothing of it is kept.
                        self.discarding = true;
                        return Some(Line::TooLong);
                    }
                    return None;
                }
            }
        }
    }

    fn too_long(&mut self, out: &mut Vec<u8>) -> Step {
        if self.has(Defect::CrashOnLongLine) {
            return Step::Reset;
        }
        self.sasl = None;
        self.pending_user = None;
        self.err(out, None, "line too long");
        Step::Read
    }

    fn handle_line(&mut self, raw: &[u8], out: &mut Vec<u8>) -> Step {
        if self.has(Defect::CrashOnLongLine) && raw.len() > CRASH_LINE {
            return Step::Reset;
        }
        if let Some(step) = self.sasl.take() {
            return match Command::parse(raw, true) {
                Ok(Command::AuthResponse(data)) => self.sasl_response(step, &data, out),
                _ => self.err(out, None, "invalid base64"),
            };
        }
        if self.has(Defect::HangOnBadArg) && hang_trigger(raw) {
            self.hung = true;
            self.inbuf.clear();
            self.pos = 0;
            return Step::Hang;
        }
        let pending = self.pending_user.take();
        let cmd = match Command::parse(raw, false) {
            Ok(cmd) => cmd,
            Err(e) => match lenient(raw, &e).filter(|_| self.has(Defect::LenientArgs)) {
                Some(cmd) => cmd,
                None => return self.parse_error(raw, &e, out),
            },
        };
        if !permitted(&cmd, self.state) {
            return self.wrong_state(&cmd, out);
        }
        match self.state {
            SessionState::Authorization => self.authorization(cmd, pending, out),
            SessionState::Transaction => self.transaction(cmd, out),
            SessionState::Update | SessionState::Closed => self.err(out, None, "session is over"),
        }
    }

    fn parse_error(&mut self, raw: &[u8], e: &CommandError, out: &mut Vec<u8>) -> Step {
        if self.has(Defect::LongErrorEcho) {
            let echo = String::from_utf8_lossy(raw.strip_suffix(b"\n").unwrap_or(raw)).trim_end().to_string();
            return self.err(out, None, &format!("{e}: {echo}"));
        }
        // Never echo the client's line: the reply stays short whatever was sent (1939-response-length).
        self.err(out, None, &e.to_string())
    }

    fn wrong_state(&mut self, cmd: &Command, out: &mut Vec<u8>) -> Step {
        let authz = self.state == SessionState::Authorization;
        if *cmd == Command::Stls && !authz && self.has(Defect::StlsAfterLogin) && !self.tls && self.shared.stls {
            return self.start_tls(out);
        }
        if authz && self.has(Defect::WrongStateOk) {
            return match cmd {
                Command::Stat => self.ok(out, "0 0"),
                Command::List(None) | Command::Uidl(None) | Command::Retr(_) | Command::Top(..) => {
                    self.ok(out, "");
                    self.end(out);
                    Step::Read
                }
                _ => self.ok(out, ""),
            };
        }
        self.err(out, None, "command not valid in this state")
    }

    // ---- AUTHORIZATION (RFC 1939 §4, §7; RFC 2595; RFC 5034) ----

    /// Logins are advertised (CAPA USER, SASL) only where they are allowed: under TLS, or with
    /// `--allow-cleartext` (RFC 8314 posture; 2595-cleartext-configurable).
    fn login_advertised(&self) -> bool {
        self.tls || self.shared.allow_cleartext
    }

    fn login_allowed(&self) -> bool {
        self.login_advertised() || self.has(Defect::CleartextLogin)
    }

    fn authorization(&mut self, cmd: Command, pending: Option<String>, out: &mut Vec<u8>) -> Step {
        match cmd {
            Command::Capa => self.capa(out),
            Command::Quit => {
                self.ok(out, "pop3test signing off");
                self.state = SessionState::Closed;
                Step::Close
            }
            Command::Stls => self.stls(out),
            Command::User(name) => {
                if !self.login_allowed() {
                    return self.refuse_cleartext(out);
                }
                if pending.is_some() {
                    // RFC 1939 §7: USER only after the greeting or a failed USER/PASS.
                    return self.err(out, None, "USER already given: send PASS");
                }
                if self.has(Defect::UserEnumeration) && self.shared.password(&name).is_none() {
                    return self.err(out, Some("AUTH"), "no such user");
                }
                self.pending_user = Some(name);
                self.ok(out, "send PASS")
            }
            Command::Pass(password) => match pending {
                None => self.err(out, None, "PASS must directly follow a successful USER"),
                Some(user) => self.check_login(&user, &password, out),
            },
            Command::Apop { name, digest } => {
                // APOP is MD5 over a secret the server keeps in the clear: as weak as cleartext.
                if !self.login_allowed() {
                    return self.refuse_cleartext(out);
                }
                let good = self.shared.password(&name).is_some_and(|pw| apop::digest(&self.timestamp, pw) == digest);
                if good {
                    self.enter_transaction(&name, out)
                } else {
                    self.auth_failed(out)
                }
            }
            Command::Auth { mechanism, initial_response } => self.auth(mechanism, initial_response, out),
            _ => self.err(out, None, "not supported"),
        }
    }

    fn refuse_cleartext(&mut self, out: &mut Vec<u8>) -> Step {
        self.err(out, Some("AUTH"), "cleartext login disallowed before TLS: use STLS first")
    }

    fn auth_failed(&mut self, out: &mut Vec<u8>) -> Step {
        let code = if self.has(Defect::NoAuthCode) { None } else { Some("AUTH") };
        self.err(out, code, "invalid user name or password")
    }

    fn check_login(&mut self, user: &str, password: &str, out: &mut Vec<u8>) -> Step {
        if self.shared.password(user) == Some(password) {
            self.enter_transaction(user, out)
        } else {
            self.auth_failed(out)
        }
    }

    /// Credentials are good: lock the maildrop (RFC 1939 §4) and enter TRANSACTION.
    fn enter_transaction(&mut self, user: &str, out: &mut Vec<u8>) -> Step {
        let exclusive = !self.has(Defect::NoLock);
        let lease = match self.shared.store.acquire(user, exclusive) {
            Ok(lease) => lease,
            Err(_) => return self.err(out, Some("IN-USE"), "maildrop already locked: is another session active?"),
        };
        let msgs = match lease.load() {
            Ok(msgs) => msgs,
            Err(_) => return self.err(out, Some("SYS/TEMP"), "cannot open the maildrop, try again later"),
        };
        self.txn = Some(Txn { deleted: vec![false; msgs.len()], msgs, lease });
        self.state = SessionState::Transaction;
        if self.has(Defect::PipeliningDrop) {
            self.inbuf.clear();
            self.pos = 0;
        }
        self.ok(out, "maildrop locked and ready")
    }

    fn stls(&mut self, out: &mut Vec<u8>) -> Step {
        if self.tls {
            if self.has(Defect::StlsTwice) {
                return self.ok(out, "Begin TLS negotiation");
            }
            return self.err(out, None, "TLS is already active");
        }
        if !self.shared.stls {
            return self.err(out, None, "STLS not available");
        }
        self.start_tls(out)
    }

    /// RFC 2595 §4: TLS starts right after the CRLF of `+OK`, and plaintext the client sent
    /// after STLS is discarded: it was never protected, so it must never run inside TLS.
    fn start_tls(&mut self, out: &mut Vec<u8>) -> Step {
        self.ok(out, "Begin TLS negotiation");
        if self.has(Defect::PlaintextAfterStlsOk) {
            self.line(out, "+OK ready to start TLS");
        }
        if !self.has(Defect::StlsInjection) {
            self.inbuf.clear();
            self.pos = 0;
            self.discarding = false;
        }
        self.pending_user = None;
        Step::StartTls
    }

    fn auth(&mut self, mechanism: Option<String>, initial: Option<String>, out: &mut Vec<u8>) -> Step {
        let Some(mechanism) = mechanism else {
            // The RFC 1734 form: list the mechanisms (those offered here and now).
            self.ok(out, "SASL mechanisms follow");
            if self.login_advertised() {
                self.line(out, "PLAIN");
                self.line(out, "LOGIN");
            }
            self.end(out);
            return Step::Read;
        };
        let step = match mechanism.as_str() {
            "PLAIN" => Sasl::Plain,
            "LOGIN" => Sasl::LoginUser,
            _ => return self.err(out, None, "unsupported SASL mechanism"),
        };
        if !self.login_allowed() {
            return self.refuse_cleartext(out);
        }
        match (initial, step) {
            (Some(data), step) => self.sasl_response(step, &data, out),
            (None, Sasl::LoginUser) => self.challenge(Sasl::LoginUser, sasl::LOGIN_USER_PROMPT, out),
            (None, step) => self.challenge(step, "", out),
        }
    }

    fn challenge(&mut self, next: Sasl, data: &str, out: &mut Vec<u8>) -> Step {
        self.sasl = Some(next);
        self.line(out, &format!("+ {data}"));
        Step::Read
    }

    fn sasl_response(&mut self, step: Sasl, data: &str, out: &mut Vec<u8>) -> Step {
        if data == "*" {
            return self.err(out, None, "authentication cancelled");
        }
        let Ok(bytes) = sasl::decode(data) else {
            return self.err(out, None, "invalid base64");
        };
        match step {
            Sasl::Plain => match sasl::parse_plain(&bytes) {
                Some((user, password)) => self.check_login(&user, &password, out),
                None => self.auth_failed(out),
            },
            Sasl::LoginUser => match String::from_utf8(bytes) {
                Ok(user) => self.challenge(Sasl::LoginPassword(user), sasl::LOGIN_PASSWORD_PROMPT, out),
                Err(_) => self.auth_failed(out),
            },
            Sasl::LoginPassword(user) => match String::from_utf8(bytes) {
                Ok(password) => self.check_login(&user, &password, out),
                Err(_) => self.auth_failed(out),
            },
        }
    }

    /// CAPA (RFC 2449 §5): what is available here and now. STLS only before TLS (RFC 2595 §4);
    /// USER and SASL only where logins are allowed; neither after login.
    fn capa(&mut self, out: &mut Vec<u8>) -> Step {
        if self.has(Defect::NoCapa) {
            return self.err(out, None, "unknown command");
        }
        let authz = self.state == SessionState::Authorization;
        let mut caps: Vec<String> = Vec::new();
        if authz && self.shared.stls && (!self.tls || self.has(Defect::StlsReadvertised)) {
            caps.push("STLS".into());
        }
        if authz && self.login_advertised() {
            caps.push("USER".into());
            caps.push("SASL PLAIN LOGIN".into());
        }
        let expire = if self.has(Defect::ExpireMalformed) { "EXPIRENEVER" } else { "EXPIRE NEVER" };
        for c in ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", expire, "LOGIN-DELAY 0"] {
            caps.push(c.into());
        }
        caps.push(format!("IMPLEMENTATION pop3test-{}", env!("CARGO_PKG_VERSION")));
        self.ok(out, "Capability list follows");
        for c in &caps {
            self.line(out, c);
        }
        self.end(out);
        Step::Read
    }

    // ---- TRANSACTION (RFC 1939 §5, §7) and UPDATE (§6) ----

    fn transaction(&mut self, cmd: Command, out: &mut Vec<u8>) -> Step {
        match cmd {
            Command::Stat => {
                let counts_deleted = self.has(Defect::StatCountsDeleted);
                let rows = self.rows(counts_deleted);
                let size: usize = rows.iter().map(|r| r.1).sum();
                self.ok(out, &format!("{} {size}", rows.len()))
            }
            Command::List(None) => {
                let rows = self.rows(self.has(Defect::DeletedStillListed));
                let size: usize = rows.iter().map(|r| r.1).sum();
                self.ok(out, &format!("{} messages ({size} octets)", rows.len()));
                for (n, size) in rows {
                    self.line(out, &format!("{n} {size}"));
                }
                self.end(out);
                Step::Read
            }
            Command::List(Some(n)) => match self.lookup(n) {
                Lookup::Live(i) => self.ok(out, &format!("{} {}", i + 1, self.listed_size(i))),
                Lookup::Deleted(i) if self.has(Defect::DeletedStillListed) => {
                    self.ok(out, &format!("{} {}", i + 1, self.listed_size(i)))
                }
                _ => self.no_such_message(out),
            },
            Command::Retr(n) => match self.lookup(n) {
                Lookup::Live(i) => {
                    let data = Arc::clone(&self.txn().msgs[i].data);
                    self.ok(out, &format!("{} octets", data.len()));
                    self.body(&data, out)
                }
                _ => self.no_such_message(out),
            },
            Command::Top(n, lines) => {
                if self.has(Defect::CapaLies) {
                    return self.err(out, None, "command not implemented");
                }
                match self.lookup(n) {
                    Lookup::Live(i) => {
                        let data = Arc::clone(&self.txn().msgs[i].data);
                        self.ok(out, "top of message follows");
                        self.body(top(&data, lines), out)
                    }
                    _ => self.no_such_message(out),
                }
            }
            Command::Dele(n) => match self.lookup(n) {
                Lookup::Live(i) => {
                    self.txn_mut().deleted[i] = true;
                    self.ok(out, &format!("message {} deleted", i + 1))
                }
                Lookup::Deleted(i) if self.has(Defect::DeleTwiceOk) => {
                    self.ok(out, &format!("message {} deleted", i + 1))
                }
                Lookup::Deleted(_) => self.err(out, None, "message already deleted"),
                Lookup::Missing => self.no_such_message(out),
            },
            Command::Noop => self.ok(out, ""),
            Command::Rset => {
                if !self.has(Defect::RsetNoop) {
                    self.txn_mut().deleted.iter_mut().for_each(|d| *d = false);
                }
                let rows = self.rows(false);
                let size: usize = rows.iter().map(|r| r.1).sum();
                self.ok(out, &format!("maildrop has {} messages ({size} octets)", rows.len()))
            }
            Command::Uidl(arg) => {
                if self.has(Defect::CapaLies) {
                    return self.err(out, None, "command not implemented");
                }
                match arg {
                    None => {
                        let rows: Vec<String> =
                            self.rows(false).iter().map(|&(n, _)| format!("{n} {}", self.uid(n - 1))).collect();
                        self.ok(out, "unique-id listing follows");
                        for r in rows {
                            self.line(out, &r);
                        }
                        self.end(out);
                        Step::Read
                    }
                    Some(n) => match self.lookup(n) {
                        Lookup::Live(i) => self.ok(out, &format!("{} {}", i + 1, self.uid(i))),
                        _ => self.no_such_message(out),
                    },
                }
            }
            Command::Capa => self.capa(out),
            Command::Quit => self.update(out),
            _ => self.err(out, None, "not supported"),
        }
    }

    /// QUIT from TRANSACTION: the UPDATE state removes the marked messages (RFC 1939 §6), then
    /// the lock is released and the connection closed.
    fn update(&mut self, out: &mut Vec<u8>) -> Step {
        let Some(txn) = self.txn.take() else {
            return self.err(out, None, "session is over");
        };
        self.state = SessionState::Update;
        let doomed = doomed(&txn);
        let left = txn.msgs.len() - doomed.len();
        match txn.lease.commit(&doomed) {
            Ok(()) => self.ok(out, &format!("pop3test signing off ({left} messages left)")),
            Err(_) => self.err(out, Some("SYS/TEMP"), "some deleted messages could not be removed"),
        };
        // `txn` (and with it the lock) goes here, before the driver closes the connection.
        self.state = SessionState::Closed;
        Step::Close
    }

    fn txn(&self) -> &Txn {
        self.txn.as_ref().expect("TRANSACTION state has a maildrop")
    }

    fn txn_mut(&mut self) -> &mut Txn {
        self.txn.as_mut().expect("TRANSACTION state has a maildrop")
    }

    /// Message `n` (1-based) of the session's snapshot.
    fn lookup(&self, n: u64) -> Lookup {
        let txn = self.txn();
        let n = if self.has(Defect::NumberWrap) { n & 0xFFFF_FFFF } else { n };
        if n == 0 || n > txn.msgs.len() as u64 {
            return Lookup::Missing;
        }
        let i = (n - 1) as usize;
        if txn.deleted[i] {
            Lookup::Deleted(i)
        } else {
            Lookup::Live(i)
        }
    }

    /// `(message number, listed size)` of every message not marked deleted (all with
    /// `include_deleted`).
    fn rows(&self, include_deleted: bool) -> Vec<(usize, usize)> {
        let txn = self.txn();
        (0..txn.msgs.len())
            .filter(|&i| include_deleted || !txn.deleted[i])
            .map(|i| (i + 1, self.listed_size(i)))
            .collect()
    }

    /// The size LIST and STAT report: the exact octet count (RFC 1939 §11), or with
    /// `wrong-octets` the LF-only count.
    fn listed_size(&self, i: usize) -> usize {
        let data = &self.txn().msgs[i].data;
        if self.has(Defect::WrongOctets) {
            data.len() - memchr::memchr_iter(b'\n', data).count()
        } else {
            data.len()
        }
    }

    fn uid(&self, i: usize) -> String {
        let uid = &self.txn().msgs[i].uid;
        if self.has(Defect::UidlBadChars) {
            format!("msg {uid}")
        } else if self.has(Defect::UidlUnstable) {
            format!("{}-{}", &uid[..uid.len().min(48)], self.id)
        } else {
            uid.clone()
        }
    }

    fn no_such_message(&mut self, out: &mut Vec<u8>) -> Step {
        self.err(out, None, "no such message")
    }

    /// A multi-line body, byte-stuffed (RFC 1939 §3) and terminated.
    fn body(&self, data: &[u8], out: &mut Vec<u8>) -> Step {
        if self.has(Defect::NoByteStuffing) {
            out.extend_from_slice(data);
            if !data.is_empty() && !data.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b".\r\n");
        } else {
            stuffing::stuff_into(data, out);
        }
        Step::Read
    }

    // ---- reply lines ----

    fn eol(&self) -> &'static [u8] {
        if self.has(Defect::BareLf) {
            b"\n"
        } else {
            b"\r\n"
        }
    }

    fn line(&self, out: &mut Vec<u8>, text: &str) {
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(self.eol());
    }

    fn end(&self, out: &mut Vec<u8>) {
        self.line(out, ".");
    }

    fn ok(&mut self, out: &mut Vec<u8>, text: &str) -> Step {
        self.consecutive_errors = 0;
        out.extend_from_slice(if self.has(Defect::LowercaseStatus) { b"+ok" } else { b"+OK" });
        if !text.is_empty() {
            out.push(b' ');
        }
        self.line(out, text);
        Step::Read
    }

    /// `-ERR [code] text`. Texts are fixed strings, never client input, so every line stays far
    /// below 512 octets (RFC 1939 §3).
    fn err(&mut self, out: &mut Vec<u8>, code: Option<&str>, text: &str) -> Step {
        self.consecutive_errors += 1;
        if self.has(Defect::CloseAfterErrors) && self.consecutive_errors >= MAX_ERRORS {
            self.line(out, "-ERR too many errors, bye");
            self.closing = true;
            return Step::Close;
        }
        out.extend_from_slice(b"-ERR ");
        if let Some(code) = code {
            out.push(b'[');
            out.extend_from_slice(code.as_bytes());
            if !self.has(Defect::BadRespCode) {
                out.push(b']');
            }
            out.push(b' ');
        }
        self.line(out, text);
        Step::Read
    }
}

fn doomed(txn: &Txn) -> Vec<&Message> {
    txn.msgs.iter().zip(&txn.deleted).filter(|(_, &d)| d).map(|(m, _)| m).collect()
}

/// TOP (RFC 1939 §7): the headers, the blank line, and the first `lines` lines of the body; all
/// of it when the body is shorter.
fn top(data: &[u8], lines: u64) -> &[u8] {
    let body_start = if data.starts_with(b"\r\n") {
        2
    } else {
        match memchr::memmem::find(data, b"\r\n\r\n") {
            Some(i) => i + 4,
            None => return data,
        }
    };
    let mut end = body_start;
    for _ in 0..lines {
        if end >= data.len() {
            break;
        }
        end = match memchr::memchr(b'\n', &data[end..]) {
            Some(i) => end + i + 1,
            None => data.len(),
        };
    }
    &data[..end]
}

/// `hang-on-bad-arg`: an argument that starts with `-` or contains `%n`.
fn hang_trigger(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw);
    let text = text.trim_end_matches(['\r', '\n']);
    text.split(' ').skip(1).any(|a| a.starts_with('-') || a.contains("%n"))
}

/// `lenient-args`: numeric arguments read the way C's `atoi` reads them (`1a` → 1, `+1` → 1)
/// and extra arguments ignored. Only consulted after the strict parser refused the line.
fn lenient(raw: &[u8], e: &CommandError) -> Option<Command> {
    if !matches!(e, CommandError::BadNumber(_) | CommandError::TooManyArguments(_) | CommandError::BadSeparator) {
        return None;
    }
    let text = std::str::from_utf8(raw).ok()?;
    let mut words = text.split_ascii_whitespace();
    let keyword = words.next()?.to_ascii_uppercase();
    let atoi = |w: &str| -> Option<u64> {
        let w = w.strip_prefix('+').unwrap_or(w);
        let digits = w.len() - w.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        w[..digits].parse().ok()
    };
    let nums: Vec<u64> = words.map(atoi).collect::<Option<_>>()?;
    Some(match keyword.as_str() {
        "LIST" => Command::List(nums.first().copied()),
        "UIDL" => Command::Uidl(nums.first().copied()),
        "RETR" => Command::Retr(*nums.first()?),
        "DELE" => Command::Dele(*nums.first()?),
        "TOP" => Command::Top(*nums.first()?, *nums.get(1)?),
        _ => return None,
    })
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
