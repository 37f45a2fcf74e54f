//! `pop3test seed`: the arguments, and which store they name; the work is in [`crate::seed`].

use crate::cli::{ConnArgs, GlobalArgs};
use crate::exit;
use crate::net::session::{Credentials, Secret};
use crate::net::Target;
use crate::seed::deliver::{Delivery, Protocol};
use crate::seed::{self, owner, SeedError};
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

/// Runs the subcommand; returns the exit code.
pub async fn main(args: SeedArgs, _global: &GlobalArgs) -> i32 {
    match run(&args).await {
        Ok(line) => {
            println!("{line}");
            exit::OK
        }
        Err(SeedError::Usage(m)) => {
            eprintln!("error: {m}");
            exit::USAGE
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::TESTER_ERROR
        }
    }
}

async fn run(args: &SeedArgs) -> Result<String, SeedError> {
    let owner = args.owner.as_deref().map(owner::parse).transpose()?;
    if let Some(dir) = &args.maildir {
        let done = tokio::task::block_in_place(|| seed::maildir::seed(dir, args.reset, owner))?;
        return Ok(done.line(&args.user, &dir.display().to_string()));
    }
    if let Some(file) = &args.mbox {
        let done = tokio::task::block_in_place(|| seed::mbox::seed(file, args.reset, owner))?;
        return Ok(done.line(&args.user, &file.display().to_string()));
    }
    let (protocol, addr) = match (&args.lmtp, &args.smtp) {
        (Some(a), _) => (Protocol::Lmtp, a.clone()),
        (None, Some(a)) => (Protocol::Smtp, a.clone()),
        (None, None) => return Err(SeedError::Usage("give --maildir, --mbox, --lmtp or --smtp".into())),
    };
    let Some(pop3) = &args.pop3 else {
        return Err(SeedError::Usage("--lmtp and --smtp need --pop3 URL (to see what the mailbox holds)".into()));
    };
    let password = if let Some(var) = &args.password_env {
        std::env::var(var).map_err(|_| SeedError::Usage(format!("--password-env: `{var}` is not set")))?
    } else if let Some(path) = &args.password_file {
        let t = std::fs::read_to_string(path)
            .map_err(|e| SeedError::io(format!("--password-file {}", path.display()), e))?;
        t.lines().next().unwrap_or_default().to_string()
    } else {
        return Err(SeedError::Usage("--lmtp/--smtp need --user's POP3 password: --password-env VAR".into()));
    };
    let creds = Credentials { user: args.user.clone(), password: Secret::new(password) };
    let d = Delivery {
        protocol,
        addr: addr.clone(),
        from: args.from.clone(),
        rcpt: args.rcpt.clone().unwrap_or_else(|| args.user.clone()),
    };
    let done = seed::deliver::seed(&d, pop3, &args.conn.connect_options(), &creds, args.reset).await?;
    let via = match protocol {
        Protocol::Lmtp => "LMTP",
        Protocol::Smtp => "SMTP",
    };
    Ok(done.line(&args.user, &format!("{} (delivered over {via} to {addr})", pop3)))
}
