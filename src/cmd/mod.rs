//! One module per subcommand: turn parsed arguments into library calls and an exit code.

pub mod audit;
pub mod audit_client;
pub mod check;
pub mod fleet;
pub mod fuzz;
pub mod report;
pub mod run;
pub mod seed;
pub mod serve;
pub mod session;

use crate::cli::{FailOn, GlobalArgs};
use crate::report::{render, terminal_width, write_all, Format, RenderOptions, ReportSpec};
use crate::results::Report;

/// How `run`, `audit` and `fuzz` end: the terminal table (or, with `-q`, only the verdict line),
/// every `--report` file, and the exit code the results call for (`--fail-on` gating findings).
/// A report holding one tester error: the job could not start or finish, and says why (a
/// report is written whatever happened, so CI never loses the reason).
pub fn error_report(kind: crate::results::RunKind, target: String, id: &str, title: &str, why: String) -> Report {
    let mut r = Report::new(kind, target);
    let mut e = crate::results::CheckResult::new(id, title, "setup", crate::results::Verdict::Error);
    e.message = Some(why.clone());
    r.summary = Some(why);
    r.results.push(e);
    r
}

pub fn finish(report: &Report, specs: &[ReportSpec], fail_on: FailOn, global: &GlobalArgs) -> i32 {
    if global.quiet {
        if let Some(s) = &report.summary {
            println!("{s}");
        }
    } else {
        let opts = RenderOptions { color: global.color.enabled(), width: terminal_width() };
        match render(Format::Table, report, &opts) {
            Ok(bytes) => print!("{}", String::from_utf8_lossy(&bytes)),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    if let Err(e) = write_all(specs, report) {
        eprintln!("error: {e}");
        return crate::exit::TESTER_ERROR;
    }
    report.exit_code(fail_on.0)
}
