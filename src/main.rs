//! Entry point: parse the command line, call the library, exit with its code. The only place
//! that exits.

use clap::Parser;
use pop3test::cli::{Cli, Commands};
use pop3test::{cmd, exit};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => exit::OK,
                _ => exit::USAGE,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let code = runtime.block_on(async move {
        match cli.command {
            Commands::Session(args) => cmd::session::main(args, &cli.global).await,
            Commands::Report(args) => cmd::report::main(args, &cli.global),
            Commands::Serve(args) => cmd::serve::main(args, &cli.global).await,
            Commands::Run(args) => cmd::run::main(args, &cli.global).await,
            Commands::Check(args) => cmd::check::main(args, &cli.global),
            Commands::Fuzz(args) => cmd::fuzz::main(args, &cli.global).await,
            Commands::Audit(args) => cmd::audit::main(args, &cli.global).await,
            Commands::AuditClient(args) => cmd::audit_client::main(args, &cli.global).await,
            Commands::Seed(args) => cmd::seed::main(args, &cli.global).await,
        }
    });
    std::process::exit(code);
}
