//! The verdict rule on synthetic series, one row per shape: what a leak, a step, a bounded
//! cache, noise, a slow leak and growth without new objects look like to [`judge`], with
//! default thresholds (the run's own noise) and with `assert:` limits.

use super::*;
use crate::analysis::diff::{ClassSeries, SnapshotFacts};
use crate::analysis::extend::{next_step, Step};
use crate::spec::Thresholds;

/// A class's series from its survivors per interval and its live count per snapshot.
fn class(name: &str, survivors: &[u64], counts: &[u64], bytes_each: u64) -> ClassSeries {
    let mut s = vec![counts[0]];
    s.extend_from_slice(survivors);
    ClassSeries {
        class: name.into(),
        counts: counts.to_vec(),
        sizes: counts.iter().map(|c| c * bytes_each).collect(),
        survivor_sizes: s.iter().map(|c| c * bytes_each).collect(),
        survivors: s,
        samples: vec![Vec::new(); counts.len()],
    }
}

/// A series of snapshots at `requests` with the JS heap (V8 left out) at `app_bytes` and the
/// array buffers at `buffers`.
fn series(
    requests: &[u64],
    app_bytes: &[u64],
    buffers: &[u64],
    classes: Vec<ClassSeries>,
) -> (Diff, Vec<CheckpointMemory>) {
    let snapshots = app_bytes
        .iter()
        .enumerate()
        // V8's warm-up: 250 KB more in the first interval, on top of the app's.
        .map(|(k, &b)| SnapshotFacts::from_totals(b + 250_000 * k.min(1) as u64, b, 1 + k as u32))
        .collect();
    let memory = requests
        .iter()
        .zip(app_bytes)
        .zip(buffers)
        .map(|((&r, &h), &ab)| CheckpointMemory {
            requests: r,
            heap_bytes: h + 250_000 * r.min(1),
            array_buffer_bytes: ab,
            external_bytes: 0,
            rss_bytes: 0,
            failed_requests: 0,
        })
        .collect();
    let diff = Diff {
        snapshots,
        classes,
        collections: Vec::new(),
    };
    (diff, memory)
}

const R: [u64; 4] = [0, 2000, 4000, 6000];
const FLAT: [u64; 4] = [5_000_000; 4];
const NO_BUFFERS: [u64; 4] = [10_000; 4];

fn defaults() -> Thresholds {
    Thresholds::default()
}

/// One row of the table: the shape, the series, the verdict and whether it is borderline.
struct Row {
    shape: &'static str,
    app_bytes: [u64; 4],
    buffers: [u64; 4],
    classes: Vec<ClassSeries>,
    verdict: Verdict,
    borderline: bool,
}

#[test]
fn the_rule_table_with_default_thresholds() {
    let rows = vec![
        Row {
            shape: "leak: 1 object per 50 requests, 40 a 2000-request interval",
            app_bytes: [5_000_000, 5_002_560, 5_005_120, 5_007_680],
            buffers: NO_BUFFERS,
            classes: vec![class("Session", &[40, 40, 48], &[100, 140, 180, 220], 64)],
            verdict: Verdict::Leak,
            borderline: false,
        },
        Row {
            shape: "lazy initialisation: a step in the first interval, flat afterwards",
            app_bytes: [5_000_000, 6_000_000, 6_000_000, 6_000_000],
            buffers: NO_BUFFERS,
            classes: vec![class(
                "Entry",
                &[20_000, 0, 0],
                &[0, 20_000, 20_000, 20_000],
                48,
            )],
            verdict: Verdict::Clean,
            borderline: false,
        },
        Row {
            shape: "a step in the middle of the run",
            app_bytes: [5_000_000, 5_000_000, 5_400_000, 5_400_000],
            buffers: NO_BUFFERS,
            classes: vec![class("Entry", &[0, 8000, 0], &[0, 0, 8000, 8000], 48)],
            verdict: Verdict::Clean,
            // 400 KB in one half, nothing in the other: the growth stopped.
            borderline: false,
        },
        Row {
            shape: "bounded cache: churns (survivors replace evicted entries), count flat",
            app_bytes: [5_000_000, 5_001_000, 4_990_000, 4_991_000],
            buffers: NO_BUFFERS,
            classes: vec![class("Entry", &[500, 500, 500], &[500, 500, 500, 500], 48)],
            verdict: Verdict::Clean,
            borderline: false,
        },
        Row {
            shape: "noise: ±12 KB and a few stragglers",
            app_bytes: [5_000_000, 5_005_120, 4_993_016, 4_993_016],
            buffers: [10_000, 18_192, 18_192, 10_000],
            classes: vec![
                class("(string)", &[4, 0, 2001], &[100, 104, 103, 103], 32),
                class("(array)", &[0, 8, 504], &[10, 17, 18, 18], 32),
                class("Timeout", &[0, 0, 9], &[10, 9, 10, 10], 120),
            ],
            verdict: Verdict::Clean,
            borderline: false,
        },
        Row {
            shape: "slow leak: 1 object per 500 requests",
            app_bytes: [5_000_000, 5_000_128, 5_000_256, 5_000_384],
            buffers: NO_BUFFERS,
            classes: vec![class("Failure", &[4, 4, 5], &[0, 4, 8, 12], 32)],
            verdict: Verdict::Leak,
            borderline: false,
        },
        Row {
            shape: "slower leak: 1 object per 1000 requests, undecided in 2000-request halves",
            app_bytes: [5_000_000, 5_000_064, 5_000_128, 5_000_192],
            buffers: NO_BUFFERS,
            classes: vec![class("Failure", &[2, 2, 3], &[0, 2, 4, 6], 32)],
            verdict: Verdict::Clean,
            borderline: true,
        },
        Row {
            shape: "growth without new objects: 12 B per request into one array",
            app_bytes: [5_000_000, 5_024_000, 5_048_000, 5_072_000],
            buffers: NO_BUFFERS,
            classes: vec![class("Array", &[0, 0, 0], &[1, 1, 1, 1], 32)],
            verdict: Verdict::Leak,
            borderline: false,
        },
        Row {
            shape: "growth without new objects, 6 B per request: over the noise only together",
            app_bytes: [5_000_000, 5_012_000, 5_024_000, 5_036_000],
            buffers: NO_BUFFERS,
            classes: vec![],
            verdict: Verdict::Clean,
            borderline: true,
        },
        Row {
            shape: "off-heap leak: a 4 KiB Buffer per request",
            app_bytes: [5_000_000, 5_200_000, 5_400_000, 5_600_000],
            buffers: [0, 8_192_000, 16_384_000, 24_576_000],
            classes: vec![],
            verdict: Verdict::Leak,
            borderline: false,
        },
    ];
    for row in rows {
        let (diff, memory) = series(&R, &row.app_bytes, &row.buffers, row.classes);
        let a = judge(&diff, &memory, &defaults());
        assert_eq!(a.verdict, row.verdict, "{}: {:?}", row.shape, a.reasons);
        assert_eq!(
            !a.borderline.is_empty(),
            row.borderline,
            "{}: {:?}",
            row.shape,
            a.borderline
        );
    }
}

#[test]
fn v8_warm_up_is_left_out_of_the_heap_slope() {
    // The whole heap grows by 250 KB in the first interval and then by V8's code and
    // feedback; the app's part is flat.
    let (mut diff, mut memory) = series(&R, &FLAT, &NO_BUFFERS, vec![]);
    for (k, m) in memory.iter_mut().enumerate() {
        m.heap_bytes += 40_000 * k as u64;
        diff.snapshots[k].total_self_size = m.heap_bytes;
    }
    let a = judge(&diff, &memory, &defaults());
    assert_eq!(a.verdict, Verdict::Clean);
    assert_eq!(a.heap.per_request, 0.0);
    assert!(a.total_heap_bytes_per_request >= 20.0);
}

#[test]
fn detection_floor_of_a_default_run() {
    let (diff, memory) = series(&R, &FLAT, &NO_BUFFERS, vec![]);
    let a = judge(&diff, &memory, &defaults());
    let f = a.detection_floor;
    // Classes: 4 objects in a 2000-request window. Bytes: 16 KiB of noise in 2000 requests.
    assert!((f.requests_per_object - 500.0).abs() < 1e-9);
    assert!((f.heap_bytes_per_request - 8.192).abs() < 1e-9);
    assert!((f.array_buffer_bytes_per_request - 8.192).abs() < 1e-9);
}

#[test]
fn assert_limits_override_the_noise_floor() {
    let limits = Thresholds {
        max_heap_bytes_per_request: Some(64.0),
        max_array_buffer_bytes_per_request: Some(64.0),
        max_survivors_per_1k_requests: Some(5.0),
        ..Thresholds::default()
    };
    // 12 B per request: a leak against the noise, within a 64 B limit.
    let (diff, memory) = series(
        &R,
        &[5_000_000, 5_024_000, 5_048_000, 5_072_000],
        &NO_BUFFERS,
        vec![class("Failure", &[4, 4, 5], &[0, 4, 8, 12], 32)],
    );
    let a = judge(&diff, &memory, &defaults());
    assert_eq!(a.verdict, Verdict::Leak);
    let a = judge(&diff, &memory, &limits);
    assert_eq!(a.verdict, Verdict::Clean, "{:?}", a.reasons);
    assert_eq!(a.detection_floor.heap_bytes_per_request, 64.0);
    assert_eq!(a.detection_floor.objects_per_1k_requests, 5.0);
    // The limit still catches what is above it.
    let (diff, memory) = series(
        &R,
        &[5_000_000, 5_200_000, 5_400_000, 5_600_000],
        &NO_BUFFERS,
        vec![class("Order", &[40, 40, 40], &[0, 40, 80, 120], 32)],
    );
    let a = judge(&diff, &memory, &limits);
    assert_eq!(a.verdict, Verdict::Leak);
    assert_eq!(a.suspects.len(), 1);
}

#[test]
fn ignored_and_engine_classes_are_never_suspects() {
    let grows = |name| class(name, &[400, 400, 400], &[0, 400, 800, 1200], 32);
    let (diff, memory) = series(
        &R,
        &FLAT,
        &NO_BUFFERS,
        vec![grows("(compiled code)"), grows("(system)"), grows("Mine")],
    );
    let mut t = defaults();
    assert_eq!(judge(&diff, &memory, &t).suspects.len(), 1);
    t.ignore_classes = vec!["Mine".into()];
    assert_eq!(judge(&diff, &memory, &t).verdict, Verdict::Clean);
}

#[test]
fn borderline_evidence_extends_the_run_by_doubling_within_its_bound() {
    let slow = || class("Failure", &[2, 2, 3], &[0, 2, 4, 6], 32);
    let (diff, memory) = series(&R, &FLAT, &NO_BUFFERS, vec![slow()]);
    let a = judge(&diff, &memory, &defaults());
    match next_step(&a, 6000, 48_000) {
        Step::Extend { to, reasons } => {
            assert_eq!(to, 12_000);
            assert!(reasons[0].contains("Failure"), "{reasons:?}");
        }
        other => panic!("expected an extension, got {other:?}"),
    }
    assert_eq!(next_step(&a, 6000, 6000), Step::Decided);
    let to_the_bound = Step::Extend {
        to: 48_000,
        reasons: a.borderline.clone(),
    };
    assert_eq!(next_step(&a, 40_000, 48_000), to_the_bound);

    // Extended twice (to 24 000): the halves are 6000 requests, 6 objects each: a leak.
    let r = [0, 2000, 4000, 6000, 12_000, 24_000];
    let flat = [5_000_000; 6];
    let failures = class("Failure", &[2, 2, 2, 6, 13], &[0, 2, 4, 6, 12, 24], 32);
    let (diff, memory) = series_n(&r, &flat, vec![failures]);
    let a = judge(&diff, &memory, &defaults());
    assert_eq!(a.verdict, Verdict::Leak, "{:?}", a.borderline);
    assert_eq!(next_step(&a, 24_000, 48_000), Step::Decided);

    // A clean series is decided at once.
    let (diff, memory) = series(&R, &FLAT, &NO_BUFFERS, vec![]);
    let a = judge(&diff, &memory, &defaults());
    assert_eq!(next_step(&a, 6000, 48_000), Step::Decided);
}

/// [`series`] for any number of snapshots, no array buffers.
fn series_n(
    requests: &[u64],
    app_bytes: &[u64],
    classes: Vec<ClassSeries>,
) -> (Diff, Vec<CheckpointMemory>) {
    let buffers = vec![0; requests.len()];
    series(requests, app_bytes, &buffers, classes)
}

#[test]
fn what_failed_requests_leave_behind_is_not_a_leak() {
    // A clean login flow under heavy load: 15 of 6000 requests timed out, and each failed flow
    // kept its session's strings (the sample suite's one flip before this rule).
    let kept = || class("(string)", &[16, 16, 12], &[500, 516, 532, 544], 28);
    let with_failures = |diff_memory: (Diff, Vec<CheckpointMemory>)| {
        let (diff, mut memory) = diff_memory;
        for (m, failed) in memory.iter_mut().zip([0, 5, 10, 15]) {
            m.failed_requests = failed;
        }
        (diff, memory)
    };
    let (diff, memory) = with_failures(series(&R, &FLAT, &NO_BUFFERS, vec![kept()]));
    let a = judge(&diff, &memory, &defaults());
    assert_eq!(a.verdict, Verdict::Clean, "{:?}", a.reasons);
    assert!(
        a.borderline[0].contains("10 of their requests failed"),
        "{:?}",
        a.borderline
    );
    // The floor rises with the failures: 21 objects per 2000-request window.
    assert_eq!(a.detection_floor.objects_per_1k_requests, 10.5);

    // The same survivors with every request answered are a leak.
    let (diff, memory) = series(&R, &FLAT, &NO_BUFFERS, vec![kept()]);
    assert_eq!(judge(&diff, &memory, &defaults()).verdict, Verdict::Leak);

    // A real leak is still one when some requests fail.
    let leak = class("Session", &[2000, 2000, 2000], &[0, 2000, 4000, 6000], 64);
    let (diff, memory) = with_failures(series(&R, &FLAT, &NO_BUFFERS, vec![leak]));
    assert_eq!(judge(&diff, &memory, &defaults()).verdict, Verdict::Leak);
}
