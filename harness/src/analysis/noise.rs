//! The run's own noise, measured from its series, and the two-window test that tells growth in
//! proportion to the requests from it.
//!
//! A fixed limit in bytes per request has to sit above the worst noise of any app, so it lets
//! small leaks through. The noise of a heap measurement is mostly *absolute*, not per request:
//! a structure built once, a string table that shrinks, a socket replaced. Measured on the
//! sample apps with V8's own classes left out (see [`super::verdict::ENGINE_CLASSES`]), clean
//! apps move by at most ±12 KB between snapshots 2000 requests apart, whichever the interval.
//! A leak, on the other hand, grows in proportion to the requests. So each run is judged against
//! its own noise, in absolute bytes, and the longer the intervals, the smaller the leak per
//! request that clears it: this is what makes extending a run worth it.
//!
//! The intervals that count are split into two **windows** of about equal requests (A, then
//! B). Growth counts when it clears the noise in *both* windows and the two rates agree within
//! [`MAX_RATE_RATIO`]: a one-off step fills one window only, a bounded cache stops growing in
//! the later one, noise has no direction.
//!
//! The noise of a byte series is the largest of:
//! - [`MIN_NOISE_BYTES`], what clean apps are seen to move by anyway;
//! - the largest *fall* of the series in any interval (a leak only adds, so a fall is noise);
//! - the misfit of the two windows to one proportional rate (a leak's own steps, such as an
//!   array's backing store reallocated 1.5x, make this large, so it is decided on longer
//!   windows).

use std::ops::Range;

use serde::Serialize;

/// The least absolute noise assumed in a byte series, bytes: clean sample apps move by up to
/// about 12 KB between checkpoints with V8's own classes left out, and a Buffer pool slab is
/// 8 KiB.
pub const MIN_NOISE_BYTES: f64 = 16.0 * 1024.0;

/// The least count of new, retained objects per window for a class to be a suspect by default.
pub const MIN_SURVIVORS_PER_WINDOW: f64 = 4.0;

/// New objects of one class that a failed request may leave behind, per failed request. A
/// request or flow that fails part-way keeps what it started (a session whose logout timed
/// out, a half-built record), which a complete one would have released: so many survivors per
/// failed request of a window are that window's noise, not a leak. Under heavy load a clean
/// login flow lost 15 of 6000 requests to timeouts and kept 44 strings (about 3 per failure).
pub const OBJECTS_PER_FAILED_REQUEST: f64 = 4.0;

/// How far apart the rates of the two windows may be (the larger over the smaller) for growth
/// to count as proportional to the requests.
pub const MAX_RATE_RATIO: f64 = 4.0;

/// Splits consecutive intervals `range` (with `requests[k]` requests each) into two windows of
/// about equal requests, both non-empty; `None` when there are fewer than two intervals.
pub fn split(requests: &[f64], range: Range<usize>) -> Option<(Range<usize>, Range<usize>)> {
    if range.len() < 2 || range.end > requests.len() {
        return None;
    }
    let total: f64 = requests[range.clone()].iter().sum();
    let mut best = range.start + 1;
    let mut best_gap = f64::INFINITY;
    let mut before = 0.0;
    for cut in range.start + 1..range.end {
        before += requests[cut - 1];
        let gap = (total - 2.0 * before).abs();
        if gap < best_gap {
            best_gap = gap;
            best = cut;
        }
    }
    Some((range.start..best, best..range.end))
}

/// How a byte series grew over the two windows, against its noise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WindowTest {
    /// Growth in window A and window B, bytes.
    pub growth: [f64; 2],
    /// Requests in window A and window B.
    pub requests: [f64; 2],
    /// The series' noise, bytes (see the module docs).
    pub noise_bytes: f64,
}

impl WindowTest {
    /// Measures `deltas` (growth in each interval) over `range`, its intervals' `requests`.
    /// Falls of any interval, in or out of `range`, count as noise.
    pub fn of(deltas: &[f64], requests: &[f64], range: Range<usize>) -> Option<WindowTest> {
        let (a, b) = split(requests, range)?;
        let sum = |r: &Range<usize>, v: &[f64]| v[r.clone()].iter().sum::<f64>();
        let growth = [sum(&a, deltas), sum(&b, deltas)];
        let reqs = [sum(&a, requests), sum(&b, requests)];
        let rate = (growth[0] + growth[1]) / (reqs[0] + reqs[1]);
        let misfit = (growth[0] - rate * reqs[0])
            .abs()
            .max((growth[1] - rate * reqs[1]).abs());
        let largest_fall = deltas.iter().fold(0.0f64, |m, &d| m.max(-d));
        Some(WindowTest {
            growth,
            requests: reqs,
            noise_bytes: MIN_NOISE_BYTES.max(largest_fall).max(misfit),
        })
    }

    /// Growth per request in each window.
    pub fn rates(&self) -> [f64; 2] {
        [
            self.growth[0] / self.requests[0].max(1.0),
            self.growth[1] / self.requests[1].max(1.0),
        ]
    }

    /// The smallest steady growth per request this test can tell from its noise.
    pub fn floor_per_request(&self) -> f64 {
        self.noise_bytes / self.requests[0].min(self.requests[1]).max(1.0)
    }

    /// Growth clears the noise in both windows, at rates within [`MAX_RATE_RATIO`].
    pub fn decisive(&self) -> bool {
        self.growth.iter().all(|&g| g > self.noise_bytes) && proportional(self.rates())
    }

    /// Not decisive, but growing in both windows, and over both together by more than the
    /// noise: longer windows would decide it. (A step followed by a flat window is decided:
    /// the growth stopped.)
    pub fn borderline(&self) -> bool {
        !self.decisive()
            && self.growth.iter().all(|&g| g > 0.0)
            && self.growth[0] + self.growth[1] > self.noise_bytes
    }
}

/// Whether two rates, both positive, agree within [`MAX_RATE_RATIO`].
pub fn proportional(rates: [f64; 2]) -> bool {
    let (lo, hi) = (rates[0].min(rates[1]), rates[0].max(rates[1]));
    lo > 0.0 && hi <= lo * MAX_RATE_RATIO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_halve_the_requests() {
        let r = [2000.0, 2000.0, 2000.0];
        assert_eq!(split(&r, 1..3), Some((1..2, 2..3)));
        assert_eq!(split(&r, 0..2), Some((0..1, 1..2)));
        assert_eq!(split(&r, 0..1), None);
        // After extensions that double the run: 2000, 2000, 2000, 6000.
        let r = [2000.0, 2000.0, 2000.0, 6000.0, 12000.0];
        assert_eq!(split(&r, 0..4), Some((0..3, 3..4)));
        assert_eq!(split(&r, 1..5), Some((1..4, 4..5)));
    }

    #[test]
    fn noise_is_at_least_the_floor_and_the_largest_fall() {
        let r = [2000.0; 3];
        let t = WindowTest::of(&[5120.0, -12104.0, 0.0], &r, 1..3).unwrap();
        assert_eq!(t.noise_bytes, MIN_NOISE_BYTES);
        let t = WindowTest::of(&[5120.0, -40000.0, 0.0], &r, 1..3).unwrap();
        assert_eq!(t.noise_bytes, 40000.0);
        assert!(!t.decisive() && !t.borderline());
    }

    #[test]
    fn a_steady_leak_above_the_noise_is_decisive() {
        let r = [2000.0; 3];
        // 12 B per request: 24 000 bytes an interval.
        let t = WindowTest::of(&[300_000.0, 24_000.0, 24_500.0], &r, 1..3).unwrap();
        assert!(t.decisive());
        assert!((t.floor_per_request() - MIN_NOISE_BYTES / 2000.0).abs() < 1e-9);
        // 4 B per request: below the noise in each window, above it together? No: 16 000 <
        // 16 384, so not even borderline.
        let t = WindowTest::of(&[0.0, 8_000.0, 8_000.0], &r, 1..3).unwrap();
        assert!(!t.decisive() && !t.borderline());
        // 6 B per request: each window under the noise, both together over it.
        let t = WindowTest::of(&[0.0, 12_000.0, 12_000.0], &r, 1..3).unwrap();
        assert!(!t.decisive() && t.borderline());
    }

    #[test]
    fn a_step_in_one_window_is_not_proportional() {
        let r = [2000.0; 3];
        let t = WindowTest::of(&[0.0, 200_000.0, 0.0], &r, 1..3).unwrap();
        assert!(!t.decisive());
        // A cache that keeps filling, then nearly stops.
        let t = WindowTest::of(&[0.0, 400_000.0, 20_000.0], &r, 1..3).unwrap();
        assert!(!t.decisive());
    }
}
