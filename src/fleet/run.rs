//! Scheduling a fleet audit: up to `jobs` targets at once, at most `per_host` of them on one host
//! (one server with many names or ports is audited one target at a time by default: each audit
//! already opens several connections at once), each target's whole audit bounded by its own
//! deadline. Reports are handed to the caller in the order targets finish, as they finish; a
//! target that cannot be reached is a report holding that error, never the end of the run.

use crate::audit::{self, AuditConfig};
use crate::net::Target;
use crate::results::{CheckResult, Report, RunKind, Verdict};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::task::{JoinHandle, JoinSet};

/// One target to audit.
#[derive(Debug, Clone)]
pub struct Job {
    /// The normalised URL of its line: becomes the report's `target`.
    pub key: String,
    pub cfg: AuditConfig,
}

/// How much runs at once, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Targets audited at once (`--jobs`).
    pub jobs: usize,
    /// Targets of one host audited at once (`--per-host`); a host is the first address its name
    /// resolves to, so two names of one server share it.
    pub per_host: usize,
    /// One target's whole audit (`--deadline`).
    pub deadline: Duration,
    /// One name lookup (`--timeout`); a name that does not resolve in time is its own host, and
    /// its audit then reports why it could not connect.
    pub resolve: Duration,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every job reported.
    Finished,
    /// `cancel` fired: the audits in flight were dropped without a report (a resumed run
    /// audits them again).
    Cancelled { in_flight: usize },
}

/// Aborts the task when dropped, so that cancelling the run stops the audits in flight too.
struct AbortOnDrop(JoinHandle<Report>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `jobs` within `limits`, calling `on_done` with each report as its target finishes, until
/// all are done or `cancel` completes. An error from `on_done` (the results file cannot be
/// written) stops the run: auditing on without recording would lose the results.
pub async fn run<F>(jobs: Vec<Job>, limits: Limits, mut on_done: F, cancel: impl Future<Output = ()>) -> io::Result<End>
where
    F: FnMut(Report) -> io::Result<()>,
{
    let hosts = host_keys(&jobs, limits.resolve).await;
    let (max_jobs, per_host) = (limits.jobs.max(1), limits.per_host.max(1));
    let mut pending: Vec<usize> = (0..jobs.len()).collect();
    let mut busy: HashMap<&str, usize> = HashMap::new();
    let mut running: JoinSet<(usize, Report)> = JoinSet::new();
    tokio::pin!(cancel);
    loop {
        // Start, in file order, every pending target whose host has room, up to the job limit.
        let mut i = 0;
        while running.len() < max_jobs && i < pending.len() {
            let host = hosts[pending[i]].as_str();
            let n = busy.entry(host).or_insert(0);
            if *n >= per_host {
                i += 1;
                continue;
            }
            *n += 1;
            let idx = pending.remove(i);
            let Job { key, cfg } = jobs[idx].clone();
            let deadline = limits.deadline;
            running.spawn(async move {
                // A task of its own, so that a panic in one audit is that target's error report.
                let mut inner = AbortOnDrop(tokio::spawn(async move { audit::run_within(&cfg, deadline).await }));
                let mut report = match (&mut inner.0).await {
                    Ok(r) => r,
                    Err(e) => crashed(&key, &e.to_string()),
                };
                report.target = key;
                (idx, report)
            });
        }
        if running.is_empty() {
            return Ok(End::Finished);
        }
        tokio::select! {
            biased;
            _ = &mut cancel => {
                let in_flight = running.len();
                running.shutdown().await;
                return Ok(End::Cancelled { in_flight });
            }
            Some(done) = running.join_next() => {
                // The outer task never panics and is aborted only by `shutdown` above.
                let Ok((idx, report)) = done else { continue };
                if let Some(n) = busy.get_mut(hosts[idx].as_str()) {
                    *n -= 1;
                }
                if let Err(e) = on_done(report) {
                    running.shutdown().await;
                    return Err(e);
                }
            }
        }
    }
}

/// The report of an audit that panicked (a bug in pop3test, reported as a tester error).
fn crashed(key: &str, why: &str) -> Report {
    let mut report = Report::new(RunKind::Audit, key);
    let mut r = CheckResult::new("pop3test/crash", "The audit runs to its end", "setup", Verdict::Error);
    r.message = Some(format!("the audit of this target stopped: {why} (a bug in pop3test; please report it)"));
    report.summary = r.message.clone();
    report.results.push(r);
    report.incomplete = true;
    report
}

/// The host of each job, as per-host limits count them: the first address the plain target's
/// name resolves to (IP literals as they are), or the lowercase name when it does not resolve.
/// Lookups run 64 at a time, each within `wait`, all before the first audit starts (a limit
/// needs every host known): a fleet of names that all time out waits `N / 64 * wait` first.
async fn host_keys(jobs: &[Job], wait: Duration) -> Vec<String> {
    let mut keys = vec![String::new(); jobs.len()];
    let mut lookups = JoinSet::new();
    let mut next = 0;
    loop {
        while lookups.len() < 64 && next < jobs.len() {
            let t = jobs[next].cfg.target.clone();
            let i = next;
            lookups.spawn(async move { (i, host_key(&t, wait).await) });
            next += 1;
        }
        match lookups.join_next().await {
            Some(Ok((i, k))) => keys[i] = k,
            Some(Err(_)) => {}
            None => break,
        }
    }
    for (k, j) in keys.iter_mut().zip(jobs) {
        if k.is_empty() {
            *k = j.cfg.target.host.to_ascii_lowercase();
        }
    }
    keys
}

async fn host_key(t: &Target, wait: Duration) -> String {
    if let Ok(ip) = t.host.parse::<std::net::IpAddr>() {
        return ip.to_string();
    }
    match tokio::time::timeout(wait, tokio::net::lookup_host((t.host.as_str(), t.port))).await {
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(a) => a.ip().to_string(),
            None => t.host.to_ascii_lowercase(),
        },
        _ => t.host.to_ascii_lowercase(),
    }
}
