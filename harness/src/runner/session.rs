//! The live session: the only part of a run that talks to processes and the network.
//!
//! A [`Session`] boots the app under the inspector, drives the load and writes a heap snapshot
//! (with `process.memoryUsage()` beside it) at each checkpoint. It reads nothing back and
//! judges nothing: what it leaves is a [`SessionRecord`] of files and counters, which the
//! analysis reads afterwards ([`crate::analysis::Series::read`]), or while the run goes on
//! when the session is given a [`SeriesFeed`] to hand each file of its series to.
//!
//! The session is a value with steps ([`Session::warm_up`], [`Session::advance_to`],
//! [`Session::checkpoint`], [`Session::finish`]) rather than one function, so that a run can
//! add steps (more checkpoints, other loads) while the process is alive; [`run`] is the plain
//! sequence of a [`Plan`]. Dropping a session at any point kills the app's process group (see
//! [`crate::app`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::error::RunError;
use super::plan::Plan;
use super::RunOptions;
use crate::analysis::{SeriesFeed, SnapshotFile};
use crate::app::{self, AppConfig, AppError, AppProcess};
use crate::inspector::{Inspector, InspectorError};
use crate::load::{LoadGenerator, LoadStats, RequestTemplate};
use crate::spec::Spec;

/// How often the app's liveness is checked while load runs.
const LIVENESS_POLL: Duration = Duration::from_millis(100);
/// How often a long phase prints its progress (requests done, rate) when progress is on.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Where a session's time went, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SessionTimings {
    /// `npm ci` (when needed), boot, readiness and inspector connection.
    pub boot: f64,
    /// Warm-up requests.
    pub warmup: f64,
    /// Measured requests.
    pub load: f64,
    /// GC, snapshot streaming and `memoryUsage`.
    pub snapshots: f64,
    /// The whole session.
    pub total: f64,
}

/// What a session leaves behind.
#[derive(Debug, Clone, Default)]
pub struct SessionRecord {
    /// The snapshots, in time order (the first right after the warm-up).
    pub snapshots: Vec<SnapshotFile>,
    /// Load counters of the measured phase (warm-up excluded).
    pub load: LoadStats,
    /// Where the time went.
    pub timings: SessionTimings,
    /// Source maps Node holds for the app's files (code transpiled in memory, such as tsx's),
    /// asked for before the app stops (see [`crate::analysis::sourcemaps`]).
    pub source_maps: crate::analysis::sourcemaps::SourceMaps,
    /// Each worker thread's snapshots, aligned with `snapshots` (empty unless the session
    /// watched workers: [`Session::watch_workers`]).
    pub workers: Vec<crate::analysis::isolates::WorkerSeriesFiles>,
    /// The sampling heap profiler's interval for the measured phase, if it ran.
    pub sampling: Option<SamplingChoice>,
}

/// The sampling heap profiler's interval of a session, and what it was chosen from.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SamplingChoice {
    /// Bytes allocated per sample on average in the measured phase.
    pub interval: u64,
    /// Bytes the app allocated per request in the warm-up (`None`: not measured, as with no
    /// warm-up).
    pub allocated_bytes_per_request: Option<u64>,
}

/// A live app under the inspector, with its load generator.
pub struct Session {
    name: String,
    progress: bool,
    dir: PathBuf,
    /// The app's folder (whose files' source maps are asked for).
    cwd: PathBuf,
    // Field order is drop order: the load's connections and the inspector go before the app.
    load: LoadGenerator,
    inspector: Option<Inspector>,
    app: AppProcess,
    /// Measured requests sent so far.
    done: u64,
    /// Requests served alone after the measured phase (see [`Session::serve_alone`]).
    served_alone: u64,
    /// Whether the sampling heap profiler runs.
    sampling: bool,
    /// Whether worker threads are snapshotted at each checkpoint.
    workers: bool,
    record: SessionRecord,
    /// Where each snapshot of the series goes as soon as it is written, if anywhere.
    series_feed: Option<SeriesFeed>,
    started: Instant,
}

/// Runs `plan` from boot to the last checkpoint, writing snapshots into `dir`.
pub async fn run(
    spec: &Spec,
    plan: &Plan,
    options: &RunOptions,
    dir: &Path,
) -> Result<SessionRecord, RunError> {
    let mut session = Session::start(spec, plan, options, dir).await?;
    session.take_planned_series(plan).await?;
    Ok(session.finish().await)
}

impl Session {
    /// Prepares (`npm ci` when needed) and boots the app, connects the inspector and turns on
    /// what `plan` asks for.
    pub async fn start(
        spec: &Spec,
        plan: &Plan,
        options: &RunOptions,
        dir: &Path,
    ) -> Result<Session, RunError> {
        let started = Instant::now();
        if options.progress {
            eprintln!("leakgate: {}: preparing and booting the app", spec.name);
        }
        if let Some(dir) = &spec.app.package_dir {
            app::prepare(dir).await?;
        }
        let mut node_args = spec.app.node_args.clone();
        if plan.track_allocations {
            // Objects V8 decides to pretenure are allocated straight into old space by
            // optimised code, where the allocation tracker does not see them; and a leak's
            // objects, which all survive, are exactly the ones V8 pretenures.
            node_args.push("--no-allocation-site-pretenuring".to_string());
        }
        let config = AppConfig {
            script: spec.app.script.clone(),
            command: spec.app.command.clone(),
            cwd: spec.app.cwd.clone(),
            env: spec.app.env.clone(),
            node_args,
            port: spec.app.port,
            ready_path: spec.app.ready_path.clone(),
            ready_timeout: spec.app.ready_timeout,
            log_path: Some(dir.join(super::APP_LOG)),
        };
        let app = AppProcess::start(&config).await?;
        let mut inspector = Inspector::connect(app.inspector_url()).await?;
        let load = LoadGenerator::new(app.addr(), plan.load.clone())
            .map_err(|error| RunError::Load { error })?;
        // Tracking starts before the warm-up, so that code compiled during it is compiled with
        // allocation tracking in place.
        if plan.track_allocations {
            inspector
                .call(
                    "HeapProfiler.startTrackingHeapObjects",
                    serde_json::json!({ "trackAllocations": true }),
                )
                .await?;
        }
        let mut record = SessionRecord::default();
        record.timings.boot = started.elapsed().as_secs_f64();
        Ok(Session {
            name: spec.name.clone(),
            progress: options.progress,
            dir: dir.to_path_buf(),
            cwd: spec.app.cwd.clone(),
            load,
            inspector: Some(inspector),
            app,
            done: 0,
            served_alone: 0,
            sampling: false,
            workers: false,
            record,
            series_feed: None,
            started,
        })
    }

    fn say(&self, text: &str) {
        if self.progress {
            eprintln!("leakgate: {}: {text}", self.name);
        }
    }

    /// The planned part of a run: the warm-up (whose second half counts what the app allocates
    /// when the plan asks for the sampling profiler), the sampling profiler at the interval
    /// chosen from that, the post-warm-up snapshot, then the load up to each checkpoint and its
    /// snapshot.
    pub async fn take_planned_series(&mut self, plan: &Plan) -> Result<(), RunError> {
        // The app's allocations are counted over the second half of the warm-up, once its
        // code is compiled and its caches are warm.
        let counted = plan.sampling_interval.map_or(0, |_| plan.warmup / 2);
        self.warm_up(plan.warmup - counted).await?;
        if let (Some(base), true) = (plan.sampling_interval, counted > 0) {
            self.start_counting_allocations(base).await?;
            self.warm_up(counted).await?;
        }
        if let Some(base) = plan.sampling_interval {
            let per_request = match counted {
                0 => None,
                n => self.allocated_per_request(n).await?,
            };
            let interval = super::plan::sampling_interval_for(base, per_request);
            self.record.sampling = Some(SamplingChoice {
                interval,
                allocated_bytes_per_request: per_request,
            });
            self.start_sampling(interval).await?;
        }
        self.checkpoint().await?;
        for &at in &plan.checkpoints {
            self.advance_to(at).await?;
            self.checkpoint().await?;
        }
        Ok(())
    }

    /// Sends `count` requests that are not measured.
    pub async fn warm_up(&mut self, count: u64) -> Result<(), RunError> {
        self.say(&format!("warm-up: {count} requests"));
        let t = Instant::now();
        if count > 0 {
            self.drive(count, "warm-up").await?;
        }
        self.record.timings.warmup += t.elapsed().as_secs_f64();
        Ok(())
    }

    /// Starts V8's sampling heap profiler for the warm-up, keeping the samples of collected
    /// objects too, so that [`Session::allocated_per_request`] can tell how much the app
    /// allocates per request.
    async fn start_counting_allocations(&mut self, interval: u64) -> Result<(), RunError> {
        let params = serde_json::json!({
            "samplingInterval": interval,
            "includeObjectsCollectedByMajorGC": true,
            "includeObjectsCollectedByMinorGC": true,
        });
        self.call_checked("HeapProfiler.startSampling", params)
            .await
            .map(drop)
    }

    /// Bytes the app allocated per request over the `requests` of the warm-up, from the
    /// samples [`Session::start_counting_allocations`] kept (each stands for the bytes of the
    /// objects it was drawn for), and stops that profiler. `None` when the profile says nothing.
    async fn allocated_per_request(&mut self, requests: u64) -> Result<Option<u64>, RunError> {
        let profile = self
            .call_checked("HeapProfiler.getSamplingProfile", serde_json::json!({}))
            .await?;
        self.call_checked("HeapProfiler.stopSampling", serde_json::json!({}))
            .await?;
        let bytes: Option<f64> = profile
            .pointer("/profile/samples")
            .and_then(|s| s.as_array())
            .map(|samples| {
                samples
                    .iter()
                    .filter_map(|s| s.get("size").and_then(|v| v.as_f64()))
                    .sum()
            });
        Ok(bytes
            .filter(|_| requests > 0)
            .map(|b| (b / requests as f64).round() as u64))
    }

    /// An inspector call whose failure is blamed on the app when the app has died.
    async fn call_checked(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, RunError> {
        let Some(client) = self.inspector.as_mut() else {
            return Err(RunError::from(InspectorError::Closed));
        };
        match client.call(method, params).await {
            Ok(answer) => Ok(answer),
            Err(error) => {
                self.app_alive().await?;
                Err(RunError::from(error))
            }
        }
    }

    /// Starts V8's sampling heap profiler: from now on each checkpoint also writes the live
    /// sampled allocations, with their stacks, beside its snapshot.
    pub async fn start_sampling(&mut self, interval: u64) -> Result<(), RunError> {
        let params = serde_json::json!({ "samplingInterval": interval });
        self.call_checked("HeapProfiler.startSampling", params)
            .await?;
        self.sampling = true;
        Ok(())
    }

    /// Attaches to the app's worker threads (those running and those to come): from now on
    /// each checkpoint also snapshots every worker isolate (see [`super::workers`]).
    pub async fn watch_workers(&mut self) -> Result<(), RunError> {
        let Some(client) = self.inspector.as_mut() else {
            return Err(RunError::from(InspectorError::Closed));
        };
        if let Err(error) = client.enable_workers().await {
            self.app_alive().await?;
            return Err(RunError::from(error));
        }
        self.workers = true;
        Ok(())
    }

    /// The worker threads' snapshots so far, aligned with [`Session::snapshots`].
    pub fn worker_snapshots(&self) -> &[crate::analysis::isolates::WorkerSeriesFiles] {
        &self.record.workers
    }

    /// Measured requests sent so far.
    pub fn measured_requests(&self) -> u64 {
        self.done
    }

    /// From now on, hands each snapshot of the series to `feed` as soon as it is written.
    pub fn feed_series_to(&mut self, feed: SeriesFeed) {
        self.series_feed = Some(feed);
    }

    /// The snapshots written so far, in time order.
    pub fn snapshots(&self) -> &[SnapshotFile] {
        &self.record.snapshots
    }

    /// Sends measured requests until `requests` have been sent in all.
    pub async fn advance_to(&mut self, requests: u64) -> Result<LoadStats, RunError> {
        if requests <= self.done {
            return Ok(LoadStats::default());
        }
        let k = self.record.snapshots.len();
        self.say(&format!(
            "checkpoint {k}: {} requests",
            requests - self.done
        ));
        let t = Instant::now();
        let stats = self
            .drive(requests - self.done, &format!("checkpoint {k}"))
            .await?;
        self.record.timings.load += t.elapsed().as_secs_f64();
        self.record.load.merge(&stats);
        self.done = requests;
        Ok(stats)
    }

    /// Forces GC, writes the next snapshot of the series and reads `process.memoryUsage()`.
    pub async fn checkpoint(&mut self) -> Result<&SnapshotFile, RunError> {
        let t = Instant::now();
        let k = self.record.snapshots.len();
        let file = self
            .write_snapshot(&format!("checkpoint-{k}"), self.done, Some(k))
            .await?;
        self.record.timings.snapshots += t.elapsed().as_secs_f64();
        if let Some(feed) = &self.series_feed {
            feed.push(file.clone());
        }
        self.record.snapshots.push(file);
        Ok(self.record.snapshots.last().expect("just pushed"))
    }

    /// Serves `count` requests of `templates` only (one request kind alone, after the measured
    /// phase), then puts the spec's own templates back. These requests count neither in the
    /// measured requests nor in the load counters of the record; their timings are the
    /// caller's.
    pub async fn serve_alone(
        &mut self,
        templates: Vec<RequestTemplate>,
        count: u64,
        phase: &str,
    ) -> Result<LoadStats, RunError> {
        let own = self.load.requests().to_vec();
        if let Err(error) = self.load.set_requests(templates) {
            return Err(RunError::Load { error });
        }
        self.say(&format!("{phase}: {count} requests"));
        let result = self.drive(count, phase).await;
        self.served_alone += count;
        if let Err(error) = self.load.set_requests(own) {
            return Err(RunError::Load { error });
        }
        result
    }

    /// Forces GC and writes a snapshot named `stem` that is not part of the series (after
    /// [`Session::serve_alone`]); its `requests` go on from the measured requests, counting the
    /// requests served alone.
    pub async fn snapshot_apart(&mut self, stem: &str) -> Result<SnapshotFile, RunError> {
        let requests = self.done + self.served_alone;
        self.write_snapshot(stem, requests, None).await
    }

    /// Forces GC, writes `STEM.heapsnapshot` and reads `process.memoryUsage()`. For snapshot
    /// `series` of the series (`None`: a snapshot apart), the sampling profiler's live samples
    /// are written beside it and the watched worker threads are snapshotted too.
    async fn write_snapshot(
        &mut self,
        stem: &str,
        requests: u64,
        series: Option<usize>,
    ) -> Result<SnapshotFile, RunError> {
        let path = self.dir.join(format!("{stem}.heapsnapshot"));
        let profile_path = (self.sampling && series.is_some())
            .then(|| self.dir.join(format!("{stem}.heapprofile.json")));
        // A link planted at this name is removed, never followed (Node may write the file).
        crate::private::clear(&path).map_err(|source| RunError::Folder {
            path: path.clone(),
            source,
        })?;
        let Some(client) = self.inspector.as_mut() else {
            self.app_alive().await?;
            return Err(RunError::from(InspectorError::Closed));
        };
        let result = async {
            client.collect_garbage().await?;
            client.collect_garbage().await?;
            if let (true, Some(k)) = (self.workers, series) {
                let (dir, served) = (&self.dir, (self.done, self.record.load.failures()));
                let workers = &mut self.record.workers;
                super::workers::checkpoint(client, dir, k, served, workers).await?;
            }
            if let Some(profile_path) = &profile_path {
                let profile = client
                    .call("HeapProfiler.getSamplingProfile", serde_json::json!({}))
                    .await?;
                write_private(profile_path, &profile)?;
            }
            client.take_heap_snapshot(&path).await?;
            client.memory_usage().await
        }
        .await;
        let usage = match result {
            Ok(usage) => usage,
            Err(error) => {
                // A killed app closes its sockets a moment before its exit can be seen.
                for _ in 0..10 {
                    if self.app.check_alive().is_err() {
                        break;
                    }
                    tokio::time::sleep(LIVENESS_POLL).await;
                }
                self.app_alive().await?;
                return Err(RunError::from(error));
            }
        };
        Ok(SnapshotFile {
            path,
            requests,
            array_buffer_bytes: usage.array_buffers,
            external_bytes: usage.external,
            rss_bytes: usage.rss,
            failed_requests: self.record.load.failures(),
            allocation_profile: profile_path,
        })
    }

    /// Closes the load and the inspector, stops the app and returns the record.
    pub async fn finish(mut self) -> SessionRecord {
        self.load.close().await;
        if let Some(client) = self.inspector.as_mut() {
            let expression = crate::analysis::sourcemaps::collect_expression(&self.cwd);
            if let Ok(serde_json::Value::String(answer)) = client.evaluate(&expression).await {
                self.record.source_maps =
                    crate::analysis::sourcemaps::SourceMaps::from_collected(&answer);
            }
        }
        if let Some(inspector) = self.inspector.take() {
            let _ = inspector.close().await;
        }
        let _ = self.app.shutdown().await;
        self.record.timings.total = self.started.elapsed().as_secs_f64();
        self.record
    }

    /// Sends `count` requests and checks the app survived and answered.
    async fn drive(&mut self, count: u64, phase: &str) -> Result<LoadStats, RunError> {
        // A phase has failed once more than this many of its requests failed.
        let max_failure_rate = self.load.max_failure_rate();
        let budget = (count as f64 * max_failure_rate) as u64;
        let completed = self.load.completed();
        let (name, progress) = (self.name.clone(), self.progress);
        let (began, base) = (Instant::now(), completed.load(Ordering::Relaxed));
        let mut last_line = Instant::now();
        let result = {
            let run = self.load.run_bounded(count, budget);
            tokio::pin!(run);
            // An app that dies mid-load leaves the requests to time out one by one (Node even
            // keeps its sockets open while it waits for the debugger to disconnect): watch it
            // instead.
            loop {
                tokio::select! {
                    result = &mut run => break Some(result),
                    () = tokio::time::sleep(LIVENESS_POLL) => {
                        if self.app.check_alive().is_err() {
                            break None;
                        }
                        if progress && last_line.elapsed() >= PROGRESS_EVERY {
                            last_line = Instant::now();
                            let done = completed.load(Ordering::Relaxed).saturating_sub(base);
                            let rate = done as f64 / began.elapsed().as_secs_f64().max(1e-3);
                            eprintln!("leakgate: {name}: {phase}: {done} of {count} requests, {rate:.0}/s");
                        }
                    }
                }
            }
        };
        self.app_alive().await?;
        let Some(result) = result else {
            return Err(RunError::App(AppError::Io {
                context: "the app stopped answering during the load".to_string(),
                source: std::io::ErrorKind::BrokenPipe.into(),
            }));
        };
        let stats = result.map_err(|error| RunError::Load { error })?;
        if stats.failure_rate() > max_failure_rate {
            let mut detail = failure_detail(&stats);
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
            });
        }
        Ok(stats)
    }

    /// Fails with the app's exit status if it is gone. Node that exits with an inspector
    /// attached waits for the debugger to leave; [`AppProcess::check_alive`] notices, and then
    /// the inspector is closed so that Node can finish and its real exit code can be reported.
    async fn app_alive(&mut self) -> Result<(), RunError> {
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
        let mut status = self.app.check_alive();
        if waiting(&status) {
            drop(self.inspector.take());
            for _ in 0..50 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                status = self.app.check_alive();
                if !waiting(&status) {
                    break;
                }
            }
        }
        status.map_err(RunError::from)
    }
}

/// Writes `value` as JSON to a new file only the user can read (a profile names the app's
/// functions and files).
fn write_private(path: &Path, value: &serde_json::Value) -> Result<(), InspectorError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let io_err = |source| InspectorError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = options.open(path).map_err(io_err)?;
    let mut out = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.flush())
        .map_err(io_err)
}

/// Statuses, error samples and the request kinds that failed, for a failure message.
fn failure_detail(stats: &LoadStats) -> String {
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
    detail
}
