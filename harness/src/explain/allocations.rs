//! Where the objects of a leak are allocated, by one of two methods:
//!
//! - **sampling** (the default): V8's sampling heap profiler runs through the main session's
//!   measured phase, and its surviving samples give the sites (see
//!   [`crate::analysis::sampled`]). No extra run; sites are estimates from samples, with the
//!   share of the leak's bytes they stand for.
//! - **tracking** (`explain: runs`): a second measured session with V8's allocation tracking
//!   on, whose survivors each carry their allocation stack. Tracking slows every allocation,
//!   so this runs only once a leak is found. The tracked session repeats the spec's own load
//!   at half its checkpoints; the classes asked about are the suspects of the normal run, and
//!   each is mapped from its survivors in the tracked run even when the tracked run does not
//!   list it as a suspect (tracking changes timing, not what the app retains). V8 records a
//!   stack for only part of the objects.

use serde::Serialize;

use crate::analysis::allocations::{allocation_sites, AllocationSite};
use crate::analysis::sampled::{sampled_sites, Profile, SampledSites};
use crate::analysis::{Analysis, Series, SnapshotFile};
use crate::runner::Plan;
use crate::spec::Spec;

/// Sites reported per class, most survivors first.
pub const MAX_SITES_PER_CLASS: usize = 5;

/// Which method found a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteMethod {
    /// The sampling heap profiler, in the main run.
    Sampling,
    /// V8's allocation tracking, in an extra run.
    Tracking,
}

/// The allocation sites of one suspect class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuspectSites {
    /// DevTools class name.
    pub class: String,
    /// How the sites were found.
    pub method: SiteMethod,
    /// Sampling: the share of the class's surviving bytes the listed sites stand for.
    pub share_of_bytes: Option<f64>,
    /// Sampling: the samples given to this class.
    pub samples: Option<u64>,
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
    let mut source_maps = series.source_maps.clone();
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
                method: SiteMethod::Tracking,
                share_of_bytes: None,
                samples: None,
                survivors: nodes.len() as u64,
                traced,
                sites: allocation_sites(
                    &series.last,
                    &series.diff,
                    class,
                    &spec.app.cwd,
                    &mut source_maps,
                    MAX_SITES_PER_CLASS,
                ),
            }
        })
        .collect()
}

/// The sites of the main run's leak from its sampled allocations: per suspect (the worst
/// `max_classes`) and for the leak as a whole. `Err` when a profile cannot be read; `Ok(None)`
/// when the session did not sample.
pub fn sampled(
    spec: &Spec,
    series: &Series,
    snapshots: &[SnapshotFile],
    analysis: &Analysis,
    interval: u64,
    max_classes: usize,
) -> Result<Option<(SampledSites, Vec<SuspectSites>)>, String> {
    let mut profiles = Vec::with_capacity(snapshots.len());
    for s in snapshots {
        let Some(path) = &s.allocation_profile else {
            return Ok(None);
        };
        profiles.push(Profile::read(path).map_err(|e| e.to_string())?);
    }
    let suspects = &analysis.suspects[..analysis.suspects.len().min(max_classes)];
    let Some(found) = sampled_sites(
        series,
        &profiles,
        suspects,
        analysis.heap.per_request,
        interval,
        &spec.app.cwd,
        MAX_SITES_PER_CLASS,
    ) else {
        return Ok(None);
    };
    let per_class = found
        .classes
        .iter()
        .map(|c| SuspectSites {
            class: c.class.clone(),
            method: SiteMethod::Sampling,
            share_of_bytes: Some(c.share_of_bytes),
            samples: Some(c.samples),
            sites: c.sites.clone(),
            survivors: series.survivors_of(&c.class).len() as u64,
            traced: 0,
        })
        .collect();
    Ok(Some((found, per_class)))
}
