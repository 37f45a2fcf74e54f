//! One defect, one result: protocol invariants broken in replies to scenarios that were testing
//! something else ([`Observation`]s) are reported once per kind, under their own requirement,
//! with where they were seen and how often, instead of failing every scenario that happened to
//! see them (a malformed CAPA line would otherwise fail every scenario that sends CAPA).

use crate::results::{CheckResult, Verdict};
use crate::scenario::exec::Observation;
use std::collections::BTreeMap;

/// How many places and distinct details a result lists by name before "and N more".
const NAMED: usize = 5;

/// The results for a run's observations: one per (kind, requirement), in a stable order. When a
/// check of the run that tests that requirement already failed, the defect has its result: the
/// observations are added to that result's message instead of making another one.
pub fn results(observations: Vec<Observation>, existing: &mut [CheckResult]) -> Vec<CheckResult> {
    let mut groups: BTreeMap<(String, String), Vec<Observation>> = BTreeMap::new();
    for o in observations {
        groups.entry((o.kind.clone(), o.requirement.clone())).or_default().push(o);
    }
    let mut out = Vec::new();
    for ((_, requirement), group) in groups {
        let owner = existing.iter_mut().find(|r| r.verdict == Verdict::Fail && r.requirements.contains(&requirement));
        match owner {
            Some(r) if !group.iter().all(|o| o.allowed) => {
                let replies: u32 = group.iter().map(|o| o.seen).sum();
                let mut checks: Vec<&str> = group.iter().map(|o| o.scenario.as_str()).collect();
                checks.dedup();
                let note = format!(
                    " (also seen in {replies} repl{} during {} other check{}, judged there only on what they test: \
                     {})",
                    if replies == 1 { "y" } else { "ies" },
                    checks.len(),
                    if checks.len() == 1 { "" } else { "s" },
                    group[0].detail
                );
                r.message = Some(format!("{}{note}", r.message.as_deref().unwrap_or("")));
            }
            _ => out.push(result(group)),
        }
    }
    out
}

fn result(group: Vec<Observation>) -> CheckResult {
    let first = &group[0];
    let area = first.rfc.split(" §").next().unwrap_or("RFC").to_string();
    let allowed = group.iter().all(|o| o.allowed);
    let verdict = if allowed { Verdict::Xfail } else { Verdict::Fail };
    let title = format!("Every reply keeps the `{}` rule (seen while other checks ran)", first.kind);
    let mut r = CheckResult::new(format!("invariant/{}", first.kind), title, area, verdict);
    r.requirements = vec![first.requirement.clone()];
    r.rfc_refs = vec![first.rfc.clone()];
    let replies: u32 = group.iter().map(|o| o.seen).sum();
    let mut scenarios: Vec<&str> = group.iter().map(|o| o.scenario.as_str()).collect();
    scenarios.dedup();
    let mut details: Vec<&str> = Vec::new();
    for o in &group {
        if !details.contains(&o.detail.as_str()) {
            details.push(&o.detail);
        }
    }
    let more = |n: usize| if n > NAMED { format!(" and {} more", n - NAMED) } else { String::new() };
    let named_details: Vec<&str> = details.iter().take(NAMED).copied().collect();
    let named_checks: Vec<&str> = scenarios.iter().take(NAMED).copied().collect();
    let loc = &first.location;
    r.message = Some(format!(
        "[{}] {}: {}{} — seen in {replies} repl{} during {} check{} ({}{}); first at {}:{}:{}. Those checks are \
         judged only on what they test{}",
        first.requirement,
        first.rfc,
        named_details.join("; "),
        more(details.len()),
        if replies == 1 { "y" } else { "ies" },
        scenarios.len(),
        if scenarios.len() == 1 { "" } else { "s" },
        named_checks.join(", "),
        more(scenarios.len()),
        loc.file,
        loc.line,
        loc.column,
        if allowed { "; tolerated by --allow" } else { "" },
    ));
    r.expected = Some(format!("replies without `{}`", first.kind));
    r.actual = Some(first.actual.clone());
    r.location = Some(first.location.clone());
    r.transcript = first.evidence.clone();
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::SourceLocation;

    fn obs(kind: &str, scenario: &str, detail: &str, allowed: bool) -> Observation {
        Observation {
            kind: kind.into(),
            requirement: "2449-capa-syntax".into(),
            rfc: "RFC 2449 §6".into(),
            detail: detail.into(),
            scenario: scenario.into(),
            location: SourceLocation { file: format!("scenarios/{scenario}.yaml"), line: 3, column: 5 },
            actual: "+OK".into(),
            evidence: Vec::new(),
            allowed,
            seen: 2,
        }
    }

    #[test]
    fn one_result_per_kind_with_count_and_places() {
        let r = results(
            vec![
                obs("capa-syntax", "rfc1939/a", "bad line X", false),
                obs("capa-syntax", "rfc1939/b", "bad line X", false),
                obs("bare-lf", "rfc1939/b", "LF", false),
            ],
            &mut [],
        );
        assert_eq!(r.len(), 2);
        let capa = r.iter().find(|r| r.id == "invariant/capa-syntax").unwrap();
        assert_eq!(capa.verdict, Verdict::Fail);
        let m = capa.message.as_deref().unwrap();
        assert!(m.contains("seen in 4 replies during 2 checks (rfc1939/a, rfc1939/b)"), "{m}");
        assert!(m.contains("scenarios/rfc1939/a.yaml:3:5"), "{m}");
        assert_eq!(capa.area, "RFC 2449");
    }

    #[test]
    fn a_failed_check_of_the_requirement_owns_the_defect() {
        let mut dedicated = CheckResult::new("rfc2449/capa-syntax", "t", "RFC 2449", Verdict::Fail);
        dedicated.requirements = vec!["2449-capa-syntax".into()];
        dedicated.message = Some("malformed".into());
        let mut existing = vec![dedicated];
        let r = results(vec![obs("capa-syntax", "rfc1939/a", "bad line X", false)], &mut existing);
        assert!(r.is_empty());
        let m = existing[0].message.as_deref().unwrap();
        assert!(m.starts_with("malformed (also seen in 2 replies during 1 other check"), "{m}");
    }

    #[test]
    fn allowed_everywhere_is_an_expected_failure() {
        let r = results(vec![obs("bare-lf", "x/a", "LF", true)], &mut []);
        assert_eq!(r[0].verdict, Verdict::Xfail);
        assert!(r[0].message.as_deref().unwrap().contains("tolerated by --allow"));
    }
}
