//! Reads the project into the shapes the session builder and the metrics use, and
//! rebuilds the derived users and sessions from the raw rows.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rusqlite::{params, Connection, Transaction};

use super::{json_or_default, seq};
use crate::import::CAMPAIGN_ID_PREFIX;
use crate::model::{
    AttrRow, Attributes, BuildStats, Dataset, Directory, EventRow, FileKind, RateRow, Session,
    SessionRow, SessionSource, Settings, SpendRow, User,
};
use crate::sessions::{self, BuildOptions, Ordered, UserRows};

/// Rebuilds the derived users and sessions tables from the raw rows.
pub(super) fn rebuild_in(
    tx: &Transaction<'_>,
    settings: &Settings,
) -> rusqlite::Result<BuildStats> {
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

pub(super) fn load_dataset(conn: &Connection, settings: Settings) -> rusqlite::Result<Dataset> {
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
