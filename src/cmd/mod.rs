//! One module per subcommand: turn parsed arguments into library calls and an exit code.

pub mod audit;
pub mod check;
pub mod fuzz;
pub mod report;
pub mod run;
pub mod serve;
pub mod session;
