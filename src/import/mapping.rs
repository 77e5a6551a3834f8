//! Which column of a file feeds which field, chosen from `--map`, a preset or the column
//! names, and which kind of rows the file holds.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::FileKind;

/// A field the importer can fill (the names of CLI.md's `--map`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    UserId,
    InstallTime,
    EventTime,
    EventName,
    EventId,
    SessionStart,
    SessionEnd,
    Duration,
    Channel,
    Campaign,
    Country,
    Platform,
    AppVersion,
    Date,
    Amount,
    Currency,
    Rate,
    Impressions,
    Clicks,
}

impl Field {
    pub const ALL: [Self; 19] = [
        Self::UserId,
        Self::InstallTime,
        Self::EventTime,
        Self::EventName,
        Self::EventId,
        Self::SessionStart,
        Self::SessionEnd,
        Self::Duration,
        Self::Channel,
        Self::Campaign,
        Self::Country,
        Self::Platform,
        Self::AppVersion,
        Self::Date,
        Self::Amount,
        Self::Currency,
        Self::Rate,
        Self::Impressions,
        Self::Clicks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::UserId => "user_id",
            Self::InstallTime => "install_time",
            Self::EventTime => "event_time",
            Self::EventName => "event_name",
            Self::EventId => "event_id",
            Self::SessionStart => "session_start",
            Self::SessionEnd => "session_end",
            Self::Duration => "duration",
            Self::Channel => "channel",
            Self::Campaign => "campaign",
            Self::Country => "country",
            Self::Platform => "platform",
            Self::AppVersion => "app_version",
            Self::Date => "date",
            Self::Amount => "amount",
            Self::Currency => "currency",
            Self::Rate => "rate",
            Self::Impressions => "impressions",
            Self::Clicks => "clicks",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name.trim())
    }

    /// Column names (lower case, letters and digits only) recognised for this field,
    /// most specific first.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::UserId => &[
                "userid",
                "user",
                "playerid",
                "player",
                "customeruserid",
                "appsflyerid",
                "adid",
                "deviceid",
                "distinctid",
                "userpseudoid",
                "clientid",
                "uid",
                "accountid",
                "memberid",
                "customerid",
                "installid",
            ],
            Self::InstallTime => &[
                "installtime",
                "installedat",
                "installdate",
                "installtimestamp",
                "installedtime",
                "firstlogin",
                "firstopen",
                "firstopentime",
                "firstseen",
                "firstseenat",
                "acquiredat",
                "userfirstengagement",
                "firsttouchtimestamp",
                "signupdate",
                "registrationdate",
                "registeredat",
            ],
            Self::EventTime => &[
                "eventtime",
                "eventtimestamp",
                "timestamp",
                "eventdatetime",
                "time",
                "ts",
                "datetime",
                "createdat",
                "occurredat",
                "eventat",
            ],
            Self::EventName => &["eventname", "event", "eventtype", "action", "activitykind"],
            Self::EventId => &["eventid", "insertid", "messageid", "eventuuid"],
            Self::SessionStart => &[
                "sessionstart",
                "sessionstarttime",
                "sessionstartedat",
                "sessionbegin",
                "starttime",
                "startedat",
                "start",
            ],
            Self::SessionEnd => &[
                "sessionend",
                "sessionendtime",
                "sessionendedat",
                "endtime",
                "endedat",
                "end",
            ],
            Self::Duration => &[
                "duration",
                "sessionduration",
                "sessionlength",
                "durations",
                "length",
                "timespent",
                "sessiontime",
            ],
            Self::Channel => &[
                "channel",
                "mediasource",
                "network",
                "networkname",
                "adnetwork",
                "acquisitionchannel",
                "acquisition",
                "source",
                "utmsource",
                "trafficsourcesource",
                "pid",
                "partner",
            ],
            Self::Campaign => &[
                "campaign",
                "campaignname",
                "utmcampaign",
                "trafficsourcename",
                "c",
            ],
            Self::Country => &["country", "countrycode", "geocountry", "countryname", "geo"],
            Self::Platform => &["platform", "osname", "os", "deviceos", "devicetype"],
            Self::AppVersion => &["appversion", "appinfoversion", "versionname", "version"],
            Self::Date => &["date", "day", "spenddate", "reportdate"],
            Self::Amount => &[
                "amount",
                "spend",
                "cost",
                "totalcost",
                "amountspent",
                "costamount",
            ],
            Self::Currency => &["currency", "costcurrency", "currencycode"],
            Self::Rate => &["rate", "exchangerate", "fxrate"],
            Self::Impressions => &["impressions", "imps"],
            Self::Clicks => &["clicks"],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Lower case with everything but letters and digits removed, so that `Media Source`,
/// `media_source` and `{media_source}` compare equal.
pub fn normalize(column: &str) -> String {
    column
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Field to column index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mapping {
    /// By `Field` as an index: every row asks for most fields.
    columns: [Option<usize>; Field::ALL.len()],
}

impl Mapping {
    pub fn get(&self, field: Field) -> Option<usize> {
        self.columns[field as usize]
    }

    pub fn has(&self, field: Field) -> bool {
        self.columns[field as usize].is_some()
    }

    pub fn set(&mut self, field: Field, column: usize) {
        self.columns[field as usize] = Some(column);
    }

    pub fn remove(&mut self, field: Field) {
        self.columns[field as usize] = None;
    }

    /// Field name to column name, for the import log.
    pub fn describe(&self, columns: &[String]) -> BTreeMap<String, String> {
        Field::ALL
            .into_iter()
            .filter_map(|field| {
                let column = columns.get(self.get(field)?)?;
                Some((field.name().to_owned(), column.clone()))
            })
            .collect()
    }

    /// Recognises columns by name. Each column feeds at most one field; for each field
    /// the column whose name is its most specific alias wins.
    pub fn recognise(columns: &[String]) -> Self {
        let normalized: Vec<String> = columns.iter().map(|c| normalize(c)).collect();
        let mut mapping = Self::default();
        let mut used = vec![false; columns.len()];
        for field in Field::ALL {
            'aliases: for alias in field.aliases() {
                for (i, name) in normalized.iter().enumerate() {
                    if !used[i] && name == alias {
                        mapping.set(field, i);
                        used[i] = true;
                        break 'aliases;
                    }
                }
            }
        }
        mapping
    }

    /// The kind a file most likely holds, from the fields it has.
    pub fn infer_kind(&self) -> Option<FileKind> {
        if self.has(Field::Rate) {
            Some(FileKind::Rates)
        } else if self.has(Field::Amount) {
            Some(FileKind::Spend)
        } else if self.has(Field::SessionStart) {
            Some(FileKind::Sessions)
        } else if self.has(Field::EventTime) {
            Some(FileKind::Events)
        } else if self.has(Field::InstallTime) {
            Some(FileKind::Installs)
        } else {
            None
        }
    }

    /// Fields a kind cannot do without that this mapping lacks.
    pub fn missing_for(&self, kind: FileKind) -> Vec<Field> {
        required(kind)
            .iter()
            .copied()
            .filter(|f| !self.has(*f))
            .collect()
    }
}

/// The fields each kind of file must have.
pub fn required(kind: FileKind) -> &'static [Field] {
    match kind {
        FileKind::Sessions => &[Field::UserId, Field::SessionStart],
        FileKind::Events => &[Field::UserId, Field::EventTime],
        FileKind::Installs => &[Field::UserId, Field::InstallTime],
        FileKind::Spend => &[Field::Date, Field::Amount],
        FileKind::Rates => &[Field::Date, Field::Currency, Field::Rate],
        FileKind::Campaigns | FileKind::AdNetworks => &[],
    }
}

/// Every field a kind of file can use, required ones first.
pub fn fields_for(kind: FileKind) -> &'static [Field] {
    match kind {
        FileKind::Sessions => &[
            Field::UserId,
            Field::SessionStart,
            Field::SessionEnd,
            Field::Duration,
            Field::InstallTime,
            Field::Channel,
            Field::Campaign,
            Field::Country,
            Field::Platform,
            Field::AppVersion,
        ],
        FileKind::Events => &[
            Field::UserId,
            Field::EventTime,
            Field::EventName,
            Field::EventId,
            Field::InstallTime,
            Field::Channel,
            Field::Campaign,
            Field::Country,
            Field::Platform,
            Field::AppVersion,
        ],
        FileKind::Installs => &[
            Field::UserId,
            Field::InstallTime,
            Field::Channel,
            Field::Campaign,
            Field::Country,
            Field::Platform,
            Field::AppVersion,
        ],
        FileKind::Spend => &[
            Field::Date,
            Field::Amount,
            Field::Channel,
            Field::Campaign,
            Field::Currency,
            Field::Impressions,
            Field::Clicks,
        ],
        FileKind::Rates => &[Field::Date, Field::Currency, Field::Rate],
        FileKind::Campaigns | FileKind::AdNetworks => &[],
    }
}

/// Finds a column by its exact name, else ignoring case and punctuation.
pub fn find_column(columns: &[String], wanted: &str) -> Option<usize> {
    columns
        .iter()
        .position(|c| c == wanted)
        .or_else(|| columns.iter().position(|c| c.trim() == wanted.trim()))
        .or_else(|| {
            let wanted = normalize(wanted);
            columns.iter().position(|c| normalize(c) == wanted)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn recognises_the_intendo_session_table() {
        let columns = cols(&[
            "player_id",
            "session_id",
            "session_start",
            "session_duration",
            "n_iap",
        ]);
        let m = Mapping::recognise(&columns);
        assert_eq!(m.get(Field::UserId), Some(0));
        assert_eq!(m.get(Field::SessionStart), Some(2));
        assert_eq!(m.get(Field::Duration), Some(3));
        assert_eq!(m.get(Field::EventId), None);
        assert_eq!(m.infer_kind(), Some(FileKind::Sessions));
    }

    #[test]
    fn recognises_title_case_vendor_headers() {
        let columns = cols(&["AppsFlyer ID", "Install Time", "Media Source", "Campaign"]);
        let m = Mapping::recognise(&columns);
        assert_eq!(m.get(Field::UserId), Some(0));
        assert_eq!(m.get(Field::InstallTime), Some(1));
        assert_eq!(m.get(Field::Channel), Some(2));
        assert_eq!(m.get(Field::Campaign), Some(3));
        assert_eq!(m.infer_kind(), Some(FileKind::Installs));
    }

    #[test]
    fn spend_and_rates_are_told_apart() {
        let spend = Mapping::recognise(&cols(&["date", "channel", "campaign", "amount"]));
        assert_eq!(spend.infer_kind(), Some(FileKind::Spend));
        let rates = Mapping::recognise(&cols(&["date", "currency", "rate"]));
        assert_eq!(rates.infer_kind(), Some(FileKind::Rates));
        assert!(Mapping::recognise(&cols(&["a", "b"]))
            .infer_kind()
            .is_none());
    }
}
