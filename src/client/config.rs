//! How a client connects: its name, TLS and AUTH policy, and limits.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::ConfigError;
use crate::sasl::Mechanism;
use crate::timeout::ClientTimeouts;
use crate::wire::Host;

/// When to use STARTTLS (RFC 3207).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsPolicy {
    /// Upgrade, or give up: never send a command after `EHLO` in plaintext (a missing
    /// `STARTTLS`, a `454`, a `502` or a HELO-only server ends the session).
    Required,
    /// Upgrade when the server offers `STARTTLS`; otherwise carry on in plaintext.
    #[default]
    Opportunistic,
    /// Never upgrade.
    Off,
}

/// What the client proves itself with, for `AUTH` (RFC 4954).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientCredentials {
    /// A user name and password, for `PLAIN` or `LOGIN`.
    Password {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// An OAuth 2.0 bearer token the application obtained, for `XOAUTH2` or
    /// `OAUTHBEARER`.
    Bearer {
        /// The user the token is for.
        user: String,
        /// The token.
        token: String,
    },
}

impl core::fmt::Debug for ClientCredentials {
    // Secrets stay out of logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Password { username, .. } => {
                f.debug_struct("Password").field("username", username).field("password", &"<hidden>").finish()
            }
            Self::Bearer { user, .. } => {
                f.debug_struct("Bearer").field("user", user).field("token", &"<hidden>").finish()
            }
        }
    }
}

/// A client session's configuration. Start from [`ClientConfig::new`] and change the
/// fields you need.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The name the client gives in `EHLO`/`HELO`/`LHLO`: its fully qualified domain
    /// name, or an address literal such as `[192.0.2.1]` (RFC 5321 section 4.1.1.1).
    pub ehlo_name: String,
    /// When to use STARTTLS.
    pub starttls: TlsPolicy,
    /// The connection is encrypted from the start (implicit TLS, port 465).
    pub implicit_tls: bool,
    /// Credentials for `AUTH`; `None` never authenticates. With credentials,
    /// authentication is required: if it fails, every message fails
    /// ([`Failure::AuthFailed`](super::Failure::AuthFailed)), `QUIT` is sent, and no
    /// `MAIL` ever goes unauthenticated, unless [`auth_optional`](Self::auth_optional).
    pub credentials: Option<ClientCredentials>,
    /// Carry on unauthenticated when `AUTH` fails or cannot be tried (a relay that
    /// authenticates where it can). Off by default.
    pub auth_optional: bool,
    /// Mechanisms to use, in order of preference; the first the server offers (and the
    /// credentials fit) is used. The default order is PLAIN, LOGIN, XOAUTH2,
    /// OAUTHBEARER: a server that offers only LOGIN and XOAUTH2 (Exchange Online) gets
    /// LOGIN for a password and XOAUTH2 for a token.
    pub mechanisms: Vec<Mechanism>,
    /// Send credentials over a connection that is not encrypted. Off by default.
    pub plaintext_auth: bool,
    /// Use `BDAT` (RFC 3030) when the server offers `CHUNKING`.
    pub prefer_bdat: bool,
    /// LMTP (RFC 2033): `LHLO`, and one outcome per recipient after the body.
    pub lmtp: bool,
    /// Rewrite bare CR and bare LF in bodies as CRLF (on by default: nothing the
    /// application sends can then look like the end of data to a lenient server).
    pub normalize_line_endings: bool,
    /// The longest reply line accepted (RFC 5321 section 4.5.3.1.5: 512).
    pub max_reply_line: usize,
    /// The most lines one reply may have.
    pub max_reply_lines: usize,
    /// Inactivity timeouts (RFC 5321 section 4.5.3.2).
    pub timeouts: ClientTimeouts,
}

impl ClientConfig {
    /// The defaults for a client called `ehlo_name`: opportunistic STARTTLS, no AUTH
    /// (PLAIN then LOGIN then XOAUTH2 then OAUTHBEARER once credentials are set),
    /// `DATA` rather than `BDAT`, bare line endings normalised, the RFC's limits and
    /// timeouts.
    pub fn new(ehlo_name: impl Into<String>) -> Self {
        Self {
            ehlo_name: ehlo_name.into(),
            starttls: TlsPolicy::default(),
            implicit_tls: false,
            credentials: None,
            auth_optional: false,
            mechanisms: alloc::vec![Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2, Mechanism::OAuthBearer],
            plaintext_auth: false,
            prefer_bdat: false,
            lmtp: false,
            normalize_line_endings: true,
            max_reply_line: crate::wire::MAX_REPLY_LINE,
            max_reply_lines: crate::wire::ReplyParser::DEFAULT_MAX_LINES,
            timeouts: ClientTimeouts::default(),
        }
    }

    /// Checks the configuration and makes the [`Client`] that sessions start from. The
    /// client writes strict RFC 5321, so a name that is not a domain (letters, digits
    /// and hyphens; no `_`) or an address literal is refused here rather than replaced.
    ///
    /// ```
    /// use smtp_sansio::ConfigError;
    /// use smtp_sansio::client::ClientConfig;
    ///
    /// assert!(ClientConfig::new("client.example.net").build().is_ok());
    /// assert!(ClientConfig::new("[192.0.2.1]").build().is_ok());
    /// assert_eq!(ClientConfig::new("my_host.example").build().unwrap_err(),
    ///            ConfigError::Hostname("my_host.example".into()));
    /// ```
    pub fn build(self) -> Result<Client, ConfigError> {
        if Host::parse(&self.ehlo_name).is_err() {
            return Err(ConfigError::Hostname(self.ehlo_name));
        }
        if let Some(credentials) = &self.credentials {
            let fits = self.mechanisms.iter().any(|mechanism| mechanism_fits(*mechanism, credentials));
            if !fits {
                return Err(ConfigError::Mechanisms);
            }
        }
        if self.max_reply_line < crate::wire::MAX_REPLY_LINE {
            return Err(ConfigError::Limit("max_reply_line"));
        }
        if self.max_reply_lines == 0 {
            return Err(ConfigError::Limit("max_reply_lines"));
        }
        Ok(Client { config: Arc::new(self) })
    }
}

/// Whether `mechanism` can carry `credentials`.
pub(super) fn mechanism_fits(mechanism: Mechanism, credentials: &ClientCredentials) -> bool {
    matches!(
        (mechanism, credentials),
        (Mechanism::Plain | Mechanism::Login, ClientCredentials::Password { .. })
            | (Mechanism::XOAuth2 | Mechanism::OAuthBearer, ClientCredentials::Bearer { .. })
    )
}

/// A checked [`ClientConfig`]: start a [`ClientSession`](super::ClientSession) for each
/// connection with [`ClientSession::new`](super::ClientSession::new). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    pub(super) config: Arc<ClientConfig>,
}

impl Client {
    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }
}
