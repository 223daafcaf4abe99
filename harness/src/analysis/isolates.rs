//! One verdict per isolate: the main thread's and each worker thread's.
//!
//! A `worker_threads` Worker is an isolate with a heap of its own, which the main thread's
//! snapshots do not contain; a leak there (a worker that keeps every message it is posted) is
//! invisible to them. The live run snapshots each worker at the same checkpoints as the main
//! thread (see [`crate::runner::session`]), and each worker's snapshots are a series of their
//! own, judged by the same rules ([`Series::judge`]) against the same requests: the requests
//! are the app's, whichever thread does the work.
//!
//! A worker is judged only when it was snapshotted at every checkpoint of the run: one that
//! started after the warm-up, exited or could not write a snapshot has no series that proves
//! anything, and the report says so instead of guessing. The spec's verdict is a leak when any
//! judged isolate leaks ([`fold_into`]).
//!
//! A worker that has suspects keeps its series ([`JudgedWorker::series`]) until the run is
//! decided, so that its suspects are explained from its own last snapshot (retainer paths and
//! fingerprints, see [`crate::explain::workers`]) as the main thread's are from the main
//! one; its `assert.allow` judgement then comes last, as the main thread's does. A worker is
//! named across runs by its script relative to the app's folder ([`IsolateResult::script`]),
//! not by its thread id, which depends on the order workers start in.

use std::ops::Deref;

use serde::Serialize;

use super::allow::{Allowance, AllowedLeak};
use super::collections::CollectionSuspect;
use super::fingerprint::Fingerprint;
use super::retainers::{Holder, RetainerCluster};
use super::series::{Series, SeriesError, SnapshotFile};
use super::verdict::{Analysis, DetectionFloor, Suspect, Verdict};
use crate::spec::Thresholds;

/// Which kind of thread an isolate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IsolateKind {
    /// The app's main thread.
    Main,
    /// A `worker_threads` Worker.
    Worker,
}

/// A worker thread's snapshots, aligned with the main thread's checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSeriesFiles {
    /// Node's thread id of the worker.
    pub id: String,
    /// The worker's title (`[worker N] NAME`).
    pub title: String,
    /// The worker's script, as Node gives it (a `file://` URL for a file).
    pub url: String,
    /// The snapshot at each checkpoint, `None` where the worker was not there or could not
    /// write one.
    pub snapshots: Vec<Option<SnapshotFile>>,
    /// Why a checkpoint has no snapshot, when one does not (the first reason met).
    pub missing: Option<String>,
}

/// One suspect class of an isolate, with what explains it: the same fields as the main
/// thread's suspects, and the retainer paths, fingerprint and allowance of the explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IsolateSuspect {
    /// The suspect as the verdict found it.
    #[serde(flatten)]
    pub suspect: Suspect,
    /// How its survivors are held in this isolate's last snapshot, most objects first.
    pub retainers: Vec<RetainerCluster>,
    /// What identifies it across runs: its holder, class and allocation site (`site` is
    /// `null` for a worker: allocation sites are sampled in the main isolate only).
    pub fingerprint: Option<Fingerprint>,
    /// `allowed` or `over_budget` when an `assert.allow` entry matches it, else `null`.
    pub allow: Option<Allowance>,
}

impl Deref for IsolateSuspect {
    type Target = Suspect;
    fn deref(&self) -> &Suspect {
        &self.suspect
    }
}

impl From<Suspect> for IsolateSuspect {
    fn from(suspect: Suspect) -> IsolateSuspect {
        IsolateSuspect {
            suspect,
            retainers: Vec::new(),
            fingerprint: None,
            allow: None,
        }
    }
}

/// What one isolate's series concluded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IsolateResult {
    /// `main`, or the worker's thread id.
    pub id: String,
    /// `main` or `worker`.
    pub kind: IsolateKind,
    /// `main thread`, or the worker's title.
    pub title: String,
    /// How reports name the thread: `main thread`, or `worker N (SCRIPT)` with the script
    /// relative to the app's folder.
    pub label: String,
    /// The worker's script (`null` for the main thread).
    pub url: Option<String>,
    /// The worker's script relative to the app's folder (`./worker.js`; as Node gives it when
    /// outside): what names the worker from one run to the next (`null` for the main thread).
    pub script: Option<String>,
    /// `leak` or `clean`; `null` when the isolate could not be judged (see `note`).
    pub verdict: Option<Verdict>,
    /// Why it was not judged, when it was not.
    pub note: Option<String>,
    /// Snapshots of this isolate in the run.
    pub snapshots: usize,
    /// JS heap growth per request, V8's own classes left out, bytes.
    pub heap_bytes_per_request: Option<f64>,
    /// Array-buffer growth per request, bytes.
    pub array_buffer_bytes_per_request: Option<f64>,
    /// Whether the JS heap's growth counted against its limit (after the allowed leaks).
    pub heap_growth_exceeds: Option<bool>,
    /// Whether array buffers' growth counted against its limit (after the allowed leaks).
    pub array_buffer_growth_exceeds: Option<bool>,
    /// The JS heap's growth per request in each interval, bytes (V8's own classes left out).
    pub heap_bytes_by_interval: Vec<f64>,
    /// Array buffers' growth per request in each interval, bytes.
    pub array_buffer_bytes_by_interval: Vec<f64>,
    /// Suspect classes of this isolate, worst first.
    pub suspects: Vec<IsolateSuspect>,
    /// Its growing collections.
    pub collections: Vec<CollectionSuspect>,
    /// Why its verdict is what it is.
    pub reasons: Vec<String>,
    /// The smallest leaks its series would have caught.
    pub detection_floor: Option<DetectionFloor>,
    /// The `assert.allow` entries that matched its suspects, with their budgets.
    pub allowed: Vec<AllowedLeak>,
    /// Objects per holder of each explained suspect class (class, holders most first): what
    /// the stable report names as the holders.
    #[serde(skip)]
    pub holders: Vec<(String, Vec<(Holder, u64)>)>,
    /// Its undecided evidence.
    #[serde(skip)]
    pub borderline: Vec<String>,
}

/// A worker's result, with the series and analysis its explanation and `assert.allow` need
/// once the run is decided (kept only for a worker with suspects).
#[derive(Debug, Clone)]
pub struct JudgedWorker {
    /// What its series concluded.
    pub result: IsolateResult,
    /// Its verdict and what it rests on (`None` when not judged).
    pub analysis: Option<Analysis>,
    /// Its series, when it has suspects to explain.
    pub series: Option<Series>,
}

impl IsolateResult {
    /// The main thread's entry, from the run's analysis.
    pub fn main(analysis: &Analysis, snapshots: usize) -> IsolateResult {
        let mut out = IsolateResult {
            id: "main".to_string(),
            kind: IsolateKind::Main,
            title: "main thread".to_string(),
            label: "main thread".to_string(),
            url: None,
            script: None,
            verdict: None,
            note: None,
            snapshots,
            heap_bytes_per_request: None,
            array_buffer_bytes_per_request: None,
            heap_growth_exceeds: None,
            array_buffer_growth_exceeds: None,
            heap_bytes_by_interval: Vec::new(),
            array_buffer_bytes_by_interval: Vec::new(),
            suspects: Vec::new(),
            collections: Vec::new(),
            reasons: Vec::new(),
            detection_floor: None,
            allowed: Vec::new(),
            holders: Vec::new(),
            borderline: Vec::new(),
        };
        out.take(analysis);
        out
    }

    /// Takes the verdict and what it rests on from `a` (the suspects without explanation).
    pub fn take(&mut self, a: &Analysis) {
        self.verdict = Some(a.verdict);
        self.heap_bytes_per_request = Some(a.heap.per_request);
        self.array_buffer_bytes_per_request = Some(a.array_buffers.per_request);
        self.heap_growth_exceeds = Some(a.heap.exceeds);
        self.array_buffer_growth_exceeds = Some(a.array_buffers.exceeds);
        self.heap_bytes_by_interval = a.heap.by_interval.clone();
        self.array_buffer_bytes_by_interval = a.array_buffers.by_interval.clone();
        self.suspects = a
            .suspects
            .iter()
            .cloned()
            .map(IsolateSuspect::from)
            .collect();
        self.collections = a.collections.clone();
        self.reasons = a.reasons.clone();
        self.detection_floor = Some(a.detection_floor);
        self.borderline = a.borderline.clone();
    }
}

/// How a report names a worker's script: relative to `app_dir` when it lies inside
/// (`./lib/worker.js`), else as Node gives it (the title when Node gives none).
fn worker_script(title: &str, url: &str, app_dir: &std::path::Path) -> String {
    let path = url.strip_prefix("file://").unwrap_or(url);
    match std::path::Path::new(path).strip_prefix(app_dir) {
        Ok(rel) => format!("./{}", rel.display()),
        Err(_) if path.is_empty() => title.to_string(),
        Err(_) => path.to_string(),
    }
}

/// How a report names a worker: `worker N (SCRIPT)` (see [`worker_script`]).
fn worker_label(id: &str, title: &str, url: &str, app_dir: &std::path::Path) -> String {
    format!("worker {id} ({})", worker_script(title, url, app_dir))
}

/// Reads and judges each worker's series (`checkpoints` snapshots in the run) against
/// `thresholds`; a worker without a snapshot at every checkpoint gets no verdict. Workers are
/// named with their script relative to `app_dir`. The series of a worker with suspects is
/// kept for its explanation.
pub fn judge_workers(
    workers: &[WorkerSeriesFiles],
    checkpoints: usize,
    thresholds: &Thresholds,
    app_dir: &std::path::Path,
) -> Result<Vec<JudgedWorker>, SeriesError> {
    let mut out = Vec::with_capacity(workers.len());
    for w in workers {
        let files: Vec<SnapshotFile> = w.snapshots.iter().flatten().cloned().collect();
        let result = IsolateResult {
            id: w.id.clone(),
            kind: IsolateKind::Worker,
            title: w.title.clone(),
            label: worker_label(&w.id, &w.title, &w.url, app_dir),
            url: Some(w.url.clone()),
            script: Some(worker_script(&w.title, &w.url, app_dir)),
            verdict: None,
            note: None,
            snapshots: files.len(),
            heap_bytes_per_request: None,
            array_buffer_bytes_per_request: None,
            heap_growth_exceeds: None,
            array_buffer_growth_exceeds: None,
            heap_bytes_by_interval: Vec::new(),
            array_buffer_bytes_by_interval: Vec::new(),
            suspects: Vec::new(),
            collections: Vec::new(),
            reasons: Vec::new(),
            detection_floor: None,
            allowed: Vec::new(),
            holders: Vec::new(),
            borderline: Vec::new(),
        };
        let mut judged = JudgedWorker {
            result,
            analysis: None,
            series: None,
        };
        let result = &mut judged.result;
        if files.len() < checkpoints || checkpoints < 3 {
            result.note = Some(match &w.missing {
                Some(why) => format!(
                    "not judged: snapshotted at {} of {checkpoints} checkpoints ({why})",
                    files.len()
                ),
                None => format!(
                    "not judged: snapshotted at {} of {checkpoints} checkpoints (it started \
                     after the warm-up or exited)",
                    files.len()
                ),
            });
        } else {
            let series = Series::read(&files)?;
            let analysis = series.judge(thresholds);
            result.take(&analysis);
            if !analysis.suspects.is_empty() || !analysis.collections.is_empty() {
                judged.series = Some(series);
            }
            judged.analysis = Some(analysis);
        }
        out.push(judged);
    }
    Ok(out)
}

impl JudgedWorker {
    /// The last step of judging a worker, as for the main thread: the `assert.allow` entries
    /// that apply to it (see [`super::allow::AllowEntry::applies_to`]) judged against its
    /// suspects' fingerprints, each suspect marked, the verdict and reasons replaced.
    pub fn judge_allowed(&mut self, thresholds: &Thresholds) {
        let Some(analysis) = self.analysis.as_mut() else {
            return;
        };
        let result = &mut self.result;
        let prints: Vec<Fingerprint> = result
            .suspects
            .iter()
            .map(|s| {
                s.fingerprint.clone().unwrap_or_else(|| Fingerprint {
                    holder: None,
                    class: s.class.clone(),
                    site: None,
                })
            })
            .collect();
        let script = result.script.as_deref();
        let Some(j) = super::allow::judge_allowed_in(analysis, &prints, thresholds, script) else {
            return;
        };
        j.apply_to(analysis);
        result.verdict = Some(analysis.verdict);
        result.heap_growth_exceeds = Some(analysis.heap.exceeds);
        result.array_buffer_growth_exceeds = Some(analysis.array_buffers.exceeds);
        result.reasons = analysis.reasons.clone();
        for (s, allow) in result.suspects.iter_mut().zip(&j.suspects) {
            s.allow = *allow;
        }
        result.allowed = j.leaks;
    }
}

/// Makes the run's verdict a leak when a worker leaks, with a reason naming the thread
/// (`worker 1 (./worker.js): ...`). The main thread's suspects stay the analysis's own.
pub fn fold_into(analysis: &mut Analysis, workers: &[IsolateResult]) {
    for w in workers.iter().filter(|w| w.verdict == Some(Verdict::Leak)) {
        analysis.verdict = Verdict::Leak;
        let label = &w.label;
        let why = w
            .reasons
            .first()
            .cloned()
            .unwrap_or_else(|| "memory grows with the requests".to_string());
        analysis.reasons.push(format!("{label} leaks: {why}"));
    }
    if analysis.verdict == Verdict::Leak {
        analysis.borderline.clear();
    }
}

/// After the main thread's evidence is decided clean: whether a worker's borderline evidence
/// asks the run to go on (as [`super::extend::next_step`] does for the main thread), unless a
/// worker already leaks.
pub fn next_step(
    main: &Analysis,
    workers: &[JudgedWorker],
    measured: u64,
    max_requests: u64,
) -> super::extend::Step {
    use super::extend::Step;
    let leaks = main.verdict == Verdict::Leak
        || workers
            .iter()
            .any(|w| w.result.verdict == Some(Verdict::Leak));
    let reasons: Vec<String> = workers
        .iter()
        .map(|w| &w.result)
        .flat_map(|w| {
            w.borderline
                .iter()
                .map(move |b| format!("{}: {b}", w.label))
        })
        .collect();
    let to = measured.saturating_mul(2).min(max_requests);
    if leaks || reasons.is_empty() || measured == 0 || to <= measured {
        return Step::Decided;
    }
    Step::Extend { to, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_worker_is_named_by_its_id_and_script() {
        let app = std::path::Path::new("/srv/app");
        let label = |id, url| worker_label(id, &format!("[worker {id}] stats"), url, app);
        assert_eq!(
            label("1", "file:///srv/app/lib/worker.js"),
            "worker 1 (./lib/worker.js)"
        );
        assert_eq!(
            label("2", "file:///elsewhere/w.mjs"),
            "worker 2 (/elsewhere/w.mjs)"
        );
        assert_eq!(label("3", ""), "worker 3 ([worker 3] stats)");
    }

    #[test]
    fn a_worker_without_every_checkpoint_is_not_judged() {
        let files = WorkerSeriesFiles {
            id: "1".to_string(),
            title: "[worker 1]".to_string(),
            url: "file:///a/w.js".to_string(),
            snapshots: vec![None, None, None, None],
            missing: None,
        };
        let judged = judge_workers(&[files], 4, &Thresholds::default(), Path::new("/a")).unwrap();
        let result = &judged[0].result;
        assert_eq!(result.verdict, None);
        assert!(result.note.as_deref().unwrap().contains("0 of 4"));
        assert_eq!(result.script.as_deref(), Some("./w.js"));
        assert!(judged[0].series.is_none() && judged[0].analysis.is_none());
    }
}
