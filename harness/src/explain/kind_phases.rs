//! Which request kind leaks, from the same process: once the measured phase has found a leak,
//! the live app serves each request kind alone for one interval, with a snapshot after each,
//! and each interval is judged against what the measured phase found.
//!
//! Booting the app again per kind (see [`super::requests`]) costs a boot, a warm-up and a whole
//! measured phase per kind, for a question the measured phase has already half answered: it
//! knows *which classes* leak, at what rate, and how much the heap moves on its own. So the
//! question left is only "which kind makes those suspects grow", and one interval per kind in
//! the same process answers it. The snapshot right before the first kind's interval (the
//! measured phase's last) and one after each kind make a series of their own: interval *i* is
//! kind *i* alone. A kind leaks when, in its interval:
//!
//! - a suspect class of the measured phase keeps new objects (the smaller of its new
//!   survivors and its growth in live count, as in the measured phase's own test) at least
//!   [`MIN_SURVIVORS_PER_WINDOW`], more than the class's largest fall in count anywhere, and at
//!   a rate per request of that kind of at least a quarter of the measured rate per request of
//!   the mix ([`SHARE_OF_MEASURED_RATE`]); a kind that causes the whole leak, served alone,
//!   shows at least the mixed rate, since the mix dilutes it with the other kinds;
//! - or the JS heap (array buffers), when the measured phase found it growing, grows by more
//!   than its noise (the larger of [`MIN_NOISE_BYTES`] and its largest fall in the measured
//!   phase) and by at least a quarter of the measured growth per request.
//!
//! The interval is as long as the measured phase's longest, so that a leak the measured phase
//! caught leaves at least as many objects in a kind's interval as it did in one of its own.
//! The last kind's new objects have no later snapshot to prove they survive; counting only
//! those that also add to the live count keeps what is merely in flight out.
//!
//! What this cannot see, and a run per kind (`explain: runs`) can: a kind that leaks only from
//! a fresh process, or whose leak the state left by the mix hides (a cache the other kinds
//! already filled).

use crate::analysis::noise::{MIN_NOISE_BYTES, MIN_SURVIVORS_PER_WINDOW};
use crate::analysis::verdict::ENGINE_CLASSES;
use crate::analysis::{Analysis, CheckpointMemory, Diff, Series, SnapshotFile, Verdict};
use crate::load::RequestTemplate;
use crate::spec::{Explain, Spec};

use super::requests::{request_kinds, RequestKindResult, SAME_PROCESS};

/// A kind's growth counts when its rate per request is at least this share of the measured
/// phase's rate per request of the mix.
pub const SHARE_OF_MEASURED_RATE: f64 = 0.25;

/// One request kind served alone in the live app.
#[derive(Debug, Clone, PartialEq)]
pub struct KindPhase {
    /// The kind, as `METHOD path-template`.
    pub label: String,
    /// Its templates, cycled in order.
    pub templates: Vec<RequestTemplate>,
    /// Requests to serve.
    pub requests: u64,
}

/// What serving one kind alone left.
#[derive(Debug, Clone)]
pub struct PhaseOutcome {
    /// The phase.
    pub phase: KindPhase,
    /// Why serving it failed, when it did (too many failed requests, say).
    pub error: Option<String>,
    /// The snapshot after it (`None` when it could not be taken; later phases were not run).
    pub snapshot: Option<SnapshotFile>,
}

/// The kinds to serve alone after the measured phase of `series`, judged `analysis`: none
/// unless the leak is to be explained, the spec has several request kinds and does not ask for
/// a run per kind (`explain: runs`).
pub fn phases(spec: &Spec, series: &Series, analysis: &Analysis) -> Vec<KindPhase> {
    if spec.explain == Explain::Runs || !super::wanted(spec, analysis) {
        return Vec::new();
    }
    let kinds = request_kinds(spec);
    if kinds.len() < 2 {
        return Vec::new();
    }
    let requests = series.interval_requests().into_iter().max().unwrap_or(1);
    kinds
        .into_iter()
        .map(|(label, templates)| KindPhase {
            label,
            templates,
            requests,
        })
        .collect()
}

/// Judges each kind from the snapshots its phase left, `before` being the measured phase's last.
pub fn judge(
    main_series: &Series,
    main: &Analysis,
    before: &SnapshotFile,
    outcomes: &[PhaseOutcome],
) -> Vec<RequestKindResult> {
    let mut files = vec![before.clone()];
    files.extend(outcomes.iter().filter_map(|o| o.snapshot.clone()));
    let kinds = match Series::read(&files) {
        Ok(series) => judge_intervals(main_series, main, &series.diff, &series.memory),
        Err(e) => {
            return outcomes
                .iter()
                .map(|o| failed(&o.phase, format!("reading its snapshot: {e}")))
                .collect()
        }
    };
    let mut kinds = kinds.into_iter();
    outcomes
        .iter()
        .map(|o| match (&o.snapshot, kinds.next()) {
            (Some(_), Some(judged)) => match &o.error {
                Some(e) => failed(&o.phase, e.clone()),
                None => judged.into_result(&o.phase),
            },
            _ => failed(
                &o.phase,
                o.error
                    .clone()
                    .unwrap_or_else(|| "no snapshot after it".to_string()),
            ),
        })
        .collect()
}

fn failed(phase: &KindPhase, error: String) -> RequestKindResult {
    RequestKindResult {
        request: phase.label.clone(),
        verdict: "error",
        heap_bytes_per_request: None,
        array_buffer_bytes_per_request: None,
        top_suspect: None,
        error: Some(error),
        method: SAME_PROCESS,
        requests: phase.requests,
    }
}

/// What one kind's interval showed.
#[derive(Debug, Clone, PartialEq)]
pub struct KindJudgement {
    /// Whether the kind makes the measured leak grow.
    pub leaks: bool,
    /// Requests of the interval.
    pub requests: u64,
    /// App heap growth per request over the interval, bytes.
    pub heap_bytes_per_request: f64,
    /// Array-buffer growth per request over the interval, bytes.
    pub array_buffer_bytes_per_request: f64,
    /// The suspect class that kept the most new objects per 1000 requests, with that rate.
    pub top_suspect: Option<(String, f64)>,
}

impl KindJudgement {
    fn into_result(self, phase: &KindPhase) -> RequestKindResult {
        RequestKindResult {
            request: phase.label.clone(),
            verdict: if self.leaks {
                Verdict::Leak.as_str()
            } else {
                Verdict::Clean.as_str()
            },
            heap_bytes_per_request: Some(self.heap_bytes_per_request),
            array_buffer_bytes_per_request: Some(self.array_buffer_bytes_per_request),
            top_suspect: self.top_suspect,
            error: None,
            method: SAME_PROCESS,
            requests: self.requests,
        }
    }
}

/// Judges every interval of the kinds' series (`diff`, `memory`: snapshot 0 before the first
/// kind, snapshot i after kind i) against the measured phase (`main_series`, `main`). Pure.
pub fn judge_intervals(
    main_series: &Series,
    main: &Analysis,
    diff: &Diff,
    memory: &[CheckpointMemory],
) -> Vec<KindJudgement> {
    let n = diff.snapshots.len().min(memory.len());
    let app_heap: Vec<f64> = diff
        .snapshots
        .iter()
        .map(|s| s.app_self_size as f64)
        .collect();
    let buffers: Vec<f64> = memory.iter().map(|m| m.array_buffer_bytes as f64).collect();
    let main_buffers: Vec<f64> = main_series
        .memory
        .iter()
        .map(|m| m.array_buffer_bytes as f64)
        .collect();
    let main_heap: Vec<f64> = main.app_heap_bytes.iter().map(|&b| b as f64).collect();
    let heap_noise = MIN_NOISE_BYTES.max(largest_fall(&main_heap));
    let buffer_noise = MIN_NOISE_BYTES.max(largest_fall(&main_buffers));
    (1..n)
        .map(|i| {
            let requests = memory[i]
                .requests
                .saturating_sub(memory[i - 1].requests)
                .max(1);
            let r = requests as f64;
            let heap_growth = app_heap[i] - app_heap[i - 1];
            let buffer_growth = buffers[i] - buffers[i - 1];
            let bytes_count = |grew: bool, growth: f64, noise: f64, per_request: f64| {
                grew && growth > noise && growth / r >= SHARE_OF_MEASURED_RATE * per_request
            };
            let mut leaks = bytes_count(
                main.heap.exceeds,
                heap_growth,
                heap_noise,
                main.heap.per_request,
            ) || bytes_count(
                main.array_buffers.exceeds,
                buffer_growth,
                buffer_noise,
                main.array_buffers.per_request,
            );
            let mut top_suspect: Option<(String, f64)> = None;
            for suspect in &main.suspects {
                if ENGINE_CLASSES.contains(&suspect.class.as_str()) {
                    continue;
                }
                let Some(class) = diff.classes.iter().find(|c| c.class == suspect.class) else {
                    continue;
                };
                let deltas = class.count_deltas();
                let kept = (class.survivors[i] as f64)
                    .min(deltas[i - 1] as f64)
                    .max(0.0);
                let own_fall = main_series
                    .diff
                    .classes
                    .iter()
                    .find(|c| c.class == suspect.class)
                    .map_or(0, |c| max_fall(&c.count_deltas()))
                    .max(max_fall(&deltas));
                let needed = MIN_SURVIVORS_PER_WINDOW
                    .max(own_fall as f64 + 1.0)
                    .max(SHARE_OF_MEASURED_RATE * suspect.per_1k_requests * r / 1000.0);
                if kept >= needed {
                    leaks = true;
                }
                let rate = kept / r * 1000.0;
                if rate > 0.0 && top_suspect.as_ref().is_none_or(|(_, best)| rate > *best) {
                    top_suspect = Some((suspect.class.clone(), rate));
                }
            }
            KindJudgement {
                leaks,
                requests,
                heap_bytes_per_request: heap_growth / r,
                array_buffer_bytes_per_request: buffer_growth / r,
                top_suspect,
            }
        })
        .collect()
}

fn largest_fall(series: &[f64]) -> f64 {
    series.windows(2).map(|w| w[0] - w[1]).fold(0.0, f64::max)
}

fn max_fall(deltas: &[i64]) -> i64 {
    deltas.iter().fold(0, |m, &d| m.max(-d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{ClassSeries, SnapshotFacts, Suspect};

    fn class(name: &str, counts: &[u64], survivors: &[u64]) -> ClassSeries {
        ClassSeries {
            class: name.to_string(),
            counts: counts.to_vec(),
            sizes: vec![0; counts.len()],
            survivors: survivors.to_vec(),
            survivor_sizes: vec![0; counts.len()],
            samples: vec![Vec::new(); counts.len()],
        }
    }

    /// The kinds' series: snapshot 0 before the first kind, then one after each, 2000 requests
    /// apart, with flat heap and array buffers.
    fn kinds_series(classes: Vec<ClassSeries>) -> (Diff, Vec<CheckpointMemory>) {
        let n = classes[0].counts.len();
        let diff = Diff {
            snapshots: (0..n)
                .map(|k| SnapshotFacts::from_totals(1 << 20, 1 << 20, 1000 * (k as u32 + 1)))
                .collect(),
            classes,
            collections: Vec::new(),
        };
        let memory = (0..n)
            .map(|k| CheckpointMemory {
                requests: 6000 + 2000 * k as u64,
                heap_bytes: 1 << 20,
                array_buffer_bytes: 0,
                external_bytes: 0,
                rss_bytes: 0,
                failed_requests: 0,
            })
            .collect();
        (diff, memory)
    }

    /// A measured phase that found `Object` leaking at `per_1k` per 1000 mixed requests.
    fn measured(per_1k: f64) -> Analysis {
        let mut analysis = crate::analysis::judge(&Diff::default(), &[], &Default::default());
        analysis.verdict = Verdict::Leak;
        analysis.suspects = vec![Suspect {
            class: "Object".to_string(),
            per_1k_requests: per_1k,
            bytes_per_request: 0.0,
            survivors_by_interval: Vec::new(),
            count_growth_by_interval: Vec::new(),
        }];
        analysis
    }

    #[test]
    fn the_kind_that_keeps_the_suspects_leaks_and_the_other_does_not() {
        // GET keeps nothing; POST keeps one Object per request.
        let (diff, memory) =
            kinds_series(vec![class("Object", &[5000, 5000, 7000], &[5000, 0, 2000])]);
        let judged = judge_intervals(&Series::default(), &measured(500.0), &diff, &memory);
        let verdicts: Vec<bool> = judged.iter().map(|k| k.leaks).collect();
        assert_eq!(verdicts, [false, true]);
        assert_eq!(judged[0].top_suspect, None);
        assert_eq!(judged[1].top_suspect, Some(("Object".to_string(), 1000.0)));
        assert_eq!(judged[1].requests, 2000);
    }

    #[test]
    fn what_is_merely_in_flight_is_not_a_leak() {
        // The last kind's 30 new objects that add to the count (sockets, parsers in flight)
        // are far below a quarter of the measured rate over 2000 requests (250).
        let (diff, memory) = kinds_series(vec![class(
            "Object",
            &[5000, 7000, 7030],
            &[5000, 2000, 30],
        )]);
        let judged = judge_intervals(&Series::default(), &measured(500.0), &diff, &memory);
        assert!(judged[0].leaks);
        assert!(!judged[1].leaks);
    }

    #[test]
    fn a_kind_that_only_churns_is_clean() {
        // New survivors, but they replace others: the live count does not grow.
        let (diff, memory) = kinds_series(vec![class(
            "Object",
            &[5000, 5000, 5000],
            &[3000, 1000, 1000],
        )]);
        let judged = judge_intervals(&Series::default(), &measured(500.0), &diff, &memory);
        assert!(judged.iter().all(|k| !k.leaks));
    }
}
