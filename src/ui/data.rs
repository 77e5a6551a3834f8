//! Data: the import log and the data-quality report.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::{fmt_count, table_buttons_ui, Action, TableData};
use crate::app::worker::ProjectSummary;
use crate::model::LATE_AFTER_DAYS;

pub fn data_ui(ui: &mut Ui, summary: &ProjectSummary, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        ui.heading("Import log");
        table_buttons_ui(ui, "import-log", || imports_table(summary), actions);
    });
    // In a ui of its own, so that the resizable columns' lines end with the table (see `groups_ui`).
    ui.vertical(|ui| {
        TableBuilder::new(ui)
            .id_salt("import-log")
            .striped(true)
            .max_scroll_height(220.0)
            .column(Column::initial(220.0).clip(true).resizable(true))
            .column(Column::auto().at_least(60.0))
            .column(Column::auto().at_least(140.0))
            .columns(Column::auto().at_least(60.0), 4)
            .column(
                Column::initial(260.0)
                    .at_least(120.0)
                    .clip(true)
                    .resizable(true),
            )
            .column(Column::remainder().at_least(90.0))
            .header(22.0, |mut header| {
                for title in [
                    "File",
                    "Kind",
                    "Imported (UTC)",
                    "Read",
                    "Accepted",
                    "Rejected",
                    "Zone",
                    "Rejected by reason",
                    "",
                ] {
                    header.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|mut body| {
                for record in &summary.imports {
                    body.row(22.0, |mut row| {
                        row.col(|ui| {
                            ui.label(&record.file_name).on_hover_text(format!(
                                "{}\n{} bytes, SHA-256 {}\nmapping: {}\n{}",
                                record.file_path,
                                fmt_count(record.size_bytes),
                                record.sha256,
                                record
                                    .mapping
                                    .iter()
                                    .map(|(field, column)| format!("{field}={column}"))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                record.notes.join("\n")
                            ));
                        });
                        let reasons = record
                            .rejected_by_reason
                            .iter()
                            .map(|(reason, count)| format!("{reason}: {count}"))
                            .chain(
                                record
                                    .ignored_by_reason
                                    .iter()
                                    .map(|(reason, count)| format!("ignored, {reason}: {count}")),
                            )
                            .collect::<Vec<_>>()
                            .join("; ");
                        for text in [
                            record.kind.clone(),
                            record
                                .imported_at
                                .replace('T', " ")
                                .trim_end_matches('Z')
                                .to_owned(),
                            fmt_count(record.rows_read),
                            fmt_count(record.rows_accepted),
                            fmt_count(record.rows_rejected),
                            record.time_zone.clone(),
                            reasons,
                        ] {
                            row.col(|ui| {
                                ui.label(text);
                            });
                        }
                        row.col(|ui| {
                            let remove = ui.small_button("Remove...").on_hover_text(
                            "Take this import's rows out of the project, to import the file again",
                        );
                            if remove.clicked() {
                                actions.push(Action::RemoveImport {
                                    id: record.id,
                                    file: record.file_name.clone(),
                                });
                            }
                        });
                    });
                }
            });
    });

    ui.add_space(10.0);
    ui.separator();
    ui.horizontal(|ui| {
        ui.heading("Data quality");
        table_buttons_ui(ui, "data-quality", || quality_table(summary), actions);
    });
    egui::Grid::new("data-quality")
        .striped(true)
        .num_columns(2)
        .show(ui, |ui| {
            for (label, value) in quality_table(summary)
                .rows
                .into_iter()
                .map(|r| (r[0].clone(), r[1].clone()))
            {
                ui.label(label);
                ui.label(RichText::new(value).strong());
                ui.end_row();
            }
        });
}

fn imports_table(summary: &ProjectSummary) -> TableData {
    let header = [
        "file",
        "path",
        "kind",
        "imported_at",
        "size_bytes",
        "sha256",
        "time_zone",
        "rows_read",
        "rows_accepted",
        "rows_rejected",
        "rejected_by_reason",
    ]
    .map(String::from)
    .to_vec();
    let rows = summary
        .imports
        .iter()
        .map(|r| {
            vec![
                r.file_name.clone(),
                r.file_path.clone(),
                r.kind.clone(),
                r.imported_at.clone(),
                r.size_bytes.to_string(),
                r.sha256.clone(),
                r.time_zone.clone(),
                r.rows_read.to_string(),
                r.rows_accepted.to_string(),
                r.rows_rejected.to_string(),
                r.rejected_by_reason
                    .iter()
                    .map(|(reason, count)| format!("{reason}: {count}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    TableData { header, rows }
}

/// Every count of the data-quality report as (what, value) rows.
fn quality_table(summary: &ProjectSummary) -> TableData {
    let q = &summary.quality;
    let b = &q.build;
    let mut rows = vec![(
        "Rows rejected at import".to_owned(),
        fmt_count(q.rejected_by_reason.values().sum()),
    )];
    rows.extend(
        q.rejected_by_reason
            .iter()
            .map(|(reason, count)| (format!("    {reason}"), fmt_count(*count))),
    );
    rows.extend([
        ("Users".to_owned(), fmt_count(b.users)),
        (
            "Installs inferred from the first session".to_owned(),
            fmt_count(b.inferred_installs),
        ),
        (
            "Reinstalls (later install rows)".to_owned(),
            fmt_count(b.reinstalls),
        ),
        ("Sessions".to_owned(), fmt_count(b.sessions)),
        (
            "Sessions before the install (no day)".to_owned(),
            fmt_count(b.sessions_before_install),
        ),
        (
            "Sessions over 24 hours (kept, flagged)".to_owned(),
            fmt_count(b.sessions_over_24h),
        ),
        (
            "Duplicate events (counted once)".to_owned(),
            fmt_count(b.duplicate_events),
        ),
        (
            "Events excluded from activity".to_owned(),
            fmt_count(b.excluded_events),
        ),
        (
            "Installs added as first sessions (exports without the first launch)".to_owned(),
            fmt_count(b.install_sessions_added),
        ),
        (
            "Rows read but not counted (ad clicks, other events)".to_owned(),
            fmt_count(summary.imports.iter().map(|r| r.rows_ignored).sum()),
        ),
        (
            "Users with no activity left".to_owned(),
            fmt_count(b.users_without_activity),
        ),
        (
            format!(
                "Rows over {LATE_AFTER_DAYS} days after all the others (wrong dates? they \
                 move the end of the data)"
            ),
            fmt_count(b.late_rows),
        ),
        (
            "Spend matching no install".to_owned(),
            format!(
                "{} rows, {:.2}",
                fmt_count(q.unmatched_spend_rows),
                q.unmatched_spend_amount
            ),
        ),
    ]);
    for (currency, (count, amount)) in &q.currency_left_out {
        rows.push((
            format!("Spend left out: {currency} without a rate"),
            format!("{} rows, {amount:.2} {currency}", fmt_count(*count)),
        ));
    }
    TableData {
        header: vec!["what".to_owned(), "count".to_owned()],
        rows: rows.into_iter().map(|(a, b)| vec![a, b]).collect(),
    }
}
