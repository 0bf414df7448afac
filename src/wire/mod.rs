//! The grammar of SMTP, in both directions, with no state.
//!
//! A server parses [`Command`]s and encodes [`Reply`]s; a client encodes commands and
//! parses replies ([`ReplyParser`]) and capabilities ([`Capabilities`]). For every
//! type, parsing what was encoded gives the same value back.

mod address;
mod chars;
mod command;
mod ehlo;
mod limits;
mod param;
mod reply;
mod swar;
mod trace;
mod xclient;

pub(crate) use address::MailboxSpan;
pub use address::{
    AddressLimits, AddressLiteral, Domain, ForwardPath, GeneralLiteral, Host, LocalPart, Mailbox, ReversePath,
};
pub use command::{Command, InitialResponse};
pub use ehlo::{Capabilities, Capability};
pub use limits::Limits;
pub use param::{
    BodyType, ByMode, DeliverBy, Hold, MailParameters, Notify, Orcpt, Parameter, RcptParameters, Ret, XText,
};
pub use reply::{EnhancedStatus, MAX_REPLY_LINE, Reply, ReplyCode, ReplyParser};
pub use trace::{Received, TraceProtocol, return_path};
pub use xclient::{AttributeCommand, AttributeValue, ClientAttributes};

/// How strictly to read commands, and the address limits to enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Take RFC 5321 and nothing else. Off by default, as in Postfix
    /// (`strict_rfc821_envelopes = no`): lenient mode also takes `MAIL FROM: <a@b>`,
    /// `MAIL FROM:a@b`, `MAIL FROM:Name <a@b>`, several spaces between parameters,
    /// trailing spaces, and `_` in HELO names. Leniency never changes where a line or
    /// a message ends.
    pub strict: bool,
    /// Length limits on addresses.
    pub limits: AddressLimits,
}

impl ParseOptions {
    /// Strict RFC 5321 parsing with the RFC's limits.
    pub fn strict() -> Self {
        Self { strict: true, limits: AddressLimits::RFC5321 }
    }
}

/// A deterministic generator for the unit tests that compare fast paths with the full
/// grammar (xorshift64).
#[cfg(test)]
pub(crate) fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
