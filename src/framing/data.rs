//! The `DATA` body: dot-unstuffing for a server, dot-stuffing for a client
//! (RFC 5321 sections 3.3, 4.1.1.4 and 4.5.2).

use core::ops::Range;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::pairs::{Scan, for_each_flagged, scan};

/// Bare line endings seen in a body: a CR not followed by LF, or an LF not preceded
/// by CR. RFC 5321 section 2.3.8 forbids both, and SMTP smuggling attacks depend on
/// servers that disagree about them, so a server decides what to do with a message
/// that has them (reject it, by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BareLineEndings {
    /// A CR not followed by LF was seen.
    pub cr: bool,
    /// An LF not preceded by CR was seen.
    pub lf: bool,
}

impl BareLineEndings {
    /// Whether any bare line ending was seen.
    pub fn any(self) -> bool {
        self.cr || self.lf
    }
}

/// One step of a [`DataDecoder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// The next piece of the message, dot-unstuffed. Never empty.
    Data(Bytes),
    /// `<CRLF>.<CRLF>` was reached. The message ends with the CRLF that began it
    /// (RFC 5321 section 4.1.1.4); bytes after it stay in the input.
    End,
}

/// Reads the body of a `DATA` command: undoes dot-stuffing and finds the end.
///
/// Only `<CRLF>.<CRLF>` ends the body (RFC 5321 section 4.1.1.4). Every look-alike,
/// `<LF>.<LF>`, `<CR>.<CR>`, `<LF>.<CRLF>`, `<CRLF>.<LF>`, `<CRLF>.<CR><CRLF>` and the
/// rest, is message data: a server that ends the body anywhere else can be made to
/// read a second, smuggled message out of the first one's body.
///
/// A line starts after CRLF only, and at the start of the body, which follows the
/// `DATA` command's own CRLF (so `.<CRLF>` right away is an empty message). A `.` at
/// the start of a line is removed (section 4.5.2).
///
/// The decoder keeps no bytes: pieces it cannot judge yet (a trailing CR, a `.` at a
/// line start) stay in the input until more arrives. A run of input with nothing to
/// remove comes out as a slice of the input's buffer, not a copy.
///
/// ```
/// use bytes::BytesMut;
/// use smtp_sansio::{DataDecoder, Decoded};
///
/// let mut decoder = DataDecoder::new();
/// let mut input = BytesMut::from(&b"Subject: hi\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n"[..]);
/// let mut message = Vec::new();
/// while let Some(Decoded::Data(chunk)) = decoder.decode(&mut input) {
///     message.extend_from_slice(&chunk);
/// }
/// assert!(decoder.is_finished());
/// assert_eq!(message, b"Subject: hi\r\n\r\n.leading dot\r\n");
/// assert_eq!(&input[..], b"QUIT\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DataDecoder {
    at_line_start: bool,
    finished: bool,
    normalize: bool,
    bare: BareLineEndings,
}

impl Default for DataDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DataDecoder {
    /// A decoder for a body that starts now, right after `DATA`'s `354` reply.
    /// Bare line endings pass through unchanged and are recorded.
    pub fn new() -> Self {
        Self { at_line_start: true, finished: false, normalize: false, bare: BareLineEndings::default() }
    }

    /// A decoder that rewrites each bare CR and bare LF as CRLF in its output (and
    /// still records them). The rewrite changes only the bytes delivered: a bare
    /// ending never starts a line, so it can neither end the body nor be followed by
    /// a stuffed dot.
    ///
    /// Each replacement CRLF is a chunk of its own, and [`bare_line_endings`] changes
    /// in the call that returns it and in no other: so a caller that refuses bodies
    /// with bare endings can stop at exactly the bytes before the first one, whatever
    /// the chunking.
    ///
    /// [`bare_line_endings`]: DataDecoder::bare_line_endings
    pub fn normalizing() -> Self {
        Self { normalize: true, ..Self::new() }
    }

    /// Whether `<CRLF>.<CRLF>` has been reached.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The bare line endings seen so far.
    pub fn bare_line_endings(&self) -> BareLineEndings {
        self.bare
    }

    /// Takes the next piece of the body out of `input`.
    ///
    /// `None` means every byte that can be judged has been used: append more input
    /// and call again. Once [`Decoded::End`] has been returned, the decoder returns
    /// `None` and leaves `input` alone.
    pub fn decode(&mut self, input: &mut BytesMut) -> Option<Decoded> {
        if self.finished {
            return None;
        }
        // `input[..pos]` has been judged and goes out as one slice. Indexing below is in
        // bounds: `pos` only moves past bytes that `get` or `scan` found in `input`.
        let mut pos = 0;
        loop {
            if self.at_line_start {
                match input.get(pos..pos + 3) {
                    Some(b".\r\n") => return Some(self.end_at(input, pos)),
                    _ if input.get(pos) == Some(&b'.') => {
                        // A stuffed dot, unless this is the start of the final `.<CRLF>`.
                        if input.len() < pos + 3 && input[pos + 1..].iter().all(|&b| b == b'\r') {
                            return self.emit(input, pos);
                        }
                        // The data before it goes out, and the dot is dropped now rather
                        // than on the next call.
                        let before = self.emit(input, pos);
                        input.advance(1);
                        if before.is_some() {
                            self.at_line_start = false;
                            return before;
                        }
                    }
                    _ if pos == input.len() => return self.emit(input, pos),
                    _ => {}
                }
                self.at_line_start = false;
            }
            // Mid-line: skip every well-formed line up to the next thing to act on.
            match scan(&input[pos..]) {
                Scan::LineStart(offset) => {
                    pos += offset;
                    self.at_line_start = true;
                }
                Scan::Bare(offset) => {
                    let at = pos + offset;
                    // Normalising: what comes before the bare ending goes out first, so
                    // that its CRLF is a chunk of its own, handed out by the call that
                    // records it.
                    if self.normalize && at > 0 {
                        return self.emit(input, at);
                    }
                    if input[at] == b'\r' {
                        self.bare.cr = true;
                    } else {
                        self.bare.lf = true;
                    }
                    if !self.normalize {
                        pos = at + 1;
                    } else {
                        input.advance(1);
                        return Some(Decoded::Data(Bytes::from_static(b"\r\n")));
                    }
                }
                Scan::Clean(len) => {
                    let end = pos + len;
                    // A clean run that ends in LF ends with a CRLF: a line starts after it.
                    self.at_line_start = end > pos && input[end - 1] == b'\n';
                    return self.emit(input, end);
                }
            }
        }
    }

    /// Hands out `input[..len]`, or says more input is needed if it is empty.
    fn emit(&mut self, input: &mut BytesMut, len: usize) -> Option<Decoded> {
        (len > 0).then(|| Decoded::Data(input.split_to(len).freeze()))
    }

    /// The body ends with the CRLF before `input[dot]`; the `.<CRLF>` is dropped.
    fn end_at(&mut self, input: &mut BytesMut, dot: usize) -> Decoded {
        if dot > 0 {
            // The line start was set by the CRLF just before `dot`: hand out the data
            // first, and find the terminator at position 0 on the next call.
            return Decoded::Data(input.split_to(dot).freeze());
        }
        input.advance(3);
        self.finished = true;
        Decoded::End
    }
}

/// Writes a message body for `DATA`: dot-stuffs it and adds the final `.` line
/// (RFC 5321 section 4.5.2).
///
/// The body can be pushed in pieces of any size. By default a bare CR or bare LF is
/// written as CRLF, so that nothing the client sends can look like the end of data to
/// a server that is lenient about line endings (SMTP smuggling). [`DataEncoder::raw`]
/// turns that off for bodies that must go byte for byte.
///
/// ```
/// use bytes::BytesMut;
/// use smtp_sansio::DataEncoder;
///
/// let mut encoder = DataEncoder::new();
/// let mut out = BytesMut::new();
/// encoder.encode(b".hidden\nlast line", &mut out);
/// encoder.finish(&mut out);
/// assert_eq!(&out[..], b"..hidden\r\nlast line\r\n.\r\n");
/// ```
///
/// A body held as [`Bytes`] need not be copied: [`encode_bytes`](Self::encode_bytes)
/// hands out the runs that need no change as slices of it, and adds the few bytes the
/// encoding needs (a stuffing dot, a line ending) as pieces of their own, for a vectored
/// write:
///
/// ```
/// use bytes::Bytes;
/// use smtp_sansio::DataEncoder;
///
/// let body = Bytes::from("Subject: hi\r\n\r\n.leading dot\r\nlast line\r\n");
/// let mut encoder = DataEncoder::new();
/// let mut pieces: Vec<Bytes> = Vec::new();
/// encoder.encode_bytes(body.clone(), &mut pieces);
/// encoder.finish(&mut pieces);
/// assert_eq!(pieces.concat(), b"Subject: hi\r\n\r\n..leading dot\r\nlast line\r\n.\r\n");
/// // The body went out as two slices of itself, overlapping on the stuffed dot, and the
/// // final `.` line as a piece of its own: nothing was copied.
/// let body_range = body.as_ptr_range();
/// assert_eq!(pieces.len(), 3);
/// assert!(pieces[..2].iter().all(|piece| body_range.contains(&piece.as_ptr())));
/// ```
#[derive(Debug, Clone)]
pub struct DataEncoder {
    at_line_start: bool,
    /// The previous piece ended with a CR (already written) whose partner is not known
    /// yet.
    pending_cr: bool,
    normalize: bool,
    /// Dot-stuff lines (DATA); off for BDAT chunks, which only get line endings fixed.
    stuff: bool,
}

impl Default for DataEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DataEncoder {
    /// An encoder that rewrites bare CR and bare LF as CRLF.
    pub fn new() -> Self {
        Self { at_line_start: true, pending_cr: false, normalize: true, stuff: true }
    }

    /// An encoder that leaves bare CR and LF as they are. Only CRLF starts a line, so
    /// only a `.` after CRLF is stuffed.
    pub fn raw() -> Self {
        Self { normalize: false, ..Self::new() }
    }

    /// An encoder for `BDAT` chunks: bare CR and bare LF become CRLF (RFC 5321 section
    /// 2.3.8), nothing is stuffed (RFC 3030 section 2), and [`finish`](Self::finish)
    /// adds no end-of-data line.
    pub fn line_endings_only() -> Self {
        Self { stuff: false, ..Self::new() }
    }

    /// An encoder that changes nothing: `BDAT` chunks of a `BINARYMIME` body, or of a
    /// body the application wants sent as it is.
    pub fn verbatim() -> Self {
        Self { stuff: false, normalize: false, ..Self::new() }
    }

    /// Encodes the next piece of the body into `out`, copying it.
    ///
    /// Every byte of `piece` goes out at once (a CR at its end too: whether a line ends
    /// there is known with the next piece), so the output is the same however the body
    /// is cut.
    pub fn encode(&mut self, piece: &[u8], out: &mut BytesMut) {
        out.reserve(piece.len() + piece.len() / 32 + 4);
        self.encode_into(piece, &mut Copying { piece, out });
    }

    /// Encodes the next piece of the body into `out` without copying it: each run that
    /// needs no change goes out as a slice of `piece` (two runs overlap on a stuffed dot,
    /// which goes out twice), and what the encoding adds (a dot before a piece that
    /// starts a line with one, a CR before a bare LF, an LF after a bare CR) as small
    /// static pieces of their own. The
    /// pieces, in order, are the bytes [`encode`](Self::encode) would have written, for
    /// any mode and however the body is cut.
    ///
    /// `out` is anything that collects [`Bytes`]: a `Vec<Bytes>` for a vectored write,
    /// or a [`BytesMut`], which copies them.
    pub fn encode_bytes<E: Extend<Bytes>>(&mut self, piece: Bytes, out: &mut E) {
        self.encode_into(&piece, &mut Slicing { piece: &piece, out });
    }

    /// Ends the body: adds CRLF if it did not end with one, then `.<CRLF>`. (For
    /// `BDAT` chunks, [`line_endings_only`](Self::line_endings_only), only the LF a CR
    /// at the very end was missing goes out.) The encoder is ready for a new body
    /// afterwards.
    ///
    /// `out` is anything that collects [`Bytes`], as for
    /// [`encode_bytes`](Self::encode_bytes): a [`BytesMut`] or a `Vec<Bytes>`.
    pub fn finish<E: Extend<Bytes>>(&mut self, out: &mut E) {
        let add = |bytes: &'static [u8], out: &mut E| out.extend(Some(Bytes::from_static(bytes)));
        if self.pending_cr && self.normalize {
            add(b"\n", out);
            self.at_line_start = true;
        }
        if self.stuff {
            if !self.at_line_start {
                add(b"\r\n", out);
            }
            add(b".\r\n", out);
        }
        *self = Self { normalize: self.normalize, stuff: self.stuff, ..Self::new() };
    }

    /// Encodes `piece` into `sink`: the runs of it that need no change, and what the
    /// encoding adds between them.
    #[inline(always)]
    fn encode_into(&mut self, piece: &[u8], sink: &mut impl Sink) {
        let Some(&last) = piece.last() else { return };
        if !self.normalize && !self.stuff {
            // Verbatim: nothing to look for.
            return sink.run(0..piece.len());
        }
        // `piece[from..]` has not gone out yet.
        let mut from = 0;
        let cr_before = self.pending_cr;
        self.at_piece_start(piece, &mut from, sink);
        for_each_flagged(piece, |at| self.at_flagged(piece, at, &mut from, sink));
        sink.run(from..piece.len());
        // A CR at the end has gone out; what it means is known with the next piece.
        self.pending_cr = last == b'\r';
        self.at_line_start = last == b'\n' && {
            let crlf = match piece.len() {
                1 => cr_before,
                // In bounds: the piece has two bytes or more.
                len => piece[len - 2] == b'\r',
            };
            crlf || self.normalize
        };
    }

    /// The first byte of a piece, which the pair scan does not see as the second of a
    /// pair: it may pair with a CR the last piece ended with, or start a line.
    fn at_piece_start(&mut self, piece: &[u8], from: &mut usize, sink: &mut impl Sink) {
        // Called with a piece of one byte or more.
        let first = piece[0];
        if core::mem::take(&mut self.pending_cr) {
            if first == b'\n' {
                // CRLF across the two pieces.
                return self.line_start(piece, 1, from, sink);
            }
            // The CR that ended the last piece was bare.
            if self.normalize {
                sink.add(b"\n");
                self.line_start(piece, 0, from, sink);
            }
            return;
        }
        if first == b'\n' {
            // An LF with no CR before it: the CR is added, and the LF goes out with the run.
            if self.normalize {
                sink.add(b"\r");
                self.line_start(piece, 1, from, sink);
            }
            return;
        }
        if self.at_line_start {
            self.line_start(piece, 0, from, sink);
        }
    }

    /// A flagged position of `piece` (see the pair scan): a bare CR before it, a bare LF
    /// at it, or an LF followed by a dot.
    fn at_flagged(&self, piece: &[u8], at: usize, from: &mut usize, sink: &mut impl Sink) {
        // In bounds: flagged positions are 1 or more and inside the piece.
        let (before, byte) = (piece[at - 1], piece[at]);
        if before == b'\r' && byte != b'\n' {
            // A bare CR: made CRLF, it ends a line (RFC 5321 section 2.3.8).
            if self.normalize {
                sink.run(*from..at);
                sink.add(b"\n");
                *from = at;
                self.line_start(piece, at, from, sink);
            }
        } else if byte == b'\n' {
            let crlf = before == b'\r';
            if !crlf && self.normalize {
                // A bare LF, made CRLF: the CR is added, and the LF goes out with the run.
                sink.run(*from..at);
                sink.add(b"\r");
                *from = at;
            }
            // Only CRLF ends a line: in a raw body a bare LF starts none.
            if crlf || self.normalize {
                self.line_start(piece, at + 1, from, sink);
            }
        }
    }

    /// A line starts at `at` (which may be the end of the piece): a `.` there is doubled
    /// (RFC 5321 section 4.5.2).
    fn line_start(&self, piece: &[u8], at: usize, from: &mut usize, sink: &mut impl Sink) {
        if !self.stuff || piece.get(at) != Some(&b'.') {
            return;
        }
        if *from < at {
            // The dot ends this run and starts the next one: it goes out twice, and
            // both runs stay slices of the piece.
            sink.run(*from..at + 1);
            *from = at;
        } else {
            sink.add(b".");
        }
    }
}

/// Where a [`DataEncoder`]'s output goes: runs of the piece being encoded, as they are,
/// and the bytes the encoding adds.
trait Sink {
    /// `piece[range]` goes out unchanged (nothing if the range is empty).
    fn run(&mut self, range: Range<usize>);
    /// Bytes the encoding adds: a stuffing dot, a line ending.
    fn add(&mut self, bytes: &'static [u8]);
}

/// Copies into a buffer.
struct Copying<'a> {
    piece: &'a [u8],
    out: &'a mut BytesMut,
}

impl Sink for Copying<'_> {
    #[inline(always)]
    fn run(&mut self, range: Range<usize>) {
        // The encoder's ranges are within the piece.
        self.out.put_slice(&self.piece[range]);
    }

    #[inline(always)]
    fn add(&mut self, bytes: &'static [u8]) {
        self.out.put_slice(bytes);
    }
}

/// Hands out slices of the piece, and static pieces for what is added.
struct Slicing<'a, E> {
    piece: &'a Bytes,
    out: &'a mut E,
}

impl<E: Extend<Bytes>> Sink for Slicing<'_, E> {
    #[inline(always)]
    fn run(&mut self, range: Range<usize>) {
        if !range.is_empty() {
            // The encoder's ranges are within the piece.
            self.out.extend(Some(self.piece.slice(range)));
        }
    }

    #[inline(always)]
    fn add(&mut self, bytes: &'static [u8]) {
        self.out.extend(Some(Bytes::from_static(bytes)));
    }
}
