//! The project file: one SQLite database, and the only module that names rusqlite.
//!
//! A project is opened defensively (files come from other people): SQLite's defensive
//! mode on, the schema untrusted, and the schema compared against what this version
//! creates before anything else is read. Writes happen in one transaction each.

mod schema;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};

use crate::import::CAMPAIGN_ID_PREFIX;
use crate::model::{
    AttrRow, Attributes, BuildStats, Dataset, DayConvention, Directory, EventRow, FileKind,
    ImportRecord, LookupRow, RateRow, Session, SessionRow, SessionSource, Settings, SpendRow, User,
};
use crate::sessions::{self, BuildOptions, Ordered, UserRows};

pub use schema::SCHEMA_VERSION;

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
    #[error("{path}: {what}")]
    Invalid { path: String, what: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open project file.
pub struct Project {
    conn: Connection,
    path: PathBuf,
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
        };
        project.harden()?;
        let tx = project.conn.transaction().map_err(sqlite(path))?;
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
        if version < SCHEMA_VERSION {
            log::info!("migrating {shown} from schema {version} to {SCHEMA_VERSION}");
            let tx = project.conn.transaction().map_err(sqlite(path))?;
            schema::migrate(&tx, version).map_err(sqlite(path))?;
            tx.commit().map_err(sqlite(path))?;
        }
        schema::check(&project.conn).map_err(|reason| StoreError::UnexpectedSchema {
            path: shown.clone(),
            reason,
        })?;
        log::debug!("opened project {shown}");
        Ok(project)
    }

    pub fn path(&self) -> &Path {
        &self.path
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
        let before = self.settings()?;
        let needs_rebuild = before.timeout_minutes != settings.timeout_minutes
            || before.excluded_events != settings.excluded_events;

        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(sqlite(&path))?;
        write_settings(&tx, settings).map_err(sqlite(&path))?;
        if needs_rebuild {
            rebuild_in(&tx, settings).map_err(sqlite(&path))?;
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
        let tx = self.conn.transaction().map_err(sqlite(&path))?;
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
        Ok(ImportWriter {
            tx,
            import_id,
            path,
        })
    }

    /// Rebuilds users and sessions from the raw rows with the current settings.
    pub fn rebuild(&mut self) -> Result<BuildStats> {
        let settings = self.settings()?;
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(sqlite(&path))?;
        let stats = rebuild_in(&tx, &settings).map_err(sqlite(&path))?;
        tx.commit().map_err(sqlite(&path))?;
        Ok(stats)
    }

    /// Loads what the metrics read: users, sessions, spend, rates and settings.
    pub fn load_dataset(&self) -> Result<Dataset> {
        let settings = self.settings()?;
        load_dataset(&self.conn, settings).map_err(self.err())
    }
}

/// Writes the rows of one import inside its transaction.
pub struct ImportWriter<'a> {
    tx: Transaction<'a>,
    import_id: i64,
    path: PathBuf,
}

impl ImportWriter<'_> {
    pub fn session(&mut self, line: u64, row: &SessionRow) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO raw_sessions (import_id, line, user_key, start_ms, end_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.import_id,
                    line_param(line),
                    row.user,
                    row.start_ms,
                    row.end_ms
                ])
            })
            .map_err(sqlite(&self.path))?;
        Ok(())
    }

    pub fn event(&mut self, line: u64, row: &EventRow) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO raw_events (import_id, line, user_key, time_ms, event_name, event_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.import_id,
                    line_param(line),
                    row.user,
                    row.time_ms,
                    row.name,
                    row.event_id
                ])
            })
            .map_err(sqlite(&self.path))?;
        Ok(())
    }

    pub fn user_row(&mut self, line: u64, row: &AttrRow) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO raw_user_rows (import_id, line, user_key, time_ms, is_install,
                    channel, campaign, country, platform, app_version, adds_session)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.import_id,
                    line_param(line),
                    row.user,
                    row.time_ms,
                    row.is_install,
                    row.attrs.channel,
                    row.attrs.campaign,
                    row.attrs.country,
                    row.attrs.platform,
                    row.attrs.app_version,
                    row.adds_session
                ])
            })
            .map_err(sqlite(&self.path))?;
        Ok(())
    }

    pub fn spend(&mut self, line: u64, row: &SpendRow) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO spend (import_id, line, date, channel, campaign, amount, currency,
                    impressions, clicks)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.import_id,
                    line_param(line),
                    row.date.to_string(),
                    row.channel,
                    row.campaign,
                    row.amount,
                    row.currency,
                    row.impressions,
                    row.clicks
                ])
            })
            .map_err(sqlite(&self.path))?;
        Ok(())
    }

    pub fn lookup(&mut self, line: u64, row: &LookupRow) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO lookups (import_id, line, kind, id, name, parent_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.import_id,
                    line_param(line),
                    row.kind.as_str(),
                    row.id,
                    row.name,
                    row.parent_id
                ])
            })
            .map_err(sqlite(&self.path))?;
        Ok(())
    }

    pub fn rate(&mut self, line: u64, row: &RateRow) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO rates (import_id, line, date, currency, rate)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.import_id,
                    line_param(line),
                    row.date.to_string(),
                    row.currency,
                    row.rate
                ])
            })
            .map_err(sqlite(&self.path))?;
        Ok(())
    }

    /// Records the outcome in the import log, rebuilds users and sessions, and commits.
    pub fn finish(self, record: &ImportRecord) -> Result<(i64, BuildStats)> {
        let path = self.path.clone();
        let fail = sqlite(&path);
        self.tx
            .execute(
                "UPDATE imports SET rows_read = ?2, rows_accepted = ?3, rows_rejected = ?4,
                    rejected_by_reason = ?5, rejected_examples = ?6, notes = ?7,
                    rows_ignored = ?8, ignored_by_reason = ?9
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

/// Rebuilds the derived users and sessions tables from the raw rows.
fn rebuild_in(tx: &Transaction<'_>, settings: &Settings) -> rusqlite::Result<BuildStats> {
    let rows = load_user_rows(tx)?;
    let built = sessions::build(rows, &BuildOptions::from_settings(settings));

    tx.execute_batch("DELETE FROM sessions; DELETE FROM users; DELETE FROM build_stats;")?;

    let mut insert_user = tx.prepare_cached(
        "INSERT INTO users (id, user_key, install_ms, install_inferred, reinstalls, channel,
            campaign, country, platform, app_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for (id, user) in built.users.iter().enumerate() {
        insert_user.execute(params![
            i64::try_from(id).unwrap_or(i64::MAX),
            user.key,
            user.install_ms,
            user.install_inferred,
            user.reinstalls,
            user.attrs.channel,
            user.attrs.campaign,
            user.attrs.country,
            user.attrs.platform,
            user.attrs.app_version,
        ])?;
    }

    let mut insert_session = tx.prepare_cached(
        "INSERT INTO sessions (user_id, start_ms, end_ms, source) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for session in &built.sessions {
        insert_session.execute(params![
            session.user,
            session.start_ms,
            session.end_ms,
            session.source as i64
        ])?;
    }

    let stats_json = serde_json::to_value(&built.stats).unwrap_or_default();
    if let serde_json::Value::Object(map) = stats_json {
        let mut put = tx.prepare_cached("INSERT INTO build_stats (key, value) VALUES (?1, ?2)")?;
        for (key, value) in map {
            put.execute(params![key, value.as_i64().unwrap_or(0)])?;
        }
    }
    log::debug!(
        "rebuilt {} users and {} sessions",
        built.stats.users,
        built.stats.sessions
    );
    Ok(built.stats)
}

fn load_user_rows(conn: &Connection) -> rusqlite::Result<BTreeMap<String, UserRows>> {
    let mut rows: BTreeMap<String, UserRows> = BTreeMap::new();
    let directory = load_directory(conn)?;

    let mut stmt =
        conn.prepare("SELECT import_id, line, user_key, start_ms, end_ms FROM raw_sessions")?;
    let mut cursor = stmt.query([])?;
    while let Some(r) = cursor.next()? {
        let user: String = r.get(2)?;
        let row = SessionRow {
            user: String::new(),
            start_ms: r.get(3)?,
            end_ms: r.get(4)?,
        };
        rows.entry(user).or_default().sessions.push(Ordered {
            seq: seq(r.get(0)?, r.get(1)?),
            row,
        });
    }

    let mut stmt = conn.prepare(
        "SELECT import_id, line, user_key, time_ms, event_name, event_id FROM raw_events",
    )?;
    let mut cursor = stmt.query([])?;
    while let Some(r) = cursor.next()? {
        let user: String = r.get(2)?;
        let row = EventRow {
            user: String::new(),
            time_ms: r.get(3)?,
            name: r.get(4)?,
            event_id: r.get(5)?,
        };
        rows.entry(user).or_default().events.push(Ordered {
            seq: seq(r.get(0)?, r.get(1)?),
            row,
        });
    }

    let mut stmt = conn.prepare(
        "SELECT import_id, line, user_key, time_ms, is_install, channel, campaign, country,
                platform, app_version, adds_session
         FROM raw_user_rows",
    )?;
    let mut cursor = stmt.query([])?;
    while let Some(r) = cursor.next()? {
        let user: String = r.get(2)?;
        let mut row = AttrRow {
            user: String::new(),
            time_ms: r.get(3)?,
            is_install: r.get(4)?,
            adds_session: r.get(10)?,
            attrs: Attributes {
                channel: r.get(5)?,
                campaign: r.get(6)?,
                country: r.get(7)?,
                platform: r.get(8)?,
                app_version: r.get(9)?,
            },
        };
        directory.resolve(
            CAMPAIGN_ID_PREFIX,
            &mut row.attrs.channel,
            &mut row.attrs.campaign,
        );
        rows.entry(user).or_default().attrs.push(Ordered {
            seq: seq(r.get(0)?, r.get(1)?),
            row,
        });
    }
    Ok(rows)
}

fn load_dataset(conn: &Connection, settings: Settings) -> rusqlite::Result<Dataset> {
    let mut stmt = conn.prepare(
        "SELECT user_key, install_ms, install_inferred, reinstalls, channel, campaign, country,
                platform, app_version
         FROM users ORDER BY id",
    )?;
    let users = stmt
        .query_map([], |r| {
            Ok(User {
                key: r.get(0)?,
                install_ms: r.get(1)?,
                install_inferred: r.get(2)?,
                reinstalls: r.get(3)?,
                attrs: Attributes {
                    channel: r.get(4)?,
                    campaign: r.get(5)?,
                    country: r.get(6)?,
                    platform: r.get(7)?,
                    app_version: r.get(8)?,
                },
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    // Rowid order is the order the builder wrote: by user, start, end, import order.
    let mut stmt =
        conn.prepare("SELECT user_id, start_ms, end_ms, source FROM sessions ORDER BY rowid")?;
    let sessions = stmt
        .query_map([], |r| {
            Ok(Session {
                user: r.get(0)?,
                start_ms: r.get(1)?,
                end_ms: r.get(2)?,
                source: SessionSource::from_code(r.get(3)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let directory = load_directory(conn)?;
    let mut stmt = conn.prepare(
        "SELECT date, channel, campaign, amount, currency, impressions, clicks
         FROM spend ORDER BY import_id, line",
    )?;
    let mut spend: Vec<SpendRow> = stmt
        .query_map([], |r| {
            Ok(SpendRow {
                date: parse_date(&r.get::<_, String>(0)?)?,
                channel: r.get(1)?,
                campaign: r.get(2)?,
                amount: r.get(3)?,
                currency: r.get(4)?,
                impressions: r.get(5)?,
                clicks: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for row in &mut spend {
        directory.resolve(CAMPAIGN_ID_PREFIX, &mut row.channel, &mut row.campaign);
    }

    let mut stmt =
        conn.prepare("SELECT date, currency, rate FROM rates ORDER BY import_id, line")?;
    let rates = stmt
        .query_map([], |r| {
            Ok(RateRow {
                date: parse_date(&r.get::<_, String>(0)?)?,
                currency: r.get(1)?,
                rate: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let mut stats_map = serde_json::Map::new();
    let mut stmt = conn.prepare("SELECT key, value FROM build_stats")?;
    let mut cursor = stmt.query([])?;
    while let Some(r) = cursor.next()? {
        stats_map.insert(r.get::<_, String>(0)?, r.get::<_, i64>(1)?.into());
    }
    let stats: BuildStats =
        serde_json::from_value(serde_json::Value::Object(stats_map)).unwrap_or_default();

    let latest_ms: Option<i64> = conn.query_row(
        "SELECT max(t) FROM (
             SELECT max(coalesce(end_ms, start_ms)) AS t FROM raw_sessions
             UNION ALL SELECT max(time_ms) FROM raw_events
             UNION ALL SELECT max(time_ms) FROM raw_user_rows WHERE is_install)",
        [],
        |r| r.get(0),
    )?;

    let mut rejected_by_reason: BTreeMap<String, u64> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT rejected_by_reason FROM imports")?;
    let mut cursor = stmt.query([])?;
    while let Some(r) = cursor.next()? {
        let counts: BTreeMap<String, u64> = json_or_default(&r.get::<_, String>(0)?);
        for (reason, count) in counts {
            *rejected_by_reason.entry(reason).or_default() += count;
        }
    }

    Ok(Dataset {
        settings,
        users,
        sessions,
        spend,
        rates,
        stats,
        latest_ms,
        rejected_by_reason,
    })
}

/// The lookup tables imported so far, later imports winning.
fn load_directory(conn: &Connection) -> rusqlite::Result<Directory> {
    let mut directory = Directory::default();
    let mut stmt =
        conn.prepare("SELECT kind, id, name, parent_id FROM lookups ORDER BY import_id, line")?;
    let mut cursor = stmt.query([])?;
    while let Some(r) = cursor.next()? {
        let kind: String = r.get(0)?;
        let (id, name): (String, String) = (r.get(1)?, r.get(2)?);
        if kind == FileKind::Campaigns.as_str() {
            directory.campaigns.insert(id, (name, r.get(3)?));
        } else {
            directory.networks.insert(id, name);
        }
    }
    Ok(directory)
}

fn parse_date(text: &str) -> rusqlite::Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}
