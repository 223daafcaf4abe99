//! `cargo test` integration: one libtest-mimic trial per spec.
//!
//! A test target with `harness = false` calls [`main`] (or builds its own list with
//! [`spec_trials`]); each spec becomes a test named by the spec's `name`, so
//! `cargo test -- sessions` filters, `--list` lists, and `--ignored` runs the specs marked
//! `slow: true`. Each trial runs on its own thread with its own port and temporary folder, so
//! trials run in parallel without colliding; a failing trial prints the spec's report.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};

use crate::report::render_run;
use crate::runner::{run_spec, KeepSnapshots, RunOptions};
use crate::spec::{discover, load_spec};

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
                Trial::test(spec.name.clone(), move || {
                    let run = run_spec(&spec, &options);
                    if run.passed() {
                        Ok(())
                    } else {
                        Err(Failed::from(render_run(&run)))
                    }
                })
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
    let trials = spec_trials(&[specs], &options);
    libtest_mimic::run(&args, trials).exit_code()
}
