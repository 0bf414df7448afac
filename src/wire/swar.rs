//! Eight bytes at a time: the usual shapes of addresses and parameters read a `u64`
//! word per step instead of a byte (SIMD within a register).
//!
//! Reading byte by byte, a token's end is a loop exit the branch predictor cannot
//! foresee, and the common command lines have a dozen tokens: those mispredictions
//! were most of the cost of parsing a `RCPT` line. Here a word's bytes are all
//! classified at once and the end is found with `trailing_zeros`; a token shorter than
//! eight bytes ends in the first word, a branch taken the same way almost every time.
//!
//! Each test sets the top bit (0x80) of every byte of the word that is in the class,
//! and only ASCII bytes are ever in a class here. These scans are fast paths: where one
//! gives up (`None`), the byte-at-a-time grammar reads the text and decides alone, so
//! a fast path only has to be right when it answers.

/// 0x01 in every byte.
const ONES: u64 = u64::from_le_bytes([1; 8]);
/// The top bit of every byte.
const TOPS: u64 = ONES * 0x80;

/// The bytes of `word` strictly between `low` and `high` (`low < 128`, `high <= 128`).
///
/// Each byte is computed alone: with its top bit cleared (`seven`), `127 + high - b`
/// cannot borrow from the next byte and `b + 127 - low` cannot carry into it. The top
/// bit of the first says `b < high`, of the second `b > low`; `!word` drops bytes of
/// 0x80 and up.
#[inline(always)]
const fn between(word: u64, low: u8, high: u8) -> u64 {
    let seven = word & !TOPS;
    (ONES * (127 + high as u64) - seven) & !word & (seven + ONES * (127 - low as u64)) & TOPS
}

/// The bytes of `word` equal to `byte`: the bytes of `word ^ byte` that are zero, found
/// without a borrow between bytes (`(x & 0x7F) + 0x7F` has its top bit set exactly when
/// `x & 0x7F` is not zero).
#[inline(always)]
const fn equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * byte as u64);
    !(((x & !TOPS) + !TOPS) | x) & TOPS
}

/// ASCII letters.
#[inline(always)]
const fn letters(word: u64) -> u64 {
    // Setting bit 5 makes upper case lower, and maps no other byte into `a..=z`.
    between(word | (ONES * 0x20), b'a' - 1, b'z' + 1)
}

/// Letters, digits, `-` and `.`: the bytes of a domain (RFC 5321 section 4.1.2
/// `Domain`, ASCII only).
#[inline(always)]
const fn domain_bytes(word: u64) -> u64 {
    letters(word) | between(word, b'0' - 1, b'9' + 1) | equal(word, b'.') | equal(word, b'-')
}

/// `atext` (RFC 5322 section 3.2.3) and `.`: the bytes of a `Dot-string` (RFC 5321
/// section 4.1.2), ASCII only. That is every printable byte but `"(),:;<>@[\]`.
#[inline(always)]
const fn dot_string_bytes(word: u64) -> u64 {
    let specials = equal(word, b'"')
        | between(word, b'(' - 1, b')' + 1)
        | equal(word, b',')
        | between(word, b':' - 1, b'<' + 1)
        | equal(word, b'>')
        | equal(word, b'@')
        | between(word, b'[' - 1, b']' + 1);
    between(word, b' ', 0x7F) & !specials
}

/// Letters, digits and `-`: `esmtp-keyword` after its first character (RFC 5321
/// section 4.1.2).
#[inline(always)]
const fn keyword_bytes(word: u64) -> u64 {
    letters(word) | between(word, b'0' - 1, b'9' + 1) | equal(word, b'-')
}

/// `esmtp-value` (RFC 5321 section 4.1.2), ASCII only: printable bytes but `=`.
#[inline(always)]
const fn value_bytes(word: u64) -> u64 {
    between(word, b' ', 0x7F) & !equal(word, b'=')
}

/// The eight bytes of `bytes` from `at`, the first in the lowest byte of the word.
/// Bytes past the end read as zero, which no class holds.
#[inline(always)]
fn load(bytes: &[u8], at: usize) -> u64 {
    if let Some(eight) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        return u64::from_le_bytes(*eight);
    }
    load_tail(bytes, at)
}

/// [`load`] within eight bytes of the end.
#[inline(never)]
fn load_tail(bytes: &[u8], at: usize) -> u64 {
    if at >= bytes.len() {
        return 0;
    }
    // Fewer than eight bytes are left. The last eight of `bytes`, shifted down, put the
    // byte at `at` lowest and zeros above the end (`at + 8 - len` is 1 to 7 here).
    match bytes.len().checked_sub(8).and_then(|last| bytes.get(last..)) {
        Some(last) => <[u8; 8]>::try_from(last).map_or(0, u64::from_le_bytes) >> (8 * (at + 8 - bytes.len())),
        None => load_short(bytes.get(at..).unwrap_or_default()),
    }
}

/// The bytes of a slice shorter than eight, as [`load`] reads them: from two
/// overlapping loads of a half or a quarter word, whichever fits.
#[inline(always)]
fn load_short(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    // Each slice below is in bounds for the lengths its arm takes.
    match len {
        4..=7 => {
            let head = <[u8; 4]>::try_from(&bytes[..4]).map_or(0, u32::from_le_bytes);
            let tail = <[u8; 4]>::try_from(&bytes[len - 4..]).map_or(0, u32::from_le_bytes);
            u64::from(head) | u64::from(tail) << (8 * (len - 4))
        }
        2..=3 => {
            let head = <[u8; 2]>::try_from(&bytes[..2]).map_or(0, u16::from_le_bytes);
            let tail = <[u8; 2]>::try_from(&bytes[len - 2..]).map_or(0, u16::from_le_bytes);
            u64::from(head) | u64::from(tail) << (8 * (len - 2))
        }
        1 => u64::from(bytes[0]),
        _ => 0,
    }
}

/// What a dotted run is made of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dotted {
    /// A `Dot-string`: atoms of `atext` between single dots.
    DotString,
    /// A `Domain`: labels of letters, digits and hyphens between single dots, none
    /// starting or ending with a hyphen.
    Domain,
}

/// The end of a dotted run from `start`: pieces separated by single dots, and for a
/// domain no piece starting or ending with a hyphen. `None` when the run breaks a rule
/// or is empty.
///
/// The rules are checked on each byte and the one before it: a `.` after a `.` or at
/// the start is an empty piece, and so is the end after a `.`; a `-` after a `.` or at
/// the start begins a label with a hyphen, and a `.` after a `-`, or the end after one,
/// ends a label with it. So the byte before `start` and the one after the end count as
/// dots.
#[inline(always)]
fn dotted_run(bytes: &[u8], start: usize, shape: Dotted) -> Option<usize> {
    // Top bits of the bytes whose previous byte is a dot or a hyphen, carried from the
    // last byte of one word to the first of the next.
    let (mut after_dot, mut after_hyphen) = (0x80, 0);
    let mut broken = 0;
    let mut at = start;
    loop {
        let word = load(bytes, at);
        let dots = equal(word, b'.');
        let hyphens = equal(word, b'-');
        // All of a domain, and most of a dot-string (the compiler shares the tests for
        // dots and hyphens).
        let mut outside = !domain_bytes(word) & TOPS;
        // A dot-string's other `atext` is rare: it is looked for only when a byte other
        // than the `@` after the local part stops the common run.
        if shape == Dotted::DotString
            && outside != 0
            && word >> (outside.trailing_zeros() - 7) & 0xFF != u64::from(b'@')
        {
            outside = !dot_string_bytes(word) & TOPS;
        }
        // Every byte below the first one outside the run (all of them if none is).
        let inside = match outside {
            0 => TOPS,
            _ => (outside & outside.wrapping_neg()).wrapping_sub(1) & TOPS,
        };
        let dots = dots & inside;
        let hyphens = if shape == Dotted::Domain { hyphens & inside } else { 0 };
        let dot_before = dots << 8 | after_dot;
        let hyphen_before = hyphens << 8 | after_hyphen;
        broken |= dot_before & (dots | hyphens) | hyphen_before & dots;
        if outside != 0 {
            // The first byte outside ends the run, and counts as a dot.
            let end = outside & outside.wrapping_neg();
            broken |= (dot_before | hyphen_before) & end;
            let len = (outside.trailing_zeros() / 8) as usize;
            return (broken == 0).then_some(at + len);
        }
        after_dot = dots >> 56;
        after_hyphen = hyphens >> 56;
        at += 8;
    }
}

/// The end of the run of `class` bytes from `start`.
#[inline(always)]
fn span(bytes: &[u8], start: usize, class: fn(u64) -> u64) -> usize {
    let mut at = start;
    loop {
        let outside = !class(load(bytes, at)) & TOPS;
        if outside != 0 {
            // Zeros read past the end are outside every class, so this is at most the end.
            return at + (outside.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
}

/// The end of the `esmtp-keyword` characters from `start` (letters, digits, `-`).
#[inline]
pub(crate) fn keyword(bytes: &[u8], start: usize) -> usize {
    span(bytes, start, keyword_bytes)
}

/// The end of the ASCII `esmtp-value` characters from `start`.
#[inline]
pub(crate) fn value(bytes: &[u8], start: usize) -> usize {
    span(bytes, start, value_bytes)
}

/// [`chars::key`](super::chars::key) of `bytes[start..start + len]`, read as two words.
#[inline]
pub(crate) fn key(bytes: &[u8], start: usize, len: usize) -> u128 {
    if len > 16 {
        return 0;
    }
    // The low `n` bytes of a word, for `n` below 8.
    let first = |n: usize| (1u64 << (8 * n)) - 1;
    let fold = ONES * 0xDF;
    let low = load(bytes, start) & fold;
    match len {
        ..8 => u128::from(low & first(len)),
        8 => u128::from(low),
        16 => u128::from(load(bytes, start + 8) & fold) << 64 | u128::from(low),
        _ => u128::from(load(bytes, start + 8) & fold & first(len - 8)) << 64 | u128::from(low),
    }
}

/// [`chars::key`](super::chars::key) of `word`.
#[inline]
pub(crate) fn key_of(word: &[u8]) -> u128 {
    key(word, 0, word.len())
}

/// The end of an ASCII `Dot-string` at `bytes[start..]` (RFC 5321 section 4.1.2):
/// atoms of `atext` between single dots. `None` when there is none there, or it goes
/// on with a byte the fast path does not read (a quote, UTF-8).
#[inline]
pub(crate) fn dot_string(bytes: &[u8], start: usize) -> Option<usize> {
    dotted_run(bytes, start, Dotted::DotString)
}

/// The end of an ASCII `Domain` at `bytes[start..]` (RFC 5321 section 4.1.2): labels
/// of letters, digits and hyphens between single dots, none starting or ending with a
/// hyphen. `None` when there is none there, or when it is longer than a label may be
/// (63 octets), whose labels the fast path does not count.
#[inline]
pub(crate) fn domain(bytes: &[u8], start: usize) -> Option<usize> {
    let end = dotted_run(bytes, start, Dotted::Domain)?;
    (end - start <= 63).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every class, byte by byte against the byte-at-a-time definition, at every
    /// position of the word.
    #[test]
    fn classes_match_their_definitions_for_every_byte() {
        let is_domain = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
        let is_dot_string = |b: u8| b.is_ascii_graphic() && !b"\"(),:;<>@[\\]".contains(&b);
        let is_keyword = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
        let is_value = |b: u8| b.is_ascii_graphic() && b != b'=';
        for byte in 0..=255u8 {
            for position in 0..8 {
                // The other bytes are neighbours that could borrow or carry.
                for filler in [0u8, b'.', 0x7F, 0x80, 0xFF, b'a'] {
                    let mut eight = [filler; 8];
                    eight[position] = byte;
                    let word = u64::from_le_bytes(eight);
                    let top = 0x80u64 << (8 * position);
                    assert_eq!(domain_bytes(word) & top != 0, is_domain(byte), "domain {byte:#x}");
                    assert_eq!(dot_string_bytes(word) & top != 0, is_dot_string(byte), "dot-string {byte:#x}");
                    assert_eq!(equal(word, b'.') & top != 0, byte == b'.', "equal {byte:#x}");
                    assert_eq!(keyword_bytes(word) & top != 0, is_keyword(byte), "keyword {byte:#x}");
                    assert_eq!(value_bytes(word) & top != 0, is_value(byte), "value {byte:#x}");
                }
            }
        }
    }

    #[test]
    fn keys_are_the_byte_at_a_time_keys() {
        let text = b"x SIZE=1 smtputf8 MT-PRIORITY=3 HOLDUNTIL=1 A-VERY-LONG-KEYWORD";
        for start in 0..text.len() {
            for len in 0..=(text.len() - start).min(20) {
                let word = &text[start..start + len];
                assert_eq!(key(text, start, len), super::super::chars::key(word), "{:?}", word);
            }
        }
    }

    #[test]
    fn load_reads_zeros_past_the_end() {
        let bytes = b"0123456789";
        assert_eq!(load(bytes, 0).to_le_bytes(), *b"01234567");
        assert_eq!(load(bytes, 5).to_le_bytes(), *b"56789\0\0\0");
        assert_eq!(load(bytes, 10), 0);
        for len in 0..8 {
            let bytes = &b"abcdefg"[..len];
            let mut expected = [0; 8];
            expected[..len].copy_from_slice(bytes);
            assert_eq!(load(bytes, 0).to_le_bytes(), expected);
        }
        assert_eq!(load(b"abc", 1).to_le_bytes(), *b"bc\0\0\0\0\0\0");
    }

    #[test]
    fn runs_end_where_the_grammar_says() {
        assert_eq!(dot_string(b"<bob.smith@x>", 1), Some(10));
        assert_eq!(dot_string(b"<a@", 1), Some(2));
        assert_eq!(dot_string(b"<.a@", 1), None);
        assert_eq!(dot_string(b"<a.@", 1), None);
        assert_eq!(dot_string(b"<a..b@", 1), None);
        assert_eq!(dot_string(b"<@", 1), None);
        assert_eq!(domain(b"@mx1.example-host.org>", 1), Some(21));
        assert_eq!(domain(b"@a-.org>", 1), None);
        assert_eq!(domain(b"@a.-org>", 1), None);
        assert_eq!(domain(b"@-a.org>", 1), None);
        assert_eq!(domain(b"@a.org.>", 1), None);
        assert_eq!(domain(b"@a.org-", 1), None);
        // Dots and hyphens that straddle two words.
        assert_eq!(domain(b"@abcdefg.-x>", 1), None);
        assert_eq!(domain(b"@abcdef-.x>", 1), None);
        assert_eq!(domain(b"@abcdefg..x>", 1), None);
        assert_eq!(domain(b"@abcdefg.hx>", 1), Some(11));
        assert_eq!(domain(&[b'a'; 64], 0), None);
        assert_eq!(domain(&[b'a'; 63], 0), Some(63));
    }
}
