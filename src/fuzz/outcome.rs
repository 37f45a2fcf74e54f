//! What a run produces: findings with their minimal reproducers, counters, and the shared
//! [`Report`] they become; plus the progress display (indicatif on a terminal, a plain line every
//! few seconds otherwise).

use super::export::{self, Meta};
use super::oracle::{Candidate, FindingKey, Oracle};
use super::runner::Shared;
use super::shrink::Repro;
use crate::results::{CheckResult, Report, RunKind, Severity, Verdict};
use crate::transcript::{printable, Entry};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// One confirmed finding.
#[derive(Debug, Clone)]
pub struct Finding {
    pub key: FindingKey,
    pub candidate: Candidate,
    /// The minimal reproducer (none for policy notes, setup violations, a server down at connect).
    pub repro: Option<Repro>,
    /// Replays that reproduced it, out of how many.
    pub reproduced: (u32, u32),
    /// Evidence: the transcript of a confirming replay.
    pub transcript: Vec<Entry>,
    /// How often the run hit this key.
    pub occurrences: u64,
    /// Trigger octets before shrinking.
    pub original_len: usize,
    pub shrink_steps: u32,
    pub did_stls: bool,
    /// Where the reproducer was written (or why it could not be).
    pub exported: Option<Result<PathBuf, String>>,
    /// Policy notes: the error count after which the server closes.
    pub policy_count: Option<u32>,
    /// Seen once, and the run ended before a replay could confirm or refute it: reported as
    /// found (never lost), and said to be unconfirmed.
    pub cut_short: bool,
}

impl Finding {
    pub fn new(
        key: FindingKey,
        candidate: Candidate,
        repro: Option<Repro>,
        reproduced: (u32, u32),
        transcript: Vec<Entry>,
    ) -> Self {
        let original_len = repro.as_ref().map_or(0, |r| r.trigger.len());
        Finding {
            key,
            candidate,
            repro,
            reproduced,
            transcript,
            occurrences: 1,
            original_len,
            shrink_steps: 0,
            did_stls: false,
            exported: None,
            policy_count: None,
            cut_short: false,
        }
    }

    pub fn severity(&self) -> Severity {
        self.candidate.severity()
    }

    /// The minimal input as printable text: the prefix cases, then the trigger.
    pub fn minimal_input(&self) -> Option<String> {
        let r = self.repro.as_ref()?;
        let mut parts: Vec<String> = r.prefix.iter().map(|c| printable(&c.wire(), 2048)).collect();
        parts.push(printable(&r.trigger.wire(), 2048));
        Some(parts.join(" ⟶ "))
    }

    /// One-line title.
    pub fn title(&self) -> String {
        let c = &self.candidate;
        let what = match c.oracle {
            Oracle::Crash => "connection dropped without a reply".to_string(),
            Oracle::Hang => "no reply (hang)".to_string(),
            Oracle::ServerDown => "server stopped accepting connections".to_string(),
            Oracle::Violation => format!("protocol violation: {}", c.violation.as_ref().map_or("", |v| v.name())),
            Oracle::WrongAnswer => format!("wrong answer: {}", c.reason.name()),
            Oracle::StateDamage => "maildrop state changed".to_string(),
            Oracle::Policy => "closes the session after errors (policy)".to_string(),
        };
        format!("{what} on {} in {}", c.keyword, self.key.context)
    }

    /// Writes the reproducer into `dir`.
    pub fn export(&self, dir: &Path, seed: u64, timeout: Duration) -> std::io::Result<PathBuf> {
        let repro = self.repro.as_ref().ok_or_else(|| std::io::Error::other("no reproducer"))?;
        let title = self.title();
        let meta = Meta {
            key: &self.key,
            title: &title,
            detail: &self.candidate.detail,
            requirement: self.candidate.requirement(),
            rfc: self.candidate.rfc(),
            seed,
            reproduced: self.reproduced,
            did_stls: self.did_stls,
            timeout,
            expected_stat: self.candidate.expected_stat,
        };
        export::write(dir, repro, &meta)
    }

    /// The finding as a report result; `target` goes into the command that replays it.
    pub fn to_result(&self, target: &str) -> CheckResult {
        let c = &self.candidate;
        let mut r = CheckResult::new(self.key.id(), self.title(), "fuzz", Verdict::Fail);
        r.severity = Some(self.severity());
        r.requirements = vec![c.requirement().to_string()];
        r.rfc_refs = vec![c.rfc().to_string()];
        let mut msg = c.detail.clone();
        if self.reproduced.1 > 0 {
            msg.push_str(&format!(
                ". Seen {} time(s); minimal reproducer replayed {}/{} times",
                self.occurrences, self.reproduced.0, self.reproduced.1
            ));
        }
        if self.cut_short {
            msg.push_str(
                ". Seen once, unconfirmed: the run ended before it could be replayed (a longer --duration confirms it)",
            );
        }
        if let Some(r) = &self.repro {
            if self.original_len > r.trigger.len() {
                msg.push_str(&format!("; shrunk from {} to {} octets", self.original_len, r.trigger.len()));
            }
        }
        match &self.exported {
            Some(Ok(p)) => msg.push_str(&format!(
                ". Reproducer: {} (replay: `pop3test run {target} --scenarios {}` with this run's account options)",
                p.display(),
                p.display()
            )),
            Some(Err(e)) => msg.push_str(&format!(". The reproducer could not be written: {e}")),
            None => {}
        }
        r.message = Some(msg);
        r.expected = match c.oracle {
            Oracle::WrongAnswer => Some(c.reason.expected().to_string()),
            Oracle::Crash | Oracle::Hang => Some("a reply, and the session kept open (only QUIT ends it)".into()),
            Oracle::StateDamage => c.expected_stat.map(|(n, m)| format!("STAT {n} {m}")),
            _ => None,
        };
        r.actual = self.minimal_input();
        r.transcript = self.transcript.clone();
        r.remediation = Some(
            match c.oracle {
                Oracle::Policy => "none needed: a documented policy; keep it consistent and say so in the -ERR text",
                Oracle::Crash | Oracle::Hang | Oracle::ServerDown => {
                    "bound input lines and answer malformed input with -ERR; never drop or stall a session on bad input"
                }
                _ => "follow the requirement named here; replay the reproducer after fixing",
            }
            .into(),
        );
        r
    }
}

/// A saved reproducer replayed at the start of a run.
#[derive(Debug, Clone)]
pub struct Regression {
    pub path: PathBuf,
    pub key: FindingKey,
    pub title: String,
    pub still_fails: bool,
}

/// The result of [`super::run`].
#[derive(Debug, Clone)]
pub struct FuzzOutcome {
    pub seed: u64,
    pub cases: u64,
    pub sessions: u64,
    pub replays: u64,
    /// Candidates that replays did not reproduce (flaky or desynchronised sessions).
    pub unconfirmed: u64,
    /// Cases not sent (QUIT after DELE would commit deletions).
    pub skipped: u64,
    pub elapsed: Duration,
    pub findings: Vec<Finding>,
    pub regressions: Vec<Regression>,
    /// Contexts that could not be reached, with why.
    pub unavailable: Vec<(String, String)>,
    pub incomplete: bool,
    /// What the sweep covered (`None`: no sweep was asked for).
    pub coverage: Option<crate::results::Coverage>,
    /// Lines the sweep sent (its cells' preps and lines), beside the random `cases`.
    pub sweep_cases: u64,
}

impl FuzzOutcome {
    pub fn cases_per_sec(&self) -> f64 {
        self.cases as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Findings of one oracle.
    pub fn of(&self, oracle: Oracle) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.key.oracle == oracle).collect()
    }

    /// One line for humans.
    pub fn summary(&self) -> String {
        let real = self.findings.iter().filter(|f| f.key.oracle != Oracle::Policy).count();
        let sweep = match &self.coverage {
            Some(c) => format!("{} ({} lines); ", c.summary(), self.sweep_cases),
            None => String::new(),
        };
        format!(
            "{sweep}{} cases in {:.1}s ({:.0} cases/s) over {} sessions, {} replays; {} finding(s), {} unconfirmed; seed {}",
            self.cases,
            self.elapsed.as_secs_f64(),
            self.cases_per_sec(),
            self.sessions,
            self.replays,
            real,
            self.unconfirmed,
            self.seed
        )
    }

    /// The shared results model: one result per finding, one per replayed regression.
    pub fn to_report(&self, target: &str) -> Report {
        let mut report = Report::new(RunKind::Fuzz, target);
        report.seed = Some(self.seed);
        report.duration_ms = self.elapsed.as_secs_f64() * 1000.0;
        report.incomplete = self.incomplete;
        report.summary = Some(self.summary());
        report.coverage = self.coverage.clone();
        report.results = self.findings.iter().map(|f| f.to_result(target)).collect();
        for r in self.regressions.iter().filter(|r| !r.still_fails) {
            let mut res = CheckResult::new(r.key.id(), r.title.clone(), "fuzz", Verdict::Pass);
            res.message = Some(format!("saved reproducer {} no longer fails", r.path.display()));
            report.results.push(res);
        }
        for (ctx, why) in &self.unavailable {
            let verdict = if server_fault(why) { Verdict::Error } else { Verdict::Skip };
            let mut res =
                CheckResult::new(format!("fuzz/context/{ctx}"), format!("fuzz the {ctx} state"), "fuzz", verdict);
            res.message = Some(why.clone());
            report.results.push(res);
        }
        report
    }
}

/// Whether a context was out of reach through the server's fault (a broken TLS handshake after
/// `+OK` to STLS, replies out of step, silence) rather than by its policy or the test account's
/// (no STLS offered, login refused): an error to report, not a skip.
fn server_fault(why: &str) -> bool {
    ["TLS handshake failed", "out of step", "timed out", "incomplete after"].iter().any(|k| why.contains(k))
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Off,
    /// indicatif bar (stderr is a terminal).
    Bar,
    /// A plain line every 5 s (logs, CI).
    Lines,
}

pub(crate) struct Ticker {
    mode: Progress,
    bar: Option<indicatif::ProgressBar>,
    last_line: Instant,
}

impl Ticker {
    pub fn new(mode: Progress, total: Option<u64>) -> Self {
        let bar = (mode == Progress::Bar).then(|| {
            let bar = match total {
                Some(n) => indicatif::ProgressBar::new(n),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} cases {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Ticker { mode, bar, last_line: Instant::now() }
    }

    pub fn tick(&mut self, sh: &Shared, done: bool) {
        let cases = sh.cases.load(Relaxed);
        let secs = sh.start.elapsed().as_secs_f64().max(1e-9);
        let findings = sh.findings_count();
        let msg = format!(
            "{:.0} cases/s, {findings} finding(s), {} sessions",
            cases as f64 / secs,
            sh.sessions.load(Relaxed)
        );
        match self.mode {
            Progress::Off => {}
            Progress::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(cases);
                    bar.set_message(msg);
                    if done {
                        bar.finish();
                    }
                }
            }
            Progress::Lines => {
                if done || self.last_line.elapsed() >= Duration::from_secs(5) {
                    self.last_line = Instant::now();
                    eprintln!("fuzz: {cases} cases, {msg}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::server_fault;

    #[test]
    fn the_servers_failures_are_errors_and_policies_are_skips() {
        assert!(server_fault("TLS handshake failed: received corrupt message of type InvalidContentType"));
        assert!(server_fault("the login cannot be judged: the server is out of step after CAPA (...)"));
        assert!(server_fault("timed out after 1s waiting for the server's reply"));
        assert!(!server_fault("STLS refused: -ERR not supported"));
        assert!(!server_fault("login refused (USER/PASS): -ERR [AUTH] Invalid credentials"));
    }
}
