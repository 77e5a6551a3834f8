//! Every group's metrics in one pass over the sessions, in the order they sit in memory.
//!
//! A report by channel or campaign visits the same sessions as a report of all users;
//! walking them once, in order, and adding each user's sessions to its group's counts
//! keeps a 10-million-session project inside the memory bandwidth of a laptop. The users
//! are split among the processor's cores, and each part's sums are added up at the end.

use std::sync::OnceLock;

use super::distributions::{self, Distributions};
use super::groups::{DayMetrics, GroupMetrics};
use super::spread::Spread;
use super::{ratio, Prepared};

/// One group to compute: its name and its spend rows (`None`: spend is not defined).
pub(super) struct GroupSpec {
    pub name: String,
    pub spend_rows: Option<Vec<usize>>,
}

/// Counts that the Quality view needs beside a group's metrics.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SessionCounts {
    /// Users with at most one session.
    pub one_session_users: u64,
    pub short_sessions: u64,
    pub known_lengths: u64,
}

/// What a pass measures beside the day-N counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Measure {
    /// Day-N counts only (the cohort matrix, the Quality view).
    Days,
    /// And the length and gap quantiles (a report).
    Quantiles,
    /// And the histograms of the Sessions view (the overview: one pass for both).
    QuantilesAndBins,
}

/// One group's results.
pub(super) struct Computed {
    pub metrics: GroupMetrics,
    pub quality: SessionCounts,
    /// With `Measure::QuantilesAndBins` only.
    pub distributions: Option<Distributions>,
}

/// Users and the group each belongs to, in ascending user order.
#[derive(Clone, Copy)]
pub(super) struct Membership<'u> {
    pub users: &'u [usize],
    pub group_of: &'u [u32],
}

impl<'u> Membership<'u> {
    pub(super) fn pairs(self) -> impl Iterator<Item = (usize, usize)> + 'u {
        let groups = self.group_of.iter().map(|&g| g as usize);
        self.users.iter().copied().zip(groups)
    }

    /// About equal consecutive parts, one per core (one for few users).
    pub(super) fn parts(self) -> Vec<Self> {
        const USERS_WORTH_A_THREAD: usize = 20_000;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let count = cores
            .clamp(1, 4)
            .min(self.users.len() / USERS_WORTH_A_THREAD)
            .max(1);
        if count == 1 {
            return vec![self]; // no users at all is one (empty) part too
        }
        let size = self.users.len().div_ceil(count);
        self.users
            .chunks(size)
            .zip(self.group_of.chunks(size))
            .map(|(users, group_of)| Self { users, group_of })
            .collect()
    }
}

/// Runs `work` on every part (see `metrics::in_parallel`), results in part order.
pub(super) fn on_parts<T: Send>(
    parts: &[Membership<'_>],
    work: impl Fn(Membership<'_>) -> T + Sync,
) -> Vec<T> {
    super::in_parallel(parts.len(), |index| work(parts[index]))
}

/// Computes every group at once, measuring what `measure` asks for.
pub(super) fn compute_groups(
    prepared: &Prepared<'_>,
    members: &Membership<'_>,
    groups: Vec<GroupSpec>,
    days: &[u32],
    measure: Measure,
) -> Vec<Computed> {
    let spread = measure != Measure::Days;
    let bins = measure == Measure::QuantilesAndBins;
    let max_day = days.iter().copied().max().unwrap_or(0) as usize;
    let parts = members.parts();

    // Every part counts a group the same way (kept or bucketed), so the parts add up.
    let mut expected = vec![0usize; groups.len()];
    if spread {
        for (u, g) in members.pairs() {
            expected[g] += prepared.facts.users[u].sessions.len();
        }
    }
    let mut sums = on_parts(&parts, |part| {
        let mut sums: Vec<Sums> = expected
            .iter()
            .map(|&e| Sums::new(max_day, spread, bins, e))
            .collect();
        for (u, g) in part.pairs() {
            sums[g].add_user(prepared, u, max_day);
        }
        sums
    })
    .into_iter()
    .reduce(|mut all, part| {
        for (group, more) in all.iter_mut().zip(part) {
            group.absorb(more);
        }
        all
    })
    .unwrap_or_default(); // never empty: there is always one part

    // Large groups count values in buckets; a second pass fetches the few they need.
    let mut second_pass = false;
    let (length_cuts, gap_cuts): (&[i64], &[i64]) = if bins {
        (&distributions::LENGTH_CUTS_MS, &distributions::GAP_CUTS_MS)
    } else {
        (&[], &[])
    };
    for group in &mut sums {
        group.gather = spread
            && (group.lengths.plan(&[0.5, 0.9], length_cuts) | group.gaps.plan(&[0.5], gap_cuts));
        second_pass |= group.gather;
    }
    if second_pass {
        let sums_ref = &sums;
        let gathered = on_parts(&parts, |part| {
            let mut found: Vec<(Spread, Spread)> = sums_ref
                .iter()
                .map(|g| (g.lengths.gathering(), g.gaps.gathering()))
                .collect();
            for (u, g) in part.pairs() {
                if sums_ref[g].gather {
                    let (lengths, gaps) = &mut found[g];
                    gather_user(prepared, u, lengths, gaps);
                }
            }
            found
        });
        for part in gathered {
            for (group, (lengths, gaps)) in sums.iter_mut().zip(part) {
                group.lengths.absorb(lengths);
                group.gaps.absorb(gaps);
            }
        }
    }

    sums.into_iter()
        .zip(groups)
        .map(|(group, spec)| group.finish(prepared, spec, days, max_day))
        .collect()
}

/// Offers a user's session lengths and gaps to the second pass.
fn gather_user(prepared: &Prepared<'_>, user: usize, lengths: &mut Spread, gaps: &mut Spread) {
    for i in prepared.facts.users[user].sessions.clone() {
        if let Some(length) = prepared.length(i) {
            lengths.gather(length);
        }
        if let Some(gap) = prepared.gap(i) {
            gaps.gather(gap);
        }
    }
}

/// What one group has added up so far.
struct Sums {
    installs: u64,
    sessions: u64,
    counts: DayCounts,
    lengths: Spread,
    gaps: Spread,
    length_sum: i64,
    spread: bool,
    /// Users by their sessions-per-user bin, when the histograms are asked for.
    per_user: Option<Vec<u64>>,
    gather: bool,
    quality: SessionCounts,
}

impl Sums {
    fn new(max_day: usize, spread: bool, bins: bool, expected: usize) -> Self {
        Self {
            installs: 0,
            sessions: 0,
            counts: DayCounts::new(max_day),
            lengths: Spread::with_expected(expected),
            gaps: Spread::with_expected(expected),
            length_sum: 0,
            spread,
            per_user: bins.then(|| vec![0; distributions::SESSIONS_PER_USER_BINS.len()]),
            gather: false,
            quality: SessionCounts::default(),
        }
    }

    fn add_user(&mut self, prepared: &Prepared<'_>, user: usize, max_day: usize) {
        let facts = &prepared.facts.users[user];
        let sessions = facts.sessions.clone();
        self.installs += 1;
        self.sessions += sessions.len() as u64;
        self.quality.one_session_users += u64::from(sessions.len() <= 1);
        self.quality.known_lengths += u64::from(facts.known_lengths);
        self.quality.short_sessions += u64::from(facts.short_sessions);
        self.length_sum += facts.length_sum_ms;
        if let Some(per_user) = &mut self.per_user {
            per_user[distributions::sessions_per_user_bin(sessions.len())] += 1;
        }
        if self.spread {
            for i in sessions {
                if let Some(length) = prepared.length(i) {
                    self.lengths.add(length);
                }
                if let Some(gap) = prepared.gap(i) {
                    self.gaps.add(gap);
                }
            }
        }

        // The largest N this user counts for, capped at the last requested day.
        let Some(mature) = usize::try_from(facts.max_mature_day)
            .ok()
            .map(|m| m.min(max_day))
        else {
            return;
        };
        let counts = &mut self.counts;
        counts.mature_users[0] += 1;
        counts.mature_users[mature + 1] -= 1;

        // Per-user totals live in locals: adding to `self` per session would make every
        // session wait for the previous one's store (a third of a 10 M-session query).
        let (mut counted, mut counted_ms) = (0i64, 0i64);
        let mut last_day = usize::MAX;
        for i in facts.sessions.clone() {
            let day = usize::from(prepared.facts.day(i));
            if day > mature {
                break; // sessions come by start: their days N never go down
            }
            counts.through[day] += 1;
            counts.on_day[day] += 1;
            counted += 1;
            if let Some(length) = prepared.length(i) {
                counts.time_through_ms[day] += length;
                counted_ms += length;
            }
            if day != last_day {
                counts.active[day] += 1;
                last_day = day;
            }
        }
        // Each counted session stops counting after the user's last mature day.
        counts.through[mature + 1] -= counted;
        counts.time_through_ms[mature + 1] -= counted_ms;
    }

    /// Adds another part's sums of the same group.
    fn absorb(&mut self, other: Self) {
        self.installs += other.installs;
        self.sessions += other.sessions;
        self.counts.absorb(&other.counts);
        self.lengths.absorb(other.lengths);
        self.gaps.absorb(other.gaps);
        self.length_sum += other.length_sum;
        if let (Some(mine), Some(theirs)) = (&mut self.per_user, other.per_user) {
            mine.iter_mut().zip(theirs).for_each(|(a, b)| *a += b);
        }
        self.quality.one_session_users += other.quality.one_session_users;
        self.quality.short_sessions += other.quality.short_sessions;
        self.quality.known_lengths += other.quality.known_lengths;
    }

    fn finish(
        mut self,
        prepared: &Prepared<'_>,
        spec: GroupSpec,
        days: &[u32],
        max_day: usize,
    ) -> Computed {
        let distributions = self
            .per_user
            .as_deref()
            .map(|per_user| Distributions::from_spreads(&self.lengths, &self.gaps, per_user));
        let counts = &mut self.counts;
        let mut spend_total: Option<f64> = None;
        for &r in spec.spend_rows.as_deref().unwrap_or(&[]) {
            let row = &prepared.facts.spend[r];
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

        let has_spend = spec.spend_rows.is_some();
        let seconds = |ms: f64| ms / 1000.0;
        let day_metrics = days
            .iter()
            .map(|&day| {
                let n = day as usize;
                let mature_users = u64::try_from(counts.mature_users[n]).unwrap_or(0);
                let through = u64::try_from(counts.through[n]).unwrap_or(0);
                let on_day = counts.on_day[n];
                let spend = (has_spend && counts.spend_rows[n] > 0).then_some(counts.spend[n]);
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

        let metrics = GroupMetrics {
            name: spec.name,
            channel: None,
            campaign: None,
            installs: self.installs,
            sessions: self.sessions,
            days: day_metrics,
            #[allow(clippy::cast_precision_loss)]
            avg_session_length_s: ratio(
                seconds(self.length_sum as f64),
                self.quality.known_lengths,
            ),
            median_session_length_s: self.lengths.quantile(0.5).map(seconds),
            p90_session_length_s: self.lengths.quantile(0.9).map(seconds),
            median_time_between_sessions_s: self.gaps.quantile(0.5).map(seconds),
            spend: spend_total,
            cpi: spend_total.and_then(|s| ratio(s, self.installs)),
        };
        Computed {
            metrics,
            quality: self.quality,
            distributions,
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

    /// Adds another part's counts (spend is added only when finishing).
    fn absorb(&mut self, other: &Self) {
        for (mine, theirs) in [
            (&mut self.mature_users, &other.mature_users),
            (&mut self.through, &other.through),
            (&mut self.time_through_ms, &other.time_through_ms),
        ] {
            mine.iter_mut().zip(theirs).for_each(|(a, b)| *a += b);
        }
        for (mine, theirs) in [
            (&mut self.on_day, &other.on_day),
            (&mut self.active, &other.active),
        ] {
            mine.iter_mut().zip(theirs).for_each(|(a, b)| *a += b);
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

/// The length and gap quantiles of one group, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct SpreadFigures {
    pub median_length_s: Option<f64>,
    pub p90_length_s: Option<f64>,
    pub median_gap_s: Option<f64>,
}

impl SpreadFigures {
    pub(super) fn of_metrics(metrics: &GroupMetrics) -> Self {
        Self {
            median_length_s: metrics.median_session_length_s,
            p90_length_s: metrics.p90_session_length_s,
            median_gap_s: metrics.median_time_between_sessions_s,
        }
    }

    /// Puts these figures in a group's metrics.
    pub(super) fn fill(self, metrics: &mut GroupMetrics) {
        metrics.median_session_length_s = self.median_length_s;
        metrics.p90_session_length_s = self.p90_length_s;
        metrics.median_time_between_sessions_s = self.median_gap_s;
    }
}

/// What no filter changes, kept once a query without a filter has counted it: the
/// quantiles of all users, of each channel and of each campaign, and the histograms of
/// all users. The next overview, Channels or Campaigns without a filter then makes one
/// pass for its day-N figures only.
#[derive(Default)]
pub(super) struct Unfiltered {
    pub all: OnceLock<SpreadFigures>,
    pub distributions: OnceLock<Distributions>,
    /// By channel id.
    pub channels: OnceLock<Vec<SpreadFigures>>,
    /// By campaign (channel and campaign pair) id.
    pub campaigns: OnceLock<Vec<SpreadFigures>>,
}

/// Each group's figures by its id, from a report of every user by that id; ids without
/// users have none.
pub(super) fn figures_by_id(
    groups: &[GroupMetrics],
    ids: &[u32],
    len: usize,
) -> Vec<SpreadFigures> {
    let mut by_id = vec![SpreadFigures::default(); len];
    for (group, &id) in groups.iter().zip(ids) {
        if let Some(slot) = by_id.get_mut(id as usize) {
            *slot = SpreadFigures::of_metrics(group);
        }
    }
    by_id
}
