//! The global filter bar: install date range, channel, campaign, country, platform and app
//! version. Always visible; every view's query carries the filter it produces.

use chrono::NaiveDate;
use egui::{Color32, ComboBox, Ui};
use serde::{Deserialize, Serialize};

use crate::metrics::{Facets, Filter};

/// What the user typed and picked; dates stay text until they parse.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterState {
    pub from: String,
    pub to: String,
    pub channel: Option<String>,
    pub campaign: Option<String>,
    pub country: Option<String>,
    pub platform: Option<String>,
    pub app_version: Option<String>,
}

impl FilterState {
    /// The filter for queries; a date that does not parse is ignored (and shown in red).
    pub fn filter(&self) -> Filter {
        Filter {
            install_from: parse_date(&self.from),
            install_to: parse_date(&self.to),
            channel: self.channel.clone(),
            campaign: self.campaign.clone(),
            country: self.country.clone(),
            platform: self.platform.clone(),
            app_version: self.app_version.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// Draws the bar. Returns true when anything changed.
pub fn filter_bar_ui(ui: &mut Ui, state: &mut FilterState, facets: &Facets) -> bool {
    let before = state.clone();
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Installed from");
        date_edit_ui(
            ui,
            &mut state.from,
            facets.first_install,
            "filter-from",
            label.id,
        );
        let label = ui.label("to");
        date_edit_ui(
            ui,
            &mut state.to,
            facets.last_install,
            "filter-to",
            label.id,
        );
        ui.separator();

        choice_ui(ui, "Channel", &mut state.channel, &facets.channels);
        let campaigns: Vec<String> = facets
            .campaigns
            .iter()
            .filter(|(channel, _)| {
                state
                    .channel
                    .as_ref()
                    .is_none_or(|c| c.trim().eq_ignore_ascii_case(channel.trim()))
            })
            .map(|(_, campaign)| campaign.clone())
            .collect();
        choice_ui(ui, "Campaign", &mut state.campaign, &campaigns);
        choice_ui(ui, "Country", &mut state.country, &facets.countries);
        choice_ui(ui, "Platform", &mut state.platform, &facets.platforms);
        choice_ui(
            ui,
            "App version",
            &mut state.app_version,
            &facets.app_versions,
        );

        if ui
            .add_enabled(!state.is_empty(), egui::Button::new("Clear filters"))
            .clicked()
        {
            *state = FilterState::default();
        }
    });
    // A campaign of another channel would select nobody.
    if state.channel != before.channel && before.channel.is_some() {
        state.campaign = None;
    }
    *state != before
}

fn date_edit_ui(
    ui: &mut Ui,
    text: &mut String,
    hint: Option<NaiveDate>,
    id: &str,
    label: egui::Id,
) {
    let valid = text.trim().is_empty() || parse_date(text).is_some();
    let hint = hint.map_or_else(|| "YYYY-MM-DD".to_owned(), |d| d.to_string());
    let mut edit = egui::TextEdit::singleline(text)
        .id_salt(id)
        .hint_text(hint)
        .desired_width(86.0);
    if !valid {
        edit = edit.text_color(Color32::from_rgb(220, 50, 50));
    }
    ui.add(edit).labelled_by(label).on_hover_text(if valid {
        "Install date (YYYY-MM-DD); empty for no limit"
    } else {
        "Not a date: write YYYY-MM-DD"
    });
}

fn choice_ui(ui: &mut Ui, label: &str, value: &mut Option<String>, options: &[String]) {
    let shown = value.clone().unwrap_or_else(|| "All".to_owned());
    let label_id = ui.label(label).id;
    let combo = ComboBox::from_id_salt(("filter", label))
        .selected_text(shown)
        .width(120.0)
        .show_ui(ui, |ui| {
            ui.selectable_value(value, None, "All");
            for option in options {
                ui.selectable_value(value, Some(option.clone()), option);
            }
        });
    let _ = combo.response.labelled_by(label_id);
}
