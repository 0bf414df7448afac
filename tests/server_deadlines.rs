//! The deadline for a whole command line (issue 11): a client that drips a line a byte
//! at a time cannot hold a connection longer than `ServerTimeouts::command_line` for
//! it, while the idle timeout between commands and the data block timeout in a body
//! start afresh with every wait (RFC 5321 section 4.5.3.2).

mod support;

use std::time::Duration;

use smtp_sansio::sasl::Mechanism;
use smtp_sansio::server::{ServerConfig, ServerSession};
use smtp_sansio::{Output, Wait};
use support::manual::{drain, drain_accepting, session};

fn config() -> ServerConfig {
    let mut config = ServerConfig::new("mx.example.org");
    config.timeouts.command = Duration::from_secs(300);
    config.timeouts.command_line = Duration::from_secs(60);
    config.timeouts.data_block = Duration::from_secs(180);
    config
}

/// The wait the session stops at; it must be one.
fn wait(session: &mut ServerSession) -> Wait {
    match drain_accepting(session).stop {
        Output::Wait(wait) => wait,
        other => panic!("expected a wait, got {other:?}"),
    }
}

#[test]
fn a_line_dripped_byte_by_byte_has_one_deadline() {
    let mut session = session(config());
    let idle = wait(&mut session);
    assert_eq!((idle.timeout(), idle.restarts()), (Duration::from_secs(300), true), "between commands");
    let line = b"EHLO client.example\r\n";
    // The first piece starts the line's deadline; the rest keep it.
    session.handle_input(&line[..1]);
    let first = wait(&mut session);
    assert_eq!((first.timeout(), first.restarts()), (Duration::from_secs(60), true));
    for byte in &line[1..line.len() - 1] {
        session.handle_input(std::slice::from_ref(byte));
        let next = wait(&mut session);
        assert_eq!((next.timeout(), next.restarts()), (Duration::from_secs(60), false), "the timer keeps running");
    }
    // The deadline passes before the line is whole.
    session.handle_timeout();
    let drained = drain(&mut session);
    assert_eq!(drained.sent, "421 4.4.2 Timeout, closing connection\r\n");
    assert_eq!(drained.stop, Output::Closed);
}

#[test]
fn a_whole_line_ends_its_deadline_and_the_next_starts_its_own() {
    let mut session = session(config());
    let _ = wait(&mut session);
    session.handle_input(b"EHLO client.example\r\n");
    let _ = wait(&mut session);
    session.handle_input(b"NOOP\r\nNO");
    // The first NOOP is answered; `NO` starts the next line's deadline afresh.
    let next = wait(&mut session);
    assert_eq!((next.timeout(), next.restarts()), (Duration::from_secs(60), true));
    session.handle_input(b"OP\r\n");
    let idle = wait(&mut session);
    assert_eq!((idle.timeout(), idle.restarts()), (Duration::from_secs(300), true), "idle again");
}

#[test]
fn an_auth_response_has_a_deadline_too() {
    let mut config = config();
    config.auth_mechanisms = vec![Mechanism::Plain];
    config.plaintext_auth = true;
    let mut session = session(config);
    let _ = wait(&mut session);
    session.handle_input(b"EHLO client.example\r\n");
    let _ = wait(&mut session);
    session.handle_input(b"AUTH PLAIN\r\n");
    let challenge = drain_accepting(&mut session);
    assert!(challenge.sent.starts_with("334"), "{}", challenge.sent);
    session.handle_input(b"AGFsaWNl");
    assert!(wait(&mut session).restarts());
    session.handle_input(b"AHNlY3");
    assert!(!wait(&mut session).restarts(), "the response's deadline keeps running");
    session.handle_timeout();
    assert_eq!(drain(&mut session).sent, "421 4.4.2 Timeout, closing connection\r\n");
}

#[test]
fn a_body_restarts_the_data_block_timeout_with_every_read() {
    let mut session = session(config());
    let _ = wait(&mut session);
    session.handle_input(b"EHLO client.example\r\n");
    let _ = wait(&mut session);
    session.handle_input(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    let _ = wait(&mut session);
    for piece in [&b"Subject: a long"[..], b" line of a header", b" that comes in pieces"] {
        session.handle_input(piece);
        let wait = wait(&mut session);
        assert_eq!((wait.timeout(), wait.restarts()), (Duration::from_secs(180), true));
    }
}

#[test]
fn wait_deadline_keeps_or_restarts_the_timer() {
    // The driver's bookkeeping, with plain numbers as instants.
    let mut session = session(config());
    let idle = wait(&mut session);
    assert_eq!(idle.deadline(Duration::from_secs(10), None), Duration::from_secs(310));
    assert_eq!(idle.deadline(Duration::from_secs(10), Some(Duration::from_secs(20))), Duration::from_secs(310));
    session.handle_input(b"EH");
    let started = wait(&mut session);
    let fires_at = started.deadline(Duration::from_secs(100), Some(Duration::from_secs(310)));
    assert_eq!(fires_at, Duration::from_secs(160));
    session.handle_input(b"LO");
    let kept = wait(&mut session);
    assert_eq!(kept.deadline(Duration::from_secs(150), Some(fires_at)), fires_at, "not moved by the read");
    assert_eq!(kept.deadline(Duration::from_secs(150), None), Duration::from_secs(210), "no timer yet: start one");
}
