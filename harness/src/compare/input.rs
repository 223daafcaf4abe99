//! Reading the two sides of `leakgate compare`: a `leakgate run --json` file (`{"specs":
//! [...]}`), one spec's entry of it, or a `--report-dir` folder of such entries (`NAME.json`).
//!
//! Only the fields the comparison needs are read, and the ones added later (`fingerprint`,
//! `allow`, `heap_growth_exceeds`, `detection_floor`) are optional, so reports of older
//! versions still compare (their leaks are then matched by class).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::analysis::Fingerprint;

/// Why a side of the comparison cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The file or folder cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a report of `leakgate run`.
    #[error(
        "{path}: not a report of `leakgate run --json` or `--report-dir` ({source}); expected \
         {{\"specs\": [...]}} or one spec's entry with `name` and `verdict`"
    )]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A folder without any spec report.
    #[error("{path}: no spec reports (`NAME.json` files of `leakgate run --report-dir`) in it")]
    Empty {
        /// The folder.
        path: PathBuf,
    },
    /// Two reports of one side name the same spec.
    #[error("{path}: spec `{name}` is reported twice")]
    Duplicate {
        /// The file or folder.
        path: PathBuf,
        /// The spec's name.
        name: String,
    },
}

/// One spec's report, as far as the comparison reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct SpecReport {
    /// The spec's name.
    pub name: String,
    /// The spec file.
    #[serde(default)]
    pub file: String,
    /// `leak`, `clean` or `error`.
    pub verdict: String,
    /// Why there is no verdict.
    #[serde(default)]
    pub error: Option<String>,
    /// Suspect classes.
    #[serde(default)]
    pub suspects: Vec<SuspectReport>,
    /// Memory at each snapshot.
    #[serde(default)]
    pub checkpoints: Vec<CheckpointReport>,
    /// JS heap growth per request.
    #[serde(default)]
    pub heap_bytes_per_request: Option<f64>,
    /// Array-buffer growth per request.
    #[serde(default)]
    pub array_buffer_bytes_per_request: Option<f64>,
    /// Whether the heap's growth counted against its limit.
    #[serde(default)]
    pub heap_growth_exceeds: Option<bool>,
    /// Whether array buffers' growth counted against its limit.
    #[serde(default)]
    pub array_buffer_growth_exceeds: Option<bool>,
    /// The smallest rate (objects per 1000 requests) the run could tell from noise, when the
    /// report gives one.
    #[serde(default, deserialize_with = "number_or_none")]
    pub detection_floor: Option<f64>,
    /// A verdict per thread, the main thread first (older reports have none).
    #[serde(default)]
    pub isolates: Vec<IsolateReport>,
}

/// A thread's fields the comparison reads.
#[derive(Debug, Clone, Deserialize)]
pub struct IsolateReport {
    /// `main` or `worker`.
    #[serde(default)]
    pub kind: String,
    /// How reports name it: `worker 1 (./worker.js)`.
    #[serde(default)]
    pub label: String,
    /// A worker's script relative to the app's folder.
    #[serde(default)]
    pub script: Option<String>,
    /// `leak`, `clean`, or none when not judged.
    #[serde(default)]
    pub verdict: Option<String>,
    /// Its suspect classes.
    #[serde(default)]
    pub suspects: Vec<SuspectReport>,
    /// JS heap growth per request.
    #[serde(default)]
    pub heap_bytes_per_request: Option<f64>,
    /// Array-buffer growth per request.
    #[serde(default)]
    pub array_buffer_bytes_per_request: Option<f64>,
    /// Whether the heap's growth counted against its limit.
    #[serde(default)]
    pub heap_growth_exceeds: Option<bool>,
    /// Whether array buffers' growth counted against its limit.
    #[serde(default)]
    pub array_buffer_growth_exceeds: Option<bool>,
    /// The heap's growth per request in each interval.
    #[serde(default)]
    pub heap_bytes_by_interval: Vec<f64>,
    /// Array buffers' growth per request in each interval.
    #[serde(default)]
    pub array_buffer_bytes_by_interval: Vec<f64>,
}

impl IsolateReport {
    /// What names a worker from one run to the next: its script (from the label, `worker N
    /// (SCRIPT)`, in reports that give no `script`), never its thread id. `None` for the main
    /// thread.
    pub fn thread(&self) -> Option<String> {
        if self.kind != "worker" {
            return None;
        }
        if let Some(script) = &self.script {
            return Some(script.clone());
        }
        let inner = self
            .label
            .split_once(" (")
            .and_then(|(_, rest)| rest.strip_suffix(')'));
        Some(inner.unwrap_or(&self.label).to_string())
    }
}

/// A suspect's fields the comparison reads.
#[derive(Debug, Clone, Deserialize)]
pub struct SuspectReport {
    /// DevTools class name.
    pub class: String,
    /// Surviving objects per 1000 requests.
    pub per_1k_requests: f64,
    /// Their bytes per request.
    #[serde(default)]
    pub bytes_per_request: f64,
    /// Survivors by interval (the last unverified).
    #[serde(default)]
    pub survivors_by_interval: Vec<u64>,
    /// What identifies it across runs.
    #[serde(default)]
    pub fingerprint: Option<Fingerprint>,
    /// `allowed`, `over_budget` or none.
    #[serde(default)]
    pub allow: Option<String>,
}

/// A checkpoint's fields the comparison reads.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckpointReport {
    /// Measured requests at the snapshot.
    pub requests: u64,
    /// Live heap bytes.
    #[serde(default)]
    pub heap_bytes: f64,
    /// Array-buffer bytes.
    #[serde(default)]
    pub array_buffer_bytes: f64,
}

/// A number, or anything else (an object a later version may write) as `None`.
fn number_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.and_then(|v| {
        v.as_f64()
            .or_else(|| v.get("per_1k_requests").and_then(serde_json::Value::as_f64))
    }))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ReportFile {
    Run { specs: Vec<SpecReport> },
    Spec(Box<SpecReport>),
}

fn read_file(path: &Path) -> Result<Vec<SpecReport>, CompareError> {
    let text = std::fs::read_to_string(path).map_err(|source| CompareError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed: ReportFile = serde_json::from_str(&text).map_err(|source| CompareError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(match parsed {
        ReportFile::Run { specs } => specs,
        ReportFile::Spec(spec) => vec![*spec],
    })
}

/// The spec reports at `path`: a JSON file, or a `--report-dir` folder (every `*.json` in it,
/// by file name).
pub fn load_reports(path: &Path) -> Result<Vec<SpecReport>, CompareError> {
    let read_err = |source| CompareError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    let reports = if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_err)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
            .collect();
        files.sort();
        let mut out = Vec::new();
        for file in &files {
            out.extend(read_file(file)?);
        }
        if out.is_empty() {
            return Err(CompareError::Empty {
                path: path.to_path_buf(),
            });
        }
        out
    } else {
        read_file(path)?
    };
    for (i, r) in reports.iter().enumerate() {
        if reports[..i].iter().any(|o| o.name == r.name) {
            return Err(CompareError::Duplicate {
                path: path.to_path_buf(),
                name: r.name.clone(),
            });
        }
    }
    Ok(reports)
}
