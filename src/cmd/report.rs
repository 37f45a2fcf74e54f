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
