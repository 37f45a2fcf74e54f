//! The first sessions of a run: what the server is (greeting, IMPLEMENTATION, CAPA before and
//! after TLS and login, or no CAPA at all), whether the greeting offers APOP, whether logins work,
//! whether the server locks maildrops (which decides if scenarios of one user may run at once),
//! what the maildrop holds ([`survey`](super::survey)), whether the `--empty-user` account is
//! there and empty, and how long a failed login makes the client wait. The result is an
//! [`Inventory`] that decides, per check, whether it applies here.

use super::survey::survey;
use crate::inventory::{AuthDelay, Inventory, Support};
use crate::net::session::{self as s, Credentials, LoginMethod, Opened, Secret, StlsPolicy};
use crate::net::{ConnectOptions, Target};
use crate::proto::{listing, Capabilities, Command};
use crate::results::ServerInfo;
use std::time::{Duration, Instant};

/// The wrong password of every deliberate failure the tester makes: one value, so servers that
/// count distinct guesses (Dovecot's auth penalty skips repeats) see one.
pub const WRONG_PASSWORD: &str = "pop3test-wrong-password";

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
    pub inventory: Inventory,
}

fn merge(into: &mut Capabilities, from: &Capabilities) {
    for (c, line) in from.list.iter().zip(&from.lines) {
        if !into.lines.contains(line) {
            into.list.push(c.clone());
            into.lines.push(line.clone());
        }
    }
}

/// The login method the tester uses for the test account: USER/PASS unless CAPA lists SASL
/// PLAIN and not USER (a server without CAPA gets USER/PASS: RFC 1939's minimal command set).
pub fn default_method(capa: &Capabilities) -> LoginMethod {
    if !capa.has("USER") && capa.has_sasl("PLAIN") {
        LoginMethod::SaslPlain
    } else {
        LoginMethod::UserPass
    }
}

/// Probes `target`. Never fails: what went wrong is in the result.
pub async fn probe(
    target: &Target,
    opts: &ConnectOptions,
    creds: Option<&Credentials>,
    empty: Option<&Credentials>,
    stls: StlsPolicy,
) -> Probe {
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
    p.server.implementation = opened.capa.implementation().map(str::to_string);
    p.apop = opened.timestamp.is_some();
    p.inventory.capa = Support::from_ok(opened.capa_ok);
    merge(&mut p.caps, &opened.capa_initial);
    merge(&mut p.caps, &opened.capa);
    let Some(creds) = creds else {
        opened.conn.close(true).await;
        return p;
    };
    let method = default_method(&opened.capa);
    let utf8 = opened.capa.has("UTF8");
    if utf8 {
        // The survey wants to see every message as it is: in UTF-8 mode an RFC 6856 server sends
        // 8-bit mail that it refuses or replaces otherwise (§2.1). Only this session is affected.
        let _ = opened.conn.command(&crate::proto::Command::Utf8).await;
    }
    // The first login of a run may find the address penalised for earlier failures (Dovecot's
    // auth penalty: up to 15 s, plus its 2 s failure delay, for a correct login too), before
    // anything is measured: it waits [`FIRST_LOGIN_PATIENCE`] times `--timeout`.
    let patience = opened.conn.set_patience(opts.timeout * FIRST_LOGIN_PATIENCE);
    let mut outcome = login_with_retries(&mut opened, creds, method).await;
    opened.conn.restore_patience(patience);
    if utf8 && matches!(&outcome, Ok(o) if !o.ok() && o.out_of_step().is_none()) {
        // A server whose logins break in UTF-8 mode (rfc6856/utf8-then-login reports that) has
        // not refused the account: log in again in a session without UTF8.
        if let Ok(again) = s::open(target, opts, Some(creds), stls, false).await {
            opened.conn.close(true).await;
            opened = again;
            let patience = opened.conn.set_patience(opts.timeout * FIRST_LOGIN_PATIENCE);
            outcome = login_with_retries(&mut opened, creds, method).await;
            opened.conn.restore_patience(patience);
        }
    }
    match outcome {
        Ok(o) if o.ok() => {
            p.inventory.login = Support::Yes;
            if method == LoginMethod::UserPass {
                p.inventory.user = Support::Yes;
            }
            if opened.capa_ok {
                if let Ok((caps, _, _)) = s::capa(&mut opened.conn).await {
                    merge(&mut p.caps, &caps);
                }
            }
            // IMPLEMENTATION is informational (RFC 2449 §6.9); some servers list it only after
            // login (GNU Mailutils): record it from whichever state shows it.
            if p.server.implementation.is_none() {
                p.server.implementation = p.caps.implementation().map(str::to_string);
            }
            let found = survey(&mut opened.conn).await;
            p.inventory.maildrop = found.maildrop;
            p.inventory.top = found.top;
            p.inventory.uidl = found.uidl;
            p.locks = second_login_refused(target, opts, creds, stls).await;
            p.inventory.lock = Support::from_ok(p.locks);
        }
        // A server out of step, or a reply that is no status line, did not refuse anything: its
        // replies no longer answer our commands (a CAPA sent twice made PASS's "reply" the second
        // CAPA's `USER` line, reported as the account refused).
        Ok(o) if o.out_of_step().is_some() || o.response.status == crate::proto::Status::Unknown => {
            let why = match o.out_of_step() {
                Some(v) => format!("the server is out of step ({v}): its replies no longer belong to the commands"),
                None => format!("the reply to {} is not a POP3 status line: `{}`", method.name(), o.response.text),
            };
            p.login_refused = Some(format!("logging in as `{}` failed: {why}", creds.user));
        }
        Ok(o) => {
            p.login_refused =
                Some(format!("the test account `{}` was refused ({}): {}", creds.user, method.name(), o.response.text))
        }
        Err(e) => p.login_refused = Some(format!("logging in as `{}` failed: {e}", creds.user)),
    }
    opened.conn.close(true).await;
    if p.login_refused.is_none() {
        if let Some(e) = empty {
            p.inventory.empty_account = Some(empty_account(target, opts, e, stls).await);
        }
        p.inventory.auth_delay = measure_auth_delay(target, opts, creds, stls, method).await;
    }
    p
}

/// How many times `--timeout` the probe's login waits for its reply (see [`probe`]).
pub const FIRST_LOGIN_PATIENCE: u32 = 3;

/// One login, retried a few times while the server says `[IN-USE]`/`[LOGIN-DELAY]`/`[SYS/TEMP]`.
async fn login_with_retries(
    opened: &mut Opened,
    creds: &Credentials,
    method: LoginMethod,
) -> Result<s::LoginOutcome, crate::net::NetError> {
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        let o = s::login(&mut opened.conn, creds, method, opened.timestamp.as_deref()).await?;
        if o.ok() || attempt == s::LOGIN_RETRIES || !crate::checks::util::is_transient(&o.response) {
            return Ok(o);
        }
        attempt += 1;
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
}

/// Opens a second session as the same user while the first holds the maildrop. Any refusal
/// (`[IN-USE]` or not) counts as locking: serialising is the safe reading.
async fn second_login_refused(target: &Target, opts: &ConnectOptions, creds: &Credentials, stls: StlsPolicy) -> bool {
    match s::open(target, opts, Some(creds), stls, false).await {
        Ok(mut o) => {
            let method = default_method(&o.capa);
            let refused =
                !matches!(s::login(&mut o.conn, creds, method, o.timestamp.as_deref()).await, Ok(r) if r.ok());
            o.conn.close(true).await;
            refused
        }
        Err(_) => true,
    }
}

/// Logs in as the `--empty-user` account and counts its messages.
async fn empty_account(
    target: &Target,
    opts: &ConnectOptions,
    creds: &Credentials,
    stls: StlsPolicy,
) -> Result<u64, String> {
    let mut o = s::open(target, opts, Some(creds), stls, false).await.map_err(|e| e.to_string())?;
    let method = default_method(&o.capa);
    let r = login_with_retries(&mut o, creds, method).await.map_err(|e| e.to_string())?;
    let result = if !r.ok() {
        Err(format!("`{}` was refused ({}): {}", creds.user, method.name(), r.response.text))
    } else {
        match o.conn.command(&Command::Stat).await {
            Ok(st) if st.is_ok() => {
                listing::parse_stat(&st.text).map(|(n, _)| n).map_err(|v| format!("its STAT reply is malformed: {v}"))
            }
            Ok(st) => Err(format!("STAT was refused: {}", st.text)),
            Err(e) => Err(e.to_string()),
        }
    };
    o.conn.close(true).await;
    result
}

/// Times one deliberately failed login (the test user, a wrong password) and the correct login
/// after it: servers delay failures (Dovecot: 2 s) and penalise the address for a while (Dovecot:
/// 4 s before the next login, doubling to 15 s). Scenarios that fail logins on purpose then wait
/// for what this server does instead of a fixed constant, and run after the others.
async fn measure_auth_delay(
    target: &Target,
    opts: &ConnectOptions,
    creds: &Credentials,
    stls: StlsPolicy,
    method: LoginMethod,
) -> Option<AuthDelay> {
    // A failure may take long on a penalising server: allow what a CI job can afford.
    let mut o = opts.clone();
    o.timeout = o.timeout.max(Duration::from_secs(20));
    let wrong = Credentials { user: creds.user.clone(), password: Secret::new(WRONG_PASSWORD) };
    let mut opened = s::open(target, &o, Some(creds), stls, false).await.ok()?;
    let started = Instant::now();
    let failed = s::login(&mut opened.conn, &wrong, method, opened.timestamp.as_deref()).await;
    let failed_took = started.elapsed();
    if !matches!(failed, Ok(ref r) if !r.ok()) {
        opened.conn.close(false).await;
        return None;
    }
    let started = Instant::now();
    let next = s::login(&mut opened.conn, creds, method, opened.timestamp.as_deref()).await;
    let next_took = started.elapsed();
    let next_ok = matches!(next, Ok(ref r) if r.ok());
    opened.conn.close(true).await;
    let next = if next_ok {
        next_took
    } else {
        // Some servers end the session after a failed login or refuse a second attempt on it:
        // measure the next login on a fresh connection.
        let started = Instant::now();
        match s::open(target, &o, Some(creds), stls, true).await {
            Ok(again) => {
                again.conn.close(true).await;
                started.elapsed()
            }
            Err(_) => Duration::ZERO,
        }
    };
    Some(AuthDelay { failed: failed_took, next })
}
