//! Review of issue 12 (second round): `DataEncoder::encode_bytes`, the shared pair scan in
//! `DataDecoder`, `ClientSession::push_body_bytes` and the client's output queue.
//! Public API only; every check against a reference written here from RFC 5321
//! sections 2.3.8, 4.1.1.4 and 4.5.2, RFC 3030 section 2, and the crate's rustdoc.

use bytes::{Bytes, BytesMut};
use smtp_sansio::Output;
use smtp_sansio::client::{ClientConfig, ClientError, ClientEvent, ClientSession, Envelope};
use smtp_sansio::wire::{ForwardPath, ReversePath};
use smtp_sansio::{DataDecoder, DataEncoder, Decoded};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------

/// Encoder modes: (name, encoder, normalize, stuff).
fn modes() -> Vec<(&'static str, DataEncoder, bool, bool)> {
    vec![
        ("new", DataEncoder::new(), true, true),
        ("raw", DataEncoder::raw(), false, true),
        ("line_endings_only", DataEncoder::line_endings_only(), true, false),
        ("verbatim", DataEncoder::verbatim(), false, false),
    ]
}

/// RFC 5321 4.5.2 / 2.3.8 as documented on DataEncoder: normalise bare CR/LF to CRLF
/// when asked; a line starts at the start and after CRLF; stuff a `.` there; end with
/// CRLF (if missing) and `.<CRLF>`.
fn ref_encode(body: &[u8], normalize: bool, stuff: bool) -> Vec<u8> {
    let mut norm = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'\r' && body.get(i + 1) == Some(&b'\n') {
            norm.extend_from_slice(b"\r\n");
            i += 2;
            continue;
        }
        if (b == b'\r' || b == b'\n') && normalize {
            norm.extend_from_slice(b"\r\n");
        } else {
            norm.push(b);
        }
        i += 1;
    }
    if !stuff {
        return norm;
    }
    let mut out = Vec::new();
    let mut line_start = true;
    for (j, &b) in norm.iter().enumerate() {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n' && j > 0 && norm[j - 1] == b'\r';
    }
    if !norm.is_empty() && !norm.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// A strict RFC 5321 reader of a DATA body, with DataDecoder's documented policy: only
/// CRLF starts a line, the body starts at a line start, `.<CRLF>` at a line start ends it,
/// any other `.` there is dropped, bare CR/LF are data (or CRLF when normalising).
/// Returns (data, Some(index after the terminator) or None, bare cr seen, bare lf seen).
fn ref_decode(input: &[u8], normalize: bool) -> (Vec<u8>, Option<usize>, bool, bool) {
    let (mut out, mut cr, mut lf) = (Vec::new(), false, false);
    let mut i = 0;
    let mut line_start = true;
    while i < input.len() {
        if line_start {
            if input[i..].starts_with(b".\r\n") {
                return (out, Some(i + 3), cr, lf);
            }
            if input[i] == b'.' {
                i += 1;
            }
            line_start = false;
            continue;
        }
        let b = input[i];
        if b == b'\r' {
            match input.get(i + 1) {
                Some(b'\n') => {
                    out.extend_from_slice(b"\r\n");
                    i += 2;
                    line_start = true;
                    continue;
                }
                None => break,
                Some(_) => {
                    cr = true;
                    out.extend_from_slice(if normalize { b"\r\n" } else { b"\r" });
                }
            }
        } else if b == b'\n' {
            lf = true;
            out.extend_from_slice(if normalize { b"\r\n" } else { b"\n" });
        } else {
            out.push(b);
        }
        i += 1;
    }
    (out, None, cr, lf)
}

/// A lenient server's view: where a lax server (one taking any of LF, CR or CRLF as a line
/// end) would see the end of data: the first `<EOL>.<EOL>` with EOL in {CRLF, LF, CR}.
fn lenient_end(wire: &[u8]) -> Option<usize> {
    let eol = |s: &[u8], at: usize| -> Option<usize> {
        match (s.get(at), s.get(at + 1)) {
            (Some(b'\r'), Some(b'\n')) => Some(2),
            (Some(b'\r'), _) | (Some(b'\n'), _) => Some(1),
            _ => None,
        }
    };
    // The body starts at a line start.
    let mut at_starts = vec![0usize];
    let mut i = 0;
    while i < wire.len() {
        if let Some(n) = eol(wire, i) {
            at_starts.push(i + n);
            i += n;
        } else {
            i += 1;
        }
    }
    at_starts.into_iter().find(|&s| wire.get(s) == Some(&b'.') && eol(wire, s + 1).is_some())
}

fn tricky_bodies() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        &b""[..],
        b".",
        b"\r",
        b"\n",
        b"\r\n",
        b"..",
        b".\r",
        b".\n",
        b".\r\n",
        b"\r.\r",
        b"\n.\n",
        b"\r\n.\n",
        b"\n.\r\n",
        b"\r\n.\r",
        b"\r\n.\r\r\n",
        b"a\r\n.\r\nMAIL FROM:<x@y>\r\n",
        b"a\n.\nMAIL FROM:<x@y>\r\n",
        b"a\r.\rMAIL FROM:<x@y>\r\n",
        b"a\r\n.\nX\n.\r\nY\r\r\n.\r\n",
        b"\r\r\n..\n\r.\r\n.",
        b"x\r",
        b"x\r\n.",
        b"x\n\r.\r\n",
    ]
    .iter()
    .map(|b| b.to_vec())
    .collect();
    // Events around the scan's block edges.
    for pat in [&b"\r\n.\r\n"[..], b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r\n..x", b"\r\r\n.", b"\n."] {
        for k in (0..140).step_by(1) {
            if k % 7 != 0 && !(60..70).contains(&k) && !(124..132).contains(&k) {
                continue;
            }
            let mut b = vec![b'a'; k];
            b.extend_from_slice(pat);
            b.extend_from_slice(b"tail");
            v.push(b);
        }
    }
    v
}

fn envelope(to: &[&str]) -> Envelope {
    let from = ReversePath::parse("<a@example.net>").unwrap().into_owned();
    Envelope::new(from, to.iter().map(|to| ForwardPath::parse(to).unwrap().into_owned()))
}

// ---------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------

fn cuts_all(body: &[u8]) -> Vec<Vec<std::ops::Range<usize>>> {
    let mut all = vec![vec![0..body.len()], (0..body.len()).map(|i| i..i + 1).collect()];
    for at in 0..=body.len() {
        all.push(vec![0..at, at..body.len()]);
    }
    all
}

fn check_encoder(body: &[u8], cuts: &[Vec<std::ops::Range<usize>>]) {
    for (name, encoder, normalize, stuff) in modes() {
        let expected = ref_encode(body, normalize, stuff);
        let whole = Bytes::copy_from_slice(body);
        for cut in cuts {
            let mut e1 = encoder.clone();
            let mut copied = BytesMut::new();
            let mut e2 = encoder.clone();
            let mut sliced: Vec<Bytes> = Vec::new();
            for r in cut {
                e1.encode(&body[r.clone()], &mut copied);
                let piece = whole.slice(r.clone());
                let before = sliced.len();
                e2.encode_bytes(piece.clone(), &mut sliced);
                // Zero-copy: every piece is a slice of the input or a static piece of at
                // most 3 octets (the encoding's additions).
                for p in &sliced[before..] {
                    let inside = piece.as_ptr_range().contains(&p.as_ptr()) && p.len() <= piece.len();
                    assert!(inside || p.len() <= 3, "{name}: piece {p:?} is neither a slice nor an addition");
                }
            }
            e1.finish(&mut copied);
            e2.finish(&mut sliced);
            let ctx = format!("{name}, body {:?}, cut {cut:?}", String::from_utf8_lossy(body));
            assert_eq!(String::from_utf8_lossy(&copied), String::from_utf8_lossy(&expected), "encode: {ctx}");
            assert_eq!(
                String::from_utf8_lossy(&sliced.concat()),
                String::from_utf8_lossy(&expected),
                "encode_bytes: {ctx}"
            );
            if normalize && stuff {
                // Smuggling: a lenient server ends the body exactly where a strict one does.
                let wire = &copied[..];
                let end = lenient_end(wire);
                assert_eq!(end.map(|s| s + 3), Some(wire.len()), "lenient end early: {ctx}");
            }
            if stuff {
                let (data, end, _, _) = ref_decode(&copied, false);
                assert_eq!(end, Some(copied.len()), "strict end: {ctx}");
                let want = ref_encode(body, normalize, false);
                let mut want = want;
                if !want.is_empty() && !want.ends_with(b"\r\n") {
                    want.extend_from_slice(b"\r\n");
                }
                assert_eq!(data, want, "strict decode: {ctx}");
            }
        }
    }
}

/// encode == encode_bytes == reference for every mode, at every single split point and byte
/// by byte; pieces are slices of the input (zero-copy); a normalised DATA body cannot
/// end early for a lenient server (SMTP smuggling).
#[test]
fn encoder_every_split_matches_reference_and_is_smuggling_safe() {
    for body in tricky_bodies() {
        check_encoder(&body, &cuts_all(&body));
    }
}

/// Random bodies over {CR, LF, '.', 'a'}, random cuts.
#[test]
fn encoder_random_bodies_and_cuts() {
    let mut rng = Rng(0x1234_5678_9abc_def1 ^ std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0));
    for _ in 0..(std::env::var("BIG").map(|_| 200000).unwrap_or(3000)) {
        let len = rng.below(300);
        let body: Vec<u8> = (0..len).map(|_| b"\r\n.a"[rng.below(4)]).collect();
        let mut cuts = Vec::new();
        for _ in 0..4 {
            let mut cut = Vec::new();
            let mut at = 0;
            while at < len {
                let m = [2, 16, 64, 200][rng.below(4)];
                let n = 1 + rng.below(m).min(len - at - 1);
                cut.push(at..at + n);
                at += n;
            }
            cuts.push(cut);
        }
        check_encoder(&body, &cuts);
    }
}

// ---------------------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------------------

/// Feeds `input` in `pieces`, returns (data, finished, rest of the input, bare flags),
/// checking the documented per-call rules on the way.
fn run_decoder(
    normalize: bool,
    input: &[u8],
    cuts: &[std::ops::Range<usize>],
) -> (Vec<u8>, bool, Vec<u8>, (bool, bool)) {
    let mut decoder = if normalize { DataDecoder::normalizing() } else { DataDecoder::new() };
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    for r in cuts {
        buf.extend_from_slice(&input[r.clone()]);
        loop {
            let bare_before = decoder.bare_line_endings();
            match decoder.decode(&mut buf) {
                None => break,
                Some(Decoded::End) => break,
                Some(Decoded::Data(d)) => {
                    assert!(!d.is_empty(), "Data is never empty");
                    if normalize && decoder.bare_line_endings() != bare_before {
                        assert_eq!(&d[..], b"\r\n", "the call that records a bare ending returns only its CRLF");
                        if !bare_before.any() {
                            // The first bare ending: what came before it is exactly the
                            // reference's data before its first bare ending.
                            let first = first_bare_at(input);
                            assert_eq!(
                                Some(data.len()),
                                first,
                                "first bare ending recorded at the wrong place in {:?} cut {cuts:?}",
                                String::from_utf8_lossy(input)
                            );
                        }
                    }
                    data.extend_from_slice(&d);
                }
            }
        }
    }
    let b = decoder.bare_line_endings();
    (data, decoder.is_finished(), buf.to_vec(), (b.cr, b.lf))
}

/// Where the reference's data (normalising) has its first bare-ending replacement.
fn first_bare_at(input: &[u8]) -> Option<usize> {
    // The shortest prefix whose reference records a bare ending; the replacement is then
    // the last or (a bare CR found by the byte after it) all but the last data bytes.
    for n in 0..=input.len() {
        let (data, _, cr, lf) = ref_decode(&input[..n], true);
        if cr || lf {
            let (before, _, _, _) = ref_decode(&input[..n - 1], true);
            // For a bare LF, `before` is the data before it; for a bare CR, `input[n-1]` is
            // the byte after the CR, which the reference holds back with the CR.
            let _ = data;
            return Some(before.len());
        }
    }
    None
}

fn check_decoder(input: &[u8], cuts: &[Vec<std::ops::Range<usize>>]) {
    for normalize in [false, true] {
        let (want, end, cr, lf) = ref_decode(input, normalize);
        for cut in cuts {
            let (data, finished, rest, flags) = run_decoder(normalize, input, cut);
            let ctx = format!("normalize {normalize}, input {:?}, cut {cut:?}", String::from_utf8_lossy(input));
            match end {
                Some(end) => {
                    assert!(finished, "did not end: {ctx}");
                    assert_eq!(String::from_utf8_lossy(&data), String::from_utf8_lossy(&want), "data: {ctx}");
                    assert_eq!(rest, &input[end..], "rest: {ctx}");
                    assert_eq!(flags, (cr, lf), "bare flags: {ctx}");
                }
                None => {
                    assert!(!finished, "ended early: {ctx}");
                    assert!(
                        want.starts_with(&data),
                        "data not a prefix of the reference: {ctx}: got {:?} want {:?}",
                        String::from_utf8_lossy(&data),
                        String::from_utf8_lossy(&want)
                    );
                    assert!(rest.len() <= 2, "holds back too much ({rest:?}): {ctx}");
                }
            }
        }
    }
}

/// RFC 5321 4.1.1.4 / 4.5.2 with the documented bare CR/LF policy, every single split
/// point, byte by byte, pieces of 16 and 64, events at offsets 0..200 around the scan's
/// 64-position blocks.
#[test]
fn decoder_matches_reference_at_every_split_around_block_edges() {
    let pats: [&[u8]; 14] = [
        b"\r\n.\r\n",
        b"\r\n..\r\n.\r\n",
        b"\r\n.x\r\n.\r\n",
        b"\n.\n\r\n.\r\n",
        b"\r.\r\r\n.\r\n",
        b"\r\n.\n\r\n.\r\n",
        b"\n.\r\n\r\n.\r\n",
        b"\r\n.\r\r\n.\r\n",
        b"\r\r\n.\r\n",
        b"\r\n.\r\r\n..\r\n.\r\n",
        b"\r\n\r\n.\r\n",
        b"\r\n.",
        b"\r\n.\r",
        b"\r",
    ];
    for off in 0..200 {
        for pat in pats {
            let mut input = vec![b'a'; off];
            if off % 3 == 1 {
                input = b"\r\n".repeat(off / 2);
            }
            input.extend_from_slice(pat);
            input.extend_from_slice(b"QUIT\r\n");
            let mut cuts: Vec<Vec<std::ops::Range<usize>>> = Vec::new();
            for size in [1usize, 16, 63, 64, 65, input.len()] {
                cuts.push((0..input.len()).step_by(size).map(|s| s..(s + size).min(input.len())).collect());
            }
            for at in off.saturating_sub(3)..=(off + pat.len()).min(input.len()) {
                cuts.push(vec![0..at, at..input.len()]);
            }
            check_decoder(&input, &cuts);
        }
    }
}

#[test]
fn decoder_random_inputs_and_cuts() {
    let mut rng = Rng(0xfeed_beef_1234_0007 ^ std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0));
    for _ in 0..(std::env::var("BIG").map(|_| 30000).unwrap_or(4000)) {
        let len = rng.below(if std::env::var("BIG").is_ok() { 700 } else { 260 });
        let mut input: Vec<u8> = (0..len).map(|_| b"\r\n.aa\r\n"[rng.below(7)]).collect();
        if rng.below(2) == 0 {
            input.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
        }
        let mut cuts = vec![(0..input.len()).map(|i| i..i + 1).collect::<Vec<_>>()];
        for _ in 0..4 {
            let mut cut = Vec::new();
            let mut at = 0;
            while at < input.len() {
                let m = [3, 16, 64, 130][rng.below(4)];
                let n = (1 + rng.below(m)).min(input.len() - at);
                cut.push(at..at + n);
                at += n;
            }
            cuts.push(cut);
        }
        check_decoder(&input, &cuts);
    }
}

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

/// How the application pushes a body.
#[derive(Clone, Copy, Debug)]
enum How {
    /// One `push_body_bytes`.
    BytesWhole,
    /// `push_body_bytes` one byte at a time.
    BytesByByte,
    /// Alternating `push_body` and `push_body_bytes`, pieces of `n`.
    Mixed(usize),
    /// Pieces of `n` as Bytes.
    Bytes(usize),
}

fn push(session: &mut ClientSession, body: &Bytes, how: How) {
    match how {
        How::BytesWhole => session.push_body_bytes(body.clone()).unwrap(),
        How::BytesByByte => {
            for i in 0..body.len() {
                session.push_body_bytes(body.slice(i..i + 1)).unwrap();
            }
        }
        How::Mixed(n) | How::Bytes(n) => {
            for (k, at) in (0..body.len()).step_by(n).enumerate() {
                let piece = body.slice(at..(at + n).min(body.len()));
                if matches!(how, How::Mixed(_)) && k % 2 == 0 {
                    session.push_body(&piece).unwrap();
                } else {
                    session.push_body_bytes(piece).unwrap();
                }
            }
        }
    }
    session.end_body().unwrap();
}

/// A scripted strict server: answers every command, reads DATA bodies to the strict
/// `<CRLF>.<CRLF>`, BDAT chunks by their size; returns every body it read (as the
/// wire form after unstuffing, BDAT chunks concatenated) and the command lines.
struct FakeServer {
    ehlo: &'static str,
    lmtp_rcpts: usize,
    buf: Vec<u8>,
    mode: u8, // 0 commands, 1 data
    bodies: Vec<Vec<u8>>,
    current: Vec<u8>,
    lines: Vec<String>,
    rcpts: usize,
    lmtp: bool,
}

impl FakeServer {
    fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if self.mode == 1 {
                let (data, end, _, _) = ref_decode(&self.buf, false);
                let Some(end) = end else { break };
                self.bodies.push(data);
                self.buf.drain(..end);
                self.mode = 0;
                self.lines.push("<end of data>".into());
                let n = if self.lmtp { self.rcpts } else { 1 };
                for _ in 0..n {
                    out.extend_from_slice(b"250 2.0.0 queued\r\n");
                }
                self.rcpts = 0;
                continue;
            }
            let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") else { break };
            let line = String::from_utf8_lossy(&self.buf[..p]).into_owned();
            self.buf.drain(..p + 2);
            self.lines.push(line.clone());
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("EHLO") || upper.starts_with("LHLO") {
                out.extend_from_slice(self.ehlo.as_bytes());
            } else if upper.starts_with("MAIL") || upper.starts_with("RSET") || upper.starts_with("NOOP") {
                out.extend_from_slice(b"250 ok\r\n");
            } else if upper.starts_with("RCPT") {
                self.rcpts += 1;
                out.extend_from_slice(b"250 ok\r\n");
            } else if upper == "DATA" {
                self.mode = 1;
                out.extend_from_slice(b"354 go\r\n");
            } else if let Some(rest) = upper.strip_prefix("BDAT ") {
                let mut parts = rest.split(' ');
                let n: usize = parts.next().unwrap().parse().expect("BDAT size");
                let last = parts.next() == Some("LAST");
                if self.buf.len() < n {
                    // Put the line back and wait.
                    let mut back = line.into_bytes();
                    back.extend_from_slice(b"\r\n");
                    back.extend_from_slice(&self.buf);
                    self.buf = back;
                    self.lines.pop();
                    break;
                }
                self.current.extend(self.buf.drain(..n));
                if last {
                    self.bodies.push(std::mem::take(&mut self.current));
                    let n = if self.lmtp { self.rcpts } else { 1 };
                    for _ in 0..n {
                        out.extend_from_slice(b"250 2.0.0 queued\r\n");
                    }
                    self.rcpts = 0;
                } else {
                    out.extend_from_slice(b"250 2.0.0 chunk\r\n");
                }
            } else if upper == "QUIT" {
                out.extend_from_slice(b"221 bye\r\n");
            } else {
                out.extend_from_slice(b"500 what\r\n");
            }
        }
        let _ = self.lmtp_rcpts;
        out
    }
}

struct ClientRun {
    wire: Vec<u8>,
    server: FakeServer,
    events: Vec<String>,
}

fn run_client(config: &ClientConfig, ehlo: &'static str, bodies: &[Bytes], how: How) -> ClientRun {
    let mut session = ClientSession::new(&config.clone().build().unwrap());
    let ids: Vec<_> = bodies.iter().map(|_| session.send(envelope(&["<b@example.org>", "<c@example.org>"]))).collect();
    session.quit();
    let mut server = FakeServer {
        ehlo,
        lmtp_rcpts: 0,
        buf: Vec::new(),
        mode: 0,
        bodies: Vec::new(),
        current: Vec::new(),
        lines: Vec::new(),
        rcpts: 0,
        lmtp: config.lmtp,
    };
    let mut to_client: Vec<u8> = b"220 mx.example.org ESMTP\r\n".to_vec();
    let mut wire = Vec::new();
    let mut events = Vec::new();
    for _ in 0..1_000_000 {
        match session.poll_output() {
            Output::Transmit(bytes) => {
                assert!(!bytes.is_empty(), "an empty Transmit");
                wire.extend_from_slice(&bytes);
                let reply = server.feed(&bytes);
                to_client.extend_from_slice(&reply);
            }
            Output::Event(event) => {
                if let ClientEvent::BodyWanted { message } = &event {
                    let i = ids.iter().position(|id| id == message).unwrap();
                    push(&mut session, &bodies[i], how);
                }
                events.push(format!("{event:?}"));
            }
            Output::StartTls => session.tls_established(),
            Output::Wait(_) | Output::Pending(_) | Output::Idle => {
                if to_client.is_empty() {
                    session.handle_eof();
                } else {
                    let bytes = std::mem::take(&mut to_client);
                    session.handle_input(&bytes);
                }
            }
            Output::Closed => return ClientRun { wire, server, events },
        }
    }
    panic!("did not finish");
}

/// Every mode the client has (DATA normalising/raw, BDAT line endings only/verbatim,
/// SMTP/LMTP, with and without PIPELINING), bodies pushed as Bytes whole, byte by byte,
/// in pieces around the 512-octet copy threshold, and mixed with `push_body`: the strict
/// server reads each body exactly as the reference encodes it (for BDAT the sizes are
/// exact, or the server would desynchronise), every message ends before the next MAIL,
/// and a normalised DATA body has no early end for a lenient server either.
#[test]
fn client_wire_matches_reference_in_every_mode_and_push_style() {
    let mut bodies: Vec<Bytes> = tricky_bodies().into_iter().take(23).map(Bytes::from).collect();
    let mut long = b"line of text\r\n.dot\r\n".repeat(60);
    long.extend_from_slice(&[b'x'; 700]);
    long.extend_from_slice(b"\n.\n\r.\r\r\n.\r\n");
    long.extend_from_slice(&[b'y'; 1000]);
    long.push(b'\r');
    bodies.push(Bytes::from(long));
    for lmtp in [false, true] {
        for bdat in [false, true] {
            for pipelining in [true, false] {
                for normalize in [true, false] {
                    let mut config = ClientConfig::new("client.example.net");
                    config.lmtp = lmtp;
                    config.prefer_bdat = bdat;
                    config.normalize_line_endings = normalize;
                    let ehlo: &'static str = match pipelining {
                        true => "250-mx.example.org\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n",
                        false => "250-mx.example.org\r\n250-CHUNKING\r\n250 8BITMIME\r\n",
                    };
                    for how in [
                        How::BytesWhole,
                        How::BytesByByte,
                        How::Mixed(3),
                        How::Mixed(511),
                        How::Bytes(512),
                        How::Bytes(700),
                    ] {
                        let run = run_client(&config, ehlo, &bodies, how);
                        let ctx =
                            format!("lmtp {lmtp} bdat {bdat} pipelining {pipelining} normalize {normalize} {how:?}");
                        assert_eq!(run.server.bodies.len(), bodies.len(), "{ctx}: lines {:?}", run.server.lines);
                        for (k, body) in bodies.iter().enumerate() {
                            let got = &run.server.bodies[k];
                            let want = match bdat {
                                true => ref_encode(body, normalize, false),
                                false => {
                                    let mut w = ref_encode(body, normalize, false);
                                    if !w.is_empty() && !w.ends_with(b"\r\n") {
                                        w.extend_from_slice(b"\r\n");
                                    }
                                    w
                                }
                            };
                            assert_eq!(
                                String::from_utf8_lossy(got),
                                String::from_utf8_lossy(&want),
                                "{ctx}: body {k} {:?}",
                                String::from_utf8_lossy(body)
                            );
                        }
                        // Commands: MAIL of message k+1 after the end of message k.
                        let order: Vec<&str> = run
                            .server
                            .lines
                            .iter()
                            .map(|l| l.as_str())
                            .filter(|l| l.starts_with("MAIL") || *l == "<end of data>" || l.ends_with("LAST"))
                            .collect();
                        for pair in order.windows(2) {
                            assert!(
                                pair[0].starts_with("MAIL") != pair[1].starts_with("MAIL"),
                                "{ctx}: order {order:?}"
                            );
                        }
                        assert!(
                            run.events
                                .iter()
                                .filter(|e| e.starts_with("Accepted") || e.starts_with("Delivery"))
                                .count()
                                >= bodies.len(),
                            "{ctx}: {:?}",
                            run.events
                        );
                        if normalize && !bdat {
                            // Lenient server: each body from DATA's CRLF to its end.
                            let mut rest = &run.wire[..];
                            while let Some(p) = rest.windows(6).position(|w| w == b"DATA\r\n") {
                                rest = &rest[p + 6..];
                                let end = lenient_end(rest).expect("an end");
                                let strict = ref_decode(rest, false).1.expect("a strict end");
                                assert_eq!(end + 3, strict, "{ctx}: lenient server ends early");
                                rest = &rest[strict..];
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Client API misuse and edge bodies
// ---------------------------------------------------------------------------------------

/// Drives a session until it wants a body; returns it.
fn session_wanting_body(config: &ClientConfig) -> (ClientSession, Vec<u8>) {
    let mut session = ClientSession::new(&config.clone().build().unwrap());
    session.send(envelope(&["<b@example.org>"]));
    let mut replies: Vec<&[u8]> =
        vec![b"220 mx ESMTP\r\n", b"250-mx\r\n250-CHUNKING\r\n250 PIPELINING\r\n", b"250 ok\r\n250 ok\r\n354 go\r\n"];
    replies.reverse();
    let mut wire = Vec::new();
    for _ in 0..1000 {
        match session.poll_output() {
            Output::Transmit(b) => wire.extend_from_slice(&b),
            Output::Event(ClientEvent::BodyWanted { .. }) => return (session, wire),
            Output::Event(_) => {}
            Output::Wait(_) | Output::Pending(_) | Output::Idle => session.handle_input(replies.pop().expect("reply")),
            other => panic!("{other:?}"),
        }
    }
    panic!("no body wanted");
}

fn drain(session: &mut ClientSession) -> Vec<u8> {
    let mut wire = Vec::new();
    while let Output::Transmit(b) = session.poll_output() {
        wire.extend_from_slice(&b);
    }
    wire
}

/// push_body_bytes before BodyWanted, after end_body and after quit says NoBodyWanted and
/// writes nothing; empty pieces write nothing; edge bodies end with exactly CRLF.CRLF.
#[test]
fn push_body_bytes_misuse_and_edge_bodies() {
    let config = ClientConfig::new("client.example.net");
    let mut session = ClientSession::new(&config.clone().build().unwrap());
    assert_eq!(session.push_body_bytes(Bytes::from_static(b"x")), Err(ClientError::NoBodyWanted));
    assert_eq!(session.end_body(), Err(ClientError::NoBodyWanted));

    for (body, want) in [
        (&b""[..], &b".\r\n"[..]),
        (b".", b"..\r\n.\r\n"),
        (b"\r", b"\r\n.\r\n"),
        (b"\n", b"\r\n.\r\n"),
        (b"x\r", b"x\r\n.\r\n"),
        (b"\r\n", b"\r\n.\r\n"),
    ] {
        let (mut session, _) = session_wanting_body(&config);
        session.push_body_bytes(Bytes::new()).unwrap();
        assert!(drain(&mut session).is_empty(), "an empty piece writes nothing");
        session.push_body_bytes(Bytes::copy_from_slice(body)).unwrap();
        session.push_body_bytes(Bytes::new()).unwrap();
        session.end_body().unwrap();
        assert_eq!(String::from_utf8_lossy(&drain(&mut session)), String::from_utf8_lossy(want), "body {body:?}");
        assert_eq!(session.push_body_bytes(Bytes::from_static(b"late")), Err(ClientError::NoBodyWanted));
        assert!(drain(&mut session).is_empty(), "nothing after the end");
        assert_eq!(session.end_body(), Err(ClientError::NoBodyWanted));
    }

    // After quit (in the body): the body can still end, nothing after it is body text.
    let (mut session, _) = session_wanting_body(&config);
    session.push_body_bytes(Bytes::from(vec![b'a'; 1000])).unwrap();
    session.quit();
    session.push_body_bytes(Bytes::from(b"\r\n.\r\nQUIT\r\n".to_vec())).unwrap();
    session.end_body().unwrap();
    let wire = drain(&mut session);
    let mut want = vec![b'a'; 1000];
    want.extend_from_slice(b"\r\n..\r\nQUIT\r\n.\r\n");
    assert!(wire.starts_with(&want), "{:?}", String::from_utf8_lossy(&wire));
    assert!(wire[want.len()..] == b"QUIT\r\n"[..] || wire.len() == want.len(), "{:?}", String::from_utf8_lossy(&wire));
}

/// The encoder visits flagged blocks in batches of 64 blocks (4096 positions): events at
/// and around the batch edges, in every mode, whole and cut, match the reference; dense
/// bodies where every block of a batch is flagged too.
#[test]
fn encoder_large_bodies_across_batch_edges() {
    let mut rng = Rng(0x0bad_cafe_0000_0011);
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    for edge in [4096usize, 8192, 12288] {
        for delta in 0..6 {
            for pat in [&b"\r\n."[..], b"\n.", b"\r.", b"\r\n.\r\n", b"\n.\n"] {
                let mut b = vec![b'a'; edge + delta - 3];
                b.extend_from_slice(pat);
                b.extend_from_slice(&[b'b'; 70]);
                bodies.push(b);
            }
        }
    }
    // Dense: a stuffed line every 40 bytes, or a bare ending every few bytes.
    bodies.push(b"\r\n.abcdefghijklmnopqrstuvwxyz0123456789".repeat(700));
    bodies.push(b"\n.x\r".repeat(5000));
    for _ in 0..20 {
        let len = 9000 + rng.below(9000);
        let density = 1 + rng.below(300);
        bodies.push((0..len).map(|_| if rng.below(density) == 0 { b"\r\n."[rng.below(3)] } else { b'q' }).collect());
    }
    for body in bodies {
        let len = body.len();
        let mut cuts = vec![vec![0..len], vec![0..len / 2, len / 2..len], vec![0..4097.min(len), 4097.min(len)..len]];
        let mut cut = Vec::new();
        let mut at = 0;
        while at < len {
            let n = (1 + rng.below(5000)).min(len - at);
            cut.push(at..at + n);
            at += n;
        }
        cuts.push(cut);
        check_encoder(&body, &cuts);
        // The whole encoded body in one piece.
        let encoded = ref_encode(&body, true, true);
        let whole: Vec<std::ops::Range<usize>> = std::iter::once(0..encoded.len()).collect();
        check_decoder(&encoded, &[whole]);
    }
}

/// A message the server's LIMITS split into one transaction per recipient: the body,
/// pushed as Bytes each time, arrives whole at each transaction, and the next
/// transaction's MAIL follows the end of the body before it.
#[test]
fn split_message_body_pushed_as_bytes_each_transaction() {
    for bdat in [false, true] {
        for pipelining in [true, false] {
            let mut config = ClientConfig::new("client.example.net");
            config.prefer_bdat = bdat;
            let ehlo: &'static str = match pipelining {
                true => {
                    "250-mx.example.org\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-LIMITS RCPTMAX=1\r\n250 8BITMIME\r\n"
                }
                false => "250-mx.example.org\r\n250-CHUNKING\r\n250-LIMITS RCPTMAX=1\r\n250 8BITMIME\r\n",
            };
            let mut long = b"line\r\n.dot\r\n".repeat(100);
            long.extend_from_slice(&[b'z'; 800]);
            let bodies = vec![Bytes::from(long), Bytes::from_static(b"short\n.\n")];
            for how in [How::BytesWhole, How::Bytes(512), How::Mixed(600)] {
                let run = run_client(&config, ehlo, &bodies, how);
                let ctx = format!("bdat {bdat} pipelining {pipelining} {how:?}");
                assert_eq!(run.server.bodies.len(), 4, "{ctx}: {:?}", run.server.lines);
                for (k, got) in run.server.bodies.iter().enumerate() {
                    let mut want = ref_encode(&bodies[k / 2], true, false);
                    if !bdat && !want.ends_with(b"\r\n") {
                        want.extend_from_slice(b"\r\n");
                    }
                    assert_eq!(String::from_utf8_lossy(got), String::from_utf8_lossy(&want), "{ctx}: transaction {k}");
                }
            }
        }
    }
}

/// RFC 3030 section 2: after a refused BDAT chunk no more chunks of the message go. A body
/// pushed as Bytes after the refusal is refused (MessageRefused, as documented for
/// push_body) and nothing of it reaches the wire; end_body then sends no BDAT LAST.
#[test]
fn bytes_pushed_after_a_refused_bdat_chunk_go_nowhere() {
    for pipelining in [true, false] {
        let mut config = ClientConfig::new("client.example.net");
        config.prefer_bdat = true;
        let mut session = ClientSession::new(&config.clone().build().unwrap());
        session.send(envelope(&["<b@example.org>"]));
        let ehlo: &[u8] =
            if pipelining { b"250-mx\r\n250-CHUNKING\r\n250 PIPELINING\r\n" } else { b"250-mx\r\n250 CHUNKING\r\n" };
        let mut replies: Vec<&[u8]> = vec![b"220 mx ESMTP\r\n", ehlo, b"250 ok\r\n", b"250 ok\r\n"];
        replies.reverse();
        let mut wire = Vec::new();
        let mut wanted = false;
        for _ in 0..1000 {
            match session.poll_output() {
                Output::Transmit(b) => wire.extend_from_slice(&b),
                Output::Event(ClientEvent::BodyWanted { .. }) => {
                    wanted = true;
                    break;
                }
                Output::Event(_) => {}
                Output::Wait(_) | Output::Pending(_) | Output::Idle => {
                    session.handle_input(replies.pop().expect("reply"))
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(wanted);
        session.push_body_bytes(Bytes::from(vec![b'a'; 1000])).unwrap();
        session.push_body_bytes(Bytes::from(vec![b'b'; 1000])).unwrap();
        let sent = drain(&mut session);
        // Each chunk that went has its reply (without PIPELINING only the first went).
        session.handle_input(if pipelining { &b"554 5.6.0 no\r\n554 5.6.0 no\r\n"[..] } else { b"554 5.6.0 no\r\n" });
        let mut after = Vec::new();
        let mut failed = false;
        for _ in 0..100 {
            match session.poll_output() {
                Output::Transmit(b) => after.extend_from_slice(&b),
                Output::Event(ClientEvent::Failed { .. }) => failed = true,
                Output::Event(_) => {}
                _ => break,
            }
        }
        assert!(failed, "pipelining {pipelining}: the message failed");
        let r = session.push_body_bytes(Bytes::from(vec![b'c'; 1000]));
        assert_eq!(r, Err(ClientError::MessageRefused), "pipelining {pipelining}");
        assert_eq!(session.end_body(), Ok(()));
        after.extend(drain(&mut session));
        let all = [sent, after].concat();
        let text = String::from_utf8_lossy(&all);
        assert!(!text.contains('c'), "pipelining {pipelining}: {text}");
        assert!(!text.contains("LAST"), "pipelining {pipelining}: {text}");
    }
}

/// Random bodies, random piece sizes (around the 512-octet copy threshold), random mix of
/// push_body and push_body_bytes, every client mode: the strict server reads the
/// reference's bytes.
#[test]
fn client_random_bodies_and_pieces() {
    let mut rng = Rng(0x5eed_0000_1212_3434);
    for round in 0..60 {
        let bodies: Vec<Bytes> = (0..3)
            .map(|_| {
                let len = rng.below(3000);
                let dens = 1 + rng.below(200);
                Bytes::from(
                    (0..len)
                        .map(|_| if rng.below(dens) == 0 { b"\r\n."[rng.below(3)] } else { b'w' })
                        .collect::<Vec<u8>>(),
                )
            })
            .collect();
        let mut config = ClientConfig::new("client.example.net");
        config.lmtp = rng.below(2) == 0;
        config.prefer_bdat = rng.below(2) == 0;
        config.normalize_line_endings = rng.below(3) != 0;
        let ehlo: &'static str = if rng.below(2) == 0 {
            "250-mx.example.org\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n"
        } else {
            "250-mx.example.org\r\n250-CHUNKING\r\n250 8BITMIME\r\n"
        };
        let how = [How::Mixed(1 + rng.below(1100)), How::Bytes(1 + rng.below(1100)), How::BytesWhole][rng.below(3)];
        let run = run_client(&config, ehlo, &bodies, how);
        let ctx = format!(
            "round {round} lmtp {} bdat {} normalize {} {how:?}",
            config.lmtp, config.prefer_bdat, config.normalize_line_endings
        );
        assert_eq!(run.server.bodies.len(), 3, "{ctx}");
        for (k, body) in bodies.iter().enumerate() {
            let mut want = ref_encode(body, config.normalize_line_endings, false);
            if !config.prefer_bdat && !want.is_empty() && !want.ends_with(b"\r\n") {
                want.extend_from_slice(b"\r\n");
            }
            assert!(run.server.bodies[k] == want, "{ctx}: body {k}");
        }
    }
}

/// Documents (passes): with `normalize_line_endings = false` the client sends bare LF and
/// bare CR as they are and stuffs only after CRLF, as documented, so a lenient server
/// (LF or CR taken as a line end) sees the end of data early: the smuggling defence is
/// the default, and turning it off turns it off.
#[test]
fn raw_mode_sends_lenient_end_lookalikes_as_documented() {
    for body in [&b"a\n.\nMAIL FROM:<x@y>\n"[..], b"a\r.\rMAIL FROM:<x@y>\r", b"a\n.\r\nMAIL FROM:<x@y>\r\n"] {
        let mut encoder = DataEncoder::raw();
        let mut out = Vec::new();
        encoder.encode_bytes(Bytes::copy_from_slice(body), &mut out);
        encoder.finish(&mut out);
        let wire = out.concat();
        let strict = ref_decode(&wire, false).1;
        assert_eq!(strict, Some(wire.len()));
        assert!(lenient_end(&wire).unwrap() + 3 < wire.len(), "{:?}", String::from_utf8_lossy(&wire));
    }
}

/// Explores (passes): a refusal that arrives in the middle of a DATA body ends the
/// session (a reply cannot be told from the body otherwise); pushing more afterwards is
/// refused and writes nothing more.
#[test]
fn push_after_a_refusal_in_the_middle_of_a_data_body() {
    let config = ClientConfig::new("client.example.net");
    let (mut session, _) = session_wanting_body(&config);
    session.push_body_bytes(Bytes::from(vec![b'a'; 2000])).unwrap();
    let first = drain(&mut session);
    assert_eq!(first.len(), 2000);
    session.handle_input(b"554 5.7.1 go away\r\n");
    let mut outputs = Vec::new();
    for _ in 0..20 {
        let o = session.poll_output();
        let stop = matches!(o, Output::Closed | Output::Wait(_) | Output::Idle | Output::Pending(_));
        outputs.push(format!("{o:?}"));
        if stop {
            break;
        }
    }
    let r = session.push_body_bytes(Bytes::from(vec![b'b'; 2000]));
    assert!(r.is_err(), "{r:?} {outputs:?}");
    assert!(session.end_body().is_ok() || session.end_body().is_err());
    let mut more = Vec::new();
    for _ in 0..20 {
        match session.poll_output() {
            Output::Transmit(b) => more.extend_from_slice(&b),
            _ => break,
        }
    }
    assert!(more.is_empty(), "{:?} after {outputs:?}", String::from_utf8_lossy(&more));
    eprintln!("{r:?} {outputs:?}");
}
