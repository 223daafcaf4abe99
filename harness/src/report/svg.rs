//! A standalone SVG chart of one run: JS heap and array-buffer bytes at each checkpoint against
//! the measured requests, with the fitted growth per request drawn as a dashed line and written
//! in the title.
//!
//! The two measures differ by orders of magnitude (megabytes of heap, kilobytes of buffers), so
//! each has its own axis: heap on the left, array buffers on the right, in the colour of its
//! series. Neither axis starts at zero; instead each spans at least the growth its threshold
//! allows over the measured requests, so a line that climbs from corner to corner is at the
//! threshold, and noise in a clean run stays visibly small.
//!
//! Below it, the criterion itself: the new objects of the worst suspects that survive, per
//! interval, against the detection floor's line (what a class leaking at the floor leaves in
//! that interval). The last interval is drawn pale: its objects prove nothing yet (see
//! `analysis::verdict`). The axis starts at zero and spans at least twice the floor, clean run
//! or leaky, so a leak stands far above the line and a clean run shows an empty panel.

use std::fmt::Write as _;

use super::junit::escape_text;
use crate::analysis::{Analysis, CheckpointMemory};
use crate::runner::SpecRun;
use crate::spec::{Spec, Thresholds};

/// The chart's size in user units (and its default size in pixels).
pub const WIDTH: f64 = 640.0;
/// The height of the bytes panel; see [`WIDTH`].
pub const HEIGHT: f64 = 360.0;
/// The height of the survivors panel below it.
pub const SURVIVORS_HEIGHT: f64 = 210.0;
/// The whole chart's height.
pub const TOTAL_HEIGHT: f64 = HEIGHT + SURVIVORS_HEIGHT;
/// Suspects drawn in the survivors panel at most.
pub const MAX_SUSPECTS_DRAWN: usize = 3;
const SUSPECT_COLOURS: [&str; MAX_SUSPECTS_DRAWN] = ["#8250df", "#bf3989", "#0a7d6c"];

const HEAP_COLOUR: &str = "#1f6fb4";
const BUFFER_COLOUR: &str = "#e0740b";
const PASS_COLOUR: &str = "#1a7f37";
const FAIL_COLOUR: &str = "#cf222e";

/// The plot area inside the margins.
const LEFT: f64 = 76.0;
const RIGHT: f64 = WIDTH - 76.0;
const TOP: f64 = 80.0;
const BOTTOM: f64 = HEIGHT - 50.0;

/// The chart of one run, or `None` when the run ended in an error (nothing was measured).
pub fn render_svg(spec: &Spec, run: &SpecRun) -> Option<String> {
    let m = run.outcome.as_ref().ok()?;
    Some(render_chart(&Chart {
        name: &run.name,
        expect: run.expect.as_str(),
        passed: run.passed(),
        analysis: &m.analysis,
        memory: &m.series.memory,
        thresholds: &spec.assert,
    }))
}

/// What the chart shows.
struct Chart<'a> {
    name: &'a str,
    expect: &'a str,
    passed: bool,
    analysis: &'a Analysis,
    memory: &'a [CheckpointMemory],
    thresholds: &'a Thresholds,
}

/// A linear axis with round tick values.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    step: f64,
}

impl Axis {
    /// Ticks from `lo` to `hi`, computed from integers so they do not drift.
    fn ticks(&self) -> Vec<f64> {
        let n = ((self.hi - self.lo) / self.step).round() as i64;
        (0..=n).map(|k| self.lo + k as f64 * self.step).collect()
    }

    /// Position of `v` between `from` (at `lo`) and `to` (at `hi`).
    fn map(&self, v: f64, from: f64, to: f64) -> f64 {
        let span = self.hi - self.lo;
        if span <= 0.0 {
            return from;
        }
        from + (v - self.lo) / span * (to - from)
    }
}

/// The round step (1, 2, 2.5 or 5 times a power of ten) nearest above `raw`.
fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|&n| n >= norm - 1e-9)
        .unwrap_or(10.0);
    nice * magnitude
}

/// An axis over `lo..=hi` with about five ticks, `step` a round number of `unit`s.
fn axis(lo: f64, hi: f64, unit: f64) -> Axis {
    let step = nice_step((hi - lo) / 5.0 / unit) * unit;
    let lo = (lo / step + 1e-9).floor() * step;
    let hi = ((hi / step - 1e-9).ceil() * step).max(lo + step);
    Axis { lo, hi, step }
}

/// The byte unit labels use for values up to `max`: (divisor, name).
fn byte_unit(max: f64) -> (f64, &'static str) {
    if max >= 1024.0 * 1024.0 * 1024.0 {
        (1024.0 * 1024.0 * 1024.0, "GiB")
    } else if max >= 1024.0 * 1024.0 {
        (1024.0 * 1024.0, "MiB")
    } else if max >= 1024.0 {
        (1024.0, "KiB")
    } else {
        (1.0, "B")
    }
}

/// A byte axis over `values`, spanning at least `min_span` bytes, never below zero; with the
/// unit its labels use.
fn byte_axis(values: &[f64], min_span: f64) -> (Axis, (f64, &'static str)) {
    let mut lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        lo = 0.0;
        hi = 0.0;
    }
    let min_span = if min_span > 0.0 {
        min_span
    } else {
        (hi.abs() * 0.1).max(1024.0)
    };
    if hi - lo < min_span {
        let mid = (lo + hi) / 2.0;
        lo = mid - min_span / 2.0;
        hi = mid + min_span / 2.0;
    }
    if lo < 0.0 {
        hi -= lo;
        lo = 0.0;
    }
    let unit = byte_unit(hi);
    // Steps in whole bytes at least.
    let a = axis(lo, hi, unit.0.max(1.0));
    let a = if unit.0 == 1.0 && a.step < 1.0 {
        axis(lo.floor(), hi.ceil().max(lo.floor() + 5.0), 1.0)
    } else {
        a
    };
    (a, unit)
}

/// Decimals needed to write multiples of `step` exactly (at most 3).
fn decimals(step: f64) -> usize {
    (0..3)
        .find(|&d| {
            let scaled = step * 10f64.powi(d as i32);
            (scaled - scaled.round()).abs() < 1e-6
        })
        .unwrap_or(3)
}

/// A tick label in the axis' unit: `4.5 MiB`, `512 B`.
fn byte_label(v: f64, unit: (f64, &str), step: f64) -> String {
    let d = decimals(step / unit.0);
    format!("{:.*} {}", d, v / unit.0, unit.1)
}

/// A tick label for a request count: `6000`, `250k`.
fn request_label(v: f64) -> String {
    let v = v.round();
    if v.abs() >= 100_000.0 {
        let k = v / 1000.0;
        format!("{:.*}k", decimals(k), k)
    } else {
        format!("{v:.0}")
    }
}

/// Bytes per request as the title shows them.
pub fn rate(v: f64) -> String {
    format!("{v:+.1} B/request")
}

/// The fitted line of `ys` against `xs` with the slope the analysis found: through the mean of
/// the points it was fitted to (all but the post-warm-up one when there are three or more, as
/// in [`crate::analysis`]), from the first of them to the last.
fn fitted(xs: &[f64], ys: &[f64], slope: f64) -> Option<((f64, f64), (f64, f64))> {
    let skip = if xs.len() >= 3 { 1 } else { 0 };
    let (xs, ys) = (&xs[skip..], &ys[skip..]);
    if xs.len() < 2 || !slope.is_finite() {
        return None;
    }
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let at = |x: f64| (x, my + slope * (x - mx));
    Some((at(xs[0]), at(xs[xs.len() - 1])))
}

/// The growth per request a measure was judged against: the spec's limit, or the run's floor.
fn limit_of(growth: &crate::analysis::verdict::Growth, limit: Option<f64>) -> f64 {
    let floor = limit.unwrap_or_else(|| growth.floor_per_request());
    if floor.is_finite() {
        floor
    } else {
        0.0
    }
}

fn render_chart(c: &Chart) -> String {
    let a = c.analysis;
    let xs: Vec<f64> = c.memory.iter().map(|m| m.requests as f64).collect();
    // The JS heap as judged: V8's own classes left out (see `analysis::verdict`).
    let heap: Vec<f64> = if a.app_heap_bytes.len() == c.memory.len() {
        a.app_heap_bytes.iter().map(|&b| b as f64).collect()
    } else {
        c.memory.iter().map(|m| m.heap_bytes as f64).collect()
    };
    let buffers: Vec<f64> = c
        .memory
        .iter()
        .map(|m| m.array_buffer_bytes as f64)
        .collect();
    let first = xs.first().copied().unwrap_or(0.0).min(0.0);
    let last = xs.iter().copied().fold(0.0, f64::max).max(1.0);
    let x_axis = axis(first, last, 1.0);
    let measured = last - xs.get(1).copied().unwrap_or(first);
    let heap_fit = fitted(&xs, &heap, a.heap.per_request);
    let buffer_fit = fitted(&xs, &buffers, a.array_buffers.per_request);
    // The fitted lines' ends count as values so that they stay inside the plot.
    let with_fit = |values: &[f64], fit: Option<((f64, f64), (f64, f64))>| {
        let mut v = values.to_vec();
        if let Some((p, q)) = fit {
            v.extend([p.1, q.1]);
        }
        v
    };
    let (heap_axis, heap_unit) = byte_axis(
        &with_fit(&heap, heap_fit),
        limit_of(&a.heap, c.thresholds.max_heap_bytes_per_request) * measured,
    );
    let (buffer_axis, buffer_unit) = byte_axis(
        &with_fit(&buffers, buffer_fit),
        limit_of(
            &a.array_buffers,
            c.thresholds.max_array_buffer_bytes_per_request,
        ) * measured,
    );
    let px = |x: f64| x_axis.map(x, LEFT, RIGHT);
    let py_heap = |y: f64| heap_axis.map(y, BOTTOM, TOP);
    let py_buffer = |y: f64| buffer_axis.map(y, BOTTOM, TOP);

    let verdict = a.verdict.as_str();
    let name = escape_text(c.name);
    let headline = format!("{name}: {verdict}, expected {}", c.expect);
    let slopes = format!(
        "heap {} · array buffers {} (fitted over the checkpoints)",
        rate(a.heap.per_request),
        rate(a.array_buffers.per_request)
    );

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{TOTAL_HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {TOTAL_HEIGHT}\" font-family=\"Helvetica, Arial, sans-serif\" \
         font-size=\"11\">"
    );
    let _ = writeln!(s, "<title>{headline}; {slopes}</title>");
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{TOTAL_HEIGHT}\" fill=\"#ffffff\"/>"
    );
    // Title: verdict, then the slopes.
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"22\" font-size=\"15\" font-weight=\"bold\" fill=\"#1f2328\">\
         {headline}</text>"
    );
    let (badge, badge_colour) = if c.passed {
        ("PASS", PASS_COLOUR)
    } else {
        ("FAIL", FAIL_COLOUR)
    };
    let _ = writeln!(
        s,
        "<text x=\"{RIGHT}\" y=\"22\" font-size=\"15\" font-weight=\"bold\" \
         text-anchor=\"end\" fill=\"{badge_colour}\">{badge}</text>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"42\" font-size=\"12\" fill=\"#1f2328\">{slopes}</text>"
    );
    // Legend.
    let legend_y = 62.0;
    let mut lx = LEFT;
    for (label, colour, dashed) in [
        ("JS heap after GC", HEAP_COLOUR, false),
        ("array buffers", BUFFER_COLOUR, false),
        ("fitted slope", "#57606a", true),
    ] {
        let dash = if dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "<line x1=\"{lx}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"{colour}\" \
             stroke-width=\"2.5\"{dash}/>",
            y = legend_y - 4.0,
            x2 = lx + 22.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{x}\" y=\"{legend_y}\" fill=\"#1f2328\">{label}</text>",
            x = lx + 28.0
        );
        lx += 28.0 + label.len() as f64 * 6.2 + 24.0;
    }
    // Grid and heap ticks (left).
    for t in heap_axis.ticks() {
        let y = py_heap(t);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{RIGHT}\" y2=\"{y:.1}\" stroke=\"#d0d7de\" \
             stroke-width=\"0.5\"/>"
        );
        let _ = writeln!(
            s,
            "<text x=\"{x}\" y=\"{ty:.1}\" text-anchor=\"end\" fill=\"{HEAP_COLOUR}\">{}</text>",
            byte_label(t, heap_unit, heap_axis.step),
            x = LEFT - 6.0,
            ty = y + 4.0
        );
    }
    // Array-buffer ticks (right).
    for t in buffer_axis.ticks() {
        let y = py_buffer(t);
        let _ = writeln!(
            s,
            "<line x1=\"{RIGHT}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\" stroke=\"{BUFFER_COLOUR}\"/>",
            x2 = RIGHT + 4.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{x}\" y=\"{ty:.1}\" fill=\"{BUFFER_COLOUR}\">{}</text>",
            byte_label(t, buffer_unit, buffer_axis.step),
            x = RIGHT + 7.0,
            ty = y + 4.0
        );
    }
    // Request ticks (bottom).
    for t in x_axis.ticks() {
        let x = px(t);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{BOTTOM}\" x2=\"{x:.1}\" y2=\"{y2}\" stroke=\"#57606a\"/>",
            y2 = BOTTOM + 4.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"middle\" fill=\"#1f2328\">{}</text>",
            request_label(t),
            y = BOTTOM + 17.0
        );
    }
    // Frame and axis titles.
    let _ = writeln!(
        s,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{w}\" height=\"{h}\" fill=\"none\" \
         stroke=\"#57606a\"/>",
        w = RIGHT - LEFT,
        h = BOTTOM - TOP
    );
    let _ = writeln!(
        s,
        "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" fill=\"#1f2328\">measured requests</text>",
        x = (LEFT + RIGHT) / 2.0,
        y = HEIGHT - 12.0
    );
    let mid = (TOP + BOTTOM) / 2.0;
    let _ = writeln!(
        s,
        "<text transform=\"translate(14 {mid}) rotate(-90)\" text-anchor=\"middle\" \
         fill=\"{HEAP_COLOUR}\">JS heap</text>"
    );
    let _ = writeln!(
        s,
        "<text transform=\"translate({x} {mid}) rotate(90)\" text-anchor=\"middle\" \
         fill=\"{BUFFER_COLOUR}\">array buffers</text>",
        x = WIDTH - 14.0
    );
    // Series: fitted line, then the measurements on top.
    type Series<'a> = (
        &'a [f64],
        Option<((f64, f64), (f64, f64))>,
        &'a str,
        &'a dyn Fn(f64) -> f64,
        &'a str,
    );
    let series: [Series; 2] = [
        (&heap, heap_fit, HEAP_COLOUR, &py_heap, "heap"),
        (
            &buffers,
            buffer_fit,
            BUFFER_COLOUR,
            &py_buffer,
            "array buffers",
        ),
    ];
    for (ys, fit, colour, py, label) in series {
        if let Some((p, q)) = fit {
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" \
                 stroke-width=\"1.5\" stroke-dasharray=\"6 4\" opacity=\"0.8\"/>",
                px(p.0),
                py(p.1),
                px(q.0),
                py(q.1)
            );
        }
        let points: Vec<String> = xs
            .iter()
            .zip(ys.iter())
            .map(|(&x, &y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\"/>",
            points.join(" ")
        );
        for (&x, &y) in xs.iter().zip(ys.iter()) {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\">\
                 <title>{} requests: {label} {}</title></circle>",
                px(x),
                py(y),
                request_label(x),
                super::human_bytes(y)
            );
        }
    }
    survivors_panel(&mut s, c, &xs);
    s.push_str("</svg>\n");
    s
}

/// The survivors panel (see the module docs), below the bytes panel.
fn survivors_panel(s: &mut String, c: &Chart, xs: &[f64]) {
    let top = HEIGHT + 30.0;
    let bottom = TOTAL_HEIGHT - 40.0;
    // Requests of each interval: from the post-warm-up snapshot to each checkpoint.
    let intervals: Vec<f64> = xs.windows(2).map(|w| (w[1] - w[0]).max(0.0)).collect();
    if intervals.is_empty() {
        return;
    }
    let floor_per_request = c.analysis.detection_floor.objects_per_1k_requests / 1000.0;
    let floors: Vec<f64> = intervals.iter().map(|r| r * floor_per_request).collect();
    let suspects: Vec<&crate::analysis::Suspect> = c
        .analysis
        .suspects
        .iter()
        .filter(|x| x.survivors_by_interval.len() == intervals.len())
        .take(MAX_SUSPECTS_DRAWN)
        .collect();
    let most = suspects
        .iter()
        .flat_map(|x| x.survivors_by_interval.iter().map(|&n| n as f64))
        .chain(floors.iter().map(|f| 2.0 * f))
        .fold(1.0, f64::max);
    let y_axis = axis(0.0, most, 1.0);
    let py = |v: f64| y_axis.map(v, bottom, top);
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"{y}\" font-size=\"12\" font-weight=\"bold\" fill=\"#1f2328\">\
         new objects surviving, per interval (the leak criterion)</text>",
        y = top - 10.0
    );
    for t in y_axis.ticks() {
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{RIGHT}\" y2=\"{y:.1}\" stroke=\"#eaeef2\"/>\
             <text x=\"{x}\" y=\"{ty:.1}\" text-anchor=\"end\" fill=\"#57606a\">{t}</text>",
            y = py(t),
            x = LEFT - 6.0,
            ty = py(t) + 4.0
        );
    }
    let width = (RIGHT - LEFT) / intervals.len() as f64;
    let bar = (width * 0.7 / suspects.len().max(1) as f64).min(40.0);
    for (k, &requests) in intervals.iter().enumerate() {
        let x0 = LEFT + width * k as f64;
        let verified = k + 1 < intervals.len();
        let label = if verified {
            format!("interval {} ({} req.)", k + 1, request_label(requests))
        } else {
            format!("interval {} (not verified)", k + 1)
        };
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"middle\" fill=\"#57606a\">{label}</text>",
            x = x0 + width / 2.0,
            y = bottom + 16.0
        );
        if !verified {
            let _ = writeln!(
                s,
                "<rect x=\"{x0:.1}\" y=\"{top}\" width=\"{width:.1}\" height=\"{h:.1}\" \
                 fill=\"#f6f8fa\"/>",
                h = bottom - top
            );
        }
        let start = x0 + (width - bar * suspects.len() as f64) / 2.0;
        for (i, suspect) in suspects.iter().enumerate() {
            let n = suspect.survivors_by_interval[k] as f64;
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" \
                 fill=\"{colour}\" opacity=\"{o}\"><title>{class}: {n} survivors</title></rect>",
                x = start + bar * i as f64,
                y = py(n),
                h = bottom - py(n),
                colour = SUSPECT_COLOURS[i],
                o = if verified { "0.9" } else { "0.3" },
                class = escape_text(&suspect.class)
            );
        }
        // The floor: what a class leaking at the detection floor leaves in this interval.
        let _ = writeln!(
            s,
            "<line x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y:.1}\" stroke=\"{FAIL_COLOUR}\" \
             stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>",
            y = py(floors[k]),
            x1 = x0 + width
        );
    }
    let _ = writeln!(
        s,
        "<rect x=\"{LEFT}\" y=\"{top}\" width=\"{w}\" height=\"{h}\" fill=\"none\" \
         stroke=\"#57606a\"/>",
        w = RIGHT - LEFT,
        h = bottom - top
    );
    // Legend: the floor, then each suspect drawn.
    let mut x = LEFT;
    let y = TOTAL_HEIGHT - 8.0;
    let _ = writeln!(
        s,
        "<line x1=\"{x}\" y1=\"{ly}\" x2=\"{x2}\" y2=\"{ly}\" stroke=\"{FAIL_COLOUR}\" \
         stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/><text x=\"{tx}\" y=\"{y}\" fill=\"#1f2328\">\
         detection floor (1 per {per} requests)</text>",
        ly = y - 4.0,
        x2 = x + 18.0,
        tx = x + 22.0,
        per = request_label(c.analysis.detection_floor.requests_per_object.round())
    );
    x += 245.0;
    if suspects.is_empty() {
        let _ = writeln!(
            s,
            "<text x=\"{x}\" y=\"{y}\" fill=\"#57606a\">no class kept new objects in every interval</text>"
        );
    }
    for (i, suspect) in suspects.iter().enumerate() {
        let name: String = suspect.class.chars().take(14).collect();
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{ry}\" width=\"10\" height=\"10\" fill=\"{colour}\"/>\
             <text x=\"{tx}\" y=\"{y}\" fill=\"#1f2328\">{name}</text>",
            ry = y - 9.0,
            colour = SUSPECT_COLOURS[i],
            tx = x + 14.0,
            name = escape_text(&name)
        );
        x += 105.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::verdict::{Growth, Verdict};

    fn growth(per_request: f64) -> Growth {
        Growth {
            per_request,
            by_interval: Vec::new(),
            exceeds: false,
            ..Growth::default()
        }
    }

    fn memory(requests: u64, heap: u64, buffers: u64) -> CheckpointMemory {
        CheckpointMemory {
            requests,
            heap_bytes: heap,
            array_buffer_bytes: buffers,
            external_bytes: 0,
            rss_bytes: 0,
            failed_requests: 0,
        }
    }

    #[test]
    fn names_are_escaped_and_the_chart_is_standalone() {
        let analysis = Analysis {
            verdict: Verdict::Leak,
            heap: growth(100.0),
            array_buffers: growth(-0.04),
            suspects: Vec::new(),
            reasons: Vec::new(),
            total_heap_bytes_per_request: 100.0,
            app_heap_bytes: Vec::new(),
            detection_floor: crate::analysis::DetectionFloor {
                requests_per_object: 500.0,
                objects_per_1k_requests: 2.0,
                heap_bytes_per_request: 8.0,
                array_buffer_bytes_per_request: 8.0,
            },
            borderline: Vec::new(),
            collections: Vec::new(),
            extensions: Vec::new(),
        };
        let memory = [
            memory(0, 5_000_000, 10_000),
            memory(2000, 5_200_000, 10_000),
            memory(4000, 5_400_000, 10_100),
            memory(6000, 5_600_000, 10_000),
        ];
        let svg = render_chart(&Chart {
            name: "a<b> & \"c\"\u{1}",
            expect: "clean",
            passed: false,
            analysis: &analysis,
            memory: &memory,
            thresholds: &Thresholds::default(),
        });
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("viewBox=\"0 0 640 570\""));
        assert!(svg.contains("a&lt;b&gt; &amp; &quot;c&quot;: leak, expected clean"));
        assert!(!svg.contains('\u{1}'));
        assert!(svg.contains("heap +100.0 B/request"));
        assert!(svg.contains("array buffers -0.0 B/request"));
        assert!(svg.contains(">FAIL<"));
        assert!(svg.contains(">6000<"));
        assert!(svg.contains(" MiB<"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // Two fitted lines and their legend, then the floor in each of the 3 intervals and
        // its legend.
        assert_eq!(svg.matches("stroke-dasharray").count(), 7);
        assert!(svg.contains("new objects surviving, per interval"));
        assert!(svg.contains(">interval 1 (2000 req.)<"));
        assert!(svg.contains(">interval 3 (not verified)<"));
        assert!(svg.contains("no class kept new objects in every interval"));
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1200.0), 2000.0);
        assert_eq!(nice_step(2.2), 2.5);
        let a = axis(0.0, 6000.0, 1.0);
        assert_eq!(a.ticks(), vec![0.0, 2000.0, 4000.0, 6000.0]);
        let (a, unit) = byte_axis(&[5.0 * 1048576.0, 6.0 * 1048576.0], 0.0);
        assert_eq!(unit.1, "MiB");
        let labels: Vec<String> = a
            .ticks()
            .iter()
            .map(|&t| byte_label(t, unit, a.step))
            .collect();
        assert_eq!(labels.first().map(String::as_str), Some("5.0 MiB"));
        assert_eq!(labels.last().map(String::as_str), Some("6.0 MiB"));
        // A flat series spans what the threshold allows.
        let (a, unit) = byte_axis(&[10_000.0, 10_000.0], 64.0 * 4000.0);
        assert!(a.hi - a.lo >= 64.0 * 4000.0);
        assert!(a.lo >= 0.0);
        assert_eq!(unit.1, "KiB");
        assert_eq!(request_label(250_000.0), "250k");
        assert_eq!(request_label(4000.0), "4000");
    }

    #[test]
    fn the_fitted_line_leaves_out_the_post_warmup_snapshot() {
        let xs = [0.0, 2000.0, 4000.0, 6000.0];
        let ys = [0.0, 1e6, 1.2e6, 1.4e6];
        let ((x0, y0), (x1, y1)) = fitted(&xs, &ys, 100.0).unwrap();
        assert_eq!((x0, x1), (2000.0, 6000.0));
        assert!((y0 - 1e6).abs() < 1e-6 && (y1 - 1.4e6).abs() < 1e-6);
    }
}
