//! The audit as one call: every probe runs concurrently, each on its own connections and within
//! its own bounds (see [`Waits`]); then the pure `decide_*` functions turn what was observed into
//! the findings A01–A18, and [`verdict::summary`] into the verdict line. The result is one
//! [`Report`] of kind `audit`, rendered afterwards by any report format.

use super::check::{CheckId, Finding, Outcome};
use super::dial::{self, Ctx, Waits};
use super::tls_scan::{self, Side};
use super::{cert, certs, fixation, implicit, injection, login, mechs, stls, verdict};
use crate::net::session::Credentials;
use crate::net::Target;
use crate::results::{Report, RunKind, ServerInfo};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to audit and how.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The plain (STLS) port, `pop3://host:port`.
    pub target: Target,
    /// The implicit-TLS port (`pop3s://host:995`), or `None` to skip A13/A14's probes.
    pub implicit: Option<Target>,
    /// Test credentials; without them A03, A07 and A15 are skipped with the reason.
    pub creds: Option<Credentials>,
    /// Trust anchors for A12 (PEM); `None`: Mozilla's roots.
    pub ca_file: Option<PathBuf>,
    /// Name sent as SNI and checked against the certificate (default: the target's host).
    pub server_name: Option<String>,
    pub waits: Waits,
}

impl AuditConfig {
    /// Audits `target` with implicit TLS on 995 of the same host and default bounds.
    pub fn new(target: Target) -> AuditConfig {
        let implicit = Some(Ctx::implicit_on(&target, 995));
        AuditConfig { target, implicit, creds: None, ca_file: None, server_name: None, waits: Waits::default() }
    }
}

/// Runs `fut` and returns its output with its duration in milliseconds.
async fn timed<T>(fut: impl Future<Output = T>) -> (T, f64) {
    let start = Instant::now();
    let out = fut.await;
    (out, start.elapsed().as_secs_f64() * 1000.0)
}

/// How long one ClientHello probe may wait for its answer: a server replies within a round trip,
/// but some never answer a version they do not speak, and 14 probes per port run in series.
fn hello_wait(waits: &Waits) -> Duration {
    waits.step.min(Duration::from_secs(3))
}

/// Runs the whole audit.
pub async fn run(cfg: &AuditConfig) -> Report {
    let started = Instant::now();
    let mut report = Report::new(RunKind::Audit, cfg.target.to_string());
    let mut ctx = Ctx::new(cfg.target.clone(), cfg.implicit.clone(), cfg.creds.clone(), cfg.waits.clone());
    ctx.opts.tls.server_name = cfg.server_name.clone();
    // Servers serve a bounded number of connections at once and queue the rest: find the bound
    // first, so that probes wait for one another instead of timing out in the server's queue.
    // 3 s: a loaded machine greets late, and an undercount only makes the audit slower.
    let greeted = dial::capacity(&ctx, cfg.waits.step.min(Duration::from_secs(3))).await;
    if greeted == 0 {
        // Not one greeting: try once more with the full step (and a connection limit's retries).
        // A server that greets nobody cannot be audited, and each probe waiting its timeout in
        // turn through a single slot used to spend the whole --deadline (10 min by default) to
        // say only that the deadline passed.
        match crate::net::session::connect_greeted(&ctx.target, &ctx.opts).await {
            Ok((conn, _)) => drop(tokio::time::timeout(dial::QUIT_WAIT, conn.close(false)).await),
            Err(e) => return no_greeting(cfg, &e, started),
        }
    }
    let capacity = greeted.max(1);
    ctx.set_slots(capacity);
    let ctx = &ctx;
    let hello = hello_wait(&cfg.waits);
    let user = cfg.creds.as_ref().map(|c| c.user.as_str());

    let logins = async {
        let creds = ctx.creds.as_ref()?;
        let obs = login::observe(ctx, creds).await;
        let a07 = login::observe_a07(ctx, creds, &obs).await;
        Some((obs, a07))
    };
    let implicit_scan = async {
        match &ctx.implicit {
            Some(t) => Some(tls_scan::scan_implicit(ctx, t, hello).await),
            None => None,
        }
    };
    let (
        (base, t_base),
        (a06, t_a06),
        (logins, t_login),
        (mech, t_mech),
        ((stamps, stamp_ev), t_stamps),
        (imp, t_imp),
        (scan_stls, t_scan_stls),
        (scan_imp, t_scan_imp),
        (a15, t_a15),
        (a18, t_a18),
    ) = tokio::join!(
        // Boxed: each probe's state machine is large, and nine of them inline would overflow a
        // test thread's stack in debug builds.
        timed(Box::pin(stls::observe(ctx))),
        timed(Box::pin(injection::finding(ctx))),
        timed(Box::pin(logins)),
        timed(Box::pin(mechs::observe(ctx))),
        timed(Box::pin(mechs::greetings(ctx, cfg.waits.greetings))),
        timed(Box::pin(implicit::observe(ctx))),
        timed(Box::pin(tls_scan::scan_stls(ctx, hello))),
        timed(Box::pin(implicit_scan)),
        timed(Box::pin(login::a15(ctx, user))),
        timed(Box::pin(fixation::finding(ctx))),
    );

    let mut out: Vec<(Finding, f64)> = Vec::new();
    let a03 = match &logins {
        Some((obs, _)) => Finding::new(CheckId::A03, login::decide_a03(obs)).with_evidence(obs.evidence.clone()),
        None => Finding::new(CheckId::A03, login::a03_without_credentials()),
    };
    for f in stls::findings(&base, &a03.outcome) {
        out.push((f, t_base));
    }
    let a04 = mechs::decide_a04(base.capa_pre.as_ref(), &a03.outcome);
    out.push((Finding::new(CheckId::A04, a04).with_evidence(base.evidence.clone()), t_base));
    out.push((a06, t_a06));
    let apop_before_tls = logins.as_ref().and_then(|(obs, _)| apop_result(obs));
    let a07 = match &logins {
        Some((_, (seen, ev))) => Finding::new(CheckId::A07, login::decide_a07(seen)).with_evidence(ev.clone()),
        None => Finding::new(
            CheckId::A07,
            Outcome::Skip(
                "no credentials (--user with --password-env): could not log in to try STLS after login".into(),
            ),
        ),
    };
    out.push((a03, t_login));
    out.push((a07, t_login));
    let mut stamps = stamps;
    if base.greeting.is_some() {
        stamps.push(base.timestamp.clone());
    }
    for f in mechs::findings(&mech, base.timestamp.is_some(), apop_before_tls, &stamps, &stamp_ev) {
        let t = if f.id == CheckId::A05 { t_mech } else { t_stamps };
        out.push((f, t));
    }

    // TLS posture: only ports where TLS works are judged.
    let stls_label = scan_stls.label.clone();
    let mut scans = Vec::new();
    if base.works() {
        scans.push(&scan_stls);
    }
    if let Some(s) = scan_imp.as_ref().filter(|_| imp.is_up()) {
        scans.push(s);
    }
    for f in tls_scan::findings(&scans) {
        out.push((f, t_scan_stls.max(t_scan_imp)));
    }
    let stls_chain = base.tls.as_ref().map(|t| &t.peer_chain[..]);
    let imp_chain = imp.tls.as_ref().map(|t| &t.peer_chain[..]);
    let chains = [(stls_label.clone(), stls_chain), (imp.label(), imp_chain)];
    let host = cfg.server_name.clone().unwrap_or_else(|| cfg.target.host.clone());
    let roots = cert::load_roots(cfg.ca_file.as_deref()).map_err(|e| e.to_string());
    let (a12, cert_reports) = certs::finding(&chains, &host, roots);
    out.push((a12, t_base.max(t_imp)));
    out.push((implicit::finding(&imp), t_imp));
    let sha: HashMap<&str, String> =
        cert_reports.iter().filter_map(|(l, r)| r.leaf_sha256().map(|s| (l.as_str(), s.to_string()))).collect();
    let side_stls = (base.works() && scan_stls.reached()).then(|| Side {
        posture: scan_stls.posture(sha.get(stls_label.as_str()).cloned()),
        capa: base.capa_post.as_ref(),
    });
    let side_imp = scan_imp
        .as_ref()
        .filter(|s| imp.is_up() && s.reached())
        .map(|s| Side { posture: s.posture(sha.get(imp.label().as_str()).cloned()), capa: imp.capa.as_ref() });
    let mut a14_ev = scan_stls.evidence();
    if let Some(s) = &scan_imp {
        a14_ev.extend(&s.evidence());
    }
    out.push((Finding::new(CheckId::A14, tls_scan::decide_a14(side_stls, side_imp)).with_evidence(a14_ev), t_scan_imp));
    out.push((a15, t_a15));
    out.push((a18, t_a18));

    let mut sources: Vec<(String, String)> = Vec::new();
    let mut add = |what: String, text: Option<&str>| {
        if let Some(t) = text.filter(|t| !sources.iter().any(|(_, s)| s == t)) {
            sources.push((what, t.to_string()));
        }
    };
    add("greeting".into(), base.greeting.as_ref().map(|g| g.text.as_str()));
    add("IMPLEMENTATION".into(), base.capa_pre.as_ref().and_then(|c| c.implementation()));
    add("IMPLEMENTATION inside TLS".into(), base.capa_post.as_ref().and_then(|c| c.implementation()));
    add(format!("{} greeting", imp.label()), imp.greeting.as_ref().map(|g| g.text.as_str()));
    add(format!("{} IMPLEMENTATION", imp.label()), imp.capa.as_ref().and_then(|c| c.implementation()));
    let refs: Vec<(&str, &str)> = sources.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    out.push((Finding::new(CheckId::A16, mechs::decide_a16(&refs)).with_evidence(base.evidence.clone()), t_base));

    out.sort_by_key(|(f, _)| f.id);
    let findings: Vec<Finding> = out.iter().map(|(f, _)| f.clone()).collect();
    report.summary = Some(verdict::summary(&findings));
    report.server = ServerInfo {
        greeting: base.greeting.as_ref().map(|g| g.text.clone()),
        implementation: base.capa_pre.as_ref().and_then(|c| c.implementation().map(str::to_string)),
        capabilities: base.capa_pre.as_ref().map(|c| c.lines.clone()).unwrap_or_default(),
    };
    report.results = out.into_iter().map(|(f, t)| f.into_result(t)).collect();
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut notes = Vec::new();
    if capacity < dial::MAX_SLOTS {
        notes.push(format!(
            "the server served {capacity} connection(s) at once (of {} tried), so the probes queued",
            dial::MAX_SLOTS
        ));
    }
    notes.extend(super::timing::note(&report.results));
    if let (Some(s), false) = (&mut report.summary, notes.is_empty()) {
        s.push_str(&format!(" (time: {})", notes.join("; ")));
    }
    report
}

/// Runs the whole audit within `deadline`. Every probe is bounded on its own; this is the backstop
/// for the whole, and a server too slow for it gives a report holding that error, marked
/// incomplete, instead of no report.
pub async fn run_within(cfg: &AuditConfig, deadline: Duration) -> Report {
    match tokio::time::timeout(deadline, run(cfg)).await {
        Ok(r) => r,
        Err(_) => {
            let why = format!(
                "the audit did not finish within --deadline {}: the server answered too slowly for its probes",
                humantime::format_duration(deadline)
            );
            let mut report = Report::new(RunKind::Audit, cfg.target.to_string());
            let mut r = crate::results::CheckResult::new(
                "pop3test/deadline",
                "The audit finishes within --deadline",
                "setup",
                crate::results::Verdict::Error,
            );
            r.message = Some(why.clone());
            report.results.push(r);
            report.summary = Some(why);
            report.incomplete = true;
            report.duration_ms = deadline.as_secs_f64() * 1000.0;
            report
        }
    }
}

/// The report of an audit that could not start: the server sent no greeting (`e` says how).
fn no_greeting(cfg: &AuditConfig, e: &crate::net::NetError, started: Instant) -> Report {
    let mut report = Report::new(RunKind::Audit, cfg.target.to_string());
    let why = format!("the server sent no greeting ({e}), so nothing could be probed");
    let mut r = crate::results::CheckResult::new(
        "pop3test/greeting",
        "The server greets a new connection",
        "setup",
        crate::results::Verdict::Error,
    );
    r.message = Some(why.clone());
    report.results.push(r);
    report.summary = Some(format!("TLS enforced: undetermined, because {why}"));
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    report
}

/// APOP before TLS as A03 found it: accepted, refused (or not offered), or not decided.
fn apop_result(obs: &login::LoginObservation) -> Option<bool> {
    obs.attempts.iter().find(|(m, _)| *m == crate::net::session::LoginMethod::Apop).and_then(|(_, a)| match a {
        login::Attempt::Accepted => Some(true),
        login::Attempt::Refused | login::Attempt::NotOffered(_) => Some(false),
        login::Attempt::Inconclusive(_) => None,
    })
}
