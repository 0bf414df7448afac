//! What a server session tells its application.

use alloc::boxed::Box;
use alloc::string::String;

use bytes::Bytes;

use super::envelope::{MailCommand, RcptCommand};
use crate::sasl::{Credentials, Mechanism};
use crate::wire::Host;

/// Names one decision the application owes the session. Answer it with
/// [`ServerSession::accept`](super::ServerSession::accept),
/// [`accept_with`](super::ServerSession::accept_with) or
/// [`reject`](super::ServerSession::reject), now or later, in any order: replies still
/// go out in the order of the commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(pub(crate) u64);

/// Something that happened in a server session. The ones with a [`Ticket`] wait for a
/// decision; the session answers the rest itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// The client greeted with `HELO`, `EHLO` or `LHLO`, and was answered `250`.
    Hello {
        /// The name it gave.
        host: Host<'static>,
        /// `EHLO` or `LHLO` (extensions offered) rather than `HELO`.
        extended: bool,
    },
    /// `MAIL FROM`: accept to start a transaction (`250 2.1.0`).
    Mail {
        /// What to answer.
        ticket: Ticket,
        /// The command: the sender ([`MailCommand::from`]) and its parameters.
        command: MailCommand,
    },
    /// `RCPT TO`: accept to add the recipient (`250 2.1.5`).
    Rcpt {
        /// What to answer.
        ticket: Ticket,
        /// The command: the recipient ([`RcptCommand::to`]) and its parameters.
        command: RcptCommand,
    },
    /// `DATA`, with at least one recipient accepted: accept to read the body (`354`).
    Data {
        /// What to answer.
        ticket: Ticket,
    },
    /// The next piece of the message body, dot-unstuffed (for `DATA`) and with bare
    /// line endings handled by the configured policy.
    BodyChunk(Bytes),
    /// The body is complete (`<CRLF>.<CRLF>`, or `BDAT ... LAST`): accept to take
    /// responsibility for the message (`250 2.0.0`; say the queue id with
    /// `accept_with`). In LMTP, [`ServerEvent::Delivery`] events follow instead.
    MessageEnd {
        /// What to answer (SMTP only; in LMTP it needs no answer).
        ticket: Ticket,
    },
    /// LMTP (RFC 2033 section 4.2): the outcome for one accepted recipient, one event
    /// each, in `RCPT` order, after [`ServerEvent::MessageEnd`].
    Delivery {
        /// What to answer.
        ticket: Ticket,
        /// The recipient's `RCPT` command.
        recipient: RcptCommand,
    },
    /// The transaction ended without a message: say where the partial body went.
    TransactionAborted(AbortReason),
    /// `AUTH` credentials to check: accept (`235 2.7.0`) or reject (`535 5.7.8`).
    Auth {
        /// What to answer.
        ticket: Ticket,
        /// The mechanism used.
        mechanism: Mechanism,
        /// What the client sent (boxed: it is large, and rare).
        credentials: Box<Credentials>,
    },
    /// `VRFY`: the default answer is `252 2.5.0` (the server will not say).
    Verify {
        /// What to answer.
        ticket: Ticket,
        /// The argument, as given.
        target: String,
    },
    /// `EXPN`: the default answer is `252 2.5.0`.
    Expand {
        /// What to answer.
        ticket: Ticket,
        /// The argument, as given.
        list: String,
    },
    /// Bytes that arrived after `STARTTLS` in plaintext were thrown away unread
    /// (an injection attempt, CVE-2011-0411).
    PlaintextDiscarded {
        /// How many.
        bytes: usize,
    },
}

impl ServerEvent {
    /// The ticket to answer, for an event that waits for a decision.
    pub fn ticket(&self) -> Option<Ticket> {
        match self {
            Self::Mail { ticket, .. }
            | Self::Rcpt { ticket, .. }
            | Self::Data { ticket }
            | Self::MessageEnd { ticket }
            | Self::Delivery { ticket, .. }
            | Self::Auth { ticket, .. }
            | Self::Verify { ticket, .. }
            | Self::Expand { ticket, .. } => Some(*ticket),
            Self::Hello { .. } | Self::BodyChunk(_) | Self::TransactionAborted(_) | Self::PlaintextDiscarded { .. } => {
                None
            }
        }
    }
}

/// Why a transaction ended without a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// `RSET`, or a new `EHLO`/`HELO`/`LHLO`.
    Reset,
    /// The body grew past the size limit (`552 5.3.4` once it ended).
    TooBig,
    /// The body held a bare CR or LF under [`BareLineEndingPolicy::Reject`](super::BareLineEndingPolicy::Reject).
    BareLineEnding,
    /// The peer closed the connection.
    Eof,
    /// `QUIT`.
    Quit,
    /// The peer went quiet (`421 4.4.2`).
    Timeout,
    /// The session closed for too many errors, or the application closed it.
    Closed,
    /// `STARTTLS`: everything before it is forgotten.
    StartTls,
    /// A `BDAT` chunk arrived that could not be taken, for example in a transaction
    /// with no recipients.
    Refused,
}
