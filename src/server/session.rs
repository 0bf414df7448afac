//! The server state machine: its state, the driver-facing methods and the decisions.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use bytes::{Buf, BufMut, BytesMut};

use super::canned::{self, Canned};
use super::config::ServerConfig;
use super::envelope::RcptCommand;
use super::event::{AbortReason, ServerEvent, Ticket};
use crate::error::DecisionError;
use crate::framing::{BareLf, BdatReader, DataDecoder, LineFramer};
use crate::output::Output;
use crate::sasl::Mechanism;
use crate::wire::{BodyType, ParseOptions, Reply, TraceProtocol};

/// Input the session holds while it waits on the application, beyond one line: a
/// driver that keeps reading while told [`Output::Pending`] cannot make it grow past
/// this. The session answers `421` and closes instead.
pub(super) const MAX_UNREAD_INPUT: usize = 1 << 20;

/// A sans-IO SMTP, ESMTP or LMTP server session: one connection, from greeting to
/// close.
///
/// Feed it what the peer sends ([`handle_input`](Self::handle_input),
/// [`handle_eof`](Self::handle_eof), [`handle_timeout`](Self::handle_timeout)) and
/// drain [`poll_output`](Self::poll_output) until it says [`Output::Wait`],
/// [`Output::Pending`] or [`Output::Closed`]. Events that need a decision carry a
/// [`Ticket`]; answer with [`accept`](Self::accept), [`accept_with`](Self::accept_with)
/// or [`reject`](Self::reject).
///
/// ```
/// use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession};
/// use smtp_sansio::Output;
///
/// let mut session = ServerSession::new(ServerConfig::new("mx.example.org"));
/// session.handle_input(b"EHLO client.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
/// let (mut sent, mut body) = (Vec::new(), Vec::new());
/// let mut fed_body = false;
/// loop {
///     match session.poll_output() {
///         Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
///         Output::Event(ServerEvent::Mail { ticket, .. })
///         | Output::Event(ServerEvent::Rcpt { ticket, .. })
///         | Output::Event(ServerEvent::Data { ticket })
///         | Output::Event(ServerEvent::MessageEnd { ticket }) => session.accept(ticket).unwrap(),
///         Output::Event(ServerEvent::BodyChunk(chunk)) => body.extend_from_slice(&chunk),
///         Output::Event(_) => {}
///         Output::Wait(_) if !fed_body => {
///             fed_body = true;
///             session.handle_input(b"Subject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n");
///         }
///         Output::Wait(_) => session.handle_eof(),
///         Output::Closed => break,
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// assert_eq!(body, b"Subject: hi\r\n\r\nHello\r\n");
/// assert!(String::from_utf8(sent).unwrap().ends_with("250 2.0.0 Message accepted\r\n221 2.0.0 Bye\r\n"));
/// ```
#[derive(Debug)]
pub struct ServerSession {
    /// Shared by every session of a server: one copy, however many connections.
    pub(super) config: Arc<ServerConfig>,
    pub(super) options: ParseOptions,
    pub(super) framer: LineFramer,
    /// Received bytes not yet used.
    pub(super) input: BytesMut,
    /// Replies ready to go out.
    pub(super) out: BytesMut,
    /// `out` ends with a reply that must be sent before more input is read (RFC 2920
    /// section 3.1), or the session is about to wait.
    pub(super) flush: bool,
    pub(super) events: VecDeque<ServerEvent>,
    /// Replies owed from the first undecided ticket on, in command order.
    pub(super) owed: VecDeque<Owed>,
    /// The encoded replies of the `Owed::Ready` entries, in order.
    pub(super) held: BytesMut,
    pub(super) next_ticket: u64,
    pub(super) phase: Phase,
    pub(super) hello: Hello,
    pub(super) tls: bool,
    pub(super) authenticated: bool,
    pub(super) transaction: Option<Transaction>,
    pub(super) errors: u32,
    pub(super) eof: bool,
}

/// What the session is reading now.
#[derive(Debug)]
pub(super) enum Phase {
    Commands,
    /// A `DATA` body.
    Data(DataBody),
    /// A `BDAT` chunk.
    Bdat(BdatBody),
    /// The client's next SASL response.
    Auth(AuthExchange),
    /// `220` to `STARTTLS` is queued: hand out [`Output::StartTls`] once it is sent.
    /// Bytes that arrive meanwhile were sent in plaintext after `STARTTLS`: they are
    /// counted and thrown away.
    StartTls {
        discarded: usize,
    },
    /// Waiting for [`ServerSession::tls_established`]; every byte that arrives is
    /// plaintext sent after `STARTTLS`, and is thrown away.
    Handshake {
        discarded: usize,
    },
    /// Send what is queued, then close.
    Closing,
    Closed,
}

#[derive(Debug)]
pub(super) struct DataBody {
    pub(super) decoder: DataDecoder,
    /// Octets of the body so far, after unstuffing.
    pub(super) received: u64,
    /// Set once the body is known to be refused; the rest is read and dropped.
    pub(super) refused: Option<AbortReason>,
}

#[derive(Debug)]
pub(super) struct BdatBody {
    pub(super) reader: BdatReader,
    pub(super) last: bool,
    /// The chunk's announced size, for the reply.
    pub(super) size: u64,
    /// Why the chunk is refused before it is read, if it is.
    pub(super) refusal: Option<Canned>,
}

#[derive(Debug)]
pub(super) struct AuthExchange {
    pub(super) mechanism: Mechanism,
    /// `LOGIN`'s user name, once given.
    pub(super) username: Option<alloc::string::String>,
}

/// Which greeting the client gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hello {
    None,
    Helo,
    Ehlo,
}

/// An accepted `MAIL` and what followed it.
#[derive(Debug)]
pub(super) struct Transaction {
    pub(super) body: Option<BodyType>,
    pub(super) smtputf8: bool,
    /// Recipients accepted so far.
    pub(super) recipients: usize,
    /// Recipients waiting for a decision.
    pub(super) undecided: usize,
    /// LMTP: each recipient with the ticket that decides it, and whether it was
    /// accepted, for one reply per accepted recipient after the body.
    pub(super) lmtp_recipients: Vec<(u64, RcptCommand, bool)>,
    /// Body octets received so far (all `BDAT` chunks together).
    pub(super) received: u64,
    /// How the body is being sent: `Some(true)` for `BDAT`, `Some(false)` for `DATA`.
    pub(super) chunked: Option<bool>,
    /// A `BDAT` chunk was refused: the rest of the message is read and dropped, and
    /// answered with this.
    pub(super) refused: Option<AbortReason>,
}

/// One reply owed, in command order.
#[derive(Debug)]
pub(super) enum Owed {
    /// Waiting for the application.
    Decision { ticket: u64, kind: Kind, decided: Option<BytesMut> },
    /// This many bytes at the front of `held`.
    Ready(usize),
}

/// What a ticket decides, and what the session needs to act on the decision. Small
/// and `Copy`: the reply queue holds one per decision.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Mail { body: Option<BodyType>, smtputf8: bool },
    Rcpt,
    Data,
    MessageEnd,
    Delivery,
    Auth,
    Verify,
}

impl Kind {
    /// The reply to a plain `accept`.
    fn accepted(&self) -> Canned {
        match self {
            Self::Mail { .. } => canned::SENDER_OK,
            Self::Rcpt => canned::RECIPIENT_OK,
            Self::Data => canned::DATA_GO,
            Self::MessageEnd | Self::Delivery => canned::MESSAGE_ACCEPTED,
            Self::Auth => canned::AUTH_OK,
            Self::Verify => canned::CANNOT_VERIFY,
        }
    }

    /// Whether `code` can accept this.
    fn accepts_with(&self, code: u16) -> bool {
        match self {
            Self::Data => code == 354,
            Self::Auth => code == 235,
            _ => (200..300).contains(&code),
        }
    }
}

/// What one step of work did.
pub(super) enum Step {
    /// Something was done; look again.
    Progress,
    /// Nothing more can be done without input.
    NeedInput,
    /// The next command has to wait for a decision.
    Blocked,
}

impl ServerSession {
    /// A session for a connection that was just accepted. The greeting is the first
    /// output.
    ///
    /// Pass an `Arc<ServerConfig>` to share one configuration between many sessions; a
    /// `ServerConfig` works too.
    pub fn new(config: impl Into<Arc<ServerConfig>>) -> Self {
        let config = config.into();
        let options = ParseOptions { strict: config.strict, limits: config.address_limits };
        // AUTH lines may be longer than other commands; the cap for the rest is checked
        // once a line is read.
        let framer = LineFramer::new(config.max_auth_line.max(config.max_command_line), BareLf::Reject);
        let mut session = Self {
            options,
            framer,
            input: BytesMut::new(),
            out: BytesMut::new(),
            flush: true,
            events: VecDeque::new(),
            owed: VecDeque::new(),
            held: BytesMut::new(),
            next_ticket: 0,
            phase: Phase::Commands,
            hello: Hello::None,
            tls: config.implicit_tls,
            authenticated: false,
            transaction: None,
            errors: 0,
            eof: false,
            config,
        };
        let greeting = alloc::format!("{} {}", session.config.hostname, session.config.greeting);
        canned::write_line(&mut session.out, 220, None, greeting.trim_end());
        session
    }

    /// Hands over bytes the peer sent.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if let Phase::StartTls { discarded } | Phase::Handshake { discarded } = &mut self.phase {
            *discarded += bytes.len();
            return;
        }
        if matches!(self.phase, Phase::Closing | Phase::Closed) {
            return;
        }
        if self.input.len() + bytes.len() > MAX_UNREAD_INPUT + self.framer.max_line() {
            self.abort_transaction(AbortReason::Closed);
            self.abandon(canned::INPUT_FLOOD);
            return;
        }
        self.input.extend_from_slice(bytes);
    }

    /// The peer closed its side. Commands already received are still answered; a
    /// transaction in progress is aborted ([`AbortReason::Eof`]).
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// The timeout from [`Output::Wait`] expired: the session answers `421 4.4.2` and
    /// closes (RFC 5321 section 4.5.3.2).
    pub fn handle_timeout(&mut self) {
        if matches!(self.phase, Phase::Closing | Phase::Closed) {
            return;
        }
        self.abort_transaction(AbortReason::Timeout);
        self.abandon(canned::TIMEOUT);
    }

    /// The TLS handshake asked for by [`Output::StartTls`] completed. Everything the
    /// client said before is forgotten (RFC 3207 section 4.2): it must greet again.
    /// If plaintext arrived after `STARTTLS`, it was thrown away unread, and
    /// [`ServerEvent::PlaintextDiscarded`] says how much.
    pub fn tls_established(&mut self) {
        if let Phase::Handshake { discarded } = self.phase {
            if discarded > 0 {
                self.events.push_back(ServerEvent::PlaintextDiscarded { bytes: discarded });
            }
            self.phase = Phase::Commands;
        }
        self.tls = true;
        self.hello = Hello::None;
        self.authenticated = false;
        self.transaction = None;
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the client has authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// The `WITH` protocol for the `Received:` field of a message received now
    /// ([`Received`](crate::wire::Received)): `SMTP` after `HELO`, else `ESMTP` or `LMTP`
    /// with RFC 3848's `S` (TLS) and `A` (AUTH) suffixes.
    pub fn trace_protocol(&self) -> TraceProtocol {
        let (tls, authenticated) = (self.tls, self.authenticated);
        match self.hello {
            Hello::Helo | Hello::None if !self.config.lmtp => TraceProtocol::Smtp,
            _ if self.config.lmtp => TraceProtocol::Lmtp { tls, authenticated },
            _ => TraceProtocol::Esmtp { tls, authenticated },
        }
    }

    /// Bytes received and held, not yet used: at most one command line (or one read
    /// of a body) in normal operation, and never more than about 1 MiB.
    pub fn buffered_input(&self) -> usize {
        self.input.len()
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Output<ServerEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Output::Event(event);
            }
            if self.flush && !self.out.is_empty() {
                self.flush = false;
                return Output::Transmit(self.out.split().freeze());
            }
            match self.phase {
                Phase::Closing if self.owed.is_empty() => {
                    self.phase = Phase::Closed;
                    continue;
                }
                Phase::Closed => {
                    return match self.out.is_empty() {
                        true => Output::Closed,
                        false => Output::Transmit(self.out.split().freeze()),
                    };
                }
                Phase::StartTls { discarded } if self.out.is_empty() => {
                    self.phase = Phase::Handshake { discarded };
                    return Output::StartTls;
                }
                Phase::Handshake { .. } => return Output::Pending,
                _ => {}
            }
            match self.step() {
                Step::Progress => {}
                Step::NeedInput | Step::Blocked if !self.out.is_empty() => {
                    return Output::Transmit(self.out.split().freeze());
                }
                Step::NeedInput => return Output::Wait(self.timeout()),
                Step::Blocked => return Output::Pending,
            }
        }
    }

    /// The inactivity timeout that applies now.
    fn timeout(&self) -> core::time::Duration {
        match self.phase {
            Phase::Data(_) | Phase::Bdat(_) => self.config.timeouts.data_block,
            _ => self.config.timeouts.command,
        }
    }

    /// One piece of work on the input.
    fn step(&mut self) -> Step {
        let step = match self.phase {
            Phase::Commands => self.next_command(),
            Phase::Data(_) => self.data_step(),
            Phase::Bdat(_) => self.bdat_step(),
            Phase::Auth(_) => self.auth_step(),
            Phase::Closing => Step::Blocked,
            Phase::StartTls { .. } | Phase::Handshake { .. } | Phase::Closed => Step::NeedInput,
        };
        match step {
            Step::NeedInput if self.eof => {
                self.abort_transaction(AbortReason::Eof);
                self.phase = Phase::Closed;
                Step::Progress
            }
            step => step,
        }
    }

    /// Accepts what `ticket` asks, with the usual reply (`250`, `354` for `DATA`,
    /// `235` for `AUTH`, `252` for `VRFY`/`EXPN`).
    pub fn accept(&mut self, ticket: Ticket) -> Result<(), DecisionError> {
        self.decide(ticket, None, true)
    }

    /// Accepts what `ticket` asks, with this reply: for example the queue id after a
    /// message. The code must be 2xx (`354` for `DATA`, `235` for `AUTH`).
    pub fn accept_with(&mut self, ticket: Ticket, reply: Reply) -> Result<(), DecisionError> {
        self.decide(ticket, Some(reply), true)
    }

    /// Refuses what `ticket` asks, with this reply, which must be 4xx or 5xx.
    pub fn reject(&mut self, ticket: Ticket, reply: Reply) -> Result<(), DecisionError> {
        self.decide(ticket, Some(reply), false)
    }

    fn decide(&mut self, ticket: Ticket, reply: Option<Reply>, accept: bool) -> Result<(), DecisionError> {
        let index = self
            .owed
            .iter()
            .position(|owed| matches!(owed, Owed::Decision { ticket: id, decided: None, .. } if *id == ticket.0))
            .ok_or(DecisionError::UnknownTicket)?;
        let enhanced = self.config.enhanced_status_codes;
        let Some(Owed::Decision { kind, decided, .. }) = self.owed.get_mut(index) else {
            return Err(DecisionError::UnknownTicket);
        };
        if let Some(reply) = &reply {
            let code = reply.code().get();
            let fits = if accept { kind.accepts_with(code) } else { code >= 400 };
            if !fits {
                return Err(DecisionError::WrongCode);
            }
        }
        // The first reply owed goes straight to the output; a later one waits, encoded,
        // in its place.
        let mut later = BytesMut::new();
        let out = if index == 0 { &mut self.out } else { &mut later };
        match &reply {
            Some(reply) => reply.encode(out).map_err(DecisionError::Encode)?,
            None => kind.accepted().write(out, enhanced),
        }
        let kind = *kind;
        if index == 0 {
            self.owed.pop_front();
        } else {
            *decided = Some(later);
        }
        self.apply(ticket.0, kind, accept);
        self.release();
        Ok(())
    }

    /// What a decision changes.
    fn apply(&mut self, ticket: u64, kind: Kind, accept: bool) {
        match kind {
            Kind::Mail { body, smtputf8 } if accept => {
                self.transaction = Some(Transaction {
                    body,
                    smtputf8,
                    recipients: 0,
                    undecided: 0,
                    lmtp_recipients: Vec::new(),
                    received: 0,
                    chunked: None,
                    refused: None,
                });
            }
            Kind::Rcpt => {
                if let Some(transaction) = &mut self.transaction {
                    transaction.undecided -= 1;
                    if accept {
                        transaction.recipients += 1;
                        if let Some(entry) = transaction.lmtp_recipients.iter_mut().find(|entry| entry.0 == ticket) {
                            entry.2 = true;
                        }
                    }
                }
            }
            Kind::Data if accept => {
                // Refusing uses the normalising decoder too: it hands out the bytes
                // before a bare ending separately from the ending itself.
                let decoder = match self.config.bare_line_endings {
                    super::BareLineEndingPolicy::Pass => DataDecoder::new(),
                    _ => DataDecoder::normalizing(),
                };
                self.phase = Phase::Data(DataBody { decoder, received: 0, refused: None });
            }
            Kind::Auth if accept => self.authenticated = true,
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
    pub(super) fn ask(&mut self, kind: Kind, event: impl FnOnce(Ticket) -> ServerEvent) -> Ticket {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.owed.push_back(Owed::Decision { ticket, kind, decided: None });
        self.events.push_back(event(Ticket(ticket)));
        Ticket(ticket)
    }

    /// Whether any decision is still awaited.
    pub(super) fn undecided(&self) -> impl Iterator<Item = &Kind> {
        self.owed.iter().filter_map(|owed| match owed {
            Owed::Decision { kind, decided: None, .. } => Some(kind),
            _ => None,
        })
    }

    /// Queues a reply of the session's own, behind any that wait on a decision.
    pub(super) fn reply(&mut self, reply: Canned) {
        let enhanced = self.config.enhanced_status_codes;
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

    /// Queues an error reply and counts it; too many close the session.
    pub(super) fn error(&mut self, reply: Canned) {
        self.reply(reply);
        self.count_error();
    }

    /// Counts an error the caller already answered.
    pub(super) fn count_error(&mut self) {
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            self.abort_transaction(AbortReason::Closed);
            self.abandon(canned::TOO_MANY_ERRORS);
        }
    }

    /// Closes now with `reply` (`421`), without waiting for the decisions still owed:
    /// RFC 5321 section 3.8 lets a server do that at any time. Replies that were ready
    /// go out first; the rest are dropped, and their tickets are no longer awaited.
    pub(super) fn abandon(&mut self, reply: Canned) {
        while let Some(Owed::Ready(len)) = self.owed.front() {
            let len = *len;
            self.out.unsplit(self.held.split_to(len));
            self.owed.pop_front();
        }
        self.owed.clear();
        self.held.clear();
        self.close_with(reply);
    }

    /// Answers with `reply` and closes once every owed reply is out.
    pub(super) fn close_with(&mut self, reply: Canned) {
        self.reply(reply);
        self.flush = true;
        self.input.clear();
        self.phase = Phase::Closing;
    }

    /// Ends the transaction, telling the application if it had one.
    pub(super) fn abort_transaction(&mut self, reason: AbortReason) {
        // A transaction whose message was refused has been reported already.
        if let Some(transaction) = self.transaction.take()
            && transaction.refused.is_none()
        {
            self.events.push_back(ServerEvent::TransactionAborted(reason));
        }
        if matches!(self.phase, Phase::Data(_) | Phase::Bdat(_)) {
            self.phase = Phase::Commands;
        }
    }

    /// Drops `n` bytes of input.
    pub(super) fn consume(&mut self, n: usize) {
        self.input.advance(n);
    }

    /// Marks the output for sending before more input is read.
    pub(super) fn synchronise(&mut self) {
        self.flush = true;
    }

    /// Writes raw bytes as part of a reply (used for multi-line replies built elsewhere).
    pub(super) fn put_reply_bytes(&mut self, bytes: &[u8]) {
        self.write_reply(|out| out.put_slice(bytes));
    }
}
