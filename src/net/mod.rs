//! The connection layer: the only code that touches sockets. Targets, TLS (rustls), buffered
//! reads with timeouts and bounds, pipelining, STLS upgrade and the session transcript.

pub mod conn;
pub mod session;
pub mod target;
pub mod tls;

pub use conn::{ConnectOptions, Connection, NetError};
pub use target::{Scheme, Target};
pub use tls::{TlsInfo, TlsOptions};
