//! The fleet matrix: one row per audited target, its verdict (TLS enforced yes / no /
//! undetermined), its worst finding, and one column per audit check (A01–A18) holding what that
//! check found there. Built from the per-target reports of a fleet audit (its JSONL records);
//! pure, like every format. The terminal form lists the failing checks instead of 18 columns.

use super::html::esc;
use super::markdown::{cell_code, text};
use super::{Format, ReportError};
use crate::results::{CheckResult, Report, Severity, Verdict};
use std::fmt::Write as _;

/// The formats the matrix renders to; the merged report covers the others (JUnit, SARIF).
pub const MATRIX_FORMATS: &str = "table, json, markdown, html";

/// What the audit's verdict line says of TLS: `yes`, `no`, or `undetermined` (also when there is
/// no verdict line: the audit could not run).
pub fn tls_enforced(r: &Report) -> &'static str {
    let s = r.summary.as_deref().unwrap_or("");
    if s.starts_with("TLS enforced: yes") {
        "yes"
    } else if s.starts_with("TLS enforced: no") {
        "no"
    } else {
        "undetermined"
    }
}

/// Failed results above info, worst first: what a fleet owner has to fix on that target.
fn findings(r: &Report) -> Vec<&CheckResult> {
    let mut f: Vec<&CheckResult> =
        r.results.iter().filter(|c| c.verdict == Verdict::Fail && c.severity > Some(Severity::Info)).collect();
    f.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
    f
}

fn errors(r: &Report) -> usize {
    r.results.iter().filter(|c| c.verdict == Verdict::Error).count()
}

/// The check ids, in order of first appearance (A01..A18 for audits), then the rest.
fn columns(reports: &[Report]) -> Vec<&str> {
    let mut cols: Vec<&str> = Vec::new();
    for r in reports {
        for c in &r.results {
            if c.area != "setup" && !cols.contains(&c.id.as_str()) {
                cols.push(&c.id);
            }
        }
    }
    cols.sort();
    cols
}

/// What one cell says: the severity of a finding, `pass`, `skip`, `error`, `info`, or `—`.
fn cell(r: &Report, id: &str) -> &'static str {
    match r.results.iter().find(|c| c.id == id) {
        None => "—",
        Some(c) => match (c.verdict, c.severity) {
            (Verdict::Fail, Some(s)) => s.as_str(),
            (Verdict::Fail, None) => "fail",
            (Verdict::Pass, _) => "pass",
            (Verdict::Skip, _) => "skip",
            (Verdict::Error, _) => "error",
            (Verdict::Xfail, _) => "xfail",
            (Verdict::Xpass, _) => "xpass",
        },
    }
}

fn worst(r: &Report) -> &'static str {
    r.worst_severity().map_or("none", Severity::as_str)
}

/// A line of totals: how many targets enforce TLS, and how many could not be audited.
pub fn totals(reports: &[Report]) -> String {
    let count = |v: &str| reports.iter().filter(|r| tls_enforced(r) == v).count();
    let with_errors = reports.iter().filter(|r| errors(r) > 0).count();
    format!(
        "{} target(s): TLS enforced on {}, not enforced on {}, undetermined on {}; {} with tester errors",
        reports.len(),
        count("yes"),
        count("no"),
        count("undetermined"),
        with_errors
    )
}

/// Renders the matrix in `format`.
pub fn render(format: Format, reports: &[Report]) -> Result<String, ReportError> {
    match format {
        Format::Table => Ok(table(reports)),
        Format::Json | Format::Jsonl => Ok(json(reports, format == Format::Json)),
        Format::Markdown => Ok(markdown(reports)),
        Format::Html => Ok(html(reports)),
        Format::Junit | Format::Sarif => Err(ReportError::Render {
            format,
            why: format!(
                "the fleet matrix is a table ({MATRIX_FORMATS}); --report {format}=PATH writes the merged report"
            ),
        }),
    }
}

fn table(reports: &[Report]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(["target", "TLS enforced", "worst", "findings", "errors"]);
    for r in reports {
        let f: Vec<String> =
            findings(r).iter().map(|c| format!("{} {}", c.id, c.severity.map_or("", |s| s.as_str()))).collect();
        let e = errors(r);
        t.add_row([
            r.target.clone(),
            tls_enforced(r).to_string(),
            worst(r).to_string(),
            if f.is_empty() { "—".to_string() } else { f.join(", ") },
            if e == 0 { String::new() } else { e.to_string() },
        ]);
    }
    format!("{t}\n{}\n", totals(reports))
}

fn json(reports: &[Report], pretty: bool) -> String {
    let rows: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            let cells: serde_json::Map<String, serde_json::Value> =
                columns(std::slice::from_ref(r)).into_iter().map(|id| (id.to_string(), cell(r, id).into())).collect();
            serde_json::json!({
                "target": r.target,
                "tls_enforced": tls_enforced(r),
                "worst_severity": r.worst_severity(),
                "summary": r.summary,
                "errors": errors(r),
                "checks": cells,
            })
        })
        .collect();
    if pretty {
        let v = serde_json::json!({ "totals": totals(reports), "targets": rows });
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    } else {
        rows.iter().map(|r| r.to_string() + "\n").collect()
    }
}

fn markdown(reports: &[Report]) -> String {
    let cols = columns(reports);
    let mut o = String::from("## POP3 fleet audit\n\n");
    let _ = writeln!(o, "{}\n", text(&totals(reports)));
    o.push_str("| target | TLS enforced | worst |");
    for c in &cols {
        let _ = write!(o, " {} |", text(c));
    }
    o.push_str("\n|---|:-:|:-:|");
    o.push_str(&":-:|".repeat(cols.len()));
    o.push('\n');
    for r in reports {
        let _ = write!(o, "| {} | {} | {} |", cell_code(&r.target), tls_enforced(r), worst(r));
        for c in &cols {
            let _ = write!(o, " {} |", cell(r, c));
        }
        o.push('\n');
    }
    o
}

fn html(reports: &[Report]) -> String {
    let cols = columns(reports);
    let mut o = String::with_capacity(4096 + reports.len() * 512);
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    let _ = writeln!(o, "<title>POP3 fleet audit · {} targets</title>", reports.len());
    let _ = writeln!(o, "<style>{}{CSS}</style>\n</head>\n<body>\n<main>", super::html::CSS);
    let _ = writeln!(o, "<h1>POP3 fleet audit</h1>\n<p>{}</p>", esc(&totals(reports)));
    o.push_str("<table id=\"fleet\" class=\"matrix\">\n<thead><tr><th>Target</th><th>TLS enforced</th><th>Worst</th>");
    for c in &cols {
        let _ = write!(o, "<th>{}</th>", esc(c));
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    for r in reports {
        let tip = r.summary.as_deref().map(|s| format!(" title=\"{}\"", esc(s))).unwrap_or_default();
        let _ = write!(
            o,
            "<tr><td><code>{}</code></td><td class=\"tls-{}\"{tip}>{}</td><td>{}</td>",
            esc(&r.target),
            tls_enforced(r),
            tls_enforced(r),
            worst(r)
        );
        for c in &cols {
            let v = cell(r, c);
            let _ = write!(o, "<td class=\"cell c-{v}\">{v}</td>");
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody>\n</table>\n</main>\n</body>\n</html>\n");
    o
}

const CSS: &str = "
.matrix td.cell{text-align:center}
.tls-yes{color:#1a7f37}.tls-no{color:#cf222e;font-weight:600}.tls-undetermined{color:#9a6700}
.c-critical,.c-high{background:#ffebe9}.c-medium{background:#fff8c5}.c-error{background:#fbefff}
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RunKind;

    fn rep(target: &str, summary: &str, results: &[(&str, Verdict, Option<Severity>)]) -> Report {
        let mut r = Report::new(RunKind::Audit, target);
        r.summary = Some(summary.into());
        r.results = results
            .iter()
            .map(|(id, v, s)| {
                let mut c = CheckResult::new(*id, "t", "TLS audit", *v);
                c.severity = *s;
                c
            })
            .collect();
        r
    }

    #[test]
    fn rows_say_tls_enforced_and_what_each_check_found() {
        let a = rep("pop3://a:110", "TLS enforced: yes, because x", &[("A01", Verdict::Pass, None)]);
        let b = rep(
            "pop3://b:110",
            "TLS enforced: no, because y",
            &[("A01", Verdict::Pass, None), ("A06", Verdict::Fail, Some(Severity::Critical))],
        );
        let c = rep("pop3://<c>:110", "the server sent no greeting", &[("pop3test/greeting", Verdict::Error, None)]);
        let reports = [a, b, c];
        let md = render(Format::Markdown, &reports).unwrap();
        assert!(md.contains("| `pop3://b:110` | no | critical | pass | critical |"), "{md}");
        assert!(md.contains("| `pop3://a:110` | yes | none | pass | — |"), "{md}");
        assert!(md.contains("TLS enforced on 1, not enforced on 1, undetermined on 1; 1 with tester errors"), "{md}");
        let html = render(Format::Html, &reports).unwrap();
        assert!(html.contains("pop3://&lt;c&gt;:110") && html.contains("class=\"tls-no\""), "{html}");
        let t = render(Format::Table, &reports).unwrap();
        assert!(t.contains("A06 critical"), "{t}");
        let v: serde_json::Value = serde_json::from_str(&render(Format::Json, &reports).unwrap()).unwrap();
        assert_eq!(v["targets"][1]["checks"]["A06"], "critical");
        assert_eq!(render(Format::Jsonl, &reports).unwrap().lines().count(), 3);
        assert!(render(Format::Sarif, &reports).unwrap_err().to_string().contains("merged report"));
    }
}
