//! Every job against every kind of hostile server ([`hostile::Behaviour`]): `session`, `run`,
//! `audit` and `fuzz` must end by their deadline (plus a small grace), exit with a verdict (3, 4
//! or 5, never a panic or a signal), stay bounded in memory (a 200 MB reply included), write
//! their reports, and say in words what happened.

mod hostile;

use hostile::{Behaviour, Hostile};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Per step. Short, so that a case that waits the whole deadline is rare.
const TIMEOUT: &str = "1s";
/// The whole job for session, run and audit.
const DEADLINE: Duration = Duration::from_secs(12);
/// Fuzzing time.
const FUZZ_FOR: Duration = Duration::from_secs(5);
/// How late a job may end after its deadline (process start, report writing, a loaded machine).
const GRACE: Duration = Duration::from_secs(6);
/// Peak resident memory allowed. The debug binary runs the whole suite in about 30 MiB; a reply
/// bounded by --max-response (16 MiB) and bodies kept up to --max-kept (4 MiB) fit well within.
const MEMORY: u64 = 96 << 20;
/// Cases run at once: they mostly wait on timeouts.
const PARALLEL: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    Session,
    Run,
    Audit,
    Fuzz,
}

struct Outcome {
    behaviour: Behaviour,
    job: Job,
    code: Option<i32>,
    elapsed: Duration,
    peak: u64,
    output: String,
    report: Option<String>,
}

impl Outcome {
    fn label(&self) -> String {
        format!("{:?} × {:?}", self.job, self.behaviour)
    }
}

/// VmHWM (peak resident set) of a live process, in bytes.
fn peak_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn case(behaviour: Behaviour, job: Job) -> Outcome {
    let server = Hostile::start(behaviour);
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("report.json");
    let deadline = format!("{}s", DEADLINE.as_secs());
    let mut args: Vec<String> = match job {
        Job::Session => vec!["session".into(), server.url()],
        Job::Run => vec!["run".into(), server.url(), "--report".into(), format!("json={}", json.display())],
        Job::Audit => vec![
            "audit".into(),
            server.url(),
            "--no-implicit".into(),
            "--report".into(),
            format!("json={}", json.display()),
        ],
        Job::Fuzz => vec![
            "fuzz".into(),
            server.url(),
            "--duration".into(),
            format!("{}s", FUZZ_FOR.as_secs()),
            "--seed".into(),
            "1".into(),
            "--out".into(),
            dir.path().join("findings").display().to_string(),
            "--report".into(),
            format!("json={}", json.display()),
        ],
    };
    args.extend(
        ["--user", "alice", "--password-env", "PW", "--timeout", TIMEOUT, "--color", "never"].map(String::from),
    );
    if job != Job::Fuzz {
        args.extend(["--deadline".to_string(), deadline]);
    }
    let limit = if job == Job::Fuzz { FUZZ_FOR } else { DEADLINE } + GRACE;

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pop3test"))
        .args(&args)
        .env("PW", "hostile-secret")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pop3test");
    let pipe = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = p {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = pipe(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = pipe(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let pid = child.id();
    let mut peak = 0;
    // Bounded poll: the only wait here, and the point of the test is that it ends.
    let code = loop {
        if let Some(p) = peak_of(pid) {
            peak = peak.max(p);
        }
        match child.try_wait() {
            Ok(Some(st)) => break st.code(),
            Ok(None) if started.elapsed() < limit + GRACE => std::thread::sleep(Duration::from_millis(25)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let elapsed = started.elapsed();
    let output = format!("{}\n{}", out.join().unwrap_or_default(), err.join().unwrap_or_default());
    let report = std::fs::read_to_string(&json).ok();
    Outcome { behaviour, job, code, elapsed, peak, output, report }
}

/// The words a user must find for each behaviour (any one of them, case-insensitive), in what
/// `session` prints: the job that reports the connection's fate most directly.
fn words(b: Behaviour) -> &'static [&'static str] {
    match b {
        Behaviour::Mute => &["greeting"],
        Behaviour::SlowGreeting => &["greeting"],
        Behaviour::EndlessLine => &["greeting", "line"],
        Behaviour::EndlessBody | Behaviour::HugeBody => &["octets", "limit", "max-response", "timed out"],
        Behaviour::Garbage => &["status line"],
        Behaviour::CloseMidGreeting => &["greeting", "closed"],
        Behaviour::CloseAfterGreeting => &["closed"],
        Behaviour::ErrGreeting => &["-ERR go away"],
        Behaviour::OutOfStep => &["out of step"],
        Behaviour::DripBody => &["timed out", "octets", "slow"],
        // `session` without --stls never asks for it: these say nothing about TLS there.
        Behaviour::StlsStall | Behaviour::StlsGarbage => &["stat"],
        Behaviour::ResetAfterCommand => &["reset", "closed"],
    }
}

/// Whether exit 0 can be honest: only `session` against the STLS tricksters, since it does not
/// ask for STLS unless told to. Every other pair has something wrong to report (fuzz findings
/// below --fail-on exit 0 by design: there the report is judged).
fn may_pass(b: Behaviour, job: Job) -> bool {
    job == Job::Session && matches!(b, Behaviour::StlsStall | Behaviour::StlsGarbage)
}

fn judge(o: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    let what = o.label();
    let limit = if o.job == Job::Fuzz { FUZZ_FOR } else { DEADLINE } + GRACE;
    match o.code {
        None => problems.push(format!("{what}: killed after {:.1?} (deadline not kept)", o.elapsed)),
        Some(0) if !may_pass(o.behaviour, o.job) && o.job != Job::Fuzz => problems.push(format!("{what}: exit 0")),
        Some(0 | 3 | 4 | 5) => {}
        Some(c) => problems.push(format!("{what}: exit {c}")),
    }
    if o.elapsed > limit {
        problems.push(format!("{what}: took {:.1?}, more than {limit:?}", o.elapsed));
    }
    if o.output.contains("panicked") {
        problems.push(format!("{what}: panicked"));
    }
    if o.peak > MEMORY {
        problems.push(format!("{what}: peak memory {} MiB", o.peak >> 20));
    }
    if o.output.contains("hostile-secret") || o.report.as_deref().is_some_and(|r| r.contains("hostile-secret")) {
        problems.push(format!("{what}: the password reached the output"));
    }
    // Never lost results: run, audit and fuzz write their report whatever happened, and it
    // holds at least one failure or error (exit 0 can still be right: fuzz findings below
    // --fail-on).
    if o.job != Job::Session {
        match o.report.as_deref().map(serde_json::from_str::<pop3test::results::Report>) {
            None => problems.push(format!("{what}: no JSON report")),
            Some(Err(e)) => problems.push(format!("{what}: the JSON report does not parse: {e}")),
            Some(Ok(r)) => {
                use pop3test::results::Verdict;
                if !r.results.iter().any(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error)) {
                    problems.push(format!("{what}: the report holds no failure and no error"));
                }
            }
        }
    }
    if o.job == Job::Session {
        let text = o.output.to_ascii_lowercase();
        if !words(o.behaviour).iter().any(|w| text.contains(&w.to_ascii_lowercase())) {
            problems.push(format!("{what}: says none of {:?}", words(o.behaviour)));
        }
    }
    problems
}

#[test]
fn every_job_ends_in_time_and_bounded_against_every_hostile_server() {
    let mut cases = Vec::new();
    for b in hostile::ALL {
        for j in [Job::Session, Job::Run, Job::Audit, Job::Fuzz] {
            cases.push((b, j));
        }
    }
    let mut outcomes = Vec::new();
    for chunk in cases.chunks(PARALLEL) {
        let handles: Vec<_> = chunk.iter().map(|&(b, j)| std::thread::spawn(move || case(b, j))).collect();
        outcomes.extend(handles.into_iter().map(|h| h.join().expect("case thread")));
    }
    let mut problems = Vec::new();
    for o in &outcomes {
        eprintln!(
            "{:<36} exit {:<6} {:>6.1?}  peak {:>3} MiB",
            o.label(),
            o.code.map(|c| c.to_string()).unwrap_or_else(|| "killed".into()),
            o.elapsed,
            o.peak >> 20
        );
        let p = judge(o);
        if !p.is_empty() {
            let tail: String =
                o.output.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            problems.push(format!("{}\n--- output (tail) ---\n{tail}", p.join("\n")));
        }
    }
    assert!(problems.is_empty(), "{} case(s) misbehaved:\n\n{}", problems.len(), problems.join("\n\n"));
}
