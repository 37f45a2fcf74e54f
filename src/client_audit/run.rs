//! Drives the attacks: binds the plain and implicit-TLS listeners, runs the client once per attack
//! (`--exec`) or waits for the user to point one at us (interactive), plays the attack, judges it,
//! and builds the [`Report`].

use super::attacks::Attack;
use super::judge::{judge, Behaviour, Observation};
use super::pki::Pki;
use super::session::{self, Limits};
use crate::results::{CheckResult, Report, RunKind, Verdict};
use crate::transcript::{Entry, Transcript};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Result-area name of every audit-client result.
pub const AREA: &str = "client audit";

/// How to run the audit; filled in from the command line by `cmd::audit_client`.
#[derive(Debug, Clone)]
pub struct Options {
    pub attacks: Vec<Attack>,
    /// Client command for the STLS attacks, run with `sh -c` after filling in the placeholders.
    pub exec: Option<String>,
    /// Client command for the implicit-TLS attacks (defaults to none: they are skipped in exec mode).
    pub exec_tls: Option<String>,
    pub listen: SocketAddr,
    pub tls_listen: SocketAddr,
    /// Longest time one attack may take, the client's run included; the client is killed after.
    pub timeout: Duration,
    /// Interactive mode: longest wait for the client to connect.
    pub wait: Duration,
    /// Where to write the trusted CA (`{ca}`); default: a file in the temp dir.
    pub ca_out: Option<PathBuf>,
    pub limits: Limits,
}

/// What one attack produced before judging.
struct Played {
    attack: Attack,
    obs: Observation,
    transcript: Vec<Entry>,
    skipped: Option<String>,
    note: Option<String>,
    duration: Duration,
}

/// `{host}` `{port}` `{tls_port}` `{ca}` `{attack}` filled in.
pub fn fill(template: &str, host: &str, port: u16, tls_port: u16, ca: &str, attack: Attack) -> String {
    template
        .replace("{host}", host)
        .replace("{tls_port}", &tls_port.to_string())
        .replace("{port}", &port.to_string())
        .replace("{ca}", ca)
        .replace("{attack}", attack.name())
}

/// Where the attacks listen, and what a client command is told.
struct Venue {
    plain: TcpListener,
    implicit: TcpListener,
    host: String,
    port: u16,
    tls_port: u16,
    /// Path of the trusted CA's PEM file (`{ca}`).
    ca: String,
}

/// Runs every attack; `progress` gets one line per step (stderr in the CLI).
pub async fn run(opts: &Options, progress: &mut dyn FnMut(String)) -> io::Result<Report> {
    let started = Instant::now();
    let pki = Pki::generate()?;
    let ca_path = opts
        .ca_out
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("pop3test-audit-client-{}.pem", std::process::id())));
    std::fs::write(&ca_path, &pki.ca_pem)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", ca_path.display())))?;
    let result = run_attacks(opts, &pki, ca_path.display().to_string(), progress).await;
    if opts.ca_out.is_none() {
        let _ = std::fs::remove_file(&ca_path);
    }
    let (played, target) = result?;
    Ok(report(&played, &target, started.elapsed()))
}

async fn run_attacks(
    opts: &Options,
    pki: &Pki,
    ca: String,
    progress: &mut dyn FnMut(String),
) -> io::Result<(Vec<Played>, String)> {
    let plain = TcpListener::bind(opts.listen).await?;
    let implicit = TcpListener::bind(opts.tls_listen).await?;
    let (port, tls_port) = (plain.local_addr()?.port(), implicit.local_addr()?.port());
    let host = plain.local_addr()?.ip().to_string();
    let venue = Venue { plain, implicit, host, port, tls_port, ca };
    if opts.exec.is_none() {
        progress(format!(
            "audit-client: point the client at pop3://{h}:{port} (STLS) or pop3s://{h}:{tls_port} (implicit TLS), trusting {}",
            venue.ca,
            h = venue.host,
        ));
    }
    let mut played = Vec::new();
    for (i, &attack) in opts.attacks.iter().enumerate() {
        let n = format!("[{}/{}] {}", i + 1, opts.attacks.len(), attack.name());
        let p = play_one(opts, &venue, pki, attack, &n, progress).await?;
        let outcome = match &p.skipped {
            Some(_) => "skipped (no --exec-tls)".to_string(),
            None => judge(attack, &p.obs, None).name().to_string(),
        };
        progress(format!("{n}: {outcome}"));
        played.push(p);
    }
    Ok((played, format!("audit-client pop3://{}:{}", venue.host, venue.port)))
}

/// One attack: start the client (or wait for one), serve its connection under the timeout, kill
/// it, and drop any further connections it queued.
async fn play_one(
    opts: &Options,
    venue: &Venue,
    pki: &Pki,
    attack: Attack,
    n: &str,
    progress: &mut dyn FnMut(String),
) -> io::Result<Played> {
    let plan = attack.plan();
    let (listener, port) = if plan.implicit { (&venue.implicit, venue.tls_port) } else { (&venue.plain, venue.port) };
    let t0 = Instant::now();
    let mut p = Played {
        attack,
        obs: Observation::default(),
        transcript: Vec::new(),
        skipped: None,
        note: None,
        duration: Duration::ZERO,
    };
    let template = if plan.implicit { opts.exec_tls.as_deref() } else { opts.exec.as_deref() };
    let mut child = match (&opts.exec, template) {
        (Some(_), None) => {
            p.skipped = Some("implicit-TLS attack and no --exec-tls command for a pop3s client".into());
            return Ok(p);
        }
        (Some(_), Some(tpl)) => {
            let cmd = fill(tpl, &venue.host, port, venue.tls_port, &venue.ca, attack);
            let child = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| io::Error::new(e.kind(), format!("--exec: cannot start sh: {e}")))?;
            progress(format!("{n}: running the client"));
            Some(child)
        }
        (None, _) => {
            let scheme = if plan.implicit { "pop3s" } else { "pop3" };
            progress(format!("{n}: waiting for a connection to {scheme}://{}:{port} ...", venue.host));
            None
        }
    };
    let wait = if child.is_some() { opts.timeout } else { opts.wait };
    let mut t = Transcript::new();
    let accepted = match child.as_mut() {
        Some(c) => tokio::select! {
            a = tokio::time::timeout(wait, listener.accept()) => a.ok().transpose()?,
            status = c.wait() => {
                // The client may have connected and then exited: a queued connection is
                // accepted at once, so poll the backlog once without waiting.
                p.note = Some(format!("client exited before being served ({})", status?));
                tokio::time::timeout(Duration::ZERO, listener.accept()).await.ok().transpose()?
            }
        },
        None => tokio::time::timeout(wait, listener.accept()).await.ok().transpose()?,
    };
    if let Some((tcp, _)) = accepted {
        let left = opts.timeout.saturating_sub(t0.elapsed()).max(Duration::from_secs(1));
        let r = tokio::time::timeout(left, session::play(tcp, &plan, pki, opts.limits, &mut p.obs, &mut t)).await;
        match r {
            Err(_) => t.note(p.obs.tls_established, "attack timed out; connection closed"),
            Ok(Err(e)) => t.note(p.obs.tls_established, format!("connection error: {e}")),
            Ok(Ok(())) => {}
        }
    }
    if let Some(mut c) = child {
        let _ = c.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), c.wait()).await;
    }
    // A retrying client may have queued more connections: drop them, so the next attack
    // gets its own client's (bounded: a backlog is finite, and this is not a wait).
    for _ in 0..32 {
        match tokio::time::timeout(Duration::ZERO, listener.accept()).await {
            Ok(Ok(_)) => t.note(false, "dropped an extra connection from this client"),
            _ => break,
        }
    }
    p.transcript = t.take();
    p.duration = t0.elapsed();
    Ok(p)
}

fn report(played: &[Played], target: &str, took: Duration) -> Report {
    let mut baseline: HashMap<Attack, bool> = HashMap::new();
    for p in played.iter().filter(|p| p.skipped.is_none()) {
        if p.attack == p.attack.baseline() {
            baseline.insert(p.attack, judge(p.attack, &p.obs, None) == Behaviour::Baseline);
        }
    }
    let mut r = Report::new(RunKind::AuditClient, target);
    r.duration_ms = took.as_secs_f64() * 1000.0;
    for p in played {
        r.results.push(result(p, baseline.get(&p.attack.baseline()).copied()));
    }
    r.summary = Some(summary(&r.results));
    r
}

fn result(p: &Played, baseline_ok: Option<bool>) -> CheckResult {
    let id = format!("client/{}", p.attack.name());
    if let Some(why) = &p.skipped {
        let mut c = CheckResult::new(id, p.attack.title(), AREA, Verdict::Skip);
        c.message = Some(why.clone());
        return c;
    }
    let b = judge(p.attack, &p.obs, baseline_ok);
    let verdict = if b.severity().is_some() {
        Verdict::Fail
    } else if b.is_error() {
        Verdict::Error
    } else {
        Verdict::Pass
    };
    let mut c = CheckResult::new(id, p.attack.title(), AREA, verdict);
    c.severity = b.severity();
    c.rfc_refs = b.rfc_refs(p.attack).into_iter().map(String::from).collect();
    c.references = b.references().into_iter().map(String::from).collect();
    c.remediation = b.remediation().map(String::from);
    c.expected = Some(expected(p.attack).into());
    c.actual = Some(describe(&p.obs));
    let mut msg = b.name().to_string();
    if let Some(n) = &p.note {
        msg += &format!(" ({n})");
    }
    c.message = Some(msg);
    c.transcript = p.transcript.clone();
    c.duration_ms = p.duration.as_secs_f64() * 1000.0;
    c
}

fn expected(attack: Attack) -> &'static str {
    match attack {
        Attack::Honest | Attack::HonestImplicit => "TLS with the trusted certificate, then a login inside TLS",
        Attack::Inject | Attack::InjectCapa => "the injected bytes discarded, or the connection closed",
        Attack::CapaTamper => "CAPA re-issued inside TLS and only its capabilities used",
        _ => "the connection closed without a secret sent",
    }
}

/// What the client did, in one line: `cleartext: CAPA STLS; TLS: yes; inside TLS: CAPA USER PASS`.
fn describe(o: &Observation) -> String {
    if !o.connected {
        return "no connection".into();
    }
    let mut s = format!("cleartext: {}", list(&o.cleartext_commands));
    match (&o.handshake_error, o.tls_established) {
        (_, true) => s += &format!("; TLS: yes; inside TLS: {}", list(&o.tls_commands)),
        (Some(e), false) => s += &format!("; TLS handshake failed: {e}"),
        (None, false) => s += "; TLS: no",
    }
    s
}

fn list(cmds: &[String]) -> String {
    if cmds.is_empty() {
        "(nothing)".into()
    } else {
        cmds.join(" ")
    }
}

/// "client safe: no, because ..." / "yes" / "undetermined".
fn summary(results: &[CheckResult]) -> String {
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .map(|r| format!("{} ({})", r.message.as_deref().unwrap_or_default(), r.id.trim_start_matches("client/")))
        .collect();
    if !failed.is_empty() {
        return format!("client safe: no, because {}", failed.join("; "));
    }
    let errors: Vec<&str> =
        results.iter().filter(|r| r.verdict == Verdict::Error).map(|r| r.id.trim_start_matches("client/")).collect();
    if !errors.is_empty() {
        return format!("client safe: undetermined, because {} could not be judged", errors.join(", "));
    }
    let skipped: Vec<&str> =
        results.iter().filter(|r| r.verdict == Verdict::Skip).map(|r| r.id.trim_start_matches("client/")).collect();
    let mut yes = "client safe: yes, it failed safe or resisted every attack played".to_string();
    if !skipped.is_empty() {
        yes += &format!(" (not played: {})", skipped.join(", "));
    }
    yes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled() {
        let s = fill("c {host}:{port} {tls_port} --ca {ca} # {attack}", "127.0.0.1", 1, 2, "/x.pem", Attack::Strip);
        assert_eq!(s, "c 127.0.0.1:1 2 --ca /x.pem # strip");
    }
}
