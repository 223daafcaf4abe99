//! The app's output: reader threads copy stdout and stderr line by line into a bounded ring
//! (and optionally a file), and spot the inspector URL and Node waiting for the debugger.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::AppError;

/// How many lines of the app's output are kept in memory.
const LOG_LINES: usize = 2000;
/// How many inspector URLs are kept (one per node process the app started).
const MAX_INSPECTOR_URLS: usize = 256;
/// Longer lines are cut to this many bytes in memory (the log file gets them whole).
const MAX_LINE_BYTES: usize = 16 * 1024;

/// The app's output as lines, in arrival order: a bounded ring in memory, and optionally a file.
#[derive(Clone)]
pub(super) struct LineLog(Arc<Mutex<LogInner>>);

pub(super) struct LogInner {
    lines: VecDeque<String>,
    file: Option<File>,
    /// Node printed "Waiting for the debugger to disconnect...": the script has ended, but an
    /// inspector session keeps the process alive.
    pub(super) held_by_debugger: bool,
    /// Every inspector URL printed so far, in order. A command such as `npm start` runs
    /// several node processes, each with its own inspector.
    pub(super) inspector_urls: Vec<String>,
}

impl LineLog {
    pub(super) fn new(path: Option<&Path>) -> Result<LineLog, AppError> {
        let file = match path {
            Some(path) => Some(
                crate::private::append(path).map_err(AppError::io_at("open the app log", path))?,
            ),
            None => None,
        };
        Ok(LineLog(Arc::new(Mutex::new(LogInner {
            lines: VecDeque::with_capacity(LOG_LINES),
            file,
            held_by_debugger: false,
            inspector_urls: Vec::new(),
        }))))
    }

    /// The state; a panic elsewhere while it was held leaves it usable.
    pub(super) fn inner(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, line: &str) {
        let mut inner = self.inner();
        if let Some(file) = inner.file.as_mut() {
            // A full disk must not stop the test; the lines stay in memory.
            if writeln!(file, "{line}").is_err() {
                inner.file = None;
            }
        }
        if inner.lines.len() == LOG_LINES {
            inner.lines.pop_front();
        }
        let mut end = line.len().min(MAX_LINE_BYTES);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        inner.lines.push_back(line[..end].to_string());
    }

    pub(super) fn tail(&self, n: usize) -> String {
        let inner = self.inner();
        let skip = inner.lines.len().saturating_sub(n);
        let tail: Vec<&str> = inner.lines.iter().skip(skip).map(String::as_str).collect();
        tail.join("\n")
    }
}

/// The last `max_lines` lines of a log file the app wrote (see [`super::AppConfig::log_path`])
/// after byte `from` (where the file ended before this run: a kept run folder's log grows run
/// after run), read from its end only, so that a long log costs no more than a short one;
/// `None` when the file cannot be read or holds nothing new. Lines are cut like those kept in
/// memory.
pub fn tail_of_file(path: &Path, from: u64, max_lines: usize) -> Option<Vec<String>> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let window = (max_lines as u64 + 1) * MAX_LINE_BYTES as u64;
    let start = len.saturating_sub(window).max(from);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    file.take(window).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > from && !lines.is_empty() {
        // The window began inside a line.
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(max_lines);
    let tail: Vec<String> = lines[skip..]
        .iter()
        .map(|line| {
            let mut end = line.len().min(MAX_LINE_BYTES);
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line[..end].to_string()
        })
        .collect();
    (!tail.is_empty()).then_some(tail)
}

/// Copies one of the child's pipes into the log, line by line, until it closes. On stderr
/// (`url_tx` given) it also hands over the inspector URL once Node prints it, and notes when
/// Node waits for the debugger to disconnect.
pub(super) fn spawn_reader(
    name: &str,
    pipe: impl Read + Send + 'static,
    log: LineLog,
    url_tx: Option<tokio::sync::oneshot::Sender<String>>,
) -> Result<JoinHandle<()>, AppError> {
    let is_stderr = url_tx.is_some();
    let mut url_tx = url_tx;
    std::thread::Builder::new()
        .name(format!("leakgate-app-{name}"))
        .spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&buf);
                let line = text.trim_end_matches(['\n', '\r']);
                if is_stderr {
                    if let Some(url) = line.strip_prefix("Debugger listening on ") {
                        if url.starts_with("ws://") {
                            let mut inner = log.inner();
                            if inner.inspector_urls.len() < MAX_INSPECTOR_URLS {
                                inner.inspector_urls.push(url.trim().to_string());
                            }
                            drop(inner);
                            if let Some(tx) = url_tx.take() {
                                let _ = tx.send(url.trim().to_string());
                            }
                        }
                    }
                }
                if is_stderr && line.starts_with("Waiting for the debugger to disconnect") {
                    log.inner().held_by_debugger = true;
                }
                log.push(line);
            }
        })
        .map_err(AppError::io(
            "could not start a thread reading the app's output",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_tail_is_its_last_lines_read_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        assert_eq!(tail_of_file(&path, 0, 3), None, "no file");
        std::fs::write(&path, "").unwrap();
        assert_eq!(tail_of_file(&path, 0, 3), None, "an empty file");
        let mut text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        // A line longer than lines are kept, then the last ones.
        text.push_str(&"x".repeat(2 * MAX_LINE_BYTES));
        text.push_str("\nsecond to last\nlast");
        std::fs::write(&path, &text).unwrap();
        let tail = tail_of_file(&path, 0, 3).unwrap();
        assert_eq!(tail.len(), 3);
        assert_eq!(tail[0].len(), MAX_LINE_BYTES, "a long line is cut");
        assert_eq!(&tail[1..], ["second to last", "last"]);
        std::fs::write(&path, "only\n").unwrap();
        assert_eq!(tail_of_file(&path, 0, 3).unwrap(), ["only"]);
        // An earlier run's lines are not this run's.
        std::fs::write(&path, "earlier\nthis run\n").unwrap();
        assert_eq!(tail_of_file(&path, 8, 3).unwrap(), ["this run"]);
        assert_eq!(tail_of_file(&path, 17, 3), None, "nothing new");
    }
}
