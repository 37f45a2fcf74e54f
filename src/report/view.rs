//! Figures derived from a [`Report`] that several formats show the same way: tallies per area,
//! the overall verdict, the order findings are listed in, and the transcript as an RFC-style
//! dialogue (`C:` client, `S:` server, `--` tester note). Keeping them here keeps every format
//! telling the same story.

use crate::results::{CheckResult, Counts, Report, RunKind, Verdict};
use crate::transcript::{Direction, Entry};

/// The run's overall verdict, worst first: an error means the run cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overall {
    Error,
    Fail,
    Pass,
}

impl Overall {
    pub(crate) fn of(report: &Report) -> Overall {
        let c = report.counts();
        if c.error > 0 {
            Overall::Error
        } else if c.fail > 0 || c.xpass > 0 {
            Overall::Fail
        } else {
            Overall::Pass
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Overall::Error => "ERROR",
            Overall::Fail => "FAIL",
            Overall::Pass => "PASS",
        }
    }

    /// Lower-case, for CSS classes.
    pub(crate) fn class(self) -> &'static str {
        match self {
            Overall::Error => "error",
            Overall::Fail => "fail",
            Overall::Pass => "pass",
        }
    }
}

pub(crate) fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Error => "ERROR",
        Verdict::Skip => "SKIP",
        Verdict::Xfail => "XFAIL",
        Verdict::Xpass => "XPASS",
    }
}

/// Lower-case verdict, for CSS classes and JSON-ish texts.
pub(crate) fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
        Verdict::Skip => "skip",
        Verdict::Xfail => "xfail",
        Verdict::Xpass => "xpass",
    }
}

pub(crate) fn kind_title(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Run => "POP3 conformance run",
        RunKind::Audit => "POP3 TLS audit",
        RunKind::Fuzz => "POP3 fuzz run",
        RunKind::AuditClient => "POP3 client audit",
    }
}

/// One line of counts: `3 passed, 1 failed, 1 error, 1 skipped, 1 xfail` (zeros left out, except
/// `passed`).
pub(crate) fn counts_sentence(c: &Counts) -> String {
    let mut parts = vec![format!("{} passed", c.pass)];
    let more = [
        (c.fail, "failed"),
        (c.error, if c.error == 1 { "error" } else { "errors" }),
        (c.skip, "skipped"),
        (c.xfail, "xfail"),
        (c.xpass, "xpass"),
    ];
    parts.extend(more.iter().filter(|(n, _)| *n > 0).map(|(n, w)| format!("{n} {w}")));
    parts.join(", ")
}

pub(crate) fn count_of(c: &Counts, v: Verdict) -> usize {
    match v {
        Verdict::Pass => c.pass,
        Verdict::Fail => c.fail,
        Verdict::Error => c.error,
        Verdict::Skip => c.skip,
        Verdict::Xfail => c.xfail,
        Verdict::Xpass => c.xpass,
    }
}

pub(crate) fn total(c: &Counts) -> usize {
    c.pass + c.fail + c.error + c.skip + c.xfail + c.xpass
}

/// Verdict counts per area, areas in the order they first appear in the results.
pub(crate) fn tally_by_area(report: &Report) -> Vec<(String, Counts)> {
    let mut out: Vec<(String, Counts)> = Vec::new();
    for r in &report.results {
        let i = match out.iter().position(|(a, _)| *a == r.area) {
            Some(i) => i,
            None => {
                out.push((r.area.clone(), Counts::default()));
                out.len() - 1
            }
        };
        out[i].1.add(r.verdict);
    }
    out
}

/// Results grouped by area (first-appearance order), results in their own order.
pub(crate) fn by_area(report: &Report) -> Vec<(&str, Vec<&CheckResult>)> {
    let mut out: Vec<(&str, Vec<&CheckResult>)> = Vec::new();
    for r in &report.results {
        match out.iter_mut().find(|(a, _)| *a == r.area) {
            Some((_, v)) => v.push(r),
            None => out.push((&r.area, vec![r])),
        }
    }
    out
}

/// The results a reader must look at — failures, stale xfails, errors — most severe first:
/// findings by severity (critical first), then conformance failures, xpasses, errors; ties keep
/// the run's order.
pub(crate) fn attention(report: &Report) -> Vec<&CheckResult> {
    let mut v: Vec<&CheckResult> = report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Xpass | Verdict::Error))
        .collect();
    v.sort_by_key(|r| {
        let verdict_rank = match r.verdict {
            Verdict::Fail => 0,
            Verdict::Xpass => 1,
            _ => 2,
        };
        (verdict_rank, std::cmp::Reverse(r.severity))
    });
    v
}

/// Failed results that carry a severity (security findings), most severe first.
pub(crate) fn findings(report: &Report) -> Vec<&CheckResult> {
    let mut v: Vec<&CheckResult> =
        report.results.iter().filter(|r| r.verdict == Verdict::Fail && r.severity.is_some()).collect();
    v.sort_by_key(|r| std::cmp::Reverse(r.severity));
    v
}

/// `1.234 s`, `12 ms`, `1 min 03 s`.
pub(crate) fn duration(ms: f64) -> String {
    let ms = if ms.is_finite() && ms > 0.0 { ms } else { 0.0 };
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        let s = (ms / 1000.0).round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// Replaces control characters (other than line feed and tab) with a visible `\xNN` — server-sent
/// text such as the greeting reaches the terminal and HTML through here, and an ESC must never
/// reach a terminal raw. Bidirectional overrides are shown as escapes too, so that text cannot
/// display in an order other than the one it has.
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if (c.is_control() && c != '\n' && c != '\t') || bidi {
            if (c as u32) < 0x100 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One line of the dialogue: an entry split at its CRLFs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DialogueLine {
    pub t_ms: f64,
    pub tls: bool,
    /// `C:`, `S:` or `--`.
    pub prefix: &'static str,
    pub text: String,
}

impl DialogueLine {
    /// `   12.0 ms       C: USER mrose` — time, TLS marker, RFC-style prefix, text.
    pub(crate) fn render(&self) -> String {
        let tls = if self.tls { "[tls]" } else { "     " };
        let t = if self.t_ms.is_finite() { self.t_ms } else { 0.0 };
        let line = format!("{t:>9.1} ms {tls} {} {}", self.prefix, self.text);
        line.trim_end().to_string()
    }
}

/// The transcript entries as dialogue lines. The recorded text shows CR and LF as `\r` `\n`;
/// every `\r\n` ends a line and is not shown (as in RFC examples), while a bare `\n` or `\r` stays
/// visible at the end of its line — evidence of the line-ending violations the tester looks for.
pub(crate) fn dialogue(entries: &[Entry]) -> Vec<DialogueLine> {
    let mut out = Vec::new();
    for e in entries {
        let prefix = match e.dir {
            Direction::Client => "C:",
            Direction::Server => "S:",
            Direction::Note => "--",
        };
        for text in split_escaped_lines(&clean(&e.text)) {
            out.push(DialogueLine { t_ms: e.t_ms, tls: e.tls, prefix, text });
        }
    }
    out
}

/// The last `max` entries as dialogue lines, with how many entries came before them.
pub(crate) fn dialogue_tail(entries: &[Entry], max: usize) -> (usize, Vec<DialogueLine>) {
    let skip = entries.len().saturating_sub(max);
    (skip, dialogue(&entries[skip..]))
}

/// Splits printable transcript text at escaped line ends. `\\` is an escaped backslash, so the
/// text is walked escape by escape rather than searched for `\r\n`.
fn split_escaped_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            // A raw newline (notes may hold one): end the line.
            lines.push(std::mem::take(&mut cur));
            continue;
        }
        if c != '\\' {
            cur.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => {
                let mut probe = chars.clone();
                if probe.next() == Some('\\') && probe.next() == Some('n') {
                    chars = probe;
                    lines.push(std::mem::take(&mut cur));
                } else {
                    cur.push_str("\\r");
                }
            }
            Some('n') => {
                cur.push_str("\\n");
                lines.push(std::mem::take(&mut cur));
            }
            Some(other) => {
                cur.push('\\');
                cur.push(other);
            }
            None => cur.push('\\'),
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Simple greedy word wrap to `width` characters (at least 20); words longer than a line are cut.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(20);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut len = 0;
        for word in para.split(' ') {
            let wlen = word.chars().count();
            if len > 0 && len + 1 + wlen > width {
                out.push(std::mem::take(&mut line));
                len = 0;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            let mut rest: Vec<char> = word.chars().collect();
            while len + rest.len() > width {
                let take = width - len;
                line.extend(rest.drain(..take));
                out.push(std::mem::take(&mut line));
                len = 0;
            }
            len += rest.len();
            line.extend(rest);
        }
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: Direction, text: &str) -> Entry {
        Entry { t_ms: 1.5, dir, tls: false, text: text.into() }
    }

    #[test]
    fn crlf_splits_lines_and_bare_lf_stays_visible() {
        let lines = dialogue(&[entry(Direction::Server, "+OK 2 messages\\r\\n1 120\\n.\\r\\n")]);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["+OK 2 messages", "1 120\\n", "."]);
        assert!(lines.iter().all(|l| l.prefix == "S:"));
    }

    #[test]
    fn escaped_backslash_is_not_a_line_end() {
        assert_eq!(split_escaped_lines("a\\\\r\\\\nb\\r\\n"), ["a\\\\r\\\\nb"]);
        assert_eq!(split_escaped_lines("partial\\r"), ["partial\\r"]);
        assert_eq!(split_escaped_lines(""), [""]);
        assert_eq!(split_escaped_lines("trailing\\"), ["trailing\\"]);
    }

    #[test]
    fn tail_counts_omitted_entries() {
        let entries: Vec<Entry> = (0..20).map(|i| entry(Direction::Client, &format!("NOOP {i}\\r\\n"))).collect();
        let (skipped, lines) = dialogue_tail(&entries, 12);
        assert_eq!(skipped, 8);
        assert_eq!(lines.first().unwrap().text, "NOOP 8");
        assert!(lines[0].render().ends_with("C: NOOP 8"));
    }

    #[test]
    fn clean_makes_controls_visible() {
        assert_eq!(clean("a\x1b[31mb\r\n\tc"), "a\\x1b[31mb\\x0d\n\tc");
    }

    #[test]
    fn wrap_respects_width_and_cuts_long_words() {
        let lines = wrap("aaa bbb ccc ddd eee fff ggg hhh iii jjj", 20);
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        let long = "x".repeat(50);
        assert_eq!(wrap(&long, 20).len(), 3);
        assert_eq!(wrap("", 30), [""]);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(12.4), "12 ms");
        assert_eq!(duration(1234.0), "1.23 s");
        assert_eq!(duration(63_000.0), "1 min 03 s");
        assert_eq!(duration(f64::NAN), "0 ms");
    }
}
