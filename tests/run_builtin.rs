//! The conformance suite (YAML scenarios and Rust checks) against the reference server, spawned
//! in-process: the correct server passes everything; each defect profile makes the checks that
//! name its requirement fail (and, for the narrow defects, only those).

use pop3test::net::session::{Credentials, Secret, StlsPolicy};
use pop3test::results::{CheckResult, Verdict};
use pop3test::runner::{self, Item};
use pop3test::server::{self, Defect, DefectSet, ServerConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Short enough that a hanging defect costs seconds, long enough for a loaded CI machine.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the built-in items (only those naming `only_req`, when given) against a fresh server.
async fn run_against(config: ServerConfig, stls: StlsPolicy, only_req: Option<&str>) -> Vec<CheckResult> {
    let handle = Arc::new(server::spawn(config).await.expect("spawn the reference server"));
    let items: Vec<Item> = match runner::builtin_items() {
        Ok(i) => i,
        Err(bad) => panic!("built-in scenarios do not load: {:?}", bad.iter().map(|b| &b.file).collect::<Vec<_>>()),
    };
    let items: Vec<Item> = match only_req {
        Some(req) => items.into_iter().filter(|i| i.info().requirements.iter().any(|r| r == req)).collect(),
        None => items,
    };
    let (mut env, reseed) = runner::builtin_env(&handle, TIMEOUT, None);
    env.stls = stls;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let outcome = runner::run_suite(items, env, 4, Some(reseed), rx).await;
    assert!(!outcome.incomplete);
    if let Ok(h) = Arc::try_unwrap(handle) {
        h.shutdown().await;
    }
    outcome.results
}

fn describe(r: &CheckResult) -> String {
    let loc = r.location.as_ref().map(|l| format!(" at {}:{}:{}", l.file, l.line, l.column)).unwrap_or_default();
    format!("{:?} {} [{}]{loc}: {}", r.verdict, r.id, r.requirements.join(" "), r.message.as_deref().unwrap_or(""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_passes_against_the_correct_server() {
    let started = Instant::now();
    let results = run_against(ServerConfig::default(), StlsPolicy::Auto, None).await;
    let elapsed = started.elapsed();
    let bad: Vec<String> = results
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::Pass | Verdict::Skip | Verdict::Xfail))
        .map(describe)
        .collect();
    assert!(bad.is_empty(), "against the correct server:\n{}", bad.join("\n"));
    // The built-in server offers everything the suite tests (RFC 6856 included) and reseeds for
    // the destructive checks: nothing is skipped.
    let skipped: Vec<String> = results.iter().filter(|r| r.verdict == Verdict::Skip).map(describe).collect();
    assert!(
        skipped.is_empty(),
        "skipped against the built-in server:
{}",
        skipped.join(
            "
"
        )
    );
    let scenarios = results.iter().filter(|r| r.location.is_some()).count();
    assert!(scenarios >= 15, "only {scenarios} scenarios ran");
    eprintln!("{} results ({scenarios} scenarios) in {elapsed:?}", results.len());
}

/// How the defects are checked: `Strict` when every failure must name the defect's requirement,
/// `Loose` when collateral failures are expected (a broken body framing breaks what follows).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Strict,
    Loose,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_defect_fails_the_checks_naming_its_requirement() {
    use Scope::*;
    // (defect, scope, cleartext logins allowed with --stls never). Left out: the audit's
    // findings (cleartext-login, user-enumeration) and no-capa (the probe cannot even learn about
    // STLS; it is the audit's A02).
    let table: &[(&str, Scope, bool)] = &[
        ("stls-injection", Strict, false),
        ("stls-twice", Strict, false),
        ("stls-readvertised", Strict, false),
        ("plaintext-after-stls-ok", Loose, false),
        ("stls-after-login", Loose, true),
        ("no-byte-stuffing", Loose, false),
        ("wrong-octets", Loose, false),
        ("bare-lf", Strict, false),
        ("lowercase-status", Strict, false),
        ("long-error-echo", Loose, false),
        ("number-wrap", Strict, false),
        ("lenient-args", Loose, false),
        ("dele-twice-ok", Strict, false),
        ("deleted-still-listed", Loose, false),
        ("rset-noop", Strict, false),
        ("abort-commits", Strict, false),
        ("uidl-unstable", Strict, false),
        ("uidl-bad-chars", Strict, false),
        ("pipelining-drop", Strict, false),
        ("wrong-state-ok", Strict, false),
        ("no-lock", Loose, false),
        ("capa-lies", Loose, false),
        ("bad-resp-code", Strict, false),
        ("apop-static-timestamp", Strict, false),
        ("crash-on-long-line", Loose, false),
        ("hang-on-bad-arg", Loose, false),
        ("greeting-too-long", Strict, false),
        ("expire-malformed", Strict, false),
        ("stat-counts-deleted", Loose, false),
        ("no-auth-code", Strict, false),
    ];
    let mut problems = Vec::new();
    // Four servers at a time: each suite is mostly waiting on loopback round trips.
    for chunk in table.chunks(4) {
        let mut set = tokio::task::JoinSet::new();
        for &(name, scope, cleartext) in chunk {
            set.spawn(async move {
                let defect: Defect = name.parse().expect("known defect");
                let config = ServerConfig {
                    defects: DefectSet::from(defect),
                    allow_cleartext: cleartext,
                    ..ServerConfig::default()
                };
                let stls = if cleartext { StlsPolicy::Never } else { StlsPolicy::Auto };
                // Loose rows only need "some check naming the requirement fails": run just those.
                let only = (scope == Loose).then(|| defect.requirement());
                (name, scope, defect.requirement(), run_against(config, stls, only).await)
            });
        }
        while let Some(joined) = set.join_next().await {
            let (name, scope, req, results) = joined.expect("suite task");
            let failed: Vec<&CheckResult> = results
                .iter()
                .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error | Verdict::Xpass))
                .collect();
            let naming =
                failed.iter().filter(|r| r.verdict == Verdict::Fail && r.requirements.iter().any(|x| x == req)).count();
            if naming == 0 {
                problems.push(format!(
                    "{name}: no failing check names {req}; failures: {:#?}",
                    failed.iter().map(|r| describe(r)).collect::<Vec<_>>()
                ));
            }
            if scope == Strict {
                for r in failed.iter().filter(|r| !r.requirements.iter().any(|x| x == req)) {
                    problems.push(format!("{name} ({req}) also failed: {}", describe(r)));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_results() {
    let handle = Arc::new(server::spawn(ServerConfig::default()).await.unwrap());
    let (env, reseed) = runner::builtin_env(
        &handle,
        TIMEOUT,
        Some(Credentials { user: "mrose".into(), password: Secret::new("tanstaaf") }),
    );
    // A failing login scenario: its message, expectations and transcript must not show the password.
    let text = "name: rfc1939/leak\ntitle: t\nrequirements: [1939-pass]\nrfc: [\"RFC 1939 §7\"]\nrequires: [credentials]\nsteps:\n  - connect:\n  - login:\n  - send: 'NOOP ${password}'\n    expect: { status: ok, text: '${password}' }\n";
    let s = pop3test::scenario::load::load_str("leak.yaml", text, None).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let out = runner::run_suite(vec![Item::Scenario(Arc::new(s))], env, 1, Some(reseed), rx).await;
    let r = out.results.iter().find(|r| r.id == "rfc1939/leak").unwrap();
    assert_eq!(r.verdict, Verdict::Fail, "{}", describe(r));
    let json = serde_json::to_string(r).unwrap();
    assert!(!json.contains("tanstaaf"), "{json}");
    assert!(json.contains("<redacted>"));
}

#[test]
fn every_item_id_is_unique_across_scenarios_and_checks() {
    let items = runner::builtin_items().unwrap_or_else(|bad| panic!("{} bad scenario files", bad.len()));
    let mut seen = std::collections::HashMap::new();
    let mut dups = Vec::new();
    for i in &items {
        let info = i.info();
        if let Some(kind) = seen.insert(info.id.clone(), info.kind) {
            dups.push(format!("{} ({} and {})", info.id, kind, info.kind));
        }
    }
    assert!(dups.is_empty(), "duplicate ids: {dups:?}");
}

/// A server that ends the session after a run of errors follows a legitimate policy (Dovecot
/// does, after 3 before login): nothing may fail for it, and scenarios it cuts short are skipped
/// with the policy named — never passed silently.
#[tokio::test]
async fn disconnect_after_errors_is_a_policy_not_a_failure() {
    let config = ServerConfig { defects: DefectSet::from(Defect::CloseAfterErrors), ..ServerConfig::default() };
    let results = run_against(config, StlsPolicy::Auto, None).await;
    let failed: Vec<String> =
        results.iter().filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error)).map(describe).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let skipped_for_policy = results
        .iter()
        .filter(|r| r.verdict == Verdict::Skip)
        .filter(|r| r.message.as_deref().unwrap_or("").contains("disconnect-after-errors policy"))
        .count();
    assert!(skipped_for_policy > 0, "no scenario named the policy");
}
