//! Quality: per campaign the QA signals of SPEC section 7 with a plain flag and its reason.

use egui::{Color32, RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::{fmt_count, fmt_opt, fmt_percent, table_buttons_ui, Action, TableData};
use crate::metrics::CampaignQualityTable;

pub fn controls_ui(ui: &mut Ui, min_installs: &mut u64) {
    ui.horizontal(|ui| {
        let label = ui.label("Campaigns with at least");
        ui.add(
            egui::DragValue::new(min_installs)
                .range(1..=100_000)
                .suffix(" installs"),
        )
        .labelled_by(label.id);
    });
}

fn interval(ci: Option<(f64, f64)>) -> String {
    ci.map_or_else(String::new, |(low, high)| {
        format!(" [{:.0}-{:.0}%]", low * 100.0, high * 100.0)
    })
}

pub fn quality_ui(ui: &mut Ui, table: &CampaignQualityTable, actions: &mut Vec<Action>) {
    let flagged = table.rows.iter().filter(|r| !r.flags.is_empty()).count();
    ui.horizontal(|ui| {
        ui.label(format!(
            "{} campaigns, {flagged} flagged · median campaign: {} sessions per user by D7, {} one-session users, {} sessions under 10 s",
            table.rows.len(),
            fmt_opt(table.median_sessions_per_user_d7, 2),
            fmt_percent(table.median_one_session_share),
            fmt_percent(table.median_short_session_share),
        ));
        table_buttons_ui(ui, "campaign-quality", || quality_table(table), actions);
    });
    ui.weak(
        "Retention in brackets: 95% Wilson interval. A flag says in words which signal is off.",
    );

    // Scrolled sideways in a narrow window; and in a ui of its own, so that the resizable
    // columns' lines end with the table (see `groups_ui`).
    egui::ScrollArea::horizontal()
        .id_salt("quality-scroll")
        .show(ui, |ui| {
            TableBuilder::new(ui)
                .id_salt("quality-table")
                .striped(true)
                .column(Column::exact(24.0))
                .column(Column::initial(170.0).clip(true).resizable(true))
                .column(Column::initial(100.0).clip(true).resizable(true))
                .columns(Column::auto().at_least(64.0), 5)
                .column(Column::auto().at_least(120.0))
                .column(Column::auto().at_least(120.0))
                .column(Column::remainder().at_least(160.0).clip(true))
                .header(22.0, |mut header| {
                    for title in [
                        "",
                        "Campaign",
                        "Channel",
                        "Installs",
                        "1-session users",
                        "Sessions < 10 s",
                        "SPU D7",
                        "vs median",
                        "Retention D1",
                        "Retention D7",
                        "Flag",
                    ] {
                        header.col(|ui| {
                            ui.strong(title);
                        });
                    }
                })
                .body(|mut body| {
                    for row in &table.rows {
                        body.row(22.0, |mut cells| {
                            let flagged = !row.flags.is_empty();
                            cells.col(|ui| {
                                if flagged {
                                    ui.label(
                                        RichText::new("!")
                                            .strong()
                                            .color(Color32::from_rgb(230, 140, 0)),
                                    );
                                }
                            });
                            let texts = [
                                if row.campaign.is_empty() {
                                    "(no campaign)".to_owned()
                                } else {
                                    row.campaign.clone()
                                },
                                row.channel.clone(),
                                fmt_count(row.installs),
                                fmt_percent(row.one_session_share),
                                fmt_percent(row.short_session_share),
                                fmt_opt(row.sessions_per_user_d7, 2),
                                row.d7_vs_median.map_or_else(
                                    || "n/a".to_owned(),
                                    |v| format!("{:.0}%", v * 100.0),
                                ),
                                format!(
                                    "{}{}",
                                    fmt_percent(row.retention_d1),
                                    interval(row.retention_d1_ci)
                                ),
                                format!(
                                    "{}{}",
                                    fmt_percent(row.retention_d7),
                                    interval(row.retention_d7_ci)
                                ),
                            ];
                            for text in texts {
                                cells.col(|ui| {
                                    ui.label(text);
                                });
                            }
                            cells.col(|ui| {
                                if flagged {
                                    // Cut to the column; the whole flag shows on hover.
                                    let summary = row.flags.join("; ");
                                    ui.add(
                                        egui::Label::new(
                                            RichText::new(summary)
                                                .color(Color32::from_rgb(230, 140, 0)),
                                        )
                                        .truncate(),
                                    );
                                } else {
                                    ui.weak("ok");
                                }
                            });
                        });
                    }
                });
        });
}

fn quality_table(table: &CampaignQualityTable) -> TableData {
    let header = [
        "campaign",
        "channel",
        "installs",
        "one_session_share",
        "short_session_share",
        "spu_d7",
        "d7_vs_median",
        "retention_d1",
        "retention_d1_low",
        "retention_d1_high",
        "retention_d7",
        "retention_d7_low",
        "retention_d7_high",
        "flags",
    ]
    .map(String::from)
    .to_vec();
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let rows = table
        .rows
        .iter()
        .map(|r| {
            vec![
                r.campaign.clone(),
                r.channel.clone(),
                r.installs.to_string(),
                number(r.one_session_share),
                number(r.short_session_share),
                number(r.sessions_per_user_d7),
                number(r.d7_vs_median),
                number(r.retention_d1),
                number(r.retention_d1_ci.map(|c| c.0)),
                number(r.retention_d1_ci.map(|c| c.1)),
                number(r.retention_d7),
                number(r.retention_d7_ci.map(|c| c.0)),
                number(r.retention_d7_ci.map(|c| c.1)),
                r.flags.join("; "),
            ]
        })
        .collect();
    TableData { header, rows }
}
