//! Imported rows as chunks: written by an import, read back by every rebuild.
//!
//! Users and attribute values are numbered once per project (`user_keys`, `attr_values`)
//! so a row is a handful of small integers. A session or event row often repeats its
//! user's attributes: such a row adds nothing to the build when this import already kept
//! the same attributes at the same or an earlier time (the build takes each attribute
//! from the earliest row that has it), and is not stored again. Install rows are kept
//! once per distinct time, since each distinct install time is a reinstall.

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use rusqlite::{params, Connection};

use super::chunks::{Corrupt, Decoder, Encoder, CHUNK_ROWS};
use crate::model::{same_text, AttrRow, Attributes, EventRow, SessionRow};

/// The kinds of raw chunk, numbered as `RawRow::kind` numbers them.
pub const KINDS: [&str; 3] = ["sessions", "events", "user_rows"];

/// Numbers for texts, kept in one of the dictionary tables.
pub struct Dictionary {
    table: &'static str,
    column: &'static str,
    /// Fx, not SipHash: an import looks up every row's user and attributes here.
    ids: FxHashMap<String, u32>,
    next: u32,
    /// The text asked for last and its number: a user's rows come one after another.
    last: Option<(String, u32)>,
    /// New texts not yet in the table; `flush` writes them, many to a statement.
    pending: Vec<(u32, String)>,
    /// The number of the empty text, once asked for.
    empty: Option<u32>,
}

/// New texts written by one statement: a 10-million-row import numbers over half a
/// million users, and one statement a text took a tenth of the import's time.
const TEXTS_PER_INSERT: usize = 256;

impl Dictionary {
    pub fn user_keys(conn: &Connection) -> rusqlite::Result<Self> {
        Self::load(conn, "user_keys", "key")
    }

    pub fn attr_values(conn: &Connection) -> rusqlite::Result<Self> {
        Self::load(conn, "attr_values", "value")
    }

    fn load(
        conn: &Connection,
        table: &'static str,
        column: &'static str,
    ) -> rusqlite::Result<Self> {
        let mut ids = FxHashMap::default();
        let mut next = 0;
        // The names are ours, not the file's.
        let mut stmt = conn.prepare(&format!("SELECT id, {column} FROM {table}"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: u32 = row.get(0)?;
            ids.insert(row.get(1)?, id);
            next = next.max(id + 1);
        }
        Ok(Self {
            table,
            column,
            ids,
            next,
            last: None,
            pending: Vec::new(),
            empty: None,
        })
    }

    /// The number of a text, adding it to the table the first time.
    pub fn id(&mut self, conn: &Connection, text: &str) -> rusqlite::Result<u32> {
        let id = self.number(text);
        if self.pending.len() >= TEXTS_PER_INSERT {
            self.write(conn, TEXTS_PER_INSERT)?;
        }
        Ok(id)
    }

    /// The number of a text; a new one is written by the next `id` or `flush`, so this
    /// needs no connection (the rebuild numbers a part's texts before writing the part).
    pub fn number(&mut self, text: &str) -> u32 {
        if text.is_empty() {
            if let Some(id) = self.empty {
                return id; // see `model::same_text`: an empty key is slow to compare
            }
        }
        match &mut self.last {
            Some((last, id)) if same_text(last, text) => return *id,
            Some((last, id)) => {
                if let Some(&known) = self.ids.get(text) {
                    last.clear();
                    last.push_str(text);
                    *id = known;
                    return known;
                }
            }
            None => {}
        }
        let id = match self.ids.get(text) {
            Some(&id) => id,
            None => {
                let id = self.next;
                self.ids.insert(text.to_owned(), id);
                self.pending.push((id, text.to_owned()));
                self.next += 1;
                id
            }
        };
        self.last = Some((text.to_owned(), id));
        if text.is_empty() {
            self.empty = Some(id);
        }
        id
    }

    /// Writes the new texts to the table; before anything reads it.
    pub fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        while !self.pending.is_empty() {
            let count = if self.pending.len() >= TEXTS_PER_INSERT {
                TEXTS_PER_INSERT
            } else {
                1
            };
            self.write(conn, count)?;
        }
        Ok(())
    }

    /// Writes the first `count` pending texts with one statement.
    fn write(&mut self, conn: &Connection, count: usize) -> rusqlite::Result<()> {
        let rows = vec!["(?, ?)"; count].join(", ");
        // The names are ours, not the file's.
        let mut insert = conn.prepare_cached(&format!(
            "INSERT INTO {} (id, {}) VALUES {rows}",
            self.table, self.column
        ))?;
        for (i, (id, text)) in self.pending.drain(..count).enumerate() {
            insert.raw_bind_parameter(2 * i + 1, id)?;
            insert.raw_bind_parameter(2 * i + 2, text)?;
        }
        insert.raw_execute()?;
        Ok(())
    }
}

/// Every text of a dictionary table, by number.
pub fn texts(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<Vec<String>> {
    // We number texts 0, 1, 2, ...: anything else was not written by us.
    let (end, count): (Option<i64>, i64) = conn.query_row(
        &format!("SELECT max(id) + 1, count(*) FROM {table}"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if end.unwrap_or(0) != count || count < 0 {
        return Err(corrupt(&format!("gaps in the numbers of {table}")));
    }
    let mut texts = vec![String::new(); usize::try_from(count).unwrap_or(0)];
    let mut stmt = conn.prepare(&format!("SELECT id, {column} FROM {table}"))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id = usize::try_from(row.get::<_, i64>(0)?).unwrap_or(usize::MAX);
        if let Some(slot) = texts.get_mut(id) {
            *slot = row.get(1)?;
        }
    }
    Ok(texts)
}

/// A kept user row: user, flags, attributes and (install rows only) time.
type KeptKey = (u32, u8, [u32; 5], Option<i64>);

/// Writes the rows of one import as chunks.
pub struct RawWriter {
    import_id: i64,
    keys: Dictionary,
    values: Dictionary,
    /// One buffer per kind, in `KINDS` order.
    buffers: [Encoder; 3],
    /// The user rows this import kept: by user, flags, attributes and (install rows only)
    /// time, with the earliest time kept.
    kept: FxHashMap<KeptKey, i64>,
    /// The key last kept and its time, so a repeated row needs no hashing.
    last_kept: Option<(KeptKey, i64)>,
    /// Each attribute's last text and number: a user's rows repeat their attributes.
    recent_attrs: [Option<(String, u32)>; 5],
}

impl RawWriter {
    pub fn new(conn: &Connection, import_id: i64) -> rusqlite::Result<Self> {
        Ok(Self {
            import_id,
            keys: Dictionary::user_keys(conn)?,
            values: Dictionary::attr_values(conn)?,
            buffers: Default::default(),
            kept: FxHashMap::default(),
            last_kept: None,
            recent_attrs: Default::default(),
        })
    }

    pub fn session(
        &mut self,
        conn: &Connection,
        line: i64,
        row: &SessionRow,
    ) -> rusqlite::Result<()> {
        let user = self.keys.id(conn, &row.user)?;
        let row = RawRow::Session {
            start_ms: row.start_ms,
            end_ms: row.end_ms,
        };
        self.push(conn, line, user, &row)
    }

    pub fn event(&mut self, conn: &Connection, line: i64, row: &EventRow) -> rusqlite::Result<()> {
        let user = self.keys.id(conn, &row.user)?;
        let name = row
            .name
            .as_deref()
            .map(|n| self.values.id(conn, n))
            .transpose()?;
        let row = RawRow::Event {
            time_ms: row.time_ms,
            name,
            event_id: row.event_id.as_deref(),
        };
        self.push(conn, line, user, &row)
    }

    pub fn user_row(
        &mut self,
        conn: &Connection,
        line: i64,
        row: &AttrRow,
    ) -> rusqlite::Result<()> {
        let user = self.keys.id(conn, &row.user)?;
        let a = &row.attrs;
        let mut attrs = [0u32; 5];
        let texts = [
            &a.channel,
            &a.campaign,
            &a.country,
            &a.platform,
            &a.app_version,
        ];
        for ((slot, recent), text) in attrs.iter_mut().zip(&mut self.recent_attrs).zip(texts) {
            *slot = match recent {
                Some((last, id)) if last == text => *id,
                _ => {
                    let id = self.values.id(conn, text)?;
                    *recent = Some((text.clone(), id));
                    id
                }
            };
        }
        let flags = u8::from(row.is_install) | (u8::from(row.adds_session) << 1);
        let when = row.is_install.then_some(row.time_ms);
        let key = (user, flags, attrs, when);
        // Most rows repeat the row before them, which is kept already.
        if matches!(&self.last_kept, Some((last, time)) if *last == key && *time <= row.time_ms) {
            return Ok(());
        }
        match self.kept.entry(key) {
            Entry::Occupied(kept) if *kept.get() <= row.time_ms => {
                self.last_kept = Some((key, *kept.get()));
                return Ok(());
            }
            Entry::Occupied(mut kept) => {
                kept.insert(row.time_ms);
            }
            Entry::Vacant(slot) => {
                slot.insert(row.time_ms);
            }
        }
        self.last_kept = Some((key, row.time_ms));
        let row = RawRow::User {
            time_ms: row.time_ms,
            is_install: row.is_install,
            adds_session: row.adds_session,
            attrs,
        };
        self.push(conn, line, user, &row)
    }

    fn push(
        &mut self,
        conn: &Connection,
        line: i64,
        user: u32,
        row: &RawRow<'_>,
    ) -> rusqlite::Result<()> {
        let kind = row.kind();
        encode_row(&mut self.buffers[kind], line, user, row);
        if self.buffers[kind].rows >= CHUNK_ROWS {
            write_chunk(conn, self.import_id, KINDS[kind], &mut self.buffers[kind])?;
        }
        Ok(())
    }

    /// Writes what is left in the buffers, and the new users and texts.
    pub fn finish(mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.keys.flush(conn)?;
        self.values.flush(conn)?;
        for (kind, buffer) in KINDS.iter().zip(&mut self.buffers) {
            if buffer.rows > 0 {
                write_chunk(conn, self.import_id, kind, buffer)?;
            }
        }
        Ok(())
    }
}

fn write_chunk(
    conn: &Connection,
    import_id: i64,
    kind: &str,
    encoder: &mut Encoder,
) -> rusqlite::Result<()> {
    let (rows, bytes) = encoder.take();
    conn.prepare_cached(
        "INSERT INTO raw_chunks (import_id, kind, rows, data) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![import_id, kind, rows as i64, bytes])?;
    Ok(())
}

/// One raw row as read back: the user by number, attributes and names still numbers.
pub enum RawRow<'a> {
    Session {
        start_ms: i64,
        end_ms: Option<i64>,
    },
    Event {
        time_ms: i64,
        name: Option<u32>,
        event_id: Option<&'a str>,
    },
    User {
        time_ms: i64,
        is_install: bool,
        adds_session: bool,
        attrs: [u32; 5],
    },
}

impl RawRow<'_> {
    /// The index of this row's kind in `KINDS`.
    pub fn kind(&self) -> usize {
        match self {
            Self::Session { .. } => 0,
            Self::Event { .. } => 1,
            Self::User { .. } => 2,
        }
    }
}

/// Appends one row to a chunk of its kind. `line` is the row's line in its file, or any
/// other number that orders rows (the rebuild writes import order there).
pub fn encode_row(e: &mut Encoder, line: i64, user: u32, row: &RawRow<'_>) {
    e.line(line);
    e.unsigned(u64::from(user));
    match *row {
        RawRow::Session { start_ms, end_ms } => {
            e.time(start_ms);
            e.end(start_ms, end_ms);
        }
        RawRow::Event {
            time_ms,
            name,
            event_id,
        } => {
            e.time(time_ms);
            e.optional(name);
            e.text(event_id);
        }
        RawRow::User {
            time_ms,
            is_install,
            adds_session,
            attrs,
        } => {
            e.time(time_ms);
            e.unsigned(u64::from(is_install) | (u64::from(adds_session) << 1));
            for id in attrs {
                e.unsigned(u64::from(id));
            }
        }
    }
    e.rows += 1;
}

/// Visits every raw row in import order, with its import, line and user number.
pub fn each_raw_row(
    conn: &Connection,
    mut visit: impl FnMut(i64, i64, u32, RawRow<'_>),
) -> rusqlite::Result<()> {
    each_raw_chunk(conn, |import_id, kind, data| {
        decode_rows(kind, data, |line, user, row| {
            visit(import_id, line, user, row);
        })
        .map_err(|Corrupt| corrupt("a raw chunk that does not decode"))
    })
}

/// Visits every raw chunk in import order, with its import and kind.
fn each_raw_chunk(
    conn: &Connection,
    mut visit: impl FnMut(i64, usize, &[u8]) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    // The order is taken from the small columns alone and each chunk fetched by rowid:
    // `ORDER BY import_id` over the table would copy every blob through SQLite's sorter.
    let mut order: Vec<(i64, i64)> = conn
        .prepare_cached("SELECT import_id, rowid FROM raw_chunks")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    order.sort_unstable();
    let mut stmt = conn.prepare_cached("SELECT kind, data FROM raw_chunks WHERE rowid = ?1")?;
    for (import_id, rowid) in order {
        let mut rows = stmt.query([rowid])?;
        let Some(row) = rows.next()? else {
            continue;
        };
        let kind = row.get_ref(0)?.as_str()?;
        let kind = KINDS
            .iter()
            .position(|k| *k == kind)
            .ok_or_else(|| corrupt("a raw chunk of an unknown kind"))?;
        visit(import_id, kind, row.get_ref(1)?.as_blob()?)?;
    }
    Ok(())
}

/// Every raw chunk, in import order (as `each_raw_row` visits them).
pub(super) fn raw_chunks(conn: &Connection) -> rusqlite::Result<Vec<super::rebuild::RawChunk>> {
    let mut chunks = Vec::new();
    each_raw_chunk(conn, |import_id, kind, data| {
        chunks.push(super::rebuild::RawChunk {
            import_id: Some(import_id),
            kind,
            data: data.to_vec(),
        });
        Ok(())
    })?;
    Ok(chunks)
}

/// Reads the rows of one chunk of `KINDS[kind]`, as `encode_row` wrote them.
pub fn decode_rows(
    kind: usize,
    data: &[u8],
    mut visit: impl FnMut(i64, u32, RawRow<'_>),
) -> Result<(), Corrupt> {
    let mut d = Decoder::new(data);
    while !d.is_done() {
        let line = d.line()?;
        let user = d.small()?;
        let time = d.time()?;
        let row = match kind {
            0 => RawRow::Session {
                start_ms: time,
                end_ms: d.end(time)?,
            },
            1 => RawRow::Event {
                time_ms: time,
                name: d.optional()?,
                event_id: d.text()?,
            },
            _ => {
                let flags = d.small()?;
                let mut attrs = [0u32; 5];
                for slot in &mut attrs {
                    *slot = d.small()?;
                }
                RawRow::User {
                    time_ms: time,
                    is_install: flags & 1 == 1,
                    adds_session: flags & 2 == 2,
                    attrs,
                }
            }
        };
        visit(line, user, row);
    }
    Ok(())
}

/// An error for bytes that do not read back: the file was changed by something else.
pub fn corrupt(what: &str) -> rusqlite::Error {
    // SQLite's own word for a damaged file, with our message as the whole text.
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
        Some(format!("the project file holds {what}")),
    )
}

/// Attributes from their numbers; a number with no text means the file was changed.
pub fn attributes(values: &[String], ids: [u32; 5]) -> Result<Attributes, Corrupt> {
    let text = |id: u32| values.get(id as usize).cloned().ok_or(Corrupt);
    Ok(Attributes {
        channel: text(ids[0])?,
        campaign: text(ids[1])?,
        country: text(ids[2])?,
        platform: text(ids[3])?,
        app_version: text(ids[4])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_keep_their_numbers_the_empty_one_among_them() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE attr_values (id INTEGER PRIMARY KEY, value TEXT NOT NULL);",
        )
        .unwrap();
        let texts = ["", "organic", "", "", "paid", "organic", "", "paid"];
        let numbers = [0, 1, 0, 0, 2, 1, 0, 2];

        let mut dictionary = Dictionary::attr_values(&conn).unwrap();
        assert_eq!(texts.map(|t| dictionary.number(t)), numbers);

        // Written and read back, the texts keep their numbers and new ones come after.
        dictionary.flush(&conn).unwrap();
        let mut again = Dictionary::attr_values(&conn).unwrap();
        assert_eq!(texts.map(|t| again.number(t)), numbers);
        assert_eq!(again.number("referral"), 3);
        assert_eq!(again.number(""), 0);
    }
}
