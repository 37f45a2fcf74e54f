//! The audit's findings as values: one [`CheckId`] per row of the TLS posture table (A01–A16 in
//! `pop3-requirements.md`, plus A17 for APOP timestamp reuse and A18 for state carried across STLS), each knowing its title, requirement
//! ids, RFC sections, CVE/CWE references and remediation; an [`Outcome`] per check; and the
//! [`Evidence`] (transcripts of every connection the decision rests on) that travels with it.
//! Probes observe, pure `decide_*` functions turn observations into outcomes, and
//! [`Finding::into_result`] is the one place a [`CheckResult`] is built.

use crate::results::{CheckResult, Severity, Verdict};
use crate::transcript::{Direction, Entry, Transcript};

/// Area every audit result is grouped under.
pub const AREA: &str = "TLS audit";

/// One audit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckId {
    A01,
    A02,
    A03,
    A04,
    A05,
    A06,
    A07,
    A08,
    A09,
    A10,
    A11,
    A12,
    A13,
    A14,
    A15,
    A16,
    A17,
    A18,
}

/// What a check is about, independent of any run.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub title: &'static str,
    /// Requirement ids from the catalogue.
    pub requirements: &'static [&'static str],
    pub rfc_refs: &'static [&'static str],
    /// CVE and CWE ids.
    pub references: &'static [&'static str],
    pub remediation: &'static str,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [CheckId; 18] = [
        CheckId::A01,
        CheckId::A02,
        CheckId::A03,
        CheckId::A04,
        CheckId::A05,
        CheckId::A06,
        CheckId::A07,
        CheckId::A08,
        CheckId::A09,
        CheckId::A10,
        CheckId::A11,
        CheckId::A12,
        CheckId::A13,
        CheckId::A14,
        CheckId::A15,
        CheckId::A16,
        CheckId::A17,
        CheckId::A18,
    ];

    /// The id as reports show it (`A06`).
    pub fn code(self) -> String {
        format!("{self:?}")
    }

    pub fn meta(self) -> Meta {
        use CheckId::*;
        let m = |title, requirements, rfc_refs, references, remediation| Meta {
            title,
            requirements,
            rfc_refs,
            references,
            remediation,
        };
        match self {
            A01 => m(
                "STLS not offered on the plain port",
                &["2595-stls-capa", "8314-implicit-tls"],
                &["RFC 2595 §4", "RFC 8314"],
                &["CWE-319"],
                "Enable STLS on the plain port, or close it and serve POP3 only over implicit TLS on 995 (RFC 8314).",
            ),
            A02 => m(
                "STLS advertised but fails, or works but is not advertised",
                &["2595-stls-capa", "2449-tags-true"],
                &["RFC 2595 §4", "RFC 2449 §6"],
                &[],
                "List STLS in CAPA exactly when STLS works: clients that trust CAPA otherwise stay in cleartext or fail.",
            ),
            A03 => m(
                "Cleartext login accepted before TLS",
                &["2595-cleartext-configurable"],
                &["RFC 2595 §2.3", "RFC 8314"],
                &["CWE-319", "CWE-523"],
                "Refuse every login command and mechanism (USER/PASS, APOP, AUTH) until TLS is active. On Dovecot \
                 2.3 `disable_plaintext_auth = yes` still lets APOP through and treats loopback and \
                 `login_trusted_networks` as secure; `ssl = required` refuses every cleartext login.",
            ),
            A04 => m(
                "Cleartext login mechanisms advertised before TLS",
                &["2595-cleartext-configurable", "2449-tags-true"],
                &["RFC 2595 §2.3", "RFC 2449 §6.3", "RFC 5034"],
                &["CWE-523"],
                "Advertise USER and SASL PLAIN/LOGIN only after STLS, so clients never offer a password in cleartext.",
            ),
            A05 => m(
                "Weak challenge-response mechanisms offered",
                &["1939-apop-timestamp"],
                &["RFC 1939 §7", "RFC 2195", "RFC 6331"],
                &["CVE-2007-1558", "CWE-328", "CWE-257"],
                "Disable APOP, CRAM-MD5, DIGEST-MD5 and NTLM (MD5-based, and they need plaintext-equivalent stored \
                 secrets); use TLS with PLAIN or SCRAM.",
            ),
            A06 => m(
                "STLS command injection: plaintext pipelined after STLS runs inside TLS",
                &["2595-discard-buffer", "2595-handshake-next"],
                &["RFC 2595 §4", "RFC 7457 §2.1"],
                &[
                    "CVE-2011-0411",
                    "CVE-2021-38084",
                    "CVE-2020-29548",
                    "CVE-2020-29547",
                    "CVE-2021-37844",
                    "CVE-2021-33487",
                    "CWE-74",
                ],
                "On STLS, discard every byte received before the TLS handshake (reset the command buffer) and \
                 upgrade the server to a release that does.",
            ),
            A07 => m(
                "STLS accepted after login",
                &["2595-stls-state"],
                &["RFC 2595 §4"],
                &["CVE-2021-37845", "CVE-2021-37846", "CWE-384"],
                "Accept STLS only in the AUTHORIZATION state, before any login; answer -ERR afterwards.",
            ),
            A08 => m(
                "STLS accepted inside TLS, or re-advertised after TLS",
                &["2595-stls-twice", "2595-capa-after-tls"],
                &["RFC 2595 §4"],
                &[],
                "Answer -ERR to STLS once TLS is active and drop STLS from the CAPA sent inside TLS.",
            ),
            A09 => m(
                "Plaintext sent after the +OK to STLS",
                &["2595-handshake-next"],
                &["RFC 2595 §4", "RFC 7457 §2.1"],
                &["CWE-74"],
                "Start the TLS handshake right after the CRLF of the +OK; send nothing else in plaintext.",
            ),
            A10 => m(
                "TLS below 1.2 or SSL accepted",
                &["8314-tls-versions"],
                &["RFC 8996", "RFC 7568", "RFC 8314"],
                &["CVE-2014-3566", "CVE-2011-3389", "CWE-327"],
                "Accept only TLS 1.2 and 1.3 on every port (e.g. `ssl_min_protocol = TLSv1.2`).",
            ),
            A11 => m(
                "Weak TLS 1.2 cipher suites or no forward secrecy",
                &["8314-tls-versions"],
                &["RFC 9325 §4.2", "RFC 7465"],
                &["CVE-2016-2183", "CVE-2015-0204", "CVE-2013-2566", "CWE-327"],
                "Restrict TLS 1.2 to ECDHE/DHE suites with AES-GCM or ChaCha20-Poly1305 (Mozilla intermediate).",
            ),
            A12 => m(
                "Certificate invalid: chain, dates, name, key or signature",
                &["7817-identity"],
                &["RFC 7817 §3", "RFC 6125 §6", "RFC 5280 §6"],
                &["CWE-295"],
                "Serve a certificate chain from a trusted CA that names the host (DNS subjectAltName), is within its \
                 validity dates, and uses an RSA ≥ 2048-bit or EC ≥ P-256 key with a SHA-2 signature.",
            ),
            A13 => m(
                "No implicit TLS (POP3S)",
                &["8314-implicit-tls"],
                &["RFC 8314 §3"],
                &[],
                "Offer POP3 over implicit TLS on port 995 (RFC 8314 prefers it to STLS).",
            ),
            A14 => m(
                "STLS port and implicit-TLS port differ in posture",
                &["7817-identity", "8314-tls-versions"],
                &["RFC 8314", "RFC 7817"],
                &[],
                "Configure both listeners from one TLS policy: same certificate, versions, suites and login methods.",
            ),
            A15 => m(
                "User enumeration at USER",
                &["1939-user"],
                &["RFC 1939 §7"],
                &["CWE-204"],
                "Answer USER with +OK for every name and reject only at PASS, with the same reply for unknown users \
                 and wrong passwords.",
            ),
            A16 => m(
                "Server version disclosed",
                &["2449-implementation"],
                &["RFC 2449 §6.9"],
                &["CWE-200"],
                "Leave version numbers out of the greeting and the IMPLEMENTATION capability.",
            ),
            A17 => m(
                "APOP timestamp reused across greetings",
                &["1939-apop-timestamp"],
                &["RFC 1939 §7"],
                &["CWE-294"],
                "Put a fresh <process-ID.clock@hostname> timestamp in every greeting, or disable APOP.",
            ),
            A18 => m(
                "Authentication state carried across STLS (session fixation)",
                &["2595-stls-state", "5034-challenge"],
                &["RFC 2595 §4", "RFC 5034 §4", "RFC 7457 §2.1"],
                &["CWE-384"],
                "Reset the whole session on STLS: forget any AUTH exchange, USER name or other state from before the                  handshake, exactly as if the connection had just been opened.",
            ),
        }
    }
}

/// How one check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server is fine on this point; the text says what was observed.
    Pass(String),
    /// A finding.
    Fail { severity: Severity, message: String },
    /// Could not be decided; the text says exactly what and why.
    Skip(String),
    /// The tester could not run the probe.
    Error(String),
}

impl Outcome {
    pub fn fail(severity: Severity, message: impl Into<String>) -> Outcome {
        Outcome::Fail { severity, message: message.into() }
    }

    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass(_))
    }

    pub fn is_fail(&self) -> bool {
        matches!(self, Outcome::Fail { .. })
    }

    pub fn message(&self) -> &str {
        match self {
            Outcome::Pass(m) | Outcome::Skip(m) | Outcome::Error(m) | Outcome::Fail { message: m, .. } => m,
        }
    }

    pub fn severity(&self) -> Option<Severity> {
        match self {
            Outcome::Fail { severity, .. } => Some(*severity),
            _ => None,
        }
    }
}

/// The evidence behind a finding: the transcripts of the connections it rests on, each introduced
/// by a note naming what that connection was for. Credentials were redacted when recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence(pub Vec<Entry>);

impl Evidence {
    /// A tester's remark.
    pub fn note(&mut self, text: impl Into<String>) {
        let t_ms = self.0.last().map_or(0.0, |e| e.t_ms);
        self.0.push(Entry { t_ms, dir: Direction::Note, tls: false, text: text.into() });
    }

    /// Appends one connection's transcript under a heading.
    pub fn session(&mut self, label: &str, transcript: &Transcript) {
        self.0.push(Entry { t_ms: 0.0, dir: Direction::Note, tls: false, text: format!("== {label} ==") });
        self.0.extend(transcript.entries().iter().cloned());
    }

    pub fn extend(&mut self, other: &Evidence) {
        self.0.extend(other.0.iter().cloned());
    }
}

/// One decided check with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub id: CheckId,
    pub outcome: Outcome,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub evidence: Evidence,
}

impl Finding {
    pub fn new(id: CheckId, outcome: Outcome) -> Finding {
        Finding { id, outcome, expected: None, actual: None, evidence: Evidence::default() }
    }

    pub fn with_evidence(mut self, evidence: Evidence) -> Finding {
        self.evidence = evidence;
        self
    }

    pub fn expect(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Finding {
        self.expected = Some(expected.into());
        self.actual = Some(actual.into());
        self
    }

    /// The result every report renders. Remediation only on findings; severity only when failed.
    pub fn into_result(self, duration_ms: f64) -> CheckResult {
        let meta = self.id.meta();
        let verdict = match &self.outcome {
            Outcome::Pass(_) => Verdict::Pass,
            Outcome::Fail { .. } => Verdict::Fail,
            Outcome::Skip(_) => Verdict::Skip,
            Outcome::Error(_) => Verdict::Error,
        };
        let mut r = CheckResult::new(self.id.code(), meta.title, AREA, verdict);
        r.requirements = meta.requirements.iter().map(|s| s.to_string()).collect();
        r.rfc_refs = meta.rfc_refs.iter().map(|s| s.to_string()).collect();
        r.references = meta.references.iter().map(|s| s.to_string()).collect();
        r.severity = self.outcome.severity();
        r.message = Some(self.outcome.message().to_string());
        r.remediation = self.outcome.is_fail().then(|| meta.remediation.to_string());
        r.expected = self.expected;
        r.actual = self.actual;
        r.transcript = self.evidence.0;
        r.duration_ms = duration_ms;
        r
    }
}

/// Bytes as a report shows them (CR/LF escaped, at most `max` characters).
pub fn show(bytes: &[u8]) -> String {
    crate::transcript::printable(bytes, 200)
}

/// "a, b and c".
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_metadata_and_a_stable_code() {
        for id in CheckId::ALL {
            let m = id.meta();
            assert!(!m.title.is_empty() && !m.remediation.is_empty(), "{id:?}");
            assert!(!m.rfc_refs.is_empty(), "{id:?}");
            assert_eq!(id.code().len(), 3);
        }
        assert_eq!(CheckId::A06.code(), "A06");
        assert!(CheckId::A06.meta().references.contains(&"CVE-2011-0411"));
    }

    #[test]
    fn result_carries_severity_and_remediation_only_when_failed() {
        let pass = Finding::new(CheckId::A06, Outcome::Pass("discarded".into())).into_result(1.0);
        assert_eq!((pass.verdict, pass.severity, pass.remediation.is_none()), (Verdict::Pass, None, true));
        let fail = Finding::new(CheckId::A06, Outcome::fail(Severity::Critical, "ran")).into_result(1.0);
        assert_eq!((fail.verdict, fail.severity), (Verdict::Fail, Some(Severity::Critical)));
        assert!(fail.remediation.is_some());
        assert_eq!(fail.requirements, ["2595-discard-buffer", "2595-handshake-next"]);
        assert_eq!(fail.area, AREA);
    }

    #[test]
    fn join_and_reads_like_english() {
        let s = |v: &[&str]| join_and(&v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&[]), "");
        assert_eq!(s(&["a"]), "a");
        assert_eq!(s(&["a", "b", "c"]), "a, b and c");
    }
}
