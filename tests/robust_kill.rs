//! Imports are atomic under SIGKILL (issue 6, point 1; SPEC section 8).
//!
//! A project with known contents gets a large generated sessions file imported by the real
//! binary, which is killed with SIGKILL at several moments: before it printed anything,
//! after 50 ms, 300 ms and 1 s, and at fractions of the time a whole import takes (so that
//! some kills land while rows stream in and some while users and sessions are rebuilt or
//! the transaction commits). After every kill the project must open (`report` works and
//! prints exactly what it printed before), pass `PRAGMA integrity_check`, and hold exactly
//! the rows it held before; a kill that came after the commit may instead leave the whole
//! import, never a part of it. Finally the file is imported for real: it lands whole, once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cohort-explorer");
/// Rows of the big file: a debug build takes several seconds to import them.
const BIG_ROWS: u64 = 200_000;
const BIG_USERS: u64 = 10_000;
/// No single command here may take longer (a hang is a failure).
const TIMEOUT: Duration = Duration::from_secs(120);

/// The small file imported first: 3 sessions of 2 users, known to the last byte.
const SMALL: &str = "user_id,session_start,duration\n\
a1,2023-12-01 10:00:00,60\n\
a1,2023-12-02 11:00:00,120\n\
a2,2023-12-01 12:00:00,30\n";

/// Writes the big sessions file; the same bytes every run.
fn write_big(path: &Path) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    writeln!(out, "user_id,session_start,duration").unwrap();
    for i in 0..BIG_ROWS {
        let day = 1 + i % 28;
        let hour = (i / 28) % 24;
        let minute = (i / 7) % 60;
        let second = (i * 13) % 60;
        writeln!(
            out,
            "u{},2024-01-{day:02} {hour:02}:{minute:02}:{second:02},{}",
            i % BIG_USERS,
            i % 3600
        )
        .unwrap();
    }
    out.flush().unwrap();
}

/// Runs the binary to the end (with a timeout) and returns what it printed.
fn run(args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args);
    common::finish_within(command, TIMEOUT)
}

fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{args:?} failed ({}):\nstdout:\n{}\nstderr:\n{stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// What a project holds, read with plain SQLite (not through the crate).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Contents {
    raw_sessions: i64,
    raw_user_rows: i64,
    raw_events: i64,
    users: i64,
    sessions: i64,
    imports: i64,
    /// (file_name, rows_read, rows_accepted) of every import, in order.
    log: Vec<(String, i64, i64)>,
}

fn contents(path: &Path) -> Contents {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        integrity,
        vec!["ok".to_owned()],
        "{}: integrity_check",
        path.display()
    );
    let count = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    let log = conn
        .prepare("SELECT file_name, rows_read, rows_accepted FROM imports ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // Rows are kept many to a chunk; each chunk says how many it holds.
    let rows = |table: &str, kind: &str| -> i64 {
        conn.query_row(
            &format!("SELECT coalesce(sum(rows), 0) FROM {table} WHERE kind = ?1"),
            [kind],
            |r| r.get(0),
        )
        .unwrap()
    };
    Contents {
        raw_sessions: rows("raw_chunks", "sessions"),
        raw_user_rows: rows("raw_chunks", "user_rows"),
        raw_events: rows("raw_chunks", "events"),
        users: rows("built_chunks", "users"),
        sessions: rows("built_chunks", "sessions"),
        imports: count("imports"),
        log,
    }
}

fn report(project: &Path) -> String {
    run_ok(&[
        "report",
        project.to_str().unwrap(),
        "--by",
        "cohort",
        "--format",
        "json",
    ])
}

/// When to send SIGKILL.
#[derive(Clone, Copy, Debug)]
enum When {
    /// After this long.
    After(Duration),
    /// As soon as the rollback journal exists: the transaction has begun.
    JournalExists,
    /// As soon as the project file has grown by this many bytes: the commit is writing
    /// pages into it (the page cache holds the whole import until then).
    FileGrew(u64),
}

/// How one kill went.
struct Killed {
    /// The import finished before the kill came.
    finished_first: bool,
    /// The kill's condition was met (otherwise the import ended first).
    condition_met: bool,
    stdout: String,
}

/// Starts `import project big` and sends SIGKILL when `when` says.
fn import_and_kill(project: &Path, big: &Path, when: When, scratch: &Path) -> Killed {
    let out_path = scratch.join("kill.stdout");
    let err_path = scratch.join("kill.stderr");
    let size_before = fs::metadata(project).unwrap().len();
    let journal = journal_of(project);
    let mut child = Command::new(BIN)
        .args([
            "import",
            project.to_str().unwrap(),
            big.to_str().unwrap(),
            "--kind",
            "sessions",
        ])
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let condition_met = loop {
        let met = match when {
            When::After(delay) => start.elapsed() >= delay,
            When::JournalExists => journal.exists(),
            When::FileGrew(bytes) => fs::metadata(project)
                .map(|m| m.len() >= size_before + bytes)
                .unwrap_or(false),
        };
        if met {
            break true;
        }
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        assert!(start.elapsed() < TIMEOUT, "the import hangs");
        std::thread::sleep(Duration::from_micros(500));
    };
    let finished_first = !condition_met;
    if !finished_first {
        // `Child::kill` is SIGKILL on Unix: no destructor, no rollback by the process.
        child.kill().unwrap();
    }
    let status = child.wait().unwrap();
    assert!(
        status.success() || status.signal() == Some(9),
        "the import ended with {status:?} before the kill:\n{}",
        fs::read_to_string(&err_path).unwrap_or_default()
    );
    Killed {
        finished_first: finished_first || status.success(),
        condition_met,
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
    }
}

fn journal_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-journal");
    PathBuf::from(name)
}

#[test]
fn sigkill_during_import_leaves_the_project_as_it_was() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.csv");
    fs::write(&small, SMALL).unwrap();
    let big = dir.path().join("big.csv");
    write_big(&big);

    // The project with known contents.
    let base = dir.path().join("base.cohort");
    let printed = run_ok(&["import", base.to_str().unwrap(), small.to_str().unwrap()]);
    assert!(
        printed.contains("3 rows read, 3 accepted, 0 rejected"),
        "{printed}"
    );
    let before = contents(&base);
    assert_eq!(
        before,
        Contents {
            raw_sessions: 3,
            raw_user_rows: 0,
            raw_events: 0,
            users: 2,
            sessions: 3,
            imports: 1,
            log: vec![("small.csv".to_owned(), 3, 3)],
        }
    );
    let report_before = report(&base);

    let points = [
        ("before it printed anything", When::After(Duration::ZERO)),
        ("50 ms", When::After(Duration::from_millis(50))),
        ("the journal appeared", When::JournalExists),
        ("300 ms", When::After(Duration::from_millis(300))),
        ("1 s", When::After(Duration::from_secs(1))),
        ("the commit began writing the file", When::FileGrew(1)),
        ("the commit wrote 4 MB", When::FileGrew(4 << 20)),
        ("the commit wrote 12 MB", When::FileGrew(12 << 20)),
    ];
    // Projects on which the import had landed before the kill: checked against the
    // real import at the end.
    let mut landed: Vec<(&str, Contents, String)> = Vec::new();
    let mut kept_before: Vec<PathBuf> = Vec::new();
    let mut mid_transaction = 0;
    for (i, (name, when)) in points.iter().enumerate() {
        let trial = dir.path().join(format!("trial{i}.cohort"));
        fs::copy(&base, &trial).unwrap();
        let killed = import_and_kill(&trial, &big, *when, dir.path());
        let hot_journal = journal_of(&trial).exists();

        // The project opens with the app (which rolls a hot journal back) ...
        let report_now = report(&trial);
        // ... and then the file alone is a consistent project: copy it without any journal.
        let alone = dir.path().join(format!("alone{i}.cohort"));
        fs::copy(&trial, &alone).unwrap();
        let now = contents(&trial);
        assert_eq!(
            contents(&alone),
            now,
            "kill at {name}: the file alone differs"
        );

        if now == before {
            assert_eq!(report_now, report_before, "kill at {name}: report changed");
            assert!(
                killed.stdout.is_empty(),
                "kill at {name}: it printed an import summary but nothing landed:\n{}",
                killed.stdout
            );
            assert!(
                !killed.finished_first,
                "kill at {name}: finished, but nothing landed"
            );
            kept_before.push(trial);
        } else {
            // Only a kill after the commit may leave the import, and then all of it
            // (compared with the real import below).
            assert!(
                !matches!(when, When::After(d) if d.is_zero()),
                "kill at {name}: the import landed although it was killed at once"
            );
            landed.push((name, now.clone(), report_now));
        }
        if killed.condition_met && !killed.finished_first && hot_journal {
            mid_transaction += 1;
        }
        eprintln!(
            "kill at {name}: {}{}; {}",
            if killed.finished_first {
                "the import had finished"
            } else {
                "killed"
            },
            if hot_journal {
                " leaving a journal"
            } else {
                ""
            },
            if now == before {
                "project as before"
            } else {
                "import landed"
            }
        );
    }
    // The test is only worth something if kills did land inside the transaction.
    assert!(
        mid_transaction >= 3,
        "only {mid_transaction} kills came while the transaction was open"
    );

    // Now the import for real, into the project killed latest: it lands whole.
    let project = kept_before
        .pop()
        .expect("at least the immediate kill leaves the project as before");
    let printed = run_ok(&[
        "import",
        project.to_str().unwrap(),
        big.to_str().unwrap(),
        "--kind",
        "sessions",
    ]);
    assert!(
        printed.contains(&format!(
            "{BIG_ROWS} rows read, {BIG_ROWS} accepted, 0 rejected"
        )),
        "{printed}"
    );
    let after = contents(&project);
    let big_rows = i64::try_from(BIG_ROWS).unwrap();
    let mut log = before.log.clone();
    log.push(("big.csv".to_owned(), big_rows, big_rows));
    assert_eq!(
        after,
        Contents {
            raw_sessions: 3 + big_rows,
            raw_user_rows: 0,
            raw_events: 0,
            users: 2 + i64::try_from(BIG_USERS).unwrap(),
            sessions: 3 + big_rows,
            imports: 2,
            log,
        }
    );
    let report_after = report(&project);
    assert_ne!(report_after, report_before);
    for (name, contents, report) in &landed {
        assert_eq!(
            contents, &after,
            "kill at {name}: the import landed in part"
        );
        assert_eq!(report, &report_after, "kill at {name}: report differs");
    }
    // Once: the same file again changes nothing.
    let printed = run_ok(&[
        "import",
        project.to_str().unwrap(),
        big.to_str().unwrap(),
        "--kind",
        "sessions",
    ]);
    assert!(printed.contains("already imported"), "{printed}");
    assert_eq!(contents(&project), after);
    eprintln!("the whole test took {:?}", started.elapsed());
}
