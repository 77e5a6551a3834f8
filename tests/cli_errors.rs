//! Import contract and bad input (SPEC sections 2, 3, 8; CLI.md).

#![allow(clippy::expect_used)] // a failed expectation is a test failure

mod common;
use common::*;

// ---------------------------------------------------------------------------
// Mapping
// ---------------------------------------------------------------------------

#[test]
fn unmappable_file_is_refused_with_its_column_list() {
    let p = Project::new();
    let out = p.try_import(
        "weird.csv",
        "alpha,beta,gamma\nx,2024-01-01 10:00:00,open\n",
        "events",
        &[],
    );
    out.assert_failed();
    for col in ["alpha", "beta", "gamma"] {
        assert!(
            out.stderr.contains(col),
            "stderr should list the file's columns, missing {col:?}:\n{}",
            out.stderr
        );
    }
}

#[test]
fn map_names_the_columns_of_an_unmappable_file() {
    let p = Project::new();
    // Same kind of file, mapped by hand: one session 10:00..10:05 = 300 s.
    p.import(
        "weird.csv",
        "alpha,beta,gamma\n\
         u1,2024-01-01 10:00:00,open\n\
         u1,2024-01-01 10:05:00,click\n",
        "events",
        &[
            "--map",
            "user_id=alpha",
            "--map",
            "event_time=beta",
            "--map",
            "event_name=gamma",
        ],
    );
    let g = p.report_all("0");
    expect_num(&g, "installs", 1.0);
    expect_num(&g, "sessions", 1.0);
    expect_num(&g, "avg_session_length_s", 300.0);
}

#[test]
fn a_folder_given_as_a_file_is_named_as_a_folder() {
    let p = Project::new();
    let folder = p.dir.path().join("exports");
    std::fs::create_dir(&folder).expect("create folder");
    let out = p.try_import_file(&folder, "sessions", &[]);
    out.assert_failed();
    assert!(
        out.stderr.contains("exports: is a folder"),
        "{}",
        out.stderr
    );
    let missing = p.dir.path().join("missing.csv");
    let out = p.try_import_file(&missing, "sessions", &[]);
    out.assert_failed();
    assert!(
        out.stderr.contains("missing.csv: no such file"),
        "{}",
        out.stderr
    );
    assert!(
        !p.path.exists(),
        "no project is made for files that are not there"
    );
}

#[test]
fn rows_far_after_all_others_are_told_as_they_move_the_data_end() {
    // 25 sessions from March 1 to 25, 2024, and one in 2025 (a wrong year): it lies 341
    // days after the others and is 1 of 26 rows, under a twentieth.
    let mut csv = String::from("user_id,session_start,duration\n");
    for day in 1..=25 {
        csv.push_str(&format!("u{day},2024-03-{day:02} 10:00:00,60\n"));
    }
    csv.push_str("u1,2025-03-01 10:00:00,60\n");
    let p = Project::new();
    let out = p.import("late.csv", &csv, "sessions", &[]);
    assert!(
        out.stdout.contains(
            "warning: 1 rows lie more than 30 days after all the others (last on 2024-03-25)"
        ),
        "{}",
        out.stdout
    );
    // The numbers keep SPEC's end of the data: the latest timestamp imported.
    let report = p.report("none", "0");
    expect_instant(&report, "settings.data_end", "2025-03-01T10:01:00Z");

    // Without the stray row there is nothing to tell.
    let p = Project::new();
    let (good, _) = csv.rsplit_once("u1,2025").expect("the stray row");
    let out = p.import("good.csv", good, "sessions", &[]);
    assert!(!out.stdout.contains("warning"), "{}", out.stdout);
}

// ---------------------------------------------------------------------------
// Bad rows
// ---------------------------------------------------------------------------

/// A project with one good session (u1 2024-01-01 10:00..10:10).
fn project_with_one_session() -> Project {
    let p = Project::new();
    p.import(
        "good.csv",
        "user_id,session_start,session_end\n\
         u1,2024-01-01 10:00:00,2024-01-01 10:10:00\n",
        "sessions",
        &[],
    );
    p
}

/// Line 1 is the header; line 5 has an unreadable start time.
const BAD_ROWS: &str = "user_id,session_start,session_end\n\
u2,2024-01-02 10:00:00,2024-01-02 10:05:00\n\
u2,2024-01-02 11:00:00,2024-01-02 11:05:00\n\
u2,2024-01-02 12:00:00,2024-01-02 12:05:00\n\
u2,yesterday afternoon,2024-01-02 13:05:00\n\
u2,2024-01-03 12:00:00,2024-01-03 12:05:00\n";

#[test]
fn bad_row_aborts_by_default_naming_file_and_line_and_changes_nothing() {
    let p = project_with_one_session();
    let before = p.report("none", "0,1");

    let out = p.try_import("bad_rows.csv", BAD_ROWS, "sessions", &[]);
    out.assert_failed();
    let err = p.scrub(&out.stderr);
    assert!(
        some_line_has(&err, "bad_rows.csv", 5),
        "stderr should name the file and line 5 on one line:\n{err}"
    );

    // Nothing of the file landed: the report is identical (incl. the derived data end).
    assert_eq!(p.report("none", "0,1"), before);
    let g = p.report_all("0");
    expect_num(&g, "installs", 1.0);
    expect_num(&g, "sessions", 1.0);
}

#[test]
fn on_bad_rows_abort_refuses_the_whole_file() {
    let p = project_with_one_session();
    let before = p.report("channel", "0,1");
    let out = p.try_import(
        "bad_rows.csv",
        BAD_ROWS,
        "sessions",
        &["--on-bad-rows", "abort"],
    );
    out.assert_failed();
    assert!(
        some_line_has(&p.scrub(&out.stderr), "bad_rows.csv", 5),
        "stderr should name the file and line 5:\n{}",
        out.stderr
    );
    assert_eq!(p.report("channel", "0,1"), before);
}

#[test]
fn on_bad_rows_skip_imports_the_rest() {
    let p = project_with_one_session();
    let out = p.import(
        "bad_rows.csv",
        BAD_ROWS,
        "sessions",
        &["--on-bad-rows", "skip"],
    );
    // 5 data rows: 4 accepted, 1 rejected.
    let tokens = digit_tokens(&p.scrub(&out.stdout));
    assert!(
        tokens.iter().any(|t| t == "4") && tokens.iter().any(|t| t == "1"),
        "import should print 4 accepted and 1 rejected:\n{}",
        out.stdout
    );
    // u1: 1 session; u2: 4 sessions (inferred install at the first one).
    let g = p.report_all("0");
    expect_num(&g, "installs", 2.0);
    expect_num(&g, "sessions", 5.0);
    // Lengths 600 (u1) + 4 x 300 (u2) = 1800 over 5 = 360.
    expect_num(&g, "avg_session_length_s", 360.0);
}

#[test]
fn a_file_imported_before_is_recognised_before_its_bad_rows_are_refused() {
    let p = project_with_one_session();
    p.import(
        "bad_rows.csv",
        BAD_ROWS,
        "sessions",
        &["--on-bad-rows", "skip"],
    );
    let before = p.report_all("0");
    // The same file with the default (abort on a bad row): that it was imported already
    // is the answer, not its bad row, however fast its fingerprint is taken.
    let again = p.import("bad_rows.csv", BAD_ROWS, "sessions", &[]);
    assert!(
        again.stdout.contains("already imported"),
        "{}",
        again.stdout
    );
    assert_eq!(p.report_all("0"), before);
}

#[test]
fn skip_reports_rejected_counts_by_reason() {
    let p = Project::new();
    // Lines: 2 ok (60 s), 3 bad time, 4 negative duration, 5 ok (120 s),
    // 6 ok (no duration: unknown length), 7 bad time, 8 ok (180 s).
    let out = p.import(
        "durations.csv",
        "user_id,session_start,duration\n\
         u1,2024-01-01 10:00:00,60\n\
         u1,not a time,60\n\
         u1,2024-01-01 11:00:00,-5\n\
         u1,2024-01-01 12:00:00,120\n\
         u1,2024-01-01 13:00:00,\n\
         u1,also not a time,30\n\
         u1,2024-01-01 14:00:00,180\n",
        "sessions",
        &["--on-bad-rows", "skip"],
    );
    // Accepted 4; rejected 2 (unreadable time) and 1 (negative duration).
    let tokens = digit_tokens(&p.scrub(&out.stdout));
    for n in ["4", "2", "1"] {
        assert!(
            tokens.iter().any(|t| t == n),
            "import output should contain the count {n}:\n{}",
            out.stdout
        );
    }
    let g = p.report_all("0");
    expect_num(&g, "sessions", 4.0);
    // Known lengths 60, 120, 180 -> (60 + 120 + 180) / 3 = 120; median 120.
    expect_num(&g, "avg_session_length_s", 120.0);
    expect_num(&g, "median_session_length_s", 120.0);
}

#[test]
fn negative_duration_is_rejected() {
    let p = project_with_one_session();
    let before = p.report("none", "0");
    // Line 3 has a negative duration.
    let out = p.try_import(
        "negative.csv",
        "user_id,session_start,duration\n\
         u2,2024-01-01 10:00:00,30\n\
         u2,2024-01-01 11:00:00,-30\n",
        "sessions",
        &[],
    );
    out.assert_failed();
    assert!(
        some_line_has(&p.scrub(&out.stderr), "negative.csv", 3),
        "stderr should name the file and line 3:\n{}",
        out.stderr
    );
    assert_eq!(p.report("none", "0"), before);
}

#[test]
fn end_before_start_is_rejected() {
    let p = project_with_one_session();
    let before = p.report("none", "0");
    // Line 2 ends before it starts.
    let out = p.try_import(
        "backwards.csv",
        "user_id,session_start,session_end\n\
         u2,2024-01-01 10:00:00,2024-01-01 09:59:00\n\
         u2,2024-01-01 11:00:00,2024-01-01 11:01:00\n",
        "sessions",
        &[],
    );
    out.assert_failed();
    assert!(
        some_line_has(&p.scrub(&out.stderr), "backwards.csv", 2),
        "stderr should name the file and line 2:\n{}",
        out.stderr
    );
    assert_eq!(p.report("none", "0"), before);

    // Skipped, only the good row lands: sessions 1 + 1 = 2, lengths 600 and 60 -> 330.
    p.import(
        "backwards.csv",
        "user_id,session_start,session_end\n\
         u2,2024-01-01 10:00:00,2024-01-01 09:59:00\n\
         u2,2024-01-01 11:00:00,2024-01-01 11:01:00\n",
        "sessions",
        &["--on-bad-rows", "skip"],
    );
    let g = p.report_all("0");
    expect_num(&g, "sessions", 2.0);
    expect_num(&g, "avg_session_length_s", 330.0); // (600 + 60) / 2
}

#[test]
fn session_longer_than_24_hours_is_kept() {
    let p = Project::new();
    // 2024-01-01 10:00 -> 2024-01-02 11:00 = 25 h = 90000 s: kept (flagged), not rejected.
    p.import(
        "long.csv",
        "user_id,session_start,session_end\n\
         u1,2024-01-01 10:00:00,2024-01-02 11:00:00\n\
         u1,2024-01-03 10:00:00,2024-01-03 10:10:00\n",
        "sessions",
        &[],
    );
    let g = p.report_all("0");
    expect_num(&g, "sessions", 2.0);
    expect_num(&g, "avg_session_length_s", 45300.0); // (90000 + 600) / 2
}

// ---------------------------------------------------------------------------
// Idempotent imports
// ---------------------------------------------------------------------------

#[test]
fn importing_the_same_file_twice_doubles_nothing() {
    let p = Project::new();
    let installs = p.write(
        "installs.csv",
        "user_id,install_time,channel,campaign\n\
         u1,2024-01-01 10:00:00,fb,A\n\
         u2,2024-01-01 11:00:00,fb,A\n",
    );
    let sessions = p.write(
        "sessions.csv",
        "user_id,session_start,session_end\n\
         u1,2024-01-01 10:00:00,2024-01-01 10:10:00\n\
         u1,2024-01-02 12:00:00,2024-01-02 12:01:00\n",
    );
    let events = p.write(
        "events.csv",
        "user_id,event_time,event_name\n\
         u2,2024-01-01 11:00:00,open\n\
         u2,2024-01-01 11:03:00,click\n",
    );
    let spend = p.write(
        "spend.csv",
        "date,channel,campaign,amount\n2024-01-01,fb,A,40\n",
    );
    for (f, kind) in [
        (&installs, "installs"),
        (&sessions, "sessions"),
        (&events, "events"),
        (&spend, "spend"),
    ] {
        p.try_import_file(f, kind, &[]).assert_ok();
    }
    p.settings(&["--data-end", "2024-01-31T00:00:00Z"]);

    let before = p.report("channel", "0,1");
    let fb = group(&before, "fb");
    expect_num(fb, "installs", 2.0);
    // u1: 2 sessions; u2: one session from events 11:00..11:03 = 3.
    expect_num(fb, "sessions", 3.0);
    expect_num(fb, "spend", 40.0);
    expect_num(fb, "cpi", 20.0); // 40 / 2
                                 // Day-1 sessions per user: u1 2 (01-02 12:00 is 26 h -> day 1) + u2 1 = 3 / 2 = 1.5.
    expect_num(fb, "sessions_per_user.1", 1.5);
    // Lengths 600, 60, 180 -> 840 / 3 = 280.
    expect_num(fb, "avg_session_length_s", 280.0);

    // Second import of every file; whatever it prints, nothing doubles.
    for (f, kind) in [
        (&installs, "installs"),
        (&sessions, "sessions"),
        (&events, "events"),
        (&spend, "spend"),
    ] {
        let _ = p.try_import_file(f, kind, &[]);
    }
    let after = p.report("channel", "0,1");
    assert_eq!(after, before);
}

// ---------------------------------------------------------------------------
// Untrusted project files
// ---------------------------------------------------------------------------

#[test]
fn project_file_that_is_not_sqlite_is_refused() {
    let p = Project::new();
    let junk = "this is not a cohort project, just some text\n".repeat(200);
    std::fs::write(&p.path, &junk).expect("write junk");
    let name = "test.cohort";
    let mentions_it = |s: &str| {
        let l = s.to_lowercase();
        l.contains(name) || l.contains("sqlite") || l.contains("project") || l.contains("database")
    };

    let out = p.run(&["report", p.path_str(), "--by", "none", "--format", "json"]);
    out.assert_failed();
    assert!(mentions_it(&out.stderr), "unclear message:\n{}", out.stderr);

    let out = p.run(&["settings", p.path_str(), "--timeout", "10"]);
    out.assert_failed();

    let csv = p.write("s.csv", "user_id,session_start\nu1,2024-01-01 10:00:00\n");
    let out = p.try_import_file(&csv, "sessions", &[]);
    out.assert_failed();
    assert!(mentions_it(&out.stderr), "unclear message:\n{}", out.stderr);

    // The file was not overwritten or "repaired".
    assert_eq!(std::fs::read_to_string(&p.path).expect("read back"), junk);
}

// ---------------------------------------------------------------------------
// File formats
// ---------------------------------------------------------------------------

#[test]
fn semicolon_csv_with_bom_crlf_and_quoted_newline_imports() {
    let p = Project::new();
    // UTF-8 BOM, `;` delimiter, CRLF line endings; u1's campaign is quoted and
    // holds a comma, a semicolon and a line break.
    p.import(
        "installs.csv",
        "\u{FEFF}user_id;install_time;channel;campaign\r\n\
         u1;2024-01-01 10:00:00;fb;\"Spring, big; \nsale\"\r\n\
         u2;2024-01-01 11:00:00;fb;plain\r\n",
        "installs",
        &[],
    );
    p.import(
        "sessions.csv",
        "\u{FEFF}user_id;session_start;session_end\r\n\
         u1;2024-01-01 10:00:00;2024-01-01 10:01:40\r\n\
         u2;2024-01-01 11:00:00;2024-01-01 11:05:00\r\n",
        "sessions",
        &[],
    );
    let g = p.report_all("0");
    expect_num(&g, "installs", 2.0);
    expect_num(&g, "sessions", 2.0);
    expect_num(&g, "avg_session_length_s", 200.0); // (100 + 300) / 2

    // Exactly two campaigns: the quoted one did not split into extra rows or fields.
    let r = p.report("campaign", "0");
    assert_eq!(groups(&r).len(), 2, "{r:#}");
    expect_num(campaign_group(&r, "fb", "plain"), "installs", 1.0);
    let spring = groups(&r)
        .iter()
        .find(|g| {
            let s = g["campaign"].as_str().or(g["group"].as_str()).unwrap_or("");
            s.contains("Spring, big;") && s.contains("sale") && s.contains('\n')
        })
        .unwrap_or_else(|| panic!("no campaign holding the quoted value:\n{r:#}"));
    expect_num(spring, "installs", 1.0);
}

#[test]
fn comma_csv_quoted_field_with_comma_and_newline_imports() {
    let p = Project::new();
    p.import(
        "installs.csv",
        "user_id,install_time,channel,campaign\n\
         u1,2024-01-01 10:00:00,fb,\"Sale, part 1\nand 2\"\n\
         u2,2024-01-01 11:00:00,fb,\"Sale, part 1\nand 2\"\n\
         u3,2024-01-01 12:00:00,fb,other\n",
        "installs",
        &[],
    );
    let r = p.report("campaign", "0");
    assert_eq!(total_installs(&r), 3.0);
    expect_num(
        campaign_group(&r, "fb", "Sale, part 1\nand 2"),
        "installs",
        2.0,
    );
    expect_num(campaign_group(&r, "fb", "other"), "installs", 1.0);
}

#[test]
fn tab_separated_file_imports() {
    let p = Project::new();
    p.import(
        "sessions_tab.csv",
        "user_id\tsession_start\tsession_end\n\
         u1\t2024-01-01 10:00:00\t2024-01-01 10:02:00\n\
         u2\t2024-01-01 11:00:00\t2024-01-01 11:04:00\n",
        "sessions",
        &[],
    );
    let g = p.report_all("0");
    expect_num(&g, "installs", 2.0);
    expect_num(&g, "sessions", 2.0);
    expect_num(&g, "avg_session_length_s", 180.0); // (120 + 240) / 2
}

#[test]
fn json_lines_import() {
    let p = Project::new();
    // u1: 10:00 -> 10:04 (one session, 240 s); u2: single event (unknown length).
    p.import(
        "events.jsonl",
        "{\"user_id\":\"u1\",\"event_time\":\"2024-01-01T10:00:00Z\",\"event_name\":\"open\"}\n\
         {\"user_id\":\"u1\",\"event_time\":\"2024-01-01T10:04:00Z\",\"event_name\":\"click\"}\n\
         {\"user_id\":\"u2\",\"event_time\":\"2024-01-01T11:00:00Z\",\"event_name\":\"open\"}\n",
        "events",
        &[],
    );
    let r = p.report("none", "0");
    expect_instant(&r, "settings.data_end", "2024-01-01T11:00:00Z"); // latest event
    let g = &groups(&r)[0];
    expect_num(g, "installs", 2.0);
    expect_num(g, "sessions", 2.0);
    expect_num(g, "avg_session_length_s", 240.0); // one known length
}

// ---------------------------------------------------------------------------
// Timestamps and durations
// ---------------------------------------------------------------------------

#[test]
fn timestamp_formats_denote_the_same_instants() {
    // The same two sessions, u1 2024-01-01T09:00Z..09:05Z and 2024-01-02T08:30Z..08:31Z,
    // written five ways. 2024-01-01T00:00Z = 1704067200 s, so
    //   09:00Z = 1704067200 + 9 x 3600 = 1704099600, 09:05Z = 1704099900,
    //   01-02 08:30Z = 1704067200 + 86400 + 30600 = 1704184200, 08:31Z = 1704184260.
    let h = "user_id,session_start,session_end\n";
    let variants: [(&str, String, &[&str]); 5] = [
        (
            "utc_local",
            format!("{h}u1,2024-01-01 09:00:00,2024-01-01 09:05:00\nu1,2024-01-02 08:30:00,2024-01-02 08:31:00\n"),
            &[],
        ),
        (
            "berlin_local",
            // CET = UTC+1 in January.
            format!("{h}u1,2024-01-01 10:00:00,2024-01-01 10:05:00\nu1,2024-01-02 09:30:00,2024-01-02 09:31:00\n"),
            &["--tz", "Europe/Berlin"],
        ),
        (
            "iso_offset",
            format!("{h}u1,2024-01-01T04:00:00-05:00,2024-01-01T09:05:00Z\nu1,2024-01-02T10:30:00+02:00,2024-01-02T08:31:00+00:00\n"),
            &[],
        ),
        (
            "epoch_s",
            format!("{h}u1,1704099600,1704099900\nu1,1704184200,1704184260\n"),
            &[],
        ),
        (
            "epoch_ms",
            format!("{h}u1,1704099600000,1704099900000\nu1,1704184200000,1704184260000\n"),
            &[],
        ),
    ];
    for (name, csv, extra) in variants {
        let p = Project::new();
        p.import(&format!("{name}.csv"), &csv, "sessions", extra);
        let r = p.report("none", "0");
        // Latest session end: 2024-01-02T08:31:00Z.
        expect_instant(&r, "settings.data_end", "2024-01-02T08:31:00Z");
        let g = &groups(&r)[0];
        expect_num(g, "sessions", 2.0);
        expect_num(g, "avg_session_length_s", 180.0); // (300 + 60) / 2
                                                      // Gap: 01-02 08:30Z - 01-01 09:05Z = 23 h 25 min = 84300 s.
        expect_num(g, "median_time_between_sessions_s", 84300.0);
    }
}

#[test]
fn epoch_column_rejects_a_row_in_another_format() {
    let p = Project::new();
    // The first value (epoch seconds) decides the column; line 3's text time rejects its row.
    let csv = "user_id,session_start,duration\n\
               u1,1704099600,60\n\
               u1,2024-01-01 10:00:00,60\n\
               u1,1704110400,120\n";
    let out = p.try_import("mixed.csv", csv, "sessions", &[]);
    out.assert_failed();
    assert!(
        some_line_has(&p.scrub(&out.stderr), "mixed.csv", 3),
        "stderr should name the file and line 3:\n{}",
        out.stderr
    );
    p.import("mixed.csv", csv, "sessions", &["--on-bad-rows", "skip"]);
    let g = p.report_all("0");
    expect_num(&g, "sessions", 2.0);
    expect_num(&g, "avg_session_length_s", 90.0); // (60 + 120) / 2
}

#[test]
fn duration_unit_scales_durations() {
    // 5 minutes written in each unit -> 300 s; the default unit is seconds.
    for (unit, value) in [
        (None, "300"),
        (Some("s"), "300"),
        (Some("ms"), "300000"),
        (Some("min"), "5"),
    ] {
        let p = Project::new();
        let csv = format!("user_id,session_start,duration\nu1,2024-01-01 10:00:00,{value}\n");
        let extra: Vec<&str> = match unit {
            Some(u) => vec!["--duration-unit", u],
            None => vec![],
        };
        p.import("d.csv", &csv, "sessions", &extra);
        let r = p.report("none", "0");
        expect_num(&groups(&r)[0], "avg_session_length_s", 300.0);
        // Session end = 10:00 + 300 s = 10:05 is the data end.
        expect_instant(&r, "settings.data_end", "2024-01-01T10:05:00Z");
    }
}

#[test]
fn end_wins_over_duration_when_both_are_given() {
    let p = Project::new();
    // End 10:10 (600 s) and duration 60: the end wins.
    p.import(
        "both.csv",
        "user_id,session_start,session_end,duration\n\
         u1,2024-01-01 10:00:00,2024-01-01 10:10:00,60\n",
        "sessions",
        &[],
    );
    let g = p.report_all("0");
    expect_num(&g, "avg_session_length_s", 600.0);
}
