//! The maildrop lock (RFC 1939 §4, §7; RFC 2449 §8.1.1): while one session holds the maildrop, a
//! second login for the same user is refused, ideally with `[IN-USE]`.

use super::util::{brief, check, default_method, fail, pass, Evidence, Step};
use super::{Check, CheckInfo};
use crate::net::session;
use crate::proto::Command;

pub(crate) fn checks() -> Vec<Box<dyn Check>> {
    vec![Box::new(MaildropLock)]
}

check!(
    /// RFC 1939 §4: "the POP3 server then acquires an exclusive-access lock on the maildrop";
    /// §7 PASS: "-ERR maildrop already locked". RFC 2449 §8.1.1: `[IN-USE]` says the credentials
    /// were fine and the maildrop is locked.
    MaildropLock,
    CheckInfo {
        id: "rfc1939/maildrop-lock",
        title: "a second session for a logged-in user is refused ([IN-USE])",
        area: "RFC 1939",
        requirements: &["1939-lock", "2449-in-use"],
        rfc_refs: &["RFC 1939 §4", "RFC 1939 §7", "RFC 2449 §8.1.1"],
        tags: &["lock"],
        requires: &["credentials"],
        destructive: false,
    },
    maildrop_lock
);

async fn maildrop_lock(ev: Evidence<'_>) -> Step {
    let creds = ev.creds()?;
    let mut first = ev.login("first session, holds the maildrop").await?;
    let mut second = ev.connect("second session, same user").await?;
    let method = default_method(&second.capa);
    let ts = second.timestamp.clone();
    // One attempt, no retry: the refusal itself is what this check looks at.
    let outcome = session::login(second.conn(), creds, method, ts.as_deref())
        .await
        .map_err(|e| second.net_error(e, method.name()))?;
    second.close().await;
    // The first session must be unharmed by the attempt.
    let still = first.cmd(&Command::Noop).await?;
    first.close().await;
    let r = &outcome.response;
    let finding = if r.is_ok() {
        fail(
            "-ERR [IN-USE] to the second login while the first session holds the maildrop",
            format!("{} → {}", method.name(), brief(r)),
            "a second session for the same user was let in: the maildrop is not locked (RFC 1939 §4). Many \
             servers relax this on purpose (e.g. Dovecot allows several sessions); if yours does, treat this \
             as known",
        )
    } else if r.code.as_ref().is_some_and(|c| c.is("AUTH")) {
        fail(
            "-ERR [IN-USE] (credentials fine, maildrop locked)",
            brief(r),
            "the refusal says the credentials were wrong ([AUTH]), though they just worked (RFC 2449 §8.1.1)",
        )
    } else if !still.is_ok() {
        fail(
            "NOOP → +OK in the first session",
            format!("NOOP → {}", brief(&still)),
            "the lock broke the session holding it",
        )
    } else if r.code.as_ref().is_some_and(|c| c.is("IN-USE")) {
        pass(format!("second login refused: {}", brief(r)))
    } else {
        pass(format!(
            "second login refused: {} (without [IN-USE], a client cannot tell a lock from a bad password)",
            brief(r)
        ))
    };
    Ok(finding)
}
