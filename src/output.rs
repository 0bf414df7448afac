//! What a session asks its driver to do next.

use bytes::Bytes;
use core::time::Duration;

/// The next thing a session needs from its driver; see the driver loop in the crate
/// documentation. `poll_output` is called until it says [`Output::Wait`],
/// [`Output::Pending`] or [`Output::Closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Output<E> {
    /// Write these bytes to the peer, in order, before anything else.
    Transmit(Bytes),
    /// Something happened that the application should know about or decide on.
    Event(E),
    /// Start the TLS handshake now (every byte owed in plaintext has been handed out),
    /// then call `tls_established`.
    StartTls,
    /// Nothing to do until the peer sends more: read, and call `handle_input`,
    /// `handle_eof`, or `handle_timeout` if nothing arrives within this long.
    Wait(Duration),
    /// Waiting for the application to decide on an event it was given. Reading more
    /// input now is allowed but not needed; decide, then poll again.
    Pending,
    /// The session is over: close the connection.
    Closed,
}
