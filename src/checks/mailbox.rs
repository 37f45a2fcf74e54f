//! The maildrop model of RFC 1939 §5 as one session sees it: STAT agrees with LIST, LIST sizes are
//! the exact octet counts RETR delivers, `LIST n` agrees with the scan listing, messages are
//! numbered 1..n, and every number outside 1..n (0, n+1, one past 2^64) is answered `-ERR`;
//! numbers that wrap at 2^32 are the scenario `rfc1939/retr-number-wrap`'s.

use super::util::{brief, check, probe_each, walked, Evidence, Faults, Step, MAX_MESSAGES};
use super::{Check, CheckInfo};
use crate::proto::listing::{self, ScanListing};
use crate::proto::{Command, Expect};

pub(crate) fn checks() -> Vec<Box<dyn Check>> {
    vec![
        Box::new(StatMatchesList),
        Box::new(ListOctets),
        Box::new(ListSingleLine),
        Box::new(NonexistentMessage),
        Box::new(MessageNumbers),
    ]
}

const AREA: &str = "RFC 1939";
const LOGIN: &[&str] = &["credentials"];

check!(
    /// RFC 1939 §5 STAT: "the number of messages in the maildrop ... and the size of the maildrop
    /// in octets"; deleted messages are not counted, so in a fresh session STAT is LIST summed.
    StatMatchesList,
    CheckInfo {
        id: "rfc1939/stat-matches-list",
        title: "STAT equals the LIST count and the sum of its sizes",
        area: AREA,
        requirements: &["1939-stat"],
        rfc_refs: &["RFC 1939 §5"],
        tags: &["maildrop"],
        requires: LOGIN,
        destructive: false,
    },
    stat_matches_list
);

async fn stat_matches_list(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("STAT against LIST").await?;
    let r = s.ok(&Command::Stat).await?;
    let list = s.list().await?;
    s.close().await;
    let (n, octets) = match listing::parse_stat(&r.text) {
        Ok(x) => x,
        Err(v) => return Ok(super::util::fail("+OK nn mm (count and size, single spaces)", brief(&r), v.to_string())),
    };
    let count = list.len() as u64;
    let sum = list.iter().fold(0u64, |a, l| a.saturating_add(l.octets));
    let mut f = Faults::new();
    if n != count {
        f.add(format!("STAT count {count} (the number of scan listings)"), format!("STAT count {n}"));
    }
    if octets != sum {
        f.add(format!("STAT size {sum} (the sum of the LIST sizes)"), format!("STAT size {octets}"));
    }
    Ok(f.finding("STAT disagrees with LIST", format!("STAT {n} {octets} matches LIST ({count} messages)")))
}

check!(
    /// RFC 1939 §11: "the exact size of the message in octets ... with CRLF line ends"; §3: the
    /// byte-stuffing dots are not part of the message. LIST n's size is RETR n's unstuffed length.
    ListOctets,
    CheckInfo {
        id: "rfc1939/list-octets",
        title: "LIST sizes equal the octets RETR delivers",
        area: AREA,
        requirements: &["1939-octets", "1939-multiline"],
        rfc_refs: &["RFC 1939 §5", "RFC 1939 §11", "RFC 1939 §3"],
        tags: &["maildrop"],
        requires: LOGIN,
        destructive: false,
    },
    list_octets
);

/// After this many mismatching messages the walk stops: each mismatch costs a fresh session
/// (the reply may have left the connection out of step), and a server that miscounts every
/// message has made its point.
const MAX_MISMATCHES: usize = 3;

async fn list_octets(ev: Evidence<'_>) -> Step {
    let mut s = ev.login_utf8("LIST, then RETR each message").await?;
    let list = s.list().await?;
    let mut f = Faults::new();
    let mut checked = 0;
    for l in list.iter().take(MAX_MESSAGES as usize) {
        let body = s.retr(l.msg).await?;
        checked += 1;
        let got = body.octets;
        if got == l.octets {
            continue;
        }
        let stray = s.has_stray_data();
        let hint = if stray {
            "; more data followed the end of the reply: a line starting with `.` was not byte-stuffed"
        } else if got < l.octets {
            "; if the difference is the number of lines starting with `.`, they were not byte-stuffed"
        } else {
            ""
        };
        f.add(
            format!("RETR {} delivers {} octets (LIST {} {})", l.msg, l.octets, l.msg, l.octets),
            format!("RETR {} delivered {got} octets{hint}", l.msg),
        );
        if f.len() >= MAX_MISMATCHES {
            ev.note(format!("stopped after {MAX_MISMATCHES} mismatching messages"));
            break;
        }
        // The reply may have ended early: go on in a session that is in step.
        s.close().await;
        s = ev.login_utf8("RETR the remaining messages").await?;
    }
    s.close().await;
    Ok(f.finding("LIST size differs from the octets RETR delivers", format!("sizes match for {}", walked(checked))))
}

check!(
    /// RFC 1939 §5 LIST: with an argument, "the POP3 server issues a positive response with a line
    /// containing information for that message. This line is called a "scan listing"".
    ListSingleLine,
    CheckInfo {
        id: "rfc1939/list-single-line",
        title: "LIST n agrees with the multi-line LIST",
        area: AREA,
        requirements: &["1939-list"],
        rfc_refs: &["RFC 1939 §5"],
        tags: &["maildrop"],
        requires: LOGIN,
        destructive: false,
    },
    list_single_line
);

async fn list_single_line(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("LIST and LIST n").await?;
    let list = s.list().await?;
    let mut f = Faults::new();
    for l in list.iter().take(MAX_MESSAGES as usize) {
        let cmd = Command::List(Some(l.msg));
        let r = s.cmd(&cmd).await?;
        let want = format!("LIST {} → +OK {} {}", l.msg, l.msg, l.octets);
        if !r.is_ok() {
            f.add(want, format!("LIST {} → {}", l.msg, brief(&r)));
            continue;
        }
        match listing::parse_scan_listing(&r.text) {
            Ok(one) if one == *l => {}
            Ok(_) => f.add(want, format!("LIST {} → {}", l.msg, brief(&r))),
            Err(v) => f.add(want, format!("LIST {} → {} ({v})", l.msg, brief(&r))),
        }
    }
    s.close().await;
    Ok(f.finding(
        "LIST n disagrees with LIST",
        format!("LIST n matches the scan listing for {}", walked(list.len() as u64)),
    ))
}

check!(
    /// RFC 1939 §5 LIST, RETR: "If an argument was given and the POP3 server issues a positive
    /// response ..."; a message that does not exist gets `-ERR`. Numbers that wrap at 2^32
    /// (`RETR 4294967297` as message 1) are the scenario `rfc1939/retr-number-wrap`'s, so that
    /// one defect gives one failure.
    NonexistentMessage,
    CheckInfo {
        id: "rfc1939/nonexistent-message",
        title: "LIST and RETR of nonexistent messages (0, n+1, past 2^64) get -ERR",
        area: AREA,
        requirements: &["1939-retr", "1939-list"],
        rfc_refs: &["RFC 1939 §5"],
        tags: &["maildrop", "robustness"],
        requires: LOGIN,
        destructive: false,
    },
    nonexistent_message
);

/// 2^64: does not fit in 64 bits either; must not wrap to 0 or saturate to a real message.
const PAST_U64: &str = "18446744073709551616";

/// The probes for a maildrop of `n` messages, each with the number it names.
fn nonexistent_probes(n: u64) -> Vec<(String, Command)> {
    let mut v = Vec::new();
    for m in [n + 1, 0] {
        v.push((m.to_string(), Command::List(Some(m))));
        v.push((m.to_string(), Command::Retr(m)));
    }
    for (kw, expect) in [("LIST", Expect::SingleLine), ("RETR", Expect::MultiLine)] {
        let bytes = format!("{kw} {PAST_U64}\r\n").into_bytes();
        v.push((PAST_U64.to_string(), Command::Raw { bytes, expect }));
    }
    v
}

async fn nonexistent_message(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("LIST and RETR of messages that do not exist").await?;
    let (n, _) = s.stat().await?;
    let probes = nonexistent_probes(n);
    let cmds: Vec<Command> = probes.iter().map(|(_, c)| c.clone()).collect();
    let (s, replies) = probe_each(&ev, s, "LIST and RETR of messages that do not exist (again)", &[], &cmds).await?;
    s.close().await;
    let mut f = Faults::new();
    for ((number, cmd), reply) in probes.iter().zip(replies) {
        let shown = super::util::show(cmd);
        let want = format!("{shown} → -ERR (the maildrop has {n} messages)");
        match reply {
            Ok(r) if r.is_err() => {}
            Ok(r) => {
                let wrapped = number.len() >= 10 && n >= 1;
                let hint =
                    if wrapped { " — the number seems to wrap or saturate to an existing message" } else { "" };
                f.add(want, format!("{shown} → {}{hint}", brief(&r)));
            }
            Err(why) => f.add(want, format!("{shown}: {why}")),
        }
    }
    Ok(f.finding(
        "a message that does not exist was not answered -ERR",
        format!("-ERR for message 0, {} and {PAST_U64} (maildrop of {n})", n + 1),
    ))
}

check!(
    /// RFC 1939 §4: "each message in the maildrop is assigned a message-number ... the first
    /// message in the maildrop is numbered 1, the second is numbered 2, and so on".
    MessageNumbers,
    CheckInfo {
        id: "rfc1939/message-numbers",
        title: "messages are numbered 1..n",
        area: AREA,
        requirements: &["1939-numbers"],
        rfc_refs: &["RFC 1939 §4", "RFC 1939 §5"],
        tags: &["maildrop"],
        requires: LOGIN,
        destructive: false,
    },
    message_numbers
);

/// Where a scan listing departs from 1..n: `(expected, actual)`, or `None` when it does not.
pub fn numbering_fault(n: u64, list: &[ScanListing]) -> Option<(String, String)> {
    let numbers: Vec<u64> = list.iter().map(|l| l.msg).collect();
    let expected = |k: usize| (k as u64) + 1;
    if let Some(k) = numbers.iter().enumerate().position(|(k, &m)| m != expected(k)) {
        return Some((
            format!("scan listing {} numbered {}", k + 1, expected(k)),
            format!("scan listing {} numbered {} (listing: {})", k + 1, numbers[k], short_list(&numbers)),
        ));
    }
    if numbers.len() as u64 != n {
        return Some((
            format!("{n} scan listings numbered 1..{n} (STAT count)"),
            format!("{} scan listings ({})", numbers.len(), short_list(&numbers)),
        ));
    }
    None
}

fn short_list(numbers: &[u64]) -> String {
    let head: Vec<String> = numbers.iter().take(12).map(u64::to_string).collect();
    let more = if numbers.len() > 12 { " ..." } else { "" };
    format!("{}{more}", head.join(" "))
}

async fn message_numbers(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("message numbers").await?;
    let (n, _) = s.stat().await?;
    let list = s.list().await?;
    s.close().await;
    let mut f = Faults::new();
    if let Some((want, got)) = numbering_fault(n, &list) {
        f.add(want, got);
    }
    Ok(f.finding("messages are not numbered 1..n", format!("{n} messages numbered 1..{n}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(numbers: &[u64]) -> Vec<ScanListing> {
        numbers.iter().map(|&msg| ScanListing { msg, octets: 100 }).collect()
    }

    #[test]
    fn numbering_faults() {
        assert_eq!(numbering_fault(3, &listing(&[1, 2, 3])), None);
        assert_eq!(numbering_fault(0, &listing(&[])), None);
        let (want, got) = numbering_fault(3, &listing(&[1, 3, 4])).unwrap();
        assert!(want.contains("listing 2 numbered 2") && got.contains("numbered 3"), "{want} / {got}");
        assert!(numbering_fault(3, &listing(&[0, 1, 2])).is_some());
        let (want, _) = numbering_fault(4, &listing(&[1, 2, 3])).unwrap();
        assert!(want.contains("4 scan listings"));
    }

    #[test]
    fn probes_cover_zero_next_and_too_large_numbers() {
        let wire: Vec<String> =
            nonexistent_probes(6).iter().map(|(_, c)| String::from_utf8(c.encode()).unwrap()).collect();
        for w in [
            "LIST 7\r\n",
            "RETR 7\r\n",
            "LIST 0\r\n",
            "RETR 0\r\n",
            "LIST 18446744073709551616\r\n",
            "RETR 18446744073709551616\r\n",
        ] {
            assert!(wire.iter().any(|x| x == w), "{w}");
        }
        let retr_big = nonexistent_probes(6).pop().unwrap().1;
        assert_eq!(retr_big.expect(), Expect::MultiLine, "a wrongly accepted RETR must be read to its end");
    }
}
