//! The server role: [`ServerSession`], one SMTP, ESMTP or LMTP connection seen from
//! the server's side.
//!
//! The session answers everything RFC 5321 lets a server answer by itself (greeting,
//! `EHLO`, sequence errors, syntax errors, limits) and asks the application about
//! the rest through [`ServerEvent`]s that carry a [`Ticket`]: the sender, each
//! recipient, `DATA`, the finished message, `AUTH` credentials, `VRFY` and `EXPN`.

mod body;
mod canned;
mod checked;
mod commands;
mod config;
mod decide;
mod envelope;
mod event;
mod session;

pub use checked::Server;
pub use config::{BareLineEndingPolicy, CommandBareLf, ServerConfig, SyncChecks};
pub use envelope::{MailCommand, RcptCommand};
pub use event::{AbortReason, AuthTicket, ServerEvent, Ticket, TicketKind};
pub use session::ServerSession;
