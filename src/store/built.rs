//! The built users and sessions as the project file keeps them: chunks of each kind,
//! written by a rebuild and read by a load.

use rusqlite::{params, Transaction};

use super::chunks::{Encoder, CHUNK_ROWS};
use super::raw::Dictionary;
use crate::model::BuildStats;
use crate::sessions;

/// The key of `build_stats` that keeps the last moment in the raw rows.
pub(super) const LATEST_MS_KEY: &str = "latest_ms";

/// One part's users and sessions, encoded in the order they are written.
pub(super) struct BuiltPart {
    pub stats: BuildStats,
    /// Kind, rows and bytes of each chunk, in order.
    pub chunks: Vec<(&'static str, usize, Vec<u8>)>,
}

/// Encodes built users and sessions as chunks.
#[derive(Default)]
pub(super) struct BuiltWriter {
    /// Users encoded so far: the number of the next one.
    users: u32,
}

impl BuiltWriter {
    /// Encodes one part's users and sessions; their attribute texts get their numbers
    /// from `dictionary`, which writes new ones when it is flushed.
    pub(super) fn encode(
        &mut self,
        built: &sessions::Built,
        dictionary: &mut Dictionary,
    ) -> BuiltPart {
        let mut chunks = Vec::new();
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
                e.unsigned(u64::from(dictionary.number(text)));
            }
            e.rows += 1;
        }
        take_chunk(&mut chunks, USERS, &mut e);

        let mut previous_user = 0;
        for session in &built.sessions {
            let user = self.users + session.user;
            e.unsigned(u64::from(user - previous_user));
            previous_user = user;
            e.time(session.start_ms);
            e.end(session.start_ms, session.end_ms());
            e.unsigned(session.source as u64);
            e.rows += 1;
            if e.rows >= CHUNK_ROWS {
                take_chunk(&mut chunks, SESSIONS, &mut e);
                previous_user = 0;
            }
        }
        take_chunk(&mut chunks, SESSIONS, &mut e);
        self.users += built.users.len() as u32;
        BuiltPart {
            stats: built.stats.clone(),
            chunks,
        }
    }
}

pub(super) const USERS: &str = "users";
pub(super) const SESSIONS: &str = "sessions";

/// Moves what `e` holds, if anything, into `chunks` as a chunk of `kind`.
fn take_chunk(
    chunks: &mut Vec<(&'static str, usize, Vec<u8>)>,
    kind: &'static str,
    e: &mut Encoder,
) {
    if e.rows > 0 {
        let (rows, bytes) = e.take();
        chunks.push((kind, rows, bytes));
    }
}

pub(super) fn put_built(
    tx: &Transaction<'_>,
    kind: &str,
    rows: usize,
    bytes: Vec<u8>,
) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO built_chunks (kind, rows, data) VALUES (?1, ?2, ?3)")?
        .execute(params![kind, rows as i64, bytes])?;
    Ok(())
}
