//! A byte scanner for the one JSON shape V8 writes, fed by chunks.
//!
//! A heap snapshot is one JSON object whose bulk is a few huge arrays of unsigned integers and
//! one array of strings. A generic JSON parser would build a tree many times the file's size;
//! this scanner instead walks the bytes once, hands each integer to a caller-supplied sink, and
//! copies strings straight into an arena. The file is read in chunks (on a second thread for
//! files, see [`super::chunks::Prefetch`]), so memory holds a few megabytes of input at a time,
//! never the file. Each chunk comes with the numbers the reading thread parsed ahead in part of
//! it ([`super::chunks`]), which the number loop takes whole when it reaches them, and parses
//! the rest of that run itself with the same fast code.

use super::chunks::{Chunk, ChunkSource};
use super::numbers::whole_items;
use super::SnapshotError;

/// The scanner: a current chunk, a position in it, and the file offset of the chunk's start.
pub(crate) struct Scanner<S: ChunkSource> {
    source: S,
    chunk: Chunk,
    pos: usize,
    base: u64,
    at_end: bool,
    /// The numbers of a run that the scanner parses itself (see [`super::chunks`]).
    own: Vec<u32>,
}

/// What [`Scanner::peek`] can see.
pub(crate) type Peeked = Option<u8>;

impl<S: ChunkSource> Scanner<S> {
    /// A scanner at the start of `source`.
    pub(crate) fn new(source: S) -> Self {
        Scanner {
            source,
            chunk: Chunk::default(),
            pos: 0,
            base: 0,
            at_end: false,
            own: Vec::new(),
        }
    }

    /// The file offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Loads the next chunk; `false` at the end of input.
    fn refill(&mut self) -> Result<bool, SnapshotError> {
        if self.at_end {
            return Ok(false);
        }
        self.base += self.chunk.bytes.len() as u64;
        self.chunk.clear();
        self.pos = 0;
        self.source
            .fill(&mut self.chunk)
            .map_err(|source| SnapshotError::Read {
                offset: self.base,
                source,
            })?;
        if self.chunk.bytes.is_empty() {
            self.at_end = true;
            return Ok(false);
        }
        Ok(true)
    }

    /// The next byte, without consuming it.
    pub(crate) fn peek(&mut self) -> Result<Peeked, SnapshotError> {
        if self.pos >= self.chunk.bytes.len() && !self.refill()? {
            return Ok(None);
        }
        Ok(Some(self.chunk.bytes[self.pos]))
    }

    /// Skips JSON white space and returns the next byte without consuming it.
    pub(crate) fn peek_token(&mut self) -> Result<Peeked, SnapshotError> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.pos += 1,
                other => return Ok(other),
            }
        }
    }

    /// Consumes the next non-white-space byte, which must be `want`.
    pub(crate) fn expect(&mut self, want: u8, context: &'static str) -> Result<(), SnapshotError> {
        match self.peek_token()? {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            found => Err(self.unexpected(found, describe_byte(want), context)),
        }
    }

    /// Consumes one byte that [`Self::peek_token`] just returned.
    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    /// An error for finding `found` where `expected` should be.
    pub(crate) fn unexpected(
        &self,
        found: Peeked,
        expected: &str,
        context: &'static str,
    ) -> SnapshotError {
        match found {
            None => SnapshotError::Truncated {
                offset: self.offset(),
                expected: expected.to_string(),
                context,
            },
            Some(b) => SnapshotError::Syntax {
                offset: self.offset(),
                expected: expected.to_string(),
                found: describe_found(b),
                context,
            },
        }
    }

    /// Reads an array of unsigned integers, handing them to `sink` in batches, in order, and
    /// returns how many there were. This is the hot loop of the reader: one pass over the bytes,
    /// numbers gathered into a small reused batch so the caller's per-record work stays in a
    /// tight loop of its own.
    pub(crate) fn read_u32_array<F>(
        &mut self,
        context: &'static str,
        mut sink: F,
    ) -> Result<u64, SnapshotError>
    where
        F: FnMut(&[u32]) -> Result<(), SnapshotError>,
    {
        self.expect(b'[', context)?;
        let mut count: u64 = 0;
        let mut batch: Vec<u32> = Vec::with_capacity(BATCH);
        let mut acc: u64 = 0;
        let mut digits: u32 = 0;
        // A `,` was read and its number has not started yet.
        let mut after_comma = false;
        // A number ended at white space: only `,` or `]` may follow.
        let mut after_number = false;
        loop {
            if self.pos >= self.chunk.bytes.len() && !self.refill()? {
                let expected = if after_comma {
                    "a number"
                } else {
                    "`,` or `]`"
                };
                return Err(self.unexpected(None, expected, context));
            }
            let chunk_offset = self.offset();
            let start = self.pos;
            let chunk = &self.chunk.bytes[start..];
            // Set at the `,` after which the reading thread parsed the numbers ahead.
            let mut parsed_ahead = false;
            for (i, &b) in chunk.iter().enumerate() {
                let d = b.wrapping_sub(b'0');
                if d < 10 {
                    if digits == 0 {
                        if after_number {
                            self.pos += i;
                            return Err(self.unexpected(Some(b), "`,` or `]`", context));
                        }
                        after_comma = false;
                    }
                    acc = acc * 10 + u64::from(d);
                    digits += 1;
                    if digits > 10 {
                        self.pos += i;
                        return Err(self.number_too_large(context));
                    }
                    continue;
                }
                match b {
                    b',' => {
                        if digits > 0 {
                            emit(
                                acc,
                                &mut batch,
                                &mut count,
                                chunk_offset + i as u64,
                                context,
                                &mut sink,
                            )?;
                        } else if !after_number {
                            self.pos += i;
                            return Err(self.unexpected(Some(b), "a number", context));
                        }
                        acc = 0;
                        digits = 0;
                        after_number = false;
                        after_comma = true;
                        if start + i + 1 == self.chunk.run_start {
                            parsed_ahead = true;
                            break;
                        }
                    }
                    b']' => {
                        if digits > 0 {
                            emit(
                                acc,
                                &mut batch,
                                &mut count,
                                chunk_offset + i as u64,
                                context,
                                &mut sink,
                            )?;
                        } else if after_comma {
                            self.pos += i;
                            return Err(self.unexpected(Some(b), "a number", context));
                        }
                        self.pos += i + 1;
                        let offset = self.offset();
                        sink(&batch).map_err(|e| e.at(offset))?;
                        return Ok(count);
                    }
                    b' ' | b'\n' | b'\r' | b'\t' => {
                        if digits > 0 {
                            emit(
                                acc,
                                &mut batch,
                                &mut count,
                                chunk_offset + i as u64,
                                context,
                                &mut sink,
                            )?;
                            acc = 0;
                            digits = 0;
                            after_number = true;
                        }
                    }
                    _ => {
                        self.pos += i;
                        let expected = if after_comma || (digits == 0 && !after_number) {
                            "a number"
                        } else {
                            "`,` or `]`"
                        };
                        return Err(self.unexpected(Some(b), expected, context));
                    }
                }
            }
            if parsed_ahead {
                // The numbers up to `run_end` are exactly what this loop would have emitted; the
                // rest of the run is parsed here, with the same code. The loop resumes after it
                // in the same state: right after a `,`. Errors of the sink are placed at the
                // run's end, wherever the reading thread's part ended.
                self.own.clear();
                let (_, end) = whole_items(&self.chunk.bytes, self.chunk.run_end, &mut self.own);
                let offset = self.base + end as u64;
                if !batch.is_empty() {
                    sink(&batch).map_err(|e| e.at(offset))?;
                    batch.clear();
                }
                for part in [&self.chunk.numbers, &self.own] {
                    if !part.is_empty() {
                        count += part.len() as u64;
                        sink(part).map_err(|e| e.at(offset))?;
                    }
                }
                self.pos = end;
                continue;
            }
            self.pos = self.chunk.bytes.len();
        }
    }

    fn number_too_large(&self, context: &'static str) -> SnapshotError {
        number_too_large(self.offset(), context)
    }

    fn string_too_long(&self, context: &'static str) -> SnapshotError {
        SnapshotError::NotASnapshot {
            offset: self.offset(),
            reason: format!(
                "a string in {context} is longer than V8's limit of {MAX_STRING_UNITS} \
                 characters"
            ),
        }
    }

    /// Reads a JSON string (the opening quote is next) and appends its UTF-8 text to `out`.
    /// Lone surrogates, which V8 writes for broken JS strings, become U+FFFD.
    ///
    /// Only the first [`KEPT_STRING_BYTES`] of a string are kept (V8 itself writes at most
    /// `--heap-snapshot-string-limit`, 1024 characters by default, of a string's contents);
    /// the rest is counted, not stored, so one huge string cannot grow memory. A string longer
    /// than V8 can make ([`MAX_STRING_UNITS`]) is an error.
    pub(crate) fn read_string(
        &mut self,
        out: &mut Vec<u8>,
        context: &'static str,
    ) -> Result<(), SnapshotError> {
        self.expect(b'"', context)?;
        let mut bound = StringBound::new(out.len());
        loop {
            bound.trim(out, false);
            if bound.units > MAX_STRING_UNITS {
                return Err(self.string_too_long(context));
            }
            if self.pos >= self.chunk.bytes.len() && !self.refill()? {
                return Err(self.unexpected(None, "the end of a string", context));
            }
            let chunk = &self.chunk.bytes[self.pos..];
            match memchr::memchr3(b'"', b'\\', b'\n', chunk) {
                None => {
                    out.extend_from_slice(chunk);
                    self.pos = self.chunk.bytes.len();
                }
                Some(i) => {
                    out.extend_from_slice(&chunk[..i]);
                    let b = chunk[i];
                    self.pos += i + 1;
                    match b {
                        b'"' => {
                            bound.trim(out, true);
                            if bound.units > MAX_STRING_UNITS {
                                return Err(self.string_too_long(context));
                            }
                            return Ok(());
                        }
                        b'\\' => self.read_escape(out, context)?,
                        _ => {
                            self.pos -= 1;
                            return Err(self.unexpected(Some(b), "the end of a string", context));
                        }
                    }
                }
            }
        }
    }

    /// Reads what follows a backslash (already consumed).
    fn read_escape(
        &mut self,
        out: &mut Vec<u8>,
        context: &'static str,
    ) -> Result<(), SnapshotError> {
        let Some(b) = self.peek()? else {
            return Err(self.unexpected(None, "an escape", context));
        };
        self.pos += 1;
        if b != b'u' {
            return self.simple_escape(b, out, context);
        }
        let mut unit = self.read_hex4(context)?;
        loop {
            if !(0xD800..0xDC00).contains(&unit) {
                // A BMP character, or a lone low surrogate (U+FFFD).
                push_char(out, char::from_u32(u32::from(unit)));
                return Ok(());
            }
            // A high surrogate: it pairs only with an escaped low surrogate right after it.
            if self.peek()? != Some(b'\\') {
                push_char(out, None);
                return Ok(());
            }
            self.pos += 1;
            let Some(next) = self.peek()? else {
                return Err(self.unexpected(None, "an escape", context));
            };
            self.pos += 1;
            if next != b'u' {
                push_char(out, None);
                return self.simple_escape(next, out, context);
            }
            let low = self.read_hex4(context)?;
            if (0xDC00..0xE000).contains(&low) {
                let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                push_char(out, char::from_u32(code));
                return Ok(());
            }
            // The high surrogate was lone; the unit after it is read afresh.
            push_char(out, None);
            unit = low;
        }
    }

    /// The one-letter escapes.
    fn simple_escape(
        &mut self,
        b: u8,
        out: &mut Vec<u8>,
        context: &'static str,
    ) -> Result<(), SnapshotError> {
        let byte = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            other => {
                self.pos -= 1;
                return Err(self.unexpected(Some(other), "a JSON escape", context));
            }
        };
        out.push(byte);
        Ok(())
    }

    fn read_hex4(&mut self, context: &'static str) -> Result<u16, SnapshotError> {
        let mut value: u16 = 0;
        for _ in 0..4 {
            let found = self.peek()?;
            let digit = match found {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                other => return Err(self.unexpected(other, "a hex digit", context)),
            };
            self.pos += 1;
            value = value << 4 | u16::from(digit);
        }
        Ok(value)
    }

    /// Skips one JSON value of any kind; with `capture`, appends its raw bytes there (up to
    /// `limit` bytes, beyond which it is an error). Nesting is counted, not recursed, so deep
    /// input cannot overflow the stack.
    pub(crate) fn skip_value(
        &mut self,
        mut capture: Option<&mut Vec<u8>>,
        limit: usize,
        context: &'static str,
    ) -> Result<(), SnapshotError> {
        let first = self.peek_token()?;
        let scalar = match first {
            Some(b'{' | b'[' | b'"') => false,
            Some(b'-' | b't' | b'f' | b'n' | b'0'..=b'9') => true,
            other => return Err(self.unexpected(other, "a JSON value", context)),
        };
        let mut depth: usize = 0;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let Some(b) = self.peek()? else {
                return Err(self.unexpected(None, "the end of a value", context));
            };
            if scalar && matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                return Ok(());
            }
            self.pos += 1;
            if let Some(out) = capture.as_deref_mut() {
                if out.len() >= limit {
                    return Err(SnapshotError::Syntax {
                        offset: self.offset(),
                        expected: format!("a value shorter than {limit} bytes"),
                        found: "a longer one".to_string(),
                        context,
                    });
                }
                out.push(b);
            }
            if scalar {
                continue;
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
    }
}

/// Numbers handed to a sink at once.
const BATCH: usize = 4096;

/// Adds one finished number to the batch (checking that it fits 32 bits), flushing a full batch.
#[inline(always)]
fn emit<F>(
    acc: u64,
    batch: &mut Vec<u32>,
    count: &mut u64,
    offset: u64,
    context: &'static str,
    sink: &mut F,
) -> Result<(), SnapshotError>
where
    F: FnMut(&[u32]) -> Result<(), SnapshotError>,
{
    if acc > u64::from(u32::MAX) {
        return Err(number_too_large(offset, context));
    }
    batch.push(acc as u32);
    *count += 1;
    if batch.len() == BATCH {
        sink(batch).map_err(|e| e.at(offset))?;
        batch.clear();
    }
    Ok(())
}

fn number_too_large(offset: u64, context: &'static str) -> SnapshotError {
    SnapshotError::Syntax {
        offset,
        expected: "an unsigned 32-bit integer".to_string(),
        found: "a larger number".to_string(),
        context,
    }
}

/// Appends a character, or U+FFFD for `None` (a lone surrogate).
fn push_char(out: &mut Vec<u8>, ch: Option<char>) {
    let mut utf8 = [0u8; 4];
    let ch = ch.unwrap_or(char::REPLACEMENT_CHARACTER);
    out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
}

/// How an expected byte is named in messages.
fn describe_byte(b: u8) -> &'static str {
    match b {
        b'{' => "`{`",
        b'}' => "`}`",
        b'[' => "`[`",
        b']' => "`]`",
        b':' => "`:`",
        b',' => "`,`",
        b'"' => "a string",
        _ => "another byte",
    }
}

/// How a found byte is shown in messages.
fn describe_found(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("`{}`", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// V8's largest string length on 64-bit targets (`String::kMaxLength`, 2^29 - 24 UTF-16 code
/// units): no heap snapshot can hold a longer string.
pub(crate) const MAX_STRING_UNITS: u64 = (1 << 29) - 24;
/// How many bytes of one string the reader keeps; the rest is counted and dropped.
pub(crate) const KEPT_STRING_BYTES: usize = 1 << 20;
/// Bytes collected past [`KEPT_STRING_BYTES`] before they are counted and dropped.
const TRIM_SLACK: usize = 1 << 20;

/// Keeps one string's stored part short while counting its full length in UTF-16 units.
struct StringBound {
    /// Where the string starts in the output.
    start: usize,
    /// Where the kept part ends, once the string is longer than the kept part.
    cut: Option<usize>,
    /// UTF-16 units counted so far in the kept part and the dropped bytes.
    units: u64,
}

impl StringBound {
    fn new(start: usize) -> Self {
        StringBound {
            start,
            cut: None,
            units: 0,
        }
    }

    /// Counts and drops what lies past the kept part: when it has grown by [`TRIM_SLACK`],
    /// or always when `end` (the string is complete).
    fn trim(&mut self, out: &mut Vec<u8>, end: bool) {
        let limit = self.start + KEPT_STRING_BYTES;
        let cut = match self.cut {
            Some(cut) => cut,
            None if out.len() <= limit => return,
            None => {
                // The kept part ends at a character boundary, so it stays valid UTF-8.
                let mut cut = limit;
                while cut > self.start && out[cut] & 0xC0 == 0x80 {
                    cut -= 1;
                }
                self.units = utf16_units(&out[self.start..cut]);
                self.cut = Some(cut);
                cut
            }
        };
        if end || out.len() - cut >= TRIM_SLACK {
            self.units += utf16_units(&out[cut..]);
            out.truncate(cut);
        }
    }
}

/// UTF-16 code units of UTF-8 bytes: one per leading byte, two for a 4-byte character. Bytes
/// of one character split between calls are still counted once.
fn utf16_units(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .map(|&b| u64::from(b & 0xC0 != 0x80) + u64::from(b >= 0xF0))
        .sum()
}
