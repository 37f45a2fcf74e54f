//! One self-contained HTML page: inline CSS, no script, no external asset (a Content-Security-Policy
//! forbids any), so it opens offline, attaches to a ticket and prints. Shows the target, date, tool
//! version, server greeting and IMPLEMENTATION, an overall verdict banner, a table per area,
//! findings by severity with remediation and references, each failure with expected vs actual and
//! its transcript (`<details>`), and every result grouped by area.
//!
//! Every string from the model goes through `esc`; nothing is trusted, the server's greeting
//! least of all.

use super::view::{self, Overall};
use crate::results::{CheckResult, Report, Verdict};
use std::fmt::Write as _;

/// Transcript entries shown per result; the JSON report keeps them all.
const MAX_TRANSCRIPT: usize = 500;

pub(crate) const CSS: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa;
--pass:#1a7f37;--fail:#cf222e;--error:#8250df;--skip:#9a6700;--xfail:#0969da;--xpass:#bc4c00}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:var(--bg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header,main,footer{max-width:1100px;margin:0 auto;padding:0 24px}
header{padding-top:28px}
.eyebrow{margin:0;color:var(--muted);font-size:13px;text-transform:uppercase;letter-spacing:.06em}
h1{margin:4px 0 12px;font-size:26px;word-break:break-all}
h2{margin:32px 0 12px;font-size:19px;border-bottom:1px solid var(--line);padding-bottom:6px}
h3{margin:0 0 10px;font-size:16px;display:flex;gap:8px;align-items:baseline;flex-wrap:wrap}
code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
code{background:var(--soft);border-radius:4px;padding:1px 5px;word-break:break-word}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:10px 12px;margin:0;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.meta{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:6px 24px;margin:0}
.meta div{min-width:0}.meta dt{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.meta dd{margin:0;word-break:break-word}
.banner{margin:24px 0 8px;padding:16px 20px;border-radius:8px;border:1px solid;border-left-width:8px;display:flex;flex-wrap:wrap;gap:6px 16px;align-items:baseline}
.banner strong{font-size:24px;letter-spacing:.04em}
.banner .summary{flex-basis:100%;margin:0;font-weight:600}
.banner-pass{border-color:var(--pass);background:#dafbe1;color:#116329}
.banner-fail{border-color:var(--fail);background:#ffebe9;color:#a40e26}
.banner-error{border-color:var(--error);background:#fbefff;color:#6639ba}
.incomplete{padding:8px 12px;border-radius:6px;background:#fff8c5;border:1px solid #d4a72c}
table{border-collapse:collapse;width:100%;margin:0 0 8px}
th,td{border-bottom:1px solid var(--line);padding:6px 10px;text-align:left;vertical-align:top}
th{background:var(--soft);font-size:13px}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;width:4.5em}
tr.total td{font-weight:700;border-top:2px solid var(--line)}
td.zero{color:#b0b8c1}
.badge{display:inline-block;min-width:4.2em;text-align:center;border-radius:12px;padding:0 8px;font-size:12px;font-weight:700;color:#fff;letter-spacing:.03em}
.pass{background:var(--pass)}.fail{background:var(--fail)}.error{background:var(--error)}
.skip{background:var(--skip)}.xfail{background:var(--xfail)}.xpass{background:var(--xpass)}
.sev{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;font-weight:700;border:1px solid}
.sev-critical{color:#fff;background:#82071e;border-color:#82071e}.sev-high{color:#a40e26;border-color:#cf222e}
.sev-medium{color:#7d4e00;border-color:#bf8700}.sev-low,.sev-info{color:#0550ae;border-color:#0969da}
article{border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin:0 0 14px;break-inside:avoid}
article.v-fail,article.v-xpass{border-left:5px solid var(--fail)}article.v-error{border-left:5px solid var(--error)}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0 0 10px}
.facts dt{color:var(--muted);font-weight:600}.facts dd{margin:0;min-width:0}
details{margin-top:8px}summary{cursor:pointer;color:var(--xfail);font-weight:600}
.transcript .t{color:var(--muted)}.transcript .tls{color:var(--pass)}
.transcript .c{color:#0550ae}.transcript .note{color:var(--muted);font-style:italic}
.muted{color:var(--muted)}
footer{margin-top:40px;padding-bottom:32px;color:var(--muted);font-size:13px;border-top:1px solid var(--line);padding-top:12px}
@media print{body{font-size:11pt}header,main,footer{max-width:none;padding:0}
.banner,.badge,.sev,th,code,pre{-webkit-print-color-adjust:exact;print-color-adjust:exact}
details::details-content{content-visibility:visible;display:block}summary{color:var(--fg)}
h2{break-after:avoid}}
"#;

pub fn render(report: &Report) -> String {
    let overall = Overall::of(report);
    let kind = view::kind_title(report.kind);
    let mut o = String::with_capacity(16 * 1024);
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    o.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    let _ = writeln!(o, "<meta name=\"generator\" content=\"{} {}\">", esc(&report.tool), esc(&report.tool_version));
    let _ = writeln!(o, "<title>{} · {kind} · {}</title>", overall.label(), esc(&report.target));
    let _ = writeln!(o, "<style>{CSS}</style>\n</head>\n<body>");

    // Header: what was tested, when, with what.
    o.push_str("<header>\n");
    let _ = writeln!(o, "<p class=\"eyebrow\">{} {} · {kind}</p>", esc(&report.tool), esc(&report.tool_version));
    let _ = writeln!(o, "<h1>{}</h1>\n<dl class=\"meta\">", esc(&report.target));
    meta(&mut o, "Started", &esc(&report.started_at));
    meta(&mut o, "Duration", &esc(&view::duration(report.duration_ms)));
    if let Some(g) = &report.server.greeting {
        meta(&mut o, "Server greeting", &format!("<code>{}</code>", esc(g)));
    }
    if let Some(i) = &report.server.implementation {
        meta(&mut o, "Implementation", &format!("<code>{}</code>", esc(i)));
    }
    if !report.server.capabilities.is_empty() {
        let caps: Vec<String> = report.server.capabilities.iter().map(|c| format!("<code>{}</code>", esc(c))).collect();
        meta(&mut o, "Capabilities", &caps.join(" "));
    }
    if let Some(seed) = report.seed {
        meta(&mut o, "Seed", &format!("<code>{seed}</code>"));
    }
    o.push_str("</dl>\n</header>\n<main>\n");

    // The verdict first.
    let _ = writeln!(
        o,
        "<section id=\"verdict\" class=\"banner banner-{}\" role=\"status\"><strong>{}</strong><span>{}</span>",
        overall.class(),
        overall.label(),
        esc(&view::counts_sentence(&report.counts()))
    );
    if let Some(s) = &report.summary {
        let _ = writeln!(o, "<p class=\"summary\">{}</p>", esc(s));
    }
    o.push_str("</section>\n");
    if report.incomplete {
        o.push_str("<p class=\"incomplete\"><strong>Incomplete:</strong> the run was cut short; these are the results gathered so far.</p>\n");
    }

    area_table(&mut o, report);
    findings(&mut o, report);

    let attention = view::attention(report);
    if !attention.is_empty() {
        o.push_str("<section id=\"failures\">\n<h2>Failures and errors</h2>\n");
        for r in attention {
            article(&mut o, report, r);
        }
        o.push_str("</section>\n");
    }
    all_results(&mut o, report);
    let _ = writeln!(
        o,
        "</main>\n<footer>Generated by {} {} from results model schema {}. Credentials are redacted in transcripts when recorded.</footer>\n</body>\n</html>",
        esc(&report.tool),
        esc(&report.tool_version),
        report.schema_version
    );
    o
}

fn meta(o: &mut String, label: &str, html: &str) {
    let _ = writeln!(o, "<div><dt>{label}</dt><dd>{html}</dd></div>");
}

fn area_table(o: &mut String, report: &Report) {
    o.push_str("<section id=\"areas\">\n<h2>Results by area</h2>\n<table>\n<thead><tr><th>Area</th>");
    for h in ["Pass", "Fail", "Error", "Skip", "XFail", "XPass", "Total"] {
        let _ = write!(o, "<th class=\"n\">{h}</th>");
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    let row = |o: &mut String, name: &str, c: &crate::results::Counts, class: &str| {
        let _ = write!(o, "<tr{class}><td>{}</td>", esc(name));
        for n in [c.pass, c.fail, c.error, c.skip, c.xfail, c.xpass, view::total(c)] {
            let zero = if n == 0 { " zero" } else { "" };
            let _ = write!(o, "<td class=\"n{zero}\">{n}</td>");
        }
        o.push_str("</tr>\n");
    };
    for (area, c) in view::tally_by_area(report) {
        row(o, &area, &c, "");
    }
    row(o, "Total", &report.counts(), " class=\"total\"");
    o.push_str("</tbody>\n</table>\n</section>\n");
}

fn findings(o: &mut String, report: &Report) {
    let findings = view::findings(report);
    if findings.is_empty() {
        return;
    }
    o.push_str("<section id=\"findings\">\n<h2>Findings by severity</h2>\n<table>\n");
    o.push_str("<thead><tr><th>Severity</th><th>Check</th><th>Title</th><th>Remediation</th><th>References</th></tr></thead>\n<tbody>\n");
    for r in findings {
        let refs: Vec<String> = r.rfc_refs.iter().chain(&r.references).map(|s| esc(s)).collect();
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td><a href=\"#{}\"><code>{}</code></a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            severity_badge(r),
            anchor(report, r),
            esc(&r.id),
            esc(&r.title),
            r.remediation.as_deref().map(esc).unwrap_or_default(),
            refs.join(", ")
        );
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

fn article(o: &mut String, report: &Report, r: &CheckResult) {
    let _ = writeln!(o, "<article id=\"{}\" class=\"v-{}\">", anchor(report, r), view::verdict_class(r.verdict));
    let _ = writeln!(
        o,
        "<h3>{} {}<code>{}</code> <span>{}</span></h3>",
        verdict_badge(r.verdict),
        severity_badge(r),
        esc(&r.id),
        esc(&r.title)
    );
    o.push_str("<dl class=\"facts\">\n");
    let mut fact = |label: &str, html: String| {
        let _ = writeln!(o, "<dt>{label}</dt><dd>{html}</dd>");
    };
    if let Some(l) = &r.location {
        fact("Location", format!("<code>{}:{}:{}</code>", esc(&l.file), l.line, l.column));
    }
    let codes = |v: &[String]| v.iter().map(|s| format!("<code>{}</code>", esc(s))).collect::<Vec<_>>().join(" ");
    if !r.requirements.is_empty() {
        fact("Requirement", codes(&r.requirements));
    }
    if !r.rfc_refs.is_empty() {
        fact("RFC", esc(&r.rfc_refs.join(", ")));
    }
    if !r.references.is_empty() {
        fact("References", esc(&r.references.join(", ")));
    }
    if let Some(v) = &r.expected {
        fact("Expected", format!("<pre>{}</pre>", esc(v)));
    }
    if let Some(v) = &r.actual {
        fact("Actual", format!("<pre>{}</pre>", esc(v)));
    }
    if let Some(v) = &r.message {
        fact("Message", esc(v));
    }
    if let Some(v) = &r.remediation {
        fact("Remediation", esc(v));
    }
    fact("Area", esc(&r.area));
    fact("Duration", esc(&view::duration(r.duration_ms)));
    o.push_str("</dl>\n");
    transcript(o, r);
    o.push_str("</article>\n");
}

fn transcript(o: &mut String, r: &CheckResult) {
    if r.transcript.is_empty() {
        return;
    }
    let (skipped, lines) = view::dialogue_tail(&r.transcript, MAX_TRANSCRIPT);
    let n = r.transcript.len();
    let _ = writeln!(o, "<details><summary>Transcript ({n} {})</summary>", if n == 1 { "entry" } else { "entries" });
    o.push_str("<pre class=\"transcript\">");
    if skipped > 0 {
        let _ = writeln!(o, "<span class=\"note\">[{skipped} earlier entries omitted; see the JSON report]</span>");
    }
    for l in lines {
        let class = match l.prefix {
            "C:" => "c",
            "S:" => "s",
            _ => "note",
        };
        let t = if l.t_ms.is_finite() { l.t_ms } else { 0.0 };
        let tls = if l.tls { "<span class=\"tls\">[tls]</span>" } else { "     " };
        let _ = writeln!(
            o,
            "<span class=\"t\">{t:>9.1} ms</span> {tls} <span class=\"{class}\">{} {}</span>",
            l.prefix,
            esc(&l.text)
        );
    }
    o.push_str("</pre>\n</details>\n");
}

fn all_results(o: &mut String, report: &Report) {
    if report.results.is_empty() {
        o.push_str(
            "<section id=\"results\">\n<h2>All results</h2>\n<p class=\"muted\">No checks ran.</p>\n</section>\n",
        );
        return;
    }
    o.push_str("<section id=\"results\">\n<h2>All results</h2>\n");
    for (area, results) in view::by_area(report) {
        let _ = writeln!(o, "<h3>{}</h3>\n<table>", esc(area));
        o.push_str("<thead><tr><th>Verdict</th><th>Check</th><th>Title</th><th>Note</th><th class=\"n\">Time</th></tr></thead>\n<tbody>\n");
        for r in results {
            let check = if matches!(r.verdict, Verdict::Fail | Verdict::Xpass | Verdict::Error) {
                format!("<a href=\"#{}\"><code>{}</code></a>", anchor(report, r), esc(&r.id))
            } else {
                format!("<code>{}</code>", esc(&r.id))
            };
            let note = match r.verdict {
                Verdict::Pass => String::new(),
                _ => r.message.as_deref().map(esc).unwrap_or_default(),
            };
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{check}</td><td>{}</td><td>{note}</td><td class=\"n\">{}</td></tr>",
                verdict_badge(r.verdict),
                esc(&r.title),
                esc(&view::duration(r.duration_ms))
            );
        }
        o.push_str("</tbody>\n</table>\n");
    }
    o.push_str("</section>\n");
}

/// A stable anchor per result: its position in the report (ids may hold any character).
fn anchor(report: &Report, r: &CheckResult) -> String {
    let i = report.results.iter().position(|x| std::ptr::eq(x, r)).unwrap_or(0);
    format!("r{}", i + 1)
}

pub(crate) fn verdict_badge(v: Verdict) -> String {
    format!("<span class=\"badge {}\">{}</span>", view::verdict_class(v), view::verdict_label(v))
}

fn severity_badge(r: &CheckResult) -> String {
    match r.severity {
        Some(s) => format!("<span class=\"sev sev-{}\">{}</span> ", s.as_str(), s.as_str().to_ascii_uppercase()),
        None => String::new(),
    }
}

/// Escapes text for HTML element content and quoted attribute values, after making control
/// characters visible (most C0 controls are not allowed in HTML at all).
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in view::clean(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{RunKind, Severity};
    use crate::transcript::{Direction, Entry};

    #[test]
    fn esc_handles_markup_quotes_and_controls() {
        assert_eq!(esc(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(esc("\u{0}\u{1b}"), "\\x00\\x1b");
    }

    #[test]
    fn page_is_self_contained_and_escaped() {
        let mut r = Report::new(RunKind::Audit, "pop3://h/<script>alert(1)</script>");
        r.server.greeting = Some("<b>hi</b> & \"bye\"".into());
        let mut f = CheckResult::new("A06", "x</title>", "TLS audit", Verdict::Fail);
        f.severity = Some(Severity::High);
        f.remediation = Some("Discard buffered input".into());
        f.transcript =
            vec![Entry { t_ms: 1.0, dir: Direction::Client, tls: true, text: "PASS <redacted>\\r\\n".into() }];
        r.results = vec![f];
        let h = render(&r);
        assert!(!h.contains("<script") && !h.contains("<b>hi") && !h.contains("x</title>"), "{h}");
        assert!(!h.contains("src=") && !h.contains("http://") && !h.contains("https://"), "no external assets");
        assert!(h.contains("id=\"verdict\" class=\"banner banner-fail\""));
        assert!(h.contains("<span class=\"sev sev-high\">HIGH</span>"));
        assert!(h.contains("C: PASS &lt;redacted&gt;"));
        assert!(h.contains("href=\"#r1\"") && h.contains("id=\"r1\""));
    }

    #[test]
    fn empty_report_renders() {
        let h = render(&Report::new(RunKind::Run, ""));
        assert!(h.contains("banner-pass") && h.contains("No checks ran.") && h.ends_with("</html>\n"));
    }
}
