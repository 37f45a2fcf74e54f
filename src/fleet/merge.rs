//! Many per-target records as one: the records of every shard (or of a run and its resumption)
//! joined, one per target, into a single [`Report`] that every report format renders, and the exit
//! code of the whole fleet.

use crate::report::fleet::totals;
use crate::results::{Report, RunKind, Severity};
use std::collections::HashMap;

/// One record per target, sorted by target: where a target appears more than once (overlapping
/// shards, a target audited again), the later record wins. Returns the targets that were repeated.
pub fn dedupe(records: Vec<Report>) -> (Vec<Report>, Vec<String>) {
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Report> = Vec::new();
    let mut repeated = Vec::new();
    for r in records {
        match at.get(&r.target) {
            Some(&i) => {
                repeated.push(r.target.clone());
                out[i] = r;
            }
            None => {
                at.insert(r.target.clone(), out.len());
                out.push(r);
            }
        }
    }
    out.sort_by(|a, b| a.target.cmp(&b.target));
    (out, repeated)
}

/// The fleet as one audit report: every target's results, each with its target as its area (so
/// JUnit has one test suite per target, the table one group per target), the earliest start, the
/// audits' total time, and a verdict line counting the targets that enforce TLS.
pub fn combine(records: &[Report]) -> Report {
    let mut r = Report::new(RunKind::Audit, format!("fleet of {} targets", records.len()));
    if let Some(first) = records.iter().map(|r| r.started_at.as_str()).min() {
        r.started_at = first.to_string();
    }
    r.duration_ms = records.iter().map(|r| r.duration_ms).sum();
    r.incomplete = records.iter().any(|r| r.incomplete);
    r.summary = Some(totals(records));
    for rec in records {
        for c in &rec.results {
            let mut c = c.clone();
            c.area = rec.target.clone();
            r.results.push(c);
        }
    }
    r
}

/// The exit code of the fleet, by the single audit's rules over every target: a tester error
/// anywhere first (3), then a finding at or above `fail_on` (5), then conformance failures (4).
pub fn exit_code(records: &[Report], fail_on: Option<Severity>) -> i32 {
    use crate::exit;
    let codes: Vec<i32> = records.iter().map(|r| r.exit_code(fail_on)).collect();
    [exit::TESTER_ERROR, exit::FINDINGS, exit::CONFORMANCE_FAILURES]
        .into_iter()
        .find(|c| codes.contains(c))
        .unwrap_or(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{CheckResult, Verdict};

    fn rep(target: &str, v: Verdict, sev: Option<Severity>) -> Report {
        let mut r = Report::new(RunKind::Audit, target);
        let mut c = CheckResult::new("A06", "t", "TLS audit", v);
        c.severity = sev;
        r.results.push(c);
        r
    }

    #[test]
    fn later_records_win_and_the_exit_code_covers_all() {
        let recs = vec![
            rep("pop3://b:110", Verdict::Error, None),
            rep("pop3://a:110", Verdict::Fail, Some(Severity::Critical)),
            rep("pop3://b:110", Verdict::Pass, None),
        ];
        let (recs, repeated) = dedupe(recs);
        assert_eq!(repeated, ["pop3://b:110"]);
        assert_eq!(recs.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(), ["pop3://a:110", "pop3://b:110"]);
        assert_eq!(exit_code(&recs, Some(Severity::High)), crate::exit::FINDINGS);
        assert_eq!(exit_code(&recs, None), crate::exit::OK);
        let with_error = [recs[0].clone(), rep("pop3://c:110", Verdict::Error, None)];
        assert_eq!(exit_code(&with_error, Some(Severity::High)), crate::exit::TESTER_ERROR);
        let merged = combine(&with_error);
        assert_eq!(merged.results.len(), 2);
        assert_eq!(merged.results[1].area, "pop3://c:110");
        assert_eq!(merged.exit_code(Some(Severity::High)), exit_code(&with_error, Some(Severity::High)));
    }
}
