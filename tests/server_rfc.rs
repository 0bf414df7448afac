//! Server rules of RFC 5321 and its extensions that `docs/CONFORMANCE.md` names, each
//! checked through the session under every chunking and decision schedule.

mod support;

use smtp_sansio::server::ServerEvent;
use smtp_sansio::{Reply, ReplyCode};
use support::server::{EHLO_REPLY, Verdict, accept_all, check_transcript, config, run};

// RFC 5321 section 4.1.1.9 (S-5321-44) and 4.1.4 (S-5321-51): NOOP ignores its argument;
// NOOP, HELP, VRFY, EXPN and RSET work before any greeting.
#[test]
fn noop_help_vrfy_expn_and_rset_need_no_greeting() {
    check_transcript(
        &config(),
        "S: 220 mx.example.org ESMTP ready
        C: NOOP anything at all
        S: 250 2.0.0 OK
        C: HELP MAIL
        S: 214 2.0.0 See RFC 5321
        C: VRFY postmaster
        S: 252 2.5.0 Cannot verify the user, but will try delivery
        C: EXPN staff
        S: 502 5.5.1 EXPN not available
        C: RSET
        S: 250 2.0.0 Reset
        C: QUIT
        S: 221 2.0.0 Bye",
        &accept_all,
    );
}

// RFC 5321 section 4.1.4 (S-5321-52): a second EHLO resets the session as RSET would.
#[test]
fn a_second_ehlo_ends_the_open_transaction() {
    let run = check_transcript(
        &config(),
        &format!(
            "S: 220 mx.example.org ESMTP ready
            C: EHLO c.example
            {EHLO_REPLY}
            C: MAIL FROM:<a@example.net>
            S: 250 2.1.0 Sender OK
            C: EHLO c.example
            {EHLO_REPLY}
            C: RCPT TO:<b@example.org>
            S: 503 5.5.1 Send MAIL first
            C: QUIT
            S: 221 2.0.0 Bye"
        ),
        &accept_all,
    );
    assert!(
        run.events.iter().any(|e| matches!(e, support::server::Seen::Event(t) if t == "TransactionAborted(Reset)"))
    );
}

// RFC 5321 section 4.1.4 (S-5321-54): after a refused EHLO the server stays in the state
// it was in: the open transaction survives.
#[test]
fn a_refused_ehlo_leaves_the_transaction_open() {
    let mut config = config();
    config.decide_hello = true;
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Hello { host, .. } if host.to_string() == "bad.example" => {
            Verdict::Reject(Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, "5.7.1 Not that name"))
        }
        _ => Verdict::Accept,
    };
    let run = check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: HELO c.example
        S: 250 mx.example.org
        C: MAIL FROM:<a@example.net>
        S: 250 2.1.0 Sender OK
        C: HELO bad.example
        S: 550 5.7.1 Not that name
        C: RCPT TO:<b@example.org>
        S: 250 2.1.5 Recipient OK
        C: QUIT
        S: 221 2.0.0 Bye",
        &decide,
    );
    assert!(
        !run.events.iter().any(|e| matches!(e, support::server::Seen::Event(t) if t == "TransactionAborted(Reset)"))
    );
}

// RFC 5321 section 4.2.4 (S-5321-64): 502 for a known command that is not offered, 500
// for an unknown one.
#[test]
fn known_commands_not_offered_get_502_and_unknown_ones_500() {
    let mut config = config();
    config.chunking = false;
    check_transcript(
        &config,
        "S: 220 mx.example.org ESMTP ready
        C: HELO c.example
        S: 250 mx.example.org
        C: STARTTLS
        S: 502 5.5.1 Command not implemented
        C: AUTH PLAIN
        S: 502 5.5.1 Command not implemented
        C: BDAT 0 LAST
        S: 502 5.5.1 Command not implemented
        C: XYZZY
        S: 500 5.5.2 command unrecognized
        C: QUIT
        S: 221 2.0.0 Bye",
        &accept_all,
    );
}

// RFC 5321 section 4.5.3.1.8 (S-5321-86): at least 100 recipients are taken; the next
// gets 452 (section 4.5.3.1.10).
#[test]
fn one_hundred_recipients_are_accepted_by_default() {
    let mut input = String::from("EHLO c\r\nMAIL FROM:<a@example.net>\r\n");
    for n in 0..101 {
        input.push_str(&format!("RCPT TO:<r{n}@example.org>\r\n"));
    }
    input.push_str("QUIT\r\n");
    let run = run(&config(), input.as_bytes(), &accept_all);
    assert_eq!(run.sent.matches("250 2.1.5 Recipient OK\r\n").count(), 100);
    assert!(run.sent.ends_with("452 4.5.3 Too many recipients\r\n221 2.0.0 Bye\r\n"), "{}", run.sent);
}

// RFC 3030 section 2 (S-3030-3): BDAT after the last chunk is a bad sequence.
#[test]
fn bdat_after_bdat_last_gets_503() {
    let run = run(
        &config(),
        b"EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nBDAT 2 LAST\r\nhiBDAT 2\r\nhoQUIT\r\n",
        &accept_all,
    );
    assert!(
        run.sent.ends_with("250 2.0.0 Message accepted\r\n503 5.5.1 Send MAIL first\r\n221 2.0.0 Bye\r\n"),
        "{}",
        run.sent
    );
}

// RFC 3461 section 4 (S-3461-5): each DSN parameter at most once.
#[test]
fn a_repeated_dsn_parameter_is_a_syntax_error() {
    let mut config = config();
    config.dsn = true;
    let run = run(
        &config,
        b"EHLO c\r\nMAIL FROM:<a@example.net> RET=FULL RET=HDRS\r\nMAIL FROM:<a@example.net> ENVID=a ENVID=b\r\n\
          MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org> NOTIFY=NEVER NOTIFY=NEVER\r\nQUIT\r\n",
        &accept_all,
    );
    let errors = run.sent.matches("\r\n501 ").count();
    assert_eq!(errors, 3, "{}", run.sent);
}

// RFC 3207 section 4 (S-3207-2): a server that requires TLS answers 530 to every command
// but NOOP, EHLO, STARTTLS and QUIT.
#[test]
fn a_server_requiring_tls_answers_530_until_starttls() {
    let mut config = config();
    config.starttls = true;
    config.require_starttls = true;
    let (client, after_tls, _) = support::server::transcript(
        "C: HELO c.example
        C: MAIL FROM:<a@example.net>
        C: RSET
        C: NOOP
        C: EHLO c.example
        C: STARTTLS
        TLS
        C: EHLO c.example
        C: MAIL FROM:<a@example.net>
        C: QUIT",
    );
    let run = support::server::run_tls(&config, &client, &after_tls, &accept_all);
    let first_530 = "530 5.7.0 Must issue a STARTTLS command first\r\n";
    assert_eq!(run.sent.matches(first_530).count(), 3, "HELO, MAIL and RSET: {}", run.sent);
    assert!(run.sent.contains("250 2.0.0 OK\r\n"), "{}", run.sent);
    assert!(run.sent.ends_with("250 2.1.0 Sender OK\r\n221 2.0.0 Bye\r\n"), "{}", run.sent);
}

// RFC 6531 section 3.1 (S-6531-2): VRFY and EXPN may carry the SMTPUTF8 parameter; the
// argument reaches the application as written.
#[test]
fn vrfy_and_expn_take_the_smtputf8_parameter() {
    let mut config = config();
    (config.decide_vrfy, config.decide_expn) = (true, true);
    let decide = |event: &ServerEvent| match event {
        ServerEvent::Verify { target, .. } => {
            assert_eq!(target, "jörg SMTPUTF8");
            Verdict::Accept
        }
        ServerEvent::Expand { list, .. } => {
            assert_eq!(list, "équipe SMTPUTF8");
            Verdict::Accept
        }
        _ => Verdict::Accept,
    };
    let run = run(&config, "EHLO c\r\nVRFY jörg SMTPUTF8\r\nEXPN équipe SMTPUTF8\r\nQUIT\r\n".as_bytes(), &decide);
    assert_eq!(run.sent.matches("252 2.5.0").count(), 2, "{}", run.sent);
}

// RFC 6531 section 3.4 (S-6531-9): a non-ASCII address without SMTPUTF8 is refused with
// X.6.7 ("Non-ASCII addresses not permitted for that sender/recipient"), here with
// 553 (mailbox name not allowed), one of the reply codes the IANA registry of enhanced
// status codes lists for X.6.7.
#[test]
fn a_non_ascii_address_without_smtputf8_gets_x_6_7() {
    let run = run(
        &config(),
        "EHLO c\r\nMAIL FROM:<jörg@example.net>\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<jörg@example.org>\r\nQUIT\r\n"
            .as_bytes(),
        &accept_all,
    );
    assert!(
        run.sent.ends_with(
            "553 5.6.7 invalid sender address: non-ASCII address without SMTPUTF8\r\n250 2.1.0 Sender OK\r\n\
             553 5.6.7 Non-ASCII address needs SMTPUTF8\r\n221 2.0.0 Bye\r\n"
        ),
        "{}",
        run.sent
    );
}
