//! What a session asks its driver to do next.

use bytes::Bytes;
use core::time::Duration;

/// The next thing a session needs from its driver; see the driver loops in the crate
/// documentation. `poll_output` is called until it says [`Output::Wait`],
/// [`Output::Pending`], [`Output::Idle`] or [`Output::Closed`].
///
/// The three answers that stop the loop say who the session is waiting for:
///
/// | answer | waiting for | the driver |
/// |---|---|---|
/// | [`Wait`](Output::Wait) | the peer alone | reads, with this timeout |
/// | [`Pending`](Output::Pending) | the application (and maybe the peer too) | decides; may read, with no timeout |
/// | [`Idle`](Output::Idle) | the application, which owes nothing (client only) | sends, probes or quits when it likes |
/// | [`Closed`](Output::Closed) | nobody | closes the connection |
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
    /// Waiting for the peer: read, and call `handle_input`, `handle_eof`, or
    /// `handle_timeout` if nothing arrives within this long (the inactivity timeouts of
    /// RFC 5321 section 4.5.3.2). A server says it only when the application owes
    /// nothing. A client says it while a reply is awaited, even when the application
    /// may still push more of a `BDAT` body meanwhile.
    Wait(Duration),
    /// Waiting for the application: [`Pending::owed`] says how much it owes (decisions
    /// on tickets, a message body, a TLS handshake), [`Pending::wants_input`] whether
    /// input from the peer can be used meanwhile. No peer timeout runs while the
    /// application is owed something: its own deadlines are its own.
    Pending(Pending),
    /// A client with nothing to do: no message queued, no reply awaited, no body owed.
    /// The connection stays open for later messages (`send`), a probe (`noop`) or
    /// `quit`. Keep reading, without a timeout of the session's, to notice the server
    /// closing an idle connection. A server never says it.
    Idle,
    /// The session is over: close the connection. Every later call says `Closed` again.
    Closed,
}

/// What a session waits for while it says [`Output::Pending`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Pending {
    owed: usize,
    wants_input: bool,
}

impl Pending {
    pub(crate) fn new(owed: usize, wants_input: bool) -> Self {
        Self { owed, wants_input }
    }

    /// How many things the application owes: for a server, decisions on tickets it was
    /// given; for a client, the message body it was asked for (1). 0 while the driver
    /// owes the TLS handshake it was asked for.
    pub fn owed(&self) -> usize {
        self.owed
    }

    /// Whether the session waits for the peer as well: input read now can move the
    /// session on (for example pipelined `RCPT` commands while one is being looked
    /// up). Read without a timeout. When `false`, what arrives only waits in the
    /// session's buffer: a driver should stop reading until the application decides.
    /// One that reads on anyway may, beyond 1 MiB, see the session close with `421`
    /// (the cap that keeps a flooding peer from growing the buffer), even for a peer
    /// that pipelines a large `BDAT` chunk lawfully.
    pub fn wants_input(&self) -> bool {
        self.wants_input
    }
}
