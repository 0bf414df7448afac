//! Command and reply lines (RFC 5321 section 2.3.8: lines end with CRLF).

use memchr::memchr;

/// What to do with a line that ends in LF without CR before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareLf {
    /// Refuse it: the framer reports [`Framed::BareLf`]. RFC 5321 section 2.3.8 says
    /// only CRLF ends a line, and a server that agrees with its peers on where lines
    /// end cannot be desynchronised by a proxy that does not.
    #[default]
    Reject,
    /// Take LF (with or without CR before it) as the end of the line, as many
    /// old clients and hand-typed sessions (`nc`) expect.
    Accept,
}

/// The next thing a [`LineFramer`] found in the buffer it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Framed {
    /// A whole line: its text is `buffer[..len]`, without the line ending. Drop
    /// `consumed` bytes from the front of the buffer once done with it.
    Line {
        /// Length of the line's text.
        len: usize,
        /// Length of the line with its ending.
        consumed: usize,
    },
    /// No whole line yet. Drop `discard` bytes from the front of the buffer (part of an
    /// overlong line that is being skipped; often 0), then wait for more input.
    Incomplete {
        /// Bytes that can be dropped now.
        discard: usize,
    },
    /// An overlong line ended. Drop `consumed` bytes; the line was longer than the cap
    /// and its text is gone. A server answers `500 5.5.6` (RFC 5321 section 4.5.3.1.4),
    /// once, and carries on with the next line.
    LineTooLong {
        /// Bytes to drop: the rest of the overlong line and its ending.
        consumed: usize,
    },
    /// A line ended by LF alone under [`BareLf::Reject`]. Drop `consumed` bytes; the
    /// line is not executed.
    BareLf {
        /// Bytes to drop: the line and its LF.
        consumed: usize,
    },
}

/// Finds CRLF-terminated lines in a byte stream, with a hard cap on their length.
///
/// The framer borrows nothing and stores no bytes: show it the unconsumed input
/// each time, drop what it says was used, and show it the rest with more appended.
/// It remembers how far it has already searched, so feeding a long line one byte at
/// a time costs linear time, not quadratic.
///
/// A line longer than the cap is *poisoned*: its bytes are given back for dropping as
/// they arrive ([`Framed::Incomplete`] with a `discard`), so memory stays bounded
/// however long it is, and its end is reported once as [`Framed::LineTooLong`].
///
/// ```
/// use smtp_sansio::{Framed, LineFramer};
///
/// let mut framer = LineFramer::commands();
/// let input = b"NOOP\r\nQUI";
/// assert_eq!(framer.next_line(input), Framed::Line { len: 4, consumed: 6 });
/// assert_eq!(framer.next_line(&input[6..]), Framed::Incomplete { discard: 0 });
/// ```
#[derive(Debug, Clone)]
pub struct LineFramer {
    max_line: usize,
    bare_lf: BareLf,
    /// Bytes at the front of the buffer already searched for LF without finding one.
    searched: usize,
    /// Inside a line that passed the cap: skip to its end.
    poisoned: bool,
}

impl LineFramer {
    /// The command line cap of RFC 5321 section 4.5.3.1.4: 512 octets, CRLF included.
    pub const COMMAND_LINE: usize = 512;
    /// The cap for AUTH exchanges: RFC 4954 section 4 asks servers to take at least
    /// 12288 octets, which fits a large initial response or OAuth token.
    pub const AUTH_LINE: usize = 12288;

    /// A framer for a server reading commands: 512 octets, bare LF refused.
    pub fn commands() -> Self {
        Self::new(Self::COMMAND_LINE, BareLf::Reject)
    }

    /// A framer with the given cap (CRLF included; at least 3) and bare LF policy.
    pub fn new(max_line: usize, bare_lf: BareLf) -> Self {
        Self { max_line: max_line.max(3), bare_lf, searched: 0, poisoned: false }
    }

    /// The cap, CRLF included.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Changes the cap, for example to [`Self::AUTH_LINE`] while an AUTH exchange runs.
    /// It applies to the line being read now.
    pub fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line.max(3);
    }

    /// Whether the framer is in the middle of a line too long to keep, dropping its
    /// bytes until the LF: the line has begun, though nothing of it is held.
    pub(crate) fn dropping(&self) -> bool {
        self.poisoned
    }

    /// Forgets what the framer learnt about the buffer: call it whenever the buffer was
    /// consumed by something else (a message body, a TLS handshake), so that the next
    /// line is searched from its start.
    pub fn reset(&mut self) {
        self.searched = 0;
        self.poisoned = false;
    }

    /// Looks for the next line at the front of `buffer`.
    ///
    /// `buffer` must be what is left of the input after dropping what earlier calls
    /// said to drop, with newly received bytes appended.
    pub fn next_line(&mut self, buffer: &[u8]) -> Framed {
        let start = self.searched.min(buffer.len());
        // `start` is clamped to the buffer's length just above.
        let Some(found) = memchr(b'\n', &buffer[start..]) else {
            return self.no_line_end(buffer.len());
        };
        let lf = start + found;
        let consumed = lf + 1;
        self.searched = 0;
        if core::mem::take(&mut self.poisoned) || consumed > self.max_line {
            return Framed::LineTooLong { consumed };
        }
        // `lf` is an index into `buffer`, so `lf - 1` is one too when `lf > 0`.
        let has_cr = lf > 0 && buffer[lf - 1] == b'\r';
        match (has_cr, self.bare_lf) {
            (true, _) => Framed::Line { len: lf - 1, consumed },
            (false, BareLf::Accept) => Framed::Line { len: lf, consumed },
            (false, BareLf::Reject) => Framed::BareLf { consumed },
        }
    }

    fn no_line_end(&mut self, available: usize) -> Framed {
        // The longest allowed line has its LF at index `max_line - 1`; once that many
        // octets hold no LF, the line cannot end in time.
        if self.poisoned || available >= self.max_line {
            self.poisoned = true;
            self.searched = 0;
            return Framed::Incomplete { discard: available };
        }
        self.searched = available;
        Framed::Incomplete { discard: 0 }
    }
}
