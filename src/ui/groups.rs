//! Channels and Campaigns: one sortable row per group with the columns of SPEC section 7,
//! sessions-per-user curves and CPM bars of the chosen rows, and drill-down from a channel
//! to its campaigns.

use std::collections::BTreeSet;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};
use egui_plot::{Bar, BarChart, Corner, HoverPosition, Legend, Line, PlotPoints};
use serde::{Deserialize, Serialize};

use super::{
    fmt_count, fmt_duration, fmt_money, fmt_opt, fmt_percent, save_plot_button_ui,
    table_buttons_ui, Action, TableData,
};
use crate::metrics::{GroupMetrics, Report};

/// The sortable columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    Name,
    #[default]
    Installs,
    Spend,
    Cpi,
    Spu1,
    Spu7,
    Spu30,
    Ret1,
    Ret7,
    Ret30,
    Length,
    Cpm7,
}

/// The choices of a Channels or Campaigns view.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupsState {
    pub sort: SortKey,
    pub ascending: bool,
    /// Keys (`channel` or `channel / campaign`) of the rows drawn in the plots.
    pub selected: BTreeSet<String>,
}

fn key(group: &GroupMetrics) -> String {
    match &group.campaign {
        Some(campaign) => {
            let campaign = if campaign.is_empty() {
                "(no campaign)"
            } else {
                campaign
            };
            format!("{} / {campaign}", group.channel.as_deref().unwrap_or(""))
        }
        None => group.name.clone(),
    }
}

fn sort_value(group: &GroupMetrics, sort: SortKey) -> Option<f64> {
    let day =
        |n: u32, pick: fn(&crate::metrics::DayMetrics) -> Option<f64>| group.day(n).and_then(pick);
    #[allow(clippy::cast_precision_loss)]
    match sort {
        SortKey::Name => None,
        SortKey::Installs => Some(group.installs as f64),
        SortKey::Spend => group.spend,
        SortKey::Cpi => group.cpi,
        SortKey::Spu1 => day(1, |d| d.sessions_per_user),
        SortKey::Spu7 => day(7, |d| d.sessions_per_user),
        SortKey::Spu30 => day(30, |d| d.sessions_per_user),
        SortKey::Ret1 => day(1, |d| d.retention),
        SortKey::Ret7 => day(7, |d| d.retention),
        SortKey::Ret30 => day(30, |d| d.retention),
        SortKey::Length => group.avg_session_length_s,
        SortKey::Cpm7 => day(7, |d| d.cpm_sessions),
    }
}

/// Draws the view. `campaigns` tells the Campaigns view (with a channel column) from the
/// Channels view (with a drill-down button).
pub fn groups_ui(
    ui: &mut Ui,
    state: &mut GroupsState,
    report: &Report,
    campaigns: bool,
    actions: &mut Vec<Action>,
) {
    let mut order: Vec<&GroupMetrics> = report.groups.iter().collect();
    order.sort_by(|a, b| {
        let ordering = if state.sort == SortKey::Name {
            a.name.to_lowercase().cmp(&b.name.to_lowercase())
        } else {
            // Undefined values sort last whichever the direction.
            match (sort_value(a, state.sort), sort_value(b, state.sort)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => return std::cmp::Ordering::Less,
                (None, Some(_)) => return std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        };
        if state.ascending {
            ordering
        } else {
            ordering.reverse()
        }
    });

    let what = if campaigns { "campaigns" } else { "channels" };
    ui.horizontal(|ui| {
        ui.weak(format!(
            "{} {what} · click a header to sort · tick rows to plot them · day-N figures count mature cohort dates only",
            order.len()
        ));
        table_buttons_ui(ui, what, || groups_table(&order, campaigns), actions);
    });

    let columns: Vec<(&str, SortKey, &str)> = vec![
        (
            "Installs",
            SortKey::Installs,
            "Users installed in the filters",
        ),
        ("Spend", SortKey::Spend, "Matched spend"),
        ("CPI", SortKey::Cpi, "Spend / installs"),
        ("SPU D1", SortKey::Spu1, "Sessions per user through day 1"),
        ("SPU D7", SortKey::Spu7, "Sessions per user through day 7"),
        (
            "SPU D30",
            SortKey::Spu30,
            "Sessions per user through day 30",
        ),
        ("Ret D1", SortKey::Ret1, "Retention on day 1"),
        ("Ret D7", SortKey::Ret7, "Retention on day 7"),
        ("Ret D30", SortKey::Ret30, "Retention on day 30"),
        ("Avg length", SortKey::Length, "Average session length"),
        (
            "CPM D7",
            SortKey::Cpm7,
            "1000 x spend / sessions through day 7",
        ),
    ];
    let table_height = (ui.available_height() * 0.5).max(140.0);
    let mut clicked_sort = None;
    // A ui of its own: egui_extras draws a resizable column's line down to the bottom of
    // the ui the table is in, which would run it through the charts below.
    ui.vertical(|ui| {
        let mut builder = TableBuilder::new(ui)
            .id_salt(what)
            .striped(true)
            .max_scroll_height(table_height)
            .column(Column::exact(22.0))
            .column(
                Column::initial(170.0)
                    .at_least(90.0)
                    .clip(true)
                    .resizable(true),
            );
        if campaigns {
            builder = builder.column(Column::initial(110.0).clip(true).resizable(true));
        } else {
            builder = builder.column(Column::exact(90.0));
        }
        builder
            .columns(Column::auto().at_least(58.0), columns.len())
            .header(22.0, |mut header| {
                header.col(|_| {});
                header.col(|ui| {
                    if ui
                        .button(sort_title("Name", SortKey::Name, state))
                        .clicked()
                    {
                        clicked_sort = Some(SortKey::Name);
                    }
                });
                header.col(|ui| {
                    ui.strong(if campaigns { "Channel" } else { "" });
                });
                for (title, sort, hover) in &columns {
                    header.col(|ui| {
                        if ui
                            .button(sort_title(title, *sort, state))
                            .on_hover_text(*hover)
                            .clicked()
                        {
                            clicked_sort = Some(*sort);
                        }
                    });
                }
            })
            .body(|mut body| {
                for group in &order {
                    let group_key = key(group);
                    body.row(22.0, |mut row| {
                        row.col(|ui| {
                            let mut checked = state.selected.contains(&group_key);
                            if super::row_checkbox_ui(ui, &mut checked, &group_key).changed() {
                                if checked {
                                    state.selected.insert(group_key.clone());
                                } else {
                                    state.selected.remove(&group_key);
                                }
                            }
                        });
                        row.col(|ui| {
                            let name = if group.name.is_empty() {
                                "(no campaign)"
                            } else {
                                &group.name
                            };
                            ui.label(name);
                        });
                        row.col(|ui| {
                            if campaigns {
                                ui.label(group.channel.as_deref().unwrap_or(""));
                            } else if ui
                                .small_button("Campaigns ›")
                                .on_hover_text("Show this channel's campaigns")
                                .clicked()
                            {
                                actions.push(Action::DrillDown {
                                    channel: group.name.clone(),
                                });
                            }
                        });
                        let day = |n: u32| group.day(n);
                        let cells = [
                            fmt_count(group.installs),
                            fmt_money(group.spend),
                            fmt_money(group.cpi),
                            fmt_opt(day(1).and_then(|d| d.sessions_per_user), 2),
                            fmt_opt(day(7).and_then(|d| d.sessions_per_user), 2),
                            fmt_opt(day(30).and_then(|d| d.sessions_per_user), 2),
                            fmt_percent(day(1).and_then(|d| d.retention)),
                            fmt_percent(day(7).and_then(|d| d.retention)),
                            fmt_percent(day(30).and_then(|d| d.retention)),
                            fmt_duration(group.avg_session_length_s),
                            fmt_money(day(7).and_then(|d| d.cpm_sessions)),
                        ];
                        for cell in cells {
                            row.col(|ui| {
                                ui.label(cell);
                            });
                        }
                    });
                }
            });
    });
    if let Some(sort) = clicked_sort {
        if state.sort == sort {
            state.ascending = !state.ascending;
        } else {
            state.sort = sort;
            state.ascending = sort == SortKey::Name;
        }
    }

    ui.separator();
    let chosen: Vec<&GroupMetrics> = {
        let picked: Vec<&GroupMetrics> = order
            .iter()
            .copied()
            .filter(|g| state.selected.contains(&key(g)))
            .collect();
        if picked.is_empty() {
            order.iter().copied().take(5).collect()
        } else {
            picked
        }
    };
    ui.horizontal(|ui| {
        ui.strong("Sessions per user and CPM D7 sessions");
        ui.weak(if state.selected.is_empty() {
            "(the five largest; tick rows to choose)"
        } else {
            "(ticked rows)"
        });
    });
    let plot_height = (ui.available_height() - 30.0).max(150.0);
    ui.columns(2, |cols| {
        let response = cols[0].scope(|ui| {
            super::chart(format!("{what}-spu"))
                .include_y(0.0)
                .height(plot_height)
                // Sessions through day N only grow: the top left stays empty.
                .legend(Legend::default().position(Corner::LeftTop))
                .x_axis_label("day N")
                .y_axis_label("sessions per user, through day N")
                .label_formatter(|hover| match hover {
                    HoverPosition::NearDataPoint {
                        plot_name,
                        position,
                        ..
                    } => Some(format!(
                        "{plot_name}\nday {:.0}: {:.2} sessions per user",
                        position.x, position.y
                    )),
                    HoverPosition::Elsewhere { .. } => None,
                })
                .show(ui, |plot| {
                    for group in &chosen {
                        let points: Vec<[f64; 2]> = group
                            .days
                            .iter()
                            .filter_map(|d| d.sessions_per_user.map(|v| [f64::from(d.day), v]))
                            .collect();
                        plot.line(Line::new(key(group), PlotPoints::from(points)));
                    }
                })
        });
        save_plot_button_ui(
            &mut cols[0],
            &format!("{what}-sessions-per-user"),
            response.response.rect,
            actions,
        );

        let bars: Vec<Bar> = chosen
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                #[allow(clippy::cast_precision_loss)]
                g.day(7)
                    .and_then(|d| d.cpm_sessions)
                    .map(|v| Bar::new(i as f64, v).name(key(g)).width(0.7))
            })
            .collect();
        if bars.is_empty() {
            cols[1].vertical_centered(|ui| {
                ui.add_space(plot_height / 3.0);
                ui.weak("No CPM D7 sessions to show: it needs spend rows (import a spend file)");
                ui.weak("for these groups, on cohort dates mature for day 7.");
            });
            return;
        }
        let names: Vec<String> = chosen.iter().map(|g| bar_label(g)).collect();
        let response = cols[1].scope(|ui| {
            super::chart(format!("{what}-cpm"))
                .height(plot_height)
                .x_axis_label(if campaigns { "campaign" } else { "channel" })
                .y_axis_label("CPM D7 sessions (spend per 1000 sessions)")
                .x_axis_formatter(move |mark, _| {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    super::overview::bin_label(&names, mark.value)
                })
                .allow_zoom(false)
                .allow_drag(false)
                .show(ui, |plot| {
                    plot.bar_chart(BarChart::new("CPM D7 sessions", bars))
                })
        });
        save_plot_button_ui(
            &mut cols[1],
            &format!("{what}-cpm-d7"),
            response.response.rect,
            actions,
        );
    });
}

/// A bar's label under the CPM chart: the campaign without its channel, cut to about the
/// width of a bar (egui_plot leaves out labels wider than their place; hovering a bar
/// names it in full).
fn bar_label(group: &GroupMetrics) -> String {
    const MAX_CHARS: usize = 15;
    let name = match group.campaign.as_deref() {
        Some("") => "(no campaign)",
        Some(campaign) => campaign,
        None => &group.name,
    };
    if name.chars().count() <= MAX_CHARS {
        return name.to_owned();
    }
    let cut: String = name.chars().take(MAX_CHARS - 1).collect();
    format!("{cut}…")
}

fn sort_title(title: &str, sort: SortKey, state: &GroupsState) -> RichText {
    let arrow = match (state.sort == sort, state.ascending) {
        (false, _) => "",
        (true, true) => " (asc)",
        (true, false) => " (desc)",
    };
    RichText::new(format!("{title}{arrow}")).strong()
}

fn groups_table(order: &[&GroupMetrics], campaigns: bool) -> TableData {
    let mut header: Vec<String> = vec!["name".into()];
    if campaigns {
        header.push("channel".into());
    }
    header.extend(
        [
            "installs",
            "spend",
            "cpi",
            "spu_d1",
            "spu_d7",
            "spu_d30",
            "retention_d1",
            "retention_d7",
            "retention_d30",
            "avg_session_length_s",
            "cpm_sessions_d7",
        ]
        .map(String::from),
    );
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let rows = order
        .iter()
        .map(|g| {
            let day = |n: u32| g.day(n);
            let mut row = vec![g.name.clone()];
            if campaigns {
                row.push(g.channel.clone().unwrap_or_default());
            }
            row.extend([
                g.installs.to_string(),
                number(g.spend),
                number(g.cpi),
                number(day(1).and_then(|d| d.sessions_per_user)),
                number(day(7).and_then(|d| d.sessions_per_user)),
                number(day(30).and_then(|d| d.sessions_per_user)),
                number(day(1).and_then(|d| d.retention)),
                number(day(7).and_then(|d| d.retention)),
                number(day(30).and_then(|d| d.retention)),
                number(g.avg_session_length_s),
                number(day(7).and_then(|d| d.cpm_sessions)),
            ]);
            row
        })
        .collect();
    TableData { header, rows }
}
