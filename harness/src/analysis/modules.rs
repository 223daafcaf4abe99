//! ES module bindings in a heap snapshot, so that a retainer path can start at the name a
//! developer wrote (`configBus (module variable, src/bus.mjs:3)`) rather than at V8's module
//! records (`ModuleWrap … (system).value`).
//!
//! What V8 (Node 20-24) shows: each module Node loads is a `ModuleWrap` object whose `url`
//! property is the module's URL and which holds a `system / SourceTextModule`. An exported
//! binding lives in a `system / Cell` (its `value` edge is the binding's value); the module's
//! exports table is an array of key/value pairs, the binding's name (a string) right before its
//! cell. Importers reach the same cell through their own arrays, which carry no names, so the
//! names are taken from the exporting module's table. Top-level bindings that are not exported
//! live in the module's scope, a `system / Context` whose `extension` edge is the module.

use std::collections::HashMap;

use crate::snapshot::{HeapGraph, NodeIndex};

/// An exported binding of an ES module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The name it is exported as (`default` for a default export).
    pub name: String,
    /// The module's file (a path, from its `file:` URL), when it has one.
    pub file: Option<String>,
}

/// The ES module bindings of one snapshot.
#[derive(Debug, Clone, Default)]
pub struct ModuleBindings {
    /// Each exported binding's cell.
    cells: HashMap<NodeIndex, Binding>,
    /// Each module scope (context) and its module's file.
    scopes: HashMap<NodeIndex, Option<String>>,
}

impl ModuleBindings {
    /// Finds the modules of `graph`, their exported cells and their scopes.
    pub fn new(graph: &HeapGraph) -> ModuleBindings {
        let mut modules: HashMap<NodeIndex, Option<String>> = HashMap::new();
        let mut contexts: Vec<NodeIndex> = Vec::new();
        for n in 0..graph.node_count() as NodeIndex {
            match graph.node_name(n) {
                "ModuleWrap" if graph.node_type_name(n) == "object" => {
                    let mut url = None;
                    let mut module = None;
                    for e in graph.edges(n) {
                        let to = graph.edge_to(e);
                        if graph.node_name(to) == "system / SourceTextModule" {
                            module = Some(to);
                        } else if url.is_none()
                            && graph.node_type_name(to) == "string"
                            && graph.node_name(to).starts_with("file:")
                        {
                            url = Some(graph.node_name(to));
                        }
                    }
                    if let Some(m) = module {
                        modules.insert(m, url.and_then(file_of_url));
                    }
                }
                "system / Context" => contexts.push(n),
                _ => {}
            }
        }
        let mut bindings = ModuleBindings::default();
        if modules.is_empty() {
            return bindings;
        }
        for (&module, file) in &modules {
            for e in graph.edges(module) {
                let table = graph.edge_to(e);
                if graph.node_type_name(table) != "array" {
                    continue;
                }
                // Key/value pairs: a name, then its cell.
                let mut previous: Option<NodeIndex> = None;
                for te in graph.edges(table) {
                    let to = graph.edge_to(te);
                    if graph.node_name(to) == "system / Cell" {
                        if let Some(key) = previous.filter(|&k| graph.node_type_name(k) == "string")
                        {
                            bindings.cells.entry(to).or_insert_with(|| Binding {
                                name: graph.node_name(key).to_string(),
                                file: file.clone(),
                            });
                        }
                    }
                    previous = Some(to);
                }
            }
        }
        for c in contexts {
            let module = graph
                .edges(c)
                .filter(|&e| graph.edge_name(e) == "extension")
                .map(|e| graph.edge_to(e))
                .find(|m| modules.contains_key(m));
            if let Some(m) = module {
                bindings.scopes.insert(c, modules[&m].clone());
            }
        }
        bindings
    }

    /// The exported binding whose cell is `n`.
    pub fn cell(&self, n: NodeIndex) -> Option<&Binding> {
        self.cells.get(&n)
    }

    /// When `n` is a module's scope: `Some(its file)`.
    pub fn scope(&self, n: NodeIndex) -> Option<&Option<String>> {
        self.scopes.get(&n)
    }
}

/// The path of a `file:` URL (`file:///app/src/bus.mjs` → `/app/src/bus.mjs`), with `%XX`
/// escapes decoded.
pub fn file_of_url(url: &str) -> Option<String> {
    if !url.starts_with("file:") {
        return None;
    }
    super::allocations::script_path(url).map(|p| p.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_become_paths() {
        assert_eq!(
            file_of_url("file:///app/src/bus.mjs").as_deref(),
            Some("/app/src/bus.mjs")
        );
        assert_eq!(
            file_of_url("file:///my%20app/a.mjs").as_deref(),
            Some("/my app/a.mjs")
        );
        assert_eq!(file_of_url("file:///a%2").as_deref(), Some("/a%2"));
        assert_eq!(file_of_url("node:events"), None);
    }
}
