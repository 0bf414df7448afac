//! The application's decisions, and the queue that keeps replies in command order
//! whatever order the decisions come in.

use bytes::{BufMut, BytesMut};

use super::canned::{self, Canned};
use super::checked::Shared;
use super::event::{AbortReason, AuthTicket, ServerEvent, TICKET_NUMBERS, Ticket, TicketKind};
use super::session::{Hello, Kind, Owed, Phase, ServerSession, Transaction};
use crate::error::DecisionError;
use crate::framing::DataDecoder;
use crate::wire::{EnhancedStatus, Reply};

impl Kind {
    /// The reply to a plain `accept` (`Hello`'s is the session's greeting reply).
    fn accepted(&self) -> Canned {
        match self {
            Self::Mail { .. } => canned::SENDER_OK,
            Self::Rcpt => canned::RECIPIENT_OK,
            Self::Data => canned::DATA_GO,
            Self::MessageEnd | Self::Delivery | Self::Hello(_) => canned::MESSAGE_ACCEPTED,
            Self::Auth => canned::AUTH_OK,
            Self::Verify | Self::Expand => canned::CANNOT_VERIFY,
        }
    }

    /// Whether `code` can accept this.
    fn accepts_with(&self, code: u16) -> bool {
        match self {
            Self::Data => code == 354,
            Self::Auth => code == 235,
            Self::Hello(_) => false,
            Self::Verify => matches!(code, 250..=252),
            Self::Expand => matches!(code, 250 | 252),
            _ => (200..300).contains(&code),
        }
    }

    pub(super) fn ticket_kind(&self) -> TicketKind {
        match self {
            Self::Hello(_) => TicketKind::Hello,
            Self::Mail { .. } => TicketKind::Mail,
            Self::Rcpt => TicketKind::Rcpt,
            Self::Data => TicketKind::Data,
            Self::MessageEnd => TicketKind::MessageEnd,
            Self::Delivery => TicketKind::Delivery,
            Self::Auth => TicketKind::Auth,
            Self::Verify => TicketKind::Verify,
            Self::Expand => TicketKind::Expand,
        }
    }

    /// The enhanced status code (RFC 3463) a reply of this class gets when the
    /// application gave none: RFC 2034 section 3 puts one on every reply but the
    /// greeting, `HELO`/`EHLO`'s and 3xx.
    fn default_status(&self, class: u8) -> Option<EnhancedStatus> {
        let (subject, detail) = match (self, class) {
            (Self::Hello(_) | Self::Data, 2) | (Self::Hello(_), _) => return None,
            (Self::Mail { .. }, 2) => (1, 0),
            (Self::Rcpt | Self::Verify | Self::Expand, 2) => (1, 5),
            (Self::Mail { .. } | Self::Rcpt | Self::Verify | Self::Expand, _) => (1, 0),
            (Self::Auth, _) => (7, 0),
            _ => (0, 0),
        };
        EnhancedStatus::try_new(class, subject, detail)
    }
}

/// The `250` to `HELO` or `EHLO`, as configured, with the extensions on offer now
/// (`XCLIENT` and `XFORWARD` to a trusted peer only).
pub(super) fn hello_reply(shared: &Shared, hello: Hello, tls: bool, trusted: bool) -> &[u8] {
    match (hello, tls, trusted) {
        (Hello::Helo, ..) => &shared.helo,
        (_, true, true) => &shared.ehlo_tls_trusted,
        (_, true, false) => &shared.ehlo_tls,
        (_, false, true) => &shared.ehlo_plain_trusted,
        (_, false, false) => &shared.ehlo_plain,
    }
}

impl ServerSession {
    /// Accepts what `ticket` asks, with the usual reply: `250` (`MAIL`, `RCPT`, the
    /// message, `HELO`/`EHLO`), `354` (`DATA`), `252` (`VRFY`, `EXPN`).
    pub fn accept(&mut self, ticket: Ticket) -> Result<(), DecisionError> {
        self.decide(&ticket, None, true)
    }

    /// Accepts what `ticket` asks, with this reply: for example the queue id after a
    /// message. The code must be 2xx (`354` for `DATA`; 250 to 252 for `VRFY`; 250 or
    /// 252 for `EXPN`); `HELO`/`EHLO` take `accept` only. Without an enhanced status
    /// code, the one the command and class call for is added when
    /// `ENHANCEDSTATUSCODES` is on.
    pub fn accept_with(&mut self, ticket: Ticket, reply: Reply) -> Result<(), DecisionError> {
        self.decide(&ticket, Some(reply), true)
    }

    /// Refuses what `ticket` asks, with this reply, which must be 4xx or 5xx. A `421`
    /// closes the session once it is sent (RFC 5321 section 3.8): replies owed before it
    /// still go out, commands after it are not answered.
    pub fn reject(&mut self, ticket: Ticket, reply: Reply) -> Result<(), DecisionError> {
        self.decide(&ticket, Some(reply), false)
    }

    /// Accepts `AUTH` credentials: `235 2.7.0`, and the client is authenticated.
    pub fn accept_auth(&mut self, ticket: AuthTicket) -> Result<(), DecisionError> {
        self.decide(&ticket.0, None, true)
    }

    /// Refuses `AUTH` credentials with this reply, 4xx or 5xx: `535 5.7.8` for wrong
    /// credentials, `454 4.7.0` for a temporary failure (RFC 4954 section 6).
    pub fn reject_auth(&mut self, ticket: AuthTicket, reply: Reply) -> Result<(), DecisionError> {
        self.decide(&ticket.0, Some(reply), false)
    }

    fn decide(&mut self, ticket: &Ticket, reply: Option<Reply>, accept: bool) -> Result<(), DecisionError> {
        if ticket.session() != self.session_id() {
            return Err(DecisionError::OtherSession);
        }
        // The common case, made cheap: the oldest decision owed, accepted with the usual
        // reply, which goes straight out. (The same as the general path below.)
        if accept
            && reply.is_none()
            && let Some(&Owed::Decision { ticket: id, kind, decided: None }) = self.owed.front()
            && id == ticket.id()
            && kind.ticket_kind() == ticket.kind()
        {
            self.owed.pop_front();
            match kind {
                Kind::Hello(hello) => {
                    self.out.put_slice(hello_reply(&self.shared, hello, self.tls, self.trusted_proxy))
                }
                _ => kind.accepted().write(&mut self.out, self.shared.config.enhanced_status_codes),
            }
            self.apply(id, kind, true);
            if !self.owed.is_empty() {
                self.release();
            }
            self.told_no_input = None;
            return Ok(());
        }
        let found = self
            .owed
            .iter()
            .position(|owed| matches!(owed, Owed::Decision { ticket: id, decided: None, .. } if *id == ticket.id()));
        let Some(index) = found else {
            return Err(match self.phase {
                Phase::Closing | Phase::Closed => DecisionError::Closed,
                _ => DecisionError::Stale,
            });
        };
        let Some(Owed::Decision { kind, .. }) = self.owed.get(index) else { return Err(DecisionError::Stale) };
        let kind = *kind;
        // A number that came round again names a later decision, maybe of another kind:
        // a ticket never answers a decision of a kind other than its own (an `AUTH`
        // decision only ever takes an `AuthTicket`).
        if kind.ticket_kind() != ticket.kind() {
            return Err(DecisionError::Stale);
        }
        let closes = reply.as_ref().is_some_and(|reply| reply.code().get() == 421);
        let reply = match reply {
            Some(reply) => {
                let code = reply.code().get();
                let fits = if accept { kind.accepts_with(code) } else { (400..600).contains(&code) };
                // RFC 3463 section 2: an enhanced code's class is the reply's.
                let status = reply
                    .enhanced()
                    .or_else(|| reply.lines().next().and_then(EnhancedStatus::parse_prefix).map(|(status, _)| status));
                let class_fits = status.is_none_or(|status| u16::from(status.class()) == code / 100);
                if !fits || !class_fits {
                    return Err(DecisionError::WrongCode);
                }
                Some(self.with_status(reply, Some(kind)))
            }
            None => None,
        };
        // The first reply owed goes straight to the output; a later one waits, encoded,
        // in its place.
        let (shared, tls, trusted) = (&*self.shared, self.tls, self.trusted_proxy);
        let mut later = BytesMut::new();
        let out = if index == 0 { &mut self.out } else { &mut later };
        match (reply, kind) {
            (Some(reply), _) => reply.encode(out).map_err(DecisionError::Encode)?,
            (None, Kind::Hello(hello)) => out.put_slice(hello_reply(shared, hello, tls, trusted)),
            (None, _) => kind.accepted().write(out, shared.config.enhanced_status_codes),
        }
        let kept = if index == 0 {
            self.owed.pop_front();
            0
        } else {
            if let Some(Owed::Decision { decided, .. }) = self.owed.get_mut(index) {
                *decided = Some(later);
            }
            index + 1
        };
        if closes {
            self.close_after(kept);
        } else {
            self.apply(ticket.id(), kind, accept);
        }
        self.release();
        // The session may want input again: what it said before this decision is void.
        self.told_no_input = None;
        Ok(())
    }

    /// The reply with the enhanced status code its command (`None`: no command, as for a
    /// close) and class call for, when codes are on and the application gave none (not
    /// even in its text).
    pub(super) fn with_status(&self, reply: Reply, kind: Option<Kind>) -> Reply {
        let code = reply.code().get();
        let given = reply.enhanced().is_some()
            || reply.lines().next().is_some_and(|text| EnhancedStatus::parse_prefix(text).is_some());
        if given || !self.shared.config.enhanced_status_codes {
            return reply;
        }
        // A 3-digit code's first digit is 2 to 5.
        let class = (code / 100) as u8;
        let status = match kind {
            Some(kind) => kind.default_status(class),
            None => EnhancedStatus::try_new(class, 0, 0),
        };
        match status {
            Some(status) => reply.with_enhanced(status),
            None => reply,
        }
    }

    /// A `421` decision was made: it is the last reply, and the first `kept` replies
    /// owed still go before it. Those after it are dropped, and their tickets answered
    /// with [`DecisionError::Closed`].
    fn close_after(&mut self, kept: usize) {
        let dropped: usize = self
            .owed
            .iter()
            .skip(kept)
            .map(|owed| match owed {
                Owed::Ready(len) => *len,
                Owed::Decision { .. } => 0,
            })
            .sum();
        self.owed.truncate(kept);
        self.held.truncate(self.held.len() - dropped);
        self.abort_transaction(AbortReason::Closed);
        self.stop_reading();
    }

    /// What a decision changes.
    fn apply(&mut self, ticket: u32, kind: Kind, accept: bool) {
        match kind {
            Kind::Hello(hello) if accept => {
                self.abort_transaction(AbortReason::Reset);
                self.hello = hello;
            }
            Kind::Mail { body, smtputf8 } if accept => self.transaction = Some(Transaction::new(body, smtputf8)),
            Kind::Rcpt => {
                if let Some(transaction) = &mut self.transaction {
                    transaction.undecided -= 1;
                    // LMTP keeps a recipient until the body only if it is accepted: a
                    // refused one owes no reply after the body, and must not pile up.
                    // (Its ticket is still undecided, so its number is unique among
                    // the entries: numbers only come round after 2^28 decisions.)
                    let entry = transaction.lmtp_recipients.iter().rposition(|entry| entry.0 == ticket);
                    match (accept, entry) {
                        (true, Some(entry)) => {
                            if let Some(entry) = transaction.lmtp_recipients.get_mut(entry) {
                                entry.2 = true;
                            }
                        }
                        (false, Some(entry)) => {
                            transaction.lmtp_recipients.remove(entry);
                        }
                        (_, None) => {}
                    }
                    if accept {
                        transaction.recipients += 1;
                    }
                }
            }
            Kind::Data if accept => {
                // Refusing uses the normalising decoder too: it hands out the bytes
                // before a bare ending separately from the ending itself.
                let decoder = match self.shared.config.bare_line_endings {
                    super::BareLineEndingPolicy::Pass => DataDecoder::new(),
                    _ => DataDecoder::normalizing(),
                };
                self.enter(Phase::Data(super::session::DataBody { decoder, received: 0, refused: None }));
            }
            // A message went through: the client is doing real work.
            Kind::MessageEnd | Kind::Delivery if accept => self.junk = 0,
            Kind::Auth if accept => self.authenticated = true,
            // A brake on guessing passwords: after this many refusals, 421 and close.
            Kind::Auth => {
                self.auth_failures += 1;
                if self.auth_failures >= self.shared.config.max_auth_failures {
                    self.stop_with(canned::AUTH_LIMIT);
                }
            }
            _ => {}
        }
    }

    /// Moves every reply that no longer waits on a decision to the output.
    fn release(&mut self) {
        while let Some(front) = self.owed.front_mut() {
            match front {
                Owed::Ready(len) => {
                    let len = *len;
                    self.out.unsplit(self.held.split_to(len));
                }
                Owed::Decision { decided: decided @ Some(_), .. } => {
                    if let Some(reply) = decided.take() {
                        self.out.unsplit(reply);
                    }
                }
                Owed::Decision { decided: None, .. } => return,
            }
            self.owed.pop_front();
        }
    }

    /// Starts a decision: the event goes out now, its reply's place is kept.
    pub(super) fn ask(&mut self, kind: Kind, event: impl FnOnce(Ticket) -> ServerEvent) -> u32 {
        // Numbers wrap (see `TICKET_NUMBERS`): harmless, as a ticket is answered long
        // before its number comes round again.
        let id = self.next_ticket;
        self.next_ticket = (self.next_ticket + 1) % TICKET_NUMBERS;
        self.owed.push_back(Owed::Decision { ticket: id, kind, decided: None });
        let ticket = Ticket::new(self.session_id(), id, kind.ticket_kind());
        self.events.push_back(event(ticket));
        id
    }

    /// The decisions still awaited.
    pub(super) fn undecided(&self) -> impl Iterator<Item = &Kind> {
        self.owed.iter().filter_map(|owed| match owed {
            Owed::Decision { kind, decided: None, .. } => Some(kind),
            _ => None,
        })
    }

    /// Queues a reply of the session's own, behind any that wait on a decision.
    pub(super) fn reply(&mut self, reply: Canned) {
        let enhanced = self.shared.config.enhanced_status_codes;
        self.write_reply(|out| reply.write(out, enhanced));
    }

    /// Queues bytes a closure writes as a reply, behind any that wait on a decision.
    pub(super) fn write_reply(&mut self, write: impl FnOnce(&mut BytesMut)) {
        if self.owed.is_empty() {
            write(&mut self.out);
        } else {
            let before = self.held.len();
            write(&mut self.held);
            self.owed.push_back(Owed::Ready(self.held.len() - before));
        }
    }

    /// Writes raw bytes as a reply (used for replies built elsewhere).
    pub(super) fn put_reply_bytes(&mut self, bytes: &[u8]) {
        self.write_reply(|out| out.put_slice(bytes));
    }

    /// Drops every decision not yet made, keeping the replies ready before the first of
    /// them (the later ones would answer commands out of order).
    pub(super) fn drop_undecided(&mut self) {
        self.release();
        self.owed.clear();
        self.held.clear();
    }

    /// Answers with `reply` and closes once every owed reply is out.
    pub(super) fn stop_with(&mut self, reply: Canned) {
        self.reply(reply);
        self.stop_reading();
    }

    /// Closes now with `reply` (`421`), without waiting for the decisions still owed:
    /// RFC 5321 section 3.8 lets a server do that at any time. Replies that were ready
    /// go out first; the rest are dropped, and their tickets are no longer awaited.
    pub(super) fn abandon(&mut self, reply: Canned) {
        self.drop_undecided();
        self.reply(reply);
        self.stop_reading();
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::super::{ServerConfig, ServerSession};
    use super::*;
    use crate::output::Output;
    use crate::wire::ReplyCode;

    fn events(session: &mut ServerSession) -> Vec<ServerEvent> {
        let mut events = Vec::new();
        loop {
            match session.poll_output() {
                Output::Event(event) => events.push(event),
                Output::Transmit(_) => {}
                _ => return events,
            }
        }
    }

    /// A ticket whose number names a decision of another kind (after 2^28 decisions,
    /// numbers come round again) answers nothing: an `AUTH` decision above all.
    #[test]
    fn a_ticket_answers_only_a_decision_of_its_own_kind() {
        let mut config = ServerConfig::new("mx.example.org");
        config.sync_checks = super::super::SyncChecks::NONE;
        let mut session = ServerSession::new(&config.build().unwrap());
        session.handle_input(b"EHLO c\r\nMAIL FROM:<a@example.net>\r\n");
        let owed = events(&mut session);
        let Some(ServerEvent::Mail { ticket, .. }) = owed.last() else { panic!("{owed:?}") };
        let forged = Ticket::new(ticket.session(), ticket.id(), TicketKind::Auth);
        assert_eq!(session.accept(forged.clone()), Err(DecisionError::Stale), "the fast path");
        let reply = Reply::new(ReplyCode::OK, "fine");
        assert_eq!(session.accept_with(forged, reply), Err(DecisionError::Stale), "the general path");
        assert_eq!(session.accept(ticket.clone()), Ok(()));
    }

    /// LMTP keeps an accepted recipient for its reply after the body, and drops a
    /// refused one at once.
    #[test]
    fn refused_lmtp_recipients_are_not_kept() {
        let mut config = ServerConfig::new("mx.example.org");
        config.lmtp = true;
        config.sync_checks = super::super::SyncChecks::NONE;
        let mut session = ServerSession::new(&config.build().unwrap());
        session.handle_input(b"LHLO c\r\nMAIL FROM:<a@example.net>\r\n");
        for event in events(&mut session) {
            if let Some(ticket) = event.ticket() {
                session.accept(ticket).unwrap();
            }
        }
        for round in 0..50 {
            session.handle_input(b"RCPT TO:<b@example.org>\r\n");
            for event in events(&mut session) {
                if let Some(ticket) = event.ticket() {
                    match round % 10 {
                        0 => session.accept(ticket).unwrap(),
                        _ => session.reject(ticket, Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "no")).unwrap(),
                    }
                }
            }
        }
        let kept = session.transaction.as_ref().map(|transaction| transaction.lmtp_recipients.len());
        assert_eq!(kept, Some(5));
    }
}
