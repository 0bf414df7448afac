//! Errors, split by who is at fault.
//!
//! * [`ParseError`]: the peer sent a command that breaks the grammar. It is a
//!   remote error, and it knows the reply a server owes for it
//!   ([`ParseError::reply`]).
//! * [`ReplyError`]: the peer (a server) sent bytes that are not a valid reply.
//!   A client cannot answer a server, so this is a reason to give up on the
//!   connection.
//! * [`EncodeError`]: the application asked to encode something that cannot go
//!   on the wire (a CR or LF in an argument, a code outside 200..=599, ...). It
//!   is a local error: nothing is written.

use crate::wire::{EnhancedStatus, Reply, ReplyCode};

/// Why an address (a path, a mailbox, a domain or an address literal) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The text is not a path, mailbox or domain in the RFC 5321 section 4.1.2 grammar.
    #[error("address syntax error")]
    Syntax,
    /// The local part is longer than the limit (RFC 5321 section 4.5.3.1.1: 64 octets).
    #[error("local part too long")]
    LocalPartTooLong,
    /// The domain, or one of its labels, is too long (RFC 5321 section 4.5.3.1.2: 255 octets;
    /// RFC 1035: 63 octets a label).
    #[error("domain too long")]
    DomainTooLong,
    /// The whole path is longer than the limit (RFC 5321 section 4.5.3.1.3: 256 octets).
    #[error("path too long")]
    PathTooLong,
    /// A non-ASCII address in a transaction that did not declare `SMTPUTF8`
    /// (RFC 6531 section 3.4).
    #[error("non-ASCII address without SMTPUTF8")]
    NonAscii,
}

/// Why the attributes of an `XCLIENT` or `XFORWARD` command were refused
/// ([`ClientAttributes::parse`](crate::wire::ClientAttributes::parse)). Postfix answers
/// all of them `501`: "bad command parameter syntax".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttributeError {
    /// No attributes at all: the grammar wants at least one.
    #[error("no attributes")]
    Empty,
    /// Text that is not `NAME=value` pairs separated by single spaces.
    #[error("attributes are not NAME=value pairs separated by single spaces")]
    Syntax,
    /// A name the command does not define.
    #[error("unknown attribute name")]
    UnknownName,
    /// The same name twice in one command.
    #[error("attribute given more than once")]
    Duplicate,
    /// A value that is not RFC 3461 xtext (`+` and two upper case hexadecimal digits, or
    /// `!` to `~` but `+` and `=`).
    #[error("attribute value is not xtext")]
    BadXtext,
    /// A value longer than 255 octets as sent.
    #[error("attribute value too long")]
    TooLong,
    /// A decoded value the attribute does not take: empty, a control character, a
    /// space or non-ASCII, an address or port that is not one, ...
    #[error("attribute value not allowed")]
    BadValue,
}

/// A command the peer sent that does not follow the grammar.
///
/// Each variant maps to the reply RFC 5321 (and the extension that defines the
/// command) says a server owes for it; [`ParseError::reply`] builds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The verb is not one this library knows (`500 5.5.2`).
    #[error("command unrecognized")]
    UnknownCommand,
    /// The line is not valid UTF-8 or holds a control character such as NUL (`500 5.5.2`).
    #[error("invalid characters in command")]
    InvalidCharacters,
    /// A known verb with arguments that do not fit its grammar (`501 5.5.4`).
    #[error("syntax error in parameters or arguments")]
    InvalidArguments,
    /// The reverse-path of `MAIL FROM` is not valid (`501 5.1.7`; `553 5.6.7` for non-ASCII).
    #[error("invalid sender address: {0}")]
    ReversePath(AddressError),
    /// The forward-path of `RCPT TO` is not valid (`501 5.1.3`; `553 5.6.7` for non-ASCII).
    #[error("invalid recipient address: {0}")]
    ForwardPath(AddressError),
    /// An ESMTP parameter with a value its extension does not allow (`501 5.5.4`).
    #[error("invalid value for parameter {0}")]
    InvalidParameter(&'static str),
    /// An `AUTH` initial response that is not base64 (`501 5.5.2`, RFC 4954 section 4).
    #[error("invalid base64 in AUTH")]
    InvalidBase64,
    /// The same ESMTP parameter given twice (`501 5.5.4`).
    #[error("parameter {0} given more than once")]
    DuplicateParameter(&'static str),
    /// `XCLIENT` or `XFORWARD` attributes that do not fit their grammar (`501 5.5.4`, as
    /// Postfix answers).
    #[error("invalid attribute: {0}")]
    Attribute(AttributeError),
}

impl ParseError {
    /// The reply code and enhanced status code (RFC 3463) a server answers with.
    pub fn status(&self) -> (ReplyCode, EnhancedStatus) {
        let syntax = |detail| (ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS, EnhancedStatus::new(5, 1, detail));
        match self {
            Self::UnknownCommand => (ReplyCode::SYNTAX_ERROR, EnhancedStatus::new(5, 5, 2)),
            // NUL and other control characters: an argument error, as Exim answers.
            Self::InvalidCharacters => (ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS, EnhancedStatus::new(5, 5, 2)),
            Self::InvalidBase64 => (ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS, EnhancedStatus::new(5, 5, 2)),
            Self::InvalidArguments | Self::InvalidParameter(_) | Self::DuplicateParameter(_) | Self::Attribute(_) => {
                (ReplyCode::SYNTAX_ERROR_IN_ARGUMENTS, EnhancedStatus::new(5, 5, 4))
            }
            Self::ReversePath(AddressError::NonAscii) | Self::ForwardPath(AddressError::NonAscii) => {
                (ReplyCode::MAILBOX_NAME_NOT_ALLOWED, EnhancedStatus::new(5, 6, 7))
            }
            Self::ReversePath(_) => syntax(7),
            Self::ForwardPath(_) => syntax(3),
        }
    }

    /// The reply a server owes the peer for this error, with the error as its text.
    pub fn reply(&self) -> Reply {
        let (code, enhanced) = self.status();
        Reply::new(code, alloc::format!("{self}")).with_enhanced(enhanced)
    }
}

/// Bytes from a server that are not a valid reply (RFC 5321 section 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line that does not start with a three-digit code in 200..=599 followed by
    /// a space, a hyphen or the end of the line.
    #[error("malformed reply line")]
    Malformed,
    /// The lines of one multi-line reply carry different codes.
    #[error("reply lines carry different codes")]
    MismatchedCodes,
    /// A reply line longer than the configured cap (RFC 5321 section 4.5.3.1.5: 512 octets).
    #[error("reply line too long")]
    LineTooLong,
    /// A multi-line reply with more lines than the configured cap.
    #[error("too many lines in one reply")]
    TooManyLines,
    /// A line ended by LF alone, with the framer told to refuse that.
    #[error("reply line ended by a bare LF")]
    BareLf,
}

/// A value the application asked to encode that cannot go on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Text holds CR, LF or another control character, which would let it end
    /// the line early and inject a command or reply (CR/LF injection).
    #[error("text contains CR, LF or another control character")]
    ControlCharacter,
    /// An argument is empty or does not fit its grammar (a mechanism name with a
    /// space, a parameter keyword with `=`, ...).
    #[error("argument does not fit the grammar")]
    InvalidArgument,
}

/// A decision the application gave a server session that it cannot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// The ticket was answered already: every ticket is answered once.
    #[error("this ticket was answered already")]
    Stale,
    /// The ticket belongs to another session.
    #[error("this ticket belongs to another session")]
    OtherSession,
    /// The session has closed, or is closing without this reply (a timeout, a flood of
    /// errors, a `421` decision or [`close`](crate::server::ServerSession::close)
    /// dropped it): nothing is sent and nothing changes.
    #[error("the session has closed")]
    Closed,
    /// The reply's code does not fit the decision: `accept_with` needs 2xx (`354` for
    /// `DATA`), `reject` needs 4xx or 5xx; a `HELO`/`EHLO` ticket takes `accept` or
    /// `reject` only; an enhanced status code must be of the reply's class (RFC 3463
    /// section 2: `550 2.1.5` is refused).
    #[error("reply code does not fit the decision")]
    WrongCode,
    /// The reply cannot be encoded.
    #[error("reply cannot be encoded: {0}")]
    Encode(EncodeError),
}

/// A call that does not fit the session's state: the application's mistake. The
/// session is left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MisuseError {
    /// `tls_established` without a TLS handshake asked for by `Output::StartTls`.
    #[error("no TLS handshake was asked for")]
    NoHandshake,
}

/// A configuration that contradicts itself or cannot go on the wire, found when it is
/// checked ([`ServerConfig::build`](crate::server::ServerConfig::build)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The hostname (a server's name, or a client's `EHLO` name) is not a domain or an
    /// address literal (RFC 5321 section 4.1.2).
    #[error("hostname {0:?} is not a domain or an address literal")]
    Hostname(alloc::string::String),
    /// The client's credentials fit none of its mechanisms (a password needs PLAIN or
    /// LOGIN, a token XOAUTH2 or OAUTHBEARER).
    #[error("the credentials fit none of the configured mechanisms")]
    Mechanisms,
    /// The greeting text holds a control character (CR and LF included).
    #[error("greeting text holds a control character")]
    Greeting,
    /// An extra EHLO keyword does not fit RFC 5321's `ehlo-line` grammar, or names an
    /// extension the session implements itself.
    #[error("EHLO keyword {0:?} is not valid here")]
    Keyword(alloc::string::String),
    /// AUTH mechanisms are configured, but AUTH can never be offered: no TLS (STARTTLS
    /// or implicit) and plaintext AUTH refused.
    #[error("AUTH is configured but can never be offered: enable TLS or plaintext_auth")]
    AuthNeverOffered,
    /// `submission` needs AUTH to be offered: every `MAIL` would be refused.
    #[error("submission needs at least one AUTH mechanism")]
    SubmissionWithoutAuth,
    /// `SMTPUTF8` needs `8BITMIME` (RFC 6531 section 3.1).
    #[error("SMTPUTF8 needs 8BITMIME")]
    Smtputf8WithoutEightBitMime,
    /// `BINARYMIME` needs `CHUNKING` (RFC 3030 section 3).
    #[error("BINARYMIME needs CHUNKING")]
    BinaryMimeWithoutChunking,
    /// `require_starttls` without `starttls`: no command but `NOOP`, `EHLO` and `QUIT`
    /// could ever be answered.
    #[error("require_starttls needs starttls")]
    RequireStartTlsWithoutStartTls,
    /// `REQUIRETLS` is offered only over TLS: it needs STARTTLS or implicit TLS.
    #[error("REQUIRETLS needs STARTTLS or implicit TLS")]
    RequireTlsWithoutTls,
    /// A limit of 0, or a command line cap under RFC 5321's 512 octets: nothing could
    /// be accepted. The field is named.
    #[error("{0} is too small")]
    Limit(&'static str),
    /// A limit advertised with `LIMITS` (`advertise_limits`) is over the 999999 that RFC
    /// 9422's grammar allows (six digits): clients would ignore it. The field is named.
    #[error("{0} is too large to advertise with LIMITS (at most 999999)")]
    LimitTooLarge(&'static str),
}
