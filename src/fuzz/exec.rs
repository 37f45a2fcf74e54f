//! The session driver: reaches a [`Context`], runs cases on the open session, reads every reply
//! with the framing the model predicts and turns what it sees into [`Candidate`] findings.
//!
//! Two speeds. *Fast* (fuzzing): one write per chunk, one read per reply, no waiting beyond the
//! reply itself; cases whose reply count a server may choose (bare LF, over-long lines) are
//! followed by a CAPA whose known reply marks where their replies end. *Careful* (replays that
//! confirm and shrink a finding): before the last case the driver also waits a quiet `settle`
//! window, so a server that closed after the *previous* reply is told apart from one that closed
//! because of this input. With `--batch`, several one-write cases share a write where PIPELINING
//! is advertised ([`Session::run_batch`]); each reply is still judged against its own line.

use super::case::{keyword_of, Case, CLOSE_IS_POLICY_ABOVE, COMMAND_LIMIT};
use super::model::{Context, Model};
use super::oracle::{
    announces_close, judge, refuses_long_line, stat_damage, violation, Candidate, Oracle, Reason, LINE_LENGTH,
};
use crate::net::session::{self as s, Credentials, StlsPolicy};
use crate::net::{ConnectOptions, Connection, NetError, Target};
use crate::proto::listing::{parse_stat, unique_id_listings};
use crate::proto::{Command, Expect, Response, Status, Violation};
use crate::transcript::Entry;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

mod limit;
mod open;

/// What every session needs, passed in.
#[derive(Debug, Clone)]
pub struct Env {
    pub target: Target,
    /// `timeout` is the hang threshold: the longest wait for one reply.
    pub opts: ConnectOptions,
    pub creds: Option<Credentials>,
    /// Careful mode's quiet window (see the module doc).
    pub settle: Duration,
    /// STLS before login in the contexts that log in (`AfterStls` always upgrades).
    pub stls: StlsPolicy,
    /// Set once a pipelined login lost replies on this server: log in one step at a time.
    pub stepwise_login: Arc<AtomicBool>,
}

/// Why a context could not be reached.
#[derive(Debug)]
pub enum SetupError {
    /// No connection or no greeting: the server may be down.
    Down(String),
    /// Connected, but this context is not reachable (no STLS, login refused, maildrop locked).
    Unavailable(String),
}

/// What one case did to the session.
#[derive(Debug, Default)]
pub struct Outcome {
    pub candidate: Option<Candidate>,
    /// False when the session must be replaced (closed, hung, or its state is no longer known).
    pub alive: bool,
    /// The session is open but the model no longer knows its state (a line of a case with a
    /// server-chosen reply count was accepted): fuzzing starts a new one, replays go on.
    pub uncertain: bool,
    /// The server closed right after a `-ERR` (the text of that reply, the errors in a row).
    pub closed_after_err: Option<(String, u32)>,
}

/// An open session and its model.
pub struct Session {
    conn: Connection,
    pub model: Model,
    pub context: Context,
    /// First line of the CAPA body, when CAPA works: marks the end of a sync (see module doc).
    capa_mark: Option<String>,
    pub did_stls: bool,
    last_err: Option<String>,
    /// The last reply was `+OK` (a close right after `+OK` to a QUIT-like line is that QUIT).
    last_ok: bool,
    pub consecutive_errors: u32,
    /// Violations seen while reaching the context (greeting, CAPA, login).
    pub setup_violations: Vec<Violation>,
    /// CAPA advertised PIPELINING (RFC 2449 §6.6): cases may share a write.
    pub pipelining: bool,
    /// A line that a lenient server could take for DELE was sent (see [`Session::may_have_deleted`]).
    sent_dele: bool,
}

impl Session {
    /// CAPA changes with TLS and login: re-read the line that marks the end of a sync.
    async fn refresh_capa_mark(&mut self) {
        self.capa_mark = match s::capa(&mut self.conn).await {
            Ok((caps, r, _)) if r.is_ok() => caps.lines.first().cloned(),
            _ => None,
        };
    }

    /// True when messages may be marked deleted: a DELE the model saw accepted, the one the
    /// after-DELE context starts with, or any line mentioning DELE whatever its reply (a lenient
    /// server may have read it as one). A QUIT then would commit the deletions (RFC 1939 §6):
    /// the fuzzer never sends one, in fuzzing or in replays, and ends such sessions without it.
    pub fn may_have_deleted(&self) -> bool {
        self.sent_dele || self.model.ever_deleted
    }

    /// Notes a line that could mark messages deleted: one mentioning DELE once logged in (or
    /// in a case that could log in first). Before login there is nothing to delete.
    fn note_dele(&mut self, case: &Case) {
        let logged_in = self.model.state == crate::proto::SessionState::Transaction || case.mentions_login();
        self.sent_dele |= logged_in && case.mentions_dele();
    }

    /// Ends the session with QUIT (never after a DELE: that would commit it, RFC 1939 §6).
    pub async fn quit(self) {
        if !self.may_have_deleted() {
            self.conn.close(true).await;
        }
    }

    /// Drops the connection without QUIT (RFC 1939 §6: a session ended this way deletes nothing).
    pub fn abandon(self) -> Vec<Entry> {
        let mut conn = self.conn;
        conn.transcript_mut().take()
    }

    /// Octets the server has sent on this session so far.
    pub fn received(&self) -> u64 {
        self.conn.received()
    }

    /// Stops recording the transcript: fast fuzzing discards it anyway (replays of a finding
    /// open sessions of their own, which record).
    pub fn stop_recording(&mut self) {
        self.conn.transcript_mut().set_recording(false);
    }

    /// The transcript since the last call, emptied (keeps memory flat over long sessions).
    pub fn take_transcript(&mut self) -> Vec<Entry> {
        self.conn.transcript_mut().take()
    }

    /// Sends a command that resets a server's error count (NOOP in TRANSACTION, CAPA before it).
    pub async fn reset_error_count(&mut self) -> bool {
        let cmd =
            if self.model.state == crate::proto::SessionState::Transaction { Command::Noop } else { Command::Capa };
        match self.conn.command(&cmd).await {
            Ok(r) if r.is_ok() => {
                self.consecutive_errors = 0;
                self.last_err = None;
                true
            }
            _ => false,
        }
    }

    /// Runs one case. `careful`: check first that the session is still open (see module doc).
    pub async fn run(&mut self, env: &Env, case: &Case, careful: bool) -> Outcome {
        self.run_with(env, case, careful, &mut || {}).await
    }

    /// Runs one case and calls `idle` once its first bytes are on the wire: CPU work done there
    /// (generating the next case) overlaps the server's reply instead of adding to it.
    pub async fn run_with(
        &mut self,
        env: &Env,
        case: &Case,
        careful: bool,
        idle: &mut (dyn FnMut() + Send),
    ) -> Outcome {
        if careful {
            if self.conn.read_unsolicited(env.settle).await.is_err() {
                return self.closed(&case.keyword());
            }
            // Still open: a close from here on is this case's doing, whatever came before.
            self.last_err = None;
        }
        self.note_dele(case);
        let lines = case.lines();
        if !case.is_framed() {
            return self.run_loose(env, case, &lines, careful, idle).await;
        }
        let mut answered = 0;
        let mut completed = 0;
        let mut idle = Some(idle);
        for chunk in &case.chunks {
            if chunk.after_replies {
                if let Some(f) = idle.take() {
                    f();
                }
                while answered < completed {
                    if let Some(o) = self.answer(&lines[answered]).await {
                        return o;
                    }
                    answered += 1;
                }
            }
            if let Err(e) = self.conn.send_raw(&chunk.bytes).await {
                return self.net_error(e, &keyword_of(&chunk.bytes), false);
            }
            completed += chunk.bytes.iter().filter(|&&b| b == b'\n').count();
        }
        if let Some(f) = idle.take() {
            f();
        }
        while answered < completed {
            if let Some(o) = self.answer(&lines[answered]).await {
                return o;
            }
            answered += 1;
        }
        self.finish_sasl().await
    }

    /// Runs [`batchable`] cases in one write (RFC 2449 §6.6) and judges every reply in order.
    /// Returns the outcome and how many cases completed before it: the outcome belongs to
    /// `cases[completed]` when it has a candidate. Replies left unread make the session unusable.
    pub async fn run_batch(&mut self, cases: &[Case], idle: &mut (dyn FnMut() + Send)) -> (Outcome, usize) {
        let (mut wire, mut lines, mut ends) = (Vec::new(), Vec::new(), Vec::with_capacity(cases.len()));
        for c in cases {
            self.note_dele(c);
            lines.extend(c.lines());
            ends.push(lines.len());
            c.chunks.iter().for_each(|ch| wire.extend_from_slice(&ch.bytes));
        }
        if let Err(e) = self.conn.send_raw(&wire).await {
            let keyword = cases.first().map(Case::keyword).unwrap_or_default();
            return (self.net_error(e, &keyword, false), 0);
        }
        idle();
        let mut at = 0;
        for (j, line) in lines.iter().enumerate() {
            while ends[at] <= j {
                at += 1;
            }
            if let Some(mut o) = self.answer(line).await {
                o.alive &= j + 1 == lines.len();
                return (o, at);
            }
        }
        (self.finish_sasl().await, cases.len())
    }

    /// Reads and judges the reply to one framed line. `Some` ends the case.
    async fn answer(&mut self, line: &[u8]) -> Option<Outcome> {
        let p = self.model.predict(line);
        let tls_before = self.model.tls;
        let resp = match self.conn.read_response(p.expect).await {
            Ok(r) => r,
            Err(e) => return Some(self.net_error(e, &keyword_of(line), p.may_close)),
        };
        let candidate = judge(&self.model, line, &p, &resp);
        self.note_status(&resp);
        self.model.apply(line, resp.status);
        if let Some(c) = candidate {
            let alive = !c.oracle.kills_session() && c.reason == Reason::None;
            return Some(Outcome { candidate: Some(c), alive, ..Outcome::default() });
        }
        if self.model.state == crate::proto::SessionState::Closed {
            return Some(Outcome { alive: false, ..Outcome::default() });
        }
        if !tls_before && self.model.tls {
            if self.conn.start_tls().await.is_err() {
                return Some(Outcome { alive: false, ..Outcome::default() });
            }
            self.refresh_capa_mark().await;
        }
        None
    }

    /// After the case: a still-open AUTH exchange is cancelled with `*` (RFC 5034 §4).
    async fn finish_sasl(&mut self) -> Outcome {
        let mut rounds = 0;
        while self.model.in_sasl && rounds < 3 {
            rounds += 1;
            if let Err(e) = self.conn.send_raw(b"*\r\n").await {
                return self.net_error(e, "AUTH", false);
            }
            if let Some(o) = self.answer(b"*\r\n").await {
                return o;
            }
        }
        Outcome { alive: !self.model.in_sasl, ..Outcome::default() }
    }

    /// Cases whose reply count the server may choose: send, then sync on a CAPA (careful mode, or
    /// a server without CAPA: first read whatever arrives until a quiet window).
    async fn run_loose(
        &mut self,
        env: &Env,
        case: &Case,
        lines: &[Vec<u8>],
        careful: bool,
        idle: &mut (dyn FnMut() + Send),
    ) -> Outcome {
        let keyword = case.keyword();
        // Whatever the server made of these lines, none of them is the PASS after a USER.
        self.model.after_user = None;
        for chunk in &case.chunks {
            match self.conn.send_raw(&chunk.bytes).await {
                Ok(()) => {}
                Err(NetError::Closed { .. } | NetError::Reset { .. } | NetError::Io(_)) => {
                    return self.closed_loose(&keyword, lines)
                }
                Err(e) => return self.net_error(e, &keyword, false),
            }
        }
        idle();
        let mut replies: Vec<Response> = Vec::new();
        if careful || self.capa_mark.is_none() {
            let mut buf = Vec::new();
            for _ in 0..64 {
                match self.conn.read_unsolicited(env.settle).await {
                    Ok(Some(b)) => buf.extend_from_slice(&b),
                    Ok(None) => break,
                    Err(_) => {
                        let replies = split_replies(&buf);
                        for r in &replies {
                            self.note_status(r);
                        }
                        if let Some(o) = stls_took_over(lines, &replies) {
                            return o;
                        }
                        return self.closed_loose(&keyword, lines);
                    }
                }
            }
            replies.extend(split_replies(&buf));
        }
        // Lines of the case that are CAPA themselves get the same reply as ours: skip theirs.
        let bare = |l: &[u8]| -> Vec<u8> {
            let l = l.strip_suffix(b"\n").unwrap_or(l);
            l.strip_suffix(b"\r").unwrap_or(l).to_vec()
        };
        let own_capas = lines.iter().filter(|l| bare(l).eq_ignore_ascii_case(b"CAPA")).count();
        // After an AUTH line the server may still wait for SASL data: a `*` first ends any
        // exchange (cancel, or an unknown command: one -ERR either way), then CAPA is a command.
        let sasl = lines.iter().any(|l| keyword_of(l) == "AUTH");
        match self.sync(lines.len() + 4, own_capas, sasl, &mut replies).await {
            Ok(()) => {}
            Err(NetError::Usage(_)) => return Outcome::default(),
            Err(e) => {
                for r in &replies {
                    self.note_status(r);
                }
                if let Some(o) = stls_took_over(lines, &replies) {
                    return o;
                }
                if matches!(e, NetError::Closed { .. } | NetError::Reset { .. } | NetError::Io(_)) {
                    return self.closed_loose(&keyword, lines);
                }
                return self.net_error(e, &keyword, false);
            }
        }
        let mut outcome = Outcome { alive: true, ..Outcome::default() };
        // More after CAPA's own reply, with nothing else asked: the server answers more than it
        // is asked (RFC 1939 §3, one reply per command). Only an unsolicited `+OK` counts: a
        // `-ERR` there may be a disconnect-after-errors notice (Dovecot's "Too many invalid bad
        // commands."), which is a policy.
        if let Some(v) = self.conn.out_of_step().filter(|_| self.conn.buffered().starts_with(b"+OK")) {
            outcome.candidate = Some(violation(&v, &keyword));
        }
        for r in &replies {
            self.note_status(r);
            if r.is_ok() {
                // A line of the case was accepted: its effect is unknown.
                outcome.uncertain = true;
            }
            if outcome.candidate.is_none() {
                if let Some(v) = r.violations.iter().find(|v| !matches!(v, Violation::UnexpectedContinuation)) {
                    outcome.candidate = Some(violation(v, &keyword));
                }
            }
        }
        outcome
    }

    /// Sends CAPA and reads replies until CAPA's own (recognised by its first line). Replies
    /// before it belong to the case. Without CAPA: one NOOP-or-CAPA round trip proves liveness.
    async fn sync(
        &mut self,
        max: usize,
        mut skip: usize,
        sasl: bool,
        replies: &mut Vec<Response>,
    ) -> Result<(), NetError> {
        self.conn.send_raw(if sasl { b"*\r\nCAPA\r\n" } else { b"CAPA\r\n" }).await?;
        let Some(mark) = self.capa_mark.clone() else {
            let r = self.conn.read_response(Expect::MultiLine).await?;
            replies.push(r);
            return Ok(());
        };
        for _ in 0..max {
            let r = self.conn.read_response(Expect::MultiLine).await?;
            match &r.body {
                Some(b) if skip > 0 && b.lines().next().is_some_and(|l| l == mark.as_bytes()) => {
                    skip -= 1;
                    replies.push(r);
                }
                Some(b) if b.lines().next().is_some_and(|l| l == mark.as_bytes()) => return Ok(()),
                Some(b) if b.lines().any(|l| l == mark.as_bytes()) => {
                    // A stale single-line +OK swallowed CAPA's reply as its "body".
                    replies.push(Response { body: None, ..r });
                    return Ok(());
                }
                _ => replies.push(r),
            }
        }
        Err(NetError::Usage("lost track of the replies: starting a new session"))
    }

    fn note_status(&mut self, r: &Response) {
        self.last_ok = r.is_ok();
        if r.is_err() {
            self.consecutive_errors += 1;
            self.last_err = Some(r.text.clone());
        } else if r.status != Status::Continue {
            self.consecutive_errors = 0;
            self.last_err = None;
        }
    }

    /// The connection ended. After a `-ERR` that is (maybe) policy; otherwise a crash.
    fn closed(&mut self, keyword: &str) -> Outcome {
        if self.last_ok && keyword == "QUIT" {
            // `+OK` and a close: the server read the line as QUIT and did what QUIT asks (a
            // lenient reading of a malformed QUIT is judged where the line is framed).
            return Outcome::default();
        }
        if let Some(text) = self.last_err.clone() {
            let detail = format!("the server closed the connection right after `-ERR {text}`");
            let c = Candidate::new(Oracle::Policy, keyword, detail);
            let closed_after_err = Some((text, self.consecutive_errors));
            return Outcome { candidate: Some(c), closed_after_err, ..Outcome::default() };
        }
        let c = Candidate::new(Oracle::Crash, keyword, "the connection was closed or reset without a reply");
        Outcome { candidate: Some(c), ..Outcome::default() }
    }

    /// The connection ended during a case whose reply count is the server's choice. A command
    /// line over the 255 octets of RFC 2449 §4 is the client's fault, and a server may refuse it
    /// by hanging up (Dovecot does at 64 KiB, its `-ERR` often lost to the RST that the unread
    /// rest of the line causes, always over TLS): above [`CLOSE_IS_POLICY_ABOVE`] octets that is
    /// a policy, whatever came before it. Below, a close without a reply stays a crash: no server
    /// needs to hang up on a line that short, and it is where a worker's buffer overflows.
    fn closed_loose(&mut self, keyword: &str, lines: &[Vec<u8>]) -> Outcome {
        let longest = lines.iter().map(Vec::len).max().unwrap_or(0);
        // A parting `-ERR` about errors (`too many errors, bye`) names the other policy.
        let error_limit = self.last_err.as_deref().is_some_and(|t| announces_close(t) && !refuses_long_line(t));
        if longest <= CLOSE_IS_POLICY_ABOVE || error_limit {
            return self.closed(keyword);
        }
        let said = self.last_err.as_ref().map(|t| format!(" (last reply: `-ERR {t}`)")).unwrap_or_default();
        let detail = format!(
            "the server closed the session on a command line of {longest} octets{said}; RFC 2449 §4 \
             lets a client send at most {} and leaves longer ones to the server (a worker \
             process crashing on it looks the same from here: the server's log tells)",
            COMMAND_LIMIT
        );
        Outcome { candidate: Some(Candidate::new(Oracle::Policy, LINE_LENGTH, detail)), ..Outcome::default() }
    }

    fn net_error(&mut self, e: NetError, keyword: &str, may_close: bool) -> Outcome {
        match e {
            NetError::Closed { .. } | NetError::Reset { .. } | NetError::Io(_) if may_close => Outcome::default(),
            NetError::Closed { .. } | NetError::Reset { .. } | NetError::Io(_) => self.closed(keyword),
            NetError::Timeout { after, .. } => {
                let detail = format!("no reply within {after:?}; the connection stayed open");
                Outcome { candidate: Some(Candidate::new(Oracle::Hang, keyword, detail)), ..Outcome::default() }
            }
            e @ NetError::Slow { .. } => {
                Outcome { candidate: Some(Candidate::new(Oracle::Hang, keyword, e.to_string())), ..Outcome::default() }
            }
            NetError::Decode(d) => {
                let v = Violation::LineTooLong { len: 0, limit: 512 };
                let mut c = violation(&v, keyword);
                c.detail = format!("reply rejected: {d}");
                Outcome { candidate: Some(c), ..Outcome::default() }
            }
            other => {
                let c = Candidate::new(Oracle::Crash, keyword, format!("the session failed: {other}"));
                Outcome { candidate: Some(c), ..Outcome::default() }
            }
        }
    }

    /// STAT (and UIDL, when it worked at login) against the model: the state-damage oracle.
    pub async fn check_state(&mut self) -> Result<Option<Candidate>, NetError> {
        if self.model.state != crate::proto::SessionState::Transaction || self.model.in_sasl {
            return Ok(None);
        }
        // STAT and UIDL in one round trip where the server allows it (RFC 2449 §6.6).
        let (stat, uidl) = match (self.pipelining, self.model.uids.is_some()) {
            (true, true) => {
                let mut r = self.conn.pipeline(&[Command::Stat, Command::Uidl(None)]).await?;
                let uidl = r.pop();
                (r.pop().ok_or(NetError::Usage("no reply to STAT"))?, uidl)
            }
            _ => (self.conn.command(&Command::Stat).await?, None),
        };
        let want = self.model.expected_stat();
        match parse_stat(&stat.text) {
            Ok(got) if stat.is_ok() && got != want => {
                return Ok(Some(stat_damage(got, want)));
            }
            _ => {}
        }
        let Some(uids) = self.model.uids.clone() else { return Ok(None) };
        let r = match uidl {
            Some(r) => r,
            None => self.conn.command(&Command::Uidl(None)).await?,
        };
        let Some(body) = &r.body else { return Ok(None) };
        for l in unique_id_listings(body).0 {
            let known = self.model.message(l.msg).ok().and_then(|i| uids.get(i));
            if known.is_some_and(|u| *u != l.uid) {
                let detail = format!(
                    "UIDL of message {} changed within the session: `{}` became `{}`",
                    l.msg,
                    known.map_or("", |u| u),
                    l.uid
                );
                return Ok(Some(Candidate::new(Oracle::StateDamage, "UIDL", detail)));
            }
        }
        Ok(None)
    }
}

/// True when a case may share a write with others (see [`Session::run_batch`]): framed, one
/// write, and nothing that changes how the lines after it are read (STLS, AUTH) or ends the
/// session (anything a lenient server could take for QUIT).
pub fn batchable(case: &Case) -> bool {
    case.chunks.len() == 1
        && case.is_framed()
        && !case.mentions_quit()
        && case.lines().iter().all(|l| !matches!(keyword_of(l).as_str(), "STLS" | "AUTH"))
}

/// The first capability line of a CAPA reply (what [`Session::sync`] recognises CAPA by).
fn capa_first_line(r: &Response) -> Option<String> {
    let body = r.body.as_ref()?;
    crate::proto::capa::Capabilities::parse(body.lines()).0.lines.first().cloned()
}

/// A malformed STLS line (arguments, junk) answered `+OK`: the server then expects a TLS
/// handshake, so whatever plaintext follows ends the session. That end is the consequence of a
/// wrong answer (RFC 2595 §4: STLS takes no argument; RFC 1939 §3: invalid syntax gets `-ERR`),
/// not a crash. Dovecot 2.3 does this for `STLS <anything>`.
fn stls_took_over(lines: &[Vec<u8>], replies: &[Response]) -> Option<Outcome> {
    let bare = |l: &[u8]| {
        let l = l.strip_suffix(b"\n").unwrap_or(l);
        l.strip_suffix(b"\r").unwrap_or(l).to_vec()
    };
    let junk_stls = lines.iter().find(|l| keyword_of(l) == "STLS" && !bare(l).eq_ignore_ascii_case(b"STLS"))?;
    if !replies.iter().any(Response::is_ok) {
        return None;
    }
    let shown = crate::transcript::printable(junk_stls, 60);
    let detail = format!(
        "`+OK` to a malformed STLS line (`{shown}`): the server started TLS for a command it should have refused, \
         and the plaintext that followed ended the session"
    );
    let c = Candidate { reason: Reason::ExtraArgument, ..Candidate::new(Oracle::WrongAnswer, "STLS", detail) };
    Some(Outcome { candidate: Some(c), alive: false, ..Outcome::default() })
}

/// Splits raw reply bytes into single-line responses (quiet-window reading).
fn split_replies(buf: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() && out.len() < 256 {
        match crate::proto::response::decode(rest, Expect::SingleLine, crate::proto::Limits::default()) {
            Ok(crate::proto::Decoded::Complete(r, used)) => {
                out.push(r);
                rest = &rest[used..];
            }
            _ => break,
        }
    }
    out
}

/// Greets and leaves: the liveness oracle.
pub async fn alive(env: &Env) -> bool {
    match Connection::connect(&env.target, &env.opts).await {
        Ok(mut c) => {
            let ok = matches!(c.greeting().await, Ok(g) if g.is_ok());
            // No QUIT: its reply would be one more wait on a server that may not answer.
            let _ = c.close(false).await;
            ok
        }
        Err(_) => false,
    }
}
