//! Fixed reports for the report tests (golden files, consumer validation, redaction guard).
//! Everything is constant — times, durations, versions — so renderings are byte-stable.
#![allow(dead_code)]

use pop3test::results::{CheckResult, Report, RunKind, ServerInfo, Severity, SourceLocation, Verdict};
use pop3test::transcript::{Direction, Entry};

fn e(t_ms: f64, dir: Direction, tls: bool, text: &str) -> Entry {
    Entry { t_ms, dir, tls, text: text.to_string() }
}

fn base(kind: RunKind, target: &str) -> Report {
    let mut r = Report::new(kind, target);
    r.tool_version = "9.9.9-test".into();
    r.started_at = "2024-05-01T12:00:00Z".into();
    r.duration_ms = 1534.25;
    r
}

/// A conformance run: one of each verdict, a failure with location and transcript, special
/// characters and non-ASCII text everywhere a renderer must escape them, and a redacted PASS.
pub fn run_report() -> Report {
    let mut r = base(RunKind::Run, "pop3://mail.example.org:110");
    r.server = ServerInfo {
        greeting: Some("POP3 server ready <1896.697170952@dbc.mtview.ca.us>".into()),
        implementation: Some("Exämple POP3 \"beta\" & co".into()),
        capabilities: vec!["TOP".into(), "UIDL".into(), "USER".into(), "STLS".into(), "IMPLEMENTATION Exämple".into()],
    };

    let mut pass =
        CheckResult::new("rfc1939/greeting", "Greeting is a positive status line", "RFC 1939", Verdict::Pass);
    pass.requirements = vec!["1939-greeting".into()];
    pass.rfc_refs = vec!["RFC 1939 §4".into()];
    pass.duration_ms = 12.5;

    let mut fail = CheckResult::new(
        "rfc1939/retr-byte-stuffing",
        "RETR undoes byte-stuffing of lines starting with \".\"",
        "RFC 1939",
        Verdict::Fail,
    );
    fail.requirements = vec!["1939-multiline".into(), "1939-retr".into()];
    fail.rfc_refs = vec!["RFC 1939 §3".into(), "RFC 1939 §5".into()];
    fail.message = Some("line 2 of message 1 was not byte-stuffed: a line \".\" ended the response early".into());
    fail.expected = Some("..hidden & <kept>".into());
    fail.actual = Some(".hidden & <kept>".into());
    fail.location = Some(SourceLocation { file: "scenarios/rfc1939/retr.yaml".into(), line: 14, column: 7 });
    fail.duration_ms = 48.0;
    fail.transcript = vec![
        e(0.0, Direction::Note, false, "connected to 192.0.2.10:110"),
        e(1.2, Direction::Server, false, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\\r\\n"),
        e(2.0, Direction::Client, false, "USER mrose\\r\\n"),
        e(3.1, Direction::Server, false, "+OK mrose is a real hoopy frood\\r\\n"),
        e(3.5, Direction::Client, false, "PASS <redacted>\\r\\n"),
        e(9.8, Direction::Server, false, "+OK mrose's maildrop has 2 messages (320 octets)\\r\\n"),
        e(10.0, Direction::Client, false, "RETR 1\\r\\n"),
        e(
            11.4,
            Direction::Server,
            false,
            "+OK 120 octets\\r\\nSubject: caf\u{e9} \u{2603}\\r\\n\\r\\n.hidden & <kept>\\r\\n.\\r\\n",
        ),
        e(12.0, Direction::Note, false, "response ended before the message did"),
    ];

    let mut error = CheckResult::new("rfc1939/lock", "Maildrop is locked during a session", "RFC 1939", Verdict::Error);
    error.requirements = vec!["1939-lock".into()];
    error.message = Some("second connection refused: Connection refused (os error 111)".into());
    error.duration_ms = 1000.0;
    error.transcript = vec![e(0.0, Direction::Note, false, "connect 192.0.2.10:110: Connection refused")];

    let mut skip =
        CheckResult::new("rfc2449/pipelining", "Pipelined commands each get their response", "RFC 2449", Verdict::Skip);
    skip.requirements = vec!["2449-pipelining".into()];
    skip.message = Some("PIPELINING not advertised in CAPA".into());

    let mut xfail = CheckResult::new(
        "rfc2449/capa-states",
        "CAPA lists the same capabilities after login",
        "RFC 2449",
        Verdict::Xfail,
    );
    xfail.message = Some("known deviation: USER disappears after login (quirk `capa-drops-user`)".into());
    xfail.duration_ms = 20.0;

    let mut xpass = CheckResult::new(
        "rfc1939/top-beyond-body",
        "TOP beyond the body returns the whole message",
        "RFC 1939",
        Verdict::Xpass,
    );
    xpass.message = Some("declared xfail in scenarios/rfc1939/top.yaml but passed".into());
    xpass.location = Some(SourceLocation { file: "scenarios/rfc1939/top.yaml".into(), line: 3, column: 1 });
    xpass.duration_ms = 15.0;

    let mut finding =
        CheckResult::new("A06", "Plaintext pipelined after STLS is executed inside TLS", "TLS audit", Verdict::Fail);
    finding.requirements = vec!["2595-discard-buffer".into()];
    finding.rfc_refs = vec!["RFC 2595 §4".into()];
    finding.references = vec!["CVE-2021-38084".into(), "CVE-2011-0411".into(), "CWE-74".into()];
    finding.severity = Some(Severity::High);
    finding.message = Some("the server answered CAPA (sent in plaintext with STLS) after the TLS handshake".into());
    finding.expected = Some("no response to the injected CAPA inside TLS".into());
    finding.actual = Some("+OK Capability list follows".into());
    finding.remediation = Some("Discard the input buffer when STLS succeeds; upgrade to a fixed release.".into());
    finding.duration_ms = 230.0;
    finding.transcript = vec![
        e(0.0, Direction::Client, false, "STLS\\r\\nCAPA\\r\\n"),
        e(1.0, Direction::Server, false, "+OK Begin TLS negotiation\\r\\n"),
        e(40.0, Direction::Note, true, "TLS 1.3 handshake complete"),
        e(41.0, Direction::Server, true, "+OK Capability list follows\\r\\nTOP\\r\\n.\\r\\n"),
    ];

    r.results = vec![pass, fail, error, skip, xfail, xpass, finding];
    r
}

/// A TLS audit: verdict line, findings of several severities (listed out of order), a pass.
pub fn audit_report() -> Report {
    let mut r = base(RunKind::Audit, "pop3://mail.example.org:110");
    r.server.greeting = Some("Dovecot ready.".into());
    r.server.implementation = None;
    r.server.capabilities = vec!["CAPA".into(), "STLS".into(), "SASL PLAIN".into()];
    r.summary = Some("TLS enforced: no — cleartext USER/PASS accepted before STLS (A03)".into());

    let mut low = CheckResult::new("A10", "Certificate expires within 30 days", "TLS audit", Verdict::Fail);
    low.severity = Some(Severity::Low);
    low.message = Some("notAfter 2024-05-20T00:00:00Z".into());
    low.remediation = Some("Renew the certificate.".into());

    let mut crit = CheckResult::new("A03", "Cleartext login accepted before STLS", "TLS audit", Verdict::Fail);
    crit.severity = Some(Severity::Critical);
    crit.requirements = vec!["2595-cleartext-configurable".into()];
    crit.references = vec!["CWE-319".into()];
    crit.remediation = Some("Refuse USER/PASS and AUTH until STLS has completed (e.g. disable_plaintext_auth).".into());
    crit.transcript = vec![
        e(0.0, Direction::Client, false, "USER mrose\\r\\n"),
        e(0.8, Direction::Server, false, "+OK\\r\\n"),
        e(1.0, Direction::Client, false, "PASS <redacted>\\r\\n"),
        e(5.0, Direction::Server, false, "+OK Logged in.\\r\\n"),
    ];

    let mut med = CheckResult::new("A08", "TLS 1.0 accepted", "TLS audit", Verdict::Fail);
    med.severity = Some(Severity::Medium);
    med.references = vec!["CWE-327".into()];

    let mut info = CheckResult::new("A01", "STLS advertised and works", "TLS audit", Verdict::Pass);
    info.severity = Some(Severity::Info);

    r.results = vec![low, crit, med, info];
    r
}

/// A second server for the matrix: some checks in common, one the others lack.
pub fn other_server_report() -> Report {
    let mut r = base(RunKind::Run, "pop3s://pop.other.example:995");
    r.server.implementation = Some("OtherPOP 2.1".into());
    let mut results = Vec::new();
    for (id, title, area, v) in [
        ("rfc1939/greeting", "Greeting is a positive status line", "RFC 1939", Verdict::Pass),
        (
            "rfc1939/retr-byte-stuffing",
            "RETR undoes byte-stuffing of lines starting with \".\"",
            "RFC 1939",
            Verdict::Pass,
        ),
        ("rfc2449/pipelining", "Pipelined commands each get their response", "RFC 2449", Verdict::Fail),
        ("rfc2449/resp-codes", "Response codes are well-formed", "RFC 2449", Verdict::Pass),
    ] {
        results.push(CheckResult::new(id, title, area, v));
    }
    r.results = results;
    r
}
