//! The fuzzer against the reference server: with a fixed seed and a bounded number of cases it
//! finds each crash, hang and wrong-answer defect, shrinks it to its minimal trigger, tells a
//! close-after-errors policy from a crash, and finds nothing on the correct server.

use pop3test::fuzz::{run, Context, Env, FuzzConfig, FuzzOutcome, Oracle};
use pop3test::net::session::{Credentials, Secret, StlsPolicy};
use pop3test::server::{self, seed, Defect, ServerConfig, ServerHandle};
use std::time::Duration;

async fn server(defects: &[Defect]) -> ServerHandle {
    let config = ServerConfig { defects: defects.iter().copied().collect(), ..ServerConfig::default() };
    server::spawn(config).await.expect("reference server")
}

fn config(h: &ServerHandle, seed: u64, cases: u64, out: &std::path::Path) -> FuzzConfig {
    let mut opts = h.connect_options();
    opts.timeout = Duration::from_millis(300);
    let creds = Credentials { user: seed::DEFAULT_USER.into(), password: Secret::new(seed::DEFAULT_PASSWORD) };
    let env = Env {
        target: h.plain_target(),
        opts,
        creds: Some(creds),
        settle: Duration::from_millis(20),
        stls: StlsPolicy::Auto,
        stepwise_login: Default::default(),
    };
    let mut cfg = FuzzConfig::new(env, seed);
    cfg.cases = Some(cases);
    cfg.out = Some(out.to_path_buf());
    cfg.down_budget = Duration::from_secs(2);
    cfg
}

async fn fuzz(defects: &[Defect], seed: u64, cases: u64) -> (FuzzOutcome, tempfile::TempDir) {
    fuzz_batched(defects, seed, cases, 1).await
}

/// `batch > 1`: cases share writes (`--batch`); the reference server advertises PIPELINING.
async fn fuzz_batched(defects: &[Defect], seed: u64, cases: u64, batch: usize) -> (FuzzOutcome, tempfile::TempDir) {
    let h = server(defects).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&h, seed, cases, dir.path());
    cfg.batch = batch;
    let outcome = run(cfg).await;
    eprintln!("{}", outcome.summary());
    for f in &outcome.findings {
        eprintln!("  {} [{:?}] {:?}: {}", f.key.id(), f.severity(), f.minimal_input(), f.candidate.detail);
    }
    h.shutdown().await;
    (outcome, dir)
}

#[tokio::test]
async fn correct_server_yields_no_findings() {
    let (o, dir) = fuzz(&[], 1, 2000).await;
    assert!(o.findings.is_empty(), "{:#?}", o.findings.iter().map(|f| f.key.id()).collect::<Vec<_>>());
    assert_eq!(o.cases + o.skipped, 2000);
    assert!(o.unavailable.is_empty(), "{:?}", o.unavailable);
    assert_eq!(std::fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(0), 0);
}

#[tokio::test]
async fn crash_on_long_line_shrinks_to_just_over_the_threshold() {
    let (o, dir) = fuzz(&[Defect::CrashOnLongLine], 2, 150).await;
    let crashes = o.of(Oracle::Crash);
    assert!(!crashes.is_empty(), "no crash found");
    for f in &crashes {
        let r = f.repro.as_ref().unwrap();
        assert!(r.prefix.is_empty(), "{:?}", f.minimal_input());
        let lines = r.trigger.lines();
        let longest = lines.iter().map(Vec::len).max().unwrap();
        // The defect resets on a line of more than 300 octets: the minimal line is 301 octets.
        assert!((301..=303).contains(&longest), "{longest}: {:?}", f.minimal_input());
        assert_eq!(f.reproduced.0, f.reproduced.1);
        assert!(matches!(&f.exported, Some(Ok(p)) if p.starts_with(dir.path())));
    }
    assert!(o.of(Oracle::ServerDown).is_empty());
}

#[tokio::test]
async fn hang_on_bad_arg_is_found_and_minimal() {
    let (o, _dir) = fuzz(&[Defect::HangOnBadArg], 3, 40).await;
    let hangs = o.of(Oracle::Hang);
    assert!(!hangs.is_empty(), "no hang found");
    let f = hangs[0];
    let r = f.repro.as_ref().unwrap();
    let wire = String::from_utf8_lossy(&r.trigger.wire()).into_owned();
    assert!(wire.contains(" -") || wire.contains("%n"), "{wire:?}");
    assert!(r.trigger.len() <= 24, "{wire:?}");
}

fn wrong_answers<'a>(o: &'a FuzzOutcome, reason: &str) -> Vec<&'a pop3test::fuzz::Finding> {
    o.of(Oracle::WrongAnswer).into_iter().filter(|f| f.key.reason == reason).collect()
}

#[tokio::test]
async fn number_wrap_is_found() {
    let (o, _dir) = fuzz(&[Defect::NumberWrap], 4, 1500).await;
    let found = wrong_answers(&o, "number-wrap");
    assert!(!found.is_empty(), "no number-wrap finding");
    for f in found {
        let wire = String::from_utf8_lossy(&f.repro.as_ref().unwrap().trigger.wire()).into_owned();
        let n: u128 = wire.split_ascii_whitespace().filter_map(|w| w.parse().ok()).max().unwrap_or(0);
        assert!(n > u128::from(u32::MAX), "{wire:?}");
    }
}

#[tokio::test]
async fn lenient_args_are_found() {
    let (o, _dir) = fuzz(&[Defect::LenientArgs], 5, 1500).await;
    let found: Vec<_> =
        ["malformed-argument", "extra-argument", "whitespace"].iter().flat_map(|r| wrong_answers(&o, r)).collect();
    assert!(!found.is_empty(), "no lenient-args finding");
    for f in found {
        let r = f.repro.as_ref().unwrap();
        assert!(r.trigger.len() <= 40, "{:?}", f.minimal_input());
    }
}

#[tokio::test]
async fn dele_twice_ok_is_found() {
    let (o, _dir) = fuzz(&[Defect::DeleTwiceOk], 6, 1500).await;
    let found = wrong_answers(&o, "deleted-message");
    assert!(found.iter().any(|f| f.key.keyword == "DELE"), "no second-DELE finding");
}

#[tokio::test]
async fn wrong_state_ok_is_found_before_login() {
    let (o, _dir) = fuzz(&[Defect::WrongStateOk], 7, 600).await;
    let found = wrong_answers(&o, "wrong-state");
    assert!(found.iter().any(|f| !Context::from_name(&f.key.context).unwrap().needs_login()), "no wrong-state finding");
    let f = found[0];
    assert!(f.repro.as_ref().unwrap().prefix.is_empty());
}

#[tokio::test]
async fn close_after_errors_is_a_policy_not_a_crash() {
    let (o, _dir) = fuzz(&[Defect::CloseAfterErrors], 8, 1000).await;
    assert_eq!(o.of(Oracle::Policy).len(), 1, "policy note expected");
    assert_eq!(o.of(Oracle::Policy)[0].policy_count, Some(3));
    assert!(o.of(Oracle::Crash).is_empty());
    assert!(o.of(Oracle::Hang).is_empty());
    assert_eq!(o.of(Oracle::Policy)[0].severity(), pop3test::results::Severity::Info);
}

#[tokio::test]
async fn same_seed_same_run() {
    let a = fuzz(&[Defect::NumberWrap], 9, 300).await.0;
    let b = fuzz(&[Defect::NumberWrap], 9, 300).await.0;
    let keys = |o: &FuzzOutcome| o.findings.iter().map(|f| (f.key.clone(), f.minimal_input())).collect::<Vec<_>>();
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(a.sessions, b.sessions);
}

#[tokio::test]
async fn batched_cases_find_nothing_on_the_correct_server() {
    let (o, _dir) = fuzz_batched(&[], 1, 2000, 8).await;
    assert!(o.findings.is_empty(), "{:#?}", o.findings.iter().map(|f| f.key.id()).collect::<Vec<_>>());
    assert_eq!(o.cases + o.skipped, 2000);
}

#[tokio::test]
async fn batched_cases_still_find_and_shrink_to_one_case() {
    // A finding in the middle of a batch is blamed on its own case, and shrinks to it alone.
    let (o, _dir) = fuzz_batched(&[Defect::LenientArgs], 5, 1500, 8).await;
    let found: Vec<_> =
        ["malformed-argument", "extra-argument", "whitespace"].iter().flat_map(|r| wrong_answers(&o, r)).collect();
    assert!(!found.is_empty(), "no lenient-args finding");
    for f in found {
        let r = f.repro.as_ref().unwrap();
        assert_eq!(r.trigger.lines().len(), 1, "{:?}", f.minimal_input());
        assert!(r.trigger.len() <= 40, "{:?}", f.minimal_input());
    }
    let (o, _dir) = fuzz_batched(&[Defect::CrashOnLongLine], 2, 150, 8).await;
    assert!(!o.of(Oracle::Crash).is_empty(), "no crash found");
}

#[tokio::test]
async fn batched_cases_tell_a_close_after_errors_policy_from_a_crash() {
    let (o, _dir) = fuzz_batched(&[Defect::CloseAfterErrors], 8, 1000, 8).await;
    assert_eq!(o.of(Oracle::Policy).len(), 1, "policy note expected");
    assert_eq!(o.of(Oracle::Policy)[0].policy_count, Some(3));
    assert!(o.of(Oracle::Crash).is_empty());
}

#[tokio::test]
async fn a_batch_blames_the_case_whose_reply_was_wrong() {
    use pop3test::fuzz::{exec::Session, Case};
    let cases = [Case::line(b"NOOP\r\n"), Case::line(b"LIST 1a\r\n"), Case::line(b"NOOP\r\n")];
    for (defects, want_at) in [(vec![], 3), (vec![Defect::LenientArgs], 1)] {
        let h = server(&defects).await;
        let dir = tempfile::tempdir().unwrap();
        let env = config(&h, 1, 1, dir.path()).env;
        let mut s = Session::open(&env, Context::Transaction).await.expect("session");
        assert!(s.pipelining, "the reference server advertises PIPELINING");
        let (o, at) = s.run_batch(&cases, &mut || {}).await;
        assert_eq!(at, want_at, "{defects:?}: {:?}", o.candidate);
        assert_eq!(o.candidate.is_some(), want_at < cases.len(), "{:?}", o.candidate);
        // Replies after the blamed case are unread: the session cannot be trusted any more.
        assert_eq!(o.alive, want_at == cases.len());
        s.abandon();
        h.shutdown().await;
    }
}

#[tokio::test]
async fn a_server_that_drops_commands_pipelined_with_pass_is_logged_into_step_by_step() {
    // Sessions log in with USER, PASS, LIST, UIDL and CAPA in one write where PIPELINING is
    // advertised; a server that loses what follows PASS costs one timeout, then never again.
    let h = server(&[Defect::PipeliningDrop]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&h, 11, 300, dir.path());
    cfg.contexts = vec![Context::Transaction];
    cfg.session_cases = 20;
    let learned = cfg.env.stepwise_login.clone();
    let o = run(cfg).await;
    assert!(learned.load(std::sync::atomic::Ordering::Relaxed), "the lost replies were not noticed");
    assert_eq!(o.cases + o.skipped, 300, "{}", o.summary());
    assert!(o.sessions >= 300 / 20, "{}", o.summary());
    assert!(o.unavailable.is_empty(), "{:?}", o.unavailable);
    h.shutdown().await;
}

#[tokio::test]
async fn a_fresh_session_per_case_finds_nothing_and_pipelined_logins_hold() {
    let h = server(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&h, 12, 60, dir.path());
    cfg.contexts = vec![Context::Transaction];
    cfg.session_cases = 1;
    let learned = cfg.env.stepwise_login.clone();
    let o = run(cfg).await;
    assert!(!learned.load(std::sync::atomic::Ordering::Relaxed), "pipelined logins failed on a correct server");
    assert!(o.findings.is_empty(), "{:#?}", o.findings.iter().map(|f| f.key.id()).collect::<Vec<_>>());
    assert!(o.sessions >= 50, "{}", o.summary());
    h.shutdown().await;
}

#[tokio::test]
async fn replays_never_send_quit_after_a_dele() {
    // Shrinking proposes variants of a trigger; in the after-DELE context (or after a prefix
    // that mentions DELE) a QUIT would commit the deletion on the server under test.
    use pop3test::fuzz::shrink::{replay, Repro};
    use pop3test::fuzz::Case;
    let h = server(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let env = config(&h, 1, 1, dir.path()).env;
    let stat = |env: Env| async move {
        let s = pop3test::fuzz::exec::Session::open(&env, Context::Transaction).await.expect("session");
        let n = s.model.sizes.len();
        s.abandon();
        n
    };
    let before = stat(env.clone()).await;
    assert!(before > 1);
    let repros = [
        Repro { context: Context::AfterDele, prefix: vec![], trigger: Case::line(b"QUIT\r\n") },
        Repro {
            context: Context::Transaction,
            prefix: vec![Case::line(b"DELE 2 \r\n")],
            trigger: Case::line(b"quit x\r\n"),
        },
        Repro {
            context: Context::Transaction,
            prefix: vec![Case::line(b"NOOP\r\ndele 1\n")],
            trigger: Case::line(b"QUIT\r\n"),
        },
    ];
    for r in &repros {
        let seen = replay(&env, r).await;
        assert!(seen.candidate.is_none(), "{:?}", seen.candidate);
        assert!(!seen.transcript.iter().any(|e| e.text.to_ascii_uppercase().contains("QUIT")), "{r:?}");
    }
    assert_eq!(stat(env).await, before, "a replay committed a deletion");
    h.shutdown().await;
}

/// A server that answers `-ERR` to everything but CAPA and QUIT (or, `mute`, nothing at all after
/// CAPA, keeping the socket open), and hangs up (with our unread octets still queued: an RST) on
/// a command line over 4 KiB, as Dovecot does at 64 KiB.
async fn scripted(mute: bool) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        // Bounded: the fuzz run below opens far fewer sessions.
        for _ in 0..2000 {
            let Ok((mut s, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let _ = s.write_all(b"+OK ready\r\n").await;
                let (mut buf, mut chunk) = (Vec::new(), [0u8; 8192]);
                loop {
                    let Ok(n @ 1..) = s.read(&mut chunk).await else { return };
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = buf.drain(..=end).collect();
                        if line.len() > 4096 {
                            return;
                        }
                        let reply: &[u8] = match line.get(..4).map(|k| k.to_ascii_uppercase()) {
                            Some(k) if k == b"CAPA" => b"+OK\r\nUSER\r\n.\r\n",
                            Some(k) if k == b"QUIT" => b"+OK bye\r\n",
                            _ if mute => b"",
                            _ => b"-ERR no\r\n",
                        };
                        if s.write_all(reply).await.is_err() || reply.starts_with(b"+OK bye") {
                            return;
                        }
                    }
                    if buf.len() > 4096 {
                        return;
                    }
                }
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn a_hang_up_on_a_huge_command_line_is_a_policy_not_a_crash() {
    let (addr, task) = scripted(false).await;
    let dir = tempfile::tempdir().unwrap();
    let env = Env {
        target: pop3test::net::Target::parse(&format!("pop3://{addr}")).unwrap(),
        opts: pop3test::net::ConnectOptions { timeout: Duration::from_millis(500), ..Default::default() },
        creds: None,
        settle: Duration::from_millis(20),
        stls: StlsPolicy::Never,
        stepwise_login: Default::default(),
    };
    let mut cfg = FuzzConfig::new(env, 3);
    cfg.cases = Some(400);
    cfg.out = Some(dir.path().to_path_buf());
    cfg.down_budget = Duration::from_secs(2);
    let o = run(cfg).await;
    task.abort();
    eprintln!("{} unavailable {:?}", o.summary(), o.unavailable);
    let ids: Vec<String> = o.findings.iter().map(|f| format!("{}: {}", f.key.id(), f.candidate.detail)).collect();
    assert!(o.of(Oracle::Crash).is_empty(), "{ids:#?}");
    let policy: Vec<_> = o.findings.iter().filter(|f| f.key.id() == "fuzz/policy/line-length/any").collect();
    assert_eq!(policy.len(), 1, "{ids:#?}");
    assert!(policy[0].candidate.detail.contains("RFC 2449"), "{}", policy[0].candidate.detail);
    assert_eq!(policy[0].severity(), pop3test::results::Severity::Info);
}

/// A hang seen just before the run's deadline, whose replays cannot finish in time (each waits
/// out the 400 ms timeout, and four are needed), is reported as found and unconfirmed, with its
/// reproducer: never dropped.
#[tokio::test]
async fn a_finding_the_deadline_cuts_short_is_kept() {
    let (addr, task) = scripted(true).await;
    let dir = tempfile::tempdir().unwrap();
    let env = Env {
        target: pop3test::net::Target::parse(&format!("pop3://{addr}")).unwrap(),
        opts: pop3test::net::ConnectOptions { timeout: Duration::from_millis(400), ..Default::default() },
        creds: None,
        settle: Duration::from_millis(20),
        stls: StlsPolicy::Never,
        stepwise_login: Default::default(),
    };
    let mut cfg = FuzzConfig::new(env, 1);
    cfg.jobs = 1;
    cfg.deadline = Some(Duration::from_millis(1500));
    cfg.out = Some(dir.path().to_path_buf());
    cfg.down_budget = Duration::from_secs(1);
    let o = run(cfg).await;
    task.abort();
    let ids: Vec<String> = o.findings.iter().map(|f| format!("{}: {}", f.key.id(), f.candidate.detail)).collect();
    let hangs = o.of(Oracle::Hang);
    assert!(!hangs.is_empty(), "{} {ids:#?}", o.summary());
    let cut: Vec<_> = hangs.iter().filter(|f| f.cut_short).collect();
    assert!(!cut.is_empty(), "{ids:#?}");
    let r = cut[0].to_result("pop3://127.0.0.1");
    assert!(r.message.as_deref().is_some_and(|m| m.contains("unconfirmed")), "{:?}", r.message);
    assert!(matches!(&cut[0].exported, Some(Ok(p)) if p.starts_with(dir.path())), "{:?}", cut[0].exported);
}
