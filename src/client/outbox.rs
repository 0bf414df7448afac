//! What a client session has to send, in order: pieces it hands out as they are (slices
//! of a body the application gave as `Bytes`), and a buffer for what it writes itself
//! (command lines, small pieces), after them.

use alloc::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Pieces shorter than this are copied into the buffer rather than handed out on their
/// own: consecutive short runs (a body where line after line needs a dot or a line
/// ending repaired) then go as one piece, not one each, and a copy that small costs
/// about what one more piece costs the driver (an `Output::Transmit`, an `IoSlice`).
const SLICE_MIN: usize = 512;

/// The bytes a session owes the server, in order: `pieces`, then `buffer`.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    /// Handed out as they are.
    pieces: VecDeque<Bytes>,
    /// What the session wrote itself since the last piece: it goes after them.
    buffer: BytesMut,
}

impl Outbox {
    /// The buffer, to write into (after every piece).
    pub(super) fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buffer
    }

    /// Appends bytes, by copying them into the buffer.
    pub(super) fn put_slice(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Appends a piece: as it is, or copied into the buffer if it is short
    /// ([`SLICE_MIN`]).
    pub(super) fn push(&mut self, piece: Bytes) {
        if piece.len() < SLICE_MIN {
            return self.buffer.extend_from_slice(&piece);
        }
        if !self.buffer.is_empty() {
            self.pieces.push_back(self.buffer.split().freeze());
        }
        self.pieces.push_back(piece);
    }

    /// Appends everything `other` holds, in its order (its buffer, too, as a piece of its
    /// own if it is long enough).
    pub(super) fn append(&mut self, other: Outbox) {
        for piece in other.pieces {
            self.push(piece);
        }
        if !other.buffer.is_empty() {
            self.push(other.buffer.freeze());
        }
    }

    /// How many bytes are owed (asked once per `BDAT` chunk, which holds few pieces).
    pub(super) fn len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum::<usize>() + self.buffer.len()
    }

    /// Whether nothing is owed.
    pub(super) fn is_empty(&self) -> bool {
        self.pieces.is_empty() && self.buffer.is_empty()
    }

    /// The next bytes to send, in order: the next piece, or what the buffer holds.
    pub(super) fn pop(&mut self) -> Option<Bytes> {
        match self.pieces.pop_front() {
            Some(piece) => Some(piece),
            None => (!self.buffer.is_empty()).then(|| self.buffer.split().freeze()),
        }
    }

    /// A mark to go back to with [`rewind`](Self::rewind): only the buffer may be
    /// written to meanwhile.
    pub(super) fn mark(&self) -> usize {
        self.buffer.len()
    }

    /// Drops what was written into the buffer since `mark`.
    pub(super) fn rewind(&mut self, mark: usize) {
        self.buffer.truncate(mark);
    }
}

impl Extend<Bytes> for Outbox {
    fn extend<I: IntoIterator<Item = Bytes>>(&mut self, pieces: I) {
        for piece in pieces {
            self.push(piece);
        }
    }
}
