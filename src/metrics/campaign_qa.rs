//! The Quality view's signals per campaign (SPEC section 7): one-and-done users, very short
//! sessions, and sessions per user D7 against the median campaign, with a plain flag.

use super::groups::by_id;
use super::sweep::{compute_groups, GroupSpec, Measure, Membership};
use super::{quantile_f64, ratio, Filter, Prepared};

/// Sessions shorter than this are "very short".
pub const SHORT_SESSION_MS: i64 = 10_000;
/// A campaign is flagged when its sessions per user D7 is below this share of the median.
pub const FLAG_SHARE_OF_MEDIAN: f64 = 0.5;
/// z for a two-sided 95% interval.
const Z95: f64 = 1.96;

/// QA signals of one campaign.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CampaignQuality {
    pub channel: String,
    pub campaign: String,
    pub installs: u64,
    /// Users with at most one session (the install session alone, or none).
    pub one_session_share: Option<f64>,
    /// Sessions under 10 s among sessions of known length.
    pub short_session_share: Option<f64>,
    pub sessions_per_user_d7: Option<f64>,
    /// `sessions_per_user_d7` divided by the median campaign's.
    pub d7_vs_median: Option<f64>,
    pub retention_d1: Option<f64>,
    pub retention_d1_ci: Option<(f64, f64)>,
    pub retention_d7: Option<f64>,
    pub retention_d7_ci: Option<(f64, f64)>,
    /// Why the campaign is flagged; empty when it is not.
    pub flags: Vec<String>,
}

/// Every campaign with at least `min_installs` installs, and the medians they are held to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CampaignQualityTable {
    pub min_installs: u64,
    pub median_sessions_per_user_d7: Option<f64>,
    pub median_one_session_share: Option<f64>,
    pub median_short_session_share: Option<f64>,
    pub rows: Vec<CampaignQuality>,
}

/// Wilson score interval for k successes out of n, at 95%.
pub fn wilson_interval(successes: u64, trials: u64) -> Option<(f64, f64)> {
    if trials == 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let (k, n) = (successes as f64, trials as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(((center - half).max(0.0), (center + half).min(1.0)))
}

pub fn campaign_quality(
    prepared: &Prepared<'_>,
    filter: &Filter,
    min_installs: u64,
) -> CampaignQualityTable {
    let users = prepared.filtered_users(filter);
    let (ids, group_of) = by_id(&users, &prepared.campaigns_by_key(), |u| {
        prepared.facts.users[u].campaign
    });
    let specs = ids
        .iter()
        .map(|_| GroupSpec {
            name: String::new(),
            spend_rows: None,
        })
        .collect();
    let members = Membership {
        users: &users,
        group_of: &group_of,
    };
    let groups = compute_groups(prepared, &members, specs, &[1, 7], Measure::Days);
    let channels = &prepared.facts.channels;

    let mut rows: Vec<CampaignQuality> = groups
        .into_iter()
        .map(|computed| (computed.metrics, computed.quality))
        .zip(ids)
        .filter(|((group, _), _)| group.installs >= min_installs)
        .map(|((group, counts), id)| {
            let id = id as usize;
            let (one_session, short, known) = (
                counts.one_session_users,
                counts.short_sessions,
                counts.known_lengths,
            );
            #[allow(clippy::cast_precision_loss)]
            let (d1, d7) = (group.day(1), group.day(7));
            CampaignQuality {
                campaign: prepared.facts.campaigns.shown[id].clone(),
                channel: channels.shown[prepared.facts.campaign_parts[id].0 as usize].clone(),
                installs: group.installs,
                #[allow(clippy::cast_precision_loss)]
                one_session_share: ratio(one_session as f64, group.installs),
                #[allow(clippy::cast_precision_loss)]
                short_session_share: ratio(short as f64, known),
                sessions_per_user_d7: d7.and_then(|d| d.sessions_per_user),
                d7_vs_median: None,
                retention_d1: d1.and_then(|d| d.retention),
                retention_d1_ci: d1.and_then(|d| wilson_interval(d.active_users, d.mature_users)),
                retention_d7: d7.and_then(|d| d.retention),
                retention_d7_ci: d7.and_then(|d| wilson_interval(d.active_users, d.mature_users)),
                flags: Vec::new(),
            }
        })
        .collect();

    let median_of = |pick: fn(&CampaignQuality) -> Option<f64>| {
        let mut values: Vec<f64> = rows.iter().filter_map(pick).collect();
        values.sort_by(f64::total_cmp);
        quantile_f64(&values, 0.5)
    };
    let median_d7 = median_of(|r| r.sessions_per_user_d7);
    let median_one = median_of(|r| r.one_session_share);
    let median_short = median_of(|r| r.short_session_share);

    for row in &mut rows {
        row.d7_vs_median = match (row.sessions_per_user_d7, median_d7) {
            (Some(value), Some(median)) if median > 0.0 => Some(value / median),
            _ => None,
        };
        if let (Some(share), Some(value), Some(median)) =
            (row.d7_vs_median, row.sessions_per_user_d7, median_d7)
        {
            if share < FLAG_SHARE_OF_MEDIAN {
                row.flags.push(format!(
                    "sessions per user by D7 {value:.2} is under half the median campaign's {median:.2}"
                ));
            }
        }
        if let (Some(share), Some(median)) = (row.one_session_share, median_one) {
            if share >= 0.5 && share > median + 0.2 {
                row.flags.push(format!(
                    "{:.0}% of users never had a second session (median campaign {:.0}%)",
                    share * 100.0,
                    median * 100.0
                ));
            }
        }
        if let (Some(share), Some(median)) = (row.short_session_share, median_short) {
            if share >= 0.2 && share > 2.0 * median {
                row.flags.push(format!(
                    "{:.0}% of sessions are under 10 s (median campaign {:.0}%)",
                    share * 100.0,
                    median * 100.0
                ));
            }
        }
    }
    rows.sort_by(|a, b| {
        b.flags.len().cmp(&a.flags.len()).then_with(|| {
            a.d7_vs_median
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.d7_vs_median.unwrap_or(f64::INFINITY))
        })
    });

    CampaignQualityTable {
        min_installs,
        median_sessions_per_user_d7: median_d7,
        median_one_session_share: median_one,
        median_short_session_share: median_short,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_matches_hand_computation() {
        // k = 5, n = 10: p = 0.5, z^2 = 3.8416; denominator 1.38416; center 0.5;
        // half = 1.96 * sqrt(0.025 + 0.009604) / 1.38416 = 0.26340.
        let (low, high) = wilson_interval(5, 10).unwrap();
        assert!((low - 0.23659).abs() < 1e-4, "{low}");
        assert!((high - 0.76341).abs() < 1e-4, "{high}");
        assert_eq!(wilson_interval(0, 0), None);
        let (low, _) = wilson_interval(0, 20).unwrap();
        assert_eq!(low, 0.0);
    }
}
