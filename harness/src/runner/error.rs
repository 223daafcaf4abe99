//! Why a run produced no verdict.

use std::path::PathBuf;

use crate::analysis::SeriesError;
use crate::app::AppError;
use crate::inspector::InspectorError;
use crate::load::LoadError;
use crate::snapshot::SnapshotError;

/// Why a run produced no verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The async runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// A temporary or artifact folder could not be made.
    #[error("cannot create {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `npm ci`, boot or readiness failed, or the app died.
    #[error("{0}")]
    App(#[from] AppError),
    /// The inspector failed.
    #[error("inspector: {error}\nlast lines of the app's output:\n{log_tail}")]
    Inspector {
        /// The cause.
        error: InspectorError,
        /// The app's last lines.
        log_tail: String,
    },
    /// The load could not be driven at all.
    #[error("load: {error}\nlast lines of the app's output:\n{log_tail}")]
    Load {
        /// The cause.
        error: LoadError,
        /// The app's last lines.
        log_tail: String,
    },
    /// Too many requests failed for the run to mean anything.
    #[error(
        "{failed} of {requests} requests failed during {phase} (more than the {limit}% that \
         `load.max_failure_rate` allows): {detail}; a request whose answer is not 2xx by design \
         can say so with `status:` (e.g. `status: 404`)\n\
         last lines of the app's output:\n{log_tail}"
    )]
    TooManyFailures {
        /// `warm-up` or `checkpoint k`.
        phase: String,
        /// Failed requests.
        failed: u64,
        /// All requests.
        requests: u64,
        /// The accepted percentage.
        limit: f64,
        /// Statuses and error samples.
        detail: String,
        /// The app's last lines.
        log_tail: String,
    },
    /// A snapshot the inspector wrote could not be read.
    #[error("snapshot {path}: {error}")]
    Snapshot {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: SnapshotError,
    },
}

impl From<SeriesError> for RunError {
    fn from(e: SeriesError) -> RunError {
        RunError::Snapshot {
            path: e.path,
            error: e.error,
        }
    }
}
