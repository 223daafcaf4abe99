//! `cargo test` integration: one libtest-mimic trial per spec.
//!
//! A test target with `harness = false` calls [`main`] (or builds its own list with
//! [`spec_trials`]); each spec becomes a test named by the spec's `name`, so
//! `cargo test -- sessions` filters, `--list` lists, and `--ignored` runs the specs marked
//! `slow: true`. Each trial runs on its own thread with its own port and temporary folder, so
//! trials run in parallel without colliding; a failing trial prints the spec's report.
//!
//! A run that meets its `expect` is then compared with its report snapshot (unless the spec
//! says `report_snapshot: false`): the stable report ([`crate::report::stable`]) is compared
//! with `snapshots/NAME.snap` beside the spec file ([`crate::stored_reports`], insta's file
//! format). Locally a mismatch or a missing snapshot writes `NAME.snap.new` and the trial fails
//! with one line saying what to run (`leakgate accept DIR`, or `INSTA_UPDATE=always`); with
//! `CI=true` nothing is written. No panic, no backtrace.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};

use crate::report::render_run;
use crate::report::stable::render_stable;
use crate::runner::{run_spec, KeepSnapshots, RunOptions, SpecRun};
use crate::settings::{Choices, Settings};
use crate::spec::{discover, load_spec, Spec};
pub use crate::stored_reports::snapshot_dir;
use crate::stored_reports::{compare, Comparison, UpdateMode};

/// Runs `spec` as one trial: its verdict must meet its `expect`, and then its stable report
/// must match the snapshot (when `report_snapshot` is on).
pub fn run_trial(spec: &Spec, options: &RunOptions, mode: UpdateMode) -> Result<(), Failed> {
    let run = run_spec(spec, options);
    if let Some(dir) = &options.artifacts_dir {
        write_reports(dir, spec, &run);
    }
    if !run.passed() {
        return Err(Failed::from(render_run(&run)));
    }
    if spec.report_snapshot {
        check_report_snapshot(spec, &run, mode)?;
    }
    Ok(())
}

/// Writes the spec's JSON report, text report and chart beside its artifacts (CI uploads
/// them), as `leakgate run --report-dir` does. Best effort: a report that cannot be written is
/// said on stderr and does not change the test's outcome.
fn write_reports(dir: &Path, spec: &Spec, run: &SpecRun) {
    let stem = crate::runner::safe_name(&spec.name);
    if let Err(e) = crate::report_files::write_spec_reports(dir, &stem, spec, run) {
        eprintln!("leakgate: {e}");
    }
}

/// Compares the stable report of `run` with its stored snapshot (see
/// [`crate::stored_reports`]); a new or changed report is a failure that says in one line
/// what to run, then shows the report or the difference. Runs without a verdict have no report
/// to compare. Never panics.
pub fn check_report_snapshot(spec: &Spec, run: &SpecRun, mode: UpdateMode) -> Result<(), Failed> {
    if run.outcome.is_err() {
        return Ok(());
    }
    let text = render_stable(spec, run);
    let comparison = compare(spec, &text, mode).map_err(|e| {
        Failed::from(format!(
            "cannot write the report snapshot in {}: {e}",
            snapshot_dir(spec).display()
        ))
    })?;
    let accept = accept_hint(spec);
    match comparison {
        Comparison::Matches => Ok(()),
        Comparison::New {
            file, stored: true, ..
        } => {
            eprintln!(
                "leakgate: stored the first report of `{}` as {}: review it and commit it",
                spec.name,
                file.display()
            );
            Ok(())
        }
        Comparison::Changed {
            file, stored: true, ..
        } => {
            eprintln!(
                "leakgate: the report of `{}` changed; stored it as {}",
                spec.name,
                file.display()
            );
            Ok(())
        }
        Comparison::New { file, pending, .. } => Err(Failed::from(match pending {
            Some(pending) => format!(
                "`{}` has no report snapshot yet; this run's report is in {}: accept it with {accept}\n{text}",
                spec.name,
                pending.display()
            ),
            None => format!(
                "`{}` has no report snapshot ({} is missing): run the test locally, accept its \
                 report with {accept} and commit it\n{text}",
                spec.name,
                file.display()
            ),
        })),
        Comparison::Changed {
            file,
            diff,
            pending,
            ..
        } => {
            let next = match pending {
                Some(pending) => format!(
                    "this run's report is in {}: accept it with {accept}",
                    pending.display()
                ),
                None => format!("accept it locally with {accept}"),
            };
            Err(Failed::from(format!(
                "the report does not match its snapshot {}; {next}, or set \
                 `report_snapshot: false` in the spec to turn the check off\n\
                 --- snapshot\n+++ this run\n{diff}",
                file.display()
            )))
        }
    }
}

/// The command that accepts `spec`'s report: `leakgate accept` on the spec's folder, or
/// rerunning this test binary's spec with `INSTA_UPDATE=always`.
fn accept_hint(spec: &Spec) -> String {
    let folder = spec
        .file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| ".".to_string(), |p| p.display().to_string());
    match test_target() {
        Some(target) => format!(
            "`leakgate accept {folder}` (or `INSTA_UPDATE=always cargo test --test {target} -- {}`)",
            spec.name
        ),
        None => format!("`leakgate accept {folder}`"),
    }
}

/// The name of the running test target: the executable's stem without cargo's `-HASH`.
fn test_target() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let stem = exe.file_stem()?.to_str()?;
    let (name, hash) = stem.rsplit_once('-')?;
    (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then(|| name.to_string())
}

/// Trials for every spec under `specs` (files or folders). A spec that does not parse becomes
/// a failing trial with the error, so a broken spec is seen, not skipped.
pub fn spec_trials(specs: &[PathBuf], options: &RunOptions, mode: UpdateMode) -> Vec<Trial> {
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
                Trial::test(spec.name.clone(), move || run_trial(&spec, &options, mode))
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
/// The same as `Harness::new(default_specs).main()`.
pub fn main(default_specs: &Path) -> std::process::ExitCode {
    Harness::new(default_specs).main()
}

/// A test binary's settings, for embedders: every spec under a folder as a test.
///
/// ```no_run
/// use leakgate::runner::KeepSnapshots;
///
/// fn main() -> std::process::ExitCode {
///     let specs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
///     leakgate::testing::Harness::new(specs)
///         .keep_snapshots(KeepSnapshots::OnFailure)
///         .main()
/// }
/// ```
///
/// What the builder sets is the project's choice; the environment (`LEAKGATE_SPECS`,
/// `LEAKGATE_KEEP_SNAPSHOTS`, `LEAKGATE_ARTIFACTS`) still overrides it for one run (see
/// [`crate::settings`]).
#[derive(Debug, Clone)]
#[must_use]
pub struct Harness {
    choices: Choices,
}

impl Harness {
    /// Every spec under `specs` (a folder or a file) becomes a test.
    pub fn new(specs: impl Into<PathBuf>) -> Harness {
        Harness {
            choices: Choices {
                specs: Some(specs.into()),
                ..Choices::default()
            },
        }
    }

    /// When to keep heap snapshots (default: never).
    pub fn keep_snapshots(mut self, keep: KeepSnapshots) -> Harness {
        self.choices.keep_snapshots = Some(keep);
        self
    }

    /// Where kept snapshots, app logs and each spec's reports go (default: `leakgate-artifacts`
    /// when snapshots are kept, else none).
    pub fn artifacts(mut self, dir: impl Into<PathBuf>) -> Harness {
        self.choices.artifacts = Some(dir.into());
        self
    }

    /// Runs the tests as a `harness = false` test binary: parses libtest's arguments, runs the
    /// trials and returns libtest's exit code (2 for an environment variable it cannot read).
    pub fn main(self) -> std::process::ExitCode {
        let args = Arguments::from_args();
        let settings = match Settings::from_env(&Choices::default(), &self.choices) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("leakgate: {e}");
                return std::process::ExitCode::from(2);
            }
        };
        let specs = settings.specs.clone().unwrap_or_default();
        crate::app::lifetime::exit_on_signals();
        crate::app::lifetime::remove_stale_temp_dirs();
        let trials = spec_trials(&[specs], &settings.run, settings.update_mode);
        libtest_mimic::run(&args, trials).exit_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_target_is_named_without_cargo_hash() {
        // This unit test binary is `leakgate-HASH`.
        assert_eq!(test_target().as_deref(), Some("leakgate"));
    }
}
