//! The cohort matrix: cohort rows by day-N columns, with maturity per cell and an average
//! row that weights mature cells by installs.

use chrono::NaiveDate;

use crate::model::Grain;

use super::groups::{by_period, DayMetrics};
use super::sweep::{compute_groups, GroupSpec, Measure, Membership};
use super::{period_label, period_start, Filter, Prepared};

/// The value shown in each cell.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum MatrixMetric {
    #[default]
    Retention,
    SessionsPerUser,
    SessionsPerUserOnDay,
    TimePerUser,
    CpmSessions,
    CpmSessionsOnDay,
}

impl MatrixMetric {
    pub const ALL: [Self; 6] = [
        Self::Retention,
        Self::SessionsPerUser,
        Self::SessionsPerUserOnDay,
        Self::TimePerUser,
        Self::CpmSessions,
        Self::CpmSessionsOnDay,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Retention => "Retention",
            Self::SessionsPerUser => "Sessions per user (through day N)",
            Self::SessionsPerUserOnDay => "Sessions per user (on day N)",
            Self::TimePerUser => "Time per user, seconds (through day N)",
            Self::CpmSessions => "CPM sessions (through day N)",
            Self::CpmSessionsOnDay => "CPM sessions (on day N)",
        }
    }

    pub fn value(self, day: &DayMetrics) -> Option<f64> {
        match self {
            Self::Retention => day.retention,
            Self::SessionsPerUser => day.sessions_per_user,
            Self::SessionsPerUserOnDay => day.sessions_per_user_on_day,
            Self::TimePerUser => day.time_per_user_s,
            Self::CpmSessions => day.cpm_sessions,
            Self::CpmSessionsOnDay => day.cpm_sessions_on_day,
        }
    }
}

/// One cell: its value over the users mature for its day, and whether all users are.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MatrixCell {
    pub value: Option<f64>,
    /// Every user of the cohort has had N+1 full days: the value is final.
    pub mature: bool,
}

/// One cohort row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CohortRow {
    pub label: String,
    pub start: Option<NaiveDate>,
    pub installs: u64,
    pub cells: Vec<MatrixCell>,
}

/// The matrix: rows, and the install-weighted average of mature cells per column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matrix {
    pub metric: MatrixMetric,
    pub grain: Grain,
    pub max_day: u32,
    pub rows: Vec<CohortRow>,
    pub average: Vec<Option<f64>>,
}

pub fn cohort_matrix(
    prepared: &Prepared<'_>,
    filter: &Filter,
    grain: Grain,
    metric: MatrixMetric,
    max_day: u32,
) -> Matrix {
    let days: Vec<u32> = (0..=max_day).collect();
    let spend = prepared.filtered_spend(filter);
    let users = prepared.filtered_users(filter);
    let (starts, group_of) = by_period(prepared, &users, grain);
    let specs = starts
        .iter()
        .map(|&start| GroupSpec {
            name: period_label(start, grain),
            spend_rows: spend.as_ref().map(|rows| {
                rows.iter()
                    .copied()
                    .filter(|&r| period_start(prepared.facts.spend[r].date, grain) == start)
                    .collect()
            }),
        })
        .collect();
    let members = Membership {
        users: &users,
        group_of: &group_of,
    };
    let groups = compute_groups(prepared, &members, specs, &days, Measure::Days);

    let rows: Vec<CohortRow> = groups
        .into_iter()
        .zip(starts)
        .map(|(computed, start)| (computed.metrics, start))
        .map(|(group, start)| CohortRow {
            start: Some(start),
            installs: group.installs,
            cells: group
                .days
                .iter()
                .map(|d| MatrixCell {
                    value: metric.value(d),
                    mature: d.mature_users == group.installs && group.installs > 0,
                })
                .collect(),
            label: group.name,
        })
        .collect();

    let average = (0..days.len())
        .map(|n| {
            let (weighted, installs) = rows
                .iter()
                .filter_map(|row| {
                    let cell = row.cells.get(n)?;
                    #[allow(clippy::cast_precision_loss)]
                    cell.mature
                        .then_some(cell.value)
                        .flatten()
                        .map(|v| (v * row.installs as f64, row.installs))
                })
                .fold((0.0, 0u64), |(s, i), (v, n)| (s + v, i + n));
            super::ratio(weighted, installs)
        })
        .collect();

    Matrix {
        metric,
        grain,
        max_day,
        rows,
        average,
    }
}
