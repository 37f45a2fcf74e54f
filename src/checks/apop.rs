//! APOP (RFC 1939 §7): the greeting's timestamp differs on every connection (a repeated one makes
//! captured digests replayable), and the digest of timestamp and secret logs in.

use super::util::{brief, check, fail, pass, skip, Evidence, Faults, Step};
use super::{Check, CheckInfo};
use crate::net::session::LoginMethod;

pub(crate) fn checks() -> Vec<Box<dyn Check>> {
    vec![Box::new(ApopTimestamp), Box::new(ApopLogin)]
}

const AREA: &str = "RFC 1939";
const NO_APOP: &str = "the greeting carries no APOP timestamp: APOP is not offered";
/// Greetings compared. Five distinct connections catch a fixed or a slowly changing timestamp
/// (e.g. one derived from the clock's seconds) without hammering the server.
const GREETINGS: usize = 5;

check!(
    /// RFC 1939 §7: "the POP3 server ... must ensure that the timestamp is different every time
    /// the banner greeting is issued" — a timestamp in the greeting is how a server offers APOP.
    ApopTimestamp,
    CheckInfo {
        id: "rfc1939/apop-timestamp",
        title: "every greeting carries a different APOP <timestamp>",
        area: AREA,
        requirements: &["1939-apop-timestamp"],
        rfc_refs: &["RFC 1939 §7"],
        tags: &["apop"],
        requires: &[],
        destructive: false,
    },
    apop_timestamp
);

/// Faults in a run of greeting timestamps: a missing one, or one seen before.
pub fn timestamp_faults(stamps: &[Option<String>]) -> Faults {
    let mut f = Faults::new();
    for (i, ts) in stamps.iter().enumerate() {
        let n = i + 1;
        match ts {
            None => f.add(format!("greeting {n} with a <timestamp>"), format!("greeting {n} without one")),
            Some(t) => {
                if let Some(j) = stamps[..i].iter().position(|p| p.as_deref() == Some(t.as_str())) {
                    f.add(
                        format!("greeting {n}: a new timestamp"),
                        format!("greeting {n}: {t}, as greeting {}", j + 1),
                    );
                }
            }
        }
    }
    f
}

async fn apop_timestamp(ev: Evidence<'_>) -> Step {
    let mut stamps = Vec::with_capacity(GREETINGS);
    for i in 0..GREETINGS {
        let s = ev.greet(&format!("greeting {} of {GREETINGS}", i + 1)).await?;
        let ts = s.timestamp.clone();
        s.close().await;
        if i == 0 && ts.is_none() {
            return Ok(skip(NO_APOP));
        }
        stamps.push(ts);
    }
    Ok(timestamp_faults(&stamps).finding(
        "the APOP timestamp repeats across connections (captured digests can be replayed)",
        format!("{GREETINGS} greetings, {GREETINGS} different timestamps"),
    ))
}

check!(
    /// RFC 1939 §7 APOP: the digest is MD5 of the greeting's timestamp followed by the shared
    /// secret, in lower-case hex; with the right digest the server enters TRANSACTION.
    ApopLogin,
    CheckInfo {
        id: "rfc1939/apop-login",
        title: "APOP with the digest of the greeting's timestamp logs in",
        area: AREA,
        requirements: &["1939-apop-timestamp"],
        rfc_refs: &["RFC 1939 §7"],
        tags: &["apop", "login"],
        requires: &["credentials"],
        destructive: false,
    },
    apop_login
);

async fn apop_login(ev: Evidence<'_>) -> Step {
    // A plain login first: it proves the credentials, so a refused APOP is APOP's fault.
    let probe = ev.login("the credentials work; does the greeting offer APOP?").await?;
    let offered = probe.timestamp.is_some();
    probe.close().await;
    if !offered {
        return Ok(skip(NO_APOP));
    }
    // Connects per the user's STLS policy, so a server that wants TLS before any login gets it.
    let (s, outcome) = ev.login_with_secret("APOP login", LoginMethod::Apop, ev.ctx.apop_secret.as_ref()).await?;
    s.close().await;
    let r = &outcome.response;
    Ok(match (r.is_ok(), &ev.ctx.apop_secret) {
        (true, _) => pass("APOP with MD5(timestamp + secret) logged in"),
        (false, Some(_)) => fail(
            "APOP name digest → +OK",
            format!("APOP → {}", brief(r)),
            "APOP with the digest of the greeting's timestamp and the account's APOP secret was refused \
             although the greeting offers APOP",
        ),
        (false, None) => skip(format!(
            "APOP with MD5(timestamp + login password) was refused ({}): RFC 1939 §7 does not make the APOP \
             secret the login password, so this cannot be judged; pass --apop-secret-env VAR with the \
             account's APOP secret",
            brief(r)
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_or_missing_timestamps_are_faults() {
        let ts = |s: &str| Some(s.to_string());
        assert!(timestamp_faults(&[ts("<1@a>"), ts("<2@a>"), ts("<3@a>")]).is_empty());
        assert_eq!(timestamp_faults(&[ts("<1@a>"), ts("<1@a>"), ts("<1@a>")]).len(), 2);
        assert_eq!(timestamp_faults(&[ts("<1@a>"), None]).len(), 1);
    }
}
