//! Paths, mailboxes, domains and address literals: RFC 5321 section 4.1.2 and
//! 4.1.3, with RFC 6531 UTF-8.
//!
//! ```text
//! Reverse-path = Path / "<>"
//! Forward-path = Path / "<Postmaster>"        ; case-insensitive
//! Path         = "<" [ A-d-l ":" ] Mailbox ">"  ; the source route A-d-l is dropped (Appendix C)
//! Mailbox      = Local-part "@" ( Domain / address-literal )
//! Local-part   = Dot-string / Quoted-string
//! ```
//!
//! Every type here is validated when it is made, so encoding one cannot fail.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use memchr::memchr;

use super::chars::{self, ATEXT, DCONTENT, LDH, QTEXT};
use super::swar;
use crate::error::AddressError;

/// Length limits on addresses (RFC 5321 section 4.5.3.1). The defaults are the RFC's;
/// raise them to accept what section 4.5.3.1 calls "objects larger than these sizes".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressLimits {
    /// Octets in a local part (section 4.5.3.1.1: 64).
    pub local_part: usize,
    /// Octets in a domain (section 4.5.3.1.2: 255).
    pub domain: usize,
    /// Octets in a path, brackets and source route included (section 4.5.3.1.3: 256).
    pub path: usize,
}

impl AddressLimits {
    /// The RFC 5321 limits: 64, 255 and 256 octets.
    pub const RFC5321: Self = Self { local_part: 64, domain: 255, path: 256 };
}

impl Default for AddressLimits {
    fn default() -> Self {
        Self::RFC5321
    }
}

/// The longest DNS label (RFC 1035 section 2.3.4).
const MAX_LABEL: usize = 63;

/// A domain name: dot-separated labels of letters, digits and hyphens, neither
/// starting nor ending with a hyphen (RFC 5321 section 4.1.2 `Domain`). With RFC 6531,
/// labels may hold UTF-8 (U-labels).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Domain<'a>(Cow<'a, str>);

impl<'a> Domain<'a> {
    /// Checks `text` against the grammar and the RFC 5321 limit of 255 octets.
    pub fn parse(text: &'a str) -> Result<Self, AddressError> {
        Self::parse_with(text, AddressLimits::RFC5321.domain, false)
    }

    /// Like [`Domain::parse`], with a length limit, and with `_` allowed in labels when
    /// `allow_underscore` is set (lenient `HELO` names: Windows machine names have it).
    pub(crate) fn parse_with(text: &'a str, max_len: usize, allow_underscore: bool) -> Result<Self, AddressError> {
        // The usual short ASCII name, eight bytes at a time; anything else by the grammar.
        if swar::domain(text.as_bytes(), 0) == Some(text.len()) && text.len() <= max_len {
            return Ok(Self(Cow::Borrowed(text)));
        }
        if scan_domain(text.as_bytes(), 0, allow_underscore)? != text.len() || chars::has_control(text) {
            return Err(AddressError::Syntax);
        }
        if text.len() > max_len {
            return Err(AddressError::DomainTooLong);
        }
        Ok(Self(Cow::Borrowed(text)))
    }

    /// `localhost`, for a client whose own name does not parse.
    pub(crate) const LOCALHOST: Domain<'static> = Domain(Cow::Borrowed("localhost"));

    /// The domain as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the domain is all ASCII (no U-labels).
    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }

    /// The same domain, owning its text.
    pub fn into_owned(self) -> Domain<'static> {
        Domain(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Display for Domain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An address literal (RFC 5321 section 4.1.3), written in square brackets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressLiteral<'a> {
    /// `[192.0.2.1]`.
    Ipv4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`, in any RFC 4291 text form, `::` and IPv4-suffixed included.
    Ipv6(Ipv6Addr),
    /// `[tag:content]` for a standardized tag other than IPv6.
    General(GeneralLiteral<'a>),
}

/// A general address literal, `[tag:content]` (RFC 5321 section 4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GeneralLiteral<'a> {
    tag: Cow<'a, str>,
    content: Cow<'a, str>,
}

impl GeneralLiteral<'_> {
    /// The tag (`Standardized-tag`, letters, digits and hyphens).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The content after the colon: printable ASCII other than `[`, `\` and `]`.
    pub fn content(&self) -> &str {
        &self.content
    }
}

impl<'a> AddressLiteral<'a> {
    /// Parses a literal with its brackets, such as `[IPv6:::1]`.
    pub fn parse(text: &'a str) -> Result<Self, AddressError> {
        match scan_literal(text, 0)? {
            (literal, end) if end == text.len() => Ok(literal),
            _ => Err(AddressError::Syntax),
        }
    }

    /// The same literal, owning its text.
    pub fn into_owned(self) -> AddressLiteral<'static> {
        match self {
            Self::Ipv4(ip) => AddressLiteral::Ipv4(ip),
            Self::Ipv6(ip) => AddressLiteral::Ipv6(ip),
            Self::General(GeneralLiteral { tag, content }) => AddressLiteral::General(GeneralLiteral {
                tag: Cow::Owned(tag.into_owned()),
                content: Cow::Owned(content.into_owned()),
            }),
        }
    }
}

impl fmt::Display for AddressLiteral<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipv4(ip) => write!(f, "[{ip}]"),
            Self::Ipv6(ip) => write!(f, "[IPv6:{ip}]"),
            Self::General(literal) => write!(f, "[{}:{}]", literal.tag, literal.content),
        }
    }
}

/// What follows `@` in a mailbox, and what `HELO`/`EHLO`/`LHLO` name: a domain or an
/// address literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    /// A domain name.
    Domain(Domain<'a>),
    /// An address literal.
    Literal(AddressLiteral<'a>),
}

impl<'a> Host<'a> {
    /// Parses a domain or a bracketed address literal.
    pub fn parse(text: &'a str) -> Result<Self, AddressError> {
        Self::parse_with(text, AddressLimits::RFC5321.domain, false)
    }

    pub(crate) fn parse_with(text: &'a str, max_len: usize, allow_underscore: bool) -> Result<Self, AddressError> {
        if text.starts_with('[') {
            AddressLiteral::parse(text).map(Self::Literal)
        } else {
            Domain::parse_with(text, max_len, allow_underscore).map(Self::Domain)
        }
    }

    /// Whether the host is all ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            Self::Domain(domain) => domain.is_ascii(),
            Self::Literal(_) => true,
        }
    }

    /// The same host, owning its text.
    pub fn into_owned(self) -> Host<'static> {
        match self {
            Self::Domain(domain) => Host::Domain(domain.into_owned()),
            Self::Literal(literal) => Host::Literal(literal.into_owned()),
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Domain(domain) => domain.fmt(f),
            Self::Literal(literal) => literal.fmt(f),
        }
    }
}

/// The part of a mailbox before `@`, exactly as on the wire: a dot-string such as
/// `john.doe`, or a quoted string such as `"john doe"` with its quotes and escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalPart<'a>(&'a str);

impl<'a> LocalPart<'a> {
    /// The local part as written on the wire, quotes and backslashes included.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// Whether it is a quoted string.
    pub fn is_quoted(&self) -> bool {
        self.0.starts_with('"')
    }

    /// The value: for a quoted string, the text between the quotes with each
    /// backslash escape undone; otherwise the dot-string itself.
    pub fn value(&self) -> Cow<'a, str> {
        let Some(inner) = self.0.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
            return Cow::Borrowed(self.0);
        };
        if !inner.contains('\\') {
            return Cow::Borrowed(inner);
        }
        let mut value = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            // The grammar puts a character after every backslash.
            value.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
        }
        Cow::Owned(value)
    }
}

impl fmt::Display for LocalPart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A mailbox, `local-part@host`, held as written on the wire.
///
/// The parts are validated when the mailbox is made and read back on demand, which keeps
/// the value small (a command carries one, and is moved around as a whole). Two
/// mailboxes are equal when they are written the same way.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox<'a> {
    text: Cow<'a, str>,
    /// Where the `@` between local part and host is.
    at: usize,
}

impl<'a> Mailbox<'a> {
    /// Parses a mailbox without angle brackets, such as `"john doe"@example.com`,
    /// with the RFC 5321 limits.
    pub fn parse(text: &'a str) -> Result<Self, AddressError> {
        Self::parse_with(text, &AddressLimits::RFC5321)
    }

    /// All of `text` as a mailbox, checked against `limits`.
    fn parse_with(text: &'a str, limits: &AddressLimits) -> Result<Self, AddressError> {
        let (mailbox, end) = scan_mailbox(text, 0)?;
        if end != text.len() {
            return Err(AddressError::Syntax);
        }
        mailbox.check_lengths(limits)?;
        Ok(mailbox)
    }

    /// The mailbox as text, `local-part@host`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The local part.
    pub fn local_part(&self) -> LocalPart<'_> {
        // `at` indexes the ASCII `@`: a character boundary.
        LocalPart(&self.text[..self.at])
    }

    /// The domain or address literal after `@`.
    pub fn host(&self) -> Host<'_> {
        // `at + 1` is just past the ASCII `@`: a character boundary.
        let host = &self.text[self.at + 1..];
        match AddressLiteral::parse(host) {
            Ok(literal) => Host::Literal(literal),
            // The mailbox was validated when it was made: anything but a literal is a domain.
            Err(_) => Host::Domain(Domain(Cow::Borrowed(host))),
        }
    }

    /// Whether the mailbox is all ASCII. A non-ASCII mailbox needs `SMTPUTF8`.
    pub fn is_ascii(&self) -> bool {
        self.text.is_ascii()
    }

    /// The same mailbox, owning its text.
    pub fn into_owned(self) -> Mailbox<'static> {
        Mailbox { text: Cow::Owned(self.text.into_owned()), at: self.at }
    }

    /// Checks the local part and domain against `limits` (the grammar checked the rest).
    #[inline]
    pub(crate) fn check_lengths(&self, limits: &AddressLimits) -> Result<(), AddressError> {
        if self.at > limits.local_part {
            return Err(AddressError::LocalPartTooLong);
        }
        let host = self.text.len() - self.at - 1;
        // An address literal is at most as long as the path around it.
        if host > limits.domain && !self.text.ends_with(']') {
            return Err(AddressError::DomainTooLong);
        }
        Ok(())
    }
}

/// Where a [`Mailbox`] borrowed from a line sits in it, so that the line can be kept
/// (as `Bytes`) and the mailbox read back from it without parsing again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct MailboxSpan {
    // Offsets into a command line, which is far shorter than 4 GiB.
    start: u32,
    end: u32,
    at: u32,
}

impl MailboxSpan {
    /// The span of `mailbox` in `line`, if its text is borrowed from `line`.
    pub(crate) fn of(mailbox: &Mailbox<'_>, line: &[u8]) -> Option<Self> {
        let Cow::Borrowed(text) = mailbox.text else { return None };
        // Addresses compared as numbers, to find where `text` starts inside `line`.
        let start = (text.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
        let end = start.checked_add(text.len())?;
        if line.get(start..end) != Some(text.as_bytes()) {
            return None;
        }
        let narrow = |n: usize| u32::try_from(n).ok();
        Some(Self { start: narrow(start)?, end: narrow(end)?, at: narrow(mailbox.at)? })
    }

    /// The mailbox at this span of `line`, the line it was made from; `None` for any
    /// other line.
    pub(crate) fn mailbox<'a>(&self, line: &'a str) -> Option<Mailbox<'a>> {
        let (start, end, at) = (self.start as usize, self.end as usize, self.at as usize);
        let text = line.get(start..end)?;
        (text.as_bytes().get(at) == Some(&b'@')).then_some(Mailbox { text: Cow::Borrowed(text), at })
    }
}

impl fmt::Display for Mailbox<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The argument of `MAIL FROM`: where to send notifications, or nowhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath<'a> {
    /// `<>`: the null path, used by bounces so they never bounce back (section 4.5.5).
    Null,
    /// A sender mailbox.
    Mailbox(Mailbox<'a>),
}

impl<'a> ReversePath<'a> {
    /// Parses `<>` or a bracketed path, with the RFC 5321 limits.
    pub fn parse(text: &'a str) -> Result<Self, AddressError> {
        match parse_path(text, &AddressLimits::RFC5321)? {
            ("", path) => path.into_reverse(),
            _ => Err(AddressError::Syntax),
        }
    }

    /// The mailbox, unless the path is null.
    pub fn mailbox(&self) -> Option<&Mailbox<'a>> {
        match self {
            Self::Null => None,
            Self::Mailbox(mailbox) => Some(mailbox),
        }
    }

    /// Whether the path is all ASCII.
    pub fn is_ascii(&self) -> bool {
        self.mailbox().is_none_or(Mailbox::is_ascii)
    }

    /// The same path, owning its text.
    pub fn into_owned(self) -> ReversePath<'static> {
        match self {
            Self::Null => ReversePath::Null,
            Self::Mailbox(mailbox) => ReversePath::Mailbox(mailbox.into_owned()),
        }
    }
}

impl fmt::Display for ReversePath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("<>"),
            Self::Mailbox(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

/// The argument of `RCPT TO`: a recipient.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath<'a> {
    /// `<Postmaster>` with no domain (any case): the postmaster of the server itself,
    /// which every server must accept (RFC 5321 section 4.5.1).
    Postmaster,
    /// A recipient mailbox. `<postmaster@domain>` is a mailbox like any other.
    Mailbox(Mailbox<'a>),
}

impl<'a> ForwardPath<'a> {
    /// Parses `<Postmaster>` or a bracketed path, with the RFC 5321 limits.
    pub fn parse(text: &'a str) -> Result<Self, AddressError> {
        match parse_path(text, &AddressLimits::RFC5321)? {
            ("", path) => path.into_forward(),
            _ => Err(AddressError::Syntax),
        }
    }

    /// The mailbox, unless the path is the bare postmaster.
    pub fn mailbox(&self) -> Option<&Mailbox<'a>> {
        match self {
            Self::Postmaster => None,
            Self::Mailbox(mailbox) => Some(mailbox),
        }
    }

    /// Whether the path is all ASCII.
    pub fn is_ascii(&self) -> bool {
        self.mailbox().is_none_or(Mailbox::is_ascii)
    }

    /// The same path, owning its text.
    pub fn into_owned(self) -> ForwardPath<'static> {
        match self {
            Self::Postmaster => ForwardPath::Postmaster,
            Self::Mailbox(mailbox) => ForwardPath::Mailbox(mailbox.into_owned()),
        }
    }
}

impl fmt::Display for ForwardPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postmaster => f.write_str("<Postmaster>"),
            Self::Mailbox(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

/// What is between the angle brackets of a path, before it is known to be a
/// reverse or a forward path.
pub(crate) enum Path<'a> {
    Null,
    Postmaster,
    Mailbox(Mailbox<'a>),
}

impl<'a> Path<'a> {
    #[inline]
    pub(crate) fn into_reverse(self) -> Result<ReversePath<'a>, AddressError> {
        match self {
            Path::Null => Ok(ReversePath::Null),
            // `<Postmaster>` has no `@`: it names a recipient, never a sender.
            Path::Postmaster => Err(AddressError::Syntax),
            Path::Mailbox(mailbox) => Ok(ReversePath::Mailbox(mailbox)),
        }
    }

    #[inline]
    pub(crate) fn into_forward(self) -> Result<ForwardPath<'a>, AddressError> {
        match self {
            Path::Null => Err(AddressError::Syntax),
            Path::Postmaster => Ok(ForwardPath::Postmaster),
            Path::Mailbox(mailbox) => Ok(ForwardPath::Mailbox(mailbox)),
        }
    }
}

/// Parses a bracketed path at the start of `text`, checks `limits`, and returns the
/// text after the closing `>`.
#[inline]
pub(crate) fn parse_path<'a>(text: &'a str, limits: &AddressLimits) -> Result<(&'a str, Path<'a>), AddressError> {
    let (path, end) = match plain_mailbox(text) {
        Some((mailbox, end)) => (Path::Mailbox(mailbox), end),
        None => scan_path(text)?,
    };
    if end > limits.path {
        return Err(AddressError::PathTooLong);
    }
    if let Path::Mailbox(mailbox) = &path {
        mailbox.check_lengths(limits)?;
    }
    // `end` is just past an ASCII `>`, a character boundary.
    Ok((&text[end..], path))
}

/// `Path`, `<>` or `<Postmaster>` at the start of `text` by the full grammar, and the
/// index after the closing `>`.
fn scan_path(text: &str) -> Result<(Path<'_>, usize), AddressError> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'<') {
        return Err(AddressError::Syntax);
    }
    Ok(match bytes.get(1) {
        Some(b'>') => (Path::Null, 2),
        _ if text.get(1..12).is_some_and(|word| word.eq_ignore_ascii_case("Postmaster>")) => (Path::Postmaster, 12),
        next => {
            // RFC 5321 Appendix C: a source route is accepted and ignored.
            let start = if next == Some(&b'@') { skip_source_route(bytes, 1)? } else { 1 };
            let (mailbox, end) = scan_mailbox(text, start)?;
            if bytes.get(end) != Some(&b'>') {
                return Err(AddressError::Syntax);
            }
            (Path::Mailbox(mailbox), end + 1)
        }
    })
}

/// [`plain_mailbox`] within `limits`: the mailbox of a path in the usual shape, and the
/// index after its `>`. `None` for any other path, even a valid one, and for one over
/// the limits: the full grammar ([`parse_path`]) reads those and says what is wrong.
#[inline]
pub(crate) fn plain_path<'a>(text: &'a str, limits: &AddressLimits) -> Option<(Mailbox<'a>, usize)> {
    let (mailbox, end) = plain_mailbox(text)?;
    (end <= limits.path && mailbox.check_lengths(limits).is_ok()).then_some((mailbox, end))
}

/// `<local@domain>` at the start of `text` with an ASCII dot-string and domain, the
/// shape of nearly every path, read eight bytes at a time ([`swar`]); the mailbox and
/// the index after `>`. `None` for any other text, which the full grammar then reads.
#[inline]
fn plain_mailbox(text: &str) -> Option<(Mailbox<'_>, usize)> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'<') {
        return None;
    }
    let at = swar::dot_string(bytes, 1)?;
    if bytes.get(at) != Some(&b'@') {
        return None;
    }
    let end = swar::domain(bytes, at + 1)?;
    if bytes.get(end) != Some(&b'>') {
        return None;
    }
    // `1` and `end` are just past `<` and at `>`, ASCII bytes: character boundaries. The
    // text is ASCII, so it holds no C1 control.
    let mailbox = text.get(1..end)?;
    Some((Mailbox { text: Cow::Borrowed(mailbox), at: at - 1 }, end + 1))
}

/// A mailbox without brackets (lenient `MAIL FROM:a@b`), all of `text`, checked.
pub(crate) fn parse_bare_mailbox<'a>(text: &'a str, limits: &AddressLimits) -> Result<Mailbox<'a>, AddressError> {
    // The path it stands for has brackets around it.
    if text.len() + 2 > limits.path {
        return Err(AddressError::PathTooLong);
    }
    Mailbox::parse_with(text, limits)
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )` at `text[start..]`; returns
/// it and the index after it. Lengths are left to [`Mailbox::check_lengths`].
#[inline]
fn scan_mailbox(text: &str, start: usize) -> Result<(Mailbox<'_>, usize), AddressError> {
    let bytes = text.as_bytes();
    let local_end = match bytes.get(start) {
        Some(b'"') => scan_quoted_string(bytes, start),
        _ => scan_dot_string(bytes, start),
    }
    .ok_or(AddressError::Syntax)?;
    if bytes.get(local_end) != Some(&b'@') {
        return Err(AddressError::Syntax);
    }
    let end = match bytes.get(local_end + 1) {
        Some(b'[') => scan_literal(text, local_end + 1)?.1,
        _ => scan_domain(bytes, local_end + 1, false)?,
    };
    // `start` and `end` sit at ASCII bytes or the text's end: character boundaries.
    let mailbox = &text[start..end];
    if chars::has_control(mailbox) {
        return Err(AddressError::Syntax);
    }
    Ok((Mailbox { text: Cow::Borrowed(mailbox), at: local_end - start }, end))
}

/// `Dot-string = Atom *("." Atom)` from `start`; the index after it.
#[inline]
fn scan_dot_string(bytes: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    loop {
        let atom = chars::span(bytes.get(pos..)?, ATEXT);
        if atom == 0 {
            return None;
        }
        pos += atom;
        if bytes.get(pos) != Some(&b'.') {
            return Some(pos);
        }
        pos += 1;
    }
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE` from `start` (at the opening quote).
fn scan_quoted_string(bytes: &[u8], start: usize) -> Option<usize> {
    let mut pos = start + 1;
    loop {
        match *bytes.get(pos)? {
            b'"' => return Some(pos + 1),
            // quoted-pairSMTP: a backslash and any printable ASCII character or space.
            b'\\' if matches!(bytes.get(pos + 1), Some(b' '..=b'~')) => pos += 2,
            byte if chars::is(byte, QTEXT) => pos += 1,
            _ => return None,
        }
    }
}

/// `Domain = sub-domain *("." sub-domain)` from `start`: labels of letters, digits and
/// hyphens (and UTF-8), not starting or ending with a hyphen, at most 63 octets each
/// (RFC 1035 section 2.3.4). Returns the index after the domain.
#[inline]
fn scan_domain(bytes: &[u8], start: usize, allow_underscore: bool) -> Result<usize, AddressError> {
    let label_chars = if allow_underscore { LDH | chars::UNDERSCORE } else { LDH };
    let mut pos = start;
    loop {
        let rest = bytes.get(pos..).unwrap_or_default();
        let len = chars::span(rest, label_chars);
        let label = &rest[..len];
        if label.first().is_none_or(|&b| b == b'-') || label.last() == Some(&b'-') {
            return Err(AddressError::Syntax);
        }
        if label.len() > MAX_LABEL {
            return Err(AddressError::DomainTooLong);
        }
        pos += len;
        if bytes.get(pos) != Some(&b'.') {
            return Ok(pos);
        }
        pos += 1;
    }
}

/// `"@" Domain *( "," "@" Domain ) ":"` from `start`; the index after the colon.
fn skip_source_route(bytes: &[u8], start: usize) -> Result<usize, AddressError> {
    let mut pos = start;
    loop {
        if bytes.get(pos) != Some(&b'@') {
            return Err(AddressError::Syntax);
        }
        pos = scan_domain(bytes, pos + 1, false)?;
        match bytes.get(pos) {
            Some(b',') => pos += 1,
            Some(b':') => return Ok(pos + 1),
            _ => return Err(AddressError::Syntax),
        }
    }
}

/// An address literal (RFC 5321 section 4.1.3) from `start` (at the `[`); it and the
/// index after the `]`.
fn scan_literal(text: &str, start: usize) -> Result<(AddressLiteral<'_>, usize), AddressError> {
    let bytes = text.as_bytes();
    if bytes.get(start) != Some(&b'[') {
        return Err(AddressError::Syntax);
    }
    let close = start + 1 + memchr(b']', bytes.get(start + 1..).unwrap_or_default()).ok_or(AddressError::Syntax)?;
    // `start + 1` and `close` are just past `[` and at `]`: character boundaries.
    let inner = &text[start + 1..close];
    let literal = match inner.get(..5) {
        // `get(..5)` found a boundary at 5.
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => inner[5..].parse().map(AddressLiteral::Ipv6).ok(),
        _ => inner.parse().map(AddressLiteral::Ipv4).ok().or_else(|| general_literal(inner)),
    };
    Ok((literal.ok_or(AddressError::Syntax)?, close + 1))
}

/// `General-address-literal = Standardized-tag ":" 1*dcontent`, the tag being an
/// `Ldh-str` other than `IPv6`.
fn general_literal(inner: &str) -> Option<AddressLiteral<'_>> {
    let (tag, content) = chars::split_once(inner, b':')?;
    let tag_ok = tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && tag.ends_with(|c: char| c.is_ascii_alphanumeric());
    let content_ok = chars::all(content.as_bytes(), DCONTENT);
    (tag_ok && content_ok && !tag.eq_ignore_ascii_case("IPv6"))
        .then_some(AddressLiteral::General(GeneralLiteral { tag: Cow::Borrowed(tag), content: Cow::Borrowed(content) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paths built from the bytes that matter to the grammar, short enough that every
    /// position lands at each place of an eight-byte word: mostly a local part, `@` and a
    /// domain from plausible pieces, with a stray byte now and then.
    fn random_path(state: &mut u64) -> String {
        const LOCAL: &[&str] = &["a", "Z", "0", "bob", "abcdefgh", ".", "-", "_", "+", "=", "!", "~", "{"];
        const DOMAIN: &[&str] = &["a", "Z", "9", "example", "org", "abcdefgh", "-", ".", "x-y"];
        const STRAY: &[&str] =
            &["..", "@", ">", "<", "\"", "\\", "[", "]", ":", ",", " ", "é", "\u{85}", "\x7f", "\x01", "_", "(", ";"];
        let mut next = || super::super::xorshift(state);
        let mut text = String::from("<");
        for pieces in [LOCAL, &["@"], DOMAIN] {
            let count = if pieces.len() == 1 { 1 } else { 1 + next() % 6 };
            for _ in 0..count {
                let pieces = if next() % 16 == 0 { STRAY } else { pieces };
                text.push_str(pieces[(next() % pieces.len() as u64) as usize]);
            }
        }
        if next() % 8 != 0 {
            text.push('>');
        }
        if next() % 2 == 0 {
            text.push_str(" SIZE=1");
        }
        text
    }

    /// The fast path answers only where the full grammar would give the same answer.
    #[test]
    fn the_plain_mailbox_fast_path_agrees_with_the_full_grammar() {
        let mut state = 0x9E37_79B9_7F4A_7C15;
        let mut fast = 0;
        for _ in 0..200_000 {
            let text = random_path(&mut state);
            let Some((mailbox, end)) = plain_mailbox(&text) else { continue };
            fast += 1;
            match scan_path(&text) {
                Ok((Path::Mailbox(full), full_end)) => {
                    assert_eq!((&mailbox, end), (&full, full_end), "{text:?}");
                }
                _ => panic!("the fast path took {text:?}, the grammar does not"),
            }
        }
        // Thousands of paths went the fast way, so the comparison meant something.
        assert!(fast > 10_000, "only {fast} fast paths");
    }

    /// A domain the eight-byte scan takes is one the grammar takes.
    #[test]
    fn the_domain_fast_path_agrees_with_the_full_grammar() {
        let mut state = 0x0123_4567_89AB_CDEF;
        let mut fast = 0;
        for _ in 0..100_000 {
            let path = random_path(&mut state);
            let Some(at) = path.find('@') else { continue };
            let text = path[at + 1..].trim_end_matches(" SIZE=1").trim_end_matches('>');
            if swar::domain(text.as_bytes(), 0) == Some(text.len()) {
                fast += 1;
                assert_eq!(scan_domain(text.as_bytes(), 0, false), Ok(text.len()), "{text:?}");
                assert!(!chars::has_control(text), "{text:?}");
            }
        }
        assert!(fast > 10_000, "only {fast} domains");
    }

    #[test]
    fn the_usual_paths_take_the_fast_path() {
        for path in ["<bob@example.org>", "<a.b-c+d=e_f@mx-1.example.co.uk>", "<x@y>"] {
            assert!(plain_mailbox(path).is_some(), "{path}");
        }
        for path in ["<\"a b\"@x>", "<@r:a@b>", "<a@[1.2.3.4]>", "<é@x>", "<Postmaster>", "<>", "<a@b"] {
            assert!(plain_mailbox(path).is_none(), "{path}");
        }
    }
}
