//! A settings change killed in the middle of its rebuild, and two writers at once: the
//! project stays whole and readable either way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cohort-explorer");

fn cli(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// Events of `users` users, one every 20 minutes with a 45-minute gap every fourth, so a
/// shorter timeout splits sessions and the rebuild has real work to do.
fn write_events(path: &Path, users: u32, per_user: u32) {
    let mut text = String::from("user_id,event_time,event_name\n");
    for u in 0..users {
        let mut minute = 0u32;
        for e in 0..per_user {
            minute += if e % 4 == 3 { 45 } else { 20 };
            text.push_str(&format!(
                "user{u:05},2024-03-{:02} {:02}:{:02}:00,tap\n",
                1 + (minute / 1440) % 28,
                (minute / 60) % 24,
                minute % 60
            ));
        }
    }
    std::fs::write(path, text).unwrap();
}

fn integrity(project: &Path) -> String {
    let conn = rusqlite::Connection::open(project).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_settings_rebuild_killed_midway_leaves_the_project_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    write_events(&events, 4000, 40);
    let project = dir.path().join("p.cohort");
    let p = project.to_str().unwrap();
    let out = cli(&["import", p, events.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = cli(&["report", p]).stdout;

    // What the rebuild gives when it runs to the end, from a copy of the project.
    let whole = dir.path().join("whole.cohort");
    std::fs::copy(&project, &whole).unwrap();
    let w = whole.to_str().unwrap();
    let started = Instant::now();
    assert!(cli(&["settings", w, "--timeout", "40"]).status.success());
    let full_run = started.elapsed();
    let rebuilt = cli(&["report", w]).stdout;
    assert_ne!(rebuilt, before);

    // Kill `settings --timeout 40` (which rebuilds 160,000 events into sessions) at
    // several moments of its run, however fast this machine; count the kills that
    // landed while it was still running.
    let mut landed = 0;
    for tenths in [1, 3, 5, 7, 9, 12] {
        let wait = full_run * tenths / 10;
        let mut child = Command::new(BIN)
            .args(["settings", p, "--timeout", "40"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(wait);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            child.wait().unwrap();
            assert_eq!(integrity(&project), "ok");
            // A kill that arrives after the commit, on the way out, finds the rebuild
            // whole: the project is as it was, or rebuilt, and never anything between.
            let now = cli(&["report", p]).stdout;
            if now == before {
                landed += 1;
                continue;
            }
            assert_eq!(now, rebuilt, "killed after {wait:?}");
        }
        // It finished: put the setting back for the next round.
        let out = cli(&["settings", p, "--timeout", "30"]);
        assert!(out.status.success());
        assert_eq!(cli(&["report", p]).stdout, before);
    }
    assert!(
        landed >= 3,
        "only {landed} kills landed during a rebuild of {full_run:?}"
    );

    // Done for real, the longer timeout merges the 45-minute gaps: fewer sessions.
    let out = cli(&["settings", p, "--timeout", "50"]);
    assert!(out.status.success());
    assert_ne!(cli(&["report", p]).stdout, before);
}

#[test]
fn two_imports_at_once_wait_for_each_other_and_both_land() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("p.cohort");
    let p = project.to_str().unwrap();
    let first = dir.path().join("first.csv");
    write_events(&first, 1500, 40);
    let second = dir.path().join("second.csv");
    std::fs::write(&second, "user_id,event_time\nother,2024-03-05 10:00:00\n").unwrap();
    let out = cli(&["import", p, second.to_str().unwrap()]);
    assert!(out.status.success());
    let seed = dir.path().join("seed.csv");
    std::fs::write(&seed, "user_id,event_time\nseed,2024-03-01 09:00:00\n").unwrap();

    // The big import holds the write lock; the small one, started meanwhile, waits.
    let big = Command::new(BIN)
        .args(["import", p, first.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let small = cli(&["import", p, seed.to_str().unwrap()]);
    let big = big.wait_with_output().unwrap();
    assert!(
        big.status.success(),
        "{}",
        String::from_utf8_lossy(&big.stderr)
    );
    assert!(
        small.status.success(),
        "{}",
        String::from_utf8_lossy(&small.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(60));

    assert_eq!(integrity(&project), "ok");
    let conn = rusqlite::Connection::open(&project).unwrap();
    let imports: i64 = conn
        .query_row("SELECT count(*) FROM imports", [], |r| r.get(0))
        .unwrap();
    let users: i64 = conn
        .query_row(
            "SELECT sum(rows) FROM built_chunks WHERE kind = 'users'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // second.csv, first.csv (1500 users) and seed.csv.
    assert_eq!((imports, users), (3, 1502));
}

#[test]
fn a_cancelled_import_stops_midway_and_lands_nothing() {
    use cohort_explorer::import::{self, ImportError, ImportOptions};
    use cohort_explorer::model::FileKind;
    use cohort_explorer::store::Project;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.csv");
    let second = dir.path().join("second.csv");
    write_events(&first, 5, 10);
    write_events(&second, 500, 100); // 50,000 rows: several progress reports
    let options = ImportOptions {
        kind: Some(FileKind::Events),
        ..ImportOptions::default()
    };
    let mut project = Project::create(&dir.path().join("p.cohort")).unwrap();
    let never = AtomicBool::new(false);
    import::import_file(&mut project, &first, &options, &never, &mut |_| {}).unwrap();
    let before = project.load_dataset().unwrap();

    // Cancelled at the first progress report, as the window's Cancel does.
    let cancel = AtomicBool::new(false);
    let mut reports = 0;
    let outcome = import::import_file(&mut project, &second, &options, &cancel, &mut |p| {
        reports += 1;
        assert!(p.rows < 50_000, "cancelled only after every row");
        cancel.store(true, Ordering::Relaxed);
    });
    assert!(
        matches!(outcome, Err(ImportError::Cancelled { .. })),
        "{outcome:?}"
    );
    assert_eq!(reports, 1);
    assert_eq!(project.imports().unwrap().len(), 1);
    assert_eq!(project.load_dataset().unwrap().sessions, before.sessions);

    // The same file imports in full afterwards: nothing of the cancelled try is left.
    import::import_file(&mut project, &second, &options, &never, &mut |_| {}).unwrap();
    // Its 500 users include the first file's five.
    assert_eq!(project.load_dataset().unwrap().users.len(), 500);
}
