//! The client state machine.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt::Write;
use core::time::Duration;

use bytes::{BufMut, BytesMut};

use super::config::{ClientConfig, ClientCredentials, TlsPolicy};
use super::event::{ClientEvent, CloseReason, Envelope, Failure, LocalFailure, MessageId};
use crate::framing::{BareLf, DataEncoder};
use crate::output::{Output, Pending};
use crate::sasl::{Mechanism, encode_base64};
use crate::wire::{BodyType, Capabilities, Capability, Command, Domain, Host, InitialResponse, Reply, ReplyParser};

/// A sans-IO SMTP, ESMTP or LMTP client session: one connection, from the server's
/// greeting to `QUIT`.
///
/// Enqueue messages with [`send`](Self::send); feed it what the server sends
/// ([`handle_input`](Self::handle_input), [`handle_eof`](Self::handle_eof),
/// [`handle_timeout`](Self::handle_timeout)) and drain
/// [`poll_output`](Self::poll_output). When it asks for a message's body
/// ([`ClientEvent::BodyWanted`]), push it in pieces of any size and end it.
///
/// ```
/// use smtp_sansio::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
/// use smtp_sansio::wire::{ForwardPath, ReversePath};
/// use smtp_sansio::Output;
///
/// let mut client = ClientSession::new(ClientConfig::new("client.example.net"));
/// let from = ReversePath::parse("<alice@example.net>").unwrap().into_owned();
/// let to = ForwardPath::parse("<bob@example.org>").unwrap().into_owned();
/// let message = client.send(Envelope::new(from, [to]));
/// client.quit();
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
///     match client.poll_output() {
///         Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
///         Output::Event(ClientEvent::BodyWanted { .. }) => {
///             client.push_body(b"Subject: hi\r\n\r\n.leading dot\r\n").unwrap();
///             client.end_body().unwrap();
///         }
///         Output::Event(ClientEvent::Accepted { message: id, reply }) => {
///             assert_eq!(id, message);
///             assert_eq!(reply.lines().next(), Some("Queued as 4VqZ1k"));
///             accepted = true;
///         }
///         Output::Event(_) => {}
///         Output::Wait(_) => match server.pop() {
///             Some(reply) => client.handle_input(reply),
///             None => client.handle_eof(),
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
    config: ClientConfig,
    input: BytesMut,
    parser: ReplyParser,
    out: BytesMut,
    events: VecDeque<ClientEvent>,
    /// Replies expected, in the order their commands went out.
    expected: VecDeque<Expect>,
    phase: Phase,
    capabilities: Capabilities,
    tls: bool,
    authenticated: bool,
    /// Messages enqueued and not started.
    queue: VecDeque<(MessageId, Envelope)>,
    /// The message in progress.
    current: Option<Transaction>,
    next_id: u64,
    quit_requested: bool,
    /// A failed transaction must be reset before the next `MAIL`.
    needs_reset: bool,
    /// Why the session ended, once it has: a message sent later fails for this.
    ended: Option<CloseReason>,
}

/// What the session is doing.
#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the greeting, or for the replies of the setup commands.
    Setup,
    /// `220` to `STARTTLS` came: hand out [`Output::StartTls`] once every byte owed is out.
    StartTls,
    /// Waiting for [`ClientSession::tls_established`].
    Handshake,
    /// Greeted (and upgraded and authenticated): messages can go.
    Ready,
    /// Done: send what is queued, then close.
    Closing,
    Closed,
}

/// A reply the session waits for, and what it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    /// A reply to `AUTH` or to one of the client's SASL messages.
    Auth(AuthStep),
    Mail,
    Rcpt(usize),
    Data,
    /// A `BDAT` chunk; `true` for the last.
    Bdat(bool),
    /// The reply after the final dot: for the message, or (LMTP) for one recipient.
    DataEnd(Option<usize>),
    Rset,
    Quit,
}

/// Where an `AUTH` exchange is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthStep {
    /// `AUTH` went with everything the mechanism needs.
    Sent,
    /// `AUTH LOGIN`: the user name is asked for next.
    LoginUsername,
    /// `AUTH LOGIN`: the password is asked for next.
    LoginPassword,
    /// The client gave up on the exchange (`*`, or an empty response to an error
    /// challenge); the server's final reply closes it.
    Closing,
}

/// The message in progress.
#[derive(Debug)]
struct Transaction {
    id: MessageId,
    recipients: usize,
    accepted: Vec<usize>,
    mail_ok: bool,
    bdat: bool,
    /// The body is being pushed.
    body_open: bool,
    encoder: DataEncoder,
    /// The failure to report once every reply of the transaction is in.
    failure: Option<Failure>,
    /// What still has to go out before the body.
    unsent: Unsent,
    /// The `RCPT` commands, ready to go.
    rcpts: Vec<Command<'static>>,
    /// The last reply of the message is in.
    done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsent {
    /// Everything that goes before the body went.
    Nothing,
    /// `RCPT` for this recipient and the ones after it (one at a time, no PIPELINING).
    Rcpt(usize),
    /// `DATA`, or for `BDAT` the request for the body.
    Data,
}

/// A misuse of the client session by the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No message body is wanted now: wait for [`ClientEvent::BodyWanted`].
    #[error("no message body is wanted now")]
    NoBodyWanted,
}

impl ClientSession {
    /// A session for a connection that was just opened: it waits for the greeting.
    pub fn new(config: ClientConfig) -> Self {
        let parser = ReplyParser::with_limits(config.max_reply_line, config.max_reply_lines, BareLf::Accept);
        Self {
            tls: config.implicit_tls,
            config,
            input: BytesMut::new(),
            parser,
            out: BytesMut::new(),
            events: VecDeque::new(),
            expected: VecDeque::from([Expect::Greeting]),
            phase: Phase::Setup,
            capabilities: Capabilities::default(),
            authenticated: false,
            queue: VecDeque::new(),
            current: None,
            next_id: 0,
            quit_requested: false,
            needs_reset: false,
            ended: None,
        }
    }

    /// Enqueues a message. It goes once the session is ready and the messages before it
    /// are done; its body is asked for with [`ClientEvent::BodyWanted`].
    ///
    /// A message sent after the session ended is reported failed at once
    /// ([`Failure::SessionEnded`], after [`ClientEvent::Closed`]): it is never lost.
    pub fn send(&mut self, envelope: Envelope) -> MessageId {
        let id = MessageId(self.next_id);
        self.next_id += 1;
        match &self.ended {
            Some(reason) => {
                let failure = Failure::SessionEnded(reason.clone());
                self.events.push_back(ClientEvent::Failed { message: id, failure });
            }
            None => self.queue.push_back((id, envelope)),
        }
        id
    }

    /// Ends the session with `QUIT` once every enqueued message is done.
    pub fn quit(&mut self) {
        self.quit_requested = true;
    }

    /// The next piece of the body asked for by [`ClientEvent::BodyWanted`]: dot-stuffed
    /// (for `DATA`), with bare CR and LF made CRLF unless the configuration says not to,
    /// or sent as one `BDAT` chunk.
    pub fn push_body(&mut self, piece: &[u8]) -> Result<(), ClientError> {
        let Some(transaction) = self.current.as_mut().filter(|t| t.body_open) else {
            return Err(ClientError::NoBodyWanted);
        };
        if piece.is_empty() {
            return Ok(());
        }
        if transaction.bdat {
            // Writing into a BytesMut cannot fail.
            let _ = write!(self.out, "BDAT {}\r\n", piece.len());
            self.out.put_slice(piece);
            self.expected.push_back(Expect::Bdat(false));
        } else {
            transaction.encoder.encode(piece, &mut self.out);
        }
        Ok(())
    }

    /// Ends the body: the final `.` line for `DATA`, `BDAT 0 LAST` for `BDAT`.
    pub fn end_body(&mut self) -> Result<(), ClientError> {
        let lmtp = self.config.lmtp;
        let Some(transaction) = self.current.as_mut().filter(|t| t.body_open) else {
            return Err(ClientError::NoBodyWanted);
        };
        transaction.body_open = false;
        match transaction.bdat {
            true => self.out.put_slice(b"BDAT 0 LAST\r\n"),
            false => transaction.encoder.finish(&mut self.out),
        }
        // LMTP (RFC 2033 section 4.2): one reply per accepted recipient ends the
        // message, after the final dot and in place of the reply to `BDAT LAST` alike.
        match (lmtp, transaction.bdat) {
            (true, _) => self.expected.extend(transaction.accepted.iter().map(|&i| Expect::DataEnd(Some(i)))),
            (false, true) => self.expected.push_back(Expect::Bdat(true)),
            (false, false) => self.expected.push_back(Expect::DataEnd(None)),
        }
        Ok(())
    }

    /// Hands over bytes the server sent.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Closing | Phase::Closed) {
            return;
        }
        if self.phase == Phase::Handshake || self.phase == Phase::StartTls {
            // Bytes after the server's 220 to STARTTLS, in plaintext: injected.
            return self.close(CloseReason::ProtocolViolation);
        }
        self.input.extend_from_slice(bytes);
    }

    /// The server closed the connection.
    pub fn handle_eof(&mut self) {
        if !matches!(self.phase, Phase::Closing | Phase::Closed) {
            let reason = match self.expected.front() {
                Some(Expect::Quit) => CloseReason::Quit,
                _ => CloseReason::Eof,
            };
            self.close(reason);
        }
    }

    /// The timeout from [`Output::Wait`] expired: the session gives up.
    pub fn handle_timeout(&mut self) {
        if !matches!(self.phase, Phase::Closing | Phase::Closed) {
            self.close(CloseReason::Timeout);
        }
    }

    /// The TLS handshake asked for by [`Output::StartTls`] completed: the session greets
    /// again (RFC 3207 section 4.2).
    pub fn tls_established(&mut self) {
        if self.phase == Phase::Handshake {
            self.tls = true;
            self.phase = Phase::Setup;
            self.capabilities = Capabilities::default();
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

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Output<ClientEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Output::Event(event);
            }
            if !self.out.is_empty() {
                return Output::Transmit(self.out.split().freeze());
            }
            match self.phase {
                Phase::Closing => {
                    self.phase = Phase::Closed;
                    continue;
                }
                Phase::Closed => return Output::Closed,
                Phase::StartTls => {
                    self.phase = Phase::Handshake;
                    return Output::StartTls;
                }
                Phase::Handshake => return Output::Pending(Pending::new(0, false)),
                Phase::Setup | Phase::Ready => {}
            }
            if self.step() {
                continue;
            }
            if self.expected.is_empty() {
                // Nothing to wait for: the application owes a body.
                return Output::Pending(Pending::new(
                    usize::from(self.current.as_ref().is_some_and(|t| t.body_open)),
                    true,
                ));
            }
            return Output::Wait(self.timeout());
        }
    }

    /// The timeout for the reply awaited first.
    fn timeout(&self) -> Duration {
        let timeouts = &self.config.timeouts;
        match self.expected.front() {
            Some(Expect::Greeting) => timeouts.greeting,
            Some(Expect::Rcpt(_)) => timeouts.rcpt,
            Some(Expect::Data) => timeouts.data_initiation,
            Some(Expect::Bdat(_)) => timeouts.data_block,
            Some(Expect::DataEnd(_)) => timeouts.data_termination,
            _ if self.current.as_ref().is_some_and(|t| t.body_open) => timeouts.data_block,
            _ => timeouts.mail,
        }
    }

    /// One piece of work: a reply, or the next message. `false` when nothing can be done.
    fn step(&mut self) -> bool {
        if let Some(reply) = self.parser.parse(&mut self.input) {
            match reply {
                Ok(reply) => self.on_reply(reply),
                Err(_) => self.close(CloseReason::ProtocolViolation),
            }
            return true;
        }
        if self.phase == Phase::Ready && self.expected.is_empty() && self.current.is_none() {
            // RFC 5321 section 4.1.1.5: after a failed transaction, RSET before the next.
            if self.needs_reset && !self.queue.is_empty() {
                self.needs_reset = false;
                self.command(&Command::Rset, Expect::Rset);
                return true;
            }
            if let Some((id, envelope)) = self.queue.pop_front() {
                self.start(id, envelope);
                return true;
            }
            if self.quit_requested {
                self.quit_requested = false;
                self.command(&Command::Quit, Expect::Quit);
                return true;
            }
        }
        false
    }

    /// Writes a command and waits for its reply.
    fn command(&mut self, command: &Command<'_>, expect: Expect) -> bool {
        // With no reply owed, bytes already here were sent before this command: a
        // reply to a command that does not exist yet (response injection).
        if self.expected.is_empty() && !self.input.is_empty() {
            self.close(CloseReason::ProtocolViolation);
            return false;
        }
        if command.encode(&mut self.out).is_err() {
            return false;
        }
        self.expected.push_back(expect);
        true
    }

    /// The name to greet with: the configured one, or `localhost` if it does not parse
    /// as a domain or address literal.
    fn own_name(&self) -> Host<'_> {
        Host::parse_with(&self.config.ehlo_name, 255, true).unwrap_or(Host::Domain(Domain::LOCALHOST))
    }

    fn send_ehlo(&mut self) {
        let host = self.own_name().into_owned();
        let command = match self.config.lmtp {
            true => Command::Lhlo { host },
            false => Command::Ehlo { host },
        };
        self.command(&command, Expect::Ehlo);
    }

    /// Ends the session: every message not done is reported, then `Closed`.
    fn close(&mut self, reason: CloseReason) {
        self.end(reason);
        self.input.clear();
    }

    /// Sends `QUIT` and closes after its reply (or closes at once if the server is gone).
    fn give_up(&mut self, reason: CloseReason) {
        self.end(reason);
        // Whatever else the server sent no longer matters: only QUIT's reply is read.
        self.input.clear();
        if Command::Quit.encode(&mut self.out).is_ok() {
            self.expected.push_back(Expect::Quit);
        }
    }

    /// Reports every message not done as failed for `reason`, and `Closed`.
    fn end(&mut self, reason: CloseReason) {
        if let Some(transaction) = self.current.take() {
            let failure = transaction.failure.unwrap_or(Failure::SessionEnded(reason.clone()));
            self.events.push_back(ClientEvent::Failed { message: transaction.id, failure });
        }
        for (id, _) in self.queue.drain(..) {
            self.events.push_back(ClientEvent::Failed { message: id, failure: Failure::SessionEnded(reason.clone()) });
        }
        self.events.push_back(ClientEvent::Closed { reason: reason.clone() });
        self.ended = Some(reason);
        self.expected.clear();
        self.phase = Phase::Closing;
    }

    fn on_reply(&mut self, reply: Reply) {
        let Some(expect) = self.expected.pop_front() else {
            // A reply to nothing: response injection, or a confused server.
            return self.close(CloseReason::ProtocolViolation);
        };
        // 421 at any point: the server is closing (RFC 5321 section 3.8).
        if reply.code().get() == 421 && expect != Expect::Quit {
            return self.close(CloseReason::Rejected(reply));
        }
        match expect {
            Expect::Greeting => match reply.code().get() {
                220 => self.send_ehlo(),
                _ => self.give_up(CloseReason::Rejected(reply)),
            },
            Expect::Ehlo => self.on_ehlo(reply),
            Expect::Helo => match reply.code().is_positive() {
                true => {
                    self.capabilities = Capabilities::default();
                    self.ready();
                }
                false => self.give_up(CloseReason::Rejected(reply)),
            },
            Expect::StartTls => match reply.code().get() {
                220 if self.input.is_empty() => self.phase = Phase::StartTls,
                // Anything after the 220, before the handshake, was injected.
                220 => self.close(CloseReason::ProtocolViolation),
                _ if self.config.starttls == TlsPolicy::Required => self.give_up(CloseReason::TlsUnavailable),
                _ => self.authenticate(),
            },
            Expect::Auth(step) => self.on_auth(step, reply),
            Expect::Mail | Expect::Rcpt(_) | Expect::Data | Expect::Bdat(_) | Expect::DataEnd(_) => {
                self.on_transaction_reply(expect, reply)
            }
            Expect::Rset => {}
            Expect::Quit => self.close(CloseReason::Quit),
        }
    }

    fn on_ehlo(&mut self, reply: Reply) {
        let code = reply.code().get();
        if reply.code().is_positive() {
            self.capabilities = Capabilities::from_reply(&reply).unwrap_or_default();
            let offered = self.capabilities.has(&Capability::StartTls);
            return match self.config.starttls {
                _ if self.tls => self.authenticate(),
                TlsPolicy::Off => self.authenticate(),
                _ if offered => {
                    self.command(&Command::StartTls, Expect::StartTls);
                }
                TlsPolicy::Required => self.give_up(CloseReason::TlsUnavailable),
                TlsPolicy::Opportunistic => self.authenticate(),
            };
        }
        // RFC 5321 section 4.1.4: a server that does not know EHLO gets HELO, unless
        // TLS or AUTH is needed, which HELO cannot give, or this is LMTP.
        let needs_extensions =
            (self.config.starttls == TlsPolicy::Required && !self.tls) || self.config.credentials.is_some();
        if (code == 500 || code == 502) && !needs_extensions && !self.config.lmtp {
            let host = self.own_name().into_owned();
            self.command(&Command::Helo { host }, Expect::Helo);
            return;
        }
        match self.config.starttls == TlsPolicy::Required && !self.tls {
            true => self.give_up(CloseReason::TlsUnavailable),
            false => self.give_up(CloseReason::Rejected(reply)),
        }
    }

    /// After greeting (and TLS): `AUTH`, if configured and possible, then ready.
    fn authenticate(&mut self) {
        let Some(credentials) = self.config.credentials.clone() else { return self.ready() };
        if self.authenticated {
            return self.ready();
        }
        let offered = self.capabilities.auth_mechanisms();
        let mechanism = self.config.mechanisms.iter().copied().find(|m| {
            let fits = matches!(
                (m, &credentials),
                (Mechanism::Plain | Mechanism::Login, ClientCredentials::Password { .. })
                    | (Mechanism::XOAuth2 | Mechanism::OAuthBearer, ClientCredentials::Bearer { .. })
            );
            fits && offered.iter().any(|o| o.eq_ignore_ascii_case(m.as_str()))
        });
        let Some(mechanism) = mechanism.filter(|_| self.tls || self.config.plaintext_auth) else {
            self.events.push_back(ClientEvent::AuthFailed { reply: None });
            return self.ready();
        };
        let message = match (&credentials, mechanism) {
            (ClientCredentials::Password { username, password }, Mechanism::Plain) => {
                Some(alloc::format!("\0{username}\0{password}"))
            }
            (ClientCredentials::Bearer { user, token }, Mechanism::XOAuth2) => {
                Some(alloc::format!("user={user}\x01auth=Bearer {token}\x01\x01"))
            }
            (ClientCredentials::Bearer { user, token }, Mechanism::OAuthBearer) => {
                let user = user.replace('=', "=3D").replace(',', "=2C");
                Some(alloc::format!("n,a={user},\x01auth=Bearer {token}\x01\x01"))
            }
            _ => None,
        };
        let (initial_response, step) = match message {
            Some(message) => {
                let encoded = encode_base64(message.as_bytes());
                (Some(InitialResponse::Base64(encoded.into())), AuthStep::Sent)
            }
            None => (None, AuthStep::LoginUsername),
        };
        let command = Command::Auth { mechanism: mechanism.as_str().into(), initial_response };
        self.command(&command, Expect::Auth(step));
    }

    fn on_auth(&mut self, step: AuthStep, reply: Reply) {
        // Judged by class (RFC 5321 section 4.2.1): 2yz succeeded, 3yz is a challenge.
        if reply.code().is_positive() {
            self.authenticated = true;
            // RFC 4954 section 4: after AUTH the server's extensions may change.
            return self.ready();
        }
        if !reply.code().is_intermediate() || step == AuthStep::Closing {
            self.events.push_back(ClientEvent::AuthFailed { reply: Some(reply) });
            return self.ready();
        }
        let secret = match (&self.config.credentials, step) {
            (Some(ClientCredentials::Password { username, .. }), AuthStep::LoginUsername) => {
                Some((username.clone(), AuthStep::LoginPassword))
            }
            (Some(ClientCredentials::Password { password, .. }), AuthStep::LoginPassword) => {
                Some((password.clone(), AuthStep::Sent))
            }
            _ => None,
        };
        match secret {
            Some((text, next)) => {
                self.out.put_slice(encode_base64(text.as_bytes()).as_bytes());
                self.out.put_slice(b"\r\n");
                self.expected.push_back(Expect::Auth(next));
            }
            None => {
                // An error challenge (XOAUTH2/OAUTHBEARER, RFC 7628 section 3.2.3) is
                // answered with an empty response; anything else is cancelled.
                let answer: &[u8] = match step {
                    AuthStep::Sent => b"\r\n",
                    _ => b"*\r\n",
                };
                self.out.put_slice(answer);
                self.expected.push_back(Expect::Auth(AuthStep::Closing));
            }
        }
    }

    /// Setup is over: messages may go.
    fn ready(&mut self) {
        self.phase = Phase::Ready;
        self.events.push_back(ClientEvent::Ready {
            capabilities: self.capabilities.clone(),
            tls: self.tls,
            authenticated: self.authenticated,
        });
    }

    /// Starts a message: checks it against the server, then `MAIL`, and with
    /// PIPELINING every `RCPT` and `DATA` in the same group.
    fn start(&mut self, id: MessageId, envelope: Envelope) {
        let caps = &self.capabilities;
        let mut params = envelope.params.clone();
        let utf8 = !envelope.from.is_ascii() || envelope.recipients.iter().any(|(to, _)| !to.is_ascii());
        let chunking = caps.has(&Capability::Chunking);
        let failure = match () {
            _ if envelope.recipients.is_empty() => Some(LocalFailure::NoRecipients),
            _ if matches!((params.size, caps.size_limit()), (Some(size), Some(limit)) if limit > 0 && size > limit) => {
                Some(LocalFailure::TooBig)
            }
            _ if utf8 && !caps.has(&Capability::SmtpUtf8) => Some(LocalFailure::NeedsSmtpUtf8),
            _ if params.body == Some(BodyType::EightBitMime) && !caps.has(&Capability::EightBitMime) => {
                Some(LocalFailure::NeedsEightBitMime)
            }
            _ if params.body == Some(BodyType::BinaryMime) && !(chunking && caps.has(&Capability::BinaryMime)) => {
                Some(LocalFailure::NeedsBinaryMime)
            }
            _ => None,
        };
        if let Some(failure) = failure {
            self.events.push_back(ClientEvent::Failed { message: id, failure: Failure::Local(failure) });
            return;
        }
        // Parameters of extensions the server does not offer are left out.
        if !caps.has_keyword("SIZE") {
            params.size = None;
        }
        if utf8 {
            params.smtputf8 = true;
        }
        let dsn = caps.has(&Capability::Dsn);
        if !dsn {
            params.ret = None;
            params.envid = None;
        }
        let bdat = params.body == Some(BodyType::BinaryMime) || (chunking && self.config.prefer_bdat);
        let pipelining = caps.has(&Capability::Pipelining);
        let before = self.out.len();
        let mut encoded = Command::Mail { from: envelope.from.clone(), params }.encode(&mut self.out).is_ok();
        let rcpt_commands: Vec<Command<'static>> = envelope
            .recipients
            .iter()
            .map(|(to, params)| {
                let mut params = params.clone();
                if !dsn {
                    params.notify = None;
                    params.orcpt = None;
                }
                Command::Rcpt { to: to.clone(), params }
            })
            .collect();
        let mut scratch = BytesMut::new();
        encoded &= rcpt_commands.iter().all(|command| command.encode(&mut scratch).is_ok());
        if !encoded {
            self.out.truncate(before);
            self.events.push_back(ClientEvent::Failed { message: id, failure: Failure::Local(LocalFailure::Encoding) });
            return;
        }
        self.expected.push_back(Expect::Mail);
        let recipients = rcpt_commands.len();
        let mut transaction = Transaction {
            id,
            recipients,
            accepted: Vec::new(),
            mail_ok: false,
            bdat,
            body_open: false,
            encoder: if self.config.normalize_line_endings { DataEncoder::new() } else { DataEncoder::raw() },
            failure: None,
            unsent: Unsent::Rcpt(0),
            rcpts: rcpt_commands,
            done: false,
        };
        if pipelining {
            // RFC 2920 section 3.1: MAIL, every RCPT and DATA in one group.
            self.out.unsplit(scratch);
            self.expected.extend((0..recipients).map(Expect::Rcpt));
            transaction.unsent = Unsent::Data;
            if !bdat {
                self.out.put_slice(b"DATA\r\n");
                self.expected.push_back(Expect::Data);
                transaction.unsent = Unsent::Nothing;
            }
        }
        self.current = Some(transaction);
    }

    /// A reply to a command of the message in progress.
    fn on_transaction_reply(&mut self, expect: Expect, reply: Reply) {
        let Some(transaction) = self.current.as_mut() else { return };
        let id = transaction.id;
        let positive = reply.code().is_positive();
        match expect {
            Expect::Mail => {
                transaction.mail_ok = positive;
                if !positive {
                    transaction.failure.get_or_insert(Failure::Rejected(reply));
                }
            }
            Expect::Rcpt(index) => {
                if positive {
                    transaction.accepted.push(index);
                }
                self.events.push_back(ClientEvent::Recipient { message: id, index, reply });
            }
            // Any 3yz goes ahead (RFC 5321 section 4.2.1), not only 354.
            Expect::Data if reply.code().is_intermediate() => {
                if transaction.mail_ok && !transaction.accepted.is_empty() {
                    transaction.body_open = true;
                    self.events.push_back(ClientEvent::BodyWanted { message: id });
                } else {
                    // The server wants a body for nobody: end it at once, empty.
                    transaction.failure.get_or_insert(Failure::NoRecipients);
                    self.out.put_slice(b".\r\n");
                    self.expected.push_back(Expect::DataEnd(None));
                }
            }
            Expect::Data => {
                let failure = match transaction.accepted.is_empty() {
                    true => Failure::NoRecipients,
                    false => Failure::Rejected(reply),
                };
                transaction.failure.get_or_insert(failure);
            }
            Expect::Bdat(last) => {
                if !positive {
                    transaction.failure.get_or_insert(Failure::Rejected(reply.clone()));
                }
                if last {
                    transaction.done = true;
                    if transaction.failure.is_none() {
                        self.events.push_back(ClientEvent::Accepted { message: id, reply });
                    }
                }
            }
            Expect::DataEnd(None) => {
                transaction.done = true;
                if transaction.failure.is_none() {
                    match positive {
                        true => self.events.push_back(ClientEvent::Accepted { message: id, reply }),
                        false => transaction.failure = Some(Failure::Rejected(reply)),
                    }
                }
            }
            Expect::DataEnd(Some(index)) => {
                transaction.done = true;
                self.events.push_back(ClientEvent::Delivery { message: id, index, reply });
            }
            _ => {}
        }
        self.advance();
    }

    /// Sends what the message in progress needs next, or ends it once its last reply
    /// is in.
    fn advance(&mut self) {
        let Some(transaction) = self.current.as_mut() else { return };
        let in_flight = self.expected.iter().any(|expect| {
            matches!(expect, Expect::Mail | Expect::Rcpt(_) | Expect::Data | Expect::Bdat(_) | Expect::DataEnd(_))
        });
        if in_flight || transaction.body_open {
            return;
        }
        if transaction.done || transaction.failure.is_some() {
            let Some(transaction) = self.current.take() else { return };
            if let Some(failure) = transaction.failure {
                self.events.push_back(ClientEvent::Failed { message: transaction.id, failure });
                self.needs_reset = true;
            }
            return;
        }
        match transaction.unsent {
            Unsent::Rcpt(index) if index < transaction.recipients && transaction.mail_ok => {
                transaction.unsent = Unsent::Rcpt(index + 1);
                if let Some(command) = transaction.rcpts.get(index).cloned() {
                    self.command(&command, Expect::Rcpt(index));
                }
            }
            Unsent::Rcpt(_) | Unsent::Data if transaction.accepted.is_empty() => {
                transaction.failure = Some(Failure::NoRecipients);
                self.advance();
            }
            Unsent::Rcpt(_) | Unsent::Data => {
                transaction.unsent = Unsent::Nothing;
                if transaction.bdat {
                    transaction.body_open = true;
                    self.events.push_back(ClientEvent::BodyWanted { message: transaction.id });
                } else {
                    self.command(&Command::Data, Expect::Data);
                }
            }
            // Everything went and every reply is in, and the message is not done: the
            // body is owed by the application, or nothing more will come.
            Unsent::Nothing => {}
        }
    }
}
