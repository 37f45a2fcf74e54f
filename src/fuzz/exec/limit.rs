//! How many errors in a row the server allows before it hangs up: learnt once, exactly, before
//! the sweep (its cells are mostly errors before login).

use super::{Env, Session};
use crate::fuzz::oracle::announces_close;
use crate::proto::Expect;

impl Session {
    /// Sends unknown commands one at a time, up to `max`, and watches after each reply for the
    /// server hanging up (or announcing it): `Some((n, text))` when it closes after the `n`-th
    /// error (`text`: its last `-ERR`), `None` when it never does or answers `+OK`. Exact where
    /// [`Session::run`]'s count is not: a parting `-ERR` sent unprompted after the `n`-th reply
    /// (Dovecot: `Too many invalid bad commands.` after the 3rd) is not a reply to anything.
    pub async fn error_limit(&mut self, env: &Env, max: u32) -> Option<(u32, String)> {
        let mut last = String::new();
        for n in 1..=max {
            if self.conn.send_raw(b"XFUZ\r\n").await.is_err() {
                return (n > 1).then_some((n - 1, last));
            }
            let r = match self.conn.read_response(Expect::SingleLine).await {
                Ok(r) => r,
                Err(_) => return (n > 1).then_some((n - 1, last)),
            };
            if !r.is_err() {
                return None;
            }
            last = r.text.clone();
            if announces_close(&r.text) {
                return Some((n, last));
            }
            match self.conn.read_unsolicited(env.settle).await {
                Ok(None) => {}
                Ok(Some(data)) => {
                    let parting = String::from_utf8_lossy(&data);
                    let text = parting.trim_end().trim_start_matches("-ERR").trim().to_string();
                    return Some((n, if text.is_empty() { last } else { text }));
                }
                Err(_) => return Some((n, last)),
            }
        }
        None
    }
}
