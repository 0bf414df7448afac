//! What a client session tells its application.

use alloc::vec::Vec;

use crate::wire::{Capabilities, ForwardPath, MailParameters, RcptParameters, Reply, ReversePath};

/// Names a message the application enqueued with
/// [`ClientSession::send`](super::ClientSession::send).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub(crate) u64);

/// Who a message is from and for, and how it should go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path (`<>` for a bounce).
    pub from: ReversePath<'static>,
    /// `MAIL` parameters. `size` is the message size the client declares (and checks
    /// against the server's `SIZE`); `body` says what the body holds. Parameters of
    /// extensions the server does not offer are left out (`SIZE`, `RET`, `ENVID`), or
    /// fail the message locally when leaving them out would be wrong (`8BITMIME`,
    /// `BINARYMIME`, `SMTPUTF8`).
    pub params: MailParameters<'static>,
    /// The recipients, each with its `RCPT` parameters (`NOTIFY`/`ORCPT` are left out
    /// for a server without `DSN`).
    pub recipients: Vec<(ForwardPath<'static>, RcptParameters<'static>)>,
}

impl Envelope {
    /// An envelope from `from` to `recipients`, with no parameters.
    pub fn new(from: ReversePath<'static>, recipients: impl IntoIterator<Item = ForwardPath<'static>>) -> Self {
        let recipients = recipients.into_iter().map(|to| (to, RcptParameters::default())).collect();
        Self { from, params: MailParameters::default(), recipients }
    }

    /// Declares what `body` needs: its size (for `SIZE`), and `BODY=8BITMIME` if it has
    /// octets above 127 (RFC 6152).
    #[must_use]
    pub fn for_body(mut self, body: &[u8]) -> Self {
        self.params.size = Some(body.len() as u64);
        if self.params.body.is_none() && !body.is_ascii() {
            self.params.body = Some(crate::wire::BodyType::EightBitMime);
        }
        self
    }
}

/// Something that happened in a client session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The session is ready for messages: greeted, upgraded to TLS and authenticated as
    /// configured. Comes again after each `EHLO` the session sends.
    Ready {
        /// What the server offers (empty after `HELO`).
        capabilities: Capabilities,
        /// Whether the connection is encrypted.
        tls: bool,
        /// Whether the client authenticated.
        authenticated: bool,
    },
    /// `AUTH` failed or could not be tried; the session carries on unauthenticated.
    AuthFailed {
        /// The server's refusal, or `None` when no offered mechanism fitted or the
        /// connection is not encrypted and plaintext AUTH is off.
        reply: Option<Reply>,
    },
    /// The server is ready for this message's body: call
    /// [`push_body`](super::ClientSession::push_body) with its pieces, then
    /// [`end_body`](super::ClientSession::end_body).
    BodyWanted {
        /// The message.
        message: MessageId,
    },
    /// The server's answer for one recipient (its index in the envelope).
    Recipient {
        /// The message.
        message: MessageId,
        /// The recipient's index in [`Envelope::recipients`].
        index: usize,
        /// The reply.
        reply: Reply,
    },
    /// LMTP (RFC 2033 section 4.2): the outcome of the message for one recipient.
    Delivery {
        /// The message.
        message: MessageId,
        /// The recipient's index in [`Envelope::recipients`].
        index: usize,
        /// The reply.
        reply: Reply,
    },
    /// The message was accepted; the reply often names a queue id.
    Accepted {
        /// The message.
        message: MessageId,
        /// The server's reply.
        reply: Reply,
    },
    /// The message was not accepted.
    Failed {
        /// The message.
        message: MessageId,
        /// Why.
        failure: Failure,
    },
    /// The session is over (an [`Output::Closed`](crate::Output::Closed) follows).
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The server refused it (`MAIL`, `DATA`, a `BDAT` chunk or the end of data).
    Rejected(Reply),
    /// The server refused every recipient.
    NoRecipients,
    /// The message cannot go to this server, and was not sent.
    Local(LocalFailure),
    /// The session ended first.
    SessionEnded(CloseReason),
}

impl Failure {
    /// Whether trying again later may succeed: a 4xx reply, or the session ending for
    /// a transient reason.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Rejected(reply) => reply.code().is_transient(),
            Self::NoRecipients | Self::Local(_) => false,
            Self::SessionEnded(reason) => {
                !matches!(reason, CloseReason::Rejected(reply) if reply.code().is_permanent())
            }
        }
    }
}

/// Why the client refused to send a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalFailure {
    /// The declared size is over the server's `SIZE` limit (RFC 1870).
    TooBig,
    /// A UTF-8 address, and the server does not offer `SMTPUTF8` (RFC 6531).
    NeedsSmtpUtf8,
    /// An 8-bit body, and the server does not offer `8BITMIME` (RFC 6152).
    NeedsEightBitMime,
    /// `BODY=BINARYMIME`, and the server does not offer `BINARYMIME` and `CHUNKING`.
    NeedsBinaryMime,
    /// No recipients.
    NoRecipients,
    /// A command could not be encoded (an argument with a control character).
    Encoding,
}

/// Why a client session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// `QUIT` was answered.
    Quit,
    /// The server refused the session: a greeting other than `220`, a `421` at any
    /// time, or a refused `EHLO` and `HELO`.
    Rejected(Reply),
    /// TLS was required and the server cannot do it.
    TlsUnavailable,
    /// The server sent something that is not a reply, or a reply to nothing (response
    /// injection), or bytes after its `220` to `STARTTLS`.
    ProtocolViolation,
    /// The server closed the connection.
    Eof,
    /// The server went quiet.
    Timeout,
}
