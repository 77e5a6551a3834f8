//! Speed figures on generated data, measured in one run (issue #5 tracks the targets):
//!
//!     cargo run --release --example bench -- --rows 1000000
//!
//! Generates a session CSV from a fixed seed, times the `sqlite3` shell's `.import` of it
//! as the reference (when `sqlite3` is installed), then our import, the project file size,
//! loading the project and every view's query, and prints a table with the ratios.
//!
//! `--events` generates an event file instead (user, time, event name, channel: sessions
//! are built from the events, 30-minute timeout). `--keep DIR` leaves the CSV and the
//! project in DIR; `--project FILE` skips generating and importing and measures only
//! opening and the views of an existing project.
//!
//! Opening is also timed as the window opens a project, through its query worker: from
//! asking for the project to its overview, three times in a row (the first opening after
//! an import works the overview out; later ones show the one remembered in the file first).

use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use cohort_explorer::app::worker::{self, Request, Response, ViewQuery, Worker};
use cohort_explorer::demo::Rng;
use cohort_explorer::import::{self, ImportOptions};
use cohort_explorer::metrics::{Filter, GroupBy, MatrixMetric, Prepared};
use cohort_explorer::model::{FileKind, Grain};
use cohort_explorer::store::Project;

fn generate(path: &Path, rows: u64) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "user_id,install_time,session_start,duration,channel,campaign,country,platform,app_version"
    )?;
    let mut rng = Rng::seeded(20_261_203);
    let (channels, countries) = (
        [
            "google",
            "facebook",
            "tiktok",
            "unity",
            "applovin",
            "ironsource",
            "apple",
            "organic",
        ],
        ["US", "DE", "GB", "BR", "JP", "IN"],
    );
    let (mut written, mut user) = (0u64, 0u64);
    while written < rows {
        user += 1;
        let day = rng.below(90);
        let install_min = day * 1440 + rng.below(1440);
        let channel = channels[usize::try_from(user % 8).unwrap_or(0)];
        for _ in 0..(1 + rng.below(30)).min(rows - written) {
            // Most sessions come in the first days, a few up to two months later, so
            // that retention decays over the D0-D30 columns as it does in real apps.
            let latest_day = rng.below(60);
            let start_min = install_min + rng.below(1 + latest_day) * 1440 + rng.below(1440);
            let stamp = |minute: u64| {
                let d = minute / 1440;
                format!(
                    "2025-{:02}-{:02} {:02}:{:02}:00",
                    1 + d / 28 % 12,
                    1 + d % 28,
                    minute / 60 % 24,
                    minute % 60
                )
            };
            writeln!(
                out,
                "u{user},{},{},{},{channel},{channel}_{},{},{},3.{}",
                stamp(install_min),
                stamp(start_min),
                5 + rng.below(1800),
                user % 5,
                countries[usize::try_from(user % 6).unwrap_or(0)],
                if user % 3 == 0 { "ios" } else { "android" },
                day / 30
            )?;
            written += 1;
        }
    }
    out.flush()
}

/// Events of users who come back in sessions of a few events each, a minute or so apart.
fn generate_events(path: &Path, rows: u64) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "user_id,event_time,event_name,channel")?;
    let mut rng = Rng::seeded(20_261_204);
    let names = ["session_start", "level_up", "purchase", "ad_view", "tap"];
    let (mut written, mut user) = (0u64, 0u64);
    while written < rows {
        user += 1;
        let mut second = rng.below(90 * 86_400);
        for _ in 0..1 + rng.below(12) {
            for _ in 0..1 + rng.below(10) {
                if written == rows {
                    break;
                }
                second += 1 + rng.below(120);
                let (d, s) = (second / 86_400, second % 86_400);
                writeln!(
                    out,
                    "e{user},2025-{:02}-{:02} {:02}:{:02}:{:02},{},ch{}",
                    1 + d / 28 % 12,
                    1 + d % 28,
                    s / 3600,
                    s / 60 % 60,
                    s % 60,
                    names[usize::try_from(rng.below(5)).unwrap_or(0)],
                    user % 6
                )?;
                written += 1;
            }
            second += 3_600 + rng.below(3 * 86_400);
        }
    }
    out.flush()
}

/// Waits until written data is on disk (`sync`), where the command exists.
fn settle() {
    let _ = Command::new("sync").status();
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn time<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = work();
    (value, started.elapsed())
}

/// Median and worst of `runs` runs of a query.
fn query_figures(runs: usize, mut query: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs).map(|_| time(&mut query).1).collect();
    times.sort();
    (times[times.len() / 2], times[times.len() - 1])
}

/// One view's query, run repeatedly.
type Query<'a> = Box<dyn FnMut() + 'a>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Quiet unless RUST_LOG asks: the worker logs where an opening spends its time.
    env_logger::init();
    let args: Vec<String> = std::env::args().collect();
    let rows: u64 = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let temp = tempfile::tempdir()?;
    let events = args.iter().any(|a| a == "--events");
    let (project, csv) = match value_of("--project") {
        Some(existing) => (std::path::PathBuf::from(existing), None),
        None => {
            let dir = value_of("--keep").map_or_else(|| temp.path().to_owned(), Into::into);
            std::fs::create_dir_all(&dir)?;
            let (project, csv, import_time) = import_figures(&dir, rows, events)?;
            (project, Some((csv, import_time)))
        }
    };
    let ours = view_figures(&project)?;
    opening_figures(&project)?;
    match csv {
        // The DuckDB script reads session files.
        Some((csv, import_time)) if !events => duckdb_figures(&csv, import_time, &ours),
        _ => {}
    }
    Ok(())
}

/// DuckDB answering the views' questions on the raw rows of the same CSV
/// (`examples/duckdb_reference.py`), beside our figures, where Python has `duckdb`.
fn duckdb_figures(csv: &Path, import_time: Duration, ours: &[(&str, Duration)]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/duckdb_reference.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(csv)
        .args(["--runs", "5"])
        .stderr(std::process::Stdio::inherit())
        .output();
    let figures: serde_json::Value = match output {
        Ok(out) if out.status.success() => match serde_json::from_slice(&out.stdout) {
            Ok(figures) => figures,
            Err(e) => {
                println!("  (the DuckDB script's output did not read: {e})");
                return;
            }
        },
        _ => {
            println!("  (no DuckDB reference: `pip install duckdb` for it; .ci/bench installs it)");
            return;
        }
    };
    println!();
    println!(
        "DuckDB {} on the raw rows of the same CSV:",
        figures["duckdb_version"].as_str().unwrap_or("?")
    );
    println!();
    println!("| what | DuckDB | ours | ours faster by |");
    println!("|---|---|---|---|");
    if let Some(load_s) = figures["load_s"].as_f64() {
        println!(
            "| load the CSV into its own file | {load_s:.1} s | {:.1} s | {:.1}x |",
            import_time.as_secs_f64(),
            load_s / import_time.as_secs_f64()
        );
    }
    // Our views by the script's names for them.
    let pairs = [
        ("overview", "Overview, all users"),
        ("channels", "Channels"),
        ("campaigns", "Campaigns"),
        ("cohorts_week", "Cohorts, weeks x D0-30"),
        ("cohorts_day", "Cohorts, days x D0-30"),
        ("sessions", "Sessions"),
        ("quality", "Quality"),
    ];
    for (key, name) in pairs {
        let theirs = figures["views"][key]["median_ms"].as_f64();
        let mine = ours
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| d.as_secs_f64() * 1e3);
        if let (Some(theirs), Some(mine)) = (theirs, mine) {
            println!(
                "| view: {name} (median) | {theirs:.0} ms | {mine:.0} ms | {:.0}x |",
                theirs / mine.max(0.001)
            );
        }
    }
}

/// Generates the CSV, imports it beside the `sqlite3` reference and prints the figures;
/// returns the project's path, the CSV's and how long our import took.
fn import_figures(
    dir: &Path,
    rows: u64,
    events: bool,
) -> Result<(std::path::PathBuf, std::path::PathBuf, Duration), Box<dyn std::error::Error>> {
    let (kind, csv) = if events {
        (FileKind::Events, dir.join("events.csv"))
    } else {
        (FileKind::Sessions, dir.join("sessions.csv"))
    };
    let (generated, gen_time) = time(|| {
        if events {
            generate_events(&csv, rows)
        } else {
            generate(&csv, rows)
        }
    });
    generated?;
    let csv_mb = std::fs::metadata(&csv)?.len() as f64 / 1e6;
    println!(
        "bench: {rows} rows of {}, {csv_mb:.0} MB of CSV (generated in {:.1} s)",
        kind.as_str(),
        gen_time.as_secs_f64()
    );
    println!();
    println!("| what | figure |");
    println!("|---|---|");

    // The reference: the sqlite3 shell's .import of the same file, in the same run. Each
    // import starts once the disk has taken what was written before it, so neither pays
    // for the other's (or the generator's) writes.
    settle();
    let reference = {
        let db = dir.join("reference.db");
        let _ = std::fs::remove_file(&db);
        let (status, took) = time(|| {
            Command::new("sqlite3")
                .arg(&db)
                .arg(format!(".import --csv {} sessions", csv.display()))
                .status()
        });
        match status {
            Ok(s) if s.success() => Some(took),
            _ => {
                println!("  (no sqlite3 shell: install it, e.g. apt-get install sqlite3, for the reference)");
                None
            }
        }
    };

    settle();
    let project_path = dir.join("bench.cohort");
    let _ = std::fs::remove_file(&project_path);
    let mut project = Project::create(&project_path)?;
    let options = ImportOptions {
        kind: Some(kind),
        ..ImportOptions::default()
    };
    let (imported, import_time) = time(|| {
        import::import_file(
            &mut project,
            &csv,
            &options,
            &AtomicBool::new(false),
            &mut |_| {},
        )
    });
    imported?;
    let rss = peak_rss_mb();
    drop(project);
    let file_bytes = std::fs::metadata(&project_path)?.len() as f64;

    let rate = |d: Duration| rows as f64 / d.as_secs_f64();
    if let Some(reference) = reference {
        println!(
            "| sqlite3 shell .import (reference) | {:.0} rows/s ({:.1} s) |",
            rate(reference),
            reference.as_secs_f64()
        );
    }
    println!(
        "| our import, all work included | {:.0} rows/s ({:.1} s) |",
        rate(import_time),
        import_time.as_secs_f64()
    );
    if let Some(reference) = reference {
        println!(
            "| ratio ours / sqlite3 | {:.2}x |",
            reference.as_secs_f64() / import_time.as_secs_f64()
        );
    }
    if let Some(rss) = rss {
        println!("| peak resident memory (whole process) | {rss:.0} MB |");
    }
    println!(
        "| project file | {:.0} MB, {:.0} bytes per imported row |",
        file_bytes / 1e6,
        file_bytes / rows as f64
    );
    Ok((project_path, csv, import_time))
}

/// Opens the project three times as the window does and prints how long each took to
/// show the overview, and to have the project loaded for every other view.
fn opening_figures(project_path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!();
    println!("| opening as the window does | overview shown | project loaded |");
    println!("|---|---|---|");
    for opening in 1..=3 {
        let worker = Worker::start(|| {})?;
        let started = Instant::now();
        worker.send(Request::Load(project_path.to_owned()));
        worker.send(Request::Query {
            generation: 1,
            query: worker::Query {
                filter: Filter::default(),
                view: ViewQuery::Overview,
            },
        });
        let (mut shown, mut loaded, mut remembered) = (None, None, false);
        while shown.is_none() || loaded.is_none() {
            match worker.try_recv() {
                Some(Response::Loaded(summary)) if !summary.loading => {
                    loaded = Some(started.elapsed());
                }
                Some(Response::Loaded(_)) => remembered = true,
                Some(Response::Answer { .. }) => {
                    shown = shown.or_else(|| Some(started.elapsed()));
                }
                Some(Response::LoadFailed { error, .. }) => return Err(error.into()),
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        worker.finish();
        let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        println!(
            "| opening {opening}{} | {:.0} ms | {:.0} ms |",
            if remembered {
                ", overview remembered"
            } else {
                ""
            },
            ms(shown),
            ms(loaded)
        );
    }
    Ok(())
}

/// Opens a project, prepares it and runs every view's query, printing the figures;
/// returns each view's median.
fn view_figures(
    project_path: &Path,
) -> Result<Vec<(&'static str, Duration)>, Box<dyn std::error::Error>> {
    let (loaded, open_time) = time(|| Project::open(project_path).and_then(|p| p.load_dataset()));
    let dataset = loaded?;
    let (_, prepare_time) = time(|| Prepared::new(&dataset));
    if std::env::args().any(|a| a == "--project") {
        println!("| what | figure |");
        println!("|---|---|");
    }
    println!(
        "| sessions in the project | {} ({} users) |",
        dataset.sessions.len(),
        dataset.users.len()
    );
    println!(
        "| open and load the project | {:.2} s |",
        open_time.as_secs_f64()
    );
    println!(
        "| prepare day N and maturity | {:.2} s |",
        prepare_time.as_secs_f64()
    );

    // The window's own questions, answered as its query worker answers them.
    let prepared = Prepared::new(&dataset);
    let all = Filter::default();
    let google = Filter {
        channel: Some("google".to_owned()),
        ..Filter::default()
    };
    let cohorts = |grain| ViewQuery::Cohorts {
        grain,
        metric: MatrixMetric::Retention,
        max_day: 30,
    };
    let views: Vec<(&'static str, &Filter, ViewQuery)> = vec![
        ("Overview, all users", &all, ViewQuery::Overview),
        ("Overview, one channel", &google, ViewQuery::Overview),
        (
            "Channels",
            &all,
            ViewQuery::Groups {
                by: GroupBy::Channel,
            },
        ),
        (
            "Campaigns",
            &all,
            ViewQuery::Groups {
                by: GroupBy::Campaign,
            },
        ),
        (
            "Campaigns, one channel",
            &google,
            ViewQuery::Groups {
                by: GroupBy::Campaign,
            },
        ),
        ("Cohorts, weeks x D0-30", &all, cohorts(Grain::Week)),
        ("Cohorts, days x D0-30", &all, cohorts(Grain::Day)),
        (
            "Sessions",
            &all,
            ViewQuery::Sessions {
                split: GroupBy::None,
            },
        ),
        (
            "Sessions by channel",
            &all,
            ViewQuery::Sessions {
                split: GroupBy::Channel,
            },
        ),
        ("Quality", &all, ViewQuery::Quality { min_installs: 50 }),
    ];
    let queries: Vec<(&'static str, Query<'_>)> = views
        .into_iter()
        .map(|(name, filter, view)| {
            let query = worker::Query {
                filter: filter.clone(),
                view,
            };
            let prepared = &prepared;
            let run: Query<'_> = Box::new(move || {
                worker::answer(prepared, &query);
            });
            (name, run)
        })
        .collect();
    let mut medians = Vec::new();
    for (name, mut query) in queries {
        let (median, worst) = query_figures(5, &mut query);
        println!(
            "| view: {name} | median {:.0} ms, worst {:.0} ms |",
            median.as_secs_f64() * 1e3,
            worst.as_secs_f64() * 1e3
        );
        medians.push((name, median));
    }
    Ok(medians)
}
