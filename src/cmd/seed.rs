//! `pop3test seed`: which store the arguments name; the work is in [`crate::seed`].

use crate::cli::seed::SeedArgs;
use crate::cli::GlobalArgs;
use crate::exit;
use crate::net::session::{Credentials, Secret};
use crate::seed::deliver::{Delivery, Protocol};
use crate::seed::{self, owner, SeedError};

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
