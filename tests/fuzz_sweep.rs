//! The fuzzer's systematic sweep (command × argument class × mailbox state) end to end: on the
//! correct server it covers the whole product and finds nothing; on bugs of the three shapes a
//! random search misses (a number edge on one command, a deleted message with an out-of-range
//! argument, a state reached by mark/undo/mark) it finds each, and each reproducer it writes
//! replays with `run` to the same failure, and passes on the correct server.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn pop3test(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pop3test")).args(args).output().expect("run pop3test");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// A short fuzz run (`--cases 50`: the sweep runs whole, whatever the random budget) and its JSON.
fn fuzz(dir: &Path, defect: Option<&str>, more: &[&str]) -> (i32, String, Value) {
    let json = dir.join("fuzz.json");
    let out = dir.join("findings");
    let report = format!("json={}", json.display());
    let mut args = vec!["fuzz", "--builtin", "--cases", "50", "--seed", "1", "-q", "--timeout", "2s"];
    args.extend(["--out", out.to_str().unwrap(), "--report", &report, "--fail-on", "never"]);
    if let Some(d) = defect {
        args.extend(["--defect", d]);
    }
    args.extend(more);
    let (code, text) = pop3test(&args);
    let value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap_or_default())
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {text}"));
    (code, text, value)
}

fn ids(report: &Value) -> Vec<String> {
    report["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

/// Every reproducer in `dir/findings` replayed with `run --scenarios`: the verdicts.
fn replay(dir: &Path, defect: Option<&str>) -> (i32, Vec<String>) {
    let json = dir.join("replay.json");
    let report = format!("json={}", json.display());
    let out = dir.join("findings");
    let mut args = vec!["run", "--builtin", "--scenarios", out.to_str().unwrap(), "-q", "--report", &report];
    if let Some(d) = defect {
        args.extend(["--defect", d]);
    }
    let (code, text) = pop3test(&args);
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap_or_else(|e| panic!("{e}: {text}"));
    let verdicts = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r["verdict"].as_str().unwrap(), r["id"].as_str().unwrap()))
        .collect();
    (code, verdicts)
}

/// The sweep finds `defect` as a finding whose id starts with `want`, and every reproducer of the
/// run fails against the defect and passes against the correct server.
fn found_and_replayed(defect: &str, want: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (_, text, report) = fuzz(dir.path(), Some(defect), &[]);
    let found = ids(&report);
    assert!(found.iter().any(|id| id.starts_with(want)), "{defect}: no {want}* in {found:?}\n{text}");
    let (code, verdicts) = replay(dir.path(), Some(defect));
    assert_eq!(code, 4, "{defect}: the reproducers fail against the defect: {verdicts:?}");
    // A reproducer is named after its finding: `fuzz/crash.uidl.transaction` for `fuzz/crash/UIDL/...`.
    let named = want.trim_start_matches("fuzz/").to_lowercase().replace('/', ".");
    assert!(verdicts.iter().any(|v| v.starts_with("fail ") && v.contains(&named)), "{named}: {verdicts:?}");
    assert!(verdicts.iter().all(|v| v.starts_with("fail fuzz/")), "{verdicts:?}");
    let (code, verdicts) = replay(dir.path(), None);
    assert_eq!(code, 0, "{defect}: and pass against the correct server: {verdicts:?}");
}

#[test]
fn the_sweep_covers_the_product_and_finds_nothing_on_the_correct_server() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text, report) = fuzz(dir.path(), None, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(ids(&report).is_empty(), "{:?}", ids(&report));
    let c = &report["coverage"];
    let n = |k: &str| c[k].as_u64().unwrap_or_else(|| panic!("coverage.{k}: {c}"));
    assert!(n("cells") > 2000, "{c}");
    assert_eq!(n("tried") + n("not_applicable"), n("cells"), "every cell tried or said why not: {c}");
    assert_eq!(n("not_reached"), 0, "{c}");
    // "last" has no meaning before login (no maildrop yet), and QUIT is never sent after DELE.
    assert!(n("not_applicable") < n("cells") / 20, "{c}");
    assert!(text.contains(&format!("sweep {}/{} cells", n("tried"), n("cells"))), "printed: {text}");
    // Without the sweep: no coverage claimed.
    let (_, _, report) = fuzz(dir.path(), None, &["--no-sweep"]);
    assert!(report.get("coverage").is_none(), "{report}");
}

#[test]
fn a_crash_on_a_number_edge_of_one_command() {
    // UIDL 2^31 resets the connection; the other numbered commands take it.
    found_and_replayed("uidl-signed-edge", "fuzz/crash/UIDL/");
}

#[test]
fn a_wrong_answer_on_a_deleted_message_with_an_out_of_range_argument() {
    // TOP 1 <past the end> after DELE 1 sends the message instead of -ERR.
    found_and_replayed("top-deleted-past-end", "fuzz/wrong-answer/deleted-message/TOP/");
}

#[test]
fn a_state_bug_reached_by_mark_undo_mark() {
    // After DELE 1, RSET, DELE 1 message 1 is still readable.
    found_and_replayed("remark-lost", "fuzz/wrong-answer/deleted-message/");
}

#[test]
fn the_budget_bounds_the_sweep_and_says_what_it_left() {
    // A run of --duration shorter than the sweep ends on time and counts the rest as not reached.
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (_, text, report) = fuzz(dir.path(), None, &["--duration", "300ms"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{text}");
    let c = &report["coverage"];
    let n = |k: &str| c[k].as_u64().unwrap();
    assert_eq!(n("tried") + n("not_applicable") + n("not_reached"), n("cells"), "{c}");
    assert!(n("not_reached") > 0, "300 ms cannot sweep {} cells: {c}", n("cells"));
}
