//! PIPELINING (RFC 2449 §6.6): a login and transaction commands sent in one write each get their
//! own reply, in order, none dropped — the classic bug is a server that discards what arrived in
//! the same read as PASS.

use super::util::{brief, check, error, Evidence, Faults, Session, Step};
use super::{Check, CheckInfo};
use crate::net::session::{Credentials, StlsPolicy};
use crate::net::NetError;
use crate::proto::{listing, Command, Response};

pub(crate) fn checks() -> Vec<Box<dyn Check>> {
    vec![Box::new(Pipelining)]
}

check!(
    /// RFC 2449 §6.6: "The POP3 server may respond to commands in a pipelined fashion ... the
    /// server MUST process the commands in order" — one reply per command, none lost.
    Pipelining,
    CheckInfo {
        id: "rfc2449/pipelining",
        title: "USER, PASS, STAT, LIST 1 and QUIT in one write each get their reply, in order",
        area: "RFC 2449",
        requirements: &["2449-pipelining"],
        rfc_refs: &["RFC 2449 §6.6"],
        tags: &["pipelining"],
        requires: &["credentials", "PIPELINING"],
        destructive: false,
    },
    pipelining
);

fn batch(creds: &Credentials) -> [Command; 5] {
    [
        Command::User(creds.user.clone()),
        Command::Pass(creds.password.expose().to_string()),
        Command::Stat,
        Command::List(Some(1)),
        Command::Quit,
    ]
}

/// The replies that came, and why the rest did not (timeout or close), if any is missing.
struct Outcome {
    replies: Vec<Response>,
    cut: Option<String>,
}

impl Outcome {
    fn login_refused(&self) -> bool {
        self.replies.iter().take(2).any(|r| !r.is_ok())
    }
}

/// Writes the whole batch at once, then reads one reply per command. A timeout or a close before
/// the last reply is the server's doing here (commands were dropped), not the tester's.
async fn send_batch(s: &mut Session, cmds: &[Command]) -> Step<Outcome> {
    let mut wire = Vec::new();
    for c in cmds {
        c.encode_into(&mut wire);
    }
    s.conn().send_raw(&wire).await.map_err(|e| s.net_error(e, "the pipelined batch"))?;
    let mut replies = Vec::with_capacity(cmds.len());
    for c in cmds {
        match s.conn().read_response(c.expect()).await {
            Ok(r) => replies.push(r),
            Err(e @ (NetError::Timeout { .. } | NetError::Slow { .. })) => {
                return Ok(Outcome { replies, cut: Some(e.to_string()) })
            }
            Err(e) if e.is_disconnect() => return Ok(Outcome { replies, cut: Some(e.to_string()) }),
            Err(e) => return Err(s.net_error(e, "the pipelined batch")),
        }
    }
    Ok(Outcome { replies, cut: None })
}

/// Checks each reply against the command it answers: a dropped reply shifts the ones after it,
/// so `LIST 1` would get QUIT's `+OK` — which is not a scan listing.
fn judge(cmds: &[Command], o: &Outcome) -> Faults {
    let mut f = Faults::new();
    let mut count = None;
    for (i, c) in cmds.iter().enumerate() {
        let shown = super::util::show(c);
        let Some(r) = o.replies.get(i) else {
            let why = o.cut.as_deref().unwrap_or("no reply");
            f.add(format!("a reply to {shown}"), format!("none: {why}"));
            continue;
        };
        let fault = match c {
            Command::Stat => match listing::parse_stat(&r.text) {
                Ok((n, _)) if r.is_ok() => {
                    count = Some(n);
                    None
                }
                _ => Some("+OK nn mm"),
            },
            Command::List(Some(m)) => {
                let single = listing::parse_scan_listing(&r.text).ok();
                match count {
                    Some(n) if n >= *m => (!r.is_ok() || single.map(|l| l.msg) != Some(*m)).then_some("+OK 1 size"),
                    Some(_) => (!r.is_err()).then_some("-ERR (no message 1)"),
                    None => (!r.is_ok() && !r.is_err()).then_some("+OK or -ERR"),
                }
            }
            _ => (!r.is_ok()).then_some("+OK"),
        };
        if let Some(want) = fault {
            f.add(format!("{shown} → {want}"), format!("{shown} → {}", brief(r)));
        }
    }
    f
}

async fn pipelining(ev: Evidence<'_>) -> Step {
    let creds = ev.creds()?;
    let cmds = batch(creds);
    let mut s = ev.connect("pipelined login and commands").await?.requiring("PIPELINING").await?;
    let mut o = send_batch(&mut s, &cmds).await?;
    if o.login_refused() && o.cut.is_none() && !s.is_tls() && s.capa_initial.has("STLS") {
        // Cleartext logins refused before TLS: pipeline the same batch inside TLS.
        s.hang_up().await;
        s = ev.open("pipelined login after STLS", StlsPolicy::Always, false).await?.requiring("PIPELINING").await?;
        o = send_batch(&mut s, &cmds).await?;
    }
    s.hang_up().await;
    if o.login_refused() && o.cut.is_none() {
        let r = o.replies.iter().take(2).find(|r| !r.is_ok()).map(brief).unwrap_or_default();
        return Err(error(format!("the pipelined login was refused ({r}) — check the test credentials")));
    }
    let n = o.replies.len();
    Ok(judge(&cmds, &o).finding(
        "pipelined commands did not each get their reply in order",
        format!("{n} pipelined commands, {n} replies in order"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::session::Secret;
    use crate::proto::response::decode;
    use crate::proto::{Decoded, Expect, Limits};

    fn reply(wire: &str, expect: Expect) -> Response {
        match decode(wire.as_bytes(), expect, Limits::default()).unwrap() {
            Decoded::Complete(r, _) => r,
            Decoded::Incomplete => panic!("{wire}"),
        }
    }

    fn cmds() -> [Command; 5] {
        batch(&Credentials { user: "mrose".into(), password: Secret::new("tanstaaf") })
    }

    #[test]
    fn all_replies_in_order_pass() {
        let replies = ["+OK\r\n", "+OK\r\n", "+OK 2 320\r\n", "+OK 1 120\r\n", "+OK bye\r\n"];
        let o = Outcome { replies: replies.iter().map(|w| reply(w, Expect::SingleLine)).collect(), cut: None };
        assert!(judge(&cmds(), &o).is_empty());
    }

    #[test]
    fn dropped_commands_are_faults() {
        let o = Outcome {
            replies: vec![reply("+OK\r\n", Expect::SingleLine), reply("+OK\r\n", Expect::SingleLine)],
            cut: Some("timed out".into()),
        };
        assert_eq!(judge(&cmds(), &o).len(), 3, "STAT, LIST 1 and QUIT unanswered");
    }

    #[test]
    fn shifted_reply_is_caught() {
        // LIST 1's reply lost: it gets QUIT's reply, and QUIT gets none.
        let replies = ["+OK\r\n", "+OK\r\n", "+OK 2 320\r\n", "+OK bye\r\n"];
        let o = Outcome {
            replies: replies.iter().map(|w| reply(w, Expect::SingleLine)).collect(),
            cut: Some("closed".into()),
        };
        assert_eq!(judge(&cmds(), &o).len(), 2, "LIST 1 got QUIT's reply, QUIT got none");
    }
}
