//! `pop3test fuzz` end to end: the exported reproducers replay with `pop3test run` and fail the
//! same way against the defective server, pass against the correct one, and are replayed first by
//! the next fuzz run (regressions).

use std::process::Command;

fn pop3test(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pop3test")).args(args).output().expect("run pop3test");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn reproducers_replay_with_run_and_as_regressions() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, text) = pop3test(&[
        "fuzz",
        "--builtin",
        "--defect",
        "number-wrap",
        "--cases",
        "600",
        "--seed",
        "5",
        "--out",
        out,
        "-q",
    ]);
    assert_eq!(code, 0, "medium findings do not gate at --fail-on high: {text}");
    assert!(text.contains("seed 5"), "{text}");
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!files.is_empty(), "no reproducer written: {text}");
    assert!(files.iter().all(|p| p.file_name().unwrap().to_str().unwrap().starts_with("wrong-answer.number-wrap.")));
    // The report says how to replay them: a target and --scenarios (a file is not a target).
    assert!(text.contains("--scenarios") || !text.contains("Reproducer:"), "{text}");

    let (code, text) = pop3test(&["check", out]);
    assert_eq!(code, 0, "{text}");
    // Replayed as they ran: exactly these files (no built-in check), and without --destructive,
    // since a reproducer that marks messages never QUITs (RFC 1939 §6: nothing is removed).
    let replay = dir.path().join("replay.json");
    let run = |defect: Option<&str>, more: &[&str]| {
        let json = format!("json={}", replay.display());
        let mut args = vec!["run", "--builtin", "--scenarios", out, "-q", "--report", &json];
        args.extend(more);
        if let Some(d) = defect {
            args.extend(["--defect", d]);
        }
        let (code, text) = pop3test(&args);
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&replay).unwrap()).unwrap();
        let verdicts: Vec<String> = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r["verdict"].as_str().unwrap(), r["id"].as_str().unwrap()))
            .collect();
        (code, text, verdicts)
    };
    let (code, text, verdicts) = run(Some("number-wrap"), &[]);
    assert_eq!(code, 4, "the reproducers fail against the defect: {text}");
    assert_eq!(verdicts.len(), files.len(), "{verdicts:?}");
    assert!(verdicts.iter().all(|v| v.starts_with("fail fuzz/")), "{verdicts:?}");
    let (code, text, verdicts) = run(None, &[]);
    assert_eq!(code, 0, "and pass against the correct server: {text}");
    assert!(verdicts.iter().all(|v| v.starts_with("pass fuzz/")), "{verdicts:?}");
    let (_, text, verdicts) = run(None, &["--with-builtin", "--only", "fuzz/*,rfc1939/stat-before-login"]);
    assert_eq!(verdicts.len(), files.len() + 1, "--with-builtin adds the built-in suite: {verdicts:?} {text}");

    // The next fuzz run replays them first; with --fail-on medium they gate.
    let (code, text) = pop3test(&[
        "fuzz",
        "--builtin",
        "--defect",
        "number-wrap",
        "--cases",
        "5",
        "--seed",
        "6",
        "--out",
        out,
        "--fail-on",
        "medium",
        "--report",
        &format!("json={out}/report.json"),
    ]);
    assert_eq!(code, 5, "{text}");
    let report = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    assert!(report.contains("still fails") && report.contains("\"seed\": 6"), "{report}");
}

#[test]
fn refuses_remote_targets_without_consent() {
    let (code, text) = pop3test(&["fuzz", "pop3://192.0.2.1:110", "--cases", "1"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("--i-own-this-server"), "{text}");
}
