//! Driving a `ServerSession` in tests: the driver loop over any chunking and any
//! decision schedule, with the application's decisions made by a closure.
//!
//! [`run`] is the schedule explorer: every conversation runs under every
//! [`Schedule`] and every chunking, and all of them must give the same replies (as
//! bytes on the wire), the same events and the same end.

use smtp_sansio::server::{AuthTicket, ServerConfig, ServerEvent, ServerSession, SyncChecks, Ticket};
use smtp_sansio::{Output, Reply};

use super::{XorShift, split_invariant};

/// The application's answer to one event with a ticket.
#[derive(Clone)]
pub enum Verdict {
    Accept,
    AcceptWith(Reply),
    Reject(Reply),
}

/// When the application's decisions are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// As soon as the event is seen: what a synchronous application does.
    Immediate,
    /// Each waits until one more read has been handed to the session (when there is
    /// one), then every decision held is made in order.
    AfterNextRead,
    /// Held until every read has been handed over, then made in order.
    AfterAllInput,
    /// Held until every read and the end of input have been handed over, then made
    /// in order.
    AfterEof,
    /// Held until every read has been handed over, then made last first.
    ReverseAtEnd,
    /// At each step, a seeded coin says whether to read or to make one decision, and
    /// which.
    Random(u64),
    /// At each step a [`Chooser`] says: read on (or end the input), or make the n-th
    /// held decision. [`explore_every_schedule`] walks every such choice.
    Scripted,
}

/// The choices of a [`Schedule::Scripted`] run: those to make (`prefix`, then the first
/// option each time), and those made with how many options there were.
#[derive(Debug, Default)]
pub struct Chooser {
    pub prefix: Vec<usize>,
    pub taken: Vec<(usize, usize)>,
}

impl Chooser {
    fn choose(&mut self, options: usize) -> usize {
        let choice = self.prefix.get(self.taken.len()).copied().unwrap_or(0).min(options - 1);
        self.taken.push((choice, options));
        choice
    }

    /// The next schedule in depth-first order, or `None` when every one was run.
    fn next(&self) -> Option<Vec<usize>> {
        let mut choices: Vec<usize> = self.taken.iter().map(|(choice, _)| *choice).collect();
        while let Some((choice, options)) = self.taken.get(choices.len().wrapping_sub(1)).copied() {
            choices.pop();
            if choice + 1 < options {
                choices.push(choice + 1);
                return Some(choices);
            }
        }
        None
    }
}

/// Runs `pieces` under every decision schedule there is: at every point where the
/// session waits for the application, each held decision may be made next, or the next
/// read (or the end of input) may come first. Every run must equal `expected`. Returns
/// how many schedules were run; fails past `limit`.
pub fn explore_every_schedule(
    config: &ServerConfig,
    pieces: &[&[u8]],
    decide: &dyn Fn(&ServerEvent) -> Verdict,
    expected: &Run,
    limit: usize,
) -> usize {
    let mut prefix = Vec::new();
    for explored in 1..=limit {
        let mut chooser = Chooser { prefix, taken: Vec::new() };
        let run = drive(config, pieces, b"", decide, Schedule::Scripted, Some(&mut chooser));
        assert_eq!(&run, expected, "the schedule {:?} gave a different result", chooser.taken);
        match chooser.next() {
            Some(next) => prefix = next,
            None => return explored,
        }
    }
    panic!("more than {limit} schedules");
}

/// Every schedule [`run`] explores.
pub const SCHEDULES: [Schedule; 8] = [
    Schedule::Immediate,
    Schedule::AfterNextRead,
    Schedule::AfterAllInput,
    Schedule::AfterEof,
    Schedule::ReverseAtEnd,
    Schedule::Random(1),
    Schedule::Random(2),
    Schedule::Random(3),
];

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

/// A ticket the application holds, with what it will answer.
pub enum Held {
    Plain(Ticket, Verdict),
    Auth(AuthTicket, Verdict),
}

/// Makes a held decision. Returns `false` when the session had dropped it (a forced
/// close or a `421` decision came first).
pub fn answer(session: &mut ServerSession, held: Held) -> bool {
    let result = match held {
        Held::Plain(ticket, Verdict::Accept) => session.accept(ticket),
        Held::Plain(ticket, Verdict::AcceptWith(reply)) => session.accept_with(ticket, reply),
        Held::Plain(ticket, Verdict::Reject(reply)) => session.reject(ticket, reply),
        Held::Auth(ticket, Verdict::Accept | Verdict::AcceptWith(_)) => session.accept_auth(ticket),
        Held::Auth(ticket, Verdict::Reject(reply)) => session.reject_auth(ticket, reply),
    };
    match result {
        // A forced close (a 421 decision, too many errors) drops the decisions after it.
        Err(smtp_sansio::DecisionError::Closed) => false,
        result => {
            result.expect("decision refused");
            true
        }
    }
}

/// An event as text (a ticket's `Debug` leaves its session's number out).
pub fn describe(event: &ServerEvent) -> String {
    format!("{event:?}")
}

/// The EHLO reply of [`config`], as transcript lines.
pub const EHLO_REPLY: &str = "S: 250-mx.example.org
S: 250-PIPELINING
S: 250-SIZE 10240000
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-CHUNKING
S: 250-ENHANCEDSTATUSCODES
S: 250 HELP";

/// Runs `config`'s session over `pieces`, then end of input. Every event with a ticket
/// is decided at once by `decide`.
pub fn run_pieces(config: &ServerConfig, pieces: &[&[u8]], decide: &dyn Fn(&ServerEvent) -> Verdict) -> Run {
    run_scheduled(config, pieces, b"", decide, Schedule::Immediate)
}

/// The same, with a STARTTLS handshake: when the session asks for it, the rest of
/// `pieces` arrives first (plaintext a client sent after `STARTTLS`, as in an
/// injection attack), then the handshake completes and `after_tls` arrives whole.
/// Decisions are made on `schedule`.
pub fn run_scheduled(
    config: &ServerConfig,
    pieces: &[&[u8]],
    after_tls: &[u8],
    decide: &dyn Fn(&ServerEvent) -> Verdict,
    schedule: Schedule,
) -> Run {
    drive(config, pieces, after_tls, decide, schedule, None)
}

fn drive(
    config: &ServerConfig,
    pieces: &[&[u8]],
    after_tls: &[u8],
    decide: &dyn Fn(&ServerEvent) -> Verdict,
    schedule: Schedule,
    mut chooser: Option<&mut Chooser>,
) -> Run {
    let server = config.clone().build().expect("a valid configuration");
    let mut session = ServerSession::new(&server);
    let mut pieces = pieces.iter();
    let mut after_tls = Some(after_tls);
    let mut run = Run { sent: String::new(), events: Vec::new(), closed: false };
    let mut sent = Vec::new();
    // Each held decision with the index of its event in `run.events`.
    let mut held: Vec<(Held, usize)> = Vec::new();
    // Events whose decision the session dropped: commands read ahead of a `421` decision
    // or a forced close. How many were read ahead depends on timing, so they are left
    // out of the comparison; their tickets answer `DecisionError::Closed`.
    let mut dropped = Vec::new();
    // Likewise the commands after one answered `421`, which closes the session.
    // (`closing` holds the events answered `421`; once one is answered, the session may
    // owe fewer decisions than the application holds.)
    let (mut ticketed, mut closing, mut answered_421) = (Vec::new(), Vec::new(), false);
    let mut reads_since_event = 0;
    let mut eof = false;
    let mut rng = XorShift::new(match schedule {
        Schedule::Random(seed) => seed,
        _ => 0,
    });
    // Bounded: each round consumes a piece, makes a decision, or makes progress the
    // session promises is finite.
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
                run.events.push(Seen::Event(describe(&event)));
                let ticket = match (&event, event.ticket()) {
                    (_, Some(ticket)) => Some(Held::Plain(ticket, decide(&event))),
                    (ServerEvent::Auth { ticket, .. }, None) => Some(Held::Auth(ticket.clone(), decide(&event))),
                    _ => None,
                };
                if let Some(ticket) = ticket {
                    reads_since_event = 0;
                    let index = run.events.len() - 1;
                    ticketed.push(index);
                    let closes = matches!(&ticket, Held::Plain(_, Verdict::Reject(reply)) | Held::Auth(_, Verdict::Reject(reply))
                        if reply.code().get() == 421);
                    if closes {
                        closing.push(index);
                    }
                    match schedule {
                        Schedule::Immediate => {
                            if !answer(&mut session, ticket) {
                                dropped.push(index);
                            }
                        }
                        _ => held.push((ticket, index)),
                    }
                }
            }
            Output::StartTls => {
                run.events.push(Seen::StartTls);
                for piece in pieces.by_ref() {
                    session.handle_input(piece);
                }
                session.tls_established().expect("a handshake was asked for");
                pieces = [].iter();
                if let Some(bytes) = after_tls.take() {
                    session.handle_input(bytes);
                }
            }
            Output::Wait(_) => {
                assert!(held.is_empty(), "Wait while {} decisions are owed ({schedule:?})", held.len());
                match pieces.next() {
                    Some(piece) => session.handle_input(piece),
                    None => {
                        assert!(!eof, "Wait after end of input");
                        eof = true;
                        session.handle_eof();
                    }
                }
            }
            Output::Idle => panic!("a server is never idle"),
            Output::Pending(pending) => {
                // A `421` decision drops the ones after it: the application may hold more.
                match answered_421 {
                    false => assert_eq!(pending.owed(), held.len(), "Pending counts what is held ({schedule:?})"),
                    true => assert!(pending.owed() <= held.len(), "Pending counts more than is held ({schedule:?})"),
                }
                assert!(!held.is_empty(), "Pending with nothing owed ({schedule:?})");
                // Reading is always allowed; a held command's input waits in the session.
                let bounded = pending.wants_input() || session.buffered_input() < 64 * 1024;
                let can_read = pieces.len() > 0 && bounded;
                // The input may end early, while decisions are owed; not before the
                // bytes that follow a TLS handshake still to come.
                let may_end = !eof && after_tls.is_none_or(<[u8]>::is_empty);
                let scripted = match &mut chooser {
                    // Reading on (or ending the input) is option 0 while there is any.
                    Some(chooser) => {
                        let reads = usize::from(pieces.len() > 0 || may_end);
                        Some(chooser.choose(reads + held.len()).checked_sub(reads))
                    }
                    None => None,
                };
                let read = match schedule {
                    Schedule::Scripted => scripted == Some(None),
                    Schedule::Immediate => false,
                    Schedule::AfterNextRead => can_read && reads_since_event == 0,
                    Schedule::AfterAllInput | Schedule::ReverseAtEnd => can_read,
                    Schedule::AfterEof => can_read || (may_end && pieces.len() == 0),
                    Schedule::Random(_) => can_read && rng.below(2) == 0,
                };
                if read {
                    reads_since_event += 1;
                    match pieces.next() {
                        Some(piece) => session.handle_input(piece),
                        None => {
                            eof = true;
                            session.handle_eof();
                        }
                    }
                    continue;
                }
                let chosen: Vec<(Held, usize)> = match schedule {
                    Schedule::Scripted => vec![held.remove(scripted.flatten().unwrap_or(0))],
                    Schedule::ReverseAtEnd => held.drain(..).rev().collect(),
                    Schedule::Random(_) => vec![held.remove(rng.below(held.len()))],
                    _ => std::mem::take(&mut held),
                };
                for (ticket, index) in chosen {
                    answered_421 |= closing.contains(&index);
                    if !answer(&mut session, ticket) {
                        dropped.push(index);
                    }
                }
            }
            Output::Closed => {
                run.closed = true;
                break;
            }
        }
    }
    assert!(run.closed, "the session did not close within the bound ({schedule:?})");
    let mut index = 0;
    run.events.retain(|_| {
        index += 1;
        let after_421 = closing.first().is_some_and(|at| index - 1 > *at) && ticketed.contains(&(index - 1));
        !dropped.contains(&(index - 1)) && !after_421
    });
    run.sent = String::from_utf8_lossy(&sent).into_owned();
    run
}

/// Runs the conversation under every schedule and in every chunking (whole, byte by
/// byte, random splits), checks they all agree, and returns the result.
pub fn run(config: &ServerConfig, client: &[u8], decide: &dyn Fn(&ServerEvent) -> Verdict) -> Run {
    run_tls(config, client, b"", decide)
}

/// [`run`] with a STARTTLS handshake (see [`run_scheduled`]).
pub fn run_tls(
    config: &ServerConfig,
    client: &[u8],
    after_tls: &[u8],
    decide: &dyn Fn(&ServerEvent) -> Verdict,
) -> Run {
    let expected =
        split_invariant(client, |pieces| run_scheduled(config, pieces, after_tls, decide, Schedule::Immediate));
    for schedule in &SCHEDULES[1..] {
        let got = split_invariant(client, |pieces| run_scheduled(config, pieces, after_tls, decide, *schedule));
        assert_eq!(got, expected, "schedule {schedule:?} gave a different result than deciding at once");
    }
    expected
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

/// The default configuration of the tests: `mx.example.org`, without the
/// synchronisation checks. The transcripts are whole conversations that the explorer
/// feeds cut every which way, not a client that waits for its replies; the checks
/// depend on how input is cut by design (`SyncChecks`), and `tests/server_sync.rs`
/// covers them.
pub fn config() -> ServerConfig {
    let mut config = ServerConfig::new("mx.example.org");
    config.sync_checks = SyncChecks::NONE;
    config
}
