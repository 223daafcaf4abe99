//! A worker thread's suspects explained from its own last snapshot.
//!
//! A worker's heap is not in the main thread's snapshots, so what holds its leaking objects
//! can only be read from the worker's own series: the same retainer paths as for the main
//! thread ([`super::retainers_of_suspects`]: shortest paths from the worker's GC roots, cut to
//! the variable the app wrote), the declaration of that variable and the stores into it in the
//! app's source (searched from the worker's script first), and each suspect's fingerprint
//! (holder and class; see [`crate::analysis::fingerprint`]).
//!
//! Allocation sites and request kinds are not had for workers: V8's sampling heap profiler is
//! started in the main isolate only, and a request kind served alone is judged on the main
//! thread's series. A worker's fingerprints therefore have no `site`.

use crate::analysis::fingerprint::fingerprints;
use crate::analysis::isolates::JudgedWorker;
use crate::analysis::keepers;
use crate::spec::Spec;

/// Why a worker's suspects have no allocation sites or request kinds, as reports say it.
pub const MAIN_THREAD_ONLY: &str = "allocation sites and request kinds: found for the main \
                                    thread only, where the sampling heap profiler runs";

/// Explains the suspects of `worker` from its kept series (nothing when it kept none): each
/// suspect gets its retainer paths (the worst [`super::MAX_EXPLAINED_SUSPECTS`]) and every
/// suspect its fingerprint; growing collections get their holders' paths. The series is
/// dropped afterwards.
pub fn explain(spec: &Spec, worker: &mut JudgedWorker) {
    let (Some(series), Some(analysis)) = (worker.series.take(), worker.analysis.as_mut()) else {
        return;
    };
    crate::analysis::collections::explain(&series.last, &mut analysis.collections);
    let mut retainers =
        super::retainers_of_suspects(&series.last, &series.diff, &analysis.suspects);
    // The worker's own script is where its variables are most likely declared.
    let first: Vec<String> = worker
        .result
        .script
        .as_deref()
        .and_then(|s| s.strip_prefix("./"))
        .map(str::to_string)
        .into_iter()
        .collect();
    for r in &mut retainers {
        keepers::locate(&mut r.clusters, &spec.app.cwd, &first);
        for (holder, _) in &mut r.holders {
            keepers::declare(holder, &spec.app.cwd);
        }
    }
    let prints = fingerprints(
        &series.last,
        &series.diff,
        &analysis.suspects,
        |class| {
            retainers
                .iter()
                .find(|r| r.class == class)
                .map(|r| r.holders.as_slice())
        },
        |_| None,
    );
    let result = &mut worker.result;
    result.take(analysis);
    for (s, fp) in result.suspects.iter_mut().zip(prints) {
        if let Some(r) = retainers.iter().find(|r| r.class == s.class) {
            s.retainers = r.clusters.clone();
        }
        s.fingerprint = Some(fp);
    }
    result.holders = retainers
        .into_iter()
        .map(|r| (r.class, r.holders))
        .collect();
}

/// The main thread's entry among the isolates: its verdict and suspects, each with the
/// retainer paths, fingerprint and allowance the main explanation found, so that every
/// isolate's suspects have the same fields.
pub fn main_isolate(
    analysis: &crate::analysis::Analysis,
    snapshots: usize,
    explanation: &super::Explanation,
    prints: &[crate::analysis::Fingerprint],
    allow: Option<&crate::analysis::AllowJudgement>,
) -> crate::analysis::isolates::IsolateResult {
    let mut main = crate::analysis::isolates::IsolateResult::main(analysis, snapshots);
    for (i, s) in main.suspects.iter_mut().enumerate() {
        s.fingerprint = prints.get(i).cloned();
        s.allow = allow.and_then(|a| a.suspects.get(i).copied().flatten());
        if let Some(r) = explanation.retainers.iter().find(|r| r.class == s.class) {
            s.retainers = r.clusters.clone();
        }
    }
    main.holders = explanation
        .retainers
        .iter()
        .map(|r| (r.class.clone(), r.holders.clone()))
        .collect();
    main.allowed = allow.map(|a| a.leaks.clone()).unwrap_or_default();
    main
}
