//! Project settings: inactivity timeout, day convention, time zone, currency, data end and
//! excluded event names. Applying them recomputes in the background.

use egui::{Color32, Ui};

use crate::model::{DayConvention, Settings};
use crate::time::{format_utc, parse_instant};

/// The settings as edited, text until applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsDraft {
    pub timeout_minutes: u32,
    pub day: DayConvention,
    pub tz: String,
    pub currency: String,
    pub data_end: String,
    pub excluded_events: String,
}

impl SettingsDraft {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            timeout_minutes: settings.timeout_minutes,
            day: settings.day,
            tz: settings.tz.clone(),
            currency: settings.currency.clone(),
            data_end: settings.data_end_ms.map(format_utc).unwrap_or_default(),
            excluded_events: settings.excluded_events.join(", "),
        }
    }

    /// The settings, or what is wrong with the draft.
    pub fn to_settings(&self) -> Result<Settings, String> {
        let zone: chrono_tz::Tz = self.tz.trim().parse().map_err(|_| {
            format!(
                "{:?} is not an IANA time zone (for example Europe/Berlin)",
                self.tz
            )
        })?;
        let currency = self.currency.trim().to_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!(
                "{:?} is not a three-letter currency code",
                self.currency
            ));
        }
        let data_end_ms = match self.data_end.trim() {
            "" => None,
            text => Some(parse_instant(text, zone).ok_or_else(|| {
                format!("{text:?} is not a timestamp (for example 2015-12-31T23:59:00Z)")
            })?),
        };
        Ok(Settings {
            timeout_minutes: self.timeout_minutes.max(1),
            day: self.day,
            tz: zone.name().to_owned(),
            data_end_ms,
            currency,
            excluded_events: self
                .excluded_events
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// What the dialog's buttons asked for.
pub enum SettingsOutcome {
    Open,
    Cancel,
    Apply(Settings),
}

pub fn settings_ui(ui: &mut Ui, draft: &mut SettingsDraft) -> SettingsOutcome {
    egui::Grid::new("settings-grid")
        .num_columns(2)
        .spacing([16.0, 10.0])
        .show(ui, |ui| {
            let label = ui.label("Inactivity timeout");
            ui.add(
                egui::DragValue::new(&mut draft.timeout_minutes)
                    .range(1..=1440)
                    .suffix(" minutes"),
            )
            .labelled_by(label.id)
            .on_hover_text("A gap between events longer than this starts a new session");
            ui.end_row();

            ui.label("Day N");
            ui.vertical(|ui| {
                ui.radio_value(
                    &mut draft.day,
                    DayConvention::Window,
                    "window: whole 24-hour periods since the install",
                );
                ui.radio_value(
                    &mut draft.day,
                    DayConvention::Calendar,
                    "calendar: calendar days since the install date",
                );
            });
            ui.end_row();

            let label = ui.label("Reporting time zone");
            ui.add(
                egui::TextEdit::singleline(&mut draft.tz)
                    .hint_text("UTC, Europe/Berlin, America/New_York…"),
            )
            .labelled_by(label.id);
            ui.end_row();

            let label = ui.label("Currency");
            ui.add(egui::TextEdit::singleline(&mut draft.currency).desired_width(60.0))
                .labelled_by(label.id);
            ui.end_row();

            let label = ui.label("End of the data");
            ui.add(
                egui::TextEdit::singleline(&mut draft.data_end)
                    .hint_text("empty: the latest timestamp imported"),
            )
            .labelled_by(label.id);
            ui.end_row();

            let label = ui.label("Events that are not activity");
            ui.add(
                egui::TextEdit::singleline(&mut draft.excluded_events)
                    .hint_text("comma separated, e.g. push_received, background_fetch"),
            )
            .labelled_by(label.id);
            ui.end_row();
        });

    let checked = draft.to_settings();
    if let Err(problem) = &checked {
        ui.colored_label(Color32::from_rgb(220, 50, 50), problem);
    }
    ui.add_space(8.0);
    let mut outcome = SettingsOutcome::Open;
    ui.horizontal(|ui| {
        if ui
            .add_enabled(checked.is_ok(), egui::Button::new("Apply"))
            .clicked()
        {
            if let Ok(settings) = checked {
                outcome = SettingsOutcome::Apply(settings);
            }
        }
        if ui.button("Cancel").clicked() {
            outcome = SettingsOutcome::Cancel;
        }
    });
    outcome
}
