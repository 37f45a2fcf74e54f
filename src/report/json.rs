//! The results model as pretty JSON: the lossless format, read back by `pop3test report render`
//! and `report matrix` (see [`super::load_json`]). Its shape is pinned by `report.schema.json`
//! (JSON Schema 2020-12) beside this file; a change to [`Report`] that the schema does not follow
//! fails the tests below, and an incompatible change bumps [`crate::results::SCHEMA_VERSION`].

use crate::results::Report;

/// The JSON Schema of the report, for consumers and for `pop3test report schema`-style commands.
pub const SCHEMA: &str = include_str!("report.schema.json");

/// Pretty-printed JSON with a trailing newline.
pub fn render(report: &Report) -> Result<String, serde_json::Error> {
    // serde_json writes NaN and infinities as `null`, which the schema (and our own reader)
    // rejects; a clock that went backwards gives negative times. Both are zeroed in a copy.
    let mut s = if has_odd_times(report) {
        serde_json::to_string_pretty(&sane_times(report))?
    } else {
        serde_json::to_string_pretty(report)?
    };
    s.push('\n');
    Ok(s)
}

/// The same model on one line, newline-terminated: one JSON Lines record. Compact JSON escapes
/// every control character, so a record never spans lines whatever the transcript holds.
pub fn render_line(report: &Report) -> Result<String, serde_json::Error> {
    let mut s = if has_odd_times(report) {
        serde_json::to_string(&sane_times(report))?
    } else {
        serde_json::to_string(report)?
    };
    s.push('\n');
    Ok(s)
}

fn odd(x: f64) -> bool {
    !(x.is_finite() && x >= 0.0)
}

fn has_odd_times(r: &Report) -> bool {
    odd(r.duration_ms) || r.results.iter().any(|c| odd(c.duration_ms) || c.transcript.iter().any(|e| odd(e.t_ms)))
}

fn sane_times(r: &Report) -> Report {
    let fix = |x: f64| if odd(x) { 0.0 } else { x };
    let mut r = r.clone();
    r.duration_ms = fix(r.duration_ms);
    for c in &mut r.results {
        c.duration_ms = fix(c.duration_ms);
        for e in &mut c.transcript {
            e.t_ms = fix(e.t_ms);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{CheckResult, RunKind, Severity, SourceLocation, Verdict};
    use crate::transcript::{Direction, Entry};
    use serde_json::Value;

    fn schema() -> jsonschema::Validator {
        let schema: Value = serde_json::from_str(SCHEMA).expect("schema is JSON");
        jsonschema::draft202012::new(&schema).expect("schema compiles")
    }

    fn errors(v: &Value) -> Vec<String> {
        schema().iter_errors(v).map(|e| format!("{} at {}", e, e.instance_path)).collect()
    }

    fn full_report() -> Report {
        let mut r = Report::new(RunKind::Fuzz, "pop3s://mail.example:995");
        r.server.greeting = Some("POP3 ready <1.2@x>".into());
        r.server.implementation = Some("Example 1.0".into());
        r.server.capabilities = vec!["TOP".into(), "UIDL".into()];
        r.summary = Some("2 crashes".into());
        r.seed = Some(u64::MAX);
        r.incomplete = true;
        let mut c = CheckResult::new("F1", "crash on long UIDL", "fuzz", Verdict::Fail);
        c.requirements = vec!["1939-uidl-format".into()];
        c.rfc_refs = vec!["RFC 1939 §7".into()];
        c.references = vec!["CWE-120".into()];
        c.severity = Some(Severity::High);
        c.message = Some("m".into());
        c.expected = Some("e".into());
        c.actual = Some("a".into());
        c.remediation = Some("r".into());
        c.location = Some(SourceLocation { file: "f.yaml".into(), line: 1, column: 1 });
        c.transcript = vec![Entry { t_ms: 0.5, dir: Direction::Note, tls: true, text: "x".into() }];
        c.duration_ms = 3.0;
        r.results = vec![c, CheckResult::new("p", "t", "RFC 1939", Verdict::Xfail)];
        r
    }

    #[test]
    fn rendered_json_matches_the_schema_and_round_trips() {
        for r in [full_report(), Report::new(RunKind::Run, "pop3://h")] {
            let s = render(&r).unwrap();
            let v: Value = serde_json::from_str(&s).unwrap();
            assert_eq!(errors(&v), Vec::<String>::new());
            assert_eq!(serde_json::from_value::<Report>(v).unwrap(), r);
        }
    }

    #[test]
    fn schema_rejects_missing_or_wrong_schema_version() {
        let mut v: Value = serde_json::from_str(&render(&full_report()).unwrap()).unwrap();
        v["schema_version"] = Value::from(2);
        assert!(!errors(&v).is_empty());
        v.as_object_mut().unwrap().remove("schema_version");
        assert!(errors(&v).iter().any(|e| e.contains("schema_version")), "{:?}", errors(&v));
    }

    #[test]
    fn schema_rejects_unknown_verdicts_and_fields() {
        let mut v: Value = serde_json::from_str(&render(&full_report()).unwrap()).unwrap();
        v["results"][0]["verdict"] = Value::from("maybe");
        assert!(!errors(&v).is_empty());
        let mut v: Value = serde_json::from_str(&render(&full_report()).unwrap()).unwrap();
        v["results"][0]["surprise"] = Value::from(1);
        assert!(!errors(&v).is_empty());
    }

    #[test]
    fn odd_times_become_zero_not_null() {
        let mut r = full_report();
        r.duration_ms = f64::NAN;
        r.results[0].transcript[0].t_ms = f64::INFINITY;
        r.results[1].duration_ms = -1.0;
        let v: Value = serde_json::from_str(&render(&r).unwrap()).unwrap();
        assert_eq!(v["duration_ms"], Value::from(0.0));
        assert_eq!(errors(&v), Vec::<String>::new());
    }
}
