//! Driving a `ServerSession` in tests: the driver loop over any chunking, with the
//! application's decisions made by a closure.

use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession};
use smtp_sansio::{Output, Reply};

use super::split_invariant;

/// The application's answer to one event with a ticket.
pub enum Verdict {
    Accept,
    AcceptWith(Reply),
    Reject(Reply),
}

/// What a session did over a whole conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Every byte the session asked to transmit.
    pub sent: String,
    /// Its events; consecutive body chunks are joined (their borders depend on the
    /// chunking) into one `Body`.
    pub events: Vec<Seen>,
    /// Whether it ended with `Output::Closed`.
    pub closed: bool,
}

/// An event, owned and comparable, with body chunks joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Event(String),
    Body(Vec<u8>),
    StartTls,
}

/// Runs `config`'s session over `pieces`, then end of input. Every event with a ticket
/// is decided at once by `decide`.
pub fn run_pieces(config: &ServerConfig, pieces: &[&[u8]], decide: &dyn Fn(&ServerEvent) -> Verdict) -> Run {
    run_with_tls(config, pieces, b"", decide)
}

/// The same, with a STARTTLS handshake: when the session asks for it, the rest of
/// `pieces` arrives first (plaintext a client sent after `STARTTLS`, as in an
/// injection attack), then the handshake completes and `after_tls` arrives whole.
pub fn run_with_tls(
    config: &ServerConfig,
    pieces: &[&[u8]],
    after_tls: &[u8],
    decide: &dyn Fn(&ServerEvent) -> Verdict,
) -> Run {
    let mut session = ServerSession::new(config.clone());
    let mut pieces = pieces.iter();
    let mut after_tls = Some(after_tls);
    let mut run = Run { sent: String::new(), events: Vec::new(), closed: false };
    let mut sent = Vec::new();
    // Bounded: each round either consumes a piece, or makes progress the session
    // promises is finite.
    for _ in 0..1_000_000 {
        match session.poll_output() {
            Output::Transmit(bytes) => {
                assert!(!bytes.is_empty(), "empty Transmit");
                sent.extend_from_slice(&bytes);
            }
            Output::Event(ServerEvent::BodyChunk(chunk)) => {
                assert!(!chunk.is_empty(), "empty body chunk");
                match run.events.last_mut() {
                    Some(Seen::Body(body)) => body.extend_from_slice(&chunk),
                    _ => run.events.push(Seen::Body(chunk.to_vec())),
                }
            }
            Output::Event(event) => {
                run.events.push(Seen::Event(format!("{event:?}")));
                if let Some(ticket) = event.ticket() {
                    let result = match decide(&event) {
                        Verdict::Accept => session.accept(ticket),
                        Verdict::AcceptWith(reply) => session.accept_with(ticket, reply),
                        Verdict::Reject(reply) => session.reject(ticket, reply),
                    };
                    result.expect("decision refused");
                }
            }
            Output::StartTls => {
                run.events.push(Seen::StartTls);
                for piece in pieces.by_ref() {
                    session.handle_input(piece);
                }
                session.tls_established();
                pieces = [].iter();
                if let Some(bytes) = after_tls.take() {
                    session.handle_input(bytes);
                }
            }
            Output::Wait(_) => match pieces.next() {
                Some(piece) => session.handle_input(piece),
                None => session.handle_eof(),
            },
            Output::Pending => panic!("Pending with every decision made"),
            Output::Closed => {
                run.closed = true;
                break;
            }
        }
    }
    run.sent = String::from_utf8_lossy(&sent).into_owned();
    run
}

/// Runs the conversation in every chunking (whole, byte by byte, random splits), checks
/// they all agree, and returns the result.
pub fn run(config: &ServerConfig, client: &[u8], decide: &dyn Fn(&ServerEvent) -> Verdict) -> Run {
    split_invariant(client, |pieces| run_pieces(config, pieces, decide))
}

/// [`run`] with a STARTTLS handshake (see [`run_with_tls`]).
pub fn run_tls(
    config: &ServerConfig,
    client: &[u8],
    after_tls: &[u8],
    decide: &dyn Fn(&ServerEvent) -> Verdict,
) -> Run {
    split_invariant(client, |pieces| run_with_tls(config, pieces, after_tls, decide))
}

/// Accepts everything.
pub fn accept_all(_: &ServerEvent) -> Verdict {
    Verdict::Accept
}

/// A transcript: `C:` lines are the client's, `S:` lines the server's, each without its
/// CRLF; a line `TLS` is where the STARTTLS handshake completes; other lines are
/// ignored. Returns (client bytes before TLS, client bytes after it, expected server
/// bytes).
pub fn transcript(text: &str) -> (Vec<u8>, Vec<u8>, String) {
    let (mut before, mut after, mut server) = (Vec::new(), Vec::new(), String::new());
    let mut client = &mut before;
    for line in text.lines().map(str::trim_start) {
        if line == "TLS" {
            client = &mut after;
        } else if let Some(line) = line.strip_prefix("C: ").or_else(|| line.strip_prefix("C:")) {
            client.extend_from_slice(line.as_bytes());
            client.extend_from_slice(b"\r\n");
        } else if let Some(line) = line.strip_prefix("S: ") {
            server.push_str(line);
            server.push_str("\r\n");
        }
    }
    (before, after, server)
}

/// Runs a transcript in every chunking and checks the server said exactly its `S:`
/// lines and closed. Returns the run for more checks.
pub fn check_transcript(config: &ServerConfig, text: &str, decide: &dyn Fn(&ServerEvent) -> Verdict) -> Run {
    let (client, after_tls, expected) = transcript(text);
    let run = run_tls(config, &client, &after_tls, decide);
    assert_eq!(run.sent, expected, "server output differs from the transcript");
    assert!(run.closed, "session did not close");
    run
}

/// The default configuration of the tests: `mx.example.org`.
pub fn config() -> ServerConfig {
    ServerConfig::new("mx.example.org")
}
