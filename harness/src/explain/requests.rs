//! The request kinds of a spec, and the run-per-kind way of telling which one leaks: each kind
//! of a mixed spec booted alone and judged alone (`explain: runs`).
//!
//! Running a kind alone from boot is the most direct test of "does this request leak": it
//! needs no model of how requests interleave, and it judges the kind with the whole method
//! (two windows, its own noise) from a fresh process. It costs a boot, a warm-up and a
//! measured phase per kind, so by default the kinds are served alone in the measured process
//! instead (see [`super::kind_phases`]); the report's `method` says which produced a verdict.

use serde::Serialize;

use crate::analysis::Series;
use crate::analysis::Verdict;
use crate::load::RequestTemplate;
use crate::runner::{Plan, RunError};
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
    /// How the kind was judged: [`SAME_PROCESS`] (served alone for one interval in the measured
    /// process) or [`RUN_ALONE`] (booted and measured alone).
    pub method: &'static str,
    /// Requests of this kind the verdict rests on (the interval, or the measured requests of
    /// its own run).
    pub requests: u64,
}

/// [`RequestKindResult::method`] of a kind served alone in the measured process.
pub const SAME_PROCESS: &str = "same_process";
/// [`RequestKindResult::method`] of a kind booted and measured alone.
pub const RUN_ALONE: &str = "run_alone";

/// The distinct request kinds of a spec, in first-seen order, each with its templates; none
/// for a flow or a load script.
pub fn request_kinds(spec: &Spec) -> Vec<(String, Vec<RequestTemplate>)> {
    // A flow's steps depend on each other (log in, then use the token), and a load script
    // has no templates: neither splits into kinds that can run alone.
    if spec.load.flow || spec.load.script.is_some() {
        return Vec::new();
    }
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

/// The plan that runs one request kind (the `i`-th) alone.
pub fn kind_plan(spec: &Spec, i: usize, templates: Vec<RequestTemplate>) -> Plan {
    let mut plan = Plan::of(spec);
    plan.load.requests = templates;
    plan.label = format!("request-{i}");
    plan
}

/// The verdict of the request kind `label` from its run alone (or its failure).
pub fn kind_result(
    spec: &Spec,
    label: &str,
    series: Result<Series, RunError>,
) -> RequestKindResult {
    match series {
        Ok(series) => {
            let analysis = series.judge(&spec.assert);
            RequestKindResult {
                request: label.to_string(),
                verdict: analysis.verdict.as_str(),
                heap_bytes_per_request: Some(analysis.heap.per_request),
                array_buffer_bytes_per_request: Some(analysis.array_buffers.per_request),
                top_suspect: analysis
                    .suspects
                    .first()
                    .map(|s| (s.class.clone(), s.per_1k_requests)),
                error: None,
                method: RUN_ALONE,
                requests: series.memory.last().map_or(0, |m| m.requests),
            }
        }
        Err(e) => RequestKindResult {
            request: label.to_string(),
            verdict: "error",
            heap_bytes_per_request: None,
            array_buffer_bytes_per_request: None,
            top_suspect: None,
            error: Some(e.to_string()),
            method: RUN_ALONE,
            requests: 0,
        },
    }
}

/// The kinds that leak on their own.
pub fn leaking_requests(results: &[RequestKindResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.verdict == Verdict::Leak.as_str())
        .map(|r| r.request.clone())
        .collect()
}
