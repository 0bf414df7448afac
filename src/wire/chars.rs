//! Byte classes of the RFC 5321 grammar (and its extensions), one table lookup each.
//!
//! Octets of 0x80 and above are UTF-8 (command lines are checked to be UTF-8 before any
//! of this runs) and belong to the classes where RFC 6531 allows UTF-8: atoms, quoted
//! text, domain labels and parameter values. Whoever accepts them also checks that the
//! characters they make are not C1 controls ([`has_control`]).

/// `atext` (RFC 5322 section 3.2.3), and UTF-8.
pub(crate) const ATEXT: u8 = 1;
/// Letters, digits and `-`: the characters of a domain label; and UTF-8 (U-labels).
pub(crate) const LDH: u8 = 1 << 1;
/// `qtextSMTP` (RFC 5321 section 4.1.2): printable ASCII and space less `"` and `\`; and UTF-8.
pub(crate) const QTEXT: u8 = 1 << 2;
/// `dcontent` (RFC 5321 section 4.1.3): printable ASCII less `[`, `\` and `]`.
pub(crate) const DCONTENT: u8 = 1 << 3;
/// `esmtp-value` (RFC 5321 section 4.1.2): printable ASCII less `=`; and UTF-8.
pub(crate) const ESMTP_VALUE: u8 = 1 << 4;
/// Letters, digits and `-`, ASCII only: `esmtp-keyword` after its first character.
pub(crate) const KEYWORD: u8 = 1 << 5;
/// `_` alone: what lenient HELO names add to [`LDH`].
pub(crate) const UNDERSCORE: u8 = 1 << 6;

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut byte = 0usize;
    while byte < 256 {
        let b = byte as u8;
        let alnum = b.is_ascii_alphanumeric();
        let printable = b >= b'!' && b <= b'~';
        let utf8 = b >= 0x80;
        let mut class = 0;
        if alnum
            || utf8
            || matches!(b, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'/' | b'=' | b'?' | b'^'..=b'`' | b'{'..=b'~')
        {
            class |= ATEXT;
        }
        if alnum || b == b'-' || utf8 {
            class |= LDH;
        }
        if alnum || b == b'-' {
            class |= KEYWORD;
        }
        if b == b'_' {
            class |= UNDERSCORE;
        }
        if (b == b' ' || printable) && b != b'"' && b != b'\\' || utf8 {
            class |= QTEXT;
        }
        if printable && b != b'[' && b != b'\\' && b != b']' {
            class |= DCONTENT;
        }
        if printable && b != b'=' || utf8 {
            class |= ESMTP_VALUE;
        }
        table[byte] = class;
        byte += 1;
    }
    table
}

static CLASSES: [u8; 256] = classes();

/// Whether `byte` is in any of `classes`.
#[inline]
pub(crate) fn is(byte: u8, classes: u8) -> bool {
    CLASSES[usize::from(byte)] & classes != 0
}

/// How many bytes at the start of `bytes` are in `classes`.
#[inline]
pub(crate) fn span(bytes: &[u8], classes: u8) -> usize {
    bytes.iter().position(|&b| !is(b, classes)).unwrap_or(bytes.len())
}

/// Whether every byte of a non-empty `bytes` is in `classes`.
#[inline]
pub(crate) fn all(bytes: &[u8], classes: u8) -> bool {
    !bytes.is_empty() && span(bytes, classes) == bytes.len()
}

/// Whether `text` holds a control character. ASCII controls never reach the classes
/// above; this catches the C1 controls (U+0080 to U+009F) that UTF-8 octets can make.
#[inline]
pub(crate) fn has_control(text: &str) -> bool {
    !text.is_ascii() && text.chars().any(char::is_control)
}

/// `text` split once at the first `byte` (which must be ASCII), without it.
#[inline]
pub(crate) fn split_once(text: &str, byte: u8) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == byte)?;
    // An ASCII byte is a character of its own, so both sides are at boundaries.
    Some((&text[..at], &text[at + 1..]))
}

/// `text` without leading spaces.
#[inline]
pub(crate) fn trim_spaces_start(text: &str) -> &str {
    let start = text.bytes().position(|b| b != b' ').unwrap_or(text.len());
    // Only ASCII spaces were skipped.
    &text[start..]
}

/// The pieces of `text` between single `separator`s (an ASCII byte), like
/// `str::split`, empty pieces included.
#[inline]
pub(crate) fn fields(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    core::iter::from_fn(move || {
        let current = rest?;
        match split_once(current, separator) {
            Some((word, after)) => {
                rest = Some(after);
                Some(word)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// A key for a parameter keyword or value that ignores case, so that a word can be
/// matched with one comparison.
///
/// `& 0xDF` upper-cases letters. Only a letter's two cases map onto a letter; a digit or
/// `-` maps onto a control character's value, which only that control character shares;
/// and octets of 0x80 and up stay there. So for words of printable non-space characters,
/// which is all the parameter grammar lets through, equal keys mean equal words but for
/// case. (A space would vanish: `0x20 & 0xDF` is 0.) Words over 16 octets get 0, which no
/// real keyword has.
#[inline]
pub(crate) const fn key(word: &[u8]) -> u128 {
    if word.len() > 16 {
        return 0;
    }
    // The first byte lowest, as [`super::swar::key`] reads a word.
    let mut key = 0u128;
    let mut i = 0;
    while i < word.len() {
        key |= ((word[i] & 0xDF) as u128) << (8 * i);
        i += 1;
    }
    key
}
