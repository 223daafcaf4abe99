//! Report snapshots fail the spec's test when they do not match, the way CI runs them.
//!
//! This binary sets `CI=true` for itself (then no `.snap.new` is written and a mismatch
//! fails), so it is kept apart from the other tests.

use std::path::{Path, PathBuf};

use leakgate::report::stable::rate_words;
use leakgate::runner::{run_spec, RunOptions};
use leakgate::spec::load_spec;
use leakgate::stored_reports::UpdateMode;
use leakgate::testing::{check_report_snapshot, run_trial, spec_trials};
use libtest_mimic::{Arguments, FormatSetting};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// `specs/hello.yaml` copied into `dir`, its script made absolute, with a wrong snapshot.
fn hello_with_wrong_snapshot(dir: &Path) -> PathBuf {
    let root = workspace();
    let source = std::fs::read_to_string(root.join("specs/hello.yaml")).unwrap();
    let script = root.join("sample-apps/hello/server.js");
    let source = source.replace(
        "../sample-apps/hello/server.js",
        script.to_str().expect("a UTF-8 path"),
    );
    assert!(source.contains(script.to_str().unwrap()));
    let spec = dir.join("hello.yaml");
    std::fs::write(&spec, source).unwrap();
    std::fs::create_dir(dir.join("snapshots")).unwrap();
    std::fs::write(
        dir.join("snapshots/hello.snap"),
        "---\nsource: harness/src/testing.rs\n---\nspec: hello\nfile: hello.yaml\n\
         expect: clean\nverdict: leak\n",
    )
    .unwrap();
    spec
}

#[test]
fn a_report_that_differs_from_its_snapshot_fails_under_ci() {
    // Only this test reads the environment; the others here never do.
    std::env::set_var("CI", "true");
    std::env::set_var("INSTA_UPDATE", "auto");
    std::env::remove_var("INSTA_FORCE_PASS");

    let dir = tempfile::tempdir().unwrap();
    let spec_file = hello_with_wrong_snapshot(dir.path());
    let snap = dir.path().join("snapshots/hello.snap");
    let stored = std::fs::read_to_string(&snap).unwrap();
    let options = RunOptions::default();
    let mode = leakgate::env::settings().unwrap().update_mode;

    // As a trial among trials, the way `cargo test` runs it: one failure. (JSON output, so
    // that the inner run's summary is not mistaken for this binary's own.)
    let trials = spec_trials(&[dir.path().to_path_buf()], &options, mode);
    assert_eq!(trials.len(), 1);
    let args = Arguments {
        test_threads: Some(1),
        format: Some(FormatSetting::Json),
        ..Default::default()
    };
    let conclusion = libtest_mimic::run(&args, trials);
    assert_eq!(conclusion.num_failed, 1, "{conclusion:?}");
    assert_eq!(conclusion.num_passed, 0);

    // The failure says which snapshot and how the report differs.
    let spec = load_spec(&spec_file).unwrap();
    let failed = run_trial(&spec, &options, mode).expect_err("the snapshot is wrong");
    let message = failed.message().unwrap_or_default();
    assert!(message.contains("does not match its snapshot"), "{message}");
    assert!(message.contains("hello.snap"), "{message}");
    assert!(message.contains("-verdict: leak"), "{message}");
    assert!(message.contains("+verdict: clean"), "{message}");

    // Under CI nothing is written: no pending snapshot, the stored one unchanged.
    assert!(!dir.path().join("snapshots/hello.snap.new").exists());
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), stored);
}

#[test]
fn a_first_run_says_in_one_line_what_to_run_and_leakgate_accept_stores_it() {
    // The modes are passed explicitly: this test reads no environment.
    let dir = tempfile::tempdir().unwrap();
    let spec_file = hello_with_wrong_snapshot(dir.path());
    let snap = dir.path().join("snapshots/hello.snap");
    let pending = dir.path().join("snapshots/hello.snap.new");
    std::fs::remove_file(&snap).unwrap();
    let spec = load_spec(&spec_file).unwrap();
    let run = run_spec(&spec, &RunOptions::default());
    assert!(run.passed(), "{}", leakgate::report::render_run(&run));

    // Under CI: a failure whose first line says what is missing and what to run; no file.
    let failed = check_report_snapshot(&spec, &run, UpdateMode::Strict).expect_err("no snapshot");
    let message = failed.message().unwrap_or_default().to_string();
    let first = message.lines().next().unwrap_or_default();
    assert!(
        first.contains("`hello` has no report snapshot"),
        "{message}"
    );
    assert!(first.contains("`leakgate accept "), "{message}");
    assert!(
        message.contains("verdict: clean"),
        "the report follows: {message}"
    );
    assert!(!pending.exists() && !snap.exists());

    // Locally: the report waits in hello.snap.new, named on the first line with both commands.
    let failed = check_report_snapshot(&spec, &run, UpdateMode::Pending).expect_err("new");
    let message = failed.message().unwrap_or_default().to_string();
    let first = message.lines().next().unwrap_or_default();
    assert!(first.contains("hello.snap.new"), "{message}");
    assert!(
        first.contains("`INSTA_UPDATE=always cargo test --test stable_reports -- hello`"),
        "{message}"
    );
    assert!(pending.exists());

    // `leakgate accept DIR` makes it the stored report; the check then passes.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leakgate"))
        .arg("accept")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("accepted") && stderr.contains("hello.snap"),
        "{stderr}"
    );
    assert!(snap.exists() && !pending.exists());
    check_report_snapshot(&spec, &run, UpdateMode::Strict).expect("the accepted report matches");
}

#[test]
fn rates_read_as_words() {
    assert_eq!(rate_words(1.0), "1 per request");
    assert_eq!(rate_words(0.02), "1 per 50 requests");
    assert_eq!(rate_words(3.0), "3 per request");
    assert_eq!(rate_words(2.9), "3 per request");
    assert_eq!(rate_words(0.0195), "1 per 50 requests");
}
