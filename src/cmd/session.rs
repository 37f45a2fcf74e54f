//! `pop3test session`: a plain walk through a session (greeting, CAPA, optional STLS, login,
//! STAT/LIST/UIDL, QUIT) printing the redacted transcript. The first end-to-end use of the layers.

use crate::cli::{GlobalArgs, LoginArg, SessionArgs};
use crate::exit;
use crate::net::session::{self as s, LoginMethod};
use crate::net::{Connection, NetError};
use crate::proto::Command;
use crate::transcript::{Direction, Entry};

/// Runs the subcommand; returns the exit code.
pub async fn main(args: SessionArgs, global: &GlobalArgs) -> i32 {
    let creds = match args.creds.resolve() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let opts = args.conn.connect_options();
    let mut conn = match Connection::connect(&args.target, &opts).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::TESTER_ERROR;
        }
    };
    let deadline = args.conn.deadline;
    let result = match tokio::time::timeout(deadline, walk(&mut conn, &args, creds.as_ref())).await {
        Ok(r) => r,
        Err(_) => {
            conn.note(format!("the --deadline of {} passed", humantime::format_duration(deadline)));
            Err(NetError::Timeout { what: "the session to end (--deadline)", after: deadline })
        }
    };
    let violations = match &result {
        Ok(v) => *v,
        Err(_) => 0,
    };
    let transcript = conn.close(result.is_ok()).await;
    print_transcript(transcript.entries(), global);
    match result {
        Err(e) => {
            eprintln!("error: {e}");
            exit::TESTER_ERROR
        }
        Ok(_) if violations > 0 => exit::CONFORMANCE_FAILURES,
        Ok(_) => exit::OK,
    }
}

/// The walk itself; returns how many protocol violations were seen.
async fn walk(
    conn: &mut Connection,
    args: &SessionArgs,
    creds: Option<&crate::net::session::Credentials>,
) -> Result<usize, NetError> {
    let mut violations = Vec::new();
    let (greeting, timestamp) = s::greeting(conn).await?;
    violations.extend(greeting.violations.clone());
    let (_, capa, v) = s::capa(conn).await?;
    violations.extend(v);
    violations.extend(capa.violations);
    if args.stls {
        let r = s::stls(conn).await?;
        if !r.is_ok() {
            conn.note("STLS refused; staying in cleartext");
        } else {
            let (_, capa, v) = s::capa(conn).await?;
            violations.extend(v);
            violations.extend(capa.violations);
        }
    }
    if let Some(creds) = creds {
        let method = match args.method {
            LoginArg::User => LoginMethod::UserPass,
            LoginArg::Apop => LoginMethod::Apop,
            LoginArg::Plain => LoginMethod::SaslPlain,
            LoginArg::Login => LoginMethod::SaslLogin,
        };
        let outcome = s::login(conn, creds, method, timestamp.as_deref()).await?;
        if outcome.ok() {
            for cmd in [Command::Stat, Command::List(None), Command::Uidl(None)] {
                let r = conn.command(&cmd).await?;
                violations.extend(r.violations);
            }
        } else {
            conn.note(format!("{} login refused", method.name()));
            return Err(NetError::Usage("the login was refused (wrong credentials, or the server needs --stls first)"));
        }
    }
    for v in &violations {
        conn.note(format!("violation [{}] {}: {v}", v.requirement(), v.rfc()));
    }
    Ok(violations.len())
}

fn print_transcript(entries: &[Entry], global: &GlobalArgs) {
    if global.quiet {
        return;
    }
    for e in entries {
        let who = match e.dir {
            Direction::Client => "C:",
            Direction::Server => "S:",
            Direction::Note => "--",
        };
        let tls = if e.tls { " [tls]" } else { "" };
        // Show one protocol line per output line, like the RFC's dialogues.
        for line in e.text.split_inclusive("\\n") {
            println!("{:>9.1}ms {who}{tls} {}", e.t_ms, line.trim_end_matches("\\n").trim_end_matches("\\r"));
        }
    }
}
