//! One snapshot's class table, as the DevTools summary view shows it.

use serde::Serialize;

use crate::snapshot::HeapGraph;

/// One class's live objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassStat {
    /// DevTools class name (`Object`, `(closure)`, `(system)`, ...).
    pub class: String,
    /// Live objects.
    pub count: u64,
    /// Their summed self size in bytes.
    pub self_size: u64,
}

/// A snapshot's totals and class table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Nodes in the snapshot.
    pub node_count: u64,
    /// Edges in the snapshot.
    pub edge_count: u64,
    /// Strings in the snapshot's string table.
    pub string_count: u64,
    /// Sum of every node's self size.
    pub total_self_size: u64,
    /// Classes, largest self size first (then by count, then by name).
    pub classes: Vec<ClassStat>,
}

/// Builds the class table of `graph`.
pub fn summarize(graph: &HeapGraph) -> Summary {
    let classes = graph.classify();
    let mut stats: Vec<ClassStat> = classes
        .names
        .iter()
        .map(|name| ClassStat {
            class: name.clone(),
            count: 0,
            self_size: 0,
        })
        .collect();
    for (n, &c) in classes.of_node.iter().enumerate() {
        let stat = &mut stats[c as usize];
        stat.count += 1;
        stat.self_size += u64::from(graph.self_size(n as u32));
    }
    // Types the snapshot declares but does not use (e.g. `wasm object`) are no class.
    stats.retain(|c| c.count > 0);
    sort_largest_first(&mut stats);
    Summary {
        node_count: graph.node_count() as u64,
        edge_count: graph.snapshot_edge_count() as u64,
        string_count: graph.strings.len() as u64,
        total_self_size: graph.total_self_size(),
        classes: stats,
    }
}

/// Largest self size first, then count, then name: a total order, so output is stable.
pub(crate) fn sort_largest_first(stats: &mut [ClassStat]) {
    stats.sort_by(|a, b| {
        b.self_size
            .cmp(&a.self_size)
            .then(b.count.cmp(&a.count))
            .then(a.class.cmp(&b.class))
    });
}
