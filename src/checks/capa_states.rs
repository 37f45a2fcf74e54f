//! CAPA across states (RFC 2449 §5, §6): what AUTHORIZATION lists is still listed after login,
//! every advertised TOP, UIDL, USER and SASL mechanism works, and after login LOGIN-DELAY and
//! EXPIRE carry concrete values (no `USER`).

use super::util::{brief, check, error, skip, Evidence, Faults, Session, Step};
use super::{Check, CheckInfo};
use crate::net::session::{self, LoginMethod};
use crate::proto::{Capabilities, Capability, Command, Response, Violation};

pub(crate) fn checks() -> Vec<Box<dyn Check>> {
    vec![Box::new(CapaStates), Box::new(TagsTrue), Box::new(CapaSyntax)]
}

const AREA: &str = "RFC 2449";
const LOGIN: &[&str] = &["credentials"];
const NO_CAPA: &str = "the server lists no capabilities (CAPA) in AUTHORIZATION";

/// Capabilities that may legitimately leave the list after login: STLS is only valid in
/// AUTHORIZATION (RFC 2595 §4), and USER and SASL announce login methods, which servers commonly
/// withdraw once logged in.
const MAY_CHANGE: &[&str] = &["STLS", "USER", "SASL"];

/// CAPA in TRANSACTION: the listing, its reply, and the violations in it.
async fn capa_after_login(s: &mut Session) -> Step<(Capabilities, Response, Vec<Violation>)> {
    match session::capa(s.conn()).await {
        Ok(x) => Ok(x),
        Err(e) => Err(s.net_error(e, "CAPA after login")),
    }
}

check!(
    /// RFC 2449 §5: "Capabilities available in the AUTHORIZATION state MUST be announced in both
    /// states."
    CapaStates,
    CheckInfo {
        id: "rfc2449/capa-states",
        title: "capabilities listed before login are listed after login too",
        area: AREA,
        requirements: &["2449-capa-states", "2449-capa"],
        rfc_refs: &["RFC 2449 §5"],
        tags: &["capa"],
        requires: LOGIN,
        destructive: false,
    },
    capa_states
);

/// Tags listed in `before` (other than STLS, USER, SASL) that `after` lacks.
pub fn dropped_after_login(before: &Capabilities, after: &Capabilities) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in &before.list {
        let name = c.name().to_ascii_uppercase();
        if !MAY_CHANGE.contains(&name.as_str()) && !after.has(&name) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

async fn capa_states(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("CAPA before and after login").await?;
    let before = s.capa.clone();
    let (after, r, _) = capa_after_login(&mut s).await?;
    s.close().await;
    if before.lines.is_empty() {
        return Ok(skip(NO_CAPA));
    }
    if !r.is_ok() {
        return Ok(super::util::fail(
            "CAPA after login → +OK and the capability list",
            format!("CAPA → {}", brief(&r)),
            "CAPA is not available after login (RFC 2449 §5: both states)",
        ));
    }
    let mut f = Faults::new();
    for name in dropped_after_login(&before, &after) {
        f.add(format!("{name} listed after login"), format!("{name} missing after login: {:?}", after.lines));
    }
    Ok(f.finding(
        "a capability listed in AUTHORIZATION is missing after login",
        format!("{} capabilities listed in both states (STLS, USER, SASL not compared)", before.list.len()),
    ))
}

check!(
    /// RFC 2449 §6: each capability announces a command or behaviour the server has; an
    /// advertised TOP, UIDL, USER or SASL mechanism that fails is a false announcement.
    TagsTrue,
    CheckInfo {
        id: "rfc2449/tags-true",
        title: "advertised TOP, UIDL, USER and SASL PLAIN/LOGIN actually work",
        area: AREA,
        requirements: &["2449-tags-true"],
        rfc_refs: &["RFC 2449 §6.1", "RFC 2449 §6.2", "RFC 2449 §6.3", "RFC 2449 §6.8"],
        tags: &["capa"],
        requires: LOGIN,
        destructive: false,
    },
    tags_true
);

/// The login methods `capa` advertises that the tester can run, and the SASL mechanisms it cannot.
fn advertised_logins(capa: &Capabilities) -> (Vec<(&'static str, LoginMethod)>, Vec<String>) {
    let mut methods = Vec::new();
    if capa.has("USER") {
        methods.push(("USER", LoginMethod::UserPass));
    }
    let mut other = Vec::new();
    for m in capa.sasl_mechanisms() {
        match m.as_str() {
            "PLAIN" => methods.push(("SASL PLAIN", LoginMethod::SaslPlain)),
            "LOGIN" => methods.push(("SASL LOGIN", LoginMethod::SaslLogin)),
            _ => other.push(m),
        }
    }
    (methods, other)
}

async fn tags_true(ev: Evidence<'_>) -> Step {
    let probe = ev.connect("what AUTHORIZATION advertises").await?;
    let before = probe.capa.clone();
    probe.close().await;
    if before.lines.is_empty() {
        return Ok(skip(NO_CAPA));
    }
    let mut f = Faults::new();
    let mut notes = Vec::new();
    let (methods, untested) = advertised_logins(&before);
    if !untested.is_empty() {
        notes.push(format!("SASL {} not exercised", untested.join(" ")));
    }
    // One method at a time, each session closed before the next: the maildrop lock would refuse
    // a second login while the first is still open.
    let mut worked = 0;
    let mut refused = Vec::new();
    for (tag, method) in &methods {
        let (s, outcome) = ev.login_with(&format!("login with advertised {tag}"), *method).await?;
        s.close().await;
        if outcome.ok() {
            worked += 1;
        } else {
            refused.push(format!("{tag} login → {}", brief(&outcome.response)));
        }
    }
    if !methods.is_empty() && worked == 0 {
        return Err(error(format!(
            "no advertised login method accepted the credentials ({}) — check them",
            refused.join("; ")
        )));
    }
    for r in refused {
        f.add("an advertised login method accepts the valid credentials", r);
    }
    let mut s = ev.login("logged in to try TOP and UIDL").await?;
    let (after, _, _) = capa_after_login(&mut s).await?;
    let (count, _) = s.stat().await?;
    let advertised = |tag: &str| before.has(tag) || after.has(tag);
    if count == 0 {
        notes.push("TOP not exercised: the maildrop is empty".into());
    } else {
        let r = s.cmd(&Command::Top(1, 0)).await?;
        match (advertised("TOP"), r.is_ok()) {
            (true, false) => f.add("advertised TOP: TOP 1 0 → +OK", format!("TOP 1 0 → {}", brief(&r))),
            (false, true) => notes.push("TOP works but is not advertised".into()),
            _ => {}
        }
    }
    let r = s.cmd(&Command::Uidl(None)).await?;
    match (advertised("UIDL"), r.is_ok()) {
        (true, false) => f.add("advertised UIDL: UIDL → +OK", format!("UIDL → {}", brief(&r))),
        (false, true) => notes.push("UIDL works but is not advertised".into()),
        _ => {}
    }
    s.close().await;
    let tried: Vec<&str> = methods.iter().map(|(t, _)| *t).collect();
    let mut summary = format!("advertised and working: {}", tried.join(", "));
    for tag in ["TOP", "UIDL"] {
        if advertised(tag) {
            summary.push_str(&format!(", {tag}"));
        }
    }
    if !notes.is_empty() {
        summary.push_str(&format!(" ({})", notes.join("; ")));
    }
    Ok(f.finding("an advertised capability does not work", summary))
}

check!(
    /// RFC 2449 §6.5, §6.7: `LOGIN-DELAY n [USER]`, `EXPIRE n|NEVER [USER]`; `USER` (the value
    /// varies per user) belongs to AUTHORIZATION only: after login the value is the user's own.
    CapaSyntax,
    CheckInfo {
        id: "rfc2449/capa-syntax",
        title: "capability lines are well-formed; after login LOGIN-DELAY and EXPIRE have no USER",
        area: AREA,
        requirements: &["2449-capa-syntax"],
        rfc_refs: &["RFC 2449 §6", "RFC 2449 §6.5", "RFC 2449 §6.7"],
        tags: &["capa"],
        requires: LOGIN,
        destructive: false,
    },
    capa_syntax
);

fn is_capa_violation(v: &Violation) -> bool {
    matches!(v, Violation::MalformedCapability { .. } | Violation::CapaLineTooLong { .. })
}

/// Capabilities that may not carry `USER` after login.
fn per_user_after_login(caps: &Capabilities) -> Vec<&str> {
    let mut out = Vec::new();
    for (c, line) in caps.list.iter().zip(&caps.lines) {
        if matches!(c, Capability::LoginDelay { per_user: true, .. } | Capability::Expire { per_user: true, .. }) {
            out.push(line.as_str());
        }
    }
    out
}

async fn capa_syntax(ev: Evidence<'_>) -> Step {
    let mut s = ev.login("CAPA syntax before and after login").await?;
    let before: Vec<Violation> = s.violations.iter().filter(|v| is_capa_violation(v)).cloned().collect();
    let listed_before = !s.capa_initial.lines.is_empty() || !s.capa.lines.is_empty();
    let (after, r, v_after) = capa_after_login(&mut s).await?;
    s.close().await;
    if !listed_before && !r.is_ok() {
        return Ok(skip(NO_CAPA));
    }
    let mut f = Faults::new();
    for v in &before {
        f.add("before login: well-formed capability lines (RFC 2449 §6)", format!("before login: {v}"));
    }
    for v in v_after.iter().filter(|v| is_capa_violation(v)) {
        f.add("after login: well-formed capability lines (RFC 2449 §6)", format!("after login: {v}"));
    }
    for line in per_user_after_login(&after) {
        f.add("after login: a concrete value, no USER argument", format!("after login: `{line}`"));
    }
    Ok(f.finding("malformed capability", format!("{} capability lines well-formed after login", after.lines.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(lines: &[&str]) -> Capabilities {
        Capabilities::parse(lines.iter().map(|l| l.as_bytes())).0
    }

    #[test]
    fn dropped_capabilities_ignore_login_methods() {
        let before = caps(&["STLS", "USER", "SASL PLAIN", "TOP", "UIDL", "PIPELINING"]);
        assert!(dropped_after_login(&before, &caps(&["TOP", "UIDL", "PIPELINING"])).is_empty());
        assert_eq!(dropped_after_login(&before, &caps(&["TOP"])), ["UIDL", "PIPELINING"]);
    }

    #[test]
    fn per_user_values_after_login_are_found() {
        let after = caps(&["LOGIN-DELAY 900 USER", "EXPIRE NEVER", "EXPIRE 30 USER"]);
        assert_eq!(per_user_after_login(&after), ["LOGIN-DELAY 900 USER", "EXPIRE 30 USER"]);
    }

    #[test]
    fn login_methods_from_capa() {
        let (m, other) = advertised_logins(&caps(&["USER", "SASL PLAIN CRAM-MD5 LOGIN"]));
        let tags: Vec<&str> = m.iter().map(|(t, _)| *t).collect();
        assert_eq!(tags, ["USER", "SASL PLAIN", "SASL LOGIN"]);
        assert_eq!(other, ["CRAM-MD5"]);
    }
}
