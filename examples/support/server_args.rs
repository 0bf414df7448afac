//! The command line of the example servers (clap), and the configuration it makes.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use smtp_sansio::server::{Server, ServerConfig};

/// A local mail sink: every message to any address is stored in a Maildir.
#[derive(Parser, Debug)]
#[command(long_about = None)]
pub struct ServerArgs {
    /// Address to listen on (repeatable; IPv6 too).
    #[arg(long, default_value = "127.0.0.1:2525")]
    pub listen: Vec<SocketAddr>,
    /// Where messages go.
    #[arg(long, default_value = "maildir")]
    pub maildir: PathBuf,
    /// The server's name.
    #[arg(long, default_value = "localhost")]
    pub hostname: String,
    /// The largest message accepted, in octets (the default is what Gmail takes).
    #[arg(long, default_value_t = 35_882_577)]
    pub max_size: u64,
    /// Recipients per message; more get `452 4.5.3`.
    #[arg(long, default_value_t = 100)]
    pub max_recipients: usize,
    /// Messages per connection (RFC 9422 MAILMAX); more get `451 4.5.3`.
    #[arg(long)]
    pub max_messages: Option<u32>,
    /// Refused AUTH attempts per connection before `421 4.7.0`.
    #[arg(long, default_value_t = 3)]
    pub max_auth_failures: u32,
    /// The idle timeout between commands, and the deadline for one command line, in
    /// seconds.
    #[arg(long, default_value_t = 300)]
    pub command_timeout: u64,
    /// Wait this long before the greeting; a client that talks first is cut off
    /// (`554 5.5.0`, postscreen's pre-greet test).
    #[arg(long)]
    pub greet_delay_ms: Option<u64>,
    /// Every connection starts with a PROXY protocol header (v1 or v2) from the
    /// balancer in front; its addresses replace the balancer's. Only behind a balancer
    /// that always sends one: anyone else could claim any address.
    #[arg(long)]
    pub proxy_protocol: bool,
    /// Peers allowed to use XCLIENT and XFORWARD (a network, `10.0.0.0/8`, or one
    /// address; repeatable). Nobody by default.
    #[arg(long = "xclient", value_name = "CIDR")]
    pub xclient: Vec<Cidr>,
    /// Accept AUTH PLAIN and LOGIN with these credentials (USER:PASS; repeatable).
    #[arg(long = "auth", value_name = "USER:PASS", value_parser = user_and_password)]
    pub users: Vec<(String, String)>,
    /// Offer AUTH without TLS.
    #[arg(long)]
    pub allow_insecure_auth: bool,
    /// Speak LMTP.
    #[arg(long)]
    pub lmtp: bool,
    /// Do not fsync messages before acknowledging them.
    #[arg(long = "no-fsync", action = clap::ArgAction::SetFalse)]
    pub fsync: bool,
    /// Print the conversation as C: and S: lines (credentials redacted).
    #[arg(long)]
    pub verbose: bool,
    /// Offer STARTTLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Offer STARTTLS with a new self-signed certificate.
    #[arg(long, conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,
    /// TLS from the first byte (port 465 style) instead of STARTTLS.
    #[arg(long)]
    pub implicit_tls: bool,
    /// Connections served at once; more wait in the listen queue.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// tokio_server only: answer every decision from another task, N milliseconds after
    /// its event (0: at once).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub decide_after_ms: u64,
}

/// A network: an address and how many of its leading bits count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Whether `ip` is in the network (an IPv4 address mapped into IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let mask = |width: u32| if self.bits == 0 { 0 } else { u128::MAX << (width - u32::from(self.bits)) };
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = mask(32) as u32;
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = mask(128);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, bits) = text.split_once('/').unwrap_or((text, ""));
        let network: IpAddr = address.parse().map_err(|e| format!("{address}: {e}"))?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            "" => width,
            bits => {
                bits.parse::<u8>().ok().filter(|&bits| bits <= width).ok_or(format!("bad prefix length /{bits}"))?
            }
        };
        Ok(Self { network, bits })
    }
}

fn user_and_password(pair: &str) -> Result<(String, String), String> {
    let (user, pass) = pair.split_once(':').ok_or_else(|| format!("--auth wants USER:PASS, not {pair}"))?;
    Ok((user.into(), pass.into()))
}

impl ServerArgs {
    /// Parses the command line; exits with clap's message when it is wrong.
    pub fn from_command_line() -> Self {
        Self::parse()
    }

    /// TLS, for STARTTLS or (with `implicit_tls`) from the first byte.
    pub fn tls(&self) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
        let tls = match (&self.tls_cert, &self.tls_key, self.tls_self_signed) {
            (Some(cert), Some(key), false) => Some(super::tls::server_from_pem(cert, key).map_err(|e| e.to_string())?),
            (None, None, true) => Some(super::tls::server_self_signed(&self.hostname).map_err(|e| e.to_string())?),
            _ => None,
        };
        if self.implicit_tls && tls.is_none() {
            return Err("--implicit-tls needs a certificate".into());
        }
        Ok(tls)
    }

    /// How long every decision takes to come back (zero: at once).
    #[allow(dead_code)] // tokio_server only
    pub fn decide_after(&self) -> Duration {
        Duration::from_millis(self.decide_after_ms)
    }

    /// Whether `peer` may use XCLIENT and XFORWARD.
    #[allow(dead_code)] // not every server asks
    pub fn xclient_allowed(networks: &[Cidr], peer: IpAddr) -> bool {
        networks.iter().any(|network| network.contains(peer))
    }

    /// The server, checked once and shared by every connection: every extension the
    /// library supports. `Err` holds what to print.
    pub fn server(&self, tls: bool) -> Result<Server, String> {
        let mut config = ServerConfig::new(self.hostname.clone());
        config.max_message_size = Some(self.max_size);
        config.max_recipients = self.max_recipients;
        config.max_messages = self.max_messages;
        config.max_auth_failures = self.max_auth_failures;
        config.advertise_limits = true;
        config.timeouts.command = Duration::from_secs(self.command_timeout);
        config.timeouts.command_line = Duration::from_secs(self.command_timeout);
        config.greet_delay = self.greet_delay_ms.map(Duration::from_millis);
        config.proxy_protocol = self.proxy_protocol.then_some(smtp_sansio::proxy::ProxyVersions::Both);
        config.binary_mime = true;
        config.dsn = true;
        config.lmtp = self.lmtp;
        config.starttls = tls && !self.implicit_tls;
        config.implicit_tls = self.implicit_tls;
        if !self.users.is_empty() {
            config.auth_mechanisms = vec![smtp_sansio::sasl::Mechanism::Plain, smtp_sansio::sasl::Mechanism::Login];
            config.plaintext_auth = self.allow_insecure_auth;
        }
        config.build().map_err(|e| format!("the configuration does not hold together: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::Cidr;

    #[test]
    fn networks_contain_their_addresses() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()) && !one.contains("127.0.0.2".parse().unwrap()));
        let all: Cidr = "::/0".parse().unwrap();
        assert!(all.contains("2001:db8::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    }
}
