//! The step executor against scripted servers (a loopback listener answering fixed bytes): the
//! state invariant, the protocol invariants and `--allow`, disconnect-after-errors vs a crash, a
//! silent server, a refused connection, xfail/xpass and skips.

use pop3test::net::{ConnectOptions, Scheme, Target};
use pop3test::results::Verdict;
use pop3test::scenario::exec::{self, Env};
use pop3test::scenario::load::load_str;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the scripted server does with one command line.
enum Reply {
    Send(&'static str),
    Close,
    Ignore,
}

/// Serves up to 8 connections: a greeting, then `script(line, nth command)` for each line.
async fn scripted(script: fn(&str, usize) -> Reply) -> Target {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for _ in 0..8 {
            let Ok((sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"+OK scripted <1.2@test>\r\n").await;
                let mut n = 0;
                while let Ok(Some(line)) = lines.next_line().await {
                    n += 1;
                    match script(&line, n) {
                        Reply::Send(s) => {
                            let _ = w.write_all(s.as_bytes()).await;
                        }
                        Reply::Close => return,
                        Reply::Ignore => {}
                    }
                    if n > 100 {
                        return;
                    }
                }
            });
        }
    });
    Target { scheme: Scheme::Plain, host: "127.0.0.1".into(), port }
}

fn env(target: Target) -> Env {
    let opts = ConnectOptions { timeout: Duration::from_millis(500), ..ConnectOptions::default() };
    Env::new(target, opts)
}

const HEAD: &str = "name: rfc1939/t\ntitle: t\nrequirements: [1939-noop]\nrfc: [\"RFC 1939 §5\"]\n";

async fn run(
    script: fn(&str, usize) -> Reply,
    extra: &str,
    steps: &str,
    allow: &[&str],
) -> pop3test::results::CheckResult {
    let s = load_str("t.yaml", &format!("{HEAD}{extra}steps:\n{steps}"), None).unwrap_or_else(|d| panic!("{d:?}"));
    let mut e = env(scripted(script).await);
    e.allow = allow.iter().map(|a| a.to_string()).collect();
    exec::run(&s, &e).await
}

fn ok_to_all(_: &str, _: usize) -> Reply {
    Reply::Send("+OK 0 0\r\n")
}

async fn run_observed(
    script: fn(&str, usize) -> Reply,
    head: &str,
    steps: &str,
    allow: &[&str],
) -> pop3test::scenario::exec::Outcome {
    let s = load_str("t.yaml", &format!("{head}steps:\n{steps}"), None).unwrap_or_else(|d| panic!("{d:?}"));
    let mut e = env(scripted(script).await);
    e.allow = allow.iter().map(|a| a.to_string()).collect();
    exec::run_observed(&s, &e).await
}

const WRONG_STATE_HEAD: &str = "name: rfc1939/t\ntitle: t\nrequirements: [1939-wrong-state]\nrfc: [\"RFC 1939 §3\"]\n";

#[tokio::test]
async fn an_ok_to_stat_before_login_fails_a_scenario_about_states_even_unasked() {
    let o = run_observed(ok_to_all, WRONG_STATE_HEAD, "  - connect:\n  - send: STAT\n", &[]).await;
    let r = o.result;
    assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
    assert!(r.requirements.contains(&"1939-wrong-state".to_string()));
    let m = r.message.unwrap();
    assert!(m.contains("illegal transition") && m.contains("AUTHORIZATION"), "{m}");
    assert_eq!(r.location.unwrap().line, 7);
    assert!(!r.transcript.is_empty());
}

#[tokio::test]
async fn an_illegal_transition_elsewhere_is_an_observation_unless_the_step_expected_otherwise() {
    // The scenario tests NOOP: the +OK to STAT is noticed, reported apart, and does not fail it.
    let o = run_observed(ok_to_all, HEAD, "  - connect:\n  - send: STAT\n", &[]).await;
    assert_eq!(o.result.verdict, Verdict::Pass, "{:?}", o.result);
    assert_eq!(o.observations.len(), 1, "{:?}", o.observations);
    let seen = &o.observations[0];
    assert_eq!((seen.kind.as_str(), seen.requirement.as_str()), ("wrong-state", "1939-wrong-state"));
    assert_eq!(seen.location.line, 7);
    // The step expected -ERR: its failure is caused by the broken rule and carries its requirement.
    let o = run_observed(ok_to_all, HEAD, "  - connect:\n  - send: STAT\n    expect: { status: err }\n", &[]).await;
    assert_eq!(o.result.verdict, Verdict::Fail);
    assert!(o.result.requirements.contains(&"1939-wrong-state".to_string()), "{:?}", o.result);
    assert!(o.result.message.unwrap().contains("because the reply breaks 1939-wrong-state"));
}

fn lowercase(_: &str, _: usize) -> Reply {
    Reply::Send("+ok fine\r\n")
}

const STATUS_CASE_HEAD: &str = "name: rfc1939/t\ntitle: t\nrequirements: [1939-status-case]\nrfc: [\"RFC 1939 §3\"]\n";

#[tokio::test]
async fn violations_fail_unless_allowed_and_allowed_ones_are_reported() {
    let steps = "  - connect:\n  - send: QUIT\n";
    let r = run_observed(lowercase, STATUS_CASE_HEAD, steps, &[]).await.result;
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.message.as_deref().unwrap().starts_with("[1939-status-case] RFC 1939 §3"), "{:?}", r.message);
    let r = run_observed(lowercase, STATUS_CASE_HEAD, steps, &["status-case"]).await.result;
    assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
    assert!(r.message.unwrap().contains("tolerated by --allow: status-case"));
    // A scenario about something else: noticed once, not its failure.
    let o = run_observed(lowercase, HEAD, steps, &[]).await;
    assert_eq!(o.result.verdict, Verdict::Pass, "{:?}", o.result);
    assert_eq!(o.observations.iter().map(|o| o.kind.as_str()).collect::<Vec<_>>(), ["status-case"]);
    assert!(!o.observations[0].allowed && !o.observations[0].evidence.is_empty());
}

fn errors_then_close(_: &str, n: usize) -> Reply {
    if n <= 3 {
        Reply::Send("-ERR no\r\n")
    } else {
        Reply::Close
    }
}

fn crash(_: &str, _: usize) -> Reply {
    Reply::Close
}

#[tokio::test]
async fn a_disconnect_after_errors_is_told_apart_from_a_crash() {
    let steps = "  - connect:\n  - send: FOO\n  - send: FOO\n  - send: FOO\n  - send: NOOP\n";
    let r = run(errors_then_close, "", steps, &[]).await;
    assert_eq!(r.verdict, Verdict::Skip, "a legitimate policy is not a failure: {r:?}");
    let m = r.message.unwrap();
    assert!(m.contains("disconnect-after-errors policy") && m.contains("3 consecutive -ERR"), "{m}");
    let r = run(crash, "", "  - connect:\n  - send: NOOP\n", &[]).await;
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.message.unwrap().contains("closed the connection instead of answering `NOOP`"));
}

fn silent(_: &str, _: usize) -> Reply {
    Reply::Ignore
}

#[tokio::test]
async fn a_server_that_stops_answering_fails_with_a_timeout() {
    let r = run(silent, "", "  - connect:\n  - send: NOOP\n    timeout: 200ms\n", &[]).await;
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.message.unwrap().contains("no reply to `NOOP` within 200ms"));
}

#[tokio::test]
async fn a_refused_connection_is_an_error_not_a_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let s = load_str("t.yaml", &format!("{HEAD}steps:\n  - connect:\n"), None).unwrap();
    let r = exec::run(&s, &env(Target { scheme: Scheme::Plain, host: "127.0.0.1".into(), port })).await;
    assert_eq!(r.verdict, Verdict::Error, "{r:?}");
}

fn err_to_all(_: &str, _: usize) -> Reply {
    Reply::Send("-ERR no\r\n")
}

#[tokio::test]
async fn xfail_and_xpass() {
    let steps = "  - connect:\n  - send: NOOP\n    expect: { status: ok }\n";
    let r = run(err_to_all, "xfail: known bug\n", steps, &[]).await;
    assert_eq!(r.verdict, Verdict::Xfail, "{r:?}");
    let steps = "  - connect:\n  - send: NOOP\n    expect: { status: err }\n";
    let r = run(err_to_all, "xfail: known bug\n", steps, &[]).await;
    assert_eq!(r.verdict, Verdict::Xpass, "{r:?}");
}

#[tokio::test]
async fn scenarios_that_do_not_apply_say_why() {
    let e = env(Target { scheme: Scheme::Plain, host: "127.0.0.1".into(), port: 9 });
    let text = |req: &str| format!("{HEAD}requires: [{req}]\nsteps:\n  - connect:\n");
    let reason = |req: &str| e.skip_reason(&load_str("t.yaml", &text(req), None).unwrap());
    assert!(reason("credentials").unwrap().contains("--user"));
    assert!(reason("TOP").unwrap().contains("does not advertise TOP"));
    assert!(reason("SASL PLAIN").unwrap().contains("PLAIN"));
    assert!(reason("implicit-tls").unwrap().contains("implicit-TLS"));
    assert!(reason("destructive").unwrap().contains("--destructive"));
}

/// Takes STLS, then treats what follows as (broken) TLS and hangs up, as Dovecot does with
/// `STLS\r\nCAPA\r\n`: the injected CAPA never runs.
fn stls_then_eats_injection(line: &str, _: usize) -> Reply {
    match line {
        "STLS" => Reply::Send("+OK begin TLS\r\n"),
        _ => Reply::Close,
    }
}

/// Takes STLS and answers the injected CAPA in plaintext before any handshake.
fn stls_then_runs_injection(line: &str, _: usize) -> Reply {
    match line {
        "STLS" => Reply::Send("+OK begin TLS\r\n"),
        _ => Reply::Send("+OK\r\nSTLS\r\n.\r\n"),
    }
}

#[tokio::test]
async fn injected_plaintext_read_as_tls_is_safe_and_answered_plaintext_is_not() {
    let steps =
        "  - connect:\n  - send_raw: \"STLS\\r\\nCAPA\\r\\n\"\n    expect: { status: ok }\n  - silence: 300ms\n";
    let r = run(stls_then_eats_injection, "", steps, &[]).await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
    assert!(r.message.unwrap().contains("never ran inside TLS"));
    let r = run(stls_then_runs_injection, "", steps, &[]).await;
    assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
    assert!(r.requirements.contains(&"2595-handshake-next".to_string()), "{r:?}");
}

fn err_flood(_: &str, _: usize) -> Reply {
    Reply::Send("-ERR one\r\n-ERR two\r\n-ERR three\r\n")
}

#[tokio::test]
async fn replies_beyond_the_one_asked_for_are_out_of_step_not_refusals() {
    // Three -ERR lines to every command: the first answers it, the rest are out of step.
    let mut e = env(scripted(err_flood).await);
    e.creds = Some(pop3test::net::session::Credentials {
        user: "u".into(),
        password: pop3test::net::session::Secret::new("secret-pw"),
    });
    let s = load_str("t.yaml", &format!("{HEAD}requires: [credentials]\nsteps:\n  - connect:\n  - login:\n"), None)
        .unwrap();
    let r = exec::run(&s, &e).await;
    assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
    assert!(r.requirements.contains(&"1939-one-reply".to_string()), "{r:?}");
    let m = r.message.unwrap();
    assert!(m.contains("out of step") && !m.contains("credentials"), "{m}");
    // The same flood seen while a scenario tests NOOP is one observation, named.
    let o = run_observed(err_flood, HEAD, "  - connect:\n  - send: XYZZY\n    expect: { status: err }\n", &[]).await;
    assert_eq!(o.result.verdict, Verdict::Pass, "{:?}", o.result);
    assert_eq!(o.observations.iter().map(|o| o.kind.as_str()).collect::<Vec<_>>(), ["out-of-step"]);
}
