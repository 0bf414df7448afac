//! What a server session tells its application.

use alloc::boxed::Box;
use alloc::string::String;
use core::num::NonZeroU64;

use bytes::Bytes;

use super::envelope::{MailCommand, RcptCommand};
use crate::proxy::{ProxyError, ProxyHeader};
use crate::sasl::{Credentials, Mechanism};
use crate::wire::{ClientAttributes, Host};

/// Names one decision the application owes the session. Answer it with
/// [`ServerSession::accept`](super::ServerSession::accept),
/// [`accept_with`](super::ServerSession::accept_with) or
/// [`reject`](super::ServerSession::reject), now or later, in any order: replies still
/// go out in the order of the commands.
///
/// A ticket names its session and what it decides ([`kind`](Self::kind)): a ticket of
/// another session, one answered already and one answered after its session closed
/// are told apart ([`DecisionError`](crate::DecisionError)). `AUTH` credentials come
/// with an [`AuthTicket`] instead, which `accept` does not take.
#[derive(Clone, PartialEq, Eq, Hash)]
#[must_use = "the session waits until the ticket is answered"]
pub struct Ticket {
    /// The session's number (32 bits), the ticket's number in it (28 bits) and its kind
    /// (4 bits, never 0), in one word: events carry a ticket, and every event is moved a
    /// few times on its way to the application. (Never 0, so `Option<Ticket>` is one
    /// word too.)
    bits: NonZeroU64,
}

/// Ticket numbers wrap at this: a session with 2^28 decisions has long outlived its
/// connection. A number that comes round again can only be confused with a ticket of
/// the same kind still unanswered 2^28 decisions later.
pub(crate) const TICKET_NUMBERS: u32 = 1 << 28;

/// The kinds, numbered from 1 in a ticket.
const KINDS: [TicketKind; 9] = [
    TicketKind::Hello,
    TicketKind::Mail,
    TicketKind::Rcpt,
    TicketKind::Data,
    TicketKind::MessageEnd,
    TicketKind::Delivery,
    TicketKind::Auth,
    TicketKind::Verify,
    TicketKind::Expand,
];

/// A kind's number in a ticket: its place in `KINDS`, from 1. (A match, so that a new
/// kind cannot be left out; `every_kind_is_listed` checks the places.)
fn kind_number(kind: TicketKind) -> u64 {
    match kind {
        TicketKind::Hello => 1,
        TicketKind::Mail => 2,
        TicketKind::Rcpt => 3,
        TicketKind::Data => 4,
        TicketKind::MessageEnd => 5,
        TicketKind::Delivery => 6,
        TicketKind::Auth => 7,
        TicketKind::Verify => 8,
        TicketKind::Expand => 9,
    }
}

impl Ticket {
    pub(crate) fn new(session: u32, id: u32, kind: TicketKind) -> Self {
        let id = u64::from(id % TICKET_NUMBERS);
        let bits = (u64::from(session) << 32) | (id << 4) | kind_number(kind);
        // The kind's number is never 0, so neither are the bits.
        Self { bits: NonZeroU64::new(bits).unwrap_or(NonZeroU64::MIN) }
    }

    /// The number of the session that handed it out.
    pub(crate) fn session(&self) -> u32 {
        (self.bits.get() >> 32) as u32
    }

    /// Its number in that session.
    pub(crate) fn id(&self) -> u32 {
        ((self.bits.get() >> 4) as u32) % TICKET_NUMBERS
    }

    /// What the ticket decides.
    pub fn kind(&self) -> TicketKind {
        // `new` writes 1 to 9 here.
        let index = (self.bits.get() & 0xF) as usize;
        KINDS.get(index.wrapping_sub(1)).copied().unwrap_or(TicketKind::Hello)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kind missing from `KINDS` would be read back as another.
    #[test]
    fn every_kind_is_listed() {
        for (index, kind) in KINDS.iter().enumerate() {
            assert_eq!(kind_number(*kind), index as u64 + 1);
            let ticket = Ticket::new(7, 1 + index as u32, *kind);
            assert_eq!((ticket.kind(), ticket.id(), ticket.session()), (*kind, 1 + index as u32, 7));
        }
        let last = Ticket::new(u32::MAX, TICKET_NUMBERS - 1, TicketKind::Expand);
        assert_eq!((last.kind(), last.id(), last.session()), (TicketKind::Expand, TICKET_NUMBERS - 1, u32::MAX));
        assert_eq!(core::mem::size_of::<Option<Ticket>>(), 8);
    }
}

/// Shows the ticket's number in its session and its kind; the session's number is
/// left out, so that logs and tests of one conversation read the same every run.
impl core::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ticket").field("id", &self.id()).field("kind", &self.kind()).finish()
    }
}

/// What a [`Ticket`] decides, and what `accept` answers for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TicketKind {
    /// `HELO`, `EHLO` or `LHLO`, when [`ServerConfig::decide_hello`](super::ServerConfig::decide_hello)
    /// is set: `accept` sends the usual `250` (with the extensions for `EHLO`).
    Hello,
    /// `MAIL`: `250 2.1.0`.
    Mail,
    /// `RCPT`: `250 2.1.5`.
    Rcpt,
    /// `DATA`: `354`.
    Data,
    /// The end of a message: `250 2.0.0`.
    MessageEnd,
    /// LMTP, one recipient's outcome: `250 2.0.0`.
    Delivery,
    /// `AUTH` credentials, inside an [`AuthTicket`]: `235 2.7.0`.
    Auth,
    /// `VRFY`, when [`ServerConfig::decide_vrfy`](super::ServerConfig::decide_vrfy) is
    /// set: `252 2.5.0`.
    Verify,
    /// `EXPN`, when [`ServerConfig::decide_expn`](super::ServerConfig::decide_expn) is
    /// set: `252 2.5.0`.
    Expand,
}

/// Names the decision on `AUTH` credentials. Only
/// [`ServerSession::accept_auth`](super::ServerSession::accept_auth) accepts them, so
/// a catch-all that accepts every [`Ticket`] cannot accept a password by mistake.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[must_use = "the session waits until the ticket is answered"]
pub struct AuthTicket(pub(crate) Ticket);

/// Something that happened in a server session. The ones with a [`Ticket`] wait for a
/// decision; the session answers the rest itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// The client greeted with `HELO`, `EHLO` or `LHLO`. Without
    /// [`ServerConfig::decide_hello`](super::ServerConfig::decide_hello) it was answered
    /// `250` already and `ticket` is `None`; with it, the reply waits for the ticket.
    Hello {
        /// What to answer, when the application decides greetings.
        ticket: Option<Ticket>,
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
    /// `accept_with`). SMTP only: in LMTP, [`ServerEvent::Delivery`] events come instead.
    MessageEnd {
        /// What to answer.
        ticket: Ticket,
    },
    /// LMTP (RFC 2033 section 4.2): the body is complete; the outcome for one accepted
    /// recipient, one event each, in `RCPT` order.
    Delivery {
        /// What to answer.
        ticket: Ticket,
        /// The recipient's `RCPT` command.
        recipient: RcptCommand,
    },
    /// The transaction ended without a message: say where the partial body went.
    TransactionAborted(AbortReason),
    /// `AUTH` credentials to check: [`accept_auth`](super::ServerSession::accept_auth)
    /// (`235 2.7.0`) or [`reject_auth`](super::ServerSession::reject_auth) (for example
    /// `535 5.7.8`).
    Auth {
        /// What to answer.
        ticket: AuthTicket,
        /// The mechanism used.
        mechanism: Mechanism,
        /// What the client sent (boxed: it is large, and rare).
        credentials: Box<Credentials>,
    },
    /// `VRFY`, when [`ServerConfig::decide_vrfy`](super::ServerConfig::decide_vrfy) is
    /// set (otherwise the session answers `252 2.5.0` itself, RFC 5321 section 3.5.3).
    Verify {
        /// What to answer.
        ticket: Ticket,
        /// The argument, as given.
        target: String,
    },
    /// `EXPN`, when [`ServerConfig::decide_expn`](super::ServerConfig::decide_expn) is
    /// set (otherwise the session answers `502 5.5.1` itself).
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
    /// The PROXY protocol header ([`ServerConfig::proxy_protocol`](super::ServerConfig::proxy_protocol))
    /// came, before the greeting: the original client's and server's addresses
    /// (`None` for v1 `UNKNOWN` and v2 `LOCAL`: keep the connection's own). Use them for
    /// the `Received:` field, logs and policy, and decide
    /// [`trust_proxy`](super::ServerSession::trust_proxy) now if it depends on them.
    Proxied(Box<ProxyHeader>),
    /// The connection did not start with a PROXY protocol header as configured (missing,
    /// malformed, too long, or a version not accepted): it is closed without a greeting.
    ProxyRefused(ProxyError),
    /// `XCLIENT` from a trusted peer (Postfix's XCLIENT_README): from now on the client
    /// is the one these attributes describe; use them for the `Received:` field, logs
    /// and policy. The session started over and greeted again (`220`), and no longer
    /// trusts the peer with XCLIENT: call
    /// [`trust_proxy`](super::ServerSession::trust_proxy) now if the client named is
    /// trusted too.
    Xclient(Box<ClientAttributes>),
    /// `XFORWARD` from a trusted peer (Postfix's XFORWARD_README): attributes of the
    /// original client, for the next transaction. Several may come before a `MAIL`;
    /// [`ClientAttributes::merge`] adds them up (a later value wins).
    Xforward(Box<ClientAttributes>),
}

impl ServerEvent {
    /// The ticket to answer, for an event that waits for a decision answered with
    /// `accept`, `accept_with` or `reject`. `None` for [`ServerEvent::Auth`], whose
    /// [`AuthTicket`] takes `accept_auth` or `reject_auth`.
    pub fn ticket(&self) -> Option<Ticket> {
        match self {
            Self::Mail { ticket, .. }
            | Self::Rcpt { ticket, .. }
            | Self::Data { ticket }
            | Self::MessageEnd { ticket }
            | Self::Delivery { ticket, .. }
            | Self::Verify { ticket, .. }
            | Self::Expand { ticket, .. } => Some(ticket.clone()),
            Self::Hello { ticket, .. } => ticket.clone(),
            Self::Auth { .. }
            | Self::BodyChunk(_)
            | Self::TransactionAborted(_)
            | Self::PlaintextDiscarded { .. }
            | Self::Proxied(_)
            | Self::ProxyRefused(_)
            | Self::Xclient(_)
            | Self::Xforward(_) => None,
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
    /// The client sent before a reply it had to wait for (`554 5.5.0`, see
    /// [`SyncChecks`](super::SyncChecks)).
    OutOfStep,
}
