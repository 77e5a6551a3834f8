//! Cohorts, day N, maturity and the per-user metrics (SPEC sections 4-6, CLI.md
//! "Definitions the report follows").
//!
//! Fixtures: install files `user_id,install_time,channel` and session files
//! `user_id,session_start,session_end`, timestamps without offset read in UTC
//! unless an import says `--tz`.

#![allow(clippy::expect_used)] // a failed expectation is a test failure

mod common;
use common::*;

const INSTALLS_HEADER: &str = "user_id,install_time,channel\n";
const SESSIONS_HEADER: &str = "user_id,session_start,session_end\n";

fn installs(rows: &str) -> String {
    format!("{INSTALLS_HEADER}{rows}")
}

fn sessions(rows: &str) -> String {
    format!("{SESSIONS_HEADER}{rows}")
}

// ---------------------------------------------------------------------------
// Window vs calendar day N
// ---------------------------------------------------------------------------

/// Install 2024-01-01 23:00 UTC; sessions at
///   S0 2024-01-01 23:00 (install session)      window 0 h  -> day 0 | calendar day 0
///   S1 2024-01-02 01:00                          window 2 h  -> day 0 | calendar day 1
///   S2 2024-01-02 23:00 (exactly 24 h later)     window 24 h -> day 1 | calendar day 1
fn midnight_project() -> Project {
    let p = Project::new();
    p.import(
        "installs.csv",
        &installs("u1,2024-01-01 23:00:00,fb\n"),
        "installs",
        &[],
    );
    p.import(
        "sessions.csv",
        &sessions(
            "u1,2024-01-01 23:00:00,2024-01-01 23:10:00\n\
             u1,2024-01-02 01:00:00,2024-01-02 01:05:00\n\
             u1,2024-01-02 23:00:00,2024-01-02 23:01:00\n",
        ),
        "sessions",
        &[],
    );
    // Day 2 mature in both conventions: window 2024-01-02T00:00Z + 3 x 24 h = 2024-01-05;
    // calendar start of 2024-01-04; both <= 2024-01-10.
    p.settings(&["--data-end", "2024-01-10T00:00:00Z"]);
    p
}

#[test]
fn window_day_n_counts_whole_24_hour_periods_from_install() {
    let p = midnight_project();
    let r = p.report("none", "0,1,2");
    assert_eq!(at(&r, "settings.day"), "window"); // the default convention
    let g = &groups(&r)[0];
    expect_num(g, "installs", 1.0);
    expect_num(g, "sessions", 3.0);
    // Window: S0, S1 on day 0; S2 on day 1.
    expect_num(g, "sessions_per_user.0", 2.0); // 2 / 1
    expect_num(g, "sessions_per_user.1", 3.0); // (2 + 1) / 1
    expect_num(g, "sessions_per_user.2", 3.0); // nothing on day 2: still 3 / 1
    expect_num(g, "retention.0", 1.0);
    expect_num(g, "retention.1", 1.0); // S2
    expect_num(g, "retention.2", 0.0); // 0 / 1 (a zero numerator is 0, not null)
}

#[test]
fn calendar_day_n_counts_calendar_dates_from_install() {
    let p = midnight_project();
    p.settings(&["--day", "calendar"]);
    let r = p.report("none", "0,1,2");
    assert_eq!(at(&r, "settings.day"), "calendar");
    let g = &groups(&r)[0];
    // Calendar: S0 on day 0 (2024-01-01); S1 and S2 on day 1 (2024-01-02).
    expect_num(g, "sessions_per_user.0", 1.0); // 1 / 1
    expect_num(g, "sessions_per_user.1", 3.0); // (1 + 2) / 1
    expect_num(g, "sessions_per_user.2", 3.0);
    expect_num(g, "retention.0", 1.0);
    expect_num(g, "retention.1", 1.0);
    expect_num(g, "retention.2", 0.0);
}

// ---------------------------------------------------------------------------
// Daylight-saving changes
// ---------------------------------------------------------------------------

#[test]
fn window_day_uses_elapsed_time_across_spring_forward() {
    let p = Project::new();
    // Europe/Berlin moves from CET (+01:00) to CEST (+02:00) at 2024-03-31 02:00 local.
    // Install 2024-03-30 12:00 CET  = 2024-03-30T11:00Z.
    // Session 2024-03-31 12:00 CEST = 2024-03-31T10:00Z -> only 23 h after install.
    let tz = ["--tz", "Europe/Berlin"];
    p.import(
        "installs.csv",
        &installs("u1,2024-03-30 12:00:00,fb\n"),
        "installs",
        &tz,
    );
    p.import(
        "sessions.csv",
        &sessions(
            "u1,2024-03-30 12:00:00,2024-03-30 12:05:00\n\
             u1,2024-03-31 12:00:00,2024-03-31 12:05:00\n",
        ),
        "sessions",
        &tz,
    );
    p.settings(&[
        "--tz",
        "Europe/Berlin",
        "--data-end",
        "2024-04-10T00:00:00Z",
    ]);

    let r = p.report("cohort", "0,1");
    assert_eq!(at(&r, "settings.tz"), "Europe/Berlin");
    let g = group(&r, "2024-03-30");
    // Window: floor(23 h / 24 h) = 0 -> both sessions on day 0.
    expect_num(g, "sessions_per_user.0", 2.0); // 2 / 1
    expect_num(g, "sessions_per_user.1", 2.0);
    expect_num(g, "retention.1", 0.0);

    // Calendar: 2024-03-31 - 2024-03-30 = day 1.
    p.settings(&["--day", "calendar"]);
    let r = p.report("cohort", "0,1");
    let g = group(&r, "2024-03-30");
    expect_num(g, "sessions_per_user.0", 1.0);
    expect_num(g, "sessions_per_user.1", 2.0);
    expect_num(g, "retention.1", 1.0);
}

#[test]
fn window_day_uses_elapsed_time_across_fall_back() {
    let p = Project::new();
    // America/New_York moves from EDT (-04:00) to EST (-05:00) at 2024-11-03 02:00 local.
    // Install 2024-11-02 12:00 EDT = 2024-11-02T16:00Z.
    // Session 2024-11-03 11:30 EST = 2024-11-03T16:30Z -> 24.5 h after install
    // (the wall clock says 23.5 h).
    let tz = ["--tz", "America/New_York"];
    p.import(
        "installs.csv",
        &installs("u1,2024-11-02 12:00:00,fb\n"),
        "installs",
        &tz,
    );
    p.import(
        "sessions.csv",
        &sessions(
            "u1,2024-11-02 12:00:00,2024-11-02 12:05:00\n\
             u1,2024-11-03 11:30:00,2024-11-03 11:35:00\n",
        ),
        "sessions",
        &tz,
    );
    p.settings(&[
        "--tz",
        "America/New_York",
        "--data-end",
        "2024-11-20T00:00:00Z",
    ]);
    let r = p.report("cohort", "0,1");
    let g = group(&r, "2024-11-02");
    // Window: floor(24.5 h / 24 h) = 1.
    expect_num(g, "sessions_per_user.0", 1.0);
    expect_num(g, "sessions_per_user.1", 2.0);
    expect_num(g, "retention.1", 1.0);
}

#[test]
fn maturity_thresholds_follow_zone_rules_across_dst() {
    let p = Project::new();
    // Europe/Berlin, cohort date d = 2024-03-30 (install 12:00 CET = 11:00Z).
    // Sessions 2024-03-30 12:00 CET and 2024-03-31 12:00 CEST (10:00Z).
    let tz = ["--tz", "Europe/Berlin"];
    p.import(
        "installs.csv",
        &installs("u1,2024-03-30 12:00:00,fb\n"),
        "installs",
        &tz,
    );
    p.import(
        "sessions.csv",
        &sessions(
            "u1,2024-03-30 12:00:00,2024-03-30 12:05:00\n\
             u1,2024-03-31 12:00:00,2024-03-31 12:05:00\n",
        ),
        "sessions",
        &tz,
    );

    // Calendar thresholds:
    //   N=0: start of 2024-03-31 Berlin (00:00 is still CET) = 2024-03-30T23:00Z.
    //   N=1: start of 2024-04-01 Berlin (CEST)               = 2024-03-31T22:00Z.
    // Calendar days: first session day 0, second day 1.
    p.settings(&[
        "--tz",
        "Europe/Berlin",
        "--day",
        "calendar",
        "--data-end",
        "2024-03-31T21:59:59Z",
    ]);
    let g = p.report_all("0,1");
    expect_num(&g, "sessions_per_user.0", 1.0); // N=0 mature: 1 / 1
    expect_null(&g, "sessions_per_user.1"); // 21:59:59Z < 22:00Z: not mature
    expect_null(&g, "retention.1");

    p.settings(&["--data-end", "2024-03-31T22:00:00Z"]); // exactly at the threshold: mature
    let g = p.report_all("0,1");
    expect_num(&g, "sessions_per_user.1", 2.0); // (1 + 1) / 1
    expect_num(&g, "retention.1", 1.0);

    // Window threshold N=0: end of d = 2024-03-30T23:00Z, + 24 h = 2024-03-31T23:00Z.
    p.settings(&["--day", "window"]);
    let g = p.report_all("0,1");
    expect_null(&g, "sessions_per_user.0"); // data end 22:00Z < 23:00Z
    expect_null(&g, "retention.0");

    p.settings(&["--data-end", "2024-03-31T23:00:00Z"]);
    let g = p.report_all("0,1");
    // Window: second session is 23 h after install -> day 0, so 2 / 1 on day 0.
    expect_num(&g, "sessions_per_user.0", 2.0);
    expect_num(&g, "retention.0", 1.0);
    // N=1 window threshold: 2024-03-30T23:00Z + 48 h = 2024-04-01T23:00Z: not mature.
    expect_null(&g, "sessions_per_user.1");
}

#[test]
fn cohort_date_week_and_month_follow_the_reporting_zone() {
    let p = Project::new();
    // Install 2024-04-01 00:30 +02:00 (CEST) = 2024-03-31T22:30Z.
    // In UTC that is Sunday 2024-03-31 (ISO week starting Monday 2024-03-25, month 2024-03);
    // in Berlin it is Monday 2024-04-01 (week 2024-04-01, month 2024-04).
    p.import(
        "installs.csv",
        &installs("u1,2024-04-01T00:30:00+02:00,fb\n"),
        "installs",
        &[],
    );

    let day = p.report_args(&["--by", "cohort", "--grain", "day", "--days", "0"]);
    expect_num(group(&day, "2024-03-31"), "installs", 1.0);
    let week = p.report_args(&["--by", "cohort", "--grain", "week", "--days", "0"]);
    expect_num(group(&week, "2024-03-25"), "installs", 1.0);
    let month = p.report_args(&["--by", "cohort", "--grain", "month", "--days", "0"]);
    expect_num(group(&month, "2024-03"), "installs", 1.0);

    p.settings(&["--tz", "Europe/Berlin"]);
    let day = p.report_args(&["--by", "cohort", "--grain", "day", "--days", "0"]);
    expect_num(group(&day, "2024-04-01"), "installs", 1.0);
    let week = p.report_args(&["--by", "cohort", "--grain", "week", "--days", "0"]);
    expect_num(group(&week, "2024-04-01"), "installs", 1.0);
    let month = p.report_args(&["--by", "cohort", "--grain", "month", "--days", "0"]);
    expect_num(group(&month, "2024-04"), "installs", 1.0);
}

// ---------------------------------------------------------------------------
// Maturity
// ---------------------------------------------------------------------------

/// Cohorts 2024-01-01 (u1) and 2024-01-02 (u2), window convention, UTC.
///   u1 install 01-01 10:00: sessions 01-01 10:00 (day 0), 01-02 11:00 (25 h, day 1),
///                           01-02 12:00 (26 h, day 1)
///   u2 install 01-02 10:00: sessions 01-02 10:00 (day 0), 01-02 18:00 (8 h, day 0)
/// Window thresholds (end of d + (N+1) x 24 h):
///   01-01: N=0 -> 01-03T00:00Z, N=1 -> 01-04T00:00Z
///   01-02: N=0 -> 01-04T00:00Z, N=1 -> 01-05T00:00Z
fn maturity_project() -> Project {
    let p = Project::new();
    p.import(
        "installs.csv",
        &installs("u1,2024-01-01 10:00:00,fb\nu2,2024-01-02 10:00:00,fb\n"),
        "installs",
        &[],
    );
    p.import(
        "sessions.csv",
        &sessions(
            "u1,2024-01-01 10:00:00,2024-01-01 10:10:00\n\
             u1,2024-01-02 11:00:00,2024-01-02 11:10:00\n\
             u1,2024-01-02 12:00:00,2024-01-02 12:10:00\n\
             u2,2024-01-02 10:00:00,2024-01-02 10:05:00\n\
             u2,2024-01-02 18:00:00,2024-01-02 18:05:00\n",
        ),
        "sessions",
        &[],
    );
    p
}

#[test]
fn day_n_figures_count_only_users_of_mature_cohort_dates() {
    let p = maturity_project();
    // Data end 01-04T00:00Z: N=0 mature for both dates (01-02 exactly at its threshold),
    // N=1 mature for 01-01 only, N=7 for none.
    p.settings(&["--data-end", "2024-01-04T00:00:00Z"]);
    let g = p.report_all("0,1,7");
    // installs and sessions cover everyone, mature or not.
    expect_num(&g, "installs", 2.0);
    expect_num(&g, "sessions", 5.0);
    // N=0: users u1, u2; day-0 sessions 1 + 2 = 3 -> 3 / 2 = 1.5; both active -> 2 / 2.
    expect_num(&g, "sessions_per_user.0", 1.5);
    expect_num(&g, "retention.0", 1.0);
    // N=1: user u1 only; days 0..1 sessions 1 + 2 = 3 -> 3 / 1 = 3.0; active 1 / 1.
    // (Counting immature u2 too would give (3 + 2) / 2 = 2.5 and 1 / 2 = 0.5.)
    expect_num(&g, "sessions_per_user.1", 3.0);
    expect_num(&g, "retention.1", 1.0);
    // N=7: no mature cohort date -> null.
    expect_null(&g, "sessions_per_user.7");
    expect_null(&g, "retention.7");

    // Per cohort date.
    let r = p.report("cohort", "0,1");
    let d1 = group(&r, "2024-01-01");
    expect_num(d1, "sessions_per_user.1", 3.0); // 3 / 1
    let d2 = group(&r, "2024-01-02");
    expect_num(d2, "sessions_per_user.0", 2.0); // 2 / 1
    expect_num(d2, "retention.0", 1.0);
    expect_null(d2, "sessions_per_user.1"); // threshold 01-05 > data end
    expect_null(d2, "retention.1");
}

#[test]
fn one_second_before_a_threshold_is_not_mature() {
    let p = maturity_project();
    // Data end 01-03T23:59:59Z: N=0 mature for 01-01 (01-03T00:00Z) only; 01-02 needs 01-04.
    p.settings(&["--data-end", "2024-01-03T23:59:59Z"]);
    let g = p.report_all("0,1");
    expect_num(&g, "sessions_per_user.0", 1.0); // u1: 1 day-0 session / 1 user
    expect_num(&g, "retention.0", 1.0); // 1 / 1
    expect_null(&g, "sessions_per_user.1"); // 01-01 needs 01-04T00:00Z
    expect_null(&g, "retention.1");
}

#[test]
fn data_end_defaults_to_the_latest_imported_timestamp() {
    let p = Project::new();
    // Install u2 at 2024-01-01 20:00; u1's session ends 2024-01-01 23:30 -> data end 23:30.
    p.import(
        "installs.csv",
        &installs("u1,2024-01-01 10:00:00,fb\nu2,2024-01-01 20:00:00,fb\n"),
        "installs",
        &[],
    );
    p.import(
        "sessions.csv",
        &sessions("u1,2024-01-01 10:00:00,2024-01-01 23:30:00\n"),
        "sessions",
        &[],
    );
    let r = p.report("none", "0");
    expect_instant(&r, "settings.data_end", "2024-01-01T23:30:00Z");
    // Day 0 of 2024-01-01 needs 2024-01-03T00:00Z -> not mature -> null.
    expect_null(&groups(&r)[0], "sessions_per_user.0");

    // A session with no end counts by its start: 2024-01-02 01:00 is now the latest.
    p.import(
        "sessions2.csv",
        &sessions("u2,2024-01-02 01:00:00,\n"),
        "sessions",
        &[],
    );
    let r = p.report("none", "0");
    expect_instant(&r, "settings.data_end", "2024-01-02T01:00:00Z");

    // An event time later still (user u9, install inferred at that event).
    p.import(
        "events.csv",
        "user_id,event_time,event_name\nu9,2024-01-02 02:00:00,open\n",
        "events",
        &[],
    );
    let r = p.report("none", "0");
    expect_instant(&r, "settings.data_end", "2024-01-02T02:00:00Z");

    // An install time later still (a user with no sessions at all).
    p.import(
        "installs2.csv",
        &installs("u3,2024-01-05 08:00:00,fb\n"),
        "installs",
        &[],
    );
    let r = p.report("none", "0");
    expect_instant(&r, "settings.data_end", "2024-01-05T08:00:00Z");
    // Day 0 is now mature for 2024-01-01 (needs 01-03T00:00Z) and 2024-01-02 (needs
    // 01-04T00:00Z) but not for 2024-01-05 (needs 01-07T00:00Z).
    // Mature users u1, u2 (01-01) and u9 (01-02), one day-0 session each:
    //   u1 01-01 10:00 (0 h), u2 01-02 01:00 (5 h after 20:00), u9 01-02 02:00 (0 h)
    // -> 3 / 3 = 1.0 (counting u3 too would give 3 / 4).
    let g = &groups(&r)[0];
    expect_num(g, "installs", 4.0);
    expect_num(g, "sessions_per_user.0", 1.0);
    expect_num(g, "retention.0", 1.0);
}

// ---------------------------------------------------------------------------
// Retention and sessions per user
// ---------------------------------------------------------------------------

#[test]
fn retention_and_sessions_per_user_are_cumulative_per_install() {
    let p = Project::new();
    // One cohort (2024-01-01), four installs; u4 never opens the app.
    p.import(
        "installs.csv",
        &installs(
            "u1,2024-01-01 08:00:00,fb\n\
             u2,2024-01-01 09:00:00,fb\n\
             u3,2024-01-01 10:00:00,fb\n\
             u4,2024-01-01 11:00:00,fb\n",
        ),
        "installs",
        &[],
    );
    // Window day (hours after install) and length:
    //   u1 01-01 08:00-08:10  0 h  d0   600 s
    //   u1 01-02 09:00-09:10  25 h d1   600 s
    //   u1 01-08 08:00-08:05  168 h d7  300 s   (exactly 7 x 24 h)
    //   u1 01-09 08:00-08:01  192 h d8   60 s
    //   u2 01-01 09:00-09:01  0 h  d0    60 s
    //   u2 01-01 20:00-20:01  11 h d0    60 s
    //   u2 01-03 09:30-09:40  48.5 h d2 600 s
    //   u3 01-01 10:00-10:30  0 h  d0  1800 s
    p.import(
        "sessions.csv",
        &sessions(
            "u1,2024-01-01 08:00:00,2024-01-01 08:10:00\n\
             u1,2024-01-02 09:00:00,2024-01-02 09:10:00\n\
             u1,2024-01-08 08:00:00,2024-01-08 08:05:00\n\
             u1,2024-01-09 08:00:00,2024-01-09 08:01:00\n\
             u2,2024-01-01 09:00:00,2024-01-01 09:01:00\n\
             u2,2024-01-01 20:00:00,2024-01-01 20:01:00\n\
             u2,2024-01-03 09:30:00,2024-01-03 09:40:00\n\
             u3,2024-01-01 10:00:00,2024-01-01 10:30:00\n",
        ),
        "sessions",
        &[],
    );
    // Day 7 mature: 2024-01-02T00:00Z + 8 x 24 h = 2024-01-10 <= 2024-01-31.
    p.settings(&["--data-end", "2024-01-31T00:00:00Z"]);

    for (r, name) in [
        (p.report("none", "0,1,7"), "all"),
        (p.report("cohort", "0,1,7"), "2024-01-01"),
        (p.report("channel", "0,1,7"), "fb"),
    ] {
        let g = group(&r, name);
        expect_num(g, "installs", 4.0);
        expect_num(g, "sessions", 8.0);
        // Day 0 sessions: u1 1 + u2 2 + u3 1 = 4 -> 4 / 4 = 1.0
        expect_num(g, "sessions_per_user.0", 1.0);
        // Days 0..1: 4 + u1's day-1 = 5 -> 5 / 4 = 1.25
        expect_num(g, "sessions_per_user.1", 1.25);
        // Days 0..7: 5 + u2's day-2 + u1's day-7 = 7 -> 7 / 4 = 1.75 (day 8 excluded)
        expect_num(g, "sessions_per_user.7", 1.75);
        // Active on day 0: u1, u2, u3 -> 3 / 4 = 0.75
        expect_num(g, "retention.0", 0.75);
        // Active on day 1: u1 -> 1 / 4 = 0.25 (retention is per day, not cumulative)
        expect_num(g, "retention.1", 0.25);
        // Active on day 7: u1 -> 1 / 4 = 0.25
        expect_num(g, "retention.7", 0.25);
        // Lengths 600+600+300+60+60+60+600+1800 = 4080 over 8 sessions = 510.
        expect_num(g, "avg_session_length_s", 510.0);
        // Sorted [60, 60, 60, 300, 600, 600, 600, 1800]: even count -> (300 + 600) / 2 = 450.
        expect_num(g, "median_session_length_s", 450.0);
    }
}

// ---------------------------------------------------------------------------
// Installs
// ---------------------------------------------------------------------------

#[test]
fn user_without_install_row_is_installed_at_first_session() {
    let p = Project::new();
    p.import(
        "installs.csv",
        &installs("u1,2024-01-01 10:00:00,fb\n"),
        "installs",
        &[],
    );
    // u2 has no install row: install inferred = 2024-01-02 15:00 (first session start),
    // cohort 2024-01-02, channel organic.
    // u2's second session 01-03 16:00 is 25 h later -> window day 1.
    p.import(
        "sessions.csv",
        &sessions(
            "u1,2024-01-01 10:00:00,2024-01-01 10:05:00\n\
             u2,2024-01-03 16:00:00,2024-01-03 16:10:00\n\
             u2,2024-01-02 15:00:00,2024-01-02 15:10:00\n",
        ),
        "sessions",
        &[],
    );
    p.settings(&["--data-end", "2024-01-31T00:00:00Z"]);

    let r = p.report("cohort", "0,1");
    let d1 = group(&r, "2024-01-01");
    expect_num(d1, "installs", 1.0); // u1
    expect_num(d1, "sessions", 1.0);
    let d2 = group(&r, "2024-01-02");
    expect_num(d2, "installs", 1.0); // u2, inferred
    expect_num(d2, "sessions", 2.0);
    expect_num(d2, "sessions_per_user.0", 1.0); // first session is on day 0: 1 / 1
    expect_num(d2, "sessions_per_user.1", 2.0); // (1 + 1) / 1
    expect_num(d2, "retention.1", 1.0);
    assert_eq!(total_installs(&r), 2.0);

    let r = p.report("channel", "0");
    expect_num(group(&r, "organic"), "installs", 1.0); // u2 has no channel
    expect_num(group(&r, "organic"), "sessions", 2.0);
    expect_num(group(&r, "fb"), "installs", 1.0);
}

#[test]
fn install_time_on_session_rows_is_an_install_row() {
    let p = Project::new();
    // Session rows carrying install_time 2024-01-01 10:00: the install is that time,
    // not the first session (2024-01-02 11:00).
    //   01-02 11:00 is 25 h after install -> window day 1
    //   01-03 09:00 is 47 h after install -> window day 1
    p.import(
        "sessions.csv",
        "user_id,install_time,channel,session_start,session_end\n\
         u1,2024-01-01 10:00:00,fb,2024-01-02 11:00:00,2024-01-02 11:05:00\n\
         u1,2024-01-01 10:00:00,fb,2024-01-03 09:00:00,2024-01-03 09:05:00\n",
        "sessions",
        &[],
    );
    p.settings(&["--data-end", "2024-01-31T00:00:00Z"]);
    let r = p.report("cohort", "0,1");
    let g = group(&r, "2024-01-01");
    expect_num(g, "installs", 1.0);
    expect_num(g, "sessions", 2.0);
    expect_num(g, "sessions_per_user.0", 0.0); // no day-0 session: 0 / 1
    expect_num(g, "retention.0", 0.0);
    expect_num(g, "sessions_per_user.1", 2.0); // 2 / 1
    expect_num(g, "retention.1", 1.0);
}

#[test]
fn reinstall_keeps_the_earliest_install() {
    let p = Project::new();
    // u1 has two install rows; the later one (01-05, tiktok) is listed first.
    // The earliest (01-01 10:00, fb) is kept, with its channel; the other is a reinstall.
    p.import(
        "installs.csv",
        &installs(
            "u1,2024-01-05 10:00:00,tiktok\n\
             u1,2024-01-01 10:00:00,fb\n",
        ),
        "installs",
        &[],
    );
    // Sessions 01-01 10:00 (day 0) and 01-05 10:00 (96 h -> window day 4).
    p.import(
        "sessions.csv",
        &sessions(
            "u1,2024-01-01 10:00:00,2024-01-01 10:05:00\n\
             u1,2024-01-05 10:00:00,2024-01-05 10:05:00\n",
        ),
        "sessions",
        &[],
    );
    p.settings(&["--data-end", "2024-01-31T00:00:00Z"]);

    let r = p.report("channel", "0,4");
    assert_eq!(total_installs(&r), 1.0); // one user, one install
    let fb = group(&r, "fb");
    expect_num(fb, "installs", 1.0);
    // Both sessions are at/after the 01-01 install.
    expect_num(fb, "sessions", 2.0);

    let r = p.report("cohort", "0,4");
    let g = group(&r, "2024-01-01");
    expect_num(g, "installs", 1.0);
    expect_num(g, "sessions_per_user.0", 1.0); // 1 / 1
    expect_num(g, "sessions_per_user.4", 2.0); // (1 + 1) / 1
    expect_num(g, "retention.4", 1.0);
    assert_eq!(total_installs(&r), 1.0);
}

#[test]
fn sessions_before_install_are_left_out() {
    let p = Project::new();
    p.import(
        "installs.csv",
        &installs("u1,2024-01-02 10:00:00,fb\n"),
        "installs",
        &[],
    );
    //   01-01 09:00-09:30      before install  -> left out (1800 s)
    //   01-02 09:59:59-10:00:30 starts 1 s before install -> left out (31 s)
    //   01-02 10:00-10:10      at the install -> day 0, 600 s
    //   01-03 11:00-11:10      25 h later     -> day 1, 600 s
    p.import(
        "sessions.csv",
        &sessions(
            "u1,2024-01-01 09:00:00,2024-01-01 09:30:00\n\
             u1,2024-01-02 09:59:59,2024-01-02 10:00:30\n\
             u1,2024-01-02 10:00:00,2024-01-02 10:10:00\n\
             u1,2024-01-03 11:00:00,2024-01-03 11:10:00\n",
        ),
        "sessions",
        &[],
    );
    p.settings(&["--data-end", "2024-01-31T00:00:00Z"]);
    let g = p.report_all("0,1");
    expect_num(&g, "installs", 1.0);
    expect_num(&g, "sessions", 2.0);
    expect_num(&g, "sessions_per_user.0", 1.0); // 1 / 1
    expect_num(&g, "sessions_per_user.1", 2.0); // 2 / 1
                                                // Lengths of counted sessions only: (600 + 600) / 2 = 600.
    expect_num(&g, "avg_session_length_s", 600.0);
    // One gap: 01-03 11:00 - 01-02 10:10 = 24 h 50 min = 89400 s.
    expect_num(&g, "median_time_between_sessions_s", 89400.0);
}

// ---------------------------------------------------------------------------
// Time between sessions
// ---------------------------------------------------------------------------

#[test]
fn time_between_sessions_median_clamps_negative_gaps_and_averages_middle_pair() {
    let p = Project::new();
    // No install rows: installs inferred at each user's first session.
    // Rows out of order; sessions are ordered by start per user.
    //   u1 S1 10:00-11:00, S2 10:30-10:40, S3 12:00-12:10
    //      S2: 10:30 - 11:00 = -1800 -> 0
    //      S3: 12:00 - 10:40 = 4800
    //   u2 S1 09:00 (no end), S2 09:20-09:50, S3 09:45-09:55
    //      S2: 09:20 - 09:00 (previous end unknown -> previous start) = 1200
    //      S3: 09:45 - 09:50 = -300 -> 0
    // Gaps [0, 4800, 1200, 0] sorted [0, 0, 1200, 4800] -> (0 + 1200) / 2 = 600.
    // (Without clamping: [-1800, -300, 1200, 4800] -> 450.)
    p.import(
        "sessions.csv",
        &sessions(
            "u1,2024-01-01 12:00:00,2024-01-01 12:10:00\n\
             u2,2024-01-01 09:45:00,2024-01-01 09:55:00\n\
             u1,2024-01-01 10:00:00,2024-01-01 11:00:00\n\
             u2,2024-01-01 09:00:00,\n\
             u1,2024-01-01 10:30:00,2024-01-01 10:40:00\n\
             u2,2024-01-01 09:20:00,2024-01-01 09:50:00\n",
        ),
        "sessions",
        &[],
    );
    let g = p.report_all("0");
    expect_num(&g, "installs", 2.0);
    expect_num(&g, "sessions", 6.0);
    expect_num(&g, "median_time_between_sessions_s", 600.0);
    // Known lengths: 3600, 600, 600 (u1); 1800, 600 (u2) = 7200 / 5 = 1440.
    expect_num(&g, "avg_session_length_s", 1440.0);
    // Sorted [600, 600, 600, 1800, 3600] -> median 600.
    expect_num(&g, "median_session_length_s", 600.0);
}
