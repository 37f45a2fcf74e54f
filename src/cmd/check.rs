//! `pop3test check [PATH...]`: validates scenario files without touching a server. Diagnostics go
//! to stderr in rustc's form; exit 2 when any file is invalid, 0 when all are valid.

use crate::cli::run::CheckArgs;
use crate::cli::GlobalArgs;
use crate::exit;
use crate::scenario::builtin;

/// Runs the subcommand; returns the exit code.
pub fn main(args: CheckArgs, global: &GlobalArgs) -> i32 {
    let (ok, bad) = if args.paths.is_empty() {
        builtin::load_all()
    } else {
        match builtin::load_paths(&args.paths) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    };
    let mut errors = 0;
    for b in &bad {
        for d in &b.diagnostics {
            eprintln!("{}", d.render(&b.source));
            errors += 1;
        }
    }
    let files = ok.len() + bad.len();
    if errors > 0 {
        eprintln!(
            "error: {errors} error{} in {} of {files} scenario file{}",
            if errors == 1 { "" } else { "s" },
            bad.len(),
            if files == 1 { "" } else { "s" }
        );
        return exit::SCENARIO_ERROR;
    }
    if files == 0 {
        eprintln!("error: no scenario files (*.yaml) found");
        return exit::USAGE;
    }
    if !global.quiet {
        eprintln!("ok: {files} scenario file{} valid", if files == 1 { "" } else { "s" });
    }
    exit::OK
}
