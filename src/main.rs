//! `cohort-explorer`: the window with no arguments, the command line of CLI.md otherwise.

use std::process::ExitCode;

use clap::Parser;
use cohort_explorer::cli::{self, Cli, Command};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Cli::parse();

    let result = match args.command {
        None => cohort_explorer::app::run(None),
        Some(Command::Open { project }) => cohort_explorer::app::run(Some(project)),
        Some(command) => cli::run(command, &mut std::io::stdout().lock()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, as scripts expect: the chain of causes joined.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
