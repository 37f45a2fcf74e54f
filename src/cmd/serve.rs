//! `pop3test serve`: run the reference server until Ctrl-C, list its defects, or export the
//! default maildrop as a Maildir.

use crate::cli::serve::ServeArgs;
use crate::cli::GlobalArgs;
use crate::exit;
use crate::server::{seed, spawn, Defect, ServerHandle};

/// Runs the subcommand; returns the exit code.
pub async fn main(args: ServeArgs, global: &GlobalArgs) -> i32 {
    if args.list_defects {
        print!("{}", defect_table());
        return exit::OK;
    }
    if let Some(dir) = &args.export_maildir {
        return match seed::write_maildir(dir) {
            Ok(()) => {
                if !global.quiet {
                    println!("wrote {} messages to {}", seed::default_messages().len(), dir.display());
                }
                exit::OK
            }
            Err(e) => {
                eprintln!("error: cannot write the Maildir {}: {e}", dir.display());
                exit::TESTER_ERROR
            }
        };
    }
    let config = match args.to_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let server = match spawn(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start the server: {e}");
            return exit::TESTER_ERROR;
        }
    };
    if let Some(path) = &args.write_ca {
        if let Err(e) = std::fs::write(path, &server.ca_pem) {
            eprintln!("error: --write-ca {}: {e}", path.display());
            return exit::TESTER_ERROR;
        }
    }
    // The handlers are in place before the banner says the server is up: whoever reads the
    // banner may signal at once.
    let stop = stop_signal();
    if !global.quiet {
        print!("{}", banner(&server, &args));
    }
    if let Err(e) = stop.await {
        eprintln!("error: cannot wait for Ctrl-C: {e}");
    } else if !global.quiet {
        println!("shutting down");
    }
    server.shutdown().await;
    exit::OK
}

/// Ctrl-C, or SIGTERM on Unix (so `kill PID` also shuts down cleanly and removes the CA file).
/// The signal handlers are installed when this is called, not when it is first polled.
pub(crate) fn stop_signal() -> impl std::future::Future<Output = std::io::Result<()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let streams = signal(SignalKind::interrupt()).and_then(|i| Ok((i, signal(SignalKind::terminate())?)));
        async move {
            let (mut int, mut term) = streams?;
            tokio::select! {
                _ = int.recv() => Ok(()),
                _ = term.recv() => Ok(()),
            }
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
    }
}

/// `--list-defects`: name, requirement id, description.
pub fn defect_table() -> String {
    let width = Defect::ALL.iter().map(|d| d.name().len()).max().unwrap_or(0);
    let req = Defect::ALL.iter().map(|d| d.requirement().len()).max().unwrap_or(0);
    let mut out = format!("{:width$}  {:req$}  description\n", "defect", "requirement");
    for d in Defect::ALL {
        out.push_str(&format!("{:width$}  {:req$}  {}\n", d.name(), d.requirement(), d.describe()));
    }
    out
}

fn banner(server: &ServerHandle, args: &ServeArgs) -> String {
    let mut s = String::from("pop3test reference POP3 server\n");
    s.push_str(&format!("  plain (STLS):   {}\n", server.plain_target()));
    if let Some(t) = server.tls_target() {
        s.push_str(&format!("  implicit TLS:   {t}\n"));
    }
    let ca = args.write_ca.as_ref().unwrap_or(&server.ca_file);
    s.push_str(&format!("  CA certificate: {} (clients: --ca-file {})\n", ca.display(), ca.display()));
    for (i, (user, password)) in server.users().iter().enumerate() {
        let maildrop = if i == 0 { "default maildrop" } else { "empty maildrop" };
        let password = if args.default_accounts() {
            format!("password `{password}` (built-in test account)")
        } else {
            "password as given by --user / --users-file".to_string()
        };
        s.push_str(&format!("  user:           {user}, {password}, {maildrop}\n"));
    }
    let storage = match &args.maildir {
        Some(dir) => format!("Maildirs under {}", dir.display()),
        None => "in memory (reset on restart)".to_string(),
    };
    s.push_str(&format!("  maildrops:      {storage}\n"));
    let login = if args.allow_cleartext { "allowed before TLS" } else { "only after STLS or on the TLS port" };
    s.push_str(&format!("  login:          {login}\n"));
    if server.defects().is_empty() {
        s.push_str("  defects:        none (a correct server)\n");
    }
    for d in server.defects().iter() {
        s.push_str(&format!("  defect:         {} [{}] {}\n", d.name(), d.requirement(), d.describe()));
    }
    s.push_str("Ctrl-C stops the server.\n");
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_lists_every_defect() {
        let t = super::defect_table();
        for d in crate::server::Defect::ALL {
            assert!(t.contains(d.name()) && t.contains(d.requirement()), "{d}");
        }
    }
}
