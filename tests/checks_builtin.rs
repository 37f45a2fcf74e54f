//! The Rust checks against the reference server, in process: every check passes against the
//! correct server (STLS, implicit TLS, cleartext), skips with a reason when it may not run, and
//! each defect makes the check that names its requirement fail while the others keep passing.

use pop3test::checks::{self, CheckContext};
use pop3test::net::session::{Credentials, Secret, StlsPolicy};
use pop3test::net::Target;
use pop3test::results::{CheckResult, Verdict};
use pop3test::server::seed::{DEFAULT_PASSWORD, DEFAULT_USER};
use pop3test::server::{spawn, Defect, ServerConfig, ServerHandle};
use std::time::Duration;

fn creds() -> Credentials {
    Credentials { user: DEFAULT_USER.into(), password: Secret::new(DEFAULT_PASSWORD) }
}

fn context(server: &ServerHandle, target: Target, stls: StlsPolicy) -> CheckContext {
    let mut opts = server.connect_options();
    // Loopback answers in milliseconds; a short wait keeps the defects that swallow commands
    // (pipelining-drop, hang-on-bad-arg) from costing the default 10 s each.
    opts.timeout = Duration::from_secs(2);
    CheckContext {
        target,
        opts,
        creds: Some(creds()),
        stls,
        destructive: true,
        inventory: Default::default(),
        apop_secret: Some(Secret::new(DEFAULT_PASSWORD)),
    }
}

/// Runs every check, one at a time, on a freshly seeded maildrop each.
async fn run_all(server: &ServerHandle, ctx: &CheckContext) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for check in checks::all() {
        // No session of the previous check may still hold the maildrop when it is reseeded.
        assert!(server.wait_idle(Duration::from_secs(5)).await, "sessions left open before {}", check.info().id);
        server.reseed();
        out.push(check.run(ctx).await);
    }
    out
}

fn describe(r: &CheckResult) -> String {
    format!(
        "{} {:?}: {}\n  expected: {}\n  actual:   {}",
        r.id,
        r.verdict,
        r.message.as_deref().unwrap_or(""),
        r.expected.as_deref().unwrap_or("").replace('\n', "\n            "),
        r.actual.as_deref().unwrap_or("").replace('\n', "\n            "),
    )
}

fn assert_all_pass(results: &[CheckResult], label: &str) {
    let bad: Vec<String> = results.iter().filter(|r| r.verdict != Verdict::Pass).map(describe).collect();
    assert!(bad.is_empty(), "{label}: not all checks passed:\n{}", bad.join("\n"));
}

fn assert_well_formed(r: &CheckResult) {
    let info = checks::all().into_iter().map(|c| c.info()).find(|i| i.id == r.id).unwrap();
    assert_eq!(r.title, info.title);
    assert_eq!(r.requirements, info.requirements);
    assert!(r.message.is_some(), "{}: every verdict says why", r.id);
    if r.verdict == Verdict::Fail {
        assert!(r.expected.is_some() && r.actual.is_some(), "{}", r.id);
    }
    if !matches!(r.verdict, Verdict::Skip) {
        assert!(!r.transcript.is_empty(), "{}: evidence travels with the result", r.id);
    }
    let secret = r.transcript.iter().any(|e| e.text.contains(DEFAULT_PASSWORD));
    assert!(!secret, "{}: the password leaked into the transcript", r.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_against_the_correct_server() {
    let server = spawn(ServerConfig::default()).await.unwrap();
    let ctx = context(&server, server.plain_target(), StlsPolicy::Auto);
    let results = run_all(&server, &ctx).await;
    assert_all_pass(&results, "STLS");
    results.iter().for_each(assert_well_formed);
    // Every session is headed by a note saying what it was for, on the check's clock.
    let quit = results.iter().find(|r| r.id == "rfc1939/quit-commits").unwrap();
    let heads: Vec<&str> =
        quit.transcript.iter().filter(|e| e.text.starts_with("session ")).map(|e| e.text.as_str()).collect();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(quit.transcript.windows(2).all(|w| w[0].t_ms <= w[1].t_ms + 1.0));

    let implicit = context(&server, server.tls_target().unwrap(), StlsPolicy::Auto);
    assert_all_pass(&run_all(&server, &implicit).await, "implicit TLS");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_in_cleartext_when_the_server_allows_it() {
    // Cleartext sessions end with FIN or RST in the abort check (TLS ones with and without
    // close_notify), and pipelining runs without STLS.
    let server = spawn(ServerConfig { allow_cleartext: true, ..ServerConfig::default() }).await.unwrap();
    let ctx = context(&server, server.plain_target(), StlsPolicy::Never);
    let results = run_all(&server, &ctx).await;
    assert_all_pass(&results, "cleartext");
    let abort = results.iter().find(|r| r.id == "rfc1939/abort-keeps").unwrap();
    assert!(abort.message.as_deref().unwrap().contains("RST"), "{}", describe(abort));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_skip_with_reasons_when_they_may_not_run() {
    let server = spawn(ServerConfig::default()).await.unwrap();
    let mut ctx = context(&server, server.plain_target(), StlsPolicy::Auto);
    ctx.destructive = false;
    for check in checks::all() {
        let info = check.info();
        let r = check.run(&ctx).await;
        let want = if info.destructive { Verdict::Skip } else { Verdict::Pass };
        assert_eq!(r.verdict, want, "{}", describe(&r));
        if info.destructive {
            assert!(r.message.unwrap().contains("--destructive"));
        }
    }
    ctx.creds = None;
    ctx.destructive = true;
    for check in checks::all() {
        let info = check.info();
        let r = check.run(&ctx).await;
        let want = if info.requires.contains(&"credentials") { Verdict::Skip } else { Verdict::Pass };
        assert_eq!(r.verdict, want, "{}", describe(&r));
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_an_error_not_a_failure() {
    let server = spawn(ServerConfig::default()).await.unwrap();
    let mut ctx = context(&server, server.plain_target(), StlsPolicy::Auto);
    ctx.creds = Some(Credentials { user: DEFAULT_USER.into(), password: Secret::new("wrong") });
    for check in checks::all() {
        let info = check.info();
        let r = check.run(&ctx).await;
        if info.requires.contains(&"credentials") {
            assert_eq!(r.verdict, Verdict::Error, "{}", describe(&r));
            assert!(r.message.as_deref().unwrap().contains("credentials"), "{}", describe(&r));
        }
    }
    server.shutdown().await;
}

/// Each defect, the checks it must make fail, and the checks it may also disturb (collateral:
/// they cannot do their job on such a server, or legitimately see the same fault).
const DEFECTS: &[(Defect, &[&str], &[&str])] = &[
    (Defect::NoByteStuffing, &["rfc1939/list-octets"], &["rfc1939/top-lines"]),
    (Defect::WrongOctets, &["rfc1939/list-octets"], &[]),
    // Wrapping at 2^32 is the scenario rfc1939/retr-number-wrap's alone (tests/run_builtin.rs).
    (Defect::NumberWrap, &[], &[]),
    (Defect::DeleTwiceOk, &["rfc1939/dele-hides"], &[]),
    (Defect::DeletedStillListed, &["rfc1939/dele-hides"], &[]),
    (Defect::StatCountsDeleted, &["rfc1939/dele-hides"], &[]),
    (Defect::RsetNoop, &["rfc1939/rset-restores"], &[]),
    (Defect::AbortCommits, &["rfc1939/abort-keeps"], &[]),
    (Defect::UidlUnstable, &["rfc1939/uidl-stable-unique"], &[]),
    (Defect::UidlBadChars, &["rfc1939/uidl-format"], &[]),
    (Defect::PipeliningDrop, &["rfc2449/pipelining"], &[]),
    (Defect::NoLock, &["rfc1939/maildrop-lock"], &[]),
    (
        Defect::CapaLies,
        &["rfc2449/tags-true"],
        &["rfc1939/top-lines", "rfc1939/uidl-stable-unique", "rfc1939/uidl-format", "rfc1939/uidl-single-line"],
    ),
    (Defect::ApopStaticTimestamp, &["rfc1939/apop-timestamp"], &[]),
    (Defect::ExpireMalformed, &["rfc2449/capa-syntax"], &[]),
    (Defect::LenientArgs, &["rfc1939/top-bad-args"], &[]),
    (Defect::HangOnBadArg, &["rfc1939/top-bad-args"], &[]),
    // Not these checks' requirements: they must not be disturbed.
    (Defect::CloseAfterErrors, &[], &[]),
    (Defect::WrongStateOk, &[], &[]),
    (Defect::BareLf, &[], &[]),
    (Defect::LowercaseStatus, &[], &[]),
    (Defect::CrashOnLongLine, &[], &[]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_defect_fails_the_check_that_names_its_requirement() {
    let mut problems = Vec::new();
    for &(defect, must_fail, collateral) in DEFECTS {
        let config = ServerConfig { defects: [defect].into_iter().collect(), ..ServerConfig::default() };
        let server = spawn(config).await.unwrap();
        let ctx = context(&server, server.plain_target(), StlsPolicy::Auto);
        let results = run_all(&server, &ctx).await;
        server.shutdown().await;
        for r in &results {
            assert_well_formed(r);
            let id = r.id.as_str();
            let ok = if must_fail.contains(&id) {
                r.verdict == Verdict::Fail
            } else if collateral.contains(&id) {
                true
            } else {
                r.verdict == Verdict::Pass
            };
            if !ok {
                problems.push(format!("defect {defect}: {}", describe(r)));
            } else if r.verdict != Verdict::Pass {
                // Shown with --nocapture: what each defect looks like in a report.
                eprintln!("defect {defect}: {}", describe(r));
            }
        }
        for id in must_fail {
            let r = results.iter().find(|r| r.id == *id).unwrap();
            let named = r.requirements.iter().any(|q| q == defect.requirement());
            // Bad-argument defects (1939-unknown) show up in TOP's argument handling (1939-top).
            let via_top = defect.requirement() == "1939-unknown" && *id == "rfc1939/top-bad-args";
            assert!(named || via_top, "{id} fails for {defect} but does not carry {}", defect.requirement());
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelining_moves_inside_tls_when_cleartext_login_is_refused() {
    // StlsPolicy::Never against a server that refuses logins before TLS: the pipelined USER/PASS
    // gets -ERR in cleartext, so the check pipelines the batch again after STLS.
    let server = spawn(ServerConfig::default()).await.unwrap();
    let ctx = context(&server, server.plain_target(), StlsPolicy::Never);
    let check = checks::all().into_iter().find(|c| c.info().id == "rfc2449/pipelining").unwrap();
    let r = check.run(&ctx).await;
    assert_eq!(r.verdict, Verdict::Pass, "{}", describe(&r));
    assert!(r.transcript.iter().any(|e| e.text.contains("pipelined login after STLS")));
    assert!(r.transcript.iter().any(|e| e.tls && e.text.contains("PASS <redacted>")));
    server.shutdown().await;
}
