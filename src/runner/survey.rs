//! Surveying the test account's maildrop in the probe's logged-in session: STAT, the scan
//! listing, UIDL, then each message's header (for its Message-ID) and, within a budget, the whole
//! message (for its shape: dot lines, empty body, 8-bit, long lines). What comes out is an
//! [`Inventory`](crate::inventory::Inventory)'s maildrop and the observed support of TOP and UIDL,
//! so scenarios can name messages by what they are (`${mail.dot_lines}`) on whatever mail is there.
//!
//! Nothing here changes the maildrop: only STAT, LIST, UIDL, TOP and RETR are sent.

use crate::inventory::{message_id, Maildrop, MessageFacts, Shape, Support};
use crate::net::{Connection, NetError};
use crate::proto::{listing, Command, Status};

/// At most this many messages are looked at (header or whole); a maildrop with more still
/// reports its true count from STAT.
const MAX_MESSAGES: usize = 500;
/// Whole messages are retrieved up to this size each...
const MAX_RETR_OCTETS: u64 = 2 * 1024 * 1024;
/// ...and this much in all: the standard maildrop (about 1.1 MiB) is always read whole.
const RETR_BUDGET: u64 = 8 * 1024 * 1024;

/// What the survey found.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    pub maildrop: Option<Maildrop>,
    pub top: Support,
    pub uidl: Support,
}

/// Surveys the maildrop on a logged-in connection. A refused STAT or LIST leaves the maildrop
/// unknown; a network error ends the survey with what was learnt so far.
pub async fn survey(conn: &mut Connection) -> Survey {
    let mut out = Survey::default();
    let _ = run(conn, &mut out).await;
    out
}

async fn run(conn: &mut Connection, out: &mut Survey) -> Result<(), NetError> {
    let stat = conn.command(&Command::Stat).await?;
    let Ok((count, octets)) = (if stat.is_ok() { listing::parse_stat(&stat.text) } else { return Ok(()) }) else {
        return Ok(());
    };
    let list = conn.command(&Command::List(None)).await?;
    let Some(body) = list.body.as_ref().filter(|_| list.is_ok()) else { return Ok(()) };
    let (scan, _) = listing::scan_listings(body);
    let mut drop = Maildrop {
        count,
        octets,
        messages: scan
            .iter()
            .take(MAX_MESSAGES)
            .map(|l| MessageFacts { number: l.msg, size: l.octets, message_id: None, shape: None })
            .collect(),
    };
    let uidl = conn.command(&Command::Uidl(None)).await?;
    out.uidl = Support::from_ok(uidl.is_ok());
    let mut budget = RETR_BUDGET;
    // TOP is judged over every message tried: a server may refuse one message (an RFC 6856
    // server refuses 8-bit mail outside UTF-8 mode) and still implement TOP.
    let mut top_refused = 0;
    for m in &mut drop.messages {
        if m.size <= MAX_RETR_OCTETS && m.size <= budget {
            let r = conn.command(&Command::Retr(m.number)).await?;
            if let (Status::Ok, Some(b)) = (r.status, &r.body) {
                budget = budget.saturating_sub(b.data.len() as u64);
                m.shape = Some(Shape::of(&b.data));
                m.message_id = message_id(&b.data);
                continue;
            }
        }
        // Three refusals and no success: TOP is not implemented; stop asking.
        if out.top != Support::Yes && top_refused >= 3 {
            continue;
        }
        let r = conn.command(&Command::Top(m.number, 0)).await?;
        match (r.status, &r.body) {
            (Status::Ok, Some(b)) => {
                out.top = Support::Yes;
                m.message_id = message_id(&b.data);
            }
            _ => top_refused += 1,
        }
    }
    if out.top == Support::Unknown && top_refused > 0 {
        out.top = Support::No;
    }
    if out.top == Support::Unknown {
        if let Some(first) = drop.messages.first() {
            let r = conn.command(&Command::Top(first.number, 0)).await?;
            out.top = Support::from_ok(r.is_ok());
        }
    }
    out.maildrop = Some(drop);
    Ok(())
}
