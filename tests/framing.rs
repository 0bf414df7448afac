//! Line, DATA and BDAT framing: known answers, every one fed whole, byte by byte and
//! split at random points.

mod support;

use bytes::BytesMut;
use smtp_sansio::{BareLf, BareLineEndings, BdatReader, DataDecoder, DataEncoder, Decoded, LineFramer};
use support::{FrameItem, decode_all_ways, decode_data, frame, split_invariant};

fn lines(framer: LineFramer, input: &[u8]) -> (Vec<FrameItem>, Vec<u8>) {
    split_invariant(input, |pieces| frame(framer.clone(), pieces))
}

fn line(text: &str) -> FrameItem {
    FrameItem::Line(text.as_bytes().to_vec())
}

#[test]
fn pipelined_lines_come_out_in_order_with_the_partial_line_kept() {
    let (items, rest) = lines(LineFramer::commands(), b"EHLO a\r\nMAIL FROM:<a@b>\r\n\r\nRCPT TO:<c@d>\r\nDA");
    assert_eq!(items, [line("EHLO a"), line("MAIL FROM:<a@b>"), line(""), line("RCPT TO:<c@d>")]);
    assert_eq!(rest, b"DA");
}

#[test]
fn a_cr_inside_a_line_is_part_of_it() {
    let (items, _) = lines(LineFramer::commands(), b"NOOP a\rb\r\n");
    assert_eq!(items, [line("NOOP a\rb")]);
}

#[test]
fn a_line_of_exactly_512_octets_fits_and_513_does_not() {
    let fits = format!("NOOP {}\r\n", "x".repeat(512 - 7));
    assert_eq!(fits.len(), 512);
    let (items, _) = lines(LineFramer::commands(), fits.as_bytes());
    assert_eq!(items, [line(&fits[..510])]);

    let too_long = format!("NOOP {}\r\nQUIT\r\n", "x".repeat(512 - 6));
    let (items, rest) = lines(LineFramer::commands(), too_long.as_bytes());
    assert_eq!(items, [FrameItem::TooLong, line("QUIT")]);
    assert!(rest.is_empty());
}

#[test]
fn a_one_megabyte_line_is_discarded_with_bounded_memory_and_the_next_line_is_read() {
    let mut input = b"NOOP ".to_vec();
    input.extend(std::iter::repeat_n(b'A', 1 << 20));
    input.extend_from_slice(b"\r\nNOOP\r\n");
    // `frame` asserts that the caller never holds more than the cap plus one read.
    let (items, rest) = lines(LineFramer::commands(), &input);
    assert_eq!(items, [FrameItem::TooLong, line("NOOP")]);
    assert!(rest.is_empty());
}

#[test]
fn an_overlong_line_is_reported_once_however_it_arrives() {
    let input = [vec![b'x'; 5000], b"\r\n".to_vec()].concat();
    let (items, _) = lines(LineFramer::new(100, BareLf::Reject), &input);
    assert_eq!(items, [FrameItem::TooLong]);
}

#[test]
fn bare_lf_is_refused_by_default_and_accepted_when_configured() {
    let input = b"HELO a\nQUIT\r\n";
    assert_eq!(lines(LineFramer::commands(), input).0, [FrameItem::BareLf, line("QUIT")]);
    let lenient = LineFramer::new(512, BareLf::Accept);
    assert_eq!(lines(lenient, input).0, [line("HELO a"), line("QUIT")]);
}

#[test]
fn the_auth_cap_takes_long_lines() {
    let token = "A".repeat(10_000);
    let input = format!("{token}\r\n");
    let mut framer = LineFramer::commands();
    framer.set_max_line(LineFramer::AUTH_LINE);
    assert_eq!(lines(framer, input.as_bytes()).0, [line(&token)]);
}

// --- DATA: end of data --------------------------------------------------------------

#[test]
fn the_body_ends_at_crlf_dot_crlf_and_keeps_its_last_crlf() {
    let decoding = decode_all_ways(b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    assert!(decoding.ended);
    assert_eq!(decoding.body, b"Subject: x\r\n\r\nbody\r\n");
    assert_eq!(decoding.rest, b"QUIT\r\n");
    assert_eq!(decoding.bare, BareLineEndings::default());
}

#[test]
fn an_empty_message_ends_at_a_dot_right_after_data() {
    let decoding = decode_all_ways(b".\r\nQUIT\r\n");
    assert!(decoding.ended);
    assert!(decoding.body.is_empty());
    assert_eq!(decoding.rest, b"QUIT\r\n");
}

#[test]
fn a_message_of_one_empty_line_is_not_an_empty_message() {
    let decoding = decode_all_ways(b"\r\n.\r\n");
    assert!(decoding.ended);
    assert_eq!(decoding.body, b"\r\n");
}

#[test]
fn stuffed_dots_are_removed_at_line_starts_only() {
    let decoding = decode_all_ways(b"..\r\n...x\r\n.y\r\na.b\r\n ..\r\n.\r\n");
    assert_eq!(decoding.body, b".\r\n..x\r\ny\r\na.b\r\n ..\r\n");
    assert!(decoding.ended);
}

#[test]
fn without_the_terminator_the_body_does_not_end() {
    let decoding = decode_all_ways(b"line one\r\nline two\r\n.");
    assert!(!decoding.ended);
    assert_eq!(decoding.body, b"line one\r\nline two\r\n");
    assert_eq!(decoding.rest, b".");
}

#[test]
fn a_body_with_nothing_to_unstuff_is_handed_out_without_copying() {
    let mut input = BytesMut::from(&b"Subject: zero copy\r\n\r\nplain text\r\n"[..]);
    let buffer = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
    let mut decoder = DataDecoder::new();
    let Some(Decoded::Data(chunk)) = decoder.decode(&mut input) else { panic!("no data") };
    assert_eq!(chunk.len(), buffer.len(), "one chunk for the whole run");
    assert!(buffer.contains(&(chunk.as_ptr() as usize)), "the chunk is a copy, not a slice of the input");
}

#[test]
fn the_decoder_is_finished_after_the_end_and_leaves_the_rest_alone() {
    let mut input = BytesMut::from(&b".\r\nRSET\r\n"[..]);
    let mut decoder = DataDecoder::new();
    assert_eq!(decoder.decode(&mut input), Some(Decoded::End));
    assert!(decoder.is_finished());
    assert_eq!(decoder.decode(&mut input), None);
    assert_eq!(&input[..], b"RSET\r\n");
}

// --- DATA: SMTP smuggling --------------------------------------------------------------
//
// Each test hides a second transaction behind a look-alike end of data. A server that
// ends the body at the look-alike would run the smuggled MAIL/RCPT/DATA as commands.
// Here the look-alike must stay inside the body, the only end is the real
// `<CRLF>.<CRLF>`, and the bare line endings must be reported.

const SMUGGLED: &[u8] = b"MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nFrom: admin@bank.example\r\n\r\nsend money\r\n";

fn assert_not_an_end(variant: &[u8], bare_cr: bool, bare_lf: bool) {
    let input = [b"Subject: hi\r\n\r\nhello".as_slice(), variant, SMUGGLED, b"\r\n.\r\n"].concat();
    for decoder in [DataDecoder::new(), DataDecoder::normalizing()] {
        let decoding = split_invariant(&input, |pieces| decode_data(decoder.clone(), pieces));
        assert!(decoding.ended, "the real terminator was missed");
        assert!(
            decoding.rest.is_empty(),
            "the body ended early, leaving {:?}",
            String::from_utf8_lossy(&decoding.rest)
        );
        let smuggled_at = decoding.body.windows(SMUGGLED.len()).position(|w| w == SMUGGLED);
        assert!(smuggled_at.is_some(), "the smuggled commands are not in the body");
        assert_eq!(decoding.bare, BareLineEndings { cr: bare_cr, lf: bare_lf });
    }
}

macro_rules! smuggling {
    ($($name:ident: $variant:expr, cr: $cr:expr, lf: $lf:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_not_an_end($variant, $cr, $lf);
        }
    )*};
}

smuggling! {
    smuggling_lf_dot_lf: b"\n.\n", cr: false, lf: true;
    smuggling_lf_dot_crlf: b"\n.\r\n", cr: false, lf: true;
    smuggling_crlf_dot_lf: b"\r\n.\n", cr: false, lf: true;
    smuggling_cr_dot_cr: b"\r.\r", cr: true, lf: false;
    smuggling_cr_dot_crlf: b"\r.\r\n", cr: true, lf: false;
    smuggling_crlf_dot_cr: b"\r\n.\r", cr: true, lf: false;
    smuggling_crlf_dot_cr_crlf: b"\r\n.\r\r\n", cr: true, lf: false;
    smuggling_lf_dot_cr: b"\n.\r", cr: true, lf: true;
    smuggling_cr_lf_dot_lf_cr: b"\r\n.\n\r", cr: true, lf: true;
    smuggling_crlf_nul_dot_crlf: b"\r\n\0.\r\n", cr: false, lf: false;
    smuggling_crlf_dot_nul_crlf: b"\r\n.\0\r\n", cr: false, lf: false;
    smuggling_crlf_space_dot_crlf: b"\r\n .\r\n", cr: false, lf: false;
    smuggling_crlf_dot_space_crlf: b"\r\n. \r\n", cr: false, lf: false;
    smuggling_cr_cr_lf_dot_cr_cr_lf: b"\r\r\n.\r\r\n", cr: true, lf: false;
}

#[test]
fn normalizing_rewrites_bare_endings_to_crlf_without_ending_the_body() {
    let input = b"a\nb\rc\r\n.\r\n";
    let decoding = split_invariant(input, |pieces| decode_data(DataDecoder::normalizing(), pieces));
    assert_eq!(decoding.body, b"a\r\nb\r\nc\r\n");
    assert!(decoding.ended);
    assert_eq!(decoding.bare, BareLineEndings { cr: true, lf: true });
}

// --- DATA: encoding ---------------------------------------------------------------------

fn encode_in_pieces(encoder: DataEncoder, body: &[u8]) -> Vec<u8> {
    split_invariant(body, |pieces| {
        let mut encoder = encoder.clone();
        let mut out = BytesMut::new();
        for piece in pieces {
            encoder.encode(piece, &mut out);
        }
        encoder.finish(&mut out);
        out.to_vec()
    })
}

#[test]
fn the_encoder_stuffs_dots_and_terminates() {
    assert_eq!(encode_in_pieces(DataEncoder::new(), b".a\r\n..b\r\nc.\r\n"), b"..a\r\n...b\r\nc.\r\n.\r\n");
}

#[test]
fn the_encoder_adds_crlf_when_the_body_does_not_end_with_one() {
    assert_eq!(encode_in_pieces(DataEncoder::new(), b"no newline"), b"no newline\r\n.\r\n");
    assert_eq!(encode_in_pieces(DataEncoder::new(), b""), b".\r\n");
    assert_eq!(encode_in_pieces(DataEncoder::new(), b"ends in cr\r"), b"ends in cr\r\n.\r\n");
}

#[test]
fn the_encoder_normalizes_bare_endings_so_no_lookalike_terminator_leaves_it() {
    assert_eq!(encode_in_pieces(DataEncoder::new(), b"a\n.\nb\r.\rc"), b"a\r\n..\r\nb\r\n..\r\nc\r\n.\r\n");
}

#[test]
fn the_raw_encoder_keeps_bare_endings_and_stuffs_after_crlf_only() {
    assert_eq!(encode_in_pieces(DataEncoder::raw(), b"a\n.b\r\n.c\rd"), b"a\n.b\r\n..c\rd\r\n.\r\n");
}

#[test]
fn encoding_then_decoding_gives_the_body_back() {
    let body = b"From: a\r\n\r\n.\r\n..\r\n.\r\nend\r\n";
    let encoded = encode_in_pieces(DataEncoder::new(), body);
    let decoding = decode_all_ways(&encoded);
    assert_eq!(decoding.body, body);
    assert!(decoding.ended && decoding.rest.is_empty());
}

// --- BDAT -------------------------------------------------------------------------------

#[test]
fn bdat_counts_octets_exactly_across_splits() {
    let input = b"binary\0\r\n.\r\nchunk+QUIT\r\n";
    let (chunk, rest) = split_invariant(input, |pieces| {
        let mut reader = BdatReader::new(18);
        let (mut input, mut chunk) = (BytesMut::new(), Vec::new());
        for piece in pieces {
            input.extend_from_slice(piece);
            while let Some(data) = reader.read(&mut input) {
                chunk.extend_from_slice(&data);
            }
        }
        assert!(reader.is_finished());
        (chunk, input.to_vec())
    });
    assert_eq!(chunk, b"binary\0\r\n.\r\nchunk+");
    assert_eq!(rest, b"QUIT\r\n");
}

#[test]
fn a_zero_octet_bdat_chunk_is_finished_at_once() {
    let mut reader = BdatReader::new(0);
    let mut input = BytesMut::from(&b"QUIT\r\n"[..]);
    assert!(reader.is_finished());
    assert_eq!(reader.read(&mut input), None);
    assert_eq!(input.len(), 6);
}

#[test]
fn encoder_keeps_a_bare_cr_after_a_line_end_from_starting_a_line() {
    // Found by proptest: the CR that ends one piece and its non-LF partner at the
    // start of the next are one bare CR, which (raw) starts no line: nothing to stuff.
    for pieces in [vec![&b"\r\n\r...."[..]], vec![b"\r\n\r", b"...."], vec![b"\r\n", b"\r", b"...."]] {
        let mut encoder = DataEncoder::raw();
        let mut out = BytesMut::new();
        for piece in &pieces {
            encoder.encode(piece, &mut out);
        }
        encoder.finish(&mut out);
        assert_eq!(&out[..], b"\r\n\r....\r\n.\r\n", "{pieces:?}");
    }
}
