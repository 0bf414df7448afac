//! The command line of the example servers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use smtp_sansio::server::{Server, ServerConfig};

/// What the example servers are told to do.
pub struct ServerArgs {
    pub listen: Vec<SocketAddr>,
    pub maildir: PathBuf,
    pub hostname: String,
    pub max_size: Option<u64>,
    pub users: Vec<(String, String)>,
    pub allow_insecure_auth: bool,
    pub lmtp: bool,
    pub verbose: bool,
    pub fsync: bool,
    /// TLS, for STARTTLS or (with `implicit_tls`) from the first byte.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub implicit_tls: bool,
    /// Every decision is answered this long after its event (tokio_server only): the
    /// application deciding asynchronously, as one that asks a database would.
    pub decide_after: Duration,
}

pub const USAGE: &str = "\
options:
  --listen ADDR          address to listen on (default 127.0.0.1:2525; repeatable, IPv6 too)
  --maildir DIR          where messages go (default ./maildir)
  --hostname NAME        the server's name (default localhost)
  --max-size BYTES       the largest message accepted (default 10240000)
  --auth USER:PASS       accept AUTH PLAIN/LOGIN with these credentials (repeatable)
  --allow-insecure-auth  offer AUTH without TLS
  --lmtp                 speak LMTP
  --no-fsync             do not fsync messages before acknowledging them
  --verbose              print the conversation as C: and S: lines
  --tls-cert PEM --tls-key PEM   offer STARTTLS with this certificate chain and key
  --tls-self-signed      offer STARTTLS with a new self-signed certificate
  --implicit-tls         TLS from the first byte (port 465 style) instead of STARTTLS
  --decide-after-ms N    tokio_server only: answer every decision from another task,
                         N milliseconds after its event (default 0: at once)";

impl ServerArgs {
    /// Parses the command line; `Err` holds what to print.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Self {
            listen: Vec::new(),
            maildir: PathBuf::from("maildir"),
            hostname: String::from("localhost"),
            max_size: Some(10_240_000),
            users: Vec::new(),
            allow_insecure_auth: false,
            lmtp: false,
            verbose: false,
            fsync: true,
            tls: None,
            implicit_tls: false,
            decide_after: Duration::ZERO,
        };
        let (mut cert, mut key, mut self_signed) = (None, None, false);
        let _program = args.next();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
            match arg.as_str() {
                "--listen" => {
                    let addr = value("--listen")?;
                    parsed.listen.push(addr.parse().map_err(|e| format!("--listen {addr}: {e}"))?);
                }
                "--maildir" => parsed.maildir = PathBuf::from(value("--maildir")?),
                "--hostname" => parsed.hostname = value("--hostname")?,
                "--max-size" => {
                    let size = value("--max-size")?;
                    parsed.max_size = Some(size.parse().map_err(|e| format!("--max-size {size}: {e}"))?);
                }
                "--auth" => {
                    let pair = value("--auth")?;
                    let (user, pass) =
                        pair.split_once(':').ok_or_else(|| format!("--auth wants USER:PASS, not {pair}"))?;
                    parsed.users.push((user.into(), pass.into()));
                }
                "--allow-insecure-auth" => parsed.allow_insecure_auth = true,
                "--lmtp" => parsed.lmtp = true,
                "--no-fsync" => parsed.fsync = false,
                "--verbose" => parsed.verbose = true,
                "--tls-cert" => cert = Some(PathBuf::from(value("--tls-cert")?)),
                "--tls-key" => key = Some(PathBuf::from(value("--tls-key")?)),
                "--tls-self-signed" => self_signed = true,
                "--implicit-tls" => parsed.implicit_tls = true,
                "--decide-after-ms" => {
                    let ms = value("--decide-after-ms")?;
                    parsed.decide_after =
                        Duration::from_millis(ms.parse().map_err(|e| format!("--decide-after-ms {ms}: {e}"))?);
                }
                "--help" | "-h" => return Err(USAGE.into()),
                other => return Err(format!("unknown option {other}\n{USAGE}")),
            }
        }
        if parsed.listen.is_empty() {
            parsed.listen.push(SocketAddr::from(([127, 0, 0, 1], 2525)));
        }
        parsed.tls = match (cert, key, self_signed) {
            (Some(cert), Some(key), false) => {
                Some(super::tls::server_from_pem(&cert, &key).map_err(|e| e.to_string())?)
            }
            (None, None, true) => Some(super::tls::server_self_signed(&parsed.hostname).map_err(|e| e.to_string())?),
            (None, None, false) => None,
            _ => return Err(format!("give --tls-cert and --tls-key, or --tls-self-signed\n{USAGE}")),
        };
        if parsed.implicit_tls && parsed.tls.is_none() {
            return Err(format!("--implicit-tls needs a certificate\n{USAGE}"));
        }
        Ok(parsed)
    }

    /// The server, checked once and shared by every connection: every extension the
    /// library supports. `Err` holds what to print.
    pub fn server(&self) -> Result<Server, String> {
        let mut config = ServerConfig::new(self.hostname.clone());
        config.max_message_size = self.max_size;
        config.binary_mime = true;
        config.dsn = true;
        config.lmtp = self.lmtp;
        config.starttls = self.tls.is_some() && !self.implicit_tls;
        config.implicit_tls = self.implicit_tls;
        if !self.users.is_empty() {
            config.auth_mechanisms = vec![smtp_sansio::sasl::Mechanism::Plain, smtp_sansio::sasl::Mechanism::Login];
            config.plaintext_auth = self.allow_insecure_auth;
        }
        config.build().map_err(|e| format!("the configuration does not hold together: {e}\n{USAGE}"))
    }
}

/// Prints what crossed the wire as `C:`/`S:` lines, when `--verbose` is on.
pub fn trace(verbose: bool, who: &str, bytes: &[u8]) {
    if verbose {
        for line in String::from_utf8_lossy(bytes).split_inclusive('\n') {
            eprint!("{who}: {}", line.trim_end_matches(['\r', '\n']));
            eprintln!();
        }
    }
}
