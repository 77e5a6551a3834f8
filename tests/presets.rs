//! Vendor exports read without manual mapping: each fixture in `tests/fixtures/vendors`
//! (written by us from the vendors' documented columns) is imported with its preset
//! detected from the header, and the resulting users, sessions and spend are checked row
//! by row. Times in the comments are UTC.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use cohort_explorer::import::{self, ImportError, ImportOptions, ImportOutcome};
use cohort_explorer::model::{Dataset, ImportRecord, SessionSource};
use cohort_explorer::store::Project;
use cohort_explorer::time::{format_utc, parse_instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vendors")
        .join(name)
}

fn import(project: &mut Project, name: &str) -> ImportRecord {
    let outcome = import::import_file(
        project,
        &fixture(name),
        &ImportOptions::default(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    match outcome {
        ImportOutcome::Imported { record, .. } => record,
        ImportOutcome::AlreadyImported(_) => panic!("{name} imported twice"),
    }
}

fn project(dir: &tempfile::TempDir) -> Project {
    Project::create(&dir.path().join("p.cohort")).unwrap()
}

fn at(text: &str) -> i64 {
    parse_instant(text, chrono_tz::UTC).unwrap()
}

/// (start, length in seconds or None, source) of a user's sessions.
fn sessions_of(data: &Dataset, key: &str) -> Vec<(String, Option<i64>, SessionSource)> {
    let index = data
        .users
        .iter()
        .position(|u| u.key == key)
        .unwrap_or_else(|| panic!("no user {key}"));
    data.sessions
        .iter()
        .filter(|s| s.user as usize == index)
        .map(|s| {
            (
                format_utc(s.start_ms),
                s.length_ms().map(|l| l / 1000),
                s.source,
            )
        })
        .collect()
}

fn user<'a>(data: &'a Dataset, key: &str) -> &'a cohort_explorer::model::User {
    data.users
        .iter()
        .find(|u| u.key == key)
        .unwrap_or_else(|| panic!("no user {key}"))
}

#[test]
fn appsflyer_installs_events_and_cost() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(&dir);
    let installs = import(&mut p, "appsflyer_installs.csv");
    assert_eq!(installs.preset.as_deref(), Some("appsflyer"));
    assert_eq!((installs.rows_read, installs.rows_accepted), (4, 4));
    assert!(installs.notes.iter().any(|n| n.contains("first session")));
    let events = import(&mut p, "appsflyer_events.csv");
    assert_eq!(events.rows_accepted, 4);
    let cost = import(&mut p, "appsflyer_cost.csv");
    assert_eq!(cost.preset.as_deref(), Some("appsflyer-cost"));

    let data = p.load_dataset().unwrap();
    assert_eq!(data.users.len(), 4);
    let fb = user(&data, "1714550400000-1111111");
    // Media Source is the channel (not AppsFlyer's "Channel" sub-channel column).
    assert_eq!(
        (fb.attrs.channel.as_str(), fb.attrs.campaign.as_str()),
        ("Facebook Ads", "Spring_US")
    );
    assert_eq!(
        (
            fb.attrs.country.as_str(),
            fb.attrs.platform.as_str(),
            fb.attrs.app_version.as_str()
        ),
        ("US", "ios", "2.1.0")
    );
    assert_eq!(fb.install_ms, at("2024-05-01 10:00:00"));
    assert!(!fb.install_inferred);
    // The install is the first launch: with the events at 10:04 and 10:20 it makes one
    // session 10:00-10:20 (1200 s); the event on 05-02 18:00 is a session of its own.
    assert_eq!(
        sessions_of(&data, "1714550400000-1111111"),
        vec![
            (
                "2024-05-01T10:00:00Z".to_owned(),
                Some(1200),
                SessionSource::Events
            ),
            (
                "2024-05-02T18:00:00Z".to_owned(),
                None,
                SessionSource::Events
            ),
        ]
    );
    // The organic install with no events: one session of unknown length at the install.
    assert_eq!(
        sessions_of(&data, "1714550400000-3333333"),
        vec![(
            "2024-05-02T08:00:00Z".to_owned(),
            None,
            SessionSource::Install
        )]
    );
    assert_eq!(
        user(&data, "1714550400000-3333333").attrs.channel,
        "Organic"
    );
    assert_eq!(
        user(&data, "1714550400000-4444444").attrs.channel,
        "restricted"
    );
    assert_eq!(data.stats.install_sessions_added, 4);

    // Cost rows: Date, Media Source (pid), Campaign (c), Total Cost.
    let spend: Vec<(String, String, String, f64)> = data
        .spend
        .iter()
        .map(|s| {
            (
                s.date.to_string(),
                s.channel.clone(),
                s.campaign.clone(),
                s.amount,
            )
        })
        .collect();
    assert_eq!(
        spend,
        vec![
            (
                "2024-05-01".into(),
                "Facebook Ads".into(),
                "Spring_US".into(),
                25.5
            ),
            (
                "2024-05-01".into(),
                "googleadwords_int".into(),
                "Brand".into(),
                9.75
            ),
        ]
    );
}

#[test]
fn adjust_raw_export_and_cost_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(&dir);
    let raw = import(&mut p, "adjust_raw.csv");
    assert_eq!(raw.preset.as_deref(), Some("adjust"));
    // 2 installs and 2 sessions accepted, the click ignored with its reason.
    assert_eq!(
        (raw.rows_read, raw.rows_accepted, raw.rows_ignored),
        (5, 4, 1)
    );
    assert_eq!(
        raw.ignored_by_reason.get("activity_kind \"click\""),
        Some(&1)
    );
    import(&mut p, "adjust_report.csv");

    let data = p.load_dataset().unwrap();
    let a = user(&data, "a1b2c3");
    // created_at 1714557600 = 2024-05-01 10:00:00.
    assert_eq!(a.install_ms, at("2024-05-01 10:00:00"));
    assert_eq!(
        (
            a.attrs.channel.as_str(),
            a.attrs.campaign.as_str(),
            a.attrs.country.as_str()
        ),
        ("Unity Ads", "Summer Push", "us")
    );
    // The install is the first session; session rows at 11:20 and on 05-02 10:00 follow.
    assert_eq!(
        sessions_of(&data, "a1b2c3"),
        vec![
            (
                "2024-05-01T10:00:00Z".to_owned(),
                None,
                SessionSource::Install
            ),
            ("2024-05-01T11:20:00Z".to_owned(), None, SessionSource::Row),
            ("2024-05-02T10:00:00Z".to_owned(), None, SessionSource::Row),
        ]
    );
    // No network column value: the tracker name "Organic::..." gives the channel.
    assert_eq!(user(&data, "d4e5f6").attrs.channel, "Organic");

    // The install row's cost (1.20 EUR) and the report's two days.
    let spend: Vec<(String, f64, Option<String>)> = data
        .spend
        .iter()
        .map(|s| (s.date.to_string(), s.amount, s.currency.clone()))
        .collect();
    assert_eq!(
        spend,
        vec![
            ("2024-05-01".into(), 1.2, Some("EUR".into())),
            ("2024-05-01".into(), 30.0, Some("EUR".into())),
            ("2024-05-02".into(), 12.5, Some("EUR".into())),
        ]
    );
}

#[test]
fn tenjin_events_resolve_campaigns_through_lookup_tables() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(&dir);
    let events = import(&mut p, "tenjin_events.csv");
    assert_eq!(events.preset.as_deref(), Some("tenjin-events"));
    // Only `open` events are activity; the purchase row is read and ignored.
    assert_eq!((events.rows_accepted, events.rows_ignored), (4, 1));
    assert_eq!(import(&mut p, "tenjin_campaigns.csv").kind, "campaigns");
    assert_eq!(import(&mut p, "tenjin_ad_networks.csv").kind, "ad_networks");
    assert_eq!(
        import(&mut p, "tenjin_daily_spend.csv").preset.as_deref(),
        Some("tenjin-spend")
    );

    let data = p.load_dataset().unwrap();
    // The advertising id is all zeros: the developer device id is the user.
    let d = user(&data, "dev-1");
    assert_eq!(d.install_ms, at("2024-05-01 12:00:00"));
    assert_eq!(
        (d.attrs.channel.as_str(), d.attrs.campaign.as_str()),
        ("Google Ads", "Launch Android")
    );
    assert_eq!(
        sessions_of(&data, "dev-1"),
        vec![
            (
                "2024-05-01T12:00:00Z".to_owned(),
                Some(600),
                SessionSource::Events
            ),
            (
                "2024-05-03T08:00:00Z".to_owned(),
                None,
                SessionSource::Events
            ),
        ]
    );
    let ios = user(&data, "AAAA-BBBB");
    assert_eq!(
        (ios.attrs.channel.as_str(), ios.attrs.campaign.as_str()),
        ("Apple Search Ads", "UK iOS Test")
    );
    // daily_spend is in cents: 12345 -> 123.45, 500 -> 5.00, resolved like the events.
    let spend: Vec<(String, String, f64)> = data
        .spend
        .iter()
        .map(|s| (s.channel.clone(), s.campaign.clone(), s.amount))
        .collect();
    assert_eq!(
        spend,
        vec![
            ("Google Ads".into(), "Launch Android".into(), 123.45),
            ("Apple Search Ads".into(), "UK iOS Test".into(), 5.0),
        ]
    );
}

#[test]
fn firebase_export_as_json_lines_and_flattened_csv() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(&dir);
    let json = import(&mut p, "ga4_events.jsonl");
    assert_eq!(json.preset.as_deref(), Some("firebase"));
    import(&mut p, "ga4_flat.csv");

    let data = p.load_dataset().unwrap();
    // event_timestamp is in microseconds, given as a string: 1714557600000000 = 10:00.
    let g = user(&data, "ga-1");
    assert_eq!(g.install_ms, at("2024-05-01 10:00:00"));
    assert!(!g.install_inferred, "first_open is the install");
    assert_eq!(
        (g.attrs.channel.as_str(), g.attrs.campaign.as_str()),
        ("google", "Brand_DE")
    );
    assert_eq!(
        (
            g.attrs.country.as_str(),
            g.attrs.platform.as_str(),
            g.attrs.app_version.as_str()
        ),
        ("Germany", "ANDROID", "3.0.1")
    );
    // first_open is the install, the other events are activity: 10:02 and 05-02 10:00.
    assert_eq!(
        sessions_of(&data, "ga-1"),
        vec![
            (
                "2024-05-01T10:02:00Z".to_owned(),
                None,
                SessionSource::Events
            ),
            (
                "2024-05-02T10:00:00Z".to_owned(),
                None,
                SessionSource::Events
            ),
        ]
    );
    assert!(sessions_of(&data, "ga-2").is_empty());
    // Underscored column names read the same: geo_country, traffic_source_source.
    let flat = user(&data, "ga-9");
    assert_eq!(
        (flat.attrs.channel.as_str(), flat.attrs.country.as_str()),
        ("facebook", "Spain")
    );
}

#[test]
fn amplitude_and_mixpanel_exports() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(&dir);
    assert_eq!(
        import(&mut p, "amplitude.jsonl").preset.as_deref(),
        Some("amplitude")
    );
    assert_eq!(
        import(&mut p, "mixpanel.jsonl").preset.as_deref(),
        Some("mixpanel")
    );
    let data = p.load_dataset().unwrap();

    // Amplitude: the repeated $insert_id counts once; 10:00-10:12 is one session (720 s).
    assert_eq!(
        sessions_of(&data, "amp-user-1"),
        vec![(
            "2024-05-01T10:00:00Z".to_owned(),
            Some(720),
            SessionSource::Events
        )]
    );
    // A null user_id falls back to the device id.
    assert_eq!(user(&data, "dev-b").attrs.country, "Canada");
    // Mixpanel: properties.time in seconds, $insert_id de-duplicates, utm_* as channel.
    let m = user(&data, "mx-1");
    assert_eq!(
        (
            m.attrs.channel.as_str(),
            m.attrs.campaign.as_str(),
            m.attrs.country.as_str()
        ),
        ("tiktok", "May_Launch", "BR")
    );
    assert_eq!(
        sessions_of(&data, "mx-1"),
        vec![(
            "2024-05-01T10:00:00Z".to_owned(),
            Some(900),
            SessionSource::Events
        )]
    );
    assert_eq!(data.stats.duplicate_events, 2);
}

#[test]
fn ad_platform_spend_with_currency_in_header_and_decimal_comma() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(&dir);
    let record = import(&mut p, "meta_spend_semicolon.csv");
    assert_eq!(record.preset.as_deref(), Some("ad-spend"));
    let data = p.load_dataset().unwrap();
    // "1.234,56" with `;` as delimiter is 1234.56; the currency comes from the header.
    let spend: Vec<(String, f64, Option<String>)> = data
        .spend
        .iter()
        .map(|s| (s.date.to_string(), s.amount, s.currency.clone()))
        .collect();
    assert_eq!(
        spend,
        vec![
            ("2024-05-01".into(), 1234.56, Some("EUR".into())),
            ("2024-05-02".into(), 99.5, Some("EUR".into()))
        ]
    );
}

#[test]
fn unknown_files_name_the_nearest_preset() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("almost_appsflyer.csv");
    std::fs::write(&file, "AppsFlyer ID,Something\nx,y\n").unwrap();
    let mut p = project(&dir);
    let error = import::import_file(
        &mut p,
        &file,
        &ImportOptions::default(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(error, ImportError::Unmappable { .. }));
    let message = error.to_string();
    assert!(message.contains("AppsFlyer ID, Something"), "{message}");
    assert!(message.contains("--preset appsflyer"), "{message}");

    // --preset none reads the file as a plain one; an unknown preset is refused by name.
    let options = ImportOptions {
        preset: Some("no-such-vendor".to_owned()),
        ..ImportOptions::default()
    };
    let error = import::import_file(
        &mut p,
        &fixture("mixpanel.jsonl"),
        &options,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(error
        .to_string()
        .contains("unknown preset \"no-such-vendor\""));
}
