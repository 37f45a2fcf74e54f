//! What every audit probe shares: the bounds it runs under ([`Waits`]), the target and credentials
//! ([`Ctx`]), and the few exchanges each probe repeats — connect and read the greeting, upgrade with
//! STLS while collecting any plaintext the server sends after its `+OK`, and close without ever
//! waiting longer than a bounded time for a QUIT reply.

use crate::net::session::Credentials;
use crate::net::{ConnectOptions, Connection, NetError, Scheme, Target};
use crate::proto::{apop, Command, Response};
use crate::transcript::Transcript;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::timeout;

/// Most connections the audit keeps open at once to one server: well below the per-client limits
/// servers ship with (Dovecot 10 sessions per user and address, Cyrus and GNU Mailutils 20
/// processes), and enough that the probes barely wait for one another.
pub const MAX_SLOTS: usize = 8;

/// Every bound the audit uses, passed in. The defaults keep a loopback audit near one second while
/// leaving real servers room: the only waits a correct server makes us sit through are `quiet`
/// (injection probes listen for data that must not come) and `peek` (plaintext after `+OK`).
#[derive(Debug, Clone)]
pub struct Waits {
    /// Longest wait for any one step: connect, handshake, the next byte of a reply (`--timeout`).
    pub step: Duration,
    /// How long an injection probe listens inside TLS for replies to commands it never sent there.
    /// 400 ms: a server that runs the injected command answers in well under a millisecond on
    /// loopback and within one round trip elsewhere; the wait only has to exceed that.
    pub quiet: Duration,
    /// How long to listen for plaintext after the `+OK` to STLS before starting the handshake
    /// (A09). A server that sends extra plaintext sends it together with the `+OK`; 250 ms
    /// covers a second write on a slow link.
    pub peek: Duration,
    /// Longest one login attempt may take: servers delay replies after failed logins (seconds),
    /// and the audit must not spend minutes there.
    pub attempt: Duration,
    /// Longest a series of login attempts may take together: the concurrent cleartext attempts,
    /// the control login's sequential fallbacks, the A07 retries each share it.
    pub login_budget: Duration,
    /// Greetings compared for APOP timestamp reuse (A17).
    pub greetings: usize,
}

impl Waits {
    /// Bounds derived from the per-step timeout.
    pub fn from_step(step: Duration) -> Waits {
        Waits {
            step,
            quiet: Duration::from_millis(400),
            peek: Duration::from_millis(250),
            attempt: step,
            login_budget: step * 2,
            greetings: 4,
        }
    }
}

impl Default for Waits {
    fn default() -> Self {
        Waits::from_step(Duration::from_secs(10))
    }
}

/// Where and how the probes connect.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The plain (STLS) port: `pop3://host:port`.
    pub target: Target,
    /// The implicit-TLS port, unless disabled.
    pub implicit: Option<Target>,
    /// Connection options for probe sessions. Certificates are accepted whatever they are so that
    /// every probe reaches the server; A12 judges the certificate on its own.
    pub opts: ConnectOptions,
    pub creds: Option<Credentials>,
    pub waits: Waits,
    /// Connections the audit may have open at once ([`capacity`]): a probe waits for a slot
    /// instead of timing out in the server's queue.
    pub slots: Arc<Semaphore>,
}

impl Ctx {
    /// Sets how many connections may be open at once (at least one).
    pub fn set_slots(&mut self, n: usize) {
        self.slots = Arc::new(Semaphore::new(n.max(1)));
    }

    /// Waits for a free connection slot.
    pub async fn slot(&self) -> OwnedSemaphorePermit {
        // The semaphore is never closed, so acquiring cannot fail.
        self.slots.clone().acquire_owned().await.expect("the audit's slots are never closed")
    }

    pub fn new(target: Target, implicit: Option<Target>, creds: Option<Credentials>, waits: Waits) -> Ctx {
        let mut opts = ConnectOptions {
            timeout: waits.step,
            response_deadline: waits.step.max(Duration::from_secs(1)) * 3,
            ..ConnectOptions::default()
        };
        opts.tls.insecure = true;
        Ctx { target, implicit, opts, creds, waits, slots: Arc::new(Semaphore::new(MAX_SLOTS)) }
    }

    /// The implicit-TLS twin on `port`.
    pub fn implicit_on(target: &Target, port: u16) -> Target {
        target.with(Scheme::ImplicitTls, port)
    }
}

/// A connection with its greeting read.
pub struct Greeted {
    pub conn: Connection,
    pub greeting: Response,
    /// The greeting's APOP timestamp.
    pub timestamp: Option<String>,
}

/// Connects (once a slot is free: the slot is held as long as the connection) and reads the
/// greeting. A non-`+OK` greeting is returned, not an error: callers decide.
pub async fn open(ctx: &Ctx, target: &Target) -> Result<Greeted, NetError> {
    let slot = ctx.slot().await;
    let (mut conn, greeting) = crate::net::session::connect_greeted(target, &ctx.opts).await?;
    conn.hold(slot);
    let timestamp = apop::greeting_timestamp(&greeting.text).map(str::to_string);
    Ok(Greeted { conn, greeting, timestamp })
}

/// [`open`] without taking a slot, for a caller that holds one already.
pub async fn open_unslotted(target: &Target, opts: &ConnectOptions) -> Result<Greeted, NetError> {
    let (conn, greeting) = crate::net::session::connect_greeted(target, opts).await?;
    let timestamp = apop::greeting_timestamp(&greeting.text).map(str::to_string);
    Ok(Greeted { conn, greeting, timestamp })
}

/// How an STLS upgrade went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// STLS was answered with something other than `+OK`.
    Refused,
    /// `+OK`, then TLS. `plaintext`: bytes that came after the `+OK` before the handshake.
    Done { plaintext: Vec<u8> },
    /// `+OK`, but no TLS session: handshake failure, timeout or the server hung up.
    Failed { plaintext: Vec<u8>, error: String },
}

impl Upgrade {
    pub fn is_tls(&self) -> bool {
        matches!(self, Upgrade::Done { .. })
    }
}

/// Sends STLS and, on `+OK`, listens `peek` for plaintext the server should not send, then
/// handshakes. Reads are bounded: at most 16 chunks of plaintext are collected.
pub async fn upgrade(conn: &mut Connection, peek: Duration) -> Result<Upgrade, NetError> {
    let reply = conn.command(&Command::Stls).await?;
    if !reply.is_ok() {
        return Ok(Upgrade::Refused);
    }
    let mut plaintext = Vec::new();
    let mut wait = if conn.buffered().is_empty() { peek } else { Duration::ZERO };
    for _ in 0..16 {
        if wait.is_zero() && conn.buffered().is_empty() {
            break;
        }
        match conn.read_unsolicited(wait).await {
            Ok(Some(bytes)) => plaintext.extend_from_slice(&bytes),
            Ok(None) => break,
            Err(e) if e.is_disconnect() => {
                return Ok(Upgrade::Failed { plaintext, error: "the server closed the connection after +OK".into() })
            }
            Err(e) => return Err(e),
        }
        wait = peek;
    }
    match conn.start_tls().await {
        Ok(()) => Ok(Upgrade::Done { plaintext }),
        Err(
            e @ (NetError::Handshake(_)
            | NetError::Timeout { .. }
            | NetError::Slow { .. }
            | NetError::Closed { .. }
            | NetError::Reset { .. }),
        ) => Ok(Upgrade::Failed { plaintext, error: e.to_string() }),
        Err(NetError::Io(e)) => Ok(Upgrade::Failed { plaintext, error: e.to_string() }),
        Err(e) => Err(e),
    }
}

/// Ends a probe session: QUIT (when asked and the server is still there), its reply awaited for
/// at most `wait`, then a clean close. Returns the transcript.
pub async fn finish(mut conn: Connection, quit: bool, wait: Duration) -> Transcript {
    if quit && !conn.is_eof() {
        let _ = timeout(wait, conn.command(&Command::Quit)).await;
    }
    conn.close(false).await
}

/// How many connections `ctx.target` serves at once, up to [`MAX_SLOTS`] (see
/// [`crate::net::session::capacity`]): the audit then keeps at most that many open, so that a
/// slow or queueing server is audited one connection at a time rather than timed out. 0 when
/// none was greeted `+OK` within `wait`.
pub async fn capacity(ctx: &Ctx, wait: Duration) -> usize {
    crate::net::session::greeted_at_once(&ctx.target, &ctx.opts, MAX_SLOTS, wait).await
}

/// A raw stream (TLS version probes) holding a connection slot while it lives.
pub struct Slotted<S> {
    inner: S,
    _slot: OwnedSemaphorePermit,
}

impl<S> Slotted<S> {
    pub fn new(inner: S, slot: OwnedSemaphorePermit) -> Self {
        Slotted { inner, _slot: slot }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Slotted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Slotted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How long QUIT replies are awaited on the way out: they carry no evidence anyone needs.
pub const QUIT_WAIT: Duration = Duration::from_millis(500);

/// Runs `fut` for at most `limit`, turning the deadline into a [`NetError::Timeout`].
pub async fn bounded<T>(
    limit: Duration,
    what: &'static str,
    fut: impl Future<Output = Result<T, NetError>>,
) -> Result<T, NetError> {
    match timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(NetError::Timeout { what, after: limit }),
    }
}

/// Awaits futures concurrently on the current task (they may borrow: no `'static` needed, unlike
/// a `JoinSet`), returning their outputs in order. The caller bounds the list's length.
pub async fn join_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, f) in out.iter_mut().zip(pinned.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
