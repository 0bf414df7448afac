//! The server's decision contract, tested the way an asynchronous application uses it:
//! decisions made late, out of order, after the peer left, or wrongly. One named test
//! for each defect found by driving the session as such an application would, and for
//! each rule of the contract (see `ServerSession`'s documentation).

mod support;

use bytes::BytesMut;
use smtp_sansio::server::{AbortReason, AuthTicket, ServerConfig, ServerEvent, ServerSession, Ticket, TicketKind};
use smtp_sansio::{ConfigError, DecisionError, MisuseError, Output, Reply, ReplyCode};
use support::manual::{drain, session, ticket};
use support::server::{Verdict, check_transcript, config, run};

fn auth_ticket(events: &[ServerEvent]) -> AuthTicket {
    events
        .iter()
        .find_map(|e| match e {
            ServerEvent::Auth { ticket, .. } => Some(ticket.clone()),
            _ => None,
        })
        .expect("an AUTH ticket")
}

fn pending(stop: &Output<ServerEvent>) -> (usize, bool) {
    match stop {
        Output::Pending(p) => (p.owed(), p.wants_input()),
        other => panic!("expected Pending, got {other:?}"),
    }
}

// Defect 1: a decision outstanding with no command line complete gave `Wait(5 min)`, and
// the timer then blamed the client with `421 4.4.2`.
#[test]
fn an_outstanding_decision_is_pending_and_no_client_timeout_runs() {
    let mut s = session(config());
    s.handle_input(b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\n");
    let drained = drain(&mut s);
    assert_eq!(pending(&drained.stop), (1, false), "MAIL's decision blocks everything after it");
    s.handle_timeout(); // a driver that armed a timer anyway
    let mail = ticket(&drained.events, TicketKind::Mail);
    s.accept(mail).unwrap();
    s.handle_input(b"RCPT TO:<b@example.org>\r\n");
    let drained = drain(&mut s);
    assert!(drained.sent.starts_with("250 2.1.0 Sender OK\r\n"), "{}", drained.sent);
    assert!(!drained.sent.contains("421"), "the client was blamed for the application's wait: {}", drained.sent);
    assert_eq!(pending(&drained.stop), (1, true), "behind RCPT, more RCPTs can be read");
    s.handle_timeout();
    s.accept(ticket(&drained.events, TicketKind::Rcpt)).unwrap();
    let drained = drain(&mut s);
    assert_eq!(drained.sent, "250 2.1.5 Recipient OK\r\n");
    assert!(matches!(drained.stop, Output::Wait(_)), "nothing owed: waiting for the peer alone");
    s.handle_timeout();
    assert!(drain(&mut s).sent.contains("421 4.4.2"), "the peer's own silence does time out");
}

// Defect 2: framing state survived the DATA phase, so QUIT after a late DATA decision was
// never answered and the next NOOP got `500 5.5.2`.
#[test]
fn the_framer_starts_afresh_after_a_late_data_decision() {
    let mut s = session(config());
    s.handle_input(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: x");
    let mut drained = drain(&mut s);
    s.accept(ticket(&drained.events, TicketKind::Mail)).unwrap();
    drained = drain(&mut s);
    s.accept(ticket(&drained.events, TicketKind::Rcpt)).unwrap();
    drained = drain(&mut s);
    let data = ticket(&drained.events, TicketKind::Data);
    assert_eq!(pending(&drained.stop).0, 1);
    s.accept(data).unwrap();
    drained = drain(&mut s);
    assert!(drained.sent.ends_with("354 End data with <CR><LF>.<CR><LF>\r\n"));
    s.handle_input(b"\r\n.\r\nQUIT\r\n");
    drained = drain(&mut s);
    s.accept(ticket(&drained.events, TicketKind::MessageEnd)).unwrap();
    s.handle_input(b"NOOP\r\n");
    drained = drain(&mut s);
    assert_eq!(drained.sent, "250 2.0.0 Message accepted\r\n221 2.0.0 Bye\r\n");
    assert_eq!(drained.stop, Output::Closed);
}

// Defect 3: one read of more than about 1 MiB in the middle of DATA closed the session with
// `421 4.7.0 Too much input`.
#[test]
fn a_read_of_several_mebibytes_inside_data_flows_through() {
    let mut config = config();
    config.max_message_size = Some(64 << 20);
    let mut s = session(config);
    s.handle_input(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    let mut received = 0;
    let mut fed = false;
    let mut sent = String::new();
    loop {
        match s.poll_output() {
            Output::Transmit(bytes) => sent.push_str(std::str::from_utf8(&bytes).unwrap()),
            Output::Event(ServerEvent::BodyChunk(chunk)) => received += chunk.len(),
            Output::Event(event) => {
                if let Some(ticket) = event.ticket() {
                    s.accept(ticket).unwrap();
                }
            }
            Output::Wait(_) if !fed => {
                fed = true;
                let mut read = vec![b'x'; 3 << 20];
                read.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
                s.handle_input(&read);
            }
            Output::Wait(_) => s.handle_eof(),
            Output::Closed => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(received, (3 << 20) + 2);
    assert!(sent.ends_with("250 2.0.0 Message accepted\r\n221 2.0.0 Bye\r\n"), "{sent}");
}

#[test]
fn an_owned_read_becomes_body_chunks_without_a_copy() {
    let mut s = session(config());
    s.handle_input(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    for kind in [TicketKind::Mail, TicketKind::Rcpt, TicketKind::Data] {
        let drained = drain(&mut s);
        s.accept(ticket(&drained.events, kind)).unwrap();
    }
    assert!(matches!(drain(&mut s).stop, Output::Wait(_)));
    let read = BytesMut::from(&b"Hello, world\r\nsecond line\r\n"[..]);
    let range = read.as_ptr() as usize..read.as_ptr() as usize + read.len();
    s.handle_input_buf(read);
    let drained = drain(&mut s);
    let chunks: Vec<_> = drained
        .events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::BodyChunk(chunk) => Some(chunk.clone()),
            _ => None,
        })
        .collect();
    assert!(!chunks.is_empty());
    for chunk in chunks {
        assert!(range.contains(&(chunk.as_ptr() as usize)), "the chunk is a slice of the read");
    }
}

// Defect 4: after `Closed`, a late `accept` succeeded and the next poll transmitted.
#[test]
fn closed_is_final_and_a_late_decision_changes_nothing() {
    let mut s = session(config());
    s.handle_input(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
    let drained = drain(&mut s);
    let mail = ticket(&drained.events, TicketKind::Mail);
    s.close();
    let drained = drain(&mut s);
    assert!(drained.sent.ends_with("421 4.3.2 Service shutting down, closing connection\r\n"), "{}", drained.sent);
    assert_eq!(drained.stop, Output::Closed);
    assert_eq!(s.accept(mail), Err(DecisionError::Closed));
    for _ in 0..3 {
        assert_eq!(s.poll_output(), Output::Closed);
    }
    s.handle_input(b"NOOP\r\n");
    assert_eq!(s.poll_output(), Output::Closed);
}

// Defect 4: on end of input, replies owed to outstanding decisions were dropped although
// commands already received are to be answered.
#[test]
fn end_of_input_still_answers_every_decision_owed() {
    let mut s = session(config());
    s.handle_input(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
    let mail = ticket(&drain(&mut s).events, TicketKind::Mail);
    s.accept(mail).unwrap();
    s.handle_input(b"RCPT TO:<c@d.example>\r\nRCPT TO:<e@d.example>\r\n");
    let drained = drain(&mut s);
    let rcpts: Vec<Ticket> = drained.events.iter().filter_map(ServerEvent::ticket).collect();
    assert_eq!(rcpts.len(), 2);
    s.handle_eof();
    let drained = drain(&mut s);
    assert_eq!(pending(&drained.stop), (2, false), "the session waits for the decisions, not the peer");
    let mut rcpts = rcpts.into_iter();
    let (first, second) = (rcpts.next().unwrap(), rcpts.next().unwrap());
    s.reject(second, Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "No such user")).unwrap();
    s.accept(first).unwrap();
    let drained = drain(&mut s);
    assert_eq!(drained.sent, "250 2.1.5 Recipient OK\r\n550 5.1.0 No such user\r\n");
    assert!(matches!(&drained.events[..], [ServerEvent::TransactionAborted(AbortReason::Eof)]));
    assert_eq!(drained.stop, Output::Closed);
}

// Defect 5: `tls_established()` without `Output::StartTls` marked the connection TLS.
#[test]
fn tls_established_without_a_handshake_is_a_misuse_and_changes_nothing() {
    let mut config = config();
    config.starttls = true;
    config.requiretls = true;
    config.auth_mechanisms = vec![smtp_sansio::sasl::Mechanism::Plain];
    let mut s = session(config);
    drain(&mut s);
    assert_eq!(s.tls_established(), Err(MisuseError::NoHandshake));
    assert!(!s.is_tls());
    s.handle_input(b"EHLO c\r\n");
    let drained = drain(&mut s);
    assert!(drained.sent.contains("250-STARTTLS\r\n"), "{}", drained.sent);
    assert!(!drained.sent.contains("AUTH") && !drained.sent.contains("REQUIRETLS"), "{}", drained.sent);
}

// Defect 6: tickets were plain counters, valid in any session.
#[test]
fn a_ticket_of_another_session_is_refused() {
    let server = config().build().unwrap();
    let (mut a, mut b) = (ServerSession::new(&server), ServerSession::new(&server));
    for s in [&mut a, &mut b] {
        s.handle_input(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
    }
    let from_a = ticket(&drain(&mut a).events, TicketKind::Mail);
    let from_b = ticket(&drain(&mut b).events, TicketKind::Mail);
    assert_eq!(b.accept(from_a.clone()), Err(DecisionError::OtherSession));
    assert_eq!(pending(&drain(&mut b).stop).0, 1, "b still waits for its own decision");
    b.accept(from_b.clone()).unwrap();
    assert_eq!(b.accept(from_b), Err(DecisionError::Stale), "a ticket is answered once");
    a.accept(from_a).unwrap();
}

// Defect 6: a generic catch-all `accept` accepted every password.
#[test]
fn a_catch_all_that_accepts_every_ticket_never_accepts_credentials() {
    let mut config = config();
    config.auth_mechanisms = vec![smtp_sansio::sasl::Mechanism::Plain];
    config.plaintext_auth = true;
    let mut s = session(config);
    // AUTH PLAIN \0tim\0wrong
    s.handle_input(b"EHLO c\r\nAUTH PLAIN AHRpbQB3cm9uZw==\r\n");
    let drained = drain(&mut s);
    for event in &drained.events {
        // The natural catch-all of an application.
        if let Some(ticket) = event.ticket() {
            s.accept(ticket).unwrap();
        }
    }
    assert!(!s.is_authenticated());
    let drained2 = drain(&mut s);
    assert_eq!(pending(&drained2.stop).0, 1, "the credentials still wait for a deliberate decision");
    s.reject_auth(auth_ticket(&drained.events), Reply::new(ReplyCode::AUTH_FAILED, "5.7.8 Bad credentials")).unwrap();
    assert_eq!(drain(&mut s).sent, "535 5.7.8 Bad credentials\r\n");
    assert!(!s.is_authenticated());
}

// Defect 6: a VRFY or EXPN the application did not answer blocked the session for good,
// and the documented loops hung or panicked on `VRFY x`.
#[test]
fn vrfy_and_expn_are_answered_by_the_session_unless_the_application_asks() {
    check_transcript(
        &config(),
        "S: 220 mx.example.org ESMTP ready
        C: HELO c.example
        S: 250 mx.example.org
        C: VRFY x
        S: 252 2.5.0 Cannot verify the user, but will try delivery
        C: EXPN staff
        S: 502 5.5.1 EXPN not available
        C: QUIT
        S: 221 2.0.0 Bye",
        &|_| panic!("no decision is asked for"),
    );
    let mut config = config();
    (config.decide_vrfy, config.decide_expn) = (true, true);
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Verify { .. } => Verdict::AcceptWith(Reply::new(ReplyCode::OK, "Tim <tim@example.org>")),
        _ => Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.7.1 Not for you")),
    };
    check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: HELO c.example
        S: 250 mx.example.org
        C: VRFY tim
        S: 250 2.1.5 Tim <tim@example.org>
        C: EXPN staff
        S: 550 5.7.1 Not for you
        C: QUIT
        S: 221 2.0.0 Bye",
        &decide,
    );
}

// Defect 7: `reject(ticket, 421 ...)` sent the 421 and kept the session open.
#[test]
fn a_421_decision_closes_once_it_is_sent() {
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("<second") => {
            Verdict::Reject(Reply::new(ReplyCode::new(421).unwrap(), "4.3.2 Shutting down"))
        }
        _ => Verdict::Accept,
    };
    let run = run(
        &config(),
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<first@d.example>\r\nRCPT TO:<second@d.example>\r\n\
          RCPT TO:<third@d.example>\r\nNOOP\r\n",
        &decide,
    );
    assert!(
        run.sent.ends_with("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n421 4.3.2 Shutting down\r\n"),
        "{}",
        run.sent
    );
    assert!(run.closed);
}

#[test]
fn close_with_a_reply_waits_for_nothing_and_aborts_the_transaction() {
    let mut s = session(config());
    s.handle_input(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
    let mail = ticket(&drain(&mut s).events, TicketKind::Mail);
    s.accept(mail).unwrap();
    drain(&mut s);
    assert_eq!(s.close_with(Reply::new(ReplyCode::START_MAIL_INPUT, "no")), Err(DecisionError::WrongCode));
    s.close_with(Reply::new(ReplyCode::new(421).unwrap(), "4.7.0 Too many failed logins")).unwrap();
    let drained = drain(&mut s);
    assert_eq!(drained.sent, "421 4.7.0 Too many failed logins\r\n");
    assert!(matches!(&drained.events[..], [ServerEvent::TransactionAborted(AbortReason::Closed)]));
    assert_eq!(drained.stop, Output::Closed);
    assert_eq!(s.close_with(Reply::new(ReplyCode::new(421).unwrap(), "again")), Err(DecisionError::Closed));
}

// Defect 7: there was no way to refuse a connection at the greeting (RFC 5321 section 3.1).
#[test]
fn a_connection_refused_at_the_greeting_honours_only_quit() {
    let server = config().build().unwrap();
    let reply = Reply::new(ReplyCode::TRANSACTION_FAILED, "No SMTP service for you");
    let mut s = ServerSession::refusing(&server, reply).unwrap();
    s.handle_input(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nNOOP\r\nQUIT\r\nNOOP\r\n");
    let drained = drain(&mut s);
    assert!(drained.events.is_empty(), "nothing reaches the application: {:?}", drained.events);
    assert_eq!(
        drained.sent,
        "554 No SMTP service for you\r\n503 5.5.1 No SMTP service here, send QUIT\r\n\
         503 5.5.1 No SMTP service here, send QUIT\r\n503 5.5.1 No SMTP service here, send QUIT\r\n221 2.0.0 Bye\r\n"
    );
    assert_eq!(drained.stop, Output::Closed);
    let ok = Reply::new(ReplyCode::OK, "fine");
    assert_eq!(ServerSession::refusing(&server, ok).err(), Some(DecisionError::WrongCode));
}

// Defect 7: the application could not refuse a client by its HELO/EHLO name.
#[test]
fn the_application_may_decide_helo_and_ehlo() {
    let mut config = config();
    config.decide_hello = true;
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Hello { host, .. } if host.to_string() == "localhost" => {
            Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.7.1 You are not localhost"))
        }
        _ => Verdict::Accept,
    };
    let run = check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: EHLO localhost
        S: 550 5.7.1 You are not localhost
        C: MAIL FROM:<a@b.example>
        S: 503 5.5.1 Send EHLO or HELO first
        C: HELO c.example
        S: 250 mx.example.org
        C: MAIL FROM:<a@b.example>
        S: 250 2.1.0 Sender OK
        C: QUIT
        S: 221 2.0.0 Bye",
        &decide,
    );
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, support::server::Seen::Event(t) if t.starts_with("Hello { ticket: Some")))
    );
}

fn lmtp() -> ServerConfig {
    let mut config = config();
    config.lmtp = true;
    config
}

// Defect 8: a refused LMTP body got one reply instead of one per accepted recipient.
#[test]
fn lmtp_refused_body_gets_one_reply_per_accepted_recipient() {
    let mut config = lmtp();
    config.max_message_size = Some(10);
    let too_big = run(
        &config,
        b"LHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<one@d.example>\r\nRCPT TO:<two@d.example>\r\nDATA\r\n\
          far more than ten octets\r\n.\r\nQUIT\r\n",
        &|_| Verdict::Accept,
    );
    assert!(
        too_big.sent.ends_with(
            "354 End data with <CR><LF>.<CR><LF>\r\n552 5.3.4 Message size exceeds fixed limit\r\n\
             552 5.3.4 Message size exceeds fixed limit\r\n221 2.0.0 Bye\r\n"
        ),
        "{}",
        too_big.sent
    );
    let bare = run(
        &lmtp(),
        b"LHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<one@d.example>\r\nRCPT TO:<two@d.example>\r\n\
          RCPT TO:<three@d.example>\r\nDATA\r\nbare\nline\r\n.\r\nQUIT\r\n",
        &|event| match event {
            ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("<two") => {
                Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.1.1 No"))
            }
            _ => Verdict::Accept,
        },
    );
    let refusals = bare.sent.matches("550 5.5.2 Message contains a bare CR or LF").count();
    assert_eq!(refusals, 2, "two recipients were accepted: {}", bare.sent);
}

#[test]
fn lmtp_refused_bdat_message_gets_one_reply_per_accepted_recipient() {
    let mut config = lmtp();
    config.max_message_size = Some(10);
    let run = run(
        &config,
        b"LHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<one@d.example>\r\nRCPT TO:<two@d.example>\r\n\
          BDAT 8\r\n12345678BDAT 8 LAST\r\n12345678QUIT\r\n",
        &|_| Verdict::Accept,
    );
    assert!(
        run.sent.ends_with(
            "250 2.0.0 8 octets received\r\n552 5.3.4 Message size exceeds fixed limit\r\n\
             552 5.3.4 Message size exceeds fixed limit\r\n221 2.0.0 Bye\r\n"
        ),
        "{}",
        run.sent
    );
}

// Defect 8: LMTP DATA with no accepted recipient got 554; RFC 2033 section 4.2 says 503.
#[test]
fn lmtp_data_without_recipients_gets_503() {
    let data =
        run(&lmtp(), b"LHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<one@d.example>\r\nDATA\r\nQUIT\r\n", &|event| {
            match event {
                ServerEvent::Rcpt { .. } => Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.1.1 No")),
                _ => Verdict::Accept,
            }
        });
    assert!(data.sent.ends_with("550 5.1.1 No\r\n503 5.5.1 No valid recipients\r\n221 2.0.0 Bye\r\n"), "{}", data.sent);
    let bdat = run(
        &lmtp(),
        b"LHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<one@d.example>\r\nBDAT 2 LAST\r\nhiQUIT\r\n",
        &|event| match event {
            ServerEvent::Rcpt { .. } => Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.1.1 No")),
            _ => Verdict::Accept,
        },
    );
    assert!(bdat.sent.ends_with("550 5.1.1 No\r\n503 5.5.1 No valid recipients\r\n221 2.0.0 Bye\r\n"), "{}", bdat.sent);
}

// Defect 11: MAIL and RCPT lines were capped at 512 octets whatever was offered.
#[test]
fn mail_and_rcpt_lines_grow_with_the_extensions_offered() {
    // RFC 3461 section 4 allows a RCPT line 500 octets longer than 512: this one is 579.
    let start = format!("RCPT TO:<{}@example.org> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;", "r".repeat(64));
    let rcpt = format!("{start}{}@example.org", "o".repeat(579 - 2 - start.len() - "@example.org".len()));
    assert_eq!(rcpt.len() + 2, 579, "a 579-octet RCPT line");
    let mut with_dsn = config();
    with_dsn.dsn = true;
    let input = format!("EHLO c\r\nMAIL FROM:<a@b.example> RET=HDRS ENVID=x\r\n{rcpt}\r\nQUIT\r\n");
    let ok = run(&with_dsn, input.as_bytes(), &|_| Verdict::Accept);
    assert!(ok.sent.ends_with("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n221 2.0.0 Bye\r\n"), "{}", ok.sent);
    let input = format!("EHLO c\r\nMAIL FROM:<a@b.example>\r\n{rcpt}\r\nQUIT\r\n");
    let without = run(&config(), input.as_bytes(), &|_| Verdict::Accept);
    assert!(without.sent.contains("500 5.5.6 Line too long\r\n"), "{}", without.sent);
}

// Defect 12: an application reply without an enhanced status code went out without one
// although ENHANCEDSTATUSCODES was offered (RFC 2034 section 3).
#[test]
fn application_replies_get_the_enhanced_code_their_command_calls_for() {
    let decide = |event: &ServerEvent| {
        let no = |code: u16, text: &'static str| Verdict::Reject(Reply::new(ReplyCode::new(code).unwrap(), text));
        match event {
            ServerEvent::Mail { .. } => Verdict::AcceptWith(Reply::new(ReplyCode::OK, "Sender fine")),
            ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("<no") => no(550, "Unknown"),
            ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("<given") => {
                no(550, "5.1.1 Given by the application")
            }
            ServerEvent::Rcpt { .. } => Verdict::AcceptWith(Reply::new(ReplyCode::OK, "Fine")),
            ServerEvent::MessageEnd { .. } => no(451, "Try later"),
            _ => Verdict::Accept,
        }
    };
    let input = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<no@d.example>\r\nRCPT TO:<given@d.example>\r\n\
                  RCPT TO:<yes@d.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n";
    let run_on = run(&config(), input, &decide);
    assert!(
        run_on.sent.contains(
            "250 2.1.0 Sender fine\r\n550 5.1.0 Unknown\r\n550 5.1.1 Given by the application\r\n250 2.1.5 Fine\r\n\
             354 End data with <CR><LF>.<CR><LF>\r\n451 4.0.0 Try later\r\n"
        ),
        "{}",
        run_on.sent
    );
    let mut plain = config();
    plain.enhanced_status_codes = false;
    let run_off = run(&plain, input, &decide);
    assert!(run_off.sent.contains("550 Unknown\r\n"), "{}", run_off.sent);
}

// Defect 13: EHLO did not list EXPN although EXPN was served, nor HELP.
#[test]
fn ehlo_lists_help_expn_when_served_and_the_applications_keywords() {
    let mut config = config();
    config.decide_expn = true;
    config.extra_keywords = vec!["XSECURE ON".into(), "X-EXPS".into()];
    let run = run(&config, b"EHLO c\r\nQUIT\r\n", &|_| Verdict::Accept);
    assert!(
        run.sent.contains("250-ENHANCEDSTATUSCODES\r\n250-EXPN\r\n250-HELP\r\n250-XSECURE ON\r\n250 X-EXPS\r\n"),
        "{}",
        run.sent
    );
}

// Defect 14: configurations that contradict themselves or cannot go on the wire were
// never checked.
#[test]
fn contradictory_configurations_are_refused_when_built() {
    let with = |change: &dyn Fn(&mut ServerConfig)| {
        let mut config = ServerConfig::new("mx.example.org");
        change(&mut config);
        config.build().err()
    };
    use smtp_sansio::sasl::Mechanism;
    assert_eq!(with(&|_| {}), None);
    assert_eq!(
        with(&|c| c.hostname = "mx.example.org\r\n250 x".into()),
        Some(ConfigError::Hostname("mx.example.org\r\n250 x".into()))
    );
    assert_eq!(
        with(&|c| c.hostname = "bad_name.example".into()),
        Some(ConfigError::Hostname("bad_name.example".into()))
    );
    assert_eq!(with(&|c| c.greeting = "ready\r\n250 injected".into()), Some(ConfigError::Greeting));
    assert_eq!(with(&|c| c.auth_mechanisms = vec![Mechanism::Plain]), Some(ConfigError::AuthNeverOffered));
    assert_eq!(
        with(&|c| {
            c.auth_mechanisms = vec![Mechanism::Plain];
            c.starttls = true;
        }),
        None
    );
    assert_eq!(with(&|c| c.submission = true), Some(ConfigError::SubmissionWithoutAuth));
    assert_eq!(with(&|c| c.eight_bit_mime = false), Some(ConfigError::Smtputf8WithoutEightBitMime));
    assert_eq!(
        with(&|c| {
            c.binary_mime = true;
            c.chunking = false;
        }),
        Some(ConfigError::BinaryMimeWithoutChunking)
    );
    assert_eq!(with(&|c| c.requiretls = true), Some(ConfigError::RequireTlsWithoutTls));
    assert_eq!(with(&|c| c.max_message_size = Some(0)), Some(ConfigError::Limit("max_message_size")));
    assert_eq!(with(&|c| c.max_recipients = 0), Some(ConfigError::Limit("max_recipients")));
    assert_eq!(with(&|c| c.max_command_line = 100), Some(ConfigError::Limit("max_command_line")));
    assert_eq!(
        with(&|c| c.extra_keywords = vec!["AUTH PLAIN".into()]),
        Some(ConfigError::Keyword("AUTH PLAIN".into()))
    );
    assert_eq!(
        with(&|c| c.extra_keywords = vec!["X\r\n250 Y".into()]),
        Some(ConfigError::Keyword("X\r\n250 Y".into()))
    );
}

#[test]
fn an_enhanced_code_of_another_class_than_the_reply_is_refused() {
    let mut s = session(config());
    s.handle_input(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
    let mail = ticket(&drain(&mut s).events, TicketKind::Mail);
    let mixed = Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "2.1.0 Fine?");
    assert_eq!(s.reject(mail.clone(), mixed), Err(DecisionError::WrongCode));
    let typed = Reply::new(ReplyCode::OK, "Fine").with_enhanced(smtp_sansio::EnhancedStatus::new(5, 1, 0));
    assert_eq!(s.accept_with(mail.clone(), typed), Err(DecisionError::WrongCode));
    s.accept(mail).unwrap();
    assert_eq!(drain(&mut s).sent, "250 2.1.0 Sender OK\r\n");
}

// RFC 2920 section 3.2: the reply to a command that failed is not held back behind the
// pipelined input that follows it.
#[test]
fn replies_to_failed_commands_are_sent_before_more_input_is_read() {
    let mut s = session(config());
    drain(&mut s);
    s.handle_input(b"EHLO c\r\n");
    drain(&mut s);
    s.handle_input(b"BOGUS\r\nMAIL FROM:<a@b.example>\r\n");
    let first = s.poll_output();
    assert_eq!(first, Output::Transmit(bytes::Bytes::from_static(b"500 5.5.2 command unrecognized\r\n")));
}
