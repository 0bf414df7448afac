//! Inactivity timeouts (RFC 5321 section 4.5.3.2).
//!
//! A session has no clock. It says which timeout applies now
//! ([`Output::Wait`](crate::Output::Wait)); the driver arms a timer for it and calls
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
}

impl Default for ServerTimeouts {
    fn default() -> Self {
        Self { command: Duration::from_secs(5 * 60), data_block: Duration::from_secs(3 * 60) }
    }
}
