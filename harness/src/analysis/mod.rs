//! What the snapshots say: class tables, survivors by id across a series, and verdicts.
//!
//! The analysis works on [`crate::snapshot::HeapGraph`]s only; it knows nothing of processes or
//! HTTP, so the same code serves `leakgate summary` / `leakgate diff` on files taken elsewhere
//! and the live runs.

pub mod allocations;
pub mod allow;
pub mod collections;
pub mod diff;
pub mod dominators;
pub mod extend;
pub mod fingerprint;
pub mod isolates;
pub mod keepers;
pub mod modules;
pub mod noise;
pub mod retainers;
pub mod sampled;
pub mod series;
pub mod series_reader;
pub mod source;
pub mod sourcemaps;
pub mod summary;

pub use allocations::{allocation_sites, AllocationSite};
pub use allow::{AllowEntry, AllowJudgement, Allowance};
pub use diff::{ClassSeries, Diff, DiffBuilder, SnapshotFacts};
pub use fingerprint::Fingerprint;
pub use series::{Series, SeriesError, SnapshotFile};
pub use series_reader::{SeriesFeed, SeriesReader};
pub use summary::{summarize, ClassStat, Summary};
pub mod verdict;

pub use verdict::{judge, Analysis, CheckpointMemory, DetectionFloor, Suspect, Verdict};
