//! A small Chrome DevTools Protocol client over a WebSocket, for the V8 inspector of a Node
//! app started with `--inspect`.
//!
//! leakgate needs four things from the inspector: a full garbage collection, a heap snapshot,
//! `process.memoryUsage()`, and now and then an expression evaluated in the app. That is a
//! handful of methods, so the messages are typed here by hand instead of pulling in a
//! generated protocol crate with thousands of types.
//!
//! # Protocol in brief
//! Each request is a JSON text message `{"id", "method", "params"}`; its response carries the
//! same `id` and either a `result` or an `error`. Between them the inspector may send events
//! (`{"method", "params"}` without an `id`). Requests here are sent one at a time, with
//! increasing ids; events that arrive while waiting are dispatched or ignored.
//!
//! # Heap snapshots
//! Two ways, the cheaper first ([`Inspector::take_heap_snapshot`] picks):
//!
//! - **In the app's process** (Node ≥ 20.16): `Runtime.evaluate` calls
//!   `process.getBuiltinModule('v8').writeHeapSnapshot(path)`, and V8 writes the file itself.
//!   Nothing crosses the WebSocket but the file's name, so the snapshot is not escaped into
//!   JSON string messages, framed, unescaped and copied again. On a 100 MB heap this takes a
//!   quarter less time than streaming (see the README's design notes for the figures).
//!   `process.getBuiltinModule` works in CommonJS and ESM alike, where `require` may not exist.
//!   The file is created by leakgate first, readable by the user alone, and V8 truncates and
//!   fills it; its mode is checked again afterwards.
//! - **Streamed over the WebSocket** (older Node, or when the app cannot write the file, e.g.
//!   the app's `process` was replaced or its file system is not leakgate's):
//!   `HeapProfiler.takeHeapSnapshot` does not return the snapshot: V8 serialises it into a
//!   series of `HeapProfiler.addHeapSnapshotChunk` events, sent *before* the command's
//!   response. A snapshot of a real service is hundreds of megabytes, so each chunk is written
//!   to the output file as it arrives and never held whole in memory; the snapshot is complete
//!   once the response arrives. Chunks can be large, hence the raised WebSocket message and
//!   frame limits.
//!
//! Both take the same snapshot (same GCs, same options: no internals, no numeric values).
//! The in-process way needs only `Runtime.evaluate`, so any session that can evaluate in an
//! isolate (a worker's, through `NodeWorker.sendMessageToWorker`) can use
//! [`in_process_snapshot_expression`] the same way.
//!
//! Node does not require `HeapProfiler.enable` before taking a snapshot or collecting garbage;
//! [`Inspector::connect`] sends it anyway, as Chrome DevTools does, since it is harmless and
//! other V8 embedders expect it. `Runtime.enable` is deliberately not sent: it would stream
//! every console message and execution context to this client for nothing.
//!
//! # An app that ends while attached
//! When a Node script ends or calls `process.exit` while an inspector session is attached, Node
//! does not exit: it prints "Waiting for the debugger to disconnect..." and waits. The client
//! asks to be told (`NodeRuntime.notifyWhenWaitingForDisconnect`); when the event arrives during
//! a call, it closes the connection so that the app can exit with its real code, and the call
//! fails with [`InspectorError::AppEnded`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

mod workers;
pub use workers::WorkerInfo;

/// Largest WebSocket message and frame accepted: snapshot chunks and big evaluation results
/// must fit.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an ordinary call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a heap snapshot may take; big heaps serialise slowly.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(600);
/// Buffer size of the snapshot file writer.
const SNAPSHOT_WRITE_BUFFER: usize = 1024 * 1024;

/// Node's `process.memoryUsage()`, in bytes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MemoryUsage {
    /// Resident set size of the whole process.
    pub rss: u64,
    /// Memory V8 has reserved for the JavaScript heap.
    pub heap_total: u64,
    /// Memory in use on the JavaScript heap.
    pub heap_used: u64,
    /// Memory of C++ objects bound to JavaScript objects (includes `array_buffers`).
    pub external: u64,
    /// Memory of `ArrayBuffer`s and `SharedArrayBuffer`s, including Node `Buffer`s.
    pub array_buffers: u64,
}

/// Why an inspector operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectorError {
    /// The WebSocket connection could not be opened.
    #[error("could not connect to the inspector at {url}: {source}")]
    Connect {
        /// The URL that was tried.
        url: String,
        /// What went wrong.
        #[source]
        source: Box<tungstenite::Error>,
    },
    /// The inspector closed the connection (usually because the app exited).
    #[error("the inspector closed the connection; did the app exit?")]
    Closed,
    /// The app's script ended (or called `process.exit`) and Node was waiting for this client to
    /// disconnect before exiting; the connection has been closed so that it can.
    #[error(
        "the app ended (its script finished or called process.exit) while the inspector was \
         attached; the inspector connection was closed to let it exit"
    )]
    AppEnded,
    /// The WebSocket failed while a call was in flight.
    #[error("the inspector connection failed during {method}: {source}")]
    WebSocket {
        /// The method in flight.
        method: String,
        /// What went wrong.
        #[source]
        source: Box<tungstenite::Error>,
    },
    /// The inspector answered a call with an error.
    #[error("the inspector rejected {method}: {message} (code {code})")]
    Protocol {
        /// The method called.
        method: String,
        /// The protocol's error code.
        code: i64,
        /// The protocol's error message.
        message: String,
    },
    /// No answer came in time.
    #[error("the inspector did not answer {method} within {after:?}")]
    Timeout {
        /// The method called.
        method: String,
        /// How long leakgate waited.
        after: Duration,
    },
    /// A worker thread exited (or was detached) before it answered.
    #[error("the worker thread {worker} exited before it answered")]
    WorkerGone {
        /// The worker's title.
        worker: String,
    },
    /// An evaluated expression threw.
    #[error("the expression evaluated in the app threw: {text}")]
    Exception {
        /// The exception's description (usually with a stack).
        text: String,
    },
    /// Writing a snapshot file failed.
    #[error("could not write {}: {source}", path.display())]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A message or value did not have the expected shape.
    #[error("unexpected data from the inspector ({what}): {source}")]
    Decode {
        /// What was being read.
        what: String,
        /// What was wrong with it.
        #[source]
        source: serde_json::Error,
    },
}

/// Creates (or truncates) `path` readable and writable by the user alone: snapshots hold the
/// app's secrets.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode when opened; make it private too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Makes `path` readable and writable by the user alone.
fn set_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// A request as sent.
#[derive(Serialize)]
struct Request<'a> {
    id: u64,
    method: &'a str,
    params: &'a Value,
}

/// Any message received: a response when `id` is set, an event when `method` is.
#[derive(Deserialize)]
struct Incoming {
    id: Option<u64>,
    method: Option<String>,
    #[serde(default)]
    params: Value,
    result: Option<Value>,
    error: Option<RemoteError>,
}

/// The `error` member of a failed response.
#[derive(Deserialize)]
struct RemoteError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<String>,
}

/// The `params` of `HeapProfiler.addHeapSnapshotChunk`.
#[derive(Deserialize)]
struct SnapshotChunk {
    chunk: String,
}

/// The result of `Runtime.evaluate`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EvaluateResult {
    result: RemoteObject,
    exception_details: Option<ExceptionDetails>,
}

/// A `Runtime.RemoteObject`, as far as leakgate reads it.
#[derive(Deserialize)]
struct RemoteObject {
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    description: Option<String>,
}

/// A `Runtime.ExceptionDetails`, as far as leakgate reads it.
#[derive(Deserialize)]
struct ExceptionDetails {
    #[serde(default)]
    text: String,
    exception: Option<RemoteObject>,
}

/// Where the chunks of the snapshot being taken go.
struct ChunkSink<'a> {
    path: &'a Path,
    writer: BufWriter<tokio::fs::File>,
    bytes: u64,
}

/// A connection to one inspector target.
pub struct Inspector {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Set once the connection is known to be gone; later calls fail at once.
    closed: Option<Ended>,
    /// Whether the app can write snapshots itself; `None` until the first snapshot.
    in_process: Option<bool>,
    /// The worker threads attached through `NodeWorker`, and their answers not yet read.
    workers: workers::Workers,
}

/// How a heap snapshot reached its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotTransport {
    /// V8 wrote the file inside the app (`v8.writeHeapSnapshot`).
    InProcess,
    /// Streamed in chunks over the inspector's WebSocket.
    WebSocket,
}

/// The expression that makes the app write a heap snapshot of its isolate to `out` and
/// evaluates to the file's name, or `None` when `out` has no UTF-8 form. `out` should be
/// absolute: the app resolves relative paths against its own working directory.
pub fn in_process_snapshot_expression(out: &Path) -> Option<String> {
    let path = serde_json::to_string(out.to_str()?).ok()?;
    Some(format!(
        "(() => {{ const gbm = globalThis.process && process.getBuiltinModule; \
         if (typeof gbm !== 'function') return null; \
         return gbm('v8').writeHeapSnapshot({path}); }})()"
    ))
}

/// How the connection ended.
#[derive(Debug, Clone, Copy)]
enum Ended {
    Closed,
    AppEnded,
}

impl Ended {
    fn error(self) -> InspectorError {
        match self {
            Ended::Closed => InspectorError::Closed,
            Ended::AppEnded => InspectorError::AppEnded,
        }
    }
}

impl std::fmt::Debug for Inspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspector")
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl Inspector {
    /// Connects to `ws_url` (as printed by `node --inspect`) and enables the heap profiler.
    pub async fn connect(ws_url: &str) -> Result<Inspector, InspectorError> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        let connecting = tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true);
        let (ws, _response) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| InspectorError::Timeout {
                method: format!("the connection to {ws_url}"),
                after: CONNECT_TIMEOUT,
            })?
            .map_err(|e| InspectorError::Connect {
                url: ws_url.to_string(),
                source: Box::new(e),
            })?;
        let mut inspector = Inspector {
            ws,
            next_id: 1,
            closed: None,
            in_process: None,
            workers: workers::Workers::default(),
        };
        inspector.call("HeapProfiler.enable", json!({})).await?;
        // Node-only: be told when the script has ended and Node waits for us to let go.
        let notify = json!({ "enabled": true });
        match inspector
            .call("NodeRuntime.notifyWhenWaitingForDisconnect", notify)
            .await
        {
            Ok(_) | Err(InspectorError::Protocol { .. }) => Ok(inspector),
            Err(e) => Err(e),
        }
    }

    /// Forces a full, compacting garbage collection in the app (`HeapProfiler.collectGarbage`).
    pub async fn collect_garbage(&mut self) -> Result<(), InspectorError> {
        self.call("HeapProfiler.collectGarbage", json!({}))
            .await
            .map(|_| ())
    }

    /// Takes a heap snapshot into `out` (created or truncated, mode 0600), in the app's process
    /// when it can (see the module docs), else streamed over the WebSocket. Returns the number
    /// of bytes written. The file is complete when this returns `Ok`.
    pub async fn take_heap_snapshot(&mut self, out: &Path) -> Result<u64, InspectorError> {
        self.take_heap_snapshot_by(out)
            .await
            .map(|(bytes, _)| bytes)
    }

    /// [`Self::take_heap_snapshot`], also saying which way the snapshot came.
    pub async fn take_heap_snapshot_by(
        &mut self,
        out: &Path,
    ) -> Result<(u64, SnapshotTransport), InspectorError> {
        if self.in_process != Some(false) {
            match self.write_heap_snapshot_in_process(out).await? {
                Some(bytes) => {
                    self.in_process = Some(true);
                    return Ok((bytes, SnapshotTransport::InProcess));
                }
                None => self.in_process = Some(false),
            }
        }
        let bytes = self.stream_heap_snapshot(out).await?;
        Ok((bytes, SnapshotTransport::WebSocket))
    }

    /// Has V8 write a heap snapshot to `out` inside the app. `Ok(None)` when the app cannot
    /// (Node older than 20.16, no `process`, a path without UTF-8 form, a file the app wrote
    /// somewhere leakgate cannot see, or an exception in the app): then nothing was taken.
    pub async fn write_heap_snapshot_in_process(
        &mut self,
        out: &Path,
    ) -> Result<Option<u64>, InspectorError> {
        self.write_heap_snapshot_inside(None, out).await
    }

    /// Has V8 write a heap snapshot of the main isolate (`worker` `None`) or of `worker`'s into
    /// `out`, created first with mode 0600: the body of [`Self::write_heap_snapshot_in_process`]
    /// and [`Self::worker_write_heap_snapshot`].
    pub(crate) async fn write_heap_snapshot_inside(
        &mut self,
        worker: Option<&WorkerInfo>,
        out: &Path,
    ) -> Result<Option<u64>, InspectorError> {
        let io_err = |source| InspectorError::Io {
            path: out.to_path_buf(),
            source,
        };
        let out = std::path::absolute(out).map_err(io_err)?;
        let Some(expression) = in_process_snapshot_expression(&out) else {
            return Ok(None);
        };
        create_private(&out).map_err(io_err)?;
        let answer = match worker {
            None => self.evaluate_within(&expression, SNAPSHOT_TIMEOUT).await,
            Some(w) => self.worker_evaluate(w, &expression, SNAPSHOT_TIMEOUT).await,
        };
        let written = match answer {
            Ok(Value::String(_)) => true,
            Ok(_) | Err(InspectorError::Exception { .. }) => false,
            Err(e) => return Err(e),
        };
        let bytes = std::fs::metadata(&out).map_err(io_err)?.len();
        if !written || bytes == 0 {
            return Ok(None);
        }
        // V8 opens the file with O_TRUNC, which keeps the mode it was created with; check
        // anyway, in case something replaced it.
        set_private(&out).map_err(io_err)?;
        Ok(Some(bytes))
    }

    /// Takes a heap snapshot and streams it over the WebSocket into `out` (created or
    /// truncated, mode 0600), chunk by chunk. Returns the number of bytes written.
    pub async fn stream_heap_snapshot(&mut self, out: &Path) -> Result<u64, InspectorError> {
        let io_err = |source| InspectorError::Io {
            path: out.to_path_buf(),
            source,
        };
        let file = tokio::fs::File::from_std(create_private(out).map_err(io_err)?);
        let mut sink = ChunkSink {
            path: out,
            writer: BufWriter::with_capacity(SNAPSHOT_WRITE_BUFFER, file),
            bytes: 0,
        };
        let params = json!({
            "reportProgress": false,
            "captureNumericValue": false,
            "exposeInternals": false,
        });
        self.request(
            "HeapProfiler.takeHeapSnapshot",
            &params,
            SNAPSHOT_TIMEOUT,
            Some(&mut sink),
        )
        .await?;
        sink.writer.flush().await.map_err(io_err)?;
        sink.writer.get_ref().sync_all().await.map_err(io_err)?;
        Ok(sink.bytes)
    }

    /// The app's `process.memoryUsage()`.
    pub async fn memory_usage(&mut self) -> Result<MemoryUsage, InspectorError> {
        let value = self
            .evaluate("JSON.stringify(process.memoryUsage())")
            .await?;
        let text = value.as_str().unwrap_or_default();
        serde_json::from_str(text).map_err(|source| InspectorError::Decode {
            what: format!("process.memoryUsage() gave {value}"),
            source,
        })
    }

    /// Evaluates `expression` in the app's main context and returns its value as JSON
    /// (`returnByValue`; a promise is awaited). `undefined` and values that have no JSON form
    /// come back as `null`. A thrown exception is [`InspectorError::Exception`].
    pub async fn evaluate(&mut self, expression: &str) -> Result<Value, InspectorError> {
        self.evaluate_within(expression, CALL_TIMEOUT).await
    }

    /// [`Self::evaluate`] with its own time limit.
    async fn evaluate_within(
        &mut self,
        expression: &str,
        timeout: Duration,
    ) -> Result<Value, InspectorError> {
        let params = evaluate_params(expression);
        let result = self
            .request("Runtime.evaluate", &params, timeout, None)
            .await?;
        evaluated(result)
    }

    /// Calls `method` with `params` and returns the response's `result`. Events that arrive
    /// meanwhile are ignored, except `NodeRuntime.waitingForDisconnect`: then the connection
    /// is closed (so the app can exit) and the call fails with [`InspectorError::AppEnded`].
    /// Times out after 60 s.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, InspectorError> {
        self.request(method, &params, CALL_TIMEOUT, None).await
    }

    /// Closes the connection politely. Dropping the inspector also closes it.
    pub async fn close(mut self) -> Result<(), InspectorError> {
        match self.ws.close(None).await {
            Ok(())
            | Err(tungstenite::Error::ConnectionClosed)
            | Err(tungstenite::Error::AlreadyClosed) => Ok(()),
            Err(e) => Err(InspectorError::WebSocket {
                method: "close".to_string(),
                source: Box::new(e),
            }),
        }
    }

    /// Sends one request and waits for its response, writing snapshot chunks to `sink`.
    async fn request(
        &mut self,
        method: &str,
        params: &Value,
        timeout: Duration,
        sink: Option<&mut ChunkSink<'_>>,
    ) -> Result<Value, InspectorError> {
        if let Some(ended) = self.closed {
            return Err(ended.error());
        }
        let id = self.next_id;
        self.next_id += 1;
        let exchange = self.exchange(id, method, params, sink);
        let result =
            tokio::time::timeout(timeout, exchange)
                .await
                .map_err(|_| InspectorError::Timeout {
                    method: method.to_string(),
                    after: timeout,
                })?;
        self.note_end(&result).await;
        result
    }

    async fn exchange(
        &mut self,
        id: u64,
        method: &str,
        params: &Value,
        mut sink: Option<&mut ChunkSink<'_>>,
    ) -> Result<Value, InspectorError> {
        let text = serde_json::to_string(&Request { id, method, params }).map_err(|source| {
            InspectorError::Decode {
                what: format!("the parameters of {method}"),
                source,
            }
        })?;
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| ws_error(e, method))?;
        loop {
            let incoming = self.next_incoming(method).await?;
            match incoming.id {
                Some(got) if got == id => return answer(method, incoming.result, incoming.error),
                // A late answer to an earlier call that timed out.
                Some(_) => continue,
                None => self.dispatch(incoming, sink.as_deref_mut()).await?,
            }
        }
    }

    /// The next protocol message, `waiting_for` naming the call in flight for errors.
    async fn next_incoming(&mut self, waiting_for: &str) -> Result<Incoming, InspectorError> {
        loop {
            let message = match self.ws.next().await {
                None => return Err(InspectorError::Closed),
                Some(message) => message.map_err(|e| ws_error(e, waiting_for))?,
            };
            let text = match &message {
                Message::Text(text) => text.as_str(),
                Message::Close(_) => return Err(InspectorError::Closed),
                // Pings are answered by tungstenite; binary frames are not part of the protocol.
                _ => continue,
            };
            return crate::json::parse(text).map_err(|source| InspectorError::Decode {
                what: format!("a message received while waiting for {waiting_for}"),
                source,
            });
        }
    }

    /// Handles one event: the app waiting for this client to go, a snapshot chunk (written to
    /// `sink`), the comings and goings of workers and their answers; others are ignored.
    async fn dispatch(
        &mut self,
        incoming: Incoming,
        sink: Option<&mut ChunkSink<'_>>,
    ) -> Result<(), InspectorError> {
        match incoming.method.as_deref() {
            Some("NodeRuntime.waitingForDisconnect") => Err(InspectorError::AppEnded),
            Some("HeapProfiler.addHeapSnapshotChunk") => {
                let Some(sink) = sink else { return Ok(()) };
                let chunk: SnapshotChunk =
                    serde_json::from_value(incoming.params).map_err(|source| {
                        InspectorError::Decode {
                            what: "a heap snapshot chunk".to_string(),
                            source,
                        }
                    })?;
                sink.writer
                    .write_all(chunk.chunk.as_bytes())
                    .await
                    .map_err(|source| InspectorError::Io {
                        path: sink.path.to_path_buf(),
                        source,
                    })?;
                sink.bytes += chunk.chunk.len() as u64;
                Ok(())
            }
            Some(event) if event.starts_with("NodeWorker.") => {
                self.workers.on_event(event, incoming.params)
            }
            _ => Ok(()),
        }
    }

    /// Marks the connection ended after `result`, closing it when the app waits for that.
    async fn note_end<T>(&mut self, result: &Result<T, InspectorError>) {
        match result {
            Err(InspectorError::Closed) => self.closed = Some(Ended::Closed),
            Err(InspectorError::AppEnded) => {
                self.closed = Some(Ended::AppEnded);
                // Node exits only once this session is gone.
                let closing = self.ws.close(None);
                let _ = tokio::time::timeout(Duration::from_secs(1), closing).await;
            }
            _ => {}
        }
    }
}

/// A WebSocket failure during `method`, as an inspector error.
fn ws_error(e: tungstenite::Error, method: &str) -> InspectorError {
    match e {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            InspectorError::Closed
        }
        e => InspectorError::WebSocket {
            method: method.to_string(),
            source: Box::new(e),
        },
    }
}

/// The `result` of a response, or its `error` as [`InspectorError::Protocol`].
fn answer(
    method: &str,
    result: Option<Value>,
    error: Option<RemoteError>,
) -> Result<Value, InspectorError> {
    if let Some(error) = error {
        let message = match error.data {
            Some(data) => format!("{} ({data})", error.message),
            None => error.message,
        };
        return Err(InspectorError::Protocol {
            method: method.to_string(),
            code: error.code,
            message,
        });
    }
    Ok(result.unwrap_or(Value::Null))
}

/// The value of a `Runtime.evaluate` result, or the exception it threw.
fn evaluated(result: Value) -> Result<Value, InspectorError> {
    let result: EvaluateResult =
        serde_json::from_value(result).map_err(|source| InspectorError::Decode {
            what: "the result of Runtime.evaluate".to_string(),
            source,
        })?;
    if let Some(details) = result.exception_details {
        let text = details
            .exception
            .and_then(|e| e.description.or_else(|| e.value.map(|v| v.to_string())))
            .unwrap_or(details.text);
        return Err(InspectorError::Exception { text });
    }
    Ok(result.result.value.unwrap_or(Value::Null))
}

/// The parameters of `Runtime.evaluate` for `expression`: its value by JSON, a promise
/// awaited, nothing printed.
fn evaluate_params(expression: &str) -> Value {
    json!({
        "expression": expression,
        "returnByValue": true,
        "awaitPromise": true,
        "silent": true,
    })
}
