//! The connection: the only code that owns a socket. It loops "decode → read more" over one
//! buffer (mini-redis style), bounds every wait by a timeout and every response by the decoder's
//! limits, upgrades to TLS on STLS, and records a redacted transcript of everything.

use super::target::{Scheme, Target};
use super::tls::{self, TlsInfo, TlsOptions, TlsSetupError};
use crate::proto::{Command, DecodeError, Decoded, Decoder, Expect, Limits, Response};
use crate::transcript::Transcript;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_rustls::client::TlsStream;

/// Everything a connection needs to know, passed in.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Longest wait for any single step: connecting, the TLS handshake, or the next byte of a
    /// response. Default 10 s: generous for a loaded server, short enough for CI.
    pub timeout: Duration,
    /// Longest time one whole response may take, however fast it flows. Default 60 s.
    pub response_deadline: Duration,
    /// Octets per second a reply must average, beyond `timeout`, to keep arriving: a reply may
    /// take `timeout + octets / min_rate` (within `response_deadline`). A server that drips a byte
    /// a second gets `timeout` for its greeting, however long it keeps dripping; a 1 MiB message
    /// at LAN speed is never cut. Default 32 KiB/s, a slow WAN link.
    pub min_rate: u64,
    pub limits: Limits,
    pub tls: TlsOptions,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Duration::from_secs(10),
            response_deadline: Duration::from_secs(60),
            min_rate: 32 * 1024,
            limits: Limits::default(),
            tls: TlsOptions::default(),
        }
    }
}

/// Why the connection could not do what was asked. Kept apart from protocol violations: these
/// are the tester's "could not run" (or the server vanished), not "the server answered wrongly".
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: &'static str, after: Duration },
    /// Data kept arriving, too slowly to make a whole reply within its deadline.
    #[error("{}", slow_message(what, *after, *received, *capped))]
    Slow {
        what: &'static str,
        after: Duration,
        received: u64,
        /// Cut by the per-reply limit (6 × --timeout), not by the rate.
        capped: bool,
    },
    #[error("the server closed the connection {when}")]
    Closed { when: &'static str, partial: Option<Box<Response>> },
    #[error("connection reset by the server {when}")]
    Reset { when: &'static str },
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    #[error("TLS setup: {0}")]
    TlsSetup(#[from] TlsSetupError),
    #[error("response rejected: {0}")]
    Decode(#[from] DecodeError),
    #[error("I/O error: {0}")]
    Io(io::Error),
    #[error("{0}")]
    Usage(&'static str),
}

/// "the greeting was incomplete after 10s: 7 octets received, at about 0.7 octets/s".
fn slow_message(what: &str, after: Duration, received: u64, capped: bool) -> String {
    let secs = after.as_secs_f64().max(0.001);
    let rate = received as f64 / secs;
    let rate = if rate >= 1024.0 { format!("{:.0} KiB/s", rate / 1024.0) } else { format!("{rate:.1} octets/s") };
    let rule = if capped {
        "a reply must be complete within 6 times --timeout"
    } else {
        "a reply must arrive within --timeout plus its size at 32 KiB/s"
    };
    format!(
        "{what} was incomplete after {}: {received} octets received, at about {rate} ({rule})",
        humantime::format_duration(Duration::from_millis(after.as_millis() as u64))
    )
}

impl NetError {
    /// True when the server was too slow or silent (a deadline, not a refusal).
    pub fn is_timeout(&self) -> bool {
        matches!(self, NetError::Timeout { .. } | NetError::Slow { .. })
    }

    /// True when the server ended the connection (close or reset) rather than the tester failing.
    pub fn is_disconnect(&self) -> bool {
        matches!(self, NetError::Closed { .. } | NetError::Reset { .. })
    }
}

/// What a TLS handshake timed out on when the server sent nothing at all.
const SILENT_HANDSHAKE: &str = "the TLS handshake (the server sent nothing after our ClientHello)";

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<tls::Counted>>),
    /// Only between taking the TCP stream out for a TLS upgrade and putting the TLS one back.
    Gone,
}

/// A POP3 connection (client side).
pub struct Connection {
    stream: Stream,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    start: usize,
    transcript: Transcript,
    opts: ConnectOptions,
    host: String,
    tls: Option<TlsInfo>,
    eof: bool,
    /// The last write held more than one line: replies are outstanding in a batch.
    pipelined: bool,
    /// Octets read from the server so far (after TLS decryption).
    received: u64,
    /// Whatever the caller wants released with the connection (e.g. a slot of a bounded pool of
    /// connections to one server), dropped when the connection is.
    held: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

impl Connection {
    /// Keeps `guard` alive as long as the connection (see `held`).
    pub fn hold(&mut self, guard: impl std::any::Any + Send + Sync) {
        self.held.push(Box::new(guard));
    }

    /// Gives back what [`Connection::hold`] kept (before [`Connection::into_plain`] drops it).
    pub fn take_held(&mut self) -> Vec<Box<dyn std::any::Any + Send + Sync>> {
        std::mem::take(&mut self.held)
    }

    /// Opens TCP (and TLS for `pop3s`). Does not read the greeting: see [`Connection::greeting`].
    pub async fn connect(target: &Target, opts: &ConnectOptions) -> Result<Connection, NetError> {
        let tcp = tcp_connect(target, opts.timeout).await?;
        let mut conn = Connection {
            stream: Stream::Plain(tcp),
            buf: Vec::with_capacity(16 * 1024),
            start: 0,
            transcript: Transcript::new(),
            opts: opts.clone(),
            host: target.host.clone(),
            tls: None,
            eof: false,
            pipelined: false,
            received: 0,
            held: Vec::new(),
        };
        conn.transcript.note(false, format!("connected to {}", target.authority()));
        if target.scheme == Scheme::ImplicitTls {
            match conn.handshake().await {
                // Not one octet back for our ClientHello: once more on a new connection before
                // calling it (a loaded server's fresh login process can miss the first; sslyze
                // retries network timeouts too). A server that never answers fails again.
                Err(NetError::Timeout { what: SILENT_HANDSHAKE, after }) => {
                    conn.transcript.note(
                        false,
                        format!("no TLS reply in {after:?}: once more on a new connection (noted, not hidden)"),
                    );
                    conn.stream = Stream::Plain(tcp_connect(target, opts.timeout).await?);
                    conn.transcript.note(false, format!("connected to {}", target.authority()));
                    conn.handshake().await?;
                }
                other => other?,
            }
        }
        Ok(conn)
    }

    /// Reads the greeting (one status line).
    pub async fn greeting(&mut self) -> Result<Response, NetError> {
        let mut decoder = Decoder::new(Expect::SingleLine, self.opts.limits);
        self.read_labelled(&mut decoder, "the greeting").await
    }

    /// Sends a command and reads its reply.
    pub async fn command(&mut self, cmd: &Command) -> Result<Response, NetError> {
        self.send(cmd).await?;
        self.read_response(cmd.expect()).await
    }

    /// Writes one command.
    pub async fn send(&mut self, cmd: &Command) -> Result<(), NetError> {
        self.send_raw(&cmd.encode()).await
    }

    /// Writes several commands in one write and reads their replies in order (RFC 2449 §6.6).
    pub async fn pipeline(&mut self, cmds: &[Command]) -> Result<Vec<Response>, NetError> {
        let mut wire = Vec::with_capacity(cmds.len() * 16);
        for c in cmds {
            c.encode_into(&mut wire);
        }
        self.send_raw(&wire).await?;
        let mut out = Vec::with_capacity(cmds.len());
        for c in cmds {
            out.push(self.read_response(c.expect()).await?);
        }
        Ok(out)
    }

    /// Writes exact bytes in one write (pipelining probes, injection probes, raw fuzz input).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), NetError> {
        let tls = self.is_tls();
        self.pipelined = memchr::memchr_iter(b'\n', bytes).nth(1).is_some();
        self.transcript.client(tls, bytes);
        let t = self.opts.timeout;
        let res = match &mut self.stream {
            Stream::Plain(s) => timeout(t, write_all(s, bytes)).await,
            Stream::Tls(s) => timeout(t, write_all(s.as_mut(), bytes)).await,
            Stream::Gone => return Err(NetError::Usage("connection is being upgraded")),
        };
        match res {
            Err(_) => Err(NetError::Timeout { what: "the server to accept our data", after: t }),
            Ok(Err(e)) => Err(self.io_error(e, "while we were writing")),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads one response framed as `expect`. Errors on timeout, disconnect or a resource limit;
    /// grammar deviations come back inside the response as violations.
    pub async fn read_response(&mut self, expect: Expect) -> Result<Response, NetError> {
        let mut decoder = Decoder::new(expect, self.opts.limits);
        self.read_with(&mut decoder).await
    }

    /// Reads one response with a prepared decoder (e.g. a CAPA or listing line rule).
    pub async fn read_with(&mut self, decoder: &mut Decoder) -> Result<Response, NetError> {
        self.read_labelled(decoder, "the reply").await
    }

    /// The read loop: decode what is buffered, read more, until a whole reply. Three bounds: no
    /// byte for `timeout` (silence), the whole reply within `timeout + octets / min_rate` and
    /// `response_deadline` (a drip), and the decoder's size limits. A long body is streamed: the
    /// lines the decoder has scanned leave the buffer (into the transcript, whose entries are
    /// capped), so memory does not grow with the reply.
    ///
    /// Only the first streamed chunk goes into the transcript, then the reply's end and a note of
    /// how much was left out: every chunk at its 4 KiB entry cap made a 200 MB body 800 entries
    /// (3 MiB) of transcript, kept by every result that held it — a `run` against a server with
    /// huge messages grew by megabytes per check.
    async fn read_labelled(&mut self, decoder: &mut Decoder, what: &'static str) -> Result<Response, NetError> {
        let mut elided = 0;
        let r = self.read_streamed(decoder, what, &mut elided).await;
        if elided > 0 {
            self.note(format!("[... {elided} octets in the middle of this reply not recorded ...]"));
        }
        r
    }

    async fn read_streamed(
        &mut self,
        decoder: &mut Decoder,
        what: &'static str,
        elided: &mut u64,
    ) -> Result<Response, NetError> {
        let started = Instant::now();
        let mut streamed = false;
        let hard = started + self.opts.response_deadline;
        let received_before = self.received - (self.buf.len() - self.start) as u64;
        loop {
            match decoder.decode(&self.buf[self.start..]) {
                Ok(Decoded::Complete(resp, used)) => {
                    let tls = self.is_tls();
                    self.transcript.server(tls, &self.buf[self.start..self.start + used]);
                    self.consume(used);
                    return Ok(resp);
                }
                Ok(Decoded::Incomplete) => {
                    let scanned = decoder.scanned();
                    if scanned >= STREAM_CHUNK {
                        if streamed {
                            *elided += scanned as u64;
                        } else {
                            let tls = self.is_tls();
                            self.transcript.server(tls, &self.buf[self.start..self.start + scanned]);
                            streamed = true;
                        }
                        self.consume(scanned);
                        decoder.rebase(scanned);
                    }
                }
                Err(e) => {
                    self.record_pending();
                    return Err(e.into());
                }
            }
            if self.eof {
                let partial = decoder.finish_eof(&self.buf[self.start..]).map(Box::new);
                self.record_pending();
                self.start = self.buf.len();
                let when = if partial.is_some() { "in the middle of a multi-line response" } else { "before replying" };
                return Err(NetError::Closed { when, partial });
            }
            let got = self.received - received_before;
            let by_volume = self.opts.timeout + Duration::from_secs_f64(got as f64 / self.opts.min_rate.max(1) as f64);
            let capped = started + by_volume > hard;
            let deadline = (started + by_volume).min(hard);
            let now = Instant::now();
            if now >= deadline {
                self.record_pending();
                return Err(NetError::Slow { what, after: now - started, received: got, capped });
            }
            let idle = self.opts.timeout.min(deadline - now);
            match self.fill(idle).await {
                Ok(_) => {}
                Err(NetError::Timeout { .. }) => {
                    self.record_pending();
                    let got = self.received - received_before;
                    if Instant::now() >= deadline && got > 0 {
                        return Err(NetError::Slow { what, after: started.elapsed(), received: got, capped });
                    }
                    let what = if what == "the greeting" { "the greeting" } else { "the server's reply" };
                    return Err(NetError::Timeout { what, after: idle });
                }
                Err(e) => {
                    self.record_pending();
                    return Err(e);
                }
            }
        }
    }

    /// Waits up to `dur` for unsolicited bytes. `Ok(None)`: silence (what a correct server does);
    /// `Ok(Some(bytes))`: what arrived; a disconnect is reported as `Closed`.
    pub async fn read_unsolicited(&mut self, dur: Duration) -> Result<Option<Vec<u8>>, NetError> {
        if self.start < self.buf.len() {
            let data = self.buf[self.start..].to_vec();
            self.record_pending();
            self.consume(data.len());
            return Ok(Some(data));
        }
        if self.eof {
            return Err(NetError::Closed { when: "while we waited", partial: None });
        }
        match self.fill(dur).await {
            Ok(0) => Err(NetError::Closed { when: "while we waited", partial: None }),
            Ok(_) => {
                let data = self.buf[self.start..].to_vec();
                self.record_pending();
                self.consume(data.len());
                Ok(Some(data))
            }
            Err(NetError::Timeout { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What is buffered beyond the reply just read, when only one reply was asked for (the last
    /// write held one command): the server is out of step. Free to ask — only what has already
    /// arrived is looked at.
    pub fn out_of_step(&self) -> Option<crate::proto::Violation> {
        let extra = &self.buf[self.start..];
        (!self.pipelined && !extra.is_empty()).then(|| crate::proto::Violation::OutOfStep {
            octets: extra.len(),
            sample: crate::transcript::printable(extra, 80),
        })
    }

    /// Bytes received but not yet consumed by a response (e.g. plaintext after `+OK` to STLS).
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Upgrades to TLS after the server's `+OK` to STLS (RFC 2595 §4). Bytes the server sent in
    /// plaintext after the `+OK` are an error here (RFC 2595: TLS starts right after the CRLF);
    /// probes that study them read [`Connection::buffered`] first.
    pub async fn start_tls(&mut self) -> Result<(), NetError> {
        if self.is_tls() {
            return Err(NetError::Usage("TLS is already active"));
        }
        if !self.buffered().is_empty() {
            let n = self.buffered().len();
            self.record_pending();
            self.transcript.note(false, format!("{n} plaintext octets after +OK to STLS, discarded"));
            self.consume(n);
        }
        self.handshake().await
    }

    async fn handshake(&mut self) -> Result<(), NetError> {
        let config = tls::client_config(&self.opts.tls)?;
        let name = tls::server_name(&self.host, &self.opts.tls)?;
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(NetError::Usage("TLS is already active"));
        };
        let connector = tokio_rustls::TlsConnector::from(config);
        let t = self.opts.timeout;
        let (tcp, received) = tls::Counted::new(tcp);
        let stream = match timeout(t, connector.connect(name, tcp)).await {
            Err(_) => {
                let got = received.load(std::sync::atomic::Ordering::Relaxed);
                let what = if got == 0 {
                    self.transcript.note(false, "TLS handshake: nothing from the server after our ClientHello");
                    SILENT_HANDSHAKE
                } else {
                    self.transcript.note(false, format!("TLS handshake: {got} octets from the server, then nothing"));
                    "the TLS handshake (the server stopped part-way)"
                };
                return Err(NetError::Timeout { what, after: t });
            }
            Ok(Err(e)) => {
                self.transcript.note(false, format!("TLS handshake failed: {e}"));
                return Err(NetError::Handshake(describe_tls_error(&e)));
            }
            Ok(Ok(s)) => s,
        };
        let info = tls::info_of(stream.get_ref().1);
        self.transcript.note(true, format!("TLS established: {} {}", info.version, info.cipher_suite));
        self.tls = Some(info);
        self.stream = Stream::Tls(Box::new(stream));
        Ok(())
    }

    /// Sends QUIT (when `quit`), then closes: TLS close_notify first (RFC 8314 §3.4).
    pub async fn close(mut self, quit: bool) -> Transcript {
        if quit && !self.eof {
            let _ = self.command(&Command::Quit).await;
        }
        let _ = timeout(self.opts.timeout, async {
            match &mut self.stream {
                Stream::Plain(s) => s.shutdown().await,
                Stream::Tls(s) => s.shutdown().await,
                Stream::Gone => Ok(()),
            }
        })
        .await;
        self.transcript
    }

    /// Sets the longest wait for the next byte (and stretches the whole-response deadline to at
    /// least that): for replies a server is known to delay on purpose, such as a failed login's.
    /// Returns the previous `(timeout, response_deadline)` for [`Connection::restore_patience`].
    pub fn set_patience(&mut self, wait: Duration) -> (Duration, Duration) {
        let old = (self.opts.timeout, self.opts.response_deadline);
        self.opts.timeout = wait;
        self.opts.response_deadline = self.opts.response_deadline.max(wait);
        old
    }

    /// Undoes [`Connection::set_patience`].
    pub fn restore_patience(&mut self, old: (Duration, Duration)) {
        (self.opts.timeout, self.opts.response_deadline) = old;
    }

    /// The decoder limits this connection reads with (`--max-response`, `--max-kept`...).
    pub fn limits(&self) -> crate::proto::Limits {
        self.opts.limits
    }

    /// Negotiated TLS parameters, once TLS is up.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Octets read from the server so far (the benchmark's record of reply sizes).
    pub fn received(&self) -> u64 {
        self.received
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// True once the server has closed its side.
    pub fn is_eof(&self) -> bool {
        self.eof && self.start == self.buf.len()
    }

    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    pub fn transcript_mut(&mut self) -> &mut Transcript {
        &mut self.transcript
    }

    /// Adds a tester's remark to the transcript (marked TLS when the session is).
    pub fn note(&mut self, text: impl Into<String>) {
        let tls = self.is_tls();
        self.transcript.note(tls, text);
    }

    /// Takes the underlying plain TCP stream and any buffered bytes (the TLS-version probes speak
    /// raw TLS records after STLS). Fails when TLS is already active.
    pub fn into_plain(mut self) -> Result<(TcpStream, Vec<u8>, Transcript), NetError> {
        let rest = self.buf[self.start..].to_vec();
        match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(s) => Ok((s, rest, self.transcript)),
            _ => Err(NetError::Usage("TLS is already active")),
        }
    }

    /// Reads once into the buffer, waiting at most `wait`. Returns the octets read (0 = EOF).
    async fn fill(&mut self, wait: Duration) -> Result<usize, NetError> {
        // Compact so the buffer does not grow with the session's length.
        if self.start > 0 && (self.start == self.buf.len() || self.start > 64 * 1024) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        // `read_buf` appends into spare capacity: no zeroing of a 16 KiB window per read.
        self.buf.reserve(16 * 1024);
        let res = match &mut self.stream {
            Stream::Plain(s) => timeout(wait, s.read_buf(&mut self.buf)).await,
            Stream::Tls(s) => timeout(wait, s.read_buf(&mut self.buf)).await,
            Stream::Gone => Ok(Ok(0)),
        };
        let n = match res {
            Err(_) => return Err(NetError::Timeout { what: "data", after: wait }),
            // A TLS peer closing without close_notify is an EOF for our purposes.
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Ok(Err(e)) => return Err(self.io_error(e, "while we were reading")),
            Ok(Ok(n)) => n,
        };
        self.received += n as u64;
        if n == 0 {
            self.eof = true;
            let tls = self.is_tls();
            self.transcript.note(tls, "server closed the connection");
        } else if self.pipelined {
            // Several replies are outstanding: re-arm TCP_QUICKACK so the server's next reply is
            // not held behind our delayed ACK (perf-notes: 40 ms stalls on pipelined batches).
            // Not done for lock-step exchanges, where it would cost a syscall per round trip.
            if let Stream::Plain(s) = &self.stream {
                let _ = socket2::SockRef::from(s).set_quickack(true);
            }
        }
        Ok(n)
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Records bytes that arrived but did not make a full response (before an error).
    fn record_pending(&mut self) {
        if self.start < self.buf.len() {
            let tls = self.is_tls();
            let pending = self.buf[self.start..].to_vec();
            self.transcript.server(tls, &pending);
        }
    }

    fn io_error(&mut self, e: io::Error, when: &'static str) -> NetError {
        let tls = self.is_tls();
        match e.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => {
                self.eof = true;
                self.transcript.note(tls, format!("connection reset {when}"));
                NetError::Reset { when }
            }
            _ => NetError::Io(e),
        }
    }
}

async fn write_all<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) -> io::Result<()> {
    s.write_all(bytes).await?;
    s.flush().await
}

/// A reply's scanned lines leave the buffer once this many octets have piled up.
const STREAM_CHUNK: usize = 256 * 1024;

/// Resolves and connects, trying each address within the timeout.
pub async fn tcp_connect(target: &Target, wait: Duration) -> Result<TcpStream, NetError> {
    let authority = target.authority();
    let addrs: Vec<_> = match timeout(wait, tokio::net::lookup_host(&authority)).await {
        Err(_) => return Err(NetError::Timeout { what: "name resolution", after: wait }),
        Ok(Err(source)) => return Err(NetError::Resolve { host: target.host.clone(), source }),
        Ok(Ok(a)) => a.collect(),
    };
    let mut last = None;
    for addr in addrs {
        match timeout(wait, TcpStream::connect(addr)).await {
            Err(_) => return Err(NetError::Timeout { what: "the TCP connection", after: wait }),
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last = Some(e),
        }
    }
    Err(NetError::Connect {
        addr: authority,
        source: last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")),
    })
}

/// Turns a rustls handshake error into a sentence a user can act on.
fn describe_tls_error(e: &io::Error) -> String {
    let text = e.to_string();
    if text.contains("UnknownIssuer") || text.contains("invalid peer certificate") {
        format!("{text} — the certificate is not trusted; pass --ca-file with the server's CA, or --insecure to skip verification")
    } else {
        text
    }
}

/// Generic helper for code that holds a raw stream (probes).
pub async fn read_some<S: AsyncRead + Unpin>(s: &mut S, buf: &mut [u8], wait: Duration) -> Result<usize, NetError> {
    match timeout(wait, s.read(buf)).await {
        Err(_) => Err(NetError::Timeout { what: "data", after: wait }),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => Err(NetError::Reset { when: "while reading" }),
        Ok(Err(e)) => Err(NetError::Io(e)),
        Ok(Ok(n)) => Ok(n),
    }
}
