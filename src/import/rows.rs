//! Turns one record's text fields into a typed row, or a rejection with its reason.

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::mapping::{Field, Mapping};
use super::timestamp::TimeColumn;
use crate::model::{
    AttrRow, Attributes, EventRow, FileKind, RateRow, Rejection, SessionRow, SpendRow,
};

/// Unit of a duration column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DurationUnit {
    #[default]
    Seconds,
    Millis,
    Minutes,
}

impl DurationUnit {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "s" | "sec" | "seconds" => Some(Self::Seconds),
            "ms" | "millis" | "milliseconds" => Some(Self::Millis),
            "min" | "minutes" => Some(Self::Minutes),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seconds => "s",
            Self::Millis => "ms",
            Self::Minutes => "min",
        }
    }

    fn millis(self) -> f64 {
        match self {
            Self::Seconds => 1000.0,
            Self::Millis => 1.0,
            Self::Minutes => 60_000.0,
        }
    }
}

/// One accepted row.
#[derive(Clone, Debug, PartialEq)]
pub enum Row {
    Session(SessionRow, Option<AttrRow>),
    Event(EventRow, Option<AttrRow>),
    Install(AttrRow),
    Spend(SpendRow),
    Rate(RateRow),
}

/// Reads records of one file: the mapping, the zone, and each time column's format.
pub struct RowReader {
    kind: FileKind,
    mapping: Mapping,
    tz: Tz,
    duration_unit: DurationUnit,
    install_time: TimeColumn,
    event_time: TimeColumn,
    session_start: TimeColumn,
    session_end: TimeColumn,
    columns: Vec<String>,
}

impl RowReader {
    pub fn new(
        kind: FileKind,
        mapping: Mapping,
        columns: Vec<String>,
        tz: Tz,
        duration_unit: DurationUnit,
    ) -> Self {
        Self {
            kind,
            mapping,
            tz,
            duration_unit,
            install_time: TimeColumn::default(),
            event_time: TimeColumn::default(),
            session_start: TimeColumn::default(),
            session_end: TimeColumn::default(),
            columns,
        }
    }

    /// The detected format of each time column, for the import report.
    pub fn time_formats(&self) -> Vec<(Field, &'static str)> {
        [
            (Field::InstallTime, &self.install_time),
            (Field::EventTime, &self.event_time),
            (Field::SessionStart, &self.session_start),
            (Field::SessionEnd, &self.session_end),
        ]
        .into_iter()
        .filter_map(|(field, column)| Some((field, column.format()?.describe())))
        .collect()
    }

    pub fn read(&mut self, line: u64, fields: &[String]) -> Result<Row, Rejection> {
        let reject = |reason: &str, detail: String| Rejection {
            line,
            reason: reason.to_owned(),
            detail,
        };
        match self.kind {
            FileKind::Spend => return self.spend(fields).map_err(|(r, d)| reject(r, d)),
            FileKind::Rates => return self.rate(fields).map_err(|(r, d)| reject(r, d)),
            _ => {}
        }

        let user = self.text(fields, Field::UserId);
        if user.is_empty() {
            return Err(reject("missing user id", self.column_detail(Field::UserId)));
        }
        let user = user.to_owned();
        let install_ms = self
            .time(fields, Field::InstallTime)
            .map_err(|(r, d)| reject(r, d))?;
        let attrs = self.attributes(fields);

        match self.kind {
            FileKind::Installs => {
                let time_ms = install_ms.ok_or_else(|| {
                    reject(
                        "missing install time",
                        self.column_detail(Field::InstallTime),
                    )
                })?;
                Ok(Row::Install(AttrRow {
                    user,
                    time_ms,
                    is_install: true,
                    attrs,
                }))
            }
            FileKind::Sessions => {
                let start_ms = self
                    .time(fields, Field::SessionStart)
                    .map_err(|(r, d)| reject(r, d))?
                    .ok_or_else(|| {
                        reject(
                            "missing session start",
                            self.column_detail(Field::SessionStart),
                        )
                    })?;
                let end_ms = self
                    .session_end(fields, start_ms)
                    .map_err(|(r, d)| reject(r, d))?;
                let attr_row = attr_row(&user, install_ms, start_ms, attrs);
                Ok(Row::Session(
                    SessionRow {
                        user,
                        start_ms,
                        end_ms,
                    },
                    attr_row,
                ))
            }
            FileKind::Events => {
                let time_ms = self
                    .time(fields, Field::EventTime)
                    .map_err(|(r, d)| reject(r, d))?
                    .ok_or_else(|| {
                        reject("missing event time", self.column_detail(Field::EventTime))
                    })?;
                let optional = |field| {
                    let value = self.text(fields, field);
                    (!value.is_empty()).then(|| value.to_owned())
                };
                let attr_row = attr_row(&user, install_ms, time_ms, attrs);
                Ok(Row::Event(
                    EventRow {
                        user,
                        time_ms,
                        name: optional(Field::EventName),
                        event_id: optional(Field::EventId),
                    },
                    attr_row,
                ))
            }
            FileKind::Spend | FileKind::Rates => unreachable_kind(),
        }
    }

    fn text<'a>(&self, fields: &'a [String], field: Field) -> &'a str {
        self.mapping
            .get(field)
            .and_then(|i| fields.get(i))
            .map_or("", |s| s.trim())
    }

    fn column_detail(&self, field: Field) -> String {
        match self.mapping.get(field).and_then(|i| self.columns.get(i)) {
            Some(column) => format!("column {column:?} is empty"),
            None => format!("no column for {field}"),
        }
    }

    fn time(
        &mut self,
        fields: &[String],
        field: Field,
    ) -> Result<Option<i64>, (&'static str, String)> {
        let value = self.text(fields, field);
        if value.is_empty() {
            return Ok(None);
        }
        let column_name = self
            .mapping
            .get(field)
            .and_then(|i| self.columns.get(i))
            .cloned()
            .unwrap_or_default();
        let tz = self.tz;
        let column = match field {
            Field::InstallTime => &mut self.install_time,
            Field::EventTime => &mut self.event_time,
            Field::SessionStart => &mut self.session_start,
            _ => &mut self.session_end,
        };
        column
            .read(value, tz)
            .map(Some)
            .map_err(|why| ("bad timestamp", format!("column {column_name:?}: {why}")))
    }

    /// The end wins over a duration; with neither the length is unknown.
    fn session_end(
        &mut self,
        fields: &[String],
        start_ms: i64,
    ) -> Result<Option<i64>, (&'static str, String)> {
        if let Some(end_ms) = self.time(fields, Field::SessionEnd)? {
            if end_ms < start_ms {
                return Err((
                    "end before start",
                    "the session ends before it starts".to_owned(),
                ));
            }
            return Ok(Some(end_ms));
        }
        let value = self.text(fields, Field::Duration);
        if value.is_empty() {
            return Ok(None);
        }
        let amount: f64 = value
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| ("bad duration", format!("{value:?} is not a number")))?;
        if amount < 0.0 {
            return Err(("negative duration", format!("duration {value}")));
        }
        let millis = (amount * self.duration_unit.millis()).round();
        // Longer than a century is no session length: the unit is surely wrong.
        if millis > 100.0 * 365.0 * 86_400_000.0 {
            return Err((
                "bad duration",
                format!("duration {value} is over a century"),
            ));
        }
        #[allow(clippy::cast_possible_truncation)] // bounded just above
        let millis = millis as i64;
        Ok(Some(start_ms.saturating_add(millis)))
    }

    fn attributes(&self, fields: &[String]) -> Attributes {
        let get = |field| self.text(fields, field).to_owned();
        Attributes {
            channel: get(Field::Channel),
            campaign: get(Field::Campaign),
            country: get(Field::Country),
            platform: get(Field::Platform),
            app_version: get(Field::AppVersion),
        }
    }

    fn spend(&self, fields: &[String]) -> Result<Row, (&'static str, String)> {
        let date = self.date(fields)?;
        let amount = self
            .number(fields, Field::Amount)?
            .ok_or(("missing amount", String::new()))?;
        let currency = self.text(fields, Field::Currency);
        let count = |field| -> Result<Option<i64>, (&'static str, String)> {
            #[allow(clippy::cast_possible_truncation)] // counts are far below 2^53
            Ok(self.number(fields, field)?.map(|v| v.round() as i64))
        };
        Ok(Row::Spend(SpendRow {
            date,
            channel: self.text(fields, Field::Channel).to_owned(),
            campaign: self.text(fields, Field::Campaign).to_owned(),
            amount,
            currency: (!currency.is_empty()).then(|| currency.to_ascii_uppercase()),
            impressions: count(Field::Impressions)?,
            clicks: count(Field::Clicks)?,
        }))
    }

    fn rate(&self, fields: &[String]) -> Result<Row, (&'static str, String)> {
        let date = self.date(fields)?;
        let currency = self.text(fields, Field::Currency);
        if currency.is_empty() {
            return Err(("missing currency", String::new()));
        }
        let rate = self
            .number(fields, Field::Rate)?
            .ok_or(("missing rate", String::new()))?;
        if rate <= 0.0 {
            return Err(("bad number", format!("rate {rate} is not positive")));
        }
        Ok(Row::Rate(RateRow {
            date,
            currency: currency.to_ascii_uppercase(),
            rate,
        }))
    }

    /// A calendar date as given: `YYYY-MM-DD`, optionally followed by a time.
    fn date(&self, fields: &[String]) -> Result<NaiveDate, (&'static str, String)> {
        let value = self.text(fields, Field::Date);
        if value.is_empty() {
            return Err(("missing date", String::new()));
        }
        let head = value.get(..10).unwrap_or(value);
        let rest = value.get(10..).unwrap_or("");
        NaiveDate::parse_from_str(head, "%Y-%m-%d")
            .ok()
            .filter(|_| rest.is_empty() || rest.starts_with([' ', 'T']))
            .ok_or_else(|| ("bad date", format!("{value:?} is not a YYYY-MM-DD date")))
    }

    fn number(
        &self,
        fields: &[String],
        field: Field,
    ) -> Result<Option<f64>, (&'static str, String)> {
        let value = self.text(fields, field);
        if value.is_empty() {
            return Ok(None);
        }
        value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| ("bad number", format!("{field} {value:?} is not a number")))
    }
}

/// Spend and rate rows return before the match that would reach this.
fn unreachable_kind() -> Result<Row, Rejection> {
    Err(Rejection {
        line: 0,
        reason: "internal".to_owned(),
        detail: "spend and rates rows are read elsewhere".to_owned(),
    })
}

/// An install row when the row carries an install time; otherwise a plain attribute row
/// when it carries any attribute.
fn attr_row(
    user: &str,
    install_ms: Option<i64>,
    row_time_ms: i64,
    attrs: Attributes,
) -> Option<AttrRow> {
    match install_ms {
        Some(time_ms) => Some(AttrRow {
            user: user.to_owned(),
            time_ms,
            is_install: true,
            attrs,
        }),
        None if attrs.is_empty() => None,
        None => Some(AttrRow {
            user: user.to_owned(),
            time_ms: row_time_ms,
            is_install: false,
            attrs,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(kind: FileKind, columns: &[&str], unit: DurationUnit) -> RowReader {
        let columns: Vec<String> = columns.iter().map(|s| (*s).to_owned()).collect();
        RowReader::new(
            kind,
            Mapping::recognise(&columns),
            columns,
            chrono_tz::UTC,
            unit,
        )
    }

    fn fields(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn duration_in_minutes_and_end_winning_over_duration() {
        let mut r = reader(
            FileKind::Sessions,
            &["user_id", "session_start", "duration"],
            DurationUnit::Minutes,
        );
        let Ok(Row::Session(s, None)) = r.read(2, &fields(&["p", "2015-01-01 00:00:00", "12.8"]))
        else {
            panic!("not a session");
        };
        // 12.8 min = 768 s.
        assert_eq!(s.end_ms.map(|e| e - s.start_ms), Some(768_000));

        let mut r = reader(
            FileKind::Sessions,
            &["user_id", "session_start", "session_end", "duration"],
            DurationUnit::Seconds,
        );
        let Ok(Row::Session(s, _)) = r.read(
            2,
            &fields(&["p", "2015-01-01 00:00:00", "2015-01-01 00:01:00", "5"]),
        ) else {
            panic!("not a session");
        };
        assert_eq!(s.end_ms.map(|e| e - s.start_ms), Some(60_000));
    }

    #[test]
    fn bad_sessions_are_rejected_with_reasons() {
        let mut r = reader(
            FileKind::Sessions,
            &["user_id", "session_start", "session_end", "duration"],
            DurationUnit::Seconds,
        );
        let reason =
            |r: &mut RowReader, values: &[&str]| r.read(7, &fields(values)).unwrap_err().reason;
        assert_eq!(
            reason(&mut r, &["", "2015-01-01 00:00:00", "", "5"]),
            "missing user id"
        );
        assert_eq!(
            reason(&mut r, &["p", "2015-01-01 00:00:00", "", "-5"]),
            "negative duration"
        );
        assert_eq!(
            reason(&mut r, &["p", "2015-01-01 00:00:00", "", "NaN"]),
            "bad duration"
        );
        assert_eq!(
            reason(
                &mut r,
                &["p", "2015-01-01 00:00:00", "2014-12-31 00:00:00", ""]
            ),
            "end before start"
        );
        assert_eq!(reason(&mut r, &["p", "1/1/2015", "", ""]), "bad timestamp");
    }

    #[test]
    fn event_rows_with_attributes_give_attribute_rows() {
        let mut r = reader(
            FileKind::Events,
            &["user_id", "timestamp", "event", "acquisition_channel"],
            DurationUnit::Seconds,
        );
        let Ok(Row::Event(e, Some(a))) =
            r.read(2, &fields(&["u", "2024-01-01 10:00:00", "home", "email"]))
        else {
            panic!("not an event with attributes");
        };
        assert_eq!(e.name.as_deref(), Some("home"));
        assert!(!a.is_install);
        assert_eq!((a.time_ms, a.attrs.channel.as_str()), (e.time_ms, "email"));
    }

    #[test]
    fn spend_rows_read_dates_as_given() {
        let mut r = reader(
            FileKind::Spend,
            &["date", "channel", "campaign", "amount", "currency"],
            DurationUnit::Seconds,
        );
        let Ok(Row::Spend(s)) =
            r.read(2, &fields(&["2024-03-01", " Google ", "c1", "12.5", "eur"]))
        else {
            panic!("not spend");
        };
        assert_eq!(s.date, NaiveDate::from_ymd_opt(2024, 3, 1).unwrap());
        assert_eq!(
            (s.channel.as_str(), s.amount, s.currency.as_deref()),
            ("Google", 12.5, Some("EUR"))
        );
        assert_eq!(
            r.read(3, &fields(&["03/01/2024", "g", "c", "1", ""]))
                .unwrap_err()
                .reason,
            "bad date"
        );
    }
}
