//! The baseline STLS session and the checks it decides: A01 (STLS not offered), A02 (CAPA and
//! behaviour disagree), A08 (STLS inside TLS, STLS re-advertised after TLS) and A09 (plaintext
//! after the `+OK`). One connection: greeting, CAPA, STLS, a short listen for plaintext, the
//! handshake, CAPA inside TLS, a second STLS. Decisions rest on status indicators and bytes only.

use super::check::{show, CheckId, Evidence, Finding, Outcome};
use super::dial::{self, Ctx, Upgrade};
use crate::net::session::capa;
use crate::net::{Connection, NetError, TlsInfo};
use crate::proto::{Capabilities, Command, Response};
use crate::results::Severity;

/// What the baseline session saw.
#[derive(Debug, Clone, Default)]
pub struct StlsObservation {
    /// Why the session could not be run (connect failure, no `+OK` greeting...).
    pub error: Option<String>,
    pub greeting: Option<Response>,
    pub timestamp: Option<String>,
    /// CAPA before TLS; `None` when CAPA was refused.
    pub capa_pre: Option<Capabilities>,
    /// The STLS exchange; `None` when it was not reached.
    pub upgrade: Option<Upgrade>,
    /// CAPA inside TLS; `None` when refused or not reached.
    pub capa_post: Option<Capabilities>,
    /// Whether a second STLS inside TLS was answered `+OK`; `None` when not reached.
    pub second_stls_ok: Option<bool>,
    pub tls: Option<TlsInfo>,
    pub evidence: Evidence,
}

impl StlsObservation {
    pub fn advertised(&self) -> bool {
        self.capa_pre.as_ref().is_some_and(|c| c.has("STLS"))
    }

    /// STLS answered `+OK` and the handshake completed.
    pub fn works(&self) -> bool {
        self.upgrade.as_ref().is_some_and(Upgrade::is_tls)
    }
}

/// Runs the baseline session.
pub async fn observe(ctx: &Ctx) -> StlsObservation {
    let mut obs = StlsObservation::default();
    let mut conn = match dial::open(ctx, &ctx.target).await {
        Ok(g) => {
            obs.timestamp = g.timestamp;
            obs.greeting = Some(g.greeting.clone());
            if !g.greeting.is_ok() {
                obs.error = Some(format!("the greeting was not +OK: {}", g.greeting.text));
            }
            g.conn
        }
        Err(e) => {
            obs.error = Some(format!("cannot open a session on {}: {e}", ctx.target));
            return obs;
        }
    };
    if obs.error.is_none() {
        if let Err(e) = walk(&mut conn, ctx, &mut obs).await {
            obs.error = Some(format!("the STLS session broke off: {e}"));
        }
    }
    let quit = obs.second_stls_ok != Some(true);
    let transcript = dial::finish(conn, quit, dial::QUIT_WAIT).await;
    obs.evidence.session("greeting, CAPA, STLS, CAPA and STLS inside TLS", &transcript);
    obs
}

async fn walk(conn: &mut Connection, ctx: &Ctx, obs: &mut StlsObservation) -> Result<(), NetError> {
    let (caps, reply, _) = capa(conn).await?;
    obs.capa_pre = reply.is_ok().then_some(caps);
    let up = dial::upgrade(conn, ctx.waits.peek).await?;
    let tls = up.is_tls();
    obs.upgrade = Some(up);
    if !tls {
        return Ok(());
    }
    obs.tls = conn.tls_info().cloned();
    let (caps, reply, _) = capa(conn).await?;
    obs.capa_post = reply.is_ok().then_some(caps);
    let again = conn.command(&Command::Stls).await;
    obs.second_stls_ok = match again {
        Ok(r) => Some(r.is_ok()),
        Err(e) if e.is_disconnect() => Some(false),
        Err(e) => return Err(e),
    };
    Ok(())
}

/// A01: STLS neither advertised nor working. High when cleartext login works (A03 failed), else
/// medium: a port with neither STLS nor cleartext login is merely useless, one with cleartext
/// login exposes passwords.
pub fn decide_a01(obs: &StlsObservation, a03: &Outcome) -> Outcome {
    if let Some(e) = &obs.error {
        return Outcome::Error(e.clone());
    }
    if obs.works() {
        return Outcome::Pass("STLS is accepted and the TLS handshake completes".into());
    }
    if obs.advertised() {
        return Outcome::Pass("STLS is advertised in CAPA (whether it works is A02)".into());
    }
    let how = match &obs.upgrade {
        Some(Upgrade::Refused) => "CAPA does not list STLS and STLS is answered -ERR",
        Some(Upgrade::Failed { .. }) => "CAPA does not list STLS and STLS does not lead to a TLS session",
        _ => "CAPA does not list STLS",
    };
    match a03 {
        Outcome::Fail { .. } => Outcome::fail(Severity::High, format!("{how}, and cleartext login is accepted (A03)")),
        Outcome::Pass(_) => Outcome::fail(Severity::Medium, format!("{how}; cleartext login is refused (A03)")),
        _ => Outcome::fail(Severity::Medium, format!("{how}; whether cleartext login works was not decided (A03)")),
    }
}

/// A02: CAPA says STLS exactly when STLS works.
pub fn decide_a02(obs: &StlsObservation) -> Outcome {
    if let Some(e) = &obs.error {
        return Outcome::Error(e.clone());
    }
    match (obs.advertised(), &obs.upgrade) {
        (true, Some(Upgrade::Done { .. })) => Outcome::Pass("STLS is advertised and works".into()),
        (false, Some(Upgrade::Refused)) => Outcome::Pass("STLS is neither advertised nor accepted (see A01)".into()),
        (true, Some(Upgrade::Refused)) => Outcome::fail(Severity::Medium, "CAPA lists STLS but STLS is answered -ERR"),
        (true, Some(Upgrade::Failed { error, .. })) => Outcome::fail(
            Severity::Medium,
            format!("CAPA lists STLS, STLS is answered +OK, but no TLS session: {error}"),
        ),
        (false, Some(Upgrade::Done { .. })) => Outcome::fail(
            Severity::Medium,
            "STLS works but CAPA does not list it: clients that follow CAPA stay in cleartext",
        ),
        (false, Some(Upgrade::Failed { .. })) => {
            Outcome::Pass("STLS is not advertised and does not lead to TLS (see A01)".into())
        }
        (_, None) => Outcome::Error("the STLS exchange was not reached".into()),
    }
}

/// A08: inside TLS, STLS must be refused (medium) and not listed in CAPA (low).
pub fn decide_a08(obs: &StlsObservation) -> Outcome {
    if let Some(e) = &obs.error {
        return Outcome::Error(e.clone());
    }
    if !obs.works() {
        return Outcome::Skip(
            "STLS does not lead to a TLS session on this port, so STLS inside TLS could not be tried".into(),
        );
    }
    let mut problems = Vec::new();
    let mut severity = Severity::Low;
    if obs.second_stls_ok == Some(true) {
        problems.push("a second STLS inside TLS is answered +OK".to_string());
        severity = Severity::Medium;
    }
    let readvertised = obs.capa_post.as_ref().is_some_and(|c| c.has("STLS"));
    if readvertised {
        problems.push("CAPA inside TLS still lists STLS".to_string());
    }
    if problems.is_empty() {
        let capa = if obs.capa_post.is_some() { "CAPA inside TLS omits STLS" } else { "CAPA inside TLS is refused" };
        return Outcome::Pass(format!("a second STLS inside TLS is refused; {capa}"));
    }
    Outcome::fail(severity, problems.join("; "))
}

/// A09: nothing but the handshake may follow the CRLF of the `+OK` (RFC 2595 §4).
pub fn decide_a09(obs: &StlsObservation) -> Outcome {
    if let Some(e) = &obs.error {
        return Outcome::Error(e.clone());
    }
    match &obs.upgrade {
        Some(Upgrade::Done { plaintext } | Upgrade::Failed { plaintext, .. }) if !plaintext.is_empty() => {
            Outcome::fail(
                Severity::High,
                format!("{} octets of plaintext followed the +OK to STLS: \"{}\"", plaintext.len(), show(plaintext)),
            )
        }
        Some(Upgrade::Done { .. } | Upgrade::Failed { .. }) => {
            Outcome::Pass("nothing followed the +OK to STLS before the TLS handshake".into())
        }
        Some(Upgrade::Refused) => {
            Outcome::Skip("STLS is refused on this port, so there is no +OK to look behind".into())
        }
        None => Outcome::Error("the STLS exchange was not reached".into()),
    }
}

/// The four findings of the baseline session.
pub fn findings(obs: &StlsObservation, a03: &Outcome) -> Vec<Finding> {
    let ev = |f: Finding| f.with_evidence(obs.evidence.clone());
    vec![
        ev(Finding::new(CheckId::A01, decide_a01(obs, a03))),
        ev(Finding::new(CheckId::A02, decide_a02(obs))),
        ev(Finding::new(CheckId::A08, decide_a08(obs))),
        ev(Finding::new(CheckId::A09, decide_a09(obs))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(lines: &[&str]) -> Capabilities {
        Capabilities::parse(lines.iter().map(|l| l.as_bytes())).0
    }

    fn obs(advertised: bool, upgrade: Upgrade) -> StlsObservation {
        let capa = if advertised { vec!["STLS", "TOP"] } else { vec!["TOP"] };
        StlsObservation { capa_pre: Some(caps(&capa)), upgrade: Some(upgrade), ..Default::default() }
    }

    fn done() -> Upgrade {
        Upgrade::Done { plaintext: vec![] }
    }

    #[test]
    fn a01_severity_follows_cleartext_login() {
        let o = obs(false, Upgrade::Refused);
        let fail_a03 = Outcome::fail(Severity::High, "x");
        assert_eq!(decide_a01(&o, &fail_a03).severity(), Some(Severity::High));
        assert_eq!(decide_a01(&o, &Outcome::Pass("x".into())).severity(), Some(Severity::Medium));
        assert_eq!(decide_a01(&o, &Outcome::Skip("x".into())).severity(), Some(Severity::Medium));
        assert!(decide_a01(&obs(true, done()), &fail_a03).is_pass());
        assert!(decide_a01(&obs(false, done()), &fail_a03).is_pass(), "works unadvertised: A02's business");
    }

    #[test]
    fn a02_compares_capa_with_behaviour() {
        assert!(decide_a02(&obs(true, done())).is_pass());
        assert!(decide_a02(&obs(false, Upgrade::Refused)).is_pass());
        assert!(decide_a02(&obs(true, Upgrade::Refused)).is_fail());
        assert!(decide_a02(&obs(false, done())).is_fail());
        let failed = Upgrade::Failed { plaintext: vec![], error: "alert".into() };
        assert!(decide_a02(&obs(true, failed)).is_fail());
    }

    #[test]
    fn a08_twice_is_medium_readvertised_is_low() {
        let mut o = obs(true, done());
        o.capa_post = Some(caps(&["TOP", "USER"]));
        o.second_stls_ok = Some(false);
        assert!(decide_a08(&o).is_pass());
        o.capa_post = Some(caps(&["TOP", "STLS"]));
        assert_eq!(decide_a08(&o).severity(), Some(Severity::Low));
        o.second_stls_ok = Some(true);
        assert_eq!(decide_a08(&o).severity(), Some(Severity::Medium));
        assert!(matches!(decide_a08(&obs(true, Upgrade::Refused)), Outcome::Skip(_)));
    }

    #[test]
    fn a09_flags_any_plaintext_after_ok() {
        assert!(decide_a09(&obs(true, done())).is_pass());
        let o = obs(true, Upgrade::Done { plaintext: b"+OK again\r\n".to_vec() });
        let out = decide_a09(&o);
        assert_eq!(out.severity(), Some(Severity::High));
        assert!(out.message().contains("+OK again\\r\\n"), "{}", out.message());
        assert!(matches!(decide_a09(&obs(true, Upgrade::Refused)), Outcome::Skip(_)));
    }

    #[test]
    fn tester_errors_are_errors_not_findings() {
        let o = StlsObservation { error: Some("refused".into()), ..Default::default() };
        for out in [decide_a01(&o, &Outcome::Pass(String::new())), decide_a02(&o), decide_a08(&o), decide_a09(&o)] {
            assert!(matches!(out, Outcome::Error(_)));
        }
    }
}
