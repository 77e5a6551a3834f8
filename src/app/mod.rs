//! The window: wires the project, the background workers and the views together.
//!
//! The frame only reads: queries go to the worker thread, writes (imports, settings,
//! the demo, exports) run as jobs on their own threads, file dialogs on theirs. Results
//! come back on channels and wake the frame.

mod frame;
pub mod jobs;
pub mod picker;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Result;
use egui::{Context, Key, KeyboardShortcut, Modifiers, Ui};
use serde::{Deserialize, Serialize};

use crate::import::ImportOutcome;
use crate::metrics::GroupBy;
use crate::ui::{
    self, cohorts::CohortsState, filters::FilterState, groups::GroupsState,
    import_wizard::ImportWizard, sessions::SessionsState, settings_dialog::SettingsDraft, Action,
    View,
};
use jobs::{Job, JobEvent, JobProgress};
use picker::{FilePicker, NativePicker, PendingPick, PickPurpose};
use worker::{ProjectSummary, Query, Request, Response, ViewQuery, ViewResult, Worker};

/// Where the window keeps its choices between runs.
const STATE_KEY: &str = "cohort-explorer-state";
/// Recent projects kept in the menu.
const RECENT_PROJECTS: usize = 8;

/// Opens the window on `project`, or on the last or demo project.
pub fn run(project: Option<PathBuf>) -> Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Cohort Explorer")
            .with_app_id("cohort-explorer")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([960.0, 600.0])
            .with_drag_and_drop(true),
        persist_window: true,
        ..eframe::NativeOptions::default()
    };
    let data_dir = dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("cohort-explorer");
    eframe::run_native(
        "cohort-explorer",
        options,
        Box::new(move |cc| {
            let app = CohortApp::new(
                cc,
                AppOptions {
                    project,
                    data_dir,
                    picker: Arc::new(NativePicker),
                },
            );
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// How the app is started: by `main`, or by a test with its own picker and folder.
pub struct AppOptions {
    /// Open this project instead of the last one.
    pub project: Option<PathBuf>,
    /// Where the demo project is written on first start.
    pub data_dir: PathBuf,
    pub picker: Arc<dyn FilePicker>,
}

/// The choices that survive a restart.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    pub last_project: Option<PathBuf>,
    pub recent: Vec<PathBuf>,
    pub view: View,
    pub filters: FilterState,
    pub cohorts: CohortsState,
    pub channels: GroupsState,
    pub campaigns: GroupsState,
    pub sessions: SessionsState,
    pub quality_min_installs: Option<u64>,
}

/// A message for the user in the status bar.
#[derive(Clone, Debug)]
struct Notice {
    text: String,
    error: bool,
}

/// A plot screenshot waiting for its pixels, then for a file name.
enum PlotCapture {
    Requested { name: String, rect: egui::Rect },
    Captured { image: Arc<egui::ColorImage> },
}

pub struct CohortApp {
    options: AppOptions,
    pub state: Persisted,
    worker: Worker,
    summary: Option<ProjectSummary>,
    loading: Option<PathBuf>,
    /// When the project being opened was asked for, until its first view's answer arrives
    /// (logged: issue #5 asks for the overview within a second of opening).
    opened_at: Option<std::time::Instant>,
    generation: u64,
    sent: Option<Query>,
    result: Option<(Query, ViewResult)>,
    job: Option<Job>,
    progress: Option<(JobProgress, Instant)>,
    preview_job: Option<Job>,
    wizard: Option<ImportWizard>,
    settings: Option<SettingsDraft>,
    import_report: Vec<String>,
    pick: Option<PendingPick>,
    csv_to_save: Option<(String, Vec<u8>)>,
    capture: Option<PlotCapture>,
    /// Filled by the screenshot callback, on the render thread.
    screenshot: Arc<Mutex<Option<Arc<egui::ColorImage>>>>,
    notice: Option<Notice>,
    path_prompt: Option<PathPrompt>,
    /// An import the user asked to remove, waiting for confirmation.
    confirm_removal: Option<(i64, String)>,
}

/// Asks for a path in the window when the desktop has no file dialog.
struct PathPrompt {
    purpose: PickPurpose,
    text: String,
}

impl PathPrompt {
    fn new(purpose: PickPurpose) -> Self {
        let text = match &purpose {
            PickPurpose::SaveCsv(name) => format!("{name}.csv"),
            PickPurpose::SavePng(name) => format!("{name}.png"),
            PickPurpose::NewProject => "project.cohort".to_owned(),
            PickPurpose::OpenProject | PickPurpose::ImportFiles => String::new(),
        };
        Self { purpose, text }
    }

    /// One path per line (several only for imports).
    fn paths(&self) -> Vec<PathBuf> {
        self.text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect()
    }
}

impl CohortApp {
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        let state: Persisted = cc
            .storage
            .and_then(|storage| eframe::get_value(storage, STATE_KEY))
            .unwrap_or_default();
        let software = cc.wgpu_render_state.as_ref().is_some_and(|render| {
            render.adapter.get_info().device_type == eframe::wgpu::DeviceType::Cpu
        });
        if software {
            log::info!("drawing without a GPU: busy indicators move once a second");
        }
        ui::set_software_rendering(&cc.egui_ctx, software);
        Self::with_state(&cc.egui_ctx, options, state)
    }

    /// The app with given choices; tests start here.
    pub fn with_state(ctx: &Context, options: AppOptions, state: Persisted) -> Self {
        let wake_ctx = ctx.clone();
        let worker = match Worker::start(move || wake_ctx.request_repaint()) {
            Ok(worker) => worker,
            Err(error) => {
                // Without threads nothing can work; say so rather than hide it.
                log::error!("cannot start the query worker: {error}");
                std::process::exit(1);
            }
        };
        let mut app = Self {
            options,
            state,
            worker,
            summary: None,
            loading: None,
            opened_at: None,
            generation: 0,
            sent: None,
            result: None,
            job: None,
            progress: None,
            preview_job: None,
            wizard: None,
            settings: None,
            import_report: Vec::new(),
            pick: None,
            csv_to_save: None,
            capture: None,
            screenshot: Arc::new(Mutex::new(None)),
            notice: None,
            path_prompt: None,
            confirm_removal: None,
        };
        app.open_initial_project(ctx);
        app
    }

    /// The given project, else the last one, else the demo (written on first start).
    fn open_initial_project(&mut self, ctx: &Context) {
        let candidate = self
            .options
            .project
            .clone()
            .or_else(|| self.state.last_project.clone().filter(|p| p.exists()));
        if let Some(path) = candidate {
            self.load(path);
            return;
        }
        let demo = self.options.data_dir.join("demo.cohort");
        if demo.exists() {
            self.load(demo);
        } else {
            let wake = wake(ctx);
            self.start_job(jobs::write_demo(demo, wake));
        }
    }

    pub fn summary(&self) -> Option<&ProjectSummary> {
        self.summary.as_ref()
    }

    /// Whether background work is under way (for tests that wait for the window to settle).
    pub fn is_busy(&self) -> bool {
        self.loading.is_some()
            || self.job.is_some()
            || self.preview_job.is_some()
            || self.pick.is_some()
            || self
                .desired_query()
                .is_some_and(|q| self.result.as_ref().is_none_or(|(r, _)| *r != q))
    }

    fn load(&mut self, path: PathBuf) {
        log::debug!("loading {}", path.display());
        // An error about what was open before, or about a path that failed to open, is
        // stale once another project opens.
        if self.summary.as_ref().is_none_or(|s| s.path != path) {
            self.notice = self.notice.take().filter(|n| !n.error);
        }
        self.loading = Some(path.clone());
        self.worker.send(Request::Load(path));

        // The view's query follows the load at once: the worker answers it as soon as
        // the project is ready, without waiting for a frame to ask.
        self.sent = self.view_query();
        self.opened_at = self.sent.is_some().then(std::time::Instant::now);
        if let Some(query) = self.sent.clone() {
            self.generation += 1;
            self.worker.send(Request::Query {
                generation: self.generation,
                query,
            });
        }
    }

    fn start_job(&mut self, job: std::io::Result<Job>) {
        match job {
            Ok(job) => {
                self.progress = None;
                self.job = Some(job);
            }
            Err(error) => self.tell(format!("cannot start background work: {error}"), true),
        }
    }

    fn tell(&mut self, text: String, error: bool) {
        if error {
            log::warn!("{text}");
        } else {
            log::info!("{text}");
        }
        self.notice = Some(Notice { text, error });
    }

    fn remember_project(&mut self, path: &Path) {
        self.state.last_project = Some(path.to_owned());
        self.state.recent.retain(|p| p != path);
        self.state.recent.insert(0, path.to_owned());
        self.state.recent.truncate(RECENT_PROJECTS);
    }

    fn desired_query(&self) -> Option<Query> {
        self.summary.as_ref()?;
        self.view_query()
    }

    /// The query of the current view under the current filters, loaded project or not.
    fn view_query(&self) -> Option<Query> {
        let view = match self.state.view {
            View::Overview => ViewQuery::Overview,
            View::Cohorts => ViewQuery::Cohorts {
                grain: self.state.cohorts.grain,
                metric: self.state.cohorts.metric,
                max_day: self.state.cohorts.max_day,
            },
            View::Channels => ViewQuery::Groups {
                by: GroupBy::Channel,
            },
            View::Campaigns => ViewQuery::Groups {
                by: GroupBy::Campaign,
            },
            View::Sessions => ViewQuery::Sessions {
                split: self.state.sessions.split,
            },
            View::Quality => ViewQuery::Quality {
                min_installs: self.quality_min_installs(),
            },
            View::Data => return None,
        };
        Some(Query {
            filter: self.state.filters.filter(),
            view,
        })
    }

    fn quality_min_installs(&self) -> u64 {
        self.state.quality_min_installs.unwrap_or(50)
    }

    /// Reads what the worker, the jobs and the dialogs sent since the last frame.
    fn drain(&mut self, ctx: &Context) {
        while let Some(response) = self.worker.try_recv() {
            match response {
                Response::Loaded(summary) => {
                    // A summary remembered from the last load shows the overview while
                    // the project still loads.
                    if self.loading.as_ref() == Some(&summary.path) && !summary.loading {
                        self.loading = None;
                    }
                    self.remember_project(&summary.path.clone());
                    self.summary = Some(*summary);
                }
                Response::LoadFailed { path, error } => {
                    if self.loading.as_ref() == Some(&path) {
                        self.loading = None;
                    }
                    // What was remembered of it goes too: the project did not load.
                    if self
                        .summary
                        .as_ref()
                        .is_some_and(|s| s.path == path && s.loading)
                    {
                        self.summary = None;
                        self.result = None;
                    }
                    self.state.recent.retain(|p| *p != path);
                    self.tell(error, true);
                }
                Response::Answer { generation, result } => {
                    if generation == self.generation {
                        if let Some(query) = self.sent.clone() {
                            self.result = Some((query, *result));
                        }
                        if let Some(opened_at) = self.opened_at.take() {
                            log::info!(
                                "the opened project's first view answered {} ms after opening",
                                opened_at.elapsed().as_millis()
                            );
                        }
                    }
                }
            }
        }

        let events: Vec<JobEvent> = self
            .job
            .as_ref()
            .map(|j| j.events.try_iter().collect())
            .unwrap_or_default();
        for event in events {
            self.on_job_event(ctx, event);
        }
        let previews: Vec<JobEvent> = self
            .preview_job
            .as_ref()
            .map(|j| j.events.try_iter().collect())
            .unwrap_or_default();
        for event in previews {
            match event {
                JobEvent::Previewed(preview) => {
                    if let Some(wizard) = &mut self.wizard {
                        let read_with = wizard
                            .current()
                            .cloned()
                            .map(|f| (f, wizard.options.clone()));
                        wizard.previewed = read_with;
                        wizard.preview = Some(preview);
                    }
                }
                JobEvent::Finished { .. } => self.preview_job = None,
                _ => {}
            }
        }

        if let Some(answer) = self.pick.as_ref().and_then(PendingPick::poll) {
            let never_showed = self.pick.as_ref().is_some_and(PendingPick::never_showed);
            let purpose = self.pick.take().map(|p| p.purpose);
            match (purpose, answer) {
                (Some(purpose), Some(paths)) => self.on_picked(ctx, &purpose, paths),
                // Without a desktop portal the native dialog returns at once: ask in the
                // window instead of leaving the user with a click that did nothing.
                (Some(purpose), None) if never_showed => {
                    log::info!("no native file dialog available; asking for a path in the window");
                    self.path_prompt = Some(PathPrompt::new(purpose));
                }
                _ => {
                    self.csv_to_save = None;
                    self.capture = None;
                }
            }
        }
    }

    fn on_job_event(&mut self, ctx: &Context, event: JobEvent) {
        match event {
            JobEvent::Progress { progress, started } => {
                self.progress = Some((JobProgress::Import(progress), started));
            }
            JobEvent::Rebuilding {
                done,
                total,
                started,
            } => self.progress = Some((JobProgress::Rebuild { done, total }, started)),
            JobEvent::Imported { file, result } => {
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                match result.map(|outcome| *outcome) {
                    Ok(ImportOutcome::Imported { record, stats }) => {
                        self.import_report.push(format!(
                            "{name}: {} rows read, {} imported, {} rejected; the project has {} users and {} sessions",
                            ui::fmt_count(record.rows_read),
                            ui::fmt_count(record.rows_accepted),
                            ui::fmt_count(record.rows_rejected),
                            ui::fmt_count(stats.users),
                            ui::fmt_count(stats.sessions)
                        ));
                        for (reason, count) in &record.rejected_by_reason {
                            self.import_report
                                .push(format!("    rejected, {reason}: {count}"));
                            for example in record
                                .rejected_examples
                                .iter()
                                .filter(|e| &e.reason == reason)
                            {
                                self.import_report.push(format!(
                                    "        line {}: {}",
                                    example.line, example.detail
                                ));
                            }
                        }
                        for note in &record.notes {
                            self.import_report.push(format!("    {note}"));
                        }
                    }
                    Ok(ImportOutcome::AlreadyImported(previous)) => {
                        self.import_report.push(format!(
                            "{name}: already imported on {} (same SHA-256); nothing changed",
                            previous.imported_at
                        ))
                    }
                    Err(error) => self.import_report.push(error),
                }
            }
            JobEvent::Previewed(_) => {}
            JobEvent::ImportRemoved(result) => match result {
                Ok(()) => self.tell(
                    "The import was removed; users and sessions rebuilt".to_owned(),
                    false,
                ),
                Err(error) => self.tell(format!("The import was not removed: {error}"), true),
            },
            JobEvent::SettingsSaved(result) => match result {
                Ok(()) => self.tell("Settings applied".to_owned(), false),
                Err(error) => self.tell(format!("Settings not applied: {error}"), true),
            },
            JobEvent::DemoWritten(result) => match result {
                Ok(path) => self.load(path),
                Err(error) => self.tell(
                    format!("The demo project could not be written: {error}"),
                    true,
                ),
            },
            JobEvent::Exported(result) => match result {
                Ok(path) => self.tell(format!("Saved {}", path.display()), false),
                Err(error) => self.tell(format!("Not saved: {error}"), true),
            },
            JobEvent::Finished { changed } => {
                let cancelled = self.job.as_ref().is_some_and(Job::is_cancelled);
                self.job = None;
                self.progress = None;
                if cancelled {
                    self.tell(
                        "Cancelled; the project is as it was before".to_owned(),
                        false,
                    );
                }
                // A job that made a new project already asked for it to be loaded; any
                // other change reloads the open project.
                if changed && self.loading.is_none() {
                    if let Some(path) = self.summary.as_ref().map(|s| s.path.clone()) {
                        self.load(path);
                    }
                }
                // The next file of a multi-file import, if any.
                if self.wizard.as_ref().is_some_and(|w| !w.files.is_empty()) {
                    self.request_preview(ctx);
                }
            }
        }
    }

    fn on_picked(&mut self, ctx: &Context, purpose: &PickPurpose, paths: Vec<PathBuf>) {
        let Some(first) = paths.first().cloned() else {
            return;
        };
        match purpose {
            PickPurpose::OpenProject => self.load(first),
            PickPurpose::NewProject => {
                let path = if first.extension().is_some() {
                    first
                } else {
                    first.with_extension("cohort")
                };
                self.start_job(jobs::create_project(path, wake(ctx)));
            }
            PickPurpose::ImportFiles => self.open_wizard(ctx, paths),
            PickPurpose::SaveCsv(_) => {
                if let Some((_, bytes)) = self.csv_to_save.take() {
                    let path = with_extension(first, "csv");
                    self.start_job(jobs::export(path, jobs::Payload::Bytes(bytes), wake(ctx)));
                }
            }
            PickPurpose::SavePng(_) => {
                if let Some(PlotCapture::Captured { image, .. }) = self.capture.take() {
                    let path = with_extension(first, "png");
                    self.start_job(jobs::export(path, jobs::Payload::Png(image), wake(ctx)));
                }
            }
        }
    }

    fn ask(&mut self, ctx: &Context, purpose: PickPurpose) {
        if self.pick.is_some() {
            return;
        }
        self.pick = PendingPick::start(&self.options.picker, purpose, wake(ctx));
    }

    fn open_wizard(&mut self, ctx: &Context, files: Vec<PathBuf>) {
        if self.summary.is_none() {
            self.tell("Open or create a project before importing".to_owned(), true);
            return;
        }
        if self.summary.as_ref().is_some_and(|s| s.read_only) {
            self.tell(
                "This project is read-only: copy it to a writable folder to import into it"
                    .to_owned(),
                true,
            );
            return;
        }
        let (files, missing): (Vec<PathBuf>, Vec<PathBuf>) =
            files.into_iter().partition(|f| f.is_file());
        if let Some(first) = missing.first() {
            self.tell(format!("No such file: {}", first.display()), true);
        }
        if files.is_empty() {
            return;
        }
        self.import_report.clear();
        self.wizard = Some(ImportWizard::new(files));
        self.request_preview(ctx);
    }

    fn request_preview(&mut self, ctx: &Context) {
        if self.preview_job.is_some() {
            return;
        }
        let Some(wizard) = &mut self.wizard else {
            return;
        };
        let Some(file) = wizard.current().cloned() else {
            return;
        };
        if !wizard.preview_is_stale() {
            return;
        }
        wizard.preview = None;
        match jobs::preview(file, wizard.options.clone(), wake(ctx)) {
            Ok(job) => self.preview_job = Some(job),
            Err(error) => self.tell(format!("cannot read the file: {error}"), true),
        }
    }

    /// Sends the current view's query when it changed since the last one.
    fn refresh_query(&mut self) {
        if self.loading.is_some() {
            return;
        }
        let desired = self.desired_query();
        if desired.is_some() && desired != self.sent {
            self.generation += 1;
            self.sent.clone_from(&desired);
            if let Some(query) = desired {
                self.worker.send(Request::Query {
                    generation: self.generation,
                    query,
                });
            }
        }
    }

    fn shortcuts(&mut self, ctx: &Context) {
        let open = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
        let import = KeyboardShortcut::new(Modifiers::COMMAND, Key::I);
        let new = KeyboardShortcut::new(Modifiers::COMMAND, Key::N);
        if ctx.input_mut(|i| i.consume_shortcut(&open)) {
            self.ask(ctx, PickPurpose::OpenProject);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&import)) {
            self.ask(ctx, PickPurpose::ImportFiles);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&new)) {
            self.ask(ctx, PickPurpose::NewProject);
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if !dropped.is_empty() {
            let (projects, files): (Vec<PathBuf>, Vec<PathBuf>) = dropped
                .into_iter()
                .partition(|p| p.extension().is_some_and(|e| e == "cohort"));
            if let Some(project) = projects.into_iter().next() {
                self.load(project);
            } else {
                self.open_wizard(ctx, files);
            }
        }
    }

    /// Crops the screenshot a "Save PNG" asked for to the plot, then asks where to save it.
    fn capture_plots(&mut self, ctx: &Context) {
        let Some(PlotCapture::Requested { name, rect }) = &self.capture else {
            return;
        };
        let screenshot = self.screenshot.lock().ok().and_then(|mut slot| slot.take());
        if let Some(image) = screenshot {
            let ppp = ctx.pixels_per_point();
            #[allow(clippy::cast_precision_loss)]
            let whole = egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(image.size[0] as f32 / ppp, image.size[1] as f32 / ppp),
            );
            // `region` panics outside the image; a plot can be scrolled partly out of view.
            let visible = rect.intersect(whole);
            let name = name.clone();
            if visible.width() < 1.0 || visible.height() < 1.0 {
                self.capture = None;
                self.tell(
                    "The plot is not on screen; scroll to it and try again".to_owned(),
                    true,
                );
                return;
            }
            self.capture = Some(PlotCapture::Captured {
                image: Arc::new(image.region(&visible, Some(ppp))),
            });
            self.ask(ctx, PickPurpose::SavePng(name));
        }
    }

    fn act(&mut self, ctx: &Context, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::ExportCsv { name, table } => {
                    self.csv_to_save = Some((name.clone(), table.to_csv()));
                    self.ask(ctx, PickPurpose::SaveCsv(name));
                }
                Action::SavePlot { name, rect } => {
                    self.capture = Some(PlotCapture::Requested { name, rect });
                    let slot = Arc::clone(&self.screenshot);
                    let wake = wake(ctx);
                    ctx.request_screenshot(move |image| {
                        if let Ok(mut slot) = slot.lock() {
                            *slot = Some(image);
                        }
                        wake();
                    });
                }
                Action::RemoveImport { id, file } => self.confirm_removal = Some((id, file)),
                Action::DrillDown { channel } => {
                    self.state.filters.channel = Some(channel);
                    self.state.filters.campaign = None;
                    self.state.view = View::Campaigns;
                }
            }
        }
    }
}

/// The path with `extension` unless it already ends so (any case).
fn with_extension(path: PathBuf, extension: &str) -> PathBuf {
    let has = path
        .extension()
        .is_some_and(|e| e.to_string_lossy().eq_ignore_ascii_case(extension));
    if has {
        path
    } else {
        path.with_extension(extension)
    }
}

/// A callback that wakes the frame from another thread.
fn wake(ctx: &Context) -> impl Fn() + Send + 'static {
    let ctx = ctx.clone();
    move || ctx.request_repaint()
}

impl eframe::App for CohortApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        // Per frame, so trace only: how long the last frame took, and what asked for this
        // one (responsiveness checks).
        log::trace!(
            "frame interval {:.1} ms, asked by {:?}",
            ctx.input(|i| i.unstable_dt) * 1000.0,
            ctx.repaint_causes()
        );
        self.drain(&ctx);
        self.shortcuts(&ctx);
        self.capture_plots(&ctx);
        self.refresh_query();

        let mut actions = Vec::new();
        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        egui::Panel::top("header").show(ui, |ui| self.header_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::Panel::left("views")
            .exact_size(132.0)
            .show(ui, |ui| self.views_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| self.central_ui(ui, &mut actions));
        self.windows(&ctx);
        self.act(&ctx, actions);
        // A changed filter or view is sent right away, not on the next input event.
        self.refresh_query();
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STATE_KEY, &self.state);
    }
}
