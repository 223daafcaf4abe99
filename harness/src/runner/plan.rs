//! What one live session drives, decided before anything starts.
//!
//! A [`Plan`] is plain data: the load, the warm-up, the checkpoints and the inspector features
//! to turn on. The spec gives the main plan ([`Plan::of`]); the explanations that need runs of
//! their own (see [`crate::explain`]) describe them as plans too, so the runner only ever
//! executes plans and never needs to know why.

use crate::load::LoadConfig;
use crate::spec::{Explain, Spec};

/// Bytes allocated per sample of the sampling heap profiler in the main session (V8's own
/// default is 32 KiB, made for production profiling of large heaps). A leak shows as its
/// objects' share of the surviving samples; at this interval a 32-byte object leaked once per
/// request over 4000 verified requests leaves about 60 samples, and the profiler's cost stays
/// within the checkpoints' (see the README's benchmark).
pub const DEFAULT_SAMPLING_INTERVAL: u64 = 2048;

/// One session's work.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The load to drive.
    pub load: LoadConfig,
    /// Requests before the first snapshot, never measured.
    pub warmup: u64,
    /// Measured requests at which to snapshot (a snapshot is also taken right after the
    /// warm-up).
    pub checkpoints: Vec<u64>,
    /// Turn on V8's allocation tracking before the warm-up, so that the snapshots record an
    /// allocation stack for objects allocated while measured. Costly; off by default.
    pub track_allocations: bool,
    /// Run V8's sampling heap profiler through the measured phase, one sample per this many
    /// allocated bytes on average, and write its live samples beside each snapshot (`None`:
    /// off). See [`crate::analysis::sampled`].
    pub sampling_interval: Option<u64>,
    /// A suffix for the working folder, so that the sessions of one spec do not collide
    /// (empty for the main session).
    pub label: String,
}

impl Plan {
    /// The main plan of a spec: its own load, warm-up and checkpoints.
    pub fn of(spec: &Spec) -> Plan {
        Plan {
            load: spec.load.clone(),
            warmup: spec.warmup,
            checkpoints: spec.checkpoints.clone(),
            track_allocations: false,
            sampling_interval: match spec.explain {
                Explain::Auto | Explain::Always => Some(DEFAULT_SAMPLING_INTERVAL),
                Explain::Never | Explain::Runs => None,
            },
            label: String::new(),
        }
    }
}

/// Samples per request the sampling heap profiler may take at most, on average, before its
/// interval grows past [`DEFAULT_SAMPLING_INTERVAL`].
pub const MAX_SAMPLES_PER_REQUEST: f64 = 32.0;

/// The largest interval chosen: V8's own default.
pub const MAX_SAMPLING_INTERVAL: u64 = 32 * 1024;

/// The sampling interval for the measured phase of an app that allocates `per_request` bytes
/// per request: `base`, unless that would take more than [`MAX_SAMPLES_PER_REQUEST`] samples a
/// request; then the power of two times `base` that takes at most about that many, up to
/// [`MAX_SAMPLING_INTERVAL`].
pub fn sampling_interval_for(base: u64, per_request: Option<u64>) -> u64 {
    let Some(bytes) = per_request.filter(|&b| b > 0) else {
        return base;
    };
    let wanted = bytes as f64 / MAX_SAMPLES_PER_REQUEST;
    let mut interval = base;
    while (interval as f64) < wanted && interval < MAX_SAMPLING_INTERVAL {
        interval *= 2;
    }
    interval
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_grows_only_for_apps_that_allocate_a_lot_per_request() {
        let base = DEFAULT_SAMPLING_INTERVAL;
        // Not measured, or a light app (Node's http alone allocates ~10 KB a request).
        assert_eq!(sampling_interval_for(base, None), base);
        assert_eq!(sampling_interval_for(base, Some(0)), base);
        assert_eq!(sampling_interval_for(base, Some(10_000)), base);
        assert_eq!(sampling_interval_for(base, Some(64 * 1024)), base);
        // Heavier: the power of two that keeps about 32 samples a request.
        assert_eq!(sampling_interval_for(base, Some(64 * 1024 + 1)), 4096);
        assert_eq!(sampling_interval_for(base, Some(243_000)), 8192);
        // Never coarser than V8's own default.
        assert_eq!(
            sampling_interval_for(base, Some(100_000_000)),
            MAX_SAMPLING_INTERVAL
        );
    }
}
