//! Reader tests on small hand-written documents: the JSON corner cases V8 can write (escapes,
//! lone surrogates, white space) and the errors bad input must give. Semantics are tested on
//! real Node snapshots in `harness/tests/snapshot_reader.rs`.

use super::{read_bytes, SnapshotError};

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

fn error_of(text: &str) -> SnapshotError {
    match read_bytes(text.as_bytes(), 5) {
        Ok(_) => panic!("accepted bad input: {text:.80}"),
        Err(e) => e,
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
