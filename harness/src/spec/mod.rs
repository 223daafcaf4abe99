//! The YAML spec: parsing, defaults and validation, with `file:line:column` on every error.
//!
//! A spec names a Node app, the HTTP load to drive against it, the request counts
//! (checkpoints) at which heap snapshots are taken, and the thresholds the growth must stay
//! under. Everything a run needs is checked here, before any process starts: a typo in a key
//! or a missing script should cost a second, not a boot, a warm-up and three snapshots.
//!
//! # Why serde-saphyr
//! `serde_yaml` is archived. `serde-saphyr` is maintained, deserializes straight into typed
//! structs (no intermediate `Value`), and knows where every node came from: its errors carry a
//! [`serde_saphyr::Location`] and [`serde_saphyr::Spanned`] gives the line and column of any
//! value. That is what lets each error here, and each CI annotation later, point at the
//! offending key or value instead of at the file.
//!
//! # How a spec is read
//! 1. The document is deserialized into `Raw*` structs that mirror the YAML exactly
//!    (`deny_unknown_fields` everywhere, values that need checking wrapped in `Spanned`;
//!    `build.rs`).
//! 2. A second, untyped pass records the location of every key and value by dotted path
//!    (`load.requests[1].path`). It names the offending key in type errors, and points
//!    "missing key" errors at the parent key rather than at the first line of the mapping
//!    (`locate.rs`).
//! 3. The raw structs are checked and turned into [`Spec`], with defaults from the
//!    `DEFAULT_*` constants below (`build.rs`).

mod build;
mod inspector_flags;
mod locate;
pub mod power;
mod requests;
mod templates;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_saphyr::Location;

use crate::load::LoadConfig;

use build::RawSpec;
use locate::{Cx, KeyIndex};

/// Requests sent before the first checkpoint, never measured.
pub const DEFAULT_WARMUP: u64 = 500;
/// Keep-alive connections driving the load.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// The largest accepted `load.concurrency`.
pub const MAX_CONCURRENCY: usize = 1024;
/// Measured requests (after warm-up) at which snapshots are taken.
pub const DEFAULT_CHECKPOINTS: [u64; 3] = [2000, 4000, 6000];
/// Growth per request needs two intervals to be told apart from a one-off allocation.
pub const MIN_CHECKPOINTS: usize = 3;
/// How long the app may take to become ready.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one request may take before it counts as failed.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The per-class rate (survivors per 1000 requests) that was the default limit before each run
/// measured its own floor; used where a stored report carries no detection floor.
pub const DEFAULT_MAX_SURVIVORS_PER_1K_REQUESTS: f64 = 5.0;
/// The largest accepted `load.warmup` and last checkpoint: ten million requests, over an
/// hour of load for most apps. Larger values are typos, and would run until killed.
pub const MAX_REQUESTS: u64 = 10_000_000;
/// The most checkpoints a spec may list (each is a heap snapshot).
pub const MAX_CHECKPOINTS: usize = 100;
/// How many times the last checkpoint a run may extend to when its evidence is borderline
/// (`max_requests` unset).
pub const DEFAULT_EXTENSION_FACTOR: u64 = 8;
/// HTTP methods a request may use.
pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// How a leak is explained (`explain:` in a spec).
///
/// Retainer paths always come from the main run's last snapshot. Allocation sites and the
/// leaking request kind come from the main run itself by default (the sampling heap profiler,
/// and per-kind intervals after the main checkpoints); `runs` asks for the older method of
/// extra runs instead (each request kind booted alone, and a run with V8's allocation
/// tracking), which costs a boot and a measured phase per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Explain {
    /// Sample allocations in every run; attribute request kinds when a leak is found (the
    /// default).
    #[default]
    Auto,
    /// As `auto`, and attribute request kinds even on a clean verdict.
    Always,
    /// Nothing beyond the verdict and the retainer paths of the main run (no sampling).
    Never,
    /// When a leak is found, explain it with extra runs: each request kind alone, and one with
    /// V8's allocation tracking (no sampling in the main run).
    Runs,
}

/// A validated spec, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// `name:`, or the file's stem.
    pub name: String,
    /// The spec file, as given.
    pub file: PathBuf,
    /// The Node app under test.
    pub app: AppSpec,
    /// The load driven against the app.
    pub load: LoadConfig,
    /// Requests before the first checkpoint, never measured.
    pub warmup: u64,
    /// Measured requests after warm-up at which to snapshot; at least 3, strictly increasing.
    pub checkpoints: Vec<u64>,
    /// Measured requests a run may extend to, with more checkpoints, when its evidence is
    /// borderline (see [`crate::analysis::extend`]); the last checkpoint: never extend.
    pub max_requests: u64,
    /// Growth limits.
    pub assert: Thresholds,
    /// Whether the app is expected to be clean or to leak.
    pub expect: Expectation,
    /// A slow spec runs only with `cargo test -- --ignored`.
    pub slow: bool,
    /// Whether the stable report is snapshot-tested.
    pub report_snapshot: bool,
    /// When to explain a leak (retainers, allocation sites, the leaking request kind).
    pub explain: Explain,
    /// Where some keys are, for annotations on the spec file.
    pub lines: SpecLines,
}

pub use crate::app::AppCommand;

/// How to start the Node app: exactly one of `script` and `command` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    /// The entry script, absolute; it exists when the spec is loaded.
    pub script: Option<PathBuf>,
    /// The command that starts the app as its team does (`npm start`), instead of a script.
    pub command: Option<AppCommand>,
    /// The nearest folder up from the script's folder (or, for a command, from `cwd`) that
    /// holds a `package.json`: where `npm ci` runs. `None` when there is none.
    pub package_dir: Option<PathBuf>,
    /// Working directory, absolute; defaults to the script's folder, or for a command to the
    /// spec's folder.
    pub cwd: PathBuf,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Extra `node` flags, placed before the script.
    pub node_args: Vec<String>,
    /// A path that must answer 2xx before load starts; `None`: the port accepting connections suffices.
    pub ready_path: Option<String>,
    /// How long the app may take to become ready.
    pub ready_timeout: Duration,
    /// A fixed port; `None`: the harness picks a free one and passes it in `PORT`.
    pub port: Option<u16>,
}

/// Limits on growth per request; exceeding one fails a `clean` spec.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Thresholds {
    /// Retained JS heap bytes per measured request; `None`: judged against the run's own
    /// noise (see [`crate::analysis::noise`]).
    pub max_heap_bytes_per_request: Option<f64>,
    /// Retained `ArrayBuffer` bytes per measured request; `None`: the run's own noise.
    pub max_array_buffer_bytes_per_request: Option<f64>,
    /// Per-class survivors per 1000 requests above which a class is a suspect; `None`: a
    /// class must retain at least [`crate::analysis::noise::MIN_SURVIVORS_PER_WINDOW`] new
    /// objects in each of two windows, in proportion to their requests.
    pub max_survivors_per_1k_requests: Option<f64>,
    /// Class names never reported as suspects.
    pub ignore_classes: Vec<String>,
    /// Known leaks allowed by fingerprint (`assert.allow`), each within its budget.
    pub allow: Vec<crate::analysis::AllowEntry>,
}

/// What a run must find for the spec to pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    /// Passes when growth stays under every threshold.
    Clean,
    /// Passes only when the leak is found: guards the detector itself.
    Leak,
}

impl Expectation {
    /// The spelling used in specs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Expectation::Clean => "clean",
            Expectation::Leak => "leak",
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// 1-based lines of some top-level keys (1 when the key is absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecLines {
    /// The `expect:` key.
    pub expect: u32,
    /// The `app:` key.
    pub app: u32,
    /// The `checkpoints:` key.
    pub checkpoints: u32,
}

/// Why a spec could not be loaded. Every variant displays as one line starting with
/// `FILE:LINE:COLUMN: `.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The file or folder could not be read.
    #[error("{}:1:1: cannot read: {source}", file.display())]
    Io {
        /// The path, as given.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not well-formed YAML.
    #[error("{}:{line}:{column}: {message}", file.display())]
    Syntax {
        /// The spec file, as given.
        file: PathBuf,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What is wrong.
        message: String,
    },
    /// The YAML is well-formed but is not a valid spec.
    #[error("{}:{line}:{column}: {message}", file.display())]
    Invalid {
        /// The spec file, as given.
        file: PathBuf,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What is wrong, ending with the valid choices where there are some.
        message: String,
    },
    /// A folder given to [`discover`] holds no spec files.
    #[error("{}:1:1: no *.yaml or *.yml spec files in this folder", dir.display())]
    NoSpecs {
        /// The folder, as given.
        dir: PathBuf,
    },
}

impl SpecError {
    /// The 1-based line and column the error points at.
    pub fn position(&self) -> (u32, u32) {
        match self {
            SpecError::Syntax { line, column, .. } | SpecError::Invalid { line, column, .. } => {
                (*line, *column)
            }
            SpecError::Io { .. } | SpecError::NoSpecs { .. } => (1, 1),
        }
    }
}

/// Reads and validates the spec at `path`.
pub fn load_spec(path: &Path) -> Result<Spec, SpecError> {
    let source = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    parse_spec(&source, path)
}

/// Parses and validates spec text. `file` names the spec in errors, and relative paths in the
/// spec are resolved against its folder. The app's script must exist.
pub fn parse_spec(source: &str, file: &Path) -> Result<Spec, SpecError> {
    let index = KeyIndex::build(source);
    let cx = Cx {
        file,
        source,
        index,
    };
    if source.lines().all(|l| {
        l.trim().is_empty() || l.trim_start().starts_with('#') || matches!(l.trim(), "---" | "...")
    }) {
        return Err(cx.invalid(
            Location::UNKNOWN,
            "the spec is empty; it needs at least `app.script` and `load.requests`",
        ));
    }
    let raw: RawSpec = serde_saphyr::from_str_with_options(source, yaml_options())
        .map_err(|e| cx.yaml_error(&e))?;
    cx.build(raw)
}

/// Expands `paths` into spec files: files are kept as given, folders are searched recursively
/// for `*.yaml` and `*.yml` (hidden entries skipped), each folder's files sorted. A missing
/// path, or a folder without specs, is an error.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SpecError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| SpecError::Io {
            file: path.clone(),
            source,
        })?;
        let mut found = if meta.is_dir() {
            let mut found = Vec::new();
            walk_dir(path, 0, &mut found)?;
            if found.is_empty() {
                return Err(SpecError::NoSpecs { dir: path.clone() });
            }
            found.sort();
            found
        } else {
            vec![path.clone()]
        };
        found.retain(|p| !out.contains(p));
        out.append(&mut found);
    }
    Ok(out)
}

/// Deeper folders than this are not searched (guards against symlink loops).
const MAX_DISCOVER_DEPTH: usize = 16;

fn walk_dir(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), SpecError> {
    let io = |source| SpecError::Io {
        file: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.as_deref().is_none_or(|n| n.starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            if depth < MAX_DISCOVER_DEPTH {
                walk_dir(&path, depth + 1, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// How deep a spec may nest. Specs are shallow; the cap keeps a hostile or broken file from
/// exhausting the stack.
const MAX_NESTING: usize = 32;

fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_NESTING,
            flow_nesting_limit: MAX_NESTING,
        },
    }
}

/// Parses `15s`, `500ms`, `2m`, `1h` or a bare number of seconds; `None` unless positive.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at_checked(split)?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let value: f64 = number.parse().ok()?;
    Duration::try_from_secs_f64(value * scale)
        .ok()
        .filter(|d| !d.is_zero())
}
