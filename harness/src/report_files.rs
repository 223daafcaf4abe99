//! The report files of a run, written the same way by every front end: `leakgate run
//! --report-dir`, `cargo test` (beside its artifacts) and, through the CLI, the npm entry.
//!
//! Per spec `NAME.json` (its entry of the `--json` report), `NAME.txt` (the text report printed
//! on stderr) and `NAME.svg` (the memory chart; none for a spec that could not run); for a
//! whole run also `junit.xml`. The renderers in [`crate::report`] make the text; this module
//! only names and writes files, so the front ends cannot drift apart.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::report::{render_junit, render_run, render_svg, SpecJson};
use crate::runner::{safe_name, SpecRun};
use crate::spec::Spec;

/// A report file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    /// The file or folder.
    pub path: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

/// Writes `text` to `path`, making its folder first. Reports name the app's classes, variables
/// and files, so a new folder is made readable by the user alone and a file is written so.
pub fn write_file(path: &Path, text: &str) -> Result<(), WriteError> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError { path, source }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::private::create_dir_all(parent).map_err(fail(parent))?;
    }
    crate::private::write(path, text).map_err(fail(path))
}

/// `value` as pretty JSON with a final newline.
pub fn json_text<T: serde::Serialize>(value: &T) -> String {
    // The report types serialise infallibly (no maps with non-string keys).
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// File names (without extension) for the specs' reports: the spec name made safe, with `-2`,
/// `-3`... when two specs would share one (`junit` is taken).
pub fn report_stems(names: &[&str]) -> Vec<String> {
    let mut taken = HashSet::new();
    taken.insert("junit".to_string());
    names
        .iter()
        .map(|name| {
            let base = safe_name(name);
            let mut stem = base.clone();
            let mut n = 2;
            while !taken.insert(stem.clone()) {
                stem = format!("{base}-{n}");
                n += 1;
            }
            stem
        })
        .collect()
}

/// Writes one spec's `STEM.json`, `STEM.txt` and (when it ran) `STEM.svg` into `dir`.
pub fn write_spec_reports(
    dir: &Path,
    stem: &str,
    spec: &Spec,
    run: &SpecRun,
) -> Result<(), WriteError> {
    write_file(
        &dir.join(format!("{stem}.json")),
        &json_text(&SpecJson::from_run(run)),
    )?;
    write_file(&dir.join(format!("{stem}.txt")), &render_run(run))?;
    if let Some(svg) = render_svg(spec, run) {
        write_file(&dir.join(format!("{stem}.svg")), &svg)?;
    }
    Ok(())
}

/// Writes every spec's reports into `dir` and `dir/junit.xml` for all.
pub fn write_report_dir(dir: &Path, pairs: &[(&Spec, &SpecRun)]) -> Result<(), WriteError> {
    let names: Vec<&str> = pairs.iter().map(|(_, run)| run.name.as_str()).collect();
    for ((spec, run), stem) in pairs.iter().zip(report_stems(&names)) {
        write_spec_reports(dir, &stem, spec, run)?;
    }
    write_file(&dir.join("junit.xml"), &render_junit(pairs))
}

/// Appends `text` to `path` (GitHub's step summary).
pub fn append_file(path: &Path, text: &str) -> Result<(), WriteError> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| WriteError {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::report_stems;

    #[cfg(unix)]
    #[test]
    fn report_files_are_readable_by_the_user_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("reports/a.json");
        super::write_file(&file, "{}\n").unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir.path().join("reports")), 0o700);
        super::write_file(&file, "[]\n").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "[]\n");
    }

    #[test]
    fn report_file_names_are_safe_and_distinct() {
        assert_eq!(
            report_stems(&["a b", "a/b", "junit", "ok"]),
            vec!["a_b", "a_b-2", "junit-2", "ok"]
        );
    }
}
