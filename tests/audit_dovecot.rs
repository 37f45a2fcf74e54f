//! The TLS audit against real Dovecot (tests/servers/dovecot.sh): the `required` profile enforces
//! TLS, the `cleartext` profile accepts logins before it. Skipped when the servers are not
//! running, unless POP3TEST_REQUIRE_DOVECOT=1 (as in CI), where their absence fails the test.

use pop3test::audit::dial::Waits;
use pop3test::audit::{run, AuditConfig};
use pop3test::net::session::{Credentials, Secret};
use pop3test::net::Target;
use pop3test::results::{Report, Severity, Verdict};
use std::time::Duration;

struct Profile {
    plain: Target,
    tls: Target,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The profile's endpoints and the shared credentials and CA, or `None` (test skipped).
fn dovecot(profile: &str) -> Option<(Profile, Credentials, String)> {
    let up = profile.to_ascii_uppercase();
    let found = (|| {
        let plain = env(&format!("POP3TEST_DOVECOT_{up}"))?.parse().ok()?;
        let tls = env(&format!("POP3TEST_DOVECOT_{up}_TLS"))?.parse().ok()?;
        let creds = Credentials {
            user: env("POP3TEST_DOVECOT_USER")?,
            password: Secret::new(env("POP3TEST_DOVECOT_PASSWORD")?),
        };
        Some((Profile { plain, tls }, creds, env("POP3TEST_DOVECOT_CA")?))
    })();
    if found.is_none() {
        assert!(
            env("POP3TEST_REQUIRE_DOVECOT").as_deref() != Some("1"),
            "POP3TEST_REQUIRE_DOVECOT=1 but the Dovecot {profile} profile's variables are not set \
             (eval \"$(bash tests/servers/dovecot.sh env)\")"
        );
        eprintln!("skipped: Dovecot is not running (bash tests/servers/dovecot.sh start)");
    }
    found
}

async fn audit(profile: &str) -> Option<Report> {
    let (p, creds, ca) = dovecot(profile)?;
    let cfg = AuditConfig {
        target: p.plain,
        implicit: Some(p.tls),
        creds: Some(creds),
        ca_file: Some(ca.into()),
        server_name: None,
        waits: Waits::from_step(Duration::from_secs(10)),
    };
    Some(run(&cfg).await)
}

fn verdict(report: &Report, id: &str) -> (Verdict, Option<Severity>) {
    let r = report.results.iter().find(|r| r.id == id).unwrap();
    (r.verdict, r.severity)
}

fn no_errors(report: &Report) {
    let errors: Vec<_> =
        report.results.iter().filter(|r| r.verdict == Verdict::Error).map(|r| (&r.id, &r.message)).collect();
    assert!(errors.is_empty(), "tester errors: {errors:?}");
}

#[tokio::test]
async fn dovecot_requiring_tls_enforces_it() {
    let Some(report) = audit("required").await else { return };
    no_errors(&report);
    let summary = report.summary.clone().unwrap();
    assert!(summary.starts_with("TLS enforced: yes, because"), "{summary}\n{:#?}", report.results);
    for id in ["A01", "A02", "A03", "A06", "A07", "A08", "A09", "A10", "A13", "A15", "A17"] {
        assert_eq!(verdict(&report, id).0, Verdict::Pass, "{id}: {:#?}", report.results);
    }
    // Dovecot 2.3.19 departs here (tests/servers/DOVECOT-NOTES.md): an `AUTH PLAIN <ir>` refused
    // before TLS is kept, and inside TLS a bare `AUTH PLAIN` is answered with a final status
    // instead of the `+ ` challenge. Evidence from the transcript of the probe connection:
    //   C: AUTH PLAIN <redacted>   S: -ERR [AUTH] Authentication not allowed until SSL/TLS is enabled.
    //   C: STLS                    S: +OK Begin TLS negotiation now.
    //   C: AUTH PLAIN   [tls]      S: -ERR [AUTH] Authentication failed.   (control connection: `+ `)
    let (v, sev) = verdict(&report, "A18");
    assert_eq!((v, sev), (Verdict::Fail, Some(Severity::High)), "{:#?}", report.results);
    let a18 = report.results.iter().find(|r| r.id == "A18").unwrap();
    let texts: Vec<&str> = a18.transcript.iter().map(|e| e.text.as_str()).collect();
    assert!(texts.iter().any(|t| t.starts_with("+ ")), "control got the challenge: {texts:#?}");
    assert!(report.summary.clone().unwrap().contains("but see A18"));
    // Apart from A18: suite choices (CBC) and the self-signed test certificate: low at most.
    let others = report.results.iter().filter(|r| r.id != "A18").filter_map(|r| r.severity).max();
    assert!(others <= Some(Severity::Low), "{:#?}", report.results);
}

#[tokio::test]
async fn dovecot_allowing_cleartext_is_reported() {
    let Some(report) = audit("cleartext").await else { return };
    no_errors(&report);
    assert_eq!(verdict(&report, "A03"), (Verdict::Fail, Some(Severity::High)), "{:#?}", report.results);
    assert_eq!(verdict(&report, "A04"), (Verdict::Fail, Some(Severity::Medium)));
    assert_eq!(verdict(&report, "A06").0, Verdict::Pass, "Dovecot discards pipelined plaintext");
    assert!(report.summary.unwrap().starts_with("TLS enforced: no, because cleartext login is accepted"));
}
