//! `leakgate compare` and `assert.allow` on leaks that live in a worker thread, end to end: the
//! real binary runs specs of `tests/apps/worker-stats.js` (a main thread and a worker that each
//! keep records under a variable named `received`, at rates set by environment variables),
//! then compares the reports of two sides.
//!
//! - the worker keeping one record per 10, then one per request, the main thread one per 10 on
//!   both sides: the worker's leak is grown, the main thread's (same holder name) unchanged;
//! - a worker that starts keeping records: a new leak, named by the worker's script; the other
//!   way round it is fixed;
//! - `assert.allow` with `thread:` the worker's script allows the worker's leak; with `thread:
//!   main` it does not.

mod common;

use std::path::{Path, PathBuf};

use common::spec_of;
use serde_json::Value;

const WORKER: &str = "./worker-stats-worker.js";

/// Writes a spec `NAME.yaml` into `dir` running the app with `env` and `assert`.
fn spec(dir: &Path, name: &str, env: &str, assert: &str, expect: &str) {
    let text = format!(
        "app:\n  script: {}\n  env: {{{env}}}\n  ready: {{path: /health, timeout: 20s}}\n\
         load:\n  warmup: 300\n  requests:\n    - \"GET /events/{{i}}\"\n\
         checkpoints: [1000, 2000, 3000]\nexplain: never\n{assert}expect: {expect}\n",
        common::apps_dir().join("worker-stats.js").display()
    );
    std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
}

/// Runs the specs of `dir` with `--report-dir dir/reports` and `--json dir/report.json`;
/// returns both.
fn run(dir: &Path) -> (PathBuf, PathBuf) {
    let (reports, json) = (dir.join("reports"), dir.join("report.json"));
    let status = common::leakgate()
        .arg("run")
        .arg(dir)
        .arg("--json")
        .arg(&json)
        .arg("--report-dir")
        .arg(&reports)
        .args(["--jobs", "2"])
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .status()
        .unwrap();
    assert!(
        status.code() == Some(0) || status.code() == Some(1),
        "{status}"
    );
    (reports, json)
}

/// Compares `base` and `head`: the exit code, the JSON and the text.
fn compare(base: &Path, head: &Path, dir: &Path) -> (i32, Value, String) {
    let json = dir.join("comparison.json");
    let out = common::leakgate()
        .arg("compare")
        .arg(base)
        .arg(head)
        .arg("--json")
        .arg(&json)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let value: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (
        out.status.code().unwrap_or(-1),
        value,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The one leak of `spec` held by `received` in `thread` (`None`: the main thread).
fn leak<'a>(spec: &'a Value, thread: Option<&str>) -> &'a Value {
    let found: Vec<&Value> = spec["leaks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["leak"] == "received" && l["thread"].as_str() == thread)
        .collect();
    assert_eq!(found.len(), 1, "{thread:?} in {spec:#}");
    found[0]
}

#[test]
fn a_worker_leak_is_new_grown_or_fixed_apart_from_the_main_threads() {
    let base = tempfile::tempdir().unwrap();
    let head = tempfile::tempdir().unwrap();
    let main_keeps = "MAIN_KEEP_EVERY: \"10\"";
    spec(
        base.path(),
        "grows",
        &format!("{main_keeps}, KEEP_EVERY: \"10\""),
        "",
        "leak",
    );
    spec(
        head.path(),
        "grows",
        &format!("{main_keeps}, KEEP_EVERY: \"1\""),
        "",
        "leak",
    );
    spec(
        base.path(),
        "appears",
        &format!("{main_keeps}, KEEP_EVERY: \"0\""),
        "",
        "leak",
    );
    spec(
        head.path(),
        "appears",
        &format!("{main_keeps}, KEEP_EVERY: \"10\""),
        "",
        "leak",
    );
    let ((base_dir, _), (_, head_json)) = (run(base.path()), run(head.path()));
    // A `--report-dir` folder against a `--json` file.
    let (code, c, text) = compare(&base_dir, &head_json, base.path());
    assert_eq!(code, 1, "{c:#}");

    let grows = spec_of(&c, "grows");
    assert_eq!(grows["status"], "regressed", "{grows:#}");
    let worker = leak(grows, Some(WORKER));
    assert_eq!(worker["change"], "grown", "{grows:#}");
    let ratio = worker["ratio"].as_f64().unwrap();
    assert!((7.0..13.0).contains(&ratio), "{grows:#}");
    assert_eq!(leak(grows, None)["change"], "unchanged", "{grows:#}");

    let appears = spec_of(&c, "appears");
    assert_eq!(leak(appears, Some(WORKER))["change"], "new", "{appears:#}");
    assert_eq!(leak(appears, None)["change"], "unchanged", "{appears:#}");
    assert_eq!((c["new"].as_u64(), c["grown"].as_u64()), (Some(1), Some(1)));
    assert!(
        text.contains("new leak: held by `received`")
            && text.contains(" in worker ./worker-stats-worker.js: none → "),
        "{text}"
    );

    // The other way round: the worker's leak is fixed or shrunk, nothing fails.
    let (code, c, _) = compare(&head_json, &base_dir, head.path());
    assert_eq!(code, 0, "{c:#}");
    assert_eq!(
        leak(spec_of(&c, "appears"), Some(WORKER))["change"],
        "fixed"
    );
    assert_eq!(leak(spec_of(&c, "grows"), Some(WORKER))["change"], "shrunk");
    assert_eq!(c["fixed"].as_u64(), Some(1), "{c:#}");
}

#[test]
fn allow_entries_match_worker_suspects_by_fingerprint_and_thread() {
    let dir = tempfile::tempdir().unwrap();
    let env = "MAIN_KEEP_EVERY: \"0\", KEEP_EVERY: \"5\"";
    let allow = |thread: &str| {
        format!("assert:\n  allow:\n    - {{holder: received, thread: {thread}, max_per_1k_requests: 1000}}\n")
    };
    spec(
        dir.path(),
        "worker",
        env,
        &allow("worker-stats-worker.js"),
        "clean",
    );
    spec(dir.path(), "main-only", env, &allow("main"), "leak");
    let (_, json) = run(dir.path());
    let report: Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let of = |name: &str| {
        report["specs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };

    let allowed = of("worker");
    assert_eq!(allowed["verdict"], "clean", "{allowed:#}");
    let worker = &allowed["isolates"][1];
    assert_eq!(worker["script"], WORKER, "{worker:#}");
    assert_eq!(worker["verdict"], "clean", "{worker:#}");
    let suspects = worker["suspects"].as_array().unwrap();
    assert!(!suspects.is_empty(), "{worker:#}");
    for s in suspects {
        assert_eq!(s["fingerprint"]["holder"], "received", "{s:#}");
        assert_eq!(s["allow"], "allowed", "{s:#}");
    }
    assert_eq!(worker["allowed"][0]["holder"], "received", "{worker:#}");
    assert_eq!(worker["allowed"][0]["within_budget"], true, "{worker:#}");
    // The main thread has no entry of its own.
    assert_eq!(allowed["allowed"], serde_json::json!([]), "{allowed:#}");

    let main_only = of("main-only");
    assert_eq!(main_only["verdict"], "leak", "{main_only:#}");
    let worker = &main_only["isolates"][1];
    assert_eq!(worker["verdict"], "leak", "{worker:#}");
    assert!(
        worker["suspects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["allow"].is_null()),
        "{worker:#}"
    );
}
