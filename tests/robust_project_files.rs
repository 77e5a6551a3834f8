//! Untrusted project files (issue 6, point 3; SPEC section 8).
//!
//! A valid project is built with the command line, then copies of it are altered by hand
//! with plain SQLite (or replaced by bytes that are no SQLite at all). For each, `report`,
//! `import` and `settings` must refuse with exit code 1 and one line on stderr that names
//! the file, never panic, and leave the file's bytes (and its folder) exactly as they were.
//! Objects added by hand must never run: a trigger's target table stays empty.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_cohort-explorer");
/// A refusal is quick; this only turns a hang into a failure.
const TIMEOUT: Duration = Duration::from_secs(60);

const SESSIONS: &str = "user_id,session_start,duration\n\
a1,2024-01-01 10:00:00,60\n\
a1,2024-01-02 11:00:00,120\n\
a2,2024-01-01 12:00:00,30\n";
const INSTALLS: &str = "user_id,install_time,channel\n\
a1,2024-01-01 09:00:00,facebook\n\
a2,2024-01-01 09:30:00,google\n";
/// What the commands try to import into the crafted files.
const MORE: &str = "user_id,session_start,duration\n\
b1,2024-01-03 10:00:00,60\n";

/// Runs the binary with a timeout.
fn run(args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args);
    common::finish_within(command, TIMEOUT)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sha256(path: &Path) -> String {
    let digest = Sha256::digest(fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The names of the files in a folder.
fn listing(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A folder with a valid project (`base.cohort`) and the file to import (`more.csv`).
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sessions = dir.path().join("sessions.csv");
        let installs = dir.path().join("installs.csv");
        fs::write(&sessions, SESSIONS).unwrap();
        fs::write(&installs, INSTALLS).unwrap();
        fs::write(dir.path().join("more.csv"), MORE).unwrap();
        let base = dir.path().join("base.cohort");
        for file in [&installs, &sessions] {
            let out = run(&["import", base.to_str().unwrap(), file.to_str().unwrap()]);
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A copy of the valid project, altered with plain SQLite.
    fn craft(&self, name: &str, sql: &str) -> PathBuf {
        let path = self.path(name);
        fs::copy(self.path("base.cohort"), &path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(sql).unwrap();
        drop(conn);
        path
    }

    /// A file with these bytes.
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, bytes).unwrap();
        path
    }

    /// `report`, `import` and `settings` on `project` are each refused with exit code 1,
    /// one line on stderr naming the file (and containing every one of `words`), no panic,
    /// and the file and its folder unchanged.
    fn assert_refused(&self, project: &Path, words: &[&str]) {
        let name = project.file_name().unwrap().to_str().unwrap();
        let bytes_before = sha256(project);
        let files_before = listing(self.dir.path());
        let more = self.path("more.csv");
        let p = project.to_str().unwrap();
        let commands: [Vec<&str>; 4] = [
            vec!["report", p],
            vec!["report", p, "--by", "channel", "--format", "csv"],
            vec!["import", p, more.to_str().unwrap()],
            vec!["settings", p, "--day", "calendar"],
        ];
        for args in &commands {
            let out = run(args);
            let stderr = text(&out.stderr);
            assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
            assert_eq!(
                out.status.code(),
                Some(1),
                "{args:?} should be refused with exit code 1; stdout:\n{}\nstderr:\n{stderr}",
                text(&out.stdout)
            );
            assert!(
                out.stdout.is_empty(),
                "{args:?} printed {:?}",
                text(&out.stdout)
            );
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(
                lines.len(),
                1,
                "{args:?}: one line on stderr, got:\n{stderr}"
            );
            assert!(
                lines[0].starts_with("error: ") && lines[0].contains(name),
                "{args:?}: the message should name {name}: {stderr}"
            );
            for word in words {
                assert!(
                    lines[0].contains(word),
                    "{args:?}: the message should say {word:?}: {stderr}"
                );
            }
            assert_eq!(
                sha256(project),
                bytes_before,
                "{args:?} changed the bytes of {name}"
            );
            assert_eq!(
                listing(self.dir.path()),
                files_before,
                "{args:?} left files behind"
            );
        }
    }
}

/// Counts rows of a table, opening the file with plain SQLite.
/// Session rows imported, read with plain SQLite from the chunks that hold them.
fn raw_session_rows(path: &Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row(
        "SELECT coalesce(sum(rows), 0) FROM raw_chunks WHERE kind = 'sessions'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn count(path: &Path, table: &str) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            seed.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes()[7]
        })
        .collect()
}

#[test]
fn the_valid_project_works_and_report_leaves_its_bytes_alone() {
    // The control: everything below fails because of what was crafted, not the base.
    let f = Fixture::new();
    let base = f.path("base.cohort");
    let before = sha256(&base);
    let out = run(&["report", base.to_str().unwrap(), "--by", "channel"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("facebook"));
    assert_eq!(sha256(&base), before, "report wrote to the project");
    let out = run(&[
        "import",
        base.to_str().unwrap(),
        f.path("more.csv").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(raw_session_rows(&base), 4);
}

#[test]
fn a_trigger_added_by_hand_is_refused_and_never_fires() {
    let f = Fixture::new();
    let path = f.craft(
        "trigger.cohort",
        "CREATE TABLE evil_log (what TEXT);
         CREATE TRIGGER evil AFTER INSERT ON imports
         BEGIN INSERT INTO evil_log VALUES ('fired'); DELETE FROM raw_chunks; END;",
    );
    f.assert_refused(&path, &["trigger evil"]);
    assert_eq!(count(&path, "evil_log"), 0, "the trigger fired");
    assert_eq!(raw_session_rows(&path), 3);
}

#[test]
fn a_view_added_by_hand_is_refused() {
    let f = Fixture::new();
    let path = f.craft(
        "view.cohort",
        "CREATE VIEW evil_view AS SELECT key FROM user_keys;",
    );
    f.assert_refused(&path, &["view evil_view"]);
}

#[test]
fn an_extra_table_is_refused() {
    let f = Fixture::new();
    let path = f.craft("table.cohort", "CREATE TABLE extra (a TEXT);");
    f.assert_refused(&path, &["table extra"]);
}

#[test]
fn an_extra_index_is_refused() {
    let f = Fixture::new();
    let path = f.craft(
        "index.cohort",
        "CREATE INDEX evil_index ON user_keys (abs(id));",
    );
    f.assert_refused(&path, &["index evil_index"]);
}

#[test]
fn a_table_with_an_unexpected_column_is_refused() {
    let f = Fixture::new();
    let path = f.craft(
        "column.cohort",
        "ALTER TABLE user_keys ADD COLUMN evil TEXT;",
    );
    f.assert_refused(&path, &["user_keys.evil"]);
}

#[test]
fn a_missing_table_is_refused() {
    let f = Fixture::new();
    let path = f.craft("missing.cohort", "DROP TABLE saved_views;");
    f.assert_refused(&path, &["missing", "saved_views"]);
}

#[test]
fn a_newer_schema_version_is_refused() {
    let f = Fixture::new();
    let path = f.craft("newer.cohort", "PRAGMA user_version = 99;");
    f.assert_refused(&path, &["newer", "99"]);
}

#[test]
fn another_application_id_is_refused() {
    let f = Fixture::new();
    let path = f.craft("other_app.cohort", "PRAGMA application_id = 1234;");
    f.assert_refused(&path, &["not a Cohort Explorer project"]);
}

#[test]
fn a_plain_sqlite_database_of_someone_else_is_refused() {
    let f = Fixture::new();
    let path = f.path("plain.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    drop(conn);
    f.assert_refused(&path, &["not a Cohort Explorer project"]);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused() {
    let f = Fixture::new();
    let path = f.file("noise.cohort", &noise(64 * 1024, 0x5eed));
    f.assert_refused(&path, &["not a Cohort Explorer project"]);
}

#[test]
fn a_csv_given_where_the_project_belongs_is_refused_and_kept() {
    // The arguments swapped: `import sessions.csv project.cohort`.
    let f = Fixture::new();
    let path = f.file("swapped.csv", SESSIONS.as_bytes());
    f.assert_refused(&path, &["not a Cohort Explorer project"]);
    assert_eq!(fs::read_to_string(&path).unwrap(), SESSIONS);
}

#[test]
fn a_truncated_project_is_refused() {
    let f = Fixture::new();
    let bytes = fs::read(f.path("base.cohort")).unwrap();
    assert!(bytes.len() >= 8192, "the base should have several pages");
    let path = f.file("truncated.cohort", &bytes[..bytes.len() / 2]);
    f.assert_refused(&path, &[]);
}

#[test]
fn a_project_cut_inside_its_header_is_refused() {
    let f = Fixture::new();
    let bytes = fs::read(f.path("base.cohort")).unwrap();
    let path = f.file("header_only.cohort", &bytes[..60]);
    f.assert_refused(&path, &[]);
}

#[test]
fn a_zero_byte_file_is_refused() {
    let f = Fixture::new();
    let path = f.file("zero.cohort", b"");
    f.assert_refused(&path, &["empty"]);
}

#[test]
fn a_row_with_a_five_megabyte_value_works_or_is_refused_cleanly() {
    let f = Fixture::new();
    let path = f.craft(
        "huge.cohort",
        "UPDATE user_keys SET key = printf('%.*c', 5000000, 'x') WHERE key = 'a1';",
    );
    let before = sha256(&path);
    let p = path.to_str().unwrap();
    for args in [
        vec!["report", p, "--by", "channel", "--format", "csv"],
        vec!["report", p, "--by", "campaign"],
    ] {
        let started = Instant::now();
        let out = run(&args);
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
        if out.status.success() {
            // The 5 MB channel is a group of its own; a2 stays in google.
            let stdout = text(&out.stdout);
            assert!(stdout.contains("google"), "{stdout:.300}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{stderr:.300}");
            assert!(stderr.contains("huge.cohort"), "{stderr:.300}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{args:?} is slow"
        );
        assert_eq!(sha256(&path), before, "{args:?} changed the file");
    }

    let out = run(&["import", p, f.path("more.csv").to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "import panicked:\n{stderr}");
    if out.status.success() {
        assert_eq!(raw_session_rows(&path), 4);
        // The users are rebuilt with the 5 MB key as the user a1's.
        let longest: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT max(length(key)) FROM user_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(longest, 5_000_000);
    } else {
        assert_eq!(out.status.code(), Some(1), "{stderr:.300}");
        assert!(stderr.contains("huge.cohort"), "{stderr:.300}");
        assert_eq!(sha256(&path), before, "a refused import changed the file");
    }
}

/// A project as schema version 1 wrote it, with a trigger added by hand.
fn version_1_file_with_a_trigger(path: &Path) {
    let mut conn = Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute_batch(include_str!("../src/store/migrations/0001_init.sql"))
        .unwrap();
    tx.pragma_update(None, "application_id", 0x436F_6831)
        .unwrap();
    tx.pragma_update(None, "user_version", 1).unwrap();
    tx.execute_batch(
        "CREATE TABLE evil_log (what TEXT);
         CREATE TRIGGER evil AFTER INSERT ON imports
         BEGIN INSERT INTO evil_log VALUES ('fired'); END;",
    )
    .unwrap();
    tx.commit().unwrap();
}

#[test]
fn an_older_project_with_a_trigger_is_refused_before_any_migration_writes() {
    // When this version's schema is newer than 1, opening migrates: the schema must be
    // checked (against what version 1 had) before the migration writes anything.
    let f = Fixture::new();
    let path = f.path("old_with_trigger.cohort");
    version_1_file_with_a_trigger(&path);
    f.assert_refused(&path, &["trigger evil"]);
    assert_eq!(count(&path, "evil_log"), 0, "the trigger fired");
}

// ---------------------------------------------------------------------------------------
// Objects that slip past the schema check. They do not run (triggers and views are
// disabled on the connection), but the file is opened and written although it is not
// what this version expects.
// ---------------------------------------------------------------------------------------

#[test]
fn a_trigger_the_check_does_not_see_still_never_fires() {
    let f = Fixture::new();
    let path = f.craft(
        "sqlite0.cohort",
        "CREATE TABLE sqlite0log (what TEXT);
         CREATE TRIGGER sqlite0evil AFTER INSERT ON imports
         BEGIN INSERT INTO sqlite0log VALUES ('fired'); DELETE FROM raw_chunks; END;",
    );
    let out = run(&[
        "import",
        path.to_str().unwrap(),
        f.path("more.csv").to_str().unwrap(),
    ]);
    assert!(!text(&out.stderr).contains("panicked"));
    assert_eq!(count(&path, "sqlite0log"), 0, "the trigger fired");
    // The session rows of the base are all still there (plus b1 if the import landed).
    let sessions = raw_session_rows(&path);
    assert!(sessions == 3 || sessions == 4, "raw_sessions: {sessions}");
}

#[test]
fn objects_named_like_sqlite_internals_are_refused() {
    let f = Fixture::new();
    let path = f.craft(
        "sqlite0_trigger.cohort",
        "CREATE TABLE sqlite0log (what TEXT);
         CREATE TRIGGER sqlite0evil AFTER INSERT ON imports
         BEGIN INSERT INTO sqlite0log VALUES ('fired'); END;",
    );
    f.assert_refused(&path, &["sqlite0evil"]);
    let path = f.craft(
        "sqlite0_view.cohort",
        "CREATE VIEW sqlite0view AS SELECT 1;",
    );
    f.assert_refused(&path, &["sqlite0view"]);
    let path = f.craft("sqlite0_table.cohort", "CREATE TABLE sqlitextra (a TEXT);");
    f.assert_refused(&path, &["sqlitextra"]);
}

#[test]
fn a_trigger_injected_under_a_reserved_name_is_refused() {
    let f = Fixture::new();
    let path = f.craft(
        "reserved.cohort",
        "PRAGMA writable_schema = ON;
         INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql)
         VALUES ('trigger', 'sqlite_evil', 'imports', 0,
                 'CREATE TRIGGER sqlite_evil AFTER INSERT ON imports BEGIN DELETE FROM raw_chunks; END');
         PRAGMA writable_schema = OFF;",
    );
    f.assert_refused(&path, &["sqlite_evil"]);
    assert_eq!(raw_session_rows(&path), 3);
}

#[test]
fn a_hidden_generated_column_is_refused() {
    let f = Fixture::new();
    let path = f.craft(
        "generated.cohort",
        "ALTER TABLE user_keys ADD COLUMN evil GENERATED ALWAYS AS (abs(-1)) VIRTUAL;",
    );
    f.assert_refused(&path, &["user_keys.evil"]);
}

#[test]
fn a_table_redefined_with_a_constraint_is_refused() {
    let f = Fixture::new();
    let path = f.craft(
        "constraint.cohort",
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_schema
            SET sql = replace(sql, 'imported_at    TEXT NOT NULL',
                              'imported_at    TEXT NOT NULL CHECK (length(file_name) < 0)')
          WHERE name = 'imports';
         PRAGMA writable_schema = OFF;",
    );
    let sql: String = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'imports'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(sql.contains("CHECK (length(file_name) < 0)"), "{sql}");
    f.assert_refused(&path, &["imports"]);
}
