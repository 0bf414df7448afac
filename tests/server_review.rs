//! What the independent review of the server's decision contract found, kept as tests.
//!
//! Each test asserts the correct behaviour. The `f*` tests failed on the reviewed
//! revision (af4a641) because of the defect described above each (the comments say
//! "FAILS" as they did then); they are regression tests now. The `r_*` tests are edge
//! cases the review tried that held up.

mod support;

use smtp_sansio::server::{ServerConfig, ServerEvent, ServerSession, TicketKind};
use smtp_sansio::{DecisionError, Output, Reply, ReplyCode};
use support::manual::{drain, drain_accepting, session, tickets};
use support::server::{Schedule, Verdict, accept_all, check_transcript, config, run, run_scheduled};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

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
    // The docs promise "never much more than 1 MiB behind a decision".
    const LIMIT: usize = (1 << 20) + (64 << 10);
    let mut fed = 0usize;
    let mut closed = false;
    while fed < LIMIT {
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
    // more than LIMIT bytes of RCPT lines and held their replies. (Each line also costs
    // O(queue length) in `undecided()`, so this is quadratic CPU as well.)
    assert!(fed < LIMIT || closed, "took {fed} bytes of RCPT lines behind one undecided RCPT");
    let _ = s.accept(slow);
    let after = drain(&mut s);
    assert!(after.sent.len() < LIMIT, "{} bytes of replies were held", after.sent.len());
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

// ---------------------------------------------------------------------------------------
// F7. FAILS (bug): a DATA refused by the application still marks the transaction as
// "using DATA" (`transaction.chunked = Some(false)` is set before the decision), so a
// later RCPT gets `503 RCPT cannot follow message data` and a later BDAT `503 BDAT
// cannot follow DATA`, although no message data was ever sent. A DATA the session refuses
// itself (no recipients) does not do this. A refused command changes no state (RFC 5321
// section 4.1.1.4 / 4.1.4); greylisting or policy checks at DATA with 451 are common.
// ---------------------------------------------------------------------------------------
#[test]
fn f7_a_refused_data_leaves_the_transaction_open_for_more_recipients() {
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Data { .. } => Verdict::Reject(Reply::new(ReplyCode::LOCAL_ERROR, "4.7.1 Try again later")),
        _ => Verdict::Accept,
    };
    check_transcript(
        &config(),
        "S: 220 mx.example.org ESMTP ready
        C: HELO c.example
        S: 250 mx.example.org
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@example.org>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 451 4.7.1 Try again later
        C: RCPT TO:<c@example.org>
        S: 250 2.1.5 Recipient OK
        C: BDAT 3 LAST
        C:x
        S: 250 2.0.0 Message accepted
        C: QUIT
        S: 221 2.0.0 Bye",
        &decide,
    );
}

// ---------------------------------------------------------------------------------------
// F8. FAILS (bug): `close()` while the driver performs the TLS handshake (after
// `Output::StartTls`, before `tls_established`) queues a plaintext `421` that
// `poll_output` hands out as `Transmit`: SMTP text written into the middle of a TLS
// handshake (the client already got 220 and speaks TLS). Nothing can be said to the
// peer until the handshake is done; the session should just close. Same for
// `handle_timeout` in that phase.
// ---------------------------------------------------------------------------------------
#[test]
fn f8_close_during_the_tls_handshake_writes_no_plaintext() {
    let mut config = config();
    config.starttls = true;
    let mut s = session(config);
    s.handle_input(b"EHLO c.example\r\nSTARTTLS\r\n");
    let mut sent = String::new();
    loop {
        match s.poll_output() {
            Output::Transmit(bytes) => sent.push_str(std::str::from_utf8(&bytes).unwrap()),
            Output::Event(_) => {}
            Output::StartTls => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(sent.ends_with("220 2.0.0 Ready to start TLS\r\n"));
    // The server shuts down while the handshake runs.
    s.close();
    let rest = drain(&mut s);
    assert_eq!(rest.sent, "", "plaintext written into a TLS handshake");
    assert_eq!(rest.stop, Output::Closed);
}

// ---------------------------------------------------------------------------------------
// F9. FAILS (bug, RFC 2034 section 3): `close_with` sends the application's reply as
// given, without the default enhanced status code that every other application reply
// gets (`with_status`) once ENHANCEDSTATUSCODES was advertised: `421 Shutting down`
// instead of `421 4.x.x Shutting down`.
// ---------------------------------------------------------------------------------------
#[test]
fn f9_close_with_gets_a_default_enhanced_status_code() {
    let mut s = session(config());
    s.handle_input(b"EHLO c.example\r\n");
    let _ = drain(&mut s);
    s.close_with(Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "Shutting down")).unwrap();
    let rest = drain(&mut s);
    assert!(rest.sent.starts_with("421 4."), "{}", rest.sent);
}

// =======================================================================================
// Regression tests for edge cases that held up (they pass on the reviewed revision).
// Each goes through `run`/`check_transcript`, so every decision schedule and chunking
// must agree.
// =======================================================================================

fn sent_of(run: &support::server::Run) -> &str {
    &run.sent
}

/// STARTTLS pipelined behind undecided RCPTs, with plaintext injected after it: the RCPT
/// replies go first, then 220; the injected command is never run (CVE-2011-0411), and
/// the transaction is forgotten (RFC 3207 section 4.2).
#[test]
fn r_starttls_pipelined_behind_pending_rcpts_discards_the_injection() {
    let mut config = config();
    config.starttls = true;
    let got = check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: HELO c.example
        S: 250 mx.example.org
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<nobody@example.org>
        C: RCPT TO:<b@example.org>
        C: STARTTLS
        C: RCPT TO:<evil@example.org>
        S: 550 5.1.1 No such user
        S: 250 2.1.5 Recipient OK
        S: 220 2.0.0 Ready to start TLS
        TLS
        C: HELO c.example
        S: 250 mx.example.org
        C: RCPT TO:<b@example.org>
        S: 503 5.5.1 Send MAIL first
        C: QUIT
        S: 221 2.0.0 Bye",
        &reject_nobody,
    );
    let events: Vec<String> = got.events.iter().map(|e| format!("{e:?}")).collect();
    assert!(events.iter().any(|e| e.contains("PlaintextDiscarded { bytes: 28 }")), "{events:#?}");
    assert!(events.iter().any(|e| e.contains("TransactionAborted(StartTls)")), "{events:#?}");
    assert!(!events.iter().any(|e| e.contains("evil")), "{events:#?}");
}

/// A 421 decision among undecided RCPTs, with a 555 the session answered itself between
/// them: the replies before the 421 go out in order, nothing after it.
#[test]
fn r_a_421_among_pending_rcpts_keeps_the_replies_before_it() {
    let decide = |event: &ServerEvent| match rcpt_to(event) {
        Some(to) if to.contains("closing") => {
            Verdict::Reject(Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "4.3.0 Going away"))
        }
        _ => reject_nobody(event),
    };
    check_transcript(
        &config(),
        "S: 220 mx.example.org ESMTP ready
        C: HELO c.example
        S: 250 mx.example.org
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<a@example.org>
        C: RCPT TO:<b@example.org> XFOO=1
        C: RCPT TO:<nobody@example.org>
        C: RCPT TO:<closing@example.org>
        C: RCPT TO:<d@example.org>
        C: NOOP
        S: 250 2.1.5 Recipient OK
        S: 555 5.5.4 Parameter not offered by this server
        S: 550 5.1.1 No such user
        S: 421 4.3.0 Going away",
        &decide,
    );
}

/// Too many errors while RCPT decisions are owed: the decisions are still made and
/// answered in order, then 421; the RCPT after the last error is never read.
#[test]
fn r_too_many_errors_while_rcpts_are_pending() {
    let mut config = config();
    config.max_errors = 2;
    let got = run(
        &config,
        b"HELO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<a@example.org>\r\n\
          XBOGUS1\r\nXBOGUS2\r\nRCPT TO:<z@example.org>\r\nQUIT\r\n",
        &reject_nobody,
    );
    assert_eq!(
        sent_of(&got),
        "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n250 2.1.0 Sender OK\r\n550 5.1.1 No such user\r\n\
         250 2.1.5 Recipient OK\r\n500 5.5.2 command unrecognized\r\n500 5.5.2 command unrecognized\r\n\
         421 4.7.0 Too many errors, closing connection\r\n"
    );
    assert!(got.closed);
    let events: Vec<String> = got.events.iter().map(|e| format!("{e:?}")).collect();
    assert!(!events.iter().any(|e| e.contains("z@example.org")), "{events:#?}");
    assert!(events.iter().any(|e| e.contains("TransactionAborted(Closed)")), "{events:#?}");
}

/// HELO/EHLO decided by the application with commands pipelined behind them: a refused
/// EHLO changes nothing (the open transaction stays), an accepted one resets it.
#[test]
fn r_hello_decisions_with_pipelined_commands_behind_them() {
    let mut config = config();
    config.decide_hello = true;
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Hello { host, .. } if host.to_string() == "localhost" => {
            Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "You are not localhost"))
        }
        _ => reject_nobody(event),
    };
    check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: HELO c.example
        C: MAIL FROM:<a@example.net>
        C: RCPT TO:<b@example.org>
        C: HELO localhost
        C: RCPT TO:<c@example.org>
        C: HELO d.example
        C: RCPT TO:<e@example.org>
        C: QUIT
        S: 250 mx.example.org
        S: 250 2.1.0 Sender OK
        S: 250 2.1.5 Recipient OK
        S: 550 You are not localhost
        S: 250 2.1.5 Recipient OK
        S: 250 mx.example.org
        S: 503 5.5.1 Send MAIL first
        S: 221 2.0.0 Bye",
        &decide,
    );
}

/// LMTP: RCPTs decided out of order, one refused; one reply per accepted recipient after
/// the body, in RCPT order (RFC 2033 section 4.2), with a refused delivery among them.
#[test]
fn r_lmtp_one_reply_per_accepted_recipient_in_rcpt_order() {
    let mut config = config();
    config.lmtp = true;
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Delivery { recipient, .. } if recipient.to().to_string().contains("full@") => {
            Verdict::Reject(Reply::new(ReplyCode::INSUFFICIENT_STORAGE, "4.2.2 Mailbox full"))
        }
        _ => reject_nobody(event),
    };
    let got = run(
        &config,
        b"LHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<one@example.org>\r\nRCPT TO:<nobody@example.org>\r\n\
          RCPT TO:<full@example.org>\r\nRCPT TO:<two@example.org>\r\nDATA\r\nhello\r\n.\r\n\
          MAIL FROM:<a@example.net>\r\nRCPT TO:<three@example.org>\r\nBDAT 3 LAST\r\nabcQUIT\r\n",
        &decide,
    );
    assert!(
        sent_of(&got).ends_with(
            "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n550 5.1.1 No such user\r\n250 2.1.5 Recipient OK\r\n\
             250 2.1.5 Recipient OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Message accepted\r\n\
             452 4.2.2 Mailbox full\r\n250 2.0.0 Message accepted\r\n250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n\
             250 2.0.0 Message accepted\r\n221 2.0.0 Bye\r\n"
        ),
        "{}",
        sent_of(&got)
    );
}

fn plain(user: &str, password: &str) -> String {
    smtp_sansio::sasl::encode_base64(format!("\0{user}\0{password}").as_bytes())
}

fn auth_decide(event: &ServerEvent) -> Verdict {
    match event {
        ServerEvent::Auth { credentials, .. } => match &**credentials {
            smtp_sansio::sasl::Credentials::Password { password, .. } if password == "right" => Verdict::Accept,
            _ => Verdict::Reject(Reply::new(ReplyCode::new(535).unwrap(), "5.7.8 Authentication credentials invalid")),
        },
        _ => Verdict::Accept,
    }
}

fn auth_config() -> ServerConfig {
    let mut config = config();
    config.auth_mechanisms = vec![smtp_sansio::sasl::Mechanism::Plain, smtp_sansio::sasl::Mechanism::Login];
    config.plaintext_auth = true;
    config
}

/// AUTH decided late with commands pipelined behind it, and end of input right after
/// an AUTH whose decision is owed: the decision is still answered.
#[test]
fn r_auth_decisions_pipelined_and_at_end_of_input() {
    let client = format!(
        "HELO c.example\r\nAUTH PLAIN {}\r\nAUTH PLAIN {}\r\nMAIL FROM:<a@example.net>\r\n",
        plain("u", "wrong"),
        plain("u", "right")
    );
    let got = run(&auth_config(), client.as_bytes(), &auth_decide);
    // AUTH needs EHLO here.
    assert!(
        sent_of(&got).ends_with("503 5.5.1 Send EHLO first\r\n503 5.5.1 Send EHLO first\r\n250 2.1.0 Sender OK\r\n"),
        "{}",
        sent_of(&got)
    );
    let client = format!(
        "EHLO c.example\r\nAUTH PLAIN {}\r\nAUTH PLAIN {}\r\nMAIL FROM:<a@example.net>\r\nAUTH PLAIN {}\r\n",
        plain("u", "wrong"),
        plain("u", "right"),
        plain("u", "right")
    );
    let got = run(&auth_config(), client.as_bytes(), &auth_decide);
    assert!(
        sent_of(&got).ends_with(
            "535 5.7.8 Authentication credentials invalid\r\n235 2.7.0 Authentication succeeded\r\n\
             250 2.1.0 Sender OK\r\n503 5.5.1 Already authenticated\r\n"
        ),
        "{}",
        sent_of(&got)
    );
    assert!(got.closed);
}

/// End of input in the middle of a SASL exchange and in the middle of a BDAT chunk that
/// came behind RCPT decisions: what was received is answered, the rest aborted.
#[test]
fn r_eof_in_the_middle_of_an_auth_exchange_or_a_bdat_chunk() {
    let got = run(&auth_config(), b"EHLO c.example\r\nAUTH LOGIN\r\ndXNlcg==\r\n", &auth_decide);
    assert!(sent_of(&got).ends_with("334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n"), "{}", sent_of(&got));
    assert!(got.closed);
    let got = run(
        &config(),
        b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT 10 LAST\r\nabc",
        &reject_nobody,
    );
    assert!(
        sent_of(&got).ends_with("250 2.1.0 Sender OK\r\n550 5.1.1 No such user\r\n250 2.1.5 Recipient OK\r\n"),
        "{}",
        sent_of(&got)
    );
    let events: Vec<String> = got.events.iter().map(|e| format!("{e:?}")).collect();
    assert!(events.last().unwrap().contains("TransactionAborted(Eof)"), "{events:#?}");
    assert!(!events.iter().any(|e| e.contains("MessageEnd")), "{events:#?}");
}

/// A 421 decision on DATA with the body pipelined anyway: the 421 is the last reply and
/// the body is never read as commands.
#[test]
fn r_a_421_on_data_with_the_body_pipelined() {
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Data { .. } => Verdict::Reject(Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "Going away")),
        _ => Verdict::Accept,
    };
    let got = run(
        &config(),
        b"HELO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nNOOP\r\n.\r\nQUIT\r\n",
        &decide,
    );
    assert!(sent_of(&got).ends_with("250 2.1.5 Recipient OK\r\n421 4.0.0 Going away\r\n"), "{}", sent_of(&got));
    assert!(got.closed);
}

/// VRFY and EXPN decided by the application, late and out of order, with the default
/// enhanced codes of their class.
#[test]
fn r_vrfy_and_expn_decisions_keep_their_places() {
    let mut config = config();
    config.decide_vrfy = true;
    config.decide_expn = true;
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Verify { target, .. } if target == "alice" => {
            Verdict::AcceptWith(Reply::new(ReplyCode::OK, "Alice <alice@example.org>"))
        }
        ServerEvent::Verify { .. } => Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "No such user")),
        ServerEvent::Expand { .. } => Verdict::Reject(Reply::new(ReplyCode::new(502).unwrap(), "Not for you")),
        _ => Verdict::Accept,
    };
    let got = run(&config, b"VRFY bob\r\nVRFY alice\r\nEXPN staff\r\nNOOP\r\n", &decide);
    assert!(
        sent_of(&got).ends_with(
            "550 5.1.0 No such user\r\n250 2.1.5 Alice <alice@example.org>\r\n502 5.1.0 Not for you\r\n250 2.0.0 OK\r\n"
        ),
        "{}",
        sent_of(&got)
    );
}

/// Tickets: answering one twice, a dropped one, or one of a closed session changes
/// nothing and says why; `decisions_owed` and `Pending::owed` agree throughout.
#[test]
fn r_tickets_misuse_changes_nothing() {
    let mut s = session(config());
    s.handle_input(b"HELO c\r\nMAIL FROM:<a@example.net>\r\n");
    let d = drain(&mut s);
    let mail = tickets(&d.events, TicketKind::Mail).remove(0);
    assert!(matches!(d.stop, Output::Pending(p) if p.owed() == 1 && !p.wants_input()));
    s.accept(mail.clone()).unwrap();
    assert_eq!(s.accept(mail.clone()), Err(DecisionError::Stale));
    assert_eq!(s.reject(mail.clone(), Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "x")), Err(DecisionError::Stale));
    s.handle_input(b"RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n");
    let d = drain(&mut s);
    let rcpts = tickets(&d.events, TicketKind::Rcpt);
    assert_eq!(s.decisions_owed(), 2);
    // Wrong codes are refused without effect.
    assert_eq!(
        s.accept_with(rcpts[1].clone(), Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "x")),
        Err(DecisionError::WrongCode)
    );
    assert_eq!(s.reject(rcpts[1].clone(), Reply::new(ReplyCode::OK, "x")), Err(DecisionError::WrongCode));
    assert_eq!(
        s.reject(rcpts[1].clone(), Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "4.1.1 x")),
        Err(DecisionError::WrongCode)
    );
    assert_eq!(s.decisions_owed(), 2);
    s.reject(rcpts[1].clone(), Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "bye")).unwrap();
    // The 421 waits for the first RCPT's reply; the session owes it still.
    assert_eq!(s.decisions_owed(), 1);
    s.accept(rcpts[0].clone()).unwrap();
    let d = drain(&mut s);
    assert_eq!(d.sent, "250 2.1.5 Recipient OK\r\n421 4.1.0 bye\r\n");
    assert_eq!(d.stop, Output::Closed);
    assert_eq!(s.accept(rcpts[0].clone()), Err(DecisionError::Closed));
}

/// Random pipelined conversations (commands, errors, bodies, rejections, 421s) under
/// several configurations: every decision schedule and chunking must agree. The
/// recipient limit stays at its default here (F1 covers a small one).
#[test]
fn r_random_pipelined_conversations_agree_across_schedules() {
    let mut rng = support::XorShift::new(0x5eed);
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Mail { command, .. } if command.from().to_string().contains("nobody") => {
            Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.7.1 Sender refused"))
        }
        ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("closing") => {
            Verdict::Reject(Reply::new(ReplyCode::SERVICE_NOT_AVAILABLE, "4.3.0 Going away"))
        }
        ServerEvent::Hello { host, .. } if host.to_string() == "localhost" => {
            Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "Not you"))
        }
        ServerEvent::Delivery { recipient, .. } if recipient.to().to_string().contains("full") => {
            Verdict::Reject(Reply::new(ReplyCode::INSUFFICIENT_STORAGE, "4.2.2 Mailbox full"))
        }
        ServerEvent::Verify { .. } => Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "No")),
        ServerEvent::Auth { .. } => auth_decide(event),
        _ => reject_nobody(event),
    };
    let (right, wrong) = (plain("u", "right"), plain("u", "wrong"));
    for round in 0..1500 {
        let mut config = config();
        config.max_errors = 3 + (rng.below(3) as u32) * 5;
        config.lmtp = rng.below(4) == 0;
        config.decide_hello = rng.below(2) == 0;
        config.decide_vrfy = rng.below(2) == 0;
        config.max_message_size = Some(40);
        if rng.below(2) == 0 {
            config.auth_mechanisms = vec![smtp_sansio::sasl::Mechanism::Plain, smtp_sansio::sasl::Mechanism::Login];
            config.plaintext_auth = true;
        }
        let hello = if config.lmtp { "LHLO" } else { ["HELO", "EHLO"][rng.below(2)] };
        let mut client = String::new();
        // One 421 decision at most: the harness's `Pending` check only knows the first.
        let mut closing_used = false;
        for _ in 0..(3 + rng.below(14)) {
            let line = match rng.below(20) {
                16 => format!("AUTH PLAIN {right}\r\n"),
                17 => format!("AUTH PLAIN {wrong}\r\n"),
                18 => "AUTH LOGIN\r\ndXNlcg==\r\ncmlnaHQ=\r\n".into(),
                19 => "AUTH PLAIN\r\n*\r\n".into(),
                0 => format!("{hello} c.example\r\n"),
                1 => format!("{hello} localhost\r\n"),
                2 => "MAIL FROM:<a@example.net>\r\n".into(),
                3 => "MAIL FROM:<nobody@example.net>\r\n".into(),
                4 | 5 => format!("RCPT TO:<{}@example.org>\r\n", ["ok", "nobody", "full", "ok2"][rng.below(4)]),
                6 if !closing_used => {
                    closing_used = true;
                    "RCPT TO:<closing@example.org>\r\n".into()
                }
                7 => "DATA\r\nhello\r\n.\r\n".into(),
                8 => "DATA\r\nthis body is far longer than forty octets, it is refused\r\n.\r\n".into(),
                9 => "BDAT 4\r\nabcd".into(),
                10 => "BDAT 3 LAST\r\nxyz".into(),
                11 => "RSET\r\n".into(),
                12 => "VRFY bob\r\n".into(),
                13 => "FOO\r\n".into(),
                14 => "RCPT TO:<x@example.org>\n".into(),
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
            panic!(
                "round {round}, lmtp {}, decide_hello {}: {client:?}\n{}",
                config.lmtp,
                config.decide_hello,
                &message[..message.len().min(3000)]
            );
        }
    }
}
