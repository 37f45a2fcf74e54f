//! How much of an audit's time was the server's own doing. Servers delay their replies to logins
//! on purpose (a failed-login delay: Courier 5 s, Dovecot 2 s plus its auth penalty) and the audit
//! has to wait them out; a report that only said "took 20 s" would blame the tool. Read from the
//! evidence after the run: the time between a login command (PASS, APOP, AUTH and its
//! continuations) and the server's reply to it, beyond [`NOTICEABLE`], in the slowest finding.

use crate::results::CheckResult;
use crate::transcript::{Direction, Entry};

/// A reply quicker than this is a round trip, not a delay.
pub const NOTICEABLE_MS: f64 = 300.0;

/// Milliseconds a transcript spent waiting for delayed replies to login commands.
pub fn login_waits_ms(transcript: &[Entry]) -> f64 {
    let mut waited = 0.0;
    let mut pending: Option<f64> = None;
    for e in transcript {
        match e.dir {
            Direction::Client => {
                pending = is_login(&e.text).then_some(e.t_ms);
            }
            Direction::Server => {
                if let Some(sent) = pending.take() {
                    let took = e.t_ms - sent;
                    if took >= NOTICEABLE_MS {
                        waited += took;
                    }
                }
            }
            // A session header: the next session's clock starts again.
            Direction::Note => {
                if e.text.starts_with("== ") {
                    pending = None;
                }
            }
        }
    }
    waited
}

/// Whether a client entry is a login command or an AUTH continuation (credentials are already
/// `<redacted>` in transcripts; `*` cancels an exchange, and servers delay that reply too).
fn is_login(text: &str) -> bool {
    let first = text.split("\\r\\n").next().unwrap_or("");
    let kw = first.split(' ').next().unwrap_or("").to_ascii_uppercase();
    matches!(kw.as_str(), "PASS" | "APOP" | "AUTH" | "*") || first == crate::transcript::REDACTED
}

/// A sentence for the report when the slowest finding waited noticeably for the server:
/// "A05 took 5.3 s, 5.0 s of it the server's delays in answering logins".
pub fn note(results: &[CheckResult]) -> Option<String> {
    let slowest = results.iter().max_by(|a, b| a.duration_ms.total_cmp(&b.duration_ms))?;
    let waited = login_waits_ms(&slowest.transcript);
    (waited >= NOTICEABLE_MS).then(|| {
        format!(
            "the slowest finding, {}, took {:.1} s, {:.1} s of it waiting for the server's delayed replies to logins \
             (its failed-login delay or penalty)",
            slowest.id,
            slowest.duration_ms / 1000.0,
            waited.min(slowest.duration_ms) / 1000.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(t_ms: f64, dir: Direction, text: &str) -> Entry {
        Entry { t_ms, dir, tls: false, text: text.into() }
    }

    #[test]
    fn delayed_replies_to_login_commands_are_counted_per_session() {
        let t = vec![
            e(0.0, Direction::Note, "== AUTH NTLM before TLS =="),
            e(1.0, Direction::Client, "AUTH NTLM\\r\\n"),
            e(5001.0, Direction::Server, "-ERR Authentication failed.\\r\\n"),
            e(5002.0, Direction::Client, "NOOP\\r\\n"),
            e(6000.0, Direction::Server, "+OK\\r\\n"),
            e(0.0, Direction::Note, "== USER/PASS =="),
            e(1.0, Direction::Client, "PASS <redacted>\\r\\n"),
            e(101.0, Direction::Server, "+OK\\r\\n"),
        ];
        assert_eq!(login_waits_ms(&t), 5000.0, "a slow NOOP and a quick PASS are not the server's delay");
    }
}
