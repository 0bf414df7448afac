//! Review findings on the server's decision contract and its RFC conformance.
//!
//! Each test asserts the CORRECT behaviour. Tests marked `FAILS (bug)` fail on the
//! reviewed revision because of the defect described above them; the others are
//! regression tests for edge cases that held up.

mod support;

use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession, Ticket, TicketKind};
use smtp_sansio::{DecisionError, Output, Reply, ReplyCode};
use support::server::{Schedule, Verdict, accept_all, check_transcript, config, run, run_scheduled};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// What one drain of the session gave: the bytes, the events, and how it stopped.
struct Drained {
    sent: String,
    events: Vec<ServerEvent>,
    stop: Output<ServerEvent>,
}

/// Polls until the session stops (`Wait`, `Pending` or `Closed`), deciding nothing.
fn drain(session: &mut ServerSession) -> Drained {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(event) => events.push(event),
            Output::StartTls => panic!("no STARTTLS expected here"),
            stop => return Drained { sent: String::from_utf8(sent).unwrap(), events, stop },
        }
    }
}

/// Drains, accepting every ticket at once, until the session stops.
fn drain_accepting(session: &mut ServerSession) -> Drained {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(event) => {
                if let Some(ticket) = event.ticket() {
                    session.accept(ticket).unwrap();
                }
                events.push(event);
            }
            Output::StartTls => panic!("no STARTTLS expected here"),
            stop => return Drained { sent: String::from_utf8(sent).unwrap(), events, stop },
        }
    }
}

/// Polls until what was transmitted ends with `end` (the driver is writing it), and
/// stops there, before the next poll.
fn until_sent(session: &mut ServerSession, end: &str) -> String {
    let mut sent = Vec::new();
    for _ in 0..1000 {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(event) => {
                if let Some(ticket) = event.ticket() {
                    session.accept(ticket).unwrap();
                }
            }
            other => panic!("stopped with {other:?} before {end:?}: {}", String::from_utf8_lossy(&sent)),
        }
        if sent.ends_with(end.as_bytes()) {
            break;
        }
    }
    String::from_utf8(sent).unwrap()
}

fn tickets(events: &[ServerEvent], kind: TicketKind) -> Vec<Ticket> {
    events.iter().filter_map(ServerEvent::ticket).filter(|t| t.kind() == kind).collect()
}

fn session(config: ServerConfig) -> ServerSession {
    ServerSession::new(&config.build().unwrap())
}

fn rcpt_to(event: &ServerEvent) -> Option<String> {
    match event {
        ServerEvent::Rcpt { command, .. } => Some(command.to().to_string()),
        _ => None,
    }
}

/// Rejects recipients whose address contains "nobody", accepts everything else.
fn reject_nobody(event: &ServerEvent) -> Verdict {
    match rcpt_to(event) {
        Some(to) if to.contains("nobody") => {
            Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.1.1 No such user"))
        }
        _ => Verdict::Accept,
    }
}

// ---------------------------------------------------------------------------------------
// F1. FAILS (bug): the recipient limit depends on when RCPT decisions are made.
//
// `rcpt()` refuses with 452 when `recipients + undecided >= max_recipients`. An
// undecided RCPT that the application will reject still counts against the limit, so
// whether a later RCPT gets 250 or 452 depends on whether the earlier rejection was
// decided before the later RCPT line was read. Contract: same bytes, same replies,
// whatever the schedule. RFC 5321 section 4.5.3.1.10 (the 452 is for recipients the
// server actually holds).
// ---------------------------------------------------------------------------------------
#[test]
fn f1_recipient_limit_does_not_depend_on_when_rejections_are_decided() {
    let mut config = config();
    config.max_recipients = 2;
    check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: HELO c.example
        S: 250 mx.example.org
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<nobody@example.org>
        C: RCPT TO:<r1@example.org>
        C: RCPT TO:<r2@example.org>
        C: RCPT TO:<r3@example.org>
        S: 550 5.1.1 No such user
        S: 250 2.1.5 Recipient OK
        S: 250 2.1.5 Recipient OK
        S: 452 4.5.3 Too many recipients
        C: QUIT
        S: 221 2.0.0 Bye",
        &reject_nobody,
    );
}

// ---------------------------------------------------------------------------------------
// F2. FAILS (bug): `close()` after the session already queued its closing reply adds a
// second one: `221 Bye` followed by `421`, or two `421`s.
//
// `close_reply` only refuses `Phase::Closed`; in `Phase::Closing` (after QUIT, too many
// errors, a 421 decision, or an earlier close()) it appends another reply. A reply after
// `221`/`421` answers no command (RFC 5321 sections 3.8 and 4.1.1.10: the 221/421 is the
// last thing sent). A server that shuts down calls close() on every session, including
// ones that just read QUIT.
// ---------------------------------------------------------------------------------------
#[test]
fn f2_close_after_quit_sends_nothing_after_221() {
    let mut s = session(config());
    s.handle_input(b"HELO c.example\r\nQUIT\r\n");
    let first = until_sent(&mut s, "221 2.0.0 Bye\r\n");
    assert!(first.ends_with("221 2.0.0 Bye\r\n"), "{first}");
    // The driver shuts the server down while it writes the 221, before it saw `Closed`.
    s.close();
    let rest = drain(&mut s);
    assert_eq!(rest.stop, Output::Closed);
    assert_eq!(rest.sent, "", "a reply after 221 answers no command");
}

#[test]
fn f2_close_twice_sends_one_421() {
    let mut s = session(config());
    s.handle_input(b"HELO c.example\r\n");
    let _ = drain(&mut s);
    s.close();
    s.close();
    let _ = s.close_with(Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "4.3.2 again"));
    let drained = drain(&mut s);
    assert_eq!(drained.sent.matches("421").count(), 1, "{}", drained.sent);
    assert_eq!(drained.stop, Output::Closed);
}

#[test]
fn f2_close_after_too_many_errors_sends_one_421() {
    let mut config = config();
    config.max_errors = 1;
    let mut s = session(config);
    s.handle_input(b"FOO\r\n");
    let first = until_sent(&mut s, "421 4.7.0 Too many errors, closing connection\r\n");
    assert!(first.ends_with("421 4.7.0 Too many errors, closing connection\r\n"), "{first}");
    s.close();
    let rest = drain(&mut s);
    assert_eq!(rest.sent, "", "a second 421 after the first");
}

// ---------------------------------------------------------------------------------------
// F3. FAILS (bug): unbounded memory. Behind an undecided RCPT the session keeps reading
// RCPT lines (Pending with wants_input = true) and queues every reply it makes itself
// (452 past the recipient limit, 555 for an unknown parameter, 553 for a UTF-8 address)
// in `held`, none of which count as errors. The input buffer stays small, so the flood
// check never fires: a client can grow `held`/`owed` without bound while the application
// looks up the first recipient. Crate invariant: "Every buffer the library keeps has a
// cap".
// ---------------------------------------------------------------------------------------
#[test]
fn f3_replies_held_behind_a_pending_rcpt_are_bounded() {
    let mut s = session(config());
    s.handle_input(b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\n");
    let mail = drain(&mut s);
    s.accept(tickets(&mail.events, TicketKind::Mail).remove(0)).unwrap();
    s.handle_input(b"RCPT TO:<slow@example.org>\r\n");
    let first = drain(&mut s);
    let slow = tickets(&first.events, TicketKind::Rcpt).remove(0);
    // A driver that follows the docs: it reads only while `wants_input()`.
    let line = b"RCPT TO:<x@example.org> XFOO=1\r\n";
    let read: Vec<u8> = line.iter().copied().cycle().take(line.len() * 512).collect();
    let mut fed = 0usize;
    let mut closed = false;
    while fed < 4 << 20 {
        match drain(&mut s).stop {
            Output::Pending(p) if p.wants_input() => {
                s.handle_input(&read);
                fed += read.len();
            }
            Output::Closed => {
                closed = true;
                break;
            }
            _ => break,
        }
    }
    // Either the session stopped asking for input or it closed; it must not have taken
    // 4 MiB of RCPT lines and held their replies.
    assert!(fed < 4 << 20 || closed, "took {fed} bytes of RCPT lines behind one undecided RCPT");
    let _ = s.accept(slow);
    let after = drain(&mut s);
    assert!(after.sent.len() < 1 << 20, "{} bytes of replies were held", after.sent.len());
}

// ---------------------------------------------------------------------------------------
// F4. FAILS (bug): schedule dependence with a large read. One read (within the limit the
// docs allow: "a read of any size") holding pipelined MAIL, RCPT and a BDAT chunk of
// more than 1 MiB (RFC 3030 section 4.2 allows BDAT in the same pipelined group) is
// accepted when decisions are made at once, but closes the session with `421 4.7.0
// Too much input while busy` when the MAIL decision comes later: the poll_output check
// `Step::Blocked if input.len() > MAX_HELD_INPUT + max_line` counts input that arrived
// while the session was not blocked (Wait) as a flood.
// ---------------------------------------------------------------------------------------
#[test]
fn f4_one_large_pipelined_read_gives_the_same_replies_whatever_the_schedule() {
    let chunk = vec![b'x'; (1 << 20) + 100_000];
    let mut client = b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n".to_vec();
    client.extend_from_slice(format!("BDAT {} LAST\r\n", chunk.len()).as_bytes());
    client.extend_from_slice(&chunk);
    client.extend_from_slice(b"QUIT\r\n");
    let at_once = run_scheduled(&config(), &[&client], b"", &accept_all, Schedule::Immediate);
    assert!(at_once.sent.contains("250 2.0.0 Message accepted\r\n221 2.0.0 Bye\r\n"), "{}", at_once.sent);
    for schedule in [Schedule::AfterAllInput, Schedule::AfterEof, Schedule::ReverseAtEnd] {
        let late = run_scheduled(&config(), &[&client], b"", &accept_all, schedule);
        assert_eq!(late.sent, at_once.sent, "{schedule:?}");
    }
}

/// The same with a driver that reads while `wants_input()` is true (as the docs
/// recommend): a large read arriving while only RCPT decisions are owed.
#[test]
fn f4_a_large_read_while_wants_input_is_not_a_flood() {
    let mut s = session(config());
    s.handle_input(b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\n");
    let mail = drain(&mut s);
    s.accept(tickets(&mail.events, TicketKind::Mail).remove(0)).unwrap();
    s.handle_input(b"RCPT TO:<b@example.org>\r\n");
    let first = drain(&mut s);
    let rcpt = tickets(&first.events, TicketKind::Rcpt).remove(0);
    match first.stop {
        Output::Pending(p) => assert!(p.wants_input(), "behind RCPT, input is wanted"),
        other => panic!("{other:?}"),
    }
    let chunk = vec![b'x'; (1 << 20) + 100_000];
    let mut read = format!("BDAT {} LAST\r\n", chunk.len()).into_bytes();
    read.extend_from_slice(&chunk);
    read.extend_from_slice(b"QUIT\r\n");
    s.handle_input(&read);
    let _ = s.accept(rcpt);
    let rest = drain_accepting(&mut s);
    assert!(!rest.sent.contains("421"), "{}", rest.sent);
    assert!(rest.sent.contains("250 2.0.0 Message accepted\r\n221 2.0.0 Bye\r\n"), "{}", rest.sent);
}

// ---------------------------------------------------------------------------------------
// F5. FAILS (bug): a BDAT refused with 530 (require_starttls, RFC 3207 section 4) or with
// 503 on a connection refused at the greeting (RFC 5321 section 3.1) does not skip its
// chunk: the chunk's octets are then read as commands (here the chunk is "NOOP\r\n",
// answered 250). Every other BDAT refusal (not offered, no MAIL, no recipients...)
// reads and drops the chunk, as RFC 3030 section 2 requires ("the receiver-SMTP must
// accept and discard ... the chunk"). A desynchronised command stream; with a chunk
// holding `STARTTLS` the handshake would start on message content.
// ---------------------------------------------------------------------------------------
#[test]
fn f5_bdat_refused_for_want_of_tls_still_skips_its_chunk() {
    let mut config = config();
    config.starttls = true;
    config.require_starttls = true;
    check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: BDAT 6 LAST
        C: NOOP
        S: 530 5.7.0 Must issue a STARTTLS command first
        C: QUIT
        S: 221 2.0.0 Bye",
        &accept_all,
    );
}

#[test]
fn f5_bdat_on_a_refused_connection_still_skips_its_chunk() {
    let server = config().build().unwrap();
    let mut s = ServerSession::refusing(&server, Reply::new(ReplyCode::TRANSACTION_FAILED, "No service")).unwrap();
    s.handle_input(b"BDAT 6 LAST\r\nQUIT\r\nNOOP\r\nQUIT\r\n");
    let drained = drain(&mut s);
    assert_eq!(
        drained.sent,
        "554 No service\r\n503 5.5.1 No SMTP service here, send QUIT\r\n503 5.5.1 No SMTP service here, send QUIT\r\n221 2.0.0 Bye\r\n",
        "the chunk \"QUIT\\r\\n\" is message data, not a command"
    );
}

// ---------------------------------------------------------------------------------------
// F6. FAILS (bug, lost reply): a refused BDAT that reaches max_errors loses its own
// reply. `bdat()` counts the error at once but only writes the refusal when the chunk
// has been read; `count_error` meanwhile stops reading, so the chunk is never read and
// the 503 is never written. Every other failing command gets its reply and then the 421
// (`error()` writes first, then counts).
// ---------------------------------------------------------------------------------------
#[test]
fn f6_a_refused_bdat_that_reaches_the_error_limit_is_answered_before_421() {
    let mut config = config();
    config.max_errors = 2;
    check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: FOO
        S: 500 5.5.2 command unrecognized
        C: BDAT 3 LAST
        C:x
        S: 503 5.5.1 Send EHLO or HELO first
        S: 421 4.7.0 Too many errors, closing connection",
        &accept_all,
    );
}
