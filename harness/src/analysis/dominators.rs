//! The dominator tree and retained sizes, by the Semi-NCA algorithm.
//!
//! An object's *retained size* is what the GC would free if that object went away: its self
//! size plus everything it alone keeps alive, i.e. the sizes of its subtree in the dominator
//! tree. Semi-NCA (Georgiadis, Tarjan, Werneck: "Finding dominators in practice") computes
//! semidominators as Lengauer–Tarjan does, with path compression, then turns them into
//! immediate dominators with a nearest-common-ancestor walk; it visits each edge a bounded
//! number of times and has no fixpoint iteration, so it cannot spin. Everything is iterative
//! and kept in `u32` arrays indexed by DFS number, so a snapshot of millions of nodes needs a
//! few arrays of that length and one reverse-edge array.
//!
//! As in Chrome DevTools, weak edges never retain, and shortcut edges retain only from the
//! synthetic root.

use super::super::snapshot::{HeapGraph, NodeIndex};

const NONE: u32 = u32::MAX;

/// The dominator tree of a heap graph, rooted at node 0.
#[derive(Debug, Clone)]
pub struct Dominators {
    /// Immediate dominator of every node (node 0 and unreachable nodes: themselves).
    pub idom: Vec<NodeIndex>,
    /// Retained size of every node in bytes (unreachable nodes: their self size).
    pub retained: Vec<u64>,
    /// Nodes reachable from the root through retaining edges.
    pub reachable: usize,
}

/// Whether edge `e` of `from` retains its target.
fn retains(
    graph: &HeapGraph,
    weak: Option<u8>,
    shortcut: Option<u8>,
    from: NodeIndex,
    e: usize,
) -> bool {
    let t = Some(graph.edge_type_code(e));
    t != weak && (t != shortcut || from == 0)
}

/// Computes immediate dominators and retained sizes.
pub fn dominators(graph: &HeapGraph) -> Dominators {
    let n = graph.node_count();
    let codes = graph.type_codes();
    let (weak, shortcut) = (codes.weak_edge, codes.shortcut_edge);
    let mut idom_out: Vec<NodeIndex> = (0..n as u32).collect();
    let mut retained: Vec<u64> = (0..n as u32)
        .map(|v| u64::from(graph.self_size(v)))
        .collect();
    if n == 0 {
        return Dominators {
            idom: idom_out,
            retained,
            reachable: 0,
        };
    }

    // 1. Iterative DFS from the root: preorder numbers and DFS-tree parents.
    let mut dfs_of = vec![NONE; n]; // node -> DFS number
    let mut node_of: Vec<NodeIndex> = Vec::with_capacity(n); // DFS number -> node
    let mut parent: Vec<u32> = Vec::with_capacity(n); // DFS number -> parent's DFS number
    let mut stack: Vec<(NodeIndex, usize)> = vec![(0, graph.edges(0).start)];
    dfs_of[0] = 0;
    node_of.push(0);
    parent.push(0);
    while let Some(top) = stack.last_mut() {
        let (v, next) = *top;
        let end = graph.edges(v).end;
        let mut pushed = false;
        let mut e = next;
        while e < end {
            let w = graph.edge_to(e);
            let keep = retains(graph, weak, shortcut, v, e);
            e += 1;
            if keep && dfs_of[w as usize] == NONE {
                top.1 = e;
                dfs_of[w as usize] = node_of.len() as u32;
                parent.push(dfs_of[v as usize]);
                node_of.push(w);
                stack.push((w, graph.edges(w).start));
                pushed = true;
                break;
            }
        }
        if !pushed {
            stack.pop();
        }
    }
    let reachable = node_of.len();
    drop(stack);

    // 2. Predecessors in DFS numbers (reverse edges among reachable nodes), as CSR.
    let mut pred_start = vec![0u32; reachable + 1];
    for (d, &v) in node_of.iter().enumerate() {
        let _ = d;
        for e in graph.edges(v) {
            let w = dfs_of[graph.edge_to(e) as usize];
            if w != NONE && retains(graph, weak, shortcut, v, e) {
                pred_start[w as usize + 1] += 1;
            }
        }
    }
    for i in 0..reachable {
        pred_start[i + 1] += pred_start[i];
    }
    let mut fill = pred_start.clone();
    let mut preds = vec![0u32; pred_start[reachable] as usize];
    for (d, &v) in node_of.iter().enumerate() {
        for e in graph.edges(v) {
            let w = dfs_of[graph.edge_to(e) as usize];
            if w != NONE && retains(graph, weak, shortcut, v, e) {
                let slot = &mut fill[w as usize];
                preds[*slot as usize] = d as u32;
                *slot += 1;
            }
        }
    }
    drop(fill);

    // 3. Semidominators with path compression (all in DFS numbers).
    let mut semi: Vec<u32> = (0..reachable as u32).collect();
    let mut label: Vec<u32> = (0..reachable as u32).collect();
    let mut ancestor = vec![NONE; reachable];
    let mut path: Vec<u32> = Vec::new();
    for w in (1..reachable).rev() {
        let mut best = semi[w];
        for &v in &preds[pred_start[w] as usize..pred_start[w + 1] as usize] {
            let u = eval(v, &mut ancestor, &mut label, &semi, &mut path);
            best = best.min(semi[u as usize]);
        }
        semi[w] = best;
        ancestor[w] = parent[w];
    }
    drop(preds);
    drop(pred_start);
    drop(ancestor);
    drop(label);

    // 4. Immediate dominators: the nearest ancestor of the parent not below the semidominator.
    let mut idom = parent;
    for w in 1..reachable {
        let mut d = idom[w];
        while d > semi[w] {
            d = idom[d as usize];
        }
        idom[w] = d;
    }

    // 5. Retained sizes: children have larger DFS numbers than their dominators.
    for w in (1..reachable).rev() {
        let (child, dom) = (node_of[w] as usize, node_of[idom[w] as usize] as usize);
        retained[dom] += retained[child];
        idom_out[child] = dom as NodeIndex;
    }
    Dominators {
        idom: idom_out,
        retained,
        reachable,
    }
}

/// The vertex of smallest semidominator on the forest path above `v` (excluding the forest
/// root), compressing the path as it goes. Iterative, so deep heaps cannot overflow the stack.
fn eval(v: u32, ancestor: &mut [u32], label: &mut [u32], semi: &[u32], path: &mut Vec<u32>) -> u32 {
    if ancestor[v as usize] == NONE {
        return v;
    }
    path.clear();
    let mut x = v;
    while ancestor[ancestor[x as usize] as usize] != NONE {
        path.push(x);
        x = ancestor[x as usize];
    }
    // `x` is the topmost vertex whose ancestor is a forest root; compress from the top down.
    while let Some(y) = path.pop() {
        let a = ancestor[y as usize] as usize;
        if semi[label[a] as usize] < semi[label[y as usize] as usize] {
            label[y as usize] = label[a];
        }
        ancestor[y as usize] = ancestor[a];
    }
    label[v as usize]
}
