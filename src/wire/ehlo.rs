//! The EHLO reply: the server's name and its extensions (RFC 5321 section 4.1.1.1).
//!
//! ```text
//! ehlo-ok-rsp = ( "250" SP Domain [ SP ehlo-greet ] CRLF )
//!             / ( "250-" Domain [ SP ehlo-greet ] CRLF
//!                 *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF )
//! ehlo-line   = ehlo-keyword *( SP ehlo-param )
//! ```

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;

use super::limits::Limits;
use super::reply::{Reply, ReplyCode};
use crate::error::ReplyError;

/// One extension a server announces. Known keywords are typed; any other line is kept
/// as [`Capability::Other`], so nothing the server said is lost. A known keyword whose
/// parameters do not fit its grammar is also kept as `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// `SIZE [max]` (RFC 1870). `None` or `Some(0)`: no fixed limit announced.
    Size(Option<u64>),
    /// `PIPELINING` (RFC 2920).
    Pipelining,
    /// `8BITMIME` (RFC 6152).
    EightBitMime,
    /// `BINARYMIME` (RFC 3030).
    BinaryMime,
    /// `CHUNKING`: the `BDAT` command (RFC 3030).
    Chunking,
    /// `SMTPUTF8` (RFC 6531).
    SmtpUtf8,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism...` (RFC 4954), mechanisms as the server wrote them.
    Auth(Vec<String>),
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    EnhancedStatusCodes,
    /// `DSN` (RFC 3461).
    Dsn,
    /// `REQUIRETLS` (RFC 8689).
    RequireTls,
    /// `MT-PRIORITY [policy]` (RFC 6710).
    MtPriority(Option<String>),
    /// `DELIVERBY [min-seconds]` (RFC 2852).
    DeliverBy(Option<u64>),
    /// `FUTURERELEASE max-interval max-date-time` (RFC 4865).
    FutureRelease {
        /// The longest hold, in seconds.
        max_interval: u64,
        /// The latest release time, as written.
        max_datetime: String,
    },
    /// `LIMITS name=value...` (RFC 9422), such as `RCPTMAX=100`, in order, as written.
    /// [`Capabilities::limits`] reads the values a client acts on.
    Limits(Vec<(String, String)>),
    /// Any other extension: its keyword as written and its parameters.
    Other {
        /// The keyword.
        keyword: String,
        /// The words after it.
        params: Vec<String>,
    },
}

impl Capability {
    /// The keyword, upper case for the known ones.
    pub fn keyword(&self) -> &str {
        match self {
            Self::Size(_) => "SIZE",
            Self::Pipelining => "PIPELINING",
            Self::EightBitMime => "8BITMIME",
            Self::BinaryMime => "BINARYMIME",
            Self::Chunking => "CHUNKING",
            Self::SmtpUtf8 => "SMTPUTF8",
            Self::StartTls => "STARTTLS",
            Self::Auth(_) => "AUTH",
            Self::EnhancedStatusCodes => "ENHANCEDSTATUSCODES",
            Self::Dsn => "DSN",
            Self::RequireTls => "REQUIRETLS",
            Self::MtPriority(_) => "MT-PRIORITY",
            Self::DeliverBy(_) => "DELIVERBY",
            Self::FutureRelease { .. } => "FUTURERELEASE",
            Self::Limits(_) => "LIMITS",
            Self::Other { keyword, .. } => keyword,
        }
    }

    /// Parses one `ehlo-line`.
    pub fn parse(line: &str) -> Self {
        let mut words = line.split(' ').filter(|w| !w.is_empty());
        let keyword = words.next().unwrap_or("");
        let params: Vec<&str> = words.collect();
        Self::typed(keyword, &params).unwrap_or_else(|| Self::Other {
            keyword: keyword.to_string(),
            params: params.iter().map(|p| p.to_string()).collect(),
        })
    }

    fn typed(keyword: &str, params: &[&str]) -> Option<Self> {
        let flag = |capability: Self| params.is_empty().then_some(capability);
        let number = |text: &str| text.bytes().all(|b| b.is_ascii_digit()).then(|| text.parse().ok()).flatten();
        let upper = keyword.to_ascii_uppercase();
        match (upper.as_str(), params) {
            ("SIZE", []) => Some(Self::Size(None)),
            ("SIZE", [max]) => number(max).map(|max| Self::Size(Some(max))),
            ("PIPELINING", _) => flag(Self::Pipelining),
            ("8BITMIME", _) => flag(Self::EightBitMime),
            ("BINARYMIME", _) => flag(Self::BinaryMime),
            ("CHUNKING", _) => flag(Self::Chunking),
            // Parameters after SMTPUTF8 are not defined; some servers send them anyway.
            ("SMTPUTF8", _) => Some(Self::SmtpUtf8),
            ("STARTTLS", _) => flag(Self::StartTls),
            ("ENHANCEDSTATUSCODES", _) => flag(Self::EnhancedStatusCodes),
            ("DSN", _) => flag(Self::Dsn),
            ("REQUIRETLS", _) => flag(Self::RequireTls),
            ("AUTH", mechanisms) => Some(Self::Auth(mechanisms.iter().map(|m| m.to_string()).collect())),
            ("MT-PRIORITY", []) => Some(Self::MtPriority(None)),
            ("MT-PRIORITY", [policy]) => Some(Self::MtPriority(Some(policy.to_string()))),
            ("DELIVERBY", []) => Some(Self::DeliverBy(None)),
            ("DELIVERBY", [min]) => number(min).map(|min| Self::DeliverBy(Some(min))),
            ("FUTURERELEASE", [interval, datetime]) => number(interval)
                .map(|max_interval| Self::FutureRelease { max_interval, max_datetime: datetime.to_string() }),
            ("LIMITS", limits) => limits
                .iter()
                .map(|limit| limit.split_once('=').map(|(name, value)| (name.to_string(), value.to_string())))
                .collect::<Option<Vec<_>>>()
                .map(Self::Limits),
            _ => None,
        }
    }

    fn write(&self, out: &mut String) {
        out.push_str(self.keyword());
        // Writing into a String cannot fail.
        let _ = match self {
            Self::Size(Some(max)) => write!(out, " {max}"),
            Self::DeliverBy(Some(min)) => write!(out, " {min}"),
            Self::MtPriority(Some(policy)) => write!(out, " {policy}"),
            Self::FutureRelease { max_interval, max_datetime } => write!(out, " {max_interval} {max_datetime}"),
            Self::Auth(words) | Self::Other { params: words, .. } => {
                words.iter().try_for_each(|word| write!(out, " {word}"))
            }
            Self::Limits(limits) => limits.iter().try_for_each(|(name, value)| write!(out, " {name}={value}")),
            _ => Ok(()),
        };
    }
}

/// A server's answer to `EHLO` or `LHLO`: its name, the rest of its first line, and
/// every extension in the order announced.
///
/// ```
/// use smtp_sansio::{Capabilities, Capability, Reply, ReplyCode};
///
/// let reply = Reply::with_lines(ReplyCode::OK, ["mx.example Hello", "PIPELINING", "SIZE 10000000", "X-FOO bar"]);
/// let caps = Capabilities::from_reply(&reply).unwrap();
/// assert_eq!(caps.domain(), "mx.example");
/// assert!(caps.has(&Capability::Pipelining));
/// assert_eq!(caps.size_limit(), Some(10_000_000));
/// assert_eq!(caps.to_reply(), reply); // lossless
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Capabilities {
    domain: String,
    greeting: Option<String>,
    capabilities: Vec<Capability>,
}

impl Capabilities {
    /// Capabilities for a server called `domain`, with no extensions yet.
    pub fn new(domain: impl Into<String>) -> Self {
        Self { domain: domain.into(), greeting: None, capabilities: Vec::new() }
    }

    /// The same, with greeting text after the domain on the first line.
    #[must_use]
    pub fn with_greeting(mut self, greeting: impl Into<String>) -> Self {
        self.greeting = Some(greeting.into());
        self
    }

    /// The same, with one more extension.
    #[must_use]
    pub fn with(mut self, capability: Capability) -> Self {
        self.capabilities.push(capability);
        self
    }

    /// Reads an EHLO reply. Only a `250` reply announces extensions.
    pub fn from_reply(reply: &Reply) -> Result<Self, ReplyError> {
        if reply.code() != ReplyCode::OK {
            return Err(ReplyError::Malformed);
        }
        let mut lines = reply.lines();
        let mut first = Cow::Borrowed(lines.next().unwrap_or(""));
        // RFC 2034 section 3: an EHLO reply carries no enhanced status code, so what
        // looks like one at its start is the server's name (`2.0.0` is a valid domain).
        if let Some(status) = reply.enhanced() {
            first = match first.is_empty() {
                true => Cow::Owned(alloc::format!("{status}")),
                false => Cow::Owned(alloc::format!("{status} {first}")),
            };
        }
        let (domain, greeting) = match first.split_once(' ') {
            Some((domain, greeting)) => (domain, Some(greeting.to_string())),
            None => (&*first, None),
        };
        if domain.is_empty() {
            return Err(ReplyError::Malformed);
        }
        let capabilities = lines.filter(|line| !line.trim().is_empty()).map(Capability::parse).collect();
        Ok(Self { domain: domain.to_string(), greeting, capabilities })
    }

    /// The `250` reply that announces these capabilities.
    pub fn to_reply(&self) -> Reply {
        let mut first = self.domain.clone();
        if let Some(greeting) = &self.greeting {
            first.push(' ');
            first.push_str(greeting);
        }
        let rest = self.capabilities.iter().map(|capability| {
            let mut line = String::new();
            capability.write(&mut line);
            Cow::Owned(line)
        });
        Reply::with_lines(ReplyCode::OK, core::iter::once(Cow::Owned(first)).chain(rest))
    }

    /// The server's name.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The rest of the first line, if any.
    pub fn greeting(&self) -> Option<&str> {
        self.greeting.as_deref()
    }

    /// Every extension, in the order announced.
    pub fn iter(&self) -> impl Iterator<Item = &Capability> {
        self.capabilities.iter()
    }

    /// Whether the server announced exactly this capability.
    pub fn has(&self, capability: &Capability) -> bool {
        self.capabilities.contains(capability)
    }

    /// The parameters of every `keyword` line the server sent that the library has no
    /// type for (`XCLIENT NAME ADDR ...`), in order.
    pub(crate) fn params_of<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.capabilities
            .iter()
            .filter_map(move |capability| match capability {
                Capability::Other { keyword: name, params } if name.eq_ignore_ascii_case(keyword) => Some(params),
                _ => None,
            })
            .flatten()
    }

    /// Whether the server announced an extension with this keyword (any case).
    pub fn has_keyword(&self, keyword: &str) -> bool {
        self.capabilities.iter().any(|c| c.keyword().eq_ignore_ascii_case(keyword))
    }

    /// The announced maximum message size, if the server gave a non-zero one.
    pub fn size_limit(&self) -> Option<u64> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::Size(Some(max)) if *max > 0 => Some(*max),
            _ => None,
        })
    }

    /// The limits announced with `LIMITS` (RFC 9422), those the client acts on; every
    /// field `None` when the server announced none. See [`Limits::parse`] for what is
    /// ignored. A `LIMITS` line kept as [`Capability::Other`] (a limit without `=` is valid
    /// RFC 9422 syntax but does not fit [`Capability::Limits`]) is read too; two `LIMITS`
    /// lines count with the smaller value of each limit.
    ///
    /// ```
    /// use smtp_sansio::{Capabilities, Reply, ReplyCode};
    ///
    /// let reply = Reply::with_lines(ReplyCode::OK, ["mx.example", "LIMITS RCPTMAX=20 MAILMAX=5"]);
    /// let limits = Capabilities::from_reply(&reply).unwrap().limits();
    /// assert_eq!((limits.rcpt_max, limits.mail_max, limits.rcpt_domain_max), (Some(20), Some(5), None));
    /// ```
    pub fn limits(&self) -> Limits {
        let mut limits = Limits::default();
        for capability in &self.capabilities {
            let words: Vec<String> = match capability {
                Capability::Limits(pairs) => {
                    pairs.iter().map(|(name, value)| alloc::format!("{name}={value}")).collect()
                }
                Capability::Other { keyword, params } if keyword.eq_ignore_ascii_case("LIMITS") => params.clone(),
                _ => continue,
            };
            limits = limits.merge(Limits::parse(&words.join(" ")));
        }
        limits
    }

    /// The announced SASL mechanisms (empty when AUTH was not announced).
    pub fn auth_mechanisms(&self) -> &[String] {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::Auth(mechanisms) => Some(mechanisms.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }
}
