//! Reads the project into the shapes the session builder and the metrics use.

use std::collections::hash_map::Entry;
use std::collections::BTreeMap;
use std::sync::{mpsc, Arc};

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension};
use rustc_hash::FxHashMap;

use super::built::{LATEST_MS_KEY, SESSIONS, USERS};
use super::chunks::{Corrupt, Decoder};
use super::json_or_default;
use super::raw;
use crate::import::CAMPAIGN_ID_PREFIX;
use crate::model::{
    Attributes, BuildStats, Dataset, Directory, FileKind, RateRow, Session, SessionSource,
    Settings, SpendRow, User,
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
    let counted = stats_map.contains_key("users") && stats_map.contains_key("sessions");
    let stats: BuildStats =
        serde_json::from_value(serde_json::Value::Object(stats_map)).unwrap_or_default();
    // The last build wrote down how many users and sessions it made: chunks removed or
    // emptied by another program would otherwise give smaller numbers without a word.
    let made = |count: usize| u64::try_from(count).unwrap_or(u64::MAX);
    if counted && (made(users.len()) != stats.users || made(sessions.len()) != stats.sessions) {
        return Err(built_corrupt(&format!(
            "{} users and {} sessions, but its last build made {} and {}",
            users.len(),
            sessions.len(),
            stats.users,
            stats.sessions
        )));
    }

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

    // Users and sessions decode on two cores. `load-helper` decodes the users (a few
    // strings each) and then the last sessions, whose bytes this thread hands it before
    // decoding the first ones straight from SQLite's pages. Its share is smaller: it
    // starts with the users, and its sessions are copied once more at the end.
    let mut user_chunks: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut stmt = conn.prepare_cached(CHUNKS_OF_KIND)?;
    let mut rows = stmt.query([USERS])?;
    while let Some(row) = rows.next()? {
        user_chunks.push((row.get(0)?, row.get(1)?));
    }
    let split = session_split(conn, session_room)?;
    let decode_users_of = |chunks: &[(i64, Vec<u8>)]| {
        let started = std::time::Instant::now();
        let mut users = Vec::with_capacity(user_room);
        let mut shared = FxHashMap::default();
        for (rows, data) in chunks {
            decode_users(data, &values, *rows, &mut shared, &mut users)
                .map_err(|Corrupt| "built users that do not decode")?;
        }
        log::debug!("users decoded in {:?}", started.elapsed());
        Ok::<_, &str>(users)
    };
    let started = std::time::Instant::now();
    let (users, sessions) = std::thread::scope(|scope| {
        // Unbounded on purpose: this thread hands over all the helper's bytes (a third
        // of the sessions' share of the file) before it decodes its own, while the
        // helper is still on the users; a bounded channel would make it wait for them.
        let (hand_over, handed) = mpsc::channel::<(i64, Vec<u8>)>();
        let helper = std::thread::Builder::new()
            .name("load-helper".to_owned())
            .spawn_scoped(scope, || {
                let users = decode_users_of(&user_chunks)?;
                let mut tail = Vec::with_capacity(session_room.saturating_sub(split.rows));
                let mut last_user = None;
                for (rows, data) in handed {
                    let last = decode_sessions(&data, rows, &mut tail)
                        .map_err(|Corrupt| "built sessions that do not decode")?;
                    last_user = last_user.max(last);
                }
                Ok::<_, &str>((users, tail, last_user))
            })
            .map_err(|e| log::warn!("decoding the project on one core: {e}"))
            .ok();

        // Without a helper this thread decodes every session itself.
        let helper_from = split.rowid.filter(|_| helper.is_some());
        if let Some(from) = helper_from {
            let mut stmt = conn.prepare_cached(SESSION_CHUNKS_FROM)?;
            let mut rows = stmt.query(rusqlite::params![SESSIONS, from])?;
            while let Some(row) = rows.next()? {
                // Should the helper have stopped on bad bytes, joining it tells.
                let _ = hand_over.send((row.get(0)?, row.get(1)?));
            }
        }
        drop(hand_over);

        let mut sessions = Vec::with_capacity(session_room);
        let (mut stmt, mut rows);
        match helper_from {
            Some(from) => {
                stmt = conn.prepare_cached(SESSION_CHUNKS_BEFORE)?;
                rows = stmt.query(rusqlite::params![SESSIONS, from])?;
            }
            None => {
                stmt = conn.prepare_cached(CHUNKS_OF_KIND)?;
                rows = stmt.query([SESSIONS])?;
            }
        }
        let mut last_user = None;
        while let Some(row) = rows.next()? {
            let last = decode_sessions(row.get_ref(1)?.as_blob()?, row.get(0)?, &mut sessions)
                .map_err(|Corrupt| built_corrupt("built sessions that do not decode"))?;
            last_user = last_user.max(last);
        }

        let (users, mut tail, helper_last_user) = match helper {
            Some(helper) => helper
                .join()
                .unwrap_or(Err("users and sessions that could not be decoded")),
            None => decode_users_of(&user_chunks).map(|users| (users, Vec::new(), None)),
        }
        .map_err(built_corrupt)?;
        sessions.append(&mut tail);
        // Sessions must name users that exist: the metrics index users by them.
        if last_user.max(helper_last_user) >= Some(users.len()) {
            return Err(built_corrupt("sessions of users that do not exist"));
        }
        log::debug!("sessions decoded in {:?}", started.elapsed());
        Ok::<_, rusqlite::Error>((users, sessions))
    })?;
    Ok((users, sessions))
}

/// Damage to the built users and sessions, which a rebuild makes again from the imported
/// rows: the message says how to get one.
fn built_corrupt(what: &str) -> rusqlite::Error {
    raw::corrupt(&format!(
        "{what}; changing the session timeout rebuilds them from the imported rows"
    ))
}

/// The built chunks of one kind, in the order they were written.
const CHUNKS_OF_KIND: &str = "SELECT rows, data FROM built_chunks WHERE kind = ?1 ORDER BY rowid";
const SESSION_CHUNKS_BEFORE: &str =
    "SELECT rows, data FROM built_chunks WHERE kind = ?1 AND rowid < ?2 ORDER BY rowid";
const SESSION_CHUNKS_FROM: &str =
    "SELECT rows, data FROM built_chunks WHERE kind = ?1 AND rowid >= ?2 ORDER BY rowid";

/// Where the session chunks split between this thread and the helper.
struct Split {
    /// The helper's first chunk; `None` when it has none.
    rowid: Option<i64>,
    /// Sessions before it.
    rows: usize,
}

/// The helper's share of the sessions, at a chunk boundary: a third, since it decodes
/// the users first (a third as long as the sessions take on one core), and its sessions
/// are copied once more at the end (10 M sessions: 0.3 s on each core, then 60 ms).
fn session_split(conn: &Connection, sessions: usize) -> rusqlite::Result<Split> {
    let wanted = sessions / 3 * 2;
    let mut stmt =
        conn.prepare_cached("SELECT rowid, rows FROM built_chunks WHERE kind = ?1 ORDER BY rowid")?;
    let mut rows = stmt.query([SESSIONS])?;
    let mut before = 0usize;
    while let Some(row) = rows.next()? {
        if before >= wanted {
            return Ok(Split {
                rowid: Some(row.get(0)?),
                rows: before,
            });
        }
        before = before.saturating_add(row_count_hint(row.get(1)?));
    }
    Ok(Split {
        rowid: None,
        rows: before,
    })
}

/// A chunk's row count as a hint for reserving room: a crafted count must not reserve
/// gigabytes.
fn row_count_hint(rows: i64) -> usize {
    usize::try_from(rows).unwrap_or(0).min(1 << 22)
}

/// Decodes one chunk of users, as many as it says it holds; `shared` holds the
/// attributes met so far, by their ids.
fn decode_users(
    data: &[u8],
    values: &[String],
    rows: i64,
    shared: &mut FxHashMap<[u32; 5], Arc<Attributes>>,
    users: &mut Vec<User>,
) -> Result<(), Corrupt> {
    let before = users.len();
    users.reserve(row_count_hint(rows));
    let mut d = Decoder::new(data);
    while !d.is_done() {
        let key = d.text()?.ok_or(Corrupt)?.to_owned();
        let install_ms = d.time()?;
        let flags = d.unsigned()?;
        let mut ids = [0u32; 5];
        for slot in &mut ids {
            *slot = d.small()?;
        }
        let attrs = match shared.entry(ids) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => new.insert(Arc::new(raw::attributes(values, ids)?)),
        };
        users.push(User {
            key,
            install_ms,
            install_inferred: flags & 1 == 1,
            reinstalls: u32::try_from(flags >> 1).map_err(|_| Corrupt)?,
            attrs: Arc::clone(attrs),
        });
    }
    declared(rows, users.len() - before)
}

/// Decodes one chunk of sessions, as many as it says it holds; returns the index of the
/// last user they name, the largest (users only go up within a chunk), `None` for an
/// empty chunk.
fn decode_sessions(
    data: &[u8],
    rows: i64,
    sessions: &mut Vec<Session>,
) -> Result<Option<usize>, Corrupt> {
    sessions.reserve(row_count_hint(rows));
    let mut d = Decoder::new(data);
    let mut user = 0u32;
    let before = sessions.len();
    while !d.is_done() {
        user = user.checked_add(d.small()?).ok_or(Corrupt)?;
        let start_ms = d.time()?;
        let end_ms = d.end(start_ms)?;
        let source = SessionSource::from_code(i64::from(d.small()?));
        sessions.push(Session::new(user, start_ms, end_ms, source));
    }
    declared(rows, sessions.len() - before)?;
    Ok((sessions.len() > before).then_some(user as usize))
}

/// A chunk must hold the rows it says: a changed count means a changed file.
fn declared(rows: i64, decoded: usize) -> Result<(), Corrupt> {
    if i64::try_from(decoded) == Ok(rows) {
        Ok(())
    } else {
        Err(Corrupt)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ImportRecord, SessionRow};
    use crate::store::chunks::CHUNK_ROWS;
    use crate::store::Project;

    const MIN: i64 = 60_000;

    /// Enough sessions for several chunks, so that both threads decode some: (user key,
    /// start, end), users in key order and each user's sessions by start.
    fn sessions() -> Vec<(String, i64, Option<i64>)> {
        let per_user = 1_000;
        let users = CHUNK_ROWS * 5 / per_user;
        (0..users)
            .flat_map(|u| {
                (0..per_user).map(move |k| {
                    let start = 1_700_000_000_000 + (u * 7 + k * 45) as i64 * MIN;
                    let end = (k % 4 != 0).then_some(start + (k % 9) as i64 * MIN);
                    (format!("user{u:03}"), start, end)
                })
            })
            .collect()
    }

    fn project(path: &std::path::Path, sessions: &[(String, i64, Option<i64>)]) -> Project {
        let mut project = Project::create(path).unwrap();
        let record = ImportRecord {
            file_name: "many.csv".to_owned(),
            sha256: "sha".to_owned(),
            kind: "sessions".to_owned(),
            on_bad_rows: "abort".to_owned(),
            ..ImportRecord::default()
        };
        let mut writer = project.begin_import(&record).unwrap();
        // Written newest first: the build, not the file, puts them in order.
        for (line, (user, start_ms, end_ms)) in (2..).zip(sessions.iter().rev()) {
            let row = SessionRow {
                user: user.clone(),
                start_ms: *start_ms,
                end_ms: *end_ms,
            };
            writer.session(line, &row).unwrap();
        }
        writer.finish(&record).unwrap();
        project
    }

    #[test]
    fn sessions_decoded_on_two_threads_come_back_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.cohort");
        let written = sessions();
        let project = project(&path, &written);
        let chunks: i64 = Connection::open(&path)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM built_chunks WHERE kind = ?1",
                [SESSIONS],
                |r| r.get(0),
            )
            .unwrap();
        assert!(chunks >= 5, "only {chunks} chunks: the helper decodes none");

        let data = project.load_dataset().unwrap();
        let read: Vec<(String, i64, Option<i64>)> = data
            .sessions
            .iter()
            .map(|s| {
                (
                    data.users[s.user as usize].key.clone(),
                    s.start_ms,
                    s.end_ms(),
                )
            })
            .collect();
        assert_eq!(read.len(), written.len());
        assert!(read == written, "the sessions differ from those written");
        // Users share their (empty) attributes rather than each holding copies.
        assert!(data
            .users
            .windows(2)
            .all(|w| Arc::ptr_eq(&w[0].attrs, &w[1].attrs)));
    }

    #[test]
    fn chunks_changed_by_another_program_fail_the_load_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.cohort");
        drop(project(&path, &sessions()));
        let pristine = std::fs::read(&path).unwrap();
        let damages = [
            (
                "DELETE FROM built_chunks WHERE rowid = (SELECT min(rowid) FROM built_chunks
                                                         WHERE kind = 'sessions')",
                "but its last build made",
            ),
            (
                "UPDATE built_chunks SET data = x'' WHERE kind = 'sessions'",
                "do not decode",
            ),
            (
                "UPDATE built_chunks SET rows = rows + 1 WHERE kind = 'users'",
                "built users that do not decode",
            ),
            ("DELETE FROM attr_values", "built users that do not decode"),
        ];
        for (damage, said) in damages {
            std::fs::write(&path, &pristine).unwrap();
            Connection::open(&path)
                .unwrap()
                .execute_batch(damage)
                .unwrap();
            let error = Project::open(&path).unwrap().load_dataset().unwrap_err();
            let text = error.to_string();
            assert!(text.contains(said), "{damage}: {text}");
            assert!(
                text.contains(": the project file holds"),
                "{damage}: {text}"
            );
        }
    }

    #[test]
    fn sessions_of_users_that_are_gone_fail_the_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.cohort");
        drop(project(&path, &sessions()));
        Connection::open(&path)
            .unwrap()
            .execute("DELETE FROM built_chunks WHERE kind = 'users'", [])
            .unwrap();
        let error = Project::open(&path).unwrap().load_dataset().unwrap_err();
        assert!(
            error.to_string().contains("users that do not exist"),
            "{error}"
        );
    }

    #[test]
    fn bad_bytes_in_either_threads_share_fail_the_load_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.cohort");
        drop(project(&path, &sessions()));
        let pristine = std::fs::read(&path).unwrap();
        // The first chunk is this thread's to decode, the last the helper's.
        for which in ["min", "max"] {
            std::fs::write(&path, &pristine).unwrap();
            Connection::open(&path)
                .unwrap()
                .execute(
                    &format!(
                        "UPDATE built_chunks SET data = x'ffffffffffffffffffffff'
                         WHERE rowid = (SELECT {which}(rowid) FROM built_chunks
                                        WHERE kind = 'sessions')"
                    ),
                    [],
                )
                .unwrap();
            let error = Project::open(&path).unwrap().load_dataset().unwrap_err();
            assert!(
                error.to_string().contains("do not decode"),
                "{which}: {error}"
            );
        }
    }
}
