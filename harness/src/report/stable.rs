//! The stable report: a form of one run that is the same run after run, on any machine, for the
//! same code, so that it can be kept under version control and reviewed like code (see
//! [`crate::testing`], which snapshot-tests it).
//!
//! Everything a run measures varies a little: ports, pids, paths, timings, heap object ids and
//! raw sizes. The stable form keeps only what the code under test decides, in words:
//!
//! - the spec's name and file name, its `expect` and the verdict;
//! - each suspect class, sorted by name, with its rate as "N per request" or "1 per M requests"
//!   (M on the 1-2-5 series: 1, 2, 5, 10, 20, 50, ..., whose boundaries sit far from the round
//!   rates leaks have); the string representations V8 picks on its own (flat, concatenated,
//!   sliced: a string is flattened when the engine decides) are counted as one class,
//!   `strings (all representations)`;
//! - the growth of the JS heap and of array buffers per request: "above limit" or "below
//!   limit", as the verdict judged it;
//! - on an error, whose it is and what failed, `error: app (too many failed requests)`, not its
//!   message (which names ports, paths and pids).
//!
//! A class near the detection threshold is a suspect in some runs and not in others, so only
//! classes at [`ROBUST_FACTOR`] times the threshold or more are listed.
//!
//! Sizes are left out: bytes per request of a class land on powers of two (whole words per
//! request) and those of the heap anywhere, so any bucket edge splits runs that differ by one
//! object. Growth is shown against its limit only, which the verdict already decided.

use std::fmt::Write as _;

use crate::analysis::retainers::Holder;
use crate::analysis::verdict::{Growth, Suspect};
use crate::analysis::Verdict;
use crate::app::AppError;
use crate::load::LoadError;
use crate::runner::{RunError, SpecRun};
use crate::spec::Spec;

/// How far above `max_survivors_per_1k_requests` a suspect's rate must be to be listed.
pub const ROBUST_FACTOR: f64 = 2.0;

/// The "nice" request counts of "1 per M requests".
pub const NICE_PERIODS: [u64; 10] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/// V8's string representations, reported as one class.
pub const STRING_CLASSES: [&str; 3] = ["(string)", "(concatenated string)", "(sliced string)"];

/// The name the stable report gives all string representations together.
pub const STRINGS: &str = "strings (all representations)";

/// The stable class name of a class.
fn stable_class(class: &str) -> &str {
    if STRING_CLASSES.contains(&class) {
        STRINGS
    } else {
        class
    }
}

/// The stable report of `run` of `spec`, with no retainer lines.
pub fn render_stable(spec: &Spec, run: &SpecRun) -> String {
    let lines = match &run.outcome {
        Ok(m) => retainer_lines(spec, m),
        Err(_) => Vec::new(),
    };
    render_stable_with_retainers(spec, run, &lines)
}

/// Stable retainer summaries: for each robust suspect, the variables that hold it (the holders
/// of at least 40% as many of its objects as the main holder, over all paths), and which
/// request kinds leak. Counts and sizes are left out; paths without a variable a developer
/// wrote (V8's own roots) are left out too.
pub fn retainer_lines(_spec: &Spec, m: &crate::runner::Measured) -> Vec<String> {
    let mut lines = Vec::new();
    let suspects = robust_suspects(
        &m.analysis.suspects,
        m.analysis.detection_floor.objects_per_1k_requests,
    );
    for (class, _) in suspects {
        let retainers = m
            .explanation
            .retainers
            .iter()
            .map(|r| (r.class.as_str(), r.holders.as_slice()));
        lines.extend(held_by(class, retainers));
    }
    if let Some(kinds) = &m.explanation.leaking_requests {
        let list = if kinds.is_empty() {
            "none alone".to_string()
        } else {
            kinds.join(", ")
        };
        lines.push(format!("leaking requests: {list}"));
    }
    lines
}

/// `CLASS: held by HOLDER, ...`: the variables holding at least 40% as many of the objects of
/// the stable class `class` as its main holder, from each explained class's holders (summed
/// over the classes shown as this one); `None` when no variable a developer wrote holds them.
fn held_by<'a>(
    class: &str,
    retainers: impl Iterator<Item = (&'a str, &'a [(Holder, u64)])>,
) -> Option<String> {
    let mut holders: Vec<(&Holder, u64)> = Vec::new();
    for (_, list) in retainers.filter(|(c, _)| stable_class(c) == class) {
        for (holder, n) in list {
            match holders.iter_mut().find(|(h, _)| *h == holder) {
                Some((_, total)) => *total += n,
                None => holders.push((holder, *n)),
            }
        }
    }
    let top = holders.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let mut anchors: Vec<String> = holders
        .iter()
        .filter(|(_, n)| top > 0 && n * 10 >= top * 4)
        .filter(|(h, _)| h.variable().is_some())
        .map(|(h, _)| h.to_string())
        .collect();
    anchors.sort_unstable();
    anchors.dedup();
    (!anchors.is_empty()).then(|| format!("{class}: held by {}", anchors.join(", ")))
}

/// The stable report with retainer summaries: `retainers` are lines that are themselves stable
/// (class names and edge names, no ids, no addresses), listed under `retainers:` after the
/// suspects. No section is written when there are none.
pub fn render_stable_with_retainers(spec: &Spec, run: &SpecRun, retainers: &[String]) -> String {
    let mut out = String::new();
    let file = spec
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _ = writeln!(out, "spec: {}", spec.name);
    let _ = writeln!(out, "file: {file}");
    let _ = writeln!(out, "expect: {}", spec.expect.as_str());
    let m = match &run.outcome {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(out, "error: {} ({})", e.kind(), error_cause(e));
            return out;
        }
    };
    let a = &m.analysis;
    let _ = writeln!(out, "verdict: {}", a.verdict.as_str());
    let _ = writeln!(out, "js heap growth: {}", growth_words(&a.heap));
    let _ = writeln!(
        out,
        "array buffer growth: {}",
        growth_words(&a.array_buffers)
    );
    let _ = writeln!(out, "detection floor: {}", floor_words(a));
    let (open, allowed) = allowed_apart(m);
    let suspects = robust_suspects(&open, a.detection_floor.objects_per_1k_requests);
    if suspects.is_empty() {
        let _ = writeln!(out, "suspects: none");
    } else {
        let _ = writeln!(out, "suspects:");
        for (class, per_1k) in suspects {
            let _ = writeln!(out, "  {class}: {}", rate_words(per_1k / 1000.0));
        }
    }
    if let Some(allow) = &m.allow {
        let _ = writeln!(out, "allowed:");
        if allow.leaks.is_empty() {
            let _ = writeln!(out, "  none matched");
        }
        let floor = a.detection_floor.objects_per_1k_requests;
        allowed_lines(&mut out, &allow.leaks, &allowed, floor, "  ");
    }
    if !a.collections.is_empty() {
        let mut names: Vec<String> = a
            .collections
            .iter()
            .map(|c| format!("`{}` ({})", c.edge, c.class))
            .collect();
        names.sort();
        names.dedup();
        let _ = writeln!(out, "growing collections:");
        for name in names {
            let _ = writeln!(out, "  {name}");
        }
    }
    if !retainers.is_empty() {
        let _ = writeln!(out, "retainers:");
        for line in retainers {
            let _ = writeln!(out, "  {line}");
        }
    }
    isolate_lines(&mut out, &m.isolates);
    out
}

/// Under `isolates:`, each thread's verdict and robust suspects; nothing when the app has no
/// worker threads, so that the reports of single-threaded apps keep their form.
///
/// A worker a dependency starts for itself (esbuild's service thread under tsx, whose script
/// is in `node_modules`) comes and goes with the dependency's own scheduling, so it is listed
/// only when it leaks: otherwise the report would change from run to run with nothing changed.
fn isolate_lines(out: &mut String, isolates: &[crate::analysis::isolates::IsolateResult]) {
    use crate::analysis::isolates::IsolateKind;
    let listed: Vec<_> = isolates
        .iter()
        .filter(|i| {
            i.kind == IsolateKind::Main
                || !i.label.contains("node_modules/")
                || i.verdict == Some(Verdict::Leak)
        })
        .collect();
    if listed.len() < 2 {
        return;
    }
    let _ = writeln!(out, "isolates:");
    for i in listed {
        let verdict = i.verdict.map_or("not judged", |v| v.as_str());
        let _ = writeln!(out, "  {}: {verdict}", i.label);
        if i.kind == crate::analysis::isolates::IsolateKind::Main {
            continue;
        }
        let floor = i
            .detection_floor
            .map_or(f64::INFINITY, |f| f.objects_per_1k_requests);
        let (open, allowed): (Vec<_>, Vec<_>) = i
            .suspects
            .iter()
            .partition(|s| s.allow != Some(crate::analysis::Allowance::Allowed));
        let open: Vec<Suspect> = open.into_iter().map(|s| s.suspect.clone()).collect();
        let robust = robust_suspects(&open, floor);
        for (class, per_1k) in &robust {
            let _ = writeln!(out, "    {class}: {}", rate_words(per_1k / 1000.0));
        }
        let mut names: Vec<String> = i
            .collections
            .iter()
            .map(|c| format!("growing `{}` ({})", c.edge, c.class))
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let _ = writeln!(out, "    {name}");
        }
        let held: Vec<String> = robust
            .iter()
            .filter_map(|(class, _)| {
                held_by(
                    class,
                    i.holders.iter().map(|(c, h)| (c.as_str(), h.as_slice())),
                )
            })
            .collect();
        if !held.is_empty() {
            let _ = writeln!(out, "    retainers:");
            for line in held {
                let _ = writeln!(out, "      {line}");
            }
        }
        if !i.allowed.is_empty() {
            let _ = writeln!(out, "    allowed:");
            let allowed: Vec<Suspect> = allowed.into_iter().map(|s| s.suspect.clone()).collect();
            allowed_lines(out, &i.allowed, &allowed, floor, "      ");
        }
    }
}

/// The lines of the allowed leaks `leaks`, each with its robust suspects among `allowed`,
/// indented by `indent`.
fn allowed_lines(
    out: &mut String,
    leaks: &[crate::analysis::allow::AllowedLeak],
    allowed: &[Suspect],
    floor: f64,
    indent: &str,
) {
    for leak in leaks {
        let budget = if leak.within_budget {
            "within budget"
        } else {
            "over budget"
        };
        let class = leak
            .class
            .as_deref()
            .map(|c| format!(" {}", stable_class(c)))
            .unwrap_or_default();
        let _ = writeln!(out, "{indent}{}{class}: {budget}", leak.holder);
        let mine: Vec<Suspect> = allowed
            .iter()
            .filter(|s| leak.classes.contains(&s.class))
            .cloned()
            .collect();
        for (class, per_1k) in robust_suspects(&mine, floor) {
            let _ = writeln!(out, "{indent}  {class}: {}", rate_words(per_1k / 1000.0));
        }
    }
}

/// The suspects of a run split into those `assert.allow` does not forgive (no entry, or over
/// budget) and those it allows.
fn allowed_apart(m: &crate::runner::Measured) -> (Vec<Suspect>, Vec<Suspect>) {
    let Some(allow) = &m.allow else {
        return (m.analysis.suspects.clone(), Vec::new());
    };
    let (mut open, mut allowed) = (Vec::new(), Vec::new());
    for (i, s) in m.analysis.suspects.iter().enumerate() {
        match allow.suspects.get(i).copied().flatten() {
            Some(crate::analysis::Allowance::Allowed) => allowed.push(s.clone()),
            _ => open.push(s.clone()),
        }
    }
    (open, allowed)
}

/// The suspects well above the threshold `min_per_1k` as (stable class, survivors per 1000
/// requests), string representations summed, sorted by class name.
pub fn robust_suspects(suspects: &[Suspect], min_per_1k: f64) -> Vec<(&str, f64)> {
    let mut merged: Vec<(&str, f64)> = Vec::new();
    for s in suspects {
        let class = stable_class(&s.class);
        match merged.iter_mut().find(|(c, _)| *c == class) {
            Some((_, rate)) => *rate += s.per_1k_requests,
            None => merged.push((class, s.per_1k_requests)),
        }
    }
    merged.retain(|(_, rate)| *rate >= ROBUST_FACTOR * min_per_1k);
    merged.sort_by(|a, b| a.0.cmp(b.0));
    merged
}

/// A rate in objects per request as words: "3 per request" from 0.75 up, "1 per 50 requests"
/// below (the period rounded to the nearest of [`NICE_PERIODS`] in log scale).
pub fn rate_words(per_request: f64) -> String {
    if per_request >= 0.75 {
        let n = per_request.round().max(1.0) as u64;
        return format!("{n} per request");
    }
    if per_request <= 0.0 || !per_request.is_finite() {
        return "none".to_string();
    }
    let period = (1.0 / per_request).ln();
    let nice = NICE_PERIODS
        .iter()
        .copied()
        .min_by(|&a, &b| {
            ((a as f64).ln() - period)
                .abs()
                .total_cmp(&((b as f64).ln() - period).abs())
        })
        .unwrap_or(1);
    if nice == 1 {
        "1 per request".to_string()
    } else {
        format!("1 per {nice} requests")
    }
}

/// The detection floor as words: the class rate on the 1-2-5 periods, and for a clean verdict
/// the bytes per request on the 1-2-5 series rounded up (a leak's own unevenness raises the
/// byte noise of a leaking run, so its byte floor is left out).
pub fn floor_words(a: &crate::analysis::Analysis) -> String {
    let f = &a.detection_floor;
    let mut words = format!("objects {}", rate_words(f.objects_per_1k_requests / 1000.0));
    if a.verdict == crate::analysis::Verdict::Clean {
        for (what, bytes) in [
            ("js heap", f.heap_bytes_per_request),
            ("array buffers", f.array_buffer_bytes_per_request),
        ] {
            let _ = write!(words, ", {what} {}", bytes_ceiling_words(bytes));
        }
    }
    words
}

/// Bytes per request as the next value of the 1-2-5 series: `10 B per request`.
pub fn bytes_ceiling_words(bytes: f64) -> String {
    if !bytes.is_finite() {
        return "not measured".to_string();
    }
    let mut nice = 1.0;
    for _ in 0..30 {
        for m in [1.0, 2.0, 5.0] {
            if bytes <= nice * m {
                return format!("{} B per request", nice * m);
            }
        }
        nice *= 10.0;
    }
    format!("{bytes:.0} B per request")
}

/// A growth as words: "above limit" when the verdict found it over its limit (see
/// [`crate::analysis::verdict`]), "below limit" otherwise.
pub fn growth_words(growth: &Growth) -> &'static str {
    if growth.exceeds {
        "above limit"
    } else {
        "below limit"
    }
}

/// What failed, in words that name no port, path or pid: the stable report's `error:` line
/// gives it after the error's kind, `error: app (exited)`.
pub fn error_cause(error: &RunError) -> &'static str {
    match error {
        RunError::Runtime(_) => "runtime",
        RunError::ReaderThread(_) | RunError::ReaderStopped(_) => "thread",
        RunError::Folder { .. } => "folder",
        RunError::App(e) => app_cause(e),
        RunError::Inspector { .. } => "inspector",
        RunError::Load { error, .. } => match error {
            LoadError::Script { .. } => "load script",
            _ => "load",
        },
        RunError::TooManyFailures { .. } => "too many failed requests",
        RunError::Snapshot { .. } => "snapshot",
    }
}

fn app_cause(error: &AppError) -> &'static str {
    match error {
        AppError::NodeNotFound => "node not found",
        AppError::NpmNotFound => "npm not found",
        AppError::NpmFailed { .. } => "npm ci failed",
        AppError::NpmLockTimeout { .. } => "npm lock held",
        AppError::Spawn { .. } => "cannot start",
        AppError::NoInspectorUrl { .. } => "no inspector",
        AppError::Exited { .. } => "exited",
        AppError::NeverReady { .. } => "never ready",
        AppError::PortTaken { .. } => "port taken",
        AppError::Unmeasurable { .. } => "unmeasurable",
        AppError::Io { .. } => "io",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_says_whose_it_is_and_what_failed_without_its_message() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/hello.yaml");
        let spec = crate::spec::load_spec(&file).unwrap();
        let run = |error: RunError| SpecRun {
            name: spec.name.clone(),
            file: spec.file.clone(),
            expect: spec.expect,
            outcome: Err(error),
            app_log_tail: Some(vec!["listening on 127.0.0.1:40123".into()]),
        };
        let exited = run(RunError::App(AppError::Exited {
            code: Some(3),
            signal: None,
            before_ready: true,
            log_tail: "listening on 127.0.0.1:40123".into(),
        }));
        assert_eq!(
            render_stable(&spec, &exited),
            "spec: hello\nfile: hello.yaml\nexpect: clean\nerror: app (exited)\n"
        );
        let failures = run(RunError::TooManyFailures {
            phase: "warm-up".into(),
            failed: 10,
            requests: 10,
            limit: 1.0,
            detail: "connection refused on port 40123".into(),
        });
        let text = render_stable(&spec, &failures);
        assert!(
            text.ends_with("error: app (too many failed requests)\n"),
            "{text}"
        );
        let port = run(RunError::App(AppError::PortTaken {
            port: 40123,
            pid: Some(77),
            command: None,
            fixed: true,
            log_tail: String::new(),
        }));
        let text = render_stable(&spec, &port);
        assert!(
            text.ends_with("error: environment (port taken)\n"),
            "{text}"
        );
    }

    #[test]
    fn rates_in_words() {
        assert_eq!(rate_words(1.0), "1 per request");
        assert_eq!(rate_words(0.8), "1 per request");
        assert_eq!(rate_words(3.2), "3 per request");
        assert_eq!(rate_words(0.02), "1 per 50 requests");
        assert_eq!(rate_words(0.021), "1 per 50 requests");
        assert_eq!(rate_words(0.5), "1 per 2 requests");
        assert_eq!(rate_words(0.041), "1 per 20 requests");
        assert_eq!(rate_words(0.22), "1 per 5 requests");
        assert_eq!(rate_words(0.001), "1 per 1000 requests");
        assert_eq!(rate_words(0.00001), "1 per 1000 requests");
        assert_eq!(rate_words(0.0), "none");
    }

    #[test]
    fn string_representations_count_as_one_class() {
        let suspect = |class: &str, per_1k: f64| Suspect {
            class: class.to_string(),
            per_1k_requests: per_1k,
            bytes_per_request: 0.0,
            survivors_by_interval: vec![],
            count_growth_by_interval: vec![],
        };
        let list = [
            suspect("Object", 1000.0),
            suspect("(string)", 2000.0),
            suspect("(concatenated string)", 21.0),
            suspect("Date", 6.0),
        ];
        let robust = robust_suspects(&list, 5.0);
        assert_eq!(robust, vec![("Object", 1000.0), (STRINGS, 2021.0)]);
        assert_eq!(rate_words(2.021), "2 per request");
    }

    #[test]
    fn byte_floors_round_up_on_the_1_2_5_series() {
        assert_eq!(bytes_ceiling_words(8.2), "10 B per request");
        assert_eq!(bytes_ceiling_words(10.0), "10 B per request");
        assert_eq!(bytes_ceiling_words(0.4), "1 B per request");
        assert_eq!(bytes_ceiling_words(130.0), "200 B per request");
        assert_eq!(bytes_ceiling_words(f64::INFINITY), "not measured");
    }

    #[test]
    fn growth_is_judged_against_its_limit() {
        let g = |exceeds| Growth {
            per_request: 100.0,
            by_interval: vec![],
            exceeds,
            ..Growth::default()
        };
        assert_eq!(growth_words(&g(false)), "below limit");
        assert_eq!(growth_words(&g(true)), "above limit");
    }

    #[test]
    fn only_robust_suspects_sorted_by_class() {
        let s = |class: &str, per_1k| Suspect {
            class: class.into(),
            per_1k_requests: per_1k,
            bytes_per_request: 1.0,
            survivors_by_interval: vec![],
            count_growth_by_interval: vec![],
        };
        let all = [s("b", 100.0), s("a", 20.0), s("c", 6.0)];
        let names: Vec<&str> = robust_suspects(&all, 5.0)
            .iter()
            .map(|(class, _)| *class)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
