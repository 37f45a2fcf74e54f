//! Conformance checks written in Rust: the ones that need a model of the maildrop (counts, sizes,
//! unique-ids across sessions, several connections at once) and would be contorted in YAML.
//!
//! One file per family of checks; each check is a struct implementing [`Check`] and produces a
//! full [`CheckResult`] with the transcript of every session it opened. Shared plumbing (opening
//! sessions from a [`CheckContext`], collecting transcripts, building results) is in [`util`] and
//! [`evidence`].
//!
//! Verdicts follow the results model: `fail` only when the server broke the rule the check names;
//! `error` when the tester could not do its job (connection refused, valid credentials refused,
//! timeout, a precondition the server would not set up); `skip` with a reason when the check does
//! not apply (capability not offered, no credentials, destructive checks not allowed).

use crate::net::session::{Credentials, StlsPolicy};
use crate::net::{ConnectOptions, Target};
use crate::results::CheckResult;
use std::future::Future;
use std::pin::Pin;

pub mod apop;
pub mod capa_states;
pub mod dele;
pub mod evidence;
pub mod lock;
pub mod mailbox;
pub mod pipelining;
pub mod top;
pub mod uidl;
pub mod util;

/// Everything a check needs to know about the server under test, passed in.
#[derive(Debug, Clone)]
pub struct CheckContext {
    pub target: Target,
    pub opts: ConnectOptions,
    /// Test credentials; checks that log in skip without them.
    pub creds: Option<Credentials>,
    /// When to upgrade with STLS before logging in (the user's wish: a check never sends a
    /// password in cleartext when this says to upgrade).
    pub stls: StlsPolicy,
    /// True when the user allowed checks that remove mail (`--destructive`).
    pub destructive: bool,
    /// What the run's probe found (optional commands seen working, the maildrop).
    pub inventory: crate::inventory::Inventory,
    /// The test account's APOP secret, when known (see `scenario::exec::Env::apop_secret`).
    pub apop_secret: Option<crate::net::session::Secret>,
}

/// What a check is, for listings, filtering and the result's identifying fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInfo {
    /// Stable id, e.g. `rfc1939/stat-matches-list`.
    pub id: &'static str,
    pub title: &'static str,
    /// Grouping for reports: `RFC 1939`, `RFC 2449`.
    pub area: &'static str,
    /// Requirement ids of `pop3-requirements.md`.
    pub requirements: &'static [&'static str],
    /// RFC sections, e.g. `RFC 1939 §5`.
    pub rfc_refs: &'static [&'static str],
    pub tags: &'static [&'static str],
    /// Capability tags the check needs (`TOP`, `UIDL`, `PIPELINING`), or `credentials`. The check
    /// verifies them itself and skips with a reason; this list is for planning and listings.
    pub requires: &'static [&'static str],
    /// True when the check removes mail from a correct server, or may on a broken one.
    pub destructive: bool,
}

/// A boxed future, as [`Check::run`] returns it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One conformance check.
pub trait Check: Send + Sync {
    fn info(&self) -> CheckInfo;
    /// Runs the check against `ctx`'s server. Never panics on server behaviour; every outcome,
    /// including "could not run", is a [`CheckResult`].
    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, CheckResult>;
}

/// Every built-in check, grouped by family.
pub fn all() -> Vec<Box<dyn Check>> {
    let mut v: Vec<Box<dyn Check>> = Vec::new();
    v.extend(mailbox::checks());
    v.extend(dele::checks());
    v.extend(uidl::checks());
    v.extend(top::checks());
    v.extend(lock::checks());
    v.extend(pipelining::checks());
    v.extend(capa_states::checks());
    v.extend(apop::checks());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let checks = all();
        let mut ids: Vec<&str> = checks.iter().map(|c| c.info().id).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate check ids");
        for c in &checks {
            let i = c.info();
            assert!(i.id.starts_with("rfc1939/") || i.id.starts_with("rfc2449/"), "{}", i.id);
            assert!(!i.requirements.is_empty() && !i.rfc_refs.is_empty() && !i.title.is_empty(), "{}", i.id);
            for n in i.requires {
                let known = *n == "credentials"
                    || n.chars().all(|c| c.is_ascii_uppercase() || c == '-')
                    || crate::inventory::DataNeed::parse(n).is_some();
                assert!(known, "{}: `{n}` is neither credentials, a CAPA tag nor a data need", i.id);
            }
            for r in i.requirements {
                // The one copy of the catalogue's ids, the same the scenario loader checks against.
                assert!(crate::scenario::load::REQUIREMENTS.contains(r), "{}: unknown requirement {r}", i.id);
            }
        }
    }
}
