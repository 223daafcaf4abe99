//! The malformed-input corpus (`tests/fixtures/malformed/`, written by its `make.js`): every
//! spec is refused with one line at `FILE:LINE:COLUMN`, every snapshot with an error, and none
//! of them panics or hangs.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// How long one input may take: parsing any of them takes milliseconds.
const LIMIT: Duration = Duration::from_secs(30);

fn corpus(kind: &str, ext: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/malformed")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// Runs `f` on its own thread: its result, or why it gave none (a panic, a hang).
fn guarded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(outcome);
    });
    match rx.recv_timeout(LIMIT) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err("panicked".to_string()),
        Err(_) => Err(format!("no answer within {LIMIT:?}")),
    }
}

#[test]
fn every_malformed_spec_is_a_clear_error() {
    let files = corpus("specs", "yaml");
    assert!(files.len() >= 100, "{} specs", files.len());
    let mut wrong = Vec::new();
    for file in &files {
        let path = file.clone();
        let prefix = format!("{}:", file.display());
        match guarded(move || leakgate::spec::load_spec(&path).map(|_| ())) {
            Ok(Ok(())) => wrong.push(format!("{}: accepted", file.display())),
            Ok(Err(e)) => {
                let text = e.to_string();
                let position = text.strip_prefix(&prefix).and_then(|rest| {
                    let mut parts = rest.splitn(3, ':');
                    let line = parts.next()?.parse::<u32>().ok()?;
                    let column = parts.next()?.parse::<u32>().ok()?;
                    let message = parts.next()?.trim();
                    (line >= 1 && column >= 1 && message.len() > 10).then_some(())
                });
                if position.is_none() || text.contains('\n') {
                    wrong.push(format!("not one FILE:LINE:COLUMN line: {text}"));
                }
            }
            Err(why) => wrong.push(format!("{}: {why}", file.display())),
        }
    }
    assert_none_wrong(&wrong, files.len());
}

/// Fails with every input that went `wrong`, of `count`.
fn assert_none_wrong(wrong: &[String], count: usize) {
    assert!(
        wrong.is_empty(),
        "{} of {count}:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_malformed_snapshot_is_a_clear_error() {
    let files = corpus("snapshots", "heapsnapshot");
    assert!(files.len() >= 50, "{} snapshots", files.len());
    let mut wrong = Vec::new();
    for file in &files {
        let path = file.clone();
        // Read whole, and without keeping the edges (`leakgate summary`): the same error.
        let read = move || {
            let whole = leakgate::snapshot::read_file(&path).map(|_| ());
            let nodes = leakgate::snapshot::read_file_without_edges(&path).map(|_| ());
            (whole, nodes)
        };
        match guarded(read) {
            Ok((Ok(()), _)) => wrong.push(format!("{}: read as a snapshot", file.display())),
            Ok((Err(e), nodes)) => {
                let text = e.to_string();
                if text.trim().len() < 10 {
                    wrong.push(format!("{}: unclear error `{text}`", file.display()));
                }
                let other = nodes.err().map(|e| e.to_string());
                if other.as_deref() != Some(text.as_str()) {
                    wrong.push(format!(
                        "{}: read without edges: {other:?}, not `{text}`",
                        file.display()
                    ));
                }
            }
            Err(why) => wrong.push(format!("{}: {why}", file.display())),
        }
    }
    assert_none_wrong(&wrong, files.len());
}
