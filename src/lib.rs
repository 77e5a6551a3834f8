//! Cohort Explorer: imports session and event exports into one SQLite project file and
//! answers how often, and for how long, the users an app acquires come back.
//!
//! The modules keep one job each: `model` holds plain types, `import` reads files,
//! `sessions` turns rows into users and sessions, `store` is the project file, `metrics`
//! computes every number, `demo` writes a sample project and `cli` is the command line.

pub mod app;
pub mod cli;
pub mod demo;
pub mod import;
pub mod metrics;
pub mod model;
pub mod sessions;
pub mod store;
pub mod time;
pub mod ui;
