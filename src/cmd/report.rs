//! `pop3test report`: re-render a saved JSON run in any format, or put several servers' runs side
//! by side (the matrix maintainers publish).

use crate::cli::{GlobalArgs, ReportArgs, ReportCommand};
use crate::exit;
use crate::report::{self, Format, RenderOptions};
use std::io::Write;

pub fn main(args: ReportArgs, global: &GlobalArgs) -> i32 {
    match run(args, global) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}

fn run(args: ReportArgs, global: &GlobalArgs) -> Result<i32, String> {
    match args.command {
        ReportCommand::Render { input, format, output } => {
            let rep = report::load_json(&input).map_err(|e| e.to_string())?;
            let to_terminal = output.is_none() && format == Format::Table;
            let opts = RenderOptions {
                color: to_terminal && global.color.enabled(),
                width: if to_terminal { report::terminal_width() } else { None },
            };
            let bytes = report::render(format, &rep, &opts).map_err(|e| e.to_string())?;
            match output {
                Some(path) => report::write_atomic(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?,
                None => std::io::stdout().write_all(&bytes).map_err(|e| e.to_string())?,
            }
            Ok(exit::OK)
        }
        ReportCommand::Merge { inputs, reports, matrices, fail_on } => {
            for m in &matrices {
                report::fleet::render(m.format, &[]).map_err(|e| e.to_string())?;
            }
            let mut all = Vec::new();
            for p in &inputs {
                let s = crate::fleet::jsonl::read(p).map_err(|e| e.to_string())?;
                if s.dropped_tail {
                    eprintln!("note: the last record of {} was cut short and is left out", p.display());
                }
                all.extend(s.records);
            }
            let (records, repeated) = crate::fleet::merge::dedupe(all);
            if !repeated.is_empty() && !global.quiet {
                eprintln!("note: {} target(s) recorded more than once; the later record is kept", repeated.len());
            }
            if global.quiet {
                println!("{}", report::fleet::totals(&records));
            } else {
                print!("{}", report::fleet::render(Format::Table, &records).map_err(|e| e.to_string())?);
            }
            if let Err(e) = super::fleet::write_outputs(&records, &reports, &matrices) {
                eprintln!("error: {e}");
                return Ok(exit::TESTER_ERROR);
            }
            Ok(crate::fleet::merge::exit_code(&records, fail_on.0))
        }
        ReportCommand::Matrix { inputs, html, markdown } => {
            if html.is_none() && markdown.is_none() {
                return Err("report matrix: say where to write it: --html FILE and/or --markdown FILE".into());
            }
            let reports = inputs
                .iter()
                .map(|p| report::load_json(p).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(path) = html {
                report::write_atomic(&path, report::matrix_html(&reports).as_bytes())
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            if let Some(path) = markdown {
                report::write_atomic(&path, report::matrix_markdown(&reports).as_bytes())
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok(exit::OK)
        }
    }
}
