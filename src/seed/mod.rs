//! `pop3test seed`: puts pop3test's standard maildrop (`server::seed::default_messages`) into a
//! real server's store, so that checks needing known content (`requires: [seed]`) can run there.
//! Stores: a Maildir ([`maildir`]), an mbox file ([`mbox`]), or delivery over LMTP or SMTP
//! ([`deliver`]) for any server, with the maildrop read over POP3 ([`pop3`]).
//!
//! Idempotent: a standard message is recognised by its Message-ID (`<pop3test-N@example.org>`)
//! and only the missing ones are added, in order, so a fresh store numbers them 1..6. `--reset`
//! empties the mailbox first (every message, not only ours).

pub mod deliver;
pub mod maildir;
pub mod mbox;
pub mod owner;
pub mod pop3;

use crate::inventory::{message_id, seed_message_id, SEED_MESSAGES};

/// The standard messages (1-based number, CRLF octets) whose Message-ID is not in `present`.
pub fn missing(present: &[String]) -> Vec<(usize, Vec<u8>)> {
    crate::server::seed::default_messages()
        .into_iter()
        .enumerate()
        .map(|(i, m)| (i + 1, m))
        .filter(|(n, _)| {
            let id = seed_message_id(*n);
            !present.iter().any(|p| p.eq_ignore_ascii_case(&id))
        })
        .collect()
}

/// The Message-ID of a stored message (LF or CRLF line ends), read from its header only.
pub fn stored_id(message: &[u8]) -> Option<String> {
    message_id(message)
}

/// What a seeding did, for the one line it prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// Messages removed by `--reset`.
    pub removed: usize,
    /// Standard messages that were already there.
    pub present: usize,
    /// Standard messages added now.
    pub added: usize,
}

impl Seeded {
    pub fn line(&self, user: &str, place: &str) -> String {
        let reset =
            if self.removed > 0 { format!("removed {} message(s), then ", self.removed) } else { String::new() };
        if self.added == 0 {
            format!(
                "seed: {user}: {reset}{} of {SEED_MESSAGES} standard messages already in {place}, nothing to add",
                self.present
            )
        } else {
            format!(
                "seed: {user}: {reset}added {} standard message(s) to {place} ({} were there)",
                self.added, self.present
            )
        }
    }
}

/// Why seeding failed, as a sentence that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Delivery(String),
    #[error("{0}")]
    Pop3(String),
    #[error("{0}")]
    Usage(String),
}

impl SeedError {
    pub fn io(what: impl std::fmt::Display, e: std::io::Error) -> SeedError {
        SeedError::Io(format!("{what}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_leaves_out_what_is_present_whatever_the_case() {
        assert_eq!(missing(&[]).len(), SEED_MESSAGES);
        let present = vec![seed_message_id(2).to_uppercase(), "<other@x>".to_string()];
        let m: Vec<usize> = missing(&present).into_iter().map(|(n, _)| n).collect();
        assert_eq!(m, [1, 3, 4, 5, 6]);
    }
}
