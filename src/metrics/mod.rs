//! Every number the product shows, computed from a loaded project as plain structs.
//!
//! `Prepared` does the per-project work once (each session's day N, each cohort date's
//! maturity, spend converted to the project's currency); reports, the cohort matrix and
//! the distributions then only aggregate. The command line and the window call the same
//! functions, so they always agree.

mod campaign_qa;
mod distributions;
mod groups;
mod matrix;

use std::collections::HashMap;
use std::ops::Range;

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;

use crate::model::{Dataset, DayConvention, Grain, DAY_MS};
use crate::time::{local_date, start_of_day_ms};

pub use campaign_qa::{campaign_quality, wilson_interval, CampaignQuality, CampaignQualityTable};
pub use distributions::{distributions, quality, Distributions, Histogram, QualityReport};
pub use groups::{report, DayMetrics, GroupBy, GroupMetrics, Report, ReportRequest};
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

/// Per-user facts that every metric needs.
#[derive(Clone, Debug)]
struct UserFacts {
    cohort_date: NaiveDate,
    /// The largest N for which this user's cohort date is mature; -1 when none is.
    max_mature_day: i64,
    channel: String,
    campaign: String,
    country: String,
    platform: String,
    app_version: String,
    /// This user's sessions that start at or after the install, as indexes into
    /// `Dataset::sessions`.
    sessions: Range<usize>,
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

/// A dataset with the per-session and per-user work done for its settings.
pub struct Prepared<'a> {
    pub dataset: &'a Dataset,
    pub tz: Tz,
    pub data_end_ms: Option<i64>,
    users: Vec<UserFacts>,
    /// Day N of each session; `None` for sessions before the install.
    session_day: Vec<Option<u32>>,
    spend: Vec<SpendFacts>,
}

impl<'a> Prepared<'a> {
    pub fn new(dataset: &'a Dataset) -> Self {
        let settings = &dataset.settings;
        let tz = settings.zone();
        let data_end_ms = dataset.data_end_ms();
        let mut maturity = Maturity {
            convention: settings.day,
            tz,
            data_end_ms,
            cache: HashMap::new(),
        };

        let mut session_day = vec![None; dataset.sessions.len()];
        let mut users = Vec::with_capacity(dataset.users.len());
        let mut next = 0;
        for (index, user) in dataset.users.iter().enumerate() {
            let first = next;
            while next < dataset.sessions.len() && dataset.sessions[next].user as usize == index {
                next += 1;
            }
            let install_date = local_date(user.install_ms, tz);
            // Sessions are sorted by start, so those at or after the install are a tail.
            let mut from = first;
            for (i, session) in dataset.sessions.iter().enumerate().take(next).skip(first) {
                if session.start_ms < user.install_ms {
                    from = i + 1;
                    continue;
                }
                let day = match settings.day {
                    DayConvention::Window => (session.start_ms - user.install_ms) / DAY_MS,
                    DayConvention::Calendar => {
                        (local_date(session.start_ms, tz) - install_date).num_days()
                    }
                };
                session_day[i] = u32::try_from(day).ok();
            }
            users.push(UserFacts {
                cohort_date: install_date,
                max_mature_day: maturity.max_mature_day(install_date),
                channel: channel_key(&user.attrs.channel),
                campaign: normalize_name(&user.attrs.campaign),
                country: normalize_name(&user.attrs.country),
                platform: normalize_name(&user.attrs.platform),
                app_version: normalize_name(&user.attrs.app_version),
                sessions: from..next,
            });
        }

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

        Self {
            dataset,
            tz,
            data_end_ms,
            users,
            session_day,
            spend,
        }
    }

    fn user_matches(&self, index: usize, filter: &Filter) -> bool {
        let facts = &self.users[index];
        let same = |wanted: &Option<String>, value: &str, is_channel: bool| {
            wanted.as_ref().is_none_or(|w| {
                let w = if is_channel {
                    channel_key(w)
                } else {
                    normalize_name(w)
                };
                w == value
            })
        };
        filter.install_from.is_none_or(|d| facts.cohort_date >= d)
            && filter.install_to.is_none_or(|d| facts.cohort_date <= d)
            && same(&filter.channel, &facts.channel, true)
            && same(&filter.campaign, &facts.campaign, false)
            && same(&filter.country, &facts.country, false)
            && same(&filter.platform, &facts.platform, false)
            && same(&filter.app_version, &facts.app_version, false)
    }

    /// Users that pass the filter, in key order.
    fn filtered_users(&self, filter: &Filter) -> Vec<usize> {
        (0..self.users.len())
            .filter(|&i| self.user_matches(i, filter))
            .collect()
    }

    /// Spend rows that the filter keeps (by channel, campaign and date), or `None` when
    /// the filter splits users on something spend rows do not carry.
    fn filtered_spend(&self, filter: &Filter) -> Option<Vec<usize>> {
        if filter.splits_spend() {
            return None;
        }
        let keep = |row: &SpendFacts| {
            filter.install_from.is_none_or(|d| row.date >= d)
                && filter.install_to.is_none_or(|d| row.date <= d)
                && filter
                    .channel
                    .as_ref()
                    .is_none_or(|c| channel_key(c) == row.channel)
                && filter
                    .campaign
                    .as_ref()
                    .is_none_or(|c| normalize_name(c) == row.campaign)
        };
        Some(
            (0..self.spend.len())
                .filter(|&i| keep(&self.spend[i]))
                .collect(),
        )
    }

    /// The display spelling of each key: the spelling on the earliest install.
    fn spelling<K: std::hash::Hash + Eq>(
        &self,
        key_of: impl Fn(&UserFacts) -> K,
        raw_of: impl Fn(usize) -> String,
    ) -> HashMap<K, String> {
        let mut order: Vec<usize> = (0..self.users.len()).collect();
        order.sort_by_key(|&i| (self.dataset.users[i].install_ms, i));
        let mut names = HashMap::new();
        for i in order {
            names
                .entry(key_of(&self.users[i]))
                .or_insert_with(|| raw_of(i));
        }
        names
    }

    /// The spelling of each channel key on its earliest install (`organic` for none).
    fn channel_spelling(&self) -> HashMap<String, String> {
        self.spelling(
            |f| f.channel.clone(),
            |i| {
                let raw = self.dataset.users[i].attrs.channel.trim();
                if raw.is_empty() {
                    ORGANIC.to_owned()
                } else {
                    raw.to_owned()
                }
            },
        )
    }

    /// The spelling of each (channel, campaign) pair on its earliest install.
    fn campaign_spelling(&self) -> HashMap<(String, String), String> {
        self.spelling(
            |f| (f.channel.clone(), f.campaign.clone()),
            |i| self.dataset.users[i].attrs.campaign.trim().to_owned(),
        )
    }
}

/// The values the global filters can take, with their display spelling.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
        let users = &self.dataset.users;
        let distinct = |key: fn(&UserFacts) -> &str, raw: fn(&crate::model::Attributes) -> &str| {
            let names = self.spelling(
                |f| key(f).to_owned(),
                |i| raw(&users[i].attrs).trim().to_owned(),
            );
            let mut values: Vec<String> = names.into_values().filter(|v| !v.is_empty()).collect();
            values.sort_by_key(|v| v.to_lowercase());
            values
        };
        let channel_names = self.channel_spelling();
        let mut channels: Vec<String> = channel_names.values().cloned().collect();
        channels.sort_by_key(|v| v.to_lowercase());

        let pairs = self.campaign_spelling();
        let mut campaigns: Vec<(String, String)> = pairs
            .into_iter()
            .filter(|(_, shown)| !shown.is_empty())
            .map(|((channel, _), shown)| {
                (
                    channel_names.get(&channel).cloned().unwrap_or(channel),
                    shown,
                )
            })
            .collect();
        campaigns.sort_by_key(|(c, m)| (c.to_lowercase(), m.to_lowercase()));

        Facets {
            first_install: self.users.iter().map(|u| u.cohort_date).min(),
            last_install: self.users.iter().map(|u| u.cohort_date).max(),
            channels,
            campaigns,
            countries: distinct(|f| f.country.as_str(), |a| &a.country),
            platforms: distinct(|f| f.platform.as_str(), |a| &a.platform),
            app_versions: distinct(|f| f.app_version.as_str(), |a| &a.app_version),
        }
    }
}

/// Decides, per calendar date, the largest day N that is mature (CLI.md).
struct Maturity {
    convention: DayConvention,
    tz: Tz,
    data_end_ms: Option<i64>,
    cache: HashMap<NaiveDate, i64>,
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

    #[test]
    fn window_maturity_counts_full_days_after_the_cohort_date() {
        let date = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let at = |text: &str| crate::time::parse_instant(text, chrono_tz::UTC);
        let maturity = |end: &str, convention| {
            Maturity {
                convention,
                tz: chrono_tz::UTC,
                data_end_ms: at(end),
                cache: HashMap::new(),
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
