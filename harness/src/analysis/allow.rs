//! Known leaks allowed by fingerprint (`assert.allow`), the final step of judging a run.
//!
//! A service may carry a known, accepted leak (a cache that is bounded next quarter). Setting
//! `expect: leak` for it would let any second leak pass, and `ignore_classes` hides every other
//! leak of the same class. An allow entry instead names the leak by its fingerprint (see
//! [`super::fingerprint`]): the holder, optionally the class and the allocation site, with
//! optional budgets. Then:
//!
//! - a suspect matched by an entry, with the entry's budget kept, is *allowed*: it does not make
//!   the verdict a leak, and reports list it apart;
//! - the same suspects over the entry's budget (objects per 1000 requests, or bytes per request,
//!   summed over the classes the entry matches) make the verdict a leak;
//! - any suspect no entry matches makes the verdict a leak, as without `allow`.
//!
//! An allowed leak also grows the heap. The heap limit is raised by what the allowed leaks may
//! add: an entry's `max_bytes_per_request`, or else twice the bytes per request its suspects
//! retain (the survivors' own sizes, plus as much again for the arrays, Map tables and strings
//! that hold them). Array-buffer growth is forgiven only up to explicit `max_bytes_per_request`
//! budgets. Growth beyond that is a leak of its own.

use serde::Serialize;

use super::fingerprint::{same_class, Fingerprint};
use super::verdict::{Analysis, Verdict};
use crate::spec::Thresholds;

/// How much of an allowed leak's heap growth its survivors' own sizes account for, when its
/// entry sets no byte budget.
pub const HEAP_ALLOWANCE_FACTOR: f64 = 2.0;

/// One `assert.allow` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllowEntry {
    /// The variable, module binding or global property that holds the leak.
    pub holder: String,
    /// Only this class (string representations count as one); `None`: every class it holds.
    pub class: Option<String>,
    /// Only objects allocated here: `file` or `file:line` (of the allocating function).
    pub site: Option<String>,
    /// Budget: leaking objects per 1000 requests, summed over the classes matched.
    pub max_per_1k_requests: Option<f64>,
    /// Budget: bytes per request, summed over the classes matched.
    pub max_bytes_per_request: Option<f64>,
    /// Only this thread: `main`, or a worker's script (relative to the app's folder, `./`
    /// optional, or any tail of it); `None`: every thread, each judged with its own budget.
    pub thread: Option<String>,
    /// The entry's line in the spec file.
    pub line: u32,
}

/// The `thread:` of an allow entry that names the main thread.
pub const MAIN_THREAD: &str = "main";

impl AllowEntry {
    /// Whether this entry applies to the thread running `script` (`None`: the main thread).
    pub fn applies_to(&self, script: Option<&str>) -> bool {
        match (self.thread.as_deref(), script) {
            (None, _) => true,
            (Some(t), None) => t == MAIN_THREAD,
            (Some(MAIN_THREAD), Some(_)) => false,
            (Some(t), Some(s)) => {
                let (t, s) = (strip_dot(t), strip_dot(s));
                s == t || s.ends_with(&format!("/{t}"))
            }
        }
    }

    /// Whether this entry names the suspect with fingerprint `fp`.
    pub fn matches(&self, fp: &Fingerprint) -> bool {
        fp.holder.as_deref() == Some(self.holder.as_str())
            && self
                .class
                .as_deref()
                .is_none_or(|c| same_class(c, &fp.class))
            && self
                .site
                .as_deref()
                .is_none_or(|site| fp.site.as_deref().is_some_and(|s| same_site(site, s)))
    }

    /// The entry as a YAML item, as written under `assert.allow`.
    pub fn yaml(&self) -> String {
        let mut out = format!("- holder: {}\n", yaml_scalar(&self.holder));
        if let Some(class) = &self.class {
            out.push_str(&format!("  class: {}\n", yaml_scalar(class)));
        }
        if let Some(site) = &self.site {
            out.push_str(&format!("  site: {}\n", yaml_scalar(site)));
        }
        if let Some(max) = self.max_per_1k_requests {
            out.push_str(&format!("  max_per_1k_requests: {max}\n"));
        }
        if let Some(max) = self.max_bytes_per_request {
            out.push_str(&format!("  max_bytes_per_request: {max}\n"));
        }
        if let Some(thread) = &self.thread {
            out.push_str(&format!("  thread: {}\n", yaml_scalar(thread)));
        }
        out
    }
}

fn strip_dot(path: &str) -> &str {
    path.strip_prefix("./").unwrap_or(path)
}

/// Whether an entry's `site` (`file` or `file:line`, the file relative to the app's folder or
/// any tail of it) names the allocation site `found` (`file:line`).
fn same_site(site: &str, found: &str) -> bool {
    let file = found.rsplit_once(':').map_or(found, |(f, _)| f);
    [found, file]
        .iter()
        .any(|s| *s == site || s.ends_with(&format!("/{site}")))
}

/// A YAML scalar, quoted when plain would not read back as the same string.
fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_$.-/".contains(c))
        && !s.starts_with(['-', '.'])
        && !matches!(
            s,
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

/// What an allow entry matched in one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllowedLeak {
    /// The entry's holder.
    pub holder: String,
    /// The entry's class, when it names one.
    pub class: Option<String>,
    /// The suspect classes it matched.
    pub classes: Vec<String>,
    /// Their leaking objects per 1000 requests, summed.
    pub per_1k_requests: f64,
    /// Their bytes per request, summed.
    pub bytes_per_request: f64,
    /// The entry's budgets.
    pub max_per_1k_requests: Option<f64>,
    /// The entry's budgets.
    pub max_bytes_per_request: Option<f64>,
    /// Whether both budgets are kept.
    pub within_budget: bool,
    /// The entry's line in the spec file.
    pub line: u32,
}

/// How `assert.allow` judged one suspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Allowance {
    /// Matched by an entry whose budget is kept.
    Allowed,
    /// Matched by an entry whose budget is exceeded.
    OverBudget,
}

/// The run judged again with its allow entries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllowJudgement {
    /// For each suspect (in the analysis's order), what the entries made of it; `None`: no
    /// entry matched it.
    pub suspects: Vec<Option<Allowance>>,
    /// Each entry that matched something, in spec order.
    pub leaks: Vec<AllowedLeak>,
    /// The verdict with the allowed leaks forgiven.
    pub verdict: Verdict,
    /// Why, in sentences.
    pub reasons: Vec<String>,
    /// Whether the heap grows beyond its limit plus the allowed leaks' allowance.
    pub heap_exceeds: bool,
    /// Whether array buffers grow beyond their limit plus the allowed byte budgets.
    pub array_buffers_exceeds: bool,
}

impl AllowJudgement {
    /// Writes the verdict, reasons and growth decisions into `analysis`.
    pub fn apply_to(&self, analysis: &mut Analysis) {
        analysis.verdict = self.verdict;
        analysis.reasons = self.reasons.clone();
        analysis.heap.exceeds = self.heap_exceeds;
        analysis.array_buffers.exceeds = self.array_buffers_exceeds;
    }
}

/// Judges the main thread's `analysis` again with `thresholds.allow`. `fingerprints[i]`
/// belongs to suspect `i`. `None` when the spec allows nothing there (the analysis stands as
/// it is).
pub fn judge_allowed(
    analysis: &Analysis,
    fingerprints: &[Fingerprint],
    thresholds: &Thresholds,
) -> Option<AllowJudgement> {
    judge_allowed_in(analysis, fingerprints, thresholds, None)
}

/// As [`judge_allowed`], for the thread running `script` (`None`: the main thread): only the
/// entries that apply to it count (see [`AllowEntry::applies_to`]).
pub fn judge_allowed_in(
    analysis: &Analysis,
    fingerprints: &[Fingerprint],
    thresholds: &Thresholds,
    script: Option<&str>,
) -> Option<AllowJudgement> {
    let entries: Vec<&AllowEntry> = thresholds
        .allow
        .iter()
        .filter(|e| e.applies_to(script))
        .collect();
    if entries.is_empty() {
        return None;
    }
    // Each suspect goes to the first entry naming its class, else the first naming its holder
    // only.
    let owner: Vec<Option<usize>> = fingerprints
        .iter()
        .map(|fp| {
            let specific = entries
                .iter()
                .position(|e| e.class.is_some() && e.matches(fp));
            specific.or_else(|| entries.iter().position(|e| e.matches(fp)))
        })
        .collect();
    let mut leaks = Vec::new();
    let mut entry_leak: Vec<Option<usize>> = vec![None; entries.len()];
    for (i, entry) in entries.iter().enumerate() {
        let matched: Vec<usize> = (0..owner.len()).filter(|&s| owner[s] == Some(i)).collect();
        if matched.is_empty() {
            continue;
        }
        let per_1k: f64 = matched
            .iter()
            .map(|&s| analysis.suspects[s].per_1k_requests)
            .sum();
        let bytes: f64 = matched
            .iter()
            .map(|&s| analysis.suspects[s].bytes_per_request)
            .sum();
        let within_budget = entry.max_per_1k_requests.is_none_or(|max| per_1k <= max)
            && entry.max_bytes_per_request.is_none_or(|max| bytes <= max);
        entry_leak[i] = Some(leaks.len());
        leaks.push(AllowedLeak {
            holder: entry.holder.clone(),
            class: entry.class.clone(),
            classes: matched
                .iter()
                .map(|&s| analysis.suspects[s].class.clone())
                .collect(),
            per_1k_requests: per_1k,
            bytes_per_request: bytes,
            max_per_1k_requests: entry.max_per_1k_requests,
            max_bytes_per_request: entry.max_bytes_per_request,
            within_budget,
            line: entry.line,
        });
    }
    let suspects: Vec<Option<Allowance>> = owner
        .iter()
        .map(|o| {
            o.and_then(|i| entry_leak[i]).map(|l| {
                if leaks[l].within_budget {
                    Allowance::Allowed
                } else {
                    Allowance::OverBudget
                }
            })
        })
        .collect();

    let mut reasons = Vec::new();
    let new: Vec<usize> = (0..suspects.len())
        .filter(|&s| suspects[s].is_none())
        .collect();
    if let Some(&worst) = new.first() {
        let s = &analysis.suspects[worst];
        let held = fingerprints[worst]
            .holder
            .as_deref()
            .map(|h| format!(" held by `{h}`"))
            .unwrap_or_default();
        reasons.push(format!(
            "{} class(es) not allowed by `assert.allow` retain objects in every interval, worst \
             `{}`{held} at {:.1} per 1000 requests",
            new.len(),
            s.class,
            s.per_1k_requests
        ));
    }
    // Collections that grow without new objects are no suspect class: no entry allows them.
    reasons.extend(super::collections::reason(&analysis.collections));
    for leak in leaks.iter().filter(|l| !l.within_budget) {
        reasons.push(format!(
            "the allowed leak held by `{}` is over its budget: {}",
            leak.holder,
            budget_words(leak)
        ));
    }
    let all_within = leaks.iter().all(|l| l.within_budget);
    let heap_allowance: f64 = if all_within {
        leaks
            .iter()
            .map(|l| {
                l.max_bytes_per_request
                    .unwrap_or(HEAP_ALLOWANCE_FACTOR * l.bytes_per_request)
            })
            .sum()
    } else {
        0.0
    };
    let ab_allowance: f64 = if all_within {
        leaks.iter().filter_map(|l| l.max_bytes_per_request).sum()
    } else {
        0.0
    };
    let beyond = |g: &super::verdict::Growth, limit: f64, allowance: f64| {
        let last = g.by_interval.last().copied().unwrap_or(0.0);
        g.exceeds && g.per_request - allowance > limit && last - allowance > limit
    };
    // Without a spec limit, the limit is the run's own floor (see `super::noise`).
    let heap_limit = thresholds
        .max_heap_bytes_per_request
        .unwrap_or_else(|| analysis.heap.floor_per_request());
    let ab_limit = thresholds
        .max_array_buffer_bytes_per_request
        .unwrap_or_else(|| analysis.array_buffers.floor_per_request());
    let heap_exceeds = beyond(&analysis.heap, heap_limit, heap_allowance);
    let array_buffers_exceeds = beyond(&analysis.array_buffers, ab_limit, ab_allowance);
    if heap_exceeds {
        reasons.push(format!(
            "the JS heap grows by {:.1} bytes per request (limit {} plus {:.1} for the allowed \
             leaks)",
            analysis.heap.per_request, heap_limit, heap_allowance
        ));
    }
    if array_buffers_exceeds {
        reasons.push(format!(
            "array buffers grow by {:.1} bytes per request (limit {} plus {:.1} for the allowed \
             leaks)",
            analysis.array_buffers.per_request, ab_limit, ab_allowance
        ));
    }
    let verdict = if reasons.is_empty() {
        Verdict::Clean
    } else {
        Verdict::Leak
    };
    let allowed: Vec<String> = leaks
        .iter()
        .filter(|l| l.within_budget)
        .map(|l| format!("`{}` ({})", l.holder, budget_words(l)))
        .collect();
    if !allowed.is_empty() {
        reasons.push(format!(
            "allowed by `assert.allow`, within budget: {}",
            allowed.join(", ")
        ));
    }
    Some(AllowJudgement {
        suspects,
        leaks,
        verdict,
        reasons,
        heap_exceeds,
        array_buffers_exceeds,
    })
}

/// "1000.0 per 1000 requests (max 1200), 56.0 B per request".
fn budget_words(l: &AllowedLeak) -> String {
    let max = |m: Option<f64>| m.map(|m| format!(" (max {m})")).unwrap_or_default();
    format!(
        "{:.1} per 1000 requests{}, {:.1} B per request{}",
        l.per_1k_requests,
        max(l.max_per_1k_requests),
        l.bytes_per_request,
        max(l.max_bytes_per_request)
    )
}

/// The entry to paste under `assert.allow` for each leak of a run: one per holder (every class
/// it holds, so that a class near the detection threshold coming and going does not fail the
/// spec), with budgets of twice what was measured, rounded up to two significant digits.
/// Suspects no variable holds cannot be allowed by fingerprint; they are left out.
pub fn suggest_allow(analysis: &Analysis, fingerprints: &[Fingerprint]) -> Vec<AllowEntry> {
    suggest_for(analysis.suspects.iter().zip(fingerprints), None)
}

/// As [`suggest_allow`], for the suspects of one thread with their fingerprints; a worker's
/// entries name its script under `thread`.
pub fn suggest_for<'a>(
    suspects: impl Iterator<Item = (&'a super::Suspect, &'a Fingerprint)>,
    thread: Option<&str>,
) -> Vec<AllowEntry> {
    let mut out: Vec<AllowEntry> = Vec::new();
    for (s, fp) in suspects {
        let Some(holder) = &fp.holder else { continue };
        match out.iter_mut().find(|e| &e.holder == holder) {
            Some(e) => {
                *e.max_per_1k_requests.get_or_insert(0.0) += s.per_1k_requests;
                *e.max_bytes_per_request.get_or_insert(0.0) += s.bytes_per_request;
            }
            None => out.push(AllowEntry {
                holder: holder.clone(),
                class: None,
                site: None,
                max_per_1k_requests: Some(s.per_1k_requests),
                max_bytes_per_request: Some(s.bytes_per_request),
                thread: thread.map(str::to_string),
                line: 0,
            }),
        }
    }
    for e in &mut out {
        e.max_per_1k_requests = e.max_per_1k_requests.map(|v| round_up(2.0 * v));
        e.max_bytes_per_request = e.max_bytes_per_request.map(|v| round_up(2.0 * v));
    }
    out
}

/// `v` rounded up to two significant digits (at least 1).
fn round_up(v: f64) -> f64 {
    if v <= 1.0 || !v.is_finite() {
        return 1.0;
    }
    let scale = 10f64.powi(v.log10().floor() as i32 - 1);
    (v / scale).ceil() * scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::verdict::{Growth, Suspect};

    fn suspect(class: &str, per_1k: f64, bytes: f64) -> Suspect {
        Suspect {
            class: class.into(),
            per_1k_requests: per_1k,
            bytes_per_request: bytes,
            survivors_by_interval: vec![],
            count_growth_by_interval: vec![],
        }
    }

    fn fp(holder: &str, class: &str) -> Fingerprint {
        Fingerprint {
            holder: Some(holder.into()),
            class: class.into(),
            site: Some("server.js:12".into()),
        }
    }

    fn growth(per_request: f64) -> Growth {
        Growth {
            per_request,
            by_interval: vec![per_request, per_request],
            exceeds: per_request > 64.0,
            ..Growth::default()
        }
    }

    fn entry(holder: &str, class: Option<&str>, max_per_1k: Option<f64>) -> AllowEntry {
        AllowEntry {
            holder: holder.into(),
            class: class.map(Into::into),
            site: None,
            max_per_1k_requests: max_per_1k,
            max_bytes_per_request: None,
            thread: None,
            line: 7,
        }
    }

    fn analysis(suspects: Vec<Suspect>, heap: f64) -> Analysis {
        Analysis {
            verdict: Verdict::Leak,
            heap: growth(heap),
            array_buffers: growth(0.0),
            suspects,
            reasons: vec!["leak".into()],
            total_heap_bytes_per_request: heap,
            app_heap_bytes: Vec::new(),
            detection_floor: crate::analysis::DetectionFloor {
                requests_per_object: 200.0,
                objects_per_1k_requests: 5.0,
                heap_bytes_per_request: 64.0,
                array_buffer_bytes_per_request: 64.0,
            },
            borderline: Vec::new(),
            collections: Vec::new(),
            extensions: Vec::new(),
        }
    }

    fn thresholds(allow: Vec<AllowEntry>) -> Thresholds {
        Thresholds {
            allow,
            max_heap_bytes_per_request: Some(64.0),
            max_array_buffer_bytes_per_request: Some(64.0),
            max_survivors_per_1k_requests: Some(5.0),
            ..Thresholds::default()
        }
    }

    #[test]
    fn an_allowed_leak_within_budget_is_clean() {
        let a = analysis(
            vec![
                suspect("Object", 1000.0, 56.0),
                suspect("(string)", 1000.0, 20.0),
            ],
            120.0,
        );
        let fps = [fp("cache", "Object"), fp("cache", "(string)")];
        let j = judge_allowed(
            &a,
            &fps,
            &thresholds(vec![entry("cache", None, Some(2500.0))]),
        )
        .unwrap();
        assert_eq!(j.verdict, Verdict::Clean, "{:?}", j.reasons);
        assert_eq!(
            j.suspects,
            [Some(Allowance::Allowed), Some(Allowance::Allowed)]
        );
        assert!(!j.heap_exceeds);
        assert_eq!(j.leaks[0].per_1k_requests, 2000.0);
    }

    #[test]
    fn over_budget_fails() {
        let a = analysis(vec![suspect("Object", 2000.0, 112.0)], 150.0);
        let fps = [fp("cache", "Object")];
        let j = judge_allowed(
            &a,
            &fps,
            &thresholds(vec![entry("cache", Some("Object"), Some(1200.0))]),
        )
        .unwrap();
        assert_eq!(j.verdict, Verdict::Leak);
        assert_eq!(j.suspects, [Some(Allowance::OverBudget)]);
        assert!(j.reasons[0].contains("over its budget"), "{:?}", j.reasons);
    }

    #[test]
    fn another_leak_fails_and_is_named_alone() {
        let a = analysis(
            vec![suspect("Object", 1000.0, 56.0), suspect("Date", 20.0, 0.5)],
            90.0,
        );
        let fps = [fp("cache", "Object"), fp("sessions", "Date")];
        let j = judge_allowed(&a, &fps, &thresholds(vec![entry("cache", None, None)])).unwrap();
        assert_eq!(j.verdict, Verdict::Leak);
        assert_eq!(j.suspects, [Some(Allowance::Allowed), None]);
        assert!(
            j.reasons[0].contains("`Date` held by `sessions`"),
            "{:?}",
            j.reasons
        );
        assert!(!j.reasons[0].contains("cache"));
    }

    #[test]
    fn a_class_or_site_entry_matches_only_that() {
        let e = AllowEntry {
            site: Some("server.js:12".into()),
            ..entry("cache", Some("(string)"), None)
        };
        assert!(e.matches(&fp("cache", "(concatenated string)")));
        assert!(!e.matches(&fp("cache", "Object")));
        assert!(!e.matches(&fp("other", "(string)")));
        let mut elsewhere = fp("cache", "(string)");
        elsewhere.site = Some("lib/x.js:3".into());
        assert!(!e.matches(&elsewhere));
        let by_file = AllowEntry {
            site: Some("x.js".into()),
            ..entry("cache", None, None)
        };
        assert!(by_file.matches(&elsewhere));
    }

    #[test]
    fn heap_growth_beyond_the_allowance_is_a_leak() {
        // 56 B/request of survivors allow 112 B/request of heap; 400 is far beyond.
        let a = analysis(vec![suspect("Object", 1000.0, 56.0)], 400.0);
        let j = judge_allowed(
            &a,
            &[fp("cache", "Object")],
            &thresholds(vec![entry("cache", None, None)]),
        )
        .unwrap();
        assert_eq!(j.verdict, Verdict::Leak);
        assert!(j.heap_exceeds);
    }

    #[test]
    fn suggestions_group_by_holder_with_headroom() {
        let a = analysis(
            vec![
                suspect("Object", 1000.0, 56.0),
                suspect("Date", 1000.0, 24.0),
            ],
            120.0,
        );
        let s = suggest_allow(&a, &[fp("cache", "Object"), fp("cache", "Date")]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].max_per_1k_requests, Some(4000.0));
        assert_eq!(s[0].max_bytes_per_request, Some(160.0));
        assert_eq!(
            s[0].yaml(),
            "- holder: cache\n  max_per_1k_requests: 4000\n  max_bytes_per_request: 160\n"
        );
        assert_eq!(round_up(123.4), 130.0);
        assert_eq!(yaml_scalar("(string)"), "\"(string)\"");
    }

    #[test]
    fn an_entry_applies_to_every_thread_or_the_one_it_names() {
        let with = |thread: Option<&str>| AllowEntry {
            thread: thread.map(Into::into),
            ..entry("received", None, None)
        };
        let worker = Some("./lib/worker.js");
        assert!(with(None).applies_to(None) && with(None).applies_to(worker));
        assert!(with(Some("main")).applies_to(None));
        assert!(!with(Some("main")).applies_to(worker));
        for name in ["./lib/worker.js", "lib/worker.js", "worker.js"] {
            assert!(with(Some(name)).applies_to(worker), "{name}");
            assert!(!with(Some(name)).applies_to(None), "{name}");
        }
        assert!(!with(Some("other.js")).applies_to(worker));
        assert!(!with(Some("orker.js")).applies_to(worker));
        assert!(with(Some("./w.js"))
            .yaml()
            .contains("  thread: \"./w.js\"\n"));
    }
}
