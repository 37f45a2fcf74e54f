//! The audit's one-line answer, `Report.summary`: "TLS enforced: yes, because ..." or "TLS
//! enforced: no, because ...", derived from the checks that decide whether a password or a session
//! can be had without TLS — A01 (no STLS), A03 (cleartext login), A06 (injection), A07 (STLS after
//! login), A09 (plaintext after `+OK`) and A10 (old TLS versions). When the answer depends on a
//! check that could not be decided, the line says "undetermined" and why.

use super::check::{join_and, CheckId, Finding, Outcome};

/// The verdict line for a set of findings.
pub fn summary(findings: &[Finding]) -> String {
    let get = |id: CheckId| findings.iter().find(|f| f.id == id).map(|f| &f.outcome);
    let failed = |id| get(id).is_some_and(Outcome::is_fail);
    let a03 = get(CheckId::A03);

    let mut no = Vec::new();
    if let Some(Outcome::Fail { message, .. }) = a03 {
        no.push(format!("cleartext login is accepted before TLS (A03: {message})"));
    }
    if failed(CheckId::A06) {
        no.push("plaintext injected after STLS is executed inside TLS (A06)".to_string());
    }
    if failed(CheckId::A07) {
        no.push("STLS is accepted after login (A07)".to_string());
    }
    if failed(CheckId::A09) {
        no.push("plaintext follows the +OK to STLS (A09)".to_string());
    }
    if failed(CheckId::A10) {
        no.push("TLS versions below 1.2 are accepted (A10)".to_string());
    }
    if failed(CheckId::A01) && !a03.is_some_and(Outcome::is_pass) {
        no.push("the plain port offers no STLS (A01)".to_string());
    }
    if !no.is_empty() {
        return format!("TLS enforced: no, because {}", no.join("; "));
    }

    let deciding = [CheckId::A01, CheckId::A03, CheckId::A06, CheckId::A07, CheckId::A09, CheckId::A10];
    let errors: Vec<(CheckId, &str)> = deciding
        .iter()
        .filter_map(|&id| match get(id) {
            Some(Outcome::Error(why)) => Some((id, why.as_str())),
            None => Some((id, "not run")),
            _ => None,
        })
        .collect();
    let mut unknown = Vec::new();
    if let Some(Outcome::Skip(_)) = a03 {
        unknown.push("A03 (cleartext login) was skipped: no credentials".to_string());
    }
    if let Some((_, first)) = errors.first() {
        let names: Vec<String> = errors.iter().map(|(id, _)| id.code()).collect();
        let verb = if names.len() == 1 { "was" } else { "were" };
        unknown.push(format!("{} {verb} not decided ({first})", join_and(&names)));
    }
    if !unknown.is_empty() {
        return format!("TLS enforced: undetermined, because {}", unknown.join("; "));
    }

    let mut yes = vec!["every cleartext login method is refused before TLS".to_string()];
    match get(CheckId::A06) {
        Some(Outcome::Pass(_)) => yes.push("plaintext pipelined after STLS is discarded".into()),
        _ => yes.push("the plain port has no STLS upgrade to attack".into()),
    }
    if let Some(Outcome::Pass(_)) = get(CheckId::A07) {
        yes.push("STLS is refused after login".into());
    }
    if let Some(Outcome::Pass(_)) = get(CheckId::A09) {
        yes.push("nothing follows the +OK to STLS".into());
    }
    if let Some(Outcome::Pass(_)) = get(CheckId::A10) {
        yes.push("only TLS 1.2 or later is accepted".into());
    }
    let line = format!("TLS enforced: yes, because {}", join_and(&yes));
    // Passwords are safe, but a high finding elsewhere (e.g. A18 session fixation) must not hide
    // behind a "yes".
    let serious: Vec<String> = findings
        .iter()
        .filter(|f| f.outcome.severity().is_some_and(|s| s >= crate::results::Severity::High))
        .map(|f| f.id.code())
        .collect();
    if serious.is_empty() {
        line
    } else {
        format!("{line}; but see {} (high or above)", join_and(&serious))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Severity;

    fn all_pass() -> Vec<Finding> {
        [CheckId::A01, CheckId::A03, CheckId::A06, CheckId::A07, CheckId::A09, CheckId::A10]
            .into_iter()
            .map(|id| Finding::new(id, Outcome::Pass("ok".into())))
            .collect()
    }

    fn with(mut f: Vec<Finding>, id: CheckId, o: Outcome) -> Vec<Finding> {
        f.iter_mut().find(|x| x.id == id).unwrap().outcome = o;
        f
    }

    #[test]
    fn yes_when_every_deciding_check_passes() {
        let s = summary(&all_pass());
        assert!(s.starts_with("TLS enforced: yes, because every cleartext login method is refused"), "{s}");
        assert!(s.contains("only TLS 1.2 or later"), "{s}");
    }

    #[test]
    fn no_names_each_failure() {
        let f = with(all_pass(), CheckId::A06, Outcome::fail(Severity::Critical, "ran"));
        let f = with(f, CheckId::A03, Outcome::fail(Severity::High, "USER/PASS works"));
        let s = summary(&f);
        assert!(s.starts_with("TLS enforced: no, because cleartext login is accepted"), "{s}");
        assert!(s.contains("USER/PASS works") && s.contains("(A06)"), "{s}");
    }

    #[test]
    fn missing_stls_counts_only_without_a_cleartext_refusal() {
        let f = with(all_pass(), CheckId::A01, Outcome::fail(Severity::Medium, "no STLS"));
        assert!(summary(&f).starts_with("TLS enforced: yes"));
        let f = with(f, CheckId::A03, Outcome::Skip("no credentials".into()));
        assert!(summary(&f).starts_with("TLS enforced: no, because the plain port offers no STLS"));
    }

    #[test]
    fn undetermined_without_credentials_or_on_errors() {
        let f = with(all_pass(), CheckId::A03, Outcome::Skip("no credentials".into()));
        let s = summary(&f);
        assert!(s.starts_with("TLS enforced: undetermined, because A03 (cleartext login) was skipped"), "{s}");
        let f = with(all_pass(), CheckId::A06, Outcome::Error("timeout".into()));
        let f = with(f, CheckId::A09, Outcome::Error("refused".into()));
        let s = summary(&f);
        assert!(s.ends_with("because A06 and A09 were not decided (timeout)"), "{s}");
    }
}
