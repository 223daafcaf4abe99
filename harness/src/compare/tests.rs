use super::*;
use crate::analysis::Fingerprint;
use input::{CheckpointReport, IsolateReport, SuspectReport};

fn suspect(holder: &str, class: &str, survivors: [u64; 3]) -> SuspectReport {
    SuspectReport {
        class: class.into(),
        per_1k_requests: (survivors[0] + survivors[1]) as f64 / 2.0,
        bytes_per_request: 1.0,
        survivors_by_interval: survivors.to_vec(),
        fingerprint: Some(Fingerprint {
            holder: Some(holder.into()),
            class: class.into(),
            site: None,
        }),
        allow: None,
    }
}

fn report(name: &str, suspects: Vec<SuspectReport>) -> SpecReport {
    SpecReport {
        name: name.into(),
        file: format!("specs/{name}.yaml"),
        verdict: if suspects.is_empty() { "clean" } else { "leak" }.into(),
        error: None,
        suspects,
        checkpoints: [0, 1000, 2000, 3000]
            .iter()
            .map(|&requests| CheckpointReport {
                requests,
                heap_bytes: 0.0,
                array_buffer_bytes: 0.0,
            })
            .collect(),
        heap_bytes_per_request: Some(0.0),
        array_buffer_bytes_per_request: Some(0.0),
        heap_growth_exceeds: Some(false),
        array_buffer_growth_exceeds: Some(false),
        detection_floor: None,
        isolates: Vec::new(),
    }
}

fn worker(label: &str, script: Option<&str>, suspects: Vec<SuspectReport>) -> IsolateReport {
    IsolateReport {
        kind: "worker".into(),
        label: label.into(),
        script: script.map(Into::into),
        verdict: Some(if suspects.is_empty() { "clean" } else { "leak" }.into()),
        suspects,
        heap_bytes_per_request: Some(0.0),
        array_buffer_bytes_per_request: Some(0.0),
        heap_growth_exceeds: Some(false),
        array_buffer_growth_exceeds: Some(false),
        heap_bytes_by_interval: vec![0.0; 3],
        array_buffer_bytes_by_interval: vec![0.0; 3],
    }
}

#[test]
fn a_workers_growth_no_class_explains_is_compared_in_bytes() {
    let mut head = report("w", vec![]);
    let mut grows = worker("worker 1 (./w.js)", Some("./w.js"), vec![]);
    grows.verdict = Some("leak".into());
    grows.heap_growth_exceeds = Some(true);
    grows.heap_bytes_per_request = Some(40.0);
    grows.heap_bytes_by_interval = vec![55.0, 41.0, 39.0];
    head.isolates = vec![grows];
    let c = compare(&[report("w", vec![])], &[head]);
    let l = &c.specs[0].leaks[0];
    assert_eq!((l.leak.as_str(), l.change), ("(js heap)", Change::New));
    assert_eq!(l.thread.as_deref(), Some("./w.js"));
    assert_eq!(l.unit, "bytes per request");
}

#[test]
fn a_worker_leak_is_matched_by_script_not_thread_id() {
    // The same holder name in the main thread and in a worker: two leaks.
    let mut base = report("w", vec![suspect("received", "Object", [100, 100, 100])]);
    base.isolates = vec![worker(
        "worker 1 (./worker.js)",
        Some("./worker.js"),
        vec![suspect("received", "Object", [100, 100, 100])],
    )];
    let mut head = report("w", vec![suspect("received", "Object", [100, 100, 100])]);
    // Another thread id, and two workers of one script share the leak (summed); an older
    // report without `script` is named from its label; a worker not judged is left out.
    let mut not_judged = worker("worker 4 (./other.js)", None, vec![]);
    not_judged.verdict = None;
    not_judged.suspects = vec![suspect("kept", "Object", [900, 900, 900])];
    head.isolates = vec![
        worker(
            "worker 2 (./worker.js)",
            None,
            vec![suspect("received", "Object", [500, 500, 500])],
        ),
        worker(
            "worker 3 (./worker.js)",
            Some("./worker.js"),
            vec![suspect("received", "Object", [500, 500, 500])],
        ),
        not_judged,
    ];
    let leaks = leaks_of(&head);
    assert_eq!(leaks.len(), 2, "{leaks:?}");
    assert_eq!(leaks[1].thread.as_deref(), Some("./worker.js"));
    assert_eq!(leaks[1].rate, 1000.0);
    let c = compare(&[base.clone()], &[head.clone()]);
    let leaks = &c.specs[0].leaks;
    let grown = leaks.iter().find(|l| l.change == Change::Grown).unwrap();
    assert_eq!(grown.thread.as_deref(), Some("./worker.js"));
    assert_eq!(grown.leak, "received");
    let main = leaks.iter().find(|l| l.thread.is_none()).unwrap();
    assert_eq!(main.change, Change::Unchanged);
    assert!(render::render_text(&c).contains("held by `received` (Object) in worker ./worker.js"));
    // Gone from the worker: fixed there, the main thread's unchanged.
    let c = compare(
        &[head],
        &[report(
            "w",
            vec![suspect("received", "Object", [100, 100, 100])],
        )],
    );
    let fixed = c.specs[0]
        .leaks
        .iter()
        .find(|l| l.change == Change::Fixed)
        .unwrap();
    assert_eq!(fixed.thread.as_deref(), Some("./worker.js"));
    assert_eq!((c.fixed, c.new, c.grown), (1, 0, 0));
}

#[test]
fn classes_of_one_holder_are_one_leak() {
    let r = report(
        "a",
        vec![
            suspect("log", "Object", [1000, 1000, 1000]),
            suspect("log", "Date", [1000, 1000, 1000]),
        ],
    );
    let leaks = leaks_of(&r);
    assert_eq!(leaks.len(), 1);
    assert_eq!(leaks[0].leak, "log");
    assert_eq!(leaks[0].rate, 2000.0);
}

#[test]
fn new_grown_fixed_and_unchanged() {
    let base = [
        report("clean", vec![]),
        report("worse", vec![suspect("cache", "Object", [100, 100, 100])]),
        report("same", vec![suspect("log", "Object", [1000, 1000, 1000])]),
        report("fixed", vec![suspect("log", "Object", [1000, 1000, 1000])]),
    ];
    let head = [
        report(
            "clean",
            vec![suspect("sessions", "Object", [200, 200, 200])],
        ),
        report(
            "worse",
            vec![suspect("cache", "Object", [1000, 1000, 1000])],
        ),
        report("same", vec![suspect("log", "Object", [1010, 990, 1000])]),
        report("fixed", vec![]),
    ];
    let c = compare(&base, &head);
    let change = |i: usize| c.specs[i].leaks[0].change;
    assert_eq!(change(0), Change::New);
    assert_eq!(change(1), Change::Grown);
    assert_eq!(c.specs[1].leaks[0].ratio, Some(10.0));
    assert_eq!(change(2), Change::Unchanged);
    assert_eq!(change(3), Change::Fixed);
    assert_eq!((c.new, c.grown, c.fixed), (1, 1, 1));
    assert_eq!(c.exit_code(), 1);
    assert_eq!(c.specs[2].status, "unchanged");
    assert_eq!(c.specs[3].status, "improved");
}

#[test]
fn noisy_rates_need_a_larger_ratio() {
    let steady = report("a", vec![suspect("c", "Object", [100, 100, 100])]);
    let noisy = report("a", vec![suspect("c", "Object", [20, 180, 100])]);
    let l = |r: &SpecReport| leaks_of(r).remove(0);
    assert_eq!(tolerance(&l(&steady), &l(&steady)), MIN_GROWN_RATIO);
    assert!(tolerance(&l(&noisy), &l(&steady)) > 2.0);
}

#[test]
fn a_marginal_class_is_not_a_new_leak() {
    let base = [report("a", vec![])];
    let head = [report("a", vec![suspect("c", "Date", [6, 6, 6])])];
    let c = compare(&base, &head);
    assert_eq!(c.specs[0].leaks[0].change, Change::Marginal);
    assert_eq!(c.exit_code(), 0);
}

#[test]
fn a_run_without_verdict_cannot_be_compared() {
    let mut broken = report("a", vec![]);
    broken.error = Some("app exited with code 1".into());
    let c = compare(&[report("a", vec![])], &[broken]);
    assert_eq!(c.specs[0].status, "error");
    assert_eq!(c.exit_code(), 2);
}
