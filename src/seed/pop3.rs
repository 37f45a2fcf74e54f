//! What a delivery seeding needs to know of the maildrop, over POP3: which standard messages are
//! there (by Message-ID, as the run's first session finds them: `runner::survey`), and `--reset`
//! (DELE every message, then QUIT, which commits it: RFC 1939 §6).

use super::SeedError;
use crate::net::session::{self as s, Credentials, StlsPolicy};
use crate::net::{ConnectOptions, Target};
use crate::proto::Command;

async fn login(target: &Target, opts: &ConnectOptions, creds: &Credentials) -> Result<s::Opened, SeedError> {
    s::open(target, opts, Some(creds), StlsPolicy::Auto, true)
        .await
        .map_err(|e| SeedError::Pop3(format!("cannot log in to {target} as `{}`: {e}", creds.user)))
}

/// The Message-IDs of the maildrop's messages.
pub async fn message_ids(
    target: &Target,
    opts: &ConnectOptions,
    creds: &Credentials,
) -> Result<Vec<String>, SeedError> {
    let mut o = login(target, opts, creds).await?;
    let found = crate::runner::survey::survey(&mut o.conn).await;
    // Drop without QUIT: nothing was changed, and nothing must be.
    o.conn.close(false).await;
    let drop = found.maildrop.ok_or_else(|| SeedError::Pop3(format!("{target}: STAT or LIST was refused")))?;
    Ok(drop.messages.into_iter().filter_map(|m| m.message_id).collect())
}

/// Deletes every message and commits it. Returns how many there were.
pub async fn empty(target: &Target, opts: &ConnectOptions, creds: &Credentials) -> Result<usize, SeedError> {
    let mut o = login(target, opts, creds).await?;
    let stat = o.conn.command(&Command::Stat).await.map_err(|e| SeedError::Pop3(e.to_string()))?;
    let (n, _) = crate::proto::listing::parse_stat(&stat.text)
        .map_err(|v| SeedError::Pop3(format!("{target}: STAT did not answer `+OK nn mm`: {v}")))?;
    for i in 1..=n {
        let r = o.conn.command(&Command::Dele(i)).await.map_err(|e| SeedError::Pop3(e.to_string()))?;
        if !r.is_ok() {
            o.conn.close(false).await;
            return Err(SeedError::Pop3(format!("{target}: DELE {i} was refused ({}); nothing was removed", r.text)));
        }
    }
    let q = o.conn.command(&Command::Quit).await.map_err(|e| SeedError::Pop3(e.to_string()))?;
    if !q.is_ok() {
        return Err(SeedError::Pop3(format!("{target}: QUIT after DELE was refused: {}", q.text)));
    }
    Ok(n as usize)
}
