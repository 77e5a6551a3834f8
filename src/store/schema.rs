//! Schema versions, migrations and the check that a file has the structure we expect.

use std::collections::BTreeSet;

use rusqlite::{Connection, Transaction};

/// "Coh1" in ASCII: marks an SQLite file as a Cohort Explorer project.
pub const APPLICATION_ID: i64 = 0x436F_6831;

/// Migration N (1-based) brings a file from version N-1 to N.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_presets.sql"),
    include_str!("migrations/0003_chunks.sql"),
    include_str!("migrations/0004_view_cache.sql"),
];

/// The schema version this build writes and reads.
#[allow(clippy::cast_possible_wrap)] // a handful of migrations
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies every migration after `from`, inside the caller's transaction.
pub fn migrate(tx: &Transaction<'_>, from: i64) -> rusqlite::Result<()> {
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(from).unwrap_or(0))
    {
        log::debug!("applying migration {}", index + 1);
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// Compares every schema object of the file (tables, indexes, triggers, views, SQLite's
/// own) and its full SQL text with what the migrations up to `version` create, so that
/// nothing added or changed by hand (a trigger, a view, a constraint, a generated column)
/// is ever used. Call it before migrating: an unknown file is never written to.
pub fn check(conn: &Connection, version: i64) -> Result<(), String> {
    let reference = reference(version).map_err(|e| format!("cannot build the reference: {e}"))?;
    let expected = describe(&reference).map_err(|e| e.to_string())?;
    let found = describe(conn).map_err(|e| e.to_string())?;
    if expected == found {
        return Ok(());
    }
    let name = |item: &String| item.split('\n').next().unwrap_or_default().to_owned();
    let extra: BTreeSet<String> = found.difference(&expected).map(name).collect();
    let missing: BTreeSet<String> = expected.difference(&found).map(name).collect();
    let mut parts = Vec::new();
    for changed in extra.intersection(&missing) {
        let detail = changed
            .strip_prefix("table ")
            .map(|table| column_changes(&reference, conn, table))
            .unwrap_or_default();
        parts.push(format!("changed {changed}{detail}"));
    }
    let added: Vec<String> = extra.difference(&missing).cloned().collect();
    if !added.is_empty() {
        parts.push(format!("unexpected {}", added.join(", ")));
    }
    let gone: Vec<String> = missing.difference(&extra).cloned().collect();
    if !gone.is_empty() {
        parts.push(format!("missing {}", gone.join(", ")));
    }
    Err(parts.join("; "))
}

/// `(unexpected column users.evil)`, naming hidden and generated columns too.
fn column_changes(reference: &Connection, conn: &Connection, table: &str) -> String {
    let columns = |c: &Connection| -> BTreeSet<String> {
        c.prepare("SELECT name FROM pragma_table_xinfo(?1)")
            .and_then(|mut stmt| {
                stmt.query_map([table], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<BTreeSet<_>>>()
            })
            .unwrap_or_default()
    };
    let (want, have) = (columns(reference), columns(conn));
    let mut notes: Vec<String> = have
        .difference(&want)
        .map(|c| format!("unexpected column {table}.{c}"))
        .collect();
    notes.extend(
        want.difference(&have)
            .map(|c| format!("missing column {table}.{c}")),
    );
    if notes.is_empty() {
        " (its definition differs)".to_owned()
    } else {
        format!(" ({})", notes.join(", "))
    }
}

/// A scratch database with the schema the migrations up to `version` create.
fn reference(version: i64) -> rusqlite::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    for sql in MIGRATIONS
        .iter()
        .take(usize::try_from(version).unwrap_or(0))
    {
        conn.execute_batch(sql)?;
    }
    Ok(conn)
}

/// One item per schema object: `type name` on the first line, its SQL after it.
fn describe(conn: &Connection) -> rusqlite::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_schema")?;
    let items = stmt
        .query_map([], |r| {
            Ok(format!(
                "{} {}\n{}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?
            ))
        })?
        .collect::<rusqlite::Result<BTreeSet<_>>>()?;
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Project, StoreError};

    /// A project as version 1 wrote it: its migration alone, with one install row.
    fn version_1_file(path: &std::path::Path) {
        let mut conn = Connection::open(path).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(MIGRATIONS[0]).unwrap();
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        tx.pragma_update(None, "user_version", 1).unwrap();
        tx.execute_batch(
            "INSERT INTO imports (file_name, file_path, size_bytes, sha256, kind, mapping, time_zone,
                 on_bad_rows, rows_read, rows_accepted, rows_rejected, rejected_by_reason,
                 rejected_examples, notes, imported_at)
             VALUES ('old.csv', '/old.csv', 10, 'abc', 'installs', '{}', 'UTC', 'abort', 1, 1, 0,
                 '{}', '[]', '[]', '2024-01-01T00:00:00Z');
             INSERT INTO raw_user_rows (import_id, line, user_key, time_ms, is_install, channel,
                 campaign, country, platform, app_version)
             VALUES (1, 2, 'u1', 1704067200000, 1, 'fb', '', '', '', '');
             INSERT INTO raw_sessions (import_id, line, user_key, start_ms, end_ms)
             VALUES (1, 3, 'u1', 1704070800000, 1704071400000),
                    (1, 4, 'u2', 1704153600000, NULL);
             INSERT INTO raw_events (import_id, line, user_key, time_ms, event_name, event_id)
             VALUES (1, 5, 'u3', 1704240000000, 'open', 'e1'),
                    (1, 6, 'u3', 1704240060000, 'tap', NULL),
                    (1, 7, 'u3', 1704240060000, 'open', 'e1');",
        )
        .unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn a_version_1_project_is_migrated_on_open_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.cohort");
        version_1_file(&path);

        // Opening moves the rows into chunks and builds users and sessions from them.
        let project = Project::open(&path).unwrap();
        let dataset = project.load_dataset().unwrap();
        let keys: Vec<&str> = dataset.users.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, ["u1", "u2", "u3"]);
        assert_eq!(dataset.users[0].attrs.channel, "fb");
        // u2 and u3 have no install row: their first session is the install.
        assert!(dataset.users[1].install_inferred && dataset.users[2].install_inferred);
        // u1: 01:00-01:10 UTC; u2: one session of unknown length; u3: the two distinct
        // events 60 s apart are one session (the copy of e1 is a duplicate).
        let sessions: Vec<(u32, i64, Option<i64>)> = dataset
            .sessions
            .iter()
            .map(|s| (s.user, s.start_ms, s.end_ms()))
            .collect();
        assert_eq!(
            sessions,
            [
                (0, 1_704_070_800_000, Some(1_704_071_400_000)),
                (1, 1_704_153_600_000, None),
                (2, 1_704_240_000_000, Some(1_704_240_060_000)),
            ]
        );
        assert_eq!(dataset.stats.duplicate_events, 1);
        // The last moment of the data: u3's last event.
        assert_eq!(dataset.latest_ms, Some(1_704_240_060_000));
        let imports = project.imports().unwrap();
        assert_eq!(
            (imports[0].rows_ignored, imports[0].file_name.as_str()),
            (0, "old.csv")
        );
        drop(project);

        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let left: i64 = conn
            .query_row(
                "SELECT (SELECT count(*) FROM raw_sessions) + (SELECT count(*) FROM raw_events)
                      + (SELECT count(*) FROM raw_user_rows)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0, "version 2 rows are moved, not copied");
    }

    #[test]
    fn a_newer_project_is_refused_naming_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.cohort");
        drop(Project::create(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let error = Project::open(&path).unwrap_err();
        assert!(matches!(error, StoreError::TooNew { .. }));
        let message = error.to_string();
        assert!(
            message.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
            "{message}"
        );
        assert!(
            message.contains(&format!("reads up to {SCHEMA_VERSION}")),
            "{message}"
        );
    }
}
