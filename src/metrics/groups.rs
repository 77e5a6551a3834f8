//! Metrics per group of users (all, cohort, channel, campaign, country, platform, app
//! version): the `report` of CLI.md and the rows of the Channels and Campaigns views.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::Grain;

use super::distributions::Distributions;
use super::sweep::{
    compute_groups, figures_by_id, Computed, GroupSpec, Measure, Membership, SpreadFigures,
};
use super::{period_label, period_start, Filter, Prepared, UserFacts};

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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub groups: Vec<GroupMetrics>,
}

/// The report of all filtered users (`by` is ignored) and their distributions, from
/// one pass over their sessions: the overview. Equal to `report` and `distributions`.
pub fn report_with_distributions(
    prepared: &Prepared<'_>,
    request: &ReportRequest,
) -> (Report, Distributions) {
    let users = prepared.filtered_users(&request.filter);
    let spec = GroupSpec {
        name: "all".to_owned(),
        spend_rows: prepared.filtered_spend(&request.filter),
    };
    let group_of = vec![0; users.len()];
    let members = Membership {
        users: &users,
        group_of: &group_of,
    };
    // Without a filter, the quantiles and histograms of an earlier overview stand.
    let everyone = prepared.is_everyone(&users);
    let kept = &prepared.unfiltered;
    if let (true, Some(all), Some(distributions)) =
        (everyone, kept.all.get(), kept.distributions.get())
    {
        let computed = compute_groups(prepared, &members, vec![spec], &request.days, Measure::Days);
        let mut groups = only_metrics(computed);
        groups.iter_mut().for_each(|g| all.fill(g));
        return (Report { groups }, distributions.clone());
    }
    let measure = Measure::QuantilesAndBins;
    match compute_groups(prepared, &members, vec![spec], &request.days, measure).pop() {
        Some(Computed {
            metrics,
            distributions: Some(distributions),
            ..
        }) => {
            if everyone {
                let _ = kept.all.set(SpreadFigures::of_metrics(&metrics));
                let _ = kept.distributions.set(distributions.clone());
            }
            (
                Report {
                    groups: vec![metrics],
                },
                distributions,
            )
        }
        // One group in, one group with its histograms out.
        _ => (Report::default(), Distributions::default()),
    }
}

/// Groups the filtered users and computes every metric of each group.
pub fn report(prepared: &Prepared<'_>, request: &ReportRequest) -> Report {
    let users = prepared.filtered_users(&request.filter);
    let spend = prepared.filtered_spend(&request.filter);
    // Spend rows of a group, when spend is defined for the filter at all.
    let spend_where = |keep: &dyn Fn(&super::SpendFacts) -> bool| {
        spend.as_ref().map(|rows| {
            rows.iter()
                .copied()
                .filter(|&r| keep(&prepared.facts.spend[r]))
                .collect::<Vec<_>>()
        })
    };
    // Without a filter, all users, channels and campaigns take their quantiles from an
    // earlier report without a filter (see `sweep::Unfiltered`), or keep theirs for later.
    let everyone = prepared.is_everyone(&users);
    let kept = &prepared.unfiltered;
    let known = everyone
        && match request.by {
            GroupBy::None => kept.all.get().is_some(),
            GroupBy::Channel => kept.channels.get().is_some(),
            GroupBy::Campaign => kept.campaigns.get().is_some(),
            _ => false,
        };
    let measure = if known {
        Measure::Days
    } else {
        Measure::Quantiles
    };
    let run = |group_of: Vec<u32>, specs: Vec<GroupSpec>| {
        let members = Membership {
            users: &users,
            group_of: &group_of,
        };
        compute_groups(prepared, &members, specs, &request.days, measure)
    };

    let mut groups: Vec<GroupMetrics> = match request.by {
        GroupBy::None => {
            let spec = GroupSpec {
                name: "all".to_owned(),
                spend_rows: spend.clone(),
            };
            let mut groups = only_metrics(run(vec![0; users.len()], vec![spec]));
            if let (true, Some(all)) = (known, kept.all.get()) {
                groups.iter_mut().for_each(|g| all.fill(g));
            } else if let (true, Some(group)) = (everyone, groups.first()) {
                let _ = kept.all.set(SpreadFigures::of_metrics(group));
            }
            groups
        }
        GroupBy::Cohort => {
            let (starts, group_of) = by_period(prepared, &users, request.grain);
            let specs = starts
                .iter()
                .map(|&start| GroupSpec {
                    name: period_label(start, request.grain),
                    spend_rows: spend_where(&|row| period_start(row.date, request.grain) == start),
                })
                .collect();
            only_metrics(run(group_of, specs))
        }
        GroupBy::Channel => {
            let names = &prepared.facts.channels;
            let (ids, group_of) =
                by_id(&users, &names.by_key(), |u| prepared.facts.users[u].channel);
            let specs = ids
                .iter()
                .map(|&id| GroupSpec {
                    name: names.shown[id as usize].clone(),
                    spend_rows: spend_where(&|row| row.channel == names.keys[id as usize]),
                })
                .collect();
            let mut groups = only_metrics(run(group_of, specs));
            keep_or_fill(
                &kept.channels,
                known,
                everyone,
                &mut groups,
                &ids,
                names.keys.len(),
            );
            groups
                .into_iter()
                .map(|mut g| {
                    g.channel = Some(g.name.clone());
                    g
                })
                .collect()
        }
        GroupBy::Campaign => {
            let channels = &prepared.facts.channels;
            let (ids, group_of) = by_id(&users, &prepared.campaigns_by_key(), |u| {
                prepared.facts.users[u].campaign
            });
            let specs = ids
                .iter()
                .map(|&id| {
                    let (channel, campaign) = &prepared.facts.campaign_parts[id as usize];
                    let channel_key = &channels.keys[*channel as usize];
                    GroupSpec {
                        name: prepared.facts.campaigns.shown[id as usize].clone(),
                        spend_rows: spend_where(&|row| {
                            row.channel == *channel_key && row.campaign == *campaign
                        }),
                    }
                })
                .collect();
            let mut groups = only_metrics(run(group_of, specs));
            let campaigns = prepared.facts.campaign_parts.len();
            keep_or_fill(
                &kept.campaigns,
                known,
                everyone,
                &mut groups,
                &ids,
                campaigns,
            );
            groups
                .into_iter()
                .zip(&ids)
                .map(|(mut g, &id)| {
                    let channel = prepared.facts.campaign_parts[id as usize].0;
                    g.channel = Some(channels.shown[channel as usize].clone());
                    g.campaign = Some(g.name.clone());
                    g
                })
                .collect()
        }
        GroupBy::Country | GroupBy::Platform | GroupBy::AppVersion => {
            let (names, id_of): (_, fn(&UserFacts) -> u32) = match request.by {
                GroupBy::Country => (&prepared.facts.countries, |f| f.country),
                GroupBy::Platform => (&prepared.facts.platforms, |f| f.platform),
                _ => (&prepared.facts.app_versions, |f| f.app_version),
            };
            let (ids, group_of) =
                by_id(&users, &names.by_key(), |u| id_of(&prepared.facts.users[u]));
            let specs = ids
                .iter()
                .map(|&id| GroupSpec {
                    name: names.shown[id as usize].clone(),
                    // Spend rows carry no country, platform or version.
                    spend_rows: None,
                })
                .collect();
            only_metrics(run(group_of, specs))
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

/// Fills the groups' quantiles from the kept figures when they are `known`; otherwise,
/// when the groups are of `everyone`, keeps their figures for the next report.
fn keep_or_fill(
    kept: &OnceLock<Vec<SpreadFigures>>,
    known: bool,
    everyone: bool,
    groups: &mut [GroupMetrics],
    ids: &[u32],
    len: usize,
) {
    match kept.get() {
        Some(figures) if known => {
            for (group, &id) in groups.iter_mut().zip(ids) {
                if let Some(figures) = figures.get(id as usize) {
                    figures.fill(group);
                }
            }
        }
        _ if everyone => {
            let _ = kept.set(figures_by_id(groups, ids, len));
        }
        _ => {}
    }
}

fn only_metrics(groups: Vec<Computed>) -> Vec<GroupMetrics> {
    groups
        .into_iter()
        .map(|computed| computed.metrics)
        .collect()
}

/// The ids that have users, in the order `order` lists them, and the place of each user's
/// id in that list.
pub(super) fn by_id(
    users: &[usize],
    order: &[u32],
    id_of: impl Fn(usize) -> u32,
) -> (Vec<u32>, Vec<u32>) {
    let size = order.iter().map(|&id| id as usize + 1).max().unwrap_or(0);
    let mut used = vec![false; size];
    for &u in users {
        if let Some(slot) = used.get_mut(id_of(u) as usize) {
            *slot = true;
        }
    }
    let ids: Vec<u32> = order
        .iter()
        .copied()
        .filter(|&id| used[id as usize])
        .collect();
    let mut place = vec![0u32; size];
    for (position, &id) in ids.iter().enumerate() {
        place[id as usize] = position as u32;
    }
    let group_of = users.iter().map(|&u| place[id_of(u) as usize]).collect();
    (ids, group_of)
}

/// The cohort periods that have users, oldest first, and the period of each user.
pub(super) fn by_period(
    prepared: &Prepared<'_>,
    users: &[usize],
    grain: Grain,
) -> (Vec<NaiveDate>, Vec<u32>) {
    let period = |u: usize| period_start(prepared.facts.users[u].cohort_date, grain);
    let starts: Vec<NaiveDate> = users
        .iter()
        .map(|&u| period(u))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let place: HashMap<NaiveDate, u32> = starts
        .iter()
        .enumerate()
        .map(|(i, &start)| (start, i as u32))
        .collect();
    let group_of = users.iter().map(|&u| place[&period(u)]).collect();
    (starts, group_of)
}
