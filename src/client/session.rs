//! The client state machine: its state and the driver-facing methods. Setting up the
//! session (greeting, `EHLO`, STARTTLS, AUTH) is in `setup.rs`; messages are in
//! `transaction.rs`.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::BytesMut;

use super::config::Client;
use super::event::{ClientEvent, CloseReason, Envelope, Failure, MessageId};
use super::outbox::Outbox;
use super::transaction::Transaction;
use crate::framing::BareLf;
use crate::output::{Output, Pending};
use crate::sasl::Mechanism;
use crate::wire::{AttributeCommand, Capabilities, ClientAttributes, Command, Limits, Reply, ReplyParser};

/// A sans-IO SMTP, ESMTP or LMTP client session: one connection, from the server's
/// greeting to `QUIT`.
///
/// Enqueue messages with [`send`](Self::send); feed it what the server sends
/// ([`handle_input`](Self::handle_input), [`handle_eof`](Self::handle_eof),
/// [`handle_timeout`](Self::handle_timeout)) and drain
/// [`poll_output`](Self::poll_output). When it asks for a message's body
/// ([`ClientEvent::BodyWanted`]), push it in pieces of any size (copied with
/// [`push_body`](Self::push_body), or sliced, not copied, with
/// [`push_body_bytes`](Self::push_body_bytes)) and end it; a message
/// that the server's `LIMITS` (RFC 9422) split into several transactions asks for it
/// once per transaction (see [`send`](Self::send)). With
/// nothing to do it says [`Output::Idle`]: the connection can be kept for later
/// messages, probed with [`noop`](Self::noop), or ended with [`quit`](Self::quit).
///
/// ```
/// use smtp_sansio::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
/// use smtp_sansio::wire::{ForwardPath, ReversePath};
/// use smtp_sansio::Output;
///
/// let client = ClientConfig::new("client.example.net").build().unwrap();
/// let mut session = ClientSession::new(&client);
/// let from = ReversePath::parse("<alice@example.net>").unwrap().into_owned();
/// let to = ForwardPath::parse("<bob@example.org>").unwrap().into_owned();
/// let message = session.send(Envelope::new(from, [to]));
/// session.quit();
///
/// // A scripted server: each reply arrives when the client waits for one.
/// let mut server: Vec<&[u8]> = vec![
///     b"220 mx.example.org ESMTP\r\n",
///     b"250-mx.example.org\r\n250 PIPELINING\r\n",
///     b"250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 Go ahead\r\n",
///     b"250 2.0.0 Queued as 4VqZ1k\r\n",
///     b"221 2.0.0 Bye\r\n",
/// ];
/// server.reverse();
/// let mut sent = Vec::new();
/// let mut accepted = false;
/// loop {
///     match session.poll_output() {
///         Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
///         Output::Event(ClientEvent::BodyWanted { .. }) => {
///             session.push_body(b"Subject: hi\r\n\r\n.leading dot\r\n").unwrap();
///             session.end_body().unwrap();
///         }
///         Output::Event(ClientEvent::Accepted { message: id, reply }) => {
///             assert_eq!(id, message);
///             assert_eq!(reply.lines().next(), Some("Queued as 4VqZ1k"));
///             accepted = true;
///         }
///         Output::Event(_) => {}
///         Output::Wait(_) => match server.pop() {
///             Some(reply) => session.handle_input(reply),
///             None => session.handle_eof(),
///         },
///         Output::Closed => break,
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// assert!(accepted);
/// let sent = String::from_utf8(sent).unwrap();
/// assert!(sent.starts_with("EHLO client.example.net\r\nMAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"));
/// assert!(sent.ends_with("Subject: hi\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n"));
/// ```
#[derive(Debug)]
pub struct ClientSession {
    pub(super) client: Client,
    pub(super) input: BytesMut,
    pub(super) parser: ReplyParser,
    /// What is owed to the server, in order.
    pub(super) out: Outbox,
    pub(super) events: VecDeque<ClientEvent>,
    /// Replies expected, in the order their commands went out.
    pub(super) expected: VecDeque<Expect>,
    pub(super) phase: Phase,
    pub(super) capabilities: Capabilities,
    /// The limits of the `EHLO` reply in force (RFC 9422).
    pub(super) limits: Limits,
    /// The `MAIL` commands sent on this connection, which the server's `MAILMAX` limits.
    pub(super) mails: u32,
    pub(super) tls: bool,
    pub(super) authenticated: bool,
    /// Messages enqueued and not started.
    pub(super) queue: VecDeque<(MessageId, Envelope)>,
    /// The message in progress (with its transaction in progress, or the next one due).
    pub(super) current: Option<Transaction>,
    pub(super) next_id: u64,
    pub(super) quit_requested: bool,
    /// A failed transaction must be reset before the next `MAIL`.
    pub(super) needs_reset: bool,
    /// A SASL initial response too long for the `AUTH` line (RFC 4954 section 4): it
    /// goes after the server's empty `334`.
    pub(super) initial_response: Option<String>,
    /// The server refused this message while the application was pushing its body
    /// (a refused `BDAT` chunk): `push_body` says so until `end_body`.
    pub(super) refused_body: Option<MessageId>,
    /// The server refused `STARTTLS` (opportunistic TLS went on in plaintext): why a
    /// required AUTH that needs TLS cannot run.
    pub(super) tls_refusal: Option<Reply>,
    /// The driver reported the end of input, or a timeout, with replies possibly still
    /// unread: they are read first, then this applies.
    pub(super) stopping: Option<Stop>,
    /// Where the session is with `XCLIENT` ([`xclient`](ClientSession::xclient)).
    pub(super) xclient: Xclient,
}

/// Where a session is with `XCLIENT`.
#[derive(Debug, Default)]
pub(super) enum Xclient {
    /// Not asked for, or done.
    #[default]
    None,
    /// Asked for: these attributes go once the server is greeted (and TLS is up),
    /// those its keyword lists.
    Asked(alloc::boxed::Box<ClientAttributes>),
    /// Under way: these lines are still to go, each after the greeting the one before
    /// it gets; then `EHLO` again.
    Sending(VecDeque<bytes::Bytes>),
}

/// An end the driver reported, to apply once the input already handed over is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    Eof,
    Timeout,
}

/// What the session is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the greeting, or for the replies of the setup commands.
    Setup,
    /// `220` to `STARTTLS` came: hand out [`Output::StartTls`] once every byte owed is out.
    StartTls,
    /// Waiting for [`ClientSession::tls_established`].
    Handshake,
    /// Greeted (and upgraded and authenticated): messages can go.
    Ready,
    /// The session ended for this reason, and `QUIT` went: its reply is awaited (for
    /// [`ClientTimeouts::quit`](crate::ClientTimeouts::quit) at most), then the
    /// connection closes.
    Quitting(CloseReason),
    /// The session ended for this reason: send what is queued, then close.
    Closing(CloseReason),
    Closed(CloseReason),
}

/// A reply the session waits for, and what it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    /// The new greeting after an `XCLIENT`.
    Xclient,
    /// The reply to an `XFORWARD` line sent before a message's `MAIL`.
    Xforward,
    /// A reply to `AUTH` or to one of the client's SASL messages.
    Auth(Mechanism, AuthStep),
    Mail,
    Rcpt(usize),
    Data,
    /// A `BDAT` chunk before the last.
    Chunk,
    /// The reply that ends a message: after the final dot or to `BDAT ... LAST`; in
    /// LMTP one per accepted recipient (its index).
    End(Option<usize>),
    Rset,
    Noop,
    Quit,
}

impl Expect {
    /// Whether this is a reply to a command of the message in progress.
    pub(super) fn is_transaction(self) -> bool {
        matches!(self, Self::Xforward | Self::Mail | Self::Rcpt(_) | Self::Data | Self::Chunk | Self::End(_))
    }
}

/// Where an `AUTH` exchange is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthStep {
    /// `AUTH` went with everything the mechanism needs.
    Sent,
    /// `AUTH` went without its initial response, which was too long for the line: it
    /// goes after the server's `334`.
    InitialResponse,
    /// `AUTH LOGIN`: the user name is asked for next.
    LoginUsername,
    /// `AUTH LOGIN`: the password is asked for next.
    LoginPassword,
    /// The client gave up on the exchange (`*`, or the answer to an error challenge);
    /// the server's final reply closes it.
    Closing,
}

/// A misuse of the client session by the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No message body is wanted now: wait for [`ClientEvent::BodyWanted`].
    #[error("no message body is wanted now")]
    NoBodyWanted,
    /// The server refused the message while its body was being sent (a `BDAT` chunk
    /// was refused): push no more; [`ClientEvent::Failed`] says why.
    #[error("the server refused the message")]
    MessageRefused,
    /// [`ClientSession::xclient`] once the session is past its greeting: XCLIENT goes
    /// before the session is ready, or not at all.
    #[error("XCLIENT can only be asked for before the session is greeted")]
    XclientTooLate,
    /// Attributes that cannot go on the wire.
    #[error("the attributes cannot be encoded: {0}")]
    Encoding(crate::EncodeError),
}

impl ClientSession {
    /// A session for a connection that was just opened: it waits for the greeting.
    pub fn new(client: &Client) -> Self {
        let config = &client.config;
        let parser = ReplyParser::with_limits(config.max_reply_line, config.max_reply_lines, BareLf::Accept);
        Self {
            tls: config.implicit_tls,
            client: client.clone(),
            input: BytesMut::new(),
            parser,
            out: Outbox::default(),
            events: VecDeque::new(),
            expected: VecDeque::from([Expect::Greeting]),
            phase: Phase::Setup,
            capabilities: Capabilities::default(),
            limits: Limits::default(),
            mails: 0,
            authenticated: false,
            queue: VecDeque::new(),
            current: None,
            next_id: 0,
            quit_requested: false,
            needs_reset: false,
            initial_response: None,
            refused_body: None,
            tls_refusal: None,
            stopping: None,
            xclient: Xclient::None,
        }
    }

    /// For a proxy: tells the server who the real client is (Postfix's XCLIENT_README).
    /// After `EHLO` (and STARTTLS), the session sends `XCLIENT` with these attributes,
    /// those the server's `XCLIENT` keyword lists (over several commands if they do not
    /// fit one line, `NAME` and `ADDR` last), waits for the new greeting each gets,
    /// greets again, and only then authenticates and sends mail. A server that does not
    /// offer `XCLIENT`, does not list `ADDR` when it is given, or refuses it, ends the
    /// session ([`CloseReason::XclientRefused`]): a proxy must not pass mail on as
    /// itself.
    ///
    /// Call it before the session is greeted (right after [`new`](Self::new)): later it
    /// is [`ClientError::XclientTooLate`]. Attributes that cannot be encoded are
    /// [`ClientError::Encoding`].
    pub fn xclient(&mut self, attributes: &ClientAttributes) -> Result<(), ClientError> {
        if self.phase != Phase::Setup || !matches!(self.expected.front(), Some(Expect::Greeting)) {
            return Err(ClientError::XclientTooLate);
        }
        attributes.encode_lines(AttributeCommand::Xclient).map_err(ClientError::Encoding)?;
        self.xclient = Xclient::Asked(alloc::boxed::Box::new(attributes.clone()));
        Ok(())
    }

    /// Enqueues a message. It goes once the session is ready and the messages before it
    /// are done; its body is asked for with [`ClientEvent::BodyWanted`].
    ///
    /// When the server announces `LIMITS` (RFC 9422 section 4), the message keeps to
    /// them: a message for more recipients than `RCPTMAX`, or of more domains than
    /// `RCPTDOMAINMAX`, goes in several transactions on this connection, one after the
    /// other (as few as the client finds; a domain's recipients in envelope order), and
    /// its body is asked for once per transaction: push the whole body each time.
    /// Recipients keep their index in [`Envelope::recipients`] in every event, and the
    /// message has one outcome ([`ClientEvent::Accepted`], or [`ClientEvent::Failed`]
    /// with [`Failure::Partial`] when some recipients were delivered and the rest
    /// failed). Once `MAILMAX` transactions went, no `MAIL` goes: the messages (and parts
    /// of messages) left fail with [`Failure::Reconnect`] and the session sends `QUIT`.
    ///
    /// A message sent after the session ended is reported failed at once
    /// ([`Failure::SessionEnded`], after [`ClientEvent::Closed`]), as is one sent once
    /// `MAILMAX` was reached ([`Failure::Reconnect`]): it is never lost.
    pub fn send(&mut self, envelope: Envelope) -> MessageId {
        let id = MessageId(self.next_id);
        self.next_id += 1;
        match self.ended().cloned() {
            Some(reason) => {
                let failure = Failure::SessionEnded(reason);
                self.events.push_back(ClientEvent::Failed { message: id, failure });
            }
            None if self.mail_max_reached() => {
                self.events.push_back(ClientEvent::Failed { message: id, failure: Failure::Reconnect });
            }
            None => self.queue.push_back((id, envelope)),
        }
        id
    }

    /// Whether as many `MAIL` commands went as the server's `MAILMAX` allows (RFC 9422
    /// section 4): no more may go on this connection.
    fn mail_max_reached(&self) -> bool {
        self.limits.mail_max.is_some_and(|max| self.mails >= max)
    }

    /// Ends the session with `QUIT` once every enqueued message is done.
    pub fn quit(&mut self) {
        self.quit_requested = true;
    }

    /// Probes an idle session with `NOOP` (RFC 5321 section 4.1.1.9), for example before
    /// a connection pool reuses it: a `421` or the server closing ends the session
    /// with a reason that says so. Returns whether it was sent: only an idle session
    /// (no message in progress or queued, no reply awaited) sends one.
    pub fn noop(&mut self) -> bool {
        let idle = self.phase == Phase::Ready && self.current.is_none() && self.queue.is_empty();
        idle && self.expected.is_empty() && self.command(&Command::Noop { text: None }, Expect::Noop)
    }

    /// Hands over bytes the server sent.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        match self.phase {
            Phase::Closing(_) | Phase::Closed(_) => {}
            // Bytes after the server's 220 to STARTTLS, in plaintext: injected.
            Phase::Handshake | Phase::StartTls => self.close(CloseReason::ProtocolViolation),
            _ => self.input.extend_from_slice(bytes),
        }
    }

    /// The server closed the connection. Replies handed over before are still read
    /// (a `250` for a message, a `421`), then the session ends.
    pub fn handle_eof(&mut self) {
        if self.ended().is_none() || matches!(self.phase, Phase::Quitting(_)) {
            self.stopping = Some(Stop::Eof);
        }
    }

    /// The timeout from [`Output::Wait`] expired: the session gives up, with `QUIT`
    /// (whose reply it awaits for [`ClientTimeouts::quit`](crate::ClientTimeouts::quit)).
    /// Replies handed over before are still read first.
    pub fn handle_timeout(&mut self) {
        if self.stopping.is_none() && (self.ended().is_none() || matches!(self.phase, Phase::Quitting(_))) {
            self.stopping = Some(Stop::Timeout);
        }
    }

    /// Applies an end the driver reported, once no complete reply is left to read.
    fn stop(&mut self, stop: Stop) {
        match (&self.phase, stop) {
            (Phase::Closing(_) | Phase::Closed(_), _) => {}
            (Phase::Quitting(reason), _) => self.phase = Phase::Closing(reason.clone()),
            (_, Stop::Eof) if self.expected.front() == Some(&Expect::Quit) => self.close(CloseReason::Quit),
            (_, Stop::Eof) => self.close(CloseReason::Eof),
            // A reply read meanwhile may have ended the wait the timer was for.
            (_, Stop::Timeout) if self.expected.is_empty() => {}
            (_, Stop::Timeout) if self.expected.front() == Some(&Expect::Quit) => self.close(CloseReason::Timeout),
            (_, Stop::Timeout) => self.give_up(CloseReason::Timeout),
        }
    }

    /// The TLS handshake asked for by [`Output::StartTls`] completed: the session greets
    /// again (RFC 3207 section 4.2).
    pub fn tls_established(&mut self) {
        if self.phase == Phase::Handshake {
            self.tls = true;
            self.phase = Phase::Setup;
            self.capabilities = Capabilities::default();
            self.limits = Limits::default();
            self.send_ehlo();
        }
    }

    /// What the server offered in its last `EHLO` reply.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Why the session ended, once it has.
    pub fn ended(&self) -> Option<&CloseReason> {
        match &self.phase {
            Phase::Quitting(reason) | Phase::Closing(reason) | Phase::Closed(reason) => Some(reason),
            _ => None,
        }
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Output<ClientEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Output::Event(event);
            }
            if let Some(bytes) = self.out.pop() {
                return Output::Transmit(bytes);
            }
            match &self.phase {
                Phase::Closing(reason) => {
                    self.phase = Phase::Closed(reason.clone());
                    continue;
                }
                Phase::Closed(_) => return Output::Closed,
                Phase::StartTls => {
                    self.phase = Phase::Handshake;
                    return Output::StartTls;
                }
                // The connection ended while the driver did the handshake.
                Phase::Handshake if self.stopping.is_some() => {
                    self.stopping = None;
                    self.close(CloseReason::Eof);
                    continue;
                }
                Phase::Handshake => return Output::Pending(Pending::new(0, false)),
                Phase::Setup | Phase::Ready | Phase::Quitting(_) => {}
            }
            if self.step() {
                continue;
            }
            if !self.expected.is_empty() || matches!(self.phase, Phase::Quitting(_)) {
                return Output::Wait(crate::Wait::new(self.timeout()));
            }
            if self.current.as_ref().is_some_and(Transaction::wants_body) {
                return Output::Pending(Pending::new(1, true));
            }
            return Output::Idle;
        }
    }

    /// The timeout for the reply awaited first.
    fn timeout(&self) -> Duration {
        let timeouts = &self.client.config.timeouts;
        match self.expected.front() {
            _ if matches!(self.phase, Phase::Quitting(_)) => timeouts.quit,
            Some(Expect::Greeting | Expect::Xclient) => timeouts.greeting,
            Some(Expect::Rcpt(_)) => timeouts.rcpt,
            Some(Expect::Data) => timeouts.data_initiation,
            Some(Expect::Chunk) => timeouts.data_block,
            Some(Expect::End(_)) => timeouts.data_termination,
            _ if self.current.as_ref().is_some_and(Transaction::wants_body) => timeouts.data_block,
            _ => timeouts.mail,
        }
    }

    /// One piece of work: a reply, or the next message. `false` when nothing can be done.
    fn step(&mut self) -> bool {
        if let Some(reply) = self.parser.parse(&mut self.input) {
            match (reply, &self.phase) {
                // Whatever answers `QUIT` (or fails to) ends it.
                (_, Phase::Quitting(reason)) => self.phase = Phase::Closing(reason.clone()),
                (Ok(reply), _) => self.on_reply(reply),
                (Err(_), _) => self.give_up(CloseReason::ProtocolViolation),
            }
            return true;
        }
        if let Some(stop) = self.stopping.take() {
            self.stop(stop);
            return true;
        }
        let next_part = self.current.as_ref().is_some_and(Transaction::next_due);
        if self.phase == Phase::Ready && self.expected.is_empty() && (self.current.is_none() || next_part) {
            let mail_due = next_part || !self.queue.is_empty();
            // RFC 9422 MAILMAX: no more MAIL on this connection; what is left goes on
            // another.
            if mail_due && self.mail_max_reached() {
                self.reconnect();
                return true;
            }
            // RFC 5321 section 4.1.1.5: after a failed transaction, RSET before the next.
            if self.needs_reset && mail_due {
                self.needs_reset = false;
                return self.command(&Command::Rset, Expect::Rset);
            }
            if next_part {
                self.send_part();
                return true;
            }
            if let Some((id, envelope)) = self.queue.pop_front() {
                self.start(id, envelope);
                return true;
            }
            // A session that reached MAILMAX can carry no more mail: it ends.
            if self.quit_requested || self.mail_max_reached() {
                self.quit_requested = false;
                return self.command(&Command::Quit, Expect::Quit);
            }
        }
        false
    }

    /// `MAILMAX` was reached with mail left: the message in progress (the transactions of
    /// it not sent) and every queued message fail, to be sent over a new connection.
    fn reconnect(&mut self) {
        if let Some(transaction) = self.current.take() {
            self.events.push_back(transaction.failed(Failure::Reconnect));
        }
        for (id, _) in core::mem::take(&mut self.queue) {
            self.events.push_back(ClientEvent::Failed { message: id, failure: Failure::Reconnect });
        }
    }

    /// Writes a command and waits for its reply.
    pub(super) fn command(&mut self, command: &Command<'_>, expect: Expect) -> bool {
        // With no reply owed, bytes already here were sent before this command: a
        // reply to a command that does not exist yet (response injection).
        if self.expected.is_empty() && !self.input.is_empty() {
            self.give_up(CloseReason::ProtocolViolation);
            return true;
        }
        if command.encode(self.out.buffer()).is_err() {
            return false;
        }
        self.expected.push_back(expect);
        true
    }

    /// Sends a command line already encoded (CRLF included), and waits for its reply.
    pub(super) fn command_line(&mut self, line: &[u8], expect: Expect) {
        // As for `command`: bytes here before any command are injected replies.
        if self.expected.is_empty() && !self.input.is_empty() {
            return self.give_up(CloseReason::ProtocolViolation);
        }
        self.out.put_slice(line);
        self.expected.push_back(expect);
    }

    /// Ends the session without `QUIT`: the server is gone or closing (EOF, `421`).
    pub(super) fn close(&mut self, reason: CloseReason) {
        self.end(&reason);
        self.input.clear();
        self.phase = Phase::Closing(reason);
    }

    /// Ends the session with `QUIT`, and closes once it is answered (or not, in time).
    /// Without `QUIT` when it went already (it is the last command, RFC 5321 section
    /// 4.1.1.10), or in the middle of a `DATA` body, where it would be message text.
    pub(super) fn give_up(&mut self, reason: CloseReason) {
        let quit_sent = self.expected.contains(&Expect::Quit);
        if quit_sent || self.current.as_ref().is_some_and(Transaction::in_data_body) {
            return self.close(reason);
        }
        self.end(&reason);
        // Whatever else the server sent no longer matters: only QUIT's reply is read,
        // by a parser that starts afresh.
        self.input.clear();
        let config = &self.client.config;
        self.parser = ReplyParser::with_limits(config.max_reply_line, config.max_reply_lines, BareLf::Accept);
        match Command::Quit.encode(self.out.buffer()) {
            Ok(()) => self.phase = Phase::Quitting(reason),
            Err(_) => self.phase = Phase::Closing(reason),
        }
    }

    /// Reports every message not done as failed for `reason`, then `Closed`.
    fn end(&mut self, reason: &CloseReason) {
        let failure = || match reason {
            CloseReason::AuthFailed(reply) => Failure::AuthFailed(reply.clone()),
            reason => Failure::SessionEnded(reason.clone()),
        };
        if let Some(transaction) = self.current.take() {
            // LMTP after the body: the recipients already reported keep their outcome.
            let undelivered: Vec<usize> = self
                .expected
                .iter()
                .filter_map(|expect| if let Expect::End(Some(index)) = expect { Some(*index) } else { None })
                .collect();
            let lmtp = self.client.config.lmtp;
            if let Some(event) = transaction.ended(undelivered, reason, failure(), lmtp) {
                self.events.push_back(event);
            }
        }
        for (id, _) in core::mem::take(&mut self.queue) {
            self.events.push_back(ClientEvent::Failed { message: id, failure: failure() });
        }
        self.events.push_back(ClientEvent::Closed { reason: reason.clone() });
        self.expected.clear();
    }

    fn on_reply(&mut self, reply: Reply) {
        // 421 at any point, even unasked to an idle connection: the server is closing
        // (RFC 5321 section 3.8).
        if reply.code().get() == 421 && self.expected.front() != Some(&Expect::Quit) {
            return self.close(CloseReason::Rejected(reply));
        }
        let Some(expect) = self.expected.pop_front() else {
            // A refusal while a DATA body goes (a server that gives up on a message
            // early, for its size): the message's own outcome. The body cannot be
            // ended any more, so the session ends too.
            if self.current.as_ref().is_some_and(Transaction::in_data_body) && !reply.code().is_positive() {
                self.refuse_body(reply.clone());
                return self.close(CloseReason::Rejected(reply));
            }
            // A reply to nothing: response injection, or a confused server.
            return self.give_up(CloseReason::ProtocolViolation);
        };
        match expect {
            Expect::Greeting | Expect::Ehlo | Expect::Helo | Expect::StartTls | Expect::Xclient | Expect::Auth(..) => {
                self.on_setup_reply(expect, reply)
            }
            expect if expect.is_transaction() => self.on_transaction_reply(expect, reply),
            Expect::Quit => self.close(CloseReason::Quit),
            // RSET and NOOP: any reply but 421 leaves the session as it was.
            _ => {}
        }
    }
}
