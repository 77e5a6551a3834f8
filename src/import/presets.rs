//! Vendor presets: how the raw exports of attribution and analytics vendors map onto our
//! fields, detected from the header, and what their rows mean beyond plain columns.
//!
//! Column names are compared normalized (lower case, letters and digits only), so the
//! vendors' own spellings (`Media Source`, `{network_name}`, `traffic_source.source`)
//! all match. The rules come from the vendors' documented export columns.

use super::mapping::{normalize, Field, Mapping};
use crate::model::FileKind;

/// The exports we read without manual mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// AppsFlyer raw data: installs report, in-app events report, Data Locker sessions.
    AppsFlyer,
    /// AppsFlyer aggregate report with costs.
    AppsFlyerCost,
    /// Adjust raw CSV export (placeholders in braces).
    Adjust,
    /// Adjust report with costs (`day`, `network`, `campaign`, `cost`, `currency`).
    AdjustReport,
    /// Tenjin DataVault `events`.
    TenjinEvents,
    /// Tenjin DataVault `campaigns`.
    TenjinCampaigns,
    /// Tenjin DataVault `ad_networks`.
    TenjinAdNetworks,
    /// Tenjin DataVault `daily_spend` (amounts in cents).
    TenjinSpend,
    /// Firebase / GA4 BigQuery export flattened to CSV or JSON lines.
    Firebase,
    /// Amplitude export (JSON lines).
    Amplitude,
    /// Mixpanel export (JSON lines).
    Mixpanel,
    /// Ad-platform spend exports with the currency in the amount's header.
    AdSpend,
}

impl Preset {
    pub const ALL: [Self; 12] = [
        Self::AppsFlyer,
        Self::AppsFlyerCost,
        Self::Adjust,
        Self::AdjustReport,
        Self::TenjinEvents,
        Self::TenjinCampaigns,
        Self::TenjinAdNetworks,
        Self::TenjinSpend,
        Self::Firebase,
        Self::Amplitude,
        Self::Mixpanel,
        Self::AdSpend,
    ];

    /// The name used by `--preset` and in the import log.
    pub fn name(self) -> &'static str {
        match self {
            Self::AppsFlyer => "appsflyer",
            Self::AppsFlyerCost => "appsflyer-cost",
            Self::Adjust => "adjust",
            Self::AdjustReport => "adjust-report",
            Self::TenjinEvents => "tenjin-events",
            Self::TenjinCampaigns => "tenjin-campaigns",
            Self::TenjinAdNetworks => "tenjin-ad-networks",
            Self::TenjinSpend => "tenjin-spend",
            Self::Firebase => "firebase",
            Self::Amplitude => "amplitude",
            Self::Mixpanel => "mixpanel",
            Self::AdSpend => "ad-spend",
        }
    }

    /// The vendor's own name for the export.
    pub fn title(self) -> &'static str {
        match self {
            Self::AppsFlyer => "AppsFlyer raw data (installs, in-app events, Data Locker sessions)",
            Self::AppsFlyerCost => "AppsFlyer aggregate report with cost",
            Self::Adjust => "Adjust raw data export (CSV)",
            Self::AdjustReport => "Adjust report with cost",
            Self::TenjinEvents => "Tenjin DataVault events",
            Self::TenjinCampaigns => "Tenjin DataVault campaigns",
            Self::TenjinAdNetworks => "Tenjin DataVault ad_networks",
            Self::TenjinSpend => "Tenjin DataVault daily_spend",
            Self::Firebase => "Firebase / GA4 export (flattened CSV or JSON lines)",
            Self::Amplitude => "Amplitude export (JSON lines)",
            Self::Mixpanel => "Mixpanel export (JSON lines)",
            Self::AdSpend => "Ad-platform spend export (currency in the amount's header)",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name.trim().to_ascii_lowercase())
    }

    /// Normalized column names that together identify the export.
    fn signature(self) -> &'static [&'static str] {
        match self {
            Self::AppsFlyer => &["appsflyerid", "eventtime", "installtime", "mediasource"],
            Self::AppsFlyerCost => &["date", "mediasourcepid", "campaignc", "totalcost"],
            Self::Adjust => &["activitykind", "createdat", "adid"],
            Self::AdjustReport => &["day", "network", "campaign", "cost"],
            Self::TenjinEvents => &[
                "event",
                "createdat",
                "acquiredat",
                "advertisingid",
                "sourcecampaignid",
            ],
            Self::TenjinCampaigns => &["id", "name", "adnetworkid"],
            Self::TenjinAdNetworks => &["id", "name"],
            Self::TenjinSpend => &["date", "campaignid", "spend"],
            Self::Firebase => &["eventtimestamp", "userpseudoid", "eventname"],
            Self::Amplitude => &["eventtime", "eventtype", "deviceid"],
            Self::Mixpanel => &["event", "propertiestime", "propertiesdistinctid"],
            Self::AdSpend => &["amountspent"],
        }
    }
}

/// The preset whose signature the columns carry in full, most specific first.
pub fn detect(columns: &[String]) -> Option<Preset> {
    let names: Vec<String> = columns.iter().map(|c| normalize(c)).collect();
    let has = |n: &str| names.iter().any(|c| c == n);
    // Ad-platform headers carry the currency: "Amount spent (EUR)" -> amountspenteur.
    let ad_spend = names.iter().any(|c| c.starts_with("amountspent"));
    let order = [
        Preset::Adjust,
        Preset::AppsFlyer,
        Preset::AppsFlyerCost,
        Preset::TenjinEvents,
        Preset::TenjinCampaigns,
        Preset::TenjinSpend,
        Preset::Firebase,
        Preset::Mixpanel,
        Preset::Amplitude,
        Preset::AdjustReport,
    ];
    if let Some(found) = order
        .into_iter()
        .find(|p| p.signature().iter().all(|n| has(n)))
    {
        return Some(found);
    }
    if ad_spend {
        return Some(Preset::AdSpend);
    }
    // Two columns named id and name and little else: Tenjin's ad_networks table.
    (has("id") && has("name") && names.len() <= 4).then_some(Preset::TenjinAdNetworks)
}

/// The preset sharing most of its signature with the columns, for a refusal's hint.
pub fn nearest(columns: &[String]) -> Option<Preset> {
    let names: Vec<String> = columns.iter().map(|c| normalize(c)).collect();
    Preset::ALL
        .into_iter()
        .map(|p| {
            let hits = p
                .signature()
                .iter()
                .filter(|n| names.iter().any(|c| c == *n))
                .count();
            (p, hits)
        })
        .filter(|(_, hits)| *hits > 0)
        .max_by_key(|(p, hits)| (*hits, std::cmp::Reverse(p.signature().len())))
        .map(|(p, _)| p)
}

/// What a row's key column says it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// An event-name column: these names are installs, the rest activity (or, with
    /// `activity_only`, only those names are activity and the rest are ignored).
    EventNames {
        column: usize,
        installs: &'static [&'static str],
        activity_only: Option<&'static [&'static str]>,
    },
    /// Adjust's `activity_kind`: install rows, session rows, the rest ignored.
    Adjust { column: usize },
}

/// How a preset's rows differ from plain ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    pub preset: Option<Preset>,
    pub row_kind: Option<RowKind>,
    /// A second user-id column for rows whose first is empty or all zeros.
    pub user_fallback: Option<usize>,
    /// Adjust's tracker name, `Network::Campaign::Adgroup::Creative`.
    pub tracker: Option<usize>,
    /// Spend columns on event rows (Adjust `{cost_amount}`, `{cost_currency}`).
    pub cost: Option<(usize, Option<usize>)>,
    /// Campaign ids resolved later through imported lookup tables (Tenjin).
    pub campaign_ids: bool,
    /// A lookup table's columns: id, name and the parent id (campaign -> ad network).
    pub lookup: Option<(usize, usize, Option<usize>)>,
    pub amount_in_cents: bool,
    /// The currency named in the amount's header.
    pub header_currency: Option<String>,
    /// The install is also the user's first session (exports that leave it out).
    pub install_as_session: bool,
}

/// Applies a preset: sets its mapping (over what was recognised) and returns its rules
/// and kind.
pub fn apply(preset: Preset, columns: &[String], mapping: &mut Mapping) -> (FileKind, Rules) {
    let names: Vec<String> = columns.iter().map(|c| normalize(c)).collect();
    let find = |candidates: &[&str]| {
        candidates
            .iter()
            .find_map(|n| names.iter().position(|c| c == n))
    };
    let mut set = |field: Field, candidates: &[&str]| {
        if let Some(i) = find(candidates) {
            mapping.set(field, i);
        }
    };
    let mut rules = Rules {
        preset: Some(preset),
        ..Rules::default()
    };
    let kind = match preset {
        Preset::AppsFlyer => {
            set(Field::UserId, &["appsflyerid"]);
            set(Field::EventTime, &["eventtime"]);
            set(Field::InstallTime, &["installtime"]);
            set(Field::EventName, &["eventname"]);
            set(Field::Channel, &["mediasource", "partner"]);
            set(Field::Campaign, &["campaign"]);
            set(Field::Country, &["countrycode"]);
            set(Field::Platform, &["platform"]);
            set(Field::AppVersion, &["appversion"]);
            rules.row_kind = find(&["eventname"]).map(|column| RowKind::EventNames {
                column,
                installs: &["install", "re-install", "reinstall"],
                activity_only: None,
            });
            rules.install_as_session = true;
            FileKind::Events
        }
        Preset::Adjust => {
            set(Field::UserId, &["adid"]);
            set(Field::EventTime, &["createdat"]);
            set(Field::InstallTime, &["installedat"]);
            set(Field::Channel, &["networkname"]);
            set(Field::Campaign, &["campaignname"]);
            set(Field::Country, &["country"]);
            set(Field::Platform, &["osname"]);
            set(Field::AppVersion, &["appversion", "appversionshort"]);
            rules.row_kind = find(&["activitykind"]).map(|column| RowKind::Adjust { column });
            rules.tracker = find(&["trackername"]);
            rules.cost = find(&["costamount"]).map(|amount| (amount, find(&["costcurrency"])));
            rules.install_as_session = true;
            FileKind::Events
        }
        Preset::TenjinEvents => {
            set(Field::UserId, &["advertisingid"]);
            set(Field::EventTime, &["createdat"]);
            set(Field::InstallTime, &["acquiredat"]);
            set(Field::EventName, &["event"]);
            set(Field::Campaign, &["sourcecampaignid"]);
            set(Field::Country, &["country"]);
            set(Field::Platform, &["platform"]);
            set(Field::AppVersion, &["appversion"]);
            rules.user_fallback = find(&["developerdeviceid"]);
            rules.campaign_ids = true;
            rules.row_kind = find(&["event"]).map(|column| RowKind::EventNames {
                column,
                installs: &[],
                activity_only: Some(&["open"]),
            });
            FileKind::Events
        }
        Preset::TenjinCampaigns => {
            rules.lookup = find(&["id"])
                .zip(find(&["name"]))
                .map(|(id, name)| (id, name, find(&["adnetworkid"])));
            FileKind::Campaigns
        }
        Preset::TenjinAdNetworks => {
            rules.lookup = find(&["id"])
                .zip(find(&["name"]))
                .map(|(id, name)| (id, name, None));
            FileKind::AdNetworks
        }
        Preset::TenjinSpend => {
            set(Field::Date, &["date"]);
            set(Field::Campaign, &["campaignid"]);
            set(Field::Amount, &["spend"]);
            rules.amount_in_cents = true;
            rules.campaign_ids = true;
            FileKind::Spend
        }
        Preset::Firebase => {
            set(Field::UserId, &["userpseudoid"]);
            set(Field::EventTime, &["eventtimestamp"]);
            set(Field::EventName, &["eventname"]);
            set(Field::Channel, &["trafficsourcesource"]);
            set(Field::Campaign, &["trafficsourcename"]);
            set(Field::Country, &["geocountry"]);
            set(Field::Platform, &["platform"]);
            set(Field::AppVersion, &["appinfoversion"]);
            rules.row_kind = find(&["eventname"]).map(|column| RowKind::EventNames {
                column,
                installs: &["first_open"],
                activity_only: None,
            });
            FileKind::Events
        }
        Preset::Amplitude => {
            set(Field::UserId, &["userid"]);
            set(Field::EventTime, &["eventtime"]);
            set(Field::EventName, &["eventtype"]);
            set(Field::EventId, &["insertid", "uuid"]);
            set(Field::Country, &["country"]);
            set(Field::Platform, &["platform"]);
            set(Field::AppVersion, &["versionname"]);
            set(Field::Channel, &["userpropertiesutmsource", "utmsource"]);
            set(
                Field::Campaign,
                &["userpropertiesutmcampaign", "utmcampaign"],
            );
            rules.user_fallback = find(&["deviceid"]);
            FileKind::Events
        }
        Preset::Mixpanel => {
            set(Field::UserId, &["propertiesdistinctid"]);
            set(
                Field::EventTime,
                &["propertiestime", "propertiestimeinms", "timeinms"],
            );
            set(Field::EventName, &["event"]);
            set(Field::EventId, &["propertiesinsertid"]);
            set(Field::Channel, &["propertiesutmsource"]);
            set(Field::Campaign, &["propertiesutmcampaign"]);
            set(Field::Country, &["propertiesmpcountrycode"]);
            set(Field::Platform, &["propertiesos"]);
            set(
                Field::AppVersion,
                &["propertiesappversionstring", "propertiesappversion"],
            );
            FileKind::Events
        }
        Preset::AppsFlyerCost => {
            set(Field::Date, &["date"]);
            set(Field::Channel, &["mediasourcepid"]);
            set(Field::Campaign, &["campaignc"]);
            set(Field::Amount, &["totalcost"]);
            FileKind::Spend
        }
        Preset::AdjustReport => {
            set(Field::Date, &["day"]);
            set(Field::Channel, &["network"]);
            set(Field::Campaign, &["campaign"]);
            set(Field::Amount, &["cost"]);
            set(Field::Currency, &["currency"]);
            FileKind::Spend
        }
        Preset::AdSpend => {
            set(
                Field::Date,
                &["day", "date", "reportingstarts", "reportingstart"],
            );
            set(Field::Campaign, &["campaignname", "campaign"]);
            set(
                Field::Channel,
                &["platform", "publisherplatform", "channel", "network"],
            );
            if let Some(i) = names.iter().position(|c| c.starts_with("amountspent")) {
                mapping.set(Field::Amount, i);
                rules.header_currency = currency_in_header(&columns[i]);
            }
            FileKind::Spend
        }
    };
    (kind, rules)
}

/// `Amount spent (EUR)` -> `EUR`.
fn currency_in_header(header: &str) -> Option<String> {
    let inside = header.rsplit_once('(')?.1.split_once(')')?.0.trim();
    (inside.len() == 3 && inside.chars().all(|c| c.is_ascii_alphabetic()))
        .then(|| inside.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn vendor_headers_are_recognised() {
        let cases: [(&[&str], Preset); 8] = [
            (
                &[
                    "AppsFlyer ID",
                    "Event Time",
                    "Event Name",
                    "Install Time",
                    "Media Source",
                    "Campaign",
                ],
                Preset::AppsFlyer,
            ),
            (
                &[
                    "{activity_kind}",
                    "{created_at}",
                    "{installed_at}",
                    "{adid}",
                    "{network_name}",
                ],
                Preset::Adjust,
            ),
            (
                &[
                    "event",
                    "created_at",
                    "acquired_at",
                    "advertising_id",
                    "developer_device_id",
                    "source_campaign_id",
                ],
                Preset::TenjinEvents,
            ),
            (
                &[
                    "event_date",
                    "event_timestamp",
                    "event_name",
                    "user_pseudo_id",
                    "traffic_source.source",
                ],
                Preset::Firebase,
            ),
            (
                &[
                    "event",
                    "properties.time",
                    "properties.distinct_id",
                    "properties.$insert_id",
                ],
                Preset::Mixpanel,
            ),
            (
                &[
                    "event_time",
                    "user_id",
                    "device_id",
                    "event_type",
                    "session_id",
                ],
                Preset::Amplitude,
            ),
            (
                &["Date", "Media Source (pid)", "Campaign (c)", "Total Cost"],
                Preset::AppsFlyerCost,
            ),
            (
                &["Campaign name", "Day", "Amount spent (EUR)"],
                Preset::AdSpend,
            ),
        ];
        for (columns, preset) in cases {
            assert_eq!(detect(&cols(columns)), Some(preset), "{columns:?}");
        }
        assert_eq!(detect(&cols(&["user_id", "session_start"])), None);
    }

    #[test]
    fn nearest_preset_and_header_currency() {
        assert_eq!(
            nearest(&cols(&["AppsFlyer ID", "foo"])),
            Some(Preset::AppsFlyer)
        );
        assert_eq!(nearest(&cols(&["nothing", "here"])), None);
        assert_eq!(
            currency_in_header("Amount spent (eur)"),
            Some("EUR".to_owned())
        );
        assert_eq!(currency_in_header("Amount spent"), None);
    }
}
