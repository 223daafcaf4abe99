//! leakgate: leak regression tests for Node.js services.
//!
//! A YAML spec names a Node app, an HTTP load and the request counts (checkpoints) at which
//! heap snapshots are taken. leakgate boots the app under the V8 inspector, drives the load,
//! forces GC and streams a heap snapshot at each checkpoint, then diffs the snapshots by
//! object id and by class, and fails when memory grows in proportion to the requests.
//!
//! # Layout
//! One concept per module; the snapshot reader and the analysis know nothing of processes or
//! HTTP, so they also serve `leakgate summary` and `leakgate diff` on files taken elsewhere.
//!
//! The documented API is what an embedder needs: [`testing::Harness`] (every spec as a
//! `cargo test` test), [`load_spec`] and [`run_spec`] (one run to a [`SpecRun`]), [`Settings`]
//! (flags, environment and code resolved once), the [`report`] renderers, [`write_report_dir`]
//! and the stored stable reports ([`stored_reports`]). The other modules are public but
//! hidden from the docs: they serve the command line, the tests and the fuzz target, and may
//! change in any release. Error enums are `#[non_exhaustive]`.
//!
//! | module | concept |
//! |---|---|
//! | [`spec`] | the YAML spec: parsing, defaults, validation with file:line:column |
//! | [`app`] | the Node child process: prepare (`npm ci`), boot under the inspector, readiness, logs, kill on every exit path |
//! | [`init`] | `leakgate init`: a starter spec read from a Node project |
//! | [`inspector`] | a small Chrome DevTools Protocol client over a WebSocket |
//! | [`load`] | the built-in HTTP load generator (hyper, keep-alive, exact request counts) |
//! | [`private`] | files and folders leakgate writes: 0600/0700, never through a symlink |
//! | [`snapshot`] | the streaming `.heapsnapshot` reader and the columnar heap graph |
//! | [`analysis`] | snapshot series read from files, class tables, survivors by id, growth per request, suspects, verdicts (one per isolate: main thread and worker threads) |
//! | [`explain`] | explaining a found leak: retainers, allocation sites, the leaking request kind |
//! | [`report`] | text, JSON, JUnit, SVG and GitHub reports |
//! | [`report_files`] | the report files every front end writes: per spec JSON, text and SVG, JUnit for all |
//! | [`settings`] | one settings type for every front end: flags over environment over code over defaults |
//! | [`compare`] | `leakgate compare`: two runs' reports, leak by leak (new, grown, fixed) |
//! | [`runner`] | one run of a spec as a one-way pipeline: plan, live session (the only async part), analysis, explanation |
//! | [`stored_reports`] | stable reports under version control: compare, write for review, accept |
//! | [`testing`] | `cargo test` integration: one libtest-mimic trial per spec |
//! | [`env`](mod@env) | the environment variables leakgate reads, parsed in one place |
//!
//! # Environment variables
//! Read in one place, [`mod@env`]; an unknown value is an error.
//!
//! | variable | values | effect |
//! |---|---|---|
//! | `LEAKGATE_KEEP_SNAPSHOTS` | `never` (default), `on-failure`, `always` | keep the heap snapshots of a run (under `LEAKGATE_ARTIFACTS`) |
//! | `LEAKGATE_ARTIFACTS` | a folder | where kept snapshots and app logs go, and under `cargo test` each spec's report (JSON, text, SVG) (default `leakgate-artifacts` in the current folder when snapshots are kept, for the CLI and `cargo test` alike; else none) |
//! | `LEAKGATE_SPECS` | a folder or file | the specs `cargo test` runs (default: the workspace's `specs/`) |
//! | `CI` | `true` | set by CI services; reports are snapshot-tested strictly |
//! | `GITHUB_ACTIONS` | `true` | set by GitHub Actions; `leakgate run` prints `::error` annotations for specs that fail |
//! | `GITHUB_STEP_SUMMARY` | a file | set by GitHub Actions; `leakgate run` appends a Markdown table of the runs to it |

// The curated surface: what an embedder writes. Modules marked `doc(hidden)` stay reachable
// (the command line, the tests and the fuzz target use them) but are not part of the
// documented API and may change in any release.
pub use env::EnvError;
pub use init::{init, InitError};
pub use report_files::{write_report_dir, WriteError};
pub use runner::{run_spec, KeepSnapshots, RunError, RunOptions, SpecRun};
pub use settings::{Choices, Settings};
pub use snapshot::{read_file as read_snapshot, HeapGraph, SnapshotError};
pub use spec::{discover, load_spec, Expectation, Spec, SpecError};
pub use stored_reports::{Comparison, UpdateMode};
#[cfg(feature = "testing")]
pub use testing::Harness;

#[doc(hidden)]
pub mod analysis;
#[doc(hidden)]
pub mod app;
pub mod compare;
pub mod env;
#[doc(hidden)]
pub mod explain;
#[doc(hidden)]
pub mod init;
#[doc(hidden)]
pub mod inspector;
pub(crate) mod json;
#[doc(hidden)]
pub mod load;
pub mod private;
pub mod report;
#[doc(hidden)]
pub mod report_files;
pub mod runner;
pub mod settings;
#[doc(hidden)]
pub mod snapshot;
pub mod spec;
pub mod stored_reports;
#[cfg(feature = "testing")]
pub mod testing;
