//! Reads the project into the shapes the session builder and the metrics use.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension};

use super::chunks::{Corrupt, Decoder};
use super::json_or_default;
use super::raw;
use super::rebuild::{LATEST_MS_KEY, SESSIONS, USERS};
use crate::import::CAMPAIGN_ID_PREFIX;
use crate::model::{
    BuildStats, Dataset, Directory, FileKind, RateRow, Session, SessionSource, Settings, SpendRow,
    User,
};

pub(super) fn load_dataset(conn: &Connection, settings: Settings) -> rusqlite::Result<Dataset> {
    let started = std::time::Instant::now();
    let (users, sessions) = load_built(conn)?;
    log::debug!(
        "loaded {} users and {} sessions in {:.0} ms",
        users.len(),
        sessions.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );

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
    // Room for every row at once: growing a 10-million-session vector step by step
    // copies it and faults in its pages twice. A stored session takes at least 3 bytes,
    // which bounds what a crafted row count can reserve.
    let room = |kind: &str, least_bytes: i64| -> rusqlite::Result<usize> {
        let (rows, bytes): (Option<i64>, Option<i64>) = conn.query_row(
            "SELECT sum(rows), sum(length(data)) FROM built_chunks WHERE kind = ?1",
            [kind],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let rows = rows.unwrap_or(0).min(bytes.unwrap_or(0) / least_bytes);
        Ok(usize::try_from(rows).unwrap_or(0))
    };
    let (user_room, session_room) = (room(USERS, 8)?, room(SESSIONS, 3)?);
    let other_kinds: i64 = conn.query_row(
        "SELECT count(*) FROM built_chunks WHERE kind NOT IN (?1, ?2)",
        [USERS, SESSIONS],
        |r| r.get(0),
    )?;
    if other_kinds > 0 {
        return Err(raw::corrupt("built rows of an unknown kind"));
    }

    // Users and sessions decode on two cores: the users (a few strings each) on
    // `load-users`, the sessions here, straight from SQLite's pages.
    let mut user_chunks: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut stmt = conn.prepare_cached(CHUNKS_OF_KIND)?;
    let mut rows = stmt.query([USERS])?;
    while let Some(row) = rows.next()? {
        user_chunks.push((row_count_hint(row.get(0)?), row.get(1)?));
    }
    let decode_users_of = |chunks: &[(usize, Vec<u8>)]| {
        let started = std::time::Instant::now();
        let mut users = Vec::with_capacity(user_room);
        for (count, data) in chunks {
            decode_users(data, &values, *count, &mut users)?;
        }
        log::debug!("users decoded in {:?}", started.elapsed());
        Ok::<_, Corrupt>(users)
    };
    let started = std::time::Instant::now();
    let (users, sessions) = std::thread::scope(|scope| {
        let decoding = std::thread::Builder::new()
            .name("load-users".to_owned())
            .spawn_scoped(scope, || decode_users_of(&user_chunks));

        let mut sessions = Vec::with_capacity(session_room);
        let mut stmt = conn.prepare_cached(CHUNKS_OF_KIND)?;
        let mut rows = stmt.query([SESSIONS])?;
        while let Some(row) = rows.next()? {
            let count = row_count_hint(row.get(0)?);
            decode_sessions(row.get_ref(1)?.as_blob()?, count, &mut sessions)
                .map_err(|Corrupt| raw::corrupt("built sessions that do not decode"))?;
        }

        log::debug!("sessions decoded in {:?}", started.elapsed());
        let users = match decoding {
            Ok(decoding) => decoding.join().unwrap_or(Err(Corrupt)),
            // No thread to be had: this one decodes the users too.
            Err(_) => decode_users_of(&user_chunks),
        }
        .map_err(|Corrupt| raw::corrupt("built users that do not decode"))?;
        Ok::<_, rusqlite::Error>((users, sessions))
    })?;
    // Sessions must name users that exist: the metrics index users by them.
    if sessions.iter().any(|s| s.user as usize >= users.len()) {
        return Err(raw::corrupt("sessions of users that do not exist"));
    }
    Ok((users, sessions))
}

/// The built chunks of one kind, in the order they were written.
const CHUNKS_OF_KIND: &str = "SELECT rows, data FROM built_chunks WHERE kind = ?1 ORDER BY rowid";

/// A chunk's row count as a hint for reserving room: a crafted count must not reserve
/// gigabytes.
fn row_count_hint(rows: i64) -> usize {
    usize::try_from(rows).unwrap_or(0).min(1 << 22)
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
pub(super) fn load_directory(conn: &Connection) -> rusqlite::Result<Directory> {
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
