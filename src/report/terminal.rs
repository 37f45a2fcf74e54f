//! The human summary printed at the end of `run`, `audit` and `fuzz`: a header, the audit's verdict
//! line, a table of verdicts per area, then every failure and error with its evidence (expected vs
//! actual, requirement, RFC section, scenario position `file:line:col`, and the end of the
//! transcript as a `C:`/`S:` dialogue). Readable at 80 columns; colour only when asked.

use super::view::{self, DialogueLine, Overall};
use super::RenderOptions;
use crate::results::{CheckResult, Counts, Report, RunKind, Severity, Verdict};
use comfy_table::{presets, Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};
use std::fmt::Write as _;

/// How many transcript entries each failure shows: enough for the exchange that went wrong and
/// what led to it; the full transcript is in the JSON/HTML reports.
const TRANSCRIPT_TAIL: usize = 12;
const DEFAULT_WIDTH: usize = 80;

const VERDICT_COLUMNS: [(Verdict, &str); 6] = [
    (Verdict::Pass, "Pass"),
    (Verdict::Fail, "Fail"),
    (Verdict::Error, "Error"),
    (Verdict::Skip, "Skip"),
    (Verdict::Xfail, "XFail"),
    (Verdict::Xpass, "XPass"),
];

/// Renders the terminal summary. Never fails; every server-sent string is cleaned of control
/// characters first, so a hostile greeting cannot drive the terminal.
pub fn render(report: &Report, opts: &RenderOptions) -> String {
    let width = opts.width.unwrap_or(DEFAULT_WIDTH).clamp(40, 1000);
    let p = Painter(opts.color);
    let mut out = String::new();
    header(&mut out, report, &p, width);
    out.push('\n');
    out.push_str(&area_table(report, opts.color, width));
    out.push('\n');
    let overall = Overall::of(report);
    let line = format!("{} — {}", overall.label(), view::counts_sentence(&report.counts()));
    let _ = writeln!(out, "\n{}", p.paint(&line, overall_color(overall), true));

    let findings = view::findings(report);
    if !findings.is_empty() || matches!(report.kind, RunKind::Audit | RunKind::AuditClient) {
        section(&mut out, "Findings by severity", &p);
        if findings.is_empty() {
            out.push_str("  none\n");
        }
        for r in findings {
            let sev = r.severity.map(|s| s.as_str().to_ascii_uppercase()).unwrap_or_default();
            let id = one_line(&r.id);
            let head = format!("  {} {id}", p.paint(&format!("{sev:<8}"), severity_color(r.severity), true));
            push_wrapped(&mut out, &head, &view::clean(&r.title), 13 + id.chars().count(), width);
        }
    }

    let attention = view::attention(report);
    if !attention.is_empty() {
        section(&mut out, "Failures and errors", &p);
        for r in attention {
            failure(&mut out, r, &p, width);
        }
    }

    let quiet: Vec<&CheckResult> =
        report.results.iter().filter(|r| matches!(r.verdict, Verdict::Skip | Verdict::Xfail)).collect();
    if !quiet.is_empty() {
        section(&mut out, "Skipped and expected failures", &p);
        for r in quiet {
            let label = format!("{:<5}", view::verdict_label(r.verdict));
            let id = one_line(&r.id);
            let head = format!("  {} {id}", p.paint(&label, verdict_color(r.verdict), false));
            let reason = r.message.as_deref().map(view::clean).unwrap_or_else(|| "no reason given".into());
            push_wrapped(&mut out, &head, &reason, 10 + id.chars().count(), width);
        }
    }
    out
}

fn header(out: &mut String, report: &Report, p: &Painter, width: usize) {
    let title = format!("{} — {}", view::kind_title(report.kind), view::clean(&report.target));
    for l in view::wrap(&title, width) {
        let _ = writeln!(out, "{}", p.paint(&l, None, true));
    }
    let run = format!(
        "{} {} · started {} · took {}",
        view::clean(&report.tool),
        view::clean(&report.tool_version),
        view::clean(&report.started_at),
        view::duration(report.duration_ms)
    );
    for l in view::wrap(&run, width) {
        let _ = writeln!(out, "{l}");
    }
    if let Some(g) = &report.server.greeting {
        field(out, "  ", "server", &view::clean(g), width);
    }
    if let Some(i) = &report.server.implementation {
        field(out, "  ", "implementation", &view::clean(i), width);
    }
    if let Some(seed) = report.seed {
        let _ = writeln!(out, "  seed: {seed}");
    }
    if report.incomplete {
        let msg = "INCOMPLETE: the run was cut short; these are the results gathered so far";
        let _ = writeln!(out, "{}", p.paint(msg, Some(Color::Yellow), true));
    }
    if let Some(s) = &report.summary {
        out.push('\n');
        let color = overall_color(Overall::of(report));
        for (i, l) in view::wrap(&format!("Verdict: {}", view::clean(s)), width).iter().enumerate() {
            let l = if i == 0 { l.clone() } else { format!("         {l}") };
            let _ = writeln!(out, "{}", p.paint(&l, color, true));
        }
    }
}

fn area_table(report: &Report, color: bool, width: usize) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_width(u16::try_from(width).unwrap_or(u16::MAX));
    if color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    let mut head = vec![Cell::new("Area")];
    head.extend(VERDICT_COLUMNS.iter().map(|(_, h)| Cell::new(h)));
    head.push(Cell::new("Total"));
    t.set_header(head);
    let mut all = Counts::default();
    let row = |name: &str, c: &Counts, bold: bool| {
        let mut cells = vec![Cell::new(view::clean(name))];
        for (v, _) in VERDICT_COLUMNS {
            let n = view::count_of(c, v);
            let mut cell = Cell::new(n).set_alignment(CellAlignment::Right);
            if color && n > 0 && v != Verdict::Pass {
                cell = cell.fg(verdict_color(v).unwrap_or(Color::Reset));
            }
            cells.push(cell);
        }
        cells.push(Cell::new(view::total(c)).set_alignment(CellAlignment::Right));
        if bold && color {
            cells = cells.into_iter().map(|c| c.add_attribute(Attribute::Bold)).collect();
        }
        cells
    };
    for (area, c) in view::tally_by_area(report) {
        for (v, _) in VERDICT_COLUMNS {
            for _ in 0..view::count_of(&c, v) {
                all.add(v);
            }
        }
        t.add_row(row(&area, &c, false));
    }
    t.add_row(row("Total", &all, true));
    t.to_string()
}

fn failure(out: &mut String, r: &CheckResult, p: &Painter, width: usize) {
    let mut head = p.paint(view::verdict_label(r.verdict), verdict_color(r.verdict), true);
    if let Some(s) = r.severity {
        head.push_str(&format!(" [{}]", p.paint(&s.as_str().to_ascii_uppercase(), severity_color(Some(s)), true)));
    }
    let id = one_line(&r.id);
    let head = format!("\n{head} {}", p.paint(&id, None, true));
    let indent =
        view::verdict_label(r.verdict).len() + r.severity.map_or(0, |s| s.as_str().len() + 3) + id.chars().count() + 3;
    push_wrapped(out, &head, &view::clean(&r.title), indent, width);
    if let Some(loc) = &r.location {
        let _ = writeln!(out, "  --> {}:{}:{}", view::clean(&loc.file), loc.line, loc.column);
    }
    let list = |v: &[String]| v.iter().map(|s| view::clean(s)).collect::<Vec<_>>().join(", ");
    if !r.requirements.is_empty() {
        field(out, "   ", "requirement", &list(&r.requirements), width);
    }
    if !r.rfc_refs.is_empty() {
        field(out, "   ", "rfc", &list(&r.rfc_refs), width);
    }
    if !r.references.is_empty() {
        field(out, "   ", "references", &list(&r.references), width);
    }
    let opt = |label: &str, v: &Option<String>, out: &mut String| {
        if let Some(v) = v {
            field(out, "   ", label, &view::clean(v), width);
        }
    };
    // Aligned, so the two values can be compared character by character.
    opt("expected", &r.expected, out);
    opt("actual  ", &r.actual, out);
    opt("message", &r.message, out);
    opt("remediation", &r.remediation, out);
    if !r.transcript.is_empty() {
        let (skipped, lines) = view::dialogue_tail(&r.transcript, TRANSCRIPT_TAIL);
        if skipped > 0 {
            let _ = writeln!(out, "   transcript (last {TRANSCRIPT_TAIL} of {} entries):", r.transcript.len());
        } else {
            let _ = writeln!(out, "   transcript:");
        }
        for l in lines {
            transcript_line(out, &l, p, width);
        }
    }
}

/// A dialogue line, hard-wrapped: continuation lines are indented under the text column.
fn transcript_line(out: &mut String, l: &DialogueLine, p: &Painter, width: usize) {
    let full = format!("   {}", l.render());
    let chars: Vec<char> = full.chars().collect();
    let indent = 3 + l.render().chars().count() - l.text.chars().count();
    let color = match l.prefix {
        "C:" => Some(Color::Cyan),
        "--" => Some(Color::DarkGrey),
        _ => None,
    };
    let first = chars.len().min(width);
    let _ = writeln!(out, "{}", p.paint(&chars[..first].iter().collect::<String>(), color, false));
    let room = width.saturating_sub(indent).max(20);
    for chunk in chars[first..].chunks(room) {
        let s: String = chunk.iter().collect();
        let _ = writeln!(out, "{}{}", " ".repeat(indent), p.paint(&s, color, false));
    }
}

/// An id for a heading: controls made visible, and no line break or tab to upset the layout.
fn one_line(s: &str) -> String {
    view::clean(s).replace(['\n', '\t'], " ")
}

/// `label: value`, the value word-wrapped and continued under itself. Trailing spaces in `label`
/// go after the colon (for alignment).
fn field(out: &mut String, indent: &str, label: &str, value: &str, width: usize) {
    let name = label.trim_end();
    let head = format!("{indent}{name}:{} ", &label[name.len()..]);
    let pad = head.chars().count();
    for (i, l) in view::wrap(value, width.saturating_sub(pad)).iter().enumerate() {
        if i == 0 {
            let _ = writeln!(out, "{head}{l}");
        } else {
            let _ = writeln!(out, "{}{l}", " ".repeat(pad));
        }
    }
}

/// `head` (already painted) followed by `text` wrapped to the width; `pad` is head's visible width.
fn push_wrapped(out: &mut String, head: &str, text: &str, pad: usize, width: usize) {
    let pad = pad.min(width / 2);
    for (i, l) in view::wrap(text, width.saturating_sub(pad)).iter().enumerate() {
        if i == 0 {
            let sep = if head.ends_with('\n') || text.is_empty() { "" } else { ": " };
            let _ = writeln!(out, "{head}{sep}{l}");
        } else {
            let _ = writeln!(out, "{}{l}", " ".repeat(pad));
        }
    }
}

fn section(out: &mut String, title: &str, p: &Painter) {
    let _ = writeln!(out, "\n{}", p.paint(title, None, true));
    let _ = writeln!(out, "{}", "─".repeat(title.chars().count()));
}

/// ANSI styling when colour is on; plain text otherwise.
struct Painter(bool);

impl Painter {
    fn paint(&self, s: &str, color: Option<Color>, bold: bool) -> String {
        if !self.0 || (color.is_none() && !bold) {
            return s.to_string();
        }
        let mut codes = Vec::new();
        if bold {
            codes.push("1");
        }
        if let Some(c) = color {
            codes.push(ansi(c));
        }
        format!("\x1b[{}m{s}\x1b[0m", codes.join(";"))
    }
}

fn ansi(c: Color) -> &'static str {
    match c {
        Color::Red => "31",
        Color::Green => "32",
        Color::Yellow => "33",
        Color::Blue => "34",
        Color::Magenta => "35",
        Color::Cyan => "36",
        Color::DarkGrey => "90",
        _ => "39",
    }
}

fn verdict_color(v: Verdict) -> Option<Color> {
    match v {
        Verdict::Pass => Some(Color::Green),
        Verdict::Fail | Verdict::Xpass => Some(Color::Red),
        Verdict::Error => Some(Color::Magenta),
        Verdict::Skip => Some(Color::Yellow),
        Verdict::Xfail => Some(Color::Blue),
    }
}

fn severity_color(s: Option<Severity>) -> Option<Color> {
    match s {
        Some(Severity::Critical | Severity::High) => Some(Color::Red),
        Some(Severity::Medium) => Some(Color::Yellow),
        _ => Some(Color::Blue),
    }
}

fn overall_color(o: Overall) -> Option<Color> {
    match o {
        Overall::Pass => Some(Color::Green),
        Overall::Fail => Some(Color::Red),
        Overall::Error => Some(Color::Magenta),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::SourceLocation;
    use crate::transcript::{Direction, Entry};

    fn report() -> Report {
        let mut r = Report::new(RunKind::Run, "pop3://127.0.0.1:1110");
        r.server.greeting = Some("POP3 ready \x1b[2J".into());
        let mut f = CheckResult::new("rfc1939/retr", "RETR undoes byte-stuffing", "RFC 1939", Verdict::Fail);
        f.requirements = vec!["1939-multiline".into()];
        f.rfc_refs = vec!["RFC 1939 §3".into()];
        f.expected = Some("..dot".into());
        f.actual = Some(".dot ".repeat(40));
        f.location = Some(SourceLocation { file: "s/retr.yaml".into(), line: 12, column: 5 });
        f.transcript = (0..20)
            .map(|i| Entry { t_ms: i as f64, dir: Direction::Client, tls: i > 10, text: format!("NOOP {i}\\r\\n") })
            .collect();
        r.results = vec![f, CheckResult::new("p", "passes", "RFC 2449", Verdict::Pass)];
        r
    }

    #[test]
    fn plain_output_fits_80_columns_and_has_no_escapes() {
        let s = render(&report(), &RenderOptions { color: false, width: Some(80) });
        for l in s.lines() {
            assert!(l.chars().count() <= 80, "too wide: {l:?}");
        }
        assert!(!s.contains('\x1b'), "{s}");
        assert!(s.contains("--> s/retr.yaml:12:5"));
        assert!(s.contains("requirement: 1939-multiline"));
        assert!(s.contains("transcript (last 12 of 20 entries)"));
        assert!(s.contains("[tls] C: NOOP 19") && !s.contains("NOOP 7"));
        assert!(s.contains("\\x1b[2J"), "greeting escape must be made visible");
    }

    #[test]
    fn color_output_paints_failures() {
        let s = render(&report(), &RenderOptions { color: true, width: None });
        assert!(s.contains("\x1b[1;31mFAIL\x1b[0m"), "{s}");
    }

    #[test]
    fn audit_prints_summary_and_findings_by_severity() {
        let mut r = Report::new(RunKind::Audit, "pop3://h");
        r.summary = Some("TLS enforced: no".into());
        for (id, s) in [("A01", Severity::Low), ("A06", Severity::Critical), ("A03", Severity::Medium)] {
            let mut f = CheckResult::new(id, "t", "TLS audit", Verdict::Fail);
            f.severity = Some(s);
            r.results.push(f);
        }
        let s = render(&r, &RenderOptions::default());
        assert!(s.contains("Verdict: TLS enforced: no"));
        let (a06, a03, a01) = (s.find("CRITICAL").unwrap(), s.find("MEDIUM").unwrap(), s.find("LOW").unwrap());
        assert!(a06 < a03 && a03 < a01, "{s}");
    }

    #[test]
    fn never_panics_on_odd_input() {
        let mut r = Report::new(RunKind::Fuzz, "");
        render(&r, &RenderOptions { color: true, width: Some(0) });
        let mut c = CheckResult::new("", "", "", Verdict::Error);
        c.message = Some("\u{0}\u{7f}\u{202e}é".repeat(1000));
        c.transcript = vec![Entry { t_ms: f64::NAN, dir: Direction::Note, tls: true, text: "x".repeat(100_000) }];
        r.results = vec![c];
        let s = render(&r, &RenderOptions { color: false, width: Some(45) });
        assert!(s.lines().all(|l| l.chars().count() <= 45), "{s}");
    }
}
