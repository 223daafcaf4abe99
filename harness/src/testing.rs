//! `cargo test` integration: one libtest-mimic trial per spec.
//!
//! A test target with `harness = false` calls [`main`] (or builds its own list with
//! [`spec_trials`]); each spec becomes a test named by the spec's `name`, so
//! `cargo test -- sessions` filters, `--list` lists, and `--ignored` runs the specs marked
//! `slow: true`. Each trial runs on its own thread with its own port and temporary folder, so
//! trials run in parallel without colliding; a failing trial prints the spec's report.
//!
//! A run that meets its `expect` is then compared with its report snapshot (unless the spec
//! says `report_snapshot: false`): the stable report ([`crate::report::stable`]) is
//! snapshot-tested with insta, the snapshot named by the spec and kept in `snapshots/` beside
//! the spec file. insta's rules apply: locally a mismatch or a missing snapshot writes a
//! `.snap.new` for `cargo insta review`; with `CI=true` nothing is written and the trial fails;
//! `INSTA_UPDATE=always` accepts every new report.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};

use crate::report::render_run;
use crate::report::stable::render_stable;
use crate::runner::{run_spec, KeepSnapshots, RunOptions, SpecRun};
use crate::spec::{discover, load_spec, Spec};

/// The folder of a spec's report snapshot: `snapshots/` beside the spec file.
pub fn snapshot_dir(spec: &Spec) -> PathBuf {
    let dir = spec.file.parent().unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    });
    dir.join("snapshots")
}

/// Runs `spec` as one trial: its verdict must meet its `expect`, and then its stable report
/// must match the snapshot (when `report_snapshot` is on).
pub fn run_trial(spec: &Spec, options: &RunOptions) -> Result<(), Failed> {
    let run = run_spec(spec, options);
    if let Some(dir) = &options.artifacts_dir {
        write_reports(dir, spec, &run);
    }
    if !run.passed() {
        return Err(Failed::from(render_run(&run)));
    }
    if spec.report_snapshot {
        check_report_snapshot(spec, &run)?;
    }
    Ok(())
}

/// Writes the spec's JSON report, text report and chart beside its artifacts (CI uploads
/// them). Best effort: a report that cannot be written does not change the test's outcome.
fn write_reports(dir: &Path, spec: &Spec, run: &SpecRun) {
    let stem = dir.join(crate::runner::safe_name(&spec.name));
    let _ = std::fs::create_dir_all(dir);
    if let Ok(json) = serde_json::to_string_pretty(&crate::report::SpecJson::from_run(run)) {
        let _ = std::fs::write(stem.with_extension("json"), json + "\n");
    }
    let _ = std::fs::write(stem.with_extension("txt"), render_run(run));
    if let Some(svg) = crate::report::render_svg(spec, run) {
        let _ = std::fs::write(stem.with_extension("svg"), svg);
    }
}

/// Compares the stable report of `run` with its insta snapshot; a mismatch is a failure that
/// shows the difference. Runs without a verdict have no report to compare.
pub fn check_report_snapshot(spec: &Spec, run: &SpecRun) -> Result<(), Failed> {
    if run.outcome.is_err() {
        return Ok(());
    }
    let text = render_stable(spec, run);
    let dir = snapshot_dir(spec);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(&dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(spec.name.as_str(), text.as_str()));
    }));
    let Err(panic) = outcome else {
        return Ok(());
    };
    let cause = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("snapshot assertion failed");
    let file = dir.join(format!("{}.snap", spec.name.replace(['/', '\\'], "__")));
    let mut message = String::new();
    match std::fs::read_to_string(&file) {
        Ok(stored) => {
            message.push_str(&format!(
                "the report does not match its snapshot {} ({cause})\n\
                 --- snapshot\n+++ this run\n",
                file.display()
            ));
            message.push_str(&line_diff(snapshot_body(&stored), &text));
        }
        Err(_) => {
            message.push_str(&format!(
                "the report has no snapshot yet at {} ({cause}); this run's report:\n",
                file.display()
            ));
            message.push_str(&text);
        }
    }
    message.push_str(
        "\nreview and accept with `cargo insta review`, or rerun with INSTA_UPDATE=always \
         to accept every report; `report_snapshot: false` in the spec turns the check off\n",
    );
    Err(Failed::from(message))
}

/// The contents of an insta snapshot file: what follows its `---` header.
fn snapshot_body(stored: &str) -> &str {
    stored
        .strip_prefix("---\n")
        .and_then(|rest| rest.find("\n---\n").map(|i| &rest[i + 5..]))
        .unwrap_or(stored)
}

/// A line diff of `old` and `new` (longest common subsequence): unchanged lines start with a
/// space, removed ones with `-`, added ones with `+`.
pub fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.trim_end().lines().collect();
    let b: Vec<&str> = new.trim_end().lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!(" {}\n", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        }
    }
    out
}

/// Trials for every spec under `specs` (files or folders). A spec that does not parse becomes
/// a failing trial with the error, so a broken spec is seen, not skipped.
pub fn spec_trials(specs: &[PathBuf], options: &RunOptions) -> Vec<Trial> {
    let files = match discover(specs) {
        Ok(files) => files,
        Err(e) => {
            let message = e.to_string();
            return vec![Trial::test("specs", move || Err(Failed::from(message)))];
        }
    };
    files
        .into_iter()
        .map(|file| match load_spec(&file) {
            Ok(spec) => {
                let slow = spec.slow;
                let options = options.clone();
                Trial::test(spec.name.clone(), move || run_trial(&spec, &options))
                    .with_ignored_flag(slow)
                    .with_kind("spec")
            }
            Err(e) => {
                let name = file.file_stem().map_or_else(
                    || file.display().to_string(),
                    |s| s.to_string_lossy().into(),
                );
                let message = e.to_string();
                Trial::test(name, move || Err(Failed::from(message))).with_kind("spec")
            }
        })
        .collect()
}

/// The whole test binary: reads the environment (see [`crate::env`]), finds the specs
/// (`LEAKGATE_SPECS`, or `default_specs`), runs the trials and exits with libtest's code.
pub fn main(default_specs: &Path) -> std::process::ExitCode {
    let args = Arguments::from_args();
    let settings = match crate::env::settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("leakgate: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let specs = settings
        .specs
        .unwrap_or_else(|| default_specs.to_path_buf());
    let keep = settings.keep_snapshots.unwrap_or(KeepSnapshots::Never);
    let options = RunOptions {
        keep_snapshots: keep,
        artifacts_dir: settings
            .artifacts
            .or_else(|| (keep != KeepSnapshots::Never).then(|| PathBuf::from("target/leakgate"))),
        progress: false,
    };
    crate::app::lifetime::exit_on_signals();
    crate::app::lifetime::remove_stale_temp_dirs();
    let trials = spec_trials(&[specs], &options);
    libtest_mimic::run(&args, trials).exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diff_marks_changes() {
        assert_eq!(line_diff("a\nb\nc\n", "a\nx\nc\n"), " a\n-b\n+x\n c\n");
        assert_eq!(line_diff("a\n", "a\nb\n"), " a\n+b\n");
    }

    #[test]
    fn snapshot_body_skips_the_header() {
        let stored = "---\nsource: x.rs\n---\nspec: hello\nverdict: clean\n";
        assert_eq!(snapshot_body(stored), "spec: hello\nverdict: clean\n");
        assert_eq!(snapshot_body("no header\n"), "no header\n");
    }
}
