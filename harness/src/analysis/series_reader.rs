//! Reading a live run's series while the run goes on.
//!
//! Each snapshot of a big heap takes V8 seconds to write and leakgate a fraction of that to
//! read, and the two used to follow each other: the run waited for every file to be read after
//! the last checkpoint, and again for all of them after each added checkpoint (see
//! [`super::extend`]). A [`SeriesReader`] reads each file on a thread of its own as soon as the
//! session has written it, while the app serves the next interval and V8 writes the next
//! snapshot, and keeps what it has folded (see [`Folding`]) across decisions: a checkpoint
//! added to a borderline run costs the read of one file, not of the whole series again.
//!
//! What it computes is exactly [`Series::read`] of the same files, by the same code.

use std::sync::mpsc;
use std::thread::JoinHandle;

use super::series::Folding;
use super::{Series, SeriesError, SnapshotFile};

enum Message {
    /// The next file of the series.
    Read(SnapshotFile),
    /// The series of the files sent so far.
    Take(tokio::sync::oneshot::Sender<Result<Series, SeriesError>>),
    /// A series taken before, given back because more files follow.
    Resume(Box<Series>),
    /// The reader is dropped: read nothing more (feeds may outlive it).
    Stop,
}

/// Why [`SeriesReader::take`] has no series.
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    /// A file of the series could not be read.
    #[error(transparent)]
    Snapshot(SeriesError),
    /// The reading thread stopped (a bug of leakgate's): what it said.
    #[error("the snapshot-reading thread stopped: {0}")]
    Stopped(String),
}

/// Where a session sends each snapshot of its series as it is written (cheap to clone).
#[derive(Debug, Clone)]
pub struct SeriesFeed(mpsc::Sender<Message>);

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Message::Read(_) => "Read",
            Message::Take(_) => "Take",
            Message::Resume(_) => "Resume",
            Message::Stop => "Stop",
        })
    }
}

impl SeriesFeed {
    /// Queues `file` to be read after those sent before it.
    pub fn push(&self, file: SnapshotFile) {
        // The reader outlives every feed it hands out; a send can only fail once it is gone.
        let _ = self.0.send(Message::Read(file));
    }
}

/// A series read on a thread of its own, file by file, as the run writes them.
#[derive(Debug)]
pub struct SeriesReader {
    messages: Option<mpsc::Sender<Message>>,
    thread: Option<JoinHandle<()>>,
}

impl SeriesReader {
    /// Starts the reading thread.
    pub fn start() -> std::io::Result<SeriesReader> {
        let (messages, inbox) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("series-reader".into())
            .spawn(move || fold(inbox))?;
        Ok(SeriesReader {
            messages: Some(messages),
            thread: Some(thread),
        })
    }

    /// The feed a session pushes its snapshots into.
    pub fn feed(&self) -> SeriesFeed {
        SeriesFeed(self.messages.clone().expect("set until dropped"))
    }

    /// The series of every file pushed so far, once they are read. The first file that could
    /// not be read is the error, and the reader reads nothing more.
    pub async fn take(&mut self) -> Result<Series, TakeError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let sent = self
            .messages
            .as_ref()
            .is_some_and(|m| m.send(Message::Take(reply)).is_ok());
        if sent {
            if let Ok(result) = answer.await {
                return result.map_err(TakeError::Snapshot);
            }
        }
        // The thread only ends before the reader is dropped if it panicked: say with what.
        let reason = match self.thread.take().map(JoinHandle::join) {
            Some(Err(payload)) => payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string()),
            _ => "it ended early".to_string(),
        };
        self.messages = None;
        Err(TakeError::Stopped(reason))
    }

    /// Gives back a series taken with [`SeriesReader::take`] before more files are pushed, so
    /// that its last graph is folded rather than read again.
    pub fn resume(&self, series: Series) {
        if let Some(messages) = &self.messages {
            let _ = messages.send(Message::Resume(Box::new(series)));
        }
    }
}

impl Drop for SeriesReader {
    fn drop(&mut self) {
        // The thread ends once the file it may be reading is read. Closing the channel alone
        // would not do: a session may still hold a feed.
        if let Some(messages) = self.messages.take() {
            let _ = messages.send(Message::Stop);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The reading thread: folds files in order until told to stop.
fn fold(inbox: mpsc::Receiver<Message>) {
    let mut folding = Folding::default();
    let mut failed = None;
    for message in inbox {
        match message {
            Message::Read(file) => {
                if failed.is_none() {
                    failed = folding.add(&file).err();
                }
            }
            Message::Take(reply) => {
                let result = match failed.take() {
                    Some(error) => Err(error),
                    None => Ok(folding.series()),
                };
                let _ = reply.send(result);
            }
            Message::Resume(series) => folding.resume(*series),
            Message::Stop => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: impl Into<std::path::PathBuf>, requests: u64) -> SnapshotFile {
        SnapshotFile {
            path: path.into(),
            requests,
            array_buffer_bytes: 0,
            external_bytes: 0,
            rss_bytes: 0,
            failed_requests: 0,
            allocation_profile: None,
        }
    }

    #[tokio::test]
    async fn a_reading_thread_that_panicked_is_an_error_with_its_message() {
        let (messages, inbox) = mpsc::channel::<Message>();
        let thread = std::thread::spawn(move || {
            drop(inbox);
            panic!("a bug in the fold");
        });
        let mut reader = SeriesReader {
            messages: Some(messages),
            thread: Some(thread),
        };
        let error = reader.take().await.expect_err("no series");
        assert!(
            matches!(&error, TakeError::Stopped(m) if m == "a bug in the fold"),
            "{error}"
        );
        // Asked again, it still answers with an error, and dropping it does not hang.
        assert!(reader.take().await.is_err());
    }

    #[tokio::test]
    async fn a_series_read_as_written_is_the_series_read_at_the_end() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let files: Vec<SnapshotFile> = ["keeper-0", "keeper-1", "keeper-2", "keeper-3"]
            .iter()
            .enumerate()
            .map(|(k, stem)| {
                file(
                    fixtures.join(format!("{stem}.heapsnapshot.gz")),
                    1000 * k as u64,
                )
            })
            .collect();
        let whole = Series::read(&files).expect("read at the end");
        let mut reader = SeriesReader::start().expect("thread");
        let feed = reader.feed();
        for file in &files[..3] {
            feed.push(file.clone());
        }
        // A decision after three files, then one more file, as an extended run does.
        let early = reader.take().await.expect("three files");
        assert_eq!(early.len(), 3);
        let json = |series: &Series| serde_json::to_value(&series.diff).expect("diff as JSON");
        let three = Series::read(&files[..3]).expect("three at the end");
        assert_eq!((&early.memory, json(&early)), (&three.memory, json(&three)));
        reader.resume(early);
        feed.push(files[3].clone());
        let read = reader.take().await.expect("four files");
        assert_eq!(read.memory, whole.memory);
        assert_eq!(json(&read), json(&whole));
        assert_eq!(read.last.node_count(), whole.last.node_count());
    }

    #[test]
    fn a_reader_dropped_while_a_feed_lives_stops() {
        let reader = SeriesReader::start().expect("thread");
        let feed = reader.feed();
        drop(reader);
        // Pushing after the reader is gone is harmless.
        feed.push(file("/nonexistent/y.heapsnapshot", 0));
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_read_is_the_error() {
        let mut reader = SeriesReader::start().expect("thread");
        reader.feed().push(file("/nonexistent/x.heapsnapshot", 0));
        let error = reader.take().await.expect_err("no such file");
        assert!(
            error.to_string().contains("/nonexistent/x.heapsnapshot"),
            "{error}"
        );
    }
}
