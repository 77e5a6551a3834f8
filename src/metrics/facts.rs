//! What a `Prepared` works out once per load: each user's cohort date, maturity and
//! attribute ids, each session's day N, length and gap, and the names of attribute values.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;
use rustc_hash::FxHashMap;

use crate::model::{Dataset, DayConvention, DAY_MS};
use crate::time::{local_date, start_of_day_ms, DayTable};

use super::campaign_qa::SHORT_SESSION_MS;
use super::{
    channel_key, in_parallel, normalize_name, Span, SpendFacts, StoredSpan, UserFacts, NO_DAY,
    NO_MATCH, ORGANIC,
};

/// The distinct values of one attribute, numbered as first met: the key (trimmed, case
/// ignored) and the spelling shown, as on the earliest install.
#[derive(Clone, Debug, Default)]
pub(super) struct Names {
    pub(super) keys: Vec<String>,
    pub(super) shown: Vec<String>,
    pub(super) ids: FxHashMap<String, u32>,
}

impl Names {
    /// The id of a key, numbering it when it is new (its spelling is filled in later).
    fn intern(&mut self, key: String) -> u32 {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        self.ids.insert(key.clone(), id);
        self.keys.push(key);
        id
    }

    /// The id of a key; `NO_MATCH` when no user has it.
    pub(super) fn id(&self, key: &str) -> u32 {
        self.ids.get(key).copied().unwrap_or(NO_MATCH)
    }

    /// Ids in key order, the order groups are listed in before they are ranked.
    pub(super) fn by_key(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.keys.len() as u32).collect();
        ids.sort_by(|&a, &b| self.keys[a as usize].cmp(&self.keys[b as usize]));
        ids
    }

    /// The non-empty spellings shown, sorted by name.
    pub(super) fn sorted_shown(&self) -> Vec<String> {
        let mut values: Vec<String> = self
            .shown
            .iter()
            .filter(|v| !v.is_empty())
            .cloned()
            .collect();
        values.sort_by_key(|v| v.to_lowercase());
        values
    }
}

/// Numbers one attribute's values user by user, in the order users sit in memory, and
/// remembers for each value the spelling on its earliest install (ties: the lower user).
struct Naming<'d, R> {
    names: Names,
    /// Raw spellings repeat a lot: each is normalized once.
    by_raw: FxHashMap<R, u32>,
    /// Per id: the earliest install seen so far, and its raw spelling.
    earliest: Vec<((i64, usize), &'d str)>,
}

impl<'d, R: std::hash::Hash + Eq> Naming<'d, R> {
    fn new() -> Self {
        Self {
            names: Names::default(),
            by_raw: FxHashMap::default(),
            earliest: Vec::new(),
        }
    }

    /// The id of a raw value met on an install at `when`; `key` normalizes it.
    fn id(
        &mut self,
        raw: R,
        spelling: &'d str,
        when: (i64, usize),
        key: impl FnOnce() -> String,
    ) -> u32 {
        let names = &mut self.names;
        let id = *self
            .by_raw
            .entry(raw)
            .or_insert_with(|| names.intern(key()));
        self.met(id, spelling, when);
        id
    }

    /// Notes that value `id`, spelled `spelling`, was met again on an install at `when`.
    fn met(&mut self, id: u32, spelling: &'d str, when: (i64, usize)) {
        match self.earliest.get_mut(id as usize) {
            Some(slot) if when < slot.0 => *slot = (when, spelling),
            Some(_) => {}
            None => self.earliest.push((when, spelling)),
        }
    }

    /// The names, each shown as `show` writes its earliest spelling.
    fn finish(mut self, show: impl Fn(&str) -> String) -> Names {
        self.names.shown = self.earliest.iter().map(|(_, raw)| show(raw)).collect();
        self.names
    }
}

/// Everything `Prepared` works out from its dataset.
pub(super) struct Facts {
    pub(super) users: Vec<UserFacts>,
    /// Per session, by index into `Dataset::sessions`.
    pub(super) spans: Vec<StoredSpan>,
    pub(super) spend: Vec<SpendFacts>,
    pub(super) channels: Names,
    pub(super) campaigns: Names,
    pub(super) campaign_parts: Vec<(u32, String)>,
    pub(super) countries: Names,
    pub(super) platforms: Names,
    pub(super) app_versions: Names,
}

impl Facts {
    /// Day N of session `i` (`NO_DAY` before the install).
    pub(super) fn day(&self, i: usize) -> u16 {
        Span::load(self.spans[i]).day
    }

    pub(super) fn of(dataset: &Dataset) -> Self {
        let settings = &dataset.settings;
        let tz = settings.zone();
        let data_end_ms = dataset.data_end_ms();
        let mut maturity = Maturity {
            convention: settings.day,
            tz,
            data_end_ms,
            cache: FxHashMap::default(),
        };

        let started = std::time::Instant::now();
        // One table of local day starts answers every date below.
        let instants = dataset
            .users
            .iter()
            .map(|u| u.install_ms)
            .chain(dataset.sessions.iter().map(|s| s.start_ms));
        let (min_ms, max_ms) =
            instants.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        let days = DayTable::new(tz, min_ms, max_ms);

        // Day N, length and gap of every session: the users in two halves, one per core.
        let mut spans = vec![Span::EMPTY.store(); dataset.sessions.len()];
        let middle = dataset.users.len() / 2;
        let split = dataset
            .sessions
            .partition_point(|s| (s.user as usize) < middle);
        let (left, right) = spans.split_at_mut(split);
        let halves = [
            (0..middle, 0, std::sync::Mutex::new(Some(left))),
            (
                middle..dataset.users.len(),
                split,
                std::sync::Mutex::new(Some(right)),
            ),
        ];
        let maturity_now = &maturity;
        let users: Vec<UserFacts> = in_parallel(halves.len(), |half| {
            let (users, first_session, slot) = &halves[half];
            let spans = slot.lock().ok().and_then(|mut slot| slot.take());
            let mut maturity = maturity_now.clone();
            spans.map_or_else(Vec::new, |spans| {
                user_facts(
                    dataset,
                    users.clone(),
                    *first_session,
                    spans,
                    &days,
                    &mut maturity,
                )
            })
        })
        .concat();

        log::debug!("day N, lengths and gaps in {:?}", started.elapsed());

        let rates: HashMap<(NaiveDate, String), f64> = dataset
            .rates
            .iter()
            .map(|r| ((r.date, r.currency.to_uppercase()), r.rate))
            .collect();
        let currency = settings.currency.to_uppercase();
        let spend = dataset
            .spend
            .iter()
            .map(|row| {
                let amount = match &row.currency {
                    Some(c) if c.to_uppercase() != currency => rates
                        .get(&(row.date, c.to_uppercase()))
                        .map(|rate| row.amount * rate),
                    _ => Some(row.amount),
                };
                SpendFacts {
                    date: row.date,
                    channel: channel_key(&row.channel),
                    campaign: normalize_name(&row.campaign),
                    amount,
                    max_mature_day: maturity.max_mature_day(row.date),
                }
            })
            .collect();

        let mut facts = Self {
            users,
            spans,
            spend,
            channels: Names::default(),
            campaigns: Names::default(),
            campaign_parts: Vec::new(),
            countries: Names::default(),
            platforms: Names::default(),
            app_versions: Names::default(),
        };
        let started = std::time::Instant::now();
        facts.name_attributes(dataset);
        log::debug!("attributes numbered in {:?}", started.elapsed());
        facts
    }

    /// Numbers every attribute value and finds the spelling each is shown with.
    fn name_attributes(&mut self, dataset: &Dataset) {
        let mut channels = Naming::new();
        let mut campaigns = Naming::new();
        let mut campaign_parts = Vec::new();
        let (mut countries, mut platforms, mut app_versions) =
            (Naming::new(), Naming::new(), Naming::new());
        // Users loaded with the same attributes share them: their ids are looked up once.
        let mut known: FxHashMap<usize, [u32; 5]> = FxHashMap::default();
        for (i, (user, facts)) in dataset.users.iter().zip(&mut self.users).enumerate() {
            let attrs = &user.attrs;
            let when = (user.install_ms, i);
            let shared = Arc::as_ptr(attrs).addr();
            if let Some(&[channel, campaign, country, platform, app_version]) = known.get(&shared) {
                channels.met(channel, &attrs.channel, when);
                campaigns.met(campaign, &attrs.campaign, when);
                countries.met(country, &attrs.country, when);
                platforms.met(platform, &attrs.platform, when);
                app_versions.met(app_version, &attrs.app_version, when);
                facts.channel = channel;
                facts.campaign = campaign;
                facts.country = country;
                facts.platform = platform;
                facts.app_version = app_version;
                continue;
            }
            let channel = channels.id(attrs.channel.as_str(), &attrs.channel, when, || {
                channel_key(&attrs.channel)
            });
            // A campaign is a pair: the same name in two channels is two campaigns.
            let before = campaigns.names.keys.len();
            facts.campaign = campaigns.id(
                (channel, attrs.campaign.as_str()),
                &attrs.campaign,
                when,
                || format!("{channel}\t{}", normalize_name(&attrs.campaign)),
            );
            if campaigns.names.keys.len() > before {
                campaign_parts.push((channel, normalize_name(&attrs.campaign)));
            }
            let key = |raw: &str| normalize_name(raw);
            facts.channel = channel;
            facts.country = countries.id(attrs.country.as_str(), &attrs.country, when, || {
                key(&attrs.country)
            });
            facts.platform = platforms.id(attrs.platform.as_str(), &attrs.platform, when, || {
                key(&attrs.platform)
            });
            facts.app_version =
                app_versions.id(attrs.app_version.as_str(), &attrs.app_version, when, || {
                    key(&attrs.app_version)
                });
            known.insert(
                shared,
                [
                    facts.channel,
                    facts.campaign,
                    facts.country,
                    facts.platform,
                    facts.app_version,
                ],
            );
        }
        let trimmed = |raw: &str| raw.trim().to_owned();
        self.channels = channels.finish(|raw| match raw.trim() {
            "" => ORGANIC.to_owned(),
            shown => shown.to_owned(),
        });
        self.campaigns = campaigns.finish(trimmed);
        self.campaign_parts = campaign_parts;
        self.countries = countries.finish(trimmed);
        self.platforms = platforms.finish(trimmed);
        self.app_versions = app_versions.finish(trimmed);
    }
}

/// The facts of `users`, whose sessions start at `first_session`, and the spans of those
/// sessions (`spans[0]` is `first_session`'s).
fn user_facts(
    dataset: &Dataset,
    users: Range<usize>,
    first_session: usize,
    spans: &mut [StoredSpan],
    days: &DayTable,
    maturity: &mut Maturity,
) -> Vec<UserFacts> {
    let settings = &dataset.settings;
    let end = first_session + spans.len();
    let mut facts = Vec::with_capacity(users.len());
    let mut next = first_session;
    for index in users {
        let user = &dataset.users[index];
        let first = next;
        while next < end && dataset.sessions[next].user as usize == index {
            next += 1;
        }
        let install_day = days.day_number(user.install_ms);
        // Sessions are sorted by start, so those at or after the install are a tail.
        let mut from = first;
        let own = dataset.sessions[first..next].iter();
        let own_spans = &mut spans[first - first_session..next - first_session];
        let (mut known_lengths, mut short_sessions, mut length_sum_ms) = (0u32, 0u32, 0i64);
        for ((i, session), stored) in (first..).zip(own).zip(own_spans) {
            let start_ms = session.start_ms;
            if start_ms < user.install_ms {
                from = i + 1;
                continue;
            }
            let mut span = Span::EMPTY;
            let day = match settings.day {
                DayConvention::Window => (start_ms - user.install_ms) / DAY_MS,
                DayConvention::Calendar => days.day_number(start_ms) - install_day,
            };
            span.day = u16::try_from(day).unwrap_or(NO_DAY);
            let length = session.length_ms();
            span.length = Span::fit(length);
            if i > from {
                let previous = &dataset.sessions[i - 1];
                let end = previous.end_ms().unwrap_or(previous.start_ms);
                span.gap = Span::fit(Some((start_ms - end).max(0)));
            }
            *stored = span.store();
            if let Some(length) = length {
                known_lengths += 1;
                short_sessions += u32::from(length < SHORT_SESSION_MS);
                length_sum_ms += length;
            }
        }
        let cohort_date = days.date(user.install_ms);
        facts.push(UserFacts {
            cohort_date,
            max_mature_day: maturity.max_mature_day(cohort_date),
            channel: 0,
            campaign: 0,
            country: 0,
            platform: 0,
            app_version: 0,
            sessions: from..next,
            known_lengths,
            short_sessions,
            length_sum_ms,
        });
    }
    facts
}

/// Decides, per calendar date, the largest day N that is mature (CLI.md).
#[derive(Clone)]
struct Maturity {
    convention: DayConvention,
    tz: Tz,
    data_end_ms: Option<i64>,
    cache: FxHashMap<NaiveDate, i64>,
}

impl Maturity {
    fn max_mature_day(&mut self, date: NaiveDate) -> i64 {
        let Some(end) = self.data_end_ms else {
            return -1;
        };
        let (convention, tz) = (self.convention, self.tz);
        *self.cache.entry(date).or_insert_with(|| {
            match convention {
                // Mature for N when end >= end_of(d) + (N+1) x 24 h.
                DayConvention::Window => {
                    let end_of_date = date
                        .succ_opt()
                        .map_or(i64::MAX, |next| start_of_day_ms(next, tz));
                    end.saturating_sub(end_of_date).div_euclid(DAY_MS) - 1
                }
                // Mature for N when end >= start of day d+N+1, i.e. d+N+1 <= date(end).
                DayConvention::Calendar => (local_date(end, tz) - date).num_days() - 1,
            }
            .max(-1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_span_is_kept_as_zeros_and_every_span_reads_back() {
        // Zeros are what lets the allocator hand the spans over already filled in.
        assert_eq!(Span::EMPTY.store(), [0, 0, 0]);
        let spans = [
            Span::EMPTY,
            Span {
                length: 0,
                gap: 5,
                day: 0,
            },
            Span {
                length: Span::LOOK_UP,
                gap: Span::NONE,
                day: NO_DAY - 1,
            },
        ];
        for span in spans {
            let back = Span::load(span.store());
            assert_eq!(
                (back.length, back.gap, back.day),
                (span.length, span.gap, span.day)
            );
        }
    }

    #[test]
    fn window_maturity_counts_full_days_after_the_cohort_date() {
        let date = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let at = |text: &str| crate::time::parse_instant(text, chrono_tz::UTC);
        let maturity = |end: &str, convention| {
            Maturity {
                convention,
                tz: chrono_tz::UTC,
                data_end_ms: at(end),
                cache: FxHashMap::default(),
            }
            .max_mature_day(date)
        };
        // End of 2024-01-01 is 01-02 00:00; D0 needs 01-03 00:00, D1 01-04 00:00.
        assert_eq!(maturity("2024-01-02 23:59:59", DayConvention::Window), -1);
        assert_eq!(maturity("2024-01-03 00:00:00", DayConvention::Window), 0);
        assert_eq!(maturity("2024-01-04 12:00:00", DayConvention::Window), 1);
        // Calendar: D0 needs the start of 01-02, D1 the start of 01-03.
        assert_eq!(maturity("2024-01-01 23:59:59", DayConvention::Calendar), -1);
        assert_eq!(maturity("2024-01-02 00:00:00", DayConvention::Calendar), 0);
        assert_eq!(maturity("2024-01-03 00:00:00", DayConvention::Calendar), 1);
    }
}
