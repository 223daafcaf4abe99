//! Which request kind leaks: each kind of a mixed spec is run alone and judged alone.
//!
//! Running a kind alone is the direct test of "does this request leak": it needs no model of
//! how requests interleave, and it also catches a leak that needs the kind's own sequence
//! (a create, then a read of it). It costs one run per kind, so it happens only to explain a
//! leak that was found, and only when the spec has more than one kind.

use serde::Serialize;

use crate::analysis::Verdict;
use crate::load::RequestTemplate;
use crate::runner::{measure, MeasurePlan, RunOptions};
use crate::spec::Spec;

/// The verdict of one request kind run alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestKindResult {
    /// The kind, as `METHOD path-template`.
    pub request: String,
    /// `leak`, `clean`, or `error` when the run failed.
    pub verdict: &'static str,
    /// JS heap growth per request of this kind, bytes.
    pub heap_bytes_per_request: Option<f64>,
    /// Array-buffer growth per request of this kind, bytes.
    pub array_buffer_bytes_per_request: Option<f64>,
    /// The worst suspect class and its survivors per 1000 requests of this kind.
    pub top_suspect: Option<(String, f64)>,
    /// Why the run failed.
    pub error: Option<String>,
}

/// The distinct request kinds of a spec, in first-seen order, each with its templates.
pub fn request_kinds(spec: &Spec) -> Vec<(String, Vec<RequestTemplate>)> {
    let mut kinds: Vec<(String, Vec<RequestTemplate>)> = Vec::new();
    for template in &spec.load.requests {
        let label = template.label();
        match kinds.iter_mut().find(|(l, _)| *l == label) {
            Some((_, templates)) => templates.push(template.clone()),
            None => kinds.push((label, vec![template.clone()])),
        }
    }
    kinds
}

/// Runs each request kind of `spec` alone and judges it.
pub async fn attribute(spec: &Spec, options: &RunOptions) -> Vec<RequestKindResult> {
    let mut out = Vec::new();
    for (i, (label, templates)) in request_kinds(spec).into_iter().enumerate() {
        let mut load = spec.load.clone();
        load.requests = templates;
        let plan = MeasurePlan {
            load,
            track_allocations: false,
            label: format!("request-{i}"),
            retainers: false,
            checkpoints: spec.checkpoints.clone(),
        };
        let result = match measure(spec, &plan, options).await {
            Ok(m) => RequestKindResult {
                request: label,
                verdict: m.analysis.verdict.as_str(),
                heap_bytes_per_request: Some(m.analysis.heap.per_request),
                array_buffer_bytes_per_request: Some(m.analysis.array_buffers.per_request),
                top_suspect: m
                    .analysis
                    .suspects
                    .first()
                    .map(|s| (s.class.clone(), s.per_1k_requests)),
                error: None,
            },
            Err(e) => RequestKindResult {
                request: label,
                verdict: "error",
                heap_bytes_per_request: None,
                array_buffer_bytes_per_request: None,
                top_suspect: None,
                error: Some(e.to_string()),
            },
        };
        out.push(result);
    }
    out
}

/// The kinds that leak on their own.
pub fn leaking_requests(results: &[RequestKindResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.verdict == Verdict::Leak.as_str())
        .map(|r| r.request.clone())
        .collect()
}
