//! What the server offers for logging in, and what it says about itself: A04 (cleartext mechanisms
//! advertised before TLS), A05 (weak challenge-response mechanisms: APOP, CRAM-MD5, DIGEST-MD5,
//! NTLM), A16 (version disclosure) and A17 (APOP timestamp reused across greetings).
//!
//! A05 asks the server rather than its CAPA: `AUTH <mech>` answered with a `+ ` challenge means
//! the mechanism is there (the exchange is then cancelled with `*`), before TLS and inside it.

use super::check::{join_and, CheckId, Evidence, Finding, Outcome};
use super::dial::{self, Ctx, Upgrade};
use crate::net::NetError;
use crate::proto::{Capabilities, Command, Status};
use crate::results::Severity;
use std::collections::HashMap;

/// Challenge-response mechanisms built on MD5 or NTLM hashes (RFC 6331 moved DIGEST-MD5 to
/// Historic; CRAM-MD5 and NTLM need the password, or its hash, stored on the server).
pub const WEAK_SASL: [&str; 3] = ["CRAM-MD5", "DIGEST-MD5", "NTLM"];

/// Which weak SASL mechanisms answer with a challenge, before TLS and inside it.
#[derive(Debug, Clone, Default)]
pub struct MechObservation {
    pub before_tls: Vec<String>,
    /// `None`: TLS could not be reached on the plain port.
    pub inside_tls: Option<Vec<String>>,
    pub error: Option<String>,
    pub evidence: Evidence,
}

/// Tries each weak mechanism before TLS and after STLS, each on its own connection and all at
/// once: servers delay every refused AUTH (Courier 5 s), and six in a row would cost that six times.
pub async fn observe(ctx: &Ctx) -> MechObservation {
    let probes: Vec<_> =
        WEAK_SASL.iter().flat_map(|&m| [(m, false), (m, true)]).map(|(m, tls)| try_mech(ctx, m, tls)).collect();
    let mut obs = MechObservation { inside_tls: Some(Vec::new()), ..MechObservation::default() };
    for ((mech, tls), (seen, ev)) in
        WEAK_SASL.iter().flat_map(|&m| [(m, false), (m, true)]).zip(dial::join_all(probes).await)
    {
        obs.evidence.extend(&ev);
        match (seen, tls) {
            (Ok(Some(true)), false) => obs.before_tls.push(mech.to_string()),
            (Ok(Some(true)), true) => obs.inside_tls.get_or_insert_with(Vec::new).push(mech.to_string()),
            (Ok(Some(false)), _) => {}
            // STLS did not give a TLS session: nothing can be said of TLS.
            (Ok(None), _) => obs.inside_tls = None,
            (Err(e), _) => {
                obs.error.get_or_insert(e);
            }
        }
    }
    obs
}

/// `AUTH mech` on a fresh connection (after STLS when `tls`): `Some(true)` when a `+ ` challenge
/// came (the exchange is then cancelled with `*`), `None` when TLS could not be reached.
async fn try_mech(ctx: &Ctx, mech: &str, tls: bool) -> (Result<Option<bool>, String>, Evidence) {
    let mut ev = Evidence::default();
    let g = match dial::open(ctx, &ctx.target).await {
        Ok(g) if g.greeting.is_ok() => g,
        Ok(_) => return (Err("the greeting was not +OK".into()), ev),
        Err(e) => return (Err(format!("cannot connect: {e}")), ev),
    };
    let mut conn = g.conn;
    let result = async {
        if tls && !matches!(dial::upgrade(&mut conn, ctx.waits.peek).await?, Upgrade::Done { .. }) {
            return Ok(None);
        }
        let r = conn.command(&Command::Auth { mechanism: Some(mech.into()), initial_response: None }).await?;
        let offered = r.status == Status::Continue;
        if offered {
            conn.command(&Command::AuthResponse("*".into())).await?;
        }
        Ok::<_, NetError>(Some(offered))
    }
    .await
    .map_err(|e| format!("the AUTH {mech} probe broke off: {e}"));
    let transcript = dial::finish(conn, true, dial::QUIT_WAIT).await;
    let place = if tls { "after STLS" } else { "before TLS" };
    ev.session(&format!("AUTH {mech} {place}"), &transcript);
    (result, ev)
}

/// A04: USER, SASL PLAIN or SASL LOGIN in the CAPA sent before TLS. Low when the server refuses
/// cleartext logins anyway (A03 passed), medium otherwise: clients believe CAPA.
pub fn decide_a04(capa_pre: Option<&Capabilities>, a03: &Outcome) -> Outcome {
    let Some(caps) = capa_pre else {
        return Outcome::Pass("CAPA is refused before TLS, so nothing is advertised there".into());
    };
    let mut listed = Vec::new();
    if caps.has("USER") {
        listed.push("USER".to_string());
    }
    for mech in ["PLAIN", "LOGIN"] {
        if caps.has_sasl(mech) {
            listed.push(format!("SASL {mech}"));
        }
    }
    if listed.is_empty() {
        return Outcome::Pass("the CAPA before TLS lists neither USER nor SASL PLAIN/LOGIN".into());
    }
    let what = format!("the CAPA before TLS lists {}", join_and(&listed));
    match a03 {
        Outcome::Pass(_) => Outcome::fail(Severity::Low, format!("{what}, although cleartext login is refused (A03)")),
        Outcome::Fail { .. } => Outcome::fail(Severity::Medium, format!("{what}, and cleartext login works (A03)")),
        _ => Outcome::fail(Severity::Medium, format!("{what}; whether cleartext login works was not decided (A03)")),
    }
}

/// Whether APOP logs in before TLS, as A03 found: `Some(true)` accepted, `Some(false)` refused or
/// not offered, `None` not decided (no credentials).
pub type ApopBeforeTls = Option<bool>;

/// A05: medium when a weak mechanism is usable before TLS (where its MD5 challenge and digest are
/// exposed: CVE-2007-1558 and offline guessing), info when only inside TLS (the exchange is
/// protected; the server still keeps plaintext-equivalent secrets).
pub fn decide_a05(obs: &MechObservation, apop_timestamp: bool, apop_before_tls: ApopBeforeTls) -> Outcome {
    if let Some(e) = &obs.error {
        if obs.before_tls.is_empty() && obs.inside_tls.is_none() {
            return Outcome::Error(e.clone());
        }
    }
    let mut before = obs.before_tls.clone();
    let mut inside: Vec<String> = obs.inside_tls.clone().unwrap_or_default();
    inside.retain(|m| !before.contains(m));
    let mut undecided = None;
    // Refused before TLS says nothing about inside TLS (the server may have no TLS, or no APOP
    // secret for this user): only that the greeting offers it.
    let mut refused = None;
    if apop_timestamp {
        match apop_before_tls {
            Some(true) => before.insert(0, "APOP".into()),
            Some(false) => refused = Some("APOP is offered (timestamp in the greeting) but refused before TLS"),
            None => undecided = Some("APOP (the greeting has a timestamp; no credentials to try it before TLS)"),
        }
    }
    let mut parts = Vec::new();
    if !before.is_empty() {
        parts.push(format!("usable before TLS: {}", join_and(&before)));
    }
    if let Some(r) = refused {
        parts.push(r.to_string());
    }
    if let Some(u) = undecided {
        parts.push(format!("offered: {u}"));
    }
    if !inside.is_empty() {
        parts.push(format!("offered inside TLS only: {}", join_and(&inside)));
    }
    if parts.is_empty() {
        return Outcome::Pass(
            "no APOP timestamp in the greeting; AUTH CRAM-MD5, DIGEST-MD5 and NTLM are refused".into(),
        );
    }
    let severity = if before.is_empty() && undecided.is_none() { Severity::Info } else { Severity::Medium };
    Outcome::fail(severity, parts.join("; "))
}

/// The first version-like token (`2.3.19`, `v5.1`) in `text`, ignoring the APOP timestamp.
pub fn version_in(text: &str) -> Option<String> {
    let cleaned = match crate::proto::apop::greeting_timestamp(text) {
        Some(ts) => text.replace(ts, " "),
        None => text.to_string(),
    };
    let re = regex::Regex::new(r"(?i)\bv?\d+\.\d+(?:\.\d+)*[a-z0-9.+~-]*").expect("valid regex");
    re.find(&cleaned).map(|m| m.as_str().to_string())
}

/// A16: version numbers in the greeting or IMPLEMENTATION (info).
pub fn decide_a16(sources: &[(&str, &str)]) -> Outcome {
    let found: Vec<String> = sources
        .iter()
        .filter_map(|(where_, text)| version_in(text).map(|v| format!("{where_} discloses `{v}` (\"{text}\")")))
        .collect();
    if found.is_empty() {
        let looked: Vec<String> = sources.iter().map(|(w, _)| w.to_string()).collect();
        return Outcome::Pass(format!("no version number in {}", join_and(&looked)));
    }
    Outcome::fail(Severity::Info, found.join("; "))
}

/// Reads `n` greetings concurrently (each on its own connection) and returns the timestamps of
/// those that could be read (`None`: a greeting without one).
pub async fn greetings(ctx: &Ctx, n: usize) -> (Vec<Option<String>>, Evidence) {
    let one = || async {
        match dial::open(ctx, &ctx.target).await {
            Ok(g) => {
                let ts = g.timestamp.clone();
                let t = dial::finish(g.conn, true, dial::QUIT_WAIT).await;
                (Some(ts), t.entries().to_vec())
            }
            Err(e) => (
                None,
                vec![crate::transcript::Entry {
                    t_ms: 0.0,
                    dir: crate::transcript::Direction::Note,
                    tls: false,
                    text: format!("cannot connect: {e}"),
                }],
            ),
        }
    };
    let mut set = Vec::with_capacity(n);
    for _ in 0..n.min(16) {
        set.push(one());
    }
    let results = dial::join_all(set).await;
    let mut ev = Evidence::default();
    let mut out = Vec::new();
    for (i, (ts, entries)) in results.into_iter().enumerate() {
        ev.0.push(crate::transcript::Entry {
            t_ms: 0.0,
            dir: crate::transcript::Direction::Note,
            tls: false,
            text: format!("== greeting {} ==", i + 1),
        });
        ev.0.extend(entries);
        if let Some(ts) = ts {
            out.push(ts);
        }
    }
    (out, ev)
}

/// A17: RFC 1939 §7 — the timestamp "MUST be different each time the POP3 server issues a
/// banner greeting". High when APOP logs in before TLS (a captured digest can be replayed),
/// else medium.
pub fn decide_a17(timestamps: &[Option<String>], apop_before_tls: ApopBeforeTls) -> Outcome {
    if timestamps.is_empty() {
        return Outcome::Error("no greeting could be read".into());
    }
    let seen: Vec<&String> = timestamps.iter().flatten().collect();
    if seen.is_empty() {
        return Outcome::Skip("no greeting carried an APOP timestamp: APOP is not offered".into());
    }
    let mut counts: HashMap<&String, usize> = HashMap::new();
    for ts in &seen {
        *counts.entry(ts).or_default() += 1;
    }
    let mut repeated: Vec<String> =
        counts.iter().filter(|(_, &n)| n > 1).map(|(ts, n)| format!("{ts} ({n} times)")).collect();
    repeated.sort();
    if repeated.is_empty() {
        return Outcome::Pass(format!("{} greetings carried {} different timestamps", seen.len(), counts.len()));
    }
    let severity = if apop_before_tls == Some(true) { Severity::High } else { Severity::Medium };
    Outcome::fail(
        severity,
        format!(
            "{} greetings repeated an APOP timestamp: {} — APOP digests can be replayed",
            seen.len(),
            repeated.join(", ")
        ),
    )
}

/// A05 and A17 findings with their evidence.
pub fn findings(
    mechs: &MechObservation,
    apop_timestamp: bool,
    apop_before_tls: ApopBeforeTls,
    timestamps: &[Option<String>],
    greeting_evidence: &Evidence,
) -> Vec<Finding> {
    vec![
        Finding::new(CheckId::A05, decide_a05(mechs, apop_timestamp, apop_before_tls))
            .with_evidence(mechs.evidence.clone()),
        Finding::new(CheckId::A17, decide_a17(timestamps, apop_before_tls)).with_evidence(greeting_evidence.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(lines: &[&str]) -> Capabilities {
        Capabilities::parse(lines.iter().map(|l| l.as_bytes())).0
    }

    #[test]
    fn a04_severity_follows_a03() {
        let pre = caps(&["STLS", "USER", "SASL PLAIN LOGIN"]);
        let pass = Outcome::Pass(String::new());
        let out = decide_a04(Some(&pre), &pass);
        assert_eq!(out.severity(), Some(Severity::Low));
        assert!(out.message().contains("USER, SASL PLAIN and SASL LOGIN"), "{}", out.message());
        assert_eq!(decide_a04(Some(&pre), &Outcome::fail(Severity::High, "")).severity(), Some(Severity::Medium));
        assert!(decide_a04(Some(&caps(&["STLS", "TOP"])), &pass).is_pass());
        assert!(decide_a04(None, &pass).is_pass());
    }

    #[test]
    fn a05_medium_before_tls_info_inside_only() {
        let none = MechObservation { inside_tls: Some(vec![]), ..Default::default() };
        assert!(decide_a05(&none, false, None).is_pass());
        assert_eq!(decide_a05(&none, true, Some(false)).severity(), Some(Severity::Info));
        assert_eq!(decide_a05(&none, true, Some(true)).severity(), Some(Severity::Medium));
        assert_eq!(decide_a05(&none, true, None).severity(), Some(Severity::Medium));
        let cram = MechObservation { before_tls: vec!["CRAM-MD5".into()], ..none.clone() };
        let out = decide_a05(&cram, false, None);
        assert_eq!(out.severity(), Some(Severity::Medium));
        assert!(out.message().contains("CRAM-MD5"));
        let inside = MechObservation { inside_tls: Some(vec!["NTLM".into()]), ..Default::default() };
        assert_eq!(decide_a05(&inside, false, None).severity(), Some(Severity::Info));
    }

    #[test]
    fn versions_are_found_but_timestamps_and_pop3_are_not() {
        assert_eq!(version_in("Dovecot (Debian) 2.3.19 ready."), Some("2.3.19".into()));
        assert_eq!(version_in("pop3test-0.1.0"), Some("0.1.0".into()));
        assert_eq!(version_in("POP3 server ready <1896.697170952@dbc.mtview.ca.us>"), None);
        assert_eq!(version_in("Dovecot ready."), None);
        assert!(decide_a16(&[("greeting", "ready"), ("IMPLEMENTATION", "X v5.1")]).is_fail());
        assert!(decide_a16(&[("greeting", "POP3 ready")]).is_pass());
    }

    #[test]
    fn a17_repeated_timestamps_fail() {
        let t = |s: &str| Some(s.to_string());
        assert!(decide_a17(&[t("<1.1@h>"), t("<1.2@h>")], None).is_pass());
        let out = decide_a17(&[t("<1@h>"), t("<1@h>"), t("<2@h>")], Some(false));
        assert_eq!(out.severity(), Some(Severity::Medium));
        assert!(out.message().contains("<1@h> (2 times)"), "{}", out.message());
        assert_eq!(decide_a17(&[t("<1@h>"), t("<1@h>")], Some(true)).severity(), Some(Severity::High));
        assert!(matches!(decide_a17(&[None, None], None), Outcome::Skip(_)));
        assert!(matches!(decide_a17(&[], None), Outcome::Error(_)));
    }
}
