//! `cohort-explorer`: the window with no arguments, the command line of CLI.md otherwise.

use std::process::ExitCode;

use clap::Parser;
use cohort_explorer::cli::{self, Cli, Command};

fn main() -> ExitCode {
    // Milliseconds: the debug log times loading and queries that take a fraction of one.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp_millis()
        .init();
    let args = Cli::parse();

    let result = match args.command {
        None => cohort_explorer::app::run(None),
        Some(Command::Open { project }) => cohort_explorer::app::run(Some(project)),
        Some(command) => cli::run(command, &mut std::io::stdout().lock()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `report ... | head` closes the pipe early: that is the reader's choice, not a failure.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, as scripts expect: the chain of causes joined.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            .or_else(
                || match cause.downcast_ref::<csv::Error>().map(csv::Error::kind) {
                    Some(csv::ErrorKind::Io(e)) => Some(e.kind()),
                    _ => None,
                },
            );
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}
