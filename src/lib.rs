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
//! [`poll_output`](server::ServerSession::poll_output) until it asks for input, and
//! hand the application's decisions back through the session's methods. Here the
//! "socket" is a list of reads and a `Vec` of what was written:
//!
//! ```
//! use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession};
//! use smtp_sansio::{Output, Reply, ReplyCode};
//!
//! let mut reads: Vec<&[u8]> = vec![
//!     b"EHLO client.example\r\nMAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\n",
//!     b"RCPT TO:<nobody@example.org>\r\nDATA\r\n",
//!     b"Subject: hi\r\n\r\nHello, Bob.\r\n.\r\nQUIT\r\n",
//! ];
//! reads.reverse();
//! let mut session = ServerSession::new(ServerConfig::new("mx.example.org"));
//! let (mut written, mut message) = (Vec::new(), Vec::new());
//! loop {
//!     match session.poll_output() {
//!         Output::Transmit(bytes) => written.extend_from_slice(&bytes), // socket.write_all
//!         Output::Event(event) => match event {
//!             // Decisions: now, or after an async lookup.
//!             ServerEvent::Rcpt { ticket, command } if command.to().to_string().contains("nobody") => {
//!                 session.reject(ticket, Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.1.1 No such user")).unwrap();
//!             }
//!             ServerEvent::MessageEnd { ticket } => {
//!                 session.accept_with(ticket, Reply::new(ReplyCode::OK, "Queued as 4VqZ1k")).unwrap();
//!             }
//!             ServerEvent::Mail { ticket, .. } | ServerEvent::Rcpt { ticket, .. } | ServerEvent::Data { ticket } => {
//!                 session.accept(ticket).unwrap();
//!             }
//!             ServerEvent::BodyChunk(chunk) => message.extend_from_slice(&chunk),
//!             _ => {}
//!         },
//!         Output::StartTls => unreachable!("STARTTLS is not offered here"),
//!         Output::Wait(_timeout) => match reads.pop() {
//!             Some(read) => session.handle_input(read), // a read that returned bytes
//!             None => session.handle_eof(),            // the read returned 0
//!         },
//!         Output::Pending => unreachable!("every decision above is made at once"),
//!         Output::Closed => break,
//!     }
//! }
//! assert_eq!(message, b"Subject: hi\r\n\r\nHello, Bob.\r\n");
//! let written = String::from_utf8(written).unwrap();
//! assert!(written.contains("550 5.1.1 No such user\r\n354 "));
//! assert!(written.ends_with("250 Queued as 4VqZ1k\r\n221 2.0.0 Bye\r\n"));
//! ```
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
pub mod sasl;
pub mod server;
mod timeout;
pub mod wire;

pub use error::{ConfigError, DecisionError, EncodeError, MisuseError, ParseError, ReplyError};
pub use framing::{BareLf, BareLineEndings, BdatReader, DataDecoder, DataEncoder, Decoded, Framed, LineFramer};
pub use output::{Output, Pending};
pub use timeout::{ClientTimeouts, ServerTimeouts};
pub use wire::{
    AddressLimits, Capabilities, Capability, Command, EnhancedStatus, ParseOptions, Reply, ReplyCode, ReplyParser,
};

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
