//! Native file dialogs, behind a trait so that tests answer them without a desktop. The
//! dialog blocks, so the app calls it on a named thread and reads the answer later.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// What a dialog is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PickPurpose {
    OpenProject,
    NewProject,
    ImportFiles,
    /// Save a table; the suggested file name.
    SaveCsv(String),
    /// Save a plot; the suggested file name.
    SavePng(String),
}

/// Asks the user for paths. `None` means the dialog was dismissed.
pub trait FilePicker: Send + Sync {
    fn pick(&self, purpose: &PickPurpose) -> Option<Vec<PathBuf>>;
}

/// The native dialogs of the desktop (through the XDG portal on Linux).
pub struct NativePicker;

impl FilePicker for NativePicker {
    fn pick(&self, purpose: &PickPurpose) -> Option<Vec<PathBuf>> {
        let dialog = rfd::FileDialog::new();
        match purpose {
            PickPurpose::OpenProject => dialog
                .set_title("Open a project")
                .add_filter("Cohort Explorer project", &["cohort"])
                .pick_file()
                .map(|p| vec![p]),
            PickPurpose::NewProject => dialog
                .set_title("New project")
                .add_filter("Cohort Explorer project", &["cohort"])
                .set_file_name("project.cohort")
                .save_file()
                .map(|p| vec![p]),
            PickPurpose::ImportFiles => dialog
                .set_title("Import files")
                .add_filter(
                    "Exports",
                    &["csv", "tsv", "txt", "json", "jsonl", "ndjson", "gz"],
                )
                .add_filter("All files", &["*"])
                .pick_files(),
            PickPurpose::SaveCsv(name) => dialog
                .set_title("Export table")
                .add_filter("CSV", &["csv"])
                .set_file_name(format!("{name}.csv"))
                .save_file()
                .map(|p| vec![p]),
            PickPurpose::SavePng(name) => dialog
                .set_title("Save plot")
                .add_filter("PNG image", &["png"])
                .set_file_name(format!("{name}.png"))
                .save_file()
                .map(|p| vec![p]),
        }
    }
}

/// A dialog in progress.
pub struct PendingPick {
    pub purpose: PickPurpose,
    answer: Receiver<Option<Vec<PathBuf>>>,
    started: Instant,
}

/// A dialog dismissed sooner than this never showed: there is no desktop portal.
const NO_DIALOG_WITHIN: Duration = Duration::from_millis(400);

impl PendingPick {
    /// Opens the dialog on its own thread.
    pub fn start(
        picker: &Arc<dyn FilePicker>,
        purpose: PickPurpose,
        wake: impl Fn() + Send + 'static,
    ) -> Option<Self> {
        let (tx, answer) = mpsc::sync_channel(1);
        let picker = Arc::clone(picker);
        let asked = purpose.clone();
        let spawned = thread::Builder::new()
            .name("file-dialog".to_owned())
            .spawn(move || {
                let _ = tx.send(picker.pick(&asked));
                wake();
            });
        match spawned {
            Ok(_) => Some(Self {
                purpose,
                answer,
                started: Instant::now(),
            }),
            Err(error) => {
                log::error!("cannot open a file dialog: {error}");
                None
            }
        }
    }

    /// The answer once the dialog closed: `Some(None)` when dismissed.
    pub fn poll(&self) -> Option<Option<Vec<PathBuf>>> {
        self.answer.try_recv().ok()
    }

    /// Whether a dismissal came too fast for any dialog to have been shown.
    pub fn never_showed(&self) -> bool {
        self.started.elapsed() < NO_DIALOG_WITHIN
    }
}
