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

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while1};
use nom::character::complete::{char, satisfy};
use nom::combinator::{map, map_res, opt, recognize, verify};
use nom::multi::many0_count;
use nom::{IResult, Parser};

pub use crate::error::AddressError;

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
        if text.len() > max_len {
            return Err(AddressError::DomainTooLong);
        }
        for label in text.split('.') {
            let bytes = label.as_bytes();
            let valid_char =
                |c: char| c.is_ascii_alphanumeric() || c == '-' || is_utf8_text(c) || (allow_underscore && c == '_');
            // Both indexings follow the emptiness check.
            if bytes.is_empty() || bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' || !label.chars().all(valid_char)
            {
                return Err(AddressError::Syntax);
            }
            if bytes.len() > MAX_LABEL {
                return Err(AddressError::DomainTooLong);
            }
        }
        Ok(Self(Cow::Borrowed(text)))
    }

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
        complete(address_literal, text)
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalPart<'a>(Cow<'a, str>);

impl LocalPart<'_> {
    /// The local part as written on the wire, quotes and backslashes included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is a quoted string.
    pub fn is_quoted(&self) -> bool {
        self.0.starts_with('"')
    }

    /// The value: for a quoted string, the text between the quotes with each
    /// backslash escape undone; otherwise the dot-string itself.
    pub fn value(&self) -> Cow<'_, str> {
        let Some(inner) = self.0.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
            return Cow::Borrowed(&self.0);
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
        f.write_str(&self.0)
    }
}

/// A mailbox, `local-part@host`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox<'a> {
    local_part: LocalPart<'a>,
    host: Host<'a>,
}

impl<'a> Mailbox<'a> {
    /// Parses a mailbox without angle brackets, such as `"john doe"@example.com`,
    /// with the RFC 5321 limits.
    pub fn parse(text: &'a str) -> Result<Self, AddressError> {
        let mailbox = Self::parse_unchecked(text)?;
        mailbox.check(&AddressLimits::RFC5321)?;
        Ok(mailbox)
    }

    /// The local part.
    pub fn local_part(&self) -> &LocalPart<'a> {
        &self.local_part
    }

    /// The domain or address literal after `@`.
    pub fn host(&self) -> &Host<'a> {
        &self.host
    }

    /// Whether the mailbox is all ASCII. A non-ASCII mailbox needs `SMTPUTF8`.
    pub fn is_ascii(&self) -> bool {
        self.local_part.0.is_ascii() && self.host.is_ascii()
    }

    /// The same mailbox, owning its text.
    pub fn into_owned(self) -> Mailbox<'static> {
        Mailbox { local_part: LocalPart(Cow::Owned(self.local_part.0.into_owned())), host: self.host.into_owned() }
    }

    /// Checks the limits, and the domain's label rules, which the grammar below leaves
    /// to this one pass.
    pub(crate) fn check(&self, limits: &AddressLimits) -> Result<(), AddressError> {
        if self.local_part.0.len() > limits.local_part {
            return Err(AddressError::LocalPartTooLong);
        }
        if let Host::Domain(domain) = &self.host {
            Domain::parse_with(domain.as_str(), limits.domain, false)?;
        }
        Ok(())
    }

    /// A mailbox from the grammar, before [`Mailbox::check`].
    pub(crate) fn parse_unchecked(text: &'a str) -> Result<Self, AddressError> {
        complete(mailbox, text)
    }
}

impl fmt::Display for Mailbox<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part, self.host)
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
    pub(crate) fn into_reverse(self) -> Result<ReversePath<'a>, AddressError> {
        match self {
            Path::Null => Ok(ReversePath::Null),
            // `<Postmaster>` has no `@`: it names a recipient, never a sender.
            Path::Postmaster => Err(AddressError::Syntax),
            Path::Mailbox(mailbox) => Ok(ReversePath::Mailbox(mailbox)),
        }
    }

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
pub(crate) fn parse_path<'a>(text: &'a str, limits: &AddressLimits) -> Result<(&'a str, Path<'a>), AddressError> {
    let (rest, path) = bracketed_path(text).map_err(|_| AddressError::Syntax)?;
    if text.len() - rest.len() > limits.path {
        return Err(AddressError::PathTooLong);
    }
    if let Path::Mailbox(mailbox) = &path {
        mailbox.check(limits)?;
    }
    Ok((rest, path))
}

/// Runs `parser` over all of `text`.
fn complete<'a, T>(parser: impl Fn(&'a str) -> IResult<&'a str, T>, text: &'a str) -> Result<T, AddressError> {
    match parser(text) {
        Ok(("", value)) => Ok(value),
        _ => Err(AddressError::Syntax),
    }
}

/// RFC 6531 `UTF8-non-ascii`, less the C1 controls.
fn is_utf8_text(c: char) -> bool {
    !c.is_ascii() && !c.is_control()
}

/// RFC 5322 `atext`, with RFC 6531's UTF-8.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || is_utf8_text(c)
}

/// RFC 5321 `qtextSMTP`: printable ASCII and space, less `"` and `\`; with UTF-8.
fn is_qtext(c: char) -> bool {
    matches!(c, ' '..='~') && c != '"' && c != '\\' || is_utf8_text(c)
}

fn dot_string(input: &str) -> IResult<&str, &str> {
    recognize((take_while1(is_atext), many0_count((char('.'), take_while1(is_atext))))).parse(input)
}

fn quoted_string(input: &str) -> IResult<&str, &str> {
    let quoted_pair = (char('\\'), satisfy(|c| matches!(c, ' '..='~')));
    let content = many0_count(alt((take_while1(is_qtext), recognize(quoted_pair))));
    recognize((char('"'), content, char('"'))).parse(input)
}

fn local_part(input: &str) -> IResult<&str, LocalPart<'_>> {
    map(alt((dot_string, quoted_string)), |text| LocalPart(Cow::Borrowed(text))).parse(input)
}

/// A domain's characters; [`Mailbox::check`] checks the label rules and the length
/// after, so that a mailbox is validated in one pass.
fn domain(input: &str) -> IResult<&str, Domain<'_>> {
    let domain_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || is_utf8_text(c);
    map(take_while1(domain_char), |text| Domain(Cow::Borrowed(text))).parse(input)
}

fn ldh_str(input: &str) -> IResult<&str, &str> {
    verify(take_while1(|c: char| c.is_ascii_alphanumeric() || c == '-'), |s: &str| !s.ends_with('-')).parse(input)
}

fn address_literal(input: &str) -> IResult<&str, AddressLiteral<'_>> {
    let ipv6 = map_res(
        (tag_no_case("IPv6:"), take_while1(|c: char| c.is_ascii_hexdigit() || c == ':' || c == '.')),
        |(_, text): (&str, &str)| text.parse::<Ipv6Addr>().map(AddressLiteral::Ipv6),
    );
    let ipv4 = map_res(take_while1(|c: char| c.is_ascii_digit() || c == '.'), |text: &str| {
        text.parse::<Ipv4Addr>().map(AddressLiteral::Ipv4)
    });
    let dcontent = |c: char| matches!(c, '!'..='Z' | '^'..='~');
    let general = map(
        (verify(ldh_str, |tag: &str| !tag.eq_ignore_ascii_case("IPv6")), char(':'), take_while1(dcontent)),
        |(tag, _, content)| {
            AddressLiteral::General(GeneralLiteral { tag: Cow::Borrowed(tag), content: Cow::Borrowed(content) })
        },
    );
    (char('['), alt((ipv6, ipv4, general)), char(']')).map(|(_, literal, _)| literal).parse(input)
}

fn host(input: &str) -> IResult<&str, Host<'_>> {
    alt((map(address_literal, Host::Literal), map(domain, Host::Domain))).parse(input)
}

fn mailbox(input: &str) -> IResult<&str, Mailbox<'_>> {
    map((local_part, char('@'), host), |(local_part, _, host)| Mailbox { local_part, host }).parse(input)
}

/// `A-d-l ":"`: a source route, which RFC 5321 Appendix C says to accept and ignore.
fn source_route(input: &str) -> IResult<&str, ()> {
    let at_domain = || (char('@'), domain);
    map((at_domain(), many0_count((char(','), at_domain())), char(':')), |_| ()).parse(input)
}

fn bracketed_path(input: &str) -> IResult<&str, Path<'_>> {
    let null = map(tag("<>"), |_| Path::Null);
    let postmaster = map(tag_no_case("<Postmaster>"), |_| Path::Postmaster);
    let mailbox_path =
        map((char('<'), opt(source_route), mailbox, char('>')), |(_, _, mailbox, _)| Path::Mailbox(mailbox));
    alt((null, postmaster, mailbox_path)).parse(input)
}
