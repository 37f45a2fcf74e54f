//! Async probes for audits A10 and A11: one fresh connection per question ("do you accept TLS 1.0?",
//! "do you accept an RC4 suite?"), a hand-built ClientHello, and the server's first reply. The
//! handshake is never completed. POP3 is none of this code's business: the caller's `connect`
//! closure returns a stream that is ready for a ClientHello (plain TCP for port 995, the STLS
//! exchange already done for port 110).

use std::future::Future;
use std::io;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout as within;

use super::hello::{alert_name, client_hello, parse_server_reply, Malformed, ServerHello, ServerReply};
use super::ProtocolVersion;
use crate::audit::ciphers::{self, SuiteClass};

/// The most bytes read while waiting for a ServerHello. A reply is one record of at most
/// 2^14 + 2048 bytes plus its header; two such records cover a ServerHello split in two, which is
/// already more than any server sends. Past this the reply is junk (say, a ServerHello dribbled out
/// in one-byte records), not a slow ServerHello.
pub const MAX_REPLY_BYTES: usize = 2 * (5 + (1 << 14) + 2048);

/// How one probe ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ProbeOutcome {
    /// The server answered with a ServerHello.
    Hello(ServerHello),
    /// The server refused with an alert.
    Alert {
        level: u8,
        description: u8,
    },
    /// The server closed the connection without a reply.
    Closed,
    /// The connection was reset or failed while sending or reading.
    Reset {
        error: String,
    },
    /// Nothing conclusive arrived within the timeout.
    Timeout,
    /// The reply was not TLS; the first bytes are kept as evidence.
    NotTls {
        first_bytes: Vec<u8>,
    },
    Malformed(Malformed),
    /// The `connect` closure failed: the tester could not ask the question (an error, not a finding).
    ConnectFailed {
        error: String,
    },
}

impl ProbeOutcome {
    /// Whether the probe asked its question: false only when the connection could not be made, so
    /// the result says nothing about the server's TLS posture.
    pub fn is_conclusive(&self) -> bool {
        !matches!(self, ProbeOutcome::ConnectFailed { .. })
    }

    /// One line for a report.
    pub fn describe(&self) -> String {
        match self {
            ProbeOutcome::Hello(h) => {
                let retry = if h.hello_retry { " (HelloRetryRequest)" } else { "" };
                format!("ServerHello: {} with {}{retry}", h.version, ciphers::suite_name(h.cipher_suite))
            }
            ProbeOutcome::Alert { level, description } => {
                let level = if *level == 2 { "fatal" } else { "warning" };
                let name = alert_name(*description).unwrap_or("unknown");
                format!("refused with {level} alert {name} ({description})")
            }
            ProbeOutcome::Closed => "server closed the connection without answering".into(),
            ProbeOutcome::Reset { error } => format!("connection failed during the handshake: {error}"),
            ProbeOutcome::Timeout => "no answer within the timeout".into(),
            ProbeOutcome::NotTls { first_bytes } => {
                let shown: String = first_bytes
                    .iter()
                    .take(32)
                    .map(|&b| if b.is_ascii_graphic() || b == b' ' { char::from(b) } else { '.' })
                    .collect();
                format!("reply is not TLS: {shown:?}")
            }
            ProbeOutcome::Malformed(m) => format!("malformed TLS reply: {m}"),
            ProbeOutcome::ConnectFailed { error } => format!("could not connect: {error}"),
        }
    }
}

/// Sends `hello` on `stream` and waits at most `timeout` for the server's first reply.
pub async fn exchange_hello<S>(stream: &mut S, hello: &[u8], timeout: Duration) -> ProbeOutcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match within(timeout, exchange_unbounded(stream, hello)).await {
        Ok(outcome) => outcome,
        Err(_elapsed) => ProbeOutcome::Timeout,
    }
}

async fn exchange_unbounded<S>(stream: &mut S, hello: &[u8]) -> ProbeOutcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Err(e) = async {
        stream.write_all(hello).await?;
        stream.flush().await
    }
    .await
    {
        return ProbeOutcome::Reset { error: e.to_string() };
    }
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        match parse_server_reply(&buf) {
            ServerReply::Incomplete => {}
            ServerReply::ServerHello(h) => return ProbeOutcome::Hello(h),
            ServerReply::Alert { level, description } => return ProbeOutcome::Alert { level, description },
            ServerReply::NotTls => return ProbeOutcome::NotTls { first_bytes: buf.iter().take(64).copied().collect() },
            ServerReply::Malformed(m) => return ProbeOutcome::Malformed(m),
        }
        if buf.len() >= MAX_REPLY_BYTES {
            return ProbeOutcome::Malformed(Malformed::TooLong { length: buf.len() });
        }
        match stream.read(&mut chunk).await {
            // EOF with a partial record: the server hung up mid-reply, which is a refusal too.
            Ok(0) => return ProbeOutcome::Closed,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return ProbeOutcome::Reset { error: e.to_string() },
        }
    }
}

/// Connects with `connect` (bounded by `timeout`) and runs one hello exchange (bounded again by
/// `timeout`): the two waits are separate so a slow STLS dance cannot eat the handshake's time.
pub async fn probe_once<F, Fut, S>(connect: &F, hello: &[u8], timeout: Duration) -> ProbeOutcome
where
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<S>>,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut stream = match within(timeout, connect()).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return ProbeOutcome::ConnectFailed { error: e.to_string() },
        Err(_elapsed) => return ProbeOutcome::ConnectFailed { error: format!("connect timed out after {timeout:?}") },
    };
    exchange_hello(&mut stream, hello, timeout).await
}

/// Whether the server accepts one protocol version (A10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionProbe {
    pub version: ProtocolVersion,
    /// The server answered with a ServerHello for exactly this version.
    pub accepted: bool,
    /// The suite the server chose, when it sent a ServerHello.
    pub cipher: Option<u16>,
    pub outcome: ProbeOutcome,
    pub detail: String,
}

/// The suites offered for a version probe: everything in the table the version can use, so the
/// only reason to refuse is the version itself.
fn suites_for(version: ProtocolVersion) -> Vec<u16> {
    match version {
        ProtocolVersion::Tls13 => ciphers::tls13_codes(),
        v => ciphers::all_pre13_codes(v >= ProtocolVersion::Tls12),
    }
}

/// Probes one version with a fresh connection.
pub async fn probe_version<F, Fut, S>(
    connect: &F,
    version: ProtocolVersion,
    sni: Option<&str>,
    timeout: Duration,
) -> VersionProbe
where
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<S>>,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hello = client_hello(version, &suites_for(version), sni, &rand::random());
    let outcome = probe_once(connect, &hello, timeout).await;
    let (accepted, cipher, detail) = match &outcome {
        ProbeOutcome::Hello(h) if h.version == version => (true, Some(h.cipher_suite), outcome.describe()),
        ProbeOutcome::Hello(h) => {
            let detail = format!("not accepted: offered only {version}, server answered {}", h.version);
            (false, Some(h.cipher_suite), detail)
        }
        other => (false, None, other.describe()),
    };
    VersionProbe { version, accepted, cipher, outcome, detail }
}

/// Probes SSLv3, TLS 1.0, 1.1, 1.2 and 1.3 in turn, one connection each (A10, RFC 8996).
pub async fn probe_versions<F, Fut, S>(connect: F, sni: Option<&str>, timeout: Duration) -> Vec<VersionProbe>
where
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<S>>,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut probes = Vec::with_capacity(ProtocolVersion::PROBED.len());
    for version in ProtocolVersion::PROBED {
        probes.push(probe_version(&connect, version, sni, timeout).await);
    }
    probes
}

/// Whether the server accepts a suite of one weak family (A11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SuiteProbe {
    pub class: SuiteClass,
    pub version: ProtocolVersion,
    pub offered: Vec<u16>,
    /// The server chose one of the offered suites.
    pub accepted: bool,
    pub cipher: Option<u16>,
    pub outcome: ProbeOutcome,
    pub detail: String,
}

/// Offers each [`SuiteClass`] alone at `version` (normally TLS 1.2; below it the TLS 1.2-only
/// suites are left out), one connection per class. A server that picks an offered suite accepts
/// the class, whatever version it answers with.
pub async fn probe_weak_suites<F, Fut, S>(
    connect: F,
    version: ProtocolVersion,
    sni: Option<&str>,
    timeout: Duration,
) -> Vec<SuiteProbe>
where
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<S>>,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut probes = Vec::with_capacity(SuiteClass::ALL.len());
    for class in SuiteClass::ALL {
        let offered = class.codes(version >= ProtocolVersion::Tls12);
        let hello = client_hello(version, &offered, sni, &rand::random());
        let outcome = probe_once(&connect, &hello, timeout).await;
        let (accepted, cipher, detail) = match &outcome {
            ProbeOutcome::Hello(h) if offered.contains(&h.cipher_suite) => {
                (true, Some(h.cipher_suite), format!("accepted: {}", outcome.describe()))
            }
            ProbeOutcome::Hello(h) => {
                let detail = format!("server chose {} which was not offered", ciphers::suite_name(h.cipher_suite));
                (false, Some(h.cipher_suite), detail)
            }
            other => (false, None, other.describe()),
        };
        probes.push(SuiteProbe { class, version, offered, accepted, cipher, outcome, detail });
    }
    probes
}

/// Lists every table suite the server accepts at `version` (≤ TLS 1.2): offer all, note the
/// choice, offer the rest again, until the server refuses. The order is the server's preference when
/// it enforces one, else ours (best grade first, see [`ciphers::all_pre13_codes`]). At most one
/// connection per table suite plus one, so the loop is bounded. Stops early on an inconclusive
/// probe; the outcome of the last probe is returned so a caller can tell "refused" from "failed".
pub async fn enumerate_suites<F, Fut, S>(
    connect: F,
    version: ProtocolVersion,
    sni: Option<&str>,
    timeout: Duration,
) -> (Vec<u16>, ProbeOutcome)
where
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<S>>,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut remaining = ciphers::all_pre13_codes(version >= ProtocolVersion::Tls12);
    let mut accepted = Vec::new();
    loop {
        let hello = client_hello(version, &remaining, sni, &rand::random());
        let outcome = probe_once(&connect, &hello, timeout).await;
        match &outcome {
            ProbeOutcome::Hello(h) if remaining.contains(&h.cipher_suite) => {
                accepted.push(h.cipher_suite);
                remaining.retain(|&c| c != h.cipher_suite);
                if remaining.is_empty() {
                    return (accepted, outcome);
                }
            }
            _ => return (accepted, outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    /// A scripted server on an in-memory pipe: reads the hello, then writes `reply` and optionally closes.
    async fn scripted(reply: &'static [u8], close: bool) -> ProbeOutcome {
        let (mut client, mut server) = duplex(1 << 16);
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 5];
            let _ = server.read_exact(&mut buf).await;
            let _ = server.write_all(reply).await;
            if !close {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        let hello = client_hello(ProtocolVersion::Tls12, &[0x002F], None, &[0; 32]);
        let outcome = exchange_hello(&mut client, &hello, Duration::from_millis(300)).await;
        task.abort();
        outcome
    }

    #[tokio::test]
    async fn exchange_outcomes() {
        assert_eq!(scripted(&[0x15, 3, 3, 0, 2, 2, 40], true).await, ProbeOutcome::Alert { level: 2, description: 40 });
        assert_eq!(scripted(b"", true).await, ProbeOutcome::Closed);
        assert_eq!(scripted(&[0x16, 3, 3, 0], true).await, ProbeOutcome::Closed, "EOF mid-record");
        assert_eq!(scripted(&[0x16, 3, 3], false).await, ProbeOutcome::Timeout);
        assert!(matches!(scripted(b"-ERR no\r\n", true).await, ProbeOutcome::NotTls { .. }));
    }

    #[tokio::test]
    async fn connect_failure_is_inconclusive() {
        let connect = || async { Err::<tokio::io::DuplexStream, _>(io::Error::other("refused")) };
        let probe = probe_version(&connect, ProtocolVersion::Tls10, None, Duration::from_millis(100)).await;
        assert!(!probe.accepted);
        assert!(!probe.outcome.is_conclusive());
        assert!(probe.detail.contains("refused"));
    }
}
