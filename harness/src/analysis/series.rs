//! A snapshot series of one process, read from files: the one owner of the rules about which
//! intervals prove anything.
//!
//! A live run leaves behind snapshot files, each with the measured requests served when it was
//! taken and the process's off-heap memory at that moment ([`SnapshotFile`]). [`Series::read`]
//! reduces them to a [`Diff`] and the memory at each checkpoint, keeping only the last graph in
//! memory (earlier ones are reduced to their facts as they are read). It is pure: files in,
//! values out, no process, no network; the same series can be read again from kept snapshots.
//!
//! The rules that every consumer of a series needs live here once:
//!
//! - snapshot 0 is the post-warm-up baseline; interval k lies between snapshots k-1 and k;
//! - only intervals followed by another snapshot are *verified* ([`Series::verified`]): the
//!   objects first seen at the last snapshot include whatever was merely alive at that moment;
//! - the heap-object id range of the verified intervals ([`Series::verified_ids`]), which
//!   selects the survivors that prove a leak.

use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

use super::diff::{Diff, DiffBuilder};
use super::verdict::{judge, Analysis, CheckpointMemory};
use crate::snapshot::{self, HeapGraph, NodeIndex, SnapshotError};
use crate::spec::Thresholds;

/// One snapshot file of a series, with what was measured beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotFile {
    /// The `.heapsnapshot` file.
    pub path: PathBuf,
    /// Measured requests served when it was taken (0 for the post-warm-up one).
    pub requests: u64,
    /// `process.memoryUsage().arrayBuffers` right after it.
    pub array_buffer_bytes: u64,
    /// `process.memoryUsage().external` right after it.
    pub external_bytes: u64,
    /// `process.memoryUsage().rss` right after it.
    pub rss_bytes: u64,
    /// Measured requests that had failed when it was taken.
    pub failed_requests: u64,
    /// The sampling heap profiler's live samples at the same moment (after the same GC), when
    /// it ran (see [`super::sampled`]).
    pub allocation_profile: Option<PathBuf>,
}

/// A snapshot that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("snapshot {path}: {error}")]
pub struct SeriesError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    pub error: SnapshotError,
}

/// A series being read one file at a time: the facts of every snapshot but the newest, and the
/// newest graph whole (the one a series keeps). [`Series::read`] folds a list of files;
/// [`super::series_reader::SeriesReader`] folds them as a live run writes them.
#[derive(Debug, Default)]
pub(super) struct Folding {
    builder: DiffBuilder,
    memory: Vec<CheckpointMemory>,
    newest: Option<HeapGraph>,
}

impl Folding {
    /// Reads the next file of the series; the graph before it is reduced to its facts.
    pub(super) fn add(&mut self, file: &SnapshotFile) -> Result<(), SeriesError> {
        if let Some(previous) = self.newest.take() {
            self.builder.add_earlier(&previous);
        }
        let graph = snapshot::read_file(&file.path).map_err(|error| SeriesError {
            path: file.path.clone(),
            error,
        })?;
        self.memory.push(CheckpointMemory {
            requests: file.requests,
            heap_bytes: graph.total_self_size(),
            array_buffer_bytes: file.array_buffer_bytes,
            external_bytes: file.external_bytes,
            rss_bytes: file.rss_bytes,
            failed_requests: file.failed_requests,
        });
        self.newest = Some(graph);
        Ok(())
    }

    /// The series of the files added so far; it holds the newest graph, which
    /// [`Folding::resume`] gives back if more files follow.
    pub(super) fn series(&mut self) -> Series {
        let last = self.newest.take().unwrap_or_default();
        let diff = self.builder.compare(&last);
        Series {
            memory: self.memory.clone(),
            diff,
            last,
            source_maps: Default::default(),
        }
    }

    /// Takes back the newest graph of a series made by [`Folding::series`], so that the next
    /// file added reduces it to its facts rather than reading it again.
    pub(super) fn resume(&mut self, series: Series) {
        self.newest = Some(series.last);
    }
}

/// A series read from its files.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Memory at each snapshot, in order.
    pub memory: Vec<CheckpointMemory>,
    /// The comparison of the series.
    pub diff: Diff,
    /// The last snapshot's graph (retainer paths, allocation traces).
    pub last: HeapGraph,
    /// Source maps of the app's transpiled scripts, from the session that took the series
    /// (empty for files read elsewhere: maps on disk are still found).
    pub source_maps: super::sourcemaps::SourceMaps,
}

impl Series {
    /// Reads `files` (in time order, at least one) into a series.
    pub fn read(files: &[SnapshotFile]) -> Result<Series, SeriesError> {
        let mut folding = Folding::default();
        for file in files {
            folding.add(file)?;
        }
        Ok(folding.series())
    }

    /// Judges the series against `thresholds` (see [`super::verdict`]).
    pub fn judge(&self, thresholds: &Thresholds) -> Analysis {
        judge(&self.diff, &self.memory, thresholds)
    }

    /// Snapshots in the series.
    pub fn len(&self) -> usize {
        self.diff.snapshots.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.diff.snapshots.is_empty()
    }

    /// The verified intervals (interval k lies between snapshots k-1 and k).
    pub fn verified(&self) -> Range<usize> {
        self.diff.verified()
    }

    /// Requests served in each interval (at least 1, so rates never divide by zero).
    pub fn interval_requests(&self) -> Vec<u64> {
        self.memory
            .windows(2)
            .map(|w| w[1].requests.saturating_sub(w[0].requests).max(1))
            .collect()
    }

    /// Requests served in the verified intervals.
    pub fn verified_requests(&self) -> u64 {
        let per = self.interval_requests();
        self.verified().filter_map(|k| per.get(k - 1)).sum()
    }

    /// The heap-object ids first seen in the verified intervals (see [`Diff::verified_ids`]).
    pub fn verified_ids(&self) -> Option<(u32, u32)> {
        self.diff.verified_ids()
    }

    /// The self sizes of the last graph's survivors, per class of `wanted` and for the rest
    /// (see [`super::diff::Diff::survivor_sizes`]).
    pub fn survivor_sizes(&self, wanted: &[&str]) -> super::diff::SurvivorSizes {
        self.diff.survivor_sizes(&self.last, wanted)
    }

    /// The nodes of the last graph of class `class` first seen in a verified interval.
    pub fn survivors_of(&self, class: &str) -> Vec<NodeIndex> {
        self.diff.survivors_of(&self.last, class)
    }
}
