//! Sessions built from events (SPEC section 4, CLI.md "Exact choices").
//!
//! All fixtures are event files with the columns `user_id,event_time,event_name`
//! in UTC and no install rows, so every user's install is inferred as the start
//! of their first session and every session starts at or after the install.

#![allow(clippy::expect_used)] // a failed expectation is a test failure

mod common;
use common::*;

// ---------------------------------------------------------------------------
// Inactivity timeout
// ---------------------------------------------------------------------------

#[test]
fn gap_of_exactly_the_timeout_does_not_split_a_session() {
    let p = Project::new();
    // u1: 10:00:00 -> 10:30:00 is a gap of exactly 30:00 = the default timeout.
    p.import(
        "events.csv",
        "user_id,event_time,event_name\n\
         u1,2024-01-01 10:00:00,open\n\
         u1,2024-01-01 10:30:00,click\n",
        "events",
        &[],
    );
    let r = p.report("none", "0");
    expect_num(&r, "settings.timeout_minutes", 30.0); // default timeout
    let g = &groups(&r)[0];
    // One session 10:00:00..10:30:00 (not split) -> length 30 * 60 = 1800 s.
    expect_num(g, "installs", 1.0);
    expect_num(g, "sessions", 1.0);
    expect_num(g, "avg_session_length_s", 1800.0);
    expect_num(g, "median_session_length_s", 1800.0);
    // Only one session, so no gap between sessions.
    expect_null(g, "median_time_between_sessions_s");
}

#[test]
fn gap_one_second_over_the_timeout_splits_a_session() {
    let p = Project::new();
    // u1: 10:00:00 -> 10:30:01 is a gap of 30:01 > 30:00 -> two sessions.
    p.import(
        "events.csv",
        "user_id,event_time,event_name\n\
         u1,2024-01-01 10:00:00,open\n\
         u1,2024-01-01 10:30:01,click\n",
        "events",
        &[],
    );
    let g = p.report_all("0");
    expect_num(&g, "installs", 1.0);
    // Two single-event sessions.
    expect_num(&g, "sessions", 2.0);
    // Both lengths are unknown -> no known length -> average and median undefined.
    expect_null(&g, "avg_session_length_s");
    expect_null(&g, "median_session_length_s");
    // Gap: previous end unknown -> previous start: 10:30:01 - 10:00:00 = 1801 s.
    expect_num(&g, "median_time_between_sessions_s", 1801.0);
}

// ---------------------------------------------------------------------------
// Length
// ---------------------------------------------------------------------------

#[test]
fn session_length_is_last_event_minus_first_event() {
    let p = Project::new();
    // Rows deliberately out of time order: events are sorted per user first.
    // u1: 10:00:00, 10:10:00, 10:25:00 -> gaps 10 and 15 min (<= 30) -> one session,
    //     length 10:25:00 - 10:00:00 = 25 * 60 = 1500 s.
    // u2: two different events at the same second (different names, so not
    //     duplicates) -> one session of two events, length 12:00:00 - 12:00:00 = 0 s.
    p.import(
        "events.csv",
        "user_id,event_time,event_name\n\
         u1,2024-01-01 10:25:00,close\n\
         u2,2024-01-01 12:00:00,open\n\
         u1,2024-01-01 10:00:00,open\n\
         u2,2024-01-01 12:00:00,click\n\
         u1,2024-01-01 10:10:00,click\n",
        "events",
        &[],
    );
    let g = p.report_all("0");
    expect_num(&g, "installs", 2.0);
    expect_num(&g, "sessions", 2.0);
    // Known lengths {1500, 0}: average (1500 + 0) / 2 = 750.
    expect_num(&g, "avg_session_length_s", 750.0);
    // Median of the even count [0, 1500] = (0 + 1500) / 2 = 750.
    expect_num(&g, "median_session_length_s", 750.0);
}

#[test]
fn single_event_session_counts_but_has_no_length() {
    let p = Project::new();
    // u1: 10:00:00 + 10:20:00 -> one session, length 20 min = 1200 s.
    //     15:00:00 alone (gap 4h40 > 30 min) -> single-event session, length unknown.
    // u2: 11:00:00 alone -> single-event session, length unknown.
    p.import(
        "events.csv",
        "user_id,event_time,event_name\n\
         u1,2024-01-01 10:00:00,open\n\
         u1,2024-01-01 10:20:00,click\n\
         u1,2024-01-01 15:00:00,open\n\
         u2,2024-01-01 11:00:00,open\n",
        "events",
        &[],
    );
    // Data end far enough that day 0 of the 2024-01-01 cohort is mature
    // (window: end of 2024-01-01 = 2024-01-02T00:00Z, + 1 x 24 h = 2024-01-03T00:00Z <= 2024-01-10).
    p.settings(&["--data-end", "2024-01-10T00:00:00Z"]);
    let g = p.report_all("0");
    expect_num(&g, "installs", 2.0);
    // All three sessions count: 2 (u1) + 1 (u2) = 3.
    expect_num(&g, "sessions", 3.0);
    // Only one known length (1200): average 1200 / 1 = 1200, not 1200 / 3 = 400.
    expect_num(&g, "avg_session_length_s", 1200.0);
    expect_num(&g, "median_session_length_s", 1200.0);
    // Unknown-length sessions still count in sessions per user: 3 / 2 = 1.5.
    expect_num(&g, "sessions_per_user.0", 1.5);
    // Both users have a day-0 session: 2 / 2 = 1.0.
    expect_num(&g, "retention.0", 1.0);
}

// ---------------------------------------------------------------------------
// Duplicates
// ---------------------------------------------------------------------------

#[test]
fn exact_duplicate_events_count_once() {
    let p = Project::new();
    // u1 session A: "open" at 10:00:00 twice (exact duplicate) -> ONE event ->
    //   single-event session, unknown length. (Counted twice it would be a
    //   two-event session of length 0.)
    // u1 session B (12:00 is 2 h later): "open" 12:00:00 twice (duplicate) and
    //   "click" 12:10:00 -> length 12:10 - 12:00 = 600 s.
    p.import(
        "events.csv",
        "user_id,event_time,event_name\n\
         u1,2024-01-01 10:00:00,open\n\
         u1,2024-01-01 10:00:00,open\n\
         u1,2024-01-01 12:00:00,open\n\
         u1,2024-01-01 12:00:00,open\n\
         u1,2024-01-01 12:10:00,click\n",
        "events",
        &[],
    );
    let g = p.report_all("0");
    expect_num(&g, "sessions", 2.0);
    // Known lengths {600} only -> average 600. (Without de-duplication: (0 + 600) / 2 = 300.)
    expect_num(&g, "avg_session_length_s", 600.0);
    expect_num(&g, "median_session_length_s", 600.0);
}

#[test]
fn rows_with_the_same_event_id_are_duplicates() {
    let p = Project::new();
    // Event id e1 appears twice (with different names): one event, so u1's
    // 10:00 session is a single-event session with unknown length.
    // e2 + e3 are distinct: session 12:00:00..12:05:00 = 300 s.
    p.import(
        "events.csv",
        "user_id,event_time,event_name,event_id\n\
         u1,2024-01-01 10:00:00,open,e1\n\
         u1,2024-01-01 10:00:00,foreground,e1\n\
         u1,2024-01-01 12:00:00,open,e2\n\
         u1,2024-01-01 12:05:00,click,e3\n",
        "events",
        &[],
    );
    let g = p.report_all("0");
    expect_num(&g, "sessions", 2.0);
    // Known lengths {300}. (Without id de-duplication: {0, 300} -> 150.)
    expect_num(&g, "avg_session_length_s", 300.0);
}

// ---------------------------------------------------------------------------
// Settings that rebuild sessions
// ---------------------------------------------------------------------------

#[test]
fn changing_the_timeout_rebuilds_sessions_without_reimport() {
    let p = Project::new();
    // u1 events 10:00, 10:15, 10:30, 10:40 -> gaps 15, 15, 10 minutes.
    p.import(
        "events.csv",
        "user_id,event_time,event_name\n\
         u1,2024-01-01 10:00:00,open\n\
         u1,2024-01-01 10:15:00,click\n\
         u1,2024-01-01 10:30:00,click\n\
         u1,2024-01-01 10:40:00,close\n",
        "events",
        &[],
    );

    // Timeout 30: no gap > 30 -> one session 10:00..10:40 = 2400 s.
    let g = p.report_all("0");
    expect_num(&g, "sessions", 1.0);
    expect_num(&g, "avg_session_length_s", 2400.0);

    // Timeout 10: gaps 15 > 10 and 15 > 10 split; the gap of exactly 10 does not.
    // Sessions [10:00] (unknown), [10:15] (unknown), [10:30, 10:40] = 600 s.
    p.settings(&["--timeout", "10"]);
    let r = p.report("none", "0");
    expect_num(&r, "settings.timeout_minutes", 10.0);
    let g = &groups(&r)[0];
    expect_num(g, "sessions", 3.0);
    expect_num(g, "avg_session_length_s", 600.0); // 600 / 1 known length
                                                  // Gaps: 10:15 - 10:00 (prev end unknown -> prev start) = 900,
                                                  //       10:30 - 10:15 = 900 -> median 900.
    expect_num(g, "median_time_between_sessions_s", 900.0);
    expect_num(g, "installs", 1.0);

    // Timeout 60: back to one session of 2400 s, still without re-importing.
    p.settings(&["--timeout", "60"]);
    let g = p.report_all("0");
    expect_num(&g, "sessions", 1.0);
    expect_num(&g, "avg_session_length_s", 2400.0);
}

#[test]
fn excluded_event_names_are_not_activity() {
    let p = Project::new();
    // u1: open 10:00, bg_fetch 10:20, click 10:40, silent_push 10:55.
    p.import(
        "events.csv",
        "user_id,event_time,event_name\n\
         u1,2024-01-01 10:00:00,open\n\
         u1,2024-01-01 10:20:00,bg_fetch\n\
         u1,2024-01-01 10:40:00,click\n\
         u1,2024-01-01 10:55:00,silent_push\n",
        "events",
        &[],
    );

    // Every event is activity: gaps 20, 20, 15 min -> one session 10:00..10:55 = 3300 s.
    let g = p.report_all("0");
    expect_num(&g, "sessions", 1.0);
    expect_num(&g, "avg_session_length_s", 3300.0);

    // Without silent_push: 10:00, 10:20, 10:40 -> one session 10:00..10:40 = 2400 s.
    p.settings(&["--exclude-events", "silent_push"]);
    let g = p.report_all("0");
    expect_num(&g, "sessions", 1.0);
    expect_num(&g, "avg_session_length_s", 2400.0);

    // Without bg_fetch and silent_push: 10:00, 10:40 -> gap 40 > 30 ->
    // two single-event sessions, no known length, gap 10:40 - 10:00 = 2400 s.
    p.settings(&["--exclude-events", "bg_fetch,silent_push"]);
    let g = p.report_all("0");
    expect_num(&g, "sessions", 2.0);
    expect_null(&g, "avg_session_length_s");
    expect_num(&g, "median_time_between_sessions_s", 2400.0);
}
