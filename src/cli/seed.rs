//! Arguments of `pop3test seed` (registered in [`super::Commands`]); behaviour in `cmd::seed`.

use crate::cli::ConnArgs;
use crate::net::Target;
use clap::{ArgGroup, Args};
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("store").required(true).args(["maildir", "mbox", "lmtp", "smtp"])))]
pub struct SeedArgs {
    /// The mailbox owner, and the POP3 login with --lmtp/--smtp.
    #[arg(long, short = 'u')]
    pub user: String,
    /// A Maildir (cur/, new/, tmp/ are created when missing): Dovecot, Courier.
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// An mbox file (created when missing): GNU Mailutils, popa3d, solid-pop3d.
    #[arg(long, value_name = "FILE")]
    pub mbox: Option<PathBuf>,
    /// Deliver over LMTP to HOST:PORT or a unix socket path: Cyrus, Dovecot's lmtp.
    #[arg(long, value_name = "ADDR")]
    pub lmtp: Option<String>,
    /// Deliver over SMTP to HOST:PORT: any MTA that delivers to the mailbox.
    #[arg(long, value_name = "ADDR")]
    pub smtp: Option<String>,
    /// With --lmtp/--smtp: the POP3 server of the mailbox, to see what is there (idempotency),
    /// to empty it (--reset) and to wait until the delivered messages show.
    #[arg(long, value_name = "URL")]
    pub pop3: Option<Target>,
    /// Recipient for --lmtp/--smtp (default: --user).
    #[arg(long, value_name = "ADDR")]
    pub rcpt: Option<String>,
    /// Envelope sender for --lmtp/--smtp.
    #[arg(long, value_name = "ADDR", default_value = "sender@example.org")]
    pub from: String,
    /// Empty the mailbox first (every message, not only pop3test's).
    #[arg(long)]
    pub reset: bool,
    /// Who owns what is created: USER[:GROUP], names or numbers (default: the owner of the
    /// existing Maildir or mbox).
    #[arg(long, value_name = "USER[:GROUP]")]
    pub owner: Option<String>,
    /// Read --user's POP3 password from this environment variable (--lmtp/--smtp).
    #[arg(long, value_name = "VAR", conflicts_with = "password_file")]
    pub password_env: Option<String>,
    /// Read --user's POP3 password from the first line of this file (--lmtp/--smtp).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    #[command(flatten)]
    pub conn: ConnArgs,
}
