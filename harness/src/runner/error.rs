//! Why a run produced no verdict.
//!
//! A [`RunError`]'s message says what failed and nothing else: the app's last lines of output,
//! which most failures want beside them, are taken once when the run fails and kept apart in
//! [`crate::runner::SpecRun::app_log_tail`], so that each report prints them once (the text
//! report under the message, the JSON as `app_log_tail`).

use std::path::PathBuf;

use crate::analysis::series_reader::TakeError;
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
    /// The thread that reads the series during the run could not be started.
    #[error("cannot start the snapshot-reading thread: {0}")]
    ReaderThread(std::io::Error),
    /// The thread that reads the series stopped during the run.
    #[error("{0}")]
    ReaderStopped(String),
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
    #[error("inspector: {error}")]
    Inspector {
        /// The cause.
        error: InspectorError,
    },
    /// The load could not be driven at all.
    #[error("load: {error}")]
    Load {
        /// The cause.
        error: LoadError,
    },
    /// Too many requests failed for the run to mean anything.
    #[error(
        "{failed} of {requests} requests failed during {phase} (more than the {limit}% that \
         `load.max_failure_rate` allows): {detail}; a request whose answer is not 2xx by design \
         can say so with `status:` (e.g. `status: 404`)"
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

impl From<InspectorError> for RunError {
    fn from(error: InspectorError) -> RunError {
        RunError::Inspector { error }
    }
}

impl From<TakeError> for RunError {
    fn from(e: TakeError) -> RunError {
        match e {
            TakeError::Snapshot(e) => e.into(),
            stopped @ TakeError::Stopped(_) => RunError::ReaderStopped(stopped.to_string()),
        }
    }
}

impl From<SeriesError> for RunError {
    fn from(e: SeriesError) -> RunError {
        RunError::Snapshot {
            path: e.path,
            error: e.error,
        }
    }
}

/// Whose a failure to run is: what the user should look at first. It is reported in the JSON
/// (`error_kind`), the JUnit `<error type>`, the GitHub annotation's title, the stable report's
/// `error:` line and, under `leakgate run --detailed-exit-codes`, the exit code
/// ([`ErrorKind::exit_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// The app: it crashed, never became ready, failed its requests, or its install failed.
    App,
    /// The machine: a missing `node` or `npm`, a taken port, a held lock, a folder that cannot
    /// be made, a process that cannot be started.
    Environment,
    /// leakgate itself: an answer it did not expect from the inspector, a snapshot V8 wrote
    /// that it cannot read. Worth a bug report.
    Leakgate,
    /// The spec: it asks for something that cannot be run or measured (a load script that does
    /// not load, an app leakgate cannot measure).
    Spec,
}

impl ErrorKind {
    /// The name used in reports: `app`, `environment`, `leakgate`, `spec`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::App => "app",
            ErrorKind::Environment => "environment",
            ErrorKind::Leakgate => "leakgate",
            ErrorKind::Spec => "spec",
        }
    }
}

impl ErrorKind {
    /// `leakgate run --detailed-exit-codes`'s exit code for a run that could not run: 2 the
    /// spec (as for a bad spec file or command line), 3 the app, 4 the environment, 5 leakgate.
    /// Without the flag every kind exits 2. When several specs errored the highest code wins,
    /// so the order is that of who to look at last: a leakgate bug hides nothing else.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Spec => 2,
            ErrorKind::App => 3,
            ErrorKind::Environment => 4,
            ErrorKind::Leakgate => 5,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RunError {
    /// The app's last lines of output that the error itself holds: those of an app that failed
    /// to start (see [`AppError::log_tail`]). A run takes the tail from the app's log instead
    /// when it can, for every kind of failure.
    pub fn app_log_tail(&self) -> Option<&str> {
        match self {
            RunError::App(e) => e.log_tail(),
            _ => None,
        }
    }

    /// Whose this failure is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RunError::Runtime(_) | RunError::ReaderThread(_) | RunError::Folder { .. } => {
                ErrorKind::Environment
            }
            RunError::App(e) => app_kind(e),
            RunError::Inspector { error, .. } => inspector_kind(error),
            RunError::Load { error, .. } => load_kind(error),
            RunError::TooManyFailures { .. } => ErrorKind::App,
            RunError::Snapshot { .. } | RunError::ReaderStopped(_) => ErrorKind::Leakgate,
        }
    }
}

fn app_kind(e: &AppError) -> ErrorKind {
    match e {
        AppError::NodeNotFound
        | AppError::NpmNotFound
        | AppError::NpmLockTimeout { .. }
        | AppError::Spawn { .. }
        | AppError::PortTaken { .. }
        | AppError::Io { .. } => ErrorKind::Environment,
        AppError::NpmFailed { .. }
        | AppError::NoInspectorUrl { .. }
        | AppError::Exited { .. }
        | AppError::NeverReady { .. } => ErrorKind::App,
        AppError::Unmeasurable { .. } => ErrorKind::Spec,
    }
}

fn inspector_kind(e: &InspectorError) -> ErrorKind {
    match e {
        // The app went away under the inspector, or stopped answering it.
        InspectorError::Closed
        | InspectorError::AppEnded
        | InspectorError::Timeout { .. }
        | InspectorError::WorkerGone { .. }
        | InspectorError::Exception { .. } => ErrorKind::App,
        InspectorError::Connect { .. } | InspectorError::Io { .. } => ErrorKind::Environment,
        InspectorError::WebSocket { .. }
        | InspectorError::Protocol { .. }
        | InspectorError::Decode { .. } => ErrorKind::Leakgate,
    }
}

fn load_kind(e: &LoadError) -> ErrorKind {
    match e {
        LoadError::Connect { .. } => ErrorKind::App,
        LoadError::Script { .. } => ErrorKind::Spec,
        // The spec phase checks templates, so these reaching the load is leakgate's own miss.
        LoadError::InvalidConfig(_)
        | LoadError::InvalidMethod { .. }
        | LoadError::InvalidHeader { .. }
        | LoadError::InvalidPath { .. } => ErrorKind::Leakgate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_is_someones() {
        let exited = RunError::App(AppError::NodeNotFound);
        assert_eq!(exited.kind(), ErrorKind::Environment);
        let closed = RunError::Inspector {
            error: InspectorError::Closed,
        };
        assert_eq!(closed.kind(), ErrorKind::App);
        let script = RunError::Load {
            error: LoadError::InvalidConfig("no requests"),
        };
        assert_eq!(script.kind(), ErrorKind::Leakgate);
        assert_eq!(
            serde_json::to_string(&ErrorKind::Environment).unwrap(),
            "\"environment\""
        );
    }

    #[test]
    fn each_kind_has_its_own_exit_code_above_a_missed_expect() {
        let kinds = [
            ErrorKind::Spec,
            ErrorKind::App,
            ErrorKind::Environment,
            ErrorKind::Leakgate,
        ];
        let codes: Vec<u8> = kinds.iter().map(|k| k.exit_code()).collect();
        assert_eq!(codes, [2, 3, 4, 5]);
        // leakgate's own failure, which no real app can be made to produce on purpose: a
        // snapshot "V8 wrote" that the reader rejects (here a real rejection of real bytes).
        let unreadable = crate::snapshot::read_bytes(b"{\"snapshot\": 1}", 4096).unwrap_err();
        let run = RunError::Snapshot {
            path: PathBuf::from("checkpoint-0.heapsnapshot"),
            error: unreadable,
        };
        assert_eq!(run.kind(), ErrorKind::Leakgate);
        assert_eq!(run.kind().exit_code(), 5);
        let decode = RunError::Inspector {
            error: InspectorError::Decode {
                what: "process.memoryUsage() gave null".into(),
                source: serde_json::from_str::<u64>("null").unwrap_err(),
            },
        };
        assert_eq!(decode.kind().exit_code(), 5);
    }
}
