//! What a session hands out in a row (`Output::Transmit` after `Output::Transmit`),
//! gathered for one vectored write: a body pushed as `Bytes` comes out as slices of it,
//! with the commands and the few bytes the encoding adds between them.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

use bytes::{Buf, Bytes};

/// The pieces to write, in order; a [`Buf`] over all of them, so that tokio's
/// `write_all_buf` writes them with vectored writes.
#[derive(Debug, Default)]
pub struct Pieces {
    pieces: VecDeque<Bytes>,
    /// How many bytes are left to write.
    remaining: usize,
}

/// At most this many pieces go into one vectored write (Linux takes 1024).
const MAX_SLICES: usize = 64;

impl Pieces {
    /// Gathers the next piece (an empty one is dropped: `chunk` must not return one while
    /// bytes remain).
    pub fn push(&mut self, piece: Bytes) {
        if !piece.is_empty() {
            self.remaining += piece.len();
            self.pieces.push_back(piece);
        }
    }

    /// Whether nothing is gathered.
    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }

    /// Writes every piece to a blocking writer, in as few calls as it allows (the
    /// standard library's `write_all_vectored` is not stable yet).
    #[allow(dead_code)] // the tokio client writes with `write_all_buf`
    pub fn write_all_to(&mut self, writer: &mut impl Write) -> io::Result<()> {
        while self.has_remaining() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let count = self.chunks_vectored(&mut slices);
            match writer.write_vectored(&slices[..count])? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                written => self.advance(written),
            }
        }
        Ok(())
    }
}

impl Buf for Pieces {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.pieces.front().map_or(&[], |piece| &piece[..])
    }

    fn chunks_vectored<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut count = 0;
        for (slice, piece) in slices.iter_mut().zip(&self.pieces) {
            *slice = IoSlice::new(piece);
            count += 1;
        }
        count
    }

    fn advance(&mut self, mut count: usize) {
        assert!(count <= self.remaining, "advanced past the end");
        self.remaining -= count;
        while count > 0 {
            let Some(front) = self.pieces.front_mut() else { break };
            let step = count.min(front.len());
            front.advance(step);
            count -= step;
            if front.is_empty() {
                self.pieces.pop_front();
            }
        }
    }
}
