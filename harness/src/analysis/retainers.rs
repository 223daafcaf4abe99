//! Retainer paths: why a leaking object is still alive, as a developer would name it.
//!
//! A breadth-first search from the synthetic root over the edges that retain (weak edges do
//! not) gives every object its distance from the GC roots and one shortest path to it. That
//! path is long and mostly V8's business (`(GC roots)`, handle scopes, native contexts); the
//! part a developer recognises starts at the last *anchor* on it: a variable in a closure's
//! context (a module-level `const` is one), or a property of the global object. From there
//! down, each step is written as `holder.edge` with element indexes and Map slots folded to
//! `[]`, so the 3000 objects held by one array share one path, reported once with a count.
//! An ES module's top-level binding is an anchor too, named as the module exports it (see
//! [`super::modules`]); a global's property keeps its name, even though the global object
//! holds so many properties that other objects that large are read as dictionaries.
//! Paths through V8's compiled code (the constants of a function's code, such as those of
//! leakgate's own `process.memoryUsage()` call) are left out when anything else explains the
//! class.

use std::collections::HashMap;

use serde::Serialize;

use super::dominators::Dominators;
use super::modules::ModuleBindings;
use crate::snapshot::{HeapGraph, NodeIndex};

const NONE: u32 = u32::MAX;

/// GC-root categories that reach nearly everything and tell a developer nothing; paths through
/// them are used only when there is no other.
const UNEXPLAINING_ROOTS: [&str; 10] = [
    "(Internalized strings)",
    "(External strings)",
    "(Read-only roots)",
    "(Startup object cache)",
    "(Shareable object cache)",
    "(Read-only object cache)",
    "(Handle scope)",
    "(Stack roots)",
    "(Relocatable)",
    "(Compilation cache)",
];

/// Steps kept below the anchor at most; deeper paths keep their last steps.
pub const MAX_STEPS: usize = 8;

/// Shortest retaining paths from the root.
#[derive(Debug, Clone)]
pub struct RootPaths {
    /// The edge through which each node was first reached (`NONE` for the root and for
    /// unreachable nodes).
    parent_edge: Vec<u32>,
    /// The node that edge comes from.
    parent_node: Vec<NodeIndex>,
    /// Distance from the root in edges (`u32::MAX` when unreachable).
    pub distance: Vec<u32>,
    /// The ES module bindings of the graph, to name the paths that start at one.
    pub modules: ModuleBindings,
}

impl RootPaths {
    /// Breadth-first search from node 0 over non-weak edges, in two rounds: first without
    /// entering the GC-root categories that hold everything and explain nothing (the string
    /// table, the startup caches, handle scopes, the stack), then from those for whatever is
    /// left. An object held both by a module variable and by the string table is so explained
    /// by the variable. `distance` is the length of the path chosen.
    pub fn new(graph: &HeapGraph) -> RootPaths {
        let n = graph.node_count();
        let weak = graph.type_codes().weak_edge;
        let mut parent_edge = vec![NONE; n];
        let mut parent_node = vec![NONE; n];
        let mut distance = vec![u32::MAX; n];
        if n == 0 {
            return RootPaths {
                parent_edge,
                parent_node,
                distance,
                modules: ModuleBindings::default(),
            };
        }
        let deferred_root = |v: NodeIndex| {
            graph.node_type_name(v) == "synthetic"
                && UNEXPLAINING_ROOTS.contains(&graph.node_name(v))
        };
        let mut queue = std::collections::VecDeque::with_capacity(1024);
        let mut deferred: Vec<NodeIndex> = Vec::new();
        distance[0] = 0;
        queue.push_back(0u32);
        for round in 0..2 {
            if round == 1 {
                queue.extend(deferred.iter().copied());
            }
            while let Some(v) = queue.pop_front() {
                if round == 0 && deferred_root(v) {
                    deferred.push(v);
                    continue;
                }
                let d = distance[v as usize] + 1;
                for e in graph.edges(v) {
                    if Some(graph.edge_type_code(e)) == weak {
                        continue;
                    }
                    let w = graph.edge_to(e) as usize;
                    if distance[w] == u32::MAX {
                        distance[w] = d;
                        parent_edge[w] = e as u32;
                        parent_node[w] = v;
                        queue.push_back(w as u32);
                    }
                }
            }
        }
        RootPaths {
            parent_edge,
            parent_node,
            distance,
            modules: ModuleBindings::new(graph),
        }
    }

    /// The developer-facing path to `node` (see [`describe_path`]).
    pub fn describe(&self, graph: &HeapGraph, node: NodeIndex) -> RetainerPath {
        describe_path(graph, &self.modules, &self.path_to(node), node)
    }

    /// The edges from the root to `node`, root first; empty when unreachable.
    pub fn path_to(&self, node: NodeIndex) -> Vec<(NodeIndex, usize)> {
        let mut steps = Vec::new();
        let mut v = node;
        while self.parent_edge.get(v as usize).is_some_and(|&e| e != NONE) {
            let from = self.parent_node[v as usize];
            steps.push((from, self.parent_edge[v as usize] as usize));
            v = from;
            if steps.len() > self.distance.len() {
                break;
            }
        }
        steps.reverse();
        steps
    }
}

/// Where a retainer path starts: the name a developer wrote, or, when the path has none, the
/// first object V8 shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Holder {
    /// A variable in a closure's context; a CommonJS module's top-level `const` is one.
    ClosureVariable {
        /// The variable's name.
        name: String,
    },
    /// A top-level binding of an ES module.
    ModuleVariable {
        /// The binding's name.
        name: String,
        /// Where it is declared, `file:line` (relative to the app's folder), when known.
        declared_at: Option<String>,
        /// The module's file as the snapshot names it (an absolute path), to find the
        /// declaration in.
        #[serde(skip)]
        file: Option<String>,
    },
    /// A property of the global object (`globalThis.name`).
    Global {
        /// The property's name.
        name: String,
    },
    /// No variable on the path: the path starts at an object of this class.
    Object {
        /// The first step as V8 names it, e.g. `(GC roots)[]`.
        text: String,
    },
    /// The object is not reachable from a GC root.
    Unreachable,
}

impl Holder {
    /// The variable or property name, for holders a developer wrote.
    pub fn variable(&self) -> Option<&str> {
        match self {
            Holder::ClosureVariable { name }
            | Holder::ModuleVariable { name, .. }
            | Holder::Global { name } => Some(name),
            Holder::Object { .. } | Holder::Unreachable => None,
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::ClosureVariable { name } => write!(f, "{name} (closure variable)"),
            Holder::ModuleVariable {
                name,
                declared_at: Some(at),
                ..
            } => write!(f, "{name} (module variable, {at})"),
            Holder::ModuleVariable {
                name,
                declared_at: None,
                file: Some(file),
            } => {
                let short = file.rsplit('/').next().unwrap_or(file);
                write!(f, "{name} (module variable, {short})")
            }
            Holder::ModuleVariable {
                name,
                declared_at: None,
                file: None,
            } => write!(f, "{name} (module variable)"),
            Holder::Global { name } => write!(f, "globalThis.{name}"),
            Holder::Object { text } => f.write_str(text),
            Holder::Unreachable => f.write_str("(unreachable)"),
        }
    }
}

/// A retainer path as a developer reads it: the holder, then each step down to the object
/// (`Array[]`, `Object.date`, `…` for skipped steps), the last being the object's class.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RetainerPath {
    /// Where the path starts.
    pub holder: Holder,
    /// The steps after the holder; the last is the retained object's class.
    pub steps: Vec<String>,
}

impl std::fmt::Display for RetainerPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.holder)?;
        let sep = if self.holder == Holder::Unreachable {
            " "
        } else {
            " → "
        };
        for (i, step) in self.steps.iter().enumerate() {
            f.write_str(if i == 0 { sep } else { " → " })?;
            f.write_str(step)?;
        }
        Ok(())
    }
}

impl RetainerPath {
    /// Whether the path goes through V8's compiled code: constants of a function's code
    /// (literals, feedback), V8's business rather than something the app keeps.
    pub fn held_by_code(&self) -> bool {
        self.steps.iter().any(|s| s.starts_with("(compiled code)"))
    }
}

/// Paths are written as their text (`accessLog (closure variable) → Array[] → Date`).
impl Serialize for RetainerPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One retainer path shared by many leaking objects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetainerCluster {
    /// The path, e.g. `requestLogs → Array.elements → (array)[] → Object`.
    pub path: RetainerPath,
    /// Where the path starts, as a typed value (its kind and name).
    pub holder: Holder,
    /// Leaking objects held this way.
    pub count: u64,
    /// Their summed retained size in bytes.
    pub retained_bytes: u64,
    /// Where the app declares the holding variable and stores into it, when found in its
    /// source (see [`super::keepers`]).
    pub kept_at: Option<super::keepers::KeptAt>,
}

/// Clusters the retainer paths of `nodes` (survivors of one class), most objects first.
pub fn retainer_clusters(
    graph: &HeapGraph,
    paths: &RootPaths,
    dominators: Option<&Dominators>,
    nodes: &[NodeIndex],
    max_clusters: usize,
) -> Vec<RetainerCluster> {
    let mut by_path: HashMap<RetainerPath, (u64, u64)> = HashMap::new();
    for &node in nodes {
        let text = paths.describe(graph, node);
        let retained = dominators.map_or(u64::from(graph.self_size(node)), |d| {
            d.retained[node as usize]
        });
        let entry = by_path.entry(text).or_default();
        entry.0 += 1;
        entry.1 += retained;
    }
    let mut clusters: Vec<RetainerCluster> = by_path
        .into_iter()
        .map(|(path, (count, retained_bytes))| RetainerCluster {
            holder: path.holder.clone(),
            path,
            count,
            retained_bytes,
            kept_at: None,
        })
        .collect();
    if clusters.iter().any(|c| !c.path.held_by_code()) {
        clusters.retain(|c| !c.path.held_by_code());
    }
    clusters.sort_by(|a, b| b.count.cmp(&a.count).then(a.path.cmp(&b.path)));
    clusters.truncate(max_clusters);
    clusters
}

/// The developer-facing part of a root path to `node` (`steps`, from [`RootPaths::path_to`]).
pub fn describe_path(
    graph: &HeapGraph,
    modules: &ModuleBindings,
    steps: &[(NodeIndex, usize)],
    node: NodeIndex,
) -> RetainerPath {
    if steps.is_empty() {
        return RetainerPath {
            holder: Holder::Unreachable,
            steps: vec![class_of(graph, node)],
        };
    }
    // The last anchor: a closure-context variable or a property of a global object.
    let anchor = steps
        .iter()
        .rposition(|&(from, e)| is_anchor(graph, modules, from, e))
        .unwrap_or(0);
    // Runs of the same step (a linked list: `_idleNext` after `_idleNext`) are one step,
    // however long; compared on raw indexes so that long chains cost no formatting.
    let key = |&(from, e): &(NodeIndex, usize)| {
        (
            graph.node_type_code(from),
            graph.node_name_index(from),
            graph.edge_type_code(e),
            graph.edge_name_raw(e),
        )
    };
    let mut runs: Vec<(&(NodeIndex, usize), bool)> = Vec::new();
    for step in &steps[anchor..] {
        match runs.last_mut() {
            Some((last, repeated)) if key(last) == key(step) => *repeated = true,
            _ => runs.push((step, false)),
        }
    }
    let mut holder = None;
    let mut parts: Vec<String> = Vec::with_capacity(MAX_STEPS + 2);
    let skip = runs.len().saturating_sub(MAX_STEPS);
    for (i, &(&(from, e), repeated)) in runs.iter().enumerate() {
        if i > 0 && i < skip {
            if i == 1 {
                parts.push("…".to_string());
            }
            continue;
        }
        if i == 0 {
            if let Some(found) = module_binding(graph, modules, from, e) {
                holder = Some(found);
                continue;
            }
        }
        let name = edge_label(graph, from, e);
        if i == 0 && graph.edge_type_name(e) == "context" {
            holder = Some(Holder::ClosureVariable { name });
            continue;
        }
        if i == 0 && is_global(graph, from) {
            // The global object is large enough to read as a dictionary; its names are code.
            let name = graph.edge_name(e).into_owned();
            holder = Some(Holder::Global { name });
            continue;
        }
        let mut part = format!("{}{}", class_of(graph, from), join_edge(&name));
        if repeated {
            part.push('…');
        }
        if i == 0 {
            holder = Some(Holder::Object { text: part });
            continue;
        }
        parts.push(part);
    }
    parts.push(class_of(graph, node));
    RetainerPath {
        holder: holder.unwrap_or(Holder::Unreachable),
        steps: parts,
    }
}

fn join_edge(name: &str) -> String {
    if name.starts_with('[') {
        name.to_string()
    } else {
        format!(".{name}")
    }
}

/// An edge's name with indexes folded, so that siblings share a path.
fn edge_label(graph: &HeapGraph, from: NodeIndex, e: usize) -> String {
    match graph.edge_type_name(e) {
        "property" if is_dictionary(graph, from) => "[key]".to_string(),
        "element" | "hidden" => "[]".to_string(),
        _ => {
            let name = graph.edge_name(e);
            if name.is_empty() || name.bytes().all(|b| b.is_ascii_digit()) {
                "[]".to_string()
            } else if looks_like_data(&name) {
                // A dictionary key (a session id, a label set): data, not a name in the code.
                "[key]".to_string()
            } else {
                name.into_owned()
            }
        }
    }
}

/// Properties an object may have before its property names count as data (an object used as a
/// map: `cache[term] = ...`), so that the objects it holds share one path.
const DICTIONARY_PROPERTIES: usize = 256;

/// Whether `n` is an object with more than [`DICTIONARY_PROPERTIES`] named properties.
fn is_dictionary(graph: &HeapGraph, n: NodeIndex) -> bool {
    graph
        .edges(n)
        .filter(|&e| graph.edge_type_name(e) == "property")
        .nth(DICTIONARY_PROPERTIES)
        .is_some()
}

/// Whether a property name is data used as a key rather than a name written in the code.
fn looks_like_data(name: &str) -> bool {
    let digits = name.bytes().any(|b| b.is_ascii_digit());
    name.len() > 40
        || (name.len() >= 20 && digits)
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b' ')
}

/// The module binding that the step `from --e-->` reads: an exported binding's cell, or a
/// variable of a module's scope.
fn module_binding(
    graph: &HeapGraph,
    modules: &ModuleBindings,
    from: NodeIndex,
    e: usize,
) -> Option<Holder> {
    if let Some(binding) = modules.cell(from) {
        return (graph.edge_name(e) == "value").then(|| Holder::ModuleVariable {
            name: binding.name.clone(),
            declared_at: None,
            file: binding.file.clone(),
        });
    }
    let file = modules.scope(from)?;
    (graph.edge_type_name(e) == "context").then(|| Holder::ModuleVariable {
        name: graph.edge_name(e).into_owned(),
        declared_at: None,
        file: file.clone(),
    })
}

fn is_anchor(graph: &HeapGraph, modules: &ModuleBindings, from: NodeIndex, e: usize) -> bool {
    if modules.cell(from).is_some() && graph.edge_name(e) == "value" {
        return true;
    }
    match graph.edge_type_name(e) {
        "context" => {
            let name = graph.edge_name(e);
            // V8's own context slots are not variables people wrote.
            !name.is_empty() && !name.starts_with('.') && !name.starts_with('#')
        }
        "property" => is_global(graph, from),
        _ => false,
    }
}

fn is_global(graph: &HeapGraph, n: NodeIndex) -> bool {
    let name = graph.node_name(n);
    graph.node_type_name(n) == "object"
        && (name == "global" || name.starts_with("global /") || name == "Window")
}

/// The DevTools class of one node.
fn class_of(graph: &HeapGraph, n: NodeIndex) -> String {
    match graph.node_type_name(n) {
        "object" | "native" => graph.node_name(n).to_string(),
        other => crate::snapshot::type_label(other),
    }
}

/// One of the objects that keep the most memory alive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopRetainer {
    /// DevTools class name.
    pub class: String,
    /// The snapshot id (to find it in DevTools: `@id`).
    pub id: u32,
    /// Its own size in bytes.
    pub self_size: u64,
    /// What it alone keeps alive, itself included, in bytes.
    pub retained_size: u64,
    /// How it is held.
    pub path: RetainerPath,
}

/// The `count` objects with the largest retained sizes, leaving out V8's synthetic roots.
pub fn top_retainers(
    graph: &HeapGraph,
    paths: &RootPaths,
    dominators: &Dominators,
    count: usize,
) -> Vec<TopRetainer> {
    let synthetic = graph.type_codes().synthetic;
    let mut nodes: Vec<NodeIndex> = (1..graph.node_count() as NodeIndex)
        .filter(|&n| Some(graph.node_type_code(n)) != synthetic)
        .collect();
    let k = count.min(nodes.len());
    if k == 0 {
        return Vec::new();
    }
    let by_retained = |a: &NodeIndex, b: &NodeIndex| {
        dominators.retained[*b as usize]
            .cmp(&dominators.retained[*a as usize])
            .then(a.cmp(b))
    };
    nodes.select_nth_unstable_by(k - 1, by_retained);
    nodes.truncate(k);
    nodes.sort_by(by_retained);
    nodes
        .into_iter()
        .map(|n| TopRetainer {
            class: class_of(graph, n),
            id: graph.node_id(n),
            self_size: u64::from(graph.self_size(n)),
            retained_size: dominators.retained[n as usize],
            path: paths.describe(graph, n),
        })
        .collect()
}
