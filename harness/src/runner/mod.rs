//! One live run of a spec: prepare and boot the app, warm it up, drive the load checkpoint by
//! checkpoint, snapshot at each, and judge the series.
//!
//! Each run owns a current-thread tokio runtime on the caller's thread. That keeps parallel
//! runs (one per test thread) apart, and it matters for cleanup: the app is spawned from this
//! thread, and the kernel kills it if this thread dies (see [`crate::app`]). Every exit path —
//! success, error, panic in the caller — drops the [`AppProcess`], which kills the app's whole
//! process group. Heap snapshots are streamed to a temporary folder, read one at a time and
//! reduced to their facts; only the last graph stays in memory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::analysis::{judge, Analysis, CheckpointMemory, Diff, DiffBuilder};
use crate::app::{self, AppConfig, AppError, AppProcess};
use crate::inspector::{Inspector, InspectorError};
use crate::load::{LoadError, LoadGenerator, LoadStats};
use crate::snapshot::{self, HeapGraph, SnapshotError};
use crate::spec::{Expectation, Explain, Spec};

/// The default largest share of failed requests (an unexpected status, or no answer) a run
/// accepts before it is an error rather than a verdict: an app that fails requests is not
/// doing the work being measured. A spec sets its own with `load.max_failure_rate`.
pub const MAX_FAILURE_RATE: f64 = crate::load::DEFAULT_MAX_FAILURE_RATE;

/// How often the app's liveness is checked while load runs.
const LIVENESS_POLL: Duration = Duration::from_millis(100);

/// Lines of the app's output quoted in a failure.
pub const LOG_TAIL_LINES: usize = 30;

/// When to keep the heap snapshots of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeepSnapshots {
    /// Delete them once read.
    #[default]
    Never,
    /// Keep them when the spec did not meet its `expect` or the run failed.
    OnFailure,
    /// Always keep them.
    Always,
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// When to keep snapshots.
    pub keep_snapshots: KeepSnapshots,
    /// Where kept snapshots and the app's log go (a folder per spec is made inside).
    pub artifacts_dir: Option<PathBuf>,
    /// Print progress lines to stderr.
    pub progress: bool,
}

/// Where the time went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    /// `npm ci` (when needed), boot, readiness and inspector connection, seconds.
    pub boot: f64,
    /// Warm-up requests, seconds.
    pub warmup: f64,
    /// Measured requests, seconds.
    pub load: f64,
    /// GC, snapshot streaming and `memoryUsage`, seconds.
    pub snapshots: f64,
    /// Reading snapshots, diffing and judging, seconds.
    pub analysis: f64,
    /// Extra runs that explain a leak (request kinds, allocation sites), seconds.
    pub explain: f64,
    /// The whole run, seconds.
    pub total: f64,
}

/// What a successful run measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The analysis and verdict.
    pub analysis: Analysis,
    /// Memory at each snapshot.
    pub memory: Vec<CheckpointMemory>,
    /// The comparison of the series.
    pub diff: Diff,
    /// The last snapshot's graph, for retainer paths.
    pub last_graph: HeapGraph,
    /// Load counters of the measured phase.
    pub load: LoadStats,
    /// Requests per request kind (label) over the measured phase.
    pub measured_requests: u64,
    /// Where the time went.
    pub timings: Timings,
    /// Retainer paths of the worst suspects (when a leak was found).
    pub retainers: Vec<crate::explain::SuspectRetainers>,
    /// Each request kind run alone (mixed specs, when a leak is explained).
    pub request_kinds: Vec<crate::explain::requests::RequestKindResult>,
    /// The request kinds that leak on their own (`None` when not attributed).
    pub leaking_requests: Option<Vec<String>>,
    /// Where the worst suspects' survivors were allocated (from a tracked run).
    pub allocation_sites: Vec<crate::explain::allocations::SuspectSites>,
    /// Why an explanation run failed, when one did (the verdict stands).
    pub explain_error: Option<String>,
    /// Snapshot files kept (see [`KeepSnapshots`]).
    pub kept_snapshots: Vec<PathBuf>,
}

/// The result of running one spec.
#[derive(Debug)]
pub struct SpecRun {
    /// The spec's name.
    pub name: String,
    /// The spec file.
    pub file: PathBuf,
    /// What the spec expects.
    pub expect: Expectation,
    /// The measurement, or why there is none.
    pub outcome: Result<Box<Measured>, RunError>,
}

impl SpecRun {
    /// Whether the verdict matches the spec's `expect` (an error never passes).
    pub fn passed(&self) -> bool {
        match &self.outcome {
            Ok(m) => matches!(
                (self.expect, m.analysis.verdict),
                (Expectation::Leak, crate::analysis::Verdict::Leak)
                    | (Expectation::Clean, crate::analysis::Verdict::Clean)
            ),
            Err(_) => false,
        }
    }
}

/// Why a run produced no verdict.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The async runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// A temporary or artifact folder could not be made.
    #[error("cannot create {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `npm ci`, boot or readiness failed, or the app died.
    #[error("{0}")]
    App(#[from] AppError),
    /// The inspector failed.
    #[error("inspector: {error}\nlast lines of the app's output:\n{log_tail}")]
    Inspector {
        /// The cause.
        error: InspectorError,
        /// The app's last lines.
        log_tail: String,
    },
    /// The load could not be driven at all.
    #[error("load: {error}\nlast lines of the app's output:\n{log_tail}")]
    Load {
        /// The cause.
        error: LoadError,
        /// The app's last lines.
        log_tail: String,
    },
    /// Too many requests failed for the run to mean anything.
    #[error(
        "{failed} of {requests} requests failed during {phase} (more than the {limit}% that \
         `load.max_failure_rate` allows): {detail}; a request whose answer is not 2xx by design \
         can say so with `status:` (e.g. `status: 404`)\n\
         last lines of the app's output:\n{log_tail}"
    )]
    TooManyFailures {
        /// `warm-up` or `checkpoint k`.
        phase: String,
        /// Failed requests.
        failed: u64,
        /// All requests.
        requests: u64,
        /// The accepted percentage.
        limit: f64,
        /// Statuses and error samples.
        detail: String,
        /// The app's last lines.
        log_tail: String,
    },
    /// A snapshot the inspector wrote could not be read.
    #[error("snapshot {path}: {error}")]
    Snapshot {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: SnapshotError,
    },
}

/// Runs `spec` to a verdict. Never panics on app or spec behaviour; every error is in the
/// outcome.
pub fn run_spec(spec: &Spec, options: &RunOptions) -> SpecRun {
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)
        .and_then(|rt| {
            rt.block_on(async {
                let plan = MeasurePlan::of(spec);
                let mut measured = measure(spec, &plan, options).await?;
                explain(spec, &mut measured, options).await;
                Ok(measured)
            })
        });
    SpecRun {
        name: spec.name.clone(),
        file: spec.file.clone(),
        expect: spec.expect,
        outcome,
    }
}

/// Adds the explanations that need more runs, when the spec's `explain` asks for them.
async fn explain(spec: &Spec, measured: &mut Measured, options: &RunOptions) {
    let wanted = match spec.explain {
        Explain::Never => false,
        Explain::Always => true,
        Explain::Auto => measured.analysis.verdict == crate::analysis::Verdict::Leak,
    };
    if !wanted {
        return;
    }
    let classes: Vec<String> = measured
        .analysis
        .suspects
        .iter()
        .take(crate::explain::MAX_EXPLAINED_SUSPECTS)
        .map(|s| s.class.clone())
        .collect();
    if !classes.is_empty() {
        let t = Instant::now();
        match crate::explain::allocations::find_allocation_sites(spec, &classes, options).await {
            Ok(sites) => measured.allocation_sites = sites,
            Err(e) => measured.explain_error = Some(format!("allocation sites: {e}")),
        }
        measured.timings.explain += t.elapsed().as_secs_f64();
        measured.timings.total += t.elapsed().as_secs_f64();
    }
    if crate::explain::requests::request_kinds(spec).len() > 1 {
        let t = Instant::now();
        let results = crate::explain::requests::attribute(spec, options).await;
        measured.leaking_requests = Some(crate::explain::requests::leaking_requests(&results));
        measured.request_kinds = results;
        measured.timings.explain += t.elapsed().as_secs_f64();
        measured.timings.total += t.elapsed().as_secs_f64();
    }
}

/// The run's working folder: a temporary one, or a kept one under the artifacts folder.
struct WorkDir {
    path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

fn work_dir(spec: &Spec, label: &str, options: &RunOptions) -> Result<WorkDir, RunError> {
    match &options.artifacts_dir {
        Some(root) => {
            let name = if label.is_empty() {
                safe_name(&spec.name)
            } else {
                format!("{}-{}", safe_name(&spec.name), safe_name(label))
            };
            let path = root.join(name);
            std::fs::create_dir_all(&path).map_err(|source| RunError::Folder {
                path: path.clone(),
                source,
            })?;
            Ok(WorkDir { path, _temp: None })
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("leakgate-")
                .tempdir()
                .map_err(|source| RunError::Folder {
                    path: std::env::temp_dir(),
                    source,
                })?;
            Ok(WorkDir {
                path: temp.path().to_path_buf(),
                _temp: Some(temp),
            })
        }
    }
}

/// A file-name-safe form of a spec name.
pub fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What one measured session drives: the spec's load, or a variation of it used to explain a
/// leak (one request kind alone, or with V8's allocation tracking on).
#[derive(Debug, Clone)]
pub struct MeasurePlan {
    /// The load to drive.
    pub load: crate::load::LoadConfig,
    /// Turn on V8's allocation tracking after the warm-up, so that the snapshots record an
    /// allocation stack for every object allocated while measured. Costly; off by default.
    pub track_allocations: bool,
    /// A suffix for the working folder, so that the sessions of one spec do not collide.
    pub label: String,
    /// Compute the retainer paths of the suspects (the main run does; the runs that explain
    /// it further need not).
    pub retainers: bool,
    /// Measured requests at which to snapshot.
    pub checkpoints: Vec<u64>,
}

impl MeasurePlan {
    /// The plan of a normal run: the spec's own load, no tracking.
    pub fn of(spec: &Spec) -> MeasurePlan {
        MeasurePlan {
            load: spec.load.clone(),
            track_allocations: false,
            label: String::new(),
            retainers: true,
            checkpoints: spec.checkpoints.clone(),
        }
    }
}

/// One measured session: boot, warm up, checkpoints, judge.
pub async fn measure(
    spec: &Spec,
    plan: &MeasurePlan,
    options: &RunOptions,
) -> Result<Box<Measured>, RunError> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let dir = work_dir(spec, &plan.label, options)?;
    let progress = |text: String| {
        if options.progress {
            eprintln!("leakgate: {}: {text}", spec.name);
        }
    };

    progress("preparing and booting the app".to_string());
    if let Some(dir) = &spec.app.package_dir {
        app::prepare(dir).await?;
    }
    let config = AppConfig {
        script: spec.app.script.clone(),
        command: spec.app.command.clone(),
        cwd: spec.app.cwd.clone(),
        env: spec.app.env.clone(),
        node_args: {
            let mut args = spec.app.node_args.clone();
            if plan.track_allocations {
                // Objects V8 decides to pretenure are allocated straight into old space by
                // optimised code, where the allocation tracker does not see them; and a leak's
                // objects, which all survive, are exactly the ones V8 pretenures.
                args.push("--no-allocation-site-pretenuring".to_string());
            }
            args
        },
        port: spec.app.port,
        ready_path: spec.app.ready_path.clone(),
        ready_timeout: spec.app.ready_timeout,
        log_path: Some(dir.path.join("app.log")),
    };
    let mut app = AppProcess::start(&config).await?;
    let mut inspector = Some(
        Inspector::connect(app.inspector_url())
            .await
            .map_err(|error| inspector_error(&mut app, error))?,
    );
    let addr = app.addr();
    let mut load = LoadGenerator::new(addr, plan.load.clone()).map_err(|error| RunError::Load {
        error,
        log_tail: app.log_tail(LOG_TAIL_LINES),
    })?;
    timings.boot = started.elapsed().as_secs_f64();

    // Tracking starts before the warm-up, so that code compiled during it is compiled with
    // allocation tracking in place.
    if plan.track_allocations {
        if let Some(client) = inspector.as_mut() {
            client
                .call(
                    "HeapProfiler.startTrackingHeapObjects",
                    serde_json::json!({ "trackAllocations": true }),
                )
                .await
                .map_err(|error| inspector_error(&mut app, error))?;
        }
    }
    progress(format!("warm-up: {} requests", spec.warmup));
    let t = Instant::now();
    if spec.warmup > 0 {
        drive(&mut load, &mut app, &mut inspector, spec.warmup, "warm-up").await?;
    }
    timings.warmup = t.elapsed().as_secs_f64();

    let mut builder = DiffBuilder::new();
    let mut memory = Vec::new();
    let mut measured = LoadStats::default();
    let mut kept = Vec::new();
    let mut done: u64 = 0;
    let points: Vec<u64> = std::iter::once(0)
        .chain(plan.checkpoints.iter().copied())
        .collect();
    let mut last_graph = None;
    for (k, &at) in points.iter().enumerate() {
        if at > done {
            progress(format!(
                "checkpoint {k} of {}: {} requests",
                points.len() - 1,
                at - done
            ));
            let t = Instant::now();
            let stats = drive(
                &mut load,
                &mut app,
                &mut inspector,
                at - done,
                &format!("checkpoint {k}"),
            )
            .await?;
            timings.load += t.elapsed().as_secs_f64();
            measured.merge(&stats);
            done = at;
        }
        let t = Instant::now();
        let path = dir.path.join(format!("checkpoint-{k}.heapsnapshot"));
        let usage = snapshot_at(&mut inspector, &mut app, &path).await?;
        timings.snapshots += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let graph = snapshot::read_file(&path).map_err(|error| RunError::Snapshot {
            path: path.clone(),
            error,
        })?;
        memory.push(CheckpointMemory {
            requests: at,
            heap_bytes: graph.total_self_size(),
            array_buffer_bytes: usage.array_buffers,
            external_bytes: usage.external,
            rss_bytes: usage.rss,
        });
        if k + 1 < points.len() {
            builder.add_earlier(&graph);
        } else {
            last_graph = Some(graph);
        }
        kept.push(path);
        timings.analysis += t.elapsed().as_secs_f64();
    }
    load.close().await;
    if let Some(inspector) = inspector.take() {
        let _ = inspector.close().await;
    }
    let _ = app.shutdown().await;

    let t = Instant::now();
    let last_graph = last_graph.unwrap_or_default();
    let diff = builder.finish(&last_graph);
    let analysis = judge(&diff, &memory, &spec.assert);
    let retainers = if plan.retainers {
        crate::explain::retainers_of_suspects(&last_graph, &diff, &analysis.suspects)
    } else {
        Vec::new()
    };
    timings.analysis += t.elapsed().as_secs_f64();

    let passed = matches!(
        (spec.expect, analysis.verdict),
        (Expectation::Leak, crate::analysis::Verdict::Leak)
            | (Expectation::Clean, crate::analysis::Verdict::Clean)
    );
    let keep = match options.keep_snapshots {
        KeepSnapshots::Always => true,
        KeepSnapshots::OnFailure => !passed,
        KeepSnapshots::Never => false,
    };
    if !keep || dir._temp.is_some() {
        for path in kept.drain(..) {
            let _ = std::fs::remove_file(path);
        }
    }
    timings.total = started.elapsed().as_secs_f64();
    Ok(Box::new(Measured {
        analysis,
        memory,
        diff,
        last_graph,
        measured_requests: measured.requests,
        load: measured,
        timings,
        retainers,
        request_kinds: Vec::new(),
        leaking_requests: None,
        allocation_sites: Vec::new(),
        explain_error: None,
        kept_snapshots: kept,
    }))
}

/// Sends `count` requests and checks the app survived and answered.
async fn drive(
    load: &mut LoadGenerator,
    app: &mut AppProcess,
    inspector: &mut Option<Inspector>,
    count: u64,
    phase: &str,
) -> Result<LoadStats, RunError> {
    // A phase has failed once more than this many of its requests failed.
    let budget = (count as f64 * load.max_failure_rate()) as u64;
    let result = {
        let run = load.run_bounded(count, budget);
        tokio::pin!(run);
        // An app that dies mid-load leaves the requests to time out one by one (Node even keeps
        // its sockets open while it waits for the debugger to disconnect): watch it instead.
        loop {
            tokio::select! {
                result = &mut run => break Some(result),
                () = tokio::time::sleep(LIVENESS_POLL) => {
                    if app.check_alive().is_err() {
                        break None;
                    }
                }
            }
        }
    };
    app_alive(app, inspector).await?;
    let Some(result) = result else {
        return Err(RunError::App(AppError::Io {
            context: "the app stopped answering during the load".to_string(),
            source: std::io::ErrorKind::BrokenPipe.into(),
        }));
    };
    let stats = result.map_err(|error| RunError::Load {
        error,
        log_tail: app.log_tail(LOG_TAIL_LINES),
    })?;
    let max_failure_rate = load.max_failure_rate();
    if stats.failure_rate() > max_failure_rate {
        let statuses: Vec<String> = stats
            .unexpected_status_counts
            .iter()
            .map(|(s, n)| format!("{n}× HTTP {s}"))
            .collect();
        let mut detail = statuses.join(", ");
        if stats.errors > 0 {
            if !detail.is_empty() {
                detail.push_str("; ");
            }
            detail.push_str(&format!(
                "{} errors, e.g. {}",
                stats.errors,
                stats.error_samples.join(" | ")
            ));
        }
        let kinds: Vec<String> = stats
            .per_template
            .iter()
            .filter(|t| t.failures > 0)
            .map(|t| format!("`{}` {}/{}", t.label, t.failures, t.requests))
            .collect();
        if !kinds.is_empty() {
            detail.push_str(&format!("; by request kind: {}", kinds.join(", ")));
        }
        if stats.requests < count {
            detail.push_str(&format!(
                "; stopped after {} of {count} requests, as the phase had failed",
                stats.requests
            ));
        }
        return Err(RunError::TooManyFailures {
            phase: phase.to_string(),
            failed: stats.failures(),
            requests: stats.requests,
            limit: max_failure_rate * 100.0,
            detail,
            log_tail: app.log_tail(LOG_TAIL_LINES),
        });
    }
    Ok(stats)
}

/// Fails with the app's exit status if it is gone. Node that exits with an inspector attached
/// waits for the debugger to leave; [`AppProcess::check_alive`] notices, and then the inspector
/// is closed so that Node can finish and its real exit code can be reported.
async fn app_alive(
    app: &mut AppProcess,
    inspector: &mut Option<Inspector>,
) -> Result<(), RunError> {
    let waiting = |r: &Result<(), AppError>| {
        matches!(
            r,
            Err(AppError::Exited {
                code: None,
                signal: None,
                ..
            })
        )
    };
    let mut status = app.check_alive();
    if waiting(&status) {
        if let Some(inspector) = inspector.take() {
            drop(inspector);
        }
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            status = app.check_alive();
            if !waiting(&status) {
                break;
            }
        }
    }
    status.map_err(RunError::from)
}

/// Forces GC, streams a snapshot to `path` and reads `process.memoryUsage()`.
async fn snapshot_at(
    inspector: &mut Option<Inspector>,
    app: &mut AppProcess,
    path: &Path,
) -> Result<crate::inspector::MemoryUsage, RunError> {
    let Some(client) = inspector.as_mut() else {
        app_alive(app, inspector).await?;
        return Err(inspector_error(app, InspectorError::Closed));
    };
    let result = async {
        client.collect_garbage().await?;
        client.collect_garbage().await?;
        client.take_heap_snapshot(path).await?;
        client.memory_usage().await
    }
    .await;
    match result {
        Ok(usage) => Ok(usage),
        Err(error) => {
            // A killed app closes its sockets a moment before its exit can be seen.
            for _ in 0..10 {
                if app.check_alive().is_err() {
                    break;
                }
                tokio::time::sleep(LIVENESS_POLL).await;
            }
            app_alive(app, inspector).await?;
            Err(inspector_error(app, error))
        }
    }
}

fn inspector_error(app: &mut AppProcess, error: InspectorError) -> RunError {
    RunError::Inspector {
        error,
        log_tail: app.log_tail(LOG_TAIL_LINES),
    }
}
