//! `audit-client`: a malicious POP3 server that plays one attack per client connection and judges
//! what the client did. The layers point one way: [`attacks`] says what the server does (pure
//! data), [`judge`] turns what the client did into a verdict (pure), [`pki`] makes the
//! certificates, [`session`] plays one attack on a socket, [`run`] drives clients and builds the
//! [`crate::results::Report`].

pub mod attacks;
pub mod judge;
pub mod pki;
pub mod run;
pub mod session;

pub use attacks::Attack;
pub use judge::{judge, Behaviour, Observation};
