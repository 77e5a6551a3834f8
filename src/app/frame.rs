//! The window's frame around the views: menu, header with filters, view list, status
//! bar, the central view and the dialogs. Drawing only; what it asks for goes back to the
//! app's handlers.

use egui::{Context, RichText, Ui};

use super::jobs::{self, JobProgress};
use super::picker::PickPurpose;
use super::worker::{ViewQuery, ViewResult};
use super::{wake, CohortApp};
use crate::time::format_utc;
use crate::ui::{self, settings_dialog::SettingsDraft, Action, View};

impl CohortApp {
    pub(super) fn menu_ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("Project", |ui| {
                if ui
                    .add(egui::Button::new("New project…").shortcut_text("Ctrl+N"))
                    .clicked()
                {
                    self.ask(&ctx, PickPurpose::NewProject);
                }
                if ui
                    .add(egui::Button::new("Open…").shortcut_text("Ctrl+O"))
                    .clicked()
                {
                    self.ask(&ctx, PickPurpose::OpenProject);
                }
                ui.menu_button("Recent projects", |ui| {
                    if self.state.recent.is_empty() {
                        ui.weak("none yet");
                    }
                    for path in self.state.recent.clone() {
                        if ui.button(path.display().to_string()).clicked() {
                            self.load(path);
                        }
                    }
                });
                ui.separator();
                let can_write =
                    self.summary.as_ref().is_some_and(|s| !s.read_only) && self.job.is_none();
                if ui
                    .add_enabled(
                        can_write,
                        egui::Button::new("Import files…").shortcut_text("Ctrl+I"),
                    )
                    .clicked()
                {
                    self.ask(&ctx, PickPurpose::ImportFiles);
                }
                if ui
                    .add_enabled(can_write, egui::Button::new("Settings…"))
                    .clicked()
                {
                    self.settings = self
                        .summary
                        .as_ref()
                        .map(|s| SettingsDraft::from_settings(&s.settings));
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("View", |ui| {
                for view in View::ALL {
                    ui.selectable_value(&mut self.state.view, view, view.label());
                }
                ui.separator();
                // egui's own theme buttons are icons the bundled fonts lack: say it in words.
                let mut theme = ui.ctx().options(|o| o.theme_preference);
                ui.label("Theme");
                for (preference, label) in [
                    (egui::ThemePreference::System, "Follow the system"),
                    (egui::ThemePreference::Light, "Light"),
                    (egui::ThemePreference::Dark, "Dark"),
                ] {
                    if ui.selectable_value(&mut theme, preference, label).clicked() {
                        ui.ctx().set_theme(theme);
                    }
                }
            });
        });
    }

    pub(super) fn status_ui(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            if let Some(job) = &self.job {
                let (fraction, detail) = match &self.progress {
                    Some((JobProgress::Import(p), started)) if p.bytes_total > 0 => {
                        #[allow(clippy::cast_precision_loss)]
                        let fraction = p.bytes_read as f32 / p.bytes_total as f32;
                        let seconds = started.elapsed().as_secs_f64().max(1e-3);
                        #[allow(clippy::cast_precision_loss)]
                        let rate = p.rows as f64 / seconds;
                        (
                            Some(fraction),
                            format!(
                                "{} rows · {:.1} of {:.1} MB · {} rows/s",
                                ui::fmt_count(p.rows),
                                p.bytes_read as f64 / 1e6,
                                p.bytes_total as f64 / 1e6,
                                ui::fmt_count(rate as u64)
                            ),
                        )
                    }
                    Some((JobProgress::Rebuild { done, total }, _)) if *total > 0 => {
                        #[allow(clippy::cast_precision_loss)]
                        let fraction = *done as f32 / *total as f32;
                        (
                            Some(fraction),
                            format!(
                                "· rebuilding: {} of {} rows",
                                ui::fmt_count(*done),
                                ui::fmt_count(*total)
                            ),
                        )
                    }
                    _ => (None, String::new()),
                };
                match fraction {
                    Some(f) => {
                        ui.add(
                            egui::ProgressBar::new(f.clamp(0.0, 1.0))
                                .desired_width(220.0)
                                .show_percentage(),
                        );
                    }
                    None => {
                        ui::busy_ui(ui);
                    }
                }
                ui.label(format!("{} {detail}", job.label));
                if ui.button("Cancel").clicked() {
                    job.cancel();
                }
                ui.separator();
            } else if self.loading.is_some() {
                ui::busy_ui(ui);
                ui.label("Loading the project…");
                ui.separator();
            }
            if let Some(notice) = &self.notice {
                let color = if notice.error {
                    egui::Color32::from_rgb(220, 60, 60)
                } else {
                    ui.visuals().text_color()
                };
                ui.colored_label(color, &notice.text);
                if ui.small_button("Dismiss").clicked() {
                    self.notice = None;
                }
            }
        });
    }

    pub(super) fn header_ui(&mut self, ui: &mut Ui) {
        let Some(summary) = &self.summary else {
            match &self.loading {
                Some(path) => ui.label(format!("Opening {}…", path.display())),
                None => ui.label("No project open. Project > New or Open (Ctrl+O)."),
            };
            return;
        };
        ui.horizontal_wrapped(|ui| {
            let name = summary
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            ui.label(RichText::new(name).strong())
                .on_hover_text(summary.path.display().to_string());
            if summary.read_only {
                ui.colored_label(egui::Color32::from_rgb(230, 140, 0), "read-only")
                    .on_hover_text("The file is on read-only media or not writable: it can be viewed, not changed");
            }
            ui.weak(format!(
                "{} users · {} sessions · day N: {} · zone {} · data end {}",
                ui::fmt_count(summary.users as u64),
                ui::fmt_count(summary.sessions as u64),
                summary.settings.day.as_str(),
                summary.settings.tz,
                summary.data_end_ms.map_or_else(
                    || "n/a".to_owned(),
                    |ms| format_utc(ms).replace('T', " ").replace('Z', " UTC")
                ),
            ));
        });
        // Disjoint fields: the facets are read in place, not copied every frame.
        ui::filters::filter_bar_ui(ui, &mut self.state.filters, &summary.facets);
    }

    pub(super) fn views_ui(&mut self, ui: &mut Ui) {
        ui.add_space(6.0);
        for view in View::ALL {
            let selected = self.state.view == view;
            if ui
                .add_sized(
                    [ui.available_width(), 28.0],
                    egui::Button::selectable(selected, view.label()),
                )
                .clicked()
            {
                self.state.view = view;
            }
        }
    }

    pub(super) fn central_ui(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        if self.summary.is_none() {
            ui.centered_and_justified(|ui| {
                if self.loading.is_some() || self.job.is_some() {
                    ui::busy_ui(ui);
                } else {
                    ui.label("Open a project (Ctrl+O) or create one (Ctrl+N), then import files (Ctrl+I).");
                }
            });
            return;
        }
        let desired = self.desired_query();
        let fresh = self
            .result
            .as_ref()
            .is_some_and(|(q, _)| Some(q) == desired.as_ref());
        match self.state.view {
            View::Cohorts => ui::cohorts::controls_ui(ui, &mut self.state.cohorts),
            View::Sessions => ui::sessions::controls_ui(ui, &mut self.state.sessions),
            View::Quality => {
                let mut min = self.quality_min_installs();
                ui::quality::controls_ui(ui, &mut min);
                self.state.quality_min_installs = Some(min);
            }
            View::Campaigns => {
                if let Some(channel) = self.state.filters.channel.clone() {
                    ui.horizontal(|ui| {
                        ui.label(format!("Campaigns of {channel}"));
                        if ui.small_button("‹ all channels").clicked() {
                            self.state.filters.channel = None;
                            self.state.filters.campaign = None;
                            self.state.view = View::Channels;
                        }
                    });
                }
            }
            _ => {}
        }
        let view = self.state.view;
        // An answer is drawn (perhaps stale, under "updating…") only in the view it was
        // computed for: Channels and Campaigns share a result type but not a grouping.
        let result = self
            .result
            .as_ref()
            .filter(|(query, _)| {
                desired
                    .as_ref()
                    .is_some_and(|d| same_view(&query.view, &d.view))
            })
            .map(|(_, r)| r);
        // Without an answer to show, the view says "Computing…" itself.
        if !fresh && view != View::Data && result.is_some() {
            ui.horizontal(|ui| {
                ui::busy_ui(ui);
                ui.weak("updating…");
            });
        }
        match (view, result) {
            (View::Data, _) => {
                if let Some(summary) = &self.summary {
                    ui::data::data_ui(ui, summary, actions);
                }
            }
            (View::Overview, Some(ViewResult::Overview { all, distributions })) => {
                ui::overview::overview_ui(ui, all, distributions, actions);
            }
            (View::Cohorts, Some(ViewResult::Cohorts(matrix))) => {
                ui::cohorts::cohorts_ui(ui, &mut self.state.cohorts, matrix, actions);
            }
            (View::Channels, Some(ViewResult::Groups(report))) => {
                ui::groups::groups_ui(ui, &mut self.state.channels, report, false, actions);
            }
            (View::Campaigns, Some(ViewResult::Groups(report))) => {
                ui::groups::groups_ui(ui, &mut self.state.campaigns, report, true, actions);
            }
            (View::Sessions, Some(ViewResult::Sessions(parts))) => {
                ui::sessions::sessions_ui(ui, &self.state.sessions, parts, actions);
            }
            (View::Quality, Some(ViewResult::Quality(table))) => {
                ui::quality::quality_ui(ui, table, actions)
            }
            _ => ui::waiting_ui(ui),
        }
    }

    pub(super) fn path_prompt_ui(&mut self, ctx: &Context) {
        let Some(prompt) = &mut self.path_prompt else {
            return;
        };
        let title = match prompt.purpose {
            PickPurpose::OpenProject => "Open a project",
            PickPurpose::NewProject => "New project",
            PickPurpose::ImportFiles => "Import files",
            PickPurpose::SaveCsv(_) => "Export table",
            PickPurpose::SavePng(_) => "Save plot",
        };
        let mut chosen = None;
        let mut close = false;
        egui::Window::new(title)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                ui.label("No file dialog is available on this desktop. Type the path:");
                let multi = prompt.purpose == PickPurpose::ImportFiles;
                let label = ui.weak(if multi {
                    "one file per line"
                } else {
                    "full path of the file"
                });
                let edit = if multi {
                    egui::TextEdit::multiline(&mut prompt.text).desired_rows(3)
                } else {
                    egui::TextEdit::singleline(&mut prompt.text)
                };
                let example = match prompt.purpose {
                    PickPurpose::OpenProject => "/home/me/projects/game.cohort",
                    PickPurpose::NewProject => "/home/me/projects/new.cohort",
                    PickPurpose::ImportFiles => "/home/me/exports/sessions.csv",
                    PickPurpose::SaveCsv(_) => "/home/me/table.csv",
                    PickPurpose::SavePng(_) => "/home/me/plot.png",
                };
                let field = ui
                    .add(edit.desired_width(480.0).hint_text(example))
                    .labelled_by(label.id);
                // Enter in a one-line field is OK; otherwise typing goes to the field.
                let entered =
                    !multi && field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if !entered && ui.memory(|m| m.focused().is_none()) {
                    field.request_focus();
                }
                ui.horizontal(|ui| {
                    if ui.button("OK").clicked() || entered {
                        chosen = Some(prompt.paths());
                    }
                    if ui.button("Cancel").clicked() {
                        close = true;
                    }
                });
            });
        if let Some(paths) = chosen {
            let purpose = prompt.purpose.clone();
            self.path_prompt = None;
            if !paths.is_empty() {
                self.on_picked(ctx, &purpose, paths);
            }
        } else if close {
            self.path_prompt = None;
            self.csv_to_save = None;
            self.capture = None;
        }
    }

    fn confirm_removal_ui(&mut self, ctx: &Context) {
        let Some((id, file)) = self.confirm_removal.clone() else {
            return;
        };
        let mut answer = None;
        egui::Window::new("Remove import")
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                ui.label(format!(
                    "Take the rows of {file} out of the project? Users and sessions are rebuilt \
                     from the other imports; the file on disk is not touched."
                ));
                ui.horizontal(|ui| {
                    if ui.button("Remove").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Keep").clicked() {
                        answer = Some(false);
                    }
                });
            });
        match answer {
            Some(true) => {
                self.confirm_removal = None;
                if let Some(project) = self.summary.as_ref().map(|s| s.path.clone()) {
                    self.start_job(jobs::remove_import(project, id, wake(ctx)));
                }
            }
            Some(false) => self.confirm_removal = None,
            None => {}
        }
    }

    pub(super) fn windows(&mut self, ctx: &Context) {
        self.path_prompt_ui(ctx);
        self.confirm_removal_ui(ctx);
        if let Some(wizard) = &mut self.wizard {
            let mut outcome = ui::import_wizard::WizardOutcome::Open;
            egui::Window::new("Import")
                .collapsible(false)
                .default_width(760.0)
                .show(ctx, |ui| outcome = ui::import_wizard::wizard_ui(ui, wizard));
            match outcome {
                ui::import_wizard::WizardOutcome::Open => {}
                ui::import_wizard::WizardOutcome::Cancel => self.wizard = None,
                ui::import_wizard::WizardOutcome::Skip => {
                    wizard.files.remove(0);
                    wizard.preview = None;
                    wizard.previewed = None;
                }
                ui::import_wizard::WizardOutcome::Import => {
                    let file = wizard.files.remove(0);
                    let options = wizard.options.clone();
                    wizard.preview = None;
                    wizard.previewed = None;
                    if wizard.files.is_empty() {
                        self.wizard = None;
                    }
                    if let Some(project) = self.summary.as_ref().map(|s| s.path.clone()) {
                        self.start_job(jobs::import_files(project, vec![file], options, wake(ctx)));
                    }
                }
            }
            if self.job.is_none() {
                self.request_preview(ctx);
            }
        }

        if let Some(draft) = &mut self.settings {
            let mut outcome = ui::settings_dialog::SettingsOutcome::Open;
            egui::Window::new("Project settings")
                .collapsible(false)
                .resizable(false)
                .show(ctx, |ui| {
                    outcome = ui::settings_dialog::settings_ui(ui, draft)
                });
            match outcome {
                ui::settings_dialog::SettingsOutcome::Open => {}
                ui::settings_dialog::SettingsOutcome::Cancel => self.settings = None,
                ui::settings_dialog::SettingsOutcome::Apply(settings) => {
                    self.settings = None;
                    if let Some(project) = self.summary.as_ref().map(|s| s.path.clone()) {
                        self.start_job(jobs::save_settings(project, settings, wake(ctx)));
                    }
                }
            }
        }

        if !self.import_report.is_empty() && self.job.is_none() && self.wizard.is_none() {
            let mut open = true;
            egui::Window::new("Import report")
                .open(&mut open)
                .default_width(640.0)
                .show(ctx, |ui| {
                    egui::ScrollArea::vertical()
                        .max_height(360.0)
                        .show(ui, |ui| {
                            for line in &self.import_report {
                                ui.monospace(line);
                            }
                        });
                });
            if !open {
                self.import_report.clear();
            }
        }
    }
}

/// Whether two queries are for the same view (whatever their filters and options).
fn same_view(a: &ViewQuery, b: &ViewQuery) -> bool {
    match (a, b) {
        (ViewQuery::Groups { by: x }, ViewQuery::Groups { by: y }) => x == y,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}
