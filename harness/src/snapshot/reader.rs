//! Reads a `.heapsnapshot` into a [`HeapGraph`] in one streaming pass.
//!
//! The field layouts come from `snapshot.meta`, never from constants, so a V8 that adds a node
//! field (as `detachedness` was added) or a node type (`wasm object`) is read as it declares
//! itself. `strings` comes last in the file, so names stay integers until the end, and are
//! checked against the string table once it is read.
//! `edges` are read by [`super::edges`], kept or only checked.

use super::chunks::ChunkSource;
use super::edges::{check_edges, indexed_edge_types, read_edges, Edges, NameChecks};
use super::graph::{HeapGraph, SourceLocation};
use super::layout::{layout_from, Header, Layout, NodeField};
use super::scan::Scanner;
use super::trace::{check_trace_tree, read_trace_tree, trace_functions_from, TraceNodeLayout};
use super::SnapshotError;

/// Largest header accepted; real ones are under 2 KB.
const HEADER_LIMIT: usize = 1 << 20;

/// Reads a whole snapshot from `source`.
pub(crate) fn read_graph<S: ChunkSource>(
    source: S,
    edges: Edges,
) -> Result<HeapGraph, SnapshotError> {
    let mut sc = Scanner::new(source);
    let mut graph = HeapGraph::default();
    let mut layout: Option<Layout> = None;
    let mut seen_nodes = false;
    let mut seen_edges = false;
    let mut seen_strings = false;
    let mut raw_locations: Vec<u32> = Vec::new();
    let mut raw_functions: Vec<u32> = Vec::new();
    // The names of edges read and not kept, as far as checking them needs (see `NameChecks`).
    let mut edge_names = NameChecks::default();

    match sc.peek_token()? {
        Some(b'{') => sc.bump(),
        found => return Err(not_a_snapshot(&sc, found)),
    }
    if sc.peek_token()? == Some(b'}') {
        return Err(SnapshotError::NotASnapshot {
            offset: sc.offset(),
            reason: "the JSON object is empty".to_string(),
        });
    }
    loop {
        let mut key = Vec::new();
        let key_offset = sc.offset();
        if layout.is_none() && sc.peek_token()? != Some(b'"') {
            let found = sc.peek_token()?;
            return Err(not_a_snapshot(&sc, found));
        }
        sc.read_string(&mut key, "a top-level key")?;
        sc.expect(b':', "a top-level key")?;
        let seen = match key.as_slice() {
            b"snapshot" => layout.is_some(),
            b"nodes" => seen_nodes,
            b"edges" => seen_edges,
            b"strings" => seen_strings,
            _ => false,
        };
        if seen {
            // A second copy would be read with (or would change) the layout the first was read
            // with, so columns would disagree with each other.
            return Err(SnapshotError::Inconsistent {
                message: format!(
                    "`{}` (at byte {key_offset}) appears more than once",
                    String::from_utf8_lossy(&key)
                ),
            });
        }
        match key.as_slice() {
            b"snapshot" => {
                let mut raw = Vec::new();
                let at = sc.offset();
                sc.skip_value(Some(&mut raw), HEADER_LIMIT, "the `snapshot` header")?;
                let header: Header =
                    serde_json::from_slice(&raw).map_err(|e| SnapshotError::Header {
                        offset: at,
                        message: e.to_string(),
                    })?;
                let (node_types, edge_types, l) = layout_from(header, at)?;
                graph.node_type_names = node_types;
                graph.edge_type_names = edge_types;
                layout = Some(l);
            }
            b"nodes" => {
                let l = need_layout(&layout, "nodes", key_offset)?;
                read_nodes(&mut sc, l, &mut graph, edges)?;
                seen_nodes = true;
            }
            b"edges" => {
                let l = need_layout(&layout, "edges", key_offset)?;
                if !seen_nodes {
                    return Err(SnapshotError::Inconsistent {
                        message: format!("`edges` (at byte {key_offset}) comes before `nodes`"),
                    });
                }
                match edges {
                    Edges::Keep => read_edges(&mut sc, l, &mut graph)?,
                    Edges::Check => check_edges(&mut sc, l, &mut graph, &mut edge_names)?,
                }
                seen_edges = true;
            }
            b"strings" => {
                read_strings(&mut sc, &mut graph)?;
                seen_strings = true;
            }
            b"locations" => {
                sc.read_u32_array("`locations`", |batch| {
                    raw_locations.extend_from_slice(batch);
                    Ok(())
                })?;
            }
            b"trace_function_infos" => {
                sc.read_u32_array("`trace_function_infos`", |batch| {
                    raw_functions.extend_from_slice(batch);
                    Ok(())
                })?;
            }
            b"trace_tree" => match layout.as_ref().and_then(TraceNodeLayout::of) {
                Some(l) => read_trace_tree(&mut sc, &l, &mut graph)?,
                None => sc.skip_value(None, 0, "`trace_tree`")?,
            },
            b"samples" => {
                let out = &mut graph.samples;
                sc.read_u32_array("`samples`", |batch| {
                    out.extend_from_slice(batch);
                    Ok(())
                })?;
            }
            _ => sc.skip_value(None, 0, "a top-level value")?,
        }
        match sc.peek_token()? {
            Some(b',') => sc.bump(),
            Some(b'}') => {
                sc.bump();
                break;
            }
            found => return Err(sc.unexpected(found, "`,` or `}`", "the top-level object")),
        }
    }
    if let Some(found) = sc.peek_token()? {
        return Err(sc.unexpected(Some(found), "the end of the file", "the top-level object"));
    }
    let Some(layout) = layout else {
        return Err(SnapshotError::NotASnapshot {
            offset: 0,
            reason: "there is no `snapshot` header".to_string(),
        });
    };
    for (seen, name) in [
        (seen_nodes, "nodes"),
        (seen_edges, "edges"),
        (seen_strings, "strings"),
    ] {
        if !seen {
            return Err(SnapshotError::Inconsistent {
                message: format!("the `{name}` section is missing"),
            });
        }
    }
    graph.locations = locations_from(&raw_locations, &layout, graph.node_count())?;
    graph.trace_functions = trace_functions_from(&raw_functions, &layout)?;
    check_trace_tree(&graph)?;
    check_names(&graph)?;
    edge_names.check(graph.strings.len() as u32)?;
    if edges == Edges::Check {
        // Every node without edges; zeroed pages cost nothing until read.
        graph.first_edge = vec![0; graph.node_count() + 1];
    }
    Ok(graph)
}

fn need_layout<'a>(
    layout: &'a Option<Layout>,
    section: &str,
    offset: u64,
) -> Result<&'a Layout, SnapshotError> {
    layout.as_ref().ok_or_else(|| SnapshotError::Inconsistent {
        message: format!("`{section}` (at byte {offset}) comes before the `snapshot` header"),
    })
}

fn not_a_snapshot<S: ChunkSource>(sc: &Scanner<S>, found: Option<u8>) -> SnapshotError {
    SnapshotError::NotASnapshot {
        offset: sc.offset(),
        reason: match found {
            None => "the file is empty".to_string(),
            Some(b) if b.is_ascii_graphic() => {
                format!(
                    "it does not start with `{{\"snapshot\":` (found `{}`)",
                    b as char
                )
            }
            Some(b) => format!("it does not start with `{{\"snapshot\":` (found byte 0x{b:02x})"),
        },
    }
}

/// Regroups batches of numbers into whole records of `width` fields.
pub(super) struct Records {
    width: usize,
    carry: Vec<u32>,
}

impl Records {
    pub(super) fn new(width: usize) -> Self {
        Records {
            width,
            carry: Vec::with_capacity(width),
        }
    }

    /// Calls `f` with runs of whole records (a multiple of `width` numbers).
    pub(super) fn feed<F>(&mut self, mut batch: &[u32], mut f: F) -> Result<(), SnapshotError>
    where
        F: FnMut(&[u32]) -> Result<(), SnapshotError>,
    {
        if !self.carry.is_empty() {
            let need = (self.width - self.carry.len()).min(batch.len());
            self.carry.extend_from_slice(&batch[..need]);
            batch = &batch[need..];
            if self.carry.len() < self.width {
                return Ok(());
            }
            f(&self.carry)?;
            self.carry.clear();
        }
        let whole = batch.len() / self.width * self.width;
        if whole > 0 {
            f(&batch[..whole])?;
        }
        self.carry.extend_from_slice(&batch[whole..]);
        Ok(())
    }
}

/// Positions of the node fields within a record.
struct NodePositions {
    type_: usize,
    name: usize,
    id: usize,
    self_size: usize,
    edge_count: usize,
    trace: Option<usize>,
    detachedness: Option<usize>,
}

fn node_positions(fields: &[NodeField]) -> NodePositions {
    let at = |f: NodeField| fields.iter().position(|x| *x == f);
    NodePositions {
        type_: at(NodeField::Type).unwrap_or(0),
        name: at(NodeField::Name).unwrap_or(0),
        id: at(NodeField::Id).unwrap_or(0),
        self_size: at(NodeField::SelfSize).unwrap_or(0),
        edge_count: at(NodeField::EdgeCount).unwrap_or(0),
        trace: at(NodeField::TraceNodeId),
        detachedness: at(NodeField::Detachedness),
    }
}

/// Reads `nodes` into the node columns.
fn read_nodes<S: ChunkSource>(
    sc: &mut Scanner<S>,
    layout: &Layout,
    g: &mut HeapGraph,
    edges: Edges,
) -> Result<(), SnapshotError> {
    let n = layout.node_count as usize;
    let width = layout.node_fields.len();
    let pos = node_positions(&layout.node_fields);
    let keep_edges = edges == Edges::Keep;
    if keep_edges {
        g.first_edge.push(0);
    }
    let type_count = g.node_type_names.len() as u32;
    let edge_total = u64::from(layout.edge_count);
    let mut edges_so_far: u64 = 0;
    let mut records = Records::new(width);
    let count = sc.read_u32_array("`nodes`", |batch| {
        records.feed(batch, |run| {
            let more = run.len() / width;
            if g.node_id.len() + more > n {
                return Err(too_many("nodes", "node_count", layout.node_count));
            }
            reserve_toward(&mut g.node_type, more, n);
            reserve_toward(&mut g.node_name, more, n);
            reserve_toward(&mut g.node_id, more, n);
            reserve_toward(&mut g.node_self_size, more, n);
            if keep_edges {
                reserve_toward(&mut g.first_edge, more, n + 1);
            }
            if pos.detachedness.is_some() {
                reserve_toward(&mut g.node_detachedness, more, n);
            }
            if !g.node_trace.is_empty() {
                reserve_toward(&mut g.node_trace, more, n);
            }
            for (i, rec) in run.chunks_exact(width).enumerate() {
                let t = rec[pos.type_];
                if t >= type_count {
                    return Err(bad_type("node", g.node_id.len(), t, type_count));
                }
                g.node_type.push(t as u8);
                g.node_name.push(rec[pos.name]);
                g.node_id.push(rec[pos.id]);
                g.node_self_size.push(rec[pos.self_size]);
                edges_so_far += u64::from(rec[pos.edge_count]);
                if keep_edges {
                    g.first_edge
                        .push(edges_so_far.min(u64::from(u32::MAX)) as u32);
                }
                if let Some(p) = pos.detachedness {
                    g.node_detachedness.push(rec[p].min(255) as u8);
                }
                if let Some(p) = pos.trace {
                    let v = rec[p];
                    if v != 0 && g.node_trace.is_empty() {
                        // Zeros for the nodes before this one, then this run's.
                        reserve_toward(&mut g.node_trace, g.node_id.len() - 1 + more - i, n);
                        g.node_trace.resize(g.node_id.len() - 1, 0);
                    }
                    if !g.node_trace.is_empty() || v != 0 {
                        g.node_trace.push(v);
                    }
                }
            }
            if edges_so_far > edge_total {
                return Err(SnapshotError::Inconsistent {
                    message: format!(
                        "the nodes' edge counts add up to more than edge_count ({edge_total})"
                    ),
                });
            }
            Ok(())
        })
    })?;
    let expected = layout.node_count as u64 * width as u64;
    if count != expected {
        return Err(SnapshotError::Inconsistent {
            message: format!(
                "`nodes` holds {count} numbers, but node_count {} × {width} fields is {expected}",
                layout.node_count
            ),
        });
    }
    if edges_so_far != edge_total {
        return Err(SnapshotError::Inconsistent {
            message: format!(
                "the nodes' edge counts add up to {edges_so_far}, but edge_count is {edge_total}"
            ),
        });
    }
    if !g.node_trace.is_empty() {
        g.node_trace.resize(n, 0);
    }
    Ok(())
}

/// Records a column reserves at least at a time; growth starts here and doubles.
const MIN_RESERVE: usize = 1 << 12;

/// Makes room in `column` for `more` entries on the way to the `declared` total. The header's
/// counts are not trusted up front (a few bytes may claim billions of nodes), so room grows
/// with what has actually been read: doubling, but never past `declared`, so a column whose
/// count was right ends with no spare capacity.
pub(super) fn reserve_toward<T>(column: &mut Vec<T>, more: usize, declared: usize) {
    if column.capacity() - column.len() >= more {
        return;
    }
    let step = column
        .len()
        .max(MIN_RESERVE)
        .min(declared.saturating_sub(column.len()))
        .max(more);
    column.reserve_exact(step);
}

#[cold]
pub(super) fn too_many(section: &str, header_field: &str, declared: u32) -> SnapshotError {
    SnapshotError::Inconsistent {
        message: format!("`{section}` holds more than {header_field} ({declared}) records"),
    }
}

#[cold]
pub(super) fn bad_type(what: &str, index: usize, t: u32, type_count: u32) -> SnapshotError {
    SnapshotError::Inconsistent {
        message: format!("{what} {index} has type {t}, but the header lists {type_count} types"),
    }
}

/// Reads `strings` into the string table.
fn read_strings<S: ChunkSource>(
    sc: &mut Scanner<S>,
    g: &mut HeapGraph,
) -> Result<(), SnapshotError> {
    sc.expect(b'[', "`strings`")?;
    if sc.peek_token()? == Some(b']') {
        sc.bump();
        return Ok(());
    }
    loop {
        g.strings.start_next();
        sc.read_string(&mut g.strings.text, "`strings`")?;
        match sc.peek_token()? {
            Some(b',') => sc.bump(),
            Some(b']') => {
                sc.bump();
                return Ok(());
            }
            found => return Err(sc.unexpected(found, "`,` or `]`", "`strings`")),
        }
    }
}

/// Turns raw `locations` into typed ones.
fn locations_from(
    raw: &[u32],
    layout: &Layout,
    node_count: usize,
) -> Result<Vec<SourceLocation>, SnapshotError> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let pos = |name: &str| layout.location_fields.iter().position(|f| f == name);
    let (Some(object), Some(script), Some(line), Some(column)) = (
        pos("object_index"),
        pos("script_id"),
        pos("line"),
        pos("column"),
    ) else {
        return Ok(Vec::new());
    };
    let width = layout.location_fields.len();
    let node_width = layout.node_fields.len() as u32;
    let mut out = Vec::with_capacity(raw.len() / width.max(1));
    for chunk in raw.chunks_exact(width) {
        let node = chunk[object] / node_width;
        if node as usize >= node_count {
            return Err(SnapshotError::Inconsistent {
                message: format!("a location points at nodes offset {}", chunk[object]),
            });
        }
        out.push(SourceLocation {
            node,
            script_id: chunk[script],
            line: chunk[line],
            column: chunk[column],
        });
    }
    Ok(out)
}

/// Checks that every node name and named edge points into the string table.
fn check_names(g: &HeapGraph) -> Result<(), SnapshotError> {
    let strings = g.strings.len() as u32;
    if let Some((n, &name)) = g
        .node_name
        .iter()
        .enumerate()
        .find(|(_, &name)| name >= strings)
    {
        return Err(SnapshotError::Inconsistent {
            message: format!("node {n} is named by string {name}, but there are {strings} strings"),
        });
    }
    let by_index = indexed_edge_types(g);
    for (e, (&t, &name)) in g.edge_type.iter().zip(&g.edge_name).enumerate() {
        if !by_index.get(t as usize).copied().unwrap_or(false) && name >= strings {
            return Err(super::edges::bad_edge_name(e, name, strings));
        }
    }
    Ok(())
}
