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
//! Everything is incremental, so the loop that feeds it is the same whatever
//! the transport: append what arrived, take out every complete item, and ask
//! for more. Here a server reads pipelined commands and a message body that
//! arrive in arbitrary pieces:
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

pub mod error;
pub mod framing;
mod output;
pub mod sasl;
pub mod server;
mod timeout;
pub mod wire;

pub use error::{DecisionError, EncodeError, ParseError, ReplyError};
pub use framing::{BareLf, BareLineEndings, BdatReader, DataDecoder, DataEncoder, Decoded, Framed, LineFramer};
pub use output::Output;
pub use timeout::ServerTimeouts;
pub use wire::{
    AddressLimits, Capabilities, Capability, Command, EnhancedStatus, ParseOptions, Reply, ReplyCode, ReplyParser,
};

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
