//! Runs a worker's share of the sweep ([`crate::fuzz::sweep`]) before its random search: a
//! contiguous block of cells (neighbours share a context and a prep, so they share sessions),
//! each judged by the model and handled like any random case — confirmed, shrunk, exported.

use super::{Opening, Shared, HISTORY};
use crate::fuzz::case::Case;
use crate::fuzz::exec::Session;
use crate::fuzz::model::Context;
use crate::fuzz::sweep::{self, Keyword, Prep};
use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// The index handed to shrinking for sweep cases: no random case tree has it, so only the
/// prefix is minimised (the line under test is already one line of one class).
const SWEEP_INDEX: u64 = u64::MAX;

/// Cells of the sweep that a worker has left: `(lo..hi)` of [`sweep::cells`].
fn share_of(len: usize, w: usize, jobs: usize) -> std::ops::Range<usize> {
    let jobs = jobs.max(1);
    len * w / jobs..len * (w + 1) / jobs
}

/// Learns before the sweep whether the server closes after a count of errors in a row (Dovecot's
/// login process: 3), by sending unknown commands in a session of its own: cells then keep under
/// that count (the sweep's neighbours are mostly errors before login), and the close is noted as
/// the policy it is instead of being met first on a line whose reply it swallows.
pub(super) async fn learn_error_limit(sh: &Shared) {
    let Some(&ctx) = sh.cfg.contexts.iter().find(|c| !c.needs_login()) else { return };
    let env = &sh.cfg.env;
    let Ok(mut s) = Session::open(env, ctx).await else { return };
    sh.replays.fetch_add(1, Relaxed);
    match s.error_limit(env, 8).await {
        Some((n, text)) => {
            let detail = format!("the server closed the connection right after `-ERR {text}`");
            let c = crate::fuzz::oracle::Candidate::new(crate::fuzz::Oracle::Policy, "XFUZ", detail);
            sh.record_policy(&c, n, crate::fuzz::oracle::announces_close(&text), &text);
        }
        None => s.quit().await,
    }
}

pub(super) async fn share(sh: &Arc<Shared>, w: usize) {
    // After the reach pass (bounded: a pass that hangs costs the sweep a few timeouts, no more).
    let mut reached = sh.reach_done.subscribe();
    let wait = (sh.cfg.env.opts.timeout * 4).min(sh.time_left());
    let _ = tokio::time::timeout(wait, reached.wait_for(|done| *done)).await;
    let all = sweep::cells(&sh.cfg.contexts);
    let mut session: Option<Session> = None;
    let mut permit = None;
    // The session is already in its cell's once-per-session prep (a failed login).
    let mut prepped = false;
    let mut history: VecDeque<Case> = VecDeque::with_capacity(HISTORY);
    let not_applicable = || {
        sh.sweep_not_applicable.fetch_add(1, Relaxed);
    };
    let range = share_of(all.len(), w, sh.cfg.jobs);
    let mut i = range.start;
    // A cell whose session ended before its line was judged gets one more session.
    let mut retried = false;
    while i < range.end {
        if sh.should_stop(0) {
            break;
        }
        let cell = all[i];
        let limit = sh.policy_limit.load(Relaxed);
        if cell.prep == Prep::AfterErrors && (1..=3).contains(&limit) {
            // The server closes after this many errors in a row (its policy): the state
            // "after failed commands" would be the end of the session.
            not_applicable();
            i += 1;
            continue;
        }
        if sh.sweep_hung.lock().unwrap_or_else(|p| p.into_inner()).contains(&cell.arg) {
            not_applicable();
            i += 1;
            continue;
        }
        let reusable = session
            .as_ref()
            .is_some_and(|s| s.context == cell.ctx && !(cell.keyword == Keyword::Quit && s.may_have_deleted()));
        if !reusable {
            if let Some(s) = session.take() {
                s.quit().await;
            }
            match open(sh, cell.ctx, &mut permit).await {
                Ok(mut s) => {
                    s.stop_recording();
                    session = Some(s);
                    prepped = false;
                    history.clear();
                }
                Err(true) => break,
                Err(false) => {
                    not_applicable();
                    i += 1;
                    continue;
                }
            }
        }
        let Some(messages) = session.as_ref().map(|s| s.model.sizes.len()) else { break };
        let Some(cases) = cell.render(messages, prepped) else {
            not_applicable();
            i += 1;
            continue;
        };
        let n_prep = cases.prep.len();
        let mut judged = false;
        for (k, case) in cases.prep.iter().chain([&cases.target]).enumerate() {
            let Some(s) = session.as_mut() else { break };
            if s.may_have_deleted() && case.mentions_quit() {
                // QUIT now would commit deletions (RFC 1939 §6): never (a fresh session next).
                session = None;
                break;
            }
            let limit = sh.policy_limit.load(Relaxed);
            if limit > 0
                && s.consecutive_errors > 0
                && s.consecutive_errors + 1 >= limit
                && !s.reset_error_count().await
            {
                session = None;
                break;
            }
            let outcome = s.run(&sh.cfg.env, case, false).await;
            sh.sweep_cases.fetch_add(1, Relaxed);
            let hang = outcome.candidate.as_ref().is_some_and(|c| c.oracle == crate::fuzz::Oracle::Hang);
            sh.note_reply(hang, s.context.name(), &case.keyword());
            if hang && k == n_prep {
                sh.sweep_hung.lock().unwrap_or_else(|p| p.into_inner()).insert(cell.arg);
            }
            s.take_transcript();
            let ctx = s.context;
            if !outcome.alive || (outcome.uncertain && outcome.candidate.is_none()) {
                session = None;
            }
            if let Some(c) = outcome.candidate {
                // Judged (on its own line or on the way to it). A session still usable goes on:
                // the next cell prepares its own state.
                judged = true;
                let prefix: Vec<Case> = history.iter().cloned().collect();
                sh.handle(c, ctx, prefix, SWEEP_INDEX, case.clone(), outcome.closed_after_err).await;
                break;
            }
            // The reply was judged (QUIT's ends the session as it should).
            judged |= k == n_prep;
            if session.is_none() {
                break;
            }
            if history.len() == HISTORY {
                history.pop_front();
            }
            history.push_back(case.clone());
        }
        if judged {
            sh.sweep_tried.fetch_add(1, Relaxed);
            if cell.prep.once_per_session() && session.is_some() {
                prepped = true;
            }
            i += 1;
            retried = false;
        } else if !retried {
            // The session ended before the line was judged: once more, in a fresh one.
            retried = true;
            session = None;
        } else {
            // Left for `not_reached`.
            i += 1;
            retried = false;
        }
        if cell.keyword == Keyword::Quit {
            session = None;
        }
    }
    if let Some(s) = session.take() {
        s.quit().await;
    }
}

/// A session of `ctx` (with the login permit when it needs one). `Err(true)`: the server is
/// down, the run ends; `Err(false)`: the context is out of reach.
async fn open(
    sh: &Shared,
    ctx: Context,
    permit: &mut Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<Session, bool> {
    *permit = None;
    for _ in 0..super::SETUP_FAILURES {
        if sh.stop.load(Relaxed) || sh.cfg.cancel.load(Relaxed) {
            return Err(true);
        }
        if sh.unavailable.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&ctx) {
            return Err(false);
        }
        if ctx.needs_login() && permit.is_none() {
            *permit = sh.logins.clone().acquire_owned().await.ok();
        }
        match sh.open(ctx).await {
            Opening::Open(s) => return Ok(*s),
            Opening::Failed => {}
            Opening::Down => return Err(true),
        }
    }
    Err(false)
}

#[cfg(test)]
mod tests {
    use super::share_of;

    #[test]
    fn shares_cover_every_cell_once() {
        for (len, jobs) in [(0, 1), (7, 1), (7, 3), (2430, 4), (3, 8)] {
            let mut seen = vec![0; len];
            for w in 0..jobs {
                for i in share_of(len, w, jobs) {
                    seen[i] += 1;
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{len} {jobs}");
        }
    }
}
