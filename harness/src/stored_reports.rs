//! Stable reports kept under version control: `snapshots/NAME.snap` beside the spec file.
//!
//! Each spec's stable report ([`crate::report::stable`]) is compared with the one stored for
//! it, so a change in what an app retains shows in review as a diff of a few lines. The files
//! use insta's format (a `---` header, then the report), so `cargo insta review` still works
//! on them, but nothing here needs insta or cargo-insta: the comparison is a plain text
//! comparison, a changed or new report is written as `NAME.snap.new` beside the stored one,
//! and [`accept_pending`] (`leakgate accept`) or [`store`] (`leakgate run --accept`) makes it
//! the stored one. Nothing panics: a missing snapshot is an outcome, not an assertion.
//!
//! What is written depends on [`UpdateMode`], read from `CI` and `INSTA_UPDATE` (insta's own
//! variable, with its meanings) by [`crate::env`].

use std::io;
use std::path::{Path, PathBuf};

use crate::spec::Spec;

/// What a comparison may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateMode {
    /// Locally (`INSTA_UPDATE` unset or `auto`, no `CI`): a new or changed report is written
    /// as `NAME.snap.new` for review.
    #[default]
    Pending,
    /// `CI=true` or `INSTA_UPDATE=no`: nothing is written; a new or changed report fails.
    Strict,
    /// `INSTA_UPDATE=always`: a new or changed report is stored as `NAME.snap` at once.
    Always,
    /// `INSTA_UPDATE=unseen`: a new report is stored as `NAME.snap`, a changed one written as
    /// `NAME.snap.new`.
    Unseen,
}

/// How a run's report compares with the stored one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// The stored report is the same.
    Matches,
    /// The spec has no stored report yet.
    New {
        /// The stored report's file (it does not exist unless `stored` is true).
        file: PathBuf,
        /// Where this run's report was written for review, if it was.
        pending: Option<PathBuf>,
        /// Whether it was stored as the snapshot at once ([`UpdateMode::Always`], `Unseen`).
        stored: bool,
    },
    /// The stored report differs.
    Changed {
        /// The stored report's file.
        file: PathBuf,
        /// A line diff, stored report first (`-`), this run's after (`+`).
        diff: String,
        /// Where this run's report was written for review, if it was.
        pending: Option<PathBuf>,
        /// Whether it replaced the stored one ([`UpdateMode::Always`]).
        stored: bool,
    },
}

/// The folder of a spec's report snapshot: `snapshots/` beside the spec file.
pub fn snapshot_dir(spec: &Spec) -> PathBuf {
    let dir = spec.file.parent().unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    });
    dir.join("snapshots")
}

/// The stored report of `spec`: `snapshots/NAME.snap`.
pub fn snapshot_file(spec: &Spec) -> PathBuf {
    snapshot_dir(spec).join(format!("{}.snap", spec.name.replace(['/', '\\'], "__")))
}

/// Where a new or changed report waits for review: `NAME.snap.new`.
pub fn pending_file(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// Compares `report` (the stable report of a run of `spec`) with the stored one, writing what
/// `mode` allows.
pub fn compare(spec: &Spec, report: &str, mode: UpdateMode) -> io::Result<Comparison> {
    let file = snapshot_file(spec);
    let stored = match std::fs::read_to_string(&file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let pending = pending_file(&file);
    match stored {
        Some(text) if snapshot_body(&text).trim_end() == report.trim_end() => {
            remove_if_present(&pending)?;
            Ok(Comparison::Matches)
        }
        Some(text) => {
            let diff = line_diff(snapshot_body(&text), report);
            let (pending, stored) = match mode {
                UpdateMode::Strict => (None, false),
                UpdateMode::Always => {
                    write_snapshot(&file, spec, report)?;
                    remove_if_present(&pending)?;
                    (None, true)
                }
                UpdateMode::Pending | UpdateMode::Unseen => {
                    write_snapshot(&pending, spec, report)?;
                    (Some(pending), false)
                }
            };
            Ok(Comparison::Changed {
                file,
                diff,
                pending,
                stored,
            })
        }
        None => {
            let (pending, stored) = match mode {
                UpdateMode::Strict => (None, false),
                UpdateMode::Always | UpdateMode::Unseen => {
                    write_snapshot(&file, spec, report)?;
                    remove_if_present(&pending)?;
                    (None, true)
                }
                UpdateMode::Pending => {
                    write_snapshot(&pending, spec, report)?;
                    (Some(pending), false)
                }
            };
            Ok(Comparison::New {
                file,
                pending,
                stored,
            })
        }
    }
}

/// Stores `report` as the snapshot of `spec` (`leakgate run --accept`). Returns the file when
/// it was written, `None` when the stored report was already the same.
pub fn store(spec: &Spec, report: &str) -> io::Result<Option<PathBuf>> {
    match compare(spec, report, UpdateMode::Always)? {
        Comparison::Matches => Ok(None),
        Comparison::New { file, .. } | Comparison::Changed { file, .. } => Ok(Some(file)),
    }
}

/// Makes each pending report (`NAME.snap.new`) of `specs` the stored one (`leakgate accept`).
/// Returns the snapshot files written.
pub fn accept_pending(specs: &[Spec]) -> io::Result<Vec<PathBuf>> {
    let mut accepted = Vec::new();
    for spec in specs {
        let file = snapshot_file(spec);
        let pending = pending_file(&file);
        match std::fs::rename(&pending, &file) {
            Ok(()) => accepted.push(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(accepted)
}

fn remove_if_present(file: &Path) -> io::Result<()> {
    match std::fs::remove_file(file) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes a report in insta's snapshot format. The folder is made readable by the user alone
/// when it is created (reports name the app's classes and variables).
fn write_snapshot(file: &Path, spec: &Spec, report: &str) -> io::Result<()> {
    if let Some(dir) = file.parent() {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            restrict(dir)?;
        }
    }
    let source = spec
        .file
        .file_name()
        .map_or_else(|| spec.name.clone(), |n| n.to_string_lossy().into_owned());
    let mut text = format!("---\nsource: {source}\n---\n{}", report.trim_end());
    text.push('\n');
    std::fs::write(file, text)
}

#[cfg(unix)]
fn restrict(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn restrict(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// The contents of a snapshot file: what follows its `---` header.
pub fn snapshot_body(stored: &str) -> &str {
    stored
        .strip_prefix("---\n")
        .and_then(|rest| rest.find("\n---\n").map(|i| &rest[i + 5..]))
        .unwrap_or(stored)
}

/// A line diff of `old` and `new` (longest common subsequence): unchanged lines start with a
/// space, removed ones with `-`, added ones with `+`.
pub fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.trim_end().lines().collect();
    let b: Vec<&str> = new.trim_end().lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!(" {}\n", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diff_marks_changes() {
        assert_eq!(line_diff("a\nb\nc\n", "a\nx\nc\n"), " a\n-b\n+x\n c\n");
        assert_eq!(line_diff("a\n", "a\nb\n"), " a\n+b\n");
    }

    #[test]
    fn snapshot_body_skips_the_header() {
        let stored = "---\nsource: x.rs\n---\nspec: hello\nverdict: clean\n";
        assert_eq!(snapshot_body(stored), "spec: hello\nverdict: clean\n");
        assert_eq!(snapshot_body("no header\n"), "no header\n");
    }

    fn spec_in(dir: &Path) -> Spec {
        let file = dir.join("hello.yaml");
        std::fs::write(dir.join("server.js"), "").unwrap();
        std::fs::write(
            &file,
            "app:\n  script: server.js\nload:\n  requests: [\"GET /\"]\n",
        )
        .unwrap();
        crate::spec::load_spec(&file).unwrap()
    }

    #[test]
    fn a_new_report_waits_for_review_then_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_in(dir.path());
        let report = "spec: hello\nverdict: clean\n";
        let Comparison::New {
            file,
            pending: Some(pending),
            stored: false,
        } = compare(&spec, report, UpdateMode::Pending).unwrap()
        else {
            panic!("a new report is pending");
        };
        assert!(!file.exists());
        assert_eq!(
            snapshot_body(&std::fs::read_to_string(&pending).unwrap()),
            report
        );
        assert_eq!(
            accept_pending(std::slice::from_ref(&spec)).unwrap(),
            vec![file.clone()]
        );
        assert!(!pending.exists());
        assert_eq!(
            compare(&spec, report, UpdateMode::Strict).unwrap(),
            Comparison::Matches
        );
        assert!(accept_pending(&[spec]).unwrap().is_empty());
    }

    #[test]
    fn strict_mode_writes_nothing_and_always_mode_stores() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_in(dir.path());
        let first = compare(&spec, "verdict: clean\n", UpdateMode::Strict).unwrap();
        assert!(matches!(
            first,
            Comparison::New {
                pending: None,
                stored: false,
                ..
            }
        ));
        assert!(!snapshot_dir(&spec).exists());

        assert!(store(&spec, "verdict: clean\n").unwrap().is_some());
        assert!(store(&spec, "verdict: clean\n").unwrap().is_none());
        let changed = compare(&spec, "verdict: leak\n", UpdateMode::Strict).unwrap();
        let Comparison::Changed {
            diff,
            pending: None,
            stored: false,
            ..
        } = changed
        else {
            panic!("a changed report: {changed:?}");
        };
        assert_eq!(diff, "-verdict: clean\n+verdict: leak\n");
        let changed = compare(&spec, "verdict: leak\n", UpdateMode::Always).unwrap();
        assert!(matches!(changed, Comparison::Changed { stored: true, .. }));
        assert_eq!(
            compare(&spec, "verdict: leak\n", UpdateMode::Strict).unwrap(),
            Comparison::Matches
        );
    }
}
