//! The default maildrop: the messages every reference-server session starts with, and that the
//! real-server scripts (Dovecot) seed too, so one suite runs unchanged against both.
//!
//! Each message is stored exactly as it would be on disk in RFC 5322 form with CRLF line ends; the
//! octet count a server reports for it (RFC 1939 §11: "exact size ... with CRLF") is its `len()`.

use std::io;
use std::path::Path;

/// Default test account (RFC 1939 §7's APOP example user; the password is the RFC's shared secret).
pub const DEFAULT_USER: &str = "mrose";
/// Default password for [`DEFAULT_USER`]. A test credential, never a real one.
pub const DEFAULT_PASSWORD: &str = "tanstaaf";
/// A second account with an empty maildrop (lets scenarios test the empty-listing form).
pub const EMPTY_USER: &str = "empty";
/// Password of [`EMPTY_USER`].
pub const EMPTY_PASSWORD: &str = "empty-pass";

fn crlf(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 20);
    for line in text.split('\n') {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // `split` yields a final empty piece after a trailing newline: drop its CRLF.
    if text.ends_with('\n') {
        out.truncate(out.len() - 2);
    }
    out
}

fn headers(n: usize, subject: &str) -> String {
    format!(
        "Return-Path: <sender@example.org>\n\
         From: Sender <sender@example.org>\n\
         To: Marshall Rose <mrose@example.org>\n\
         Subject: {subject}\n\
         Date: Mon, 02 Nov 2026 10:0{n}:00 +0000\n\
         Message-ID: <pop3test-{n}@example.org>\n"
    )
}

/// The default maildrop, in message-number order (message 1 first).
///
/// 1. a small plain message;
/// 2. lines `.`, `..`, `.x`, `...` and a body line that is a lone `.` followed by text, exercising
///    byte-stuffing (RFC 1939 §3);
/// 3. headers only, empty body;
/// 4. long lines (998 octets, the RFC 5322 limit) and a header/body of 100 lines for TOP;
/// 5. 8-bit content (UTF-8 and a Latin-1 byte) as an 8bit MIME body;
/// 6. a large message (about 1 MiB) to exercise response-size handling and throughput.
pub fn default_messages() -> Vec<Vec<u8>> {
    let mut msgs = Vec::new();
    msgs.push(crlf(&format!("{}\nHello from pop3test.\nThis is the first message.\n", headers(1, "small message"))));
    msgs.push(crlf(&format!(
        "{}\nLines that start with a dot follow.\n.\n..\n.x\n...\n. space after dot\nend\n",
        headers(2, "byte-stuffing")
    )));
    msgs.push(crlf(&format!("{}\n", headers(3, "empty body"))));
    let mut long = headers(4, "long lines");
    long.push('\n');
    long.push_str(&"L".repeat(998));
    long.push('\n');
    for i in 1..=100 {
        long.push_str(&format!("body line {i}\n"));
    }
    long.push_str(&"x".repeat(500));
    long.push('\n');
    msgs.push(crlf(&long));
    let mut eight = crlf(&format!(
        "{}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\
         Grüße aus Köln — ünïcödé ✓\n",
        headers(5, "8-bit content")
    ));
    eight.extend_from_slice(b"latin-1 byte: \xe9\r\n");
    msgs.push(eight);
    let mut large = headers(6, "large message");
    large.push('\n');
    let mut i = 0usize;
    while large.len() < 1024 * 1024 {
        i += 1;
        if i.is_multiple_of(97) {
            large.push_str(".stuffed line in a large body\n");
        } else {
            large.push_str(&format!("{i:08} The quick brown fox jumps over the lazy dog.\n"));
        }
    }
    msgs.push(crlf(&large));
    msgs
}

/// Writes the default maildrop as a Maildir (`cur/`, `new/`, `tmp/`) under `dir`, one file per
/// message, named so that every Maildir reader orders them as [`default_messages`] does.
pub fn write_maildir(dir: &Path) -> io::Result<()> {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    for (i, msg) in default_messages().iter().enumerate() {
        // Maildir files use LF line ends on disk; Dovecot and our reader add CR on the wire.
        let lf: Vec<u8> = strip_cr(msg);
        // Maildir++ size fields: `S=` is the size on disk (LF), `W=` the RFC 822 size with CRLF.
        // Dovecot trusts both; a wrong `S=` makes it fail the session.
        let name = format!("{}.M{}P1.pop3test,S={},W={}:2,", 1_700_000_000 + i as u64, i + 1, lf.len(), msg.len());
        std::fs::write(dir.join("cur").join(name), lf)?;
    }
    Ok(())
}

/// CRLF → LF, the on-disk form of a Maildir message.
pub fn strip_cr(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut i = 0;
    while i < msg.len() {
        if msg[i] == b'\r' && msg.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(msg[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_ends_in_crlf_and_no_bare_cr_or_lf() {
        for (n, m) in default_messages().iter().enumerate() {
            assert!(m.ends_with(b"\r\n"), "message {} must end with CRLF", n + 1);
            for (i, &b) in m.iter().enumerate() {
                if b == b'\n' {
                    assert_eq!(m[i - 1], b'\r', "bare LF in message {}", n + 1);
                }
                if b == b'\r' {
                    assert_eq!(m[i + 1], b'\n', "bare CR in message {}", n + 1);
                }
            }
        }
    }

    #[test]
    fn byte_stuffing_message_has_dot_lines() {
        let m = &default_messages()[1];
        for needle in [&b"\r\n.\r\n"[..], b"\r\n..\r\n", b"\r\n.x\r\n"] {
            assert!(m.windows(needle.len()).any(|w| w == needle));
        }
    }

    #[test]
    fn maildir_round_trip_restores_crlf_sizes() {
        let dir = std::env::temp_dir().join(format!("pop3test-seed-{}", std::process::id()));
        write_maildir(&dir).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(dir.join("cur")).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        assert_eq!(names.len(), default_messages().len());
        for (path, msg) in names.iter().zip(default_messages()) {
            let lf = std::fs::read(path).unwrap();
            let crlf_len = lf.len() + lf.iter().filter(|&&b| b == b'\n').count();
            assert_eq!(crlf_len, msg.len());
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
