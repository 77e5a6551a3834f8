//! Conversions between UTC instants (milliseconds) and calendar dates in a time zone.
//!
//! One place for the daylight-saving rules of SPEC section 5 and CLI.md: a local time that
//! occurs twice is the earlier instant; one that does not exist is read with the offset in
//! force before the change.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// The first instant we accept in imported data: nothing an app measured predates Unix
/// time, and a year like 0 or 9999 is a placeholder, not a date.
pub const EARLIEST_MS: i64 = 0;
/// 2100-01-01T00:00:00Z, the end of the accepted range.
pub const LATEST_MS: i64 = 4_102_444_800_000;

/// Whether an instant lies in the accepted range.
pub fn in_range(ms: i64) -> bool {
    (EARLIEST_MS..LATEST_MS).contains(&ms)
}

/// The UTC instant of a wall-clock time in `tz`; `None` at the edges of the calendar.
pub fn local_to_utc_ms(local: NaiveDateTime, tz: Tz) -> Option<i64> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => Some(t.timestamp_millis()),
        chrono::LocalResult::Ambiguous(a, b) => {
            Some(a.timestamp_millis().min(b.timestamp_millis()))
        }
        chrono::LocalResult::None => {
            // In a gap: a day earlier is safely before the change in every real zone.
            let before = local.checked_sub_signed(Duration::days(1))?;
            let offset = tz.offset_from_utc_datetime(&before).fix();
            local
                .checked_sub_signed(Duration::seconds(i64::from(offset.local_minus_utc())))
                .map(|t| t.and_utc().timestamp_millis())
        }
    }
}

/// The calendar date of an instant in `tz`.
pub fn local_date(ms: i64, tz: Tz) -> NaiveDate {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(utc) => utc.with_timezone(&tz).date_naive(),
        None if ms < 0 => NaiveDate::MIN,
        None => NaiveDate::MAX,
    }
}

/// The first instant of a calendar date in `tz` (its midnight, or the end of a gap that
/// swallowed midnight).
pub fn start_of_day_ms(date: NaiveDate, tz: Tz) -> i64 {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    // Only dates at the very edge of the calendar have no instant in a zone; their UTC
    // midnight is as good an answer as any there.
    local_to_utc_ms(midnight, tz).unwrap_or_else(|| midnight.and_utc().timestamp_millis())
}

/// `2015-12-31T23:59:00Z`, with milliseconds only when there are any.
pub fn format_utc(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) if ms % 1000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

/// Reads an instant given with an offset or as `Z`, or as a local time in `tz`.
/// Instants outside the accepted range are `None`.
pub fn parse_instant(text: &str, tz: Tz) -> Option<i64> {
    parse_any_instant(text, tz).filter(|ms| in_range(*ms))
}

fn parse_any_instant(text: &str, tz: Tz) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return local_to_utc_ms(local, tz);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|date| start_of_day_ms(date, tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn repeated_hour_takes_the_earlier_instant() {
        // Berlin leaves summer time on 2024-10-27 at 03:00 CEST -> 02:00 CET; 02:30 occurs
        // twice, first at 00:30 UTC (CEST, +2).
        let ms = local_to_utc_ms(local("2024-10-27 02:30:00"), chrono_tz::Europe::Berlin);
        assert_eq!(ms.map(format_utc).as_deref(), Some("2024-10-27T00:30:00Z"));
    }

    #[test]
    fn missing_hour_uses_the_offset_before_the_change() {
        // Berlin enters summer time on 2024-03-31 at 02:00 CET; 02:30 does not exist.
        // With the offset before (+1) it is 01:30 UTC.
        let ms = local_to_utc_ms(local("2024-03-31 02:30:00"), chrono_tz::Europe::Berlin);
        assert_eq!(ms.map(format_utc).as_deref(), Some("2024-03-31T01:30:00Z"));
    }

    #[test]
    fn start_of_day_in_new_york_follows_daylight_saving() {
        let winter = NaiveDate::from_ymd_opt(2024, 1, 10).unwrap();
        let summer = NaiveDate::from_ymd_opt(2024, 7, 10).unwrap();
        let tz = chrono_tz::America::New_York;
        assert_eq!(
            format_utc(start_of_day_ms(winter, tz)),
            "2024-01-10T05:00:00Z"
        );
        assert_eq!(
            format_utc(start_of_day_ms(summer, tz)),
            "2024-07-10T04:00:00Z"
        );
    }

    #[test]
    fn parse_instant_reads_offsets_and_local_times() {
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            parse_instant("2024-01-10T00:00:00Z", berlin).map(format_utc),
            Some("2024-01-10T00:00:00Z".to_owned())
        );
        assert_eq!(
            parse_instant("2024-01-10 00:00:00", berlin).map(format_utc),
            Some("2024-01-09T23:00:00Z".to_owned())
        );
        assert_eq!(parse_instant("yesterday", berlin), None);
    }
}
