//! Whether a spec's checkpoints are far enough apart for its thresholds to mean anything.
//!
//! A class is a suspect when it leaves more than `max_survivors_per_1k_requests` survivors per
//! 1000 requests in every interval. In an interval of N requests, a class leaking at exactly
//! that rate leaves N × rate / 1000 objects: with `checkpoints: [10, 30, 50]` and the default
//! rate of 5, that is 0.05 of an object, so any single object left by anything (a lazily made
//! cache entry, a timer) is "a leak at 100 per 1000 requests", and the verdict is noise with
//! a confident number on it. So a spec is rejected when its smallest interval cannot hold one
//! survivor at the threshold rate, with the smallest checkpoints that give five (enough to
//! tell a steady rate from a one-off object in every interval).

/// Survivors at the threshold rate per interval below which a spec is rejected.
pub const MIN_SURVIVORS_PER_INTERVAL: f64 = 1.0;
/// Survivors at the threshold rate per interval that the suggested checkpoints give.
pub const SUGGESTED_SURVIVORS_PER_INTERVAL: f64 = 5.0;

/// Checkpoints too close for the survivor threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct TooClose {
    /// The smallest interval, in requests (the first counts from 0).
    pub smallest_interval: u64,
    /// Survivors a class at the threshold rate leaves in that interval.
    pub survivors: f64,
    /// The smallest sensible checkpoints: three evenly spaced ones.
    pub suggestion: [u64; 3],
}

/// `Err` when the smallest interval of `checkpoints` holds less than one survivor at
/// `max_survivors_per_1k` (a limit of 0 flags every survivor, so it is always meaningful).
pub fn check(checkpoints: &[u64], max_survivors_per_1k: f64) -> Result<(), TooClose> {
    if max_survivors_per_1k <= 0.0 {
        return Ok(());
    }
    let mut previous = 0;
    let mut smallest = u64::MAX;
    for &c in checkpoints {
        smallest = smallest.min(c.saturating_sub(previous));
        previous = c;
    }
    let survivors = smallest as f64 * max_survivors_per_1k / 1000.0;
    if smallest == u64::MAX || survivors >= MIN_SURVIVORS_PER_INTERVAL {
        return Ok(());
    }
    let gap = (SUGGESTED_SURVIVORS_PER_INTERVAL * 1000.0 / max_survivors_per_1k).ceil() as u64;
    let gap = round_up(gap.max(1));
    Err(TooClose {
        smallest_interval: smallest,
        survivors,
        suggestion: [gap, 2 * gap, 3 * gap],
    })
}

/// `n` rounded up to 1, 2 or 5 times a power of ten, so suggestions read as round numbers.
fn round_up(n: u64) -> u64 {
    let mut scale = 1u64;
    loop {
        for step in [1, 2, 5] {
            let candidate = step * scale;
            if candidate >= n {
                return candidate;
            }
        }
        match scale.checked_mul(10) {
            Some(next) => scale = next,
            None => return n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_intervals_are_rejected_with_round_suggestions() {
        let err = check(&[10, 30, 50], 5.0).unwrap_err();
        assert_eq!(err.smallest_interval, 10);
        assert_eq!(err.suggestion, [1000, 2000, 3000]);
        assert!(check(&[2000, 4000, 6000], 5.0).is_ok());
        assert!(check(&[200, 400, 600], 5.0).is_ok());
        // The smallest interval counts, the first one from zero included.
        assert_eq!(
            check(&[5000, 5100, 9000], 5.0)
                .unwrap_err()
                .smallest_interval,
            100
        );
        assert_eq!(
            check(&[10, 20, 30], 0.3).unwrap_err().suggestion,
            [20000, 40000, 60000]
        );
        assert!(check(&[1, 2, 3], 0.0).is_ok());
        assert_eq!(round_up(1667), 2000);
        assert_eq!(round_up(1000), 1000);
    }
}
