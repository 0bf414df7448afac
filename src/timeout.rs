//! Inactivity timeouts (RFC 5321 section 4.5.3.2).
//!
//! A session has no clock. It says which timeout applies now
//! ([`Output::Wait`](crate::Output::Wait) with a [`Wait`](crate::Wait)); the driver
//! arms a timer for it, or keeps the one running when the wait says so, and calls
//! `handle_timeout` when it fires.

use core::time::Duration;

/// How long a server waits for its peer before giving up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerTimeouts {
    /// Waiting for the next command: 5 minutes (RFC 5321 section 4.5.3.2.7).
    pub command: Duration,
    /// Waiting for the next piece of a message body: 3 minutes, the client's
    /// "DATA block" timeout (RFC 5321 section 4.5.3.2.5), which a server should not
    /// undercut.
    pub data_block: Duration,
    /// The deadline for a whole command line, or `AUTH` response, from the wait that
    /// saw its first part: 5 minutes, like `command`. Reads that each bring a little
    /// do not extend it (Postfix's `smtpd_per_request_deadline`): a client dripping a
    /// byte at a time cannot hold the connection longer than this per line.
    pub command_line: Duration,
    /// How long the PROXY protocol header may take to arrive
    /// ([`ServerConfig::proxy_protocol`](crate::server::ServerConfig::proxy_protocol)):
    /// 10 seconds. The balancer sends it at once; the specification (section 1) lets a
    /// receiver give up after a few seconds, at least 3 to cover a TCP retransmit.
    pub proxy_header: Duration,
}

impl Default for ServerTimeouts {
    fn default() -> Self {
        let minutes = |n: u64| Duration::from_secs(60 * n);
        Self {
            command: minutes(5),
            data_block: minutes(3),
            command_line: minutes(5),
            proxy_header: Duration::from_secs(10),
        }
    }
}

/// How long a client waits for each reply (RFC 5321 section 4.5.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// The `220` greeting: 5 minutes (section 4.5.3.2.1).
    pub greeting: Duration,
    /// The reply to `MAIL`: 5 minutes (section 4.5.3.2.2). Also used for `EHLO`,
    /// `STARTTLS`, `AUTH`, `RSET` and `QUIT`.
    pub mail: Duration,
    /// The reply to each `RCPT`: 5 minutes (section 4.5.3.2.3).
    pub rcpt: Duration,
    /// The `354` to `DATA`: 2 minutes (section 4.5.3.2.4).
    pub data_initiation: Duration,
    /// The reply to a `BDAT` chunk, and waiting to send more body: 3 minutes (section
    /// 4.5.3.2.5).
    pub data_block: Duration,
    /// The reply after the final `.`: 10 minutes (section 4.5.3.2.6).
    pub data_termination: Duration,
    /// The reply to `QUIT`, when the session ends for a reason of its own (a timeout, a
    /// refusal, a broken reply): 30 seconds. RFC 5321 gives none; the session is over
    /// either way, and only waits this long to close politely.
    pub quit: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        let minutes = |n: u64| Duration::from_secs(60 * n);
        Self {
            greeting: minutes(5),
            mail: minutes(5),
            rcpt: minutes(5),
            data_initiation: minutes(2),
            data_block: minutes(3),
            data_termination: minutes(10),
            quit: Duration::from_secs(30),
        }
    }
}
