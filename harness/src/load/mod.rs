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

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};

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
    /// How long one request may take before it counts as failed.
    pub request_timeout: Duration,
}

/// The placeholder replaced by a request's global index.
const INDEX_PLACEHOLDER: &str = "{i}";

/// Sent as `User-Agent` unless a template sets its own.
const USER_AGENT: &str = concat!("leakgate/", env!("CARGO_PKG_VERSION"));

/// How many distinct error messages [`LoadStats::error_samples`] keeps.
const MAX_ERROR_SAMPLES: usize = 5;

/// One request, ready to send: a [`RequestTemplate`] with `{i}` replaced.
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

fn substitute(text: &str, index: &str) -> String {
    text.replace(INDEX_PLACEHOLDER, index)
}

fn substitute_json(value: &serde_json::Value, index: &str) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(substitute(s, index)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute_json(v, index)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (substitute(k, index), substitute_json(v, index)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl RequestTemplate {
    /// Renders request number `index`: `{i}` is replaced in the path, in header values and in
    /// every string (keys included) of a JSON body, or anywhere in a text body.
    ///
    /// A method that is not a valid HTTP token renders as `GET`; [`LoadGenerator::new`]
    /// rejects such templates before any request is sent.
    pub fn render(&self, index: u64) -> RenderedRequest {
        let idx = index.to_string();
        let has_content_type = self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        let (body, content_type) = match &self.body {
            None => (Bytes::new(), None),
            Some(BodyTemplate::Json(value)) => {
                let rendered = substitute_json(value, &idx);
                // Serializing a `Value` cannot fail: its keys are always strings.
                let bytes = serde_json::to_vec(&rendered).unwrap_or_default();
                (Bytes::from(bytes), Some("application/json"))
            }
            Some(BodyTemplate::Text(text)) => {
                (Bytes::from(substitute(text, &idx)), Some("text/plain"))
            }
        };
        RenderedRequest {
            method: Method::from_bytes(self.method.as_bytes()).unwrap_or(Method::GET),
            path: substitute(&self.path, &idx),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), substitute(value, &idx)))
                .collect(),
            body,
            content_type: if has_content_type { None } else { content_type },
        }
    }
}

/// Why a load could not be driven. Failed requests are not errors: they are counted in
/// [`LoadStats`].
#[derive(Debug, thiserror::Error)]
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

/// Requests and failures of one request template.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TemplateStats {
    /// The template's [`RequestTemplate::label`].
    pub label: String,
    /// Requests issued with this template.
    pub requests: u64,
    /// Of those, non-2xx answers and errors.
    pub failures: u64,
}

/// What a run (or several, [merged](LoadStats::merge)) did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadStats {
    /// Requests issued.
    pub requests: u64,
    /// Requests answered with a 2xx status.
    pub ok: u64,
    /// Requests answered with any other status.
    pub non_2xx: u64,
    /// Requests that got no complete answer: connection errors and timeouts.
    pub errors: u64,
    /// Answers by status code, 2xx included.
    pub status_counts: BTreeMap<u16, u64>,
    /// The first few distinct error messages.
    pub error_samples: Vec<String>,
    /// Wall-clock time of the run(s); serialized as seconds.
    #[serde(serialize_with = "serialize_secs")]
    pub elapsed: Duration,
    /// Counts per request template, in config order.
    pub per_template: Vec<TemplateStats>,
}

fn serialize_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl LoadStats {
    fn for_templates(templates: &[RequestTemplate]) -> Self {
        LoadStats {
            per_template: templates
                .iter()
                .map(|t| TemplateStats {
                    label: t.label(),
                    ..TemplateStats::default()
                })
                .collect(),
            ..LoadStats::default()
        }
    }

    /// Non-2xx answers plus errors.
    pub fn failures(&self) -> u64 {
        self.non_2xx + self.errors
    }

    /// [`failures`](Self::failures) as a fraction of requests; 0 when there were none.
    pub fn failure_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures() as f64 / self.requests as f64
        }
    }

    /// Requests per second of wall-clock time; 0 when no time elapsed.
    pub fn requests_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }

    /// Adds `other`'s counts and elapsed time to these. A per-template entry is added to the
    /// one at the same position when the labels agree, else to the first with its label.
    pub fn merge(&mut self, other: &LoadStats) {
        self.requests += other.requests;
        self.ok += other.ok;
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        for (status, n) in &other.status_counts {
            *self.status_counts.entry(*status).or_default() += n;
        }
        for message in &other.error_samples {
            self.add_error_sample(message);
        }
        self.elapsed += other.elapsed;
        for (position, theirs) in other.per_template.iter().enumerate() {
            let same_position = self.per_template.get(position).map(|t| &t.label);
            let mine = if same_position == Some(&theirs.label) {
                self.per_template.get_mut(position)
            } else {
                self.per_template
                    .iter_mut()
                    .find(|t| t.label == theirs.label)
            };
            match mine {
                Some(mine) => {
                    mine.requests += theirs.requests;
                    mine.failures += theirs.failures;
                }
                None => self.per_template.push(theirs.clone()),
            }
        }
    }

    fn add_error_sample(&mut self, message: &str) {
        if self.error_samples.len() < MAX_ERROR_SAMPLES
            && !self.error_samples.iter().any(|m| m == message)
        {
            self.error_samples.push(message.to_owned());
        }
    }

    fn record(&mut self, template: usize, outcome: Outcome) {
        self.requests += 1;
        let failed = match outcome {
            Ok(status) => {
                *self.status_counts.entry(status).or_default() += 1;
                if (200..300).contains(&status) {
                    self.ok += 1;
                    false
                } else {
                    self.non_2xx += 1;
                    true
                }
            }
            Err(message) => {
                self.errors += 1;
                self.add_error_sample(&message);
                true
            }
        };
        if let Some(t) = self.per_template.get_mut(template) {
            t.requests += 1;
            t.failures += u64::from(failed);
        }
    }
}

/// How one request ended: the status of a complete answer, or why there was none.
type Outcome = Result<u16, String>;

/// An error and its sources, as one line.
fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

/// An open keep-alive connection and the task that drives it.
#[derive(Debug)]
struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    task: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Dropping the sender alone would leave a busy connection open until its response
        // ends; aborting the driver closes the socket now.
        self.task.abort();
    }
}

async fn open(addr: SocketAddr) -> io::Result<Conn> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    let task = tokio::spawn(async move {
        // Errors surface on the request that was in flight.
        let _ = connection.await;
    });
    Ok(Conn { sender, task })
}

/// Stores one `Set-Cookie` header in `jar`; `Max-Age` of 0 or less deletes the cookie.
/// Other attributes (`Expires`, `Path`, `Domain`) are not interpreted: the app is one origin.
fn store_cookie(jar: &mut BTreeMap<String, String>, set_cookie: &str) {
    let mut parts = set_cookie.split(';');
    let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
        return;
    };
    let name = name.trim();
    if name.is_empty() {
        return;
    }
    let expired = parts.any(|attr| {
        attr.split_once('=').is_some_and(|(key, value)| {
            key.trim().eq_ignore_ascii_case("max-age")
                && value.trim().parse::<i64>().is_ok_and(|secs| secs <= 0)
        })
    });
    if expired {
        jar.remove(name);
    } else {
        jar.insert(name.to_owned(), value.trim().to_owned());
    }
}

/// Builds the hyper request for `rendered`.
fn build_request(
    rendered: RenderedRequest,
    host: &HeaderValue,
    cookies: Option<String>,
) -> Result<Request<Full<Bytes>>, String> {
    let uri: Uri = rendered
        .path
        .parse()
        .map_err(|e| format!("invalid path {:?}: {e}", rendered.path))?;
    let has_body = !rendered.body.is_empty()
        || matches!(rendered.method, Method::POST | Method::PUT | Method::PATCH);
    let length = rendered.body.len();
    let mut request = Request::new(Full::new(rendered.body));
    *request.method_mut() = rendered.method;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(header::HOST, host.clone());
    headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    for (name, value) in &rendered.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("invalid header name {name:?}: {e}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| format!("invalid value for header {name}: {e}"))?;
        if name == header::HOST || name == header::USER_AGENT {
            headers.insert(name, value);
        } else {
            headers.append(name, value);
        }
    }
    if let Some(content_type) = rendered.content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if has_body {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    if let Some(jar) = cookies {
        let value = match headers.get(header::COOKIE).map(|v| v.to_str()) {
            Some(Ok(own)) => format!("{own}; {jar}"),
            _ => jar,
        };
        let value = HeaderValue::from_str(&value).map_err(|e| format!("invalid cookie: {e}"))?;
        headers.insert(header::COOKIE, value);
    }
    Ok(request)
}

/// What the workers of one run share.
struct RunShared {
    addr: SocketAddr,
    host: HeaderValue,
    templates: Arc<[RequestTemplate]>,
    cookies: bool,
    timeout: Duration,
    /// The next global index to take.
    next: AtomicU64,
    /// One past the last index of this run.
    end: u64,
    /// A connection was usable at some point of this run.
    connected: AtomicBool,
    connect_failures: AtomicU64,
    /// Give up after this many connection failures with no connection at all.
    give_up_after: u64,
    gave_up: AtomicBool,
    first_connect_error: Mutex<Option<io::Error>>,
}

impl RunShared {
    fn connect_failed(&self, error: io::Error) -> String {
        let message = format!("connect to {}: {}", self.addr, describe(&error));
        let failures = self.connect_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut first) = self.first_connect_error.lock() {
            first.get_or_insert(error);
        }
        if failures >= self.give_up_after && !self.connected.load(Ordering::Relaxed) {
            self.gave_up.store(true, Ordering::Relaxed);
        }
        message
    }
}

/// One virtual user: a connection slot and, with cookies on, its jar. The jar outlives
/// re-opened connections, as a browser's would.
#[derive(Debug, Default)]
struct Slot {
    conn: Option<Conn>,
    jar: BTreeMap<String, String>,
}

impl Slot {
    /// A ready sender: the open connection, or a new one.
    async fn sender(
        &mut self,
        shared: &RunShared,
    ) -> Result<&mut http1::SendRequest<Full<Bytes>>, String> {
        let alive = match self.conn.as_mut() {
            Some(conn) => conn.sender.ready().await.is_ok(),
            None => false,
        };
        if !alive {
            self.conn = None;
            match open(shared.addr).await {
                Ok(conn) => self.conn = Some(conn),
                Err(error) => return Err(shared.connect_failed(error)),
            }
        }
        shared.connected.store(true, Ordering::Relaxed);
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| "connection lost".to_owned())?;
        Ok(&mut conn.sender)
    }

    /// Sends request `index` with template `template` and reads the whole answer.
    async fn request(&mut self, shared: &RunShared, template: usize, index: u64) -> Outcome {
        let rendered = shared.templates[template].render(index);
        let cookies = (shared.cookies && !self.jar.is_empty()).then(|| {
            let pairs: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.join("; ")
        });
        let mut request = build_request(rendered, &shared.host, cookies)?;
        let mut resent = false;
        loop {
            match self.sender(shared).await?.try_send_request(request).await {
                Ok(response) => return self.read_response(shared, response).await,
                Err(mut error) => {
                    self.conn = None;
                    match error.take_message() {
                        // Never written: the server had closed the connection. Safe to resend.
                        Some(unsent) if !resent => {
                            resent = true;
                            request = unsent;
                        }
                        _ => return Err(format!("request: {}", describe(error.error()))),
                    }
                }
            }
        }
    }

    async fn read_response(
        &mut self,
        shared: &RunShared,
        response: Response<hyper::body::Incoming>,
    ) -> Outcome {
        let status = response.status().as_u16();
        if shared.cookies {
            for value in response.headers().get_all(header::SET_COOKIE) {
                if let Ok(value) = value.to_str() {
                    store_cookie(&mut self.jar, value);
                }
            }
        }
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            if let Err(error) = frame {
                self.conn = None;
                return Err(format!("response body: {}", describe(&error)));
            }
        }
        Ok(status)
    }
}

/// One worker: takes indexes from the shared counter until the run's end.
async fn worker(shared: Arc<RunShared>, mut slot: Slot) -> (Slot, LoadStats) {
    let mut stats = LoadStats::for_templates(&shared.templates);
    let len = shared.templates.len() as u64;
    while !shared.gave_up.load(Ordering::Relaxed) {
        let index = shared.next.fetch_add(1, Ordering::Relaxed);
        if index >= shared.end {
            break;
        }
        let template = (index % len) as usize;
        let attempt = slot.request(&shared, template, index);
        let outcome = match tokio::time::timeout(shared.timeout, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => {
                // The connection may still carry the late answer: never reuse it.
                slot.conn = None;
                Err(format!("timed out after {:?}", shared.timeout))
            }
        };
        stats.record(template, outcome);
    }
    (slot, stats)
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
}

fn validate(config: &LoadConfig) -> Result<(), LoadError> {
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
        Ok(LoadGenerator {
            addr,
            host,
            templates: config.requests.clone().into(),
            slots: (0..config.concurrency).map(|_| Slot::default()).collect(),
            config,
            issued: 0,
        })
    }

    /// Issues exactly `count` more requests, at most `concurrency` in flight, and returns once
    /// every one of them has completed: nothing is in flight on return.
    ///
    /// Failed requests are counted in the returned stats. Only when not a single connection
    /// could be opened during the run is [`LoadError::Connect`] returned; the run then stops
    /// early, and [`issued`](Self::issued) advances past the requests that were attempted.
    pub async fn run(&mut self, count: u64) -> Result<LoadStats, LoadError> {
        let started = Instant::now();
        let mut stats = LoadStats::for_templates(&self.templates);
        if count == 0 {
            return Ok(stats);
        }
        let start = self.issued;
        let end = start.saturating_add(count);
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
            timeout: self.config.request_timeout,
            next: AtomicU64::new(start),
            end,
            connected: AtomicBool::new(already_connected),
            connect_failures: AtomicU64::new(0),
            give_up_after: (2 * self.config.concurrency as u64).max(8),
            gave_up: AtomicBool::new(false),
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

    /// The global index of the next request: how many requests were issued so far, warm-up
    /// included.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// Closes every connection and waits until their sockets are released.
    pub async fn close(mut self) {
        for slot in &mut self.slots {
            if let Some(mut conn) = slot.conn.take() {
                conn.task.abort();
                let _ = (&mut conn.task).await;
            }
        }
    }
}
