//! The query worker: a named thread that owns the loaded project and answers view
//! queries, so the window only draws results. Requests arrive on a bounded channel; when
//! several queries wait, only the newest is answered (older ones are stale).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread;

use serde::{Deserialize, Serialize};

use crate::metrics::{
    self, CampaignQualityTable, Distributions, Facets, Filter, GroupBy, Matrix, MatrixMetric,
    Prepared, QualityReport, Report, ReportRequest,
};
use crate::model::{Dataset, Grain, ImportRecord, Settings};
use crate::store::{DataVersion, Project};

/// What a view asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewQuery {
    Overview,
    Cohorts {
        grain: Grain,
        metric: MatrixMetric,
        max_day: u32,
    },
    /// Channels or campaigns, with day-N figures for days 0..=30.
    Groups {
        by: GroupBy,
    },
    Sessions {
        split: GroupBy,
    },
    Quality {
        min_installs: u64,
    },
}

/// One query: the view's question under the global filters.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub filter: Filter,
    pub view: ViewQuery,
}

/// The answer to a query.
#[derive(Clone, Debug)]
pub enum ViewResult {
    Overview {
        all: Report,
        distributions: Distributions,
    },
    Cohorts(Matrix),
    Groups(Report),
    /// One entry per group (all users when not split), largest first.
    Sessions(Vec<(String, Distributions)>),
    Quality(CampaignQualityTable),
}

/// What the window knows of the loaded project.
#[derive(Clone, Debug, Default)]
pub struct ProjectSummary {
    pub path: PathBuf,
    pub settings: Settings,
    pub facets: Facets,
    pub users: usize,
    pub sessions: usize,
    pub data_end_ms: Option<i64>,
    pub imports: Vec<ImportRecord>,
    pub quality: QualityReport,
    /// The file cannot be written: imports and settings are off.
    pub read_only: bool,
    /// Remembered from the last load while this one runs: views other than the overview
    /// wait for it.
    pub loading: bool,
}

pub enum Request {
    Load(PathBuf),
    Query { generation: u64, query: Query },
}

pub enum Response {
    Loaded(Box<ProjectSummary>),
    LoadFailed {
        path: PathBuf,
        error: String,
    },
    Answer {
        generation: u64,
        result: Box<ViewResult>,
    },
}

/// Days of the curves in the Channels and Campaigns views.
pub const CURVE_DAYS: u32 = 30;
/// How many groups the Sessions view splits into at most.
const MAX_SPLIT: usize = 6;

/// The window's handle on the worker thread.
pub struct Worker {
    requests: SyncSender<Request>,
    responses: Receiver<Response>,
    thread: thread::JoinHandle<()>,
}

impl Worker {
    /// Starts the thread; `wake` is called after every response (to request a repaint).
    pub fn start(wake: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (requests, inbox) = mpsc::sync_channel::<Request>(64);
        let (outbox, responses) = mpsc::sync_channel::<Response>(64);
        let thread = thread::Builder::new()
            .name("query-worker".to_owned())
            .spawn(move || serve(&inbox, &outbox, &wake))?;
        Ok(Self {
            requests,
            responses,
            thread,
        })
    }

    /// Stops the worker and waits for it: it finishes the view it is working out, and
    /// then works out nothing ahead. A benchmark calls this so that one opening's leftover
    /// work does not slow the next one down.
    pub fn finish(self) {
        let Self {
            requests,
            responses,
            thread,
        } = self;
        drop(requests);
        drop(responses);
        if thread.join().is_err() {
            log::error!("the query worker panicked");
        }
    }

    /// Sends a request; a full queue means the worker is far behind, and the request is
    /// dropped rather than blocking the frame (the next change sends a fresh one).
    pub fn send(&self, request: Request) {
        if self.requests.try_send(request).is_err() {
            log::warn!("query worker is busy; a request was dropped");
        }
    }

    pub fn try_recv(&self) -> Option<Response> {
        self.responses.try_recv().ok()
    }
}

/// The project the worker has loaded.
struct Loaded {
    prepared: Prepared<'static>,
    project: Project,
    /// Where the data stood when it was read: a view worked out from it is remembered
    /// only if no one has written since.
    seen: DataVersion,
    counted: Counted,
    /// What the project file remembers of its overview (`Remembered`, as text).
    remembered: Option<String>,
    /// The overview was worked out and remembered (or tried to be) since the load.
    settled: bool,
    /// Queries to answer while the window asks for nothing, last first (`work_out_ahead`).
    ahead: Vec<Query>,
}

/// The views worked out while the window asks for nothing, last first: the overview of
/// every user, so that it is remembered for the next opening whatever view the window
/// shows (the Data view after a rebuild, say); then Channels and Campaigns, whose
/// quantiles are counted once per load, so that the first click on either costs only
/// its day-N figures.
fn views_to_work_out_ahead() -> Vec<Query> {
    let groups = [GroupBy::Campaign, GroupBy::Channel]
        .into_iter()
        .map(|by| ViewQuery::Groups { by });
    groups
        .chain([ViewQuery::Overview])
        .map(|view| Query {
            filter: Filter::default(),
            view,
        })
        .collect()
}

fn work_out_ahead(loaded: &mut Loaded, query: &Query) {
    let overview = is_first_overview(query);
    if overview && loaded.settled {
        return; // the window asked for it already
    }
    let started = std::time::Instant::now();
    let result = answer(&loaded.prepared, query);
    log::debug!(
        "worked out {:?} ahead in {:?}",
        query.view,
        started.elapsed()
    );
    if overview {
        remember_overview(loaded, &result);
    }
}

fn serve(inbox: &Receiver<Request>, outbox: &SyncSender<Response>, wake: &dyn Fn()) {
    // Prepared once per load: every query after that only aggregates.
    let mut loaded: Option<Loaded> = None;
    let send = |response: Response| {
        let sent = outbox.send(response).is_ok();
        wake();
        sent
    };
    loop {
        let first = match inbox.try_recv() {
            Ok(request) => request,
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {
                if let Some(loaded) = loaded.as_mut() {
                    if let Some(query) = loaded.ahead.pop() {
                        work_out_ahead(loaded, &query);
                        continue;
                    }
                }
                match inbox.recv() {
                    Ok(request) => request,
                    Err(_) => return,
                }
            }
        };
        // Loads are handled in order; of the queries waiting, only the newest matters.
        let mut pending = vec![first];
        loop {
            match inbox.try_recv() {
                Ok(next) => pending.push(next),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let newest_query = pending
            .iter()
            .rposition(|r| matches!(r, Request::Query { .. }));
        // The overview asked for right after a load can be shown from the project file
        // at once: (the load's index, the query's generation).
        let remembered_for = newest_query.and_then(|q| match &pending[q] {
            Request::Query { generation, query } if is_first_overview(query) => {
                let load = pending[..q]
                    .iter()
                    .rposition(|r| matches!(r, Request::Load(_)))?;
                Some((load, *generation))
            }
            _ => None,
        });
        for (index, request) in pending.into_iter().enumerate() {
            let sent = match request {
                Request::Load(path) => {
                    let overview = remembered_for
                        .filter(|(load, _)| *load == index)
                        .map(|(_, generation)| generation);
                    load(&path, &mut loaded, overview, &send)
                }
                Request::Query { generation, query } if Some(index) == newest_query => {
                    loaded.as_mut().is_none_or(|loaded| {
                        let started = std::time::Instant::now();
                        let result = answer(&loaded.prepared, &query);
                        log::debug!("query {generation} answered in {:?}", started.elapsed());
                        // Shown first, written down after: the write waits for the disk.
                        let remember = !loaded.settled && is_first_overview(&query);
                        let kept = remember.then(|| result.clone());
                        let sent = send(Response::Answer {
                            generation,
                            result: Box::new(result),
                        });
                        if let Some(result) = kept {
                            remember_overview(loaded, &result);
                        }
                        sent
                    })
                }
                Request::Query { .. } => true,
            };
            if !sent {
                return;
            }
        }
    }
}

/// The query of the window's first view: the overview of every user.
fn is_first_overview(query: &Query) -> bool {
    query.view == ViewQuery::Overview && query.filter == Filter::default()
}

/// What the window's summary of a project says that only its sessions tell.
#[derive(Clone, Serialize, Deserialize)]
struct Counted {
    facets: Facets,
    users: usize,
    sessions: usize,
    data_end_ms: Option<i64>,
    quality: QualityReport,
}

impl Counted {
    fn of(prepared: &Prepared<'_>) -> Self {
        let data = prepared.dataset();
        Self {
            facets: prepared.facets(),
            users: data.users.len(),
            sessions: data.sessions.len(),
            data_end_ms: data.data_end_ms(),
            quality: metrics::quality(prepared),
        }
    }
}

/// What opening a project shows before its sessions are loaded: the overview and the
/// summary as the last load worked them out, kept in the project file (`view_cache`).
#[derive(Serialize, Deserialize)]
struct Remembered {
    /// The version that wrote it: another may count differently.
    version: String,
    counted: Counted,
    all: Report,
    distributions: Distributions,
}

const REMEMBERED_KEY: &str = "overview";

fn remember_overview(loaded: &mut Loaded, result: &ViewResult) {
    let ViewResult::Overview { all, distributions } = result else {
        return;
    };
    let remembered = Remembered {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        counted: loaded.counted.clone(),
        all: all.clone(),
        distributions: distributions.clone(),
    };
    // Tried once per load: a read-only or busy project is not asked again.
    loaded.settled = true;
    let text = match serde_json::to_string(&remembered) {
        Ok(text) => text,
        Err(error) => return log::warn!("cannot write the overview down: {error}"),
    };
    // Opening a project writes to it only when what it remembers is not what it shows.
    if loaded.remembered.as_ref() == Some(&text) {
        return;
    }
    match loaded
        .project
        .remember_view(REMEMBERED_KEY, &text, loaded.seen)
    {
        Ok(kept) => log::debug!("overview remembered in the project file: {kept}"),
        Err(error) => log::warn!("cannot remember the overview in the project file: {error}"),
    }
}

/// The remembered overview of `project` as text, if one stands.
fn remembered_text(project: &Project) -> Option<String> {
    project
        .remembered_view(REMEMBERED_KEY)
        .map_err(|e| log::warn!("cannot read the remembered overview: {e}"))
        .ok()?
}

/// A remembered overview this version wrote.
fn remembered_overview(text: &str) -> Option<Remembered> {
    let remembered: Remembered = serde_json::from_str(text)
        .map_err(|e| log::info!("the remembered overview is not usable: {e}"))
        .ok()?;
    (remembered.version == env!("CARGO_PKG_VERSION")).then_some(remembered)
}

/// A project opened for loading, with what is read of it before its sessions.
struct Opened {
    project: Project,
    settings: Settings,
    imports: Vec<ImportRecord>,
    seen: DataVersion,
    /// The remembered overview, as text.
    remembered: Option<String>,
}

impl Opened {
    /// The window's summary, with what was counted of the sessions.
    fn summary(&self, path: &Path, counted: Counted, loading: bool) -> ProjectSummary {
        ProjectSummary {
            path: path.to_owned(),
            settings: self.settings.clone(),
            facets: counted.facets,
            users: counted.users,
            sessions: counted.sessions,
            data_end_ms: counted.data_end_ms,
            imports: self.imports.clone(),
            quality: counted.quality,
            read_only: self.project.is_read_only(),
            loading,
        }
    }
}

fn open(path: &Path) -> Result<Opened, String> {
    let opened = Project::open(path).and_then(|project| {
        Ok(Opened {
            settings: project.settings()?,
            imports: project.imports()?,
            seen: project.data_version()?,
            remembered: remembered_text(&project),
            project,
        })
    });
    opened.map_err(|e| e.to_string())
}

/// Prepares the dataset read from an opened project; also returns the window's summary.
fn prepare(path: &Path, opened: Opened, data: Dataset) -> (Loaded, ProjectSummary) {
    let started = std::time::Instant::now();
    let prepared = Prepared::owning(data);
    log::debug!("prepared in {:?}", started.elapsed());
    let counted = Counted::of(&prepared);
    log::info!(
        "loaded {}: {} users, {} sessions",
        path.display(),
        counted.users,
        counted.sessions
    );
    let summary = opened.summary(path, counted.clone(), false);
    let loaded = Loaded {
        prepared,
        project: opened.project,
        seen: opened.seen,
        counted,
        remembered: opened.remembered,
        settled: false,
        ahead: views_to_work_out_ahead(),
    };
    (loaded, summary)
}

/// Loads `path`, sending what it has as soon as it has it: the remembered overview (as
/// the answer to query `overview`), then the loaded project. False when the window is gone.
fn load(
    path: &Path,
    current: &mut Option<Loaded>,
    overview: Option<u64>,
    send: &dyn Fn(Response) -> bool,
) -> bool {
    let opened = match open(path) {
        Ok(opened) => opened,
        Err(error) => return failed(path, &error, send),
    };

    // First the overview as it was last worked out: the sessions take a second to load.
    let remembered = overview.zip(opened.remembered.as_deref().and_then(remembered_overview));
    if let Some((generation, remembered)) = remembered {
        log::debug!("showing the remembered overview of {}", path.display());
        let summary = opened.summary(path, remembered.counted, true);
        let result = ViewResult::Overview {
            all: remembered.all,
            distributions: remembered.distributions,
        };
        if !send(Response::Loaded(Box::new(summary)))
            || !send(Response::Answer {
                generation,
                result: Box::new(result),
            })
        {
            return false;
        }
    }

    let data = match opened.project.load_dataset() {
        Ok(data) => data,
        Err(error) => return failed(path, &error.to_string(), send),
    };
    // The old project goes before the new one is prepared (a failed load keeps it).
    *current = None;
    let (loaded, summary) = prepare(path, opened, data);
    *current = Some(loaded);
    send(Response::Loaded(Box::new(summary)))
}

fn failed(path: &Path, error: &str, send: &dyn Fn(Response) -> bool) -> bool {
    log::error!("cannot load {}: {error}", path.display());
    send(Response::LoadFailed {
        path: path.to_owned(),
        error: error.to_owned(),
    })
}

/// Computes one view's result. Public for tests, which compare it with the CLI's numbers.
pub fn answer(prepared: &Prepared<'_>, query: &Query) -> ViewResult {
    let filter = &query.filter;
    match &query.view {
        ViewQuery::Overview => {
            let (all, distributions) = metrics::report_with_distributions(
                prepared,
                &ReportRequest {
                    by: GroupBy::None,
                    days: vec![0, 1, 7, 30],
                    filter: filter.clone(),
                    ..ReportRequest::default()
                },
            );
            ViewResult::Overview { all, distributions }
        }
        ViewQuery::Cohorts {
            grain,
            metric,
            max_day,
        } => ViewResult::Cohorts(metrics::cohort_matrix(
            prepared, filter, *grain, *metric, *max_day,
        )),
        ViewQuery::Groups { by } => ViewResult::Groups(metrics::report(
            prepared,
            &ReportRequest {
                by: *by,
                days: (0..=CURVE_DAYS).collect(),
                filter: filter.clone(),
                ..ReportRequest::default()
            },
        )),
        ViewQuery::Sessions { split } => {
            let parts = if matches!(split, GroupBy::Channel | GroupBy::Campaign) {
                let mut groups = metrics::distributions_by(prepared, filter, *split);
                groups.truncate(MAX_SPLIT);
                groups
            } else {
                vec![(
                    "all users".to_owned(),
                    metrics::distributions(prepared, filter),
                )]
            };
            ViewResult::Sessions(parts)
        }
        ViewQuery::Quality { min_installs } => {
            ViewResult::Quality(metrics::campaign_quality(prepared, filter, *min_installs))
        }
    }
}
