//! RFC 6856 UTF8 and LANG on the reference server (on by default): every rfc6856 scenario passes
//! against the correct server, and each one has a defect that makes it, and nothing else in the
//! whole suite, fail (one exception, [`TRANSCODES_ALSO`]). Without RFC 6856 (`--no-utf8`) they
//! are skipped with the reason.

use pop3test::results::{CheckResult, Verdict};
use pop3test::runner::{self, Item};
use pop3test::server::{self, Defect, DefectSet, ServerConfig};
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

/// The checks `utf8-transcodes` also fails, rightly: re-encoding breaks RFC 1939 §11's exact octet
/// count, and every check that compares LIST with RETR in UTF-8 mode sees it (each names
/// `1939-octets`). `utf8-8bit-sizes` is the one that asks it of RFC 6856 §2.1.
const TRANSCODES_ALSO: &[&str] = &["rfc1939/list-matches-retr", "rfc1939/retr-8bit-body", "rfc1939/list-octets"];

/// Each rfc6856 scenario and the defect that breaks the rule it checks, the way real servers do.
const DEFECTS: &[(Defect, &str)] = &[
    (Defect::Utf8EightBitAsIs, "rfc6856/utf8-mode-off-no-8bit-as-is"),
    (Defect::Utf8CapaImapStyle, "rfc6856/utf8-capability-syntax"),
    (Defect::Utf8CapaChangesAfterLogin, "rfc6856/utf8-capability-both-states"),
    (Defect::Utf8SkipsAuthorization, "rfc6856/utf8-in-authorization"),
    (Defect::Utf8AcceptsArgument, "rfc6856/utf8-with-argument"),
    (Defect::Utf8AfterLoginOk, "rfc6856/utf8-refused-after-login"),
    (Defect::Utf8BreaksLogin, "rfc6856/utf8-then-login"),
    (Defect::Utf8Transcodes, "rfc6856/utf8-8bit-sizes"),
    (Defect::Utf8LossyCredentials, "rfc6856/utf8-user-invalid-utf8-rejected"),
    (Defect::LangCapaAfterLoginOnly, "rfc6856/lang-capability-both-states"),
    (Defect::LangListingBlankLine, "rfc6856/lang-listing"),
    (Defect::LangReplyNoTag, "rfc6856/lang-select-offered"),
    (Defect::LangAfterLoginResets, "rfc6856/lang-in-transaction"),
    (Defect::LangUnknownFallsBack, "rfc6856/lang-unknown-range"),
    (Defect::LangLocaleNames, "rfc6856/lang-invalid-argument"),
];

fn items(only_rfc6856: bool) -> Vec<Item> {
    let items = match runner::builtin_items() {
        Ok(i) => i,
        Err(bad) => panic!("built-in scenarios do not load: {:?}", bad.iter().map(|b| &b.file).collect::<Vec<_>>()),
    };
    items.into_iter().filter(|i| !only_rfc6856 || i.info().id.starts_with("rfc6856/")).collect()
}

/// Runs `items` against a fresh server built from `config`, reseeding between destructive ones.
async fn run(config: ServerConfig, items: Vec<Item>) -> Vec<CheckResult> {
    let handle = Arc::new(server::spawn(config).await.expect("spawn the reference server"));
    let (env, reseed) = runner::builtin_env(&handle, TIMEOUT, None);
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

#[test]
fn every_rfc6856_scenario_has_its_defect() {
    let ids: Vec<String> = items(true).iter().map(|i| i.info().id.clone()).collect();
    assert_eq!(ids.len(), 15, "{ids:?}");
    for id in &ids {
        let n = DEFECTS.iter().filter(|(_, s)| s == id).count();
        assert_eq!(n, 1, "{id}: {n} defects");
    }
    for (d, id) in DEFECTS {
        assert!(ids.contains(&id.to_string()), "{d}: no scenario {id}");
        assert!(d.requirement().starts_with("6856-"), "{d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rfc6856_scenario_passes_against_the_default_server() {
    let results = run(ServerConfig::default(), items(true)).await;
    assert_eq!(results.len(), 15, "{:#?}", results.iter().map(describe).collect::<Vec<_>>());
    let bad: Vec<String> = results.iter().filter(|r| r.verdict != Verdict::Pass).map(describe).collect();
    assert!(bad.is_empty(), "against the default server:\n{}", bad.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_rfc6856_the_scenarios_skip_with_the_reason() {
    let results = run(ServerConfig { utf8: false, ..ServerConfig::default() }, items(true)).await;
    for r in &results {
        assert_eq!(r.verdict, Verdict::Skip, "{}", describe(r));
        let why = r.message.as_deref().unwrap_or("");
        assert!(why.contains("does not advertise UTF8") || why.contains("does not advertise LANG"), "{}", describe(r));
    }
}

/// One defect, one failing result: the whole suite (scenarios and Rust checks, destructive ones
/// included) runs against each defect, and only the scenario that names its rule fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_defect_fails_its_rfc6856_scenario_and_nothing_else() {
    let mut problems = Vec::new();
    // Three servers at a time: each suite mostly waits on loopback round trips.
    for chunk in DEFECTS.chunks(3) {
        let mut set = tokio::task::JoinSet::new();
        for &(defect, id) in chunk {
            set.spawn(async move {
                let config = ServerConfig { defects: DefectSet::from(defect), ..ServerConfig::default() };
                (defect, id, run(config, items(false)).await)
            });
        }
        while let Some(joined) = set.join_next().await {
            let (defect, id, results) = joined.expect("suite task");
            let also: &[&str] = if defect == Defect::Utf8Transcodes { TRANSCODES_ALSO } else { &[] };
            let (expected, failing): (Vec<&CheckResult>, Vec<&CheckResult>) = results
                .iter()
                .filter(|r| !matches!(r.verdict, Verdict::Pass | Verdict::Skip))
                .partition(|r| also.contains(&r.id.as_str()));
            for r in &expected {
                if r.verdict != Verdict::Fail || !r.requirements.iter().any(|q| q == "1939-octets") {
                    problems.push(format!("{defect}: {}", describe(r)));
                }
            }
            if expected.len() != also.len() {
                problems.push(format!("{defect}: {} of {also:?} failed", expected.len()));
            }
            let ok = failing.len() == 1
                && failing[0].id == id
                && failing[0].verdict == Verdict::Fail
                && failing[0].requirements.iter().any(|q| q == defect.requirement());
            if !ok {
                problems.push(format!(
                    "{defect} (must fail only {id}): {:#?}",
                    failing.iter().map(|r| describe(r)).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
