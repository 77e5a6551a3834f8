//! Sessions: histograms of session length, time between sessions and sessions per user,
//! with the fixed bins of SPEC section 6, optionally split by channel or campaign.

use egui::Ui;
use egui_plot::{Bar, BarChart, Legend};
use serde::{Deserialize, Serialize};

use super::overview::bin_label;
use super::{save_plot_button_ui, table_buttons_ui, Action, TableData};
use crate::metrics::{Distributions, GroupBy, Histogram};

/// The choices of the Sessions view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsState {
    pub split: GroupBy,
    /// Shares of each group instead of counts, so groups of different size compare.
    pub shares: bool,
}

impl Default for SessionsState {
    fn default() -> Self {
        Self {
            split: GroupBy::None,
            shares: true,
        }
    }
}

pub fn controls_ui(ui: &mut Ui, state: &mut SessionsState) {
    ui.horizontal(|ui| {
        ui.label("Split by");
        ui.selectable_value(&mut state.split, GroupBy::None, "nothing");
        ui.selectable_value(&mut state.split, GroupBy::Channel, "channel");
        ui.selectable_value(&mut state.split, GroupBy::Campaign, "campaign");
        ui.separator();
        ui.checkbox(&mut state.shares, "Show shares (%)");
        ui.weak("· split views show the six largest groups under the filters");
    });
}

/// Which histogram of a group's distributions a plot shows.
type PickHistogram = fn(&Distributions) -> &Histogram;

pub fn sessions_ui(
    ui: &mut Ui,
    state: &SessionsState,
    parts: &[(String, Distributions)],
    actions: &mut Vec<Action>,
) {
    let height = ((ui.available_height() - 100.0) / 3.0).max(120.0);
    let histograms: [(&str, &str, &str, PickHistogram); 3] = [
        (
            "session-length",
            "session length (seconds)",
            "sessions",
            |d| &d.session_length,
        ),
        (
            "time-between-sessions",
            "time between sessions",
            "gaps",
            |d| &d.time_between_sessions,
        ),
        (
            "sessions-per-user",
            "sessions per user (any day)",
            "users",
            |d| &d.sessions_per_user,
        ),
    ];
    egui::ScrollArea::vertical()
        .id_salt("sessions-scroll")
        .show(ui, |ui| {
            for (name, x_label, counted, pick) in histograms {
                ui.horizontal(|ui| {
                    ui.strong(x_label);
                    table_buttons_ui(ui, name, || histogram_table(parts, pick), actions);
                });
                if parts.iter().all(|(_, d)| pick(d).total() == 0) {
                    super::nothing_to_plot_ui(
                        ui,
                        height,
                        &format!("No {counted} to count under these filters"),
                    );
                    ui.add_space(6.0);
                    continue;
                }
                let labels: Vec<&'static str> = parts
                    .first()
                    .map(|(_, d)| pick(d).labels.clone())
                    .unwrap_or_default();
                let width = 0.8 / parts.len().max(1) as f64;
                let y_label = if state.shares {
                    format!("share of {counted} (%)")
                } else {
                    counted.to_owned()
                };
                let response = ui.scope(|ui| {
                    super::chart(name)
                        .height(height)
                        .legend(Legend::default())
                        .x_axis_label(x_label)
                        .y_axis_label(y_label)
                        .x_axis_formatter(move |mark, _| bin_label(&labels, mark.value))
                        .allow_zoom(false)
                        .allow_drag(false)
                        .allow_scroll(false)
                        .show(ui, |plot| {
                            for (i, (group, distributions)) in parts.iter().enumerate() {
                                let histogram = pick(distributions);
                                let total = histogram.total().max(1) as f64;
                                let bars: Vec<Bar> = histogram
                                    .counts
                                    .iter()
                                    .zip(&histogram.labels)
                                    .enumerate()
                                    .map(|(bin, (&count, label))| {
                                        #[allow(clippy::cast_precision_loss)]
                                        let x = bin as f64 - 0.4 + width * (i as f64 + 0.5);
                                        #[allow(clippy::cast_precision_loss)]
                                        let y = if state.shares {
                                            100.0 * count as f64 / total
                                        } else {
                                            count as f64
                                        };
                                        Bar::new(x, y)
                                            .width(width * 0.95)
                                            .name(format!("{group}: {label}"))
                                    })
                                    .collect();
                                plot.bar_chart(BarChart::new(group.clone(), bars));
                            }
                        })
                });
                save_plot_button_ui(ui, name, response.response.rect, actions);
                ui.add_space(6.0);
            }
        });
}

fn histogram_table(
    parts: &[(String, Distributions)],
    pick: fn(&Distributions) -> &Histogram,
) -> TableData {
    let mut header = vec!["bin".to_owned()];
    header.extend(parts.iter().map(|(name, _)| name.clone()));
    let labels = parts
        .first()
        .map(|(_, d)| pick(d).labels.clone())
        .unwrap_or_default();
    let rows = labels
        .iter()
        .enumerate()
        .map(|(bin, label)| {
            let mut row = vec![(*label).to_owned()];
            row.extend(
                parts
                    .iter()
                    .map(|(_, d)| pick(d).counts.get(bin).copied().unwrap_or(0).to_string()),
            );
            row
        })
        .collect();
    TableData { header, rows }
}
