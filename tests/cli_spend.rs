//! Spend, CPI and CPM of N-day sessions (SPEC section 6, CLI.md "Definitions").
//!
//! Spend files: `date,channel,campaign,amount[,currency]`; dates are calendar dates.
//! Installs: `user_id,install_time,channel,campaign[,country]` in UTC.

#![allow(clippy::expect_used)] // a failed expectation is a test failure

mod common;
use common::*;

#[test]
fn spend_matches_channel_and_campaign_ignoring_case_and_spaces() {
    let p = Project::new();
    // Earliest spellings: "Facebook" (u1), "Summer Sale" (u1), "Google"/"Brand" (u3).
    p.import(
        "installs.csv",
        "user_id,install_time,channel,campaign,country\n\
         u1,2024-01-01 10:00:00,Facebook,Summer Sale,DE\n\
         u2,2024-01-01 11:00:00,\"facebook \",\"summer sale\",US\n\
         u3,2024-01-01 12:00:00,Google,Brand,DE\n\
         u4,2024-01-01 13:00:00,Facebook,Winter,US\n",
        "installs",
        &[],
    );
    p.import(
        "spend.csv",
        "date,channel,campaign,amount\n\
         2024-01-01,\" FACEBOOK \",\"summer SALE\",100\n\
         2024-01-02,facebook,\"Summer Sale \",50\n\
         2024-01-01,google,\"  brand\",30\n\
         2024-01-01,Facebook,WINTER,8\n",
        "spend",
        &[],
    );

    // --by channel: no date restriction for channel groups.
    let r = p.report("channel", "0");
    let fb = group(&r, "Facebook");
    expect_num(fb, "installs", 3.0); // u1, u2 ("facebook "), u4
    expect_num(fb, "spend", 158.0); // 100 + 50 + 8
    expect_num(fb, "cpi", 158.0 / 3.0); // 52.666...
    let google = group(&r, "Google");
    expect_num(google, "installs", 1.0);
    expect_num(google, "spend", 30.0);
    expect_num(google, "cpi", 30.0); // 30 / 1

    // --by campaign: (channel, campaign) pairs.
    let r = p.report("campaign", "0");
    let summer = campaign_group(&r, "Facebook", "Summer Sale");
    expect_num(summer, "installs", 2.0); // u1, u2
    expect_num(summer, "spend", 150.0); // 100 + 50
    expect_num(summer, "cpi", 75.0); // 150 / 2
    let winter = campaign_group(&r, "Facebook", "Winter");
    expect_num(winter, "installs", 1.0);
    expect_num(winter, "spend", 8.0);
    expect_num(winter, "cpi", 8.0);
    let brand = campaign_group(&r, "Google", "Brand");
    expect_num(brand, "spend", 30.0);
    expect_num(brand, "cpi", 30.0);

    // Spend rows do not carry a country: spend and cpi are null there.
    let r = p.report("country", "0");
    let de = group(&r, "DE");
    expect_num(de, "installs", 2.0); // u1, u3
    expect_null(de, "spend");
    expect_null(de, "cpi");
    expect_null(de, "cpm_sessions.0");
}

#[test]
fn cohort_groups_take_spend_dated_in_their_period() {
    let p = Project::new();
    p.import(
        "installs.csv",
        "user_id,install_time,channel,campaign\n\
         u1,2024-01-01 10:00:00,fb,A\n\
         u2,2024-01-02 10:00:00,fb,A\n\
         u3,2024-01-08 10:00:00,fb,A\n",
        "installs",
        &[],
    );
    p.import(
        "spend.csv",
        "date,channel,campaign,amount\n\
         2024-01-01,fb,A,10\n\
         2024-01-02,fb,A,20\n\
         2024-01-03,fb,A,5\n\
         2024-01-08,fb,A,7\n",
        "spend",
        &[],
    );

    let day = p.report_args(&["--by", "cohort", "--grain", "day", "--days", "0"]);
    expect_num(group(&day, "2024-01-01"), "spend", 10.0);
    expect_num(group(&day, "2024-01-01"), "cpi", 10.0); // 10 / 1
    expect_num(group(&day, "2024-01-02"), "spend", 20.0);
    expect_num(group(&day, "2024-01-08"), "spend", 7.0);

    // ISO weeks starting Monday 2024-01-01 and 2024-01-08.
    let week = p.report_args(&["--by", "cohort", "--grain", "week", "--days", "0"]);
    let w1 = group(&week, "2024-01-01");
    expect_num(w1, "installs", 2.0); // u1, u2
    expect_num(w1, "spend", 35.0); // 10 + 20 + 5 (01-03 is in the week)
    expect_num(w1, "cpi", 17.5); // 35 / 2
    let w2 = group(&week, "2024-01-08");
    expect_num(w2, "spend", 7.0);

    let month = p.report_args(&["--by", "cohort", "--grain", "month", "--days", "0"]);
    let m = group(&month, "2024-01");
    expect_num(m, "installs", 3.0);
    expect_num(m, "spend", 42.0); // 10 + 20 + 5 + 7
    expect_num(m, "cpi", 14.0); // 42 / 3
}

#[test]
fn cpm_sessions_uses_spend_of_mature_dates_against_mature_users_sessions() {
    let p = Project::new();
    p.import(
        "installs.csv",
        "user_id,install_time,channel,campaign\n\
         u1,2024-01-01 10:00:00,fb,A\n\
         u2,2024-01-02 10:00:00,fb,A\n",
        "installs",
        &[],
    );
    // Window days:
    //   u1 01-01 10:00 d0; 01-02 11:00 (25 h) d1; 01-02 12:00 (26 h) d1
    //   u2 01-02 10:00 d0; 01-02 15:00 (5 h) d0
    p.import(
        "sessions.csv",
        "user_id,session_start,session_end\n\
         u1,2024-01-01 10:00:00,2024-01-01 10:05:00\n\
         u1,2024-01-02 11:00:00,2024-01-02 11:05:00\n\
         u1,2024-01-02 12:00:00,2024-01-02 12:05:00\n\
         u2,2024-01-02 10:00:00,2024-01-02 10:05:00\n\
         u2,2024-01-02 15:00:00,2024-01-02 15:05:00\n",
        "sessions",
        &[],
    );
    p.import(
        "spend.csv",
        "date,channel,campaign,amount\n\
         2024-01-01,fb,A,12\n\
         2024-01-02,fb,A,30\n",
        "spend",
        &[],
    );
    // Window thresholds: 01-01: N=0 at 01-03, N=1 at 01-04; 01-02: N=0 at 01-04, N=1 at 01-05.
    // Data end 01-04T00:00Z: N=0 mature for 01-01 and 01-02; N=1 for 01-01 only; N=7 none.
    p.settings(&["--data-end", "2024-01-04T00:00:00Z"]);

    for r in [p.report("channel", "0,1,7"), p.report("none", "0,1,7")] {
        let g = &groups(&r)[0];
        expect_num(g, "installs", 2.0);
        expect_num(g, "sessions", 5.0);
        expect_num(g, "spend", 42.0); // 12 + 30: all of it
        expect_num(g, "cpi", 21.0); // 42 / 2
                                    // N=0: spend of 01-01 and 01-02 = 42; day-0 sessions of u1, u2 = 1 + 2 = 3
                                    //      -> 1000 x 42 / 3 = 14000
        expect_num(g, "cpm_sessions.0", 14000.0);
        // N=1: spend of 01-01 only = 12; days 0..1 sessions of u1 = 3 -> 1000 x 12 / 3 = 4000
        expect_num(g, "cpm_sessions.1", 4000.0);
        // N=7: no date is mature -> null.
        expect_null(g, "cpm_sessions.7");
    }

    let r = p.report("cohort", "0,1");
    let d1 = group(&r, "2024-01-01");
    expect_num(d1, "spend", 12.0);
    expect_num(d1, "cpi", 12.0); // 12 / 1
    expect_num(d1, "cpm_sessions.0", 12000.0); // 1000 x 12 / 1
    expect_num(d1, "cpm_sessions.1", 4000.0); // 1000 x 12 / 3
    let d2 = group(&r, "2024-01-02");
    expect_num(d2, "spend", 30.0);
    expect_num(d2, "cpm_sessions.0", 15000.0); // 1000 x 30 / 2
    expect_null(d2, "cpm_sessions.1"); // 01-02 not mature for N=1
}

#[test]
fn cpi_and_cpm_are_null_without_spend() {
    let p = Project::new();
    p.import(
        "installs.csv",
        "user_id,install_time,channel,campaign\n\
         u1,2024-01-01 10:00:00,fb,A\n\
         u2,2024-01-01 11:00:00,google,B\n\
         u3,2024-01-01 12:00:00,tiktok,C\n",
        "installs",
        &[],
    );
    p.import(
        "sessions.csv",
        "user_id,session_start,session_end\n\
         u1,2024-01-01 10:00:00,2024-01-01 10:05:00\n\
         u2,2024-01-01 11:00:00,2024-01-01 11:05:00\n",
        "sessions",
        &[],
    );
    p.settings(&["--data-end", "2024-01-31T00:00:00Z"]);

    // No spend imported at all.
    let g = p.report_all("0");
    expect_null(&g, "spend");
    expect_null(&g, "cpi");
    expect_null(&g, "cpm_sessions.0");

    p.import(
        "spend.csv",
        "date,channel,campaign,amount\n\
         2024-01-01,fb,A,5\n\
         2024-01-01,tiktok,C,10\n",
        "spend",
        &[],
    );
    let r = p.report("channel", "0");
    let fb = group(&r, "fb");
    expect_num(fb, "spend", 5.0);
    expect_num(fb, "cpi", 5.0); // 5 / 1
    expect_num(fb, "cpm_sessions.0", 5000.0); // 1000 x 5 / 1 session
                                              // google: no matching spend row.
    let google = group(&r, "google");
    expect_null(google, "spend");
    expect_null(google, "cpi");
    expect_null(google, "cpm_sessions.0");
    // tiktok: spend but no session through day 0 -> cpm null; sessions per user 0 / 1 = 0.
    let tiktok = group(&r, "tiktok");
    expect_num(tiktok, "spend", 10.0);
    expect_num(tiktok, "cpi", 10.0);
    expect_null(tiktok, "cpm_sessions.0");
    expect_num(tiktok, "sessions_per_user.0", 0.0);
}

#[test]
fn spend_in_another_currency_needs_a_rate_for_its_date() {
    let p = Project::new();
    p.import(
        "installs.csv",
        "user_id,install_time,channel,campaign\nu1,2024-01-01 10:00:00,fb,A\n",
        "installs",
        &[],
    );
    // Project currency: USD (default). The empty currency is USD too.
    p.import(
        "spend.csv",
        "date,channel,campaign,amount,currency\n\
         2024-01-01,fb,A,100,USD\n\
         2024-01-01,fb,A,50,EUR\n\
         2024-01-01,fb,A,20,\n",
        "spend",
        &[],
    );
    // No EUR rate: 100 + 20 = 120 (the EUR row is left out).
    let r = p.report("channel", "0");
    expect_num(group(&r, "fb"), "spend", 120.0);
    expect_num(group(&r, "fb"), "cpi", 120.0);

    // A rate for another date does not apply to 2024-01-01.
    p.import(
        "rates1.csv",
        "date,currency,rate\n2024-01-02,EUR,1.1\n",
        "rates",
        &[],
    );
    let r = p.report("channel", "0");
    expect_num(group(&r, "fb"), "spend", 120.0);

    // With the 2024-01-01 rate: 100 + 50 x 1.1 + 20 = 100 + 55 + 20 = 175.
    p.import(
        "rates2.csv",
        "date,currency,rate\n2024-01-01,EUR,1.1\n",
        "rates",
        &[],
    );
    let r = p.report("channel", "0");
    expect_num(group(&r, "fb"), "spend", 175.0);
    expect_num(group(&r, "fb"), "cpi", 175.0); // 175 / 1
    let g = p.report_all("0");
    expect_num(&g, "spend", 175.0);
}

#[test]
fn by_none_takes_every_spend_row() {
    let p = Project::new();
    p.import(
        "installs.csv",
        "user_id,install_time,channel,campaign\n\
         u1,2024-01-01 10:00:00,fb,A\n\
         u2,2024-01-01 11:00:00,fb,A\n",
        "installs",
        &[],
    );
    // A matched row, a row for a channel nobody installed from on a date with no
    // cohort, and a row with an empty channel (organic; no organic user here).
    p.import(
        "spend.csv",
        "date,channel,campaign,amount\n\
         2024-01-01,fb,A,10\n\
         2024-03-15,tiktok,X,5.5\n\
         2024-01-01,,,3\n",
        "spend",
        &[],
    );
    let g = p.report_all("0");
    expect_num(&g, "installs", 2.0);
    expect_num(&g, "spend", 18.5); // 10 + 5.5 + 3
    expect_num(&g, "cpi", 9.25); // 18.5 / 2

    // By channel only the matching row counts for fb.
    let r = p.report("channel", "0");
    expect_num(group(&r, "fb"), "spend", 10.0);
    expect_num(group(&r, "fb"), "cpi", 5.0); // 10 / 2
}
