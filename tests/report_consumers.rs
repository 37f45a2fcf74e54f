//! The reports read by consumers nobody here wrote: JUnit XML by Python's `junitparser` and by
//! `xmllint`, SARIF by the official OASIS SARIF 2.1.0 schema, JSON by our committed schema, and
//! the HTML page by headless Chromium (it renders, shows the verdict banner, logs nothing on the
//! console). Missing tools fail the test with the setup to run; nothing is skipped silently.
//! Setup: see `tests/report/README.md`.

#[path = "report/fixture.rs"]
mod fixture;

use pop3test::report::{self, Format, RenderOptions};
use pop3test::results::{CheckResult, Report, RunKind, SourceLocation, Verdict};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SETUP: &str = "see tests/report/README.md: apt-get install -y chromium libxml2-utils python3 \
                     && python3 -m pip install -r tests/report/requirements.txt";

fn render(f: Format, r: &Report) -> Vec<u8> {
    report::render(f, r, &RenderOptions { color: false, width: Some(80) }).unwrap()
}

/// Runs a command with a hard time limit (killed when it runs over), capturing its output.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}; {SETUP}"));
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).ok();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).ok();
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output { status, stdout: t_out.join().unwrap(), stderr: t_err.join().unwrap() }
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

const JUNITPARSER_SCRIPT: &str = r#"
import json, sys
try:
    from junitparser import JUnitXml
except ImportError as e:
    print("MISSING junitparser: %s" % e, file=sys.stderr)
    sys.exit(3)
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        cases.append({
            "name": case.name,
            "classname": case.classname,
            "time": case.time,
            "results": [[type(r).__name__, r.message, r.type] for r in case.result],
            "system_out": case.system_out,
        })
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures,
                   "errors": suite.errors, "skipped": suite.skipped, "cases": cases})
print(json.dumps(suites))
"#;

#[test]
fn junit_is_read_by_junitparser_with_the_right_counts_and_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "run.xml", &render(Format::Junit, &fixture::run_report()));
    let out =
        run_bounded(Command::new("python3").arg("-c").arg(JUNITPARSER_SCRIPT).arg(&path), Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() != Some(3), "the Python module junitparser is not installed ({stderr}); {SETUP}");
    assert!(out.status.success(), "junitparser failed: {stderr}");
    let suites: Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary: Vec<(String, i64, i64, i64, i64)> = suites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let n = |k: &str| s[k].as_i64().unwrap_or(-1);
            (s["name"].as_str().unwrap().to_string(), n("tests"), n("failures"), n("errors"), n("skipped"))
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("RFC 1939".to_string(), 4, 2, 1, 0),
            ("RFC 2449".to_string(), 2, 0, 0, 1),
            ("TLS audit".to_string(), 1, 1, 0, 0),
        ]
    );
    let case = |name_prefix: &str| -> Value {
        suites
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["cases"].as_array().unwrap().iter())
            .find(|c| c["name"].as_str().unwrap().starts_with(name_prefix))
            .unwrap_or_else(|| panic!("no testcase {name_prefix}"))
            .clone()
    };
    let kinds = |c: &Value| -> Vec<String> {
        c["results"].as_array().unwrap().iter().map(|r| r[0].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(kinds(&case("rfc1939/greeting:")), Vec::<String>::new());
    let fail = case("rfc1939/retr-byte-stuffing:");
    assert_eq!(kinds(&fail), ["Failure"]);
    assert_eq!(fail["results"][0][2], "conformance");
    assert_eq!(fail["classname"], "RFC 1939");
    assert!(fail["system_out"].as_str().unwrap().contains("C: PASS <redacted>"));
    assert_eq!(kinds(&case("rfc1939/lock:")), ["Error"]);
    let skip = case("rfc2449/pipelining:");
    assert_eq!(kinds(&skip), ["Skipped"]);
    assert_eq!(skip["results"][0][1], "PIPELINING not advertised in CAPA");
    let xfail = case("rfc2449/capa-states:");
    assert_eq!(kinds(&xfail), Vec::<String>::new());
    assert!(xfail["system_out"].as_str().unwrap().contains("expected failure (xfail)"));
    let xpass = case("rfc1939/top-beyond-body:");
    assert_eq!(kinds(&xpass), ["Failure"]);
    assert_eq!(xpass["results"][0][2], "xpass");
    let finding = case("A06:");
    assert_eq!(finding["results"][0][2], "finding/high");
    assert_eq!(finding["time"], 0.23);
}

#[test]
fn junit_is_well_formed_for_xmllint() {
    let dir = tempfile::tempdir().unwrap();
    for (name, r) in [("run.xml", fixture::run_report()), ("audit.xml", fixture::audit_report())] {
        let path = write_temp(dir.path(), name, &render(Format::Junit, &r));
        let out = run_bounded(Command::new("xmllint").arg("--noout").arg(&path), Duration::from_secs(30));
        assert!(out.status.success(), "xmllint rejects {name}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

fn sarif_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/report/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        schema["$id"], "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json",
        "tests/report/sarif-schema-2.1.0.json must be the official OASIS schema"
    );
    jsonschema::draft7::options().should_validate_formats(true).build(&schema).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{what} is invalid:\n{}", errors.join("\n"));
}

/// Reports with the awkward corners: empty, location at line 0, odd paths, no title.
fn edge_reports() -> Vec<Report> {
    let mut odd = Report::new(RunKind::Fuzz, "");
    odd.started_at = "not a date".into();
    odd.seed = Some(u64::MAX);
    odd.incomplete = true;
    let mut f = CheckResult::new("", "", "", Verdict::Fail);
    f.location = Some(SourceLocation { file: "C:\\scen arios\\x#1.yaml".into(), line: 0, column: 0 });
    f.duration_ms = f64::NAN;
    let mut x = CheckResult::new("x", "ünïcödé <&>", "fuzz", Verdict::Xpass);
    x.location = Some(SourceLocation { file: "".into(), line: 1, column: 0 });
    odd.results = vec![f, x, CheckResult::new("e", "e", "fuzz", Verdict::Error)];
    vec![Report::new(RunKind::Run, "pop3://h"), odd]
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let v = sarif_validator();
    let mut reports = vec![fixture::run_report(), fixture::audit_report()];
    reports.extend(edge_reports());
    for (i, r) in reports.iter().enumerate() {
        let doc: Value = serde_json::from_slice(&render(Format::Sarif, r)).unwrap();
        assert_valid(&v, &doc, &format!("SARIF of report #{i}"));
    }
    // And the validator does reject a broken log, so the check above is not vacuous.
    let mut doc: Value = serde_json::from_slice(&render(Format::Sarif, &fixture::audit_report())).unwrap();
    doc["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(!v.is_valid(&doc));
}

#[test]
fn sarif_results_follow_severity_and_carry_evidence() {
    let doc: Value = serde_json::from_slice(&render(Format::Sarif, &fixture::audit_report())).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let levels: Vec<(&str, &str)> =
        results.iter().map(|r| (r["ruleId"].as_str().unwrap(), r["level"].as_str().unwrap())).collect();
    assert_eq!(levels, [("A10", "note"), ("A03", "error"), ("A08", "warning")]);
    assert_eq!(doc["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().len(), 3);
    let a03 = &results[1];
    assert_eq!(a03["locations"][0]["logicalLocations"][0]["name"], "pop3://mail.example.org:110");
    assert_eq!(a03["properties"]["transcript"][2]["text"], "PASS <redacted>\\r\\n");
}

#[test]
fn json_validates_against_the_committed_report_schema() {
    let schema: Value = serde_json::from_str(report::json::SCHEMA).unwrap();
    let v = jsonschema::draft202012::new(&schema).unwrap();
    let mut reports = vec![fixture::run_report(), fixture::audit_report(), fixture::other_server_report()];
    reports.extend(edge_reports());
    for (i, r) in reports.iter().enumerate() {
        let doc: Value = serde_json::from_slice(&render(Format::Json, r)).unwrap();
        assert_valid(&v, &doc, &format!("JSON of report #{i}"));
    }
    let mut doc: Value = serde_json::from_slice(&render(Format::Json, &fixture::run_report())).unwrap();
    doc.as_object_mut().unwrap().remove("schema_version");
    assert!(!v.is_valid(&doc), "a report without schema_version must be rejected");
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Loads `page` in headless Chromium and returns (DOM after load, console lines from the log).
fn chromium_dump(page: &Path, profile: &Path) -> (String, Vec<String>) {
    assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: install the Debian package chromium; {SETUP}");
    let out = run_bounded(
        Command::new(CHROMIUM)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
            .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
            .arg(format!("file://{}", page.display())),
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed ({:?}): {stderr}", out.status);
    // Chromium logs every console message (errors, CSP violations, uncaught exceptions) as
    // `...:INFO:CONSOLE:<line>] "<message>", source: ...`.
    let console =
        stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).map(String::from).collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[test]
fn html_renders_in_headless_chromium_without_console_messages() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile");
    let page = write_temp(dir.path(), "run.html", &render(Format::Html, &fixture::run_report()));
    let (dom, console) = chromium_dump(&page, &profile);
    assert!(
        dom.contains(r#"<section id="verdict" class="banner banner-error" role="status"><strong>ERROR</strong>"#),
        "{dom}"
    );
    assert!(dom.contains("Exämple POP3 \"beta\" &amp; co"), "escaped text survives the parser");
    assert!(dom.contains("C: PASS &lt;redacted&gt;"), "the transcript is text, not markup");
    assert_eq!(console, Vec::<String>::new(), "the report page logged console messages");

    let matrix = [fixture::run_report(), fixture::audit_report(), fixture::other_server_report()];
    let page = write_temp(dir.path(), "matrix.html", report::matrix_html(&matrix).as_bytes());
    let (dom, console) = chromium_dump(&page, &profile);
    assert!(dom.contains(r#"<table id="matrix" class="matrix">"#), "{dom}");
    assert_eq!(console, Vec::<String>::new(), "the matrix page logged console messages");

    // The console check itself works: a page with a script error and a blocked image is caught.
    let bad = "<!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">\
               <img src=\"https://example.invalid/x.png\"><p>bad</p>";
    let page = write_temp(dir.path(), "bad.html", bad.as_bytes());
    let (_, console) = chromium_dump(&page, &profile);
    assert!(!console.is_empty(), "console capture is broken: a CSP violation was not logged");
}
