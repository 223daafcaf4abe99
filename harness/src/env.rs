//! The environment variables leakgate reads, parsed in one place so that a typo is an error
//! rather than a silently ignored setting.
//!
//! | variable | values | effect |
//! |---|---|---|
//! | `LEAKGATE_KEEP_SNAPSHOTS` | `never` (default), `on-failure`, `always` | keep the heap snapshots of a run (under `LEAKGATE_ARTIFACTS`) |
//! | `LEAKGATE_ARTIFACTS` | a folder | where kept snapshots and app logs go, and under `cargo test` each spec's report (JSON, text, SVG) (default `leakgate-artifacts` in the current folder when snapshots are kept, for the CLI and `cargo test` alike; else none) |
//! | `LEAKGATE_SPECS` | a folder or file | the specs `cargo test` runs (default: the workspace's `specs/`) |
//! | `CI` | `true` | set by CI services; reports are snapshot-tested strictly |
//! | `INSTA_UPDATE` | `auto` (default), `no`, `new`, `always`, `unseen` | what a report snapshot comparison writes (insta's variable and meanings; see [`UpdateMode`]) |
//! | `GITHUB_ACTIONS` | `true` | set by GitHub Actions; `leakgate run` prints `::error` annotations for specs that fail |
//! | `GITHUB_STEP_SUMMARY` | a file | set by GitHub Actions; `leakgate run` appends a Markdown table of the runs to it |
//! | `RUNNER_TEMP` | a folder | set by GitHub Actions, emptied for each job; `leakgate run` counts the job's annotations there (50 per job) |

use std::path::PathBuf;

use crate::runner::KeepSnapshots;
use crate::stored_reports::UpdateMode;

/// A variable with a value leakgate does not understand.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is not valid; valid values: {choices}")]
pub struct EnvError {
    /// The variable.
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// What it may be.
    pub choices: &'static str,
}

/// Settings read from the environment.
#[derive(Debug, Clone, Default)]
pub struct EnvSettings {
    /// `LEAKGATE_KEEP_SNAPSHOTS`.
    pub keep_snapshots: Option<KeepSnapshots>,
    /// `LEAKGATE_ARTIFACTS`.
    pub artifacts: Option<PathBuf>,
    /// `LEAKGATE_SPECS`.
    pub specs: Option<PathBuf>,
    /// `GITHUB_ACTIONS=true`: running in GitHub Actions.
    pub github_actions: bool,
    /// `GITHUB_STEP_SUMMARY`: the Markdown file of the job's summary.
    pub github_step_summary: Option<PathBuf>,
    /// `RUNNER_TEMP`: the job's own temporary folder.
    pub runner_temp: Option<PathBuf>,
    /// `CI` and `INSTA_UPDATE`: what comparing a report with its snapshot may write.
    pub update_mode: UpdateMode,
}

/// Reads the settings; unknown values are errors.
pub fn settings() -> Result<EnvSettings, EnvError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let keep_snapshots = match var("LEAKGATE_KEEP_SNAPSHOTS") {
        None => None,
        Some(v) => Some(parse_keep(&v).ok_or(EnvError {
            name: "LEAKGATE_KEEP_SNAPSHOTS",
            value: v,
            choices: "never, on-failure, always",
        })?),
    };
    let ci = var("CI").is_some_and(|v| v != "false" && v != "0");
    let update_mode = match var("INSTA_UPDATE").as_deref() {
        None | Some("auto") if ci => UpdateMode::Strict,
        None | Some("auto" | "new") => UpdateMode::Pending,
        Some("no") => UpdateMode::Strict,
        Some("always" | "overwrite") => UpdateMode::Always,
        Some("unseen") => UpdateMode::Unseen,
        Some(v) => {
            return Err(EnvError {
                name: "INSTA_UPDATE",
                value: v.to_string(),
                choices: "auto, no, new, always, unseen",
            })
        }
    };
    Ok(EnvSettings {
        update_mode,
        keep_snapshots,
        artifacts: var("LEAKGATE_ARTIFACTS").map(PathBuf::from),
        specs: var("LEAKGATE_SPECS").map(PathBuf::from),
        github_actions: var("GITHUB_ACTIONS").as_deref() == Some("true"),
        github_step_summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        runner_temp: var("RUNNER_TEMP").map(PathBuf::from),
    })
}

/// Parses a [`KeepSnapshots`] value as written on the command line or in the environment.
pub fn parse_keep(value: &str) -> Option<KeepSnapshots> {
    match value {
        "never" => Some(KeepSnapshots::Never),
        "on-failure" => Some(KeepSnapshots::OnFailure),
        "always" => Some(KeepSnapshots::Always),
        _ => None,
    }
}
