//! A realistic demo project from a fixed seed: 90 days of installs over eight channels and
//! forty campaigns of visibly different quality, daily spend per campaign, and about
//! 200,000 sessions with decaying return rates and log-normal lengths.

use std::path::Path;

use anyhow::{bail, Result};
use chrono::{NaiveDate, TimeZone, Utc};

use crate::model::{AttrRow, Attributes, ImportRecord, SessionRow, SpendRow, DAY_MS};
use crate::store::Project;

const SEED: u64 = 0x00C0_FFEE_2026;
const INSTALL_DAYS: i64 = 90;
/// Activity is simulated this many days past the last install day, so the latest
/// cohorts are visibly immature for D30.
const TRAILING_DAYS: i64 = 21;

/// What the demo wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub users: u64,
    pub sessions: u64,
    pub spend_rows: u64,
}

/// A campaign's character: how many installs a day, what they cost, how well users stay.
struct Campaign {
    channel: &'static str,
    name: String,
    installs_per_day: f64,
    cpi: f64,
    /// Multiplies the return probability; 1 is typical.
    stickiness: f64,
    /// Median session length in seconds.
    median_length_s: f64,
}

/// SplitMix64: small, fast and fully determined by the seed (the demo, the benchmark and
/// the fuzzer all draw from it).
pub struct Rng(u64);

impl Rng {
    pub fn seeded(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64().checked_rem(n).unwrap_or(0)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // 53 bits are exact
        let value = (self.next_u64() >> 11) as f64;
        value / (1u64 << 53) as f64
    }

    fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = (self.unit() * items.len() as f64) as usize;
        &items[index.min(items.len() - 1)]
    }

    fn normal(&mut self) -> f64 {
        // Box-Muller; 1 - unit() is never 0.
        let (u, v) = (1.0 - self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Poisson by counting uniform products (means here are small).
    fn poisson(&mut self, mean: f64) -> u64 {
        let limit = (-mean).exp();
        let mut product = self.unit();
        let mut count = 0;
        while product > limit {
            product *= self.unit();
            count += 1;
        }
        count
    }

    /// Extra sessions on an active day: geometric with continuation probability `p`.
    fn extra(&mut self, p: f64) -> u64 {
        let mut n = 0;
        while n < 8 && self.unit() < p {
            n += 1;
        }
        n
    }
}

fn campaigns(rng: &mut Rng) -> Vec<Campaign> {
    // (channel, campaigns, installs a day per campaign, base CPI)
    let channels: [(&'static str, usize, f64, f64); 7] = [
        ("Google Ads", 6, 9.0, 2.4),
        ("Facebook", 6, 8.0, 2.9),
        ("TikTok", 6, 7.0, 1.7),
        ("Unity Ads", 6, 6.0, 1.2),
        ("AppLovin", 6, 6.0, 1.1),
        ("ironSource", 5, 5.0, 0.9),
        ("Apple Search Ads", 5, 4.0, 3.8),
    ];
    let themes = [
        "Brand",
        "Puzzle_US",
        "Lookalike",
        "Retarget",
        "Video_T1",
        "Playable",
    ];
    let mut list = vec![Campaign {
        channel: "",
        name: String::new(),
        installs_per_day: 60.0,
        cpi: 0.0,
        stickiness: 1.1,
        median_length_s: 260.0,
    }];
    for (channel, count, installs, cpi) in channels {
        for (i, theme) in themes.iter().take(count).enumerate() {
            // Every channel has one cheap campaign whose users barely return, the kind QA
            // hunts for; the others spread around typical quality.
            let poor = i == count - 1;
            list.push(Campaign {
                channel,
                name: format!("{}_{theme}_{:02}", channel.replace(' ', ""), i + 1),
                installs_per_day: installs * rng.range(0.6, 1.4) * if poor { 1.8 } else { 1.0 },
                cpi: cpi * if poor { 0.35 } else { rng.range(0.75, 1.35) },
                stickiness: if poor { 0.18 } else { rng.range(0.55, 1.45) },
                median_length_s: if poor { 25.0 } else { rng.range(150.0, 330.0) },
            });
        }
    }
    list
}

/// Writes the demo into a new project at `path`.
pub fn write_demo(path: &Path) -> Result<DemoSummary> {
    if path.exists() {
        bail!(
            "{}: a file already exists there; the demo writes a new project",
            path.display()
        );
    }
    let mut project = Project::create(path)?;
    let summary = fill(&mut project).inspect_err(|_| {
        // The transaction rolled back; an empty project is no use to anyone.
        let _ = std::fs::remove_file(path);
    })?;
    log::info!(
        "wrote demo project {}: {} users, {} sessions",
        path.display(),
        summary.users,
        summary.sessions
    );
    Ok(summary)
}

fn fill(project: &mut Project) -> Result<DemoSummary> {
    let mut rng = Rng::seeded(SEED);
    let campaigns = campaigns(&mut rng);
    let first_day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default();
    let start_ms = Utc
        .from_utc_datetime(&first_day.and_time(chrono::NaiveTime::MIN))
        .timestamp_millis();
    let end_ms = start_ms + (INSTALL_DAYS + TRAILING_DAYS) * DAY_MS;
    let countries = ["US", "US", "US", "DE", "GB", "BR", "JP", "IN", "FR", "CA"];
    let platforms = ["ios", "android", "android"];

    let record = ImportRecord {
        // One line of the import log for three kinds of rows: its name says so, as the rows
        // read count them all.
        file_name: "demo data (generated installs, sessions and spend)".to_owned(),
        file_path: String::new(),
        sha256: format!("demo-{SEED:x}"),
        kind: "sessions".to_owned(),
        preset: Some("demo".to_owned()),
        time_zone: "UTC".to_owned(),
        on_bad_rows: "abort".to_owned(),
        imported_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ..ImportRecord::default()
    };
    let mut writer = project.begin_import(&record)?;
    let mut summary = DemoSummary::default();
    let mut line = 0u64;

    for day in 0..INSTALL_DAYS {
        let date = first_day + chrono::Duration::days(day);
        // Weekends bring more installs; a slow ramp-up shows growth over the quarter.
        let weekend = matches!(
            chrono::Datelike::weekday(&date),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        #[allow(clippy::cast_precision_loss)]
        let seasonal =
            (if weekend { 1.25 } else { 1.0 }) * (0.8 + 0.4 * day as f64 / INSTALL_DAYS as f64);
        for campaign in &campaigns {
            let installs = rng.poisson(campaign.installs_per_day * seasonal / 2.2);
            for _ in 0..installs {
                line += 1;
                #[allow(clippy::cast_possible_truncation)]
                let install_ms = start_ms + day * DAY_MS + (rng.unit() * DAY_MS as f64) as i64;
                let user = format!("u{line:06}");
                let version = if day < 30 {
                    "3.1.0"
                } else if day < 60 {
                    "3.2.0"
                } else {
                    "3.3.1"
                };
                writer.user_row(
                    line,
                    &AttrRow {
                        user: user.clone(),
                        time_ms: install_ms,
                        is_install: true,
                        adds_session: false,
                        attrs: Attributes {
                            channel: campaign.channel.to_owned(),
                            campaign: campaign.name.clone(),
                            country: (*rng.pick(&countries)).to_owned(),
                            platform: (*rng.pick(&platforms)).to_owned(),
                            app_version: version.to_owned(),
                        },
                    },
                )?;
                summary.users += 1;
                summary.sessions += user_sessions(
                    &mut rng,
                    &mut writer,
                    &user,
                    campaign,
                    install_ms,
                    end_ms,
                    line,
                )?;
            }
            if installs > 0 && !campaign.channel.is_empty() {
                #[allow(clippy::cast_precision_loss)]
                let amount = (installs as f64 * campaign.cpi * rng.range(0.85, 1.15) * 100.0)
                    .round()
                    / 100.0;
                writer.spend(
                    line,
                    &SpendRow {
                        date,
                        channel: campaign.channel.to_owned(),
                        campaign: campaign.name.clone(),
                        amount,
                        currency: None,
                        impressions: None,
                        clicks: None,
                    },
                )?;
                summary.spend_rows += 1;
            }
        }
    }

    let done = ImportRecord {
        rows_read: summary.users + summary.sessions + summary.spend_rows,
        rows_accepted: summary.users + summary.sessions + summary.spend_rows,
        notes: vec![format!("generated from seed {SEED:#x}")],
        ..record
    };
    writer.finish(&done)?;
    Ok(summary)
}

/// Writes one user's sessions: the first at the install, then days with decaying odds.
#[allow(clippy::too_many_arguments)]
fn user_sessions(
    rng: &mut Rng,
    writer: &mut crate::store::ImportWriter<'_>,
    user: &str,
    campaign: &Campaign,
    install_ms: i64,
    end_ms: i64,
    line: u64,
) -> Result<u64> {
    let mut count = 0;
    let mut write = |rng: &mut Rng, start_ms: i64| -> Result<()> {
        let length_s = (campaign.median_length_s.ln() + 0.9 * rng.normal())
            .exp()
            .min(4.0 * 3600.0);
        #[allow(clippy::cast_possible_truncation)]
        let end = start_ms + (length_s * 1000.0) as i64;
        if start_ms < end_ms {
            writer.session(
                line,
                &SessionRow {
                    user: user.to_owned(),
                    start_ms,
                    end_ms: Some(end.min(end_ms)),
                },
            )?;
            count += 1;
        }
        Ok(())
    };

    write(rng, install_ms)?;
    for _ in 0..rng.extra(0.35) {
        #[allow(clippy::cast_possible_truncation)]
        let offset = (rng.range(0.05, 0.95) * DAY_MS as f64) as i64;
        write(rng, install_ms + offset)?;
    }
    let mut day = 1;
    while install_ms + day * DAY_MS < end_ms {
        #[allow(clippy::cast_precision_loss)]
        let odds = (campaign.stickiness * 0.55 * (day as f64).powf(-0.5)).min(0.95);
        if rng.unit() < odds {
            for _ in 0..=rng.extra(0.4) {
                #[allow(clippy::cast_possible_truncation)]
                let offset = (rng.unit() * DAY_MS as f64) as i64;
                write(rng, install_ms + day * DAY_MS + offset)?;
            }
        }
        day += 1;
    }
    Ok(count)
}
