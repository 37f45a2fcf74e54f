//! Golden tests for `pop3test check`: each `tests/cli/check/NAME.yaml` sits beside
//! `NAME.stderr`, the exact diagnostics expected, and the exit code is 2 (0 for `valid.yaml`).
//! `UPDATE_GOLDEN=1 cargo test --test scenario_check_cli` rewrites the expected files.

use std::path::Path;
use std::process::Command;

#[test]
fn check_diagnostics_match_the_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases = dir.join("tests/cli/check");
    let mut names: Vec<_> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "golden cases missing");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for yaml in names {
        let rel = yaml.strip_prefix(dir).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_pop3test"))
            .current_dir(dir)
            .args(["--color", "never", "check"])
            .arg(rel)
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        let golden = yaml.with_extension("stderr");
        let want_code = if yaml.file_stem().unwrap() == "valid" { 0 } else { 2 };
        assert_eq!(out.status.code(), Some(want_code), "{}: exit code\n{stderr}", rel.display());
        assert!(out.stdout.is_empty(), "{}: check prints nothing on stdout", rel.display());
        if update {
            std::fs::write(&golden, &stderr).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if expected != stderr {
            mismatches.push(format!("--- {}\n{}\n+++ actual\n{}", golden.display(), expected, stderr));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn the_builtin_suite_checks_clean() {
    let out = Command::new(env!("CARGO_BIN_EXE_pop3test")).args(["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let out = Command::new(env!("CARGO_BIN_EXE_pop3test")).arg("check").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
