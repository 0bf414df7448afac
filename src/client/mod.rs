//! The client role: [`ClientSession`], one SMTP, ESMTP or LMTP connection seen from
//! the client's side.
//!
//! The session greets (`EHLO`, falling back to `HELO`), upgrades to TLS and
//! authenticates as configured, then sends each enqueued message: `MAIL`, the `RCPT`s
//! and `DATA` (or `BDAT`) pipelined when the server offers it, the body dot-stuffed as
//! the application pushes it. It keeps to the server's `LIMITS` (RFC 9422): a message
//! for more recipients or domains than one transaction may have goes in several, and
//! once `MAILMAX` transactions went, what is left fails with
//! [`Failure::Reconnect`]. A content filter or proxy names the original client with
//! Postfix's `XCLIENT` ([`ClientSession::xclient`], once per session) or `XFORWARD`
//! ([`Envelope::xforward`], before each message's `MAIL`). Every outcome is an event:
//! each recipient, each message
//! (accepted with the server's reply, or failed, transient or permanent), and the end
//! of the session.

mod config;
mod event;
mod outbox;
mod parts;
mod session;
mod setup;
mod transaction;

pub use config::{Client, ClientConfig, ClientCredentials, TlsPolicy};
pub use event::{ClientEvent, CloseReason, Envelope, Failure, LocalFailure, MessageId, Stage};
pub use session::{ClientError, ClientSession};
