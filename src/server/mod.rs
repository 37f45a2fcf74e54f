//! The reference POP3 server (`pop3test serve`): correct by default, with switchable defects.

pub mod seed;
