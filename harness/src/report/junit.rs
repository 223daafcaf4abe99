//! The JUnit XML report of `leakgate run`, the format most CI services show as a test tab.
//!
//! One `<testsuite name="leakgate">` with a `<testcase>` per spec: a spec that did not meet its
//! `expect` has a `<failure>`, a spec that could not run has an `<error>`; both carry the text
//! report as their body, and a passing spec carries it as `<system-out>`. The XML is written by
//! hand; [`escape_text`] and [`escape_attr`] are also used by the SVG chart.

use std::fmt::Write as _;

use super::render_run;
use crate::runner::SpecRun;
use crate::spec::Spec;

/// The `classname` of every test case.
pub const CLASSNAME: &str = "leakgate.specs";

/// Whether `c` may appear in an XML 1.0 document at all (control characters other than tab,
/// newline and carriage return may not, not even as character references).
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// Escapes element text: `&`, `<`, `>`, quotes; characters XML does not allow are dropped.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if allowed(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// Escapes an attribute value (for double or single quotes). Tabs and line breaks become
/// character references, which attribute-value normalisation would otherwise turn into spaces.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push_str(&escape_text(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out
}

/// What a run amounts to as a test case.
enum CaseOutcome {
    Passed,
    /// Did not meet its expect: the message.
    Failed(String),
    /// Could not run: whose failure it is, and the message.
    Errored(crate::runner::ErrorKind, String),
}

fn case_outcome(run: &SpecRun) -> CaseOutcome {
    match &run.outcome {
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("").to_string();
            CaseOutcome::Errored(e.kind(), first)
        }
        Ok(_) if run.passed() => CaseOutcome::Passed,
        Ok(m) => CaseOutcome::Failed(format!(
            "expected {}, found {}",
            run.expect.as_str(),
            m.analysis.verdict.as_str()
        )),
    }
}

/// Seconds the run took (0 when it ended in an error, which records no timings).
fn seconds(run: &SpecRun) -> f64 {
    run.outcome.as_ref().map_or(0.0, |m| m.timings.total)
}

/// The JUnit XML of the runs, in the given order.
pub fn render_junit(runs: &[(&Spec, &SpecRun)]) -> String {
    let outcomes: Vec<CaseOutcome> = runs.iter().map(|(_, run)| case_outcome(run)).collect();
    let failures = outcomes
        .iter()
        .filter(|o| matches!(o, CaseOutcome::Failed(_)))
        .count();
    let errors = outcomes
        .iter()
        .filter(|o| matches!(o, CaseOutcome::Errored(..)))
        .count();
    let total: f64 = runs.iter().map(|(_, run)| seconds(run)).sum();

    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"leakgate\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" \
         time=\"{total:.3}\">",
        runs.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"leakgate\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" \
         skipped=\"0\" time=\"{total:.3}\">",
        runs.len()
    );
    for ((spec, run), outcome) in runs.iter().zip(&outcomes) {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{CLASSNAME}\" file=\"{}\" time=\"{:.3}\">",
            escape_attr(&run.name),
            escape_attr(&spec.file.display().to_string()),
            seconds(run)
        );
        let report = escape_text(&render_run(run));
        match outcome {
            CaseOutcome::Passed => {
                let _ = write!(out, "\n      <system-out>{report}</system-out>\n    ");
            }
            CaseOutcome::Failed(message) => {
                let _ = write!(
                    out,
                    "\n      <failure message=\"{}\" type=\"leakgate.verdict\">{report}</failure>\n    ",
                    escape_attr(message)
                );
            }
            CaseOutcome::Errored(kind, message) => {
                let _ = write!(
                    out,
                    "\n      <error message=\"{}\" type=\"leakgate.error.{kind}\">{report}</error>\n    ",
                    escape_attr(message)
                );
            }
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_markup_and_drops_control_characters() {
        assert_eq!(
            escape_text("a & b < c > d \"e\" 'f'"),
            "a &amp; b &lt; c &gt; d &quot;e&quot; &apos;f&apos;"
        );
        assert_eq!(escape_text("red\u{1b}[31m\u{0}\u{7}x"), "red[31mx");
        assert_eq!(escape_text("line\n\ttab\r"), "line\n\ttab\r");
        assert_eq!(escape_text("\u{FFFE}\u{FFFF}é😀"), "é😀");
        // Escaping is not idempotent by accident: an entity is escaped again.
        assert_eq!(escape_text("&amp;"), "&amp;amp;");
    }

    #[test]
    fn attributes_keep_line_breaks_as_references() {
        assert_eq!(
            escape_attr("expected \"leak\",\nfound <clean>\t&\u{8}"),
            "expected &quot;leak&quot;,&#10;found &lt;clean&gt;&#9;&amp;"
        );
        assert_eq!(escape_attr("it's"), "it&apos;s");
    }
}
