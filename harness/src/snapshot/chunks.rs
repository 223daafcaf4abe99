//! The scanner's input, one chunk at a time: where chunks come from (a file read on a thread
//! of its own, or bytes in memory), and the numbers parsed ahead in each.
//!
//! Most of a snapshot is runs of `digits,` (`nodes` and `edges`), and the parsing thread's
//! work there is two jobs: turning bytes into integers, and integers into records. The first
//! needs no context beyond the chunk itself, so the thread that reads the file does it too,
//! while the parsing thread builds records from the previous chunk: both cores work.
//!
//! The reading thread cannot know where it is in the document (a chunk may start inside a
//! string), so it only offers: "from right after this chunk's first `,` up to right after a
//! later `,`, the bytes are whole items `ws* digits ws* ,`, and here are their values". The
//! scanner uses that offer only when it is inside a number array and has just read that
//! first `,`, and then the offer is exactly what its byte loop would have produced. Anything
//! the byte loop would reject (a number too long or too large, two commas, a stray byte) ends
//! the offer before it, so every error is still found, at its byte, by the byte loop.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

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
        chunk.parse_ahead();
        Ok(())
    }
}

/// Reads a `Read` on its own thread, a few chunks ahead of the scanner, and parses the numbers
/// of each chunk ahead, so that reading (and gzip inflation) and half the parsing overlap with
/// the rest of the parsing on a second core.
pub(crate) struct Prefetch {
    full: Receiver<io::Result<Chunk>>,
    empty: SyncSender<Chunk>,
    thread: Option<JoinHandle<()>>,
}

impl Prefetch {
    /// Starts the reading thread.
    pub(crate) fn spawn(mut input: Box<dyn Read + Send>) -> Prefetch {
        let (full_tx, full) = sync_channel::<io::Result<Chunk>>(4);
        let (empty, empty_rx) = sync_channel::<Chunk>(8);
        let thread = std::thread::spawn(move || loop {
            let mut chunk = empty_rx.try_recv().unwrap_or_default();
            chunk.clear();
            chunk.bytes.reserve(CHUNK);
            let result = read_chunk(&mut input, &mut chunk.bytes);
            let done = !matches!(&result, Ok(()) if !chunk.bytes.is_empty());
            if result.is_ok() {
                chunk.parse_ahead();
            }
            if full_tx.send(result.map(|()| chunk)).is_err() || done {
                return;
            }
        });
        Prefetch {
            full,
            empty,
            thread: Some(thread),
        }
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
        match self.full.recv() {
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
    /// Right after the chunk's first `,` (0 when there is no run).
    pub(crate) run_start: usize,
    /// Right after the run's last `,`.
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

    /// Finds the run of whole items after the first `,` and parses it.
    pub(crate) fn parse_ahead(&mut self) {
        self.numbers.clear();
        self.run_start = 0;
        self.run_end = 0;
        let Some(first) = memchr::memchr(b',', &self.bytes) else {
            return;
        };
        let start = first + 1;
        let (numbers, end) = whole_items(&self.bytes, start, &mut self.numbers);
        if numbers > 0 {
            self.run_start = start;
            self.run_end = end;
        }
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// Parses items `ws* digits ws* ,` from `bytes[start..]` into `out` until one is not whole
/// or valid; returns how many were parsed and where the last one ended.
fn whole_items(bytes: &[u8], start: usize, out: &mut Vec<u32>) -> (usize, usize) {
    out.reserve(bytes.len().saturating_sub(start) / 2);
    let n = bytes.len();
    let mut i = start;
    let mut end = start;
    let mut parsed = 0;
    loop {
        // The common shapes, `digits,` and `digits\n,` with up to 7 digits, eight bytes at a
        // time; anything else goes through the byte loop below.
        if let Some(word) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
            let len = leading_digits(word);
            if (1..8).contains(&len) {
                let after = bytes[i + len];
                let next = if after == b',' {
                    Some(i + len + 1)
                } else if after == b'\n' && bytes.get(i + len + 1) == Some(&b',') {
                    Some(i + len + 2)
                } else {
                    None
                };
                if let Some(next) = next {
                    out.push(digits_value(word, len));
                    parsed += 1;
                    i = next;
                    end = i;
                    continue;
                }
            }
        }
        while i < n && is_space(bytes[i]) {
            i += 1;
        }
        let digits_start = i;
        let mut acc: u64 = 0;
        while i < n {
            let d = bytes[i].wrapping_sub(b'0');
            if d >= 10 || i - digits_start == 10 {
                break;
            }
            acc = acc * 10 + u64::from(d);
            i += 1;
        }
        // Eleven digits or more, or a value above u32: the byte loop reports it.
        if i == digits_start || acc > u64::from(u32::MAX) || (i < n && bytes[i].is_ascii_digit()) {
            return (parsed, end);
        }
        while i < n && is_space(bytes[i]) {
            i += 1;
        }
        if i >= n || bytes[i] != b',' {
            return (parsed, end);
        }
        i += 1;
        out.push(acc as u32);
        parsed += 1;
        end = i;
    }
}

/// How many of the eight bytes of `word` (first byte lowest) are ASCII digits before the first
/// byte that is not.
#[inline(always)]
fn leading_digits(word: u64) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(b'0'));
    // A byte is a digit when it is at most 9 in `x`. Below 0x80, adding 0x76 sets the high bit
    // exactly from 10 up, without carrying into the next byte; from 0x80 up the high bit is
    // set already.
    let not_digit = (((x & !HIGH) + ONES * 0x76) | x) & HIGH;
    (not_digit.trailing_zeros() / 8) as usize
}

/// The value of the first `len` (1 to 7) bytes of `word`, all ASCII digits.
#[inline(always)]
fn digits_value(word: u64, len: usize) -> u32 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Digit values in the low `len` bytes, then moved to the top so that the bytes below are
    // leading zeros.
    let mut v = (word ^ (ONES * u64::from(b'0'))) << (8 * (8 - len));
    v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    v = (v.wrapping_mul(10000) + (v >> 32)) & 0x0000_0000_FFFF_FFFF;
    v as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ahead(text: &str) -> (Vec<u32>, usize, usize) {
        let mut chunk = Chunk {
            bytes: text.as_bytes().to_vec(),
            ..Chunk::default()
        };
        chunk.parse_ahead();
        (chunk.numbers, chunk.run_start, chunk.run_end)
    }

    #[test]
    fn a_run_starts_after_the_first_comma_and_ends_after_a_comma() {
        assert_eq!(ahead("12,3,45\n,6,7"), (vec![3, 45, 6], 3, 11));
        assert_eq!(ahead("[1, 2 ,\t3,"), (vec![2, 3], 3, 10));
        assert_eq!(ahead(",4294967295,"), (vec![4294967295], 1, 12));
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
        assert_eq!(ahead("\"a,b\",\"c\""), (vec![], 0, 0));
    }

    /// The byte loop alone, for comparison.
    fn items_bytewise(bytes: &[u8]) -> Vec<u32> {
        let text = std::str::from_utf8(bytes).unwrap();
        let mut out = Vec::new();
        for item in text.split_inclusive(',') {
            let Some(body) = item.strip_suffix(',') else {
                break;
            };
            let digits = body.trim_matches(|c| matches!(c, ' ' | '\n' | '\r' | '\t'));
            if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                break;
            }
            match digits.parse::<u32>() {
                Ok(v) => out.push(v),
                Err(_) => break,
            }
        }
        out
    }

    #[test]
    fn eight_bytes_at_a_time_read_what_the_byte_loop_reads() {
        let alphabet = b"0123456789012345678901234567890123456789,,,,,,\n \t:a]\xc3";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let len = 1 + (seed % 40) as usize;
            let mut bytes = vec![b','];
            for _ in 0..len {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                bytes.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            let mut out = Vec::new();
            let (parsed, end) = whole_items(&bytes, 1, &mut out);
            let text = String::from_utf8_lossy(&bytes[1..]).into_owned();
            if std::str::from_utf8(&bytes).is_ok() {
                assert_eq!(out, items_bytewise(&bytes[1..]), "{text:?}");
            }
            assert_eq!(parsed, out.len());
            assert!(end == 1 || bytes[end - 1] == b',', "{text:?}");
        }
        for v in [0u32, 7, 10, 99, 100, 1234567, 9999999, 10000000, u32::MAX] {
            let text = format!(",{v},{v}\n,{v} ,");
            let (numbers, _, _) = ahead(&text);
            assert_eq!(numbers, vec![v, v, v], "{text:?}");
        }
    }
}
