//! The scan the `DATA` decoder and encoder share: where, in a message body, bytes need
//! more than copying (RFC 5321 sections 2.3.8 and 4.5.2).
//!
//! A position `i` of a body is *flagged* when the byte before it and the byte at it are
//! not a well-formed pair (a CR not followed by LF, or an LF not preceded by CR), or
//! when the byte at it is an LF followed by a dot (a line that may start with a stuffed
//! dot). Everything between flagged positions is whole CRLF lines and text, which both
//! the decoder and the encoder pass on as it is.
//!
//! Lines end every 80 bytes or so, so stopping at each line end, as a search for CR and
//! LF would, costs more than looking at every byte once. The scan instead reads each
//! block of 64 positions three times, offset by one (the bytes before, at and after
//! each position), and asks three equality questions of every byte: baseline x86-64
//! (SSE2) checks 16 positions with 3 loads, 3 compares and 4 logical operations, and
//! only a block with a flagged position is looked at closer.

use core::ops::Range;

/// Positions per block.
const BLOCK: usize = 64;

/// One bit per position of a block.
type Bits = u64;

/// Blocks looked at before the flagged ones among them are visited (see
/// [`for_each_flagged`]).
const BATCH: usize = 64;

/// Whether a position is flagged: `before` and `at` are not a well-formed pair (exactly
/// one of "`before` is CR" and "`at` is LF" holds), or `at` is an LF and `after` a dot.
#[inline(always)]
fn flagged(before: u8, at: u8, after: u8) -> bool {
    let lf = at == b'\n';
    ((before == b'\r') != lf) | (lf & (after == b'.'))
}

/// Whether any position of a block is flagged. The block's bytes come three times:
/// those before, at and after its positions.
#[inline(always)]
fn any_flagged(before: &[u8; BLOCK], at: &[u8; BLOCK], after: &[u8; BLOCK]) -> bool {
    let mut any = 0u8;
    for i in 0..BLOCK {
        any |= u8::from(flagged(before[i], at[i], after[i]));
    }
    any != 0
}

/// The flagged positions of a block, one bit each (bit `k` for its `k`-th position).
#[inline(always)]
fn flag_bits(before: &[u8; BLOCK], at: &[u8; BLOCK], after: &[u8; BLOCK]) -> Bits {
    let mut flags = [0u8; BLOCK];
    for i in 0..BLOCK {
        flags[i] = u8::from(flagged(before[i], at[i], after[i]));
    }
    let mut bits = 0;
    for (k, eight) in flags.as_chunks::<8>().0.iter().enumerate() {
        // Eight flags of 0 or 1 as one word: the multiplication copies byte `m`'s bit to
        // bit 56 + m (every product term lands on a bit of its own, so nothing carries),
        // and the shift brings those eight bits down.
        let gathered = u64::from_le_bytes(*eight).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        bits |= Bits::from(gathered) << (8 * k);
    }
    bits
}

/// The whole blocks of `s`: its positions from 1 on that have a byte after them, as three
/// views offset by one. Block `k` covers positions `1 + 64k .. 1 + 64(k + 1)`.
#[allow(clippy::type_complexity)]
fn blocks(s: &[u8]) -> (&[[u8; BLOCK]], &[[u8; BLOCK]], &[[u8; BLOCK]]) {
    // Positions 1 ..= len - 2 have a byte on either side.
    let inner = s.len().saturating_sub(2);
    let before = s.get(..inner).unwrap_or_default().as_chunks::<BLOCK>().0;
    let at = s.get(1..1 + inner).unwrap_or_default().as_chunks::<BLOCK>().0;
    let after = s.get(2..2 + inner).unwrap_or_default().as_chunks::<BLOCK>().0;
    (before, at, after)
}

/// The first position after the whole blocks of `s`.
fn tail_start(s: &[u8]) -> usize {
    1 + BLOCK * blocks(s).0.len()
}

/// The flagged positions from `start` (at least 1, after the whole blocks) to the end of
/// `s`, one bit each. The last position has no byte after it in `s`: an LF there may
/// still be followed by a dot in the next piece, which is for the caller to judge.
fn tail_bits(s: &[u8], start: usize) -> Bits {
    let positions = s.len().saturating_sub(start);
    if positions == 0 {
        return 0;
    }
    // At most a block of positions is left, so at most a block and two bytes from the
    // one before `start` on (see `blocks`). Zeros after them flag nothing but a CR at the
    // very end, which the mask drops.
    let mut window = [0u8; BLOCK + 2];
    let bytes = s.get(start - 1..).unwrap_or_default();
    let len = bytes.len().min(window.len());
    window[..len].copy_from_slice(&bytes[..len]);
    // `offset + i` is at most 2 + 63, inside the window.
    let view = |offset: usize| -> [u8; BLOCK] { core::array::from_fn(|i| window[offset + i]) };
    let bits = flag_bits(&view(0), &view(1), &view(2));
    match positions {
        BLOCK.. => bits,
        n => bits & ((1 << n) - 1),
    }
}

/// What [`scan`] found after a run of well-formed lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scan {
    /// A line starts at this offset with a `.`: the stuffed dot or the end of data.
    LineStart(usize),
    /// A bare CR or bare LF at this offset.
    Bare(usize),
    /// This many bytes are well-formed and can go out; the rest (a CR, or nothing) must
    /// wait for more input.
    Clean(usize),
}

/// Finds the first place in `s` (which is mid-line) that needs more than copying: a
/// `.` after CRLF, or a CR not followed by LF, or an LF not preceded by CR.
pub(super) fn scan(s: &[u8]) -> Scan {
    match s.first() {
        None => return Scan::Clean(0),
        // Nothing before it in `s` is a CR: a CR at the end of the last input stays in
        // the input, so an LF here lost its CR long ago.
        Some(b'\n') => return Scan::Bare(0),
        Some(_) => {}
    }
    let (before, at, after) = blocks(s);
    for (k, ((before, at), after)) in before.iter().zip(at).zip(after).enumerate() {
        if any_flagged(before, at, after) {
            let bits = flag_bits(before, at, after);
            return first_event(s, 1 + BLOCK * k + bits.trailing_zeros() as usize);
        }
    }
    let start = tail_start(s);
    match tail_bits(s, start) {
        0 => match s.last() {
            // Every pair is well-formed. A CR at the very end waits for its LF; an LF at
            // the end ends a line, and the next call starts there.
            Some(b'\r') => Scan::Clean(s.len() - 1),
            _ => Scan::Clean(s.len()),
        },
        bits => first_event(s, start + bits.trailing_zeros() as usize),
    }
}

/// What a flagged position `i` of `s` (`1 <= i < s.len()`) is, the earliest first: a
/// bare CR before it, a bare LF at it, or a dot at the start of the line after it.
fn first_event(s: &[u8], i: usize) -> Scan {
    // In bounds: flagged positions are 1 or more and inside `s`.
    let (before, at) = (s[i - 1], s[i]);
    match (before == b'\r', at == b'\n') {
        (true, false) => Scan::Bare(i - 1),
        (false, true) => Scan::Bare(i),
        _ => Scan::LineStart(i + 1),
    }
}

/// Calls `visit` with every flagged position of `s` from 1 on, in order: the encoder's
/// way through a body, which does not stop at the first.
///
/// A scan that stops at each flagged position costs a mispredicted branch there, and the
/// loads the processor had started ahead of it are thrown away with it: about 30 ns a
/// stuffed line when the body comes from L3 cache. So the blocks are looked at in
/// batches first, noting without a branch which of them hold a flagged position, and only
/// then are those few looked at closer, from cache.
pub(super) fn for_each_flagged(s: &[u8], mut visit: impl FnMut(usize)) {
    let (before, at, after) = blocks(s);
    let mut flagged_blocks = [0usize; BATCH];
    let mut batch_start = 0;
    while batch_start < before.len() {
        let batch = batch_start..before.len().min(batch_start + BATCH);
        let count = note_flagged_blocks(before, at, after, batch.clone(), &mut flagged_blocks);
        // `count` is at most the batch's length, and each index noted is one of its blocks.
        for &k in &flagged_blocks[..count] {
            let mut bits = flag_bits(&before[k], &at[k], &after[k]);
            while bits != 0 {
                visit(1 + BLOCK * k + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        batch_start = batch.end;
    }
    let start = tail_start(s);
    let mut bits = tail_bits(s, start);
    while bits != 0 {
        visit(start + bits.trailing_zeros() as usize);
        bits &= bits - 1;
    }
}

/// Writes the indexes of the blocks of `batch` (at most [`BATCH`] of them) that hold a
/// flagged position to the front of `out`, and returns how many there are.
#[inline(always)]
#[allow(clippy::type_complexity)]
fn note_flagged_blocks(
    before: &[[u8; BLOCK]],
    at: &[[u8; BLOCK]],
    after: &[[u8; BLOCK]],
    batch: Range<usize>,
    out: &mut [usize; BATCH],
) -> usize {
    let (before, at, after) = (&before[batch.clone()], &at[batch.clone()], &after[batch.clone()]);
    let mut count = 0;
    for (k, ((before, at), after)) in batch.zip(before.iter().zip(at).zip(after)) {
        // Every block's index is written, and the count moves past it only if the block
        // has a flagged position: no branch. `count` is below `BATCH` here (it counts the
        // blocks of this batch before `k`), so the mask changes nothing but spares a
        // bounds check.
        out[count & (BATCH - 1)] = k;
        count += usize::from(any_flagged(before, at, after));
    }
    count
}
