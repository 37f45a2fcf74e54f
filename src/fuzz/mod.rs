//! `pop3test fuzz`: a stateful, shrinking, replayable property-based fuzzer for POP3 servers.
//!
//! - [`strategies`]: grammar-aware proptest generators (keywords, boundary numbers, lengths around
//!   the limits, control and 8-bit bytes, SASL payloads, pipelined bursts split across segments);
//! - [`case`]: rendered cases and how they divide into command lines;
//! - [`model`]: the session model deciding what a correct server must answer in each state;
//! - [`oracle`]: crash, hang, server-down, violation, wrong-answer, state-damage, policy;
//! - [`exec`]: sessions that reach a state, then run many cases each;
//! - [`sweep`]: the systematic command × argument class × mailbox state product, run first;
//! - [`shrink`]: replay, prefix minimisation, value-tree shrinking, confirmation;
//! - [`export`]: reproducers as scenario files that `pop3test run` replays;
//! - [`runner`]: workers, deduplication, liveness back-off (each worker draws its cases from a
//!   `source`: its share of the indices, with cases drawn but not judged put back first);
//!   [`outcome`]: findings and the report;
//! - [`cli`]: the command-line arguments.
//!
//! ```no_run
//! # async fn demo(env: pop3test::fuzz::Env) {
//! let outcome = pop3test::fuzz::run(pop3test::fuzz::FuzzConfig::new(env, 42)).await;
//! println!("{}", outcome.summary());
//! # }
//! ```

pub mod case;
pub mod exec;
pub mod export;
pub mod model;
pub mod oracle;
pub mod outcome;
pub mod runner;
pub mod shrink;
mod source;
pub mod strategies;
pub mod sweep;

pub use case::{Case, Chunk};
pub use exec::Env;
pub use model::Context;
pub use oracle::{FindingKey, Oracle, Reason};
pub use outcome::{Finding, FuzzOutcome, Progress};
pub use runner::{run, FuzzConfig};
pub use strategies::Mix;
