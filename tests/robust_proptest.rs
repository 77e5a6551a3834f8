//! Property tests of the readers (issue 6, point 2): random bytes and random CSV-ish or
//! JSON-ish text through `Source::open` and every record, through `plan` and a whole
//! `import_file` into a fresh project, and random strings through `TimeFormat::detect`
//! and `TimeColumn::read`. None may panic, each case must end quickly, and what an import
//! reports must add up. 64 cases per property (set PROPTEST_CASES for a longer run).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use cohort_explorer::import::{
    self, DurationUnit, ImportOptions, ImportOutcome, OnBadRows, Source, TimeColumn, TimeFormat,
};
use cohort_explorer::store::Project;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Far more than any of these small inputs needs, even in a debug build.
const CASE_LIMIT: Duration = Duration::from_secs(5);

/// 64 cases from a fixed seed, so that CI runs the same inputs every time; set
/// PROPTEST_CASES and PROPTEST_RNG_SEED (or `random`) for a longer or a different run.
fn config() -> Config {
    let defaults = Config::default(); // reads the PROPTEST_* variables
    let from_env = |name: &str| std::env::var(name).is_ok();
    Config {
        cases: if from_env("PROPTEST_CASES") {
            defaults.cases
        } else {
            64
        },
        rng_seed: if from_env("PROPTEST_RNG_SEED") {
            defaults.rng_seed
        } else {
            RngSeed::Fixed(0x0C0_4027)
        },
        // Shrinking a slow case could take long; the failing input is printed anyway.
        max_shrink_iters: 256,
        failure_persistence: None,
        ..defaults
    }
}

/// Opens the file and reads every record; returns how many records and rejections came.
fn read_all(path: &Path, len: usize) -> Option<(usize, usize)> {
    let mut source = Source::open(path).ok()?;
    let mut records = 0;
    let mut rejections = 0;
    let width = source.columns.len();
    while let Some(next) = source.next_record() {
        match next {
            Ok(Ok(record)) => {
                assert_eq!(
                    record.fields.len(),
                    width,
                    "a record's width differs from the header's"
                );
                assert!(record.line >= 1);
                records += 1;
            }
            Ok(Err(rejection)) => {
                assert!(!rejection.reason.is_empty());
                rejections += 1;
            }
            // A problem that stops the file: the importer stops here too.
            Err(_) => break,
        }
        // Every record takes at least one byte (a newline): more means a loop.
        assert!(
            records + rejections <= len + 1,
            "more records than bytes: {records} + {rejections} from {len} bytes"
        );
    }
    Some((records, rejections))
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Pieces that CSV files of vendors are made of, the good and the bad.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("u1".to_owned()),
        Just("player_7".to_owned()),
        Just("2024-01-01 10:00:00".to_owned()),
        Just("2024-03-31T02:30:00".to_owned()),
        Just("2024-01-01T10:00:00Z".to_owned()),
        Just("2024-01-01".to_owned()),
        Just("0000-01-01 00:00:00".to_owned()),
        Just("9999-12-31 23:59:59".to_owned()),
        Just("1700000000".to_owned()),
        Just("1700000000000".to_owned()),
        Just("1700000000000000".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("-5".to_owned()),
        Just("NaN".to_owned()),
        Just("inf".to_owned()),
        Just("1e400".to_owned()),
        Just("60".to_owned()),
        Just("\"a,b\"".to_owned()),
        Just("\"unclosed".to_owned()),
        Just("\"\"".to_owned()),
        Just("\u{0}".to_owned()),
        Just("Jos\u{e9}".to_owned()),
        Just("\u{feff}".to_owned()),
        Just(String::new()),
        Just("facebook".to_owned()),
        "[a-z0-9 :.+-]{0,12}",
        any::<u32>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
    ]
}

/// A header vendors write, or a random one.
fn header() -> impl Strategy<Value = Vec<String>> {
    let known = prop_oneof![
        Just(vec!["user_id", "session_start", "duration"]),
        Just(vec!["user_id", "session_start", "session_end", "channel"]),
        Just(vec!["player_id", "event_time", "event_name"]),
        Just(vec![
            "user_id",
            "install_time",
            "channel",
            "campaign",
            "country"
        ]),
        Just(vec!["date", "amount", "channel", "campaign"]),
        Just(vec!["date", "currency", "rate"]),
        Just(vec![
            "AppsFlyer ID",
            "Event Time",
            "Install Time",
            "Media Source"
        ]),
    ]
    .prop_map(|h| h.into_iter().map(str::to_owned).collect());
    prop_oneof![
        3 => known,
        1 => proptest::collection::vec(token(), 1..6),
    ]
}

/// CSV-ish text: a header and rows of tokens of any width, joined by a delimiter, with
/// LF or CRLF line ends.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    (
        header(),
        proptest::collection::vec(proptest::collection::vec(token(), 0..7), 0..40),
        prop_oneof![Just(","), Just(";"), Just("\t")],
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        any::<bool>(),
    )
        .prop_map(|(header, rows, delimiter, newline, bom)| {
            let mut text = String::new();
            if bom {
                text.push('\u{feff}');
            }
            text.push_str(&header.join(delimiter));
            for row in rows {
                text.push_str(newline);
                text.push_str(&row.join(delimiter));
            }
            text.into_bytes()
        })
}

/// JSON-lines-ish text: objects of known keys and token values, some lines cut short.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let key = prop_oneof![
        Just("user_id"),
        Just("session_start"),
        Just("duration"),
        Just("event_time"),
        Just("event_name"),
        Just("geo"),
    ];
    let line = (
        proptest::collection::vec((key, token(), any::<bool>()), 0..6),
        any::<Option<u8>>(),
    )
        .prop_map(|(pairs, cut)| {
            let mut object = serde_json::Map::new();
            for (key, value, nested) in pairs {
                let value = if nested {
                    serde_json::json!({ "inner": value })
                } else {
                    serde_json::Value::String(value)
                };
                object.insert(key.to_owned(), value);
            }
            let mut text = serde_json::Value::Object(object).to_string();
            if let Some(cut) = cut {
                let at = usize::from(cut) % (text.len() + 1);
                let at = (0..=at)
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                text.truncate(at);
            }
            text
        });
    proptest::collection::vec(line, 0..30).prop_map(|lines| lines.join("\n").into_bytes())
}

/// Imports the file into a fresh project with `skip`: either it lands and the numbers
/// add up, or it is refused and the project holds no import.
fn import_checks(dir: &Path, path: &Path) {
    let project_path = dir.join(format!("p{}.cohort", rand_suffix(path)));
    let mut project = Project::create(&project_path).unwrap();
    let options = ImportOptions {
        on_bad_rows: OnBadRows::Skip,
        duration_unit: DurationUnit::Seconds,
        ..ImportOptions::default()
    };
    let cancel = AtomicBool::new(false);
    let _ = import::plan(path, &options);
    match import::import_file(&mut project, path, &options, &cancel, &mut |_| {}) {
        Ok(ImportOutcome::Imported { record, .. }) => {
            assert!(record.rows_accepted > 0, "an import with no rows landed");
            assert!(
                record.rows_accepted + record.rows_rejected <= record.rows_read,
                "{} accepted + {} rejected > {} read",
                record.rows_accepted,
                record.rows_rejected,
                record.rows_read
            );
            assert_eq!(project.imports().unwrap().len(), 1);
            project.load_dataset().unwrap();
        }
        Ok(ImportOutcome::AlreadyImported(_)) => panic!("a fresh project had it already"),
        Err(error) => {
            let message = error.to_string();
            assert!(!message.is_empty());
            assert!(
                project.imports().unwrap().is_empty(),
                "refused ({message}) but logged"
            );
        }
    }
    drop(project);
    let _ = std::fs::remove_file(&project_path);
}

/// A name part that differs between cases within one test (they share a folder).
fn rand_suffix(path: &Path) -> String {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    std::fs::read(path).unwrap_or_default().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic_the_source(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let path = write_temp(dir.path(), "random.bin", &bytes);
        read_all(&path, bytes.len());
        let gz = write_temp(dir.path(), "random.gz", &gzip(&bytes));
        read_all(&gz, bytes.len());
        prop_assert!(started.elapsed() < CASE_LIMIT, "took {:?}", started.elapsed());
    }

    #[test]
    fn csvish_text_reads_and_imports_without_panic(bytes in csvish()) {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let path = write_temp(dir.path(), "input.csv", &bytes);
        read_all(&path, bytes.len());
        import_checks(dir.path(), &path);
        prop_assert!(started.elapsed() < CASE_LIMIT, "took {:?}", started.elapsed());
    }

    #[test]
    fn csvish_text_compressed_and_cut_reads_without_panic(bytes in csvish(), cut in any::<u16>()) {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let compressed = gzip(&bytes);
        let at = usize::from(cut) % (compressed.len() + 1);
        let path = write_temp(dir.path(), "input.csv.gz", &compressed[..at]);
        read_all(&path, bytes.len());
        import_checks(dir.path(), &path);
        prop_assert!(started.elapsed() < CASE_LIMIT, "took {:?}", started.elapsed());
    }

    #[test]
    fn jsonish_text_reads_and_imports_without_panic(bytes in jsonish()) {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let path = write_temp(dir.path(), "input.jsonl", &bytes);
        read_all(&path, bytes.len());
        import_checks(dir.path(), &path);
        prop_assert!(started.elapsed() < CASE_LIMIT, "took {:?}", started.elapsed());
    }

    #[test]
    fn any_text_through_time_detection_never_panics(
        values in proptest::collection::vec(
            prop_oneof![
                token(),
                any::<String>(),
                // Date-shaped text with every field out of range.
                (any::<i32>(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
                    .prop_map(|(y, mo, d, h, mi, s)| format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")),
                // Signed years far from today, short of the calendar's edge.
                (-250_000i32..=250_000, 1u8..=12, 1u8..=28)
                    .prop_map(|(y, mo, d)| format!("{y:+05}-{mo:02}-{d:02} 00:00:00")),
            ],
            1..12,
        ),
        zone in zone(),
    ) {
        time_values_are_read_without_panic(&values, zone)?;
    }
}

fn zone() -> impl Strategy<Value = chrono_tz::Tz> {
    prop_oneof![
        Just(chrono_tz::UTC),
        Just(chrono_tz::America::New_York),
        Just(chrono_tz::Asia::Kolkata),
        Just(chrono_tz::Asia::Kathmandu),
        Just(chrono_tz::Australia::Lord_Howe),
        Just(chrono_tz::Pacific::Kiritimati),
    ]
}

/// Detects, parses and reads each value in the zone; what is read lies in the calendar.
fn time_values_are_read_without_panic(
    values: &[String],
    zone: chrono_tz::Tz,
) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let mut column = TimeColumn::default();
    for value in values {
        if let Some(format) = TimeFormat::detect(value) {
            let _ = format.parse(value, zone);
            let _ = format.describe();
        }
        if let Ok(ms) = column.read(value, zone) {
            // What is read can be shown: it is inside chrono's calendar.
            prop_assert!(
                chrono::DateTime::from_timestamp_millis(ms).is_some(),
                "{value:?} read as {ms} ms, outside the calendar"
            );
        }
    }
    prop_assert!(
        started.elapsed() < CASE_LIMIT,
        "took {:?}",
        started.elapsed()
    );
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// chrono's calendar ends at -262143-01-01 and +262142-12-31: values there, read in a
    /// zone whose offset pushes them past the end, must be refused, not panic.
    #[test]
    fn time_values_at_the_edge_of_the_calendar_never_panic(
        values in proptest::collection::vec(
            prop_oneof![
                // The first hours of the calendar ...
                (-262_144i32..=-262_142, 1u8..=2, 0u8..12)
                    .prop_map(|(y, d, h)| format!("{y:+05}-01-{d:02} {h:02}:00:00")),
                // ... its last hours ...
                (262_141i32..=262_143, 30u8..=31, 12u8..24)
                    .prop_map(|(y, d, h)| format!("{y:+05}-12-{d:02} {h:02}:59:59")),
                // ... and its first and last dates.
                prop_oneof![Just("-262143-01-01"), Just("+262142-12-31")].prop_map(str::to_owned),
            ],
            1..6,
        ),
        zone in zone(),
    ) {
        time_values_are_read_without_panic(&values, zone)?;
    }
}
