//! `BDAT` chunks (RFC 3030 section 2): exactly the announced number of octets,
//! no stuffing, no terminator.

use bytes::{Bytes, BytesMut};

/// Counts out the octets of one `BDAT` chunk from the input.
///
/// ```
/// use bytes::BytesMut;
/// use smtp_sansio::BdatReader;
///
/// let mut reader = BdatReader::new(5);
/// let mut input = BytesMut::from(&b"Hel"[..]);
/// assert_eq!(&reader.read(&mut input).unwrap()[..], b"Hel");
/// input.extend_from_slice(b"lo\r\nQUIT\r\n");
/// assert_eq!(&reader.read(&mut input).unwrap()[..], b"lo");
/// assert!(reader.is_finished());
/// assert_eq!(&input[..], b"\r\nQUIT\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BdatReader {
    remaining: u64,
}

impl BdatReader {
    /// A reader for a chunk of `size` octets, starting right after the `BDAT` line.
    pub fn new(size: u64) -> Self {
        Self { remaining: size }
    }

    /// Octets of the chunk still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Whether the whole chunk has been read.
    pub fn is_finished(&self) -> bool {
        self.remaining == 0
    }

    /// Takes the next piece of the chunk out of `input`: as much of it as `input` holds,
    /// as a slice of `input`'s buffer. `None` when the chunk is finished or `input` is
    /// empty.
    pub fn read(&mut self, input: &mut BytesMut) -> Option<Bytes> {
        // `take` is at most `input.len()`, so it fits a usize and the split is in bounds.
        let take = self.remaining.min(input.len() as u64) as usize;
        if take == 0 {
            return None;
        }
        self.remaining -= take as u64;
        Some(input.split_to(take).freeze())
    }
}
