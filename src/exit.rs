//! Process exit codes: the contract a CI job gates on. Only `main` exits; everything else returns
//! one of these through [`crate::results::Report::exit_code`] or an error.

/// Everything checked passed (skips and expected failures allowed).
pub const OK: i32 = 0;
/// Bad command line (clap's own usage errors also exit with 2 by default; we map them to 1).
pub const USAGE: i32 = 1;
/// A scenario file is invalid (parse or validation error).
pub const SCENARIO_ERROR: i32 = 2;
/// The tester could not do its job: connection refused, TLS failure, bad credentials, timeout.
pub const TESTER_ERROR: i32 = 3;
/// The server broke at least one conformance rule.
pub const CONFORMANCE_FAILURES: i32 = 4;
/// Security findings at or above `--fail-on` (default: high).
pub const FINDINGS: i32 = 5;
