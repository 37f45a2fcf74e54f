//! `pop3test serve` arguments (clap) and their translation into a [`ServerConfig`].

use crate::server::{default_users, Defect, ServerConfig};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `pop3test serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Plain POP3 address (STLS offered).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1110")]
    pub listen: SocketAddr,
    /// Implicit-TLS address (RFC 8314, like port 995).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1995")]
    pub tls_listen: SocketAddr,
    /// Do not open the implicit-TLS port.
    #[arg(long)]
    pub no_tls_listen: bool,
    /// Switch on a defect (repeatable or comma-separated); `--list-defects` shows them all.
    #[arg(long = "defect", value_name = "NAME", value_delimiter = ',')]
    pub defects: Vec<Defect>,
    /// Print every defect (name, requirement id, description) and exit.
    #[arg(long)]
    pub list_defects: bool,
    /// Allow (and advertise) USER/PASS, SASL PLAIN/LOGIN and APOP before TLS. By default they
    /// are refused until STLS, as RFC 8314 recommends.
    #[arg(long)]
    pub allow_cleartext: bool,
    /// A test account (repeatable); replaces the default mrose/tanstaaf and empty/empty-pass.
    /// The first account gets the default maildrop, the others start empty.
    #[arg(long = "user", value_name = "NAME:PASSWORD", value_parser = parse_user)]
    pub users: Vec<(String, String)>,
    /// Read accounts from a file of `name:password` lines (`#` comments and blank lines skipped).
    #[arg(long, value_name = "FILE")]
    pub users_file: Option<PathBuf>,
    /// Keep maildrops on disk as `DIR/<user>/{cur,new,tmp}` Maildirs, so deletions survive
    /// restarts (missing ones are created; the first user's is seeded).
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// Write the default maildrop as a Maildir into DIR and exit (used to seed other servers).
    #[arg(long, value_name = "DIR")]
    pub export_maildir: Option<PathBuf>,
    /// PEM certificate chain (default: a generated test CA and a localhost certificate).
    #[arg(long, value_name = "PEM", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Write the CA certificate clients must trust to this file (for `--ca-file`).
    #[arg(long, value_name = "PATH")]
    pub write_ca: Option<PathBuf>,
    /// Inactivity timer (RFC 1939 §3: at least 10 minutes); expiry closes without UPDATE.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10m")]
    pub autologout: Duration,
    /// Connections served at once; more get `-ERR [SYS/TEMP] too many connections`.
    #[arg(long, default_value_t = 256)]
    pub max_connections: usize,
    /// Leave out RFC 6856 (UTF8 and LANG, on by default): a plain RFC 1939 server that sends
    /// 8-bit messages as stored, and whose RFC 6856 checks are skipped.
    #[arg(long)]
    pub no_utf8: bool,
    /// RFC 6856 is on by default; kept so that older scripts' `--utf8` still works.
    #[arg(long, hide = true, conflicts_with = "no_utf8")]
    pub utf8: bool,
}

fn parse_user(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((name, password)) if !name.is_empty() => Ok((name.to_string(), password.to_string())),
        _ => Err("expected NAME:PASSWORD".into()),
    }
}

/// Parses a users file: `name:password` per line, `#` comments and blank lines skipped.
pub fn parse_users_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut users = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        users.push(parse_user(line).map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    Ok(users)
}

impl ServeArgs {
    /// The server configuration these arguments describe (reads `--users-file`).
    pub fn to_config(&self) -> Result<ServerConfig, String> {
        let mut users = self.users.clone();
        if let Some(path) = &self.users_file {
            let text = std::fs::read_to_string(path).map_err(|e| format!("--users-file {}: {e}", path.display()))?;
            users.extend(parse_users_file(&text).map_err(|e| format!("--users-file {}: {e}", path.display()))?);
            if users.is_empty() {
                return Err(format!("--users-file {}: no accounts", path.display()));
            }
        }
        if users.is_empty() {
            users = default_users();
        }
        Ok(ServerConfig {
            listen: self.listen,
            tls_listen: (!self.no_tls_listen).then_some(self.tls_listen),
            defects: self.defects.iter().copied().collect(),
            allow_cleartext: self.allow_cleartext,
            users,
            maildir: self.maildir.clone(),
            autologout: self.autologout,
            max_connections: self.max_connections,
            cert: self.cert.clone(),
            key: self.key.clone(),
            utf8: !self.no_utf8,
        })
    }

    /// True when the accounts are the built-in test accounts (their passwords may be printed).
    pub fn default_accounts(&self) -> bool {
        self.users.is_empty() && self.users_file.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn parses_defects_users_and_defaults() {
        let w = Wrap::parse_from([
            "x",
            "--defect",
            "bare-lf,no-lock",
            "--defect",
            "stls-injection",
            "--user",
            "alice:pw:with:colons",
            "--no-tls-listen",
        ]);
        let c = w.args.to_config().unwrap();
        assert!(c.defects.has(Defect::BareLf) && c.defects.has(Defect::NoLock) && c.defects.has(Defect::StlsInjection));
        assert_eq!(c.users, [("alice".to_string(), "pw:with:colons".to_string())]);
        assert_eq!(c.tls_listen, None);
        assert_eq!(c.autologout, Duration::from_secs(600));
        let d = Wrap::parse_from(["x"]).args;
        assert!(d.default_accounts());
        assert_eq!(d.to_config().unwrap().users, default_users());
        assert!(Wrap::try_parse_from(["x", "--defect", "nope"]).is_err());
        assert!(Wrap::try_parse_from(["x", "--user", "nocolon"]).is_err());
    }

    #[test]
    fn users_file_lines() {
        let users = parse_users_file("# test accounts\n\nalice:a\r\nbob:b c\n").unwrap();
        assert_eq!(users, [("alice".into(), "a".into()), ("bob".into(), "b c".into())]);
        assert!(parse_users_file("broken\n").unwrap_err().contains("line 1"));
    }
}
