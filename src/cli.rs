//! The command line of CLI.md: `import`, `settings`, `report`, `demo`, and `open` for the
//! window. Parsing is clap's; this module turns arguments into calls and results into text.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use serde_json::{json, Map, Value};

use crate::import::{self, DurationUnit, Field, ImportOptions, ImportOutcome, OnBadRows};
use crate::metrics::{self, GroupBy, GroupMetrics, Prepared, Report, ReportRequest};
use crate::model::{Dataset, DayConvention, FileKind, Grain, ImportRecord, LATE_AFTER_DAYS};
use crate::store::Project;
use crate::time::{format_utc, parse_instant};

#[derive(Debug, Parser)]
#[command(
    name = "cohort-explorer",
    version,
    about = "Do the users an app acquires keep coming back? Cohorts, channels and campaigns, offline."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a project in the window.
    Open { project: PathBuf },
    /// Import files into a project (created if missing); each file lands whole or not at all.
    Import {
        project: PathBuf,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// What the rows are; inferred from the columns when left out.
        #[arg(long, value_parser = parse_kind)]
        kind: Option<FileKind>,
        /// A vendor preset (detected from the header when left out; `none` for no preset):
        /// appsflyer, appsflyer-cost, adjust, adjust-report, tenjin-events,
        /// tenjin-campaigns, tenjin-ad-networks, tenjin-spend, firebase, amplitude,
        /// mixpanel, ad-spend.
        #[arg(long)]
        preset: Option<String>,
        /// FIELD=COLUMN: read FIELD from COLUMN (repeatable).
        #[arg(long = "map", value_parser = parse_map)]
        map: Vec<(Field, String)>,
        /// Zone of timestamps that carry no offset.
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Unit of a duration column.
        #[arg(long, value_parser = parse_duration_unit, default_value = "s")]
        duration_unit: DurationUnit,
        /// Refuse the file at the first bad row (abort) or import the rest (skip).
        #[arg(long, value_parser = parse_on_bad_rows, default_value = "abort")]
        on_bad_rows: OnBadRows,
    },
    /// Show or change project settings; sessions are rebuilt when needed.
    Settings {
        project: PathBuf,
        /// Inactivity timeout in minutes that splits events into sessions.
        #[arg(long)]
        timeout: Option<u32>,
        /// Day N convention: window or calendar.
        #[arg(long, value_parser = parse_day)]
        day: Option<DayConvention>,
        /// Reporting time zone (IANA name).
        #[arg(long)]
        tz: Option<String>,
        /// End of the data (a timestamp; `auto` for the latest imported).
        #[arg(long)]
        data_end: Option<String>,
        /// The project's currency (ISO code).
        #[arg(long)]
        currency: Option<String>,
        /// Event names that are not activity, comma separated (empty: none).
        #[arg(long)]
        exclude_events: Option<String>,
    },
    /// Print cohort metrics as JSON or CSV.
    Report {
        project: PathBuf,
        /// Group users by: none, cohort, channel, campaign, country, platform (or app_version).
        #[arg(long, value_parser = parse_group_by, default_value = "none")]
        by: GroupBy,
        /// Cohort period for --by cohort: day, week (from Monday) or month.
        #[arg(long, value_parser = parse_grain, default_value = "day")]
        grain: Grain,
        /// Day-N values, comma separated (0 to 3650).
        #[arg(long, value_delimiter = ',', value_parser = parse_day_n, default_value = "0,1,7,30", allow_hyphen_values = true)]
        days: Vec<u32>,
        #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
        format: String,
    },
    /// Write a realistic demo project generated from a fixed seed.
    Demo { project: PathBuf },
}

fn parse_kind(text: &str) -> Result<FileKind, String> {
    FileKind::parse(text).ok_or_else(|| {
        "expected sessions, events, installs, spend, rates, campaigns or ad_networks".to_owned()
    })
}

fn parse_map(text: &str) -> Result<(Field, String), String> {
    let (field, column) = text
        .split_once('=')
        .ok_or_else(|| format!("expected FIELD=COLUMN, got {text:?}"))?;
    let field = Field::parse(field).ok_or_else(|| {
        let names: Vec<_> = Field::ALL.iter().map(|f| f.name()).collect();
        format!("unknown field {field:?}; fields are {}", names.join(", "))
    })?;
    Ok((field, column.to_owned()))
}

fn parse_duration_unit(text: &str) -> Result<DurationUnit, String> {
    DurationUnit::parse(text).ok_or_else(|| "expected s, ms or min".to_owned())
}

fn parse_on_bad_rows(text: &str) -> Result<OnBadRows, String> {
    OnBadRows::parse(text).ok_or_else(|| "expected skip or abort".to_owned())
}

fn parse_day(text: &str) -> Result<DayConvention, String> {
    DayConvention::parse(text).ok_or_else(|| "expected window or calendar".to_owned())
}

fn parse_group_by(text: &str) -> Result<GroupBy, String> {
    GroupBy::parse(text).ok_or_else(|| {
        "expected none, cohort, channel, campaign, country, platform or app_version".to_owned()
    })
}

/// The largest day N a report computes: ten years.
const MAX_DAY_N: u32 = 3650;

fn parse_day_n(text: &str) -> Result<u32, String> {
    let day: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a day number (for example 0,1,7,30)"))?;
    u32::try_from(day)
        .ok()
        .filter(|d| *d <= MAX_DAY_N)
        .ok_or_else(|| format!("day {day} is out of range: days run from 0 to {MAX_DAY_N}"))
}

fn parse_grain(text: &str) -> Result<Grain, String> {
    match text {
        "day" => Ok(Grain::Day),
        "week" => Ok(Grain::Week),
        "month" => Ok(Grain::Month),
        _ => Err("expected day, week or month".to_owned()),
    }
}

/// Runs a subcommand that needs no window, writing results to `out`.
pub fn run(command: Command, out: &mut dyn Write) -> Result<()> {
    match command {
        Command::Open { .. } => bail!("`open` needs the window"),
        Command::Import {
            project,
            files,
            kind,
            preset,
            map,
            tz,
            duration_unit,
            on_bad_rows,
        } => {
            let options = ImportOptions {
                kind,
                preset,
                map,
                tz: Some(tz),
                duration_unit,
                on_bad_rows,
            };
            import_files(&project, &files, &options, out)
        }
        Command::Settings {
            project,
            timeout,
            day,
            tz,
            data_end,
            currency,
            exclude_events,
        } => {
            let changes = SettingsChange {
                timeout,
                day,
                tz,
                data_end,
                currency,
                exclude_events,
            };
            settings(&project, changes, out)
        }
        Command::Report {
            project,
            by,
            grain,
            days,
            format,
        } => {
            let request = ReportRequest {
                by,
                grain,
                days,
                filter: metrics::Filter::default(),
            };
            report(&project, &request, &format, out)
        }
        Command::Demo { project } => {
            let summary = crate::demo::write_demo(&project)?;
            writeln!(
                out,
                "wrote demo project {}: {} users, {} sessions, {} spend rows",
                project.display(),
                summary.users,
                summary.sessions,
                summary.spend_rows
            )?;
            Ok(())
        }
    }
}

fn open_existing(path: &Path) -> Result<Project> {
    if !path.exists() {
        bail!(
            "{}: no such project (create one with `import` or `demo`)",
            path.display()
        );
    }
    Ok(Project::open(path)?)
}

fn import_files(
    project: &Path,
    files: &[PathBuf],
    options: &ImportOptions,
    out: &mut dyn Write,
) -> Result<()> {
    for file in files {
        if file.is_dir() {
            bail!(
                "{}: is a folder; name the files in it to import",
                file.display()
            );
        }
        if !file.is_file() {
            bail!("{}: no such file", file.display());
        }
    }
    let created = !project.exists();
    let mut store = Project::open_or_create(project)?;
    let cancel = AtomicBool::new(false);
    for (i, file) in files.iter().enumerate() {
        let outcome = match import::import_file(&mut store, file, options, &cancel, &mut |_| {}) {
            Ok(outcome) => outcome,
            Err(error) => {
                if created && i == 0 {
                    // Nothing landed: leave no empty project behind.
                    drop(store);
                    let _ = std::fs::remove_file(project);
                }
                return Err(error.into());
            }
        };
        match outcome {
            ImportOutcome::AlreadyImported(previous) => writeln!(
                out,
                "{}: already imported on {} as {} (same SHA-256, read as {}{}); nothing changed. \
                 To read it again with other options, remove that import first \
                 (Data view of the window).",
                file.display(),
                previous.imported_at,
                previous.file_name,
                previous.kind,
                previous
                    .duration_unit
                    .as_deref()
                    .map_or_else(String::new, |u| format!(", durations in {u}"))
            )?,
            ImportOutcome::Imported { record, stats } => {
                write_import_summary(out, &record)?;
                writeln!(
                    out,
                    "project now: {} users ({} installs inferred), {} sessions",
                    stats.users, stats.inferred_installs, stats.sessions
                )?;
                let notable = [
                    (
                        stats.sessions_over_24h,
                        "sessions over 24 hours (kept, flagged)",
                    ),
                    (
                        stats.sessions_before_install,
                        "sessions before their install (no day)",
                    ),
                    (stats.duplicate_events, "duplicate events (counted once)"),
                    (stats.reinstalls, "reinstalls"),
                    (
                        stats.install_sessions_added,
                        "installs added as first sessions",
                    ),
                ];
                for (count, what) in notable.into_iter().filter(|(n, _)| *n > 0) {
                    writeln!(out, "  {count} {what}")?;
                }
                if stats.late_rows > 0 {
                    // The last day of the others: the millisecond before its end.
                    let bulk_end = chrono::DateTime::from_timestamp_millis(stats.late_after_ms - 1)
                        .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string());
                    writeln!(
                        out,
                        "  warning: {} rows lie more than {LATE_AFTER_DAYS} days after all the \
                         others (last on {bulk_end}) and move the end of the data, which \
                         decides the mature cohorts; if their dates are wrong, fix the file or \
                         set the end (settings --data-end)",
                        stats.late_rows
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn write_import_summary(out: &mut dyn Write, record: &ImportRecord) -> Result<()> {
    let preset = record
        .preset
        .as_deref()
        .map_or_else(String::new, |p| format!(" (preset {p})"));
    writeln!(
        out,
        "imported {} as {}{preset}: {} rows read, {} accepted, {} rejected, {} ignored",
        record.file_name,
        record.kind,
        record.rows_read,
        record.rows_accepted,
        record.rows_rejected,
        record.rows_ignored
    )?;
    for (reason, count) in &record.ignored_by_reason {
        writeln!(out, "  ignored ({reason}): {count}")?;
    }
    for (reason, count) in &record.rejected_by_reason {
        writeln!(out, "  rejected ({reason}): {count}")?;
        for example in record
            .rejected_examples
            .iter()
            .filter(|e| &e.reason == reason)
        {
            writeln!(out, "    line {}: {}", example.line, example.detail)?;
        }
    }
    for note in &record.notes {
        writeln!(out, "  {note}")?;
    }
    Ok(())
}

/// Settings given on the command line; `None` leaves a setting as it is.
struct SettingsChange {
    timeout: Option<u32>,
    day: Option<DayConvention>,
    tz: Option<String>,
    data_end: Option<String>,
    currency: Option<String>,
    exclude_events: Option<String>,
}

fn settings(path: &Path, change: SettingsChange, out: &mut dyn Write) -> Result<()> {
    let mut project = open_existing(path)?;
    let before = project.settings()?;
    let mut settings = before.clone();
    if let Some(minutes) = change.timeout {
        if minutes == 0 {
            bail!("--timeout must be at least 1 minute");
        }
        settings.timeout_minutes = minutes;
    }
    if let Some(day) = change.day {
        settings.day = day;
    }
    if let Some(tz) = change.tz {
        let zone: chrono_tz::Tz = tz.parse().map_err(|_| {
            anyhow::anyhow!("unknown time zone {tz:?} (use an IANA name such as Europe/Berlin)")
        })?;
        settings.tz = zone.name().to_owned();
    }
    if let Some(end) = change.data_end {
        settings.data_end_ms = match end.trim() {
            "" | "auto" | "none" => None,
            text => Some(parse_instant(text, settings.zone()).with_context(|| {
                format!("--data-end {text:?} is not a timestamp (for example 2015-12-31T23:59:00Z)")
            })?),
        };
    }
    if let Some(currency) = change.currency {
        let code = currency.trim().to_uppercase();
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
            bail!("--currency {currency:?} is not a three-letter currency code");
        }
        settings.currency = code;
    }
    if let Some(names) = change.exclude_events {
        settings.excluded_events = names
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
    }
    // Showing the settings writes nothing.
    if settings != before {
        project.save_settings(&settings)?;
    }

    writeln!(out, "timeout_minutes: {}", settings.timeout_minutes)?;
    writeln!(out, "day: {}", settings.day.as_str())?;
    writeln!(out, "tz: {}", settings.tz)?;
    writeln!(
        out,
        "data_end: {}",
        settings
            .data_end_ms
            .map_or_else(|| "auto (latest imported)".to_owned(), format_utc)
    )?;
    writeln!(out, "currency: {}", settings.currency)?;
    writeln!(
        out,
        "exclude_events: {}",
        settings.excluded_events.join(",")
    )?;
    Ok(())
}

fn report(path: &Path, request: &ReportRequest, format: &str, out: &mut dyn Write) -> Result<()> {
    let project = open_existing(path)?;
    let dataset = project.load_dataset()?;
    let prepared = Prepared::new(&dataset);
    let report = metrics::report(&prepared, request);
    if format == "csv" {
        write_csv(&report, request, out)
    } else {
        let value = report_json(&dataset, &report, request);
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
        Ok(())
    }
}

/// The JSON object of CLI.md.
pub fn report_json(dataset: &Dataset, report: &Report, request: &ReportRequest) -> Value {
    let settings = &dataset.settings;
    let groups: Vec<Value> = report
        .groups
        .iter()
        .map(|g| group_json(g, request))
        .collect();
    json!({
        "settings": {
            "day": settings.day.as_str(),
            "tz": settings.tz,
            "timeout_minutes": settings.timeout_minutes,
            "data_end": dataset.data_end_ms().map(format_utc),
            "currency": settings.currency,
        },
        "groups": groups,
    })
}

fn group_json(group: &GroupMetrics, request: &ReportRequest) -> Value {
    let by_day = |pick: fn(&metrics::DayMetrics) -> Option<f64>| -> Value {
        let map: Map<String, Value> = request
            .days
            .iter()
            .map(|&day| (day.to_string(), json!(group.day(day).and_then(pick))))
            .collect();
        Value::Object(map)
    };
    let mut object = Map::new();
    object.insert("group".into(), json!(group.name));
    if let Some(channel) = &group.channel {
        object.insert("channel".into(), json!(channel));
    }
    if let Some(campaign) = &group.campaign {
        object.insert("campaign".into(), json!(campaign));
    }
    object.insert("installs".into(), json!(group.installs));
    object.insert("sessions".into(), json!(group.sessions));
    object.insert("sessions_per_user".into(), by_day(|d| d.sessions_per_user));
    object.insert("retention".into(), by_day(|d| d.retention));
    object.insert("time_per_user_s".into(), by_day(|d| d.time_per_user_s));
    object.insert(
        "avg_session_length_s".into(),
        json!(group.avg_session_length_s),
    );
    object.insert(
        "median_session_length_s".into(),
        json!(group.median_session_length_s),
    );
    object.insert(
        "p90_session_length_s".into(),
        json!(group.p90_session_length_s),
    );
    object.insert(
        "median_time_between_sessions_s".into(),
        json!(group.median_time_between_sessions_s),
    );
    object.insert("spend".into(), json!(group.spend));
    object.insert("cpi".into(), json!(group.cpi));
    object.insert("cpm_sessions".into(), by_day(|d| d.cpm_sessions));
    object.insert(
        "cpm_sessions_on_day".into(),
        by_day(|d| d.cpm_sessions_on_day),
    );
    Value::Object(object)
}

fn write_csv(report: &Report, request: &ReportRequest, out: &mut dyn Write) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let mut header: Vec<String> = ["group", "channel", "campaign", "installs", "sessions"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for name in ["sessions_per_user", "retention"] {
        header.extend(request.days.iter().map(|d| format!("{name}_d{d}")));
    }
    header.extend(
        [
            "avg_session_length_s",
            "median_session_length_s",
            "median_time_between_sessions_s",
            "spend",
            "cpi",
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    header.extend(request.days.iter().map(|d| format!("cpm_sessions_d{d}")));
    header.push("p90_session_length_s".to_owned());
    header.extend(request.days.iter().map(|d| format!("time_per_user_s_d{d}")));
    header.extend(
        request
            .days
            .iter()
            .map(|d| format!("cpm_sessions_on_day_d{d}")),
    );
    writer.write_record(&header)?;

    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for group in &report.groups {
        let mut row = vec![
            group.name.clone(),
            group.channel.clone().unwrap_or_default(),
            group.campaign.clone().unwrap_or_default(),
            group.installs.to_string(),
            group.sessions.to_string(),
        ];
        let day_values = |pick: fn(&metrics::DayMetrics) -> Option<f64>| {
            request
                .days
                .iter()
                .map(|&d| number(group.day(d).and_then(pick)))
                .collect::<Vec<_>>()
        };
        row.extend(day_values(|d| d.sessions_per_user));
        row.extend(day_values(|d| d.retention));
        row.extend([
            number(group.avg_session_length_s),
            number(group.median_session_length_s),
            number(group.median_time_between_sessions_s),
            number(group.spend),
            number(group.cpi),
        ]);
        row.extend(day_values(|d| d.cpm_sessions));
        row.push(number(group.p90_session_length_s));
        row.extend(day_values(|d| d.time_per_user_s));
        row.extend(day_values(|d| d.cpm_sessions_on_day));
        writer.write_record(&row)?;
    }
    writer.flush()?;
    Ok(())
}
