//! Cohorts: the heat-map matrix of cohort rows by day N, a metric and grain picker, and
//! the curves of the chosen rows.

use std::collections::BTreeSet;

use egui::{Color32, RichText, Ui};
use egui_extras::{Column, TableBuilder};
use egui_plot::{HoverPosition, Legend, Line, PlotPoints};
use serde::{Deserialize, Serialize};

use super::{
    fmt_count, heat_color, heat_text_color, save_plot_button_ui, table_buttons_ui, Action,
    TableData, NA,
};
use crate::metrics::{Matrix, MatrixMetric};
use crate::model::Grain;

/// The choices of the Cohorts view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CohortsState {
    pub metric: MatrixMetric,
    pub grain: Grain,
    pub max_day: u32,
    /// Labels of the rows whose curves are drawn.
    pub selected: BTreeSet<String>,
}

impl Default for CohortsState {
    fn default() -> Self {
        Self {
            metric: MatrixMetric::Retention,
            grain: Grain::Week,
            max_day: 30,
            selected: BTreeSet::new(),
        }
    }
}

/// The pickers: metric, grain, last day.
pub fn controls_ui(ui: &mut Ui, state: &mut CohortsState) {
    ui.horizontal_wrapped(|ui| {
        egui::ComboBox::from_label("Metric")
            .selected_text(state.metric.label())
            .show_ui(ui, |ui| {
                for metric in MatrixMetric::ALL {
                    ui.selectable_value(&mut state.metric, metric, metric.label());
                }
            });
        ui.separator();
        ui.label("Cohorts by");
        for grain in [Grain::Day, Grain::Week, Grain::Month] {
            ui.selectable_value(&mut state.grain, grain, grain.as_str());
        }
        ui.separator();
        ui.add(
            egui::DragValue::new(&mut state.max_day)
                .range(1..=180)
                .prefix("days 0 to "),
        );
    });
}

fn format_value(metric: MatrixMetric, value: Option<f64>) -> String {
    match (metric, value) {
        (_, None) => NA.to_owned(),
        (MatrixMetric::Retention, Some(v)) => format!("{:.1}%", v * 100.0),
        (MatrixMetric::TimePerUser, Some(v)) => format!("{v:.0}"),
        (MatrixMetric::CpmSessions | MatrixMetric::CpmSessionsOnDay, Some(v)) => format!("{v:.1}"),
        (_, Some(v)) => format!("{v:.2}"),
    }
}

fn unit(metric: MatrixMetric) -> &'static str {
    match metric {
        MatrixMetric::Retention => "retention (share of installs)",
        MatrixMetric::SessionsPerUser => "sessions per user, through day N",
        MatrixMetric::SessionsPerUserOnDay => "sessions per user, on day N",
        MatrixMetric::TimePerUser => "seconds per user, through day N",
        MatrixMetric::CpmSessions => "spend per 1000 sessions, through day N",
        MatrixMetric::CpmSessionsOnDay => "spend per 1000 sessions, on day N",
    }
}

pub fn cohorts_ui(
    ui: &mut Ui,
    state: &mut CohortsState,
    matrix: &Matrix,
    actions: &mut Vec<Action>,
) {
    let dark = ui.visuals().dark_mode;
    let max_value = matrix
        .rows
        .iter()
        .flat_map(|r| r.cells.iter().filter_map(|c| c.value))
        .fold(0.0_f64, f64::max);
    // On a square-root scale: retention and sessions fall fast after day 0, and on a
    // straight one every later cell (10-20% against a 60% day 0) would look the same.
    let share = |v: f64| {
        if max_value > 0.0 {
            (v / max_value).max(0.0).sqrt()
        } else {
            0.0
        }
    };

    ui.horizontal(|ui| {
        ui.label(RichText::new(matrix.metric.label()).strong());
        ui.weak("· italic grey cells are not mature yet (left out of the average row)");
        table_buttons_ui(ui, "cohorts", || matrix_table(matrix), actions);
    });

    let days = matrix.max_day as usize + 1;
    let table_height = (ui.available_height() * 0.45).max(140.0);
    egui::ScrollArea::horizontal().id_salt("cohort-matrix-scroll").show(ui, |ui| {
        TableBuilder::new(ui)
            .id_salt("cohort-matrix")
            .striped(false)
            .max_scroll_height(table_height)
            .column(Column::exact(22.0))
            .column(Column::exact(92.0))
            .column(Column::exact(64.0))
            .columns(Column::exact(58.0), days)
            .header(22.0, |mut header| {
                header.col(|ui| {
                    ui.label("");
                });
                header.col(|ui| {
                    ui.strong("Cohort");
                });
                header.col(|ui| {
                    ui.strong("Installs");
                });
                for n in 0..days {
                    header.col(|ui| {
                        ui.strong(format!("D{n}"));
                    });
                }
            })
            .body(|mut body| {
                body.row(22.0, |mut row| {
                    row.col(|_| {});
                    row.col(|ui| {
                        ui.strong("Average").on_hover_text("Mature cells only, weighted by installs");
                    });
                    row.col(|ui| {
                        ui.label(fmt_count(matrix.rows.iter().map(|r| r.installs).sum()));
                    });
                    for value in &matrix.average {
                        row.col(|ui| {
                            ui.strong(format_value(matrix.metric, *value));
                        });
                    }
                });
                for cohort in &matrix.rows {
                    body.row(22.0, |mut row| {
                        row.col(|ui| {
                            let mut checked = state.selected.contains(&cohort.label);
                            if super::row_checkbox_ui(ui, &mut checked, &cohort.label)
                                .on_hover_text("Draw this cohort's curve")
                                .changed()
                            {
                                if checked {
                                    state.selected.insert(cohort.label.clone());
                                } else {
                                    state.selected.remove(&cohort.label);
                                }
                            }
                        });
                        row.col(|ui| {
                            ui.label(&cohort.label);
                        });
                        row.col(|ui| {
                            ui.label(fmt_count(cohort.installs));
                        });
                        for cell in &cohort.cells {
                            row.col(|ui| {
                                let text = format_value(matrix.metric, cell.value);
                                match cell.value {
                                    Some(v) if cell.mature => {
                                        let rect = ui.max_rect();
                                        ui.painter().rect_filled(rect, 0.0, heat_color(share(v), dark));
                                        ui.label(RichText::new(text).color(heat_text_color(share(v), dark)));
                                    }
                                    Some(_) => {
                                        ui.label(RichText::new(text).italics().color(Color32::GRAY))
                                            .on_hover_text("Not mature: some users have not had N+1 full days yet");
                                    }
                                    None => {
                                        ui.weak(text);
                                    }
                                }
                            });
                        }
                    });
                }
            });
    });

    ui.separator();
    ui.horizontal(|ui| {
        ui.strong("Curves");
        ui.weak(if state.selected.is_empty() {
            "tick cohorts in the table to draw them beside the average"
        } else {
            "the ticked cohorts and the average"
        });
    });
    let mut lines: Vec<(String, Vec<[f64; 2]>)> = vec![(
        "Average (mature)".to_owned(),
        points(matrix.average.iter().map(|v| (*v, true))),
    )];
    for cohort in matrix
        .rows
        .iter()
        .filter(|r| state.selected.contains(&r.label))
    {
        lines.push((
            cohort.label.clone(),
            points(cohort.cells.iter().map(|c| (c.value, c.mature))),
        ));
    }
    let metric = matrix.metric;
    let response = ui.scope(|ui| {
        super::chart("cohort-curves")
            .include_y(0.0)
            .height(ui.available_height().max(160.0) - 28.0)
            .legend(Legend::default())
            .y_axis_formatter(move |mark, _| match metric {
                MatrixMetric::Retention => format!("{:.0}%", mark.value * 100.0),
                _ => format!("{}", mark.value),
            })
            .x_axis_label("day N")
            .y_axis_label(unit(metric))
            .label_formatter(move |hover| match hover {
                HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => Some(format!(
                    "{plot_name}\nday {:.0}: {}",
                    position.x,
                    format_value(metric, Some(position.y))
                )),
                HoverPosition::Elsewhere { .. } => None,
            })
            .show(ui, |plot| {
                for (name, pts) in lines {
                    plot.line(Line::new(name, PlotPoints::from(pts)));
                }
            })
    });
    save_plot_button_ui(ui, "cohort-curves", response.response.rect, actions);
}

/// Mature values only: an immature point would drag a curve down for no reason.
fn points(values: impl Iterator<Item = (Option<f64>, bool)>) -> Vec<[f64; 2]> {
    values
        .enumerate()
        .filter_map(|(n, (value, mature))| {
            #[allow(clippy::cast_precision_loss)]
            value.filter(|_| mature).map(|v| [n as f64, v])
        })
        .collect()
}

fn matrix_table(matrix: &Matrix) -> TableData {
    let mut header = vec!["cohort".to_owned(), "installs".to_owned()];
    header.extend((0..=matrix.max_day).map(|n| format!("d{n}")));
    let cell = |value: Option<f64>, mature: bool| match value {
        Some(v) if mature => v.to_string(),
        Some(v) => format!("{v} (immature)"),
        None => String::new(),
    };
    let mut rows = vec![{
        let mut row = vec![
            "average (mature, weighted)".to_owned(),
            matrix
                .rows
                .iter()
                .map(|r| r.installs)
                .sum::<u64>()
                .to_string(),
        ];
        row.extend(matrix.average.iter().map(|v| cell(*v, true)));
        row
    }];
    for cohort in &matrix.rows {
        let mut row = vec![cohort.label.clone(), cohort.installs.to_string()];
        row.extend(cohort.cells.iter().map(|c| cell(c.value, c.mature)));
        rows.push(row);
    }
    TableData { header, rows }
}
