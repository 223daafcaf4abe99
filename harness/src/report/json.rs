//! The JSON report of `leakgate run`: the contract CI tools and scripts read. Fields are only
//! ever added, never renamed.

use serde::Serialize;

use crate::analysis::{CheckpointMemory, Suspect};
use crate::runner::{SpecRun, Timings};

/// One suspect in the JSON report.
#[derive(Debug, Serialize)]
pub struct SuspectJson {
    /// DevTools class name.
    pub class: String,
    /// Surviving new objects per 1000 requests.
    pub per_1k_requests: f64,
    /// Their self size per request, bytes.
    pub bytes_per_request: f64,
    /// Survivors first seen in each interval (the last unverified).
    pub survivors_by_interval: Vec<u64>,
    /// Live count change in each interval.
    pub count_growth_by_interval: Vec<i64>,
    /// How the survivors are held: shortest paths from a GC root, clustered, most objects
    /// first.
    pub retainers: Vec<crate::analysis::retainers::RetainerCluster>,
    /// Where the survivors were allocated (`file:line:column` relative to the app's folder,
    /// and the function), most first; see `allocation_method`.
    pub allocation_sites: Vec<crate::analysis::allocations::AllocationSite>,
    /// Of the suspect's survivors in the tracked run, how many carry an allocation stack
    /// (`null` when no tracked run was made).
    pub allocation_traced: Option<u64>,
    /// The suspect's survivors in the run the sites come from.
    pub allocation_survivors: Option<u64>,
    /// What identifies the leak across runs and machines: its holder, class and allocation
    /// site (see [`crate::analysis::fingerprint`]); `leakgate compare` matches leaks by it.
    pub fingerprint: Option<crate::analysis::Fingerprint>,
    /// `allowed` or `over_budget` when an `assert.allow` entry matches the suspect, else
    /// `null`.
    pub allow: Option<crate::analysis::Allowance>,
    /// `sampling` (the main run's sampling heap profiler: counts and bytes are estimates) or
    /// `tracking` (an extra run with allocation tracking); `null` without sites.
    pub allocation_method: Option<crate::explain::allocations::SiteMethod>,
    /// Sampling: the share of the suspect's surviving bytes its listed sites stand for.
    pub allocation_share_of_bytes: Option<f64>,
    /// Sampling: the samples given to this suspect.
    pub allocation_samples: Option<u64>,
}

/// One spec in the JSON report of `leakgate run`.
#[derive(Debug, Serialize)]
pub struct SpecJson {
    /// The spec's name.
    pub name: String,
    /// The spec file.
    pub file: String,
    /// `leak`, `clean` or `error`.
    pub verdict: &'static str,
    /// `leak` or `clean`.
    pub expect: &'static str,
    /// Whether the verdict met `expect`.
    pub passed: bool,
    /// JS heap growth per request (slope over the checkpoints), bytes.
    pub heap_bytes_per_request: Option<f64>,
    /// Array-buffer growth per request, bytes.
    pub array_buffer_bytes_per_request: Option<f64>,
    /// Why there is no verdict, when there is none.
    pub error: Option<String>,
    /// Whose failure that is: `app`, `environment`, `leakgate` or `spec` (`null` with a verdict).
    pub error_kind: Option<crate::runner::ErrorKind>,
    /// The app's last lines of output when the run failed after it started, once (the `error`
    /// message leaves them out); `null` otherwise.
    pub app_log_tail: Option<Vec<String>>,
    /// Suspect classes, worst first.
    pub suspects: Vec<SuspectJson>,
    /// Why the verdict is what it is.
    pub reasons: Vec<String>,
    /// Measured requests (warm-up excluded).
    pub requests: u64,
    /// Failed measured requests.
    pub failed_requests: u64,
    /// Memory at each snapshot.
    pub checkpoints: Vec<CheckpointMemory>,
    /// Where the time went.
    pub timings: Option<Timings>,
    /// The request kinds that leak on their own, as `METHOD path-template` (only for specs
    /// with several kinds, once a leak was found).
    pub leaking_requests: Option<Vec<String>>,
    /// Why an explanation (allocation sites) could not be had, when it could not.
    pub explain_error: Option<String>,
    /// Each request kind judged alone: `{"request", "verdict", "heap_bytes_per_request",
    /// "array_buffer_bytes_per_request", "top_suspect", "error", "method", "requests"}`, where
    /// `method` is `same_process` (served alone in the measured process) or `run_alone` (booted
    /// and measured alone, `explain: runs`).
    pub request_kinds: Vec<crate::explain::requests::RequestKindResult>,
    /// How many times the app was booted for this spec (`null` without a run): 1, plus one per
    /// extra run of the explanation (`explain: runs`).
    pub app_starts: Option<u32>,
    /// The sampling heap profiler of the measured phase (`null` when it did not run):
    /// `{"interval", "allocated_bytes_per_request"}`, the interval in bytes and the bytes the
    /// app allocated per request in the second half of the warm-up, which it was chosen from.
    pub sampling: Option<crate::runner::SamplingChoice>,
    /// Where the leak as a whole was allocated, from the main run's sampled allocations
    /// (`null` when not sampled): the sampling interval, the bytes per request the surviving
    /// samples stand for, the share of the leak's bytes the listed sites account for, and the
    /// sites.
    pub leak_sites: Option<crate::analysis::sampled::SampledSites>,
    /// Heap snapshots kept for inspection in Chrome DevTools.
    pub snapshots: Vec<String>,
    /// The `assert.allow` entries that matched suspects, with what they matched and whether
    /// their budgets were kept.
    pub allowed: Vec<crate::analysis::allow::AllowedLeak>,
    /// Whether the JS heap's growth counted against its limit (after the allowed leaks).
    pub heap_growth_exceeds: Option<bool>,
    /// Whether array buffers' growth counted against its limit (after the allowed leaks).
    pub array_buffer_growth_exceeds: Option<bool>,
    /// What this run would have caught: `{"requests_per_object", "objects_per_1k_requests",
    /// "heap_bytes_per_request", "array_buffer_bytes_per_request"}` (`null` without a run).
    pub detection_floor: Option<crate::analysis::DetectionFloor>,
    /// The run's own noise the byte growth was judged against, bytes (`null` where a spec
    /// limit replaced it or there were too few checkpoints).
    pub noise_floor: Option<NoiseJson>,
    /// Slope of the whole JS heap, V8's own classes included, bytes per request.
    pub total_heap_bytes_per_request: Option<f64>,
    /// The JS heap at each checkpoint with V8's own classes left out, bytes.
    pub app_heap_bytes: Vec<u64>,
    /// Each time the run went on past its planned checkpoints: `{"from_requests",
    /// "to_requests", "reasons"}`.
    pub extensions: Vec<crate::analysis::extend::Extension>,
    /// Evidence still undecided when the run reached `max_requests`.
    pub borderline: Vec<String>,
    /// Collections that grow in proportion to the requests without new objects: `{"class",
    /// "edge", "holder_class", "bytes_per_request", "elements_per_request",
    /// "bytes_by_snapshot", "elements_by_snapshot", "retainer_path"}`, largest growth first.
    pub collections: Vec<crate::analysis::collections::CollectionSuspect>,
    /// A verdict per isolate, the main thread first, then each worker thread seen: `{"id",
    /// "kind": "main"|"worker", "title", "label", "url", "verdict": "leak"|"clean"|null,
    /// "note", "snapshots", "heap_bytes_per_request", "array_buffer_bytes_per_request",
    /// "suspects", "collections", "reasons", "detection_floor", "script", "allowed",
    /// "heap_growth_exceeds", "array_buffer_growth_exceeds", "heap_bytes_by_interval",
    /// "array_buffer_bytes_by_interval"}` (`verdict` is `null`, with a `note`, for a worker not
    /// snapshotted at every checkpoint; each suspect has `retainers`, `fingerprint` and `allow`
    /// besides its figures).
    pub isolates: Vec<crate::analysis::isolates::IsolateResult>,
}

/// The noise of one run.
#[derive(Debug, Serialize)]
pub struct NoiseJson {
    /// The JS heap's noise, bytes.
    pub heap_bytes: Option<f64>,
    /// The array buffers' noise, bytes.
    pub array_buffer_bytes: Option<f64>,
}

/// The JSON report of `leakgate run`.
#[derive(Debug, Serialize)]
pub struct RunJson {
    /// One entry per spec, in run order.
    pub specs: Vec<SpecJson>,
}

impl SpecJson {
    /// The JSON form of one run.
    pub fn from_run(run: &SpecRun) -> SpecJson {
        let mut out = SpecJson {
            name: run.name.clone(),
            file: run.file.display().to_string(),
            verdict: "error",
            expect: run.expect.as_str(),
            passed: run.passed(),
            heap_bytes_per_request: None,
            array_buffer_bytes_per_request: None,
            error: None,
            error_kind: None,
            app_log_tail: None,
            suspects: Vec::new(),
            reasons: Vec::new(),
            requests: 0,
            failed_requests: 0,
            checkpoints: Vec::new(),
            timings: None,
            leaking_requests: None,
            explain_error: None,
            request_kinds: Vec::new(),
            app_starts: None,
            sampling: None,
            leak_sites: None,
            snapshots: Vec::new(),
            allowed: Vec::new(),
            heap_growth_exceeds: None,
            array_buffer_growth_exceeds: None,
            detection_floor: None,
            noise_floor: None,
            total_heap_bytes_per_request: None,
            app_heap_bytes: Vec::new(),
            extensions: Vec::new(),
            borderline: Vec::new(),
            collections: Vec::new(),
            isolates: Vec::new(),
        };
        match &run.outcome {
            Err(e) => {
                out.error = Some(e.to_string());
                out.error_kind = Some(e.kind());
                out.app_log_tail.clone_from(&run.app_log_tail);
            }
            Ok(m) => {
                out.verdict = m.analysis.verdict.as_str();
                out.heap_bytes_per_request = Some(round2(m.analysis.heap.per_request));
                out.array_buffer_bytes_per_request =
                    Some(round2(m.analysis.array_buffers.per_request));
                out.suspects = m
                    .analysis
                    .suspects
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let mut json = suspect_json(s);
                        json.fingerprint = m.fingerprints.get(i).cloned();
                        json.allow = m
                            .allow
                            .as_ref()
                            .and_then(|a| a.suspects.get(i).copied().flatten());
                        if let Some(r) = m.explanation.retainers.iter().find(|r| r.class == s.class)
                        {
                            json.retainers = r.clusters.clone();
                        }
                        if let Some(a) = m
                            .explanation
                            .allocation_sites
                            .iter()
                            .find(|a| a.class == s.class)
                        {
                            json.allocation_sites = a.sites.clone();
                            json.allocation_survivors = Some(a.survivors);
                            json.allocation_method = Some(a.method);
                            json.allocation_share_of_bytes = a.share_of_bytes;
                            json.allocation_samples = a.samples;
                            if a.method == crate::explain::allocations::SiteMethod::Tracking {
                                json.allocation_traced = Some(a.traced);
                            }
                        }
                        json
                    })
                    .collect();
                out.reasons = m.analysis.reasons.clone();
                out.allowed = m
                    .allow
                    .as_ref()
                    .map(|a| a.leaks.clone())
                    .unwrap_or_default();
                out.heap_growth_exceeds = Some(m.analysis.heap.exceeds);
                out.array_buffer_growth_exceeds = Some(m.analysis.array_buffers.exceeds);
                let a = &m.analysis;
                let noise = |g: &crate::analysis::verdict::Growth| match (g.limit, &g.windows) {
                    (None, Some(w)) => Some(round2(w.noise_bytes)),
                    _ => None,
                };
                let finite = |v: f64| if v.is_finite() { round2(v) } else { 0.0 };
                out.detection_floor = Some(crate::analysis::DetectionFloor {
                    requests_per_object: finite(a.detection_floor.requests_per_object),
                    objects_per_1k_requests: finite(a.detection_floor.objects_per_1k_requests),
                    heap_bytes_per_request: finite(a.detection_floor.heap_bytes_per_request),
                    array_buffer_bytes_per_request: finite(
                        a.detection_floor.array_buffer_bytes_per_request,
                    ),
                });
                out.noise_floor = Some(NoiseJson {
                    heap_bytes: noise(&a.heap),
                    array_buffer_bytes: noise(&a.array_buffers),
                });
                out.total_heap_bytes_per_request = Some(round2(a.total_heap_bytes_per_request));
                out.app_heap_bytes = a.app_heap_bytes.clone();
                out.extensions = a.extensions.clone();
                out.borderline = a.borderline.clone();
                out.collections = a.collections.clone();
                out.isolates = m.isolates.clone();
                out.requests = m.session.load.requests;
                out.failed_requests = m.session.load.failures();
                out.checkpoints = m.series.memory.clone();
                out.timings = Some(m.timings);
                out.leaking_requests = m.explanation.leaking_requests.clone();
                out.request_kinds = m.explanation.request_kinds.clone();
                out.app_starts = Some(m.app_starts);
                out.sampling = m.session.sampling;
                out.leak_sites = m.explanation.leak_sites.clone();
                out.explain_error = m.explanation.error.clone();
                out.snapshots = m
                    .kept_snapshots
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
            }
        }
        out
    }
}

fn suspect_json(s: &Suspect) -> SuspectJson {
    SuspectJson {
        class: s.class.clone(),
        per_1k_requests: round2(s.per_1k_requests),
        bytes_per_request: round2(s.bytes_per_request),
        survivors_by_interval: s.survivors_by_interval.clone(),
        count_growth_by_interval: s.count_growth_by_interval.clone(),
        retainers: Vec::new(),
        allocation_sites: Vec::new(),
        allocation_traced: None,
        allocation_survivors: None,
        fingerprint: None,
        allow: None,
        allocation_method: None,
        allocation_share_of_bytes: None,
        allocation_samples: None,
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
