//! JUnit XML for CI dashboards (Jenkins, GitLab, GitHub test reporters): one `<testsuite>` per
//! area, one `<testcase>` per result with `classname` = area and `name` = `id: title`.
//!
//! The two kinds of failure stay apart (STYLE.md §5): the server broke a rule → `<failure>`; the
//! tester could not do its job → `<error>`. A skip is `<skipped message="reason">`; an expected
//! failure (xfail) passes with a note in `<system-out>`; a stale xfail (xpass) is a `<failure>`.
//! Each testcase carries its transcript in `<system-out>`. Times are in seconds.

use super::view;
use crate::results::{CheckResult, Report, Verdict};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

/// Transcript entries per testcase: CI viewers choke on megabytes of system-out; the JSON report
/// keeps everything.
const MAX_TRANSCRIPT_ENTRIES: usize = 200;

/// Renders the report as JUnit XML. quick-junit escapes markup and drops characters XML 1.0
/// cannot carry.
pub fn render(report: &Report) -> Result<String, String> {
    let mut junit = quick_junit::Report::new(format!("{} {}", report.tool, view::kind_title(report.kind)));
    junit.set_time(seconds(report.duration_ms));
    for (area, results) in view::by_area(report) {
        let mut suite = TestSuite::new(area);
        suite.set_time(seconds(results.iter().map(|r| sane(r.duration_ms)).sum()));
        suite.add_properties(properties(report));
        suite.add_test_cases(results.into_iter().map(test_case));
        // quick-junit counts skips as `disabled`; most readers (junitparser, GitLab, Jenkins) look
        // for `skipped`. `timestamp` goes in as text: it is already RFC 3339.
        let skipped = suite.disabled.to_string();
        suite.extra.insert("skipped".into(), skipped.into());
        suite.extra.insert("timestamp".into(), report.started_at.as_str().into());
        junit.add_test_suite(suite);
    }
    junit.to_string().map_err(|e| e.to_string())
}

fn properties(report: &Report) -> Vec<Property> {
    let mut p = vec![
        Property::new("target", report.target.as_str()),
        Property::new("kind", view::kind_title(report.kind)),
        Property::new("started_at", report.started_at.as_str()),
        Property::new("tool_version", report.tool_version.as_str()),
    ];
    if let Some(g) = &report.server.greeting {
        p.push(Property::new("server.greeting", g.as_str()));
    }
    if let Some(i) = &report.server.implementation {
        p.push(Property::new("server.implementation", i.as_str()));
    }
    if let Some(s) = &report.summary {
        p.push(Property::new("summary", s.as_str()));
    }
    if let Some(seed) = report.seed {
        p.push(Property::new("seed", seed.to_string()));
    }
    if report.incomplete {
        p.push(Property::new("incomplete", "true"));
    }
    p
}

fn test_case(r: &CheckResult) -> TestCase {
    let mut note = None;
    let status = match r.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Xfail => {
            note = Some(format!("expected failure (xfail): {}\n", r.message.as_deref().unwrap_or("no reason given")));
            TestCaseStatus::success()
        }
        Verdict::Skip => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(r.message.as_deref().unwrap_or("skipped"));
            s
        }
        Verdict::Fail | Verdict::Xpass => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let ty = match (r.verdict, r.severity) {
                (Verdict::Xpass, _) => "xpass".to_string(),
                (_, Some(sev)) => format!("finding/{}", sev.as_str()),
                (_, None) => "conformance".to_string(),
            };
            let msg = match (r.verdict, &r.message) {
                (_, Some(m)) => m.clone(),
                (Verdict::Xpass, None) => "passed but declared xfail; remove the xfail".to_string(),
                (_, None) => r.title.clone(),
            };
            s.set_message(msg).set_type(ty).set_description(details(r));
            s
        }
        Verdict::Error => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(r.message.as_deref().unwrap_or("the tester could not run this check"))
                .set_type("tester-error")
                .set_description(details(r));
            s
        }
    };
    let mut tc = TestCase::new(format!("{}: {}", r.id, r.title), status);
    tc.set_classname(r.area.as_str());
    tc.set_time(seconds(r.duration_ms));
    let mut out = note.unwrap_or_default();
    out.push_str(&transcript(r));
    if !out.is_empty() {
        tc.set_system_out(out);
    }
    tc
}

/// The text of a `<failure>` / `<error>`: everything a reader needs without opening another file.
fn details(r: &CheckResult) -> String {
    let mut lines = Vec::new();
    if let Some(l) = &r.location {
        lines.push(format!("at {}:{}:{}", l.file, l.line, l.column));
    }
    let lists = [("requirement", &r.requirements), ("rfc", &r.rfc_refs), ("references", &r.references)];
    for (label, v) in lists {
        if !v.is_empty() {
            lines.push(format!("{label}: {}", v.join(", ")));
        }
    }
    if let Some(s) = r.severity {
        lines.push(format!("severity: {}", s.as_str()));
    }
    let fields =
        [("expected", &r.expected), ("actual", &r.actual), ("message", &r.message), ("remediation", &r.remediation)];
    for (label, v) in fields {
        if let Some(v) = v {
            lines.push(format!("{label}: {v}"));
        }
    }
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn transcript(r: &CheckResult) -> String {
    if r.transcript.is_empty() {
        return String::new();
    }
    let (skipped, lines) = view::dialogue_tail(&r.transcript, MAX_TRANSCRIPT_ENTRIES);
    let mut s = String::from("transcript:\n");
    if skipped > 0 {
        s.push_str(&format!("[{skipped} earlier entries omitted; see the JSON report]\n"));
    }
    for l in lines {
        s.push_str(&l.render());
        s.push('\n');
    }
    s
}

fn sane(ms: f64) -> f64 {
    if ms.is_finite() && ms > 0.0 {
        ms
    } else {
        0.0
    }
}

fn seconds(ms: f64) -> Duration {
    Duration::try_from_secs_f64(sane(ms) / 1000.0).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{RunKind, Severity};
    use crate::transcript::{Direction, Entry};

    fn xml(results: Vec<CheckResult>) -> String {
        let mut r = Report::new(RunKind::Run, "pop3://h");
        r.results = results;
        render(&r).unwrap()
    }

    #[test]
    fn one_suite_per_area_and_kinds_kept_apart() {
        let mut fail = CheckResult::new("a", "A & B", "RFC 1939", Verdict::Fail);
        fail.expected = Some("+OK".into());
        fail.actual = Some("-ERR <x>".into());
        fail.duration_ms = 1500.0;
        let mut skip = CheckResult::new("s", "S", "RFC 2449", Verdict::Skip);
        skip.message = Some("PIPELINING not advertised".into());
        let mut xfail = CheckResult::new("x", "X", "RFC 1939", Verdict::Xfail);
        xfail.message = Some("known".into());
        let x = xml(vec![
            fail,
            CheckResult::new("e", "E", "RFC 1939", Verdict::Error),
            skip,
            xfail,
            CheckResult::new("xp", "XP", "RFC 2449", Verdict::Xpass),
        ]);
        assert_eq!(x.matches("<testsuite ").count(), 2, "{x}");
        assert!(x.contains(r#"skipped="1""#), "{x}");
        assert!(x.contains(r#"<testcase name="a: A &amp; B" classname="RFC 1939" time="1.500">"#), "{x}");
        assert!(x.contains(r#"type="conformance""#) && x.contains("actual: -ERR &lt;x&gt;"), "{x}");
        assert!(x.contains("<error ") && x.contains(r#"type="tester-error""#), "{x}");
        assert!(x.contains(r#"<skipped message="PIPELINING not advertised"/>"#), "{x}");
        assert!(x.contains("expected failure (xfail): known"), "{x}");
        assert!(x.contains(r#"type="xpass""#), "{x}");
    }

    #[test]
    fn findings_carry_severity_and_transcript_in_system_out() {
        let mut f = CheckResult::new("A06", "STLS injection", "TLS audit", Verdict::Fail);
        f.severity = Some(Severity::Critical);
        f.transcript =
            vec![Entry { t_ms: 1.0, dir: Direction::Client, tls: false, text: "STLS\\r\\nCAPA\\r\\n".into() }];
        let x = xml(vec![f]);
        assert!(x.contains(r#"type="finding/critical""#), "{x}");
        assert!(x.contains("<system-out>transcript:") && x.contains("C: STLS") && x.contains("C: CAPA"), "{x}");
    }

    #[test]
    fn control_characters_and_odd_times_do_not_break_xml() {
        let mut f = CheckResult::new("c", "\u{1}\u{1b}[31m", "\u{0}", Verdict::Fail);
        f.message = Some("\u{b}".into());
        f.duration_ms = f64::NAN;
        let x = xml(vec![f, CheckResult::new("n", "n", "a", Verdict::Pass)]);
        assert!(!x.contains('\u{1}') && !x.contains('\u{0}') && !x.contains('\u{1b}'), "{x}");
        assert_eq!(xml(vec![]).matches("<testsuite").count(), 1, "only <testsuites>");
    }
}
