//! Bad and hostile input to a server session: each known attack class has a named
//! test, and every input is fed whole, byte by byte and split at random.

mod support;

use smtp_sansio::server::{AbortReason, BareLineEndingPolicy, ServerEvent, ServerSession};
use smtp_sansio::{Output, sasl::Mechanism};
use support::server::{Seen, accept_all, check_transcript, config, run, run_pieces};

fn names(run: &support::server::Run) -> Vec<String> {
    run.events
        .iter()
        .map(|e| match e {
            Seen::Event(text) => text.split([' ', '(']).next().unwrap_or("").to_string(),
            Seen::Body(_) => "Body".into(),
            Seen::StartTls => "StartTls".into(),
        })
        .collect()
}

const GREETED: &str = "C: HELO client.example.net\nS: 250 mx.example.org\n";

#[test]
fn overlong_line_is_answered_once_and_the_next_command_runs() {
    let mut client = b"HELO client.example.net\r\nNOOP ".to_vec();
    client.extend(std::iter::repeat_n(b'x', 1 << 20));
    client.extend_from_slice(b"\r\nNOOP\r\nQUIT\r\n");
    // Fed in 4 KiB reads: the session must not keep the megabyte.
    let mut session = ServerSession::new(&config().build().unwrap());
    let mut sent = Vec::new();
    let mut pieces = client.chunks(4096);
    let mut largest = 0;
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Wait(_) => match pieces.next() {
                Some(piece) => {
                    session.handle_input(piece);
                    largest = largest.max(session.buffered_input());
                }
                None => session.handle_eof(),
            },
            Output::Closed => break,
            Output::Event(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(largest <= 4096 + 12288, "held {largest} bytes of an overlong line");
    assert_eq!(
        String::from_utf8(sent).unwrap(),
        "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n500 5.5.6 Line too long\r\n250 2.0.0 OK\r\n221 2.0.0 Bye\r\n"
    );
}

#[test]
fn line_over_512_octets_is_too_long_but_auth_may_be_longer() {
    let long_noop = format!("NOOP {}", "x".repeat(510));
    let mut config = config();
    config.auth_mechanisms = vec![Mechanism::Plain];
    config.plaintext_auth = true;
    let token = smtp_sansio::sasl::encode_base64(format!("\0user\0{}", "p".repeat(6000)).as_bytes());
    let run = check_transcript(
        &config,
        &format!(
            "S: 220 mx.example.org ESMTP ready
            C: {long_noop}
            S: 500 5.5.6 Line too long
            C: EHLO client.example.net
            S: 250-mx.example.org
            S: 250-PIPELINING
            S: 250-SIZE 10240000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-CHUNKING
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN
            S: 250 HELP
            C: AUTH PLAIN {token}
            S: 235 2.7.0 Authentication succeeded
            C: QUIT
            S: 221 2.0.0 Bye"
        ),
        &accept_all,
    );
    assert!(names(&run).contains(&"Auth".to_string()));
}

#[test]
fn nul_and_8bit_bytes_in_commands_are_refused() {
    let client = b"HELO client.example.net\r\nNOOP a\0b\r\nMAIL FROM:<\xff@example.net>\r\nRSET\x00\r\nQUIT\r\n";
    let run = run(&config(), client, &accept_all);
    assert_eq!(
        run.sent,
        "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n501 5.5.2 invalid characters in command\r\n\
         501 5.5.2 invalid characters in command\r\n501 5.5.2 invalid characters in command\r\n221 2.0.0 Bye\r\n"
    );
}

#[test]
fn empty_lines_are_unknown_commands() {
    check_transcript(
        &config(),
        "S: 220 mx.example.org ESMTP ready
        C:
        S: 500 5.5.2 command unrecognized
        C: QUIT
        S: 221 2.0.0 Bye",
        &accept_all,
    );
}

#[test]
fn http_request_to_the_smtp_port_closes_the_connection() {
    let run = run(&config(), b"GET / HTTP/1.1\r\nHost: mx.example.org\r\n\r\n", &accept_all);
    // Issue 11: `221 2.7.0` and close, as Postfix does.
    assert_eq!(run.sent, "220 mx.example.org ESMTP ready\r\n221 2.7.0 This is an SMTP server, closing connection\r\n");
    assert!(run.closed);
    let run = support::server::run(&config(), b"POST /x HTTP/1.0\r\nEHLO a.example\r\n", &accept_all);
    assert!(run.sent.ends_with("221 2.7.0 This is an SMTP server, closing connection\r\n"), "{}", run.sent);
}

#[test]
fn commands_sent_before_the_greeting_are_answered_after_it() {
    let mut session = ServerSession::new(&config().build().unwrap());
    session.handle_input(b"HELO early.example\r\nQUIT\r\n");
    let mut sent = Vec::new();
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Closed => break,
            Output::Event(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sent, b"220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n221 2.0.0 Bye\r\n");
}

/// Bodies that hide a second message behind an ending some servers take for the end of
/// data. The session must read each to the real `<CRLF>.<CRLF>`, never execute the
/// smuggled `MAIL`, and with the default policy refuse the message.
const SMUGGLING_ENDINGS: [&[u8]; 8] =
    [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r", b"\r\n.\r\r\n", b"\r\n\x00.\r\n"];

fn smuggling_client(ending: &[u8]) -> Vec<u8> {
    let mut client =
        b"HELO client.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n".to_vec();
    client.extend_from_slice(b"Subject: one");
    client.extend_from_slice(ending);
    client.extend_from_slice(
        b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nsmuggled\r\n.\r\nQUIT\r\n",
    );
    client
}

#[test]
fn smuggling_end_of_data_variants_are_refused_by_default() {
    // The NUL variant has no bare ending: its own test below.
    for ending in SMUGGLING_ENDINGS.into_iter().filter(|ending| !ending.contains(&0)) {
        let run = run(&config(), &smuggling_client(ending), &accept_all);
        let events = names(&run);
        assert_eq!(events.iter().filter(|e| *e == "Mail").count(), 1, "{ending:?}: {events:?}");
        assert!(!events.contains(&"MessageEnd".to_string()), "{ending:?}: {events:?}");
        assert!(run.sent.contains("550 5.5.2 Message contains a bare CR or LF"), "{ending:?}: {}", run.sent);
        assert!(run.sent.ends_with("221 2.0.0 Bye\r\n"), "{ending:?}: {}", run.sent);
    }
}

#[test]
fn smuggling_nul_variant_is_one_message_holding_the_smuggled_text() {
    let run = run(&config(), &smuggling_client(b"\r\n\x00.\r\n"), &accept_all);
    let bodies: Vec<&Vec<u8>> =
        run.events.iter().filter_map(|e| if let Seen::Body(b) = e { Some(b) } else { None }).collect();
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].windows(10).any(|w| w == b"MAIL FROM:"), "smuggled text must stay in the body");
    assert_eq!(names(&run).iter().filter(|e| *e == "MessageEnd").count(), 1);
}

#[test]
fn smuggling_variants_pass_through_as_data_under_the_pass_policy() {
    let mut config = config();
    config.bare_line_endings = BareLineEndingPolicy::Pass;
    for ending in SMUGGLING_ENDINGS {
        let run = run(&config, &smuggling_client(ending), &accept_all);
        let events = names(&run);
        assert_eq!(events.iter().filter(|e| *e == "Mail").count(), 1, "{ending:?}: {events:?}");
        assert_eq!(events.iter().filter(|e| *e == "MessageEnd").count(), 1, "{ending:?}");
        let body = run.events.iter().find_map(|e| if let Seen::Body(b) = e { Some(b.clone()) } else { None }).unwrap();
        // A dot after CRLF is stuffing, and goes; the rest of the ending stays.
        let kept = match ending.strip_prefix(b"\r\n.") {
            Some(rest) => [&b"\r\n"[..], rest].concat(),
            None => ending.to_vec(),
        };
        assert!(body.windows(kept.len()).any(|w| w == kept), "{ending:?} must be in the body");
        assert!(body.windows(15).any(|w| w == b"MAIL FROM:<evil"), "{ending:?}: smuggled text is data");
    }
}

#[test]
fn smuggling_variants_are_rewritten_under_the_normalize_policy() {
    let mut config = config();
    config.bare_line_endings = BareLineEndingPolicy::Normalize;
    let run = run(&config, &smuggling_client(b"\n.\n"), &accept_all);
    let body = run.events.iter().find_map(|e| if let Seen::Body(b) = e { Some(b.clone()) } else { None }).unwrap();
    assert!(body.starts_with(b"Subject: one\r\n.\r\nMAIL FROM:"), "{:?}", String::from_utf8_lossy(&body));
    assert!(!body.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'), "a bare LF survived");
}

#[test]
fn starttls_injection_is_discarded_and_reported() {
    let mut config = config();
    config.starttls = true;
    let run = run(
        &config,
        b"EHLO client.example.net\r\nSTARTTLS\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.org>\r\n",
        &accept_all,
    );
    assert!(run.sent.ends_with("250-STARTTLS\r\n250 HELP\r\n220 2.0.0 Ready to start TLS\r\n"), "{}", run.sent);
    let events = names(&run);
    assert!(!events.contains(&"Mail".to_string()), "{events:?}");
    assert!(events.contains(&"PlaintextDiscarded".to_string()), "{events:?}");
    assert!(events.contains(&"StartTls".to_string()), "{events:?}");
}

#[test]
fn starttls_forgets_everything_and_is_not_offered_again() {
    let mut config = config();
    config.starttls = true;
    config.auth_mechanisms = vec![Mechanism::Plain];
    check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: EHLO client.example.net
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250-SIZE 10240000
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-CHUNKING
        S: 250-ENHANCEDSTATUSCODES
        S: 250-STARTTLS
        S: 250 HELP
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: STARTTLS
        S: 220 2.0.0 Ready to start TLS
        TLS
        C: MAIL FROM:<a@example.net>
        S: 503 5.5.1 Send EHLO or HELO first
        C: EHLO client.example.net
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250-SIZE 10240000
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-CHUNKING
        S: 250-ENHANCEDSTATUSCODES
        S: 250-AUTH PLAIN
        S: 250 HELP
        C: STARTTLS
        S: 503 5.5.1 TLS already active
        C: QUIT
        S: 221 2.0.0 Bye",
        &accept_all,
    );
}

#[test]
fn pipelined_transaction_in_one_packet_is_answered_in_order() {
    let run = check_transcript(
        &config(),
        "S: 220 mx.example.org ESMTP ready
        C: HELO client.example.net
        S: 250 mx.example.org
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@example.org>
        S: 250 2.1.5 Recipient OK
        C: RCPT TO:<c@example.org>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        C: hi
        C: .
        S: 250 2.0.0 Message accepted
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<d@example.org>
        S: 250 2.1.5 Recipient OK
        C: QUIT
        S: 221 2.0.0 Bye",
        &accept_all,
    );
    assert_eq!(names(&run).last().map(String::as_str), Some("TransactionAborted"));
}

#[test]
fn body_sent_after_a_refused_data_is_read_as_commands() {
    // RFC 2920 section 3.1: DATA ends a group; a client that sends its body anyway
    // after a DATA that fails gets each line answered as a command.
    check_transcript(
        &config(),
        &format!(
            "S: 220 mx.example.org ESMTP ready
            {GREETED}C: MAIL FROM:<a@example.net>
            S: 250 2.1.0 Sender OK
            C: DATA
            S: 554 5.5.1 No valid recipients
            C: RSET
            S: 250 2.0.0 Reset
            C: .
            S: 500 5.5.2 command unrecognized
            C: QUIT
            S: 221 2.0.0 Bye"
        ),
        &accept_all,
    );
}

#[test]
fn auth_edge_cases() {
    let mut config = config();
    config.auth_mechanisms = vec![Mechanism::Plain, Mechanism::Login];
    config.plaintext_auth = true;
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Auth { credentials, .. } if matches!(&**credentials, smtp_sansio::sasl::Credentials::Password { password, .. } if password == "wrong") => {
            support::server::Verdict::Reject(smtp_sansio::Reply::new(smtp_sansio::ReplyCode::AUTH_FAILED, "Nope"))
        }
        _ => support::server::Verdict::Accept,
    };
    let plain = |password: &str| smtp_sansio::sasl::encode_base64(format!("\0tim\0{password}").as_bytes());
    check_transcript(
        &config,
        &format!(
            "S: 220 mx.example.org ESMTP ready
            C: AUTH PLAIN {ok}
            S: 503 5.5.1 Send EHLO first
            C: EHLO client.example.net
            S: 250-mx.example.org
            S: 250-PIPELINING
            S: 250-SIZE 10240000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-CHUNKING
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: AUTH CRAM-MD5
            S: 504 5.5.4 Unrecognized authentication type
            C: AUTH PLAIN
            S: 334 
            C: *
            S: 501 5.7.0 Authentication cancelled
            C: AUTH PLAIN not=base64!
            S: 501 5.5.2 invalid base64 in AUTH
            C: AUTH PLAIN
            S: 334 
            C: %%%%
            S: 501 5.5.2 Invalid base64 data
            C: AUTH PLAIN {bad}
            S: 535 5.7.0 Nope
            C: AUTH LOGIN
            S: 334 VXNlcm5hbWU6
            C: dGlt
            S: 334 UGFzc3dvcmQ6
            C: *
            S: 501 5.7.0 Authentication cancelled
            C: MAIL FROM:<a@example.net>
            S: 250 2.1.0 Sender OK
            C: AUTH PLAIN {ok}
            S: 503 5.5.1 AUTH not allowed in a transaction
            C: RSET
            S: 250 2.0.0 Reset
            C: AUTH PLAIN {ok}
            S: 235 2.7.0 Authentication succeeded
            C: AUTH PLAIN {ok}
            S: 503 5.5.1 Already authenticated
            C: QUIT
            S: 221 2.0.0 Bye",
            ok = plain("right"),
            bad = plain("wrong"),
        ),
        &decide,
    );
}

#[test]
fn auth_before_tls_is_refused_with_538() {
    let mut config = config();
    config.auth_mechanisms = vec![Mechanism::Plain];
    config.starttls = true;
    check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: EHLO client.example.net
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250-SIZE 10240000
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-CHUNKING
        S: 250-ENHANCEDSTATUSCODES
        S: 250-STARTTLS
        S: 250 HELP
        C: AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm
        S: 538 5.7.11 Encryption required for requested authentication mechanism
        C: QUIT
        S: 221 2.0.0 Bye",
        &accept_all,
    );
}

#[test]
fn bdat_with_wrong_sizes() {
    // A size that runs past the data: the rest of the stream is the chunk, then EOF
    // aborts the transaction.
    let run = run(
        &config(),
        b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nBDAT 100 LAST\r\nshort\r\nQUIT\r\n",
        &accept_all,
    );
    let events = names(&run);
    assert_eq!(events.last().map(String::as_str), Some("TransactionAborted"), "{events:?}");
    assert!(!events.contains(&"MessageEnd".to_string()));
    assert!(run.events.iter().any(|e| e == &Seen::Event(format!("TransactionAborted({:?})", AbortReason::Eof))));
    assert!(!run.sent.contains("221"), "QUIT was part of the chunk: {}", run.sent);
    // A chunk without MAIL is read and dropped.
    let run = support::server::run(&config(), b"EHLO c.example\r\nBDAT 4\r\nQUITBDAT 0 LAST\r\nQUIT\r\n", &accept_all);
    assert!(
        run.sent.ends_with("503 5.5.1 Send MAIL first\r\n503 5.5.1 Send MAIL first\r\n221 2.0.0 Bye\r\n"),
        "{}",
        run.sent
    );
    // Issue 11: a size that is not a number: what follows cannot be framed, so the
    // session answers and closes.
    let run = support::server::run(&config(), b"EHLO c.example\r\nBDAT x\r\nNOOP\r\nQUIT\r\n", &accept_all);
    assert!(run.sent.ends_with("501 5.5.4 syntax error in parameters or arguments\r\n"), "{}", run.sent);
    assert!(run.closed);
}

#[test]
fn size_lies_are_caught_at_mail_and_in_the_body() {
    let mut config = config();
    config.max_message_size = Some(1000);
    let body = "x".repeat(80);
    let body_lines: String = (0..20).map(|_| format!("C: {body}\n")).collect();
    let run = check_transcript(
        &config,
        &format!(
            "S: 220 mx.example.org ESMTP ready
            C: EHLO c.example
            S: 250-mx.example.org
            S: 250-PIPELINING
            S: 250-SIZE 1000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-CHUNKING
            S: 250-ENHANCEDSTATUSCODES
            S: 250 HELP
            C: MAIL FROM:<a@example.net> SIZE=5000
            S: 552 5.3.4 Message size exceeds fixed limit
            C: MAIL FROM:<a@example.net> SIZE=500
            S: 250 2.1.0 Sender OK
            C: RCPT TO:<b@example.org>
            S: 250 2.1.5 Recipient OK
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            {body_lines}C: .
            S: 552 5.3.4 Message size exceeds fixed limit
            C: MAIL FROM:<a@example.net> SIZE=500
            S: 250 2.1.0 Sender OK
            C: RCPT TO:<b@example.org>
            S: 250 2.1.5 Recipient OK
            C: BDAT 600
            C: {chunk}
            S: 250 2.0.0 600 octets received
            C: BDAT 600 LAST
            C: {chunk}
            S: 552 5.3.4 Message size exceeds fixed limit
            C: QUIT
            S: 221 2.0.0 Bye",
            chunk = "y".repeat(598),
        ),
        &accept_all,
    );
    let events = names(&run);
    assert_eq!(events.iter().filter(|e| *e == "TransactionAborted").count(), 2, "{events:?}");
    assert!(!events.contains(&"MessageEnd".to_string()));
}

#[test]
fn recipient_flood_gets_452_after_the_limit() {
    let mut config = config();
    config.max_recipients = 3;
    let rcpts: String = (0..5).map(|i| format!("C: RCPT TO:<r{i}@example.org>\n")).collect();
    let replies = "S: 250 2.1.5 Recipient OK\n".repeat(3) + &"S: 452 4.5.3 Too many recipients\n".repeat(2);
    let text = format!(
        "S: 220 mx.example.org ESMTP ready
        {GREETED}C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        {rcpts}{replies}C: QUIT
        S: 221 2.0.0 Bye"
    );
    check_transcript(&config, &text, &accept_all);
}

#[test]
fn error_flood_ends_in_421() {
    let mut config = config();
    config.max_errors = 3;
    let run = run(&config, b"FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n", &accept_all);
    assert_eq!(
        run.sent,
        "220 mx.example.org ESMTP ready\r\n500 5.5.2 command unrecognized\r\n500 5.5.2 command unrecognized\r\n\
         500 5.5.2 command unrecognized\r\n421 4.7.0 Too many errors, closing connection\r\n"
    );
    assert!(run.closed);
}

#[test]
fn eof_anywhere_never_presents_half_a_message() {
    let client = b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nline one\r\n..two\r\n.\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nBDAT 5\r\nabcdeBDAT 0 LAST\r\nQUIT\r\n";
    let end_of_first = client.windows(5).position(|w| w == b"\r\n.\r\n").unwrap() + 5;
    let end_of_second = client.windows(11).position(|w| w == b"BDAT 0 LAST").unwrap() + 13;
    for cut in 0..=client.len() {
        let run = run_pieces(&config(), &[&client[..cut]], &accept_all);
        assert!(run.closed, "cut at {cut}");
        let ends = names(&run).iter().filter(|e| *e == "MessageEnd").count();
        let expected = usize::from(cut >= end_of_first) + usize::from(cut >= end_of_second);
        assert_eq!(ends, expected, "cut at {cut}: {:?}", names(&run));
        let started = names(&run).iter().filter(|e| *e == "Mail").count();
        let aborted = names(&run).iter().filter(|e| *e == "TransactionAborted").count();
        assert_eq!(started, ends + aborted, "cut at {cut}: every transaction ends one way: {:?}", names(&run));
    }
}

#[test]
fn decisions_in_any_order_give_replies_in_command_order() {
    let mut session = ServerSession::new(&config().build().unwrap());
    session.handle_input(b"HELO c.example\r\nMAIL FROM:<a@example.net>\r\n");
    let mut sent = Vec::new();
    let mut tickets = Vec::new();
    let mut fed = false;
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(ServerEvent::Mail { ticket, .. }) => session.accept(ticket).unwrap(),
            Output::Event(ServerEvent::Rcpt { ticket, command }) => tickets.push((ticket, command.to().to_string())),
            Output::Event(_) => {}
            Output::Wait(_) if !fed => {
                fed = true;
                session.handle_input(
                    b"RCPT TO:<r1@example.org>\r\nRCPT TO:<r2@example.org>\r\nRCPT TO:<r3@example.org>\r\nNOOP\r\n",
                );
            }
            Output::Pending(_) if tickets.len() == 3 => {
                // Decide the last first; nothing may go out before the first is decided.
                let before = sent.len();
                let (t3, _) = tickets.pop().unwrap();
                session
                    .reject(t3, smtp_sansio::Reply::new(smtp_sansio::ReplyCode::MAILBOX_UNAVAILABLE, "no r3"))
                    .unwrap();
                let (t2, _) = tickets.pop().unwrap();
                session.accept(t2).unwrap();
                assert!(matches!(session.poll_output(), Output::Pending(p) if p.owed() == 1));
                assert_eq!(sent.len(), before);
                let (t1, _) = tickets.pop().unwrap();
                session.accept(t1.clone()).unwrap();
                assert_eq!(session.accept(t1), Err(smtp_sansio::DecisionError::Stale));
            }
            Output::Wait(_) => session.handle_eof(),
            Output::Closed => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        String::from_utf8(sent).unwrap(),
        "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n\
         250 2.1.5 Recipient OK\r\n550 5.1.0 no r3\r\n250 2.0.0 OK\r\n"
    );
}

#[test]
fn input_flood_while_a_decision_is_pending_closes_with_bounded_memory() {
    let mut session = ServerSession::new(&config().build().unwrap());
    session.handle_input(b"HELO c.example\r\nMAIL FROM:<a@example.net>\r\n");
    let mut sent = Vec::new();
    // Drain until the session waits, and leave the MAIL decision pending.
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(_) => {}
            Output::Wait(_) | Output::Pending(_) => break,
            other => panic!("{other:?}"),
        }
    }
    // A driver that keeps reading anyway: the session stops holding input.
    let flood = vec![b'N'; 64 * 1024];
    for _ in 0..40 {
        session.handle_input(&flood);
        assert!(session.buffered_input() <= (1 << 20) + 12288);
    }
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Closed => break,
            Output::Event(_) | Output::Pending(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(String::from_utf8(sent).unwrap().ends_with("421 4.7.0 Too much input while busy, closing connection\r\n"));
}

#[test]
fn trace_protocol_follows_greeting_tls_and_auth() {
    use smtp_sansio::wire::TraceProtocol;
    let mut config = config();
    config.starttls = true;
    let mut session = ServerSession::new(&config.build().unwrap());
    assert_eq!(session.trace_protocol(), TraceProtocol::Smtp);
    session.handle_input(b"EHLO c.example\r\n");
    while !matches!(session.poll_output(), Output::Wait(_)) {}
    assert_eq!(session.trace_protocol().as_str(), "ESMTP");
    assert!(session.tls_established().is_err(), "no handshake was asked for");
    session.handle_input(b"STARTTLS\r\n");
    assert!(matches!(session.poll_output(), Output::Transmit(_)));
    assert_eq!(session.poll_output(), Output::StartTls);
    session.tls_established().unwrap();
    session.handle_input(b"EHLO c.example\r\n");
    while !matches!(session.poll_output(), Output::Wait(_)) {}
    assert_eq!(session.trace_protocol().as_str(), "ESMTPS");
}
