//! Fixed-bin distributions (SPEC section 6) and the data-quality report.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::BuildStats;

use super::groups::{by_id, GroupBy};
use super::spread::Spread;
use super::sweep::{on_parts, Membership};
use super::{Filter, Prepared};

/// Session length bins in seconds; each bin's upper bound is inclusive.
pub const SESSION_LENGTH_BINS: [&str; 8] = [
    "0-10 s",
    "11-30 s",
    "31-60 s",
    "61-180 s",
    "181-600 s",
    "601-1800 s",
    "1801-3600 s",
    "over 3600 s",
];
const SESSION_LENGTH_UPPER_MS: [i64; 7] = [
    10_000, 30_000, 60_000, 180_000, 600_000, 1_800_000, 3_600_000,
];

/// Time between sessions bins; each bin's lower bound is inclusive.
pub const TIME_BETWEEN_BINS: [&str; 7] = [
    "under 1 h",
    "1-24 h",
    "24-48 h",
    "2-7 days",
    "7-14 days",
    "14-30 days",
    "over 30 days",
];
const TIME_BETWEEN_UPPER_MS: [i64; 6] = [
    HOUR_MS,
    24 * HOUR_MS,
    48 * HOUR_MS,
    168 * HOUR_MS,
    336 * HOUR_MS,
    720 * HOUR_MS,
];
const HOUR_MS: i64 = 3_600_000;

/// Each length bin's last value: counts at most these split the lengths into the bins.
pub(super) const LENGTH_CUTS_MS: [i64; 7] = SESSION_LENGTH_UPPER_MS;

/// Each gap bin's last value (its upper bound is exclusive; gaps are whole milliseconds).
pub(super) const GAP_CUTS_MS: [i64; 6] = {
    let mut cuts = TIME_BETWEEN_UPPER_MS;
    let mut i = 0;
    while i < cuts.len() {
        cuts[i] -= 1;
        i += 1;
    }
    cuts
};

/// Sessions per user bins (sessions at or after the install, any day).
pub const SESSIONS_PER_USER_BINS: [&str; 9] = [
    "0", "1", "2", "3", "4-5", "6-10", "11-20", "21-50", "over 50",
];
const SESSIONS_PER_USER_UPPER: [u64; 8] = [0, 1, 2, 3, 5, 10, 20, 50];

/// Counts per labelled bin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    #[serde(deserialize_with = "known_labels")]
    pub labels: Vec<&'static str>,
    pub counts: Vec<u64>,
}

/// Bin labels read back from a remembered view: each must be one of this version's.
fn known_labels<'de, D: Deserializer<'de>>(input: D) -> Result<Vec<&'static str>, D::Error> {
    let known = || {
        SESSION_LENGTH_BINS
            .iter()
            .chain(&TIME_BETWEEN_BINS)
            .chain(&SESSIONS_PER_USER_BINS)
    };
    Vec::<String>::deserialize(input)?
        .iter()
        .map(|label| {
            known()
                .find(|k| **k == label.as_str())
                .copied()
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("a bin this version does not have: {label}"))
                })
        })
        .collect()
}

impl Histogram {
    fn new(labels: &[&'static str]) -> Self {
        Self {
            labels: labels.to_vec(),
            counts: vec![0; labels.len()],
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The three histograms of the Sessions view.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distributions {
    pub session_length: Histogram,
    pub time_between_sessions: Histogram,
    pub sessions_per_user: Histogram,
}

pub fn distributions(prepared: &Prepared<'_>, filter: &Filter) -> Distributions {
    let users = prepared.filtered_users(filter);
    let one_group = vec![0; users.len()];
    let members = Membership {
        users: &users,
        group_of: &one_group,
    };
    of_groups(prepared, members, 1)
        .pop()
        .unwrap_or_else(Distributions::empty)
}

/// The distributions of each channel or campaign (any other `by`: of all users), largest
/// group first, ties by name: the split Sessions view.
pub fn distributions_by(
    prepared: &Prepared<'_>,
    filter: &Filter,
    by: GroupBy,
) -> Vec<(String, Distributions)> {
    let users = prepared.filtered_users(filter);
    let facts = &prepared.facts;
    let (names, group_of): (Vec<String>, Vec<u32>) = match by {
        GroupBy::Channel => {
            let (ids, group_of) =
                by_id(&users, &facts.channels.by_key(), |u| facts.users[u].channel);
            let names = ids
                .iter()
                .map(|&id| facts.channels.shown[id as usize].clone())
                .collect();
            (names, group_of)
        }
        GroupBy::Campaign => {
            let (ids, group_of) = by_id(&users, &prepared.campaigns_by_key(), |u| {
                facts.users[u].campaign
            });
            let names = ids
                .iter()
                .map(|&id| facts.campaigns.shown[id as usize].clone())
                .collect();
            (names, group_of)
        }
        _ => (vec!["all users".to_owned()], vec![0; users.len()]),
    };
    let members = Membership {
        users: &users,
        group_of: &group_of,
    };
    let counted = of_groups(prepared, members, names.len());
    let mut groups: Vec<(String, Distributions)> = names.into_iter().zip(counted).collect();
    groups.sort_by(|(a, x), (b, y)| {
        let installs = |d: &Distributions| d.sessions_per_user.total();
        installs(y).cmp(&installs(x)).then_with(|| a.cmp(b))
    });
    groups
}

/// The distributions of each group, the users split among the cores.
fn of_groups(
    prepared: &Prepared<'_>,
    members: Membership<'_>,
    groups: usize,
) -> Vec<Distributions> {
    let parts = on_parts(&members.parts(), |part| {
        let mut out: Vec<Distributions> = (0..groups).map(|_| Distributions::empty()).collect();
        for (u, g) in part.pairs() {
            if let Some(group) = out.get_mut(g) {
                group.add_user(prepared, u);
            }
        }
        out
    });
    let mut all: Vec<Distributions> = (0..groups).map(|_| Distributions::empty()).collect();
    for part in parts {
        for (group, more) in all.iter_mut().zip(part) {
            for (mine, theirs) in [
                (&mut group.session_length, more.session_length),
                (&mut group.time_between_sessions, more.time_between_sessions),
                (&mut group.sessions_per_user, more.sessions_per_user),
            ] {
                mine.counts
                    .iter_mut()
                    .zip(theirs.counts)
                    .for_each(|(a, b)| *a += b);
            }
        }
    }
    all
}

impl Distributions {
    fn empty() -> Self {
        Self {
            session_length: Histogram::new(&SESSION_LENGTH_BINS),
            time_between_sessions: Histogram::new(&TIME_BETWEEN_BINS),
            sessions_per_user: Histogram::new(&SESSIONS_PER_USER_BINS),
        }
    }
    /// The histograms from a group's lengths and gaps, planned and gathered with the
    /// cuts above, and its users counted by `sessions_per_user_bin`.
    pub(super) fn from_spreads(lengths: &Spread, gaps: &Spread, per_user: &[u64]) -> Self {
        let mut out = Self::empty();
        fill_between_cuts(&mut out.session_length, lengths, &LENGTH_CUTS_MS);
        fill_between_cuts(&mut out.time_between_sessions, gaps, &GAP_CUTS_MS);
        out.sessions_per_user.counts.copy_from_slice(per_user);
        out
    }

    /// Adds one user and their sessions.
    fn add_user(&mut self, prepared: &Prepared<'_>, u: usize) {
        let range = prepared.facts.users[u].sessions.clone();
        self.sessions_per_user.counts[sessions_per_user_bin(range.len())] += 1;

        for i in range {
            // The bin is the number of bounds the value is past: bounds ascend, and
            // counting them all (no early exit) spares a mispredicted branch per session.
            if let Some(length) = prepared.length(i) {
                // Whole milliseconds: `length <= upper s` compares exactly in integers.
                let bin = SESSION_LENGTH_UPPER_MS
                    .iter()
                    .filter(|&&upper| length > upper)
                    .count();
                self.session_length.counts[bin] += 1;
            }
            if let Some(gap) = prepared.gap(i) {
                let bin = TIME_BETWEEN_UPPER_MS
                    .iter()
                    .filter(|&&upper| gap >= upper)
                    .count();
                self.time_between_sessions.counts[bin] += 1;
            }
        }
    }
}

/// The sessions-per-user bin of a user with `count` sessions.
pub(super) fn sessions_per_user_bin(count: usize) -> usize {
    SESSIONS_PER_USER_UPPER
        .iter()
        .position(|&upper| count as u64 <= upper)
        .unwrap_or(SESSIONS_PER_USER_UPPER.len())
}

/// Bin i holds the values after cut i-1 up to cut i; the last bin, the values after
/// the last cut.
fn fill_between_cuts(histogram: &mut Histogram, spread: &Spread, cuts: &[i64]) {
    let mut before = 0;
    for (count, &cut) in histogram.counts.iter_mut().zip(cuts) {
        let through = spread.at_most(cut);
        *count = through - before;
        before = through;
    }
    if let Some(last) = histogram.counts.get_mut(cuts.len()) {
        *last = spread.len() - before;
    }
}

/// Everything that was not counted as a plain, clean row, with its reason.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub build: BuildStats,
    /// Spend rows whose channel (and campaign, when given) match no user.
    pub unmatched_spend_rows: u64,
    pub unmatched_spend_amount: f64,
    /// Currency -> (rows, amount in that currency) left out for want of a rate.
    pub currency_left_out: BTreeMap<String, (u64, f64)>,
}

pub fn quality(prepared: &Prepared<'_>) -> QualityReport {
    let mut report = QualityReport {
        rejected_by_reason: prepared.dataset().rejected_by_reason.clone(),
        build: prepared.dataset().stats.clone(),
        ..QualityReport::default()
    };
    // Every channel and pair in the names belongs to at least one user.
    let pairs: HashSet<(u32, &str)> = prepared
        .facts
        .campaign_parts
        .iter()
        .map(|(channel, campaign)| (*channel, campaign.as_str()))
        .collect();
    for (facts, row) in prepared.facts.spend.iter().zip(&prepared.dataset().spend) {
        let channel = prepared.facts.channels.id(&facts.channel);
        let matched = channel != super::NO_MATCH
            && (facts.campaign.is_empty() || pairs.contains(&(channel, facts.campaign.as_str())));
        if !matched {
            report.unmatched_spend_rows += 1;
            report.unmatched_spend_amount += facts.amount.unwrap_or(0.0);
        }
        if facts.amount.is_none() {
            let currency = row.currency.clone().unwrap_or_default();
            let entry = report.currency_left_out.entry(currency).or_default();
            entry.0 += 1;
            entry.1 += row.amount;
        }
    }
    report
}
