//! The query worker: a named thread that owns the loaded project and answers view
//! queries, so the window only draws results. Requests arrive on a bounded channel; when
//! several queries wait, only the newest is answered (older ones are stale).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread;

use crate::metrics::{
    self, CampaignQualityTable, Distributions, Facets, Filter, GroupBy, Matrix, MatrixMetric,
    Prepared, QualityReport, Report, ReportRequest,
};
use crate::model::{Grain, ImportRecord, Settings};
use crate::store::Project;

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
}

impl Worker {
    /// Starts the thread; `wake` is called after every response (to request a repaint).
    pub fn start(wake: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (requests, inbox) = mpsc::sync_channel::<Request>(64);
        let (outbox, responses) = mpsc::sync_channel::<Response>(64);
        thread::Builder::new()
            .name("query-worker".to_owned())
            .spawn(move || serve(&inbox, &outbox, &wake))?;
        Ok(Self {
            requests,
            responses,
        })
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

fn serve(inbox: &Receiver<Request>, outbox: &SyncSender<Response>, wake: &dyn Fn()) {
    // Prepared once per load: every query after that only aggregates.
    let mut prepared: Option<Prepared<'static>> = None;
    while let Ok(first) = inbox.recv() {
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
        for (index, request) in pending.into_iter().enumerate() {
            let response = match request {
                Request::Load(path) => Some(load(&path, &mut prepared)),
                Request::Query { generation, query } if Some(index) == newest_query => {
                    prepared.as_ref().map(|prepared| {
                        let started = std::time::Instant::now();
                        let result = answer(prepared, &query);
                        log::debug!("query {generation} answered in {:?}", started.elapsed());
                        Response::Answer {
                            generation,
                            result: Box::new(result),
                        }
                    })
                }
                Request::Query { .. } => None,
            };
            if let Some(response) = response {
                if outbox.send(response).is_err() {
                    return;
                }
                wake();
            }
        }
    }
}

fn load(path: &Path, loaded_project: &mut Option<Prepared<'static>>) -> Response {
    let loaded = Project::open(path).and_then(|project| {
        Ok((
            project.load_dataset()?,
            project.imports()?,
            project.is_read_only(),
        ))
    });
    match loaded {
        Ok((data, imports, read_only)) => {
            // The old project goes before the new one is prepared (a failed load keeps it).
            *loaded_project = None;
            let started = std::time::Instant::now();
            let prepared = Prepared::owning(data);
            log::debug!("prepared in {:?}", started.elapsed());
            let data = prepared.dataset();
            let summary = ProjectSummary {
                path: path.to_owned(),
                settings: data.settings.clone(),
                facets: prepared.facets(),
                users: data.users.len(),
                sessions: data.sessions.len(),
                data_end_ms: data.data_end_ms(),
                imports,
                quality: metrics::quality(&prepared),
                read_only,
            };
            log::info!(
                "loaded {}: {} users, {} sessions",
                path.display(),
                summary.users,
                summary.sessions
            );
            *loaded_project = Some(prepared);
            Response::Loaded(Box::new(summary))
        }
        Err(error) => {
            log::error!("cannot load {}: {error}", path.display());
            Response::LoadFailed {
                path: path.to_owned(),
                error: error.to_string(),
            }
        }
    }
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
