//! GitHub-flavoured Markdown for a pull-request comment: a title with the overall verdict and the
//! target, the audit's verdict line, a table per area, findings by severity, then each failure with
//! its details and its transcript folded in a `<details>` block.
//!
//! Everything from the model is escaped: GitHub renders inline HTML, so a server answer such as
//! `-ERR <bad>` or the transcript's `PASS <redacted>` would otherwise vanish as an unknown tag.

use super::view::{self, Overall};
use crate::results::{CheckResult, Report, Verdict};
use std::fmt::Write as _;

/// Transcript entries per failure; GitHub caps a comment at 65 536 characters.
const TRANSCRIPT_TAIL: usize = 30;
/// Failures detailed before the rest are only counted, for the same reason.
const MAX_DETAILED: usize = 40;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let overall = Overall::of(report);
    let _ = writeln!(
        out,
        "## {} {} — {} of {}\n",
        overall_icon(overall),
        overall.label(),
        view::kind_title(report.kind),
        code(&report.target)
    );
    let mut meta = vec![
        format!("**{} {}**", text(&report.tool), text(&report.tool_version)),
        format!("started {}", text(&report.started_at)),
        format!("took {}", view::duration(report.duration_ms)),
    ];
    if let Some(seed) = report.seed {
        meta.push(format!("seed {}", code(&seed.to_string())));
    }
    let _ = writeln!(out, "{}\n", meta.join(" · "));
    if let Some(g) = &report.server.greeting {
        let _ = writeln!(out, "- **Server greeting:** {}", code(g));
    }
    if let Some(i) = &report.server.implementation {
        let _ = writeln!(out, "- **Implementation:** {}", code(i));
    }
    if report.server.greeting.is_some() || report.server.implementation.is_some() {
        out.push('\n');
    }
    if let Some(s) = &report.summary {
        let _ = writeln!(out, "> **Verdict:** {}\n", text(s));
    }
    if report.incomplete {
        out.push_str("> [!WARNING]\n> Incomplete: the run was cut short; these are the results gathered so far.\n\n");
    }
    let _ = writeln!(out, "{}\n", view::counts_sentence(&report.counts()));

    area_table(&mut out, report);
    findings_table(&mut out, report);

    let attention = view::attention(report);
    if !attention.is_empty() {
        out.push_str("### Failures and errors\n\n");
        for r in attention.iter().take(MAX_DETAILED) {
            detail(&mut out, r);
        }
        if attention.len() > MAX_DETAILED {
            let _ = writeln!(out, "…and {} more; see the HTML or JSON report.\n", attention.len() - MAX_DETAILED);
        }
    }

    let quiet: Vec<&CheckResult> =
        report.results.iter().filter(|r| matches!(r.verdict, Verdict::Skip | Verdict::Xfail)).collect();
    if !quiet.is_empty() {
        out.push_str("<details><summary>Skipped and expected failures</summary>\n\n");
        out.push_str("| Verdict | Check | Reason |\n|---|---|---|\n");
        for r in quiet {
            let reason = r.message.as_deref().unwrap_or("no reason given");
            let _ = writeln!(out, "| {} | {} | {} |", view::verdict_label(r.verdict), cell_code(&r.id), text(reason));
        }
        out.push_str("\n</details>\n");
    }
    out
}

fn area_table(out: &mut String, report: &Report) {
    out.push_str("| Area | Pass | Fail | Error | Skip | XFail | XPass | Total |\n");
    out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for (area, c) in view::tally_by_area(report) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            text(&area),
            c.pass,
            c.fail,
            c.error,
            c.skip,
            c.xfail,
            c.xpass,
            view::total(&c)
        );
    }
    let c = report.counts();
    let _ = writeln!(
        out,
        "| **Total** | **{}** | **{}** | **{}** | **{}** | **{}** | **{}** | **{}** |\n",
        c.pass,
        c.fail,
        c.error,
        c.skip,
        c.xfail,
        c.xpass,
        view::total(&c)
    );
}

fn findings_table(out: &mut String, report: &Report) {
    let findings = view::findings(report);
    if findings.is_empty() {
        return;
    }
    out.push_str("### Findings by severity\n\n| Severity | Check | Title | References |\n|---|---|---|---|\n");
    for r in findings {
        let sev = r.severity.map(|s| s.as_str().to_ascii_uppercase()).unwrap_or_default();
        let refs: Vec<String> = r.rfc_refs.iter().chain(&r.references).map(|s| text(s)).collect();
        let _ = writeln!(out, "| **{sev}** | {} | {} | {} |", cell_code(&r.id), text(&r.title), refs.join(", "));
    }
    out.push('\n');
}

fn detail(out: &mut String, r: &CheckResult) {
    let sev = r.severity.map(|s| format!(" [{}]", s.as_str().to_ascii_uppercase())).unwrap_or_default();
    let _ = writeln!(
        out,
        "#### {} {}{sev} {}: {}\n",
        verdict_icon(r.verdict),
        view::verdict_label(r.verdict),
        code(&r.id),
        text(&r.title)
    );
    if let Some(l) = &r.location {
        let _ = writeln!(out, "- **Location:** {}", code(&format!("{}:{}:{}", l.file, l.line, l.column)));
    }
    let codes = |v: &[String]| v.iter().map(|s| code(s)).collect::<Vec<_>>().join(", ");
    let texts = |v: &[String]| v.iter().map(|s| text(s)).collect::<Vec<_>>().join(", ");
    if !r.requirements.is_empty() {
        let _ = writeln!(out, "- **Requirement:** {}", codes(&r.requirements));
    }
    if !r.rfc_refs.is_empty() {
        let _ = writeln!(out, "- **RFC:** {}", texts(&r.rfc_refs));
    }
    if !r.references.is_empty() {
        let _ = writeln!(out, "- **References:** {}", texts(&r.references));
    }
    for (label, value, literal) in [
        ("Expected", &r.expected, true),
        ("Actual", &r.actual, true),
        ("Message", &r.message, false),
        ("Remediation", &r.remediation, false),
    ] {
        let Some(v) = value else { continue };
        if literal && (v.contains('\n') || v.chars().count() > 100) {
            let _ = writeln!(out, "- **{label}:**\n\n{}", indent(&fenced(v, ""), "  "));
        } else if literal {
            let _ = writeln!(out, "- **{label}:** {}", code(v));
        } else {
            let _ = writeln!(out, "- **{label}:** {}", text(v));
        }
    }
    out.push('\n');
    if !r.transcript.is_empty() {
        let (skipped, lines) = view::dialogue_tail(&r.transcript, TRANSCRIPT_TAIL);
        let what = if skipped > 0 {
            format!("Transcript (last {TRANSCRIPT_TAIL} of {} entries)", r.transcript.len())
        } else {
            format!("Transcript ({})", entries(r.transcript.len()))
        };
        let body: Vec<String> = lines.iter().map(|l| l.render()).collect();
        let _ =
            writeln!(out, "<details><summary>{what}</summary>\n\n{}\n</details>\n", fenced(&body.join("\n"), "text"));
    }
}

fn entries(n: usize) -> String {
    if n == 1 {
        "1 entry".to_string()
    } else {
        format!("{n} entries")
    }
}

fn indent(s: &str, by: &str) -> String {
    s.lines().map(|l| format!("{by}{l}\n")).collect()
}

fn overall_icon(o: Overall) -> &'static str {
    match o {
        Overall::Pass => "✅",
        Overall::Fail => "❌",
        Overall::Error => "⚠️",
    }
}

fn verdict_icon(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅",
        Verdict::Fail | Verdict::Xpass => "❌",
        Verdict::Error => "⚠️",
        Verdict::Skip => "⏭️",
        Verdict::Xfail => "☑️",
    }
}

/// Inline text (never at the start of a line), safe in a paragraph and in a table cell: inline
/// Markdown punctuation backslash-escaped,
/// `<` and `&` as entities (GitHub renders inline HTML), line breaks as spaces, controls visible.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in view::clean(s).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\t' => out.push(' '),
            // Only what is special in the middle of a line: `text` never starts one.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// An inline code span for a table cell: as [`code`], with `|` escaped — GFM splits cells at a bare
/// `|` even inside a code span, and undoes the escape there (elsewhere the backslash would show).
pub(crate) fn cell_code(s: &str) -> String {
    code(&s.replace('|', "\\|"))
}

/// An inline code span that holds any text: a fence longer than any backtick run inside, padded when
/// the text starts or ends with a backtick.
pub(crate) fn code(s: &str) -> String {
    let s = view::clean(s).replace(['\n', '\t'], " ");
    if s.is_empty() {
        return "` `".to_string();
    }
    let longest = longest_run(&s, '`');
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || (s.starts_with(' ') && s.ends_with(' ')) { " " } else { "" };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// A fenced code block that no content can close early.
pub(crate) fn fenced(s: &str, lang: &str) -> String {
    let s = view::clean(s);
    let fence = "`".repeat((longest_run(&s, '`') + 1).max(3));
    format!("{fence}{lang}\n{s}\n{fence}\n")
}

fn longest_run(s: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        cur = if c == ch { cur + 1 } else { 0 };
        best = best.max(cur);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{RunKind, Severity};
    use crate::transcript::{Direction, Entry};

    #[test]
    fn text_escapes_html_and_markdown() {
        assert_eq!(text("PASS <redacted> & *x* | y"), "PASS &lt;redacted&gt; &amp; \\*x\\* \\| y");
        assert_eq!(text("a\nb"), "a b");
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(code("a|b"), "`a|b`");
        assert_eq!(cell_code("a|b"), "`a\\|b`");
        assert_eq!(code(""), "` `");
    }

    #[test]
    fn fenced_blocks_cannot_be_closed_by_content() {
        let f = fenced("x\n```\ny", "text");
        assert!(f.starts_with("````text\n") && f.ends_with("\n````\n"), "{f}");
    }

    #[test]
    fn report_has_title_tables_and_details() {
        let mut r = Report::new(RunKind::Audit, "pop3://h:110");
        r.summary = Some("TLS enforced: no".into());
        let mut f = CheckResult::new("A06", "STLS injection", "TLS audit", Verdict::Fail);
        f.severity = Some(Severity::Critical);
        f.actual = Some("-ERR <x>".into());
        f.transcript =
            vec![Entry { t_ms: 0.0, dir: Direction::Client, tls: false, text: "PASS <redacted>\\r\\n".into() }];
        r.results = vec![f];
        let md = render(&r);
        assert!(md.starts_with("## ❌ FAIL — POP3 TLS audit of `pop3://h:110`"), "{md}");
        assert!(md.contains("> **Verdict:** TLS enforced: no"), "{md}");
        assert!(md.contains("| **CRITICAL** | `A06` |"), "{md}");
        assert!(md.contains("- **Actual:** `-ERR <x>`"), "{md}");
        assert!(md.contains("<details><summary>Transcript (1 entry)</summary>\n\n```text\n"), "{md}");
        assert!(md.contains("C: PASS <redacted>"), "{md}");
    }
}
