//! Sans-IO POP3: pure functions on bytes. No tokio, no rustls here — the connection layer
//! (`net`) and the reference server (`server`) feed bytes in and take values out.

pub mod apop;
pub mod capa;
pub mod code;
pub mod command;
pub mod listing;
pub mod response;
pub mod state;
pub mod stuffing;
pub mod violation;

pub use capa::{Capabilities, Capability};
pub use code::RespCode;
pub use command::{Command, CommandError, Expect};
pub use response::{Body, BodyLineRule, DecodeError, Decoded, Decoder, Limits, Response, Status};
pub use state::SessionState;
pub use violation::Violation;
