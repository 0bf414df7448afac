//! The command line of the example clients, and how they report.

use std::io::{self, Read};

use smtp_sansio::client::{
    Client, ClientConfig, ClientCredentials, ClientEvent, CloseReason, Envelope, Failure, TlsPolicy,
};
use smtp_sansio::wire::{ForwardPath, ReversePath};

pub const USAGE: &str = "\
usage: --server HOST:PORT --from ADDR --to ADDR [--to ADDR ...] [options] MESSAGE-FILE|-
options:
  --helo NAME            the name to greet with (default localhost)
  --starttls POLICY      required, opportunistic (the default) or off
  --implicit-tls         TLS from the first byte (port 465 style)
  --ca PEM               trust the certificates in this file
  --insecure-skip-verify trust any certificate (for tests against self-signed servers)
  --auth USER:PASS       authenticate with PLAIN or LOGIN (over TLS only, unless
                         --allow-insecure-auth)
  --allow-insecure-auth  send the password even without TLS
  --lmtp                 speak LMTP
  --bdat                 send the body with BDAT when the server offers CHUNKING
  --verbose              print the conversation as C: and S: lines";

/// What the example clients are told to do.
pub struct ClientArgs {
    pub server: String,
    /// The checked configuration sessions start from.
    pub client: Client,
    pub envelope: Envelope,
    pub body: Vec<u8>,
    pub verbose: bool,
    /// TLS settings, used when STARTTLS or implicit TLS happens.
    pub tls: std::sync::Arc<rustls::ClientConfig>,
}

impl ClientArgs {
    /// Parses the command line and reads the message; `Err` holds what to print.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let _program = args.next();
        let (mut server, mut from, mut to, mut file) = (None, None, Vec::new(), None);
        let mut config = ClientConfig::new("localhost");
        let (mut verbose, mut ca, mut insecure) = (false, None, false);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
            match arg.as_str() {
                "--server" => server = Some(value("--server")?),
                "--from" => from = Some(value("--from")?),
                "--to" => to.push(value("--to")?),
                "--helo" => config.ehlo_name = value("--helo")?,
                "--starttls" => {
                    config.starttls = match value("--starttls")?.as_str() {
                        "required" => TlsPolicy::Required,
                        "opportunistic" => TlsPolicy::Opportunistic,
                        "off" => TlsPolicy::Off,
                        other => return Err(format!("--starttls {other}: required, opportunistic or off")),
                    }
                }
                "--implicit-tls" => config.implicit_tls = true,
                "--ca" => ca = Some(std::path::PathBuf::from(value("--ca")?)),
                "--insecure-skip-verify" => insecure = true,
                "--auth" => {
                    let pair = value("--auth")?;
                    let (user, pass) =
                        pair.split_once(':').ok_or_else(|| format!("--auth wants USER:PASS, not {pair}"))?;
                    config.credentials =
                        Some(ClientCredentials::Password { username: user.into(), password: pass.into() });
                    config.plaintext_auth = true;
                }
                "--allow-insecure-auth" => config.plaintext_auth = true,
                "--lmtp" => config.lmtp = true,
                "--bdat" => config.prefer_bdat = true,
                "--verbose" => verbose = true,
                "--help" | "-h" => return Err(USAGE.into()),
                other if other.starts_with("--") => return Err(format!("unknown option {other}\n{USAGE}")),
                path => file = Some(path.to_string()),
            }
        }
        let server = server.ok_or_else(|| format!("--server is needed\n{USAGE}"))?;
        let from = from.ok_or_else(|| format!("--from is needed\n{USAGE}"))?;
        let from = ReversePath::parse(&format!("<{}>", from.trim_matches(['<', '>'])))
            .map_err(|e| format!("--from {from}: {e}"))?
            .into_owned();
        let mut recipients = Vec::new();
        for address in &to {
            let bracketed = format!("<{}>", address.trim_matches(['<', '>']));
            let path = ForwardPath::parse(&bracketed).map_err(|e| format!("--to {address}: {e}"))?;
            recipients.push(path.into_owned());
        }
        if recipients.is_empty() {
            return Err(format!("at least one --to is needed\n{USAGE}"));
        }
        let mut body = Vec::new();
        match file.as_deref() {
            None => return Err(format!("the message file is needed (or - for standard input)\n{USAGE}")),
            Some("-") => std::io::stdin().read_to_end(&mut body).map(drop),
            Some(path) => std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut body)).map(drop),
        }
        .map_err(|e| format!("reading the message: {e}"))?;
        let envelope = Envelope::new(from, recipients).for_body(&body);
        let tls = super::tls::client(ca.as_deref(), insecure).map_err(|e| e.to_string())?;
        let client = config.build().map_err(|e| format!("the configuration does not hold together: {e}\n{USAGE}"))?;
        Ok(Self { server, client, envelope, body, verbose, tls })
    }
}

/// Prints an outcome; returns the exit code it calls for, if any: 75 for a transient
/// failure, 69 for a permanent one (sysexits.h: `EX_TEMPFAIL`, `EX_UNAVAILABLE`).
pub fn report(event: &ClientEvent, recipients: &Envelope) -> Option<i32> {
    let recipient = |index: usize| recipients.recipients.get(index).map(|(to, _)| to.to_string()).unwrap_or_default();
    let code = |transient: bool| if transient { 75 } else { 69 };
    match event {
        ClientEvent::Recipient { index, reply, .. } => {
            println!("{}: {reply}", recipient(*index));
            (!reply.code().is_positive()).then(|| code(reply.code().is_transient()))
        }
        ClientEvent::Delivery { index, reply, .. } => {
            println!("delivery to {}: {reply}", recipient(*index));
            (!reply.code().is_positive()).then(|| code(reply.code().is_transient()))
        }
        ClientEvent::Accepted { reply, .. } => {
            println!("accepted: {reply}");
            None
        }
        ClientEvent::Failed { failure, .. } => {
            match failure {
                Failure::Rejected { stage, reply } => println!("failed at {stage:?}: {reply}"),
                Failure::NoRecipients { .. } => println!("failed: every recipient was refused"),
                Failure::AuthFailed(Some(reply)) => println!("failed: authentication refused: {reply}"),
                Failure::AuthFailed(None) => println!("failed: no authentication mechanism in common, or no TLS"),
                Failure::SessionEnded(reason) => println!("failed: the session ended ({})", describe(reason)),
                Failure::Reconnect => println!("failed: the server takes no more messages on this connection"),
                Failure::Partial { delivered, failure } => {
                    let delivered: Vec<String> = delivered.iter().map(|index| recipient(*index)).collect();
                    println!("failed after delivery to {}: {failure:?}", delivered.join(", "));
                }
                other => println!("failed: {other:?}"),
            }
            Some(code(failure.is_transient()))
        }
        ClientEvent::AuthFailed { reply } => {
            println!("authentication failed: {reply:?}");
            None
        }
        ClientEvent::Closed { reason } => {
            eprintln!("session closed: {}", describe(reason));
            None
        }
        _ => None,
    }
}

/// Why a session ended, for people.
fn describe(reason: &CloseReason) -> String {
    match reason {
        CloseReason::Quit => "QUIT answered".into(),
        CloseReason::Rejected(reply) => format!("the server refused: {reply}"),
        CloseReason::TlsUnavailable(None) => "TLS was required and the server does not offer it".into(),
        CloseReason::TlsUnavailable(Some(reply)) => format!("TLS was required and the server refused it: {reply}"),
        CloseReason::AuthFailed(Some(reply)) => format!("authentication refused: {reply}"),
        CloseReason::AuthFailed(None) => "no authentication mechanism in common, or no TLS".into(),
        CloseReason::ProtocolViolation => "the server broke the protocol".into(),
        CloseReason::Eof => "the server closed the connection".into(),
        CloseReason::Timeout => "the server went quiet".into(),
        other => format!("{other:?}"),
    }
}

/// The exit code for an error that stopped the client outside the session, printed:
/// 69 when the server's certificate is not trusted (trying again will not help), 75
/// when the server could not be reached or the connection broke (it may work later),
/// 1 for anything else.
pub fn exit_code(error: &io::Error) -> i32 {
    use io::ErrorKind::*;
    if let Some(rustls::Error::InvalidCertificate(reason)) =
        error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        eprintln!("certificate not trusted: {reason} (--ca names the certificates to trust)");
        return 69;
    }
    eprintln!("{error}");
    match error.kind() {
        ConnectionRefused | ConnectionReset | ConnectionAborted | TimedOut | HostUnreachable | NetworkUnreachable
        | BrokenPipe | UnexpectedEof => 75,
        _ => 1,
    }
}

/// Prints what crossed the wire as `C:`/`S:` lines, when `--verbose` is on.
pub fn trace(verbose: bool, who: &str, bytes: &[u8]) {
    if verbose {
        for line in String::from_utf8_lossy(bytes).split_inclusive('\n') {
            eprintln!("{who}: {}", line.trim_end_matches(['\r', '\n']));
        }
    }
}
