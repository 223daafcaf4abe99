//! The worker threads' part of a checkpoint: a forced GC and a heap snapshot of each worker
//! isolate, through the main inspector session (see [`crate::inspector::WorkerInfo`]).
//!
//! Each worker gets `checkpoint-K-worker-ID.heapsnapshot` beside the main thread's snapshot,
//! created by leakgate readable by the user alone and written by V8 inside the worker. A
//! worker that is gone, or cannot write its snapshot, misses that checkpoint: the analysis
//! then leaves it unjudged ([`crate::analysis::isolates`]) rather than failing the run. Only
//! the main connection failing fails the checkpoint. Threads Node starts for itself (a
//! `node:` URL, such as the module-loader hooks thread) are left out.

use std::path::Path;

use crate::analysis::isolates::WorkerSeriesFiles;
use crate::analysis::SnapshotFile;
use crate::inspector::{Inspector, InspectorError, WorkerInfo};

/// Snapshots every attached worker as checkpoint `k` (taken at `requests` measured requests,
/// `failed` of them failed) into `dir`, adding to `series` (one entry per worker ever seen,
/// aligned by checkpoint).
pub(super) async fn checkpoint(
    client: &mut Inspector,
    dir: &Path,
    k: usize,
    (requests, failed): (u64, u64),
    series: &mut Vec<WorkerSeriesFiles>,
) -> Result<(), InspectorError> {
    // Node's own threads (the module-loader hooks thread that `--import tsx` or `register()`
    // starts runs `node:internal/modules/esm/worker`) are not the app's workers.
    let workers: Vec<WorkerInfo> = client
        .workers()
        .iter()
        .filter(|w| !w.url.starts_with("node:"))
        .cloned()
        .collect();
    for worker in &workers {
        let at = match series.iter().position(|s| s.id == worker.worker_id) {
            Some(at) => at,
            None => {
                series.push(WorkerSeriesFiles {
                    id: worker.worker_id.clone(),
                    title: worker.title.clone(),
                    url: worker.url.clone(),
                    snapshots: Vec::new(),
                    missing: None,
                });
                series.len() - 1
            }
        };
        let entry = &mut series[at];
        entry.snapshots.resize(k, None);
        match snapshot(client, worker, dir, k, (requests, failed)).await {
            Ok(file) => entry.snapshots.push(Some(file)),
            Err(e @ (InspectorError::Closed | InspectorError::AppEnded)) => return Err(e),
            Err(e) => {
                entry.missing.get_or_insert_with(|| e.to_string());
                entry.snapshots.push(None);
            }
        }
    }
    for entry in series.iter_mut() {
        entry.snapshots.resize(k + 1, None);
    }
    Ok(())
}

/// One worker's snapshot at checkpoint `k`, with its `process.memoryUsage()`.
async fn snapshot(
    client: &mut Inspector,
    worker: &WorkerInfo,
    dir: &Path,
    k: usize,
    (requests, failed): (u64, u64),
) -> Result<SnapshotFile, InspectorError> {
    let name = super::safe_name(&worker.worker_id);
    let path = dir.join(format!("checkpoint-{k}-worker-{name}.heapsnapshot"));
    // A link planted at this name is removed, never followed (the worker writes the file).
    crate::private::clear(&path).map_err(|source| InspectorError::Io {
        path: path.clone(),
        source,
    })?;
    client.worker_collect_garbage(worker).await?;
    client.worker_collect_garbage(worker).await?;
    if client
        .worker_write_heap_snapshot(worker, &path)
        .await?
        .is_none()
    {
        let _ = std::fs::remove_file(&path);
        return Err(InspectorError::Exception {
            text: "the worker could not write a heap snapshot (this needs Node 20.16 or later)"
                .to_string(),
        });
    }
    let usage = client.worker_memory_usage(worker).await?;
    Ok(SnapshotFile {
        path,
        requests,
        array_buffer_bytes: usage.array_buffers,
        external_bytes: usage.external,
        rss_bytes: usage.rss,
        failed_requests: failed,
        allocation_profile: None,
    })
}
