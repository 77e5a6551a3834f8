//! Metrics per group of users (all, cohort, channel, campaign, country, platform, app
//! version): the `report` of CLI.md and the rows of the Channels and Campaigns views.

use std::collections::BTreeMap;

use crate::model::{Attributes, Grain, Session};

use super::{period_label, period_start, quantile, ratio, Filter, Prepared, UserFacts};

/// What the users are grouped by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GroupBy {
    #[default]
    None,
    Cohort,
    Channel,
    Campaign,
    Country,
    Platform,
    AppVersion,
}

impl GroupBy {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "none" => Self::None,
            "cohort" => Self::Cohort,
            "channel" => Self::Channel,
            "campaign" => Self::Campaign,
            "country" => Self::Country,
            "platform" => Self::Platform,
            "app_version" | "version" => Self::AppVersion,
            _ => return None,
        })
    }
}

/// What a report covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRequest {
    pub by: GroupBy,
    pub grain: Grain,
    pub days: Vec<u32>,
    pub filter: Filter,
}

impl Default for ReportRequest {
    fn default() -> Self {
        Self {
            by: GroupBy::None,
            grain: Grain::Day,
            days: vec![0, 1, 7, 30],
            filter: Filter::default(),
        }
    }
}

/// The day-N figures of one group. Only users whose cohort date is mature for N count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DayMetrics {
    pub day: u32,
    /// Users whose cohort date is mature for this day.
    pub mature_users: u64,
    /// Sessions on days 0..=N, of mature users.
    pub sessions_through: u64,
    pub sessions_on_day: u64,
    /// Mature users with a session on day N.
    pub active_users: u64,
    /// Cumulative sessions per user.
    pub sessions_per_user: Option<f64>,
    pub sessions_per_user_on_day: Option<f64>,
    pub retention: Option<f64>,
    /// Seconds of known session length through day N per user.
    pub time_per_user_s: Option<f64>,
    /// Spend on dates mature for N.
    pub mature_spend: Option<f64>,
    /// 1000 x spend / sessions through day N.
    pub cpm_sessions: Option<f64>,
    /// 1000 x spend / sessions on day N alone.
    pub cpm_sessions_on_day: Option<f64>,
}

/// Every metric of one group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupMetrics {
    /// `all`, a cohort label, or the name as first seen.
    pub name: String,
    pub channel: Option<String>,
    pub campaign: Option<String>,
    pub installs: u64,
    /// Sessions starting at or after the install.
    pub sessions: u64,
    pub days: Vec<DayMetrics>,
    pub avg_session_length_s: Option<f64>,
    pub median_session_length_s: Option<f64>,
    pub p90_session_length_s: Option<f64>,
    pub median_time_between_sessions_s: Option<f64>,
    pub spend: Option<f64>,
    pub cpi: Option<f64>,
}

impl GroupMetrics {
    pub fn day(&self, day: u32) -> Option<&DayMetrics> {
        self.days.iter().find(|d| d.day == day)
    }
}

/// A report: settings in force and one entry per group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub groups: Vec<GroupMetrics>,
}

/// Groups the filtered users and computes every metric of each group.
pub fn report(prepared: &Prepared<'_>, request: &ReportRequest) -> Report {
    let users = prepared.filtered_users(&request.filter);
    let spend = prepared.filtered_spend(&request.filter);
    let names = |attr: Attr| {
        prepared.spelling(
            |f: &UserFacts| attr.key(f).to_owned(),
            |i| attr.shown(&prepared.dataset.users[i].attrs),
        )
    };

    let mut groups: Vec<GroupMetrics> = match request.by {
        GroupBy::None => vec![compute(
            prepared,
            "all".to_owned(),
            &users,
            spend.as_deref(),
            &request.days,
        )],
        GroupBy::Cohort => {
            let mut by_period: BTreeMap<chrono::NaiveDate, Vec<usize>> = BTreeMap::new();
            for &u in &users {
                by_period
                    .entry(period_start(prepared.users[u].cohort_date, request.grain))
                    .or_default()
                    .push(u);
            }
            by_period
                .into_iter()
                .map(|(start, members)| {
                    let in_period = spend.as_ref().map(|rows| {
                        rows.iter()
                            .copied()
                            .filter(|&r| {
                                period_start(prepared.spend[r].date, request.grain) == start
                            })
                            .collect::<Vec<_>>()
                    });
                    compute(
                        prepared,
                        period_label(start, request.grain),
                        &members,
                        in_period.as_deref(),
                        &request.days,
                    )
                })
                .collect()
        }
        GroupBy::Channel => {
            let names = names(Attr::Channel);
            let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for &u in &users {
                by_key
                    .entry(prepared.users[u].channel.clone())
                    .or_default()
                    .push(u);
            }
            by_key
                .into_iter()
                .map(|(key, members)| {
                    let rows = spend.as_ref().map(|rows| {
                        rows.iter()
                            .copied()
                            .filter(|&r| prepared.spend[r].channel == key)
                            .collect::<Vec<_>>()
                    });
                    let name = names.get(&key).cloned().unwrap_or(key);
                    let mut g = compute(
                        prepared,
                        name.clone(),
                        &members,
                        rows.as_deref(),
                        &request.days,
                    );
                    g.channel = Some(name);
                    g
                })
                .collect()
        }
        GroupBy::Campaign => {
            let channel_names = names(Attr::Channel);
            let mut by_key: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
            for &u in &users {
                let f = &prepared.users[u];
                by_key
                    .entry((f.channel.clone(), f.campaign.clone()))
                    .or_default()
                    .push(u);
            }
            let campaign_names = prepared.campaign_spelling();
            by_key
                .into_iter()
                .map(|((channel, campaign), members)| {
                    let rows = spend.as_ref().map(|rows| {
                        rows.iter()
                            .copied()
                            .filter(|&r| {
                                prepared.spend[r].channel == channel
                                    && prepared.spend[r].campaign == campaign
                            })
                            .collect::<Vec<_>>()
                    });
                    let campaign_name = campaign_names
                        .get(&(channel.clone(), campaign.clone()))
                        .cloned()
                        .unwrap_or(campaign);
                    let channel_name = channel_names.get(&channel).cloned().unwrap_or(channel);
                    let mut g = compute(
                        prepared,
                        campaign_name.clone(),
                        &members,
                        rows.as_deref(),
                        &request.days,
                    );
                    g.channel = Some(channel_name);
                    g.campaign = Some(campaign_name);
                    g
                })
                .collect()
        }
        GroupBy::Country | GroupBy::Platform | GroupBy::AppVersion => {
            let attr = match request.by {
                GroupBy::Country => Attr::Country,
                GroupBy::Platform => Attr::Platform,
                _ => Attr::AppVersion,
            };
            let names = names(attr);
            let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for &u in &users {
                by_key
                    .entry(attr.key(&prepared.users[u]).to_owned())
                    .or_default()
                    .push(u);
            }
            by_key
                .into_iter()
                .map(|(key, members)| {
                    let name = names.get(&key).cloned().unwrap_or(key);
                    // Spend rows carry no country, platform or version.
                    compute(prepared, name, &members, None, &request.days)
                })
                .collect()
        }
    };

    if !matches!(request.by, GroupBy::None | GroupBy::Cohort) {
        groups.sort_by(|a, b| {
            b.installs
                .cmp(&a.installs)
                .then_with(|| a.name.cmp(&b.name))
        });
    }
    Report { groups }
}

/// A user attribute that users can be grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attr {
    Channel,
    Country,
    Platform,
    AppVersion,
}

impl Attr {
    /// The grouping key: trimmed, case ignored, empty channel as organic.
    fn key(self, facts: &UserFacts) -> &str {
        match self {
            Self::Channel => &facts.channel,
            Self::Country => &facts.country,
            Self::Platform => &facts.platform,
            Self::AppVersion => &facts.app_version,
        }
    }

    /// The name as a user wrote it, trimmed.
    fn shown(self, attrs: &Attributes) -> String {
        let raw = match self {
            Self::Channel => &attrs.channel,
            Self::Country => &attrs.country,
            Self::Platform => &attrs.platform,
            Self::AppVersion => &attrs.app_version,
        };
        match raw.trim() {
            "" if self == Self::Channel => super::ORGANIC.to_owned(),
            trimmed => trimmed.to_owned(),
        }
    }
}

/// Counts per day N, for users mature for N, built with difference arrays so that each
/// session is visited once.
struct DayCounts {
    mature_users: Vec<i64>,
    through: Vec<i64>,
    time_through_ms: Vec<i64>,
    on_day: Vec<u64>,
    active: Vec<u64>,
    spend: Vec<f64>,
    spend_rows: Vec<i64>,
}

impl DayCounts {
    fn new(max_day: usize) -> Self {
        Self {
            mature_users: vec![0; max_day + 2],
            through: vec![0; max_day + 2],
            time_through_ms: vec![0; max_day + 2],
            on_day: vec![0; max_day + 1],
            active: vec![0; max_day + 1],
            spend: vec![0.0; max_day + 2],
            spend_rows: vec![0; max_day + 2],
        }
    }

    /// Running sums turn the difference arrays into per-day values.
    fn finish(&mut self) {
        for values in [
            &mut self.mature_users,
            &mut self.through,
            &mut self.time_through_ms,
            &mut self.spend_rows,
        ] {
            for i in 1..values.len() {
                values[i] += values[i - 1];
            }
        }
        for i in 1..self.spend.len() {
            self.spend[i] += self.spend[i - 1];
        }
    }
}

/// All metrics of one set of users and spend rows (`None`: spend is not defined).
pub(super) fn compute(
    prepared: &Prepared<'_>,
    name: String,
    users: &[usize],
    spend_rows: Option<&[usize]>,
    days: &[u32],
) -> GroupMetrics {
    let max_day = days.iter().copied().max().unwrap_or(0) as usize;
    let mut counts = DayCounts::new(max_day);
    let mut lengths: Vec<i64> = Vec::new();
    let mut gaps: Vec<i64> = Vec::new();
    let mut sessions = 0u64;
    let mut active_day = vec![false; max_day + 1];

    for &u in users {
        let facts = &prepared.users[u];
        // The largest N this user counts for, capped at the last requested day.
        let mature = usize::try_from(facts.max_mature_day)
            .ok()
            .map(|m| m.min(max_day));
        if let Some(m) = mature {
            counts.mature_users[0] += 1;
            counts.mature_users[m + 1] -= 1;
        }
        active_day.fill(false);

        let mut previous: Option<&Session> = None;
        for i in facts.sessions.clone() {
            let session = &prepared.dataset.sessions[i];
            sessions += 1;
            let length = session.length_ms();
            if let Some(length) = length {
                lengths.push(length);
            }
            if let Some(prev) = previous {
                let prev_end = prev.end_ms.unwrap_or(prev.start_ms);
                gaps.push((session.start_ms - prev_end).max(0));
            }
            previous = Some(session);

            let (Some(m), Some(day)) = (mature, prepared.session_day[i]) else {
                continue;
            };
            let day = day as usize;
            if day > m {
                continue;
            }
            counts.through[day] += 1;
            counts.through[m + 1] -= 1;
            counts.on_day[day] += 1;
            if let Some(length) = length {
                counts.time_through_ms[day] += length;
                counts.time_through_ms[m + 1] -= length;
            }
            if !active_day[day] {
                active_day[day] = true;
                counts.active[day] += 1;
            }
        }
    }

    let mut spend_total: Option<f64> = None;
    for &r in spend_rows.unwrap_or(&[]) {
        let row = &prepared.spend[r];
        let Some(amount) = row.amount else {
            continue; // other currency without a rate: reported in the quality report
        };
        *spend_total.get_or_insert(0.0) += amount;
        if let Ok(m) = usize::try_from(row.max_mature_day) {
            let m = m.min(max_day);
            counts.spend[0] += amount;
            counts.spend[m + 1] -= amount;
            counts.spend_rows[0] += 1;
            counts.spend_rows[m + 1] -= 1;
        }
    }
    counts.finish();

    lengths.sort_unstable();
    gaps.sort_unstable();
    let installs = users.len() as u64;
    let seconds = |ms: f64| ms / 1000.0;
    #[allow(clippy::cast_precision_loss)]
    let length_sum = lengths.iter().sum::<i64>() as f64;

    let day_metrics = days
        .iter()
        .map(|&day| {
            let n = day as usize;
            let mature_users = u64::try_from(counts.mature_users[n]).unwrap_or(0);
            let through = u64::try_from(counts.through[n]).unwrap_or(0);
            let on_day = counts.on_day[n];
            let spend =
                (spend_rows.is_some() && counts.spend_rows[n] > 0).then_some(counts.spend[n]);
            #[allow(clippy::cast_precision_loss)]
            DayMetrics {
                day,
                mature_users,
                sessions_through: through,
                sessions_on_day: on_day,
                active_users: counts.active[n],
                sessions_per_user: ratio(through as f64, mature_users),
                sessions_per_user_on_day: ratio(on_day as f64, mature_users),
                retention: ratio(counts.active[n] as f64, mature_users),
                time_per_user_s: ratio(seconds(counts.time_through_ms[n] as f64), mature_users),
                mature_spend: spend,
                cpm_sessions: spend.and_then(|s| ratio(1000.0 * s, through)),
                cpm_sessions_on_day: spend.and_then(|s| ratio(1000.0 * s, on_day)),
            }
        })
        .collect();

    GroupMetrics {
        name,
        channel: None,
        campaign: None,
        installs,
        sessions,
        days: day_metrics,
        avg_session_length_s: ratio(seconds(length_sum), lengths.len() as u64),
        median_session_length_s: quantile(&lengths, 0.5).map(seconds),
        p90_session_length_s: quantile(&lengths, 0.9).map(seconds),
        median_time_between_sessions_s: quantile(&gaps, 0.5).map(seconds),
        spend: spend_total,
        cpi: spend_total.and_then(|s| ratio(s, installs)),
    }
}
