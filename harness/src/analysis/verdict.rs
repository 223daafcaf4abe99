//! From a snapshot series taken under load to a verdict: growth per request, suspects, leak or
//! clean.
//!
//! Snapshot 0 is taken right after the warm-up; snapshot k at the k-th checkpoint. Interval k
//! (between snapshots k-1 and k) served `r_k` requests. A leak retains objects *in proportion to
//! the requests*, interval after interval, so the tests here are all per interval and all ask
//! for growth in *every* interval, which is what tells a leak from the shapes that look like one
//! in a two-snapshot comparison:
//!
//! - lazy initialisation: a step in one interval, flat afterwards;
//! - a bounded cache: growth that flattens once it is full (and whose early entries get evicted,
//!   so they do not survive to the last snapshot);
//! - per-request garbage: never survives a GC;
//! - V8's warm-up: compiled code, object shapes and feedback, excluded from class suspects.
//!
//! A class is a suspect when, in every *verified* interval (every one but the last: objects first
//! seen at the last snapshot prove nothing), at least `max_survivors_per_1k_requests` of its
//! objects per 1000 requests were first seen in that interval and are still alive at the end,
//! and its live count grew by at least half that rate in every interval including the last.
//! Counting by class is what finds a leak of one small object per 50 requests, far below the
//! noise of the heap's total size. Heap bytes and array-buffer bytes per request catch leaks
//! that add no objects (a growing backing store, off-heap Buffers): they count when the growth
//! per request exceeds the threshold both as a slope and in the last interval.

use std::ops::Range;

use serde::Serialize;

use super::diff::{ClassSeries, Diff};
use super::noise::{
    proportional, split, WindowTest, MIN_SURVIVORS_PER_WINDOW, OBJECTS_PER_FAILED_REQUEST,
};
use crate::spec::Thresholds;

/// V8's own classes, which grow with JIT warm-up and are never a leak by themselves.
pub const ENGINE_CLASSES: [&str; 3] = ["(compiled code)", "(system)", "(object shape)"];

/// What was measured at one snapshot besides the graph.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CheckpointMemory {
    /// Measured requests served when the snapshot was taken (0 for the post-warm-up one).
    pub requests: u64,
    /// Sum of self sizes in the snapshot (the live JS heap after GC).
    pub heap_bytes: u64,
    /// `process.memoryUsage().arrayBuffers` right after the snapshot.
    pub array_buffer_bytes: u64,
    /// `process.memoryUsage().external` right after the snapshot.
    pub external_bytes: u64,
    /// `process.memoryUsage().rss` right after the snapshot.
    pub rss_bytes: u64,
    /// Measured requests that had failed when the snapshot was taken (an unexpected status or
    /// no answer), counted from the first measured request.
    pub failed_requests: u64,
}

/// A class that grows with the requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// DevTools class name.
    pub class: String,
    /// Surviving new objects per 1000 requests (mean over the verified intervals).
    pub per_1k_requests: f64,
    /// Self size of those survivors per request, in bytes.
    pub bytes_per_request: f64,
    /// Survivors first seen in each interval (the last one unverified).
    pub survivors_by_interval: Vec<u64>,
    /// Live count change in each interval.
    pub count_growth_by_interval: Vec<i64>,
}

/// The verdict of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Memory grows with the requests.
    Leak,
    /// It does not.
    Clean,
}

impl Verdict {
    /// `leak` or `clean`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Leak => "leak",
            Verdict::Clean => "clean",
        }
    }
}

/// Growth per request of one memory measure.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Growth {
    /// Least-squares slope over the checkpoints (the post-warm-up snapshot left out, so a
    /// one-time step in the first interval does not count), bytes per request.
    pub per_request: f64,
    /// Growth per request in each interval.
    pub by_interval: Vec<f64>,
    /// Whether it counts as a leak: above the run's noise in both windows and in proportion
    /// to their requests, or above the spec's `assert:` limit when one is set.
    pub exceeds: bool,
    /// The limit from the spec's `assert:`, when one is set (it replaces the noise test).
    pub limit: Option<f64>,
    /// The two-window test against the run's own noise (`None` with fewer than three
    /// checkpoints).
    pub windows: Option<WindowTest>,
    /// Not decided yet: the growth clears the noise over both windows together but not in
    /// each; a longer run decides.
    pub borderline: bool,
}

impl Growth {
    /// The smallest steady growth per request this run would have caught, bytes.
    pub fn floor_per_request(&self) -> f64 {
        match (self.limit, &self.windows) {
            (Some(limit), _) => limit,
            (None, Some(w)) => w.floor_per_request(),
            (None, None) => f64::INFINITY,
        }
    }
}

/// What this run could have seen: a leak at or above these rates would have been caught.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DetectionFloor {
    /// One new retained object of a class per this many requests.
    pub requests_per_object: f64,
    /// The same as new retained objects of one class per 1000 requests.
    pub objects_per_1k_requests: f64,
    /// Retained JS heap bytes per request.
    pub heap_bytes_per_request: f64,
    /// Retained array-buffer bytes per request.
    pub array_buffer_bytes_per_request: f64,
}

/// Everything the analysis concludes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Leak or clean.
    pub verdict: Verdict,
    /// JS heap growth, V8's own classes left out.
    pub heap: Growth,
    /// Array-buffer (off-heap) growth.
    pub array_buffers: Growth,
    /// Suspect classes, worst (most bytes per request) first.
    pub suspects: Vec<Suspect>,
    /// Why the verdict is what it is, in a sentence or two.
    pub reasons: Vec<String>,
    /// Slope of the whole heap (V8's own classes included), bytes per request: what the JS
    /// heap growth was before V8's warm-up was left out.
    pub total_heap_bytes_per_request: f64,
    /// The JS heap at each snapshot with V8's own classes left out, bytes.
    pub app_heap_bytes: Vec<u64>,
    /// What this run would have caught.
    pub detection_floor: DetectionFloor,
    /// Why the evidence is not decided yet, when it is not: a longer run would decide.
    pub borderline: Vec<String>,
    /// Collections that grow in proportion to the requests without new objects (see
    /// [`super::collections`]), largest growth first.
    pub collections: Vec<super::collections::CollectionSuspect>,
    /// The times the run went on past its planned checkpoints, and why (set by the live run;
    /// see [`super::extend`]).
    pub extensions: Vec<super::extend::Extension>,
}

/// Judges a series: `memory[k]` belongs to snapshot k of `diff`.
pub fn judge(diff: &Diff, memory: &[CheckpointMemory], thresholds: &Thresholds) -> Analysis {
    let requests: Vec<u64> = memory.iter().map(|m| m.requests).collect();
    let interval_requests: Vec<f64> = requests
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]).max(1) as f64)
        .collect();
    let interval_failures: Vec<f64> = memory
        .windows(2)
        .map(|w| w[1].failed_requests.saturating_sub(w[0].failed_requests) as f64)
        .collect();
    let intervals = Intervals {
        requests: &interval_requests,
        failures: &interval_failures,
    };
    let classes = judge_classes(diff, &intervals, thresholds);
    let app_heap_bytes: Vec<u64> = if diff.snapshots.len() == memory.len() {
        diff.snapshots.iter().map(|s| s.app_self_size).collect()
    } else {
        memory.iter().map(|m| m.heap_bytes).collect()
    };
    let heap_series: Vec<f64> = app_heap_bytes.iter().map(|&b| b as f64).collect();
    let total_heap: Vec<f64> = memory.iter().map(|m| m.heap_bytes as f64).collect();
    let ab_bytes: Vec<f64> = memory.iter().map(|m| m.array_buffer_bytes as f64).collect();
    let heap = growth(
        &requests,
        &heap_series,
        thresholds.max_heap_bytes_per_request,
    );
    let array_buffers = growth(
        &requests,
        &ab_bytes,
        thresholds.max_array_buffer_bytes_per_request,
    );
    let suspects = classes.suspects;
    let collections = super::collections::judge(&diff.collections, &interval_requests);
    let mut reasons = Vec::new();
    if let Some(top) = suspects.first() {
        reasons.push(format!(
            "{} class(es) retain objects in every interval, worst `{}` at {:.1} per 1000 requests",
            suspects.len(),
            top.class,
            top.per_1k_requests
        ));
    }
    reasons.extend(super::collections::reason(&collections.suspects));
    let mut borderline = classes.borderline;
    borderline.extend(collections.borderline);
    for (what, g) in [("the JS heap", &heap), ("array buffers", &array_buffers)] {
        if g.exceeds {
            reasons.push(match g.limit {
                Some(limit) => format!(
                    "{what} grows by {:.1} bytes per request (limit {limit})",
                    g.per_request
                ),
                None => format!(
                    "{what} grows by {:.1} bytes per request, above the run's noise ({:.1}) in \
                     both halves of the run",
                    g.per_request,
                    g.floor_per_request()
                ),
            });
        } else if g.borderline {
            borderline.push(format!(
                "{what} grows by {:.1} bytes per request, above the noise over the run but not \
                 in both halves",
                g.per_request
            ));
        }
    }
    let verdict = if reasons.is_empty() {
        Verdict::Clean
    } else {
        Verdict::Leak
    };
    if verdict == Verdict::Leak {
        borderline.clear();
    }
    let detection_floor = DetectionFloor {
        requests_per_object: 1000.0 / classes.floor_per_1k,
        objects_per_1k_requests: classes.floor_per_1k,
        heap_bytes_per_request: heap.floor_per_request(),
        array_buffer_bytes_per_request: array_buffers.floor_per_request(),
    };
    Analysis {
        verdict,
        heap,
        array_buffers,
        suspects,
        reasons,
        total_heap_bytes_per_request: slope_after_first(&requests, &total_heap),
        app_heap_bytes,
        detection_floor,
        borderline,
        collections: collections.suspects,
        extensions: Vec::new(),
    }
}

/// The classes' part of the verdict.
struct ClassVerdict {
    suspects: Vec<Suspect>,
    borderline: Vec<String>,
    /// The smallest rate (new retained objects of one class per 1000 requests) caught.
    floor_per_1k: f64,
}

/// The measured intervals: requests served and requests failed in each.
struct Intervals<'a> {
    requests: &'a [f64],
    failures: &'a [f64],
}

impl Intervals<'_> {
    /// The least new retained objects of one class window `w` needs to count: at least
    /// [`MIN_SURVIVORS_PER_WINDOW`], and more than its failed requests may have left behind
    /// ([`OBJECTS_PER_FAILED_REQUEST`] each).
    fn needed(&self, w: &Range<usize>) -> f64 {
        let failed = self.failed(w);
        if failed > 0.0 {
            MIN_SURVIVORS_PER_WINDOW.max(failed * OBJECTS_PER_FAILED_REQUEST + 1.0)
        } else {
            MIN_SURVIVORS_PER_WINDOW
        }
    }

    /// Requests that failed in window `w`.
    fn failed(&self, w: &Range<usize>) -> f64 {
        self.failures.get(w.clone()).map_or(0.0, |f| f.iter().sum())
    }

    /// Requests served in window `w`.
    fn served(&self, w: &Range<usize>) -> f64 {
        self.requests[w.clone()].iter().sum()
    }
}

fn judge_classes(diff: &Diff, intervals: &Intervals, thresholds: &Thresholds) -> ClassVerdict {
    let interval_requests = intervals.requests;
    let n = diff.snapshots.len();
    let none = |floor_per_1k| ClassVerdict {
        suspects: Vec::new(),
        borderline: Vec::new(),
        floor_per_1k,
    };
    if n < 3 || interval_requests.len() != n - 1 {
        return none(
            thresholds
                .max_survivors_per_1k_requests
                .unwrap_or(f64::INFINITY),
        );
    }
    let verified = n - 2;
    let windows = split(interval_requests, 0..verified);
    let floor_per_1k = match (thresholds.max_survivors_per_1k_requests, &windows) {
        (Some(min_rate), _) => min_rate,
        (None, Some((a, b))) => [a, b]
            .iter()
            .map(|w| intervals.needed(w) / intervals.served(w) * 1000.0)
            .fold(0.0, f64::max),
        (None, None) => f64::INFINITY,
    };
    let mut out = none(floor_per_1k);
    for class in &diff.classes {
        let name = class.class.as_str();
        if ENGINE_CLASSES.contains(&name) || thresholds.ignore_classes.iter().any(|c| c == name) {
            continue;
        }
        let growth = class.count_deltas();
        let test = match (thresholds.max_survivors_per_1k_requests, &windows) {
            (Some(min_rate), _) => ClassTest::by_limit(class, interval_requests, min_rate),
            (None, Some((a, b))) => ClassTest::by_windows(class, intervals, a, b),
            (None, None) => continue,
        };
        match test {
            ClassTest::Suspect => {}
            ClassTest::Borderline(why) => {
                out.borderline.push(format!("`{name}` {why}"));
                continue;
            }
            ClassTest::No => continue,
        }
        let verified_requests: f64 = interval_requests[..verified].iter().sum();
        let survivor_bytes: u64 = class.survivor_sizes[1..=verified].iter().sum();
        let survivors: u64 = class.survivors[1..=verified].iter().sum();
        out.suspects.push(Suspect {
            class: class.class.clone(),
            per_1k_requests: survivors as f64 / verified_requests * 1000.0,
            bytes_per_request: survivor_bytes as f64 / verified_requests,
            survivors_by_interval: class.survivors[1..].to_vec(),
            count_growth_by_interval: growth,
        });
    }
    out.suspects.sort_by(|a, b| {
        b.bytes_per_request
            .total_cmp(&a.bytes_per_request)
            .then(b.per_1k_requests.total_cmp(&a.per_1k_requests))
            .then(a.class.cmp(&b.class))
    });
    out
}

/// What one class's series says.
enum ClassTest {
    Suspect,
    /// Retains new objects in both windows and still grows, but too few to decide.
    Borderline(String),
    No,
}

impl ClassTest {
    /// The rule with a spec limit: at least `min_rate` survivors per 1000 requests in every
    /// verified interval, and a live count growing by at least half that in every interval.
    fn by_limit(class: &ClassSeries, interval_requests: &[f64], min_rate: f64) -> ClassTest {
        let verified = class.survivors.len() - 2;
        let grows_everywhere = class
            .count_deltas()
            .iter()
            .zip(interval_requests)
            .all(|(&d, &r)| d as f64 / r * 1000.0 >= min_rate / 2.0);
        let rates_met = (1..=verified)
            .all(|k| class.survivors[k] as f64 / interval_requests[k - 1] * 1000.0 >= min_rate);
        if grows_everywhere && rates_met {
            ClassTest::Suspect
        } else {
            ClassTest::No
        }
    }

    /// The default rule: in each window, the new objects that survive *and* add to the live
    /// count (the smaller of the two: survivors that replace others are churn) number at least
    /// [`MIN_SURVIVORS_PER_WINDOW`], the class's own largest fall in count and what the
    /// window's failed requests may have left ([`Intervals::needed`]), at rates within
    /// [`super::noise::MAX_RATE_RATIO`]; and the count still grows in the last interval.
    fn by_windows(
        class: &ClassSeries,
        intervals: &Intervals,
        a: &Range<usize>,
        b: &Range<usize>,
    ) -> ClassTest {
        let deltas = class.count_deltas();
        let kept = |w: &Range<usize>| {
            let survivors: u64 = w.clone().map(|k| class.survivors[k + 1]).sum();
            let growth: i64 = deltas[w.clone()].iter().sum();
            (survivors as f64).min(growth as f64)
        };
        let kept = [kept(a), kept(b)];
        let last_grows = deltas.last().is_some_and(|&d| d > 0);
        let own_noise = deltas.iter().fold(0i64, |m, &d| m.max(-d)) as f64;
        let needed = [a, b].map(|w| intervals.needed(w).max(own_noise + 1.0));
        let rates = [kept[0] / intervals.served(a), kept[1] / intervals.served(b)];
        if !last_grows || kept.iter().any(|&k| k < 1.0) {
            ClassTest::No
        } else if kept[0] >= needed[0] && kept[1] >= needed[1] && proportional(rates) {
            ClassTest::Suspect
        } else {
            let failed = intervals.failed(a) + intervals.failed(b);
            let needs = if needed[0] == needed[1] {
                format!("{}", needed[0])
            } else {
                format!("{} and {}", needed[0], needed[1])
            };
            let failures = if failed > 0.0 {
                format!(
                    "; {failed} of their requests failed, and a failed request may keep what it \
                     started"
                )
            } else {
                String::new()
            };
            ClassTest::Borderline(format!(
                "retains {} and {} new objects in the two halves of the run (needs \
                 {needs}{failures})",
                kept[0], kept[1]
            ))
        }
    }
}

/// Growth of one measure: its slope over the checkpoints after the first, per interval, and
/// whether it counts: against `limit` when the spec sets one (both the slope and the last
/// interval above it), against the run's own noise otherwise (see [`WindowTest`]).
fn growth(requests: &[u64], bytes: &[f64], limit: Option<f64>) -> Growth {
    let interval_requests: Vec<f64> = requests
        .windows(2)
        .map(|r| r[1].saturating_sub(r[0]).max(1) as f64)
        .collect();
    let deltas: Vec<f64> = bytes.windows(2).map(|b| b[1] - b[0]).collect();
    let by_interval: Vec<f64> = deltas
        .iter()
        .zip(&interval_requests)
        .map(|(d, r)| d / r)
        .collect();
    let per_request = slope_after_first(requests, bytes);
    let windows = if deltas.len() >= 2 {
        WindowTest::of(&deltas, &interval_requests, 1..deltas.len())
    } else {
        None
    };
    let (exceeds, borderline) = match (limit, &windows) {
        (Some(limit), _) => {
            let last = by_interval.last().copied().unwrap_or(0.0);
            (per_request > limit && last > limit, false)
        }
        (None, Some(w)) => (w.decisive(), w.borderline()),
        (None, None) => (false, false),
    };
    Growth {
        per_request,
        by_interval,
        exceeds,
        limit,
        windows,
        borderline,
    }
}

/// The slope over the checkpoints, the post-warm-up snapshot left out when there are three or
/// more (a one-time step in the first interval does not count).
fn slope_after_first(requests: &[u64], bytes: &[f64]) -> f64 {
    let measured = if requests.len() >= 3 { 1 } else { 0 };
    slope(&requests[measured..], &bytes[measured..])
}

/// Least-squares slope of `y` against `x`.
fn slope(x: &[u64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return 0.0;
    }
    let mean_x = x[..n].iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let mean_y = y[..n].iter().sum::<f64>() / n as f64;
    let mut num = 0.0;
    let mut den = 0.0;
    for i in 0..n {
        let dx = x[i] as f64 - mean_x;
        num += dx * (y[i] - mean_y);
        den += dx * dx;
    }
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod rule_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_is_its_rate() {
        assert_eq!(slope(&[0, 1000, 2000], &[10.0, 20.0, 30.0]), 0.01);
        assert_eq!(slope(&[5], &[1.0]), 0.0);
    }

    #[test]
    fn a_step_then_flat_does_not_exceed_a_limit() {
        let g = growth(&[0, 2000, 4000, 6000], &[0.0, 1e6, 1e6, 1e6], Some(64.0));
        assert!(!g.exceeds);
        let g = growth(&[0, 2000, 4000, 6000], &[0.0, 2e5, 4e5, 6e5], Some(64.0));
        assert!(g.exceeds && (g.per_request - 100.0).abs() < 1e-9);
        // Grows, then flattens in the last interval: a cache that filled.
        let g = growth(&[0, 2000, 4000, 6000], &[0.0, 4e5, 8e5, 8.1e5], Some(64.0));
        assert!(!g.exceeds);
    }
}
