//! Rebuilds the derived users and sessions from the raw rows, part by part, so that
//! memory stays bounded whatever the size of the project.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::mpsc;

use rusqlite::{params, Transaction};
use rustc_hash::FxHashMap;

use super::built::{put_built, BuiltWriter, LATEST_MS_KEY};
use super::chunks::{Corrupt, Encoder, CHUNK_ROWS};
use super::load::load_directory;
use super::raw::{self, Dictionary, RawRow};
use super::seq;
use crate::import::CAMPAIGN_ID_PREFIX;
use crate::model::{
    AttrRow, BuildStats, Directory, EventRow, SessionRow, Settings, DAY_MS, LATE_AFTER_DAYS,
};
use crate::sessions::{self, BuildOptions, Ordered, UserRows};

/// Raw rows of one part: users are built in parts of about this many rows, a part per
/// builder at a time, so memory stays flat whatever the size of the project.
const PART_ROWS: u64 = 200_000;

/// Threads that build parts side by side: building is most of a rebuild's work, and the
/// thread that reads and writes the project file waits on it.
const BUILDERS: usize = 2;

/// Rebuilds the users and sessions from the raw rows, in key order.
pub(super) fn rebuild_in(
    tx: &Transaction<'_>,
    settings: &Settings,
) -> rusqlite::Result<BuildStats> {
    // Nothing stops this one, so it always ends with stats.
    rebuild_watched(tx, settings, &mut |_, _| true).map(Option::unwrap_or_default)
}

/// `rebuild_in`, telling `watch` how many of the rows it has to go through are done (of
/// how many); when `watch` answers false the rebuild stops with `None`, and the caller
/// rolls the transaction back.
pub(super) fn rebuild_watched(
    tx: &Transaction<'_>,
    settings: &Settings,
    watch: &mut dyn FnMut(u64, u64) -> bool,
) -> rusqlite::Result<Option<BuildStats>> {
    rebuild_in_parts(tx, settings, PART_ROWS, watch)
}

/// `rebuild_watched` with parts of about `part_rows` rows.
fn rebuild_in_parts(
    tx: &Transaction<'_>,
    settings: &Settings,
    part_rows: u64,
    watch: &mut dyn FnMut(u64, u64) -> bool,
) -> rusqlite::Result<Option<BuildStats>> {
    let started = std::time::Instant::now();
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

    // First pass: how many rows each user has, the last moment in the data, and how many
    // rows fall on each day (to find the few far after the rest).
    let mut rows_of = vec![0u32; keys.len()];
    let mut latest_ms: Option<i64> = None;
    let mut rows_by_day: FxHashMap<i64, u64> = FxHashMap::default();
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
        if let Some(moment) = moment {
            *rows_by_day.entry(moment.div_euclid(DAY_MS)).or_default() += 1;
        }
        latest_ms = latest_ms.max(moment);
    })?;
    let parts = cut_into_parts(&order, &rows_of, part_rows);
    let rows_total: u64 = rows_of.iter().map(|&n| u64::from(n)).sum();

    tx.execute_batch("DELETE FROM built_chunks; DELETE FROM build_stats;")?;
    let options = BuildOptions::from_settings(settings);
    let mut stats = BuildStats::default();

    // Each row goes to the part its user is in (reading one part's rows alone), or all
    // rows are read at once when there is only one part.
    let spilled = parts.len() > 1;
    // Every row is read once more when spilled, and once to build its part.
    let (mut done, total) = if spilled {
        (rows_total, 2 * rows_total)
    } else {
        (0, rows_total)
    };
    if !watch(0, total) {
        return Ok(None);
    }
    log::debug!(
        "rebuild: {rows_total} rows in {} parts, counted in {:.2} s",
        parts.len(),
        started.elapsed().as_secs_f64()
    );
    let mut spilled_chunks = Vec::new();
    if spilled {
        spilled_chunks = spill_into_parts(tx, &rank, &parts)?;
        log::debug!(
            "rebuild: spilled in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        if !watch(done, total) {
            return Ok(None);
        }
    }

    // This thread fetches each part's chunks and hands them to the `rebuild-part`
    // threads in turn, which decode and build parts side by side; the built parts come
    // back here in order to be numbered, encoded and written, so the project file is the
    // same whichever thread built what.
    let options = &options;
    let known = Known {
        keys: &keys,
        order: &order,
        rank: &rank,
        values: &values,
        directory: &directory,
    };
    let parts_ref = &parts;
    let mut out = BuiltWriter::default();
    let finished = std::thread::scope(|scope| -> rusqlite::Result<bool> {
        // Each builder has a channel for the parts it is to build and one for what it built.
        let mut builders_out = Vec::with_capacity(BUILDERS);
        let mut built_ins = Vec::with_capacity(BUILDERS);
        let mut building = Vec::with_capacity(BUILDERS);
        for builder in 0..BUILDERS {
            let (parts_out, parts_in) = mpsc::sync_channel::<Vec<RawChunk>>(0);
            let (built_out, built_in) = mpsc::sync_channel(1);
            let handle = std::thread::Builder::new()
                .name("rebuild-part".to_owned())
                .spawn_scoped(scope, move || {
                    let own_parts = parts_ref.iter().skip(builder).step_by(BUILDERS);
                    for (part, chunks) in own_parts.zip(parts_in) {
                        let built = known
                            .part_rows(part, &chunks)
                            .map(|users| sessions::build(users, options));
                        if built_out.send(built).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| stopped(&format!("cannot start the rebuild's thread: {e}")))?;
            builders_out.push(parts_out);
            built_ins.push(built_in);
            building.push(handle);
        }
        let stopped_early = || stopped("the rebuild's thread stopped");
        // The built part `index`, from the thread that built it.
        let receive = |index: usize| -> rusqlite::Result<sessions::Built> {
            built_ins[index % BUILDERS]
                .recv()
                .map_err(|_| stopped_early())?
        };
        let mut write = |built: sessions::Built| -> rusqlite::Result<()> {
            let part = out.encode(&built, &mut dictionary);
            stats.absorb(&part.stats);
            for (kind, rows, bytes) in part.chunks {
                put_built(tx, kind, rows, bytes)?;
            }
            Ok(())
        };

        for (index, part) in parts.iter().enumerate() {
            let chunks = if spilled {
                spilled_chunks_of(tx, &spilled_chunks[index])?
            } else {
                raw::raw_chunks(tx)?
            };
            // The part this one's thread had before is built by now, or soon: write it,
            // then hand this one over.
            if index >= BUILDERS {
                write(receive(index - BUILDERS)?)?;
            }
            builders_out[index % BUILDERS]
                .send(chunks)
                .map_err(|_| stopped_early())?;
            done += part
                .clone()
                .map(|r| u64::from(rows_of[order[r] as usize]))
                .sum::<u64>();
            if !watch(done, total) {
                return Ok(false);
            }
        }
        drop(builders_out);
        for index in parts.len().saturating_sub(BUILDERS)..parts.len() {
            write(receive(index)?)?;
        }
        for handle in building {
            handle
                .join()
                .map_err(|_| stopped("the rebuild's thread failed"))?;
        }
        Ok(true)
    })?;
    if !finished {
        return Ok(None);
    }
    // Found over all the rows, not part by part.
    (stats.late_rows, stats.late_after_ms) = late_rows(rows_by_day);
    if spilled {
        tx.execute_batch("DROP TABLE temp.rebuild_parts;")?;
    }
    dictionary.flush(tx)?;

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
        "rebuilt {} users and {} sessions in {:.2} s",
        stats.users,
        stats.sessions,
        started.elapsed().as_secs_f64()
    );
    Ok(Some(stats))
}

/// The rows of a small group (a twentieth of all rows at most) that begins more than
/// `LATE_AFTER_DAYS` days after every row before it, and the end of the last day before
/// the gap (zeros when there is no such group).
fn late_rows(rows_by_day: FxHashMap<i64, u64>) -> (u64, i64) {
    let mut days: Vec<(i64, u64)> = rows_by_day.into_iter().collect();
    days.sort_unstable();
    let total: u64 = days.iter().map(|&(_, n)| n).sum();
    let mut before = 0;
    for pair in days.windows(2) {
        let [(day, n), (next, _)] = pair else {
            continue;
        };
        before += n;
        let after = total - before;
        if next - day > LATE_AFTER_DAYS && after * 20 <= total {
            return (after, (day + 1) * DAY_MS);
        }
    }
    (0, 0)
}

/// Turns one raw row into what the session builder reads, names resolved.
fn add_row(
    target: &mut UserRows,
    seq: i64,
    row: RawRow<'_>,
    values: &[String],
    directory: &Directory,
) -> Result<(), Corrupt> {
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
            let mut attrs = raw::attributes(values, attrs)?;
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
    Ok(())
}

/// Copies every raw row, with its place in import order, into a temporary table of
/// chunks by part, so that building a part reads that part's rows and no others.
/// Returns the rowids of each part's chunks, in the order they were written.
fn spill_into_parts(
    tx: &Transaction<'_>,
    rank: &[u32],
    parts: &[Range<usize>],
) -> rusqlite::Result<Vec<Vec<i64>>> {
    tx.execute_batch(
        "DROP TABLE IF EXISTS temp.rebuild_parts;
         CREATE TEMP TABLE rebuild_parts (kind INTEGER NOT NULL, data BLOB NOT NULL);",
    )?;
    let part_of = |user: u32| {
        let r = rank.get(user as usize).map_or(usize::MAX, |&r| r as usize);
        parts.partition_point(|p| p.end <= r)
    };
    let mut buffers: Vec<[Encoder; 3]> = parts.iter().map(|_| Default::default()).collect();
    let mut chunks: Vec<Vec<i64>> = vec![Vec::new(); parts.len()];
    let mut insert =
        tx.prepare_cached("INSERT INTO temp.rebuild_parts (kind, data) VALUES (?1, ?2)")?;
    let mut put = |part: usize, kind: usize, bytes: Vec<u8>| -> rusqlite::Result<()> {
        insert.execute(params![kind as i64, bytes])?;
        chunks[part].push(tx.last_insert_rowid());
        Ok(())
    };
    let mut failed: Option<rusqlite::Error> = None;
    raw::each_raw_row(tx, |import_id, line, user, row| {
        let part = part_of(user);
        let Some(buffer) = buffers.get_mut(part) else {
            return; // a user number with no key: nothing to build
        };
        let kind = row.kind();
        raw::encode_row(&mut buffer[kind], seq(import_id, line), user, &row);
        if buffer[kind].rows >= CHUNK_ROWS && failed.is_none() {
            let (_, bytes) = buffer[kind].take();
            if let Err(e) = put(part, kind, bytes) {
                failed = Some(e);
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    for (index, part) in buffers.iter_mut().enumerate() {
        for (kind, buffer) in part.iter_mut().enumerate() {
            if buffer.rows > 0 {
                let (_, bytes) = buffer.take();
                put(index, kind, bytes)?;
            }
        }
    }
    Ok(chunks)
}

/// A chunk of raw rows as fetched for a part: `import_id` is `None` for spilled chunks,
/// whose rows carry their place in import order already.
pub(super) struct RawChunk {
    pub import_id: Option<i64>,
    pub kind: usize,
    pub data: Vec<u8>,
}

/// The spilled chunks of one part (`spill_into_parts`).
fn spilled_chunks_of(tx: &Transaction<'_>, chunks: &[i64]) -> rusqlite::Result<Vec<RawChunk>> {
    // By rowid: a part's chunks are a few among many, and a scan would read them all.
    let mut stmt =
        tx.prepare_cached("SELECT kind, data FROM temp.rebuild_parts WHERE rowid = ?1")?;
    let mut fetched = Vec::with_capacity(chunks.len());
    for &rowid in chunks {
        let mut rows = stmt.query([rowid])?;
        if let Some(row) = rows.next()? {
            fetched.push(RawChunk {
                import_id: None,
                kind: usize::try_from(row.get::<_, i64>(0)?).unwrap_or(usize::MAX),
                data: row.get(1)?,
            });
        }
    }
    Ok(fetched)
}

/// What every part is built with: users' keys and order, and texts by number.
#[derive(Clone, Copy)]
struct Known<'a> {
    keys: &'a [String],
    /// User numbers in key order, and each user's place in it.
    order: &'a [u32],
    rank: &'a [u32],
    values: &'a [String],
    directory: &'a Directory,
}

impl Known<'_> {
    /// The rows of the users of `part` (ranks in key order) from its chunks, by key.
    fn part_rows(
        self,
        part: &Range<usize>,
        chunks: &[RawChunk],
    ) -> rusqlite::Result<BTreeMap<String, UserRows>> {
        let mut rows: Vec<UserRows> = part.clone().map(|_| UserRows::default()).collect();
        let mut unknown_values = false;
        for chunk in chunks {
            raw::decode_rows(chunk.kind, &chunk.data, |line, user, row| {
                let Some(r) = self.rank.get(user as usize).map(|&r| r as usize) else {
                    return;
                };
                if part.contains(&r) {
                    let seq = chunk.import_id.map_or(line, |id| seq(id, line));
                    let added = add_row(
                        &mut rows[r - part.start],
                        seq,
                        row,
                        self.values,
                        self.directory,
                    );
                    unknown_values |= added.is_err();
                }
            })
            .map_err(|Corrupt| raw::corrupt("rebuild rows that do not decode"))?;
        }
        if unknown_values {
            return Err(raw::corrupt("rows with attribute values it does not name"));
        }
        // A user whose every row was removed with its import is no user at all.
        Ok(part
            .clone()
            .zip(rows)
            .filter(|(_, rows)| {
                !(rows.sessions.is_empty() && rows.events.is_empty() && rows.attrs.is_empty())
            })
            .map(|(r, rows)| (self.keys[self.order[r] as usize].clone(), rows))
            .collect())
    }
}

/// Consecutive ranges of users (in key order) of about `part_rows` rows each.
fn cut_into_parts(order: &[u32], rows_of: &[u32], part_rows: u64) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let (mut start, mut rows) = (0, 0u64);
    for (r, &id) in order.iter().enumerate() {
        rows += u64::from(rows_of[id as usize]);
        if rows >= part_rows {
            parts.push(start..r + 1);
            (start, rows) = (r + 1, 0);
        }
    }
    if start < order.len() {
        parts.push(start..order.len());
    }
    parts
}

/// An error for a rebuild that could not go on for a reason of its own, not SQLite's.
fn stopped(why: &str) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(why.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attributes, ImportRecord, Settings};
    use crate::store::Project;

    const MIN: i64 = 60_000;

    fn by_day(days: &[(i64, u64)]) -> FxHashMap<i64, u64> {
        days.iter().copied().collect()
    }

    #[test]
    fn a_small_group_far_after_the_rest_is_late() {
        // 100 rows on days 0-9, then 3 on day 100: 90 days without rows, 3 of 103 rows.
        let mut days: Vec<(i64, u64)> = (0..10).map(|d| (d, 10)).collect();
        days.push((100, 3));
        assert_eq!(late_rows(by_day(&days)), (3, 10 * DAY_MS));
        // 6 of 106 is more than a twentieth: a second period of the data, not a mistake.
        days.pop();
        days.push((100, 6));
        assert_eq!(late_rows(by_day(&days)), (0, 0));
        // 30 days without rows (day 9, then day 39) is not yet a gap.
        days.pop();
        days.push((39, 3));
        assert_eq!(late_rows(by_day(&days)), (0, 0));
        days.pop();
        days.push((40, 3));
        assert_eq!(late_rows(by_day(&days)), (3, 10 * DAY_MS));
        // Before the epoch too, and nothing at all.
        assert_eq!(late_rows(by_day(&[(-50, 40), (-10, 1)])), (1, -49 * DAY_MS));
        assert_eq!(late_rows(FxHashMap::default()), (0, 0));
    }

    /// Sessions, events (one a duplicate, one excluded), install rows and a reinstall,
    /// over two imports and users out of key order.
    fn project(path: &std::path::Path) -> Project {
        let mut project = Project::create(path).unwrap();
        for (n, file) in ["a.csv", "b.csv"].iter().enumerate() {
            let record = ImportRecord {
                file_name: (*file).to_owned(),
                sha256: format!("sha-{n}"),
                kind: "sessions".to_owned(),
                on_bad_rows: "abort".to_owned(),
                ..ImportRecord::default()
            };
            let mut writer = project.begin_import(&record).unwrap();
            let base = i64::try_from(n).unwrap() * 1000 * MIN;
            for u in (0..40).rev() {
                let user = format!("user{u:02}");
                let line = u64::try_from(u).unwrap() * 10 + 2;
                writer
                    .user_row(
                        line,
                        &AttrRow {
                            user: user.clone(),
                            time_ms: base,
                            is_install: true,
                            adds_session: u % 3 == 0,
                            attrs: Attributes {
                                channel: format!("ch{}", u % 4),
                                ..Attributes::default()
                            },
                        },
                    )
                    .unwrap();
                let start = base + i64::from(u) * MIN;
                let session = SessionRow {
                    user: user.clone(),
                    start_ms: start,
                    end_ms: (u % 5 != 0).then_some(start + 5 * MIN),
                };
                writer.session(line + 1, &session).unwrap();
                for (k, name) in ["open", "open", "ping"].iter().enumerate() {
                    let event = EventRow {
                        user: user.clone(),
                        time_ms: start + 40 * MIN + i64::from(k == 2) * MIN,
                        name: Some((*name).to_owned()),
                        event_id: None,
                    };
                    writer.event(line + 2 + k as u64, &event).unwrap();
                }
            }
            writer.finish(&record).unwrap();
        }
        project
    }

    #[test]
    fn building_in_many_parts_gives_what_one_part_gives() {
        let dir = tempfile::tempdir().unwrap();
        let mut project = project(&dir.path().join("p.cohort"));
        let settings = Settings {
            excluded_events: vec!["ping".to_owned()],
            ..Settings::default()
        };
        let mut build = |part_rows| {
            let tx = project.begin_write().unwrap();
            let mut steps = Vec::new();
            let stats = rebuild_in_parts(&tx, &settings, part_rows, &mut |done, total| {
                steps.push((done, total));
                true
            })
            .unwrap()
            .unwrap();
            tx.commit().unwrap();
            // Progress only goes forward and ends at its total.
            assert!(steps.windows(2).all(|w| w[0].0 <= w[1].0), "{steps:?}");
            assert_eq!(steps.last().map(|&(d, t)| d == t), Some(true), "{steps:?}");
            (stats, project.load_dataset().unwrap())
        };
        let (one_stats, one) = build(u64::MAX);
        // 40 users of 2 x 5 rows (and 2 x 5 more for a third of them): parts of about
        // 7 rows are a user or two each.
        let (many_stats, many) = build(7);
        assert_eq!(one_stats, many_stats);
        assert_eq!(one.users, many.users);
        assert_eq!(one.sessions, many.sessions);
        assert_eq!(one.latest_ms, many.latest_ms);
        // And the build saw what was written: 40 users, the duplicate "open" of each
        // user in each import, the excluded "ping"s, the second install as a reinstall.
        assert_eq!(one_stats.users, 40);
        assert_eq!(one_stats.duplicate_events, 80);
        assert_eq!(one_stats.excluded_events, 80);
        assert_eq!(one_stats.reinstalls, 40);
        assert_eq!(one.users[0].key, "user00");
    }

    #[test]
    fn a_rebuild_over_attribute_values_that_are_gone_fails_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let mut project = project(&dir.path().join("p.cohort"));
        let tx = project.begin_write().unwrap();
        tx.execute_batch("DELETE FROM attr_values").unwrap();
        let error = rebuild_in_parts(&tx, &Settings::default(), u64::MAX, &mut |_, _| true)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("attribute values it does not name"),
            "{error}"
        );
    }

    #[test]
    fn user_rows_that_add_nothing_are_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut project = Project::create(&dir.path().join("p.cohort")).unwrap();
        let record = ImportRecord {
            file_name: "a.csv".to_owned(),
            sha256: "sha".to_owned(),
            kind: "events".to_owned(),
            on_bad_rows: "abort".to_owned(),
            ..ImportRecord::default()
        };
        let mut writer = project.begin_import(&record).unwrap();
        let row = |time_ms: i64, is_install: bool, channel: &str| AttrRow {
            user: "a".to_owned(),
            time_ms,
            is_install,
            adds_session: false,
            attrs: Attributes {
                channel: channel.to_owned(),
                ..Attributes::default()
            },
        };
        // Kept: x at 5, x at 3 (earlier), y at 1, installs at 2 and 9. Left out: x at 7
        // and 5 again (x is known from 3 on), the second install at 2.
        let rows = [
            row(5, false, "x"),
            row(3, false, "x"),
            row(7, false, "x"),
            row(5, false, "x"),
            row(1, false, "y"),
            row(2, true, ""),
            row(2, true, ""),
            row(9, true, ""),
        ];
        for (line, r) in (2..).zip(&rows) {
            writer.user_row(line, r).unwrap();
        }
        let session = SessionRow {
            user: "a".to_owned(),
            start_ms: 2,
            end_ms: None,
        };
        writer.session(20, &session).unwrap();
        writer.finish(&record).unwrap();

        let stored: i64 = project
            .conn
            .query_row(
                "SELECT sum(rows) FROM raw_chunks WHERE kind = 'user_rows'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, 5);
        let dataset = project.load_dataset().unwrap();
        let user = &dataset.users[0];
        // The install is the earliest install row; the channel comes from the earliest
        // row that has one (y at 1); two distinct install times are one reinstall.
        assert_eq!(
            (
                user.install_ms,
                user.attrs.channel.as_str(),
                user.reinstalls
            ),
            (2, "y", 1)
        );
    }

    #[test]
    fn a_rebuild_stopped_halfway_leaves_the_project_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let mut project = project(&dir.path().join("p.cohort"));
        let before = project.load_dataset().unwrap();
        let settings = Settings {
            timeout_minutes: 5,
            ..Settings::default()
        };
        let tx = project.begin_write().unwrap();
        let mut calls = 0;
        let stopped = rebuild_in_parts(&tx, &settings, 7, &mut |_, _| {
            calls += 1;
            calls < 4 // stop after the spill and two parts
        })
        .unwrap();
        assert!(stopped.is_none());
        drop(tx); // rolled back
        let after = project.load_dataset().unwrap();
        assert_eq!(
            (before.users, before.sessions),
            (after.users, after.sessions)
        );
    }
}
