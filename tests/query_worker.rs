//! The window's query worker: opening a project shows the overview its last load worked
//! out at once, then the one this load works out, and any write to the project forgets
//! it; views worked out ahead answer as if asked first (issue #5).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use cohort_explorer::app::worker::{
    ProjectSummary, Query, Request, Response, ViewQuery, ViewResult, Worker,
};
use cohort_explorer::import::{self, ImportOptions};
use cohort_explorer::metrics::{
    self, Distributions, Filter, GroupBy, Prepared, Report, ReportRequest,
};
use cohort_explorer::store::Project;

const SESSIONS: &str = "user_id,install_time,session_start,duration,channel
u1,2024-03-01 10:00:00,2024-03-01 10:00:00,300,fb
u1,2024-03-01 10:00:00,2024-03-02 11:00:00,120,fb
u2,2024-03-01 12:00:00,2024-03-01 12:00:00,30,fb
u3,2024-03-02 09:00:00,2024-03-02 09:00:00,600,google
u3,2024-03-02 09:00:00,2024-03-04 23:30:00,100,google
u4,2024-03-20 08:00:00,2024-03-20 08:00:00,400,google
";

const MORE_SESSIONS: &str = "user_id,install_time,session_start,duration,channel
u5,2024-03-03 08:00:00,2024-03-03 08:00:00,50,tiktok
";

fn import(project: &mut Project, dir: &Path, name: &str, text: &str) {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    import::import_file(
        project,
        &file,
        &ImportOptions::default(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
}

fn fixture(dir: &Path) -> PathBuf {
    let path = dir.join("remembered.cohort");
    let mut project = Project::create(&path).unwrap();
    import(&mut project, dir, "sessions.csv", SESSIONS);
    path
}

/// A fixture project opened once, so that its overview is remembered.
fn opened_once() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture(dir.path());
    computed(open(&path));
    (dir, path)
}

/// What the worker sends for one opening, in order.
enum Seen {
    Summary(Box<ProjectSummary>),
    Overview(Report, Distributions),
}

/// Opens `path` as the window does (the load and the overview's query together) and
/// collects the responses until the project is loaded and its overview answered.
fn open(path: &Path) -> Vec<Seen> {
    let worker = Worker::start(|| {}).unwrap();
    worker.send(Request::Load(path.to_owned()));
    worker.send(Request::Query {
        generation: 1,
        query: Query {
            filter: Filter::default(),
            view: ViewQuery::Overview,
        },
    });
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut loaded = false;
    loop {
        match worker.try_recv() {
            Some(Response::Loaded(summary)) => {
                loaded |= !summary.loading;
                seen.push(Seen::Summary(summary));
            }
            Some(Response::Answer { generation, result }) => {
                assert_eq!(generation, 1);
                let ViewResult::Overview { all, distributions } = *result else {
                    panic!("the overview's query got another view's answer");
                };
                seen.push(Seen::Overview(all, distributions));
                if loaded {
                    // The overview is written down after it is shown: wait for that.
                    worker.finish();
                    return seen;
                }
            }
            Some(Response::LoadFailed { error, .. }) => panic!("the load failed: {error}"),
            None => std::thread::sleep(Duration::from_millis(5)),
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no answer");
    }
}

/// The loaded summary and the overview of a plain opening (nothing remembered).
fn computed(seen: Vec<Seen>) -> (ProjectSummary, Report, Distributions) {
    match <[Seen; 2]>::try_from(seen) {
        Ok([Seen::Summary(summary), Seen::Overview(all, distributions)]) => {
            assert!(!summary.loading);
            (*summary, all, distributions)
        }
        _ => panic!("expected the loaded project, then its overview"),
    }
}

fn same_summary(a: &ProjectSummary, b: &ProjectSummary) {
    assert_eq!(a.path, b.path);
    assert_eq!(a.settings, b.settings);
    assert_eq!(a.facets, b.facets);
    assert_eq!(a.users, b.users);
    assert_eq!(a.sessions, b.sessions);
    assert_eq!(a.data_end_ms, b.data_end_ms);
    assert_eq!(a.imports, b.imports);
    assert_eq!(a.quality, b.quality);
    assert_eq!(a.read_only, b.read_only);
}

#[test]
fn a_second_opening_shows_the_remembered_overview_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture(dir.path());

    // Nothing is remembered yet: the overview comes after the load, and is written down.
    let watcher = Project::open(&path).unwrap();
    let before = watcher.data_version().unwrap();
    let (summary, all, distributions) = computed(open(&path));
    let remembered = watcher.data_version().unwrap();
    assert_ne!(
        remembered, before,
        "the first opening remembers the overview"
    );
    assert_eq!(summary.users, 4);
    assert_eq!(all.groups[0].installs, 4);
    assert_eq!(all.groups[0].sessions, 6);

    // The next opening shows what the first worked out before loading, then loads and
    // works it out again: both equal the first opening's, to the last bit.
    let seen = open(&path);
    assert_eq!(
        watcher.data_version().unwrap(),
        remembered,
        "an opening that shows what is remembered writes nothing"
    );
    let (late, late_all, late_distributions) = computed_after_remembered(seen);
    same_summary(&late, &summary);
    assert_eq!(late_all, all);
    assert_eq!(late_distributions, distributions);
}

#[test]
fn an_import_forgets_the_remembered_overview() {
    let (dir, path) = opened_once();

    let mut project = Project::open(&path).unwrap();
    assert!(project.remembered_view("overview").unwrap().is_some());
    import(&mut project, dir.path(), "more.csv", MORE_SESSIONS);
    assert_eq!(project.remembered_view("overview").unwrap(), None);
    drop(project);

    // The opening after the import counts the new user, with nothing shown before.
    let (summary, all, _) = computed(open(&path));
    assert_eq!(summary.users, 5);
    assert_eq!(all.groups[0].installs, 5);
}

#[test]
fn a_cancelled_write_keeps_the_remembered_overview() {
    let (_dir, path) = opened_once();

    let mut project = Project::open(&path).unwrap();
    let mut settings = project.settings().unwrap();
    settings.timeout_minutes += 5;
    let cancelled = project.save_settings_watched(&settings, &mut |_, _| false);
    assert!(cancelled.is_err());
    assert!(project.remembered_view("overview").unwrap().is_some());

    project.save_settings(&settings).unwrap();
    assert_eq!(project.remembered_view("overview").unwrap(), None);
}

#[test]
fn a_view_read_before_another_connection_wrote_is_not_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture(dir.path());

    let mut reader = Project::open(&path).unwrap();
    let seen = reader.data_version().unwrap();
    let mut writer = Project::open(&path).unwrap();
    import(&mut writer, dir.path(), "more.csv", MORE_SESSIONS);

    assert!(!reader.remember_view("overview", "{}", seen).unwrap());
    assert_eq!(reader.remembered_view("overview").unwrap(), None);

    // Read again, it is.
    let seen = reader.data_version().unwrap();
    assert!(reader.remember_view("overview", "{}", seen).unwrap());
    assert_eq!(
        writer.remembered_view("overview").unwrap().as_deref(),
        Some("{}")
    );
}

#[test]
fn a_remembered_overview_of_another_version_is_not_shown() {
    let (_dir, path) = opened_once();

    let mut project = Project::open(&path).unwrap();
    let text = project.remembered_view("overview").unwrap().unwrap();
    let older = text.replacen(
        &format!("\"version\":\"{}\"", env!("CARGO_PKG_VERSION")),
        "\"version\":\"0.0.1\"",
        1,
    );
    assert_ne!(older, text, "the version is where the test expects it");
    let seen = project.data_version().unwrap();
    assert!(project.remember_view("overview", &older, seen).unwrap());
    assert!(project.remember_view("other", "not JSON", seen).unwrap());
    drop(project);
    computed(open(&path));

    // Nor one too large to be ours.
    let mut project = Project::open(&path).unwrap();
    let seen = project.data_version().unwrap();
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(17 << 20));
    assert!(project.remember_view("overview", &huge, seen).unwrap());
    assert_eq!(project.remembered_view("overview").unwrap(), None);
    drop(project);
    computed(open(&path));

    // Nor one that does not read.
    let mut project = Project::open(&path).unwrap();
    let seen = project.data_version().unwrap();
    assert!(project
        .remember_view("overview", "{\"version\":", seen)
        .unwrap());
    drop(project);
    computed(open(&path));
}

#[test]
fn showing_the_settings_forgets_nothing() {
    let (_dir, path) = opened_once();

    // Showing the settings changes nothing, not even the file's bytes.
    let bytes = std::fs::read(&path).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cohort-explorer"))
        .args(["settings".as_ref(), path.as_os_str()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    computed_after_remembered(open(&path));
}

/// The loaded summary and overview of an opening that showed the remembered ones first,
/// checking that both overviews agree.
fn computed_after_remembered(seen: Vec<Seen>) -> (ProjectSummary, Report, Distributions) {
    match <[Seen; 4]>::try_from(seen) {
        Ok(
            [Seen::Summary(early), Seen::Overview(early_all, early_distributions), Seen::Summary(late), Seen::Overview(all, distributions)],
        ) => {
            assert!(early.loading && !late.loading);
            same_summary(&early, &late);
            assert_eq!(early_all, all);
            assert_eq!(early_distributions, distributions);
            (*late, all, distributions)
        }
        _ => panic!("expected the remembered summary and overview, then the loaded ones"),
    }
}

#[test]
fn views_worked_out_ahead_answer_as_if_asked_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture(dir.path());
    let dataset = Project::open(&path).unwrap().load_dataset().unwrap();

    let worker = Worker::start(|| {}).unwrap();
    worker.send(Request::Load(path.clone()));
    // Time for the worker to work Channels and Campaigns out while nothing is asked.
    std::thread::sleep(Duration::from_millis(500));
    for (generation, by) in [(1, GroupBy::Channel), (2, GroupBy::Campaign)] {
        worker.send(Request::Query {
            generation,
            query: Query {
                filter: Filter::default(),
                view: ViewQuery::Groups { by },
            },
        });
        let started = Instant::now();
        let report = loop {
            match worker.try_recv() {
                Some(Response::Answer { result, .. }) => match *result {
                    ViewResult::Groups(report) => break report,
                    _ => panic!("the Groups query got another view's answer"),
                },
                Some(_) => {}
                None => std::thread::sleep(Duration::from_millis(5)),
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no answer");
        };
        // A fresh preparation has counted nothing ahead.
        let fresh = metrics::report(
            &Prepared::new(&dataset),
            &ReportRequest {
                by,
                days: (0..=30).collect(),
                filter: Filter::default(),
                ..ReportRequest::default()
            },
        );
        assert_eq!(report, fresh);
        assert!(report
            .groups
            .iter()
            .any(|g| g.median_session_length_s.is_some()));
    }
}

#[test]
fn a_load_that_asks_for_another_view_still_remembers_the_overview() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture(dir.path());

    // The window reloads after a rebuild it started from the Data view: no query follows.
    let worker = Worker::start(|| {}).unwrap();
    worker.send(Request::Load(path.clone()));
    let started = Instant::now();
    let project = Project::open(&path).unwrap();
    while project.remembered_view("overview").unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the overview was not remembered"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(worker);

    // What it remembered is what an opening works out.
    let (summary, all, distributions) = computed_after_remembered(open(&path));
    assert_eq!(summary.users, 4);
    assert_eq!(all.groups[0].installs, 4);
    assert_eq!(distributions.session_length.total(), 6);
}
