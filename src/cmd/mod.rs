//! One module per subcommand: turn parsed arguments into library calls and an exit code.

pub mod report;
pub mod session;
