//! Second review of the server's decision contract: attacks on the fixes of 409b832 and
//! 3a2c382 (the input flood rule, the bounded reply queue, the recipient limit beside
//! undecided RCPTs, refused BDAT/DATA, close while closing or during STARTTLS, input
//! after EOF).
//!
//! Each test asserts the correct behaviour. The `g*` tests failed on the reviewed
//! revision (5c47281) and pass since the fixes after it; the `h_*` tests are attacks
//! that held up.

mod support;

use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession, Ticket, TicketKind};
use smtp_sansio::{DecisionError, Output, Reply, ReplyCode};
use support::manual::{drain, drain_accepting, session, ticket, tickets};
use support::server::{Verdict, check_transcript, config, run};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Polls, accepting nothing, at most `limit` times, and says whether the session ever
/// said `Closed` (a driver that waits for it).
fn reaches_closed(session: &mut ServerSession, limit: usize) -> (bool, String, Option<Output<ServerEvent>>) {
    let mut sent = Vec::new();
    let mut last = None;
    for _ in 0..limit {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Closed => return (true, String::from_utf8(sent).unwrap(), None),
            Output::Event(_) => {}
            other => {
                last = Some(other);
            }
        }
    }
    (false, String::from_utf8(sent).unwrap(), last)
}

fn rcpt_ticket_for(events: &[ServerEvent], needle: &str) -> Ticket {
    events
        .iter()
        .find_map(|event| match event {
            ServerEvent::Rcpt { ticket, command } if command.to().to_string().contains(needle) => Some(ticket.clone()),
            _ => None,
        })
        .expect("a RCPT event for that address")
}

/// A session with EHLO done and MAIL accepted.
fn in_transaction(config: ServerConfig) -> ServerSession {
    let mut s = session(config);
    s.handle_input(b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\n");
    let _ = drain_accepting(&mut s);
    s
}

// ---------------------------------------------------------------------------------------
// G1. close() cannot end a session that is closing while a decision is still owed.
//
// The contract says "A forgotten ticket holds the connection ... Answer every ticket, or
// close the session", and that a forced close drops the decisions not yet made. But
// since 3a2c382 `close_reply` returns `DecisionError::Closed` and does nothing at all
// when the phase is `Closing`, and a session can be `Closing` while it still waits for
// a decision: a `421` rejection of a later RCPT keeps the undecided RCPTs before it
// (`close_after(kept)`), and the error limit reached on lines read behind undecided
// RCPTs queues its `421` behind them (`count_error` -> `stop_with`). `handle_timeout` is
// ignored too (a decision is owed). An application that lost the first ticket and
// calls close() to give up gets `Pending` for ever: the connection is held open with no
// timeout and no way out but dropping the session.
//
// Fix: in `close_reply`, when the phase is `Closing` and decisions are still owed,
// drop them (`drop_undecided`, keeping the replies ready before the first) and let the
// session finish (it need not add its own 421: one is queued or already decided); only
// return `Closed` when nothing is owed any more.
// ---------------------------------------------------------------------------------------
#[test]
fn g1_close_ends_a_session_closing_behind_a_forgotten_rcpt_after_a_421() {
    let mut s = in_transaction(config());
    s.handle_input(b"RCPT TO:<lost@example.org>\r\nRCPT TO:<b@example.org>\r\n");
    let d = drain(&mut s);
    let _lost = rcpt_ticket_for(&d.events, "lost");
    let b = rcpt_ticket_for(&d.events, "b@");
    s.reject(b, Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "4.3.2 Going down")).unwrap();
    // The application forgot `lost` and gives up on the session.
    s.close();
    s.handle_timeout();
    let (closed, sent, last) = reaches_closed(&mut s, 100);
    assert!(closed, "close() left the session waiting: {last:?}, sent {sent:?}");
    assert!(!sent.contains("250"), "nothing was accepted: {sent:?}");
}

#[test]
fn g1_close_ends_a_session_closing_for_too_many_errors_behind_a_forgotten_rcpt() {
    let mut config = config();
    config.max_errors = 2;
    let mut s = in_transaction(config);
    // Two broken RCPT lines, read behind the undecided one: the error limit is reached
    // and `421 Too many errors` waits behind the first RCPT's reply.
    s.handle_input(b"RCPT TO:<lost@example.org>\r\nRCPT TO:\r\nRCPT TO:\r\n");
    let d = drain(&mut s);
    let _lost = ticket(&d.events, TicketKind::Rcpt);
    assert!(matches!(d.stop, Output::Pending(_)), "{:?}", d.stop);
    let result = s.close_with(Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "Shutting down"));
    s.handle_timeout();
    let (closed, sent, last) = reaches_closed(&mut s, 100);
    assert!(closed, "close_with gave {result:?} and left the session waiting: {last:?}, sent {sent:?}");
}

// ---------------------------------------------------------------------------------------
// G2. The flood rule counts input taken before the session said it could not use any.
//
// The fix documents: "Reads handed over while the session waits for the peer are taken
// whatever their size ... After it said it cannot use input, what is handed over only
// waits, and more than about 1 MiB *of it* closes the session", and `buffered_input`
// says "never more than that read plus 1 MiB behind a decision". But `accepts_input`
// tests `told_no_input && input.len() + len > cap`: `input.len()` includes the large
// read taken at `Wait`. So one more byte after `Pending { wants_input: false }` closes
// the session with 421 when that earlier read was over 1 MiB. The same bytes (a
// pipelined MAIL, RCPT, BDAT of 1.5 MB, RFC 3030 section 4.2 / RFC 2920) split as
// [all but the last 100 bytes, the last 100] are accepted when MAIL is decided at once
// and refused with `421 4.7.0` when it is decided a moment later: chunking and schedule
// dependence, and a legitimate CHUNKING client cut off.
//
// Fix: remember how much input was held when the session said `Pending` without
// wanting input (`told_no_input: Option<usize>` holding `input.len()` then) and count
// only what is handed over beyond it: `input.len() + len > held_then + cap`.
// ---------------------------------------------------------------------------------------
fn pipelined_bdat(len: usize) -> Vec<u8> {
    let mut client = b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n".to_vec();
    client.extend_from_slice(format!("BDAT {len} LAST\r\n").as_bytes());
    client.extend(std::iter::repeat_n(b'x', len));
    client.extend_from_slice(b"QUIT\r\n");
    client
}

/// Hands `first` over at `Wait`, then `second` at the first `Pending` (reading is
/// allowed then: "to notice the peer closing"), deciding nothing until both are in
/// when `late`, everything at once otherwise. Returns what was sent.
fn two_reads(first: &[u8], second: &[u8], late: bool) -> String {
    let mut s = session(config());
    let mut sent = Vec::new();
    let mut held = Vec::new();
    let mut reads = [first, second].into_iter();
    for _ in 0..10_000 {
        match s.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(event) => {
                if let Some(ticket) = event.ticket() {
                    match late {
                        true => held.push(ticket),
                        false => s.accept(ticket).unwrap(),
                    }
                }
            }
            Output::Wait(_) => match reads.next() {
                Some(read) => s.handle_input(read),
                None => s.handle_eof(),
            },
            Output::Pending(_) => match reads.next() {
                Some(read) => s.handle_input(read),
                None => {
                    for ticket in held.drain(..) {
                        let _ = s.accept(ticket);
                    }
                }
            },
            Output::Closed => return String::from_utf8(sent).unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("did not close: {}", String::from_utf8_lossy(&sent));
}

#[test]
fn g2_input_taken_at_wait_does_not_count_against_the_flood_cap() {
    let client = pipelined_bdat(1_500_000);
    let (first, second) = client.split_at(client.len() - 100);
    let at_once = two_reads(first, second, false);
    assert!(at_once.ends_with("250 2.0.0 Message accepted\r\n221 2.0.0 Bye\r\n"), "{at_once}");
    let late = two_reads(first, second, true);
    assert_eq!(late, at_once, "100 bytes handed over after Pending closed the session as a flood");
}

// ---------------------------------------------------------------------------------------
// G3. close() after STARTTLS was read but before its 220 was handed out sends the 220.
//
// `close_reply` treats `Phase::StartTls` like the handshake itself ("the peer speaks
// TLS now") and goes straight to `Closed` without a reply. But in `StartTls` the 220 is
// still in `out`, unsent: `poll_output` then transmits `220 2.0.0 Ready to start TLS`
// and closes. The client is told to start TLS on a connection that is being closed,
// instead of being told `421` (RFC 5321 section 3.8) while it still reads plaintext.
// Reachable whenever an event comes before the 220 (STARTTLS inside a transaction gives
// `TransactionAborted(StartTls)` first) and the application closes on it, or between
// two polls. `handle_timeout` cannot be reached there (no `Wait`).
//
// Fix: in `close_reply`, `Phase::StartTls` with the 220 still queued is an ordinary
// session: drop the queued 220 (it is the last thing in `out`) and send the 421; only
// `Phase::Handshake` (the 220 handed out) closes without a reply.
// ---------------------------------------------------------------------------------------
#[test]
fn g3_close_before_the_220_to_starttls_is_sent_says_421_not_220() {
    let mut config = config();
    config.starttls = true;
    let mut s = in_transaction(config);
    s.handle_input(b"STARTTLS\r\n");
    // STARTTLS ends the transaction: the application hears of it before anything is sent.
    match s.poll_output() {
        Output::Event(ServerEvent::TransactionAborted(_)) => {}
        other => panic!("{other:?}"),
    }
    // The server shuts down now.
    s.close();
    let rest = drain(&mut s);
    assert_eq!(rest.stop, Output::Closed);
    assert!(!rest.sent.contains("220"), "told the client to start TLS on a closing connection: {:?}", rest.sent);
    assert!(rest.sent.starts_with("421 4.3.2"), "{:?}", rest.sent);
}

// =======================================================================================
// Attacks that held up. Each goes through `run`/`check_transcript`: every decision
// schedule and every chunking must agree.
// =======================================================================================

fn reject_nobody_and_data(event: &ServerEvent) -> Verdict {
    match event {
        ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("nobody") => {
            Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.1.1 No such user"))
        }
        ServerEvent::Data { .. } => Verdict::Reject(Reply::new(ReplyCode::LOCAL_ERROR, "4.7.1 Try again later")),
        _ => Verdict::Accept,
    }
}

/// At the recipient limit beside undecided RCPTs, with rejections, broken RCPT lines, a
/// refused DATA and then BDAT in the same transaction (RFC 3030: a refused DATA sent no
/// data).
#[test]
fn h_recipient_limit_broken_lines_refused_data_then_bdat() {
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
        S: 550 5.1.1 No such user
        C: RCPT TO:<b@example.org>
        S: 250 2.1.5 Recipient OK
        C: RCPT TO:
        S: 501 5.1.3 invalid recipient address: address syntax error
        C: RCPT TO:<c@example.org>
        S: 250 2.1.5 Recipient OK
        C: RCPT TO:<d@example.org>
        S: 452 4.5.3 Too many recipients
        C: DATA
        S: 451 4.7.1 Try again later
        C: BDAT 3 LAST
        C:x
        S: 250 2.0.0 Message accepted
        C: QUIT
        S: 221 2.0.0 Bye",
        &reject_nobody_and_data,
    );
}

/// The error limit reached by broken RCPT lines read behind undecided RCPTs, with a
/// refused BDAT and its chunk pipelined after them: the 421 comes after every RCPT
/// reply, whenever the RCPTs are decided, and the chunk is never read as commands.
#[test]
fn h_error_limit_behind_undecided_rcpts_with_bdat_pipelined() {
    let mut config = config();
    config.max_errors = 2;
    let run = run(
        &config,
        b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:\r\n\
          RCPT TO:<b@example.org>\r\nRCPT TO:<\r\nBDAT 6 LAST\r\nNOOP\r\nQUIT\r\n",
        &reject_nobody_and_data,
    );
    assert!(run.closed);
    assert!(
        run.sent.ends_with(
            "550 5.1.1 No such user\r\n501 5.1.3 invalid recipient address: address syntax error\r\n\
             250 2.1.5 Recipient OK\r\n501 5.1.3 invalid recipient address: address syntax error\r\n\
             421 4.7.0 Too many errors, closing connection\r\n"
        ),
        "{}",
        run.sent
    );
}

/// A BDAT refused at once (no recipients) with more BDATs and a DATA pipelined behind
/// it, in SMTP and LMTP: each refused chunk is skipped, and a refused BDAT leaves the
/// transaction free for RCPT and DATA.
#[test]
fn h_refused_bdats_skip_their_chunks_and_mark_nothing() {
    check_transcript(
        &config(),
        "S: 220 mx.example.org ESMTP ready
        C: HELO c.example
        S: 250 mx.example.org
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<nobody@example.org>
        S: 550 5.1.1 No such user
        C: BDAT 6
        C: RSET
        S: 554 5.5.1 No valid recipients
        C: BDAT 6 LAST
        C: QUIT
        S: 554 5.5.1 No valid recipients
        C: DATA
        S: 554 5.5.1 No valid recipients
        C: RCPT TO:<b@example.org>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        C: hi
        C: .
        S: 250 2.0.0 Message accepted
        C: QUIT
        S: 221 2.0.0 Bye",
        &|event: &ServerEvent| match event {
            ServerEvent::Data { .. } => Verdict::Accept,
            other => reject_nobody_and_data(other),
        },
    );
}

/// A connection refused at the greeting: every command but QUIT is 503, BDAT chunks are
/// skipped, the error limit closes it, and close() afterwards is `Closed`.
#[test]
fn h_refused_connection_bdat_error_limit_then_close() {
    let mut config = config();
    config.max_errors = 3;
    let server = config.build().unwrap();
    let client: &[u8] = b"EHLO c.example\r\nBDAT 6 LAST\r\nQUIT\r\nBDAT 4\r\nRSETNOOP\r\nQUIT\r\n";
    let expected = "554 No service\r\n503 5.5.1 No SMTP service here, send QUIT\r\n\
        503 5.5.1 No SMTP service here, send QUIT\r\n503 5.5.1 No SMTP service here, send QUIT\r\n\
        421 4.7.0 Too many errors, closing connection\r\n";
    support::split_invariant(client, |pieces| {
        let mut s = ServerSession::refusing(&server, Reply::new(ReplyCode::TRANSACTION_FAILED, "No service")).unwrap();
        let mut sent = String::new();
        let mut pieces = pieces.iter();
        loop {
            match s.poll_output() {
                Output::Transmit(bytes) => sent.push_str(std::str::from_utf8(&bytes).unwrap()),
                Output::Wait(_) => match pieces.next() {
                    Some(piece) => s.handle_input(piece),
                    None => s.handle_eof(),
                },
                Output::Closed => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(s.close_with(Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "bye")), Err(DecisionError::Closed));
        assert_eq!(sent, expected);
        sent
    });
}

// ---------------------------------------------------------------------------------------
// G4. A refused BDAT is answered before its chunk is read (RFC 3030 section 2).
//
// RFC 3030 section 2: "If a failure occurs after a BDAT command is received, the
// receiver-SMTP MUST accept and discard the associated message data *before* sending the
// appropriate 5XX or 4XX code." Since 409b832 `refuse_bdat` writes the refusal when the
// line is read (`self.error(reply)`) and then reads the chunk: with the chunk still on
// its way, the 5xx is handed out (`Output::Transmit`) before a single octet of it has
// arrived. A client that writes a large chunk while watching for replies (RFC 3030
// section 4.2's streaming clients do) sees a final reply to a command whose data it is
// still sending. The fix was made to keep the reply when the refusal is one error too
// many (F6), but that case closes the connection anyway; every other refused BDAT can
// be answered once its chunk has been read, as the too-big refusal already is.
//
// Fix: keep the refusal in `BdatBody` (as before 409b832) and write it, then count the
// error, when the chunk is finished; for the one that reaches the error limit, the 421
// follows then. (Or, if the error is counted first: write the refusal at once only when
// it closes the session.)
// ---------------------------------------------------------------------------------------
#[test]
fn g4_a_refused_bdat_is_answered_only_after_its_chunk() {
    for (name, mut s) in [
        ("no MAIL", session(config())),
        ("no recipients", in_transaction(config())),
        ("refused connection", {
            let server = config().build().unwrap();
            ServerSession::refusing(&server, Reply::new(ReplyCode::TRANSACTION_FAILED, "No service")).unwrap()
        }),
    ] {
        s.handle_input(b"EHLO c.example\r\n");
        let _ = drain(&mut s);
        s.handle_input(b"BDAT 10 LAST\r\n01234");
        let early = drain(&mut s);
        assert!(matches!(early.stop, Output::Wait(_)), "{name}: {:?}", early.stop);
        assert_eq!(early.sent, "", "{name}: answered before the chunk was read");
        s.handle_input(b"56789");
        let late = drain(&mut s);
        assert!(late.sent.starts_with('5'), "{name}: {:?}", late.sent);
    }
}

/// More pipelined RCPTs than `MAX_OWED` (512), some refused by the session itself (555)
/// and some by the application, with a raised recipient limit: the session stops reading
/// when the queue is long and goes on as decisions come; every schedule gives the same
/// replies in command order, and no driver waits for ever.
#[test]
fn h_more_rcpts_than_the_reply_queue_holds_agree_across_schedules() {
    use support::server::{Schedule, run_scheduled};
    let mut config = config();
    config.max_recipients = 700;
    let mut client = b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\n".to_vec();
    for i in 0..650 {
        let line = match i % 5 {
            0 => format!("RCPT TO:<nobody{i}@example.org>\r\n"),
            1 => format!("RCPT TO:<r{i}@example.org> XFOO=1\r\n"),
            2 => "RCPT TO:\r\n".to_string(),
            _ => format!("RCPT TO:<r{i}@example.org>\r\n"),
        };
        client.extend_from_slice(line.as_bytes());
    }
    client.extend_from_slice(b"BDAT 3 LAST\r\nabcQUIT\r\n");
    config.max_errors = 1000;
    let splits: Vec<Vec<&[u8]>> = vec![
        vec![&client[..]],
        client.chunks(4096).collect(),
        client.chunks(700).collect(),
        client.chunks(31).collect(),
    ];
    let expected = run_scheduled(&config, &splits[0], b"", &reject_nobody_and_data, Schedule::Immediate);
    assert!(expected.sent.ends_with("250 2.0.0 Message accepted\r\n221 2.0.0 Bye\r\n"), "{}", expected.sent);
    assert_eq!(expected.sent.matches("\r\n5").count(), 130 + 130 + 130);
    for pieces in &splits {
        for schedule in [Schedule::AfterAllInput, Schedule::ReverseAtEnd, Schedule::Random(7), Schedule::AfterNextRead]
        {
            let got = run_scheduled(&config, pieces, b"", &reject_nobody_and_data, schedule);
            assert_eq!(got, expected, "{schedule:?}, {} pieces", pieces.len());
        }
    }
}

/// Random pipelined conversations aimed at the fixes: a small recipient limit beside
/// undecided RCPTs, broken and refused RCPT lines held behind them, DATA refused by the
/// application then BDAT, refused BDATs (no MAIL, no recipients, not offered) with
/// their chunks, the error limit. Every schedule and chunking must agree.
#[test]
fn h_random_conversations_around_the_fixes_agree_across_schedules() {
    let mut rng = support::XorShift::new(0xbeef);
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("closing") => {
            Verdict::Reject(Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "4.3.0 Going away"))
        }
        ServerEvent::Data { .. } => Verdict::Reject(Reply::new(ReplyCode::LOCAL_ERROR, "4.7.1 Later")),
        ServerEvent::Delivery { recipient, .. } if recipient.to().to_string().contains("nobody2") => {
            Verdict::Reject(Reply::new(ReplyCode::INSUFFICIENT_STORAGE, "4.2.2 Mailbox full"))
        }
        other => reject_nobody_and_data(other),
    };
    for round in 0..150 {
        let mut config = config();
        config.max_recipients = 1 + rng.below(3);
        config.max_errors = 2 + rng.below(6) as u32;
        config.lmtp = rng.below(4) == 0;
        config.chunking = rng.below(5) != 0;
        let hello = if config.lmtp { "LHLO" } else { "EHLO" };
        let mut client = format!("{hello} c.example\r\n");
        let mut closing_used = false;
        for _ in 0..(3 + rng.below(12)) {
            let line = match rng.below(16) {
                0 => "MAIL FROM:<a@example.net>\r\n".into(),
                1..=4 => format!("RCPT TO:<{}@example.org>\r\n", ["ok", "nobody", "nobody2", "ok2"][rng.below(4)]),
                5 => "RCPT TO:\r\n".into(),
                6 => "RCPT TO:<x@example.org> XFOO=1\r\n".into(),
                7 if !closing_used => {
                    closing_used = true;
                    "RCPT TO:<closing@example.org>\r\n".into()
                }
                8 => "DATA\r\n".into(),
                9 => "BDAT 6\r\nRSET\r\n".into(),
                10 => "BDAT 6 LAST\r\nQUIT\r\n".into(),
                11 => "RSET\r\n".into(),
                12 => "RCPT TO:<y@example.org>\n".into(),
                13 => format!("RCPT TO:<{}@example.org>\r\n", "l".repeat(600)),
                _ => "NOOP\r\n".into(),
            };
            client.push_str(&line);
        }
        if rng.below(2) == 0 {
            client.push_str("QUIT\r\n");
        }
        let outcome = std::panic::catch_unwind(|| run(&config, client.as_bytes(), &decide));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("round {round}, {config:?}: {client:?}\n{}", &message[..message.len().min(3000)]);
        }
    }
}

/// Input handed over after the end of input is dropped, whether decisions are owed or
/// not, and commands received before it are still answered, decisions included.
#[test]
fn h_input_after_eof_is_dropped_and_earlier_commands_are_answered() {
    let mut s = in_transaction(config());
    s.handle_input(b"RCPT TO:<b@example.org>\r\nNOOP\r\n");
    let d = drain(&mut s);
    let rcpt = ticket(&d.events, TicketKind::Rcpt);
    s.handle_eof();
    s.handle_input(b"RCPT TO:<c@example.org>\r\nQUIT\r\n");
    assert!(matches!(drain(&mut s).stop, Output::Pending(p) if !p.wants_input() && p.owed() == 1));
    s.accept(rcpt).unwrap();
    let rest = drain(&mut s);
    assert_eq!(rest.sent, "250 2.1.5 Recipient OK\r\n250 2.0.0 OK\r\n");
    assert_eq!(rest.stop, Output::Closed);
    assert!(tickets(&rest.events, TicketKind::Rcpt).is_empty());
}

/// close() during the handshake and handle_timeout there write nothing, and close() on
/// a session closing with nothing owed is `Closed` and adds nothing after the 221.
#[test]
fn h_close_during_the_handshake_and_after_quit() {
    let mut config = config();
    config.starttls = true;
    let mut s = session(config);
    s.handle_input(b"EHLO c.example\r\nSTARTTLS\r\n");
    loop {
        match s.poll_output() {
            Output::StartTls => break,
            Output::Transmit(_) | Output::Event(_) => {}
            other => panic!("{other:?}"),
        }
    }
    s.handle_timeout();
    let after = drain(&mut s);
    assert_eq!((after.sent.as_str(), after.stop), ("", Output::Closed));
    assert_eq!(s.close_with(Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "x")), Err(DecisionError::Closed));

    let mut s = session(support::server::config());
    let _ = drain(&mut s);
    s.handle_input(b"QUIT\r\n");
    match s.poll_output() {
        Output::Transmit(bye) => assert_eq!(&bye[..], b"221 2.0.0 Bye\r\n"),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.close_with(Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "x")), Err(DecisionError::Closed));
    let rest = drain(&mut s);
    assert_eq!((rest.sent.as_str(), rest.stop), ("", Output::Closed));
}
