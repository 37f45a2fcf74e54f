//! RFC 6856 UTF8 and LANG: the rfc6856 scenarios against the reference server with `utf8` on (the
//! default server does not offer them, so there they are skipped), and the one UTF8 defect.

use pop3test::results::{CheckResult, Verdict};
use pop3test::runner::{self, Item};
use pop3test::server::{self, Defect, DefectSet, ServerConfig};
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the `rfc6856/` scenarios against a fresh `--utf8` server with `defects`.
async fn run_rfc6856(defects: DefectSet) -> Vec<CheckResult> {
    let config = ServerConfig { utf8: true, defects, ..ServerConfig::default() };
    let handle = Arc::new(server::spawn(config).await.expect("spawn the reference server"));
    let items: Vec<Item> = match runner::builtin_items() {
        Ok(i) => i,
        Err(bad) => panic!("built-in scenarios do not load: {:?}", bad.iter().map(|b| &b.file).collect::<Vec<_>>()),
    };
    let items: Vec<Item> = items.into_iter().filter(|i| i.info().id.starts_with("rfc6856/")).collect();
    assert_eq!(items.len(), 15, "the rfc6856 scenarios");
    let (env, reseed) = runner::builtin_env(&handle, TIMEOUT, None);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let outcome = runner::run_suite(items, env, 2, Some(reseed), rx).await;
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
async fn every_rfc6856_scenario_passes_against_the_utf8_server() {
    let results = run_rfc6856(DefectSet::none()).await;
    assert_eq!(results.len(), 15, "{:#?}", results.iter().map(describe).collect::<Vec<_>>());
    let bad: Vec<String> = results.iter().filter(|r| r.verdict != Verdict::Pass).map(describe).collect();
    assert!(bad.is_empty(), "against the --utf8 server:\n{}", bad.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utf8_8bit_as_is_fails_the_mode_off_scenario() {
    let results = run_rfc6856(Defect::Utf8EightBitAsIs.into()).await;
    let failing: Vec<&str> =
        results.iter().filter(|r| !matches!(r.verdict, Verdict::Pass | Verdict::Skip)).map(|r| r.id.as_str()).collect();
    assert_eq!(
        failing,
        ["rfc6856/utf8-mode-off-no-8bit-as-is"],
        "{:#?}",
        results.iter().map(describe).collect::<Vec<_>>()
    );
    let r = results.iter().find(|r| r.id == "rfc6856/utf8-mode-off-no-8bit-as-is").unwrap();
    assert_eq!(r.verdict, Verdict::Fail, "{}", describe(r));
}
