//! pop3test: a conformance tester, TLS-posture auditor and fuzzer for POP3 servers.
//!
//! Layers, each using only those below it:
//! - [`proto`]: sans-IO POP3 (commands, incremental response parser, violations with RFC refs);
//! - [`net`]: the only code that touches sockets (targets, TLS, connections, timeouts);
//! - [`server`]: the reference server with switchable defects;
//! - `scenario`, `checks`, `runner`, `audit`, `fuzz`: the three jobs; [`fleet`]: the audit of many
//!   targets at once (streamed, resumable, sharded); `client_audit`: a malicious server judging
//!   POP3 clients;
//! - [`results`] and `report`: one results model, every output rendered from it.

pub mod audit;
pub mod bench;
pub mod checks;
pub mod cli;
pub mod client_audit;
pub mod cmd;
pub mod exit;
pub mod fleet;
pub mod fuzz;
pub mod inventory;
pub mod net;
pub mod proto;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod seed;
pub mod server;
pub mod transcript;
