//! What the live test binaries share: where the repo's specs and test apps are, a runtime for
//! the async parts, a free port, the `leakgate` binary, and a sample spec's run that must leak.
//!
//! Each test binary compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use leakgate::analysis::Verdict;
use leakgate::explain::SuspectRetainers;
use leakgate::runner::{run_spec, Measured, RunOptions};
use leakgate::spec::load_spec;

/// The small Node apps of the live tests, `harness/tests/apps`.
pub fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

/// The sample spec `specs/NAME.yaml`.
pub fn sample_spec(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../specs")
        .join(format!("{name}.yaml"))
}

/// Runs the sample spec `name` with the default options and returns its measurement, which
/// must be a leak.
pub fn run_leak(name: &str) -> Box<Measured> {
    let spec = load_spec(&sample_spec(name)).expect("spec");
    let run = run_spec(&spec, &RunOptions::default());
    let m = run.outcome.expect("a verdict");
    assert_eq!(m.analysis.verdict, Verdict::Leak, "{name}");
    m
}

/// The retainer paths found for suspect `class`.
pub fn retainers_of<'a>(m: &'a Measured, class: &str) -> &'a SuspectRetainers {
    m.explanation
        .retainers
        .iter()
        .find(|r| r.class == class)
        .unwrap_or_else(|| panic!("{class} explained"))
}

/// A current-thread runtime for the async APIs (the inspector, the load generator).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A free port, found by binding port 0.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Spec `name`'s entry in `leakgate compare`'s JSON.
pub fn spec_of<'a>(comparison: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    comparison["specs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no spec {name} in {comparison:#}"))
}

/// The `leakgate` binary built for these tests.
pub fn leakgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_leakgate"))
}
