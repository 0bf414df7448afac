//! A scripted server for client tests: each block of server bytes is handed over when
//! the client waits, cut as the caller says; the application pushes each body in
//! pieces. [`converse`] runs a conversation in every cutting and checks they agree.

use std::collections::VecDeque;

use smtp_sansio::client::{
    ClientConfig, ClientCredentials, ClientError, ClientEvent, ClientSession, CloseReason, Envelope, Failure,
    MessageId, TlsPolicy,
};
use smtp_sansio::sasl::encode_base64;
use smtp_sansio::wire::{Capabilities, ForwardPath, ReversePath};
use smtp_sansio::{Output, Reply};

use super::XorShift;
use super::client::run_client_all_ways;

/// In a script, stands for the server going quiet: the driver calls `handle_timeout`.
pub const TIMEOUT: &[u8] = b"\0timeout\0";

/// What the client did in one conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The messages, in the order they were sent.
    pub ids: Vec<MessageId>,
    /// What the client wrote before each block of the script was handed over:
    /// `turns[0]` before the first block, `turns[i]` between block `i - 1` and block
    /// `i`, the last one after the last block (then the driver says EOF).
    pub turns: Vec<String>,
    /// Every event, in order.
    pub events: Vec<ClientEvent>,
    /// What `push_body` and `end_body` refused.
    pub body_errors: Vec<ClientError>,
    /// Whether the session said `Closed` (otherwise it was left idle).
    pub closed: bool,
}

impl Run {
    pub fn sent(&self) -> String {
        self.turns.concat()
    }

    /// The outcome of message `index`: `Accepted` or `Failed` (exactly one).
    pub fn outcome(&self, index: usize) -> &ClientEvent {
        let id = self.ids[index];
        let outcomes: Vec<&ClientEvent> = self
            .events
            .iter()
            .filter(|event| match event {
                ClientEvent::Accepted { message, .. } | ClientEvent::Failed { message, .. } => *message == id,
                _ => false,
            })
            .collect();
        assert_eq!(outcomes.len(), 1, "message {index} must have exactly one outcome: {:#?}", self.events);
        outcomes[0]
    }

    pub fn failure(&self, index: usize) -> &Failure {
        match self.outcome(index) {
            ClientEvent::Failed { failure, .. } => failure,
            other => panic!("message {index} was not failed: {other:?}"),
        }
    }

    pub fn accepted(&self, index: usize) -> &Reply {
        match self.outcome(index) {
            ClientEvent::Accepted { reply, .. } => reply,
            other => panic!("message {index} was not accepted: {other:?}"),
        }
    }

    /// Why the session closed (exactly one `Closed`, the last event).
    pub fn close_reason(&self) -> &CloseReason {
        let closed: Vec<&CloseReason> = self
            .events
            .iter()
            .filter_map(|event| match event {
                ClientEvent::Closed { reason } => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(closed.len(), 1, "one Closed event: {:#?}", self.events);
        assert!(
            matches!(self.events.last(), Some(ClientEvent::Closed { .. })),
            "Closed comes last: {:#?}",
            self.events
        );
        closed[0]
    }

    /// Each recipient's reply code for message `index`, by envelope index.
    pub fn recipients(&self, index: usize) -> Vec<(usize, u16)> {
        let id = self.ids[index];
        self.events
            .iter()
            .filter_map(|event| match event {
                ClientEvent::Recipient { message, index, reply } if *message == id => {
                    Some((*index, reply.code().get()))
                }
                _ => None,
            })
            .collect()
    }

    /// LMTP: each recipient's delivery reply code for message `index`.
    pub fn deliveries(&self, index: usize) -> Vec<(usize, u16)> {
        let id = self.ids[index];
        self.events
            .iter()
            .filter_map(|event| match event {
                ClientEvent::Delivery { message, index, reply } if *message == id => Some((*index, reply.code().get())),
                _ => None,
            })
            .collect()
    }

    /// The capabilities of the last `Ready`, and whether it was over TLS and authenticated.
    pub fn ready(&self) -> (&Capabilities, bool, bool) {
        self.events
            .iter()
            .rev()
            .find_map(|event| match event {
                ClientEvent::Ready { capabilities, tls, authenticated } => Some((capabilities, *tls, *authenticated)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no Ready event: {:#?}", self.events))
    }
}

/// Runs one conversation, each server block cut by `cut`.
pub fn drive(
    config: &ClientConfig,
    messages: &[(Envelope, &[u8])],
    script: &[&[u8]],
    body_piece: usize,
    quit: bool,
    cut: &mut dyn FnMut(&[u8]) -> Vec<Vec<u8>>,
) -> Run {
    drive_set_up(config, &|_| {}, messages, script, body_piece, quit, cut)
}

/// [`drive`] with `setup` applied to the session before anything runs (`xclient`).
pub fn drive_set_up(
    config: &ClientConfig,
    setup: &dyn Fn(&mut ClientSession),
    messages: &[(Envelope, &[u8])],
    script: &[&[u8]],
    body_piece: usize,
    quit: bool,
    cut: &mut dyn FnMut(&[u8]) -> Vec<Vec<u8>>,
) -> Run {
    let client = config.clone().build().expect("a valid configuration");
    let mut session = ClientSession::new(&client);
    setup(&mut session);
    let ids = messages.iter().map(|(envelope, _)| session.send(envelope.clone())).collect();
    if quit {
        session.quit();
    }
    let mut run = Run { ids, turns: vec![String::new()], events: Vec::new(), body_errors: Vec::new(), closed: false };
    let mut blocks = script.iter();
    let mut pending: VecDeque<Vec<u8>> = VecDeque::new();
    for _ in 0..1_000_000 {
        match session.poll_output() {
            Output::Transmit(bytes) => run.turns.last_mut().expect("a turn").push_str(&String::from_utf8_lossy(&bytes)),
            Output::Event(event) => {
                let wanted = match &event {
                    ClientEvent::BodyWanted { message } => Some(*message),
                    _ => None,
                };
                run.events.push(event);
                if let Some(message) = wanted {
                    let index = run.ids.iter().position(|id| *id == message).expect("one of our messages");
                    for piece in messages[index].1.chunks(body_piece.max(1)) {
                        if let Err(error) = session.push_body(piece) {
                            run.body_errors.push(error);
                        }
                    }
                    if let Err(error) = session.end_body() {
                        run.body_errors.push(error);
                    }
                }
            }
            Output::StartTls => session.tls_established(),
            Output::Closed => {
                run.closed = true;
                return run;
            }
            waiting => {
                if let Some(piece) = pending.pop_front() {
                    session.handle_input(&piece);
                    continue;
                }
                match blocks.next() {
                    Some(&block) => {
                        run.turns.push(String::new());
                        match block == TIMEOUT {
                            true => session.handle_timeout(),
                            false => pending = cut(block).into(),
                        }
                    }
                    None if waiting == Output::Idle => return run,
                    None => session.handle_eof(),
                }
            }
        }
    }
    panic!("the client did not finish");
}

/// Runs a conversation with every block whole, byte by byte, in pieces of 2, 3 and 7
/// and split at random; all must agree. Bodies are pushed in pieces of `body_piece`.
pub fn converse_with(
    config: &ClientConfig,
    messages: &[(Envelope, &[u8])],
    script: &[&[u8]],
    body_piece: usize,
    quit: bool,
) -> Run {
    let whole = drive(config, messages, script, body_piece, quit, &mut |block| vec![block.to_vec()]);
    for piece in [1, 2, 3, 7] {
        let run = drive(config, messages, script, body_piece, quit, &mut |block| {
            block.chunks(piece).map(<[u8]>::to_vec).collect()
        });
        assert_eq!(run, whole, "fed in pieces of {piece}, the client did otherwise than fed whole blocks");
    }
    for seed in 1..=8 {
        let mut rng = XorShift::new(seed);
        let run = drive(config, messages, script, body_piece, quit, &mut |block| {
            let mut pieces = Vec::new();
            let mut rest = block;
            while !rest.is_empty() {
                let take = 1 + rng.below(rest.len().min(16));
                pieces.push(rest[..take].to_vec());
                rest = &rest[take..];
            }
            pieces
        });
        assert_eq!(run, whole, "split at random (seed {seed}), the client did otherwise than fed whole blocks");
    }
    // The shared driver of tests/support agrees where it applies.
    if quit && body_piece == usize::MAX && !script.contains(&TIMEOUT) {
        let shared = run_client_all_ways(config, messages, script);
        assert_eq!(shared.sent, whole.sent());
        assert_eq!(shared.events, whole.events.iter().map(|event| format!("{event:?}")).collect::<Vec<_>>());
    }
    whole
}

/// [`converse_with`] with each body pushed whole and `QUIT` asked for at once.
pub fn converse(config: &ClientConfig, messages: &[(Envelope, &[u8])], script: &[&[u8]]) -> Run {
    converse_with(config, messages, script, usize::MAX, true)
}

/// An envelope from `from` to `to`.
pub fn envelope(from: &str, to: &[&str]) -> Envelope {
    let from = ReversePath::parse(from).unwrap().into_owned();
    Envelope::new(from, to.iter().map(|to| ForwardPath::parse(to).unwrap().into_owned()))
}

/// The client of the tests.
pub fn config() -> ClientConfig {
    ClientConfig::new("client.example.net")
}

/// Gives `config` a password.
pub fn password(config: &mut ClientConfig) {
    config.credentials =
        Some(ClientCredentials::Password { username: "alice@example.net".into(), password: "correct horse".into() });
}

/// `text` in base64.
pub fn b64(text: &str) -> String {
    encode_base64(text.as_bytes())
}

/// A small message.
pub const BODY: &[u8] = b"From: alice@example.net\r\nSubject: hello\r\n\r\nHi Bob.\r\n";

/// A greeting.
pub const GREETING: &[u8] = b"220 mx.example.org ESMTP\r\n";
pub const BYE: &[u8] = b"221 2.0.0 Bye\r\n";

/// An EHLO reply listing `keywords`.
pub fn ehlo(keywords: &[&str]) -> Vec<u8> {
    let mut lines = vec!["mx.example.org".to_string()];
    lines.extend(keywords.iter().map(|keyword| keyword.to_string()));
    let last = lines.len() - 1;
    lines
        .iter()
        .enumerate()
        .map(|(index, line)| format!("250{}{line}\r\n", if index == last { ' ' } else { '-' }))
        .collect::<String>()
        .into_bytes()
}

/// A configuration without STARTTLS, for servers that do not offer it.
pub fn plain() -> ClientConfig {
    let mut config = config();
    config.starttls = TlsPolicy::Off;
    config
}
