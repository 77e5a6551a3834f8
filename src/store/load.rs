//! Reads the project into the shapes the session builder and the metrics use, and
//! rebuilds the derived users and sessions from the raw rows.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::chunks::{Corrupt, Decoder, Encoder, CHUNK_ROWS};
use super::raw::{self, Dictionary, RawRow, RawWriter};
use super::{json_or_default, seq};
use crate::import::CAMPAIGN_ID_PREFIX;
use crate::model::{
    AttrRow, Attributes, BuildStats, Dataset, Directory, EventRow, FileKind, RateRow, Session,
    SessionRow, SessionSource, Settings, SpendRow, User,
};
use crate::sessions::{self, BuildOptions, Ordered, UserRows};

/// Raw rows held in memory at once while rebuilding: users are built in parts of about
/// this many rows, so memory stays flat whatever the size of the project.
const PART_ROWS: u64 = 1_500_000;

/// Rebuilds the users and sessions from the raw rows, in key order.
pub(super) fn rebuild_in(
    tx: &Transaction<'_>,
    settings: &Settings,
) -> rusqlite::Result<BuildStats> {
    let directory = load_directory(tx)?;
    let keys = raw::texts(tx, "user_keys", "key")?;
    let values = raw::texts(tx, "attr_values", "value")?;
    let mut dictionary = Dictionary::attr_values(tx)?;

    // Users are numbered in key order, whatever order they were imported in.
    let mut order: Vec<u32> = (0..keys.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]));
    let mut rank = vec![0u32; keys.len()];
    for (r, &id) in order.iter().enumerate() {
        rank[id as usize] = r as u32;
    }

    // First pass: how many rows each user has, and the last moment in the data.
    let mut rows_of = vec![0u32; keys.len()];
    let mut latest_ms: Option<i64> = None;
    raw::each_raw_row(tx, |_, _, user, row| {
        if let Some(count) = rows_of.get_mut(user as usize) {
            *count += 1;
        }
        let moment = match row {
            RawRow::Session { start_ms, end_ms } => Some(end_ms.unwrap_or(start_ms)),
            RawRow::Event { time_ms, .. } => Some(time_ms),
            RawRow::User {
                time_ms,
                is_install,
                ..
            } => is_install.then_some(time_ms),
        };
        latest_ms = latest_ms.max(moment);
    })?;
    let parts = cut_into_parts(&order, &rows_of);

    tx.execute_batch("DELETE FROM built_chunks; DELETE FROM build_stats;")?;
    let options = BuildOptions::from_settings(settings);
    let mut stats = BuildStats::default();
    let mut out = BuiltWriter::default();
    for part in parts {
        let mut rows: Vec<UserRows> = part.clone().map(|_| UserRows::default()).collect();
        raw::each_raw_row(tx, |import_id, line, user, row| {
            let Some(r) = rank.get(user as usize).map(|&r| r as usize) else {
                return;
            };
            if !part.contains(&r) {
                return;
            }
            let target = &mut rows[r - part.start];
            let seq = seq(import_id, line);
            match row {
                RawRow::Session { start_ms, end_ms } => target.sessions.push(Ordered {
                    seq,
                    row: SessionRow {
                        user: String::new(),
                        start_ms,
                        end_ms,
                    },
                }),
                RawRow::Event {
                    time_ms,
                    name,
                    event_id,
                } => target.events.push(Ordered {
                    seq,
                    row: EventRow {
                        user: String::new(),
                        time_ms,
                        name: name.and_then(|n| values.get(n as usize).cloned()),
                        event_id: event_id.map(str::to_owned),
                    },
                }),
                RawRow::User {
                    time_ms,
                    is_install,
                    adds_session,
                    attrs,
                } => {
                    let mut attrs = raw::attributes(&values, attrs);
                    directory.resolve(CAMPAIGN_ID_PREFIX, &mut attrs.channel, &mut attrs.campaign);
                    target.attrs.push(Ordered {
                        seq,
                        row: AttrRow {
                            user: String::new(),
                            time_ms,
                            is_install,
                            adds_session,
                            attrs,
                        },
                    });
                }
            }
        })?;
        // A user whose every row was removed with its import is no user at all.
        let users: BTreeMap<String, UserRows> = part
            .zip(rows)
            .filter(|(_, rows)| {
                !(rows.sessions.is_empty() && rows.events.is_empty() && rows.attrs.is_empty())
            })
            .map(|(r, rows)| (keys[order[r] as usize].clone(), rows))
            .collect();
        let built = sessions::build(users, &options);
        stats.absorb(&built.stats);
        out.write(tx, &built, &mut dictionary)?;
    }

    let stats_json = serde_json::to_value(&stats).unwrap_or_default();
    let mut put = tx.prepare_cached("INSERT INTO build_stats (key, value) VALUES (?1, ?2)")?;
    if let serde_json::Value::Object(map) = stats_json {
        for (key, value) in map {
            put.execute(params![key, value.as_i64().unwrap_or(0)])?;
        }
    }
    if let Some(latest) = latest_ms {
        put.execute(params![LATEST_MS_KEY, latest])?;
    }
    log::debug!(
        "rebuilt {} users and {} sessions",
        stats.users,
        stats.sessions
    );
    Ok(stats)
}

/// The key of `build_stats` that keeps the last moment in the raw rows.
const LATEST_MS_KEY: &str = "latest_ms";

/// Consecutive ranges of users (in key order) of about `PART_ROWS` rows each.
fn cut_into_parts(order: &[u32], rows_of: &[u32]) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let (mut start, mut rows) = (0, 0u64);
    for (r, &id) in order.iter().enumerate() {
        rows += u64::from(rows_of[id as usize]);
        if rows >= PART_ROWS {
            parts.push(start..r + 1);
            (start, rows) = (r + 1, 0);
        }
    }
    if start < order.len() {
        parts.push(start..order.len());
    }
    parts
}

/// Writes built users and sessions as chunks.
#[derive(Default)]
struct BuiltWriter {
    /// Users written so far: the number of the next one.
    users: u32,
}

impl BuiltWriter {
    fn write(
        &mut self,
        tx: &Transaction<'_>,
        built: &sessions::Built,
        dictionary: &mut Dictionary,
    ) -> rusqlite::Result<()> {
        let mut e = Encoder::default();
        for user in &built.users {
            e.text(Some(&user.key));
            e.time(user.install_ms);
            e.unsigned((u64::from(user.reinstalls) << 1) | u64::from(user.install_inferred));
            let a = &user.attrs;
            for text in [
                &a.channel,
                &a.campaign,
                &a.country,
                &a.platform,
                &a.app_version,
            ] {
                e.unsigned(u64::from(dictionary.id(tx, text)?));
            }
            e.rows += 1;
        }
        put_built(tx, USERS, &mut e)?;

        let mut previous_user = 0;
        for session in &built.sessions {
            let user = self.users + session.user;
            e.unsigned(u64::from(user - previous_user));
            previous_user = user;
            e.time(session.start_ms);
            e.end(session.start_ms, session.end_ms);
            e.unsigned(session.source as u64);
            e.rows += 1;
            if e.rows >= CHUNK_ROWS {
                put_built(tx, SESSIONS, &mut e)?;
                previous_user = 0;
            }
        }
        put_built(tx, SESSIONS, &mut e)?;
        self.users += built.users.len() as u32;
        Ok(())
    }
}

const USERS: &str = "users";
const SESSIONS: &str = "sessions";

fn put_built(tx: &Transaction<'_>, kind: &str, e: &mut Encoder) -> rusqlite::Result<()> {
    if e.rows == 0 {
        return Ok(());
    }
    let (rows, bytes) = e.take();
    tx.prepare_cached("INSERT INTO built_chunks (kind, rows, data) VALUES (?1, ?2, ?3)")?
        .execute(params![kind, rows as i64, bytes])?;
    Ok(())
}

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

pub(super) fn load_dataset(conn: &Connection, settings: Settings) -> rusqlite::Result<Dataset> {
    let (users, sessions) = load_built(conn)?;

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

    let latest_ms: Option<i64> = conn
        .query_row(
            "SELECT value FROM build_stats WHERE key = ?1",
            [LATEST_MS_KEY],
            |r| r.get(0),
        )
        .optional()?;

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

/// The built users and sessions, as the last rebuild wrote them.
fn load_built(conn: &Connection) -> rusqlite::Result<(Vec<User>, Vec<Session>)> {
    let values = raw::texts(conn, "attr_values", "value")?;
    let (mut users, mut sessions) = (Vec::new(), Vec::new());
    let mut stmt = conn.prepare("SELECT kind, rows, data FROM built_chunks ORDER BY rowid")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let kind = row.get_ref(0)?.as_str()?;
        // Only a hint for the allocation: a crafted count must not reserve gigabytes.
        let count = usize::try_from(row.get::<_, i64>(1)?)
            .unwrap_or(0)
            .min(1 << 22);
        let data = row.get_ref(2)?.as_blob()?;
        let decoded = match kind {
            USERS => decode_users(data, &values, count, &mut users),
            SESSIONS => decode_sessions(data, count, &mut sessions),
            _ => Err(Corrupt),
        };
        decoded.map_err(|Corrupt| raw::corrupt("built rows that do not decode"))?;
    }
    // Sessions must name users that exist: the metrics index users by them.
    if sessions.iter().any(|s| s.user as usize >= users.len()) {
        return Err(raw::corrupt("sessions of users that do not exist"));
    }
    Ok((users, sessions))
}

fn decode_users(
    data: &[u8],
    values: &[String],
    count: usize,
    users: &mut Vec<User>,
) -> Result<(), Corrupt> {
    users.reserve(count);
    let mut d = Decoder::new(data);
    while !d.is_done() {
        let key = d.text()?.ok_or(Corrupt)?.to_owned();
        let install_ms = d.time()?;
        let flags = d.unsigned()?;
        let mut attrs = [0u32; 5];
        for slot in &mut attrs {
            *slot = d.small()?;
        }
        users.push(User {
            key,
            install_ms,
            install_inferred: flags & 1 == 1,
            reinstalls: u32::try_from(flags >> 1).map_err(|_| Corrupt)?,
            attrs: raw::attributes(values, attrs),
        });
    }
    Ok(())
}

fn decode_sessions(data: &[u8], count: usize, sessions: &mut Vec<Session>) -> Result<(), Corrupt> {
    sessions.reserve(count);
    let mut d = Decoder::new(data);
    let mut user = 0u32;
    while !d.is_done() {
        user = user.checked_add(d.small()?).ok_or(Corrupt)?;
        let start_ms = d.time()?;
        let end_ms = d.end(start_ms)?;
        let source = SessionSource::from_code(i64::from(d.small()?));
        sessions.push(Session {
            user,
            start_ms,
            end_ms,
            source,
        });
    }
    Ok(())
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
