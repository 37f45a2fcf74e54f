//! The physical limit: a minimal tokio client with no pop3test code on its path (no decoder, no
//! transcript, no Connection) — plain `read`/`write` and a CRLF scan. What pop3test achieves is
//! reported as a ratio to this, measured in the same run against the same server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw logged-in connection.
pub struct RawConn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    /// Connects, reads the greeting, logs in with USER/PASS in cleartext (the bench server allows it).
    pub async fn login(addr: SocketAddr, user: &str, pass: &str) -> std::io::Result<RawConn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let mut c = RawConn { s, buf: Vec::with_capacity(4096) };
        c.read_lines(1).await?;
        c.s.write_all(format!("USER {user}\r\n").as_bytes()).await?;
        c.read_lines(1).await?;
        c.s.write_all(format!("PASS {pass}\r\n").as_bytes()).await?;
        let ok = c.read_lines(1).await?;
        if !ok {
            return Err(std::io::Error::other("login refused"));
        }
        Ok(c)
    }

    /// Reads until `n` CRLF-terminated lines arrived; returns whether the last started with `+OK`.
    async fn read_lines(&mut self, n: usize) -> std::io::Result<bool> {
        let mut seen = 0;
        let mut last_start = 0;
        self.buf.clear();
        let mut scanned = 0;
        loop {
            while let Some(i) = memchr::memchr(b'\n', &self.buf[scanned..]) {
                seen += 1;
                if seen == n {
                    return Ok(self.buf[last_start..].starts_with(b"+OK"));
                }
                scanned += i + 1;
                last_start = scanned;
            }
            let mut chunk = [0u8; 4096];
            let got = self.s.read(&mut chunk).await?;
            if got == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..got]);
        }
    }

    /// One NOOP round trip.
    pub async fn noop(&mut self) -> std::io::Result<()> {
        self.s.write_all(b"NOOP\r\n").await?;
        self.read_lines(1).await.map(|_| ())
    }

    /// `batch` NOOPs in one write, then all replies.
    pub async fn noop_batch(&mut self, batch: usize) -> std::io::Result<()> {
        self.s.write_all(&b"NOOP\r\n".repeat(batch)).await?;
        self.read_lines(batch).await.map(|_| ())
    }

    pub async fn quit(mut self) {
        let _ = self.s.write_all(b"QUIT\r\n").await;
        let _ = self.read_lines(1).await;
    }
}

/// `n` authenticated NOOP round trips on one new connection; the time they took.
pub async fn timed_noops(addr: SocketAddr, user: &str, pass: &str, n: usize) -> Duration {
    let mut c = RawConn::login(addr, user, pass).await.expect("raw login");
    let t = Instant::now();
    for _ in 0..n {
        c.noop().await.expect("noop");
    }
    let took = t.elapsed();
    c.quit().await;
    took
}

/// Replays recorded exchanges on one new connection: writes each request as recorded and reads
/// exactly the octets the server sent back when it was recorded (no parsing at all: the floor
/// for this workload). Returns the time the exchanges took.
pub async fn replay(addr: SocketAddr, user: &str, pass: &str, exchanges: &[(Vec<u8>, usize)]) -> Duration {
    let mut c = RawConn::login(addr, user, pass).await.expect("raw login");
    let mut chunk = vec![0u8; 64 * 1024];
    let t = Instant::now();
    for (request, reply) in exchanges {
        c.s.write_all(request).await.expect("replay write");
        let mut left = *reply;
        while left > 0 {
            let got = c.s.read(&mut chunk[..left.min(64 * 1024)]).await.expect("replay read");
            assert!(got > 0, "the server closed during the replay");
            left -= got;
        }
    }
    let took = t.elapsed();
    c.quit().await;
    took
}

/// Pipelined NOOPs per second in batches of `batch` on one connection.
pub async fn pipelined_rate(addr: SocketAddr, user: &str, pass: &str, batch: usize, batches: usize) -> f64 {
    let mut c = RawConn::login(addr, user, pass).await.expect("raw login");
    let t = Instant::now();
    for _ in 0..batches {
        c.noop_batch(batch).await.expect("batch");
    }
    let rate = (batch * batches) as f64 / t.elapsed().as_secs_f64();
    c.quit().await;
    rate
}

/// Fresh sessions (connect + greeting + login + QUIT) per second, sequentially.
pub async fn session_rate(addr: SocketAddr, user: &str, pass: &str, n: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        RawConn::login(addr, user, pass).await.expect("raw login").quit().await;
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// Full TLS handshakes per second against an implicit-TLS port, trusting `ca_pem`.
pub async fn tls_handshake_rate(addr: SocketAddr, ca_pem: &str, n: usize) -> f64 {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut ca_pem.as_bytes()).flatten() {
        let _ = roots.add(c);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let t = Instant::now();
    for _ in 0..n {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = connector.connect(name, s).await.expect("handshake");
        let mut b = [0u8; 512];
        let _ = tls.read(&mut b).await;
    }
    n as f64 / t.elapsed().as_secs_f64()
}
