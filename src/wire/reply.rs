//! Replies: RFC 5321 section 4.2, with RFC 3463 enhanced status codes.
//!
//! ```text
//! Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF
//! ```

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bytes::{BufMut, BytesMut};

use crate::error::{EncodeError, ReplyError};
use crate::framing::{BareLf, Framed, LineFramer};

/// The maximum length of a reply line, CRLF included (RFC 5321 section 4.5.3.1.5).
pub const MAX_REPLY_LINE: usize = 512;

/// A three-digit reply code (RFC 5321 section 4.2): first digit 2 to 5, then any two
/// digits. RFC 5321 defines second digits 0 to 5, but real servers send others
/// (`471 4.7.1 Try again later`), and section 4.2.1 lets a client judge a reply by its
/// first digit alone: such codes are taken, and [`class`](Self::class) says what they
/// mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplyCode(u16);

macro_rules! reply_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal;)*) => {
        impl ReplyCode {
            $($(#[$doc])* pub const $name: ReplyCode = ReplyCode($value);)*
        }
    };
}

reply_codes! {
    /// `220` Service ready.
    SERVICE_READY = 220;
    /// `221` Service closing transmission channel.
    CLOSING = 221;
    /// `235` Authentication succeeded (RFC 4954).
    AUTH_SUCCEEDED = 235;
    /// `250` Requested mail action okay, completed.
    OK = 250;
    /// `251` User not local; will forward.
    WILL_FORWARD = 251;
    /// `252` Cannot VRFY user, but will accept message and attempt delivery.
    CANNOT_VERIFY = 252;
    /// `334` Server challenge during AUTH (RFC 4954).
    AUTH_CHALLENGE = 334;
    /// `354` Start mail input; end with `<CRLF>.<CRLF>`.
    START_MAIL_INPUT = 354;
    /// `421` Service not available, closing transmission channel.
    SERVICE_NOT_AVAILABLE = 421;
    /// `450` Mailbox unavailable (transient).
    MAILBOX_BUSY = 450;
    /// `451` Local error in processing.
    LOCAL_ERROR = 451;
    /// `452` Insufficient system storage, or too many recipients.
    INSUFFICIENT_STORAGE = 452;
    /// `454` TLS not available, or temporary authentication failure.
    TEMPORARY_FAILURE = 454;
    /// `455` Server unable to accommodate parameters.
    CANNOT_ACCOMMODATE_PARAMETERS = 455;
    /// `500` Syntax error, command unrecognized (also: line too long).
    SYNTAX_ERROR = 500;
    /// `501` Syntax error in parameters or arguments.
    SYNTAX_ERROR_IN_ARGUMENTS = 501;
    /// `502` Command not implemented.
    NOT_IMPLEMENTED = 502;
    /// `503` Bad sequence of commands.
    BAD_SEQUENCE = 503;
    /// `504` Command parameter not implemented.
    PARAMETER_NOT_IMPLEMENTED = 504;
    /// `530` Authentication required (RFC 4954), or must issue STARTTLS first (RFC 3207).
    AUTH_REQUIRED = 530;
    /// `535` Authentication credentials invalid (RFC 4954).
    AUTH_FAILED = 535;
    /// `550` Mailbox unavailable.
    MAILBOX_UNAVAILABLE = 550;
    /// `551` User not local.
    USER_NOT_LOCAL = 551;
    /// `552` Exceeded storage allocation.
    EXCEEDED_STORAGE = 552;
    /// `553` Mailbox name not allowed.
    MAILBOX_NAME_NOT_ALLOWED = 553;
    /// `554` Transaction failed (or, as a greeting, no SMTP service here).
    TRANSACTION_FAILED = 554;
    /// `555` MAIL FROM/RCPT TO parameters not recognized or not implemented.
    PARAMETERS_NOT_RECOGNIZED = 555;
}

impl ReplyCode {
    /// The code, if `value` is a valid reply code.
    pub const fn new(value: u16) -> Option<Self> {
        if value >= 200 && value <= 599 { Some(Self(value)) } else { None }
    }

    /// The code as a number.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The first digit: 2 positive completion, 3 positive intermediate,
    /// 4 transient negative, 5 permanent negative (RFC 5321 section 4.2.1).
    pub const fn class(self) -> u8 {
        (self.0 / 100) as u8
    }

    /// `2yz`: the command succeeded.
    pub const fn is_positive(self) -> bool {
        self.class() == 2
    }

    /// `3yz`: the server waits for more (DATA's 354, AUTH's 334).
    pub const fn is_intermediate(self) -> bool {
        self.class() == 3
    }

    /// `4yz`: a transient failure; the same command may succeed later.
    pub const fn is_transient(self) -> bool {
        self.class() == 4
    }

    /// `5yz`: a permanent failure.
    pub const fn is_permanent(self) -> bool {
        self.class() == 5
    }

    fn digits(self) -> [u8; 3] {
        // `new` keeps the value in 200..=599, so each digit fits in one ASCII byte.
        [b'0' + self.class(), b'0' + (self.0 / 10 % 10) as u8, b'0' + (self.0 % 10) as u8]
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An enhanced mail system status code (RFC 3463): `class.subject.detail`, such as `2.1.5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedStatus {
    /// A status code. `class` must be 2, 4 or 5 and `subject` and `detail` at most 999
    /// (RFC 3463 section 2); [`EnhancedStatus::try_new`] checks, this panics.
    ///
    /// # Panics
    /// When a part is out of range: a programming error in the caller, never peer input.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        match Self::try_new(class, subject, detail) {
            Some(status) => status,
            None => panic!("enhanced status code out of range"),
        }
    }

    /// A status code, if the parts are in range.
    pub const fn try_new(class: u8, subject: u16, detail: u16) -> Option<Self> {
        if (class == 2 || class == 4 || class == 5) && subject <= 999 && detail <= 999 {
            Some(Self { class, subject, detail })
        } else {
            None
        }
    }

    /// The class: 2 success, 4 persistent transient failure, 5 permanent failure.
    pub const fn class(self) -> u8 {
        self.class
    }

    /// The subject (what the status is about: 1 addressing, 5 protocol, 7 security, ...).
    pub const fn subject(self) -> u16 {
        self.subject
    }

    /// The detail within the subject.
    pub const fn detail(self) -> u16 {
        self.detail
    }

    /// Parses `class.subject.detail` from the start of `text`, returning it and the
    /// number of bytes it took. Each of subject and detail is one to three digits.
    pub(crate) fn parse_prefix(text: &str) -> Option<(Self, usize)> {
        let bytes = text.as_bytes();
        let class = *bytes.first()?;
        if bytes.get(1) != Some(&b'.') {
            return None;
        }
        // `bytes[1]` exists (it is the dot), so `2..` is in bounds; likewise the dot at
        // `after_subject` makes `after_subject + 1..` in bounds.
        let (subject, subject_len) = parse_number(&bytes[2..])?;
        let after_subject = 2 + subject_len;
        if bytes.get(after_subject) != Some(&b'.') {
            return None;
        }
        let (detail, detail_len) = parse_number(&bytes[after_subject + 1..])?;
        let status = Self::try_new(class.wrapping_sub(b'0'), subject, detail)?;
        Some((status, after_subject + 1 + detail_len))
    }
}

/// One to three ASCII digits at the start of `bytes`, not followed by another digit.
fn parse_number(bytes: &[u8]) -> Option<(u16, usize)> {
    let len = bytes.iter().take(4).take_while(|b| b.is_ascii_digit()).count();
    if !(1..=3).contains(&len) {
        return None;
    }
    // `len` counts bytes of `bytes`.
    let value = bytes[..len].iter().fold(0u16, |n, b| n * 10 + u16::from(b - b'0'));
    Some((value, len))
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A complete reply: a code, an optional enhanced status code, and one or more lines
/// of text.
///
/// The enhanced status code, when present, prefixes every line on the wire (RFC 2034
/// section 3); here it is held once and the lines hold only the text after it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    code: ReplyCode,
    enhanced: Option<EnhancedStatus>,
    lines: Vec<Cow<'static, str>>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: ReplyCode, text: impl Into<Cow<'static, str>>) -> Self {
        Self { code, enhanced: None, lines: alloc::vec![text.into()] }
    }

    /// A reply of several lines. An empty iterator gives one empty line.
    pub fn with_lines<T: Into<Cow<'static, str>>>(code: ReplyCode, lines: impl IntoIterator<Item = T>) -> Self {
        let mut lines: Vec<_> = lines.into_iter().map(Into::into).collect();
        if lines.is_empty() {
            lines.push(Cow::Borrowed(""));
        }
        Self { code, enhanced: None, lines }
    }

    /// The same reply with an enhanced status code on every line.
    #[must_use]
    pub fn with_enhanced(mut self, status: EnhancedStatus) -> Self {
        self.enhanced = Some(status);
        self
    }

    /// The same reply with one more line of text at the end.
    #[must_use]
    pub fn with_line(mut self, text: impl Into<Cow<'static, str>>) -> Self {
        self.lines.push(text.into());
        self
    }

    /// The reply code.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// The enhanced status code, if the reply carries one.
    pub fn enhanced(&self) -> Option<EnhancedStatus> {
        self.enhanced
    }

    /// The text of each line, without code or enhanced status code. Never empty.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.lines.iter().map(|line| &**line)
    }

    /// Encodes the reply, ending each line with CRLF and splitting text that would
    /// make a line longer than 512 octets (at a space where there is one).
    ///
    /// Nothing is written when the text holds CR, LF or another control character
    /// other than HT: such text could end the reply early and inject another.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        if self.lines.iter().any(|line| line.chars().any(is_forbidden_in_text)) {
            return Err(EncodeError::ControlCharacter);
        }
        let mut prefix = String::new();
        if let Some(status) = self.enhanced {
            use core::fmt::Write;
            // Writing into a String cannot fail.
            let _ = write!(prefix, "{status} ");
        }
        // Room for the text: 512 less code, separator, enhanced code and CRLF.
        let room = MAX_REPLY_LINE - 4 - prefix.len() - 2;
        let last = self.lines.len() - 1;
        for (index, line) in self.lines.iter().enumerate() {
            let mut rest: &str = line;
            loop {
                let piece = split_text(rest, room);
                rest = rest[piece.len()..].trim_start_matches(' ');
                let final_piece = index == last && rest.is_empty();
                out.put_slice(&self.code.digits());
                out.put_u8(if final_piece { b' ' } else { b'-' });
                out.put_slice(prefix.as_bytes());
                out.put_slice(piece.as_bytes());
                out.put_slice(b"\r\n");
                if rest.is_empty() {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// RFC 5321 `textstring` is HT and the printable characters; RFC 6531 adds UTF-8.
fn is_forbidden_in_text(c: char) -> bool {
    c.is_ascii_control() && c != '\t'
}

/// The longest prefix of `text` of at most `room` bytes, cut at the last space in reach
/// when the whole text does not fit, and always at a character boundary.
fn split_text(text: &str, room: usize) -> &str {
    if text.len() <= room {
        return text;
    }
    let mut cut = room;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    // `cut < text.len()` (the text does not fit) and sits on a character boundary.
    match text[..cut].rfind(' ') {
        Some(space) if space > 0 => &text[..space],
        _ => &text[..cut],
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, line) in self.lines.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}", self.code)?;
            if let Some(status) = self.enhanced {
                write!(f, " {status}")?;
            }
            if !line.is_empty() {
                write!(f, " {line}")?;
            }
        }
        Ok(())
    }
}

/// Reads replies from a server's byte stream, one complete (possibly multi-line)
/// reply at a time.
///
/// ```
/// use bytes::BytesMut;
/// use smtp_sansio::{ReplyCode, ReplyParser};
///
/// let mut parser = ReplyParser::new();
/// let mut input = BytesMut::from(&b"250-mx.example greets you\r\n250-PIPEL"[..]);
/// assert!(parser.parse(&mut input).is_none()); // the reply is not complete yet
/// input.extend_from_slice(b"INING\r\n250 2.0.0 SIZE 1000\r\n");
/// let reply = parser.parse(&mut input).unwrap().unwrap();
/// assert_eq!(reply.code(), ReplyCode::OK);
/// assert_eq!(reply.lines().collect::<Vec<_>>(), ["mx.example greets you", "PIPELINING", "2.0.0 SIZE 1000"]);
/// ```
#[derive(Debug, Clone)]
pub struct ReplyParser {
    framer: LineFramer,
    max_lines: usize,
    partial: Option<Reply>,
    /// After an error inside a multi-line reply: skip its remaining lines, so that one
    /// broken reply gives one error.
    skipping: bool,
}

impl Default for ReplyParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyParser {
    /// The default lines in one reply: more than any real EHLO answer needs.
    pub const DEFAULT_MAX_LINES: usize = 128;

    /// A parser with the RFC 5321 reply line cap of 512 octets, at most
    /// [`Self::DEFAULT_MAX_LINES`] lines a reply, and bare LF accepted as a line end
    /// (a client gains nothing by refusing an old server's line endings).
    pub fn new() -> Self {
        Self::with_limits(MAX_REPLY_LINE, Self::DEFAULT_MAX_LINES, BareLf::Accept)
    }

    /// A parser with the given line cap (CRLF included), lines a reply and bare LF policy.
    pub fn with_limits(max_line: usize, max_lines: usize, bare_lf: BareLf) -> Self {
        Self { framer: LineFramer::new(max_line, bare_lf), max_lines: max_lines.max(1), partial: None, skipping: false }
    }

    /// Changes the line cap (CRLF included), for example to
    /// [`LineFramer::AUTH_LINE`] while an AUTH exchange runs: RFC 4954 section 4 lets a
    /// server's challenge be as long as a client's response.
    pub fn set_max_line(&mut self, max_line: usize) {
        self.framer.set_max_line(max_line);
    }

    /// Takes the next complete reply out of `input`.
    ///
    /// `None` means more bytes are needed; whatever was consumed so far is
    /// remembered. After an error the parser starts afresh at the next line, but a
    /// client should treat a server that sends invalid replies as broken.
    pub fn parse(&mut self, input: &mut BytesMut) -> Option<Result<Reply, ReplyError>> {
        loop {
            let (line_end, consumed) = match self.framer.next_line(input) {
                Framed::Line { len, consumed } => (len, consumed),
                Framed::Incomplete { discard } => {
                    let _ = input.split_to(discard);
                    return None;
                }
                Framed::LineTooLong { consumed } => return Some(self.fail(input, consumed, ReplyError::LineTooLong)),
                Framed::BareLf { consumed } => return Some(self.fail(input, consumed, ReplyError::BareLf)),
            };
            let line = ReplyLine::parse(&input[..line_end]);
            if self.skipping {
                self.skipping = line.is_some_and(|line| !line.last);
                let _ = input.split_to(consumed);
                continue;
            }
            let pushed = match line {
                Some(line) => {
                    let last = line.last;
                    let pushed = self.push(line);
                    self.skipping = pushed.is_err() && !last;
                    pushed
                }
                None => Err(ReplyError::Malformed),
            };
            let _ = input.split_to(consumed);
            match pushed {
                Ok(Some(reply)) => return Some(Ok(reply)),
                Ok(None) => {}
                Err(error) => {
                    self.partial = None;
                    return Some(Err(error));
                }
            }
        }
    }

    fn fail(&mut self, input: &mut BytesMut, consumed: usize, error: ReplyError) -> Result<Reply, ReplyError> {
        let _ = input.split_to(consumed);
        self.partial = None;
        Err(error)
    }

    fn push(&mut self, line: ReplyLine<'_>) -> Result<Option<Reply>, ReplyError> {
        let reply = match self.partial.take() {
            None => {
                let (enhanced, text) = match strip_enhanced(&line.text) {
                    Some((status, text)) if status.class() == line.code.class() => (Some(status), text),
                    _ => (None, &*line.text),
                };
                Reply { code: line.code, enhanced, lines: alloc::vec![Cow::Owned(text.into())] }
            }
            Some(mut reply) => {
                if reply.code != line.code {
                    return Err(ReplyError::MismatchedCodes);
                }
                if reply.lines.len() >= self.max_lines {
                    return Err(ReplyError::TooManyLines);
                }
                let text = match (reply.enhanced, strip_enhanced(&line.text)) {
                    (Some(expected), Some((status, text))) if expected == status => text,
                    _ => &*line.text,
                };
                reply.lines.push(Cow::Owned(text.into()));
                reply
            }
        };
        if line.last {
            Ok(Some(reply))
        } else {
            self.partial = Some(reply);
            Ok(None)
        }
    }
}

/// Splits an enhanced status code and the one space after it off the front of a reply
/// line's text, if it starts with one followed by a space or the end.
fn strip_enhanced(text: &str) -> Option<(EnhancedStatus, &str)> {
    let (status, len) = EnhancedStatus::parse_prefix(text)?;
    // `len` counts the ASCII bytes of the code at the front of `text`.
    let rest = &text[len..];
    match rest.strip_prefix(' ') {
        Some(rest) => Some((status, rest)),
        None => rest.is_empty().then_some((status, rest)),
    }
}

/// One line of a reply, as framed.
struct ReplyLine<'a> {
    code: ReplyCode,
    last: bool,
    text: Cow<'a, str>,
}

impl<'a> ReplyLine<'a> {
    fn parse(line: &'a [u8]) -> Option<Self> {
        let digits = line.get(..3)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        let code = ReplyCode::new(value)?;
        // A fourth byte exists in the two arms that slice from 4.
        let (last, text) = match line.get(3) {
            None => (true, &[][..]),
            Some(b' ') => (true, &line[4..]),
            Some(b'-') => (false, &line[4..]),
            Some(_) => return None,
        };
        // RFC 5321 `textstring` is HT and printable characters: a control character,
        // above all a CR that a lenient peer might take for a line end, makes the line
        // malformed.
        if text.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
            return None;
        }
        // Reply text is for people; octets that are not UTF-8 become U+FFFD rather
        // than costing the client the code, which is what it acts on.
        Some(Self { code, last, text: alloc::string::String::from_utf8_lossy(text) })
    }
}
