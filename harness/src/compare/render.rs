//! The reports of `leakgate compare`: text for a terminal or a CI log, a Markdown table for the
//! GitHub step summary, and `::error` annotations on the spec files of new and grown leaks.
//! (The JSON is [`super::Comparison`] itself.)

use std::fmt::Write as _;
use std::path::Path;

use super::{Change, Comparison, LeakComparison};
use crate::report::github::{error_command, relative_path};

/// "1000.0 → 5000.0 objects per 1000 requests (×5.00, tolerance ×1.50)".
fn figures(l: &LeakComparison) -> String {
    let rate = |v: Option<f64>| v.map_or_else(|| "none".to_string(), |v| format!("{v:.1}"));
    let mut out = format!("{} → {} {}", rate(l.base), rate(l.head), l.unit);
    if let (Some(ratio), Some(tol)) = (l.ratio, l.tolerance) {
        let ratio = if ratio.is_finite() {
            format!("×{ratio:.2}")
        } else {
            "from none".to_string()
        };
        let _ = write!(out, " ({ratio}, tolerance ×{tol:.2})");
    }
    out
}

fn what(l: &LeakComparison) -> String {
    let mut out = if l.leak.starts_with("class ") || l.leak.starts_with('(') {
        l.leak.clone()
    } else {
        format!("held by `{}`", l.leak)
    };
    if !l.classes.is_empty() && !l.leak.starts_with("class ") {
        let _ = write!(out, " ({})", l.classes.join(", "));
    }
    if let Some(script) = &l.thread {
        let _ = write!(out, " in worker {script}");
    }
    if l.allowed {
        out.push_str(", allowed");
    }
    out
}

/// The text report: a line per spec, a line per leak under it, and the totals.
pub fn render_text(c: &Comparison) -> String {
    let mut out = String::new();
    for s in &c.specs {
        let _ = writeln!(out, "{}: {}", s.name, s.status);
        if let Some(e) = &s.error {
            for line in e.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        for l in &s.leaks {
            let _ = writeln!(out, "  {}: {}: {}", l.change.words(), what(l), figures(l));
        }
    }
    let _ = writeln!(
        out,
        "{} specs compared: {} new, {} grown, {} fixed leaks; {} not comparable",
        c.specs.len(),
        c.new,
        c.grown,
        c.fixed,
        c.errors
    );
    out
}

/// The Markdown for `$GITHUB_STEP_SUMMARY`.
pub fn render_step_summary(c: &Comparison) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = String::from("### leakgate compare (base → head)\n\n");
    let _ = writeln!(
        out,
        "{} new, {} grown, {} fixed leaks; {} specs not comparable\n",
        c.new, c.grown, c.fixed, c.errors
    );
    out.push_str("| spec | status | leak | change | base → head |\n|---|---|---|---|---|\n");
    for s in &c.specs {
        if s.leaks.is_empty() {
            let detail = s.error.as_deref().unwrap_or("no leak");
            let _ = writeln!(
                out,
                "| {} | {} | {} | | |",
                cell(&s.name),
                s.status,
                cell(detail)
            );
        }
        for l in &s.leaks {
            let mark = if l.change.fails() { "❌ " } else { "" };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {mark}{} | {} |",
                cell(&s.name),
                s.status,
                cell(&what(l)),
                l.change.words(),
                cell(&figures(l))
            );
        }
    }
    out
}

/// `::error` lines for the new and grown leaks, on HEAD's spec file (relative to `cwd`, where
/// the workflow runs).
pub fn render_annotations(c: &Comparison, cwd: &Path) -> String {
    let mut out = String::new();
    for s in &c.specs {
        let file = relative_path(Path::new(&s.file), cwd);
        for l in s.leaks.iter().filter(|l| l.change.fails()) {
            let title = match l.change {
                Change::New => format!("new leak in {}", s.name),
                _ => format!("leak grown in {}", s.name),
            };
            let message = format!("{}: {}: {}", l.change.words(), what(l), figures(l));
            let _ = writeln!(
                out,
                "{}",
                error_command(&file.display().to_string(), 1, &title, &message)
            );
        }
    }
    out
}
