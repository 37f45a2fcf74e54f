//! A06, STLS command injection (CVE-2011-0411 class; RFC 2595 §4 and `2595-discard-buffer`): a
//! man in the middle can append plaintext commands to the client's `STLS`; a server that keeps its
//! input buffer across the upgrade runs them inside the TLS session as if the client had sent them.
//!
//! Each [`Variant`] runs on its own connection: write `STLS` with a pipelined command, complete the
//! handshake, then send nothing and listen. A correct server has nothing to say; any unsolicited
//! octets inside TLS are the reply to the injected command. To catch servers that only look at
//! their stale buffer on the next read, one `NOOP` follows the silence: exactly one status line
//! may come back. A server that closes, or fails the handshake because it read the injected octets
//! as TLS, is safe. Only status indicators, octet counts and closure are looked at — never the
//! wording of a reply.

use super::check::{show, CheckId, Evidence, Finding, Outcome};
use super::dial::{self, Ctx};
use crate::net::{Connection, NetError};
use crate::proto::{Command, Expect};
use crate::results::Severity;

/// One way of smuggling a command in front of the TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `STLS\r\nCAPA\r\n` in one write: the classic probe.
    Capa,
    /// `STLS\r\nNOOP\r\n` in one write.
    Noop,
    /// `STLS\r\nUSER pop3test\r\n` in one write.
    User,
    /// `STLS\r\n`, then `CAPA\r\n` as a second segment right away, before the `+OK` is read.
    SecondSegment,
    /// `STLS\r\n`, the `+OK` read, then `CAPA\r\n` in plaintext before the ClientHello.
    AfterOk,
}

impl Variant {
    pub const ALL: [Variant; 5] =
        [Variant::Capa, Variant::Noop, Variant::User, Variant::SecondSegment, Variant::AfterOk];

    pub fn label(self) -> &'static str {
        match self {
            Variant::Capa => "STLS and CAPA in one write",
            Variant::Noop => "STLS and NOOP in one write",
            Variant::User => "STLS and USER in one write",
            Variant::SecondSegment => "STLS, then CAPA as a second segment before the +OK",
            Variant::AfterOk => "STLS, +OK, then CAPA in plaintext before the ClientHello",
        }
    }

    /// The octets of the first write.
    pub fn first(self) -> &'static [u8] {
        match self {
            Variant::Capa => b"STLS\r\nCAPA\r\n",
            Variant::Noop => b"STLS\r\nNOOP\r\n",
            Variant::User => b"STLS\r\nUSER pop3test\r\n",
            Variant::SecondSegment | Variant::AfterOk => b"STLS\r\n",
        }
    }

    /// A second write made right after the first, before reading anything.
    pub fn second(self) -> Option<&'static [u8]> {
        (self == Variant::SecondSegment).then_some(b"CAPA\r\n")
    }

    /// Plaintext written after the `+OK`, before the ClientHello.
    pub fn after_ok(self) -> Option<&'static [u8]> {
        (self == Variant::AfterOk).then_some(b"CAPA\r\n")
    }
}

/// What one variant saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// STLS was not answered `+OK`: nothing to inject into.
    StlsRefused,
    /// The server hung up instead of answering STLS (some close when data follows STLS): safe.
    Hangup,
    /// No TLS session after the `+OK` (handshake failure or hang-up): the injected octets could not
    /// run inside TLS.
    NoTls(String),
    /// The server closed the TLS session while we listened.
    ClosedInTls,
    /// Inside TLS: silence, and exactly one status line for our own `NOOP`.
    Silent,
    /// Octets inside TLS that nobody asked for: the injected command ran.
    Answered(Vec<u8>),
    /// The tester could not tell (timeout, broken greeting...).
    Inconclusive(String),
}

const SILENT: &str = "silence inside TLS and one reply to our NOOP";
const CLOSED_IN_TLS: &str = "the TLS session closed";
const NO_TLS: &str = "no TLS session after the +OK";
const HANGUP: &str = "a hang-up instead of +OK";
const REFUSED: &str = "STLS refused";

impl Seen {
    /// For the outcomes that show no injection, how a report names them.
    fn safe_kind(&self) -> Option<&'static str> {
        match self {
            Seen::Silent => Some(SILENT),
            Seen::ClosedInTls => Some(CLOSED_IN_TLS),
            Seen::NoTls(_) => Some(NO_TLS),
            Seen::Hangup => Some(HANGUP),
            Seen::StlsRefused => Some(REFUSED),
            Seen::Answered(_) | Seen::Inconclusive(_) => None,
        }
    }
}

/// Runs one variant on a fresh connection; returns what it saw and the connection's evidence.
pub async fn probe(ctx: &Ctx, variant: Variant) -> (Seen, Evidence) {
    let mut evidence = Evidence::default();
    let g = match dial::open(ctx, &ctx.target).await {
        Ok(g) => g,
        Err(e) => return (Seen::Inconclusive(format!("cannot connect: {e}")), evidence),
    };
    let mut conn = g.conn;
    let seen = if g.greeting.is_ok() {
        match run(&mut conn, ctx, variant).await {
            Ok(seen) => seen,
            Err(e) => Seen::Inconclusive(e.to_string()),
        }
    } else {
        Seen::Inconclusive("the greeting was not +OK".into())
    };
    if let Seen::Answered(bytes) = &seen {
        conn.note(format!("{} unsolicited octets inside TLS: the injected command ran", bytes.len()));
    }
    let transcript = dial::finish(conn, false, dial::QUIT_WAIT).await;
    evidence.session(&format!("injection: {}", variant.label()), &transcript);
    (seen, evidence)
}

async fn run(conn: &mut Connection, ctx: &Ctx, variant: Variant) -> Result<Seen, NetError> {
    conn.send_raw(variant.first()).await?;
    if let Some(second) = variant.second() {
        conn.send_raw(second).await?;
    }
    let reply = match conn.read_response(Expect::SingleLine).await {
        Ok(r) => r,
        Err(e) if e.is_disconnect() => return Ok(Seen::Hangup),
        Err(e) => return Err(e),
    };
    if !reply.is_ok() {
        return Ok(Seen::StlsRefused);
    }
    if let Some(&first) = conn.buffered().first() {
        let n = conn.buffered().len();
        // A record header here means the server's TLS layer already read our pipelined octets as
        // (broken) TLS and answered with an alert: the handshake will fail, which is safe.
        let what = if (0x14..=0x17).contains(&first) {
            "a TLS record (the server's TLS layer read our plaintext as TLS)"
        } else {
            "plaintext (A09's concern, not injection inside TLS)"
        };
        conn.note(format!("{n} octets followed the +OK: {what}"));
    }
    if let Some(bytes) = variant.after_ok() {
        conn.send_raw(bytes).await?;
    }
    if let Err(e) = conn.start_tls().await {
        return match e {
            NetError::Usage(_) | NetError::TlsSetup(_) => Err(e),
            other => Ok(Seen::NoTls(other.to_string())),
        };
    }
    match conn.read_unsolicited(ctx.waits.quiet).await {
        Ok(Some(bytes)) => return Ok(Seen::Answered(bytes)),
        Ok(None) => {}
        Err(e) if e.is_disconnect() => return Ok(Seen::ClosedInTls),
        Err(e) => return Err(e),
    }
    // A lazy server looks at its stale buffer only when new data arrives: one NOOP, one reply.
    conn.send(&Command::Noop).await?;
    let first = match conn.read_response(Expect::SingleLine).await {
        Ok(r) => r,
        Err(e) if e.is_disconnect() => return Ok(Seen::ClosedInTls),
        Err(e) => return Err(e),
    };
    match conn.read_unsolicited(ctx.waits.quiet / 2).await {
        Ok(Some(extra)) => {
            conn.note(format!("{} octets after the one reply to NOOP (status {:?})", extra.len(), first.status));
            Ok(Seen::Answered(extra))
        }
        Ok(None) => Ok(Seen::Silent),
        Err(e) if e.is_disconnect() => Ok(Seen::Silent),
        Err(e) => Err(e),
    }
}

/// A06 from every variant's observation.
pub fn decide(seen: &[(Variant, Seen)]) -> Outcome {
    let answered: Vec<String> = seen
        .iter()
        .filter_map(|(v, s)| match s {
            Seen::Answered(bytes) => {
                Some(format!("{}: {} octets arrived inside TLS unasked (\"{}\")", v.label(), bytes.len(), show(bytes)))
            }
            _ => None,
        })
        .collect();
    if !answered.is_empty() {
        return Outcome::fail(
            Severity::Critical,
            format!("plaintext pipelined after STLS was executed inside TLS — {}", answered.join("; ")),
        );
    }
    let unclear: Vec<String> = seen
        .iter()
        .filter_map(|(v, s)| match s {
            Seen::Inconclusive(why) => Some(format!("{}: {why}", v.label())),
            _ => None,
        })
        .collect();
    let reached_tls_step = seen.iter().any(|(_, s)| matches!(s, Seen::Silent | Seen::ClosedInTls | Seen::NoTls(_)));
    if !reached_tls_step {
        if !unclear.is_empty() {
            return Outcome::Error(format!("the injection probes could not run: {}", unclear.join("; ")));
        }
        return Outcome::Skip(
            "STLS was never answered +OK (refused, or the connection closed), so there is no TLS upgrade to inject \
             into"
                .into(),
        );
    }
    if seen.iter().any(|(v, s)| *v == Variant::Capa && matches!(s, Seen::Inconclusive(_))) {
        return Outcome::Error(format!("the main injection probe could not run: {}", unclear.join("; ")));
    }
    let labels = [SILENT, CLOSED_IN_TLS, NO_TLS, HANGUP, REFUSED];
    let counts: Vec<String> = labels
        .iter()
        .filter_map(|label| {
            let n = seen.iter().filter(|(_, s)| s.safe_kind() == Some(label)).count();
            (n > 0).then(|| format!("{n}× {label}"))
        })
        .collect();
    let mut msg =
        format!("the pipelined plaintext never ran inside TLS ({} variants: {})", seen.len(), counts.join(", "));
    if !unclear.is_empty() {
        msg.push_str(&format!("; undecided: {}", unclear.join("; ")));
    }
    Outcome::Pass(msg)
}

/// Runs every variant concurrently, each on its own connection, and decides A06.
pub async fn finding(ctx: &Ctx) -> Finding {
    let runs = futures_join_all(ctx).await;
    let mut evidence = Evidence::default();
    let mut seen = Vec::with_capacity(runs.len());
    for (variant, (s, ev)) in runs {
        evidence.extend(&ev);
        seen.push((variant, s));
    }
    Finding::new(CheckId::A06, decide(&seen)).with_evidence(evidence)
}

async fn futures_join_all(ctx: &Ctx) -> Vec<(Variant, (Seen, Evidence))> {
    let [a, b, c, d, e] = Variant::ALL;
    let (ra, rb, rc, rd, re) = tokio::join!(
        Box::pin(probe(ctx, a)),
        Box::pin(probe(ctx, b)),
        Box::pin(probe(ctx, c)),
        Box::pin(probe(ctx, d)),
        Box::pin(probe(ctx, e))
    );
    vec![(a, ra), (b, rb), (c, rc), (d, rd), (e, re)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: Seen) -> Vec<(Variant, Seen)> {
        Variant::ALL.iter().map(|&v| (v, s.clone())).collect()
    }

    #[test]
    fn any_unsolicited_octets_are_critical() {
        let mut seen = all(Seen::Silent);
        seen[3].1 = Seen::Answered(b"+OK\r\n".to_vec());
        let out = decide(&seen);
        assert_eq!(out.severity(), Some(Severity::Critical));
        assert!(out.message().contains("second segment") && out.message().contains("+OK\\r\\n"), "{}", out.message());
    }

    #[test]
    fn silence_closure_and_failed_handshakes_are_safe() {
        assert!(decide(&all(Seen::Silent)).is_pass());
        assert!(decide(&all(Seen::ClosedInTls)).is_pass());
        assert!(decide(&all(Seen::NoTls("alert".into()))).is_pass());
        // A server that hangs up when anything follows STLS, and fails the handshake for the
        // plaintext sent after +OK.
        let mut seen = all(Seen::Hangup);
        seen[4].1 = Seen::NoTls("alert".into());
        let out = decide(&seen);
        assert!(out.is_pass() && out.message().contains("4× a hang-up"), "{}", out.message());
        assert!(matches!(decide(&all(Seen::Hangup)), Outcome::Skip(_)));
    }

    #[test]
    fn refused_stls_skips_and_undecided_main_probe_errors() {
        assert!(matches!(decide(&all(Seen::StlsRefused)), Outcome::Skip(_)));
        assert!(matches!(decide(&all(Seen::Inconclusive("timeout".into()))), Outcome::Error(_)));
        let mut seen = all(Seen::Silent);
        seen[4].1 = Seen::Inconclusive("timeout".into());
        let out = decide(&seen);
        assert!(out.is_pass() && out.message().contains("undecided"), "{}", out.message());
    }

    #[test]
    fn variants_put_the_exact_octets_on_the_wire() {
        assert_eq!(Variant::Capa.first(), b"STLS\r\nCAPA\r\n");
        assert_eq!(Variant::SecondSegment.second(), Some(&b"CAPA\r\n"[..]));
        assert_eq!(Variant::AfterOk.after_ok(), Some(&b"CAPA\r\n"[..]));
        assert!(Variant::ALL.iter().all(|v| v.first().starts_with(b"STLS\r\n")));
    }
}
