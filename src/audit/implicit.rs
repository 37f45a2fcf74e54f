//! A13: is there POP3 over implicit TLS (RFC 8314 §3, port 995 by default)? One connection:
//! TCP, the TLS handshake, the greeting, CAPA. What it sees also feeds A12 (the certificate on
//! that port), A14 (posture compared with the STLS port) and A16 (version disclosure).

use super::check::{CheckId, Evidence, Finding, Outcome};
use super::dial::{self, Ctx};
use crate::net::session::capa;
use crate::net::{Connection, NetError, Target, TlsInfo};
use crate::proto::{Capabilities, Response};
use crate::results::Severity;

/// How far the implicit-TLS session got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImplicitState {
    /// Not probed (`--no-implicit`).
    Disabled,
    /// Nothing accepted the TCP connection.
    Unreachable(String),
    /// TCP works, TLS does not.
    NoTls(String),
    /// TLS works but the greeting is not `+OK` (or never came).
    BadGreeting(String),
    /// POP3 over TLS.
    Up,
}

/// What the implicit-TLS session saw.
#[derive(Debug, Clone)]
pub struct ImplicitObservation {
    pub target: Option<Target>,
    pub state: ImplicitState,
    pub tls: Option<TlsInfo>,
    pub greeting: Option<Response>,
    /// CAPA on that port; `None` when refused or not reached.
    pub capa: Option<Capabilities>,
    pub evidence: Evidence,
}

impl ImplicitObservation {
    pub fn is_up(&self) -> bool {
        self.state == ImplicitState::Up
    }

    /// `995/TLS`.
    pub fn label(&self) -> String {
        self.target.as_ref().map(|t| format!("{}/TLS", t.port)).unwrap_or_else(|| "implicit TLS".into())
    }
}

/// Connects to the implicit-TLS port and reads greeting and CAPA.
pub async fn observe(ctx: &Ctx) -> ImplicitObservation {
    let mut obs = ImplicitObservation {
        target: ctx.implicit.clone(),
        state: ImplicitState::Disabled,
        tls: None,
        greeting: None,
        capa: None,
        evidence: Evidence::default(),
    };
    let Some(target) = &ctx.implicit else {
        return obs;
    };
    let slot = ctx.slot().await;
    let mut conn = match Connection::connect(target, &ctx.opts).await {
        Ok(mut c) => {
            c.hold(slot);
            c
        }
        Err(e) => {
            obs.state = match &e {
                NetError::Resolve { .. } | NetError::Connect { .. } => ImplicitState::Unreachable(e.to_string()),
                NetError::Timeout { what, .. } if what.contains("TCP") || what.contains("resolution") => {
                    ImplicitState::Unreachable(e.to_string())
                }
                _ => ImplicitState::NoTls(e.to_string()),
            };
            obs.evidence.note(format!("{target}: {e}"));
            return obs;
        }
    };
    obs.tls = conn.tls_info().cloned();
    obs.state = match conn.greeting().await {
        Ok(g) if g.is_ok() => {
            obs.greeting = Some(g);
            if let Ok((caps, reply, _)) = capa(&mut conn).await {
                obs.capa = reply.is_ok().then_some(caps);
            }
            ImplicitState::Up
        }
        Ok(g) => {
            let why = format!("the greeting is not +OK: {}", g.text);
            obs.greeting = Some(g);
            ImplicitState::BadGreeting(why)
        }
        Err(e) => ImplicitState::BadGreeting(format!("no greeting inside TLS: {e}")),
    };
    let transcript = dial::finish(conn, obs.is_up(), dial::QUIT_WAIT).await;
    obs.evidence.session(&format!("implicit TLS on {target}"), &transcript);
    obs
}

/// A13 from the implicit-TLS session (medium, RFC 8314).
pub fn decide_a13(obs: &ImplicitObservation) -> Outcome {
    let at = obs.target.as_ref().map(|t| t.authority()).unwrap_or_default();
    match &obs.state {
        ImplicitState::Disabled => Outcome::Skip("implicit TLS was not probed (--no-implicit)".into()),
        ImplicitState::Unreachable(e) => Outcome::fail(
            Severity::Medium,
            format!("nothing accepts connections on {at} ({e}): no POP3 over implicit TLS"),
        ),
        ImplicitState::NoTls(e) => {
            Outcome::fail(Severity::Medium, format!("{at} accepts TCP connections but no TLS session comes up: {e}"))
        }
        ImplicitState::BadGreeting(e) => Outcome::fail(Severity::Medium, format!("TLS works on {at} but {e}")),
        ImplicitState::Up => {
            let how = obs.tls.as_ref().map(|t| format!(" ({} {})", t.version, t.cipher_suite)).unwrap_or_default();
            Outcome::Pass(format!("{at} speaks POP3 over implicit TLS{how}"))
        }
    }
}

pub fn finding(obs: &ImplicitObservation) -> Finding {
    Finding::new(CheckId::A13, decide_a13(obs)).with_evidence(obs.evidence.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(state: ImplicitState) -> ImplicitObservation {
        ImplicitObservation {
            target: Some(Target::parse("pop3s://mail.example.org").unwrap()),
            state,
            tls: None,
            greeting: None,
            capa: None,
            evidence: Evidence::default(),
        }
    }

    #[test]
    fn a13_medium_unless_pop3_over_tls_answers() {
        assert!(decide_a13(&obs(ImplicitState::Up)).is_pass());
        assert!(matches!(decide_a13(&obs(ImplicitState::Disabled)), Outcome::Skip(_)));
        for s in [
            ImplicitState::Unreachable("refused".into()),
            ImplicitState::NoTls("alert".into()),
            ImplicitState::BadGreeting("-ERR".into()),
        ] {
            let out = decide_a13(&obs(s));
            assert_eq!(out.severity(), Some(Severity::Medium));
            assert!(out.message().contains("mail.example.org:995"), "{}", out.message());
        }
    }
}
