//! One virtual user: its keep-alive connection, its cookie jar, and the worker loop that
//! sends requests on it. Everything here is about a single socket; sharing out the request
//! indexes and adding up the results is left to [`LoadGenerator`](super::LoadGenerator).

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
use tokio::task::JoinHandle;

use super::flow::{cookie_value, json_field, Rng, Values};
use super::stats::{LoadStats, Outcome};
use super::{CaptureSource, RenderedRequest, RequestTemplate};

/// How much of an answer's body is kept to capture JSON fields from.
const MAX_CAPTURED_BODY: usize = 1 << 20;

/// A keep-alive connection idle for longer than this is closed and a new one opened rather
/// than reused. Servers close idle connections on a timer (Node's `keepAliveTimeout` is 5 s),
/// and a checkpoint pauses the load for as long as V8 takes to write a snapshot, seconds on a
/// large heap: a request written just as that timer fires is lost with the connection
/// ("connection closed before message completed"). A fresh connection costs far less.
const STALE_AFTER: Duration = Duration::from_secs(1);

/// A connection idle for longer than this may have been closed by the server's timer as the
/// request was written; a request that can be sent again without harm (RFC 9110's idempotent
/// methods) is then resent once on a new connection, as browsers and Go's client do.
const MAY_BE_CLOSING_AFTER: Duration = Duration::from_millis(50);

/// Sent as `User-Agent` unless a template sets its own.
const USER_AGENT: &str = concat!("leakgate/", env!("CARGO_PKG_VERSION"));

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
pub(super) struct Conn {
    pub(super) sender: http1::SendRequest<Full<Bytes>>,
    pub(super) task: JoinHandle<()>,
    /// When its last answer ended (or it was opened).
    idle_since: Instant,
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
    Ok(Conn {
        sender,
        task,
        idle_since: Instant::now(),
    })
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

/// Methods that RFC 9110 (section 9.2.2) lets a client repeat without changing the outcome.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// The same request again (its body is shared, not copied).
fn copy_request(request: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// What the workers of one run share.
pub(super) struct RunShared {
    pub(super) addr: SocketAddr,
    pub(super) host: HeaderValue,
    pub(super) templates: Arc<[RequestTemplate]>,
    pub(super) cookies: bool,
    pub(super) flow: bool,
    /// Requests completed, over all runs of the generator.
    pub(super) completed: Arc<AtomicU64>,
    pub(super) timeout: Duration,
    /// The next global index to take.
    pub(super) next: AtomicU64,
    /// One past the last index of this run.
    pub(super) end: u64,
    /// A connection was usable at some point of this run.
    pub(super) connected: AtomicBool,
    pub(super) connect_failures: AtomicU64,
    /// Give up after this many connection failures with no connection at all.
    pub(super) give_up_after: u64,
    pub(super) gave_up: AtomicBool,
    /// Failed requests of this run so far.
    pub(super) failures: AtomicU64,
    /// Stop the run once more requests than this have failed.
    pub(super) max_failures: u64,
    /// Woken when the run stops early, so that requests in flight are abandoned.
    pub(super) stop: tokio::sync::Notify,
    pub(super) first_connect_error: Mutex<Option<io::Error>>,
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
pub(super) struct Slot {
    pub(super) conn: Option<Conn>,
    jar: BTreeMap<String, String>,
    /// The next step of a flow.
    step: usize,
    /// Values captured from this user's answers, by name.
    captured: BTreeMap<String, String>,
    rng: Rng,
}

impl Slot {
    /// A ready sender: the open connection, or a new one when there is none or it has been
    /// idle for longer than [`STALE_AFTER`]. Also returns how long the connection it gives had
    /// been idle (zero for a new one).
    async fn sender(
        &mut self,
        shared: &RunShared,
    ) -> Result<(&mut http1::SendRequest<Full<Bytes>>, Duration), String> {
        let mut idle = Duration::ZERO;
        let alive = match self.conn.as_mut() {
            Some(conn) => {
                idle = conn.idle_since.elapsed();
                idle <= STALE_AFTER && conn.sender.ready().await.is_ok()
            }
            None => false,
        };
        if !alive {
            idle = Duration::ZERO;
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
        Ok((&mut conn.sender, idle))
    }

    /// Sends request `index` with template `template` and reads the whole answer.
    async fn request(&mut self, shared: &RunShared, template: usize, index: u64) -> Outcome {
        let rendered = shared.templates[template].render_with(&mut Values {
            index,
            captured: &self.captured,
            rng: &mut self.rng,
        });
        let cookies = (shared.cookies && !self.jar.is_empty()).then(|| {
            let pairs: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.join("; ")
        });
        let mut request = build_request(rendered, &shared.host, cookies)?;
        let mut resent = false;
        loop {
            let (sender, idle) = self.sender(shared).await?;
            let spare = (!resent && idle > MAY_BE_CLOSING_AFTER && is_idempotent(request.method()))
                .then(|| copy_request(&request));
            match sender.try_send_request(request).await {
                Ok(response) => return self.read_response(shared, template, response).await,
                Err(mut error) => {
                    self.conn = None;
                    match (error.take_message(), spare) {
                        // Never written: the server had closed the connection. Safe to resend.
                        (Some(unsent), _) if !resent => {
                            resent = true;
                            request = unsent;
                        }
                        // Written as the server closed the idle connection, and harmless twice.
                        (None, Some(spare)) if error.error().is_incomplete_message() => {
                            resent = true;
                            request = spare;
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
        template: usize,
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
        let template = &shared.templates[template];
        let capturing = !template.capture.is_empty() && template.expects(status);
        let keep_body = capturing && template.capture.iter().any(|c| c.source.needs_body());
        let mut captures = Vec::new();
        if capturing {
            for capture in &template.capture {
                let value = match &capture.source {
                    CaptureSource::Json(_) => None,
                    CaptureSource::Header(name) => response
                        .headers()
                        .get(name.as_str())
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                    CaptureSource::Cookie(name) => response
                        .headers()
                        .get_all(header::SET_COOKIE)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .find_map(|v| cookie_value(v, name))
                        .map(str::to_owned),
                };
                captures.push(value);
            }
        }
        let mut body = response.into_body();
        let mut kept = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Err(error) => {
                    self.conn = None;
                    return Err(format!("response body: {}", describe(&error)));
                }
                Ok(frame) => {
                    if let Some(data) = frame.data_ref().filter(|_| keep_body) {
                        if kept.len() + data.len() <= MAX_CAPTURED_BODY {
                            kept.extend_from_slice(data);
                        }
                    }
                }
            }
        }
        if let Some(conn) = self.conn.as_mut() {
            conn.idle_since = Instant::now();
        }
        for (capture, value) in template.capture.iter().zip(captures).filter(|_| capturing) {
            let value = match (&capture.source, value) {
                (CaptureSource::Json(path), _) => json_field(&kept, path),
                (_, value) => value,
            };
            match value {
                Some(value) => {
                    self.captured.insert(capture.name.clone(), value);
                }
                None => {
                    return Err(format!(
                        "capture `{}`: the answer ({status}) has no {}",
                        capture.name,
                        match &capture.source {
                            CaptureSource::Json(path) => format!("JSON field `{}`", path.join(".")),
                            CaptureSource::Header(name) => format!("header `{name}`"),
                            CaptureSource::Cookie(name) => format!("cookie `{name}`"),
                        }
                    ))
                }
            }
        }
        Ok(status)
    }
}

/// One worker: takes indexes from the shared counter until the run's end.
pub(super) async fn worker(shared: Arc<RunShared>, mut slot: Slot) -> (Slot, LoadStats) {
    let mut stats = LoadStats::for_templates(&shared.templates);
    let len = shared.templates.len() as u64;
    while !shared.gave_up.load(Ordering::Relaxed) {
        let index = shared.next.fetch_add(1, Ordering::Relaxed);
        if index >= shared.end {
            break;
        }
        let template = if shared.flow {
            slot.step % len as usize
        } else {
            (index % len) as usize
        };
        let stopped = shared.stop.notified();
        if shared.gave_up.load(Ordering::Relaxed) {
            break;
        }
        let attempt = slot.request(&shared, template, index);
        let outcome = tokio::select! {
            timed = tokio::time::timeout(shared.timeout, attempt) => match timed {
                Ok(outcome) => outcome,
                Err(_) => {
                    // The connection may still carry the late answer: never reuse it.
                    slot.conn = None;
                    Err(format!("timed out after {:?}", shared.timeout))
                }
            },
            () = stopped => {
                // The run has failed: this request is abandoned, and its connection with it.
                slot.conn = None;
                break;
            }
        };
        let expects = &shared.templates[template];
        let failed = stats.record(template, outcome, |status| expects.expects(status));
        shared.completed.fetch_add(1, Ordering::Relaxed);
        if shared.flow {
            // A failed step starts the flow again, as a client that lost its session would.
            slot.step = if failed { 0 } else { template + 1 };
            if slot.step == 0 {
                slot.captured.clear();
            }
        }
        if failed && shared.failures.fetch_add(1, Ordering::Relaxed) >= shared.max_failures {
            shared.gave_up.store(true, Ordering::Relaxed);
            shared.stop.notify_waiters();
        }
    }
    (slot, stats)
}
