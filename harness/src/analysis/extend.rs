//! The sequential decision: after the planned checkpoints, is the run decided, or should it go
//! on with more requests?
//!
//! A leak of one object per 500 requests leaves 4 objects in a 2000-request interval, and a
//! leak of 6 bytes per request 12 KB, both within the noise of one interval (see
//! [`super::noise`]). Longer intervals separate them, but making every run long costs every
//! clean spec. So a run goes on only when its evidence is *borderline* (a class that retains
//! new objects and grows in both halves of the run but too few to decide, a byte growth above
//! the noise over the run but not in both halves), by doubling its measured requests, until it
//! is decided or reaches the spec's `max_requests`. A clean app with nothing growing is decided
//! at the planned checkpoints and costs nothing more.
//!
//! This is a pure function of the analysis so far; the live run calls it after each snapshot
//! from the last planned checkpoint on.

use serde::Serialize;

use super::verdict::{Analysis, Verdict};

/// What to do after judging the series so far.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Leak, or clean with nothing borderline, or no room left: the verdict stands.
    Decided,
    /// Drive the run on to `to` measured requests and snapshot there.
    Extend {
        /// Measured requests at the next checkpoint.
        to: u64,
        /// Why: the borderline evidence.
        reasons: Vec<String>,
    },
}

/// One extension of a run, for the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extension {
    /// Measured requests when it was decided to go on.
    pub from_requests: u64,
    /// Measured requests at the added checkpoint.
    pub to_requests: u64,
    /// The borderline evidence that asked for it.
    pub reasons: Vec<String>,
}

/// Decides whether a run that has served `measured` requests, judged `analysis`, goes on,
/// within `max_requests`: on borderline evidence, to twice its requests (at most
/// `max_requests`).
pub fn next_step(analysis: &Analysis, measured: u64, max_requests: u64) -> Step {
    if analysis.verdict == Verdict::Leak || analysis.borderline.is_empty() || measured == 0 {
        return Step::Decided;
    }
    let to = measured.saturating_mul(2).min(max_requests);
    if to <= measured {
        return Step::Decided;
    }
    Step::Extend {
        to,
        reasons: analysis.borderline.clone(),
    }
}
