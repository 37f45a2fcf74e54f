//! Where the benchmark's peers run. The built-in server gets its own tokio runtime (its own
//! threads, like a `pop3test serve` process), and every measured client connection — the raw
//! client's and pop3test's alike — runs on its own thread with a single-threaded runtime, as a
//! fuzz worker does. Both sides then pay the same cross-thread wake-ups a real client and server
//! pay; a client sharing the server's runtime would be served on the same thread, with no wake-up
//! at all, and make a "limit" no deployment sees.

use crate::server::{self, ServerConfig, ServerHandle};
use std::future::Future;

/// The built-in server on a runtime of its own.
pub struct HostedServer {
    pub handle: ServerHandle,
    runtime: tokio::runtime::Runtime,
}

impl HostedServer {
    /// Starts `config` on a new multi-threaded runtime (the `pop3test serve` default).
    pub async fn start(config: ServerConfig) -> std::io::Result<HostedServer> {
        let runtime = tokio::runtime::Builder::new_multi_thread().thread_name("bench-server").enable_all().build()?;
        let handle = runtime.spawn(server::spawn(config)).await.map_err(std::io::Error::other)??;
        Ok(HostedServer { handle, runtime })
    }

    /// Stops serving and lets the runtime's threads go.
    pub async fn stop(self) {
        let HostedServer { handle, runtime } = self;
        let _ = runtime.spawn(handle.shutdown()).await;
        runtime.shutdown_background();
    }
}

/// Runs `make()`'s future on a new thread with a single-threaded runtime and awaits its result.
pub async fn on_own_thread<F, Fut, T>(make: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    start_thread(make).await.expect("bench client thread panicked")
}

fn start_thread<F, Fut, T>(make: F) -> tokio::sync::oneshot::Receiver<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("bench-client".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");
            let _ = tx.send(rt.block_on(make()));
        })
        .expect("client thread");
    rx
}

/// Runs one client per item, each on its own thread (see [`on_own_thread`]), all at once;
/// returns every result.
pub async fn on_threads<I, F, Fut, T>(items: Vec<I>, make: F) -> Vec<T>
where
    I: Send + 'static,
    F: Fn(I) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let waits: Vec<_> = items
        .into_iter()
        .map(|item| {
            let make = make.clone();
            start_thread(move || make(item))
        })
        .collect();
    let mut out = Vec::with_capacity(waits.len());
    for w in waits {
        out.push(w.await.expect("bench client thread panicked"));
    }
    out
}
