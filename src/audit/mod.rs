//! The TLS-posture audit (`pop3test audit`): is TLS really enforced? Probes for STLS behaviour,
//! command injection, cleartext login, TLS versions and suites, and certificates; each finding
//! (A01–A18) a value with its evidence, and one verdict line.
//!
//! Low-level TLS pieces: [`tls_versions`] (hand-built ClientHellos), [`ciphers`], [`cert`].
//! POP3-level probes and their decisions: [`stls`] (A01, A02, A08, A09), [`injection`] (A06), [`fixation`] (A18),
//! [`login`] (A03, A07, A15), [`mechs`] (A04, A05, A16, A17), [`tls_scan`] (A10, A11, A14),
//! [`certs`] (A12), [`implicit`] (A13). [`check`] is the catalogue of findings, [`dial`] the
//! shared exchanges and bounds (and how many connections the server takes at once), [`verdict`]
//! the summary line, [`timing`] how much of the time was the server's, [`run`] the orchestration
//! and [`cli`] the command-line arguments.

pub mod cert;
pub mod ciphers;
pub mod tls_versions;

pub mod certs;
pub mod check;
pub mod dial;
pub mod fixation;
pub mod implicit;
pub mod injection;
pub mod login;
pub mod mechs;
pub mod run;
pub mod stls;
pub mod timing;
pub mod tls_scan;
pub mod verdict;

pub use run::{run, run_within, AuditConfig};
