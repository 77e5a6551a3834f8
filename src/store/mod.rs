//! The project file: one SQLite database, and the only module that names rusqlite.
//!
//! A project is opened defensively (files come from other people): SQLite's defensive
//! mode on, the schema untrusted, and the schema compared against what this version
//! creates before anything else is read. Writes happen in one transaction each.

mod built;
mod chunks;
mod load;
mod raw;
mod rebuild;
mod schema;
mod version2;
mod writer;

use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

use crate::model::{BuildStats, Dataset, DayConvention, ImportRecord, Settings};

pub use schema::SCHEMA_VERSION;
pub use writer::ImportWriter;

use raw::RawWriter;

use load::load_dataset;
use rebuild::rebuild_in;

/// Why a project could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: not a Cohort Explorer project ({reason})")]
    NotAProject { path: String, reason: String },
    #[error(
        "{path}: the project was written by a newer Cohort Explorer (schema version {found}; \
         this version reads up to {supported}); update the app to open it"
    )]
    TooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("{path}: the project's structure is not what this version expects: {reason}")]
    UnexpectedSchema { path: String, reason: String },
    #[error("{path}: {cause}")]
    Sqlite {
        path: String,
        cause: rusqlite::Error,
    },
    #[error("{path}: cancelled; the project is unchanged")]
    Cancelled { path: String },
    #[error("{path}: {what}")]
    Invalid { path: String, what: String },
    #[error("{path}: the project is read-only (read-only medium or no write permission); it can be viewed but not changed")]
    ReadOnly { path: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long a write waits for another connection's write to finish.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The largest remembered view read back: an overview with ten thousand campaigns in its
/// filters takes well under a megabyte.
const REMEMBERED_VIEW_MAX_BYTES: i64 = 16 << 20;

/// Where a project's data stood when it was read (`Project::data_version`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataVersion(i64);

/// An open project file.
pub struct Project {
    conn: Connection,
    path: PathBuf,
    /// On read-only media or without write permission: readable, never written.
    read_only: bool,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project").field("path", &self.path).finish()
    }
}

impl Project {
    /// Opens an existing project, or creates an empty one where no file exists.
    pub fn open_or_create(path: &Path) -> Result<Self> {
        if path.exists() {
            Self::open(path)
        } else {
            Self::create(path)
        }
    }

    /// Creates a new, empty project. Refuses to overwrite an existing file.
    pub fn create(path: &Path) -> Result<Self> {
        if path.exists() {
            return Err(StoreError::Invalid {
                path: path.display().to_string(),
                what: "a file already exists there".to_owned(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite(path))?;
        let mut project = Self {
            conn,
            path: path.to_owned(),
            read_only: false,
        };
        project.harden()?;
        let tx = project
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(path))?;
        schema::migrate(&tx, 0).map_err(sqlite(path))?;
        tx.commit().map_err(sqlite(path))?;
        log::info!("created project {}", path.display());
        Ok(project)
    }

    /// Opens an existing project, migrating an older schema and refusing anything else.
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let metadata = std::fs::metadata(path).map_err(|e| StoreError::Invalid {
            path: shown.clone(),
            what: format!("cannot open: {e}"),
        })?;
        if metadata.len() == 0 {
            return Err(StoreError::NotAProject {
                path: shown,
                reason: "the file is empty".to_owned(),
            });
        }

        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite(path))?;
        let mut project = Self {
            conn,
            path: path.to_owned(),
            read_only: false,
        };
        project.harden()?;

        let not_sqlite = |e: rusqlite::Error| StoreError::NotAProject {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let application_id: i64 = project
            .conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(not_sqlite)?;
        let version: i64 = project
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(not_sqlite)?;
        if application_id != schema::APPLICATION_ID {
            return Err(StoreError::NotAProject {
                path: shown,
                reason: "an SQLite file of another application".to_owned(),
            });
        }
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: shown,
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        // The structure is checked as it is, before anything is written to the file.
        schema::check(&project.conn, version).map_err(|reason| StoreError::UnexpectedSchema {
            path: shown.clone(),
            reason,
        })?;
        // SQLite opens a file it cannot write read-only; say so rather than fail later.
        project.read_only = project
            .conn
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(sqlite(path))?;
        if project.read_only && version < SCHEMA_VERSION {
            return Err(StoreError::Invalid {
                path: shown,
                what: format!(
                    "the project was written by an older version (schema {version}) and is \
                     read-only, so it cannot be upgraded; copy it to a writable folder first"
                ),
            });
        }
        if version < SCHEMA_VERSION {
            log::info!("migrating {shown} from schema {version} to {SCHEMA_VERSION}");
            let tx = project
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sqlite(path))?;
            schema::migrate(&tx, version).map_err(sqlite(path))?;
            if version < 3 {
                // Version 3 keeps rows in chunks and built users and sessions with them.
                let settings = read_settings(&tx).unwrap_or_default();
                version2::move_version_2_rows(&tx)
                    .and_then(|()| rebuild_in(&tx, &settings).map(drop))
                    .map_err(sqlite(path))?;
            }
            tx.commit().map_err(sqlite(path))?;
        }
        log::debug!("opened project {shown}");
        Ok(project)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the project can only be read (read-only medium, no write permission).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Starts a write: refused on a read-only project, IMMEDIATE so that a second writer
    /// queues for the lock (busy timeout) instead of deadlocking on an upgrade.
    fn begin_write(&mut self) -> Result<Transaction<'_>> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                path: self.path.display().to_string(),
            });
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&self.path))?;
        // Whatever this write changes, a remembered view no longer describes the data; if
        // the write is rolled back, the views stand with the data they describe.
        tx.execute("DELETE FROM view_cache", [])
            .map_err(sqlite(&self.path))?;
        Ok(tx)
    }

    /// Where the project's data stands: it changes when another connection (another
    /// window, a command-line import) commits a write. See `remember_view`.
    pub fn data_version(&self) -> Result<DataVersion> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map(DataVersion)
            .map_err(self.err())
    }

    /// A view remembered by `remember_view` since the project's last write, if any. One
    /// larger than any view we write (a file made to exhaust memory) is not read.
    pub fn remembered_view(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT data FROM view_cache WHERE key = ?1 AND length(CAST(data AS BLOB)) <= ?2",
                params![key, REMEMBERED_VIEW_MAX_BYTES],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Keeps a view worked out from the data as it stood at `seen`, so that the next
    /// opening can show it at once. Nothing is kept (`false`) when the project is
    /// read-only, another connection is writing, or one has written since `seen`: the
    /// view would describe data that is no longer there.
    pub fn remember_view(&mut self, key: &str, data: &str, seen: DataVersion) -> Result<bool> {
        if self.read_only {
            return Ok(false);
        }
        // A writer holds the lock: come back another time rather than wait for it.
        self.conn
            .busy_timeout(std::time::Duration::ZERO)
            .map_err(self.err())?;
        let kept = self.remember_view_now(key, data, seen);
        self.conn.busy_timeout(BUSY_WAIT).map_err(self.err())?;
        match kept {
            Ok(kept) => Ok(kept),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                Ok(false)
            }
            Err(e) => Err(self.err()(e)),
        }
    }

    fn remember_view_now(
        &mut self,
        key: &str,
        data: &str,
        seen: DataVersion,
    ) -> rusqlite::Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Holding the write lock, no one else can commit until this transaction ends.
        let now: i64 = tx.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if DataVersion(now) != seen {
            return Ok(false);
        }
        tx.execute(
            "INSERT OR REPLACE INTO view_cache (key, data) VALUES (?1, ?2)",
            params![key, data],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Defensive settings for files we did not write ourselves (SPEC section 8).
    fn harden(&mut self) -> Result<()> {
        let path = self.path.clone();
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
            .map_err(sqlite(&path))?;
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)
            .map_err(sqlite(&path))?;
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)
            .map_err(sqlite(&path))?;
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false)
            .map_err(sqlite(&path))?;
        // Another window or a command-line import may be writing: wait for it rather than
        // fail at once with "database is locked". Writes begin IMMEDIATE so that a waiting
        // writer queues for the lock instead of deadlocking on an upgrade.
        self.conn.busy_timeout(BUSY_WAIT).map_err(sqlite(&path))?;
        // A larger page cache makes bulk imports and rebuilds far faster; the journal
        // stays a rollback journal so that the single file is all a colleague needs.
        self.conn
            .execute_batch("PRAGMA cache_size = -65536; PRAGMA foreign_keys = OFF;")
            .map_err(sqlite(&path))?;
        Ok(())
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        sqlite(&self.path)
    }

    /// The project's settings; keys never written keep their defaults.
    pub fn settings(&self) -> Result<Settings> {
        read_settings(&self.conn).map_err(|e| match e {
            SettingsError::Sqlite(e) => self.err()(e),
            SettingsError::Invalid(what) => StoreError::Invalid {
                path: self.path.display().to_string(),
                what,
            },
        })
    }

    /// Saves settings, rebuilding sessions in the same transaction when a setting that
    /// shapes them changed (timeout, excluded events).
    pub fn save_settings(&mut self, settings: &Settings) -> Result<()> {
        self.save_settings_watched(settings, &mut |_, _| true)
    }

    /// `save_settings`, telling `watch` how far a rebuild is (rows done, of how many);
    /// when `watch` answers false, nothing is saved and the result is `Cancelled`.
    pub fn save_settings_watched(
        &mut self,
        settings: &Settings,
        watch: &mut dyn FnMut(u64, u64) -> bool,
    ) -> Result<()> {
        let before = self.settings()?;
        let needs_rebuild = before.timeout_minutes != settings.timeout_minutes
            || before.excluded_events != settings.excluded_events;

        let path = self.path.clone();
        let tx = self.begin_write()?;
        write_settings(&tx, settings).map_err(sqlite(&path))?;
        if needs_rebuild
            && rebuild::rebuild_watched(&tx, settings, watch)
                .map_err(sqlite(&path))?
                .is_none()
        {
            log::info!("settings of {} not saved: cancelled", path.display());
            return Err(StoreError::Cancelled {
                path: path.display().to_string(),
            });
        }
        tx.commit().map_err(sqlite(&path))?;
        log::info!(
            "saved settings of {}{}",
            path.display(),
            if needs_rebuild {
                " and rebuilt sessions"
            } else {
                ""
            }
        );
        Ok(())
    }

    /// The import of a file with this SHA-256, if one was imported before.
    pub fn import_with_sha(&self, sha256: &str) -> Result<Option<ImportRecord>> {
        let id: Option<i64> = self
            .conn
            .query_row("SELECT id FROM imports WHERE sha256 = ?1", [sha256], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())?;
        match id {
            Some(id) => Ok(self.imports()?.into_iter().find(|r| r.id == id)),
            None => Ok(None),
        }
    }

    /// The import log, oldest first.
    pub fn imports(&self) -> Result<Vec<ImportRecord>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, file_name, file_path, size_bytes, sha256, kind, preset, mapping,
                        time_zone, duration_unit, on_bad_rows, rows_read, rows_accepted,
                        rows_rejected, rejected_by_reason, rejected_examples, notes, imported_at,
                        rows_ignored, ignored_by_reason
                 FROM imports ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ImportRecord {
                    id: r.get(0)?,
                    file_name: r.get(1)?,
                    file_path: r.get(2)?,
                    size_bytes: r.get::<_, i64>(3)?.try_into().unwrap_or(0),
                    sha256: r.get(4)?,
                    kind: r.get(5)?,
                    preset: r.get(6)?,
                    mapping: json_or_default(&r.get::<_, String>(7)?),
                    time_zone: r.get(8)?,
                    duration_unit: r.get(9)?,
                    on_bad_rows: r.get(10)?,
                    rows_read: r.get::<_, i64>(11)?.try_into().unwrap_or(0),
                    rows_accepted: r.get::<_, i64>(12)?.try_into().unwrap_or(0),
                    rows_rejected: r.get::<_, i64>(13)?.try_into().unwrap_or(0),
                    rejected_by_reason: json_or_default(&r.get::<_, String>(14)?),
                    rejected_examples: json_or_default(&r.get::<_, String>(15)?),
                    notes: json_or_default(&r.get::<_, String>(16)?),
                    imported_at: r.get(17)?,
                    rows_ignored: r.get::<_, i64>(18)?.try_into().unwrap_or(0),
                    ignored_by_reason: json_or_default(&r.get::<_, String>(19)?),
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())
    }

    /// Starts an import: everything written through the returned writer lands together
    /// when it is finished, or not at all when it is dropped.
    pub fn begin_import(&mut self, record: &ImportRecord) -> Result<ImportWriter<'_>> {
        let path = self.path.clone();
        let tx = self.begin_write()?;
        tx.execute(
            "INSERT INTO imports (file_name, file_path, size_bytes, sha256, kind, preset, mapping,
                time_zone, duration_unit, on_bad_rows, rows_read, rows_accepted, rows_rejected,
                rejected_by_reason, rejected_examples, notes, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 0, 0, '{}', '[]', '[]', ?11)",
            params![
                record.file_name,
                record.file_path,
                i64::try_from(record.size_bytes).unwrap_or(i64::MAX),
                record.sha256,
                record.kind,
                record.preset,
                to_json(&record.mapping),
                record.time_zone,
                record.duration_unit,
                record.on_bad_rows,
                record.imported_at,
            ],
        )
        .map_err(sqlite(&path))?;
        let import_id = tx.last_insert_rowid();
        let raw = RawWriter::new(&tx, import_id).map_err(sqlite(&path))?;
        Ok(ImportWriter {
            tx,
            import_id,
            path,
            raw,
        })
    }

    /// Takes one import out of the project: its rows and its log entry go, users and
    /// sessions are rebuilt, all in one transaction. The file can then be imported again
    /// (with other options, say).
    pub fn remove_import(&mut self, id: i64) -> Result<BuildStats> {
        let settings = self.settings()?;
        let path = self.path.clone();
        let tx = self.begin_write()?;
        for table in ["raw_chunks", "spend", "rates", "lookups"] {
            // The table names are ours, not the file's.
            tx.execute(&format!("DELETE FROM {table} WHERE import_id = ?1"), [id])
                .map_err(sqlite(&path))?;
        }
        let removed = tx
            .execute("DELETE FROM imports WHERE id = ?1", [id])
            .map_err(sqlite(&path))?;
        if removed == 0 {
            return Err(StoreError::Invalid {
                path: path.display().to_string(),
                what: format!("there is no import {id}"),
            });
        }
        let stats = rebuild_in(&tx, &settings).map_err(sqlite(&path))?;
        tx.commit().map_err(sqlite(&path))?;
        log::info!("removed import {id} from {}", path.display());
        Ok(stats)
    }

    /// Rebuilds users and sessions from the raw rows with the current settings.
    pub fn rebuild(&mut self) -> Result<BuildStats> {
        let settings = self.settings()?;
        let path = self.path.clone();
        let tx = self.begin_write()?;
        let stats = rebuild_in(&tx, &settings).map_err(sqlite(&path))?;
        tx.commit().map_err(sqlite(&path))?;
        Ok(stats)
    }

    /// Loads what the metrics read: users, sessions, spend, rates and settings.
    pub fn load_dataset(&self) -> Result<Dataset> {
        // One read transaction: a write another connection commits meanwhile is seen
        // whole or not at all.
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        let settings = self.settings()?;
        let dataset = load_dataset(&tx, settings).map_err(self.err())?;
        tx.commit().map_err(self.err())?;
        Ok(dataset)
    }
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |cause| {
        if cause.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
            StoreError::NotAProject {
                path: path.display().to_string(),
                reason: "not an SQLite database".to_owned(),
            }
        } else {
            StoreError::Sqlite {
                path: path.display().to_string(),
                cause,
            }
        }
    }
}

fn line_param(line: u64) -> i64 {
    i64::try_from(line).unwrap_or(i64::MAX)
}

fn count_param(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn json_or_default<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

/// Import order of a stored row: earlier imports first, then by line.
fn seq(import_id: i64, line: i64) -> i64 {
    (import_id << 32) | (line & 0xFFFF_FFFF)
}

enum SettingsError {
    Sqlite(rusqlite::Error),
    Invalid(String),
}

fn read_settings(conn: &Connection) -> std::result::Result<Settings, SettingsError> {
    let mut stmt = conn
        .prepare("SELECT key, value FROM settings")
        .map_err(SettingsError::Sqlite)?;
    let pairs = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(SettingsError::Sqlite)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(SettingsError::Sqlite)?;

    let mut settings = Settings::default();
    for (key, value) in pairs {
        let bad =
            || SettingsError::Invalid(format!("setting {key} has an invalid value {value:?}"));
        match key.as_str() {
            "timeout_minutes" => settings.timeout_minutes = value.parse().map_err(|_| bad())?,
            "day" => settings.day = DayConvention::parse(&value).ok_or_else(bad)?,
            "tz" => {
                value.parse::<chrono_tz::Tz>().map_err(|_| bad())?;
                settings.tz = value;
            }
            "data_end_ms" => settings.data_end_ms = Some(value.parse().map_err(|_| bad())?),
            "currency" => settings.currency = value,
            "excluded_events" => {
                settings.excluded_events = serde_json::from_str(&value).map_err(|_| bad())?;
            }
            other => log::debug!("ignoring unknown setting {other}"),
        }
    }
    Ok(settings)
}

fn write_settings(tx: &Transaction<'_>, settings: &Settings) -> rusqlite::Result<()> {
    let mut put = tx.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?;
    put.execute(["timeout_minutes", &settings.timeout_minutes.to_string()])?;
    put.execute(["day", settings.day.as_str()])?;
    put.execute(["tz", &settings.tz])?;
    put.execute(["currency", &settings.currency])?;
    put.execute(["excluded_events", &to_json(&settings.excluded_events)])?;
    match settings.data_end_ms {
        Some(ms) => put.execute(["data_end_ms", &ms.to_string()])?,
        None => tx.execute("DELETE FROM settings WHERE key = 'data_end_ms'", [])?,
    };
    Ok(())
}
