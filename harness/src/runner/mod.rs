//! One run of a spec, as a one-way pipeline:
//!
//! 1. **plan** ([`Plan`]): what the session drives, from the spec;
//! 2. **session** ([`session`]): the live part, and the only async one: boot the app, warm it
//!    up, drive the load checkpoint by checkpoint, write a snapshot at each
//!    ([`SessionRecord`]: files and counters);
//! 3. **analysis** ([`Series`], [`crate::analysis::judge`]): read the files, diff the series,
//!    judge it ([`Analysis`]); pure, no process involved;
//! 4. **explanation** ([`crate::explain`]): retainer paths from the series, and the facts
//!    that need runs of their own, which the explanation asks for as plans and this module
//!    executes ([`Explanation`]);
//! 5. **report**: the result, [`SpecRun`], goes to the renderers in [`crate::report`].
//!
//! Each stage hands a value of its own to the next and none calls back into an earlier one.
//!
//! Each run owns a current-thread tokio runtime on the caller's thread. That keeps parallel
//! runs (one per test thread) apart, and it matters for cleanup: the app is spawned from this
//! thread, and the kernel kills it if this thread dies (see [`crate::app`]). Every exit path —
//! success, error, panic in the caller — drops the session's [`crate::app::AppProcess`], which
//! kills the app's whole process group. Heap snapshots are streamed to a temporary folder and
//! read once the session is over, one at a time; only the last graph stays in memory.

mod error;
mod plan;
pub mod session;
mod workers;

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::analysis::{Analysis, Series, SeriesReader, Verdict};
use crate::app;
use crate::explain::{self, Explanation};
use crate::spec::{Expectation, Spec};

pub use error::{ErrorKind, RunError};
pub use plan::Plan;
pub use session::{SamplingChoice, SessionRecord, SessionTimings};

/// The default largest share of failed requests (an unexpected status, or no answer) a run
/// accepts before it is an error rather than a verdict: an app that fails requests is not
/// doing the work being measured. A spec sets its own with `load.max_failure_rate`.
pub const MAX_FAILURE_RATE: f64 = crate::load::DEFAULT_MAX_FAILURE_RATE;

/// The app's log file in a run's folder: all it printed on stdout and stderr.
pub(crate) const APP_LOG: &str = "app.log";

/// Lines of the app's output kept with a failure ([`SpecRun::app_log_tail`]).
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
    /// Explaining a leak: retainer paths, and the extra runs (request kinds, allocation
    /// sites) with their analysis, seconds.
    pub explain: f64,
    /// The whole run, seconds.
    pub total: f64,
}

/// What a successful run produced: each stage's result, as that stage left it.
#[derive(Debug, Clone)]
pub struct Measured {
    /// What the main session recorded (snapshot files, load counters, its timings).
    pub session: SessionRecord,
    /// The main series, read from the session's snapshots.
    pub series: Series,
    /// The verdict and what it rests on.
    pub analysis: Analysis,
    /// Why memory grows, when that was explained.
    pub explanation: Explanation,
    /// Where the time went, over all stages.
    pub timings: Timings,
    /// Snapshot files kept (see [`KeepSnapshots`]).
    pub kept_snapshots: Vec<PathBuf>,
    /// What identifies each suspect across runs, in the order of `analysis.suspects`.
    pub fingerprints: Vec<crate::analysis::Fingerprint>,
    /// How `assert.allow` judged the run (`None` when the spec allows nothing); its verdict is
    /// already in `analysis`.
    pub allow: Option<crate::analysis::AllowJudgement>,
    /// A verdict per isolate: the main thread first, then each worker thread seen (see
    /// [`crate::analysis::isolates`]); the run's verdict is a leak when any of them leaks.
    pub isolates: Vec<crate::analysis::isolates::IsolateResult>,
    /// How many times the app was booted for this spec: 1, plus one per extra run of the
    /// explanation (`explain: runs`).
    pub app_starts: u32,
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
    /// When the run failed after the app started: its last lines of output (at most
    /// [`LOG_TAIL_LINES`]), taken once from its log as the run ended, and kept apart from the
    /// error's message so that each report prints them once. `None` with a verdict.
    pub app_log_tail: Option<Vec<String>>,
}

impl SpecRun {
    /// Whether the verdict matches the spec's `expect` (an error never passes).
    pub fn passed(&self) -> bool {
        match &self.outcome {
            Ok(m) => meets(self.expect, m.analysis.verdict),
            Err(_) => false,
        }
    }
}

fn meets(expect: Expectation, verdict: Verdict) -> bool {
    matches!(
        (expect, verdict),
        (Expectation::Leak, Verdict::Leak) | (Expectation::Clean, Verdict::Clean)
    )
}

/// Runs `spec` to a verdict. Never panics on app or spec behaviour; every error is in the
/// outcome.
pub fn run_spec(spec: &Spec, options: &RunOptions) -> SpecRun {
    let (outcome, app_log_tail) = match run_stages(spec, options) {
        Ok(m) => (Ok(Box::new(m)), None),
        Err(failed) => (Err(failed.error), failed.app_log_tail),
    };
    SpecRun {
        name: spec.name.clone(),
        file: spec.file.clone(),
        expect: spec.expect,
        outcome,
        app_log_tail,
    }
}

/// A run that ended without a verdict: why, and the app's last lines.
struct Failed {
    error: RunError,
    app_log_tail: Option<Vec<String>>,
}

impl From<RunError> for Box<Failed> {
    /// A failure before the app could start: no log of it.
    fn from(error: RunError) -> Box<Failed> {
        Box::new(Failed {
            error,
            app_log_tail: None,
        })
    }
}

/// The lines of a tail an error holds, `None` when it holds none.
fn lines_of(tail: &str) -> Option<Vec<String>> {
    let lines: Vec<String> = tail.lines().map(str::to_string).collect();
    (!lines.is_empty()).then_some(lines)
}

/// The pipeline: plan, session, analysis, explanation.
fn run_stages(spec: &Spec, options: &RunOptions) -> Result<Measured, Box<Failed>> {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;

    let plan = Plan::of(spec);
    let dir = work_dir(spec, &plan.label, options)?;
    let log = dir.path.join(APP_LOG);
    // A kept run folder's log holds the earlier runs' lines too.
    let log_before = std::fs::metadata(&log).map_or(0, |m| m.len());
    let decided = match runtime.block_on(run_deciding(spec, &plan, options, &dir.path)) {
        Ok(decided) => decided,
        Err(error) => {
            // The app is gone by now (the session ended with the error) and its log is whole:
            // its end is what the app said last, whichever step failed.
            let app_log_tail = app::tail_of_file(&log, log_before, LOG_TAIL_LINES)
                .or_else(|| error.app_log_tail().and_then(lines_of));
            return Err(Box::new(Failed {
                error,
                app_log_tail,
            }));
        }
    };
    let Decided {
        session,
        mut series,
        mut analysis,
        mut workers,
        analysis_secs,
        kind_phases,
        kind_phases_secs,
    } = decided;
    series.source_maps = session.source_maps.clone();
    // The holders of growing collections, for the report (cheap when there are none).
    crate::analysis::collections::explain(&series.last, &mut analysis.collections);

    let t = Instant::now();
    let keep = match options.keep_snapshots {
        KeepSnapshots::Always => true,
        KeepSnapshots::OnFailure => !meets(spec.expect, analysis.verdict),
        KeepSnapshots::Never => false,
    };
    let mut findings = Vec::new();
    let mut app_starts = 1;
    if let (false, Some(before)) = (kind_phases.is_empty(), session.snapshots.last()) {
        let kinds = explain::kind_phases::judge(&series, &analysis, before, &kind_phases);
        findings.extend(kinds.into_iter().map(explain::Finding::RequestKind));
    }
    for extra in explain::extra_runs(spec, &analysis) {
        let series = run_extra(&runtime, spec, &extra.plan, options, keep);
        app_starts += 1;
        findings.push(extra.conclude(spec, series));
    }
    let mut explanation = explain::explain(
        spec,
        &series,
        &session.snapshots,
        session.sampling.map(|s| s.interval),
        &analysis,
        findings,
    );
    // Where the app keeps what leaks: the holder's declaration and the stores into it.
    let script = spec
        .app
        .script
        .as_ref()
        .and_then(|s| s.strip_prefix(&spec.app.cwd).ok());
    let first: Vec<String> = script
        .map(|s| s.to_string_lossy().into_owned())
        .into_iter()
        .collect();
    for r in &mut explanation.retainers {
        crate::analysis::keepers::locate(&mut r.clusters, &spec.app.cwd, &first);
        for (holder, _) in &mut r.holders {
            crate::analysis::keepers::declare(holder, &spec.app.cwd);
        }
    }
    // Each worker's suspects, from its own last snapshot.
    for w in &mut workers {
        explain::workers::explain(spec, w);
    }
    let explain_secs = t.elapsed().as_secs_f64() + kind_phases_secs;

    // The last step of judging: fingerprints, then the spec's allowed leaks.
    let (fingerprints, allow) = judge_allowed(spec, &series, &mut analysis, &explanation);
    // Then the worker threads: a leak in any isolate is the spec's leak.
    let mut isolates = vec![explain::workers::main_isolate(
        &analysis,
        session.snapshots.len(),
        &explanation,
        &fingerprints,
        allow.as_ref(),
    )];
    let workers: Vec<_> = workers
        .into_iter()
        .map(|mut w| {
            w.judge_allowed(&spec.assert);
            w.result
        })
        .collect();
    crate::analysis::isolates::fold_into(&mut analysis, &workers);
    isolates.extend(workers);

    let mut kept_snapshots: Vec<PathBuf> = session
        .snapshots
        .iter()
        .chain(kind_phases.iter().filter_map(|o| o.snapshot.as_ref()))
        .map(|s| s.path.clone())
        .collect();
    kept_snapshots.extend(
        session
            .workers
            .iter()
            .flat_map(|w| w.snapshots.iter().flatten().map(|s| s.path.clone())),
    );
    if !keep || dir.temporary() {
        remove_all(&mut kept_snapshots);
        let mut profiles: Vec<PathBuf> = session
            .snapshots
            .iter()
            .filter_map(|s| s.allocation_profile.clone())
            .collect();
        remove_all(&mut profiles);
    }
    let s = session.timings;
    let timings = Timings {
        boot: s.boot,
        warmup: s.warmup,
        load: s.load,
        snapshots: s.snapshots,
        analysis: analysis_secs,
        explain: explain_secs,
        total: started.elapsed().as_secs_f64(),
    };
    Ok(Measured {
        session,
        series,
        analysis,
        explanation,
        timings,
        kept_snapshots,
        fingerprints,
        allow,
        isolates,
        app_starts,
    })
}

/// Each suspect's fingerprint, then `assert.allow` applied to the analysis (see
/// [`crate::analysis::allow`]).
fn judge_allowed(
    spec: &Spec,
    series: &Series,
    analysis: &mut Analysis,
    explanation: &Explanation,
) -> (
    Vec<crate::analysis::Fingerprint>,
    Option<crate::analysis::AllowJudgement>,
) {
    let fingerprints = crate::analysis::fingerprint::fingerprints(
        &series.last,
        &series.diff,
        &analysis.suspects,
        |class| {
            explanation
                .retainers
                .iter()
                .find(|r| r.class == class)
                .map(|r| r.holders.as_slice())
        },
        |class| {
            explanation
                .allocation_sites
                .iter()
                .find(|a| a.class == class)
                .map(|a| a.sites.as_slice())
        },
    );
    let judgement = crate::analysis::allow::judge_allowed(analysis, &fingerprints, &spec.assert);
    if let Some(j) = &judgement {
        j.apply_to(analysis);
    }
    (fingerprints, judgement)
}

/// What the main session left once decided.
struct Decided {
    session: SessionRecord,
    series: Series,
    analysis: Analysis,
    /// The worker threads' verdicts, with what their explanation needs.
    workers: Vec<crate::analysis::isolates::JudgedWorker>,
    /// Seconds spent reading and judging.
    analysis_secs: f64,
    /// The request kinds served alone after the measured phase (see
    /// [`explain::kind_phases`]), in order.
    kind_phases: Vec<explain::kind_phases::PhaseOutcome>,
    /// Seconds spent serving them and taking their snapshots.
    kind_phases_secs: f64,
}

/// The main session: the plan's checkpoints, then, while the evidence is borderline, more
/// (see [`crate::analysis::extend`]) up to the spec's `max_requests`. The main thread's
/// snapshots are read as they are written ([`SeriesReader`]); the series (the main thread's
/// and each worker thread's) is judged after the planned checkpoints and after each added one;
/// the last judgement is the run's. Once decided, the explanation's request kinds are served alone in the same process
/// ([`explain::kind_phases`]) before the app stops.
async fn run_deciding(
    spec: &Spec,
    plan: &Plan,
    options: &RunOptions,
    dir: &std::path::Path,
) -> Result<Decided, RunError> {
    use crate::analysis::extend::{next_step, Extension, Step};
    let mut session = session::Session::start(spec, plan, options, dir).await?;
    session.watch_workers().await?;
    // Each snapshot is read while the app serves the next interval (see `SeriesReader`).
    let mut reader = SeriesReader::start().map_err(RunError::ReaderThread)?;
    session.feed_series_to(reader.feed());
    session.take_planned_series(plan).await?;
    let mut extensions = Vec::new();
    let mut analysis_secs = 0.0;
    loop {
        let t = Instant::now();
        let series = reader.take().await?;
        let mut analysis = series.judge(&spec.assert);
        let workers = crate::analysis::isolates::judge_workers(
            session.worker_snapshots(),
            session.snapshots().len(),
            &spec.assert,
            &spec.app.cwd,
        )?;
        analysis_secs += t.elapsed().as_secs_f64();
        let done = session.measured_requests();
        let step = match next_step(&analysis, done, spec.max_requests) {
            Step::Decided => {
                crate::analysis::isolates::next_step(&analysis, &workers, done, spec.max_requests)
            }
            step => step,
        };
        match step {
            Step::Decided => {
                analysis.extensions = extensions;
                let t = Instant::now();
                let phases = explain::kind_phases::phases(spec, &series, &analysis);
                let kind_phases = serve_kinds_alone(&mut session, phases).await;
                return Ok(Decided {
                    session: session.finish().await,
                    series,
                    analysis,
                    workers,
                    analysis_secs,
                    kind_phases,
                    kind_phases_secs: t.elapsed().as_secs_f64(),
                });
            }
            Step::Extend { to, reasons } => {
                if options.progress {
                    eprintln!(
                        "leakgate: {}: borderline, going on to {to} requests: {}",
                        spec.name,
                        reasons.join("; ")
                    );
                }
                extensions.push(Extension {
                    from_requests: done,
                    to_requests: to,
                    reasons,
                });
                reader.resume(series);
                session.advance_to(to).await?;
                session.checkpoint().await?;
            }
        }
    }
}

/// Serves each phase's kind alone, with a snapshot after each. A kind whose requests fail is
/// an error of that kind only (its snapshot is still taken, so the next kind's interval is its
/// own); once a snapshot cannot be taken, the kinds left are not served.
async fn serve_kinds_alone(
    session: &mut session::Session,
    phases: Vec<explain::kind_phases::KindPhase>,
) -> Vec<explain::kind_phases::PhaseOutcome> {
    let mut outcomes = Vec::with_capacity(phases.len());
    let mut broken: Option<String> = None;
    for (i, phase) in phases.into_iter().enumerate() {
        if let Some(e) = &broken {
            outcomes.push(explain::kind_phases::PhaseOutcome {
                phase,
                error: Some(format!("not served: {e}")),
                snapshot: None,
            });
            continue;
        }
        let label = format!("request kind {} alone", phase.label);
        let error = session
            .serve_alone(phase.templates.clone(), phase.requests, &label)
            .await
            .err()
            .map(|e| e.to_string());
        let snapshot = match session.snapshot_apart(&format!("kind-{i}")).await {
            Ok(file) => Some(file),
            Err(e) => {
                broken = Some(e.to_string());
                None
            }
        };
        outcomes.push(explain::kind_phases::PhaseOutcome {
            phase,
            error: error.or_else(|| broken.clone()),
            snapshot,
        });
    }
    outcomes
}

/// Runs one plan of `spec` on its own (boot to the last checkpoint) and reads its series; the
/// snapshots are deleted once read unless `options` keeps them always.
pub fn run_plan(spec: &Spec, plan: &Plan, options: &RunOptions) -> Result<Series, RunError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let keep = options.keep_snapshots == KeepSnapshots::Always;
    run_extra(&runtime, spec, plan, options, keep)
}

/// One extra session of the explanation, read into its series. Its snapshots are kept under
/// the same rule as the main run's.
fn run_extra(
    runtime: &tokio::runtime::Runtime,
    spec: &Spec,
    plan: &Plan,
    options: &RunOptions,
    keep: bool,
) -> Result<Series, RunError> {
    let dir = work_dir(spec, &plan.label, options)?;
    let record = runtime.block_on(session::run(spec, plan, options, &dir.path))?;
    let series = Series::read(&record.snapshots).map(|mut s| {
        s.source_maps = record.source_maps.clone();
        s
    });
    if !keep || dir.temporary() {
        let mut paths: Vec<PathBuf> = record.snapshots.into_iter().map(|s| s.path).collect();
        remove_all(&mut paths);
    }
    Ok(series?)
}

fn remove_all(paths: &mut Vec<PathBuf>) {
    for path in paths.drain(..) {
        let _ = std::fs::remove_file(path);
    }
}

/// The run's working folder: a temporary one, or a kept one under the artifacts folder.
struct WorkDir {
    path: PathBuf,
    temp: Option<tempfile::TempDir>,
}

impl WorkDir {
    /// Whether the folder goes away with the run.
    fn temporary(&self) -> bool {
        self.temp.is_some()
    }
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
            crate::private::run_dir(&path).map_err(|source| RunError::Folder {
                path: path.clone(),
                source,
            })?;
            Ok(WorkDir { path, temp: None })
        }
        None => {
            // Named after this process, so that folders a killed leakgate left can be found.
            let prefix = format!("{}{}-", app::lifetime::TEMP_PREFIX, std::process::id());
            let temp = tempfile::Builder::new()
                .prefix(&prefix)
                .tempdir()
                .map_err(|source| RunError::Folder {
                    path: std::env::temp_dir(),
                    source,
                })?;
            app::lifetime::register_temp_dir(temp.path());
            Ok(WorkDir {
                path: temp.path().to_path_buf(),
                temp: Some(temp),
            })
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.temporary() {
            app::lifetime::unregister_temp_dir(&self.path);
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
