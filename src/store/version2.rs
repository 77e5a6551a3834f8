//! Migration 3: the row tables of a version 2 project move into chunks.

use rusqlite::Transaction;

use super::raw::RawWriter;
use crate::model::{AttrRow, Attributes, EventRow, SessionRow};

/// Moves the rows of the version 2 tables into chunks, one import at a time.
pub(super) fn move_version_2_rows(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let imports: Vec<i64> = tx
        .prepare("SELECT id FROM imports ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for import_id in imports {
        let mut writer = RawWriter::new(tx, import_id)?;
        let mut stmt = tx.prepare(
            "SELECT line, user_key, start_ms, end_ms FROM raw_sessions
             WHERE import_id = ?1 ORDER BY line",
        )?;
        let mut rows = stmt.query([import_id])?;
        while let Some(r) = rows.next()? {
            let row = SessionRow {
                user: r.get(1)?,
                start_ms: r.get(2)?,
                end_ms: r.get(3)?,
            };
            writer.session(tx, r.get(0)?, &row)?;
        }
        let mut stmt = tx.prepare(
            "SELECT line, user_key, time_ms, event_name, event_id FROM raw_events
             WHERE import_id = ?1 ORDER BY line",
        )?;
        let mut rows = stmt.query([import_id])?;
        while let Some(r) = rows.next()? {
            let row = EventRow {
                user: r.get(1)?,
                time_ms: r.get(2)?,
                name: r.get(3)?,
                event_id: r.get(4)?,
            };
            writer.event(tx, r.get(0)?, &row)?;
        }
        let mut stmt = tx.prepare(
            "SELECT line, user_key, time_ms, is_install, channel, campaign, country, platform,
                    app_version, adds_session
             FROM raw_user_rows WHERE import_id = ?1 ORDER BY line",
        )?;
        let mut rows = stmt.query([import_id])?;
        while let Some(r) = rows.next()? {
            let row = AttrRow {
                user: r.get(1)?,
                time_ms: r.get(2)?,
                is_install: r.get(3)?,
                adds_session: r.get(9)?,
                attrs: Attributes {
                    channel: r.get(4)?,
                    campaign: r.get(5)?,
                    country: r.get(6)?,
                    platform: r.get(7)?,
                    app_version: r.get(8)?,
                },
            };
            writer.user_row(tx, r.get(0)?, &row)?;
        }
        writer.finish(tx)?;
    }
    tx.execute_batch("DELETE FROM raw_sessions; DELETE FROM raw_events; DELETE FROM raw_user_rows;")
}
