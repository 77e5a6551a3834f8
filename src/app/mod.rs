//! The window: wires the project, the background workers and the views together.

pub mod jobs;
pub mod worker;

use std::path::PathBuf;

use anyhow::Result;

/// Opens the window on `project`, or on the last or demo project.
pub fn run(project: Option<PathBuf>) -> Result<()> {
    let _ = project;
    anyhow::bail!("the window is not built yet; use the subcommands (see --help)")
}
