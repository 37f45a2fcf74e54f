//! Session transcripts: every chunk sent and received, with direction, time offset and whether it
//! travelled inside TLS. Credentials are redacted *when the entry is recorded* (see
//! [`Transcript::client`]), so nothing downstream — reports, scenario failures, fuzz reproducers —
//! can leak them.

use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Who produced a transcript entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Bytes the client (pop3test) wrote.
    Client,
    /// Bytes the server sent.
    Server,
    /// A remark by the tester (TLS handshake done, connection closed, timeout...).
    Note,
}

/// One recorded chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Milliseconds since the transcript started.
    pub t_ms: f64,
    pub dir: Direction,
    /// True when the bytes went through TLS.
    pub tls: bool,
    /// The bytes, made printable: CR and LF shown as `\r` `\n`, other control and non-UTF-8 bytes as
    /// `\xNN`. Credentials already replaced by `<redacted>`.
    pub text: String,
}

/// Placeholder that replaces every secret.
pub const REDACTED: &str = "<redacted>";

/// A growing record of one session. Cheap to clone into a result.
#[derive(Debug, Clone)]
pub struct Transcript {
    start: Instant,
    entries: Vec<Entry>,
    /// True while the client is inside an AUTH exchange: its continuation lines are secrets.
    in_sasl: bool,
    /// Upper bound on stored text per entry; long bodies are elided in the middle.
    max_entry: usize,
    /// Upper bound on the number of entries kept (the oldest middle ones are dropped).
    max_entries: usize,
    /// False: nothing is recorded (a fuzzer's fast sessions, whose transcripts are discarded).
    recording: bool,
}

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

impl Transcript {
    pub fn new() -> Self {
        Transcript {
            start: Instant::now(),
            entries: Vec::new(),
            in_sasl: false,
            max_entry: 4096,
            max_entries: 2000,
            recording: true,
        }
    }

    /// Entries recorded so far.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Takes the entries out, leaving the transcript empty (same clock).
    pub fn take(&mut self) -> Vec<Entry> {
        std::mem::take(&mut self.entries)
    }

    /// Switches recording on or off (off: every record call is a no-op).
    pub fn set_recording(&mut self, on: bool) {
        self.recording = on;
    }

    fn push(&mut self, dir: Direction, tls: bool, text: String) {
        if self.entries.len() >= self.max_entries {
            // Keep the first half (how it started) and the latest (how it ended).
            let keep = self.max_entries / 2;
            self.entries.drain(keep..keep + self.max_entries / 4);
            self.entries.insert(
                keep,
                Entry { t_ms: self.elapsed_ms(), dir: Direction::Note, tls, text: "[... entries dropped ...]".into() },
            );
        }
        let t_ms = self.elapsed_ms();
        self.entries.push(Entry { t_ms, dir, tls, text });
    }

    fn elapsed_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    /// Records bytes the client wrote, redacting credentials line by line: the argument of PASS,
    /// the digest of APOP, the initial response of AUTH and every line the client sends while an
    /// AUTH exchange is open (until the server's next status line, see [`Transcript::server`]).
    pub fn client(&mut self, tls: bool, bytes: &[u8]) {
        if !self.recording {
            return;
        }
        let redacted = self.redact_client(bytes);
        let text = printable(&redacted, self.max_entry);
        self.push(Direction::Client, tls, text);
    }

    /// Records bytes the server sent. A `+OK`/`-ERR` line ends an open AUTH exchange.
    pub fn server(&mut self, tls: bool, bytes: &[u8]) {
        if !self.recording {
            return;
        }
        if self.in_sasl && bytes.split(|&b| b == b'\n').any(|l| l.starts_with(b"+OK") || l.starts_with(b"-ERR")) {
            self.in_sasl = false;
        }
        let text = printable(bytes, self.max_entry);
        self.push(Direction::Server, tls, text);
    }

    /// Records a remark of the tester's own.
    pub fn note(&mut self, tls: bool, text: impl Into<String>) {
        if !self.recording {
            return;
        }
        self.push(Direction::Note, tls, text.into());
    }

    fn redact_client(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        for line in split_keep_eol(bytes) {
            let (body, eol) = split_eol(line);
            if self.in_sasl {
                // `*` (cancel) is not a secret and helps reading the transcript.
                if body == b"*" {
                    out.extend_from_slice(body);
                } else {
                    out.extend_from_slice(REDACTED.as_bytes());
                }
                out.extend_from_slice(eol);
                continue;
            }
            out.extend_from_slice(&redact_command_line(body, &mut self.in_sasl));
            out.extend_from_slice(eol);
        }
        out
    }
}

/// Redacts one client command line (without its line end). Sets `in_sasl` when the line opens an
/// AUTH exchange.
pub fn redact_command_line(line: &[u8], in_sasl: &mut bool) -> Vec<u8> {
    let mut words = line.splitn(2, |&b| b == b' ');
    let keyword = words.next().unwrap_or_default();
    let rest = words.next();
    let is = |k: &[u8]| keyword.eq_ignore_ascii_case(k);
    if !(is(b"PASS") || is(b"APOP") || is(b"AUTH")) || rest.is_none() {
        return line.to_vec();
    }
    let kw = keyword.to_ascii_uppercase();
    let mut out = Vec::with_capacity(line.len());
    match (kw.as_slice(), rest) {
        (b"PASS", Some(_)) => {
            out.extend_from_slice(keyword);
            out.push(b' ');
            out.extend_from_slice(REDACTED.as_bytes());
        }
        (b"APOP", Some(rest)) => {
            // APOP name digest: keep the name, hide the digest.
            out.extend_from_slice(keyword);
            out.push(b' ');
            match rest.iter().rposition(|&b| b == b' ') {
                Some(sp) => {
                    out.extend_from_slice(&rest[..sp]);
                    out.push(b' ');
                    out.extend_from_slice(REDACTED.as_bytes());
                }
                None => out.extend_from_slice(rest),
            }
        }
        (b"AUTH", Some(rest)) => {
            // AUTH mechanism [initial-response]; a bare `AUTH` (list mechanisms) is not an exchange.
            *in_sasl = true;
            out.extend_from_slice(keyword);
            out.push(b' ');
            let mut parts = rest.splitn(2, |&b| b == b' ');
            out.extend_from_slice(parts.next().unwrap_or_default());
            if let Some(ir) = parts.next() {
                out.push(b' ');
                if ir == b"=" {
                    out.push(b'=');
                } else {
                    out.extend_from_slice(REDACTED.as_bytes());
                }
            }
        }
        _ => out.extend_from_slice(line),
    }
    out
}

fn split_keep_eol(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split_inclusive(|&b| b == b'\n')
}

fn split_eol(line: &[u8]) -> (&[u8], &[u8]) {
    let mut end = line.len();
    if end > 0 && line[end - 1] == b'\n' {
        end -= 1;
    }
    if end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    (&line[..end], &line[end..])
}

/// Renders bytes as printable text: visible ASCII and valid UTF-8 as is, CR/LF/TAB escaped, other
/// bytes as `\xNN`. Longer than `max` octets: the middle is elided with a count.
pub fn printable(bytes: &[u8], max: usize) -> String {
    if bytes.len() > max {
        let head = &bytes[..max / 2];
        let tail = &bytes[bytes.len() - max / 4..];
        return format!(
            "{}[... {} octets elided ...]{}",
            printable(head, usize::MAX),
            bytes.len() - head.len() - tail.len(),
            printable(tail, usize::MAX)
        );
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    // Fast path: printable ASCII with CRLF, the usual POP3 line.
    if bytes.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'\\' || b == b'\r' || b == b'\n') {
        for &b in bytes {
            match b {
                b'\r' => out.push_str("\\r"),
                b'\n' => out.push_str("\\n"),
                b => out.push(b as char),
            }
        }
        return out;
    }
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_text(t: &mut Transcript, b: &[u8]) -> String {
        t.client(false, b);
        t.entries().last().unwrap().text.clone()
    }

    #[test]
    fn pass_argument_is_redacted_even_with_spaces() {
        let mut t = Transcript::new();
        assert_eq!(client_text(&mut t, b"PASS my secret pw\r\n"), "PASS <redacted>\\r\\n");
        assert_eq!(client_text(&mut t, b"pass x\r\n"), "pass <redacted>\\r\\n");
    }

    #[test]
    fn apop_digest_is_redacted_name_kept() {
        let mut t = Transcript::new();
        assert_eq!(
            client_text(&mut t, b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
            "APOP mrose <redacted>\\r\\n"
        );
    }

    #[test]
    fn auth_initial_response_and_continuations_are_redacted_until_status() {
        let mut t = Transcript::new();
        assert_eq!(client_text(&mut t, b"AUTH PLAIN AG1yb3NlAHRhbnN0YWFm\r\n"), "AUTH PLAIN <redacted>\\r\\n");
        t.server(false, b"+OK done\r\n");
        assert_eq!(client_text(&mut t, b"AUTH LOGIN\r\n"), "AUTH LOGIN\\r\\n");
        t.server(false, b"+ VXNlcm5hbWU6\r\n");
        assert_eq!(client_text(&mut t, b"bXJvc2U=\r\n"), "<redacted>\\r\\n");
        assert_eq!(client_text(&mut t, b"*\r\n"), "*\\r\\n");
        t.server(false, b"-ERR cancelled\r\n");
        assert_eq!(client_text(&mut t, b"STAT\r\n"), "STAT\\r\\n");
    }

    #[test]
    fn pipelined_write_redacts_each_line() {
        let mut t = Transcript::new();
        assert_eq!(
            client_text(&mut t, b"USER mrose\r\nPASS tanstaaf\r\nSTAT\r\n"),
            "USER mrose\\r\\nPASS <redacted>\\r\\nSTAT\\r\\n"
        );
    }

    #[test]
    fn printable_escapes_controls_and_invalid_utf8() {
        assert_eq!(printable(b"a\x00b\xff\xc3\xa9\r\n", 100), "a\\x00b\\xffé\\r\\n");
        let long = vec![b'a'; 100];
        assert!(printable(&long, 20).contains("octets elided"));
    }
}
