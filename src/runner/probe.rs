//! The first session of a run: what the server is (greeting, IMPLEMENTATION, CAPA before and
//! after TLS and login), whether the greeting offers APOP, whether logins work and whether the
//! server locks maildrops (which decides if scenarios of one user may run at once).

use crate::net::session::{self as s, Credentials, LoginMethod, OpenError, StlsPolicy};
use crate::net::{ConnectOptions, Target};
use crate::proto::Capabilities;
use crate::results::ServerInfo;

/// What the probe learnt.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub server: ServerInfo,
    /// Every capability seen: before TLS, after STLS, after login.
    pub caps: Capabilities,
    pub apop: bool,
    /// A second login of the same user was refused while the first session was open.
    pub locks: bool,
    /// The server could not be reached or did not greet: nothing can run.
    pub unreachable: Option<String>,
    /// The test account was refused: scenarios that log in cannot run.
    pub login_refused: Option<String>,
}

fn merge(into: &mut Capabilities, from: &Capabilities) {
    for (c, line) in from.list.iter().zip(&from.lines) {
        if !into.lines.contains(line) {
            into.list.push(c.clone());
            into.lines.push(line.clone());
        }
    }
}

/// Probes `target`. Never fails: what went wrong is in the result.
pub async fn probe(target: &Target, opts: &ConnectOptions, creds: Option<&Credentials>, stls: StlsPolicy) -> Probe {
    let mut p = Probe { locks: true, ..Probe::default() };
    let mut opened = match s::open(target, opts, creds, stls, false).await {
        Ok(o) => o,
        Err(e) => {
            p.unreachable = Some(format!("cannot start a session with {}: {e}", target.authority()));
            return p;
        }
    };
    p.server.greeting = Some(opened.greeting.text.clone());
    p.server.capabilities = opened.capa_initial.lines.clone();
    p.server.implementation = opened.capa_initial.implementation().map(str::to_string);
    p.apop = opened.timestamp.is_some();
    merge(&mut p.caps, &opened.capa_initial);
    merge(&mut p.caps, &opened.capa);
    if let Some(creds) = creds {
        let method = if !opened.capa.has("USER") && opened.capa.has_sasl("PLAIN") {
            LoginMethod::SaslPlain
        } else {
            LoginMethod::UserPass
        };
        match s::login(&mut opened.conn, creds, method, opened.timestamp.as_deref()).await {
            Ok(o) if o.ok() => {
                if let Ok((caps, _, _)) = s::capa(&mut opened.conn).await {
                    merge(&mut p.caps, &caps);
                }
                p.locks = second_login_refused(target, opts, creds, stls).await;
            }
            Ok(o) => {
                p.login_refused = Some(format!(
                    "the test account `{}` was refused ({}): {}",
                    creds.user,
                    method.name(),
                    o.response.text
                ))
            }
            Err(e) => p.login_refused = Some(format!("logging in as `{}` failed: {e}", creds.user)),
        }
    }
    opened.conn.close(true).await;
    p
}

/// Opens a second session as the same user while the first holds the maildrop. Any refusal
/// (`[IN-USE]` or not) counts as locking: serialising is the safe reading.
async fn second_login_refused(target: &Target, opts: &ConnectOptions, creds: &Credentials, stls: StlsPolicy) -> bool {
    match s::open(target, opts, Some(creds), stls, false).await {
        Ok(mut o) => {
            let method = if !o.capa.has("USER") && o.capa.has_sasl("PLAIN") {
                LoginMethod::SaslPlain
            } else {
                LoginMethod::UserPass
            };
            let refused =
                !matches!(s::login(&mut o.conn, creds, method, o.timestamp.as_deref()).await, Ok(r) if r.ok());
            o.conn.close(true).await;
            refused
        }
        Err(OpenError::Net(_)) | Err(_) => true,
    }
}
