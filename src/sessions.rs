//! Turns the stored rows of each user into one resolved user and their sessions.
//!
//! Pure and deterministic: the same rows in the same import order always give the same
//! users and sessions, so a settings change can rebuild everything from the raw rows.

use std::collections::{BTreeMap, HashSet};

use rustc_hash::FxHashSet;

use crate::model::{
    AttrRow, Attributes, BuildStats, EventRow, Session, SessionRow, SessionSource, Settings, User,
    DAY_MS,
};

/// A stored row with its place in import order (earlier imports first, then line).
#[derive(Clone, Debug)]
pub struct Ordered<T> {
    pub seq: i64,
    pub row: T,
}

/// Everything imported about one user.
#[derive(Clone, Debug, Default)]
pub struct UserRows {
    pub attrs: Vec<Ordered<AttrRow>>,
    pub sessions: Vec<Ordered<SessionRow>>,
    pub events: Vec<Ordered<EventRow>>,
}

/// The result of a build: users sorted by key, sessions sorted by user then start.
#[derive(Clone, Debug, Default)]
pub struct Built {
    pub users: Vec<User>,
    pub sessions: Vec<Session>,
    pub stats: BuildStats,
}

/// What decides how events become sessions.
pub struct BuildOptions {
    pub timeout_ms: i64,
    pub excluded_events: HashSet<String>,
}

impl BuildOptions {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            timeout_ms: settings.timeout_ms(),
            excluded_events: settings.excluded_events.iter().cloned().collect(),
        }
    }
}

/// A session on its way out, with what orders ties.
struct Pending {
    start_ms: i64,
    end_ms: Option<i64>,
    source: SessionSource,
    seq: i64,
}

/// Builds every user. Users are visited in key order, so indexes are stable.
pub fn build(rows: BTreeMap<String, UserRows>, options: &BuildOptions) -> Built {
    let mut built = Built::default();

    for (key, user_rows) in rows {
        let mut pending = sessions_from_rows(&user_rows.sessions);
        let mut events = user_rows.events;

        // Exports that leave out the first launch: the install is the first session. With
        // events it is one more activity (so events right after it join its session);
        // with session rows, a session of unknown length unless one starts right then.
        let install = earliest_install(&user_rows.attrs).filter(|r| r.row.adds_session);
        if let Some(install) = install {
            let (seq, time_ms) = (install.seq, install.row.time_ms);
            if !events.is_empty() {
                events.push(Ordered {
                    seq,
                    row: EventRow {
                        user: String::new(),
                        time_ms,
                        name: None,
                        event_id: None,
                    },
                });
                built.stats.install_sessions_added += 1;
            } else if !pending.iter().any(|s| s.start_ms == time_ms) {
                pending.push(Pending {
                    start_ms: time_ms,
                    end_ms: None,
                    source: SessionSource::Install,
                    seq,
                });
                built.stats.install_sessions_added += 1;
            }
        }
        pending.extend(sessions_from_events(events, options, &mut built.stats));

        // Sessions with the same start are ordered by end, then by import order
        // (CLI.md); an unknown end sorts as if it were the start.
        pending.sort_by_key(|s| (s.start_ms, s.end_ms.unwrap_or(s.start_ms), s.seq));

        let Some(user) = resolve_user(key, &user_rows.attrs, &pending) else {
            built.stats.users_without_activity += 1;
            continue;
        };

        let index = u32::try_from(built.users.len()).unwrap_or(u32::MAX);
        built.stats.inferred_installs += u64::from(user.install_inferred);
        built.stats.reinstalls += u64::from(user.reinstalls);
        for session in &pending {
            if session.start_ms < user.install_ms {
                built.stats.sessions_before_install += 1;
            }
            if session
                .end_ms
                .is_some_and(|end| end - session.start_ms > DAY_MS)
            {
                built.stats.sessions_over_24h += 1;
            }
            built.sessions.push(Session::new(
                index,
                session.start_ms,
                session.end_ms,
                session.source,
            ));
        }
        built.users.push(user);
    }

    built.stats.users = built.users.len() as u64;
    built.stats.sessions = built.sessions.len() as u64;
    built
}

fn sessions_from_rows(rows: &[Ordered<SessionRow>]) -> Vec<Pending> {
    rows.iter()
        .map(|ordered| Pending {
            start_ms: ordered.row.start_ms,
            end_ms: ordered.row.end_ms,
            source: SessionSource::Row,
            seq: ordered.seq,
        })
        .collect()
}

/// Splits one user's events into sessions at every gap longer than the timeout.
fn sessions_from_events(
    mut events: Vec<Ordered<EventRow>>,
    options: &BuildOptions,
    stats: &mut BuildStats,
) -> Vec<Pending> {
    let before = events.len();
    events.retain(|e| {
        e.row
            .name
            .as_ref()
            .is_none_or(|name| !options.excluded_events.contains(name))
    });
    stats.excluded_events += (before - events.len()) as u64;

    // Import order decides which copy of a duplicate is kept; keep the first. The keys
    // borrow the events' texts, so which to keep is decided before any goes.
    events.sort_by_key(|e| e.seq);
    let mut seen: FxHashSet<DuplicateKey<'_>> = FxHashSet::default();
    seen.reserve(events.len());
    let first: Vec<bool> = events
        .iter()
        .map(|e| seen.insert(DuplicateKey::of(&e.row)))
        .collect();
    drop(seen);
    let mut keep = first.into_iter();
    let before = events.len();
    events.retain(|_| keep.next().unwrap_or(true));
    stats.duplicate_events += (before - events.len()) as u64;

    events.sort_by_key(|e| (e.row.time_ms, e.seq));

    let mut sessions = Vec::new();
    let mut current: Option<(i64, i64, usize, i64)> = None; // start, last, count, seq
    for event in &events {
        let time = event.row.time_ms;
        current = match current {
            Some((start, last, count, seq)) if time - last <= options.timeout_ms => {
                Some((start, time, count + 1, seq))
            }
            Some(done) => {
                sessions.push(finish(done));
                Some((time, time, 1, event.seq))
            }
            None => Some((time, time, 1, event.seq)),
        };
    }
    sessions.extend(current.map(finish));
    sessions
}

/// A lone event is a session of unknown length; two or more give last minus first.
fn finish((start, last, count, seq): (i64, i64, usize, i64)) -> Pending {
    Pending {
        start_ms: start,
        end_ms: (count > 1).then_some(last),
        source: SessionSource::Events,
        seq,
    }
}

/// Rows with the same event id are duplicates; without an id, the same time and name.
#[derive(Hash, PartialEq, Eq)]
enum DuplicateKey<'e> {
    Id(&'e str),
    TimeName(i64, Option<&'e str>),
}

impl<'e> DuplicateKey<'e> {
    fn of(event: &'e EventRow) -> Self {
        match &event.event_id {
            Some(id) => Self::Id(id),
            None => Self::TimeName(event.time_ms, event.name.as_deref()),
        }
    }
}

/// The install is the earliest install row; attributes come from it, and each field it
/// lacks from the user's earliest row that has it. Without an install row the first
/// session is the install, marked inferred. `sessions` must be sorted by start.
fn resolve_user(key: String, attrs: &[Ordered<AttrRow>], sessions: &[Pending]) -> Option<User> {
    let mut by_time: Vec<&Ordered<AttrRow>> = attrs.iter().collect();
    by_time.sort_by_key(|a| (a.row.time_ms, a.seq));

    let install_row = earliest_install(attrs);
    let (install_ms, install_inferred) = match install_row {
        Some(row) => (row.row.time_ms, false),
        None => (sessions.first()?.start_ms, true),
    };

    let mut merged = install_row.map(|r| r.row.attrs.clone()).unwrap_or_default();
    for row in &by_time {
        fill_missing(&mut merged, &row.row.attrs);
    }

    let mut install_times: Vec<i64> = by_time
        .iter()
        .filter(|a| a.row.is_install)
        .map(|a| a.row.time_ms)
        .collect();
    install_times.dedup();
    let reinstalls = u32::try_from(install_times.len().saturating_sub(1)).unwrap_or(u32::MAX);

    Some(User {
        key,
        install_ms,
        install_inferred,
        reinstalls,
        attrs: merged.into(),
    })
}

/// The user's earliest install row (ties by import order).
fn earliest_install(attrs: &[Ordered<AttrRow>]) -> Option<&Ordered<AttrRow>> {
    attrs
        .iter()
        .filter(|a| a.row.is_install)
        .min_by_key(|a| (a.row.time_ms, a.seq))
}

fn fill_missing(target: &mut Attributes, source: &Attributes) {
    let pairs = [
        (&mut target.channel, &source.channel),
        (&mut target.campaign, &source.campaign),
        (&mut target.country, &source.country),
        (&mut target.platform, &source.platform),
        (&mut target.app_version, &source.app_version),
    ];
    for (field, value) in pairs {
        if field.is_empty() && !value.is_empty() {
            field.clone_from(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn event(user: &str, seq: i64, time_ms: i64, name: &str) -> Ordered<EventRow> {
        Ordered {
            seq,
            row: EventRow {
                user: user.to_owned(),
                time_ms,
                name: Some(name.to_owned()),
                event_id: None,
            },
        }
    }

    fn options(timeout_minutes: i64) -> BuildOptions {
        BuildOptions {
            timeout_ms: timeout_minutes * MIN,
            excluded_events: HashSet::new(),
        }
    }

    fn build_events(events: Vec<Ordered<EventRow>>, options: &BuildOptions) -> Built {
        let mut rows = BTreeMap::new();
        rows.insert(
            "u".to_owned(),
            UserRows {
                events,
                ..UserRows::default()
            },
        );
        build(rows, options)
    }

    #[test]
    fn gap_of_exactly_the_timeout_stays_in_the_session() {
        // 0:00, 0:30 (gap 30:00, same session), 1:00:01 (gap 30:01, new session).
        let built = build_events(
            vec![
                event("u", 1, 0, "open"),
                event("u", 2, 30 * MIN, "tap"),
                event("u", 3, 60 * MIN + 1000, "tap"),
            ],
            &options(30),
        );
        let spans: Vec<_> = built
            .sessions
            .iter()
            .map(|s| (s.start_ms, s.end_ms()))
            .collect();
        assert_eq!(spans, vec![(0, Some(30 * MIN)), (60 * MIN + 1000, None)]);
    }

    #[test]
    fn duplicates_count_once_and_excluded_events_are_not_activity() {
        let mut opts = options(30);
        opts.excluded_events.insert("push".to_owned());
        // The duplicate tap at 5 min is dropped; the push at 40 min would otherwise
        // bridge the 50-minute gap between 5 and 55 min.
        let built = build_events(
            vec![
                event("u", 1, 0, "open"),
                event("u", 2, 5 * MIN, "tap"),
                event("u", 3, 5 * MIN, "tap"),
                event("u", 4, 30 * MIN, "push"),
                event("u", 5, 55 * MIN, "tap"),
            ],
            &opts,
        );
        assert_eq!(built.stats.duplicate_events, 1);
        assert_eq!(built.stats.excluded_events, 1);
        let spans: Vec<_> = built
            .sessions
            .iter()
            .map(|s| (s.start_ms, s.end_ms()))
            .collect();
        assert_eq!(spans, vec![(0, Some(5 * MIN)), (55 * MIN, None)]);
    }

    #[test]
    fn same_event_id_is_a_duplicate_even_at_another_time() {
        let mut a = event("u", 1, 0, "open");
        let mut b = event("u", 2, 10 * MIN, "open");
        a.row.event_id = Some("x1".to_owned());
        b.row.event_id = Some("x1".to_owned());
        let built = build_events(vec![a, b], &options(30));
        assert_eq!(built.stats.duplicate_events, 1);
        assert_eq!(built.sessions.len(), 1);
        assert_eq!(built.sessions[0].end_ms(), None);
    }

    #[test]
    fn earliest_install_wins_and_later_ones_are_reinstalls() {
        let install = |seq, time_ms, channel: &str| Ordered {
            seq,
            row: AttrRow {
                user: "u".to_owned(),
                time_ms,
                is_install: true,
                adds_session: false,
                attrs: Attributes {
                    channel: channel.to_owned(),
                    ..Attributes::default()
                },
            },
        };
        let mut with_country = install(3, 500, "");
        with_country.row.is_install = false;
        with_country.row.attrs.country = "DE".to_owned();

        let mut rows = BTreeMap::new();
        rows.insert(
            "u".to_owned(),
            UserRows {
                attrs: vec![
                    install(1, 2000, "google"),
                    install(2, 1000, "facebook"),
                    with_country,
                ],
                ..UserRows::default()
            },
        );
        let built = build(rows, &options(30));
        let user = &built.users[0];
        assert_eq!(user.install_ms, 1000);
        assert!(!user.install_inferred);
        assert_eq!(user.reinstalls, 1);
        assert_eq!(user.attrs.channel, "facebook");
        // The install row has no country: it comes from the earliest row that has one.
        assert_eq!(user.attrs.country, "DE");
    }

    #[test]
    fn user_without_install_row_gets_first_session_inferred() {
        let built = build_events(
            vec![
                event("u", 1, 90 * MIN, "tap"),
                event("u", 2, 10 * MIN, "open"),
            ],
            &options(30),
        );
        assert_eq!(built.users[0].install_ms, 10 * MIN);
        assert!(built.users[0].install_inferred);
        assert_eq!(built.stats.inferred_installs, 1);
    }

    #[test]
    fn only_excluded_events_make_no_user() {
        let mut opts = options(30);
        opts.excluded_events.insert("push".to_owned());
        let built = build_events(vec![event("u", 1, 0, "push")], &opts);
        assert!(built.users.is_empty());
        assert_eq!(built.stats.users_without_activity, 1);
    }
}
