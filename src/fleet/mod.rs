//! Auditing a fleet: many servers in one run (`audit --targets FILE`), streamed one JSON record a
//! target ([`jsonl`]), resumable after a kill (`--resume`), and split across CI workers
//! (`--shard K/N`, then `report merge`).
//!
//! - [`targets`]: the targets file, parsed with positions (no I/O);
//! - [`shard`]: which targets a worker takes, stable under reordering;
//! - [`run`]: the scheduler (`--jobs`, `--per-host`, a deadline per target);
//! - [`jsonl`]: the records on disk, written as they finish and read back;
//! - [`merge`]: many records (of many shards) as one report and one exit code.
//!
//! Each target is audited by [`crate::audit::run_within`], exactly as `pop3test audit URL` would.

pub mod jsonl;
pub mod merge;
pub mod run;
pub mod shard;
pub mod targets;

pub use shard::Shard;
pub use targets::{FleetTarget, LineDefaults};
