//! Driving a `ClientSession` against a scripted server: each block of server bytes is
//! handed over when the client waits, cut into pieces as the test says.

use smtp_sansio::Output;
use smtp_sansio::client::{ClientConfig, ClientEvent, ClientSession, Envelope};

/// What the client did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRun {
    /// Everything it sent.
    pub sent: String,
    /// Its events, as debug text.
    pub events: Vec<String>,
}

/// Runs a client with `messages` (envelope and body) and `QUIT` against `server`: one
/// block of bytes per time the client waits for a reply; when the blocks run out, the
/// server closes the connection. Each block is fed in pieces of `piece` octets.
pub fn run_client(config: &ClientConfig, messages: &[(Envelope, &[u8])], server: &[&[u8]], piece: usize) -> ClientRun {
    let mut client = ClientSession::new(&config.clone().build().unwrap());
    let ids: Vec<_> = messages.iter().map(|(envelope, _)| client.send(envelope.clone())).collect();
    client.quit();
    let mut blocks = server.iter();
    let mut pending: Vec<&[u8]> = Vec::new();
    let mut run = ClientRun { sent: String::new(), events: Vec::new() };
    let mut sent = Vec::new();
    for _ in 0..10_000_000 {
        match client.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(event) => {
                if let ClientEvent::BodyWanted { message } = &event {
                    let index = ids.iter().position(|id| id == message).expect("our message");
                    client.push_body(messages[index].1).expect("body wanted");
                    client.end_body().expect("body wanted");
                }
                run.events.push(format!("{event:?}"));
            }
            Output::StartTls => client.tls_established(),
            Output::Wait(_) | Output::Pending(_) | Output::Idle => {
                if pending.is_empty() {
                    match blocks.next() {
                        Some(block) => pending = block.chunks(piece.max(1)).rev().collect(),
                        None => {
                            client.handle_eof();
                            continue;
                        }
                    }
                }
                if let Some(bytes) = pending.pop() {
                    client.handle_input(bytes);
                }
            }
            Output::Closed => {
                run.sent = String::from_utf8_lossy(&sent).into_owned();
                return run;
            }
        }
    }
    panic!("the client did not finish");
}

/// [`run_client`] with every block whole, then one byte at a time, then in pieces of
/// 2, 3 and 7: all must agree.
pub fn run_client_all_ways(config: &ClientConfig, messages: &[(Envelope, &[u8])], server: &[&[u8]]) -> ClientRun {
    let first = run_client(config, messages, server, usize::MAX);
    for piece in [1, 2, 3, 7] {
        assert_eq!(run_client(config, messages, server, piece), first, "pieces of {piece} differ from whole blocks");
    }
    first
}
