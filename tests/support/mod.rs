//! Shared test helpers: feeding the same bytes in every chunking, and collecting what
//! each incremental piece of the crate makes of them.
#![allow(dead_code)] // each test binary uses its own subset

pub mod client;
pub mod conversation;
pub mod manual;
pub mod pair;
pub mod scripted;
pub mod server;

use bytes::BytesMut;
use smtp_sansio::{BareLineEndings, DataDecoder, Decoded, Framed, LineFramer, Reply, ReplyError, ReplyParser};

/// How many random chunkings each input gets on top of "whole" and "byte by byte".
const RANDOM_SPLITS: u64 = 24;

/// A small deterministic generator, so that a failing split is reproducible.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

/// The chunkings every input is fed in: whole, one byte at a time, and random splits
/// (some with many small pieces, some with few large ones).
pub fn chunkings(input: &[u8]) -> Vec<(String, Vec<&[u8]>)> {
    let mut all = vec![("whole".to_string(), vec![input]), ("byte by byte".to_string(), input.chunks(1).collect())];
    for seed in 0..RANDOM_SPLITS {
        let mut rng = XorShift::new(seed + input.len() as u64);
        let max_piece = [2, 3, 7, 16, 64, 512][seed as usize % 6];
        let mut pieces = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let take = 1 + rng.below(max_piece.min(rest.len()));
            pieces.push(&rest[..take]);
            rest = &rest[take..];
        }
        all.push((format!("random split (seed {seed}, pieces up to {max_piece})"), pieces));
    }
    all
}

/// Runs `collect` over every chunking of `input`, asserts they all agree, and returns
/// the common result.
pub fn split_invariant<T: PartialEq + std::fmt::Debug>(input: &[u8], collect: impl Fn(&[&[u8]]) -> T) -> T {
    let mut chunkings = chunkings(input).into_iter();
    let (_, whole) = chunkings.next().expect("at least the whole chunking");
    let expected = collect(&whole);
    for (name, pieces) in chunkings {
        let got = collect(&pieces);
        assert_eq!(
            got,
            expected,
            "{name} gave a different result than the whole input {:?}",
            String::from_utf8_lossy(input)
        );
    }
    expected
}

/// What a [`LineFramer`] hands out, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameItem {
    Line(Vec<u8>),
    TooLong,
    BareLf,
}

/// Frames `pieces` with `framer`, checking the buffer the caller must keep stays bounded.
pub fn frame(mut framer: LineFramer, pieces: &[&[u8]]) -> (Vec<FrameItem>, Vec<u8>) {
    let mut input = BytesMut::new();
    let mut items = Vec::new();
    let largest_piece = pieces.iter().map(|p| p.len()).max().unwrap_or(0);
    for piece in pieces {
        input.extend_from_slice(piece);
        loop {
            match framer.next_line(&input) {
                Framed::Line { len, consumed } => {
                    items.push(FrameItem::Line(input[..len].to_vec()));
                    let _ = input.split_to(consumed);
                }
                Framed::LineTooLong { consumed } => {
                    items.push(FrameItem::TooLong);
                    let _ = input.split_to(consumed);
                }
                Framed::BareLf { consumed } => {
                    items.push(FrameItem::BareLf);
                    let _ = input.split_to(consumed);
                }
                Framed::Incomplete { discard } => {
                    let _ = input.split_to(discard);
                    break;
                }
            }
            assert!(input.len() <= framer.max_line() + largest_piece, "framer kept {} bytes", input.len());
        }
        assert!(input.len() < framer.max_line(), "an incomplete line of {} bytes was kept past the cap", input.len());
    }
    (items, input.to_vec())
}

/// What a [`DataDecoder`] made of a stream: the body, whether it ended, the bytes left
/// after the end, and the bare line endings it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoding {
    pub body: Vec<u8>,
    pub ended: bool,
    pub rest: Vec<u8>,
    pub bare: BareLineEndings,
}

pub fn decode_data(mut decoder: DataDecoder, pieces: &[&[u8]]) -> Decoding {
    let mut input = BytesMut::new();
    let mut body = Vec::new();
    let mut ended = false;
    for piece in pieces {
        input.extend_from_slice(piece);
        while !ended {
            match decoder.decode(&mut input) {
                Some(Decoded::Data(chunk)) => {
                    assert!(!chunk.is_empty(), "the decoder handed out an empty chunk");
                    body.extend_from_slice(&chunk);
                }
                Some(Decoded::End) => ended = true,
                None => break,
            }
        }
        // What the decoder leaves unjudged is at most `.\r` at a line start or one CR.
        assert!(ended || input.len() <= 2, "the decoder left {:?} in the input", String::from_utf8_lossy(&input));
    }
    Decoding { body, ended, rest: input.to_vec(), bare: decoder.bare_line_endings() }
}

/// Decodes `input` in every chunking with a default decoder and returns the result.
pub fn decode_all_ways(input: &[u8]) -> Decoding {
    split_invariant(input, |pieces| decode_data(DataDecoder::new(), pieces))
}

/// Every reply (or error) a [`ReplyParser`] reads from the stream, and the bytes left.
pub fn parse_replies(mut parser: ReplyParser, pieces: &[&[u8]]) -> (Vec<Result<Reply, ReplyError>>, Vec<u8>) {
    let mut input = BytesMut::new();
    let mut replies = Vec::new();
    for piece in pieces {
        input.extend_from_slice(piece);
        while let Some(reply) = parser.parse(&mut input) {
            replies.push(reply);
        }
    }
    (replies, input.to_vec())
}

/// The replies in `input`, read in every chunking with a default parser.
pub fn replies_all_ways(input: &[u8]) -> Vec<Result<Reply, ReplyError>> {
    split_invariant(input, |pieces| parse_replies(ReplyParser::new(), pieces)).0
}
