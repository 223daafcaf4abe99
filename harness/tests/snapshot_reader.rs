//! The reader and the diff against real Node 20 snapshots (`fixtures/`, made by
//! `fixtures/regenerate.sh`), checked against `fixtures/expected.json`, which an independent
//! Node script computed with `JSON.parse`.

mod common;

use common::leakgate;

use std::path::{Path, PathBuf};

use leakgate::analysis::{summarize, DiffBuilder};
use leakgate::snapshot::{self, SnapshotError};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn series(name: &str) -> Vec<PathBuf> {
    let e = expected();
    let count = e["series"][name]["snapshot_count"].as_u64().expect("count");
    (0..count)
        .map(|k| fixtures().join(format!("{name}-{k}.heapsnapshot.gz")))
        .collect()
}

#[test]
fn every_fixture_matches_the_independent_oracle() {
    let e = expected();
    let all = e["series"].as_object().expect("series");
    let mut checked = 0;
    for (name, s) in all {
        for (k, facts) in s["snapshots"]
            .as_array()
            .expect("snapshots")
            .iter()
            .enumerate()
        {
            let file = fixtures().join(facts["file"].as_str().expect("file"));
            let g = snapshot::read_file(&file).unwrap_or_else(|e| panic!("{name}-{k}: {e}"));
            assert_eq!(g.node_count() as u64, facts["node_count"].as_u64().unwrap());
            assert_eq!(g.edge_count() as u64, facts["edge_count"].as_u64().unwrap());
            assert_eq!(
                g.strings.len() as u64,
                facts["string_table_len"].as_u64().unwrap()
            );
            assert_eq!(
                g.total_self_size(),
                facts["total_self_size"].as_u64().unwrap()
            );
            assert_eq!(
                u64::from(g.max_heap_id()),
                facts["max_odd_id"].as_u64().unwrap()
            );
            let summary = summarize(&g);
            let without_edges = snapshot::read_file_without_edges(&file)
                .unwrap_or_else(|e| panic!("{name}-{k} without edges: {e}"));
            assert_eq!(without_edges.edge_count(), 0);
            assert_eq!(
                summarize(&without_edges),
                summary,
                "{name}-{k}: the summary read without edges"
            );
            assert_eq!(
                summary.classes.iter().map(|c| c.self_size).sum::<u64>(),
                summary.total_self_size,
                "class sizes add up to the total"
            );
            assert_eq!(
                summary.classes.len() as u64,
                facts["class_count"].as_u64().unwrap()
            );
            for (class, want) in facts["classes"].as_object().unwrap() {
                let got = summary.classes.iter().find(|c| &c.class == class);
                let (count, size) = got.map_or((0, 0), |c| (c.count, c.self_size));
                assert_eq!(
                    count,
                    want["count"].as_u64().unwrap(),
                    "{name}-{k} {class} count"
                );
                assert_eq!(
                    size,
                    want["self_size"].as_u64().unwrap(),
                    "{name}-{k} {class} size"
                );
            }
            for (type_name, want) in facts["node_types"].as_object().unwrap() {
                let got = (0..g.node_count() as u32)
                    .filter(|&n| g.node_type_name(n) == type_name)
                    .count() as u64;
                assert_eq!(
                    got,
                    want.as_u64().unwrap(),
                    "{name}-{k} node type {type_name}"
                );
            }
            for (type_name, want) in facts["edge_types"].as_object().unwrap() {
                let got = (0..g.edge_count())
                    .filter(|&e| g.edge_type_name(e) == type_name)
                    .count() as u64;
                assert_eq!(
                    got,
                    want.as_u64().unwrap(),
                    "{name}-{k} edge type {type_name}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 13, "only {checked} fixtures checked");
}

#[test]
fn survivors_by_id_match_the_oracle_in_every_series() {
    let e = expected();
    for (name, s) in e["series"].as_object().unwrap() {
        let files = series(name);
        if files.len() < 2 {
            continue;
        }
        let mut builder = DiffBuilder::new();
        for f in &files[..files.len() - 1] {
            builder.add_earlier(&snapshot::read_file(f).unwrap());
        }
        let last = snapshot::read_file(files.last().unwrap()).unwrap();
        let diff = builder.finish(&last);
        for (class, by_interval) in s["survivors"].as_object().unwrap() {
            for (k, want) in by_interval.as_object().unwrap() {
                let k: usize = k.parse().unwrap();
                let got: u64 = if class == "(all)" {
                    diff.classes.iter().map(|c| c.survivors[k]).sum()
                } else {
                    diff.classes
                        .iter()
                        .find(|c| &c.class == class)
                        .map_or(0, |c| c.survivors[k])
                };
                assert_eq!(got, want.as_u64().unwrap(), "{name}: {class} interval {k}");
            }
        }
    }
}

#[test]
fn keeper_series_exactly_500_survivors_per_interval_and_no_transients() {
    let files = series("keeper");
    let mut builder = DiffBuilder::new();
    for f in &files[..3] {
        builder.add_earlier(&snapshot::read_file(f).unwrap());
    }
    let diff = builder.finish(&snapshot::read_file(&files[3]).unwrap());
    let keeper = diff.classes.iter().find(|c| c.class == "Keeper").unwrap();
    assert_eq!(keeper.counts, vec![0, 500, 1000, 1500]);
    assert_eq!(keeper.survivors, vec![0, 500, 500, 500]);
    assert_eq!(keeper.verified_survivors(), &[500, 500]);
    assert!(!diff
        .classes
        .iter()
        .any(|c| c.class == "Transient" && c.counts.iter().any(|&n| n > 0)));
    let growing = diff.growing_classes(100);
    let names: Vec<&str> = growing.iter().map(|g| g.class.as_str()).collect();
    assert!(names.contains(&"Keeper"), "{names:?}");
    let k = growing.iter().find(|g| g.class == "Keeper").unwrap();
    assert_eq!(k.survivors_per_interval, 500.0);
}

#[test]
fn clean_series_has_no_growing_user_class() {
    let files = series("clean");
    let mut builder = DiffBuilder::new();
    for f in &files[..2] {
        builder.add_earlier(&snapshot::read_file(f).unwrap());
    }
    let diff = builder.finish(&snapshot::read_file(&files[2]).unwrap());
    // Nothing grows by more than a handful in a process that retains nothing.
    assert!(
        diff.growing_classes(20).is_empty(),
        "{:?}",
        diff.growing_classes(20)
    );
}

#[test]
fn strings_fixture_decodes_every_marker_like_json_parse() {
    let e = expected();
    let facts = &e["series"]["strings"]["snapshots"][0];
    let g = snapshot::read_file(&fixtures().join("strings-0.heapsnapshot.gz")).unwrap();
    let mut markers: Vec<String> = (0..g.strings.len() as u32)
        .map(|i| g.strings.get(i))
        .filter(|s| s.starts_with("lgmark:"))
        .map(str::to_string)
        .collect();
    // JSON.parse keeps lone surrogates; Rust strings cannot, so they read as U+FFFD.
    let mut want: Vec<String> = facts["marker_strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    markers.sort();
    want.sort();
    assert_eq!(markers.len(), want.len());
    for (got, want) in markers.iter().zip(&want) {
        if !want.contains('\u{FFFD}') {
            assert_eq!(got, want);
        }
    }
}

#[test]
fn truncated_and_garbage_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let raw = {
        use std::io::Read;
        let f = std::fs::File::open(fixtures().join("keeper-0.heapsnapshot.gz")).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(f)
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    for cut in [0usize, 10, 900, raw.len() / 3, raw.len() / 2, raw.len() - 2] {
        let path = dir.path().join(format!("cut-{cut}.heapsnapshot"));
        std::fs::write(&path, &raw[..cut]).unwrap();
        match snapshot::read_file(&path) {
            Err(SnapshotError::Truncated { offset, .. }) => assert_eq!(offset, cut as u64),
            Err(SnapshotError::NotASnapshot { .. }) if cut == 0 => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    let garbage = dir.path().join("garbage.heapsnapshot");
    std::fs::write(&garbage, b"\x7fELF\x02\x01\x01 not json at all").unwrap();
    assert!(matches!(
        snapshot::read_file(&garbage),
        Err(SnapshotError::NotASnapshot { .. })
    ));
    let missing = dir.path().join("missing.heapsnapshot");
    assert!(matches!(
        snapshot::read_file(&missing),
        Err(SnapshotError::Open { .. })
    ));
}

#[test]
fn cli_summary_json_has_the_contract_fields() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let status = leakgate()
        .arg("summary")
        .arg(fixtures().join("keeper-3.heapsnapshot.gz"))
        .arg("--json")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["node_count"], 42387);
    assert!(v["edge_count"].as_u64().unwrap() > 0);
    let classes = v["classes"].as_array().unwrap();
    let keeper = classes.iter().find(|c| c["class"] == "Keeper").unwrap();
    assert_eq!(keeper["count"], 1500);
    assert!(keeper["self_size"].as_u64().unwrap() > 0);
    let sizes: Vec<u64> = classes
        .iter()
        .map(|c| c["self_size"].as_u64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "largest first");
}

#[test]
fn cli_diff_lists_keeper_with_its_rate_and_bad_input_exits_2() {
    let files = series("keeper");
    let out = leakgate().arg("diff").args(&files).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.ends_with("  Keeper"))
        .expect("Keeper listed");
    assert!(
        line.contains("500.0") && line.contains("500 500 500"),
        "{line}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.heapsnapshot");
    std::fs::write(&bad, b"{\"snapshot\":{\"meta\":").unwrap();
    let out = leakgate().arg("summary").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("truncated") && err.contains("bad.heapsnapshot"),
        "{err}"
    );
}

/// Retained sizes checked against their definition on a real snapshot: remove a node, and the
/// bytes that become unreachable from the root (over retaining edges) are its retained size.
#[test]
fn retained_sizes_match_reachability_by_removal() {
    use leakgate::analysis::dominators::dominators;
    let g = snapshot::read_file(&fixtures().join("keeper-3.heapsnapshot.gz")).unwrap();
    let d = dominators(&g);
    let weak = g.type_codes().weak_edge;
    let shortcut = g.type_codes().shortcut_edge;
    let reach = |removed: u32| -> Vec<bool> {
        let mut seen = vec![false; g.node_count()];
        let mut stack = vec![0u32];
        seen[0] = true;
        while let Some(v) = stack.pop() {
            for e in g.edges(v) {
                let t = Some(g.edge_type_code(e));
                if t == weak || (t == shortcut && v != 0) {
                    continue;
                }
                let w = g.edge_to(e);
                if w != removed && !seen[w as usize] {
                    seen[w as usize] = true;
                    stack.push(w);
                }
            }
        }
        seen
    };
    let all = reach(u32::MAX);
    assert_eq!(all.iter().filter(|&&r| r).count(), d.reachable);
    // The biggest retainers, and a spread of ordinary nodes.
    let mut by_size: Vec<u32> = (1..g.node_count() as u32)
        .filter(|&v| all[v as usize])
        .collect();
    by_size.sort_by_key(|&v| std::cmp::Reverse(d.retained[v as usize]));
    let mut sample: Vec<u32> = by_size.iter().copied().take(15).collect();
    sample.extend(by_size.iter().copied().step_by(by_size.len() / 15));
    for v in sample {
        let after = reach(v);
        let freed: u64 = (0..g.node_count())
            .filter(|&w| all[w] && !after[w])
            .map(|w| u64::from(g.self_size(w as u32)))
            .sum();
        assert_eq!(
            d.retained[v as usize],
            freed,
            "node {v} ({})",
            g.node_name(v)
        );
    }
}

#[test]
fn retainer_paths_name_the_holding_variable_and_cluster() {
    use leakgate::explain::{retainers_of, GraphIndex};
    for (name, class, want) in [
        ("keeper", "Keeper", "globalThis.kept → Array[] → Keeper"),
        (
            "closures",
            "(closure)",
            "globalThis.handlers → Map.table → (array)[] → (closure)",
        ),
    ] {
        let files = series(name);
        let mut builder = DiffBuilder::new();
        for f in &files[..files.len() - 1] {
            builder.add_earlier(&snapshot::read_file(f).unwrap());
        }
        let last = snapshot::read_file(files.last().unwrap()).unwrap();
        let diff = builder.finish(&last);
        let index = GraphIndex::new(&last);
        let r = retainers_of(&last, &diff, &index, &[class]);
        let top = &r[0].clusters[0];
        assert_eq!(top.path.to_string(), want, "{name}");
        let expected = if name == "keeper" { 1000 } else { 300 };
        assert_eq!(top.count, expected, "{name}: one cluster with a count");
        assert!(top.retained_bytes > 0);
    }
}
