//! [`Server`]: a configuration that was checked, with what every session of it shares.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use super::canned;
use super::config::ServerConfig;
use crate::error::ConfigError;
use crate::wire::{Capabilities, Capability, Host};

/// A checked [`ServerConfig`], shared by every session of one server: clone it freely
/// (it is one reference count), and start a [`ServerSession`](super::ServerSession)
/// for each connection with [`ServerSession::new`](super::ServerSession::new).
///
/// Made by [`ServerConfig::build`], which refuses a configuration that contradicts
/// itself or holds text that cannot go on the wire.
#[derive(Debug, Clone)]
pub struct Server {
    pub(super) shared: Arc<Shared>,
}

/// What every session of a server reads: the configuration and what follows from it,
/// worked out once.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) config: ServerConfig,
    /// The longest line, CRLF included, for each command (RFC 5321 section
    /// 4.5.3.1.4, raised by the extensions offered).
    pub(super) caps: LineCaps,
    /// The `220` greeting.
    pub(super) greeting: Bytes,
    /// The `EHLO` reply before TLS and after it (the extensions differ).
    pub(super) ehlo_plain: Bytes,
    pub(super) ehlo_tls: Bytes,
    /// The same, with `XCLIENT` and `XFORWARD` for a peer the application trusts
    /// ([`ServerSession::trust_proxy`](super::ServerSession::trust_proxy)).
    pub(super) ehlo_plain_trusted: Bytes,
    pub(super) ehlo_tls_trusted: Bytes,
    /// The `HELO` reply.
    pub(super) helo: Bytes,
}

/// Line caps by command, CRLF included.
#[derive(Debug, Clone, Copy)]
pub(super) struct LineCaps {
    pub(super) mail: usize,
    pub(super) rcpt: usize,
    pub(super) other: usize,
    pub(super) auth: usize,
}

impl LineCaps {
    /// RFC 5321 section 4.5.3.1.4 lets extensions raise the 512-octet limit for the
    /// parameters they add: `SIZE` by 26 (RFC 1870 section 3), `DSN` by 100 for `MAIL`
    /// and 500 for `RCPT` (RFC 3461 section 4), `AUTH` by 500 (RFC 4954 section 5),
    /// `SMTPUTF8` by 10 (RFC 6531 section 3.4). `BODY=` and `REQUIRETLS` get room for
    /// their longest value too (16 and 11), which no RFC states.
    fn new(config: &ServerConfig) -> Self {
        let base = config.max_command_line;
        let add = |on: bool, octets: usize| if on { octets } else { 0 };
        let mail = base
            + 26
            + add(config.dsn, 100)
            + add(!config.auth_mechanisms.is_empty(), 500)
            + add(config.smtputf8, 10)
            + add(config.eight_bit_mime || config.binary_mime, 16)
            + add(config.requiretls, 11);
        let rcpt = base + add(config.dsn, 500);
        let auth = config.max_auth_line.max(base);
        Self { mail, rcpt, other: base, auth }
    }

    /// The most any line may take: what the framer is built with.
    pub(super) fn longest(&self) -> usize {
        self.mail.max(self.rcpt).max(self.other).max(self.auth)
    }
}

impl Server {
    pub(super) fn new(config: ServerConfig) -> Result<Self, ConfigError> {
        check(&config)?;
        let caps = LineCaps::new(&config);
        let mut greeting = BytesMut::new();
        let text = alloc::format!("{} {}", config.hostname, config.greeting);
        canned::write_line(&mut greeting, 220, None, text.trim_end());
        let mut helo = BytesMut::new();
        canned::write_line(&mut helo, 250, None, &config.hostname);
        let ehlo = |tls: bool, trusted: bool| -> Result<Bytes, ConfigError> {
            let mut out = BytesMut::new();
            capabilities(&config, tls, trusted)
                .to_reply()
                .encode(&mut out)
                .map_err(|_| ConfigError::Keyword(config.extra_keywords.join(" ")))?;
            Ok(out.freeze())
        };
        let (ehlo_plain, ehlo_tls) = (ehlo(false, false)?, ehlo(true, false)?);
        let (ehlo_plain_trusted, ehlo_tls_trusted) = (ehlo(false, true)?, ehlo(true, true)?);
        let shared = Shared {
            caps,
            greeting: greeting.freeze(),
            ehlo_plain,
            ehlo_tls,
            ehlo_plain_trusted,
            ehlo_tls_trusted,
            helo: helo.freeze(),
            config,
        };
        Ok(Self { shared: Arc::new(shared) })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }
}

/// What `EHLO` offers: some extensions depend on TLS.
fn capabilities(config: &ServerConfig, tls: bool, trusted: bool) -> Capabilities {
    let mut capabilities = Capabilities::new(config.hostname.clone());
    let mut offer = |on: bool, capability: Capability| {
        if on {
            capabilities = core::mem::take(&mut capabilities).with(capability);
        }
    };
    offer(config.pipelining, Capability::Pipelining);
    offer(true, Capability::Size(config.max_message_size));
    offer(config.eight_bit_mime, Capability::EightBitMime);
    offer(config.smtputf8, Capability::SmtpUtf8);
    offer(config.chunking, Capability::Chunking);
    offer(config.chunking && config.binary_mime, Capability::BinaryMime);
    offer(config.dsn, Capability::Dsn);
    offer(config.enhanced_status_codes, Capability::EnhancedStatusCodes);
    offer(config.starttls && !tls, Capability::StartTls);
    offer(config.requiretls && tls, Capability::RequireTls);
    let auth = !config.auth_mechanisms.is_empty() && (tls || config.plaintext_auth);
    let mechanisms = config.auth_mechanisms.iter().map(|m| String::from(m.as_str())).collect();
    offer(auth, Capability::Auth(mechanisms));
    // RFC 9422: the limits the session enforces.
    let mut limits = alloc::vec![(String::from("RCPTMAX"), alloc::format!("{}", config.max_recipients))];
    if let Some(max) = config.max_messages {
        limits.push((String::from("MAILMAX"), alloc::format!("{max}")));
    }
    if let Some(max) = config.max_recipient_domains {
        limits.push((String::from("RCPTDOMAINMAX"), alloc::format!("{max}")));
    }
    offer(config.advertise_limits, Capability::Limits(limits));
    // RFC 5321 section 3.5.2: a server that serves EXPN must list it.
    offer(config.decide_expn, Capability::Other { keyword: "EXPN".into(), params: Vec::new() });
    offer(true, Capability::Other { keyword: "HELP".into(), params: Vec::new() });
    // Postfix's XCLIENT_README and XFORWARD_README: the attributes the server takes.
    let names = |names: &[&str]| names.iter().map(|name| String::from(*name)).collect();
    let xclient = names(&["NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT", "REVERSE_NAME"]);
    offer(trusted, Capability::Other { keyword: "XCLIENT".into(), params: xclient });
    offer(
        trusted,
        Capability::Other {
            keyword: "XFORWARD".into(),
            params: names(&["NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"]),
        },
    );
    for line in &config.extra_keywords {
        offer(true, Capability::parse(line));
    }
    capabilities
}

/// Keywords the session offers by itself: an extra keyword may not claim them.
const OWN_KEYWORDS: [&str; 17] = [
    "PIPELINING",
    "SIZE",
    "8BITMIME",
    "SMTPUTF8",
    "CHUNKING",
    "BINARYMIME",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "STARTTLS",
    "REQUIRETLS",
    "AUTH",
    "EXPN",
    "HELP",
    "VRFY",
    "LIMITS",
    "XCLIENT",
    "XFORWARD",
];

fn check(config: &ServerConfig) -> Result<(), ConfigError> {
    let hostname = &config.hostname;
    if Host::parse(hostname).is_err() {
        return Err(ConfigError::Hostname(hostname.clone()));
    }
    if config.greeting.chars().any(char::is_control) {
        return Err(ConfigError::Greeting);
    }
    for line in &config.extra_keywords {
        if !is_ehlo_line(line) {
            return Err(ConfigError::Keyword(line.clone()));
        }
        let keyword = line.split(' ').next().unwrap_or_default();
        if OWN_KEYWORDS.iter().any(|own| own.eq_ignore_ascii_case(keyword)) {
            return Err(ConfigError::Keyword(line.clone()));
        }
    }
    let tls_possible = config.starttls || config.implicit_tls;
    if !config.auth_mechanisms.is_empty() && !tls_possible && !config.plaintext_auth {
        return Err(ConfigError::AuthNeverOffered);
    }
    if config.submission && config.auth_mechanisms.is_empty() {
        return Err(ConfigError::SubmissionWithoutAuth);
    }
    if config.smtputf8 && !config.eight_bit_mime {
        return Err(ConfigError::Smtputf8WithoutEightBitMime);
    }
    if config.binary_mime && !config.chunking {
        return Err(ConfigError::BinaryMimeWithoutChunking);
    }
    if config.require_starttls && !config.starttls {
        return Err(ConfigError::RequireStartTlsWithoutStartTls);
    }
    if config.requiretls && !tls_possible {
        return Err(ConfigError::RequireTlsWithoutTls);
    }
    let limits: [(&'static str, bool); 8] = [
        ("max_messages", config.max_messages == Some(0)),
        ("max_recipient_domains", config.max_recipient_domains == Some(0)),
        ("max_message_size", config.max_message_size == Some(0)),
        ("max_recipients", config.max_recipients == 0),
        ("max_errors", config.max_errors == 0),
        ("max_auth_failures", config.max_auth_failures == 0),
        ("max_command_line", config.max_command_line < 512),
        ("max_auth_line", config.max_auth_line < config.max_command_line),
    ];
    if let Some((field, _)) = limits.iter().find(|(_, bad)| *bad) {
        return Err(ConfigError::Limit(field));
    }
    const MAX_LIMIT: usize = 999_999;
    let advertised: [(&'static str, bool); 3] = [
        ("max_recipients", config.max_recipients > MAX_LIMIT),
        ("max_messages", config.max_messages.is_some_and(|max| max as usize > MAX_LIMIT)),
        ("max_recipient_domains", config.max_recipient_domains.is_some_and(|max| max > MAX_LIMIT)),
    ];
    match advertised.iter().find(|(_, bad)| *bad && config.advertise_limits) {
        Some((field, _)) => Err(ConfigError::LimitTooLarge(field)),
        None => Ok(()),
    }
}

/// RFC 5321 section 4.1.1.1: `ehlo-keyword *( SP ehlo-param )`, the keyword
/// `(ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`, each parameter `1*(%d33-126)`.
fn is_ehlo_line(line: &str) -> bool {
    let mut words = line.split(' ');
    let keyword = words.next().unwrap_or_default();
    let keyword_ok = keyword.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && keyword.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    keyword_ok && words.all(|word| !word.is_empty() && word.bytes().all(|b| (33..=126).contains(&b)))
}
