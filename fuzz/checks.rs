//! Invariant checks shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and by the
//! corpus replay test (`tests/fuzz_corpus.rs`). Each public function takes the raw
//! fuzzer input and panics when an invariant does not hold; "no panic" is not the
//! only thing checked.
//!
//! # Input layout
//!
//! `command`, `capabilities` and `proxy_header` take the input as it is. The stream targets
//! (`reply`, `data_decoder`, `line_framer`) start with a small header:
//!
//! ```text
//! byte 0        options, per target (see each function)
//! byte 1        n: how many piece lengths follow, modulo 16
//! bytes 2..2+n  piece lengths, used in a cycle to cut the payload (0 is an empty piece;
//!               if all are 0, or n is 0, the payload is one piece)
//! rest          the payload
//! ```
//!
//! Whatever the header says, the stream targets also compare the payload fed whole
//! with the payload fed one byte at a time. An input shorter than the header is all
//! header and an empty payload.

use bytes::{Bytes, BytesMut};
use smtp_sansio::proxy::{ProxyHeader, ProxyParse};
use smtp_sansio::{
    BareLf, BareLineEndings, Capabilities, Command, DataDecoder, DataEncoder, Decoded, Framed, LineFramer,
    ParseOptions, Reply, ReplyCode, ReplyError, ReplyParser,
};

/// The header and payload of a stream target's input.
struct Stream<'a> {
    options: u8,
    lengths: &'a [u8],
    payload: &'a [u8],
}

impl<'a> Stream<'a> {
    fn new(data: &'a [u8]) -> Self {
        let options = data.first().copied().unwrap_or(0);
        let count = usize::from(data.get(1).copied().unwrap_or(0) % 16);
        let rest = data.get(2..).unwrap_or(&[]);
        let count = count.min(rest.len());
        Self { options, lengths: &rest[..count], payload: &rest[count..] }
    }

    /// The payload cut as the header says.
    fn pieces(&self) -> Vec<&'a [u8]> {
        cut(self.payload, self.lengths)
    }

    /// The ways of feeding the payload that must all give the same result: whole,
    /// as the header says, and one byte at a time.
    fn feeds(&self) -> [(&'static str, Vec<&'a [u8]>); 3] {
        [("whole", vec![self.payload]), ("split", self.pieces()), ("bytewise", cut(self.payload, &[1]))]
    }
}

/// Cuts `payload` into pieces whose lengths cycle through `lengths`.
fn cut<'a>(payload: &'a [u8], lengths: &[u8]) -> Vec<&'a [u8]> {
    if lengths.iter().all(|&n| n == 0) {
        return vec![payload];
    }
    let mut pieces = Vec::new();
    let mut rest = payload;
    for &n in lengths.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(usize::from(n).min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

// ---------------------------------------------------------------------------------
// command
// ---------------------------------------------------------------------------------

/// `command`: the input is one command line without its CRLF.
///
/// * Strict parsing accepts nothing that lenient parsing does not, and gives the same
///   value for it.
/// * Whatever either mode accepts encodes, the encoding is one line ending in CRLF,
///   and parsing that line (without the CRLF) in strict mode gives the same command.
///   The one exception is the documented leniency of a `_` in a HELO, EHLO or LHLO
///   name, which strict mode refuses: that line must parse back the same in lenient
///   mode.
pub fn command(data: &[u8]) {
    let lenient = Command::parse(data, &ParseOptions::default());
    let strict = Command::parse(data, &ParseOptions::strict());
    if let Ok(command) = &strict {
        assert_eq!(
            lenient.as_ref(),
            Ok(command),
            "strict parsing accepted {:?} but lenient parsing gave something else",
            String::from_utf8_lossy(data)
        );
    }
    // Where the line sits in memory changes nothing: the UTF-8 check starts at the word
    // boundary before the arguments, and the fast paths read whole words.
    let mut shifted = vec![0u8; data.len() + 8];
    for offset in 1..8 {
        let line = &mut shifted[offset..offset + data.len()];
        line.copy_from_slice(data);
        assert_eq!(Command::parse(line, &ParseOptions::default()), lenient, "lenient, at offset {offset}");
        assert_eq!(Command::parse(line, &ParseOptions::strict()), strict, "strict, at offset {offset}");
    }
    for (mode, result) in [("lenient", lenient), ("strict", strict)] {
        if let Ok(command) = result {
            command_round_trip(data, mode, command.into_owned());
        }
    }
}

fn command_round_trip(data: &[u8], mode: &str, command: Command<'static>) {
    let input = String::from_utf8_lossy(data);
    let mut out = BytesMut::new();
    if let Err(error) = command.encode(&mut out) {
        panic!("{mode} parsing accepted {input:?} as {command:?}, which does not encode: {error:?}");
    }
    let line = out.strip_suffix(b"\r\n").unwrap_or_else(|| panic!("encoding {command:?} does not end in CRLF"));
    assert!(!line.contains(&b'\r') && !line.contains(&b'\n'), "encoding {command:?} gave {out:?}: CR or LF inside");
    let encoded = String::from_utf8_lossy(line);
    let underscore_host =
        matches!(command, Command::Helo { .. } | Command::Ehlo { .. } | Command::Lhlo { .. }) && encoded.contains('_');
    let options = if underscore_host { ParseOptions::default() } else { ParseOptions::strict() };
    let reparsed = Command::parse(line, &options).map(Command::into_owned);
    assert_eq!(
        reparsed.as_ref(),
        Ok(&command),
        "{mode} parsing accepted {input:?}; its encoding {encoded:?} parses back (strict: {}) differently",
        options.strict
    );
}

// ---------------------------------------------------------------------------------
// reply
// ---------------------------------------------------------------------------------

/// `reply`: a stream of reply bytes fed to a [`ReplyParser`].
///
/// Options byte: the low two bits pick the parser, the rest tunes it:
/// 0 `ReplyParser::new()`; 1 512-octet lines, at most 2 lines a reply, bare LF refused;
/// 2 lines of 8 + (options >> 2) octets, 4 lines, bare LF accepted; 3 lines of
/// (options >> 2) octets (the framer takes at least 3), 1 + (options >> 5) lines, bare
/// LF refused.
///
/// * The results (replies and errors, in order) do not depend on how the input is cut.
/// * Every reply encodes, and the encoding parses back (with `ReplyParser::new()`) to
///   exactly that reply, using all of it, when each line's text fits one 512-octet
///   line. Text can be longer than that after parsing (a bare LF ending saves an octet;
///   a byte that is not UTF-8 becomes the three octets of U+FFFD); the encoder then
///   splits it, and the reply parses back with the same code, enhanced code and text
///   but for the spaces at the split points.
pub fn reply(data: &[u8]) {
    let stream = Stream::new(data);
    let make = || {
        let o = usize::from(stream.options);
        match o & 3 {
            0 => ReplyParser::new(),
            1 => ReplyParser::with_limits(512, 2, BareLf::Reject),
            2 => ReplyParser::with_limits(8 + (o >> 2), 4, BareLf::Accept),
            _ => ReplyParser::with_limits(o >> 2, 1 + (o >> 5), BareLf::Reject),
        }
    };
    let [first, rest @ ..] = stream.feeds().map(|(name, pieces)| (name, parse_replies(make(), &pieces)));
    for (name, results) in rest {
        assert_eq!(results, first.1, "reply results fed {name} differ from fed {}", first.0);
    }
    for reply in first.1.iter().flatten() {
        let mut out = BytesMut::new();
        if let Err(error) = reply.encode(&mut out) {
            panic!("parsed reply {reply:?} does not encode: {error:?}");
        }
        let encoded = out.clone();
        let again = parse_replies(ReplyParser::new(), &[&out[..]]);
        let prefix = reply.enhanced().map_or(0, |status| status.to_string().len() + 1);
        if reply.lines().all(|line| 4 + prefix + line.len() + 2 <= 512) {
            assert_eq!(again, [Ok(reply.clone())], "reply {reply:?} encoded as {encoded:?} parses back differently");
        } else {
            let [Ok(again)] = &again[..] else { panic!("reply {reply:?} encoded as {encoded:?} gave {again:?}") };
            let words =
                |r: &Reply| r.lines().flat_map(|line| line.split(' ')).filter(|w| !w.is_empty()).collect::<String>();
            assert_eq!((again.code(), again.enhanced()), (reply.code(), reply.enhanced()), "split reply {encoded:?}");
            assert_eq!(words(again), words(reply), "split reply {encoded:?} lost text");
            for line in encoded.split_inclusive(|&b| b == b'\n') {
                assert!(line.len() <= 512, "encoded line of {} octets", line.len());
            }
        }
    }
}

/// Feeds `pieces` to `parser`, taking out every result after each piece.
fn parse_replies(mut parser: ReplyParser, pieces: &[&[u8]]) -> Vec<Result<Reply, ReplyError>> {
    let mut input = BytesMut::new();
    let mut results = Vec::new();
    for piece in pieces {
        input.extend_from_slice(piece);
        while let Some(result) = parser.parse(&mut input) {
            results.push(result);
        }
    }
    results
}

// ---------------------------------------------------------------------------------
// data_decoder
// ---------------------------------------------------------------------------------

/// `data_decoder`: a DATA body, from right after the 354 reply, fed to a [`DataDecoder`].
///
/// Options byte: bit 0 set uses `DataDecoder::normalizing()`, clear `DataDecoder::new()`.
///
/// * Fed any way, the decoder gives what [`reference_decode`] gives: the same bytes,
///   the same end, the same bytes left in the input (after the end, or the bytes not
///   yet judged when there is no end) and the same bare line endings. No piece of
///   data is empty, and the end comes at most once.
/// * The payload, taken as a body, goes through `DataEncoder` (cut as the header
///   says) and back through `DataDecoder::new()`: with `DataEncoder::raw()` the body
///   comes back with CRLF added unless it is empty or ends in CRLF; with
///   `DataEncoder::new()` the same after each bare CR and bare LF became CRLF.
/// * In each of the encoder's four modes, fed any way, `encode_bytes` (slices of the
///   body) writes the bytes `encode` (a copy) writes, and copies nothing of the body:
///   each piece it hands out is a slice of the piece it was given or a byte it adds (a
///   dot, a CR, an LF), and the slices cover the whole piece.
pub fn data_decoder(data: &[u8]) {
    let stream = Stream::new(data);
    let normalize = stream.options & 1 == 1;
    let expected = reference_decode(stream.payload, normalize);
    for (name, pieces) in stream.feeds() {
        let decoder = if normalize { DataDecoder::normalizing() } else { DataDecoder::new() };
        let run = decode_pieces(decoder, &pieces);
        assert_eq!(run, expected, "DataDecoder (normalize: {normalize}) fed {name} differs from the reference");
    }
    data_encoder_round_trip(&stream);
    data_encoder_slices(&stream);
}

/// What decoding a body gave.
#[derive(Debug, PartialEq, Eq)]
pub struct DecodeRun {
    /// The body bytes handed out.
    pub output: Vec<u8>,
    /// Whether `<CRLF>.<CRLF>` was reached.
    pub ended: bool,
    /// The bytes left in the input at the end.
    pub rest: Vec<u8>,
    /// The bare line endings recorded.
    pub bare: BareLineEndings,
}

fn decode_pieces(mut decoder: DataDecoder, pieces: &[&[u8]]) -> DecodeRun {
    let mut input = BytesMut::new();
    let (mut output, mut ended) = (Vec::new(), false);
    for piece in pieces {
        input.extend_from_slice(piece);
        while let Some(decoded) = decoder.decode(&mut input) {
            match decoded {
                Decoded::Data(chunk) => {
                    assert!(!ended, "DataDecoder gave data after the end");
                    assert!(!chunk.is_empty(), "DataDecoder gave an empty piece of data");
                    output.extend_from_slice(&chunk);
                }
                Decoded::End => {
                    assert!(!ended, "DataDecoder gave the end twice");
                    ended = true;
                }
            }
        }
    }
    assert_eq!(decoder.is_finished(), ended, "DataDecoder::is_finished disagrees with the End it gave");
    DecodeRun { output, ended, rest: input.to_vec(), bare: decoder.bare_line_endings() }
}

/// RFC 5321 section 4.1.1.4 and 4.5.2, one byte at a time: a line starts at the start
/// of the body and after CRLF (never after a bare CR or bare LF); `.<CRLF>` at a line
/// start ends the body; any other `.` at a line start is removed. A CR at the end of
/// the input, and a `.` or `.<CR>` at a line start at the end of the input, cannot be
/// judged yet and stay in the input. With `normalize`, each bare CR and bare LF comes
/// out as CRLF.
pub fn reference_decode(input: &[u8], normalize: bool) -> DecodeRun {
    let mut output = Vec::new();
    let mut bare = BareLineEndings::default();
    let mut line_start = true;
    let mut i = 0;
    let (ended, rest_from) = loop {
        let rest = &input[i..];
        if line_start && rest.starts_with(b".\r\n") {
            break (true, i + 3);
        }
        if line_start && rest.first() == Some(&b'.') {
            if b".\r\n".starts_with(rest) {
                break (false, i); // `.` or `.<CR>`: maybe the end, maybe not
            }
            i += 1; // a stuffed dot
            line_start = false;
            continue;
        }
        line_start = false;
        match rest {
            [] | [b'\r'] => break (false, i),
            [b'\r', b'\n', ..] => {
                output.extend_from_slice(b"\r\n");
                line_start = true;
                i += 2;
            }
            [b'\r', ..] => {
                bare.cr = true;
                output.extend_from_slice(if normalize { b"\r\n" } else { b"\r" });
                i += 1;
            }
            [b'\n', ..] => {
                bare.lf = true;
                output.extend_from_slice(if normalize { b"\r\n" } else { b"\n" });
                i += 1;
            }
            [byte, ..] => {
                output.push(*byte);
                i += 1;
            }
        }
    };
    DecodeRun { output, ended, rest: input[rest_from..].to_vec(), bare }
}

/// Each bare CR and bare LF of `body` (a CR at the very end counts as bare) as CRLF.
pub fn normalize_line_endings(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match &body[i..] {
            [b'\r', b'\n', ..] => i += 2,
            [b'\r' | b'\n', ..] => i += 1,
            [byte, ..] => {
                out.push(*byte);
                i += 1;
                continue;
            }
            [] => unreachable!(),
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The bare CRs (not followed by LF) and bare LFs (not preceded by CR) in `bytes`.
fn bare_line_endings(bytes: &[u8]) -> BareLineEndings {
    let mut bare = BareLineEndings::default();
    for (i, &byte) in bytes.iter().enumerate() {
        match byte {
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => bare.cr = true,
            b'\n' if i == 0 || bytes[i - 1] != b'\r' => bare.lf = true,
            _ => {}
        }
    }
    bare
}

/// The body a server reads back: a CRLF is added to a non-empty body that does not
/// end in one (the `.` line must start a line).
pub fn with_final_crlf(mut body: Vec<u8>) -> Vec<u8> {
    if !body.is_empty() && !body.ends_with(b"\r\n") {
        body.extend_from_slice(b"\r\n");
    }
    body
}

fn data_encoder_round_trip(stream: &Stream<'_>) {
    let body = stream.payload;
    let cases = [
        ("raw", DataEncoder::raw(), with_final_crlf(body.to_vec())),
        ("new", DataEncoder::new(), with_final_crlf(normalize_line_endings(body))),
    ];
    for (name, encoder, expected) in cases {
        let encode = |pieces: &[&[u8]]| {
            let mut encoder = encoder.clone();
            let mut out = BytesMut::new();
            for piece in pieces {
                encoder.encode(piece, &mut out);
            }
            encoder.finish(&mut out);
            out
        };
        let whole = encode(&[body]);
        for (feed, pieces) in stream.feeds() {
            assert_eq!(encode(&pieces), whole, "DataEncoder::{name}() output differs when the body is fed {feed}");
        }
        let decoded = decode_pieces(DataDecoder::new(), &stream.pieces_of(&whole));
        assert!(decoded.ended, "DataEncoder::{name}() output {whole:?} has no end for DataDecoder");
        assert!(decoded.rest.is_empty(), "DataEncoder::{name}() output {whole:?} has bytes after the end");
        assert_eq!(
            decoded.output, expected,
            "DataEncoder::{name}() then DataDecoder::new() does not give back the expected body; encoded: {whole:?}"
        );
        assert_eq!(
            decoded.bare,
            bare_line_endings(&expected),
            "DataEncoder::{name}() output {whole:?}: bare line endings differ"
        );
    }
}

fn data_encoder_slices(stream: &Stream<'_>) {
    let modes = [
        ("new", DataEncoder::new()),
        ("raw", DataEncoder::raw()),
        ("line_endings_only", DataEncoder::line_endings_only()),
        ("verbatim", DataEncoder::verbatim()),
    ];
    for (name, encoder) in modes {
        for (feed, pieces) in stream.feeds() {
            let mut copying = encoder.clone();
            let mut copied = BytesMut::new();
            let mut slicing = encoder.clone();
            let mut sliced: Vec<Bytes> = Vec::new();
            for piece in pieces {
                copying.encode(piece, &mut copied);
                let piece = Bytes::copy_from_slice(piece);
                let first = sliced.len();
                slicing.encode_bytes(piece.clone(), &mut sliced);
                assert_slices_of(&piece, &sliced[first..], name);
            }
            copying.finish(&mut copied);
            slicing.finish(&mut sliced);
            assert_eq!(
                sliced.concat(),
                copied,
                "DataEncoder::{name}(): encode_bytes and encode differ when the body is fed {feed}"
            );
        }
    }
}

/// Checks that `produced` holds slices of `piece` covering all of it, and besides them
/// only the single bytes an encoder adds.
fn assert_slices_of(piece: &Bytes, produced: &[Bytes], mode: &str) {
    let memory = piece.as_ptr_range();
    let mut covered: Vec<(usize, usize)> = Vec::new();
    for part in produced {
        let start = part.as_ptr() as usize;
        if !part.is_empty() && memory.contains(&part.as_ptr()) && start + part.len() <= memory.end as usize {
            let offset = start - memory.start as usize;
            covered.push((offset, offset + part.len()));
        } else {
            assert!(
                [&b"."[..], b"\r", b"\n"].contains(&&part[..]),
                "DataEncoder::{mode}().encode_bytes handed out {part:?}, neither a slice of {piece:?} nor a byte it adds"
            );
        }
    }
    covered.sort_unstable();
    let mut next = 0;
    for (start, end) in covered {
        assert!(start <= next, "DataEncoder::{mode}().encode_bytes copied byte {next} of {piece:?}");
        next = next.max(end);
    }
    assert!(next >= piece.len(), "DataEncoder::{mode}().encode_bytes copied byte {next} of {piece:?}");
}

impl Stream<'_> {
    /// Another payload cut the same way.
    fn pieces_of<'b>(&self, payload: &'b [u8]) -> Vec<&'b [u8]> {
        cut(payload, self.lengths)
    }
}

// ---------------------------------------------------------------------------------
// line_framer
// ---------------------------------------------------------------------------------

/// One thing a [`LineFramer`] reported, with the bytes that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineItem {
    /// A line's text and its ending.
    Line(Vec<u8>, Vec<u8>),
    /// An overlong line ended.
    TooLong,
    /// A line (with its LF) ended by a bare LF, refused.
    BareLf(Vec<u8>),
}

/// `line_framer`: a byte stream fed to a [`LineFramer`].
///
/// Options byte: bit 0 set is `BareLf::Accept`, clear `BareLf::Reject`; the other
/// seven bits are the line cap (127 means [`LineFramer::COMMAND_LINE`]; below 3 the
/// framer takes 3).
///
/// * Fed any way, the items are those of [`reference_lines`], and the bytes left in
///   the buffer at the end are the same.
/// * Memory is bounded: after the framer says it needs more input, the caller's buffer
///   holds at most `max_line` bytes, so it never holds more than that plus the latest
///   piece.
pub fn line_framer(data: &[u8]) {
    let stream = Stream::new(data);
    let bare_lf = if stream.options & 1 == 1 { BareLf::Accept } else { BareLf::Reject };
    let max_line = match usize::from(stream.options >> 1) {
        127 => LineFramer::COMMAND_LINE,
        n => n,
    };
    let framer = LineFramer::new(max_line, bare_lf);
    let max_line = framer.max_line();
    assert!(max_line >= 3, "LineFramer cap {max_line} is below 3");
    let expected = reference_lines(stream.payload, max_line, bare_lf);
    for (name, pieces) in stream.feeds() {
        let got = frame_pieces(framer.clone(), &pieces);
        assert_eq!(got, expected, "LineFramer (cap {max_line}, {bare_lf:?}) fed {name} differs from the reference");
    }
}

fn frame_pieces(mut framer: LineFramer, pieces: &[&[u8]]) -> (Vec<LineItem>, Vec<u8>) {
    let max_line = framer.max_line();
    let mut buffer: Vec<u8> = Vec::new();
    let mut items = Vec::new();
    for piece in pieces {
        assert!(
            buffer.len() <= max_line,
            "caller's buffer holds {} bytes between reads (cap {max_line})",
            buffer.len()
        );
        buffer.extend_from_slice(piece);
        loop {
            let framed = framer.next_line(&buffer);
            let used = match framed {
                Framed::Line { len, consumed } => {
                    assert!(len < consumed && consumed <= buffer.len(), "{framed:?} out of bounds of {}", buffer.len());
                    items.push(LineItem::Line(buffer[..len].to_vec(), buffer[len..consumed].to_vec()));
                    consumed
                }
                Framed::LineTooLong { consumed } => {
                    assert!(0 < consumed && consumed <= buffer.len(), "{framed:?} out of bounds of {}", buffer.len());
                    items.push(LineItem::TooLong);
                    consumed
                }
                Framed::BareLf { consumed } => {
                    assert!(0 < consumed && consumed <= buffer.len(), "{framed:?} out of bounds of {}", buffer.len());
                    items.push(LineItem::BareLf(buffer[..consumed].to_vec()));
                    consumed
                }
                Framed::Incomplete { discard } => {
                    assert!(discard <= buffer.len(), "{framed:?} out of bounds of {}", buffer.len());
                    buffer.drain(..discard);
                    break;
                }
            };
            buffer.drain(..used);
        }
    }
    assert!(buffer.len() <= max_line, "caller's buffer holds {} bytes at the end (cap {max_line})", buffer.len());
    (items, buffer)
}

/// Lines as RFC 5321 section 2.3.8 and 4.5.3.1.4 would have them: each LF ends a
/// line; a line longer than `max_line` with its ending is too long; otherwise a line
/// ending in CRLF is a line, and one ending in a bare LF is a line (`Accept`) or refused
/// (`Reject`). The bytes after the last LF stay in the buffer if there are fewer than
/// `max_line` of them, and are dropped (being a line that is already too long)
/// otherwise.
pub fn reference_lines(input: &[u8], max_line: usize, bare_lf: BareLf) -> (Vec<LineItem>, Vec<u8>) {
    let mut items = Vec::new();
    let mut rest = input;
    while let Some(lf) = rest.iter().position(|&b| b == b'\n') {
        let (line, tail) = rest.split_at(lf + 1);
        rest = tail;
        let item = if line.len() > max_line {
            LineItem::TooLong
        } else if line.ends_with(b"\r\n") {
            LineItem::Line(line[..line.len() - 2].to_vec(), b"\r\n".to_vec())
        } else if bare_lf == BareLf::Accept {
            LineItem::Line(line[..line.len() - 1].to_vec(), b"\n".to_vec())
        } else {
            LineItem::BareLf(line.to_vec())
        };
        items.push(item);
    }
    let rest = if rest.len() < max_line { rest.to_vec() } else { Vec::new() };
    (items, rest)
}

// ---------------------------------------------------------------------------------
// capabilities
// ---------------------------------------------------------------------------------

/// `capabilities`: the input is the text of an EHLO reply, one line per LF (a CR
/// before the LF is dropped; bytes that are not UTF-8 become U+FFFD; lines with
/// another control character but HT are left out).
///
/// * `Capabilities::from_reply` of `Reply::with_lines(250, lines)`, if it succeeds,
///   survives `to_reply` then `from_reply` unchanged.
/// * Its `limits()` (RFC 9422) hold only values from 1 to 999999, and read the same
///   after the round trip.
pub fn capabilities(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.chars().any(|c| c.is_ascii_control() && c != '\t'))
        .map(String::from)
        .collect();
    let reply = Reply::with_lines(ReplyCode::OK, lines);
    let Ok(first) = Capabilities::from_reply(&reply) else { return };
    let rebuilt = first.to_reply();
    let second = Capabilities::from_reply(&rebuilt);
    assert_eq!(second.as_ref(), Ok(&first), "capabilities from {reply:?} do not survive to_reply: {rebuilt:?}");
    let limits = first.limits();
    for value in [limits.mail_max, limits.rcpt_max, limits.rcpt_domain_max].into_iter().flatten() {
        assert!((1..=999_999).contains(&value), "a limit out of range from {reply:?}: {limits:?}");
    }
    assert_eq!(second.map(|caps| caps.limits()), Ok(limits));
}

/// `server_session`: a whole server session under random input, random chunking and
/// a random decision schedule.
///
/// The options byte picks the configuration: bit 0 LMTP, bit 1 STARTTLS offered, bit 2
/// AUTH (PLAIN, LOGIN) allowed in plaintext, bit 3 strict envelopes, bits 4-5 the bare
/// line ending policy, bit 6 tiny limits (3 recipients, 200-octet messages, 5 errors),
/// bit 7 the application rejects every other decision. The split lengths double as
/// the decision schedule: at each `Pending`, the next one says whether to read on or
/// which held decision to make.
///
/// Invariants: the session never panics; whole, split and bytewise feeding, each with
/// decisions made at once and on the schedule, give the same replies and events;
/// `Wait` is never said while a decision is owed, and `Pending` counts exactly the
/// decisions held; everything it transmits parses as replies with nothing left over;
/// it holds at most about 1 MiB of input; and after the input ends it closes within a
/// bounded number of steps.
pub fn server_session(data: &[u8]) {
    use smtp_sansio::server::{BareLineEndingPolicy, ServerConfig};
    let stream = Stream::new(data);
    let options = stream.options;
    let mut config = ServerConfig::new("mx.example.org");
    // The invariants below hold for every cut of the input; the synchronisation checks
    // depend on the cuts by design (`SyncChecks`), and are tested on their own.
    config.sync_checks = smtp_sansio::server::SyncChecks::NONE;
    config.lmtp = options & 1 != 0;
    config.starttls = options & 2 != 0;
    if options & 4 != 0 {
        config.auth_mechanisms = vec![smtp_sansio::sasl::Mechanism::Plain, smtp_sansio::sasl::Mechanism::Login];
        config.plaintext_auth = true;
    }
    config.strict = options & 8 != 0;
    config.bare_line_endings = match options >> 4 & 3 {
        0 => BareLineEndingPolicy::Reject,
        1 => BareLineEndingPolicy::Normalize,
        _ => BareLineEndingPolicy::Pass,
    };
    if options & 64 != 0 {
        config.max_recipients = 3;
        config.max_message_size = Some(200);
        config.max_errors = 5;
    }
    let reject_some = options & 128 != 0;
    let server = config.build().expect("a valid configuration");
    let schedule = stream.lengths;
    let mut runs = stream.feeds().into_iter().flat_map(|(name, pieces)| {
        let at_once = run_server(&server, &pieces, reject_some, None);
        let scheduled = run_server(&server, &pieces, reject_some, Some(schedule));
        [(name, "at once", at_once), (name, "on the schedule", scheduled)]
    });
    let (_, _, expected) = runs.next().expect("three feeds");
    for (name, decided, run) in runs {
        assert_eq!(run, expected, "{name} feeding with decisions {decided} differs from whole, at once");
    }
    let mut sent = BytesMut::from(expected.0.as_slice());
    let mut parser = ReplyParser::new();
    while let Some(reply) = parser.parse(&mut sent) {
        if let Err(error) = reply {
            panic!("the server sent an invalid reply ({error}): {:?}", String::from_utf8_lossy(&expected.0));
        }
    }
    assert!(sent.is_empty(), "the server sent a partial reply: {:?}", String::from_utf8_lossy(&sent));
}

/// (bytes sent, events as `Ok(debug text)`, with each run of body chunks joined into
/// one `Err(body)`: where chunks split depends on the feeding).
type ServerRun = (Vec<u8>, Vec<Result<String, Vec<u8>>>);

/// A decision the application holds: the ticket and whether it rejects.
enum HeldTicket {
    Plain(smtp_sansio::server::Ticket, bool),
    Auth(smtp_sansio::server::AuthTicket, bool),
}

fn decide_held(session: &mut smtp_sansio::server::ServerSession, held: HeldTicket) {
    let no = || Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "no");
    let result = match held {
        HeldTicket::Plain(ticket, true) => session.reject(ticket, no()),
        HeldTicket::Plain(ticket, false) => session.accept(ticket),
        HeldTicket::Auth(ticket, true) => session.reject_auth(ticket, no()),
        HeldTicket::Auth(ticket, false) => session.accept_auth(ticket),
    };
    // A forced close (too many errors, a flood) drops the decisions still owed.
    if result != Err(smtp_sansio::DecisionError::Closed) {
        result.expect("a held ticket takes a decision");
    }
}

fn run_server(
    server: &smtp_sansio::server::Server,
    pieces: &[&[u8]],
    reject_some: bool,
    schedule: Option<&[u8]>,
) -> ServerRun {
    use smtp_sansio::Output;
    use smtp_sansio::server::{ServerEvent, ServerSession};
    let mut session = ServerSession::new(server);
    let mut pieces = pieces.iter();
    let (mut sent, mut events): ServerRun = (Vec::new(), Vec::new());
    let mut decisions = 0u64;
    let mut after_eof = 0;
    let mut held: Vec<HeldTicket> = Vec::new();
    let mut choices = schedule.unwrap_or(&[]).iter().copied().cycle();
    for _ in 0..1_000_000 {
        assert!(session.buffered_input() <= (1 << 20) + 16384, "input held without bound");
        match session.poll_output() {
            Output::Transmit(bytes) => {
                assert!(!bytes.is_empty(), "empty Transmit");
                sent.extend_from_slice(&bytes);
            }
            Output::Event(ServerEvent::BodyChunk(chunk)) => {
                assert!(!chunk.is_empty(), "empty body chunk");
                match events.last_mut() {
                    Some(Err(body)) => body.extend_from_slice(&chunk),
                    _ => events.push(Err(chunk.to_vec())),
                }
            }
            Output::Event(event) => {
                let ticket = match (&event, event.ticket()) {
                    (_, Some(ticket)) => Some((Some(ticket), None)),
                    (ServerEvent::Auth { ticket, .. }, None) => Some((None, Some(ticket.clone()))),
                    _ => None,
                };
                events.push(Ok(format!("{event:?}")));
                if let Some(ticket) = ticket {
                    decisions += 1;
                    let reject = reject_some && decisions.is_multiple_of(2);
                    let ticket = match ticket {
                        (Some(ticket), _) => HeldTicket::Plain(ticket, reject),
                        (None, Some(ticket)) => HeldTicket::Auth(ticket, reject),
                        (None, None) => unreachable!("one of the two"),
                    };
                    match schedule {
                        None => decide_held(&mut session, ticket),
                        Some(_) => held.push(ticket),
                    }
                }
            }
            Output::StartTls => {
                events.push(Ok("StartTls".into()));
                for piece in pieces.by_ref() {
                    session.handle_input(piece);
                }
                session.tls_established().expect("a handshake was asked for");
            }
            Output::Wait(_) => {
                assert!(held.is_empty(), "Wait while decisions are owed");
                match pieces.next() {
                    Some(piece) => session.handle_input(piece),
                    None => {
                        after_eof += 1;
                        assert!(after_eof < 3, "the session waits for input after end of input");
                        session.handle_eof();
                    }
                }
            }
            Output::Pending(pending) => {
                assert_eq!(pending.owed(), held.len(), "Pending counts the decisions held");
                assert!(!held.is_empty(), "Pending with nothing owed");
                let choice = choices.next().unwrap_or(0);
                // Read on (while there is input, and not too much is held), or decide.
                if choice & 1 == 1 && pieces.len() > 0 && session.buffered_input() < 64 * 1024 {
                    if let Some(piece) = pieces.next() {
                        session.handle_input(piece);
                    }
                } else {
                    let index = usize::from(choice >> 1) % held.len();
                    decide_held(&mut session, held.remove(index));
                }
            }
            Output::Idle => panic!("a server is never idle"),
            Output::Closed => return (sent, events),
        }
    }
    panic!("the session did not close");
}

/// `client_session`: a client session against random server bytes.
///
/// The options byte picks the configuration: bit 0 LMTP, bits 1-2 the STARTTLS policy,
/// bit 3 BDAT preferred, bit 4 credentials (PLAIN, LOGIN) usable in plaintext. The
/// payload, cut as the header says, is handed over one piece each time the client
/// waits; then the server closes.
///
/// Invariants: no panic; every enqueued message is reported exactly once (accepted or
/// failed); the session ends with `Closed` within a bounded number of steps; nothing
/// the client sends holds a bare CR or LF outside a body.
pub fn client_session(data: &[u8]) {
    use smtp_sansio::Output;
    use smtp_sansio::client::{ClientConfig, ClientCredentials, ClientEvent, ClientSession, Envelope, TlsPolicy};
    use smtp_sansio::wire::{ForwardPath, ReversePath};
    let stream = Stream::new(data);
    let options = stream.options;
    let mut config = ClientConfig::new("client.example.net");
    config.lmtp = options & 1 != 0;
    config.starttls = match options >> 1 & 3 {
        0 => TlsPolicy::Opportunistic,
        1 => TlsPolicy::Required,
        _ => TlsPolicy::Off,
    };
    config.prefer_bdat = options & 8 != 0;
    if options & 16 != 0 {
        config.credentials = Some(ClientCredentials::Password { username: "u".into(), password: "p".into() });
        config.plaintext_auth = true;
    }
    let mut client = ClientSession::new(&config.build().unwrap());
    let from = ReversePath::parse("<a@example.net>").expect("a path").into_owned();
    let to = |name: &str| ForwardPath::parse(name).expect("a path").into_owned();
    let ids = [
        client.send(Envelope::new(from.clone(), [to("<b@example.org>"), to("<c@example.org>")])),
        client.send(Envelope::new(from, [to("<d@example.org>")])),
    ];
    client.quit();
    let mut pieces = stream.pieces().into_iter();
    let mut outcomes = Vec::new();
    let mut sent = Vec::new();
    for _ in 0..1_000_000 {
        match client.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(ClientEvent::BodyWanted { .. }) => {
                client.push_body(b"Subject: x\r\n\r\n.dot\r\n").expect("body wanted");
                client.end_body().expect("body wanted");
            }
            Output::Event(ClientEvent::Accepted { message, .. } | ClientEvent::Failed { message, .. }) => {
                outcomes.push(message)
            }
            Output::Event(_) => {}
            Output::StartTls => client.tls_established(),
            Output::Wait(_) | Output::Pending(_) | Output::Idle => match pieces.next() {
                Some(piece) => client.handle_input(piece),
                None => client.handle_eof(),
            },
            Output::Closed => {
                // The body pushed above has CRLF line endings only, so every byte the
                // client wrote must have them too.
                let bare = bare_line_endings(&sent);
                assert!(
                    !bare.cr && !bare.lf,
                    "the client wrote a bare line ending: {:?}",
                    String::from_utf8_lossy(&sent)
                );
                for id in ids {
                    let reported = outcomes.iter().filter(|&&o| o == id).count();
                    // LMTP reports per recipient and may leave the message without a
                    // summary outcome; SMTP reports each exactly once.
                    assert!(reported <= 1, "message {id:?} reported {reported} times");
                }
                return;
            }
        }
    }
    panic!("the client session did not close");
}

/// `client_server`: our client delivers to our server in memory. The payload is the
/// body; the options byte picks BDAT (bit 0), no PIPELINING on the server (bit 1),
/// raw bodies (bit 2: no line-ending repair, so the server must refuse bodies with
/// bare endings), and the header's lengths cut every transmission and the body pushes.
///
/// Invariants: the session pair finishes; the server receives the body exactly as the
/// SMTP rules say (repaired line endings and a final CRLF for DATA, byte for byte for
/// BDAT), or, for a raw body with bare endings, refuses it and the client says so. The
/// body pushed as `Bytes` (`push_body_bytes`, pieces sliced from one buffer) gives the
/// same wire bytes, the same received body and the same outcome as pushed as `&[u8]`.
pub fn client_server(data: &[u8]) {
    let stream = Stream::new(data);
    let (bdat, raw) = (stream.options & 1 != 0, stream.options & 4 != 0);
    let copied = deliver(&stream, false);
    let sliced = deliver(&stream, true);
    assert!(copied.sent == sliced.sent, "push_body_bytes wrote other bytes than push_body");
    assert_eq!(copied.received, sliced.received, "push_body_bytes delivered another body than push_body");
    assert_eq!((copied.accepted, copied.failed), (sliced.accepted, sliced.failed), "the outcomes differ");
    let Delivered { received, accepted, failed, .. } = copied;
    let bare = bare_line_endings(stream.payload);
    if bdat {
        assert!(accepted, "a BDAT body is always accepted");
        // Bare CR and LF become CRLF unless the client was told to send bodies raw.
        let expected = if raw { stream.payload.to_vec() } else { normalize_line_endings(stream.payload) };
        assert_eq!(received, expected, "BDAT delivers the body, line endings repaired");
    } else if raw && (bare.cr || bare.lf) {
        assert!(failed && !accepted, "a raw body with bare endings must be refused");
    } else {
        assert!(accepted, "the message must be accepted");
        assert_eq!(
            received,
            with_final_crlf(normalize_line_endings(stream.payload)),
            "DATA delivers the repaired body"
        );
    }
}

/// What a `client_server` run gave.
struct Delivered {
    /// Every byte the client wrote.
    sent: Vec<u8>,
    /// The body the server received.
    received: Vec<u8>,
    accepted: bool,
    failed: bool,
}

/// One `client_server` run, the body pushed with `push_body_bytes` when `as_bytes`.
fn deliver(stream: &Stream<'_>, as_bytes: bool) -> Delivered {
    use smtp_sansio::Output;
    use smtp_sansio::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
    use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession};
    use smtp_sansio::wire::{ForwardPath, ReversePath};
    let (bdat, no_pipelining, raw) = (stream.options & 1 != 0, stream.options & 2 != 0, stream.options & 4 != 0);
    let mut client_config = ClientConfig::new("client.example.net");
    client_config.prefer_bdat = bdat;
    client_config.normalize_line_endings = !raw;
    let mut server_config = ServerConfig::new("mx.example.org");
    server_config.pipelining = !no_pipelining;
    server_config.max_message_size = None;
    let mut client = ClientSession::new(&client_config.build().unwrap());
    let mut server = ServerSession::new(&server_config.build().unwrap());
    let from = ReversePath::parse("<a@example.net>").expect("a path").into_owned();
    let to = ForwardPath::parse("<b@example.org>").expect("a path").into_owned();
    client.send(Envelope::new(from, [to]).for_body(stream.payload));
    client.quit();
    // The pieces as slices of one buffer, as an application holding the body would cut it.
    let body = Bytes::copy_from_slice(stream.payload);
    let mut at = 0;
    let pieces: Vec<Bytes> = stream
        .pieces()
        .iter()
        .map(|piece| {
            at += piece.len();
            body.slice(at - piece.len()..at)
        })
        .collect();
    let mut cycle = stream.lengths.iter().copied().filter(|&n| n > 0).cycle();
    let mut cut = |bytes: &[u8]| -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let take = cycle.next().map_or(rest.len(), usize::from).min(rest.len());
            out.push(rest[..take].to_vec());
            rest = &rest[take..];
        }
        out
    };
    let (mut to_server, mut to_client): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    let mut run = Delivered { sent: Vec::new(), received: Vec::new(), accepted: false, failed: false };
    let (mut client_done, mut server_done) = (false, false);
    for _ in 0..10_000_000 {
        if client_done && server_done {
            break;
        }
        match client.poll_output() {
            Output::Transmit(bytes) => {
                run.sent.extend_from_slice(&bytes);
                to_server.extend(cut(&bytes));
            }
            Output::Event(ClientEvent::BodyWanted { .. }) => {
                for piece in &pieces {
                    match as_bytes {
                        true => client.push_body_bytes(piece.clone()).expect("body wanted"),
                        false => client.push_body(piece).expect("body wanted"),
                    }
                }
                client.end_body().expect("body wanted");
            }
            Output::Event(ClientEvent::Accepted { .. }) => run.accepted = true,
            Output::Event(ClientEvent::Failed { .. }) => run.failed = true,
            Output::Closed => client_done = true,
            Output::Wait(_) | Output::Pending(_) | Output::Idle | Output::Event(_) | Output::StartTls => {
                if !to_client.is_empty() {
                    client.handle_input(&to_client.remove(0));
                } else if server_done && !client_done {
                    client.handle_eof();
                }
            }
        }
        match server.poll_output() {
            Output::Transmit(bytes) => to_client.extend(cut(&bytes)),
            Output::Event(ServerEvent::BodyChunk(chunk)) => run.received.extend_from_slice(&chunk),
            Output::Event(event) => {
                if let Some(ticket) = event.ticket() {
                    server.accept(ticket).expect("a fresh ticket");
                }
            }
            Output::Closed => server_done = true,
            Output::Wait(_) | Output::Pending(_) | Output::Idle | Output::StartTls => {
                if !to_server.is_empty() {
                    server.handle_input(&to_server.remove(0));
                } else if client_done && !server_done {
                    server.handle_eof();
                }
            }
        }
    }
    assert!(client_done && server_done, "the pair did not finish");
    run
}

// ---------------------------------------------------------------------------------
// proxy_header
// ---------------------------------------------------------------------------------

/// `proxy_header`: the input is what a connection received first, parsed as a PROXY
/// protocol header with each of `ProxyVersions::Both`, `V1` and `V2`. Only its first
/// `V2_MAX_LEN + 64` bytes are used: every header is complete or refused by then.
///
/// * No panic.
/// * The answers for the input's prefixes, shortest first, are `Incomplete` until one
///   is not, and never change after that: an error stays the same error, a header the
///   same header with the same length, whatever follows.
/// * A header is complete exactly at its last byte, within the version's bound, of a
///   version accepted; its encoding parses back, alone and in every prefix, to the same
///   header.
/// * The versions agree: `Both` answers as the version the first byte names (`P` v1,
///   CR v2) does, and that version alone refuses the other's first byte with `Version`.
pub fn proxy_header(data: &[u8]) {
    use smtp_sansio::proxy::{ProxyError, ProxyVersion, ProxyVersions, V1_MAX_LEN, V2_MAX_LEN};
    let input = &data[..data.len().min(V2_MAX_LEN + 64)];
    let [both, v1, v2] = [ProxyVersions::Both, ProxyVersions::V1, ProxyVersions::V2].map(|versions| {
        let (at, answer) = settle_proxy_header(input, versions);
        if let Ok(ProxyParse::Complete { header, consumed }) = &answer {
            let limit = match header.version {
                ProxyVersion::V1 => V1_MAX_LEN,
                ProxyVersion::V2 => V2_MAX_LEN,
            };
            assert_eq!(at, *consumed, "{versions:?}: a header complete before its last byte");
            assert!(*consumed <= limit, "{versions:?}: a header of {consumed} bytes: {header:?}");
            assert!(versions.accepts(header.version), "{versions:?} gave a header of {:?}", header.version);
            let mut out = BytesMut::new();
            if let Err(error) = header.encode(&mut out) {
                panic!("parsed header {header:?} does not encode: {error:?}");
            }
            let (again_at, again) = settle_proxy_header(&out, versions);
            assert_eq!(
                (again_at, again),
                (out.len(), Ok(ProxyParse::Complete { header: header.clone(), consumed: out.len() })),
                "{header:?} encoded as b\"{}\" parses back differently",
                out.escape_ascii()
            );
        }
        answer
    });
    match input.first() {
        Some(b'P') => {
            assert_eq!(both, v1, "Both and V1 disagree on a v1 start");
            assert_eq!(v2, Err(ProxyError::Version), "V2 alone on a v1 start");
        }
        Some(b'\r') => {
            assert_eq!(both, v2, "Both and V2 disagree on a v2 start");
            assert_eq!(v1, Err(ProxyError::Version), "V1 alone on a v2 start");
        }
        Some(_) => {
            for answer in [both, v1, v2] {
                assert_eq!(answer, Err(ProxyError::NoHeader), "a first byte no header has");
            }
        }
        None => {
            for answer in [both, v1, v2] {
                assert_eq!(answer, Ok(ProxyParse::Incomplete), "no input");
            }
        }
    }
}

/// Parses every prefix of `input`, shortest first, and checks that the answers are
/// `Incomplete` until one is not, and then never change. Returns the length of the
/// shortest prefix with the final answer (`input.len() + 1` if every answer is
/// `Incomplete`) and that answer.
pub fn settle_proxy_header(
    input: &[u8],
    versions: smtp_sansio::proxy::ProxyVersions,
) -> (usize, Result<ProxyParse, smtp_sansio::proxy::ProxyError>) {
    let mut settled = None;
    for k in 0..=input.len() {
        let answer = ProxyHeader::parse(&input[..k], versions);
        match &settled {
            Some((at, first)) => assert_eq!(
                &answer,
                first,
                "{versions:?}: prefix {k} of b\"{}\" changed the answer given at {at}",
                input.escape_ascii()
            ),
            None if answer != Ok(ProxyParse::Incomplete) => settled = Some((k, answer)),
            None => {}
        }
    }
    settled.unwrap_or((input.len() + 1, Ok(ProxyParse::Incomplete)))
}
