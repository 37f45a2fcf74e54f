//! The fleet benchmark (`cargo bench --bench pop3bench -- --fleet 10,100,1000`): N built-in
//! servers on loopback ports, in this process on a runtime of their own (as one `serve` process
//! listening on many ports would be), in a mix of postures, audited by the real `pop3test` binary
//! with `audit --targets`. It reports targets audited per second and the auditor's peak RSS
//! (`VmHWM` of the child, sampled until it exits: the high-water mark only grows, so the last
//! sample is the peak within one sampling interval).
//!
//! The postures, in turn: TLS required (the default), cleartext allowed (`--allow-cleartext`),
//! STLS-injectable (`--defect stls-injection`), and no implicit-TLS port. Legacy TLS (1.0/1.1) is
//! not among them: the built-in server speaks TLS through rustls, which has neither.

use super::BenchReport;
use crate::server::{self, Defect, ServerConfig, ServerHandle};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Settings of one fleet run.
#[derive(Debug, Clone, Copy)]
pub struct FleetBench {
    /// `--jobs` of the audit.
    pub jobs: usize,
    /// `--timeout` of the audit.
    pub timeout: Duration,
    /// A fleet that takes longer than this is killed and reported as such.
    pub limit: Duration,
}

impl Default for FleetBench {
    fn default() -> Self {
        FleetBench { jobs: 32, timeout: Duration::from_secs(10), limit: Duration::from_secs(1800) }
    }
}

/// The test account of every server, on every line (the password from the environment).
const ACCOUNT: &str = "user=mrose password-env=POP3TEST_FLEET_BENCH_PW";
const PW_VAR: &str = "POP3TEST_FLEET_BENCH_PW";

fn posture(i: usize) -> ServerConfig {
    match i % 4 {
        0 => ServerConfig::default(),
        1 => ServerConfig { allow_cleartext: true, ..ServerConfig::default() },
        2 => ServerConfig { defects: Defect::StlsInjection.into(), ..ServerConfig::default() },
        _ => ServerConfig { tls_listen: None, ..ServerConfig::default() },
    }
}

/// Peak RSS of a running process in MiB, from `/proc/PID/status`.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<f64>().ok().map(|kb| kb / 1024.0)
}

/// Audits fleets of each size in `sizes` with the binary `bin`, adding rows to `report`.
pub fn run(bin: &Path, sizes: &[usize], cfg: FleetBench, report: &mut BenchReport) -> std::io::Result<()> {
    let dir = tempfile_dir()?;
    let (cert, key, ca) = server::tls::write_test_pki(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    for &n in sizes {
        let servers: Vec<ServerHandle> = (0..n)
            .map(|i| {
                let c = ServerConfig { cert: Some(cert.clone()), key: Some(key.clone()), ..posture(i) };
                rt.block_on(server::spawn(c))
            })
            .collect::<Result<_, _>>()?;
        let lines: Vec<String> = servers
            .iter()
            .map(|s| match s.tls_target() {
                Some(t) => format!("{} tls-port={} {ACCOUNT}", s.plain_target(), t.port),
                None => format!("{} no-implicit {ACCOUNT}", s.plain_target()),
            })
            .collect();
        let targets = dir.join(format!("fleet-{n}.txt"));
        let jsonl = dir.join(format!("fleet-{n}.jsonl"));
        std::fs::write(&targets, lines.join("\n") + "\n")?;
        let started = Instant::now();
        let mut child = Command::new(bin)
            .args(["audit", "--targets"])
            .arg(&targets)
            .arg("--ca-file")
            .arg(&ca)
            .args(["--jobs", &cfg.jobs.to_string(), "--per-host", &n.to_string(), "-q", "--fail-on", "never"])
            .args(["--timeout", &humantime::format_duration(cfg.timeout).to_string()])
            .env(PW_VAR, crate::server::seed::DEFAULT_PASSWORD)
            .arg("--report")
            .arg(format!("jsonl={}", jsonl.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut peak = 0.0f64;
        let status = loop {
            if let Some(st) = child.try_wait()? {
                break Some(st);
            }
            if started.elapsed() > cfg.limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            peak = peak.max(peak_rss_mib(child.id()).unwrap_or(0.0));
            std::thread::sleep(Duration::from_millis(20));
        };
        let secs = started.elapsed().as_secs_f64();
        let records = crate::fleet::jsonl::read(&jsonl).map(|s| s.records).unwrap_or_default();
        let count = |v: &str| records.iter().filter(|r| crate::report::fleet::tls_enforced(r) == v).count();
        let errors = records.iter().filter(|r| r.exit_code(None) == crate::exit::TESTER_ERROR).count();
        let group = format!("fleet {n}");
        let finished = status.is_some() && records.len() == n;
        report.push(&group, "targets audited per second (--targets)", records.len() as f64 / secs, "/s");
        report.push(&group, "wall time", secs, "s");
        report.push(&group, "peak RSS of the auditing process", peak, "MiB");
        report.push(&group, "targets recorded / in the fleet", records.len() as f64 / n as f64, "").met =
            Some(finished);
        for v in ["yes", "no", "undetermined"] {
            report.push(&group, &format!("targets with TLS enforced: {v}"), count(v) as f64, "");
        }
        report.push(&group, "targets with tester errors", errors as f64, "").at_most(0.0, "0");
        for s in servers {
            rt.block_on(s.shutdown());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("pop3test-fleet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
