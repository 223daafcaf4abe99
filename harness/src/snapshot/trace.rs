//! The allocation-tracking sections of a snapshot: the nested `trace_tree` and the
//! `trace_function_infos` it points into. Only snapshots taken with allocation tracking on
//! have them; the tree is the one nested section, so it has a parser of its own.

use super::chunks::ChunkSource;
use super::graph::{HeapGraph, TraceFunction, TraceIndex};
use super::layout::Layout;
use super::scan::Scanner;
use super::SnapshotError;

/// Turns raw `trace_function_infos` into typed records. Without the fields this needs in
/// `meta.trace_function_info_fields`, there are none.
pub(super) fn trace_functions_from(
    raw: &[u32],
    layout: &Layout,
) -> Result<Vec<TraceFunction>, SnapshotError> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let fields = &layout.trace_function_info_fields;
    let pos = |name: &str| fields.iter().position(|f| f == name);
    let (Some(name), Some(script_name)) = (pos("name"), pos("script_name")) else {
        return Ok(Vec::new());
    };
    let (function_id, script_id, line, column) = (
        pos("function_id"),
        pos("script_id"),
        pos("line"),
        pos("column"),
    );
    let width = fields.len();
    if raw.len() % width != 0 {
        return Err(SnapshotError::Inconsistent {
            message: format!(
                "`trace_function_infos` holds {} numbers, not a multiple of its {width} fields",
                raw.len()
            ),
        });
    }
    let at = |rec: &[u32], p: Option<usize>| p.map_or(0, |p| rec[p]);
    Ok(raw
        .chunks_exact(width)
        .map(|rec| TraceFunction {
            function_id: at(rec, function_id),
            name: rec[name],
            script_name: rec[script_name],
            script_id: at(rec, script_id),
            line: at(rec, line),
            column: at(rec, column),
        })
        .collect())
}

/// Checks that the trace tree's functions and the functions' names exist.
pub(super) fn check_trace_tree(g: &HeapGraph) -> Result<(), SnapshotError> {
    let functions = g.trace_functions.len() as u32;
    let tree = &g.trace_tree;
    if let Some(t) = (0..tree.len()).find(|&t| tree.function[t] >= functions) {
        return Err(SnapshotError::Inconsistent {
            message: format!(
                "trace node {} names function {}, but there are {functions} trace functions",
                tree.id[t], tree.function[t]
            ),
        });
    }
    let strings = g.strings.len() as u32;
    if let Some(f) = g
        .trace_functions
        .iter()
        .find(|f| f.name >= strings || f.script_name >= strings)
    {
        return Err(SnapshotError::Inconsistent {
            message: format!(
                "trace function {} is named by string {} in script string {}, but there are \
                 {strings} strings",
                f.function_id, f.name, f.script_name
            ),
        });
    }
    Ok(())
}

/// Where the fields of a `trace_tree` record are.
pub(super) struct TraceNodeLayout {
    width: usize,
    id: usize,
    function: usize,
    count: Option<usize>,
    size: Option<usize>,
}

impl TraceNodeLayout {
    /// The layout from `meta.trace_node_fields`; `None` (the tree is skipped) unless it has
    /// `id` and `function_info_index` and ends with `children`, as V8 writes it.
    pub(super) fn of(layout: &Layout) -> Option<TraceNodeLayout> {
        let fields = &layout.trace_node_fields;
        let pos = |name: &str| fields.iter().position(|f| f == name);
        if fields.last().map(String::as_str) != Some("children") {
            return None;
        }
        Some(TraceNodeLayout {
            width: fields.len(),
            id: pos("id")?,
            function: pos("function_info_index")?,
            count: pos("count"),
            size: pos("size"),
        })
    }
}

/// One open `children` array of the trace tree.
struct OpenList {
    /// The node whose children these are; `None` for the top-level array.
    parent: Option<TraceIndex>,
    /// Fields of the current record read so far.
    field: usize,
    /// A value (or, right after `[`, the end) must come next, not `,` or `]`.
    want_value: bool,
    /// Nothing has been read since `[`.
    fresh: bool,
}

/// Reads `trace_tree`: nested arrays in which each record is `id, function_info_index, count,
/// size, [children...]` (per `meta.trace_node_fields`), the children flattened the same way.
/// The nesting is kept on a stack of open arrays, not on the call stack, so deep input cannot
/// overflow it; nodes are stored parents first.
pub(super) fn read_trace_tree<S: ChunkSource>(
    sc: &mut Scanner<S>,
    l: &TraceNodeLayout,
    g: &mut HeapGraph,
) -> Result<(), SnapshotError> {
    const CONTEXT: &str = "`trace_tree`";
    let children = l.width - 1;
    let mut record = vec![0u32; l.width];
    let mut open: Vec<OpenList> = Vec::new();
    sc.expect(b'[', CONTEXT)?;
    open.push(OpenList {
        parent: None,
        field: 0,
        want_value: true,
        fresh: true,
    });
    let tree = &mut g.trace_tree;
    while let Some(top) = open.last_mut() {
        let found = sc.peek_token()?;
        if !top.want_value || (top.fresh && found == Some(b']')) {
            match found {
                Some(b',') if !top.fresh => {
                    sc.bump();
                    top.want_value = true;
                }
                Some(b']') => {
                    if top.field != 0 {
                        return Err(sc.unexpected(found, "the rest of a trace node", CONTEXT));
                    }
                    sc.bump();
                    open.pop();
                    if let Some(up) = open.last_mut() {
                        // The children were the last field of the parent's record.
                        up.field = 0;
                        up.want_value = false;
                    }
                }
                _ => return Err(sc.unexpected(found, "`,` or `]`", CONTEXT)),
            }
            continue;
        }
        top.fresh = false;
        if top.field == children {
            sc.expect(b'[', CONTEXT)?;
            let at = |p: Option<usize>| p.map_or(0, |p| record[p]);
            let t = tree.push(
                record[l.id],
                record[l.function],
                at(l.count),
                at(l.size),
                top.parent,
            );
            open.push(OpenList {
                parent: Some(t),
                field: 0,
                want_value: true,
                fresh: true,
            });
        } else {
            record[top.field] = read_u32(sc, CONTEXT)?;
            top.field += 1;
            top.want_value = false;
        }
    }
    tree.index_ids();
    Ok(())
}

/// Reads one unsigned 32-bit integer (white space before it is skipped).
fn read_u32<S: ChunkSource>(
    sc: &mut Scanner<S>,
    context: &'static str,
) -> Result<u32, SnapshotError> {
    let first = sc.peek_token()?;
    if !matches!(first, Some(b'0'..=b'9')) {
        return Err(sc.unexpected(first, "a number", context));
    }
    let mut value: u64 = 0;
    while let Some(b @ b'0'..=b'9') = sc.peek()? {
        value = value * 10 + u64::from(b - b'0');
        if value > u64::from(u32::MAX) {
            return Err(SnapshotError::Syntax {
                offset: sc.offset(),
                expected: "an unsigned 32-bit integer".to_string(),
                found: "a larger number".to_string(),
                context,
            });
        }
        sc.bump();
    }
    Ok(value as u32)
}
