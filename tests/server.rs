//! The server session: transcripts of whole conversations, each fed whole, byte by
//! byte and split at random (`support::server::run`).

mod support;

use smtp_sansio::server::ServerEvent;
use smtp_sansio::{Reply, ReplyCode};
use support::server::{Seen, Verdict, accept_all, check_transcript, config};

const EHLO_REPLY: &str = "
S: 250-mx.example.org
S: 250-PIPELINING
S: 250-SIZE 10240000
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-CHUNKING
S: 250 ENHANCEDSTATUSCODES";

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
        S: 550 No such user here
        C: RCPT TO:<Brown@foo.com>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        C: Blah blah blah...
        C: ...etc. etc. etc.
        C: .
        S: 250 OK
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
