//! Reads session, event, install, spend and rate files into a project, one transaction
//! per file: an import lands whole or not at all.

mod mapping;
mod presets;
mod rows;
mod source;
mod timestamp;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use sha2::{Digest, Sha256};

use crate::model::{BuildStats, FileKind, ImportRecord, Rejection};
use crate::store::{Project, StoreError};

pub use mapping::{fields_for as mapping_fields, required as required_fields, Field, Mapping};
pub use presets::{Preset, Rules};
pub use rows::{DurationUnit, Row, RowReader, CAMPAIGN_ID_PREFIX};
pub use source::{Format, Record, Source, SourceError};
pub use timestamp::{TimeColumn, TimeFormat};

/// Rejections kept as examples per reason in the report and the import log.
const EXAMPLES_PER_REASON: usize = 5;
/// What a file needs besides a user id before its kind can be told.
const TIME_FIELDS: &str =
    "a time (session_start, event_time or install_time) or spend's date and amount";
/// How often (in rows) progress is reported and cancellation checked.
const PROGRESS_EVERY: u64 = 8192;

/// What to do when a row cannot be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnBadRows {
    /// Refuse the whole file, naming the first bad line.
    #[default]
    Abort,
    /// Import the rest, and count the rejected rows by reason.
    Skip,
}

impl OnBadRows {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "abort" => Some(Self::Abort),
            "skip" => Some(Self::Skip),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Abort => "abort",
            Self::Skip => "skip",
        }
    }
}

/// How one file is to be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// `None`: inferred from the columns.
    pub kind: Option<FileKind>,
    pub preset: Option<String>,
    /// Field to column name, overriding what was recognised; an empty name unmaps.
    pub map: Vec<(Field, String)>,
    /// Zone of timestamps without an offset; `None` is UTC.
    pub tz: Option<String>,
    pub duration_unit: DurationUnit,
    pub on_bad_rows: OnBadRows,
}

/// How far an import has come.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub bytes_read: u64,
    pub bytes_total: u64,
    pub rows: u64,
}

/// Why an import did not land. The project is unchanged in every case.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {cause}")]
    Read { file: String, cause: SourceError },
    #[error("{file}: cannot tell which columns to use: no column for {missing}; the file's columns are: {columns}{hint}")]
    Unmappable {
        file: String,
        missing: String,
        columns: String,
        /// The nearest vendor preset, if any.
        hint: String,
    },
    #[error("{file}: {message}")]
    Options { file: String, message: String },
    #[error("{file}, line {line}: {reason}: {detail} (nothing was imported; to import the other rows, skip bad rows: --on-bad-rows skip on the command line, \"skip them and count them\" in the window)")]
    BadRow {
        file: String,
        line: u64,
        reason: String,
        detail: String,
    },
    #[error("{file}: the file has a header but no data rows; nothing was imported")]
    NoRows { file: String },
    #[error("{file}: none of its {rows} rows could be read{first}; nothing was imported")]
    NothingReadable {
        file: String,
        rows: u64,
        first: String,
    },
    #[error("{file}: import cancelled; nothing was imported")]
    Cancelled { file: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Clone, Debug)]
pub enum ImportOutcome {
    Imported {
        record: ImportRecord,
        stats: BuildStats,
    },
    /// A file with the same SHA-256 was imported before; nothing changed.
    AlreadyImported(ImportRecord),
}

/// What a file looks like before anything is written: for the import wizard and
/// for choosing a mapping.
#[derive(Clone, Debug)]
pub struct Plan {
    pub columns: Vec<String>,
    pub format: Format,
    pub kind: FileKind,
    pub mapping: Mapping,
    /// The vendor preset's rules (default rules for a plain file).
    pub rules: Rules,
}

impl Plan {
    /// A reader of this file's records with its mapping and the preset's rules.
    pub fn reader(&self, tz: chrono_tz::Tz, duration_unit: DurationUnit) -> RowReader {
        // Files delimited by `;` come from locales that write `1.234,56`.
        let decimal_comma = self.format == (Format::Csv { delimiter: b';' });
        RowReader::new(
            self.kind,
            self.mapping.clone(),
            self.columns.clone(),
            tz,
            duration_unit,
        )
        .with_rules(self.rules.clone())
        .with_decimal_comma(decimal_comma)
    }
}

/// Opens a file and decides its kind and mapping from the options and its columns.
pub fn plan(path: &Path, options: &ImportOptions) -> Result<(Plan, Source), ImportError> {
    match plan_leniently(path, options)? {
        (_, _, Some(unmappable)) => Err(unmappable),
        (plan, source, None) => Ok((plan, source)),
    }
}

/// Like `plan`, but a file that cannot be mapped still gives its plan, with the reason
/// beside it: the import wizard then lets the user map the columns by hand.
pub fn plan_leniently(
    path: &Path,
    options: &ImportOptions,
) -> Result<(Plan, Source, Option<ImportError>), ImportError> {
    let file = display_name(path);
    let source = Source::open(path).map_err(|cause| ImportError::Read {
        file: file.clone(),
        cause,
    })?;
    let columns = source.columns.clone();
    let mut mapping = Mapping::recognise(&columns);

    // A preset named by the user wins; "none" turns detection off.
    let preset = match options.preset.as_deref().map(str::trim) {
        Some("none" | "") => None,
        Some(name) => Some(Preset::parse(name).ok_or_else(|| ImportError::Options {
            file: file.clone(),
            message: format!(
                "unknown preset {name:?}; presets are: {}",
                Preset::ALL.map(Preset::name).join(", ")
            ),
        })?),
        None => presets::detect(&columns),
    };
    let (preset_kind, rules) = match preset {
        Some(preset) => {
            let (kind, rules) = presets::apply(preset, &columns, &mut mapping);
            (Some(kind), rules)
        }
        None => (None, Rules::default()),
    };

    for (field, column) in &options.map {
        if column.trim().is_empty() {
            mapping.remove(*field);
            continue;
        }
        let index = mapping::find_column(&columns, column).ok_or_else(|| ImportError::Options {
            file: file.clone(),
            message: format!(
                "--map {field}={column}: no such column; the file's columns are: {}",
                list_columns(&columns)
            ),
        })?;
        mapping.set(*field, index);
    }

    let kind = options
        .kind
        .or(preset_kind)
        .or_else(|| mapping.infer_kind());
    let missing: Vec<&str> = match kind {
        Some(kind) => mapping.missing_for(kind).iter().map(|f| f.name()).collect(),
        None if mapping.has(Field::UserId) => vec![TIME_FIELDS],
        None => vec![Field::UserId.name(), TIME_FIELDS],
    };
    let problem = (!missing.is_empty()).then(|| {
        let hint = presets::nearest(&columns).map_or_else(String::new, |p| {
            format!(
                " (the nearest export we know is {}: --preset {})",
                p.title(),
                p.name()
            )
        });
        ImportError::Unmappable {
            file,
            missing: missing.join(", "),
            columns: list_columns(&columns),
            hint,
        }
    });
    let plan = Plan {
        columns,
        format: source.format,
        // An undecided kind shows as sessions, the most common, for manual mapping.
        kind: kind.unwrap_or(FileKind::Sessions),
        mapping,
        rules,
    };
    Ok((plan, source, problem))
}

/// Imports one file into the project. Rows are streamed into one transaction; the derived
/// users and sessions are rebuilt inside it, so readers see all of the file or none of it.
pub fn import_file(
    project: &mut Project,
    path: &Path,
    options: &ImportOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportOutcome, ImportError> {
    let file = display_name(path);
    let read_error = |cause: SourceError| ImportError::Read {
        file: file.clone(),
        cause,
    };
    let tz: chrono_tz::Tz = match &options.tz {
        Some(name) => name.parse().map_err(|_| ImportError::Options {
            file: file.clone(),
            message: format!("unknown time zone {name:?} (use an IANA name such as Europe/Berlin)"),
        })?,
        None => chrono_tz::UTC,
    };

    // The file's fingerprint (is it imported already?) is taken on another core while
    // this one reads the file; until it is known the import goes on, and it decides.
    let mut fingerprint = Fingerprint::start(path).map_err(|e| read_error(SourceError::Io(e)))?;
    let outcome = match import_unless_known(
        project,
        path,
        options,
        tz,
        cancel,
        progress,
        &mut fingerprint,
    ) {
        Ok(Some(imported)) => return Ok(imported),
        Err(ImportError::Cancelled { file }) => return Err(ImportError::Cancelled { file }),
        other => other,
    };
    // Imported before: that answer stands, whatever else was found in the file since.
    let (_, sha256) = fingerprint
        .wait()
        .map_err(|e| read_error(SourceError::Io(e)))?;
    if let Some(previous) = project.import_with_sha(&sha256)? {
        log::info!(
            "{file} was imported before (import {}); nothing to do",
            previous.id
        );
        return Ok(ImportOutcome::AlreadyImported(previous));
    }
    match outcome {
        Ok(Some(imported)) => Ok(imported),
        // Stopped as imported before, yet not found now: say so rather than guess.
        Ok(None) => Err(ImportError::Store(StoreError::Invalid {
            path: file,
            what: "an earlier import of this file vanished during the import".to_owned(),
        })),
        Err(e) => Err(e),
    }
}

/// Imports a file; `None` when its fingerprint shows it was imported before.
fn import_unless_known(
    project: &mut Project,
    path: &Path,
    options: &ImportOptions,
    tz: chrono_tz::Tz,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
    fingerprint: &mut Fingerprint,
) -> Result<Option<ImportOutcome>, ImportError> {
    let file = display_name(path);
    let read_error = |cause: SourceError| ImportError::Read {
        file: file.clone(),
        cause,
    };
    let started = std::time::Instant::now();
    let size_bytes = std::fs::metadata(path)
        .map_err(|e| read_error(SourceError::Io(e)))?
        .len();
    let (plan, mut source) = plan(path, options)?;
    let mut record = ImportRecord {
        file_name: file.clone(),
        file_path: absolute(path).display().to_string(),
        size_bytes,
        // Set once the fingerprint is known, before the import lands.
        sha256: PENDING_SHA256.to_owned(),
        kind: plan.kind.as_str().to_owned(),
        preset: plan.rules.preset.map(|p| p.name().to_owned()),
        mapping: plan.mapping.describe(&plan.columns),
        time_zone: tz.name().to_owned(),
        duration_unit: plan
            .mapping
            .has(Field::Duration)
            .then(|| options.duration_unit.as_str().to_owned()),
        on_bad_rows: options.on_bad_rows.as_str().to_owned(),
        imported_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ..ImportRecord::default()
    };
    log::debug!(
        "importing {file} as {} with {:?}",
        record.kind,
        record.mapping
    );

    let install_as_session = plan.rules.install_as_session;
    let mut reader = plan
        .reader(tz, options.duration_unit)
        .with_repeats_dropped();
    let mut writer = project.begin_import(&record)?;
    let mut rejected: Vec<Rejection> = Vec::new();

    // The file is read and split into records on the `import-reader` thread, while this
    // one turns the records into rows, numbers them and writes them. Splitting is the
    // lighter half and leaves room on its core for the `import-hash` thread. Batches go
    // back once written and the reader refills their records, so no memory crosses
    // threads to be freed.
    let bytes_read = source.bytes_read_counter();
    let (batches, read) = mpsc::sync_channel::<Result<Batch, SourceError>>(BATCHES_AHEAD);
    let (used, returned) = mpsc::channel::<Batch>();
    let source = &mut source;
    let known_before = std::thread::scope(|scope| {
        let reading = std::thread::Builder::new()
            .name("import-reader".to_owned())
            .spawn_scoped(scope, move || read_batches(source, &batches, &returned))
            .map_err(|e| read_error(SourceError::Io(e)))?;

        let mut next_progress = PROGRESS_EVERY;
        // How long this side waited for the reader: which of the two sets the pace.
        let mut waited = std::time::Duration::ZERO;
        let mut asked = std::time::Instant::now();
        for batch in read {
            waited += asked.elapsed();
            let batch = batch.map_err(read_error)?;
            for (slot, checked) in batch.records.iter().zip(batch.checked.iter()) {
                record.rows_read += 1;
                let row = match checked {
                    Ok(()) => reader.read(slot.line, &slot.fields),
                    Err(rejection) => Err(rejection.clone()),
                };
                match row {
                    Ok(Row::Ignored(reason)) => {
                        record.rows_ignored += 1;
                        *record.ignored_by_reason.entry(reason).or_default() += 1;
                    }
                    Ok(row) => {
                        write_row(&mut writer, slot.line, &row)?;
                        record.rows_accepted += 1;
                        reader.recycle(row);
                    }
                    Err(rejection) if options.on_bad_rows == OnBadRows::Abort => {
                        return Err(ImportError::BadRow {
                            file: file.clone(),
                            line: rejection.line,
                            reason: rejection.reason.clone(),
                            detail: rejection.detail.clone(),
                        });
                    }
                    Err(rejection) => {
                        log::debug!(
                            "{file}, line {}: {}: {}",
                            rejection.line,
                            rejection.reason,
                            rejection.detail
                        );
                        rejected.push(rejection);
                    }
                }
            }
            // The reader may have stopped already; then the batch is simply dropped.
            let _ = used.send(batch);
            asked = std::time::Instant::now();
            if record.rows_read >= next_progress {
                next_progress = record.rows_read + PROGRESS_EVERY;
                if cancel.load(Ordering::Relaxed) {
                    return Err(ImportError::Cancelled { file: file.clone() });
                }
                if let Some(Ok((_, sha256))) = fingerprint.ready() {
                    if writer.imported_before(sha256)? {
                        return Ok(true);
                    }
                }
                progress(Progress {
                    bytes_read: bytes_read.load(Ordering::Relaxed),
                    bytes_total: size_bytes,
                    rows: record.rows_read,
                });
            }
        }
        log::debug!(
            "{file}: waited {:.2} s for the reader",
            waited.as_secs_f64()
        );
        // The reader has sent its last batch.
        let _ = reading.join();
        Ok(false)
    })?;
    if known_before {
        return Ok(None);
    }

    if install_as_session {
        record.notes.push(
            "the export leaves out the first launch: each user's install is added as their first session"
                .to_owned(),
        );
    }
    if record.rows_read == 0 {
        return Err(ImportError::NoRows { file });
    }
    if record.rows_accepted == 0 {
        // Landing an empty import would only block a corrected re-import of the file.
        summarize_rejections(&mut record, rejected);
        return Err(ImportError::NothingReadable {
            file,
            rows: record.rows_read,
            first: reasons_in_brief(&record),
        });
    }
    if !rejected.is_empty() {
        log::info!(
            "{file}: skipped {} rows that could not be read",
            rejected.len()
        );
    }
    summarize_rejections(&mut record, rejected);
    record.notes.extend(
        reader
            .time_formats()
            .into_iter()
            .map(|(field, format)| format!("{field} read as {format}")),
    );
    if cancel.load(Ordering::Relaxed) {
        return Err(ImportError::Cancelled { file });
    }
    log::debug!(
        "{file}: {} rows read in {:.2} s",
        record.rows_read,
        started.elapsed().as_secs_f64()
    );
    let (_, sha256) = fingerprint
        .wait()
        .map_err(|e| read_error(SourceError::Io(e)))?;
    if writer.imported_before(&sha256)? {
        return Ok(None);
    }
    record.sha256 = sha256;
    let (id, stats) = writer.finish(&record)?;
    record.id = id;
    progress(Progress {
        bytes_read: size_bytes,
        bytes_total: size_bytes,
        rows: record.rows_read,
    });
    log::info!(
        "imported {} rows from {file} ({} rejected); the project has {} users and {} sessions",
        record.rows_accepted,
        record.rows_rejected,
        stats.users,
        stats.sessions
    );
    Ok(Some(ImportOutcome::Imported { record, stats }))
}

/// Records read one after another, each checked (its width, its text) or rejected.
/// The records are kept for the next batch: the reader refills their buffers.
#[derive(Default)]
struct Batch {
    records: Vec<Record>,
    /// One entry per record read into this batch; the records after them are spare.
    checked: Vec<Result<(), Rejection>>,
}

/// Records in a batch: enough that handing one over costs little per record.
const BATCH_RECORDS: usize = 1024;

/// Batches the reader may be ahead of the writer: bounds the memory in flight.
const BATCHES_AHEAD: usize = 4;

/// The reader's side of `import_file`: reads records in batches until the file ends, it
/// cannot be read on, or the other side stops taking batches.
fn read_batches(
    source: &mut Source,
    batches: &mpsc::SyncSender<Result<Batch, SourceError>>,
    returned: &mpsc::Receiver<Batch>,
) {
    loop {
        let mut batch = returned.try_recv().unwrap_or_default();
        batch.checked.clear();
        batch.records.resize_with(BATCH_RECORDS, Record::default);
        for slot in &mut batch.records {
            match source.read_into(slot) {
                None => break,
                Some(Ok(checked)) => batch.checked.push(checked),
                Some(Err(broken)) => {
                    if !batch.checked.is_empty() && batches.send(Ok(batch)).is_err() {
                        return;
                    }
                    let _ = batches.send(Err(broken));
                    return;
                }
            }
        }
        let last = batch.checked.len() < BATCH_RECORDS;
        if batches.send(Ok(batch)).is_err() || last {
            return;
        }
    }
}

fn write_row(
    writer: &mut crate::store::ImportWriter<'_>,
    line: u64,
    row: &Row,
) -> Result<(), StoreError> {
    match row {
        Row::Session(session, attrs) => {
            writer.session(line, session)?;
            if let Some(attrs) = attrs {
                writer.user_row(line, attrs)?;
            }
        }
        Row::Event(event, attrs) => {
            writer.event(line, event)?;
            if let Some(attrs) = attrs {
                writer.user_row(line, attrs)?;
            }
        }
        Row::Install(attrs) => writer.user_row(line, attrs)?,
        Row::Spend(spend) => writer.spend(line, spend)?,
        Row::Rate(rate) => writer.rate(line, rate)?,
        Row::Lookup(lookup) => writer.lookup(line, lookup)?,
        Row::Ignored(_) => {}
        Row::Multi(rows) => {
            for row in rows {
                write_row(writer, line, row)?;
            }
        }
    }
    Ok(())
}

/// Counts by reason, and the first few examples of each.
fn summarize_rejections(record: &mut ImportRecord, rejected: Vec<Rejection>) {
    record.rows_rejected = rejected.len() as u64;
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for rejection in rejected {
        let count = by_reason.entry(rejection.reason.clone()).or_default();
        *count += 1;
        if *count <= EXAMPLES_PER_REASON as u64 {
            record.rejected_examples.push(rejection);
        }
    }
    record.rejected_by_reason = by_reason;
}

/// Why rows were rejected, for a file none of whose rows could be read: the first row's
/// reason, or with several reasons each one's count and first row, most frequent first,
/// so that the few rows that show what is wrong are not hidden behind the many that
/// merely lack a value.
fn reasons_in_brief(record: &ImportRecord) -> String {
    const SHOWN: usize = 3;
    // Each reason with its count and first example (the examples are in file order).
    let mut by_reason: Vec<(&Rejection, u64)> = record
        .rejected_by_reason
        .iter()
        .filter_map(|(reason, &count)| {
            let first = record
                .rejected_examples
                .iter()
                .find(|r| &r.reason == reason)?;
            Some((first, count))
        })
        .collect();
    match by_reason.as_slice() {
        [] => String::new(),
        [(r, _)] => format!(" (line {}: {}: {})", r.line, r.reason, r.detail),
        _ => {
            by_reason.sort_by_key(|&(r, count)| (std::cmp::Reverse(count), r.line));
            let shown: Vec<String> = by_reason
                .iter()
                .take(SHOWN)
                .map(|(r, count)| {
                    format!(
                        "{count} rows: {}, first on line {}: {}",
                        r.reason, r.line, r.detail
                    )
                })
                .collect();
            let more = by_reason.len().saturating_sub(SHOWN);
            let more = if more > 0 {
                format!("; and {more} more reasons")
            } else {
                String::new()
            };
            format!(" ({}{more})", shown.join("; "))
        }
    }
}

/// Size and SHA-256 of a file, streamed.
fn fingerprint(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    let digest = hasher.finalize();
    let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok((size, hex))
}

/// What an import's row in `imports` holds as its fingerprint until the fingerprint is
/// known. Only one import writes at a time, and it replaces this before it lands.
const PENDING_SHA256: &str = "pending";

/// A file's size and SHA-256, taken on the `import-hash` thread.
struct Fingerprint {
    taking: Option<std::thread::JoinHandle<io::Result<(u64, String)>>>,
    taken: Option<io::Result<(u64, String)>>,
}

impl Fingerprint {
    fn start(path: &Path) -> io::Result<Self> {
        let path = path.to_owned();
        let taking = std::thread::Builder::new()
            .name("import-hash".to_owned())
            .spawn(move || fingerprint(&path))?;
        Ok(Self {
            taking: Some(taking),
            taken: None,
        })
    }

    /// The fingerprint if it is taken by now; never waits.
    fn ready(&mut self) -> Option<&io::Result<(u64, String)>> {
        if self.taking.as_ref().is_some_and(|t| t.is_finished()) {
            self.collect();
        }
        self.taken.as_ref()
    }

    /// The fingerprint, waiting for it if need be.
    fn wait(&mut self) -> io::Result<(u64, String)> {
        self.collect();
        match &self.taken {
            Some(Ok(taken)) => Ok(taken.clone()),
            Some(Err(e)) => Err(io::Error::new(e.kind(), e.to_string())),
            None => Err(io::Error::other("the file's fingerprint was not taken")),
        }
    }

    fn collect(&mut self) {
        if let Some(taking) = self.taking.take() {
            self.taken =
                Some(taking.join().unwrap_or_else(|_| {
                    Err(io::Error::other("taking the file's fingerprint failed"))
                }));
        }
    }
}

/// A value as shown in a message: quoted, and cut to a readable length (a 10 MB field
/// must not become a 10 MB message).
pub fn shorten(text: &str) -> String {
    const SHOWN: usize = 60;
    let count = text.chars().count();
    if count <= SHOWN {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(SHOWN).collect();
        format!("{head:?}... ({count} characters)")
    }
}

/// A file's columns for a message: each shortened, and no more than a screenful.
fn list_columns(columns: &[String]) -> String {
    const LISTED: usize = 40;
    let mut shown: Vec<String> = columns
        .iter()
        .take(LISTED)
        .map(|c| {
            if c.chars().count() > 60 {
                shorten(c)
            } else {
                c.clone()
            }
        })
        .collect();
    if columns.len() > LISTED {
        shown.push(format!("and {} more", columns.len() - LISTED));
    }
    shown.join(", ")
}

fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
