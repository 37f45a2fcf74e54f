//! `pop3test audit-client`: play the attacks against a client and report.

use crate::cli::audit_client::AuditClientArgs;
use crate::cli::GlobalArgs;
use crate::client_audit::{attacks, run};
use crate::results::RunKind;

pub async fn main(args: AuditClientArgs, global: &GlobalArgs) -> i32 {
    let opts = run::Options {
        attacks: if args.attacks.is_empty() { attacks::ALL.to_vec() } else { args.attacks.clone() },
        exec: args.exec.clone(),
        exec_tls: args.exec_tls.clone(),
        listen: args.listen,
        tls_listen: args.tls_listen,
        timeout: args.timeout,
        wait: args.wait,
        ca_out: args.ca_out.clone(),
        limits: Default::default(),
    };
    let quiet = global.quiet;
    let report = match run::run(&opts, &mut |line| {
        if !quiet {
            eprintln!("{line}");
        }
    })
    .await
    {
        Ok(r) => r,
        Err(e) => super::error_report(
            RunKind::AuditClient,
            "audit-client".into(),
            "setup",
            "audit-client could not start",
            e.to_string(),
        ),
    };
    let mut report = report;
    if let Some(name) = &args.client {
        // The matrix labels each column with its report's target (the server's address is in
        // every transcript).
        report.target = name.clone();
    }
    super::finish(&report, &args.reports, args.fail_on, global)
}
