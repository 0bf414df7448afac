//! Commands: RFC 5321 section 4.1.1, with the ESMTP extensions' verbs.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use core::fmt::{self, Write};

use bytes::{BufMut, BytesMut};

use super::ParseOptions;
use super::address::{ForwardPath, Host, Mailbox, Path, ReversePath, parse_bare_mailbox, parse_path};
use super::chars;
use super::param::{MailParameters, RcptParameters};
use super::xclient::{AttributeCommand, ClientAttributes};
use crate::error::{AddressError, EncodeError, ParseError};

/// The initial response of `AUTH` (RFC 4954 section 4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InitialResponse<'a> {
    /// `=`: an initial response of zero length.
    Empty,
    /// Base64 text, not yet decoded.
    Base64(Cow<'a, str>),
}

/// A command from client to server.
///
/// Parsing borrows from the line ([`Command::parse`]); [`Command::into_owned`] makes a
/// value that outlives it. Verbs are case-insensitive on input and written in
/// upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `HELO domain` (RFC 5321 section 4.1.1.1).
    Helo {
        /// The name the client gives itself.
        host: Host<'a>,
    },
    /// `EHLO domain`: HELO that asks for the extensions (section 4.1.1.1).
    Ehlo {
        /// The name the client gives itself.
        host: Host<'a>,
    },
    /// `LHLO domain`: LMTP's EHLO (RFC 2033 section 4.1).
    Lhlo {
        /// The name the client gives itself.
        host: Host<'a>,
    },
    /// `MAIL FROM:<reverse-path> [parameters]` (section 4.1.1.2).
    Mail {
        /// The sender, or the null path for bounces.
        from: ReversePath<'a>,
        /// ESMTP parameters.
        params: MailParameters<'a>,
    },
    /// `RCPT TO:<forward-path> [parameters]` (section 4.1.1.3).
    Rcpt {
        /// The recipient.
        to: ForwardPath<'a>,
        /// ESMTP parameters.
        params: RcptParameters<'a>,
    },
    /// `DATA` (section 4.1.1.4).
    Data,
    /// `BDAT size [LAST]` (RFC 3030 section 2).
    Bdat {
        /// Octets in the chunk that follows the line.
        size: u64,
        /// Whether this is the last chunk of the message.
        last: bool,
    },
    /// `RSET` (section 4.1.1.5).
    Rset,
    /// `VRFY string` (section 4.1.1.6).
    Vrfy {
        /// The user or mailbox to verify, as given.
        target: Cow<'a, str>,
    },
    /// `EXPN string` (section 4.1.1.7).
    Expn {
        /// The mailing list to expand, as given.
        list: Cow<'a, str>,
    },
    /// `HELP [string]` (section 4.1.1.8).
    Help {
        /// What help is asked about.
        topic: Option<Cow<'a, str>>,
    },
    /// `NOOP [string]` (section 4.1.1.9); the argument is ignored.
    Noop {
        /// The ignored argument.
        text: Option<Cow<'a, str>>,
    },
    /// `QUIT` (section 4.1.1.10).
    Quit,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 section 4).
    Auth {
        /// The SASL mechanism, as given (compare it ignoring case).
        mechanism: Cow<'a, str>,
        /// The initial response, if the client sent one.
        initial_response: Option<InitialResponse<'a>>,
    },
    /// `XCLIENT attribute...` (Postfix XCLIENT_README): a trusted proxy overrides what
    /// the server knows about the client, for the rest of the session. Only for peers
    /// the server trusts ([`crate::wire::ClientAttributes`] says why).
    Xclient {
        /// The attributes sent (boxed: a rare command should not make every command
        /// bigger to move).
        attributes: Box<ClientAttributes>,
    },
    /// `XFORWARD attribute...` (Postfix XFORWARD_README): a trusted content filter
    /// passes on the up-stream client's details for the next transaction's logging.
    /// Only for peers the server trusts.
    Xforward {
        /// The attributes sent (boxed: a rare command should not make every command
        /// bigger to move).
        attributes: Box<ClientAttributes>,
    },
}

/// ASCII upper-cases four bytes into a number, for one match on the verb.
const fn verb_key(verb: &[u8; 4]) -> u32 {
    u32::from_be_bytes(*verb) & 0xDFDF_DFDF
}

/// The verbs, recognised before their arguments are looked at.
#[derive(Clone, Copy)]
enum Verb {
    Helo,
    Ehlo,
    Lhlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Vrfy,
    Expn,
    Help,
    Noop,
    Quit,
    StartTls,
    Auth,
    Xclient,
    Xforward,
}

/// The four-letter verb a key names.
#[inline]
fn four_letter_verb(key: u32) -> Option<Verb> {
    const RCPT: u32 = verb_key(b"RCPT");
    const MAIL: u32 = verb_key(b"MAIL");
    const DATA: u32 = verb_key(b"DATA");
    const EHLO: u32 = verb_key(b"EHLO");
    const RSET: u32 = verb_key(b"RSET");
    const QUIT: u32 = verb_key(b"QUIT");
    const BDAT: u32 = verb_key(b"BDAT");
    const NOOP: u32 = verb_key(b"NOOP");
    const HELO: u32 = verb_key(b"HELO");
    const LHLO: u32 = verb_key(b"LHLO");
    const AUTH: u32 = verb_key(b"AUTH");
    const VRFY: u32 = verb_key(b"VRFY");
    const EXPN: u32 = verb_key(b"EXPN");
    const HELP: u32 = verb_key(b"HELP");
    Some(match key {
        RCPT => Verb::Rcpt,
        MAIL => Verb::Mail,
        DATA => Verb::Data,
        EHLO => Verb::Ehlo,
        RSET => Verb::Rset,
        QUIT => Verb::Quit,
        BDAT => Verb::Bdat,
        NOOP => Verb::Noop,
        HELO => Verb::Helo,
        LHLO => Verb::Lhlo,
        AUTH => Verb::Auth,
        VRFY => Verb::Vrfy,
        EXPN => Verb::Expn,
        HELP => Verb::Help,
        _ => return None,
    })
}

/// Splits the line into its verb and the text after the first space. Only that text is
/// checked for UTF-8: a verb is ASCII letters.
#[inline]
fn split_verb<'a>(line: &'a [u8], options: &ParseOptions) -> Result<(Verb, Option<&'a str>), ParseError> {
    // Lenient mode forgives trailing white space. The slicing below is in bounds: `rposition` gives an index
    // into `line`, and one past such an index is at most its end.
    let line = match options.strict {
        true => line,
        false => &line[..line.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(0, |last| last + 1)],
    };
    // Nearly every verb has four letters: those are looked at once, as one word.
    let (verb, args_at) = match (line.first_chunk::<4>(), line.get(4)) {
        (Some(verb), None | Some(b' ')) => (four_letter_verb(verb_key(verb)), 5),
        _ => {
            let space = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
            // `space` is at most the length of `line`.
            (long_verb(&line[..space]), space + 1)
        }
    };
    let verb = verb.ok_or(ParseError::UnknownCommand)?;
    let args = match line.get(args_at - 1) {
        Some(b' ') => Some(text_from(line, args_at)?),
        _ => None,
    };
    Ok((verb, args))
}

/// `line[start..]` as text, or [`ParseError::InvalidCharacters`] when it is not UTF-8.
///
/// `from_utf8` goes byte by byte until its input is aligned to a machine word, then a
/// word at a time: starting it at the word boundary before `start`, inside the verb
/// (ASCII letters and a space, which are UTF-8 too), skips that first loop and the
/// branch mispredicted at its end, on every command line.
#[inline]
fn text_from(line: &[u8], start: usize) -> Result<&str, ParseError> {
    let misalignment = (line.as_ptr() as usize).wrapping_add(start) % core::mem::size_of::<usize>();
    let from = start.checked_sub(misalignment).unwrap_or(start);
    let text = line.get(from..).map(core::str::from_utf8);
    // The bytes before `start` are ASCII, so `start - from` is a character boundary
    // whenever the whole is UTF-8; `get` checks it all the same.
    match text.and_then(Result::ok).and_then(|text| text.get(start - from..)) {
        Some(text) => Ok(text),
        None => line.get(start..).and_then(|rest| core::str::from_utf8(rest).ok()).ok_or(ParseError::InvalidCharacters),
    }
}

/// The verbs of other lengths than four, off the four-letter fast path.
#[inline]
fn long_verb(verb: &[u8]) -> Option<Verb> {
    const LONG_VERBS: [(&[u8], Verb); 3] =
        [(b"STARTTLS", Verb::StartTls), (b"XCLIENT", Verb::Xclient), (b"XFORWARD", Verb::Xforward)];
    LONG_VERBS.iter().find(|(name, _)| verb.eq_ignore_ascii_case(name)).map(|&(_, verb)| verb)
}

/// A command that takes no arguments.
#[inline]
fn no_args(args: Option<&str>) -> Result<(), ParseError> {
    match args {
        None => Ok(()),
        Some(_) => Err(ParseError::InvalidArguments),
    }
}

/// The argument of VRFY, EXPN, HELP and NOOP: never empty and never ending in a space
/// (strict mode refuses such a line, lenient mode has trimmed it).
#[inline]
fn free_text(args: Option<&str>) -> Result<Option<Cow<'_, str>>, ParseError> {
    match args {
        None => Ok(None),
        // Free text is not parsed, so it is checked for control characters here.
        Some(text) if is_free_text(text) && !has_ascii_control(text) => Ok(Some(Cow::Borrowed(text))),
        Some(_) => Err(ParseError::InvalidArguments),
    }
}

impl<'a> Command<'a> {
    /// Parses one command line, without its CRLF (as a [`crate::LineFramer`] hands it out).
    ///
    /// ```
    /// use smtp_sansio::{Command, ParseOptions};
    /// use smtp_sansio::wire::{ReversePath, MailParameters};
    ///
    /// let command = Command::parse(b"mail from:<alice@example.org> SIZE=1024", &ParseOptions::default()).unwrap();
    /// let Command::Mail { from: ReversePath::Mailbox(mailbox), params } = command else { panic!() };
    /// assert_eq!(mailbox.to_string(), "alice@example.org");
    /// assert_eq!(params.size, Some(1024));
    /// ```
    pub fn parse(line: &'a [u8], options: &ParseOptions) -> Result<Self, ParseError> {
        // The grammar lets no control character through, and neither does anything that
        // takes text it does not parse (free text, ignored HELO words, display names), so
        // a line with one always fails; then, and only then, the line is searched for one
        // to give the right error. Keeping that search off the path of a valid command
        // is worth it: it would be a pass over every line.
        Self::parse_checked(line, options).map_err(|error| match line.iter().any(u8::is_ascii_control) {
            true => ParseError::InvalidCharacters,
            false => error,
        })
    }

    fn parse_checked(line: &'a [u8], options: &ParseOptions) -> Result<Self, ParseError> {
        let (verb, args) = split_verb(line, options)?;
        let args_required = || args.ok_or(ParseError::InvalidArguments);
        match verb {
            Verb::Mail => parse_mail(args_required()?, options),
            Verb::Rcpt => parse_rcpt(args_required()?, options),
            Verb::Data => no_args(args).map(|()| Command::Data),
            Verb::Bdat => parse_bdat(args_required()?),
            Verb::Ehlo => Ok(Command::Ehlo { host: parse_host(args, options)? }),
            Verb::Helo => Ok(Command::Helo { host: parse_host(args, options)? }),
            Verb::Lhlo => Ok(Command::Lhlo { host: parse_host(args, options)? }),
            Verb::Rset => no_args(args).map(|()| Command::Rset),
            Verb::Noop => Ok(Command::Noop { text: free_text(args)? }),
            Verb::Quit => no_args(args).map(|()| Command::Quit),
            Verb::Vrfy => Ok(Command::Vrfy { target: free_text(args)?.ok_or(ParseError::InvalidArguments)? }),
            Verb::Expn => Ok(Command::Expn { list: free_text(args)?.ok_or(ParseError::InvalidArguments)? }),
            Verb::Help => Ok(Command::Help { topic: free_text(args)? }),
            Verb::StartTls => no_args(args).map(|()| Command::StartTls),
            Verb::Auth => parse_auth(args_required()?),
            Verb::Xclient => Ok(Command::Xclient { attributes: parse_attributes(args, AttributeCommand::Xclient)? }),
            Verb::Xforward => Ok(Command::Xforward { attributes: parse_attributes(args, AttributeCommand::Xforward)? }),
        }
    }

    /// The verb, in upper case.
    pub fn verb(&self) -> &'static str {
        match self {
            Self::Helo { .. } => "HELO",
            Self::Ehlo { .. } => "EHLO",
            Self::Lhlo { .. } => "LHLO",
            Self::Mail { .. } => "MAIL",
            Self::Rcpt { .. } => "RCPT",
            Self::Data => "DATA",
            Self::Bdat { .. } => "BDAT",
            Self::Rset => "RSET",
            Self::Vrfy { .. } => "VRFY",
            Self::Expn { .. } => "EXPN",
            Self::Help { .. } => "HELP",
            Self::Noop { .. } => "NOOP",
            Self::Quit => "QUIT",
            Self::StartTls => "STARTTLS",
            Self::Auth { .. } => "AUTH",
            Self::Xclient { .. } => "XCLIENT",
            Self::Xforward { .. } => "XFORWARD",
        }
    }

    /// Writes the command and its CRLF in strict RFC 5321 form.
    ///
    /// Nothing is written when an argument would break the line: a CR, LF or other
    /// control character (which could inject a second command), or text that does not
    /// fit its grammar (an empty `VRFY`, a mechanism with a space, ...).
    ///
    /// `XCLIENT` and `XFORWARD` go on one line, however long: to keep each line within
    /// 512 octets, write the attributes with [`ClientAttributes::encode`], which splits
    /// them over several commands.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        // The attributes say themselves why one cannot be written.
        if let Some((attributes, command)) = self.client_attributes() {
            out.put_slice(command.verb().as_bytes());
            if let Err(error) = attributes.write_args(command, out) {
                out.truncate(start);
                return Err(error);
            }
            out.put_slice(b"\r\n");
            return Ok(());
        }
        let result = self.write_line(out);
        let line = &out[start..];
        let error = match result {
            Err(_) => Some(EncodeError::InvalidArgument),
            Ok(()) if line.iter().any(|&b| b.is_ascii_control()) => Some(EncodeError::ControlCharacter),
            Ok(()) => None,
        };
        if let Some(error) = error {
            out.truncate(start);
            return Err(error);
        }
        out.put_slice(b"\r\n");
        Ok(())
    }

    fn write_line(&self, out: &mut BytesMut) -> fmt::Result {
        let check_free_text = |text: &str| if is_free_text(text) { Ok(()) } else { Err(fmt::Error) };
        out.write_str(self.verb())?;
        match self {
            Self::Helo { host } | Self::Ehlo { host } | Self::Lhlo { host } => write!(out, " {host}"),
            Self::Mail { from, params } => {
                // RFC 6531 section 3.4: a UTF-8 path goes with the SMTPUTF8 parameter.
                if !from.is_ascii() && !params.smtputf8 {
                    return Err(fmt::Error);
                }
                write!(out, " FROM:{from}")?;
                params.write(out)
            }
            Self::Rcpt { to, params } => {
                write!(out, " TO:{to}")?;
                params.write(out)
            }
            Self::Bdat { size, last } => write!(out, " {size}{}", if *last { " LAST" } else { "" }),
            Self::Vrfy { target: text } | Self::Expn { list: text } => {
                check_free_text(text)?;
                write!(out, " {text}")
            }
            Self::Help { topic: text } | Self::Noop { text } => match text {
                Some(text) => {
                    check_free_text(text)?;
                    write!(out, " {text}")
                }
                None => Ok(()),
            },
            Self::Auth { mechanism, initial_response } => {
                if !is_mechanism(mechanism) {
                    return Err(fmt::Error);
                }
                write!(out, " {mechanism}")?;
                match initial_response {
                    None => Ok(()),
                    Some(InitialResponse::Empty) => out.write_str(" ="),
                    Some(InitialResponse::Base64(text)) if is_base64(text) && !text.is_empty() => {
                        write!(out, " {text}")
                    }
                    Some(InitialResponse::Base64(_)) => Err(fmt::Error),
                }
            }
            Self::Xclient { attributes } => {
                attributes.write_args(AttributeCommand::Xclient, out).map_err(|_| fmt::Error)
            }
            Self::Xforward { attributes } => {
                attributes.write_args(AttributeCommand::Xforward, out).map_err(|_| fmt::Error)
            }
            Self::Data | Self::Rset | Self::Quit | Self::StartTls => Ok(()),
        }
    }

    /// The attributes of `XCLIENT` or `XFORWARD`, with the command they belong to.
    fn client_attributes(&self) -> Option<(&ClientAttributes, AttributeCommand)> {
        match self {
            Self::Xclient { attributes } => Some((&**attributes, AttributeCommand::Xclient)),
            Self::Xforward { attributes } => Some((&**attributes, AttributeCommand::Xforward)),
            _ => None,
        }
    }

    /// The same command, owning its text.
    pub fn into_owned(self) -> Command<'static> {
        let own = |text: Cow<'a, str>| Cow::Owned(text.into_owned());
        match self {
            Self::Helo { host } => Command::Helo { host: host.into_owned() },
            Self::Ehlo { host } => Command::Ehlo { host: host.into_owned() },
            Self::Lhlo { host } => Command::Lhlo { host: host.into_owned() },
            Self::Mail { from, params } => Command::Mail { from: from.into_owned(), params: params.into_owned() },
            Self::Rcpt { to, params } => Command::Rcpt { to: to.into_owned(), params: params.into_owned() },
            Self::Data => Command::Data,
            Self::Bdat { size, last } => Command::Bdat { size, last },
            Self::Rset => Command::Rset,
            Self::Vrfy { target } => Command::Vrfy { target: own(target) },
            Self::Expn { list } => Command::Expn { list: own(list) },
            Self::Help { topic } => Command::Help { topic: topic.map(own) },
            Self::Noop { text } => Command::Noop { text: text.map(own) },
            Self::Quit => Command::Quit,
            Self::StartTls => Command::StartTls,
            Self::Auth { mechanism, initial_response } => Command::Auth {
                mechanism: own(mechanism),
                initial_response: initial_response.map(|response| match response {
                    InitialResponse::Empty => InitialResponse::Empty,
                    InitialResponse::Base64(text) => InitialResponse::Base64(own(text)),
                }),
            },
            Self::Xclient { attributes } => Command::Xclient { attributes },
            Self::Xforward { attributes } => Command::Xforward { attributes },
        }
    }
}

impl fmt::Display for Command<'_> {
    /// The command line as [`Command::encode`] writes it, without CRLF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = BytesMut::new();
        self.write_line(&mut line)?;
        f.write_str(&alloc::string::String::from_utf8_lossy(&line))
    }
}

/// The argument of HELO, EHLO and LHLO. Lenient mode lets `_` into the name (as
/// Windows machine names have it) and ignores words after the first.
#[inline]
fn parse_host<'a>(args: Option<&'a str>, options: &ParseOptions) -> Result<Host<'a>, ParseError> {
    let args = args.ok_or(ParseError::InvalidArguments)?;
    let name = match options.strict {
        true => args,
        // The words after the name are ignored, so they are not parsed: check them here.
        false if has_ascii_control(args) => return Err(ParseError::InvalidCharacters),
        false => split_word(chars::trim_spaces_start(args)).0,
    };
    Host::parse_with(name, options.limits.domain, !options.strict).map_err(|_| ParseError::InvalidArguments)
}

/// Strips an ASCII-case-insensitive `prefix`.
#[inline]
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// The path and parameters of `MAIL` or `RCPT` in the shape nearly every client sends:
/// `FROM:` or `TO:` (`prefix`, of `prefix_len` octets, upper case), an ASCII
/// `<local@domain>` right after it, and nothing or a space and parameters after that.
/// `None` for any other line, which the full grammar reads; so this only has to be right
/// when it answers, which the full grammar's tests check (`fast_envelope_agrees`).
#[inline]
fn plain_envelope<'a>(
    args: &'a str,
    prefix: u64,
    prefix_len: usize,
    options: &ParseOptions,
) -> Option<(Mailbox<'a>, Option<&'a str>)> {
    let bytes = args.as_bytes();
    // The prefix and the `<` after it, letters in either case: `0xDF` clears the case bit
    // of letters only; `:` and `<` are compared as they are.
    let head = u64::from_le_bytes(*bytes.first_chunk::<8>()?);
    let letters = (1u64 << (8 * (prefix_len - 2))) - 1;
    let mask = (1u64 << (8 * prefix_len)) - 1;
    if (head & mask & !(letters & 0x2020_2020_2020_2020)) != prefix {
        return None;
    }
    // `prefix_len - 1` is at the `<`, an ASCII byte.
    let rest = &args[prefix_len - 1..];
    let (mailbox, end) = super::address::plain_path(rest, &options.limits)?;
    match rest.as_bytes().get(end) {
        None => Some((mailbox, None)),
        // `end + 1` is past an ASCII space.
        Some(b' ') => Some((mailbox, Some(&rest[end + 1..]))),
        Some(_) => None,
    }
}

/// `FROM:<` and `TO:<` for [`plain_envelope`].
const FROM: u64 = u64::from_le_bytes(*b"FROM:<\0\0");
const TO: u64 = u64::from_le_bytes(*b"TO:<\0\0\0\0");

#[inline]
fn parse_mail<'a>(args: &'a str, options: &ParseOptions) -> Result<Command<'a>, ParseError> {
    if let Some((mailbox, params)) = plain_envelope(args, FROM, 6, options) {
        // The mailbox is ASCII, so SMTPUTF8 is not needed for it.
        let params = MailParameters::parse_opt(params, options.strict)?;
        return Ok(Command::Mail { from: ReversePath::Mailbox(mailbox), params });
    }
    parse_mail_grammar(args, options)
}

/// `MAIL` by the full grammar, lenient forms included.
fn parse_mail_grammar<'a>(args: &'a str, options: &ParseOptions) -> Result<Command<'a>, ParseError> {
    let rest = strip_prefix_ignore_case(args, "FROM:").ok_or(ParseError::InvalidArguments)?;
    let (path, params) = envelope_path(rest, options).map_err(ParseError::ReversePath)?;
    let from = path.into_reverse().map_err(ParseError::ReversePath)?;
    let params = MailParameters::parse_opt(params, options.strict)?;
    // RFC 6531 section 3.4: a UTF-8 address needs the SMTPUTF8 parameter.
    if !from.is_ascii() && !params.smtputf8 {
        return Err(ParseError::ReversePath(AddressError::NonAscii));
    }
    Ok(Command::Mail { from, params })
}

#[inline]
fn parse_rcpt<'a>(args: &'a str, options: &ParseOptions) -> Result<Command<'a>, ParseError> {
    if let Some((mailbox, params)) = plain_envelope(args, TO, 4, options) {
        let params = RcptParameters::parse_opt(params, options.strict)?;
        return Ok(Command::Rcpt { to: ForwardPath::Mailbox(mailbox), params });
    }
    parse_rcpt_grammar(args, options)
}

/// `RCPT` by the full grammar, lenient forms included.
fn parse_rcpt_grammar<'a>(args: &'a str, options: &ParseOptions) -> Result<Command<'a>, ParseError> {
    let rest = strip_prefix_ignore_case(args, "TO:").ok_or(ParseError::InvalidArguments)?;
    let (path, params) = envelope_path(rest, options).map_err(ParseError::ForwardPath)?;
    let to = path.into_forward().map_err(ParseError::ForwardPath)?;
    let params = RcptParameters::parse_opt(params, options.strict)?;
    Ok(Command::Rcpt { to, params })
}

/// The path after `FROM:` or `TO:`, and the parameter text after it (without the
/// space before it), if any.
///
/// Strict mode takes RFC 5321 only: `<path>` right after the colon. Lenient mode also
/// takes what people type and old software sends: spaces after the colon, a display
/// name before the brackets (`Name <a@b>`), or no brackets at all (`a@b`). In every
/// mode, anything but a space after the closing `>` is an error, not ignored.
#[inline]
fn envelope_path<'a>(text: &'a str, options: &ParseOptions) -> Result<(Path<'a>, Option<&'a str>), AddressError> {
    let text = if options.strict { text } else { chars::trim_spaces_start(text) };
    let (rest, path) = if text.starts_with('<') || options.strict {
        parse_path(text, &options.limits)?
    } else {
        let (first_word, after) = split_word(text);
        match text.find('<') {
            // `Display Name <a@b>`: drop the name (checked, as it is not parsed). `find`
            // gave a character boundary.
            Some(bracket) if !first_word.contains('@') && !has_ascii_control(&text[..bracket]) => {
                parse_path(&text[bracket..], &options.limits)?
            }
            _ => bare_path(first_word, after, options)?,
        }
    };
    match rest.strip_prefix(' ') {
        _ if rest.is_empty() => Ok((path, None)),
        Some(params) => Ok((path, Some(params))),
        None => Err(AddressError::Syntax),
    }
}

/// The text up to the first space, and the rest from that space on.
#[inline]
fn split_word(text: &str) -> (&str, &str) {
    let end = text.bytes().position(|b| b == b' ').unwrap_or(text.len());
    // A space is ASCII, so `end` is a character boundary.
    text.split_at(end)
}

/// A path written without brackets (lenient mode).
fn bare_path<'a>(word: &'a str, rest: &'a str, options: &ParseOptions) -> Result<(&'a str, Path<'a>), AddressError> {
    if word.eq_ignore_ascii_case("Postmaster") {
        return Ok((rest, Path::Postmaster));
    }
    Ok((rest, Path::Mailbox(parse_bare_mailbox(word, &options.limits)?)))
}

impl<'a> MailParameters<'a> {
    fn parse_opt(text: Option<&'a str>, strict: bool) -> Result<Self, ParseError> {
        text.map_or(Ok(Self::default()), |text| Self::parse(text, strict))
    }
}

impl<'a> RcptParameters<'a> {
    fn parse_opt(text: Option<&'a str>, strict: bool) -> Result<Self, ParseError> {
        text.map_or(Ok(Self::default()), |text| Self::parse(text, strict))
    }
}

/// The argument of VRFY, EXPN, HELP and NOOP: not empty, no trailing space.
fn is_free_text(text: &str) -> bool {
    !text.is_empty() && !text.ends_with(' ')
}

/// Whether text the grammar does not look at holds a control character.
fn has_ascii_control(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_control())
}

/// `BDAT chunk-size [SP "LAST"]` (RFC 3030 section 2), `chunk-size = 1*DIGIT`.
fn parse_bdat(args: &str) -> Result<Command<'_>, ParseError> {
    let (size, last) = match chars::split_once(args, b' ') {
        Some((size, word)) if word.eq_ignore_ascii_case("LAST") => (size, true),
        Some(_) => return Err(ParseError::InvalidArguments),
        None => (args, false),
    };
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::InvalidArguments);
    }
    let size = size.parse().map_err(|_| ParseError::InvalidArguments)?;
    Ok(Command::Bdat { size, last })
}

/// `AUTH mechanism [SP initial-response]` (RFC 4954 section 4).
fn parse_auth(args: &str) -> Result<Command<'_>, ParseError> {
    let (mechanism, response) = match chars::split_once(args, b' ') {
        Some((mechanism, response)) => (mechanism, Some(response)),
        None => (args, None),
    };
    if !is_mechanism(mechanism) {
        return Err(ParseError::InvalidArguments);
    }
    let initial_response = match response {
        None => None,
        Some("=") => Some(InitialResponse::Empty),
        Some(text) if !text.is_empty() && is_base64(text) => Some(InitialResponse::Base64(Cow::Borrowed(text))),
        Some(_) => return Err(ParseError::InvalidBase64),
    };
    Ok(Command::Auth { mechanism: Cow::Borrowed(mechanism), initial_response })
}

/// The arguments of `XCLIENT` or `XFORWARD`; none at all is
/// [`AttributeError::Empty`](crate::error::AttributeError::Empty).
fn parse_attributes(args: Option<&str>, command: AttributeCommand) -> Result<Box<ClientAttributes>, ParseError> {
    ClientAttributes::parse(args.unwrap_or(""), command).map(Box::new).map_err(ParseError::Attribute)
}

/// RFC 4422 section 3.1: 1 to 20 of upper-case letters, digits, `-` and `_` (lower
/// case is taken too, since clients send it).
fn is_mechanism(name: &str) -> bool {
    (1..=20).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_base64(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    /// `MAIL` and `RCPT` arguments from the pieces that matter to the fast path: the
    /// prefix in any case, spaces, brackets, a path in the usual shape or not, and
    /// parameters.
    fn random_args(state: &mut u64) -> String {
        const PIECES: &[&str] = &[
            "FROM:",
            "from:",
            "FrOm:",
            "TO:",
            "to:",
            "FROM",
            "TO",
            ":",
            " ",
            "<",
            ">",
            "<>",
            "a",
            "bob.smith",
            "x+y",
            "@",
            "example.org",
            "mx-1.example",
            "..",
            "-",
            "é",
            "\"q\"",
            "[1.2.3.4]",
            " SIZE=10",
            " BODY=8BITMIME",
            " NOTIFY=SUCCESS,FAILURE",
            " ORCPT=rfc822;a@b",
            " SMTPUTF8",
            "  ",
            "\t",
            "\x01",
            "Postmaster",
            "=",
        ];
        let mut next = || super::super::xorshift(state);
        let mut text = String::new();
        // Most start like a real command, so that the fast path is taken often.
        if next() % 4 != 0 {
            text.push_str(["FROM:<", "TO:<", "from:<", "To:<"][(next() % 4) as usize]);
            text.push_str(["bob", "a.b", "x-y_z", "Postmaster"][(next() % 4) as usize]);
            text.push('@');
            text.push_str(["example.org", "mx.example", "a-b.c"][(next() % 3) as usize]);
            text.push('>');
        }
        for _ in 0..next() % 6 {
            text.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        text
    }

    /// The fast path answers only as the full grammar would, in both modes.
    #[test]
    fn fast_envelope_agrees_with_the_full_grammar() {
        let mut state = 0x2545_F491_4F6C_DD1D;
        let mut fast = 0;
        for _ in 0..100_000 {
            let args = random_args(&mut state);
            for options in [ParseOptions::default(), ParseOptions::strict()] {
                if plain_envelope(&args, FROM, 6, &options).is_some() {
                    fast += 1;
                    assert_eq!(parse_mail(&args, &options), parse_mail_grammar(&args, &options), "{args:?}");
                }
                if plain_envelope(&args, TO, 4, &options).is_some() {
                    fast += 1;
                    assert_eq!(parse_rcpt(&args, &options), parse_rcpt_grammar(&args, &options), "{args:?}");
                }
            }
        }
        assert!(fast > 20_000, "only {fast} lines took the fast path");
    }
}
