//! `pop3test session`: a plain walk through a session (greeting, CAPA, optional STLS, login,
//! STAT/LIST/UIDL, QUIT) printing the redacted transcript. The first end-to-end use of the layers.

use crate::cli::{GlobalArgs, LoginArg, SessionArgs};
use crate::exit;
use crate::net::session::{self as s, LoginMethod};
use crate::net::{Connection, NetError};
use crate::proto::{Command, Response, Status};
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
            Err(NetError::Timeout { what: "the session to end (--deadline)", after: deadline }.into())
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

/// Why the walk stopped: the connection failed, or the server said something that ends it.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("{0}")]
    Said(String),
}

/// A reply that is neither `+OK` nor `-ERR` (nor a SASL `+ `) ends the walk: nothing after it
/// can be read as an answer to what was asked.
fn status_line(what: &str, r: &Response) -> Result<(), Stop> {
    if r.status != Status::Unknown {
        return Ok(());
    }
    let seen = crate::transcript::printable(r.text.as_bytes(), 60);
    Err(Stop::Said(format!("the {what} is not a POP3 status line (+OK or -ERR): `{seen}` (RFC 1939 §3)")))
}

/// The walk itself; returns how many protocol violations were seen.
async fn walk(
    conn: &mut Connection,
    args: &SessionArgs,
    creds: Option<&crate::net::session::Credentials>,
) -> Result<usize, Stop> {
    let mut violations = Vec::new();
    let (greeting, timestamp) = s::greeting(conn).await?;
    violations.extend(greeting.violations.clone());
    status_line("greeting", &greeting)?;
    if greeting.status == Status::Err {
        return Err(Stop::Said(format!("the server refused the session in its greeting: -ERR {}", greeting.text)));
    }
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
        // Out of step first: it explains any odd reply that follows.
        if let Some(v) = outcome.out_of_step() {
            conn.note(format!("{} login cannot be judged", method.name()));
            return Err(Stop::Said(format!(
                "the server is out of step ({v}): its replies no longer belong to the commands"
            )));
        }
        for r in outcome.steps.iter().chain([&outcome.response]) {
            status_line("reply to a login command", r)?;
        }
        if outcome.ok() {
            for cmd in [Command::Stat, Command::List(None), Command::Uidl(None)] {
                let r = conn.command(&cmd).await?;
                violations.extend(r.violations);
            }
        } else {
            conn.note(format!("{} login refused", method.name()));
            return Err(Stop::Said(
                "the login was refused (wrong credentials, or the server needs --stls first)".into(),
            ));
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
