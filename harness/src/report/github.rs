//! GitHub Actions output: `::error` workflow commands that annotate the spec file of each spec
//! that failed or could not run, and a Markdown table for the job's step summary
//! (`$GITHUB_STEP_SUMMARY`).
//!
//! GitHub shows at most 10 `::error` annotations per step and 50 per job; what is beyond goes
//! to the step summary. A job's count is kept in `$RUNNER_TEMP/leakgate-annotations` (the
//! runner empties that folder for each job), so several `leakgate run` steps of one job share
//! the 50.
//!
//! Workflow commands are single lines, so messages and properties are escaped the way the
//! Actions runner unescapes them: `%` → `%25`, `\r` → `%0D`, `\n` → `%0A`, and in properties
//! also `:` → `%3A` and `,` → `%2C`.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::runner::SpecRun;
use crate::spec::Spec;

/// Escapes the message of a workflow command.
pub fn escape_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a property value (`file=`, `title=`) of a workflow command.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One `::error` line (without the line break).
pub fn error_command(file: &str, line: u32, title: &str, message: &str) -> String {
    format!(
        "::error file={},line={line},title={}::{}",
        escape_property(file),
        escape_property(title),
        escape_data(message.trim_end())
    )
}

/// `file` relative to `cwd` when it lies inside it (GitHub resolves annotation paths against
/// the workspace, which is where CI runs from); otherwise as given. `./` prefixes are dropped.
pub fn relative_path(file: &Path, cwd: &Path) -> PathBuf {
    let strip = |p: &Path| -> Option<PathBuf> {
        if !p.is_absolute() {
            return Some(p.to_path_buf());
        }
        p.strip_prefix(cwd).ok().map(Path::to_path_buf).or_else(|| {
            let real_cwd = cwd.canonicalize().ok()?;
            let real = p.canonicalize().ok()?;
            real.strip_prefix(real_cwd).ok().map(Path::to_path_buf)
        })
    };
    let rel = strip(file).unwrap_or_else(|| file.to_path_buf());
    rel.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// The annotation message of a run that did not pass (`None` when it passed).
fn message(run: &SpecRun) -> Option<String> {
    let m = match &run.outcome {
        Err(e) => {
            let mut text = format!("could not run ({} error): {e}", e.kind());
            if let Some(lines) = run.app_log_tail.as_deref().filter(|l| !l.is_empty()) {
                text.push_str("\nlast lines of the app's output:");
                for line in lines {
                    text.push_str("\n  ");
                    text.push_str(line);
                }
            }
            return Some(text);
        }
        Ok(_) if run.passed() => return None,
        Ok(m) => m,
    };
    let a = &m.analysis;
    let mut out = format!(
        "expected {}, found {}: heap {:+.1} B/request, array buffers {:+.1} B/request",
        run.expect.as_str(),
        a.verdict.as_str(),
        a.heap.per_request,
        a.array_buffers.per_request
    );
    if let Some(s) = a.suspects.first() {
        let _ = write!(
            out,
            "; top suspect {} ({:.1} per 1k requests)",
            s.class, s.per_1k_requests
        );
    }
    for reason in &a.reasons {
        let _ = write!(out, "\n- {reason}");
    }
    Some(out)
}

/// `::error` annotations GitHub shows per step at most; the rest go to the step summary.
pub const MAX_ERRORS_PER_STEP: usize = 10;

/// `::error` annotations GitHub shows per job at most.
pub const MAX_ERRORS_PER_JOB: usize = 50;

/// The file in `$RUNNER_TEMP` that counts the annotations of the job so far.
pub const JOB_COUNT_FILE: &str = "leakgate-annotations";

/// How many annotations this step may print, given the job's count file (none outside a job:
/// then only the per-step limit applies).
pub fn annotations_allowed(job_count: Option<&Path>) -> usize {
    let already = job_count
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| t.trim().parse::<usize>().ok())
        .unwrap_or(0);
    MAX_ERRORS_PER_STEP.min(MAX_ERRORS_PER_JOB.saturating_sub(already))
}

/// Adds `printed` annotations to the job's count file.
pub fn count_annotations(job_count: &Path, printed: usize) -> std::io::Result<()> {
    let already = std::fs::read_to_string(job_count)
        .ok()
        .and_then(|t| t.trim().parse::<usize>().ok())
        .unwrap_or(0);
    crate::private::write(job_count, format!("{}\n", already + printed))
}

/// One finding to annotate: a file of the repository, a line, a title and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Relative to the working folder.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// `leakgate NAME`.
    pub title: String,
    /// What is wrong there.
    pub message: String,
}

/// Whether an app-relative `file` is the app's own code: not a dependency, not Node's.
fn is_app_file(file: &str) -> bool {
    !file.is_empty()
        && !file.starts_with("node:")
        && !file.starts_with('/')
        && !file.contains("://")
        && !file
            .split(['/', '\\'])
            .any(|p| p == "node_modules" || p == "..")
}

/// Every finding of the runs, most important first: each failed or errored spec at its spec
/// file (at `expect:`, or at `app:` when it could not run), then, for leaks, the app's own
/// lines: where it allocates what leaks, and, for objects a dependency allocated, where the app
/// keeps them (the stores into the holding variable, else its declaration). Never a file under
/// `node_modules`, never Node's internals.
pub fn annotation_list(runs: &[(&Spec, &SpecRun)], cwd: &Path) -> Vec<Annotation> {
    let mut spec_lines = Vec::new();
    let mut app_lines: Vec<Annotation> = Vec::new();
    for (spec, run) in runs {
        let Some(message) = message(run) else {
            continue;
        };
        let line = if run.outcome.is_err() {
            spec.lines.app
        } else {
            spec.lines.expect
        };
        let title = format!("leakgate {}", run.name);
        spec_lines.push(Annotation {
            file: relative_path(&spec.file, cwd).display().to_string(),
            line,
            title: title.clone(),
            message,
        });
        let Ok(m) = &run.outcome else {
            continue;
        };
        let mut places: Vec<(String, u32, Vec<String>, &str)> = Vec::new();
        let mut add = |file: &str, line: u32, what: String, verb: &'static str| {
            if line == 0 || !is_app_file(file) {
                return;
            }
            let source = relative_path(&spec.app.cwd.join(file), cwd)
                .display()
                .to_string();
            match places
                .iter_mut()
                .find(|(f, l, _, v)| *f == source && *l == line && *v == verb)
            {
                Some((_, _, classes, _)) => {
                    if !classes.contains(&what) {
                        classes.push(what)
                    }
                }
                None => places.push((source, line, vec![what], verb)),
            }
        };
        for s in &m.explanation.allocation_sites {
            let Some(site) = s.sites.first() else {
                continue;
            };
            let what = match s.share_of_bytes {
                Some(share) => format!(
                    "{} (≈{} survivors, {:.0}% of its bytes, sampled)",
                    s.class,
                    site.count,
                    share * 100.0
                ),
                None => format!(
                    "{} ({} of {} traced survivors)",
                    s.class, site.count, s.traced
                ),
            };
            match &site.statement {
                Some(st) => add(&site.file, st.line, what, "allocated here and retained"),
                None if site.candidates.len() > 1 => {
                    for c in &site.candidates {
                        add(
                            &site.file,
                            c.line,
                            what.clone(),
                            "one of the places that allocate what leaks",
                        );
                    }
                }
                None => add(&site.file, site.line, what, "allocated here and retained"),
            }
        }
        for r in &m.explanation.retainers {
            // Where the app keeps it: always useful, and the only app line when a dependency
            // allocated the objects.
            let Some(kept) = r.clusters.first().and_then(|c| c.kept_at.as_ref()) else {
                continue;
            };
            let what = format!("{} (kept in `{}`)", r.class, kept.variable);
            if kept.stored_at.is_empty() {
                if let Some(d) = &kept.declared_at {
                    add(&d.file, d.line, what.clone(), "retained by this variable");
                }
            }
            for st in &kept.stored_at {
                add(&st.file, st.line, what.clone(), "stored here and retained");
            }
        }
        for (file, line, classes, verb) in places {
            app_lines.push(Annotation {
                file,
                line,
                title: title.clone(),
                message: format!("{verb}: {}", classes.join(", ")),
            });
        }
    }
    spec_lines.extend(app_lines);
    spec_lines
}

/// The `::error` lines, at most `allowed` (see [`annotations_allowed`]; the rest are listed by
/// [`overflow_summary`]), one per line; paths relative to `cwd`.
pub fn annotations(runs: &[(&Spec, &SpecRun)], cwd: &Path, allowed: usize) -> String {
    let mut out = String::new();
    for a in annotation_list(runs, cwd).iter().take(allowed) {
        out.push_str(&error_command(&a.file, a.line, &a.title, &a.message));
        out.push('\n');
    }
    out
}

/// The findings beyond the `allowed` annotations, as Markdown for the step summary; empty
/// when all fit.
pub fn overflow_summary(runs: &[(&Spec, &SpecRun)], cwd: &Path, allowed: usize) -> String {
    let list = annotation_list(runs, cwd);
    if list.len() <= allowed {
        return String::new();
    }
    let mut out = format!(
        "#### {} more findings (GitHub shows {MAX_ERRORS_PER_STEP} annotations per step and \
         {MAX_ERRORS_PER_JOB} per job)\n\n",
        list.len() - allowed
    );
    for a in &list[allowed..] {
        let _ = writeln!(
            out,
            "- `{}:{}` {}: {}",
            escape_cell(&a.file),
            a.line,
            escape_cell(&a.title),
            escape_cell(&a.message)
        );
    }
    out.push('\n');
    out
}

/// Makes `s` safe in a Markdown table cell: no line breaks, no cell separators, no HTML.
pub fn escape_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push_str("&#96;"),
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The step-summary Markdown: a heading and a table with one row per run.
pub fn step_summary(runs: &[(&Spec, &SpecRun)]) -> String {
    let passed = runs.iter().filter(|(_, r)| r.passed()).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### leakgate: {passed} of {} specs passed\n",
        runs.len()
    );
    out.push_str(
        "| spec | expect | verdict | heap B/request | array-buffer B/request | top suspect | time |\n",
    );
    out.push_str("|---|---|---|--:|--:|---|--:|\n");
    for (_, run) in runs {
        let mark = if run.passed() { "✅" } else { "❌" };
        let cells = match &run.outcome {
            Err(_) => [
                format!("{mark} error"),
                "–".to_string(),
                "–".to_string(),
                "–".to_string(),
                "–".to_string(),
            ],
            Ok(m) => {
                let a = &m.analysis;
                [
                    format!("{mark} {}", a.verdict.as_str()),
                    format!("{:+.1}", a.heap.per_request),
                    format!("{:+.1}", a.array_buffers.per_request),
                    a.suspects.first().map_or("–".to_string(), |s| {
                        format!(
                            "{} ({:.1} per 1k)",
                            escape_cell(&s.class),
                            s.per_1k_requests
                        )
                    }),
                    format!("{:.1} s", m.timings.total),
                ]
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            escape_cell(&run.name),
            run.expect.as_str(),
            cells.join(" | ")
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_shares_fifty_annotations_among_its_steps() {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join(JOB_COUNT_FILE);
        assert_eq!(annotations_allowed(None), MAX_ERRORS_PER_STEP);
        assert_eq!(annotations_allowed(Some(&count)), MAX_ERRORS_PER_STEP);
        for _ in 0..4 {
            count_annotations(&count, 10).unwrap();
        }
        count_annotations(&count, 3).unwrap();
        assert_eq!(annotations_allowed(Some(&count)), 7);
        count_annotations(&count, 7).unwrap();
        assert_eq!(annotations_allowed(Some(&count)), 0);
        count_annotations(&count, 0).unwrap();
        assert_eq!(std::fs::read_to_string(&count).unwrap(), "50\n");
    }

    #[test]
    fn messages_and_properties_are_escaped() {
        assert_eq!(
            escape_data("50% of\r\nrequests: a,b"),
            "50%25 of%0D%0Arequests: a,b"
        );
        assert_eq!(
            escape_property("50% of\r\nrequests: a,b"),
            "50%25 of%0D%0Arequests%3A a%2Cb"
        );
        // `%` first, so that escapes are not escaped twice.
        assert_eq!(escape_property("%3A"), "%253A");
        assert_eq!(
            error_command(
                "specs/a,b.yaml",
                7,
                "leakgate x: y",
                "expected clean, found leak\n- why\n"
            ),
            "::error file=specs/a%2Cb.yaml,line=7,title=leakgate x%3A y::expected clean, found leak%0A- why"
        );
    }

    #[test]
    fn paths_are_made_relative_to_the_working_folder() {
        let cwd = Path::new("/work/repo");
        assert_eq!(
            relative_path(Path::new("/work/repo/specs/a.yaml"), cwd),
            PathBuf::from("specs/a.yaml")
        );
        assert_eq!(
            relative_path(Path::new("./specs/a.yaml"), cwd),
            PathBuf::from("specs/a.yaml")
        );
        assert_eq!(
            relative_path(Path::new("/elsewhere/a.yaml"), cwd),
            PathBuf::from("/elsewhere/a.yaml")
        );
    }

    #[test]
    fn table_cells_cannot_break_the_table() {
        assert_eq!(
            escape_cell("Map | <Array>\nnext `x` \\"),
            "Map \\| &lt;Array&gt; next &#96;x&#96; \\\\"
        );
    }
}
