//! Golden files for every report format: fixed reports rendered and compared byte for byte with
//! `tests/golden/report/`. After an intended change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test report_golden` and review the diff.

#[path = "report/fixture.rs"]
mod fixture;

use pop3test::report::{self, Format, RenderOptions};
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/report")
}

/// Compares `actual` with the golden file `name`, or rewrites it when UPDATE_GOLDEN is set.
fn check(name: &str, actual: &[u8]) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty()) {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("cannot read golden file {}: {e}; run UPDATE_GOLDEN=1 cargo test --test report_golden", path.display())
    });
    if expected == actual {
        return;
    }
    let (exp, act) = (String::from_utf8_lossy(&expected), String::from_utf8_lossy(actual));
    let line =
        exp.lines().zip(act.lines()).position(|(a, b)| a != b).unwrap_or(exp.lines().count().min(act.lines().count()));
    panic!(
        "{} differs from the rendering, first at line {}:\n  golden: {:?}\n  actual: {:?}\n\
         If the change is intended: UPDATE_GOLDEN=1 cargo test --test report_golden, then review the diff.",
        path.display(),
        line + 1,
        exp.lines().nth(line).unwrap_or("<end of file>"),
        act.lines().nth(line).unwrap_or("<end of file>"),
    );
}

fn opts() -> RenderOptions {
    RenderOptions { color: false, width: Some(80) }
}

fn golden_all_formats(stem: &str, r: &pop3test::results::Report) {
    for f in Format::ALL {
        let bytes = report::render(f, r, &opts()).unwrap();
        check(&format!("{stem}.{}", f.extension()), &bytes);
    }
}

#[test]
fn run_report_in_every_format() {
    golden_all_formats("run", &fixture::run_report());
}

#[test]
fn audit_report_in_every_format() {
    golden_all_formats("audit", &fixture::audit_report());
}

#[test]
fn matrix_html_and_markdown() {
    let reports = [fixture::run_report(), fixture::audit_report(), fixture::other_server_report()];
    check("matrix.html", report::matrix_html(&reports).as_bytes());
    check("matrix.md", report::matrix_markdown(&reports).as_bytes());
}

#[test]
fn colored_table_differs_only_by_escapes() {
    let r = fixture::run_report();
    let plain = String::from_utf8(report::render(Format::Table, &r, &opts()).unwrap()).unwrap();
    let color = report::render(Format::Table, &r, &RenderOptions { color: true, width: Some(80) }).unwrap();
    let color = String::from_utf8(color).unwrap();
    assert!(color.contains('\x1b'));
    let stripped = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap().replace_all(&color, "");
    assert_eq!(stripped, plain);
}

#[test]
fn table_fits_80_columns() {
    for r in [fixture::run_report(), fixture::audit_report()] {
        let s = String::from_utf8(report::render(Format::Table, &r, &opts()).unwrap()).unwrap();
        for l in s.lines() {
            assert!(l.chars().count() <= 80, "wider than 80 columns: {l:?}");
        }
    }
}
