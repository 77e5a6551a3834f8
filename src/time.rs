//! Conversions between UTC instants (milliseconds) and calendar dates in a time zone.
//!
//! One place for the daylight-saving rules of SPEC section 5 and CLI.md: a local time that
//! occurs twice is the earlier instant; one that does not exist is read with the offset in
//! force before the change.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};

use crate::model::DAY_MS;
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
    // Most exports are in UTC: no zone rules to look up (an import calls this per row).
    if tz == chrono_tz::UTC {
        return Some(local.and_utc().timestamp_millis());
    }
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

/// Local dates of many instants in one zone, read from a table of day starts instead of
/// converting each instant: the metrics ask this for every session of a project.
pub struct DayTable {
    tz: Tz,
    first: NaiveDate,
    /// The first instant of each date from `first` on, plus the day after the last.
    starts: Vec<i64>,
}

impl DayTable {
    /// A table covering the instants `min_ms..=max_ms` within the accepted range; others
    /// (only a hand-made project file has them) are converted directly. An empty range
    /// (`min_ms > max_ms`, no instants at all) gives a table of a few days.
    pub fn new(tz: Tz, min_ms: i64, max_ms: i64) -> Self {
        let low = min_ms.clamp(EARLIEST_MS, LATEST_MS);
        let high = max_ms.clamp(EARLIEST_MS, LATEST_MS).max(low);
        let first = local_date(low, tz).pred_opt().unwrap_or(NaiveDate::MIN);
        let last = local_date(high, tz);
        let mut starts = Vec::new();
        let mut date = Some(first);
        while let Some(d) = date.filter(|d| *d <= last) {
            starts.push(start_of_day_ms(d, tz));
            date = d.succ_opt();
        }
        if let Some(after) = last.succ_opt() {
            starts.push(start_of_day_ms(after, tz));
        }
        Self { tz, first, starts }
    }

    /// The local date of an instant, as `local_date` gives it.
    pub fn date(&self, ms: i64) -> NaiveDate {
        self.index(ms)
            .and_then(|i| self.first.checked_add_days(chrono::Days::new(i as u64)))
            .unwrap_or_else(|| local_date(ms, self.tz))
    }

    /// Days from the table's first date to the local date of an instant.
    pub fn day_number(&self, ms: i64) -> i64 {
        match self.index(ms) {
            Some(i) => i as i64,
            None => (local_date(ms, self.tz) - self.first).num_days(),
        }
    }

    /// The table row of an instant on a plain 24-hour day; days with a clock change are
    /// left to `local_date`, so the answer never differs from it.
    fn index(&self, ms: i64) -> Option<usize> {
        let base = *self.starts.first()?;
        let guess = usize::try_from(ms.checked_sub(base)?.div_euclid(DAY_MS)).ok()?;
        let mut i = guess.min(self.starts.len().checked_sub(2)?);
        while i > 0 && self.starts[i] > ms {
            i -= 1;
        }
        while i + 2 < self.starts.len() && self.starts[i + 1] <= ms {
            i += 1;
        }
        let (start, next) = (self.starts[i], self.starts[i + 1]);
        (start <= ms && ms < next && next - start == DAY_MS).then_some(i)
    }
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

    #[test]
    fn day_table_agrees_with_local_date_across_daylight_saving() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let (from, to) = (1_699_000_000_000_i64, 1_712_000_000_000_i64); // Nov 2023 .. Apr 2024
        let table = DayTable::new(tz, from, to);
        let mut ms = from - 3 * DAY_MS;
        while ms < to + 3 * DAY_MS {
            assert_eq!(table.date(ms), local_date(ms, tz), "at {ms}");
            assert_eq!(
                table.day_number(ms) - table.day_number(from),
                (local_date(ms, tz) - local_date(from, tz)).num_days()
            );
            ms += 997_003; // about 17 minutes, never aligned with an hour
        }
    }

    #[test]
    fn day_table_stays_small_for_extreme_or_no_instants() {
        let tz: Tz = "Asia/Tokyo".parse().unwrap();
        // No instants at all (an empty project), and a hand-made file's extremes.
        for (min, max) in [(i64::MAX, i64::MIN), (i64::MIN, i64::MAX)] {
            let table = DayTable::new(tz, min, max);
            assert!(table.starts.len() < 50_000, "{} days", table.starts.len());
            for ms in [
                -DAY_MS * 400_000,
                -1,
                0,
                LATEST_MS + 12_345,
                8_000_000_000_000_000,
            ] {
                assert_eq!(table.date(ms), local_date(ms, tz), "at {ms}");
            }
        }
    }
}
