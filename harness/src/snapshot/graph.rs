//! The heap graph in columns: one narrow array per field, a string table, and class names.
//!
//! Columns keep a multi-million-node snapshot small (18 bytes a node, 9 an edge) and let every
//! analysis walk exactly the fields it needs. Node and edge *types* are kept as indexes into the
//! type tables the snapshot itself declares, so a type this code has never seen is still named.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

/// Index of a node in node order (not the snapshot's raw `nodes` offset).
pub type NodeIndex = u32;

/// The snapshot's string table: one UTF-8 arena and the start of each string.
#[derive(Debug, Default, Clone)]
pub struct StringTable {
    pub(crate) text: Vec<u8>,
    pub(crate) starts: Vec<u64>,
}

impl StringTable {
    /// How many strings there are.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// String `index`, or `""` if there is no such string.
    pub fn get(&self, index: u32) -> &str {
        let i = index as usize;
        let Some(&start) = self.starts.get(i) else {
            return "";
        };
        let end = self
            .starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.text.len() as u64);
        let bytes = &self.text[start as usize..end as usize];
        // The reader only writes whole UTF-8 characters; guard anyway.
        std::str::from_utf8(bytes).unwrap_or("\u{fffd}")
    }

    /// Appends one string's bytes (already UTF-8) as the next entry.
    pub(crate) fn start_next(&mut self) {
        self.starts.push(self.text.len() as u64);
    }
}

/// A closure's source position, from the snapshot's `locations` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLocation {
    /// The node the location belongs to.
    pub node: NodeIndex,
    /// V8's script id.
    pub script_id: u32,
    /// Zero-based line.
    pub line: u32,
    /// Zero-based column.
    pub column: u32,
}

/// One function of the allocation call tree (a `trace_function_infos` record).
///
/// V8 resolves allocation stacks to functions, not statements: `line` and `column` are where
/// the function is defined (for `function f(a)` and `(a) => ...`, the `(` of its parameters),
/// not where the object was allocated inside it. V8 writes them 1-based, as editors show
/// them, and writes 0 when it does not know the position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceFunction {
    /// V8's function id.
    pub function_id: u32,
    /// String index of the function's name (empty for anonymous functions).
    pub name: u32,
    /// String index of the script's name: a path, a `file://` URL or `node:...`.
    pub script_name: u32,
    /// V8's script id.
    pub script_id: u32,
    /// 1-based line of the function's definition; 0 when unknown.
    pub line: u32,
    /// 1-based column of the function's definition; 0 when unknown.
    pub column: u32,
}

/// Index of a node of the [`TraceTree`] in its own order (not V8's trace node id).
pub type TraceIndex = u32;

/// No parent: the node is a root of the [`TraceTree`].
const NO_PARENT: TraceIndex = u32::MAX;

/// The allocation call tree (`trace_tree`) in columns: every node is one call path from the
/// root, and the objects allocated there carry its id as their `trace_node_id`.
#[derive(Debug, Default, Clone)]
pub struct TraceTree {
    pub(crate) id: Vec<u32>,
    pub(crate) function: Vec<u32>,
    pub(crate) count: Vec<u32>,
    pub(crate) size: Vec<u32>,
    pub(crate) parent: Vec<TraceIndex>,
    /// `(id, index)` sorted by id, for lookups by trace node id.
    pub(crate) by_id: Vec<(u32, TraceIndex)>,
}

impl TraceTree {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.id.len()
    }

    /// Whether there are none (allocation tracking was off).
    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    /// The node whose V8 trace node id is `id`.
    pub fn find(&self, id: u32) -> Option<TraceIndex> {
        self.by_id
            .binary_search_by_key(&id, |&(i, _)| i)
            .ok()
            .map(|at| self.by_id[at].1)
    }

    /// V8's id of node `t`.
    pub fn id(&self, t: TraceIndex) -> u32 {
        self.id[t as usize]
    }

    /// Index into [`HeapGraph::trace_functions`] of node `t`'s function.
    pub fn function(&self, t: TraceIndex) -> u32 {
        self.function[t as usize]
    }

    /// Objects allocated at node `t` while tracking (live or not).
    pub fn count(&self, t: TraceIndex) -> u32 {
        self.count[t as usize]
    }

    /// Bytes allocated at node `t` while tracking (live or not).
    pub fn size(&self, t: TraceIndex) -> u32 {
        self.size[t as usize]
    }

    /// The parent of node `t` (its caller), `None` for a root.
    pub fn parent(&self, t: TraceIndex) -> Option<TraceIndex> {
        match self.parent[t as usize] {
            NO_PARENT => None,
            p => Some(p),
        }
    }

    /// Node `t` and its callers up to the root, innermost first.
    pub fn path(&self, t: TraceIndex) -> impl Iterator<Item = TraceIndex> + '_ {
        // Parents always come before their children, so the walk ends.
        std::iter::successors(Some(t), move |&n| self.parent(n))
    }

    /// Appends a node; `parent` must already be in the tree.
    pub(crate) fn push(
        &mut self,
        id: u32,
        function: u32,
        count: u32,
        size: u32,
        parent: Option<TraceIndex>,
    ) -> TraceIndex {
        let t = self.id.len() as TraceIndex;
        self.id.push(id);
        self.function.push(function);
        self.count.push(count);
        self.size.push(size);
        self.parent.push(parent.unwrap_or(NO_PARENT));
        t
    }

    /// Builds the id index once every node is in.
    pub(crate) fn index_ids(&mut self) {
        self.by_id = self
            .id
            .iter()
            .enumerate()
            .map(|(t, &id)| (id, t as TraceIndex))
            .collect();
        self.by_id.sort_unstable();
    }
}

/// A V8 heap snapshot as columns.
#[derive(Debug, Default, Clone)]
pub struct HeapGraph {
    /// Node type names, as declared in `snapshot.meta.node_types`.
    pub node_type_names: Vec<String>,
    /// Edge type names, as declared in `snapshot.meta.edge_types`.
    pub edge_type_names: Vec<String>,
    pub(crate) node_type: Vec<u8>,
    pub(crate) node_name: Vec<u32>,
    pub(crate) node_id: Vec<u32>,
    pub(crate) node_self_size: Vec<u32>,
    /// `first_edge[i]..first_edge[i + 1]` are node i's edges; one more entry than nodes.
    pub(crate) first_edge: Vec<u32>,
    /// Allocation trace node per node; empty when the snapshot has none (no tracking).
    pub(crate) node_trace: Vec<u32>,
    /// Detachedness per node; empty when the snapshot has no such field.
    pub(crate) node_detachedness: Vec<u8>,
    pub(crate) edge_type: Vec<u8>,
    pub(crate) edge_name: Vec<u32>,
    pub(crate) edge_to: Vec<NodeIndex>,
    /// Edges the snapshot holds that were read and checked but not kept
    /// ([`super::read_file_without_edges`]).
    pub(crate) skipped_edges: usize,
    /// The string table.
    pub strings: StringTable,
    /// Closure source positions (`locations`).
    pub locations: Vec<SourceLocation>,
    /// The functions of allocation stacks (`trace_function_infos`; present when allocation
    /// tracking was on).
    pub trace_functions: Vec<TraceFunction>,
    /// The allocation call tree (`trace_tree`; present when allocation tracking was on).
    pub trace_tree: TraceTree,
    /// Raw `samples` (present when allocation tracking was on).
    pub samples: Vec<u32>,
}

/// Well-known node types, looked up by name once per graph.
#[derive(Debug, Clone, Copy)]
pub struct TypeCodes {
    /// `hidden`
    pub hidden: Option<u8>,
    /// `object`
    pub object: Option<u8>,
    /// `native`
    pub native: Option<u8>,
    /// `synthetic`
    pub synthetic: Option<u8>,
    /// edge type `weak`
    pub weak_edge: Option<u8>,
    /// edge type `shortcut`
    pub shortcut_edge: Option<u8>,
    /// edge type `element`
    pub element_edge: Option<u8>,
    /// edge type `hidden`
    pub hidden_edge: Option<u8>,
}

impl HeapGraph {
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.node_id.len()
    }

    /// Number of edges in the graph.
    pub fn edge_count(&self) -> usize {
        self.edge_to.len()
    }

    /// Number of edges in the snapshot: [`Self::edge_count`], plus those read without being
    /// kept ([`super::read_file_without_edges`]).
    pub fn snapshot_edge_count(&self) -> usize {
        self.edge_to.len() + self.skipped_edges
    }

    /// The type name of node `n`.
    pub fn node_type_name(&self, n: NodeIndex) -> &str {
        let t = self.node_type[n as usize] as usize;
        self.node_type_names
            .get(t)
            .map_or("unknown", String::as_str)
    }

    /// The raw type code of node `n` (an index into [`Self::node_type_names`]).
    pub fn node_type_code(&self, n: NodeIndex) -> u8 {
        self.node_type[n as usize]
    }

    /// The name of node `n` (constructor name, string value, code name, ...).
    pub fn node_name(&self, n: NodeIndex) -> &str {
        self.strings.get(self.node_name[n as usize])
    }

    /// The string-table index of node `n`'s name.
    pub fn node_name_index(&self, n: NodeIndex) -> u32 {
        self.node_name[n as usize]
    }

    /// The snapshot id of node `n`: stable across snapshots of one process; odd for JS heap
    /// objects, even for embedder (native, synthetic) nodes.
    pub fn node_id(&self, n: NodeIndex) -> u32 {
        self.node_id[n as usize]
    }

    /// The self size of node `n` in bytes.
    pub fn self_size(&self, n: NodeIndex) -> u32 {
        self.node_self_size[n as usize]
    }

    /// The allocation trace node id of node `n` (0 when unknown).
    pub fn trace_node_id(&self, n: NodeIndex) -> u32 {
        self.node_trace.get(n as usize).copied().unwrap_or(0)
    }

    /// The allocation stack of node `n`: the functions from the one that allocated it up to
    /// the outermost caller, innermost first. Empty when the snapshot has no allocation trace
    /// for the node (tracking was off, or the object is older than the tracking).
    pub fn allocation_stack(&self, n: NodeIndex) -> Vec<&TraceFunction> {
        let id = self.trace_node_id(n);
        if id == 0 {
            return Vec::new();
        }
        let Some(t) = self.trace_tree.find(id) else {
            return Vec::new();
        };
        self.trace_tree
            .path(t)
            .filter_map(|t| {
                self.trace_functions
                    .get(self.trace_tree.function(t) as usize)
            })
            .collect()
    }

    /// The detachedness of node `n` (0 unknown, 1 attached, 2 detached).
    pub fn detachedness(&self, n: NodeIndex) -> u8 {
        self.node_detachedness.get(n as usize).copied().unwrap_or(0)
    }

    /// The range of edge indexes owned by node `n`.
    pub fn edges(&self, n: NodeIndex) -> Range<usize> {
        self.first_edge[n as usize] as usize..self.first_edge[n as usize + 1] as usize
    }

    /// The target node of edge `e`.
    pub fn edge_to(&self, e: usize) -> NodeIndex {
        self.edge_to[e]
    }

    /// The raw type code of edge `e`.
    pub fn edge_type_code(&self, e: usize) -> u8 {
        self.edge_type[e]
    }

    /// The type name of edge `e`.
    pub fn edge_type_name(&self, e: usize) -> &str {
        let t = self.edge_type[e] as usize;
        self.edge_type_names
            .get(t)
            .map_or("unknown", String::as_str)
    }

    /// The raw `name_or_index` of edge `e`: a string index, or a number for element and hidden
    /// edges.
    pub fn edge_name_raw(&self, e: usize) -> u32 {
        self.edge_name[e]
    }

    /// The edge's name as DevTools shows it: a property or variable name, or `[index]` for
    /// element and hidden edges, whose `name_or_index` is a number.
    pub fn edge_name(&self, e: usize) -> Cow<'_, str> {
        let raw = self.edge_name[e];
        match self.edge_type_name(e) {
            "element" | "hidden" => Cow::Owned(format!("[{raw}]")),
            _ => Cow::Borrowed(self.strings.get(raw)),
        }
    }

    /// Codes of the node and edge types the analyses care about.
    pub fn type_codes(&self) -> TypeCodes {
        let node = |name: &str| position_u8(&self.node_type_names, name);
        let edge = |name: &str| position_u8(&self.edge_type_names, name);
        TypeCodes {
            hidden: node("hidden"),
            object: node("object"),
            native: node("native"),
            synthetic: node("synthetic"),
            weak_edge: edge("weak"),
            shortcut_edge: edge("shortcut"),
            element_edge: edge("element"),
            hidden_edge: edge("hidden"),
        }
    }

    /// Sum of all nodes' self sizes: the snapshot's total, as DevTools shows it.
    pub fn total_self_size(&self) -> u64 {
        self.node_self_size.iter().map(|&s| u64::from(s)).sum()
    }

    /// The largest odd (JS heap) id in the snapshot: every heap object first seen after this
    /// snapshot has a larger id.
    pub fn max_heap_id(&self) -> u32 {
        self.node_id
            .iter()
            .copied()
            .filter(|id| id % 2 == 1)
            .max()
            .unwrap_or(0)
    }

    /// Groups nodes into classes named as Chrome DevTools' summary view names them.
    pub fn classify(&self) -> Classes {
        let mut names: Vec<String> = Vec::new();
        let mut by_key: HashMap<ClassKey, u32> = HashMap::new();
        // Per node type: `Some(class)` when the class comes from the type, `None` when it comes
        // from the node's name (objects and native nodes).
        let by_type: Vec<Option<u32>> = self
            .node_type_names
            .iter()
            .map(|t| {
                if t == "object" || t == "native" {
                    None
                } else {
                    Some(intern(
                        &mut names,
                        &mut by_key,
                        ClassKey::Type(type_label(t)),
                    ))
                }
            })
            .collect();
        // Names: a dense table over string indexes, filled on first use.
        let mut by_name: Vec<u32> = vec![u32::MAX; self.strings.len()];
        let mut of_node = Vec::with_capacity(self.node_count());
        for (&t, &name) in self.node_type.iter().zip(&self.node_name) {
            let class = match by_type.get(t as usize) {
                Some(Some(c)) => *c,
                _ => match by_name.get(name as usize) {
                    Some(&c) if c != u32::MAX => c,
                    _ => {
                        let label = self.strings.get(name).to_string();
                        let c = intern(&mut names, &mut by_key, ClassKey::Name(label));
                        if let Some(slot) = by_name.get_mut(name as usize) {
                            *slot = c;
                        }
                        c
                    }
                },
            };
            of_node.push(class);
        }
        Classes { names, of_node }
    }
}

fn position_u8(names: &[String], name: &str) -> Option<u8> {
    names
        .iter()
        .position(|t| t == name)
        .and_then(|p| u8::try_from(p).ok())
}

/// Nodes grouped into classes.
#[derive(Debug, Clone)]
pub struct Classes {
    /// Class names, indexed by class id.
    pub names: Vec<String>,
    /// Class id of every node.
    pub of_node: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ClassKey {
    Name(String),
    Type(String),
}

fn intern(names: &mut Vec<String>, by_key: &mut HashMap<ClassKey, u32>, key: ClassKey) -> u32 {
    if let Some(&c) = by_key.get(&key) {
        return c;
    }
    let label = match &key {
        ClassKey::Name(s) | ClassKey::Type(s) => s.clone(),
    };
    let c = names.len() as u32;
    names.push(label);
    by_key.insert(key, c);
    c
}

/// The DevTools class label for nodes whose class comes from their type, not their name.
pub fn type_label(type_name: &str) -> String {
    match type_name {
        "hidden" => "(system)".to_string(),
        "code" => "(compiled code)".to_string(),
        "closure" => "(closure)".to_string(),
        "regexp" => "(regexp)".to_string(),
        "string" => "(string)".to_string(),
        "array" => "(array)".to_string(),
        "number" => "(number)".to_string(),
        "concatenated string" => "(concatenated string)".to_string(),
        "sliced string" => "(sliced string)".to_string(),
        "symbol" => "(symbol)".to_string(),
        "bigint" => "(bigint)".to_string(),
        "object shape" => "(object shape)".to_string(),
        other => format!("({other})"),
    }
}
