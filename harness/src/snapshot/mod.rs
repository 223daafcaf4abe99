//! Reading V8 heap snapshots (`.heapsnapshot`, optionally gzipped) into a [`HeapGraph`].
//!
//! Snapshots are large (hundreds of megabytes) and are one JSON document. [`read_file`] streams
//! it once, on two threads (one reads and inflates, one parses), into narrow columns, so it is
//! several times faster than `JSON.parse` and needs less memory than the file's size. Bad input
//! is an error with the byte offset and what was expected there, never a panic. What needs
//! only the nodes reads with [`read_file_without_edges`], which checks the edges as strictly
//! and does not keep them.

mod chunks;
mod edges;
mod graph;
mod layout;
mod numbers;
mod reader;
mod scan;
mod trace;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use edges::Edges;

pub use graph::{
    type_label, Classes, HeapGraph, NodeIndex, SourceLocation, StringTable, TraceFunction,
    TraceIndex, TraceTree, TypeCodes,
};

/// What can go wrong reading a snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Reading failed part-way.
    #[error("read error at byte {offset}: {source}")]
    Read {
        /// Where.
        offset: u64,
        /// The cause.
        source: io::Error,
    },
    /// The input is not a V8 heap snapshot at all.
    #[error("not a V8 heap snapshot: {reason} (byte {offset})")]
    NotASnapshot {
        /// Where the reader gave up.
        offset: u64,
        /// Why.
        reason: String,
    },
    /// The input ends too early.
    #[error("the snapshot is truncated: it ends at byte {offset} in {context}, where {expected} was expected")]
    Truncated {
        /// The end of the input.
        offset: u64,
        /// What should have come.
        expected: String,
        /// The section being read.
        context: &'static str,
    },
    /// A byte that JSON or the snapshot format does not allow there.
    #[error(
        "malformed snapshot at byte {offset} in {context}: expected {expected}, found {found}"
    )]
    Syntax {
        /// Where.
        offset: u64,
        /// What should have come.
        expected: String,
        /// What came.
        found: String,
        /// The section being read.
        context: &'static str,
    },
    /// The `snapshot` header is not what V8 writes.
    #[error("bad `snapshot` header at byte {offset}: {message}")]
    Header {
        /// Where the header starts.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// Well-formed JSON whose parts do not agree (counts, offsets, indexes).
    #[error("inconsistent snapshot: {message}")]
    Inconsistent {
        /// What disagrees.
        message: String,
    },
}

impl SnapshotError {
    /// Adds a byte offset to an error raised without one.
    pub(crate) fn at(self, offset: u64) -> SnapshotError {
        match self {
            SnapshotError::Inconsistent { message } => SnapshotError::Inconsistent {
                message: format!("{message} (byte {offset})"),
            },
            other => other,
        }
    }
}

/// Reads the snapshot at `path`; gzip input (by its magic bytes) is inflated on the fly.
pub fn read_file(path: &Path) -> Result<HeapGraph, SnapshotError> {
    read_graph_file(path, Edges::Keep)
}

/// Reads the snapshot at `path` as [`read_file`] does, with every check, but keeps no edges:
/// nodes, strings and classes are whole, [`HeapGraph::snapshot_edge_count`] is the snapshot's
/// edge count, and the graph itself has none (every node's edge range is empty). For what
/// needs only the nodes, such as the class table: less memory and faster.
pub fn read_file_without_edges(path: &Path) -> Result<HeapGraph, SnapshotError> {
    read_graph_file(path, Edges::Check)
}

fn read_graph_file(path: &Path, edges: Edges) -> Result<HeapGraph, SnapshotError> {
    let file = File::open(path).map_err(|source| SnapshotError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut buffered = BufReader::with_capacity(1 << 16, file);
    let gzip = buffered
        .fill_buf()
        .map(|head| head.starts_with(&[0x1f, 0x8b]))
        .map_err(|source| SnapshotError::Read { offset: 0, source })?;
    let input: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    reader::read_graph(chunks::Prefetch::spawn(input), edges)
}

/// Reads a snapshot held in memory (tests, fuzzing). `piece` is the size of the chunks the
/// scanner sees, so that small values exercise chunk boundaries.
pub fn read_bytes(bytes: &[u8], piece: usize) -> Result<HeapGraph, SnapshotError> {
    reader::read_graph(chunks::SliceSource::new(bytes, piece), Edges::Keep)
}

/// [`read_bytes`] without keeping the edges, as [`read_file_without_edges`].
pub fn read_bytes_without_edges(bytes: &[u8], piece: usize) -> Result<HeapGraph, SnapshotError> {
    reader::read_graph(chunks::SliceSource::new(bytes, piece), Edges::Check)
}

#[cfg(test)]
mod tests;
