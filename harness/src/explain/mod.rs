//! Explaining a found leak: *what* keeps the memory (retainer paths, from the last snapshot),
//! *where* it was allocated (the measured run's sampled allocations, or with `explain: runs` a
//! run with V8's allocation tracking), and *which* request kind leaks (each kind served alone
//! in the measured process, or with `explain: runs` each kind run alone).
//!
//! This stage never starts anything itself. The retainers come from the main series; the
//! facts that need the live app are asked for as data: [`kind_phases::KindPhase`]s that the
//! runner serves in the measured session before it ends, and [`ExtraRun`]s (plain [`Plan`]s
//! with a purpose) that it runs from boot. What they leave comes back here
//! ([`kind_phases::judge`], [`ExtraRun::conclude`]) and [`explain`] puts the facts together
//! into an [`Explanation`].
//!
//! All of it happens only when a leak is found (or when the spec asks for it with `explain:
//! always`); a passing clean run pays nothing.

pub mod allocations;
pub mod kind_phases;
pub mod requests;
pub mod workers;

use serde::Serialize;

use crate::analysis::dominators::{dominators, Dominators};
use crate::analysis::retainers::{retainer_clusters, Holder, RetainerCluster, RootPaths};
use crate::analysis::sampled::SampledSites;
use crate::analysis::{Analysis, Diff, Series, SnapshotFile, Suspect, Verdict};
use crate::runner::{Plan, RunError};
use crate::snapshot::HeapGraph;
use crate::spec::{Explain, Spec};

use allocations::SuspectSites;
use requests::RequestKindResult;

/// Suspects explained at most per run (the worst first).
pub const MAX_EXPLAINED_SUSPECTS: usize = 5;
/// Retainer clusters kept per suspect.
pub const MAX_CLUSTERS: usize = 3;

/// Everything known about why a run's memory grows, beyond the verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Explanation {
    /// Retainer paths of the worst suspects.
    pub retainers: Vec<SuspectRetainers>,
    /// Where the worst suspects' survivors were allocated.
    pub allocation_sites: Vec<SuspectSites>,
    /// Where the leak as a whole was allocated, from the main run's samples.
    pub leak_sites: Option<SampledSites>,
    /// Each request kind judged alone (mixed specs, when a leak is explained).
    pub request_kinds: Vec<RequestKindResult>,
    /// The request kinds that leak on their own (`None` when not attributed).
    pub leaking_requests: Option<Vec<String>>,
    /// Why an explanation could not be had, when one could not (the verdict stands).
    pub error: Option<String>,
}

/// Why an extra run is wanted.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    /// Allocation sites of these classes, from a tracked run.
    AllocationSites(Vec<String>),
    /// The verdict of this request kind alone.
    RequestKind(String),
}

/// A run the explanation needs, beside the main one.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraRun {
    /// What it is for.
    pub purpose: Purpose,
    /// What to run.
    pub plan: Plan,
}

/// What one extra run established.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// Allocation sites per class, or why the tracked run failed.
    AllocationSites(Result<Vec<SuspectSites>, String>),
    /// The verdict of one request kind alone.
    RequestKind(RequestKindResult),
}

/// Whether `spec` wants the main run's result explained, given its verdict.
pub fn wanted(spec: &Spec, analysis: &Analysis) -> bool {
    match spec.explain {
        Explain::Never => false,
        Explain::Always => true,
        Explain::Auto | Explain::Runs => analysis.verdict == Verdict::Leak,
    }
}

/// The extra runs that explain the main run's result, in the order they should run.
pub fn extra_runs(spec: &Spec, analysis: &Analysis) -> Vec<ExtraRun> {
    if !wanted(spec, analysis) {
        return Vec::new();
    }
    let mut runs = Vec::new();
    let classes: Vec<String> = analysis
        .suspects
        .iter()
        .take(MAX_EXPLAINED_SUSPECTS)
        .map(|s| s.class.clone())
        .collect();
    if !classes.is_empty() && spec.explain == Explain::Runs {
        runs.push(ExtraRun {
            plan: allocations::tracked_plan(spec),
            purpose: Purpose::AllocationSites(classes),
        });
    }
    let kinds = requests::request_kinds(spec);
    // Otherwise the kinds are served alone in the measured session (see `kind_phases`).
    if kinds.len() > 1 && spec.explain == Explain::Runs {
        for (i, (label, templates)) in kinds.into_iter().enumerate() {
            runs.push(ExtraRun {
                plan: requests::kind_plan(spec, i, templates),
                purpose: Purpose::RequestKind(label),
            });
        }
    }
    runs
}

impl ExtraRun {
    /// What this run's series (or its failure) establishes.
    pub fn conclude(&self, spec: &Spec, series: Result<Series, RunError>) -> Finding {
        match &self.purpose {
            Purpose::AllocationSites(classes) => Finding::AllocationSites(
                series
                    .map(|s| allocations::sites_of(spec, &s, classes))
                    .map_err(|e| format!("allocation sites: {e}")),
            ),
            Purpose::RequestKind(label) => {
                Finding::RequestKind(requests::kind_result(spec, label, series))
            }
        }
    }
}

/// Puts the main series' retainers, its sampled allocation sites (when the session sampled
/// with `sampling_interval`) and the extra runs' findings together.
pub fn explain(
    spec: &Spec,
    series: &Series,
    snapshots: &[SnapshotFile],
    sampling_interval: Option<u64>,
    analysis: &Analysis,
    findings: Vec<Finding>,
) -> Explanation {
    let mut out = Explanation {
        retainers: retainers_of_suspects(&series.last, &series.diff, &analysis.suspects),
        ..Explanation::default()
    };
    if let Some(interval) = sampling_interval.filter(|_| wanted(spec, analysis)) {
        match allocations::sampled(
            spec,
            series,
            snapshots,
            analysis,
            interval,
            MAX_EXPLAINED_SUSPECTS,
        ) {
            Ok(Some((leak, per_class))) => {
                out.leak_sites = Some(leak);
                out.allocation_sites = per_class;
            }
            Ok(None) => {}
            Err(e) => out.error = Some(format!("allocation sites: {e}")),
        }
    }
    let mut kinds = Vec::new();
    for finding in findings {
        match finding {
            Finding::AllocationSites(Ok(sites)) => out.allocation_sites = sites,
            Finding::AllocationSites(Err(e)) => out.error = Some(e),
            Finding::RequestKind(result) => kinds.push(result),
        }
    }
    if !kinds.is_empty() {
        out.leaking_requests = Some(requests::leaking_requests(&kinds));
        out.request_kinds = kinds;
    }
    out
}

/// The retainer paths of one suspect class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuspectRetainers {
    /// DevTools class name.
    pub class: String,
    /// Distinct paths, most objects first (at most [`MAX_CLUSTERS`]).
    pub clusters: Vec<RetainerCluster>,
    /// Objects per holder over all paths (the first step of each path: a variable or a global
    /// property), most first. Unlike the clusters, this is not cut, so it does not depend on
    /// how near-equal clusters happen to be ordered.
    pub holders: Vec<(Holder, u64)>,
}
/// Shortest paths and dominators of one graph, computed once for all suspects.
pub struct GraphIndex {
    /// Shortest retaining paths from the root.
    pub paths: RootPaths,
    /// Dominator tree and retained sizes.
    pub dominators: Dominators,
}

impl GraphIndex {
    /// Computes both for `graph`.
    pub fn new(graph: &HeapGraph) -> GraphIndex {
        GraphIndex {
            paths: RootPaths::new(graph),
            dominators: dominators(graph),
        }
    }
}

/// Retainer clusters for the classes named, from the survivors of the verified intervals.
pub fn retainers_of(
    graph: &HeapGraph,
    diff: &Diff,
    index: &GraphIndex,
    classes: &[&str],
) -> Vec<SuspectRetainers> {
    classes
        .iter()
        .map(|class| {
            let nodes = diff.survivors_of(graph, class);
            let mut clusters = retainer_clusters(
                graph,
                &index.paths,
                Some(&index.dominators),
                &nodes,
                usize::MAX,
            );
            let mut holders: Vec<(Holder, u64)> = Vec::new();
            for c in &clusters {
                match holders.iter_mut().find(|(h, _)| *h == c.holder) {
                    Some((_, n)) => *n += c.count,
                    None => holders.push((c.holder.clone(), c.count)),
                }
            }
            holders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            clusters.truncate(MAX_CLUSTERS);
            SuspectRetainers {
                class: class.to_string(),
                clusters,
                holders,
            }
        })
        .collect()
}

/// Retainers of a run's worst suspects.
pub fn retainers_of_suspects(
    graph: &HeapGraph,
    diff: &Diff,
    suspects: &[Suspect],
) -> Vec<SuspectRetainers> {
    if suspects.is_empty() {
        return Vec::new();
    }
    let index = GraphIndex::new(graph);
    let classes: Vec<&str> = suspects
        .iter()
        .take(MAX_EXPLAINED_SUSPECTS)
        .map(|s| s.class.as_str())
        .collect();
    retainers_of(graph, diff, &index, &classes)
}
