#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The metrics API on small in-memory datasets (SPEC sections 4-6, CLI.md definitions).
//!
//! These tests build `cohort_explorer::model::Dataset` directly (users sorted by key,
//! sessions sorted by user then start, `Session::user` indexing `users`) and call the
//! library: `metrics::report`, `Filter`, `metrics::cohort_matrix`, `metrics::distributions`,
//! `metrics::quality`, `metrics::campaign_quality` and `Prepared::facets`. They cover what
//! the command-line tests (tests/cli_*.rs) cannot see in the JSON report. Every expected
//! value is worked out by hand in the comment beside it.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use cohort_explorer::metrics::{
    self, campaign_quality, cohort_matrix, distributions, quality, report, CampaignQuality, Filter,
    GroupBy, GroupMetrics, Matrix, MatrixMetric, Prepared, ReportRequest,
};
use cohort_explorer::model::{
    Attributes, Dataset, Grain, RateRow, Session, SessionSource, SpendRow, User, DAY_MS,
};

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A UTC instant, `YYYY-MM-DD HH:MM:SS`.
fn at(text: &str) -> i64 {
    cohort_explorer::time::parse_instant(text, chrono_tz::UTC).expect(text)
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect(text)
}

fn attrs(channel: &str, campaign: &str) -> Attributes {
    Attributes {
        channel: channel.to_owned(),
        campaign: campaign.to_owned(),
        ..Attributes::default()
    }
}

fn user(key: &str, install_ms: i64, attrs: Attributes) -> User {
    User {
        key: key.to_owned(),
        install_ms,
        install_inferred: false,
        reinstalls: 0,
        attrs: attrs.into(),
    }
}

/// A spend row in the project's currency.
fn spend(day: &str, channel: &str, campaign: &str, amount: f64) -> SpendRow {
    SpendRow {
        date: date(day),
        channel: channel.to_owned(),
        campaign: campaign.to_owned(),
        amount,
        currency: None,
        impressions: None,
        clicks: None,
    }
}

fn spend_in(day: &str, channel: &str, campaign: &str, amount: f64, currency: &str) -> SpendRow {
    SpendRow {
        currency: Some(currency.to_owned()),
        ..spend(day, channel, campaign, amount)
    }
}

/// Builds a dataset: users sorted by key, sessions given as (user key, start, length in
/// ms or `None` for unknown) sorted by user, then start, then end.
fn dataset(
    mut users: Vec<User>,
    sessions: &[(&str, i64, Option<i64>)],
    spend: Vec<SpendRow>,
) -> Dataset {
    users.sort_by(|a, b| a.key.cmp(&b.key));
    let index: HashMap<String, u32> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.key.clone(), u32::try_from(i).unwrap()))
        .collect();
    let mut sessions: Vec<Session> = sessions
        .iter()
        .map(|&(key, start_ms, length)| {
            Session::new(
                index[key],
                start_ms,
                length.map(|l| start_ms + l),
                SessionSource::Row,
            )
        })
        .collect();
    sessions.sort_by_key(|s| (s.user, s.start_ms, s.end_ms()));
    Dataset {
        users,
        sessions,
        spend,
        ..Dataset::default()
    }
}

/// Asserts that `actual` is `Some` and within 1e-9 (relative) of `expected`.
#[track_caller]
fn close(actual: Option<f64>, expected: f64) {
    let value = actual.unwrap_or_else(|| panic!("expected {expected}, got None"));
    assert!(
        (value - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "expected {expected}, got {value}"
    );
}

/// The single group of a `--by none` report.
fn all(ds: &Dataset, filter: Filter, days: &[u32]) -> GroupMetrics {
    let prepared = Prepared::new(ds);
    let request = ReportRequest {
        by: GroupBy::None,
        grain: Grain::Day,
        days: days.to_vec(),
        filter,
    };
    let mut r = report(&prepared, &request);
    assert_eq!(r.groups.len(), 1);
    r.groups.remove(0)
}

// ---------------------------------------------------------------------------
// report: fields that the CLI JSON does not print
// ---------------------------------------------------------------------------

/// Channel "fb", UTC, window convention, data end set to 2024-01-10 00:00.
///
/// Cohort 2024-01-01: a (install 10:00), b (12:00), c (08:00, no sessions).
/// Cohort 2024-01-09: d (10:00).
///   a: 01-01 10:00 60 s (day 0), 01-01 20:00 120 s (10 h: day 0),
///      01-02 11:00 30 s (25 h: day 1), 01-08 10:00 unknown length (168 h: day 7)
///   b: 01-01 12:00 300 s (day 0), 01-03 12:00 90 s (48 h: day 2)
///   d: 01-09 10:00 100 s (day 0)
/// Maturity (window): end of 01-01 is 01-02 00:00; 01-10 00:00 - 01-02 00:00 = 8 days,
/// so 01-01 is mature for N <= 8 - 1 = 7. End of 01-09 is 01-10 00:00: 0 days, so 01-09
/// is mature for no N (0 - 1 = -1).
/// Spend: one row 2024-01-01 "FB" 30 (mature for N <= 7 like its date).
fn day_figures_dataset() -> Dataset {
    let users = vec![
        user("a", at("2024-01-01 10:00:00"), attrs("fb", "")),
        user("b", at("2024-01-01 12:00:00"), attrs("fb", "")),
        user("c", at("2024-01-01 08:00:00"), attrs("fb", "")),
        user("d", at("2024-01-09 10:00:00"), attrs("fb", "")),
    ];
    let sessions = [
        ("a", at("2024-01-01 10:00:00"), Some(60 * SEC)),
        ("a", at("2024-01-01 20:00:00"), Some(120 * SEC)),
        ("a", at("2024-01-02 11:00:00"), Some(30 * SEC)),
        ("a", at("2024-01-08 10:00:00"), None),
        ("b", at("2024-01-01 12:00:00"), Some(300 * SEC)),
        ("b", at("2024-01-03 12:00:00"), Some(90 * SEC)),
        ("d", at("2024-01-09 10:00:00"), Some(100 * SEC)),
    ];
    let mut ds = dataset(users, &sessions, vec![spend("2024-01-01", "FB", "", 30.0)]);
    ds.settings.data_end_ms = Some(at("2024-01-10 00:00:00"));
    ds
}

#[test]
fn report_day_figures_count_mature_users_and_their_sessions_only() {
    let ds = day_figures_dataset();
    let g = all(&ds, Filter::default(), &[0, 1, 2, 7, 30]);
    assert_eq!(g.installs, 4); // a, b, c, d
    assert_eq!(g.sessions, 7); // a 4 + b 2 + d 1

    // Day 0: mature users a, b, c (d's date is immature).
    let d0 = g.day(0).unwrap();
    assert_eq!(d0.mature_users, 3);
    assert_eq!(d0.sessions_on_day, 3); // a 10:00, a 20:00, b 12:00
    assert_eq!(d0.sessions_through, 3);
    assert_eq!(d0.active_users, 2); // a, b (c has no session)
    close(d0.sessions_per_user_on_day, 1.0); // 3 / 3
    close(d0.retention, 2.0 / 3.0); // 2 / 3
    close(d0.time_per_user_s, 160.0); // (60 + 120 + 300) / 3 = 480 / 3

    // Day 1: a's 25 h session only.
    let d1 = g.day(1).unwrap();
    assert_eq!(d1.mature_users, 3);
    assert_eq!(d1.sessions_on_day, 1);
    assert_eq!(d1.sessions_through, 4); // 3 + 1
    assert_eq!(d1.active_users, 1); // a
    close(d1.sessions_per_user_on_day, 1.0 / 3.0); // 1 / 3
    close(d1.sessions_per_user, 4.0 / 3.0); // 4 / 3
    close(d1.time_per_user_s, 170.0); // (480 + 30) / 3 = 510 / 3

    // Day 2: b's 48 h session.
    let d2 = g.day(2).unwrap();
    assert_eq!(d2.sessions_on_day, 1);
    assert_eq!(d2.sessions_through, 5); // 4 + 1
    assert_eq!(d2.active_users, 1); // b
    close(d2.time_per_user_s, 200.0); // (510 + 90) / 3 = 600 / 3

    // Day 7: a's session of unknown length counts as a session, adds no time.
    let d7 = g.day(7).unwrap();
    assert_eq!(d7.mature_users, 3);
    assert_eq!(d7.sessions_on_day, 1);
    assert_eq!(d7.sessions_through, 6); // 5 + 1
    assert_eq!(d7.active_users, 1); // a
    close(d7.sessions_per_user, 2.0); // 6 / 3
    close(d7.sessions_per_user_on_day, 1.0 / 3.0); // 1 / 3
    close(d7.time_per_user_s, 200.0); // (600 + 0) / 3

    // Day 30: 01-01 is mature only up to 7, 01-09 for nothing: no mature user, n/a.
    let d30 = g.day(30).unwrap();
    assert_eq!(d30.mature_users, 0);
    assert_eq!(d30.active_users, 0);
    assert_eq!(d30.sessions_through, 0);
    assert_eq!(d30.sessions_per_user_on_day, None);
    assert_eq!(d30.time_per_user_s, None);
    assert_eq!(d30.retention, None);
}

#[test]
fn report_session_length_average_median_and_p90_interpolate_between_ranks() {
    let ds = day_figures_dataset();
    let g = all(&ds, Filter::default(), &[0]);
    // Known lengths of every session (any day, any maturity), sorted:
    // [30, 60, 90, 100, 120, 300] s; a's day-7 session has no length.
    close(g.avg_session_length_s, 700.0 / 6.0); // (30+60+90+100+120+300) / 6 = 116.67
    close(g.median_session_length_s, 95.0); // (90 + 100) / 2
                                            // p90: rank 0.9 x (6 - 1) = 4.5, between 120 (rank 4) and 300 (rank 5):
                                            // 120 + 0.5 x (300 - 120) = 210.
    close(g.p90_session_length_s, 210.0);
}

#[test]
fn report_p90_of_ten_lengths_interpolates_at_rank_8_1() {
    // One user, ten sessions of 1, 2, ..., 9 and 100 s, 1 h apart.
    let install = at("2024-03-01 00:00:00");
    let lengths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100];
    let sessions: Vec<(&str, i64, Option<i64>)> = lengths
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            (
                "u",
                install + i64::try_from(i).unwrap() * HOUR,
                Some(s * SEC),
            )
        })
        .collect();
    let mut ds = dataset(vec![user("u", install, attrs("", ""))], &sessions, vec![]);
    ds.latest_ms = Some(install + 10 * HOUR);
    let g = all(&ds, Filter::default(), &[0]);
    // rank 0.9 x 9 = 8.1, between 9 (rank 8) and 100 (rank 9): 9 + 0.1 x 91 = 18.1.
    close(g.p90_session_length_s, 18.1);
    close(g.median_session_length_s, 5.5); // (5 + 6) / 2
    close(g.avg_session_length_s, 14.5); // (45 + 100) / 10 = 145 / 10
}

#[test]
fn report_cpm_on_day_divides_mature_spend_by_that_days_sessions() {
    let ds = day_figures_dataset();
    let g = all(&ds, Filter::default(), &[0, 1, 7, 30]);
    close(g.spend, 30.0); // the single row, "FB" matching channel "fb"
    close(g.cpi, 7.5); // 30 / 4 installs
    let d0 = g.day(0).unwrap();
    close(d0.mature_spend, 30.0); // 2024-01-01 is mature for 0
    close(d0.cpm_sessions, 10_000.0); // 1000 x 30 / 3 sessions through day 0
    close(d0.cpm_sessions_on_day, 10_000.0); // 1000 x 30 / 3 sessions on day 0
    let d1 = g.day(1).unwrap();
    close(d1.cpm_sessions, 7_500.0); // 1000 x 30 / 4
    close(d1.cpm_sessions_on_day, 30_000.0); // 1000 x 30 / 1
    let d7 = g.day(7).unwrap();
    close(d7.cpm_sessions, 5_000.0); // 1000 x 30 / 6
    close(d7.cpm_sessions_on_day, 30_000.0); // 1000 x 30 / 1
                                             // Day 30: the spend date is mature only up to 7: no spend, so n/a.
    let d30 = g.day(30).unwrap();
    assert_eq!(d30.mature_spend, None);
    assert_eq!(d30.cpm_sessions, None);
    assert_eq!(d30.cpm_sessions_on_day, None);
}

#[test]
fn report_cpm_on_day_is_none_when_no_session_falls_on_that_day() {
    let ds = day_figures_dataset();
    let g = all(&ds, Filter::default(), &[3]);
    let d3 = g.day(3).unwrap();
    // Nobody has a session on day 3 (a: days 0, 0, 1, 7; b: days 0, 2).
    assert_eq!(d3.sessions_on_day, 0);
    close(d3.mature_spend, 30.0); // 2024-01-01 is mature for 3 (<= 7)
    assert_eq!(d3.cpm_sessions_on_day, None); // 1000 x 30 / 0: n/a
    close(d3.cpm_sessions, 6_000.0); // 1000 x 30 / 5 sessions through day 3
    close(d3.sessions_per_user_on_day, 0.0); // 0 / 3 mature users: defined, zero
}

#[test]
fn report_of_an_empty_dataset_is_all_n_a() {
    let ds = Dataset::default();
    let g = all(&ds, Filter::default(), &[0, 7]);
    assert_eq!(g.installs, 0);
    assert_eq!(g.sessions, 0);
    assert_eq!(g.avg_session_length_s, None);
    assert_eq!(g.median_session_length_s, None);
    assert_eq!(g.p90_session_length_s, None);
    assert_eq!(g.median_time_between_sessions_s, None);
    assert_eq!(g.spend, None); // no spend row at all
    assert_eq!(g.cpi, None);
    let d7 = g.day(7).unwrap();
    assert_eq!(d7.mature_users, 0);
    assert_eq!(d7.sessions_per_user, None);
    assert_eq!(d7.time_per_user_s, None);
}

// ---------------------------------------------------------------------------
// Filter
// ---------------------------------------------------------------------------

/// UTC, data end 2024-01-10 00:00 (01-01 mature for N <= 7, 01-02 for N <= 6).
///   u1 install 01-01 10:00 "Facebook Ads"/"Spring", US, iOS, 1.0: 2 sessions on day 0
///   u2 install 01-02 10:00 "facebook ads "/"spring", DE, android, 2.0: 1 session
///   u3 install 01-01 11:00 ""/"" (organic), US, ios, 2.0: 1 session
///   u4 install 01-02 12:00 "Google"/"brand", us, android, 1.0: 1 session
/// Spend: 01-01 "FACEBOOK ADS"/"spring" 100; 01-02 " facebook ads"/"" 20;
///        01-01 "google"/"brand" 50; 01-02 ""/"" 7 (organic).
fn filter_dataset() -> Dataset {
    let full =
        |channel: &str, campaign: &str, country: &str, platform: &str, version: &str| Attributes {
            channel: channel.to_owned(),
            campaign: campaign.to_owned(),
            country: country.to_owned(),
            platform: platform.to_owned(),
            app_version: version.to_owned(),
        };
    let users = vec![
        user(
            "u1",
            at("2024-01-01 10:00:00"),
            full("Facebook Ads", "Spring", "US", "iOS", "1.0"),
        ),
        user(
            "u2",
            at("2024-01-02 10:00:00"),
            full("facebook ads ", "spring", "DE", "android", "2.0"),
        ),
        user(
            "u3",
            at("2024-01-01 11:00:00"),
            full("", "", "US", "ios", "2.0"),
        ),
        user(
            "u4",
            at("2024-01-02 12:00:00"),
            full("Google", "brand", "us", "android", "1.0"),
        ),
    ];
    let sessions = [
        ("u1", at("2024-01-01 10:00:00"), Some(60 * SEC)),
        ("u1", at("2024-01-01 12:00:00"), Some(60 * SEC)),
        ("u2", at("2024-01-02 10:00:00"), Some(60 * SEC)),
        ("u3", at("2024-01-01 11:00:00"), Some(60 * SEC)),
        ("u4", at("2024-01-02 12:00:00"), Some(60 * SEC)),
    ];
    let spend = vec![
        spend("2024-01-01", "FACEBOOK ADS", "spring", 100.0),
        spend("2024-01-02", " facebook ads", "", 20.0),
        spend("2024-01-01", "google", "brand", 50.0),
        spend("2024-01-02", "", "", 7.0),
    ];
    let mut ds = dataset(users, &sessions, spend);
    ds.settings.data_end_ms = Some(at("2024-01-10 00:00:00"));
    ds
}

fn channel(name: &str) -> Filter {
    Filter {
        channel: Some(name.to_owned()),
        ..Filter::default()
    }
}

#[test]
fn channel_filter_matches_trimmed_and_ignoring_case_and_keeps_the_channels_spend() {
    let ds = filter_dataset();
    let g = all(&ds, channel("  FACEBOOK ads "), &[0]);
    assert_eq!(g.installs, 2); // u1 "Facebook Ads", u2 "facebook ads "
    assert_eq!(g.sessions, 3); // u1 2 + u2 1
    close(g.spend, 120.0); // 100 ("FACEBOOK ADS") + 20 (" facebook ads")
    close(g.cpi, 60.0); // 120 / 2
                        // Both dates mature for 0: 1000 x 120 / 3 sessions through day 0.
    close(g.day(0).unwrap().cpm_sessions, 40_000.0);

    let g = all(&ds, channel("google"), &[0]);
    assert_eq!(g.installs, 1); // u4 "Google"
    close(g.spend, 50.0);
    close(g.cpi, 50.0); // 50 / 1
    close(g.day(0).unwrap().cpm_sessions, 50_000.0); // 1000 x 50 / 1
}

#[test]
fn channel_filter_organic_matches_users_and_spend_with_an_empty_channel() {
    let ds = filter_dataset();
    for name in ["organic", " ORGANIC ", ""] {
        let g = all(&ds, channel(name), &[0]);
        assert_eq!(g.installs, 1, "{name:?}"); // u3, channel ""
        assert_eq!(g.sessions, 1, "{name:?}");
        close(g.spend, 7.0); // the spend row with channel "" is organic
        close(g.cpi, 7.0); // 7 / 1
    }
}

#[test]
fn filters_on_fields_spend_does_not_carry_make_spend_unknown() {
    let ds = filter_dataset();
    let cases = [
        // country "us": u1 "US", u3 "US", u4 "us" -> 3 users, 2 + 1 + 1 = 4 sessions.
        (
            Filter {
                country: Some("us".into()),
                ..Filter::default()
            },
            3,
            4,
        ),
        // platform " IOS ": u1 "iOS", u3 "ios" -> 2 users, 2 + 1 = 3 sessions.
        (
            Filter {
                platform: Some(" IOS ".into()),
                ..Filter::default()
            },
            2,
            3,
        ),
        // app version "2.0": u2, u3 -> 2 users, 1 + 1 = 2 sessions.
        (
            Filter {
                app_version: Some("2.0".into()),
                ..Filter::default()
            },
            2,
            2,
        ),
        // channel and country: u1 only -> 1 user, 2 sessions.
        (
            Filter {
                channel: Some("facebook ads".into()),
                country: Some("US".into()),
                ..Filter::default()
            },
            1,
            2,
        ),
    ];
    for (filter, installs, sessions) in cases {
        let g = all(&ds, filter.clone(), &[0]);
        assert_eq!(g.installs, installs, "{filter:?}");
        assert_eq!(g.sessions, sessions, "{filter:?}");
        assert_eq!(g.spend, None, "{filter:?}");
        assert_eq!(g.cpi, None, "{filter:?}");
        let d0 = g.day(0).unwrap();
        assert_eq!(d0.mature_spend, None, "{filter:?}");
        assert_eq!(d0.cpm_sessions, None, "{filter:?}");
        assert_eq!(d0.cpm_sessions_on_day, None, "{filter:?}");
        // Non-spend day figures stay defined: every session is on day 0 and both dates
        // are mature for 0, so sessions per user = sessions / installs.
        #[allow(clippy::cast_precision_loss)]
        close(d0.sessions_per_user, sessions as f64 / installs as f64);
    }
}

/// Reporting zone America/New_York (UTC-5 in January), channel "x".
///   a install 2024-01-02 03:00 UTC = 01-01 22:00 EST -> cohort 01-01, 4 sessions
///   b install 2024-01-02 06:00 UTC = 01-02 01:00 EST -> cohort 01-02, 1 session
///   c install 2024-01-03 04:59 UTC = 01-02 23:59 EST -> cohort 01-02, 2 sessions
///   d install 2024-01-03 05:00 UTC = 01-03 00:00 EST -> cohort 01-03, 8 sessions
/// (In UTC the cohorts would be a 01-02, b 01-02, c 01-03, d 01-03.)
/// Spend "x": 01-01 10, 01-02 20, 01-03 40 (calendar dates as given).
fn new_york_dataset() -> Dataset {
    let users = vec![
        user("a", at("2024-01-02 03:00:00"), attrs("x", "")),
        user("b", at("2024-01-02 06:00:00"), attrs("x", "")),
        user("c", at("2024-01-03 04:59:00"), attrs("x", "")),
        user("d", at("2024-01-03 05:00:00"), attrs("x", "")),
    ];
    let mut sessions = Vec::new();
    for (key, install, count) in [
        ("a", at("2024-01-02 03:00:00"), 4),
        ("b", at("2024-01-02 06:00:00"), 1),
        ("c", at("2024-01-03 04:59:00"), 2),
        ("d", at("2024-01-03 05:00:00"), 8),
    ] {
        for k in 0..count {
            sessions.push((key, install + k * MIN, None));
        }
    }
    let spend = vec![
        spend("2024-01-01", "x", "", 10.0),
        spend("2024-01-02", "x", "", 20.0),
        spend("2024-01-03", "x", "", 40.0),
    ];
    let mut ds = dataset(users, &sessions, spend);
    ds.settings.tz = "America/New_York".to_owned();
    ds.settings.data_end_ms = Some(at("2024-01-20 00:00:00"));
    ds
}

#[test]
fn install_date_filter_uses_cohort_dates_in_the_reporting_zone() {
    let ds = new_york_dataset();
    let range = |from: Option<&str>, to: Option<&str>| Filter {
        install_from: from.map(date),
        install_to: to.map(date),
        ..Filter::default()
    };

    let g = all(&ds, range(Some("2024-01-02"), Some("2024-01-02")), &[0]);
    assert_eq!(g.installs, 2); // b, c (EST dates); UTC would give a, b
    assert_eq!(g.sessions, 3); // b 1 + c 2 (UTC's a, b would give 5)
    close(g.spend, 20.0); // the 01-02 row only
    close(g.cpi, 10.0); // 20 / 2

    let g = all(&ds, range(None, Some("2024-01-01")), &[0]);
    assert_eq!(g.installs, 1); // a, 01-01 22:00 EST (none in UTC)
    assert_eq!(g.sessions, 4);
    close(g.spend, 10.0); // the 01-01 row

    let g = all(&ds, range(Some("2024-01-03"), None), &[0]);
    assert_eq!(g.installs, 1); // d at 00:00 EST exactly (UTC would add c)
    assert_eq!(g.sessions, 8);
    close(g.spend, 40.0); // the 01-03 row
}

// ---------------------------------------------------------------------------
// Cohort matrix
// ---------------------------------------------------------------------------

/// UTC, window, channel "x", data end 2024-01-12 00:00, days 0..=2.
/// Week of Monday 2024-01-01:
///   a install Mon 01-01 10:00: 01-01 10:00 60 s (d0), 01-02 10:00 120 s (24 h: d1),
///                              01-03 10:00 30 s (48 h: d2)
///   b install Wed 01-03 10:00: 01-03 10:00 40 s (d0)
///   f install Fri 01-05 10:00: no sessions
/// Week of Monday 2024-01-08:
///   c install Mon 01-08 09:00: 01-08 09:00 10 s (d0), 01-09 10:00 20 s (25 h: d1)
///   e install Tue 01-09 12:00: 01-09 12:00 unknown (d0), 01-10 13:00 50 s (25 h: d1)
/// Maturity, (01-12 00:00 - end of date) / 24 h - 1:
///   01-01: 10 days - 1 = 9; 01-03: 8 - 1 = 7; 01-05: 6 - 1 = 5;
///   01-08: 3 - 1 = 2;       01-09: 2 - 1 = 1.
/// Spend "x": 01-01 30 (mature for <= 9), 01-09 20 (mature for <= 1).
fn matrix_dataset() -> Dataset {
    let users = vec![
        user("a", at("2024-01-01 10:00:00"), attrs("x", "")),
        user("b", at("2024-01-03 10:00:00"), attrs("x", "")),
        user("c", at("2024-01-08 09:00:00"), attrs("x", "")),
        user("e", at("2024-01-09 12:00:00"), attrs("x", "")),
        user("f", at("2024-01-05 10:00:00"), attrs("x", "")),
    ];
    let sessions = [
        ("a", at("2024-01-01 10:00:00"), Some(60 * SEC)),
        ("a", at("2024-01-02 10:00:00"), Some(120 * SEC)),
        ("a", at("2024-01-03 10:00:00"), Some(30 * SEC)),
        ("b", at("2024-01-03 10:00:00"), Some(40 * SEC)),
        ("c", at("2024-01-08 09:00:00"), Some(10 * SEC)),
        ("c", at("2024-01-09 10:00:00"), Some(20 * SEC)),
        ("e", at("2024-01-09 12:00:00"), None),
        ("e", at("2024-01-10 13:00:00"), Some(50 * SEC)),
    ];
    let spend = vec![
        spend("2024-01-01", "x", "", 30.0),
        spend("2024-01-09", "x", "", 20.0),
    ];
    let mut ds = dataset(users, &sessions, spend);
    ds.settings.data_end_ms = Some(at("2024-01-12 00:00:00"));
    ds
}

fn matrix(ds: &Dataset, grain: Grain, metric: MatrixMetric) -> Matrix {
    let prepared = Prepared::new(ds);
    cohort_matrix(&prepared, &Filter::default(), grain, metric, 2)
}

#[track_caller]
fn cells(m: &Matrix, row: usize, expected: [Option<f64>; 3]) {
    let got: Vec<Option<f64>> = m.rows[row].cells.iter().map(|c| c.value).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    for (value, want) in got.into_iter().zip(expected) {
        match want {
            Some(w) => close(value, w),
            None => assert_eq!(value, None),
        }
    }
}

#[track_caller]
fn average(m: &Matrix, expected: [Option<f64>; 3]) {
    assert_eq!(m.average.len(), 3);
    for (value, want) in m.average.iter().copied().zip(expected) {
        match want {
            Some(w) => close(value, w),
            None => assert_eq!(value, None),
        }
    }
}

#[test]
fn week_rows_start_on_monday_and_a_cell_is_mature_only_when_all_users_are() {
    let ds = matrix_dataset();
    let m = matrix(&ds, Grain::Week, MatrixMetric::Retention);
    let labels: Vec<&str> = m.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["2024-01-01", "2024-01-08"]);
    assert_eq!(m.rows[0].start, Some(date("2024-01-01")));
    assert_eq!(m.rows[1].start, Some(date("2024-01-08")));
    assert_eq!(m.rows[0].installs, 3); // a, b, f
    assert_eq!(m.rows[1].installs, 2); // c, e
    let mature: Vec<Vec<bool>> = m
        .rows
        .iter()
        .map(|r| r.cells.iter().map(|c| c.mature).collect())
        .collect();
    // Week 1: a (9), b (7), f (5) are all mature for 0, 1, 2.
    // Week 2: c (2) and e (1) both mature for 0 and 1; for 2 only c is: not mature.
    assert_eq!(mature, [[true, true, true], [true, true, false]]);
}

#[test]
fn matrix_retention_per_week_and_average_weights_mature_cells_by_installs() {
    let ds = matrix_dataset();
    let m = matrix(&ds, Grain::Week, MatrixMetric::Retention);
    // Week 1 (3 users): d0 a, b active -> 2/3; d1 a -> 1/3; d2 a -> 1/3.
    cells(&m, 0, [Some(2.0 / 3.0), Some(1.0 / 3.0), Some(1.0 / 3.0)]);
    // Week 2: d0 c, e -> 2/2; d1 c, e -> 2/2; d2 over the mature user c only,
    // who has no day-2 session -> 0/1 (shown, but immature).
    cells(&m, 1, [Some(1.0), Some(1.0), Some(0.0)]);
    // Average, weighting by installs:
    //   d0 (2/3 x 3 + 1 x 2) / (3 + 2) = 4/5 = 0.8
    //   d1 (1/3 x 3 + 1 x 2) / 5 = 3/5 = 0.6   (an unweighted mean would be 0.667)
    //   d2 week 2 is immature and left out: (1/3 x 3) / 3 = 1/3  (not 1/5 with it)
    average(&m, [Some(0.8), Some(0.6), Some(1.0 / 3.0)]);
}

#[test]
fn matrix_sessions_per_user_values_cumulative_and_on_day() {
    let ds = matrix_dataset();
    let m = matrix(&ds, Grain::Week, MatrixMetric::SessionsPerUser);
    // Week 1 through day N: d0 a1 + b1 = 2 -> 2/3; d1 +a = 3 -> 3/3; d2 +a = 4 -> 4/3.
    cells(&m, 0, [Some(2.0 / 3.0), Some(1.0), Some(4.0 / 3.0)]);
    // Week 2: d0 c + e = 2 -> 2/2; d1 + c + e = 4 -> 4/2; d2 over c: 2/1.
    cells(&m, 1, [Some(1.0), Some(2.0), Some(2.0)]);
    // d0 (2/3 x 3 + 1 x 2) / 5 = 4/5; d1 (1 x 3 + 2 x 2) / 5 = 7/5; d2 (4/3 x 3) / 3 = 4/3.
    average(&m, [Some(0.8), Some(1.4), Some(4.0 / 3.0)]);

    let m = matrix(&ds, Grain::Week, MatrixMetric::SessionsPerUserOnDay);
    // Week 1 on day N: d0 2/3, d1 1/3 (a), d2 1/3 (a).
    cells(&m, 0, [Some(2.0 / 3.0), Some(1.0 / 3.0), Some(1.0 / 3.0)]);
    // Week 2: d0 2/2, d1 2/2, d2 c has none: 0/1.
    cells(&m, 1, [Some(1.0), Some(1.0), Some(0.0)]);
    // d0 (2 + 2) / 5 = 0.8; d1 (1 + 2) / 5 = 0.6; d2 (1/3 x 3) / 3 = 1/3.
    average(&m, [Some(0.8), Some(0.6), Some(1.0 / 3.0)]);
}

#[test]
fn matrix_time_per_user_sums_known_lengths_through_day_n() {
    let ds = matrix_dataset();
    let m = matrix(&ds, Grain::Week, MatrixMetric::TimePerUser);
    // Week 1: d0 (60 + 40) / 3; d1 (100 + 120) / 3; d2 (220 + 30) / 3.
    cells(
        &m,
        0,
        [Some(100.0 / 3.0), Some(220.0 / 3.0), Some(250.0 / 3.0)],
    );
    // Week 2: d0 (c 10 + e unknown) / 2 = 5; d1 (10 + 20 + 50) / 2 = 40;
    // d2 over c only: (10 + 20) / 1 = 30.
    cells(&m, 1, [Some(5.0), Some(40.0), Some(30.0)]);
    // d0 (100 + 5 x 2) / 5 = 22; d1 (220 + 40 x 2) / 5 = 60; d2 (250/3 x 3) / 3 = 83.33.
    average(&m, [Some(22.0), Some(60.0), Some(250.0 / 3.0)]);
}

#[test]
fn matrix_cpm_sessions_takes_the_weeks_spend_of_mature_dates() {
    let ds = matrix_dataset();
    let m = matrix(&ds, Grain::Week, MatrixMetric::CpmSessions);
    // Week 1 spend: the 01-01 row, 30. Through day N: 2, 3, 4 sessions.
    //   1000 x 30 / 2 = 15000; / 3 = 10000; / 4 = 7500.
    cells(&m, 0, [Some(15_000.0), Some(10_000.0), Some(7_500.0)]);
    // Week 2 spend: the 01-09 row, 20, mature for 0 and 1 only.
    //   d0 1000 x 20 / 2 = 10000; d1 1000 x 20 / 4 = 5000; d2 no mature spend: n/a.
    cells(&m, 1, [Some(10_000.0), Some(5_000.0), None]);
    // d0 (15000 x 3 + 10000 x 2) / 5 = 13000; d1 (10000 x 3 + 5000 x 2) / 5 = 8000;
    // d2 week 1 only: 7500.
    average(&m, [Some(13_000.0), Some(8_000.0), Some(7_500.0)]);

    let m = matrix(&ds, Grain::Week, MatrixMetric::CpmSessionsOnDay);
    // Week 1 on day N: 2, 1, 1 sessions -> 15000, 30000, 30000.
    cells(&m, 0, [Some(15_000.0), Some(30_000.0), Some(30_000.0)]);
    // Week 2 on day N: 2, 2 sessions -> 10000, 10000; d2 n/a.
    cells(&m, 1, [Some(10_000.0), Some(10_000.0), None]);
    // d0 (15000 x 3 + 10000 x 2) / 5 = 13000; d1 (30000 x 3 + 10000 x 2) / 5 = 22000;
    // d2 30000.
    average(&m, [Some(13_000.0), Some(22_000.0), Some(30_000.0)]);
}

#[test]
fn day_rows_are_cohort_dates_and_the_average_skips_immature_cells() {
    let ds = matrix_dataset();
    let m = matrix(&ds, Grain::Day, MatrixMetric::Retention);
    let labels: Vec<&str> = m.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "2024-01-01",
            "2024-01-03",
            "2024-01-05",
            "2024-01-08",
            "2024-01-09"
        ]
    );
    assert!(m.rows.iter().all(|r| r.installs == 1));
    cells(&m, 0, [Some(1.0), Some(1.0), Some(1.0)]); // a: sessions on d0, d1, d2
    cells(&m, 1, [Some(1.0), Some(0.0), Some(0.0)]); // b: d0 only
    cells(&m, 2, [Some(0.0), Some(0.0), Some(0.0)]); // f: none
    cells(&m, 3, [Some(1.0), Some(1.0), Some(0.0)]); // c: d0, d1
    cells(&m, 4, [Some(1.0), Some(1.0), None]); // e: d0, d1; 01-09 immature for 2: n/a
    assert!(!m.rows[4].cells[2].mature);
    assert!(m.rows[3].cells[2].mature); // 01-08 is mature for 2 exactly
                                        // d0 (1 + 1 + 0 + 1 + 1) / 5 = 0.8; d1 (1 + 0 + 0 + 1 + 1) / 5 = 0.6;
                                        // d2 (1 + 0 + 0 + 0) / 4 = 0.25, 01-09 left out.
    average(&m, [Some(0.8), Some(0.6), Some(0.25)]);
}

#[test]
fn month_rows_follow_the_reporting_zone() {
    // m1 installs 2024-01-31 23:30 UTC, m2 2024-02-01 00:30 UTC; one session each.
    let users = vec![
        user("m1", at("2024-01-31 23:30:00"), attrs("", "")),
        user("m2", at("2024-02-01 00:30:00"), attrs("", "")),
    ];
    let sessions = [
        ("m1", at("2024-01-31 23:30:00"), Some(5 * SEC)),
        ("m2", at("2024-02-01 00:30:00"), Some(5 * SEC)),
    ];
    let mut ds = dataset(users, &sessions, vec![]);
    ds.settings.data_end_ms = Some(at("2024-02-10 00:00:00"));
    let m = matrix(&ds, Grain::Month, MatrixMetric::Retention);
    let labels: Vec<&str> = m.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["2024-01", "2024-02"]); // UTC: 01-31 and 02-01
    assert_eq!(m.rows[0].start, Some(date("2024-01-01")));
    assert_eq!(m.rows[1].start, Some(date("2024-02-01")));

    // Europe/Berlin is UTC+1 in winter: m1 installs 2024-02-01 00:30 local.
    ds.settings.tz = "Europe/Berlin".to_owned();
    let m = matrix(&ds, Grain::Month, MatrixMetric::Retention);
    let labels: Vec<&str> = m.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["2024-02"]);
    assert_eq!(m.rows[0].installs, 2);
    // Both on 02-01 local, mature for 0..2 (data end 02-10); both active on day 0 only.
    cells(&m, 0, [Some(1.0), Some(0.0), Some(0.0)]);
    assert!(m.rows[0].cells.iter().all(|c| c.mature));
}

// ---------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------

/// One user, installed at T0 = 2024-01-01 00:00, seven sessions:
///   s1 start T0,                              length 10 000 ms (10.0 s)
///   s2 start s1 end + 1 h exactly,            length 10 500 ms (10.5 s)
///   s3 start s2 end + 1 h - 1 ms,             length 11 000 ms (11 s)
///   s4 start s3 end + 24 h exactly,           length 3 600 000 ms (3600 s)
///   s5 start s4 end + 30 days exactly,        length 3 600 001 ms (3600.001 s)
///   s6 start s5 end + 7 days exactly,         length unknown
///   s7 start s6 start + 2 h (s6's end unknown), length 0
fn boundary_dataset() -> Dataset {
    let t0 = at("2024-01-01 00:00:00");
    let s1 = t0;
    let s2 = s1 + 10_000 + HOUR;
    let s3 = s2 + 10_500 + HOUR - 1;
    let s4 = s3 + 11_000 + DAY_MS;
    let s5 = s4 + 3_600_000 + 30 * DAY_MS;
    let s6 = s5 + 3_600_001 + 7 * DAY_MS;
    let s7 = s6 + 2 * HOUR;
    let sessions = [
        ("u", s1, Some(10_000)),
        ("u", s2, Some(10_500)),
        ("u", s3, Some(11_000)),
        ("u", s4, Some(3_600_000)),
        ("u", s5, Some(3_600_001)),
        ("u", s6, None),
        ("u", s7, Some(0)),
    ];
    let mut ds = dataset(vec![user("u", t0, attrs("", ""))], &sessions, vec![]);
    ds.latest_ms = Some(s7);
    ds
}

#[test]
fn session_length_bins_have_inclusive_upper_bounds() {
    let ds = boundary_dataset();
    let d = distributions(&Prepared::new(&ds), &Filter::default());
    let h = &d.session_length;
    assert_eq!(
        h.labels,
        [
            "0-10 s",
            "11-30 s",
            "31-60 s",
            "61-180 s",
            "181-600 s",
            "601-1800 s",
            "1801-3600 s",
            "over 3600 s"
        ]
    );
    // 0-10 s: s1 (10.0 s), s7 (0 s); 11-30 s: s2 (10.5 s), s3 (11 s);
    // 1801-3600 s: s4 (3600 s); over 3600 s: s5 (3600.001 s); s6 unknown is not counted.
    assert_eq!(h.counts, [2, 2, 0, 0, 0, 0, 1, 1]);
    assert_eq!(h.total(), 6); // 7 sessions - 1 of unknown length
}

#[test]
fn time_between_bins_have_inclusive_lower_bounds() {
    let ds = boundary_dataset();
    let d = distributions(&Prepared::new(&ds), &Filter::default());
    let h = &d.time_between_sessions;
    assert_eq!(
        h.labels,
        [
            "under 1 h",
            "1-24 h",
            "24-48 h",
            "2-7 days",
            "7-14 days",
            "14-30 days",
            "over 30 days"
        ]
    );
    // under 1 h: s3 (1 h - 1 ms); 1-24 h: s2 (1 h exactly), s7 (2 h from s6's start);
    // 24-48 h: s4 (24 h exactly); 7-14 days: s6 (7 days exactly);
    // over 30 days: s5 (30 days exactly).
    assert_eq!(h.counts, [1, 2, 1, 0, 1, 0, 1]);
    assert_eq!(h.total(), 6); // every session after the first
}

/// The overview's one pass gives what `report` and `distributions` give apart.
fn assert_overview_is_report_and_distributions(prepared: &Prepared<'_>, filter: &Filter) {
    let request = ReportRequest {
        days: vec![0, 1, 7, 30],
        filter: filter.clone(),
        ..ReportRequest::default()
    };
    let (one_pass, histograms) = metrics::report_with_distributions(prepared, &request);
    assert_eq!(one_pass, report(prepared, &request));
    assert_eq!(histograms, distributions(prepared, filter));
}

#[test]
fn overview_in_one_pass_counts_the_bins_at_their_bounds() {
    let ds = boundary_dataset();
    let prepared = Prepared::new(&ds);
    assert_overview_is_report_and_distributions(&prepared, &Filter::default());
    let (_, d) = metrics::report_with_distributions(&prepared, &ReportRequest::default());
    assert_eq!(d.session_length.counts, [2, 2, 0, 0, 0, 0, 1, 1]);
    assert_eq!(d.time_between_sessions.counts, [1, 2, 1, 0, 1, 0, 1]);
    assert_eq!(d.sessions_per_user.counts, [0, 0, 0, 0, 0, 1, 0, 0, 0]);
}

#[test]
fn sessions_per_user_bins_include_users_without_sessions() {
    // Sessions of unknown length, one minute apart from the install. u1 also has a
    // session an hour before its install, which is not counted.
    let install = at("2024-02-01 00:00:00");
    let counts: [(&str, i64); 10] = [
        ("u0", 0),
        ("u1", 1),
        ("u2", 2),
        ("u3", 3),
        ("u4", 5),
        ("u5", 6),
        ("u6", 50),
        ("u7", 51),
        ("u8", 10),
        ("u9", 11),
    ];
    let users = counts
        .iter()
        .map(|&(key, _)| user(key, install, attrs("", "")))
        .collect();
    let mut sessions = vec![("u1", install - HOUR, None)];
    for &(key, n) in &counts {
        for k in 0..n {
            sessions.push((key, install + k * MIN, None));
        }
    }
    let mut ds = dataset(users, &sessions, vec![]);
    ds.latest_ms = Some(install + 50 * MIN);
    let d = distributions(&Prepared::new(&ds), &Filter::default());
    let h = &d.sessions_per_user;
    assert_eq!(
        h.labels,
        ["0", "1", "2", "3", "4-5", "6-10", "11-20", "21-50", "over 50"]
    );
    // "0": u0; "1": u1 (its pre-install session left out); "2": u2; "3": u3;
    // "4-5": u4 (5); "6-10": u5 (6), u8 (10); "11-20": u9 (11); "21-50": u6 (50);
    // "over 50": u7 (51).
    assert_eq!(h.counts, [1, 1, 1, 1, 1, 2, 1, 1, 1]);
    assert_eq!(h.total(), 10);
    // Gaps are 1 min between consecutive counted sessions: (n - 1) per user with n >= 1:
    // 1 + 2 + 4 + 5 + 49 + 50 + 9 + 10 = 130, all under 1 h. The pre-install session of
    // u1 would have added a 1 h gap in "1-24 h".
    assert_eq!(d.time_between_sessions.counts, [130, 0, 0, 0, 0, 0, 0]);
    assert_eq!(d.session_length.total(), 0); // every length unknown

    // The filter applies: channel "none" matches no user, so every bin is empty.
    let d = distributions(&Prepared::new(&ds), &channel("none"));
    assert_eq!(d.sessions_per_user.total(), 0);
    let prepared = Prepared::new(&ds);
    assert_overview_is_report_and_distributions(&prepared, &Filter::default());
    assert_overview_is_report_and_distributions(&prepared, &channel("none"));
}

// ---------------------------------------------------------------------------
// Data-quality report
// ---------------------------------------------------------------------------

#[test]
fn quality_reports_unmatched_spend_and_currency_left_out() {
    let users = vec![
        user("u1", at("2024-01-01 10:00:00"), attrs("Facebook", "Spring")),
        user("u2", at("2024-01-01 11:00:00"), attrs("", "")),
        user("u3", at("2024-01-01 12:00:00"), attrs("google", "brand")),
    ];
    let spend = vec![
        spend_in("2024-01-01", " facebook ", "SPRING ", 100.0, "USD"), // matches u1's pair
        spend("2024-01-01", "facebook", "", 10.0), // no campaign: matches channel facebook
        spend("2024-01-01", "facebook", "autumn", 25.0), // no user in facebook/autumn
        spend("2024-01-01", "tiktok", "", 7.0),    // no user in tiktok
        spend("2024-01-01", "", "", 3.0),          // organic: matches u2
        spend_in("2024-01-01", "google", "brand", 50.0, "EUR"), // matched; no EUR rate 01-01
        spend_in("2024-01-02", "google", "brand", 20.0, "EUR"), // rate 1.1 on 01-02: kept
        spend_in("2024-01-01", "tiktok", "x", 40.0, "GBP"), // unmatched and no GBP rate
        spend_in("2024-01-03", "google", "brand", 30.0, "EUR"), // no EUR rate on 01-03
        spend_in("2024-01-01", "google", "brand", 5.0, "usd"), // project currency, any case
    ];
    let mut ds = dataset(users, &[], spend);
    ds.rates = vec![RateRow {
        date: date("2024-01-02"),
        currency: "EUR".to_owned(),
        rate: 1.1,
    }];
    ds.rejected_by_reason.insert("bad time".to_owned(), 3);
    ds.stats.reinstalls = 2;
    ds.latest_ms = Some(at("2024-01-05 00:00:00"));

    let q = quality(&Prepared::new(&ds));
    // Unmatched: facebook/autumn (25), tiktok/"" (7), tiktok/x (40 GBP, no rate).
    assert_eq!(q.unmatched_spend_rows, 3);
    // 25 + 7 in the project's currency; the GBP row cannot be converted and is
    // reported under currency_left_out instead of being added: 32.
    assert!(
        (q.unmatched_spend_amount - 32.0).abs() < 1e-9,
        "{}",
        q.unmatched_spend_amount
    );
    let expected: BTreeMap<String, (u64, f64)> = [
        ("EUR".to_owned(), (2, 80.0)), // 50 + 30, rows dated without an EUR rate
        ("GBP".to_owned(), (1, 40.0)),
    ]
    .into();
    assert_eq!(q.currency_left_out, expected);
    // The rest is passed through from the dataset.
    assert_eq!(q.rejected_by_reason.get("bad time"), Some(&3));
    assert_eq!(q.build.reinstalls, 2);

    // Spend of the whole project: 100 + 10 + 25 + 7 + 3 + 20 x 1.1 + 5 = 172
    // (EUR 50 and 30 and GBP 40 left out).
    let g = all(&ds, Filter::default(), &[0]);
    close(g.spend, 172.0);
}

// ---------------------------------------------------------------------------
// Campaign QA
// ---------------------------------------------------------------------------

/// All installs on 2024-01-01 (UTC), data end 2024-01-20 00:00: 01-01 is mature for
/// (01-20 - 01-02) = 18 days - 1 = 17 >= 7.
///   fb/alpha:    a1 d0 5 s, d1 60 s, d4 60 s            (3 sessions)
///                a2 d0 120 s, d2 9.999 s, d3 10.000 s    (3)
///                a3 d0 unknown length                    (1)
///                a4 none                                 (0)
///   fb/beta:     b1 d0, d1, d2, d3 of 30 s               (4)
///                b2 d0 30 s, d7 30 s (168 h)             (2)
///   tiktok/gamma: c1 d0 3 s (1); c2, c3 none (0)
///   google/delta: d1 d0 30 s twice                       (2)
fn qa_dataset() -> Dataset {
    let base = at("2024-01-01 10:00:00");
    let users = vec![
        user("a1", base, attrs("fb", "alpha")),
        user("a2", base + HOUR, attrs("fb", "alpha")),
        user("a3", base + 2 * HOUR, attrs("fb", "alpha")),
        user("a4", base + 3 * HOUR, attrs("fb", "alpha")),
        user("b1", base, attrs("fb", "beta")),
        user("b2", base + HOUR, attrs("fb", "beta")),
        user("c1", base, attrs("tiktok", "gamma")),
        user("c2", base + HOUR, attrs("tiktok", "gamma")),
        user("c3", base + 2 * HOUR, attrs("tiktok", "gamma")),
        user("d1", base, attrs("google", "delta")),
    ];
    let a2 = base + HOUR;
    let b2 = base + HOUR;
    let sessions = [
        ("a1", base, Some(5 * SEC)),
        ("a1", base + DAY_MS, Some(60 * SEC)),
        ("a1", base + 4 * DAY_MS, Some(60 * SEC)),
        ("a2", a2, Some(120 * SEC)),
        ("a2", a2 + 2 * DAY_MS, Some(9_999)),
        ("a2", a2 + 3 * DAY_MS, Some(10_000)),
        ("a3", base + 2 * HOUR, None),
        ("b1", base, Some(30 * SEC)),
        ("b1", base + DAY_MS, Some(30 * SEC)),
        ("b1", base + 2 * DAY_MS, Some(30 * SEC)),
        ("b1", base + 3 * DAY_MS, Some(30 * SEC)),
        ("b2", b2, Some(30 * SEC)),
        ("b2", b2 + 7 * DAY_MS, Some(30 * SEC)),
        ("c1", base, Some(3 * SEC)),
        ("d1", base, Some(30 * SEC)),
        ("d1", base + HOUR, Some(30 * SEC)),
    ];
    let mut ds = dataset(users, &sessions, vec![]);
    ds.settings.data_end_ms = Some(at("2024-01-20 00:00:00"));
    ds
}

fn row<'t>(rows: &'t [CampaignQuality], campaign: &str) -> &'t CampaignQuality {
    rows.iter()
        .find(|r| r.campaign == campaign)
        .unwrap_or_else(|| panic!("no campaign {campaign}"))
}

#[test]
fn campaign_quality_shares_and_sessions_per_user_d7() {
    let ds = qa_dataset();
    let t = campaign_quality(&Prepared::new(&ds), &Filter::default(), 2);
    assert_eq!(t.min_installs, 2);

    let alpha = row(&t.rows, "alpha");
    assert_eq!(alpha.channel, "fb");
    assert_eq!(alpha.installs, 4);
    close(alpha.one_session_share, 0.5); // a3 (1 session), a4 (0): 2 / 4
                                         // Known lengths: 5, 60, 60, 120, 9.999, 10.000 s (a3's unknown left out): 6;
                                         // under 10 s: 5 and 9.999 (10.000 is not under): 2 / 6.
    close(alpha.short_session_share, 1.0 / 3.0);
    close(alpha.sessions_per_user_d7, 1.75); // (3 + 3 + 1 + 0) / 4
    close(alpha.retention_d1, 0.25); // a1 on day 1: 1 / 4
    close(alpha.retention_d7, 0.0); // nobody on day 7: 0 / 4

    let beta = row(&t.rows, "beta");
    assert_eq!(beta.installs, 2);
    close(beta.one_session_share, 0.0); // 0 / 2
    close(beta.short_session_share, 0.0); // 0 of 6 known lengths
    close(beta.sessions_per_user_d7, 3.0); // (4 + 2) / 2
    close(beta.retention_d1, 0.5); // b1: 1 / 2
    close(beta.retention_d7, 0.5); // b2: 1 / 2

    let gamma = row(&t.rows, "gamma");
    assert_eq!(gamma.channel, "tiktok");
    assert_eq!(gamma.installs, 3);
    close(gamma.one_session_share, 1.0); // c1 (1), c2 (0), c3 (0): 3 / 3
    close(gamma.short_session_share, 1.0); // the one known length, 3 s: 1 / 1
    close(gamma.sessions_per_user_d7, 1.0 / 3.0); // 1 / 3
}

#[test]
fn campaign_quality_compares_with_the_median_campaign_and_flags_below_half() {
    let ds = qa_dataset();
    let t = campaign_quality(&Prepared::new(&ds), &Filter::default(), 2);
    // Campaigns with >= 2 installs: alpha (4), beta (2), gamma (3); delta (1) left out.
    assert_eq!(t.rows.len(), 3);
    // Median sessions per user D7 of [1/3, 1.75, 3.0] = 1.75.
    close(t.median_sessions_per_user_d7, 1.75);
    close(t.median_one_session_share, 0.5); // of [0, 0.5, 1]
    close(t.median_short_session_share, 1.0 / 3.0); // of [0, 1/3, 1]

    let alpha = row(&t.rows, "alpha");
    close(alpha.d7_vs_median, 1.0); // 1.75 / 1.75
                                    // one-session 0.5 is not > 0.5 + 0.2; short 1/3 is not > 2 x 1/3; D7 ratio 1.0.
    assert!(alpha.flags.is_empty(), "{:?}", alpha.flags);
    let beta = row(&t.rows, "beta");
    close(beta.d7_vs_median, 12.0 / 7.0); // 3 / 1.75
    assert!(beta.flags.is_empty(), "{:?}", beta.flags);

    let gamma = row(&t.rows, "gamma");
    close(gamma.d7_vs_median, 4.0 / 21.0); // (1/3) / 1.75 = 0.19 < 0.5
    assert_eq!(
        gamma.flags,
        [
            // 1/3 shown as 0.33, the median 1.75.
            "sessions per user by D7 0.33 is under half the median campaign's 1.75",
            // 1.0 >= 0.5 and > 0.5 + 0.2.
            "100% of users never had a second session (median campaign 50%)",
            // 1.0 >= 0.2 and > 2 x 1/3; the median 33.3% shown as 33%.
            "100% of sessions are under 10 s (median campaign 33%)",
        ]
    );
    // Flagged rows first, then by D7 against the median, lowest first.
    let order: Vec<&str> = t.rows.iter().map(|r| r.campaign.as_str()).collect();
    assert_eq!(order, ["gamma", "alpha", "beta"]);
}

#[test]
fn campaign_quality_min_installs_decides_rows_and_medians() {
    let ds = qa_dataset();
    let prepared = Prepared::new(&ds);

    let t = campaign_quality(&prepared, &Filter::default(), 1);
    assert_eq!(t.rows.len(), 4); // delta (1 install) is in
    close(row(&t.rows, "delta").sessions_per_user_d7, 2.0); // 2 / 1
                                                            // Median of [1/3, 1.75, 2.0, 3.0] = (1.75 + 2.0) / 2.
    close(t.median_sessions_per_user_d7, 1.875);

    let t = campaign_quality(&prepared, &Filter::default(), 3);
    let mut names: Vec<&str> = t.rows.iter().map(|r| r.campaign.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["alpha", "gamma"]); // 4 and 3 installs
                                           // Median of [1/3, 1.75] = (1/3 + 7/4) / 2 = 25/24.
    close(t.median_sessions_per_user_d7, 25.0 / 24.0);
    close(row(&t.rows, "gamma").d7_vs_median, 0.32); // (1/3) / (25/24) = 8/25

    let t = campaign_quality(&prepared, &Filter::default(), 5);
    assert!(t.rows.is_empty()); // no campaign has 5 installs
    assert_eq!(t.median_sessions_per_user_d7, None);
    assert_eq!(t.median_one_session_share, None);
    assert_eq!(t.median_short_session_share, None);
}

#[test]
fn campaign_quality_wilson_intervals_lie_in_zero_to_one() {
    let ds = qa_dataset();
    let t = campaign_quality(&Prepared::new(&ds), &Filter::default(), 1);
    for r in &t.rows {
        for (p, ci) in [
            (r.retention_d1, r.retention_d1_ci),
            (r.retention_d7, r.retention_d7_ci),
        ] {
            let p = p.unwrap();
            let (low, high) = ci.unwrap();
            assert!(
                (0.0..=1.0).contains(&low) && (0.0..=1.0).contains(&high),
                "{r:?}"
            );
            assert!(low <= p && p <= high, "{r:?}");
        }
    }
    // beta D7: k = 1, n = 2, p = 0.5, z^2 = 3.8416, z^2/n = 1.9208, denominator 2.9208;
    // centre (0.5 + 3.8416/4) / 2.9208 = 1.4604 / 2.9208 = 0.5;
    // half 1.96 x sqrt(0.25/2 + 3.8416/16) / 2.9208 = 1.96 x sqrt(0.3651) / 2.9208
    //      = 1.96 x 0.604235 / 2.9208 = 0.405471.
    let (low, high) = row(&t.rows, "beta").retention_d7_ci.unwrap();
    assert!((low - 0.094529).abs() < 1e-5, "{low}");
    assert!((high - 0.905471).abs() < 1e-5, "{high}");
    // gamma D1: k = 0, n = 3: low is 0 (clamped), high = z^2 / (n + z^2)
    //      = 3.8416 / 6.8416 = 0.561506.
    let (low, high) = row(&t.rows, "gamma").retention_d1_ci.unwrap();
    assert_eq!(low, 0.0);
    assert!((high - 0.561506).abs() < 1e-5, "{high}");
    // delta D1: k = 0 of n = 1: high = 3.8416 / 4.8416 = 0.793457 (and never above 1).
    let (low, high) = row(&t.rows, "delta").retention_d1_ci.unwrap();
    assert_eq!(low, 0.0);
    assert!((high - 0.793457).abs() < 1e-5, "{high}");
}

// ---------------------------------------------------------------------------
// Facets
// ---------------------------------------------------------------------------

/// Reporting zone America/New_York (UTC-5 in January).
///   u1 2024-01-05 12:00 UTC (01-05 07:00 EST) "facebook"/"Spring Sale", us, ios, 1.0
///   u2 2024-01-02 03:00 UTC (01-01 22:00 EST) " FaceBook "/"Spring Sale", US  <- earliest
///   u3 2024-01-03 12:00 UTC ""/"" (organic)
///   u4 2024-01-04 12:00 UTC "Google"/"Brand", DE
///   u5 2024-01-06 04:30 UTC (01-05 23:30 EST) "google"/"brand", android
///   u6 2024-01-06 05:30 UTC (01-06 00:30 EST) "TikTok"/"Spring Sale"
fn facets_dataset(u1_campaign: &str) -> Dataset {
    let full =
        |channel: &str, campaign: &str, country: &str, platform: &str, version: &str| Attributes {
            channel: channel.to_owned(),
            campaign: campaign.to_owned(),
            country: country.to_owned(),
            platform: platform.to_owned(),
            app_version: version.to_owned(),
        };
    let users = vec![
        user(
            "u1",
            at("2024-01-05 12:00:00"),
            full("facebook", u1_campaign, "us", "ios", "1.0"),
        ),
        user(
            "u2",
            at("2024-01-02 03:00:00"),
            full(" FaceBook ", "Spring Sale", "US", "", ""),
        ),
        user("u3", at("2024-01-03 12:00:00"), full("", "", "", "", "")),
        user(
            "u4",
            at("2024-01-04 12:00:00"),
            full("Google", "Brand", "DE", "", ""),
        ),
        user(
            "u5",
            at("2024-01-06 04:30:00"),
            full("google", "brand", "", "android", ""),
        ),
        user(
            "u6",
            at("2024-01-06 05:30:00"),
            full("TikTok", "Spring Sale", "", "", ""),
        ),
    ];
    let mut ds = dataset(users, &[], vec![]);
    ds.settings.tz = "America/New_York".to_owned();
    ds.latest_ms = Some(at("2024-01-06 05:30:00"));
    ds
}

#[test]
fn facets_list_channels_as_first_spelled_and_install_dates_in_the_zone() {
    let ds = facets_dataset("Spring Sale");
    let f = Prepared::new(&ds).facets();
    // facebook: earliest install u2, " FaceBook " trimmed; google: u4 "Google" (before
    // u5); organic: u3's empty channel; tiktok: "TikTok". Sorted ignoring case.
    assert_eq!(f.channels, ["FaceBook", "Google", "organic", "TikTok"]);
    // Cohort dates in New York: u2 2024-01-01 22:00 is the first, u6 2024-01-06 00:30
    // the last (in UTC they would be 01-02 and 01-06, with u5 on 01-06 too).
    assert_eq!(f.first_install, Some(date("2024-01-01")));
    assert_eq!(f.last_install, Some(date("2024-01-06")));
    // Countries: "us" first as "US" (u2 before u1), "DE"; the empty one is left out.
    assert_eq!(f.countries, ["DE", "US"]);
    assert_eq!(f.platforms, ["android", "ios"]);
    assert_eq!(f.app_versions, ["1.0"]);
}

#[test]
fn facets_list_campaigns_as_channel_campaign_pairs() {
    let ds = facets_dataset("Spring Sale");
    let f = Prepared::new(&ds).facets();
    // (facebook, spring sale) from u1 and u2; (google, brand) from u4 and u5;
    // (tiktok, spring sale) is a pair of its own; organic's empty campaign is left out.
    // Channels as shown in `channels`, sorted by channel then campaign.
    let expected = [
        ("FaceBook", "Spring Sale"),
        ("Google", "Brand"),
        ("TikTok", "Spring Sale"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|&(c, m)| (c.to_owned(), m.to_owned()))
        .collect();
    assert_eq!(f.campaigns, expected);
}

#[test]

fn facets_campaign_spelling_is_that_of_the_earliest_install() {
    // u1 (first by key, installed 01-05) spells it "spring sale"; u2 (earliest install,
    // 01-01 EST) spells it "Spring Sale". CLI.md: the name shown is the spelling of the
    // earliest row, as `report --by campaign` shows it.
    let ds = facets_dataset("spring sale");
    let prepared = Prepared::new(&ds);
    let shown_in_report = report(
        &prepared,
        &ReportRequest {
            by: GroupBy::Campaign,
            days: vec![0],
            ..ReportRequest::default()
        },
    )
    .groups
    .into_iter()
    .find(|g| g.channel.as_deref() == Some("FaceBook"))
    .and_then(|g| g.campaign)
    .unwrap();
    assert_eq!(shown_in_report, "Spring Sale"); // u2's spelling
    let f = prepared.facets();
    assert!(
        f.campaigns
            .contains(&("FaceBook".to_owned(), "Spring Sale".to_owned())),
        "{:?}",
        f.campaigns
    );
}

#[test]
fn normalize_and_channel_key_trim_and_ignore_case() {
    assert_eq!(metrics::normalize_name("  Spring SALE "), "spring sale");
    assert_eq!(metrics::channel_key("  "), metrics::ORGANIC); // empty after trimming
    assert_eq!(metrics::channel_key(" Organic"), "organic");
    assert_eq!(metrics::channel_key("FB "), "fb");
}

// ---------------------------------------------------------------------------
// Large groups: quantiles counted in buckets equal sorting every value
// ---------------------------------------------------------------------------

/// 40,000 users with 4 sessions each (160,000, far above the size from which groups are
/// counted in buckets): lengths repeat a lot and have a long tail; one in nine unknown.
#[test]
fn quantiles_of_a_large_group_equal_those_of_all_values_sorted() {
    let start = at("2024-01-01 00:00:00");
    let mut rng = cohort_explorer::demo::Rng::seeded(11);
    let mut users = Vec::new();
    let mut rows: Vec<(String, i64, Option<i64>)> = Vec::new();
    for u in 0..40_000 {
        let key = format!("u{u:05}");
        let install = start + i64::try_from(rng.below(30 * 24)).unwrap() * HOUR;
        let channel = if u % 4 == 0 { "small" } else { "big" };
        let campaign = ["c0", "c1", "c2"][u % 3];
        users.push(user(&key, install, attrs(channel, campaign)));
        let mut t = install;
        for _ in 0..4 {
            let length = match rng.below(9) {
                0 => None,
                1..=3 => Some(60 * SEC),
                _ => Some(i64::try_from(rng.below(1 << 16) * rng.below(2_000)).unwrap()),
            };
            rows.push((key.clone(), t, length));
            t += length.unwrap_or(0) + i64::try_from(rng.below(50 * 3_600)).unwrap() * SEC;
        }
    }
    let borrowed: Vec<(&str, i64, Option<i64>)> =
        rows.iter().map(|(k, t, l)| (k.as_str(), *t, *l)).collect();
    let mut ds = dataset(users, &borrowed, vec![]);
    // Every cohort date is mature for every requested day.
    ds.settings.data_end_ms = Some(at("2025-01-01 00:00:00"));

    // The expected figures, from every value sorted, per channel and for all users.
    let expect = |only: Option<&str>| {
        let (mut lengths, mut gaps) = (Vec::new(), Vec::new());
        for own in ds.sessions.chunk_by(|a, b| a.user == b.user) {
            let user = &ds.users[own[0].user as usize];
            if only.is_some_and(|c| c != user.attrs.channel) {
                continue;
            }
            lengths.extend(
                own.iter()
                    .filter_map(|s| s.end_ms().map(|e| e - s.start_ms)),
            );
            for pair in own.windows(2) {
                gaps.push(pair[1].start_ms - pair[0].end_ms().unwrap_or(pair[0].start_ms));
            }
        }
        lengths.sort_unstable();
        gaps.sort_unstable();
        let seconds = |v: Option<f64>| v.map(|ms| ms / 1000.0);
        (
            seconds(metrics::quantile(&lengths, 0.5)),
            seconds(metrics::quantile(&lengths, 0.9)),
            seconds(metrics::quantile(&gaps, 0.5)),
        )
    };

    let prepared = Prepared::new(&ds);
    let all = &report(&prepared, &ReportRequest::default()).groups[0];
    let by_channel = report(
        &prepared,
        &ReportRequest {
            by: GroupBy::Channel,
            ..ReportRequest::default()
        },
    );
    let figures = |g: &GroupMetrics| {
        (
            g.median_session_length_s,
            g.p90_session_length_s,
            g.median_time_between_sessions_s,
        )
    };
    assert_eq!(all.sessions, 160_000);
    assert_eq!(figures(all), expect(None));
    // Day figures, counted directly: 40,000 users are more than one core's share, so
    // this also checks that the parts' sums add up.
    for day in [0u32, 1, 7, 30] {
        let n = i64::from(day);
        let (mut through, mut on_day, mut active) = (0u64, 0u64, HashMap::new());
        for s in &ds.sessions {
            let install = ds.users[s.user as usize].install_ms;
            let d = (s.start_ms - install) / DAY_MS;
            through += u64::from(d <= n);
            on_day += u64::from(d == n);
            if d == n {
                active.insert(s.user, ());
            }
        }
        let figures = all.day(day).unwrap();
        assert_eq!(figures.mature_users, 40_000);
        assert_eq!(
            (
                figures.sessions_through,
                figures.sessions_on_day,
                figures.active_users
            ),
            (through, on_day, active.len() as u64),
            "day {day}"
        );
    }
    let length_sum: i64 = ds.sessions.iter().filter_map(|s| s.length_ms()).sum();
    let known = ds.sessions.iter().filter(|s| s.end_ms().is_some()).count();
    close(
        all.avg_session_length_s,
        length_sum as f64 / known as f64 / 1000.0,
    );
    assert_eq!(by_channel.groups[0].name, "big");
    assert_eq!(figures(&by_channel.groups[0]), expect(Some("big")));
    assert_eq!(figures(&by_channel.groups[1]), expect(Some("small")));

    // Without a filter the quantiles come from figures counted once per load; with one,
    // from the group's own pass. Both count the same sessions.
    let by_campaign = report(
        &prepared,
        &ReportRequest {
            by: GroupBy::Campaign,
            ..ReportRequest::default()
        },
    );
    assert_eq!(by_campaign.groups.len(), 6);
    for g in by_campaign.groups.iter().chain(&by_channel.groups) {
        let filter = Filter {
            channel: g.channel.clone(),
            campaign: g.campaign.clone(),
            ..Filter::default()
        };
        let alone = report(
            &prepared,
            &ReportRequest {
                filter,
                ..ReportRequest::default()
            },
        );
        assert_eq!(figures(g), figures(&alone.groups[0]), "{}", g.name);
        assert_eq!(g.installs, alone.groups[0].installs);
    }

    // A report without a filter keeps its quantiles for the next one: on a fresh
    // preparation, the second report of each kind equals the first.
    let fresh = Prepared::new(&ds);
    let overview = metrics::report_with_distributions(&fresh, &ReportRequest::default());
    for by in [GroupBy::None, GroupBy::Channel, GroupBy::Campaign] {
        let request = ReportRequest {
            by,
            ..ReportRequest::default()
        };
        let first = report(&fresh, &request);
        assert_eq!(report(&fresh, &request), first, "{by:?}");
    }
    let again = metrics::report_with_distributions(&fresh, &ReportRequest::default());
    assert_eq!(again, overview);

    // The overview counts its histograms from the same buckets: a third of the lengths
    // are exactly 60 s, the last value of bin "31-60 s".
    assert_overview_is_report_and_distributions(&prepared, &Filter::default());
    assert_overview_is_report_and_distributions(&prepared, &channel("small"));
    let (_, d) = metrics::report_with_distributions(&prepared, &ReportRequest::default());
    let lengths: Vec<i64> = ds.sessions.iter().filter_map(|s| s.length_ms()).collect();
    let between =
        |low: i64, high: i64| lengths.iter().filter(|&&l| low < l && l <= high).count() as u64;
    assert_eq!(d.session_length.counts[0], between(-1, 10 * SEC));
    assert_eq!(d.session_length.counts[2], between(30 * SEC, 60 * SEC));
    assert_eq!(d.session_length.counts[7], between(3_600 * SEC, i64::MAX));
    assert_eq!(d.session_length.total(), lengths.len() as u64);
    assert_eq!(d.sessions_per_user.counts[4], 40_000); // every user: 4 sessions
}

/// The split Sessions view: one set of histograms per channel, largest first.
#[test]
fn distributions_by_channel_split_the_users_largest_channel_first() {
    let ds = filter_dataset();
    let prepared = Prepared::new(&ds);
    let split = metrics::distributions_by(&prepared, &Filter::default(), GroupBy::Channel);
    let names: Vec<&str> = split.iter().map(|(name, _)| name.as_str()).collect();
    // Facebook Ads has u1 and u2 (spelled as on the earliest install, u1's); Google and
    // organic one user each, tied, so by name.
    assert_eq!(names, ["Facebook Ads", "Google", "organic"]);
    let facebook = &split[0].1;
    // u1 has 2 sessions, u2 one: bins "1" and "2" of sessions per user.
    assert_eq!(
        facebook.sessions_per_user.counts,
        [0, 1, 1, 0, 0, 0, 0, 0, 0]
    );
    // Three sessions of 60 s each: all in "31-60 s" (60 s is that bin's inclusive top).
    assert_eq!(facebook.session_length.counts, [0, 0, 3, 0, 0, 0, 0, 0]);
    // One gap: u1's 10:01 end to 12:00 start is 1 h 59 min, in "1-24 h".
    assert_eq!(facebook.time_between_sessions.counts, [0, 1, 0, 0, 0, 0, 0]);

    // By campaign: spring (u1, u2) first, then brand and the empty campaign by name.
    let split = metrics::distributions_by(&prepared, &Filter::default(), GroupBy::Campaign);
    let names: Vec<&str> = split.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["Spring", "", "brand"]);
    // The same users as one channel, so the same histograms.
    assert_eq!(split[0].1, *facebook);
}
