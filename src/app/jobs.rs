//! Long writes on their own named threads: imports, settings that rebuild sessions, the
//! demo project, and file exports. Each job reports progress and its end on a bounded
//! channel and can be cancelled; the window only reads these messages.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crate::import::{self, ImportOptions, ImportOutcome, Plan, Progress, Row};
use crate::model::{Rejection, Settings};
use crate::store::Project;

/// How far a job is, as the status bar shows it.
#[derive(Clone, Copy, Debug)]
pub enum JobProgress {
    Import(Progress),
    /// Rows of the project gone through by a rebuild.
    Rebuild {
        done: u64,
        total: u64,
    },
}

/// What a running job says.
pub enum JobEvent {
    Progress {
        progress: Progress,
        started: Instant,
    },
    /// The import of one file ended (well or not); the next file may follow.
    Imported {
        file: PathBuf,
        result: Result<Box<ImportOutcome>, String>,
    },
    /// A rebuild of users and sessions has gone through `done` of `total` rows.
    Rebuilding {
        done: u64,
        total: u64,
        started: Instant,
    },
    Previewed(Result<Box<Preview>, String>),
    SettingsSaved(Result<(), String>),
    ImportRemoved(Result<(), String>),
    DemoWritten(Result<PathBuf, String>),
    Exported(Result<PathBuf, String>),
    /// The job is over; the project may have changed.
    Finished {
        changed: bool,
    },
}

/// The first rows of a file as they will be read, for the import wizard.
#[derive(Clone, Debug)]
pub struct Preview {
    pub file: PathBuf,
    pub plan: Plan,
    /// The raw fields of the first rows.
    pub rows: Vec<(u64, Vec<String>)>,
    /// Those rows as the importer reads them with the current choices.
    pub read: Vec<Result<Row, Rejection>>,
    /// Why the file cannot be imported as chosen (fields left to map by hand).
    pub problem: Option<String>,
}

/// Rows shown in the wizard's preview.
const PREVIEW_ROWS: usize = 12;

/// A running job: its messages and its cancel switch.
pub struct Job {
    pub label: String,
    pub events: Receiver<JobEvent>,
    cancel: Arc<AtomicBool>,
}

impl Job {
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    fn spawn(
        label: &str,
        thread_name: &str,
        wake: impl Fn() + Send + 'static,
        work: impl FnOnce(&dyn Fn(JobEvent), &AtomicBool) + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, events) = mpsc::sync_channel::<JobEvent>(256);
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancel);
        thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || {
                let send = |event: JobEvent| {
                    // The window went away: nothing left to tell.
                    let _ = tx.send(event);
                    wake();
                };
                work(&send, &flag);
            })?;
        Ok(Self {
            label: label.to_owned(),
            events,
            cancel,
        })
    }
}

/// Imports files one after another into the project, each in its own transaction.
pub fn import_files(
    project: PathBuf,
    files: Vec<PathBuf>,
    options: ImportOptions,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<Job> {
    let label = match files.as_slice() {
        [one] => format!("Importing {}", file_name(one)),
        many => format!("Importing {} files", many.len()),
    };
    Job::spawn(&label, "import", wake, move |send, cancel| {
        let mut changed = false;
        match Project::open_or_create(&project) {
            Ok(mut store) => {
                for file in files {
                    if cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let started = Instant::now();
                    let result =
                        import::import_file(&mut store, &file, &options, cancel, &mut |progress| {
                            send(JobEvent::Progress { progress, started });
                        });
                    changed |= matches!(result, Ok(ImportOutcome::Imported { .. }));
                    send(JobEvent::Imported {
                        file,
                        result: result.map(Box::new).map_err(|e| e.to_string()),
                    });
                }
            }
            Err(error) => send(JobEvent::Imported {
                file: project.clone(),
                result: Err(error.to_string()),
            }),
        }
        send(JobEvent::Finished { changed });
    })
}

/// Reads the first rows of a file with the given choices.
pub fn preview(
    file: PathBuf,
    options: ImportOptions,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<Job> {
    let label = format!("Reading {}", file_name(&file));
    Job::spawn(&label, "import-preview", wake, move |send, _| {
        send(JobEvent::Previewed(
            read_preview(&file, &options).map(Box::new),
        ));
        send(JobEvent::Finished { changed: false });
    })
}

fn read_preview(file: &std::path::Path, options: &ImportOptions) -> Result<Preview, String> {
    let (plan, mut source, problem) =
        import::plan_leniently(file, options).map_err(|e| e.to_string())?;
    let tz = match &options.tz {
        Some(name) => name
            .parse()
            .map_err(|_| format!("unknown time zone {name:?}"))?,
        None => chrono_tz::UTC,
    };
    let mut reader = plan.reader(tz, options.duration_unit);
    let mut rows = Vec::new();
    let mut read = Vec::new();
    while rows.len() < PREVIEW_ROWS {
        let Some(next) = source.next_record() else {
            break;
        };
        match next.map_err(|e| e.to_string())? {
            Ok(record) => {
                read.push(reader.read(record.line, &record.fields));
                rows.push((
                    record.line,
                    record.fields.iter().map(str::to_owned).collect(),
                ));
            }
            Err(rejection) => {
                rows.push((rejection.line, Vec::new()));
                read.push(Err(rejection));
            }
        }
    }
    Ok(Preview {
        file: file.to_owned(),
        plan,
        rows,
        read,
        problem: problem.map(|e| e.to_string()),
    })
}

/// Saves settings; sessions are rebuilt in the same transaction when needed.
pub fn save_settings(
    project: PathBuf,
    settings: Settings,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<Job> {
    Job::spawn("Applying settings", "rebuild", wake, move |send, cancel| {
        let started = Instant::now();
        let mut watch = |done: u64, total: u64| {
            send(JobEvent::Rebuilding {
                done,
                total,
                started,
            });
            !cancel.load(Ordering::Relaxed)
        };
        let result = Project::open(&project)
            .and_then(|mut store| store.save_settings_watched(&settings, &mut watch))
            .map_err(|e| e.to_string());
        let changed = result.is_ok();
        send(JobEvent::SettingsSaved(result));
        send(JobEvent::Finished { changed });
    })
}

/// Takes one import out of the project.
pub fn remove_import(
    project: PathBuf,
    id: i64,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<Job> {
    Job::spawn(
        "Removing the import",
        "remove-import",
        wake,
        move |send, _| {
            let result = Project::open(&project)
                .and_then(|mut store| store.remove_import(id))
                .map(|_| ())
                .map_err(|e| e.to_string());
            let changed = result.is_ok();
            send(JobEvent::ImportRemoved(result));
            send(JobEvent::Finished { changed });
        },
    )
}

/// Writes the demo project (first start).
pub fn write_demo(path: PathBuf, wake: impl Fn() + Send + 'static) -> std::io::Result<Job> {
    Job::spawn("Writing the demo project", "demo", wake, move |send, _| {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let result = crate::demo::write_demo(&path)
            .map(|_| path.clone())
            .map_err(|e| format!("{e:#}"));
        let changed = result.is_ok();
        send(JobEvent::DemoWritten(result));
        send(JobEvent::Finished { changed });
    })
}

/// Creates an empty project.
pub fn create_project(path: PathBuf, wake: impl Fn() + Send + 'static) -> std::io::Result<Job> {
    Job::spawn(
        "Creating the project",
        "create-project",
        wake,
        move |send, _| {
            let result = Project::create(&path)
                .map(|_| path.clone())
                .map_err(|e| e.to_string());
            let changed = result.is_ok();
            // Reported like the demo: a new project to open.
            send(JobEvent::DemoWritten(result));
            send(JobEvent::Finished { changed });
        },
    )
}

/// What an export writes.
pub enum Payload {
    Bytes(Vec<u8>),
    /// Encoded as PNG on the job's thread.
    Png(Arc<egui::ColorImage>),
}

fn encode_png(image: &egui::ColorImage) -> Result<Vec<u8>, String> {
    let [width, height] = image.size;
    let rgba: Vec<u8> = image.pixels.iter().flat_map(|p| p.to_array()).collect();
    let buffer = image::RgbaImage::from_raw(
        u32::try_from(width).map_err(|e| e.to_string())?,
        u32::try_from(height).map_err(|e| e.to_string())?,
        rgba,
    )
    .ok_or_else(|| "the screenshot has an unexpected size".to_owned())?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    buffer
        .write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(bytes.into_inner())
}

/// Writes a table's CSV or a plot's PNG to a file chosen by the user.
pub fn export(
    path: PathBuf,
    payload: Payload,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<Job> {
    let label = format!("Saving {}", file_name(&path));
    Job::spawn(&label, "export", wake, move |send, _| {
        let bytes = match payload {
            Payload::Bytes(bytes) => Ok(bytes),
            Payload::Png(image) => encode_png(&image),
        };
        let result = bytes
            .and_then(|bytes| std::fs::write(&path, bytes).map_err(|e| e.to_string()))
            .map(|()| path.clone())
            .map_err(|e| format!("{}: {e}", path.display()));
        send(JobEvent::Exported(result));
        send(JobEvent::Finished { changed: false });
    })
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
