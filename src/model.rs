//! Plain data types shared by the importer, the store, the session builder and the metrics.
//!
//! Nothing here does I/O. Times are UTC instants in milliseconds since the Unix epoch
//! (`*_ms`); calendar dates are `NaiveDate`s that only mean something together with the
//! project's reporting time zone.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Milliseconds in 24 hours: the unit of day N in the `window` convention.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// How day N is counted (SPEC section 5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DayConvention {
    /// N = floor((session start - install time) / 24 h).
    #[default]
    Window,
    /// N = calendar date of the session minus calendar date of the install.
    Calendar,
}

impl DayConvention {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Window => "window",
            Self::Calendar => "calendar",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "window" => Some(Self::Window),
            "calendar" => Some(Self::Calendar),
            _ => None,
        }
    }
}

/// The period that groups installs into cohorts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    #[default]
    Day,
    /// ISO week, starting Monday.
    Week,
    Month,
}

impl Grain {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }
}

/// Project settings that change how rows become numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// A gap between two events longer than this starts a new session.
    pub timeout_minutes: u32,
    pub day: DayConvention,
    /// IANA name of the reporting time zone.
    pub tz: String,
    /// Set by the user; otherwise the latest timestamp imported is the end of the data.
    pub data_end_ms: Option<i64>,
    /// ISO code of the project's currency; spend in other currencies needs a rate.
    pub currency: String,
    /// Event names that do not count as activity.
    pub excluded_events: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            timeout_minutes: 30,
            day: DayConvention::Window,
            tz: "UTC".to_owned(),
            data_end_ms: None,
            currency: "USD".to_owned(),
            excluded_events: Vec::new(),
        }
    }
}

impl Settings {
    pub fn timeout_ms(&self) -> i64 {
        i64::from(self.timeout_minutes) * 60_000
    }

    /// The reporting zone. A name that is not a known IANA zone is refused when it is set,
    /// so falling back to UTC here only guards against a hand-edited project file.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.tz.parse().unwrap_or(chrono_tz::UTC)
    }
}

/// The kinds of file the importer reads (SPEC section 3, plus currency rates).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Sessions,
    Events,
    Installs,
    Spend,
    Rates,
    /// A lookup table of campaign ids (Tenjin DataVault `campaigns`).
    Campaigns,
    /// A lookup table of ad network ids (Tenjin DataVault `ad_networks`).
    AdNetworks,
}

impl FileKind {
    pub const ALL: [Self; 7] = [
        Self::Sessions,
        Self::Events,
        Self::Installs,
        Self::Spend,
        Self::Rates,
        Self::Campaigns,
        Self::AdNetworks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sessions => "sessions",
            Self::Events => "events",
            Self::Installs => "installs",
            Self::Spend => "spend",
            Self::Rates => "rates",
            Self::Campaigns => "campaigns",
            Self::AdNetworks => "ad_networks",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Who a user is and where they came from, as read from one row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    pub channel: String,
    pub campaign: String,
    pub country: String,
    pub platform: String,
    pub app_version: String,
}

impl Attributes {
    pub fn is_empty(&self) -> bool {
        self.channel.is_empty()
            && self.campaign.is_empty()
            && self.country.is_empty()
            && self.platform.is_empty()
            && self.app_version.is_empty()
    }
}

/// A row that tells something about a user: an install row, or a session or event row
/// that carries attributes. `time_ms` is the install time for install rows and the
/// session start or event time otherwise ("the user's earliest row that has it").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrRow {
    pub user: String,
    pub time_ms: i64,
    pub is_install: bool,
    /// The export leaves out the first launch: the install is also the first session.
    pub adds_session: bool,
    pub attrs: Attributes,
}

/// A session as given by a session row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub user: String,
    pub start_ms: i64,
    /// `None` when the row gave neither an end nor a duration: length unknown.
    pub end_ms: Option<i64>,
}

/// One activity event, to be turned into sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    pub user: String,
    pub time_ms: i64,
    pub name: Option<String>,
    pub event_id: Option<String>,
}

/// A row of a lookup table that names ids found in other files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupRow {
    pub kind: FileKind,
    pub id: String,
    pub name: String,
    /// For a campaign, its ad network's id.
    pub parent_id: Option<String>,
}

/// One spend row, amount in `currency` (the project's currency when `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct SpendRow {
    pub date: NaiveDate,
    pub channel: String,
    pub campaign: String,
    pub amount: f64,
    pub currency: Option<String>,
    pub impressions: Option<i64>,
    pub clicks: Option<i64>,
}

/// How many units of the project's currency one unit of `currency` was worth on `date`.
#[derive(Clone, Debug, PartialEq)]
pub struct RateRow {
    pub date: NaiveDate,
    pub currency: String,
    pub rate: f64,
}

/// A user as the metrics see them, after installs were resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub key: String,
    pub install_ms: i64,
    /// No install row: the install time is the first session's start.
    pub install_inferred: bool,
    /// Install rows after the first (distinct install times).
    pub reinstalls: u32,
    /// Shared by the users loaded with the same attributes: a project has far fewer
    /// combinations than users, and each loaded user then costs no strings of its own.
    pub attrs: Arc<Attributes>,
}

/// Where a built session came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionSource {
    Row = 0,
    Events = 1,
    /// The install, added as the first session by a preset option.
    Install = 2,
}

impl SessionSource {
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => Self::Events,
            2 => Self::Install,
            _ => Self::Row,
        }
    }
}

/// A session of a user, referencing `Dataset::users` by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub start_ms: i64,
    /// `Self::NO_END` when the length is unknown. An `Option<i64>` would make every
    /// session 32 bytes instead of 24: a third more memory to fill when a project loads.
    end_ms: i64,
    pub user: u32,
    pub source: SessionSource,
}

impl Session {
    /// No end: a time no export can hold (some 292 million years BC).
    const NO_END: i64 = i64::MIN;

    pub fn new(user: u32, start_ms: i64, end_ms: Option<i64>, source: SessionSource) -> Self {
        Self {
            start_ms,
            end_ms: end_ms.unwrap_or(Self::NO_END),
            user,
            source,
        }
    }

    /// The end, when the length is known.
    pub fn end_ms(&self) -> Option<i64> {
        (self.end_ms != Self::NO_END).then_some(self.end_ms)
    }

    pub fn length_ms(&self) -> Option<i64> {
        self.end_ms().map(|end| end - self.start_ms)
    }
}

/// Counts the session builder found while turning rows into users and sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildStats {
    pub users: u64,
    pub sessions: u64,
    pub inferred_installs: u64,
    pub reinstalls: u64,
    pub duplicate_events: u64,
    pub excluded_events: u64,
    pub sessions_before_install: u64,
    pub sessions_over_24h: u64,
    /// Installs added as the user's first session (presets of exports without it).
    #[serde(default)]
    pub install_sessions_added: u64,
    /// Users whose rows gave neither an install nor a session (for example every event
    /// of theirs is excluded from activity): they are not counted anywhere.
    pub users_without_activity: u64,
    /// Rows of a small group (a twentieth of all at most) that begins more than
    /// `LATE_AFTER_DAYS` days after every other row: most often rows with a wrong year,
    /// which move the end of the data and with it which cohorts count as mature.
    #[serde(default)]
    pub late_rows: u64,
    /// The end of the last day before that gap, when there are late rows.
    #[serde(default)]
    pub late_after_ms: i64,
}

/// How many days without rows set a late group apart (see `BuildStats::late_rows`).
pub const LATE_AFTER_DAYS: i64 = 30;

impl BuildStats {
    /// Adds the counts of another build (of other users) to these.
    pub fn absorb(&mut self, other: &Self) {
        let Self {
            users,
            sessions,
            inferred_installs,
            reinstalls,
            duplicate_events,
            excluded_events,
            sessions_before_install,
            sessions_over_24h,
            install_sessions_added,
            users_without_activity,
            // Set by the rebuild over all the rows, never by a part.
            late_rows: _,
            late_after_ms: _,
        } = other;
        self.users += users;
        self.sessions += sessions;
        self.inferred_installs += inferred_installs;
        self.reinstalls += reinstalls;
        self.duplicate_events += duplicate_events;
        self.excluded_events += excluded_events;
        self.sessions_before_install += sessions_before_install;
        self.sessions_over_24h += sessions_over_24h;
        self.install_sessions_added += install_sessions_added;
        self.users_without_activity += users_without_activity;
    }
}

/// One rejected input row: where, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub line: u64,
    /// A short category shared by rows rejected for the same reason.
    pub reason: String,
    /// The specifics: which column and value.
    pub detail: String,
}

/// What the import log remembers of one import.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportRecord {
    pub id: i64,
    pub file_name: String,
    pub file_path: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub kind: String,
    pub preset: Option<String>,
    /// Field name to column name.
    pub mapping: BTreeMap<String, String>,
    pub time_zone: String,
    pub duration_unit: Option<String>,
    pub on_bad_rows: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    /// Rows the preset reads but that carry nothing we count (ad clicks, other events).
    pub rows_ignored: u64,
    pub ignored_by_reason: BTreeMap<String, u64>,
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub rejected_examples: Vec<Rejection>,
    pub notes: Vec<String>,
    /// RFC 3339, UTC.
    pub imported_at: String,
}

/// Everything the metrics need, loaded from a project.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub settings: Settings,
    /// Sorted by key; `Session::user` indexes into this.
    pub users: Vec<User>,
    /// Sorted by user, then start, then end, then import order.
    pub sessions: Vec<Session>,
    pub spend: Vec<SpendRow>,
    pub rates: Vec<RateRow>,
    pub stats: BuildStats,
    /// The latest timestamp imported: session ends (starts where unknown), event times and
    /// install times.
    pub latest_ms: Option<i64>,
    /// Rows rejected by reason, over every import.
    pub rejected_by_reason: BTreeMap<String, u64>,
}

impl Dataset {
    /// The end of the data: the user's setting, else the latest timestamp imported.
    pub fn data_end_ms(&self) -> Option<i64> {
        self.settings.data_end_ms.or(self.latest_ms)
    }
}

/// Names for the campaign ids some exports carry instead of names (Tenjin), from the
/// imported lookup tables. Ids without an entry stay as they are, visibly unresolved.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    /// Campaign id -> (name, ad network id).
    pub campaigns: std::collections::HashMap<String, (String, Option<String>)>,
    /// Ad network id -> name.
    pub networks: std::collections::HashMap<String, String>,
}

impl Directory {
    /// Replaces a prefixed campaign id by its name, and an empty channel by its network.
    pub fn resolve(&self, prefix: &str, channel: &mut String, campaign: &mut String) {
        let Some(id) = campaign.strip_prefix(prefix) else {
            return;
        };
        let Some((name, network)) = self.campaigns.get(id) else {
            return;
        };
        if channel.is_empty() {
            if let Some(network) = network.as_ref().and_then(|n| self.networks.get(n)) {
                channel.clone_from(network);
            }
        }
        campaign.clone_from(name);
    }
}

/// Whether two texts are equal; for hot loops over texts that are often empty. An empty
/// `String` points at no memory, and glibc's `memcmp` for short lengths reads through
/// both pointers with every byte masked off, which this project's AMD machine handles so
/// slowly that an event file with empty attribute columns spent half its import in it.
pub fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

#[cfg(test)]
mod tests {
    use super::same_text;

    #[test]
    fn same_text_is_equality() {
        assert!(same_text("", ""));
        assert!(same_text("organic", "organic"));
        assert!(!same_text("", "organic"));
        assert!(!same_text("organic", ""));
        assert!(!same_text("paid_a", "paid_b"));
        assert!(!same_text("paid", "paid "));
    }
}
