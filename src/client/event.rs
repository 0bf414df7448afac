//! What a client session tells its application.

use alloc::vec::Vec;

use crate::wire::{Capabilities, ClientAttributes, ForwardPath, MailParameters, RcptParameters, Reply, ReversePath};

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
    /// for a server without `DSN`). Events name a recipient by its index here, also when
    /// the server's `LIMITS` split the message into several transactions.
    pub recipients: Vec<(ForwardPath<'static>, RcptParameters<'static>)>,
    /// The original client's attributes for this message, for a content filter or proxy
    /// that hands mail on (Postfix's XFORWARD_README): sent with `XFORWARD` before the
    /// message's `MAIL` (before each `MAIL` of a message the server's `LIMITS` split)
    /// when the server's `EHLO` reply offers `XFORWARD`; with PIPELINING in the same
    /// group as `MAIL` (`DATA` then waits for the group's replies, so that a refused
    /// `XFORWARD` never meets a `354`), otherwise each line after the reply to the one
    /// before.
    ///
    /// Only the attributes the server lists in its `XFORWARD` keyword are sent, the
    /// others are left out, as Postfix's `smtp` client does (`XFORWARD NAME ADDR` gets
    /// `NAME` and `ADDR` and nothing else; an `XFORWARD` keyword that lists none gets
    /// nothing); attributes `XFORWARD` does not define (`LOGIN`, `REVERSE_NAME`,
    /// `DESTADDR`, `DESTPORT`) never go. Without an `XFORWARD` offer nothing is sent and
    /// the message goes as usual. A refusal fails the message
    /// ([`Failure::Rejected`] with [`Stage::Xforward`]); attributes that would be sent
    /// but cannot be encoded fail it before anything goes
    /// ([`LocalFailure::Encoding`]). `None` ([`Envelope::new`]'s): no `XFORWARD`.
    pub xforward: Option<ClientAttributes>,
}

impl Envelope {
    /// An envelope from `from` to `recipients`, with no parameters and no `XFORWARD`
    /// attributes.
    pub fn new(from: ReversePath<'static>, recipients: impl IntoIterator<Item = ForwardPath<'static>>) -> Self {
        let recipients = recipients.into_iter().map(|to| (to, RcptParameters::default())).collect();
        Self { from, params: MailParameters::default(), recipients, xforward: None }
    }

    /// Declares what `body` needs: its size (for `SIZE`), and `BODY=8BITMIME` if it has
    /// octets above 127 (RFC 6152).
    #[must_use]
    ///
    /// The declared size is that of the message as it goes (RFC 1870 section 6: not
    /// below the real size): each bare CR or LF counts as the CRLF it becomes, and a
    /// final CRLF is counted when the body lacks one. Dot-stuffing is not counted.
    pub fn for_body(mut self, body: &[u8]) -> Self {
        self.params.size = Some(canonical_size(body));
        if self.params.body.is_none() && !body.is_ascii() {
            self.params.body = Some(crate::wire::BodyType::EightBitMime);
        }
        self
    }
}

/// The size of `body` with every line ending CRLF and a final CRLF.
fn canonical_size(body: &[u8]) -> u64 {
    let mut size = body.len() as u64;
    let mut previous = 0u8;
    for (index, &byte) in body.iter().enumerate() {
        let bare_cr = byte == b'\r' && body.get(index + 1) != Some(&b'\n');
        let bare_lf = byte == b'\n' && previous != b'\r';
        size += u64::from(bare_cr || bare_lf);
        previous = byte;
    }
    if !body.is_empty() && !body.ends_with(b"\n") && !body.ends_with(b"\r") {
        size += 2;
    }
    size
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
    /// `AUTH` failed or could not be tried, and
    /// [`ClientConfig::auth_optional`](super::ClientConfig::auth_optional) lets the
    /// session carry on unauthenticated. (Without it, every message fails with
    /// [`Failure::AuthFailed`] and the session ends.)
    AuthFailed {
        /// The server's refusal, or `None` when no offered mechanism fitted or the
        /// connection is not encrypted and plaintext AUTH is off.
        reply: Option<Reply>,
    },
    /// The server is ready for this message's body: call
    /// [`push_body`](super::ClientSession::push_body) with its pieces, then
    /// [`end_body`](super::ClientSession::end_body).
    ///
    /// Once per transaction: a message that the server's `LIMITS` (RFC 9422 section 4:
    /// `RCPTMAX`, `RCPTDOMAINMAX`) split into several transactions asks for its body once
    /// for each, and the application pushes the whole body again each time (a spool-backed
    /// application reads its file again). Without `LIMITS`, or when the envelope fits,
    /// it comes once.
    BodyWanted {
        /// The message.
        message: MessageId,
    },
    /// The server's answer for one recipient (its index in the envelope): its `RCPT`
    /// reply. Once per recipient, also when the message goes in several transactions.
    Recipient {
        /// The message.
        message: MessageId,
        /// The recipient's index in [`Envelope::recipients`].
        index: usize,
        /// The reply.
        reply: Reply,
    },
    /// LMTP (RFC 2033 section 4.2): the outcome of the message for one recipient, after
    /// the body of the transaction it went in.
    Delivery {
        /// The message.
        message: MessageId,
        /// The recipient's index in [`Envelope::recipients`].
        index: usize,
        /// The reply.
        reply: Reply,
    },
    /// The message was accepted (for the recipients whose `RCPT` was accepted); the reply
    /// often names a queue id. Not sent for LMTP, where each recipient has its
    /// [`Delivery`](Self::Delivery).
    ///
    /// A message split into several transactions (RFC 9422 `LIMITS`) is accepted when
    /// every transaction that had a recipient accepted was accepted; the reply is the
    /// last one's. Recipients refused at `RCPT` are in their
    /// [`Recipient`](Self::Recipient) events, as for a message in one transaction.
    Accepted {
        /// The message.
        message: MessageId,
        /// The server's reply (after a split message's last accepted transaction).
        reply: Reply,
    },
    /// The message was not accepted, or (see [`Failure::Partial`]) not for all its
    /// recipients. One per message: a message split into several transactions ends with
    /// one `Accepted` or one `Failed`, whatever the number of transactions.
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

/// Why a message was not accepted. [`is_transient`](Self::is_transient) says whether
/// sending it again later (to this server or another) can succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The server refused a command of the message: which one, and its whole reply
    /// (enhanced status code included).
    Rejected {
        /// The command the server refused.
        stage: Stage,
        /// Its reply.
        reply: Reply,
    },
    /// The server refused every recipient: their replies, in envelope order. Transient
    /// when every one is 4xx (greylisting) or 552 (too many recipients, RFC 5321 section
    /// 4.5.3.1.10), permanent otherwise.
    NoRecipients {
        /// Each recipient's refusal, in envelope order.
        replies: Vec<Reply>,
    },
    /// The message cannot go to this server, and nothing of it was sent.
    Local(LocalFailure),
    /// Authentication was required and did not succeed, so no message went: the
    /// server's refusal (transient for 4xx such as `454`), or `None` when no offered
    /// mechanism fits the credentials or the connection is not encrypted. When the
    /// connection is not encrypted because the server refused `STARTTLS`, that refusal
    /// is the reply (a `454` makes it transient).
    AuthFailed(Option<Reply>),
    /// The session ended first.
    SessionEnded(CloseReason),
    /// The server's `MAILMAX` (RFC 9422 section 4) was reached on this connection: the
    /// client sent as many transactions as the server takes, so this message (or the rest
    /// of it) was not tried here. Transient: a new connection may take it. The session
    /// sends `QUIT` once its last transaction is over.
    Reconnect,
    /// A message that the server's `LIMITS` (RFC 9422) split into several transactions
    /// failed after some of its recipients were delivered: those in `delivered`. Every
    /// other recipient was not delivered, for `failure`, unless it was refused on its own
    /// (its [`ClientEvent::Recipient`] or, in LMTP, [`ClientEvent::Delivery`] reply says
    /// why). An MTA sends again to exactly those: not in `delivered`, and not refused for
    /// good on their own. Transient when `failure` is.
    ///
    /// Only for a split message some of whose recipients were delivered; a message that
    /// went in one transaction, or of which nothing was delivered, fails as it would
    /// without `LIMITS` (the failure alone).
    Partial {
        /// The recipients the server took (their indexes in [`Envelope::recipients`],
        /// ascending): accepted by `RCPT` in a transaction whose body was accepted; in LMTP,
        /// those whose delivery reply was positive.
        delivered: Vec<usize>,
        /// Why the others were not delivered: the failure of the transaction that
        /// failed ([`Rejected`](Self::Rejected), [`SessionEnded`](Self::SessionEnded),
        /// [`Undelivered`](Self::Undelivered), [`Reconnect`](Self::Reconnect), ...).
        failure: alloc::boxed::Box<Failure>,
    },
    /// LMTP: the session ended after the body, before these recipients' outcomes came
    /// (their indexes in the envelope, ascending; for a message split into several
    /// transactions, with the recipients of the transactions not sent yet). The
    /// recipients whose outcome came were reported with [`ClientEvent::Delivery`]; only
    /// these need another try.
    Undelivered {
        /// The recipients without an outcome.
        recipients: Vec<usize>,
        /// Why the session ended.
        reason: CloseReason,
    },
}

impl Failure {
    /// Whether trying again later may succeed: a 4xx reply (every recipient's, for
    /// [`NoRecipients`](Self::NoRecipients)), the session ending for a transient
    /// reason ([`CloseReason::is_transient`]), [`Reconnect`](Self::Reconnect), or a
    /// [`Partial`](Self::Partial) failure whose failure is transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Rejected { reply, .. } => reply.code().is_transient(),
            // RFC 5321 section 4.5.3.1.10: a 552 to RCPT (too many recipients) is to be
            // taken as the 452 it should have been.
            Self::NoRecipients { replies } => {
                !replies.is_empty()
                    && replies.iter().all(|reply| reply.code().is_transient() || reply.code().get() == 552)
            }
            Self::Local(_) => false,
            Self::AuthFailed(reply) => reply.as_ref().is_some_and(|reply| reply.code().is_transient()),
            Self::SessionEnded(reason) | Self::Undelivered { reason, .. } => reason.is_transient(),
            Self::Reconnect => true,
            Self::Partial { failure, .. } => failure.is_transient(),
        }
    }

    /// The recipients delivered before the message failed (their indexes in
    /// [`Envelope::recipients`], ascending): those of [`Partial`](Self::Partial), none
    /// for any other failure.
    pub fn delivered(&self) -> &[usize] {
        match self {
            Self::Partial { delivered, .. } => delivered,
            _ => &[],
        }
    }

    /// The server's reply behind the failure, if there is one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Self::Rejected { reply, .. } => Some(reply),
            Self::NoRecipients { replies } => replies.first(),
            Self::AuthFailed(reply) => reply.as_ref(),
            Self::SessionEnded(reason) | Self::Undelivered { reason, .. } => reason.reply(),
            Self::Partial { failure, .. } => failure.reply(),
            Self::Local(_) | Self::Reconnect => None,
        }
    }
}

/// Which command of a message the server refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// `MAIL FROM`.
    Mail,
    /// `DATA` (before the body).
    Data,
    /// A `BDAT` chunk before the last.
    Chunk,
    /// The end of the body: the reply after the final `.`, or to `BDAT ... LAST`.
    EndOfData,
    /// An `XFORWARD` line sent before `MAIL` with the attributes of
    /// [`Envelope::xforward`] (Postfix's XFORWARD_README): the message goes no further;
    /// the replies still owed for what was pipelined with it are read, and `RSET`
    /// precedes the next message.
    Xforward,
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
    /// `REQUIRETLS`, and the connection is not encrypted or the server does not offer
    /// it: RFC 8689 section 4 forbids sending such a message to this server.
    NeedsRequireTls,
    /// A parameter that changes delivery (`HOLDFOR`/`HOLDUNTIL` of FUTURERELEASE, `BY` of
    /// DELIVERBY), and the server does not offer its extension: this keyword.
    NotOffered(&'static str),
    /// No recipients.
    NoRecipients,
    /// A command could not be encoded: an argument with a control character, or
    /// [`Envelope::xforward`] attributes the `XFORWARD` grammar refuses (see
    /// [`ClientAttributes::encode`]).
    Encoding,
}

/// Why a client session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// `QUIT` was answered: the session ended as asked, or because it sent as many
    /// transactions as the server's `MAILMAX` (RFC 9422) allows.
    Quit,
    /// The server refused the session: a greeting other than `220`, a `421` at any
    /// time, or a refused `EHLO` and `HELO`.
    Rejected(Reply),
    /// TLS was required and the server cannot do it: it does not offer STARTTLS
    /// (`None`), or refused it with this reply (transient for a 4xx such as `454`,
    /// RFC 3207 section 4).
    TlsUnavailable(Option<Reply>),
    /// Authentication was required and did not succeed (see [`Failure::AuthFailed`]).
    AuthFailed(Option<Reply>),
    /// The server sent something that is not a reply, or a reply to nothing (response
    /// injection), or bytes after its `220` to `STARTTLS`.
    ProtocolViolation,
    /// The server closed the connection.
    Eof,
    /// The server went quiet.
    Timeout,
    /// [`ClientSession::xclient`](super::ClientSession::xclient) was asked for, and the
    /// server does not offer `XCLIENT` (`None`) or refused it with this reply
    /// (transient for a 4xx). No mail went: a proxy must not pass it on as itself.
    XclientRefused(Option<Reply>),
}

impl CloseReason {
    /// Whether a new connection may do better: the server closed or refused with a
    /// transient reason (`421`, a 4xx AUTH refusal), went quiet or away, or broke the
    /// protocol once. A connection pool reconnects for these; it does not for a
    /// permanent refusal, missing TLS, or a credential the server refused for good.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Quit | Self::ProtocolViolation | Self::Eof | Self::Timeout => true,
            Self::Rejected(reply) => !reply.code().is_permanent(),
            Self::AuthFailed(reply) => reply.as_ref().is_some_and(|reply| reply.code().is_transient()),
            Self::TlsUnavailable(reply) | Self::XclientRefused(reply) => {
                reply.as_ref().is_some_and(|reply| reply.code().is_transient())
            }
        }
    }

    /// The server's reply behind it, if there is one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Self::Rejected(reply) => Some(reply),
            Self::AuthFailed(reply) | Self::TlsUnavailable(reply) | Self::XclientRefused(reply) => reply.as_ref(),
            _ => None,
        }
    }
}
