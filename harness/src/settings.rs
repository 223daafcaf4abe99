//! One settings type for every front end, resolved once.
//!
//! The CLI's flags, `cargo test`'s [`crate::testing::Harness`] builder and the environment
//! ([`crate::env`]) all feed [`Settings::resolve`]: a command-line flag wins over the
//! environment, the environment over what the embedding code chose, and that over the built-in
//! defaults. So `LEAKGATE_KEEP_SNAPSHOTS=always` changes one CI run of a test binary whose code
//! says `on-failure`, and the default folder for artifacts is the same everywhere
//! ([`DEFAULT_ARTIFACTS`]).

use std::path::PathBuf;

use crate::env::{EnvError, EnvSettings};
use crate::runner::{KeepSnapshots, RunOptions};
use crate::stored_reports::UpdateMode;

/// Where kept snapshots and app logs go when snapshots are kept and no folder is given:
/// `leakgate-artifacts` in the current folder (under `cargo test`, the package's folder).
pub const DEFAULT_ARTIFACTS: &str = "leakgate-artifacts";

/// Settings one layer gives (a flag, or the embedding code); `None` leaves it to the next.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    /// When to keep heap snapshots.
    pub keep_snapshots: Option<KeepSnapshots>,
    /// Where kept snapshots, app logs and (under `cargo test`) reports go.
    pub artifacts: Option<PathBuf>,
    /// Specs run at once (the CLI).
    pub jobs: Option<usize>,
    /// The specs to run (`cargo test`).
    pub specs: Option<PathBuf>,
}

/// Everything a front end needs to run specs and write their reports.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What every run gets: snapshots kept, artifacts folder, progress lines.
    pub run: RunOptions,
    /// Specs run at once.
    pub jobs: usize,
    /// The specs to run, when a layer named them.
    pub specs: Option<PathBuf>,
    /// What a report snapshot comparison may write.
    pub update_mode: UpdateMode,
    /// Running under GitHub Actions: annotations are printed.
    pub github_actions: bool,
    /// GitHub's step summary file, appended to.
    pub github_step_summary: Option<PathBuf>,
    /// The GitHub job's annotation count file (in `$RUNNER_TEMP`).
    pub github_job_annotations: Option<PathBuf>,
}

impl Settings {
    /// Resolves `flags` over `env` over `code` over the defaults.
    pub fn resolve(flags: &Choices, env: &EnvSettings, code: &Choices) -> Settings {
        let keep = flags
            .keep_snapshots
            .or(env.keep_snapshots)
            .or(code.keep_snapshots)
            .unwrap_or_default();
        let artifacts = flags
            .artifacts
            .clone()
            .or_else(|| env.artifacts.clone())
            .or_else(|| code.artifacts.clone())
            .or_else(|| (keep != KeepSnapshots::Never).then(|| PathBuf::from(DEFAULT_ARTIFACTS)));
        let jobs = flags.jobs.or(code.jobs).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        Settings {
            run: RunOptions {
                keep_snapshots: keep,
                artifacts_dir: artifacts,
                progress: false,
            },
            jobs: jobs.max(1),
            specs: flags
                .specs
                .clone()
                .or_else(|| env.specs.clone())
                .or_else(|| code.specs.clone()),
            update_mode: env.update_mode,
            github_actions: env.github_actions,
            github_step_summary: env.github_step_summary.clone(),
            github_job_annotations: env
                .runner_temp
                .as_ref()
                .map(|d| d.join(crate::report::github::JOB_COUNT_FILE)),
        }
    }

    /// Reads the environment and resolves (see [`Settings::resolve`]).
    pub fn from_env(flags: &Choices, code: &Choices) -> Result<Settings, EnvError> {
        Ok(Settings::resolve(flags, &crate::env::settings()?, code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_wins_over_the_environment_which_wins_over_the_code() {
        let env = EnvSettings {
            keep_snapshots: Some(KeepSnapshots::Always),
            ..EnvSettings::default()
        };
        let code = Choices {
            keep_snapshots: Some(KeepSnapshots::OnFailure),
            artifacts: Some(PathBuf::from("out")),
            ..Choices::default()
        };
        let s = Settings::resolve(&Choices::default(), &env, &code);
        assert_eq!(s.run.keep_snapshots, KeepSnapshots::Always);
        assert_eq!(s.run.artifacts_dir, Some(PathBuf::from("out")));
        let flags = Choices {
            keep_snapshots: Some(KeepSnapshots::Never),
            jobs: Some(0),
            ..Choices::default()
        };
        let s = Settings::resolve(&flags, &env, &code);
        assert_eq!(s.run.keep_snapshots, KeepSnapshots::Never);
        assert_eq!(s.jobs, 1);
    }

    #[test]
    fn kept_snapshots_go_to_one_default_folder() {
        let env = EnvSettings::default();
        let none = Settings::resolve(&Choices::default(), &env, &Choices::default());
        assert_eq!(none.run.artifacts_dir, None);
        let kept = Choices {
            keep_snapshots: Some(KeepSnapshots::OnFailure),
            ..Choices::default()
        };
        let s = Settings::resolve(&kept, &env, &Choices::default());
        assert_eq!(s.run.artifacts_dir, Some(PathBuf::from(DEFAULT_ARTIFACTS)));
    }
}
