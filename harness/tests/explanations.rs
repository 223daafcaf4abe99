//! Explanations of real leaks in the sample apps: the retainer names the holding variable, and
//! a mixed spec names the request kind that leaks.

use std::path::{Path, PathBuf};

use leakgate::analysis::Verdict;
use leakgate::runner::{run_spec, RunOptions};
use leakgate::spec::load_spec;

fn spec(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../specs")
        .join(format!("{name}.yaml"))
}

#[test]
fn request_log_leak_is_held_by_the_access_log_array() {
    let spec = load_spec(&spec("request-log")).expect("spec");
    let run = run_spec(&spec, &RunOptions::default());
    let m = run.outcome.as_ref().expect("a verdict");
    assert_eq!(m.analysis.verdict, Verdict::Leak);
    let date = m
        .explanation
        .retainers
        .iter()
        .find(|r| r.class == "Date")
        .expect("Date explained");
    let top = &date.clusters[0];
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
    let spec = load_spec(&spec("orders-post-only")).expect("spec");
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
    let object = m
        .explanation
        .retainers
        .iter()
        .find(|r| r.class == "Object")
        .expect("Object explained");
    assert!(
        object.clusters[0]
            .path
            .to_string()
            .starts_with("orders (closure variable) → Map.table"),
        "{:?}",
        object.clusters
    );
}
