//! The reference POP3 server (`pop3test serve`): correct by default, with switchable defects.
//!
//! - [`session`]: one connection's state machine, sans-IO (RFC 1939 states, CAPA, STLS, AUTH,
//!   RFC 6856 UTF8 and LANG);
//! - [`maildrop`]: in-memory or Maildir maildrops and their exclusive locks;
//! - [`defects`]: the named departures from one requirement each;
//! - `listener`: sockets, TLS upgrade, limits; [`tls`]: the certificate;
//! - [`cli`]: the `serve` arguments; [`seed`]: the default maildrop.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use pop3test::server::{spawn, Defect, ServerConfig};
//! let server = spawn(ServerConfig { defects: Defect::StlsInjection.into(), ..ServerConfig::default() }).await?;
//! let target = server.plain_target(); // pop3://127.0.0.1:<port>, trust server.connect_options()
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod defects;
mod listener;
pub mod maildrop;
pub mod sasl;
pub mod seed;
pub mod session;
pub mod tls;

pub use defects::{Defect, DefectSet};

use crate::net::{ConnectOptions, Scheme, Target, TlsOptions};
use listener::Ctx;
use maildrop::Store;
use session::Shared;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Everything the server needs, passed in.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Plain port (STLS offered). Default `127.0.0.1:0`: a free loopback port.
    pub listen: SocketAddr,
    /// Implicit-TLS port (RFC 8314), or none. Default `Some(127.0.0.1:0)`.
    pub tls_listen: Option<SocketAddr>,
    pub defects: DefectSet,
    /// Allow (and advertise) USER, SASL PLAIN/LOGIN and APOP before TLS. Default off: like a
    /// server configured per RFC 8314, cleartext logins are refused until STLS.
    pub allow_cleartext: bool,
    /// `(name, password)`; the first user's maildrop starts as the default maildrop, the others
    /// empty. Default: `mrose`/`tanstaaf` and `empty`/`empty-pass` (see [`seed`]).
    pub users: Vec<(String, String)>,
    /// Root of file-backed maildrops, `DIR/<user>/{cur,new,tmp}` (see [`maildrop`]); `None`
    /// keeps them in memory.
    pub maildir: Option<PathBuf>,
    /// RFC 1939 §3 inactivity timer: "at least 10 minutes" (the default). Expiry closes the
    /// connection without the UPDATE state. Tests set it short.
    pub autologout: Duration,
    /// Connections served at once (default 256); more get `-ERR [SYS/TEMP]` and are closed.
    pub max_connections: usize,
    /// PEM certificate chain and key; both `None` (the default) generates a test CA and a
    /// certificate for localhost / 127.0.0.1 / ::1.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// RFC 6856: advertise and implement UTF8 (`UTF8 USER`: SASLprep'd UTF-8 credentials) and
    /// LANG (English, German). Default on, so the suite's RFC 6856 checks run against it; then
    /// 8-bit content is refused with `-ERR [UTF8]` until the client sends UTF8 (§2.1). Off
    /// (`serve --no-utf8`): a plain RFC 1939 server that sends 8-bit messages as stored.
    pub utf8: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let loopback = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        ServerConfig {
            listen: loopback,
            tls_listen: Some(loopback),
            defects: DefectSet::none(),
            allow_cleartext: false,
            users: default_users(),
            maildir: None,
            autologout: Duration::from_secs(600),
            max_connections: 256,
            cert: None,
            key: None,
            utf8: true,
        }
    }
}

/// The seed's test accounts: `mrose`/`tanstaaf` (default maildrop), `empty`/`empty-pass`.
pub fn default_users() -> Vec<(String, String)> {
    vec![
        (seed::DEFAULT_USER.to_string(), seed::DEFAULT_PASSWORD.to_string()),
        (seed::EMPTY_USER.to_string(), seed::EMPTY_PASSWORD.to_string()),
    ]
}

/// A running server. Dropping it stops the server too (connections close without UPDATE).
pub struct ServerHandle {
    /// The plain (STLS) port's address.
    pub addr: SocketAddr,
    /// The implicit-TLS port's address.
    pub tls_addr: Option<SocketAddr>,
    /// PEM of the CA (or certificate) that clients must trust.
    pub ca_pem: String,
    /// A temporary file holding `ca_pem`, removed on shutdown or drop.
    pub ca_file: PathBuf,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    active: watch::Receiver<usize>,
    tasks: Vec<JoinHandle<()>>,
}

/// Binds the ports and starts serving in the current tokio runtime.
pub async fn spawn(config: ServerConfig) -> io::Result<ServerHandle> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    if config.users.is_empty() {
        return Err(invalid("at least one user is needed".into()));
    }
    for (name, _) in &config.users {
        // Names become Maildir directory names: keep them plain.
        let bad = name.is_empty()
            || name.starts_with('.')
            || name.len() > 64
            || name.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '/' | '\\' | ':'));
        if bad {
            return Err(invalid(format!("invalid user name `{}`", name.escape_debug())));
        }
    }
    if config.max_connections == 0 {
        return Err(invalid("max_connections must be at least 1".into()));
    }
    let names: Vec<String> = config.users.iter().map(|(u, _)| u.clone()).collect();
    let store = Arc::new(match &config.maildir {
        Some(dir) => Store::maildir(dir, &names)?,
        None => Store::memory(&names),
    });
    let tls = tls::material(config.cert.as_deref(), config.key.as_deref())?;
    let plain = TcpListener::bind(config.listen).await?;
    let implicit = match config.tls_listen {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let addr = plain.local_addr()?;
    let tls_addr = implicit.as_ref().map(|l| l.local_addr()).transpose()?;
    let ca_file = write_ca_file(&tls.ca_pem)?;

    let shared = Arc::new(Shared {
        defects: config.defects,
        allow_cleartext: config.allow_cleartext,
        users: config.users.clone(),
        store,
        stls: true,
        utf8: config.utf8,
    });
    let ctx = Arc::new(Ctx::new(Arc::clone(&shared), tls.acceptor, config.autologout, config.max_connections));
    let (stop, stop_rx) = watch::channel(false);
    let active = ctx.active.subscribe();
    let mut tasks = vec![tokio::spawn(listener::accept_loop(plain, false, Arc::clone(&ctx), stop_rx.clone()))];
    if let Some(l) = implicit {
        tasks.push(tokio::spawn(listener::accept_loop(l, true, ctx, stop_rx)));
    }
    Ok(ServerHandle { addr, tls_addr, ca_pem: tls.ca_pem, ca_file, shared, stop, active, tasks })
}

fn write_ca_file(pem: &str) -> io::Result<PathBuf> {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("pop3test-ca-{}-{n}.pem", std::process::id()));
    std::fs::write(&path, pem)?;
    Ok(path)
}

/// The address a client should dial: the unspecified address means loopback.
fn dialable(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => Ipv4Addr::LOCALHOST.to_string(),
        IpAddr::V6(ip) if ip.is_unspecified() => Ipv6Addr::LOCALHOST.to_string(),
        ip => ip.to_string(),
    }
}

impl ServerHandle {
    /// `pop3://127.0.0.1:<port>` (plain, STLS offered).
    pub fn plain_target(&self) -> Target {
        Target { scheme: Scheme::Plain, host: dialable(self.addr), port: self.addr.port() }
    }

    /// `pop3s://127.0.0.1:<port>` (implicit TLS), when that port is open.
    pub fn tls_target(&self) -> Option<Target> {
        self.tls_addr.map(|a| Target { scheme: Scheme::ImplicitTls, host: dialable(a), port: a.port() })
    }

    /// Client options that trust this server's certificate (via [`ServerHandle::ca_file`]).
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            tls: TlsOptions { ca_file: Some(self.ca_file.clone()), ..TlsOptions::default() },
            ..ConnectOptions::default()
        }
    }

    pub fn defects(&self) -> DefectSet {
        self.shared.defects
    }

    /// The test accounts, `(name, password)`.
    pub fn users(&self) -> &[(String, String)] {
        &self.shared.users
    }

    /// Restores the initial maildrops (destructive scenarios call this between runs). Sessions in
    /// progress keep their snapshot and their lock. Panics only if a Maildir cannot be rewritten.
    pub fn reseed(&self) {
        if let Err(e) = self.shared.store.reseed() {
            panic!("reseeding the maildrops failed: {e}");
        }
    }

    /// True while some session holds `user`'s maildrop lock.
    pub fn is_locked(&self, user: &str) -> bool {
        self.shared.store.is_locked(user)
    }

    /// Connections being served right now.
    pub fn active_connections(&self) -> usize {
        *self.active.borrow()
    }

    /// Waits until no connection is being served (every lock released), at most `within`.
    /// A client that drops a connection and reconnects at once may otherwise find its maildrop
    /// still locked (`[IN-USE]`) while the server has not yet noticed the close.
    pub async fn wait_idle(&self, within: Duration) -> bool {
        let mut rx = self.active.clone();
        let idle = tokio::time::timeout(within, rx.wait_for(|&n| n == 0)).await;
        matches!(idle, Ok(Ok(_)))
    }

    /// Stops accepting, closes every connection (no UPDATE), waits for them (at most 5 s) and
    /// removes the CA file.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        self.wait_idle(Duration::from_secs(5)).await;
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for task in &self.tasks {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.ca_file);
    }
}
