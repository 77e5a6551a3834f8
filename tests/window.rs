//! The window driven as a person would, headless with egui_kittest: every view opened by
//! its label, a filter and the day convention changed, a file imported through the wizard;
//! the numbers on screen are compared with what the metrics functions return.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cohort_explorer::app::picker::{FilePicker, PickPurpose};
use cohort_explorer::app::{AppOptions, CohortApp, Persisted};
use cohort_explorer::import::{self, ImportOptions};
use cohort_explorer::metrics::{self, GroupBy, Prepared, ReportRequest};
use cohort_explorer::model::DayConvention;
use cohort_explorer::store::Project;
use cohort_explorer::ui::{fmt_count, fmt_opt, fmt_percent};
use egui_kittest::kittest::Queryable as _;
use egui_kittest::Harness;

const INSTALLS: &str = "user_id,install_time,channel,campaign,country
u1,2024-03-01 10:00:00,fb,spring,DE
u2,2024-03-01 12:00:00,fb,spring,US
u3,2024-03-02 09:00:00,google,search,US
u4,2024-03-02 18:00:00,google,search,DE
u5,2024-03-03 08:00:00,google,brand,US
";

const SESSIONS: &str = "user_id,session_start,duration
u1,2024-03-01 10:00:00,300
u1,2024-03-02 11:00:00,120
u1,2024-03-09 09:00:00,60
u2,2024-03-01 12:00:00,30
u3,2024-03-02 09:00:00,600
u3,2024-03-03 08:30:00,200
u3,2024-03-04 23:30:00,100
u4,2024-03-02 18:00:00,5
u5,2024-03-03 08:00:00,400
u5,2024-03-04 07:00:00,50
u5,2024-04-10 07:00:00,50
";

const SPEND: &str = "date,channel,campaign,amount
2024-03-01,fb,spring,40
2024-03-02,google,search,30
2024-03-03,google,brand,20
";

const MORE_SESSIONS: &str = "user_id,session_start,duration
u2,2024-03-05 12:00:00,90
u4,2024-03-06 18:00:00,45
";

/// Answers file dialogs from a script instead of a desktop.
struct ScriptedPicker {
    import: Vec<PathBuf>,
}

impl FilePicker for ScriptedPicker {
    fn pick(&self, purpose: &PickPurpose) -> Option<Vec<PathBuf>> {
        match purpose {
            PickPurpose::ImportFiles => Some(self.import.clone()),
            _ => None,
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A new project at `path` with these files (name, text) imported, written into `dir`.
fn project_of(dir: &Path, path: &Path, files: &[(&str, &str)]) {
    let mut project = Project::create(path).unwrap();
    for (name, text) in files {
        let file = write(dir, name, text);
        import::import_file(
            &mut project,
            &file,
            &ImportOptions::default(),
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap();
    }
}

fn fixture(dir: &Path) -> PathBuf {
    let path = dir.join("fixture.cohort");
    project_of(
        dir,
        &path,
        &[
            ("installs.csv", INSTALLS),
            ("sessions.csv", SESSIONS),
            ("spend.csv", SPEND),
        ],
    );
    path
}

fn harness(dir: &Path, project: PathBuf, import: Vec<PathBuf>) -> Harness<'static, CohortApp> {
    let data_dir = dir.join("data");
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| {
            CohortApp::with_state(
                &cc.egui_ctx,
                AppOptions {
                    project: Some(project),
                    data_dir,
                    picker: Arc::new(ScriptedPicker { import }),
                },
                Persisted::default(),
            )
        })
}

/// Steps frames until the worker and jobs are done (they run on their own threads).
fn settle(harness: &mut Harness<'_, CohortApp>) {
    let started = Instant::now();
    loop {
        harness.step();
        if !harness.state().is_busy() {
            harness.run_steps(3);
            if !harness.state().is_busy() {
                return;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the window did not settle"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn shows(harness: &Harness<'_, CohortApp>, text: &str) -> bool {
    harness.query_all_by_label(text).next().is_some()
}

fn open_view(harness: &mut Harness<'_, CohortApp>, view: &str) {
    harness.get_by_label(view).click();
    settle(harness);
}

fn expected(
    project: &Path,
    day: DayConvention,
    by: GroupBy,
    filter: metrics::Filter,
) -> metrics::Report {
    let mut dataset = Project::open(project).unwrap().load_dataset().unwrap();
    dataset.settings.day = day;
    let prepared = Prepared::new(&dataset);
    metrics::report(
        &prepared,
        &ReportRequest {
            by,
            days: if by == GroupBy::None {
                vec![0, 1, 7, 30]
            } else {
                (0..=30).collect()
            },
            filter,
            ..ReportRequest::default()
        },
    )
}

#[test]
fn every_view_shows_what_the_metrics_compute() {
    let dir = tempfile::tempdir().unwrap();
    let project = fixture(dir.path());
    let mut harness = harness(dir.path(), project.clone(), Vec::new());
    settle(&mut harness);
    assert_eq!(harness.state().summary().map(|s| s.users), Some(5));

    // Overview: the headline numbers of the whole project.
    let all = expected(
        &project,
        DayConvention::Window,
        GroupBy::None,
        metrics::Filter::default(),
    );
    let group = &all.groups[0];
    assert!(
        shows(&harness, &fmt_count(group.sessions)),
        "sessions {}",
        group.sessions
    );
    let d1 = group.day(1).unwrap();
    assert!(shows(&harness, &fmt_opt(d1.sessions_per_user, 2)));
    assert!(shows(&harness, &fmt_percent(d1.retention)));
    harness.snapshot("overview");

    // Channels: every channel's installs and sessions per user by D7.
    open_view(&mut harness, "Channels");
    let channels = expected(
        &project,
        DayConvention::Window,
        GroupBy::Channel,
        metrics::Filter::default(),
    );
    assert_eq!(channels.groups.len(), 2);
    for g in &channels.groups {
        assert!(shows(&harness, &g.name), "channel {}", g.name);
        assert!(
            shows(&harness, &fmt_opt(g.day(7).unwrap().sessions_per_user, 2)),
            "{} SPU D7",
            g.name
        );
        assert!(shows(&harness, &fmt_opt(g.spend, 2)), "{} spend", g.name);
    }

    open_view(&mut harness, "Cohorts");
    assert!(shows(&harness, "Average"));
    harness.snapshot("cohorts");
    open_view(&mut harness, "Campaigns");
    for campaign in ["spring", "search", "brand"] {
        assert!(shows(&harness, campaign), "campaign {campaign}");
    }
    open_view(&mut harness, "Sessions");
    assert!(shows(&harness, "session length (seconds)"));
    open_view(&mut harness, "Quality");
    assert!(shows(&harness, "Retention D7"));
    open_view(&mut harness, "Data");
    assert!(shows(&harness, "installs.csv") && shows(&harness, "Import log"));

    // A filter: pick the google channel.
    open_view(&mut harness, "Overview");
    harness
        .get_by_role_and_label(egui::accesskit::Role::ComboBox, "Channel")
        .click();
    harness.run_steps(2);
    harness.get_by_label("google").click();
    settle(&mut harness);
    let google = expected(
        &project,
        DayConvention::Window,
        GroupBy::None,
        metrics::Filter {
            channel: Some("google".to_owned()),
            ..metrics::Filter::default()
        },
    );
    assert_eq!(google.groups[0].installs, 3);
    assert!(shows(&harness, &fmt_count(google.groups[0].sessions)));
    assert!(shows(&harness, &fmt_opt(google.groups[0].cpi, 2)));

    // The day convention, through the settings dialog; sessions are recomputed behind it.
    harness.get_by_label("Clear filters").click();
    harness.get_by_label("Project").click();
    harness.run_steps(2);
    harness.get_by_label("Settings…").click();
    harness.run_steps(2);
    harness
        .get_by_label("calendar: calendar days since the install date")
        .click();
    harness.run_steps(2);
    harness.get_by_label("Apply").click();
    settle(&mut harness);
    assert_eq!(
        harness.state().summary().map(|s| s.settings.day),
        Some(DayConvention::Calendar)
    );
    open_view(&mut harness, "Channels");
    let calendar = expected(
        &project,
        DayConvention::Calendar,
        GroupBy::Channel,
        metrics::Filter::default(),
    );
    for g in &calendar.groups {
        assert!(
            shows(&harness, &fmt_opt(g.day(1).unwrap().sessions_per_user, 2)),
            "{} SPU D1",
            g.name
        );
        assert!(
            shows(&harness, &fmt_percent(g.day(1).unwrap().retention)),
            "{} retention D1",
            g.name
        );
    }
}

#[test]
fn a_file_imported_through_the_wizard_lands_in_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let project = fixture(dir.path());
    let more = write(dir.path(), "more_sessions.csv", MORE_SESSIONS);
    let mut harness = harness(dir.path(), project.clone(), vec![more]);
    settle(&mut harness);
    assert_eq!(harness.state().summary().map(|s| s.sessions), Some(11));

    // Ctrl+I asks the (scripted) dialog, the wizard previews the file.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::I);
    settle(&mut harness);
    assert!(shows(&harness, "The first rows, as they will be read"));
    assert!(harness
        .query_all_by_label_contains("2024-03-05 12:00:00")
        .next()
        .is_some());
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Import")
        .click();
    settle(&mut harness);

    assert_eq!(harness.state().summary().map(|s| s.sessions), Some(13));
    assert!(harness
        .query_all_by_label_contains("more_sessions.csv: 2 rows read, 2 imported, 0 rejected")
        .next()
        .is_some());
    // The project file itself has them, for the command line and colleagues.
    assert_eq!(
        Project::open(&project)
            .unwrap()
            .load_dataset()
            .unwrap()
            .sessions
            .len(),
        13
    );
}

/// A file dropped from the file manager, as the windowing layer hands it to egui.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn a_file_dropped_on_the_window_opens_the_import_wizard() {
    let dir = tempfile::tempdir().unwrap();
    let project = fixture(dir.path());
    let more = write(dir.path(), "dropped_sessions.csv", MORE_SESSIONS);
    let mut harness = harness(dir.path(), project, Vec::new());
    settle(&mut harness);

    harness
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(more)));
    settle(&mut harness);
    assert!(shows(&harness, "dropped_sessions.csv"));
    assert!(shows(&harness, "The first rows, as they will be read"));
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Import")
        .click();
    settle(&mut harness);
    assert_eq!(harness.state().summary().map(|s| s.sessions), Some(13));
}

#[test]
fn without_a_file_dialog_a_typed_path_and_enter_open_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let first = fixture(dir.path());
    let second = dir.path().join("second.cohort");
    project_of(dir.path(), &second, &[("more_sessions.csv", MORE_SESSIONS)]);
    let mut harness = harness(dir.path(), first, Vec::new());
    settle(&mut harness);
    assert_eq!(harness.state().summary().map(|s| s.sessions), Some(11));

    // The (scripted) dialog answers at once with nothing, as one without a desktop portal
    // does: the window asks for the path itself, with the typing already in its field.
    let open = |harness: &mut Harness<'_, CohortApp>, path: &Path| {
        harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::O);
        let asked = Instant::now();
        while !shows(harness, "Open a project") {
            assert!(asked.elapsed() < Duration::from_secs(10), "no path prompt");
            harness.step();
            std::thread::sleep(Duration::from_millis(10));
        }
        harness
            .get_by_role_and_label(egui::accesskit::Role::TextInput, "full path of the file")
            .type_text(path.to_str().unwrap());
        harness.run_steps(2);
        harness.key_press(egui::Key::Enter);
        settle(harness);
        assert!(!shows(harness, "Open a project"));
    };
    let mistyped = dir.path().join("secnd.cohort");
    open(&mut harness, &mistyped);
    let told = |harness: &Harness<'_, CohortApp>| {
        harness
            .query_all_by_label_contains("secnd.cohort")
            .next()
            .is_some()
    };
    assert!(told(&harness), "the failed opening is not told");
    assert_eq!(harness.state().summary().map(|s| s.sessions), Some(11));

    open(&mut harness, &second);
    assert_eq!(harness.state().summary().map(|s| s.sessions), Some(2));
    assert!(!told(&harness), "the failed opening is still told");
}

#[test]
fn a_project_without_sessions_says_so_instead_of_empty_plots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("installs.cohort");
    project_of(dir.path(), &path, &[("installs.csv", INSTALLS)]);
    let mut harness = harness(dir.path(), path, Vec::new());
    settle(&mut harness);
    assert_eq!(harness.state().summary().map(|s| s.sessions), Some(0));
    assert!(shows(
        &harness,
        "No session of known length under these filters (installs alone have none)"
    ));

    // "Sessions" is also a headline's caption on the overview: the view's button.
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Sessions")
        .click();
    settle(&mut harness);
    assert!(shows(&harness, "No sessions to count under these filters"));
    assert!(shows(&harness, "No gaps to count under these filters"));
}
