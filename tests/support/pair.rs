//! A client session and a server session wired together in memory: each one's
//! transmitted bytes are the other's input, cut into pieces by a seeded generator.

use smtp_sansio::Output;
use smtp_sansio::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession};

use super::XorShift;
use super::server::{Held, Schedule, Verdict, answer};

/// What happened on both sides.
#[derive(Debug, Default)]
pub struct PairRun {
    /// The client's events, as debug text.
    pub client: Vec<String>,
    /// The client's events.
    pub events: Vec<ClientEvent>,
    /// The ids of the messages, in the order they were sent.
    pub ids: Vec<smtp_sansio::client::MessageId>,
    /// The server's events, as debug text, body chunks left out.
    pub server: Vec<String>,
    /// The bodies the server received, one per message it finished.
    pub bodies: Vec<Vec<u8>>,
    /// Every byte the client sent.
    pub client_bytes: Vec<u8>,
}

/// Runs `client_config` against `server_config` over `messages` (envelope and body,
/// pushed in pieces of at most `piece` octets), `split` cutting each transmission
/// into pieces of random size (0: whole), `decide` deciding for the server.
pub fn run_pair(
    client_config: &ClientConfig,
    server_config: &ServerConfig,
    messages: &[(Envelope, Vec<u8>)],
    piece: usize,
    split: u64,
    decide: &dyn Fn(&ServerEvent) -> Verdict,
) -> PairRun {
    run_pair_scheduled(client_config, server_config, messages, piece, split, decide, Schedule::Immediate)
}

/// [`run_pair`] with the server's decisions made on `schedule`: `Immediate`,
/// `ReverseAtEnd` (held while the client has bytes in flight, then made last first) or
/// `Random` (a seeded coin between reading on and making one held decision); the other
/// schedules are taken as `ReverseAtEnd`.
pub fn run_pair_scheduled(
    client_config: &ClientConfig,
    server_config: &ServerConfig,
    messages: &[(Envelope, Vec<u8>)],
    piece: usize,
    split: u64,
    decide: &dyn Fn(&ServerEvent) -> Verdict,
    schedule: Schedule,
) -> PairRun {
    run_pair_pushing(client_config, server_config, messages, piece, split, decide, schedule, Push::Copied)
}

/// How the client's application hands over a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// `push_body` with `&[u8]` pieces.
    Copied,
    /// `push_body_bytes` with pieces that are slices of one `Bytes`.
    Sliced,
}

/// [`run_pair_scheduled`] with the bodies pushed as `push` says.
#[allow(clippy::too_many_arguments)]
pub fn run_pair_pushing(
    client_config: &ClientConfig,
    server_config: &ServerConfig,
    messages: &[(Envelope, Vec<u8>)],
    piece: usize,
    split: u64,
    decide: &dyn Fn(&ServerEvent) -> Verdict,
    schedule: Schedule,
    push: Push,
) -> PairRun {
    let mut held: Vec<Held> = Vec::new();
    let mut coin = XorShift::new(match schedule {
        Schedule::Random(seed) => seed,
        _ => 7,
    });
    let mut client = ClientSession::new(&client_config.clone().build().unwrap());
    let mut server = ServerSession::new(&server_config.clone().build().unwrap());
    let mut ids = Vec::new();
    for (envelope, _) in messages {
        ids.push(client.send(envelope.clone()));
    }
    client.quit();
    let mut rng = XorShift::new(split.max(1));
    let mut cut = |bytes: &[u8]| -> Vec<Vec<u8>> {
        if split == 0 {
            return vec![bytes.to_vec()];
        }
        let mut pieces = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let take = 1 + rng.below(rest.len().min(64));
            pieces.push(rest[..take].to_vec());
            rest = &rest[take..];
        }
        pieces
    };
    let mut run = PairRun { ids: ids.clone(), ..PairRun::default() };
    let mut body = Vec::new();
    let (mut to_server, mut to_client): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    let (mut client_done, mut server_done) = (false, false);
    let (mut client_tls, mut server_tls) = (false, false);
    for _ in 0..1_000_000 {
        if client_done && server_done {
            break;
        }
        let mut progress = false;
        if !client_done {
            match client.poll_output() {
                Output::Transmit(bytes) => {
                    run.client_bytes.extend_from_slice(&bytes);
                    to_server.extend(cut(&bytes));
                    progress = true;
                }
                Output::Event(event) => {
                    if let ClientEvent::BodyWanted { message } = &event {
                        let index = ids.iter().position(|id| id == message).expect("a message we sent");
                        let body = bytes::Bytes::from(messages[index].1.clone());
                        for at in (0..body.len()).step_by(piece.max(1)) {
                            let chunk = body.slice(at..body.len().min(at.saturating_add(piece.max(1))));
                            match push {
                                Push::Copied => client.push_body(&chunk).expect("body wanted"),
                                Push::Sliced => client.push_body_bytes(chunk).expect("body wanted"),
                            }
                        }
                        client.end_body().expect("body wanted");
                    }
                    run.client.push(format!("{event:?}"));
                    run.events.push(event);
                    progress = true;
                }
                Output::StartTls => {
                    client_tls = true;
                    progress = true;
                }
                Output::Closed => {
                    client_done = true;
                    progress = true;
                }
                Output::Wait(_) | Output::Pending(_) | Output::Idle => {
                    if let Some(bytes) = (!to_client.is_empty()).then(|| to_client.remove(0)) {
                        client.handle_input(&bytes);
                        progress = true;
                    } else if server_done {
                        client.handle_eof();
                        progress = true;
                    }
                }
            }
        }
        if !server_done {
            match server.poll_output() {
                Output::Transmit(bytes) => {
                    to_client.extend(cut(&bytes));
                    progress = true;
                }
                Output::Event(ServerEvent::BodyChunk(chunk)) => {
                    body.extend_from_slice(&chunk);
                    progress = true;
                }
                Output::Event(event) => {
                    // A message ends at MessageEnd, or (LMTP) at the first of its Deliveries.
                    let first_delivery = matches!(event, ServerEvent::Delivery { .. })
                        && !run.server.last().is_some_and(|last| last.starts_with("Delivery"));
                    if matches!(event, ServerEvent::MessageEnd { .. }) || first_delivery {
                        run.bodies.push(std::mem::take(&mut body));
                    }
                    let ticket = match &event {
                        ServerEvent::Auth { ticket, .. } => Some(Held::Auth(ticket.clone(), decide(&event))),
                        _ => event.ticket().map(|ticket| Held::Plain(ticket, decide(&event))),
                    };
                    match (ticket, schedule) {
                        (Some(ticket), Schedule::Immediate) => {
                            answer(&mut server, ticket);
                        }
                        (Some(ticket), _) => held.push(ticket),
                        (None, _) => {}
                    }
                    run.server.push(format!("{event:?}"));
                    progress = true;
                }
                Output::StartTls => {
                    server_tls = true;
                    progress = true;
                }
                Output::Closed => {
                    server_done = true;
                    progress = true;
                }
                Output::Pending(pending) if pending.owed() > 0 => {
                    assert_eq!(pending.owed(), held.len(), "Pending counts the decisions held");
                    let read = match schedule {
                        Schedule::Random(_) => coin.below(2) == 0,
                        _ => true,
                    };
                    if read && !to_server.is_empty() {
                        server.handle_input(&to_server.remove(0));
                    } else if let Schedule::Random(_) = schedule {
                        answer(&mut server, held.remove(coin.below(held.len())));
                    } else {
                        while let Some(ticket) = held.pop() {
                            answer(&mut server, ticket);
                        }
                    }
                    progress = true;
                }
                Output::Idle => unreachable!("a server is never idle"),
                Output::Wait(_) | Output::Pending(_) => {
                    assert!(held.is_empty(), "the server waits for the client while decisions are owed");
                    if let Some(bytes) = (!to_server.is_empty()).then(|| to_server.remove(0)) {
                        server.handle_input(&bytes);
                        progress = true;
                    } else if client_done {
                        server.handle_eof();
                        progress = true;
                    }
                }
            }
        }
        // The handshake, simulated: both ends upgrade once both have asked.
        if client_tls && server_tls {
            (client_tls, server_tls) = (false, false);
            server.tls_established().expect("asked for");
            client.tls_established();
            progress = true;
        }
        assert!(progress || !to_server.is_empty() || !to_client.is_empty(), "both sides are stuck");
    }
    assert!(client_done && server_done, "the sessions did not finish");
    run
}

/// What a client and a server did against each other ([`exchange`]).
pub struct Exchange {
    pub client_sent: String,
    pub client_events: Vec<ClientEvent>,
    pub server_events: Vec<ServerEvent>,
}

/// Runs a client and a server against each other in memory until both are done; every
/// server decision is accepted at once. `tamper` may change what the server sends
/// before the client reads it.
pub fn exchange(client: &mut ClientSession, server: &mut ServerSession, tamper: &dyn Fn(&[u8]) -> Vec<u8>) -> Exchange {
    let mut done = Exchange { client_sent: String::new(), client_events: Vec::new(), server_events: Vec::new() };
    let (mut client_closed, mut server_closed) = (false, false);
    for _ in 0..1000 {
        let mut moved = false;
        while !server_closed {
            match server.poll_output() {
                Output::Transmit(bytes) => {
                    client.handle_input(&tamper(&bytes));
                    moved = true;
                }
                Output::Event(event) => {
                    if let Some(ticket) = event.ticket() {
                        server.accept(ticket).unwrap();
                    }
                    done.server_events.push(event);
                }
                Output::Closed => server_closed = true,
                _ => break,
            }
        }
        while !client_closed {
            match client.poll_output() {
                Output::Transmit(bytes) => {
                    done.client_sent.push_str(std::str::from_utf8(&bytes).unwrap());
                    server.handle_input(&bytes);
                    moved = true;
                }
                Output::Event(event) => {
                    if let ClientEvent::BodyWanted { .. } = event {
                        client.push_body(b"Subject: relayed\r\n\r\nhi\r\n").unwrap();
                        client.end_body().unwrap();
                    }
                    done.client_events.push(event);
                }
                Output::Closed => client_closed = true,
                _ => break,
            }
        }
        if client_closed && server_closed {
            return done;
        }
        if !moved {
            match (client_closed, server_closed) {
                (true, false) => server.handle_eof(),
                (false, true) => client.handle_eof(),
                _ => panic!("stuck: {:?}", done.client_sent),
            }
        }
    }
    panic!("did not end: {}", done.client_sent)
}
