//! The built-in HTTP load generator.
//!
//! (Being written.) The types below are shared with [`crate::spec`], which builds them from YAML.

use std::time::Duration;

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
