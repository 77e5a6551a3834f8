//! Every number the product shows, computed from a loaded project as plain structs.
//!
//! `Prepared` does the per-project work once (each session's day N, each cohort date's
//! maturity, spend converted to the project's currency); reports, the cohort matrix and
//! the distributions then only aggregate. The command line and the window call the same
//! functions, so they always agree.

mod campaign_qa;
mod distributions;
mod facts;
mod groups;
mod matrix;
mod spread;
mod sweep;

use std::ops::Range;

use chrono::{Datelike, NaiveDate};

use crate::model::{Dataset, Grain};

use facts::{Facts, Names};

pub use campaign_qa::{campaign_quality, wilson_interval, CampaignQuality, CampaignQualityTable};
pub use distributions::{
    distributions, distributions_by, quality, Distributions, Histogram, QualityReport,
};
pub use groups::{
    report, report_with_distributions, DayMetrics, GroupBy, GroupMetrics, Report, ReportRequest,
};
pub use matrix::{cohort_matrix, CohortRow, Matrix, MatrixCell, MatrixMetric};

/// Channel name for users and spend rows without one (SPEC section 6).
pub const ORGANIC: &str = "organic";

/// How names are compared: trimmed, case ignored.
pub fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The channel key of a raw channel value: empty is organic.
pub fn channel_key(channel: &str) -> String {
    let key = normalize_name(channel);
    if key.is_empty() {
        ORGANIC.to_owned()
    } else {
        key
    }
}

/// Which users count: every field is optional; names compare trimmed and case-insensitive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Cohort dates (install dates in the reporting zone), inclusive.
    pub install_from: Option<NaiveDate>,
    pub install_to: Option<NaiveDate>,
    pub channel: Option<String>,
    pub campaign: Option<String>,
    pub country: Option<String>,
    pub platform: Option<String>,
    pub app_version: Option<String>,
}

impl Filter {
    /// Filters on fields that spend rows do not carry make spend unknowable.
    fn splits_spend(&self) -> bool {
        self.country.is_some() || self.platform.is_some() || self.app_version.is_some()
    }
}

/// An id no value has: a filter on a value nobody has matches no user.
const NO_MATCH: u32 = u32::MAX;

/// Per-user facts that every metric needs; attributes are ids into `Prepared`'s names.
#[derive(Clone, Debug)]
struct UserFacts {
    cohort_date: NaiveDate,
    /// The largest N for which this user's cohort date is mature; -1 when none is.
    max_mature_day: i64,
    channel: u32,
    /// The (channel, campaign) pair.
    campaign: u32,
    country: u32,
    platform: u32,
    app_version: u32,
    /// This user's sessions that start at or after the install, as indexes into
    /// `Dataset::sessions`.
    sessions: Range<usize>,
    /// Of those sessions: how many have a known length, how many of them are short
    /// (campaign QA), and their summed length. Every query wants them.
    known_lengths: u32,
    short_sessions: u32,
    length_sum_ms: i64,
}

/// A spend row ready to be summed.
#[derive(Clone, Debug)]
struct SpendFacts {
    date: NaiveDate,
    channel: String,
    campaign: String,
    /// In the project's currency; `None` when the row's currency has no rate.
    amount: Option<f64>,
    max_mature_day: i64,
}

/// Day N of a session before the install (or beyond any day a report asks for).
const NO_DAY: u16 = u16::MAX;

/// What every query reads of a session, in 12 bytes instead of the 24 of `Session`: a
/// 10-million-session query is bound by how many bytes it reads.
#[derive(Clone, Copy, Debug)]
struct Span {
    /// Milliseconds; `NONE` when unknown, `LOOK_UP` when it does not fit.
    length: u32,
    /// From the end of the user's previous session; `NONE` for the first.
    gap: u32,
    day: u16,
}

/// A span as `Facts::spans` keeps it: every field bitwise inverted, so that an empty span
/// is all zeros. A vector of zeros comes zeroed from the allocator, untouched until
/// written: 10 M spans need no pass over 120 MB to fill them in before the two halves
/// of the users write theirs, each on its own core.
type StoredSpan = [u32; 3];

impl Span {
    const NONE: u32 = u32::MAX;
    /// Too long (about 50 days) or negative: read it from the session itself.
    const LOOK_UP: u32 = u32::MAX - 1;
    const EMPTY: Self = Self {
        length: Self::NONE,
        gap: Self::NONE,
        day: NO_DAY,
    };

    /// The span as `Facts::spans` keeps it.
    fn store(self) -> StoredSpan {
        [!self.length, !self.gap, u32::from(!self.day)]
    }

    fn load(stored: StoredSpan) -> Self {
        Self {
            length: !stored[0],
            gap: !stored[1],
            day: !u16::try_from(stored[2]).unwrap_or(0),
        }
    }

    fn fit(ms: Option<i64>) -> u32 {
        match ms {
            None => Self::NONE,
            Some(ms) => u32::try_from(ms)
                .ok()
                .filter(|&v| v < Self::LOOK_UP)
                .unwrap_or(Self::LOOK_UP),
        }
    }
}

/// The dataset a `Prepared` reads: borrowed for a one-off report, owned by the window's
/// query worker, which keeps one between queries.
enum Source<'a> {
    Borrowed(&'a Dataset),
    Owned(Box<Dataset>),
}

impl Source<'_> {
    fn get(&self) -> &Dataset {
        match self {
            Self::Borrowed(dataset) => dataset,
            Self::Owned(dataset) => dataset,
        }
    }
}

/// A dataset with the per-session and per-user work done for its settings, once: every
/// query after that only aggregates.
pub struct Prepared<'a> {
    source: Source<'a>,
    facts: Facts,
    /// The figures no filter changes, kept once counted.
    unfiltered: sweep::Unfiltered,
}

/// A filter with its names turned into ids once, so each user is checked with integers.
struct Matcher {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    channel: Option<u32>,
    /// Which campaign pairs carry the wanted campaign name.
    campaigns: Option<Vec<bool>>,
    country: Option<u32>,
    platform: Option<u32>,
    app_version: Option<u32>,
}

impl Prepared<'static> {
    /// Prepares a dataset and keeps it.
    pub fn owning(dataset: Dataset) -> Self {
        Self::build(Source::Owned(Box::new(dataset)))
    }
}

impl<'a> Prepared<'a> {
    pub fn new(dataset: &'a Dataset) -> Self {
        Self::build(Source::Borrowed(dataset))
    }

    pub fn dataset(&self) -> &Dataset {
        self.source.get()
    }

    /// The length of session `i`, in milliseconds.
    #[inline]
    fn length(&self, i: usize) -> Option<i64> {
        match Span::load(self.facts.spans[i]).length {
            Span::NONE => None,
            Span::LOOK_UP => self.dataset().sessions[i].length_ms(),
            ms => Some(i64::from(ms)),
        }
    }

    /// The time from the end of the previous session of the same user (its start when its
    /// length is unknown) to the start of session `i`; never negative, `None` for a user's
    /// first session.
    #[inline]
    fn gap(&self, i: usize) -> Option<i64> {
        match Span::load(self.facts.spans[i]).gap {
            Span::NONE => None,
            Span::LOOK_UP => {
                let sessions = &self.dataset().sessions;
                let previous = &sessions[i.checked_sub(1)?];
                let end = previous.end_ms().unwrap_or(previous.start_ms);
                Some((sessions[i].start_ms - end).max(0))
            }
            ms => Some(i64::from(ms)),
        }
    }

    fn build(source: Source<'a>) -> Self {
        let facts = Facts::of(source.get());
        Self {
            source,
            facts,
            unfiltered: sweep::Unfiltered::default(),
        }
    }
}

impl Prepared<'_> {
    /// Campaign pair ids in (channel key, campaign key) order.
    fn campaigns_by_key(&self) -> Vec<u32> {
        let key_of = |id: u32| {
            let (channel, campaign) = &self.facts.campaign_parts[id as usize];
            (&self.facts.channels.keys[*channel as usize], campaign)
        };
        let mut ids: Vec<u32> = (0..self.facts.campaign_parts.len() as u32).collect();
        ids.sort_by(|&a, &b| key_of(a).cmp(&key_of(b)));
        ids
    }

    fn matcher(&self, filter: &Filter) -> Matcher {
        let id = |names: &Names, wanted: &Option<String>| {
            wanted.as_ref().map(|w| names.id(&normalize_name(w)))
        };
        Matcher {
            from: filter.install_from,
            to: filter.install_to,
            channel: filter
                .channel
                .as_ref()
                .map(|c| self.facts.channels.id(&channel_key(c))),
            campaigns: filter.campaign.as_ref().map(|c| {
                let wanted = normalize_name(c);
                self.facts
                    .campaign_parts
                    .iter()
                    .map(|(_, key)| *key == wanted)
                    .collect()
            }),
            country: id(&self.facts.countries, &filter.country),
            platform: id(&self.facts.platforms, &filter.platform),
            app_version: id(&self.facts.app_versions, &filter.app_version),
        }
    }

    /// Whether these users (from `filtered_users`) are every user: no filter at all.
    fn is_everyone(&self, users: &[usize]) -> bool {
        users.len() == self.facts.users.len()
    }

    /// Users that pass the filter, in key order.
    fn filtered_users(&self, filter: &Filter) -> Vec<usize> {
        let m = self.matcher(filter);
        let is = |wanted: Option<u32>, value: u32| wanted.is_none_or(|w| w == value);
        (0..self.facts.users.len())
            .filter(|&i| {
                let f = &self.facts.users[i];
                m.from.is_none_or(|d| f.cohort_date >= d)
                    && m.to.is_none_or(|d| f.cohort_date <= d)
                    && is(m.channel, f.channel)
                    && m.campaigns
                        .as_ref()
                        .is_none_or(|pairs| pairs[f.campaign as usize])
                    && is(m.country, f.country)
                    && is(m.platform, f.platform)
                    && is(m.app_version, f.app_version)
            })
            .collect()
    }

    /// Spend rows that the filter keeps (by channel, campaign and date), or `None` when
    /// the filter splits users on something spend rows do not carry.
    fn filtered_spend(&self, filter: &Filter) -> Option<Vec<usize>> {
        if filter.splits_spend() {
            return None;
        }
        let channel = filter.channel.as_deref().map(channel_key);
        let campaign = filter.campaign.as_deref().map(normalize_name);
        let keep = |row: &SpendFacts| {
            filter.install_from.is_none_or(|d| row.date >= d)
                && filter.install_to.is_none_or(|d| row.date <= d)
                && channel.as_ref().is_none_or(|c| *c == row.channel)
                && campaign.as_ref().is_none_or(|c| *c == row.campaign)
        };
        Some(
            (0..self.facts.spend.len())
                .filter(|&i| keep(&self.facts.spend[i]))
                .collect(),
        )
    }
}

/// The values the global filters can take, with their display spelling.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Facets {
    pub first_install: Option<NaiveDate>,
    pub last_install: Option<NaiveDate>,
    pub channels: Vec<String>,
    /// (channel, campaign), both as shown.
    pub campaigns: Vec<(String, String)>,
    pub countries: Vec<String>,
    pub platforms: Vec<String>,
    pub app_versions: Vec<String>,
}

impl Prepared<'_> {
    /// Every value of every filter, sorted by name.
    pub fn facets(&self) -> Facets {
        let mut channels = self.facts.channels.shown.clone();
        channels.sort_by_key(|v| v.to_lowercase());

        let mut campaigns: Vec<(String, String)> = self
            .facts
            .campaign_parts
            .iter()
            .zip(&self.facts.campaigns.shown)
            .filter(|(_, shown)| !shown.is_empty())
            .map(|((channel, _), shown)| {
                (
                    self.facts.channels.shown[*channel as usize].clone(),
                    shown.clone(),
                )
            })
            .collect();
        campaigns.sort_by_key(|(c, m)| (c.to_lowercase(), m.to_lowercase()));

        Facets {
            first_install: self.facts.users.iter().map(|u| u.cohort_date).min(),
            last_install: self.facts.users.iter().map(|u| u.cohort_date).max(),
            channels,
            campaigns,
            countries: self.facts.countries.sorted_shown(),
            platforms: self.facts.platforms.sorted_shown(),
            app_versions: self.facts.app_versions.sorted_shown(),
        }
    }
}

/// Runs `work(0)` .. `work(count - 1)`, the first on this thread and the others on named
/// threads of their own, and returns the results in order. Without a thread to be had,
/// this thread does that part too.
fn in_parallel<T: Send>(count: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let work = &work;
        let spawned: Vec<_> = (1..count)
            .map(|index| {
                let handle = std::thread::Builder::new()
                    .name("query-part".to_owned())
                    .spawn_scoped(scope, move || work(index));
                (index, handle)
            })
            .collect();
        let mut results: Vec<T> = (0..count.min(1)).map(work).collect();
        for (index, handle) in spawned {
            results.push(match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => work(index),
            });
        }
        results
    })
}

/// The first date of the period that holds `date`.
pub fn period_start(date: NaiveDate, grain: Grain) -> NaiveDate {
    match grain {
        Grain::Day => date,
        Grain::Week => {
            date - chrono::Duration::days(i64::from(date.weekday().num_days_from_monday()))
        }
        Grain::Month => date.with_day(1).unwrap_or(date),
    }
}

/// How a period is named: `YYYY-MM-DD` for days and weeks (the Monday), `YYYY-MM` for months.
pub fn period_label(start: NaiveDate, grain: Grain) -> String {
    match grain {
        Grain::Day | Grain::Week => start.format("%Y-%m-%d").to_string(),
        Grain::Month => start.format("%Y-%m").to_string(),
    }
}

/// The q-quantile of sorted values with linear interpolation between ranks, so that the
/// median of an even count is the mean of the two middle values.
#[allow(clippy::cast_precision_loss)] // lengths in ms stay far below 2^52
pub fn quantile(sorted: &[i64], q: f64) -> Option<f64> {
    quantile_by(sorted.len(), |i| sorted[i] as f64, q)
}

/// `quantile` for sorted floating-point values.
pub fn quantile_f64(sorted: &[f64], q: f64) -> Option<f64> {
    quantile_by(sorted.len(), |i| sorted[i], q)
}

fn quantile_by(len: usize, value: impl Fn(usize) -> f64, q: f64) -> Option<f64> {
    if len == 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let position = q.clamp(0.0, 1.0) * (len - 1) as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0 <= position < len
    let below = position.floor() as usize;
    let above = (below + 1).min(len - 1);
    let (a, b) = (value(below), value(above));
    Some(a + (b - a) * (position - position.floor()))
}

/// `numerator / denominator`, `None` for a zero denominator (never 0, inf or NaN).
#[allow(clippy::cast_precision_loss)]
pub fn ratio(numerator: f64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator / denominator as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7], 0.9), Some(7.0));
        // Even count: mean of 2 and 4.
        assert_eq!(quantile(&[1, 2, 4, 10], 0.5), Some(3.0));
        // 0.9 x 3 = 2.7: 4 + 0.7 x (10 - 4) = 8.2.
        let p90 = quantile(&[1, 2, 4, 10], 0.9).unwrap();
        assert!((p90 - 8.2).abs() < 1e-9);
    }

    #[test]
    fn periods_start_on_monday_and_the_first_of_the_month() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 14).unwrap(); // a Thursday
        assert_eq!(
            period_label(period_start(d, Grain::Week), Grain::Week),
            "2024-03-11"
        );
        assert_eq!(
            period_label(period_start(d, Grain::Month), Grain::Month),
            "2024-03"
        );
    }

    #[test]
    fn zero_denominator_is_none() {
        assert_eq!(ratio(5.0, 0), None);
        assert_eq!(ratio(5.0, 2), Some(2.5));
    }
}
