//! Scenarios: conformance checks written as POP3 dialogues in YAML (format: `scenarios/README.md`).
//!
//! - [`yaml`]: YAML → nodes with positions; [`load`]: nodes → the typed [`model`], with
//!   rustc-like [`diag`]nostics;
//! - [`template`]: `${...}` variables;
//! - [`exec`]: runs one scenario against a server, tracking session state and protocol
//!   invariants, and returns its [`crate::results::CheckResult`];
//! - [`builtin`]: the suite compiled into the binary (the files under `scenarios/`).

pub mod builtin;
pub mod diag;
pub mod exec;
pub mod load;
pub mod model;
pub mod template;
pub mod yaml;

pub use diag::{Diagnostic, Span};
pub use model::Scenario;
