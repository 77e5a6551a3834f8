//! Bad CSV and JSON-lines input through `import` (issue 6, point 2; SPEC section 8).
//!
//! Every case is imported with `--on-bad-rows abort` and with `skip`, once into a new
//! project and once into a project that already holds an import. The expected outcome of
//! each is written next to it. For all of them: no panic, no crash by a signal, done
//! within 60 s and within 1 GiB of address space; a refusal is exit code 1 with a message
//! naming the file (and the line, for a row problem), leaves no new project behind and
//! an existing one byte for byte as it was; an import prints
//! "N rows read, N accepted, N rejected" and the numbers add up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_cohort-explorer");
const TIMEOUT: Duration = Duration::from_secs(60);
/// Address space the binary may use (`ulimit -v`, KiB): memory is bounded by the input.
const MEMORY_KIB: u64 = 1 << 20;
const TEN_MB: usize = 10 * 1024 * 1024;

const HEADER: &str = "user_id,session_start,duration\n";
/// What the existing project holds before each case.
const BASE: &str = "user_id,session_start,duration\n\
a1,2024-01-01 10:00:00,60\n\
a2,2024-01-01 12:00:00,30\n";

/// Runs the binary under a memory limit and a timeout.
fn run(args: &[&str]) -> (Output, Duration) {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args);
    let start = Instant::now();
    let output = common::finish_within(command, TIMEOUT);
    (output, start.elapsed())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// At most `n` characters of a message, for assertion output.
fn head(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn sha256(path: &Path) -> String {
    let digest = Sha256::digest(fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The numbers of "N rows read, N accepted, N rejected[, N ignored]".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    read: u64,
    accepted: u64,
    rejected: u64,
    ignored: u64,
}

fn parse_counts(stdout: &str) -> Counts {
    let line = stdout
        .lines()
        .find(|l| l.contains(" rows read, "))
        .unwrap_or_else(|| panic!("no \"rows read\" line in:\n{}", head(stdout, 2000)));
    let summary = line.rsplit(": ").next().unwrap();
    let mut counts = Counts {
        read: 0,
        accepted: 0,
        rejected: 0,
        ignored: 0,
    };
    for part in summary.split(", ") {
        let (number, word) = part.trim().split_once(' ').unwrap();
        let number: u64 = number.parse().unwrap();
        match word {
            "rows read" => counts.read = number,
            "accepted" => counts.accepted = number,
            "rejected" => counts.rejected = number,
            "ignored" => counts.ignored = number,
            other => panic!("unknown count {other:?} in {line:?}"),
        }
    }
    counts
}

/// What one import of a case must do.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exit code 1; the error line names the file and contains each of these words.
    Refused(&'static [&'static str]),
    /// Exit code 0 with these counts; each reason appears on stdout.
    Imported {
        read: u64,
        accepted: u64,
        rejected: u64,
        reasons: &'static [&'static str],
    },
}

struct Case {
    file: &'static str,
    bytes: Vec<u8>,
    args: &'static [&'static str],
    abort: Expect,
    skip: Expect,
}

/// Imports the case in both modes into a new and into an existing project, checking
/// everything the module comment promises.
fn check(case: &Case) {
    check_then(case, |_| {});
}

/// `check`, then `then` on every project that took the import.
fn check_then(case: &Case, then: impl Fn(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(case.file);
    fs::write(&input, &case.bytes).unwrap();
    let base_csv = dir.path().join("base.csv");
    fs::write(&base_csv, BASE).unwrap();
    for (mode, expect) in [("abort", case.abort), ("skip", case.skip)] {
        for existing in [false, true] {
            let project = dir.path().join(format!("{mode}-{existing}.cohort"));
            if existing {
                let (out, _) = run(&[
                    "import",
                    project.to_str().unwrap(),
                    base_csv.to_str().unwrap(),
                ]);
                assert!(out.status.success(), "{}", text(&out.stderr));
            }
            let before = existing.then(|| sha256(&project));

            let mut args = vec![
                "import",
                project.to_str().unwrap(),
                input.to_str().unwrap(),
                "--on-bad-rows",
                mode,
            ];
            args.extend_from_slice(case.args);
            let (out, took) = run(&args);
            let what = format!(
                "{} with {mode} into a {} project",
                case.file,
                if existing { "used" } else { "new" }
            );
            let stdout = text(&out.stdout);
            let stderr = text(&out.stderr);
            assert!(
                !stderr.contains("panicked"),
                "{what}: panic:\n{}",
                head(&stderr, 3000)
            );
            assert!(
                !stderr.contains("memory allocation"),
                "{what}: out of memory:\n{}",
                head(&stderr, 3000)
            );
            assert!(took < TIMEOUT, "{what}: took {took:?}");

            match expect {
                Expect::Refused(words) => {
                    assert_eq!(
                        out.status.code(),
                        Some(1),
                        "{what}: should be refused; stdout:\n{}\nstderr:\n{}",
                        head(&stdout, 2000),
                        head(&stderr, 2000)
                    );
                    let line = stderr
                        .lines()
                        .find(|l| l.starts_with("error: "))
                        .unwrap_or_else(|| {
                            panic!("{what}: no error line:\n{}", head(&stderr, 2000))
                        });
                    assert!(
                        line.contains(case.file),
                        "{what}: the message should name the file: {}",
                        head(line, 500)
                    );
                    for word in words {
                        assert!(
                            line.contains(word),
                            "{what}: the message should say {word:?}: {}",
                            head(line, 500)
                        );
                    }
                    match &before {
                        // The first import into a new project failed: no project is left.
                        None => {
                            assert!(!project.exists(), "{what}: a project file was left behind")
                        }
                        Some(sha) => assert_eq!(
                            &sha256(&project),
                            sha,
                            "{what}: a refused import changed the project"
                        ),
                    }
                }
                Expect::Imported {
                    read,
                    accepted,
                    rejected,
                    reasons,
                } => {
                    assert!(
                        out.status.success(),
                        "{what}: should be imported; stderr:\n{}",
                        head(&stderr, 2000)
                    );
                    let counts = parse_counts(&stdout);
                    assert_eq!(
                        counts.accepted + counts.rejected + counts.ignored,
                        counts.read,
                        "{what}: the counts do not add up:\n{stdout}"
                    );
                    assert_eq!(
                        (counts.read, counts.accepted, counts.rejected),
                        (read, accepted, rejected),
                        "{what}:\n{stdout}"
                    );
                    for reason in reasons {
                        assert!(
                            stdout.contains(&format!("rejected ({reason})")),
                            "{what}: reason {reason:?} missing:\n{stdout}"
                        );
                    }
                    // The import log agrees with what was printed.
                    let conn = Connection::open(&project).unwrap();
                    let logged: (i64, i64, i64) = conn
                        .query_row(
                            "SELECT rows_read, rows_accepted, rows_rejected FROM imports
                             ORDER BY id DESC LIMIT 1",
                            [],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                        )
                        .unwrap();
                    let as_i64 = |n: u64| i64::try_from(n).unwrap();
                    assert_eq!(
                        logged,
                        (as_i64(read), as_i64(accepted), as_i64(rejected)),
                        "{what}: the import log"
                    );
                    // And the project opens and reports.
                    let (report, _) = run(&["report", project.to_str().unwrap(), "--by", "cohort"]);
                    assert!(
                        report.status.success(),
                        "{what}: report failed: {}",
                        head(&text(&report.stderr), 2000)
                    );
                    then(&project);
                }
            }
        }
    }
}

/// A header and these data lines.
fn csv(lines: &[&str]) -> Vec<u8> {
    let mut out = HEADER.as_bytes().to_vec();
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The user keys of a project, read with plain SQLite.
fn user_keys(project: &Path) -> Vec<String> {
    let conn = Connection::open(project).unwrap();
    let mut stmt = conn
        .prepare("SELECT key FROM user_keys ORDER BY key")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Empty and degenerate files
// ---------------------------------------------------------------------------------------

#[test]
fn empty_file_is_refused() {
    check(&Case {
        file: "empty.csv",
        bytes: Vec::new(),
        args: &[],
        abort: Expect::Refused(&["empty"]),
        skip: Expect::Refused(&["empty"]),
    });
}

#[test]
fn whitespace_only_file_is_refused() {
    check(&Case {
        file: "blank.csv",
        bytes: b"\n\r\n   \n\t\n".to_vec(),
        args: &[],
        abort: Expect::Refused(&["empty"]),
        skip: Expect::Refused(&["empty"]),
    });
}

#[test]
fn header_only_is_refused() {
    check(&Case {
        file: "header_only.csv",
        bytes: HEADER.as_bytes().to_vec(),
        args: &[],
        abort: Expect::Refused(&["nothing was imported"]),
        skip: Expect::Refused(&["nothing was imported"]),
    });
}

#[test]
fn ten_megabyte_line_without_newline_is_refused() {
    // One line of 10 MB and no newline: a single column that maps to nothing.
    check(&Case {
        file: "one_line.csv",
        bytes: vec![b'x'; TEN_MB],
        args: &[],
        abort: Expect::Refused(&["cannot tell which columns"]),
        skip: Expect::Refused(&["cannot tell which columns"]),
    });
}

#[test]
fn ten_megabyte_header_without_newline_is_refused() {
    // A good header whose last column goes on for 10 MB: no data rows.
    let mut bytes = b"user_id,session_start,duration,".to_vec();
    bytes.extend(std::iter::repeat_n(b'c', TEN_MB));
    check(&Case {
        file: "long_header.csv",
        bytes,
        args: &[],
        abort: Expect::Refused(&["nothing was imported"]),
        skip: Expect::Refused(&["nothing was imported"]),
    });
}

#[test]
fn ten_megabyte_value_without_newline_is_refused_with_its_line() {
    let mut bytes = csv(&[]);
    bytes.extend_from_slice(b"u1,2024-01-01 10:00:00,");
    bytes.extend(std::iter::repeat_n(b'9', TEN_MB));
    check(&Case {
        file: "long_value.csv",
        bytes,
        args: &[],
        abort: Expect::Refused(&["line 2", "bad duration"]),
        skip: Expect::Refused(&["line 2", "bad duration"]),
    });
}

#[test]
fn ten_megabyte_quoted_field_that_never_closes_is_a_bad_row() {
    // Line 3 opens a quote that runs to the end of the file: one field of 10 MB.
    let mut bytes = csv(&["u1,2024-01-01 10:00:00,60"]);
    bytes.extend_from_slice(b"u2,\"");
    bytes.extend(std::iter::repeat_n(b'y', TEN_MB));
    check(&Case {
        file: "open_quote.csv",
        bytes,
        args: &[],
        abort: Expect::Refused(&["line 3", "wrong number of fields"]),
        skip: Expect::Imported {
            read: 2,
            accepted: 1,
            rejected: 1,
            reasons: &["wrong number of fields"],
        },
    });
}

#[test]
fn a_quote_that_never_closes_names_the_lines_it_took() {
    // Line 3 opens a quote in its first field, and the rows after it become that field.
    check(&Case {
        file: "stray_quote.csv",
        bytes: csv(&[
            "u1,2024-01-01 10:00:00,60",
            "\"u2,2024-01-01 10:00:00,60",
            "u3,2024-01-01 11:00:00,60",
            "u4,2024-01-01 12:00:00,60",
        ]),
        args: &[],
        abort: Expect::Refused(&["line 3", "unclosed quote", "lines 3 to 5"]),
        skip: Expect::Imported {
            read: 2,
            accepted: 1,
            rejected: 1,
            reasons: &["unclosed quote"],
        },
    });
}

#[test]
fn a_quote_in_the_last_field_that_takes_rows_is_no_row() {
    // The quote opened on line 3 closes at the end of line 5: a record of the right width
    // whose last field holds two rows, which would otherwise be one session of "60".
    check(&Case {
        file: "late_quote.csv",
        bytes: csv(&[
            "u1,2024-01-01 10:00:00,60",
            "u2,2024-01-01 10:00:00,\"60",
            "u3,2024-01-01 11:00:00,60",
            "u4,2024-01-01 12:00:00,60\"",
            "u5,2024-01-01 13:00:00,60",
        ]),
        args: &[],
        abort: Expect::Refused(&["line 3", "unclosed quote", "lines 3 to 5"]),
        skip: Expect::Imported {
            read: 3,
            accepted: 2,
            rejected: 1,
            reasons: &["unclosed quote"],
        },
    });
}

#[test]
fn a_file_with_no_readable_row_names_every_reason_with_its_count() {
    // Most rows lack a start, which says little; two have one in a format we do not
    // read, which says what is wrong. Both reasons are told, the larger first.
    check(&Case {
        file: "unreadable.csv",
        bytes: csv(&[
            "u1,,60",
            "u2,11/8/2017 2:22,60",
            "u3,,60",
            "u4,,60",
            "u5,11/9/2017 3:10,60",
        ]),
        args: &[],
        abort: Expect::Refused(&["line 2", "missing session start"]),
        skip: Expect::Refused(&[
            "none of its 5 rows could be read",
            "3 rows: missing session start, first on line 2",
            "2 rows: bad timestamp, first on line 3",
            "11/8/2017 2:22",
        ]),
    });
}

/// The messages of the 10 MB cases: one line a person can read, not the 10 MB echoed.
#[test]
fn ten_megabyte_inputs_give_a_short_message() {
    let dir = tempfile::tempdir().unwrap();
    let one_line = dir.path().join("one_line.csv");
    fs::write(&one_line, vec![b'x'; TEN_MB]).unwrap();
    let long_value = dir.path().join("long_value.csv");
    let mut bytes = csv(&[]);
    bytes.extend_from_slice(b"u1,2024-01-01 10:00:00,");
    bytes.extend(std::iter::repeat_n(b'9', TEN_MB));
    fs::write(&long_value, bytes).unwrap();
    for file in [&one_line, &long_value] {
        for mode in ["abort", "skip"] {
            let project = dir.path().join("p.cohort");
            let (out, _) = run(&[
                "import",
                project.to_str().unwrap(),
                file.to_str().unwrap(),
                "--on-bad-rows",
                mode,
            ]);
            assert_eq!(out.status.code(), Some(1));
            assert!(
                out.stderr.len() < 4096,
                "{} with {mode}: {} bytes on stderr: {}...",
                file.display(),
                out.stderr.len(),
                head(&text(&out.stderr), 300)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Encodings and control bytes
// ---------------------------------------------------------------------------------------

#[test]
fn windows_1252_text_is_refused_with_its_line_never_mangled() {
    // "José" in Windows-1252: 0xE9 is no UTF-8.
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(b"Jos\xe9,2024-01-01 10:00:00,60\n");
    bytes.extend_from_slice(b"u2,2024-01-01 11:00:00,60\n");
    check_then(
        &Case {
            file: "cp1252.csv",
            bytes,
            args: &[],
            abort: Expect::Refused(&["line 2", "UTF-8"]),
            skip: Expect::Imported {
                read: 2,
                accepted: 1,
                rejected: 1,
                reasons: &["invalid UTF-8"],
            },
        },
        |project| {
            let keys = user_keys(project);
            assert!(
                keys.iter()
                    .all(|k| !k.contains('\u{FFFD}') && !k.starts_with("Jos")),
                "{}: a mangled user: {keys:?}",
                project.display()
            );
            assert!(keys.contains(&"u2".to_owned()));
        },
    );
}

#[test]
fn windows_1252_header_is_refused_naming_line_1() {
    let bytes = b"user_id,session_start,dur\xe9e\nu1,2024-01-01 10:00:00,60\n".to_vec();
    check(&Case {
        file: "cp1252_header.csv",
        bytes,
        args: &[],
        abort: Expect::Refused(&["line 1", "UTF-8"]),
        skip: Expect::Refused(&["line 1", "UTF-8"]),
    });
}

#[test]
fn windows_1252_json_line_is_a_bad_row() {
    let bytes = b"{\"user_id\":\"u1\",\"session_start\":\"2024-01-01 10:00:00\"}\n\
{\"user_id\":\"Jos\xe9\",\"session_start\":\"2024-01-01 10:00:00\"}\n"
        .to_vec();
    check(&Case {
        file: "cp1252.jsonl",
        bytes,
        args: &[],
        abort: Expect::Refused(&["line 2", "UTF-8"]),
        skip: Expect::Imported {
            read: 2,
            accepted: 1,
            rejected: 1,
            reasons: &["invalid JSON"],
        },
    });
}

#[test]
fn nul_bytes_are_kept_exactly_or_rejected_never_truncated() {
    // Lines 2 and 3: user ids with a NUL inside, which differ after it. Line 4: a NUL
    // inside the timestamp, which is no timestamp.
    let bytes = csv(&[
        "u\u{0}1,2024-01-01 10:00:00,60",
        "u\u{0}2,2024-01-01 10:00:00,60",
        "u3,2024-01-01\u{0}10:00:00,60",
    ]);
    check_then(
        &Case {
            file: "nul.csv",
            bytes,
            args: &[],
            abort: Expect::Refused(&["line 4", "bad timestamp"]),
            skip: Expect::Imported {
                read: 3,
                accepted: 2,
                rejected: 1,
                reasons: &["bad timestamp"],
            },
        },
        |project| {
            let keys = user_keys(project);
            // Two distinct users, their ids kept to the byte (a C string would cut at NUL
            // and make them one user "u").
            assert!(keys.contains(&"u\u{0}1".to_owned()), "{keys:?}");
            assert!(keys.contains(&"u\u{0}2".to_owned()), "{keys:?}");
            assert!(!keys.contains(&"u".to_owned()), "{keys:?}");
        },
    );
}

// ---------------------------------------------------------------------------------------
// Row shape
// ---------------------------------------------------------------------------------------

#[test]
fn rows_with_too_many_and_too_few_fields_are_rejected_with_their_line() {
    check(&Case {
        file: "fields.csv",
        bytes: csv(&[
            "u1,2024-01-01 10:00:00,60,surplus",
            "u2,2024-01-01 10:00:00",
            "u3,2024-01-01 10:00:00,60",
            "",
            "u4",
        ]),
        args: &[],
        abort: Expect::Refused(&["line 2", "wrong number of fields", "found 4"]),
        skip: Expect::Imported {
            read: 4,
            accepted: 1,
            rejected: 3,
            reasons: &["wrong number of fields"],
        },
    });
}

// ---------------------------------------------------------------------------------------
// Times and numbers at and past their limits
// ---------------------------------------------------------------------------------------

#[test]
fn years_0000_and_9999_are_rejected_as_placeholder_dates() {
    // Nothing an app measured predates 1970; 0000 and 9999 are placeholders. Taken as
    // dates they would move the data end to the year 10000 and make every cohort mature.
    check_then(
        &Case {
            file: "years.csv",
            bytes: csv(&[
                "u1,0000-01-01 00:00:00,60",
                "u1,9999-12-31 23:59:59,60",
                "u2,2024-01-01 10:00:00,60",
            ]),
            args: &[],
            abort: Expect::Refused(&["line 2", "timestamp out of range"]),
            skip: Expect::Imported {
                read: 3,
                accepted: 1,
                rejected: 2,
                reasons: &["timestamp out of range"],
            },
        },
        |project| {
            report_every_way(project);
        },
    );
}

#[test]
fn years_0000_and_9999_with_offsets_are_rejected_too() {
    check(&Case {
        file: "years_offset.csv",
        bytes: csv(&[
            "u1,0000-01-01T00:00:00+14:00,60",
            "u1,9999-12-31T23:59:59-14:00,60",
            "u2,2024-01-01T10:00:00+01:00,60",
        ]),
        args: &[],
        abort: Expect::Refused(&["line 2", "timestamp out of range"]),
        skip: Expect::Imported {
            read: 3,
            accepted: 1,
            rejected: 2,
            reasons: &["timestamp out of range"],
        },
    });
}

#[test]
fn epoch_values_at_the_edge_of_the_calendar_are_rejected() {
    // Microseconds (above 1e14) of about +-258,000 years: chrono could hold them, but no
    // app measured them.
    check_then(
        &Case {
            file: "edge_epoch.csv",
            bytes: csv(&[
                "u1,8100000000000000000,60",
                "u1,-8100000000000000000,60",
                "u2,1700000000000000,60",
            ]),
            args: &[],
            abort: Expect::Refused(&["line 2", "timestamp out of range"]),
            skip: Expect::Imported {
                read: 3,
                accepted: 1,
                rejected: 2,
                reasons: &["timestamp out of range"],
            },
        },
        |project| {
            report_every_way(project);
        },
    );
}

/// `report` in every grouping and grain works (and so does CSV).
fn report_every_way(project: &Path) {
    let p = project.to_str().unwrap();
    for by in ["none", "cohort", "channel"] {
        for grain in ["day", "week", "month"] {
            for format in ["json", "csv"] {
                let (out, _) = run(&[
                    "report",
                    p,
                    "--by",
                    by,
                    "--grain",
                    grain,
                    "--format",
                    format,
                    "--days",
                    "0,1,7,30,365",
                ]);
                assert!(
                    out.status.success(),
                    "report --by {by} --grain {grain} --format {format}: {}",
                    head(&text(&out.stderr), 2000)
                );
            }
        }
    }
}

#[test]
fn epoch_values_that_overflow_are_rejected_with_their_line() {
    // The first value decides the unit (seconds); later ones too big for any unit, or in
    // another notation, do not fit.
    check(&Case {
        file: "epoch_overflow.csv",
        bytes: csv(&[
            "u1,1700000000,60",
            "u2,99999999999999999999,60",
            "u3,-99999999999999999999,60",
            "u4,1e30,60",
            "u5,18446744073709551616,60",
        ]),
        args: &[],
        abort: Expect::Refused(&["line 3", "bad timestamp"]),
        skip: Expect::Imported {
            read: 5,
            accepted: 1,
            rejected: 4,
            reasons: &["bad timestamp"],
        },
    });
}

#[test]
fn an_overflowing_first_epoch_value_is_rejected_and_the_unit_it_chose_is_shown() {
    // CLI.md: the first non-empty value decides the unit, even one that cannot be read;
    // here it makes the column microseconds, which the summary must say.
    check(&Case {
        file: "epoch_first.csv",
        bytes: csv(&["u1,99999999999999999999,60", "u2,1700000000000000,60"]),
        args: &[],
        abort: Expect::Refused(&["line 2", "bad timestamp"]),
        skip: Expect::Imported {
            read: 2,
            accepted: 1,
            rejected: 1,
            reasons: &["bad timestamp"],
        },
    });
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("epoch_first.csv");
    fs::write(
        &input,
        csv(&["u1,99999999999999999999,60", "u2,1700000000000000,60"]),
    )
    .unwrap();
    let project = dir.path().join("p.cohort");
    let (out, _) = run(&[
        "import",
        project.to_str().unwrap(),
        input.to_str().unwrap(),
        "--on-bad-rows",
        "skip",
    ]);
    assert!(
        text(&out.stdout).contains("read as Unix microseconds"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn negative_nan_infinite_and_absurd_durations_are_rejected_with_their_line() {
    check(&Case {
        file: "durations.csv",
        bytes: csv(&[
            "u1,2024-01-01 10:00:00,-5",
            "u2,2024-01-01 10:00:00,NaN",
            "u3,2024-01-01 10:00:00,nan",
            "u4,2024-01-01 10:00:00,inf",
            "u5,2024-01-01 10:00:00,-inf",
            "u6,2024-01-01 10:00:00,1e400",
            "u7,2024-01-01 10:00:00,99999999999999999999",
            "u8,2024-01-01 10:00:00,ten",
            "u9,2024-01-01 10:00:00,5",
        ]),
        args: &[],
        abort: Expect::Refused(&["line 2", "negative duration"]),
        skip: Expect::Imported {
            read: 9,
            accepted: 1,
            rejected: 8,
            reasons: &["negative duration", "bad duration"],
        },
    });
}

#[test]
fn session_end_before_start_and_in_year_0_are_rejected() {
    check(&Case {
        file: "ends.csv",
        bytes: b"user_id,session_start,session_end\n\
u1,2024-01-01 10:00:00,2024-01-01 09:00:00\n\
u2,2024-01-01 10:00:00,0000-01-01 00:00:00\n\
u3,2024-01-01 10:00:00,2024-01-01 10:05:00\n"
            .to_vec(),
        args: &[],
        abort: Expect::Refused(&["line 2", "end before start"]),
        skip: Expect::Imported {
            read: 3,
            accepted: 1,
            rejected: 2,
            reasons: &["end before start"],
        },
    });
}

// ---------------------------------------------------------------------------------------
// Compressed and JSON-lines files
// ---------------------------------------------------------------------------------------

fn many_rows(n: usize) -> Vec<u8> {
    let lines: Vec<String> = (0..n)
        .map(|i| format!("g{i},2024-01-{:02} 10:00:00,{}", 1 + i % 28, i % 600))
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    csv(&refs)
}

#[test]
fn bad_rows_deep_in_a_long_file_are_named_by_their_line() {
    // Rows are read in batches of about a thousand: these fall in the third and fifth.
    let mut lines: Vec<String> = (0..5000)
        .map(|i| format!("g{i},2024-01-{:02} 10:00:00,{}", 1 + i % 28, i % 600))
        .collect();
    lines[2999] = "g2999,soon,60".to_owned();
    lines[4499] = "g4499,2024-01-01 10:00:00,-5".to_owned();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    check(&Case {
        file: "long.csv",
        bytes: csv(&refs),
        args: &[],
        // The header is line 1: row 3000 is on line 3001.
        abort: Expect::Refused(&["line 3001", "bad timestamp"]),
        skip: Expect::Imported {
            read: 5000,
            accepted: 4998,
            rejected: 2,
            reasons: &["bad timestamp", "negative duration"],
        },
    });
}

#[test]
fn truncated_gzip_is_refused_whole() {
    // Cut in the middle of the compressed rows: some rows could be read before the cut,
    // but a file that ends early is refused whole, with skip too.
    let full = gzip(&many_rows(5000));
    check(&Case {
        file: "truncated.csv.gz",
        bytes: full[..full.len() / 2].to_vec(),
        args: &[],
        abort: Expect::Refused(&[]),
        skip: Expect::Refused(&[]),
    });
}

#[test]
fn gzip_cut_inside_its_header_is_refused() {
    let full = gzip(&many_rows(10));
    check(&Case {
        file: "cut.csv.gz",
        bytes: full[..12].to_vec(),
        args: &[],
        abort: Expect::Refused(&[]),
        skip: Expect::Refused(&[]),
    });
}

#[test]
fn gzip_with_a_corrupt_body_is_refused() {
    let mut bytes = gzip(&many_rows(2000));
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b ^= 0x5a;
    }
    check(&Case {
        file: "corrupt.csv.gz",
        bytes,
        args: &[],
        abort: Expect::Refused(&[]),
        skip: Expect::Refused(&[]),
    });
}

#[test]
fn truncated_gzip_message_names_no_line_0() {
    let dir = tempfile::tempdir().unwrap();
    let full = gzip(&many_rows(5000));
    let input = dir.path().join("truncated.csv.gz");
    fs::write(&input, &full[..full.len() / 2]).unwrap();
    let project = dir.path().join("p.cohort");
    let (out, _) = run(&["import", project.to_str().unwrap(), input.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr.contains("line 0"), "{stderr}");
}

#[test]
fn json_lines_with_a_broken_line_reject_that_line() {
    // Line 2 is cut inside a string, line 4 is an array, line 5 ends the file inside
    // its object (no newline): three bad rows; lines 1 and 3 are read.
    check(&Case {
        file: "broken.jsonl",
        bytes: b"{\"user_id\":\"j1\",\"session_start\":\"2024-01-01 10:00:00\",\"duration\":60}\n\
{\"user_id\":\"j2\",\"session_start\":\"2024-01-0\n\
{\"user_id\":\"j3\",\"session_start\":\"2024-01-01 11:00:00\",\"duration\":60}\n\
[1,2,3]\n\
{\"user_id\":\"j4\",\"session_start\":\"2024-01-01 12:00:00\",\"duration\":6"
            .to_vec(),
        args: &[],
        abort: Expect::Refused(&["line 2", "invalid JSON"]),
        skip: Expect::Imported {
            read: 5,
            accepted: 2,
            rejected: 3,
            reasons: &["invalid JSON"],
        },
    });
}

#[test]
fn json_line_nested_too_deep_is_a_bad_row_not_a_stack_overflow() {
    let mut bytes =
        b"{\"user_id\":\"j1\",\"session_start\":\"2024-01-01 10:00:00\"}\n{\"user_id\":\"j2\",\"a\":"
            .to_vec();
    bytes.extend(std::iter::repeat_n(b'[', 200_000));
    bytes.extend(std::iter::repeat_n(b']', 200_000));
    bytes.extend_from_slice(b"}\n");
    // Objects nested just below serde_json's limit are flattened into long dotted names.
    bytes
        .extend_from_slice(b"{\"user_id\":\"j3\",\"session_start\":\"2024-01-01 11:00:00\",\"n\":");
    bytes.extend(std::iter::repeat_n(&b"{\"k\":"[..], 100).flatten());
    bytes.extend_from_slice(b"1");
    bytes.extend(std::iter::repeat_n(b'}', 101));
    bytes.push(b'\n');
    check(&Case {
        file: "deep.jsonl",
        bytes,
        args: &[],
        abort: Expect::Refused(&["line 2", "invalid JSON"]),
        skip: Expect::Imported {
            read: 3,
            accepted: 2,
            rejected: 1,
            reasons: &["invalid JSON"],
        },
    });
}

#[test]
fn gzip_of_json_lines_truncated_is_refused() {
    let mut jsonl = Vec::new();
    for i in 0..3000 {
        writeln!(
            jsonl,
            "{{\"user_id\":\"j{i}\",\"session_start\":\"2024-01-01 10:00:00\",\"duration\":{i}}}"
        )
        .unwrap();
    }
    let full = gzip(&jsonl);
    check(&Case {
        file: "truncated.jsonl.gz",
        bytes: full[..full.len() * 2 / 3].to_vec(),
        args: &[],
        abort: Expect::Refused(&[]),
        skip: Expect::Refused(&[]),
    });
}

// ---------------------------------------------------------------------------------------
// Not input files, but the same promise: a typo on the command line never eats memory.
// ---------------------------------------------------------------------------------------

#[test]
fn report_with_a_huge_day_number_is_refused_or_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("base.csv");
    fs::write(&input, BASE).unwrap();
    let project = dir.path().join("p.cohort");
    let (out, _) = run(&["import", project.to_str().unwrap(), input.to_str().unwrap()]);
    assert!(out.status.success());
    for days in ["0,1,1000000000", "4294967295"] {
        let (out, took) = run(&["report", project.to_str().unwrap(), "--days", days]);
        let stderr = text(&out.stderr);
        assert!(
            out.status.code().is_some(),
            "--days {days}: killed by a signal: {}",
            head(&stderr, 300)
        );
        assert!(
            !stderr.contains("memory allocation"),
            "--days {days}: {}",
            head(&stderr, 300)
        );
        assert!(
            !stderr.contains("panicked"),
            "--days {days}: {}",
            head(&stderr, 300)
        );
        assert!(
            took < Duration::from_secs(10),
            "--days {days}: took {took:?}"
        );
        if !out.status.success() {
            assert!(stderr.contains("--days"), "--days {days}: {stderr}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Text timestamps at the edge of the calendar
// ---------------------------------------------------------------------------------------

/// The years chrono can hold run from -262143 to +262142; epoch values are refused beyond
/// +-8.2e15 ms (about +-261,800 years), and text timestamps must be refused there too:
/// with a zone offset they overflow while being read, and a session near the edge makes
/// `report --grain week` and other zones overflow afterwards.
#[test]
fn text_timestamps_beyond_the_calendar_are_rejected_with_their_line() {
    // (zone arguments, a first row that sets the column's format, the edge row)
    let cases: [(&'static [&'static str], &str, &str); 6] = [
        (
            &["--tz", "Asia/Kolkata"],
            "u1,2024-01-01 10:00:00,60",
            "u2,-262143-01-01 00:00:00,60",
        ),
        (
            &["--tz", "Asia/Kolkata"],
            "u1,2024-01-01,60",
            "u2,-262143-01-01,60",
        ),
        (
            &["--tz", "America/New_York"],
            "u1,2024-01-01 10:00:00,60",
            "u2,+262142-12-31 23:59:59,60",
        ),
        (
            &[],
            "u1,2024-01-01 10:00:00,60",
            "u2,-262143-01-01 00:00:00,60",
        ),
        (
            &[],
            "u1,2024-01-01 10:00:00,60",
            "u2,+262142-12-31 23:59:59,60",
        ),
        (
            &[],
            "u1,2024-01-01T10:00:00+00:00,60",
            "u2,-262143-01-01T00:00:00+14:00,60",
        ),
    ];
    for (args, first, edge) in cases {
        check(&Case {
            file: "edge_text.csv",
            bytes: csv(&[first, edge]),
            args,
            abort: Expect::Refused(&["line 3", "timestamp out of range"]),
            skip: Expect::Imported {
                read: 2,
                accepted: 1,
                rejected: 1,
                reasons: &["timestamp out of range"],
            },
        });
    }
    // The same instants given to `settings --data-end` are refused, not a panic.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("base.csv");
    fs::write(&input, BASE).unwrap();
    let project = dir.path().join("p.cohort");
    let p = project.to_str().unwrap();
    let (out, _) = run(&["import", p, input.to_str().unwrap()]);
    assert!(out.status.success());
    for (tz, end) in [
        ("Asia/Kolkata", "--data-end=-262143-01-01"),
        ("America/New_York", "--data-end=+262142-12-31T23:00:00"),
    ] {
        let (out, _) = run(&["settings", p, "--tz", tz, end]);
        let stderr = text(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "{end} in {tz}: {}",
            head(&stderr, 300)
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{end} in {tz}: should be refused"
        );
    }
}
