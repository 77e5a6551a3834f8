//! Checks on the real exports in `../shared/data/real`, which nobody on this team wrote.
//!
//! The intendo figures are compared with what `tests/independent/intendo_check.py`
//! prints: a standard-library Python script written separately from the Rust code,
//! straight from CLI.md's definitions, run here on the same files.

// Helpers outside #[test] functions panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use cohort_explorer::import::{
    self, DurationUnit, Field, ImportError, ImportOptions, ImportOutcome, OnBadRows,
};
use cohort_explorer::metrics::{self, GroupBy, Prepared, ReportRequest};
use cohort_explorer::model::{DayConvention, FileKind};
use cohort_explorer::store::Project;
use serde_json::Value;

fn real(path: &str) -> PathBuf {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/real")
        .join(path);
    assert!(
        full.exists(),
        "{} is missing: the real exports live in ../shared/data/real beside the clone",
        full.display()
    );
    full
}

fn import(
    project: &mut Project,
    file: &Path,
    options: &ImportOptions,
) -> Result<ImportOutcome, ImportError> {
    import::import_file(project, file, options, &AtomicBool::new(false), &mut |_| {})
}

fn intendo_users_options() -> ImportOptions {
    ImportOptions {
        kind: Some(FileKind::Installs),
        map: vec![
            (Field::InstallTime, "first_login".to_owned()),
            (Field::Channel, "acquisition".to_owned()),
        ],
        ..ImportOptions::default()
    }
}

fn intendo_sessions_options() -> ImportOptions {
    ImportOptions {
        kind: Some(FileKind::Sessions),
        duration_unit: DurationUnit::Minutes,
        ..ImportOptions::default()
    }
}

fn intendo_project(dir: &Path) -> Project {
    let mut project = Project::create(&dir.join("intendo.cohort")).unwrap();
    import(
        &mut project,
        &real("intendo_super_jetroid/user_summary_small.csv"),
        &intendo_users_options(),
    )
    .unwrap();
    import(
        &mut project,
        &real("intendo_super_jetroid/all_sessions_small.csv"),
        &intendo_sessions_options(),
    )
    .unwrap();
    project
}

fn close(actual: Option<f64>, expected: &Value, what: &str) {
    match (actual, expected.as_f64()) {
        (None, None) => {}
        (Some(a), Some(e)) => assert!(
            (a - e).abs() <= 1e-9 * e.abs().max(1.0),
            "{what}: {a} != {e}"
        ),
        (a, _) => panic!("{what}: {a:?} != {expected}"),
    }
}

/// Runs the independent Python check and returns its JSON.
fn independent_check(convention: DayConvention) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent/intendo_check.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(real("intendo_super_jetroid/all_sessions_small.csv"))
        .arg(real("intendo_super_jetroid/user_summary_small.csv"))
        .args(["--day", convention.as_str()])
        .output()
        .expect("python3 runs the independent check (.ci/run installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn compare_with_independent(project: &Project, convention: DayConvention) {
    let mut dataset = project.load_dataset().unwrap();
    dataset.settings.day = convention;
    let prepared = Prepared::new(&dataset);
    let expected = independent_check(convention);

    let by_channel = metrics::report(
        &prepared,
        &ReportRequest {
            by: GroupBy::Channel,
            ..ReportRequest::default()
        },
    );
    let all = metrics::report(&prepared, &ReportRequest::default());
    let groups: Vec<_> = all.groups.iter().chain(&by_channel.groups).collect();

    let expected_groups = expected["groups"].as_array().unwrap();
    assert_eq!(expected_groups.len(), groups.len());
    for want in expected_groups {
        let name = want["group"].as_str().unwrap();
        let got = groups
            .iter()
            .find(|g| g.name == name)
            .unwrap_or_else(|| panic!("no group {name}"));
        assert_eq!(
            Some(got.installs),
            want["installs"].as_u64(),
            "{name} installs"
        );
        assert_eq!(
            Some(got.sessions),
            want["sessions"].as_u64(),
            "{name} sessions"
        );
        for day in [0, 1, 7, 30] {
            let key = day.to_string();
            let d = got.day(day).unwrap();
            close(
                d.sessions_per_user,
                &want["sessions_per_user"][&key],
                &format!("{name} spu d{day}"),
            );
            close(
                d.retention,
                &want["retention"][&key],
                &format!("{name} retention d{day}"),
            );
        }
        close(
            got.avg_session_length_s,
            &want["avg_session_length_s"],
            &format!("{name} avg length"),
        );
        close(
            got.median_session_length_s,
            &want["median_session_length_s"],
            &format!("{name} median length"),
        );
        close(
            got.median_time_between_sessions_s,
            &want["median_time_between_sessions_s"],
            &format!("{name} median time between"),
        );
        assert_eq!(got.spend, None, "{name}: the export has no spend");
    }
}

#[test]
fn intendo_channels_match_the_independent_check_in_both_conventions() {
    let dir = tempfile::tempdir().unwrap();
    let project = intendo_project(dir.path());

    let dataset = project.load_dataset().unwrap();
    let report = metrics::report(
        &Prepared::new(&dataset),
        &ReportRequest {
            by: GroupBy::Channel,
            ..ReportRequest::default()
        },
    );
    let installs: Vec<(&str, u64)> = report
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.installs))
        .collect();
    assert_eq!(
        installs,
        vec![
            ("organic", 687),
            ("google", 183),
            ("facebook", 123),
            ("other_campaign", 116),
            ("apple", 62),
            ("crosspromo", 60)
        ]
    );
    assert_eq!(
        report.groups.iter().map(|g| g.sessions).sum::<u64>(),
        61_465
    );
    // The latest session ends 16 min 32 s after midnight (checked by the script too).
    assert_eq!(
        dataset
            .data_end_ms()
            .map(cohort_explorer::time::format_utc)
            .as_deref(),
        Some("2016-01-01T00:16:32Z")
    );

    compare_with_independent(&project, DayConvention::Window);
    compare_with_independent(&project, DayConvention::Calendar);
}

#[test]
fn importing_the_same_export_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut project = intendo_project(dir.path());
    let again = import(
        &mut project,
        &real("intendo_super_jetroid/all_sessions_small.csv"),
        &intendo_sessions_options(),
    )
    .unwrap();
    assert!(matches!(again, ImportOutcome::AlreadyImported(_)));
    assert_eq!(project.load_dataset().unwrap().sessions.len(), 61_465);
    assert_eq!(project.imports().unwrap().len(), 2);
}

#[test]
fn faulty_sessions_are_refused_whole_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut project = intendo_project(dir.path());
    let before = project.load_dataset().unwrap();

    let error = import(
        &mut project,
        &real("intendo_super_jetroid/all_sessions_small_faulty.csv"),
        &intendo_sessions_options(),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("all_sessions_small_faulty.csv, line "),
        "{message}"
    );
    assert!(matches!(error, ImportError::BadRow { .. }));

    let after = project.load_dataset().unwrap();
    assert_eq!(after.sessions.len(), before.sessions.len());
    assert_eq!(after.users.len(), before.users.len());
    assert_eq!(project.imports().unwrap().len(), 2);
}

#[test]
fn faulty_exports_with_skip_account_for_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut project = Project::create(&dir.path().join("faulty.cohort")).unwrap();
    let skip = |mut options: ImportOptions| {
        options.on_bad_rows = OnBadRows::Skip;
        options
    };

    let users = import(
        &mut project,
        &real("intendo_super_jetroid/user_summary_small_faulty.csv"),
        &skip(intendo_users_options()),
    )
    .unwrap();
    let ImportOutcome::Imported { record, .. } = users else {
        panic!("not imported")
    };
    assert_eq!(record.rows_read, 1231);
    assert_eq!(
        record.rows_accepted + record.rows_rejected,
        record.rows_read
    );

    let sessions = import(
        &mut project,
        &real("intendo_super_jetroid/all_sessions_small_faulty.csv"),
        &skip(intendo_sessions_options()),
    )
    .unwrap();
    let ImportOutcome::Imported { record, .. } = sessions else {
        panic!("not imported")
    };
    // SOURCE.md: 61,470 rows, 615 of them without a player id (the 5 empty rows among them).
    assert_eq!(record.rows_read, 61_470);
    assert_eq!(
        record.rows_accepted + record.rows_rejected,
        record.rows_read
    );
    // The 5 completely empty rows are told apart from the 610 with only the id missing.
    assert_eq!(record.rejected_by_reason.get("missing user id"), Some(&610));
    assert_eq!(record.rejected_by_reason.get("empty row"), Some(&5));
    assert!(record.rejected_examples.iter().all(|e| e.line >= 2));

    // The rejected rows are in the log of the project, for the data-quality report.
    let dataset = project.load_dataset().unwrap();
    let quality = metrics::quality(&Prepared::new(&dataset));
    assert_eq!(
        quality.rejected_by_reason.values().sum::<u64>(),
        record.rows_rejected + {
            let users_log = &project.imports().unwrap()[0];
            users_log.rows_rejected
        }
    );
}

#[test]
fn retentioneering_events_import_from_gzip_and_become_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let mut project = Project::create(&dir.path().join("ecom.cohort")).unwrap();
    let outcome = import(
        &mut project,
        &real("retentioneering_ecom/ecom.csv.gz"),
        &ImportOptions::default(),
    )
    .unwrap();
    let ImportOutcome::Imported { record, stats } = outcome else {
        panic!("not imported")
    };
    assert_eq!(record.kind, "events");
    assert_eq!(record.rows_read, 31_106);
    assert_eq!(record.rows_rejected, 0);
    assert_eq!(
        record.mapping.get("channel").map(String::as_str),
        Some("acquisition_channel")
    );
    // SOURCE.md: 600 users and 30 exact duplicate rows.
    assert_eq!(stats.users, 600);
    assert_eq!(stats.duplicate_events, 30);
    assert_eq!(stats.inferred_installs, 600);
}

/// Our sessions (30-minute timeout) against the file's own `session_id` column: the same
/// partition of every user's events. There is no difference to explain: the file's
/// generator also splits at gaps over 30 minutes. Sessions up to 66 minutes long exist in
/// both, since only the gaps between events decide, not a session's total length.
#[test]
fn retentioneering_sessions_match_the_files_session_ids() {
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::Read as _;

    let dir = tempfile::tempdir().unwrap();
    let mut project = Project::create(&dir.path().join("ecom.cohort")).unwrap();
    import(
        &mut project,
        &real("retentioneering_ecom/ecom.csv.gz"),
        &ImportOptions::default(),
    )
    .unwrap();
    let dataset = project.load_dataset().unwrap();

    // The file read separately: each session_id's first event per user.
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(real("retentioneering_ecom/ecom.csv.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut first_event: BTreeMap<(String, String), String> = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        let key = (record[0].to_owned(), record[1].to_owned());
        let time = record[3].to_owned();
        first_event
            .entry(key)
            .and_modify(|t| {
                if time < *t {
                    t.clone_from(&time);
                }
            })
            .or_insert(time);
    }
    let theirs: BTreeSet<(String, String)> = first_event
        .into_iter()
        .map(|((user, _), time)| (user, time.replace(' ', "T") + "Z"))
        .collect();
    let ours: BTreeSet<(String, String)> = dataset
        .sessions
        .iter()
        .map(|s| {
            let user = dataset.users[s.user as usize].key.clone();
            (user, cohort_explorer::time::format_utc(s.start_ms))
        })
        .collect();
    assert_eq!(theirs.len(), 3_605, "SOURCE.md: 3,605 sessions");
    assert_eq!(
        ours.len(),
        dataset.sessions.len(),
        "no two sessions share a start"
    );
    assert_eq!(ours, theirs);
}

/// An import read with the wrong duration unit is taken out and the file read again.
#[test]
fn an_import_can_be_removed_and_read_again_with_other_options() {
    let dir = tempfile::tempdir().unwrap();
    let mut project = Project::create(&dir.path().join("redo.cohort")).unwrap();
    let sessions = real("intendo_super_jetroid/all_sessions_small.csv");
    let seconds = ImportOptions {
        kind: Some(FileKind::Sessions),
        ..ImportOptions::default()
    };
    let ImportOutcome::Imported { record, .. } = import(&mut project, &sessions, &seconds).unwrap()
    else {
        panic!("not imported")
    };
    // Read as seconds, the file's first session (YMKOHGVFZWLJ836, 12.8 min) is 12.8 s long.
    let first_length = |p: &Project| {
        let data = p.load_dataset().unwrap();
        let user = data
            .users
            .iter()
            .position(|u| u.key == "YMKOHGVFZWLJ836")
            .unwrap();
        data.sessions
            .iter()
            .find(|s| s.user as usize == user)
            .and_then(cohort_explorer::model::Session::length_ms)
    };
    assert_eq!(first_length(&project), Some(12_800));

    let stats = project.remove_import(record.id).unwrap();
    assert_eq!((stats.users, stats.sessions), (0, 0));
    assert!(project.imports().unwrap().is_empty());

    import(&mut project, &sessions, &intendo_sessions_options()).unwrap();
    assert_eq!(first_length(&project), Some(768_000));
    assert_eq!(project.load_dataset().unwrap().sessions.len(), 61_465);
    assert!(project.remove_import(999).is_err());
}
