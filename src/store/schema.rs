//! Schema versions, migrations and the check that a file has the structure we expect.

use std::collections::BTreeSet;

use rusqlite::{Connection, Transaction};

/// "Coh1" in ASCII: marks an SQLite file as a Cohort Explorer project.
pub const APPLICATION_ID: i64 = 0x436F_6831;

/// Migration N (1-based) brings a file from version N-1 to N.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_init.sql")];

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

/// Compares the file's tables, indexes and columns with those the migrations create, so
/// that nothing added by hand (a trigger, a view, an extra column) is ever used.
pub fn check(conn: &Connection) -> Result<(), String> {
    let expected = reference_schema().map_err(|e| format!("cannot build the reference: {e}"))?;
    let found = describe(conn).map_err(|e| e.to_string())?;
    if expected == found {
        return Ok(());
    }
    let extra: Vec<_> = found.difference(&expected).cloned().collect();
    let missing: Vec<_> = expected.difference(&found).cloned().collect();
    let mut parts = Vec::new();
    if !extra.is_empty() {
        parts.push(format!("unexpected {}", extra.join(", ")));
    }
    if !missing.is_empty() {
        parts.push(format!("missing {}", missing.join(", ")));
    }
    Err(parts.join("; "))
}

fn reference_schema() -> rusqlite::Result<BTreeSet<String>> {
    let mut conn = Connection::open_in_memory()?;
    let tx = conn.transaction()?;
    migrate(&tx, 0)?;
    tx.commit()?;
    describe(&conn)
}

/// One line per schema object and per table column, e.g. `table users`,
/// `column users.install_ms INTEGER`.
fn describe(conn: &Connection) -> rusqlite::Result<BTreeSet<String>> {
    let mut items = BTreeSet::new();
    let mut stmt = conn.prepare(
        "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    let objects = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (kind, name) in objects {
        if kind == "table" {
            let mut columns = conn.prepare("SELECT name, type FROM pragma_table_info(?1)")?;
            let described = columns
                .query_map([&name], |r| {
                    Ok(format!(
                        "column {name}.{} {}",
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            items.extend(described);
        }
        items.insert(format!("{kind} {name}"));
    }
    Ok(items)
}
