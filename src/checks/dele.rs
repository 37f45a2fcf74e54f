//! DELE and the UPDATE state (RFC 1939 §5, §6): a deleted message is gone from every command for
//! the rest of the session, RSET brings it back, QUIT removes exactly the deleted messages, and a
//! session that ends any other way removes nothing.
//!
//! The non-destructive checks undo their deletions with RSET and QUIT only once STAT shows the
//! maildrop whole again; otherwise they end the session without QUIT, so a server must break
//! both RSET and the abort rule before they cost any mail.

use super::util::{brief, check, probe_each, Abort, Evidence, Faults, Session, Step};
use super::{Check, CheckInfo};
use crate::proto::listing::{ScanListing, UniqueIdListing};
use crate::proto::Command;

pub(crate) fn checks() -> Vec<Box<dyn Check>> {
    vec![Box::new(DeleHides), Box::new(RsetRestores), Box::new(QuitCommits), Box::new(AbortKeeps)]
}

const AREA: &str = "RFC 1939";
/// Every check here deletes message 1 (and puts it back, or not).
const LOGIN: &[&str] = &["credentials", "messages 1"];
const NEEDS_MAIL: &str = "needs at least one message in the maildrop";

/// What a session saw of the maildrop: STAT, the scan listing and (with UIDL) the unique-ids.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    count: u64,
    octets: u64,
    list: Vec<ScanListing>,
    uids: Option<Vec<UniqueIdListing>>,
}

impl Snapshot {
    async fn take(s: &mut Session) -> Step<Snapshot> {
        let (count, octets) = s.stat().await?;
        let list = s.list().await?;
        // Unique-ids pin down *which* messages are left; without them only sizes can. An advertised
        // UIDL that fails is the UIDL checks' finding, not a reason to stop this one.
        let uids = if s.capa.has("UIDL") {
            let r = s.cmd(&Command::Uidl(None)).await?;
            match r.body {
                Some(b) if r.is_ok() => Some(crate::proto::listing::unique_id_listings(&b).0),
                _ => {
                    s.note("UIDL refused although advertised: comparing without unique-ids");
                    None
                }
            }
        } else {
            None
        };
        Ok(Snapshot { count, octets, list, uids })
    }

    /// The maildrop after `victim` is removed and the rest renumbered.
    fn without(&self, victim: u64) -> Snapshot {
        let size = self.list.iter().find(|l| l.msg == victim).map_or(0, |l| l.octets);
        let renumber = |m: u64| if m > victim { m - 1 } else { m };
        Snapshot {
            count: self.count.saturating_sub(1),
            octets: self.octets.saturating_sub(size),
            list: self
                .list
                .iter()
                .filter(|l| l.msg != victim)
                .map(|l| ScanListing { msg: renumber(l.msg), octets: l.octets })
                .collect(),
            uids: self.uids.as_ref().map(|u| {
                u.iter()
                    .filter(|l| l.msg != victim)
                    .map(|l| UniqueIdListing { msg: renumber(l.msg), uid: l.uid.clone() })
                    .collect()
            }),
        }
    }

    /// Adds a fault per way `got` differs from `self` (the expected maildrop). Unique-ids are
    /// compared only when some survive from one snapshot to the other: when none does, they are
    /// not stable across sessions (rfc1939/uidl-stable-unique's finding) and say nothing here.
    fn compare(&self, got: &Snapshot, when: &str, f: &mut Faults) {
        self.compare_with(got, when, f, false)
    }

    /// As [`Snapshot::compare`], for a snapshot of a later session. RFC 1939 fixes sizes within a
    /// session (§4) only: a server may rewrite messages at the end of one (GNU Mailutils adds
    /// `Status:` and `X-UIDL:` headers), so across sessions the count and the unique-ids say which
    /// messages survived, and sizes are compared only when there are no unique-ids to go by.
    fn compare_later(&self, got: &Snapshot, when: &str, f: &mut Faults) {
        self.compare_with(got, when, f, true)
    }

    fn compare_with(&self, got: &Snapshot, when: &str, f: &mut Faults, later: bool) {
        let by_uid = later && self.uids.is_some() && got.uids.is_some();
        if by_uid {
            if got.count != self.count {
                f.add(format!("{when}: STAT {} messages", self.count), format!("{when}: STAT {} messages", got.count));
            }
        } else if (got.count, got.octets) != (self.count, self.octets) {
            f.add(
                format!("{when}: STAT {} {}", self.count, self.octets),
                format!("{when}: STAT {} {}", got.count, got.octets),
            );
        }
        if !by_uid && got.list != self.list {
            f.add(format!("{when}: LIST {}", show_list(&self.list)), format!("{when}: LIST {}", show_list(&got.list)));
        }
        if let (Some(want), Some(have)) = (&self.uids, &got.uids) {
            let related = want.is_empty() || have.iter().any(|h| want.iter().any(|w| w.uid == h.uid));
            if want != have && related {
                f.add(format!("{when}: UIDL {}", show_uids(want)), format!("{when}: UIDL {}", show_uids(have)));
            }
        }
    }
}

fn show_list(l: &[ScanListing]) -> String {
    let items: Vec<String> = l.iter().take(10).map(|l| format!("{}:{}", l.msg, l.octets)).collect();
    format!("[{}{}]", items.join(" "), if l.len() > 10 { " ..." } else { "" })
}

fn show_uids(l: &[UniqueIdListing]) -> String {
    let items: Vec<String> = l.iter().take(10).map(|l| format!("{}:{}", l.msg, l.uid)).collect();
    format!("[{}{}]", items.join(" "), if l.len() > 10 { " ..." } else { "" })
}

/// RSET, then QUIT only when STAT shows the maildrop whole again; otherwise end without QUIT so
/// the deletions are not committed.
async fn undo(mut s: Session, count: u64, octets: u64) {
    let restored = match s.cmd(&Command::Rset).await {
        Ok(r) if r.is_ok() => matches!(s.stat().await, Ok(x) if x == (count, octets)),
        _ => false,
    };
    if restored {
        s.close().await;
    } else {
        s.note("RSET did not restore the maildrop: ending without QUIT so nothing is removed");
        s.abort(Abort::CloseWithoutQuit).await;
    }
}

check!(
    /// RFC 1939 §5 DELE: "Any future reference to the message-number associated with the message
    /// in a POP3 command generates an error"; a second DELE of it gets `-ERR`.
    DeleHides,
    CheckInfo {
        id: "rfc1939/dele-hides",
        title: "a deleted message is gone from STAT, LIST, RETR, TOP, UIDL and DELE",
        area: AREA,
        requirements: &["1939-dele", "1939-stat", "1939-list", "1939-retr"],
        rfc_refs: &["RFC 1939 §5"],
        tags: &["dele"],
        requires: LOGIN,
        destructive: false,
    },
    dele_hides
);

async fn dele_hides(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("DELE 1, then every use of number 1").await?;
    let before = Snapshot::take(&mut s).await?;
    if before.count == 0 {
        s.close().await;
        return Ok(super::util::skip(NEEDS_MAIL));
    }
    s.ok(&Command::Dele(1)).await?;
    let mut f = Faults::new();
    let after = Snapshot::take(&mut s).await?;
    before.without(1).compare_hidden(&after, &mut f);
    let mut probes = vec![Command::List(Some(1)), Command::Retr(1)];
    if s.capa.has("TOP") {
        probes.push(Command::Top(1, 0));
    }
    if s.capa.has("UIDL") {
        probes.push(Command::Uidl(Some(1)));
    }
    probes.push(Command::Dele(1));
    let again = "DELE 1 again, then the remaining uses of number 1";
    let (s, replies) = probe_each(&ev, s, again, &[Command::Dele(1)], &probes).await?;
    let mut used = Vec::new();
    for (p, r) in probes.iter().zip(replies) {
        let shown = super::util::show(p);
        used.push(shown.clone());
        match r {
            Ok(r) if r.is_err() => {}
            Ok(r) => f.add(format!("{shown} → -ERR (message 1 is deleted)"), format!("{shown} → {}", brief(&r))),
            Err(why) => f.add(format!("{shown} → -ERR (message 1 is deleted)"), format!("{shown}: {why}")),
        }
    }
    undo(s, before.count, before.octets).await;
    Ok(f.finding(
        "a deleted message is still visible",
        format!("after DELE 1: STAT, LIST, UIDL omit it; -ERR for {}", used.join(", ")),
    ))
}

impl Snapshot {
    /// After DELE of message 1 the numbers do not shift (renumbering happens only after UPDATE):
    /// `self` is the renumbered maildrop, so compare counts and the set of remaining entries.
    fn compare_hidden(&self, got: &Snapshot, f: &mut Faults) {
        let when = "after DELE 1";
        if (got.count, got.octets) != (self.count, self.octets) {
            f.add(
                format!("{when}: STAT {} {}", self.count, self.octets),
                format!("{when}: STAT {} {}", got.count, got.octets),
            );
        }
        if got.list.iter().any(|l| l.msg == 1) || got.list.len() != self.list.len() {
            f.add(
                format!("{when}: LIST without message 1 ({} scan listings)", self.list.len()),
                format!("{when}: LIST {}", show_list(&got.list)),
            );
        }
        if let Some(u) = &got.uids {
            if u.iter().any(|l| l.msg == 1) {
                f.add(format!("{when}: UIDL without message 1"), format!("{when}: UIDL {}", show_uids(u)));
            }
        }
    }
}

check!(
    /// RFC 1939 §5 RSET: "If any messages have been marked as deleted by the POP3 server, they are
    /// unmarked."
    RsetRestores,
    CheckInfo {
        id: "rfc1939/rset-restores",
        title: "RSET unmarks every deleted message",
        area: AREA,
        requirements: &["1939-rset"],
        rfc_refs: &["RFC 1939 §5"],
        tags: &["dele"],
        requires: LOGIN,
        destructive: false,
    },
    rset_restores
);

async fn rset_restores(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("DELE, RSET, compare").await?;
    let before = Snapshot::take(&mut s).await?;
    if before.count == 0 {
        s.close().await;
        return Ok(super::util::skip(NEEDS_MAIL));
    }
    let mut victims = vec![1];
    if before.count >= 2 {
        victims.push(before.count);
    }
    for &v in &victims {
        s.ok(&Command::Dele(v)).await?;
    }
    let mut f = Faults::new();
    let r = s.cmd(&Command::Rset).await?;
    if !r.is_ok() {
        f.add("RSET → +OK", format!("RSET → {}", brief(&r)));
    }
    let after = Snapshot::take(&mut s).await?;
    before.compare(&after, "after RSET", &mut f);
    for &v in &victims {
        let r = s.cmd(&Command::Retr(v)).await?;
        if !r.is_ok() {
            f.add(format!("after RSET: RETR {v} → +OK"), format!("after RSET: RETR {v} → {}", brief(&r)));
        }
    }
    undo(s, before.count, before.octets).await;
    let shown: Vec<String> = victims.iter().map(u64::to_string).collect();
    Ok(f.finding(
        "RSET did not restore the deleted messages",
        format!("after DELE {} and RSET the maildrop is as before ({} messages)", shown.join(", "), before.count),
    ))
}

check!(
    /// RFC 1939 §6: on QUIT in TRANSACTION "the POP3 server removes all messages marked as deleted
    /// from the maildrop". Removes mail: needs `--destructive`.
    QuitCommits,
    CheckInfo {
        id: "rfc1939/quit-commits",
        title: "QUIT removes exactly the deleted messages",
        area: AREA,
        requirements: &["1939-update"],
        rfc_refs: &["RFC 1939 §6"],
        tags: &["dele", "update"],
        requires: LOGIN,
        destructive: true,
    },
    quit_commits
);

async fn quit_commits(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("DELE one message, then QUIT").await?;
    let before = Snapshot::take(&mut s).await?;
    if before.count == 0 {
        s.close().await;
        return Ok(super::util::skip(NEEDS_MAIL));
    }
    // A message in the middle, when there is one, so the survivors after it must be renumbered.
    let victim = if before.count >= 3 { 2 } else { 1 };
    s.ok(&Command::Dele(victim)).await?;
    let mut f = Faults::new();
    let r = s.quit().await?;
    if !r.is_ok() {
        f.add("QUIT → +OK (deleted messages removed)", format!("QUIT → {}", brief(&r)));
    }
    let mut s = ev.login("after QUIT: what is left").await?;
    let after = Snapshot::take(&mut s).await?;
    s.close().await;
    before.without(victim).compare_later(&after, "next session", &mut f);
    Ok(f.finding(
        "QUIT did not remove exactly the deleted message (new mail arriving during the check would also show here)",
        format!("message {victim} removed, the other {} kept and renumbered", before.count - 1),
    ))
}

check!(
    /// RFC 1939 §6: "If a session terminates for some reason other than a client-issued QUIT
    /// command, the POP3 session does not enter the UPDATE state and MUST not remove any messages
    /// from the maildrop." Safe on a correct server, but a broken one loses the deleted message:
    /// needs `--destructive`.
    AbortKeeps,
    CheckInfo {
        id: "rfc1939/abort-keeps",
        title: "a session ended without QUIT removes nothing",
        area: AREA,
        requirements: &["1939-abort"],
        rfc_refs: &["RFC 1939 §6"],
        tags: &["dele", "update"],
        requires: LOGIN,
        destructive: true,
    },
    abort_keeps
);

fn abort_name(how: Abort, tls: bool) -> &'static str {
    match (how, tls) {
        (Abort::CloseWithoutQuit, true) => "TLS close_notify without QUIT",
        (Abort::CloseWithoutQuit, false) => "TCP close (FIN) without QUIT",
        (Abort::Drop, true) => "TCP close without QUIT or TLS close_notify",
        (Abort::Drop, false) => "connection dropped without QUIT",
        (Abort::Reset, _) => "TCP reset (RST) without QUIT",
    }
}

async fn abort_keeps(ev: Evidence<'_>) -> Step {
    let mut f = Faults::new();
    let mut done = Vec::new();
    let mut variants: Option<[Abort; 2]> = None;
    for i in 0..2 {
        let mut s = ev.login("DELE 1, then end without QUIT").await?;
        let tls = s.is_tls();
        // A TLS session can end with or without close_notify; a cleartext one with FIN or RST.
        let how = variants.get_or_insert(if tls {
            [Abort::CloseWithoutQuit, Abort::Drop]
        } else {
            [Abort::CloseWithoutQuit, Abort::Reset]
        })[i];
        let before = Snapshot::take(&mut s).await?;
        if before.count == 0 {
            s.close().await;
            return Ok(super::util::skip(NEEDS_MAIL));
        }
        s.ok(&Command::Dele(1)).await?;
        let name = abort_name(how, tls);
        s.abort(how).await;
        // A locking server refuses this login until it has noticed the end of the session above
        // ([IN-USE], retried within the login budget), so no sleep is needed to wait for it.
        let mut s = ev.login(&format!("after {name}: nothing removed")).await?;
        let after = Snapshot::take(&mut s).await?;
        s.close().await;
        before.compare_later(&after, &format!("after DELE 1 and {name}"), &mut f);
        done.push(name);
    }
    Ok(f.finding(
        "a session ended without QUIT removed messages",
        format!("nothing removed after: {}", done.join("; ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(sizes: &[u64]) -> Snapshot {
        Snapshot {
            count: sizes.len() as u64,
            octets: sizes.iter().sum(),
            list: sizes.iter().enumerate().map(|(i, &o)| ScanListing { msg: i as u64 + 1, octets: o }).collect(),
            uids: Some((0..sizes.len()).map(|i| UniqueIdListing { msg: i as u64 + 1, uid: format!("u{i}") }).collect()),
        }
    }

    #[test]
    fn without_renumbers_the_survivors() {
        let after = snap(&[10, 20, 30]).without(2);
        assert_eq!((after.count, after.octets), (2, 40));
        assert_eq!(after.list, vec![ScanListing { msg: 1, octets: 10 }, ScanListing { msg: 2, octets: 30 }]);
        assert_eq!(after.uids.unwrap()[1], UniqueIdListing { msg: 2, uid: "u2".into() });
    }

    #[test]
    fn compare_reports_each_difference() {
        let want = snap(&[10, 20, 30]);
        let mut f = Faults::new();
        want.compare(&want.clone(), "x", &mut f);
        assert!(f.is_empty());
        want.compare(&snap(&[10, 20]), "x", &mut f);
        assert_eq!(f.len(), 3, "STAT, LIST and UIDL differ");
    }

    #[test]
    fn a_later_session_is_judged_by_unique_ids_not_by_rewritten_sizes() {
        let want = snap(&[10, 20, 30]);
        let mut rewritten = want.clone();
        for l in &mut rewritten.list {
            l.octets += 40;
        }
        rewritten.octets += 120;
        let mut f = Faults::new();
        want.compare_later(&rewritten, "x", &mut f);
        assert!(f.is_empty(), "headers added between sessions are not a removal");
        want.compare(&rewritten, "x", &mut f);
        assert_eq!(f.len(), 2, "within a session the sizes must not change");
        let mut f = Faults::new();
        want.compare_later(&want.without(2), "x", &mut f);
        assert_eq!(f.len(), 2, "a message gone: count and unique-ids");
    }

    #[test]
    fn unique_ids_that_all_changed_are_not_blamed_on_update() {
        let want = snap(&[10, 20, 30]);
        let mut fresh = want.clone();
        for u in fresh.uids.as_mut().unwrap() {
            u.uid.push_str("-new");
        }
        let mut f = Faults::new();
        want.compare(&fresh, "x", &mut f);
        assert!(f.is_empty(), "unstable unique-ids are rfc1939/uidl-stable-unique's finding");
    }

    #[test]
    fn hidden_message_must_leave_listings() {
        let before = snap(&[10, 20, 30]);
        let mut still_listed = before.clone();
        still_listed.count = 2;
        still_listed.octets = 50;
        let mut f = Faults::new();
        before.without(1).compare_hidden(&still_listed, &mut f);
        assert_eq!(f.len(), 2, "LIST and UIDL still show message 1");
    }
}
