//! Common exchanges built on a [`Connection`]: greeting, CAPA, STLS upgrade and the login
//! methods. Used by the `session` command, the scenario engine, the audit and the fuzzer, so
//! each of them logs in the same, tested way.

use super::conn::{Connection, NetError};
use crate::proto::{apop, BodyLineRule, Capabilities, Command, Decoder, Expect, Response, Violation};
use base64::Engine;
use std::fmt;

/// A password that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself: only for putting on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::transcript::REDACTED)
    }
}

/// Test credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
}

/// How to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// USER then PASS (RFC 1939 §7).
    UserPass,
    /// APOP with the greeting's timestamp (RFC 1939 §7).
    Apop,
    /// AUTH PLAIN with the initial response on the AUTH line (RFC 5034 §4, RFC 4616).
    SaslPlain,
    /// AUTH PLAIN, credentials sent after an empty `+ ` challenge.
    SaslPlainNoIr,
    /// AUTH LOGIN (username and password as two continuations).
    SaslLogin,
}

impl LoginMethod {
    pub fn name(self) -> &'static str {
        match self {
            LoginMethod::UserPass => "USER/PASS",
            LoginMethod::Apop => "APOP",
            LoginMethod::SaslPlain => "AUTH PLAIN (initial response)",
            LoginMethod::SaslPlainNoIr => "AUTH PLAIN",
            LoginMethod::SaslLogin => "AUTH LOGIN",
        }
    }
}

/// The outcome of a login attempt that ran to its end.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The final reply (`+OK` = logged in).
    pub response: Response,
    /// Every reply on the way (USER's, challenges...), for evidence.
    pub steps: Vec<Response>,
}

impl LoginOutcome {
    pub fn ok(&self) -> bool {
        self.response.is_ok()
    }
}

/// Reads the greeting and returns it with its APOP timestamp, if any.
pub async fn greeting(conn: &mut Connection) -> Result<(Response, Option<String>), NetError> {
    let g = conn.greeting().await?;
    let ts = apop::greeting_timestamp(&g.text).map(str::to_string);
    Ok((g, ts))
}

/// CAPA, parsed. A `-ERR` (CAPA not supported) gives empty capabilities.
pub async fn capa(conn: &mut Connection) -> Result<(Capabilities, Response, Vec<Violation>), NetError> {
    conn.send(&Command::Capa).await?;
    let mut decoder = Decoder::new(Expect::MultiLine, limits_of(conn)).with_body_rule(BodyLineRule::Capa);
    let resp = conn.read_with(&mut decoder).await?;
    let (caps, violations) = match &resp.body {
        Some(b) => Capabilities::parse(b.lines()),
        None => (Capabilities::default(), Vec::new()),
    };
    Ok((caps, resp, violations))
}

fn limits_of(_conn: &Connection) -> crate::proto::Limits {
    crate::proto::Limits::default()
}

/// Sends STLS and, on `+OK`, performs the TLS handshake. Returns the reply to STLS.
pub async fn stls(conn: &mut Connection) -> Result<Response, NetError> {
    let r = conn.command(&Command::Stls).await?;
    if r.is_ok() {
        conn.start_tls().await?;
    }
    Ok(r)
}

/// Runs one login method to its end. `timestamp` is the greeting's APOP timestamp.
pub async fn login(
    conn: &mut Connection,
    creds: &Credentials,
    method: LoginMethod,
    timestamp: Option<&str>,
) -> Result<LoginOutcome, NetError> {
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let plain = || b64(format!("\0{}\0{}", creds.user, creds.password.expose()).as_bytes());
    let mut steps = Vec::new();
    let response = match method {
        LoginMethod::UserPass => {
            let r = conn.command(&Command::User(creds.user.clone())).await?;
            if !r.is_ok() {
                return Ok(LoginOutcome { response: r, steps });
            }
            steps.push(r);
            conn.command(&Command::Pass(creds.password.expose().to_string())).await?
        }
        LoginMethod::Apop => {
            let Some(ts) = timestamp else {
                return Err(NetError::Usage("APOP needs a <timestamp> in the greeting, and this server sent none"));
            };
            let digest = apop::digest(ts, creds.password.expose());
            conn.command(&Command::Apop { name: creds.user.clone(), digest }).await?
        }
        LoginMethod::SaslPlain => {
            conn.command(&Command::Auth { mechanism: Some("PLAIN".into()), initial_response: Some(plain()) }).await?
        }
        LoginMethod::SaslPlainNoIr => {
            let r = conn.command(&Command::Auth { mechanism: Some("PLAIN".into()), initial_response: None }).await?;
            if r.status != crate::proto::Status::Continue {
                return Ok(LoginOutcome { response: r, steps });
            }
            steps.push(r);
            conn.command(&Command::AuthResponse(plain())).await?
        }
        LoginMethod::SaslLogin => {
            let mut r =
                conn.command(&Command::Auth { mechanism: Some("LOGIN".into()), initial_response: None }).await?;
            for answer in [creds.user.as_bytes(), creds.password.expose().as_bytes()] {
                if r.status != crate::proto::Status::Continue {
                    return Ok(LoginOutcome { response: r, steps });
                }
                steps.push(r);
                r = conn.command(&Command::AuthResponse(b64(answer))).await?;
            }
            r
        }
    };
    Ok(LoginOutcome { response, steps })
}
