//! `pop3test run` and `audit` against six real POP3 servers, as a new user would meet them: one
//! account with an ordinary mailbox the tool did not fill (three messages an MDA delivered), the
//! server's default penalties (failed-login delays, connection limits), no second account. Then
//! the same server seeded with the standard maildrop (`pop3test seed`) and the empty account
//! named, for the full suite; then the TLS audit.
//!
//! Each verdict here was read in its transcript and judged against the RFC text: a failure listed
//! below is the server's doing (the quote shows what it sent), and any other failure, any tester
//! error, a run cut short or a credential in a report fails the test. The servers are started by
//! `bash tests/servers/all.sh start` and found through `eval "$(bash tests/servers/all.sh env)"`
//! (tests/servers/README.md); without them a test prints a skip line and passes, unless
//! POP3TEST_REQUIRE_SERVERS=1 (CI), where a missing server fails it.
//!
//! Time: every server's three jobs run in a background thread of their own, all six at once
//! (they wait on the servers' login delays, not on the CPU); each test waits for its server.

mod common;

use common::*;
use pop3test::results::{CheckResult, Report, RunKind, Verdict};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bounds that only stop a hang from stalling CI. Measured with all six at once on 2 cores: runs
/// 13–69 s (Courier, with its 7.5 s failed-login delay, is the slowest), audits 2–11 s.
const RUN_LIMIT: Duration = Duration::from_secs(300);
const AUDIT_LIMIT: Duration = Duration::from_secs(120);
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);
const JOB_LIMIT: Duration = Duration::from_secs(2 * 300 + 120 + 3 * 120);

/// A failure the server earns. Every string in `evidence` must occur in the result (its message,
/// expected/actual, or a transcript line): the failure is for the reason quoted, not another.
struct Known {
    id: &'static str,
    evidence: &'static [&'static str],
}

const fn k(id: &'static str, evidence: &'static [&'static str]) -> Known {
    Known { id, evidence }
}

/// One real server: its environment prefix and what it is known to fail.
struct Server {
    /// `POP3TEST_<env>_URL` and the rest (tests/servers/README.md).
    env: &'static str,
    /// Failures of the unseeded run (an ordinary mailbox, one account).
    unseeded: &'static [Known],
    /// Failures the seeded run adds (the standard maildrop reaches checks that skipped before).
    seeded_adds: &'static [Known],
    /// Failed audit checks (A01–A18).
    findings: &'static [&'static str],
}

// RFC 1939 §4: "the POP3 server then acquires an exclusive-access lock on the maildrop". Two
// sessions of the same user both logged in (each server's reply to the second PASS is quoted).
const LOCK: &str = "rfc1939/maildrop-lock";

/// RFC 1939 §3: "A POP3 server MUST respond to an unrecognized, unimplemented, or syntactically
/// invalid command by responding with a negative status indicator."
const NOOP_EXTRA: Known = k("rfc1939/unknown-argument-to-argumentless-command", &["NOOP extra", "+OK"]);

const SERVERS: &[Server] = &[
    Server {
        env: "DOVECOT_DEFAULT",
        unseeded: &[
            k(LOCK, &["+OK Logged in."]),
            // §3 "Responses may be up to 512 characters long, including the terminating CRLF":
            //   C: LIST 999…9 (500 digits)   S: -ERR Message number too large: 999…9 (533 octets)
            k("rfc1939/response-length-long-message-number", &["533 octets", "-ERR Message number too large: 999"]),
            // §5 NOOP "Arguments: none":   C: NOOP extra   S: +OK
            NOOP_EXTRA,
            // §7 USER "may only be given … after the POP3 greeting or after an unsuccessful USER
            // or PASS command":   C: USER pop3user  S: +OK   C: USER pop3user  S: +OK
            k("rfc1939/user-twice", &["USER pop3user", "expected -ERR, got +OK"]),
        ],
        seeded_adds: &[],
        // A03/A04: the default profile allows cleartext login (`ssl = yes`, plaintext allowed on
        // loopback by `disable_plaintext_auth = no`); A11: CBC suites offered.
        findings: &["A03", "A04", "A11"],
    },
    Server {
        env: "CYRUS",
        unseeded: &[k(LOCK, &["+OK Mailbox locked and ready"])],
        seeded_adds: &[],
        // A05: APOP, CRAM-MD5, DIGEST-MD5, NTLM usable before TLS; A11: static RSA and CBC;
        // A16: "localhost Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5 server ready".
        findings: &["A03", "A04", "A05", "A11", "A16"],
    },
    Server {
        env: "COURIER",
        unseeded: &[
            k(LOCK, &["+OK logged in."]),
            // §7 PASS after a failed PASS without a new USER: "+OK logged in."
            k("rfc1939/pass-after-failed-pass", &["expected -ERR, got +OK", "+OK logged in."]),
            // Message numbers are read modulo 2^32:   C: RETR 4294967297   S: +OK 342 octets follow.
            k("rfc1939/retr-number-wrap", &["RETR 4294967297", "octets follow."]),
            NOOP_EXTRA,
            //   C: LIST 1a   S: +OK 1 342
            k("rfc1939/unknown-command", &["LIST 1a", "expected -ERR, got +OK"]),
            //   C: NO<NUL>OP   (no reply at all within the 10 s timeout)
            k("rfc1939/unknown-control-characters", &["no reply"]),
            k("rfc1939/unknown-list-bad-arguments", &["LIST 1.0", "expected -ERR, got +OK"]),
            //   C: RETR 1 2   S: +OK 342 octets follow. (and the message)
            k("rfc1939/unknown-retr-bad-arguments", &["RETR 1 2", "expected -ERR, got +OK"]),
            k("rfc1939/user-twice", &["+OK Password required."]),
            //   C: TOP 1 -1   S: +OK headers follow.
            k("rfc1939/top-bad-args", &["TOP 1 -1", "+OK headers follow."]),
            // RFC 2449 §6.6: Courier advertises PIPELINING, but commands pipelined after PASS are
            // lost (its login process hands over to pop3d and drops what it had buffered): no reply
            // to the STAT sent with USER and PASS.
            k("rfc2449/pipelining-with-pass", &["no reply to `STAT`"]),
            k("rfc2449/pipelining", &["timed out"]),
            // RFC 2595 §4 (CVE-2021-38084 class): `STLS\r\nCAPA\r\n` in one write; the CAPA
            // pipelined in cleartext is answered inside TLS.
            k("rfc2595/stls-injection", &["sent data nobody asked for", "+OK Here's what I can do:"]),
            // RFC 6856 §3: UTF8 "MUST only be valid in the AUTHORIZATION state", and it takes no
            // argument:   C: UTF8 USER   S: +OK UTF8 enabled
            k("rfc6856/utf8-refused-after-login", &["UTF8", "+OK UTF8 enabled"]),
            k("rfc6856/utf8-with-argument", &["UTF8 USER", "+OK UTF8 enabled"]),
        ],
        // RFC 6856 §2.1: without UTF8 mode, 8-bit text must not be sent as is; RETR of the
        // standard 8-bit message (5) sends "Grüße aus Köln" raw.
        seeded_adds: &[k("rfc6856/utf8-mode-off-no-8bit-as-is", &["Grüße aus Köln"])],
        // A05: CRAM-MD5 before TLS; A06: the STLS injection above; A10: TLS 1.0 and 1.1.
        findings: &["A03", "A04", "A05", "A06", "A10", "A11"],
    },
    Server {
        env: "MAILUTILS",
        unseeded: &[
            // §7 TOP: "the headers … the blank line separating the headers from the body, and then
            // the number of lines of the indicated message's body": one line too many for n ≥ 1.
            k("rfc1939/top-header-and-five-lines", &["TOP 2 5", "lines, expected"]),
            k("rfc1939/top-lines", &["TOP 1 1"]),
            //   C: TOP 1 -1   S: +OK
            k("rfc1939/top-bad-args", &["TOP 1 -1"]),
            k("rfc1939/unknown-command", &["LIST 1a", "expected -ERR, got +OK"]),
            k("rfc1939/unknown-list-bad-arguments", &["LIST 1.0", "expected -ERR, got +OK"]),
            //   C: RETR 1x   S: +OK
            k("rfc1939/unknown-retr-bad-arguments", &["RETR 1x", "expected -ERR, got +OK"]),
            // §5 DELE of a deleted message:   C: DELE 1  S: +OK Message 1 marked  (twice)
            k("rfc1939/dele-hides", &["DELE 1", "+OK Message 1 marked"]),
            // RFC 2449 §6.7: `EXPIRE NEVER`; Mailutils sends `EXPIRENEVER`, before login and after
            // (one result, however many checks saw the line).
            k("rfc2449/capa-syntax", &["EXPIRENEVER"]),
        ],
        seeded_adds: &[
            k("rfc1939/top-byte-stuffed", &["TOP 2 2", "expected 12"]),
            k("rfc1939/dele-then-rset", &["DELE 1", "+OK Message 1 marked"]),
            // The same extra line: TOP 3 10 of the empty-body message is RETR 3 plus an empty line.
            k("rfc1939/top-empty-body", &["TOP 3 10", "290 vs 288 octets"]),
        ],
        // A05 (info): APOP offered by the greeting's timestamp, refused before TLS.
        findings: &["A03", "A04", "A05", "A10", "A11"],
    },
    Server {
        env: "POPA3D",
        unseeded: &[
            k(LOCK, &["USER/PASS → +OK"]),
            //   C: LIST +1   S: +OK 1 342
            k("rfc1939/unknown-command", &["LIST +1", "expected -ERR, got +OK"]),
        ],
        seeded_adds: &[],
        // No TLS at all: A01 (no STLS), A03 (cleartext login), A13 (no implicit TLS port).
        findings: &["A01", "A03", "A13"],
    },
    Server {
        env: "SOLID",
        unseeded: &[
            k(LOCK, &["+OK authentication successful"]),
            k("rfc1939/retr-number-wrap", &["RETR 4294967297", "+OK"]),
            //   C: NOOP extra   S: +OK command ignored
            k("rfc1939/unknown-argument-to-argumentless-command", &["NOOP extra", "+OK command ignored"]),
            k("rfc1939/unknown-command", &["LIST 1a", "expected -ERR, got +OK"]),
            k("rfc1939/unknown-list-bad-arguments", &["LIST 1.0", "expected -ERR, got +OK"]),
            k("rfc1939/unknown-retr-bad-arguments", &["RETR 1 2", "expected -ERR, got +OK"]),
            k("rfc1939/top-bad-args", &["TOP 1 -1"]),
        ],
        seeded_adds: &[],
        // No TLS: A01, A03, A13; A05 (info): the greeting's APOP timestamp, APOP refused.
        findings: &["A01", "A03", "A05", "A13"],
    },
];

// ------------------------------------------------------------------------------------------
// Environment

/// What `all.sh env` exports for one server.
struct Env {
    name: &'static str,
    url: String,
    tls_url: Option<String>,
    user: String,
    password: String,
    empty_user: String,
    empty_password: String,
    ca: String,
    seed: String,
    unseed: String,
    reseed: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Env {
    fn load(name: &'static str) -> Result<Env, Vec<String>> {
        let mut missing = Vec::new();
        let mut get = |what: &str| {
            let key = format!("POP3TEST_{name}_{what}");
            var(&key).unwrap_or_else(|| {
                missing.push(key);
                String::new()
            })
        };
        let env = Env {
            name,
            url: get("URL"),
            user: get("USER"),
            password: get("PASSWORD"),
            empty_user: get("EMPTY_USER"),
            empty_password: get("EMPTY_PASSWORD"),
            ca: get("CA"),
            seed: get("SEED"),
            unseed: get("UNSEED"),
            reseed: get("RESEED"),
            tls_url: var(&format!("POP3TEST_{name}_TLS_URL")),
        };
        if missing.is_empty() {
            Ok(env)
        } else {
            Err(missing)
        }
    }
}

/// The server's environment, or `None` after a skip line; a panic under POP3TEST_REQUIRE_SERVERS=1.
fn env_of(name: &'static str) -> Option<Env> {
    match Env::load(name) {
        Ok(e) => Some(e),
        Err(missing) => {
            assert!(
                var("POP3TEST_REQUIRE_SERVERS").as_deref() != Some("1"),
                "POP3TEST_REQUIRE_SERVERS=1 but {} not set: bash tests/servers/all.sh start and \
                 eval \"$(bash tests/servers/all.sh env)\"",
                missing.join(", ")
            );
            eprintln!("skipped: {name} not running (bash tests/servers/all.sh start)");
            None
        }
    }
}

// ------------------------------------------------------------------------------------------
// The jobs

/// What one server's thread delivers: the outputs in order, and why a script failed (if one did).
struct Outcome {
    env: Env,
    unseeded: Output,
    seeded: Output,
    audit: Output,
    script_errors: Vec<String>,
}

/// Runs a project script command (`bash tests/servers/NAME.sh seed`), bounded.
fn script(cmdline: &str) -> Result<(), String> {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmdline)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{cmdline}: {e}"))?;
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return Err(format!("{cmdline}: {st}\n{err}"));
            }
            Ok(None) if started.elapsed() < SCRIPT_LIMIT => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmdline}: killed after {SCRIPT_LIMIT:?}"));
            }
        }
    }
}

fn common_args(env: &Env) -> Vec<String> {
    ["--user", &env.user, "--password-env", "PW", "--ca-file", &env.ca, "--color", "never"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// `args` with the JSON report (read back) and the HTML one (checked for secrets) in `dir`.
fn with_json(mut args: Vec<String>, dir: &std::path::Path) -> Vec<String> {
    for (format, file) in [("json", "report.json"), ("html", "report.html")] {
        args.push("--report".into());
        args.push(format!("{format}={}", dir.join(file).display()));
    }
    args
}

fn run_job(env: Env) -> Outcome {
    let envs_owned = [("PW", env.password.clone()), ("EPW", env.empty_password.clone())];
    let envs: Vec<(&str, &str)> = envs_owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut script_errors = Vec::new();
    let tls = |mut v: Vec<String>| {
        if let Some(t) = &env.tls_url {
            v.extend(["--tls-target".into(), t.clone()]);
        }
        v
    };

    if let Err(e) = script(&env.unseed) {
        script_errors.push(e);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["run".to_string(), env.url.clone()];
    args.extend(tls(common_args(&env)));
    let unseeded = pop3test(&with_json(args, dir.path()), &envs, dir.path(), RUN_LIMIT);

    if let Err(e) = script(&env.seed) {
        script_errors.push(e);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["run".to_string(), env.url.clone()];
    args.extend(tls(common_args(&env)));
    args.extend(
        ["--empty-user", &env.empty_user, "--empty-password-env", "EPW", "--destructive", "--reseed", &env.reseed]
            .iter()
            .map(|s| s.to_string()),
    );
    let seeded = pop3test(&with_json(args, dir.path()), &envs, dir.path(), RUN_LIMIT);

    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["audit".to_string(), env.url.clone()];
    args.extend(common_args(&env));
    if let Some(port) = env.tls_url.as_deref().and_then(|t| t.rsplit(':').next()) {
        args.extend(["--tls-port".into(), port.to_string()]);
    }
    let audit = pop3test(&with_json(args, dir.path()), &envs, dir.path(), AUDIT_LIMIT);
    Outcome { env, unseeded, seeded, audit, script_errors }
}

/// Starts every server's thread on first use; each test waits for its own.
fn outcome(name: &'static str) -> Option<std::sync::Arc<Vec<Outcome>>> {
    static JOBS: OnceLock<Vec<(&'static str, Job<Outcome>)>> = OnceLock::new();
    static STARTED: std::sync::Once = std::sync::Once::new();
    let jobs = JOBS.get_or_init(|| SERVERS.iter().map(|s| (s.env, Job::default())).collect());
    STARTED.call_once(|| {
        for (name, job) in jobs.iter() {
            if let Ok(env) = Env::load(name) {
                std::thread::spawn(move || job.deliver(vec![run_job(env)]));
            }
        }
    });
    env_of(name)?;
    let job = &jobs.iter().find(|(n, _)| *n == name).expect("a server of SERVERS").1;
    Some(job.wait(JOB_LIMIT))
}

// ------------------------------------------------------------------------------------------
// Judging

/// Everything a result says, for evidence: message, expected, actual and each transcript entry.
fn text_of(r: &CheckResult) -> String {
    let mut t = format!(
        "{}\n{}\n{}\n",
        r.message.as_deref().unwrap_or(""),
        r.expected.as_deref().unwrap_or(""),
        r.actual.as_deref().unwrap_or("")
    );
    for e in &r.transcript {
        t.push_str(&e.text.replace("\\r\\n", "\n"));
        t.push('\n');
    }
    t
}

/// The problems of one report: tester errors, a cut-short run, unknown failures, known failures
/// missing or failing for another reason.
fn judge(what: &str, out: &Output, known: &[&Known], kind: RunKind) -> Vec<String> {
    let mut problems = Vec::new();
    let report: &Report = match &out.report {
        Ok(r) => r,
        Err(e) => return vec![format!("{what}: no JSON report ({e})\n{}", out.context())],
    };
    if report.kind != kind {
        problems.push(format!("{what}: report kind {:?}", report.kind));
    }
    if report.incomplete {
        problems.push(format!("{what}: the run was cut short"));
    }
    for r in &report.results {
        match r.verdict {
            Verdict::Error => problems.push(format!("{what}: tester error: {}", describe(r))),
            Verdict::Fail => match known.iter().find(|k| k.id == r.id) {
                None => problems.push(format!("{what}: unexpected failure: {}", describe(r))),
                Some(k) => {
                    let text = text_of(r);
                    for needle in k.evidence {
                        if !text.contains(needle) {
                            problems.push(format!("{what}: {} fails, but without `{needle}`: {}", r.id, describe(r)));
                        }
                    }
                }
            },
            _ => {}
        }
    }
    for k in known {
        if !report.results.iter().any(|r| r.id == k.id && r.verdict == Verdict::Fail) {
            let now = find(report, k.id).map(describe).unwrap_or_else(|| "not in the report".into());
            problems.push(format!("{what}: {} should fail (a known departure) but: {now}", k.id));
        }
    }
    let expected_code = if known.is_empty() { 0 } else { 4 };
    if kind == RunKind::Run && out.code != Some(expected_code) {
        problems.push(format!("{what}: exit {:?}, expected {expected_code}", out.code));
    }
    problems
}

fn assert_server(name: &'static str) {
    let Some(outcomes) = outcome(name) else { return };
    let o = &outcomes[0];
    let server = SERVERS.iter().find(|s| s.env == name).expect("listed");
    let mut problems = o.script_errors.clone();

    let unseeded: Vec<&Known> = server.unseeded.iter().collect();
    problems.extend(judge("unseeded run", &o.unseeded, &unseeded, RunKind::Run));
    let seeded: Vec<&Known> = server.unseeded.iter().chain(server.seeded_adds).collect();
    problems.extend(judge("seeded run", &o.seeded, &seeded, RunKind::Run));
    // The point of the survey: an unseeded server still gets most of the suite. Measured: 68–81%
    // of what the seeded run judges (the rest needs the standard maildrop, the empty account or
    // --destructive).
    if let (Ok(u), Ok(s)) = (&o.unseeded.report, &o.seeded.report) {
        let judged = |r: &Report| -> BTreeSet<String> {
            r.results
                .iter()
                .filter(|r| matches!(r.verdict, Verdict::Pass | Verdict::Fail))
                .map(|r| r.id.clone())
                .collect()
        };
        let (u, s) = (judged(u), judged(s));
        let both = u.intersection(&s).count();
        if both * 10 < s.len() * 6 {
            problems.push(format!("unseeded run judged only {both} of the {} checks the seeded run judged", s.len()));
        }
    }
    if let Ok(r) = &o.seeded.report {
        let skipped: Vec<&str> = r
            .results
            .iter()
            .filter(|r| r.verdict == Verdict::Skip)
            .filter(|r| r.message.as_deref().is_some_and(|m| m.contains("pop3test seed") || m.contains("--empty-user")))
            .map(|r| r.id.as_str())
            .collect();
        if !skipped.is_empty() {
            problems.push(format!("seeded run: still skipped for want of seed or account: {}", skipped.join(", ")));
        }
    }

    if let Ok(r) = &o.audit.report {
        let failed: BTreeSet<&str> =
            r.results.iter().filter(|r| r.verdict == Verdict::Fail).map(|r| r.id.as_str()).collect();
        let expected: BTreeSet<&str> = server.findings.iter().copied().collect();
        if failed != expected {
            problems.push(format!("audit: findings {failed:?}, expected {expected:?}"));
        }
        if !failed.is_empty() && o.audit.code != Some(4) && o.audit.code != Some(5) {
            problems.push(format!("audit: exit {:?} with findings", o.audit.code));
        }
    }
    problems.extend(
        judge("audit", &o.audit, &[], RunKind::Audit).into_iter().filter(|p| !p.contains("unexpected failure")),
    );

    for out in [&o.unseeded, &o.seeded, &o.audit] {
        out.assert_no_secret(&secret_forms(&o.env.user, &o.env.password));
        out.assert_no_secret(&secret_forms(&o.env.empty_user, &o.env.empty_password));
    }
    eprintln!(
        "{}: unseeded {:.1?}, seeded {:.1?}, audit {:.1?}",
        o.env.name, o.unseeded.elapsed, o.seeded.elapsed, o.audit.elapsed
    );
    assert!(
        problems.is_empty(),
        "{name}: {} problem(s):\n{}\n\n--- unseeded ---\n{}\n--- seeded ---\n{}\n--- audit ---\n{}",
        problems.len(),
        problems.join("\n"),
        o.unseeded.context(),
        o.seeded.context(),
        o.audit.context()
    );
}

#[test]
fn dovecot_default_gets_truthful_verdicts() {
    assert_server("DOVECOT_DEFAULT");
}

#[test]
fn cyrus_gets_truthful_verdicts() {
    assert_server("CYRUS");
}

#[test]
fn courier_gets_truthful_verdicts() {
    assert_server("COURIER");
}

#[test]
fn mailutils_gets_truthful_verdicts() {
    assert_server("MAILUTILS");
}

#[test]
fn popa3d_gets_truthful_verdicts() {
    assert_server("POPA3D");
}

#[test]
fn solid_pop3d_gets_truthful_verdicts() {
    assert_server("SOLID");
}
