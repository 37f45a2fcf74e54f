//! SARIF 2.1.0 (OASIS) for code-scanning dashboards. Every result a reader must act on becomes a
//! SARIF `result`: audit and fuzz findings at the level their severity gives (critical/high →
//! `error`, medium → `warning`, low/info → `note`), conformance failures as `error` and stale
//! xfails as `warning`. Each distinct result id is one rule, whose help carries the RFC, CVE and CWE
//! references and the remediation. Tester errors are not findings: they become tool execution
//! notifications of the invocation, which is then marked unsuccessful.
//!
//! Validated against the official schema in `tests/report/sarif-schema-2.1.0.json`.

use super::view;
use crate::results::{CheckResult, Report, Severity, Verdict};
use serde_json::{json, Map, Value};

/// The `$schema` of the log: the OASIS schema's own `$id`.
pub const SARIF_SCHEMA_URI: &str =
    "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json";

/// Where the tool is documented: the crate's repository or homepage, when Cargo.toml names one.
fn information_uri() -> Option<&'static str> {
    [env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_HOMEPAGE")].into_iter().find(|u| !u.is_empty())
}

/// Renders the SARIF log (pretty JSON, trailing newline).
pub fn render(report: &Report) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(&log(report))?;
    s.push('\n');
    Ok(s)
}

/// The SARIF log as a JSON value.
pub fn log(report: &Report) -> Value {
    let reported: Vec<&CheckResult> =
        report.results.iter().filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Xpass)).collect();
    let mut rule_ids: Vec<&str> = Vec::new();
    let mut rules = Vec::new();
    for r in &reported {
        if !rule_ids.contains(&r.id.as_str()) {
            rule_ids.push(&r.id);
            rules.push(rule(r));
        }
    }
    let results: Vec<Value> =
        reported.iter().map(|r| result(report, r, rule_ids.iter().position(|id| *id == r.id).unwrap_or(0))).collect();

    let mut driver = Map::new();
    driver.insert("name".into(), json!(report.tool));
    driver.insert("version".into(), json!(report.tool_version));
    if let Some(uri) = information_uri() {
        driver.insert("informationUri".into(), json!(uri));
    }
    driver.insert("rules".into(), Value::Array(rules));

    let mut run = Map::new();
    run.insert("tool".into(), json!({ "driver": driver }));
    run.insert("invocations".into(), json!([invocation(report)]));
    run.insert("automationDetails".into(), json!({ "id": format!("{}/{}/", report.tool, kind_name(report)) }));
    run.insert("results".into(), Value::Array(results));
    let mut props = json!({
        "target": report.target,
        "kind": kind_name(report),
        "incomplete": report.incomplete,
        "server": { "capabilities": report.server.capabilities },
    });
    if let Some(g) = &report.server.greeting {
        props["server"]["greeting"] = json!(g);
    }
    if let Some(i) = &report.server.implementation {
        props["server"]["implementation"] = json!(i);
    }
    if let Some(s) = &report.summary {
        props["summary"] = json!(s);
    }
    if let Some(seed) = report.seed {
        props["seed"] = json!(seed);
    }
    run.insert("properties".into(), props);
    json!({ "$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run] })
}

fn kind_name(report: &Report) -> String {
    serde_json::to_value(report.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

fn level(r: &CheckResult) -> &'static str {
    match (r.verdict, r.severity) {
        (Verdict::Xpass, _) => "warning",
        (_, Some(Severity::Critical | Severity::High)) => "error",
        (_, Some(Severity::Medium)) => "warning",
        (_, Some(Severity::Low | Severity::Info)) => "note",
        (_, None) => "error",
    }
}

/// GitHub code scanning ranks security results by this CVSS-like score (a string property).
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn rule(r: &CheckResult) -> Value {
    let mut tags: Vec<String> = vec![r.area.clone()];
    if r.severity.is_some() {
        tags.push("security".into());
    }
    tags.extend(r.requirements.iter().cloned());
    for reference in &r.references {
        match reference.strip_prefix("CWE-") {
            Some(n) => tags.push(format!("external/cwe/cwe-{n}")),
            None => tags.push(reference.clone()),
        }
    }
    let mut props = json!({ "tags": tags });
    if let Some(s) = r.severity {
        props["security-severity"] = json!(security_severity(s));
        props["severity"] = json!(s.as_str());
    }

    let mut help = Vec::new();
    let mut help_md = Vec::new();
    let refs: Vec<&String> = r.rfc_refs.iter().chain(&r.references).collect();
    if !r.requirements.is_empty() {
        help.push(format!("Requirements: {}.", r.requirements.join(", ")));
        help_md.push(format!("**Requirements:** {}", code_list(&r.requirements)));
    }
    if !refs.is_empty() {
        let refs: Vec<&str> = refs.iter().map(|s| s.as_str()).collect();
        help.push(format!("References: {}.", refs.join(", ")));
        help_md.push(format!("**References:** {}", refs.join(", ")));
    }
    if let Some(rem) = &r.remediation {
        help.push(format!("Remediation: {rem}"));
        help_md.push(format!("**Remediation:** {rem}"));
    }
    if help.is_empty() {
        help.push(r.title.clone());
        help_md.push(r.title.clone());
    }
    json!({
        "id": r.id,
        "name": rule_name(&r.title, &r.id),
        "shortDescription": { "text": non_empty(&r.title, &r.id) },
        "fullDescription": { "text": format!("{} ({})", non_empty(&r.title, &r.id), r.area) },
        "help": { "text": help.join("\n"), "markdown": help_md.join("\n\n") },
        "defaultConfiguration": { "level": level(r) },
        "properties": props,
    })
}

fn code_list(v: &[String]) -> String {
    v.iter().map(|s| format!("`{}`", s.replace('`', "'"))).collect::<Vec<_>>().join(", ")
}

fn non_empty<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.trim().is_empty() {
        if fallback.trim().is_empty() {
            "(untitled)"
        } else {
            fallback
        }
    } else {
        s
    }
}

/// `RETR undoes byte-stuffing` → `RetrUndoesByteStuffing`: SARIF rule names are identifiers.
fn rule_name(title: &str, id: &str) -> String {
    let name: String = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            let first = cs.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
            first + &cs.as_str().to_lowercase()
        })
        .collect();
    if name.is_empty() {
        id.chars().filter(|c| c.is_alphanumeric()).collect()
    } else {
        name
    }
}

fn result(report: &Report, r: &CheckResult, rule_index: usize) -> Value {
    let mut text = match (&r.message, r.verdict) {
        (Some(m), _) => m.clone(),
        (None, Verdict::Xpass) => format!("{} passed but is declared xfail", r.title),
        (None, _) => non_empty(&r.title, &r.id).to_string(),
    };
    if let (Some(e), Some(a)) = (&r.expected, &r.actual) {
        text.push_str(&format!(" (expected: {e}; actual: {a})"));
    }
    let location = match &r.location {
        Some(l) => {
            let mut region = Map::new();
            if l.line > 0 {
                region.insert("startLine".into(), json!(l.line));
                if l.column > 0 {
                    region.insert("startColumn".into(), json!(l.column));
                }
            }
            let mut phys = json!({ "artifactLocation": { "uri": uri_reference(&l.file) } });
            if !region.is_empty() {
                phys["region"] = Value::Object(region);
            }
            json!({ "physicalLocation": phys })
        }
        None => json!({
            "logicalLocations": [{
                "name": non_empty(&report.target, "target"),
                "fullyQualifiedName": non_empty(&report.target, "target"),
                "kind": "resource",
            }]
        }),
    };
    let mut props = json!({
        "verdict": view::verdict_class(r.verdict),
        "area": r.area,
        "requirements": r.requirements,
        "rfc_refs": r.rfc_refs,
        "references": r.references,
        "transcript": r.transcript,
    });
    let optional = [
        ("severity", r.severity.map(|s| s.as_str().to_string())),
        ("expected", r.expected.clone()),
        ("actual", r.actual.clone()),
        ("remediation", r.remediation.clone()),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            props[k] = json!(v);
        }
    }
    if r.transcript.iter().any(|e| !e.t_ms.is_finite()) {
        props["transcript"] = json!(r
            .transcript
            .iter()
            .map(|e| json!({ "t_ms": if e.t_ms.is_finite() { e.t_ms } else { 0.0 }, "dir": e.dir, "tls": e.tls, "text": e.text }))
            .collect::<Vec<_>>());
    }
    json!({
        "ruleId": r.id,
        "ruleIndex": rule_index,
        "kind": "fail",
        "level": level(r),
        "message": { "text": text },
        "locations": [location],
        "properties": props,
    })
}

fn invocation(report: &Report) -> Value {
    let notes: Vec<Value> = report
        .results
        .iter()
        .filter(|r| r.verdict == Verdict::Error)
        .map(|r| {
            json!({
                "level": "error",
                "message": { "text": format!("{}: {}", r.id, r.message.as_deref().unwrap_or("the tester could not run this check")) },
                "descriptor": { "id": r.id },
            })
        })
        .collect();
    let mut inv = json!({
        "executionSuccessful": notes.is_empty() && !report.incomplete,
        "toolExecutionNotifications": notes,
    });
    if let Ok(start) = time::OffsetDateTime::parse(&report.started_at, &time::format_description::well_known::Rfc3339) {
        let rfc = |t: time::OffsetDateTime| {
            t.to_offset(time::UtcOffset::UTC).format(&time::format_description::well_known::Rfc3339).ok()
        };
        if let Some(s) = rfc(start) {
            inv["startTimeUtc"] = json!(s);
        }
        let ms = if report.duration_ms.is_finite() && report.duration_ms > 0.0 { report.duration_ms } else { 0.0 };
        let end = start.checked_add(time::Duration::seconds_f64(ms.min(1e12) / 1000.0));
        if let Some(e) = end.and_then(rfc) {
            inv["endTimeUtc"] = json!(e);
        }
    }
    inv
}

/// A scenario path as a URI reference: `/` kept, backslashes turned into `/`, everything outside
/// RFC 3986's unreserved set percent-encoded — a space or `#` in a file name must not change what
/// the URI means, and an encoded `:` keeps `c:/x` from reading as a scheme.
fn uri_reference(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{RunKind, SourceLocation};

    fn finding(sev: Option<Severity>, verdict: Verdict) -> CheckResult {
        let mut f = CheckResult::new("A06", "STLS command injection", "TLS audit", verdict);
        f.severity = sev;
        f.references = vec!["CVE-2021-38084".into(), "CWE-74".into()];
        f
    }

    fn run_of(results: Vec<CheckResult>) -> Value {
        let mut r = Report::new(RunKind::Audit, "pop3://mail.example:110");
        r.started_at = "2024-05-01T12:00:00Z".into();
        r.duration_ms = 1500.0;
        r.results = results;
        log(&r)["runs"][0].clone()
    }

    #[test]
    fn levels_follow_severity() {
        let cases = [
            (Some(Severity::Critical), "error"),
            (Some(Severity::High), "error"),
            (Some(Severity::Medium), "warning"),
            (Some(Severity::Low), "note"),
            (Some(Severity::Info), "note"),
            (None, "error"),
        ];
        for (sev, want) in cases {
            assert_eq!(level(&finding(sev, Verdict::Fail)), want, "{sev:?}");
        }
        assert_eq!(level(&finding(None, Verdict::Xpass)), "warning");
    }

    #[test]
    fn one_rule_per_id_with_tags_and_logical_location() {
        let run = run_of(vec![
            finding(Some(Severity::High), Verdict::Fail),
            finding(Some(Severity::High), Verdict::Fail),
            CheckResult::new("ok", "fine", "TLS audit", Verdict::Pass),
        ]);
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 1);
        assert_eq!(run["results"].as_array().unwrap().len(), 2);
        let rule = &run["tool"]["driver"]["rules"][0];
        assert_eq!(rule["name"], "StlsCommandInjection");
        let tags = rule["properties"]["tags"].to_string();
        assert!(tags.contains("external/cwe/cwe-74") && tags.contains("CVE-2021-38084"), "{tags}");
        let loc = &run["results"][0]["locations"][0]["logicalLocations"][0];
        assert_eq!(loc["name"], "pop3://mail.example:110");
        assert_eq!(run["invocations"][0]["endTimeUtc"], "2024-05-01T12:00:01.5Z");
    }

    #[test]
    fn scenario_location_becomes_physical_and_errors_become_notifications() {
        let mut f = CheckResult::new("rfc1939/x", "x", "RFC 1939", Verdict::Fail);
        f.location = Some(SourceLocation { file: "my dir\\a#b.yaml".into(), line: 3, column: 0 });
        let mut e = CheckResult::new("boom", "b", "RFC 1939", Verdict::Error);
        e.message = Some("connection refused".into());
        let run = run_of(vec![f, e]);
        let phys = &run["results"][0]["locations"][0]["physicalLocation"];
        assert_eq!(phys["artifactLocation"]["uri"], "my%20dir/a%23b.yaml");
        assert_eq!(phys["region"], json!({ "startLine": 3 }));
        assert_eq!(run["invocations"][0]["executionSuccessful"], false);
        let note = &run["invocations"][0]["toolExecutionNotifications"][0];
        assert_eq!(note["message"]["text"], "boom: connection refused");
    }

    #[test]
    fn uri_reference_never_reads_as_a_scheme() {
        assert_eq!(uri_reference("c:/x.yaml"), "c%3A/x.yaml");
        assert_eq!(uri_reference(""), ".");
        assert_eq!(uri_reference("é.yaml"), "%C3%A9.yaml");
    }
}
