//! Reports for people (text) and for tools (JSON, in [`json`]; JUnit XML, in [`junit`]; an SVG
//! chart per run, in [`svg`]; GitHub Actions annotations and step summary, in [`github`]).
//!
//! Text goes to stdout and is meant to be read in a terminal or a CI log; JSON is the contract
//! other tools rely on, so its field names only ever get added to, never renamed.

pub mod github;
pub mod json;
pub mod junit;
pub mod stable;
pub mod suggest;
pub mod svg;

pub use github::{annotations, overflow_summary, step_summary};
pub use json::{RunJson, SpecJson, SuspectJson};
pub use junit::render_junit;
pub use svg::render_svg;

use std::fmt::Write as _;

use serde::Serialize;

use crate::analysis::diff::GrowingClass;
use crate::analysis::{Diff, Summary};
use crate::explain::allocations::SiteMethod;
use crate::runner::SpecRun;

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
    /// Retainer paths of the growing classes.
    pub retainers: &'a [crate::explain::SuspectRetainers],
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

/// How many suspects the text report lists.
pub const TEXT_SUSPECTS: usize = 8;

/// "This run would have caught ...": the detection floor of a run, and the noise it was
/// measured against, in one sentence.
pub fn detection_floor_sentence(a: &crate::analysis::Analysis) -> String {
    let f = &a.detection_floor;
    let bytes = |v: f64| {
        if v.is_finite() {
            format!("{v:.1}")
        } else {
            "(not measured)".to_string()
        }
    };
    let noise = |g: &crate::analysis::verdict::Growth| match (&g.limit, &g.windows) {
        (Some(limit), _) => format!("limit {limit} from `assert:`"),
        (None, Some(w)) => format!("noise {}", human_bytes(w.noise_bytes)),
        (None, None) => "no noise measured".to_string(),
    };
    format!(
        "detection floor: this run would have caught leaks of >= 1 object per {:.0} requests \
         and >= {} heap bytes per request ({}) or {} array-buffer bytes per request ({})",
        f.requests_per_object,
        bytes(f.heap_bytes_per_request),
        noise(&a.heap),
        bytes(f.array_buffer_bytes_per_request),
        noise(&a.array_buffers),
    )
}

/// The app's last lines of a run that failed, under a heading, indented below the error's
/// message; empty when there are none.
pub fn render_log_tail(run: &SpecRun) -> String {
    let mut out = String::new();
    if let Some(lines) = run.app_log_tail.as_deref().filter(|l| !l.is_empty()) {
        out.push_str("  last lines of the app's output:\n");
        for line in lines {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

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
            out.push_str(&render_log_tail(run));
            return out;
        }
        Ok(m) => m,
    };
    let a = &m.analysis;
    let _ = writeln!(
        out,
        "  {} measured requests, {} failed, {:.0} requests/s",
        m.session.load.requests,
        m.session.load.failures(),
        m.session.load.requests_per_second()
    );
    let _ = writeln!(
        out,
        "  heap {:+.1} B/request (V8's own classes left out; {:+.1} with them), array buffers {:+.1} B/request",
        a.heap.per_request, a.total_heap_bytes_per_request, a.array_buffers.per_request
    );
    let _ = writeln!(out, "  {}", detection_floor_sentence(a));
    for e in &a.extensions {
        let _ = writeln!(
            out,
            "  extended from {} to {} requests: {}",
            e.from_requests,
            e.to_requests,
            e.reasons.join("; ")
        );
    }
    for reason in &a.borderline {
        let _ = writeln!(out, "  - undecided at the request limit: {reason}");
    }
    for reason in &a.reasons {
        let _ = writeln!(out, "  - {reason}");
    }
    out.push_str(&render_isolates(&m.isolates));
    for c in &a.collections {
        let _ = writeln!(
            out,
            "  collection `{}` ({}) grows by {:.1} B/request, {:.3} elements/request, held by {}",
            c.edge,
            c.class,
            c.bytes_per_request,
            c.elements_per_request,
            c.retainer_path.as_deref().unwrap_or(&c.holder_class)
        );
    }
    if !a.suspects.is_empty() {
        let _ = writeln!(
            out,
            "  {:>10}  {:>10}  {:<22}  class",
            "per 1k req", "B/request", "survivors by interval"
        );
        for (i, s) in a.suspects.iter().enumerate().take(TEXT_SUSPECTS) {
            let intervals: Vec<String> =
                s.survivors_by_interval.iter().map(u64::to_string).collect();
            let allowance = match m.allow.as_ref().and_then(|j| j.suspects[i]) {
                Some(crate::analysis::Allowance::Allowed) => " (allowed)",
                Some(crate::analysis::Allowance::OverBudget) => " (allowed, over budget)",
                None if m.allow.is_some() => " (not allowed)",
                None => "",
            };
            let _ = writeln!(
                out,
                "  {:>10.1}  {:>10.1}  {:<22}  {}{allowance}",
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
    out.push_str(&render_retainers(&m.explanation.retainers));
    for s in m
        .explanation
        .allocation_sites
        .iter()
        .filter(|s| !s.sites.is_empty())
    {
        let _ = match (s.method, s.share_of_bytes) {
            (SiteMethod::Sampling, Some(share)) => writeln!(
                out,
                "  {} is allocated at (sampled: {} samples; these sites ≈ {:.0}% of its bytes):",
                s.class,
                s.samples.unwrap_or(0),
                share * 100.0
            ),
            _ => writeln!(
                out,
                "  {} is allocated at ({} of {} survivors have a recorded stack):",
                s.class, s.traced, s.survivors
            ),
        };
        for site in &s.sites {
            if let Some(package) = &site.package {
                let _ = writeln!(
                    out,
                    "    {:>6} × made by the package `{package}` ({}:{}:{} in {}), not by the app's code",
                    site.count, site.file, site.line, site.column, site.function
                );
                continue;
            }
            let _ = match &site.statement {
                Some(st) => writeln!(
                    out,
                    "    {:>6} × {}:{}:{} `{}` in {} ({}:{}:{})",
                    site.count,
                    site.file,
                    st.line,
                    st.column,
                    st.call,
                    site.function,
                    site.file,
                    site.line,
                    site.column
                ),
                None => writeln!(
                    out,
                    "    {:>6} × {}:{}:{} in {}",
                    site.count, site.file, site.line, site.column, site.function
                ),
            };
            if site.statement.is_none() && !site.candidates.is_empty() {
                let _ = writeln!(out, "             one of:");
                for c in &site.candidates {
                    let _ = writeln!(
                        out,
                        "               {}:{}:{} `{}`",
                        site.file, c.line, c.column, c.call
                    );
                }
            }
        }
    }
    if let Some(leak) = m
        .explanation
        .leak_sites
        .as_ref()
        .filter(|l| !l.sites.is_empty() && m.explanation.allocation_sites.is_empty())
    {
        let _ = writeln!(
            out,
            "  the leak is allocated at (sampled; these sites ≈ {:.0}% of its bytes):",
            leak.share_of_bytes * 100.0
        );
        for site in &leak.sites {
            let _ = writeln!(
                out,
                "    ≈{:>5} × {}:{}:{} in {}",
                site.count, site.file, site.line, site.column, site.function
            );
        }
    }
    if let Some(e) = &m.explanation.error {
        let _ = writeln!(out, "  (could not explain further: {e})");
    }
    if !m.explanation.request_kinds.is_empty() {
        let how = match m.explanation.request_kinds[0].method {
            crate::explain::requests::SAME_PROCESS => format!(
                "served alone in the same process, {} requests each",
                m.explanation.request_kinds[0].requests
            ),
            _ => "a run each".to_string(),
        };
        let _ = writeln!(out, "  each request kind alone ({how}):");
        for k in &m.explanation.request_kinds {
            let detail = match (&k.top_suspect, k.heap_bytes_per_request) {
                (Some((class, rate)), Some(heap)) => {
                    format!("heap {heap:+.1} B/request, `{class}` {rate:.1} per 1000")
                }
                (None, Some(heap)) => format!("heap {heap:+.1} B/request"),
                _ => k.error.clone().unwrap_or_default(),
            };
            let _ = writeln!(out, "    {:<6} {}: {detail}", k.verdict, k.request);
        }
    }
    let t = &m.timings;
    let _ = writeln!(
        out,
        "  time {:.1} s: boot {:.1}, warm-up {:.1}, load {:.1}, snapshots {:.1}, analysis {:.1}, explain {:.1}",
        t.total, t.boot, t.warmup, t.load, t.snapshots, t.analysis, t.explain
    );
    for path in &m.kept_snapshots {
        let _ = writeln!(out, "  snapshot kept: {}", path.display());
    }
    out
}

/// Each thread's verdict and what grows in it, when the app has worker threads (nothing
/// otherwise).
pub fn render_isolates(isolates: &[crate::analysis::isolates::IsolateResult]) -> String {
    let mut out = String::new();
    if isolates.len() < 2 {
        return out;
    }
    let _ = writeln!(out, "  by thread:");
    for i in isolates {
        let Some(verdict) = i.verdict else {
            let note = i.note.as_deref().unwrap_or("not judged");
            let _ = writeln!(out, "    -      {}: {note}", i.label);
            continue;
        };
        let mut detail = format!(
            "heap {:+.1} B/request, array buffers {:+.1} B/request",
            i.heap_bytes_per_request.unwrap_or_default(),
            i.array_buffer_bytes_per_request.unwrap_or_default()
        );
        if let Some(s) = i.suspects.first() {
            let _ = write!(
                detail,
                ", `{}` {:.1} per 1000 ({} classes)",
                s.class,
                s.per_1k_requests,
                i.suspects.len()
            );
        }
        if let Some(c) = i.collections.first() {
            let _ = write!(
                detail,
                ", collection `{}` ({}) {:+.1} B/request",
                c.edge, c.class, c.bytes_per_request
            );
        }
        let _ = writeln!(out, "    {:<6} {}: {detail}", verdict.as_str(), i.label);
        write_worker_suspects(&mut out, i);
    }
    out
}

/// The retainer paths of suspects, as text.
pub fn render_retainers(retainers: &[crate::explain::SuspectRetainers]) -> String {
    let mut out = String::new();
    for r in retainers {
        write_retainers(&mut out, "  ", &r.class, &r.clusters);
    }
    out
}

/// The retainer paths of one class, as text indented by `indent` (nothing without paths).
fn write_retainers(
    out: &mut String,
    indent: &str,
    class: &str,
    clusters: &[crate::analysis::retainers::RetainerCluster],
) {
    if clusters.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}{class} is retained by:");
    for c in clusters {
        let _ = writeln!(
            out,
            "{indent}  {:>6} × {} (retaining {})",
            c.count,
            c.path,
            human_bytes(c.retained_bytes as f64)
        );
        if let Some(kept) = &c.kept_at {
            if let Some(d) = &kept.declared_at {
                let _ = writeln!(
                    out,
                    "{indent}           `{}` is declared at {}:{}:{} `{}`",
                    kept.variable, d.file, d.line, d.column, d.code
                );
            }
            for st in &kept.stored_at {
                let _ = writeln!(
                    out,
                    "{indent}           stored into at {}:{}:{} `{}`",
                    st.file, st.line, st.column, st.code
                );
            }
        }
    }
}

/// A worker's suspects under its line of "by thread:": each with its fingerprint's holder (and
/// allowance), then their retainer paths, then why allocation sites are not given.
fn write_worker_suspects(out: &mut String, i: &crate::analysis::isolates::IsolateResult) {
    const INDENT: &str = "      ";
    if i.kind != crate::analysis::isolates::IsolateKind::Worker || i.suspects.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{INDENT}{:>10}  {:>10}  {:<22}  class, held by",
        "per 1k req", "B/request", "survivors by interval"
    );
    for s in i.suspects.iter().take(TEXT_SUSPECTS) {
        let intervals: Vec<String> = s.survivors_by_interval.iter().map(u64::to_string).collect();
        let holder = match s.fingerprint.as_ref().and_then(|f| f.holder.as_deref()) {
            Some(h) => format!(", held by `{h}`"),
            None => String::new(),
        };
        let allowance = match s.allow {
            Some(crate::analysis::Allowance::Allowed) => " (allowed)",
            Some(crate::analysis::Allowance::OverBudget) => " (allowed, over budget)",
            None if !i.allowed.is_empty() => " (not allowed)",
            None => "",
        };
        let _ = writeln!(
            out,
            "{INDENT}{:>10.1}  {:>10.1}  {:<22}  {}{holder}{allowance}",
            s.per_1k_requests,
            s.bytes_per_request,
            intervals.join(" "),
            s.class
        );
    }
    if i.suspects.len() > TEXT_SUSPECTS {
        let _ = writeln!(
            out,
            "{INDENT}... and {} more",
            i.suspects.len() - TEXT_SUSPECTS
        );
    }
    for s in &i.suspects {
        write_retainers(out, INDENT, &s.class, &s.retainers);
    }
    let _ = writeln!(
        out,
        "{INDENT}({})",
        crate::explain::workers::MAIN_THREAD_ONLY
    );
}

/// The objects that retain the most, as text.
pub fn render_top_retainers(list: &[crate::analysis::retainers::TopRetainer]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nLargest retained sizes:");
    let _ = writeln!(
        out,
        "{:>12}  {:>10}  object and how it is held",
        "retained", "self"
    );
    for r in list {
        let _ = writeln!(
            out,
            "{:>12}  {:>10}  {} @{}: {}",
            human_bytes(r.retained_size as f64),
            human_bytes(r.self_size as f64),
            r.class,
            r.id,
            r.path
        );
    }
    out
}
