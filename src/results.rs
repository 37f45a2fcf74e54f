//! The one results model. `run`, `audit` and `fuzz` all produce a [`Report`]; every output format
//! (terminal, JSON, JUnit, SARIF, Markdown, HTML, matrix) is a pure function of it, rendered after
//! the run's clock has stopped.

use crate::transcript::Entry;
use serde::{Deserialize, Serialize};

/// Version of the JSON form of [`Report`]. Bump on any incompatible change; the JSON schema lives
/// beside the JSON renderer.
pub const SCHEMA_VERSION: u32 = 1;

/// What produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    Run,
    Audit,
    Fuzz,
    /// `audit-client`: a malicious server judging a POP3 client.
    #[serde(rename = "audit-client")]
    AuditClient,
}

/// The outcome of one check, scenario or finding probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The server did what the rule asks.
    Pass,
    /// The server broke a rule (a conformance failure or a security finding).
    Fail,
    /// The tester could not do its job (connection refused, bad credentials, timeout, bad input).
    Error,
    /// The check does not apply or was not allowed, with a reason.
    Skip,
    /// Failed as the scenario declared it would (`xfail` with a reason); does not gate CI.
    Xfail,
    /// Declared `xfail` but passed: the declaration is stale; gates CI like a failure.
    Xpass,
}

/// Severity of a security finding (audit, fuzz). Ordered: `Info < Low < ... < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!("unknown severity `{other}` (expected info, low, medium, high or critical)")),
        }
    }
}

/// A position in a scenario file, for results that come from one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLocation {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

/// What the tool knows of the server under test.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The greeting line's text (after `+OK `), as received.
    pub greeting: Option<String>,
    /// The IMPLEMENTATION capability argument, when advertised.
    pub implementation: Option<String>,
    /// CAPA lines seen in AUTHORIZATION before TLS (raw text).
    pub capabilities: Vec<String>,
}

/// The result of one check (a scenario, a Rust check, an audit finding or a fuzz finding).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Stable id: scenario name (`rfc1939/retr-byte-stuffing`), audit id (`A06`), fuzz id.
    pub id: String,
    /// One-line human title.
    pub title: String,
    /// Grouping for tables and JUnit suites: `RFC 1939`, `RFC 2449`, `TLS audit`, `fuzz`...
    pub area: String,
    /// Requirement ids from the catalogue (`1939-multiline`, `2595-discard-buffer`).
    #[serde(default)]
    pub requirements: Vec<String>,
    /// RFC section references (`RFC 1939 §3`).
    #[serde(default)]
    pub rfc_refs: Vec<String>,
    /// Other references: CVE, CWE ids.
    #[serde(default)]
    pub references: Vec<String>,
    pub verdict: Verdict,
    /// For findings (audit, fuzz): how bad it is when the verdict is `fail`.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Why it failed, errored or was skipped, in one or a few sentences.
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub expected: Option<String>,
    #[serde(default)]
    pub actual: Option<String>,
    /// What the server operator should change (findings).
    #[serde(default)]
    pub remediation: Option<String>,
    /// Where in a scenario file the failing step is.
    #[serde(default)]
    pub location: Option<SourceLocation>,
    /// The evidence: transcript of the session(s), credentials already redacted.
    #[serde(default)]
    pub transcript: Vec<Entry>,
    pub duration_ms: f64,
}

impl CheckResult {
    /// A result with only the identifying fields set; callers fill in the rest.
    pub fn new(id: impl Into<String>, title: impl Into<String>, area: impl Into<String>, verdict: Verdict) -> Self {
        CheckResult {
            id: id.into(),
            title: title.into(),
            area: area.into(),
            requirements: Vec::new(),
            rfc_refs: Vec::new(),
            references: Vec::new(),
            verdict,
            severity: None,
            message: None,
            expected: None,
            actual: None,
            remediation: None,
            location: None,
            transcript: Vec::new(),
            duration_ms: 0.0,
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: String,
    pub tool_version: String,
    pub kind: RunKind,
    /// The target URL as given (no credentials: URLs never carry them).
    pub target: String,
    /// RFC 3339 UTC time the run started.
    pub started_at: String,
    pub duration_ms: f64,
    /// True when the run was cut short (Ctrl-C, time limit): results are those gathered so far.
    pub incomplete: bool,
    pub server: ServerInfo,
    /// A one-line overall verdict, e.g. the audit's "TLS enforced: yes, because ...".
    #[serde(default)]
    pub summary: Option<String>,
    /// Fuzz runs: the seed that reproduces the run.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Fuzz runs: what the systematic sweep covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    pub results: Vec<CheckResult>,
}

/// What the sweep covered: cells whose line got an answer judged, of cells in the product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Cells in the product for the contexts of the run.
    pub cells: u64,
    /// Cells whose line was sent and its reply judged (or that gave a finding).
    pub tried: u64,
    /// Cells that do not apply to this maildrop or server: DELE of another message in a maildrop
    /// of one, a context out of reach, an argument class that already made the server hang
    /// (each more would cost a full timeout to show the same hang).
    pub not_applicable: u64,
    /// Cells the run's budget (--cases, --duration) did not reach.
    pub not_reached: u64,
}

impl Coverage {
    /// `2180/2430 cells (250 not applicable)`.
    pub fn summary(&self) -> String {
        let mut s = format!("sweep {}/{} cells", self.tried, self.cells);
        if self.not_applicable > 0 {
            s += &format!(", {} not applicable", self.not_applicable);
        }
        if self.not_reached > 0 {
            s += &format!(", {} not reached (budget)", self.not_reached);
        }
        s
    }
}

impl Report {
    pub fn new(kind: RunKind, target: impl Into<String>) -> Self {
        Report {
            schema_version: SCHEMA_VERSION,
            tool: "pop3test".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            kind,
            target: target.into(),
            started_at: now_rfc3339(),
            duration_ms: 0.0,
            incomplete: false,
            server: ServerInfo::default(),
            summary: None,
            seed: None,
            coverage: None,
            results: Vec::new(),
        }
    }

    /// Count of results per verdict.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.results {
            c.add(r.verdict);
        }
        c
    }

    /// The highest severity among failed results that carry one.
    pub fn worst_severity(&self) -> Option<Severity> {
        self.results.iter().filter(|r| r.verdict == Verdict::Fail).filter_map(|r| r.severity).max()
    }

    /// Exit code by the rules in [`crate::exit`]: errors first (the run is not trustworthy), then
    /// security findings at or above `fail_on`, then conformance failures.
    pub fn exit_code(&self, fail_on: Option<Severity>) -> i32 {
        use crate::exit;
        let c = self.counts();
        if c.error > 0 {
            return exit::TESTER_ERROR;
        }
        let gated = |r: &&CheckResult| match (r.severity, fail_on) {
            (Some(s), Some(min)) => s >= min,
            (Some(_), None) => false,
            (None, _) => true,
        };
        let findings =
            self.results.iter().filter(|r| r.verdict == Verdict::Fail && r.severity.is_some()).filter(gated).count();
        let conformance = self
            .results
            .iter()
            .filter(|r| (r.verdict == Verdict::Fail && r.severity.is_none()) || r.verdict == Verdict::Xpass)
            .count();
        if findings > 0 {
            exit::FINDINGS
        } else if conformance > 0 {
            exit::CONFORMANCE_FAILURES
        } else {
            exit::OK
        }
    }
}

/// Counts per verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub skip: usize,
    pub xfail: usize,
    pub xpass: usize,
}

impl Counts {
    /// Counts one more result with this verdict.
    pub fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Error => self.error += 1,
            Verdict::Skip => self.skip += 1,
            Verdict::Xfail => self.xfail += 1,
            Verdict::Xpass => self.xpass += 1,
        }
    }
}

/// Current UTC time as RFC 3339 (seconds precision).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_with(results: Vec<CheckResult>) -> Report {
        let mut r = Report::new(RunKind::Audit, "pop3://127.0.0.1:110");
        r.results = results;
        r
    }

    fn finding(sev: Severity) -> CheckResult {
        let mut r = CheckResult::new("A06", "injection", "TLS audit", Verdict::Fail);
        r.severity = Some(sev);
        r
    }

    #[test]
    fn exit_code_gates_findings_on_severity() {
        use crate::exit;
        let r = report_with(vec![finding(Severity::Medium)]);
        assert_eq!(r.exit_code(Some(Severity::High)), exit::OK);
        assert_eq!(r.exit_code(Some(Severity::Medium)), exit::FINDINGS);
        assert_eq!(r.exit_code(None), exit::OK);
    }

    #[test]
    fn errors_outrank_failures_and_conformance_is_4() {
        use crate::exit;
        let fail = CheckResult::new("x", "x", "RFC 1939", Verdict::Fail);
        let err = CheckResult::new("y", "y", "RFC 1939", Verdict::Error);
        assert_eq!(report_with(vec![fail.clone()]).exit_code(Some(Severity::High)), exit::CONFORMANCE_FAILURES);
        assert_eq!(report_with(vec![fail, err]).exit_code(Some(Severity::High)), exit::TESTER_ERROR);
        let xpass = CheckResult::new("z", "z", "RFC 1939", Verdict::Xpass);
        assert_eq!(report_with(vec![xpass]).exit_code(None), exit::CONFORMANCE_FAILURES);
    }

    #[test]
    fn json_round_trip() {
        let r = report_with(vec![finding(Severity::Critical)]);
        let s = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&s).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.worst_severity(), Some(Severity::Critical));
    }
}
