//! The built-in HTTP load generator.
//!
//! A leak test is only as good as its request counts: growth is reported *per request*, so
//! the harness must know exactly how many requests the app has served at each checkpoint, and
//! the app must have finished serving all of them before the heap is snapshotted. General
//! load tools (autocannon, wrk, k6) are built for throughput figures: they stop on a clock or
//! split a request budget across connections up front, run in another process, and give no
//! way to pause with nothing in flight and resume on the same sockets. This module is small
//! and in-process instead, and costs less CPU per request than autocannon, which matters when
//! the app and the harness share a small machine (`bench/load-vs-autocannon.sh` compares):
//!
//! - **Exact counts.** [`LoadGenerator::run`] issues exactly `count` requests. Workers take
//!   global indexes from one shared counter and stop at the end of the call, so request `i`
//!   is always template `i % len`, rendered with `i`, however many calls came before.
//! - **Drain.** `run` returns only once every response body has been read to the end: when it
//!   returns, nothing is in flight and the app has done its work, so a checkpoint can force GC
//!   and snapshot right away.
//! - **Stable sockets.** `concurrency` keep-alive HTTP/1.1 connections are kept open across
//!   calls, so the sockets the app holds are the same at every checkpoint and do not show up
//!   as growth. A connection the server closed, or that failed, is re-opened on next use.
//! - **Failures are counted, not fatal.** Non-2xx answers, connection errors and timeouts are
//!   tallied in [`LoadStats`]; the caller decides what failure rate is acceptable. Only a run
//!   in which no connection could be opened at all is an error ([`LoadError::Connect`]).
//!
//! Requests that were never written to a socket (the server closed an idle keep-alive
//! connection just before the request went out) are sent again on a fresh connection; a
//! request that may have reached the app is never repeated, as that would break the counts.

mod conn;
mod flow;
mod script;
mod stats;
mod status;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Uri};
use tokio::task::JoinSet;

use conn::{worker, RunShared, Slot};
use flow::Values;
pub use flow::{Capture, CaptureSource, BUILTIN_PLACEHOLDERS};
pub use stats::{LoadStats, TemplateStats};
pub use status::StatusPattern;

/// One request kind of a spec, cycled in order. `{i}` in the path, header values and body
/// strings is replaced by the request's global index (warm-up requests included).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTemplate {
    /// Upper-case method, e.g. `GET`.
    pub method: String,
    /// Path and query, starting with `/`; may contain `{i}`.
    pub path: String,
    /// Extra headers; values may contain `{i}`.
    pub headers: Vec<(String, String)>,
    /// Optional body.
    pub body: Option<BodyTemplate>,
    /// The statuses that count as a successful answer (`status:` in a spec); any 2xx when
    /// left empty.
    pub status: Vec<StatusPattern>,
    /// Values taken from the answer for later requests of the same virtual user (flows only).
    pub capture: Vec<Capture>,
}

/// A request body template.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyTemplate {
    /// Sent as `application/json`; every string inside may contain `{i}`.
    Json(serde_json::Value),
    /// Sent as is (after `{i}` substitution), with `text/plain` unless a header says otherwise.
    Text(String),
}

impl RequestTemplate {
    /// The request kind as users name it: `METHOD path-template`, e.g. `POST /orders`.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// A `GET`-like template of `method` and `path`: no headers, no body, 2xx expected.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> RequestTemplate {
        RequestTemplate {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            status: Vec::new(),
            capture: Vec::new(),
        }
    }

    /// Whether an answer with `status` is what this template expects.
    pub fn expects(&self, status: u16) -> bool {
        if self.status.is_empty() {
            StatusPattern::SUCCESS.matches(status)
        } else {
            status::expected(&self.status, status)
        }
    }
}

/// How the load is driven.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    /// Number of keep-alive connections, each with one request in flight at a time.
    pub concurrency: usize,
    /// Request kinds, cycled in order by global index.
    pub requests: Vec<RequestTemplate>,
    /// `true`: each connection keeps a cookie jar; `false`: every request is a new visitor.
    pub cookies: bool,
    /// `false`: request `i` uses template `i % len`, whichever connection sends it. `true`:
    /// the templates are a flow, run in order by each virtual user (connection) with its own
    /// cookie jar and captured values; a failed step sends the user back to the first one.
    pub flow: bool,
    /// A load script (`load.script`) run by a node driver instead of request templates:
    /// its default export is called once per iteration with `{ url, i }`, and each iteration
    /// counts as one request.
    pub script: Option<std::path::PathBuf>,
    /// How long one request may take before it counts as failed.
    pub request_timeout: Duration,
    /// The largest share of failed requests (an unexpected status, no answer) a phase of the
    /// run accepts; above it the run is an error, not a verdict.
    pub max_failure_rate: f64,
}

/// The default [`LoadConfig::max_failure_rate`]: 1% of requests.
pub const DEFAULT_MAX_FAILURE_RATE: f64 = 0.01;

/// One request, ready to send: a [`RequestTemplate`] with its placeholders filled.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedRequest {
    /// The request method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// The template's headers, values substituted.
    pub headers: Vec<(String, String)>,
    /// The body, empty when the template has none.
    pub body: Bytes,
    /// The `Content-Type` to send for the body; `None` without a body, or when the template
    /// sets its own `Content-Type` header.
    pub content_type: Option<&'static str>,
}

fn fill_json(value: &serde_json::Value, values: &mut Values<'_>) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(values.fill(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill_json(v, values)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (values.fill(k), fill_json(v, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl RequestTemplate {
    /// Renders request number `index`: `{i}` (the index), `{uuid}` and `{random}` are
    /// replaced in the path, in header values and in every string (keys included) of a JSON
    /// body, or anywhere in a text body. Captured names render as written: see
    /// [`LoadConfig::flow`].
    ///
    /// A method that is not a valid HTTP token renders as `GET`; [`LoadGenerator::new`]
    /// rejects such templates before any request is sent.
    pub fn render(&self, index: u64) -> RenderedRequest {
        let mut rng = flow::Rng::default();
        let captured = std::collections::BTreeMap::new();
        self.render_with(&mut Values {
            index,
            captured: &captured,
            rng: &mut rng,
        })
    }

    fn render_with(&self, values: &mut Values<'_>) -> RenderedRequest {
        let has_content_type = self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        let (body, content_type) = match &self.body {
            None => (Bytes::new(), None),
            Some(BodyTemplate::Json(value)) => {
                let rendered = fill_json(value, values);
                // Serializing a `Value` cannot fail: its keys are always strings.
                let bytes = serde_json::to_vec(&rendered).unwrap_or_default();
                (Bytes::from(bytes), Some("application/json"))
            }
            Some(BodyTemplate::Text(text)) => (Bytes::from(values.fill(text)), Some("text/plain")),
        };
        RenderedRequest {
            method: Method::from_bytes(self.method.as_bytes()).unwrap_or(Method::GET),
            path: values.fill(&self.path),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), values.fill(value)))
                .collect(),
            body,
            content_type: if has_content_type { None } else { content_type },
        }
    }

    /// Every placeholder name the template uses (path, header values, body), in order.
    pub fn placeholders(&self) -> Vec<String> {
        let mut texts: Vec<String> = vec![self.path.clone()];
        texts.extend(self.headers.iter().map(|(_, v)| v.clone()));
        match &self.body {
            Some(BodyTemplate::Text(text)) => texts.push(text.clone()),
            Some(BodyTemplate::Json(value)) => texts.push(value.to_string()),
            None => {}
        }
        let mut names: Vec<String> = Vec::new();
        for text in &texts {
            for name in flow::placeholders(text) {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
        }
        names
    }
}

/// Why a load could not be driven. Failed requests are not errors: they are counted in
/// [`LoadStats`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The config cannot drive any load: no requests, no concurrency or no time.
    #[error("invalid load: {0}")]
    InvalidConfig(&'static str),
    /// A template's method is not a valid HTTP method token.
    #[error("requests[{index}]: invalid HTTP method {method:?}")]
    InvalidMethod {
        /// Position of the template in [`LoadConfig::requests`].
        index: usize,
        /// The method as written.
        method: String,
    },
    /// A template's header cannot be sent.
    #[error("requests[{index}]: header {name:?}: {reason}")]
    InvalidHeader {
        /// Position of the template in [`LoadConfig::requests`].
        index: usize,
        /// The header name as written.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A template's path is not a valid request target.
    #[error("requests[{index}]: invalid path {path:?}: {reason}")]
    InvalidPath {
        /// Position of the template in [`LoadConfig::requests`].
        index: usize,
        /// The path as written.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The load script could not be loaded or its driver failed (not a failed iteration:
    /// those are counted).
    #[error("load script: {message}{}", if output.is_empty() { String::new() } else { format!("; its last output:\n{output}") })]
    Script {
        /// What went wrong.
        message: String,
        /// The last lines the script printed.
        output: String,
    },
    /// Not a single connection could be opened during a run: the app is not listening.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address the app was expected at.
        addr: SocketAddr,
        /// The first connection error seen.
        #[source]
        source: io::Error,
    },
}

/// Drives HTTP load at one app over a fixed set of keep-alive connections.
///
/// Must be used inside a Tokio runtime; connections are driven by spawned tasks.
#[derive(Debug)]
pub struct LoadGenerator {
    addr: SocketAddr,
    host: HeaderValue,
    config: LoadConfig,
    templates: Arc<[RequestTemplate]>,
    slots: Vec<Slot>,
    issued: u64,
    /// The driver of a load script (`LoadConfig::script`), which replaces the HTTP workers.
    driver: Option<script::ScriptDriver>,
    /// Requests completed so far, over all runs (see [`LoadGenerator::completed`]).
    completed: Arc<AtomicU64>,
}

fn validate(config: &LoadConfig) -> Result<(), LoadError> {
    if config.script.is_some() {
        if config.concurrency == 0 {
            return Err(LoadError::InvalidConfig("concurrency must be at least 1"));
        }
        return Ok(());
    }
    if config.requests.is_empty() {
        return Err(LoadError::InvalidConfig("no requests"));
    }
    if config.concurrency == 0 {
        return Err(LoadError::InvalidConfig("concurrency must be at least 1"));
    }
    if config.request_timeout.is_zero() {
        return Err(LoadError::InvalidConfig(
            "request timeout must be above zero",
        ));
    }
    for (index, template) in config.requests.iter().enumerate() {
        if Method::from_bytes(template.method.as_bytes()).is_err() {
            return Err(LoadError::InvalidMethod {
                index,
                method: template.method.clone(),
            });
        }
        let invalid_path = |reason: String| LoadError::InvalidPath {
            index,
            path: template.path.clone(),
            reason,
        };
        if !template.path.starts_with('/') {
            return Err(invalid_path("must start with '/'".to_owned()));
        }
        template
            .render(0)
            .path
            .parse::<Uri>()
            .map_err(|e| invalid_path(e.to_string()))?;
        for (name, value) in &template.headers {
            let invalid = |reason: String| LoadError::InvalidHeader {
                index,
                name: name.clone(),
                reason,
            };
            let parsed = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid("not a valid header name".to_owned()))?;
            // These would break message framing or keep-alive, and so the request counts.
            let reserved = [
                "content-length",
                "transfer-encoding",
                "connection",
                "upgrade",
            ];
            if reserved.contains(&parsed.as_str()) {
                return Err(invalid("set by the load generator itself".to_owned()));
            }
            HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("invalid value {value:?}")))?;
        }
    }
    Ok(())
}

impl LoadGenerator {
    /// A generator for the app at `addr`. Validates the config (methods, paths, headers);
    /// opens no connection yet.
    pub fn new(addr: SocketAddr, config: LoadConfig) -> Result<Self, LoadError> {
        validate(&config)?;
        let host = HeaderValue::try_from(addr.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("localhost"));
        let driver = match &config.script {
            Some(path) => Some(script::ScriptDriver::start(
                path,
                &format!("http://{addr}"),
                config.concurrency,
                config.request_timeout,
            )?),
            None => None,
        };
        Ok(LoadGenerator {
            addr,
            host,
            templates: config.requests.clone().into(),
            slots: if driver.is_some() {
                Vec::new()
            } else {
                (0..config.concurrency).map(|_| Slot::default()).collect()
            },
            config,
            issued: 0,
            driver,
            completed: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Issues exactly `count` more requests, at most `concurrency` in flight, and returns once
    /// every one of them has completed: nothing is in flight on return.
    ///
    /// Failed requests are counted in the returned stats. Only when not a single connection
    /// could be opened during the run is [`LoadError::Connect`] returned; the run then stops
    /// early, and [`issued`](Self::issued) advances past the requests that were attempted.
    pub async fn run(&mut self, count: u64) -> Result<LoadStats, LoadError> {
        self.run_bounded(count, u64::MAX).await
    }

    /// [`run`](Self::run), but stops issuing requests once more than `max_failures` of them
    /// have failed: the phase has failed then, and waiting out the rest (each failure may be a
    /// full request timeout) would only delay the report. Requests still in flight are then
    /// abandoned (not counted) and their connections closed.
    pub async fn run_bounded(
        &mut self,
        count: u64,
        max_failures: u64,
    ) -> Result<LoadStats, LoadError> {
        let started = Instant::now();
        let mut stats = LoadStats::for_templates(&self.templates);
        if count == 0 {
            return Ok(stats);
        }
        let start = self.issued;
        let end = start.saturating_add(count);
        if let Some(driver) = self.driver.as_mut() {
            self.issued = end;
            let stats = driver.run(start, count, max_failures).await?;
            self.issued = start + stats.requests;
            self.completed.fetch_add(stats.requests, Ordering::Relaxed);
            return Ok(stats);
        }
        // Should this future be dropped mid-run, the indexes are spent all the same.
        self.issued = end;
        let mut slots = std::mem::take(&mut self.slots);
        slots.resize_with(self.config.concurrency, Slot::default);
        let already_connected = slots
            .iter()
            .any(|s| s.conn.as_ref().is_some_and(|c| !c.sender.is_closed()));
        let shared = Arc::new(RunShared {
            addr: self.addr,
            host: self.host.clone(),
            templates: self.templates.clone(),
            cookies: self.config.cookies,
            flow: self.config.flow,
            completed: self.completed.clone(),
            timeout: self.config.request_timeout,
            next: AtomicU64::new(start),
            end,
            connected: AtomicBool::new(already_connected),
            connect_failures: AtomicU64::new(0),
            give_up_after: (2 * self.config.concurrency as u64).max(8),
            gave_up: AtomicBool::new(false),
            failures: AtomicU64::new(0),
            max_failures,
            stop: tokio::sync::Notify::new(),
            first_connect_error: Mutex::new(None),
        });
        // A JoinSet aborts its tasks when dropped, so a cancelled run leaves nothing behind.
        let mut workers = JoinSet::new();
        for slot in slots {
            workers.spawn(worker(shared.clone(), slot));
        }
        while let Some(joined) = workers.join_next().await {
            match joined {
                Ok((slot, worker_stats)) => {
                    self.slots.push(slot);
                    stats.merge(&worker_stats);
                }
                Err(error) => {
                    // A worker that panicked lost the request it was on.
                    self.slots.push(Slot::default());
                    stats.requests += 1;
                    stats.errors += 1;
                    stats.add_error_sample(&format!("load worker failed: {error}"));
                }
            }
        }
        stats.elapsed = started.elapsed();
        self.issued = shared.next.load(Ordering::Relaxed).min(end);
        if !shared.connected.load(Ordering::Relaxed) {
            let first = shared
                .first_connect_error
                .lock()
                .ok()
                .and_then(|mut e| e.take());
            let source = first.unwrap_or_else(|| io::ErrorKind::TimedOut.into());
            let addr = self.addr;
            return Err(LoadError::Connect { addr, source });
        }
        Ok(stats)
    }

    /// Replaces the request templates the next runs cycle through, keeping the connections and
    /// the global index (so `{i}` goes on counting where it was). This serves one request kind
    /// alone in the same process (see [`crate::explain::kind_phases`]). Refused for a load script
    /// or a flow, whose steps cannot be served apart, and for templates that do not validate.
    pub fn set_requests(&mut self, requests: Vec<RequestTemplate>) -> Result<(), LoadError> {
        if self.driver.is_some() || self.config.flow {
            return Err(LoadError::InvalidConfig(
                "a flow or a load script cannot serve its requests one kind at a time",
            ));
        }
        let mut config = self.config.clone();
        config.requests = requests;
        validate(&config)?;
        self.templates = config.requests.clone().into();
        self.config = config;
        Ok(())
    }

    /// The request templates the runs cycle through now.
    pub fn requests(&self) -> &[RequestTemplate] {
        &self.config.requests
    }

    /// A counter of the requests completed so far, over all runs, updated while a run is in
    /// progress (for progress lines; a load script's iterations are counted when its run
    /// ends).
    pub fn completed(&self) -> Arc<AtomicU64> {
        self.completed.clone()
    }

    /// The largest share of failed requests a phase accepts ([`LoadConfig::max_failure_rate`]).
    pub fn max_failure_rate(&self) -> f64 {
        self.config.max_failure_rate
    }

    /// The global index of the next request: how many requests were issued so far, warm-up
    /// included.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// Closes every connection and waits until their sockets are released.
    pub async fn close(mut self) {
        if let Some(driver) = self.driver.take() {
            driver.close().await;
        }
        for slot in &mut self.slots {
            if let Some(mut conn) = slot.conn.take() {
                conn.task.abort();
                let _ = (&mut conn.task).await;
            }
        }
    }
}
