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
    /// Write these bytes to the peer, in order, before anything else. Several may come
    /// in a row (a client hands out a body given as `Bytes` as slices of it): gathering
    /// them into one vectored write saves system calls.
    Transmit(Bytes),
    /// Something happened that the application should know about or decide on.
    Event(E),
    /// Start the TLS handshake now (every byte owed in plaintext has been handed out),
    /// then call `tls_established`.
    StartTls,
    /// Waiting for the peer: read, and call `handle_input`, `handle_eof`, or
    /// `handle_timeout` when the [`Wait`]'s timer fires first (the timeouts of RFC 5321
    /// section 4.5.3.2, and a server's deadline for a whole command line). A server
    /// says it only when the application owes nothing. A client says it while a reply
    /// is awaited, even when the application may still push more of a `BDAT` body
    /// meanwhile.
    Wait(Wait),
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

/// The timer that runs while a session says [`Output::Wait`].
///
/// Most waits start the timer afresh: the peer has [`timeout`](Self::timeout) from
/// now. A server that has part of a command line (or of an `AUTH` response) keeps the
/// timer it started when that line began ([`restarts`](Self::restarts) is `false`): the
/// line must arrive whole within its deadline, so a peer that drips a byte every few
/// seconds cannot hold the connection for ever (Postfix's
/// `smtpd_per_request_deadline`). [`deadline`](Self::deadline) does the bookkeeping:
///
/// ```
/// use std::time::{Duration, Instant};
/// use smtp_sansio::server::{ServerConfig, ServerSession};
/// use smtp_sansio::Output;
///
/// let server = ServerConfig::new("mx.example.org").build().unwrap();
/// let mut session = ServerSession::new(&server);
/// let mut deadline: Option<Instant> = None;
/// let mut greeted = false;
/// loop {
///     match session.poll_output() {
///         Output::Transmit(_greeting) => greeted = true, // socket.write_all
///         Output::Wait(wait) => {
///             // Kept across waits: a wait that does not restart the timer leaves it.
///             let fires_at = wait.deadline(Instant::now(), deadline);
///             deadline = Some(fires_at);
///             // Read until `fires_at`; here the peer sends half a line, then nothing.
///             # let _ = fires_at;
///             if session.buffered_input() == 0 {
///                 session.handle_input(b"EHLO cli");
///             } else {
///                 session.handle_timeout(); // `fires_at` passed without the rest
///             }
///         }
///         Output::Closed => break,
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// assert!(greeted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    timeout: Duration,
    restarts: bool,
}

impl Wait {
    /// A wait that starts the timer now.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self { timeout, restarts: true }
    }

    /// A wait that keeps the timer started for the current request, whose deadline is
    /// `timeout` from that start.
    pub(crate) fn continuing(timeout: Duration) -> Self {
        Self { timeout, restarts: false }
    }

    /// How long the peer has, counted from when the timer started.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the timer starts now. `false`: it keeps running from the last wait
    /// that started it (the peer is in the middle of a request that has a deadline).
    pub fn restarts(&self) -> bool {
        self.restarts
    }

    /// When the timer fires: `now + timeout` for a wait that restarts it, else
    /// `previous`, the instant an earlier wait gave (or `now + timeout` if there was
    /// none). Works with any clock whose instants add a [`Duration`]
    /// (`std::time::Instant`, `tokio::time::Instant`); keep the result for the next
    /// wait.
    pub fn deadline<T: core::ops::Add<Duration, Output = T>>(&self, now: T, previous: Option<T>) -> T {
        match previous {
            Some(previous) if !self.restarts => previous,
            _ => now + self.timeout,
        }
    }
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
