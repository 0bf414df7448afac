//! Defences of a server that faces the internet (issue 11, in part): each through the
//! session, under every chunking and decision schedule (`support::server::run`).

mod support;

use smtp_sansio::server::{CommandBareLf, ServerEvent};
use smtp_sansio::{Reply, ReplyCode};
use support::server::{Verdict, accept_all, check_transcript, config, run};

// A command line ended by a bare LF: answered, and nothing after it runs as a command
// (a proxy that splits on LF would otherwise see another command than we do).
#[test]
fn a_bare_lf_in_a_command_is_answered_and_the_session_closes() {
    let rejected = run(&config(), b"EHLO c\r\nNOOP\nNOOP\r\nQUIT\r\n", &accept_all);
    assert!(rejected.sent.ends_with("250 HELP\r\n500 5.5.2 Command line ended by a bare LF\r\n"), "{}", rejected.sent);
    assert!(rejected.closed);
    let mut normalize = config();
    normalize.command_bare_lf = CommandBareLf::Normalize;
    let normalized = run(&normalize, b"EHLO c\nNOOP\nNOOP\r\nQUIT\n", &accept_all);
    assert!(
        normalized.sent.ends_with("250 HELP\r\n250 2.0.0 OK\r\n250 2.0.0 OK\r\n221 2.0.0 Bye\r\n"),
        "{}",
        normalized.sent
    );
}

// NUL and other control characters in a command are an argument error, as Exim answers.
#[test]
fn a_nul_in_helo_gets_501() {
    check_transcript(
        &config(),
        "S: 220 mx.example.org ESMTP ready
        C: HELO \0
        S: 501 5.5.2 invalid characters in command
        C: QUIT
        S: 221 2.0.0 Bye",
        &accept_all,
    );
}

// A header line where a command belongs: the client and the server disagree on where
// the message ended (a DATA desynchronisation). Postfix answers 221 2.7.0 and closes.
#[test]
fn a_header_line_at_command_position_closes_with_221() {
    let run = run(&config(), b"EHLO c\r\nSubject: hello\r\nMAIL FROM:<a@example.net>\r\n", &accept_all);
    assert!(
        run.sent.ends_with("250 HELP\r\n221 2.7.0 Message text where a command belongs, closing connection\r\n"),
        "{}",
        run.sent
    );
    assert!(run.closed);
    assert!(!run.events.iter().any(|e| matches!(e, support::server::Seen::Event(t) if t.starts_with("Mail"))));
}

// A BDAT chunk that would pass the size limit and is too large to read only to drop:
// 552 5.3.4, then the connection closes (its octets are never commands).
#[test]
fn a_huge_bdat_over_the_size_limit_gets_552_and_closes() {
    let run = run(
        &config(),
        b"EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nBDAT 99999999999 LAST\r\nQUIT\r\n",
        &accept_all,
    );
    assert!(
        run.sent.ends_with("250 2.1.5 Recipient OK\r\n552 5.3.4 Message size exceeds fixed limit\r\n"),
        "{}",
        run.sent
    );
    assert!(run.closed);
    // A small one over the limit is read and dropped, and the session goes on.
    let mut small = config();
    small.max_message_size = Some(4);
    let run = support::server::run(
        &small,
        b"EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nBDAT 8 LAST\r\n12345678NOOP\r\nQUIT\r\n",
        &accept_all,
    );
    assert!(
        run.sent.ends_with("552 5.3.4 Message size exceeds fixed limit\r\n250 2.0.0 OK\r\n221 2.0.0 Bye\r\n"),
        "{}",
        run.sent
    );
}

// A limit on refused AUTH attempts per connection (3 by default): then 421 4.7.0.
#[test]
fn auth_failures_are_limited_per_connection() {
    let mut config = config();
    config.auth_mechanisms = vec![smtp_sansio::sasl::Mechanism::Plain];
    config.plaintext_auth = true;
    let refuse = |event: &ServerEvent| match event {
        ServerEvent::Auth { .. } => Verdict::Reject(Reply::new(ReplyCode::AUTH_FAILED, "5.7.8 Bad credentials")),
        _ => Verdict::Accept,
    };
    // AUTH PLAIN \0u\0p, four times.
    let attempt = "AUTH PLAIN AHUAcA==\r\n";
    let input = format!("EHLO c\r\n{}MAIL FROM:<a@example.net>\r\n", attempt.repeat(4));
    let run = run(&config, input.as_bytes(), &refuse);
    assert_eq!(run.sent.matches("535 5.7.8 Bad credentials").count(), 3, "{}", run.sent);
    assert!(
        run.sent.ends_with(
            "535 5.7.8 Bad credentials\r\n421 4.7.0 Too many failed authentication attempts, closing connection\r\n"
        ),
        "{}",
        run.sent
    );
    assert!(run.closed);
}

// RFC 9422: LIMITS advertised from the configuration, and enforced.
#[test]
fn limits_are_advertised_and_enforced() {
    let mut config = config();
    config.advertise_limits = true;
    config.max_recipients = 5;
    config.max_messages = Some(1);
    config.max_recipient_domains = Some(2);
    let run = run(
        &config,
        b"EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<a@one.example>\r\nRCPT TO:<b@two.example>\r\n\
          RCPT TO:<c@ONE.example>\r\nRCPT TO:<d@three.example>\r\nRSET\r\nMAIL FROM:<a@example.net>\r\nQUIT\r\n",
        &accept_all,
    );
    assert!(run.sent.contains("250-LIMITS RCPTMAX=5 MAILMAX=1 RCPTDOMAINMAX=2\r\n"), "{}", run.sent);
    assert!(
        run.sent.ends_with(
            "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n\
             452 4.5.3 Too many recipient domains\r\n250 2.0.0 Reset\r\n\
             451 4.5.3 Too many transactions in this session, reconnect\r\n221 2.0.0 Bye\r\n"
        ),
        "{}",
        run.sent
    );
    // Not advertised unless asked.
    let quiet = support::server::run(&support::server::config(), b"EHLO c\r\nQUIT\r\n", &accept_all);
    assert!(!quiet.sent.contains("LIMITS"), "{}", quiet.sent);
}

// Postfix's smtpd_junk_command_limit: past `max_junk_commands` commands that move no
// mail, each counts as an error, so a NOOP loop cannot hold a connection for ever; an
// accepted message starts the count again.
#[test]
fn junk_commands_past_the_limit_count_as_errors() {
    let mut limited = config();
    limited.max_junk_commands = 4;
    limited.max_errors = 3;
    let noops = "NOOP\r\n".repeat(10);
    let looped = run(&limited, format!("EHLO c\r\n{noops}").as_bytes(), &accept_all);
    let oks = looped.sent.matches("250 2.0.0 OK\r\n").count();
    assert_eq!(oks, 4 + 2, "four free, two counted, the third error closes: {}", looped.sent);
    assert!(looped.sent.ends_with("421 4.7.0 Too many errors, closing connection\r\n"), "{}", looped.sent);
    assert!(looped.closed);

    let message = "MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nhi\r\n.\r\n";
    let busy = format!("EHLO c\r\n{}{message}{}QUIT\r\n", "RSET\r\n".repeat(4), "RSET\r\n".repeat(4));
    let busy = run(&limited, busy.as_bytes(), &accept_all);
    assert!(busy.sent.ends_with("221 2.0.0 Bye\r\n"), "the message started the count again: {}", busy.sent);
}
