//! Timestamp columns: the format is decided once per column by its first non-empty value
//! (SPEC section 3), and every later value must have that format.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use crate::time::{in_range, local_to_utc_ms};

/// How the values of one column are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    EpochSeconds,
    EpochMillis,
    /// Firebase / GA4 `event_timestamp`. CLI.md only tells seconds from milliseconds;
    /// values above 1e14 cannot be milliseconds of any plausible date (year 5138 and on).
    EpochMicros,
    /// A date and time with an offset or `Z`; `pattern` is for chrono.
    WithOffset(&'static str),
    /// A wall-clock time, read in the file's declared zone.
    Local(&'static str),
    /// A date alone: its midnight in the declared zone.
    Date,
}

const OFFSET_PATTERNS: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
];

const LOCAL_PATTERNS: [&str; 6] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S%.f",
    "%Y/%m/%d %H:%M",
];

/// `YYYY-MM-DD HH:MM:SS` (or with `T`), the shape of most exports, read without chrono's
/// pattern matching: millions of rows spend most of their parsing time here. Anything
/// else, a leap second included, is left to the patterns.
fn plain_date_time(value: &str) -> Option<NaiveDateTime> {
    let b = value.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(0, 4)?).ok()?,
        number(5, 7)?,
        number(8, 10)?,
    )?;
    date.and_hms_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?)
}

impl TimeFormat {
    /// The format of a first value, or `None` when it is no timestamp we read.
    pub fn detect(value: &str) -> Option<Self> {
        let value = value.trim();
        if is_number(value) {
            let magnitude = value.parse::<f64>().ok()?.abs();
            return Some(if magnitude > 1e14 {
                Self::EpochMicros
            } else if magnitude > 1e11 {
                Self::EpochMillis
            } else {
                Self::EpochSeconds
            });
        }
        let with_offset = utc_suffix_to_offset(value);
        if let Some(pattern) = OFFSET_PATTERNS
            .into_iter()
            .find(|p| DateTime::parse_from_str(&with_offset, p).is_ok())
        {
            return Some(Self::WithOffset(pattern));
        }
        if let Some(pattern) = LOCAL_PATTERNS
            .into_iter()
            .find(|p| NaiveDateTime::parse_from_str(value, p).is_ok())
        {
            return Some(Self::Local(pattern));
        }
        NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .ok()
            .map(|_| Self::Date)
    }

    /// Reads a value of this format as UTC milliseconds.
    pub fn parse(self, value: &str, tz: Tz) -> Option<i64> {
        let value = value.trim();
        match self {
            // A value whose size belongs to another unit does not fit the column.
            Self::EpochSeconds => scale_epoch(value, 1000.0, 1e11),
            Self::EpochMillis => scale_epoch(value, 1.0, 1e14),
            Self::EpochMicros => scale_epoch(value, 0.001, f64::INFINITY),
            // ISO 8601 allows `T` or a space, with or without seconds: one family each
            // for values with an offset and for wall-clock times, never mixed.
            Self::WithOffset(_) => {
                // The common `...T12:00:00Z` needs no pattern matching.
                if let Some(utc) = value.strip_suffix('Z').and_then(plain_date_time) {
                    return Some(utc.and_utc().timestamp_millis());
                }
                let value = utc_suffix_to_offset(value);
                OFFSET_PATTERNS
                    .iter()
                    .find_map(|p| DateTime::parse_from_str(&value, p).ok())
                    .map(|t| t.timestamp_millis())
            }
            Self::Local(_) => plain_date_time(value)
                .or_else(|| {
                    LOCAL_PATTERNS
                        .iter()
                        .find_map(|p| NaiveDateTime::parse_from_str(value, p).ok())
                })
                .and_then(|local| local_to_utc_ms(local, tz)),
            Self::Date => NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| local_to_utc_ms(d.and_time(chrono::NaiveTime::MIN), tz)),
        }
    }

    /// How the format reads to a person, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::EpochSeconds => "Unix seconds",
            Self::EpochMillis => "Unix milliseconds",
            Self::EpochMicros => "Unix microseconds",
            Self::WithOffset(_) => "date and time with offset",
            Self::Local(_) => "YYYY-MM-DD HH:MM[:SS] without offset",
            Self::Date => "YYYY-MM-DD",
        }
    }
}

fn is_number(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next().unwrap_or("0");
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && !fraction.is_empty()
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Epoch value times `to_millis`, refused when it is no number, larger than `max` for
/// its unit, or out of chrono's range.
fn scale_epoch(value: &str, to_millis: f64, max: f64) -> Option<i64> {
    if !is_number(value) {
        return None;
    }
    let number = value.parse::<f64>().ok()?;
    if number.abs() > max {
        return None;
    }
    let millis = (number * to_millis).round();
    // chrono's range, about +-262,000 years, is the widest any date can be shown in.
    const LIMIT: f64 = 8.2e15;
    if !millis.is_finite() || millis.abs() > LIMIT {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)] // bounded just above
    Some(millis as i64)
}

/// `-262143-01-01`, `+10000-01-01`: a year no four-digit calendar date has.
fn signed_or_long_year(value: &str) -> bool {
    let value = value.trim();
    let unsigned = value.trim_start_matches(['+', '-']);
    // A date has a `-` after its year; a bare number is an epoch value, judged by its unit.
    let Some((year, _)) = unsigned.split_once('-') else {
        return false;
    };
    year.bytes().all(|b| b.is_ascii_digit()) && (value.starts_with(['+', '-']) || year.len() > 4)
}

/// `…Z` and `… UTC` both mean offset zero.
fn utc_suffix_to_offset(value: &str) -> String {
    if let Some(head) = value.strip_suffix('Z').or_else(|| value.strip_suffix('z')) {
        format!("{head}+00:00")
    } else if let Some(head) = value.strip_suffix(" UTC") {
        format!("{head}+00:00")
    } else {
        value.to_owned()
    }
}

/// Parses one column's values, deciding the format at the first non-empty value.
#[derive(Clone, Debug, Default)]
pub struct TimeColumn {
    format: Option<TimeFormat>,
    /// The last value read and its result: exports repeat a user's install time on
    /// every row of theirs, one after another.
    last: Option<(String, Tz, i64)>,
}

impl TimeColumn {
    pub fn format(&self) -> Option<TimeFormat> {
        self.format
    }

    /// The value as UTC milliseconds, or the reason and detail of why it cannot be read.
    pub fn read(&mut self, value: &str, tz: Tz) -> Result<i64, (&'static str, String)> {
        if let Some((text, last_tz, ms)) = &self.last {
            if text == value && *last_tz == tz {
                return Ok(*ms);
            }
        }
        let ms = self.parse(value, tz)?;
        let last = self.last.get_or_insert_with(|| (String::new(), tz, ms));
        last.0.clear();
        last.0.push_str(value);
        (last.1, last.2) = (tz, ms);
        Ok(ms)
    }

    fn parse(&mut self, value: &str, tz: Tz) -> Result<i64, (&'static str, String)> {
        // Only a rejection spells the value out.
        let shown = || crate::import::shorten(value);
        let format = match self.format {
            Some(format) => format,
            None => {
                let format = TimeFormat::detect(value).ok_or_else(|| {
                    (
                        "bad timestamp",
                        format!("{} is not a timestamp we can read", shown()),
                    )
                })?;
                self.format = Some(format);
                format
            }
        };
        let out_of_range = || {
            (
                "timestamp out of range",
                format!(
                    "{} is outside 1970-01-01 to 2099-12-31 (a placeholder date?)",
                    shown()
                ),
            )
        };
        match format.parse(value, tz) {
            Some(ms) if in_range(ms) => Ok(ms),
            Some(_) => Err(out_of_range()),
            // At the calendar's edge a zone's offset overflows; in UTC it still reads.
            None if format.parse(value, chrono_tz::UTC).is_some() || signed_or_long_year(value) => {
                Err(out_of_range())
            }
            None => Err((
                "bad timestamp",
                format!(
                    "{} does not match the column's format ({})",
                    shown(),
                    format.describe()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_utc;

    fn read(column: &mut TimeColumn, value: &str) -> Result<String, String> {
        column
            .read(value, chrono_tz::UTC)
            .map(format_utc)
            .map_err(|(_, detail)| detail)
    }

    #[test]
    fn epoch_unit_is_decided_by_the_first_value() {
        let mut seconds = TimeColumn::default();
        assert_eq!(
            read(&mut seconds, "1420070400").as_deref(),
            Ok("2015-01-01T00:00:00Z")
        );
        // A later millisecond value in a seconds column is read as seconds, never guessed.
        assert!(read(&mut seconds, "1420070400000").is_err());

        let mut millis = TimeColumn::default();
        assert_eq!(
            read(&mut millis, "1420070400500").as_deref(),
            Ok("2015-01-01T00:00:00.500Z")
        );
        assert_eq!(
            read(&mut millis, "1420070401000").as_deref(),
            Ok("2015-01-01T00:00:01Z")
        );

        let mut micros = TimeColumn::default();
        assert_eq!(
            read(&mut micros, "1528932121080006").as_deref(),
            Ok("2018-06-13T23:22:01.080Z")
        );
    }

    #[test]
    fn text_formats_and_offsets() {
        let mut column = TimeColumn::default();
        assert_eq!(
            read(&mut column, "2015-01-01 01:45:33").as_deref(),
            Ok("2015-01-01T01:45:33Z")
        );
        assert_eq!(
            read(&mut column, "2015-01-01 01:45:33.250").as_deref(),
            Ok("2015-01-01T01:45:33.250Z")
        );
        assert!(read(&mut column, "01/01/2015 01:45").is_err());

        let mut offset = TimeColumn::default();
        assert_eq!(
            read(&mut offset, "2018-06-13 23:22:01.080006+02:00").as_deref(),
            Ok("2018-06-13T21:22:01.080Z")
        );
        assert_eq!(
            read(&mut offset, "2018-06-13T23:22:01Z").as_deref(),
            Ok("2018-06-13T23:22:01Z")
        );
    }

    #[test]
    fn local_times_are_read_in_the_declared_zone() {
        let mut column = TimeColumn::default();
        let ms = column.read("2024-07-01 12:00:00", chrono_tz::America::New_York);
        assert_eq!(ms.map(format_utc), Ok("2024-07-01T16:00:00Z".to_owned()));
    }

    #[test]
    fn a_repeated_value_reads_the_same_and_a_new_zone_reads_anew() {
        let mut column = TimeColumn::default();
        let new_york = chrono_tz::America::New_York;
        let first = column.read("2024-07-01 12:00:00", new_york);
        assert_eq!(column.read("2024-07-01 12:00:00", new_york), first);
        // Same text in another zone: four hours apart, not the remembered value.
        let utc = column
            .read("2024-07-01 12:00:00", chrono_tz::UTC)
            .map(format_utc);
        assert_eq!(utc, Ok("2024-07-01T12:00:00Z".to_owned()));
        // A bad value after a good one is still refused, and the good one still reads.
        assert!(column.read("2024-07-01 12:00:00x", chrono_tz::UTC).is_err());
        let again = column
            .read("2024-07-01 12:00:00", chrono_tz::UTC)
            .map(format_utc);
        assert_eq!(again, Ok("2024-07-01T12:00:00Z".to_owned()));
    }

    #[test]
    fn absurd_values_are_refused() {
        assert!(TimeColumn::default()
            .read("99999999999999999999999", chrono_tz::UTC)
            .is_err());
        assert!(TimeColumn::default().read("soon", chrono_tz::UTC).is_err());
        assert!(TimeColumn::default().read("NaN", chrono_tz::UTC).is_err());
    }

    #[test]
    fn the_plain_shape_reads_as_the_patterns_do() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        for value in [
            "2024-03-31 02:30:00", // in the spring gap
            "2024-10-27 02:30:00", // in the repeated hour
            "2024-02-29T23:59:59",
            "2023-02-29 10:00:00", // no such date
            "2024-12-31 23:59:60", // a leap second: chrono's patterns decide
            "2024-1-01 10:00:00",
        ] {
            let by_patterns = LOCAL_PATTERNS
                .iter()
                .find_map(|p| NaiveDateTime::parse_from_str(value, p).ok())
                .and_then(|local| local_to_utc_ms(local, tz));
            assert_eq!(
                TimeFormat::Local("").parse(value, tz),
                by_patterns,
                "{value}"
            );
            let utc = LOCAL_PATTERNS
                .iter()
                .find_map(|p| NaiveDateTime::parse_from_str(value, p).ok())
                .map(|local| local.and_utc().timestamp_millis());
            assert_eq!(
                TimeFormat::Local("").parse(value, chrono_tz::UTC),
                utc,
                "{value}"
            );
        }
    }
}
