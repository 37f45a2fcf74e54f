//! Server responses: an incremental, sans-IO decoder over a byte buffer.
//!
//! "Need more bytes" is a normal value ([`Decoded::Incomplete`]), not an error. Deviations from
//! the grammar are recorded as [`Violation`]s and the decoder still yields its best reading, so the
//! session can go on; only exceeding a *resource* limit (a line with no end, a body past the size
//! bound) is an error, because going on would mean unbounded memory.
//!
//! Multi-line responses (RFC 1939 §3): "If any line of the multi-line response begins with the
//! termination octet, the line is "byte-stuffed" by pre-pending the termination octet to that
//! line ... When examining a multi-line response, the client checks to see if the line begins with
//! the termination octet. If so and if octets other than CRLF follow, the first octet of the line
//! (the termination octet) is stripped away. If so and if CRLF immediately follows the termination
//! character, then the response from the POP server is ended".

use super::code::RespCode;
use super::command::Expect;
use super::violation::Violation;
use memchr::memchr;

/// Bounds on what one response may take. Passed in, never global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line (status or body) the decoder buffers before giving up. Well above the RFC's
    /// 512 so over-long replies are *measured* (a violation) rather than cut; bounded so a server
    /// that never sends LF cannot exhaust memory. Default 64 KiB.
    pub max_line: usize,
    /// Largest protocol reply (status line, listing, CAPA) in octets: far more than any honest
    /// listing, so an endless one ends fast. Default 16 MiB.
    pub max_response: usize,
    /// Largest message body (RETR, TOP) counted before giving up. Bodies are streamed — counted
    /// in full, kept only up to `max_kept` — so this bounds time on an endless body, not memory.
    /// Default 1 GiB.
    pub max_message: usize,
    /// Octets of a body kept for comparison; the rest is counted (`Body::octets`) and marked
    /// `truncated`. Default 4 MiB: larger than the standard maildrop's biggest message.
    pub max_kept: usize,
    /// RFC 1939 §3 response-line limit, CRLF included (512). Longer status, listing and CAPA lines
    /// are violations; message bodies (RETR, TOP) are exempt — they carry RFC 5322 lines.
    pub response_line: usize,
    /// Treat text starting with `[` as a response code (RFC 2449 §8) and flag malformed ones.
    pub resp_codes: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 64 * 1024,
            max_response: 16 * 1024 * 1024,
            max_message: 1024 * 1024 * 1024,
            max_kept: 4 * 1024 * 1024,
            response_line: 512,
            resp_codes: true,
        }
    }
}

/// The status indicator of a response line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `+OK`
    Ok,
    /// `-ERR`
    Err,
    /// `+ ` SASL continuation (RFC 5034 §4).
    Continue,
    /// Neither; see the violations.
    Unknown,
}

/// A multi-line body with byte-stuffing undone.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Body {
    /// The content as the server means it: each line with its line end as received (CRLF from a
    /// correct server), the stuffing dot removed, the terminating `.` line excluded. For RETR this
    /// is the message. Only the first [`Limits::max_kept`] octets when `truncated`.
    pub data: Vec<u8>,
    /// Number of lines (all of them, kept or not).
    pub lines: usize,
    /// Octets of the whole unstuffed body, kept or not: the count LIST must report (RFC 1939 §11).
    pub octets: u64,
    /// `data` holds only a prefix: the body was larger than [`Limits::max_kept`].
    pub truncated: bool,
}

/// Shows the size and the first octets, never megabytes of content (panics and logs print it).
impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("data", &String::from_utf8_lossy(&self.data[..self.data.len().min(120)]))
            .field("lines", &self.lines)
            .field("octets", &self.octets)
            .field("truncated", &self.truncated)
            .finish()
    }
}

impl Body {
    /// A body kept whole.
    pub fn whole(data: Vec<u8>, lines: usize) -> Body {
        Body { octets: data.len() as u64, data, lines, truncated: false }
    }

    /// Lines without their line ends.
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> {
        let data: &[u8] = &self.data;
        data.split_inclusive(|&b| b == b'\n').map(|l| {
            let l = l.strip_suffix(b"\n").unwrap_or(l);
            l.strip_suffix(b"\r").unwrap_or(l)
        })
    }
}

/// One complete server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    /// Response code at the start of the text, when present and well-formed (RFC 2449 §8).
    pub code: Option<RespCode>,
    /// Text after the status indicator and its separator (response code included), lossily decoded.
    pub text: String,
    /// Multi-line body (only for `+OK` to a multi-line command).
    pub body: Option<Body>,
    /// Every deviation seen while decoding this response.
    pub violations: Vec<Violation>,
    /// Octets this response took on the wire.
    pub wire_len: usize,
}

impl Response {
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }
    pub fn is_err(&self) -> bool {
        self.status == Status::Err
    }
    /// Text after the response code, if any (trimmed of the single following space).
    pub fn text_after_code(&self) -> &str {
        match &self.code {
            Some(_) => match self.text.find(']') {
                Some(i) => self.text[i + 1..].strip_prefix(' ').unwrap_or(&self.text[i + 1..]),
                None => &self.text,
            },
            None => &self.text,
        }
    }
}

/// Outcome of feeding bytes to the decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Not enough bytes yet: read more and call again with the longer buffer.
    Incomplete,
    /// A full response, and how many octets of the buffer it used.
    Complete(Response, usize),
}

/// Resource limits exceeded: the only decoding failures. Everything else is a [`Violation`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("line exceeds {limit} octets without a line end (the line length limit)")]
    LineTooLong { limit: usize },
    /// Says "size limit" and the flag: "exceeds 16777216 octets" alone left a user guessing
    /// what was exceeded and how to change it.
    #[error("response exceeds the size limit of {limit} octets (--max-response for replies, 1 GiB for a message)")]
    ResponseTooLarge { limit: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Status,
    Body,
}

/// Incremental decoder for one response. Keeps its progress between calls so a large body is
/// scanned once, however it arrives. The caller appends to one buffer and passes all of it; after
/// [`Decoded::Complete`] it drains the consumed prefix and makes a new decoder for the next reply.
#[derive(Debug, Clone)]
pub struct Decoder {
    expect: Expect,
    limits: Limits,
    phase: Phase,
    /// Offset in the buffer where the next unscanned line starts.
    pos: usize,
    status: Option<(Status, Option<RespCode>, String)>,
    body: Body,
    /// Start of the pending run of body bytes not yet copied into `body.data` (copied in bulk).
    run_start: usize,
    violations: Vec<Violation>,
    /// CAPA replies get the RFC 2449 line-length rule; listings the RFC 1939 one.
    line_rule: BodyLineRule,
    /// Octets of this reply the caller has already dropped from the buffer ([`Decoder::rebase`]).
    drained: usize,
}

/// Which length rule applies to body lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLineRule {
    /// Message content (RETR, TOP): RFC 5322 lines, no POP3 limit.
    Message,
    /// Protocol listings (LIST, UIDL, LANG): the 512-octet response-line rule.
    Listing,
    /// CAPA lines: RFC 2449 §5's 512 octets.
    Capa,
}

impl Decoder {
    pub fn new(expect: Expect, limits: Limits) -> Self {
        Decoder {
            expect,
            limits,
            phase: Phase::Status,
            pos: 0,
            status: None,
            body: Body::default(),
            run_start: 0,
            violations: Vec::new(),
            line_rule: BodyLineRule::Message,
            drained: 0,
        }
    }

    /// Sets the length rule for body lines (default: message content).
    pub fn with_body_rule(mut self, rule: BodyLineRule) -> Self {
        self.line_rule = rule;
        self
    }

    /// Decodes from `buf`, which holds everything received since this response began.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Decoded, DecodeError> {
        if self.phase == Phase::Status {
            let Some(end) = find_line_end(buf, self.pos) else {
                return self.incomplete(buf);
            };
            let line = &buf[..end];
            self.check_line(line, self.limits.response_line, false);
            let (status, code, text) = self.parse_status_line(line);
            self.pos = end;
            let multi = match self.expect {
                Expect::MultiLine => status == Status::Ok,
                _ => false,
            };
            self.status = Some((status, code, text));
            if !multi {
                return Ok(Decoded::Complete(self.finish(end), end));
            }
            self.phase = Phase::Body;
            self.run_start = end;
        }
        // Body: scan whole lines from `pos`; lines that need no change stay in the pending run
        // and are copied in bulk. Reserve what is already here (up to what is kept) so a body
        // that arrived whole is copied once, without reallocation.
        let room = self.limits.max_kept.saturating_sub(self.body.data.len());
        self.body.data.reserve(buf.len().saturating_sub(self.pos).min(room));
        loop {
            let Some(end) = find_line_end(buf, self.pos) else {
                self.flush_run(buf, self.pos);
                return self.incomplete(buf);
            };
            let line = &buf[self.pos..end];
            let limit = match self.line_rule {
                BodyLineRule::Message => usize::MAX,
                BodyLineRule::Listing => self.limits.response_line,
                BodyLineRule::Capa => 512,
            };
            self.check_line(line, limit, self.line_rule == BodyLineRule::Capa);
            if line.first() == Some(&b'.') {
                let content = trim_eol(line);
                if content == b"." {
                    self.flush_run(buf, self.pos);
                    self.pos = end;
                    return Ok(Decoded::Complete(self.finish(end), end));
                }
                // Byte-stuffed line: copy what came before, then the line without its dot.
                self.flush_run(buf, self.pos);
                self.keep(&line[1..]);
                self.run_start = end;
            }
            self.body.lines += 1;
            self.pos = end;
            if self.drained + self.pos > self.size_limit() {
                return Err(DecodeError::ResponseTooLarge { limit: self.size_limit() });
            }
        }
    }

    /// The connection ended before the response did. Returns the best reading of a partial
    /// multi-line body (with [`Violation::UnterminatedBody`]), or `None` when not even the status
    /// line arrived.
    pub fn finish_eof(&mut self, buf: &[u8]) -> Option<Response> {
        if self.phase != Phase::Body {
            return None;
        }
        self.flush_run(buf, self.pos);
        self.keep(&buf[self.pos..]);
        self.violations.push(Violation::UnterminatedBody);
        Some(self.finish(buf.len()))
    }

    fn incomplete(&self, buf: &[u8]) -> Result<Decoded, DecodeError> {
        if buf.len() - self.pos > self.limits.max_line {
            return Err(DecodeError::LineTooLong { limit: self.limits.max_line });
        }
        if self.drained + buf.len() > self.size_limit() {
            return Err(DecodeError::ResponseTooLarge { limit: self.size_limit() });
        }
        Ok(Decoded::Incomplete)
    }

    /// The size bound of this reply: a message body may be far larger than a protocol reply.
    fn size_limit(&self) -> usize {
        match (self.phase, self.line_rule) {
            (Phase::Body, BodyLineRule::Message) => self.limits.max_message,
            _ => self.limits.max_response,
        }
    }

    fn flush_run(&mut self, buf: &[u8], upto: usize) {
        if upto > self.run_start {
            let (from, to) = (self.run_start, upto);
            self.keep(&buf[from..to]);
        }
        self.run_start = upto;
    }

    /// Counts body octets, keeping them while under [`Limits::max_kept`].
    fn keep(&mut self, bytes: &[u8]) {
        self.body.octets += bytes.len() as u64;
        let room = self.limits.max_kept.saturating_sub(self.body.data.len());
        if bytes.len() > room {
            self.body.truncated = true;
        }
        self.body.data.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Octets at the start of the buffer that this decoder has fully processed and no longer
    /// needs (whole body lines already counted or kept). A caller streaming a large reply may
    /// drop them, then must call [`Decoder::rebase`] with the same number.
    pub fn scanned(&self) -> usize {
        match self.phase {
            Phase::Body => self.pos.min(self.run_start),
            Phase::Status => 0,
        }
    }

    /// The caller dropped the first `n` octets of the buffer (at most [`Decoder::scanned`]).
    pub fn rebase(&mut self, n: usize) {
        let n = n.min(self.scanned());
        self.pos -= n;
        self.run_start -= n;
        self.drained += n;
    }

    /// True once the status line is read and a multi-line body is being received.
    pub fn in_body(&self) -> bool {
        self.phase == Phase::Body
    }

    fn finish(&mut self, consumed: usize) -> Response {
        let (status, code, text) = self.status.take().unwrap_or((Status::Unknown, None, String::new()));
        let body = (self.phase == Phase::Body).then(|| std::mem::take(&mut self.body));
        let wire_len = self.drained + consumed;
        Response { status, code, text, body, violations: std::mem::take(&mut self.violations), wire_len }
    }

    /// Records line-level violations: line end form, NUL, length.
    fn check_line(&mut self, line: &[u8], limit: usize, capa: bool) {
        let content_end = line.len() - 1; // excludes the LF
        if content_end == 0 || line[content_end - 1] != b'\r' {
            push_once(&mut self.violations, Violation::BareLf);
        }
        let content = trim_eol(line);
        // One scan for both rare octets; classify only when one is there.
        if memchr::memchr2(b'\r', 0, content).is_some() {
            if memchr(b'\r', content).is_some() {
                push_once(&mut self.violations, Violation::BareCr);
            }
            if memchr(0, content).is_some() {
                push_once(&mut self.violations, Violation::Nul);
            }
        }
        // Length counted with CRLF even when the server sent a bare LF.
        let len = content.len() + 2;
        if len > limit {
            let v = if capa { Violation::CapaLineTooLong { len } } else { Violation::LineTooLong { len, limit } };
            self.violations.push(v);
        }
    }

    fn parse_status_line(&mut self, line: &[u8]) -> (Status, Option<RespCode>, String) {
        let content = trim_eol(line);
        let (status, rest) = classify_status(content, self.expect, &mut self.violations);
        let text = String::from_utf8_lossy(rest).into_owned();
        let code = if self.limits.resp_codes && matches!(status, Status::Ok | Status::Err) && text.starts_with('[') {
            match RespCode::parse_prefix(&text) {
                Some(code) => Some(code),
                None => {
                    self.violations.push(Violation::MalformedRespCode { text: text.clone() });
                    None
                }
            }
        } else {
            None
        };
        if status == Status::Continue && !is_base64(rest) {
            self.violations.push(Violation::MalformedChallenge { text: text.clone() });
        }
        (status, code, text)
    }
}

/// Decodes one response from the start of `buf` in a single call (a fresh [`Decoder`]).
pub fn decode(buf: &[u8], expect: Expect, limits: Limits) -> Result<Decoded, DecodeError> {
    Decoder::new(expect, limits).decode(buf)
}

/// Classifies the status indicator and returns the text after its separator.
fn classify_status<'a>(content: &'a [u8], expect: Expect, violations: &mut Vec<Violation>) -> (Status, &'a [u8]) {
    let seen = || String::from_utf8_lossy(&content[..content.len().min(16)]).into_owned();
    // A SASL continuation is "+" SP [base64] (RFC 5034 §4); a bare "+" is tolerated as empty.
    if content == b"+" || content.starts_with(b"+ ") {
        if expect != Expect::Sasl {
            violations.push(Violation::UnexpectedContinuation);
        }
        return (Status::Continue, content.get(2..).unwrap_or_default());
    }
    for (indicator, status) in [(&b"+OK"[..], Status::Ok), (&b"-ERR"[..], Status::Err)] {
        let n = indicator.len();
        if content.len() >= n && content[..n].eq_ignore_ascii_case(indicator) {
            if &content[..n] != indicator {
                violations.push(Violation::StatusCase { seen: seen() });
            }
            return match content.get(n) {
                None => (status, &[][..]),
                Some(b' ') => (status, &content[n + 1..]),
                Some(_) => {
                    violations.push(Violation::MissingSeparator { seen: seen() });
                    (status, &content[n..])
                }
            };
        }
    }
    violations.push(Violation::UnknownStatus { seen: seen() });
    (Status::Unknown, content)
}

fn is_base64(b: &[u8]) -> bool {
    use base64::Engine;
    b.is_empty() || base64::engine::general_purpose::STANDARD.decode(b).is_ok()
}

/// Offset just past the next LF at or after `from`.
#[inline]
fn find_line_end(buf: &[u8], from: usize) -> Option<usize> {
    memchr(b'\n', &buf[from..]).map(|i| from + i + 1)
}

#[inline]
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn push_once(v: &mut Vec<Violation>, x: Violation) {
    if !v.contains(&x) {
        v.push(x);
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
