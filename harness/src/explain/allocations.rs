//! Where the objects of a leak are allocated: a second measured session with V8's allocation
//! tracking on, whose survivors each carry their allocation stack.
//!
//! Tracking slows every allocation, so this runs only once a leak is found, never as part of
//! the measurement that decides the verdict. The tracked session repeats the spec's own load
//! and checkpoints; the classes asked about are the suspects of the normal run, and each is
//! mapped from its survivors in the tracked run even when the tracked run does not list it as
//! a suspect (tracking changes timing, not what the app retains).

use serde::Serialize;

use crate::analysis::allocations::{allocation_sites, AllocationSite};
use crate::analysis::Series;
use crate::runner::Plan;
use crate::spec::Spec;

/// Sites reported per class, most survivors first.
pub const MAX_SITES_PER_CLASS: usize = 5;

/// The allocation sites of one suspect class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuspectSites {
    /// DevTools class name.
    pub class: String,
    /// Where its survivors were allocated, most survivors first; empty when none of them has
    /// an allocation trace.
    pub sites: Vec<AllocationSite>,
    /// Survivors of the verified intervals in the tracked run.
    pub survivors: u64,
    /// How many of them carry an allocation stack. V8 does not record one for every object
    /// (objects made by native code, and some made by optimised code), so the sites' counts
    /// describe this share.
    pub traced: u64,
}

/// The tracked run's checkpoints: half as far apart as the spec's. Tracking makes every
/// allocation slower, and the sites need only a sample of the survivors, not a verdict.
fn half_checkpoints(checkpoints: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::with_capacity(checkpoints.len());
    for &c in checkpoints {
        let half = (c / 2).max(out.last().map_or(1, |&l| l + 1));
        out.push(half);
    }
    out
}

/// The tracked run's plan: the spec's load at half its checkpoints, tracking on.
pub fn tracked_plan(spec: &Spec) -> Plan {
    Plan {
        track_allocations: true,
        label: "allocations".into(),
        checkpoints: half_checkpoints(&spec.checkpoints),
        ..Plan::of(spec)
    }
}

/// Where the survivors of each of `classes` were allocated in a tracked run's `series`, in
/// the order of `classes`. File names are relative to the app's folder (`spec.app.cwd`).
pub fn sites_of(spec: &Spec, series: &Series, classes: &[String]) -> Vec<SuspectSites> {
    classes
        .iter()
        .map(|class| {
            let nodes = series.survivors_of(class);
            let traced = nodes
                .iter()
                .filter(|&&n| series.last.trace_node_id(n) != 0)
                .count() as u64;
            SuspectSites {
                class: class.clone(),
                survivors: nodes.len() as u64,
                traced,
                sites: allocation_sites(
                    &series.last,
                    &series.diff,
                    class,
                    &spec.app.cwd,
                    MAX_SITES_PER_CLASS,
                ),
            }
        })
        .collect()
}
