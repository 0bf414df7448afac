//! What a server offers and how strict it is.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::ConfigError;
use crate::framing::LineFramer;
use crate::sasl::Mechanism;
use crate::timeout::ServerTimeouts;
use crate::wire::AddressLimits;

use super::checked::Server;

/// What to do with a message whose body holds a bare CR or bare LF (RFC 5321
/// section 2.3.8 forbids both). Postfix's `smtpd_forbid_bare_newline` is the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareLineEndingPolicy {
    /// Read the body to its end, then refuse it with `550 5.5.2`. SMTP smuggling
    /// needs a server that reads such endings differently from the next hop; one that
    /// refuses them cannot be used for it.
    #[default]
    Reject,
    /// Deliver the body with each bare CR and bare LF rewritten as CRLF.
    Normalize,
    /// Deliver the body as it came.
    Pass,
}

/// What to do with a command line that ends in a bare LF (RFC 5321 section 2.3.8: only
/// CRLF ends a line). Postfix's `smtpd_forbid_bare_newline` is the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommandBareLf {
    /// Answer `500 5.5.2` and close: what follows the LF is never run as another
    /// command, so a proxy that splits lines otherwise cannot smuggle one in.
    #[default]
    Reject,
    /// Take LF as the end of the line, as old clients and hand-typed sessions expect.
    Normalize,
}

/// The synchronisation checks: a client that sends what it must not send yet (before a
/// reply it has to wait for) is out of step with the server, by mistake or as an attack
/// (spam bots that talk before the greeting, desynchronisation tricks). Each check
/// answers `554 5.5.0` and closes. All are on by default; [`SyncChecks::NONE`] turns
/// them off.
///
/// "Sent before the reply" is decided at the sans-IO boundary: input handed to the
/// session (in the same read as the command, or in a later one) before `poll_output`
/// handed out the reply the client had to wait for. How reads are cut decides what is
/// seen together, so these checks, unlike everything else the session does, can give
/// a different result for the same bytes cut differently: a client that waits for
/// each reply it must wait for never trips them, however its bytes are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncChecks {
    /// Input before the greeting (postscreen's pre-greet test): with
    /// [`ServerConfig::greet_delay`], anything sent during the delay.
    pub before_greeting: bool,
    /// Commands after `HELO`, `EHLO`, `LHLO`, `STARTTLS` or `QUIT` before its reply:
    /// each must be the last of a pipelined group (RFC 2920 section 3.1, RFC 3207
    /// section 4).
    pub group_end: bool,
    /// Message text after `DATA` before the `354` (RFC 2920 section 3.1: `DATA` ends a
    /// group; RFC 5321 section 4.1.1.4: the body follows the 354).
    pub early_body: bool,
    /// Any command before the reply to the one before it, from a client that was not
    /// offered `PIPELINING` (not offered at all, or the client greeted with `HELO`;
    /// Postfix's `reject_unauth_pipelining`).
    pub unoffered_pipelining: bool,
}

impl SyncChecks {
    /// Every check on: the default.
    pub const ALL: Self = Self { before_greeting: true, group_end: true, early_body: true, unoffered_pipelining: true };
    /// Every check off: for tests that send a whole conversation at once, and for
    /// peers known to be sloppy.
    pub const NONE: Self =
        Self { before_greeting: false, group_end: false, early_body: false, unoffered_pipelining: false };
}

impl Default for SyncChecks {
    fn default() -> Self {
        Self::ALL
    }
}

/// A server session's configuration. Start from [`ServerConfig::new`] and change
/// the fields you need; the defaults are RFC 5321's limits and a safe, modern
/// extension set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The name the server gives in its greeting and its `EHLO` reply.
    pub hostname: String,
    /// Text after the hostname in the `220` greeting.
    pub greeting: String,
    /// Offer `PIPELINING` (RFC 2920). Pipelined commands are answered in order either way.
    pub pipelining: bool,
    /// The largest message accepted, offered as `SIZE` (RFC 1870). `None`: no limit,
    /// `SIZE` offered without one.
    pub max_message_size: Option<u64>,
    /// Offer `8BITMIME` (RFC 6152).
    pub eight_bit_mime: bool,
    /// Offer `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// Offer `CHUNKING`, the `BDAT` command (RFC 3030).
    pub chunking: bool,
    /// Offer `BINARYMIME` (RFC 3030); only with `chunking`.
    pub binary_mime: bool,
    /// Offer `DSN` (RFC 3461): the `RET`, `ENVID`, `NOTIFY` and `ORCPT` parameters.
    pub dsn: bool,
    /// Offer `ENHANCEDSTATUSCODES` (RFC 2034), and put an enhanced status code on every
    /// reply but the greeting, `HELO`/`EHLO`'s and 3xx (the application's too, when it
    /// gives none). Off: no reply carries one.
    pub enhanced_status_codes: bool,
    /// Offer `STARTTLS` (RFC 3207) while the connection is not yet encrypted. The
    /// driver must be able to upgrade it when asked ([`Output::StartTls`](crate::Output::StartTls)).
    pub starttls: bool,
    /// Require TLS before anything but `NOOP`, `EHLO`, `STARTTLS` and `QUIT`: every
    /// other command gets `530 5.7.0` until the handshake (RFC 3207 section 4). Needs
    /// `starttls`. A server that receives mail from the internet must not require it
    /// (RFC 3207 section 4): this is for submission and private relays.
    pub require_starttls: bool,
    /// Offer `REQUIRETLS` (RFC 8689) once the connection is encrypted.
    pub requiretls: bool,
    /// SASL mechanisms offered with `AUTH` (RFC 4954). Empty: no `AUTH`.
    pub auth_mechanisms: Vec<Mechanism>,
    /// Accept `AUTH` before TLS. Off by default: a password in plaintext is answered
    /// `538 5.7.11` (RFC 4954 section 6).
    pub plaintext_auth: bool,
    /// The connection is encrypted from the start (implicit TLS, port 465).
    pub implicit_tls: bool,
    /// Submission (RFC 6409): `MAIL` needs a successful `AUTH` first (`530 5.7.0`).
    pub submission: bool,
    /// LMTP (RFC 2033): `LHLO` instead of `HELO`/`EHLO`, and one reply per recipient
    /// after the body.
    pub lmtp: bool,
    /// Recipients per transaction; the next one gets `452 4.5.3` (RFC 5321 section
    /// 4.5.3.1.10 says at least 100 must be accepted).
    pub max_recipients: usize,
    /// Transactions (`MAIL` commands) per connection; the next `MAIL` gets `451 4.5.3`
    /// and the client is to reconnect (RFC 9422's `MAILMAX`). `None`: no limit.
    pub max_messages: Option<u32>,
    /// Different recipient domains per transaction; a `RCPT` for one more gets
    /// `452 4.5.3` (RFC 9422's `RCPTDOMAINMAX`). `None`: no limit.
    pub max_recipient_domains: Option<usize>,
    /// Offer `LIMITS` (RFC 9422) in the `EHLO` reply: `RCPTMAX` (`max_recipients`), and
    /// `MAILMAX` and `RCPTDOMAINMAX` when those limits are set. Off by default.
    pub advertise_limits: bool,
    /// Errors (unknown commands, bad syntax, bad sequence) before the server answers
    /// `421 4.7.0` and closes.
    pub max_errors: u32,
    /// The longest command line, CRLF included (RFC 5321 section 4.5.3.1.4: 512).
    pub max_command_line: usize,
    /// The longest `AUTH` command or SASL response line (RFC 4954 section 4: 12288).
    pub max_auth_line: usize,
    /// Path length limits (RFC 5321 section 4.5.3.1).
    pub address_limits: AddressLimits,
    /// Refuse envelopes that RFC 5321 refuses (`MAIL FROM: <a@b>`, no angle brackets,
    /// display names). Off by default, like Postfix's `strict_rfc821_envelopes = no`.
    pub strict: bool,
    /// What to do with bare CR and bare LF in a message body.
    pub bare_line_endings: BareLineEndingPolicy,
    /// What to do with a command line ended by a bare LF.
    pub command_bare_lf: CommandBareLf,
    /// Commands that move no mail (`NOOP`, `RSET`, `VRFY`, `EXPN`, `HELP`) a client may
    /// send before each further one counts as an error (Postfix's
    /// `smtpd_junk_command_limit`): a client cannot hold a connection for ever with
    /// them. The count starts again with each message accepted. 100 by default.
    pub max_junk_commands: u32,
    /// `AUTH` attempts the application refuses on one connection before the session
    /// answers `421 4.7.0` and closes (a brute-force brake); 3 by default.
    pub max_auth_failures: u32,
    /// Inactivity timeouts, and the deadline for a whole command line.
    pub timeouts: ServerTimeouts,
    /// The synchronisation checks ([`SyncChecks`]): all on by default.
    pub sync_checks: SyncChecks,
    /// Wait this long before the greeting (postscreen's pre-greet test): a client that
    /// talks first is out of step ([`SyncChecks::before_greeting`]). Spam bots often
    /// do; real clients wait. `None` (the default): greet at once. The session asks for
    /// the wait with [`Output::Wait`](crate::Output::Wait); call `handle_timeout` when
    /// it is over.
    pub greet_delay: Option<core::time::Duration>,
    /// Every connection starts with a PROXY protocol header (HAProxy's v1, v2 or
    /// either), sent by the load balancer in front; the session reads it before it
    /// greets, and hands its addresses over ([`ServerEvent::Proxied`](super::ServerEvent::Proxied)).
    /// A connection without a valid header is closed without a greeting
    /// ([`ServerEvent::ProxyRefused`](super::ServerEvent::ProxyRefused)). `None` (the
    /// default): no header is ever taken. Turn it on only when every connection comes
    /// through the balancer: whoever can connect directly could claim any address.
    pub proxy_protocol: Option<crate::proxy::ProxyVersions>,
    /// Hand `HELO`, `EHLO` and `LHLO` to the application to decide
    /// ([`ServerEvent::Hello`](super::ServerEvent::Hello) with a ticket), for example to
    /// refuse a client by the name it gives. Off: the session answers `250` itself.
    pub decide_hello: bool,
    /// Hand `VRFY` to the application ([`ServerEvent::Verify`](super::ServerEvent::Verify)).
    /// Off (the default): the session answers `252 2.5.0`, as RFC 5321 section 3.5.3
    /// allows a server that will not say.
    pub decide_vrfy: bool,
    /// Hand `EXPN` to the application ([`ServerEvent::Expand`](super::ServerEvent::Expand))
    /// and list `EXPN` in the `EHLO` reply (RFC 5321 section 3.5.2). Off (the default):
    /// the session answers `502 5.5.1`, and `EXPN` is not listed.
    pub decide_expn: bool,
    /// More `EHLO` lines, each a keyword and its parameters (`XFOO bar`), offered after
    /// the session's own. They must fit RFC 5321's `ehlo-line` grammar and not name an
    /// extension the session implements ([`build`](Self::build) checks).
    pub extra_keywords: Vec<String>,
}

impl ServerConfig {
    /// The defaults for a server called `hostname`: `PIPELINING`, `SIZE 10240000`,
    /// `8BITMIME`, `SMTPUTF8`, `CHUNKING`, `ENHANCEDSTATUSCODES`; no TLS, no AUTH; 100
    /// recipients, 20 errors, 512-octet command lines; lenient envelopes; bare line
    /// endings refused.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            greeting: String::from("ESMTP ready"),
            pipelining: true,
            max_message_size: Some(10_240_000),
            eight_bit_mime: true,
            smtputf8: true,
            chunking: true,
            binary_mime: false,
            dsn: false,
            enhanced_status_codes: true,
            starttls: false,
            require_starttls: false,
            requiretls: false,
            auth_mechanisms: Vec::new(),
            plaintext_auth: false,
            implicit_tls: false,
            submission: false,
            lmtp: false,
            max_recipients: 100,
            max_messages: None,
            max_recipient_domains: None,
            advertise_limits: false,
            max_errors: 20,
            max_command_line: LineFramer::COMMAND_LINE,
            max_auth_line: LineFramer::AUTH_LINE,
            address_limits: AddressLimits::default(),
            strict: false,
            bare_line_endings: BareLineEndingPolicy::default(),
            command_bare_lf: CommandBareLf::default(),
            max_auth_failures: 3,
            max_junk_commands: 100,
            timeouts: ServerTimeouts::default(),
            sync_checks: SyncChecks::ALL,
            greet_delay: None,
            proxy_protocol: None,
            decide_hello: false,
            decide_vrfy: false,
            decide_expn: false,
            extra_keywords: Vec::new(),
        }
    }

    /// Checks the configuration and makes the [`Server`] that sessions are started
    /// from. A configuration that contradicts itself, or holds text that cannot go on
    /// the wire, is refused here rather than behaving oddly at run time.
    ///
    /// ```
    /// use smtp_sansio::ConfigError;
    /// use smtp_sansio::server::ServerConfig;
    ///
    /// assert!(ServerConfig::new("mx.example.org").build().is_ok());
    /// assert_eq!(ServerConfig::new("mx.example.org\r\n250 evil").build().unwrap_err(),
    ///            ConfigError::Hostname("mx.example.org\r\n250 evil".into()));
    /// let mut config = ServerConfig::new("mx.example.org");
    /// config.submission = true; // but no AUTH mechanism: every MAIL would get 530
    /// assert_eq!(config.build().unwrap_err(), ConfigError::SubmissionWithoutAuth);
    /// ```
    pub fn build(self) -> Result<Server, ConfigError> {
        Server::new(self)
    }
}
