//! Server session extensions: CHUNKING/BINARYMIME, LMTP, AUTH mechanisms, submission,
//! timeouts and PIPELINING grouping. Each conversation is fed whole, byte by byte and
//! split at random.

mod support;

use smtp_sansio::server::{ServerEvent, ServerSession};
use smtp_sansio::{Output, Reply, ReplyCode, sasl::Credentials, sasl::Mechanism, sasl::encode_base64};
use support::server::{Seen, Verdict, accept_all, check_transcript, config, run};

fn bodies(run: &support::server::Run) -> Vec<Vec<u8>> {
    run.events.iter().filter_map(|e| if let Seen::Body(b) = e { Some(b.clone()) } else { None }).collect()
}

fn count(run: &support::server::Run, name: &str) -> usize {
    run.events.iter().filter(|e| matches!(e, Seen::Event(text) if text.starts_with(name))).count()
}

const EHLO: &str = "C: EHLO c.example
    S: 250-mx.example.org
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-8BITMIME
    S: 250-SMTPUTF8
    S: 250-CHUNKING
    S: 250-ENHANCEDSTATUSCODES
    S: 250 HELP
    ";

#[test]
fn bdat_chunks_make_one_message() {
    let run = check_transcript(
        &config(),
        &format!(
            "S: 220 mx.example.org ESMTP ready
            {EHLO}C: MAIL FROM:<a@example.net>
            S: 250 2.1.0 Sender OK
            C: RCPT TO:<b@example.org>
            S: 250 2.1.5 Recipient OK
            C: BDAT 12
            C: Subject: x
            S: 250 2.0.0 12 octets received
            C: BDAT 7 LAST
            C: .
            C: hi
            S: 250 2.0.0 Message accepted
            C: MAIL FROM:<a@example.net>
            S: 250 2.1.0 Sender OK
            C: RCPT TO:<b@example.org>
            S: 250 2.1.5 Recipient OK
            C: BDAT 0 LAST
            S: 250 2.0.0 Message accepted
            C: QUIT
            S: 221 2.0.0 Bye"
        ),
        &accept_all,
    );
    // No unstuffing in BDAT: the dot line is data.
    assert_eq!(bodies(&run), [b"Subject: x\r\n.\r\nhi\r\n".to_vec()]);
    assert_eq!(count(&run, "MessageEnd"), 2);
}

#[test]
fn bdat_and_data_do_not_mix_and_binarymime_needs_bdat() {
    let mut config = config();
    config.binary_mime = true;
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Data { .. } => Verdict::Reject(Reply::new(ReplyCode::LOCAL_ERROR, "4.3.0 Not now")),
        _ => Verdict::Accept,
    };
    check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: EHLO c.example
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250-SIZE 10240000
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-CHUNKING
        S: 250-BINARYMIME
        S: 250-ENHANCEDSTATUSCODES
        S: 250 HELP
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@example.org>
        S: 250 2.1.5 Recipient OK
        C: BDAT 3
        C: a
        S: 250 2.0.0 3 octets received
        C: DATA
        S: 503 5.5.1 DATA cannot follow BDAT in one transaction
        C: RSET
        S: 250 2.0.0 Reset
        C: MAIL FROM:<a@example.net> BODY=BINARYMIME
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@example.org>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 503 5.5.1 BODY=BINARYMIME needs BDAT
        C: BDAT 2 LAST
        C:
        S: 250 2.0.0 Message accepted
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@example.org>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 451 4.3.0 Not now
        C: BDAT 3 LAST
        C: x
        S: 250 2.0.0 Message accepted
        C: QUIT
        S: 221 2.0.0 Bye",
        &decide,
    );
}

#[test]
fn lmtp_answers_once_per_accepted_recipient() {
    let mut config = config();
    config.lmtp = true;
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("nobody@") => {
            Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "No such user"))
        }
        ServerEvent::Delivery { recipient, .. } if recipient.to().to_string().contains("full@") => {
            Verdict::Reject(Reply::new(ReplyCode::INSUFFICIENT_STORAGE, "Mailbox full"))
        }
        _ => Verdict::Accept,
    };
    let run = check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: EHLO c.example
        S: 500 5.5.1 Wrong greeting command for this protocol
        C: LHLO c.example
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250-SIZE 10240000
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-CHUNKING
        S: 250-ENHANCEDSTATUSCODES
        S: 250 HELP
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<one@example.org>
        S: 250 2.1.5 Recipient OK
        C: RCPT TO:<nobody@example.org>
        S: 550 5.1.0 No such user
        C: RCPT TO:<full@example.org>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        C: hi
        C: .
        S: 250 2.0.0 Message accepted
        S: 452 4.0.0 Mailbox full
        C: QUIT
        S: 221 2.0.0 Bye",
        &decide,
    );
    assert_eq!(count(&run, "Delivery"), 2);
    assert_eq!(count(&run, "MessageEnd"), 0);
}

fn auth_config(mechanisms: Vec<Mechanism>) -> smtp_sansio::server::ServerConfig {
    let mut config = config();
    config.auth_mechanisms = mechanisms;
    config.implicit_tls = true;
    config
}

#[test]
fn xoauth2_and_oauthbearer_hand_the_token_over() {
    let config = auth_config(vec![Mechanism::XOAuth2, Mechanism::OAuthBearer]);
    let xoauth2 = encode_base64(
        b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01",
    );
    let oauthbearer =
        encode_base64(b"n,a=user@example.com,\x01host=server.example.com\x01port=587\x01auth=Bearer tok3n\x01\x01");
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Auth { credentials, .. } if matches!(&**credentials, Credentials::Bearer { token, .. } if token == "tok3n") => {
            Verdict::Accept
        }
        ServerEvent::Auth { .. } => Verdict::Reject(Reply::new(ReplyCode::AUTH_FAILED, "5.7.8 Token expired")),
        _ => Verdict::Accept,
    };
    let run = check_transcript(
        &config,
        &format!(
            "S: 220 mx.example.org ESMTP ready
            C: EHLO c.example
            S: 250-mx.example.org
            S: 250-PIPELINING
            S: 250-SIZE 10240000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-CHUNKING
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH XOAUTH2 OAUTHBEARER
            S: 250 HELP
            C: AUTH XOAUTH2 {xoauth2}
            S: 535 5.7.8 Token expired
            C: AUTH OAUTHBEARER
            S: 334 
            C: {oauthbearer}
            S: 235 2.7.0 Authentication succeeded
            C: MAIL FROM:<user@example.com> AUTH=user@example.com
            S: 250 2.1.0 Sender OK
            C: QUIT
            S: 221 2.0.0 Bye"
        ),
        &decide,
    );
    assert_eq!(count(&run, "Auth"), 2);
}

#[test]
fn submission_needs_auth_before_mail() {
    let mut config = auth_config(vec![Mechanism::Plain]);
    config.submission = true;
    let plain = encode_base64(b"\0user\0secret");
    check_transcript(
        &config,
        &format!(
            "S: 220 mx.example.org ESMTP ready
            C: EHLO c.example
            S: 250-mx.example.org
            S: 250-PIPELINING
            S: 250-SIZE 10240000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-CHUNKING
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN
            S: 250 HELP
            C: MAIL FROM:<user@example.com>
            S: 530 5.7.0 Authentication required
            C: AUTH PLAIN =
            S: 501 5.5.2 Malformed authentication data
            C: AUTH PLAIN {plain}
            S: 235 2.7.0 Authentication succeeded
            C: MAIL FROM:<user@example.com>
            S: 250 2.1.0 Sender OK
            C: QUIT
            S: 221 2.0.0 Bye"
        ),
        &accept_all,
    );
}

#[test]
fn parameters_of_extensions_not_offered_get_555() {
    let mut config = config();
    // SMTPUTF8 needs 8BITMIME (RFC 6531 section 3.1): both off.
    (config.eight_bit_mime, config.smtputf8) = (false, false);
    check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: HELO c.example
        S: 250 mx.example.org
        C: MAIL FROM:<a@example.net> SIZE=10
        S: 555 5.5.4 Parameter not offered by this server
        C: EHLO c.example
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250-SIZE 10240000
        S: 250-CHUNKING
        S: 250-ENHANCEDSTATUSCODES
        S: 250 HELP
        C: MAIL FROM:<a@example.net> BODY=8BITMIME
        S: 555 5.5.4 Parameter not offered by this server
        C: MAIL FROM:<a@example.net> RET=FULL
        S: 555 5.5.4 Parameter not offered by this server
        C: MAIL FROM:<a@example.net> X-UNKNOWN=1
        S: 555 5.5.4 Parameter not offered by this server
        C: MAIL FROM:<a@example.net> SMTPUTF8
        S: 555 5.5.4 Parameter not offered by this server
        C: MAIL FROM:<a@example.net> SIZE=10
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@example.org> NOTIFY=NEVER
        S: 555 5.5.4 Parameter not offered by this server
        C: RCPT TO:<jörg@example.org>
        S: 553 5.6.7 Non-ASCII address needs SMTPUTF8
        C: QUIT
        S: 221 2.0.0 Bye",
        &accept_all,
    );
}

#[test]
fn utf8_recipient_needs_smtputf8_on_mail() {
    check_transcript(
        &config(),
        &format!(
            "S: 220 mx.example.org ESMTP ready
            {EHLO}C: MAIL FROM:<a@example.net>
            S: 250 2.1.0 Sender OK
            C: RCPT TO:<jörg@example.org>
            S: 553 5.6.7 Non-ASCII address needs SMTPUTF8
            C: QUIT
            S: 221 2.0.0 Bye"
        ),
        &accept_all,
    );
}

#[test]
fn timeouts_follow_the_phase_and_expiry_closes_with_421() {
    let mut session = ServerSession::new(&config().build().unwrap());
    let mut waits = Vec::new();
    let mut sent = Vec::new();
    let mut script: Vec<&[u8]> = vec![
        b"HELO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
        b"partial body\r\n",
    ];
    script.reverse();
    let mut events = Vec::new();
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(event) => {
                if let Some(ticket) = event.ticket() {
                    session.accept(ticket).unwrap();
                }
                events.push(format!("{event:?}"));
            }
            Output::Wait(timeout) => {
                waits.push(timeout.timeout().as_secs());
                match script.pop() {
                    Some(piece) => session.handle_input(piece),
                    None => session.handle_timeout(),
                }
            }
            Output::Closed => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(waits, [300, 180, 180]);
    assert!(
        String::from_utf8(sent)
            .unwrap()
            .ends_with("354 End data with <CR><LF>.<CR><LF>\r\n421 4.4.2 Timeout, closing connection\r\n")
    );
    assert_eq!(events.last().map(String::as_str), Some("TransactionAborted(Timeout)"));
}

#[test]
fn pipelined_replies_go_out_as_one_group() {
    let mut session = ServerSession::new(&config().build().unwrap());
    let mut transmits = Vec::new();
    session.handle_input(b"EHLO c.example\r\n");
    let mut fed = false;
    loop {
        match session.poll_output() {
            Output::Transmit(bytes) => transmits.push(String::from_utf8(bytes.to_vec()).unwrap()),
            Output::Event(event) => {
                if let Some(ticket) = event.ticket() {
                    session.accept(ticket).unwrap();
                }
            }
            Output::Wait(_) if !fed => {
                fed = true;
                session.handle_input(
                    b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n",
                );
            }
            Output::Wait(_) => session.handle_eof(),
            Output::Closed => break,
            other => panic!("{other:?}"),
        }
    }
    // Greeting and EHLO (which ends a group: RFC 2920 section 3.1) went out alone; the
    // MAIL..DATA group's four replies went out together.
    assert_eq!(transmits.len(), 3, "{transmits:?}");
    assert!(transmits[1].starts_with("250-mx.example.org"));
    assert_eq!(
        transmits[2],
        "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
    );
}

#[test]
fn rejected_message_and_queue_id_replies() {
    let decide = |event: &ServerEvent| match event {
        ServerEvent::MessageEnd { .. } => Verdict::AcceptWith(
            Reply::new(ReplyCode::OK, "Queued as 4VqZ1k3Xyz").with_enhanced(smtp_sansio::EnhancedStatus::new(2, 0, 0)),
        ),
        ServerEvent::Data { .. } => Verdict::Accept,
        _ => Verdict::Accept,
    };
    let run = run(
        &config(),
        b"HELO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
        &decide,
    );
    assert!(run.sent.contains("\r\n250 2.0.0 Queued as 4VqZ1k3Xyz\r\n221 2.0.0 Bye\r\n"), "{}", run.sent);
}
