//! `pop3test audit` from the command line: exit codes by `--fail-on`, the verdict line, reports
//! written, usage errors explained. Runs the real binary against its built-in server.

use std::process::{Command, Output};

fn pop3test(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pop3test")).args(args).env("NO_COLOR", "1").output().expect("binary runs")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn injection_defect_exits_5_and_writes_reports() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("audit.json");
    let sarif = dir.path().join("audit.sarif");
    let out = pop3test(&[
        "audit",
        "--builtin",
        "--defect",
        "stls-injection",
        "--report",
        &format!("json={}", json.display()),
        "--report",
        &format!("sarif={}", sarif.display()),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(5), "{stdout}\n{stderr}");
    assert!(stdout.contains("TLS enforced: no, because plaintext injected after STLS"), "{stdout}");
    assert!(stdout.contains("CRITICAL") && stdout.contains("A06"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let schema: serde_json::Value = serde_json::from_str(pop3test::report::json::SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "the audit's JSON breaks the report schema: {errors:?}");
    assert_eq!(report["kind"], "audit");
    assert!(report["summary"].as_str().unwrap().starts_with("TLS enforced: no"));
    let a06 = report["results"].as_array().unwrap().iter().find(|r| r["id"] == "A06").unwrap();
    assert_eq!(a06["severity"], "critical");
    assert!(a06["references"].as_array().unwrap().iter().any(|r| r == "CVE-2011-0411"));
    assert!(std::fs::read_to_string(&sarif).unwrap().contains("A06"));
}

#[test]
fn fail_on_gates_the_exit_code_and_quiet_prints_only_the_verdict() {
    let out = pop3test(&["audit", "--builtin", "--defect", "stls-twice", "-q"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "medium finding, default --fail-on high: {stdout}\n{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("TLS enforced: yes, because"), "{stdout}");
    let out = pop3test(&["audit", "--builtin", "--defect", "stls-twice", "-q", "--fail-on", "medium"]);
    assert_eq!(out.status.code(), Some(5));
    let out = pop3test(&["audit", "--builtin", "--defect", "stls-injection", "-q", "--fail-on", "never"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn usage_errors_say_what_to_do() {
    let out = pop3test(&["audit", "pop3s://127.0.0.1:995"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("--tls-port 995"), "{}", text(&out).1);
    let out = pop3test(&["audit", "pop3://127.0.0.1:1", "--defect", "stls-injection"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("--defect needs --builtin"), "{}", text(&out).1);
    let out = pop3test(&["audit", "--builtin", "--defect", "stls-injectoin"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("stls-injection"), "did you mean: {}", text(&out).1);
    let out = pop3test(&["audit", "--builtin", "--fail-on", "sometimes"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn unreachable_server_is_a_tester_error_not_a_finding() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = pop3test(&["audit", &format!("pop3://127.0.0.1:{port}"), "--no-implicit", "-q", "--timeout", "2s"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("TLS enforced: undetermined"), "{stdout}");
}
