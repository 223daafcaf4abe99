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

use serde::Serialize;

use super::diff::Diff;
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Growth {
    /// Least-squares slope over the checkpoints (the post-warm-up snapshot left out, so a
    /// one-time step in the first interval does not count), bytes per request.
    pub per_request: f64,
    /// Growth per request in each interval.
    pub by_interval: Vec<f64>,
    /// Whether it exceeds its threshold.
    pub exceeds: bool,
}

/// Everything the analysis concludes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Leak or clean.
    pub verdict: Verdict,
    /// JS heap growth.
    pub heap: Growth,
    /// Array-buffer (off-heap) growth.
    pub array_buffers: Growth,
    /// Suspect classes, worst (most bytes per request) first.
    pub suspects: Vec<Suspect>,
    /// Why the verdict is what it is, in a sentence or two.
    pub reasons: Vec<String>,
}

/// Judges a series: `memory[k]` belongs to snapshot k of `diff`.
pub fn judge(diff: &Diff, memory: &[CheckpointMemory], thresholds: &Thresholds) -> Analysis {
    let requests: Vec<u64> = memory.iter().map(|m| m.requests).collect();
    let interval_requests: Vec<f64> = requests
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]).max(1) as f64)
        .collect();
    let suspects = find_suspects(diff, &interval_requests, thresholds);
    let heap_bytes: Vec<f64> = memory.iter().map(|m| m.heap_bytes as f64).collect();
    let ab_bytes: Vec<f64> = memory.iter().map(|m| m.array_buffer_bytes as f64).collect();
    let heap = growth(
        &requests,
        &heap_bytes,
        thresholds.max_heap_bytes_per_request,
    );
    let array_buffers = growth(
        &requests,
        &ab_bytes,
        thresholds.max_array_buffer_bytes_per_request,
    );
    let mut reasons = Vec::new();
    if let Some(top) = suspects.first() {
        reasons.push(format!(
            "{} class(es) retain objects in every interval, worst `{}` at {:.1} per 1000 requests",
            suspects.len(),
            top.class,
            top.per_1k_requests
        ));
    }
    if heap.exceeds {
        reasons.push(format!(
            "the JS heap grows by {:.1} bytes per request (limit {})",
            heap.per_request, thresholds.max_heap_bytes_per_request
        ));
    }
    if array_buffers.exceeds {
        reasons.push(format!(
            "array buffers grow by {:.1} bytes per request (limit {})",
            array_buffers.per_request, thresholds.max_array_buffer_bytes_per_request
        ));
    }
    let verdict = if reasons.is_empty() {
        Verdict::Clean
    } else {
        Verdict::Leak
    };
    Analysis {
        verdict,
        heap,
        array_buffers,
        suspects,
        reasons,
    }
}

fn find_suspects(diff: &Diff, interval_requests: &[f64], thresholds: &Thresholds) -> Vec<Suspect> {
    let n = diff.snapshots.len();
    if n < 3 || interval_requests.len() != n - 1 {
        return Vec::new();
    }
    let min_rate = thresholds.max_survivors_per_1k_requests;
    let verified = n - 2;
    let mut out = Vec::new();
    for class in &diff.classes {
        let name = class.class.as_str();
        if ENGINE_CLASSES.contains(&name) || thresholds.ignore_classes.iter().any(|c| c == name) {
            continue;
        }
        let rates: Vec<f64> = (1..=verified)
            .map(|k| class.survivors[k] as f64 / interval_requests[k - 1] * 1000.0)
            .collect();
        let growth = class.count_deltas();
        let grows_everywhere = growth
            .iter()
            .zip(interval_requests)
            .all(|(&d, &r)| d as f64 / r * 1000.0 >= min_rate / 2.0);
        if !grows_everywhere || rates.iter().any(|&r| r < min_rate) {
            continue;
        }
        let verified_requests: f64 = interval_requests[..verified].iter().sum();
        let survivor_bytes: u64 = class.survivor_sizes[1..=verified].iter().sum();
        out.push(Suspect {
            class: class.class.clone(),
            per_1k_requests: rates.iter().sum::<f64>() / rates.len() as f64,
            bytes_per_request: survivor_bytes as f64 / verified_requests,
            survivors_by_interval: class.survivors[1..].to_vec(),
            count_growth_by_interval: growth,
        });
    }
    out.sort_by(|a, b| {
        b.bytes_per_request
            .total_cmp(&a.bytes_per_request)
            .then(b.per_1k_requests.total_cmp(&a.per_1k_requests))
            .then(a.class.cmp(&b.class))
    });
    out
}

/// Growth of one measure: slope over the checkpoints after the first, per interval, and
/// whether both the slope and the last interval exceed `limit`.
fn growth(requests: &[u64], bytes: &[f64], limit: f64) -> Growth {
    let by_interval: Vec<f64> = requests
        .windows(2)
        .zip(bytes.windows(2))
        .map(|(r, b)| (b[1] - b[0]) / (r[1].saturating_sub(r[0]).max(1) as f64))
        .collect();
    let measured = if requests.len() >= 3 { 1 } else { 0 };
    let per_request = slope(&requests[measured..], &bytes[measured..]);
    let last = by_interval.last().copied().unwrap_or(0.0);
    Growth {
        exceeds: per_request > limit && last > limit,
        per_request,
        by_interval,
    }
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
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_is_its_rate() {
        assert_eq!(slope(&[0, 1000, 2000], &[10.0, 20.0, 30.0]), 0.01);
        assert_eq!(slope(&[5], &[1.0]), 0.0);
    }

    #[test]
    fn a_step_then_flat_does_not_exceed() {
        let g = growth(&[0, 2000, 4000, 6000], &[0.0, 1e6, 1e6, 1e6], 64.0);
        assert!(!g.exceeds);
        let g = growth(&[0, 2000, 4000, 6000], &[0.0, 2e5, 4e5, 6e5], 64.0);
        assert!(g.exceeds && (g.per_request - 100.0).abs() < 1e-9);
        // Grows, then flattens in the last interval: a cache that filled.
        let g = growth(&[0, 2000, 4000, 6000], &[0.0, 4e5, 8e5, 8.1e5], 64.0);
        assert!(!g.exceeds);
    }
}
