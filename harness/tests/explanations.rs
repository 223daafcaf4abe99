//! Explanations of real leaks in the sample apps: the retainer names the holding variable, and
//! a mixed spec names the request kind that leaks.

mod common;

use common::{retainers_of, run_leak, sample_spec};
use leakgate::analysis::Verdict;
use leakgate::runner::{run_spec, RunOptions};
use leakgate::spec::load_spec;

#[test]
fn request_log_leak_is_held_by_the_access_log_array() {
    let m = run_leak("request-log");
    let top = &retainers_of(&m, "Date").clusters[0];
    assert_eq!(
        top.path.to_string(),
        "accessLog (closure variable) → Array[] → Object.date → Date"
    );
    // Every Date of the two verified intervals (2000 requests each), in one cluster.
    assert_eq!(top.count, 4000);
    // A single request kind: nothing to attribute.
    assert_eq!(m.explanation.leaking_requests, None);
}

#[test]
fn mixed_spec_names_the_post_that_leaks() {
    let spec = load_spec(&sample_spec("orders-post-only")).expect("spec");
    let run = run_spec(&spec, &RunOptions::default());
    let m = run.outcome.as_ref().expect("a verdict");
    assert_eq!(m.analysis.verdict, Verdict::Leak);
    assert_eq!(
        m.explanation.leaking_requests,
        Some(vec!["POST /orders".to_string()])
    );
    let kinds: Vec<(&str, &str)> = m
        .explanation
        .request_kinds
        .iter()
        .map(|k| (k.request.as_str(), k.verdict))
        .collect();
    assert_eq!(
        kinds,
        vec![("GET /items/{i}", "clean"), ("POST /orders", "leak")]
    );
    // Named from the measured process itself: each kind served alone there, no second boot.
    assert_eq!(m.app_starts, 1);
    for k in &m.explanation.request_kinds {
        assert_eq!(k.method, "same_process", "{k:?}");
        assert_eq!(k.requests, 2000, "{k:?}");
    }
    println!("{}", leakgate::report::render_run(&run));
    let object = retainers_of(m, "Object");
    assert!(
        object.clusters[0]
            .path
            .to_string()
            .starts_with("orders (closure variable) → Map.table"),
        "{:?}",
        object.clusters
    );
}

#[test]
fn an_es_module_binding_is_named_with_its_file_and_line() {
    let m = run_leak("esm-bus");
    let top = &retainers_of(&m, "(closure)").clusters[0];
    assert_eq!(
        top.path.to_string(),
        "configBus (module variable, src/bus.mjs:3) → EventEmitter._events → Object.reload → Array[] → (closure)"
    );
    let kept = top.kept_at.as_ref().expect("kept");
    let declared = kept.declared_at.as_ref().expect("declared");
    assert_eq!((declared.file.as_str(), declared.line), ("src/bus.mjs", 3));
    // The store is in the module that imports the binding.
    let stores: Vec<(&str, u32)> = kept
        .stored_at
        .iter()
        .map(|p| (p.file.as_str(), p.line))
        .collect();
    assert_eq!(stores, vec![("server.mjs", 20)]);
    // No path of any suspect goes through V8's compiled code (its constants are V8's).
    for r in &m.explanation.retainers {
        for c in &r.clusters {
            assert!(!c.path.held_by_code(), "{}: {}", r.class, c.path);
        }
    }
}

/// A snapshot written by real Node (an ES module importing a bus, a global array), read back:
/// paths start at the module binding and at `globalThis.keep`.
#[test]
fn globals_and_module_bindings_of_a_real_snapshot_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bus.mjs"),
        "import { EventEmitter } from 'node:events';\n\
         export const bus = new EventEmitter();\nbus.setMaxListeners(0);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("main.mjs"),
        "import { bus } from './bus.mjs';\nimport v8 from 'node:v8';\n\
         class Kept { constructor(i) { this.i = i; } }\n\
         class Listened { constructor(i) { this.i = i; } }\n\
         globalThis.keep = [];\n\
         for (let i = 0; i < 300; i++) {\n\
           globalThis.keep.push(new Kept(i));\n\
           const l = new Listened(i);\n\
           bus.on('e', () => l);\n\
         }\n\
         v8.writeHeapSnapshot(process.argv[2]);\n",
    )
    .unwrap();
    let file = dir.path().join("s.heapsnapshot");
    let status = std::process::Command::new("node")
        .arg(dir.path().join("main.mjs"))
        .arg(&file)
        .status()
        .expect("node runs");
    assert!(status.success());
    let graph = leakgate::snapshot::read_file(&file).expect("snapshot");
    let paths = leakgate::analysis::retainers::RootPaths::new(&graph);
    let of = |class: &str| {
        let nodes: Vec<u32> = (0..graph.node_count() as u32)
            .filter(|&n| graph.node_type_name(n) == "object" && graph.node_name(n) == class)
            .collect();
        assert_eq!(nodes.len(), 300, "{class}");
        let clusters =
            leakgate::analysis::retainers::retainer_clusters(&graph, &paths, None, &nodes, 3);
        clusters[0].path.to_string()
    };
    assert_eq!(of("Kept"), "globalThis.keep → Array[] → Kept");
    assert_eq!(
        of("Listened"),
        "bus (module variable, bus.mjs) → EventEmitter._events → Object.e → Array[] → (closure).context → system / Context[] → Listened"
    );
}
