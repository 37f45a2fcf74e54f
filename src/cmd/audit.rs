//! `pop3test audit`: is TLS really enforced? Resolves the target (or starts the built-in server),
//! runs every audit probe ([`crate::audit::run`]), prints the verdict line and the findings table,
//! writes the requested reports and returns `Report::exit_code(--fail-on)`.

use crate::audit::dial::{Ctx, Waits};
use crate::audit::{run_within, AuditConfig};
use crate::cli::audit::AuditArgs;
use crate::cli::GlobalArgs;
use crate::exit;
use crate::net::session::{Credentials, Secret};
use crate::net::Scheme;
use crate::server::{self, seed, ServerConfig};

/// Runs the subcommand; returns the exit code.
pub async fn main(args: AuditArgs, global: &GlobalArgs) -> i32 {
    if args.targets.is_some() {
        return super::fleet::main(args, global).await;
    }
    let creds = match args.creds.resolve() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    if !args.builtin && !args.defects.is_empty() {
        eprintln!("error: --defect needs --builtin (it switches on a defect of the built-in server)");
        return exit::USAGE;
    }
    let waits = Waits::from_step(args.conn.timeout);
    let mut handle = None;
    let cfg = if args.builtin {
        let config = ServerConfig { defects: args.defects.iter().copied().collect(), ..ServerConfig::default() };
        let h = match server::spawn(config).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: cannot start the built-in server: {e}");
                return exit::TESTER_ERROR;
            }
        };
        let creds = creds.or_else(|| {
            Some(Credentials { user: seed::DEFAULT_USER.into(), password: Secret::new(seed::DEFAULT_PASSWORD) })
        });
        let implicit = if args.no_implicit { None } else { h.tls_target() };
        let cfg = AuditConfig {
            target: h.plain_target(),
            implicit,
            creds,
            ca_file: Some(h.ca_file.clone()),
            server_name: args.conn.server_name.clone(),
            waits,
        };
        handle = Some(h);
        cfg
    } else {
        let Some(target) = args.target.clone() else {
            eprintln!("error: give a target (pop3://host[:port]) or --builtin");
            return exit::USAGE;
        };
        if target.scheme == Scheme::ImplicitTls {
            eprintln!(
                "error: the audit starts from the plain port: give pop3://{} and the implicit-TLS port with \
                 --tls-port {}",
                target.host, target.port
            );
            return exit::USAGE;
        }
        let implicit = (!args.no_implicit).then(|| Ctx::implicit_on(&target, args.tls_port.unwrap_or(995)));
        AuditConfig {
            target,
            implicit,
            creds,
            ca_file: args.conn.ca_file.clone(),
            server_name: args.conn.server_name.clone(),
            waits,
        }
    };

    let mut report = run_within(&cfg, args.conn.deadline).await;
    if let Some(h) = handle {
        report.target = format!("{} (built-in server)", report.target);
        h.shutdown().await;
    }
    super::finish(&report, &args.reports, args.fail_on, global)
}
