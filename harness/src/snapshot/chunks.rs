//! The scanner's input, one chunk at a time: where chunks come from (a file read on a thread
//! of its own, or bytes in memory), and the numbers parsed ahead in each.
//!
//! Most of a snapshot is runs of `digits,` (`nodes` and `edges`), and the parsing thread's
//! work there is two jobs: turning bytes into integers, and integers into records. The first
//! needs no context beyond the chunk itself, so the thread that reads the file does part of it,
//! while the parsing thread builds records from the previous chunk: both cores work.
//!
//! The reading thread cannot know where it is in the document (a chunk may start inside a
//! string), so it only offers: "from right after this chunk's first `,` up to right after a
//! later `,`, the bytes are whole items `ws* digits ws* ,`, and here are their values". The
//! scanner uses that offer only when it is inside a number array and has just read that
//! first `,`, and then the offer is exactly what its byte loop would have produced. Anything
//! the byte loop would reject (a number too long or too large, two commas, a stray byte) ends
//! the offer before it, so every error is still found, at its byte, by the byte loop.
//!
//! How much of a chunk the reading thread parses is its *share*, which it adjusts as it goes:
//! the scanner parses the rest of the run itself, with the same code ([`super::numbers`]).
//! When the scanner waits for chunks (none queued), the reading thread is the slower one and
//! parses less; when chunks pile up, it parses more. Parsing all of it on the reading thread,
//! as first done, left the parsing thread idle a quarter of the time; the split is decided per
//! chunk, so it follows what else the machine is doing.

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::numbers::whole_items;

/// Size of one chunk of input handed to the scanner.
const CHUNK: usize = 1 << 20;

/// Where the scanner's bytes come from.
pub(crate) trait ChunkSource {
    /// Fills `chunk` (cleared by the caller) with the next chunk, its numbers parsed ahead;
    /// empty bytes mean the end.
    fn fill(&mut self, chunk: &mut Chunk) -> io::Result<()>;
}

/// A source over bytes already in memory (tests, fuzzing).
pub(crate) struct SliceSource<'a> {
    rest: &'a [u8],
    piece: usize,
}

impl<'a> SliceSource<'a> {
    /// Serves `bytes` in pieces of `piece` bytes, so chunk boundaries get exercised.
    pub(crate) fn new(bytes: &'a [u8], piece: usize) -> Self {
        SliceSource {
            rest: bytes,
            piece: piece.max(1),
        }
    }
}

impl ChunkSource for SliceSource<'_> {
    fn fill(&mut self, chunk: &mut Chunk) -> io::Result<()> {
        let n = self.piece.min(self.rest.len());
        chunk.bytes.extend_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        // Half, so that both the numbers parsed ahead and those the scanner parses itself are
        // exercised at every chunk size.
        chunk.parse_ahead(SHARES / 2);
        Ok(())
    }
}

/// The reading thread's share of a chunk's run is counted in 64ths.
const SHARES: usize = 64;
/// The smallest share: a run parsed ahead is never empty for want of bytes.
const MIN_SHARE: usize = 4;
/// Chunks the reading thread may have sent and the scanner not yet taken.
const QUEUE: usize = 4;

/// Reads a `Read` on its own thread, a few chunks ahead of the scanner, and parses part of the
/// numbers of each chunk ahead, so that reading (and gzip inflation) and part of the parsing
/// overlap with the rest of the parsing on a second core.
pub(crate) struct Prefetch {
    full: Receiver<io::Result<Chunk>>,
    empty: SyncSender<Chunk>,
    /// Chunks sent and not yet taken, which tells the reading thread which side is slower.
    queued: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Prefetch {
    /// Starts the reading thread.
    pub(crate) fn spawn(mut input: Box<dyn Read + Send>) -> Prefetch {
        let (full_tx, full) = sync_channel::<io::Result<Chunk>>(QUEUE);
        let (empty, empty_rx) = sync_channel::<Chunk>(8);
        let queued = Arc::new(AtomicUsize::new(0));
        let sent = Arc::clone(&queued);
        let thread = std::thread::spawn(move || {
            let mut share = SHARES / 2;
            loop {
                let mut chunk = empty_rx.try_recv().unwrap_or_default();
                chunk.clear();
                chunk.bytes.reserve(CHUNK);
                let result = read_chunk(&mut input, &mut chunk.bytes);
                let done = !matches!(&result, Ok(()) if !chunk.bytes.is_empty());
                if result.is_ok() {
                    chunk.parse_ahead(share);
                }
                let waiting = sent.fetch_add(1, Ordering::Relaxed);
                if chunk.run_end > chunk.run_start {
                    share = next_share(share, waiting);
                }
                if full_tx.send(result.map(|()| chunk)).is_err() || done {
                    return;
                }
            }
        });
        Prefetch {
            full,
            empty,
            queued,
            thread: Some(thread),
        }
    }
}

/// The reading thread's next share, from how many chunks were waiting for the scanner when it
/// finished this one: none means the scanner waits for it (parse less), a nearly full queue
/// means it waits for the scanner (parse more).
fn next_share(share: usize, waiting: usize) -> usize {
    match waiting {
        0 => share.saturating_sub(2).max(MIN_SHARE),
        w if w + 1 >= QUEUE => (share + 2).min(SHARES),
        _ => share,
    }
}

/// Reads up to one chunk, retrying short reads so chunks stay large.
fn read_chunk(input: &mut dyn Read, buf: &mut Vec<u8>) -> io::Result<()> {
    // `read_to_end` fills spare capacity without zeroing it first, as `resize` would; it
    // retries interrupted reads and keeps what was read before an error.
    let room = CHUNK.saturating_sub(buf.len()) as u64;
    input.take(room).read_to_end(buf).map(|_| ())
}

impl ChunkSource for Prefetch {
    fn fill(&mut self, buf: &mut Chunk) -> io::Result<()> {
        let received = self.full.recv();
        if received.is_ok() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        match received {
            Ok(Ok(chunk)) => {
                let old = std::mem::replace(buf, chunk);
                let _ = self.empty.try_send(old);
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            // The thread ended after sending the last (empty) chunk.
            Err(_) => Ok(()),
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        // Unblock the thread (it may be waiting to send), then wait for it.
        let (_, dead) = sync_channel(1);
        self.full = dead;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One chunk of input and the numbers parsed ahead in it.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    /// The bytes.
    pub(crate) bytes: Vec<u8>,
    /// The values of the items in `bytes[run_start..run_end]`, in order.
    pub(crate) numbers: Vec<u32>,
    /// Right after the chunk's first `,` (0 when there is none). The run of whole items from
    /// there may go on past `run_end`: the scanner parses that part itself.
    pub(crate) run_start: usize,
    /// Right after the last `,` of the items parsed ahead (`run_start` when there are none).
    pub(crate) run_end: usize,
}

impl Chunk {
    /// Empties the chunk, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.numbers.clear();
        self.run_start = 0;
        self.run_end = 0;
    }

    /// Finds the run of whole items after the first `,` and parses the part of it that lies
    /// in the first `share` 64ths of the chunk.
    pub(crate) fn parse_ahead(&mut self, share: usize) {
        self.numbers.clear();
        self.run_start = 0;
        self.run_end = 0;
        let Some(first) = memchr::memchr(b',', &self.bytes) else {
            return;
        };
        let start = first + 1;
        // Items end at a `,` inside the limit, so the part is a prefix of the whole run.
        let limit = if share >= SHARES {
            self.bytes.len()
        } else {
            (self.bytes.len() / SHARES * share).max(start)
        };
        let (_, end) = whole_items(&self.bytes[..limit], start, &mut self.numbers);
        self.run_start = start;
        self.run_end = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ahead(text: &str) -> (Vec<u32>, usize, usize) {
        let mut chunk = Chunk {
            bytes: text.as_bytes().to_vec(),
            ..Chunk::default()
        };
        chunk.parse_ahead(SHARES);
        (chunk.numbers, chunk.run_start, chunk.run_end)
    }

    #[test]
    fn a_run_starts_after_the_first_comma_and_ends_after_a_comma() {
        assert_eq!(ahead("12,3,45\n,6,7"), (vec![3, 45, 6], 3, 11));
        assert_eq!(ahead("[1, 2 ,\t3,"), (vec![2, 3], 3, 10));
        assert_eq!(ahead(",4294967295,"), (vec![4294967295], 1, 12));
        for v in [0u32, 7, 10, 99, 100, 1234567, 9999999, 10000000, u32::MAX] {
            let text = format!(",{v},{v}\n,{v} ,");
            assert_eq!(ahead(&text).0, vec![v, v, v], "{text:?}");
        }
    }

    #[test]
    fn a_share_parses_a_prefix_of_the_run() {
        let text = format!(",{}", "1,22,333\n,".repeat(20));
        let mut whole = Chunk {
            bytes: text.as_bytes().to_vec(),
            ..Chunk::default()
        };
        whole.parse_ahead(SHARES);
        for share in [0, 1, MIN_SHARE, 31, 32, 63] {
            let mut part = Chunk {
                bytes: text.as_bytes().to_vec(),
                ..Chunk::default()
            };
            part.parse_ahead(share);
            assert_eq!(part.run_start, 1);
            assert!(part.run_end < whole.run_end, "{share}");
            assert_eq!(whole.run_end, text.len());
            assert!(whole.numbers.starts_with(&part.numbers), "{share}");
        }
    }

    #[test]
    fn the_share_follows_the_slower_side() {
        assert_eq!(next_share(32, 0), 30);
        assert_eq!(next_share(MIN_SHARE, 0), MIN_SHARE);
        assert_eq!(next_share(32, 1), 32);
        assert_eq!(next_share(32, QUEUE - 1), 34);
        assert_eq!(next_share(SHARES, QUEUE), SHARES);
    }

    #[test]
    fn anything_the_byte_loop_rejects_ends_the_run_before_it() {
        assert_eq!(ahead("no comma here"), (vec![], 0, 0));
        assert_eq!(ahead("1,2,,3,"), (vec![2], 2, 4));
        assert_eq!(ahead("1,2,4294967296,"), (vec![2], 2, 4));
        assert_eq!(ahead("1,2,12345678901,"), (vec![2], 2, 4));
        assert_eq!(ahead("1,2,3 4,"), (vec![2], 2, 4));
        assert_eq!(ahead("1,2,-3,"), (vec![2], 2, 4));
        assert_eq!(ahead("1,2,3]"), (vec![2], 2, 4));
        assert_eq!(ahead("\"a,b\",\"c\""), (vec![], 3, 3));
    }
}
