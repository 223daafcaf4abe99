//! Reading `edges`: into the edge columns, or only checked and counted.
//!
//! A reader that needs only the nodes (the class table of `leakgate summary`) can leave the
//! edges out ([`Edges::Check`]): they are still read and checked as strictly, so the same input
//! gets the same error, but not stored. Edges are two thirds of a snapshot's records; not
//! keeping them saves their memory (9 bytes an edge) and the time to write it: storing them
//! and faulting in their columns was about a third of the parsing thread's time in a profile
//! of the 293 MiB benchmark snapshot. Their names point into the string table, which comes
//! after them in the file, so what checking them later needs is kept ([`NameChecks`]).

use super::chunks::ChunkSource;
use super::graph::HeapGraph;
use super::layout::{EdgeField, Layout};
use super::reader::{bad_type, reserve_toward, too_many, Records};
use super::scan::Scanner;
use super::SnapshotError;

/// What the reader does with the edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edges {
    /// Keeps them in the graph.
    Keep,
    /// Reads and checks them, and keeps only their count: the graph has no edges to walk.
    Check,
}

#[cold]
fn bad_target(edge: usize, offset: u32) -> SnapshotError {
    SnapshotError::Inconsistent {
        message: format!("edge {edge} points at nodes offset {offset}, which is not a node"),
    }
}

/// Reads `edges` into the edge columns, turning `to_node` offsets into node indexes.
pub(super) fn read_edges<S: ChunkSource>(
    sc: &mut Scanner<S>,
    layout: &Layout,
    g: &mut HeapGraph,
) -> Result<(), SnapshotError> {
    let type_count = g.edge_type_names.len() as u32;
    scan_edges(sc, layout, type_count, &mut KeptEdges(g))?;
    Ok(())
}

/// Reads `edges` with every check [`read_edges`] makes, keeping only their count (in
/// `skipped_edges`) and what [`NameChecks`] needs to check their names later.
pub(super) fn check_edges<S: ChunkSource>(
    sc: &mut Scanner<S>,
    layout: &Layout,
    g: &mut HeapGraph,
    names: &mut NameChecks,
) -> Result<(), SnapshotError> {
    let type_count = g.edge_type_names.len() as u32;
    let by_index = indexed_edge_types(g);
    let mut sink = CheckedEdges { names, by_index };
    g.skipped_edges = scan_edges(sc, layout, type_count, &mut sink)?;
    Ok(())
}

/// Where [`scan_edges`] puts each edge once it is checked.
trait EdgeSink {
    /// `more` edges follow, of `total` at most.
    fn reserve(&mut self, more: usize, total: usize);
    /// Edge `index`: its type, its `name_or_index` and the node index it points at.
    fn edge(&mut self, index: usize, edge_type: u32, name: u32, to_node: u32);
}

/// Into the graph's edge columns.
struct KeptEdges<'a>(&'a mut HeapGraph);

impl EdgeSink for KeptEdges<'_> {
    fn reserve(&mut self, more: usize, total: usize) {
        reserve_toward(&mut self.0.edge_type, more, total);
        reserve_toward(&mut self.0.edge_name, more, total);
        reserve_toward(&mut self.0.edge_to, more, total);
    }

    fn edge(&mut self, _index: usize, edge_type: u32, name: u32, to_node: u32) {
        self.0.edge_type.push(edge_type as u8);
        self.0.edge_name.push(name);
        self.0.edge_to.push(to_node);
    }
}

/// Only what checking the names later needs.
struct CheckedEdges<'a> {
    names: &'a mut NameChecks,
    /// Per edge type: whether its name is an index ([`indexed_edge_types`]).
    by_index: Vec<bool>,
}

impl EdgeSink for CheckedEdges<'_> {
    fn reserve(&mut self, _more: usize, _total: usize) {}

    fn edge(&mut self, index: usize, edge_type: u32, name: u32, _to_node: u32) {
        if !self.by_index[edge_type as usize] {
            self.names.see(index, name);
        }
    }
}

/// Reads and checks `edges` (types in range, targets on a node, the count the meta data gives)
/// into `sink`; returns how many there were. Generic over the sink, so each reading mode gets
/// its own loop with no call per edge.
fn scan_edges<S: ChunkSource>(
    sc: &mut Scanner<S>,
    layout: &Layout,
    type_count: u32,
    sink: &mut impl EdgeSink,
) -> Result<usize, SnapshotError> {
    let m = layout.edge_count as usize;
    let width = layout.edge_fields.len();
    let at = |f: EdgeField| layout.edge_fields.iter().position(|x| *x == f).unwrap_or(0);
    let (type_pos, name_pos, to_pos) = (
        at(EdgeField::Type),
        at(EdgeField::NameOrIndex),
        at(EdgeField::ToNode),
    );
    let node_width = layout.node_fields.len() as u32;
    let node_count = layout.node_count;
    let mut seen = 0usize;
    let mut records = Records::new(width);
    let count = sc.read_u32_array("`edges`", |batch| {
        records.feed(batch, |run| {
            let more = run.len() / width;
            if seen + more > m {
                return Err(too_many("edges", "edge_count", layout.edge_count));
            }
            sink.reserve(more, m);
            for rec in run.chunks_exact(width) {
                let t = rec[type_pos];
                if t >= type_count {
                    return Err(bad_type("edge", seen, t, type_count));
                }
                let v = rec[to_pos];
                // Division by a constant is far cheaper than by a variable: V8 writes 7 or 6.
                let (ordinal, rest) = match node_width {
                    7 => (v / 7, v % 7),
                    6 => (v / 6, v % 6),
                    w => (v / w, v % w),
                };
                if rest != 0 || ordinal >= node_count {
                    return Err(bad_target(seen, v));
                }
                sink.edge(seen, t, rec[name_pos], ordinal);
                seen += 1;
            }
            Ok(())
        })
    })?;
    let expected = layout.edge_count as u64 * width as u64;
    if count != expected {
        return Err(SnapshotError::Inconsistent {
            message: format!(
                "`edges` holds {count} numbers, but edge_count {} × {width} fields is {expected}",
                layout.edge_count
            ),
        });
    }
    Ok(seen)
}

/// The names of edges not kept, reduced to what finds the first one outside the string table
/// (which comes later in the file): each edge whose name is larger than every name before it.
/// The first edge whose name is past the table is one of them.
#[derive(Debug, Default)]
pub(super) struct NameChecks {
    records: Vec<(usize, u32)>,
}

impl NameChecks {
    pub(super) fn see(&mut self, edge: usize, name: u32) {
        if self.records.last().is_none_or(|&(_, top)| name > top) {
            self.records.push((edge, name));
        }
    }

    /// The error [`check_names`] gives for kept edges, for the first one past `strings`.
    pub(super) fn check(&self, strings: u32) -> Result<(), SnapshotError> {
        match self.records.iter().find(|&&(_, name)| name >= strings) {
            Some(&(e, name)) => Err(bad_edge_name(e, name, strings)),
            None => Ok(()),
        }
    }
}

/// Per edge type: whether its `name_or_index` is an index (`element`, `hidden`), not a string.
pub(super) fn indexed_edge_types(g: &HeapGraph) -> Vec<bool> {
    g.edge_type_names
        .iter()
        .map(|t| t == "element" || t == "hidden")
        .collect()
}

#[cold]
pub(super) fn bad_edge_name(e: usize, name: u32, strings: u32) -> SnapshotError {
    SnapshotError::Inconsistent {
        message: format!("edge {e} is named by string {name}, but there are {strings} strings"),
    }
}

#[cfg(test)]
mod tests {
    use super::NameChecks;

    #[test]
    fn the_first_edge_past_the_string_table_is_found_without_the_edges() {
        let mut names = NameChecks::default();
        for (e, name) in [1, 5, 3, 9, 2, 7].into_iter().enumerate() {
            names.see(e, name);
        }
        assert!(names.check(10).is_ok());
        let message = names.check(4).expect_err("past the table").to_string();
        assert!(
            message.contains("edge 1 is named by string 5, but there are 4 strings"),
            "{message}"
        );
        let message = names.check(6).expect_err("past the table").to_string();
        assert!(message.contains("edge 3 is named by string 9"), "{message}");
    }
}
