//! Writes the rows of one import inside its transaction.

use std::path::PathBuf;

use rusqlite::{params, Transaction};

use super::raw::RawWriter;
use super::{
    count_param, line_param, read_settings, rebuild_in, sqlite, to_json, Result, SettingsError,
    StoreError,
};
use crate::model::{
    AttrRow, BuildStats, EventRow, ImportRecord, LookupRow, RateRow, SessionRow, SpendRow,
};

/// Writes the rows of one import inside its transaction.
pub struct ImportWriter<'a> {
    pub(super) tx: Transaction<'a>,
    pub(super) import_id: i64,
    pub(super) path: PathBuf,
    pub(super) raw: RawWriter,
}

impl ImportWriter<'_> {
    /// Runs one prepared insert of this import.
    fn insert(&self, sql: &str, values: impl rusqlite::Params) -> Result<()> {
        self.tx
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute(values))
            .map_err(sqlite(&self.path))?;
        Ok(())
    }

    pub fn session(&mut self, line: u64, row: &SessionRow) -> Result<()> {
        self.raw
            .session(&self.tx, line_param(line), row)
            .map_err(sqlite(&self.path))
    }

    pub fn event(&mut self, line: u64, row: &EventRow) -> Result<()> {
        self.raw
            .event(&self.tx, line_param(line), row)
            .map_err(sqlite(&self.path))
    }

    pub fn user_row(&mut self, line: u64, row: &AttrRow) -> Result<()> {
        self.raw
            .user_row(&self.tx, line_param(line), row)
            .map_err(sqlite(&self.path))
    }

    pub fn spend(&mut self, line: u64, row: &SpendRow) -> Result<()> {
        self.insert(
            "INSERT INTO spend (import_id, line, date, channel, campaign, amount, currency,
                    impressions, clicks)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                self.import_id,
                line_param(line),
                row.date.to_string(),
                row.channel,
                row.campaign,
                row.amount,
                row.currency,
                row.impressions,
                row.clicks
            ],
        )
    }

    pub fn lookup(&mut self, line: u64, row: &LookupRow) -> Result<()> {
        self.insert(
            "INSERT INTO lookups (import_id, line, kind, id, name, parent_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                self.import_id,
                line_param(line),
                row.kind.as_str(),
                row.id,
                row.name,
                row.parent_id
            ],
        )
    }

    pub fn rate(&mut self, line: u64, row: &RateRow) -> Result<()> {
        self.insert(
            "INSERT INTO rates (import_id, line, date, currency, rate)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                self.import_id,
                line_param(line),
                row.date.to_string(),
                row.currency,
                row.rate
            ],
        )
    }

    /// Records the outcome in the import log, rebuilds users and sessions, and commits.
    /// Whether another import of the project has this fingerprint.
    pub fn imported_before(&self, sha256: &str) -> Result<bool> {
        self.tx
            .query_row(
                "SELECT count(*) FROM imports WHERE sha256 = ?1 AND id <> ?2",
                params![sha256, self.import_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(sqlite(&self.path))
    }

    pub fn finish(self, record: &ImportRecord) -> Result<(i64, BuildStats)> {
        let path = self.path.clone();
        let fail = sqlite(&path);
        self.raw.finish(&self.tx).map_err(&fail)?;
        self.tx
            .execute(
                "UPDATE imports SET rows_read = ?2, rows_accepted = ?3, rows_rejected = ?4,
                    rejected_by_reason = ?5, rejected_examples = ?6, notes = ?7,
                    rows_ignored = ?8, ignored_by_reason = ?9, sha256 = ?10
                 WHERE id = ?1",
                params![
                    self.import_id,
                    count_param(record.rows_read),
                    count_param(record.rows_accepted),
                    count_param(record.rows_rejected),
                    to_json(&record.rejected_by_reason),
                    to_json(&record.rejected_examples),
                    to_json(&record.notes),
                    count_param(record.rows_ignored),
                    to_json(&record.ignored_by_reason),
                    record.sha256,
                ],
            )
            .map_err(&fail)?;
        let settings = match read_settings(&self.tx) {
            Ok(settings) => settings,
            Err(SettingsError::Sqlite(e)) => return Err(fail(e)),
            Err(SettingsError::Invalid(what)) => {
                return Err(StoreError::Invalid {
                    path: path.display().to_string(),
                    what,
                })
            }
        };
        let stats = rebuild_in(&self.tx, &settings).map_err(&fail)?;
        self.tx.commit().map_err(&fail)?;
        Ok((self.import_id, stats))
    }
}
