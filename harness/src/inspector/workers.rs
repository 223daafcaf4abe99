//! Worker threads, reached through the main thread's inspector session.
//!
//! Each `worker_threads` Worker is an isolate of its own, with a heap the main isolate's
//! snapshots do not contain. Node's `NodeWorker` domain gives each one a session inside the
//! main connection, so no second WebSocket (and no inspector port per worker) is needed:
//!
//! - `NodeWorker.enable {waitForDebuggerOnStart: false}` attaches to the running workers and
//!   to each new one as it starts, without pausing them; each attachment is a
//!   `NodeWorker.attachedToWorker` event with a `sessionId` and the worker's `workerId`,
//!   `title` and `url`, and its end a `NodeWorker.detachedFromWorker` event;
//! - a request to a worker is a whole protocol message, as a JSON string, in
//!   `NodeWorker.sendMessageToWorker {sessionId, message}`; that call is answered at once, and
//!   the worker's own answer comes later in a `NodeWorker.receivedMessageFromWorker` event
//!   whose `message` is the response, as a string.
//!
//! Events are read only while a call is in flight (the client has no reader task), so the
//! set of workers is as of the last call; answers that arrive while another call waits are
//! kept until asked for. The ids of worker requests come from the same counter as the main
//! session's, so a late answer can never be mistaken for another.
//!
//! A worker can only write its snapshot in its own process (`v8.writeHeapSnapshot`, Node ≥
//! 20.16): streaming a snapshot through worker messages would escape it twice.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    answer, evaluate_params, evaluated, Inspector, InspectorError, MemoryUsage, RemoteError,
    Request, CALL_TIMEOUT,
};

/// A worker thread the session is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerInfo {
    /// The session inside the main connection (changes if the worker is attached again).
    #[serde(skip)]
    pub session_id: String,
    /// Node's id of the worker thread (`threadId`), as a string.
    pub worker_id: String,
    /// The worker's title: `[worker N] NAME` when the app named it.
    pub title: String,
    /// The worker's script (a `file://` URL for a file).
    pub url: String,
}

/// The `params` of `NodeWorker.attachedToWorker`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attached {
    session_id: String,
    worker_info: AttachedInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachedInfo {
    worker_id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    url: String,
}

/// The `params` of `NodeWorker.detachedFromWorker` and `NodeWorker.receivedMessageFromWorker`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FromWorker {
    session_id: String,
    #[serde(default)]
    message: Option<String>,
}

/// A response inside a worker's message.
#[derive(Deserialize)]
struct WorkerResponse {
    id: Option<u64>,
    result: Option<Value>,
    error: Option<RemoteError>,
}

/// The workers attached, in the order they were, and their answers not yet read.
#[derive(Default)]
pub(super) struct Workers {
    attached: Vec<WorkerInfo>,
    answers: HashMap<(String, u64), WorkerResponse>,
}

impl Workers {
    /// Takes in one `NodeWorker.*` event.
    pub(super) fn on_event(&mut self, event: &str, params: Value) -> Result<(), InspectorError> {
        let decode = |source| InspectorError::Decode {
            what: format!("the event {event}"),
            source,
        };
        match event {
            "NodeWorker.attachedToWorker" => {
                let a: Attached = serde_json::from_value(params).map_err(decode)?;
                self.attached
                    .retain(|w| w.worker_id != a.worker_info.worker_id);
                self.attached.push(WorkerInfo {
                    session_id: a.session_id,
                    worker_id: a.worker_info.worker_id,
                    title: a.worker_info.title,
                    url: a.worker_info.url,
                });
            }
            "NodeWorker.detachedFromWorker" => {
                let d: FromWorker = serde_json::from_value(params).map_err(decode)?;
                self.attached.retain(|w| w.session_id != d.session_id);
                self.answers
                    .retain(|(session, _), _| *session != d.session_id);
            }
            "NodeWorker.receivedMessageFromWorker" => {
                let m: FromWorker = serde_json::from_value(params).map_err(decode)?;
                let Some(text) = m.message else { return Ok(()) };
                let response: WorkerResponse = crate::json::parse(&text).map_err(decode)?;
                // Events of the worker's own (no id) are not asked for.
                if let Some(id) = response.id {
                    self.answers.insert((m.session_id, id), response);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn is_attached(&self, session_id: &str) -> bool {
        self.attached.iter().any(|w| w.session_id == session_id)
    }
}

impl Inspector {
    /// Attaches to the app's worker threads, running and to come, without pausing them
    /// (`NodeWorker.enable`). An inspector without the domain has no workers to attach to.
    pub async fn enable_workers(&mut self) -> Result<(), InspectorError> {
        let params = json!({ "waitForDebuggerOnStart": false });
        match self.call("NodeWorker.enable", params).await {
            Ok(_) | Err(InspectorError::Protocol { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The worker threads attached as of the last call, in the order they were attached.
    pub fn workers(&self) -> &[WorkerInfo] {
        &self.workers.attached
    }

    /// Calls `method` in `worker`'s isolate and returns the response's `result`. Fails with
    /// [`InspectorError::WorkerGone`] when the worker exits first.
    pub async fn call_worker(
        &mut self,
        worker: &WorkerInfo,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, InspectorError> {
        let gone = || InspectorError::WorkerGone {
            worker: worker.title.clone(),
        };
        if !self.workers.is_attached(&worker.session_id) {
            return Err(gone());
        }
        let id = self.next_id;
        self.next_id += 1;
        let message = serde_json::to_string(&Request {
            id,
            method,
            params: &params,
        })
        .map_err(|source| InspectorError::Decode {
            what: format!("the parameters of {method}"),
            source,
        })?;
        let envelope = json!({ "sessionId": worker.session_id, "message": message });
        self.call("NodeWorker.sendMessageToWorker", envelope)
            .await?;
        let key = (worker.session_id.clone(), id);
        let waiting = async {
            loop {
                if let Some(response) = self.workers.answers.remove(&key) {
                    return answer(method, response.result, response.error);
                }
                if !self.workers.is_attached(&worker.session_id) {
                    return Err(gone());
                }
                let incoming = self.next_incoming(method).await?;
                if incoming.id.is_none() {
                    self.dispatch(incoming, None).await?;
                }
            }
        };
        let result = tokio::time::timeout(timeout, waiting)
            .await
            .unwrap_or_else(|_| {
                Err(InspectorError::Timeout {
                    method: format!("{method} in {}", worker.title),
                    after: timeout,
                })
            });
        self.note_end(&result).await;
        result
    }

    /// Forces a full garbage collection in `worker`'s isolate.
    pub async fn worker_collect_garbage(
        &mut self,
        worker: &WorkerInfo,
    ) -> Result<(), InspectorError> {
        self.call_worker(
            worker,
            "HeapProfiler.collectGarbage",
            json!({}),
            CALL_TIMEOUT,
        )
        .await
        .map(|_| ())
    }

    /// Evaluates `expression` in `worker`'s isolate, as [`Inspector::evaluate`] does in the
    /// main one.
    pub async fn worker_evaluate(
        &mut self,
        worker: &WorkerInfo,
        expression: &str,
        timeout: Duration,
    ) -> Result<Value, InspectorError> {
        let params = evaluate_params(expression);
        let result = self
            .call_worker(worker, "Runtime.evaluate", params, timeout)
            .await?;
        evaluated(result)
    }

    /// Has V8 write a heap snapshot of `worker`'s isolate to `out` (created first, mode
    /// 0600), in the app's process. `Ok(None)` when the worker cannot (see
    /// [`Inspector::write_heap_snapshot_in_process`]).
    pub async fn worker_write_heap_snapshot(
        &mut self,
        worker: &WorkerInfo,
        out: &Path,
    ) -> Result<Option<u64>, InspectorError> {
        self.write_heap_snapshot_inside(Some(worker), out).await
    }

    /// `process.memoryUsage()` as `worker` sees it: its own isolate's heap and array buffers,
    /// the process's resident set.
    pub async fn worker_memory_usage(
        &mut self,
        worker: &WorkerInfo,
    ) -> Result<MemoryUsage, InspectorError> {
        let value = self
            .worker_evaluate(
                worker,
                "JSON.stringify(process.memoryUsage())",
                CALL_TIMEOUT,
            )
            .await?;
        let text = value.as_str().unwrap_or_default();
        serde_json::from_str(text).map_err(|source| InspectorError::Decode {
            what: format!("process.memoryUsage() in {} gave {value}", worker.title),
            source,
        })
    }
}
