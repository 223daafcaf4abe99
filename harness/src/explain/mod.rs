//! Explaining a found leak: *what* keeps the memory (retainer paths, from the last snapshot),
//! *where* it was allocated (a second run with V8's allocation tracking), and *which* request
//! kind leaks (each kind run alone).
//!
//! These cost extra runs, so they happen only when a leak is found (or when the spec asks for
//! them with `explain: always`); a passing clean run pays nothing.

pub mod allocations;
pub mod requests;

use serde::Serialize;

use crate::analysis::dominators::{dominators, Dominators};
use crate::analysis::retainers::{retainer_clusters, Holder, RetainerCluster, RootPaths};
use crate::analysis::{Diff, Suspect};
use crate::snapshot::HeapGraph;

/// Suspects explained at most per run (the worst first).
pub const MAX_EXPLAINED_SUSPECTS: usize = 5;
/// Retainer clusters kept per suspect.
pub const MAX_CLUSTERS: usize = 3;

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
