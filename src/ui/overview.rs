//! Overview: the headline numbers for the current filters.

use egui::Ui;
use egui_plot::{Bar, BarChart};

use super::{
    fmt_count, fmt_duration, fmt_money, fmt_opt, fmt_percent, save_plot_button_ui, stat_ui, Action,
};
use crate::metrics::{Distributions, Report};

pub fn overview_ui(
    ui: &mut Ui,
    all: &Report,
    distributions: &Distributions,
    actions: &mut Vec<Action>,
) {
    let Some(group) = all.groups.first().filter(|g| g.installs > 0) else {
        ui.heading("Overview");
        ui.add_space(12.0);
        ui.label("No users here yet.");
        ui.weak("Import session, event or install files with Project > Import files (Ctrl+I), or drop them on the window; if filters are set, clear them.");
        return;
    };
    let day = |n| group.day(n);

    ui.heading("Overview");
    ui.add_space(6.0);
    egui::Grid::new("overview-headlines")
        .num_columns(5)
        .spacing([36.0, 14.0])
        .show(ui, |ui| {
            stat_ui(
                ui,
                "Installs",
                &fmt_count(group.installs),
                "Users whose install falls in the filters",
            );
            stat_ui(
                ui,
                "Sessions",
                &fmt_count(group.sessions),
                "Sessions starting at or after the install",
            );
            stat_ui(
                ui,
                "Spend",
                &fmt_money(group.spend),
                "Spend matched to these installs",
            );
            stat_ui(ui, "CPI", &fmt_money(group.cpi), "Spend / installs");
            stat_ui(
                ui,
                "CPM D7 sessions",
                &fmt_money(day(7).and_then(|d| d.cpm_sessions)),
                "1000 x spend / sessions through day 7 (mature cohort dates only)",
            );
            ui.end_row();

            for n in [1, 7, 30] {
                stat_ui(
                    ui,
                    &format!("Sessions per user D{n}"),
                    &fmt_opt(day(n).and_then(|d| d.sessions_per_user), 2),
                    "Sessions on days 0..N / users (cumulative; mature cohort dates only)",
                );
            }
            stat_ui(
                ui,
                "Avg session length",
                &fmt_duration(group.avg_session_length_s),
                "Mean of known session lengths",
            );
            stat_ui(
                ui,
                "Median / P90 length",
                &format!(
                    "{} / {}",
                    fmt_duration(group.median_session_length_s),
                    fmt_duration(group.p90_session_length_s)
                ),
                "Median and 90th percentile of known session lengths",
            );
            ui.end_row();

            for n in [1, 7, 30] {
                stat_ui(
                    ui,
                    &format!("Retention D{n}"),
                    &fmt_percent(day(n).and_then(|d| d.retention)),
                    "Users with a session on day N / users (mature cohort dates only)",
                );
            }
            stat_ui(
                ui,
                "Median time between sessions",
                &fmt_duration(group.median_time_between_sessions_s),
                "Start of a session minus the end of the previous one",
            );
            ui.end_row();
        });

    ui.add_space(12.0);
    ui.separator();
    ui.horizontal(|ui| {
        ui.strong("Session length");
        ui.weak("sessions per length bin (seconds)");
    });
    if distributions.session_length.total() == 0 {
        super::nothing_to_plot_ui(
            ui,
            220.0,
            "No session of known length under these filters (installs alone have none)",
        );
        return;
    }
    let bars: Vec<Bar> = distributions
        .session_length
        .counts
        .iter()
        .zip(&distributions.session_length.labels)
        .enumerate()
        .map(|(i, (&count, label))| {
            #[allow(clippy::cast_precision_loss)]
            Bar::new(i as f64, count as f64).name(*label).width(0.7)
        })
        .collect();
    let labels = distributions.session_length.labels.clone();
    // The scope's rect holds the axes too: that is what "Save PNG" crops to.
    let response = ui.scope(|ui| {
        super::chart("overview-lengths")
            .height(220.0)
            .x_axis_label("session length")
            .y_axis_label("sessions")
            .x_axis_formatter(move |mark, _| bin_label(&labels, mark.value))
            .allow_zoom(false)
            .allow_drag(false)
            .allow_scroll(false)
            .show(ui, |plot| plot.bar_chart(BarChart::new("sessions", bars)))
    });
    save_plot_button_ui(ui, "session-length", response.response.rect, actions);
}

/// The label of the bin at an integer axis position, empty between bins.
pub fn bin_label(labels: &[&str], value: f64) -> String {
    let rounded = value.round();
    if (value - rounded).abs() > 1e-6 || rounded < 0.0 {
        return String::new();
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    labels
        .get(rounded as usize)
        .map(|s| (*s).to_owned())
        .unwrap_or_default()
}
