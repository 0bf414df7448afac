//! The server state machine: its state and the driver-facing methods. Decisions and
//! the reply queue are in `decide.rs`.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use bytes::{Buf, BytesMut};

use super::canned::{self, Canned};
use super::checked::{Server, Shared};
use super::config::ServerConfig;
use super::envelope::RcptCommand;
use super::event::{AbortReason, ServerEvent};
use crate::error::{DecisionError, MisuseError};
use crate::framing::{BareLf, BdatReader, DataDecoder, LineFramer};
use crate::output::{Output, Pending, Wait};
use crate::proxy::{ProxyHeader, ProxyParse, ProxyVersions};
use crate::sasl::Mechanism;
use crate::wire::{BodyType, ParseOptions, Reply, TraceProtocol};

/// Input a driver may hand over after being told that the session cannot use it
/// ([`Pending::wants_input`] false), beyond one line: a driver that keeps reading anyway
/// cannot make the session hold more. The session answers `421` and closes instead.
/// Reads handed over while the session waits for the peer are taken whatever their
/// size: the driver chose that size, and they must give the same result whenever the
/// decisions come.
pub(super) const MAX_HELD_INPUT: usize = 1 << 20;

/// A sans-IO SMTP, ESMTP or LMTP server session: one connection, from greeting to
/// close.
///
/// Feed it what the peer sends ([`handle_input`](Self::handle_input),
/// [`handle_eof`](Self::handle_eof), [`handle_timeout`](Self::handle_timeout)) and
/// drain [`poll_output`](Self::poll_output) until it says [`Output::Wait`],
/// [`Output::Pending`] or [`Output::Closed`]. Events that need a decision carry a
/// [`Ticket`](super::Ticket); answer with [`accept`](Self::accept),
/// [`accept_with`](Self::accept_with) or [`reject`](Self::reject), now or after any
/// amount of asynchronous work.
///
/// # The decision contract
///
/// * **Who is waited for.** [`Output::Wait`] means the peer alone: arm its timeout.
///   [`Output::Pending`] means the application owes [`Pending::owed`] decisions; no
///   peer timeout runs then (a call to `handle_timeout` is ignored), so the client is
///   never blamed for the application's slowness. Deadlines for the application's own
///   work are the application's.
/// * **Replies in command order.** Decisions may come in any order; each reply keeps
///   its command's place.
/// * **Tickets.** A ticket names its session and its kind; answering one twice, with
///   another session, or after the session closed is a [`DecisionError`] that changes
///   nothing. `AUTH` credentials come with an [`AuthTicket`](super::AuthTicket) that
///   only [`accept_auth`](Self::accept_auth) accepts.
/// * **Closing.** [`Output::Closed`] is final. After `QUIT` or end of input
///   ([`handle_eof`](Self::handle_eof)) every command already received is answered
///   first, decisions included. A forced close (timeout, too many errors, a flood of
///   input while waiting, a `421` decision, [`close`](Self::close)) sends the replies
///   already decided, then its `421`; decisions not yet made are dropped, and
///   answering them gives [`DecisionError::Closed`] (as does answering any ticket once
///   the session closed, even one answered before).
/// * **A forgotten ticket holds the connection.** While the application owes a decision
///   no peer timeout runs, by design: an application that drops a ticket (a catch-all
///   that ignores an event with a ticket) keeps the session waiting until it closes it.
///   Answer every ticket, or [`close`](Self::close) the session.
///
/// ```
/// use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession};
/// use smtp_sansio::Output;
///
/// let server = ServerConfig::new("mx.example.org").build().unwrap();
/// let mut session = ServerSession::new(&server);
/// // The client's reads, each sent after the reply it waits for (the greeting, EHLO's
/// // reply, the 354): a client that talks out of turn is cut off (`SyncChecks`).
/// let mut reads: Vec<&[u8]> = vec![
///     b"EHLO client.example\r\n",
///     b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
///     b"Subject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n",
/// ];
/// reads.reverse();
/// let (mut sent, mut body) = (Vec::new(), Vec::new());
/// loop {
///     match session.poll_output() {
///         Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
///         Output::Event(ServerEvent::BodyChunk(chunk)) => body.extend_from_slice(&chunk),
///         Output::Event(event) => {
///             if let Some(ticket) = event.ticket() {
///                 session.accept(ticket).unwrap();
///             }
///         }
///         Output::Wait(_) => match reads.pop() {
///             Some(read) => session.handle_input(read),
///             None => session.handle_eof(),
///         },
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
    pub(super) shared: Arc<Shared>,
    /// Names this session in its tickets.
    pub(super) id: u32,
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
    pub(super) next_ticket: u32,
    pub(super) phase: Phase,
    pub(super) hello: Hello,
    pub(super) tls: bool,
    pub(super) authenticated: bool,
    pub(super) transaction: Option<Transaction>,
    pub(super) errors: u32,
    /// `AUTH` attempts the application refused.
    pub(super) auth_failures: u32,
    /// Commands that moved no mail since the last message accepted
    /// ([`ServerConfig::max_junk_commands`]).
    pub(super) junk: u32,
    /// `MAIL` commands handed to the application (RFC 9422's `MAILMAX` counts them).
    pub(super) mails: u32,
    pub(super) eof: bool,
    /// The `PROTO` of the last `XCLIENT` that gave one (`Helo` for SMTP, `Ehlo` for
    /// ESMTP): the protocol of the client it names, for the trace fields.
    pub(super) xclient_proto: Option<Hello>,
    /// The application trusts the peer with `XCLIENT` and `XFORWARD`
    /// ([`trust_proxy`](Self::trust_proxy)).
    pub(super) trusted_proxy: bool,
    /// A reply the client must wait for before it sends more is queued, or owed, and
    /// not yet handed out ([`SyncChecks`](super::SyncChecks)): input now is out of step.
    pub(super) awaiting: Option<Awaited>,
    /// A `Wait` started the deadline for the command line now partly received
    /// ([`ServerTimeouts::command_line`](crate::ServerTimeouts::command_line)); later
    /// waits for the same line keep it.
    pub(super) line_deadline: bool,
    /// The last `poll_output` said `Pending` with `wants_input` false, and no decision
    /// came since: how much input was held then. Input handed over since only waits,
    /// and more than [`MAX_HELD_INPUT`] of it closes the session.
    pub(super) told_no_input: Option<u32>,
}

/// A refusal at the greeting waiting for the PROXY header: its encoded reply, and
/// whether it is a `421` (which closes at once).
#[derive(Debug, Clone)]
pub(super) struct Refusing {
    reply: bytes::Bytes,
    closes: bool,
}

/// The reply the client must wait for ([`ServerSession::awaiting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Awaited {
    /// The greeting: nothing has been handed out yet.
    Greeting,
    /// The reply to a command that ends a pipelined group (or to any command, for a
    /// client not offered `PIPELINING`).
    Reply,
}

/// What the session is reading now.
#[derive(Debug)]
pub(super) enum Phase {
    /// [`ServerConfig::proxy_protocol`]: reading the PROXY header, before anything else;
    /// then the greeting, or this refusal ([`ServerSession::refusing`]).
    Proxy {
        versions: ProxyVersions,
        refusal: Option<Refusing>,
    },
    /// [`ServerConfig::greet_delay`]: waiting before the greeting.
    GreetDelay(core::time::Duration),
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
    /// Send what is owed, then close. No more input is read.
    Closing,
    Closed,
}

#[derive(Debug)]
pub(super) struct DataBody {
    pub(super) decoder: DataDecoder,
    /// Octets of the body so far, after unstuffing.
    pub(super) received: u64,
    /// Set once the body is known to be refused; the rest is read and dropped.
    pub(super) refused: Option<Refusal>,
}

/// A message refused while its body was read: why, and how many replies it gets once
/// the body ends (one, or in LMTP one per accepted recipient: RFC 2033 section 4.2).
#[derive(Debug, Clone, Copy)]
pub(super) struct Refusal {
    pub(super) reason: AbortReason,
    pub(super) replies: usize,
}

#[derive(Debug)]
pub(super) struct BdatBody {
    pub(super) reader: BdatReader,
    pub(super) last: bool,
    /// The chunk's announced size, for the reply.
    pub(super) size: u64,
    /// The chunk was refused before it is read: it is dropped, then this is the reply.
    pub(super) refused: Option<Canned>,
}

#[derive(Debug)]
pub(super) struct AuthExchange {
    pub(super) mechanism: Mechanism,
    /// `LOGIN`'s user name, once given.
    pub(super) username: Option<alloc::string::String>,
}

/// Where the session is in greeting the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hello {
    /// No `HELO`, `EHLO` or `LHLO` accepted yet.
    None,
    Helo,
    /// `EHLO`, or `LHLO` in LMTP.
    Ehlo,
    /// The connection was refused at the greeting (RFC 5321 section 3.1): every command
    /// but `QUIT` gets `503`.
    Refused,
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
    pub(super) lmtp_recipients: Vec<(u32, RcptCommand, bool)>,
    /// Body octets received so far (all `BDAT` chunks together).
    pub(super) received: u64,
    /// The recipient domains of the `RCPT` commands handed to the application, when
    /// their number is limited (RFC 9422's `RCPTDOMAINMAX`).
    /// (Boxed, and made only when the limit is set: a thin pointer keeps an idle
    /// session within 1 KiB.)
    #[allow(clippy::box_collection)]
    pub(super) domains: Option<alloc::boxed::Box<Vec<alloc::string::String>>>,
    /// A `BDAT` chunk was taken: the body is being sent in chunks, so neither `RCPT`
    /// nor `DATA` may follow (RFC 3030 section 2). (An accepted `DATA` reads the whole
    /// body and ends the transaction; a refused one changes nothing.)
    pub(super) chunking: bool,
    /// A `BDAT` chunk was refused: the rest of the message is read and dropped, and
    /// answered with this.
    pub(super) refused: Option<AbortReason>,
}

impl Transaction {
    pub(super) fn new(body: Option<BodyType>, smtputf8: bool) -> Self {
        Self {
            body,
            smtputf8,
            recipients: 0,
            undecided: 0,
            lmtp_recipients: Vec::new(),
            received: 0,
            chunking: false,
            domains: None,
            refused: None,
        }
    }
}

/// One reply owed, in command order.
#[derive(Debug)]
pub(super) enum Owed {
    /// Waiting for the application.
    Decision { ticket: u32, kind: Kind, decided: Option<BytesMut> },
    /// This many bytes at the front of `held`.
    Ready(usize),
}

/// What a ticket decides, and what the session needs to act on the decision. Small
/// and `Copy`: the reply queue holds one per decision.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Hello(Hello),
    Mail { body: Option<BodyType>, smtputf8: bool },
    Rcpt,
    Data,
    MessageEnd,
    Delivery,
    Auth,
    Verify,
    Expand,
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

/// Numbers sessions, so that a ticket names its own. The number wraps after 2^32
/// sessions: a ticket kept that long names another session's by chance only. Without
/// atomics (some embedded targets) every session is number 0 and tickets of other
/// sessions are told apart only by their numbers. (32 bits keep tickets, and so
/// events, small: they are moved on every command.)
fn next_session_id() -> u32 {
    #[cfg(target_has_atomic = "32")]
    {
        use core::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }
    #[cfg(not(target_has_atomic = "32"))]
    {
        0
    }
}

impl ServerSession {
    /// A session for a connection that was just accepted. The `220` greeting is the
    /// first output.
    pub fn new(server: &Server) -> Self {
        let shared = server.shared.clone();
        let mut session = Self::starting(shared);
        match session.shared.config.proxy_protocol {
            Some(versions) => session.phase = Phase::Proxy { versions, refusal: None },
            None => session.greet(),
        }
        session.awaiting = Some(Awaited::Greeting);
        session
    }

    /// Whether input now comes before the greeting, and that is checked
    /// ([`SyncChecks::before_greeting`](super::SyncChecks::before_greeting)).
    fn greeting_checked(&self) -> bool {
        self.awaiting == Some(Awaited::Greeting) && self.shared.config.sync_checks.before_greeting
    }

    /// Greets the client, or starts the wait before the greeting.
    fn greet(&mut self) {
        match self.shared.config.greet_delay {
            Some(delay) => self.phase = Phase::GreetDelay(delay),
            None => self.send_greeting(),
        }
    }

    /// The `220`, and commands from now on.
    fn send_greeting(&mut self) {
        self.out.extend_from_slice(&self.shared.greeting);
        self.flush = true;
        self.enter(Phase::Commands);
    }

    /// Reads the PROXY protocol header that starts the connection; then greets. What
    /// follows the header in the same read was sent before the greeting.
    fn proxy_step(&mut self, versions: ProxyVersions) -> Step {
        match ProxyHeader::parse(&self.input, versions) {
            Ok(ProxyParse::Incomplete) => Step::NeedInput,
            Ok(ProxyParse::Complete { header, consumed }) => {
                self.consume(consumed);
                self.events.push_back(ServerEvent::Proxied(alloc::boxed::Box::new(header)));
                let refusal = match &mut self.phase {
                    Phase::Proxy { refusal, .. } => refusal.take(),
                    _ => None,
                };
                match refusal {
                    Some(Refusing { reply, closes }) => self.refuse_now(&reply, closes),
                    None => self.greet(),
                }
                if !self.input.is_empty() && self.greeting_checked() {
                    self.out_of_step();
                }
                Step::Progress
            }
            Err(error) => {
                // Not from the balancer, or not a balancer that speaks it: nothing here
                // is to be trusted, not even with a reply.
                self.events.push_back(ServerEvent::ProxyRefused(error));
                self.enter(Phase::Closed);
                Step::Progress
            }
        }
    }

    /// A session that refuses the connection at the greeting (RFC 5321 section 3.1):
    /// `reply` instead of `220`, usually `554` with text that helps the sender's
    /// postmaster. The session then waits for `QUIT`, answering every other command
    /// `503 5.5.1`. A `421` reply closes at once instead. Any other code than 421 or
    /// 5xx is [`DecisionError::WrongCode`]. Behind the PROXY protocol
    /// ([`ServerConfig::proxy_protocol`]) the refusal waits for the balancer's header,
    /// before which nothing is said. (To refuse by the address the header gives, start
    /// with [`new`](Self::new) and [`close_with`](Self::close_with) a `554` on
    /// [`ServerEvent::Proxied`]: it takes the greeting's place.)
    ///
    /// ```
    /// use smtp_sansio::server::{ServerConfig, ServerSession};
    /// use smtp_sansio::{Output, Reply, ReplyCode};
    ///
    /// let server = ServerConfig::new("mx.example.org").build().unwrap();
    /// let reply = Reply::new(ReplyCode::TRANSACTION_FAILED, "No SMTP service for 192.0.2.1 (listed at example.net)");
    /// let mut session = ServerSession::refusing(&server, reply).unwrap();
    /// session.handle_input(b"EHLO client.example\r\nQUIT\r\n");
    /// let mut sent = Vec::new();
    /// while let Output::Transmit(bytes) = session.poll_output() {
    ///     sent.extend_from_slice(&bytes);
    /// }
    /// assert_eq!(String::from_utf8(sent).unwrap(),
    ///     "554 No SMTP service for 192.0.2.1 (listed at example.net)\r\n503 5.5.1 No SMTP service here, send QUIT\r\n221 2.0.0 Bye\r\n");
    /// ```
    pub fn refusing(server: &Server, reply: Reply) -> Result<Self, DecisionError> {
        let code = reply.code().get();
        if code != 421 && !(500..600).contains(&code) {
            return Err(DecisionError::WrongCode);
        }
        let mut session = Self::starting(server.shared.clone());
        let mut encoded = BytesMut::new();
        reply.encode(&mut encoded).map_err(DecisionError::Encode)?;
        session.hello = Hello::Refused;
        match session.shared.config.proxy_protocol {
            // Behind a balancer nothing is said before its header (the PROXY protocol
            // specification, section 2): the refusal waits for it.
            Some(versions) => {
                let refusal = Refusing { reply: encoded.freeze(), closes: code == 421 };
                session.phase = Phase::Proxy { versions, refusal: Some(refusal) };
            }
            None => session.refuse_now(&encoded, code == 421),
        }
        Ok(session)
    }

    /// Sends a refusal in place of the greeting.
    fn refuse_now(&mut self, encoded: &[u8], closes: bool) {
        self.out.extend_from_slice(encoded);
        self.flush = true;
        match closes {
            true => self.enter(Phase::Closing),
            false => self.enter(Phase::Commands),
        }
    }

    fn starting(shared: Arc<Shared>) -> Self {
        let config = &shared.config;
        let options = ParseOptions { strict: config.strict, limits: config.address_limits };
        // Each command's own cap is checked once its line is read.
        let bare_lf = match config.command_bare_lf {
            super::CommandBareLf::Reject => BareLf::Reject,
            super::CommandBareLf::Normalize => BareLf::Accept,
        };
        let framer = LineFramer::new(shared.caps.longest(), bare_lf);
        Self {
            id: next_session_id(),
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
            auth_failures: 0,
            junk: 0,
            mails: 0,
            eof: false,
            xclient_proto: None,
            trusted_proxy: false,
            awaiting: None,
            line_deadline: false,
            told_no_input: None,
            shared,
        }
    }

    /// Hands over bytes the peer sent. A read of any size is taken while the session
    /// waits for the peer ([`Output::Wait`], or [`Output::Pending`] wanting input).
    /// After it said it cannot use input, what is handed over only waits, and more than
    /// about 1 MiB of it closes the session with `421 4.7.0`.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if self.accepts_input(bytes.len()) {
            self.input.extend_from_slice(bytes);
        }
    }

    /// The same as [`handle_input`](Self::handle_input), for a read the driver owns:
    /// when the session holds nothing, the buffer is taken as it is, without a copy, and
    /// body chunks and `MAIL`/`RCPT` commands become slices of it. Read into a fresh
    /// buffer each time (`BytesMut::split` after `read_buf` does that).
    pub fn handle_input_buf(&mut self, bytes: BytesMut) {
        if self.accepts_input(bytes.len()) {
            if self.input.is_empty() {
                self.input = bytes;
            } else {
                self.input.extend_from_slice(&bytes);
            }
        }
    }

    /// Whether input of this length is taken: bytes after `STARTTLS` are counted and
    /// dropped, bytes after the session stopped reading are dropped, and a flood held
    /// behind an undecided command closes the session.
    fn accepts_input(&mut self, len: usize) -> bool {
        let cap = MAX_HELD_INPUT + self.framer.max_line();
        // (`before` saturates at 4 GiB: a read that large is the driver's own choice.)
        let flood = self
            .told_no_input
            .is_some_and(|before| self.input.len().saturating_add(len) > (before as usize).saturating_add(cap));
        let early = len > 0 && (self.awaiting == Some(Awaited::Reply) || self.greeting_checked());
        match &mut self.phase {
            Phase::Closing | Phase::Closed => false,
            // The PROXY header comes before the greeting by design.
            Phase::Proxy { .. } => true,
            _ if early => {
                self.out_of_step();
                false
            }
            Phase::StartTls { discarded } | Phase::Handshake { discarded } => {
                *discarded += len;
                false
            }
            // Nothing comes after the end of input: a driver that says otherwise is wrong.
            _ if self.eof => false,
            _ if flood => {
                self.abort_transaction(AbortReason::Closed);
                self.abandon(canned::INPUT_FLOOD);
                false
            }
            _ => true,
        }
    }

    /// The peer closed its side. Every command already received is still answered,
    /// decisions included; then a transaction without a finished message is aborted
    /// ([`AbortReason::Eof`]), and the session closes.
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// The timeout from [`Output::Wait`] expired: the session answers `421 4.4.2` and
    /// closes (RFC 5321 section 4.5.3.2). Ignored while the application owes a decision
    /// ([`Output::Pending`]): the client is not to blame for that wait.
    pub fn handle_timeout(&mut self) {
        if matches!(self.phase, Phase::Closing | Phase::Closed) || self.undecided().next().is_some() {
            return;
        }
        if let Phase::GreetDelay(_) = self.phase {
            if self.eof {
                // The client left during the delay: it is not greeted.
                self.enter(Phase::Closed);
                return;
            }
            // The delay is over, and the client kept quiet: greet it.
            return self.send_greeting();
        }
        if let Phase::Proxy { .. } = self.phase {
            // No header in time: nothing was said, and nothing is.
            self.enter(Phase::Closed);
            return;
        }
        if matches!(self.phase, Phase::StartTls { .. } | Phase::Handshake { .. }) {
            // No plaintext reply can follow the `220` to STARTTLS.
            self.enter(Phase::Closed);
            return;
        }
        self.abort_transaction(AbortReason::Timeout);
        self.abandon(canned::TIMEOUT);
    }

    /// The TLS handshake asked for by [`Output::StartTls`] completed. Everything the
    /// client said before is forgotten (RFC 3207 section 4.2): it must greet again.
    /// If plaintext arrived after `STARTTLS`, it was thrown away unread, and
    /// [`ServerEvent::PlaintextDiscarded`] says how much.
    ///
    /// Called without a handshake being asked for, it is a [`MisuseError`] and changes
    /// nothing: a plaintext connection never counts as encrypted.
    pub fn tls_established(&mut self) -> Result<(), MisuseError> {
        let Phase::Handshake { discarded } = self.phase else { return Err(MisuseError::NoHandshake) };
        if discarded > 0 {
            self.events.push_back(ServerEvent::PlaintextDiscarded { bytes: discarded });
        }
        self.enter(Phase::Commands);
        self.tls = true;
        self.hello = Hello::None;
        self.authenticated = false;
        self.transaction = None;
        Ok(())
    }

    /// Closes the session gracefully with `421 4.3.2 Service shutting down` (RFC 5321
    /// section 3.8), for example when the server shuts down. See
    /// [`close_with`](Self::close_with).
    pub fn close(&mut self) {
        // The canned reply is always well formed.
        let _ = self.close_reply(None);
    }

    /// Closes the session with `reply`, which must be 2xx, 4xx or 5xx (usually
    /// `421`; `221` after the application's own goodbye). Replies already decided go out
    /// first; decisions not yet made are dropped ([`DecisionError::Closed`] if answered
    /// later); a transaction in progress is aborted ([`AbortReason::Closed`]); no more
    /// input is read. Once the reply is out, [`Output::Closed`]. A session that is
    /// closing already with nothing owed (after `QUIT`, a `421`, or an earlier close)
    /// sends nothing more: [`DecisionError::Closed`]; one that still waits for
    /// decisions drops them, and this reply replaces the one it was closing with.
    /// During a TLS handshake nothing can be written in plaintext: the session closes
    /// without a reply. Without an enhanced status code,
    /// the reply gets `X.0.0` when ENHANCEDSTATUSCODES is on.
    pub fn close_with(&mut self, reply: Reply) -> Result<(), DecisionError> {
        self.close_reply(Some(reply))
    }

    fn close_reply(&mut self, reply: Option<Reply>) -> Result<(), DecisionError> {
        // Closing already with nothing owed: its last reply (`221`, `421`) is queued or
        // sent, and nothing may follow it.
        match self.phase {
            Phase::Closed => return Err(DecisionError::Closed),
            Phase::Closing if self.owed.is_empty() => return Err(DecisionError::Closed),
            _ => {}
        }
        let mut encoded = BytesMut::new();
        match reply {
            Some(reply) if (300..400).contains(&reply.code().get()) => return Err(DecisionError::WrongCode),
            Some(reply) => self.with_status(reply, None).encode(&mut encoded).map_err(DecisionError::Encode)?,
            None => canned::SHUTTING_DOWN.write(&mut encoded, self.shared.config.enhanced_status_codes),
        }
        self.close_now(&encoded, AbortReason::Closed);
        Ok(())
    }

    /// The client sent before a reply it had to wait for ([`SyncChecks`](super::SyncChecks)):
    /// `554 5.5.0`, and close. Before the greeting went out, the `554` takes its place
    /// (RFC 5321 section 3.1).
    pub(super) fn out_of_step(&mut self) {
        let mut encoded = BytesMut::new();
        canned::OUT_OF_STEP.write(&mut encoded, self.shared.config.enhanced_status_codes);
        self.close_now(&encoded, AbortReason::OutOfStep);
    }

    /// Closes with `encoded` as the last reply: replies decided go first, decisions not
    /// yet made are dropped.
    fn close_now(&mut self, encoded: &[u8], reason: AbortReason) {
        self.abort_transaction(reason);
        // Nothing was handed out yet: this reply takes the greeting's place (RFC 5321
        // section 3.1).
        if self.awaiting.take() == Some(Awaited::Greeting) {
            self.out.clear();
        }
        match self.phase {
            // Before the balancer's header nothing is said (the PROXY protocol
            // specification, section 2), and during the delay before the greeting the
            // reply is the greeting.
            Phase::Proxy { .. } => {
                self.enter(Phase::Closed);
                return;
            }
            // The `220` to STARTTLS went out already: the peer speaks TLS now.
            Phase::StartTls { .. } if self.out.is_empty() => {
                self.enter(Phase::Closed);
                return;
            }
            // The peer speaks TLS now: no plaintext reply can follow the `220`.
            Phase::Handshake { .. } => {
                self.enter(Phase::Closed);
                return;
            }
            // The `220` is not handed out yet: it is the last reply queued. This reply
            // takes its place.
            Phase::StartTls { .. } => {
                let go = canned::TLS_GO.len(self.shared.config.enhanced_status_codes);
                self.out.truncate(self.out.len().saturating_sub(go));
            }
            _ => {}
        }
        // Decisions not yet made are dropped, and the replies queued behind them (a
        // `221` or `421` of a close already under way among them): this is the last.
        self.drop_undecided();
        self.put_reply_bytes(encoded);
        self.stop_reading();
    }

    /// Trusts the peer with `XCLIENT` and `XFORWARD` (Postfix's XCLIENT_README and
    /// XFORWARD_README): a proxy or content filter in front that tells the server who
    /// the real client is. From the next `EHLO` on, the reply lists both; anyone not
    /// trusted is refused them with `550 5.7.0`, as Postfix does. Call it for the peers
    /// your configuration names (by address, after [`ServerEvent::Proxied`] if the
    /// PROXY protocol is on), before the greeting goes out: never for the internet at
    /// large, which could then claim to be anyone.
    pub fn trust_proxy(&mut self) {
        self.trusted_proxy = true;
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
    /// with RFC 3848's `S` (TLS) and `A` (AUTH) suffixes. After an `XCLIENT` with
    /// `PROTO`, the protocol it names (the real client's with the proxy).
    pub fn trace_protocol(&self) -> TraceProtocol {
        let (tls, authenticated, lmtp) = (self.tls, self.authenticated, self.shared.config.lmtp);
        // After XCLIENT with PROTO, the protocol the named client spoke to the proxy.
        match self.xclient_proto.unwrap_or(self.hello) {
            _ if lmtp => TraceProtocol::Lmtp { tls, authenticated },
            Hello::Ehlo => TraceProtocol::Esmtp { tls, authenticated },
            Hello::Helo | Hello::None | Hello::Refused => TraceProtocol::Smtp,
        }
    }

    /// Bytes received and held, not yet used: at most about one command line, or what
    /// is left of one read, in normal operation; never more than that read plus 1 MiB
    /// behind a decision.
    pub fn buffered_input(&self) -> usize {
        self.input.len()
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// Decisions the application owes now.
    pub fn decisions_owed(&self) -> usize {
        self.undecided().count()
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Output<ServerEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Output::Event(event);
            }
            if self.flush && !self.out.is_empty() {
                self.flush = false;
                return self.transmit();
            }
            match self.phase {
                Phase::Closed if !self.out.is_empty() => return self.transmit(),
                Phase::Closed => return Output::Closed,
                // A client that leaves during the delay is not greeted.
                Phase::GreetDelay(_) if self.eof => {
                    self.enter(Phase::Closed);
                    continue;
                }
                Phase::GreetDelay(delay) => return Output::Wait(Wait::new(delay)),
                Phase::StartTls { discarded } if self.out.is_empty() => {
                    self.phase = Phase::Handshake { discarded };
                    return Output::StartTls;
                }
                Phase::Handshake { .. } => return Output::Pending(Pending::new(0, false)),
                _ => {}
            }
            match self.step() {
                Step::Progress => continue,
                _ if !self.out.is_empty() => {
                    self.told_no_input = None;
                    return self.transmit();
                }
                Step::NeedInput => {
                    self.told_no_input = None;
                    return match self.decisions_owed() {
                        0 => Output::Wait(self.wait()),
                        owed => Output::Pending(Pending::new(owed, true)),
                    };
                }
                Step::Blocked => {
                    self.told_no_input = Some(u32::try_from(self.input.len()).unwrap_or(u32::MAX));
                    return Output::Pending(Pending::new(self.decisions_owed(), false));
                }
            }
        }
    }

    /// Hands out the replies queued. Once every reply owed is out, the client has what
    /// it was waiting for, and may send again.
    fn transmit(&mut self) -> Output<ServerEvent> {
        if self.owed.is_empty() {
            self.awaiting = None;
        }
        Output::Transmit(self.out.split().freeze())
    }

    /// The timer that runs now: the data block timeout in a body; the deadline of a
    /// command line (or `AUTH` response) of which a part has arrived, started by the
    /// first wait for it; else the idle timeout between commands.
    fn wait(&mut self) -> Wait {
        let timeouts = &self.shared.config.timeouts;
        match self.phase {
            Phase::Data(_) | Phase::Bdat(_) => Wait::new(timeouts.data_block),
            // The PROXY header must arrive whole within its own deadline.
            Phase::Proxy { .. } => match core::mem::replace(&mut self.line_deadline, true) {
                true => Wait::continuing(timeouts.proxy_header),
                false => Wait::new(timeouts.proxy_header),
            },
            // Part of a line is in, or a line too long to keep is being dropped.
            Phase::Commands | Phase::Auth(_) if !self.input.is_empty() || self.framer.dropping() => {
                let started = core::mem::replace(&mut self.line_deadline, true);
                match started {
                    true => Wait::continuing(timeouts.command_line),
                    false => Wait::new(timeouts.command_line),
                }
            }
            _ => Wait::new(timeouts.command),
        }
    }

    /// One piece of work on the input.
    fn step(&mut self) -> Step {
        let step = match self.phase {
            Phase::Proxy { versions, .. } => self.proxy_step(versions),
            Phase::Commands => self.next_command(),
            Phase::Data(_) => self.data_step(),
            Phase::Bdat(_) => self.bdat_step(),
            Phase::Auth(_) => self.auth_step(),
            Phase::Closing if self.owed.is_empty() => {
                self.enter(Phase::Closed);
                return Step::Progress;
            }
            Phase::Closing => Step::Blocked,
            Phase::GreetDelay(_) | Phase::StartTls { .. } | Phase::Handshake { .. } | Phase::Closed => Step::NeedInput,
        };
        match step {
            // End of input: what was received is answered first, decisions included.
            Step::NeedInput if self.eof && self.undecided().next().is_some() => Step::Blocked,
            Step::NeedInput if self.eof => {
                self.abort_transaction(AbortReason::Eof);
                self.stop_reading();
                Step::Progress
            }
            step => step,
        }
    }

    /// Changes what the session reads. Every change starts the line framer afresh: what
    /// it remembered about the input belongs to the phase that used it.
    pub(super) fn enter(&mut self, phase: Phase) {
        self.framer.reset();
        self.line_deadline = false;
        if matches!(phase, Phase::Closed) {
            self.owed.clear();
            self.held.clear();
            self.input.clear();
        }
        self.phase = phase;
    }

    /// Reads no more input: send what is owed, then close.
    pub(super) fn stop_reading(&mut self) {
        self.flush = true;
        self.input.clear();
        self.enter(Phase::Closing);
    }

    /// Drops `n` bytes of input.
    pub(super) fn consume(&mut self, n: usize) {
        self.input.advance(n);
    }

    /// Marks the output for sending before more input is read.
    pub(super) fn synchronise(&mut self) {
        self.flush = true;
    }

    /// The id of this session, for its tickets.
    pub(super) fn session_id(&self) -> u32 {
        self.id
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
            self.enter(Phase::Commands);
        }
    }

    /// Queues an error reply and counts it; too many close the session.
    pub(super) fn error(&mut self, reply: Canned) {
        self.reply(reply);
        self.count_error();
    }

    /// Counts an error the caller already answered; too many close the session, once
    /// the replies owed before the `421` are out (the decisions they wait for are still
    /// made, so the result does not depend on when the application makes them).
    pub(super) fn count_error(&mut self) {
        self.errors += 1;
        if self.errors >= self.shared.config.max_errors {
            self.abort_transaction(AbortReason::Closed);
            self.stop_with(canned::TOO_MANY_ERRORS);
        }
    }
}
