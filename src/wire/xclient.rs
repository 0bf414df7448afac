//! The attributes of Postfix's `XCLIENT` and `XFORWARD` commands.
//!
//! Both commands let a trusted SMTP client tell the server about *another* client: the
//! one a proxy or content filter stands in front of.
//!
//! * `XCLIENT` (Postfix XCLIENT_README) overrides what the server believes about the
//!   client for the rest of the session, access decisions included: "an authorized SMTP
//!   client test program needs the ability to override the SMTP server's idea of the
//!   SMTP client hostname, network address, and other client information, for the
//!   entire duration of an SMTP session."
//! * `XFORWARD` (Postfix XFORWARD_README) only changes what is logged for the next
//!   transaction: "an SMTP client may send information that overrides one or more
//!   client-related logging attributes."
//!
//! **A server must offer them to trusted peers only.** In the READMEs' words, "The
//! XCLIENT command changes audit trails and/or SMTP client access permissions. Use of
//! this command must be restricted to authorized SMTP clients", and "The XFORWARD
//! command changes audit trails. Use of this command must be restricted to authorized
//! clients." An untrusted client that may send `XCLIENT ADDR=...` picks its own IP
//! address for every IP-based rule.
//!
//! This module is the grammar only, with no state: [`ClientAttributes::parse`] reads the
//! arguments of one command, [`ClientAttributes::merge`] adds a later command's
//! attributes, and [`ClientAttributes::encode`] writes them as command lines.
//!
//! ```
//! use bytes::BytesMut;
//! use smtp_sansio::wire::{AttributeCommand, AttributeValue, ClientAttributes};
//!
//! let attributes = ClientAttributes::parse(
//!     "NAME=spike.porcupine.org ADDR=IPV6:2001:db8::25 PORT=4711 LOGIN=[UNAVAILABLE]",
//!     AttributeCommand::Xclient,
//! )
//! .unwrap();
//! assert_eq!(attributes.name, Some(AttributeValue::Value("spike.porcupine.org".into())));
//! assert_eq!(attributes.addr_ip(), Some("2001:db8::25".parse().unwrap()));
//! assert_eq!(attributes.port_number(), Some(4711));
//! assert_eq!(attributes.login, Some(AttributeValue::Unavailable));
//!
//! // A name the command does not define, or the same name twice, is refused.
//! assert!(ClientAttributes::parse("IDENT=abc", AttributeCommand::Xclient).is_err());
//! assert!(ClientAttributes::parse("NAME=a NAME=b", AttributeCommand::Xclient).is_err());
//!
//! let mut out = BytesMut::new();
//! attributes.encode(AttributeCommand::Xclient, &mut out).unwrap();
//! assert_eq!(
//!     &out[..],
//!     b"XCLIENT LOGIN=[UNAVAILABLE] PORT=4711 NAME=spike.porcupine.org ADDR=IPV6:2001:db8::25\r\n"
//! );
//! ```
//!
//! # The grammar, and the decisions the READMEs leave open
//!
//! XCLIENT_README: `xclient-command = XCLIENT 1*( SP attribute-name"="attribute-value )`,
//! `attribute-name = ( NAME | ADDR | PORT | PROTO | HELO | LOGIN | DESTADDR | DESTPORT )`,
//! `attribute-value = xtext`. XFORWARD_README: the same shape, with `attribute-name = (
//! NAME | ADDR | PORT | PROTO | HELO | IDENT | SOURCE )` (older copies of it leave out
//! `IDENT`, which Postfix's server takes: the message's identifier up-stream). Both say "Attribute values are
//! xtext encoded as per RFC 1891" (RFC 3461 section 4 since), and "Although command and
//! attribute names are shown in upper case, they are in fact case insensitive."
//!
//! * `REVERSE_NAME` is taken in `XCLIENT` too, though the README's grammar leaves it
//!   out: Postfix's server implements it and names it in its `XCLIENT` EHLO keyword.
//! * Attributes are separated by exactly one space (`SP`), as written; nothing else
//!   separates them, in strict or lenient parsing.
//! * xtext follows RFC 3461 section 4 to the letter: `xchar` is `!` to `~` but `+` and
//!   `=`, and `hexchar` is `+` with two *upper case* hexadecimal digits (`+0a` is
//!   refused). RFC 6533's UTF-8 form is not taken: the READMEs want ASCII.
//! * After decoding, a value must be 1 to 255 octets of `!` to `~`: XFORWARD_README,
//!   note 1, says "After xtext decoding, attribute values must not contain control
//!   characters, non-ASCII characters, whitespace", and this applies it to `XCLIENT`
//!   too, so that no value can put a CR, LF, NUL or space into a log line or a
//!   `Received:` field. An empty value is refused: "unknown" is `[UNAVAILABLE]`.
//! * "an attribute-value element must not be longer than 255 characters"
//!   (XFORWARD_README, note 1; XCLIENT_README, note 1, gives NAME and HELO the same
//!   length): the xtext as sent is at most 255 octets.
//! * `[UNAVAILABLE]` is taken for every attribute, and `[TEMPUNAVAIL]` for `XCLIENT`'s
//!   `NAME` and `REVERSE_NAME` only: the README gives it to NAME alone ("[TEMPUNAVAIL]
//!   when the lookup error condition was transient"), and a reverse name comes from the
//!   same kind of lookup. `XFORWARD_README` never names it. Both may be "specified in
//!   upper case, lower case or mixed case" (note 2 of XCLIENT_README), and are compared
//!   after decoding.
//! * `ADDR` (both READMEs) and `DESTADDR` (XCLIENT_README) are "a numerical IPv4
//!   network address, an IPv6 address prefixed with IPV6:, or [UNAVAILABLE]", the
//!   prefix in any case (older copies of XFORWARD_README allowed "a non-IP address"). An
//!   IPv6 address without the prefix is taken as well (it cannot be mistaken for
//!   anything else); the value keeps the address without the prefix, and encoding
//!   always writes the prefix.
//! * `PORT` and `DESTPORT` are 1 to 5 decimal digits, at most 65535.
//! * `PROTO` is `SMTP` or `ESMTP` (any case) in `XCLIENT` ("The PROTO attribute
//!   specifies either SMTP or ESMTP."), but in `XFORWARD` "an SMTP or non-SMTP protocol
//!   name of up to 64 characters".
//! * `SOURCE` is `LOCAL` or `REMOTE`, in any case.
//! * Values are kept as sent (after decoding): `esmtp` stays `esmtp`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::net::IpAddr;

use bytes::{BufMut, BytesMut};
use nom::branch::alt;
use nom::bytes::complete::{take_till, take_till1, take_while_m_n};
use nom::character::complete::{char, satisfy};
use nom::combinator::{all_consuming, map_opt};
use nom::multi::{many0, separated_list1};
use nom::sequence::{preceded, separated_pair};
use nom::{IResult, Parser};

use crate::error::{AttributeError, EncodeError};

/// The longest attribute value, as xtext on the wire (XFORWARD_README, note 1).
const MAX_VALUE: usize = 255;
/// The longest `XFORWARD` `PROTO` value (XFORWARD_README: "up to 64 characters").
const MAX_XFORWARD_PROTO: usize = 64;
/// The longest command line, CRLF included (RFC 5321 section 4.5.3.1.4).
const MAX_LINE: usize = 512;

const UNAVAILABLE: &str = "[UNAVAILABLE]";
const TEMPUNAVAIL: &str = "[TEMPUNAVAIL]";
const IPV6_PREFIX: &str = "IPV6:";

/// The value of one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttributeValue {
    /// A value, xtext-decoded: 1 to 255 octets of printable ASCII with no space. For
    /// `ADDR` and `DESTADDR`, the address without Postfix's `IPV6:` prefix.
    Value(String),
    /// `[UNAVAILABLE]`: the proxy does not know it.
    Unavailable,
    /// `[TEMPUNAVAIL]`: it could not be found out now (a DNS lookup failed for the
    /// time being). Only `XCLIENT`'s `NAME` and `REVERSE_NAME` take it.
    TempUnavailable,
}

impl AttributeValue {
    /// The value, if it is one and not `[UNAVAILABLE]` or `[TEMPUNAVAIL]`.
    pub fn value(&self) -> Option<&str> {
        match self {
            Self::Value(value) => Some(value),
            Self::Unavailable | Self::TempUnavailable => None,
        }
    }
}

/// Which command the attributes belong to: they allow different names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeCommand {
    /// `XCLIENT`: `NAME`, `REVERSE_NAME`, `ADDR`, `PORT`, `PROTO`, `HELO`, `LOGIN`,
    /// `DESTADDR` and `DESTPORT`.
    Xclient,
    /// `XFORWARD`: `NAME`, `ADDR`, `PORT`, `PROTO`, `HELO`, `IDENT` and `SOURCE`.
    Xforward,
}

impl AttributeCommand {
    /// The verb, in upper case.
    pub fn verb(self) -> &'static str {
        match self {
            Self::Xclient => "XCLIENT",
            Self::Xforward => "XFORWARD",
        }
    }
}

/// `XCLIENT`'s or `XFORWARD`'s attributes, each `None` when not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ClientAttributes {
    /// `NAME`: the client's hostname (not an address).
    pub name: Option<AttributeValue>,
    /// `REVERSE_NAME` (`XCLIENT` only): the hostname the client's address maps to in
    /// the DNS, before any forward check.
    pub reverse_name: Option<AttributeValue>,
    /// `ADDR`: the client's IPv4 or IPv6 address ([`ClientAttributes::addr_ip`]).
    pub addr: Option<AttributeValue>,
    /// `PORT`: the client's TCP port ([`ClientAttributes::port_number`]).
    pub port: Option<AttributeValue>,
    /// `PROTO`: `SMTP` or `ESMTP` for `XCLIENT`; any protocol name up to 64 octets for
    /// `XFORWARD`.
    pub proto: Option<AttributeValue>,
    /// `HELO`: the name the client gave in `HELO` or `EHLO`.
    pub helo: Option<AttributeValue>,
    /// `LOGIN` (`XCLIENT` only): the client's SASL login name.
    pub login: Option<AttributeValue>,
    /// `IDENT` (`XFORWARD` only): the message's identifier on the up-stream host.
    pub ident: Option<AttributeValue>,
    /// `SOURCE` (`XFORWARD` only): `LOCAL` or `REMOTE`, as seen by the up-stream host.
    pub source: Option<AttributeValue>,
    /// `DESTADDR` (`XCLIENT` only): the server address the client connected to
    /// ([`ClientAttributes::destaddr_ip`]).
    pub destaddr: Option<AttributeValue>,
    /// `DESTPORT` (`XCLIENT` only): the server port the client connected to
    /// ([`ClientAttributes::destport_number`]).
    pub destport: Option<AttributeValue>,
}

/// The attribute names, in the order [`ClientAttributes::encode`] writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Helo,
    Proto,
    Login,
    Ident,
    Source,
    DestAddr,
    DestPort,
    ReverseName,
    Port,
    Name,
    Addr,
}

impl Key {
    /// XCLIENT_README, note 1: "send NAME and ADDR last, after HELO and PROTO. Once ADDR
    /// is sent, the client is usually no longer authorized to send XCLIENT commands."
    const ALL: [Key; 11] = [
        Key::Helo,
        Key::Proto,
        Key::Login,
        Key::Ident,
        Key::Source,
        Key::DestAddr,
        Key::DestPort,
        Key::ReverseName,
        Key::Port,
        Key::Name,
        Key::Addr,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Key::Name => "NAME",
            Key::ReverseName => "REVERSE_NAME",
            Key::Addr => "ADDR",
            Key::Port => "PORT",
            Key::Proto => "PROTO",
            Key::Helo => "HELO",
            Key::Login => "LOGIN",
            Key::Ident => "IDENT",
            Key::Source => "SOURCE",
            Key::DestAddr => "DESTADDR",
            Key::DestPort => "DESTPORT",
        }
    }

    /// Whether `command` defines the attribute.
    fn defined_in(self, command: AttributeCommand) -> bool {
        match self {
            Key::Name | Key::Addr | Key::Port | Key::Proto | Key::Helo => true,
            Key::ReverseName | Key::Login | Key::DestAddr | Key::DestPort => command == AttributeCommand::Xclient,
            Key::Ident | Key::Source => command == AttributeCommand::Xforward,
        }
    }

    /// Whether the attribute may be `[TEMPUNAVAIL]`.
    fn takes_temp_unavailable(self, command: AttributeCommand) -> bool {
        command == AttributeCommand::Xclient && matches!(self, Key::Name | Key::ReverseName)
    }

    /// The attribute `command` defines under `word`, ignoring case.
    fn lookup(word: &str, command: AttributeCommand) -> Option<Key> {
        Self::ALL.into_iter().find(|name| name.defined_in(command) && word.eq_ignore_ascii_case(name.as_str()))
    }
}

impl ClientAttributes {
    /// Parses the arguments of an `XCLIENT` or `XFORWARD` command line: the text after
    /// the verb and one space.
    ///
    /// Names are case-insensitive, separated by single spaces; each value is xtext. The
    /// module documentation lists what each attribute takes.
    ///
    /// # Errors
    ///
    /// [`AttributeError::Empty`] for no attributes, [`AttributeError::Syntax`] for text
    /// that is not `NAME=value` pairs between single spaces,
    /// [`AttributeError::UnknownName`] for a name `command` does not define (Postfix
    /// answers `501`), [`AttributeError::Duplicate`] for a name given twice,
    /// [`AttributeError::TooLong`] for a value over 255 octets,
    /// [`AttributeError::BadXtext`] for a value that is not xtext, and
    /// [`AttributeError::BadValue`] for a decoded value the attribute does not take (a
    /// control character, a space, non-ASCII, an address that is not one, ...).
    pub fn parse(args: &str, command: AttributeCommand) -> Result<Self, AttributeError> {
        if args.is_empty() {
            return Err(AttributeError::Empty);
        }
        let (_, pairs) = attribute_list(args).map_err(|_| AttributeError::Syntax)?;
        let mut attributes = Self::default();
        for (word, raw) in pairs {
            let name = Key::lookup(word, command).ok_or(AttributeError::UnknownName)?;
            let slot = attributes.slot_mut(name);
            if slot.is_some() {
                return Err(AttributeError::Duplicate);
            }
            *slot = Some(parse_value(name, command, raw)?);
        }
        Ok(attributes)
    }

    /// Adds the attributes of a later command: each attribute `other` has replaces this
    /// one's, and the others are kept.
    ///
    /// This is what both READMEs describe for a sequence of commands: XFORWARD_README,
    /// "The client may send one or more XFORWARD requests" and "With each XFORWARD
    /// command, the server overwrites attributes with the specified attribute values
    /// [...] Attributes that are not specified in an XFORWARD command retain their
    /// current value"; XCLIENT_README, "To avoid exceeding the limit the client should
    /// send the information in multiple XCLIENT commands". An `[UNAVAILABLE]` in `other`
    /// replaces a value too. What the server does with the attributes (when `XFORWARD`
    /// ones are reset, what `XCLIENT` resets) is the session's business, not this one's.
    pub fn merge(&mut self, other: Self) {
        let Self { name, reverse_name, addr, port, proto, helo, login, ident, source, destaddr, destport } = other;
        for (slot, value) in [
            (&mut self.name, name),
            (&mut self.reverse_name, reverse_name),
            (&mut self.addr, addr),
            (&mut self.port, port),
            (&mut self.proto, proto),
            (&mut self.helo, helo),
            (&mut self.login, login),
            (&mut self.ident, ident),
            (&mut self.source, source),
            (&mut self.destaddr, destaddr),
            (&mut self.destport, destport),
        ] {
            if value.is_some() {
                *slot = value;
            }
        }
    }

    /// Writes the attributes as one or more command lines (`XCLIENT NAME=... ADDR=...`
    /// and its CRLF), xtext-encoding the values.
    ///
    /// Each line is at most 512 octets with its CRLF (RFC 5321 section 4.5.3.1.4: "The
    /// maximum total length of a command line including the command word and the
    /// `<CRLF>` is 512 octets"); attributes that do not fit one line go over several, as
    /// XCLIENT_README, note 1, asks ("the client should send the information in
    /// multiple XCLIENT commands"). `HELO` and `PROTO` come first and `NAME` and `ADDR`
    /// last, together on the last line: "send NAME and ADDR last, after HELO and PROTO.
    /// Once ADDR is sent, the client is usually no longer authorized to send XCLIENT
    /// commands." Parsing each line and merging the results ([`ClientAttributes::merge`])
    /// gives these attributes back.
    ///
    /// # Errors
    ///
    /// Nothing is written when there is no attribute, when an attribute `command` does
    /// not define is set, or when a value would not parse back the same: a control
    /// character ([`EncodeError::ControlCharacter`]), or a value the attribute does not
    /// take, an empty one, a space, non-ASCII, `[TEMPUNAVAIL]` where it is not allowed,
    /// a `Value` that spells `[UNAVAILABLE]`, or one over 255 octets once encoded
    /// ([`EncodeError::InvalidArgument`]).
    pub fn encode(&self, command: AttributeCommand, out: &mut BytesMut) -> Result<(), EncodeError> {
        let pieces = self.pieces(command)?;
        let verb = command.verb();
        // Room on one line for the pieces, each of which starts with its space. One piece
        // always fits: at most 1 + 13 ("REVERSE_NAME=") + 255 octets.
        let room = MAX_LINE - 2 - verb.len();
        // Lines are filled from the last one backwards, so that the last attributes
        // (`NAME` and `ADDR`) share the last line. `lines` holds the pieces' ranges, last
        // line first.
        let mut lines: Vec<(usize, usize)> = Vec::new();
        let mut end = pieces.len();
        let mut used = 0;
        for (index, piece) in pieces.iter().enumerate().rev() {
            if used > 0 && used + piece.len() > room {
                lines.push((index + 1, end));
                end = index + 1;
                used = 0;
            }
            used += piece.len();
        }
        lines.push((0, end));
        for &(start, end) in lines.iter().rev() {
            out.put_slice(verb.as_bytes());
            // `start..end` are in bounds: both come from `enumerate` over `pieces`, or
            // are its length, with `start <= end`.
            for piece in pieces.get(start..end).unwrap_or_default() {
                out.put_slice(piece.as_bytes());
            }
            out.put_slice(b"\r\n");
        }
        Ok(())
    }

    /// [`encode`](Self::encode)'s lines, each with its CRLF, one by one: for a client that
    /// sends them one at a time.
    pub(crate) fn encode_lines(
        &self,
        command: AttributeCommand,
    ) -> Result<alloc::collections::VecDeque<bytes::Bytes>, EncodeError> {
        let mut lines = BytesMut::new();
        self.encode(command, &mut lines)?;
        let mut lines = lines.freeze();
        let mut each = alloc::collections::VecDeque::new();
        // A value holds no CR or LF (it is xtext of printable ASCII): every CRLF ends a line.
        while let Some(end) = memchr::memmem::find(&lines, b"\r\n") {
            each.push_back(lines.split_to(end + 2));
        }
        Ok(each)
    }

    /// The attributes that can go on the wire for `command` each on its own (a value
    /// with a space or a control character cannot), the others left out.
    pub(crate) fn encodable(&self, command: AttributeCommand) -> Self {
        let mut kept = Self::default();
        for name in Key::ALL {
            let Some(value) = self.slot(name) else { continue };
            let mut alone = Self::default();
            *alone.slot_mut(name) = Some(value.clone());
            if alone.encode(command, &mut BytesMut::new()).is_ok() {
                *kept.slot_mut(name) = Some(value.clone());
            }
        }
        kept
    }

    /// The attributes `command` defines whose names are in `names` (in any case), the
    /// others left out: what a client sends to a server whose `EHLO` keyword lists
    /// `names` (Postfix's `smtp` client sends only the attributes the server lists).
    pub(crate) fn listed(&self, command: AttributeCommand, names: &[String]) -> Self {
        let mut kept = Self::default();
        for name in Key::ALL {
            if name.defined_in(command) && names.iter().any(|listed| listed.eq_ignore_ascii_case(name.as_str())) {
                *kept.slot_mut(name) = self.slot(name).cloned();
            }
        }
        kept
    }

    /// Writes ` NAME=value` for each attribute, all on one line, for
    /// [`Command::encode`](crate::Command::encode) and its `Display`.
    pub(crate) fn write_args(&self, command: AttributeCommand, out: &mut BytesMut) -> Result<(), EncodeError> {
        for piece in self.pieces(command)? {
            out.put_slice(piece.as_bytes());
        }
        Ok(())
    }

    /// ` NAME=xtext` for each attribute, in [`Key::ALL`]'s order; an error if there is
    /// none or one cannot be written.
    fn pieces(&self, command: AttributeCommand) -> Result<Vec<String>, EncodeError> {
        let mut pieces = Vec::new();
        for name in Key::ALL {
            let Some(value) = self.slot(name) else { continue };
            if !name.defined_in(command) {
                return Err(EncodeError::InvalidArgument);
            }
            let encoded = encode_value(name, command, value)?;
            let mut piece = String::with_capacity(2 + name.as_str().len() + encoded.len());
            piece.push(' ');
            piece.push_str(name.as_str());
            piece.push('=');
            piece.push_str(&encoded);
            pieces.push(piece);
        }
        if pieces.is_empty() {
            return Err(EncodeError::InvalidArgument);
        }
        Ok(pieces)
    }

    /// `ADDR` as an IP address, when it is a value.
    pub fn addr_ip(&self) -> Option<IpAddr> {
        ip_of(self.addr.as_ref())
    }

    /// `PORT` as a number, when it is a value.
    pub fn port_number(&self) -> Option<u16> {
        port_of(self.port.as_ref())
    }

    /// `DESTADDR` as an IP address, when it is a value.
    pub fn destaddr_ip(&self) -> Option<IpAddr> {
        ip_of(self.destaddr.as_ref())
    }

    /// `DESTPORT` as a number, when it is a value.
    pub fn destport_number(&self) -> Option<u16> {
        port_of(self.destport.as_ref())
    }

    fn slot(&self, name: Key) -> Option<&AttributeValue> {
        match name {
            Key::Name => self.name.as_ref(),
            Key::ReverseName => self.reverse_name.as_ref(),
            Key::Addr => self.addr.as_ref(),
            Key::Port => self.port.as_ref(),
            Key::Proto => self.proto.as_ref(),
            Key::Helo => self.helo.as_ref(),
            Key::Login => self.login.as_ref(),
            Key::Ident => self.ident.as_ref(),
            Key::Source => self.source.as_ref(),
            Key::DestAddr => self.destaddr.as_ref(),
            Key::DestPort => self.destport.as_ref(),
        }
    }

    fn slot_mut(&mut self, name: Key) -> &mut Option<AttributeValue> {
        match name {
            Key::Name => &mut self.name,
            Key::ReverseName => &mut self.reverse_name,
            Key::Addr => &mut self.addr,
            Key::Port => &mut self.port,
            Key::Proto => &mut self.proto,
            Key::Helo => &mut self.helo,
            Key::Login => &mut self.login,
            Key::Ident => &mut self.ident,
            Key::Source => &mut self.source,
            Key::DestAddr => &mut self.destaddr,
            Key::DestPort => &mut self.destport,
        }
    }
}

fn ip_of(value: Option<&AttributeValue>) -> Option<IpAddr> {
    value?.value()?.parse().ok()
}

fn port_of(value: Option<&AttributeValue>) -> Option<u16> {
    value?.value()?.parse().ok()
}

// ---------------------------------------------------------------------------------
// The grammar, in nom
// ---------------------------------------------------------------------------------

/// `attribute-name "=" attribute-value`, split but not checked: the name is anything up
/// to `=` (so that an unknown one is told apart from a malformed pair), the value
/// anything up to the next space.
fn attribute(input: &str) -> IResult<&str, (&str, &str)> {
    separated_pair(take_till1(|c: char| c == '=' || c == ' '), char('='), take_till(|c: char| c == ' ')).parse(input)
}

/// `1*( SP attribute )` after the verb and its space: attributes between single spaces,
/// and nothing else.
fn attribute_list(input: &str) -> IResult<&str, Vec<(&str, &str)>> {
    all_consuming(separated_list1(char(' '), attribute)).parse(input)
}

/// RFC 3461 section 4: `hexchar = ASCII "+" immediately followed by two upper case
/// hexadecimal digits`.
fn hexchar(input: &str) -> IResult<&str, u8> {
    let digits = take_while_m_n(2, 2, |c: char| matches!(c, '0'..='9' | 'A'..='F'));
    map_opt(preceded(char('+'), digits), |hex: &str| u8::from_str_radix(hex, 16).ok()).parse(input)
}

/// RFC 3461 section 4: `xchar = any ASCII CHAR between "!" (33) and "~" (126)
/// inclusive, except for "+" and "="`.
fn xchar(input: &str) -> IResult<&str, u8> {
    map_opt(satisfy(|c| matches!(c, '!'..='~') && c != '+' && c != '='), |c| u8::try_from(c).ok()).parse(input)
}

/// RFC 3461 section 4: `xtext = *( xchar / hexchar )`, decoded.
fn xtext(input: &str) -> IResult<&str, Vec<u8>> {
    all_consuming(many0(alt((hexchar, xchar)))).parse(input)
}

/// One attribute's value, from its xtext.
fn parse_value(name: Key, command: AttributeCommand, raw: &str) -> Result<AttributeValue, AttributeError> {
    if raw.len() > MAX_VALUE {
        return Err(AttributeError::TooLong);
    }
    let (_, decoded) = xtext(raw).map_err(|_| AttributeError::BadXtext)?;
    // Anything outside ASCII is refused below in any case.
    let decoded = String::from_utf8(decoded).map_err(|_| AttributeError::BadValue)?;
    if decoded.eq_ignore_ascii_case(UNAVAILABLE) {
        return Ok(AttributeValue::Unavailable);
    }
    if decoded.eq_ignore_ascii_case(TEMPUNAVAIL) {
        return match name.takes_temp_unavailable(command) {
            true => Ok(AttributeValue::TempUnavailable),
            false => Err(AttributeError::BadValue),
        };
    }
    check_value(name, command, &decoded).map(|value| AttributeValue::Value(value.into()))
}

/// Checks a decoded value (not a special one) against its attribute, and gives what is
/// kept of it: all of it, or an address without its `IPV6:` prefix.
fn check_value(name: Key, command: AttributeCommand, value: &str) -> Result<&str, AttributeError> {
    // XFORWARD_README, note 1: no control characters, non-ASCII or whitespace.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AttributeError::BadValue);
    }
    let fits = match name {
        Key::Addr | Key::DestAddr => return address(value).ok_or(AttributeError::BadValue),
        Key::Port | Key::DestPort => is_port(value),
        Key::Proto => match command {
            AttributeCommand::Xclient => value.eq_ignore_ascii_case("SMTP") || value.eq_ignore_ascii_case("ESMTP"),
            AttributeCommand::Xforward => value.len() <= MAX_XFORWARD_PROTO,
        },
        Key::Source => value.eq_ignore_ascii_case("LOCAL") || value.eq_ignore_ascii_case("REMOTE"),
        Key::Name | Key::ReverseName | Key::Helo | Key::Login | Key::Ident => true,
    };
    match fits {
        true => Ok(value),
        false => Err(AttributeError::BadValue),
    }
}

/// An IPv4 address, or an IPv6 one with or without `IPV6:` (in any case): the address
/// without the prefix.
fn address(value: &str) -> Option<&str> {
    let bare = match value.get(..IPV6_PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(IPV6_PREFIX) => {
            let bare = value.get(IPV6_PREFIX.len()..)?;
            return bare.parse::<core::net::Ipv6Addr>().is_ok().then_some(bare);
        }
        _ => value,
    };
    bare.parse::<IpAddr>().is_ok().then_some(bare)
}

/// 1 to 5 decimal digits, at most 65535.
fn is_port(value: &str) -> bool {
    (1..=5).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) && value.parse::<u16>().is_ok()
}

/// The xtext of one value, checked to parse back to the same value.
fn encode_value(name: Key, command: AttributeCommand, value: &AttributeValue) -> Result<String, EncodeError> {
    let text = match value {
        AttributeValue::Unavailable => return Ok(UNAVAILABLE.into()),
        AttributeValue::TempUnavailable if name.takes_temp_unavailable(command) => return Ok(TEMPUNAVAIL.into()),
        AttributeValue::TempUnavailable => return Err(EncodeError::InvalidArgument),
        AttributeValue::Value(text) => text,
    };
    if text.chars().any(char::is_control) {
        return Err(EncodeError::ControlCharacter);
    }
    // A value that spells a special one would come back as that special value.
    if text.eq_ignore_ascii_case(UNAVAILABLE) || text.eq_ignore_ascii_case(TEMPUNAVAIL) {
        return Err(EncodeError::InvalidArgument);
    }
    let mut wire = String::with_capacity(IPV6_PREFIX.len() + text.len());
    if matches!(name, Key::Addr | Key::DestAddr) && text.parse::<core::net::Ipv6Addr>().is_ok() {
        wire.push_str(IPV6_PREFIX);
    }
    wire.push_str(text);
    // Only what parses back to the same value is written.
    if check_value(name, command, &wire) != Ok(text.as_str()) {
        return Err(EncodeError::InvalidArgument);
    }
    let encoded = encode_xtext(&wire);
    match encoded.len() <= MAX_VALUE {
        true => Ok(encoded),
        false => Err(EncodeError::InvalidArgument),
    }
}

/// RFC 3461 section 4: `xchar`s as themselves, every other octet as `+` and two upper
/// case hexadecimal digits.
fn encode_xtext(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'!'..=b'~' if byte != b'+' && byte != b'=' => encoded.push(char::from(byte)),
            // Writing into a String cannot fail.
            _ => drop(write!(encoded, "+{byte:02X}")),
        }
    }
    encoded
}
