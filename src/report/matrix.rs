//! Several servers side by side: rows are checks (id and title, grouped by area), columns are the
//! reports (target and server IMPLEMENTATION), cells are verdicts. A check a report did not run
//! shows `—`. Per-column totals and a legend close the table. Built from JSON reports loaded with
//! [`super::load_json`], so servers tested on different days compare.

use super::html::{esc, verdict_badge};
use super::markdown::{cell_code, text};
use super::view;
use crate::results::{CheckResult, Counts, Report, Verdict};
use std::collections::HashMap;
use std::fmt::Write as _;

const VERDICTS: [Verdict; 6] =
    [Verdict::Pass, Verdict::Fail, Verdict::Error, Verdict::Skip, Verdict::Xfail, Verdict::Xpass];

const LEGEND: [(Verdict, &str); 6] = [
    (Verdict::Pass, "the server did what the rule asks"),
    (Verdict::Fail, "the server broke the rule"),
    (Verdict::Error, "the tester could not run the check"),
    (Verdict::Skip, "the check does not apply"),
    (Verdict::Xfail, "failed, as declared expected"),
    (Verdict::Xpass, "passed, but declared expected to fail"),
];

/// One row: a check, and for each report the result it has for it (first one if repeated).
struct Row<'a> {
    id: &'a str,
    title: &'a str,
    cells: Vec<Option<&'a CheckResult>>,
}

/// Rows grouped by area, areas and checks in order of first appearance across the reports.
fn rows(reports: &[Report]) -> Vec<(&str, Vec<Row<'_>>)> {
    let mut areas: Vec<(&str, Vec<Row<'_>>)> = Vec::new();
    let mut index: HashMap<(&str, &str), (usize, usize)> = HashMap::new();
    for (col, rep) in reports.iter().enumerate() {
        for r in &rep.results {
            let key = (r.area.as_str(), r.id.as_str());
            let (a, i) = match index.get(&key) {
                Some(&pos) => pos,
                None => {
                    let a = match areas.iter().position(|(name, _)| *name == r.area) {
                        Some(a) => a,
                        None => {
                            areas.push((&r.area, Vec::new()));
                            areas.len() - 1
                        }
                    };
                    let cells = vec![None; reports.len()];
                    areas[a].1.push(Row { id: &r.id, title: &r.title, cells });
                    let pos = (a, areas[a].1.len() - 1);
                    index.insert(key, pos);
                    pos
                }
            };
            let cell = &mut areas[a].1[i].cells[col];
            if cell.is_none() {
                *cell = Some(r);
            }
        }
    }
    areas
}

fn column_label(r: &Report) -> (String, Option<String>) {
    let server = r.server.implementation.clone().or_else(|| r.server.greeting.clone());
    (r.target.clone(), server)
}

/// What the columns are: clients when every report is an audit-client run, else servers.
fn subject(reports: &[Report]) -> &'static str {
    let clients = !reports.is_empty() && reports.iter().all(|r| r.kind == crate::results::RunKind::AuditClient);
    if clients {
        "client"
    } else {
        "server"
    }
}

/// The matrix as a self-contained HTML page (same style sheet as the single report).
pub fn matrix_html(reports: &[Report]) -> String {
    let mut o = String::with_capacity(8 * 1024);
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    o.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    let _ = writeln!(o, "<title>POP3 {} matrix · {} {}s</title>", subject(reports), reports.len(), subject(reports));
    let _ = writeln!(o, "<style>{}{MATRIX_CSS}</style>\n</head>\n<body>", super::html::CSS);
    let tool = reports.first().map(|r| format!("{} {}", r.tool, r.tool_version)).unwrap_or_default();
    let _ = writeln!(o, "<header>\n<p class=\"eyebrow\">{} · comparison</p>", esc(&tool));
    let _ = writeln!(
        o,
        "<h1>POP3 {} matrix</h1>\n</header>\n<main>\n<table id=\"matrix\" class=\"matrix\">",
        subject(reports)
    );
    o.push_str("<thead><tr><th>Check</th>");
    for r in reports {
        let (target, server) = column_label(r);
        let server = server.map(|s| format!("<br><span class=\"muted\">{}</span>", esc(&s))).unwrap_or_default();
        let _ = write!(
            o,
            "<th><code>{}</code>{server}<br><span class=\"muted\">{}</span></th>",
            esc(&target),
            esc(&r.started_at)
        );
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    let cols = reports.len() + 1;
    for (area, rows) in rows(reports) {
        let _ = writeln!(o, "<tr class=\"area\"><th colspan=\"{cols}\">{}</th></tr>", esc(area));
        for row in rows {
            let _ = write!(o, "<tr><td><code>{}</code> {}</td>", esc(row.id), esc(row.title));
            for cell in &row.cells {
                match cell {
                    Some(r) => {
                        let tip = r.message.as_deref().map(|m| format!(" title=\"{}\"", esc(m))).unwrap_or_default();
                        let _ = write!(o, "<td class=\"cell\"{tip}>{}</td>", verdict_badge(r.verdict));
                    }
                    None => o.push_str("<td class=\"cell muted\">—</td>"),
                }
            }
            o.push_str("</tr>\n");
        }
    }
    o.push_str("</tbody>\n<tfoot>\n");
    for v in VERDICTS {
        let _ = write!(o, "<tr class=\"total\"><td>{}</td>", verdict_badge(v));
        for r in reports {
            let _ = write!(o, "<td class=\"cell\">{}</td>", view::count_of(&r.counts(), v));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("<tr class=\"total\"><td>Total</td>");
    for r in reports {
        let _ = write!(o, "<td class=\"cell\">{}</td>", view::total(&r.counts()));
    }
    o.push_str("</tr>\n</tfoot>\n</table>\n<h2>Legend</h2>\n<dl class=\"facts\">\n");
    for (v, meaning) in LEGEND {
        let _ = writeln!(o, "<dt>{}</dt><dd>{meaning}</dd>", verdict_badge(v));
    }
    o.push_str("<dt>—</dt><dd>the check was not run against this server</dd>\n</dl>\n</main>\n</body>\n</html>\n");
    o
}

const MATRIX_CSS: &str = "
.matrix td.cell,.matrix th:not(:first-child){text-align:center}
.matrix tr.area th{background:#eaeef2;text-align:left}
.matrix tfoot td{font-variant-numeric:tabular-nums}
";

/// The matrix as GitHub-flavoured Markdown.
pub fn matrix_markdown(reports: &[Report]) -> String {
    let mut o = format!("## POP3 {} matrix\n\n| Check |", subject(reports));
    for r in reports {
        let (target, server) = column_label(r);
        let server = server.map(|s| format!("<br>{}", text(&s))).unwrap_or_default();
        let _ = write!(o, " {}{server} |", cell_code(&target));
    }
    o.push_str("\n|---|");
    o.push_str(&":-:|".repeat(reports.len()));
    o.push('\n');
    for (area, rows) in rows(reports) {
        let _ = write!(o, "| **{}** |", text(area));
        o.push_str(&" |".repeat(reports.len()));
        o.push('\n');
        for row in rows {
            let _ = write!(o, "| {} {} |", cell_code(row.id), text(row.title));
            for cell in &row.cells {
                match cell {
                    Some(r) => {
                        let _ = write!(o, " {} |", md_verdict(r.verdict));
                    }
                    None => o.push_str(" — |"),
                }
            }
            o.push('\n');
        }
    }
    let mut totals = vec![Counts::default(); reports.len()];
    for (t, r) in totals.iter_mut().zip(reports) {
        *t = r.counts();
    }
    for v in VERDICTS {
        let _ = write!(o, "| *{}* |", md_verdict(v));
        for t in &totals {
            let _ = write!(o, " {} |", view::count_of(t, v));
        }
        o.push('\n');
    }
    o.push_str("| *Total* |");
    for t in &totals {
        let _ = write!(o, " {} |", view::total(t));
    }
    o.push_str("\n\n**Legend:** ");
    let legend: Vec<String> = LEGEND.iter().map(|(v, m)| format!("{} {m}", md_verdict(*v))).collect();
    o.push_str(&legend.join(" · "));
    o.push_str(" · — not run\n");
    o
}

fn md_verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅ PASS",
        Verdict::Fail => "❌ FAIL",
        Verdict::Error => "⚠️ ERROR",
        Verdict::Skip => "⏭️ SKIP",
        Verdict::Xfail => "☑️ XFAIL",
        Verdict::Xpass => "❗ XPASS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RunKind;

    fn rep(target: &str, imp: &str, results: &[(&str, &str, Verdict)]) -> Report {
        let mut r = Report::new(RunKind::Run, target);
        r.server.implementation = Some(imp.into());
        r.results = results.iter().map(|(id, area, v)| CheckResult::new(*id, "t", *area, *v)).collect();
        r
    }

    #[test]
    fn rows_union_checks_and_mark_missing() {
        let a = rep("pop3://a", "A", &[("x", "RFC 1939", Verdict::Pass), ("y", "RFC 2449", Verdict::Fail)]);
        let b = rep("pop3://b", "B <&>", &[("y", "RFC 2449", Verdict::Pass), ("z", "RFC 1939", Verdict::Skip)]);
        let reports = [a, b];
        let rows = rows(&reports);
        assert_eq!(rows.iter().map(|(a, _)| *a).collect::<Vec<_>>(), ["RFC 1939", "RFC 2449"]);
        assert_eq!(rows[0].1.len(), 2);
        assert!(rows[0].1[0].cells[1].is_none());
        let html = matrix_html(&reports);
        assert!(html.contains("B &lt;&amp;&gt;") && html.contains("<td class=\"cell muted\">—</td>"));
        let md = matrix_markdown(&reports);
        assert!(md.contains("| `x` t | ✅ PASS | — |"), "{md}");
        assert!(md.contains("| *Total* | 2 | 2 |"), "{md}");
    }

    #[test]
    fn empty_inputs_render() {
        assert!(matrix_html(&[]).contains("</html>"));
        assert!(matrix_markdown(&[]).contains("| Check |"));
    }
}
