//! Turns one record's text fields into a typed row, or a rejection with its reason.

mod money;

use chrono_tz::Tz;
use csv::StringRecord;

use super::mapping::{Field, Mapping};
use super::presets::{RowKind, Rules};
use super::timestamp::TimeColumn;
use crate::model::{
    AttrRow, Attributes, EventRow, FileKind, LookupRow, RateRow, Rejection, SessionRow, SpendRow,
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
    Lookup(LookupRow),
    /// Read, but nothing we count (the reason is counted in the import log).
    Ignored(String),
    /// One input row that stands for several (an Adjust install with its cost).
    Multi(Vec<Row>),
}

/// Prefix of campaign ids that lookup tables resolve to names later.
pub const CAMPAIGN_ID_PREFIX: &str = "id:";

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
    rules: Rules,
    /// `1.234,56`: files delimited by `;` write numbers the continental way.
    decimal_comma: bool,
    /// Strings of rows given back by `recycle`, reused so a row costs no allocation.
    spare: Vec<String>,
    /// With `with_repeats_dropped`: the user row last carried.
    last_attrs: Option<LastAttrs>,
}

/// How many spare strings `recycle` keeps: more than the batches in flight hold
/// (`import::BATCHES_AHEAD` and two more, of `import::BATCH_RECORDS` rows of up to 12
/// strings each).
const SPARE_STRINGS: usize = 96 * 1024;

/// The fields of a user's attributes, in `Attributes` order.
const ATTRIBUTE_FIELDS: [Field; 5] = [
    Field::Channel,
    Field::Campaign,
    Field::Country,
    Field::Platform,
    Field::AppVersion,
];

/// The user row a session or event row carried last, as read from its fields.
#[derive(Default)]
struct LastAttrs {
    user: String,
    install_ms: Option<i64>,
    row_time_ms: i64,
    texts: [String; 5],
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
            rules: Rules::default(),
            decimal_comma: false,
            spare: Vec::new(),
            last_attrs: None,
        }
    }

    /// Leaves out the user row of a session or event row that repeats the previous row's
    /// (same user, install time and attributes, and for rows without an install time no
    /// earlier row time): the project keeps only the earliest of such rows anyway, and
    /// most rows of a session file repeat their user's attributes. For imports; the
    /// wizard's preview shows every row as it is.
    #[must_use]
    pub fn with_repeats_dropped(mut self) -> Self {
        self.last_attrs = Some(LastAttrs::default());
        self
    }

    /// Reads rows with a vendor preset's rules.
    #[must_use]
    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    /// Reads numbers with a decimal comma and thousands separators.
    #[must_use]
    pub fn with_decimal_comma(mut self, decimal_comma: bool) -> Self {
        self.decimal_comma = decimal_comma;
        self
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

    /// Takes back a row's strings once it is written, for the rows still to come.
    pub fn recycle(&mut self, row: Row) {
        let mut keep = |text: String| {
            if self.spare.len() < SPARE_STRINGS {
                self.spare.push(text);
            }
        };
        let keep_attrs = |row: AttrRow, keep: &mut dyn FnMut(String)| {
            keep(row.user);
            let Attributes {
                channel,
                campaign,
                country,
                platform,
                app_version,
            } = row.attrs;
            for text in [channel, campaign, country, platform, app_version] {
                keep(text);
            }
        };
        match row {
            Row::Session(session, attrs) => {
                keep(session.user);
                if let Some(attrs) = attrs {
                    keep_attrs(attrs, &mut keep);
                }
            }
            Row::Event(event, attrs) => {
                keep(event.user);
                if let Some(attrs) = attrs {
                    keep_attrs(attrs, &mut keep);
                }
            }
            Row::Install(attrs) => keep_attrs(attrs, &mut keep),
            _ => {}
        }
    }

    /// A copy of `text` in a spare string when there is one.
    fn owned(&mut self, text: &str) -> String {
        match self.spare.pop() {
            Some(mut spare) => {
                spare.clear();
                spare.push_str(text);
                spare
            }
            None => text.to_owned(),
        }
    }

    pub fn read(&mut self, line: u64, fields: &StringRecord) -> Result<Row, Rejection> {
        let reject = |(reason, detail): (&str, String)| Rejection {
            line,
            reason: reason.to_owned(),
            detail,
        };
        if fields.iter().all(|f| f.trim().is_empty()) {
            return Err(reject(("empty row", "every field is empty".to_owned())));
        }
        match self.kind {
            FileKind::Spend => return self.spend(fields).map_err(reject),
            FileKind::Rates => return self.rate(fields).map_err(reject),
            FileKind::Campaigns | FileKind::AdNetworks => {
                return self.lookup(fields).map_err(reject)
            }
            _ => {}
        }
        self.activity(fields).map_err(reject)
    }

    /// A session, event or install row (with a preset, whichever its key column says).
    fn activity(&mut self, fields: &StringRecord) -> Result<Row, (&'static str, String)> {
        let user = self.user(fields);
        if user.is_empty() {
            return Err(("missing user id", self.column_detail(Field::UserId)));
        }
        let install_ms = self.time(fields, Field::InstallTime)?;

        match self.rules.row_kind.clone() {
            Some(RowKind::EventNames {
                column,
                installs,
                activity_only,
            }) => {
                let name = fields.get(column).map_or("", |v| v.trim());
                if installs.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    let time_ms = match install_ms {
                        Some(ms) => ms,
                        None => {
                            self.required_time(fields, Field::EventTime, "missing event time")?
                        }
                    };
                    let attrs = self.attributes(fields);
                    return Ok(Row::Install(self.install_row(user, time_ms, attrs)));
                }
                if activity_only
                    .is_some_and(|names| !names.iter().any(|n| n.eq_ignore_ascii_case(name)))
                {
                    return Ok(Row::Ignored(format!("event {name:?} is not activity")));
                }
            }
            Some(RowKind::Adjust { column }) => {
                let activity = fields
                    .get(column)
                    .map_or("", |v| v.trim())
                    .to_ascii_lowercase();
                let time_ms = self.required_time(fields, Field::EventTime, "missing event time")?;
                let cost = self.cost(fields, time_ms)?;
                let attrs = self.attributes(fields);
                let row = match activity.as_str() {
                    "install" => {
                        Row::Install(self.install_row(user, install_ms.unwrap_or(time_ms), attrs))
                    }
                    // An Adjust session row is a session start; its length is unknown.
                    "session" => Row::Session(
                        SessionRow {
                            user: user.clone(),
                            start_ms: time_ms,
                            end_ms: None,
                        },
                        self.attr_row_with(&user, install_ms, time_ms, attrs),
                    ),
                    other => Row::Ignored(format!("activity_kind {other:?}")),
                };
                return Ok(match cost {
                    Some(spend) => Row::Multi(vec![row, Row::Spend(spend)]),
                    None => row,
                });
            }
            None => {}
        }

        match self.kind {
            FileKind::Installs => {
                let time_ms = install_ms.ok_or_else(|| {
                    (
                        "missing install time",
                        self.column_detail(Field::InstallTime),
                    )
                })?;
                let attrs = self.attributes(fields);
                Ok(Row::Install(self.install_row(user, time_ms, attrs)))
            }
            FileKind::Sessions => {
                let start_ms =
                    self.required_time(fields, Field::SessionStart, "missing session start")?;
                let end_ms = self.session_end(fields, start_ms)?;
                let attr_row = self.attr_row(fields, &user, install_ms, start_ms);
                Ok(Row::Session(
                    SessionRow {
                        user,
                        start_ms,
                        end_ms,
                    },
                    attr_row,
                ))
            }
            _ => {
                let time_ms = self.required_time(fields, Field::EventTime, "missing event time")?;
                let optional = |field| {
                    let value = self.text(fields, field);
                    (!value.is_empty()).then(|| value.to_owned())
                };
                let (name, event_id) = (optional(Field::EventName), optional(Field::EventId));
                let attr_row = self.attr_row(fields, &user, install_ms, time_ms);
                Ok(Row::Event(
                    EventRow {
                        user,
                        time_ms,
                        name,
                        event_id,
                    },
                    attr_row,
                ))
            }
        }
    }

    /// The user id; presets with a second id column use it where the first is empty or
    /// all zeros (an advertising id the user withheld).
    fn user(&mut self, fields: &StringRecord) -> String {
        let first = self.text(fields, Field::UserId);
        let withheld = first.chars().all(|c| c == '0' || c == '-');
        match self.rules.user_fallback.and_then(|i| fields.get(i)) {
            Some(second) if withheld && !second.trim().is_empty() => second.trim().to_owned(),
            _ if withheld && !first.is_empty() && self.rules.user_fallback.is_some() => {
                String::new()
            }
            _ => self.owned(first),
        }
    }

    fn required_time(
        &mut self,
        fields: &StringRecord,
        field: Field,
        missing: &'static str,
    ) -> Result<i64, (&'static str, String)> {
        self.time(fields, field)?
            .ok_or_else(|| (missing, self.column_detail(field)))
    }

    fn install_row(&self, user: String, time_ms: i64, attrs: Attributes) -> AttrRow {
        AttrRow {
            user,
            time_ms,
            is_install: true,
            adds_session: self.rules.install_as_session,
            attrs,
        }
    }

    /// The user row that a session or event row carries (see `attr_row_with`), or `None`
    /// when it repeats the one before it (see `with_repeats_dropped`).
    fn attr_row(
        &mut self,
        fields: &StringRecord,
        user: &str,
        install_ms: Option<i64>,
        row_time_ms: i64,
    ) -> Option<AttrRow> {
        let texts = ATTRIBUTE_FIELDS.map(|field| self.text(fields, field));
        if let Some(last) = &mut self.last_attrs {
            let same = last.user == user
                && last.install_ms == install_ms
                && last
                    .texts
                    .iter()
                    .zip(texts)
                    .all(|(a, b)| crate::model::same_text(a, b));
            // An install row repeats at the same install time; a plain attribute row
            // only at a later row time, since the earliest row of each is what counts.
            if same && (install_ms.is_some() || row_time_ms >= last.row_time_ms) {
                return None;
            }
            user.clone_into(&mut last.user);
            last.install_ms = install_ms;
            last.row_time_ms = row_time_ms;
            for (kept, text) in last.texts.iter_mut().zip(texts) {
                text.clone_into(kept);
            }
        }
        let attrs = self.attributes(fields);
        self.attr_row_with(user, install_ms, row_time_ms, attrs)
    }

    /// An install row when the row carries an install time; otherwise a plain attribute
    /// row when it carries any attribute.
    fn attr_row_with(
        &mut self,
        user: &str,
        install_ms: Option<i64>,
        row_time_ms: i64,
        attrs: Attributes,
    ) -> Option<AttrRow> {
        match install_ms {
            Some(time_ms) => {
                let user = self.owned(user);
                Some(self.install_row(user, time_ms, attrs))
            }
            None if attrs.is_empty() => None,
            None => Some(AttrRow {
                user: self.owned(user),
                time_ms: row_time_ms,
                is_install: false,
                adds_session: false,
                attrs,
            }),
        }
    }

    fn lookup(&self, fields: &StringRecord) -> Result<Row, (&'static str, String)> {
        let Some((id, name, parent)) = self.rules.lookup else {
            return Err(("missing id", "no id and name columns".to_owned()));
        };
        let get = |i: usize| fields.get(i).map_or("", |v| v.trim()).to_owned();
        let id = get(id);
        if id.is_empty() {
            return Err(("missing id", "the id column is empty".to_owned()));
        }
        Ok(Row::Lookup(LookupRow {
            kind: self.kind,
            id,
            name: get(name),
            parent_id: parent.map(get).filter(|p| !p.is_empty()),
        }))
    }

    fn text<'a>(&self, fields: &'a StringRecord, field: Field) -> &'a str {
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
        fields: &StringRecord,
        field: Field,
    ) -> Result<Option<i64>, (&'static str, String)> {
        let value = self.text(fields, field);
        if value.is_empty() {
            return Ok(None);
        }
        let tz = self.tz;
        let column = match field {
            Field::InstallTime => &mut self.install_time,
            Field::EventTime => &mut self.event_time,
            Field::SessionStart => &mut self.session_start,
            _ => &mut self.session_end,
        };
        let read = column.read(value, tz);
        read.map(Some).map_err(|(reason, why)| {
            let column_name = self
                .mapping
                .get(field)
                .and_then(|i| self.columns.get(i))
                .map_or("", String::as_str);
            (
                reason,
                format!("column {}: {why}", super::shorten(column_name)),
            )
        })
    }

    /// The end wins over a duration; with neither the length is unknown.
    fn session_end(
        &mut self,
        fields: &StringRecord,
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
            .ok_or_else(|| {
                (
                    "bad duration",
                    format!("{} is not a number", super::shorten(value)),
                )
            })?;
        if amount < 0.0 {
            return Err((
                "negative duration",
                format!("duration {}", super::shorten(value)),
            ));
        }
        let millis = (amount * self.duration_unit.millis()).round();
        // Longer than a century is no session length: the unit is surely wrong.
        if millis > 100.0 * 365.0 * 86_400_000.0 {
            return Err((
                "bad duration",
                format!("duration {} is over a century", super::shorten(value)),
            ));
        }
        #[allow(clippy::cast_possible_truncation)] // bounded just above
        let millis = millis as i64;
        Ok(Some(start_ms.saturating_add(millis)))
    }

    fn attributes(&mut self, fields: &StringRecord) -> Attributes {
        let [channel, campaign, country, platform, app_version] =
            ATTRIBUTE_FIELDS.map(|field| self.text(fields, field));
        let mut attrs = Attributes {
            channel: self.owned(channel),
            campaign: self.owned(campaign),
            country: self.owned(country),
            platform: self.owned(platform),
            app_version: self.owned(app_version),
        };
        // Adjust: `Network::Campaign::Adgroup::Creative` where the columns are missing.
        if let Some(tracker) = self.rules.tracker.and_then(|i| fields.get(i)) {
            let mut parts = tracker.split("::").map(str::trim);
            let (network, campaign) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if attrs.channel.is_empty() {
                network.clone_into(&mut attrs.channel);
            }
            if attrs.campaign.is_empty() {
                campaign.clone_into(&mut attrs.campaign);
            }
        }
        if self.rules.campaign_ids && !attrs.campaign.is_empty() {
            attrs.campaign = format!("{CAMPAIGN_ID_PREFIX}{}", attrs.campaign);
        }
        attrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

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

    fn fields(values: &[&str]) -> StringRecord {
        StringRecord::from(values.to_vec())
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

    #[test]
    fn repeated_user_rows_are_dropped_only_where_they_add_nothing() {
        let columns = ["user_id", "install_time", "session_start", "channel"];
        let mut r =
            reader(FileKind::Sessions, &columns, DurationUnit::Seconds).with_repeats_dropped();
        let mut carries = |line: u64, values: [&str; 4]| match r.read(line, &fields(&values)) {
            Ok(Row::Session(_, attrs)) => attrs.map(|a| (a.is_install, a.attrs.channel)),
            other => panic!("line {line}: not a session: {other:?}"),
        };
        let install = Some((true, "fb".to_owned()));
        let plain = |channel: &str| Some((false, channel.to_owned()));
        let day = |d: u32| format!("2024-01-0{d} 10:00:00");

        // The same user, install time and channel again: nothing new.
        assert_eq!(
            carries(2, ["a", "2024-01-01 09:00:00", &day(1), "fb"]),
            install
        );
        assert_eq!(
            carries(3, ["a", "2024-01-01 09:00:00", &day(2), "fb"]),
            None
        );
        // Another channel, another install time or another user each count.
        assert_eq!(
            carries(4, ["a", "2024-01-01 09:00:00", &day(3), "g"]),
            Some((true, "g".to_owned()))
        );
        assert_eq!(
            carries(5, ["a", "2024-01-02 09:00:00", &day(3), "g"]),
            Some((true, "g".to_owned()))
        );
        assert_eq!(
            carries(6, ["b", "2024-01-02 09:00:00", &day(3), "g"]),
            Some((true, "g".to_owned()))
        );
        // Without an install time the row's own time decides: a later repeat adds
        // nothing, an earlier one moves the attributes' first sighting back.
        assert_eq!(carries(7, ["c", "", &day(5), "tt"]), plain("tt"));
        assert_eq!(carries(8, ["c", "", &day(6), "tt"]), None);
        assert_eq!(carries(9, ["c", "", &day(4), "tt"]), plain("tt"));

        // The wizard's reader, without the option, shows every row's attributes.
        let mut every = reader(FileKind::Sessions, &columns, DurationUnit::Seconds);
        for line in [2, 3] {
            let values = ["a", "2024-01-01 09:00:00", "2024-01-01 10:00:00", "fb"];
            assert!(matches!(
                every.read(line, &fields(&values)),
                Ok(Row::Session(_, Some(_)))
            ));
        }
    }

    #[test]
    fn recycled_rows_do_not_leak_into_the_next() {
        let columns = [
            "user_id",
            "install_time",
            "session_start",
            "channel",
            "country",
        ];
        let rows = [
            [
                "a",
                "2024-01-01 10:00:00",
                "2024-01-01 10:05:00",
                "facebook",
                "DE",
            ],
            ["bb", "2024-01-02 10:00:00", "2024-01-02 11:00:00", "", "FR"],
            ["c", "", "2024-01-03 09:00:00", "g", ""],
        ];
        let mut fresh = reader(FileKind::Sessions, &columns, DurationUnit::Seconds);
        let mut reusing = reader(FileKind::Sessions, &columns, DurationUnit::Seconds);
        for (line, values) in (2..).zip(&rows) {
            let expected = fresh.read(line, &fields(values));
            let got = reusing.read(line, &fields(values));
            assert_eq!(got, expected);
            // The next row is read into this row's strings.
            reusing.recycle(got.unwrap());
        }
        assert!(!reusing.spare.is_empty());
    }
}
