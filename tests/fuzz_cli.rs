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

    let (code, text) = pop3test(&["check", out]);
    assert_eq!(code, 0, "{text}");
    let run = |defect: Option<&str>| {
        let mut args = vec!["run", "--builtin", "--destructive", "--scenarios", out, "--only", "fuzz/*", "-q"];
        if let Some(d) = defect {
            args.extend(["--defect", d]);
        }
        pop3test(&args)
    };
    let (code, text) = run(Some("number-wrap"));
    assert_eq!(code, 4, "the reproducers fail against the defect: {text}");
    let (code, text) = run(None);
    assert_eq!(code, 0, "and pass against the correct server: {text}");

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
