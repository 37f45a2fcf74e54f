//! One POP3 session of the reference server, sans-IO: bytes in ([`Session::feed`]), reply bytes
//! and the next I/O step out ([`Session::poll`]). No sockets, no TLS, no clock beyond the greeting
//! timestamp, so every command in every state is unit-tested on byte literals.
//!
//! Lines are parsed with [`proto::Command::parse`] (no second parser), admitted per state with
//! [`proto::state::permitted`], and bodies encoded with [`proto::stuffing`]. Input is buffered up
//! to [`MAX_LINE`] octets: a longer line is answered `-ERR line too long` once, without echo, and
//! the rest of it is discarded as it arrives, so the buffer never grows with what a client sends.
//! Pipelined lines (RFC 2449 §6.6) are all answered, in order, in batches of about [`OUT_BATCH`].
//!
//! This file holds the framing, the dispatch per state and the reply lines; the AUTHORIZATION
//! commands live in `session/authorization.rs`, TRANSACTION and UPDATE in `session/transaction.rs`,
//! RFC 6856 (UTF8, LANG, SASLprep, localised texts) in `session/utf8.rs`.

use super::defects::{Defect, DefectSet};
use super::maildrop::{Lease, Message, Store};
use crate::proto::state::permitted;
use crate::proto::{Command, CommandError, SessionState};
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
    /// RFC 6856 UTF8 and LANG offered (`ServerConfig::utf8`).
    pub utf8: bool,
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
    /// Marks RSET has undone (only `remark-lost` looks at them).
    unmarked: Vec<bool>,
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
    /// Defect `auth-survives-stls` only: a cleartext AUTH PLAIN initial response refused before TLS.
    stale_plain_ir: Option<String>,
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
    /// RFC 6856 §2.1: the client sent UTF8 (only possible with `Shared::utf8`).
    utf8_mode: bool,
    /// RFC 6856 §3.2: index into `utf8::LANGUAGES` of the language of reply texts (0: English).
    lang: usize,
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
            stale_plain_ir: None,
            sasl: None,
            txn: None,
            inbuf: Vec::with_capacity(256),
            pos: 0,
            discarding: false,
            consecutive_errors: 0,
            closing: false,
            hung: false,
            utf8_mode: false,
            lang: 0,
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
                let _ = txn.lease.commit(&transaction::doomed(&txn));
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
            Err(e) => {
                match lenient(raw, &e).filter(|_| self.has(Defect::LenientArgs)).or_else(|| self.rfc6856_quirk(raw, &e))
                {
                    Some(cmd) => cmd,
                    None => return self.parse_error(raw, &e, out),
                }
            }
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
        if self.shared.utf8 && *e == CommandError::TooManyArguments("LANG") {
            // RFC 6856 §3.2: one language range only ("the language range argument").
            return self.err(out, None, "invalid language");
        }
        // Never echo the client's line: the reply stays short whatever was sent (1939-response-length).
        self.err(out, None, &e.to_string())
    }

    fn wrong_state(&mut self, cmd: &Command, out: &mut Vec<u8>) -> Step {
        let authz = self.state == SessionState::Authorization;
        if *cmd == Command::Stls && !authz && self.has(Defect::StlsAfterLogin) && !self.tls && self.shared.stls {
            return self.start_tls(out);
        }
        if *cmd == Command::Utf8 && !authz && self.shared.utf8 && self.has(Defect::Utf8AfterLoginOk) {
            self.utf8_mode = true;
            return self.ok(out, "UTF8 mode enabled");
        }
        let skips_check = self.utf8_mode && self.has(Defect::Utf8SkipsAuthorization);
        if authz && (self.has(Defect::WrongStateOk) || skips_check) {
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
    /// below 512 octets (RFC 1939 §3); they are in the language LANG selected (RFC 6856 §3.2).
    fn err(&mut self, out: &mut Vec<u8>, code: Option<&str>, text: &str) -> Step {
        let localised = self.localise(text);
        let text: &str = &localised;
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

mod authorization;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_utf8;
mod transaction;
mod utf8;
