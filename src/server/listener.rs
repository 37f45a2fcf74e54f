//! The server's I/O: accept loops for the plain and implicit-TLS ports, the connection limit, and
//! the per-connection driver that moves bytes between a socket and a sans-IO [`Session`].
//!
//! Every wait is bounded by the autologout timer (reads, writes, handshakes) or by the shutdown
//! signal; every buffer by the session's line limit and reply batch size.

use super::session::{Session, Shared, Step, OUT_BATCH};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::timeout;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a refused connection may take to receive its `-ERR [SYS/TEMP]`.
const REJECT_WAIT: Duration = Duration::from_secs(2);
/// How many refused connections may be answered at once; beyond that they are just closed.
const MAX_REJECTS: usize = 64;
/// Bound on closing a connection (TLS close_notify, then FIN).
const CLOSE_WAIT: Duration = Duration::from_secs(1);
const REJECT_LINE: &[u8] = b"-ERR [SYS/TEMP] too many connections\r\n";

/// What every connection of one server shares.
pub(crate) struct Ctx {
    pub shared: Arc<Shared>,
    pub acceptor: TlsAcceptor,
    /// RFC 1939 §3 inactivity timer; also bounds each write and TLS handshake.
    pub autologout: Duration,
    pub slots: Arc<Semaphore>,
    pub rejects: Arc<Semaphore>,
    /// Number of live connections (sessions), for `wait_idle` and shutdown.
    pub active: Arc<watch::Sender<usize>>,
}

impl Ctx {
    pub fn new(shared: Arc<Shared>, acceptor: TlsAcceptor, autologout: Duration, max_connections: usize) -> Ctx {
        Ctx {
            shared,
            acceptor,
            autologout,
            slots: Arc::new(Semaphore::new(max_connections)),
            rejects: Arc::new(Semaphore::new(MAX_REJECTS)),
            active: Arc::new(watch::channel(0).0),
        }
    }
}

/// A connection slot: counted in `active` while alive.
struct Slot {
    active: Arc<watch::Sender<usize>>,
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    fn new(active: &Arc<watch::Sender<usize>>, permit: OwnedSemaphorePermit) -> Slot {
        active.send_modify(|n| *n += 1);
        Slot { active: Arc::clone(active), _permit: permit }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.active.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Accepts until shutdown. Over the limit, a connection gets `-ERR [SYS/TEMP]` and is closed.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    implicit_tls: bool,
    ctx: Arc<Ctx>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.wait_for(|&stop| stop) => return,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        match Arc::clone(&ctx.slots).try_acquire_owned() {
            Ok(permit) => {
                let slot = Slot::new(&ctx.active, permit);
                tokio::spawn(connection(tcp, implicit_tls, Arc::clone(&ctx), slot, shutdown.clone()));
            }
            Err(_) => {
                if let Ok(permit) = Arc::clone(&ctx.rejects).try_acquire_owned() {
                    tokio::spawn(reject(tcp, implicit_tls, ctx.acceptor.clone(), permit));
                }
            }
        }
    }
}

async fn reject(tcp: TcpStream, implicit_tls: bool, acceptor: TlsAcceptor, _permit: OwnedSemaphorePermit) {
    let _ = timeout(REJECT_WAIT, async {
        let mut stream =
            if implicit_tls { Stream::Tls(Box::new(acceptor.accept(tcp).await?)) } else { Stream::Plain(tcp) };
        stream.write(REJECT_LINE).await?;
        stream.shutdown().await
    })
    .await;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// QUIT (or a defect's deliberate close): the session already did its UPDATE, if any.
    Close,
    /// Client gone, autologout, write failure or shutdown: no UPDATE (RFC 1939 §6).
    Lost,
    /// `crash-on-long-line`.
    Reset,
}

async fn connection(
    tcp: TcpStream,
    implicit_tls: bool,
    ctx: Arc<Ctx>,
    slot: Slot,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut stream = if implicit_tls {
        match timeout(ctx.autologout, ctx.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
            _ => return,
        }
    } else {
        Stream::Plain(tcp)
    };
    let mut session = Session::new(Arc::clone(&ctx.shared), implicit_tls);
    let mut out = Vec::with_capacity(1024);
    session.greeting(&mut out);
    let mut buf = vec![0u8; 16 * 1024];
    let end = loop {
        let step = session.poll(&mut out);
        if !out.is_empty() {
            // A client that stops reading holds the write; autologout or shutdown ends it.
            let written = tokio::select! {
                r = timeout(ctx.autologout, stream.write(&out)) => matches!(r, Ok(Ok(()))),
                _ = shutdown.wait_for(|&stop| stop) => false,
            };
            if !written {
                break End::Lost;
            }
            out.clear();
            if out.capacity() > 4 * OUT_BATCH {
                // After a large RETR: do not keep a megabyte per idle connection.
                out = Vec::with_capacity(1024);
            }
        }
        match step {
            Step::More => {}
            Step::Read => match stream.read(&mut buf, ctx.autologout, &mut shutdown).await {
                Some(n) => session.feed(&buf[..n]),
                None => break End::Lost,
            },
            Step::StartTls => {
                stream = match stream {
                    Stream::Plain(tcp) => match timeout(ctx.autologout, ctx.acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
                        // The handshake failed: the TCP stream went with it.
                        _ => {
                            session.connection_lost();
                            return;
                        }
                    },
                    tls => tls,
                };
                session.tls_started();
            }
            Step::Close => break End::Close,
            Step::Reset => break End::Reset,
            Step::Hang => {
                // Stop answering, keep reading (and dropping) so the socket stays open.
                while stream.read(&mut buf, ctx.autologout, &mut shutdown).await.is_some() {}
                break End::Lost;
            }
        }
    };
    if end == End::Lost {
        session.connection_lost();
    }
    // The lock and the slot are free before the client sees the connection close.
    drop(session);
    drop(slot);
    match end {
        End::Reset => stream.reset(),
        _ => {
            let _ = timeout(CLOSE_WAIT, stream.shutdown()).await;
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Reads once. `None` on EOF, error, autologout expiry or shutdown.
    async fn read(&mut self, buf: &mut [u8], idle: Duration, shutdown: &mut watch::Receiver<bool>) -> Option<usize> {
        let read = async {
            match self {
                Stream::Plain(s) => s.read(buf).await,
                Stream::Tls(s) => s.read(buf).await,
            }
        };
        tokio::select! {
            r = timeout(idle, read) => match r {
                Ok(Ok(n)) if n > 0 => Some(n),
                _ => None,
            },
            _ = shutdown.wait_for(|&stop| stop) => None,
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
        }
    }

    /// Closes with RST (SO_LINGER 0), as a crashed worker process would.
    fn reset(self) {
        let tcp = match &self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
        };
        let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
        drop(self);
    }
}
