//! Growth without new objects: collections that keep growing in place.
//!
//! `latencies.push(Date.now() - t0)` keeps a small integer per request, stored inline in the
//! array's backing store; `seen.set(Number(id), 1)` keeps two numbers in a Map's hash table;
//! `log += line` makes a longer string each time. None of them adds a heap object per
//! request, so counting survivors by class sees nothing, and the heap grows by a few bytes per
//! request in steps (a backing store is reallocated 1.5x or 2x when full).
//!
//! So collections are followed across snapshots by **slot**: the holder's id (ids are stable
//! across snapshots of one process) and the name of the edge that holds the collection (a
//! variable of a closure context, a property, an element index). Following the slot rather
//! than the collection's own id also follows what is replaced on growth: a string rebuilt by
//! `+=`, a typed array re-allocated bigger, an array reassigned. A collection's **size** is its
//! own size plus its backing stores' (`elements`, `table`, `properties`, and a typed array's
//! off-heap `buffer`); for a string, the size of its whole rope. Its **elements** are the heap
//! objects its backing store points at, where V8 records them (small integers and doubles
//! stored inline have no edges, so for those only bytes tell).
//!
//! To keep memory bounded, an earlier snapshot records only slots whose collection is at least
//! [`MIN_TRACKED_BYTES`]: a leak is that big soon after the warm-up.
//!
//! A slot is a suspect when its size never falls from snapshot 1 on, grows in both windows of
//! the run (see [`super::noise`]) at rates within [`super::noise::MAX_RATE_RATIO`], and grows by
//! at least [`MIN_GROWTH_BYTES`] in all. A ring buffer, a bounded Map (their tables stay
//! the same size once full) and a cache that evicts do not grow; a structure built once grows in
//! one window only.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::Range;

use serde::Serialize;

use super::noise::{proportional, split};
use crate::snapshot::{HeapGraph, NodeIndex};

/// Collections smaller than this in an earlier snapshot are not recorded, bytes.
pub const MIN_TRACKED_BYTES: u64 = 1024;

/// The least growth over the measured snapshots for a collection to be a suspect, bytes.
pub const MIN_GROWTH_BYTES: f64 = 4096.0;

/// How much a backing store grows when V8 reallocates it (1.5x, plus a little), with margin:
/// a window whose requests grow by this factor sees a growing collection grow.
const REGROWTH_FACTOR: f64 = 1.6;

/// The internal edges from a container to its backing stores.
const STORE_EDGES: [&str; 3] = ["elements", "table", "properties"];

/// Where a collection is held: its holder's id and the edge's name (hashed: string-table
/// indexes differ between snapshots, names do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot {
    holder_id: u32,
    edge: u64,
}

/// A collection's size in one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Size {
    /// Own size plus backing stores, bytes.
    pub bytes: u64,
    /// Heap objects in its backing store (0 where V8 records none).
    pub elements: u64,
}

/// The collections of one snapshot at least [`MIN_TRACKED_BYTES`] big, by slot.
pub type CollectionFacts = HashMap<Slot, Size>;

/// Codes looked up once per graph.
struct Kinds {
    object: Option<u8>,
    strings: [Option<u8>; 3],
    internal_edge: Option<u8>,
    skip_edges: [Option<u8>; 3],
    element_edge: Option<u8>,
}

impl Kinds {
    fn of(graph: &HeapGraph) -> Kinds {
        let node = |name: &str| graph.node_type_names.iter().position(|t| t == name);
        let edge = |name: &str| graph.edge_type_names.iter().position(|t| t == name);
        let u8_of = |p: Option<usize>| p.and_then(|p| u8::try_from(p).ok());
        Kinds {
            object: u8_of(node("object")),
            strings: [
                u8_of(node("string")),
                u8_of(node("concatenated string")),
                u8_of(node("sliced string")),
            ],
            internal_edge: u8_of(edge("internal")),
            skip_edges: [
                u8_of(edge("weak")),
                u8_of(edge("shortcut")),
                u8_of(edge("hidden")),
            ],
            element_edge: u8_of(edge("element")),
        }
    }

    fn is_string(&self, graph: &HeapGraph, n: NodeIndex) -> bool {
        let t = Some(graph.node_type_code(n));
        self.strings.contains(&t)
    }
}

fn hash_name(name: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

/// Measures collections in `graph`: for each slot (holder, edge) whose target is a collection
/// of at least `min_bytes`, its size and the target node.
pub fn measure(graph: &HeapGraph, min_bytes: u64) -> HashMap<Slot, (Size, NodeIndex)> {
    let kinds = Kinds::of(graph);
    let mut rope_sizes: HashMap<NodeIndex, u64> = HashMap::new();
    let mut container_sizes: HashMap<NodeIndex, Size> = HashMap::new();
    let mut out = HashMap::new();
    for holder in 0..graph.node_count() as NodeIndex {
        let holder_id = graph.node_id(holder);
        // Embedder nodes get fresh ids in every snapshot; only heap objects can be followed.
        if holder_id % 2 == 0 {
            continue;
        }
        for e in graph.edges(holder) {
            let t = Some(graph.edge_type_code(e));
            if kinds.skip_edges.contains(&t) || t == kinds.internal_edge {
                continue;
            }
            let target = graph.edge_to(e);
            let size = if kinds.is_string(graph, target) {
                let bytes = rope_size(graph, &kinds, target, &mut rope_sizes);
                Size { bytes, elements: 0 }
            } else if Some(graph.node_type_code(target)) == kinds.object {
                *container_sizes
                    .entry(target)
                    .or_insert_with(|| container_size(graph, &kinds, target))
            } else {
                continue;
            };
            if size.bytes < min_bytes {
                continue;
            }
            let edge = if t == kinds.element_edge {
                u64::from(graph.edge_name_raw(e))
            } else {
                hash_name(&graph.edge_name(e))
            };
            out.insert(Slot { holder_id, edge }, (size, target));
        }
    }
    out
}

/// A container's own size plus its backing stores', and the heap objects they point at.
fn container_size(graph: &HeapGraph, kinds: &Kinds, node: NodeIndex) -> Size {
    let mut size = Size {
        bytes: u64::from(graph.self_size(node)),
        elements: 0,
    };
    for e in graph.edges(node) {
        if Some(graph.edge_type_code(e)) != kinds.internal_edge {
            continue;
        }
        let name = graph.edge_name(e);
        let store = graph.edge_to(e);
        if STORE_EDGES.contains(&name.as_ref()) {
            size.bytes += u64::from(graph.self_size(store));
            size.elements += graph
                .edges(store)
                .filter(|&s| graph.edge_name(s) != "map")
                .count() as u64;
        } else if name == "buffer" {
            // A typed array's ArrayBuffer and its off-heap backing store.
            for s in graph.edges(store) {
                if graph.edge_name(s) == "backing_store" {
                    size.bytes += u64::from(graph.self_size(graph.edge_to(s)));
                }
            }
        }
    }
    size
}

/// The bytes of a string's whole rope (a concatenated string's parts, recursively; shared
/// parts counted once per path, which ropes built by `+=` do not have).
fn rope_size(
    graph: &HeapGraph,
    kinds: &Kinds,
    node: NodeIndex,
    memo: &mut HashMap<NodeIndex, u64>,
) -> u64 {
    if let Some(&size) = memo.get(&node) {
        return size;
    }
    // Iterative post-order: ropes built by `+=` are as deep as they are long.
    let mut stack = vec![(node, false)];
    while let Some((n, expanded)) = stack.pop() {
        if memo.contains_key(&n) {
            continue;
        }
        let parts: Vec<NodeIndex> = graph
            .edges(n)
            .filter(|&e| {
                let name = graph.edge_name(e);
                name == "first" || name == "second" || name == "parent"
            })
            .map(|e| graph.edge_to(e))
            .filter(|&p| kinds.is_string(graph, p))
            .collect();
        if expanded || parts.is_empty() {
            let sum: u64 = parts
                .iter()
                .map(|p| memo.get(p).copied().unwrap_or(0))
                .sum();
            memo.insert(n, u64::from(graph.self_size(n)) + sum);
        } else {
            stack.push((n, true));
            stack.extend(parts.into_iter().map(|p| (p, false)));
        }
    }
    memo.get(&node).copied().unwrap_or(0)
}

/// Only the sizes, for an earlier snapshot.
pub fn facts(graph: &HeapGraph) -> CollectionFacts {
    measure(graph, MIN_TRACKED_BYTES)
        .into_iter()
        .map(|(slot, (size, _))| (slot, size))
        .collect()
}

/// One collection across the series.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionSeries {
    /// The collection's class in the last snapshot (`Array`, `Map`, `(concatenated string)`).
    pub class: String,
    /// The edge that holds it (`latencies`, `[3]`).
    pub edge: String,
    /// The holder's class (`system / Context` for a closure or module variable).
    pub holder_class: String,
    /// Its size at each snapshot (zero where it was absent or below [`MIN_TRACKED_BYTES`]).
    pub sizes: Vec<Size>,
    /// The collection in the last graph, for its retainer path.
    #[serde(skip)]
    pub node: NodeIndex,
}

/// Follows the collections of `last` back through `earlier` facts: only slots present in
/// every snapshot from the second on (the first is the warm-up's).
pub fn series(earlier: &[&CollectionFacts], last: &HeapGraph) -> Vec<CollectionSeries> {
    let mut out = Vec::new();
    let index_of_holder = holders_by_id(last);
    for (slot, (size, node)) in measure(last, MIN_TRACKED_BYTES) {
        let mut sizes: Vec<Size> = earlier
            .iter()
            .map(|f| f.get(&slot).copied().unwrap_or_default())
            .collect();
        if sizes.iter().skip(1).any(|s| s.bytes == 0) {
            continue;
        }
        sizes.push(size);
        let Some(&holder) = index_of_holder.get(&slot.holder_id) else {
            continue;
        };
        let edge = graph_edge_name(last, holder, node, slot);
        out.push(CollectionSeries {
            class: class_of(last, node),
            edge,
            holder_class: class_of(last, holder),
            sizes,
            node,
        });
    }
    out.sort_by(|a, b| a.edge.cmp(&b.edge).then(a.class.cmp(&b.class)));
    out
}

fn class_of(graph: &HeapGraph, n: NodeIndex) -> String {
    match graph.node_type_name(n) {
        "object" | "native" => graph.node_name(n).to_string(),
        other => crate::snapshot::type_label(other),
    }
}

fn holders_by_id(graph: &HeapGraph) -> HashMap<u32, NodeIndex> {
    (0..graph.node_count() as NodeIndex)
        .filter(|&n| graph.node_id(n) % 2 == 1)
        .map(|n| (graph.node_id(n), n))
        .collect()
}

fn graph_edge_name(graph: &HeapGraph, holder: NodeIndex, node: NodeIndex, slot: Slot) -> String {
    graph
        .edges(holder)
        .find(|&e| {
            graph.edge_to(e) == node
                && (hash_name(&graph.edge_name(e)) == slot.edge
                    || u64::from(graph.edge_name_raw(e)) == slot.edge)
        })
        .map(|e| graph.edge_name(e).into_owned())
        .unwrap_or_default()
}

/// A collection that grows with the requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionSuspect {
    /// The collection's class (`Array`, `Map`, `Set`, `Float64Array`, `(concatenated string)`).
    pub class: String,
    /// The variable or property that holds it.
    pub edge: String,
    /// The holder's class.
    pub holder_class: String,
    /// Growth of its size per request over the measured snapshots, bytes.
    pub bytes_per_request: f64,
    /// Growth of its element count per request (0 where V8 records no element edges).
    pub elements_per_request: f64,
    /// Its size at each snapshot, bytes.
    pub bytes_by_snapshot: Vec<u64>,
    /// Its element count at each snapshot.
    pub elements_by_snapshot: Vec<u64>,
    /// The shortest retainer path from a GC root (filled by the explanation).
    pub retainer_path: Option<String>,
    /// The collection in the last graph.
    #[serde(skip)]
    pub node: NodeIndex,
}

/// What the collections of a series say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectionVerdict {
    /// Collections that grow with the requests, largest growth first.
    pub suspects: Vec<CollectionSuspect>,
    /// Collections that never fall and grew enough, but in one window only (a backing store
    /// regrown 1.5x may not be reallocated in a short window): a longer run decides.
    pub borderline: Vec<String>,
}

/// Judges `series`, whose snapshots are `interval_requests` apart.
pub fn judge(series: &[CollectionSeries], interval_requests: &[f64]) -> CollectionVerdict {
    let m = interval_requests.len();
    let mut out = CollectionVerdict::default();
    let Some((a, b)) = split(interval_requests, 1..m) else {
        return out;
    };
    let mut seen = std::collections::HashSet::new();
    for c in series {
        if c.sizes.len() != m + 1 || !seen.insert(c.node) {
            continue;
        }
        let bytes: Vec<f64> = c.sizes.iter().map(|s| s.bytes as f64).collect();
        let never_falls = bytes[1..].windows(2).all(|w| w[1] >= w[0]);
        let growth = |w: &Range<usize>| bytes[w.end] - bytes[w.start];
        let requests = |w: &Range<usize>| interval_requests[w.clone()].iter().sum::<f64>();
        let grown = [growth(&a), growth(&b)];
        let rates = [grown[0] / requests(&a), grown[1] / requests(&b)];
        let total = bytes[m] - bytes[1];
        if !never_falls || total < MIN_GROWTH_BYTES {
            continue;
        }
        if !proportional(rates) {
            // A backing store regrown 1.5x is reallocated at least once while its length grows
            // by more than that: a later window that long and flat means it stopped growing.
            let at = |k: usize| interval_requests[..k].iter().sum::<f64>();
            let long_enough = at(b.end) >= REGROWTH_FACTOR * at(b.start);
            if grown[1] < 0.0 || (grown[1] == 0.0 && long_enough) {
                continue;
            }
            out.borderline.push(format!(
                "`{}` ({}) grew by {:.0} and {:.0} bytes in the two halves of the run",
                c.edge, c.class, grown[0], grown[1]
            ));
            continue;
        }
        let measured: f64 = interval_requests[1..].iter().sum();
        let elements = c.sizes[m].elements as f64 - c.sizes[1].elements as f64;
        out.suspects.push(CollectionSuspect {
            class: c.class.clone(),
            edge: c.edge.clone(),
            holder_class: c.holder_class.clone(),
            bytes_per_request: total / measured,
            elements_per_request: elements.max(0.0) / measured,
            bytes_by_snapshot: c.sizes.iter().map(|s| s.bytes).collect(),
            elements_by_snapshot: c.sizes.iter().map(|s| s.elements).collect(),
            retainer_path: None,
            node: c.node,
        });
    }
    out.suspects.sort_by(|x, y| {
        y.bytes_per_request
            .total_cmp(&x.bytes_per_request)
            .then(x.edge.cmp(&y.edge))
    });
    out
}

/// The verdict's reason for growing collections (`suspects` largest first), if any.
pub fn reason(suspects: &[CollectionSuspect]) -> Option<String> {
    let top = suspects.first()?;
    Some(format!(
        "{} collection(s) grow in proportion to the requests, largest `{}` ({}) by {:.1} bytes \
         per request",
        suspects.len(),
        top.edge,
        top.class,
        top.bytes_per_request
    ))
}

/// Fills in the retainer path of each suspect, from `graph` (the last snapshot's).
pub fn explain(graph: &HeapGraph, suspects: &mut [CollectionSuspect]) {
    if suspects.is_empty() {
        return;
    }
    let paths = super::retainers::RootPaths::new(graph);
    for s in suspects {
        s.retainer_path = Some(paths.describe(graph, s.node).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(bytes: &[u64]) -> CollectionSeries {
        CollectionSeries {
            class: "Array".into(),
            edge: "latencies".into(),
            holder_class: "system / Context".into(),
            sizes: bytes
                .iter()
                .map(|&b| Size {
                    bytes: b,
                    elements: 0,
                })
                .collect(),
            node: 0,
        }
    }

    const R: [f64; 3] = [2000.0; 3];

    #[test]
    fn a_staircase_that_keeps_rising_is_a_suspect() {
        // 8 bytes an element, backing store regrown 1.5x: 20 KB, 30 KB, 45 KB, 68 KB.
        let found = judge(&[sizes(&[4_000, 20_000, 30_000, 45_000])], &R).suspects;
        assert_eq!(found.len(), 1);
        assert!((found[0].bytes_per_request - 25_000.0 / 4000.0).abs() < 1e-9);
    }

    #[test]
    fn bounded_built_once_and_shrinking_collections_are_not() {
        let cases = [
            // A ring buffer, full since the warm-up.
            [80_000, 80_000, 80_000, 80_000],
            // Built in one window.
            [1_000, 1_000, 90_000, 90_000],
            // Grows, then is trimmed.
            [1_000, 20_000, 40_000, 10_000],
            // Grows by less than MIN_GROWTH_BYTES in all.
            [1_000, 2_000, 3_000, 4_000],
        ];
        for case in cases {
            let verdict = judge(&[sizes(&case)], &R);
            assert!(verdict.suspects.is_empty(), "{case:?}");
        }
    }

    #[test]
    fn a_staircase_with_a_flat_window_is_borderline() {
        // Not reallocated in the last 2000 requests: a longer run decides.
        let verdict = judge(&[sizes(&[4_000, 20_000, 30_000, 30_000])], &R);
        assert!(verdict.suspects.is_empty());
        assert_eq!(verdict.borderline.len(), 1);
        // Built once, in the first measured window: also borderline, and decided clean on a
        // longer run, where it stays flat.
        let r = [2000.0, 2000.0, 2000.0, 6000.0, 12_000.0];
        let verdict = judge(
            &[sizes(&[4_000, 20_000, 30_000, 30_000, 30_000, 30_000])],
            &r,
        );
        assert!(verdict.suspects.is_empty() && verdict.borderline.is_empty());
    }
}
