//! Fuzzes the heap snapshot reader: any bytes must give a graph or an error, never a panic or a
//! hang, and the answer must not depend on how the input is cut into chunks. Graphs that read
//! are walked the way the analyses walk them.

#![no_main]

use libfuzzer_sys::fuzz_target;

use leakgate::snapshot::{read_bytes, HeapGraph};

fuzz_target!(|data: &[u8]| {
    // One chunk, and small chunks whose size follows the input so boundaries move about.
    let whole = read_bytes(data, data.len().max(1));
    let piece = 1 + (data.len() + usize::from(data.first().copied().unwrap_or(0))) % 61;
    let pieces = read_bytes(data, piece);
    match (&whole, &pieces) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.node_count(), b.node_count());
            assert_eq!(a.edge_count(), b.edge_count());
            assert_eq!(a.strings.len(), b.strings.len());
            assert_eq!(a.total_self_size(), b.total_self_size());
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "piece {piece}"),
        (a, b) => panic!(
            "piece {piece} changes the outcome: {:?} vs {:?}",
            a.is_ok(),
            b.is_ok()
        ),
    }
    if let Ok(g) = whole {
        walk(&g);
    }
});

fn walk(g: &HeapGraph) {
    let classes = g.classify();
    assert_eq!(classes.of_node.len(), g.node_count());
    for &c in &classes.of_node {
        assert!((c as usize) < classes.names.len());
    }
    let _ = g.total_self_size();
    let _ = g.max_heap_id();
    let _ = g.type_codes();
    let mut edges = 0;
    for n in 0..g.node_count() as u32 {
        let _ = (
            g.node_name(n),
            g.node_type_name(n),
            g.node_id(n),
            g.self_size(n),
        );
        let _ = (g.trace_node_id(n), g.detachedness(n));
        for e in g.edges(n) {
            let to = g.edge_to(e);
            let _ = (g.edge_name(e), g.edge_type_name(e), g.node_type_name(to));
            edges += 1;
        }
    }
    assert_eq!(edges, g.edge_count());
    for loc in &g.locations {
        let _ = g.node_name(loc.node);
    }
    let summary = leakgate::analysis::summarize(g);
    assert_eq!(summary.node_count, g.node_count() as u64);
}
