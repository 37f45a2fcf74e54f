//! Running the built `pop3test` binary from integration tests and reading what it wrote: shared
//! by the tests against real servers (dovecot_cli.rs, real_servers.rs).
#![allow(dead_code)] // each test file uses its own part

use base64::Engine as _;
use pop3test::results::{CheckResult, Report};
use pop3test::transcript::Direction;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One finished `pop3test` command.
pub struct Output {
    /// The command line, for messages (the password never is on it: --password-env).
    pub cmdline: String,
    /// `None` when it was killed (time limit) or could not start.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The `--report json=` file, parsed; the `Err` says why there is none.
    pub report: Result<Report, String>,
    /// Every other file the command wrote (other report formats, fuzz reproducers), as text.
    pub files: Vec<(String, String)>,
}

impl Output {
    pub fn report(&self) -> &Report {
        match &self.report {
            Ok(r) => r,
            Err(e) => panic!("{}: no JSON report ({e})\n{}", self.cmdline, self.context()),
        }
    }

    pub fn context(&self) -> String {
        let tail =
            |s: &str| s.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        format!(
            "$ {}\nexit {:?} after {:.1?}\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
            self.cmdline,
            self.code,
            self.elapsed,
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }

    /// Asserts that nothing the command printed or wrote contains a secret.
    pub fn assert_no_secret(&self, secrets: &[String]) {
        let mut places: Vec<(&str, &str)> = vec![("stdout", &self.stdout), ("stderr", &self.stderr)];
        for (name, text) in &self.files {
            places.push((name, text));
        }
        for (place, text) in places {
            for s in secrets {
                assert!(!text.contains(s.as_str()), "{}: {place} contains the secret `{s}`", self.cmdline);
            }
        }
    }
}

/// The password in every form a transcript could carry it: as typed (PASS), base64 alone (AUTH
/// LOGIN), and the AUTH PLAIN initial responses (`\0user\0pass`, `user\0user\0pass`).
pub fn secret_forms(user: &str, password: &str) -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    vec![
        password.to_string(),
        b64(password),
        b64(&format!("\0{user}\0{password}")),
        b64(&format!("{user}\0{user}\0{password}")),
    ]
}

/// Runs the built binary with `args`, the environment `envs` (passwords, for `--password-env`),
/// and a time limit. `dir` receives the reports; `report.json` there is parsed.
pub fn pop3test(args: &[String], envs: &[(&str, &str)], dir: &Path, limit: Duration) -> Output {
    let cmdline = format!("pop3test {}", args.join(" "));
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_pop3test"))
        .args(args)
        .envs(envs.iter().copied())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return Output {
                cmdline,
                code: None,
                stdout: String::new(),
                stderr: format!("could not start: {e}"),
                elapsed: started.elapsed(),
                report: Err("not started".into()),
                files: Vec::new(),
            }
        }
    };
    // Drain both pipes while waiting: a full pipe would block the child.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let mut killed = false;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                killed = true;
                break None;
            }
        }
    };
    let elapsed = started.elapsed();
    let stdout = out.join().unwrap_or_default();
    let mut stderr = err.join().unwrap_or_default();
    if killed {
        stderr.push_str(&format!("\n[killed after {limit:?}: time limit]"));
    }
    let json = dir.join("report.json");
    let report = std::fs::read_to_string(&json)
        .map_err(|e| format!("{}: {e}", json.display()))
        .and_then(|t| serde_json::from_str::<Report>(&t).map_err(|e| format!("{}: {e}", json.display())));
    Output { cmdline, code, stdout, stderr, elapsed, report, files: read_tree(dir) }
}

/// Every file under `dir` (reports, fuzz reproducers) with its text.
pub fn read_tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    out
}

pub fn s(x: &str) -> String {
    x.to_string()
}

pub fn report_flags(dir: &Path, formats: &[&str]) -> Vec<String> {
    let mut v = vec![s("--report"), format!("json={}", dir.join("report.json").display())];
    for f in formats {
        v.push(s("--report"));
        v.push(format!("{f}={}", dir.join(format!("report.{f}")).display()));
    }
    v
}

/// A result some thread will deliver.
pub struct Job<T = Output> {
    slot: Mutex<Option<Arc<Vec<T>>>>,
    ready: Condvar,
}

impl<T> Default for Job<T> {
    fn default() -> Self {
        Job { slot: Mutex::new(None), ready: Condvar::new() }
    }
}

impl<T> Job<T> {
    pub fn deliver(&self, outputs: Vec<T>) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(outputs));
        self.ready.notify_all();
    }

    /// Waits at most `limit` (then panics: a background job never finished).
    pub fn wait(&self, limit: Duration) -> Arc<Vec<T>> {
        let deadline = Instant::now() + limit;
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(o) = slot.as_ref() {
                return o.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "a background pop3test job never finished");
            slot = self.ready.wait_timeout(slot, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

// ------------------------------------------------------------------------------------------
// Reading results

pub fn find<'a>(report: &'a Report, id: &str) -> Option<&'a CheckResult> {
    report.results.iter().find(|r| r.id == id)
}

pub fn describe(r: &CheckResult) -> String {
    format!(
        "{:?}{} {} [{}]: {}{}",
        r.verdict,
        r.severity.map(|s| format!("/{}", s.as_str())).unwrap_or_default(),
        r.id,
        r.requirements.join(" "),
        r.message.as_deref().unwrap_or(""),
        r.actual
            .as_deref()
            .map(|a| format!(" (actual: {})", a.chars().take(200).collect::<String>()))
            .unwrap_or_default()
    )
}

/// The lines of one transcript entry (entries show CR LF as the four characters `\r\n`).
pub fn entry_lines(text: &str) -> Vec<String> {
    text.split("\\r\\n").filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// Every line the server sent in `r`'s transcript.
pub fn server_lines(r: &CheckResult) -> Vec<String> {
    r.transcript.iter().filter(|e| e.dir == Direction::Server).flat_map(|e| entry_lines(&e.text)).collect()
}

/// (client line, first line of the server's next entry) for each client entry: the exchanges of a
/// lock-step session.
pub fn exchanges(r: &CheckResult) -> Vec<(String, String)> {
    let t = &r.transcript;
    let mut out = Vec::new();
    for (i, e) in t.iter().enumerate() {
        if e.dir != Direction::Client {
            continue;
        }
        let reply = t[i + 1..]
            .iter()
            .take_while(|n| n.dir != Direction::Client)
            .find(|n| n.dir == Direction::Server)
            .and_then(|n| entry_lines(&n.text).into_iter().next())
            .unwrap_or_default();
        for line in entry_lines(&e.text) {
            out.push((line, reply.clone()));
        }
    }
    out
}

pub fn has_exchange(r: &CheckResult, command: &str, reply_prefix: &str) -> bool {
    exchanges(r).iter().any(|(c, s)| c == command && s.starts_with(reply_prefix))
}
