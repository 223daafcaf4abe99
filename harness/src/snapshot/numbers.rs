//! Parsing a run of `digits,` items, ahead of the scanner or inside it (see [`super::chunks`]).
//!
//! This is the hottest loop of the reader: `nodes` and `edges` are tens of millions of small
//! integers. The common shapes (`digits,` and `digits\n,`, up to 7 digits) are taken eight
//! bytes at a time; anything else goes through a byte loop that accepts or rejects an item
//! exactly as the scanner's own byte loop would, so a run ends before anything it would report.
//!
//! Tried and not kept: finding the commas of 64 bytes at once (SSE2, one bit a byte) so that
//! each item's start comes from a bit mask rather than from the previous item's length. In a
//! loop over 120 MB of the benchmark snapshot it took 5.2-7.2 ns a number against 5.2-6.8 for
//! this code (2 cores shared with other work): no gain worth its unsafe code.

/// Parses items `ws* digits ws* ,` from `bytes[start..]` into `out` until one is not whole
/// or valid; returns how many were parsed and where the last one ended.
pub(crate) fn whole_items(bytes: &[u8], start: usize, out: &mut Vec<u32>) -> (usize, usize) {
    out.reserve(bytes.len().saturating_sub(start) / 2);
    let mut i = start;
    let mut parsed = 0;
    loop {
        match one_item(bytes, i) {
            Some((value, next)) => {
                out.push(value);
                parsed += 1;
                i = next;
            }
            None => return (parsed, i),
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
/// `b'0'` in every byte.
const ZEROS: u64 = ONES * b'0' as u64;

/// One item `ws* digits ws* ,` at `bytes[i..]`: its value and where the next item starts, or
/// `None` when it is not whole or not valid (the byte loop reports those).
fn one_item(bytes: &[u8], mut i: usize) -> Option<(u32, usize)> {
    let n = bytes.len();
    // The common shapes, `digits,` and `digits\n,` with up to 7 digits, eight bytes at a time.
    if let Some(word) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        let len = leading_digits(word);
        if (1..8).contains(&len) {
            let after = bytes[i + len];
            if after == b',' {
                return Some((digits_value(word, len), i + len + 1));
            }
            if after == b'\n' && bytes.get(i + len + 1) == Some(&b',') {
                return Some((digits_value(word, len), i + len + 2));
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
        return None;
    }
    while i < n && is_space(bytes[i]) {
        i += 1;
    }
    if i >= n || bytes[i] != b',' {
        return None;
    }
    Some((acc as u32, i + 1))
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// How many of the eight bytes of `word` (first byte lowest) are ASCII digits before the first
/// byte that is not.
#[inline(always)]
fn leading_digits(word: u64) -> usize {
    let x = word ^ ZEROS;
    // A byte is a digit when it is at most 9 in `x`. Below 0x80, adding 0x76 sets the high bit
    // exactly from 10 up, without carrying into the next byte; from 0x80 up the high bit is
    // set already.
    let not_digit = (((x & !HIGH) + ONES * 0x76) | x) & HIGH;
    (not_digit.trailing_zeros() / 8) as usize
}

/// The value of the first `len` (1 to 7) bytes of `word`, all ASCII digits.
#[inline(always)]
fn digits_value(word: u64, len: usize) -> u32 {
    // Digit values in the low `len` bytes, moved to the top so that the bytes below are
    // leading zeros.
    digit_bytes_value((word ^ ZEROS) << (8 * (8 - len)))
}

/// The number whose decimal digits (values 0 to 9) are the bytes of `v`, the most significant
/// in the lowest byte, as they are written.
#[inline(always)]
fn digit_bytes_value(mut v: u64) -> u32 {
    v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    v = (v.wrapping_mul(10000) + (v >> 32)) & 0x0000_0000_FFFF_FFFF;
    v as u32
}

#[cfg(test)]
mod tests {
    use super::*;

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

    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    fn check(bytes: &[u8]) {
        let mut out = Vec::new();
        let (parsed, end) = whole_items(bytes, 1, &mut out);
        let text = String::from_utf8_lossy(&bytes[1..]).into_owned();
        if std::str::from_utf8(bytes).is_ok() {
            assert_eq!(out, items_bytewise(&bytes[1..]), "{text:?}");
        }
        assert_eq!(parsed, out.len());
        assert!(end == 1 || bytes[end - 1] == b',', "{text:?}");
    }

    #[test]
    fn eight_bytes_at_a_time_read_what_the_byte_loop_reads() {
        let alphabet = b"0123456789012345678901234567890123456789,,,,,,\n \t:a]\xc3";
        let mut rng = Lcg(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let len = 1 + (rng.next() % 40) as usize;
            let mut bytes = vec![b','];
            bytes.extend((0..len).map(|_| alphabet[rng.next() as usize % alphabet.len()]));
            check(&bytes);
        }
    }

    #[test]
    fn long_runs_in_v8_shapes_read_what_the_byte_loop_reads() {
        // Runs in V8's shapes (`1,22,333\n,` with values of every length), with now and then
        // one byte of something else.
        let odd = b" \t\n,:a]-\xc3";
        let mut rng = Lcg(0x2545_f491_4f6c_dd1d);
        for _ in 0..3_000 {
            let mut bytes = vec![b','];
            let items = 1 + rng.next() % 120;
            for k in 0..items {
                let digits = 1 + rng.next() % 11;
                for _ in 0..digits {
                    bytes.push(b'0' + (rng.next() % 10) as u8);
                }
                if k % 7 == 6 {
                    bytes.push(b'\n');
                }
                bytes.push(b',');
                if rng.next() % 60 == 0 {
                    let at = rng.next() as usize % bytes.len();
                    bytes.insert(at.max(1), odd[rng.next() as usize % odd.len()]);
                }
            }
            check(&bytes);
            for cut in [bytes.len() - 1, bytes.len() / 2, 65, 70] {
                if cut > 1 && cut < bytes.len() {
                    check(&bytes[..cut]);
                }
            }
        }
    }

    #[test]
    fn every_value_length_is_read_in_every_place() {
        for v in [
            0u32,
            7,
            10,
            99,
            100,
            1234567,
            9999999,
            10000000,
            99999999,
            100000000,
            u32::MAX,
        ] {
            let item = format!("{v},");
            let mut text = String::from(",");
            while text.len() < 200 {
                text.push_str(&item);
                text.push_str(&format!("{v}\n,"));
            }
            let mut out = Vec::new();
            let (parsed, end) = whole_items(text.as_bytes(), 1, &mut out);
            assert_eq!(end, text.len(), "{v}");
            assert_eq!(parsed, out.len());
            assert!(out.iter().all(|&x| x == v), "{v}");
        }
    }
}
