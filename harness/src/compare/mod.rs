//! `leakgate compare BASE HEAD`: the same specs run on two revisions, leak by leak.
//!
//! A reviewer asks "does this change add a leak, or make one worse?". Both runs' JSON reports
//! (`leakgate run --json`, or the per-spec files of `--report-dir`) list each spec's suspects
//! with their fingerprints (see [`crate::analysis::fingerprint`]). A *leak* is the suspects of
//! one holder (or, when no variable holds them, one class), its rate the sum of their
//! surviving objects per 1000 requests. Leaks are matched by spec name and holder, never by
//! allocation site (lines move with every edit), and each is:
//!
//! - **new**: in HEAD only, at a rate of at least [`ROBUST_FACTOR`] times the detection floor
//!   (a class just over the threshold comes and goes from run to run);
//! - **grown**: in both, HEAD's rate over BASE's beyond the noise tolerance (below);
//! - **fixed**: in BASE only;
//! - **unchanged**: in both, within the tolerance (or smaller: **shrunk**).
//!
//! A leak that lives in a worker thread is one more leak of its spec, matched by its
//! fingerprint and the worker's script (relative to the app's folder: the thread id depends
//! on the order workers start in); the suspects of every worker running one script are one
//! leak, their rates summed, as the requests may be shared among them differently from run
//! to run. Workers without a verdict (not snapshotted at every checkpoint) are left out. A
//! worker's growth no class explains is compared in bytes, as the main thread's is (below).
//!
//! Leaks that retain no objects (a growing backing store, off-heap Buffers) show as the JS
//! heap's or array buffers' growth over their limit when no class explains it, in bytes per
//! request.
//!
//! # The noise tolerance
//! A leak's rate is measured per verified interval. Its relative uncertainty combines the
//! spread of those rates (their standard deviation over the mean, divided by √n) with the
//! counting noise of the survivors (1/√N). Grown means the ratio HEAD/BASE exceeds
//! `exp(3σ)` of the two runs' combined relative uncertainty σ, and at least
//! [`MIN_GROWN_RATIO`]; and the difference is at least the detection floor (the run's
//! `detection_floor` when the report has one, else the default suspect threshold).

pub mod input;
pub mod render;

use serde::Serialize;

pub use input::{load_reports, CompareError, SpecReport};

/// A leak grows only by more than this factor, however steady both runs are.
pub const MIN_GROWN_RATIO: f64 = 1.5;
/// Standard deviations of the combined relative uncertainty a ratio must exceed.
pub const SIGMAS: f64 = 3.0;
/// A leak found only in HEAD is new when its rate is at least this many detection floors.
pub const ROBUST_FACTOR: f64 = 2.0;

/// What became of one leak between BASE and HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Only in HEAD.
    New,
    /// In both, worse beyond the noise tolerance.
    Grown,
    /// In both, within the noise tolerance.
    Unchanged,
    /// In both, smaller beyond the noise tolerance.
    Shrunk,
    /// Only in BASE.
    Fixed,
    /// Only in HEAD but too close to the detection floor to count.
    Marginal,
}

impl Change {
    /// Words for reports.
    pub fn words(self) -> &'static str {
        match self {
            Change::New => "new leak",
            Change::Grown => "leak grown",
            Change::Unchanged => "unchanged",
            Change::Shrunk => "leak shrunk",
            Change::Fixed => "leak fixed",
            Change::Marginal => "marginal, not counted",
        }
    }

    /// Whether this change fails the comparison.
    pub fn fails(self) -> bool {
        matches!(self, Change::New | Change::Grown)
    }
}

/// One leak of one run: the suspects with one holder (or one class).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leak {
    /// The holder's name, `class NAME` when no variable holds it, `(js heap)` or
    /// `(array buffers)` for growth no class explains.
    pub leak: String,
    /// The worker's script when the leak lives in a worker thread; `None`: the main thread.
    pub thread: Option<String>,
    /// The suspect classes.
    pub classes: Vec<String>,
    /// Surviving objects per 1000 requests (bytes per request for the byte growths).
    pub rate: f64,
    /// `objects per 1000 requests` or `bytes per request`.
    pub unit: &'static str,
    /// Bytes per request of the suspects.
    pub bytes_per_request: f64,
    /// Relative uncertainty of `rate`.
    pub relative_error: f64,
    /// Whether an `assert.allow` entry allows it in this run.
    pub allowed: bool,
}

/// One leak compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeakComparison {
    /// The leak's name (see [`Leak::leak`]).
    pub leak: String,
    /// The worker's script when it lives in a worker thread; `null`: the main thread.
    pub thread: Option<String>,
    /// What became of it.
    pub change: Change,
    /// Its classes in HEAD (in BASE when fixed).
    pub classes: Vec<String>,
    /// The rate in BASE.
    pub base: Option<f64>,
    /// The rate in HEAD.
    pub head: Option<f64>,
    /// The rate's unit.
    pub unit: &'static str,
    /// HEAD's rate over BASE's.
    pub ratio: Option<f64>,
    /// The ratio beyond which it counts as grown.
    pub tolerance: Option<f64>,
    /// Allowed by `assert.allow` in HEAD.
    pub allowed: bool,
}

/// One spec compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecComparison {
    /// The spec's name.
    pub name: String,
    /// The spec file, as HEAD's report names it.
    pub file: String,
    /// `regressed` (a new or grown leak), `improved` (a leak fixed or shrunk, none new or
    /// grown), `unchanged`, `new spec`, `removed spec`, or `error` (a run had no verdict).
    pub status: &'static str,
    /// Why a spec could not be compared.
    pub error: Option<String>,
    /// Its leaks, worst change first.
    pub leaks: Vec<LeakComparison>,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Per spec, in HEAD's order, then the specs only BASE has.
    pub specs: Vec<SpecComparison>,
    /// New leaks, over all specs.
    pub new: usize,
    /// Grown leaks.
    pub grown: usize,
    /// Fixed leaks.
    pub fixed: usize,
    /// Specs that could not be compared.
    pub errors: usize,
}

impl Comparison {
    /// The exit code: 2 when a spec could not be compared, else 1 on a new or grown leak,
    /// else 0.
    pub fn exit_code(&self) -> u8 {
        if self.errors > 0 {
            2
        } else if self.new + self.grown > 0 {
            1
        } else {
            0
        }
    }
}

impl Leak {
    /// Whether `other` is the same leak in another run: the same holder (or class) in the
    /// same thread.
    pub fn same_leak(&self, other: &Leak) -> bool {
        self.leak == other.leak && self.thread == other.thread
    }
}

/// The leaks of one spec's report: the main thread's suspects, then each judged worker's.
pub fn leaks_of(report: &SpecReport) -> Vec<Leak> {
    let requests: Vec<f64> = report
        .checkpoints
        .windows(2)
        .map(|w| (w[1].requests.saturating_sub(w[0].requests)).max(1) as f64)
        .collect();
    let mut out: Vec<(Leak, Vec<f64>, u64)> = Vec::new();
    let workers = report
        .isolates
        .iter()
        .filter(|i| i.kind == "worker" && i.verdict.is_some())
        .flat_map(|i| {
            let thread = i.thread();
            i.suspects.iter().map(move |s| (thread.clone(), s))
        });
    let threads = report.suspects.iter().map(|s| (None, s)).chain(workers);
    for (thread, s) in threads {
        let key = s
            .fingerprint
            .as_ref()
            .map_or_else(|| format!("class {}", s.class), |f| f.leak());
        // Survivors per verified interval (all but the last).
        let verified = s.survivors_by_interval.len().saturating_sub(1);
        let by_interval: Vec<f64> = (0..verified.min(requests.len()))
            .map(|k| s.survivors_by_interval[k] as f64 / requests[k] * 1000.0)
            .collect();
        let survivors: u64 = s.survivors_by_interval.iter().take(verified).sum();
        let allowed = s.allow.as_deref() == Some("allowed");
        match out
            .iter_mut()
            .find(|(l, _, _)| l.leak == key && l.thread == thread)
        {
            Some((l, rates, n)) => {
                if !l.classes.contains(&s.class) {
                    l.classes.push(s.class.clone());
                }
                l.rate += s.per_1k_requests;
                l.bytes_per_request += s.bytes_per_request;
                l.allowed &= allowed;
                for (r, add) in rates.iter_mut().zip(&by_interval) {
                    *r += add;
                }
                *n += survivors;
            }
            None => out.push((
                Leak {
                    leak: key,
                    thread,
                    classes: vec![s.class.clone()],
                    rate: s.per_1k_requests,
                    unit: "objects per 1000 requests",
                    bytes_per_request: s.bytes_per_request,
                    relative_error: 0.0,
                    allowed,
                },
                by_interval,
                survivors,
            )),
        }
    }
    let mut leaks: Vec<Leak> = out
        .into_iter()
        .map(|(mut l, rates, n)| {
            l.relative_error = relative_error(&rates, Some(n));
            l
        })
        .collect();
    if report.suspects.is_empty() {
        let bytes = |field: fn(&input::CheckpointReport) -> f64| -> Vec<f64> {
            report
                .checkpoints
                .windows(2)
                .zip(&requests)
                .skip(1)
                .map(|(w, r)| (field(&w[1]) - field(&w[0])) / r)
                .collect()
        };
        let growths = [
            (
                "(js heap)",
                report.heap_growth_exceeds,
                report.heap_bytes_per_request,
                bytes(|c| c.heap_bytes),
            ),
            (
                "(array buffers)",
                report.array_buffer_growth_exceeds,
                report.array_buffer_bytes_per_request,
                bytes(|c| c.array_buffer_bytes),
            ),
        ];
        for (name, exceeds, per_request, by_interval) in growths {
            if exceeds == Some(true) {
                let rate = per_request.unwrap_or(0.0);
                leaks.push(Leak {
                    leak: name.to_string(),
                    thread: None,
                    classes: Vec::new(),
                    rate,
                    unit: "bytes per request",
                    bytes_per_request: rate,
                    relative_error: relative_error(&by_interval, None),
                    allowed: false,
                });
            }
        }
    }
    // A worker's growth no class explains, likewise (its intervals the post-warm-up one left
    // out, as for the main thread).
    for i in report.isolates.iter().filter(|i| {
        i.kind == "worker" && i.verdict.as_deref() == Some("leak") && i.suspects.is_empty()
    }) {
        let growths = [
            (
                "(js heap)",
                i.heap_growth_exceeds,
                i.heap_bytes_per_request,
                &i.heap_bytes_by_interval,
            ),
            (
                "(array buffers)",
                i.array_buffer_growth_exceeds,
                i.array_buffer_bytes_per_request,
                &i.array_buffer_bytes_by_interval,
            ),
        ];
        for (name, exceeds, per_request, by_interval) in growths {
            if exceeds == Some(true) {
                let rate = per_request.unwrap_or(0.0);
                let later: Vec<f64> = by_interval.iter().skip(1).copied().collect();
                leaks.push(Leak {
                    leak: name.to_string(),
                    thread: i.thread(),
                    classes: Vec::new(),
                    rate,
                    unit: "bytes per request",
                    bytes_per_request: rate,
                    relative_error: relative_error(&later, None),
                    allowed: false,
                });
            }
        }
    }
    leaks
}

/// The relative standard error of the mean of `rates`, with the counting noise of `count`
/// survivors when given.
fn relative_error(rates: &[f64], count: Option<u64>) -> f64 {
    let n = rates.len() as f64;
    let spread = if rates.len() >= 2 {
        let mean = rates.iter().sum::<f64>() / n;
        let var = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
        if mean.abs() > 0.0 {
            var.sqrt() / mean.abs() / n.sqrt()
        } else {
            0.0
        }
    } else {
        0.0
    };
    let counting = count.map_or(0.0, |c| 1.0 / (c.max(1) as f64).sqrt());
    (spread.powi(2) + counting.powi(2)).sqrt()
}

/// The ratio beyond which HEAD's rate counts as grown over BASE's.
pub fn tolerance(base: &Leak, head: &Leak) -> f64 {
    let sigma = (base.relative_error.powi(2) + head.relative_error.powi(2)).sqrt();
    (SIGMAS * sigma).exp().max(MIN_GROWN_RATIO)
}

/// Compares one spec's two reports.
pub fn compare_spec(base: Option<&SpecReport>, head: Option<&SpecReport>) -> SpecComparison {
    let mut out = SpecComparison {
        name: head.or(base).map(|r| r.name.clone()).unwrap_or_default(),
        file: head.or(base).map(|r| r.file.clone()).unwrap_or_default(),
        status: "unchanged",
        error: None,
        leaks: Vec::new(),
    };
    for (side, report) in [("BASE", base), ("HEAD", head)] {
        if let Some(e) = report.and_then(|r| r.error.as_ref()) {
            out.status = "error";
            out.error = Some(format!("the {side} run has no verdict: {e}"));
            return out;
        }
    }
    let base_leaks = base.map(leaks_of).unwrap_or_default();
    let head_leaks = head.map(leaks_of).unwrap_or_default();
    let floor = head
        .or(base)
        .and_then(|r| r.detection_floor)
        .unwrap_or(crate::spec::DEFAULT_MAX_SURVIVORS_PER_1K_REQUESTS);
    for h in &head_leaks {
        let b = base_leaks.iter().find(|b| b.same_leak(h));
        let (change, ratio, tol) = match b {
            None => {
                let floor = if h.unit == "bytes per request" {
                    0.0
                } else {
                    ROBUST_FACTOR * floor
                };
                let change = if h.rate >= floor {
                    Change::New
                } else {
                    Change::Marginal
                };
                (change, None, None)
            }
            Some(b) => {
                let tol = tolerance(b, h);
                let ratio = if b.rate > 0.0 {
                    h.rate / b.rate
                } else {
                    f64::INFINITY
                };
                let min_difference = if h.unit == "bytes per request" {
                    0.0
                } else {
                    floor
                };
                let change = if ratio > tol && h.rate - b.rate >= min_difference {
                    Change::Grown
                } else if ratio < 1.0 / tol && b.rate - h.rate >= min_difference {
                    Change::Shrunk
                } else {
                    Change::Unchanged
                };
                (change, Some(round3(ratio)), Some(round3(tol)))
            }
        };
        out.leaks.push(LeakComparison {
            leak: h.leak.clone(),
            thread: h.thread.clone(),
            change,
            classes: h.classes.clone(),
            base: b.map(|b| round2(b.rate)),
            head: Some(round2(h.rate)),
            unit: h.unit,
            ratio,
            tolerance: tol,
            allowed: h.allowed,
        });
    }
    for b in base_leaks
        .iter()
        .filter(|b| !head_leaks.iter().any(|h| h.same_leak(b)))
    {
        out.leaks.push(LeakComparison {
            leak: b.leak.clone(),
            thread: b.thread.clone(),
            change: Change::Fixed,
            classes: b.classes.clone(),
            base: Some(round2(b.rate)),
            head: None,
            unit: b.unit,
            ratio: None,
            tolerance: None,
            allowed: false,
        });
    }
    out.leaks
        .sort_by_key(|l| (!l.change.fails(), l.change != Change::Fixed));
    let fails = out.leaks.iter().any(|l| l.change.fails());
    let better = out
        .leaks
        .iter()
        .any(|l| matches!(l.change, Change::Fixed | Change::Shrunk));
    out.status = match (base, head) {
        (None, _) => "new spec",
        (_, None) => "removed spec",
        _ if fails => "regressed",
        _ if better => "improved",
        _ => "unchanged",
    };
    if base.is_none() && fails {
        out.status = "regressed";
    }
    out
}

/// Compares every spec of two runs, matched by name.
pub fn compare(base: &[SpecReport], head: &[SpecReport]) -> Comparison {
    let mut specs: Vec<SpecComparison> = head
        .iter()
        .map(|h| compare_spec(base.iter().find(|b| b.name == h.name), Some(h)))
        .collect();
    specs.extend(
        base.iter()
            .filter(|b| !head.iter().any(|h| h.name == b.name))
            .map(|b| compare_spec(Some(b), None)),
    );
    let count = |c: Change| {
        specs
            .iter()
            .flat_map(|s| &s.leaks)
            .filter(|l| l.change == c)
            .count()
    };
    Comparison {
        new: count(Change::New),
        grown: count(Change::Grown),
        fixed: count(Change::Fixed),
        errors: specs.iter().filter(|s| s.status == "error").count(),
        specs,
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn round3(v: f64) -> f64 {
    if v.is_finite() {
        (v * 1000.0).round() / 1000.0
    } else {
        v
    }
}

#[cfg(test)]
mod tests;
