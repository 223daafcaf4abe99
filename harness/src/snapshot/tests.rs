//! Reader tests on small hand-written documents: the JSON corner cases V8 can write (escapes,
//! lone surrogates, white space) and the errors bad input must give. Semantics are tested on
//! real Node snapshots in `harness/tests/snapshot_reader.rs`.

use super::{read_bytes, read_bytes_without_edges, SnapshotError};

/// A minimal well-formed snapshot: a root with one edge to a named object.
fn tiny(strings: &str) -> String {
    format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape","wasm object"],"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"],"location_fields":["object_index","script_id","line","column"]}},"node_count":2,"edge_count":1,"trace_function_count":0}},
"nodes":[9,0,1,0,1,0,0
,3,1,3,40,0,0,0],
"edges":[2,2,7],
"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[7,1,2,3],
"strings":[{strings}]}}"#
    )
}

#[test]
fn reads_a_tiny_snapshot_at_every_chunk_size() {
    let text = tiny(r#""","Keeper","kept""#);
    for piece in [1, 2, 3, 7, 64, 1 << 20] {
        let g = read_bytes(text.as_bytes(), piece).expect("valid");
        assert_eq!(g.node_count(), 2);
        assert_eq!(g.edge_count(), 1);
        assert_eq!(g.node_name(1), "Keeper");
        assert_eq!(g.node_id(1), 3);
        assert_eq!(g.self_size(1), 40);
        assert_eq!(g.edge_to(0), 1);
        assert_eq!(g.edge_name(0), "kept");
        assert_eq!(g.node_type_name(1), "object");
        assert_eq!(g.locations.len(), 1);
        assert_eq!(g.locations[0].line, 2);
        let nodes = read_bytes_without_edges(text.as_bytes(), piece).expect("valid");
        assert_eq!(nodes.edge_count(), 0);
        assert_eq!(nodes.snapshot_edge_count(), 1);
        assert_eq!(nodes.edges(0), 0..0);
        assert_eq!(nodes.node_name(1), "Keeper");
    }
}

#[test]
fn decodes_escapes_and_surrogates() {
    // A pair, a lone high surrogate before a letter, a lone low one, and simple escapes.
    let text = tiny(r#""","K\ud83d\ude00\ud800x\udc00","a\"b\\c\/d\n\t\u00e9""#);
    for piece in [1, 5, 1 << 20] {
        let g = read_bytes(text.as_bytes(), piece).expect("valid");
        assert_eq!(g.node_name(1), "K\u{1F600}\u{FFFD}x\u{FFFD}");
        assert_eq!(g.edge_name(0), "a\"b\\c/d\n\té");
    }
    // Two high surrogates in a row, then a pair.
    let text = tiny(r#""","\ud800\ud83d\ude00","p""#);
    let g = read_bytes(text.as_bytes(), 3).expect("valid");
    assert_eq!(g.node_name(1), "\u{FFFD}\u{1F600}");
}

/// The error `text` gives, which reading without the edges must give too.
fn error_of(text: &str) -> SnapshotError {
    let without_edges = read_bytes_without_edges(text.as_bytes(), 5).map(|_| ());
    match read_bytes(text.as_bytes(), 5) {
        Ok(_) => panic!("accepted bad input: {text:.80}"),
        Err(e) => {
            let other = without_edges.err().map(|e| e.to_string());
            assert_eq!(other, Some(e.to_string()), "without edges: {text:.80}");
            e
        }
    }
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let text = tiny(r#""","Keeper","kept""#);
    for cut in 0..text.len() {
        let e = error_of(&text[..cut]);
        let message = e.to_string();
        assert!(!message.is_empty());
    }
}

#[test]
fn truncation_names_the_offset_and_section() {
    let text = tiny(r#""","Keeper","kept""#);
    let cut = text.find("\"edges\"").expect("edges") + 12;
    let e = error_of(&text[..cut]);
    assert!(matches!(e, SnapshotError::Truncated { .. }), "{e:?}");
    let message = e.to_string();
    assert!(message.contains(&format!("byte {cut}")), "{message}");
    assert!(message.contains("`edges`"), "{message}");
}

#[test]
fn garbage_is_not_a_snapshot() {
    for text in [
        "",
        "hello",
        "[1,2,3]",
        "{}",
        "\u{0}\u{1}",
        "{\"nodes\":[1]}",
    ] {
        let e = error_of(text);
        assert!(
            matches!(
                e,
                SnapshotError::NotASnapshot { .. } | SnapshotError::Inconsistent { .. }
            ),
            "{text:?}: {e:?}"
        );
    }
}

#[test]
fn malformed_numbers_are_syntax_errors_with_offsets() {
    let good = tiny(r#""","Keeper","kept""#);
    for (from, to) in [
        ("[2,2,7]", "[2,,7]"),
        ("[2,2,7]", "[2,2 2,7]"),
        ("[2,2,7]", "[2,x,7]"),
        ("[2,2,7]", "[2,2,7,]"),
        ("[2,2,7]", "[2,99999999999,7]"),
        ("[2,2,7]", "[2,-2,7]"),
    ] {
        let bad = good.replacen(from, to, 1);
        let e = error_of(&bad);
        match &e {
            SnapshotError::Syntax { offset, .. } => {
                let at = bad.find(to).expect("present") as u64;
                assert!(*offset >= at && *offset < at + to.len() as u64, "{to}: {e}");
            }
            other => panic!("{to}: {other:?}"),
        }
    }
}

#[test]
fn inconsistent_counts_and_references_are_reported() {
    let good = tiny(r#""","Keeper","kept""#);
    for (from, to, needle) in [
        ("[2,2,7]", "[2,2,8]", "not a node"),
        ("[2,2,7]", "[2,2,14]", "not a node"),
        ("\"node_count\":2", "\"node_count\":3", "node_count"),
        ("\"edge_count\":1", "\"edge_count\":2", "edge"),
        ("[2,2,7]", "[2,9,7]", "string 9"),
        ("[9,0,1,0,1,0,0", "[99,0,1,0,1,0,0", "type 99"),
        (
            "\"node_fields\":[\"type\",",
            "\"node_fields\":[\"kind\",",
            "no `type`",
        ),
    ] {
        let bad = good.replacen(from, to, 1);
        let message = error_of(&bad).to_string();
        assert!(message.contains(needle), "{to}: {message}");
    }
}

#[test]
fn unknown_types_are_kept_and_named() {
    let good = tiny(r#""","Keeper","kept""#);
    let bad = good.replacen("\"wasm object\"]", "\"wasm object\",\"future thing\"]", 1);
    let bad = bad.replacen(",3,1,3,40", ",16,1,3,40", 1);
    let g = read_bytes(bad.as_bytes(), 7).expect("valid");
    assert_eq!(g.node_type_name(1), "future thing");
    let classes = g.classify();
    assert_eq!(classes.names[classes.of_node[1] as usize], "(future thing)");
}

/// A tiny snapshot with allocation traces: the `Keeper` node was allocated at trace node
/// `keeper_trace`, and `tree` is the `trace_tree` section.
fn traced(tree: &str, keeper_trace: u32) -> String {
    tiny(r#""","Keeper","kept","handler","/srv/app/server.js""#)
        .replacen(
            "\"location_fields\"",
            "\"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\",\"script_id\",\"line\",\"column\"],\"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\"size\",\"children\"],\"location_fields\"",
            1,
        )
        .replacen(",3,1,3,40,0,0,0]", &format!(",3,1,3,40,0,{keeper_trace},0]"), 1)
        .replacen(
            "\"trace_function_infos\":[],\"trace_tree\":[]",
            &format!(
                "\"trace_function_infos\":[1,0,0,0,0,0, 11,3,4,81,22,34, 12,1,4,81,5,1],\"trace_tree\":{tree}"
            ),
            1,
        )
}

/// Root 1 → handler 2 → (Keeper 3, handler 5), and root 1 → handler 4.
const TREE: &str = "[1,0,0,0,[2,1,7,300,[3,2,5,200,[],5,1,0,0,[]],\n 4,1,1,16,[ ]]]";

#[test]
fn reads_a_nested_trace_tree_at_every_chunk_size() {
    let text = traced(TREE, 3);
    for piece in [1, 2, 3, 7, 64, 1 << 20] {
        let g = read_bytes(text.as_bytes(), piece).expect("valid");
        let tree = &g.trace_tree;
        assert_eq!(tree.len(), 5);
        let ids = |t| tree.path(t).map(|t| tree.id(t)).collect::<Vec<_>>();
        let three = tree.find(3).expect("node 3");
        assert_eq!(ids(three), [3, 2, 1]);
        assert_eq!(ids(tree.find(5).expect("node 5")), [5, 2, 1]);
        assert_eq!(ids(tree.find(4).expect("node 4")), [4, 1]);
        assert_eq!(tree.find(6), None);
        assert_eq!((tree.count(three), tree.size(three)), (5, 200));
        assert_eq!(tree.function(three), 2);
        assert_eq!(g.trace_functions.len(), 3);
        let handler = g.trace_functions[1];
        assert_eq!(g.strings.get(handler.name), "handler");
        assert_eq!(g.strings.get(handler.script_name), "/srv/app/server.js");
        assert_eq!(
            (
                handler.function_id,
                handler.script_id,
                handler.line,
                handler.column
            ),
            (11, 81, 22, 34)
        );
        let stack: Vec<&str> = g
            .allocation_stack(1)
            .iter()
            .map(|f| g.strings.get(f.name))
            .collect();
        assert_eq!(stack, ["Keeper", "handler", ""]);
        assert_eq!(g.trace_node_id(1), 3);
        assert!(g.allocation_stack(0).is_empty());
    }
}

#[test]
fn empty_trace_tree_and_unknown_trace_ids() {
    let g = read_bytes(traced("[]", 0).as_bytes(), 3).expect("valid");
    assert!(g.trace_tree.is_empty());
    assert!(g.allocation_stack(1).is_empty());
    // A node pointing at a trace node that is not in the tree has no stack.
    let g = read_bytes(traced(TREE, 99).as_bytes(), 3).expect("valid");
    assert!(g.allocation_stack(1).is_empty());
    // Without the layout in the header the tree is skipped, not misread.
    let text = traced(TREE, 3).replacen("\"trace_node_fields\"", "\"other_fields\"", 1);
    let g = read_bytes(text.as_bytes(), 3).expect("valid");
    assert!(g.trace_tree.is_empty());
}

#[test]
fn truncated_trace_trees_are_errors_not_panics() {
    let text = traced(TREE, 3);
    let start = text.find("\"trace_tree\"").expect("trace_tree");
    for cut in start..start + 14 + TREE.len() {
        let e = error_of(&text[..cut]);
        assert!(matches!(e, SnapshotError::Truncated { .. }), "{cut}: {e:?}");
    }
    for cut in 0..TREE.len() {
        let e = error_of(&traced(&TREE[..cut], 3));
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn malformed_trace_trees_are_errors() {
    for tree in [
        "[1,0,0,0]",
        "[1,0,0,0,[],]",
        "[1,0,0,[]]",
        "[1,0,0,0,[],2]",
        "[1,0,0,0,5]",
        "[[]]",
        "[,]",
        "[1,0,0,0,[]][]",
        "[1,0,0,0 [] ]",
        "[1,0,0,99999999999,[]]",
        "[1,0,-1,0,[]]",
        "{}",
        "[1,\"a\",0,0,[]]",
    ] {
        let e = error_of(&traced(tree, 0));
        assert!(
            matches!(
                e,
                SnapshotError::Syntax { .. } | SnapshotError::Truncated { .. }
            ),
            "{tree}: {e:?}"
        );
    }
    let e = error_of(&traced("[1,0,0,0,[2,3,0,0,[]]]", 0));
    assert!(e.to_string().contains("names function 3"), "{e}");
}

#[test]
fn deep_trace_trees_do_not_overflow_the_stack() {
    let depth = 200_000;
    let mut tree = String::from("[");
    for id in 1..=depth {
        tree.push_str(&format!("{id},1,1,8,["));
    }
    tree.push_str(&"]".repeat(depth + 1));
    let g = read_bytes(traced(&tree, depth as u32).as_bytes(), 1 << 16).expect("valid");
    assert_eq!(g.trace_tree.len(), depth);
    assert_eq!(g.allocation_stack(1).len(), depth);
    // Hostile: deep and unclosed.
    let text = traced(&"[1,0,0,0,".repeat(depth), 0);
    let cut = text.find(",\"samples\"").expect("samples");
    let e = error_of(&text[..cut]);
    assert!(matches!(e, SnapshotError::Truncated { .. }), "{e:?}");
}

#[test]
fn a_second_header_is_an_error() {
    // A header after `nodes` would change the layout `edges` is read with, leaving edge ranges
    // that point past the edges read.
    let good = tiny(r#""","Keeper","kept""#);
    let header_end = good.find(",\n\"nodes\"").expect("nodes");
    let header = &good[1..header_end];
    let again = header
        .replacen("\"edge_count\":1", "\"edge_count\":0", 1)
        .replacen("\"node_count\":2", "\"node_count\":3", 1);
    let bad = good.replacen(
        "\n\"edges\":[2,2,7]",
        &format!("\n{again},\n\"edges\":[]"),
        1,
    );
    for piece in [1, 4, 1 << 20] {
        let message = match read_bytes(bad.as_bytes(), piece) {
            Ok(g) => panic!("accepted a second header: {} edges", g.edge_count()),
            Err(e) => e.to_string(),
        };
        assert!(message.contains("more than once"), "{message}");
    }
    for section in ["nodes", "edges", "strings"] {
        let bad = good.replacen(
            "\"trace_function_infos\"",
            &format!("\"{section}\":[],\"trace_function_infos\""),
            1,
        );
        let message = error_of(&bad).to_string();
        assert!(message.contains("more than once"), "{section}: {message}");
    }
}

#[test]
fn huge_declared_counts_do_not_allocate_up_front() {
    // A few bytes may claim billions of nodes and edges; that must be an error about the
    // counts, not an allocation failure.
    let good = tiny(r#""","Keeper","kept""#);
    for (from, to) in [
        ("\"node_count\":2", "\"node_count\":4000000000"),
        ("\"edge_count\":1", "\"edge_count\":4000000000"),
    ] {
        let bad = good.replacen(from, to, 1);
        let message = error_of(&bad).to_string();
        assert!(message.contains("4000000000"), "{message}");
    }
}

#[test]
fn a_long_string_is_kept_in_part_and_counted_in_full() {
    use super::scan::KEPT_STRING_BYTES;
    // 3 MiB of a two-byte character: the stored part ends on a character boundary.
    let long = "é".repeat(3 << 19);
    let text = tiny(&format!(r#""","{long}","kept""#));
    for piece in [7, 1 << 16] {
        let g = read_bytes(text.as_bytes(), piece).expect("valid");
        let name = g.node_name(1);
        assert!(name.len() <= KEPT_STRING_BYTES && name.len() >= KEPT_STRING_BYTES - 3);
        assert!(name.chars().all(|c| c == 'é'));
        assert_eq!(g.edge_name(0), "kept");
    }
}

#[test]
fn a_string_longer_than_v8_allows_is_an_error() {
    use super::scan::MAX_STRING_UNITS;
    let long = "a".repeat(usize::try_from(MAX_STRING_UNITS).unwrap() + 1);
    let mut text = tiny(&format!(r#""","{long}","kept""#)).into_bytes();
    drop(long);
    let error = read_bytes(&text, 1 << 20).expect_err("too long");
    assert!(
        error.to_string().contains("longer than V8's limit"),
        "{error}"
    );
    // One character fewer is accepted.
    // (The header's keys have `a`s too: take one of the long string's.)
    let at = text.windows(3).position(|w| w == b"aaa").unwrap();
    text.remove(at);
    if let Err(e) = read_bytes(&text, 1 << 20) {
        panic!("{e}");
    }
}
