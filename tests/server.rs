//! The server session: transcripts of whole conversations, each fed whole, byte by
//! byte and split at random (`support::server::run`).

mod support;

use smtp_sansio::server::ServerEvent;
use smtp_sansio::{Reply, ReplyCode};
use support::server::{EHLO_REPLY, Seen, Verdict, accept_all, check_transcript, config};

fn with_ehlo(text: &str) -> String {
    text.replace("S: <ehlo>", EHLO_REPLY.trim())
}

#[test]
fn a_whole_transaction_is_accepted_and_its_body_delivered() {
    let run = check_transcript(
        &config(),
        &with_ehlo(
            "
            S: 220 mx.example.org ESMTP ready
            C: EHLO client.example.net
            S: <ehlo>
            C: MAIL FROM:<alice@example.net> SIZE=100
            S: 250 2.1.0 Sender OK
            C: RCPT TO:<bob@example.org>
            S: 250 2.1.5 Recipient OK
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Subject: hello
            C:
            C: ..a stuffed line
            C: .
            S: 250 2.0.0 Message accepted
            C: QUIT
            S: 221 2.0.0 Bye",
        ),
        &accept_all,
    );
    assert_eq!(
        run.events
            .iter()
            .filter_map(|e| if let Seen::Body(b) = e { Some(b.as_slice()) } else { None })
            .collect::<Vec<_>>(),
        [&b"Subject: hello\r\n\r\n.a stuffed line\r\n"[..]]
    );
    let names: Vec<&str> = run
        .events
        .iter()
        .map(|e| match e {
            Seen::Event(text) => text.split([' ', '(']).next().unwrap_or(""),
            Seen::Body(_) => "Body",
            Seen::StartTls => "StartTls",
        })
        .collect();
    assert_eq!(names, ["Hello", "Mail", "Rcpt", "Data", "Body", "MessageEnd"]);
}

#[test]
fn rfc5321_appendix_d1_with_helo_and_rejected_recipient() {
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Rcpt { command, .. } if command.to().to_string().contains("Green") => {
            Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "No such user here"))
        }
        ServerEvent::MessageEnd { .. } => Verdict::AcceptWith(Reply::new(ReplyCode::OK, "OK")),
        _ => Verdict::Accept,
    };
    check_transcript(
        &config(),
        "
        S: 220 mx.example.org ESMTP ready
        C: HELO bar.com
        S: 250 mx.example.org
        C: MAIL FROM:<Smith@bar.com>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<Jones@foo.com>
        S: 250 2.1.5 Recipient OK
        C: RCPT TO:<Green@foo.com>
        S: 550 5.1.0 No such user here
        C: RCPT TO:<Brown@foo.com>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        C: Blah blah blah...
        C: ...etc. etc. etc.
        C: .
        S: 250 2.0.0 OK
        C: QUIT
        S: 221 2.0.0 Bye",
        &decide,
    );
}

#[test]
fn commands_out_of_sequence_get_503() {
    check_transcript(
        &config(),
        "
        S: 220 mx.example.org ESMTP ready
        C: MAIL FROM:<a@example.net>
        S: 503 5.5.1 Send EHLO or HELO first
        C: HELO client.example.net
        S: 250 mx.example.org
        C: RCPT TO:<b@example.org>
        S: 503 5.5.1 Send MAIL first
        C: DATA
        S: 503 5.5.1 Send MAIL first
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: MAIL FROM:<a@example.net>
        S: 503 5.5.1 Sender already given
        C: DATA
        S: 554 5.5.1 No valid recipients
        C: RSET
        S: 250 2.0.0 Reset
        C: RCPT TO:<b@example.org>
        S: 503 5.5.1 Send MAIL first
        C: QUIT
        S: 221 2.0.0 Bye",
        &accept_all,
    );
}

#[test]
fn unknown_commands_and_bad_arguments() {
    check_transcript(
        &config(),
        "
        S: 220 mx.example.org ESMTP ready
        C: FOO bar
        S: 500 5.5.2 command unrecognized
        C: EHLO
        S: 501 5.5.4 syntax error in parameters or arguments
        C: HELO client.example.net
        S: 250 mx.example.org
        C: MAIL FROM:<not an address>
        S: 501 5.1.7 invalid sender address: address syntax error
        C: NOOP
        S: 250 2.0.0 OK
        C: HELP
        S: 214 2.0.0 See RFC 5321
        C: VRFY postmaster
        S: 252 2.5.0 Cannot verify the user, but will try delivery
        C: QUIT
        S: 221 2.0.0 Bye",
        &accept_all,
    );
}

#[test]
fn every_decision_can_be_refused_and_the_session_carries_on() {
    let decide = |event: &ServerEvent| {
        let no = |code: u16, text: &'static str| Verdict::Reject(Reply::new(ReplyCode::new(code).unwrap(), text));
        match event {
            ServerEvent::Mail { command, .. } if command.from().to_string().contains("spammer") => {
                no(550, "5.7.1 Sender refused")
            }
            ServerEvent::Data { .. } => no(451, "4.3.0 Try again later"),
            ServerEvent::Verify { target, .. } if target == "root" => {
                Verdict::AcceptWith(Reply::new(ReplyCode::OK, "Root <root@example.org>"))
            }
            ServerEvent::Expand { .. } => no(550, "5.7.1 Not allowed"),
            _ => Verdict::Accept,
        }
    };
    let mut config = config();
    (config.decide_vrfy, config.decide_expn) = (true, true);
    check_transcript(
        &config,
        "
        S: 220 mx.example.org ESMTP ready
        C: HELO -bad-.example
        S: 501 5.5.4 syntax error in parameters or arguments
        C: HELO client.example.net
        S: 250 mx.example.org
        C: MAIL FROM:<spammer@example.net>
        S: 550 5.7.1 Sender refused
        C: RCPT TO:<b@example.org>
        S: 503 5.5.1 Send MAIL first
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@example.org>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 451 4.3.0 Try again later
        C: VRFY root
        S: 250 2.1.5 Root <root@example.org>
        C: VRFY someone
        S: 252 2.5.0 Cannot verify the user, but will try delivery
        C: EXPN staff
        S: 550 5.7.1 Not allowed
        C: RSET
        S: 250 2.0.0 Reset
        C: QUIT
        S: 221 2.0.0 Bye",
        &decide,
    );
}

#[test]
fn a_rejected_message_ends_the_transaction() {
    let decide = |event: &ServerEvent| match event {
        ServerEvent::MessageEnd { .. } => Verdict::Reject(Reply::new(ReplyCode::TRANSACTION_FAILED, "5.7.1 Spam")),
        _ => Verdict::Accept,
    };
    let run = check_transcript(
        &config(),
        "
        S: 220 mx.example.org ESMTP ready
        C: HELO client.example.net
        S: 250 mx.example.org
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@example.org>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        C: buy now
        C: .
        S: 554 5.7.1 Spam
        C: RCPT TO:<b@example.org>
        S: 503 5.5.1 Send MAIL first
        C: QUIT
        S: 221 2.0.0 Bye",
        &decide,
    );
    assert!(!run.events.iter().any(|e| matches!(e, Seen::Event(text) if text.starts_with("TransactionAborted"))));
}

#[test]
fn decisions_with_the_wrong_code_are_refused_locally() {
    use smtp_sansio::server::ServerSession;
    use smtp_sansio::{DecisionError, Output};
    let mut session = ServerSession::new(&config().build().unwrap());
    session.handle_input(b"HELO c.example\r\nMAIL FROM:<a@example.net>\r\n");
    let ticket = loop {
        match session.poll_output() {
            Output::Event(ServerEvent::Mail { ticket, .. }) => break ticket,
            Output::Transmit(_) | Output::Event(_) => {}
            other => panic!("{other:?}"),
        }
    };
    let ok = Reply::new(ReplyCode::OK, "fine");
    let no = Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "no");
    assert_eq!(session.reject(ticket.clone(), ok.clone()), Err(DecisionError::WrongCode));
    assert_eq!(session.accept_with(ticket.clone(), no), Err(DecisionError::WrongCode));
    let injected = Reply::new(ReplyCode::OK, "fine\r\n250 injected");
    assert!(matches!(session.accept_with(ticket.clone(), injected), Err(DecisionError::Encode(_))));
    assert_eq!(session.accept_with(ticket.clone(), ok.clone()), Ok(()));
    assert_eq!(session.accept_with(ticket, ok), Err(DecisionError::Stale));
}
