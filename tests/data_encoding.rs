//! `DataEncoder`: both ways of feeding it (copying from `&[u8]`, slicing a `Bytes`) write
//! what a byte-by-byte reference of RFC 5321 sections 2.3.8 and 4.5.2 writes, in every
//! mode and however the body is cut; and the `Bytes` way copies nothing of the body.
//! And `DataDecoder`, which shares the encoder's pair scan, against its reference across
//! the scan's block edges.

mod support;

#[allow(dead_code)] // only the DATA checks are used here
#[path = "../fuzz/checks.rs"]
mod checks;

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use smtp_sansio::DataEncoder;
use support::XorShift;

/// The four encoders: (name, encoder, normalize bare endings, dot-stuff and end with `.`).
fn modes() -> [(&'static str, DataEncoder, bool, bool); 4] {
    [
        ("new", DataEncoder::new(), true, true),
        ("raw", DataEncoder::raw(), false, true),
        ("line_endings_only", DataEncoder::line_endings_only(), true, false),
        ("verbatim", DataEncoder::verbatim(), false, false),
    ]
}

/// The wire form of `body`, one byte at a time: a line starts at the start and after
/// CRLF (and, when normalising, after a bare CR or LF, which becomes CRLF); a `.` at a
/// line start is doubled when stuffing, which also ends the body with CRLF if needed and
/// `.<CRLF>`.
fn reference(body: &[u8], normalize: bool, stuff: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line_start = true;
    let mut i = 0;
    while i < body.len() {
        let byte = body[i];
        if line_start && stuff && byte == b'.' {
            out.push(b'.');
        }
        line_start = false;
        match (byte, body.get(i + 1)) {
            (b'\r', Some(b'\n')) => {
                out.extend_from_slice(b"\r\n");
                line_start = true;
                i += 1;
            }
            (b'\r' | b'\n', _) if normalize => {
                out.extend_from_slice(b"\r\n");
                line_start = true;
            }
            _ => out.push(byte),
        }
        i += 1;
    }
    if stuff {
        if !line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
    out
}

/// Copying: every piece through `encode`, then `finish`.
fn encode_copying(mut encoder: DataEncoder, pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for piece in pieces {
        encoder.encode(piece, &mut out);
    }
    encoder.finish(&mut out);
    out.to_vec()
}

/// Slicing: every piece through `encode_bytes` into a `Vec<Bytes>`, then `finish`. Checks
/// that nothing of the body was copied: every output piece is either a slice of the input
/// piece it came from, or one of the few bytes the encoding adds; and the slices of each
/// input piece cover all of it.
fn encode_slicing(mut encoder: DataEncoder, pieces: &[Bytes]) -> Vec<u8> {
    let mut out: Vec<Bytes> = Vec::new();
    for piece in pieces {
        let before = out.len();
        encoder.encode_bytes(piece.clone(), &mut out);
        let mut covered: Vec<Range<usize>> = Vec::new();
        for produced in &out[before..] {
            match offset_in(piece, produced) {
                Some(start) => covered.push(start..start + produced.len()),
                None => assert!(
                    [&b"."[..], b"\r", b"\n"].contains(&&produced[..]),
                    "{produced:?} is neither a slice of {piece:?} nor an added dot, CR or LF"
                ),
            }
        }
        assert_eq!(uncovered(piece.len(), covered), None, "bytes of {piece:?} were copied, not sliced");
    }
    encoder.finish(&mut out);
    out.concat()
}

/// Where `part` starts inside `whole`'s memory, if it is a slice of it.
fn offset_in(whole: &Bytes, part: &Bytes) -> Option<usize> {
    let range = whole.as_ptr_range();
    let (start, end) = (part.as_ptr() as usize, part.as_ptr() as usize + part.len());
    (start >= range.start as usize && end <= range.end as usize && !part.is_empty())
        .then(|| start - range.start as usize)
}

/// The first byte of `0..len` that no range covers.
fn uncovered(len: usize, mut ranges: Vec<Range<usize>>) -> Option<usize> {
    ranges.sort_by_key(|range| range.start);
    let mut next = 0;
    for range in ranges {
        if range.start > next {
            return Some(next);
        }
        next = next.max(range.end);
    }
    (next < len).then_some(next)
}

/// `body` cut into pieces: whole, byte by byte, and at random points.
fn cuttings(body: &[u8], rng: &mut XorShift) -> Vec<Vec<Bytes>> {
    let whole = Bytes::copy_from_slice(body);
    let mut cuttings = vec![vec![whole.clone()], (0..body.len()).map(|i| whole.slice(i..i + 1)).collect()];
    for max_piece in [2, 5, 17, 100] {
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < body.len() {
            let take = 1 + rng.below(max_piece.min(body.len() - at));
            pieces.push(whole.slice(at..at + take));
            at += take;
        }
        cuttings.push(pieces);
    }
    cuttings
}

/// A body of bytes that matter to the encoder, mostly: CR, LF, dots, a letter, a NUL.
fn random_body(rng: &mut XorShift, len: usize) -> Vec<u8> {
    const BYTES: &[u8] = b"\r\n.a\0";
    (0..len)
        .map(|_| match rng.below(8) {
            0..=4 => BYTES[rng.below(BYTES.len())],
            _ => b'x',
        })
        .collect()
}

/// Every mode, every cutting, both ways of feeding: the reference's bytes.
fn check(body: &[u8], rng: &mut XorShift) {
    for (name, encoder, normalize, stuff) in modes() {
        let expected = reference(body, normalize, stuff);
        for pieces in cuttings(body, rng) {
            let slices: Vec<&[u8]> = pieces.iter().map(|piece| &piece[..]).collect();
            let copied = encode_copying(encoder.clone(), &slices);
            assert_eq!(
                copied.escape_ascii().to_string(),
                expected.escape_ascii().to_string(),
                "DataEncoder::{name}().encode of {:?} cut as {slices:?}",
                body.escape_ascii().to_string()
            );
            let sliced = encode_slicing(encoder.clone(), &pieces);
            assert_eq!(
                sliced.escape_ascii().to_string(),
                expected.escape_ascii().to_string(),
                "DataEncoder::{name}().encode_bytes of {:?} cut as {slices:?}",
                body.escape_ascii().to_string()
            );
        }
    }
}

#[test]
fn both_ways_write_the_reference_bytes_for_short_random_bodies() {
    let mut rng = XorShift::new(5321);
    for len in 0..40 {
        for _ in 0..40 {
            let body = random_body(&mut rng, len);
            check(&body, &mut rng);
        }
    }
}

/// Bodies longer than the scan's blocks (64 positions, in batches of 64), with the
/// bytes that matter at and around the block edges.
#[test]
fn both_ways_write_the_reference_bytes_across_scan_blocks() {
    let mut rng = XorShift::new(3030);
    for len in [63, 64, 65, 66, 67, 127, 128, 129, 130, 200, 4095, 4096, 4097, 4160, 4161, 4162, 9000] {
        for _ in 0..4 {
            let mut body = vec![b'x'; len];
            for edge in (0..len).filter(|i| i % 64 <= 2 || i % 64 >= 62) {
                if rng.below(3) == 0 {
                    body[edge] = b"\r\n."[rng.below(3)];
                }
            }
            check(&body, &mut rng);
            check(&random_body(&mut rng, len), &mut rng);
        }
    }
}

#[test]
fn the_smuggling_lookalikes_are_made_harmless_both_ways() {
    let mut rng = XorShift::new(1);
    for body in [&b"a\n.\nb"[..], b"a\r.\rb", b"a\r\n.\nb", b"a\n.\r\nb", b"a\r\n.\r\r\nb", b"\n.\n", b"\r.\r"] {
        check(body, &mut rng);
        for (name, encoder, _, stuff) in modes() {
            let wire = encode_slicing(encoder, &[Bytes::copy_from_slice(body)]);
            if stuff && name == "new" {
                // Normalised, the body's own dot lines are stuffed: the only `<CRLF>.<CRLF>`
                // is the one that ends it.
                let ends = wire.windows(5).filter(|w| w == b"\r\n.\r\n").count();
                assert!(ends <= 1 && wire.ends_with(b".\r\n"), "{:?}", wire.escape_ascii().to_string());
            }
        }
    }
}

/// A clean body goes out as the very buffer it came in, and a stuffed line costs one
/// more piece, not a copy.
#[test]
fn a_body_with_nothing_to_change_goes_out_as_itself() {
    let body = Bytes::from_static(b"Subject: hi\r\n\r\nhello\r\n");
    let mut out: Vec<Bytes> = Vec::new();
    DataEncoder::new().encode_bytes(body.clone(), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].as_ptr(), out[0].len()), (body.as_ptr(), body.len()));

    let body = Bytes::from_static(b"one\r\n.two\r\nthree\r\n");
    let mut out: Vec<Bytes> = Vec::new();
    DataEncoder::new().encode_bytes(body.clone(), &mut out);
    assert_eq!(out, [&b"one\r\n."[..], b".two\r\nthree\r\n"]);
    assert_eq!(out[1].as_ptr(), body[5..].as_ptr(), "the second run starts at the dot, in the body");
}

/// A large body like the benchmark's: megabytes of lines, one in twenty starting with a
/// dot, in 64 KiB pieces.
#[test]
fn a_large_body_is_sliced_not_copied() {
    let mut rng = XorShift::new(11);
    let mut body = Vec::new();
    while body.len() < 1 << 20 {
        if rng.below(20) == 0 {
            body.push(b'.');
        }
        body.extend((0..70 + rng.below(9)).map(|i| if i % 6 == 5 { b' ' } else { b'a' + rng.below(26) as u8 }));
        body.extend_from_slice(b"\r\n");
    }
    let whole = Bytes::from(body.clone());
    let pieces: Vec<Bytes> =
        (0..body.len()).step_by(64 << 10).map(|at| whole.slice(at..body.len().min(at + (64 << 10)))).collect();
    let slices: Vec<&[u8]> = pieces.iter().map(|piece| &piece[..]).collect();
    let expected = reference(&body, true, true);
    assert!(encode_copying(DataEncoder::new(), &slices) == expected);
    assert!(encode_slicing(DataEncoder::new(), &pieces) == expected);
}

/// The `data_decoder` fuzz check (the decoder against a byte-by-byte reference, fed
/// whole, cut and byte by byte; the encoder's round trip and its `Bytes` way) on bodies
/// longer than the scan's blocks, with what matters at and around the block edges.
#[test]
fn the_decoder_agrees_with_its_reference_across_scan_blocks() {
    let mut rng = XorShift::new(452);
    for len in [62, 63, 64, 65, 66, 67, 129, 130, 131, 700, 4160, 4161, 4162] {
        for round in 0..6 {
            let mut payload = vec![b'x'; len];
            for at in (0..len).filter(|at| at % 64 <= 3 || at % 64 >= 61) {
                if rng.below(2) == 0 {
                    payload[at] = b"\r\n.\r\n."[rng.below(6)];
                }
            }
            if round % 2 == 1 {
                // A well-formed ending somewhere, so that some bodies end.
                let at = rng.below(len.saturating_sub(5));
                payload[at..at + 5].copy_from_slice(b"\r\n.\r\n");
            }
            let cuts = [2, 1 + rng.below(255) as u8];
            let mut data = vec![(round % 2) as u8, cuts.len() as u8];
            data.extend_from_slice(&cuts);
            data.extend_from_slice(&payload);
            checks::data_decoder(&data);
        }
    }
}
