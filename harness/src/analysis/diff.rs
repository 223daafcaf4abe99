//! Comparing a series of snapshots of one process: per-class counts and survivors by id.
//!
//! V8 hands out heap object ids (odd numbers) in increasing order the first time a snapshot sees
//! an object, and keeps them for the object's life. So "first seen at snapshot k" needs no set of
//! ids, only the largest id of each earlier snapshot: an object of the last snapshot with
//! `max_id(k-1) < id <= max_id(k)` appeared between snapshots k-1 and k and is still alive.
//! Even ids belong to embedder nodes that get fresh ids in every snapshot; they never count as
//! new. Only the last graph is kept in memory; earlier ones are reduced to their facts.
//!
//! Survivors first seen at the last snapshot are not proof of anything (whatever was merely
//! alive at that moment is there), so the intervals that prove retention are `1..n-1`.

use std::collections::HashMap;
use std::ops::Range;

use serde::Serialize;

use super::collections::{CollectionFacts, CollectionSeries};
use super::summary::summarize;
use super::verdict::ENGINE_CLASSES;
use crate::snapshot::{HeapGraph, NodeIndex};

/// How many survivors of each class and interval are kept as examples (for retainer paths).
pub const SAMPLES_PER_INTERVAL: usize = 32;

/// What is kept of one snapshot of the series.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotFacts {
    /// Nodes.
    pub node_count: u64,
    /// Edges.
    pub edge_count: u64,
    /// Sum of self sizes.
    pub total_self_size: u64,
    /// Sum of self sizes with V8's own classes ([`ENGINE_CLASSES`]) left out: what the app
    /// keeps.
    pub app_self_size: u64,
    /// Largest heap (odd) object id.
    pub max_heap_id: u32,
    #[serde(skip)]
    classes: HashMap<String, (u64, u64)>,
    #[serde(skip)]
    collections: CollectionFacts,
}

impl SnapshotFacts {
    /// Facts with no class table, for series built by hand (tests, synthetic series).
    pub fn from_totals(total_self_size: u64, app_self_size: u64, max_heap_id: u32) -> Self {
        SnapshotFacts {
            node_count: 0,
            edge_count: 0,
            total_self_size,
            app_self_size,
            max_heap_id,
            classes: HashMap::new(),
            collections: CollectionFacts::new(),
        }
    }
}

/// One class across the series.
#[derive(Debug, Clone, Serialize)]
pub struct ClassSeries {
    /// DevTools class name.
    pub class: String,
    /// Live objects in each snapshot.
    pub counts: Vec<u64>,
    /// Their self size in each snapshot.
    pub sizes: Vec<u64>,
    /// `survivors[k]`: objects of the last snapshot first seen at snapshot k (k = 0: already
    /// in the first snapshot).
    pub survivors: Vec<u64>,
    /// Self size of those survivors.
    pub survivor_sizes: Vec<u64>,
    /// Example survivors per interval (node indexes in the last graph), at most
    /// [`SAMPLES_PER_INTERVAL`] each; index 0 is empty.
    #[serde(skip)]
    pub samples: Vec<Vec<NodeIndex>>,
}

impl ClassSeries {
    /// Survivors in the intervals that prove retention (`1..n-1`).
    pub fn verified_survivors(&self) -> &[u64] {
        &self.survivors[verified_of(self.survivors.len())]
    }

    /// Change in live count from each snapshot to the next.
    pub fn count_deltas(&self) -> Vec<i64> {
        self.counts
            .windows(2)
            .map(|w| w[1] as i64 - w[0] as i64)
            .collect()
    }
}

/// The intervals that prove retention in a series of `n` snapshots: every one but the last
/// (`1..n-1`), none when there are fewer than three snapshots.
pub fn verified_of(n: usize) -> Range<usize> {
    if n < 3 {
        1..1
    } else {
        1..n - 1
    }
}

/// The comparison of a whole series.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diff {
    /// Facts of every snapshot, in order.
    pub snapshots: Vec<SnapshotFacts>,
    /// Every class seen in any snapshot, most survivors (after the first snapshot) first.
    pub classes: Vec<ClassSeries>,
    /// The collections of the last snapshot that were present (and at least
    /// [`super::collections::MIN_TRACKED_BYTES`]) in every snapshot from the second on.
    #[serde(skip)]
    pub collections: Vec<CollectionSeries>,
}

/// Builds a [`Diff`] one snapshot at a time, so only one graph is in memory at once.
#[derive(Debug, Default)]
pub struct DiffBuilder {
    earlier: Vec<SnapshotFacts>,
}

impl DiffBuilder {
    /// A builder with no snapshots yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a snapshot that is not the last.
    pub fn add_earlier(&mut self, graph: &HeapGraph) {
        let mut facts = facts_of(graph);
        facts.collections = super::collections::facts(graph);
        self.earlier.push(facts);
    }

    /// How many snapshots were added so far.
    pub fn len(&self) -> usize {
        self.earlier.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.earlier.is_empty()
    }

    /// Adds the last snapshot and compares the series.
    pub fn finish(self, last: &HeapGraph) -> Diff {
        self.compare(last)
    }

    /// Compares the series so far with `last` as its last snapshot, keeping the builder: a run
    /// that extends adds `last` as an earlier snapshot afterwards.
    pub fn compare(&self, last: &HeapGraph) -> Diff {
        let mut snapshots = self.earlier.clone();
        let last_facts = facts_of(last);
        // Ids only grow; a series out of order would make every range empty. Keep the bounds
        // monotonic so that such input gives odd numbers, not a panic.
        let mut bounds: Vec<u32> = Vec::with_capacity(snapshots.len());
        for s in &snapshots {
            let prev = bounds.last().copied().unwrap_or(0);
            bounds.push(s.max_heap_id.max(prev));
        }
        let earlier_collections: Vec<&CollectionFacts> =
            snapshots.iter().map(|s| &s.collections).collect();
        let collections = super::collections::series(&earlier_collections, last);
        snapshots.push(last_facts);
        let n = snapshots.len();

        let classes = last.classify();
        let mut survivors = vec![vec![0u64; n]; classes.names.len()];
        let mut survivor_sizes = vec![vec![0u64; n]; classes.names.len()];
        let mut samples: Vec<Vec<Vec<NodeIndex>>> = vec![vec![Vec::new(); n]; classes.names.len()];
        for (node, &c) in classes.of_node.iter().enumerate() {
            let node = node as NodeIndex;
            let id = last.node_id(node);
            if id % 2 == 0 {
                continue;
            }
            // First snapshot whose max id covers this id; past all of them: the last one.
            let k = bounds.partition_point(|&max| max < id);
            let c = c as usize;
            survivors[c][k] += 1;
            survivor_sizes[c][k] += u64::from(last.self_size(node));
            if k > 0 && samples[c][k].len() < SAMPLES_PER_INTERVAL {
                samples[c][k].push(node);
            }
        }

        let mut series: HashMap<String, ClassSeries> = HashMap::new();
        for (c, name) in classes.names.iter().enumerate() {
            let entry = series
                .entry(name.clone())
                .or_insert_with(|| empty_series(name, n));
            for k in 0..n {
                entry.survivors[k] += survivors[c][k];
                entry.survivor_sizes[k] += survivor_sizes[c][k];
                let room = SAMPLES_PER_INTERVAL.saturating_sub(entry.samples[k].len());
                let take: Vec<NodeIndex> = samples[c][k].iter().copied().take(room).collect();
                entry.samples[k].extend(take);
            }
        }
        for (i, snapshot) in snapshots.iter().enumerate() {
            for (name, &(count, size)) in &snapshot.classes {
                let entry = series
                    .entry(name.clone())
                    .or_insert_with(|| empty_series(name, n));
                entry.counts[i] = count;
                entry.sizes[i] = size;
            }
        }
        let mut classes: Vec<ClassSeries> = series.into_values().collect();
        classes.sort_by(|a, b| {
            let new = |s: &ClassSeries| s.survivors.iter().skip(1).sum::<u64>();
            new(b).cmp(&new(a)).then(a.class.cmp(&b.class))
        });
        Diff {
            snapshots,
            classes,
            collections,
        }
    }
}

fn empty_series(name: &str, n: usize) -> ClassSeries {
    ClassSeries {
        class: name.to_string(),
        counts: vec![0; n],
        sizes: vec![0; n],
        survivors: vec![0; n],
        survivor_sizes: vec![0; n],
        samples: vec![Vec::new(); n],
    }
}

fn facts_of(graph: &HeapGraph) -> SnapshotFacts {
    let summary = summarize(graph);
    let engine: u64 = summary
        .classes
        .iter()
        .filter(|c| ENGINE_CLASSES.contains(&c.class.as_str()))
        .map(|c| c.self_size)
        .sum();
    SnapshotFacts {
        node_count: summary.node_count,
        edge_count: summary.edge_count,
        total_self_size: summary.total_self_size,
        app_self_size: summary.total_self_size.saturating_sub(engine),
        max_heap_id: graph.max_heap_id(),
        collections: CollectionFacts::new(),
        classes: summary
            .classes
            .into_iter()
            .map(|c| (c.class, (c.count, c.self_size)))
            .collect(),
    }
}

/// A class that left survivors in every interval and grew in every interval: the shape of a
/// leak when nothing is known about the work done between snapshots.
#[derive(Debug, Clone, Serialize)]
pub struct GrowingClass {
    /// DevTools class name.
    pub class: String,
    /// Survivors per interval (`1..n`; the last one unverified).
    pub survivors: Vec<u64>,
    /// Live count change per interval.
    pub count_deltas: Vec<i64>,
    /// Mean survivors per verified interval (or per interval when there is none verified).
    pub survivors_per_interval: f64,
    /// Mean self size of those survivors per interval, in bytes.
    pub bytes_per_interval: f64,
}

impl Diff {
    /// Classes that left at least `min_survivors` survivors in every interval and whose live
    /// count grew in every interval, most survivors first.
    pub fn growing_classes(&self, min_survivors: u64) -> Vec<GrowingClass> {
        let n = self.snapshots.len();
        if n < 2 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for c in &self.classes {
            let intervals = &c.survivors[1..];
            let deltas = c.count_deltas();
            if intervals.iter().all(|&s| s >= min_survivors.max(1)) && deltas.iter().all(|&d| d > 0)
            {
                let counted_range = self.counted_intervals();
                let (counted, sizes) = (
                    &c.survivors[counted_range.clone()],
                    &c.survivor_sizes[counted_range],
                );
                let k = counted.len() as f64;
                out.push(GrowingClass {
                    class: c.class.clone(),
                    survivors: intervals.to_vec(),
                    count_deltas: deltas,
                    survivors_per_interval: counted.iter().sum::<u64>() as f64 / k,
                    bytes_per_interval: sizes.iter().sum::<u64>() as f64 / k,
                });
            }
        }
        out.sort_by(|a, b| {
            b.survivors_per_interval
                .total_cmp(&a.survivors_per_interval)
                .then(a.class.cmp(&b.class))
        });
        out
    }
}

impl Diff {
    /// The verified intervals of this series (see [`verified_of`]).
    pub fn verified(&self) -> Range<usize> {
        verified_of(self.snapshots.len())
    }

    /// The intervals whose survivors are counted when describing growth without a verdict
    /// (`leakgate diff`): the verified ones, or with only two snapshots the one interval there
    /// is (nothing can be verified then; its survivors are the best evidence available).
    pub fn counted_intervals(&self) -> Range<usize> {
        match self.snapshots.len() {
            2 => 1..2,
            n => verified_of(n),
        }
    }

    /// `(low, high)`: the objects first seen in the counted intervals (see
    /// [`Diff::counted_intervals`]) are those of the last snapshot with `low < id <= high`.
    /// `None` with fewer than two snapshots. Ids only grow; the bounds are kept monotonic so
    /// that a series out of order gives an empty range, not a panic.
    pub fn verified_ids(&self) -> Option<(u32, u32)> {
        let range = self.counted_intervals();
        if range.is_empty() {
            return None;
        }
        let mut bounds = Vec::with_capacity(self.snapshots.len());
        for s in &self.snapshots {
            let prev = bounds.last().copied().unwrap_or(0);
            bounds.push(s.max_heap_id.max(prev));
        }
        let high = if range.end == self.snapshots.len() {
            u32::MAX
        } else {
            bounds[range.end - 1]
        };
        Some((bounds[range.start - 1], high))
    }

    /// The self sizes of the survivors of `last` (first seen in a verified interval), as size
    /// → how many: one table per class of `wanted`, and one for every other survivor on V8's
    /// heap (native and synthetic nodes, which stand for no allocation there, left out). One
    /// pass over the graph, whatever the number of classes.
    pub fn survivor_sizes(&self, last: &HeapGraph, wanted: &[&str]) -> SurvivorSizes {
        let mut out = SurvivorSizes {
            of_class: vec![HashMap::new(); wanted.len()],
            others: HashMap::new(),
        };
        let Some((low, high)) = self.verified_ids() else {
            return out;
        };
        let classes = last.classify();
        let slot: Vec<Option<usize>> = classes
            .names
            .iter()
            .map(|name| wanted.iter().position(|w| w == name))
            .collect();
        let off_heap: Vec<bool> = last
            .node_type_names
            .iter()
            .map(|t| t == "native" || t == "synthetic")
            .collect();
        for (node, &class) in classes.of_node.iter().enumerate() {
            let node = node as NodeIndex;
            let id = last.node_id(node);
            if id % 2 == 0 || id <= low || id > high {
                continue;
            }
            let size = u64::from(last.self_size(node));
            let table = match slot.get(class as usize).copied().flatten() {
                Some(c) => &mut out.of_class[c],
                None if off_heap
                    .get(last.node_type_code(node) as usize)
                    .copied()
                    .unwrap_or(false) =>
                {
                    continue
                }
                None => &mut out.others,
            };
            *table.entry(size).or_insert(0) += 1;
        }
        out
    }

    /// The nodes of `last` (the graph this diff was finished with) of class `class` that were
    /// first seen in a verified interval (`1..n-1`; with two snapshots, in the last one).
    pub fn survivors_of(&self, last: &HeapGraph, class: &str) -> Vec<NodeIndex> {
        let Some((low, high)) = self.verified_ids() else {
            return Vec::new();
        };
        let classes = last.classify();
        let Some(wanted) = classes.names.iter().position(|c| c == class) else {
            return Vec::new();
        };
        classes
            .of_node
            .iter()
            .enumerate()
            .filter(|&(node, &c)| {
                let id = last.node_id(node as NodeIndex);
                c as usize == wanted && id % 2 == 1 && id > low && id <= high
            })
            .map(|(node, _)| node as NodeIndex)
            .collect()
    }
}

/// Survivors' self sizes (size → how many), from [`Diff::survivor_sizes`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SurvivorSizes {
    /// Per wanted class, in the order asked.
    pub of_class: Vec<HashMap<u64, u64>>,
    /// Every other survivor on V8's heap.
    pub others: HashMap<u64, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series_of(max_ids: &[u32]) -> Diff {
        Diff {
            snapshots: max_ids
                .iter()
                .map(|&max_heap_id| SnapshotFacts::from_totals(0, 0, max_heap_id))
                .collect(),
            classes: Vec::new(),
            collections: Vec::new(),
        }
    }

    #[test]
    fn every_interval_but_the_last_is_verified() {
        assert_eq!(verified_of(0), 1..1);
        assert_eq!(verified_of(2), 1..1);
        assert_eq!(verified_of(3), 1..2);
        assert_eq!(verified_of(4), 1..3);
        let d = series_of(&[100, 200, 300, 400]);
        assert_eq!(d.verified(), 1..3);
        assert_eq!(d.verified_ids(), Some((100, 300)));
    }

    #[test]
    fn two_snapshots_count_their_one_interval_and_one_counts_nothing() {
        let d = series_of(&[100, 200]);
        assert!(d.verified().is_empty());
        assert_eq!(d.counted_intervals(), 1..2);
        assert_eq!(d.verified_ids(), Some((100, u32::MAX)));
        assert_eq!(series_of(&[100]).verified_ids(), None);
    }

    #[test]
    fn id_bounds_stay_monotonic_on_a_series_out_of_order() {
        let d = series_of(&[300, 100, 200, 50]);
        assert_eq!(d.verified_ids(), Some((300, 300)));
    }
}
