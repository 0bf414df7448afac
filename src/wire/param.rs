//! ESMTP parameters of `MAIL FROM` and `RCPT TO` (RFC 5321 section 4.1.2
//! `esmtp-param`), typed for the extensions this crate knows and kept verbatim for
//! the rest.
//!
//! ```text
//! esmtp-param   = esmtp-keyword ["=" esmtp-value]
//! esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//! esmtp-value   = 1*(%d33-60 / %d62-126)      ; RFC 6531 adds UTF-8
//! ```

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use super::chars::{self, ESMTP_VALUE, KEYWORD};
use super::swar;
use crate::error::ParseError;

/// `BODY=` (RFC 6152, RFC 3030): what the message body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyType {
    /// `7BIT`: lines of US-ASCII.
    SevenBit,
    /// `8BITMIME`: lines that may hold octets above 127 (RFC 6152).
    EightBitMime,
    /// `BINARYMIME`: any octets, sent with `BDAT` only (RFC 3030 section 3).
    BinaryMime,
}

impl BodyType {
    /// The keyword value, as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SevenBit => "7BIT",
            Self::EightBitMime => "8BITMIME",
            Self::BinaryMime => "BINARYMIME",
        }
    }
}

/// `RET=` (RFC 3461 section 4.3): how much of the message a failure notice returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `FULL`: the whole message.
    Full,
    /// `HDRS`: the header section only.
    Headers,
}

/// `NOTIFY=` (RFC 3461 section 4.1): which delivery status notifications to send.
/// All three false is `NOTIFY=NEVER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Notify {
    /// `SUCCESS`.
    pub success: bool,
    /// `FAILURE`.
    pub failure: bool,
    /// `DELAY`.
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: Self = Self { success: false, failure: false, delay: false };

    /// Whether this is `NEVER`.
    pub fn is_never(self) -> bool {
        self == Self::NEVER
    }
}

/// `BY=` (RFC 2852): deliver within a time, or else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliverBy {
    /// Seconds from now; negative only with [`ByMode::Notify`] (RFC 2852 section 4).
    pub seconds: i32,
    /// What to do when the time passes.
    pub mode: ByMode,
    /// `T`: trace the delivery with a DSN.
    pub trace: bool,
}

/// The `by-mode` of a [`DeliverBy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByMode {
    /// `N`: send a delay notice, keep trying.
    Notify,
    /// `R`: return the message as undeliverable.
    Return,
}

/// `HOLDFOR=` or `HOLDUNTIL=` (RFC 4865): release the message later.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Hold<'a> {
    /// `HOLDFOR=seconds`.
    For(u64),
    /// `HOLDUNTIL=date-time`, an RFC 3339 timestamp kept as written.
    Until(Cow<'a, str>),
}

/// Text in RFC 3461 section 4 `xtext`: printable ASCII with `+`, `=` and anything else
/// written as `+HH`. Held in its encoded form, exactly as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XText<'a>(Cow<'a, str>);

impl<'a> XText<'a> {
    /// Checks `encoded` is valid xtext (RFC 6533's UTF-8 is allowed too).
    pub fn parse(encoded: &'a str) -> Option<Self> {
        // `xchar` is printable ASCII less `+` and `=`; a `+` starts `hexchar`, `+HH`.
        let bytes = encoded.as_bytes();
        if !chars::all(bytes, ESMTP_VALUE) || chars::has_control(encoded) {
            return None;
        }
        Self::parse_value(encoded)
    }

    /// [`XText::parse`] for a parameter value, which the parameter grammar has checked
    /// to be `esmtp-value` without control characters: only the `+HH` escapes are left.
    fn parse_value(encoded: &'a str) -> Option<Self> {
        // The grammar checked a whole value, but an `ORCPT` address is only the part
        // after its `;`, which may be empty: xtext is never empty.
        if encoded.is_empty() {
            return None;
        }
        let mut rest = encoded.as_bytes();
        while let Some(plus) = memchr::memchr(b'+', rest) {
            let hex = rest.get(plus + 1..plus + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            rest = &rest[plus + 3..];
        }
        Some(Self(Cow::Borrowed(encoded)))
    }

    /// Encodes arbitrary octets as xtext.
    pub fn encode(value: &[u8]) -> XText<'static> {
        let mut encoded = alloc::string::String::with_capacity(value.len());
        for &byte in value {
            match byte {
                b'!'..=b'~' if byte != b'+' && byte != b'=' => encoded.push(char::from(byte)),
                // Writing into a String cannot fail.
                _ => drop(write!(encoded, "+{byte:02X}")),
            }
        }
        XText(Cow::Owned(encoded))
    }

    /// The encoded form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The decoded octets.
    pub fn decode(&self) -> Cow<'_, [u8]> {
        if !self.0.contains('+') {
            return Cow::Borrowed(self.0.as_bytes());
        }
        let bytes = self.0.as_bytes();
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut index = 0;
        while let Some(&byte) = bytes.get(index) {
            // `parse` checked that two hex digits follow every `+`.
            let pair =
                bytes.get(index + 1..index + 3).and_then(|hex| Some(hex_value(hex[0])? << 4 | hex_value(hex[1])?));
            match (byte, pair) {
                (b'+', Some(value)) => {
                    decoded.push(value);
                    index += 3;
                }
                _ => {
                    decoded.push(byte);
                    index += 1;
                }
            }
        }
        Cow::Owned(decoded)
    }

    /// The same text, owned.
    pub fn into_owned(self) -> XText<'static> {
        XText(Cow::Owned(self.0.into_owned()))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    // A hex digit is at most 15, so it fits a u8.
    char::from(digit).to_digit(16).map(|value| value as u8)
}

impl fmt::Display for XText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `ORCPT=` (RFC 3461 section 4.2): the original recipient, `addr-type;xtext`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Orcpt<'a> {
    address_type: Cow<'a, str>,
    address: XText<'a>,
}

impl<'a> Orcpt<'a> {
    /// An original recipient of the given type (`rfc822`, `utf-8`, ...). `None` when
    /// the type is not an atom.
    pub fn new(address_type: impl Into<Cow<'a, str>>, address: XText<'a>) -> Option<Self> {
        let address_type = address_type.into();
        let is_atom = address_type.is_ascii() && chars::all(address_type.as_bytes(), chars::ATEXT);
        is_atom.then_some(Self { address_type, address })
    }

    /// The address type, such as `rfc822`.
    pub fn address_type(&self) -> &str {
        &self.address_type
    }

    /// The address, in xtext.
    pub fn address(&self) -> &XText<'a> {
        &self.address
    }

    fn parse(value: &'a str) -> Option<Self> {
        let (address_type, address) = chars::split_once(value, b';')?;
        Self::new(address_type, XText::parse_value(address)?)
    }

    fn into_owned(self) -> Orcpt<'static> {
        Orcpt { address_type: Cow::Owned(self.address_type.into_owned()), address: self.address.into_owned() }
    }
}

/// A parameter this crate has no type for, kept as it came.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Parameter<'a> {
    /// The keyword, in the case it was written in.
    pub keyword: Cow<'a, str>,
    /// The value after `=`, if there was one.
    pub value: Option<Cow<'a, str>>,
}

impl Parameter<'_> {
    fn into_owned(self) -> Parameter<'static> {
        Parameter {
            keyword: Cow::Owned(self.keyword.into_owned()),
            value: self.value.map(|v| Cow::Owned(v.into_owned())),
        }
    }

    /// Whether the keyword and value fit the `esmtp-param` grammar.
    pub(crate) fn is_valid(&self) -> bool {
        is_param(&self.keyword, self.value.as_deref())
    }
}

/// `esmtp-keyword ["=" esmtp-value]`, the value free of C1 controls.
fn is_param(keyword: &str, value: Option<&str>) -> bool {
    let keyword = keyword.as_bytes();
    let keyword_ok = keyword.first().is_some_and(u8::is_ascii_alphanumeric) && chars::all(keyword, KEYWORD);
    keyword_ok && value.is_none_or(|value| chars::all(value.as_bytes(), ESMTP_VALUE) && !chars::has_control(value))
}

/// The parameters of `MAIL FROM`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MailParameters<'a> {
    /// `SIZE=` (RFC 1870): the declared message size in octets.
    pub size: Option<u64>,
    /// `BODY=` (RFC 6152, RFC 3030).
    pub body: Option<BodyType>,
    /// `SMTPUTF8` (RFC 6531): the transaction may use UTF-8 addresses and headers.
    pub smtputf8: bool,
    /// `RET=` (RFC 3461).
    pub ret: Option<Ret>,
    /// `ENVID=` (RFC 3461): the sender's envelope identifier.
    pub envid: Option<XText<'a>>,
    /// `AUTH=` (RFC 4954 section 5): the authenticated submitter, or `<>`.
    pub auth: Option<XText<'a>>,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// `MT-PRIORITY=` (RFC 6710): from -9 to 9.
    pub mt_priority: Option<i8>,
    /// `HOLDFOR=` or `HOLDUNTIL=` (RFC 4865).
    pub hold: Option<Hold<'a>>,
    /// `BY=` (RFC 2852).
    pub by: Option<DeliverBy>,
    /// Every other parameter, in the order given.
    pub other: Vec<Parameter<'a>>,
}

/// The parameters of `RCPT TO`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RcptParameters<'a> {
    /// `NOTIFY=` (RFC 3461).
    pub notify: Option<Notify>,
    /// `ORCPT=` (RFC 3461).
    pub orcpt: Option<Orcpt<'a>>,
    /// Every other parameter, in the order given.
    pub other: Vec<Parameter<'a>>,
}

/// Walks the parameters in the text after a path, checking each against the
/// `esmtp-param` grammar as it is split off: one pass over the text.
///
/// Strict mode takes parameters separated by exactly one space; lenient mode takes any
/// number of spaces.
struct Params<'a> {
    text: &'a str,
    pos: usize,
    strict: bool,
    /// A space was just passed, so a parameter must follow (the caller saw one before
    /// `text`).
    expect_param: bool,
}

impl<'a> Params<'a> {
    fn new(text: &'a str, strict: bool) -> Self {
        Self { text, pos: 0, strict, expect_param: true }
    }

    /// The next parameter, `None` at the end.
    #[inline(always)]
    fn next(&mut self) -> Result<Option<Param<'a>>, ParseError> {
        let bytes = self.text.as_bytes();
        if !self.strict {
            self.pos += bytes[self.pos..].iter().take_while(|&&b| b == b' ').count();
            self.expect_param = false;
        }
        if self.pos == bytes.len() && !self.expect_param {
            return Ok(None);
        }
        let (param, space_after) = next_param(self.text, &mut self.pos)?;
        self.expect_param = space_after;
        Ok(Some(param))
    }
}

/// One `esmtp-param` as [`Params`] hands it out.
struct Param<'a> {
    keyword: &'a str,
    /// The keyword's [`chars::key`], to match it with one comparison.
    key: u128,
    value: Option<&'a str>,
}

/// One `esmtp-param` at `text[*pos..]` and the space after it, if there is one: its
/// keyword and the keyword's key, its value, and whether a space followed. ASCII is
/// read eight bytes at a time; a value with UTF-8 in it (RFC 6531) byte by byte.
#[inline]
fn next_param<'a>(text: &'a str, pos: &mut usize) -> Result<(Param<'a>, bool), ParseError> {
    let bytes = text.as_bytes();
    let start = *pos;
    if !bytes.get(start).is_some_and(u8::is_ascii_alphanumeric) {
        return Err(ParseError::InvalidArguments);
    }
    let keyword_end = swar::keyword(bytes, start);
    let (value, end) = match bytes.get(keyword_end) {
        Some(b'=') => {
            let value_start = keyword_end + 1;
            let mut value_end = swar::value(bytes, value_start);
            let utf8 = bytes.get(value_end).is_some_and(|&b| b >= 0x80);
            if utf8 {
                // `value_start` is at most the length of `bytes`: the `=` is before it.
                value_end = value_start + chars::span(&bytes[value_start..], ESMTP_VALUE);
            }
            // Both ends are at ASCII bytes (`=`, and a space or the end): boundaries.
            let value = &text[value_start..value_end];
            if value.is_empty() || utf8 && chars::has_control(value) {
                return Err(ParseError::InvalidArguments);
            }
            (Some(value), value_end)
        }
        _ => (None, keyword_end),
    };
    let space_after = match bytes.get(end) {
        None => false,
        Some(b' ') => true,
        Some(_) => return Err(ParseError::InvalidArguments),
    };
    *pos = end + usize::from(space_after);
    // `start` and `keyword_end` sit at ASCII bytes.
    let key = swar::key(bytes, start, keyword_end - start);
    Ok((Param { keyword: &text[start..keyword_end], key, value }, space_after))
}

/// Sets `slot` once; a second time is a [`ParseError::DuplicateParameter`].
fn set_once<T>(slot: &mut Option<T>, name: &'static str, value: Option<T>) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::DuplicateParameter(name));
    }
    *slot = Some(value.ok_or(ParseError::InvalidParameter(name))?);
    Ok(())
}

fn set_flag(flag: &mut bool, name: &'static str, value: Option<&str>) -> Result<(), ParseError> {
    if *flag {
        return Err(ParseError::DuplicateParameter(name));
    }
    if value.is_some() {
        return Err(ParseError::InvalidParameter(name));
    }
    *flag = true;
    Ok(())
}

fn push_other<'a>(other: &mut Vec<Parameter<'a>>, keyword: &'a str, value: Option<&'a str>) -> Result<(), ParseError> {
    if other.iter().any(|p| p.keyword.eq_ignore_ascii_case(keyword)) {
        return Err(ParseError::DuplicateParameter("(extension)"));
    }
    other.push(Parameter { keyword: Cow::Borrowed(keyword), value: value.map(Cow::Borrowed) });
    Ok(())
}

/// A number of ASCII digits only (`FromStr` would take a sign), that fits a `u64`.
fn number(value: Option<&str>) -> Option<u64> {
    let digits = value?.as_bytes();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &digit| {
        let digit = char::from(digit).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

impl<'a> MailParameters<'a> {
    /// Parses the text after the reverse-path, such as `SIZE=1000 BODY=8BITMIME`.
    /// In strict mode parameters are separated by exactly one space.
    pub fn parse(text: &'a str, strict: bool) -> Result<Self, ParseError> {
        let mut params = Self::default();
        let mut walk = Params::new(text, strict);
        while let Some(Param { keyword, key, value }) = walk.next()? {
            match key {
                keys::SIZE => set_once(&mut params.size, "SIZE", number(value))?,
                keys::BODY => {
                    let body = match value.map(|v| swar::key_of(v.as_bytes())) {
                        Some(keys::SEVEN_BIT) => Some(BodyType::SevenBit),
                        Some(keys::EIGHT_BIT_MIME) => Some(BodyType::EightBitMime),
                        Some(keys::BINARY_MIME) => Some(BodyType::BinaryMime),
                        _ => None,
                    };
                    set_once(&mut params.body, "BODY", body)?;
                }
                keys::SMTPUTF8 => set_flag(&mut params.smtputf8, "SMTPUTF8", value)?,
                keys::RET => {
                    let ret = match value.map(|v| swar::key_of(v.as_bytes())) {
                        Some(keys::FULL) => Some(Ret::Full),
                        Some(keys::HDRS) => Some(Ret::Headers),
                        _ => None,
                    };
                    set_once(&mut params.ret, "RET", ret)?;
                }
                keys::ENVID => set_once(&mut params.envid, "ENVID", value.and_then(XText::parse_value))?,
                keys::AUTH => set_once(&mut params.auth, "AUTH", value.and_then(XText::parse_value))?,
                keys::REQUIRETLS => set_flag(&mut params.requiretls, "REQUIRETLS", value)?,
                keys::MT_PRIORITY => set_once(&mut params.mt_priority, "MT-PRIORITY", value.and_then(parse_priority))?,
                keys::HOLDFOR => set_once(&mut params.hold, "HOLDFOR", number(value).map(Hold::For))?,
                keys::HOLDUNTIL => {
                    let until = value.filter(|v| v.bytes().all(|b| b.is_ascii_alphanumeric() || b":.+-".contains(&b)));
                    set_once(&mut params.hold, "HOLDUNTIL", until.map(|v| Hold::Until(Cow::Borrowed(v))))?;
                }
                keys::BY => set_once(&mut params.by, "BY", value.and_then(parse_by))?,
                _ => push_other(&mut params.other, keyword, value)?,
            }
        }
        Ok(params)
    }

    /// The same parameters, owning their text.
    pub fn into_owned(self) -> MailParameters<'static> {
        MailParameters {
            size: self.size,
            body: self.body,
            smtputf8: self.smtputf8,
            ret: self.ret,
            envid: self.envid.map(XText::into_owned),
            auth: self.auth.map(XText::into_owned),
            requiretls: self.requiretls,
            mt_priority: self.mt_priority,
            hold: self.hold.map(|hold| match hold {
                Hold::For(seconds) => Hold::For(seconds),
                Hold::Until(time) => Hold::Until(Cow::Owned(time.into_owned())),
            }),
            by: self.by,
            other: self.other.into_iter().map(Parameter::into_owned).collect(),
        }
    }

    /// Writes each parameter as ` KEYWORD[=value]`.
    pub(crate) fn write(&self, out: &mut impl Write) -> fmt::Result {
        if let Some(size) = self.size {
            write!(out, " SIZE={size}")?;
        }
        if let Some(body) = self.body {
            write!(out, " BODY={}", body.as_str())?;
        }
        if self.smtputf8 {
            out.write_str(" SMTPUTF8")?;
        }
        match self.ret {
            Some(Ret::Full) => out.write_str(" RET=FULL")?,
            Some(Ret::Headers) => out.write_str(" RET=HDRS")?,
            None => {}
        }
        if let Some(envid) = &self.envid {
            write!(out, " ENVID={envid}")?;
        }
        if let Some(auth) = &self.auth {
            write!(out, " AUTH={auth}")?;
        }
        if self.requiretls {
            out.write_str(" REQUIRETLS")?;
        }
        if let Some(priority) = self.mt_priority {
            write!(out, " MT-PRIORITY={priority}")?;
        }
        match &self.hold {
            Some(Hold::For(seconds)) => write!(out, " HOLDFOR={seconds}")?,
            Some(Hold::Until(time)) => write!(out, " HOLDUNTIL={time}")?,
            None => {}
        }
        if let Some(by) = self.by {
            let mode = match by.mode {
                ByMode::Notify => 'N',
                ByMode::Return => 'R',
            };
            write!(out, " BY={};{mode}{}", by.seconds, if by.trace { "T" } else { "" })?;
        }
        write_other(&self.other, out)
    }
}

fn write_other(other: &[Parameter<'_>], out: &mut impl Write) -> fmt::Result {
    for parameter in other {
        if !parameter.is_valid() {
            return Err(fmt::Error);
        }
        write!(out, " {}", parameter.keyword)?;
        if let Some(value) = &parameter.value {
            write!(out, "={value}")?;
        }
    }
    Ok(())
}

/// RFC 6710 section 2: `["-" / "+"] DIGIT`, from -9 to 9.
fn parse_priority(value: &str) -> Option<i8> {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    if digits.len() != 1 {
        return None;
    }
    value.parse().ok()
}

/// RFC 2852 section 4: `by-time ";" by-mode [by-trace]`, `by-time` being an optionally
/// signed number of up to 9 digits.
fn parse_by(value: &str) -> Option<DeliverBy> {
    let (time, mode) = chars::split_once(value, b';')?;
    let digits = time.strip_prefix(['-', '+']).unwrap_or(time);
    if !(1..=9).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: i32 = time.parse().ok()?;
    let mode_letter = mode.bytes().next()?.to_ascii_uppercase();
    // `mode` has a first byte: `mode_letter` was read from it.
    let trace = match &mode.as_bytes()[1..] {
        [] => false,
        [t] if t.eq_ignore_ascii_case(&b'T') => true,
        _ => return None,
    };
    let mode = match mode_letter {
        b'N' => ByMode::Notify,
        // A negative time makes no sense with R (RFC 2852 section 4).
        b'R' if seconds > 0 => ByMode::Return,
        _ => return None,
    };
    Some(DeliverBy { seconds, mode, trace })
}

impl<'a> RcptParameters<'a> {
    /// Parses the text after the forward-path, such as `NOTIFY=SUCCESS,FAILURE`.
    pub fn parse(text: &'a str, strict: bool) -> Result<Self, ParseError> {
        let mut params = Self::default();
        let mut walk = Params::new(text, strict);
        while let Some(Param { keyword, key, value }) = walk.next()? {
            match key {
                keys::NOTIFY => set_once(&mut params.notify, "NOTIFY", value.and_then(parse_notify))?,
                keys::ORCPT => set_once(&mut params.orcpt, "ORCPT", value.and_then(Orcpt::parse))?,
                _ => push_other(&mut params.other, keyword, value)?,
            }
        }
        Ok(params)
    }

    /// The same parameters, owning their text.
    pub fn into_owned(self) -> RcptParameters<'static> {
        RcptParameters {
            notify: self.notify,
            orcpt: self.orcpt.map(Orcpt::into_owned),
            other: self.other.into_iter().map(Parameter::into_owned).collect(),
        }
    }

    pub(crate) fn write(&self, out: &mut impl Write) -> fmt::Result {
        if let Some(notify) = self.notify {
            if notify.is_never() {
                out.write_str(" NOTIFY=NEVER")?;
            } else {
                let names = [(notify.success, "SUCCESS"), (notify.failure, "FAILURE"), (notify.delay, "DELAY")];
                let mut separator = " NOTIFY=";
                for (_, name) in names.iter().filter(|(on, _)| *on) {
                    write!(out, "{separator}{name}")?;
                    separator = ",";
                }
            }
        }
        if let Some(orcpt) = &self.orcpt {
            write!(out, " ORCPT={};{}", orcpt.address_type, orcpt.address)?;
        }
        write_other(&self.other, out)
    }
}

/// RFC 3461 section 4.1: `NEVER`, or a comma list of `SUCCESS`, `FAILURE`, `DELAY`.
fn parse_notify(value: &str) -> Option<Notify> {
    let (success, failure, delay) = (true, true, true);
    // The lists clients send, one key each (the value's key is 0 past 16 octets); any
    // other list, word by word.
    let known = match swar::key_of(value.as_bytes()) {
        keys::NEVER => Notify::NEVER,
        keys::SUCCESS => Notify { success, ..Notify::NEVER },
        keys::FAILURE => Notify { failure, ..Notify::NEVER },
        keys::DELAY => Notify { delay, ..Notify::NEVER },
        keys::SUCCESS_FAILURE | keys::FAILURE_SUCCESS => Notify { success, failure, ..Notify::NEVER },
        keys::FAILURE_DELAY | keys::DELAY_FAILURE => Notify { failure, delay, ..Notify::NEVER },
        keys::SUCCESS_DELAY | keys::DELAY_SUCCESS => Notify { success, delay, ..Notify::NEVER },
        _ => return notify_list(value),
    };
    Some(known)
}

/// A `NOTIFY` list word by word: each of `SUCCESS`, `FAILURE`, `DELAY` at most once.
fn notify_list(value: &str) -> Option<Notify> {
    let mut notify = Notify::NEVER;
    for word in chars::fields(value, b',') {
        let flag = match swar::key_of(word.as_bytes()) {
            keys::SUCCESS => &mut notify.success,
            keys::FAILURE => &mut notify.failure,
            keys::DELAY => &mut notify.delay,
            _ => return None,
        };
        if core::mem::replace(flag, true) {
            return None;
        }
    }
    Some(notify)
}

/// The keywords and values this module matches, as [`chars::key`]s.
mod keys {
    use super::chars::key;

    pub const SIZE: u128 = key(b"SIZE");
    pub const BODY: u128 = key(b"BODY");
    pub const SMTPUTF8: u128 = key(b"SMTPUTF8");
    pub const RET: u128 = key(b"RET");
    pub const ENVID: u128 = key(b"ENVID");
    pub const AUTH: u128 = key(b"AUTH");
    pub const REQUIRETLS: u128 = key(b"REQUIRETLS");
    pub const MT_PRIORITY: u128 = key(b"MT-PRIORITY");
    pub const HOLDFOR: u128 = key(b"HOLDFOR");
    pub const HOLDUNTIL: u128 = key(b"HOLDUNTIL");
    pub const BY: u128 = key(b"BY");
    pub const NOTIFY: u128 = key(b"NOTIFY");
    pub const ORCPT: u128 = key(b"ORCPT");
    pub const SEVEN_BIT: u128 = key(b"7BIT");
    pub const EIGHT_BIT_MIME: u128 = key(b"8BITMIME");
    pub const BINARY_MIME: u128 = key(b"BINARYMIME");
    pub const FULL: u128 = key(b"FULL");
    pub const HDRS: u128 = key(b"HDRS");
    pub const NEVER: u128 = key(b"NEVER");
    pub const SUCCESS: u128 = key(b"SUCCESS");
    pub const FAILURE: u128 = key(b"FAILURE");
    pub const DELAY: u128 = key(b"DELAY");
    pub const SUCCESS_FAILURE: u128 = key(b"SUCCESS,FAILURE");
    pub const FAILURE_SUCCESS: u128 = key(b"FAILURE,SUCCESS");
    pub const FAILURE_DELAY: u128 = key(b"FAILURE,DELAY");
    pub const DELAY_FAILURE: u128 = key(b"DELAY,FAILURE");
    pub const SUCCESS_DELAY: u128 = key(b"SUCCESS,DELAY");
    pub const DELAY_SUCCESS: u128 = key(b"DELAY,SUCCESS");
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    /// The lists read with one key mean what they mean word by word, and every other
    /// list is still read word by word: all lists of up to four words, in two cases.
    #[test]
    fn notify_lists_read_whole_agree_with_word_by_word() {
        const WORDS: [&str; 5] = ["SUCCESS", "FAILURE", "DELAY", "NEVER", "Delay"];
        let mut lists: Vec<String> = WORDS.iter().map(|word| String::from(*word)).collect();
        for _ in 0..3 {
            let longer: Vec<String> =
                lists.iter().flat_map(|list| WORDS.iter().map(move |word| alloc::format!("{list},{word}"))).collect();
            lists.extend(longer);
        }
        for list in lists.iter().chain([&String::from("never"), &String::from("success,failure")]) {
            let expected = match list.eq_ignore_ascii_case("NEVER") {
                true => Some(Notify::NEVER),
                false => notify_list(list),
            };
            assert_eq!(parse_notify(list), expected, "{list}");
        }
    }
}
