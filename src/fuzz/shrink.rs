//! Reproducers: replaying a finding in a fresh session, minimising it, confirming it.
//!
//! A finding is reproduced by (context, prefix cases, trigger case). Minimising goes in two
//! steps: first the prefix, by delta debugging (drop halves, quarters... single cases while the
//! finding stays), then the trigger, through proptest's `ValueTree` (`simplify` while it still
//! fails, `complicate` when it stopped failing), which shrinks lengths by binary search and
//! numbers and keywords towards simpler choices. Every step is a careful replay (see
//! [`super::exec`]), bounded in count and time; the result is replayed again several times.

use super::case::Case;
use super::exec::{Env, Session};
use super::model::Context;
use super::oracle::{Candidate, FindingKey};
use super::strategies::{Mix, Spec};
use crate::transcript::Entry;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::time::{Duration, Instant};

/// Everything needed to make the server fail again.
#[derive(Debug, Clone, PartialEq)]
pub struct Repro {
    pub context: Context,
    /// Cases sent before the trigger, in order.
    pub prefix: Vec<Case>,
    pub trigger: Case,
}

impl Repro {
    /// Total octets sent (prefix and trigger): what "minimal" minimises last.
    pub fn size(&self) -> usize {
        self.prefix.iter().map(Case::len).sum::<usize>() + self.trigger.len()
    }
}

/// What one replay saw.
#[derive(Debug, Default)]
pub struct Replayed {
    pub candidate: Option<Candidate>,
    pub transcript: Vec<Entry>,
    /// The context could not be reached (the server may be down).
    pub setup_failed: bool,
    /// The setup did STLS (the exported scenario must too).
    pub did_stls: bool,
}

/// Replays `repro` in a fresh session, carefully for the trigger; checks STAT/UIDL afterwards
/// in TRANSACTION.
pub async fn replay(env: &Env, repro: &Repro) -> Replayed {
    let mut session = match Session::open(env, repro.context).await {
        Ok(s) => s,
        Err(_) => return Replayed { setup_failed: true, ..Replayed::default() },
    };
    let did_stls = session.did_stls;
    let mut transcript = session.take_transcript();
    let keep = |t: &mut Vec<Entry>, more: Vec<Entry>| t.extend(more);
    // Never a QUIT after a DELE, whatever a shrinking step proposes (RFC 1939 §6: it would
    // commit the deletions on the server under test): such a replay reproduces nothing.
    let commits = |s: &Session, case: &Case| s.may_have_deleted() && case.mentions_quit();
    for case in &repro.prefix {
        if commits(&session, case) {
            return Replayed { transcript, did_stls, ..Replayed::default() };
        }
        let o = session.run(env, case, false).await;
        keep(&mut transcript, session.take_transcript());
        if o.candidate.is_some() || !o.alive {
            return Replayed { candidate: o.candidate, transcript, did_stls, ..Replayed::default() };
        }
    }
    if commits(&session, &repro.trigger) {
        keep(&mut transcript, session.abandon());
        return Replayed { transcript, did_stls, ..Replayed::default() };
    }
    let o = session.run(env, &repro.trigger, true).await;
    let mut candidate = o.candidate;
    if candidate.is_none() && o.alive {
        candidate = session.check_state().await.ok().flatten();
    }
    keep(&mut transcript, session.abandon());
    Replayed { candidate, transcript, did_stls, setup_failed: false }
}

/// Whether a replay reproduces `key`.
pub async fn reproduces(env: &Env, repro: &Repro, key: &FindingKey) -> bool {
    replay(env, repro).await.candidate.is_some_and(|c| c.key(repro.context.name()) == *key)
}

/// Bounds on minimisation: replays and wall time per finding.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub replays: u32,
    pub time: Duration,
}

impl Budget {
    fn spent(&self, used: u32, start: Instant) -> bool {
        used >= self.replays || start.elapsed() >= self.time
    }
}

/// Counters a minimisation reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShrinkStats {
    pub replays: u32,
    pub steps: u32,
}

/// Delta debugging on the prefix: removes the largest runs of cases that keep the finding.
pub async fn minimise_prefix(env: &Env, repro: &mut Repro, key: &FindingKey, budget: Budget, stats: &mut ShrinkStats) {
    let start = Instant::now();
    let mut chunk = repro.prefix.len().div_ceil(2).max(1);
    while !repro.prefix.is_empty() && !budget.spent(stats.replays, start) {
        let mut i = 0;
        let mut removed_any = false;
        while i < repro.prefix.len() && !budget.spent(stats.replays, start) {
            let mut trial = repro.clone();
            let end = (i + chunk).min(trial.prefix.len());
            trial.prefix.drain(i..end);
            stats.replays += 1;
            if reproduces(env, &trial, key).await {
                *repro = trial;
                stats.steps += 1;
                removed_any = true;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 && !removed_any {
            break;
        }
        chunk = (chunk / 2).max(1);
    }
}

/// The per-case generator seed: the run seed, the worker and the case index, mixed (splitmix64).
pub fn case_seed(run_seed: u64, index: u64) -> [u8; 32] {
    let mut x = run_seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    out
}

/// The value tree of case `index` of a run (regenerating it is cheaper than keeping trees).
pub fn case_tree(run_seed: u64, index: u64, mix: Mix) -> impl ValueTree<Value = Spec> {
    // Building the strategy (regex-based string strategies among them) costs far more than
    // drawing one value from it: build it once per worker thread, not once per case.
    thread_local! {
        static ALL: BoxedStrategy<Spec> = Mix::All.strategy();
        static SINGLE: BoxedStrategy<Spec> = Mix::Single.strategy();
        static CONFIG: Config = Config::default();
    }
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &case_seed(run_seed, index));
    let mut runner = TestRunner::new_with_rng(CONFIG.with(Clone::clone), rng);
    let strategy = match mix {
        Mix::All => ALL.with(Clone::clone),
        Mix::Single => SINGLE.with(Clone::clone),
    };
    loop {
        // `new_tree` only fails for filters that reject too much; there are none here.
        if let Ok(t) = strategy.new_tree(&mut runner) {
            return t;
        }
    }
}

/// Shrinks the trigger through its value tree: keeps each simplification that still fails.
pub async fn minimise_trigger<T: ValueTree<Value = Spec>>(
    env: &Env,
    repro: &mut Repro,
    tree: &mut T,
    key: &FindingKey,
    budget: Budget,
    stats: &mut ShrinkStats,
) {
    let start = Instant::now();
    if !tree.simplify() {
        return;
    }
    loop {
        if budget.spent(stats.replays, start) {
            break;
        }
        let mut trial = repro.clone();
        trial.trigger = tree.current().render();
        let fails = if trial.trigger == repro.trigger {
            true
        } else {
            stats.replays += 1;
            reproduces(env, &trial, key).await
        };
        // Keep the smaller of two failing inputs (a later complicate can grow it again).
        if fails && trial.trigger.len() <= repro.trigger.len() {
            *repro = trial;
            stats.steps += 1;
        }
        let moved = if fails { tree.simplify() } else { tree.complicate() };
        if !moved {
            break;
        }
    }
}

/// Replays `n` times; returns how many reproduced `key` and the transcript of the last that did.
pub async fn confirm(env: &Env, repro: &Repro, key: &FindingKey, n: u32) -> (u32, Vec<Entry>, bool) {
    let mut hits = 0;
    let mut evidence = Vec::new();
    let mut did_stls = false;
    for _ in 0..n {
        let r = replay(env, repro).await;
        if r.candidate.is_some_and(|c| c.key(repro.context.name()) == *key) {
            hits += 1;
            evidence = r.transcript;
            did_stls = r.did_stls;
        }
    }
    (hits, evidence, did_stls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_trees_are_reproducible_per_index() {
        let a = case_tree(42, 7, Mix::All).current();
        let b = case_tree(42, 7, Mix::All).current();
        assert_eq!(a, b);
        let differ = (0..20).filter(|i| case_tree(42, *i, Mix::All).current() != a).count();
        assert!(differ > 10);
        assert_ne!(case_seed(1, 0), case_seed(2, 0));
    }
}
