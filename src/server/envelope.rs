//! `MAIL FROM` and `RCPT TO` as the server hands them to the application: the command
//! line itself, kept as a slice of the input (no copy, no allocation), with typed
//! views of its parts.

use core::fmt;

use bytes::Bytes;

use crate::wire::{
    AddressLimits, Command, ForwardPath, MailParameters, MailboxSpan, ParseOptions, RcptParameters, ReversePath,
};

/// A command line that parsed, and whether it parsed strictly (kept small: events carry
/// this, and every event is moved a few times).
#[derive(Clone, PartialEq, Eq)]
struct Line {
    bytes: Bytes,
    strict: bool,
}

impl Line {
    fn new(bytes: Bytes, options: ParseOptions) -> Self {
        Self { bytes, strict: options.strict }
    }

    /// The options to read the line again: the address limits only ever refuse a line,
    /// and this one passed them, so none are needed to read it the same way.
    fn options(&self) -> ParseOptions {
        let none = AddressLimits { local_part: usize::MAX, domain: usize::MAX, path: usize::MAX };
        ParseOptions { strict: self.strict, limits: none }
    }

    fn text(&self) -> &str {
        // The line parsed as a command, and the parser refuses anything but UTF-8;
        // `Bytes` never changes. So this is never the empty fallback.
        core::str::from_utf8(&self.bytes).unwrap_or_default()
    }

    fn parse(&self) -> Option<Command<'_>> {
        // The same bytes and options parsed before, and parsing is deterministic.
        Command::parse(&self.bytes, &self.options()).ok()
    }
}

/// `MAIL FROM:<reverse-path> [parameters]`, accepted by the grammar and the session.
///
/// [`from`](Self::from) costs nothing; [`params`](Self::params) reads the line again.
#[derive(Clone, PartialEq, Eq)]
pub struct MailCommand {
    line: Line,
    /// `None` for the null path `<>`.
    from: Option<MailboxSpan>,
}

impl MailCommand {
    /// Keeps `bytes`, a line that parsed as `MAIL` under `options`, with the place of
    /// its sender's mailbox (`None` for `<>`).
    pub(crate) fn new(bytes: Bytes, options: ParseOptions, from: Option<MailboxSpan>) -> Self {
        Self { line: Line::new(bytes, options), from }
    }

    /// The sender, `<>` for a bounce.
    pub fn from(&self) -> ReversePath<'_> {
        match self.from.and_then(|span| span.mailbox(self.line.text())) {
            Some(mailbox) => ReversePath::Mailbox(mailbox),
            None => ReversePath::Null,
        }
    }

    /// The ESMTP parameters, already checked against what the server offers.
    pub fn params(&self) -> MailParameters<'_> {
        match self.line.parse() {
            Some(Command::Mail { params, .. }) => params,
            _ => MailParameters::default(),
        }
    }

    /// The command line as the client sent it, without CRLF.
    pub fn line(&self) -> &str {
        self.line.text()
    }
}

impl fmt::Debug for MailCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailCommand").field("from", &self.from()).field("params", &self.params()).finish()
    }
}

/// `RCPT TO:<forward-path> [parameters]`, accepted by the grammar and the session.
///
/// [`to`](Self::to) costs nothing; [`params`](Self::params) reads the line again.
#[derive(Clone, PartialEq, Eq)]
pub struct RcptCommand {
    line: Line,
    /// `None` for `<Postmaster>`.
    to: Option<MailboxSpan>,
}

impl RcptCommand {
    /// Keeps `bytes`, a line that parsed as `RCPT` under `options`, with the place of
    /// its recipient's mailbox (`None` for `<Postmaster>`).
    pub(crate) fn new(bytes: Bytes, options: ParseOptions, to: Option<MailboxSpan>) -> Self {
        Self { line: Line::new(bytes, options), to }
    }

    /// The same command in a buffer of its own, so that keeping it does not keep the
    /// whole read it arrived in.
    pub(crate) fn detached(&self) -> Self {
        let mut line = self.line.clone();
        line.bytes = Bytes::copy_from_slice(&line.bytes);
        Self { line, to: self.to }
    }

    /// The recipient.
    pub fn to(&self) -> ForwardPath<'_> {
        match self.to.and_then(|span| span.mailbox(self.line.text())) {
            Some(mailbox) => ForwardPath::Mailbox(mailbox),
            None => ForwardPath::Postmaster,
        }
    }

    /// The ESMTP parameters, already checked against what the server offers.
    pub fn params(&self) -> RcptParameters<'_> {
        match self.line.parse() {
            Some(Command::Rcpt { params, .. }) => params,
            _ => RcptParameters::default(),
        }
    }

    /// The command line as the client sent it, without CRLF.
    pub fn line(&self) -> &str {
        self.line.text()
    }
}

impl fmt::Debug for RcptCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RcptCommand").field("to", &self.to()).field("params", &self.params()).finish()
    }
}
