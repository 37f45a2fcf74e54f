//! Plays one attack on one accepted connection: the greeting, a small POP3 responder (any login
//! succeeds, the maildrop is empty), and the attack's STLS and CAPA answers. Everything the client
//! does goes into an [`Observation`] and a transcript (credentials redacted as they are recorded).

use super::attacks::{Plan, StlsReply};
use super::judge::Observation;
use super::pki::Pki;
use crate::transcript::Transcript;
use std::collections::VecDeque;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bounds on one session, so a client that floods or loops cannot keep the audit running.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest command line accepted (RFC 2449 §4 allows 255 octets; SASL responses are longer).
    pub max_line: usize,
    /// Commands served before the server hangs up: a real client needs a dozen.
    pub max_commands: usize,
    /// How long the reply to the first command inside TLS is held after an injection: a client
    /// that sends another command meanwhile has taken the injected bytes as that reply. Short
    /// enough not to slow honest clients, long enough for a loaded CI machine to send one line.
    pub inject_window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_line: 8192, max_commands: 64, inject_window: Duration::from_millis(700) }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// Between the plain socket being handed to the TLS acceptor and the handshake's end.
    Gone,
}

/// The connection: the socket and the bytes read but not yet taken as lines.
struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    tls: bool,
}

impl Conn {
    /// The next line with its CRLF, `None` at EOF.
    async fn read_line(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(pos) = memchr::memchr(b'\n', &self.buf) {
                return Ok(Some(self.buf.drain(..=pos).collect()));
            }
            if self.buf.len() > max {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "command line too long"));
            }
            let mut chunk = [0u8; 4096];
            let n = match &mut self.stream {
                Stream::Plain(s) => s.read(&mut chunk).await?,
                Stream::Tls(s) => s.read(&mut chunk).await?,
                Stream::Gone => 0,
            };
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn write(&mut self, bytes: &[u8], t: &mut Transcript) -> io::Result<()> {
        t.server(self.tls, bytes);
        match &mut self.stream {
            Stream::Plain(s) => s.write_all(bytes).await,
            Stream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// The TLS handshake on the plain socket. Bytes the client pipelined after STLS were sent in
    /// cleartext: they are judged as cleartext commands and then dropped, never read inside TLS.
    async fn upgrade(
        &mut self,
        acceptor: &tokio_rustls::TlsAcceptor,
        obs: &mut Observation,
        t: &mut Transcript,
    ) -> bool {
        for line in std::mem::take(&mut self.buf).split_inclusive(|&b| b == b'\n') {
            t.note(false, "client pipelined bytes after STLS (discarded)");
            record(line, false, obs, t, &mut AuthState::default());
        }
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return false;
        };
        match acceptor.accept(tcp).await {
            Ok(s) => {
                self.stream = Stream::Tls(Box::new(s));
                self.tls = true;
                obs.tls_established = true;
                t.note(true, "TLS handshake complete");
                true
            }
            Err(e) => {
                t.note(false, format!("TLS handshake failed: {e}"));
                obs.handshake_error = Some(e.to_string());
                false
            }
        }
    }
}

/// An open AUTH exchange: how many client continuations are still expected.
#[derive(Default)]
struct AuthState {
    remaining: u8,
}

/// Records one client line: transcript (redacted), keyword, and whether it carried a secret.
/// Returns the upper-cased keyword and the argument.
fn record(line: &[u8], tls: bool, obs: &mut Observation, t: &mut Transcript, auth: &mut AuthState) -> (String, String) {
    t.client(tls, line);
    let text = String::from_utf8_lossy(line).trim_end_matches(['\r', '\n']).to_string();
    let secret = |obs: &mut Observation| {
        if tls {
            obs.tls_secret = true
        } else {
            obs.cleartext_secret = true
        }
    };
    if auth.remaining > 0 {
        auth.remaining -= 1;
        if text != "*" {
            secret(obs);
        }
        return ("(continuation)".into(), text);
    }
    let (kw, arg) = match text.split_once(' ') {
        Some((k, a)) => (k.to_ascii_uppercase(), a.to_string()),
        None => (text.to_ascii_uppercase(), String::new()),
    };
    if tls { &mut obs.tls_commands } else { &mut obs.cleartext_commands }.push(kw.clone());
    match kw.as_str() {
        "PASS" | "APOP" if !arg.is_empty() => secret(obs),
        "AUTH" if !arg.is_empty() => {
            let mut words = arg.split_ascii_whitespace();
            let mech = words.next().unwrap_or_default().to_ascii_uppercase();
            let initial = words.next().is_some();
            if initial {
                secret(obs);
            }
            auth.remaining = match (mech.as_str(), initial) {
                ("LOGIN", false) => 2,
                (_, false) | ("LOGIN", true) => 1,
                _ => 0,
            };
            if tls {
                obs.tls_mechanisms.push(mech);
            }
        }
        _ => {}
    }
    (kw, arg)
}

fn capa(lines: &[&str]) -> Vec<u8> {
    let mut out = b"+OK capability list follows\r\n".to_vec();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Plays `plan` on `tcp` until the client quits, closes, or a limit is reached. The caller bounds
/// the whole session with its timeout; `obs` and `t` keep what was seen if it is cut short.
pub async fn play(
    tcp: TcpStream,
    plan: &Plan,
    pki: &Pki,
    limits: Limits,
    obs: &mut Observation,
    t: &mut Transcript,
) -> io::Result<()> {
    obs.connected = true;
    let mut conn = Conn { stream: Stream::Plain(tcp), buf: Vec::new(), tls: false };
    if plan.implicit && !conn.upgrade(pki.acceptor(plan.cert), obs, t).await {
        return Ok(());
    }
    conn.write(b"+OK pop3test audit-client ready\r\n", t).await?;
    let mut auth = AuthState::default();
    let mut queued: VecDeque<Vec<u8>> = VecDeque::new();
    let mut inject_pending = false;
    for _ in 0..limits.max_commands {
        let line = match queued.pop_front() {
            Some(l) => l,
            None => match conn.read_line(limits.max_line).await? {
                Some(l) => l,
                None => {
                    t.note(conn.tls, "client closed the connection");
                    return Ok(());
                }
            },
        };
        let tls = conn.tls;
        let in_auth = auth.remaining > 0;
        let (kw, arg) = record(&line, tls, obs, t, &mut auth);
        if inject_pending {
            // Hold this reply: a client that answers it with a new command already "has" a reply.
            inject_pending = false;
            match tokio::time::timeout(limits.inject_window, conn.read_line(limits.max_line)).await {
                Ok(Ok(Some(next))) => {
                    obs.answered_by_injection = true;
                    t.note(true, "client sent a new command before its first one inside TLS was answered");
                    queued.push_back(next);
                }
                Ok(Ok(None)) => t.note(true, "client closed while waiting for its first reply inside TLS"),
                Ok(Err(e)) => return Err(e),
                Err(_) => {}
            }
        }
        if in_auth {
            let reply: &[u8] = if arg == "*" {
                b"-ERR authentication cancelled\r\n"
            } else if auth.remaining > 0 {
                b"+ UGFzc3dvcmQ6\r\n"
            } else {
                b"+OK logged in\r\n"
            };
            conn.write(reply, t).await?;
            continue;
        }
        let reply: Vec<u8> = match kw.as_str() {
            "CAPA" => capa(if tls { plan.capa_post } else { plan.capa_pre }),
            "STLS" if tls => b"-ERR already under TLS\r\n".to_vec(),
            "STLS" => {
                let (ok, extra): (&[u8], &[u8]) = match plan.stls {
                    StlsReply::Ok => (b"+OK begin TLS negotiation\r\n", b""),
                    StlsReply::OkThenInject(bytes) => (b"+OK begin TLS negotiation\r\n", bytes),
                    StlsReply::Err(text) => {
                        conn.write(format!("{text}\r\n").as_bytes(), t).await?;
                        continue;
                    }
                };
                // One write: the injected bytes arrive in the same segment as the +OK.
                conn.write(&[ok, extra].concat(), t).await?;
                inject_pending = !extra.is_empty();
                if !conn.upgrade(pki.acceptor(plan.cert), obs, t).await {
                    return Ok(());
                }
                continue;
            }
            "USER" => b"+OK send PASS\r\n".to_vec(),
            "PASS" | "APOP" => b"+OK maildrop has 0 messages (0 octets)\r\n".to_vec(),
            "AUTH" if arg.is_empty() => b"+OK\r\nPLAIN\r\n.\r\n".to_vec(),
            "AUTH" if auth.remaining == 2 => b"+ VXNlcm5hbWU6\r\n".to_vec(),
            "AUTH" if auth.remaining == 1 => b"+ \r\n".to_vec(),
            "AUTH" => b"+OK logged in\r\n".to_vec(),
            "STAT" => b"+OK 0 0\r\n".to_vec(),
            "LIST" | "UIDL" if arg.is_empty() => b"+OK 0 messages\r\n.\r\n".to_vec(),
            "LIST" | "UIDL" | "RETR" | "TOP" | "DELE" => b"-ERR no such message\r\n".to_vec(),
            "NOOP" | "RSET" => b"+OK\r\n".to_vec(),
            "QUIT" => {
                conn.write(b"+OK bye\r\n", t).await?;
                return Ok(());
            }
            _ => b"-ERR unknown command\r\n".to_vec(),
        };
        conn.write(&reply, t).await?;
    }
    t.note(conn.tls, "command limit reached; closing");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_audit::Attack;

    /// Plays `attack` against a raw client that writes `sent` at once, half-closes and reads to
    /// EOF; returns what the server observed and the transcript's text.
    async fn against(attack: Attack, sent: &'static [u8]) -> (Observation, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(sent).await.unwrap();
            s.shutdown().await.unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink).await;
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let pki = Pki::generate().unwrap();
        let (mut obs, mut t) = (Observation::default(), Transcript::new());
        let plan = attack.plan();
        let played = play(tcp, &plan, &pki, Limits::default(), &mut obs, &mut t);
        tokio::time::timeout(Duration::from_secs(10), played).await.expect("bounded").unwrap();
        tokio::time::timeout(Duration::from_secs(10), client).await.expect("bounded").unwrap();
        let text = t.entries().iter().map(|e| e.text.clone()).collect::<Vec<_>>().join("");
        (obs, text)
    }

    #[tokio::test]
    async fn auth_login_in_cleartext_is_a_secret_and_is_redacted() {
        let (obs, text) = against(Attack::Strip, b"CAPA\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nQUIT\r\n").await;
        assert!(obs.cleartext_secret);
        assert_eq!(obs.cleartext_commands, ["CAPA", "AUTH", "QUIT"]);
        assert!(!text.contains("cGFzcw=="), "{text}");
        assert!(text.contains("+ UGFzc3dvcmQ6"), "the second LOGIN prompt was sent: {text}");
    }

    #[tokio::test]
    async fn commands_pipelined_after_stls_count_as_cleartext() {
        let (obs, text) = against(Attack::Honest, b"STLS\r\nUSER a\r\nPASS hunter2\r\n").await;
        assert!(obs.cleartext_secret, "{obs:?}");
        assert!(!obs.tls_established);
        assert!(obs.handshake_error.is_some());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("pipelined bytes after STLS"), "{text}");
    }
}
