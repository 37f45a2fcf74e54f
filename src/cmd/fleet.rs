//! `pop3test audit --targets FILE`: the audit of a fleet. Reads and checks the whole targets file
//! (and every password variable it names) before dialling anything, takes this worker's shard,
//! skips what `--resume` already holds, then audits the rest through [`crate::fleet::run`],
//! appending each target's record to the JSONL stream as it finishes and showing progress on a
//! terminal. At the end: the fleet matrix, the other `--report`/`--matrix` files, and the exit
//! code of the whole fleet (new and resumed records alike).

use crate::audit::dial::Waits;
use crate::audit::AuditConfig;
use crate::cli::audit::AuditArgs;
use crate::cli::GlobalArgs;
use crate::exit;
use crate::fleet::run::{self as fleet_run, End, Job, Limits};
use crate::fleet::{jsonl, merge, targets, FleetTarget, LineDefaults};
use crate::net::session::{Credentials, Secret};
use crate::report::{self, Format, ReportError, ReportSpec};
use crate::results::{Report, Severity, Verdict};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::Path;

/// Runs `audit --targets`; returns the exit code.
pub async fn main(args: AuditArgs, global: &GlobalArgs) -> i32 {
    match fleet(args, global).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}

/// Reads the targets file (`-`: standard input) and returns its text and the name messages use.
fn read_targets(path: &Path) -> Result<(String, String), String> {
    if path == Path::new("-") {
        let text =
            std::io::read_to_string(std::io::stdin()).map_err(|e| format!("cannot read targets from stdin: {e}"))?;
        return Ok((text, "<stdin>".into()));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the targets file {}: {e}", path.display()))?;
    Ok((text, path.display().to_string()))
}

/// The account a line audits with: its own `user=`/`password-env=`, else the command line's.
fn creds_of(t: &FleetTarget, file: &str, default: &Option<Credentials>) -> Result<Option<Credentials>, String> {
    match (&t.user, &t.password_env) {
        (Some(user), Some(var)) => match std::env::var(var) {
            Ok(pw) => Ok(Some(Credentials { user: user.clone(), password: Secret::new(pw) })),
            Err(_) => {
                Err(format!("{file}:{}: password-env={var}: the environment variable `{var}` is not set", t.line))
            }
        },
        _ => Ok(default.clone()),
    }
}

async fn fleet(args: AuditArgs, global: &GlobalArgs) -> Result<i32, String> {
    let path = args.targets.clone().ok_or("--targets FILE is needed")?;
    let (text, file) = read_targets(&path)?;
    let defaults = LineDefaults { tls_port: args.tls_port.unwrap_or(995), no_implicit: args.no_implicit };
    let all = match targets::parse(&text, &file, defaults) {
        Ok(t) => t,
        Err(diags) => {
            for d in &diags {
                eprint!("{}", d.render(&text));
                eprintln!();
            }
            return Err(format!("{file}: {} mistake(s) in the targets file; nothing was audited", diags.len()));
        }
    };
    let total = all.len();
    let mine: Vec<FleetTarget> = match args.shard {
        Some(s) => all.into_iter().filter(|t| s.contains(&t.key)).collect(),
        None => all,
    };
    let default_creds = args.creds.resolve()?;
    // 8 at once: an audit spends most of its second waiting on the server (quiet and peek
    // windows, login delays), so a handful per core keeps both busy; 1 per host, as --per-host says.
    let (jobs_at_once, per_host) = (args.jobs.unwrap_or(8).max(1), args.per_host.unwrap_or(1).max(1));

    let mut streams = args.reports.iter().filter(|s| s.format == Format::Jsonl);
    let stream_spec = streams.next().cloned();
    if streams.next().is_some() {
        return Err("--report jsonl=PATH may be given once with --targets (the stream of records)".into());
    }
    for m in &args.matrices {
        report::fleet::render(m.format, &[]).map_err(|e| e.to_string())?;
    }

    // What an earlier run of this fleet already recorded.
    let mut earlier = jsonl::Stream::default();
    if let Some(p) = &args.resume {
        match jsonl::read(p) {
            Ok(s) => earlier = s,
            Err(ReportError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("--resume: {e}")),
        }
        if earlier.dropped_tail && !global.quiet {
            eprintln!("note: the last record of {} was cut short; its target is audited again", p.display());
        }
    }
    let wanted: HashSet<&str> = mine.iter().map(|t| t.key.as_str()).collect();
    let (resumed, _) =
        merge::dedupe(earlier.records.into_iter().filter(|r| wanted.contains(r.target.as_str())).collect());
    let have: HashSet<String> = resumed.iter().map(|r| r.target.clone()).collect();

    let waits = Waits::from_step(args.conn.timeout);
    let mut jobs = Vec::new();
    for t in mine.iter().filter(|t| !have.contains(&t.key)) {
        let cfg = AuditConfig {
            target: t.plain.clone(),
            implicit: t.implicit.clone(),
            creds: creds_of(t, &file, &default_creds)?,
            ca_file: args.conn.ca_file.clone(),
            server_name: args.conn.server_name.clone(),
            waits: waits.clone(),
        };
        jobs.push(Job { key: t.key.clone(), cfg });
    }

    // The stream: appended to the resumed file when it is the same one (or none other is named).
    let stream_path = stream_spec.as_ref().map(|s| s.path.clone()).or_else(|| args.resume.clone());
    let mut writer = match &stream_path {
        None => None,
        Some(p) => {
            let same = args.resume.as_ref().is_some_and(|r| same_file(r, p));
            let w = if same && p.exists() {
                jsonl::Writer::append_after(p, earlier.complete_len)
            } else {
                jsonl::Writer::create(p)
            };
            Some(w.map_err(|e| format!("cannot write the JSONL stream {}: {e}", p.display()))?)
        }
    };

    if !global.quiet {
        let shard = args.shard.map(|s| format!(", shard {s} of the {total} in {file}")).unwrap_or_default();
        eprintln!(
            "auditing {} target(s){shard}: {} already recorded, {} to go ({} at once, {} per host)",
            mine.len(),
            resumed.len(),
            jobs.len(),
            jobs_at_once,
            per_host
        );
    }
    let mut progress = Progress::new(!global.quiet && std::io::stderr().is_terminal(), mine.len(), &resumed);
    let limits = Limits { jobs: jobs_at_once, per_host, deadline: args.conn.deadline, resolve: args.conn.timeout };
    // Whole records stay in memory only when a merged report needs them and there is no stream
    // to read them back from: the transcripts are most of a record (~100 KiB for an audit), and
    // the matrix, the totals and the exit code need none of them.
    let end_specs: Vec<ReportSpec> = args.reports.iter().filter(|s| s.format != Format::Jsonl).cloned().collect();
    let keep_whole = !end_specs.is_empty() && stream_path.is_none();
    let resumed: Vec<Report> = resumed.into_iter().map(slim).collect();
    let mut fresh: Vec<Report> = Vec::new();
    let on_done = |r: Report| -> std::io::Result<()> {
        if let Some(w) = writer.as_mut() {
            w.write(&r).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", w.path().display())))?;
        }
        progress.record(&r);
        fresh.push(if keep_whole { r } else { slim(r) });
        Ok(())
    };
    let cancel = async {
        let _ = super::serve::stop_signal().await;
    };
    let end = fleet_run::run(jobs, limits, on_done, cancel).await;
    progress.finish();
    let end = end.map_err(|e| format!("cannot record the results, so the fleet audit stopped: {e}"))?;

    let (records, _) = merge::dedupe(resumed.into_iter().chain(fresh).collect());
    if global.quiet {
        println!("{}", report::fleet::totals(&records));
    } else {
        print!("{}", report::fleet::render(Format::Table, &records).map_err(|e| e.to_string())?);
    }
    let whole = match (&stream_path, end_specs.is_empty() || keep_whole) {
        (Some(p), false) => {
            let s = jsonl::read(p).map_err(|e| format!("cannot read back {}: {e}", p.display()))?;
            merge::dedupe(s.records.into_iter().filter(|r| wanted.contains(r.target.as_str())).collect()).0
        }
        _ => Vec::new(),
    };
    let full = if whole.is_empty() { &records } else { &whole };
    if let Err(e) = write_outputs(full, &end_specs, &args.matrices) {
        eprintln!("error: {e}");
        return Ok(exit::TESTER_ERROR);
    }
    if let End::Cancelled { in_flight } = end {
        let again = stream_path.map(|p| format!("; --resume {} audits the rest", p.display())).unwrap_or_default();
        eprintln!("interrupted: {in_flight} audit(s) in flight were not recorded{again}");
        return Ok(exit::TESTER_ERROR);
    }
    Ok(merge::exit_code(&records, args.fail_on.0))
}

/// A record without its evidence (transcripts), for the totals, the matrix and the exit code.
fn slim(mut r: Report) -> Report {
    for c in &mut r.results {
        c.transcript = Vec::new();
    }
    r
}

/// True when both paths name the same file (or the same path, when it does not exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The end-of-run files of a fleet (`audit --targets`, `report merge`): each `--report` as the
/// merged report (jsonl: the records themselves, one per target), each `--matrix` as the matrix.
pub fn write_outputs(records: &[Report], reports: &[ReportSpec], matrices: &[ReportSpec]) -> Result<(), ReportError> {
    let merged = merge::combine(records);
    for spec in reports {
        let bytes = match spec.format {
            Format::Jsonl => {
                let mut s = String::new();
                for r in records {
                    s.push_str(
                        &report::json::render_line(r)
                            .map_err(|e| ReportError::Render { format: spec.format, why: e.to_string() })?,
                    );
                }
                s.into_bytes()
            }
            f => report::render(f, &merged, &report::RenderOptions::default())?,
        };
        write(spec, &bytes)?;
    }
    for spec in matrices {
        write(spec, report::fleet::render(spec.format, records)?.as_bytes())?;
    }
    Ok(())
}

fn write(spec: &ReportSpec, bytes: &[u8]) -> Result<(), ReportError> {
    report::write_atomic(&spec.path, bytes).map_err(|source| ReportError::Write {
        format: spec.format,
        path: spec.path.clone(),
        source,
    })
}

/// The progress bar: targets done of the shard, findings above info so far, tester errors, ETA.
/// Shown only on a terminal: in CI, stderr is a log and a bar is noise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    findings: usize,
    errors: usize,
}

impl Progress {
    fn new(show: bool, total: usize, resumed: &[Report]) -> Progress {
        let mut p = Progress { bar: None, findings: 0, errors: 0 };
        for r in resumed {
            p.count(r);
        }
        if show {
            let bar = indicatif::ProgressBar::new(total as u64);
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} targets, {msg}, ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_position(resumed.len() as u64);
            bar.reset_eta();
            bar.set_message(p.message());
            bar.enable_steady_tick(std::time::Duration::from_millis(250));
            p.bar = Some(bar);
        }
        p
    }

    fn count(&mut self, r: &Report) {
        let fails = |c: &&crate::results::CheckResult| c.verdict == Verdict::Fail && c.severity > Some(Severity::Info);
        self.findings += r.results.iter().filter(fails).count();
        self.errors += usize::from(r.results.iter().any(|c| c.verdict == Verdict::Error));
    }

    fn message(&self) -> String {
        format!("{} finding(s), {} target(s) with errors", self.findings, self.errors)
    }

    fn record(&mut self, r: &Report) {
        self.count(r);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(self.message());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
