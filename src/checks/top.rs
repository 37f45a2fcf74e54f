//! TOP (RFC 1939 §7), compared with RETR of the same message: the header, the blank line, then
//! exactly the asked number of body lines; the whole message when it asks for more than there
//! are. Malformed arguments get `-ERR`.

use super::util::{brief, check, error, probe_each, skip, walked, Evidence, Faults, Step};
use super::{Check, CheckInfo};
use crate::proto::{Command, Expect};

pub(crate) fn checks() -> Vec<Box<dyn Check>> {
    vec![Box::new(TopLines), Box::new(TopBadArgs)]
}

const AREA: &str = "RFC 1939";
const NEEDS: &[&str] = &["credentials", "TOP", "messages 1"];

/// TOP compares whole messages, several times each: fewer messages than the other walks.
const MAX_TOP_MESSAGES: usize = 20;
/// "More lines than any body has": RFC 1939 §7 says the whole message comes back.
const ALL_LINES: u64 = 999_999;

/// What `TOP msg k` must return for `message` (RFC 1939 §7: "the POP3 server sends the headers of
/// the message, the blank line separating the headers from the body, and then the number of lines
/// of the indicated message's body"; "If the number of lines requested by the POP3 client is
/// greater than than the number of lines in the body, then the POP3 server sends the entire
/// message"). A message without a blank line is all header: TOP returns all of it.
pub fn expected_top(message: &[u8], k: u64) -> &[u8] {
    let mut pos = 0;
    let mut in_header = true;
    let mut body_lines = 0;
    while pos < message.len() {
        if !in_header && body_lines == k {
            return &message[..pos];
        }
        let end = message[pos..].iter().position(|&b| b == b'\n').map_or(message.len(), |i| pos + i + 1);
        let line = &message[pos..end];
        if in_header {
            if line == b"\r\n" || line == b"\n" {
                in_header = false;
            }
        } else {
            body_lines += 1;
        }
        pos = end;
    }
    message
}

/// The number of body lines of `message` (after the blank line).
pub fn body_lines(message: &[u8]) -> u64 {
    let top0 = expected_top(message, 0).len();
    let body = &message[top0..];
    let n = body.iter().filter(|&&b| b == b'\n').count() as u64;
    n + u64::from(!body.is_empty() && !body.ends_with(b"\n"))
}

fn shape(data: &[u8]) -> String {
    let lines = data.iter().filter(|&&b| b == b'\n').count();
    format!("{} octets, {lines} lines", data.len())
}

check!(
    /// RFC 1939 §7 TOP msg n: headers, blank line, n body lines; the whole message past the end.
    TopLines,
    CheckInfo {
        id: "rfc1939/top-lines",
        title: "TOP returns the header, the blank line and exactly n body lines",
        area: AREA,
        requirements: &["1939-top"],
        rfc_refs: &["RFC 1939 §7"],
        tags: &["top"],
        requires: NEEDS,
        destructive: false,
    },
    top_lines
);

async fn top_lines(ev: Evidence<'_>) -> Step {
    let mut s = ev.login_utf8("RETR and TOP of each message").await?.requiring("TOP").await?;
    let list = s.list().await?;
    if list.is_empty() {
        s.close().await;
        return Ok(skip("needs at least one message in the maildrop"));
    }
    let mut f = Faults::new();
    let mut checked = 0;
    'messages: for l in list.iter().take(MAX_TOP_MESSAGES) {
        let retrieved = s.retr(l.msg).await?;
        if retrieved.truncated {
            // Larger than the tester keeps: TOP cannot be compared with it.
            continue;
        }
        let message = retrieved.data;
        if s.has_stray_data() {
            return Err(error(format!(
                "the server sent more than its reply to RETR {} (a `.` line not byte-stuffed?), so the TOP \
                 replies that follow cannot be compared",
                l.msg
            )));
        }
        checked += 1;
        let total = body_lines(&message);
        let mut ks = vec![0, 1, 3, ALL_LINES];
        if total > 3 && total < ALL_LINES {
            ks.insert(3, total);
        }
        for k in ks {
            let want = expected_top(&message, k);
            let cmd = Command::Top(l.msg, k);
            let r = s.cmd(&cmd).await?;
            let what = if k == ALL_LINES {
                "the whole message, as RETR".to_string()
            } else {
                format!("header, blank line, {} body line(s)", k.min(total))
            };
            let expected = format!("TOP {} {k} → {} ({what})", l.msg, shape(want));
            match r.body {
                Some(b) if r.is_ok() && b.data == want => {}
                Some(b) if r.is_ok() => f.add(expected, format!("TOP {} {k} → {}", l.msg, shape(&b.data))),
                _ => {
                    // A refused TOP is refused for every message alike: once is enough.
                    f.add(expected, format!("TOP {} {k} → {}", l.msg, brief(&r)));
                    break 'messages;
                }
            }
        }
    }
    s.close().await;
    Ok(f.finding(
        "TOP does not return the header and the asked body lines",
        format!("TOP n 0, 1, 3, all lines and 999999 match RETR for {}", walked(checked)),
    ))
}

check!(
    /// RFC 1939 §7: "TOP msg n ... both arguments are required", n "a non-negative number"; a
    /// message that does not exist gets `-ERR` like RETR. Anything else is `-ERR` (§3).
    TopBadArgs,
    CheckInfo {
        id: "rfc1939/top-bad-args",
        title: "TOP with missing, negative, extra or nonexistent arguments gets -ERR",
        area: AREA,
        requirements: &["1939-top"],
        rfc_refs: &["RFC 1939 §7", "RFC 1939 §3"],
        tags: &["top", "robustness"],
        requires: NEEDS,
        destructive: false,
    },
    top_bad_args
);

/// Malformed TOP lines for a maildrop of `n` messages. Read as multi-line, so a server that
/// wrongly answers `+OK` with a body stays in step.
fn bad_top_lines(n: u64) -> Vec<Command> {
    let lines = ["TOP\r\n".to_string(), "TOP 1\r\n".into(), "TOP 1 -1\r\n".into(), "TOP 1 2 3\r\n".into()]
        .into_iter()
        .chain(["TOP 1 x\r\n".to_string(), "TOP 0 0\r\n".into(), format!("TOP {} 0\r\n", n + 1)]);
    lines.map(|l| Command::Raw { bytes: l.into_bytes(), expect: Expect::MultiLine }).collect()
}

async fn top_bad_args(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("TOP with bad arguments").await?.requiring("TOP").await?;
    let (n, _) = s.stat().await?;
    if n == 0 {
        s.close().await;
        return Ok(skip("needs at least one message, so that `TOP 1` fails for its arguments alone"));
    }
    let probes = bad_top_lines(n);
    let (s, replies) = probe_each(&ev, s, "TOP with bad arguments (again)", &[], &probes).await?;
    s.close().await;
    let mut f = Faults::new();
    for (p, r) in probes.iter().zip(replies) {
        let shown = super::util::show(p);
        match r {
            Ok(r) if r.is_err() => {}
            Ok(r) => f.add(format!("{shown} → -ERR"), format!("{shown} → {}", brief(&r))),
            Err(why) => f.add(format!("{shown} → -ERR"), format!("{shown}: {why}")),
        }
    }
    let shown: Vec<String> = probes.iter().map(super::util::show).collect();
    Ok(f.finding("TOP with bad arguments was not answered -ERR", format!("-ERR for: {}", shown.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"Subject: x\r\nFrom: y\r\n\r\nline 1\r\n.dot\r\nline 3\r\n";

    #[test]
    fn top_is_header_blank_line_and_k_body_lines() {
        assert_eq!(expected_top(MSG, 0), b"Subject: x\r\nFrom: y\r\n\r\n");
        assert_eq!(expected_top(MSG, 1), b"Subject: x\r\nFrom: y\r\n\r\nline 1\r\n");
        assert_eq!(expected_top(MSG, 2), b"Subject: x\r\nFrom: y\r\n\r\nline 1\r\n.dot\r\n");
        assert_eq!(expected_top(MSG, 3), MSG);
        assert_eq!(expected_top(MSG, ALL_LINES), MSG);
        assert_eq!(body_lines(MSG), 3);
    }

    #[test]
    fn edge_shapes() {
        // Headers only, with and without the blank line; an empty body; a last line without CRLF.
        assert_eq!(expected_top(b"Subject: x\r\n", 0), b"Subject: x\r\n");
        assert_eq!(expected_top(b"Subject: x\r\n\r\n", 0), b"Subject: x\r\n\r\n");
        assert_eq!(body_lines(b"Subject: x\r\n\r\n"), 0);
        assert_eq!(expected_top(b"S: x\r\n\r\na\r\nb", 1), b"S: x\r\n\r\na\r\n");
        assert_eq!(body_lines(b"S: x\r\n\r\na\r\nb"), 2);
        // A blank line inside the body is a body line, not a second separator.
        assert_eq!(expected_top(b"S: x\r\n\r\n\r\nb\r\n", 1), b"S: x\r\n\r\n\r\n");
    }

    #[test]
    fn seeded_messages_have_the_shape_the_check_relies_on() {
        for m in crate::server::seed::default_messages() {
            let all = expected_top(&m, ALL_LINES);
            assert_eq!(all, &m[..]);
            assert!(expected_top(&m, 0).ends_with(b"\r\n\r\n"));
        }
    }

    #[test]
    fn bad_lines_are_read_as_multi_line() {
        let probes = bad_top_lines(6);
        assert!(probes.iter().all(|p| p.expect() == Expect::MultiLine));
        assert!(probes.iter().any(|p| p.encode() == b"TOP 7 0\r\n"));
        assert!(probes.iter().any(|p| p.encode() == b"TOP 1 -1\r\n"));
    }
}
