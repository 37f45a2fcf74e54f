//! UIDL (RFC 1939 §7): unique-ids are well-formed, unique in the maildrop, the same in every
//! session, and `UIDL n` says what the unique-id listing says.

use super::util::{brief, check, walked, Evidence, Faults, Step, MAX_MESSAGES};
use super::{Check, CheckInfo};
use crate::proto::listing::{self, UniqueIdListing};
use crate::proto::{Command, Violation};
use std::collections::HashMap;

pub(crate) fn checks() -> Vec<Box<dyn Check>> {
    vec![Box::new(UidlStableUnique), Box::new(UidlFormat), Box::new(UidlSingleLine)]
}

const AREA: &str = "RFC 1939";
const NEEDS: &[&str] = &["credentials", "UIDL"];

check!(
    /// RFC 1939 §7: "The unique-id of a message is an arbitrary server-determined string ... which
    /// uniquely identifies a message within a maildrop and which persists across sessions."
    UidlStableUnique,
    CheckInfo {
        id: "rfc1939/uidl-stable-unique",
        title: "unique-ids are unique and the same in a second session",
        area: AREA,
        requirements: &["1939-uidl-unique"],
        rfc_refs: &["RFC 1939 §7"],
        tags: &["uidl"],
        requires: NEEDS,
        destructive: false,
    },
    uidl_stable_unique
);

/// Unique-ids that more than one message carries, with their message numbers.
pub fn duplicates(l: &[UniqueIdListing]) -> Vec<(String, Vec<u64>)> {
    let mut by_uid: HashMap<&str, Vec<u64>> = HashMap::new();
    for e in l {
        by_uid.entry(&e.uid).or_default().push(e.msg);
    }
    let mut d: Vec<(String, Vec<u64>)> =
        by_uid.into_iter().filter(|(_, m)| m.len() > 1).map(|(u, m)| (u.to_string(), m)).collect();
    d.sort_by_key(|(_, m)| m[0]);
    d
}

async fn uidl_stable_unique(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("UIDL, first session").await?.requiring("UIDL").await?;
    let (first, _) = s.uidl().await?;
    s.close().await;
    let mut s = ev.login("UIDL, second session").await?;
    let (second, _) = s.uidl().await?;
    s.close().await;
    let mut f = Faults::new();
    for (uid, msgs) in duplicates(&first) {
        f.add(format!("unique-id {uid} on one message"), format!("unique-id {uid} on messages {msgs:?}"));
    }
    let again: HashMap<u64, &str> = second.iter().map(|l| (l.msg, l.uid.as_str())).collect();
    let mut changed = 0;
    for l in &first {
        let now = again.get(&l.msg).copied();
        if now != Some(l.uid.as_str()) {
            changed += 1;
            if changed <= 5 {
                f.add(
                    format!("message {}: unique-id {} in both sessions", l.msg, l.uid),
                    format!("message {}: {} in the second session", l.msg, now.unwrap_or("(not listed)")),
                );
            }
        }
    }
    if first.len() != second.len() {
        f.add(
            format!("{} unique-id listings in both sessions", first.len()),
            format!("{} in the second", second.len()),
        );
    }
    if changed > 5 {
        ev.note(format!("{changed} unique-ids changed between sessions; the first 5 are listed"));
    }
    Ok(f.finding(
        "unique-ids are not unique or not stable across sessions",
        format!("{} unique-ids, all distinct and the same in two sessions", first.len()),
    ))
}

check!(
    /// RFC 1939 §7: "The unique-id of a message ... consists of one to 70 characters in the range
    /// 0x21 to 0x7E", in both the `UIDL` listing and `UIDL n`.
    UidlFormat,
    CheckInfo {
        id: "rfc1939/uidl-format",
        title: "every unique-id is 1-70 characters of 0x21-0x7E",
        area: AREA,
        requirements: &["1939-uidl-format"],
        rfc_refs: &["RFC 1939 §7"],
        tags: &["uidl"],
        requires: NEEDS,
        destructive: false,
    },
    uidl_format
);

fn add_violation(f: &mut Faults, v: &Violation, source: &str) {
    f.add(format!("{source}: msg SP unique-id, 1-70 characters of 0x21-0x7E"), format!("{source}: {v}"));
}

async fn uidl_format(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("UIDL listing and UIDL n").await?.requiring("UIDL").await?;
    let (list, violations) = s.uidl().await?;
    let mut f = Faults::new();
    for v in &violations {
        add_violation(&mut f, v, "UIDL");
    }
    for l in list.iter().take(MAX_MESSAGES as usize) {
        let r = s.ok(&Command::Uidl(Some(l.msg))).await?;
        let (_, vs) = listing::parse_unique_id_listing(&r.text);
        for v in &vs {
            add_violation(&mut f, v, &format!("UIDL {}", l.msg));
        }
    }
    s.close().await;
    Ok(f.finding("malformed unique-id", format!("{} unique-ids well-formed in the listing and in UIDL n", list.len())))
}

check!(
    /// RFC 1939 §7 UIDL: with an argument, "a line containing information for that message. This
    /// line is called a "unique-id listing" for that message" — the same the listing gives.
    UidlSingleLine,
    CheckInfo {
        id: "rfc1939/uidl-single-line",
        title: "UIDL n agrees with the UIDL listing, and the listing numbers agree with LIST",
        area: AREA,
        requirements: &["1939-uidl-unique"],
        rfc_refs: &["RFC 1939 §7"],
        tags: &["uidl"],
        requires: NEEDS,
        destructive: false,
    },
    uidl_single_line
);

async fn uidl_single_line(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("UIDL, UIDL n and LIST").await?.requiring("UIDL").await?;
    let (list, _) = s.uidl().await?;
    let scan = s.list().await?;
    let mut f = Faults::new();
    let uidl_numbers: Vec<u64> = list.iter().map(|l| l.msg).collect();
    let list_numbers: Vec<u64> = scan.iter().map(|l| l.msg).collect();
    if uidl_numbers != list_numbers {
        f.add(format!("UIDL lists the messages LIST lists: {list_numbers:?}"), format!("UIDL lists {uidl_numbers:?}"));
    }
    for l in list.iter().take(MAX_MESSAGES as usize) {
        let r = s.cmd(&Command::Uidl(Some(l.msg))).await?;
        let want = format!("UIDL {} → +OK {} {}", l.msg, l.msg, l.uid);
        match listing::parse_unique_id_listing(&r.text) {
            (Some(one), _) if r.is_ok() && one == *l => {}
            _ => f.add(want, format!("UIDL {} → {}", l.msg, brief(&r))),
        }
    }
    s.close().await;
    Ok(f.finding(
        "UIDL n disagrees with the unique-id listing",
        format!("UIDL n matches the listing for {}", walked(list.len() as u64)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_duplicate_unique_ids() {
        let l = |msg, uid: &str| UniqueIdListing { msg, uid: uid.into() };
        assert!(duplicates(&[l(1, "a"), l(2, "b")]).is_empty());
        assert_eq!(duplicates(&[l(1, "a"), l(2, "b"), l(3, "a")]), vec![("a".to_string(), vec![1, 3])]);
    }
}
