//! The TRANSACTION state (RFC 1939 §5, §7) on the session's snapshot of the maildrop, and the
//! UPDATE state (§6) that QUIT enters: the only place deletions reach the maildrop.

use super::{Lookup, Session, Step, Txn};
use crate::proto::{stuffing, Command, SessionState};
use crate::server::defects::Defect;
use crate::server::maildrop::Message;
use std::sync::Arc;

impl Session {
    pub(super) fn transaction(&mut self, cmd: Command, out: &mut Vec<u8>) -> Step {
        match cmd {
            Command::Stat => {
                let counts_deleted = self.has(Defect::StatCountsDeleted);
                let rows = self.rows(counts_deleted);
                let size: usize = rows.iter().map(|r| r.1).sum();
                self.ok(out, &format!("{} {size}", rows.len()))
            }
            Command::List(None) => {
                let rows = self.rows(self.has(Defect::DeletedStillListed));
                let size: usize = rows.iter().map(|r| r.1).sum();
                self.ok(out, &format!("{} messages ({size} octets)", rows.len()));
                for (n, size) in rows {
                    self.line(out, &format!("{n} {size}"));
                }
                self.end(out);
                Step::Read
            }
            Command::List(Some(n)) => match self.lookup(n) {
                Lookup::Live(i) => self.ok(out, &format!("{} {}", i + 1, self.listed_size(i))),
                Lookup::Deleted(i) if self.has(Defect::DeletedStillListed) => {
                    self.ok(out, &format!("{} {}", i + 1, self.listed_size(i)))
                }
                _ => self.no_such_message(out),
            },
            Command::Retr(n) => match self.lookup(n) {
                Lookup::Live(i) => {
                    let data = Arc::clone(&self.txn().msgs[i].data);
                    if self.refuses_8bit(&data) {
                        return self.utf8_required(out);
                    }
                    let size = data.len();
                    let data = self.as_sent(data);
                    self.ok(out, &format!("{size} octets"));
                    self.body(&data, out)
                }
                _ => self.no_such_message(out),
            },
            Command::Top(n, lines) => {
                if self.has(Defect::CapaLies) {
                    return self.err(out, None, "command not implemented");
                }
                match self.lookup(n) {
                    Lookup::Deleted(i)
                        if self.has(Defect::TopDeletedPastEnd) && lines > line_count(&self.txn().msgs[i].data) =>
                    {
                        // The "whole message" shortcut runs before the deletion check.
                        let data = self.as_sent(Arc::clone(&self.txn().msgs[i].data));
                        self.ok(out, "top of message follows");
                        self.body(&data, out)
                    }
                    Lookup::Live(i) => {
                        let data = self.as_sent(Arc::clone(&self.txn().msgs[i].data));
                        // Only what TOP sends counts: the headers of an 8-bit message are ASCII.
                        if self.refuses_8bit(top(&data, lines)) {
                            return self.utf8_required(out);
                        }
                        self.ok(out, "top of message follows");
                        self.body(top(&data, lines), out)
                    }
                    _ => self.no_such_message(out),
                }
            }
            Command::Dele(n) => match self.lookup(n) {
                Lookup::Live(i) if self.has(Defect::RemarkLost) && self.txn().unmarked[i] => {
                    // The undo journal still holds the first mark: the second is dropped.
                    self.ok(out, &format!("message {} deleted", i + 1))
                }
                Lookup::Live(i) => {
                    self.txn_mut().deleted[i] = true;
                    self.ok(out, &format!("message {} deleted", i + 1))
                }
                Lookup::Deleted(i) if self.has(Defect::DeleTwiceOk) => {
                    self.ok(out, &format!("message {} deleted", i + 1))
                }
                Lookup::Deleted(_) => self.err(out, None, "message already deleted"),
                Lookup::Missing => self.no_such_message(out),
            },
            Command::Noop => self.ok(out, ""),
            Command::Rset => {
                if !self.has(Defect::RsetNoop) {
                    let txn = self.txn_mut();
                    for (d, u) in txn.deleted.iter_mut().zip(txn.unmarked.iter_mut()) {
                        *u |= *d;
                        *d = false;
                    }
                }
                let rows = self.rows(false);
                let size: usize = rows.iter().map(|r| r.1).sum();
                self.ok(out, &format!("maildrop has {} messages ({size} octets)", rows.len()))
            }
            Command::Uidl(arg) => {
                if self.has(Defect::CapaLies) {
                    return self.err(out, None, "command not implemented");
                }
                match arg {
                    None => {
                        let rows: Vec<String> =
                            self.rows(false).iter().map(|&(n, _)| format!("{n} {}", self.uid(n - 1))).collect();
                        self.ok(out, "unique-id listing follows");
                        for r in rows {
                            self.line(out, &r);
                        }
                        self.end(out);
                        Step::Read
                    }
                    // A UIDL path that parses into an i32 and crashes past 2^31 - 1.
                    Some(n) if self.has(Defect::UidlSignedEdge) && (1u64 << 31..1u64 << 32).contains(&n) => Step::Reset,
                    Some(n) => match self.lookup(n) {
                        Lookup::Live(i) => self.ok(out, &format!("{} {}", i + 1, self.uid(i))),
                        _ => self.no_such_message(out),
                    },
                }
            }
            Command::Capa => self.capa(out),
            Command::Lang(range) if self.shared.utf8 => self.lang(range, out),
            Command::Quit => self.update(out),
            _ => self.err(out, None, "not supported"),
        }
    }

    /// QUIT from TRANSACTION: the UPDATE state removes the marked messages (RFC 1939 §6), then
    /// the lock is released and the connection closed.
    pub(super) fn update(&mut self, out: &mut Vec<u8>) -> Step {
        let Some(txn) = self.txn.take() else {
            return self.err(out, None, "session is over");
        };
        self.state = SessionState::Update;
        let doomed = doomed(&txn);
        let left = txn.msgs.len() - doomed.len();
        match txn.lease.commit(&doomed) {
            Ok(()) => self.ok(out, &format!("pop3test signing off ({left} messages left)")),
            Err(_) => self.err(out, Some("SYS/TEMP"), "some deleted messages could not be removed"),
        };
        // `txn` (and with it the lock) goes here, before the driver closes the connection.
        self.state = SessionState::Closed;
        Step::Close
    }

    pub(super) fn txn(&self) -> &Txn {
        self.txn.as_ref().expect("TRANSACTION state has a maildrop")
    }

    pub(super) fn txn_mut(&mut self) -> &mut Txn {
        self.txn.as_mut().expect("TRANSACTION state has a maildrop")
    }

    /// Message `n` (1-based) of the session's snapshot.
    pub(super) fn lookup(&self, n: u64) -> Lookup {
        let txn = self.txn();
        let n = if self.has(Defect::NumberWrap) { n & 0xFFFF_FFFF } else { n };
        if n == 0 || n > txn.msgs.len() as u64 {
            return Lookup::Missing;
        }
        let i = (n - 1) as usize;
        if txn.deleted[i] {
            Lookup::Deleted(i)
        } else {
            Lookup::Live(i)
        }
    }

    /// `(message number, listed size)` of every message not marked deleted (all with
    /// `include_deleted`).
    pub(super) fn rows(&self, include_deleted: bool) -> Vec<(usize, usize)> {
        let txn = self.txn();
        (0..txn.msgs.len())
            .filter(|&i| include_deleted || !txn.deleted[i])
            .map(|i| (i + 1, self.listed_size(i)))
            .collect()
    }

    /// The size LIST and STAT report: the exact octet count (RFC 1939 §11), or with
    /// `wrong-octets` the LF-only count.
    pub(super) fn listed_size(&self, i: usize) -> usize {
        let data = &self.txn().msgs[i].data;
        if self.has(Defect::WrongOctets) {
            data.len() - memchr::memchr_iter(b'\n', data).count()
        } else {
            data.len()
        }
    }

    pub(super) fn uid(&self, i: usize) -> String {
        let uid = &self.txn().msgs[i].uid;
        if self.has(Defect::UidlBadChars) {
            format!("msg {uid}")
        } else if self.has(Defect::UidlUnstable) {
            format!("{}-{}", &uid[..uid.len().min(48)], self.id)
        } else {
            uid.clone()
        }
    }

    pub(super) fn utf8_required(&mut self, out: &mut Vec<u8>) -> Step {
        self.err(out, Some("UTF8"), "message contains UTF-8 content; issue UTF8 first")
    }

    pub(super) fn no_such_message(&mut self, out: &mut Vec<u8>) -> Step {
        self.err(out, None, "no such message")
    }

    /// A multi-line body, byte-stuffed (RFC 1939 §3) and terminated.
    pub(super) fn body(&self, data: &[u8], out: &mut Vec<u8>) -> Step {
        if self.has(Defect::NoByteStuffing) {
            out.extend_from_slice(data);
            if !data.is_empty() && !data.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b".\r\n");
        } else {
            stuffing::stuff_into(data, out);
        }
        Step::Read
    }
}

pub(super) fn doomed(txn: &Txn) -> Vec<&Message> {
    txn.msgs.iter().zip(&txn.deleted).filter(|(_, &d)| d).map(|(m, _)| m).collect()
}

/// TOP (RFC 1939 §7): the headers, the blank line, and the first `lines` lines of the body; all
/// of it when the body is shorter.
pub(super) fn top(data: &[u8], lines: u64) -> &[u8] {
    let body_start = if data.starts_with(b"\r\n") {
        2
    } else {
        match memchr::memmem::find(data, b"\r\n\r\n") {
            Some(i) => i + 4,
            None => return data,
        }
    };
    let mut end = body_start;
    for _ in 0..lines {
        if end >= data.len() {
            break;
        }
        end = match memchr::memchr(b'\n', &data[end..]) {
            Some(i) => end + i + 1,
            None => data.len(),
        };
    }
    &data[..end]
}

/// Lines in a message (its header and body), as TOP counts them past the header.
fn line_count(data: &[u8]) -> u64 {
    data.iter().filter(|&&b| b == b'\n').count() as u64
}
