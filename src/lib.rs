//! SMTP, ESMTP and LMTP without IO.
//!
//! `smtp-sansio` is the protocol and nothing else: it never touches a socket, a
//! clock or a runtime. You hand it bytes, it hands you back typed commands and
//! replies, and it encodes typed values back into bytes. A blocking
//! `std::net` loop, tokio, an io_uring runtime or an embedded executor can all
//! drive it, because the only thing that crosses the boundary is `&[u8]` and
//! [`bytes::Bytes`].
//!
//! # Layers
//!
//! * [`server`]: [`ServerSession`](server::ServerSession), a whole SMTP, ESMTP or
//!   LMTP connection from the server's side: sequencing, replies, limits, bodies,
//!   STARTTLS and AUTH, with the application deciding through events.
//! * [`client`]: [`ClientSession`](client::ClientSession), the same connection from
//!   the client's side: negotiation, pipelined transactions, streamed bodies and an
//!   outcome for every recipient and message.
//! * [`proxy`]: the PROXY protocol header (v1 and v2) that a trusted load balancer
//!   sends before the client's bytes, with the client's real address.
//! * [`sasl`]: the AUTH mechanisms' messages and base64.
//! * [`wire`]: the grammar of RFC 5321 and its extensions, in both directions.
//!   The server parses [`Command`]s and encodes [`Reply`]s; the client does the
//!   opposite. `parse(encode(x)) == x` holds for every type, and is tested.
//! * [`framing`]: what sits in front of the grammar. A [`LineFramer`] finds
//!   command and reply lines with a hard length cap (an overlong line is
//!   discarded to its end and reported once); a [`DataDecoder`] undoes dot
//!   stuffing and ends only at `<CRLF>.<CRLF>`; a [`DataEncoder`] does the
//!   stuffing for a client; a [`BdatReader`] counts RFC 3030 chunks exactly.
//!
//! # The driver loop
//!
//! A session is driven by one loop, the same for every runtime: drain
//! [`poll_output`](server::ServerSession::poll_output) until it stops, and hand the
//! application's decisions back through the session's methods. It stops in one of
//! three ways, and each says who it waits for ([`Output`]):
//!
//! * [`Output::Wait`]: the peer alone. Read, until its [`Wait`]'s timer fires
//!   ([`Wait::deadline`] keeps the timer a half-received command line started).
//! * [`Output::Pending`]: the application, which owes decisions on tickets it was
//!   given. No peer timeout runs; reading is allowed (and useful when
//!   [`Pending::wants_input`]).
//! * [`Output::Closed`]: nobody. Close the connection.
//!
//! Here the "socket" is a list of reads and a `Vec` of what was written, and every
//! decision is made at once:
//!
//! ```
//! use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession};
//! use smtp_sansio::{Output, Reply, ReplyCode};
//!
//! let mut reads: Vec<&[u8]> = vec![
//!     // A client waits for the greeting and the EHLO reply, then pipelines up to DATA
//!     // (RFC 2920 section 3.1); a client that does not is cut off (`SyncChecks`).
//!     b"EHLO client.example\r\n",
//!     b"MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<nobody@example.org>\r\nVRFY bob\r\nDATA\r\n",
//!     b"Subject: hi\r\n\r\nHello, Bob.\r\n.\r\nQUIT\r\n",
//! ];
//! reads.reverse();
//! // Checked once, shared by every connection.
//! let server = ServerConfig::new("mx.example.org").build().expect("a valid configuration");
//! let mut session = ServerSession::new(&server);
//! let (mut written, mut message) = (Vec::new(), Vec::new());
//! loop {
//!     match session.poll_output() {
//!         Output::Transmit(bytes) => written.extend_from_slice(&bytes), // socket.write_all
//!         Output::Event(ServerEvent::BodyChunk(chunk)) => message.extend_from_slice(&chunk),
//!         Output::Event(ServerEvent::Rcpt { ticket, command }) if command.to().to_string().contains("nobody") => {
//!             session.reject(ticket, Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.1.1 No such user")).unwrap();
//!         }
//!         Output::Event(ServerEvent::MessageEnd { ticket }) => {
//!             session.accept_with(ticket, Reply::new(ReplyCode::OK, "Queued as 4VqZ1k")).unwrap();
//!         }
//!         // Everything else that asks: yes. (AUTH credentials never reach this arm:
//!         // they come with an `AuthTicket`, which only `accept_auth` takes.)
//!         Output::Event(event) => {
//!             if let Some(ticket) = event.ticket() {
//!                 session.accept(ticket).unwrap();
//!             }
//!         }
//!         Output::StartTls => unreachable!("STARTTLS is not offered here"),
//!         Output::Wait(_wait) => match reads.pop() {
//!             Some(read) => session.handle_input(read), // a read that returned bytes
//!             None => session.handle_eof(),            // the read returned 0
//!         },
//!         Output::Pending(_) => unreachable!("every decision above is made at once"),
//!         Output::Idle => unreachable!("a server is never idle"),
//!         Output::Closed => break,
//!     }
//! }
//! assert_eq!(message, b"Subject: hi\r\n\r\nHello, Bob.\r\n");
//! let written = String::from_utf8(written).unwrap();
//! assert!(written.contains("550 5.1.1 No such user\r\n252 2.5.0 Cannot verify"));
//! assert!(written.ends_with("250 2.0.0 Queued as 4VqZ1k\r\n221 2.0.0 Bye\r\n"));
//! ```
//!
//! ## Deciding asynchronously
//!
//! The point of a sans-IO server is that the application can take its time: look a
//! recipient up in a database, ask a policy service, while the session keeps the
//! protocol exact. Hand the ticket to a task, carry on, and apply the decision when it
//! comes back. Replies still go out in command order, and pipelined `RCPT` lookups run
//! side by side. Here, over an in-memory pipe where a real server has a `TcpStream`:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use std::time::Duration;
//! use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession, Ticket};
//! use smtp_sansio::{Output, Reply, ReplyCode};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tokio::sync::mpsc;
//!
//! /// A decision made on another task.
//! enum Decision {
//!     Accept(Ticket),
//!     Reject(Ticket, Reply),
//! }
//!
//! /// A directory lookup that takes its time.
//! async fn known(recipient: String) -> bool {
//!     tokio::time::sleep(Duration::from_millis(5)).await;
//!     !recipient.contains("nobody")
//! }
//!
//! let (mut socket, mut peer) = tokio::io::duplex(64 * 1024);
//! let client = tokio::spawn(async move {
//!     // EHLO ends a pipelined group: the rest waits for its reply (RFC 2920 section 3.1).
//!     peer.write_all(b"EHLO c.example\r\n").await?;
//!     let (mut replies, mut piece) = (String::new(), [0; 1024]);
//!     while !replies.contains("\r\n250 ") {
//!         let n = peer.read(&mut piece).await?;
//!         replies.push_str(std::str::from_utf8(&piece[..n]).expect("ASCII replies"));
//!     }
//!     peer.write_all(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@example.org>\r\n\
//!                      RCPT TO:<nobody@example.org>\r\nRCPT TO:<carol@example.org>\r\nQUIT\r\n").await?;
//!     peer.read_to_string(&mut replies).await?;
//!     std::io::Result::Ok(replies)
//! });
//!
//! let server = ServerConfig::new("mx.example.org").build().expect("a valid configuration");
//! let mut session = ServerSession::new(&server);
//! let (decided, mut decisions) = mpsc::unbounded_channel();
//! let mut buffer = vec![0; 16 * 1024];
//! let mut deadline = None;
//! loop {
//!     match session.poll_output() {
//!         Output::Transmit(bytes) => socket.write_all(&bytes).await?,
//!         Output::Event(ServerEvent::Rcpt { ticket, command }) => {
//!             let (decided, recipient) = (decided.clone(), command.to().to_string());
//!             tokio::spawn(async move {
//!                 let decision = match known(recipient).await {
//!                     true => Decision::Accept(ticket),
//!                     false => Decision::Reject(ticket, Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.1.1 No such user")),
//!                 };
//!                 let _ = decided.send(decision);
//!             });
//!         }
//!         Output::Event(event) => {
//!             if let Some(ticket) = event.ticket() {
//!                 session.accept(ticket).expect("a fresh ticket");
//!             }
//!         }
//!         // The peer alone: its timer runs (RFC 5321 section 4.5.3.2; a command line
//!         // that arrives in pieces keeps the timer its first piece started).
//!         Output::Wait(wait) => {
//!             let fires_at = wait.deadline(tokio::time::Instant::now(), deadline);
//!             deadline = Some(fires_at);
//!             match tokio::time::timeout_at(fires_at, socket.read(&mut buffer)).await {
//!                 Ok(Ok(0) | Err(_)) => session.handle_eof(),
//!                 Ok(Ok(n)) => session.handle_input(&buffer[..n]),
//!                 Err(_) => session.handle_timeout(),
//!             }
//!         }
//!         // The application owes decisions: no timeout for the peer, whose wait this is
//!         // not. Read on only when the session can use the input.
//!         Output::Pending(pending) => tokio::select! {
//!             Some(decision) = decisions.recv() => {
//!                 // A session that closed meanwhile refuses late decisions; nothing to do.
//!                 let _ = match decision {
//!                     Decision::Accept(ticket) => session.accept(ticket),
//!                     Decision::Reject(ticket, reply) => session.reject(ticket, reply),
//!                 };
//!             }
//!             read = socket.read(&mut buffer), if pending.wants_input() => match read {
//!                 Ok(0) | Err(_) => session.handle_eof(),
//!                 Ok(n) => session.handle_input(&buffer[..n]),
//!             },
//!         },
//!         Output::StartTls => unreachable!("STARTTLS is not offered here"),
//!         Output::Idle => unreachable!("a server is never idle"),
//!         Output::Closed => break,
//!     }
//! }
//! drop(socket);
//! let replies = client.await.expect("the client task")?;
//! assert!(replies.contains("250 2.1.5 Recipient OK\r\n550 5.1.1 No such user\r\n250 2.1.5 Recipient OK\r\n221 2.0.0 Bye\r\n"));
//! # Ok(())
//! # }
//! ```
//!
//! `examples/tokio_server.rs` is the same loop over TCP with STARTTLS, and its
//! `--decide-after-ms` option makes every decision this way.
//!
//! The wire layer below is incremental in the same way, and can be driven on its
//! own: append what arrived, take out every complete item, and ask for more. Here a
//! server reads pipelined commands and a message body that arrive in arbitrary
//! pieces:
//!
//! ```
//! use bytes::BytesMut;
//! use smtp_sansio::{Command, DataDecoder, Decoded, Framed, LineFramer, ParseOptions, Reply, ReplyCode};
//!
//! let pieces: [&[u8]; 3] = [b"EHLO client.example\r\nMAIL FROM:<a@b.example>\r\nDA", b"TA\r\nHi\r\n..dot\r\n.", b"\r\nQUIT\r\n"];
//! let (mut framer, options) = (LineFramer::commands(), ParseOptions::default());
//! let mut input = BytesMut::new();
//! let mut body: Option<(DataDecoder, Vec<u8>)> = None;
//! let mut verbs = Vec::new();
//!
//! for piece in pieces {
//!     input.extend_from_slice(piece); // what a socket read gave us
//!     loop {
//!         if let Some((decoder, message)) = &mut body {
//!             match decoder.decode(&mut input) {
//!                 Some(Decoded::Data(chunk)) => message.extend_from_slice(&chunk),
//!                 Some(Decoded::End) => {
//!                     assert_eq!(message, b"Hi\r\n.dot\r\n");
//!                     body = None;
//!                 }
//!                 None => break, // need more bytes
//!             }
//!             continue;
//!         }
//!         match framer.next_line(&input) {
//!             Framed::Line { len, consumed } => {
//!                 let command = Command::parse(&input[..len], &options);
//!                 let reply = match command {
//!                     Ok(Command::Data) => {
//!                         body = Some((DataDecoder::new(), Vec::new()));
//!                         Reply::new(ReplyCode::START_MAIL_INPUT, "go ahead")
//!                     }
//!                     Ok(command) => {
//!                         verbs.push(command.verb());
//!                         Reply::new(ReplyCode::OK, "OK")
//!                     }
//!                     Err(error) => error.reply(),
//!                 };
//!                 let _ = reply; // a server would encode and send it
//!                 let _ = input.split_to(consumed);
//!             }
//!             Framed::LineTooLong { consumed } | Framed::BareLf { consumed } => {
//!                 let _ = input.split_to(consumed);
//!             }
//!             Framed::Incomplete { discard } => {
//!                 let _ = input.split_to(discard);
//!                 break;
//!             }
//!         }
//!     }
//! }
//! assert_eq!(verbs, ["EHLO", "MAIL", "QUIT"]);
//! ```
//!
//! # Invariants
//!
//! * **Incomplete input is not an error.** Every incremental piece answers
//!   "need more" and keeps its place.
//! * **Chunking never changes the result.** The same bytes give the same items
//!   whether they arrive whole, one byte at a time, or split anywhere.
//! * **Bounded memory.** Every buffer the library keeps has a cap, and an
//!   overlong line is discarded as it streams past, not stored.
//! * **No panic on peer input**, and `#![forbid(unsafe_code)]`.
//! * **Errors say who is at fault**, and a peer's [`ParseError`] carries the
//!   reply it deserves ([`ParseError::reply`]).
//!
//! # Features
//!
//! The crate is `#![no_std]` and needs only `alloc`. The `std` feature (on by
//! default) adds `std::error::Error` implementations through its dependencies.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod client;
pub mod error;
pub mod framing;
mod output;
pub mod proxy;
pub mod sasl;
pub mod server;
mod timeout;
pub mod wire;

pub use error::{ConfigError, DecisionError, EncodeError, MisuseError, ParseError, ReplyError};
pub use framing::{BareLf, BareLineEndings, BdatReader, DataDecoder, DataEncoder, Decoded, Framed, LineFramer};
pub use output::{Output, Pending, Wait};
pub use timeout::{ClientTimeouts, ServerTimeouts};
pub use wire::{
    AddressLimits, Capabilities, Capability, Command, EnhancedStatus, ParseOptions, Reply, ReplyCode, ReplyParser,
};

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
