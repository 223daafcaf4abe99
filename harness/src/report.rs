//! Reports for people (text) and for tools (JSON).
//!
//! Text goes to stdout and is meant to be read in a terminal or a CI log; JSON is the contract
//! other tools rely on, so its field names only ever get added to, never renamed.

use std::fmt::Write as _;

use serde::Serialize;

use crate::analysis::diff::GrowingClass;
use crate::analysis::{CheckpointMemory, Diff, Summary, Suspect};
use crate::runner::{SpecRun, Timings};

/// Formats a byte count for people: `512 B`, `1.5 KiB`, `12.0 MiB`.
pub fn human_bytes(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", units[0])
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// The text form of `leakgate summary`: totals, then the `top` largest classes.
pub fn render_summary(summary: &Summary, top: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} nodes, {} edges, {} strings, {} in all",
        summary.node_count,
        summary.edge_count,
        summary.string_count,
        human_bytes(summary.total_self_size as f64)
    );
    let _ = writeln!(out, "{:>10}  {:>12}  class", "count", "self size");
    for c in summary.classes.iter().take(top) {
        let _ = writeln!(
            out,
            "{:>10}  {:>12}  {}",
            c.count,
            human_bytes(c.self_size as f64),
            c.class
        );
    }
    if summary.classes.len() > top {
        let _ = writeln!(
            out,
            "... and {} more classes (--top N, or --json)",
            summary.classes.len() - top
        );
    }
    out
}

/// The JSON of `leakgate diff`.
#[derive(Debug, Serialize)]
pub struct DiffJson<'a> {
    /// The files, in order.
    pub files: Vec<String>,
    /// Totals per snapshot.
    pub snapshots: &'a [crate::analysis::SnapshotFacts],
    /// Classes whose survivors appear in every interval and whose count grows in each.
    pub growing: &'a [GrowingClass],
    /// Every class with any change or survivor after the first snapshot.
    pub classes: Vec<&'a crate::analysis::ClassSeries>,
}

/// The text form of `leakgate diff`.
pub fn render_diff(files: &[String], diff: &Diff, growing: &[GrowingClass], top: usize) -> String {
    let mut out = String::new();
    let n = diff.snapshots.len();
    for (i, (file, s)) in files.iter().zip(&diff.snapshots).enumerate() {
        let _ = writeln!(
            out,
            "#{i} {file}: {} nodes, {}",
            s.node_count,
            human_bytes(s.total_self_size as f64)
        );
    }
    let _ = writeln!(out);
    if n >= 3 {
        let _ = writeln!(
            out,
            "Survivors: objects first seen in snapshot k that are still alive in the last \
             (intervals 1..{} are verified; interval {} is the last snapshot's own, unverified).",
            n - 2,
            n - 1
        );
    } else {
        let _ = writeln!(
            out,
            "Survivors: objects new in the last snapshot (with only two snapshots none is verified: \
             take three or more)."
        );
    }
    let _ = writeln!(out);
    if growing.is_empty() {
        let _ = writeln!(out, "No class grows in every interval.");
    } else {
        let _ = writeln!(out, "Classes that grow in every interval:");
        let _ = writeln!(
            out,
            "{:>14}  {:>14}  {:<24}  class",
            "per interval", "bytes/interval", "survivors by interval"
        );
        for g in growing.iter().take(top) {
            let intervals: Vec<String> = g.survivors.iter().map(u64::to_string).collect();
            let _ = writeln!(
                out,
                "{:>14.1}  {:>14}  {:<24}  {}",
                g.survivors_per_interval,
                human_bytes(g.bytes_per_interval),
                intervals.join(" "),
                g.class
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Largest count changes (first → last):");
    let mut changed: Vec<_> = diff
        .classes
        .iter()
        .map(|c| (c.counts[n - 1] as i64 - c.counts[0] as i64, c))
        .filter(|(d, _)| *d != 0)
        .collect();
    changed.sort_by(|a, b| b.0.abs().cmp(&a.0.abs()).then(a.1.class.cmp(&b.1.class)));
    for (delta, c) in changed.iter().take(top) {
        let size_delta = c.sizes[n - 1] as f64 - c.sizes[0] as f64;
        let _ = writeln!(
            out,
            "{:>+10}  {:>12}  {}",
            delta,
            format!(
                "{}{}",
                if size_delta >= 0.0 { "+" } else { "-" },
                human_bytes(size_delta.abs())
            ),
            c.class
        );
    }
    out
}

/// One suspect in the JSON report.
#[derive(Debug, Serialize)]
pub struct SuspectJson {
    /// DevTools class name.
    pub class: String,
    /// Surviving new objects per 1000 requests.
    pub per_1k_requests: f64,
    /// Their self size per request, bytes.
    pub bytes_per_request: f64,
    /// Survivors first seen in each interval (the last unverified).
    pub survivors_by_interval: Vec<u64>,
    /// Live count change in each interval.
    pub count_growth_by_interval: Vec<i64>,
}

/// One spec in the JSON report of `leakgate run`.
#[derive(Debug, Serialize)]
pub struct SpecJson {
    /// The spec's name.
    pub name: String,
    /// The spec file.
    pub file: String,
    /// `leak`, `clean` or `error`.
    pub verdict: &'static str,
    /// `leak` or `clean`.
    pub expect: &'static str,
    /// Whether the verdict met `expect`.
    pub passed: bool,
    /// JS heap growth per request (slope over the checkpoints), bytes.
    pub heap_bytes_per_request: Option<f64>,
    /// Array-buffer growth per request, bytes.
    pub array_buffer_bytes_per_request: Option<f64>,
    /// Why there is no verdict, when there is none.
    pub error: Option<String>,
    /// Suspect classes, worst first.
    pub suspects: Vec<SuspectJson>,
    /// Why the verdict is what it is.
    pub reasons: Vec<String>,
    /// Measured requests (warm-up excluded).
    pub requests: u64,
    /// Failed measured requests.
    pub failed_requests: u64,
    /// Memory at each snapshot.
    pub checkpoints: Vec<CheckpointMemory>,
    /// Where the time went.
    pub timings: Option<Timings>,
    /// Heap snapshots kept for inspection in Chrome DevTools.
    pub snapshots: Vec<String>,
}

/// The JSON report of `leakgate run`.
#[derive(Debug, Serialize)]
pub struct RunJson {
    /// One entry per spec, in run order.
    pub specs: Vec<SpecJson>,
}

impl SpecJson {
    /// The JSON form of one run.
    pub fn from_run(run: &SpecRun) -> SpecJson {
        let mut out = SpecJson {
            name: run.name.clone(),
            file: run.file.display().to_string(),
            verdict: "error",
            expect: run.expect.as_str(),
            passed: run.passed(),
            heap_bytes_per_request: None,
            array_buffer_bytes_per_request: None,
            error: None,
            suspects: Vec::new(),
            reasons: Vec::new(),
            requests: 0,
            failed_requests: 0,
            checkpoints: Vec::new(),
            timings: None,
            snapshots: Vec::new(),
        };
        match &run.outcome {
            Err(e) => out.error = Some(e.to_string()),
            Ok(m) => {
                out.verdict = m.analysis.verdict.as_str();
                out.heap_bytes_per_request = Some(round2(m.analysis.heap.per_request));
                out.array_buffer_bytes_per_request =
                    Some(round2(m.analysis.array_buffers.per_request));
                out.suspects = m.analysis.suspects.iter().map(suspect_json).collect();
                out.reasons = m.analysis.reasons.clone();
                out.requests = m.load.requests;
                out.failed_requests = m.load.failures();
                out.checkpoints = m.memory.clone();
                out.timings = Some(m.timings);
                out.snapshots = m
                    .kept_snapshots
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
            }
        }
        out
    }
}

fn suspect_json(s: &Suspect) -> SuspectJson {
    SuspectJson {
        class: s.class.clone(),
        per_1k_requests: round2(s.per_1k_requests),
        bytes_per_request: round2(s.bytes_per_request),
        survivors_by_interval: s.survivors_by_interval.clone(),
        count_growth_by_interval: s.count_growth_by_interval.clone(),
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// How many suspects the text report lists.
pub const TEXT_SUSPECTS: usize = 8;

/// The text report of one run.
pub fn render_run(run: &SpecRun) -> String {
    let mut out = String::new();
    let status = if run.passed() { "PASS" } else { "FAIL" };
    let found = match &run.outcome {
        Ok(m) => m.analysis.verdict.as_str(),
        Err(_) => "error",
    };
    let _ = writeln!(
        out,
        "{status} {} ({}): expected {}, found {found}",
        run.name,
        run.file.display(),
        run.expect.as_str()
    );
    let m = match &run.outcome {
        Err(e) => {
            for line in e.to_string().lines() {
                let _ = writeln!(out, "  {line}");
            }
            return out;
        }
        Ok(m) => m,
    };
    let a = &m.analysis;
    let _ = writeln!(
        out,
        "  {} measured requests, {} failed, {:.0} requests/s",
        m.load.requests,
        m.load.failures(),
        m.load.requests_per_second()
    );
    let _ = writeln!(
        out,
        "  heap {:+.1} B/request, array buffers {:+.1} B/request",
        a.heap.per_request, a.array_buffers.per_request
    );
    for reason in &a.reasons {
        let _ = writeln!(out, "  - {reason}");
    }
    if !a.suspects.is_empty() {
        let _ = writeln!(
            out,
            "  {:>10}  {:>10}  {:<22}  class",
            "per 1k req", "B/request", "survivors by interval"
        );
        for s in a.suspects.iter().take(TEXT_SUSPECTS) {
            let intervals: Vec<String> =
                s.survivors_by_interval.iter().map(u64::to_string).collect();
            let _ = writeln!(
                out,
                "  {:>10.1}  {:>10.1}  {:<22}  {}",
                s.per_1k_requests,
                s.bytes_per_request,
                intervals.join(" "),
                s.class
            );
        }
        if a.suspects.len() > TEXT_SUSPECTS {
            let _ = writeln!(out, "  ... and {} more", a.suspects.len() - TEXT_SUSPECTS);
        }
    }
    let t = &m.timings;
    let _ = writeln!(
        out,
        "  time {:.1} s: boot {:.1}, warm-up {:.1}, load {:.1}, snapshots {:.1}, analysis {:.1}",
        t.total, t.boot, t.warmup, t.load, t.snapshots, t.analysis
    );
    for path in &m.kept_snapshots {
        let _ = writeln!(out, "  snapshot kept: {}", path.display());
    }
    out
}
