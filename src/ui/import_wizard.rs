//! The import wizard: the first rows of a file as they will be read, the detected kind and
//! mapping (each changeable), time zone, duration unit and what to do with bad rows.

use std::path::PathBuf;

use egui::{Color32, ComboBox, RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::app::jobs::Preview;
use crate::import::{mapping_fields, DurationUnit, Field, ImportOptions, OnBadRows, Preset, Row};
use crate::model::FileKind;
use crate::time::format_utc;

/// The wizard's state for the file at the front of `files`.
#[derive(Clone, Debug, Default)]
pub struct ImportWizard {
    pub files: Vec<PathBuf>,
    pub options: ImportOptions,
    pub tz_text: String,
    pub preview: Option<Result<Box<Preview>, String>>,
    /// The options the shown preview was read with.
    pub previewed: Option<(PathBuf, ImportOptions)>,
}

impl ImportWizard {
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            tz_text: "UTC".to_owned(),
            options: ImportOptions {
                tz: Some("UTC".to_owned()),
                ..ImportOptions::default()
            },
            ..Self::default()
        }
    }

    pub fn current(&self) -> Option<&PathBuf> {
        self.files.first()
    }

    /// Whether the preview on screen was read with other choices than the current ones.
    pub fn preview_is_stale(&self) -> bool {
        self.current().is_some_and(|file| {
            self.previewed.as_ref() != Some(&(file.clone(), self.options.clone()))
        })
    }
}

/// What the wizard's buttons asked for.
pub enum WizardOutcome {
    Open,
    Cancel,
    /// Skip this file and show the next.
    Skip,
    Import,
}

pub fn wizard_ui(ui: &mut Ui, wizard: &mut ImportWizard) -> WizardOutcome {
    let Some(file) = wizard.current().cloned() else {
        return WizardOutcome::Cancel;
    };
    ui.horizontal(|ui| {
        ui.strong(
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        if wizard.files.len() > 1 {
            ui.weak(format!(
                "({} more file(s) after this one)",
                wizard.files.len() - 1
            ));
        }
    });

    let plan = match &wizard.preview {
        Some(Ok(preview)) => Some(preview.plan.clone()),
        _ => None,
    };
    egui::Grid::new("wizard-options")
        .num_columns(2)
        .spacing([12.0, 6.0])
        .show(ui, |ui| {
            ui.label("The export is");
            let detected = plan.as_ref().and_then(|p| p.rules.preset);
            let shown = match wizard.options.preset.as_deref() {
                Some("none") => "plain columns (no preset)".to_owned(),
                Some(name) => {
                    Preset::parse(name).map_or_else(|| name.to_owned(), |p| p.title().to_owned())
                }
                None => detected.map_or_else(
                    || "plain columns (no preset recognised)".to_owned(),
                    |p| format!("{} (recognised)", p.title()),
                ),
            };
            ComboBox::from_id_salt("wizard-preset")
                .selected_text(shown)
                .width(420.0)
                .show_ui(ui, |ui| {
                    ui.selectable_value(
                        &mut wizard.options.preset,
                        None,
                        "recognise from the header",
                    );
                    ui.selectable_value(
                        &mut wizard.options.preset,
                        Some("none".to_owned()),
                        "plain columns (no preset)",
                    );
                    for preset in Preset::ALL {
                        ui.selectable_value(
                            &mut wizard.options.preset,
                            Some(preset.name().to_owned()),
                            preset.title(),
                        );
                    }
                });
            ui.end_row();

            ui.label("The rows are");
            let shown = wizard
                .options
                .kind
                .or(plan.as_ref().map(|p| p.kind))
                .map_or("(detecting…)", FileKind::as_str);
            ComboBox::from_id_salt("wizard-kind")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut wizard.options.kind, None, "detect from the columns");
                    for kind in FileKind::ALL {
                        ui.selectable_value(&mut wizard.options.kind, Some(kind), kind.as_str());
                    }
                });
            ui.end_row();

            let tz_label = ui.label("Times without an offset are in");
            let valid_tz = wizard.tz_text.trim().parse::<chrono_tz::Tz>().is_ok();
            let mut edit = egui::TextEdit::singleline(&mut wizard.tz_text).desired_width(160.0);
            if !valid_tz {
                edit = edit.text_color(Color32::from_rgb(220, 50, 50));
            }
            if ui
                .add(edit)
                .labelled_by(tz_label.id)
                .on_hover_text("An IANA zone such as UTC or Europe/Berlin")
                .changed()
                && valid_tz
            {
                wizard.options.tz = Some(wizard.tz_text.trim().to_owned());
            }
            ui.end_row();

            let kind_now = wizard.options.kind.or(plan.as_ref().map(|p| p.kind));
            if kind_now == Some(FileKind::Sessions) {
                ui.label("Durations are in");
                ui.horizontal(|ui| {
                    for (unit, label) in [
                        (DurationUnit::Seconds, "seconds"),
                        (DurationUnit::Millis, "milliseconds"),
                        (DurationUnit::Minutes, "minutes"),
                    ] {
                        ui.selectable_value(&mut wizard.options.duration_unit, unit, label);
                    }
                });
                ui.end_row();
            }

            ui.label("Rows that cannot be read");
            ui.horizontal(|ui| {
                ui.selectable_value(
                    &mut wizard.options.on_bad_rows,
                    OnBadRows::Abort,
                    "refuse the file",
                );
                ui.selectable_value(
                    &mut wizard.options.on_bad_rows,
                    OnBadRows::Skip,
                    "skip them and count them",
                );
            });
            ui.end_row();
        });

    if let Some(plan) = &plan {
        ui.separator();
        ui.horizontal(|ui| {
            ui.strong("Columns");
            ui.weak(format!(
                "{} · pick the column each field is read from",
                plan.format.describe()
            ));
        });
        egui::Grid::new("wizard-mapping")
            .num_columns(4)
            .spacing([10.0, 4.0])
            .show(ui, |ui| {
                for (i, field) in mapping_fields(plan.kind).iter().enumerate() {
                    let current = plan
                        .mapping
                        .get(*field)
                        .and_then(|c| plan.columns.get(c))
                        .cloned();
                    let required = crate::import::required_fields(plan.kind).contains(field);
                    let label = if required {
                        format!("{field} *")
                    } else {
                        field.name().to_owned()
                    };
                    ui.label(label);
                    let mut choice = current.clone();
                    ComboBox::from_id_salt(("wizard-map", field.name()))
                        .selected_text(choice.clone().unwrap_or_else(|| "(none)".to_owned()))
                        .width(150.0)
                        .show_ui(ui, |ui| {
                            ui.selectable_value(&mut choice, None, "(none)");
                            for column in &plan.columns {
                                ui.selectable_value(&mut choice, Some(column.clone()), column);
                            }
                        });
                    if choice != current {
                        set_override(&mut wizard.options, *field, choice.unwrap_or_default());
                    }
                    if i % 2 == 1 {
                        ui.end_row();
                    }
                }
            });
    }

    ui.separator();
    ui.strong("The first rows, as they will be read");
    match &wizard.preview {
        None => {
            ui.horizontal(|ui| {
                super::busy_ui(ui);
                ui.label("Reading the file…");
            });
        }
        Some(Err(problem)) => {
            ui.colored_label(Color32::from_rgb(220, 50, 50), problem);
        }
        Some(Ok(preview)) => {
            if let Some(problem) = &preview.problem {
                ui.colored_label(Color32::from_rgb(220, 50, 50), problem);
                ui.weak(
                    "Pick the columns above (fields marked * are needed), or the kind of rows.",
                );
            }
            preview_table_ui(ui, preview);
        }
    }

    ui.add_space(8.0);
    let ready =
        matches!(&wizard.preview, Some(Ok(p)) if p.problem.is_none()) && !wizard.preview_is_stale();
    let mut outcome = WizardOutcome::Open;
    ui.horizontal(|ui| {
        if ui
            .add_enabled(ready, egui::Button::new(RichText::new("Import").strong()))
            .clicked()
        {
            outcome = WizardOutcome::Import;
        }
        if wizard.files.len() > 1 && ui.button("Skip this file").clicked() {
            outcome = WizardOutcome::Skip;
        }
        if ui.button("Cancel").clicked() {
            outcome = WizardOutcome::Cancel;
        }
    });
    outcome
}

fn set_override(options: &mut ImportOptions, field: Field, column: String) {
    options.map.retain(|(f, _)| *f != field);
    options.map.push((field, column));
}

/// The columns shown for a row as read.
fn row_cells(row: &Row) -> Vec<String> {
    let time = |ms: i64| format_utc(ms).replace('T', " ").replace('Z', "");
    match row {
        Row::Session(s, attrs) => {
            let mut cells = vec![
                s.user.clone(),
                time(s.start_ms),
                s.end_ms.map_or_else(
                    || "unknown".to_owned(),
                    |e| format!("{:.1} s", (e - s.start_ms) as f64 / 1000.0),
                ),
            ];
            cells.push(
                attrs
                    .as_ref()
                    .map(|a| a.attrs.channel.clone())
                    .unwrap_or_default(),
            );
            cells
        }
        Row::Event(e, attrs) => vec![
            e.user.clone(),
            time(e.time_ms),
            e.name.clone().unwrap_or_default(),
            attrs
                .as_ref()
                .map(|a| a.attrs.channel.clone())
                .unwrap_or_default(),
        ],
        Row::Install(a) => vec![
            a.user.clone(),
            time(a.time_ms),
            a.attrs.channel.clone(),
            a.attrs.campaign.clone(),
        ],
        Row::Spend(s) => vec![
            s.date.to_string(),
            s.channel.clone(),
            s.campaign.clone(),
            format!("{} {}", s.amount, s.currency.clone().unwrap_or_default()),
        ],
        Row::Rate(r) => vec![
            r.date.to_string(),
            r.currency.clone(),
            r.rate.to_string(),
            String::new(),
        ],
        Row::Lookup(l) => vec![
            l.id.clone(),
            l.name.clone(),
            l.parent_id.clone().unwrap_or_default(),
            String::new(),
        ],
        Row::Ignored(reason) => vec![format!("ignored: {reason}")],
        // Several rows from one line: the first is the activity.
        Row::Multi(rows) => rows.first().map(row_cells).unwrap_or_default(),
    }
}

fn headers(kind: FileKind) -> [&'static str; 4] {
    match kind {
        FileKind::Sessions => ["user", "session start (UTC)", "length", "channel"],
        FileKind::Events => ["user", "event time (UTC)", "event", "channel"],
        FileKind::Installs => ["user", "install time (UTC)", "channel", "campaign"],
        FileKind::Spend => ["date", "channel", "campaign", "amount"],
        FileKind::Rates => ["date", "currency", "rate", ""],
        FileKind::Campaigns => ["campaign id", "name", "ad network id", ""],
        FileKind::AdNetworks => ["ad network id", "name", "", ""],
    }
}

fn preview_table_ui(ui: &mut Ui, preview: &Preview) {
    // In a ui of its own, so that the resizable columns' lines end with the table (see `groups_ui`).
    ui.vertical(|ui| {
        TableBuilder::new(ui)
            .id_salt("wizard-preview")
            .striped(true)
            .max_scroll_height(260.0)
            .column(Column::exact(50.0))
            .columns(Column::initial(150.0).clip(true).resizable(true), 4)
            .header(20.0, |mut header| {
                header.col(|ui| {
                    ui.strong("line");
                });
                for title in headers(preview.plan.kind) {
                    header.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|mut body| {
                for ((line, _), read) in preview.rows.iter().zip(&preview.read) {
                    body.row(20.0, |mut row| {
                        row.col(|ui| {
                            ui.label(line.to_string());
                        });
                        match read {
                            Ok(parsed) => {
                                for cell in row_cells(parsed) {
                                    row.col(|ui| {
                                        ui.label(cell);
                                    });
                                }
                            }
                            Err(rejection) => {
                                row.col(|ui| {
                                    ui.colored_label(
                                        Color32::from_rgb(220, 50, 50),
                                        format!(
                                            "rejected: {}: {}",
                                            rejection.reason, rejection.detail
                                        ),
                                    );
                                });
                            }
                        }
                    });
                }
            });
    });
    egui::CollapsingHeader::new("Raw rows")
        .id_salt("wizard-raw")
        .show(ui, |ui| {
            egui::ScrollArea::horizontal().show(ui, |ui| {
                egui::Grid::new("wizard-raw-grid")
                    .striped(true)
                    .show(ui, |ui| {
                        for column in &preview.plan.columns {
                            ui.strong(column);
                        }
                        ui.end_row();
                        for (_, fields) in &preview.rows {
                            for field in fields {
                                ui.label(field);
                            }
                            ui.end_row();
                        }
                    });
            });
        });
}
